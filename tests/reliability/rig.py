"""The real site against real emulators, for the fault-injection tests.

``emulated_site`` runs the same ``Gym`` as ``gymctl run`` and ``gymctl demo``: racks are
``RackEmulator`` Modbus TCP servers on 127.0.0.1, the bike and its strap bumble
peripherals on a ``VirtualAir``, the store a SQLite file on disk, MQTT the embedded broker or
a real Mosquitto. The demo's emulated athletes train (they lift when a set is active and
confirm announced loads). Unlike the demo, the racks keep the specification's 250 ms
staleness limit and the reference map's 1 s watchdog, so the safety figures the tests
measure are the ones a real site gets.

``Recorder`` keeps every bus event with the monotonic time it was seen, for the tests'
measurements (latency of the safe state, order of events).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import TypeVar

from controller.adapters import make_adapter_factory
from controller.config import parse_config
from controller.demo.athletes import Athletes
from controller.demo.seed import seed
from controller.demo.world import DemoWorld, Kind, StationSpec
from controller.events import Alert, Event, StationStateChanged
from controller.gym import Gym, GymOptions
from controller.session_runner import SessionTiming
from controller.states import StationState
from controller.station_runtime import StationRuntime
from controller.store.db import open_reader
from equipment_adapters.emulators.rack import RackEmulator
from equipment_adapters.modbus import RackOptions
from tests.controller.mqtt.conftest import free_port

E = TypeVar("E", bound=Event)

#: the safety requirement: a station is safe within this long of its last fresh sample
SAFE_WITHIN_S = 0.25
#: the reference rack map's watchdog (the device drops the load when heartbeats stop)
RACK_WATCHDOG_S = 1.0

TIMING = SessionTiming(
    rest_scale=0.02,
    min_rest_s=1.0,
    get_ready_s=0.3,
    first_rep_timeout_s=20.0,
    idle_timeout_s=6.0,
    load_ready_timeout_s=30.0,
    recovery_timeout_s=60.0,
)


@dataclass
class Seen:
    event: Event
    at: float  #: monotonic time the recorder read it


@dataclass
class Recorder:
    """Every event of the bus, in order (telemetry included)."""

    seen: list[Seen] = field(default_factory=list)

    def events(self, kind: type[E], station_id: str | None = None) -> list[E]:
        return [
            s.event
            for s in self.seen
            if isinstance(s.event, kind)
            and (station_id is None or s.event.station_id == station_id)
        ]

    def alerts(self, code: str, station_id: str | None = None) -> list[Alert]:
        return [a for a in self.events(Alert, station_id) if a.code == code]

    def states(self, station_id: str) -> list[StationStateChanged]:
        return self.events(StationStateChanged, station_id)


@dataclass
class EmulatedSite:
    gym: Gym
    world: DemoWorld
    ids: dict[str, str]  #: emulator athlete id -> store id
    recorder: Recorder
    db_path: Path

    def wall_offset(self) -> float:
        """``time.time() - time.monotonic()`` now: turns monotonic instants into event time."""
        return time.time() - time.monotonic()


def config_text(
    world: DemoWorld, *, stale_after_ms: int, mqtt: str | None, commit_interval_ms: int
) -> str:
    """The demo's site config with the specification's staleness limit for racks, and
    another ``[mqtt]`` section when given (a real Mosquitto)."""
    text = world.config_text()
    text = text.replace("stale_after_ms = 1000", f"stale_after_ms = {stale_after_ms}")
    text = text.replace("commit_interval_ms = 100", f"commit_interval_ms = {commit_interval_ms}")
    if mqtt is not None:
        text = re.sub(r"\[mqtt\]\n(?:[^\[\n][^\n]*\n)*", mqtt.rstrip("\n") + "\n\n", text)
    return text


@contextlib.asynccontextmanager
async def emulated_site(
    tmp_path: Path,
    *,
    kinds: tuple[Kind, ...] = ("rack",),
    stale_after_ms: int = 250,
    mqtt: str | None = None,
    db_path: Path | None = None,
    timing: SessionTiming = TIMING,
    commit_interval_ms: int = 100,
    bike_tick_s: float | None = None,
    athletes: bool = True,
    seed_history: bool = True,
    before_start: Callable[[DemoWorld], None] | None = None,
) -> AsyncIterator[EmulatedSite]:
    """One station per entry of ``kinds`` (``rack``, ``bike``: a bike with a strap)."""
    db = (db_path or tmp_path / "site.db").resolve()
    world = DemoWorld(
        stations=max(1, len(kinds)),
        mqtt_port=free_port(),
        panel_port=free_port(),
        db_path=db,
        panel=False,
    )
    counters: dict[Kind, int] = {}
    specs: list[StationSpec] = []
    for kind in kinds:
        counters[kind] = counters.get(kind, 0) + 1
        n = counters[kind]
        specs.append(StationSpec(f"{kind}-{n}", kind, f"{kind.title()} {n}"))
    world.specs = specs
    async with world:
        if bike_tick_s is not None:
            for bike in world.bikes.values():
                bike.tick_s = bike_tick_s
        if before_start is not None:
            before_start(world)
        text = config_text(
            world, stale_after_ms=stale_after_ms, mqtt=mqtt, commit_interval_ms=commit_interval_ms
        )
        config = parse_config(text, source="reliability site")
        options = RackOptions(backoff_max=1.0, watchdog_timeout=RACK_WATCHDOG_S)
        if world.air is not None:
            factory = make_adapter_factory(ble_backend=world.air.backend, rack_options=options)
        else:
            factory = make_adapter_factory(rack_options=options)
        gym = Gym(
            config,
            make_adapter=factory,
            options=GymOptions(db_path=db, panel=False, timing=timing),
        )
        recorder = Recorder()
        # subscribed before the site starts: the recorder sees the stations come up
        with gym.bus.subscribe("test-recorder", reliable_bound=1_000_000) as sub:

            async def record() -> None:
                async for event in sub:
                    recorder.seen.append(Seen(event, time.monotonic()))

            async with asyncio.TaskGroup() as group:
                task = group.create_task(record(), name="test-recorder")
                try:
                    async with gym:
                        ids: dict[str, str] = {}
                        if seed_history:
                            ids = await gym.store.writer.call(
                                partial(seed, athletes=world.athletes, today=date.today()),
                                label="seed",
                            )
                        site = EmulatedSite(gym, world, ids, recorder, db)
                        if athletes:
                            async with Athletes(gym, world, ids):
                                yield site
                        else:
                            yield site
                finally:
                    task.cancel()


async def wait_for(condition: Callable[[], bool], *, within: float, what: str) -> float:
    """Poll ``condition`` every 5 ms; return how long it took; fail naming ``what``."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110 - state of emulators and stations is polled
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"not within {within:g} s: {what}") from None
    return time.monotonic() - started


S = StationState


def in_state(runtime: StationRuntime, state: StationState) -> Callable[[], bool]:
    return lambda: runtime.state is state


def unloaded(rack: RackEmulator) -> Callable[[], bool]:
    return lambda: rack.state.actual_load_kg == 0.0


def committed_reps(db: Path) -> set[tuple[str, int]]:
    """(set, rep index) of every rep committed to ``db``, read on a read-only connection."""
    conn = open_reader(db)
    try:
        return {(str(r[0]), int(r[1])) for r in conn.execute("SELECT set_id, rep_index FROM reps")}
    finally:
        conn.close()
