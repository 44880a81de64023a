"""The bridge over TLS with its own account, confined by the central ACL of docs/chain.md."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiomqtt
import pytest

from controller.chain.bridge_config import bridge_config
from controller.chain.model import ChainView
from controller.chain.monitor import ChainMonitor
from controller.config import parse_config
from tests.controller.mqtt.conftest import MosquittoFactory, free_port, make_certificates
from tests.controller.mqtt.test_bridge import subscriber
from tests.controller.polling import eventually

from .brokers import SiteBroker

pytestmark = pytest.mark.mosquitto

DOCS = Path(__file__).resolve().parents[3] / "docs" / "chain.md"


def documented_acl() -> str:
    """The central ACL docs/chain.md recommends: a bridge writes only under its own site."""
    text = DOCS.read_text(encoding="utf-8").split("# /etc/mosquitto/acl\n", 1)[1]
    body = text.split("```", 1)[0]
    return "\n".join(line.strip() for line in body.splitlines()) + "\n"


async def test_a_bridge_over_tls_writes_only_under_its_own_site(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    acl = documented_acl()
    assert "pattern readwrite chain/%u/#" in acl
    ca, cert, key = make_certificates(tmp_path)
    central = mosquitto_factory(
        tls=(ca, cert, key),
        users={"north": "north-secret", "south": "south-secret", "hq": "hq-secret"},
        acl=acl,
    )
    central.start()
    site_dir = tmp_path / "north"
    site_dir.mkdir()
    site_port = free_port()
    config = parse_config(
        '[site]\nname = "North"\nid = "main"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {site_port}\n'
        f'[chain]\nname = "north"\ncentral_host = "127.0.0.1"\ncentral_port = {central.port}\n'
        'username = "north"\npassword = "north-secret"\nrestart_min_s = 1\nrestart_max_s = 1\n'
        f'[chain.tls]\nca_file = "{ca}"\n',
        base_dir=site_dir,
    )
    site_broker = SiteBroker(site_dir, bridge_config(config), site_port)
    site_broker.start()
    # a bridge with a wrong password never gets in
    west_dir = tmp_path / "west"
    west_dir.mkdir()
    assert config.chain is not None
    west = config.model_copy(
        update={
            "chain": config.chain.model_copy(update={"name": "west", "password": "guess"}),
            "mqtt": config.mqtt.model_copy(update={"port": free_port()}),
            "base_dir": str(west_dir),
        }
    )
    west_broker = SiteBroker(west_dir, bridge_config(west), west.mqtt.port)
    west_broker.start()
    try:
        context = ssl.create_default_context(cafile=str(ca))
        view = ChainView("chain")
        async with ChainMonitor(
            view,
            host="127.0.0.1",
            port=central.port,
            username="hq",
            password="hq-secret",
            tls_context=context,
        ) as monitor:
            await eventually(lambda: monitor.connected, within=10)
            await eventually(lambda: (view.site("north") or _none).bridge is True, within=10)
            async with aiomqtt.Client("127.0.0.1", site_port) as controller:
                await controller.publish("gymctl/main/controller/status", b"online", qos=1)
            await eventually(lambda: (view.site("north") or _none).online, within=5)

            # south's account cannot pose as north, nor can north's write elsewhere
            async with subscriber(
                None,
                "chain/#",
                port=central.port,
                username="hq",
                password="hq-secret",
                tls_context=context,
            ) as inbox:
                for user, topic in (
                    ("south", "chain/north/bridge/state"),
                    ("north", "chain/south/bridge/state"),
                ):
                    async with aiomqtt.Client(
                        "127.0.0.1",
                        central.port,
                        username=user,
                        password=f"{user}-secret",
                        tls_context=context,
                    ) as intruder:
                        await intruder.publish(topic, b"0", qos=1, retain=True)
                await asyncio.sleep(0.5)
                assert [t for t, _, retained in inbox.messages if not retained] == []
            assert (view.site("north") or _none).online
            assert view.site("south") is None
            assert view.site("west") is None  # refused: it tried every second meanwhile
    finally:
        site_broker.stop()
        west_broker.stop()


class _NoSite:
    bridge = None
    online = False


_none = _NoSite()
