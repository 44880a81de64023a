"""A site with scripted racks for the session runner's and the site's tests.

A real ``Gym`` (store on disk, bus, stations with their drives, envelopes and cues, the
session runner) whose racks are ``ScriptedRack`` adapters; athletes from the emulators'
athlete model, with the demo's seeded history; an athlete loop that lifts when a set is
active and confirms announced loads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

from controller.config import BleDeviceConfig, DeviceRole, RackConfig, parse_config
from controller.cues import CueKind
from controller.demo.seed import seed
from controller.events import CommandSource, CueEvent, Event, StationStateChanged
from controller.gym import Gym, GymOptions
from controller.session_runner import SessionTiming
from controller.states import StationState
from equipment_adapters.base import Adapter, BatchSink, EventSink
from equipment_adapters.emulators.athlete import DEMO_ATHLETES, SimulatedAthlete

from .scripted_rack import ScriptedRack

FAST = SessionTiming(
    rest_scale=0.0,
    min_rest_s=0.2,
    get_ready_s=0.05,
    first_rep_timeout_s=3.0,
    idle_timeout_s=1.5,
    load_ready_timeout_s=10.0,
    recovery_timeout_s=10.0,
)

ANA, BEN, CHLOE, DEV = DEMO_ATHLETES


def site_config(
    stations: int = 1,
    *,
    announce_mode: str = "confirm",
    mqtt: str = "",
    panel_port: int = 0,
    panel_process: bool = False,
) -> str:
    text = '[site]\nname = "test gym"\nid = "test"\n'
    for i in range(stations):
        text += (
            f'[[stations]]\nid = "rack-{i + 1}"\n[stations.devices.rack]\nhost = "127.0.0.1"\n'
            # a loaded test machine can hold the loop back: data ages out at 1 s, not 250 ms
            f'map = "scripted"\n[stations.safety]\nstale_after_ms = 1000\n'
            f"announce_threshold = 5.0\n"
            f'announce_mode = "{announce_mode}"\nannounce_s = 2.0\n'
        )
    text += mqtt or "[mqtt]\nenabled = false\n"
    if panel_port:
        return text + (
            f'[panel]\nenabled = true\nhost = "127.0.0.1"\nport = {panel_port}\n'
            f"own_process = {'true' if panel_process else 'false'}\n"
        )
    return text + "[panel]\nenabled = false\n"


@dataclass
class Site:
    gym: Gym
    racks: dict[str, ScriptedRack]
    ids: dict[str, str]  #: emulator athlete id -> store id
    events: list[Event] = field(default_factory=list)
    confirm: bool = True

    def rack(self, station_id: str = "rack-1") -> ScriptedRack:
        return self.racks[station_id]

    def set_athlete(self, athlete: SimulatedAthlete, station_id: str = "rack-1") -> None:
        self.racks[station_id].athlete = athlete

    async def athletes(self) -> None:
        """Every station's athlete: lift when the set is active, confirm announced loads."""
        with self.gym.bus.subscribe("test-athletes", types=(StationStateChanged, CueEvent)) as sub:
            async for event in sub:
                self.events.append(event)
                station_id = event.station_id
                if station_id is None or station_id not in self.racks:
                    continue
                runtime = self.gym.runtime(station_id)
                if (
                    isinstance(event, StationStateChanged)
                    and event.after is StationState.SET_ACTIVE
                ):
                    exercise = runtime.session.exercise
                    if exercise is not None:
                        self.racks[station_id].lift(exercise)
                elif (
                    isinstance(event, CueEvent)
                    and event.cue.kind is CueKind.CONFIRM_LOAD
                    and self.confirm
                ):
                    runtime.station.drive.confirm(source=CommandSource.ATHLETE, by="athlete")

    def states(self, station_id: str = "rack-1") -> list[StationState]:
        return [
            e.after
            for e in self.events
            if isinstance(e, StationStateChanged) and e.station_id == station_id
        ]


@contextlib.asynccontextmanager
async def site(
    tmp_path: Path,
    *,
    stations: int = 1,
    athletes: tuple[SimulatedAthlete, ...] = (ANA, BEN, CHLOE, DEV),
    sides: int = 1,
    timing: SessionTiming = FAST,
    announce_mode: str = "confirm",
    mqtt: str = "",
    today: date | None = None,
    seed_history: bool = True,
    panel_port: int = 0,
    panel_process: bool = False,
) -> AsyncIterator[Site]:
    racks: dict[str, ScriptedRack] = {}

    def make(
        role: DeviceRole,
        device: RackConfig | BleDeviceConfig,
        device_id: str,
        on_batch: BatchSink,
        on_event: EventSink,
    ) -> Adapter:
        station_id = device_id.removesuffix("-rack")
        rack = ScriptedRack(
            device_id, on_batch=on_batch, on_event=on_event, athlete=athletes[0], sides=sides
        )
        racks[station_id] = rack
        return rack

    config = parse_config(
        site_config(
            stations,
            announce_mode=announce_mode,
            mqtt=mqtt,
            panel_port=panel_port,
            panel_process=panel_process,
        ),
        base_dir=tmp_path,
    )
    gym = Gym(
        config,
        make_adapter=make,
        options=GymOptions(db_path=tmp_path / "site.db", timing=timing),
        today=lambda: today or date.today(),
    )
    async with gym:
        ids: dict[str, str] = {}
        if seed_history:
            ids = await gym.store.writer.call(
                partial(seed, athletes=list(athletes), today=today or date.today())
            )
        rig = Site(gym, racks, ids)
        async with asyncio.TaskGroup() as group:
            task = group.create_task(rig.athletes(), name="test-athletes")
            try:
                yield rig
            finally:
                task.cancel()
