"""The bridge against a real Mosquitto (and once against the embedded amqtt broker)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from controller.bus import EventBus
from controller.config import MqttConfig, TlsConfig
from controller.cues import stop_cue
from controller.errors import ConfigError
from controller.events import (
    CommandEvent,
    CommandOutcome,
    CueEvent,
    StationStateChanged,
    Telemetry,
)
from controller.mqtt import EmbeddedBroker, MqttBridge
from controller.mqtt.commands import AnyCommand, EstopCommand, LoadCommand
from controller.states import StationState
from tests.controller.polling import eventually
from tests.controller.store.conftest import rep

from .conftest import Mosquitto, MosquittoFactory, free_port, make_certificates

pytestmark = pytest.mark.mosquitto
ROOT = Path(__file__).resolve().parents[3]


class Inbox:
    """A subscriber's view: every message as (topic, decoded payload, retain)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Any, bool]] = []

    def on(self, suffix: str) -> list[Any]:
        return [p for t, p, _ in self.messages if t.endswith(suffix)]


@asynccontextmanager
async def subscriber(
    broker: Mosquitto | None,
    topic: str = "gymctl/#",
    *,
    port: int | None = None,
    **options: Any,
) -> AsyncIterator[Inbox]:
    inbox = Inbox()
    host = "127.0.0.1"
    async with aiomqtt.Client(host, port or (broker.port if broker else 1883), **options) as client:
        await client.subscribe(topic, qos=1)

        async def read() -> None:
            async for message in client.messages:
                raw = bytes(message.payload or b"")
                try:
                    payload: Any = json.loads(raw)
                except ValueError:
                    payload = raw.decode()
                inbox.messages.append((message.topic.value, payload, bool(message.retain)))

        task = asyncio.create_task(read(), name="test-subscriber")
        try:
            yield inbox
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def config(**overrides: Any) -> MqttConfig:
    values: dict[str, Any] = {"host": "127.0.0.1", "telemetry_hz": 5.0}
    values.update(overrides)
    return MqttConfig(**values)


def bridge_for(
    broker_port: int,
    bus: EventBus,
    on_command: Callable[[AnyCommand], object] | None = None,
    **overrides: Any,
) -> MqttBridge:
    return MqttBridge(
        settings=config(port=broker_port, **overrides),
        site_id="test",
        bus=bus,
        on_command=on_command,
        stations={"rack-1", "rack-2"},
        reconnect_min_s=0.1,
        reconnect_max_s=0.3,
    )


def state(station: str, after: StationState) -> StationStateChanged:
    return StationStateChanged(
        station_id=station, before=StationState.IDLE, after=after, reason="test"
    )


async def test_events_go_out_on_their_topics_and_status_is_retained(mosquitto: Mosquitto) -> None:
    bus = EventBus()
    async with subscriber(mosquitto) as inbox, bridge_for(mosquitto.port, bus) as bridge:
        await asyncio.wait_for(bridge.wait_connected(), 5)
        bus.publish(state("rack-1", StationState.CHECKED_IN))
        for n in range(5):
            bus.publish(rep(n))
        bus.publish(CueEvent(station_id="rack-1", cue=stop_cue()))
        for n in range(200):  # far faster than telemetry_hz: downsampled
            bus.publish(
                Telemetry(
                    station_id="rack-1",
                    device_id="rack-1-rack",
                    channel="position",
                    unit="m",
                    t0=n * 0.01,
                    period=0.01,
                    values=(n / 200,),
                )
            )
        await eventually(lambda: len(inbox.on("/rep")) == 5 and len(inbox.on("/cue")) == 1)
        await asyncio.sleep(0.5)
    assert inbox.on("/controller/status")[:1] == ["online"]
    assert inbox.on("/controller/status")[-1] == "offline"  # a clean stop says so
    assert [p["rep_index"] for p in inbox.on("/rep")] == [0, 1, 2, 3, 4]
    assert inbox.on("/state")[0]["state"] == "checked_in"
    assert all("athlete_id" not in p for p in inbox.on("/rep"))
    telemetry = inbox.on("/telemetry")
    assert 1 <= len(telemetry) <= 5
    assert telemetry[-1]["values"] == [199 / 200]
    # retained: a late subscriber gets the status and the station's state at once
    async with subscriber(mosquitto) as late:
        await eventually(lambda: len(late.messages) >= 2)
        retained = {t: p for t, p, r in late.messages if r}
        assert retained["gymctl/test/controller/status"] == "offline"
        assert retained["gymctl/test/station/rack-1/state"]["state"] == "checked_in"


async def test_commands_are_validated_and_handed_on(mosquitto: Mosquitto) -> None:
    bus = EventBus()
    received: list[AnyCommand] = []
    refusals = bus.subscribe("refusals", types=[CommandEvent])
    async with bridge_for(mosquitto.port, bus, received.append) as bridge:
        await asyncio.wait_for(bridge.wait_connected(), 5)
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as app:
            base = "gymctl/test/station/rack-1/cmd"
            good = {"by": "app", "seq": 1, "value": 50}
            await app.publish(f"{base}/load", json.dumps(good), qos=1)
            await app.publish(f"{base}/load", json.dumps(good), qos=1)  # replayed
            await app.publish(f"{base}/load", b"{broken", qos=1)  # malformed
            await app.publish(
                f"{base}/load", json.dumps({**good, "seq": 2, "value": -5}), qos=1
            )  # out of range
            await app.publish(
                f"{base}/estop",
                json.dumps({"by": "app", "expires": time.time() - 1, "id": "x" * 8}),
                qos=1,
            )  # expired
            await app.publish(f"{base}/estop", json.dumps({"by": "app", "seq": 3}), qos=1)
            await eventually(lambda: len(received) == 2 and bridge.refused == 4)
    assert received[0] == LoadCommand(station_id="rack-1", by="app", seq=1, value=50.0)
    assert isinstance(received[1], EstopCommand)
    reasons = [
        e.reason
        for e in refusals.drain()
        if isinstance(e, CommandEvent) and e.outcome is CommandOutcome.REFUSED
    ]
    assert len(reasons) == 4
    assert reasons[0].startswith("replayed")
    assert "not JSON" in reasons[1]
    assert "'value' must be 0..10000" in reasons[2]
    assert reasons[3].startswith("expired")
    refusals.close()


ACL = """\
user gymctl
topic readwrite gymctl/#

pattern write gymctl/test/station/%u/cmd/#
pattern read gymctl/test/station/%u/#
"""


async def test_a_station_cannot_command_another_station(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory(
        users={"gymctl": "ctl-pass", "rack-1": "r1-pass", "rack-2": "r2-pass"}, acl=ACL
    )
    broker.start()
    bus = EventBus()
    received: list[AnyCommand] = []
    async with bridge_for(
        broker.port, bus, received.append, username="gymctl", password="ctl-pass"
    ) as bridge:
        await asyncio.wait_for(bridge.wait_connected(), 5)
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, username="rack-1", password="r1-pass"
        ) as rack_1:
            # the broker drops a publish its ACL refuses without telling the sender:
            # the proof is that it never arrives, while the allowed one after it does
            await rack_1.publish(
                "gymctl/test/station/rack-2/cmd/estop",
                json.dumps({"by": "rack-1", "seq": 1}),
                qos=1,
            )
            await rack_1.publish(
                "gymctl/test/station/rack-1/cmd/estop",
                json.dumps({"by": "rack-1", "seq": 2}),
                qos=1,
            )
            await eventually(lambda: len(received) >= 1)
            await asyncio.sleep(0.3)
    assert [(c.station_id, c.seq) for c in received] == [("rack-1", 2)]
    # and a wrong password is refused by the broker
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", broker.port, username="rack-1", password="no"):
            pass


async def test_events_wait_for_a_restarted_broker_and_go_out_in_order(
    mosquitto_factory: MosquittoFactory,
) -> None:
    broker = mosquitto_factory(persistent=True)
    broker.start()
    bus = EventBus()
    durable: dict[str, Any] = {"identifier": "test-durable-subscriber", "clean_session": False}
    async with subscriber(broker, "gymctl/test/station/+/rep", **durable):
        pass  # the broker now keeps a session and queues QoS 1 messages for it
    async with bridge_for(broker.port, bus) as bridge:
        await asyncio.wait_for(bridge.wait_connected(), 5)
        for n in range(10):
            bus.publish(rep(n))
        await eventually(lambda: bridge.stats().backlog == 0 and bridge.published >= 10)
        broker.stop()
        await eventually(lambda: not bridge.connected)
        for n in range(10, 60):  # the broker is away
            bus.publish(rep(n))
        await asyncio.sleep(0.3)
        assert bridge.stats().backlog == 50
        broker.start()
        await asyncio.wait_for(bridge.wait_connected(), 10)
        await eventually(lambda: bridge.stats().backlog == 0, within=10)
        assert bridge.stats().dropped == 0
    async with subscriber(broker, "gymctl/test/station/+/rep", **durable) as inbox:
        await eventually(
            lambda: (
                {p["rep_index"] + 10 * p["set_index"] for p in inbox.on("/rep")}
                >= set(range(10, 60))
            ),
            within=10,
        )
    seen: list[int] = []
    for payload in inbox.on("/rep"):  # at least once: drop copies, keep the order
        n = payload["set_index"] * 10 + payload["rep_index"]
        if n not in seen:
            seen.append(n)
    assert [n for n in seen if n >= 10] == list(range(10, 60))  # none lost, in order


async def test_a_killed_controller_leaves_its_will(mosquitto: Mosquitto) -> None:
    script = (
        "import asyncio, sys\n"
        "from controller.bus import EventBus\n"
        "from controller.config import MqttConfig\n"
        "from controller.mqtt import MqttBridge\n"
        "async def main():\n"
        f"    b = MqttBridge(settings=MqttConfig(host='127.0.0.1', port={mosquitto.port}),"
        " site_id='test', bus=EventBus())\n"
        "    async with b:\n"
        "        await b.wait_connected()\n"
        "        print('connected', flush=True)\n"
        "        await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    async with subscriber(mosquitto, "gymctl/test/controller/status") as inbox:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, cwd=ROOT, stdout=subprocess.PIPE
        )
        assert child.stdout is not None
        assert (await asyncio.wait_for(child.stdout.readline(), 10)).strip() == b"connected"
        await eventually(lambda: "online" in inbox.on("/status"))
        os.kill(child.pid, signal.SIGKILL)
        await child.wait()
        await eventually(lambda: inbox.on("/status")[-1] == "offline")


async def test_tls_with_username_and_password(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    ca, cert, key = make_certificates(tmp_path)
    broker = mosquitto_factory(tls=(ca, cert, key), users={"gymctl": "secret"})
    broker.start()
    bus = EventBus()
    bridge = MqttBridge(
        settings=config(
            port=broker.port, username="gymctl", password="secret", tls=TlsConfig(ca_file=str(ca))
        ),
        site_id="test",
        bus=bus,
        reconnect_min_s=0.1,
    )
    async with bridge:
        await asyncio.wait_for(bridge.wait_connected(), 10)
        bus.publish(rep(0))
        await eventually(lambda: bridge.published >= 1)
    # without the CA the certificate is not trusted: no connection
    untrusting = MqttBridge(
        settings=config(port=broker.port, username="gymctl", password="secret", tls=TlsConfig()),
        site_id="test",
        bus=EventBus(),
        reconnect_min_s=0.1,
    )
    async with untrusting:
        await asyncio.sleep(0.5)
        assert not untrusting.connected


async def test_the_embedded_broker_serves_the_bridge() -> None:
    port = free_port()
    bus = EventBus()
    received: list[AnyCommand] = []
    async with EmbeddedBroker(port=port):
        async with (
            subscriber(None, port=port) as inbox,
            bridge_for(port, bus, received.append) as bridge,
        ):
            await asyncio.wait_for(bridge.wait_connected(), 5)
            bus.publish(state("rack-1", StationState.IDLE))
            bus.publish(rep(0))
            async with aiomqtt.Client("127.0.0.1", port) as app:
                await app.publish(
                    "gymctl/test/station/rack-1/cmd/estop",
                    json.dumps({"by": "app", "seq": 1}),
                    qos=1,
                )
            await eventually(lambda: len(inbox.on("/rep")) == 1 and len(received) == 1)
        assert inbox.on("/state")[0]["state"] == "idle"
        assert isinstance(received[0], EstopCommand)


def test_the_embedded_broker_stays_on_loopback() -> None:
    with pytest.raises(ConfigError, match="loopback only"):
        EmbeddedBroker(host="0.0.0.0")


async def test_an_embedded_broker_stuck_in_its_shutdown_still_stops_with_its_tasks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """amqtt's shutdown waits, unbounded, for each session's reader; the controller's stop
    does not: it closes the listener and ends amqtt's tasks (the broadcast loop, the
    sessions) so none is left on the loop."""
    from amqtt.broker import Broker

    async def stuck(self: Broker) -> None:  # the boundary: amqtt's own shutdown never ends
        await asyncio.sleep(3600)

    port = free_port()
    started = time.monotonic()
    async with asyncio.timeout(5), EmbeddedBroker(port=port, shutdown_timeout_s=0.2):
        async with aiomqtt.Client("127.0.0.1", port) as client:
            await client.publish("gymctl/test/probe", b"1", qos=1)
        monkeypatch.setattr(Broker, "shutdown", stuck)
        started = time.monotonic()
    assert time.monotonic() - started < 3
    current = asyncio.current_task()
    left = [
        t
        for t in asyncio.all_tasks()
        if t is not current
        and not t.done()
        and "amqtt" in getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "")
    ]
    assert left == []
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
