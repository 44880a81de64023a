"""What a set's rep velocities say: velocity loss, the stop rule, reps left in reserve.

Velocity loss (VL) of a rep is ``(best - v) / best x 100`` against the fastest of the
set's first reps (``best_of``, 3 by default: the first rep is not always the fastest).
Typical stop thresholds are 10-20 % for strength and power, 30-40 % for hypertrophy
(Pareja-Blanco 2017); the stop rule tests velocity, never a rep count. Reps in reserve are
estimated from the line through the velocities since the best rep: how many more reps it
allows before reaching the lift's minimal velocity threshold (MVT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels._line_fit import weighted_line_fit
from kernels._set_analysis import velocity_losses
from kernels.errors import InvalidInputError

__all__ = ["DEFAULT_BEST_OF", "SetAnalysis", "analyse_set"]

DEFAULT_BEST_OF = 3


@dataclass(frozen=True, slots=True)
class SetAnalysis:
    rep_count: int
    best_index: int  #: the reference rep (fastest of the first ``best_of``)
    best_velocity_ms: float
    losses_pct: tuple[float, ...]  #: velocity loss of every rep against the best
    velocity_loss_pct: float  #: of the last rep
    stop_threshold_pct: float | None
    stop: bool  #: the last rep reached the stop threshold
    stop_index: int | None  #: first rep that reached it
    trend_ms_per_rep: float | None  #: slope of velocity over the reps since the best
    reps_in_reserve: float | None  #: None without an MVT, three reps of trend or a falling one
    mvt_ms: float | None


def analyse_set(
    velocities_ms: npt.ArrayLike,
    *,
    stop_threshold_pct: float | None = None,
    mvt_ms: float | None = None,
    best_of: int = DEFAULT_BEST_OF,
) -> SetAnalysis:
    """Analyse the mean velocities of a set's reps so far (one per rep, in order)."""
    try:
        v = np.ascontiguousarray(velocities_ms, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"not numbers ({exc})", where="velocities") from None
    if v.ndim != 1 or v.size == 0:
        raise InvalidInputError("need a list of at least one rep velocity", where="velocities")
    if not (np.all(np.isfinite(v)) and np.all(v > 0.0)):
        raise InvalidInputError("rep velocities must be positive numbers", where="velocities")
    if best_of < 1:
        raise InvalidInputError("must be at least 1", where="best_of")
    if stop_threshold_pct is not None and not (0.0 < stop_threshold_pct < 100.0):
        raise InvalidInputError("must be between 0 and 100 %", where="stop_threshold_pct")
    if mvt_ms is not None and not (math.isfinite(mvt_ms) and mvt_ms > 0.0):
        raise InvalidInputError("must be a positive velocity", where="mvt_ms")
    losses = np.empty_like(v)
    best = velocity_losses(v, best_of, losses)
    stop_index: int | None = None
    if stop_threshold_pct is not None:
        reached = np.flatnonzero(losses >= stop_threshold_pct)
        stop_index = int(reached[0]) if reached.size else None
    trend: float | None = None
    reserve: float | None = None
    if v.size - best >= 3:
        x = np.arange(best, v.size, dtype=np.float64)
        slope, intercept, _ = weighted_line_fit(x, v[best:], np.ones(x.size))
        trend = slope
        if mvt_ms is not None and slope < 0.0:
            reserve = max(0.0, (mvt_ms - intercept) / slope - (v.size - 1))
    last_loss = float(losses[-1])
    return SetAnalysis(
        rep_count=int(v.size),
        best_index=best,
        best_velocity_ms=float(v[best]),
        losses_pct=tuple(float(x) for x in losses),
        velocity_loss_pct=last_loss,
        stop_threshold_pct=stop_threshold_pct,
        stop=stop_threshold_pct is not None and last_loss >= stop_threshold_pct,
        stop_index=stop_index,
        trend_ms_per_rep=trend,
        reps_in_reserve=reserve,
        mvt_ms=mvt_ms,
    )
