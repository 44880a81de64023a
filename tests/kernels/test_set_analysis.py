"""Velocity loss, the stop rule and reps in reserve."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.errors import InvalidInputError
from kernels.reference import set_analysis as reference
from kernels.set_analysis import analyse_set


@settings(max_examples=200, deadline=None)
@given(
    velocities=st.lists(st.floats(min_value=0.05, max_value=2.5), min_size=1, max_size=25),
    best_of=st.integers(min_value=1, max_value=5),
)
def test_compiled_matches_reference(velocities: list[float], best_of: int) -> None:
    result = analyse_set(velocities, mvt_ms=0.3, best_of=best_of)
    best, losses = reference.velocity_losses(velocities, best_of)
    assert result.best_index == best
    assert list(result.losses_pct) == losses
    reserve = reference.reps_in_reserve(velocities, best, 0.3)
    if reserve is None:
        assert result.reps_in_reserve is None
    else:
        assert result.trend_ms_per_rep == reserve[0]
        assert result.reps_in_reserve == reserve[1]


def test_velocity_loss_against_the_best_of_the_first_reps() -> None:
    v = [0.80, 0.84, 0.82, 0.78, 0.74, 0.70, 0.66]
    result = analyse_set(v, stop_threshold_pct=20.0)
    assert result.best_index == 1
    assert result.best_velocity_ms == 0.84
    assert result.losses_pct[0] == pytest.approx(100 * 0.04 / 0.84)
    assert result.velocity_loss_pct == pytest.approx(100 * (0.84 - 0.66) / 0.84)
    assert result.stop
    assert result.stop_index == 6  # 21.4 %: first at or past 20 %
    earlier = analyse_set(v[:6], stop_threshold_pct=20.0)
    assert not earlier.stop
    assert earlier.stop_index is None
    assert analyse_set(v, best_of=1).best_index == 0


def test_reps_in_reserve_from_the_trend() -> None:
    # 1.0 m/s falling 0.05 a rep reaches the 0.3 m/s MVT at rep index 14
    v = [1.0 - 0.05 * i for i in range(6)]
    result = analyse_set(v, mvt_ms=0.3)
    assert result.trend_ms_per_rep == pytest.approx(-0.05)
    assert result.reps_in_reserve == pytest.approx(14.0 - 5.0)
    assert analyse_set(v[:2], mvt_ms=0.3).reps_in_reserve is None  # too few reps
    assert analyse_set([0.8, 0.8, 0.81, 0.82], mvt_ms=0.3).reps_in_reserve is None
    assert analyse_set([0.5, 0.4, 0.3, 0.2], mvt_ms=0.3).reps_in_reserve == 0.0
    assert analyse_set(v).reps_in_reserve is None  # no MVT given


def test_reps_in_reserve_on_a_noisy_linear_decline() -> None:
    rng = np.random.default_rng(4)
    true_reserve = []
    estimates = []
    for _ in range(50):
        start, drop = rng.uniform(0.6, 1.0), rng.uniform(0.02, 0.06)
        v = start - drop * np.arange(6) + rng.normal(0.0, 0.005, 6)
        estimate = analyse_set(v, mvt_ms=0.3).reps_in_reserve
        assert estimate is not None
        estimates.append(estimate)
        true_reserve.append((start - 0.3) / drop - 5.0)
    error = np.abs(np.array(estimates) - np.array(true_reserve))
    assert np.median(error) < 1.0


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"velocities_ms": []}, "velocities"),
        ({"velocities_ms": [0.5, -0.1]}, "velocities"),
        ({"velocities_ms": [0.5, np.nan]}, "velocities"),
        ({"velocities_ms": ["x"]}, "velocities"),
        ({"velocities_ms": [0.5], "best_of": 0}, "best_of"),
        ({"velocities_ms": [0.5], "stop_threshold_pct": 120.0}, "stop_threshold_pct"),
        ({"velocities_ms": [0.5], "mvt_ms": -0.3}, "mvt_ms"),
    ],
)
def test_bad_input(kwargs: dict[str, object], where: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        analyse_set(**kwargs)  # type: ignore[arg-type]
    assert info.value.where == where
