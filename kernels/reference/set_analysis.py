"""Set analysis in plain Python: the oracle of ``kernels.set_analysis``."""

from __future__ import annotations

from collections.abc import Sequence

from kernels.reference.line_fit import weighted_line_fit


def velocity_losses(v: Sequence[float], best_of: int) -> tuple[int, list[float]]:
    """Index of the fastest of the first ``best_of`` reps, and each rep's loss against it (%)."""
    best = 0
    for i in range(1, min(best_of, len(v))):
        if v[i] > v[best]:
            best = i
    top = v[best]
    return best, [(top - vi) / top * 100.0 for vi in v]


def reps_in_reserve(v: Sequence[float], best: int, mvt_ms: float) -> tuple[float, float] | None:
    """``(slope per rep, reps left)`` from the line through the reps since the best one.

    The reps left are how many more the fitted line allows before it reaches the MVT
    (never negative). None with fewer than three reps in the trend or a velocity that does
    not fall.
    """
    trend = v[best:]
    if len(trend) < 3:
        return None
    x = [float(i) for i in range(best, len(v))]
    slope, intercept, _ = weighted_line_fit(x, trend, [1.0] * len(trend))
    if not slope < 0.0:
        return None
    at_mvt = (mvt_ms - intercept) / slope
    return slope, max(0.0, at_mvt - (len(v) - 1))
