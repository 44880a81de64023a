"""A rack at the adapter boundary with an athlete on it, its reps rendered from a script.

The common part of the racks that stand in for Modbus racks where a real server per rack
would measure or wait on the wrong thing: the load benchmark's
:class:`benchmarks.paced_rack.PacedRack` (real time) and the tests' ``ScriptedRack``
(faster than real time). The athlete lifts when told (:meth:`ScriptRack.lift`); each rep is
a half-sine movement (:class:`benchmarks.traces.Script`) whose mean velocity comes from the
athlete model at the load the rack holds, with fatigue rep by rep; the athlete racks the
bar after a cue whose text starts with STOP (or on the safe state), as the reference rack's
athlete does. Subclasses own the pacing: their :meth:`ScriptRack._stream` takes samples
with :meth:`ScriptRack._take` and delivers them.
"""

from __future__ import annotations

import abc
import asyncio
import functools
from types import TracebackType
from typing import ClassVar, Self

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
from equipment_adapters.batch import Channel
from equipment_adapters.emulators.athlete import SimulatedAthlete
from equipment_adapters.errors import DeviceUnavailableError

ORIGIN_M = 0.25  #: the bar's lowest point above the rack's zero, m
MAX_REPS = 30  #: the athlete racks the bar after this many reps of a set
NOISE_M = 0.0002  #: the sensor's noise, m (standard deviation)
#: noise drawn ahead in one go (a take used to draw its own: a numpy call per batch)
NOISE_BLOCK = 8192


@functools.lru_cache(maxsize=4096)
def _rendered_rep(rom_m: float, concentric_ms: int, rate_hz: float) -> npt.NDArray[np.float64]:
    """One rep's bar heights (read-only, shared): a rep's concentric time is kept to the
    millisecond, so racks that lift the same rep share one rendering instead of each
    sampling the script again."""
    script = Script(start_height_m=rom_m).top_rep(
        rom_m, concentric_ms / 1000.0, eccentric_s=0.8, top_pause_s=0.45
    )
    _, x = script.render(rate_hz)
    out = x[1:].copy()
    out.flags.writeable = False
    return out


class ScriptRack(Adapter):
    """A scripted rack of one or two sides; subclasses pace and deliver its samples."""

    #: the prefix of the streaming task's name (``<prefix>:<device id>``)
    task_prefix: ClassVar[str] = "script-rack"

    def __init__(
        self,
        device_id: str,
        *,
        on_batch: BatchSink,
        on_event: EventSink | None = None,
        athlete: SimulatedAthlete,
        model: str,
        sides: int = 1,
        rate_hz: float = 1000.0,
        max_kg: float = 220.0,
    ) -> None:
        super().__init__(device_id=device_id, on_batch=on_batch, on_event=on_event)
        self.athlete = athlete
        self.sides = sides
        self.rate_hz = rate_hz
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
            model=model,
            channels=frozenset(channels),
            load=LoadRange(LoadUnit.KG, 0.0, max_kg, 0.5, 1000.0),
            modes=frozenset({ModeKind.STANDARD, ModeKind.SPOTTER, ModeKind.ECCENTRIC}),
            cue_display=True,
            sides=sides,
        )
        self.load = 0.0
        self._height = 0.5  #: bar height above the bottom of the rep, m
        self._queue: npt.NDArray[np.float64] = np.empty(0)
        self._queue_at = 0  #: where the next take starts in ``_queue``
        self._exercise: str | None = None
        self._rep = 0
        self._stop = False
        self._seq = 0
        self._rng = np.random.default_rng(athlete.seed)
        self._noise: npt.NDArray[np.float64] = np.empty(0)
        self._noise_at = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def apply(self, command: Command) -> None:
        if self._link is not LinkState.CONNECTED:
            raise DeviceUnavailableError("not connected", device_id=self.device_id)
        self._commanded(command)
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

    def _commanded(self, command: Command) -> None:
        """Hook: a command the rack accepted, before it takes effect."""

    # -- the athlete ----------------------------------------------------------------------

    def lift(self, exercise: str) -> None:
        """The athlete takes the bar and lifts until told to stop (or fails)."""
        self._exercise = exercise
        self._rep = 0
        self._stop = False

    def _rep_begun(self, velocity: float) -> None:
        """Hook: the athlete begins a rep at this mean concentric velocity, m/s."""

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
        self._rep_begun(velocity)
        rom = self.athlete.lift(exercise).rom_m
        return _rendered_rep(rom, max(1, round(1000.0 * rom / velocity)), self.rate_hz)

    def _take(self, n: int) -> npt.NDArray[np.float64]:
        """The next ``n`` bar heights (the bar held where it is between sets), with noise."""
        queue, at = self._queue, self._queue_at
        while queue.shape[0] - at < n:
            rest = queue[at:]
            rep = self._next_rep()
            if rep is None:
                hold = np.full(n, rest[-1] if rest.shape[0] else self._height)
                queue = np.concatenate((rest, hold))
            else:
                queue = np.concatenate((rest, rep))
            at = 0
        out = queue[at : at + n]
        self._queue, self._queue_at = queue, at + n
        self._height = float(out[-1])
        return out + self._noise_of(n)

    def _noise_of(self, n: int) -> npt.NDArray[np.float64]:
        noise, at = self._noise, self._noise_at
        if noise.shape[0] - at < n:
            noise = self._noise = self._rng.normal(0.0, NOISE_M, max(n, NOISE_BLOCK))
            at = 0
        self._noise_at = at + n
        return noise[at : at + n]

    # -- streaming ------------------------------------------------------------------------

    @abc.abstractmethod
    async def _stream(self) -> None:
        """Deliver samples until cancelled."""

    async def __aenter__(self) -> Self:
        self._set_link(LinkState.CONNECTED)
        self._task = asyncio.create_task(
            self._stream(), name=f"{self.task_prefix}:{self.device_id}"
        )
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
