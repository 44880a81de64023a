"""Bus events as rows: which table each event goes to, and how (pure, no I/O).

Runs in the writer thread, so the event loop only enqueues the event itself. Replays are
harmless: reps are unique per (set, rep index) and ignored when seen again; sets, sessions
and stations are upserts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from controller.events import (
    Alert,
    CommandEvent,
    DecisionEvent,
    Event,
    LoadVelocityPoint,
    ReadinessInput,
    ReadinessScored,
    RepEvent,
    SessionEnded,
    SessionStarted,
    SetEvent,
    StationStateChanged,
)
from controller.jsonable import to_json


@dataclass(frozen=True, slots=True)
class Insert:
    """Rows for one table; ``conflict`` "ignore" or "replace" decides what a duplicate does."""

    table: str
    row: dict[str, Any]
    conflict: str | None = None


@dataclass(frozen=True, slots=True)
class Sql:
    """A statement that sqlite-utils' insert cannot express (partial upserts)."""

    sql: str
    params: tuple[Any, ...]
    label: str


Row = Insert | Sql


def rows_for(event: Event) -> list[Row]:
    """The writes that record ``event``; events the store does not keep give none."""
    match event:
        case RepEvent():
            return [_rep(event)]
        case SetEvent():
            return [_set(event)]
        case DecisionEvent():
            return [_decision(event)]
        case CommandEvent():
            return [_command(event)]
        case StationStateChanged():
            return _state(event)
        case SessionStarted():
            return [_session_started(event)]
        case SessionEnded():
            return [_session_ended(event)]
        case Alert():
            return [_alert(event)]
        case LoadVelocityPoint():
            return [_lv_point(event)]
        case ReadinessInput():
            return [_readiness_input(event)]
        case ReadinessScored():
            return [_readiness_scored(event)]
    return []


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _rep(e: RepEvent) -> Insert:
    m = e.metrics
    return Insert(
        "reps",
        {
            "set_id": e.set_id,
            "session_id": e.session_id,
            "athlete_id": e.athlete_id,
            "station_id": e.station_id,
            "exercise": e.exercise,
            "set_index": e.set_index,
            "rep_index": e.rep_index,
            "load": e.load,
            "unit": e.unit,
            "mean_velocity_ms": m.mean_velocity_ms,
            "mean_propulsive_velocity_ms": m.mean_propulsive_velocity_ms,
            "peak_velocity_ms": m.peak_velocity_ms,
            "rom_m": m.rom_m,
            "concentric_s": m.concentric_s,
            "eccentric_s": m.eccentric_s,
            "time_to_peak_s": m.time_to_peak_s,
            "mean_power_w": _finite(m.mean_power_w),
            "peak_power_w": _finite(m.peak_power_w),
            "start_s": m.start_s,
            "end_s": m.end_s,
            "velocity_loss_pct": _finite(e.velocity_loss_pct),
            "ts": e.ts,
        },
        conflict="ignore",
    )


def _set(e: SetEvent) -> Insert:
    return Insert(
        "sets",
        {
            "id": e.set_id,
            "session_id": e.session_id,
            "athlete_id": e.athlete_id,
            "station_id": e.station_id,
            "exercise": e.exercise,
            "set_index": e.set_index,
            "load": e.load,
            "unit": e.unit,
            "target_load": _finite(e.target_load),
            "target_reps": e.target_reps,
            "reps": e.reps,
            "stop": e.stop.value,
            "velocity_loss_pct": _finite(e.velocity_loss_pct),
            "best_velocity_ms": _finite(e.best_velocity_ms),
            "mean_velocity_ms": _finite(e.mean_velocity_ms),
            "started": e.started_ts,
            "ended": e.ts,
        },
        conflict="replace",
    )


def _decision(e: DecisionEvent) -> Insert:
    d = e.decision
    return Insert(
        "decisions",
        {
            "ts": e.ts,
            "station_id": e.station_id,
            "athlete_id": e.athlete_id,
            "session_id": e.session_id,
            "set_id": e.set_id,
            "kind": d.kind.value,
            "subject": d.subject,
            "before_json": to_json(d.before),
            "after_json": to_json(d.after),
            "rule": d.rule,
            "reason": d.reason,
            "inputs_json": to_json(d.inputs),
        },
    )


def _command(e: CommandEvent) -> Insert:
    return Insert(
        "commands",
        {
            "ts": e.ts,
            "station_id": e.station_id,
            "athlete_id": e.athlete_id,
            "source": e.source.value,
            "verb": e.verb,
            "outcome": e.outcome.value,
            "reason": e.reason,
            "requested": _finite(e.requested),
            "target": _finite(e.target),
            "issued_by": e.by,
            "params_json": to_json(e.params),
        },
    )


def _state(e: StationStateChanged) -> list[Row]:
    station = e.station_id or ""
    return [
        Insert(
            "station_events",
            {
                "ts": e.ts,
                "station_id": station,
                "from_state": e.before.value,
                "to_state": e.after.value,
                "reason": e.reason,
                "athlete_id": e.athlete_id,
                "session_id": e.session_id,
            },
        ),
        Sql(
            "INSERT INTO stations (id, name, state, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated = excluded.updated",
            (station, station, e.after.value, e.ts),
            "station state",
        ),
    ]


def _session_started(e: SessionStarted) -> Sql:
    return Sql(
        "INSERT INTO sessions (id, athlete_id, station_id, plan_id, started, status) "
        "VALUES (?, ?, ?, ?, ?, 'running') ON CONFLICT (id) DO NOTHING",
        (e.session_id, e.athlete_id, e.station_id, e.plan_id, e.ts),
        "session start",
    )


def _session_ended(e: SessionEnded) -> Sql:
    return Sql(
        "INSERT INTO sessions (id, athlete_id, station_id, started, ended, status, summary_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ended = excluded.ended, "
        "status = excluded.status, summary_json = excluded.summary_json",
        (e.session_id, e.athlete_id, e.station_id, e.ts, e.ts, e.status, to_json(e.summary)),
        "session end",
    )


def _alert(e: Alert) -> Insert:
    return Insert(
        "alerts",
        {
            "ts": e.ts,
            "station_id": e.station_id,
            "athlete_id": e.athlete_id,
            "severity": e.severity.value,
            "code": e.code,
            "message": e.message,
            "cleared": int(e.cleared),
        },
    )


def _lv_point(e: LoadVelocityPoint) -> Insert:
    return Insert(
        "lv_points",
        {
            "athlete_id": e.athlete_id,
            "exercise": e.exercise,
            "load": e.load,
            "velocity_ms": e.velocity_ms,
            "session_id": e.session_id,
            "set_id": e.set_id,
            "ts": e.ts,
        },
    )


def _readiness_input(e: ReadinessInput) -> Insert:
    return Insert(
        "readiness_inputs",
        {
            "athlete_id": e.athlete_id,
            "day": e.day,
            "kind": e.kind,
            "value": e.value,
            "unit": e.unit,
            "source": e.source,
            "ts": e.ts,
        },
    )


def _readiness_scored(e: ReadinessScored) -> Insert:
    return Insert(
        "readiness_scores",
        {
            "athlete_id": e.athlete_id,
            "day": e.day,
            "score": e.score,
            "components_json": to_json(e.components),
            "ts": e.ts,
        },
    )


#: The event types the store records (the recorder subscribes to exactly these).
RECORDED: tuple[type[Event], ...] = (
    RepEvent,
    SetEvent,
    DecisionEvent,
    CommandEvent,
    StationStateChanged,
    SessionStarted,
    SessionEnded,
    Alert,
    LoadVelocityPoint,
    ReadinessInput,
    ReadinessScored,
)
