"""Malformed, unauthorised, out-of-range and replayed commands, sent through a real Mosquitto
(passwords and an ACL) to a real station: each is refused with a clear message, logged,
published as a refused command event, and nothing reaches the device. The adapter at the
end of the chain records every command it is given: that is where "never applied" is
checked. A valid command sent the same way does reach it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiomqtt
import pytest

from controller.bus import EventBus
from controller.config import BleDeviceConfig, DeviceRole, MqttConfig, RackConfig, parse_config
from controller.events import CommandEvent, CommandOutcome
from controller.mqtt import MqttBridge
from controller.safety import Limits
from controller.station import Station
from equipment_adapters.base import Adapter, BatchSink, EventSink, SetLoad, ShowCue
from tests.controller.polling import eventually
from tests.controller.recording_adapter import (
    RecordingAdapter,
    band_capabilities,
    rack_capabilities,
)

from .conftest import Mosquitto, MosquittoFactory

pytestmark = pytest.mark.mosquitto

SITE = parse_config(
    """
[site]
name = "t"
id = "test"
[[stations]]
id = "rack-1"
[stations.devices.rack]
host = "127.0.0.1"
map = "recording"
[stations.devices.band]
name = "band"
[stations.safety]
announce_threshold = 1000.0
"""
)
BASE = "gymctl/test/station/rack-1/cmd"
USERS = {"gymctl": "ctl-pass-1", "coach-app": "app-pass-2", "display": "disp-pass-3"}
#: the controller reads and writes its tree; the coaches' app may command stations; a
#: display in the hall may only read
ACL = """\
user gymctl
topic readwrite gymctl/#

user coach-app
topic write gymctl/test/station/+/cmd/#
topic read gymctl/test/#

user display
topic read gymctl/test/#
"""


def make_adapter(
    role: DeviceRole,
    device: RackConfig | BleDeviceConfig,
    device_id: str,
    on_batch: BatchSink,
    on_event: EventSink,
) -> Adapter:
    capabilities = rack_capabilities() if role == "rack" else band_capabilities()
    return RecordingAdapter(device_id, capabilities, on_batch=on_batch, on_event=on_event)


@dataclass
class Floor:
    broker: Mosquitto
    station: Station
    bridge: MqttBridge
    rack: RecordingAdapter
    band: RecordingAdapter
    refusals: list[CommandEvent]

    def loads(self) -> list[float]:
        return [c.value for _, c in self.rack.commands if isinstance(c, SetLoad)]

    def cue_texts(self) -> list[str]:
        return [
            c.cue.text
            for a in (self.rack, self.band)
            for _, c in a.commands
            if isinstance(c, ShowCue)
        ]


@pytest.fixture
async def floor(mosquitto_factory: MosquittoFactory) -> AsyncIterator[Floor]:
    broker = mosquitto_factory(users=USERS, acl=ACL)
    broker.start()
    # a retained command left on the broker before the controller starts (a replay
    # waiting for every future subscriber)
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, username="coach-app", password=USERS["coach-app"]
    ) as app:
        stale = {"by": "coach-app", "seq": 900, "value": 150}
        await app.publish(f"{BASE}/load", json.dumps(stale), qos=1, retain=True)
    bus = EventBus()
    refused: list[CommandEvent] = []
    watch = bus.subscribe("refusals", types=[CommandEvent])
    station = Station(SITE.station("rack-1"), bus=bus, make_adapter=make_adapter)
    settings = MqttConfig(
        host="127.0.0.1", port=broker.port, username="gymctl", password=USERS["gymctl"]
    )
    bridge = MqttBridge(
        settings=settings,
        site_id="test",
        bus=bus,
        on_command=station.handle_mqtt,
        stations={"rack-1"},
        reconnect_min_s=0.1,
    )

    async def collect() -> None:
        while True:
            event = await watch.get()
            if isinstance(event, CommandEvent) and event.outcome is CommandOutcome.REFUSED:
                refused.append(event)

    async with station, bridge, asyncio.TaskGroup() as group:
        task = group.create_task(collect(), name="test-refusals")
        await asyncio.wait_for(bridge.wait_connected(), 10)
        rack, band = station.adapters["rack"], station.adapters["band"]
        assert isinstance(rack, RecordingAdapter)
        assert isinstance(band, RecordingAdapter)
        station.check_in("a-x1", "ses-1", Limits(athlete_id="a-x1", athlete_e1rm=200.0))
        await station.drive.settle()
        try:
            yield Floor(broker, station, bridge, rack, band, refused)
        finally:
            task.cancel()
    watch.close()


def payload(**fields: object) -> bytes:
    return json.dumps({"by": "coach-app", **fields}).encode()


NOW = time.time

#: (verb, raw payload, what the refusal says)
HOSTILE: list[tuple[str, bytes, str]] = [
    ("load", b"{not json", "payload is not JSON"),
    ("load", b"[" * 4000, "payload is nested too deeply"),
    ("load", b"\xff\xfe\x00", "payload is not JSON"),
    ("load", b"[1, 2]", "payload must be a JSON object"),
    ("load", payload(seq=10, value=80, override=True), "unknown field(s) ['override']"),
    ("load", json.dumps({"seq": 11, "value": 80}).encode(), "'by' must name the sender"),
    ("load", payload(value=80), "a command needs 'seq' or 'expires'"),
    ("load", payload(seq=12, value=-20), "'value' must be 0..10000"),
    ("load", payload(seq=13, value=1e9), "'value' must be 0..10000"),
    ("load", payload(seq=14).replace(b"}", b', "value": NaN}'), "'value' must be 0..10000"),
    ("load", payload(seq=15, value="80"), "'value' must be a number"),
    ("cue", payload(seq=16, text="x" * 60), "'text' must be printable text of at most 48"),
    ("cue", payload(seq=17, text="\u0007bell"), "'text' must be printable"),
    ("cue", payload(seq=18, ttl_s=3600), "'ttl_s' must be 0.1..60"),
    ("launch", payload(seq=19), "unknown verb 'launch'"),
    ("estop", payload(seq=20, id="short"), "'id' must be 8-64 characters"),
]


async def test_hostile_commands_are_refused_logged_and_never_reach_the_device(
    floor: Floor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="controller.mqtt")
    before_loads = floor.loads()
    before_cues = floor.cue_texts()
    refused_before = len(floor.refusals)
    # the retained command that waited on the broker was delivered at subscription: refused
    await eventually(lambda: any("retained" in e.reason for e in floor.refusals))
    async with aiomqtt.Client(
        "127.0.0.1", floor.broker.port, username="coach-app", password=USERS["coach-app"]
    ) as app:
        for verb, body, _ in HOSTILE:
            await app.publish(f"{BASE}/{verb}", body, qos=1)
        # expired, too far ahead, for a station this site does not have
        await app.publish(f"{BASE}/estop", payload(expires=NOW() - 30, id="nonce-0001"), qos=1)
        await app.publish(f"{BASE}/load", payload(expires=NOW() + 3600, id="n-2", value=5), qos=1)
        await app.publish("gymctl/test/station/rack-9/cmd/estop", payload(seq=21), qos=1)
        expected = len(HOSTILE) + 3
        await eventually(lambda: len(floor.refusals) - refused_before >= expected, within=10)
    await floor.station.drive.settle()
    await asyncio.sleep(0.2)
    # nothing reached the device
    assert floor.loads() == before_loads
    assert floor.cue_texts() == before_cues
    assert not floor.station.drive.estopped
    # each refusal says why, on the bus (and so in the store and on MQTT) and in the log
    reasons = [e.reason for e in floor.refusals[refused_before:]]
    for _, _, why in HOSTILE:
        assert any(why in r for r in reasons), (why, reasons)
    assert any(r.startswith("expired") for r in reasons)
    assert any("ahead; at most 60 s" in r for r in reasons)
    assert any("no station 'rack-9'" in r for r in reasons)
    logged = [r.getMessage() for r in caplog.records if r.name == "controller.mqtt.bridge"]
    refusal_lines = [m for m in logged if m.startswith("MQTT: refused command: gymctl/test/")]
    assert len(refusal_lines) >= expected
    for _, _, why in HOSTILE:
        assert any(why in line for line in refusal_lines), why
    assert floor.bridge.accepted == 0


async def test_replayed_and_unauthorised_commands_are_not_applied(floor: Floor) -> None:
    async with aiomqtt.Client(
        "127.0.0.1", floor.broker.port, username="coach-app", password=USERS["coach-app"]
    ) as app:
        await app.publish(f"{BASE}/load", payload(seq=5, value=20), qos=1)
        await eventually(lambda: bool(floor.loads()) and floor.loads()[-1] == 20.0)
        # the same sequence number again, with a heavier load: a replay (or a forgery)
        await app.publish(f"{BASE}/load", payload(seq=5, value=120), qos=1)
        await app.publish(f"{BASE}/load", payload(seq=4, value=120), qos=1)
        # one-shot ids: the second use of an id is a replay
        once = payload(expires=NOW() + 30, id="once-000001", value=25)
        await app.publish(f"{BASE}/load", once, qos=1)
        await eventually(lambda: floor.loads()[-1] == 25.0)
        await app.publish(f"{BASE}/load", once.replace(b"25", b"125"), qos=1)
        await app.publish(f"{BASE}/load", once, qos=1)
        # releasing an e-stop is for staff at the panel unless the site allows it remotely
        await app.publish(f"{BASE}/estop", payload(seq=6, reason="drill"), qos=1)
        await eventually(lambda: floor.station.drive.estopped)
        await app.publish(f"{BASE}/release", payload(seq=7), qos=1)
        await eventually(lambda: any(e.verb == "release" for e in floor.refusals))
    # a hall display may read but not command: the broker drops its publish
    async with aiomqtt.Client(
        "127.0.0.1", floor.broker.port, username="display", password=USERS["display"]
    ) as display:
        await display.publish(f"{BASE}/release", payload(seq=100), qos=1)
    # nobody gets in without a password, or with a wrong one
    attempts: list[dict[str, Any]] = [{}, {"username": "coach-app", "password": "guess"}]
    for credentials in attempts:
        with pytest.raises(aiomqtt.MqttError):
            async with aiomqtt.Client("127.0.0.1", floor.broker.port, **credentials):
                pass
    await asyncio.sleep(0.3)
    await floor.station.drive.settle()
    assert max(floor.loads()) == 25.0  # no replayed load ever reached the device
    assert floor.station.drive.estopped  # still latched: neither release was applied
    reasons = [e.reason for e in floor.refusals]
    assert sum(r.startswith("replayed: seq") for r in reasons) == 2
    assert sum(r.startswith("replayed: id") for r in reasons) == 2
    release = [e for e in floor.refusals if e.verb == "release"]
    assert len(release) == 1  # the display's never reached the controller
    assert release[0].reason == "only staff can release an e-stop (not mqtt)"
