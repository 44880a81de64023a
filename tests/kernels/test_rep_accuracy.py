"""Accuracy of the position rep detector against analytic ground truth (issue 2, section 4).

Every movement of the synthetic traces is a half-sine velocity profile, so each rep's mean
concentric, mean propulsive and peak velocity and its range are known exactly. The traces
carry what real sensors add: 0.2 mm of noise, 0.1 mm encoder steps, dropouts, gaps in the
timestamps, and what real sets contain: unracking, walkout jiggles, pauses at the top and
bottom, a grinding rep, a failed attempt, re-racking.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.traces import (
    Script,
    TrueRep,
    bench_set,
    deadlift_set,
    half_sine_mpv,
    squat_set,
    with_dropouts,
    with_time_gaps,
)
from kernels.rep_config import DetectorConfig, G
from kernels.rep_detector import RepDetector
from kernels.reps import RepMetrics

SETS = {"squat": squat_set(), "bench": bench_set(), "deadlift": deadlift_set()}
NOISE_M = 0.0002
QUANTUM_M = 0.0001


def _check(
    reps: list[RepMetrics], truth: list[TrueRep], *, mcv: float, mpv: float, peak: float
) -> None:
    assert len(reps) == len(truth)
    for rep, true in zip(reps, truth, strict=True):
        label = f"rep {rep.index} at {true.concentric_start_s:.2f} s"
        assert rep.rom_m == pytest.approx(true.rom_m, abs=0.01), label
        assert rep.mean_velocity_ms == pytest.approx(true.mean_velocity_ms, rel=mcv), label
        assert rep.mean_propulsive_velocity_ms == pytest.approx(
            true.mean_propulsive_velocity_ms, rel=mpv
        ), label
        assert rep.peak_velocity_ms == pytest.approx(true.peak_velocity_ms, rel=peak), label
        assert rep.concentric_start_s == pytest.approx(true.concentric_start_s, abs=0.05), label


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rate", [100.0, 200.0, 500.0, 1000.0])
@pytest.mark.parametrize("name", sorted(SETS))
def test_reps_and_metrics_within_tolerance(name: str, rate: float, seed: int) -> None:
    script = SETS[name]
    _t, x = script.render(rate, noise_m=NOISE_M, quantum_m=QUANTUM_M, seed=seed)
    detector = RepDetector(DetectorConfig(rate))
    reps = [*detector.feed(x, 0.0, 1.0 / rate), *detector.finish()]
    _check(reps, script.reps, mcv=0.05, mpv=0.06, peak=0.05)
    assert detector.partial_reps == script.partial_reps


@pytest.mark.parametrize("rate", [100.0, 1000.0])
@pytest.mark.parametrize("name", sorted(SETS))
def test_dropouts_inside_reps_are_bridged(name: str, rate: float) -> None:
    script = SETS[name]
    t, x = script.render(rate, noise_m=NOISE_M, quantum_m=QUANTUM_M, seed=5)
    spans = []
    for i, rep in enumerate(script.reps):
        at = rep.concentric_start_s + (0.2 + 0.1 * (i % 5)) * (
            rep.concentric_end_s - rep.concentric_start_s
        )
        spans.append((at, at + 0.04))
    detector = RepDetector(DetectorConfig(rate))
    reps = [*detector.feed(with_dropouts(x, t, spans), 0.0, 1.0 / rate), *detector.finish()]
    _check(reps, script.reps, mcv=0.05, mpv=0.06, peak=0.05)
    assert detector.partial_reps == script.partial_reps


@pytest.mark.parametrize("rate", [100.0, 1000.0])
@pytest.mark.parametrize("name", sorted(SETS))
def test_timestamp_gaps_and_jitter(name: str, rate: float) -> None:
    script = SETS[name]
    rng = np.random.default_rng(7)
    t, x = script.render(rate, noise_m=NOISE_M, quantum_m=QUANTUM_M, seed=7)
    t = t + rng.uniform(-0.05, 0.05, t.size) / rate  # a logger's clock jitter
    spans = [(r.concentric_start_s + 0.3, r.concentric_start_s + 0.33) for r in script.reps]
    t, x = with_time_gaps(t, x, spans)
    detector = RepDetector(DetectorConfig(rate))
    reps = [*detector.feed_timed(t, x), *detector.finish()]
    _check(reps, script.reps, mcv=0.05, mpv=0.06, peak=0.05)


@pytest.mark.parametrize(("rate", "tolerance"), [(50.0, 0.08), (2000.0, 0.05)])
@pytest.mark.parametrize("name", sorted(SETS))
def test_rate_extremes_count_exactly(name: str, rate: float, tolerance: float) -> None:
    script = SETS[name]
    _t, x = script.render(rate, noise_m=NOISE_M, quantum_m=QUANTUM_M, seed=3)
    detector = RepDetector(DetectorConfig(rate))
    reps = [*detector.feed(x, 0.0, 1.0 / rate), *detector.finish()]
    _check(reps, script.reps, mcv=tolerance, mpv=tolerance, peak=tolerance)
    assert detector.partial_reps == script.partial_reps


#: (range, concentric time): peak deceleration from 0.55 g (no braking) to 2.4 g
BRAKING_REPS = ((0.45, 0.90), (0.50, 0.70), (0.50, 0.50), (0.55, 0.45), (0.50, 0.36), (0.45, 0.30))


@pytest.mark.parametrize("rate", [100.0, 1000.0])
def test_mean_propulsive_velocity_stops_where_braking_starts(rate: float) -> None:
    script = Script(0.2).pause(1.0)
    for rom, con_s in BRAKING_REPS:
        script.bottom_rep(rom, con_s, eccentric_s=1.0)
    _t, x = script.render(rate, noise_m=NOISE_M, quantum_m=QUANTUM_M, seed=11)
    detector = RepDetector(DetectorConfig(rate))
    reps = [*detector.feed(x, 0.0, 1.0 / rate), *detector.finish()]
    _check(reps, script.reps, mcv=0.05, mpv=0.06, peak=0.05)
    for rep, (rom, con_s) in zip(reps, BRAKING_REPS, strict=True):
        braking = np.pi**2 * rom / (2 * con_s**2) > G
        assert (half_sine_mpv(rom, con_s) > rom / con_s) == braking
        if braking:
            assert rep.mean_propulsive_velocity_ms > rep.mean_velocity_ms * 1.05
        else:
            assert rep.mean_propulsive_velocity_ms == rep.mean_velocity_ms


def test_failed_attempt_and_unrack_are_partial_not_reps() -> None:
    script = squat_set()
    _t, x = script.render(500.0, noise_m=NOISE_M, quantum_m=QUANTUM_M, seed=1)
    detector = RepDetector(DetectorConfig(500.0))
    reps = [*detector.feed(x, 0.0, 0.002), *detector.finish()]
    assert len(reps) == len(script.reps)
    # unrack, failed attempt, and the bar lifted back up from the pins
    assert detector.partial_reps == script.partial_reps == 3
