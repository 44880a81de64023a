"""Training load: session load, heart-rate TRIMP, acute and chronic loads.

Definitions (see ``docs/physiology.md``): session RPE load = CR10 rating x minutes (Foster
2001); Banister TRIMP = minutes x HRr x 0.64 e^(1.92 HRr) for men, 0.86 e^(1.67 HRr) for
women, HRr = (HR - HRrest) / (HRmax - HRrest), summed sample by sample when a heart-rate
stream is available; acute and chronic loads are exponentially weighted averages of the
daily loads with lambda = 2 / (N + 1), N = 7 and 28 days (Williams et al. 2017). Their ratio
(ACWR) is shown, never used alone to gate training (Impellizzeri et al. 2020).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


#: Banister's weighting constants (a, b) of a e^(b HRr).
TRIMP_WEIGHTS: dict[Sex, tuple[float, float]] = {
    Sex.MALE: (0.64, 1.92),
    Sex.FEMALE: (0.86, 1.67),
}


def session_rpe_load(rpe: float, minutes: float) -> float:
    """Foster's session load in arbitrary units: CR10 rating (0-10) x duration (min)."""
    if not 0.0 <= rpe <= 10.0:
        raise InvalidInputError(f"must be on the CR10 scale 0-10, got {rpe}", where="rpe")
    if not 0.0 <= minutes <= 24 * 60:
        raise InvalidInputError(f"must be 0 to 1440, got {minutes}", where="minutes")
    return rpe * minutes


def _check_hr_bounds(hr_rest: float, hr_max: float) -> None:
    if not 25.0 <= hr_rest < hr_max <= 250.0:
        raise InvalidInputError(
            f"need 25 <= rest < max <= 250 bpm, got rest {hr_rest}, max {hr_max}",
            where="hr_rest/hr_max",
        )


def banister_trimp(
    minutes: float, hr_avg: float, hr_rest: float, hr_max: float, sex: Sex | str
) -> float:
    """TRIMP of a session from its average heart rate."""
    _check_hr_bounds(hr_rest, hr_max)
    if minutes < 0:
        raise InvalidInputError(f"must not be negative, got {minutes}", where="minutes")
    a, b = TRIMP_WEIGHTS[Sex(sex)]
    hrr = min(max((hr_avg - hr_rest) / (hr_max - hr_rest), 0.0), 1.0)
    return minutes * hrr * a * math.exp(b * hrr)


def trimp_from_stream(
    hr_bpm: npt.ArrayLike, period_s: float, hr_rest: float, hr_max: float, sex: Sex | str
) -> float:
    """TRIMP summed over a heart-rate stream sampled every ``period_s`` (bike sessions).

    Summing sample by sample weights hard intervals properly, which the session average
    cannot (the weighting is exponential). Missing samples (NaN) count as zero load.
    """
    _check_hr_bounds(hr_rest, hr_max)
    if not period_s > 0:
        raise InvalidInputError(f"must be positive, got {period_s}", where="period_s")
    hr = np.ascontiguousarray(hr_bpm, dtype=np.float64)
    if hr.ndim != 1:
        raise InvalidInputError(f"expected a 1-D stream, got shape {hr.shape}", where="hr_bpm")
    a, b = TRIMP_WEIGHTS[Sex(sex)]
    hrr = np.clip((hr - hr_rest) / (hr_max - hr_rest), 0.0, 1.0)
    weights = np.where(np.isfinite(hrr), hrr * a * np.exp(b * hrr), 0.0)
    return float(weights.sum() * period_s / 60.0)


@dataclass(frozen=True, slots=True)
class LoadSeries:
    """Per day, oldest first. The ratio is NaN until the chronic load is above zero."""

    acute: npt.NDArray[np.float64]
    chronic: npt.NDArray[np.float64]
    ratio: npt.NDArray[np.float64]


def ewma(daily: npt.ArrayLike, days: int) -> npt.NDArray[np.float64]:
    """Exponentially weighted average with lambda = 2 / (days + 1), starting from zero.

    A missing day (NaN) is a day without training: load zero.
    """
    if days < 1:
        raise InvalidInputError(f"must be at least 1, got {days}", where="days")
    x = np.ascontiguousarray(daily, dtype=np.float64)
    if x.ndim != 1:
        raise InvalidInputError(f"expected one value per day, got shape {x.shape}", where="daily")
    x = np.where(np.isfinite(x), x, 0.0)
    if np.any(x < 0):
        raise InvalidInputError("loads must not be negative", where="daily")
    lam = 2.0 / (days + 1.0)
    out = np.empty_like(x)
    acc = 0.0
    for i, v in enumerate(x.tolist()):  # one value per day: years of history are microseconds
        acc = lam * v + (1.0 - lam) * acc
        out[i] = acc
    return out


def acute_chronic(
    daily: npt.ArrayLike, *, acute_days: int = 7, chronic_days: int = 28
) -> LoadSeries:
    """Acute and chronic loads and their ratio from one load value per day."""
    if acute_days >= chronic_days:
        raise InvalidInputError("acute window must be shorter than chronic", where="acute_days")
    acute = ewma(daily, acute_days)
    chronic = ewma(daily, chronic_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(chronic > 0, acute / chronic, np.nan)
    return LoadSeries(acute, chronic, ratio)
