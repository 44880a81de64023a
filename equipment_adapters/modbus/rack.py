"""The rack adapter: any rack with a register map, over Modbus TCP or RTU.

``async with RackAdapter(...)`` starts a supervisor task that connects, checks the device's
identity (before any write), writes the map's initial values, and runs one named task per
poll group (the fast FIFO cadence and the slow status cadence of the reference map) plus
the heartbeat, all in one TaskGroup. A poller that falls behind skips ticks instead of
queueing requests. Failed requests are counted; too many in a row, or a lost connection,
end the session and the supervisor reconnects with exponential backoff (with jitter, so
many racks do not reconnect in step). The FIFO reader outlives sessions, so samples still
in the device's ring after a short outage are delivered, and what is lost is reported as a
:class:`~equipment_adapters.base.SequenceGap`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Self

from equipment_adapters.base import (
    Adapter,
    BatchSink,
    Capabilities,
    Command,
    DeviceFault,
    EnterSafeState,
    EstopButton,
    EventSink,
    LinkState,
    ModeKind,
    ResetFault,
    ResistanceMode,
    SequenceGap,
    SetLoad,
    SetMode,
    ShowCue,
)
from equipment_adapters.batch import SampleBatch
from equipment_adapters.errors import (
    DecodeError,
    DeviceError,
    DeviceTimeoutError,
    DeviceUnavailableError,
    IdentityMismatchError,
    ModbusExceptionError,
    UnsupportedCommandError,
)
from equipment_adapters.modbus import rackprofile as rp
from equipment_adapters.modbus.codec import bit_of
from equipment_adapters.modbus.device import MapDevice
from equipment_adapters.modbus.fifo import FifoReader
from equipment_adapters.modbus.link import Endpoint, ModbusLink
from equipment_adapters.modbus.mapfile import load_map
from equipment_adapters.modbus.regmap import Point, RegisterMap, Value
from equipment_adapters.modbus.ticker import Ticker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RackOptions:
    """Timing of the adapter; the defaults suit a rack on a local network."""

    request_timeout: float = 0.5  #: seconds one request may take
    backoff_initial: float = 0.1  #: first wait before reconnecting, doubled up to the max
    backoff_max: float = 5.0
    failures_before_reconnect: int = 3  #: unanswered requests in a row that end a session
    watchdog_timeout: float | None = None  #: seconds; None keeps the map's initial value
    heartbeat_interval: float | None = None  #: None: a quarter of the watchdog timeout
    fast_interval: float | None = None  #: override the FIFO's poll interval; 0 polls back to back
    safe_state_timeout: float = 1.0  #: time allowed for the safe-state writes on exit
    jitter: bool = True  #: random phase of the pollers and of the reconnect delays

    def __post_init__(self) -> None:
        if self.request_timeout <= 0 or self.backoff_initial <= 0:
            raise ValueError("request_timeout and backoff_initial must be positive")
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max must not be below backoff_initial")
        if self.failures_before_reconnect < 1:
            raise ValueError("failures_before_reconnect must be at least 1")
        if self.fast_interval is not None and self.fast_interval < 0:
            raise ValueError("fast_interval must not be negative")


@dataclass(slots=True)
class RackStats:
    """Counters for health pages and the benchmark."""

    fifo_polls: int = 0
    samples: int = 0
    batches: int = 0
    skipped_ticks: int = 0
    sessions: int = 0
    failed_requests: int = 0
    gaps: int = 0
    lost_samples: int = 0
    heartbeats: int = 0


class _SessionEndedError(DeviceError):
    """Too many unanswered requests in a row: reconnect."""


@dataclass(slots=True)
class _Session:
    device: MapDevice
    failures: int = 0
    values: dict[str, Value] = field(default_factory=dict)


class RackAdapter(Adapter):
    """A rack described by a register map (a file, a shipped name, or a parsed map).

    The map must satisfy :class:`~equipment_adapters.modbus.rackprofile.RackProfile`;
    ``unit_id`` overrides the map's Modbus device address (several racks behind one
    gateway). The adapter delivers one :class:`SampleBatch` per FIFO channel per poll
    (``seq`` is the device's sequence number of the first sample, ``t0`` that number over
    the sample rate) and emits ``LinkChanged``, ``DeviceFault``, ``EstopButton`` and
    ``SequenceGap`` events.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        device_id: str,
        regmap: RegisterMap | str,
        endpoint: Endpoint,
        on_batch: BatchSink,
        on_event: EventSink | None = None,
        options: RackOptions | None = None,
        unit_id: int | None = None,
    ) -> None:
        super().__init__(device_id=device_id, on_batch=on_batch, on_event=on_event)
        if unit_id is not None and not 0 <= unit_id <= 247:
            raise ValueError(f"unit_id {unit_id} is not a Modbus device address (0..247)")
        self.regmap = load_map(regmap) if isinstance(regmap, str) else regmap
        #: the Modbus device address: ``unit_id`` when given (a site's config), else the map's
        self.unit_id = self.regmap.unit_id if unit_id is None else unit_id
        self.profile = rp.RackProfile.from_map(self.regmap)
        self.endpoint = endpoint
        self.options = options or RackOptions()
        self.stats = RackStats()
        fifo = self.regmap.fifo
        assert fifo is not None  # the profile requires one
        self._fifo = FifoReader(fifo, max_registers=self.regmap.max_block_registers)
        self._capabilities = self.profile.capabilities()
        self._session: _Session | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._first_attempt: asyncio.Event | None = None
        self._estop: bool | None = None
        self._fault: bool | None = None
        self._heartbeat = 0
        self._rng = random.Random(device_id)

    # Public surface -----------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def values(self) -> Mapping[str, Value]:
        """The latest polled value of every polled point (empty while disconnected)."""
        return MappingProxyType(self._session.values if self._session else {})

    @property
    def connected(self) -> bool:
        """Connected, identity checked: commands can be applied."""
        return self._session is not None

    async def __aenter__(self) -> Self:
        if self._supervisor is not None:
            raise RuntimeError("RackAdapter is not re-entrant")
        self._first_attempt = asyncio.Event()
        self._supervisor = asyncio.create_task(
            self._supervise(), name=f"rack {self.device_id} supervisor"
        )
        await self._first_attempt.wait()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._session is not None:
                try:
                    async with asyncio.timeout(self.options.safe_state_timeout):
                        await self.apply(EnterSafeState())
                except (DeviceError, TimeoutError) as error:
                    log.warning("%s: safe state on exit failed: %s", self.device_id, error)
        finally:
            task, self._supervisor = self._supervisor, None
            if task is not None:
                task.cancel()
                # wait() does not raise the task's cancellation; the caller's own one does.
                await asyncio.wait({task})
            self._set_link(LinkState.DISCONNECTED, "adapter closed")

    async def apply(self, command: Command) -> None:
        session = self._session
        if session is None:
            raise DeviceUnavailableError("not connected", device_id=self.device_id)
        device = session.device
        match command:
            case SetLoad(value=value):
                await device.write_point(self._require(rp.TARGET_LOAD), value)
            case SetMode(mode=mode):
                await self._set_mode(device, mode)
            case ShowCue(cue=cue):
                await self._show_cue(device, cue.colour.value, cue.number, cue.text)
            case EnterSafeState():
                await self._safe_state(device)
            case ResetFault():
                reset = self._require(rp.FAULT_RESET)
                await device.write_point(reset, True if reset.table.is_bits else 1)
                # A reset disarms the device's watchdog: re-arm it at once, so that the
                # next load is not refused for want of a heartbeat.
                await self._beat(device)
                await self._write_initial_values(device, actuators=True)
            case _:
                raise UnsupportedCommandError(
                    f"unknown command {command!r}", device_id=self.device_id
                )

    # Commands -----------------------------------------------------------------------------

    def _require(self, name: str) -> Point:
        point = self.profile.get(name)
        if point is None:
            raise UnsupportedCommandError(
                f"the map {self.regmap.name} has no {name!r} point", device_id=self.device_id
            )
        return point

    async def _set_mode(self, device: MapDevice, mode: ResistanceMode) -> None:
        kind = mode.kind
        spotter = self.profile.get(rp.SPOTTER)
        mode_point = self.profile.get(rp.MODE)
        if kind is ModeKind.SPOTTER:
            spotter = self._require(rp.SPOTTER)
            if mode.spotter_velocity_ms > 0:
                await device.write_point(
                    self._require(rp.SPOTTER_THRESHOLD), mode.spotter_velocity_ms
                )
            if mode_point is not None:
                await device.write_point(mode_point, ModeKind.STANDARD.value)
            await device.write_point(spotter, _on_off(spotter, on=True))
            return
        if kind is not ModeKind.STANDARD and (
            mode_point is None or kind.value not in mode_point.options
        ):
            raise UnsupportedCommandError(
                f"the rack has no {kind.value} mode", device_id=self.device_id
            )
        if kind is ModeKind.ECCENTRIC:
            await device.write_point(self._require(rp.ECCENTRIC_PCT), mode.eccentric_pct)
        elif kind is ModeKind.CHAINS:
            await device.write_point(self._require(rp.CHAINS), mode.chains_kg_per_m)
        if mode_point is not None:
            await device.write_point(mode_point, kind.value)
        if spotter is not None:
            await device.write_point(spotter, _on_off(spotter, on=False))

    async def _show_cue(
        self, device: MapDevice, colour: str, number: float | None, text: str
    ) -> None:
        colour_point = self.profile.get(rp.CUE_COLOUR)
        number_point = self.profile.get(rp.CUE_NUMBER)
        text_point = self.profile.get(rp.CUE_TEXT)
        if colour_point is None and number_point is None and text_point is None:
            raise UnsupportedCommandError("the rack has no cue display", device_id=self.device_id)
        if text_point is not None:
            await device.write_point(text_point, _fit_text(text, 2 * text_point.count))
        if number_point is not None:
            await device.write_point(number_point, _clamp(number_point, number or 0.0))
        if colour_point is not None:
            known = colour if colour in colour_point.options else "off"
            if known in colour_point.options:
                await device.write_point(colour_point, known)

    async def _safe_state(self, device: MapDevice) -> None:
        """Every point with a safe value, the target load first."""
        target = self.profile.get(rp.TARGET_LOAD)
        if target is not None and target.safe_value is not None:
            await device.write_point(target, target.safe_value)
        for point in self.regmap.points.values():
            if point is not target and point.safe_value is not None:
                await device.write_point(point, point.safe_value)

    async def _write_initial_values(self, device: MapDevice, *, actuators: bool) -> None:
        for point in self.regmap.points.values():
            value: Value | None = point.initial_value
            if point.name == rp.WATCHDOG_TIMEOUT and self.options.watchdog_timeout is not None:
                value = self.options.watchdog_timeout
            if value is None or (point.name in rp.ACTUATOR_POINTS) != actuators:
                continue
            await device.write_point(point, value)

    # Supervision --------------------------------------------------------------------------

    async def _supervise(self) -> None:
        assert self._first_attempt is not None
        delay = self.options.backoff_initial
        failing = False
        while True:
            self._set_link(LinkState.CONNECTING)
            reason = ""
            sessions_before = self.stats.sessions
            try:
                # Each session in a task of its own: its TaskGroup's bookkeeping of
                # cancellations stays there (Python 3.11 can leave a stale count on the
                # task that ran a TaskGroup whose child failed).
                await asyncio.create_task(
                    self._run_session(), name=f"rack {self.device_id} session {sessions_before + 1}"
                )
            except* IdentityMismatchError as group:
                reason = str(group.exceptions[0])
                self._emit(DeviceFault(self.device_id, reason))
                delay = self.options.backoff_max
            except* (DeviceError, DecodeError) as group:
                reason = str(group.exceptions[0])
            except* Exception as group:
                # A bug, not the device: say so loudly, and keep supervising (a supervisor
                # that dies leaves a rack unwatched) at the slowest pace.
                log.error("%s: adapter error", self.device_id, exc_info=group.exceptions[0])
                reason = f"adapter error: {group.exceptions[0]!r}"
                self._emit(DeviceFault(self.device_id, reason))
                delay = self.options.backoff_max
            finally:
                self._session = None
                self._first_attempt.set()
            if self.stats.sessions > sessions_before:
                delay = self.options.backoff_initial  # it worked for a while: retry soon
                failing = False
            if not failing:
                log.warning("%s: link down: %s", self.device_id, reason)
                failing = True
            self._set_link(LinkState.DISCONNECTED, reason)
            wait = delay * (0.5 + self._rng.random()) if self.options.jitter else delay
            await asyncio.sleep(wait)
            delay = min(2 * delay, self.options.backoff_max)

    async def _run_session(self) -> None:
        link = ModbusLink(
            self.endpoint,
            unit_id=self.unit_id,
            timeout=self.options.request_timeout,
            name=self.device_id,
        )
        async with link:
            device = MapDevice(link, self.regmap)
            await device.check_identity()
            session = _Session(device=device)
            await self._write_initial_values(device, actuators=False)
            status = self.profile.get(rp.STATUS)
            assert status is not None
            code = self.profile.get(rp.FAULT_CODE)
            session.values.update(await device.read_points([status, *([code] if code else [])]))
            faulted = bit_of(status, session.values[rp.STATUS], rp.BIT_FAULT)
            if self.profile.get(rp.HEARTBEAT) is not None:
                await self._beat(device)  # armed before the first command can come
            try:
                await self._write_initial_values(device, actuators=True)
            except ModbusExceptionError:
                if not faulted:
                    raise
            self._session = session
            self.stats.sessions += 1
            if self.stats.sessions > 1:
                log.warning("%s: link up again", self.device_id)
            self._set_link(LinkState.CONNECTED)
            # A new session reports the device's state afresh (a fault still latched
            # after an outage puts the link back in FAULT).
            self._estop = self._fault = None
            self._handle_status(session.values)
            assert self._first_attempt is not None
            self._first_attempt.set()
            async with asyncio.TaskGroup() as group:
                for poll in self.regmap.poll_groups.values():
                    interval = poll.scan_interval
                    fifo_here = self._fifo.fifo.poll == poll.name
                    if fifo_here and self.options.fast_interval is not None:
                        interval = self.options.fast_interval
                    group.create_task(
                        self._poll_loop(session, poll.name, interval, fifo_here),
                        name=f"rack {self.device_id} poll {poll.name}",
                    )
                if self.profile.get(rp.HEARTBEAT) is not None:
                    group.create_task(
                        self._heartbeat_loop(session), name=f"rack {self.device_id} heartbeat"
                    )

    def _ticker(self, interval: float) -> Ticker:
        phase = self._rng.random() * interval if self.options.jitter else 0.0
        return Ticker(interval, phase=phase, on_skip=self._count_skips)

    def _count_skips(self, missed: int) -> None:
        self.stats.skipped_ticks += missed

    def _failed(
        self, session: _Session, error: DeviceError, refused: set[tuple[int, int, int]]
    ) -> None:
        """Count a failed request; end the session after too many unanswered in a row.

        A refusal (Modbus exception) is reported once when it starts, not on every tick;
        ``refused`` holds the refusals of the calling loop still going on.
        """
        self.stats.failed_requests += 1
        if isinstance(error, DeviceUnavailableError):
            raise error
        if isinstance(error, DeviceTimeoutError):
            session.failures += 1
            if session.failures >= self.options.failures_before_reconnect:
                raise _SessionEndedError(
                    f"{session.failures} requests in a row unanswered", device_id=self.device_id
                ) from error
            return
        if isinstance(error, ModbusExceptionError):
            key = (error.function, error.address, error.code)
            if key not in refused:
                refused.add(key)
                log.warning("%s: %s", self.device_id, error)
                self._emit(DeviceFault(self.device_id, str(error), error.code))
            return
        raise error

    async def _poll_loop(
        self, session: _Session, group: str, interval: float, fifo_here: bool
    ) -> None:
        device = session.device
        blocks = device.blocks(group)
        has_status = any(p.name == rp.STATUS for b in blocks for p in b.points)
        refused: set[tuple[int, int, int]] = set()
        ticker = self._ticker(interval)
        while True:
            await ticker.wait()
            try:
                if fifo_here:
                    await self._poll_fifo(device)
                for block in blocks:
                    session.values.update(await device.read_block(block))
                session.failures = 0
            except DeviceError as error:
                self._failed(session, error, refused)
                continue
            refused.clear()
            if has_status:
                self._handle_status(session.values)

    async def _poll_fifo(self, device: MapDevice) -> None:
        poll = await self._fifo.poll(device.read_registers)
        self.stats.fifo_polls += 1
        for jump in poll.jumps:
            self.stats.gaps += 1
            self.stats.lost_samples += jump.lost
            self._emit(SequenceGap(self.device_id, jump.expected, jump.received, jump.reason))
        chunk = poll.chunk
        if chunk is None:
            return
        fifo = self._fifo.fifo
        received = time.monotonic()
        t0 = chunk.first_seq * fifo.period
        for name, values in chunk.values.items():
            self._deliver(
                SampleBatch(
                    device_id=self.device_id,
                    channel=self.profile.channels[name],
                    t0=t0,
                    period=fifo.period,
                    values=values,
                    received=received,
                    seq=chunk.first_seq,
                )
            )
            self.stats.batches += 1
        self.stats.samples += len(chunk)

    async def _heartbeat_loop(self, session: _Session) -> None:
        interval = self.options.heartbeat_interval
        if interval is None:
            timeout = self.options.watchdog_timeout
            if timeout is None:
                watchdog = self._require(rp.WATCHDOG_TIMEOUT)
                initial = watchdog.initial_value
                timeout = float(initial) if isinstance(initial, int | float) else 1.0
            interval = max(timeout / 4, 0.01)
        refused: set[tuple[int, int, int]] = set()
        ticker = self._ticker(interval)
        while True:
            await ticker.wait()
            try:
                await self._beat(session.device)
                session.failures = 0
                refused.clear()
            except DeviceError as error:
                self._failed(session, error, refused)

    async def _beat(self, device: MapDevice) -> None:
        """One heartbeat: a counter that changes every time (1..max, wrapping)."""
        point = self._require(rp.HEARTBEAT)
        top = int(point.max_value) if point.max_value is not None else 0xFFFF
        self._heartbeat = self._heartbeat % top + 1
        await device.write_point(point, self._heartbeat)
        self.stats.heartbeats += 1

    def _handle_status(self, values: Mapping[str, Value]) -> None:
        status_point = self.profile.get(rp.STATUS)
        assert status_point is not None
        status = values.get(rp.STATUS)
        if status is None:
            return
        estop = bit_of(status_point, status, rp.BIT_ESTOP)
        fault = bit_of(status_point, status, rp.BIT_FAULT)
        if estop != self._estop:
            if estop or self._estop is not None:
                self._emit(EstopButton(self.device_id, pressed=estop))
            self._estop = estop
        if fault != self._fault:
            if fault:
                code_point = self.profile.get(rp.FAULT_CODE)
                code = values.get(rp.FAULT_CODE, 0) if code_point else 0
                name = code_point.option_name(int(code)) if code_point else None
                self._emit(DeviceFault(self.device_id, f"fault latched: {name or code}", int(code)))
                self._set_link(LinkState.FAULT, name or "fault")
            elif self._fault:
                self._set_link(LinkState.CONNECTED, "fault cleared")
            self._fault = fault


def _on_off(point: Point, *, on: bool) -> Value:
    if point.table.is_bits:
        return on
    if point.options:
        return "on" if on else "off"
    return 1 if on else 0


def _clamp(point: Point, value: float) -> float:
    if point.min_value is not None:
        value = max(value, point.min_value)
    if point.max_value is not None:
        value = min(value, point.max_value)
    return value


def _fit_text(text: str, size: int) -> str:
    """``text`` cut to ``size`` bytes of UTF-8 without splitting a character."""
    return text.encode("utf-8")[:size].decode("utf-8", errors="ignore")


__all__ = ["RackAdapter", "RackOptions", "RackStats"]
