"""Raw samples of one channel kept while a set runs, for the store's compressed traces.

A set's samples arrive in many small batches; writing each batch as its own trace row would
cost a row, a compression and a blob header per 20 ms. The buffer copies each batch into
one preallocated array (doubling when full, so a set allocates a handful of times, not once
a batch) and hands the whole set to the store writer at the end, as one ``TraceRecord``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Samples allocated up front: a minute of a 1 kHz channel.
INITIAL_CAPACITY = 60_000
#: A buffer never grows past this many samples (about 25 minutes at 1 kHz); later samples
#: of a runaway set are counted in ``dropped`` instead of exhausting memory.
MAX_SAMPLES = 1_500_000


class TraceBuffer:
    """The samples of one channel of one device during one set (1-D, or n x width)."""

    __slots__ = ("_data", "channel", "device_id", "dropped", "n", "period", "t0", "width")

    def __init__(
        self,
        device_id: str,
        channel: str,
        *,
        width: int = 1,
        capacity: int = INITIAL_CAPACITY,
    ) -> None:
        if width < 1 or capacity < 1:
            raise ValueError("width and capacity must be at least 1")
        self.device_id = device_id
        self.channel = channel
        self.width = width
        shape: tuple[int, ...] = (capacity,) if width == 1 else (capacity, width)
        self._data: npt.NDArray[np.float64] = np.empty(shape, dtype=np.float64)
        self.n = 0
        self.t0 = 0.0
        self.period = 0.0
        self.dropped = 0

    def reset(self) -> None:
        """Start a new set; the array is kept for reuse."""
        self.n = 0
        self.dropped = 0

    def append(self, values: npt.NDArray[np.float64], t0: float, period: float) -> None:
        """Copy one batch in (the first batch of a set fixes ``t0`` and ``period``)."""
        k = values.shape[0]
        if k == 0:
            return
        if self.n == 0:
            self.t0 = t0
            self.period = period
        end = self.n + k
        if end > self._data.shape[0]:
            if end > MAX_SAMPLES:
                self.dropped += k
                return
            self._grow(end)
        self._data[self.n : end] = values
        self.n = end

    def _grow(self, needed: int) -> None:
        size = self._data.shape[0]
        while size < needed:
            size *= 2
        size = min(size, MAX_SAMPLES)
        shape: tuple[int, ...] = (size,) if self.width == 1 else (size, self.width)
        grown = np.empty(shape, dtype=np.float64)
        grown[: self.n] = self._data[: self.n]
        self._data = grown

    def view(self) -> npt.NDArray[np.float64]:
        """The samples so far (a view: copy it before the next ``reset``)."""
        return self._data[: self.n]
