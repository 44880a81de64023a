"""Bike physiology: VO2 from power (ACSM), VO2max from a submaximal ramp, heart-rate zones.

ACSM leg-cycling equation: VO2 (ml/kg/min) = 1.8 x work rate (kg m/min) / body mass (kg)
+ 7, with 1 W = 6.12 kg m/min; valid for roughly 50-200 W. A submaximal ramp gives pairs of
steady heart rate and power; the straight line through them, extrapolated to the predicted
maximal heart rate, gives the maximal power, and ACSM turns it into VO2max. Estimates of
this kind carry an error near 15-20 % (single-stage Astrand-Ryhming tests have a CV near
18 %): the result says so through its fit quality, and callers should treat it as an
estimate. Maximal heart rate is predicted with Tanaka et al. (2001), 208 - 0.7 x age,
unless measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError

KGM_PER_MIN_PER_WATT = 6.12


def acsm_leg_cycling_vo2(power_w: float, body_mass_kg: float) -> float:
    """VO2 in ml/kg/min at a cycling power."""
    if not 20.0 <= body_mass_kg <= 300.0:
        raise InvalidInputError(f"must be 20 to 300 kg, got {body_mass_kg}", where="body_mass_kg")
    if power_w < 0:
        raise InvalidInputError(f"must not be negative, got {power_w}", where="power_w")
    return 1.8 * power_w * KGM_PER_MIN_PER_WATT / body_mass_kg + 7.0


def predicted_hr_max(age_years: float) -> float:
    """Tanaka, Monahan & Seals (2001): 208 - 0.7 x age."""
    if not 5 <= age_years <= 110:
        raise InvalidInputError(f"must be 5 to 110, got {age_years}", where="age_years")
    return 208.0 - 0.7 * age_years


@dataclass(frozen=True, slots=True)
class RampEstimate:
    vo2max_ml_kg_min: float
    max_power_w: float  #: power where the HR-power line reaches hr_max
    hr_max_bpm: float
    slope_bpm_per_w: float
    intercept_bpm: float
    r_squared: float  #: of the HR-power fit; below about 0.9 the estimate is doubtful


def vo2max_from_ramp(
    power_w: npt.ArrayLike,
    hr_bpm: npt.ArrayLike,
    *,
    body_mass_kg: float,
    hr_max_bpm: float | None = None,
    age_years: float | None = None,
) -> RampEstimate:
    """VO2max from steady (power, heart rate) pairs of a submaximal ramp.

    Give the measured ``hr_max_bpm`` or the ``age_years`` to predict it. Needs at least
    three stages spanning 30 W, with heart rate rising with power and below its maximum.
    """
    p = np.ascontiguousarray(power_w, dtype=np.float64)
    hr = np.ascontiguousarray(hr_bpm, dtype=np.float64)
    if p.ndim != 1 or p.shape != hr.shape:
        raise InvalidInputError(
            f"need two 1-D series of equal length, got {p.shape} and {hr.shape}",
            where="power_w/hr_bpm",
        )
    if p.size < 3:
        raise InvalidInputError(f"needs at least 3 stages, got {p.size}", where="power_w")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(hr))):
        raise InvalidInputError("contains a missing or infinite value", where="power_w/hr_bpm")
    if np.ptp(p) < 30.0:
        raise InvalidInputError("stages must span at least 30 W", where="power_w")
    if hr_max_bpm is None:
        if age_years is None:
            raise InvalidInputError("give hr_max_bpm or age_years", where="hr_max_bpm")
        hr_max_bpm = predicted_hr_max(age_years)
    if np.any(hr >= hr_max_bpm) or np.any(hr < 30):
        raise InvalidInputError(
            f"stages must be submaximal: heart rates 30 to {hr_max_bpm:g} bpm", where="hr_bpm"
        )
    slope, intercept = np.polyfit(p, hr, 1)
    if slope <= 0:
        raise InvalidInputError("heart rate does not rise with power", where="hr_bpm")
    fitted = intercept + slope * p
    ss_res = float(np.sum((hr - fitted) ** 2))
    ss_tot = float(np.sum((hr - hr.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    max_power = (hr_max_bpm - intercept) / slope
    return RampEstimate(
        vo2max_ml_kg_min=acsm_leg_cycling_vo2(max_power, body_mass_kg),
        max_power_w=float(max_power),
        hr_max_bpm=float(hr_max_bpm),
        slope_bpm_per_w=float(slope),
        intercept_bpm=float(intercept),
        r_squared=r2,
    )


@dataclass(frozen=True, slots=True)
class HRZone:
    number: int
    name: str
    low_bpm: float
    high_bpm: float


#: Five zones as fractions of heart-rate reserve (Karvonen) or of HRmax when no resting HR
#: is known; zone 2 is the "endurance" zone the zone-2 programme holds.
ZONE_BOUNDS: tuple[tuple[str, float, float], ...] = (
    ("recovery", 0.50, 0.60),
    ("endurance", 0.60, 0.70),
    ("tempo", 0.70, 0.80),
    ("threshold", 0.80, 0.90),
    ("maximal", 0.90, 1.00),
)


def hr_zones(hr_max_bpm: float, hr_rest_bpm: float | None = None) -> tuple[HRZone, ...]:
    """Five heart-rate zones: % of heart-rate reserve with a resting HR, else % of HRmax."""
    if not 100 <= hr_max_bpm <= 230:
        raise InvalidInputError(f"must be 100 to 230 bpm, got {hr_max_bpm}", where="hr_max_bpm")
    rest = 0.0 if hr_rest_bpm is None else hr_rest_bpm
    if hr_rest_bpm is not None and not 25 <= hr_rest_bpm < hr_max_bpm:
        raise InvalidInputError(f"must be 25 bpm to HRmax, got {hr_rest_bpm}", where="hr_rest_bpm")
    reserve = hr_max_bpm - rest
    return tuple(
        HRZone(i + 1, name, rest + lo * reserve, rest + hi * reserve)
        for i, (name, lo, hi) in enumerate(ZONE_BOUNDS)
    )
