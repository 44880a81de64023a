"""The site object: its parts in one task group, MQTT in and out, site alarms, recovery."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from controller.errors import MqttBridgeError
from controller.events import Alert, AlertSeverity, StationStateChanged, Telemetry
from controller.states import StationState
from tests.controller.mqtt.conftest import MOSQUITTO, Mosquitto, free_port
from tests.controller.mqtt.test_bridge import subscriber

from .polling import eventually
from .site_rig import BEN, site

S = StationState


def embedded(port: int) -> str:
    return f"[mqtt]\nport = {port}\ntelemetry_hz = 5.0\n"


async def test_the_site_runs_its_parts_as_named_tasks_of_one_group(tmp_path: Path) -> None:
    async with site(tmp_path, stations=2) as rig:
        names = {t.get_name() for t in asyncio.all_tasks()}
        for name in ("store", "station:rack-1", "station:rack-2", "site-watch", "site-health"):
            assert name in names
        assert {s for s in names if s.startswith("mqtt")} == set()  # MQTT disabled here
        await eventually(lambda: rig.gym.runtime("rack-1").state is S.IDLE)
        stations = await rig.gym.store.reader.query("SELECT id FROM stations ORDER BY id")
        assert [r["id"] for r in stations] == ["rack-1", "rack-2"]
    leftover = {t.get_name() for t in asyncio.all_tasks()} & {"store", "site-watch"}
    assert leftover == set()


async def test_mqtt_commands_reach_their_station_and_events_go_out(tmp_path: Path) -> None:
    port = free_port()
    async with site(tmp_path, stations=2, mqtt=embedded(port)) as rig:
        assert rig.gym.broker is not None
        assert rig.gym.bridge is not None
        await asyncio.wait_for(rig.gym.bridge.wait_connected(), 10)
        async with subscriber(None, "gymctl/test/#", port=port) as inbox:
            await rig.gym.start_session("rack-1", rig.ids["ath-ana"])
            runtime = rig.gym.runtime("rack-1")
            await eventually(lambda: runtime.supervisor.reps >= 2, within=20)
            async with aiomqtt.Client("127.0.0.1", port) as client:
                payload = {"by": "front-desk", "seq": 1, "reason": "test"}
                await client.publish(
                    "gymctl/test/station/rack-2/cmd/estop", json.dumps(payload), qos=1
                )
                await eventually(lambda: rig.gym.runtime("rack-2").state is S.ESTOPPED)
                # a release over MQTT is refused unless the site allows it
                payload = {"by": "front-desk", "seq": 2}
                await client.publish(
                    "gymctl/test/station/rack-2/cmd/release", json.dumps(payload), qos=1
                )
                await eventually(
                    lambda: any(
                        c.get("verb") == "release" and c.get("outcome") == "refused"
                        for c in inbox.on("rack-2/command")
                    )
                )
            assert rig.gym.runtime("rack-2").state is S.ESTOPPED
            assert runtime.state is not S.ESTOPPED  # the other station is not touched
            await eventually(lambda: len(inbox.on("rack-1/rep")) >= 2)
            await eventually(lambda: bool(inbox.on("rack-1/cue")))
            states = [p["state"] for p in inbox.on("rack-1/state")]
            assert "set_active" in states
            rep = inbox.on("rack-1/rep")[0]
            assert rep["mean_velocity_ms"] > 0
            assert "athlete_id" not in rep  # no personal data by default
            await rig.gym.end_session("rack-1", by="coach")


async def test_a_taken_broker_port_fails_the_start_cleanly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MqttBridgeError, match="cannot listen"):
            async with site(tmp_path, mqtt=embedded(port)):
                pass


async def test_an_unwritable_store_puts_every_station_safe_until_it_recovers(
    tmp_path: Path,
) -> None:
    async with site(tmp_path, stations=2) as rig:
        gym = rig.gym
        await gym.start_session("rack-1", rig.ids["ath-ana"])
        runtime = gym.runtime("rack-1")
        other = gym.runtime("rack-2")
        await eventually(lambda: runtime.supervisor.reps >= 1, within=20)
        # what the store writer publishes when SQLite refuses to write
        gym.bus.publish(
            Alert(
                station_id=None,
                severity=AlertSeverity.CRITICAL,
                code="store_unwritable",
                message="database or disk is full",
            )
        )
        await eventually(lambda: runtime.state is S.FAULT and other.state is S.FAULT)
        envelope = runtime.station.drive.envelope
        assert envelope is not None
        assert envelope.level is None
        await asyncio.sleep(0.6)
        assert runtime.state is S.FAULT  # the health loop waits for the alarm to clear
        gym.bus.publish(
            Alert(
                station_id=None,
                severity=AlertSeverity.INFO,
                code="store_unwritable",
                message="writes succeed again",
                cleared=True,
            )
        )
        await eventually(lambda: other.state is S.IDLE, within=5)
        await eventually(lambda: runtime.state is S.SET_ACTIVE, within=10)
        await gym.end_session("rack-1", by="coach")


async def test_a_bus_consumer_that_falls_behind_puts_stations_safe(tmp_path: Path) -> None:
    async with site(tmp_path) as rig:
        gym = rig.gym
        runtime = gym.runtime("rack-1")
        await eventually(lambda: runtime.state is S.IDLE)
        slow = gym.bus.subscribe("slow-consumer", reliable_bound=20)
        for _ in range(25):
            gym.bus.publish(
                StationStateChanged(
                    station_id="elsewhere",
                    before=S.IDLE,
                    after=S.IDLE,
                    reason="noise",
                )
            )
        assert "bus_overflow" in gym.alarms
        assert runtime.state is S.FAULT
        slow.drain()
        assert "bus_overflow" not in gym.alarms
        await eventually(lambda: runtime.state is S.IDLE, within=5)
        slow.close()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    broker = Mosquitto(directory=directory)
    broker.start()
    yield broker
    broker.stop()


@pytest.mark.mosquitto
async def test_with_an_external_mosquitto_the_site_publishes_there(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    mqtt = f'[mqtt]\nhost = "127.0.0.1"\nport = {mosquitto.port}\n'
    async with site(tmp_path, athletes=(BEN,), mqtt=mqtt) as rig:
        assert rig.gym.broker is None
        async with subscriber(mosquitto, "gymctl/test/#") as inbox:
            await rig.gym.start_session("rack-1", rig.ids["ath-ben"])
            await eventually(lambda: len(inbox.on("rack-1/rep")) >= 1, within=20)
            status: list[Any] = [p for t, p, _ in inbox.messages if t.endswith("status")]
            assert status == ["online"]
            await rig.gym.end_session("rack-1", by="coach")


async def test_a_two_sided_rack_shows_the_bars_position_live(tmp_path: Path) -> None:
    async with site(tmp_path, sides=2) as rig:
        with rig.gym.bus.subscribe("live", types=(Telemetry,)) as live:
            positions: list[Telemetry] = []

            def seen() -> bool:
                positions.extend(
                    e for e in live.drain() if isinstance(e, Telemetry) and e.channel == "position"
                )
                return len(positions) >= 2

            await eventually(seen, within=5)
        first = positions[0]
        assert first.station_id == "rack-1"
        assert first.unit == "m"
        assert 0.2 < first.values[0] < 1.5


async def test_sessions_left_running_by_a_killed_controller_are_closed_at_start(
    tmp_path: Path,
) -> None:
    async with site(tmp_path) as rig:

        def crashed(db: Any) -> None:
            db.execute(
                "INSERT INTO sessions (id, athlete_id, station_id, started, status) "
                "VALUES ('s-old', 'a-1', 'rack-1', 100.0, 'running')"
            )
            db.execute(
                "INSERT INTO sets (id, session_id, athlete_id, exercise, set_index, load, unit,"
                " reps, stop, started, ended) VALUES ('s-old-1', 's-old', 'a-1', 'back_squat', 0,"
                " 80, 'kg', 5, 'velocity_loss', 110.0, 130.0)"
            )

        await rig.gym.store.writer.call(crashed)
    async with site(tmp_path) as rig:
        (row,) = await rig.gym.store.reader.query("SELECT * FROM sessions WHERE id = 's-old'")
        assert row["status"] == "fault"
        assert row["ended"] == 130.0
        assert row["summary"]["interrupted"]
        assert rig.gym.runtime("rack-1").state in (S.OFFLINE, S.IDLE)
