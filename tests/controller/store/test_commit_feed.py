"""The writer hands committed events back to the loop (what the MQTT bridge publishes)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

from controller.events import Alert, AlertSeverity, Event, RepEvent
from controller.store.writer import StoreWriter

from .conftest import rep, rows
from .test_writer import Alerts, fill_until_unwritable, quota_writer


class Committed:
    """The ``on_commit`` listener: each batch, and the reps stored when it came."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batches: list[list[Event]] = []
        self.stored_then: list[int] = []

    def __call__(self, events: Sequence[Event]) -> None:
        self.batches.append(list(events))
        self.stored_then.append(rows(self.path, "SELECT count(*) FROM reps")[0][0])

    def reps(self) -> list[int]:
        return [e.rep_index for b in self.batches for e in b if isinstance(e, RepEvent)]


async def test_committed_events_come_back_in_order_after_their_commit(db_path: Path) -> None:
    async with StoreWriter(db_path, commit_interval_s=0.05) as writer:
        committed = Committed(db_path)
        writer.on_commit = committed
        for n in range(7):
            writer.record(rep(n))
            await asyncio.sleep(0.02)  # over several batches
        await writer.flush()
        # handed back before the flush resolved, in order, each batch once it was stored
        assert committed.reps() == list(range(7))
        assert len(committed.batches) >= 2
        seen = 0
        for batch, stored in zip(committed.batches, committed.stored_then, strict=True):
            seen += len(batch)
            assert stored >= seen


async def test_a_skipped_write_is_not_handed_back(db_path: Path) -> None:
    alerts = Alerts()
    good = Alert(station_id=None, severity=AlertSeverity.INFO, code="a", message="kept")
    # a NaN time is stored as NULL, which the NOT NULL column refuses
    bad = dataclasses.replace(good, code="b", ts=float("nan"))
    async with StoreWriter(db_path, on_alert=alerts, commit_interval_s=0.05) as writer:
        committed = Committed(db_path)
        writer.on_commit = committed
        for event in (rep(0), bad, good, rep(1)):
            writer.record(event)
        await writer.flush()
    assert [a.code for a in alerts] == ["store_write_failed"]
    handed = [e for batch in committed.batches for e in batch]
    assert bad not in handed
    assert good in handed
    assert committed.reps() == [0, 1]
    assert rows(db_path, "SELECT code FROM alerts") == [("a",)]


async def test_events_held_while_unwritable_come_back_after_the_commit(db_path: Path) -> None:
    alerts = Alerts()
    async with quota_writer(db_path, alerts) as writer:
        committed = Committed(db_path)
        writer.on_commit = committed
        await fill_until_unwritable(writer, alerts)
        for n in range(5):
            writer.record(rep(n))
        flushing = asyncio.ensure_future(writer.flush())
        await asyncio.sleep(0.3)
        assert committed.reps() == []  # held with the store, not handed on
        writer.set_size_limit(None)
        await asyncio.wait_for(flushing, 10.0)
        assert committed.reps() == [0, 1, 2, 3, 4]
        assert committed.stored_then[-1] == 5
