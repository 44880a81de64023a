"""The adapter contract: what an equipment maker implements to plug a machine into gymctl.

An adapter owns the connection to one device. It is an async context manager: entering
connects and starts its supervision (polling or notifications, heartbeat, reconnection with
backoff), leaving puts the device in its safe state as far as the link allows and
disconnects. Samples leave it as :class:`~equipment_adapters.batch.SampleBatch` through the
``on_batch`` callback; link changes, faults and buttons leave it as :data:`DeviceEvent`
through ``on_event``. Actuator commands come in through :meth:`Adapter.apply`, only ever
from the station's safety envelope (``controller.safety.ResistanceDrive``).

The surface is deliberately small and versioned: adding a method here is a breaking change
for every third-party adapter.

.. versionadded:: 0.1
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from equipment_adapters.batch import Channel, SampleBatch


class EquipmentKind(enum.StrEnum):
    RACK = "rack"
    BIKE = "bike"
    HR_STRAP = "hr_strap"
    POWER_METER = "power_meter"
    SPEED_CADENCE = "speed_cadence"
    BAND = "band"


class LinkState(enum.StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    FAULT = "fault"


class LoadUnit(enum.StrEnum):
    KG = "kg"  #: motorized rack or cable machine
    WATT = "W"  #: bike in ERG mode
    LEVEL = "level"  #: bike resistance level


@dataclass(frozen=True, slots=True)
class LoadRange:
    """What the actuator accepts: the envelope's device ceiling and quantisation come from it."""

    unit: LoadUnit
    minimum: float
    maximum: float
    increment: float
    max_increase_per_s: float  #: the device type's rate limit on increases


class ModeKind(enum.StrEnum):
    STANDARD = "standard"
    ECCENTRIC = "eccentric"  #: more load while lowering
    CHAINS = "chains"  #: load grows with height
    SPOTTER = "spotter"  #: load drops when the bar stalls


@dataclass(frozen=True, slots=True)
class ResistanceMode:
    kind: ModeKind = ModeKind.STANDARD
    eccentric_pct: float = 0.0  #: extra load while lowering, % of the target
    chains_kg_per_m: float = 0.0
    spotter_velocity_ms: float = 0.0  #: below this concentric velocity the spotter engages


class CueColour(enum.StrEnum):
    OFF = "off"
    GREEN = "green"
    YELLOW = "yellow"
    ORANGE = "orange"
    RED = "red"
    BLUE = "blue"
    WHITE = "white"


@dataclass(frozen=True, slots=True)
class DeviceCue:
    """A cue as a device can show it (a rack's display, a band's LED and haptic motor)."""

    text: str = ""
    colour: CueColour = CueColour.OFF
    number: float | None = None
    haptic_pulses: int = 0


@dataclass(frozen=True, slots=True)
class Capabilities:
    kind: EquipmentKind
    model: str
    channels: frozenset[Channel]
    load: LoadRange | None = None  #: None: the device has no actuator
    modes: frozenset[ModeKind] = frozenset()
    cue_display: bool = False
    sides: int = 1
    details: dict[str, str] = field(default_factory=dict)


# Commands: values, applied by Adapter.apply() in the order given.


@dataclass(frozen=True, slots=True)
class SetLoad:
    """Target load in the unit of ``Capabilities.load`` (kg, W or level)."""

    value: float


@dataclass(frozen=True, slots=True)
class SetMode:
    mode: ResistanceMode


@dataclass(frozen=True, slots=True)
class ShowCue:
    cue: DeviceCue


@dataclass(frozen=True, slots=True)
class EnterSafeState:
    """Zero resistance and motor disabled (rack), ERG off and stopped (bike)."""


@dataclass(frozen=True, slots=True)
class ResetFault:
    """Clear a latched device fault (after a watchdog trip or a device e-stop)."""


Command = SetLoad | SetMode | ShowCue | EnterSafeState | ResetFault


# Events: what the device tells the controller besides samples.


@dataclass(frozen=True, slots=True)
class LinkChanged:
    device_id: str
    state: LinkState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DeviceFault:
    device_id: str
    description: str
    code: int = 0


@dataclass(frozen=True, slots=True)
class EstopButton:
    """The device's own e-stop was pressed (or released, ``pressed=False``)."""

    device_id: str
    pressed: bool


@dataclass(frozen=True, slots=True)
class ControlLost:
    """The device took back control (FTMS status 0xFF, a rack switched to local mode)."""

    device_id: str


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """A break in a numbered sample stream: the next batch does not follow the last one.

    ``expected`` is the sequence number the adapter was waiting for, ``received`` the one
    the stream resumes at. ``reason`` says why: ``"overrun"`` (the reader fell behind the
    device's buffer, or the link was down too long: samples ``expected`` to
    ``received - 1`` are lost), ``"rewind"`` (the device restarted and numbers its samples
    afresh; ``received`` may be below or above ``expected``), ``"mismatch"`` (a record did
    not carry the number it should: a device fault). Delivered batches never repeat a
    sample.

    .. versionadded:: 0.1
    """

    device_id: str
    expected: int
    received: int
    reason: str = ""

    @property
    def restarted(self) -> bool:
        return self.reason == "rewind"

    @property
    def lost(self) -> int:
        """Samples known to be lost (0 for a restart: the new numbering is not comparable)."""
        return 0 if self.restarted else max(self.received - self.expected, 0)


DeviceEvent = LinkChanged | DeviceFault | EstopButton | ControlLost | SequenceGap
BatchSink = Callable[[SampleBatch], None]
EventSink = Callable[[DeviceEvent], None]


def _ignore_event(event: DeviceEvent) -> None:
    del event


class Adapter(abc.ABC):
    """Base class of every equipment adapter.

    Subclasses implement the context manager (connect, stream, heartbeat and reconnect in
    named tasks until exit), :meth:`apply` and :attr:`capabilities`. The callbacks are
    called on the event loop and must not block; the station's stream processor is one.
    """

    def __init__(
        self, *, device_id: str, on_batch: BatchSink, on_event: EventSink | None = None
    ) -> None:
        if not device_id:
            raise ValueError("device_id must not be empty")
        self.device_id = device_id
        self._on_batch = on_batch
        self._on_event = on_event or _ignore_event
        self._link = LinkState.DISCONNECTED
        self._last_fresh: float | None = None

    @property
    def link(self) -> LinkState:
        return self._link

    @property
    def last_fresh(self) -> float | None:
        """Monotonic time of the last batch received, None before the first."""
        return self._last_fresh

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """What the device streams and accepts (known once connected, or from its map)."""

    @abc.abstractmethod
    async def apply(self, command: Command) -> None:
        """Send one actuator command; raises a ``DeviceError`` subclass on failure."""

    @abc.abstractmethod
    async def __aenter__(self) -> Self:
        """Start the adapter's supervision; returns once the first connection is attempted."""

    @abc.abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Put the device in its safe state as far as the link allows, then disconnect."""

    # Helpers for subclasses: keep the bookkeeping of link state and freshness in one place.

    def _set_link(self, state: LinkState, reason: str = "") -> None:
        if state is not self._link:
            self._link = state
            self._on_event(LinkChanged(self.device_id, state, reason))

    def _deliver(self, batch: SampleBatch) -> None:
        self._last_fresh = batch.received
        self._on_batch(batch)

    def _emit(self, event: DeviceEvent) -> None:
        self._on_event(event)
