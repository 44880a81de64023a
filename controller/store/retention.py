"""Retention: raw traces and readiness inputs are kept for a set number of days.

Derived data (reps, sets, readiness scores, the decision log) is kept: it is small and is
the athlete's history. Raw samples and the physiological inputs behind readiness are the
bulky and most sensitive part, so they expire (``store.trace_retention_days``,
``store.readiness_retention_days``). Expired web sessions go too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlite_utils import Database

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Purged:
    traces: int
    readiness_inputs: int
    web_sessions: int


def purge(
    db: Database,
    *,
    trace_days: int,
    readiness_days: int,
    now: float | None = None,
) -> Purged:
    """Delete what is older than the settings; runs in the writer thread."""
    now = time.time() if now is None else now
    conn = db.conn
    return Purged(
        traces=conn.execute(
            "DELETE FROM traces WHERE ts < ?", (now - trace_days * DAY_S,)
        ).rowcount,
        readiness_inputs=conn.execute(
            "DELETE FROM readiness_inputs WHERE ts < ?", (now - readiness_days * DAY_S,)
        ).rowcount,
        web_sessions=conn.execute("DELETE FROM web_sessions WHERE expires < ?", (now,)).rowcount,
    )
