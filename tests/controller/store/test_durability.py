from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from controller.store.reader import StoreReader
from controller.store.writer import StoreWriter

from .conftest import rep, rows

ROOT = Path(__file__).resolve().parents[3]


def run_and_kill(path: Path, *, after: int) -> int:
    """Start the writing child, SIGKILL it once it reported ``after`` reps committed."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.controller.store.writer_child", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    committed = 0
    try:
        assert child.stdout is not None
        for line in child.stdout:
            committed = int(line.split()[1])
            if committed >= after:
                os.kill(child.pid, signal.SIGKILL)
                break
        else:
            raise AssertionError(
                f"child ended early: {child.stderr.read() if child.stderr else ''}"
            )
    finally:
        child.kill()
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    return committed


async def test_every_committed_rep_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "gym.db"
    committed = run_and_kill(path, after=700)
    assert (tmp_path / "gym.db-wal").exists()  # killed mid-flight: the WAL was not cleaned up
    # reopen as the restarted controller would: integrity, then every reported rep is there
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]
    stored = rows(path, "SELECT set_id, rep_index FROM reps")
    keys = {(str(s), int(r)) for s, r in stored}
    for n in range(committed):
        expected = rep(n, session=f"ses-{n // 1000}")
        assert (expected.set_id, expected.rep_index) in keys, f"rep {n} was committed but is lost"
    assert len(stored) >= committed
    # a second run on the same file carries on, and a third kill still loses nothing
    again = run_and_kill(path, after=100)
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]
    assert len(rows(path, "SELECT 1 FROM reps")) >= max(committed, again)
    # and the writer opens it normally afterwards
    async with StoreWriter(path) as writer:
        writer.record(rep(10_000, session="after"))
        await writer.flush()
    assert (await StoreReader(path).reps(session_id="after"))[0]["rep_index"] == 0
