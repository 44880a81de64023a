"""Plain versions of kernels.emg: one window at a time, spectrum by a direct DFT."""

from __future__ import annotations

import cmath
import math
from collections.abc import Sequence


def rms_envelope(x: Sequence[float], fs_hz: float, window_s: float) -> list[float]:
    w = max(1, round(window_s * fs_hz) | 1)
    half = w // 2
    out = []
    for i in range(len(x)):
        seg = x[max(0, i - half) : i + half + 1]
        out.append(math.sqrt(sum(v * v for v in seg) / len(seg)))
    return out


def window_median_frequency(frame: Sequence[float], fs_hz: float) -> tuple[float, float]:
    """(median, mean) frequency of one window's power spectrum."""
    n = len(frame)
    mean = sum(frame) / n
    x = [v - mean for v in frame]
    power = []
    for k in range(n // 2 + 1):
        s = sum(x[t] * cmath.exp(-2j * math.pi * k * t / n) for t in range(n))
        power.append(abs(s) ** 2)
    freqs = [k * fs_hz / n for k in range(n // 2 + 1)]
    total = sum(power)
    acc = 0.0
    for k, p in enumerate(power):
        before = acc
        acc += p
        if acc >= total / 2:
            if k == 0:
                median = freqs[0]
            else:
                median = freqs[k - 1] + (total / 2 - before) / p * (freqs[k] - freqs[k - 1])
            break
    centroid = sum(p * f for p, f in zip(power, freqs, strict=True)) / total
    return median, centroid
