"""The live floor: the panel's one bus subscription, folded into what the pages show.

The panel subscribes to the bus once, whatever the number of browsers: each event updates
the station it concerns (a new :class:`StationSnapshot`, the live velocity trace, the reps
of the current set) and bumps a version. Browsers follow through :class:`FeedCursor`, which
hands each one only what changed since its last frame, at most ``feed_hz`` frames a second.
A slow browser therefore skips intermediate states instead of queueing them, and the bus
never waits for the panel.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from controller.bus import Subscription
from controller.errors import BusOverflowError, NotFoundError, StoreError
from controller.events import (
    Alert,
    CommandEvent,
    CommandOutcome,
    CueEvent,
    DecisionEvent,
    Event,
    RepEvent,
    SessionEnded,
    SessionStarted,
    SetEvent,
    StationStateChanged,
    Telemetry,
)
from controller.service import (
    POSITION_CHANNEL,
    VELOCITY_CHANNEL,
    ActiveAlert,
    GymService,
    StationSnapshot,
)
from controller.states import StationState
from controller.store import StoreReader
from equipment_adapters.base import CueColour
from plans.decisions import DecisionKind

log = logging.getLogger(__name__)

#: What each zone colour means, in words: colour is never the only signal.
ZONE_LABELS: Mapping[CueColour, str] = {
    CueColour.BLUE: "above zone",
    CueColour.GREEN: "in zone",
    CueColour.YELLOW: "just below zone",
    CueColour.ORANGE: "last rep",
    CueColour.RED: "below zone",
    CueColour.WHITE: "",
    CueColour.OFF: "",
}

STATE_LABELS: Mapping[StationState, str] = {
    StationState.OFFLINE: "Offline",
    StationState.IDLE: "Idle",
    StationState.CHECKED_IN: "Checked in",
    StationState.SET_READY: "Set ready",
    StationState.SET_ACTIVE: "Set active",
    StationState.RESTING: "Resting",
    StationState.SESSION_DONE: "Session done",
    StationState.FAULT: "Fault: safe state",
    StationState.ESTOPPED: "E-STOPPED",
}

#: States in which nobody is at the station.
_EMPTY = (StationState.IDLE, StationState.OFFLINE)
_LOAD_DECISIONS = frozenset(
    {
        DecisionKind.AUTOREGULATION,
        DecisionKind.READINESS_ADJUSTMENT,
        DecisionKind.PROGRESSION,
        DecisionKind.STAFF_OVERRIDE,
        DecisionKind.SAFETY,
    }
)


def zone_label(zone: CueColour | str | None) -> str:
    if zone is None:
        return ""
    try:
        return ZONE_LABELS[CueColour(zone)]
    except ValueError:
        return ""


@dataclass(slots=True)
class LiveStation:
    """The live view of one station; ``version`` goes up with every change of the tile."""

    snapshot: StationSnapshot
    version: int = 0
    live_velocity_ms: float | None = None
    trace: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=500))
    trace_seq: int = 0  #: points ever appended in this epoch
    trace_epoch: int = 0  #: a new set starts a new trace
    set_reps: list[dict[str, Any]] = field(default_factory=list)
    reps_version: int = 0
    cue: dict[str, Any] | None = None
    last_trace_t: float | None = None
    reps_set_id: str | None = None  #: the set whose reps ``set_reps`` holds


@dataclass(slots=True)
class FeedCursor:
    """What one browser has seen: tile versions, trace positions, set-rep versions."""

    station_id: str | None = None  #: the station page's station (None: the floor)
    versions: dict[str, int] = field(default_factory=dict)
    trace: dict[str, tuple[int, int]] = field(default_factory=dict)
    reps: dict[str, int] = field(default_factory=dict)
    site_version: int = -1


class LiveFloor:
    """Folds bus events into live station views; see the module docstring."""

    def __init__(
        self,
        gym: GymService,
        reader: StoreReader,
        *,
        trace_window_s: float = 10.0,
        trace_hz: float = 50.0,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.gym = gym
        self.reader = reader
        self.trace_window_s = trace_window_s
        self.trace_hz = trace_hz
        self.on_event = on_event
        self.stations: dict[str, LiveStation] = {}
        self.order: list[str] = []
        self.site_alerts: dict[str, ActiveAlert] = {}
        self.site_version = 0
        self.names: dict[str, str] = {}
        self._unnamed: set[str] = set()
        self._name_wanted: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None
        self.closed = False
        self.events = 0
        self.changes = 0  #: goes up at every change (feeds wait for it to move)

    # -- lifecycle (run by the panel runtime's task group) -------------------------------

    def seed(self) -> None:
        """Start from the service's snapshots (at start and after a resubscription)."""
        snapshots = list(self.gym.stations())
        self.order = [s.station_id for s in snapshots]
        maxlen = max(10, math.ceil(self.trace_window_s * self.trace_hz))
        for snap in snapshots:
            live = self.stations.get(snap.station_id)
            if live is None:
                self.stations[snap.station_id] = LiveStation(snap, trace=deque(maxlen=maxlen))
            else:
                live.snapshot = snap
                live.version += 1
            if snap.athlete_id:
                self._want_name(snap.athlete_id)
        self._bump()

    async def run(self) -> None:
        """Follow the bus until cancelled; resubscribe if the bus ever cuts us off."""
        while True:
            sub = self.gym.bus.subscribe("panel", reliable_bound=50_000)
            try:
                self.seed()
                await self._follow(sub)
            except BusOverflowError as exc:
                log.error("the panel fell behind the bus (%s): starting again", exc)
            finally:
                sub.close()

    async def _follow(self, sub: Subscription) -> None:
        while True:
            first = await sub.get()
            self.apply(first)
            for event in sub.drain(5000):
                self.apply(event)
            self._bump()

    async def resolve_names(self) -> None:
        """Look up display names of athletes as they appear (events carry only ids)."""
        self._name_wanted = asyncio.Event()
        while True:
            await self._name_wanted.wait()
            self._name_wanted.clear()
            wanted, self._unnamed = self._unnamed, set()
            for athlete_id in wanted:
                try:
                    row = await self.reader.athlete(athlete_id)
                except NotFoundError:
                    continue
                except StoreError as exc:
                    log.warning("cannot look up athlete names: %s", exc)
                    continue
                self.names[athlete_id] = str(row["display_name"])
            for live in self.stations.values():
                if live.snapshot.athlete_id in wanted:
                    live.version += 1
            self._bump()

    def close(self) -> None:
        """Ends every feed (the server is shutting down)."""
        self.closed = True
        self._bump()

    def forget_athlete(self, athlete_id: str) -> None:
        """After an erasure: the name goes from memory too."""
        self.names.pop(athlete_id, None)
        for live in self.stations.values():
            if live.snapshot.athlete_id == athlete_id:
                live.version += 1
        self._bump()

    async def wait_change(self, since: int, max_wait_s: float) -> None:
        """Return once ``changes`` has moved past ``since`` (or after ``max_wait_s``)."""
        if self.changes != since or self.closed:
            return
        if self._changed is None:
            self._changed = asyncio.Event()
        try:
            async with asyncio.timeout(max_wait_s):
                await self._changed.wait()
        except TimeoutError:
            pass

    def _bump(self) -> None:
        self.changes += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _want_name(self, athlete_id: str) -> None:
        if athlete_id not in self.names:
            self._unnamed.add(athlete_id)
            if self._name_wanted is not None:
                self._name_wanted.set()

    # -- folding ------------------------------------------------------------------------

    def _station(self, station_id: str) -> LiveStation:
        live = self.stations.get(station_id)
        if live is None:
            snap = StationSnapshot(station_id=station_id, name=station_id, state=StationState.IDLE)
            maxlen = max(10, math.ceil(self.trace_window_s * self.trace_hz))
            live = self.stations[station_id] = LiveStation(snap, trace=deque(maxlen=maxlen))
            self.order.append(station_id)
        return live

    def apply(self, event: Event) -> None:
        """Fold one event into the view (synchronous, no I/O)."""
        self.events += 1
        if self.on_event is not None:
            self.on_event(event)
        if event.station_id is None:
            if isinstance(event, Alert):
                self._site_alert(event)
            return
        live = self._station(event.station_id)
        snap = live.snapshot
        match event:
            case Telemetry():
                self._telemetry(live, event)
                return
            case StationStateChanged():
                snap = self._state(live, event)
            case RepEvent():
                if event.set_id != live.reps_set_id:
                    live.set_reps = []
                    live.reps_set_id = event.set_id
                velocity = event.metrics.mean_velocity_ms
                live.set_reps.append(
                    {"rep": event.rep_index + 1, "velocity": velocity, "zone": None}
                )
                live.reps_version += 1
                snap = replace(
                    snap,
                    athlete_id=event.athlete_id,
                    session_id=event.session_id,
                    set_id=event.set_id,
                    exercise=event.exercise,
                    set_index=event.set_index,
                    reps=event.rep_index + 1,
                    load=event.load,
                    unit=event.unit or snap.unit,
                    last_velocity_ms=velocity,
                    last_zone=None,
                )
            case CueEvent():
                live.cue = event.cue.to_json()
                if event.cue.kind.value == "rep" and live.set_reps:
                    live.set_reps[-1]["zone"] = event.cue.colour.value
                    live.reps_version += 1
                    snap = replace(snap, last_zone=event.cue.colour)
            case SetEvent():
                snap = replace(
                    snap,
                    set_id=event.set_id,
                    exercise=event.exercise,
                    set_index=event.set_index,
                    reps=event.reps,
                    target_reps=event.target_reps,
                    load=event.load,
                    unit=event.unit or snap.unit,
                )
            case DecisionEvent():
                d = event.decision
                if (
                    d.kind in _LOAD_DECISIONS
                    and d.subject.startswith("load")
                    and isinstance(d.after, int | float)
                    and not isinstance(d.after, bool)
                ):
                    snap = replace(snap, next_load=float(d.after), next_load_reason=d.reason)
            case CommandEvent():
                snap = self._command(snap, event)
            case Alert():
                alerts = {a.code: a for a in snap.alerts}
                if event.cleared:
                    alerts.pop(event.code, None)
                else:
                    alerts[event.code] = ActiveAlert(
                        event.code, event.severity, event.message, event.ts
                    )
                snap = replace(snap, alerts=tuple(alerts.values()))
            case SessionStarted():
                snap = replace(snap, session_id=event.session_id, athlete_id=event.athlete_id)
            case SessionEnded():
                snap = replace(snap, session_id=None)
                if snap.state in _EMPTY:
                    snap = replace(snap, athlete_id=None)
            case _:
                return
        if snap.athlete_id:
            self._want_name(snap.athlete_id)
        live.snapshot = replace(snap, ts=event.ts)
        live.version += 1

    def _state(self, live: LiveStation, event: StationStateChanged) -> StationSnapshot:
        snap = live.snapshot
        after = event.after
        if after is StationState.SET_ACTIVE and event.before is not StationState.SET_ACTIVE:
            self._new_set(live)
            snap = self._set_from_service(snap)
        if after in _EMPTY:
            live.live_velocity_ms = None
            return replace(
                snap,
                state=after,
                estopped=False,
                athlete_id=None,
                session_id=None,
                set_id=None,
                exercise=None,
                set_index=None,
                reps=0,
                target_reps=None,
                last_velocity_ms=None,
                last_zone=None,
                next_load=None,
                next_load_reason=None,
            )
        if after is not StationState.SET_ACTIVE:
            live.live_velocity_ms = None  # the bar is not moving under load now
            live.version += 1
        return replace(
            snap,
            state=after,
            estopped=after is StationState.ESTOPPED,
            athlete_id=event.athlete_id or snap.athlete_id,
            session_id=event.session_id or snap.session_id,
        )

    def _set_from_service(self, snap: StationSnapshot) -> StationSnapshot:
        """A new set: its number, exercise and target come from the station itself (the
        first rep event would bring them only after the first rep)."""
        try:
            fresh = self.gym.station(snap.station_id)
        except NotFoundError:
            return replace(snap, reps=0)
        return replace(
            snap,
            set_id=fresh.set_id,
            exercise=fresh.exercise or snap.exercise,
            set_index=fresh.set_index,
            target_reps=fresh.target_reps,
            reps=0,
        )

    @staticmethod
    def _command(snap: StationSnapshot, event: CommandEvent) -> StationSnapshot:
        if event.verb == "estop" and event.outcome is CommandOutcome.APPLIED:
            return replace(snap, estopped=True, load=None, target_load=None)
        if event.verb == "release" and event.outcome is CommandOutcome.APPLIED:
            return replace(snap, estopped=False)
        if event.verb != "load" or event.target is None:
            return snap
        if event.outcome in (CommandOutcome.APPLIED, CommandOutcome.CLAMPED):
            return replace(snap, load=event.target, target_load=event.target)
        if event.outcome in (CommandOutcome.RAMPING, CommandOutcome.ANNOUNCED):
            return replace(snap, target_load=event.target)
        return snap

    @staticmethod
    def _new_set(live: LiveStation) -> None:
        """A set starts: its reps and its trace start empty."""
        live.reps_set_id = None
        if live.set_reps:
            live.set_reps = []
            live.reps_version += 1
        if live.trace:
            live.trace.clear()
            live.trace_epoch += 1
            live.trace_seq = 0
            live.last_trace_t = None

    def _telemetry(self, live: LiveStation, event: Telemetry) -> None:
        if event.channel not in (VELOCITY_CHANNEL, POSITION_CHANNEL) or not event.values:
            return
        values = np.asarray(event.values, dtype=np.float64)
        period = event.period if event.period > 0 else 1.0 / self.trace_hz
        if event.channel == POSITION_CHANNEL:
            if values.size < 2:
                return
            values = np.gradient(values, period)
        step = max(1, round((1.0 / self.trace_hz) / period))
        times = event.t0 + period * np.arange(values.size)
        if live.last_trace_t is not None and times[0] < live.last_trace_t - 1.0:
            live.trace.clear()  # the device clock restarted (a reconnect): a new trace
            live.trace_epoch += 1
            live.trace_seq = 0
        kept = 0
        for t, v in zip(times[::step].tolist(), values[::step].tolist(), strict=True):
            if math.isfinite(v):
                live.trace.append((t, v))
                kept += 1
        if kept:
            live.trace_seq += kept
            live.last_trace_t = float(times[-1])
            latest = float(values[-1])
            live.live_velocity_ms = round(latest, 2) if math.isfinite(latest) else None
            live.version += 1

    def _site_alert(self, event: Alert) -> None:
        if event.cleared:
            self.site_alerts.pop(event.code, None)
        else:
            self.site_alerts[event.code] = ActiveAlert(
                event.code, event.severity, event.message, event.ts
            )
        self.site_version += 1

    def refresh(self, fresh: StationSnapshot) -> LiveStation:
        """Take the station's own snapshot (after a staff command) into the live view at
        once, so every browser sees the command's effect without waiting for the bus."""
        live = self._station(fresh.station_id)
        snap = live.snapshot
        live.snapshot = replace(
            snap,
            name=fresh.name,
            state=fresh.state,
            kind=fresh.kind or snap.kind,
            unit=fresh.unit or snap.unit,
            athlete_id=fresh.athlete_id,
            session_id=fresh.session_id,
            load=fresh.load,
            target_load=fresh.target_load,
            ceiling=fresh.ceiling,
            estopped=fresh.estopped,
            alerts=fresh.alerts or snap.alerts,
            ts=fresh.ts or snap.ts,
        )
        if fresh.state is not StationState.SET_ACTIVE:
            live.live_velocity_ms = None
        if fresh.athlete_id:
            self._want_name(fresh.athlete_id)
        live.version += 1
        self._bump()
        return live

    # -- what the pages read -----------------------------------------------------------

    def ordered(self) -> list[LiveStation]:
        return [self.stations[s] for s in self.order if s in self.stations]

    def get(self, station_id: str) -> LiveStation:
        live = self.stations.get(station_id)
        if live is None:
            raise NotFoundError(f"no station {station_id!r}")
        return live

    def tile(self, live: LiveStation) -> dict[str, Any]:
        """One station as the floor's tile shows it (JSON)."""
        snap = live.snapshot
        out = snap.to_json()
        out["state_label"] = STATE_LABELS.get(snap.state, snap.state.value)
        out["athlete_name"] = self.names.get(snap.athlete_id or "", None)
        out["zone_label"] = zone_label(snap.last_zone)
        out["live_velocity_ms"] = live.live_velocity_ms
        out["cue"] = live.cue
        out["version"] = live.version
        return out

    def set_reps(self, live: LiveStation) -> list[dict[str, Any]]:
        return [{**r, "zone_label": zone_label(r["zone"])} for r in live.set_reps]

    def trace_points(self, live: LiveStation) -> list[list[float]]:
        return [[round(t, 4), round(v, 4)] for t, v in live.trace]

    def frames(self, cursor: FeedCursor) -> list[tuple[str, dict[str, Any]]]:
        """The feed frames that bring ``cursor`` up to date (and move it)."""
        out: list[tuple[str, dict[str, Any]]] = []
        changed = []
        for live in self._for(cursor):
            sid = live.snapshot.station_id
            if cursor.versions.get(sid) != live.version:
                cursor.versions[sid] = live.version
                changed.append(self.tile(live))
        if changed:
            out.append(("stations", {"stations": changed}))
        if cursor.site_version != self.site_version:
            cursor.site_version = self.site_version
            out.append(
                (
                    "site",
                    {
                        "alerts": [
                            {"code": a.code, "severity": a.severity.value, "message": a.message}
                            for a in self.site_alerts.values()
                        ]
                    },
                )
            )
        if cursor.station_id is not None and cursor.station_id in self.stations:
            out.extend(self._station_frames(cursor, self.stations[cursor.station_id]))
        return out

    def _for(self, cursor: FeedCursor) -> Iterable[LiveStation]:
        if cursor.station_id is None:
            return self.ordered()
        live = self.stations.get(cursor.station_id)
        return [live] if live is not None else []

    def _station_frames(
        self, cursor: FeedCursor, live: LiveStation
    ) -> list[tuple[str, dict[str, Any]]]:
        sid = live.snapshot.station_id
        out: list[tuple[str, dict[str, Any]]] = []
        epoch, seen = cursor.trace.get(sid, (-1, 0))
        if epoch != live.trace_epoch or seen > live.trace_seq:
            points = self.trace_points(live)
            out.append(("trace", {"station_id": sid, "reset": True, "points": points}))
        elif live.trace_seq > seen:
            new = min(live.trace_seq - seen, len(live.trace))
            tail = list(live.trace)[-new:]
            out.append(
                (
                    "trace",
                    {
                        "station_id": sid,
                        "reset": False,
                        "points": [[round(t, 4), round(v, 4)] for t, v in tail],
                    },
                )
            )
        cursor.trace[sid] = (live.trace_epoch, live.trace_seq)
        if cursor.reps.get(sid) != live.reps_version:
            cursor.reps[sid] = live.reps_version
            out.append(("reps", {"station_id": sid, "reps": self.set_reps(live)}))
        return out
