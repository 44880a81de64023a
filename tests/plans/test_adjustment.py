from __future__ import annotations

from datetime import date

import pytest

from plans.adjustment import adjust_session
from plans.decisions import DecisionKind
from plans.exercises import EquipmentKind
from plans.model import ErgTarget, HRZoneTarget, PercentOneRM, StrengthBlock, VelocityZone
from plans.plan_io import builtin_plan
from plans.readiness import ReadinessProfile, ReadinessState


def profile(
    state: ReadinessState, *, confidence: float = 0.9, overreaching: bool = False
) -> ReadinessProfile:
    score = {ReadinessState.GREEN: 80.0, ReadinessState.AMBER: 55.0, ReadinessState.RED: 35.0}[
        state
    ]
    return ReadinessProfile(
        day=date(2026, 3, 1),
        score=score,
        state=state,
        confidence=confidence,
        components=(),
        reasons=(),
        not_enough_data=False,
        overreaching=overreaching,
        inputs={"score": score, "hrv_z": -1.2},
    )


def test_green_changes_nothing() -> None:
    plan = builtin_plan("vbt-strength")
    today = adjust_session(plan, "a-squat-bench", profile(ReadinessState.GREEN))
    assert today.session == plan.session("a-squat-bench")
    assert today.decisions == ()


def test_amber_lightens_every_block_and_records_why() -> None:
    plan = builtin_plan("vbt-strength")
    original = plan.session("a-squat-bench")
    today = adjust_session(plan, "a-squat-bench", profile(ReadinessState.AMBER))
    assert today.session is not None
    squat = today.session.blocks[0]
    assert isinstance(squat, StrengthBlock)
    before = original.blocks[0]
    assert isinstance(before, StrengthBlock)
    assert isinstance(squat.load, VelocityZone)
    assert isinstance(before.load, VelocityZone)
    assert squat.load.min_ms > before.load.min_ms  # faster zone: lighter load
    assert squat.sets == before.sets - 1
    assert squat.velocity_loss_stop_pct is not None
    assert before.velocity_loss_stop_pct is not None
    assert squat.velocity_loss_stop_pct < before.velocity_loss_stop_pct
    row = today.session.blocks[2]
    assert isinstance(row, StrengthBlock)
    assert isinstance(row.load, PercentOneRM)
    assert row.load.percent == pytest.approx(70 * 0.95)
    assert all(d.kind is DecisionKind.READINESS_ADJUSTMENT for d in today.decisions)
    rules = {d.rule for d in today.decisions}
    assert {
        "daily.amber.velocity_zone_shift",
        "daily.amber.volume",
        "daily.amber.velocity_loss_tighter",
        "daily.amber.load_scale",
    } <= rules
    load_decision = next(d for d in today.decisions if d.subject.endswith("blocks[2].load.percent"))
    assert (load_decision.before, load_decision.after) == (70.0, 66.5)
    assert "readiness amber (score 55" in load_decision.reason
    assert load_decision.inputs["hrv_z"] == -1.2
    assert load_decision.to_json()["kind"] == "readiness_adjustment"


def test_red_with_low_confidence_substitutes_lower_impact() -> None:
    plan = builtin_plan("vbt-strength")
    today = adjust_session(plan, "b-deadlift-press", profile(ReadinessState.RED, confidence=0.4))
    assert today.session is not None
    deadlift = today.session.blocks[0]
    assert isinstance(deadlift, StrengthBlock)
    assert deadlift.exercise == "trap_bar_deadlift"
    assert deadlift.velocity_loss_stop_pct == 7.5  # 15 % halved, under the 10 % cap
    assert deadlift.sets == 2  # 4 - 1, halved, rounded up
    band_only = adjust_session(
        plan,
        "b-deadlift-press",
        profile(ReadinessState.RED, confidence=0.4),
        equipment=frozenset({EquipmentKind.BAND}),
    )
    assert band_only.session is not None
    press = band_only.session.blocks[1]
    assert isinstance(press, StrengthBlock)
    assert press.exercise == "band_overhead_press"


def test_confident_red_or_overreaching_is_a_rest_day() -> None:
    plan = builtin_plan("hypertrophy")
    today = adjust_session(plan, "lower-a", profile(ReadinessState.RED, confidence=0.8))
    assert today.rest_day
    assert today.decisions[0].rule == "daily.red.rest_day"
    assert adjust_session(
        plan, "lower-a", profile(ReadinessState.AMBER, overreaching=True)
    ).rest_day


def test_hrv_guided_session_falls_back_and_bike_targets_drop() -> None:
    plan = builtin_plan("hrv-guided-intervals")
    today = adjust_session(plan, "intervals-4x4", profile(ReadinessState.AMBER))
    assert today.session is not None
    assert today.session.name == "easy-zone2"
    assert today.decisions[0].rule == "daily.gate.fallback"
    interval = today.session.blocks[0].intervals[0]  # type: ignore[union-attr]
    assert isinstance(interval.target, ErgTarget)
    assert interval.target.watts == 126  # 140 x 0.9
    green = adjust_session(plan, "intervals-4x4", profile(ReadinessState.GREEN))
    assert green.session == plan.session("intervals-4x4")


def test_red_bike_work_is_capped_at_zone_two() -> None:
    plan = builtin_plan("zone2-endurance")
    today = adjust_session(plan, "steady-45", profile(ReadinessState.RED, confidence=0.3))
    assert today.session is not None
    warmup, main = today.session.blocks[0].intervals  # type: ignore[union-attr]
    assert isinstance(warmup.target, HRZoneTarget)
    assert warmup.target.zone == 1
    assert isinstance(main.target, ErgTarget)
    assert main.target.hr_zone == 2
    assert main.target.watts == pytest.approx(150 * 0.75, abs=0.5)
