"""The bridge over TLS with its own account, at a centre run from ``chain central-config``."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from controller.chain.bridge_config import bridge_config
from controller.chain.central_config import CentralSettings, central_config
from controller.chain.model import ChainView
from controller.chain.monitor import ChainMonitor
from controller.config import parse_config
from tests.controller.mqtt.conftest import (
    MOSQUITTO,
    MOSQUITTO_PASSWD,
    free_port,
    make_certificates,
)
from tests.controller.mqtt.test_bridge import subscriber
from tests.controller.polling import eventually

from .brokers import SiteBroker

pytestmark = pytest.mark.mosquitto

ACCOUNTS = {"north": "north-secret", "south": "south-secret", "hq": "hq-secret"}


def central_broker(directory: Path, cert: Path, key: Path) -> SiteBroker:
    """The centre as ``gymctl chain central-config`` configures it, with its accounts."""
    directory.mkdir()
    passwords = directory / "passwords"
    passwords.write_text("")
    for user, password in ACCOUNTS.items():
        subprocess.run(
            [MOSQUITTO_PASSWD, "-b", str(passwords), user, password],
            check=True,
            capture_output=True,
        )
    settings = CentralSettings(
        bind_address="127.0.0.1",
        port=free_port(),
        cert_file=cert,
        key_file=key,
        password_file=passwords,
        persistence_dir=directory,
    )
    config = central_config(settings, acl_path=directory / "acl")
    assert "pattern readwrite chain/%u/#" in config.acl
    (directory / "acl").write_text(config.acl)
    assert settings.port is not None
    return SiteBroker(directory, config.conf, settings.port)


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[SiteBroker, Path]]:
    """The started centre, and the CA its certificate is signed by."""
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)")
    ca, cert, key = make_certificates(tmp_path)
    broker = central_broker(tmp_path / "central", cert, key)
    broker.start()
    yield broker, ca
    broker.stop()


async def test_a_bridge_over_tls_writes_only_under_its_own_site(
    central: tuple[SiteBroker, Path], tmp_path: Path
) -> None:
    broker, ca = central
    site_dir = tmp_path / "north"
    site_dir.mkdir()
    site_port = free_port()
    config = parse_config(
        '[site]\nname = "North"\nid = "main"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {site_port}\n'
        f'[chain]\nname = "north"\ncentral_host = "127.0.0.1"\ncentral_port = {broker.port}\n'
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
            port=broker.port,
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
                port=broker.port,
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
                        broker.port,
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
