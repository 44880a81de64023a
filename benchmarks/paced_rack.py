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

from benchmarks.script_rack import ORIGIN_M, ScriptRack
from equipment_adapters.base import BatchSink, Command, EventSink, LinkState, ShowCue
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.emulators.athlete import SimulatedAthlete

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


class PacedRack(ScriptRack):
    """A one-sided 1 kHz rack with an athlete on it, in real time; see the module docstring."""

    task_prefix = "paced-rack"

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
        super().__init__(
            device_id,
            on_batch=on_batch,
            on_event=on_event,
            athlete=athlete,
            model="paced rack (load benchmark)",
            rate_hz=rate_hz,
            max_kg=max_kg,
        )
        self.probe = probe
        self.batch_s = batch_s
        self.phase_s = phase_s
        self.reps_lifted = 0
        self._period = 1.0 / rate_hz
        # the tick's state (set when the stream starts, in the running loop)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start = 0.0
        self._tick_n = 1
        self._handle: asyncio.TimerHandle | None = None
        self._failed: asyncio.Future[None] | None = None

    def _commanded(self, command: Command) -> None:
        if isinstance(command, ShowCue):
            self.probe.cue_sent(command.cue.text, time.monotonic())

    # -- the athlete ----------------------------------------------------------------------

    def lift(self, exercise: str) -> None:
        """The athlete takes the bar and lifts until told to stop (or fails).

        An exercise the athlete does not know is not lifted (the bar stays racked).
        """
        super().lift(exercise)
        if exercise not in self.athlete.lifts:
            self._exercise = None

    def rest(self) -> None:
        self._exercise = None

    def _rep_begun(self, velocity: float) -> None:
        self.reps_lifted += 1

    # -- the station's loop -----------------------------------------------------------------

    async def _stream(self) -> None:
        # each tick is a timer callback, not a coroutine waking from asyncio.sleep: a hundred
        # racks tick 2000 times a second, and the emulator should cost the loop little more
        # than a real rack's FIFO read arriving (the lag is measured the same way: how late
        # the loop runs the tick against its schedule)
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._start = loop.time() + self.phase_s
        self._tick_n = 1
        failed = self._failed = loop.create_future()
        self._handle = loop.call_at(self._start + self.batch_s, self._tick)
        try:
            await failed  # only an error in a tick ends the stream before cancellation
        finally:
            self._handle.cancel()

    def _tick(self) -> None:
        loop = self._loop
        assert loop is not None
        now = loop.time()
        start, batch_s = self._start, self.batch_s
        deadline = start + self._tick_n * batch_s
        probe = self.probe
        if probe.recording:
            probe.lags_s.append(now - deadline)
        # the next tick on the grid that is still ahead (a late loop skips ticks)
        tick = self._tick_n = max(self._tick_n + 1, math.floor((now - start) / batch_s) + 1)
        self._handle = loop.call_at(start + tick * batch_s, self._tick)
        due = int((now - start) * self.rate_hz) - self._seq
        if due <= 0 or self._link is not LinkState.CONNECTED:
            return
        try:
            values = self._take(due)
            self._deliver(
                SampleBatch(
                    self.device_id,
                    Channel.POSITION,
                    self._seq * self._period,
                    self._period,
                    ORIGIN_M + values,
                    time.monotonic(),
                    self._seq,
                )
            )
        except Exception as exc:  # the stream's task raises it, as a coroutine's would
            self._handle.cancel()
            if self._failed is not None and not self._failed.done():
                self._failed.set_exception(exc)
            return
        self._seq += due
