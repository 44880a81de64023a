# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Velocity loss within a set, compiled (see kernels/reference/set_analysis.py)."""


def velocity_losses(const double[::1] v, Py_ssize_t best_of, double[::1] out):
    """Write each rep's loss (% of the best of the first ``best_of`` reps) to ``out``.

    Returns the index of that best rep (the first one on ties). The caller guarantees
    1 <= best_of, len(v) >= 1, len(out) == len(v) and positive velocities.
    """
    cdef Py_ssize_t n = v.shape[0]
    cdef Py_ssize_t i, best = 0
    cdef Py_ssize_t first = best_of if best_of < n else n
    cdef double top
    with nogil:
        for i in range(1, first):
            if v[i] > v[best]:
                best = i
        top = v[best]
        for i in range(n):
            out[i] = (top - v[i]) / top * 100.0
    return best
