from __future__ import annotations

from datetime import date, timedelta

import pytest

from plans.decisions import DecisionKind
from plans.model import Progression
from plans.progression import e1rm_trend_pct_per_week, weekly_progression
from plans.readiness import ReadinessState

G, A, R = ReadinessState.GREEN, ReadinessState.AMBER, ReadinessState.RED
D0 = date(2026, 2, 1)


def history(values: list[float], every_days: int = 7) -> list[tuple[date, float]]:
    return [(D0 + timedelta(days=every_days * i), v) for i, v in enumerate(values)]


def test_trend_in_percent_per_week() -> None:
    assert e1rm_trend_pct_per_week(history([100, 102, 104])) == pytest.approx(2 / 102 * 100)
    assert e1rm_trend_pct_per_week(history([100, 102])) is None
    assert e1rm_trend_pct_per_week(history([100, 101, 102], every_days=2)) is None


def test_rising_and_green_steps_up_but_not_past_the_estimate() -> None:
    new, decision = weekly_progression(
        current_one_rm_kg=140,
        e1rm_history=history([140, 143, 146, 149]),
        readiness_states=[G] * 6 + [A],
    )
    assert new == pytest.approx(143.5)
    assert decision.kind is DecisionKind.PROGRESSION
    assert decision.rule == "progression.step"
    capped, _ = weekly_progression(
        current_one_rm_kg=140,
        e1rm_history=history([136, 138, 141]),
        readiness_states=[G] * 7,
        rule=Progression(step_pct=5),
    )
    assert capped == 141


def test_falling_or_red_deloads() -> None:
    new, decision = weekly_progression(
        current_one_rm_kg=140, e1rm_history=history([140, 137, 134]), readiness_states=[G] * 7
    )
    assert new == pytest.approx(129.5)
    assert decision.rule == "progression.deload"
    _, decision = weekly_progression(
        current_one_rm_kg=140,
        e1rm_history=history([140, 141, 142]),
        readiness_states=[R, R, R, G, G, G, A],
    )
    assert decision.rule == "progression.deload"
    assert decision.inputs["red_share"] == pytest.approx(3 / 7, abs=1e-3)


def test_flat_holds_or_half_steps_and_no_data_changes_nothing() -> None:
    new, decision = weekly_progression(
        current_one_rm_kg=100, e1rm_history=history([100, 100.2, 100.1]), readiness_states=[G] * 7
    )
    assert decision.rule == "progression.half_step"
    assert new == pytest.approx(101.2, abs=0.05)
    new, decision = weekly_progression(
        current_one_rm_kg=100, e1rm_history=history([100, 102, 104]), readiness_states=[A] * 7
    )
    assert (new, decision.rule) == (100, "progression.hold")
    new, decision = weekly_progression(current_one_rm_kg=100, e1rm_history=[], readiness_states=[])
    assert (new, decision.rule) == (100, "progression.not_enough_data")
