"""The events that travel on the in-process bus, as frozen values.

Every event names its station (None for site-wide ones) and carries ``ts``, the wall-clock
time it happened (UNIX seconds, for the record and for people; durations and timeouts use
the monotonic clock elsewhere). ``DELIVERY`` says what the bus may do when a consumer is
slow: :attr:`Delivery.LATEST` events (telemetry) may be dropped oldest-first, every other
event is :attr:`Delivery.RELIABLE` and is never dropped (see ``controller.bus``).

Athletes appear only by their pseudonymous id (``athlete_id``, the primary key of the
``athletes`` table); names never travel on the bus.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from controller.cues import Cue
from controller.states import StationState
from kernels.reps import RepMetrics
from plans.decisions import Decision


class Delivery(enum.Enum):
    RELIABLE = "reliable"  #: never dropped; a consumer that falls behind raises an alarm
    LATEST = "latest"  #: only the newest matters; the oldest are dropped when a queue is full


class AlertSeverity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"  #: a station went to its safe state, or data is at risk


class CommandSource(enum.StrEnum):
    """Where an actuator or station command came from (the envelope treats all alike)."""

    PLAN = "plan"  #: the session runner applying the plan of the day
    AUTOREGULATION = "autoregulation"  #: the next set's load from this set's velocity
    STAFF = "staff"  #: a person in the panel
    MQTT = "mqtt"  #: a command on ``.../cmd/<verb>``
    DEVICE = "device"  #: the device itself (its e-stop button)
    ATHLETE = "athlete"  #: the athlete at the station (confirming an announced load)
    SYSTEM = "system"  #: the controller (safe state on a fault, start-up)


class CommandOutcome(enum.StrEnum):
    APPLIED = "applied"  #: sent to the device as asked
    CLAMPED = "clamped"  #: sent, but limited by the ceiling
    RAMPING = "ramping"  #: an increase that the rate limit spreads over time
    ANNOUNCED = "announced"  #: waiting for the athlete's confirmation (or the announce time)
    REFUSED = "refused"  #: not applied (e-stop latched, safe state, not permitted, invalid)
    FAILED = "failed"  #: the device did not take it (the station went safe)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every bus event."""

    DELIVERY: ClassVar[Delivery] = Delivery.RELIABLE
    #: a short name used by MQTT topics, the panel's feeds and the store
    NAME: ClassVar[str] = "event"

    station_id: str | None
    ts: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with ``type``; subclasses add their own fields."""
        return {"type": self.NAME, "station_id": self.station_id, "ts": self.ts}


@dataclass(frozen=True, slots=True, kw_only=True)
class StationStateChanged(Event):
    NAME: ClassVar[str] = "state"

    before: StationState
    after: StationState
    reason: str
    athlete_id: str | None = None
    session_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "before": self.before.value,
            "state": self.after.value,
            "reason": self.reason,
            "athlete_id": self.athlete_id,
            "session_id": self.session_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStarted(Event):
    NAME: ClassVar[str] = "session_started"

    session_id: str
    athlete_id: str
    plan_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "session_id": self.session_id,
            "athlete_id": self.athlete_id,
            "plan_id": self.plan_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded(Event):
    NAME: ClassVar[str] = "session_ended"

    session_id: str
    athlete_id: str
    status: str  #: "done", "stopped" (by staff or athlete), "fault"
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "session_id": self.session_id,
            "athlete_id": self.athlete_id,
            "status": self.status,
            "summary": dict(self.summary),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RepEvent(Event):
    """One completed rep (the store writes it to the ``reps`` table)."""

    NAME: ClassVar[str] = "rep"

    session_id: str
    set_id: str
    athlete_id: str
    exercise: str
    set_index: int
    rep_index: int  #: 0-based within the set
    load: float
    unit: str
    metrics: RepMetrics
    velocity_loss_pct: float | None = None

    def to_json(self) -> dict[str, Any]:
        m = self.metrics
        return {
            **Event.to_json(self),
            "session_id": self.session_id,
            "set_id": self.set_id,
            "athlete_id": self.athlete_id,
            "exercise": self.exercise,
            "set_index": self.set_index,
            "rep_index": self.rep_index,
            "load": self.load,
            "unit": self.unit,
            "mean_velocity_ms": m.mean_velocity_ms,
            "mean_propulsive_velocity_ms": m.mean_propulsive_velocity_ms,
            "peak_velocity_ms": m.peak_velocity_ms,
            "rom_m": m.rom_m,
            "concentric_s": m.concentric_s,
            "eccentric_s": m.eccentric_s,
            "time_to_peak_s": m.time_to_peak_s,
            "mean_power_w": m.mean_power_w,
            "peak_power_w": m.peak_power_w,
            "velocity_loss_pct": self.velocity_loss_pct,
        }


class SetStop(enum.StrEnum):
    """Why a set ended."""

    VELOCITY_LOSS = "velocity_loss"
    REP_TARGET = "rep_target"
    ATHLETE = "athlete"
    STAFF = "staff"
    TIME = "time"  #: a timed interval on a bike ended
    FAULT = "fault"
    ESTOP = "estop"


@dataclass(frozen=True, slots=True, kw_only=True)
class SetEvent(Event):
    """A finished set (the store upserts it into ``sets``)."""

    NAME: ClassVar[str] = "set"

    session_id: str
    set_id: str
    athlete_id: str
    exercise: str
    set_index: int
    load: float
    unit: str
    reps: int
    stop: SetStop
    started_ts: float
    target_reps: int | None = None
    target_load: float | None = None
    velocity_loss_pct: float | None = None
    best_velocity_ms: float | None = None
    mean_velocity_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "session_id": self.session_id,
            "set_id": self.set_id,
            "athlete_id": self.athlete_id,
            "exercise": self.exercise,
            "set_index": self.set_index,
            "load": self.load,
            "unit": self.unit,
            "reps": self.reps,
            "stop": self.stop.value,
            "started_ts": self.started_ts,
            "target_reps": self.target_reps,
            "target_load": self.target_load,
            "velocity_loss_pct": self.velocity_loss_pct,
            "best_velocity_ms": self.best_velocity_ms,
            "mean_velocity_ms": self.mean_velocity_ms,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CueEvent(Event):
    """A cue that went on show at a station."""

    NAME: ClassVar[str] = "cue"

    cue: Cue

    def to_json(self) -> dict[str, Any]:
        return {**Event.to_json(self), **self.cue.to_json()}


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionEvent(Event):
    """An automatic decision (or a staff override) with its inputs and reason."""

    NAME: ClassVar[str] = "decision"

    decision: Decision
    athlete_id: str | None = None
    session_id: str | None = None
    set_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            **self.decision.to_json(),
            "athlete_id": self.athlete_id,
            "session_id": self.session_id,
            "set_id": self.set_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandEvent(Event):
    """A command that reached a station (or was refused on the way), for the command log."""

    NAME: ClassVar[str] = "command"

    source: CommandSource
    verb: str  #: "load", "mode", "estop", "release", "confirm", "cue"
    outcome: CommandOutcome
    reason: str
    requested: float | None = None
    target: float | None = None  #: what the envelope will hold once any ramp is done
    by: str | None = None  #: the staff user, MQTT sender or rule that issued it
    athlete_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "source": self.source.value,
            "verb": self.verb,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "requested": self.requested,
            "target": self.target,
            "by": self.by,
            "athlete_id": self.athlete_id,
            "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert(Event):
    """Something staff must see: a station went safe, a device dropped, the store is stuck."""

    NAME: ClassVar[str] = "alert"

    severity: AlertSeverity
    code: str  #: stable identifier, e.g. "stale_data", "store_unwritable", "bus_overflow"
    message: str
    athlete_id: str | None = None
    cleared: bool = False  #: True when the condition of an earlier alert with this code ended

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "athlete_id": self.athlete_id,
            "cleared": self.cleared,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Telemetry(Event):
    """Downsampled live values of one channel (for the panel's live charts and MQTT).

    Only the newest matters, so slow consumers lose the oldest. Raw full-rate samples go to
    the kernels and, compressed, to the store's ``traces``; they never travel here.
    """

    DELIVERY: ClassVar[Delivery] = Delivery.LATEST
    NAME: ClassVar[str] = "telemetry"

    device_id: str
    channel: str
    unit: str
    t0: float  #: device time of the first value, s
    period: float  #: s between values
    values: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "device_id": self.device_id,
            "channel": self.channel,
            "unit": self.unit,
            "t0": self.t0,
            "period": self.period,
            "values": list(self.values),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadVelocityPoint(Event):
    """One point of an athlete's load-velocity profile (usually the best rep of a set)."""

    NAME: ClassVar[str] = "lv_point"

    athlete_id: str
    exercise: str
    load: float
    velocity_ms: float
    session_id: str | None = None
    set_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "athlete_id": self.athlete_id,
            "exercise": self.exercise,
            "load": self.load,
            "velocity_ms": self.velocity_ms,
            "session_id": self.session_id,
            "set_id": self.set_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessInput(Event):
    """One measured input of readiness (morning lnRMSSD, resting HR, sleep, soreness...)."""

    NAME: ClassVar[str] = "readiness_input"

    athlete_id: str
    day: str  #: ISO date the input belongs to
    kind: str
    value: float
    unit: str
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "athlete_id": self.athlete_id,
            "day": self.day,
            "kind": self.kind,
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessScored(Event):
    """Today's readiness of an athlete with each component's contribution and reason."""

    NAME: ClassVar[str] = "readiness"

    athlete_id: str
    day: str
    score: float
    components: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **Event.to_json(self),
            "athlete_id": self.athlete_id,
            "day": self.day,
            "score": self.score,
            "components": dict(self.components),
        }


AnyEvent = (
    StationStateChanged
    | SessionStarted
    | SessionEnded
    | RepEvent
    | SetEvent
    | CueEvent
    | DecisionEvent
    | CommandEvent
    | Alert
    | Telemetry
    | LoadVelocityPoint
    | ReadinessInput
    | ReadinessScored
)

__all__ = [
    "Alert",
    "AlertSeverity",
    "AnyEvent",
    "CommandEvent",
    "CommandOutcome",
    "CommandSource",
    "CueEvent",
    "DecisionEvent",
    "Delivery",
    "Event",
    "LoadVelocityPoint",
    "ReadinessInput",
    "ReadinessScored",
    "RepEvent",
    "SessionEnded",
    "SessionStarted",
    "SetEvent",
    "SetStop",
    "StationStateChanged",
    "Telemetry",
]
