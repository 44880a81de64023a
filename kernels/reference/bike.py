"""Plain versions of kernels.bike: least squares written out, zones from their definition."""

from __future__ import annotations

from collections.abc import Sequence


def fit_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """(slope, intercept) of y = intercept + slope x by ordinary least squares."""
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    slope = sxy / sxx
    return slope, my - slope * mx


def vo2max_from_ramp(
    power_w: Sequence[float], hr_bpm: Sequence[float], body_mass_kg: float, hr_max_bpm: float
) -> float:
    slope, intercept = fit_line(power_w, hr_bpm)
    max_power = (hr_max_bpm - intercept) / slope
    return 1.8 * max_power * 6.12 / body_mass_kg + 7.0


def karvonen_zone(
    hr_max: float, hr_rest: float, low_frac: float, high_frac: float
) -> tuple[float, float]:
    return hr_rest + low_frac * (hr_max - hr_rest), hr_rest + high_frac * (hr_max - hr_rest)
