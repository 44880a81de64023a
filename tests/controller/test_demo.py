"""End to end: the demo gym over Modbus TCP and BLE, seen from the database and from MQTT.

One run of the demo (two racks, a bike with a strap, a band) with a real MQTT client on
the demo's embedded broker. While it runs: a rack's Modbus server is killed in the middle
of a set and a BLE link is dropped in the middle of a bike interval; both stations must
go to their safe state (and come back). At the end the database must hold sessions with
reps, a set stopped by velocity loss, a load changed by readiness and one by
autoregulation, each with the decision record that explains it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.cli import main
from controller.demo.run import DemoHandle, DemoOptions, run_demo
from controller.states import StationState
from tests.controller.mqtt.conftest import free_port
from tests.controller.mqtt.test_bridge import subscriber

from .polling import eventually

S = StationState
ROOT = Path(__file__).resolve().parents[2]


async def query(handle: DemoHandle, sql: str) -> list[dict[str, Any]]:
    await handle.gym.store.writer.flush()
    return await handle.gym.store.reader.query(sql)


@pytest.mark.slow
async def test_the_demo_gym_runs_adapts_and_goes_safe_when_devices_drop(tmp_path: Path) -> None:
    mqtt_port = free_port()
    options = DemoOptions(
        stations=4,
        mqtt_port=mqtt_port,
        port=free_port(),
        db=tmp_path / "demo.db",
        panel=True,
        rest_scale=0.02,
    )
    ready: asyncio.Future[DemoHandle] = asyncio.get_running_loop().create_future()
    demo = asyncio.create_task(run_demo(options, on_start=ready.set_result), name="test-demo")
    try:
        handle = await asyncio.wait_for(asyncio.shield(ready), 60)
        gym, world = handle.gym, handle.world
        async with subscriber(None, "gymctl/demo/#", port=mqtt_port) as inbox:
            # a BLE link dropped in the middle of a bike interval
            bike = gym.runtime("bike-1")
            await eventually(lambda: bike.state is S.SET_ACTIVE, within=40)
            await asyncio.sleep(1.0)
            assert world.air is not None
            await world.air.drop(world.bikes["bike-1"].address)
            await eventually(lambda: bike.state is S.FAULT, within=3.0)
            bike_envelope = bike.station.drive.envelope
            assert bike_envelope is not None
            assert bike_envelope.level is None

            # a rack's Modbus server killed in the middle of a set
            rack = gym.runtime("rack-1")
            await eventually(
                lambda: rack.state is S.SET_ACTIVE and rack.supervisor.reps >= 2, within=60
            )
            emulator = world.racks["rack-1"]
            await emulator.stop_serving()
            await eventually(lambda: rack.state is S.FAULT, within=1.0)
            rack_envelope = rack.station.drive.envelope
            assert rack_envelope is not None
            assert rack_envelope.level is None  # the controller's side is safe at once
            # the device's own watchdog drops the resistance when the heartbeat stops
            await eventually(lambda: emulator.state.actual_load_kg == 0.0, within=3.0)
            assert emulator.state.fault == "watchdog"
            await emulator.start_serving()
            await eventually(lambda: rack.state is not S.FAULT, within=15)
            await eventually(lambda: bike.state is not S.FAULT, within=15)

            # the readiness change, a velocity-loss stop and an autoregulation change
            async def adapted() -> bool:
                rows = await query(
                    handle,
                    "SELECT (SELECT count(*) FROM sets WHERE stop = 'velocity_loss' AND "
                    "started >= strftime('%s','now') - 600) AS vl, (SELECT count(*) FROM "
                    "decisions WHERE kind = 'autoregulation' AND rule = "
                    "'autoregulation.velocity_zone' AND before_json != after_json) AS auto",
                )
                return bool(rows[0]["vl"] and rows[0]["auto"])

            async with asyncio.timeout(90):
                while not await adapted():  # noqa: ASYNC110 - the store is polled
                    await asyncio.sleep(0.5)
            await eventually(lambda: bool(inbox.on("/rep") and inbox.on("/cue")), within=5)
            # the panel runs inside the demo, with its own login
            assert handle.login is not None
            user, password = handle.login
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{options.port}") as web:
                me = await web.post(
                    "/api/v1/auth/login", json={"username": user, "password": password}
                )
                assert me.status_code == 200, me.text
                floor = (await web.get("/api/v1/stations")).json()["stations"]
                assert [s["station_id"] for s in floor] == ["rack-1", "rack-2", "bike-1", "band-1"]
            handle.stop.set()
            summary = await asyncio.wait_for(asyncio.shield(demo), 60)
    finally:
        if not demo.done():
            if ready.done():
                ready.result().stop.set()
            await asyncio.wait_for(asyncio.shield(demo), 60)
    for key in ("stations", "sessions", "sets", "reps", "decisions", "velocity_loss_stops", "db"):
        assert key in summary
    assert summary["stations"] == 4
    assert summary["reps"] > 10
    assert summary["velocity_loss_stops"] >= 1
    assert summary["db"] == str(options.db.resolve())

    db = sqlite3.connect(options.db)
    db.row_factory = sqlite3.Row
    reps = db.execute("SELECT count(*) FROM reps WHERE ts >= ?", (handle.started,)).fetchone()[0]
    assert reps == summary["reps"]
    changes = {
        row["kind"]: row
        for row in db.execute(
            "SELECT * FROM decisions WHERE ts >= ? AND before_json != after_json "
            "AND kind IN ('readiness_adjustment', 'autoregulation') ORDER BY ts",
            (handle.started,),
        )
    }
    readiness = db.execute(
        "SELECT * FROM decisions WHERE ts >= ? AND kind = 'readiness_adjustment' "
        "AND rule LIKE '%velocity_zone_shift'",
        (handle.started,),
    ).fetchone()
    assert readiness is not None  # Ben's amber day: lighter zone, so a lighter load
    assert "readiness amber" in readiness["reason"]
    auto = changes["autoregulation"]
    assert "first reps at" in auto["reason"]
    assert auto["inputs_json"] != "{}"
    stop = db.execute(
        "SELECT * FROM decisions WHERE ts >= ? AND rule = 'velocity_loss_stop'", (handle.started,)
    ).fetchone()
    assert "stop threshold" in stop["reason"]
    faults = db.execute(
        "SELECT station_id FROM station_events WHERE ts >= ? AND to_state = 'fault'",
        (handle.started,),
    ).fetchall()
    assert {"rack-1", "bike-1"} <= {f[0] for f in faults}
    traces = db.execute("SELECT count(*) FROM traces WHERE ts >= ?", (handle.started,)).fetchone()
    assert traces[0] > 0
    db.close()

    # what an MQTT subscriber saw: states, reps and cues of several stations
    states = {t.split("/")[3] for t, _, _ in inbox.messages if t.endswith("/state")}
    assert {"rack-1", "rack-2", "bike-1", "band-1"} <= states
    assert {t.split("/")[3] for t, _, _ in inbox.messages if t.endswith("/rep")} >= {"rack-2"}
    cue_kinds = {p["kind"] for p in inbox.on("/cue")}
    assert {"rep", "stop"} <= cue_kinds
    assert any(p["state"] == "fault" for p in inbox.on("rack-1/state"))


def test_gymctl_demo_prints_one_json_summary(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "controller.cli",
            "demo",
            "--stations",
            "1",
            "--duration",
            "3",
            "--mqtt-port",
            str(free_port()),
            "--port",
            str(free_port()),
            "--db",
            str(db),
            "--no-panel",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in ("stations", "sessions", "sets", "reps", "decisions", "velocity_loss_stops", "db"):
        assert key in summary
    assert summary["stations"] == 1
    assert summary["sessions"] == 1
    assert summary["db"] == str(db.resolve())
    assert db.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stations", "0"], "--stations: must be 1..64"),
        (["--duration", "-1"], "--duration: must be a positive number"),
        (["--port", "1883", "--mqtt-port", "1883"], "cannot share port 1883"),
        (["--db", "/nonexistent-dir/x.db"], "its directory does not exist"),
    ],
)
def test_gymctl_demo_refuses_bad_options(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", *args]) == 2
    assert message in capsys.readouterr().err
