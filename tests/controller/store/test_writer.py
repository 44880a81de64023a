from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from controller.cues import stop_cue
from controller.errors import StoreError, StoreUnwritableError
from controller.events import (
    Alert,
    AlertSeverity,
    CommandEvent,
    CommandOutcome,
    CommandSource,
    CueEvent,
    DecisionEvent,
    LoadVelocityPoint,
    ReadinessInput,
    ReadinessScored,
    SessionEnded,
    SessionStarted,
    SetEvent,
    SetStop,
    StationStateChanged,
    Telemetry,
)
from controller.states import StationState
from controller.store.db import is_unwritable
from controller.store.reader import StoreReader
from controller.store.records import Insert
from controller.store.writer import StoreWriter, TraceRecord
from plans.decisions import Decision, DecisionKind

from .conftest import rep, rows


class Alerts(list[Alert]):
    def __call__(self, alert: Alert) -> None:
        self.append(alert)

    def codes(self) -> list[tuple[str, bool]]:
        return [(a.code, a.cleared) for a in self]


async def test_every_recorded_event_lands_in_its_table(db_path: Path) -> None:
    decision = Decision(
        DecisionKind.AUTOREGULATION,
        "load_kg",
        100.0,
        97.5,
        "vl_band",
        "velocity fell 22 %",
        {"velocity_loss_pct": 22.0, "nan": float("nan")},
    )
    events = [
        StationStateChanged(
            station_id="rack-1",
            before=StationState.IDLE,
            after=StationState.CHECKED_IN,
            reason="check-in",
            athlete_id="a-1",
        ),
        SessionStarted(station_id="rack-1", session_id="ses-1", athlete_id="a-1", plan_id="p"),
        rep(0, athlete="a-1"),
        rep(1, athlete="a-1"),
        SetEvent(
            station_id="rack-1",
            session_id="ses-1",
            set_id="ses-1-set-0",
            athlete_id="a-1",
            exercise="back_squat",
            set_index=0,
            load=100.0,
            unit="kg",
            reps=2,
            stop=SetStop.VELOCITY_LOSS,
            started_ts=1.0,
            velocity_loss_pct=21.0,
        ),
        DecisionEvent(station_id="rack-1", decision=decision, athlete_id="a-1", session_id="ses-1"),
        CommandEvent(
            station_id="rack-1",
            source=CommandSource.MQTT,
            verb="load",
            outcome=CommandOutcome.CLAMPED,
            reason="ceiling",
            requested=300.0,
            target=121.0,
            by="coach-app",
        ),
        Alert(
            station_id="rack-1",
            severity=AlertSeverity.CRITICAL,
            code="stale_data",
            message="no data for 300 ms",
        ),
        LoadVelocityPoint(
            station_id="rack-1",
            athlete_id="a-1",
            exercise="back_squat",
            load=100.0,
            velocity_ms=0.62,
        ),
        ReadinessInput(
            station_id=None,
            athlete_id="a-1",
            day="2025-03-01",
            kind="ln_rmssd",
            value=4.1,
            unit="ln(ms)",
        ),
        ReadinessScored(
            station_id=None,
            athlete_id="a-1",
            day="2025-03-01",
            score=0.93,
            components={"hrv": {"z": -0.8, "reason": "below baseline"}},
        ),
        SessionEnded(
            station_id="rack-1",
            session_id="ses-1",
            athlete_id="a-1",
            status="done",
            summary={"sets": 1},
        ),
        # not recorded: cues and telemetry
        CueEvent(station_id="rack-1", cue=stop_cue()),
        Telemetry(
            station_id="rack-1",
            device_id="d",
            channel="position",
            unit="m",
            t0=0.0,
            period=0.01,
            values=(0.1, 0.2),
        ),
    ]
    async with StoreWriter(db_path, commit_interval_s=0.01) as writer:
        writer.record_many(events)
        writer.record(rep(1, athlete="a-1"))  # a replayed rep is not doubled
        await writer.flush()
    counts = {
        t: rows(db_path, f"SELECT count(*) FROM {t}")[0][0]
        for t in (
            "station_events",
            "stations",
            "sessions",
            "reps",
            "sets",
            "decisions",
            "commands",
            "alerts",
            "lv_points",
            "readiness_inputs",
            "readiness_scores",
        )
    }
    assert counts == dict.fromkeys(counts, 1) | {"reps": 2}
    assert rows(db_path, "SELECT status, ended IS NOT NULL, summary_json FROM sessions") == [
        ("done", 1, '{"sets":1}')
    ]
    assert rows(db_path, "SELECT inputs_json, before_json, after_json FROM decisions") == [
        ('{"velocity_loss_pct":22.0,"nan":null}', "100.0", "97.5")
    ]
    assert rows(db_path, "SELECT id, state FROM stations") == [("rack-1", "checked_in")]
    reader = StoreReader(db_path)
    decisions = await reader.decisions(athlete_id="a-1")
    assert decisions[0]["inputs"] == {"velocity_loss_pct": 22.0, "nan": None}
    reps = await reader.reps(session_id="ses-1")
    assert [r["rep_index"] for r in reps] == [0, 1]
    readiness = await reader.readiness("a-1")
    assert [r["value"] for r in readiness["inputs"]] == [4.1]
    assert readiness["scores"][0]["components"]["hrv"]["z"] == -0.8
    inputs_only = await reader.readiness("a-1", scores=False)  # what a check-in reads
    assert inputs_only == {"inputs": readiness["inputs"], "scores": []}


async def test_flush_waits_for_the_commit_and_call_returns_results(db_path: Path) -> None:
    async with StoreWriter(db_path, commit_interval_s=5.0) as writer:
        for n in range(50):
            writer.record(rep(n))
        await asyncio.wait_for(writer.flush(), 2.0)  # a flush does not wait the interval out
        assert rows(db_path, "SELECT count(*) FROM reps") == [(50,)]
        count = await writer.call(lambda db: db.execute("SELECT count(*) FROM reps").fetchone()[0])
        assert count == 50

        def broken(db: object) -> None:
            raise ValueError("nope")

        with pytest.raises(ValueError, match="nope"):
            await writer.call(broken)
        writer.record(rep(50))
        await writer.flush()
    assert rows(db_path, "SELECT count(*) FROM reps") == [(51,)]


async def test_a_wrong_write_is_skipped_loudly_and_the_rest_commits(db_path: Path) -> None:
    alerts = Alerts()
    async with StoreWriter(db_path, on_alert=alerts, commit_interval_s=0.05) as writer:
        writer.record(rep(0))
        writer.write(Insert("reps", {"set_id": "x"}))  # NOT NULL columns missing
        writer.write(Insert("no_such_table", {"x": 1}))
        writer.record(rep(1))
        await writer.flush()
        assert writer.stats().failed == 2
    assert rows(db_path, "SELECT rep_index FROM reps ORDER BY rep_index") == [(0,), (1,)]
    assert [a.code for a in alerts] == ["store_write_failed", "store_write_failed"]
    assert "NOT NULL constraint failed: reps" in alerts[0].message
    assert "no table 'no_such_table'" in alerts[1].message


@pytest.mark.parametrize("plain", [True, False], ids=["python-floats", "numpy-scalars"])
async def test_a_rep_with_a_nan_is_refused_loudly_but_a_replayed_rep_quietly(
    db_path: Path, plain: bool
) -> None:
    """A duplicate is skipped; a NaN (stored as NULL in a NOT NULL column) is not lost
    without a word, as INSERT OR IGNORE would have it."""
    alerts = Alerts()
    good = rep(0)
    velocity = float("nan") if plain else np.float64("nan")
    broken = dataclasses.replace(
        rep(1), metrics=dataclasses.replace(rep(1).metrics, mean_velocity_ms=velocity)
    )
    async with StoreWriter(db_path, on_alert=alerts, commit_interval_s=0.05) as writer:
        for event in (good, good, broken, rep(2)):
            writer.record(event)
        await writer.flush()
        assert writer.stats().failed == 1
    assert rows(db_path, "SELECT rep_index FROM reps ORDER BY rep_index") == [(0,), (2,)]
    assert [a.code for a in alerts] == ["store_write_failed"]
    assert "NOT NULL constraint failed: reps.mean_velocity_ms" in alerts[0].message


async def test_traces_are_compressed_and_read_back(db_path: Path) -> None:
    position = np.sin(np.linspace(0, 20, 5000)) * 0.3 + 0.5
    imu = np.random.default_rng(1).normal(size=(200, 6))
    async with StoreWriter(db_path) as writer:
        writer.record_trace(
            TraceRecord(
                "rack-1-rack", "position", 12.5, 0.001, position, athlete_id="a-1", set_id="s-1"
            )
        )
        writer.record_trace(TraceRecord("band-1-band", "imu", 3.0, 0.01, imu, set_id="s-1"))
        await writer.flush()
    stored = await StoreReader(db_path).traces(set_id="s-1")
    (_, got_imu), (row_pos, got_pos) = stored
    assert (row_pos["n_samples"], row_pos["width"], row_pos["t0"]) == (5000, 1, 12.5)
    np.testing.assert_allclose(got_pos, position, atol=1e-6)
    assert got_imu.shape == (200, 6)
    np.testing.assert_allclose(got_imu, imu, rtol=1e-6, atol=1e-6)
    blob = rows(db_path, "SELECT length(data) FROM traces WHERE channel = 'position'")[0][0]
    assert isinstance(blob, int)
    assert blob < 5000 * 4  # compressed


def integrity(path: Path) -> str:
    return str(rows(path, "PRAGMA integrity_check")[0][0])


async def fill_until_unwritable(writer: StoreWriter, alerts: Alerts) -> int:
    """Queue incompressible traces until the writer reports it cannot write."""
    rng = np.random.default_rng(7)
    for queued in range(1, 401):
        writer.record_trace(TraceRecord("rack-1-rack", "position", 0.0, 0.001, rng.random(25_000)))
        await asyncio.sleep(0.02)
        if ("store_unwritable", False) in alerts.codes():
            return queued
    raise AssertionError("the store never became unwritable")


def quota_writer(db_path: Path, alerts: Alerts) -> StoreWriter:
    """A writer with a 2 MB quota (SQLITE_FULL when reached) that retries quickly."""
    return StoreWriter(
        db_path,
        on_alert=alerts,
        max_size_mb=2,
        commit_interval_s=0.01,
        retry_s=0.05,
        retry_max_s=0.2,
    )


async def test_a_full_quota_raises_the_alarm_keeps_everything_and_recovers(db_path: Path) -> None:
    alerts = Alerts()
    async with quota_writer(db_path, alerts) as writer:
        for n in range(100):
            writer.record(rep(n))
        await writer.flush()
        queued = await fill_until_unwritable(writer, alerts)
        assert not writer.writable
        assert alerts[0].severity is AlertSeverity.CRITICAL
        assert "database or disk is full" in alerts[0].message
        flushing = asyncio.ensure_future(writer.flush())
        await asyncio.sleep(0.3)
        assert not flushing.done()  # held, not dropped
        # committed data is intact while the writer is stuck
        assert rows(db_path, "SELECT count(*) FROM reps") == [(100,)]
        assert integrity(db_path) == "ok"
        writer.set_size_limit(None)  # the operator frees space
        await asyncio.wait_for(flushing, 10.0)
        assert writer.stats().writable
    assert alerts.codes()[-1] == ("store_unwritable", True)
    assert rows(db_path, "SELECT count(*) FROM traces") == [(queued,)]
    assert rows(db_path, "SELECT count(*) FROM reps") == [(100,)]
    assert integrity(db_path) == "ok"


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MiB file system (tmpfs): a full disk is ENOSPC from the kernel."""
    if not _can_mount():
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {result.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def test_a_real_full_disk_raises_the_alarm_and_loses_nothing(small_disk: Path) -> None:
    path = small_disk / "gym.db"
    ballast = small_disk / "ballast"
    alerts = Alerts()
    async with StoreWriter(
        path, on_alert=alerts, commit_interval_s=0.01, retry_s=0.05, retry_max_s=0.2
    ) as writer:
        for n in range(100):
            writer.record(rep(n))
        await writer.flush()
        ballast.write_bytes(b"\0" * 1_200_000)
        queued = await fill_until_unwritable(writer, alerts)
        assert "full" in alerts[0].message
        assert rows(path, "SELECT count(*) FROM reps") == [(100,)]
        flushing = asyncio.ensure_future(writer.flush())
        ballast.unlink()  # space comes back
        await asyncio.wait_for(flushing, 10.0)
    assert alerts.codes()[-1] == ("store_unwritable", True)
    assert rows(path, "SELECT count(*) FROM traces") == [(queued,)]
    assert integrity(path) == "ok"


async def test_a_read_only_file_system_is_refused_at_start_with_a_clear_error(
    small_disk: Path,
) -> None:
    path = small_disk / "gym.db"
    async with StoreWriter(path) as writer:
        writer.record(rep(0))
    remount = ["mount", "-o", "remount,ro", str(small_disk)]
    await asyncio.to_thread(subprocess.run, remount, check=True)
    with pytest.raises(StoreUnwritableError, match="cannot open the store"):
        async with StoreWriter(path):
            pass


def test_unwritable_errors_are_told_apart_from_wrong_data(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x INTEGER NOT NULL)")
    conn.commit()
    with pytest.raises(sqlite3.IntegrityError) as wrong:
        conn.execute("INSERT INTO t VALUES (NULL)")
    assert not is_unwritable(wrong.value)
    conn.close()
    ro = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as readonly:
        ro.execute("INSERT INTO t VALUES (1)")
    ro.close()
    assert is_unwritable(readonly.value)


async def test_writing_after_close_is_an_error(db_path: Path) -> None:
    async with StoreWriter(db_path) as writer:
        pass
    with pytest.raises(StoreError, match="closed"):
        writer.record(rep(0))


async def test_the_loop_does_not_wait_for_a_blocked_database(db_path: Path) -> None:
    async with StoreWriter(db_path, commit_interval_s=0.001) as writer:
        writer.record(rep(0))
        await writer.flush()
        other = sqlite3.connect(db_path, timeout=0)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            for n in range(1, 2001):
                writer.record(rep(n))  # returns at once although nothing can be written
            await asyncio.sleep(0.05)
            assert writer.backlog > 0 or writer.stats().committed == 1
            assert rows(db_path, "SELECT count(*) FROM reps") == [(1,)]
        finally:
            other.rollback()
            other.close()
        await asyncio.wait_for(writer.flush(), 15.0)
    assert rows(db_path, "SELECT count(*) FROM reps") == [(2001,)]
