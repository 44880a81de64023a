"""Plain version of kernels.hrv_baseline: each day's windows read one by one."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def rolling_baseline(
    daily: Sequence[float],
    *,
    recent_days: int = 7,
    baseline_days: int = 60,
    min_recent: int = 3,
    min_baseline: int = 14,
    sd_floor: float = 0.0,
    range_sd: float = 0.5,
) -> list[dict[str, float]]:
    nan = math.nan
    out = []
    for t in range(len(daily)):
        recent = [v for v in daily[max(0, t - recent_days + 1) : t + 1] if math.isfinite(v)]
        b_end = t - recent_days + 1
        base = [v for v in daily[max(0, b_end - baseline_days) : max(0, b_end)] if math.isfinite(v)]
        r_mean = statistics.fmean(recent) if len(recent) >= min_recent else nan
        b_mean = statistics.fmean(base) if len(base) >= min_baseline else nan
        b_sd = (
            (statistics.stdev(base) if len(base) > 1 else 0.0) if len(base) >= min_baseline else nan
        )
        used = max(b_sd, sd_floor) if not math.isnan(b_sd) else nan
        cv = (
            statistics.stdev(recent) / abs(r_mean) * 100.0
            if len(recent) >= max(min_recent, 2)
            else nan
        )
        z = (r_mean - b_mean) / used if used and not math.isnan(used) else nan
        out.append(
            {
                "recent_mean": r_mean,
                "baseline_mean": b_mean,
                "baseline_sd": b_sd,
                "lower": b_mean - range_sd * used,
                "upper": b_mean + range_sd * used,
                "cv_pct": cv,
                "z": z,
            }
        )
    return out
