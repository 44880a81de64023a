"""An emulated motorized rack: a real pymodbus server that implements any rack register map.

The emulator serves the map's registers from a ``pymodbus.simulator.SimDevice`` whose
access hook is the device's firmware: reads see the state of the physics (positions and
forces at the FIFO rate, written into the ring as the map lays it out), writes are
checked like a careful drive would (limits, options, fault latch, watchdog) and refused
with Modbus exceptions. The athlete on the rack comes from
:mod:`equipment_adapters.emulators.athlete` and lifts by themselves once a set is started.

Device behaviour (the contract of the reference rack, documented for makers):

* Load increases ramp at ``ramp_rate``; decreases apply at once.
* The watchdog is armed by the first heartbeat. If no heartbeat arrives within
  ``watchdog_timeout``: resistance to zero, fault ``watchdog`` latched.
* While a fault is latched, writes that change an actuator (target load, mode and its
  settings, ramp) are refused with exception 4 (server device failure); writing an
  actuator's safe value is accepted. A load above zero before the first heartbeat is
  refused the same way: the device never holds a load without a live controller.
* ``fault_reset`` = 1 clears the fault (refused while the e-stop is pressed), leaves the
  target at zero and disarms the watchdog until the next heartbeat.
* The e-stop (the button, :meth:`RackEmulator.press_estop`, or the ``estop`` register)
  zeroes the resistance, latches fault ``estop`` and makes the athlete let go.
* Values outside a point's limits or options are refused with exception 3; a write that
  covers part of a multi-register value with exception 2.
* A cue text starting with ``STOP`` makes the athlete end the set after the current rep.

Use it from Python::

    async with RackEmulator(athlete=DEMO_ATHLETES[1]) as rack:
        rack.start_set("back_squat", reps=5)
        ...  # point a RackAdapter at TcpEndpoint("127.0.0.1", rack.port)
        async with asyncio.timeout(60):
            truth = await rack.wait_set()
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import numpy as np
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from equipment_adapters.emulators.athlete import DEMO_ATHLETES, SimulatedAthlete
from equipment_adapters.emulators.rack_physics import Mode, RackPhysics, SetTruth
from equipment_adapters.modbus import rackprofile as rp
from equipment_adapters.modbus.codec import (
    check_limits_of,
    decode_point,
    encode_point,
    encode_raw,
    encode_records,
)
from equipment_adapters.modbus.mapfile import load_map
from equipment_adapters.modbus.regmap import Point, RegisterMap, Table, Value
from kernels.errors import InvalidInputError

_FUNCTION_TABLE = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE_INPUT,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    4: Table.INPUT,
}
_TABLE_ORDER = (Table.COIL, Table.DISCRETE_INPUT, Table.HOLDING, Table.INPUT)
TICK_S = 0.02  #: the firmware's housekeeping period (watchdog, status)
SAMPLES_S = 0.1  #: when nobody reads the FIFO, the physics still moves on this often


class _RefusedError(Exception):
    """A write the device refuses, with the Modbus exception code it answers."""

    def __init__(self, code: ExcCodes) -> None:
        self.code = code
        super().__init__(code.name)


@dataclass(frozen=True, slots=True)
class DisplayedCue:
    colour: str = "off"
    number: float = 0.0
    text: str = ""


@dataclass(frozen=True, slots=True)
class RackState:
    """A snapshot of the emulated device, for tests and the demo."""

    target_load_kg: float
    actual_load_kg: float
    mode: str
    eccentric_pct: float
    chains_kg_per_m: float
    spotter: bool
    spotter_threshold_ms: float
    ramp_kg_s: float
    fault: str | None
    estop: bool
    watchdog_armed: bool
    watchdog_timeout_s: float
    heartbeats: int
    cue: DisplayedCue
    phase: str
    in_set: bool
    reps_in_set: int
    samples: int


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def find_athlete(key: str) -> SimulatedAthlete:
    """A demo athlete by id (``ath-ben``) or name (``Ben``, any case)."""
    for athlete in DEMO_ATHLETES:
        if key in (athlete.athlete_id, athlete.name) or key.lower() == athlete.name.lower():
            return athlete
    known = ", ".join(f"{a.athlete_id} ({a.name})" for a in DEMO_ATHLETES)
    raise InvalidInputError(f"no demo athlete {key!r} (known: {known})", where="--athlete")


class RackEmulator:
    """A rack on 127.0.0.1 (Modbus TCP) or on a serial line (Modbus RTU).

    ``regmap`` is a map file, a shipped map's name or a parsed map; it must be a rack map.
    ``port=0`` picks a free port (read :attr:`port` once entered). ``ignore_watchdog``
    makes a faulty device that keeps its load when the heartbeat stops (the conformance
    check must fail it); ``identity`` overrides identity values (a device of another
    model); ``first_sample`` starts the sample counter there (to test its wrap-around);
    ``exercise`` is the lift the rack is set up for (where the bar waits); ``unit_id`` the
    Modbus device address it answers (the map's by default).
    :attr:`response_delay` delays every answer (a slow gateway) and
    :meth:`fail_requests` makes the next requests answer with an exception code.
    """

    def __init__(
        self,
        *,
        regmap: RegisterMap | str = "reference-rack",
        athlete: SimulatedAthlete | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        serial_port: str | None = None,
        baudrate: int = 115200,
        seed: int | None = None,
        ignore_watchdog: bool = False,
        identity: Mapping[str, Value] | None = None,
        first_sample: int = 0,
        exercise: str = "back_squat",
        unit_id: int | None = None,
    ) -> None:
        if not _is_loopback(host):
            raise InvalidInputError(
                f"{host!r} is not a loopback address: emulators serve this machine only",
                where="host",
            )
        self.regmap = load_map(regmap) if isinstance(regmap, str) else regmap
        self.profile = rp.RackProfile.from_map(self.regmap)
        #: the Modbus device address it answers (the map's unless given)
        self.unit_id = self.regmap.unit_id if unit_id is None else unit_id
        fifo = self.regmap.fifo
        assert fifo is not None
        self.fifo = fifo
        self.host = host
        self._requested_port = port
        self.serial_port = serial_port
        self.baudrate = baudrate
        self.ignore_watchdog = ignore_watchdog
        self.response_delay = 0.0
        self.physics = RackPhysics(
            athlete or DEMO_ATHLETES[0],
            rate_hz=fifo.rate_hz,
            sides=self.profile.sides,
            seed=seed,
            exercise=exercise,
        )
        # A device that has been up for a while: counters near their wrap-around.
        self.physics.seq = first_sample
        self._first_sample = first_sample
        self._identity = {c.name: c.expected for c in self.regmap.identity}
        for name, value in (identity or {}).items():
            if name not in self._identity:
                raise InvalidInputError(f"the map has no identity value {name!r}", where="identity")
            self._identity[name] = value
        self._regs: dict[Table, list[int]] = {}
        self._bits: dict[Table, list[bool]] = {}
        self._owner: dict[tuple[Table, int], Point] = {}
        self._build_image()
        self._fail_codes: list[ExcCodes] = []
        self._fault: str | None = None
        self._estop_button = False
        self._estop_software = False
        self._armed = False
        self._last_heartbeat = 0.0
        self._heartbeats = 0
        self._watchdog_s = 1.0
        self._cue = DisplayedCue()
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None
        self._set_done: asyncio.Event | None = None
        self._t_start = 0.0
        self._produced_at = 0.0
        self._status_shown: tuple[int, str | None, float] | None = None
        self._port = 0
        self._init_values()

    # Life cycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port served (0 before entering, or when serving a serial line)."""
        return self._port

    @property
    def serving(self) -> bool:
        return self._server is not None

    async def __aenter__(self) -> Self:
        if self._ticker is not None:
            raise RuntimeError("RackEmulator is not re-entrant")
        loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        self._set_done = asyncio.Event()
        self._t_start = loop.time()
        await self.start_serving()
        self._ticker = asyncio.create_task(
            self._housekeeping(), name=f"rack emulator {self.regmap.name} firmware"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._closing is not None
        self._closing.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            await asyncio.wait({ticker})  # the caller's own cancellation still propagates
        await self.stop_serving()

    async def start_serving(self) -> None:
        """Open the server (again): the device state and the FIFO carry on."""
        if self._server is not None:
            return
        device = SimDevice(id=self.unit_id, simdata=self._simdata(), action=self._access)
        server: ModbusTcpServer | ModbusSerialServer
        if self.serial_port is not None:
            server = ModbusSerialServer(
                device, port=self.serial_port, baudrate=self.baudrate, reconnect_delay=0
            )
        else:
            server = ModbusTcpServer(
                device, address=(self.host, self._port or self._requested_port)
            )
        await server.serve_forever(background=True)
        self._server = server
        if self.serial_port is None:
            listener: Any = server.transport  # an asyncio.Server once listening
            self._port = int(listener.sockets[0].getsockname()[1])

    async def stop_serving(self) -> None:
        """Close the server and drop every connection (a device unplugged or rebooting)."""
        server, self._server = self._server, None
        if server is None:
            return
        assert self._closing is not None
        self._closing.set()  # answer delayed requests now, so their handlers end
        await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it untyped
        for _ in range(5):
            await asyncio.sleep(0)
        self._closing.clear()

    # Scripting --------------------------------------------------------------------------

    @property
    def athlete(self) -> SimulatedAthlete:
        return self.physics.athlete

    def set_athlete(self, athlete: SimulatedAthlete) -> None:
        self.physics.set_athlete(athlete)

    def start_set(self, exercise: str, reps: int | None = None) -> None:
        """The athlete steps in and lifts ``reps`` reps (None: until a stop cue or failure)."""
        self._advance()
        self.physics.start_set(exercise, reps)
        if self._set_done is not None:
            self._set_done.clear()

    def request_stop(self) -> None:
        """The athlete ends the set after the current rep (what a STOP cue does)."""
        self.physics.request_stop("stop cue")

    def end_set(self) -> None:
        """The athlete lets go now."""
        self._advance()
        self.physics.abort_set("ended")

    async def wait_set(self) -> SetTruth:
        """Wait for the set under way to end; returns what the athlete really did.

        Bound the wait with ``asyncio.timeout`` around the call.
        """
        assert self._set_done is not None
        while self.physics.in_set:
            self._set_done.clear()
            await self._set_done.wait()
        return self.physics.sets[-1]

    async def run_sets(
        self, exercise: str, *, sets: int, reps: int | None, rest_s: float
    ) -> list[SetTruth]:
        """Lift ``sets`` sets with ``rest_s`` of rest between them (for demos)."""
        done: list[SetTruth] = []
        for index in range(sets):
            if index:
                await asyncio.sleep(rest_s)
            self.start_set(exercise, reps)
            done.append(await self.wait_set())
        return done

    @property
    def sets(self) -> list[SetTruth]:
        return list(self.physics.sets)

    def press_estop(self) -> None:
        """The device's own e-stop button."""
        self._advance()
        self._estop_button = True
        self._latch("estop")

    def release_estop(self) -> None:
        self._advance()
        self._estop_button = False
        self._update_status()

    def fail_requests(self, code: int, count: int = 1) -> None:
        """Answer the next ``count`` requests with Modbus exception ``code``."""
        self._fail_codes.extend([ExcCodes(code)] * count)

    @property
    def state(self) -> RackState:
        self._advance()
        drive = self.physics.drive
        return RackState(
            target_load_kg=drive.target_kg,
            actual_load_kg=drive.actual(self.physics.time),
            mode=drive.mode.value,
            eccentric_pct=drive.eccentric_pct,
            chains_kg_per_m=drive.chains_kg_per_m,
            spotter=drive.spotter,
            spotter_threshold_ms=drive.spotter_threshold_ms,
            ramp_kg_s=drive.ramp_kg_s,
            fault=self._fault,
            estop=self._estop_button or self._estop_software,
            watchdog_armed=self._armed,
            watchdog_timeout_s=self._watchdog_s,
            heartbeats=self._heartbeats,
            cue=self._cue,
            phase=self.physics.phase.value,
            in_set=self.physics.in_set,
            reps_in_set=self.physics.reps_in_set,
            samples=self.physics.seq,
        )

    # Register image ---------------------------------------------------------------------

    def _spans(self) -> dict[Table, list[tuple[int, int, bool]]]:
        """(address, count, read_only) of every defined range, per table."""
        spans: dict[Table, list[tuple[int, int, bool]]] = {t: [] for t in _TABLE_ORDER}
        for point in self.regmap.points.values():
            spans[point.table].append((point.address, point.count, not point.writable))
        for check in self.regmap.identity:
            spans[check.point.table].append((check.point.address, check.point.count, True))
        fifo = self.fifo
        spans[fifo.table].append((fifo.sequence.address, fifo.sequence.count, True))
        spans[fifo.table].append((fifo.address, fifo.end - fifo.address, True))
        return spans

    def _build_image(self) -> None:
        for table, spans in self._spans().items():
            end = max((a + n for a, n, _ in spans), default=0)
            if table.is_bits:
                self._bits[table] = [False] * (16 * math.ceil(end / 16) + 16)
            else:
                self._regs[table] = [0] * end
        for point in self.regmap.points.values():
            for address in range(point.address, point.end):
                self._owner[(point.table, address)] = point
        self._used_tables = {table for table, spans in self._spans().items() if spans}

    def _simdata(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        """pymodbus's view: which addresses exist and which are read-only."""
        tables: list[list[SimData]] = []
        for table, spans in self._spans().items():
            merged: list[list[Any]] = []
            for address, count, read_only in sorted(spans):
                if (
                    merged
                    and merged[-1][0] + merged[-1][1] == address
                    and merged[-1][2] == read_only
                ):
                    merged[-1][1] += count
                else:
                    merged.append([address, count, read_only])
            if table.is_bits:
                blocks = [
                    SimData(address=a, values=[False] * n, datatype=SimType.BITS)
                    for a, n, _ in merged
                ]
            else:
                blocks = [
                    SimData(address=a, count=n, values=0, datatype=SimType.REGISTERS, readonly=ro)
                    for a, n, ro in merged
                ]
            # pymodbus needs every table non-empty; the hook refuses tables the map leaves out.
            if not blocks:
                blocks = [
                    SimData(address=0, values=[False] * 16, datatype=SimType.BITS)
                    if table.is_bits
                    else SimData(address=0, count=1, datatype=SimType.INVALID)
                ]
            tables.append(blocks)
        return (tables[0], tables[1], tables[2], tables[3])

    def _put(self, point: Point, value: Value) -> None:
        payload = encode_point(point, value, check_limits=False)
        if point.table.is_bits:
            self._bits[point.table][point.address] = bool(payload[0])
        else:
            self._regs[point.table][point.address : point.end] = [int(v) for v in payload]

    def _get(self, point: Point) -> Value:
        if point.table.is_bits:
            return self._bits[point.table][point.address]
        return decode_point(point, self._regs[point.table][point.address : point.end])

    def _init_values(self) -> None:
        for check in self.regmap.identity:
            expected = self._identity[check.name]
            raw = encode_raw(
                expected if isinstance(expected, int | str) else int(expected), check.point.encoding
            )
            self._regs[check.point.table][check.point.address : check.point.end] = raw
        for point in self.regmap.points.values():
            default = point.safe_value if point.safe_value is not None else point.initial_value
            if default is not None:
                self._put(point, default)
        for point in self.regmap.points.values():
            if point.initial_value is not None:
                self._put(point, point.initial_value)
                self._configure(point, point.initial_value)
        self._update_status()

    def _configure(self, point: Point, value: Value) -> None:
        """Settings a device keeps in its own memory; the map's initial values preset them."""
        number = float(value) if isinstance(value, int | float) else 0.0
        drive = self.physics.drive
        if point.name == rp.RAMP_RATE:
            drive.set_ramp(self.physics.time, number)
        elif point.name == rp.SPOTTER_THRESHOLD:
            drive.spotter_threshold_ms = number
        elif point.name == rp.WATCHDOG_TIMEOUT:
            self._watchdog_s = number

    # Firmware ---------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_S)
            now = loop.time()
            self._advance(now, samples=now - self._produced_at >= SAMPLES_S)

    def _advance(self, now: float | None = None, *, samples: bool = True) -> None:
        """Bring the device up to ``now``: watchdog, status, and (``samples``) the FIFO.

        Samples are computed when somebody is about to read them (a read of the FIFO's
        counter), before any write (so that samples before a command feel the old load),
        and every :data:`SAMPLES_S` otherwise: each call costs a few dozen numpy calls.
        """
        if self._ticker is None and self._closing is None:
            return  # not started: device time stands still
        if now is None:
            now = asyncio.get_running_loop().time()
        if self._armed and not self.ignore_watchdog:
            expiry = self._last_heartbeat + self._watchdog_s
            if now >= expiry:
                self._produce(expiry)
                self._latch("watchdog")
        if samples:
            self._produce(now)
        self._update_status(now)
        if not self.physics.in_set and self._set_done is not None:
            self._set_done.set()

    def _produce(self, now: float) -> None:
        self._produced_at = now
        physics = self.physics
        fifo = self.fifo
        due = self._first_sample + math.floor((now - self._t_start) * fifo.rate_hz)
        n = due - physics.seq
        if n <= 0:
            return
        if n > fifo.capacity:
            physics.skip(n - fifo.capacity)
            n = fifo.capacity
        first = physics.seq
        values = physics.sample(n)
        seq_field = fifo.seq_field
        if seq_field is not None:
            bits = 16 * seq_field.encoding.count
            values["seq"] = ((first + np.arange(n, dtype=np.int64)) % (1 << bits)).astype(
                np.float64
            )
        records = encode_records(values, fifo.fields)
        ring = self._regs[fifo.table]
        width = fifo.record_registers
        done = 0
        while done < n:
            slot = (first + done) % fifo.capacity
            take = min(n - done, fifo.capacity - slot)
            start = fifo.address + slot * width
            ring[start : start + take * width] = records[done : done + take].ravel().tolist()
            done += take
        counter = fifo.sequence
        head = physics.seq % (1 << (16 * counter.count))
        ring[counter.address : counter.end] = encode_raw(head, counter.encoding)

    def _latch(self, fault: str) -> None:
        t = self.physics.time
        self.physics.drive.zero(t)
        self._put_if(rp.TARGET_LOAD, 0.0)
        self._fault = fault
        self._armed = False
        if self.physics.in_set:
            self.physics.abort_set(fault)
        self._update_status()

    def _put_if(self, name: str, value: Value) -> None:
        point = self.profile.get(name)
        if point is not None:
            self._put(point, value)

    def _device_time(self, now: float) -> float:
        return self._first_sample / self.fifo.rate_hz + (now - self._t_start)

    def _update_status(self, now: float | None = None) -> None:
        drive = self.physics.drive
        t = self.physics.time if now is None else max(self._device_time(now), self.physics.time)
        actual = drive.actual(t)
        estop = self._estop_button or self._estop_software
        status = self.profile.get(rp.STATUS)
        assert status is not None
        flags = {
            rp.BIT_MOTOR_ENABLED: actual > 0 and self._fault is None,
            rp.BIT_FAULT: self._fault is not None,
            rp.BIT_ESTOP: estop,
            rp.BIT_CABLE_UNLOADED: self.physics.unloaded,
            rp.BIT_WATCHDOG_ARMED: self._armed,
        }
        word = sum(1 << bit for name, bit in status.bits.items() if flags.get(name))
        shown = (word, self._fault, round(actual, 6))
        if shown == self._status_shown:
            return
        self._status_shown = shown
        self._put(status, word)
        code = self.profile.get(rp.FAULT_CODE)
        if code is not None:
            name = self._fault or "none"
            self._put(code, code.options.get(name, 0) if code.options else 0)
        self._put_if(rp.ACTUAL_LOAD, round(actual, 6))

    async def _access(  # noqa: PLR0917  (the signature is pymodbus's SimAction)
        self,
        function: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus's hook on every request: the device's firmware."""
        if self.response_delay > 0 and self._closing is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.response_delay):
                    await self._closing.wait()
        if self._fail_codes:
            return self._fail_codes.pop(0)
        table = _FUNCTION_TABLE.get(function)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if table not in self._used_tables:
            return ExcCodes.ILLEGAL_ADDRESS
        counter = self.fifo.sequence
        reads_counter = (
            table is counter.table and address < counter.end and counter.address < address + count
        )
        self._advance(samples=values is not None or reads_counter)
        if values is None:
            self._serve_read(table, start_address, address, count, registers)
            return None
        try:
            self._write(table, address, values)
        except _RefusedError as refused:
            return refused.code
        return None

    def _serve_read(
        self, table: Table, start: int, address: int, count: int, registers: list[int]
    ) -> None:
        if table.is_bits:
            bits = self._bits[table]
            first = address // 16
            for index in range(count):
                chunk = bits[(first + index) * 16 : (first + index + 1) * 16]
                registers[first - start + index] = sum(1 << i for i, b in enumerate(chunk) if b)
            return
        registers[address - start : address - start + count] = self._regs[table][
            address : address + count
        ]

    def _write(self, table: Table, address: int, values: Sequence[int] | Sequence[bool]) -> None:
        """Check every point the write covers, then apply them all (or none)."""
        changes: list[tuple[Point, Value]] = []
        position = address
        end = address + len(values)
        while position < end:
            point = self._owner.get((table, position))
            if point is None or point.address != position or point.end > end:
                raise _RefusedError(ExcCodes.ILLEGAL_ADDRESS)
            raw = values[position - address : point.end - address]
            value = bool(raw[0]) if table.is_bits else decode_point(point, [int(v) for v in raw])
            self._check_write(point, value)
            changes.append((point, value))
            position = point.end
        for point, value in changes:
            self._apply(point, value)
        self._update_status()

    def _check_write(self, point: Point, value: Value) -> None:
        if not point.writable:
            raise _RefusedError(ExcCodes.ILLEGAL_ADDRESS)
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and not point.table.is_bits
        ):
            try:
                check_limits_of(point, float(value))
            except InvalidInputError:
                raise _RefusedError(ExcCodes.ILLEGAL_VALUE) from None
        name = point.name
        if name in rp.ACTUATOR_POINTS and value != self._safe_raw(point):
            if self._fault is not None:
                raise _RefusedError(ExcCodes.DEVICE_FAILURE)
            if name == rp.TARGET_LOAD and not self._armed and not self.ignore_watchdog:
                raise _RefusedError(ExcCodes.DEVICE_FAILURE)
        if name == rp.FAULT_RESET and value and (self._estop_button or self._estop_software):
            raise _RefusedError(ExcCodes.DEVICE_FAILURE)

    def _safe_raw(self, point: Point) -> Value | None:
        """The point's safe value as its register decodes it (option names become numbers)."""
        if point.safe_value is None:
            return None
        return decode_point(point, encode_point(point, point.safe_value, check_limits=False))

    def _apply(self, point: Point, value: Value) -> None:
        self._put(point, value)
        physics = self.physics
        drive = physics.drive
        t = physics.time
        now = asyncio.get_running_loop().time()
        name = point.name
        number = float(value) if isinstance(value, int | float) else 0.0
        option = point.option_name(int(number)) if point.options else None
        if name == rp.TARGET_LOAD:
            drive.set_target(t, number)
        elif name == rp.MODE and option is not None:
            drive.mode = Mode(option)
        elif name == rp.ECCENTRIC_PCT:
            drive.eccentric_pct = number
        elif name == rp.CHAINS:
            drive.chains_kg_per_m = number
        elif name == rp.SPOTTER:
            drive.spotter = option == "on" if option is not None else bool(value)
        elif name in (rp.SPOTTER_THRESHOLD, rp.RAMP_RATE, rp.WATCHDOG_TIMEOUT):
            self._configure(point, value)
        elif name == rp.HEARTBEAT:
            self._heartbeats += 1
            self._last_heartbeat = now
            self._armed = self._fault is None
        elif name == rp.FAULT_RESET:
            self._put(point, False if point.table.is_bits else 0)
            if value:
                self._fault = None
                self._armed = False
                drive.zero(t)
                self._put_if(rp.TARGET_LOAD, 0.0)
        elif name == rp.ESTOP:
            self._estop_software = bool(value)
            if value:
                self._latch("estop")
        elif name in (rp.CUE_COLOUR, rp.CUE_NUMBER, rp.CUE_TEXT):
            self._cue = self._read_cue()
            if name == rp.CUE_TEXT and str(value).strip().upper().startswith("STOP"):
                physics.request_stop("stop cue")

    def _read_cue(self) -> DisplayedCue:
        colour = self.profile.get(rp.CUE_COLOUR)
        number = self.profile.get(rp.CUE_NUMBER)
        text = self.profile.get(rp.CUE_TEXT)
        colour_name = "off"
        if colour is not None:
            colour_name = colour.option_name(int(self._get(colour))) or "off"
        return DisplayedCue(
            colour=colour_name,
            number=float(self._get(number)) if number is not None else 0.0,
            text=str(self._get(text)) if text is not None else "",
        )


__all__ = ["DisplayedCue", "RackEmulator", "RackState", "find_athlete"]
