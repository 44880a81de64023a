"""What the session runner reads about an athlete: readiness inputs, profile, zones, plan."""

from __future__ import annotations

import math
import time
from datetime import date, timedelta

import pytest

from controller.athlete_data import (
    daily_inputs,
    fits,
    load_model,
    mvt_for,
    pick_session,
    prior_from_set,
    zone_band,
)
from controller.demo.plans import demo_plan
from plans.exercises import builtin_catalogue

TODAY = date(2026, 11, 26)
NOW = time.time()


def row(day: date, kind: str, value: float, ts: float = 0.0) -> dict[str, object]:
    return {"day": day.isoformat(), "kind": kind, "value": value, "ts": ts}


def test_rows_become_one_daily_input_per_day_with_aliases_and_refusals_skipped() -> None:
    yesterday = TODAY - timedelta(days=1)
    days = daily_inputs(
        [
            row(TODAY, "ln_rmssd", 4.1),
            row(TODAY, "resting_hr", 55.0),
            row(TODAY, "soreness", 3.6),
            row(TODAY, "sleep_h", 30.0),  # refused by the model: skipped, the day kept
            row(TODAY, "steps", 9000.0),  # not a readiness input
            row(yesterday, "rmssd_ms", 60.0),
            row(yesterday, "ln_rmssd", 3.0, ts=0.0),
            row(yesterday, "ln_rmssd", 3.5, ts=1.0),  # the newest value of a kind wins
        ]
    )
    assert [d.day for d in days] == [yesterday, TODAY]
    assert days[0].ln_rmssd == 3.5
    today = days[1]
    assert today.ln_rmssd == 4.1
    assert today.resting_hr_bpm == 55.0
    assert today.soreness == 4
    assert today.sleep_h is None


def test_rmssd_in_ms_is_taken_as_its_log() -> None:
    (day,) = daily_inputs([row(TODAY, "rmssd_ms", 60.0)])
    assert day.ln_rmssd == pytest.approx(math.log(60.0))


def points(loads: list[float], v0: float = 1.8, slope: float = -0.012, age_days: float = 1.0):
    return [
        {"load": load, "velocity_ms": v0 + slope * load, "ts": NOW - age_days * 86400.0}
        for load in loads
    ]


def test_stored_points_make_the_athletes_profile() -> None:
    model = load_model(points([50, 70, 90, 110]), "back_squat", mvt_ms=0.30, now=NOW)
    assert model.source == "profile"
    assert model.one_rm_kg == pytest.approx((0.30 - 1.8) / -0.012)
    assert model.load_for_velocity(0.6) == pytest.approx(100.0)
    assert model.velocity_at(100.0) == pytest.approx(0.6)
    assert model.to_json()["e1rm_kg"] == pytest.approx(125.0)


def test_one_point_or_old_points_fall_back_to_the_group_equation_or_nothing() -> None:
    single = load_model(points([100.0]), "back_squat", mvt_ms=0.30, now=NOW)
    assert single.source == "group_equation"
    assert single.one_rm_kg == pytest.approx(prior_from_set("back_squat", 100.0, 0.6))
    # the equation's velocity at that 1RM's 100 kg comes back to 0.6 m/s
    assert single.velocity_at(100.0) == pytest.approx(0.6, abs=0.01)
    old = load_model(points([50, 90], age_days=400), "back_squat", mvt_ms=0.30, now=NOW)
    assert old.source == "none"
    assert not old.known
    none = load_model(points([40.0]), "band_row", mvt_ms=None, now=NOW)
    assert none.source == "none"
    with pytest.raises(ValueError, match="no profile"):
        none.load_for_velocity(0.5)


def test_mvt_comes_from_the_catalogue_then_the_kernels() -> None:
    catalogue = builtin_catalogue()
    assert mvt_for("back_squat", catalogue) == 0.30
    assert mvt_for("band_row", catalogue) is None
    assert mvt_for("full_squat", catalogue) == 0.32  # only in kernels.lifts


def test_heart_rate_zones_follow_age_and_resting_hr() -> None:
    low, high = zone_band(2, birth_year=1996, resting_hr_bpm=50.0, today=TODAY)
    hr_max = 208.0 - 0.7 * 30
    assert low == pytest.approx(50 + 0.6 * (hr_max - 50))
    assert high == pytest.approx(50 + 0.7 * (hr_max - 50))
    low, _ = zone_band(2, birth_year=None, resting_hr_bpm=None, today=TODAY)
    assert low == pytest.approx(0.6 * (208.0 - 0.7 * 35))


def test_the_session_of_the_day_and_whether_it_fits_a_station() -> None:
    plan = demo_plan("rack")
    assert pick_session(plan, today=TODAY, done=7) == "squat-bench"
    catalogue = builtin_catalogue()
    assert fits(plan, "squat-bench", frozenset({"rack"}), catalogue)
    assert not fits(plan, "squat-bench", frozenset({"bike", "hr_strap"}), catalogue)
    bike = demo_plan("bike")
    assert fits(bike, "intervals", frozenset({"bike", "hr_strap"}), catalogue)
