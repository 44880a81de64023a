from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from controller.errors import NotFoundError
from controller.events import (
    Alert,
    AlertSeverity,
    CommandEvent,
    CommandOutcome,
    CommandSource,
    DecisionEvent,
    LoadVelocityPoint,
    ReadinessInput,
    ReadinessScored,
    SessionEnded,
    SessionStarted,
    SetEvent,
    SetStop,
    StationStateChanged,
)
from controller.states import StationState
from controller.store import Store, TraceRecord
from controller.store.people import assign_plan, audit, create_athlete, save_plan
from controller.store.subjects import athlete_tables
from plans.decisions import Decision, DecisionKind

from .conftest import rep, rows

MARKER_NAME = "Zelda Quoxworthy"


async def populate(store: Store, athlete_id: str, *, seed: int) -> None:
    """One of every kind of row an athlete can have."""
    w = store.writer
    session = f"ses-{athlete_id}"
    set_id = f"{session}-set-0"
    w.record_many(
        [
            SessionStarted(station_id="rack-1", session_id=session, athlete_id=athlete_id),
            StationStateChanged(
                station_id="rack-1",
                before=StationState.IDLE,
                after=StationState.CHECKED_IN,
                reason="in",
                athlete_id=athlete_id,
            ),
            *[rep(n, athlete=athlete_id, set_id=set_id, session=session) for n in range(3)],
            SetEvent(
                station_id="rack-1",
                session_id=session,
                set_id=set_id,
                athlete_id=athlete_id,
                exercise="back_squat",
                set_index=0,
                load=90.0,
                unit="kg",
                reps=3,
                stop=SetStop.REP_TARGET,
                started_ts=0.0,
            ),
            DecisionEvent(
                station_id="rack-1",
                athlete_id=athlete_id,
                session_id=session,
                decision=Decision(
                    DecisionKind.READINESS_ADJUSTMENT,
                    "load_kg",
                    95,
                    90,
                    "readiness",
                    "low HRV today",
                ),
            ),
            CommandEvent(
                station_id="rack-1",
                source=CommandSource.PLAN,
                verb="load",
                outcome=CommandOutcome.APPLIED,
                reason="plan",
                athlete_id=athlete_id,
            ),
            Alert(
                station_id="rack-1",
                severity=AlertSeverity.WARNING,
                code="asymmetry",
                message="left/right asymmetry",
                athlete_id=athlete_id,
            ),
            LoadVelocityPoint(
                station_id="rack-1",
                athlete_id=athlete_id,
                exercise="back_squat",
                load=90.0,
                velocity_ms=0.7,
            ),
            ReadinessInput(
                station_id=None,
                athlete_id=athlete_id,
                day="2025-01-02",
                kind="ln_rmssd",
                value=4.0,
                unit="ln(ms)",
            ),
            ReadinessScored(station_id=None, athlete_id=athlete_id, day="2025-01-02", score=0.9),
            SessionEnded(
                station_id="rack-1", session_id=session, athlete_id=athlete_id, status="done"
            ),
        ]
    )
    samples = np.random.default_rng(seed).random(3000)
    w.record_trace(
        TraceRecord(
            "rack-1-rack",
            "position",
            5.0,
            0.001,
            samples,
            athlete_id=athlete_id,
            session_id=session,
            set_id=set_id,
        )
    )
    await w.call(
        partial(
            assign_plan, athlete_id=athlete_id, plan_id="p-1", start_day="2025-01-01", by="coach"
        )
    )
    await w.call(
        partial(
            audit,
            actor="coach",
            action="athlete.update",
            target_type="athlete",
            target_id=athlete_id,
            athlete_id=athlete_id,
        )
    )
    await w.flush()


@pytest.fixture
async def store(db_path: Path) -> Store:
    return Store(db_path)


async def two_athletes(store: Store) -> tuple[str, str]:
    zelda = await store.writer.call(
        partial(create_athlete, display_name=MARKER_NAME, sex="female", body_mass_kg=61.0)
    )
    other = await store.writer.call(partial(create_athlete, display_name="Other Person"))
    await store.writer.call(partial(save_plan, plan_id="p-1", name="Strength", body={"weeks": 4}))
    await populate(store, zelda, seed=1)
    await populate(store, other, seed=2)
    return zelda, other


def athlete_table_names(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return athlete_tables(conn)
    finally:
        conn.close()


async def test_the_fixture_covers_every_athlete_table(db_path: Path, store: Store) -> None:
    """If a migration adds a table with athlete_id, populate() must learn to fill it."""
    async with store:
        zelda, _ = await two_athletes(store)
    empty = [
        t
        for t in athlete_table_names(db_path)
        if not rows(db_path, f"SELECT 1 FROM {t} WHERE athlete_id = ?", (zelda,))
    ]
    assert empty == []


async def test_export_holds_every_row_of_every_athlete_table(
    db_path: Path, store: Store, tmp_path: Path
) -> None:
    async with store:
        zelda, other = await two_athletes(store)
        dest = await store.export_athlete(zelda, tmp_path / "out" / "zelda.zip")
    with zipfile.ZipFile(dest) as zf:
        names = set(zf.namelist())
        data = json.loads(zf.read("athlete.json"))
        tables = data["tables"]
        for table in [*athlete_table_names(db_path), "athletes"]:
            key = "id" if table == "athletes" else "athlete_id"
            query = f"SELECT count(*) FROM {table} WHERE {key} = ?"
            expected = int(rows(db_path, query, (zelda,))[0][0])
            assert len(tables[table]) == expected > 0, table
            assert all(row[key] == zelda for row in tables[table]), table
            assert f"csv/{table}.csv" in names
            parsed = list(csv.DictReader(io.StringIO(zf.read(f"csv/{table}.csv").decode())))
            assert len(parsed) == expected
        assert tables["athletes"][0]["display_name"] == MARKER_NAME
        assert other not in json.dumps(data)
        (trace_csv,) = [n for n in names if n.startswith("traces/")]
        samples = list(csv.reader(io.StringIO(zf.read(trace_csv).decode())))
        assert samples[0] == ["t", "value"]
        assert len(samples) == 3001
        assert float(samples[2][0]) == pytest.approx(5.001)
    assert not list((tmp_path / "out").glob(".*partial"))


async def test_erase_is_total_and_leaves_the_others(db_path: Path, store: Store) -> None:
    async with store:
        zelda, other = await two_athletes(store)
        blob = rows(db_path, "SELECT data FROM traces WHERE athlete_id = ?", (zelda,))[0][0]
        assert isinstance(blob, bytes)
        before_other = {
            t: rows(db_path, f"SELECT count(*) FROM {t} WHERE athlete_id = ?", (other,))[0][0]
            for t in athlete_table_names(db_path)
        }
        counts = await store.erase_athlete(zelda, actor="admin")
        assert (counts["athletes"], counts["reps"], counts["traces"]) == (1, 3, 1)
        with pytest.raises(NotFoundError):
            await store.erase_athlete(zelda, actor="admin")
        with pytest.raises(NotFoundError):
            await store.reader.athlete(zelda)
    # gone from every table, every column, by schema introspection
    conn = sqlite3.connect(db_path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        cols = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
        for col in cols:
            hits = conn.execute(
                f"SELECT count(*) FROM {table} WHERE CAST({col} AS TEXT) LIKE ? "
                f"OR CAST({col} AS TEXT) LIKE ?",
                (f"%{zelda}%", f"%{MARKER_NAME}%"),
            ).fetchone()[0]
            assert hits == 0, f"{table}.{col} still holds the athlete"
    conn.close()
    after_other = {
        t: rows(db_path, f"SELECT count(*) FROM {t} WHERE athlete_id = ?", (other,))[0][0]
        for t in athlete_table_names(db_path)
    }
    assert after_other == before_other
    assert rows(
        db_path,
        "SELECT action, athlete_id, target_id FROM audit_log WHERE action = 'athlete.erase'",
    ) == [("athlete.erase", None, None)]
    # nor in the bytes of the file or its write-ahead log (secure_delete + checkpoint)
    raw = db_path.read_bytes()  # noqa: ASYNC240 - a test reading a small file
    wal = db_path.with_name(db_path.name + "-wal")
    raw += wal.read_bytes() if wal.exists() else b""
    assert MARKER_NAME.encode() not in raw
    assert zelda.encode() not in raw
    assert blob[:64] not in raw
    assert rows(db_path, "PRAGMA integrity_check") == [("ok",)]
