"""The controller's service API: what the studio panel (and any other front end) may use.

The panel never reaches into stations, drives or adapters. It sees the site through this
small seam: a snapshot of each station, the event bus to follow what happens, and a few
staff commands. Every command goes through the station's safety envelope
(``controller.safety.ResistanceDrive``) exactly like a command from the plan or MQTT, and
answers with what the envelope decided (:class:`CommandResult`), so the panel can show
"clamped to 180 kg: above the athlete's ceiling" instead of guessing.

The site's ``Gym`` implements :class:`GymService`; the panel's tests implement it with the
same real parts (bus, drive over a recording adapter, store).

Conventions the panel relies on:

* Station ids, athlete ids (pseudonymous) and the bus event types are those of
  ``controller.events``; unknown stations raise ``controller.errors.NotFoundError``.
* Commands never raise because the envelope said no: a refusal is a ``CommandResult`` with
  ``outcome`` ``REFUSED`` and the reason. Bad arguments (a negative load, an unknown
  athlete) raise ``InvalidInputError``.
* Live bar velocity reaches the panel as ``Telemetry`` on the channel
  :data:`VELOCITY_CHANNEL` (m/s); a station that only publishes ``position`` (m) telemetry
  is differentiated by the panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from controller.bus import EventBus
from controller.events import AlertSeverity, CommandOutcome
from controller.states import StationState
from equipment_adapters.base import CueColour, LinkState

#: Telemetry channel of the bar's (or cable's) vertical velocity in m/s, up positive.
VELOCITY_CHANNEL = "velocity"
#: Telemetry channel of the bar's position in m (the panel differentiates it if needed).
POSITION_CHANNEL = "position"


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """An alert that has not been cleared yet (the newest of its code)."""

    code: str
    severity: AlertSeverity
    message: str
    ts: float


@dataclass(frozen=True, slots=True)
class StationSnapshot:
    """What a station is doing now, as staff see it on the floor.

    ``load`` is what the device holds now, ``target_load`` what the envelope is ramping
    towards (or has announced); ``next_load`` and ``next_load_reason`` are the next set's
    load and the decision that chose it. ``last_zone`` is the colour of the last rep's
    velocity zone (the cue's colour).
    """

    station_id: str
    name: str
    state: StationState
    kind: str = ""  #: the actuator's kind ("rack", "bike") or the main device's
    unit: str = ""  #: unit of the loads ("kg", "W", "level"); "" without an actuator
    athlete_id: str | None = None
    session_id: str | None = None
    set_id: str | None = None
    exercise: str | None = None
    set_index: int | None = None
    reps: int = 0  #: reps done in the current (or last) set
    target_reps: int | None = None
    load: float | None = None
    target_load: float | None = None
    ceiling: float | None = None
    last_velocity_ms: float | None = None
    last_zone: CueColour | None = None
    next_load: float | None = None
    next_load_reason: str | None = None
    estopped: bool = False
    alerts: tuple[ActiveAlert, ...] = ()
    ts: float = 0.0

    @property
    def safe(self) -> bool:
        """The actuator holds (or is being put in) its safe state."""
        return self.estopped or self.state.is_safe_state

    def to_json(self) -> dict[str, Any]:
        return {
            "station_id": self.station_id,
            "name": self.name,
            "state": self.state.value,
            "kind": self.kind,
            "unit": self.unit,
            "athlete_id": self.athlete_id,
            "session_id": self.session_id,
            "set_id": self.set_id,
            "exercise": self.exercise,
            "set_index": self.set_index,
            "reps": self.reps,
            "target_reps": self.target_reps,
            "load": self.load,
            "target_load": self.target_load,
            "ceiling": self.ceiling,
            "last_velocity_ms": self.last_velocity_ms,
            "last_zone": self.last_zone.value if self.last_zone is not None else None,
            "next_load": self.next_load,
            "next_load_reason": self.next_load_reason,
            "estopped": self.estopped,
            "safe": self.safe,
            "alerts": [
                {"code": a.code, "severity": a.severity.value, "message": a.message, "ts": a.ts}
                for a in self.alerts
            ],
            "ts": self.ts,
        }


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the station's envelope did with a staff command."""

    outcome: CommandOutcome
    reason: str
    target: float | None = None  #: the load the envelope will hold once any ramp is done

    @property
    def accepted(self) -> bool:
        return self.outcome not in (CommandOutcome.REFUSED, CommandOutcome.FAILED)

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "target": self.target,
            "accepted": self.accepted,
        }


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    device_id: str
    station_id: str | None
    role: str
    link: LinkState


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """The site's connections, for ``/healthz`` and ``/metrics``."""

    mqtt_connected: bool | None = None  #: None: MQTT is not configured
    devices: tuple[DeviceHealth, ...] = ()
    store_writable: bool = True
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class GymService(Protocol):
    """The site as the panel sees it. Implemented by the controller's ``Gym``.

    All methods are called on the controller's event loop. The command methods return
    once the station has decided (and, for e-stop, once the safe-state command has been
    handed to the device or the device's link is known to be down).
    """

    @property
    def site_name(self) -> str: ...

    @property
    def bus(self) -> EventBus: ...

    def stations(self) -> Sequence[StationSnapshot]:
        """Every station of the site, in display order."""
        ...

    def station(self, station_id: str) -> StationSnapshot:
        """One station; raises ``NotFoundError`` for an unknown id."""
        ...

    def health(self) -> ServiceHealth: ...

    async def estop(self, station_id: str, *, by: str, reason: str = "") -> CommandResult:
        """Latch the station's e-stop: safe state now, released only by staff."""
        ...

    async def release(self, station_id: str, *, by: str) -> CommandResult:
        """Release a latched e-stop (staff only); the device stays unloaded until asked."""
        ...

    async def override_load(
        self, station_id: str, value: float, *, by: str, reason: str = ""
    ) -> CommandResult:
        """A load chosen by staff, through the envelope (clamped, ramped or announced)."""
        ...

    async def check_in(self, station_id: str, athlete_id: str, *, by: str) -> CommandResult:
        """Put an athlete at a station: their caps apply and today's session can start."""
        ...

    async def check_out(self, station_id: str, *, by: str) -> CommandResult:
        """End the athlete's time at the station (the load goes back to the minimum)."""
        ...


__all__ = [
    "POSITION_CHANNEL",
    "VELOCITY_CHANNEL",
    "ActiveAlert",
    "CommandResult",
    "DeviceHealth",
    "GymService",
    "ServiceHealth",
    "StationSnapshot",
]
