"""Plans: a programme of sessions, each of blocks, each prescribing sets or bike intervals.

A strength block prescribes ``sets`` x ``reps`` at a load given as % 1RM, kilograms or a
target velocity zone, stops a set at a velocity-loss threshold, and sets tempo and rest. A
bike block prescribes intervals by power, % of an estimated threshold, heart-rate zone or
ERG watts (optionally held to a heart-rate zone: HR-controlled ERG). The models validate
everything a coach can get wrong and name the field: see :mod:`plans.plan_io` for files.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from plans.exercises import Catalogue, Category, builtin_catalogue

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=60)]
Seconds = Annotated[int, Field(ge=0, le=4 * 3600)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Loads of strength sets -------------------------------------------------------------


class PercentOneRM(_Model):
    kind: Literal["percent_1rm"] = "percent_1rm"
    percent: Annotated[float, Field(gt=0.0, le=110.0)]


class Kilograms(_Model):
    kind: Literal["kg"] = "kg"
    kg: Annotated[float, Field(ge=0.0, le=500.0)]


class VelocityZone(_Model):
    """Load chosen so the first reps' mean velocity falls in [min_ms, max_ms]."""

    kind: Literal["velocity_zone"] = "velocity_zone"
    min_ms: Annotated[float, Field(gt=0.0, le=3.0)]
    max_ms: Annotated[float, Field(gt=0.0, le=3.0)]

    @model_validator(mode="after")
    def _ordered(self) -> VelocityZone:
        if self.min_ms >= self.max_ms:
            raise ValueError(f"min_ms ({self.min_ms}) must be below max_ms ({self.max_ms})")
        return self

    @property
    def mid_ms(self) -> float:
        return (self.min_ms + self.max_ms) / 2.0


Load = Annotated[PercentOneRM | Kilograms | VelocityZone, Field(discriminator="kind")]


class RepRange(_Model):
    min: Annotated[int, Field(ge=1, le=50, strict=True)]
    max: Annotated[int, Field(ge=1, le=50, strict=True)]

    @model_validator(mode="after")
    def _ordered(self) -> RepRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


#: Eccentric-pause-concentric-pause seconds, "X" for as fast as possible: "3-1-X-0".
TEMPO_PATTERN = re.compile(r"^(\d{1,2}|X)-(\d{1,2}|X)-(\d{1,2}|X)-(\d{1,2}|X)$")


class RackMode(_Model):
    """How a motorized rack applies the load within each set of a block, where the rack
    can: more load while lowering (``eccentric``, ``eccentric_pct`` of the load), load
    growing with height (``chains``, ``chains_kg_per_m``), or a spotter that takes load off
    when the bar stalls below ``spotter_velocity_ms`` (the lift's MVT when left out)."""

    kind: Literal["standard", "eccentric", "chains", "spotter"] = "standard"
    eccentric_pct: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    chains_kg_per_m: Annotated[float, Field(ge=0.0, le=200.0)] = 0.0
    spotter_velocity_ms: Annotated[float | None, Field(gt=0.0, le=1.5)] = None

    @model_validator(mode="after")
    def _complete(self) -> RackMode:
        if self.kind == "eccentric" and self.eccentric_pct <= 0:
            raise ValueError("an eccentric mode needs eccentric_pct above 0")
        if self.kind == "chains" and self.chains_kg_per_m <= 0:
            raise ValueError("a chains mode needs chains_kg_per_m above 0")
        return self


class StrengthBlock(_Model):
    type: Literal["strength"] = "strength"
    exercise: str
    sets: Annotated[int, Field(ge=1, le=20, strict=True)]  #: strict: ``true`` is not 1 set
    reps: RepRange
    load: Load
    velocity_loss_stop_pct: Annotated[float | None, Field(ge=5.0, le=60.0)] = None
    tempo: str | None = None
    rest_s: Seconds = 120
    mode: RackMode | None = None  #: None: the station's default (its spotter, if it has one)
    note: str = ""

    @field_validator("tempo")
    @classmethod
    def _tempo(cls, tempo: str | None) -> str | None:
        if tempo is not None and not TEMPO_PATTERN.match(tempo):
            raise ValueError(f"{tempo!r} must be four parts like '3-1-X-0' (seconds or X)")
        return tempo


# Bike intervals -------------------------------------------------------------------


class PowerTarget(_Model):
    kind: Literal["power"] = "power"
    watts: Annotated[float, Field(gt=0.0, le=2000.0)]


class PercentThresholdTarget(_Model):
    """% of the athlete's estimated threshold power (FTP)."""

    kind: Literal["percent_threshold"] = "percent_threshold"
    percent: Annotated[float, Field(gt=0.0, le=200.0)]


class HRZoneTarget(_Model):
    kind: Literal["hr_zone"] = "hr_zone"
    zone: Annotated[int, Field(ge=1, le=5)]


class ErgTarget(_Model):
    """The bike holds ``watts``; with ``hr_zone`` the controller moves the watts (slowly,
    within ``max_adjust_pct``) to keep heart rate in that zone."""

    kind: Literal["erg"] = "erg"
    watts: Annotated[float, Field(gt=0.0, le=2000.0)]
    hr_zone: Annotated[int | None, Field(ge=1, le=5)] = None
    max_adjust_pct: Annotated[float, Field(ge=0.0, le=50.0)] = 20.0


BikeTarget = Annotated[
    PowerTarget | PercentThresholdTarget | HRZoneTarget | ErgTarget, Field(discriminator="kind")
]


class Interval(_Model):
    duration_s: Annotated[int, Field(ge=5, le=4 * 3600)]
    target: BikeTarget
    repeats: Annotated[int, Field(ge=1, le=50)] = 1
    recovery_s: Seconds = 0
    recovery_target: BikeTarget | None = None
    cadence_rpm: Annotated[float | None, Field(ge=30.0, le=150.0)] = None


class BikeBlock(_Model):
    type: Literal["bike"] = "bike"
    exercise: str = "bike_erg"
    intervals: Annotated[tuple[Interval, ...], Field(min_length=1)]
    note: str = ""


Block = Annotated[StrengthBlock | BikeBlock, Field(discriminator="type")]


class ReadinessGate(enum.StrEnum):
    """Which readiness states a session is meant for (HRV-guided training)."""

    ANY = "any"
    GREEN = "green"  #: hard sessions only inside the normal range (Vesterinen 2016)
    GREEN_OR_AMBER = "green_or_amber"


class Session(_Model):
    name: Slug
    title: str = ""
    day: Annotated[int | None, Field(ge=1, le=7)] = None  #: day of the week, 1 = Monday
    requires: ReadinessGate = ReadinessGate.ANY
    fallback: str | None = None  #: the session done instead when readiness does not allow
    blocks: Annotated[tuple[Block, ...], Field(min_length=1)]


class Caps(_Model):
    """Limits every block of the plan must respect (return to training)."""

    max_percent_1rm: Annotated[float | None, Field(gt=0.0, le=110.0)] = None
    max_velocity_loss_pct: Annotated[float | None, Field(ge=5.0, le=60.0)] = None
    max_sets_per_block: Annotated[int | None, Field(ge=1, le=20)] = None
    max_impact: Annotated[int | None, Field(ge=1, le=5)] = None
    max_hr_zone: Annotated[int | None, Field(ge=1, le=5)] = None


class Progression(_Model):
    """Week-to-week rule (see plans.progression)."""

    step_pct: Annotated[float, Field(ge=0.0, le=10.0)] = 2.5
    deload_pct: Annotated[float, Field(ge=0.0, le=30.0)] = 7.5


class Plan(_Model):
    name: Slug
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    description: Annotated[str, Field(max_length=2000)] = ""
    goal: Literal[
        "strength", "hypertrophy", "power", "endurance", "intervals", "return_to_training"
    ]
    weeks: Annotated[int, Field(ge=1, le=52)]
    sources: tuple[str, ...] = ()
    caps: Caps | None = None
    progression: Progression = Progression()
    sessions: Annotated[tuple[Session, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Plan:
        catalogue = _catalogue(info)
        names = [s.name for s in self.sessions]
        problems = [
            f"sessions: duplicate session name {name!r}"
            for name in sorted({n for n in names if names.count(n) > 1})
        ]
        for i, session in enumerate(self.sessions):
            where = f"sessions[{i}]"
            if session.fallback is not None:
                if session.fallback not in names:
                    problems.append(f"{where}.fallback: no session named {session.fallback!r}")
                elif session.fallback == session.name:
                    problems.append(f"{where}.fallback: a session cannot fall back to itself")
            for j, block in enumerate(session.blocks):
                problems.extend(_check_block(block, f"{where}.blocks[{j}]", catalogue, self.caps))
        if problems:
            # One ValueError carrying every problem; plan_io splits it back into fields.
            raise ValueError(PROBLEM_SEPARATOR.join(problems))
        return self

    def session(self, name: str) -> Session:
        for session in self.sessions:
            if session.name == name:
                return session
        raise KeyError(name)


PROBLEM_SEPARATOR = "\n"


def _catalogue(info: ValidationInfo) -> Catalogue:
    context = info.context if isinstance(info.context, dict) else {}
    catalogue = context.get("catalogue")
    return catalogue if isinstance(catalogue, Catalogue) else builtin_catalogue()


def _check_block(
    block: StrengthBlock | BikeBlock, where: str, catalogue: Catalogue, caps: Caps | None
) -> list[str]:
    problems: list[str] = []
    try:
        exercise = catalogue.get(block.exercise)
    except KeyError:
        known = ", ".join(sorted(catalogue.names()))
        return [f"{where}.exercise: unknown exercise {block.exercise!r} (known: {known})"]
    if isinstance(block, BikeBlock):
        if exercise.category is not Category.BIKE:
            problems.append(f"{where}.exercise: {exercise.name!r} is not a bike exercise")
        if caps and caps.max_hr_zone is not None:
            for k, interval in enumerate(block.intervals):
                target = interval.target
                zone = getattr(target, "zone", None) or getattr(target, "hr_zone", None)
                if zone is not None and zone > caps.max_hr_zone:
                    problems.append(
                        f"{where}.intervals[{k}].target: zone {zone} is above the plan's "
                        f"cap of {caps.max_hr_zone}"
                    )
        return problems
    if exercise.category is Category.BIKE:
        problems.append(f"{where}.exercise: {exercise.name!r} needs a bike block")
    if isinstance(block.load, VelocityZone):
        if exercise.mvt_ms is None:
            problems.append(
                f"{where}.load: {exercise.name!r} has no velocity threshold; prescribe % 1RM or kg"
            )
        elif block.load.min_ms <= exercise.mvt_ms:
            problems.append(
                f"{where}.load.min_ms: {block.load.min_ms} m/s is at or below the "
                f"{exercise.name} minimal velocity threshold ({exercise.mvt_ms} m/s), i.e. 1RM"
            )
    if caps is not None:
        if (
            caps.max_percent_1rm is not None
            and isinstance(block.load, PercentOneRM)
            and block.load.percent > caps.max_percent_1rm
        ):
            problems.append(
                f"{where}.load.percent: {block.load.percent} % is above the plan's cap of "
                f"{caps.max_percent_1rm} %"
            )
        if caps.max_velocity_loss_pct is not None and (
            block.velocity_loss_stop_pct is None
            or block.velocity_loss_stop_pct > caps.max_velocity_loss_pct
        ):
            problems.append(
                f"{where}.velocity_loss_stop_pct: must be set and at most "
                f"{caps.max_velocity_loss_pct} % under the plan's caps"
            )
        if caps.max_sets_per_block is not None and block.sets > caps.max_sets_per_block:
            problems.append(
                f"{where}.sets: {block.sets} is above the plan's cap of {caps.max_sets_per_block}"
            )
        if caps.max_impact is not None and exercise.impact > caps.max_impact:
            problems.append(
                f"{where}.exercise: {exercise.name!r} has impact {exercise.impact}, above the "
                f"plan's cap of {caps.max_impact}"
            )
    return problems
