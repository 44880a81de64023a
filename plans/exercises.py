"""The exercise catalogue: what can be prescribed, on which equipment, and what replaces it.

Each exercise carries its minimal velocity threshold (mean velocity at 1RM, used for e1RM
and velocity zones), the equipment kinds that can run it, an impact rating, and
lower-impact substitutes that the daily adjustment may swap in. The built-in catalogue is
package data (``plans/library/exercises.yaml``).
"""

from __future__ import annotations

import enum
from functools import cache
from importlib import resources
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from plans.errors import PlanValidationError


class EquipmentKind(enum.StrEnum):
    """Equipment kinds a station can offer (values equal to the adapters' kinds)."""

    RACK = "rack"  #: motorized rack or cable machine, or a rack with a position transducer
    BIKE = "bike"
    BAND = "band"
    BODYWEIGHT = "bodyweight"  #: needs no device (velocity from a band or IMU if worn)


class Category(enum.StrEnum):
    BARBELL = "barbell"
    MACHINE = "machine"
    BIKE = "bike"
    BAND = "band"
    BODYWEIGHT = "bodyweight"


class Exercise(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
    title: str
    category: Category
    equipment: Annotated[tuple[EquipmentKind, ...], Field(min_length=1)]
    #: mean concentric velocity at 1RM (m/s); None where velocity is not prescribed
    mvt_ms: Annotated[float | None, Field(gt=0.0, lt=1.5)] = None
    mvt_source: str = ""
    impact: Annotated[int, Field(ge=1, le=5)]  #: joint and spinal loading, 1 lowest
    increment_kg: Annotated[float, Field(gt=0.0, le=10.0)] = 2.5
    substitutes: tuple[str, ...] = ()  #: lower-impact variants, preferred first

    @model_validator(mode="after")
    def _velocity_needs_mvt_source(self) -> Exercise:
        if self.mvt_ms is not None and not self.mvt_source:
            raise ValueError("mvt_ms needs mvt_source (a study, or 'convention')")
        return self


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    exercises: tuple[Exercise, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        names = [e.name for e in self.exercises]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate exercise names: {', '.join(duplicates)}")
        by_name = {e.name: e for e in self.exercises}
        for exercise in self.exercises:
            for sub in exercise.substitutes:
                other = by_name.get(sub)
                if other is None:
                    raise ValueError(f"{exercise.name}: unknown substitute {sub!r}")
                if other.impact >= exercise.impact:
                    raise ValueError(
                        f"{exercise.name}: substitute {sub!r} is not lower-impact "
                        f"({other.impact} >= {exercise.impact})"
                    )
        return self

    def get(self, name: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.name == name:
                return exercise
        raise KeyError(name)

    def names(self) -> frozenset[str]:
        return frozenset(e.name for e in self.exercises)

    def substitute_for(
        self, name: str, available: frozenset[EquipmentKind] | None = None
    ) -> Exercise | None:
        """The first lower-impact substitute runnable on ``available`` equipment."""
        for sub in self.get(name).substitutes:
            candidate = self.get(sub)
            if available is None or set(candidate.equipment) & available:
                return candidate
        return None


@cache
def builtin_catalogue() -> Catalogue:
    text = resources.files("plans.library").joinpath("exercises.yaml").read_text("utf-8")
    try:
        return Catalogue.model_validate(yaml.safe_load(text))
    except ValidationError as exc:  # a broken package is a bug, but say where
        raise PlanValidationError(
            [(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()],
            source="plans/library/exercises.yaml",
        ) from None
