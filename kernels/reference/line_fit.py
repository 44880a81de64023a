"""Weighted least-squares line in plain Python: the oracle of ``kernels._line_fit``."""

from __future__ import annotations

from collections.abc import Sequence


def weighted_line_fit(
    x: Sequence[float], y: Sequence[float], w: Sequence[float]
) -> tuple[float, float, float]:
    """``(slope, intercept, r2)`` minimising ``sum w (y - intercept - slope x)^2``.

    r^2 is the weighted coefficient of determination, ``Sxy^2 / (Sxx Syy)`` with sums
    centred on the weighted means (1 when every y is equal and the line is flat).
    """
    sw = sx = sy = 0.0
    for xi, yi, wi in zip(x, y, w, strict=True):
        sw += wi
        sx += wi * xi
        sy += wi * yi
    mx = sx / sw
    my = sy / sw
    sxx = sxy = syy = 0.0
    for xi, yi, wi in zip(x, y, w, strict=True):
        dx = xi - mx
        dy = yi - my
        sxx += wi * dx * dx
        sxy += wi * dx * dy
        syy += wi * dy * dy
    slope = sxy / sxx
    intercept = my - slope * mx
    r2 = 1.0 if syy == 0.0 else sxy * sxy / (sxx * syy)
    return slope, intercept, r2
