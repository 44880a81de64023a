"""One side of a two-sided rack and the asymmetry index in plain Python: the oracles."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence


def asymmetry_index(left: float, right: float) -> float:
    """``(left - right) / max(|left|, |right|) x 100``; 0 when both are 0."""
    larger = max(abs(left), abs(right))
    if larger == 0.0:
        return 0.0
    return (left - right) / larger * 100.0


class SideTrack:
    """Checkpoints (t, x, force integral, covered time) every ``stride`` samples."""

    def __init__(self, stride: int, capacity: int) -> None:
        self.stride = stride
        self.points: deque[tuple[float, float, float, float]] = deque(maxlen=capacity)
        self.phase = 0
        self.origin = math.nan
        self.integral = 0.0
        self.covered = 0.0
        self.f_prev = math.nan
        self.t_prev = math.nan

    def feed(self, x: Sequence[float], force: Sequence[float], t0: float, period: float) -> None:
        if math.isnan(self.origin):
            self.origin = t0
        for i, (xi, f) in enumerate(zip(x, force, strict=True)):
            t = (t0 - self.origin) + i * period
            if not math.isnan(self.t_prev):
                dt = t - self.t_prev
                if not math.isnan(f) and not math.isnan(self.f_prev):
                    self.integral += 0.5 * (f + self.f_prev) * dt  # trapezoid
                    self.covered += dt
            self.t_prev = t
            self.f_prev = f
            if self.phase == 0:
                self.points.append((t, xi, self.integral, self.covered))
            self.phase = (self.phase + 1) % self.stride

    def at(self, t: float) -> tuple[float, float, float]:
        """Linear interpolation between the two checkpoints around ``t``."""
        pts = self.points
        if len(pts) < 2 or not pts[0][0] <= t <= pts[-1][0]:
            return math.nan, math.nan, math.nan
        lo, hi = 0, len(pts) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if pts[mid][0] <= t:
                lo = mid
            else:
                hi = mid
        (ta, xa, ia, ca), (tb, xb, ib, cb) = pts[lo], pts[hi]
        f = (t - ta) / (tb - ta)
        return xa + f * (xb - xa), ia + f * (ib - ia), ca + f * (cb - ca)
