"""The whole station pipeline at scale: N stations streaming 1 kHz bar positions.

Each run is a real site (``controller.gym.Gym``: store on disk, event bus, MQTT bridge to a
broker, N stations with their drives, envelopes, cue routers, stream processors and set
supervisors, the site's watcher and health loop) whose racks are emulated in this process
*at the batch boundary*: a :class:`BenchRack` holds a rack's FIFO as Modbus registers (a
one-sided variant of the reference rack's map: ``seq`` and ``position`` per record) and the
adapter's own :class:`~equipment_adapters.modbus.fifo.FifoReader` reads and decodes them on
every poll, as ``RackAdapter`` does with the registers pymodbus returns. So what is measured
is the controller's own cost: FIFO block decode, ``SampleBatch`` delivery, station telemetry,
``StreamProcessor`` and the compiled ``RepDetector``, the trace buffer, the set supervisor
(``analyse_set``, cues), the cue router and the safety drive, the bus fan-out, the store
writer (reps, sets, decisions, compressed traces) and the MQTT publisher. The transports
(sockets, pymodbus, bumble) are measured by :mod:`benchmarks.pipeline_sockets`.

The athletes: every station's rack plays a looped 65.536 s trace of two squat sets of
seven reps slowing down (velocity loss), each followed by a rest (``benchmarks.traces``),
from a random point of the loop so that reps do not line up across stations. A *coach* task
does what the session runner does at the start and end of each set (arm the processor,
start the supervisor, begin and end the set in the state machine, store the traces).

Figures per N (each N in a fresh child process, so memory and caches do not carry over):

* ``offered_samples_per_s`` (N x 1000) and ``processed_samples_per_s``: samples decoded and
  delivered through the station pipeline during the measured window; ``samples_lost``
  (FIFO overruns: the controller fell a whole ring behind) and ``backlog_samples`` (written
  by the devices, not yet read, at the end of the window);
* ``cpu_s_per_s``: the process's CPU time (all threads: the loop, the store writer thread)
  per wall-clock second; ``cpu_us_per_station_s`` is that per station, in microseconds;
* ``rep_to_cue_*_ms``: from the moment the device wrote the sample that completes a rep to
  the moment the rep's cue is handed to the rack (``Adapter.apply(ShowCue)`` from the safety
  drive's task). Which sample completes a rep is found beforehand by feeding the trace to
  the rep detector one sample at a time, so the FIFO's poll interval is part of the figure;
* ``loop_lag_p99_ms``: how late a 10 ms sleep wakes up;
* ``peak_rss_mb``: the child process's peak resident memory.

The naive baseline, measured in the parent process of the same run, decodes each record and
feeds the plain-Python reference detector (``kernels.reference.rep_detector``) one sample
at a time; ``ratio_vs_baseline`` compares samples per CPU-second.

Run: ``python -m benchmarks.pipeline [--stations N ...] [--duration S] [--json]`` or
``gymctl bench pipeline``. The JSON object is ``{"benchmark": "pipeline", "machine": {cpu,
cpus, python, platform, load_average: {before, after}}, "settings": {rate_hz, poll_ms,
duration_s, warmup_s, telemetry_hz, mqtt}, "baseline": {what, samples, reps,
samples_per_cpu_s}, "runs": [...]}`` with one object per N in ``runs``: the fields of
:class:`Run` (``stations``, ``offered_samples_per_s``, ``processed_samples_per_s``,
``every_sample_processed``, ``samples_lost``, ``backlog_samples``, ``cpu_s_per_s``,
``cpu_us_per_station_s``, ``samples_per_cpu_s``, ``ratio_vs_baseline``,
``rep_to_cue_p50_ms`` / ``_p99_ms`` / ``_max_ms`` (null without reps), ``reps``, ``cues``,
``sets``, ``loop_lag_p99_ms``, ``loop_lag_max_ms``, ``peak_rss_mb``, ``station_faults``,
``mqtt``, ``mqtt_published``, ``mqtt_connected``, ``mqtt_backlog``, ``cpu_wait_s_per_s``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from benchmarks.traces import EXAMPLE_MCV, Script
from controller import control_loop
from controller.config import parse_config
from controller.cues import BLANK
from controller.events import SetStop
from controller.gym import Gym, GymOptions
from controller.pipeline import CompletedRep
from controller.set_supervisor import SetPlan
from controller.states import StationState
from controller.station_runtime import StationRuntime
from controller.store import TraceRecord
from equipment_adapters.base import (
    Adapter,
    BatchSink,
    Capabilities,
    Command,
    EquipmentKind,
    EventSink,
    LinkState,
    LoadRange,
    LoadUnit,
    ModeKind,
    ShowCue,
)
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.modbus.fifo import FifoReader
from equipment_adapters.modbus.mapfile import load_map
from equipment_adapters.modbus.regmap import DataType, Encoding, Fifo, FifoField, Table
from kernels.errors import InvalidInputError
from kernels.reference.rep_detector import ReferenceRepDetector
from kernels.rep_config import DetectorConfig, LiftStart
from kernels.rep_detector import RepDetector

RATE_HZ = 1000.0
PERIOD_S = 1.0 / RATE_HZ
#: the loop of one rack: two sets, each in a half; 2**16 samples so that the FIFO records'
#: 16-bit ``seq`` field of loop row r is r for every pass of the loop
CYCLE = 65536
HALF = CYCLE // 2
POSITION_SCALE = 0.0001  #: m per count, as the reference rack
VARIANTS = 4  #: athletes of slightly different speed
#: the coach starts a set (a station that came up mid-set joins it) unless its end is this near
ARM_BEFORE_END = 3000
DEFAULT_STATIONS = (10, 100, 500, 1000, 2000)
LOAD_KG = 100.0
VELOCITY_LOSS_STOP_PCT = 30.0


# -- the athletes' trace and the completing samples ---------------------------------------


@dataclass(frozen=True, slots=True)
class RackTrace:
    """One looped rack trace: the FIFO records, and where each rep ends and completes."""

    positions: npt.NDArray[np.float64]  #: (CYCLE,) m, as decoded from the registers
    registers: list[int]  #: (CYCLE + extra) records of (seq, position), flat
    set_end: int  #: offset in a half at which the bar is back in the rack
    rep_end: npt.NDArray[np.int64]  #: per rep of a half: sample offset of its end_s
    rep_complete: npt.NDArray[np.int64]  #: per rep: offset of the sample that completes it


def _half_script(variant: int) -> Script:
    speed = 0.94 + 0.04 * variant
    s = Script(start_height_m=1.30).pause(1.5).unrack().jiggles(0.012, 1).pause(0.6)
    for i, mcv in enumerate(EXAMPLE_MCV[:7]):
        rom = 0.56 - 0.004 * i
        s.top_rep(rom, rom / (mcv * speed), eccentric_s=1.2 + 0.04 * i, top_pause_s=0.6 + 0.1 * i)
    return s.rerack()


def rack_trace(variant: int, *, capacity: int) -> RackTrace:
    """The loop of athlete ``variant`` (0 .. VARIANTS-1), encoded as the rack's registers."""
    script = _half_script(variant)
    set_end = math.ceil(script.duration_s * RATE_HZ)
    script.pause(HALF / RATE_HZ - script.duration_s + 1.0)
    _, x = script.render(RATE_HZ, noise_m=0.0002, seed=variant + 1)
    half = x[:HALF]
    raw = np.rint(np.concatenate([half, half]) / POSITION_SCALE).astype(np.int16)
    positions = raw.astype(np.float64) * POSITION_SCALE
    rows = CYCLE + capacity  # a read that wraps the loop stays one slice
    records = np.empty((rows, 2), dtype=np.uint16)
    records[:, 0] = np.arange(rows) & 0xFFFF
    records[:, 1] = np.concatenate([raw, raw[:capacity]]).view(np.uint16)
    ends, completes = _completing_samples(positions[:HALF])
    return RackTrace(positions, records.ravel().tolist(), set_end, ends, completes)


def _completing_samples(
    half: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Feed a half to the detector one sample at a time: the sample after which each rep
    is known is the one that completes it."""
    detector = RepDetector(DetectorConfig(RATE_HZ, start=LiftStart.TOP), load_kg=LOAD_KG)
    ends: list[int] = []
    completes: list[int] = []
    for i in range(half.shape[0]):
        for rep in detector.feed(half[i : i + 1], i * PERIOD_S, PERIOD_S):
            ends.append(round(rep.end_s * RATE_HZ))
            completes.append(i)
    return np.array(ends, dtype=np.int64), np.array(completes, dtype=np.int64)


def one_sided_fifo() -> Fifo:
    """The reference rack's FIFO with one position per record (``seq``, ``position``)."""
    reference = load_map("reference-rack").fifo
    assert reference is not None
    return Fifo(
        table=reference.table,
        sequence=reference.sequence,
        address=reference.address,
        capacity=reference.capacity,
        rate_hz=RATE_HZ,
        poll=reference.poll,
        fields=(
            FifoField("seq", 0, Encoding(DataType("uint16"), 1)),
            FifoField(
                "position", 1, Encoding(DataType("int16"), 1, scale=POSITION_SCALE), unit="m"
            ),
        ),
    )


# -- the emulated rack ------------------------------------------------------------------------


class BenchRack(Adapter):
    """A rack emulated at the batch boundary: its FIFO's registers in memory, read by the
    adapter's own ``FifoReader`` whenever the bench's device clock polls it.

    The device wrote sample ``s`` at ``origin + (s - first + 1) / rate``: that is the
    moment a rep's completing sample exists, the start of its rep-to-cue latency.
    """

    def __init__(
        self,
        device_id: str,
        *,
        on_batch: BatchSink,
        on_event: EventSink | None,
        fifo: Fifo,
        trace: RackTrace,
        first_seq: int,
    ) -> None:
        super().__init__(device_id=device_id, on_batch=on_batch, on_event=on_event)
        self.fifo = fifo
        self.trace = trace
        self.reader = FifoReader(fifo)
        self.first_seq = first_seq
        self.origin = 0.0
        self._head = first_seq
        self._width = fifo.record_registers
        self._capacity = fifo.capacity
        self._counter = fifo.sequence.address
        self._fifo_address = fifo.address
        self._capabilities = Capabilities(
            kind=EquipmentKind.RACK,
            model="bench rack (in-process FIFO)",
            channels=frozenset({Channel.POSITION}),
            load=LoadRange(LoadUnit.KG, 0.0, 220.0, 0.5, 1000.0),
            modes=frozenset({ModeKind.STANDARD}),
            cue_display=True,
            sides=1,
        )
        self.samples = 0
        self.polls = 0
        self.lost = 0
        self.cues = 0
        self.pending_due: float | None = None
        self.latencies: list[float] = []

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def __aenter__(self) -> Self:
        self.origin = time.monotonic()
        self._set_link(LinkState.CONNECTED)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._set_link(LinkState.DISCONNECTED)

    async def apply(self, command: Command) -> None:
        if isinstance(command, ShowCue) and command.cue != BLANK:
            self.cues += 1
            due = self.pending_due
            if due is not None:
                self.pending_due = None
                self.latencies.append(time.monotonic() - due)

    # -- the device side --------------------------------------------------------------------

    def head(self, now: float) -> int:
        """Samples written by ``now`` (the FIFO's counter)."""
        return self.first_seq + int((now - self.origin) * RATE_HZ)

    def written_at(self, seq: int) -> float:
        return self.origin + (seq - self.first_seq + 1) * PERIOD_S

    async def _read(self, table: Table, address: int, count: int) -> list[int]:
        head = self._head
        if address == self._counter:
            return [(head >> 16) & 0xFFFF, head & 0xFFFF]
        width = self._width
        slot = (address - self._fifo_address) // width
        first = head - 1 - ((head - 1 - slot) % self._capacity)  # the newest sample there
        row = first % CYCLE
        return self.trace.registers[row * width : row * width + count]

    # -- the adapter side -------------------------------------------------------------------

    async def poll(self, now: float) -> None:
        """One FIFO poll, as ``RackAdapter._poll_fifo`` does it over Modbus."""
        self._head = self.head(now)
        poll = await self.reader.poll(self._read, now=now)
        self.polls += 1
        for jump in poll.jumps:
            self.lost += jump.lost
        chunk = poll.chunk
        if chunk is None:
            return
        values = chunk.values["position"]
        self._deliver(
            SampleBatch(
                self.device_id,
                Channel.POSITION,
                chunk.first_seq * PERIOD_S,
                PERIOD_S,
                values,
                now,
                chunk.first_seq,
            )
        )
        self.samples += values.shape[0]

    def completing_sample(self, end_s: float) -> int | None:
        """The sequence number of the sample that completed the rep ending at ``end_s``."""
        end = round(end_s * RATE_HZ)
        offset = end % HALF
        ends = self.trace.rep_end
        if ends.shape[0] == 0:
            return None
        j = int(np.argmin(np.abs(ends - offset)))
        if abs(int(ends[j]) - offset) > 50:
            return None
        return end - offset + int(self.trace.rep_complete[j])


# -- the site under test --------------------------------------------------------------------


def site_toml(stations: int, *, mqtt_port: int | None, telemetry_hz: float) -> str:
    text = '[site]\nname = "pipeline bench"\nid = "bench"\n'
    for i in range(stations):
        text += (
            f'[[stations]]\nid = "s{i + 1:04d}"\n'
            '[stations.devices.rack]\nhost = "127.0.0.1"\nmap = "reference-rack"\n'
        )
    if mqtt_port is None:
        text += "[mqtt]\nenabled = false\n"
    else:
        text += f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\ntelemetry_hz = {telemetry_hz}\n'
    return text + "[panel]\nenabled = false\n"


@dataclass(slots=True)
class _Active:
    index: int = 0
    session_id: str = ""
    athlete_id: str = ""


class Coach:
    """What the session runner does at a set's start and end, for every station at once
    (one task, so the bench adds no task per station)."""

    def __init__(self, gym: Gym, racks: dict[str, BenchRack]) -> None:
        self.gym = gym
        self.racks = racks
        self.sets: dict[str, _Active] = {}
        self.sets_done = 0
        self.faults = 0
        self._faulted: set[str] = set()

    def check_in(self) -> None:
        for sid, rt in self.gym.runtimes.items():
            athlete = f"bench-{sid}"
            session = f"ses-{sid}"
            rt.station.check_in(athlete, session)
            self.sets[sid] = _Active(0, session, athlete)
            rt.processor.on_rep = self._hook(rt, self.racks[sid])

    @staticmethod
    def _hook(rt: StationRuntime, rack: BenchRack) -> Any:
        supervisor = rt.supervisor

        def on_rep(rep: CompletedRep) -> None:
            before = supervisor.reps
            supervisor.on_rep(rep)
            if supervisor.reps > before:  # counted: its cue is on its way
                seq = rack.completing_sample(rep.metrics.end_s)
                rack.pending_due = rack.written_at(seq) if seq is not None else None

        return on_rep

    async def run(self, every_s: float = 0.05) -> None:
        while True:
            now = time.monotonic()
            for sid, rt in self.gym.runtimes.items():
                self._step(sid, rt, now)
            await asyncio.sleep(every_s)

    def _step(self, sid: str, rt: StationRuntime, now: float) -> None:
        rack = self.racks[sid]
        offset = rack.head(now) % HALF
        state = rt.state
        if state is StationState.FAULT:
            if sid not in self._faulted:
                self._faulted.add(sid)
                self.faults += 1
        else:
            self._faulted.discard(sid)
        supervisor = rt.supervisor
        if not supervisor.active:
            if offset >= rack.trace.set_end - ARM_BEFORE_END:
                return  # too late for this half's set: the next one
            if state in (StationState.CHECKED_IN, StationState.RESTING):
                rt.station.state.load_ready()
                state = rt.state
            if state is not StationState.SET_READY:
                return
            info = self.sets[sid]
            plan = SetPlan(
                set_id=f"{sid}-set-{info.index}",
                session_id=info.session_id,
                athlete_id=info.athlete_id,
                exercise="back_squat",
                set_index=info.index,
                load=LOAD_KG,
                velocity_loss_stop_pct=VELOCITY_LOSS_STOP_PCT,
                mvt_ms=0.3,
            )
            info.index += 1
            supervisor.start(plan)
            rt.processor.arm(
                set_id=plan.set_id,
                exercise=plan.exercise,
                load_kg=LOAD_KG,
                rep_source=rt.rep_source,
            )
            rt.station.begin_set(plan.set_id)
        elif offset > rack.trace.set_end + 500 or state is not StationState.SET_ACTIVE:
            plan_ = supervisor.plan
            assert plan_ is not None
            result = supervisor.finish(SetStop.ATHLETE, load=LOAD_KG)
            for trace in rt.processor.disarm():
                self.gym.store.writer.record_trace(
                    TraceRecord(
                        device_id=trace.device_id,
                        channel=trace.channel,
                        t0=trace.t0,
                        period=trace.period,
                        values=trace.view(),
                        athlete_id=plan_.athlete_id,
                        session_id=plan_.session_id,
                        set_id=plan_.set_id,
                    )
                )
            self.sets_done += 1
            if rt.state is StationState.SET_ACTIVE:
                rt.station.end_set(f"set ended ({result.event.stop.value}, {result.reps} reps)")


async def _devices(racks: Sequence[BenchRack], poll_s: float, tick_s: float = 0.001) -> None:
    """The devices' side of every FIFO poll: each rack polled every ``poll_s``, the racks
    spread evenly over the interval (real adapters start with a random phase)."""
    slots = max(1, round(poll_s / tick_s))
    groups = [list(racks[i::slots]) for i in range(slots)]
    start = time.monotonic()
    k = 0
    while True:
        now = time.monotonic()
        due = int((now - start) / tick_s)
        k = max(k, due - slots + 1)  # more than a round behind: one poll each catches up
        while k <= due:
            for rack in groups[k % slots]:
                await rack.poll(now)
            k += 1
        await asyncio.sleep(max(0.0, start + k * tick_s - time.monotonic()))


async def _lag_monitor(lags: list[float], every_s: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(every_s)
        lags.append(loop.time() - asked - every_s)


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values), q))


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000.0, 3)


def _run_queue_wait_s() -> float:
    """Seconds the loop's thread was ready to run but waited for a CPU (other processes)."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return math.nan


def _rss_peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


@dataclass(slots=True)
class Run:
    """The figures of one N (see the module docstring)."""

    stations: int
    duration_s: float
    poll_ms: float
    offered_samples_per_s: float
    processed_samples_per_s: float
    every_sample_processed: bool
    samples_lost: int
    backlog_samples: int
    cpu_s_per_s: float
    cpu_us_per_station_s: float
    samples_per_cpu_s: float
    rep_to_cue_p50_ms: float | None
    rep_to_cue_p99_ms: float | None
    rep_to_cue_max_ms: float | None
    reps: int
    cues: int
    sets: int
    loop_lag_p99_ms: float | None
    loop_lag_max_ms: float | None
    peak_rss_mb: float
    station_faults: int
    mqtt_published: int | None  #: reliable events (reps, cues, sets, states...) acknowledged
    mqtt: str
    mqtt_connected: bool | None
    mqtt_backlog: int | None  #: events waiting in the bridge's outbox at the end
    #: per second, how long the loop's thread was runnable but waiting for a CPU that
    #: other processes held (the machine is shared): lag and latency include it
    cpu_wait_s_per_s: float | None
    ratio_vs_baseline: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def measure(
    stations: int,
    *,
    duration_s: float = 10.0,
    warmup_s: float = 3.0,
    poll_ms: float = 10.0,
    mqtt_port: int | None = None,
    mqtt_name: str = "none",
    telemetry_hz: float = 2.0,
    seed: int = 1,
) -> Run:
    """One site of ``stations`` emulated racks, measured for ``duration_s`` after a warm-up."""
    if stations < 1:
        raise InvalidInputError("must be at least 1", where="--stations")
    fifo = one_sided_fifo()
    traces = [rack_trace(v, capacity=fifo.capacity) for v in range(VARIANTS)]
    rng = random.Random(seed)
    racks: dict[str, BenchRack] = {}

    def make(
        role: Any, device: Any, device_id: str, on_batch: BatchSink, on_event: EventSink
    ) -> Adapter:
        station_id = device_id.removesuffix("-rack")
        rack = BenchRack(
            device_id,
            on_batch=on_batch,
            on_event=on_event,
            fifo=fifo,
            trace=traces[len(racks) % VARIANTS],
            first_seq=rng.randrange(1 << 20, 1 << 30),
        )
        racks[station_id] = rack
        return rack

    with tempfile.TemporaryDirectory(prefix="gymctl-bench-") as tmp:
        config = parse_config(
            site_toml(stations, mqtt_port=mqtt_port, telemetry_hz=telemetry_hz),
            base_dir=Path(tmp),
        )
        gym = Gym(config, make_adapter=make, options=GymOptions(db_path=Path(tmp) / "bench.db"))
        async with gym:
            coach = Coach(gym, racks)
            coach.check_in()
            lags: list[float] = []
            ordered = list(racks.values())
            async with _running(
                ("bench-devices", _devices(ordered, poll_ms / 1000.0)),
                ("bench-coach", coach.run()),
                ("bench-loop-lag", _lag_monitor(lags)),
            ):
                await asyncio.sleep(warmup_s)
                for rack in ordered:
                    rack.latencies.clear()
                lags.clear()
                cues0 = sum(r.cues for r in ordered)
                sets0 = coach.sets_done
                samples0 = sum(r.samples for r in ordered)
                lost0 = sum(r.lost for r in ordered)
                published0 = gym.bridge.published if gym.bridge is not None else 0
                wall0, cpu0 = time.monotonic(), time.process_time()
                waited0 = _run_queue_wait_s()
                reps_counted = _RepCounter(gym)
                await asyncio.sleep(duration_s)
                wall1, cpu1 = time.monotonic(), time.process_time()
                waited = _run_queue_wait_s() - waited0
                reps_counted.stop()
                samples = sum(r.samples for r in ordered) - samples0
                lost = sum(r.lost for r in ordered) - lost0
                backlog = sum(r.head(wall1) - (r.reader.next_seq or r.head(wall1)) for r in ordered)
                latencies = [v for r in ordered for v in r.latencies]
                cues = sum(r.cues for r in ordered) - cues0
                bridge = gym.bridge.stats() if gym.bridge is not None else None
                published = bridge.published - published0 if bridge is not None else None
                sets = coach.sets_done - sets0
    elapsed = wall1 - wall0
    cpu = (cpu1 - cpu0) / elapsed
    offered = stations * RATE_HZ
    processed = samples / elapsed
    return Run(
        stations=stations,
        duration_s=round(elapsed, 3),
        poll_ms=poll_ms,
        offered_samples_per_s=offered,
        processed_samples_per_s=round(processed, 1),
        every_sample_processed=lost == 0 and backlog <= stations * (poll_ms + 2.0) * 2,
        samples_lost=lost,
        backlog_samples=backlog,
        cpu_s_per_s=round(cpu, 4),
        cpu_us_per_station_s=round(cpu / stations * 1e6, 2),
        samples_per_cpu_s=round(processed / cpu, 1) if cpu > 0 else math.inf,
        rep_to_cue_p50_ms=_ms(_percentile(latencies, 50)),
        rep_to_cue_p99_ms=_ms(_percentile(latencies, 99)),
        rep_to_cue_max_ms=_ms(max(latencies) if latencies else None),
        reps=reps_counted.reps,
        cues=cues,
        sets=sets,
        loop_lag_p99_ms=_ms(_percentile(lags, 99)),
        loop_lag_max_ms=_ms(max(lags) if lags else None),
        peak_rss_mb=_rss_peak_mb(),
        station_faults=coach.faults,
        mqtt_published=published,
        mqtt=mqtt_name,
        mqtt_connected=bridge.connected if bridge is not None else None,
        mqtt_backlog=bridge.backlog if bridge is not None else None,
        cpu_wait_s_per_s=round(waited / elapsed, 4) if math.isfinite(waited) else None,
        extra={"latency_samples": len(latencies)},
    )


class _RepCounter:
    """Reps the supervisors counted in the window (sets start and end inside it)."""

    def __init__(self, gym: Gym) -> None:
        self._runtimes = list(gym.runtimes.values())
        self._before = {id(rt): (rt.supervisor.plan, rt.supervisor.reps) for rt in self._runtimes}
        self.reps = 0

    def stop(self) -> None:
        total = 0
        for rt in self._runtimes:
            plan0, reps0 = self._before[id(rt)]
            plan = rt.supervisor.plan
            now = rt.supervisor.reps
            total += now - reps0 if plan is plan0 and plan is not None else now
        self.reps = total


@contextlib.asynccontextmanager
async def _running(*jobs: tuple[str, Any]) -> AsyncIterator[None]:
    """Named background tasks for the length of the block, cancelled at its end."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(coro, name=name) for name, coro in jobs]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()


# -- the naive baseline -------------------------------------------------------------------------


def naive_baseline(samples: int = 20_000, repeat: int = 3) -> dict[str, Any]:
    """Per-sample Python: decode each record's registers, feed the reference detector one
    sample at a time (what the controller would do without batches and kernels). The best
    of ``repeat`` rounds: the figure least disturbed by other processes."""
    fifo = one_sided_fifo()
    trace = rack_trace(0, capacity=fifo.capacity)
    registers = trace.registers
    best = math.inf
    reps = 0
    for _ in range(repeat):
        detector = ReferenceRepDetector(
            DetectorConfig(RATE_HZ, start=LiftStart.TOP), load_kg=LOAD_KG
        )
        reps = 0
        start = time.process_time()
        for i in range(samples):
            raw = registers[2 * i + 1]
            x = (raw - 65536 if raw >= 32768 else raw) * POSITION_SCALE
            reps += len(detector.feed((x,), i * PERIOD_S, PERIOD_S))
        best = min(best, time.process_time() - start)
    return {
        "what": "per-record Python decode, reference rep detector fed one sample at a time",
        "samples": samples,
        "reps": reps,
        "samples_per_cpu_s": round(samples / best, 1),
    }


# -- the sweep ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model or platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


async def _child(stations: int, args: list[str]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.pipeline",
        "--child",
        "--stations",
        str(stations),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(
            f"the run of {stations} stations failed ({process.returncode}): "
            + err.decode(errors="replace")[-2000:]
        )
    data: dict[str, Any] = json.loads(out)
    return data


async def sweep(
    stations: Sequence[int] = DEFAULT_STATIONS,
    *,
    duration_s: float = 10.0,
    warmup_s: float = 3.0,
    poll_ms: float = 10.0,
    mqtt: bool = True,
    telemetry_hz: float = 2.0,
    baseline_samples: int = 20_000,
) -> dict[str, Any]:
    """Every N in a child process, one broker for all; the baseline in this process."""
    for n in stations:
        if n < 1:
            raise InvalidInputError(f"must be at least 1, got {n}", where="--stations")
    if duration_s <= 0 or warmup_s < 0 or poll_ms <= 0:
        raise InvalidInputError("must be positive", where="--duration/--warmup/--poll-ms")
    if not 0.0 <= telemetry_hz <= 50.0:
        raise InvalidInputError("must be 0..50 (the site config's range)", where="--telemetry-hz")
    load_before = [round(v, 2) for v in os.getloadavg()]
    baseline = naive_baseline(baseline_samples)
    runs: list[dict[str, Any]] = []
    async with _maybe_broker(mqtt) as broker:
        name, port = broker
        common = [
            "--duration",
            str(duration_s),
            "--warmup",
            str(warmup_s),
            "--poll-ms",
            str(poll_ms),
            "--telemetry-hz",
            str(telemetry_hz),
            "--mqtt-name",
            name,
        ]
        if port is not None:
            common += ["--mqtt-port", str(port)]
        for n in stations:
            run = await _child(n, common)
            per_cpu = run["samples_per_cpu_s"]
            run["ratio_vs_baseline"] = round(per_cpu / baseline["samples_per_cpu_s"], 2)
            runs.append(run)
    info = machine()
    info["load_average"] = {"before": load_before, "after": info["load_average"]}
    return {
        "benchmark": "pipeline",
        "machine": info,
        "settings": {
            "rate_hz": RATE_HZ,
            "poll_ms": poll_ms,
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "telemetry_hz": telemetry_hz,
            "mqtt": runs[0]["mqtt"] if runs else ("none" if not mqtt else "?"),
        },
        "baseline": baseline,
        "runs": runs,
    }


@contextlib.asynccontextmanager
async def _maybe_broker(mqtt: bool) -> AsyncIterator[tuple[str, int | None]]:
    if not mqtt:
        yield "none", None
        return
    from benchmarks.runtime import _broker  # Mosquitto when installed, else embedded amqtt

    async with _broker() as (name, port):
        yield name, port


COLUMNS = (
    ("N", "stations"),
    ("offered/s", "offered_samples_per_s"),
    ("processed/s", "processed_samples_per_s"),
    ("all", "every_sample_processed"),
    ("cpu s/s", "cpu_s_per_s"),
    ("us/station/s", "cpu_us_per_station_s"),
    ("x baseline", "ratio_vs_baseline"),
    ("cue p50", "rep_to_cue_p50_ms"),
    ("cue p99", "rep_to_cue_p99_ms"),
    ("cue max", "rep_to_cue_max_ms"),
    ("reps", "reps"),
    ("lag p99", "loop_lag_p99_ms"),
    ("rss MB", "peak_rss_mb"),
    ("faults", "station_faults"),
    ("cpu wait", "cpu_wait_s_per_s"),
)


def print_report(data: dict[str, Any]) -> None:
    settings = data["settings"]
    print(
        f"pipeline: 1 kHz racks, FIFO polled every {settings['poll_ms']:g} ms, "
        f"{settings['duration_s']:g} s per N after {settings['warmup_s']:g} s warm-up, "
        f"MQTT: {settings['mqtt']}"
    )
    rows = [[_cell(run[key]) for _, key in COLUMNS] for run in data["runs"]]
    widths = [
        max(len(title), *(len(row[i]) for row in rows)) for i, (title, _) in enumerate(COLUMNS)
    ]
    print("  ".join(title.rjust(w) for (title, _), w in zip(COLUMNS, widths, strict=True)))
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    base = data["baseline"]
    print(
        f"naive baseline: {base['samples_per_cpu_s']:,.0f} samples per CPU-second ({base['what']})"
    )
    print("latencies in ms (rep-to-cue: device wrote the completing sample -> cue to the rack)")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--stations",
        type=int,
        nargs="+",
        default=list(DEFAULT_STATIONS),
        metavar="N",
        help="station counts of the sweep (default 10 100 500 1000 2000)",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds per N (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds before measuring (default 3)"
    )
    parser.add_argument(
        "--poll-ms", type=float, default=10.0, help="FIFO poll interval of each rack (default 10)"
    )
    parser.add_argument(
        "--telemetry-hz",
        type=float,
        default=2.0,
        help="MQTT telemetry per station and channel per second (default 2, the config's)",
    )
    parser.add_argument(
        "--no-mqtt", action="store_true", help="no broker, no MQTT bridge (the bridge is off)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(
        argparse.ArgumentParser(
            prog="python -m benchmarks.pipeline", description=__doc__.split("\n\n")[0]
        )
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mqtt-port", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mqtt-name", default="none", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run = control_loop.run(
            measure(
                args.stations[0],
                duration_s=args.duration,
                warmup_s=args.warmup,
                poll_ms=args.poll_ms,
                mqtt_port=args.mqtt_port,
                mqtt_name=args.mqtt_name if args.mqtt_port is not None else "none",
                telemetry_hz=args.telemetry_hz,
            )
        )
        print(json.dumps(asdict(run)))
        return 0
    data = asyncio.run(
        sweep(
            args.stations,
            duration_s=args.duration,
            warmup_s=args.warmup,
            poll_ms=args.poll_ms,
            mqtt=not args.no_mqtt,
            telemetry_hz=args.telemetry_hz,
        )
    )
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print_report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
