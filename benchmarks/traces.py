"""Synthetic bar-position traces with analytic ground truth.

Every movement is a half-sine velocity profile: moving ``D`` metres in ``T`` seconds, the
velocity is ``v = (pi D / 2T) sin(pi tau / T)``, so the mean concentric velocity is exactly
``D / T``, the peak ``pi D / 2T``, and the propulsive phase ends analytically where
``a = -g`` (when the peak deceleration ``pi^2 D / 2T^2`` exceeds ``g``; otherwise MPV equals
MCV). Scripts of such movements make realistic sets: unrack, walkout jiggles, reps with
pauses, a failed attempt, re-rack; rendering adds sensor noise, quantisation, dropouts and
timestamp gaps at any sample rate.

The tests (accuracy against the truth), the benchmark (a long multi-set trace) and the
bundled example trace (``examples/back_squat_1khz.csv``) all use this module.
"""

from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

#: The value of g the truth uses for the propulsive phase (same as the kernels').
G = 9.81

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrueRep:
    """The analytic metrics of one rep's concentric phase (times in trace seconds)."""

    start_s: float  #: start of the rep (start of the eccentric for top-start lifts)
    concentric_start_s: float
    concentric_end_s: float
    rom_m: float
    mean_velocity_ms: float
    mean_propulsive_velocity_ms: float
    peak_velocity_ms: float
    eccentric_s: float


def half_sine_mpv(displacement: float, duration: float) -> float:
    """Mean propulsive velocity of a half-sine concentric of ``displacement`` in ``duration``."""
    peak = math.pi * displacement / (2.0 * duration)
    peak_decel = peak * math.pi / duration
    if peak_decel <= G:
        return displacement / duration
    tau_b = duration / math.pi * math.acos(-G / peak_decel)
    x_b = displacement / 2.0 * (1.0 - math.cos(math.pi * tau_b / duration))
    return x_b / tau_b


@dataclass
class Script:
    """A sequence of half-sine movements and pauses, with the reps it contains."""

    start_height_m: float = 1.0
    phases: list[tuple[float, float]] = field(default_factory=list)  #: (duration, displacement)
    reps: list[TrueRep] = field(default_factory=list)
    partial_reps: int = 0  #: upward movements that must be counted as partial

    @property
    def duration_s(self) -> float:
        return sum(d for d, _ in self.phases)

    @property
    def height_m(self) -> float:
        return self.start_height_m + sum(x for _, x in self.phases)

    def pause(self, seconds: float) -> Script:
        if seconds > 0.0:
            self.phases.append((seconds, 0.0))
        return self

    def move(self, displacement: float, seconds: float) -> Script:
        self.phases.append((seconds, displacement))
        return self

    def top_rep(
        self,
        rom: float,
        concentric_s: float,
        *,
        eccentric_s: float = 1.2,
        bottom_pause_s: float = 0.0,
        top_pause_s: float = 0.8,
    ) -> Script:
        """A rep of a lift that starts at the top (squat, bench press)."""
        start = self.duration_s
        self.move(-rom, eccentric_s).pause(bottom_pause_s)
        c0 = self.duration_s
        self.move(rom, concentric_s)
        self.reps.append(_truth(start, c0, rom, concentric_s, eccentric_s))
        return self.pause(top_pause_s)

    def bottom_rep(
        self,
        rom: float,
        concentric_s: float,
        *,
        eccentric_s: float = 1.0,
        top_pause_s: float = 0.4,
        bottom_pause_s: float = 0.8,
    ) -> Script:
        """A rep of a lift that starts at the bottom (deadlift)."""
        c0 = self.duration_s
        self.move(rom, concentric_s).pause(top_pause_s)
        self.move(-rom, eccentric_s)
        self.reps.append(_truth(c0, c0, rom, concentric_s, eccentric_s))
        return self.pause(bottom_pause_s)

    def jiggles(self, amplitude: float, count: int, seconds_each: float = 0.35) -> Script:
        """Walkout or set-up wobbles: up and down by ``amplitude`` (not reps, not partial)."""
        for _ in range(count):
            self.move(amplitude, seconds_each).move(-amplitude, seconds_each)
        return self

    def unrack(self, lift_m: float = 0.06) -> Script:
        """Lift the bar off the hooks (an upward movement that counts as partial)."""
        self.partial_reps += 1
        return self.move(lift_m, 0.5).pause(0.4)

    def rerack(self, drop_m: float = 0.06) -> Script:
        return self.pause(0.3).move(-drop_m, 0.5).pause(0.5)

    def failed_top_attempt(
        self, rom: float, reached: float, *, concentric_s: float = 1.2
    ) -> Script:
        """Descend ``rom``, rise only ``reached`` of it, stall, sink back to the pins."""
        self.partial_reps += 1
        rise = rom * reached
        self.move(-rom, 1.2).pause(0.1).move(rise, concentric_s).pause(0.6)
        return self.move(-rise, 0.8).pause(1.0)

    def failed_bottom_attempt(self, rise: float) -> Script:
        """Pull the bar ``rise`` metres off the floor and put it back down (partial)."""
        self.partial_reps += 1
        return self.move(rise, 0.7).pause(0.3).move(-rise, 0.6).pause(1.0)

    def render(
        self,
        rate_hz: float,
        *,
        noise_m: float = 0.0,
        quantum_m: float = 0.0,
        seed: int = 0,
        t0: float = 0.0,
    ) -> tuple[FloatArray, FloatArray]:
        """Sample the script: ``(t, position)`` with noise and quantisation."""
        n = math.floor(self.duration_s * rate_hz) + 1
        t = np.arange(n, dtype=np.float64) / rate_hz
        x = position_at(self, t)
        if noise_m > 0.0:
            x = x + np.random.default_rng(seed).normal(0.0, noise_m, n)
        if quantum_m > 0.0:
            x = np.round(x / quantum_m) * quantum_m
        return t + t0, x

    def shifted_reps(self, t0: float) -> list[TrueRep]:
        return [
            TrueRep(
                r.start_s + t0,
                r.concentric_start_s + t0,
                r.concentric_end_s + t0,
                r.rom_m,
                r.mean_velocity_ms,
                r.mean_propulsive_velocity_ms,
                r.peak_velocity_ms,
                r.eccentric_s,
            )
            for r in self.reps
        ]


def _truth(start: float, c0: float, rom: float, con_s: float, ecc_s: float) -> TrueRep:
    return TrueRep(
        start_s=start,
        concentric_start_s=c0,
        concentric_end_s=c0 + con_s,
        rom_m=rom,
        mean_velocity_ms=rom / con_s,
        mean_propulsive_velocity_ms=half_sine_mpv(rom, con_s),
        peak_velocity_ms=math.pi * rom / (2.0 * con_s),
        eccentric_s=ecc_s,
    )


def position_at(script: Script, t: FloatArray) -> FloatArray:
    """The script's exact position at times ``t`` (held constant after its end)."""
    durations = np.array([d for d, _ in script.phases], dtype=np.float64)
    moves = np.array([x for _, x in script.phases], dtype=np.float64)
    starts = np.concatenate(([0.0], np.cumsum(durations)))
    heights = script.start_height_m + np.concatenate(([0.0], np.cumsum(moves)))
    idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(durations) - 1)
    tau = np.clip((t - starts[idx]) / durations[idx], 0.0, 1.0)
    return heights[idx] + moves[idx] * 0.5 * (1.0 - np.cos(np.pi * tau))


def with_dropouts(x: FloatArray, t: FloatArray, spans: list[tuple[float, float]]) -> FloatArray:
    """A copy of ``x`` with NaN where ``start <= t < end`` for each span."""
    out = x.copy()
    for start, end in spans:
        out[(t >= start) & (t < end)] = np.nan
    return out


def with_time_gaps(
    t: FloatArray, x: FloatArray, spans: list[tuple[float, float]]
) -> tuple[FloatArray, FloatArray]:
    """Remove the samples inside each span (a gap in the timestamps)."""
    keep = np.ones(t.shape, dtype=bool)
    for start, end in spans:
        keep &= ~((t >= start) & (t < end))
    return t[keep], x[keep]


# Ready-made sets -------------------------------------------------------------------------

#: (rom, concentric duration) of a squat set getting slower rep by rep, first rep fast
#: enough to have a braking phase (peak deceleration > g).
SQUAT_REPS: tuple[tuple[float, float], ...] = (
    (0.55, 0.46),
    (0.55, 0.62),
    (0.56, 0.72),
    (0.54, 0.85),
    (0.55, 1.05),
    (0.53, 1.40),
)


def squat_set(*, failed: bool = True, grinder: bool = True) -> Script:
    """A back squat set: unrack, walkout, six reps with pauses, a failed attempt, re-rack."""
    s = Script(start_height_m=1.30).pause(1.0).unrack().jiggles(0.012, 2).pause(0.8)
    for i, (rom, con_s) in enumerate(SQUAT_REPS):
        s.top_rep(rom, con_s, eccentric_s=1.1 + 0.05 * i, bottom_pause_s=0.3 * (i % 2))
    if grinder:
        s.top_rep(0.52, 2.4, eccentric_s=1.6, bottom_pause_s=0.5, top_pause_s=1.0)
    if failed:
        s.failed_top_attempt(0.54, 0.35)
        s.move(0.54, 1.6).pause(0.5)  # spotter and athlete lift the bar back up: partial
        s.partial_reps += 1
    return s.jiggles(0.01, 1).rerack().pause(1.0)


def bench_set() -> Script:
    """A bench press set: unrack, five reps, one with a long pause on the chest."""
    s = Script(start_height_m=0.75).pause(0.8).unrack(0.05).pause(0.8)
    for i, (rom, con_s) in enumerate(((0.38, 0.38), (0.38, 0.55), (0.37, 0.7), (0.38, 0.9))):
        s.top_rep(rom, con_s, eccentric_s=0.9, bottom_pause_s=1.0 if i == 2 else 0.0)
    s.top_rep(0.37, 1.6, eccentric_s=1.0, bottom_pause_s=0.2)
    return s.rerack(0.05).pause(1.0)


def deadlift_set(*, failed: bool = True) -> Script:
    """A deadlift set starting on the floor: five reps, touch-and-go and dead-stop."""
    s = Script(start_height_m=0.22).pause(1.5)
    for i, (rom, con_s) in enumerate(((0.56, 0.62), (0.56, 0.75), (0.55, 0.85), (0.56, 1.0))):
        s.bottom_rep(rom, con_s, eccentric_s=0.9, bottom_pause_s=0.0 if i == 1 else 0.9)
    s.bottom_rep(0.55, 1.6, eccentric_s=1.1, bottom_pause_s=1.0)
    if failed:
        s.failed_bottom_attempt(0.08)
    return s.pause(1.0)


def multi_set_session(sets: int = 4, rest_s: float = 90.0) -> Script:
    """Several squat sets separated by rests: the benchmark's long trace."""
    s = Script(start_height_m=1.30).pause(2.0)
    for n in range(sets):
        s.unrack().jiggles(0.012, 1).pause(0.6)
        for i, (rom, con_s) in enumerate(SQUAT_REPS[: 5 + n % 2]):
            s.top_rep(rom, con_s * (1.0 + 0.03 * n), eccentric_s=1.1 + 0.05 * i)
        s.rerack().pause(rest_s)
    return s


def write_csv(
    path: Path, t: FloatArray, x: FloatArray, *, extra: dict[str, FloatArray] | None = None
) -> None:
    """Write a trace as the CSV ``gymctl analyze lift`` reads (``t``, ``position``)."""
    columns = {"t": t, "position": x, **(extra or {})}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in zip(*columns.values(), strict=True):
            writer.writerow([f"{row[0]:.6f}", *(f"{v:.4f}" for v in row[1:])])


#: Mean concentric velocities of the example set: about 70 % 1RM, slowing rep by rep.
EXAMPLE_MCV = (0.78, 0.80, 0.77, 0.73, 0.69, 0.64, 0.57, 0.47)


def example_squat_set() -> Script:
    """A realistic back squat set: unrack, walkout, eight reps slowing down, a failed ninth."""
    s = Script(start_height_m=1.32).pause(2.0).unrack(0.05).jiggles(0.01, 2).pause(1.2)
    for i, mcv in enumerate(EXAMPLE_MCV):
        rom = 0.56 - 0.004 * i
        s.top_rep(
            rom,
            rom / mcv,
            eccentric_s=1.3 + 0.04 * i,
            bottom_pause_s=0.05,
            top_pause_s=1.2 + 0.25 * i,
        )
    s.failed_top_attempt(0.53, 0.3, concentric_s=1.6)
    s.partial_reps += 1  # the spotter helps the bar back up
    return s.move(0.53, 1.8).pause(0.5).jiggles(0.01, 1).rerack(0.05).pause(1.5)


def write_example(path: Path) -> None:
    """The bundled example: :func:`example_squat_set` at 1 kHz, 0.2 mm noise, 0.1 mm steps."""
    t, x = example_squat_set().render(1000.0, noise_m=0.0002, quantum_m=0.0001, seed=7)
    write_csv(path, t, x)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write the bundled example trace")
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    write_example(args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
