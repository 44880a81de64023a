"""The states a station can be in (the state machine itself is in ``station_state``)."""

from __future__ import annotations

import enum


class StationState(enum.StrEnum):
    OFFLINE = "offline"  #: its devices are not (all) connected
    IDLE = "idle"  #: connected, no athlete
    CHECKED_IN = "checked_in"  #: an athlete is at the station, no load ready yet
    SET_READY = "set_ready"  #: the set's load is applied and confirmed
    SET_ACTIVE = "set_active"  #: the athlete is lifting or riding
    RESTING = "resting"  #: between sets, the rest timer runs
    SESSION_DONE = "session_done"  #: the plan of the day is finished
    FAULT = "fault"  #: safe state after stale data or a device fault, staff alerted
    ESTOPPED = "estopped"  #: e-stop latched, released only by staff

    @property
    def is_safe_state(self) -> bool:
        """States in which the actuator must hold zero resistance."""
        return self in (StationState.OFFLINE, StationState.FAULT, StationState.ESTOPPED)
