"""The demo's emulated athletes: they react to what the controller tells them.

One driver per station follows the station's state changes and cues on the bus, as an
athlete follows the display:

* a set becomes **active**: the athlete on a rack takes the bar and lifts
  (``RackEmulator.start_set``); the rack's firmware ends the set when its display shows a
  text starting with STOP, as the reference rack's athlete model does. On a band the athlete
  does one rep at a time and stops at the STOP cue. A bike's rider keeps pedalling;
* a load increase is **announced** ("UP TO 105 kg: CONFIRM"): the athlete confirms a moment
  later (the ``confirm`` the athlete's button or app would send);
* the **session is done**: after a short pause the athlete checks out and the next one
  waiting steps on the equipment and checks in (the athletes rotate over the stations).

The athletes' movements come from the athlete model (load-velocity relation, fatigue,
readiness); their reps reach the controller only through the equipment's protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType
from typing import Self

from controller.cues import CueKind
from controller.demo.world import DemoWorld
from controller.events import CommandSource, CueEvent, StationStateChanged
from controller.gym import Gym
from controller.states import StationState
from equipment_adapters.emulators.athlete import SimulatedAthlete
from equipment_adapters.emulators.imu_motion import RepSpec
from kernels.errors import GymctlError

log = logging.getLogger(__name__)

CONFIRM_AFTER_S = 0.8
ROTATE_AFTER_S = 2.0
#: which movement of the athlete model a band exercise is
BAND_LIFTS = {
    "band_row": "cable_row",
    "band_chest_press": "bench_press",
    "band_squat": "back_squat",
    "band_squat_jump": "back_squat",
    "band_overhead_press": "bench_press",
}
#: a band's resistance as a share of the movement's 1RM (for the athlete model's fatigue)
BAND_SHARE_OF_1RM = 0.7
MAX_BAND_REPS = 30


class AthletePool:
    """Who is waiting to train: athletes take turns over the stations."""

    def __init__(self, athletes: list[SimulatedAthlete], store_ids: dict[str, str]) -> None:
        self.athletes = athletes
        self.store_ids = store_ids
        self.busy: set[str] = set()
        self._next = 0

    def take(self, preferred: SimulatedAthlete | None = None) -> SimulatedAthlete | None:
        if preferred is not None and preferred.athlete_id not in self.busy:
            self.busy.add(preferred.athlete_id)
            return preferred
        for k in range(len(self.athletes)):
            athlete = self.athletes[(self._next + k) % len(self.athletes)]
            if athlete.athlete_id not in self.busy:
                self._next = (self._next + k + 1) % len(self.athletes)
                self.busy.add(athlete.athlete_id)
                return athlete
        return None

    def give_back(self, athlete: SimulatedAthlete) -> None:
        self.busy.discard(athlete.athlete_id)


class StationDriver:
    """The athletes of one station; ``run()`` until cancelled."""

    def __init__(self, gym: Gym, world: DemoWorld, station_id: str, pool: AthletePool) -> None:
        self.gym = gym
        self.world = world
        self.station_id = station_id
        self.pool = pool
        self.kind = world.kind(station_id)
        self.athlete: SimulatedAthlete | None = None
        self.sessions_started = 0
        self._waiting = False  #: a check-in failed; the next athlete comes when it is idle
        self._band_stop = asyncio.Event()

    async def start_next(self, preferred: SimulatedAthlete | None = None) -> None:
        athlete = self.pool.take(preferred)
        if athlete is None:
            return
        self.athlete = athlete
        self.world.set_athlete(self.station_id, athlete)
        try:
            await self.gym.start_session(
                self.station_id, self.pool.store_ids[athlete.athlete_id], by="demo"
            )
        except GymctlError as exc:
            # the station is not ready (a fault being recovered): try again once it is idle
            log.info("demo: %s waits for %s: %s", athlete.name, self.station_id, exc)
            self.pool.give_back(athlete)
            self.athlete = None
            self._waiting = True
            return
        self._waiting = False
        self.sessions_started += 1

    async def run(self, first: SimulatedAthlete | None) -> None:
        with self.gym.bus.subscribe(
            f"demo-athlete:{self.station_id}",
            types=(StationStateChanged, CueEvent),
            station_id=self.station_id,
        ) as events:
            async with asyncio.TaskGroup() as group:
                await self.start_next(first)
                async for event in events:
                    if event.station_id != self.station_id:
                        continue
                    if isinstance(event, StationStateChanged):
                        self._state(event, group)
                    elif isinstance(event, CueEvent):
                        self._cue(event, group)

    def _state(self, event: StationStateChanged, group: asyncio.TaskGroup) -> None:
        if event.after is StationState.IDLE and self._waiting:
            self._waiting = False
            group.create_task(self.start_next(), name=f"demo-check-in:{self.station_id}")
        elif event.after is StationState.SET_ACTIVE:
            self._set_started(group)
        elif event.after is StationState.SESSION_DONE:
            group.create_task(self._rotate(), name=f"demo-rotate:{self.station_id}")
        elif event.before is StationState.SET_ACTIVE:
            self._band_stop.set()

    def _cue(self, event: CueEvent, group: asyncio.TaskGroup) -> None:
        kind = event.cue.kind
        if kind is CueKind.CONFIRM_LOAD:
            group.create_task(self._confirm(), name=f"demo-confirm:{self.station_id}")
        elif kind is CueKind.STOP:
            self._band_stop.set()

    async def _confirm(self) -> None:
        await asyncio.sleep(CONFIRM_AFTER_S)
        runtime = self.gym.runtime(self.station_id)
        envelope = runtime.station.drive.envelope
        if envelope is not None and envelope.pending is not None:
            runtime.station.drive.confirm(
                source=CommandSource.ATHLETE, by=runtime.station.state.athlete_id
            )

    def _set_started(self, group: asyncio.TaskGroup) -> None:
        exercise = self.gym.runtime(self.station_id).session.exercise
        if exercise is None or self.athlete is None:
            return
        if self.kind == "rack":
            rack = self.world.racks[self.station_id]
            if rack.physics.in_set:
                rack.end_set()
            if exercise in rack.athlete.lifts:
                rack.start_set(exercise, None)
        elif self.kind == "band":
            self._band_stop.clear()
            group.create_task(self._band_set(exercise), name=f"demo-band:{self.station_id}")

    async def _band_set(self, exercise: str) -> None:
        athlete = self.athlete
        band = self.world.bands[self.station_id]
        lift = BAND_LIFTS.get(exercise, "cable_row")
        if athlete is None or lift not in athlete.lifts:
            return
        profile = athlete.lift(lift)
        load = BAND_SHARE_OF_1RM * profile.one_rm_kg
        for index in range(MAX_BAND_REPS):
            if self._band_stop.is_set():
                return
            velocity = athlete.rep_velocity(lift, load, index)
            if velocity <= 0:
                return
            band.queue_reps(
                [
                    RepSpec(
                        velocity,
                        rom_m=profile.rom_m,
                        eccentric_s=0.9,
                        pause_top_s=0.4,
                        bottom_start=lift == "deadlift",
                    )
                ]
            )
            await band.wait_idle()

    async def _rotate(self) -> None:
        await asyncio.sleep(ROTATE_AFTER_S)
        athlete = self.athlete
        with contextlib.suppress(GymctlError):
            await self.gym.end_session(self.station_id, by="demo")
        if self.kind == "rack":
            rack = self.world.racks[self.station_id]
            if rack.physics.in_set:
                rack.end_set()
        if athlete is not None:
            self.pool.give_back(athlete)
        self.athlete = None
        await self.start_next()


class Athletes:
    """Every station's driver, as one async context manager (tasks ``demo-athlete:<id>``)."""

    def __init__(self, gym: Gym, world: DemoWorld, store_ids: dict[str, str]) -> None:
        self.pool = AthletePool(world.athletes, store_ids)
        self.drivers = [StationDriver(gym, world, spec.id, self.pool) for spec in world.specs]
        self._group: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.world = world

    @property
    def sessions_started(self) -> int:
        return sum(d.sessions_started for d in self.drivers)

    async def __aenter__(self) -> Self:
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        for index, driver in enumerate(self.drivers):
            first = self.world.first_athlete(index)
            self._tasks.append(
                self._group.create_task(driver.run(first), name=f"demo-athlete:{driver.station_id}")
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        assert self._group is not None
        await self._group.__aexit__(None, None, None)
