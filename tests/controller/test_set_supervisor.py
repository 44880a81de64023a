"""The set supervisor: a rep event, an analysis and one cue per rep; a stop with its decision."""

from __future__ import annotations

import pytest

from controller.cues import Cue, CueKind
from controller.events import (
    DecisionEvent,
    Event,
    LoadVelocityPoint,
    RepEvent,
    SetEvent,
    SetStop,
)
from controller.pipeline import CompletedRep
from controller.set_supervisor import SetPlan, SetSupervisor
from equipment_adapters.base import CueColour
from kernels.asymmetry import RepAsymmetry, SideMetrics
from kernels.reps import RepMetrics
from plans.decisions import DecisionKind


def metrics(index: int, velocity: float) -> RepMetrics:
    return RepMetrics(
        index=index,
        start_s=float(index),
        end_s=index + 0.9,
        concentric_start_s=index + 0.2,
        concentric_end_s=index + 0.8,
        rom_m=0.5,
        mean_velocity_ms=velocity,
        mean_propulsive_velocity_ms=velocity,
        peak_velocity_ms=velocity * 1.5,
        concentric_s=0.5 / velocity,
        eccentric_s=1.0,
        time_to_peak_s=0.2,
    )


class Rig:
    def __init__(self, plan: SetPlan) -> None:
        self.events: list[Event] = []
        self.cues: list[Cue] = []
        self.supervisor = SetSupervisor(
            "rack-1", publish=self.events.append, offer_cue=self.cues.append
        )
        self.supervisor.start(plan)
        self.n = 0

    def rep(self, velocity: float, asymmetry: RepAsymmetry | None = None) -> None:
        self.supervisor.on_rep(
            CompletedRep("rack", metrics(self.n, velocity), "position", asymmetry)
        )
        self.n += 1

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


def plan(**changes: object) -> SetPlan:
    values: dict[str, object] = {
        "set_id": "sess-1-s01",
        "session_id": "sess-1",
        "athlete_id": "a-1",
        "exercise": "back_squat",
        "set_index": 0,
        "load": 100.0,
        "target_reps": 8,
        "velocity_loss_stop_pct": 20.0,
        "zone_ms": (0.55, 0.70),
        "mvt_ms": 0.30,
    }
    values.update(changes)
    return SetPlan(**values)  # type: ignore[arg-type]


def test_each_rep_is_an_event_with_its_loss_and_a_cue_in_its_zone_colour() -> None:
    rig = Rig(plan(velocity_loss_stop_pct=None, target_reps=None))
    for v in (0.65, 0.72, 0.60, 0.45):
        rig.rep(v)
    reps = rig.of(RepEvent)
    assert [r.rep_index for r in reps] == [0, 1, 2, 3]  # type: ignore[attr-defined]
    assert reps[1].velocity_loss_pct == 0.0  # type: ignore[attr-defined]
    assert reps[3].velocity_loss_pct == pytest.approx((0.72 - 0.45) / 0.72 * 100)  # type: ignore[attr-defined]
    assert [c.kind for c in rig.cues] == [CueKind.REP] * 4
    assert [c.colour for c in rig.cues] == [
        CueColour.GREEN,
        CueColour.BLUE,
        CueColour.GREEN,
        CueColour.RED,
    ]
    assert [c.number for c in rig.cues] == [1, 2, 3, 4]
    assert rig.supervisor.stop is None


def test_velocity_loss_stops_the_set_with_a_stop_cue_and_a_decision() -> None:
    rig = Rig(plan(velocity_loss_stop_pct=15.0))
    for v in (0.70, 0.68, 0.64, 0.61, 0.58):
        rig.rep(v)
    assert rig.supervisor.stop is SetStop.VELOCITY_LOSS
    assert rig.supervisor.stopped.is_set()
    assert rig.cues[-1].kind is CueKind.STOP
    assert rig.cues[-1].text.startswith("STOP")
    assert rig.cues[-2].kind is CueKind.LAST_REP
    decision = rig.of(DecisionEvent)[0]
    assert decision.decision.kind is DecisionKind.SET_STOP  # type: ignore[attr-defined]
    assert decision.decision.rule == "velocity_loss_stop"  # type: ignore[attr-defined]
    assert "15 % stop threshold" in decision.decision.reason  # type: ignore[attr-defined]
    rig.rep(0.55)  # the athlete finishing a movement after the stop: not counted
    assert len(rig.of(RepEvent)) == 5
    result = rig.supervisor.finish(SetStop.ATHLETE, load=100.0)
    assert result.event.stop is SetStop.VELOCITY_LOSS
    assert result.event.reps == 5
    assert result.event.best_velocity_ms == 0.70
    point = rig.of(LoadVelocityPoint)[0]
    assert (point.load, point.velocity_ms) == (100.0, 0.70)  # type: ignore[attr-defined]


def test_rep_target_stops_the_set_and_the_rep_before_is_the_last() -> None:
    rig = Rig(plan(target_reps=3, velocity_loss_stop_pct=None))
    for v in (0.6, 0.6, 0.6):
        rig.rep(v)
    assert [c.kind for c in rig.cues] == [CueKind.REP, CueKind.LAST_REP, CueKind.STOP]
    assert rig.supervisor.stop is SetStop.REP_TARGET
    assert rig.of(DecisionEvent)[0].decision.rule == "rep_target"  # type: ignore[attr-defined]


def test_an_athlete_stop_keeps_its_reason_and_a_set_without_reps_has_no_point() -> None:
    rig = Rig(plan())
    result = rig.supervisor.finish(SetStop.ATHLETE)
    assert result.event.stop is SetStop.ATHLETE
    assert result.event.reps == 0
    assert rig.of(SetEvent)
    assert not rig.of(LoadVelocityPoint)
    with pytest.raises(RuntimeError):
        rig.supervisor.finish(SetStop.ATHLETE)


def test_asymmetry_indices_are_kept_per_rep() -> None:
    rig = Rig(plan())
    side = SideMetrics(0.5, 0.6, 500.0)
    rig.rep(0.6, RepAsymmetry(metrics(0, 0.6), side, side, 4.0, 3.0, 12.0))
    rig.rep(0.6, RepAsymmetry(metrics(1, 0.6), side, side, 5.0, 3.0, None))
    rig.rep(0.6)
    assert rig.supervisor.finish(SetStop.ATHLETE).asymmetry_pct == (12.0, 5.0, None)


def test_without_a_zone_the_colour_follows_the_sets_own_best() -> None:
    rig = Rig(plan(zone_ms=None, velocity_loss_stop_pct=30.0, target_reps=None))
    for v in (1.0, 0.95, 0.9, 0.66):
        rig.rep(v)
    assert [c.colour for c in rig.cues[:3]] == [CueColour.GREEN] * 3  # within 30 % of the best
    assert rig.cues[3].kind is CueKind.STOP


def test_the_velocity_array_grows_past_its_capacity() -> None:
    events: list[Event] = []
    supervisor = SetSupervisor("s", publish=events.append, offer_cue=lambda c: None, capacity=2)
    supervisor.start(plan(target_reps=None, velocity_loss_stop_pct=None))
    for i in range(5):
        supervisor.on_rep(CompletedRep("r", metrics(i, 0.5), "position"))
    assert supervisor.velocities.tolist() == [0.5] * 5
