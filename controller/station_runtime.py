"""One station at run time: the ``Station`` (devices, state machine, drive, cues) together
with its stream processor and set supervisor, and what staff see of it.

The site builds one per configured station; the session runner drives it; the panel reads
its :meth:`StationRuntime.view`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.bus import EventBus
from controller.events import Alert, AlertSeverity, Event, StationStateChanged, Telemetry
from controller.pipeline import StreamProcessor, rep_source, two_sided_channels
from controller.set_supervisor import SetSupervisor
from controller.states import StationState
from controller.station import Station
from equipment_adapters.base import Adapter, EquipmentKind, LinkState
from equipment_adapters.batch import Channel, SampleBatch

#: telemetry channel of the bar's position (m) that the panel's live trace reads
POSITION_CHANNEL = Channel.POSITION.value
#: telemetry channel of the strap's RMSSD over each completed HRV window (ms)
HRV_CHANNEL = "rmssd"
#: link states in which a device answers (a latched device fault is cleared through it)
REACHABLE = frozenset({LinkState.CONNECTED, LinkState.FAULT})


@dataclass(frozen=True, slots=True)
class ActiveAlertInfo:
    code: str
    severity: AlertSeverity
    message: str
    ts: float


@dataclass(slots=True)
class SessionView:
    """What the session runner is doing now (for the panel's station card)."""

    athlete_id: str | None = None
    session_id: str | None = None
    exercise: str | None = None
    set_id: str | None = None
    set_index: int | None = None
    target_reps: int | None = None
    next_load: float | None = None
    next_load_reason: str | None = None
    readiness_state: str | None = None


def _channels(adapter: Adapter) -> frozenset[Channel]:
    try:
        return adapter.capabilities.channels
    except Exception:  # a BLE adapter may know its channels only once connected
        return frozenset()


class StationRuntime:
    """A station, its stream processor and set supervisor, and its live view."""

    def __init__(
        self,
        station: Station,
        *,
        bus: EventBus,
        rr_factory: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.station = station
        self.id = station.id
        self.bus = bus
        self.clock = clock
        channels = {a.device_id: _channels(a) for a in station.adapters.values()}
        two_sided: frozenset[Channel] = frozenset()
        for device_channels in channels.values():
            two_sided = two_sided or two_sided_channels(device_channels)
        self.rep_source = rep_source(channels)
        self.kinds = frozenset(EquipmentKind(role) for role in station.adapters)
        self.supervisor = SetSupervisor(
            station.id, publish=bus.publish, offer_cue=station.cues.offer, clock=clock
        )
        self.processor = StreamProcessor(
            station.id,
            on_rep=self.supervisor.on_rep,
            two_sided=two_sided,
            rr=rr_factory() if rr_factory is not None and "hr_strap" in station.adapters else None,
            on_hrv=self._hrv,
        )
        station.batch_sink = self.processor.feed
        if two_sided:
            # the panel's live trace reads "position": the bar is the mean of the two sides
            self.processor.position_sink = self._two_sided_position
            self._position_period = station.telemetry_period
            self._position_at = -1e9
        self.session = SessionView()
        self.alerts: dict[str, ActiveAlertInfo] = {}
        self.last_hrv: Any = None
        self.wake = asyncio.Event()
        self.supervisor.on_stop = self.wake.set
        self._publish_state = station.state.publish
        station.state.publish = self._state_changed

    # -- hooks -------------------------------------------------------------------------------

    def _state_changed(self, event: Event) -> None:
        self._publish_state(event)
        self.wake.set()

    def _hrv(self, window: Any) -> None:
        """A completed HRV window of the strap: the panel and MQTT (if the site allows heart
        data) see its RMSSD as telemetry."""
        self.last_hrv = window
        rmssd = getattr(getattr(window, "metrics", None), "rmssd_ms", None)
        if rmssd is not None:
            self.bus.publish(
                Telemetry(
                    station_id=self.id,
                    device_id=self.station.config.device_id("hr_strap"),
                    channel=HRV_CHANNEL,
                    unit="ms",
                    t0=float(window.start_s),
                    period=float(window.end_s - window.start_s),
                    values=(float(rmssd),),
                )
            )

    def _two_sided_position(self, left: SampleBatch, right: SampleBatch) -> None:
        period = self._position_period
        if period is None:
            return
        now = self.clock()
        if now - self._position_at < period:
            return
        self._position_at = now
        n = len(left)
        step = max(1, n // self.station.telemetry_points)
        mean = (left.values[::step] + right.values[::step]) * 0.5
        self.bus.publish(
            Telemetry(
                station_id=self.id,
                device_id=left.device_id,
                channel=POSITION_CHANNEL,
                unit="m",
                t0=left.t0,
                period=left.period * step,
                values=tuple(mean.tolist()),
            )
        )

    def note_alert(self, alert: Alert) -> None:
        if alert.cleared:
            self.alerts.pop(alert.code, None)
        else:
            self.alerts[alert.code] = ActiveAlertInfo(
                alert.code, alert.severity, alert.message, alert.ts
            )

    def note_state(self, event: StationStateChanged) -> None:
        if event.after is StationState.IDLE:
            self.session = SessionView()

    # -- what the session runner asks ---------------------------------------------------------

    @property
    def state(self) -> StationState:
        return self.station.state.state

    def links(self) -> dict[str, LinkState]:
        return {a.device_id: a.link for a in self.station.adapters.values()}

    def reachable(self) -> bool:
        return all(link in REACHABLE for link in self.links().values())

    def fresh(self) -> bool:
        """The actuator's data is recent enough for a set (stations without one: True)."""
        actuator = self.station.actuator
        envelope = self.station.drive.envelope
        if actuator is None or envelope is None:
            return True
        seen = actuator.last_fresh
        return seen is not None and self.clock() - seen <= envelope.settings.stale_after_s

    async def wait_wake(self, within: float | None) -> None:
        """Until :attr:`wake` is set (a state change, a rule stopped the set) or ``within``
        seconds have passed.

        Clear ``wake`` *before* checking the condition you wait for, then call this: on one
        event loop nothing can slip in between.
        """
        if within is not None and within <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self.wake.wait()
