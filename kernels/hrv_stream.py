"""Streaming HRV from a heart-rate strap: RR batches in, completed windows out.

The strap's notifications reach the station as ``SampleBatch`` objects of channel ``rr``
(an event series: the values carry their own timing). The station's stream processor
passes ``batch.values`` to :meth:`RRProcessor.feed`, which keeps the beats between calls and
returns an :class:`HRVWindow` each time ``window_s`` seconds of beats are complete, its
artefacts corrected before the metrics. A morning recording is one processor whose
:meth:`RRProcessor.finish` closes the last, partial window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from kernels.hrv import (
    MAX_PLAUSIBLE_RR_MS,
    MIN_PLAUSIBLE_RR_MS,
    TimeDomain,
    correct_artifacts,
    time_domain,
)

#: Fewer beats than this make no meaningful window (a 1-minute window at rest has ~60).
MIN_WINDOW_BEATS = 8


class RRBatchLike(Protocol):
    """What :meth:`RRProcessor.feed_batch` reads of a batch: ``equipment_adapters.batch.
    SampleBatch`` fits (kernels import nothing of ours, so it is described, not imported)."""

    @property
    def channel(self) -> str: ...

    @property
    def values(self) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True, slots=True)
class HRVWindow:
    """Time-domain HRV of consecutive beats; times are seconds of beat time since the start."""

    start_s: float
    end_s: float
    n_beats: int  #: beats received in the window (before correction)
    n_corrected: int
    metrics: TimeDomain


class RRProcessor:
    """Accumulates RR intervals and closes a window every ``window_s`` seconds of beats.

    Values outside the plausible range (a strap's glitch: 0, 65535 ticks) are dropped and
    counted in :attr:`n_dropped` rather than raised: one bad notification must not end a
    live stream. Not thread-safe; one per strap.
    """

    def __init__(self, *, window_s: float = 60.0, correct: bool = True) -> None:
        if not window_s > 0.0:
            raise InvalidInputError(f"must be positive, got {window_s}", where="window_s")
        self._window_ms = window_s * 1000.0
        self._correct = correct
        self._pending = np.empty(0, dtype=np.float64)
        self._pending_start_ms = 0.0
        self.n_beats = 0  #: beats accepted since the start
        self.n_dropped = 0  #: implausible values dropped since the start
        self.last_rr_ms: float | None = None

    @property
    def heart_rate_bpm(self) -> float | None:
        """The instantaneous rate of the last beat."""
        return None if self.last_rr_ms is None else 60000.0 / self.last_rr_ms

    def feed(self, rr_ms: npt.ArrayLike) -> list[HRVWindow]:
        """Add one batch of intervals (ms); returns the windows it completed, oldest first."""
        values = np.ascontiguousarray(rr_ms, dtype=np.float64).reshape(-1)
        good = np.isfinite(values) & (values >= MIN_PLAUSIBLE_RR_MS)
        good &= values <= MAX_PLAUSIBLE_RR_MS
        if not good.all():
            self.n_dropped += int(values.size - np.count_nonzero(good))
            values = values[good]
        if values.size == 0:
            return []
        self.n_beats += int(values.size)
        self.last_rr_ms = float(values[-1])
        self._pending = np.concatenate((self._pending, values))
        ends = np.cumsum(self._pending)
        windows: list[HRVWindow] = []
        used = 0
        start_ms = 0.0  # within the pending beats
        while True:
            # The window closes on the first beat that reaches its length.
            k = int(np.searchsorted(ends, start_ms + self._window_ms, side="left"))
            if k >= ends.size:
                break
            window = self._close(self._pending[used : k + 1], start_ms)
            if window is not None:
                windows.append(window)
            start_ms = float(ends[k])
            used = k + 1
        if used:
            self._pending = self._pending[used:]
            self._pending_start_ms += start_ms
        return windows

    def feed_batch(self, batch: RRBatchLike) -> list[HRVWindow]:
        """:meth:`feed` for a strap's sample batch; refuses batches of other channels."""
        if batch.channel != "rr":
            raise InvalidInputError(
                f"expected a batch of channel 'rr', got {batch.channel!r}", where="batch.channel"
            )
        return self.feed(batch.values)

    def finish(self) -> HRVWindow | None:
        """Close the partial window (None if it holds too few beats) and start afresh."""
        window = self._close(self._pending, 0.0)
        if self._pending.size:
            self._pending_start_ms += float(self._pending.sum())
        self._pending = np.empty(0, dtype=np.float64)
        return window

    def _close(self, beats: npt.NDArray[np.float64], offset_ms: float) -> HRVWindow | None:
        if beats.size < MIN_WINDOW_BEATS:
            return None
        start = (self._pending_start_ms + offset_ms) / 1000.0
        end = start + float(beats.sum()) / 1000.0
        n_corrected = 0
        clean = beats
        if self._correct:
            correction = correct_artifacts(beats)
            clean, n_corrected = correction.rr_ms, correction.n_corrected
        return HRVWindow(start, end, int(beats.size), n_corrected, time_domain(clean))


def summarize_recording(rr_ms: npt.ArrayLike, *, correct: bool = True) -> HRVWindow:
    """One window over a whole recording (a morning reading, a file)."""
    processor = RRProcessor(window_s=float("inf"), correct=correct)
    processor.feed(rr_ms)
    window = processor.finish()
    if window is None:
        raise InvalidInputError(f"needs at least {MIN_WINDOW_BEATS} plausible intervals")
    return window
