"""Streaming rep detector for bar or cable position (linear position transducer, encoder).

Feed it numpy batches as they arrive; it keeps its state between batches and returns the
reps each batch completed, identically however the stream is cut into batches::

    detector = RepDetector(DetectorConfig(1000.0, start=LiftStart.TOP), load_kg=100.0)
    for batch in batches:  # SampleBatch of Channel.POSITION, metres, up positive
        for rep in detector.feed(batch.values, batch.t0, batch.period):
            cue(rep.mean_velocity_ms)
    detector.finish()  # end of the stream: the reps still in the look-ahead

A rep is reported once it is over: for a lift that starts at the top, ``settle_s`` after
the lockout (or as soon as the bar goes down again); for one that starts at the bottom,
when the bar is back down. Movements that are not reps (unracking, failed attempts) are
counted in :attr:`RepDetector.partial_reps`. ``docs/kernels.md`` gives the definitions
and the algorithm; ``kernels.reference.rep_detector`` is the same algorithm in plain Python.

The hot path is compiled (``kernels._rep_detector``); this wrapper only converts input to
contiguous float64 arrays, so feeding a batch costs a few microseconds plus about ten
nanoseconds a sample.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from kernels._rep_detector import NotSamplesError, RepDetectorCore
from kernels.errors import InvalidInputError
from kernels.rep_config import DetectorConfig, LiftStart
from kernels.reps import RepMetrics

__all__ = ["DetectorConfig", "LiftStart", "RegularBatch", "RepDetector"]


class RegularBatch(Protocol):
    """What :meth:`RepDetector.feed_batch` reads (``equipment_adapters.batch.SampleBatch``)."""

    @property
    def values(self) -> npt.NDArray[np.float64]: ...
    @property
    def t0(self) -> float: ...
    @property
    def period(self) -> float: ...


def _as_samples(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    """The slow path: anything array-like to a contiguous float64 vector, or a clear error."""
    try:
        array = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"not an array of numbers ({exc})", where=name) from None
    if array.ndim != 1:
        raise InvalidInputError(f"must be one-dimensional, got shape {array.shape}", where=name)
    return array


class RepDetector:
    """Reps from a position stream (metres, up positive), batch by batch.

    ``load_kg`` (settable between sets) adds mean and peak power to each rep: mean power is
    ``load x g x MCV`` (the work against gravity over the concentric time), peak power the
    maximum of ``load x (g + a) x v``. One detector per stream; it is not thread-safe
    (the compiled part runs without the GIL, so a batch may be fed from a worker thread).
    """

    __slots__ = ("_core", "config")

    def __init__(self, config: DetectorConfig, *, load_kg: float | None = None) -> None:
        self.config = config
        self._core = RepDetectorCore(
            config.sample_rate_hz,
            int(config.start),
            config.min_rom_m,
            config.partial_min_m,
            config.significant_m,
            config.reversal_m,
            config.return_fraction,
            config.rom_fraction,
            config.settle_s,
            config.max_gap_s,
            config.set_gap_s,
            config.half_window,
            config.diff_span,
            config.band_low_ms,
            config.band_high_ms,
            _check_load(load_kg),
        )

    def feed(self, values: npt.ArrayLike, t0: float, period: float) -> tuple[RepMetrics, ...]:
        """A regular batch: ``values[i]`` taken at ``t0 + i * period`` (what adapters send).

        Consecutive batches continue the stream when ``t0`` falls within half a period of
        where the previous batch ended; a later ``t0`` is a gap (bridged up to
        ``max_gap_s``), an earlier one an error. NaN values are dropouts.
        """
        try:
            return self._core.feed(values, t0, period)
        except NotSamplesError:
            return self._core.feed(_as_samples(values, "values"), t0, period)

    def feed_batch(self, batch: RegularBatch) -> tuple[RepMetrics, ...]:
        """``feed(batch.values, batch.t0, batch.period)`` for a ``SampleBatch``."""
        return self.feed(batch.values, batch.t0, batch.period)

    def feed_timed(self, t: npt.ArrayLike, values: npt.ArrayLike) -> tuple[RepMetrics, ...]:
        """Samples with their own timestamps (seconds, strictly increasing), e.g. a CSV."""
        try:
            return self._core.feed_timed(t, values)
        except NotSamplesError:
            return self._core.feed_timed(_as_samples(t, "t"), _as_samples(values, "values"))

    def finish(self) -> tuple[RepMetrics, ...]:
        """End of the stream: analyse the last samples and close what waits for more.

        Feeding may continue afterwards; it starts a new stream (like a long dropout).
        """
        return self._core.finish()

    @property
    def load_kg(self) -> float | None:
        return self._core.load_kg

    @load_kg.setter
    def load_kg(self, value: float | None) -> None:
        self._core.load_kg = _check_load(value)

    @property
    def partial_reps(self) -> int:
        """Upward movements that were not reps: unracking, failed or partial attempts."""
        return self._core.partial_reps

    @property
    def reps_completed(self) -> int:
        return self._core.reps_completed

    @property
    def start(self) -> LiftStart:
        """Where reps start; ``AUTO`` until the first full-range movement decides."""
        return LiftStart(self._core.mode)


def _check_load(load_kg: float | None) -> float | None:
    if load_kg is None:
        return None
    load = float(load_kg)
    if not (np.isfinite(load) and load >= 0.0):
        raise InvalidInputError(f"must be a finite number >= 0, got {load_kg!r}", where="load_kg")
    return load
