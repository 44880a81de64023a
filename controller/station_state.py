"""The station state machine: explicit transitions, each published on the bus.

The table :data:`TRANSITIONS` is the whole truth: a transition not in it raises
``IllegalTransitionError`` naming the station, both states and what is allowed. The intent
methods (``check_in``, ``start_set``, ``fault``, ``release``...) are the vocabulary the
station and the panel use; each is one transition of the table (or none, where the method
says so).

Safe states (``offline``, ``fault``, ``estopped``) remember where the station was, so that
a recovered fault or a released e-stop resumes the session: a set that was interrupted
counts as ended and the station rests, then needs its load applied again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from controller.errors import IllegalTransitionError
from controller.events import Event, StationStateChanged
from controller.states import StationState

S = StationState

#: from each state, the states it may go to
TRANSITIONS: Mapping[StationState, frozenset[StationState]] = {
    S.OFFLINE: frozenset({S.IDLE, S.FAULT, S.ESTOPPED}),
    S.IDLE: frozenset({S.CHECKED_IN, S.OFFLINE, S.FAULT, S.ESTOPPED}),
    S.CHECKED_IN: frozenset({S.SET_READY, S.SESSION_DONE, S.IDLE, S.FAULT, S.ESTOPPED}),
    S.SET_READY: frozenset(
        {S.SET_ACTIVE, S.CHECKED_IN, S.RESTING, S.SESSION_DONE, S.IDLE, S.FAULT, S.ESTOPPED}
    ),
    S.SET_ACTIVE: frozenset({S.RESTING, S.SESSION_DONE, S.FAULT, S.ESTOPPED}),
    S.RESTING: frozenset({S.SET_READY, S.SESSION_DONE, S.IDLE, S.FAULT, S.ESTOPPED}),
    S.SESSION_DONE: frozenset({S.IDLE, S.FAULT, S.ESTOPPED}),
    S.FAULT: frozenset({S.IDLE, S.CHECKED_IN, S.RESTING, S.SESSION_DONE, S.OFFLINE, S.ESTOPPED}),
    S.ESTOPPED: frozenset({S.IDLE, S.CHECKED_IN, S.RESTING, S.SESSION_DONE, S.FAULT, S.OFFLINE}),
}

#: where a session resumes after a fault or an e-stop, by the state it was in
_RESUME: Mapping[StationState, StationState] = {
    S.OFFLINE: S.IDLE,
    S.IDLE: S.IDLE,
    S.CHECKED_IN: S.CHECKED_IN,
    S.SET_READY: S.RESTING,  # the load was dropped: it must be applied again
    S.SET_ACTIVE: S.RESTING,  # the interrupted set counts as ended
    S.RESTING: S.RESTING,
    S.SESSION_DONE: S.SESSION_DONE,
}

_WITH_ATHLETE = frozenset({S.CHECKED_IN, S.SET_READY, S.SET_ACTIVE, S.RESTING, S.SESSION_DONE})


class StationStateMachine:
    """The state of one station, with the athlete and session it concerns."""

    def __init__(
        self,
        station_id: str,
        *,
        publish: Callable[[Event], None],
        initial: StationState = StationState.OFFLINE,
    ) -> None:
        self.station_id = station_id
        self.publish = publish
        self.state = initial
        self.athlete_id: str | None = None
        self.session_id: str | None = None
        self.sets_done = 0
        self._before_safe: StationState | None = None
        self._device_faulted = False
        self._connected = initial is not StationState.OFFLINE

    # -- the table ----------------------------------------------------------------------

    def can(self, target: StationState) -> bool:
        return target in TRANSITIONS[self.state]

    def transition(self, target: StationState, reason: str) -> None:
        """Go to ``target`` if the table allows it; publish the change."""
        if target not in TRANSITIONS[self.state]:
            raise IllegalTransitionError(
                self.station_id,
                self.state.value,
                target.value,
                sorted(s.value for s in TRANSITIONS[self.state]),
            )
        before = self.state
        self.state = target
        if target not in _WITH_ATHLETE and target not in (S.FAULT, S.ESTOPPED):
            self.athlete_id = None
            self.session_id = None
            self.sets_done = 0
        self.publish(
            StationStateChanged(
                station_id=self.station_id,
                before=before,
                after=target,
                reason=reason,
                athlete_id=self.athlete_id,
                session_id=self.session_id,
            )
        )

    @property
    def has_athlete(self) -> bool:
        return self.athlete_id is not None

    def _require(self, intent: str, *states: StationState) -> None:
        """An intent's own precondition, on top of the table (the safe states are left
        only by ``recover`` and ``release``)."""
        if self.state not in states:
            raise IllegalTransitionError(
                self.station_id, self.state.value, intent, [s.value for s in states]
            )

    # -- intents --------------------------------------------------------------------------

    def connected(self) -> None:
        """The station's devices are all connected (from offline: idle)."""
        self._connected = True
        if self.state is S.OFFLINE:
            self.transition(S.IDLE, "devices connected")

    def disconnected(self, reason: str) -> None:
        """A device of the station is gone: offline without an athlete, fault with one.

        While e-stopped nothing changes (the latch wins); the release will see it.
        """
        self._connected = False
        if self.state is S.IDLE:
            self.transition(S.OFFLINE, reason)
        elif self.state in _WITH_ATHLETE:
            self.fault(reason)

    def check_in(self, athlete_id: str, session_id: str) -> None:
        self._require("checked in", S.IDLE)
        self.athlete_id = athlete_id
        self.session_id = session_id
        self.sets_done = 0
        self.transition(S.CHECKED_IN, "athlete checked in")

    def load_ready(self) -> None:
        """The set's load is applied and confirmed."""
        self._require("set ready", S.CHECKED_IN, S.RESTING)
        self.transition(S.SET_READY, "load applied and confirmed")

    def load_changing(self, reason: str) -> None:
        """A new load was asked for before the set started: ready no more."""
        self._require("load changing", S.SET_READY)
        self.transition(S.RESTING if self.sets_done else S.CHECKED_IN, reason)

    def start_set(self) -> None:
        self.transition(S.SET_ACTIVE, f"set {self.sets_done + 1} started")

    def end_set(self, reason: str, *, last: bool = False) -> None:
        self._require("set ended", S.SET_ACTIVE)
        self.sets_done += 1
        self.transition(S.SESSION_DONE if last else S.RESTING, reason)

    def finish_session(self, reason: str) -> None:
        self._require("session done", S.CHECKED_IN, S.SET_READY, S.RESTING)
        self.transition(S.SESSION_DONE, reason)

    def check_out(self, reason: str = "athlete checked out") -> None:
        self._require("checked out", S.CHECKED_IN, S.SET_READY, S.RESTING, S.SESSION_DONE, S.FAULT)
        self.transition(S.IDLE, reason)

    def fault(self, reason: str) -> None:
        """Safe state after stale data or a device fault (a no-op when already safe)."""
        if self.state is S.ESTOPPED:
            self._device_faulted = True
            return
        if self.state is S.FAULT:
            return
        self._before_safe = self.state
        self._device_faulted = True
        self.transition(S.FAULT, reason)

    def recover(self, reason: str) -> None:
        """The fault is over: back where the session was (an interrupted set has ended)."""
        if self.state is not S.FAULT:
            raise IllegalTransitionError(
                self.station_id, self.state.value, "recovered", ["only from fault"]
            )
        self._device_faulted = False
        self.transition(self._resume_state(), reason)

    def estop(self, reason: str) -> None:
        """Latch: from any state (a no-op when already e-stopped)."""
        if self.state is S.ESTOPPED:
            return
        if self.state is S.FAULT:
            self._device_faulted = True
        else:
            self._before_safe = self.state
        self.transition(S.ESTOPPED, reason)

    def release(self, by: str) -> None:
        """Staff released the e-stop: resume, or fault if a device is still in trouble."""
        if self.state is not S.ESTOPPED:
            raise IllegalTransitionError(
                self.station_id, self.state.value, "released", ["only from estopped"]
            )
        reason = f"e-stop released by {by}"
        if self._device_faulted or (not self._connected and self.has_athlete):
            self.transition(S.FAULT, f"{reason}; the device is still faulted")
        elif not self._connected:
            self.transition(S.OFFLINE, f"{reason}; devices not connected")
        else:
            self.transition(self._resume_state(), reason)

    def _resume_state(self) -> StationState:
        before = self._before_safe or S.IDLE
        self._before_safe = None
        if before is S.SET_ACTIVE:
            self.sets_done += 1
        target = _RESUME.get(before, S.IDLE)
        if target is S.RESTING and not self.sets_done:
            target = S.CHECKED_IN
        if not self.has_athlete:
            target = S.IDLE
        return target
