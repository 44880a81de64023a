"""Readiness scenarios from the issue, on histories built like real ones."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import numpy as np
import pytest

from benchmarks.rr_data import simulate_rr
from kernels import hrv
from kernels.errors import InvalidInputError
from plans.decisions import DecisionKind
from plans.readiness import (
    DailyInputs,
    ReadinessState,
    Status,
    overreaching_flag,
    readiness_profile,
)

START = date(2026, 1, 1)


def normal_days(n: int, *, seed: int = 0, start: date = START) -> list[DailyInputs]:
    """A steady athlete: lnRMSSD 4.0 +- 0.08, resting HR 55 +- 1.5, 7.5 h sleep, training
    every other day."""
    rng = np.random.default_rng(seed)
    return [
        DailyInputs(
            start + timedelta(days=i),
            ln_rmssd=round(4.0 + rng.normal(0, 0.08), 3),
            resting_hr_bpm=round(55 + rng.normal(0, 1.5), 1),
            sleep_h=round(7.5 + rng.normal(0, 0.4), 2),
            sleep_quality=4,
            fatigue=4,
            soreness=4,
            stress=4,
            mood=4,
            session_load=400.0 if i % 2 else 0.0,
            warmup_velocity_ms=round(0.90 + rng.normal(0, 0.02), 3) if i % 2 else None,
        )
        for i in range(n)
    ]


def test_a_week_of_good_sleep_and_stable_hrv_is_green() -> None:
    profile = readiness_profile(normal_days(60))
    assert profile.state is ReadinessState.GREEN
    assert profile.score is not None
    assert profile.score >= 65
    assert profile.confidence > 0.8
    assert not profile.not_enough_data
    assert not profile.overreaching
    hrv = profile.component("hrv")
    assert hrv.status is Status.NORMAL
    assert "within your normal range" in hrv.reason
    assert all(abs(r.z) < 3 for r in profile.components if r.z is not None)


def test_a_week_of_accumulating_fatigue_turns_red_and_flags_overreaching() -> None:
    history = normal_days(60)
    states = []
    for k in range(1, 8):
        day = START + timedelta(days=59 + k)
        history.append(
            DailyInputs(
                day,
                ln_rmssd=4.0 - 0.06 * k,
                resting_hr_bpm=55 + 1.3 * k,
                sleep_h=6.6,
                fatigue=max(1, 4 - k // 2),
                soreness=max(1, 4 - k // 2),
                stress=3,
                mood=3,
                session_load=700.0,
            )
        )
        states.append(readiness_profile(history).state)
    assert states[0] is ReadinessState.GREEN
    assert states[-1] is ReadinessState.RED
    ranks = {ReadinessState.GREEN: 0, ReadinessState.AMBER: 1, ReadinessState.RED: 2}
    assert all(ranks[a] <= ranks[b] for a, b in itertools.pairwise(states))
    final = readiness_profile(history)
    assert final.overreaching
    assert any("overreaching" in r for r in final.reasons)
    assert "below your normal range" in final.component("hrv").reason
    assert final.component("resting_hr").status is Status.LOW  # raised HR is the bad side
    flag = overreaching_flag(final, "ath-ben")
    assert flag is not None
    assert flag.kind is DecisionKind.FLAG
    assert flag.subject == "ath-ben.overreaching"
    assert "lnRMSSD" in flag.reason
    assert "resting HR" in flag.reason
    # Overreaching needs persistence: one bad morning is not enough.
    one_bad = [
        *normal_days(60),
        DailyInputs(START + timedelta(days=60), ln_rmssd=3.5, resting_hr_bpm=66),
    ]
    assert not readiness_profile(one_bad).overreaching
    assert overreaching_flag(readiness_profile(one_bad)) is None


def test_inputs_from_the_strap_and_the_panel() -> None:
    rr = simulate_rr(240, seed=2)
    morning = DailyInputs.from_morning_recording(START, rr)
    assert morning.ln_rmssd == pytest.approx(
        hrv.time_domain(hrv.correct_artifacts(rr).rr_ms).ln_rmssd
    )
    session = DailyInputs.from_session(START, rpe=7, minutes=60)
    assert session.session_load == 420
    assert morning.merged(session).session_load == 420


def test_missing_most_nights_lowers_confidence_not_the_verdict() -> None:
    full = normal_days(60)
    sparse = [d for i, d in enumerate(full) if i % 5 == 0]  # four nights in five missing
    profile = readiness_profile(sparse, today=full[-1].day)
    complete = readiness_profile(full)
    assert profile.confidence < complete.confidence - 0.3
    hrv = profile.component("hrv")
    assert hrv.status is Status.MISSING
    assert "fewer than 3 of the last 7 days" in hrv.reason
    assert profile.state is not ReadinessState.RED


def test_new_athlete_with_three_days_gets_not_enough_data() -> None:
    history = normal_days(3)
    # A tiny spread in three nights: a naive z-score would be enormous.
    history[-1] = DailyInputs(history[-1].day, ln_rmssd=3.6, resting_hr_bpm=60.0, sleep_h=7.0)
    profile = readiness_profile(history)
    assert profile.not_enough_data
    assert profile.score is None
    assert profile.state is ReadinessState.AMBER
    assert profile.confidence < 0.2
    assert all(r.z is None for r in profile.components if r.name != "wellness")
    assert any("not enough data" in r for r in profile.reasons)
    assert (
        "3 of 14" in profile.component("hrv").reason or "0 of 14" in profile.component("hrv").reason
    )


def test_floor_on_the_spread_bounds_z() -> None:
    flat = [
        DailyInputs(START + timedelta(days=i), ln_rmssd=4.0 + 0.0005 * (i % 2)) for i in range(30)
    ]
    drop = [DailyInputs(START + timedelta(days=30 + i), ln_rmssd=3.9) for i in range(7)]
    hrv = readiness_profile(flat + drop).component("hrv")
    assert hrv.z == pytest.approx(-0.1 / 0.05, rel=0.02)  # not -0.1 / 0.0005


def test_reasons_name_the_gap_in_sd() -> None:
    history = normal_days(60, seed=3)
    history += [DailyInputs(START + timedelta(days=60 + i), ln_rmssd=3.85) for i in range(7)]
    hrv = readiness_profile(history).component("hrv")
    assert hrv.reason.startswith("7-day lnRMSSD 3.85 ")
    assert "SD below your normal range" in hrv.reason


def test_json_form_and_input_validation() -> None:
    profile = readiness_profile(normal_days(40))
    data = profile.to_json()
    assert data["state"] in {"green", "amber", "red"}
    assert {c["name"] for c in data["components"]} == {
        "hrv",
        "resting_hr",
        "sleep",
        "wellness",
        "training_load",
        "neuromuscular",
    }
    with pytest.raises(InvalidInputError, match=r"2026-01-01\.sleep_quality"):
        DailyInputs(START, sleep_quality=7)
    with pytest.raises(InvalidInputError, match="no inputs"):
        readiness_profile([])
