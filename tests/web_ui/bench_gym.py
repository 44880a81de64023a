"""A site built from the controller's real parts, for the panel's tests and screenshots.

``BenchGym`` implements ``controller.service.GymService`` the way the site's ``Gym`` will:
each station is a real ``controller.station.Station`` (state machine, ``ResistanceDrive``
safety envelope, cue router, telemetry from the rack's sample batches) over a
``RecordingAdapter`` at the adapter boundary (it records every command the device would
get), publishing on the real bus that the real store records. Only the device I/O is
absent. ``run_set`` plays a set through the station with the velocities of a
``SimulatedAthlete`` (the emulators' athlete model): bar positions arrive as sample
batches like a rack's FIFO, and the reps, cues and decisions that the session runner will
publish are published the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import numpy as np

from controller.bus import EventBus
from controller.config import (
    BleDeviceConfig,
    DeviceRole,
    DevicesConfig,
    RackConfig,
    SafetyConfig,
    StationConfig,
)
from controller.cues import CueKind, rep_cue, velocity_zone_colour
from controller.errors import IllegalTransitionError, NotFoundError
from controller.events import (
    CommandOutcome,
    CommandSource,
    DecisionEvent,
    LoadVelocityPoint,
    RepEvent,
    SessionEnded,
    SessionStarted,
    SetEvent,
    SetStop,
)
from controller.safety import Verdict
from controller.service import (
    CommandResult,
    DeviceHealth,
    ServiceHealth,
    StationSnapshot,
)
from controller.station import Station
from controller.store import Store
from equipment_adapters.base import (
    Adapter,
    BatchSink,
    CueColour,
    EquipmentKind,
    EventSink,
)
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.emulators.athlete import SimulatedAthlete
from kernels.reps import RepMetrics
from plans.decisions import Decision, DecisionKind
from tests.controller.recording_adapter import RecordingAdapter, rack_capabilities

SAMPLE_HZ = 100.0  #: the bench racks' position sample rate
BATCH_S = 0.05  #: one FIFO read every 50 ms


@dataclass
class BenchStation:
    """A real station, with what the (future) session runner knows about its set."""

    station: Station
    adapter: RecordingAdapter
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
    position_m: float = 0.0
    device_time_s: float = 0.0


def _result(verdict: Verdict) -> CommandResult:
    return CommandResult(verdict.outcome, verdict.reason, verdict.target)


def _make_adapter(
    role: DeviceRole,
    device: RackConfig | BleDeviceConfig,
    device_id: str,
    on_batch: BatchSink,
    on_event: EventSink,
) -> Adapter:
    del device
    assert role == "rack", "the bench stations are racks"
    return RecordingAdapter(device_id, rack_capabilities(), on_batch=on_batch, on_event=on_event)


def rep_positions(mean_ms: float, concentric_s: float, eccentric_s: float) -> np.ndarray:
    """Bar positions of one rep sampled at ``SAMPLE_HZ``: down, then up with a half-sine
    velocity whose mean is ``mean_ms`` (up is positive)."""
    rom = mean_ms * concentric_s
    down = np.arange(round(eccentric_s * SAMPLE_HZ)) / SAMPLE_HZ
    up = np.arange(round(concentric_s * SAMPLE_HZ)) / SAMPLE_HZ
    lowering = rom * 0.5 * (1 + np.cos(math.pi * down / eccentric_s))
    rising = rom * 0.5 * (1 - np.cos(math.pi * up / concentric_s))
    return np.concatenate([lowering, rising]) - rom


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
        #: a loaded test machine may stall the loop for a while: staleness at 1 s, not 250 ms
        safety = safety or SafetyConfig(stale_after_ms=1000)
        self._configs = [
            StationConfig(
                id=station_id,
                name=name,
                devices=DevicesConfig(rack=RackConfig(host="127.0.0.1", map="bench-rack")),
                safety=safety,
            )
            for station_id, name in stations
        ]
        self.stations_by_id: dict[str, BenchStation] = {}
        self._stack = contextlib.AsyncExitStack()

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            for config in self._configs:
                station = Station(
                    config, bus=self._bus, make_adapter=_make_adapter, telemetry_hz=20.0
                )
                await self._stack.enter_async_context(station)
                adapter = station.adapters["rack"]
                assert isinstance(adapter, RecordingAdapter)
                self.stations_by_id[config.id] = BenchStation(station, adapter)
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
        station = s.station
        envelope = station.drive.envelope
        assert envelope is not None
        return StationSnapshot(
            station_id=station.id,
            name=station.config.display_name,
            state=station.state.state,
            kind=EquipmentKind.RACK.value,
            unit=envelope.unit,
            athlete_id=station.state.athlete_id,
            session_id=station.state.session_id,
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
            estopped=station.drive.estopped,
            ts=time.time(),  # alerts: the live floor folds them from the bus
        )

    def stations(self) -> list[StationSnapshot]:
        return [self._snapshot(s) for s in self.stations_by_id.values()]

    def station(self, station_id: str) -> StationSnapshot:
        return self._snapshot(self._get(station_id))

    def health(self) -> ServiceHealth:
        return ServiceHealth(
            mqtt_connected=None,
            devices=tuple(
                DeviceHealth(s.adapter.device_id, s.station.id, "rack", s.adapter.link)
                for s in self.stations_by_id.values()
            ),
            store_writable=self.store.writer.stats().writable,
        )

    async def estop(self, station_id: str, *, by: str, reason: str = "") -> CommandResult:
        s = self._get(station_id)
        verdict = s.station.estop(source=CommandSource.STAFF, reason=reason or "panel", by=by)
        async with asyncio.timeout(1.0):
            await s.station.drive.settle()  # the safe-state command has reached the device
        return _result(verdict)

    async def release(self, station_id: str, *, by: str) -> CommandResult:
        return _result(self._get(station_id).station.release(by=by))

    async def override_load(
        self, station_id: str, value: float, *, by: str, reason: str = ""
    ) -> CommandResult:
        s = self._get(station_id)
        drive = s.station.drive
        envelope = drive.envelope
        assert envelope is not None
        before = envelope.level
        verdict = drive.request_load(
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
                    athlete_id=s.station.state.athlete_id,
                    session_id=s.station.state.session_id,
                )
            )
        await drive.settle()
        return _result(verdict)

    async def check_in(self, station_id: str, athlete_id: str, *, by: str) -> CommandResult:
        s = self._get(station_id)
        session_id = "s-" + secrets.token_hex(4)
        try:
            s.station.check_in(athlete_id, session_id)
        except IllegalTransitionError as exc:
            return CommandResult(CommandOutcome.REFUSED, str(exc))
        self._bus.publish(
            SessionStarted(station_id=station_id, session_id=session_id, athlete_id=athlete_id)
        )
        s.sets_done = 0
        return CommandResult(CommandOutcome.APPLIED, f"checked in by {by}")

    async def check_out(self, station_id: str, *, by: str) -> CommandResult:
        s = self._get(station_id)
        athlete, session = s.station.state.athlete_id, s.station.state.session_id
        try:
            s.station.check_out(f"checked out by {by}")
        except IllegalTransitionError as exc:
            return CommandResult(CommandOutcome.REFUSED, str(exc))
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

    def _feed(self, s: BenchStation, positions: np.ndarray) -> None:
        """Bar positions arrive as a batch, like a rack's FIFO read."""
        s.adapter._deliver(  # the adapter base's delivery: freshness, then the station
            SampleBatch(
                s.adapter.device_id,
                Channel.POSITION,
                s.device_time_s,
                1.0 / SAMPLE_HZ,
                positions.astype(np.float64),
                received=time.monotonic(),
            )
        )
        s.device_time_s += positions.size / SAMPLE_HZ
        s.position_m = float(positions[-1])

    async def _stream(self, s: BenchStation, positions: np.ndarray) -> bool:
        """Play positions in real time; False when the station left its set (e-stop)."""
        chunk = max(1, round(BATCH_S * SAMPLE_HZ))
        for start in range(0, positions.size, chunk):
            if s.station.drive.in_safe_state:
                return False
            part = positions[start : start + chunk]
            self._feed(s, part)
            await asyncio.sleep(part.size / SAMPLE_HZ)
        return not s.station.drive.in_safe_state

    async def run_set(
        self,
        station_id: str,
        athlete: SimulatedAthlete,
        *,
        exercise: str = "back_squat",
        load: float = 100.0,
        reps: int = 5,
        rep_s: float = 0.6,
        band: tuple[float, float] = (0.45, 0.75),
    ) -> list[float]:
        """Play one set at the station (the athlete must be checked in); returns the mean
        velocity of each rep. Stops at once if the station leaves its set (an e-stop)."""
        s = self._get(station_id)
        station = s.station
        athlete_id = station.state.athlete_id
        assert athlete_id is not None, "check the athlete in first"
        station.drive.request_load(load, source=CommandSource.PLAN, reason="the plan's load")
        envelope = station.drive.envelope
        assert envelope is not None
        if envelope.pending is not None:
            station.drive.confirm(source=CommandSource.ATHLETE)
            # the envelope does not take its "confirm" cue down; the runner does
            station.cues.clear(CueKind.CONFIRM_LOAD)
        deadline = time.monotonic() + 10.0
        while not envelope.at_target():
            self._feed(s, np.zeros(5))
            assert time.monotonic() < deadline, "the load never reached its target"
            await asyncio.sleep(0.02)
        await station.drive.settle()
        station.state.load_ready()
        s.set_index = s.sets_done
        s.set_id = f"{station.state.session_id}-set-{s.set_index}"
        s.exercise = exercise
        s.reps = 0
        s.target_reps = reps
        self._feed(s, np.zeros(5))
        station.begin_set(s.set_id)
        started = time.time()
        velocities: list[float] = []
        for rep_index in range(reps):
            velocity = athlete.rep_velocity(exercise, load, rep_index)
            positions = rep_positions(velocity, rep_s, rep_s)
            if not await self._stream(s, positions):
                return velocities
            velocities.append(velocity)
            s.reps = rep_index + 1
            s.last_velocity_ms = velocity
            s.last_zone = velocity_zone_colour(velocity, low_ms=band[0], high_ms=band[1])
            self._bus.publish(
                RepEvent(
                    station_id=station_id,
                    session_id=station.state.session_id or "",
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
            station.cues.offer(rep_cue(rep_index + 1, velocity, s.last_zone))
        station.end_set("rep target reached")
        s.sets_done += 1
        best = max(velocities)
        session_id = station.state.session_id or ""
        self._bus.publish(
            SetEvent(
                station_id=station_id,
                session_id=session_id,
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
                session_id=session_id,
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
                session_id=session_id,
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
