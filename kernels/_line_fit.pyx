# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Weighted least-squares line, compiled (see kernels/reference/line_fit.py).

Two passes (weighted means, then centred sums) so that loads in the hundreds of kilograms
do not cancel digits; the same operations, in the same order, as the reference.
"""

from kernels._gil cimport NOGIL_MIN_ITEMS


cdef void _fit(
    const double* x, const double* y, const double* w, Py_ssize_t n, double* out
) noexcept nogil:
    cdef Py_ssize_t i
    cdef double sw = 0.0, sx = 0.0, sy = 0.0, mx, my, dx, dy
    cdef double sxx = 0.0, sxy = 0.0, syy = 0.0, slope
    for i in range(n):
        sw += w[i]
        sx += w[i] * x[i]
        sy += w[i] * y[i]
    mx = sx / sw
    my = sy / sw
    for i in range(n):
        dx = x[i] - mx
        dy = y[i] - my
        sxx += w[i] * dx * dx
        sxy += w[i] * dx * dy
        syy += w[i] * dy * dy
    slope = sxy / sxx
    out[0] = slope
    out[1] = my - slope * mx
    out[2] = 1.0 if syy == 0.0 else sxy * sxy / (sxx * syy)


def weighted_line_fit(const double[::1] x, const double[::1] y, const double[::1] w):
    """``(slope, intercept, r2)`` of ``y = intercept + slope x`` weighted by ``w``.

    The caller guarantees equal lengths, n >= 2, positive weights and x not constant.
    """
    cdef Py_ssize_t n = x.shape[0]
    cdef double out[3]
    if n >= NOGIL_MIN_ITEMS:
        with nogil:
            _fit(&x[0], &y[0], &w[0], n, out)
    else:
        _fit(&x[0], &y[0], &w[0], n, out)
    return out[0], out[1], out[2]
