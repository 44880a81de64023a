"""Erasure while the store runs: the bytes are gone from the file and its write-ahead log
before ``erase_athlete`` returns, even when a reader held a snapshot for longer than
SQLite's busy timeout (a long export or history read)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from controller.errors import StoreError
from controller.store import Store
from controller.store.db import BUSY_TIMEOUT_MS

from .conftest import rows
from .test_subjects import MARKER_NAME, two_athletes


def on_disk(db_path: Path) -> bytes:
    raw = db_path.read_bytes()
    wal = db_path.with_name(db_path.name + "-wal")
    return raw + (wal.read_bytes() if wal.exists() else b"")


def hold_snapshot(db_path: Path, seconds: float) -> tuple[sqlite3.Connection, threading.Timer]:
    """A reader in the middle of a long read: its snapshot pins the write-ahead log."""
    reader = sqlite3.connect(db_path, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM reps").fetchone()
    release = threading.Timer(seconds, reader.rollback)
    release.start()
    return reader, release


@pytest.mark.slow
async def test_erase_outlasts_a_reader_longer_than_the_busy_timeout(db_path: Path) -> None:
    async with Store(db_path) as store:
        zelda, other = await two_athletes(store)
        await store.writer.flush()
        blob = rows(db_path, "SELECT data FROM traces WHERE athlete_id = ?", (zelda,))[0][0]
        held_s = BUSY_TIMEOUT_MS / 1000 + 0.6
        reader, release = hold_snapshot(db_path, held_s)
        started = time.monotonic()
        try:
            await store.erase_athlete(zelda, actor="admin")
        finally:
            release.join()
            reader.close()
        assert time.monotonic() - started >= held_s - 0.1  # it waited for the reader
        raw = await asyncio.to_thread(on_disk, db_path)  # the store still running
        assert MARKER_NAME.encode() not in raw
        assert zelda.encode() not in raw
        assert blob[:64] not in raw
        assert other.encode() in raw


async def test_an_erase_that_cannot_finish_says_so_and_the_next_checkpoint_does(
    db_path: Path,
) -> None:
    async with Store(db_path, erase_checkpoint_s=0.3) as store:
        zelda, _ = await two_athletes(store)
        await store.writer.flush()
        reader, release = hold_snapshot(db_path, 1.0)
        try:
            with pytest.raises(StoreError, match="readers held the write-ahead log"):
                await store.erase_athlete(zelda, actor="admin")
            assert rows(db_path, "SELECT count(*) FROM athletes WHERE id = ?", (zelda,)) == [(0,)]
        finally:
            release.join()
            reader.close()
        await store.purge_expired()  # the retention run checkpoints too
        raw = await asyncio.to_thread(on_disk, db_path)
        assert MARKER_NAME.encode() not in raw
        assert zelda.encode() not in raw
