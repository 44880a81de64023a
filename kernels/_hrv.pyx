# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled HRV kernels: time-domain metrics, artefact classification and correction.

The public face is :mod:`kernels.hrv`, which validates input and allocates outputs; the
plain versions the tests compare against are in :mod:`kernels.reference.hrv`.
"""

from libc.math cimport INFINITY, fabs, log, sqrt

import numpy as np

# Beat classes (kept equal to kernels.hrv.BeatClass).
cdef enum:
    NORMAL = 0
    ECTOPIC = 1
    LONG = 2
    SHORT = 3
    MISSED = 4
    EXTRA = 5


cdef extern from "_hrv_simd.h" nogil:
    int gymctl_hrv_sums(const double* rr, Py_ssize_t n, double* out)
    int gymctl_rolling_quantiles(
        const double* x, Py_ssize_t n, Py_ssize_t width, double qa, double qb,
        double* out_a, double* out_b,
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


def classify_into(
    const double[::1] rr,
    signed char[::1] cls,
    double c1,
    double c2,
    double alpha,
    Py_ssize_t window,
    Py_ssize_t medfilt,
) -> None:
    """Classify every beat (Lipponen & Tarvainen 2019, Figure 1); see kernels.hrv."""
    cdef Py_ssize_t n = rr.shape[0]
    cdef Py_ssize_t i, j, k, n_cand
    cdef Py_ssize_t cand[2]
    cdef double mean_d = 0.0, v
    cdef bint eq3, eq4, eq5, eq6, eq7
    cdef double[::1] drr = np.empty(n, dtype=np.float64)
    cdef double[::1] mrr = np.empty(n, dtype=np.float64)
    cdef double[::1] med = np.empty(n, dtype=np.float64)
    cdef double[::1] th1 = np.empty(n, dtype=np.float64)
    cdef double[::1] th2 = np.empty(n, dtype=np.float64)
    cdef double[::1] q1 = np.empty(n, dtype=np.float64)
    cdef double[::1] work = np.empty(n, dtype=np.float64)
    cdef double[::1] s12 = np.zeros(n, dtype=np.float64)
    cdef double[::1] s22 = np.zeros(n, dtype=np.float64)
    for i in range(n):
        cls[i] = NORMAL
    if n < 4:
        return
    with nogil:
        # dRR, with the first set to the mean of the others (a realistic value).
        for i in range(1, n):
            drr[i] = rr[i] - rr[i - 1]
            mean_d += drr[i]
        drr[0] = mean_d / (n - 1)
        for i in range(n):
            work[i] = fabs(drr[i])
        gymctl_rolling_quantiles(&work[0], n, window, 0.25, 0.75, &q1[0], &th1[0])
        for i in range(n):
            th1[i] = alpha * (th1[i] - q1[i]) / 2.0
            # A flat window (identical intervals) has no spread: nothing there is an outlier.
            drr[i] = drr[i] / th1[i] if th1[i] > 0.0 else 0.0
        # mRR: deviation from the 11-beat median, negative side doubled.
        gymctl_rolling_quantiles(&rr[0], n, medfilt, 0.5, 0.5, &med[0], NULL)
        for i in range(n):
            v = rr[i] - med[i]
            mrr[i] = 2.0 * v if v < 0.0 else v
            work[i] = fabs(mrr[i])
        gymctl_rolling_quantiles(&work[0], n, window, 0.25, 0.75, &q1[0], &th2[0])
        for i in range(n):
            th2[i] = alpha * (th2[i] - q1[i]) / 2.0
            mrr[i] = mrr[i] / th2[i] if th2[i] > 0.0 else 0.0
        # Subspaces: S12 from the neighbours, S22 from the two following beats.
        for i in range(1, n - 1):
            if drr[i] > 0.0:
                s12[i] = max(drr[i - 1], drr[i + 1])
            elif drr[i] < 0.0:
                s12[i] = min(drr[i - 1], drr[i + 1])
        for i in range(n - 2):
            if drr[i] >= 0.0:
                s22[i] = min(drr[i + 1], drr[i + 2])
            else:
                s22[i] = max(drr[i + 1], drr[i + 2])
        for i in range(1, n - 2):
            if fabs(drr[i]) <= 1.0 or cls[i] != NORMAL:
                continue
            if (drr[i] > 1.0 and s12[i] < -c1 * drr[i] - c2) or (
                drr[i] < -1.0 and s12[i] > -c1 * drr[i] + c2
            ):
                cls[i] = ECTOPIC
                continue
            cand[0] = i
            n_cand = 1
            if i + 2 < n and fabs(drr[i + 1]) < fabs(drr[i + 2]):
                cand[1] = i + 1
                n_cand = 2
            for k in range(n_cand):
                j = cand[k]
                if j >= n - 1 or cls[j] != NORMAL:
                    continue
                eq3 = drr[j] > 1.0 and s22[j] < -1.0
                eq4 = fabs(mrr[j]) > 3.0
                eq5 = drr[j] < -1.0 and s22[j] > 1.0
                if not (eq3 or eq4 or eq5):
                    continue
                eq6 = fabs(rr[j] / 2.0 - med[j]) < th2[j]
                eq7 = fabs(rr[j] + rr[j + 1] - med[j]) < th2[j]
                if eq5 and eq7:
                    cls[j] = EXTRA
                elif eq3 and eq6:
                    cls[j] = MISSED
                elif rr[j] > med[j]:
                    cls[j] = LONG
                else:
                    cls[j] = SHORT


def correct_into(
    const double[::1] rr, const signed char[::1] cls, double[::1] out
) -> Py_ssize_t:
    """Write the corrected series into ``out``; returns its length.

    Extra beats are merged with the next interval, missed beats split in two equal halves,
    ectopic, long and short beats replaced by linear interpolation between the nearest
    normal neighbours. ``out`` needs room for ``len(rr) + count(MISSED)`` values.
    """
    cdef Py_ssize_t n = rr.shape[0]
    cdef Py_ssize_t i = 0, m = 0, a, b, k
    cdef unsigned char[::1] hole = np.zeros(out.shape[0], dtype=np.uint8)
    cdef double va, vb
    with nogil:
        while i < n:
            if cls[i] == EXTRA and i + 1 < n:
                out[m] = rr[i] + rr[i + 1]
                m += 1
                i += 2
                continue
            if cls[i] == MISSED:
                out[m] = rr[i] / 2.0
                out[m + 1] = rr[i] / 2.0
                m += 2
            elif cls[i] == ECTOPIC or cls[i] == LONG or cls[i] == SHORT:
                out[m] = rr[i]
                hole[m] = 1
                m += 1
            else:
                out[m] = rr[i]
                m += 1
            i += 1
        # Fill each run of holes on the straight line between its good neighbours.
        k = 0
        while k < m:
            if not hole[k]:
                k += 1
                continue
            a = k - 1
            b = k
            while b < m and hole[b]:
                b += 1
            if a < 0 and b >= m:
                break  # nothing good to interpolate from: leave the series as it is
            va = out[a] if a >= 0 else out[b]
            vb = out[b] if b < m else out[a]
            for k in range(a + 1, b):
                out[k] = va + (vb - va) * (k - a) / (b - a)
            k = b
    return m
