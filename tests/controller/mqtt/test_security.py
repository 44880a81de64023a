"""The bridge against a Mosquitto that asks for everything at once: TLS only, a password
per user and an ACL. The bridge works with all three and gets nowhere without any one of
them; no password reaches a log line or a repr on the way."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from controller.bus import EventBus
from controller.config import MqttConfig, TlsConfig, parse_config
from controller.mqtt import MqttBridge
from controller.mqtt.bridge import is_loopback
from controller.mqtt.commands import AnyCommand, EstopCommand
from tests.controller.polling import eventually
from tests.controller.store.conftest import rep

from .conftest import Mosquitto, MosquittoFactory, make_certificates

pytestmark = pytest.mark.mosquitto

PASSWORDS = {"gymctl": "Ctl-secret-9f3a", "coach-app": "App-secret-77c1", "display": "Disp-5e2"}
ACL = """\
user gymctl
topic readwrite gymctl/test/#

user coach-app
topic write gymctl/test/station/+/cmd/#

user display
topic read gymctl/test/#
"""


def tls_client(ca: Path, user: str, broker: Mosquitto, password: str | None = None) -> Any:
    context = ssl.create_default_context(cafile=str(ca))
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=user,
        password=PASSWORDS[user] if password is None else password,
        tls_context=context,
    )


def settings(broker: Mosquitto, ca: Path | None, **overrides: Any) -> MqttConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": broker.port,
        "username": "gymctl",
        "password": PASSWORDS["gymctl"],
        "tls": TlsConfig(ca_file=str(ca)) if ca is not None else None,
    }
    values.update(overrides)
    return MqttConfig(**values)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def secure_broker(
    mosquitto_factory: MosquittoFactory, certificates: tuple[Path, Path, Path]
) -> tuple[Mosquitto, Path]:
    ca, cert, key = certificates
    broker = mosquitto_factory(tls=(ca, cert, key), users=PASSWORDS, acl=ACL)
    broker.start()
    return broker, ca


async def test_the_bridge_works_with_tls_password_and_acl_together(
    secure_broker: tuple[Mosquitto, Path],
) -> None:
    broker, ca = secure_broker
    bus = EventBus()
    received: list[AnyCommand] = []
    seen: list[tuple[str, Any]] = []
    bridge = MqttBridge(
        settings=settings(broker, ca),
        site_id="test",
        bus=bus,
        on_command=received.append,
        stations={"rack-1"},
        reconnect_min_s=0.1,
    )
    async with tls_client(ca, "display", broker) as display:
        await display.subscribe("gymctl/test/#", qos=1)

        def keep(message: aiomqtt.Message) -> None:
            seen.append((message.topic.value, bytes(message.payload or b"")))

        async def read() -> None:
            async for message in display.messages:
                keep(message)

        reader = asyncio.create_task(read(), name="test-display")
        try:
            async with bridge:
                await asyncio.wait_for(bridge.wait_connected(), 10)
                bus.publish(rep(0))  # out: an event reaches an allowed reader over TLS
                async with tls_client(ca, "coach-app", broker) as app:  # in: a command
                    await app.publish(
                        "gymctl/test/station/rack-1/cmd/estop",
                        json.dumps({"by": "coach-app", "seq": 1}),
                        qos=1,
                    )
                    # the ACL: the app may command, not speak for the controller
                    await app.publish("gymctl/test/controller/status", b"offline", qos=1)
                await eventually(
                    lambda: bool(received) and any(t.endswith("/rep") for t, _ in seen)
                )
                async with tls_client(ca, "display", broker) as other:  # a reader cannot write
                    await other.publish(
                        "gymctl/test/station/rack-1/cmd/estop",
                        json.dumps({"by": "display", "seq": 2}),
                        qos=1,
                    )
                await asyncio.sleep(0.3)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    assert [type(c) for c in received] == [EstopCommand]
    statuses = [p for t, p in seen if t == "gymctl/test/controller/status"]
    assert b"online" in statuses
    assert statuses.count(b"offline") == 1  # the controller's own, at its clean stop


@pytest.mark.parametrize(
    ("problem", "overrides"),
    [
        ("no TLS", {"tls": None}),
        ("a certificate nobody vouches for", {"tls": TlsConfig()}),
        ("a wrong password", {"password": "Ctl-guess"}),
        ("no credentials", {"username": None, "password": None}),
        ("another user's name", {"username": "display", "password": PASSWORDS["gymctl"]}),
    ],
)
async def test_without_any_one_of_them_the_bridge_gets_nowhere(
    secure_broker: tuple[Mosquitto, Path],
    problem: str,
    overrides: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, ca = secure_broker
    caplog.set_level(logging.DEBUG)
    bus = EventBus()
    received: list[AnyCommand] = []
    bridge = MqttBridge(
        settings=settings(broker, ca, **overrides),
        site_id="test",
        bus=bus,
        on_command=received.append,
        reconnect_min_s=0.1,
        reconnect_max_s=0.2,
        connect_timeout_s=1.0,  # a plain client on a TLS port hears nothing until then
    )

    def logged() -> bool:
        return any("unavailable" in r.getMessage() for r in caplog.records)

    async with bridge:
        await eventually(logged, within=5.0)  # the failure is logged, once
        await asyncio.sleep(0.3)
        assert not bridge.connected, problem
        assert bridge.connections == 0
    for secret in PASSWORDS.values():
        assert secret not in caplog.text


async def test_no_password_reaches_a_log_line_or_a_repr(
    secure_broker: tuple[Mosquitto, Path], caplog: pytest.LogCaptureFixture
) -> None:
    broker, ca = secure_broker
    caplog.set_level(logging.DEBUG)  # everything, paho's and aiomqtt's debug lines included
    config = settings(broker, ca)
    async with MqttBridge(settings=config, site_id="test", bus=EventBus()) as bridge:
        await asyncio.wait_for(bridge.wait_connected(), 10)
    text = "\n".join(
        [caplog.text]
        + [str(r.args) for r in caplog.records]
        + [repr(config), str(config), repr(bridge.settings)]
    )
    assert "connected to 127.0.0.1" in text
    assert PASSWORDS["gymctl"] not in text
    site = parse_config(
        f'[site]\nname = "t"\nid = "test"\n[mqtt]\nhost = "10.0.0.2"\nusername = "gymctl"\n'
        f'password = "{PASSWORDS["gymctl"]}"\n'
    )
    assert PASSWORDS["gymctl"] not in repr(site)
    assert PASSWORDS["gymctl"] not in str(site.model_dump(exclude={"mqtt": {"password"}}))


async def test_a_password_to_a_remote_broker_without_tls_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("10.0.0.2")
    assert not is_loopback("broker.gym.lan")
    config = MqttConfig(host="192.0.2.1", port=1, username="gymctl", password="s3cret-word")
    caplog.set_level(logging.WARNING, logger="controller.mqtt")
    async with MqttBridge(settings=config, site_id="test", bus=EventBus(), reconnect_min_s=5):
        pass
    warnings = [r.getMessage() for r in caplog.records if "clear text" in r.getMessage()]
    assert warnings == [
        "MQTT: the password of 'gymctl' goes to 192.0.2.1:1 in clear text: configure [mqtt.tls]"
    ]
    assert "s3cret-word" not in caplog.text
