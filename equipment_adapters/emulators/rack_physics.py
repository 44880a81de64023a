"""The mechanics of a motorized rack with an athlete on it, sample by sample (vectorised).

No I/O and no clock: the emulator asks for the next ``n`` samples and this computes them
from the athlete model and the drive's state. A set is a chain of segments (setup, lowering,
pause, lifting, ...); in each one the bar follows a half-cosine between two heights, so a
lift's mean velocity is exactly the athlete model's, and the acceleration that the force
includes is smooth. Everything is deterministic given the seed.

Positions are cable lengths in metres (``origin_m`` plus the bar's height above the lowest
point of the rep); forces are cable tensions in newtons: the drive's resistance as a mass
(``load x (g + a)``), with the modes' extras, split between the sides by the athlete's
asymmetry.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from equipment_adapters.emulators.athlete import LiftProfile, SimulatedAthlete
from kernels.errors import InvalidInputError

G = 9.80665
SETUP_S = 1.0  #: the athlete takes the bar and gets set
RACK_S = 0.8  #: the athlete puts the bar back
BRIEF_PAUSE_S = 0.1  #: turnaround at the far end of a rep
FAILED_RISE = 0.2  #: fraction of the range a failed attempt reaches
FAILED_RISE_S = 1.5
FAILED_RETURN_S = 1.0

Array = npt.NDArray[np.float64]


class Phase(enum.StrEnum):
    IDLE = "idle"  #: nobody at the machine: the cable is unloaded
    SETUP = "setup"
    ECCENTRIC = "eccentric"
    PAUSE = "pause"
    CONCENTRIC = "concentric"
    FAILED = "failed"  #: a lift that stalls part-way
    RETURN = "return"  #: lowering after a failed lift
    RACK = "rack"


class Mode(enum.StrEnum):
    STANDARD = "standard"
    ECCENTRIC = "eccentric"
    CHAINS = "chains"


@dataclass(frozen=True, slots=True)
class Segment:
    """The bar goes from height ``p0`` to ``p1`` (m) in ``duration`` s from ``t0``."""

    phase: Phase
    t0: float
    duration: float
    p0: float
    p1: float
    assist: float = 1.0  #: share of the load the athlete carries (a spotter takes the rest)

    @property
    def t1(self) -> float:
        return self.t0 + self.duration

    def kinematics(self, t: Array) -> tuple[Array, Array]:
        """Height and acceleration at times ``t`` inside the segment."""
        if self.p0 == self.p1 or not math.isfinite(self.duration):
            return np.full(t.shape, self.p1), np.zeros(t.shape)
        u = np.clip((t - self.t0) / self.duration, 0.0, 1.0)
        rise = self.p1 - self.p0
        height = self.p0 + rise * (1.0 - np.cos(np.pi * u)) / 2.0
        accel = rise * np.pi**2 / (2.0 * self.duration**2) * np.cos(np.pi * u)
        return height, accel


@dataclass(frozen=True, slots=True)
class RepTruth:
    """What the emulated athlete really did in one rep (the oracle of end-to-end tests)."""

    index: int
    load_kg: float  #: load the athlete moved in the concentric phase (after the spotter)
    mean_velocity_ms: float  #: mean concentric velocity of the bar
    rom_m: float
    concentric_start_s: float  #: device time
    concentric_end_s: float
    spotted: bool = False


@dataclass(frozen=True, slots=True)
class SetTruth:
    exercise: str
    reps: tuple[RepTruth, ...]
    ended_by: str  #: "reps", "stop cue", "failure", "ended", "estop"
    failed_attempts: int = 0


@dataclass(slots=True)
class Drive:
    """The motors' resistance: a target, a ramp for increases, the mode and its settings."""

    target_kg: float = 0.0
    ramp_kg_s: float = 20.0
    mode: Mode = Mode.STANDARD
    eccentric_pct: float = 0.0
    chains_kg_per_m: float = 0.0
    spotter: bool = False
    spotter_threshold_ms: float = 0.15
    level_kg: float = 0.0  #: actual load at time ``since``
    since: float = 0.0

    def actual(self, t: float) -> float:
        return float(min(self.target_kg, self.level_kg + self.ramp_kg_s * max(t - self.since, 0.0)))

    def actual_at(self, t: Array) -> Array:
        return np.minimum(
            self.target_kg, self.level_kg + self.ramp_kg_s * np.maximum(t - self.since, 0.0)
        )

    def set_target(self, t: float, kg: float) -> None:
        """New target at time ``t``: a decrease applies at once, an increase ramps."""
        now = self.actual(t)
        self.level_kg = min(now, kg)
        self.since = t
        self.target_kg = kg

    def set_ramp(self, t: float, kg_s: float) -> None:
        self.level_kg = self.actual(t)
        self.since = t
        self.ramp_kg_s = kg_s

    def zero(self, t: float) -> None:
        self.set_target(t, 0.0)


@dataclass(slots=True)
class _SetState:
    exercise: str
    lift: LiftProfile
    target_reps: int | None
    reps: list[RepTruth] = field(default_factory=list)
    stop_reason: str = ""
    failed: int = 0
    attempt: int = 0  #: index of the rep being attempted

    @property
    def finishing(self) -> bool:
        done = self.target_reps is not None and len(self.reps) >= self.target_reps
        return done or bool(self.stop_reason)


class RackPhysics:
    """A rack (``sides`` cables) with ``athlete`` on it, sampled at ``rate_hz``."""

    def __init__(
        self,
        athlete: SimulatedAthlete,
        *,
        rate_hz: float,
        sides: int = 2,
        seed: int | None = None,
        origin_m: float = 0.25,
        position_noise_m: float = 0.0002,
        force_noise_n: float = 3.0,
        pretension_n: float = 10.0,
        exercise: str = "back_squat",
    ) -> None:
        if sides not in (1, 2):
            raise ValueError("a rack has one or two sides")
        self.athlete = athlete
        self.rate_hz = rate_hz
        self.sides = sides
        self.origin_m = origin_m
        self.position_noise_m = position_noise_m
        self.force_noise_n = force_noise_n
        self.pretension_n = pretension_n
        self.drive = Drive()
        self.seq = 0  #: number of the next sample
        self.sets: list[SetTruth] = []
        base_seed = athlete.seed if seed is None else seed
        # One noise stream per output, drawn in fixed blocks: the samples do not depend on
        # how many are asked for at a time.
        self._noise = [_NoiseStream(base_seed, index) for index in range(4)]
        self._set: _SetState | None = None
        # Nobody at the rack: the bar (or handle) waits where the rack's lift starts.
        home = self._start_height(athlete.lifts[exercise]) if exercise in athlete.lifts else 0.0
        self._segment = Segment(Phase.IDLE, 0.0, math.inf, home, home)

    # State ------------------------------------------------------------------------------

    @property
    def time(self) -> float:
        """Device time of the next sample."""
        return self.seq / self.rate_hz

    @property
    def phase(self) -> Phase:
        return self._segment.phase

    @property
    def in_set(self) -> bool:
        return self._set is not None

    @property
    def unloaded(self) -> bool:
        return self._segment.phase is Phase.IDLE

    @property
    def reps_in_set(self) -> int:
        return len(self._set.reps) if self._set else 0

    # Athlete ----------------------------------------------------------------------------

    def start_set(self, exercise: str, reps: int | None = None) -> None:
        """The athlete takes the bar now and lifts ``reps`` reps (None: until told or failing)."""
        if self._set is not None:
            raise InvalidInputError("a set is already in progress", where="start_set")
        if reps is not None and reps < 1:
            raise InvalidInputError(f"reps must be at least 1, not {reps}", where="start_set")
        try:
            lift = self.athlete.lift(exercise)
        except KeyError as exc:
            raise InvalidInputError(str(exc.args[0]), where="start_set") from None
        start = self._start_height(lift)
        now = self.time
        self._set = _SetState(exercise=exercise, lift=lift, target_reps=reps)
        self._segment = Segment(Phase.SETUP, now, SETUP_S, self._height_now(now), start)

    def request_stop(self, reason: str = "stop cue") -> None:
        """The athlete finishes the rep under way, then racks the bar."""
        if self._set is not None and not self._set.stop_reason:
            self._set.stop_reason = reason

    def abort_set(self, reason: str) -> None:
        """The athlete lets go now (e-stop, set ended from outside)."""
        state = self._set
        if state is None:
            return
        now = self.time
        height = self._height_now(now)
        self._finish(state, reason)
        self._segment = Segment(Phase.IDLE, now, math.inf, height, height)

    def set_athlete(self, athlete: SimulatedAthlete) -> None:
        if self._set is not None:
            raise InvalidInputError("cannot change athlete during a set", where="set_athlete")
        self.athlete = athlete

    @staticmethod
    def _start_height(lift: LiftProfile) -> float:
        return 0.0 if lift.bottom_start else lift.rom_m

    def _height_now(self, t: float) -> float:
        height, _ = self._segment.kinematics(np.array([t]))
        return float(height[0])

    def _finish(self, state: _SetState, ended_by: str) -> None:
        self.sets.append(
            SetTruth(
                exercise=state.exercise,
                reps=tuple(state.reps),
                ended_by=ended_by,
                failed_attempts=state.failed,
            )
        )
        self._set = None

    # Segments ---------------------------------------------------------------------------

    def _next(self, prev: Segment) -> Segment:
        t, height = prev.t1, prev.p1
        state = self._set
        if state is None or prev.phase is Phase.IDLE:
            return Segment(Phase.IDLE, t, math.inf, height, height)
        lift = state.lift
        rom = lift.rom_m
        lowering = rom / self.athlete.eccentric_velocity_ms
        if prev.phase is Phase.RACK:
            self._finish(state, state.stop_reason or "reps")
            return Segment(Phase.IDLE, t, math.inf, height, height)
        if prev.phase is Phase.SETUP:
            if lift.bottom_start:
                return self._lift(t)
            return Segment(Phase.ECCENTRIC, t, lowering, rom, 0.0)
        if prev.phase is Phase.ECCENTRIC:
            if lift.bottom_start and state.finishing:
                return Segment(Phase.RACK, t, RACK_S, height, height)
            pause = self.athlete.pause_s if lift.bottom_start else BRIEF_PAUSE_S
            return Segment(Phase.PAUSE, t, pause, 0.0, 0.0)
        if prev.phase is Phase.PAUSE:
            at_bottom = height <= 0.0
            if state.finishing and at_bottom == lift.bottom_start:
                return Segment(Phase.RACK, t, RACK_S, height, height)
            if at_bottom:
                return self._lift(t)
            return Segment(Phase.ECCENTRIC, t, lowering, rom, 0.0)
        if prev.phase is Phase.CONCENTRIC:
            if state.finishing and not lift.bottom_start:
                return Segment(Phase.RACK, t, RACK_S, rom, rom)
            pause = BRIEF_PAUSE_S if lift.bottom_start else self.athlete.pause_s
            return Segment(Phase.PAUSE, t, pause, rom, rom)
        if prev.phase is Phase.FAILED:
            return Segment(Phase.RETURN, t, FAILED_RETURN_S, height, 0.0)
        # RETURN: the failed lift is back at the bottom; the set is over.
        return Segment(Phase.RACK, t, RACK_S, height, height)

    def _lift(self, t: float) -> Segment:
        """Plan the concentric phase of the next rep from the load at its start."""
        state = self._set
        assert state is not None
        lift = state.lift
        drive = self.drive
        load = drive.actual(t)
        if drive.mode is Mode.CHAINS:
            load += drive.chains_kg_per_m * lift.rom_m / 2.0
        index = state.attempt
        state.attempt += 1
        velocity = self.athlete.rep_velocity(state.exercise, load, index)
        moved = load
        spotted = False
        if drive.spotter and velocity < drive.spotter_threshold_ms and load > 0:
            moved = self.athlete.spotted_load(
                state.exercise, load, index, drive.spotter_threshold_ms
            )
            velocity = self.athlete.rep_velocity(state.exercise, moved, index)
            spotted = True
        assist = moved / load if load > 0 else 1.0
        if velocity <= 0.0:
            state.failed += 1
            state.stop_reason = state.stop_reason or "failure"
            return Segment(Phase.FAILED, t, FAILED_RISE_S, 0.0, FAILED_RISE * lift.rom_m, assist)
        duration = lift.rom_m / velocity
        state.reps.append(
            RepTruth(
                index=len(state.reps),
                load_kg=moved,
                mean_velocity_ms=velocity,
                rom_m=lift.rom_m,
                concentric_start_s=t,
                concentric_end_s=t + duration,
                spotted=spotted,
            )
        )
        return Segment(Phase.CONCENTRIC, t, duration, 0.0, lift.rom_m, assist)

    # Sampling ---------------------------------------------------------------------------

    def skip(self, n: int) -> None:
        """Let ``n`` samples of time pass without computing them (nobody would read them)."""
        end = (self.seq + n) / self.rate_hz
        while self._segment.t1 <= end:
            self._segment = self._next(self._segment)
        self.seq += n

    def sample(self, n: int) -> dict[str, Array]:
        """The next ``n`` samples: ``position``/``force`` or their ``_left``/``_right`` pairs."""
        times = (self.seq + np.arange(n, dtype=np.float64)) / self.rate_hz
        height = np.empty(n)
        accel = np.empty(n)
        carried = np.ones(n)  # share of the load on the cable (spotter, idle)
        lowering = np.zeros(n, dtype=bool)
        idle = np.zeros(n, dtype=bool)
        start = 0
        while start < n:
            segment = self._segment
            stop = start + int(np.searchsorted(times[start:], segment.t1, side="left"))
            if stop > start:
                h, a = segment.kinematics(times[start:stop])
                height[start:stop] = h
                accel[start:stop] = a
                carried[start:stop] = segment.assist
                lowering[start:stop] = segment.phase in (Phase.ECCENTRIC, Phase.RETURN)
                idle[start:stop] = segment.phase is Phase.IDLE
            if stop < n:
                self._segment = self._next(segment)
            start = stop
        self.seq += n
        drive = self.drive
        load = drive.actual_at(times)
        if drive.mode is Mode.ECCENTRIC and drive.eccentric_pct:
            load = np.where(lowering, load * (1.0 + drive.eccentric_pct / 100.0), load)
        if drive.mode is Mode.CHAINS and drive.chains_kg_per_m:
            load = load + drive.chains_kg_per_m * height
        # A cable pulls, it never pushes: a bar decelerating faster than g slackens it.
        pulled = np.maximum(load * carried * (G + accel), 0.0)
        total = np.where(idle, self.pretension_n * self.sides, pulled)
        asym = self.athlete.asymmetry if self.sides == 2 else 0.0
        out: dict[str, Array] = {}
        sigma_p, sigma_f = self.position_noise_m, self.force_noise_n
        noise = self._noise
        if self.sides == 1:
            out["position"] = self.origin_m + height + noise[0].take(n) * sigma_p
            out["force"] = total + noise[2].take(n) * sigma_f
        else:
            out["position_left"] = (
                self.origin_m + height * (1 + asym / 2) + noise[0].take(n) * sigma_p
            )
            out["position_right"] = (
                self.origin_m + height * (1 - asym / 2) + noise[1].take(n) * sigma_p
            )
            out["force_left"] = total * (1 + asym) / 2 + noise[2].take(n) * sigma_f
            out["force_right"] = total * (1 - asym) / 2 + noise[3].take(n) * sigma_f
        return out


class _NoiseStream:
    """Standard normal noise consumed in order, generated in blocks of a fixed size."""

    BLOCK = 4096

    def __init__(self, seed: int, index: int) -> None:
        self._rng = np.random.default_rng([seed, index])
        self._buffer = np.empty(0)

    def take(self, n: int) -> Array:
        while self._buffer.size < n:
            self._buffer = np.concatenate([self._buffer, self._rng.standard_normal(self.BLOCK)])
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out
