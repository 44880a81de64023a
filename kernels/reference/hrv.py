"""Plain versions of kernels.hrv: the same definitions written for reading, not speed."""

from __future__ import annotations

import math
from collections.abc import Sequence

NORMAL, ECTOPIC, LONG, SHORT, MISSED, EXTRA = range(6)


def time_domain(rr: Sequence[float]) -> dict[str, float]:
    n = len(rr)
    mean = sum(rr) / n
    diffs = [rr[i] - rr[i - 1] for i in range(1, n)]
    return {
        "mean_rr_ms": mean,
        "mean_hr_bpm": sum(60000.0 / x for x in rr) / n,
        "sdnn_ms": math.sqrt(sum((x - mean) ** 2 for x in rr) / (n - 1)),
        "rmssd_ms": math.sqrt(sum(d * d for d in diffs) / len(diffs)),
        "pnn50_pct": 100.0 * sum(1 for d in diffs if abs(d) > 50.0) / len(diffs),
    }


def quantile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the order statistics (numpy's default)."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    if lo + 1 >= len(s):
        return s[-1]
    return s[lo] + (s[lo + 1] - s[lo]) * (pos - lo)


def centred_window(values: Sequence[float], i: int, width: int) -> Sequence[float]:
    half = width // 2
    return values[max(0, i - half) : i + half + 1]


def classify(
    rr: Sequence[float],
    *,
    c1: float = 0.13,
    c2: float = 0.17,
    alpha: float = 5.2,
    window: int = 91,
    medfilt: int = 11,
) -> list[int]:
    """Lipponen & Tarvainen (2019), Figure 1, as kernels.hrv documents it."""
    n = len(rr)
    cls = [NORMAL] * n
    if n < 4:
        return cls
    drr = [0.0] + [rr[i] - rr[i - 1] for i in range(1, n)]
    drr[0] = sum(drr[1:]) / (n - 1)
    abs_drr = [abs(d) for d in drr]
    th1 = [
        alpha * (quantile(w, 0.75) - quantile(w, 0.25)) / 2
        for w in (centred_window(abs_drr, i, window) for i in range(n))
    ]
    drr = [d / t if t > 0 else 0.0 for d, t in zip(drr, th1, strict=True)]
    med = [quantile(centred_window(rr, i, medfilt), 0.5) for i in range(n)]
    mrr = [2 * (x - m) if x < m else x - m for x, m in zip(rr, med, strict=True)]
    abs_mrr = [abs(v) for v in mrr]
    th2 = [
        alpha * (quantile(w, 0.75) - quantile(w, 0.25)) / 2
        for w in (centred_window(abs_mrr, i, window) for i in range(n))
    ]
    mrr = [v / t if t > 0 else 0.0 for v, t in zip(mrr, th2, strict=True)]
    s12 = [0.0] * n
    s22 = [0.0] * n
    for i in range(1, n - 1):
        if drr[i] > 0:
            s12[i] = max(drr[i - 1], drr[i + 1])
        elif drr[i] < 0:
            s12[i] = min(drr[i - 1], drr[i + 1])
    for i in range(n - 2):
        pair = (drr[i + 1], drr[i + 2])
        s22[i] = min(pair) if drr[i] >= 0 else max(pair)
    for i in range(1, n - 2):
        if abs(drr[i]) <= 1 or cls[i] != NORMAL:
            continue
        if (drr[i] > 1 and s12[i] < -c1 * drr[i] - c2) or (
            drr[i] < -1 and s12[i] > -c1 * drr[i] + c2
        ):
            cls[i] = ECTOPIC
            continue
        candidates = [i]
        if abs(drr[i + 1]) < abs(drr[i + 2]):
            candidates.append(i + 1)
        for j in candidates:
            if j >= n - 1 or cls[j] != NORMAL:
                continue
            long_ = drr[j] > 1 and s22[j] < -1
            short = drr[j] < -1 and s22[j] > 1
            if not (long_ or short or abs(mrr[j]) > 3):
                continue
            if short and abs(rr[j] + rr[j + 1] - med[j]) < th2[j]:
                cls[j] = EXTRA
            elif long_ and abs(rr[j] / 2 - med[j]) < th2[j]:
                cls[j] = MISSED
            else:
                cls[j] = LONG if rr[j] > med[j] else SHORT
    return cls


def correct(rr: Sequence[float], cls: Sequence[int]) -> list[float]:
    """Merge extra beats, split missed ones, interpolate the rest linearly."""
    out: list[float | None] = []
    i = 0
    while i < len(rr):
        if cls[i] == EXTRA and i + 1 < len(rr):
            out.append(rr[i] + rr[i + 1])
            i += 2
            continue
        if cls[i] == MISSED:
            out += [rr[i] / 2, rr[i] / 2]
        elif cls[i] in (ECTOPIC, LONG, SHORT):
            out.append(None)
        else:
            out.append(rr[i])
        i += 1
    good = [k for k, v in enumerate(out) if v is not None]
    if not good:
        return [float(x) for x in rr]
    result: list[float] = []
    for k, v in enumerate(out):
        if v is not None:
            result.append(v)
            continue
        before = [g for g in good if g < k]
        after = [g for g in good if g > k]
        if not before:
            result.append(out[after[0]])  # type: ignore[arg-type]
        elif not after:
            result.append(out[before[-1]])  # type: ignore[arg-type]
        else:
            a, b = before[-1], after[0]
            va, vb = out[a], out[b]
            assert va is not None
            assert vb is not None
            result.append(va + (vb - va) * (k - a) / (b - a))
    return result
