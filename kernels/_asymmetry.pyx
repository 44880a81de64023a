# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False
"""One side of a two-sided rack, compiled (see kernels/reference/asymmetry.py).

Keeps, for the last ``window`` seconds, checkpoints every ``stride`` samples of the time,
the side's position and the running integrals of its force and of the time the force was
known, so a rep's window can be asked later for that side's range, velocity and mean force
without keeping every sample. Same operations, in the same order, as the reference.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport NAN, isnan

from kernels._gil cimport NOGIL_MIN_ITEMS

from kernels.errors import InvalidInputError


@cython.final
cdef class SideTrackCore:
    cdef double* ct  # checkpoint times (relative to origin)
    cdef double* cx  # positions
    cdef double* ci  # force integral (N s)
    cdef double* cc  # covered time (s)
    cdef long size, count, head  # ring of checkpoints, head = next slot
    cdef long stride, phase
    cdef double origin, integral, covered, f_prev, t_prev
    cdef bint started

    def __cinit__(self, long stride, long capacity):
        self.size = capacity
        self.stride = stride
        self.ct = <double*>PyMem_Malloc(capacity * sizeof(double))
        self.cx = <double*>PyMem_Malloc(capacity * sizeof(double))
        self.ci = <double*>PyMem_Malloc(capacity * sizeof(double))
        self.cc = <double*>PyMem_Malloc(capacity * sizeof(double))
        if self.ct == NULL or self.cx == NULL or self.ci == NULL or self.cc == NULL:
            raise MemoryError()
        self.count = 0
        self.head = 0
        self.phase = 0
        self.origin = NAN
        self.integral = 0.0
        self.covered = 0.0
        self.f_prev = NAN
        self.t_prev = NAN
        self.started = False

    def __dealloc__(self):
        PyMem_Free(self.ct)
        PyMem_Free(self.cx)
        PyMem_Free(self.ci)
        PyMem_Free(self.cc)

    @property
    def origin(self):
        return self.origin

    def feed(self, const double[::1] x, const double[::1] force, double t0, double period):
        """Positions (m) and forces (N, NaN: unknown) at ``t0 + i * period``."""
        cdef Py_ssize_t n = x.shape[0]
        if force.shape[0] != n:
            raise InvalidInputError(f"{force.shape[0]} forces for {n} positions", where="batch")
        if not self.started:
            self.origin = t0
            self.started = True
        if n >= NOGIL_MIN_ITEMS:
            with nogil:
                self.take(&x[0], &force[0], n, t0, period)
        elif n:
            self.take(&x[0], &force[0], n, t0, period)

    cdef void take(
        self, const double* x, const double* force, Py_ssize_t n, double t0, double period
    ) noexcept nogil:
        cdef Py_ssize_t i
        cdef double t, f, dt
        for i in range(n):
            t = (t0 - self.origin) + i * period
            f = force[i]
            if not isnan(self.t_prev):
                dt = t - self.t_prev
                if not isnan(f) and not isnan(self.f_prev):
                    self.integral += 0.5 * (f + self.f_prev) * dt
                    self.covered += dt
            self.t_prev = t
            self.f_prev = f
            if self.phase == 0:
                self.ct[self.head] = t
                self.cx[self.head] = x[i]
                self.ci[self.head] = self.integral
                self.cc[self.head] = self.covered
                self.head = (self.head + 1) % self.size
                if self.count < self.size:
                    self.count += 1
            self.phase = (self.phase + 1) % self.stride

    def at(self, double t):
        """``(x, integral, covered)`` interpolated at relative time ``t``; NaNs outside."""
        cdef long lo, hi, mid, first, a, b
        cdef double f
        if self.count < 2:
            return NAN, NAN, NAN
        first = (self.head - self.count + self.size) % self.size
        if not (self.ct[first] <= t <= self.ct[(self.head - 1 + self.size) % self.size]):
            return NAN, NAN, NAN
        lo = 0
        hi = self.count - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.ct[(first + mid) % self.size] <= t:
                lo = mid
            else:
                hi = mid
        a = (first + lo) % self.size
        b = (first + hi) % self.size
        f = (t - self.ct[a]) / (self.ct[b] - self.ct[a])
        return (
            self.cx[a] + f * (self.cx[b] - self.cx[a]),
            self.ci[a] + f * (self.ci[b] - self.ci[a]),
            self.cc[a] + f * (self.cc[b] - self.cc[a]),
        )
