"""The station pipeline over real transports: what sockets, pymodbus and bumble add.

The same site as :mod:`benchmarks.pipeline` (``Gym``: store, bus, MQTT bridge, stations
with drive, cues, stream processor and set supervisor), but its equipment is reached the
way a real site reaches it:

* ``racks`` reference racks (two-sided, 1 kHz FIFO of four channels) served by
  ``RackEmulator`` over Modbus TCP on 127.0.0.1, in a child process (so the emulators'
  CPU is not the controller's), read by the real ``RackAdapter`` at the map's cadence
  (FIFO every 20 ms); their athletes lift sets of six reps with 4 s rests;
* ``bands`` sensorised bands (IMU and tension at 100 Hz) as bumble peripherals on a
  ``VirtualAir``, read by the real ``BandAdapter`` through unmodified bleak code. bumble's
  virtual link is in-process, so these emulators run in the controller's process and
  their CPU is counted with it (the figure is an upper bound of the controller's cost);
* MQTT to a Mosquitto started for the run (the embedded amqtt broker when Mosquitto is
  not installed).

Every station is in one long set (no stop rule) so that every rep gets a cue. The figures:
samples per second of each kind against what the devices make, the controller's CPU
seconds per second (and the rack emulators'), ``arrival_to_cue_*_ms`` (from the arrival
of the batch that completed a rep, ``SampleBatch.received``, to the cue handed to the
adapter: the controller's part of rep-to-cue; the device's FIFO age is not known across
the socket), event-loop lag p99 and peak memory.

Run: ``python -m benchmarks.pipeline_sockets [--racks 50] [--bands 20] [--json]`` or
``gymctl bench pipeline --sockets``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.modbus import EmulatorProcess
from benchmarks.pipeline import _lag_monitor, _maybe_broker, _ms, _percentile, _running, machine
from controller.adapters import make_adapter_factory
from controller.config import parse_config
from controller.cues import BLANK
from controller.events import SetStop
from controller.gym import Gym, GymOptions
from controller.pipeline import CompletedRep
from controller.set_supervisor import SetPlan
from controller.states import StationState
from controller.station_runtime import StationRuntime
from equipment_adapters.base import Command, ShowCue
from equipment_adapters.batch import SampleBatch
from equipment_adapters.ble import VirtualAir
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from equipment_adapters.emulators.band import BandEmulator
from equipment_adapters.emulators.rack import RackEmulator
from equipment_adapters.modbus.rack import RackOptions
from kernels.errors import InvalidInputError

RACK_RATE_HZ = 1000.0
BAND_RATE_HZ = 100.0
REST_S = 4.0


# -- the rack emulators' process ----------------------------------------------------------


async def _serve(count: int) -> None:
    """``count`` racks whose athletes lift sets of six with rests, until SIGTERM."""
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        racks = [
            await stack.enter_async_context(
                RackEmulator(seed=i, athlete=DEMO_ATHLETES[i % len(DEMO_ATHLETES)])
            )
            for i in range(count)
        ]
        print(json.dumps({"ports": [rack.port for rack in racks]}), flush=True)
        async with asyncio.TaskGroup() as group:
            for i, rack in enumerate(racks):
                group.create_task(_lift(rack, i * 0.37), name=f"athlete:{rack.port}")
            await stop.wait()
            raise _StopError


class _StopError(Exception):
    """Ends the athletes' task group when the process is told to stop."""


async def _lift(rack: RackEmulator, delay_s: float) -> None:
    await asyncio.sleep(delay_s % REST_S)
    await rack.run_sets("back_squat", sets=1_000_000, reps=6, rest_s=REST_S)


class RackProcess(EmulatorProcess):
    """The racks of :func:`_serve` in a child process."""

    async def __aenter__(self) -> RackProcess:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.pipeline_sockets",
            "--serve",
            str(self.count),
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._process.stdout is not None
        async with asyncio.timeout(120):
            line = await self._process.stdout.readline()
        if not line:
            await self.__aexit__()
            raise RuntimeError("the rack emulators' process ended before serving")
        self.ports = json.loads(line)["ports"]
        return self


# -- the site -----------------------------------------------------------------------------


def site_toml(ports: list[int], bands: list[str], *, mqtt_port: int | None) -> str:
    text = '[site]\nname = "pipeline bench, sockets"\nid = "bench"\n'
    for i, port in enumerate(ports):
        text += (
            f'[[stations]]\nid = "rack-{i + 1:03d}"\n'
            f'[stations.devices.rack]\nhost = "127.0.0.1"\nport = {port}\n'
            'map = "reference-rack"\n'
            # the emulators share the machine's two cores with the controller
            "[stations.safety]\nstale_after_ms = 1000\n"
        )
    for i, name in enumerate(bands):
        text += f'[[stations]]\nid = "band-{i + 1:03d}"\n[stations.devices.band]\nname = "{name}"\n'
    if mqtt_port is None:
        text += "[mqtt]\nenabled = false\n"
    else:
        text += f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\ntelemetry_hz = 2.0\n'
    return text + "[panel]\nenabled = false\n"


class _Probe:
    """Counts a station's samples and times its cues (hooks on the station's own seams:
    its batch sink, its processor's rep sink, its adapters' ``apply``)."""

    def __init__(self, rt: StationRuntime) -> None:
        self.samples = 0
        self.last_received = 0.0
        self.pending: float | None = None
        self.latencies: list[float] = []
        self.reps = 0
        sink = rt.station.batch_sink
        assert sink is not None
        supervisor = rt.supervisor

        def count(batch: SampleBatch) -> None:
            if batch.channel.value in ("position_right", "imu"):  # one per record
                self.samples += len(batch)
            self.last_received = batch.received
            sink(batch)

        def on_rep(rep: CompletedRep) -> None:
            before = supervisor.reps
            supervisor.on_rep(rep)
            if supervisor.reps > before:
                self.reps += 1
                self.pending = self.last_received

        rt.station.batch_sink = count
        rt.processor.on_rep = on_rep
        for adapter in rt.station.adapters.values():
            # a timing hook on the instance, in front of the adapter's own apply
            adapter.apply = self._timed(adapter.apply)  # type: ignore[method-assign,assignment]

    def _timed(
        self, apply: Callable[[Command], Awaitable[None]]
    ) -> Callable[[Command], Awaitable[None]]:
        async def timed(command: Command) -> None:
            if isinstance(command, ShowCue) and command.cue != BLANK and self.pending is not None:
                self.latencies.append(time.monotonic() - self.pending)
                self.pending = None
            await apply(command)

        return timed


def _start_set(rt: StationRuntime, index: int) -> None:
    state = rt.state
    if state in (StationState.CHECKED_IN, StationState.RESTING):
        rt.station.state.load_ready()
    plan = SetPlan(
        set_id=f"{rt.id}-long-set-{index}",
        session_id=f"ses-{rt.id}",
        athlete_id=f"bench-{rt.id}",
        exercise="back_squat",
        set_index=index,
        load=40.0,
    )
    rt.supervisor.start(plan)
    rt.processor.arm(
        set_id=plan.set_id, exercise=plan.exercise, load_kg=40.0, rep_source=rt.rep_source
    )
    rt.station.begin_set(plan.set_id)


async def _keep_training(gym: Gym, bands: list[BandEmulator]) -> None:
    """Stations back from a fault get a new set; bands' athletes lift every few seconds."""
    sets = 1
    while True:
        for i, band in enumerate(bands):
            if band.samples_sent and i % 3 == sets % 3:
                band.perform_set("back_squat", 20.0, 4)
        for rt in gym.runtimes.values():
            if rt.state in (StationState.CHECKED_IN, StationState.RESTING):
                if rt.supervisor.active:
                    rt.supervisor.finish(rt.supervisor.stop or SetStop.FAULT)
                    rt.processor.disarm()
                _start_set(rt, sets)
        sets += 1
        await asyncio.sleep(REST_S)


@dataclass(slots=True)
class SocketRun:
    racks: int
    bands: int
    bands_connected: int
    duration_s: float
    offered_samples_per_s: float
    processed_samples_per_s: float
    rack_samples_per_s: float
    band_samples_per_s: float
    cpu_s_per_s: float
    emulators_cpu_s_per_s: float | None
    arrival_to_cue_p50_ms: float | None
    arrival_to_cue_p99_ms: float | None
    arrival_to_cue_max_ms: float | None
    reps: int
    loop_lag_p99_ms: float | None
    peak_rss_mb: float
    station_faults: int
    mqtt: str
    mqtt_published: int | None


async def measure(
    *,
    racks: int = 50,
    bands: int = 20,
    duration_s: float = 10.0,
    warmup_s: float = 3.0,
    connect_timeout_s: float = 60.0,
    mqtt_port: int | None = None,
    mqtt_name: str = "none",
) -> SocketRun:
    if racks < 0 or bands < 0 or racks + bands == 0:
        raise InvalidInputError("need at least one rack or band", where="--racks/--bands")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    async with contextlib.AsyncExitStack() as stack:
        process = await stack.enter_async_context(RackProcess(racks)) if racks else None
        ports = process.ports if process is not None else []
        air = await stack.enter_async_context(VirtualAir()) if bands else None
        band_emulators: list[BandEmulator] = []
        for i in range(bands):
            assert air is not None
            band = BandEmulator(air, name=f"Bench Band {i + 1:03d}", seed=i)
            band_emulators.append(await stack.enter_async_context(band))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="gymctl-bench-"))
        config = parse_config(
            site_toml(ports, [b.name for b in band_emulators], mqtt_port=mqtt_port),
            base_dir=Path(tmp),
        )
        options = RackOptions(backoff_max=1.0, watchdog_timeout=2.0)
        factory = (
            make_adapter_factory(ble_backend=air.backend, rack_options=options)
            if air is not None
            else make_adapter_factory(rack_options=options)
        )
        gym = await stack.enter_async_context(
            Gym(config, make_adapter=factory, options=GymOptions(db_path=Path(tmp) / "b.db"))
        )
        async with asyncio.timeout(connect_timeout_s):
            while any(  # noqa: ASYNC110 - polling the stations' states
                rt.state is StationState.OFFLINE for rt in gym.runtimes.values()
            ):
                await asyncio.sleep(0.1)
        probes = []
        for rt in gym.runtimes.values():
            rt.station.check_in(f"bench-{rt.id}", f"ses-{rt.id}")
            probes.append(_Probe(rt))
        lags: list[float] = []
        faults = 0
        async with _running(
            ("bench-training", _keep_training(gym, band_emulators)),
            ("bench-loop-lag", _lag_monitor(lags)),
        ):
            await asyncio.sleep(warmup_s)
            lags.clear()
            for probe in probes:
                probe.latencies.clear()
            rack_probes = probes[:racks]
            band_probes = probes[racks:]
            r0 = sum(p.samples for p in rack_probes)
            b0 = sum(p.samples for p in band_probes)
            reps0 = sum(p.reps for p in probes)
            published0 = gym.bridge.published if gym.bridge is not None else 0
            emu0 = process.cpu_seconds() if process is not None else None
            wall0, cpu0 = time.monotonic(), time.process_time()
            seen_fault: set[str] = set()
            end = wall0 + duration_s
            while time.monotonic() < end:
                for rt in gym.runtimes.values():
                    if rt.state is StationState.FAULT and rt.id not in seen_fault:
                        seen_fault.add(rt.id)
                        faults += 1
                    elif rt.state is not StationState.FAULT:
                        seen_fault.discard(rt.id)
                await asyncio.sleep(0.1)
            wall1, cpu1 = time.monotonic(), time.process_time()
            emu1 = process.cpu_seconds() if process is not None else None
            rack_samples = sum(p.samples for p in rack_probes) - r0
            band_samples = sum(p.samples for p in band_probes) - b0
            reps = sum(p.reps for p in probes) - reps0
            published = gym.bridge.published - published0 if gym.bridge is not None else None
            latencies = [v for p in probes for v in p.latencies]
            connected = sum(1 for p in band_probes if p.samples)
    elapsed = wall1 - wall0
    offered = racks * RACK_RATE_HZ + bands * BAND_RATE_HZ
    return SocketRun(
        racks=racks,
        bands=bands,
        bands_connected=connected,
        duration_s=round(elapsed, 3),
        offered_samples_per_s=offered,
        processed_samples_per_s=round((rack_samples + band_samples) / elapsed, 1),
        rack_samples_per_s=round(rack_samples / elapsed, 1),
        band_samples_per_s=round(band_samples / elapsed, 1),
        cpu_s_per_s=round((cpu1 - cpu0) / elapsed, 4),
        emulators_cpu_s_per_s=(
            round((emu1 - emu0) / elapsed, 4) if emu0 is not None and emu1 is not None else None
        ),
        arrival_to_cue_p50_ms=_ms(_percentile(latencies, 50)),
        arrival_to_cue_p99_ms=_ms(_percentile(latencies, 99)),
        arrival_to_cue_max_ms=_ms(max(latencies) if latencies else None),
        reps=reps,
        loop_lag_p99_ms=_ms(_percentile(lags, 99)),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        station_faults=faults,
        mqtt=mqtt_name,
        mqtt_published=published,
    )


async def run(
    *, racks: int = 50, bands: int = 20, duration_s: float = 10.0, mqtt: bool = True
) -> dict[str, Any]:
    async with _maybe_broker(mqtt) as (name, port):
        result = await measure(
            racks=racks, bands=bands, duration_s=duration_s, mqtt_port=port, mqtt_name=name
        )
    return {"benchmark": "pipeline-sockets", "machine": machine(), "run": asdict(result)}


def print_report(data: dict[str, Any]) -> None:
    run_ = data["run"]
    width = max(len(key) for key in run_)
    for key, value in run_.items():
        print(f"{key:{width}}  {'-' if value is None else value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline_sockets", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--racks", type=int, default=50)
    parser.add_argument("--bands", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--no-mqtt", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        with contextlib.suppress(_StopError, ExceptionGroup):
            asyncio.run(_serve(args.serve))
        return 0
    data = asyncio.run(
        run(racks=args.racks, bands=args.bands, duration_s=args.duration, mqtt=not args.no_mqtt)
    )
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print_report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
