from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from controller.events import RepEvent
from kernels.reps import RepMetrics


def metrics(index: int = 0, velocity: float = 0.6) -> RepMetrics:
    return RepMetrics(
        index=index,
        start_s=index * 3.0,
        end_s=index * 3.0 + 2.5,
        concentric_start_s=index * 3.0 + 1.4,
        concentric_end_s=index * 3.0 + 2.1,
        rom_m=0.55,
        mean_velocity_ms=velocity,
        mean_propulsive_velocity_ms=velocity * 1.05,
        peak_velocity_ms=velocity * 1.6,
        concentric_s=0.7,
        eccentric_s=1.1,
        time_to_peak_s=0.3,
    )


def rep(
    n: int,
    *,
    athlete: str = "a-test",
    set_id: str | None = None,
    session: str = "ses-1",
    station: str = "rack-1",
) -> RepEvent:
    return RepEvent(
        station_id=station,
        session_id=session,
        set_id=set_id or f"{session}-set-{n // 10}",
        athlete_id=athlete,
        exercise="back_squat",
        set_index=n // 10,
        rep_index=n % 10,
        load=100.0,
        unit="kg",
        metrics=metrics(n % 10, 0.8 - 0.01 * (n % 10)),
    )


def rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "gym.db"
