"""Between sets: the next set's load from the first reps' velocity.

If the first reps of a set are faster than the target zone, the load was light for today;
slower, heavy. The next load moves by the difference the athlete's load-velocity relation
puts between the observed velocity and the zone's middle (about 5.5-7 % 1RM per 0.1 m/s
around working loads), rounded to the equipment's increment and bounded per step; the
station's safety envelope still clamps and rate-limits whatever comes out.

The relation is anything with ``load_for_velocity`` (:class:`LoadVelocityModel`): the
athlete's fitted profile from the VBT kernels once available, :class:`LinearProfile` from
a known 1RM and MVT, or :class:`GroupEquationPrior`, the published group equations, before
an athlete has a profile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kernels.errors import InvalidInputError
from kernels.lifts import GroupEquation, VelocityMeasure, lift
from plans.decisions import Decision, DecisionKind
from plans.model import VelocityZone


class LoadVelocityModel(Protocol):
    """What the adjustment needs of a load-velocity profile."""

    def load_for_velocity(self, velocity_ms: float) -> float:
        """The load (kg) at which the athlete's mean velocity is ``velocity_ms`` today."""
        ...


@dataclass(frozen=True, slots=True)
class LinearProfile:
    """velocity = v0 + slope x load (slope negative), the form the project fits."""

    v0_ms: float
    slope_ms_per_kg: float

    def __post_init__(self) -> None:
        if not self.slope_ms_per_kg < 0:
            raise InvalidInputError("must be negative", where="slope_ms_per_kg")

    @classmethod
    def from_one_rm(cls, one_rm_kg: float, mvt_ms: float, v0_ms: float) -> LinearProfile:
        """The line through (0, v0) and (1RM, MVT)."""
        if not one_rm_kg > 0 or not v0_ms > mvt_ms > 0:
            raise InvalidInputError("need 1RM > 0 and v0 > MVT > 0", where="one_rm_kg/mvt_ms/v0_ms")
        return cls(v0_ms, (mvt_ms - v0_ms) / one_rm_kg)

    def load_for_velocity(self, velocity_ms: float) -> float:
        return (velocity_ms - self.v0_ms) / self.slope_ms_per_kg


@dataclass(frozen=True, slots=True)
class GroupEquationPrior:
    """A group equation scaled by the athlete's 1RM: a prior before they have a profile.

    The equations and their sources are ``kernels.lifts``'s; this only scales them.
    """

    exercise: str
    one_rm_kg: float
    measure: str = "mpv"  #: "mpv" (mean propulsive) or "mcv" (mean concentric)

    def __post_init__(self) -> None:
        self._equation()  # refuse an exercise or measure without a published equation now
        if not self.one_rm_kg > 0:
            raise InvalidInputError("must be positive", where="one_rm_kg")

    def _equation(self) -> GroupEquation:
        try:
            measure = VelocityMeasure(self.measure)
        except ValueError:
            raise InvalidInputError("must be 'mpv' or 'mcv'", where="measure") from None
        return lift(self.exercise).equation(measure)

    def percent_one_rm(self, velocity_ms: float) -> float:
        return self._equation().percent_1rm(velocity_ms)

    def load_for_velocity(self, velocity_ms: float) -> float:
        return self.one_rm_kg * self.percent_one_rm(velocity_ms) / 100.0


@dataclass(frozen=True, slots=True)
class StepLimits:
    increment_kg: float = 2.5  #: the equipment's load step
    max_step_pct: float = 10.0  #: largest change per set, % of the current load
    max_step_kg: float = 10.0  #: and in kg
    min_load_kg: float = 0.0
    max_load_kg: float = math.inf  #: a ceiling known here (the envelope applies its own)


def next_set_load(
    *,
    current_load_kg: float,
    first_rep_velocities_ms: Sequence[float],
    zone: VelocityZone,
    model: LoadVelocityModel,
    limits: StepLimits | None = None,
    reps_used: int = 2,
    subject: str = "load_kg",
) -> tuple[float, Decision]:
    """The next set's load and the decision behind it (``before == after`` in the zone)."""
    lim = limits or StepLimits()
    if not current_load_kg >= 0:
        raise InvalidInputError("must not be negative", where="current_load_kg")
    reps = [v for v in first_rep_velocities_ms[:reps_used] if math.isfinite(v) and v > 0]
    if not reps:
        raise InvalidInputError(
            "needs at least one rep with a positive velocity", where="first_rep_velocities_ms"
        )
    observed = sum(reps) / len(reps)
    inputs = {
        "observed_velocity_ms": round(observed, 4),
        "zone_min_ms": zone.min_ms,
        "zone_max_ms": zone.max_ms,
        "reps_used": len(reps),
        "current_load_kg": current_load_kg,
    }
    if zone.min_ms <= observed <= zone.max_ms:
        return current_load_kg, Decision(
            kind=DecisionKind.AUTOREGULATION,
            subject=subject,
            before=current_load_kg,
            after=current_load_kg,
            rule="autoregulation.in_zone",
            reason=f"first reps at {observed:.2f} m/s, inside "
            f"{zone.min_ms:g}-{zone.max_ms:g} m/s: load kept",
            inputs=inputs,
        )
    wanted = model.load_for_velocity(zone.mid_ms) - model.load_for_velocity(observed)
    bound = min(lim.max_step_kg, current_load_kg * lim.max_step_pct / 100.0)
    step = max(-bound, min(bound, wanted))
    # Round to the increment without crossing the bound: down for increases, up for cuts.
    units = step / lim.increment_kg
    step = (math.floor(units + 1e-9) if step > 0 else math.ceil(units - 1e-9)) * lim.increment_kg
    new = min(lim.max_load_kg, max(lim.min_load_kg, current_load_kg + step))
    inputs["model_delta_kg"] = round(wanted, 3)
    inputs["bound_kg"] = round(bound, 3)
    direction = "faster" if observed > zone.max_ms else "slower"
    return new, Decision(
        kind=DecisionKind.AUTOREGULATION,
        subject=subject,
        before=current_load_kg,
        after=new,
        rule="autoregulation.velocity_zone",
        reason=(
            f"first reps at {observed:.2f} m/s, {direction} than "
            f"{zone.min_ms:g}-{zone.max_ms:g} m/s: {current_load_kg:g} -> {new:g} kg "
            f"(profile asks {wanted:+.1f} kg, step limit {bound:.1f} kg)"
        ),
        inputs=inputs,
    )
