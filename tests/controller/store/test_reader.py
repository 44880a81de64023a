"""StoreReader's kept connections: reused per worker thread, each read its own snapshot,
closed by ``close()`` (a connection in a read by its own thread when the read ends)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from controller.errors import StoreError
from controller.store import Store, StoreReader
from controller.store.store import READ_THREADS
from tests.controller.polling import eventually

from .conftest import rep


def _connection(conn: sqlite3.Connection) -> sqlite3.Connection:
    return conn  # the object itself: an id could be reused by the next connection


async def test_a_thread_keeps_its_connection_and_sees_every_commit(db_path: Path) -> None:
    async with Store(db_path) as store:
        reader = store.reader
        first = reader.read_sync(_connection)
        assert reader.read_sync(_connection) is first  # kept: the same connection
        assert reader.read_sync(lambda c: c.in_transaction) is True  # a read is a snapshot
        for n in range(5):
            store.writer.record(rep(n))
        await store.writer.flush()
        # the kept connection held no snapshot between reads: it sees the commit
        assert len(reader.read_sync(lambda c: c.execute("SELECT * FROM reps").fetchall())) == 5
        assert reader.read_sync(lambda c: c.in_transaction) is True
        other = await asyncio.to_thread(reader.read_sync, _connection)
        assert other is not first  # another thread, its own connection
    # the store closed its reader: its kept connections are closed, reads still work
    assert reader._kept == {}
    assert len(await reader.reps()) == 5


def test_close_leaves_a_connection_in_a_read_to_its_thread(db_path: Path) -> None:
    async def create() -> None:
        async with Store(db_path):
            pass

    asyncio.run(create())
    reader = StoreReader(db_path)
    inside, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def slow(conn: sqlite3.Connection) -> int:
        inside.set()
        assert release.wait(10.0)
        return int(conn.execute("SELECT count(*) FROM reps").fetchone()[0])

    worker = threading.Thread(target=lambda: seen.append(reader.read_sync(slow)))
    worker.start()
    assert inside.wait(10.0)
    idle = reader.read_sync(_connection)  # this thread's connection is idle
    reader.close()  # must not close the worker's connection under its read
    release.set()
    worker.join(10.0)
    assert seen == [0]
    assert reader._kept == {}
    assert reader._busy == set()
    assert reader.read_sync(_connection) is not idle  # closed: a fresh connection per read


def test_a_failed_read_drops_its_connection(db_path: Path) -> None:
    async def create() -> None:
        async with Store(db_path):
            pass

    asyncio.run(create())
    reader = StoreReader(db_path)
    before = reader.read_sync(_connection)
    with pytest.raises(StoreError, match="read failed"):
        reader.read_sync(lambda c: c.execute("DELETE FROM reps"))
    assert reader.read_sync(_connection) is not before
    reader.close()


async def test_the_stores_reads_run_in_its_own_few_threads_which_close_ends(
    db_path: Path,
) -> None:
    in_read: set[str] = set()
    most = 0
    gate = threading.Event()

    def slow(conn: sqlite3.Connection) -> str:
        nonlocal most
        name = threading.current_thread().name
        in_read.add(name)
        most = max(most, len(in_read))
        gate.wait(0.2)  # the others pile up meanwhile
        in_read.discard(name)
        return name

    async with Store(db_path) as store:
        names = await asyncio.gather(*(store.reader.read(slow) for _ in range(6)))
        assert {n.rsplit("_", 1)[0] for n in names} == {"store-read"}
        assert most == READ_THREADS  # at most that many turn rows into objects at once
    # the store closed its reader: its threads end once their reads are done
    await eventually(
        lambda: not any(t.name.startswith("store-read") for t in threading.enumerate())
    )
    assert await StoreReader(db_path).read(lambda c: 1) == 1  # a bare reader: default executor
