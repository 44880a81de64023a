"""EMG fatigue markers for sensor apparel: RMS envelope and median frequency per window.

Local muscle fatigue shows as a fall of the median frequency of the EMG power spectrum
over successive windows and a rise of RMS amplitude at constant force. Both are computed
on non-overlapping windows (``window_s``), whole windows only, with numpy's vectorised
FFT; the DC component is removed per window before the spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class EMGWindows:
    t_s: npt.NDArray[np.float64]  #: centre of each window, seconds from the first sample
    rms: npt.NDArray[np.float64]  #: RMS amplitude per window (signal unit)
    median_hz: npt.NDArray[np.float64]  #: median frequency of the power spectrum
    mean_hz: npt.NDArray[np.float64]  #: mean (centroid) frequency of the power spectrum


def _as_signal(signal: npt.ArrayLike, fs_hz: float) -> npt.NDArray[np.float64]:
    if not fs_hz > 0:
        raise InvalidInputError(f"must be positive, got {fs_hz}", where="fs_hz")
    x = np.ascontiguousarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise InvalidInputError(f"expected a 1-D signal, got shape {x.shape}", where="signal")
    if not np.all(np.isfinite(x)):
        i = int(np.flatnonzero(~np.isfinite(x))[0])
        raise InvalidInputError("missing or infinite sample", where=f"signal[{i}]")
    return x


def rms_envelope(
    signal: npt.ArrayLike, fs_hz: float, window_s: float = 0.25
) -> npt.NDArray[np.float64]:
    """Centred moving RMS over ``window_s`` (odd number of samples), same length as input.

    At the edges the window is shortened to the samples available.
    """
    x = _as_signal(signal, fs_hz)
    w = max(1, round(window_s * fs_hz) | 1)
    half = w // 2
    c = np.concatenate(([0.0], np.cumsum(x * x)))
    idx = np.arange(x.size)
    lo = np.clip(idx - half, 0, x.size)
    hi = np.clip(idx + half + 1, 0, x.size)
    return np.asarray(np.sqrt(np.maximum(c[hi] - c[lo], 0.0) / (hi - lo)), dtype=np.float64)


def fatigue_windows(signal: npt.ArrayLike, fs_hz: float, window_s: float = 1.0) -> EMGWindows:
    """RMS, median and mean frequency of consecutive ``window_s`` windows."""
    x = _as_signal(signal, fs_hz)
    w = round(window_s * fs_hz)
    if w < 16:
        raise InvalidInputError(f"a window needs at least 16 samples, got {w}", where="window_s")
    k = x.size // w
    if k == 0:
        raise InvalidInputError(f"shorter than one window ({w} samples)", where="signal")
    frames = x[: k * w].reshape(k, w)
    frames = frames - frames.mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(w, d=1.0 / fs_hz)
    cum = np.cumsum(power, axis=1)
    total = cum[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        # First bin where the cumulative power reaches half, interpolated within the bin.
        j = np.argmax(cum >= total[:, None] / 2.0, axis=1)
        prev = np.where(j > 0, cum[np.arange(k), np.maximum(j - 1, 0)], 0.0)
        here = cum[np.arange(k), j]
        frac = np.where(here > prev, (total / 2.0 - prev) / (here - prev), 0.0)
        lower_f = np.where(j > 0, freqs[np.maximum(j - 1, 0)], freqs[0])
        median = np.where(j > 0, lower_f + frac * (freqs[j] - lower_f), freqs[0])
        mean = (power @ freqs) / total
    median = np.where(total > 0, median, np.nan)
    mean = np.where(total > 0, mean, np.nan)
    t = np.asarray((np.arange(k) + 0.5) * w / fs_hz, dtype=np.float64)
    return EMGWindows(t, rms, median, mean)
