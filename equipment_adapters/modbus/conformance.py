"""The conformance check of a Modbus rack against its register map.

What ``gymctl adapter check`` runs. Each check is one row of the report (PASS, FAIL or
SKIP, with the evidence): the device identifies as the map says; every point and every
compiled block reads; every writable point accepts values inside its limits (read back
equal) and refuses values outside them with a Modbus exception; the e-stop and the
watchdog bring the resistance to zero and latch a fault that refuses actuator writes until
it is reset; and the FIFO delivers every sample exactly once, at its rate, for a while (a
minute by default).

The check writes to the device: run it on a rack nobody is using.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from equipment_adapters.errors import DeviceError, ModbusExceptionError
from equipment_adapters.modbus import rackprofile as rp
from equipment_adapters.modbus.codec import bit_of, raw_from_value
from equipment_adapters.modbus.device import MapDevice
from equipment_adapters.modbus.fifo import FifoReader
from equipment_adapters.modbus.link import Endpoint, ModbusLink
from equipment_adapters.modbus.regmap import DataType, Point, RegisterMap, Value

DEFAULT_FIFO_SECONDS = 60.0
#: Points with a check of their own, not written by the generic limits check.
_OWN_CHECK = {rp.ESTOP, rp.FAULT_RESET}


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    verdict: Verdict
    detail: str = ""


@dataclass(slots=True)
class ConformanceReport:
    map_name: str
    map_version: int
    endpoint: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.verdict is not Verdict.FAIL for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "map": self.map_name,
            "map_version": self.map_version,
            "endpoint": self.endpoint,
            "passed": self.passed,
            "checks": [
                {"name": r.name, "result": r.verdict.value, "detail": r.detail}
                for r in self.results
            ],
        }


class _Failed(Exception):  # noqa: N818  (a check's verdict, not an error)
    """A check found the device wrong; the message is the evidence."""


class _Skipped(Exception):  # noqa: N818
    pass


class _Checker:
    def __init__(
        self,
        regmap: RegisterMap,
        device: MapDevice,
        report: ConformanceReport,
        progress: Callable[[CheckResult], None] | None,
    ) -> None:
        self.regmap = regmap
        self.device = device
        self.report = report
        self.progress = progress
        self.profile = rp.RackProfile.from_map(regmap) if regmap.kind == "rack" else None
        self._beating = False
        self._beat_task: asyncio.Task[None] | None = None
        self._beat_count = 0

    def record(self, name: str, verdict: Verdict, detail: str = "") -> bool:
        result = CheckResult(name, verdict, detail)
        self.report.results.append(result)
        if self.progress is not None:
            self.progress(result)
        return verdict is Verdict.PASS

    async def run(self, name: str, check: Callable[[], Awaitable[str]]) -> bool:
        try:
            detail = await check()
        except _Failed as failed:
            return self.record(name, Verdict.FAIL, str(failed))
        except _Skipped as skipped:
            return self.record(name, Verdict.SKIP, str(skipped))
        except DeviceError as error:
            return self.record(name, Verdict.FAIL, str(error))
        return self.record(name, Verdict.PASS, detail or "")

    # Helpers ----------------------------------------------------------------------------

    def point(self, name: str) -> Point | None:
        return self.regmap.points.get(name)

    async def refused(self, point: Point, value: Value) -> int:
        """Write a value the device must refuse; the exception code, or _Failed."""
        try:
            await self.device.write_point(point, value, check_limits=False)
        except ModbusExceptionError as error:
            return error.code
        raise _Failed(f"{point.name} = {value} {point.unit} was accepted".replace("  ", " "))

    async def accepted(self, point: Point, value: Value) -> None:
        try:
            await self.device.write_point(point, value, check_limits=False)
        except ModbusExceptionError as error:
            raise _Failed(f"{point.name} = {value!r} refused: {error}") from error
        if point.name == rp.HEARTBEAT:
            return  # our own heartbeat task writes it too: nothing stable to read back
        back = await self.device.read_point(point)
        if not _same(point, value, back):
            raise _Failed(f"{point.name} = {value!r} written, {back!r} read back")

    async def status(self) -> Value:
        status = self.point(rp.STATUS)
        assert status is not None
        return await self.device.read_point(status)

    async def bit(self, name: str) -> bool:
        status = self.point(rp.STATUS)
        assert status is not None
        return bit_of(status, await self.status(), name)

    async def resistance(self) -> float:
        """The actual load if the device reports it, else the target it holds."""
        point = self.point(rp.ACTUAL_LOAD) or self.point(rp.TARGET_LOAD)
        assert point is not None
        return float(await self.device.read_point(point))

    async def start_heartbeat(self, interval: float) -> None:
        heartbeat = self.point(rp.HEARTBEAT)
        if heartbeat is None or self._beat_task is not None:
            return
        top = int(heartbeat.max_value) if heartbeat.max_value is not None else 0xFFFF

        async def beat() -> None:
            while True:
                self._beat_count = self._beat_count % top + 1
                with contextlib.suppress(DeviceError):
                    await self.device.write_point(heartbeat, self._beat_count)
                await asyncio.sleep(interval)

        await self.device.write_point(heartbeat, 1)  # armed before anything else is written
        self._beat_task = asyncio.create_task(beat(), name="conformance heartbeat")

    async def stop_heartbeat(self) -> None:
        task, self._beat_task = self._beat_task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})  # the caller's own cancellation still propagates

    async def reset_fault(self) -> None:
        reset = self.point(rp.FAULT_RESET)
        if reset is not None:
            await self.device.write_point(reset, True if reset.table.is_bits else 1)
            heartbeat = self.point(rp.HEARTBEAT)
            if heartbeat is not None and self._beat_task is not None:
                await self.device.write_point(heartbeat, 1)

    async def safe_state(self) -> None:
        for point in sorted(self.regmap.points.values(), key=lambda p: p.name != rp.TARGET_LOAD):
            if point.safe_value is not None:
                with contextlib.suppress(DeviceError):
                    await self.device.write_point(point, point.safe_value)

    def ramp_time(self, load: float) -> float:
        """Time for the device's ramp to reach ``load`` (at most a second)."""
        ramp = self.point(rp.RAMP_RATE)
        rate = ramp.initial_value if ramp is not None else None
        if not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0:
            return 0.2
        return min(load / float(rate) + 0.05, 1.0)

    def test_load(self) -> tuple[Point, float]:
        target = self.point(rp.TARGET_LOAD)
        if target is None or target.max_value is None:
            raise _Skipped("the map has no target load")
        low = target.min_value or 0.0
        load = low + min(20.0, (target.max_value - low) / 2)
        return target, load

    # Checks -----------------------------------------------------------------------------

    async def identity(self) -> str:
        found = await self.device.read_identity()
        wrong = [
            f"{c.name} is {found[c.name]!r}, expected {c.expected!r}"
            for c in self.regmap.identity
            if found[c.name] != c.expected
        ]
        if wrong:
            raise _Failed("; ".join(wrong))
        if not self.regmap.identity:
            raise _Skipped("the map declares no identity")
        return ", ".join(f"{k} = {v!r}" for k, v in found.items())

    async def read_one(self, point: Point) -> str:
        value = await self.device.read_point(point)
        unit = f" {point.unit}" if point.unit else ""
        return f"{point.table} {point.address}: {value!r}{unit}"

    async def blocks(self) -> str:
        count = 0
        for group in self.regmap.poll_groups:
            for block in self.device.blocks(group):
                await self.device.read_block(block)
                count += 1
        fifo = self.regmap.fifo
        if fifo is not None:
            await self.device.read_registers(fifo.table, fifo.sequence.address, fifo.sequence.count)
            per_read = self.regmap.max_block_registers // fifo.record_registers
            await self.device.read_registers(
                fifo.table, fifo.address, per_read * fifo.record_registers
            )
            count += 2
        return f"{count} block reads of the poll groups and the FIFO"

    async def write_limits(self, point: Point) -> str:
        accepted: list[str] = []
        refused: list[str] = []
        if point.data_type is DataType.STRING:
            await self.accepted(point, "CHECK"[: 2 * point.count])
            accepted.append("'CHECK'")
        elif point.table.is_bits:
            for bit in (True, False):
                await self.accepted(point, bit)
                accepted.append(str(bit))
        elif point.options:
            for name in point.options:
                await self.accepted(point, name)
                accepted.append(name)
            invalid = max(point.options.values()) + 1
            if _fits(point, invalid):
                code = await self.refused(
                    point, invalid * point.encoding.scale + point.encoding.offset
                )
                refused.append(f"{invalid} (exception {code})")
        else:
            inside = [v for v in (point.min_value, point.max_value) if v is not None]
            if not inside:
                current = await self.device.read_point(point)
                inside = [float(current)]
            for value in inside:
                await self.accepted(point, value)
                accepted.append(f"{value:g}")
            step = (
                abs(point.encoding.scale)
                if point.data_type.is_integer
                else max(1.0, abs(point.max_value or 1.0) * 0.1)
            )
            for limit, outside in ((point.min_value, -step), (point.max_value, step)):
                if limit is None or not _fits(point, limit + outside):
                    continue
                code = await self.refused(point, limit + outside)
                refused.append(f"{limit + outside:g} (exception {code})")
        restore = point.safe_value if point.safe_value is not None else point.initial_value
        if restore is not None:
            await self.device.write_point(point, restore)
        unit = f" {point.unit}" if point.unit else ""
        detail = f"accepted {', '.join(accepted)}{unit}"
        if refused:
            detail += f"; refused {', '.join(refused)}"
        return detail

    async def estop(self) -> str:
        estop = self.point(rp.ESTOP)
        if estop is None:
            raise _Skipped("the map has no software e-stop")
        target, load = self.test_load()
        await self.accepted(target, load)
        await self.device.write_point(estop, True if estop.table.is_bits else 1)
        await asyncio.sleep(0.05)
        pressed, fault = await self.bit(rp.BIT_ESTOP), await self.bit(rp.BIT_FAULT)
        left = await self.resistance()
        code = await self.refused(target, load)
        await self.device.write_point(estop, False if estop.table.is_bits else 0)
        await self.reset_fault()
        still = await self.bit(rp.BIT_FAULT)
        problems = []
        if not pressed:
            problems.append("the status e-stop bit stayed clear")
        if not fault:
            problems.append("no fault latched")
        if left != 0:
            problems.append(f"resistance {left:g} kg after the e-stop")
        if still:
            problems.append("the fault did not clear after release and reset")
        if problems:
            raise _Failed("; ".join(problems))
        return f"resistance 0, fault latched, load refused (exception {code}), cleared by reset"

    async def watchdog(self) -> str:
        timeout_point = self.point(rp.WATCHDOG_TIMEOUT)
        if timeout_point is None or self.point(rp.HEARTBEAT) is None:
            raise _Skipped("the map has no watchdog")
        target, load = self.test_load()
        timeout = max(timeout_point.min_value or 0.0, 0.3)
        await self.device.write_point(timeout_point, timeout)
        await self.accepted(target, load)
        await asyncio.sleep(self.ramp_time(load))
        before = await self.resistance()
        if before <= 0:
            raise _Failed(f"resistance is {before:g} kg with a target of {load:g} kg")
        await self.stop_heartbeat()
        stopped = time.monotonic()
        await asyncio.sleep(2 * timeout + 0.1)
        after = await self.resistance()
        fault = await self.bit(rp.BIT_FAULT)
        waited = time.monotonic() - stopped
        problems = []
        if after != 0:
            problems.append(
                f"resistance still {after:g} kg {waited:.1f} s after the last heartbeat"
            )
        if not fault:
            problems.append("no fault latched")
        refused = ""
        if fault:
            code = await self.refused(target, load)
            refused = f", load refused (exception {code})"
        await self.start_heartbeat(min(0.05, timeout / 4))
        await self.reset_fault()
        if await self.bit(rp.BIT_FAULT):
            problems.append("the fault did not clear after a reset")
        else:
            await self.accepted(target, load)
            await self.device.write_point(target, target.safe_value or 0.0)
        if problems:
            await self.safe_state()
            raise _Failed("; ".join(problems))
        initial = timeout_point.initial_value
        if initial is not None:
            await self.device.write_point(timeout_point, initial)
        silence = 2 * timeout + 0.1
        return f"{before:g} kg -> 0 within {silence:.1f} s of silence{refused}, reset clears it"

    async def fifo(self, seconds: float) -> str:
        fifo = self.regmap.fifo
        if fifo is None:
            raise _Skipped("the map has no FIFO")
        reader = FifoReader(fifo, max_registers=self.regmap.max_block_registers)
        interval = self.regmap.poll_groups[fifo.poll].scan_interval
        await reader.poll(self.device.read_registers)  # anchors the position
        first = reader.next_seq
        assert first is not None
        started = time.monotonic()
        samples = 0
        jumps: list[str] = []
        polls = 0
        deadline = started + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(interval)
            poll = await reader.poll(self.device.read_registers)
            polls += 1
            if poll.chunk is not None:
                if poll.chunk.first_seq != first + samples and not poll.jumps:
                    jumps.append(f"chunk at {poll.chunk.first_seq}, expected {first + samples}")
                samples += len(poll.chunk)
            jumps.extend(f"{j.reason} at {j.expected} -> {j.received}" for j in poll.jumps)
            if poll.jumps:
                break
        elapsed = time.monotonic() - started
        rate = samples / elapsed if elapsed > 0 else 0.0
        if jumps:
            raise _Failed(f"{'; '.join(jumps[:3])} after {samples} samples")
        # The last poll saw samples up to its own instant: allow one poll interval of slack.
        slack = max(0.02, (interval + 0.01) / max(elapsed, 1e-9))
        if abs(rate - fifo.rate_hz) > slack * fifo.rate_hz:
            raise _Failed(f"{rate:.1f} samples/s, the map says {fifo.rate_hz:g}")
        return (
            f"{samples} samples in {elapsed:.1f} s ({rate:.1f}/s), {polls} polls, "
            "none lost or repeated"
        )


def _fits(point: Point, value: float) -> bool:
    if not point.data_type.is_integer:
        return point.data_type.is_float
    raw = raw_from_value(value, point.encoding)
    low, high = point.data_type.raw_range
    return low <= raw <= high


def _same(point: Point, written: Value, read: Value) -> bool:
    if isinstance(written, str) and point.options:
        written = point.option_value(written)
    if (
        isinstance(written, bool)
        or isinstance(read, bool)
        or isinstance(written, str)
        or isinstance(read, str)
    ):
        return written == read
    tolerance = (
        abs(point.encoding.scale) / 2
        if point.data_type.is_integer
        else max(abs(float(written)) * 1e-6, 1e-9)
    )
    return math.isclose(float(written), float(read), abs_tol=tolerance)


async def check_device(
    regmap: RegisterMap,
    endpoint: Endpoint,
    *,
    fifo_seconds: float = DEFAULT_FIFO_SECONDS,
    request_timeout: float = 1.0,
    progress: Callable[[CheckResult], None] | None = None,
    unit_id: int | None = None,
) -> ConformanceReport:
    """Run every check against the device at ``endpoint``; never raises for a bad device.

    ``unit_id`` overrides the map's Modbus device address.
    """
    report = ConformanceReport(regmap.name, regmap.version, str(endpoint))
    try:
        unit = regmap.unit_id if unit_id is None else unit_id
        link_cm = ModbusLink(endpoint, unit_id=unit, timeout=request_timeout, name="check")
        async with link_cm as link:
            device = MapDevice(link, regmap)
            checker = _Checker(regmap, device, report, progress)
            checker.record("connect", Verdict.PASS, str(endpoint))
            try:
                await _run_all(checker, regmap, fifo_seconds)
            finally:
                await checker.stop_heartbeat()
    except DeviceError as error:
        if not report.results:
            report.results.append(CheckResult("connect", Verdict.FAIL, str(error)))
        else:
            report.results.append(CheckResult("link", Verdict.FAIL, str(error)))
        if progress is not None:
            progress(report.results[-1])
    return report


async def _run_all(checker: _Checker, regmap: RegisterMap, fifo_seconds: float) -> None:
    identified = await checker.run("identity", checker.identity)
    for check in regmap.identity:
        await checker.run(f"read {check.name}", functools.partial(checker.read_one, check.point))
    for point in regmap.points.values():
        await checker.run(f"read {point.name}", functools.partial(checker.read_one, point))
    await checker.run("block reads", checker.blocks)
    writable = [p for p in regmap.points.values() if p.writable and p.name not in _OWN_CHECK]
    profile = checker.profile
    if not identified:
        for name in [f"write {p.name}" for p in writable] + ["e-stop", "watchdog"]:
            checker.record(
                name, Verdict.SKIP, "no writes to a device that failed its identity check"
            )
    else:
        heartbeat = checker.point(rp.HEARTBEAT)
        timeout = checker.point(rp.WATCHDOG_TIMEOUT)
        if heartbeat is not None:
            least = timeout.min_value if timeout is not None and timeout.min_value else 0.2
            await checker.start_heartbeat(min(0.05, least / 4))
        if profile is not None and await checker.bit(rp.BIT_FAULT):
            await checker.reset_fault()
        for point in writable:
            await checker.run(f"write {point.name}", functools.partial(checker.write_limits, point))
        if profile is not None and profile.actuated:
            await checker.run("e-stop", checker.estop)
            await checker.run("watchdog", checker.watchdog)
        await checker.safe_state()
        await checker.stop_heartbeat()
    await checker.run("fifo continuity", functools.partial(checker.fifo, fifo_seconds))
