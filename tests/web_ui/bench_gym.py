"""A site built from the controller's real parts, for the panel's tests and screenshots.

``BenchGym`` implements ``controller.service.GymService`` the way the site's ``Gym`` will:
each station is a real ``StationStateMachine``, a real ``ResistanceDrive`` (the safety
envelope) over a ``RecordingAdapter`` (the adapter boundary: it records every command the
device would get), and a real ``CueRouter``, all publishing on the real bus that the real
store records. Only the device I/O is absent. ``run_set`` plays a set through those parts
with the velocities of a ``SimulatedAthlete`` (the emulators' athlete model), streaming
bar-velocity telemetry and keeping the actuator's data fresh like a rack would.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import numpy as np

from controller.bus import EventBus
from controller.config import SafetyConfig
from controller.cue_router import CueRouter
from controller.cues import Cue, rep_cue, velocity_zone_colour
from controller.errors import IllegalTransitionError, NotFoundError
from controller.events import (
    Alert,
    CommandOutcome,
    CommandSource,
    DecisionEvent,
    Event,
    LoadVelocityPoint,
    RepEvent,
    SessionEnded,
    SessionStarted,
    SetEvent,
    SetStop,
    Telemetry,
)
from controller.safety import Limits, ResistanceDrive, Verdict
from controller.service import (
    VELOCITY_CHANNEL,
    ActiveAlert,
    CommandResult,
    DeviceHealth,
    ServiceHealth,
    StationSnapshot,
)
from controller.station_state import StationStateMachine
from controller.store import Store
from equipment_adapters.base import CueColour, EquipmentKind
from equipment_adapters.emulators.athlete import SimulatedAthlete
from kernels.reps import RepMetrics
from plans.decisions import Decision, DecisionKind
from tests.controller.recording_adapter import RecordingAdapter, rack_capabilities


@dataclass
class BenchStation:
    station_id: str
    name: str
    adapter: RecordingAdapter
    drive: ResistanceDrive
    machine: StationStateMachine
    cues: CueRouter
    exercise: str | None = None
    set_id: str | None = None
    set_index: int | None = None
    sets_done: int = 0
    reps: int = 0
    target_reps: int | None = None
    last_velocity_ms: float | None = None
    last_zone: CueColour | None = None
    next_load: float | None = None
    next_load_reason: str | None = None
    alerts: dict[str, ActiveAlert] = field(default_factory=dict)


def _result(verdict: Verdict) -> CommandResult:
    return CommandResult(verdict.outcome, verdict.reason, verdict.target)


def half_sine_velocity(mean_ms: float, duration_s: float, hz: float) -> np.ndarray:
    """The concentric velocity of a rep with the given mean (a half sine), sampled."""
    n = max(2, round(duration_s * hz))
    t = (np.arange(n) + 0.5) / n
    return mean_ms * (math.pi / 2) * np.sin(math.pi * t)


class BenchGym:
    """A ``GymService`` over real stations without device I/O (see the module docstring)."""

    def __init__(
        self,
        *,
        bus: EventBus,
        store: Store,
        stations: Sequence[tuple[str, str]] = (("rack-1", "Rack 1"), ("rack-2", "Rack 2")),
        site_name: str = "Bench gym",
        safety: SafetyConfig | None = None,
    ) -> None:
        self._bus = bus
        self.store = store
        self._site_name = site_name
        self.stations_by_id: dict[str, BenchStation] = {}
        self._specs = list(stations)
        #: a loaded test machine may stall the loop for a while: staleness at 1 s, not 250 ms
        self._safety = safety or SafetyConfig(stale_after_ms=1000)
        self._stack = contextlib.AsyncExitStack()

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            for station_id, name in self._specs:
                adapter = RecordingAdapter(f"{station_id}-rack", rack_capabilities())
                await self._stack.enter_async_context(adapter)
                publish = self._publisher(station_id)
                drive = ResistanceDrive(
                    station_id=station_id, actuator=adapter, publish=publish, safety=self._safety
                )
                await self._stack.enter_async_context(drive)
                cues = CueRouter(station_id=station_id, show=self._shower(drive), publish=publish)
                await self._stack.enter_async_context(cues)
                machine = StationStateMachine(station_id, publish=publish)
                self.stations_by_id[station_id] = BenchStation(
                    station_id, name, adapter, drive, machine, cues
                )
                machine.connected()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)

    def _publisher(self, station_id: str) -> Callable[[Event], None]:
        def publish(event: Event) -> None:
            station = self.stations_by_id.get(station_id)
            if station is not None and isinstance(event, Alert):
                if event.cleared:
                    station.alerts.pop(event.code, None)
                else:
                    station.alerts[event.code] = ActiveAlert(
                        event.code, event.severity, event.message, event.ts
                    )
            self._bus.publish(event)

        return publish

    @staticmethod
    def _shower(drive: ResistanceDrive) -> Callable[[Cue | None], None]:
        def show(cue: Cue | None) -> None:
            if cue is not None:
                drive.show_cue(cue)

        return show

    # -- GymService -----------------------------------------------------------------------

    @property
    def site_name(self) -> str:
        return self._site_name

    @property
    def bus(self) -> EventBus:
        return self._bus

    def _get(self, station_id: str) -> BenchStation:
        try:
            return self.stations_by_id[station_id]
        except KeyError:
            raise NotFoundError(f"no station {station_id!r}") from None

    def _snapshot(self, s: BenchStation) -> StationSnapshot:
        envelope = s.drive.envelope
        assert envelope is not None
        return StationSnapshot(
            station_id=s.station_id,
            name=s.name,
            state=s.machine.state,
            kind=EquipmentKind.RACK.value,
            unit=envelope.unit,
            athlete_id=s.machine.athlete_id,
            session_id=s.machine.session_id,
            set_id=s.set_id,
            exercise=s.exercise,
            set_index=s.set_index,
            reps=s.reps,
            target_reps=s.target_reps,
            load=envelope.level,
            target_load=envelope.pending.value if envelope.pending else envelope.target,
            ceiling=envelope.ceiling(),
            last_velocity_ms=s.last_velocity_ms,
            last_zone=s.last_zone,
            next_load=s.next_load,
            next_load_reason=s.next_load_reason,
            estopped=s.drive.estopped,
            alerts=tuple(s.alerts.values()),
            ts=time.time(),
        )

    def stations(self) -> list[StationSnapshot]:
        return [self._snapshot(s) for s in self.stations_by_id.values()]

    def station(self, station_id: str) -> StationSnapshot:
        return self._snapshot(self._get(station_id))

    def health(self) -> ServiceHealth:
        return ServiceHealth(
            mqtt_connected=None,
            devices=tuple(
                DeviceHealth(s.adapter.device_id, s.station_id, "rack", s.adapter.link)
                for s in self.stations_by_id.values()
            ),
            store_writable=self.store.writer.stats().writable,
        )

    async def estop(self, station_id: str, *, by: str, reason: str = "") -> CommandResult:
        s = self._get(station_id)
        verdict = s.drive.estop(source=CommandSource.STAFF, reason=reason or "panel", by=by)
        s.machine.estop(f"e-stop by {by}")
        async with asyncio.timeout(1.0):
            await s.drive.settle()  # the safe-state command has reached the device
        return _result(verdict)

    async def release(self, station_id: str, *, by: str) -> CommandResult:
        s = self._get(station_id)
        verdict = s.drive.release(by=by, source=CommandSource.STAFF)
        if verdict.outcome is CommandOutcome.APPLIED:
            s.machine.release(by)
        return _result(verdict)

    async def override_load(
        self, station_id: str, value: float, *, by: str, reason: str = ""
    ) -> CommandResult:
        s = self._get(station_id)
        envelope = s.drive.envelope
        assert envelope is not None
        before = envelope.level
        verdict = s.drive.request_load(
            value, source=CommandSource.STAFF, reason=reason or "staff override", by=by
        )
        if verdict.outcome is not CommandOutcome.REFUSED:
            why = f"set by {by}" + (f": {reason}" if reason else "") + f" ({verdict.reason})"
            self._bus.publish(
                DecisionEvent(
                    station_id=station_id,
                    decision=Decision(
                        DecisionKind.STAFF_OVERRIDE,
                        envelope.subject,
                        before,
                        verdict.target,
                        "staff_override",
                        why,
                        {"requested": value, "by": by},
                    ),
                    athlete_id=s.machine.athlete_id,
                    session_id=s.machine.session_id,
                )
            )
        await s.drive.settle()
        return _result(verdict)

    async def check_in(self, station_id: str, athlete_id: str, *, by: str) -> CommandResult:
        s = self._get(station_id)
        session_id = "s-" + secrets.token_hex(4)
        try:
            s.machine.check_in(athlete_id, session_id)
        except IllegalTransitionError as exc:
            return CommandResult(CommandOutcome.REFUSED, str(exc))
        s.drive.session_id = session_id
        verdict = s.drive.set_limits(Limits(athlete_id=athlete_id))
        self._bus.publish(
            SessionStarted(station_id=station_id, session_id=session_id, athlete_id=athlete_id)
        )
        s.sets_done = 0
        return CommandResult(CommandOutcome.APPLIED, f"checked in by {by}", verdict.target)

    async def check_out(self, station_id: str, *, by: str) -> CommandResult:
        s = self._get(station_id)
        athlete, session = s.machine.athlete_id, s.machine.session_id
        try:
            s.machine.check_out(f"checked out by {by}")
        except IllegalTransitionError as exc:
            return CommandResult(CommandOutcome.REFUSED, str(exc))
        s.drive.set_limits(Limits())
        if athlete is not None and session is not None:
            self._bus.publish(
                SessionEnded(
                    station_id=station_id, session_id=session, athlete_id=athlete, status="done"
                )
            )
        s.exercise = s.set_id = None
        s.set_index = None
        s.reps = 0
        s.last_velocity_ms = s.last_zone = None
        s.next_load = s.next_load_reason = None
        return CommandResult(CommandOutcome.APPLIED, f"checked out by {by}")

    # -- playing sets ------------------------------------------------------------------------

    async def run_set(
        self,
        station_id: str,
        athlete: SimulatedAthlete,
        *,
        exercise: str = "back_squat",
        load: float = 100.0,
        reps: int = 5,
        rep_s: float = 0.6,
        telemetry_hz: float = 25.0,
        band: tuple[float, float] = (0.45, 0.75),
    ) -> list[float]:
        """Play one set at the station (the athlete must be checked in); returns the mean
        velocity of each rep. Stops at once if the station leaves its set (an e-stop)."""
        s = self._get(station_id)
        athlete_id = s.machine.athlete_id
        assert athlete_id is not None, "check the athlete in first"
        s.drive.request_load(load, source=CommandSource.PLAN, reason="the plan's load")
        if s.drive.envelope is not None and s.drive.envelope.pending is not None:
            s.drive.confirm(source=CommandSource.ATHLETE)
        deadline = time.monotonic() + 10.0
        while not s.drive.envelope.at_target():  # type: ignore[union-attr]
            s.adapter.deliver()
            assert time.monotonic() < deadline, "the load never reached its target"
            await asyncio.sleep(0.02)
        await s.drive.settle()
        s.machine.load_ready()
        s.set_index = s.sets_done
        s.set_id = f"{s.machine.session_id}-set-{s.set_index}"
        s.exercise = exercise
        s.reps = 0
        s.target_reps = reps
        s.adapter.deliver()
        s.machine.start_set()
        s.drive.begin_set(set_id=s.set_id)
        started = time.time()
        velocities: list[float] = []
        t_device = 0.0
        for rep_index in range(reps):
            velocity = athlete.rep_velocity(exercise, load, rep_index)
            samples = half_sine_velocity(velocity, rep_s, telemetry_hz)
            chunk = max(1, round(telemetry_hz / 10))
            for start in range(0, samples.size, chunk):
                if s.drive.in_safe_state:
                    return velocities
                values = samples[start : start + chunk]
                s.adapter.deliver()
                self._bus.publish(
                    Telemetry(
                        station_id=station_id,
                        device_id=s.adapter.device_id,
                        channel=VELOCITY_CHANNEL,
                        unit="m/s",
                        t0=t_device,
                        period=1.0 / telemetry_hz,
                        values=tuple(float(v) for v in values),
                    )
                )
                t_device += values.size / telemetry_hz
                await asyncio.sleep(values.size / telemetry_hz)
            if s.drive.in_safe_state:
                return velocities
            velocities.append(velocity)
            s.reps = rep_index + 1
            s.last_velocity_ms = velocity
            s.last_zone = velocity_zone_colour(velocity, low_ms=band[0], high_ms=band[1])
            self._bus.publish(
                RepEvent(
                    station_id=station_id,
                    session_id=s.machine.session_id or "",
                    set_id=s.set_id,
                    athlete_id=athlete_id,
                    exercise=exercise,
                    set_index=s.set_index,
                    rep_index=rep_index,
                    load=load,
                    unit="kg",
                    metrics=_metrics(rep_index, velocity, rep_s),
                    velocity_loss_pct=100 * (1 - velocity / velocities[0]),
                )
            )
            s.cues.offer(rep_cue(rep_index + 1, velocity, s.last_zone))
        s.drive.end_set()
        s.sets_done += 1
        s.machine.end_set("rep target reached")
        best = max(velocities)
        self._bus.publish(
            SetEvent(
                station_id=station_id,
                session_id=s.machine.session_id or "",
                set_id=s.set_id,
                athlete_id=athlete_id,
                exercise=exercise,
                set_index=s.set_index,
                load=load,
                unit="kg",
                reps=len(velocities),
                stop=SetStop.REP_TARGET,
                started_ts=started,
                target_reps=reps,
                velocity_loss_pct=100 * (1 - velocities[-1] / best),
                best_velocity_ms=best,
                mean_velocity_ms=float(np.mean(velocities)),
            )
        )
        self._bus.publish(
            LoadVelocityPoint(
                station_id=station_id,
                athlete_id=athlete_id,
                exercise=exercise,
                load=load,
                velocity_ms=best,
                session_id=s.machine.session_id,
                set_id=s.set_id,
            )
        )
        # autoregulation: the first rep against the target band, ~6 % 1RM per 0.1 m/s
        first = velocities[0]
        target = (band[0] + band[1]) / 2
        next_load = round((load * (1 + 0.6 * (first - target))) * 2) / 2
        reason = (
            f"first rep {first:.2f} m/s against the zone's middle {target:.2f} m/s: "
            f"next set {next_load:g} kg"
        )
        s.next_load, s.next_load_reason = next_load, reason
        self._bus.publish(
            DecisionEvent(
                station_id=station_id,
                decision=Decision(
                    DecisionKind.AUTOREGULATION,
                    "load_kg",
                    load,
                    next_load,
                    "first_rep_velocity",
                    reason,
                    {"first_rep_ms": first, "target_ms": target},
                ),
                athlete_id=athlete_id,
                session_id=s.machine.session_id,
                set_id=s.set_id,
            )
        )
        return velocities


def _metrics(index: int, velocity: float, rep_s: float) -> RepMetrics:
    start = index * (rep_s + 1.0)
    return RepMetrics(
        index=index,
        start_s=start,
        end_s=start + rep_s + 1.0,
        concentric_start_s=start + 1.0,
        concentric_end_s=start + 1.0 + rep_s,
        rom_m=velocity * rep_s,
        mean_velocity_ms=velocity,
        mean_propulsive_velocity_ms=velocity * 1.05,
        peak_velocity_ms=velocity * math.pi / 2,
        concentric_s=rep_s,
        eccentric_s=1.0,
        time_to_peak_s=rep_s / 2,
    )
