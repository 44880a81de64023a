"""A rack at the adapter boundary with an athlete on it, faster than real time.

The session runner's tests need many sets in a few seconds; the real rack emulator runs in
real time over Modbus (the demo's end-to-end test uses it). This adapter streams bar
positions in device time ``speed`` times faster than the wall clock: reps rendered from
half-sine movements (``benchmarks.traces``) whose mean velocities come from the athlete
model at the load the rack holds, with fatigue rep by rep. The athlete lifts when told
(:meth:`lift`) and racks the bar after a cue whose text starts with STOP, as the reference
rack's athlete does. It records every command, like ``RecordingAdapter``.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt

from benchmarks.traces import Script
from equipment_adapters.base import (
    Adapter,
    BatchSink,
    Capabilities,
    Command,
    EnterSafeState,
    EquipmentKind,
    EventSink,
    LinkState,
    LoadRange,
    LoadUnit,
    ModeKind,
    SetLoad,
    ShowCue,
)
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.emulators.athlete import SimulatedAthlete
from equipment_adapters.errors import DeviceUnavailableError

G = 9.81
ORIGIN_M = 0.25


class ScriptedRack(Adapter):
    def __init__(
        self,
        device_id: str,
        *,
        on_batch: BatchSink,
        on_event: EventSink | None = None,
        athlete: SimulatedAthlete,
        sides: int = 1,
        speed: float = 40.0,
        rate_hz: float = 1000.0,
        batch: int = 50,
        max_kg: float = 220.0,
    ) -> None:
        super().__init__(device_id=device_id, on_batch=on_batch, on_event=on_event)
        self.athlete = athlete
        self.sides = sides
        self.speed = speed
        self.rate_hz = rate_hz
        self.batch = batch
        channels = (
            {Channel.POSITION}
            if sides == 1
            else {
                Channel.POSITION_LEFT,
                Channel.POSITION_RIGHT,
                Channel.FORCE_LEFT,
                Channel.FORCE_RIGHT,
            }
        )
        self._capabilities = Capabilities(
            kind=EquipmentKind.RACK,
            model="scripted rack",
            channels=frozenset(channels),
            load=LoadRange(LoadUnit.KG, 0.0, max_kg, 0.5, 1000.0),
            modes=frozenset({ModeKind.STANDARD, ModeKind.SPOTTER, ModeKind.ECCENTRIC}),
            cue_display=True,
            sides=sides,
        )
        self.commands: list[Command] = []
        self.load = 0.0
        self.lifts: list[tuple[str, float]] = []  #: (exercise, load) of each set begun
        self.rep_velocities: list[list[float]] = []
        self._height = 0.5  #: bar height above the bottom of the rep, m
        self._queue: npt.NDArray[np.float64] = np.empty(0)
        self._exercise: str | None = None
        self._rep = 0
        self._stop = False
        self._seq = 0
        self._rng = np.random.default_rng(athlete.seed)
        self._task: asyncio.Task[None] | None = None
        self.streaming = True

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def apply(self, command: Command) -> None:
        if self._link is not LinkState.CONNECTED:
            raise DeviceUnavailableError("not connected", device_id=self.device_id)
        self.commands.append(command)
        match command:
            case SetLoad(value=value):
                self.load = value
            case EnterSafeState():
                self.load = 0.0
                self._stop = True
            case ShowCue(cue=cue) if cue.text.upper().startswith("STOP"):
                self._stop = True
            case _:
                pass

    # -- the athlete ----------------------------------------------------------------------

    @property
    def lifting(self) -> bool:
        return self._exercise is not None

    def lift(self, exercise: str) -> None:
        """The athlete takes the bar and lifts until told to stop (or fails)."""
        self._exercise = exercise
        self._rep = 0
        self._stop = False
        self.lifts.append((exercise, self.load))
        self.rep_velocities.append([])

    def _next_rep(self) -> npt.NDArray[np.float64] | None:
        exercise = self._exercise
        if exercise is None or self._stop or self._rep >= 30:
            self._exercise = None
            return None
        velocity = self.athlete.rep_velocity(exercise, max(self.load, 1.0), self._rep)
        if velocity <= 0.0:
            self._exercise = None
            return None
        self._rep += 1
        self.rep_velocities[-1].append(velocity)
        rom = self.athlete.lift(exercise).rom_m
        script = Script(start_height_m=rom).top_rep(
            rom, rom / velocity, eccentric_s=0.8, top_pause_s=0.45
        )
        _, x = script.render(self.rate_hz)
        return x[1:]

    def _take(self, n: int) -> npt.NDArray[np.float64]:
        while self._queue.shape[0] < n:
            rep = self._next_rep()
            if rep is None:
                hold = np.full(n, self._queue[-1] if self._queue.shape[0] else self._height)
                self._queue = np.concatenate((self._queue, hold))
            else:
                self._queue = np.concatenate((self._queue, rep))
        out, self._queue = self._queue[:n], self._queue[n:]
        self._height = float(out[-1])
        return out + self._rng.normal(0.0, 0.0002, n)

    # -- streaming ------------------------------------------------------------------------

    async def _stream(self) -> None:
        period = 1.0 / self.rate_hz
        wait = self.batch * period / self.speed
        while True:
            await asyncio.sleep(wait)
            if not self.streaming or self._link is not LinkState.CONNECTED:
                continue
            height = self._take(self.batch)
            t0 = self._seq * period
            now = time.monotonic()
            if self.sides == 1:
                self._deliver(
                    SampleBatch(
                        self.device_id,
                        Channel.POSITION,
                        t0,
                        period,
                        ORIGIN_M + height,
                        now,
                        self._seq,
                    )
                )
            else:
                asym = self.athlete_asymmetry
                force = np.full(self.batch, self.load * G)
                for channel, values in (
                    (Channel.POSITION_LEFT, ORIGIN_M + height * (1 + asym / 2)),
                    (Channel.POSITION_RIGHT, ORIGIN_M + height * (1 - asym / 2)),
                    (Channel.FORCE_LEFT, force * (1 + asym) / 2),
                    (Channel.FORCE_RIGHT, force * (1 - asym) / 2),
                ):
                    self._deliver(
                        SampleBatch(self.device_id, channel, t0, period, values, now, self._seq)
                    )
            self._seq += self.batch

    athlete_asymmetry = 0.14

    def drop(self, reason: str = "cable pulled") -> None:
        """The link is lost (no more data, commands fail)."""
        self._set_link(LinkState.DISCONNECTED, reason)

    def restore(self) -> None:
        self._set_link(LinkState.CONNECTED, "back")

    async def __aenter__(self) -> Self:
        self._set_link(LinkState.CONNECTED)
        self._task = asyncio.create_task(self._stream(), name=f"scripted-rack:{self.device_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._set_link(LinkState.DISCONNECTED)
