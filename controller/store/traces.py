"""Raw traces as compressed blobs: pure encode and decode, no I/O.

Samples are stored as little-endian float32 (0.1 um on a 1 m position, 0.001 bpm on a heart
rate: far below any sensor's resolution) and zlib-compressed; a trace row carries what is
needed to rebuild the array: ``dtype``, ``width`` (values per sample), ``n_samples``.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

from controller.errors import StoreError

DTYPE = "<f4"
CODEC = "zlib"
LEVEL = 6


def encode(values: npt.ArrayLike) -> tuple[bytes, int, int]:
    """``(blob, n_samples, width)`` of a 1-D or 2-D array of samples."""
    array = np.ascontiguousarray(values, dtype=DTYPE)
    if array.ndim == 1:
        n, width = array.shape[0], 1
    elif array.ndim == 2:
        n, width = array.shape
    else:
        raise StoreError(f"a trace is 1-D or 2-D (samples x values), got {array.ndim}-D")
    return zlib.compress(array.tobytes(), LEVEL), int(n), int(width)


def decode(
    blob: bytes, *, n_samples: int, width: int, dtype: str = DTYPE, codec: str = CODEC
) -> npt.NDArray[np.float64]:
    """The samples of a stored trace as float64, shape (n,) or (n, width)."""
    if codec != CODEC:
        raise StoreError(f"unknown trace codec {codec!r}")
    try:
        raw = zlib.decompress(blob)
    except zlib.error as exc:
        raise StoreError(f"corrupt trace blob: {exc}") from exc
    array = np.frombuffer(raw, dtype=dtype).astype(np.float64)
    if array.size != n_samples * width:
        raise StoreError(f"trace blob holds {array.size} values, expected {n_samples} x {width}")
    return array if width == 1 else array.reshape(n_samples, width)
