"""Rolling baselines of a daily marker (morning lnRMSSD, resting HR, ...).

HRV-guided training compares a short rolling mean with the athlete's own normal range from
a longer period (Plews et al. 2014; HRV4Training uses 60 days, Garmin 3 weeks). Baselines
fail in known ways: absurd z-scores from a few nights with a tiny spread, a value frozen by
missing nights. So a day only gets a z-score when both windows hold enough valid days, and
the spread is floored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class BaselineParams:
    recent_days: int = 7  #: the rolling mean's window, ending today
    baseline_days: int = 60  #: the normal range's window, ending the day before the recent one
    min_recent: int = 3  #: valid days needed in the recent window (Plews: 3 a week)
    min_baseline: int = 14  #: valid days needed in the baseline window
    sd_floor: float = 0.0  #: the smallest spread used for z-scores (the marker's unit)
    range_sd: float = 0.5  #: half-width of the normal range in SDs (smallest worthwhile change)

    def __post_init__(self) -> None:
        for name in ("recent_days", "baseline_days", "min_recent", "min_baseline"):
            if getattr(self, name) < 1:
                raise InvalidInputError("must be at least 1", where=name)
        if self.min_recent > self.recent_days:
            raise InvalidInputError("cannot exceed recent_days", where="min_recent")
        if self.min_baseline > self.baseline_days:
            raise InvalidInputError("cannot exceed baseline_days", where="min_baseline")
        if self.sd_floor < 0 or self.range_sd < 0:
            raise InvalidInputError("must not be negative", where="sd_floor/range_sd")


@dataclass(frozen=True, slots=True)
class Baseline:
    """Per day (same length as the input); NaN where a window holds too few valid days."""

    recent_mean: npt.NDArray[np.float64]
    n_recent: npt.NDArray[np.int64]
    baseline_mean: npt.NDArray[np.float64]
    baseline_sd: npt.NDArray[np.float64]  #: sample SD, before the floor
    n_baseline: npt.NDArray[np.int64]
    lower: npt.NDArray[np.float64]  #: normal range, mean - range_sd x floored SD
    upper: npt.NDArray[np.float64]
    cv_pct: npt.NDArray[np.float64]  #: CV of the recent window (needs min_recent days)
    z: npt.NDArray[np.float64]  #: (recent mean - baseline mean) / floored SD


def _window_stats(
    x: npt.NDArray[np.float64], end_offset: int, width: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Count, mean and sample variance of the valid days in [t - end_offset - width + 1,
    t - end_offset] for every day t (NaN where the window is empty or has one value).

    Two passes over a strided view of the windows (a few thousand days at most), rather
    than running sums, whose differences lose digits when a marker barely moves.
    """
    n = x.size
    padded = np.concatenate((np.full(width + end_offset, np.nan), x))
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)[1 : n + 1]
    valid = np.isfinite(windows)
    count = valid.sum(axis=1)
    filled = np.where(valid, windows, 0.0)
    mean = filled.sum(axis=1) / count
    dev = np.where(valid, windows - mean[:, None], 0.0)
    var = (dev * dev).sum(axis=1) / (count - 1)
    return count, mean, var


def rolling_baseline(daily: npt.ArrayLike, params: BaselineParams | None = None) -> Baseline:
    """Baselines of one value per day, oldest first; NaN marks a missing day."""
    p = params or BaselineParams()
    x = np.ascontiguousarray(daily, dtype=np.float64)
    if x.ndim != 1:
        raise InvalidInputError(f"expected one value per day, got shape {x.shape}", where="daily")
    with np.errstate(invalid="ignore", divide="ignore"):
        n_r, r_mean, r_var = _window_stats(x, 0, p.recent_days)
        n_b, b_mean, b_var = _window_stats(x, p.recent_days, p.baseline_days)
        recent_mean = np.where(n_r >= p.min_recent, r_mean, np.nan)
        base_ok = n_b >= p.min_baseline
        base_mean = np.where(base_ok, b_mean, np.nan)
        base_sd = np.where(base_ok, np.sqrt(np.where(n_b > 1, b_var, 0.0)), np.nan)
        used_sd = np.maximum(base_sd, p.sd_floor)
        cv = np.where(n_r >= max(p.min_recent, 2), np.sqrt(r_var) / np.abs(r_mean) * 100.0, np.nan)
        z = np.where(used_sd > 0, (recent_mean - base_mean) / used_sd, np.nan)
    return Baseline(
        recent_mean=recent_mean,
        n_recent=n_r,
        baseline_mean=base_mean,
        baseline_sd=base_sd,
        n_baseline=n_b,
        lower=base_mean - p.range_sd * used_sd,
        upper=base_mean + p.range_sd * used_sd,
        cv_pct=cv,
        z=z,
    )
