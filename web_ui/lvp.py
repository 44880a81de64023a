"""The load-velocity profile as the athlete page draws it: a line through the points and
the estimated 1RM where it reaches the exercise's minimal velocity threshold (MVT).

The fit is one small function on purpose: the VBT kernels' profile (weighted towards recent
sessions, with the group-equation prior) replaces :func:`fit_load_velocity` when it lands;
the page only needs intercept, slope, r^2 and n.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kernels.errors import InvalidInputError

#: Mean velocity at 1RM, m/s (training-science reference: Gonzalez-Badillo & Sanchez-Medina
#: 2010, Sanchez-Medina 2017, common defaults).
MVT_DEFAULTS: Mapping[str, float] = {
    "back_squat": 0.30,
    "front_squat": 0.30,
    "full_squat": 0.32,
    "bench_press": 0.16,
    "deadlift": 0.17,
    "hip_thrust": 0.25,
    "overhead_press": 0.19,
    "cable_row": 0.25,
    "lat_pulldown": 0.25,
    "leg_press": 0.25,
}
#: Used for an exercise with no known MVT; the page says that it is a default.
FALLBACK_MVT_MS = 0.25


@dataclass(frozen=True, slots=True)
class LinearFit:
    """velocity = intercept + slope x load."""

    intercept: float
    slope: float
    r2: float
    n: int

    def velocity_at(self, load: float) -> float:
        return self.intercept + self.slope * load

    def load_at(self, velocity: float) -> float | None:
        """The load at which the line gives ``velocity`` (None when the line is flat or
        rising, which no real profile is)."""
        if self.slope >= 0:
            return None
        return (velocity - self.intercept) / self.slope


def fit_load_velocity(loads: Sequence[float], velocities: Sequence[float]) -> LinearFit:
    """Ordinary least squares of mean velocity on load."""
    x = np.asarray(loads, dtype=np.float64)
    y = np.asarray(velocities, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidInputError("loads and velocities must be two lists of one length", where="lvp")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InvalidInputError("loads and velocities must be finite numbers", where="lvp")
    if np.unique(x).size < 2:
        raise InvalidInputError("a profile needs at least two different loads", where="lvp")
    x_mean, y_mean = x.mean(), y.mean()
    sxx = float(((x - x_mean) ** 2).sum())
    sxy = float(((x - x_mean) * (y - y_mean)).sum())
    slope = sxy / sxx
    intercept = float(y_mean - slope * x_mean)
    residual = float(((y - (intercept + slope * x)) ** 2).sum())
    total = float(((y - y_mean) ** 2).sum())
    r2 = 1.0 - residual / total if total > 0 else 1.0
    return LinearFit(intercept, slope, r2, int(x.size))


def mvt_for(exercise: str) -> tuple[float, bool]:
    """``(mvt, known)``: the exercise's MVT, or the fallback and False."""
    if exercise in MVT_DEFAULTS:
        return MVT_DEFAULTS[exercise], True
    return FALLBACK_MVT_MS, False


def estimated_1rm(fit: LinearFit, mvt_ms: float) -> float | None:
    load = fit.load_at(mvt_ms)
    return load if load is not None and math.isfinite(load) and load > 0 else None


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
    ``window_days`` (days whose window holds fewer than two loads are skipped)."""
    dated = sorted(
        ((dt.datetime.fromtimestamp(float(p["ts"]), dt.UTC).date(), p) for p in points),
        key=lambda item: item[0],
    )
    out: list[E1rmPoint] = []
    days = sorted({day for day, _ in dated})
    for day in days:
        start = day - dt.timedelta(days=window_days - 1)
        window = [p for d, p in dated if start <= d <= day]
        try:
            fit = fit_load_velocity(
                [float(p["load"]) for p in window], [float(p["velocity_ms"]) for p in window]
            )
        except InvalidInputError:
            continue
        e1rm = estimated_1rm(fit, mvt_ms)
        if e1rm is not None:
            out.append(E1rmPoint(day.isoformat(), round(e1rm, 1), fit.n, round(fit.r2, 3)))
    return out
