"""A rack at the adapter boundary, in real time, that measures its station's lag and cues.

The load benchmark (``benchmarks.panel_load``) trains a hundred stations in the
controller's process. A hundred Modbus servers and their pollers in that same process would
measure pymodbus more than the controller (``gymctl bench modbus`` does that), so each
station's rack is emulated at the batch boundary: every ``batch_s`` (50 ms) a tick delivers
the samples of a 1 kHz FIFO that fell due since the last tick (a late tick delivers more,
as a real FIFO read does), rendered from the athlete model's rep velocities at the load the
rack holds, with fatigue rep by rep. The athlete lifts when told (:meth:`PacedRack.lift`)
and racks the bar at a cue whose text starts with STOP.

Two things are measured here, into the station's :class:`StationProbe`:

* **loop lag**: how late each tick of the station's loop wakes against its schedule (the
  time the controller's event loop holds the station back);
* **rep-to-cue latency**: from the arrival of the batch that completed a rep (its
  ``received``) to the rep's cue reaching this rack's display (``apply(ShowCue)``), which
  includes the rep detection, the set supervisor and the drive's command queue.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass, field
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

ORIGIN_M = 0.25  #: the bar's lowest point above the rack's zero, m
MAX_REPS = 30
#: a rep's cue that has not reached the display in this long is given up (not shown)
PENDING_TIMEOUT_S = 5.0


@dataclass(slots=True)
class StationProbe:
    """What one station measured while ``recording``."""

    station_id: str
    recording: bool = False
    lags_s: list[float] = field(default_factory=list)
    rep_to_cue_s: list[float] = field(default_factory=list)
    #: (cue text, received) of reps whose cue is on its way to the display
    pending: deque[tuple[str, float]] = field(default_factory=deque)

    def reset(self) -> None:
        self.lags_s.clear()
        self.rep_to_cue_s.clear()

    def cue_sent(self, text: str, now: float) -> None:
        """A cue reached the display: if it is the cue of a pending rep, its latency."""
        pending = self.pending
        while pending and now - pending[0][1] > PENDING_TIMEOUT_S:
            pending.popleft()
        if pending and pending[0][0] == text:
            _, received = pending.popleft()
            if self.recording:
                self.rep_to_cue_s.append(now - received)


class PacedRack(Adapter):
    """A one-sided 1 kHz rack with an athlete on it, in real time; see the module docstring."""

    def __init__(
        self,
        device_id: str,
        *,
        on_batch: BatchSink,
        on_event: EventSink | None = None,
        athlete: SimulatedAthlete,
        probe: StationProbe,
        rate_hz: float = 1000.0,
        batch_s: float = 0.05,
        max_kg: float = 220.0,
        phase_s: float = 0.0,
    ) -> None:
        super().__init__(device_id=device_id, on_batch=on_batch, on_event=on_event)
        self.athlete = athlete
        self.probe = probe
        self.rate_hz = rate_hz
        self.batch_s = batch_s
        self.phase_s = phase_s
        self._capabilities = Capabilities(
            kind=EquipmentKind.RACK,
            model="paced rack (load benchmark)",
            channels=frozenset({Channel.POSITION}),
            load=LoadRange(LoadUnit.KG, 0.0, max_kg, 0.5, 1000.0),
            modes=frozenset({ModeKind.STANDARD, ModeKind.SPOTTER, ModeKind.ECCENTRIC}),
            cue_display=True,
            sides=1,
        )
        self.load = 0.0
        self.reps_lifted = 0
        self._height = 0.5
        self._queue: npt.NDArray[np.float64] = np.empty(0)
        self._exercise: str | None = None
        self._rep = 0
        self._stop = False
        self._seq = 0
        self._rng = np.random.default_rng(athlete.seed)
        self._task: asyncio.Task[None] | None = None

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def apply(self, command: Command) -> None:
        if self._link is not LinkState.CONNECTED:
            raise DeviceUnavailableError("not connected", device_id=self.device_id)
        match command:
            case SetLoad(value=value):
                self.load = value
            case EnterSafeState():
                self.load = 0.0
                self._stop = True
            case ShowCue(cue=cue):
                self.probe.cue_sent(cue.text, time.monotonic())
                if cue.text.upper().startswith("STOP"):
                    self._stop = True
            case _:
                pass

    # -- the athlete ----------------------------------------------------------------------

    def lift(self, exercise: str) -> None:
        """The athlete takes the bar and lifts until told to stop (or fails)."""
        self._exercise = exercise if exercise in self.athlete.lifts else None
        self._rep = 0
        self._stop = False

    def rest(self) -> None:
        self._exercise = None

    def _next_rep(self) -> npt.NDArray[np.float64] | None:
        exercise = self._exercise
        if exercise is None or self._stop or self._rep >= MAX_REPS:
            self._exercise = None
            return None
        velocity = self.athlete.rep_velocity(exercise, max(self.load, 1.0), self._rep)
        if velocity <= 0.0:
            self._exercise = None
            return None
        self._rep += 1
        self.reps_lifted += 1
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

    # -- the station's loop -----------------------------------------------------------------

    async def _stream(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.rate_hz
        start = loop.time() + self.phase_s
        tick = 1
        while True:
            deadline = start + tick * self.batch_s
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            now = loop.time()
            if self.probe.recording:
                self.probe.lags_s.append(now - deadline)
            # the next tick on the grid that is still ahead (a late loop skips ticks)
            tick = max(tick + 1, math.floor((now - start) / self.batch_s) + 1)
            due = int((now - start) * self.rate_hz) - self._seq
            if due <= 0 or self._link is not LinkState.CONNECTED:
                continue
            values = self._take(due)
            self._deliver(
                SampleBatch(
                    self.device_id,
                    Channel.POSITION,
                    self._seq * period,
                    period,
                    ORIGIN_M + values,
                    time.monotonic(),
                    self._seq,
                )
            )
            self._seq += due

    async def __aenter__(self) -> Self:
        self._set_link(LinkState.CONNECTED)
        self._task = asyncio.create_task(self._stream(), name=f"paced-rack:{self.device_id}")
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
