"""The load-velocity profile as the athlete page draws it.

The fit is the VBT kernel's (``kernels.lvp.fit_profile``: weighted toward recent sessions)
and the minimal velocity thresholds come from the exercise catalogue (``plans``), so the
page shows the same profile and e1RM the session runner uses.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kernels.errors import InvalidInputError
from kernels.lvp import LoadVelocityProfile, fit_profile, recency_weights
from plans.exercises import builtin_catalogue

#: Used for an exercise with no known MVT; the page says that it is a default.
FALLBACK_MVT_MS = 0.25


def exercise_names() -> list[str]:
    """The exercises of the catalogue, for the plan editor's choices."""
    return sorted(builtin_catalogue().names())


def mvt_for(exercise: str) -> tuple[float, bool]:
    """``(mvt, known)``: the exercise's MVT from the catalogue, or the fallback and False."""
    try:
        mvt = builtin_catalogue().get(exercise).mvt_ms
    except KeyError:
        mvt = None
    return (mvt, True) if mvt is not None else (FALLBACK_MVT_MS, False)


def fit_load_velocity(
    loads: Sequence[float],
    velocities: Sequence[float],
    *,
    mvt_ms: float | None = None,
    ages_days: Sequence[float] | None = None,
) -> LoadVelocityProfile:
    """The profile of the points (recent ones weigh more when their age is given)."""
    weights = None if ages_days is None else recency_weights(ages_days)
    return fit_profile(loads, velocities, mvt_ms=mvt_ms, weights=weights)


def estimated_1rm(fit: LoadVelocityProfile) -> float | None:
    e1rm = fit.e1rm_kg
    return e1rm if e1rm is not None and math.isfinite(e1rm) and e1rm > 0 else None


def ages_days(points: Sequence[Mapping[str, float]], *, now: float | None = None) -> list[float]:
    today = time.time() if now is None else now
    return [max(today - float(p["ts"]), 0.0) / 86400.0 for p in points]


@dataclass(frozen=True, slots=True)
class E1rmPoint:
    day: str
    e1rm: float
    n: int
    r2: float


def e1rm_history(
    points: Sequence[Mapping[str, float]], *, mvt_ms: float, window_days: int = 28
) -> list[E1rmPoint]:
    """For each day with points, the 1RM estimated from the points of the trailing
    ``window_days`` (days whose window holds no valid profile are skipped)."""
    dated = sorted(
        ((dt.datetime.fromtimestamp(float(p["ts"]), dt.UTC).date(), p) for p in points),
        key=lambda item: item[0],
    )
    out: list[E1rmPoint] = []
    for day in sorted({day for day, _ in dated}):
        start = day - dt.timedelta(days=window_days - 1)
        window = [p for d, p in dated if start <= d <= day]
        try:
            fit = fit_load_velocity(
                [float(p["load"]) for p in window],
                [float(p["velocity_ms"]) for p in window],
                mvt_ms=mvt_ms,
            )
        except InvalidInputError:
            continue
        e1rm = estimated_1rm(fit)
        if e1rm is not None:
            out.append(E1rmPoint(day.isoformat(), round(e1rm, 1), fit.n_points, round(fit.r2, 3)))
    return out
