"""What leaves the site over MQTT during a session, read by a subscriber to ``#`` on a real
Mosquitto: athletes added through the panel with a name and a member number, checked in,
sets played at a real station (reps, cues, decisions, load-velocity points), staff e-stop
and override with a reason, heart-rate telemetry and readiness. No name or member number
ever appears; athlete ids and health data only when the site's config allows them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from controller.config import MqttConfig, PersonalData
from controller.events import ReadinessInput, ReadinessScored, Telemetry
from controller.mqtt import MqttBridge
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from tests.controller.mqtt.conftest import MOSQUITTO, Mosquitto
from tests.controller.polling import eventually

from .conftest import Site, login

pytestmark = pytest.mark.mosquitto

PEOPLE = (
    {"display_name": "Zoë Quinterra-Blyth", "external_ref": "MEMBER-77421"},
    {"display_name": "Orrin Vasquez-Holt", "external_ref": "MEMBER-90315"},
)


class Wire:
    """Everything a subscriber to ``#`` received: (topic, raw payload)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def text(self) -> str:
        return "\n".join(f"{t} {p.decode('utf-8', 'replace')}" for t, p in self.messages)

    def on(self, leaf: str) -> list[dict[str, Any]]:
        return [
            json.loads(p)
            for t, p in self.messages
            if t.rsplit("/", 1)[-1] == leaf and p.startswith(b"{")
        ]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    (tmp_path / "mosquitto").mkdir()
    broker = Mosquitto(directory=tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@asynccontextmanager
async def everything(broker: Mosquitto) -> AsyncIterator[Wire]:
    wire = Wire()
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-everything") as c:
        await c.subscribe("#", qos=1)

        def keep(message: aiomqtt.Message) -> None:
            wire.messages.append((message.topic.value, bytes(message.payload or b"")))

        async def read() -> None:
            async for message in c.messages:
                keep(message)

        task = asyncio.create_task(read(), name="test-subscriber-everything")
        try:
            yield wire
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def a_session(site: Site, client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    """A morning at the site, driven through the panel and a real station; athlete ids."""
    ids = []
    for person in PEOPLE:
        created = await client.post("/api/v1/athletes", json=person, headers=headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["athlete"]["id"])
    first, second = ids
    for station, athlete in (("rack-1", first), ("rack-2", second)):
        answer = await client.post(
            f"/api/v1/stations/{station}/checkin", json={"athlete_id": athlete}, headers=headers
        )
        assert answer.status_code == 200, answer.text
    bus = site.bus
    for athlete in ids:  # the morning's readiness, as the readiness job publishes it
        bus.publish(
            ReadinessInput(
                station_id=None,
                athlete_id=athlete,
                day="2026-03-02",
                kind="ln_rmssd",
                value=4.1,
                unit="ln(ms)",
                source="strap",
            )
        )
        bus.publish(
            ReadinessScored(
                station_id="rack-1" if athlete == first else "rack-2",
                athlete_id=athlete,
                day="2026-03-02",
                score=71.0,
                components={"hrv": {"z": -0.4, "reason": "below baseline"}},
            )
        )
    for n in range(10):  # a strap on the athlete at rack-1
        bus.publish(
            Telemetry(
                station_id="rack-1",
                device_id="rack-1-strap",
                channel="heart_rate",
                unit="bpm",
                t0=n * 0.1,
                period=0.1,
                values=(92.0 + n,),
            )
        )
    model = DEMO_ATHLETES[0]
    await site.gym.run_set("rack-1", model, load=60.0, reps=3, rep_s=0.4)
    override = await client.post(
        "/api/v1/stations/rack-1/load",
        json={"value": 55.0, "confirm": True, "reason": "knee feels off today"},
        headers=headers,
    )
    assert override.status_code == 200, override.text
    await site.gym.run_set("rack-1", model, load=55.0, reps=2, rep_s=0.4)
    estop = await client.post(
        "/api/v1/stations/rack-2/estop", json={"reason": "bar slipped"}, headers=headers
    )
    assert estop.status_code == 200
    for station in ("rack-1", "rack-2"):
        await client.post(f"/api/v1/stations/{station}/checkout", json={}, headers=headers)
    return ids


@pytest.mark.parametrize(
    "allowed",
    [[], ["pseudonymous_id"], ["pseudonymous_id", "heart_rate", "readiness"]],
    ids=["default", "pseudonymous-ids", "everything-allowed"],
)
async def test_nothing_personal_leaves_unless_the_config_says_so(
    site: Site, broker: Mosquitto, allowed: list[PersonalData]
) -> None:
    settings = MqttConfig(
        host="127.0.0.1", port=broker.port, telemetry_hz=20.0, personal_data=allowed
    )
    bridge = MqttBridge(
        settings=settings,
        site_id="bench",
        bus=site.bus,
        stations={"rack-1", "rack-2"},
        reconnect_min_s=0.1,
    )
    async with everything(broker) as wire, bridge:
        await asyncio.wait_for(bridge.wait_connected(), 10)
        async with site.client() as client:
            csrf = await login(client, "admin")
            ids = await a_session(site, client, {"X-CSRF-Token": csrf})
        await eventually(lambda: bridge.stats().backlog == 0 and len(wire.on("set")) >= 2)
        await asyncio.sleep(0.3)
    text = wire.text()
    assert len(wire.messages) > 40, "the session published too little to judge"
    # never: names and member numbers, whatever the config
    for person in PEOPLE:
        for value in person.values():
            assert value not in text
            assert value.encode() not in b"".join(p for _, p in wire.messages)
    # athlete ids: pseudonymous, and only when allowed
    if "pseudonymous_id" in allowed:
        assert all(i in text for i in ids)
        assert all(r["athlete_id"] in ids for r in wire.on("rep"))
    else:
        assert not any(i in text for i in ids)
        assert not any("athlete_id" in p for leaf in ("rep", "set", "state") for p in wire.on(leaf))
    # health data: heart rate and readiness only when allowed
    heart = [p for p in wire.on("telemetry") if p["channel"] == "heart_rate"]
    assert bool(heart) == ("heart_rate" in allowed)
    assert bool(wire.on("readiness")) == ("readiness" in allowed and "pseudonymous_id" in allowed)
    decisions = wire.on("decision")
    assert decisions
    assert all(("inputs" in d) == ("readiness" in allowed) for d in decisions)
    # telemetry carries the station and the device, nothing about the person
    for p in wire.on("telemetry"):
        assert p["station_id"] in ("rack-1", "rack-2")
        assert set(p) <= {
            "type",
            "ts",
            "station_id",
            "device_id",
            "channel",
            "unit",
            "t0",
            "period",
            "values",
            "seq",
            "boot",
        }
    # nothing leaves under another root than the site's tree
    assert all(t.startswith("gymctl/bench/") for t, _ in wire.messages)
