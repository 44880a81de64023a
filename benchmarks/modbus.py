"""Racks over Modbus: how much the rack adapter costs, and how many racks one process polls.

Emulated reference racks (1 kHz FIFO) run in a child process, so that the process measured
is only the controller's side. Two measurements, in the same run:

* **Adapter against bare pymodbus** (``ratio_vs_bare``): the same racks are polled at the
  map's cadence (FIFO every 20 ms, status every 100 ms, heartbeat every 250 ms),
  alternately by bare pymodbus loops and by :class:`RackAdapter` instances, four times
  each for equal times (so that changes of load on a shared machine hit both alike).
  The bare loops make exactly the adapter's requests at the same ticks (the adapter's
  random phase per rack is off here, as the bare loops have none: how requests bunch
  changes the kernel's cost of each one) but decode nothing and deliver nothing; the
  adapter decodes every record into numpy arrays and delivers one :class:`SampleBatch`
  per channel per poll. Both fetch every sample the racks make,
  so their samples and polls per second are equal while the process keeps up; what
  differs is the CPU the process spends. The rate one process can deliver is samples per
  CPU-second, and ``ratio_vs_bare`` is the adapter's over the bare loops'. (Raw rates at
  saturation would measure the emulators: on a small machine they share the cores and
  are slower than either client.) The figures compare like with like only when both made
  about the same polls (``comparable``: within 10 %); on a machine too busy to keep the
  cadence, a poller that skips ticks fetches bigger batches, which cost less per sample.
* **Capacity** (``racks_sustained``): 1, 2, 4, 8, ... racks at the map's cadence, each step
  with a fresh emulator process. A step is sustained when no sample is lost, at least
  97 % of the samples the racks made in the window arrive, and the pollers make at least
  half of their ticks (a poller skips ticks rather than queueing, by design: the samples
  of a skipped tick arrive in the next batch, so a skipped tick costs latency, not data).
  The emulators' CPU share is reported next to the controller's: they compete for the
  same cores, so this is the capacity of this machine running both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pymodbus.client import AsyncModbusTcpClient

from equipment_adapters.base import DeviceEvent, SequenceGap
from equipment_adapters.batch import SampleBatch
from equipment_adapters.emulators.rack import RackEmulator
from equipment_adapters.modbus.blocks import compile_blocks, plan_record_reads
from equipment_adapters.modbus.link import TcpEndpoint
from equipment_adapters.modbus.mapfile import load_map
from equipment_adapters.modbus.rack import RackAdapter, RackOptions
from equipment_adapters.modbus.regmap import RegisterMap, Table
from equipment_adapters.modbus.ticker import Ticker

MAP = "reference-rack"
GOAL_RATIO = 0.8
SWEEP = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128)
#: Share of the poll ticks a sustained step must make.
MIN_TICK_SHARE = 0.5
#: Share of the samples made in the window a sustained step must deliver.
MIN_SAMPLE_SHARE = 0.97
#: Windows of each kind in the comparison, interleaved.
ALTERNATIONS = 4


@dataclass
class PollFigures:
    """What one way of polling achieved over measured windows."""

    seconds: float = 0.0
    fifo_polls: int = 0
    samples: int = 0
    batches: int = 0
    cpu_seconds: float = 0.0

    def add(self, other: PollFigures) -> None:
        self.seconds += other.seconds
        self.fifo_polls += other.fifo_polls
        self.samples += other.samples
        self.batches += other.batches
        self.cpu_seconds += other.cpu_seconds

    @property
    def samples_per_cpu_s(self) -> float:
        return _ratio(self.samples, self.cpu_seconds)

    @property
    def polls_per_cpu_s(self) -> float:
        return _ratio(self.fifo_polls, self.cpu_seconds)

    def to_json(self) -> dict[str, float]:
        return {
            "seconds": round(self.seconds, 3),
            "fifo_polls": self.fifo_polls,
            "polls_per_s": round(_ratio(self.fifo_polls, self.seconds), 1),
            "samples": self.samples,
            "samples_per_s": round(_ratio(self.samples, self.seconds), 1),
            "batches": self.batches,
            "cpu_share": round(_ratio(self.cpu_seconds, self.seconds), 3),
            "samples_per_cpu_s": round(self.samples_per_cpu_s, 1),
            "polls_per_cpu_s": round(self.polls_per_cpu_s, 1),
        }


@dataclass
class SweepStep:
    racks: int
    seconds: float
    samples_per_s: float
    expected_per_s: float
    polls_per_s: float
    samples_per_poll: float
    gaps: int
    skipped_ticks: int
    ticks: int
    controller_cpu: float
    emulator_cpu: float | None
    sustained: bool


@dataclass
class Report:
    racks_sustained: int
    ratio_vs_bare: float
    ratio_polls_vs_bare: float
    compared_racks: int
    bare: PollFigures
    adapter: PollFigures
    sweep: list[SweepStep] = field(default_factory=list)
    load_average: tuple[float, float] = (0.0, 0.0)  #: one-minute load at the start and end

    @property
    def comparable(self) -> bool:
        return abs(_ratio(self.adapter.fifo_polls, self.bare.fifo_polls) - 1.0) <= 0.1

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": "modbus",
            "map": MAP,
            "rate_hz": 1000,
            "ratio_vs_bare": round(self.ratio_vs_bare, 3),
            "ratio_polls_vs_bare": round(self.ratio_polls_vs_bare, 3),
            "comparable": self.comparable,
            "goal_ratio": GOAL_RATIO,
            "meets_goal": self.ratio_vs_bare >= GOAL_RATIO,
            "racks_sustained": self.racks_sustained,
            "load_average": list(self.load_average),
            "cpus": os.cpu_count(),
            "comparison": {
                "racks": self.compared_racks,
                "bare": self.bare.to_json(),
                "adapter": self.adapter.to_json(),
            },
            "sweep": [asdict(step) for step in self.sweep],
        }


def _ratio(measured: float, baseline: float) -> float:
    return measured / baseline if baseline else 0.0


# The emulators' process ---------------------------------------------------------------


async def _serve(count: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        racks = [await stack.enter_async_context(RackEmulator(seed=i)) for i in range(count)]
        print(json.dumps({"ports": [rack.port for rack in racks]}), flush=True)
        await stop.wait()


class EmulatorProcess:
    """``count`` emulated racks in a child process (this module run with ``--serve``)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.ports: list[int] = []
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> EmulatorProcess:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.modbus",
            "--serve",
            str(self.count),
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None
        async with asyncio.timeout(60):
            line = await self._process.stdout.readline()
        if not line:
            await self.__aexit__()
            raise RuntimeError("the emulator process ended before serving")
        self.ports = json.loads(line)["ports"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            process.terminate()
        try:
            async with asyncio.timeout(10):
                await process.communicate()  # to the end of its output: the pipe closes
        except TimeoutError:
            process.kill()
            await process.communicate()

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the child so far (Linux), None where /proc is missing."""
        if self._process is None:
            return None
        try:
            with open(f"/proc/{self._process.pid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Measuring a window ---------------------------------------------------------------------


class _Window:
    """Wall and CPU time of the measured window, after a short start-up."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.probed: float | None = None

    async def run(self, seconds: float) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        self.seconds = time.perf_counter() - wall
        self.cpu_seconds = time.process_time() - cpu


# Bare pymodbus polling ------------------------------------------------------------------


async def _bare_rack(
    port: int, regmap: RegisterMap, stop: asyncio.Event, figures: PollFigures
) -> None:
    """The adapter's requests for one rack at its cadence, with nothing decoded or delivered."""
    fifo = regmap.fifo
    assert fifo is not None
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1.0, retries=0, reconnect_delay=0)
    await client.connect()
    status_blocks = compile_blocks(regmap.polled("status"))
    heartbeat = regmap.point("heartbeat")
    unit = regmap.unit_id

    async def read(table: Table, address: int, count: int) -> list[int]:
        if table is Table.INPUT:
            response = await client.read_input_registers(address, count=count, device_id=unit)
        else:
            response = await client.read_holding_registers(address, count=count, device_id=unit)
        return list(response.registers)

    async def status() -> None:
        ticker = Ticker(regmap.poll_groups["status"].scan_interval)
        beat, next_beat = 0, 0.0
        while not stop.is_set():
            await ticker.wait()
            for block in status_blocks:
                await read(block.table, block.address, block.count)
            now = time.monotonic()
            if now >= next_beat:
                beat = beat % 65535 + 1
                await client.write_register(heartbeat.address, beat, device_id=unit)
                next_beat = now + 0.25

    # the adapter's own cadence: same interval, same skipping of late ticks
    ticker = Ticker(regmap.poll_groups[fifo.poll].scan_interval)
    status_task = asyncio.create_task(status(), name=f"bench bare status {port}")
    try:
        next_seq: int | None = None
        while not stop.is_set():
            await ticker.wait()
            regs = await read(fifo.table, fifo.sequence.address, fifo.sequence.count)
            head = (regs[0] << 16) | regs[1]
            if next_seq is None:
                next_seq = head
            records = min(head - next_seq, fifo.capacity - fifo.capacity // 10)
            for plan in plan_record_reads(fifo, head - records, records):
                await read(fifo.table, plan.address, plan.count)
            figures.fifo_polls += 1
            figures.samples += records
            next_seq = head
    finally:
        status_task.cancel()
        await asyncio.wait({status_task})
        client.close()


async def _run_bare(ports: list[int], regmap: RegisterMap, seconds: float) -> PollFigures:
    running = PollFigures()
    stop = asyncio.Event()
    window = _Window()
    async with asyncio.TaskGroup() as group:
        for port in ports:
            group.create_task(_bare_rack(port, regmap, stop, running), name=f"bench bare {port}")
        await asyncio.sleep(0.3)  # connected and polling before the window opens
        polls, samples = running.fifo_polls, running.samples
        await window.run(seconds)
        measured = PollFigures(
            seconds=window.seconds,
            fifo_polls=running.fifo_polls - polls,
            samples=running.samples - samples,
            cpu_seconds=window.cpu_seconds,
        )
        stop.set()
    return measured


# Adapter polling ------------------------------------------------------------------------


class _Counter:
    def __init__(self) -> None:
        self.batches = 0
        self.gaps = 0

    def on_batch(self, batch: SampleBatch) -> None:
        del batch
        self.batches += 1

    def on_event(self, event: DeviceEvent) -> None:
        if isinstance(event, SequenceGap):
            self.gaps += 1


@dataclass
class _AdapterWindow:
    figures: PollFigures
    gaps: int
    skipped_ticks: int
    reconnected: bool
    probed: float | None = None  #: the probe's change over the window


async def _run_adapters(
    ports: list[int],
    regmap: RegisterMap,
    seconds: float,
    *,
    jitter: bool,
    probe: Callable[[], float | None] | None = None,
) -> _AdapterWindow:
    counter = _Counter()
    adapters = [
        RackAdapter(
            device_id=f"bench-{port}",
            regmap=regmap,
            endpoint=TcpEndpoint("127.0.0.1", port),
            on_batch=counter.on_batch,
            on_event=counter.on_event,
            options=RackOptions(request_timeout=1.0, jitter=jitter),
        )
        for port in ports
    ]

    def totals() -> tuple[int, int, int, int, int]:
        return (
            sum(a.stats.fifo_polls for a in adapters),
            sum(a.stats.samples for a in adapters),
            counter.batches,
            sum(a.stats.skipped_ticks for a in adapters),
            counter.gaps,
        )

    window = _Window()
    async with contextlib.AsyncExitStack() as stack:
        for adapter in adapters:
            await stack.enter_async_context(adapter)
        await asyncio.sleep(0.3)  # connected and polling before the window opens
        before = totals()
        probed = probe() if probe else None
        await window.run(seconds)
        after = totals()
        if probe is not None and probed is not None:
            now = probe()
            window.probed = None if now is None else now - probed
        reconnected = any(a.stats.sessions != 1 for a in adapters)
    return _AdapterWindow(
        probed=window.probed,
        figures=PollFigures(
            seconds=window.seconds,
            fifo_polls=after[0] - before[0],
            samples=after[1] - before[1],
            batches=after[2] - before[2],
            cpu_seconds=window.cpu_seconds,
        ),
        skipped_ticks=after[3] - before[3],
        gaps=after[4] - before[4],
        reconnected=reconnected,
    )


# The two measurements -------------------------------------------------------------------


async def _compare(
    racks: int, seconds: float, regmap: RegisterMap
) -> tuple[PollFigures, PollFigures]:
    bare, adapted = PollFigures(), PollFigures()
    async with EmulatorProcess(racks) as emulators:
        for _ in range(ALTERNATIONS):
            bare.add(await _run_bare(emulators.ports, regmap, seconds / (2 * ALTERNATIONS)))
            window = await _run_adapters(
                emulators.ports, regmap, seconds / (2 * ALTERNATIONS), jitter=False
            )
            adapted.add(window.figures)
    return bare, adapted


async def _sweep_step(racks: int, seconds: float, regmap: RegisterMap) -> SweepStep:
    fifo = regmap.fifo
    assert fifo is not None
    async with EmulatorProcess(racks) as emulators:
        window = await _run_adapters(
            emulators.ports, regmap, seconds, jitter=True, probe=emulators.cpu_seconds
        )
    figures = window.figures
    interval = regmap.poll_groups[fifo.poll].scan_interval
    ticks = round(racks * figures.seconds / interval)
    expected = racks * fifo.rate_hz
    samples_per_s = _ratio(figures.samples, figures.seconds)
    emulator_cpu = None
    if window.probed is not None:
        emulator_cpu = round(_ratio(window.probed, figures.seconds), 3)
    sustained = (
        window.gaps == 0
        and not window.reconnected
        and samples_per_s >= MIN_SAMPLE_SHARE * expected
        and figures.fifo_polls >= MIN_TICK_SHARE * ticks
    )
    return SweepStep(
        racks=racks,
        seconds=round(figures.seconds, 3),
        samples_per_s=round(samples_per_s, 1),
        expected_per_s=expected,
        polls_per_s=round(_ratio(figures.fifo_polls, figures.seconds), 1),
        samples_per_poll=round(_ratio(figures.samples, figures.fifo_polls), 1),
        gaps=window.gaps,
        skipped_ticks=window.skipped_ticks,
        ticks=ticks,
        controller_cpu=round(_ratio(figures.cpu_seconds, figures.seconds), 3),
        emulator_cpu=emulator_cpu,
        sustained=sustained,
    )


async def run_benchmark(
    *, racks: int = 2, seconds: float = 12.0, sweep_seconds: float = 3.0, max_racks: int = 64
) -> Report:
    """Both measurements; see the module's docstring."""
    regmap = load_map(MAP)
    load_before = os.getloadavg()[0]
    bare, adapted = await _compare(racks, seconds, regmap)
    sweep: list[SweepStep] = []
    sustained = 0
    for count in [n for n in SWEEP if n <= max_racks]:
        step = await _sweep_step(count, sweep_seconds, regmap)
        sweep.append(step)
        if not step.sustained:
            break
        sustained = count
    return Report(
        racks_sustained=sustained,
        ratio_vs_bare=_ratio(adapted.samples_per_cpu_s, bare.samples_per_cpu_s),
        ratio_polls_vs_bare=_ratio(adapted.polls_per_cpu_s, bare.polls_per_cpu_s),
        compared_racks=racks,
        bare=bare,
        adapter=adapted,
        sweep=sweep,
        load_average=(round(load_before, 2), round(os.getloadavg()[0], 2)),
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the emulators' child process."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.modbus")
    parser.add_argument("--serve", type=int, required=True, metavar="RACKS")
    args = parser.parse_args(argv)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    asyncio.run(_serve(args.serve))


if __name__ == "__main__":
    main()
