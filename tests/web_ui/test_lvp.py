from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.errors import InvalidInputError
from web_ui.lvp import MVT_DEFAULTS, e1rm_history, estimated_1rm, fit_load_velocity, mvt_for

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    loads=st.lists(st.floats(min_value=1, max_value=400), min_size=2, max_size=40, unique=True),
    intercept=st.floats(min_value=0.5, max_value=2.5),
    slope=st.floats(min_value=-0.02, max_value=-0.001),
    noise=st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=40, max_size=40),
)
def test_the_fit_agrees_with_numpy(
    loads: list[float], intercept: float, slope: float, noise: list[float]
) -> None:
    x = np.array(loads)
    y = intercept + slope * x + np.array(noise[: len(loads)])
    fit = fit_load_velocity(x.tolist(), y.tolist())
    ref_slope, ref_intercept = np.polyfit(x, y, 1)
    assert fit.slope == pytest.approx(ref_slope, rel=1e-6, abs=1e-9)
    assert fit.intercept == pytest.approx(ref_intercept, rel=1e-6, abs=1e-9)
    assert fit.r2 == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, abs=1e-6)
    assert fit.n == len(loads)


def test_e1rm_is_where_the_line_meets_the_mvt() -> None:
    loads = [40.0, 60.0, 80.0, 100.0]
    velocities = [1.2 - 0.009 * load for load in loads]
    fit = fit_load_velocity(loads, velocities)
    assert estimated_1rm(fit, 0.30) == pytest.approx((1.2 - 0.30) / 0.009)
    rising = fit_load_velocity([40.0, 60.0], [0.5, 0.6])
    assert estimated_1rm(rising, 0.30) is None
    assert mvt_for("bench_press") == (MVT_DEFAULTS["bench_press"], True)
    assert mvt_for("kettlebell_swing")[1] is False


@pytest.mark.parametrize(
    ("loads", "velocities"),
    [
        ([50.0], [0.5]),
        ([50.0, 50.0], [0.5, 0.6]),
        ([1.0, 2.0], [0.5]),
        ([1.0, float("nan")], [0.5, 0.4]),
    ],
)
def test_unusable_profiles_are_refused(loads: list[float], velocities: list[float]) -> None:
    with pytest.raises(InvalidInputError, match="lvp"):
        fit_load_velocity(loads, velocities)


def test_e1rm_history_uses_a_trailing_window() -> None:
    start = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    points = []
    for week in range(8):
        strength = 100 + 2 * week  # the athlete gets stronger: the line moves right
        day = (start + dt.timedelta(days=7 * week)).timestamp()
        for load in (50.0, 70.0, 90.0):
            velocity = 1.4 * (1 - load / (strength * 1.25))
            points.append({"ts": day, "load": load, "velocity_ms": velocity})
    history = e1rm_history(points, mvt_ms=0.30, window_days=7)
    assert len(history) == 8
    values = [h.e1rm for h in history]
    assert values == sorted(values)
    assert history[0].day == "2026-01-01"
    assert e1rm_history(points[:1], mvt_ms=0.3) == []
