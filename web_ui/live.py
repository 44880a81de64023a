"""The live floor: the panel's one bus subscription, folded into what the pages show.

The panel subscribes to the bus once, whatever the number of browsers: each event updates
the station it concerns (a new :class:`StationSnapshot`, the live velocity trace, the reps
of the current set) and bumps a version. Browsers follow through :class:`FeedCursor`, which
hands each one only what changed since its last frame, at most ``feed_hz`` frames a second.
A slow browser therefore skips intermediate states instead of queueing them, and the bus
never waits for the panel.

The feed shares one event loop with the stations, so its cost must not grow with the
number of browsers: each station's tile is encoded to JSON once per version (its
snapshot part once per snapshot, since telemetry only moves the live velocity), the site,
reps and full-trace frames once per version, and a browser's frame is a join of those
bytes. What one more browser costs is a version check per station and a socket write.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

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

#: How long one step of the panel's own work (a fold, a slot of feeds) may hold the loop
#: before it lets the stations run: a rep's cue waits behind whatever step is running
#: (the load benchmark's folds took up to 2 ms in one go).
STEP_S = 0.0003
#: How long the fold lets events gather after waking: at most this late on the pages.
FOLD_EVERY_S = 0.02
#: Telemetry the panel's subscription holds (a second of 100 stations at 20 batches/s):
#: a fold that waits ``FOLD_EVERY_S`` must not lose trace points to the bus's bound.
TELEMETRY_BOUND = 2048

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


class TracePoints:
    """The live trace's (time, velocity) points, newest ``maxlen`` kept, held as two
    deques of floats rather than one of tuples: a hundred stations keep fifty thousand
    points that each live about ten seconds, and as tuples every one passed through the
    garbage collector's generations (young collections of 5-15 ms on the stations' loop,
    measured by the load benchmark). Floats are not tracked by the collector.

    Each point is also kept encoded as its JSON array, made once when it comes in: a
    request for a station or a feed's full trace joins them instead of encoding five
    hundred points again (0.5-0.7 ms of the loop each time, measured under load)."""

    __slots__ = ("_json", "_t", "_v")

    def __init__(self, maxlen: int = 500) -> None:
        self._t: deque[float] = deque(maxlen=maxlen)
        self._v: deque[float] = deque(maxlen=maxlen)
        self._json: deque[bytes] = deque(maxlen=maxlen)

    def __len__(self) -> int:
        return len(self._t)

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return zip(self._t, self._v, strict=True)

    def append(self, t: float, v: float) -> None:
        """Add a finite point (JSON has no NaN; the caller checks)."""
        t, v = float(t), float(v)
        self._t.append(t)
        self._v.append(v)
        # float's own repr, as json.dumps writes it (a numpy scalar's repr is not JSON)
        self._json.append(f"[{float.__repr__(t)},{float.__repr__(v)}]".encode())

    def clear(self) -> None:
        self._t.clear()
        self._v.clear()
        self._json.clear()

    def json(self, newest: int | None = None) -> bytes:
        """The points (only the newest ``newest``, when given) as a JSON array of
        ``[t, v]`` arrays."""
        points = self._json
        start = 0 if newest is None else max(0, len(points) - max(0, newest))
        return b"[" + b",".join(itertools.islice(points, start, None)) + b"]"


@dataclass(slots=True)
class LiveStation:
    """The live view of one station; ``version`` goes up with every change of the tile."""

    snapshot: StationSnapshot
    version: int = 0
    live_velocity_ms: float | None = None
    trace: TracePoints = field(default_factory=TracePoints)
    trace_seq: int = 0  #: points ever appended in this epoch
    trace_epoch: int = 0  #: a new set starts a new trace
    set_reps: list[dict[str, Any]] = field(default_factory=list)
    reps_version: int = 0
    cue: dict[str, Any] | None = None
    last_trace_t: float | None = None
    reps_set_id: str | None = None  #: the set whose reps ``set_reps`` holds
    # encoded once, handed to every browser (see the module docstring)
    head_of: tuple[StationSnapshot, str | None] | None = None
    head_json: bytes = b""  #: the snapshot's part of the tile, without its closing brace
    cue_of: dict[str, Any] | None = None
    cue_json: bytes = b"null"
    tile_version: int = -1
    tile_json: bytes = b""
    reps_json_version: int = -1
    reps_json: bytes = b""
    trace_json_at: tuple[int, int] = (-1, -1)
    trace_json: bytes = b""


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
        self._site_json_version = -1
        self._site_json = b""

    # -- lifecycle (run by the panel runtime's task group) -------------------------------

    def seed(self) -> None:
        """Start from the service's snapshots (at start and after a resubscription)."""
        snapshots = list(self.gym.stations())
        self.order = [s.station_id for s in snapshots]
        maxlen = max(10, math.ceil(self.trace_window_s * self.trace_hz))
        for snap in snapshots:
            live = self.stations.get(snap.station_id)
            if live is None:
                self.stations[snap.station_id] = LiveStation(snap, trace=TracePoints(maxlen))
            else:
                live.snapshot = snap
                live.version += 1
            if snap.athlete_id:
                self._want_name(snap.athlete_id)
        self._bump()

    async def run(self) -> None:
        """Follow the bus until cancelled; resubscribe if the bus ever cuts us off."""
        while True:
            sub = self.gym.bus.subscribe(
                "panel", reliable_bound=50_000, latest_bound=TELEMETRY_BOUND
            )
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
            # what comes meanwhile is folded in one wake-up, not one per event (the stations'
            # telemetry alone is thousands a second); browsers sample at feed_hz anyway
            await asyncio.sleep(FOLD_EVERY_S)
            while True:  # a backlog is folded in steps of STEP_S: the stations go on
                until = time.perf_counter() + STEP_S
                drained = True
                while (event := sub.get_nowait()) is not None:
                    self.apply(event)
                    if time.perf_counter() > until:
                        drained = False
                        break
                self._bump()
                if drained:
                    break
                await asyncio.sleep(0)

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

    def wake_feeds(self) -> None:
        """Wake what waits in :meth:`wait_change` though the view did not change."""
        self._bump()

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
            live = self.stations[station_id] = LiveStation(snap, trace=TracePoints(maxlen))
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
        """Every station's every batch passes here. A batch holds a few downsampled
        values, so plain Python beats numpy's per-call cost; only the points kept for the
        trace (``trace_hz``) are differentiated (as ``np.gradient`` would, first order at
        the ends) and checked."""
        values = event.values
        n = len(values)
        if event.channel not in (VELOCITY_CHANNEL, POSITION_CHANNEL) or not n:
            return
        period = event.period if event.period > 0 else 1.0 / self.trace_hz
        step = max(1, round((1.0 / self.trace_hz) / period))
        t0 = event.t0
        if event.channel == POSITION_CHANNEL:
            if n < 2:
                return
            last = n - 1
            points = [
                (
                    t0 + period * i,
                    (values[min(i + 1, last)] - values[max(i - 1, 0)])
                    / ((min(i + 1, last) - max(i - 1, 0)) * period),
                )
                for i in range(0, n, step)
            ]
            latest = (values[last] - values[last - 1]) / period
        else:
            points = [(t0 + period * i, float(values[i])) for i in range(0, n, step)]
            latest = float(values[-1])
        if live.last_trace_t is not None and t0 < live.last_trace_t - 1.0:
            live.trace.clear()  # the device clock restarted (a reconnect): a new trace
            live.trace_epoch += 1
            live.trace_seq = 0
        # rounded once here, not at every frame and request that sends the trace
        kept = 0
        for t, v in points:
            if math.isfinite(v):
                live.trace.append(round(t, 4), round(v, 4))
                kept += 1
        if kept:
            live.trace_seq += kept
            live.last_trace_t = t0 + period * (n - 1)
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
        value: dict[str, Any] = json.loads(self.tile_json(live))
        return value

    def tile_json(self, live: LiveStation) -> bytes:
        """The tile encoded, once per version of the station, for every browser."""
        if live.tile_version == live.version:
            return live.tile_json
        snap = live.snapshot
        name = self.names.get(snap.athlete_id or "", None)
        head_of = (snap, name)
        if live.head_of is None or live.head_of[0] is not snap or live.head_of[1] != name:
            head = snap.to_json()
            head["state_label"] = STATE_LABELS.get(snap.state, snap.state.value)
            head["athlete_name"] = name
            head["zone_label"] = zone_label(snap.last_zone)
            live.head_json = _dumps(head)[:-1]
            live.head_of = head_of
        if live.cue is not live.cue_of:
            live.cue_json = _dumps(live.cue)
            live.cue_of = live.cue
        live.tile_json = b"".join(
            (
                live.head_json,
                b',"live_velocity_ms":',
                _dumps(live.live_velocity_ms),
                b',"cue":',
                live.cue_json,
                b',"version":',
                str(live.version).encode(),
                b"}",
            )
        )
        live.tile_version = live.version
        return live.tile_json

    def tiles_json(self) -> bytes:
        """Every station's tile, in floor order, as one JSON object ``{"stations": [...]}``."""
        return b'{"stations":[' + b",".join(self.tile_json(x) for x in self.ordered()) + b"]}"

    def station_json(self, live: LiveStation) -> bytes:
        """One station with the reps of its current set and its live trace, as JSON."""
        return b"".join(
            (
                b'{"station":',
                self.tile_json(live),
                b',"reps":',
                _dumps(self.set_reps(live)),
                b',"trace":',
                live.trace.json(),
                b"}",
            )
        )

    def set_reps(self, live: LiveStation) -> list[dict[str, Any]]:
        return [{**r, "zone_label": zone_label(r["zone"])} for r in live.set_reps]

    def frames(self, cursor: FeedCursor) -> list[tuple[str, dict[str, Any]]]:
        """The feed frames that bring ``cursor`` up to date (and move it), decoded."""
        return [(name, json.loads(data)) for name, data in self.frames_json(cursor)]

    def feed_bytes(self, cursor: FeedCursor) -> bytes:
        """The server-sent events that bring ``cursor`` up to date (and move it); empty
        when nothing changed."""
        return b"".join(
            b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"
            for name, data in self.frames_json(cursor)
        )

    def frames_json(self, cursor: FeedCursor) -> list[tuple[str, bytes]]:
        """The feed frames that bring ``cursor`` up to date (and move it), encoded."""
        out: list[tuple[str, bytes]] = []
        changed: list[bytes] = []
        versions = cursor.versions
        for live in self._for(cursor):
            sid = live.snapshot.station_id
            if versions.get(sid) != live.version:
                versions[sid] = live.version
                changed.append(self.tile_json(live))
        if changed:
            out.append(("stations", b'{"stations":[' + b",".join(changed) + b"]}"))
        if cursor.site_version != self.site_version:
            cursor.site_version = self.site_version
            out.append(("site", self._site_frame()))
        if cursor.station_id is not None and cursor.station_id in self.stations:
            out.extend(self._station_frames(cursor, self.stations[cursor.station_id]))
        return out

    def _site_frame(self) -> bytes:
        if self._site_json_version != self.site_version:
            alerts = [
                {"code": a.code, "severity": a.severity.value, "message": a.message}
                for a in self.site_alerts.values()
            ]
            self._site_json = _dumps({"alerts": alerts})
            self._site_json_version = self.site_version
        return self._site_json

    def _for(self, cursor: FeedCursor) -> Iterable[LiveStation]:
        if cursor.station_id is None:
            return self.ordered()
        live = self.stations.get(cursor.station_id)
        return [live] if live is not None else []

    def _station_frames(self, cursor: FeedCursor, live: LiveStation) -> list[tuple[str, bytes]]:
        sid = live.snapshot.station_id
        out: list[tuple[str, bytes]] = []
        epoch, seen = cursor.trace.get(sid, (-1, 0))
        if epoch != live.trace_epoch or seen > live.trace_seq:
            at = (live.trace_epoch, live.trace_seq)
            if live.trace_json_at != at:
                live.trace_json = _trace_frame(sid, live.trace.json(), reset=True)
                live.trace_json_at = at
            out.append(("trace", live.trace_json))
        elif live.trace_seq > seen:
            new = min(live.trace_seq - seen, len(live.trace))
            out.append(("trace", _trace_frame(sid, live.trace.json(new), reset=False)))
        cursor.trace[sid] = (live.trace_epoch, live.trace_seq)
        if cursor.reps.get(sid) != live.reps_version:
            cursor.reps[sid] = live.reps_version
            if live.reps_json_version != live.reps_version:
                live.reps_json = _dumps({"station_id": sid, "reps": self.set_reps(live)})
                live.reps_json_version = live.reps_version
            out.append(("reps", live.reps_json))
        return out


def _trace_frame(station_id: str, points: bytes, *, reset: bool) -> bytes:
    """A feed's ``trace`` frame around points already encoded."""
    return b"".join(
        (
            b'{"station_id":',
            _dumps(station_id),
            b',"reset":',
            b"true" if reset else b"false",
            b',"points":',
            points,
            b"}",
        )
    )


def _dumps(data: Any) -> bytes:
    """Compact JSON; NaN or infinity is a bug upstream, not something to send a browser."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
