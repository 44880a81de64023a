"""Per-lift constants of velocity-based training, each with its published source.

``plans`` owns exercises as training content; this table holds only the numbers the
kernels need: the minimal velocity threshold (mean velocity at 1RM), where a rep starts,
and the published group equations that relate velocity to %1RM. Every figure cites its
source (see ``shared/reference/training-science.md``); callers may override the MVT.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from kernels.errors import InvalidInputError
from kernels.rep_config import LiftStart


class VelocityMeasure(enum.StrEnum):
    MCV = "mcv"  #: mean concentric velocity
    MPV = "mpv"  #: mean propulsive velocity


@dataclass(frozen=True, slots=True)
class GroupEquation:
    """``%1RM = a v^2 + b v + c``: a published fit over a group of lifters."""

    measure: VelocityMeasure
    a: float
    b: float
    c: float
    source: str

    def percent_1rm(self, velocity_ms: float) -> float:
        v = velocity_ms
        return self.a * v * v + self.b * v + self.c

    def velocity_at(self, percent_1rm: float) -> float:
        """The velocity the equation gives for ``percent_1rm`` (on its falling branch)."""
        a, b, c = self.a, self.b, self.c - percent_1rm
        disc = b * b - 4.0 * a * c
        if disc < 0.0:
            raise InvalidInputError(
                f"{percent_1rm:g} %1RM is outside the equation's range", where=self.source
            )
        root = math.sqrt(disc)
        # %1RM falls with velocity where 2 a v + b < 0: the positive root on that branch
        candidates = [(-b - root) / (2.0 * a), (-b + root) / (2.0 * a)]
        falling = [v for v in candidates if 2.0 * a * v + b < 0.0 and v > 0.0]
        if not falling:
            raise InvalidInputError(
                f"{percent_1rm:g} %1RM is outside the equation's range", where=self.source
            )
        return min(falling)


@dataclass(frozen=True, slots=True)
class Lift:
    name: str
    mvt_ms: float  #: mean concentric velocity at 1RM
    mvt_source: str
    start: LiftStart
    equations: tuple[GroupEquation, ...] = ()

    def equation(self, measure: VelocityMeasure) -> GroupEquation:
        for eq in self.equations:
            if eq.measure is measure:
                return eq
        raise InvalidInputError(
            f"no published group equation for {self.name} on {measure.name}",
            where="exercise",
        )


BENCH_MPV = GroupEquation(
    VelocityMeasure.MPV,
    8.4326,
    -73.501,
    112.33,
    "Gonzalez-Badillo & Sanchez-Medina 2010 (bench press, MPV, R^2 0.98)",
)
SQUAT_MPV = GroupEquation(
    VelocityMeasure.MPV, -5.961, -50.71, 117.0, "Sanchez-Medina et al. 2017 (full squat, MPV)"
)
SQUAT_MCV = GroupEquation(
    VelocityMeasure.MCV, -12.87, -46.31, 116.3, "Sanchez-Medina et al. 2017 (full squat, MCV)"
)

LIFTS: dict[str, Lift] = {
    lift.name: lift
    for lift in (
        Lift(
            "back_squat",
            0.30,
            "common practitioner default for the back squat",
            LiftStart.TOP,
            (SQUAT_MPV, SQUAT_MCV),
        ),
        Lift(
            "full_squat",
            0.32,
            "Sanchez-Medina et al. 2017: 0.32 +- 0.03 m/s",
            LiftStart.TOP,
            (SQUAT_MPV, SQUAT_MCV),
        ),
        Lift(
            "bench_press",
            0.16,
            "Gonzalez-Badillo & Sanchez-Medina 2010: 0.16 +- 0.04 m/s",
            LiftStart.TOP,
            (BENCH_MPV,),
        ),
        Lift(
            "deadlift",
            0.17,
            "common practitioner defaults 0.15-0.20 m/s",
            LiftStart.BOTTOM,
        ),
    )
}

ALIASES: dict[str, str] = {
    "squat": "back_squat",
    "bench": "bench_press",
    "dl": "deadlift",
}


def lift(name: str) -> Lift:
    """The lift called ``name`` (case, spaces and dashes ignored; a few aliases accepted)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    try:
        return LIFTS[key]
    except KeyError:
        known = ", ".join(sorted(LIFTS))
        raise InvalidInputError(
            f"unknown exercise {name!r} (known: {known})", where="exercise"
        ) from None
