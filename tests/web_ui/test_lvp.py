from __future__ import annotations

import datetime as dt

import pytest

from kernels.errors import InvalidInputError
from web_ui.lvp import e1rm_history, estimated_1rm, fit_load_velocity, mvt_for


def test_recent_points_weigh_more() -> None:
    loads = [40.0, 60.0, 80.0, 40.0, 60.0, 80.0]
    old = [1.10, 0.90, 0.70]  # an older, weaker profile
    new = [1.20, 1.00, 0.80]
    equal = fit_load_velocity(loads, old + new)
    recent = fit_load_velocity(loads, old + new, ages_days=[90.0] * 3 + [1.0] * 3)
    assert equal.intercept == pytest.approx(1.55)
    assert recent.intercept == pytest.approx(1.60, abs=0.01)


def test_e1rm_is_where_the_line_meets_the_mvt() -> None:
    loads = [40.0, 60.0, 80.0, 100.0]
    velocities = [1.2 - 0.009 * load for load in loads]
    fit = fit_load_velocity(loads, velocities, mvt_ms=0.30)
    assert estimated_1rm(fit) == pytest.approx((1.2 - 0.30) / 0.009)
    with pytest.raises(InvalidInputError, match="does not fall with load"):
        fit_load_velocity([40.0, 60.0], [0.5, 0.6], mvt_ms=0.30)
    assert mvt_for("bench_press") == (0.16, True)  # the catalogue's figure
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
    with pytest.raises(InvalidInputError):
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
