from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.errors import InvalidInputError
from plans.autoregulation import GroupEquationPrior, LinearProfile, StepLimits, next_set_load
from plans.decisions import DecisionKind
from plans.model import VelocityZone

ZONE = VelocityZone(min_ms=0.55, max_ms=0.70)


def test_group_equations_reproduce_published_points() -> None:
    bench = GroupEquationPrior("bench_press", 100.0)
    assert bench.percent_one_rm(0.5) == pytest.approx(77.7, abs=0.1)
    assert bench.percent_one_rm(0.17) == pytest.approx(100.0, abs=0.5)
    squat = GroupEquationPrior("back_squat", 140.0)
    assert squat.percent_one_rm(0.5) == pytest.approx(90.2, abs=0.1)
    with pytest.raises(InvalidInputError):
        GroupEquationPrior("curl", 40.0)


def test_in_zone_keeps_the_load() -> None:
    model = LinearProfile.from_one_rm(140.0, 0.30, 1.75)
    load, decision = next_set_load(
        current_load_kg=100.0, first_rep_velocities_ms=[0.62, 0.60, 0.5], zone=ZONE, model=model
    )
    assert load == 100.0
    assert decision.rule == "autoregulation.in_zone"
    assert decision.before == decision.after == 100.0


def test_fast_first_reps_raise_the_load_by_the_profile() -> None:
    model = LinearProfile.from_one_rm(140.0, 0.30, 1.75)  # ~0.0104 m/s per kg
    load, decision = next_set_load(
        current_load_kg=100.0,
        first_rep_velocities_ms=[0.72, 0.70],
        zone=ZONE,
        model=model,
        limits=StepLimits(increment_kg=2.5, max_step_pct=10.0, max_step_kg=10.0),
    )
    # (0.71 - 0.625) / 0.01036 = 8.2 kg, rounded down to the 2.5 kg increment: +7.5 kg
    assert load == 107.5
    assert decision.kind is DecisionKind.AUTOREGULATION
    assert decision.inputs["observed_velocity_ms"] == pytest.approx(0.71)
    assert "faster than" in decision.reason


def test_group_prior_slows_the_load_down_when_reps_are_slow() -> None:
    model = GroupEquationPrior("back_squat", 140.0, "mcv")
    load, decision = next_set_load(
        current_load_kg=110.0, first_rep_velocities_ms=[0.45, 0.47], zone=ZONE, model=model
    )
    assert load < 110.0
    assert load % 2.5 == 0
    assert decision.after == load


@given(
    current=st.floats(20, 250),
    velocities=st.lists(st.floats(0.1, 1.6), min_size=1, max_size=4),
    zone_low=st.floats(0.2, 1.2),
    width=st.floats(0.05, 0.3),
    one_rm=st.floats(60, 300),
    increment=st.sampled_from([0.5, 1.0, 2.5, 5.0]),
    pct=st.floats(2, 20),
    kg=st.floats(1, 20),
)
@settings(max_examples=200, deadline=None)
def test_steps_are_bounded_rounded_and_in_the_right_direction(
    current: float,
    velocities: list[float],
    zone_low: float,
    width: float,
    one_rm: float,
    increment: float,
    pct: float,
    kg: float,
) -> None:
    zone = VelocityZone(min_ms=zone_low, max_ms=zone_low + width)
    model = LinearProfile.from_one_rm(one_rm, 0.3, 1.8)
    limits = StepLimits(increment_kg=increment, max_step_pct=pct, max_step_kg=kg)
    load, decision = next_set_load(
        current_load_kg=current,
        first_rep_velocities_ms=velocities,
        zone=zone,
        model=model,
        limits=limits,
    )
    step = load - current
    assert abs(step) <= min(kg, current * pct / 100) + 1e-9
    assert math.isclose(step / increment, round(step / increment), abs_tol=1e-6)
    observed = sum(velocities[:2]) / len(velocities[:2])
    if observed > zone.max_ms:
        assert step >= 0
    elif observed < zone.min_ms:
        assert step <= 0
    else:
        assert step == 0
    assert decision.before == current
    assert decision.after == load


def test_bad_input() -> None:
    model = LinearProfile.from_one_rm(100.0, 0.3, 1.7)
    with pytest.raises(InvalidInputError, match="positive velocity"):
        next_set_load(current_load_kg=50, first_rep_velocities_ms=[], zone=ZONE, model=model)
    with pytest.raises(InvalidInputError):
        LinearProfile(1.0, 0.01)
