"""Daily adjustment: today's readiness applied to today's session.

Green leaves the session as planned. Amber lightens it: loads scaled down, one set fewer
per block, a tighter velocity-loss stop, velocity zones shifted faster (lighter), bike
targets one zone or 10 % lower, and a session gated to green swaps to its fallback. Red
does more of the same, substitutes lower-impact exercises and caps bike work at zone 2;
when the red state is confident, or overreaching is flagged, the day becomes a rest day.
Every change is a :class:`~plans.decisions.Decision` with the readiness inputs it read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from plans.decisions import Decision, DecisionKind
from plans.exercises import Catalogue, EquipmentKind, builtin_catalogue
from plans.model import (
    BikeBlock,
    ErgTarget,
    HRZoneTarget,
    Interval,
    Kilograms,
    PercentOneRM,
    PercentThresholdTarget,
    Plan,
    PowerTarget,
    ReadinessGate,
    Session,
    StrengthBlock,
    VelocityZone,
)
from plans.readiness import ReadinessProfile, ReadinessState


@dataclass(frozen=True, slots=True)
class StateRules:
    load_scale: float  #: multiplies % 1RM and kg loads
    sets_drop: int  #: sets removed per block (at least one set stays)
    sets_scale: float  #: then multiplied (rounded up)
    vl_scale: float  #: multiplies the velocity-loss stop threshold
    vl_cap_pct: float  #: and caps it
    zone_shift_ms: float  #: added to velocity zones (faster means lighter)
    bike_scale: float  #: multiplies power, % threshold and ERG watts
    hr_zone_drop: int  #: heart-rate zones lowered by this many
    max_hr_zone: int
    substitute: bool  #: swap in lower-impact exercises


@dataclass(frozen=True, slots=True)
class DailyRules:
    amber: StateRules = StateRules(0.95, 1, 1.0, 0.75, 20.0, 0.05, 0.90, 1, 4, False)
    red: StateRules = StateRules(0.90, 1, 0.5, 0.5, 10.0, 0.10, 0.75, 2, 2, True)
    #: a red day with at least this confidence becomes a rest day
    rest_day_confidence: float = 0.6


@dataclass(frozen=True, slots=True)
class DailySession:
    """What to do today: the adjusted session, or None for a rest day."""

    session: Session | None
    decisions: tuple[Decision, ...]

    @property
    def rest_day(self) -> bool:
        return self.session is None


class _Recorder:
    def __init__(self, readiness: ReadinessProfile) -> None:
        self.decisions: list[Decision] = []
        self._inputs: dict[str, Any] = {
            "state": readiness.state.value,
            **readiness.inputs,
        }
        score = "no score" if readiness.score is None else f"score {readiness.score:.0f}"
        self._why = (
            f"readiness {readiness.state.value} ({score}, confidence {readiness.confidence:.2f})"
        )

    def add(self, subject: str, before: Any, after: Any, rule: str, what: str) -> None:
        self.decisions.append(
            Decision(
                kind=DecisionKind.READINESS_ADJUSTMENT,
                subject=subject,
                before=before,
                after=after,
                rule=rule,
                reason=f"{self._why}: {what}",
                inputs=dict(self._inputs),
            )
        )


def adjust_session(
    plan: Plan,
    session_name: str,
    readiness: ReadinessProfile,
    *,
    catalogue: Catalogue | None = None,
    equipment: frozenset[EquipmentKind] | None = None,
    rules: DailyRules | None = None,
) -> DailySession:
    """Today's version of ``plan``'s session ``session_name``; see the module docstring."""
    cat = catalogue or builtin_catalogue()
    r = rules or DailyRules()
    rec = _Recorder(readiness)
    session = plan.session(session_name)
    state = readiness.state
    if readiness.overreaching or (
        state is ReadinessState.RED and readiness.confidence >= r.rest_day_confidence
    ):
        why = "possible overreaching" if readiness.overreaching else "red with good confidence"
        rec.add(
            f"{session.name}",
            session.name,
            None,
            f"daily.{state.value}.rest_day",
            f"{why}: rest day",
        )
        return DailySession(None, tuple(rec.decisions))
    allowed = {
        ReadinessGate.ANY: True,
        ReadinessGate.GREEN: state is ReadinessState.GREEN,
        ReadinessGate.GREEN_OR_AMBER: state is not ReadinessState.RED,
    }[session.requires]
    if not allowed:
        if session.fallback is None:
            rec.add(
                session.name,
                session.name,
                None,
                "daily.gate.rest_day",
                f"session needs {session.requires.value}: rest day",
            )
            return DailySession(None, tuple(rec.decisions))
        fallback = plan.session(session.fallback)
        rec.add(
            "session",
            session.name,
            fallback.name,
            "daily.gate.fallback",
            f"{session.name} needs {session.requires.value} readiness: {fallback.name} instead",
        )
        session = fallback
    if state is ReadinessState.GREEN:
        return DailySession(session, tuple(rec.decisions))
    s = r.amber if state is ReadinessState.AMBER else r.red
    blocks: list[StrengthBlock | BikeBlock] = []
    for i, block in enumerate(session.blocks):
        where = f"{session.name}.blocks[{i}]"
        if isinstance(block, StrengthBlock):
            blocks.append(
                _adjust_strength(block, where, s, state, cat=cat, equipment=equipment, rec=rec)
            )
        else:
            blocks.append(_adjust_bike(block, where, s, state, rec))
    return DailySession(session.model_copy(update={"blocks": tuple(blocks)}), tuple(rec.decisions))


def _adjust_strength(
    block: StrengthBlock,
    where: str,
    s: StateRules,
    state: ReadinessState,
    *,
    cat: Catalogue,
    equipment: frozenset[EquipmentKind] | None,
    rec: _Recorder,
) -> StrengthBlock:
    tag = f"daily.{state.value}"
    update: dict[str, Any] = {}
    load = block.load
    if isinstance(load, PercentOneRM):
        new = round(load.percent * s.load_scale, 1)
        update["load"] = PercentOneRM(percent=new)
        rec.add(
            f"{where}.load.percent",
            load.percent,
            new,
            f"{tag}.load_scale",
            f"load {load.percent:g} % -> {new:g} % 1RM",
        )
    elif isinstance(load, Kilograms) and load.kg > 0:
        new = round(load.kg * s.load_scale, 1)
        update["load"] = Kilograms(kg=new)
        rec.add(
            f"{where}.load.kg",
            load.kg,
            new,
            f"{tag}.load_scale",
            f"load {load.kg:g} kg -> {new:g} kg",
        )
    elif isinstance(load, VelocityZone):
        zone = VelocityZone(
            min_ms=round(load.min_ms + s.zone_shift_ms, 3),
            max_ms=round(load.max_ms + s.zone_shift_ms, 3),
        )
        update["load"] = zone
        rec.add(
            f"{where}.load",
            [load.min_ms, load.max_ms],
            [zone.min_ms, zone.max_ms],
            f"{tag}.velocity_zone_shift",
            f"velocity zone {load.min_ms:g}-{load.max_ms:g} -> "
            f"{zone.min_ms:g}-{zone.max_ms:g} m/s (lighter)",
        )
    sets = max(1, math.ceil(max(1, block.sets - s.sets_drop) * s.sets_scale))
    if sets != block.sets:
        update["sets"] = sets
        rec.add(f"{where}.sets", block.sets, sets, f"{tag}.volume", f"{block.sets} -> {sets} sets")
    vl_before = block.velocity_loss_stop_pct
    vl = min(s.vl_cap_pct, (vl_before if vl_before is not None else s.vl_cap_pct) * s.vl_scale)
    vl = max(5.0, round(vl, 1))
    if vl != vl_before:
        update["velocity_loss_stop_pct"] = vl
        rec.add(
            f"{where}.velocity_loss_stop_pct",
            vl_before,
            vl,
            f"{tag}.velocity_loss_tighter",
            f"stop sets at {vl:g} % velocity loss (was "
            f"{'none' if vl_before is None else f'{vl_before:g} %'})",
        )
    if s.substitute:
        sub = cat.substitute_for(block.exercise, equipment)
        if sub is not None:
            update["exercise"] = sub.name
            rec.add(
                f"{where}.exercise",
                block.exercise,
                sub.name,
                f"{tag}.substitute",
                f"{block.exercise} -> {sub.name} (lower impact)",
            )
            if isinstance(update.get("load", load), VelocityZone) and sub.mvt_ms is None:
                # The substitute has no velocity profile: a conservative relative load.
                update["load"] = PercentOneRM(percent=60.0)
    return block.model_copy(update=update)


def _adjust_target(target: Any, s: StateRules) -> Any:
    if isinstance(target, HRZoneTarget):
        return HRZoneTarget(zone=max(1, min(s.max_hr_zone, target.zone - s.hr_zone_drop)))
    if isinstance(target, PowerTarget):
        return PowerTarget(watts=round(target.watts * s.bike_scale))
    if isinstance(target, PercentThresholdTarget):
        return PercentThresholdTarget(percent=round(target.percent * s.bike_scale, 1))
    if isinstance(target, ErgTarget):
        zone = None if target.hr_zone is None else max(1, min(s.max_hr_zone, target.hr_zone))
        return ErgTarget(
            watts=round(target.watts * s.bike_scale),
            hr_zone=zone,
            max_adjust_pct=target.max_adjust_pct,
        )
    return target


def _adjust_bike(
    block: BikeBlock, where: str, s: StateRules, state: ReadinessState, rec: _Recorder
) -> BikeBlock:
    intervals: list[Interval] = []
    for k, interval in enumerate(block.intervals):
        target = _adjust_target(interval.target, s)
        if target != interval.target:
            rec.add(
                f"{where}.intervals[{k}].target",
                interval.target.model_dump(mode="json"),
                target.model_dump(mode="json"),
                f"daily.{state.value}.bike_zone",
                f"interval {k + 1}: {_describe(interval.target)} -> {_describe(target)}",
            )
        intervals.append(interval.model_copy(update={"target": target}))
    return block.model_copy(update={"intervals": tuple(intervals)})


def _describe(target: Any) -> str:
    if isinstance(target, HRZoneTarget):
        return f"HR zone {target.zone}"
    if isinstance(target, PowerTarget):
        return f"{target.watts:g} W"
    if isinstance(target, PercentThresholdTarget):
        return f"{target.percent:g} % of threshold"
    if isinstance(target, ErgTarget):
        zone = f" held to HR zone {target.hr_zone}" if target.hr_zone else ""
        return f"ERG {target.watts:g} W{zone}"
    return str(target)
