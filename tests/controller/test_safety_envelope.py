"""The envelope's rules, one by one, and as properties over arbitrary command sequences."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.cues import CueKind
from controller.events import CommandOutcome, CommandSource
from controller.safety import Envelope, EnvelopeSettings, Limits, Verdict
from equipment_adapters.base import (
    Command,
    EnterSafeState,
    LoadRange,
    LoadUnit,
    ModeKind,
    ResetFault,
    ResistanceMode,
    SetLoad,
    SetMode,
)
from plans.decisions import DecisionKind

from .recording_adapter import RACK_LOAD

PLAN = CommandSource.PLAN
STAFF = CommandSource.STAFF


def make(**overrides: object) -> Envelope:
    values: dict[str, object] = {
        "load": RACK_LOAD,
        "rate_per_s": 20.0,
        "stale_after_s": 0.25,
        "announce_threshold": 5.0,
        "announce_mode": "confirm",
        "announce_s": 8.0,
        "modes": frozenset({ModeKind.STANDARD, ModeKind.ECCENTRIC, ModeKind.CHAINS}),
        "exercise_caps": {"bench_press": 120.0},
    }
    values.update(overrides)
    return Envelope(EnvelopeSettings(**values), station_id="rack-1")  # type: ignore[arg-type]


def loads(verdict: Verdict) -> list[float]:
    return [c.value for c in verdict.commands if isinstance(c, SetLoad)]


def ramp(env: Envelope, start: float, until: float, step: float = 0.05) -> list[float]:
    out: list[float] = []
    t = start
    while t <= until + 1e-9:
        out += loads(env.tick(t))
        t += step
    return out


def test_clamps_to_the_athlete_cap_and_says_why() -> None:
    env = make()
    env.set_limits(
        Limits(athlete_id="a-1", exercise="back_squat", athlete_e1rm=100.0, margin_pct=10.0),
        now=0.0,
    )
    verdict = env.request_load(150.0, source=STAFF, now=0.0)
    assert verdict.outcome is CommandOutcome.ANNOUNCED  # from 0: well above the threshold
    assert verdict.target == 110.0
    clamp = verdict.decisions[0]
    assert clamp.kind is DecisionKind.SAFETY
    assert clamp.rule == "ceiling"
    assert (clamp.before, clamp.after) == (150.0, 110.0)
    assert clamp.inputs["athlete_cap"] == pytest.approx(110.0)
    assert "above the ceiling of 110 kg" in clamp.reason


def test_exercise_cap_from_the_config() -> None:
    env = make()
    env.set_limits(Limits(athlete_id="a-1", exercise="bench_press"), now=0.0)
    assert env.ceiling() == 120.0


def test_decreases_are_immediate_and_quantised() -> None:
    env = make(announce_threshold=1000.0)
    env.request_load(40.0, source=PLAN, now=0.0)
    ramp(env, 0.0, 3.0)
    verdict = env.request_load(22.3, source=PLAN, now=3.0)
    assert loads(verdict) == [22.5]
    assert verdict.outcome is CommandOutcome.APPLIED


def test_increases_ramp_at_the_rate() -> None:
    env = make(announce_threshold=1000.0)
    first = env.request_load(30.0, source=PLAN, now=10.0)
    assert first.outcome is CommandOutcome.RAMPING
    assert loads(first) == [0.0]  # out of the safe state at the device minimum
    steps = ramp(env, 10.0, 12.0, step=0.025)  # a step when one increment is allowed
    assert steps[:3] == [0.5, 1.0, 1.5]
    assert steps[-1] == 30.0
    assert all(b - a <= 0.5 + 1e-9 for a, b in zip([0.0, *steps], steps, strict=False))
    assert env.next_step_at() is None
    assert env.at_target()


def test_an_increase_between_sets_is_announced_and_waits_for_confirmation() -> None:
    env = make()
    env.request_load(4.5, source=PLAN, now=0.0)
    ramp(env, 0.0, 1.0)
    env.end_set(now=1.0)  # reference: 4.5
    verdict = env.request_load(20.0, source=CommandSource.AUTOREGULATION, now=1.0)
    assert verdict.outcome is CommandOutcome.ANNOUNCED
    assert verdict.commands == []
    (cue,) = verdict.cues
    assert cue.kind is CueKind.CONFIRM_LOAD
    assert cue.number == 20.0
    assert ramp(env, 1.0, 5.0) == []  # nothing moves without a confirmation
    confirmed = env.confirm(source=CommandSource.ATHLETE, now=5.0)
    assert confirmed.outcome is CommandOutcome.RAMPING
    assert ramp(env, 5.0, 7.0)[-1] == 20.0


def test_small_increases_are_not_announced_but_slices_add_up() -> None:
    env = make()
    env.request_load(4.5, source=PLAN, now=0.0)
    ramp(env, 0.0, 1.0)
    env.end_set(now=1.0)  # the last set was at 4.5
    assert env.request_load(9.0, source=PLAN, now=1.0).outcome is CommandOutcome.RAMPING
    ramp(env, 1.0, 2.0)
    # another small step in the same rest is measured from the last set, not from 9
    assert env.request_load(13.0, source=PLAN, now=2.0).outcome is CommandOutcome.ANNOUNCED


def test_an_unconfirmed_announcement_expires_and_a_set_start_drops_it() -> None:
    env = make(announce_s=3.0)
    env.request_load(50.0, source=PLAN, now=0.0)
    expired = env.tick(3.0)
    assert [d.rule for d in expired.decisions] == ["announce_expired"]
    assert env.pending is None
    env.request_load(50.0, source=PLAN, now=4.0)
    env.fresh(4.0)
    started = env.begin_set(now=4.1)
    assert [d.rule for d in started.decisions] == ["announce_unconfirmed"]
    assert env.pending is None


def test_announce_timeout_mode_applies_after_the_time() -> None:
    env = make(announce_mode="timeout", announce_s=2.0)
    env.request_load(30.0, source=PLAN, now=0.0)
    assert env.tick(1.9).commands == []
    elapsed = env.tick(2.0)
    assert [d.rule for d in elapsed.decisions] == ["announce_elapsed"]
    assert ramp(env, 2.0, 4.0)[-1] == 30.0


def test_estop_latches_until_staff_release() -> None:
    env = make(announce_threshold=1000.0)
    env.request_load(30.0, source=PLAN, now=0.0)
    stop = env.estop(source=CommandSource.MQTT, reason="panic", now=0.5)
    assert stop.commands == [EnterSafeState()]
    assert stop.preempt
    assert [a.code for a in stop.alerts] == ["estop"]
    assert [c.kind for c in stop.cues] == [CueKind.ESTOP]
    assert ramp(env, 0.5, 3.0) == []
    refused = env.request_load(10.0, source=STAFF, now=3.0)
    assert refused.outcome is CommandOutcome.REFUSED
    assert "e-stop latched" in refused.reason
    assert env.release(source=CommandSource.MQTT, by="app", now=3.0).outcome is (
        CommandOutcome.REFUSED
    )
    assert env.release(source=CommandSource.PLAN, by=None, now=3.0).outcome is (
        CommandOutcome.REFUSED
    )
    released = env.release(source=STAFF, by="coach", now=3.1)
    assert released.commands == [ResetFault()]
    assert env.request_load(10.0, source=STAFF, now=3.2).outcome is CommandOutcome.RAMPING


def test_remote_release_when_the_site_allows_it() -> None:
    env = make(remote_release=True)
    env.estop(source=STAFF, reason="", now=0.0)
    assert env.release(source=CommandSource.MQTT, by="app", now=1.0).outcome is (
        CommandOutcome.APPLIED
    )


def test_stale_data_during_a_set_means_safe_state() -> None:
    env = make(announce_threshold=1000.0)
    env.request_load(20.0, source=PLAN, now=0.0)
    ramp(env, 0.0, 1.5)
    env.fresh(1.5)
    env.begin_set(now=1.5)
    env.fresh(1.6)
    assert env.tick(1.8).commands == []
    stale = env.tick(1.9)
    assert stale.commands == [EnterSafeState()]
    assert "stale data during a set (last sample: 300 ms ago" in stale.alerts[0].message
    assert env.request_load(10.0, source=PLAN, now=2.0).outcome is CommandOutcome.REFUSED
    assert env.clear_fault(reason="data back", now=3.0).commands == [ResetFault()]
    assert env.request_load(10.0, source=PLAN, now=3.0).outcome is CommandOutcome.RAMPING


def test_no_staleness_check_between_sets() -> None:
    env = make()
    env.fresh(0.0)
    assert env.tick(100.0).commands == []


def test_a_lower_ceiling_lowers_the_load_at_once() -> None:
    env = make(announce_threshold=1000.0)
    env.set_limits(Limits(athlete_id="a-1"), now=0.0)
    env.request_load(60.0, source=PLAN, now=0.0)
    ramp(env, 0.0, 4.0)
    lowered = env.set_limits(Limits(athlete_id="a-1", athlete_e1rm=40.0, margin_pct=0.0), now=4.0)
    assert loads(lowered) == [40.0]
    assert [d.rule for d in lowered.decisions] == ["ceiling"]


def test_a_new_athlete_starts_from_the_minimum() -> None:
    env = make(announce_threshold=1000.0)
    env.set_limits(Limits(athlete_id="a-1"), now=0.0)
    env.request_load(60.0, source=PLAN, now=0.0)
    ramp(env, 0.0, 4.0)
    changed = env.set_limits(Limits(athlete_id="a-2"), now=4.0)
    assert loads(changed) == [0.0]


def test_eccentric_overload_is_clamped_under_the_ceiling() -> None:
    env = make(announce_threshold=1000.0)
    env.set_limits(Limits(athlete_id="a-1", athlete_e1rm=100.0, margin_pct=0.0), now=0.0)
    env.request_load(80.0, source=PLAN, now=0.0)
    ramp(env, 0.0, 5.0)
    verdict = env.set_mode(
        ResistanceMode(ModeKind.ECCENTRIC, eccentric_pct=40.0), source=STAFF, now=5.0
    )
    assert verdict.outcome is CommandOutcome.CLAMPED
    (command,) = verdict.commands
    assert isinstance(command, SetMode)
    assert command.mode.eccentric_pct == 25.0
    assert env.base_ceiling() == 80.0  # later increases keep the peak under the ceiling
    assert env.set_mode(ResistanceMode(ModeKind.SPOTTER), source=STAFF, now=5.0).outcome is (
        CommandOutcome.REFUSED
    )


# -- properties -----------------------------------------------------------------------


@dataclass
class Model:
    """What the test itself tracks to judge the envelope's output."""

    ceiling: float = RACK_LOAD.maximum
    ecc_pct: float = 0.0
    estopped: bool = False
    in_set: bool = False
    last: tuple[float, float] | None = None  # (time, value) of the last SetLoad
    safe_since: float | None = 0.0
    allowed_between_sets: float = 5.0  # reference + threshold, or what was confirmed
    limits: Limits = field(default_factory=Limits)


sources = st.sampled_from(list(CommandSource))
ops = st.one_of(
    st.tuples(
        st.just("load"),
        st.one_of(st.floats(-20, 400), st.sampled_from([math.nan, math.inf, -math.inf])),
        sources,
    ),
    st.tuples(st.just("confirm"), st.none(), sources),
    st.tuples(st.just("estop"), st.none(), sources),
    st.tuples(st.just("release"), st.none(), sources),
    st.tuples(st.just("begin"), st.none(), st.none()),
    st.tuples(st.just("end"), st.none(), st.none()),
    st.tuples(st.just("fresh"), st.none(), st.none()),
    st.tuples(st.just("fault"), st.none(), st.none()),
    st.tuples(st.just("clear"), st.none(), st.none()),
    st.tuples(st.just("e1rm"), st.one_of(st.none(), st.floats(10, 300)), st.none()),
    st.tuples(st.just("ecc"), st.floats(0, 60), st.none()),
    st.tuples(st.just("std"), st.none(), st.none()),
)
steps = st.lists(st.tuples(st.floats(0, 1.5), ops), max_size=60)


@settings(
    max_examples=int(os.environ.get("GYMCTL_PROPERTY_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps, st.sampled_from(["confirm", "timeout"]))
def test_no_sequence_passes_the_ceiling_or_the_rate_and_estop_always_wins(
    script: list[tuple[float, tuple[str, object, object]]], mode: str
) -> None:
    env = make(announce_mode=mode, announce_s=2.0)
    env.set_limits(Limits(athlete_id="a-1"), now=0.0)
    model = Model()
    now = 0.0
    rate = env.settings.rate_per_s

    def check(verdict: Verdict, t: float) -> None:
        commands: list[Command] = verdict.commands
        if model.estopped and verdict.commands:
            # after an e-stop only the safe state itself (and a staff reset) may go out
            assert all(isinstance(c, EnterSafeState | ResetFault) for c in commands), commands
        for command in commands:
            if isinstance(command, EnterSafeState):
                model.last = None
                model.safe_since = t
                model.allowed_between_sets = env.floor + env.settings.announce_threshold
            elif isinstance(command, SetMode):
                model.ecc_pct = (
                    command.mode.eccentric_pct if command.mode.kind is ModeKind.ECCENTRIC else 0.0
                )
                level = model.last[1] if model.last else env.floor
                assert level * (1 + model.ecc_pct / 100) <= model.ceiling + 1e-6
            elif isinstance(command, SetLoad):
                v = command.value
                assert not model.estopped
                assert v >= env.floor - 1e-9
                assert math.isclose(
                    v / RACK_LOAD.increment, round(v / RACK_LOAD.increment), abs_tol=1e-6
                )
                # the ceiling, with the peak of the mode
                assert v * (1 + model.ecc_pct / 100) <= max(model.ceiling, env.floor) + 1e-6
                # the rate: against the last load, or the minimum since the safe state
                if model.last is not None:
                    t0, v0 = model.last
                else:
                    assert model.safe_since is not None
                    t0, v0 = model.safe_since, env.floor
                assert v - v0 <= rate * (t - t0) + 1e-6, (v0, v, t0, t)
                # announce before increase: between sets, never above what was allowed
                if not model.in_set and v > (model.last[1] if model.last else env.floor):
                    assert v <= model.allowed_between_sets + 1e-6, (v, model)
                model.last = (t, v)

    for dt, (op, arg, src) in script:
        now += dt
        model_pending = env.pending
        if op == "load":
            assert isinstance(src, CommandSource)
            verdict = env.request_load(float(arg), source=src, now=now)  # type: ignore[arg-type]
        elif op == "confirm":
            assert isinstance(src, CommandSource)
            verdict = env.confirm(source=src, now=now)
            if verdict.outcome is CommandOutcome.RAMPING and model_pending is not None:
                model.allowed_between_sets = max(model.allowed_between_sets, model_pending.value)
        elif op == "estop":
            assert isinstance(src, CommandSource)
            verdict = env.estop(source=src, reason="test", now=now)
            assert verdict.commands[0] == EnterSafeState()
            assert verdict.preempt
            model.estopped = True
        elif op == "release":
            assert isinstance(src, CommandSource)
            verdict = env.release(source=src, by=None, now=now)
            if verdict.outcome is CommandOutcome.APPLIED:
                assert src is CommandSource.STAFF
                model.estopped = False
        elif op == "begin":
            verdict = env.begin_set(now=now)
        elif op == "end":
            verdict = env.end_set(now=now)
        elif op == "fresh":
            env.fresh(now)
            verdict = Verdict(CommandOutcome.APPLIED, "")
        elif op == "fault":
            verdict = env.device_fault("test", now=now)
        elif op == "clear":
            verdict = env.clear_fault(reason="test", now=now)
        elif op == "e1rm":
            limits = Limits(athlete_id="a-1", athlete_e1rm=arg, margin_pct=10.0)  # type: ignore[arg-type]
            verdict = env.set_limits(limits, now=now)
            model.ceiling = min(
                RACK_LOAD.maximum, arg * 1.1 if isinstance(arg, float) else math.inf
            )
            # the new ceiling is checked on the commands this very call produced
        elif op == "ecc":
            verdict = env.set_mode(
                ResistanceMode(ModeKind.ECCENTRIC, eccentric_pct=float(arg)),  # type: ignore[arg-type]
                source=CommandSource.STAFF,
                now=now,
            )
        else:
            verdict = env.set_mode(ResistanceMode(), source=CommandSource.STAFF, now=now)
        check(verdict, now)
        if op == "begin":
            model.in_set = env.in_set
        if op == "end":
            model.in_set = False
            level = model.last[1] if model.last else env.floor
            model.allowed_between_sets = level + env.settings.announce_threshold
        if env.safe:
            model.in_set = False
        # time passes in small ticks, as the drive does
        for k in range(1, 4):
            tick = env.tick(now + k * dt / 3)
            if tick.decisions and any(d.rule == "announce_elapsed" for d in tick.decisions):
                model.allowed_between_sets = max(model.allowed_between_sets, env.target or 0.0)
            check(tick, now + k * dt / 3)
            if env.safe:
                model.in_set = False
        now += dt
        # the e-stop state seen from outside always matches
        assert (env.estop_reason is not None) == model.estopped


def test_a_continuous_device_gets_a_bounded_command_rate() -> None:
    bike = LoadRange(
        LoadUnit.WATT, minimum=0.0, maximum=1000.0, increment=0.0, max_increase_per_s=100.0
    )
    env = make(load=bike, rate_per_s=100.0, announce_threshold=1000.0)
    env.request_load(50.0, source=PLAN, now=0.0)
    steps = ramp(env, 0.0, 1.0, step=0.001)  # ticked at 1 kHz
    assert steps[-1] == 50.0
    assert len(steps) <= 26  # 0.5 s of ramp, one step per 20 ms at most
    assert all(b - a <= 2.0 + 1e-9 for a, b in zip([0.0, *steps], steps, strict=False))
