from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.errors import IllegalTransitionError
from controller.events import Event, StationStateChanged
from controller.states import StationState
from controller.station_state import TRANSITIONS, StationStateMachine

S = StationState


class Log(list[Event]):
    def __call__(self, event: Event) -> None:
        self.append(event)

    def path(self) -> list[str]:
        return [e.after.value for e in self if isinstance(e, StationStateChanged)]


def state(machine: StationStateMachine) -> StationState:
    """Read the state afresh (mypy would keep an earlier narrowing of the attribute)."""
    return machine.state


def at(state: StationState, log: Log | None = None) -> StationStateMachine:
    machine = StationStateMachine(
        "rack-1", publish=log if log is not None else Log(), initial=state
    )
    if state in (S.CHECKED_IN, S.SET_READY, S.SET_ACTIVE, S.RESTING, S.SESSION_DONE):
        machine.athlete_id, machine.session_id = "a-1", "ses-1"
    return machine


@pytest.mark.parametrize(("before", "after"), list(itertools.product(S, S)))
def test_every_pair_of_states_follows_the_table(
    before: StationState,
    after: StationState,
) -> None:
    log = Log()
    machine = at(before, log)
    if after in TRANSITIONS[before]:
        machine.transition(after, "test")
        assert machine.state is after
        (event,) = log
        assert isinstance(event, StationStateChanged)
        assert (event.before, event.after, event.station_id) == (before, after, "rack-1")
    else:
        with pytest.raises(IllegalTransitionError) as info:
            machine.transition(after, "test")
        assert f"station rack-1: cannot go from {before.value} to {after.value}" in str(info.value)
        assert machine.state is before
        assert log == []


def test_every_state_can_be_estopped_and_left_only_by_release() -> None:
    for state in S:
        if state is not S.ESTOPPED:
            assert S.ESTOPPED in TRANSITIONS[state], state
    assert S.SET_ACTIVE not in TRANSITIONS[S.ESTOPPED]
    assert S.SET_READY not in TRANSITIONS[S.ESTOPPED]  # a load is never ready after a stop


def test_a_session_from_check_in_to_check_out() -> None:
    log = Log()
    m = StationStateMachine("rack-1", publish=log)
    m.connected()
    m.check_in("a-1", "ses-1")
    for n in range(3):
        m.load_ready()
        m.start_set()
        m.end_set("velocity loss 20 %", last=n == 2)
    m.check_out()
    assert log.path() == [
        "idle",
        "checked_in",
        "set_ready",
        "set_active",
        "resting",
        "set_ready",
        "set_active",
        "resting",
        "set_ready",
        "set_active",
        "session_done",
        "idle",
    ]
    changes = [e for e in log if isinstance(e, StationStateChanged)]
    assert changes[1].athlete_id == "a-1"
    assert changes[1].session_id == "ses-1"
    assert changes[-1].athlete_id is None
    assert changes[4].reason == "velocity loss 20 %"


def test_a_fault_mid_set_resumes_resting_with_the_set_counted() -> None:
    log = Log()
    m = StationStateMachine("rack-1", publish=log)
    m.connected()
    m.check_in("a-1", "ses-1")
    m.load_ready()
    m.start_set()
    m.disconnected("modbus link lost")
    assert state(m) is S.FAULT
    assert m.athlete_id == "a-1"
    m.fault("again")  # already safe: nothing new
    m.connected()
    m.recover("device back, data fresh")
    assert state(m) is S.RESTING
    assert m.sets_done == 1
    assert log.path()[-2:] == ["fault", "resting"]


def test_estop_wins_over_faults_and_release_goes_where_it_should() -> None:
    m = at(S.SET_ACTIVE)
    m._connected = True
    m.estop("panel")
    m.fault("link lost while stopped")  # the latch wins, the fault is remembered
    assert state(m) is S.ESTOPPED
    m.release("coach")
    assert state(m) is S.FAULT
    m.recover("device back")
    assert state(m) is S.RESTING
    m.estop("again")
    m.release("coach")
    assert state(m) is S.RESTING


def test_release_without_devices() -> None:
    idle = at(S.IDLE)
    idle._connected = True
    idle.estop("x")
    idle.disconnected("gone")
    assert state(idle) is S.ESTOPPED
    idle.release("coach")
    assert state(idle) is S.OFFLINE


def test_intents_out_of_place_are_refused() -> None:
    m = at(S.IDLE)
    with pytest.raises(IllegalTransitionError, match="cannot go from idle to set_active"):
        m.start_set()
    with pytest.raises(IllegalTransitionError, match="only from estopped"):
        m.release("coach")
    with pytest.raises(IllegalTransitionError, match="only from fault"):
        m.recover("x")
    busy = at(S.RESTING)
    with pytest.raises(IllegalTransitionError, match="cannot go from resting to checked in"):
        busy.check_in("a-2", "ses-2")
    assert busy.athlete_id == "a-1"  # the athlete at the station is still theirs
    stopped = at(S.ESTOPPED)
    for intent in (stopped.check_out, stopped.load_ready, lambda: stopped.check_in("a", "s")):
        with pytest.raises(IllegalTransitionError, match="from estopped"):
            intent()


intents = st.lists(
    st.sampled_from(
        [
            "connected",
            "disconnected",
            "check_in",
            "load_ready",
            "load_changing",
            "start_set",
            "end_set",
            "end_last",
            "finish",
            "check_out",
            "fault",
            "recover",
            "estop",
            "release",
        ]
    ),
    max_size=50,
)


@given(intents)
def test_no_sequence_of_intents_leaves_the_table(script: list[str]) -> None:
    log = Log()
    m = StationStateMachine("rack-1", publish=log)
    calls: dict[str, Callable[[], None]] = {
        "connected": m.connected,
        "disconnected": lambda: m.disconnected("x"),
        "check_in": lambda: m.check_in("a-1", "ses-1"),
        "load_ready": m.load_ready,
        "load_changing": lambda: m.load_changing("x"),
        "start_set": m.start_set,
        "end_set": lambda: m.end_set("x"),
        "end_last": lambda: m.end_set("x", last=True),
        "finish": lambda: m.finish_session("x"),
        "check_out": m.check_out,
        "fault": lambda: m.fault("x"),
        "recover": lambda: m.recover("x"),
        "estop": lambda: m.estop("x"),
        "release": lambda: m.release("coach"),
    }
    for intent in script:
        before = m.state
        try:
            calls[intent]()
        except IllegalTransitionError:
            assert m.state is before
        if before is S.ESTOPPED and m.state is not S.ESTOPPED:
            assert intent == "release"
        if m.state in (S.SET_READY, S.SET_ACTIVE, S.RESTING):
            assert m.athlete_id == "a-1"
    for event in log:
        assert isinstance(event, StationStateChanged)
        assert event.after in TRANSITIONS[event.before]
