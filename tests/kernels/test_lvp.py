"""Load-velocity profile, the group equations and the per-lift constants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equipment_adapters.emulators.athlete import SimulatedAthlete
from kernels.errors import InvalidInputError
from kernels.lifts import BENCH_MPV, LIFTS, SQUAT_MCV, SQUAT_MPV, VelocityMeasure, lift
from kernels.lvp import (
    LoadVelocityProfile,
    fit_profile,
    prior_load_for_velocity,
    prior_one_rm,
    recency_weights,
)
from kernels.reference import lvp as reference
from kernels.reference.line_fit import weighted_line_fit


@settings(max_examples=200, deadline=None)
@given(
    points=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=300.0),
            st.floats(min_value=0.05, max_value=2.5),
            st.floats(min_value=0.01, max_value=1.0),
        ),
        min_size=2,
        max_size=40,
    )
)
def test_compiled_fit_matches_reference(points: list[tuple[float, float, float]]) -> None:
    loads, velocities, weights = (np.array(column) for column in zip(*points, strict=True))
    if np.ptp(loads) < 1e-6:
        return  # no slope: covered by the error test
    slope = weighted_line_fit(loads.tolist(), velocities.tolist(), weights.tolist())[0]
    if not slope < 0.0:
        with pytest.raises(InvalidInputError, match="does not fall"):
            fit_profile(loads, velocities, mvt_ms=0.3, weights=weights)
        return
    expected = reference.fit(loads.tolist(), velocities.tolist(), weights.tolist(), 0.3)
    profile = fit_profile(loads, velocities, mvt_ms=0.3, weights=weights)
    assert (profile.slope, profile.intercept, profile.r2, profile.e1rm_kg) == expected


def test_exact_line_gives_exact_e1rm_and_loads() -> None:
    loads = np.array([40.0, 60.0, 80.0, 100.0, 120.0])
    velocities = 1.8 - 0.012 * loads  # reaches 0.3 m/s at 125 kg
    profile = fit_profile(loads, velocities, mvt_ms=0.3)
    assert profile.slope == pytest.approx(-0.012)
    assert profile.intercept == pytest.approx(1.8)
    assert profile.r2 == pytest.approx(1.0)
    assert profile.e1rm_kg == pytest.approx(125.0)
    assert profile.load_for_velocity(0.6) == pytest.approx(100.0)
    assert profile.velocity_at(50.0) == pytest.approx(1.2)
    assert profile.to_json() == {
        "slope": profile.slope,
        "intercept": profile.intercept,
        "r2": profile.r2,
        "mvt_ms": 0.3,
        "e1rm_kg": profile.e1rm_kg,
        "n_points": 5,
    }


def test_profile_of_the_simulated_athlete_finds_its_one_rm() -> None:
    athlete = SimulatedAthlete("a", "A")
    squat = athlete.lift("back_squat")
    loads = np.array([60.0, 80.0, 100.0, 120.0])
    velocities = np.array([athlete.fresh_velocity("back_squat", x) for x in loads])
    profile = fit_profile(loads, velocities, mvt_ms=squat.mvt_ms)
    assert profile.e1rm_kg == pytest.approx(athlete.one_rm_today("back_squat"))


def test_recent_points_weigh_more() -> None:
    # an old profile (1RM 125 kg) and a recent, stronger one (1RM 140 kg)
    loads = np.array([60.0, 100.0, 60.0, 100.0])
    velocities = np.array([1.08, 0.6, 1.17, 0.74])
    ages = np.array([120.0, 120.0, 0.0, 0.0])
    weights = recency_weights(ages, half_life_days=28.0)
    assert weights.tolist() == pytest.approx(reference.recency_weights(ages.tolist(), 28.0))
    even = fit_profile(loads, velocities, mvt_ms=0.3)
    recent = fit_profile(loads, velocities, mvt_ms=0.3, weights=weights)
    newest_only = fit_profile(loads[2:], velocities[2:], mvt_ms=0.3)
    assert even.e1rm_kg is not None
    assert recent.e1rm_kg is not None
    assert newest_only.e1rm_kg is not None
    gap_even = abs(even.e1rm_kg - newest_only.e1rm_kg)
    assert abs(recent.e1rm_kg - newest_only.e1rm_kg) < 0.15 * gap_even


@pytest.mark.parametrize(
    ("loads", "velocities", "where", "problem"),
    [
        ([80.0], [0.6], "profile", "at least two points"),
        ([80.0, 80.0, 80.0], [0.6, 0.62, 0.58], "profile", "same load"),
        ([60.0, 100.0], [0.5, 0.9], "profile", "does not fall with load"),
        ([60.0, 100.0], [0.8], "profile", "2 loads for 1 velocities"),
        ([60.0, -5.0], [0.8, 0.9], "load_kg", "not be negative"),
        ([60.0, 100.0], [0.8, 0.0], "mean_velocity_ms", "positive"),
        ([60.0, math.nan], [0.8, 0.6], "load_kg", "finite"),
        (["a", 100.0], [0.8, 0.6], "load_kg", "not numbers"),
    ],
)
def test_bad_profiles_are_refused_with_the_reason(
    loads: list[float], velocities: list[float], where: str, problem: str
) -> None:
    with pytest.raises(InvalidInputError, match=problem) as info:
        fit_profile(loads, velocities, mvt_ms=0.3)
    assert info.value.where == where


def test_bad_mvt_and_weights() -> None:
    with pytest.raises(InvalidInputError) as info:
        fit_profile([60.0, 100.0], [0.8, 0.5], mvt_ms=0.0)
    assert info.value.where == "mvt_ms"
    with pytest.raises(InvalidInputError) as info:
        fit_profile([60.0, 100.0], [0.8, 0.5], mvt_ms=0.3, weights=[1.0, 0.0])
    assert info.value.where == "weights"
    with pytest.raises(InvalidInputError):
        recency_weights([-1.0])
    with pytest.raises(InvalidInputError):
        recency_weights([1.0], half_life_days=0.0)


def test_published_group_equations_are_reproduced() -> None:
    # Gonzalez-Badillo & Sanchez-Medina 2010; Sanchez-Medina et al. 2017
    assert BENCH_MPV.percent_1rm(0.5) == pytest.approx(77.7, abs=0.05)
    assert SQUAT_MPV.percent_1rm(0.5) == pytest.approx(90.2, abs=0.05)
    # 100 % 1RM lands on the lifts' minimal velocity thresholds
    assert BENCH_MPV.velocity_at(100.0) == pytest.approx(0.17, abs=0.005)
    assert SQUAT_MPV.velocity_at(100.0) == pytest.approx(0.32, abs=0.005)
    assert SQUAT_MCV.velocity_at(100.0) == pytest.approx(0.32, abs=0.01)
    for equation in (BENCH_MPV, SQUAT_MPV, SQUAT_MCV):
        for percent in (40.0, 60.0, 77.7, 90.0, 100.0):
            assert equation.percent_1rm(equation.velocity_at(percent)) == pytest.approx(percent)
    # about 5.5-7 % 1RM per 0.1 m/s around working loads
    assert 5.0 < BENCH_MPV.percent_1rm(0.6) - BENCH_MPV.percent_1rm(0.7) < 7.5


def test_group_equation_prior() -> None:
    bench = lift("bench")
    assert bench.name == "bench_press"
    # 80 kg moved at 0.5 m/s MPV is 77.7 % of a 1RM of about 103 kg
    one_rm = prior_one_rm(bench, 80.0, 0.5, VelocityMeasure.MPV)
    assert one_rm == pytest.approx(80.0 / 0.777, rel=1e-3)
    assert prior_load_for_velocity(bench, one_rm, 0.5, VelocityMeasure.MPV) == pytest.approx(80.0)
    with pytest.raises(InvalidInputError, match="no published group equation"):
        prior_one_rm(lift("deadlift"), 100.0, 0.5, VelocityMeasure.MPV)
    with pytest.raises(InvalidInputError, match="outside"):
        BENCH_MPV.velocity_at(200.0)


def test_lift_table() -> None:
    assert lift("Back Squat") is LIFTS["back_squat"]
    assert lift("full-squat").mvt_ms == 0.32
    assert lift("deadlift").start.name == "BOTTOM"
    assert all(entry.mvt_source for entry in LIFTS.values())
    with pytest.raises(InvalidInputError, match="unknown exercise 'curl'") as info:
        lift("curl")
    assert info.value.where == "exercise"


def test_profile_without_mvt_has_no_e1rm() -> None:
    profile = fit_profile([60.0, 100.0], [0.9, 0.5], mvt_ms=None)
    assert profile.e1rm_kg is None
    assert profile.to_json()["e1rm_kg"] is None
    assert profile.load_for_velocity(0.7) == pytest.approx(80.0)


def test_profile_value_is_frozen() -> None:
    profile = LoadVelocityProfile(-0.01, 1.5, 0.99, 4, 0.3)
    with pytest.raises(AttributeError):
        profile.slope = 0.0  # type: ignore[misc]
