"""The controller killed with SIGKILL in the middle of sets, then started again.

``gymctl demo`` runs in a subprocess (controller, emulated racks over Modbus TCP, the
embedded broker, athletes training); a test subscriber watches it over MQTT. When a station
is in the middle of a set, the test reads which reps are committed (a read-only SQLite
connection) and kills the process with SIGKILL. Then: the file passes
``PRAGMA integrity_check``, every rep committed before the kill is there, and so is every
rep the subscriber saw over MQTT (reps go out only after their commit; the sharper proof,
killing the moment a rep arrives, is ``test_durable_first.py``). A new
controller on the same file closes the interrupted sessions as ``fault`` and starts every
station safe: offline, then idle, no load commanded, the racks at zero.

The demo's racks live in the killed process, so the restarted controller meets new
emulated racks on the same kind of link.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from controller.store.db import open_reader
from tests.controller.mqtt.conftest import free_port, wait_for_port
from tests.controller.mqtt.test_bridge import Inbox, subscriber

from .rig import S, committed_reps, emulated_site, in_state, wait_for

ROOT = Path(__file__).resolve().parents[2]


def in_a_set(inbox: Inbox) -> bool:
    """Some station's latest state is ``set_active`` and it has reps in that set."""
    latest: dict[str, str] = {}
    for topic, payload, _ in inbox.messages:
        if topic.endswith("/state"):
            latest[topic.split("/")[3]] = payload["state"]
    reps = {p["station_id"] for p in inbox.on("/rep")}
    return any(state == "set_active" and sid in reps for sid, state in latest.items())


async def test_sigkill_mid_set_loses_no_committed_rep_and_restarts_safe(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    mqtt_port = free_port()
    log = (tmp_path / "demo.log").open("wb")
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller.cli",
        "demo",
        "--stations",
        "2",
        "--mqtt-port",
        str(mqtt_port),
        "--db",
        str(db),
        "--no-panel",
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    try:
        await asyncio.to_thread(wait_for_port, mqtt_port, timeout=60)
        async with subscriber(None, "gymctl/demo/#", port=mqtt_port) as inbox:
            await wait_for(
                lambda: len(inbox.on("/rep")) >= 8 and in_a_set(inbox),
                within=120,
                what="reps over MQTT and a station in the middle of a set",
            )
            before = await asyncio.to_thread(committed_reps, db)
            child.send_signal(signal.SIGKILL)
            await asyncio.wait_for(child.wait(), 10)
            seen = {(str(p["set_id"]), int(p["rep_index"])) for p in inbox.on("/rep")}
        assert child.returncode == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await asyncio.wait_for(child.wait(), 10)
        log.close()

    integrity = await asyncio.to_thread(_integrity, db)
    assert integrity == "ok"
    after = await asyncio.to_thread(committed_reps, db)
    assert len(before) >= 4
    assert before <= after, f"committed reps lost: {sorted(before - after)}"
    assert seen <= after, f"reps seen over MQTT but not stored: {sorted(seen - after)}"
    print(
        f"\nSIGKILL mid-set: {len(before)} reps committed before the kill, {len(after)} after, "
        f"{len(seen)} seen over MQTT, all of them stored; integrity_check {integrity}"
    )

    # a new controller on the same file
    async with emulated_site(
        tmp_path, kinds=("rack", "rack"), db_path=db, athletes=False, seed_history=False
    ) as site:
        gym = site.gym
        for station_id in ("rack-1", "rack-2"):
            runtime = gym.runtime(station_id)
            await wait_for(in_state(runtime, S.IDLE), within=20, what=f"{station_id} idle")
            envelope = runtime.station.drive.envelope
            assert envelope is not None
            assert envelope.level is None  # no load commanded: the safe state
            emulator = site.world.racks[station_id]
            assert emulator.state.actual_load_kg == 0.0
            assert emulator.state.target_load_kg == 0.0
            states = [(e.before, e.after) for e in site.recorder.states(station_id)]
            assert states[0] == (S.OFFLINE, S.IDLE)
        rows = await gym.store.reader.query("SELECT * FROM sessions")
        assert rows
        assert all(r["status"] != "running" for r in rows)
        assert any(r["status"] == "fault" and r["summary"]["interrupted"] for r in rows)
        again = await gym.store.reader.query("SELECT count(*) AS n FROM reps")
        assert again[0]["n"] == len(after)


def _integrity(db: Path) -> str:
    conn = open_reader(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()
