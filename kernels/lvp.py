"""Load-velocity profile: the line that ties an athlete's bar velocity to the load.

Per athlete and lift, mean velocity falls linearly with load (individual fits R^2 > 0.95).
:func:`fit_profile` fits ``velocity = intercept + slope x load`` by weighted least squares
(weights from :func:`recency_weights` favour recent sessions); the estimated 1RM is the
load where the line reaches the lift's minimal velocity threshold (MVT). Before an athlete
has a profile, the published group equations (:mod:`kernels.lifts`) give a prior:
:func:`prior_one_rm` and :func:`prior_load_for_velocity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels._line_fit import weighted_line_fit
from kernels.errors import InvalidInputError
from kernels.lifts import Lift, VelocityMeasure

__all__ = [
    "DEFAULT_HALF_LIFE_DAYS",
    "LoadVelocityProfile",
    "fit_profile",
    "prior_load_for_velocity",
    "prior_one_rm",
    "recency_weights",
]

#: A point this many days older than the newest counts half as much.
DEFAULT_HALF_LIFE_DAYS = 28.0


@dataclass(frozen=True, slots=True)
class LoadVelocityProfile:
    """``velocity = intercept + slope x load`` (m/s, kg), its fit quality and its MVT."""

    slope: float  #: m/s per kg, negative
    intercept: float  #: velocity extrapolated to zero load (m/s)
    r2: float
    n_points: int
    mvt_ms: float | None  #: None: the lift's threshold is not known, nor the 1RM

    def velocity_at(self, load_kg: float) -> float:
        return self.intercept + self.slope * load_kg

    def load_for_velocity(self, velocity_ms: float) -> float:
        """The load the line predicts for a target mean velocity (e.g. a velocity zone)."""
        return (velocity_ms - self.intercept) / self.slope

    @property
    def e1rm_kg(self) -> float | None:
        """Estimated 1RM: where the line reaches the minimal velocity threshold."""
        return None if self.mvt_ms is None else self.load_for_velocity(self.mvt_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "slope": self.slope,
            "intercept": self.intercept,
            "r2": self.r2,
            "mvt_ms": self.mvt_ms,
            "e1rm_kg": self.e1rm_kg,
            "n_points": self.n_points,
        }


def recency_weights(
    ages_days: npt.ArrayLike, *, half_life_days: float = DEFAULT_HALF_LIFE_DAYS
) -> npt.NDArray[np.float64]:
    """Weights ``0.5 ** (age / half_life)``: the newest points count most."""
    ages = np.asarray(ages_days, dtype=np.float64)
    if not (math.isfinite(half_life_days) and half_life_days > 0.0):
        raise InvalidInputError("must be a positive number of days", where="half_life_days")
    if ages.size and not (np.all(np.isfinite(ages)) and ages.min() >= 0.0):
        raise InvalidInputError("ages must be finite and not negative", where="ages_days")
    return np.power(0.5, ages / half_life_days)


def fit_profile(
    loads_kg: npt.ArrayLike,
    velocities_ms: npt.ArrayLike,
    *,
    mvt_ms: float | None,
    weights: npt.ArrayLike | None = None,
) -> LoadVelocityProfile:
    """Fit the profile; bad data raises :class:`InvalidInputError` saying what is wrong.

    Typical points are the best rep of each set (its mean concentric velocity) with the set's
    load. Without ``weights`` every point counts the same.
    """
    loads = _vector(loads_kg, "load_kg")
    velocities = _vector(velocities_ms, "mean_velocity_ms")
    if loads.size != velocities.size:
        raise InvalidInputError(
            f"{loads.size} loads for {velocities.size} velocities", where="profile"
        )
    if loads.size < 2:
        raise InvalidInputError(
            f"a profile needs at least two points, got {loads.size}", where="profile"
        )
    w = np.ones_like(loads) if weights is None else _vector(weights, "weights")
    if w.size != loads.size or not np.all(w > 0.0):
        raise InvalidInputError("one positive weight per point is needed", where="weights")
    if np.any(loads < 0.0):
        raise InvalidInputError("loads must not be negative", where="load_kg")
    if np.any(velocities <= 0.0):
        raise InvalidInputError("velocities must be positive", where="mean_velocity_ms")
    if np.ptp(loads) == 0.0:
        raise InvalidInputError(
            f"all {loads.size} points are at the same load: no slope to fit", where="profile"
        )
    if mvt_ms is not None and not (math.isfinite(mvt_ms) and mvt_ms > 0.0):
        raise InvalidInputError(f"must be a positive velocity, got {mvt_ms!r}", where="mvt_ms")
    slope, intercept, r2 = weighted_line_fit(loads, velocities, w)
    if not slope < 0.0:
        raise InvalidInputError(
            f"velocity does not fall with load (slope {slope:+.5f} m/s per kg)", where="profile"
        )
    return LoadVelocityProfile(slope, intercept, r2, int(loads.size), mvt_ms)


def prior_one_rm(lift: Lift, load_kg: float, velocity_ms: float, measure: VelocityMeasure) -> float:
    """1RM from one set by the lift's group equation (for an athlete without a profile)."""
    percent = lift.equation(measure).percent_1rm(velocity_ms)
    if not percent > 0.0:
        raise InvalidInputError(
            f"{velocity_ms} m/s is outside the group equation's range", where="velocity_ms"
        )
    return load_kg * 100.0 / percent


def prior_load_for_velocity(
    lift: Lift, one_rm_kg: float, velocity_ms: float, measure: VelocityMeasure
) -> float:
    """The load the group equation predicts for a target velocity, given a 1RM."""
    return one_rm_kg * lift.equation(measure).percent_1rm(velocity_ms) / 100.0


def _vector(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    try:
        array = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"not numbers ({exc})", where=name) from None
    if array.ndim != 1:
        raise InvalidInputError(f"must be one-dimensional, got shape {array.shape}", where=name)
    if not np.all(np.isfinite(array)):
        raise InvalidInputError("must be finite numbers", where=name)
    return array
