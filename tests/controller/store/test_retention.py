"""Retention end to end on a real database file: the settings staff stored (``site_settings``)
rule the purge even when the panel is not running, raw traces and readiness inputs past
their time go (their bytes too), and the athlete's history (reps, scores) stays."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from functools import partial
from pathlib import Path

import numpy as np

from controller.config import StoreConfig
from controller.events import ReadinessInput, ReadinessScored
from controller.store import Store, TraceRecord
from controller.store.settings import set_setting
from tests.controller.polling import eventually

from .conftest import rep, rows

DAY = 86_400.0
#: one recognisable sample value per age, so its bytes can be looked for on disk
MARK = {1: 1.25, 200: 2.5, 500: 3.75}


def trace(age_days: int, now: float) -> TraceRecord:
    return TraceRecord(
        "rack-1-rack",
        "position",
        0.0,
        0.001,
        np.full(4000, MARK[age_days]) + np.arange(4000) * 1e-3,
        athlete_id="a-ret",
        session_id=f"ses-{age_days}",
        set_id=f"set-{age_days}",
        ts=now - age_days * DAY,
    )


def readiness(age_days: int, now: float) -> ReadinessInput:
    day = (dt.date.today() - dt.timedelta(days=age_days)).isoformat()
    return ReadinessInput(
        station_id=None,
        ts=now - age_days * DAY,
        athlete_id="a-ret",
        day=day,
        kind="ln_rmssd",
        value=4.0 + age_days / 1000,
        unit="ln(ms)",
    )


def on_disk(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_stored_retention_settings_rule_the_purge_without_the_panel(tmp_path: Path) -> None:
    path = tmp_path / "gym.db"
    config = StoreConfig(trace_retention_days=90, readiness_retention_days=365)
    now = time.time()
    # a site ran with the panel: staff kept traces longer and readiness inputs shorter than
    # the config says; then data was recorded
    async with Store(path, settings=config, retention=False) as store:
        for key, value in (
            ("store.trace_retention_days", 400),
            ("store.readiness_retention_days", 30),
        ):
            await store.writer.call(partial(set_setting, key=key, value=value, by="alice"))
        for age in MARK:
            store.writer.record_trace(trace(age, now))
        store.writer.record_many(
            [
                readiness(10, now),
                readiness(60, now),
                ReadinessScored(
                    station_id=None,
                    ts=now - 60 * DAY,
                    athlete_id="a-ret",
                    day="2020-01-01",
                    score=70.0,
                ),
                rep(0, athlete="a-ret"),
            ]
        )
        await store.writer.flush()
    old_blob = rows(path, "SELECT data FROM traces WHERE set_id = 'set-500'")[0][0]
    kept_blob = rows(path, "SELECT data FROM traces WHERE set_id = 'set-200'")[0][0]
    # the controller restarts without the panel: its first purge uses the stored settings
    async with Store(path, settings=config) as store:
        await eventually(lambda: store.last_purge is not None)
        assert store.settings.trace_retention_days == 400
        assert store.settings.readiness_retention_days == 30
        purged = store.last_purge
        assert purged is not None
        assert (purged.traces, purged.readiness_inputs) == (1, 1)
        assert rows(path, "SELECT set_id FROM traces ORDER BY ts") == [("set-200",), ("set-1",)]
        assert rows(path, "SELECT count(*) FROM readiness_inputs") == [(1,)]
        # derived history stays: reps and readiness scores are the athlete's record
        assert rows(path, "SELECT count(*) FROM reps") == [(1,)]
        assert rows(path, "SELECT count(*) FROM readiness_scores") == [(1,)]
        raw = await asyncio.to_thread(on_disk, path)  # still running: file and WAL
        assert old_blob[:64] not in raw
        assert kept_blob[:64] in raw
        # a shorter setting, stored while running, applies at the next purge
        await store.writer.call(
            partial(set_setting, key="store.trace_retention_days", value=30, by="alice")
        )
        second = await store.purge_expired()
        assert second.traces == 1
        assert rows(path, "SELECT set_id FROM traces") == [("set-1",)]
        raw = await asyncio.to_thread(on_disk, path)
        assert kept_blob[:64] not in raw
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]


async def test_a_command_line_store_does_not_purge(tmp_path: Path) -> None:
    """``retention=False`` (the CLI's export and erase): nothing is deleted as a side
    effect of opening the file."""
    path = tmp_path / "gym.db"
    now = time.time()
    async with Store(path, retention=False) as store:
        store.writer.record_trace(trace(500, now))
        await store.writer.flush()
    async with Store(path, retention=False) as store:
        await asyncio.sleep(0.05)
        assert store.last_purge is None
    assert rows(path, "SELECT count(*) FROM traces") == [(1,)]
