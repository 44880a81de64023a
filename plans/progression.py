"""Week to week: the working 1RM from the trend of the estimated 1RM and of readiness.

The e1RM trend is the least-squares slope of the athlete's recent estimates, in % per
week. Rising (at least +0.5 %/week) with mostly green days: the working 1RM steps up by
the plan's ``step_pct``, never past the latest estimate. Flat with mostly green days: half
a step. Falling (at most -1 %/week) or red on 30 % of days or more: deload by
``deload_pct``. Anything else: unchanged. Too few estimates (three over two weeks) change
nothing and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from kernels.errors import InvalidInputError
from plans.decisions import Decision, DecisionKind
from plans.model import Progression
from plans.readiness import ReadinessState


def e1rm_trend_pct_per_week(history: Sequence[tuple[date, float]]) -> float | None:
    """Slope of e1RM over time as % of its mean per week; None with too little data."""
    if len(history) < 3:
        return None
    days = np.array([(d - history[0][0]).days for d, _ in history], dtype=np.float64)
    values = np.array([v for _, v in history], dtype=np.float64)
    if days.max() - days.min() < 14 or np.any(values <= 0):
        return None
    slope_per_day = float(np.polyfit(days, values, 1)[0])
    return slope_per_day * 7.0 / float(values.mean()) * 100.0


def weekly_progression(
    *,
    current_one_rm_kg: float,
    e1rm_history: Sequence[tuple[date, float]],
    readiness_states: Sequence[ReadinessState],
    rule: Progression | None = None,
    subject: str = "working_one_rm_kg",
) -> tuple[float, Decision]:
    """Next week's working 1RM and the decision behind it."""
    r = rule or Progression()
    if not current_one_rm_kg > 0:
        raise InvalidInputError("must be positive", where="current_one_rm_kg")
    history = sorted(e1rm_history)
    trend = e1rm_trend_pct_per_week(history)
    n = len(readiness_states)
    green = sum(s is ReadinessState.GREEN for s in readiness_states) / n if n else 0.0
    red = sum(s is ReadinessState.RED for s in readiness_states) / n if n else 0.0
    inputs: dict[str, float | int | None] = {
        "e1rm_trend_pct_per_week": None if trend is None else round(trend, 3),
        "green_share": round(green, 3),
        "red_share": round(red, 3),
        "readiness_days": n,
        "estimates": len(history),
    }
    current = current_one_rm_kg
    if trend is None:
        new, rule_id = current, "progression.not_enough_data"
        reason = "fewer than 3 e1RM estimates over 2 weeks: working 1RM unchanged"
    elif trend <= -1.0 or red >= 0.3:
        new, rule_id = current * (1 - r.deload_pct / 100.0), "progression.deload"
        why = f"e1RM falling {trend:.1f} %/week" if trend <= -1.0 else f"red on {red:.0%} of days"
        reason = f"{why}: deload {r.deload_pct:g} %"
    elif trend >= 0.5 and green >= 0.5:
        latest = history[-1][1]
        new = max(current, min(current * (1 + r.step_pct / 100.0), latest))
        rule_id = "progression.step"
        reason = (
            f"e1RM rising {trend:.1f} %/week, green on {green:.0%} of days: step up "
            f"(at most to the latest e1RM {latest:g} kg)"
        )
    elif abs(trend) < 0.5 and green >= 0.5:
        new, rule_id = current * (1 + r.step_pct / 200.0), "progression.half_step"
        reason = f"e1RM flat ({trend:+.1f} %/week), green on {green:.0%} of days: half a step up"
    else:
        new, rule_id = current, "progression.hold"
        reason = f"e1RM {trend:+.1f} %/week, green on {green:.0%} of days: hold"
    new = round(new, 1)
    return new, Decision(
        kind=DecisionKind.PROGRESSION,
        subject=subject,
        before=current,
        after=new,
        rule=rule_id,
        reason=f"{reason} ({current:g} -> {new:g} kg)",
        inputs=inputs,
    )
