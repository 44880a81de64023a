"""The panel under load while the stations train: API latency, live frames, station lag.

One process runs the site as ``gymctl run`` does (``controller.gym.Gym``: the store on disk,
the bus, every station with its drive, envelope, cues, stream processor and set supervisor,
the session runner, and the panel served by uvicorn on the site's own event loop, or with
``panel_process`` by a process of its own as ``panel.own_process`` does; ``realtime``
schedules the loop's thread as ``site.realtime_priority`` does). Its
``stations`` racks are :class:`benchmarks.paced_rack.PacedRack` adapters: 1 kHz in real
time at the batch boundary, athletes from the athlete model lifting the demo's plans
(``controller.demo``: seeded history, velocity zones, velocity-loss stops, load
confirmations). The check-ins are spread over the first seconds, and a station whose
session is done starts the next one, so every station keeps training.

After a warm-up, two windows of ``seconds`` each, one right after the other:

* **unloaded**: the panel is up but nobody uses it;
* **loaded**: a load generator in a separate process (``benchmarks.panel_load_client``, so
  it never shares the controller's event loop) holds ``viewers`` live feeds open (half the
  floor, half a station; half with an API token, half with a web session) and sends JSON
  API requests at ``rate`` a second from ``clients`` clients.

With ``rounds`` above one the pair is repeated (unloaded, loaded, unloaded, loaded...) and
each station's samples of each kind are pooled over the rounds: a station completes about
one rep every four seconds, so its own p99 is only a p99 (not its slowest rep) from about
a hundred reps, some 400 s of each kind; alternating also spreads any drift of the
machine's other work over both kinds.

Per station, in both windows (:class:`benchmarks.paced_rack.StationProbe`): the **loop
lag** (how late each 50 ms tick of the station's loop wakes) and the **rep-to-cue latency**
(from the arrival of the batch that completes a rep to its cue reaching the rack's
display). The figures are the loaded p99 against the unloaded p99 of the same run: per
station (the goal: no station worse than ``GOAL_RATIO`` times its unloaded value) and over
all stations pooled. The load generator reports the API's p50/p99 latency, requests/s and
status codes, and the frames per second each viewer received.

Run: ``gymctl bench panel-load [--stations 100] [--viewers 50] [--panel-process]
[--realtime 10] [--json]`` or ``python -m benchmarks.panel_load``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlite_utils import Database

from benchmarks.paced_rack import PacedRack, StationProbe
from benchmarks.pipeline import _run_queue_wait_s
from controller import control_loop
from controller.config import BleDeviceConfig, DeviceRole, RackConfig, parse_config
from controller.cues import CueKind
from controller.demo.run import DemoOptions, timing
from controller.demo.seed import DEMO_USER, demo_login, seed
from controller.demo.world import demo_athletes
from controller.events import CommandSource, CueEvent, StationStateChanged
from controller.gil import prompt_gil_handover
from controller.gym import Gym, GymOptions
from controller.heap import settled_heap
from controller.panel import serve_panel
from controller.states import StationState
from controller.station_runtime import StationRuntime
from controller.store import people
from controller.timeslice import loop_scheduling
from equipment_adapters.base import Adapter, BatchSink, EventSink
from equipment_adapters.batch import SampleBatch
from equipment_adapters.emulators.athlete import SimulatedAthlete
from kernels.errors import GymctlError, InvalidInputError
from web_ui import PanelSettings
from web_ui.auth import new_token

log = logging.getLogger(__name__)

GOAL_RATIO = 2.0
DEFAULT_FEED_HZ = PanelSettings().feed_hz
TICK_S = 0.05  #: the racks' batch period (1 kHz, 50 samples)
#: the next session starts this long after one is done (the athlete checks out and in)
ROTATE_AFTER_S = 1.0
CLIENT_READY_TIMEOUT_S = 120.0


# -- figures -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return ordered[k]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000.0, 3)


def _ratio(loaded: float | None, unloaded: float | None) -> float | None:
    if loaded is None or unloaded is None or unloaded <= 0.0:
        return None
    return round(loaded / unloaded, 3)


@dataclass(frozen=True, slots=True)
class Window:
    """Every station's samples of one kind of window (over all rounds), pooled."""

    seconds: float  #: of all the rounds' windows of this kind
    loop_lag_samples: int  #: ticks that fired (a loop that is behind skips ticks)
    ticks_expected: int  #: ticks the stations' 50 ms schedules hold in the window
    loop_lag_p50_ms: float | None
    loop_lag_p99_ms: float | None
    loop_lag_max_ms: float | None
    reps: int  #: reps whose cue reached the display in the window
    rep_to_cue_p50_ms: float | None
    rep_to_cue_p99_ms: float | None
    rep_to_cue_max_ms: float | None
    cpu_share: float  #: this process's CPU time over the window's wall time (1.0 = one core)
    #: the share of the window the loop's thread was ready to run but waited for a CPU that
    #: other processes held (the machine is shared): lag that is not the controller's own
    cpu_wait: float | None = None
    #: the panel's own process's CPU (cores), when it has one (``--panel-process``)
    panel_cpu_share: float | None = None


@dataclass(frozen=True, slots=True)
class StationFigures:
    station: str
    loop_lag_p99_unloaded_ms: float | None
    loop_lag_p99_loaded_ms: float | None
    loop_lag_ratio: float | None
    reps_unloaded: int
    reps_loaded: int
    rep_to_cue_p99_unloaded_ms: float | None
    rep_to_cue_p99_loaded_ms: float | None
    rep_to_cue_ratio: float | None


@dataclass(frozen=True, slots=True)
class PanelLoadReport:
    stations: int
    viewers: int
    feed_hz: float  #: the most live frames a second the panel sends one viewer
    panel_process: bool  #: the panel in a process of its own (``panel.own_process``)
    realtime_priority: int | None  #: ``SCHED_FIFO`` asked for the loop's thread (``--realtime``)
    loop_scheduling: str  #: how the loop's thread was scheduled, as ``gymctl run`` logs it
    warmup_s: float
    seconds: float  #: of each window
    rounds: int  #: (unloaded, loaded) pairs, pooled
    goal_ratio: float
    unloaded: Window
    loaded: Window
    loop_lag_ratio_p99: float | None  #: pooled loaded p99 / pooled unloaded p99
    rep_to_cue_ratio_p99: float | None
    loop_lag_ratio_worst_station: float | None
    rep_to_cue_ratio_worst_station: float | None
    stations_over_goal_loop_lag: int
    stations_over_goal_rep_to_cue: int
    stations_compared_rep_to_cue: int  #: stations with reps in both windows
    within_goal: bool  #: no station's p99 (nor the pooled p99) beyond goal_ratio x unloaded
    api: dict[str, Any]  #: the load generator's API figures (of the round of highest p99)
    live: dict[str, Any]  #: the load generator's viewer figures (of the same round)
    load_generator_cpu_share: float  #: the load generator process's CPU, cores
    #: each round's API p50/p99 ms, requests/s and frames/s per viewer
    client_rounds: list[dict[str, Any]]
    per_station: list[StationFigures]
    sessions_started: int
    cpus: int
    load_average: tuple[float, float]  #: 1-minute load average before and after

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _window(
    probes: list[StationProbe],
    seconds: float,
    cpu_s: float,
    wait_s: float = math.nan,
    panel_cpu_s: float | None = None,
) -> Window:
    lags = [x for p in probes for x in p.lags_s]
    cues = [x for p in probes for x in p.rep_to_cue_s]
    return Window(
        seconds=round(seconds, 3),
        loop_lag_samples=len(lags),
        ticks_expected=round(len(probes) * seconds / TICK_S),
        loop_lag_p50_ms=_ms(percentile(lags, 50)),
        loop_lag_p99_ms=_ms(percentile(lags, 99)),
        loop_lag_max_ms=_ms(max(lags) if lags else None),
        reps=len(cues),
        rep_to_cue_p50_ms=_ms(percentile(cues, 50)),
        rep_to_cue_p99_ms=_ms(percentile(cues, 99)),
        rep_to_cue_max_ms=_ms(max(cues) if cues else None),
        cpu_share=round(cpu_s / seconds, 3) if seconds > 0 else 0.0,
        cpu_wait=round(wait_s / seconds, 3) if seconds > 0 and math.isfinite(wait_s) else None,
        panel_cpu_share=(
            round(panel_cpu_s / seconds, 3) if seconds > 0 and panel_cpu_s is not None else None
        ),
    )


@dataclass(slots=True)
class _Snapshot:
    """One station's samples of one window (copied out of its probe)."""

    lags_s: list[float]
    rep_to_cue_s: list[float]


def pooled(rounds: list[list[_Snapshot]]) -> list[_Snapshot]:
    """Each station's samples of several windows of the same kind, together."""
    return [
        _Snapshot(
            [x for s in station for x in s.lags_s], [x for s in station for x in s.rep_to_cue_s]
        )
        for station in zip(*rounds, strict=True)
    ]


def compare(
    station_ids: list[str], unloaded: list[_Snapshot], loaded: list[_Snapshot]
) -> list[StationFigures]:
    out = []
    for sid, u, lo in zip(station_ids, unloaded, loaded, strict=True):
        lag_u, lag_l = percentile(u.lags_s, 99), percentile(lo.lags_s, 99)
        cue_u, cue_l = percentile(u.rep_to_cue_s, 99), percentile(lo.rep_to_cue_s, 99)
        out.append(
            StationFigures(
                station=sid,
                loop_lag_p99_unloaded_ms=_ms(lag_u),
                loop_lag_p99_loaded_ms=_ms(lag_l),
                loop_lag_ratio=_ratio(lag_l, lag_u),
                reps_unloaded=len(u.rep_to_cue_s),
                reps_loaded=len(lo.rep_to_cue_s),
                rep_to_cue_p99_unloaded_ms=_ms(cue_u),
                rep_to_cue_p99_loaded_ms=_ms(cue_l),
                rep_to_cue_ratio=_ratio(cue_l, cue_u),
            )
        )
    return out


# -- the site ------------------------------------------------------------------------------


def site_config(stations: int, *, panel_process: bool = False) -> str:
    text = '[site]\nname = "panel load benchmark"\nid = "load"\n'
    for i in range(stations):
        text += (
            f'[[stations]]\nid = "rack-{i + 1}"\nname = "Rack {i + 1}"\n'
            '[stations.devices.rack]\nhost = "127.0.0.1"\nmap = "reference-rack"\n'
            # as the demo's racks, which share the controller's process: data ages at 1 s
            "[stations.safety]\nstale_after_ms = 1000\nannounce_threshold = 5.0\n"
            'announce_mode = "confirm"\nannounce_s = 10.0\n'
        )
    return text + (
        '[mqtt]\nenabled = false\n[panel]\nenabled = true\nhost = "127.0.0.1"\n'
        f"own_process = {'true' if panel_process else 'false'}\n"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_access(db: Database, *, password_hash: str, token_hash: str) -> None:
    """The panel account the viewers sign in with, and the API token of the machine clients
    (runs in the store's writer thread)."""
    demo_login(db, password_hash=password_hash)
    row = db.execute("SELECT id FROM staff_users WHERE username = ?", [DEMO_USER]).fetchone()
    people.create_api_token(db, user_id=int(row[0]), name="panel-load", token_hash=token_hash)


class _Athletes:
    """Each station's athlete: lifts while the set is active, confirms announced loads,
    starts the next session when one is done."""

    def __init__(self, gym: Gym, racks: dict[str, PacedRack], store_ids: dict[str, str]) -> None:
        self.gym = gym
        self.racks = racks
        self.store_ids = store_ids
        self.sessions_started = 0

    async def start(self, station_id: str) -> None:
        rack = self.racks[station_id]
        try:
            await self.gym.start_session(
                station_id, self.store_ids[rack.athlete.athlete_id], by="load benchmark"
            )
            self.sessions_started += 1
        except GymctlError as exc:
            log.info("load benchmark: %s did not start a session: %s", station_id, exc)

    async def rotate(self, station_id: str) -> None:
        await asyncio.sleep(ROTATE_AFTER_S)
        with contextlib.suppress(GymctlError):
            await self.gym.end_session(station_id, by="load benchmark")
        await self.start(station_id)

    async def run(self, check_in_over_s: float) -> None:
        ids = list(self.racks)
        with self.gym.bus.subscribe(
            "load-athletes", types=(StationStateChanged, CueEvent)
        ) as events:
            async with asyncio.TaskGroup() as group:
                for i, station_id in enumerate(ids):
                    delay = check_in_over_s * i / max(1, len(ids))
                    group.create_task(
                        self._later(delay, station_id), name=f"load-check-in:{station_id}"
                    )
                async for event in events:
                    sid = event.station_id
                    if sid is None or sid not in self.racks:
                        continue
                    rack = self.racks[sid]
                    if isinstance(event, StationStateChanged):
                        if event.after is StationState.SET_ACTIVE:
                            exercise = self.gym.runtime(sid).session.exercise
                            if exercise is not None:
                                rack.lift(exercise)
                        elif event.before is StationState.SET_ACTIVE:
                            rack.rest()
                        if event.after is StationState.SESSION_DONE:
                            group.create_task(self.rotate(sid), name=f"load-rotate:{sid}")
                    elif isinstance(event, CueEvent) and event.cue.kind is CueKind.CONFIRM_LOAD:
                        drive = self.gym.runtime(sid).station.drive
                        if drive.envelope is not None and drive.envelope.pending is not None:
                            drive.confirm(source=CommandSource.ATHLETE, by="athlete")

    async def _later(self, delay: float, station_id: str) -> None:
        await asyncio.sleep(delay)
        await self.start(station_id)


def _watch_reps(runtime: StationRuntime, probe: StationProbe) -> None:
    """Note each batch that completes a rep whose cue goes to the display (the cue router
    shows a new cue while the batch is processed), for the rack to time the cue."""
    feed = runtime.station.batch_sink
    assert feed is not None
    supervisor = runtime.supervisor
    cues = runtime.station.cues

    def sink(batch: SampleBatch) -> None:
        reps, shown = supervisor.reps, cues.current
        feed(batch)
        current = cues.current
        if supervisor.reps != reps and current is not None and current is not shown:
            probe.pending.append((current.to_device().text, batch.received))

    runtime.station.batch_sink = sink


@dataclass(frozen=True, slots=True)
class _Running:
    gym: Gym
    probes: list[StationProbe]
    driver: _Athletes
    password: str
    token: str
    scheduling: str  #: how the loop's thread is scheduled, as logged


@contextlib.asynccontextmanager
async def _site(
    directory: Path,
    stations: int,
    check_in_over_s: float,
    feed_hz: float,
    panel_process: bool = False,
    realtime: int | None = None,
) -> AsyncIterator[_Running]:
    athletes: list[SimulatedAthlete] = demo_athletes(stations)
    probes: dict[str, StationProbe] = {}
    racks: dict[str, PacedRack] = {}

    def make(
        role: DeviceRole,
        device: RackConfig | BleDeviceConfig,
        device_id: str,
        on_batch: BatchSink,
        on_event: EventSink,
    ) -> Adapter:
        del role, device
        station_id = device_id.removesuffix("-rack")
        index = len(racks)
        probe = probes[station_id] = StationProbe(station_id)
        rack = PacedRack(
            device_id,
            on_batch=on_batch,
            on_event=on_event,
            athlete=athletes[index % len(athletes)],
            probe=probe,
            batch_s=TICK_S,
            phase_s=TICK_S * index / stations,  # the racks' reads spread over the tick
        )
        racks[station_id] = rack
        return rack

    config = parse_config(
        site_config(stations, panel_process=panel_process), source="panel load benchmark"
    )
    gym = Gym(
        config,
        make_adapter=make,
        options=GymOptions(
            db_path=directory / "load.db",
            panel=True,
            panel_port=_free_port(),
            timing=timing(DemoOptions()),
        ),
        panel_factory=partial(serve_panel, settings=PanelSettings(feed_hz=feed_hz)),
    )
    async with gym:
        ids = await gym.store.writer.call(
            partial(seed, athletes=athletes, today=date.today()), label="load seed"
        )
        password = secrets.token_urlsafe(12)
        token = new_token()
        hashed = await asyncio.to_thread(PasswordHasher().hash, password)
        await gym.store.writer.call(
            partial(bench_access, password_hash=hashed, token_hash=people.hash_secret(token))
        )
        for station_id, runtime in gym.runtimes.items():
            _watch_reps(runtime, probes[station_id])
        driver = _Athletes(gym, racks, ids)
        # the heap settled, the GIL's hand-over and the loop thread's scheduling as
        # gymctl run does
        with (
            settled_heap(),
            prompt_gil_handover(),
            loop_scheduling(realtime) as scheduling,
        ):
            async with asyncio.TaskGroup() as group:
                task = group.create_task(driver.run(check_in_over_s), name="load-athletes")
                try:
                    yield _Running(
                        gym,
                        [probes[s] for s in gym.runtimes],
                        driver,
                        password,
                        token,
                        scheduling.describe(),
                    )
                finally:
                    task.cancel()


# -- the windows ---------------------------------------------------------------------------


async def _record(
    probes: list[StationProbe], seconds: float, panel_pid: int | None
) -> tuple[list[_Snapshot], float, float, float | None]:
    """The window's samples, the process's CPU seconds, the loop's run-queue wait and the
    panel's process's CPU seconds (None: the panel runs in this process)."""
    for probe in probes:
        probe.reset()
        probe.recording = True
    cpu, wait = time.process_time(), _run_queue_wait_s()
    panel = _process_cpu_s(panel_pid)
    await asyncio.sleep(seconds)
    for probe in probes:
        probe.recording = False
    cpu, wait = time.process_time() - cpu, _run_queue_wait_s() - wait
    panel_after = _process_cpu_s(panel_pid)
    panel_cpu = panel_after - panel if panel is not None and panel_after is not None else None
    snapshots = [_Snapshot(list(p.lags_s), list(p.rep_to_cue_s)) for p in probes]
    return snapshots, cpu, wait, panel_cpu


def _process_cpu_s(pid: int | None) -> float | None:
    """Another process's CPU seconds (user and system) from ``/proc``, or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _loaded(
    probes: list[StationProbe], settings: dict[str, Any], seconds: float, panel_pid: int | None
) -> tuple[list[_Snapshot], float, float, float | None, dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.panel_load_client",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write((json.dumps(settings) + "\n").encode())
        await process.stdin.drain()
        process.stdin.close()
        async with asyncio.timeout(CLIENT_READY_TIMEOUT_S):
            line = await process.stdout.readline()
        if line.strip() != b"ready":
            _, err = await process.communicate()
            raise RuntimeError(f"the load generator did not start: {err.decode()[-2000:]}")
        snapshots, cpu, wait, panel_cpu = await _record(probes, seconds, panel_pid)
        async with asyncio.timeout(CLIENT_READY_TIMEOUT_S):
            out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"the load generator failed: {err.decode()[-2000:]}")
        client = json.loads(out.decode().strip().splitlines()[-1])
        return snapshots, cpu, wait, panel_cpu, client
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def run(
    *,
    stations: int = 100,
    viewers: int = 50,
    rate: float = 50.0,
    clients: int = 8,
    warmup_s: float = 15.0,
    seconds: float = 20.0,
    rounds: int = 1,
    check_in_over_s: float = 5.0,
    feed_hz: float = DEFAULT_FEED_HZ,
    panel_process: bool = False,
    realtime: int | None = None,
) -> PanelLoadReport:
    for name, value in (
        ("stations", stations),
        ("viewers", viewers),
        ("clients", clients),
        ("rounds", rounds),
    ):
        if value < 1:
            raise InvalidInputError("must be at least 1", where=f"--{name}")
    for name, number in (("rate", rate), ("seconds", seconds)):
        if not number > 0:
            raise InvalidInputError("must be positive", where=f"--{name}")
    if not warmup_s >= 0:
        raise InvalidInputError("must not be negative", where="--warmup")
    if not 1.0 <= feed_hz <= 60.0:
        raise InvalidInputError("must be 1..60 frames a second", where="--feed-hz")
    if realtime is not None and not 1 <= realtime <= 99:
        raise InvalidInputError("must be a SCHED_FIFO priority, 1..99", where="--realtime")
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="gymctl-panel-load-") as tmp:
        async with _site(
            Path(tmp), stations, min(check_in_over_s, warmup_s), feed_hz, panel_process, realtime
        ) as running:
            gym, probes, driver = running.gym, running.probes, running.driver
            password, token, scheduling = running.password, running.token, running.scheduling
            assert gym.panel is not None
            await asyncio.sleep(warmup_s)
            settings = {
                "url": gym.panel.url,
                "token": token,
                "username": DEMO_USER,
                "password": password,
                "stations": list(gym.runtimes),
                "viewers": viewers,
                "clients": clients,
                "rate": rate,
                "seconds": seconds,
            }
            windows: dict[str, list[list[_Snapshot]]] = {"unloaded": [], "loaded": []}
            cpu_s = {"unloaded": 0.0, "loaded": 0.0}
            wait_s = {"unloaded": 0.0, "loaded": 0.0}
            panel_s: dict[str, float | None] = {"unloaded": 0.0, "loaded": 0.0}
            panel_pid = getattr(gym.panel, "pid", None)
            clients_out: list[dict[str, Any]] = []
            for _ in range(rounds):
                snapshots, cpu, wait, panel_cpu = await _record(probes, seconds, panel_pid)
                windows["unloaded"].append(snapshots)
                cpu_s["unloaded"] += cpu
                wait_s["unloaded"] += wait
                panel_s["unloaded"] = _add(panel_s["unloaded"], panel_cpu)
                snapshots, cpu, wait, panel_cpu, client = await _loaded(
                    probes, settings, seconds, panel_pid
                )
                windows["loaded"].append(snapshots)
                cpu_s["loaded"] += cpu
                wait_s["loaded"] += wait
                panel_s["loaded"] = _add(panel_s["loaded"], panel_cpu)
                clients_out.append(client)
            sessions_started = driver.sessions_started
    after = os.getloadavg()[0]
    ids = [p.station_id for p in probes]
    unloaded, loaded = pooled(windows["unloaded"]), pooled(windows["loaded"])
    per_station = compare(ids, unloaded, loaded)
    total_s = seconds * rounds
    w_unloaded = _window_of(
        unloaded, total_s, cpu_s["unloaded"], wait_s["unloaded"], panel_s["unloaded"]
    )
    w_loaded = _window_of(loaded, total_s, cpu_s["loaded"], wait_s["loaded"], panel_s["loaded"])
    client = max(clients_out, key=lambda c: c["api"].get("p99_ms") or 0.0)
    lag_ratios = [s.loop_lag_ratio for s in per_station if s.loop_lag_ratio is not None]
    cue_ratios = [s.rep_to_cue_ratio for s in per_station if s.rep_to_cue_ratio is not None]
    lag_pooled = _ratio(w_loaded.loop_lag_p99_ms, w_unloaded.loop_lag_p99_ms)
    cue_pooled = _ratio(w_loaded.rep_to_cue_p99_ms, w_unloaded.rep_to_cue_p99_ms)
    over_lag = sum(1 for r in lag_ratios if r > GOAL_RATIO)
    over_cue = sum(1 for r in cue_ratios if r > GOAL_RATIO)
    within = (
        over_lag == 0
        and over_cue == 0
        and all(r is not None and r <= GOAL_RATIO for r in (lag_pooled, cue_pooled))
    )
    return PanelLoadReport(
        stations=stations,
        viewers=viewers,
        feed_hz=feed_hz,
        panel_process=panel_process,
        realtime_priority=realtime,
        loop_scheduling=scheduling,
        warmup_s=warmup_s,
        seconds=seconds,
        rounds=rounds,
        goal_ratio=GOAL_RATIO,
        unloaded=w_unloaded,
        loaded=w_loaded,
        loop_lag_ratio_p99=lag_pooled,
        rep_to_cue_ratio_p99=cue_pooled,
        loop_lag_ratio_worst_station=max(lag_ratios) if lag_ratios else None,
        rep_to_cue_ratio_worst_station=max(cue_ratios) if cue_ratios else None,
        stations_over_goal_loop_lag=over_lag,
        stations_over_goal_rep_to_cue=over_cue,
        stations_compared_rep_to_cue=len(cue_ratios),
        within_goal=within,
        api=client["api"],
        live=client["viewers"],
        load_generator_cpu_share=float(client["cpu_share"]),
        client_rounds=[
            {
                "api_p50_ms": c["api"].get("p50_ms"),
                "api_p99_ms": c["api"].get("p99_ms"),
                "api_requests_per_s": c["api"].get("requests_per_s"),
                "frames_per_s_mean": c["viewers"].get("frames_per_s_mean"),
            }
            for c in clients_out
        ],
        per_station=per_station,
        sessions_started=sessions_started,
        cpus=os.cpu_count() or 1,
        load_average=(round(before, 2), round(after, 2)),
    )


def _window_of(
    snapshots: list[_Snapshot],
    seconds: float,
    cpu_s: float,
    wait_s: float,
    panel_cpu_s: float | None = None,
) -> Window:
    probes = [StationProbe("", lags_s=s.lags_s, rep_to_cue_s=s.rep_to_cue_s) for s in snapshots]
    return _window(probes, seconds, cpu_s, wait_s, panel_cpu_s)


def _add(total: float | None, seconds: float | None) -> float | None:
    return None if total is None or seconds is None else total + seconds


# -- output --------------------------------------------------------------------------------


def summary_lines(data: dict[str, Any]) -> list[str]:
    """The report as a few lines of text."""
    api, live, u, lo = data["api"], data["live"], data["unloaded"], data["loaded"]
    lines = [
        f"{data['stations']} stations training, {data['viewers']} live viewers "
        f"at up to {data['feed_hz']:g} frames/s "
        f"({live['floor']} floor, {live['station']} station; {live['token']} token, "
        f"{live['session']} session), {data['seconds']:g} s per window, "
        f"{data['rounds']} round(s) of (unloaded, loaded)"
        + ("; the panel in its own process" if data["panel_process"] else ""),
        f"loop     {data['loop_scheduling']}",
        f"API      {api['requests_per_s']:.1f} req/s (target {api['target_per_s']:g}), "
        f"p50 {api['p50_ms']} ms, p99 {api['p99_ms']} ms, max {api['max_ms']} ms, "
        f"status {api['status']}" + (" (the round of highest p99)" if data["rounds"] > 1 else ""),
        "         p50 by endpoint: "
        + ", ".join(
            f"{name} {figures['p50_ms']}" for name, figures in api.get("by_endpoint", {}).items()
        ),
        f"live     {live['frames_per_s_mean']} frames/s per viewer (min "
        f"{live['frames_per_s_min']}, max {live['frames_per_s_max']}), "
        f"{live['reconnects']} reconnects",
        f"{'':8} {'unloaded':>12} {'loaded':>12} {'ratio':>8}",
        f"{'lag p99':8} {u['loop_lag_p99_ms']!s:>12} {lo['loop_lag_p99_ms']!s:>12} "
        f"{data['loop_lag_ratio_p99']!s:>8}  ms, all stations pooled",
        f"{'cue p99':8} {u['rep_to_cue_p99_ms']!s:>12} {lo['rep_to_cue_p99_ms']!s:>12} "
        f"{data['rep_to_cue_ratio_p99']!s:>8}  ms, rep to cue ({u['reps']} / {lo['reps']} reps)",
        f"{'ticks':8} {u['loop_lag_samples']:>12} {lo['loop_lag_samples']:>12}           "
        f"of {u['ticks_expected']} due (a loop that is behind skips ticks)",
        f"{'cpu':8} {u['cpu_share']!s:>12} {lo['cpu_share']!s:>12}           "
        f"controller process, cores (load generator {data['load_generator_cpu_share']})",
        f"{'cpu wait':8} {u['cpu_wait']!s:>12} {lo['cpu_wait']!s:>12}           "
        "of each second the loop waited for a CPU held by other processes",
        *(
            [
                f"{'panel':8} {u['panel_cpu_share']!s:>12} {lo['panel_cpu_share']!s:>12}"
                "           cores used by the panel's own process"
            ]
            if data["panel_process"]
            else []
        ),
        f"worst station: lag x{data['loop_lag_ratio_worst_station']}, rep-to-cue "
        f"x{data['rep_to_cue_ratio_worst_station']} (of {data['stations_compared_rep_to_cue']} "
        f"with reps in both windows); over x{data['goal_ratio']:g}: "
        f"{data['stations_over_goal_loop_lag']} (lag), {data['stations_over_goal_rep_to_cue']} "
        f"(rep to cue); within goal: {'yes' if data['within_goal'] else 'no'}",
        f"(load average {data['load_average'][0]} before, {data['load_average'][1]} after, "
        f"on {data['cpus']} CPUs; {data['sessions_started']} sessions started)",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.panel_load", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_cli(args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stations", type=int, default=100, help="stations training (100)")
    parser.add_argument("--viewers", type=int, default=50, help="live feed viewers (50)")
    parser.add_argument("--rate", type=float, default=50.0, help="API requests a second (50)")
    parser.add_argument("--clients", type=int, default=8, help="API clients (8)")
    parser.add_argument(
        "--feed-hz",
        type=float,
        default=DEFAULT_FEED_HZ,
        help=f"live frames a second per viewer at most (the panel's {DEFAULT_FEED_HZ:g})",
    )
    parser.add_argument("--warmup", type=float, default=15.0, help="warm-up seconds (15)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per window (20)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="(unloaded, loaded) window pairs, each station's samples pooled over them (1)",
    )
    parser.add_argument(
        "--panel-process",
        action="store_true",
        help="serve the panel from a process of its own (the config's panel.own_process)",
    )
    parser.add_argument(
        "--realtime",
        type=int,
        default=None,
        metavar="PRIORITY",
        help="run the loop's thread under SCHED_FIFO (the config's site.realtime_priority)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run_cli(args: argparse.Namespace) -> int:
    report = control_loop.run(
        run(
            stations=args.stations,
            viewers=args.viewers,
            rate=args.rate,
            clients=args.clients,
            warmup_s=args.warmup,
            seconds=args.seconds,
            rounds=args.rounds,
            feed_hz=args.feed_hz,
            panel_process=args.panel_process,
            realtime=args.realtime,
        )
    )
    data = report.to_json()
    if args.json:
        json.dump(data, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print("\n".join(summary_lines(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
