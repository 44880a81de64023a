"""Load-velocity profile in plain Python: the oracle of ``kernels.lvp``."""

from __future__ import annotations

from collections.abc import Sequence

from kernels.reference.line_fit import weighted_line_fit


def recency_weights(ages_days: Sequence[float], half_life_days: float) -> list[float]:
    return [0.5 ** (age / half_life_days) for age in ages_days]


def fit(
    loads: Sequence[float], velocities: Sequence[float], weights: Sequence[float], mvt_ms: float
) -> tuple[float, float, float, float]:
    """``(slope, intercept, r2, e1rm)``: the line, and the load where it reaches the MVT."""
    slope, intercept, r2 = weighted_line_fit(loads, velocities, weights)
    return slope, intercept, r2, (mvt_ms - intercept) / slope
