"""A rack at the adapter boundary with an athlete on it, faster than real time.

The session runner's tests need many sets in a few seconds; the real rack emulator runs in
real time over Modbus (the demo's end-to-end test uses it). This adapter streams bar
positions in device time ``speed`` times faster than the wall clock; the athlete and the
reps rendered from the athlete model are ``benchmarks.script_rack.ScriptRack``'s (lifts
when told, racks the bar after a STOP cue). It records every command, like
``RecordingAdapter``, and every set begun with its reps' velocities.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from benchmarks.script_rack import ORIGIN_M, ScriptRack
from equipment_adapters.base import BatchSink, Command, EventSink, LinkState
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.emulators.athlete import SimulatedAthlete

G = 9.81


class ScriptedRack(ScriptRack):
    """A one- or two-sided scripted rack, ``speed`` times faster than real time."""

    task_prefix = "scripted-rack"

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
        super().__init__(
            device_id,
            on_batch=on_batch,
            on_event=on_event,
            athlete=athlete,
            model="scripted rack",
            sides=sides,
            rate_hz=rate_hz,
            max_kg=max_kg,
        )
        self.speed = speed
        self.batch = batch
        self.commands: list[Command] = []
        self.lifts: list[tuple[str, float]] = []  #: (exercise, load) of each set begun
        self.rep_velocities: list[list[float]] = []
        self.streaming = True

    def _commanded(self, command: Command) -> None:
        self.commands.append(command)

    # -- the athlete ----------------------------------------------------------------------

    @property
    def lifting(self) -> bool:
        return self._exercise is not None

    def lift(self, exercise: str) -> None:
        """The athlete takes the bar and lifts until told to stop (or fails)."""
        super().lift(exercise)
        self.lifts.append((exercise, self.load))
        self.rep_velocities.append([])

    def _rep_begun(self, velocity: float) -> None:
        self.rep_velocities[-1].append(velocity)

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
