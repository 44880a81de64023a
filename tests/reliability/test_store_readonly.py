"""The database's file system turning read-only while stations train.

The real fault cannot be produced here: as root, file modes do not stop writes, and the
kernel refuses ``mount -o remount,ro`` (and a bind mount's ``remount,bind,ro``) with
"mount point is busy" while a file is open for writing. So the fault is injected at the
libc boundary: ``erofs_shim.c``, compiled here with the system ``cc`` and loaded with
``LD_PRELOAD`` into the site's process only (``site_process``, the ``Gym`` of
``gymctl run`` with emulated racks and athletes), makes writes, syncs and truncations of
files under the database's directory fail with EROFS while a trigger file exists. SQLite
then answers ``SQLITE_IOERR_WRITE``/``_FSYNC`` ("disk I/O error"), as it does on a
file system remounted read-only.

Then: a critical ``store_unwritable`` alert naming the file and the error, the site's
alarm and health, every station in its safe state with its rack unloaded, and every rep
committed before still readable (by this process, which the shim does not touch). When the
trigger goes, the events held meanwhile are written, the alarm clears and the stations
train again; at the end every rep the bus carried is stored and the file is intact.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from controller.store.db import open_reader

from .rig import committed_reps, wait_for
from .site_process import SiteProcess, site_process

SHIM = Path(__file__).with_name("erofs_shim.c")


def count(db: Path, sql: str) -> int:
    conn = open_reader(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


@pytest.fixture
def shim(tmp_path: Path) -> Path:
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (cc) to build the EROFS shim")
    out = tmp_path / "erofs_shim.so"
    subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-o", str(out), str(SHIM), "-ldl"],
        check=True,
        capture_output=True,
    )
    return out


def states(site: SiteProcess) -> dict[str, str]:
    return dict(site.last.get("states", {}))


async def test_a_read_only_file_system_alarms_puts_stations_safe_and_loses_nothing(
    tmp_path: Path, shim: Path
) -> None:
    db = tmp_path / "db" / "site.db"
    db.parent.mkdir()
    trigger = tmp_path / "read-only"
    env = {
        "LD_PRELOAD": str(shim),
        "GYMCTL_EROFS_DIR": str(db.parent.resolve()),
        "GYMCTL_EROFS_TRIGGER": str(trigger),
    }
    async with site_process(tmp_path, db, env=env) as site:
        await wait_for(
            lambda: len(site.reps) >= 4 and "set_active" in states(site).values(),
            within=120,
            what="reps, and a station in a set",
        )
        await asyncio.sleep(0.3)  # two commit intervals: the reps seen so far are stored
        before = await asyncio.to_thread(committed_reps, db)
        assert before

        # the file system turns read-only
        trigger.touch()
        started = time.monotonic()
        await wait_for(lambda: bool(site.alerted("store_unwritable")), within=30, what="the alarm")
        alarm = site.alerted("store_unwritable")[0]
        print(
            f"\nread-only file system: alarm {time.monotonic() - started:.2f} s after the "
            f"fault: {alarm['message']}"
        )
        assert alarm["severity"] == "critical"
        assert str(db.resolve()) in alarm["message"]
        assert "disk I/O error" in alarm["message"]
        assert "SQLITE_IOERR" in alarm["message"]
        await wait_for(
            lambda: "store_unwritable" in site.last["alarms"], within=5, what="the site alarm"
        )
        assert site.last["store_writable"] is False
        await wait_for(
            lambda: all(s == "fault" for s in states(site).values()),
            within=2,
            what="every station in its safe state",
        )
        await wait_for(
            lambda: all(load == 0.0 for load in site.last["loads"].values()),
            within=2,
            what="every rack unloaded",
        )
        during = await asyncio.to_thread(committed_reps, db)
        assert before <= during, f"committed reps lost: {sorted(before - during)}"
        await asyncio.sleep(1.0)
        assert all(s == "fault" for s in states(site).values())  # held while read-only
        assert site.last["store_writable"] is False
        held = site.safe_decisions
        assert held >= 2  # each station's safe-state decision, waiting for the store

        # writable again: the held events go in, the alarm clears, training resumes
        trigger.unlink()
        resumed = time.monotonic()
        await wait_for(
            lambda: bool(site.alerted("store_unwritable", cleared=True)),
            within=20,
            what="the alarm clears",
        )
        cleared_s = time.monotonic() - resumed  # the writer's retry backoff (at most 5 s)
        await wait_for(
            lambda: "store_unwritable" not in site.last["alarms"] and site.last["store_writable"],
            within=5,
            what="the site alarm clears",
        )
        await wait_for(
            lambda: all(s != "fault" for s in states(site).values()),
            within=30,
            what="the stations recover",
        )
        reps_then = len(site.reps)
        await wait_for(lambda: len(site.reps) > reps_then, within=60, what="training again")
        recovered_s = time.monotonic() - resumed
    assert site.child.returncode == 0, "the site did not stop cleanly"
    stored = await asyncio.to_thread(committed_reps, db)
    expected = set(site.reps)
    assert expected <= stored, f"reps lost: {sorted(expected - stored)}"
    safe_rows = await asyncio.to_thread(
        count, db, "SELECT count(*) FROM decisions WHERE rule = 'fault_safe_state'"
    )
    assert safe_rows == site.safe_decisions
    conn = open_reader(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    print(
        f"read-only file system: {len(before)} reps committed before, {len(stored)} stored "
        f"after; {held} safe-state decisions held and stored; after the file system was "
        f"writable: held writes committed and alarm cleared in {cleared_s:.1f} s, training "
        f"again in {recovered_s:.1f} s"
    )
