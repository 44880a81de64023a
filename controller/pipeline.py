"""A station's stream processor: sample batches in, completed reps (and heart data) out.

This is the hot path of the whole controller (issue 8 runs a thousand 1 kHz stations through
it in one process), so it does per-batch work only, never per-sample Python work:

* :meth:`StreamProcessor.feed` is one dictionary lookup on the batch's channel and one
  bound-method call; channels nobody needs right now cost nothing more.
* Position batches go straight to the compiled ``RepDetector`` (one side) or, for a
  two-sided rack, are matched by sequence number with the other channels of the same FIFO
  read and fed together to ``TwoSidedRepDetector`` (left/right asymmetry per rep).
* IMU batches from a band go to ``ImuRepDetector``; heart rate to whoever listens (the
  HR-controlled ERG); RR intervals to an ``RRProcessor`` when one is given.
* While a set runs, each batch is also copied into a preallocated ``TraceBuffer`` (no
  allocation per batch) so the set's raw samples can be stored compressed at its end.

Detectors are created per set (:meth:`arm`): a set is one stream for the kernels, which
know where reps start from the exercise (top for squats and presses, bottom for pulls).
Between sets position and IMU batches are dropped after the station's telemetry.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from controller.trace_buffer import TraceBuffer
from equipment_adapters.batch import Channel, SampleBatch
from kernels.asymmetry import RepAsymmetry, TwoSidedRepDetector
from kernels.errors import InvalidInputError
from kernels.imu_reps import ImuRepDetector
from kernels.lifts import lift as find_lift
from kernels.rep_config import DetectorConfig, LiftStart
from kernels.rep_detector import RepDetector
from kernels.reps import RepMetrics

log = logging.getLogger(__name__)

_LEFT = Channel.POSITION_LEFT
_RIGHT = Channel.POSITION_RIGHT
_FORCE_LEFT = Channel.FORCE_LEFT
_FORCE_RIGHT = Channel.FORCE_RIGHT
_TWO_SIDED = frozenset({_LEFT, _RIGHT, _FORCE_LEFT, _FORCE_RIGHT})
#: the most a rate estimated from a batch's period may be off the nominal rates we round to
_RATES = (10.0, 20.0, 25.0, 50.0, 100.0, 200.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0)


@dataclass(frozen=True, slots=True)
class CompletedRep:
    """A rep the kernels found, with its asymmetry on a two-sided rack."""

    device_id: str
    metrics: RepMetrics
    source: str  #: "position" or "imu"
    asymmetry: RepAsymmetry | None = None


class HrvWindowLike(Protocol):
    """What the processor reads of an HRV window (``kernels.hrv_stream.HRVWindow``)."""

    @property
    def n_beats(self) -> int: ...


class RRFeeder(Protocol):
    """``kernels.hrv_stream.RRProcessor``: RR intervals in, completed windows out."""

    def feed(self, rr_ms: Any) -> list[Any]: ...


RepSink = Callable[[CompletedRep], None]
BatchListener = Callable[[SampleBatch], None]


def nominal_rate(period: float) -> float:
    """The sample rate a batch's period stands for (device clocks jitter a little)."""
    if not (math.isfinite(period) and period > 0.0):
        raise InvalidInputError(f"a regular batch needs a positive period, got {period!r}")
    rate = 1.0 / period
    best = min(_RATES, key=lambda r: abs(r - rate))
    return best if abs(best - rate) <= 0.02 * best else rate


def lift_start(exercise: str | None) -> LiftStart:
    """Where the exercise's reps start (AUTO for exercises the kernels do not know)."""
    if exercise is None:
        return LiftStart.AUTO
    try:
        return find_lift(exercise).start
    except InvalidInputError:
        return LiftStart.AUTO


class StreamProcessor:
    """The stream processing of one station; see the module docstring.

    ``two_sided`` lists the channels a two-sided rack delivers per FIFO read (positions,
    and forces when it measures them): a group is complete when all of them have arrived
    with the same sequence number. ``on_rep`` is called on the event loop, synchronously,
    for each completed rep of the armed set.
    """

    def __init__(
        self,
        station_id: str,
        *,
        on_rep: RepSink,
        two_sided: frozenset[Channel] = frozenset(),
        rr: RRFeeder | None = None,
        on_hrv: Callable[[Any], None] | None = None,
    ) -> None:
        unknown = two_sided - _TWO_SIDED
        if unknown or (two_sided and not {_LEFT, _RIGHT} <= two_sided):
            raise ValueError(f"two-sided channels must include both positions: {two_sided}")
        self.station_id = station_id
        self.on_rep = on_rep
        self.two_sided = two_sided
        self.rr = rr
        self.on_hrv = on_hrv
        #: extra listeners of a channel (the HR-controlled ERG listens to heart rate)
        self.listeners: dict[Channel, list[BatchListener]] = {}
        #: a two-sided rack's left and right batches of each read, set or not (telemetry)
        self.position_sink: Callable[[SampleBatch, SampleBatch], None] | None = None
        self._left: SampleBatch | None = None
        self.armed = False
        self.exercise: str | None = None
        self.load_kg: float | None = None
        self.set_id: str | None = None
        self.rep_source: str | None = None  #: "position" or "imu" while armed
        self.last: dict[Channel, float] = {}  #: newest value of each 1-D channel seen
        self.batches = 0
        self.reps = 0
        self._detector: RepDetector | None = None
        self._two: TwoSidedRepDetector | None = None
        self._imu: ImuRepDetector | None = None
        self._pending: dict[Channel, SampleBatch] = {}
        self._traces: dict[tuple[str, Channel], TraceBuffer] = {}
        self._sums: dict[Channel, list[float]] = {}  #: (sum, count) while armed
        self._handlers: dict[Channel, Callable[[SampleBatch], None]] = {
            Channel.POSITION: self._position,
            Channel.IMU: self._imu_batch,
            Channel.RR: self._rr,
            Channel.HEART_RATE: self._scalar,
            Channel.POWER: self._scalar,
            Channel.CADENCE: self._scalar,
            Channel.SPEED: self._scalar,
            Channel.RESISTANCE: self._scalar,
            Channel.TENSION: self._scalar,
        }
        for channel in two_sided:
            self._handlers[channel] = self._two_sided

    # -- control (once per set, from the session runner) -----------------------------------

    def arm(
        self,
        *,
        set_id: str,
        exercise: str | None,
        load_kg: float | None,
        rep_source: str | None,
    ) -> None:
        """A set starts: fresh detectors, empty traces, reps from ``rep_source``."""
        self.set_id = set_id
        self.exercise = exercise
        self.load_kg = load_kg if load_kg is not None and load_kg > 0 else None
        self.rep_source = rep_source
        self._detector = None
        self._two = None
        self._imu = None
        self._pending.clear()
        self._sums.clear()
        for trace in self._traces.values():
            trace.reset()
        self.armed = True

    def disarm(self) -> list[TraceBuffer]:
        """The set is over: the traces it filled (views until the next ``arm``)."""
        self.armed = False
        self.rep_source = None
        self._pending.clear()
        return [trace for trace in self._traces.values() if trace.n]

    def mean(self, channel: Channel) -> float | None:
        """Mean of a 1-D channel over the armed set (power of a bike interval)."""
        total = self._sums.get(channel)
        if not total or total[1] == 0:
            return None
        return total[0] / total[1]

    def listen(self, channel: Channel, listener: BatchListener) -> Callable[[], None]:
        """Also hand ``channel``'s batches to ``listener``; returns the undo."""
        listeners = self.listeners.setdefault(channel, [])
        listeners.append(listener)
        if channel not in self._handlers:
            self._handlers[channel] = self._scalar

        def remove() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return remove

    # -- the hot path -----------------------------------------------------------------------

    def feed(self, batch: SampleBatch) -> None:
        """One batch from one of the station's adapters (the station's ``batch_sink``)."""
        self.batches += 1
        handler = self._handlers.get(batch.channel)
        if handler is not None:
            handler(batch)

    def _trace(self, batch: SampleBatch) -> None:
        key = (batch.device_id, batch.channel)
        trace = self._traces.get(key)
        if trace is None:
            width = 1 if batch.values.ndim == 1 else int(batch.values.shape[1])
            trace = TraceBuffer(batch.device_id, batch.channel.value, width=width)
            self._traces[key] = trace
        trace.append(batch.values, batch.t0, batch.period)

    def _position(self, batch: SampleBatch) -> None:
        if not self.armed:
            return
        self._trace(batch)
        if self.rep_source != "position":
            return
        detector = self._detector
        if detector is None:
            config = DetectorConfig(nominal_rate(batch.period), start=lift_start(self.exercise))
            detector = self._detector = RepDetector(config, load_kg=self.load_kg)
        reps = detector.feed(batch.values, batch.t0, batch.period)
        if reps:
            for rep in reps:
                self._emit(CompletedRep(batch.device_id, rep, "position"))

    def _two_sided(self, batch: SampleBatch) -> None:
        channel = batch.channel
        if channel is _LEFT:
            self._left = batch
        elif channel is _RIGHT and self.position_sink is not None:
            left = self._left
            if left is not None and left.seq == batch.seq and left.t0 == batch.t0:
                self.position_sink(left, batch)
        if not self.armed:
            return
        self._trace(batch)
        if self.rep_source != "position":
            return
        pending = self._pending
        key = batch.seq if batch.seq is not None else batch.t0
        for other in pending.values():
            if (other.seq if other.seq is not None else other.t0) != key:
                pending.clear()  # a channel's batch of that read never came: start over
                break
        pending[batch.channel] = batch
        if len(pending) < len(self.two_sided):
            return
        left, right = pending[_LEFT], pending[_RIGHT]
        force_left, force_right = pending.get(_FORCE_LEFT), pending.get(_FORCE_RIGHT)
        pending.clear()
        detector = self._two
        if detector is None:
            config = DetectorConfig(nominal_rate(left.period), start=lift_start(self.exercise))
            detector = self._two = TwoSidedRepDetector(config, load_kg=self.load_kg)
        reps = detector.feed(
            left.t0,
            left.period,
            left=left.values,
            right=right.values,
            left_force=force_left.values if force_left is not None else None,
            right_force=force_right.values if force_right is not None else None,
        )
        if reps:
            for rep in reps:
                self._emit(CompletedRep(left.device_id, rep.rep, "position", rep))

    def _imu_batch(self, batch: SampleBatch) -> None:
        if not self.armed:
            return
        self._trace(batch)
        if self.rep_source != "imu":
            return
        detector = self._imu
        if detector is None:
            detector = self._imu = ImuRepDetector(
                nominal_rate(batch.period), t0=batch.t0, load_kg=self.load_kg
            )
        reps = detector.feed(batch.values)
        if reps:
            for rep in reps:
                self._emit(CompletedRep(batch.device_id, rep, "imu"))

    def _scalar(self, batch: SampleBatch) -> None:
        values = batch.values
        n = values.shape[0]
        if n and values.ndim == 1:
            channel = batch.channel
            self.last[channel] = float(values[n - 1])
            if self.armed:
                self._trace(batch)
                total = self._sums.get(channel)
                if total is None:
                    total = self._sums[channel] = [0.0, 0.0]
                total[0] += float(np.sum(values))
                total[1] += n
        listeners = self.listeners.get(batch.channel)
        if listeners:
            for listener in listeners:
                listener(batch)

    def _rr(self, batch: SampleBatch) -> None:
        values = batch.values
        if values.shape[0] == 0:
            return
        if self.armed:
            self._trace(batch)
        rr = self.rr
        if rr is not None:
            windows = rr.feed(values)
            if windows and self.on_hrv is not None:
                for window in windows:
                    self.on_hrv(window)
        listeners = self.listeners.get(Channel.RR)
        if listeners:
            for listener in listeners:
                listener(batch)

    def _emit(self, rep: CompletedRep) -> None:
        self.reps += 1
        try:
            self.on_rep(rep)
        except Exception:  # a supervisor's bug must not stop the station's data
            log.exception("station %s: rep handler failed", self.station_id)


def two_sided_channels(channels: frozenset[Channel]) -> frozenset[Channel]:
    """The channels of a device that the two-sided matcher needs (empty if one-sided)."""
    if {_LEFT, _RIGHT} <= channels:
        return channels & _TWO_SIDED
    return frozenset()


def rep_source(channels: Mapping[str, frozenset[Channel]]) -> str | None:
    """Where a station's reps come from: a position channel beats an IMU."""
    every: set[Channel] = set()
    for device_channels in channels.values():
        every |= device_channels
    if Channel.POSITION in every or {_LEFT, _RIGHT} <= every:
        return "position"
    if Channel.IMU in every:
        return "imu"
    return None
