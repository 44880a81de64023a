"""The rack's mechanics: what the athlete model says is what the samples show."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from equipment_adapters.emulators.athlete import DEMO_ATHLETES, SimulatedAthlete
from equipment_adapters.emulators.rack_physics import G, Mode, Phase, RackPhysics, SetTruth
from kernels.errors import InvalidInputError

RATE = 1000.0


def quiet(athlete: SimulatedAthlete) -> RackPhysics:
    physics = RackPhysics(athlete, rate_hz=RATE, position_noise_m=0.0, force_noise_n=0.0)
    physics.drive.ramp_kg_s = 1000.0
    return physics


def lift(
    physics: RackPhysics, exercise: str, load: float, reps: int | None = 5
) -> tuple[SetTruth, dict[str, np.ndarray]]:
    physics.drive.set_target(physics.time, load)
    physics.start_set(exercise, reps)
    chunks = []
    while physics.in_set:
        chunks.append(physics.sample(500))
    trace = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    return physics.sets[-1], trace


def mean_velocity(trace: np.ndarray, start_s: float, end_s: float, t0: float = 0.0) -> float:
    a = round((start_s - t0) * RATE)
    b = round((end_s - t0) * RATE)
    return float((trace[b - 1] - trace[a]) / ((b - 1 - a) / RATE))


def test_reps_move_at_the_athletes_velocity_and_slow_down() -> None:
    athlete = DEMO_ATHLETES[3]  # Dev, no asymmetry
    physics = quiet(athlete)
    truth, trace = lift(physics, "back_squat", 100.0, reps=5)
    assert truth.ended_by == "reps"
    assert len(truth.reps) == 5
    velocities = [r.mean_velocity_ms for r in truth.reps]
    expected = [athlete.rep_velocity("back_squat", 100.0, i) for i in range(5)]
    assert velocities == pytest.approx(expected)
    assert all(a > b for a, b in itertools.pairwise(velocities))
    for rep in truth.reps:
        measured = mean_velocity(
            trace["position_left"], rep.concentric_start_s, rep.concentric_end_s
        )
        assert measured == pytest.approx(rep.mean_velocity_ms, rel=0.02)
    assert np.ptp(trace["position_left"]) == pytest.approx(
        athlete.lift("back_squat").rom_m, abs=1e-6
    )


def test_a_poor_day_is_slower_at_the_same_load() -> None:
    normal = DEMO_ATHLETES[3]
    tired = dataclasses.replace(normal, readiness=0.9)
    fresh, _ = lift(quiet(normal), "back_squat", 100.0, reps=1)
    slow, _ = lift(quiet(tired), "back_squat", 100.0, reps=1)
    assert slow.reps[0].mean_velocity_ms < fresh.reps[0].mean_velocity_ms - 0.05


def test_holding_the_bar_pulls_the_load_split_by_asymmetry() -> None:
    athlete = dataclasses.replace(DEMO_ATHLETES[1], asymmetry=0.1)
    physics = quiet(athlete)
    physics.drive.set_target(0.0, 60.0)
    physics.start_set("back_squat", 1)
    setup = physics.sample(int(0.5 * RATE))  # the setup: still, at the top
    held = slice(100, None)  # after the 60 ms ramp to 60 kg
    assert np.mean(setup["force_left"][held] + setup["force_right"][held]) == pytest.approx(60 * G)
    assert np.mean(setup["force_left"][held]) == pytest.approx(0.55 * 60 * G)
    truth, trace = lift_rest(physics)
    rep = truth.reps[0]
    left = mean_velocity(
        trace["position_left"], rep.concentric_start_s, rep.concentric_end_s, t0=0.5
    )
    right = mean_velocity(
        trace["position_right"], rep.concentric_start_s, rep.concentric_end_s, t0=0.5
    )
    assert left / right == pytest.approx(1.05 / 0.95, rel=1e-3)


def lift_rest(physics: RackPhysics) -> tuple[SetTruth, dict[str, np.ndarray]]:
    chunks = []
    while physics.in_set:
        chunks.append(physics.sample(500))
    return physics.sets[-1], {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def test_eccentric_overload_adds_load_only_while_lowering() -> None:
    physics = quiet(DEMO_ATHLETES[3])
    physics.drive.mode = Mode.ECCENTRIC
    physics.drive.eccentric_pct = 25.0
    _, trace = lift(physics, "back_squat", 80.0, reps=1)
    force = trace["force_left"] + trace["force_right"]
    # the middle of the lowering has no acceleration (half-cosine): force = 1.25 x load x g
    lowering_middle = 1.0 + 0.55 / 0.5 / 2  # setup + half of 1.1 s
    assert force[round(lowering_middle * RATE)] == pytest.approx(1.25 * 80 * G, rel=1e-3)
    assert force[round(0.5 * RATE)] == pytest.approx(80 * G, rel=1e-3)  # setup: plain load


def test_chains_add_load_with_height() -> None:
    physics = quiet(DEMO_ATHLETES[3])
    physics.drive.mode = Mode.CHAINS
    physics.drive.chains_kg_per_m = 20.0
    truth, trace = lift(physics, "back_squat", 60.0, reps=1)
    force = trace["force_left"] + trace["force_right"]
    top = force[round(0.5 * RATE)]
    rep = truth.reps[0]
    bottom = force[round((rep.concentric_start_s - 0.05) * RATE)]  # the pause at the bottom
    assert top - bottom == pytest.approx(20.0 * 0.55 * G, rel=1e-3)
    assert bottom == pytest.approx(60 * G, rel=1e-3)
    # the athlete lifts the mean load over the range
    assert rep.load_kg == pytest.approx(60 + 20 * 0.55 / 2)


def test_without_a_spotter_a_too_heavy_rep_fails_and_with_one_it_is_saved() -> None:
    athlete = DEMO_ATHLETES[3]
    heavy = athlete.one_rm_today("back_squat")
    alone, trace = lift(quiet(athlete), "back_squat", heavy, reps=5)
    assert alone.ended_by == "failure"
    assert alone.failed_attempts == 1
    assert len(alone.reps) < 5
    # the failed attempt rises only part of the range
    assert np.ptp(trace["position_left"][-2500:]) < 0.3 * athlete.lift("back_squat").rom_m

    physics = quiet(athlete)
    physics.drive.spotter = True
    physics.drive.spotter_threshold_ms = 0.3
    spotted, _ = lift(physics, "back_squat", heavy, reps=5)
    assert spotted.ended_by == "reps"
    assert len(spotted.reps) == 5
    helped = [r for r in spotted.reps if r.spotted]
    assert helped
    assert all(r.load_kg < heavy and r.mean_velocity_ms >= 0.3 for r in helped)


def test_load_increases_ramp_and_decreases_apply_at_once() -> None:
    physics = quiet(DEMO_ATHLETES[0])
    physics.drive.ramp_kg_s = 20.0
    physics.drive.set_target(0.0, 50.0)
    assert physics.drive.actual(1.0) == pytest.approx(20.0)
    assert physics.drive.actual(3.0) == pytest.approx(50.0)
    physics.drive.set_target(3.0, 10.0)
    assert physics.drive.actual(3.0) == pytest.approx(10.0)
    physics.drive.set_target(3.0, 30.0)
    assert physics.drive.actual(3.5) == pytest.approx(20.0)


def test_a_stop_ends_the_set_after_the_current_rep() -> None:
    physics = quiet(DEMO_ATHLETES[0])
    physics.drive.set_target(0.0, 40.0)
    physics.start_set("back_squat", reps=None)
    while physics.reps_in_set < 2:
        physics.sample(100)
    physics.request_stop()
    truth, _ = lift_rest(physics)
    assert truth.ended_by == "stop cue"
    assert len(truth.reps) == 2
    assert physics.phase is Phase.IDLE
    assert physics.unloaded


def test_a_deadlift_starts_from_the_floor() -> None:
    physics = quiet(DEMO_ATHLETES[3])
    truth, trace = lift(physics, "deadlift", 100.0, reps=2)
    assert len(truth.reps) == 2
    # the first thing after the setup is the pull: the bar starts at the bottom
    assert trace["position_left"][round(0.99 * RATE)] == pytest.approx(physics.origin_m, abs=1e-3)
    assert truth.reps[0].concentric_start_s == pytest.approx(1.0)


def test_samples_do_not_depend_on_how_they_are_asked_for() -> None:
    one = RackPhysics(DEMO_ATHLETES[2], rate_hz=RATE, seed=5)
    many = RackPhysics(DEMO_ATHLETES[2], rate_hz=RATE, seed=5)
    for physics in (one, many):
        physics.drive.set_target(0.0, 30.0)
        physics.start_set("bench_press", 3)
    whole = one.sample(6000)
    parts = [many.sample(n) for n in (1, 999, 2500, 2500)]
    np.testing.assert_allclose(
        whole["position_right"], np.concatenate([p["position_right"] for p in parts]), atol=1e-12
    )


def test_bad_set_requests_are_refused() -> None:
    physics = quiet(DEMO_ATHLETES[0])
    with pytest.raises(InvalidInputError, match="no lift 'curl'"):
        physics.start_set("curl", 5)
    physics.start_set("back_squat", 5)
    with pytest.raises(InvalidInputError, match="already in progress"):
        physics.start_set("back_squat", 5)
    with pytest.raises(InvalidInputError, match="during a set"):
        physics.set_athlete(DEMO_ATHLETES[1])
