"""Plain versions of kernels.training_load, from the textbook definitions."""

from __future__ import annotations

import math
from collections.abc import Sequence


def ewma(daily: Sequence[float], days: int) -> list[float]:
    """y_t = lambda x sum over k <= t of (1 - lambda)^(t - k) x_k (missing days as zero)."""
    lam = 2.0 / (days + 1.0)
    x = [v if math.isfinite(v) else 0.0 for v in daily]
    return [lam * sum((1 - lam) ** (t - k) * x[k] for k in range(t + 1)) for t in range(len(x))]


def trimp_from_stream(
    hr: Sequence[float], period_s: float, hr_rest: float, hr_max: float, *, a: float, b: float
) -> float:
    total = 0.0
    for v in hr:
        if not math.isfinite(v):
            continue
        hrr = min(max((v - hr_rest) / (hr_max - hr_rest), 0.0), 1.0)
        total += (period_s / 60.0) * hrr * a * math.exp(b * hrr)
    return total
