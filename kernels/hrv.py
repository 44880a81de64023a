"""Heart-rate variability: time-domain metrics and artefact correction of RR intervals.

Conventions are pinned because libraries differ (see ``docs/hrv.md``): SDNN is the sample
standard deviation (n - 1); RMSSD is the root mean square of the n - 1 successive
differences; pNN50 counts differences strictly greater than 50 ms over the n - 1
differences; mean HR is the mean of the instantaneous rates 60000 / RR, not 60000 / mean RR.

Artefacts are found with the adaptive method of Lipponen & Tarvainen (2019), "A robust
algorithm for heart rate variability time series artefact correction using novel beat
classification", J Med Eng Technol 43(3):173-181: successive differences (dRR) and the
deviation from an 11-beat median (mRR, negative side doubled) are normalised by alpha = 5.2
times the quartile deviation of their magnitudes over a centred 91-beat window; a beat with
|dRR| > 1 is ectopic when its neighbours fall outside the lines c1 = 0.13, c2 = 0.17 of the
(S11, S12) plane, else long or short from the (S21, S22) plane or |mRR| > 3, and among
those a missed beat when half of it is near the local median and an extra beat when it and
the next add up to it. Extra beats are merged with the next interval, missed beats split in
two, ectopic, long and short beats replaced by linear interpolation.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from kernels import _hrv
from kernels.errors import InvalidInputError

#: Parameters of Lipponen & Tarvainen (2019).
C1 = 0.13
C2 = 0.17
ALPHA = 5.2
THRESHOLD_WINDOW = 91
MEDIAN_WINDOW = 11

#: From this many beats on, the sliding windows run on two threads (same values); below,
#: starting a thread costs more than it saves.
PARALLEL_MIN_BEATS = 20_000
_THREADS = 2 if (os.cpu_count() or 1) >= 2 else 1

#: A wider range than any human heart produces at rest or in exercise; values outside it
#: are not RR intervals in milliseconds (seconds, samples, or garbage).
MIN_PLAUSIBLE_RR_MS = 150.0
MAX_PLAUSIBLE_RR_MS = 6000.0


class BeatClass(enum.IntEnum):
    NORMAL = 0
    ECTOPIC = 1
    LONG = 2
    SHORT = 3
    MISSED = 4  #: a beat the detector did not see: the interval spans two beats
    EXTRA = 5  #: a spurious detection: the interval and the next make one beat


class TimeDomain(NamedTuple):
    """Time-domain HRV of one series (ms, bpm, %).

    An immutable named tuple rather than a frozen dataclass: building a frozen dataclass
    costs more than computing the metrics of a 5-minute recording.
    """

    n_intervals: int
    mean_rr_ms: float
    mean_hr_bpm: float
    sdnn_ms: float
    rmssd_ms: float
    ln_rmssd: float  #: natural log of RMSSD in ms (-inf only for a perfectly flat series)
    pnn50_pct: float
    nn50: int

    def to_json(self) -> dict[str, float | int]:
        return {
            "n_intervals": self.n_intervals,
            "mean_rr_ms": self.mean_rr_ms,
            "mean_hr_bpm": self.mean_hr_bpm,
            "sdnn_ms": self.sdnn_ms,
            "rmssd_ms": self.rmssd_ms,
            "ln_rmssd": self.ln_rmssd,
            "pnn50_pct": self.pnn50_pct,
        }


@dataclass(frozen=True, slots=True)
class Correction:
    """A corrected RR series and what was done to it."""

    rr_ms: npt.NDArray[np.float64]
    classes: npt.NDArray[np.int8]  #: class of each input beat (BeatClass values)
    n_corrected: int  #: input beats changed, merged or split

    def count(self, beat_class: BeatClass) -> int:
        return int(np.count_nonzero(self.classes == beat_class))


def as_rr_array(
    rr_ms: npt.ArrayLike, *, where: str = "rr_ms", minimum: int = 2
) -> npt.NDArray[np.float64]:
    """Validate RR intervals (ms): 1-D, finite, within a plausible range, enough of them."""
    try:
        rr = np.ascontiguousarray(rr_ms, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"not a sequence of numbers ({exc})", where=where) from None
    if rr.ndim != 1:
        raise InvalidInputError(f"expected a 1-D series, got shape {rr.shape}", where=where)
    if rr.shape[0] < minimum:
        raise InvalidInputError(
            f"needs at least {minimum} intervals, got {rr.shape[0]}", where=where
        )
    i = _hrv.first_outside(rr, MIN_PLAUSIBLE_RR_MS, MAX_PLAUSIBLE_RR_MS)
    if i >= 0:
        raise InvalidInputError(
            f"{rr[i]!r} is not an RR interval in ms (expected {MIN_PLAUSIBLE_RR_MS:g} to "
            f"{MAX_PLAUSIBLE_RR_MS:g})",
            where=f"{where}[{i}]",
        )
    return rr


def time_domain(rr_ms: npt.ArrayLike) -> TimeDomain:
    """Mean RR, mean HR, SDNN, RMSSD, lnRMSSD and pNN50 of at least two intervals.

    Intervals must be finite and positive; the range check of :func:`as_rr_array` is left
    to callers that read untrusted files, so that this stays a single pass over the data.
    """
    try:
        rr = np.ascontiguousarray(rr_ms, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"not a sequence of numbers ({exc})", where="rr_ms") from None
    if rr.ndim != 1 or rr.shape[0] < 2:
        raise InvalidInputError(
            f"needs a 1-D series of at least 2 intervals, got shape {rr.shape}", where="rr_ms"
        )
    bad, mean_rr, mean_hr, sdnn, rmssd, ln_rmssd, pnn50, nn50 = _hrv.time_domain_values(rr)
    if bad >= 0:
        raise InvalidInputError(
            f"{rr[bad]!r} is not a positive finite interval", where=f"rr_ms[{bad}]"
        )
    return TimeDomain(rr.shape[0], mean_rr, mean_hr, sdnn, rmssd, ln_rmssd, pnn50, nn50)


def classify_beats(rr_ms: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """The :class:`BeatClass` of every interval (all normal for fewer than 4)."""
    rr = as_rr_array(rr_ms, minimum=1)
    classes = np.empty(rr.shape[0], dtype=np.int8)
    threads = _THREADS if rr.shape[0] >= PARALLEL_MIN_BEATS else 1
    _hrv.classify_into(rr, classes, C1, C2, ALPHA, THRESHOLD_WINDOW, MEDIAN_WINDOW, threads)
    return classes


def correct_artifacts(rr_ms: npt.ArrayLike, *, passes: int = 1) -> Correction:
    """Detect and correct artefacts; ``passes`` > 1 re-runs detection on the result.

    The published method is one pass; a second can catch a beat that a neighbouring
    artefact hid, at twice the cost. ``n_corrected`` adds up the passes; ``classes``
    refers to the input (the first pass).
    """
    if passes < 1:
        raise InvalidInputError(f"must be at least 1, got {passes}", where="passes")
    rr = as_rr_array(rr_ms, minimum=1)
    threads = _THREADS if rr.shape[0] >= PARALLEL_MIN_BEATS else 1
    first, out, n_corrected = _hrv.correct_pass(
        rr, C1, C2, ALPHA, THRESHOLD_WINDOW, MEDIAN_WINDOW, threads
    )
    for _ in range(passes - 1):
        if out is None:
            break
        rr = out
        _, out, flagged = _hrv.correct_pass(
            rr, C1, C2, ALPHA, THRESHOLD_WINDOW, MEDIAN_WINDOW, threads
        )
        n_corrected += flagged
    return Correction(rr_ms=rr if out is None else out, classes=first, n_corrected=n_corrected)
