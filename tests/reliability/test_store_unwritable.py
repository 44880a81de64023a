"""The database becoming unwritable while stations train: a full disk.

The site's SQLite file lives on a small tmpfs (a real file system: the kernel answers
ENOSPC, SQLite says "database or disk is full"); a ballast file takes the free space while
two racks train. Then: a critical ``store_unwritable`` alert on the bus, an error in the
log, the health the panel shows says the store is not writable, every station goes to its
safe state (the racks' loads to zero), nothing committed is lost (a read-only connection
reads every rep it read before), and when the space comes back every event queued
meanwhile is written, the alarm clears and the stations train again.

Without root (no tmpfs), the same fault comes from the store's size quota
(``PRAGMA max_page_count``: SQLITE_FULL, the same error).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from controller.events import AlertSeverity, DecisionEvent, RepEvent
from controller.store.db import open_reader
from controller.store.writer import TraceRecord

from .rig import EmulatedSite, S, committed_reps, emulated_site, in_state, unloaded, wait_for


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path | None]:
    """A 48 MiB tmpfs, or None where this cannot be mounted (the quota is used then)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path: Path) -> int:
    """Write zeros to ``path`` until the file system is full; the bytes written."""
    written = 0
    chunk = b"\0" * (1 << 20)
    with path.open("wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 4]
    return written


def bus_reps(site: EmulatedSite) -> set[tuple[str, int]]:
    return {(e.set_id, e.rep_index) for e in site.recorder.events(RepEvent)}


async def test_a_full_disk_alarms_puts_stations_safe_and_loses_nothing(
    tmp_path: Path, disk: Path | None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    db = (disk or tmp_path) / "site.db"
    ballast = (disk or tmp_path) / "ballast"
    async with emulated_site(tmp_path, kinds=("rack", "rack"), db_path=db) as site:
        gym, store = site.gym, site.gym.store
        await wait_for(
            lambda: (
                len(site.recorder.events(RepEvent)) >= 4
                and any(rt.state is S.SET_ACTIVE for rt in gym.runtimes.values())
            ),
            within=120,
            what="reps, and a station in a set",
        )
        await store.writer.flush()
        before = await asyncio.to_thread(committed_reps, db)
        # the disk fills up (or, without tmpfs, the quota is reached)
        started = time.monotonic()
        if disk is not None:
            await asyncio.to_thread(fill, ballast)
        else:
            size_mb = (db.stat().st_size >> 20) + 1
            store.writer.set_size_limit(size_mb)
        rng = np.random.default_rng(3)

        def unwritable() -> bool:
            return bool(site.recorder.alerts("store_unwritable"))

        async with asyncio.timeout(60):
            while not unwritable():
                # incompressible traces, as sets' raw data would keep coming
                store.writer.record_trace(
                    TraceRecord("rack-1-rack", "position", 0.0, 0.001, rng.random(25_000))
                )
                await asyncio.sleep(0.05)
        alarm = site.recorder.alerts("store_unwritable")[0]
        print(f"\nstore unwritable: alarm {time.monotonic() - started:.2f} s after the disk filled")
        assert alarm.severity is AlertSeverity.CRITICAL
        assert "full" in alarm.message
        assert any("store_unwritable" in r.getMessage() for r in caplog.records)
        await wait_for(lambda: "store_unwritable" in gym.alarms, within=5, what="the site alarm")
        health = gym.health()
        assert health.store_writable is False
        assert "store_unwritable" in health.details["alarms"]

        # every station safe, the racks unloaded
        for station_id, runtime in gym.runtimes.items():
            await wait_for(
                in_state(runtime, S.FAULT),
                within=2,
                what=f"{station_id} in its safe state",
            )
            envelope = runtime.station.drive.envelope
            assert envelope is not None
            assert envelope.level is None
            emulator = site.world.racks[station_id]
            await wait_for(
                unloaded(emulator),
                within=2,
                what=f"{station_id}'s rack unloaded",
            )
        # what was committed is intact and readable meanwhile
        during = await asyncio.to_thread(committed_reps, db)
        assert before <= during
        await asyncio.sleep(1.0)
        assert all(rt.state is S.FAULT for rt in gym.runtimes.values())  # held while unwritable

        # space comes back: the held writes go in, the alarm clears, training resumes
        if disk is not None:
            ballast.unlink()
        else:
            store.writer.set_size_limit(None)
        await asyncio.wait_for(store.writer.flush(), 30)
        await wait_for(lambda: "store_unwritable" not in gym.alarms, within=10, what="cleared")
        assert gym.health().store_writable
        cleared = [a for a in site.recorder.alerts("store_unwritable") if a.cleared]
        assert cleared
        await wait_for(
            lambda: all(rt.state is not S.FAULT for rt in gym.runtimes.values()),
            within=20,
            what="the stations recover",
        )
        await store.writer.flush()
        stored = await asyncio.to_thread(committed_reps, db)
        expected = bus_reps(site)
        assert expected <= stored, f"reps lost: {sorted(expected - stored)}"
        # what happened while nothing could be written was held, and is stored now
        safe = [
            d for d in site.recorder.events(DecisionEvent) if d.decision.rule == "fault_safe_state"
        ]
        rows = await gym.store.reader.query(
            "SELECT count(*) AS n FROM decisions WHERE rule = 'fault_safe_state'"
        )
        assert len(safe) >= 2
        assert rows[0]["n"] == len(safe)
        faults = await gym.store.reader.query(
            "SELECT count(*) AS n FROM station_events WHERE to_state = 'fault'"
        )
        assert faults[0]["n"] >= 2
        print(
            f"store unwritable: {len(before)} reps committed before, {len(expected)} on the bus, "
            f"{len(stored)} stored after recovery; {len(safe)} safe-state decisions made while "
            "unwritable stored afterwards; none lost"
        )
    conn = open_reader(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
