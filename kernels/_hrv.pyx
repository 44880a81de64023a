# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled HRV kernels: time-domain metrics, artefact classification and correction.

The public face is :mod:`kernels.hrv`, which validates input and allocates outputs; the
plain versions the tests compare against are in :mod:`kernels.reference.hrv`.
"""

from libc.math cimport INFINITY, fabs, log, sqrt

import numpy as np

cdef extern from "_hrv_simd.h" nogil:
    int gymctl_hrv_sums(const double* rr, Py_ssize_t n, double* out)
    Py_ssize_t gymctl_first_outside(const double* x, Py_ssize_t n, double lo, double hi)
    Py_ssize_t gymctl_hrv_classify(
        const double* rr, Py_ssize_t n, signed char* cls, double c1, double c2, double alpha,
        Py_ssize_t window, Py_ssize_t medfilt, int threads, Py_ssize_t* n_missed,
    )
    Py_ssize_t gymctl_hrv_correct(
        const double* rr, Py_ssize_t n, const signed char* cls, double* out
    )


def time_domain_values(const double[::1] rr) -> tuple:
    """(bad, mean RR, mean HR, SDNN, RMSSD, lnRMSSD, pNN50, NN50) of at least two intervals.

    ``bad`` is -1 when every interval is finite and positive, else the index of the first
    that is not (the other values are then zeros). One pass (``_hrv_simd.h``). The variance
    is summed around the first interval rather than zero, which keeps the one-pass formula
    exact to about 1e-13 relative for any RR series (the spread is never tiny next to that
    offset). A tuple rather than an output array: at 300 beats the call overhead is most of
    the cost.
    """
    cdef Py_ssize_t n = rr.shape[0]
    cdef Py_ssize_t i, bad = -1
    cdef double sums[5]
    cdef double s, mean = 0.0, hr = 0.0, sdnn = 0.0, rmssd = 0.0, ln_rmssd = 0.0, pnn50 = 0.0
    with nogil:
        if gymctl_hrv_sums(&rr[0], n, sums):
            for i in range(n):
                if not (rr[i] > 0.0 and rr[i] < INFINITY):
                    bad = i
                    break
        else:
            s = sums[0]
            mean = rr[0] + s / n
            hr = sums[2] / n
            sdnn = sqrt(max(sums[1] - s * s / n, 0.0) / (n - 1))
            rmssd = sqrt(sums[3] / (n - 1))
            ln_rmssd = log(rmssd) if rmssd > 0.0 else -INFINITY
            pnn50 = 100.0 * sums[4] / (n - 1)
    return bad, mean, hr, sdnn, rmssd, ln_rmssd, pnn50, <Py_ssize_t>sums[4] if bad < 0 else 0


def first_outside(const double[::1] x, double lo, double hi) -> Py_ssize_t:
    """Index of the first value not within [lo, hi] (NaN is not), or -1."""
    cdef Py_ssize_t i
    with nogil:
        i = gymctl_first_outside(&x[0], x.shape[0], lo, hi) if x.shape[0] else -1
    return i


def classify_into(
    const double[::1] rr,
    signed char[::1] cls,
    double c1,
    double c2,
    double alpha,
    Py_ssize_t window,
    Py_ssize_t medfilt,
    int threads=1,
) -> None:
    """Classify every beat (Lipponen & Tarvainen 2019, Figure 1); see kernels.hrv.

    ``threads`` = 2 cuts the sliding windows into two halves computed side by side (same
    values); it only applies to series of at least four windows.
    """
    cdef Py_ssize_t n = rr.shape[0], flagged = 0, missed
    if n == 0:
        return
    with nogil:
        flagged = gymctl_hrv_classify(
            &rr[0], n, &cls[0], c1, c2, alpha, window, medfilt, threads, &missed
        )
    if flagged < 0:
        raise MemoryError("no memory for the artefact classification")


def correct_pass(
    const double[::1] rr,
    double c1,
    double c2,
    double alpha,
    Py_ssize_t window,
    Py_ssize_t medfilt,
    int threads=1,
) -> tuple:
    """(classes, corrected series or None when nothing was flagged, beats flagged).

    One call for what kernels.hrv.correct_artifacts does per pass, so that a 5-minute
    recording pays for one crossing into C and two allocations.
    """
    cdef Py_ssize_t n = rr.shape[0], flagged = 0, missed = 0, m
    classes = np.empty(n, dtype=np.int8)
    cdef signed char[::1] cls = classes
    if n == 0:
        return classes, None, 0
    with nogil:
        flagged = gymctl_hrv_classify(
            &rr[0], n, &cls[0], c1, c2, alpha, window, medfilt, threads, &missed
        )
    if flagged < 0:
        raise MemoryError("no memory for the artefact classification")
    if flagged == 0:
        return classes, None, 0
    out = np.empty(n + missed, dtype=np.float64)
    cdef double[::1] o = out
    with nogil:
        m = gymctl_hrv_correct(&rr[0], n, &cls[0], &o[0])
    return classes, out[:m], flagged


def correct_into(
    const double[::1] rr, const signed char[::1] cls, double[::1] out
) -> Py_ssize_t:
    """Write the corrected series into ``out``; returns its length.

    Extra beats are merged with the next interval, missed beats split in two equal halves,
    ectopic, long and short beats replaced by linear interpolation between the nearest
    normal neighbours. ``out`` needs room for ``len(rr) + count(MISSED)`` values.
    """
    cdef Py_ssize_t m = 0
    if rr.shape[0] == 0:
        return 0
    with nogil:
        m = gymctl_hrv_correct(&rr[0], rr.shape[0], &cls[0], &out[0])
    return m
