"""The panel's reads that ``StoreReader`` does not have, built on its ``query``/``read``.

Each opens its own read-only snapshot in a worker thread (never on the event loop) and
returns plain dicts for templates and JSON. The ``*_in`` functions take the connection of
a read already running, so that an endpoint needing several makes one thread hop
(``reader.read``) for all of them: under load, each hop waits for the GIL twice.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from controller.store import StoreReader
from controller.store.reader import fetch_rows
from controller.store.retention import DAY_S
from controller.store.settings import read_overrides
from kernels.errors import InvalidInputError
from kernels.lvp import LoadVelocityProfile
from web_ui.lvp import (
    E1rmPoint,
    ages_days,
    e1rm_history,
    estimated_1rm,
    fit_load_velocity,
    mvt_for,
)

Row = dict[str, Any]
#: Readiness components' keys that describe the score as a whole, not one component.
_META_KEYS = frozenset({"state", "confidence", "reasons", "baseline", "note", "components"})


def today() -> str:
    return dt.date.today().isoformat()


def day_minus(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) - dt.timedelta(days=days)).isoformat()


# -- athletes and readiness -------------------------------------------------------------


async def athletes_overview(reader: StoreReader, *, with_readiness: bool) -> list[Row]:
    """Every athlete; with their latest readiness score when the viewer may see it."""
    return await reader.read(partial(athletes_overview_in, with_readiness=with_readiness))


def athletes_overview_sql(*, with_readiness: bool) -> str:
    if not with_readiness:
        return "SELECT id, display_name, external_ref FROM athletes ORDER BY display_name, id"
    return (
        "SELECT a.id, a.display_name, a.external_ref, r.day, r.score, "
        "r.components_json FROM athletes a LEFT JOIN readiness_scores r ON r.id = ("
        "SELECT id FROM readiness_scores WHERE athlete_id = a.id ORDER BY day DESC, ts DESC "
        "LIMIT 1) ORDER BY a.display_name, a.id"
    )


def athletes_overview_in(conn: sqlite3.Connection, *, with_readiness: bool) -> list[Row]:
    return fetch_rows(conn, athletes_overview_sql(with_readiness=with_readiness))


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReadinessView:
    """One day's readiness as the athlete page shows it."""

    day: str
    score: float
    state: str | None
    confidence: float | None
    components: list[Component]
    reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "score": self.score,
            "state": self.state,
            "confidence": self.confidence,
            "components": [
                {"name": c.name, "reason": c.reason, "details": c.details} for c in self.components
            ],
            "reasons": self.reasons,
        }


def readiness_view(row: Row) -> ReadinessView:
    """Read a ``readiness_scores`` row: each component with its reason as stored.

    ``components`` is the readiness profile's dict: one entry per component (a dict with at
    least ``reason``, or a plain value), plus optional ``state``, ``confidence`` and
    ``reasons`` for the score as a whole. A nested ``components`` dict is read the same way.
    """
    raw = row.get("components") or {}
    if not isinstance(raw, dict):
        raw = {}
    nested = raw.get("components")
    entries: dict[str, Any] = nested if isinstance(nested, dict) else raw
    components = []
    for name, value in entries.items():
        if name in _META_KEYS:
            continue
        if isinstance(value, dict):
            reason = str(value.get("reason", ""))
            details = {k: v for k, v in value.items() if k != "reason"}
        else:
            reason, details = "", {"value": value}
        components.append(Component(str(name), reason, details))
    state = raw.get("state")
    confidence = raw.get("confidence")
    reasons = raw.get("reasons")
    return ReadinessView(
        day=str(row["day"]),
        score=float(row["score"]),
        state=str(state) if state is not None else None,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        components=components,
        reasons=[str(r) for r in reasons] if isinstance(reasons, list) else [],
    )


def latest_readiness_in(conn: sqlite3.Connection, athlete_id: str) -> ReadinessView | None:
    rows = fetch_rows(
        conn,
        "SELECT * FROM readiness_scores WHERE athlete_id = ? ORDER BY day DESC, ts DESC LIMIT 1",
        [athlete_id],
    )
    return readiness_view(rows[0]) if rows else None


async def latest_readiness(reader: StoreReader, athlete_id: str) -> ReadinessView | None:
    return await reader.read(lambda conn: latest_readiness_in(conn, athlete_id))


def readiness_trend_in(conn: sqlite3.Connection, athlete_id: str, *, days: int = 60) -> Row:
    """Per day of the last ``days``: the readiness score and the morning lnRMSSD."""
    end = today()
    since = day_minus(end, days - 1)
    # two columns, not whole rows: a score row's components (JSON) are not shown here
    score: dict[str, float] = {
        day: float(value)  # ordered by day, ts: the last of a day wins
        for day, value in conn.execute(
            "SELECT day, score FROM readiness_scores WHERE athlete_id = ? AND day >= ? "
            "ORDER BY day, ts",
            (athlete_id, since),
        )
    }
    hrv: dict[str, float] = {
        day: float(value)
        for day, value in conn.execute(
            "SELECT day, value FROM readiness_inputs WHERE athlete_id = ? AND day >= ? "
            "AND kind = 'ln_rmssd' ORDER BY day, ts",
            (athlete_id, since),
        )
    }
    all_days = [day_minus(end, n) for n in range(days - 1, -1, -1)]
    return {
        "days": all_days,
        "score": [score.get(d) for d in all_days],
        "ln_rmssd": [hrv.get(d) for d in all_days],
    }


async def readiness_trend(reader: StoreReader, athlete_id: str, *, days: int = 60) -> Row:
    return await reader.read(lambda conn: readiness_trend_in(conn, athlete_id, days=days))


# -- load-velocity profile and e1RM ----------------------------------------------------------


def _fit_json(fit: LoadVelocityProfile | None) -> Row | None:
    if fit is None:
        return None
    return {"intercept": fit.intercept, "slope": fit.slope, "r2": fit.r2, "n": fit.n_points}


def _history_json(history: list[E1rmPoint]) -> list[Row]:
    return [{"day": h.day, "e1rm": h.e1rm, "n": h.n, "r2": h.r2} for h in history]


async def lv_profiles(reader: StoreReader, athlete_id: str) -> dict[str, Row]:
    """Per exercise: the points, the fitted line, today's e1RM and its history."""
    points = await reader.lv_points(athlete_id)
    by_exercise: dict[str, list[Row]] = defaultdict(list)
    for point in points:
        by_exercise[point["exercise"]].append(point)
    out: dict[str, Row] = {}
    for exercise in sorted(by_exercise):
        rows = by_exercise[exercise]
        mvt, known = mvt_for(exercise)
        try:
            fit: LoadVelocityProfile | None = fit_load_velocity(
                [float(r["load"]) for r in rows],
                [float(r["velocity_ms"]) for r in rows],
                mvt_ms=mvt,
                ages_days=ages_days(rows),
            )
        except InvalidInputError:
            fit = None
        e1rm = estimated_1rm(fit) if fit is not None else None
        out[exercise] = {
            "exercise": exercise,
            "unit": "kg",
            "points": [
                {"load": float(r["load"]), "velocity_ms": float(r["velocity_ms"]), "ts": r["ts"]}
                for r in rows
            ],
            "fit": _fit_json(fit),
            "mvt_ms": mvt,
            "mvt_known": known,
            "e1rm": round(e1rm, 1) if e1rm is not None else None,
            "history": _history_json(e1rm_history(rows, mvt_ms=mvt)),
        }
    return out


# -- sessions, plans --------------------------------------------------------------------


async def session_history(reader: StoreReader, athlete_id: str, *, limit: int = 30) -> list[Row]:
    return await reader.read(lambda conn: session_history_in(conn, athlete_id, limit=limit))


def session_history_in(conn: sqlite3.Connection, athlete_id: str, *, limit: int = 30) -> list[Row]:
    return fetch_rows(
        conn,
        "SELECT s.id, s.station_id, s.plan_id, s.started, s.ended, s.status, "
        "(SELECT count(*) FROM sets WHERE session_id = s.id) AS n_sets, "
        "(SELECT count(*) FROM reps WHERE session_id = s.id) AS n_reps, "
        "(SELECT max(best_velocity_ms) FROM sets WHERE session_id = s.id) AS best_velocity_ms, "
        "(SELECT group_concat(DISTINCT exercise) FROM sets WHERE session_id = s.id) "
        "AS exercises FROM sessions s WHERE s.athlete_id = ? ORDER BY s.started DESC LIMIT ?",
        [athlete_id, limit],
    )


async def plans(reader: StoreReader, *, archived: bool = False) -> list[Row]:
    return await reader.query(
        "SELECT p.id, p.name, p.version, p.updated, p.created_by, p.archived, p.body_json, "
        "(SELECT count(*) FROM plan_assignments a WHERE a.plan_id = p.id) AS n_assigned "
        "FROM plans p WHERE p.archived = ? ORDER BY p.name",
        [int(archived)],
    )


async def plan(reader: StoreReader, plan_id: str) -> Row:
    return await reader.one("SELECT * FROM plans WHERE id = ?", [plan_id], f"plan {plan_id!r}")


async def assignments(
    reader: StoreReader, *, athlete_id: str | None = None, plan_id: str | None = None
) -> list[Row]:
    return await reader.read(
        lambda conn: assignments_in(conn, athlete_id=athlete_id, plan_id=plan_id)
    )


def assignments_in(
    conn: sqlite3.Connection, *, athlete_id: str | None = None, plan_id: str | None = None
) -> list[Row]:
    clauses, params = [], []
    if athlete_id is not None:
        clauses.append("a.athlete_id = ?")
        params.append(athlete_id)
    if plan_id is not None:
        clauses.append("a.plan_id = ?")
        params.append(plan_id)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return fetch_rows(
        conn,
        "SELECT a.id, a.athlete_id, a.plan_id, a.start_day, a.end_day, a.assigned_by, "
        "a.created, p.name AS plan_name, t.display_name AS athlete_name "
        "FROM plan_assignments a JOIN plans p ON p.id = a.plan_id "
        f"JOIN athletes t ON t.id = a.athlete_id{where} ORDER BY a.start_day DESC, a.id DESC",
        params,
    )


# -- data, settings, staff -----------------------------------------------------------------


async def retention_preview(
    reader: StoreReader, *, trace_days: int, readiness_days: int, now: float
) -> Row:
    """How much is held, and what a purge with these settings would delete now."""

    def run(conn: sqlite3.Connection) -> Row:
        def count(sql: str, *params: Any) -> int:
            return int(conn.execute(sql, params).fetchone()[0])

        return {
            "traces": count("SELECT count(*) FROM traces"),
            "traces_expired": count(
                "SELECT count(*) FROM traces WHERE ts < ?", now - trace_days * DAY_S
            ),
            "trace_bytes": count("SELECT coalesce(sum(length(data)), 0) FROM traces"),
            "readiness_inputs": count("SELECT count(*) FROM readiness_inputs"),
            "readiness_inputs_expired": count(
                "SELECT count(*) FROM readiness_inputs WHERE ts < ?",
                now - readiness_days * DAY_S,
            ),
        }

    return await reader.read(run)


async def setting_overrides(reader: StoreReader) -> dict[str, Any]:
    return await reader.read(read_overrides)


async def api_tokens(reader: StoreReader) -> list[Row]:
    return await reader.query(
        "SELECT t.id, t.name, t.created, t.expires, t.last_used, t.revoked, u.username, u.role "
        "FROM api_tokens t JOIN staff_users u ON u.id = t.user_id ORDER BY t.id DESC"
    )
