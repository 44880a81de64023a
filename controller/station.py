"""One station: its adapters, its state machine, its safety drive and its cues, as one object.

This is the seam between the devices and the rest of the controller. The station builds its
adapters through a factory (so the Modbus, BLE and test adapters plug in the same way),
hands their events to the drive and the state machine, turns their sample batches into
downsampled ``Telemetry`` on the bus and passes them on to ``batch_sink`` (the stream
processor of the session runner), and offers the commands that the panel, MQTT and the
session runner use: every load goes through the drive, and the state machine follows what
the drive did (a fault of the drive is a fault of the station).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

import numpy as np

from controller.bus import EventBus
from controller.config import BleDeviceConfig, DeviceRole, RackConfig, StationConfig
from controller.cue_router import CueRouter
from controller.events import CommandOutcome, CommandSource, Telemetry
from controller.mqtt.commands import AnyCommand, EstopCommand, ReleaseCommand, dispatch
from controller.safety import Limits, ResistanceDrive, Verdict
from controller.states import StationState
from controller.station_state import StationStateMachine
from equipment_adapters.base import (
    Adapter,
    BatchSink,
    DeviceEvent,
    DeviceFault,
    EstopButton,
    EventSink,
    LinkChanged,
    LinkState,
)
from equipment_adapters.batch import Channel, SampleBatch

log = logging.getLogger(__name__)

#: builds one adapter of a station: (role, its config, device id, on_batch, on_event)
AdapterFactory = Callable[
    [DeviceRole, RackConfig | BleDeviceConfig, str, BatchSink, EventSink], Adapter
]

_UNITS = {
    "position": "m",
    "position_left": "m",
    "position_right": "m",
    "force_left": "N",
    "force_right": "N",
    "heart_rate": "bpm",
    "rr": "ms",
    "power": "W",
    "cadence": "rpm",
    "speed": "km/h",
    "resistance": "",
    "tension": "N",
}


class Station:
    """An async context manager: entering connects the adapters and starts the drive and the
    cue router; leaving puts the actuator in its safe state and disconnects."""

    def __init__(
        self,
        config: StationConfig,
        *,
        bus: EventBus,
        make_adapter: AdapterFactory,
        remote_release: bool = False,
        telemetry_hz: float = 10.0,
        telemetry_points: int = 20,
        batch_sink: BatchSink | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.id = config.id
        self.bus = bus
        self.clock = clock
        self.telemetry_period = 1.0 / telemetry_hz if telemetry_hz > 0 else None
        self.telemetry_points = telemetry_points
        self.batch_sink = batch_sink
        self.adapters: dict[DeviceRole, Adapter] = {
            role: make_adapter(role, device, config.device_id(role), self._on_batch, self._on_event)
            for role, device in config.devices.roles()
        }
        self.actuator = self.adapters.get("rack") or self.adapters.get("bike")
        self.state = StationStateMachine(self.id, publish=bus.publish)
        self.drive = ResistanceDrive(
            station_id=self.id,
            actuator=self.actuator,
            displays=[a for role, a in self.adapters.items() if role == "band"],
            publish=bus.publish,
            safety=config.safety,
            remote_release=remote_release,
            on_fault=self._drive_fault,
            clock=clock,
        )
        self.cues = CueRouter(
            station_id=self.id, show=self.drive.show_cue, publish=bus.publish, clock=clock
        )
        self.drive.on_cue = self.cues.offer
        self.drive.on_clear_cue = self.cues.clear
        self._links: dict[str, LinkState] = {
            a.device_id: LinkState.DISCONNECTED for a in self.adapters.values()
        }
        self._last_telemetry: dict[tuple[str, Channel], float] = {}
        self._stack = contextlib.AsyncExitStack()
        self._closing = False

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        try:
            for adapter in self.adapters.values():
                await self._stack.enter_async_context(adapter)
            await self._stack.enter_async_context(self.drive)
            await self._stack.enter_async_context(self.cues)
        except BaseException:
            await self._stack.aclose()
            raise
        for adapter in self.adapters.values():  # links that came up while entering
            self._links[adapter.device_id] = adapter.link
        self._update_connection("devices connected")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True  # links going down now are ours: no fault, no staff alert
        await self._stack.__aexit__(exc_type, exc, tb)

    # -- from the devices -----------------------------------------------------------------

    def _on_event(self, event: DeviceEvent) -> None:
        if self._closing:
            return
        if isinstance(event, LinkChanged):
            self._links[event.device_id] = event.state
            detail = f": {event.reason}" if event.reason else ""
            self._update_connection(f"{event.device_id} {event.state.value}{detail}")
        self.drive.on_device_event(event)  # a lost actuator link or fault: safe state
        if isinstance(event, EstopButton) and event.pressed:
            self.state.estop(f"{event.device_id} e-stop button")

    def _update_connection(self, reason: str) -> None:
        if all(state is LinkState.CONNECTED for state in self._links.values()):
            if self.state.state is StationState.OFFLINE:
                self.state.connected()
                envelope = self.drive.envelope
                if envelope is not None and envelope.fault_reason is not None:
                    # nobody was training: the link fault is over with the link
                    self.drive.clear_fault(reason="devices reconnected")
        elif self.state.state is not StationState.OFFLINE:
            self.state.disconnected(reason)

    def _drive_fault(self, reason: str) -> None:
        if self.state.state is StationState.OFFLINE:
            return  # already a safe state; reconnecting clears it
        self.state.fault(reason)

    def _on_batch(self, batch: SampleBatch) -> None:
        # every batch of every device passes here: attribute reads and one clock call only
        period = self.telemetry_period
        values = batch.values
        if period is not None and values.ndim == 1 and values.shape[0]:
            key = (batch.device_id, batch.channel)
            now = self.clock()
            if now - self._last_telemetry.get(key, -1e9) >= period:
                self._last_telemetry[key] = now
                step = max(1, values.shape[0] // self.telemetry_points)
                self.bus.publish(
                    Telemetry(
                        station_id=self.id,
                        device_id=batch.device_id,
                        channel=batch.channel.value,
                        unit=_UNITS.get(batch.channel.value, ""),
                        t0=batch.t0,
                        period=batch.period * step,
                        values=tuple(np.asarray(values[::step], dtype=np.float64).tolist()),
                    )
                )
        if self.batch_sink is not None:
            self.batch_sink(batch)

    # -- commands -------------------------------------------------------------------------

    def estop(self, *, source: CommandSource, reason: str = "", by: str | None = None) -> Verdict:
        verdict = self.drive.estop(source=source, reason=reason, by=by)
        self.state.estop(f"e-stop by {by or source.value}" + (f": {reason}" if reason else ""))
        return verdict

    def release(self, *, by: str, source: CommandSource = CommandSource.STAFF) -> Verdict:
        verdict = self.drive.release(by=by, source=source)
        if verdict.outcome is CommandOutcome.APPLIED and self.state.state is StationState.ESTOPPED:
            self.state.release(by)
        return verdict

    def handle_mqtt(self, command: AnyCommand) -> Verdict:
        """A validated MQTT command: through the drive, and the state follows."""
        verdict = dispatch(command, drive=self.drive, cues=self.cues)
        if isinstance(command, EstopCommand):
            self.state.estop(f"e-stop over MQTT by {command.by}")
        elif (
            isinstance(command, ReleaseCommand)
            and verdict.outcome is CommandOutcome.APPLIED
            and self.state.state is StationState.ESTOPPED
        ):
            self.state.release(command.by)
        return verdict

    def check_in(self, athlete_id: str, session_id: str, limits: Limits | None = None) -> None:
        """An athlete starts a session here: their caps go to the envelope first."""
        self.state.check_in(athlete_id, session_id)
        self.drive.session_id = session_id
        if self.drive.envelope is not None:
            self.drive.set_limits(limits or Limits(athlete_id=athlete_id))

    def check_out(self, reason: str = "athlete checked out") -> None:
        self.state.check_out(reason)
        self.drive.session_id = None
        if self.drive.envelope is not None:
            self.drive.set_limits(Limits())

    def begin_set(self, set_id: str) -> None:
        self.state.start_set()
        self.drive.begin_set(set_id=set_id)

    def end_set(self, reason: str, *, last: bool = False) -> None:
        self.drive.end_set()
        self.state.end_set(reason, last=last)

    def go_safe(self, reason: str) -> None:
        """Site-level alarms (store unwritable, bus overflow): safe state until ``recover``."""
        self.drive.on_device_event(
            DeviceFault(self.actuator.device_id if self.actuator else "", reason)
        )
        if self.actuator is None:
            self.state.fault(reason)

    def recover(self, reason: str) -> None:
        """The fault is over (devices back, data fresh, alarm cleared): resume the session."""
        if self.drive.envelope is not None and self.drive.envelope.fault_reason is not None:
            self.drive.clear_fault(reason=reason)
        if self.state.state is StationState.FAULT:
            self.state.recover(reason)
