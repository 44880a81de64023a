# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Compiled streaming position rep detector (see kernels/reference/rep_detector.py).

The algorithm, the order of its floating-point operations and its state are those of the
reference, one sample at a time, so both give the same reps to the last bit and a stream
gives the same reps however it is cut into batches. Everything per sample runs on C structs
and small ring buffers, without the GIL for a batch of ``NOGIL_MIN_SAMPLES`` or more
(``kernels/_gil.pxd``: a station's 50-sample batch keeps it, so the loop does not hand it
to a waiting thread); Python objects are made only for completed reps.
"""

cimport cython
cimport numpy as cnp
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport INFINITY, NAN, fabs, floor, isinf, isnan
from libc.stdlib cimport free, realloc
from libc.string cimport memmove

cnp.import_array()

from kernels._gil cimport NOGIL_MIN_ITEMS

from kernels.errors import InvalidInputError
from kernels.reps import RepMetrics

#: a batch this large is analysed without the GIL (``kernels/_gil.pxd``)
NOGIL_MIN_SAMPLES = NOGIL_MIN_ITEMS

cdef double G = 9.81
cdef double EXTRAPOLATION_LIMIT_S = 0.05
#: kernels.rep_config.MAX_POSITION_M: a larger position is no bar's (and its velocity
#: would overflow to infinity)
cdef double MAX_POSITION_M = 1000.0
#: new samples analysed per block (bounded buffers however large a batch is)
cdef long BLOCK = 4096


def _position_problem(double x):
    if isinf(x):
        return "position is infinite"
    return f"position {x:g} m is beyond +/-{MAX_POSITION_M:g} m"


class NotSamplesError(TypeError):
    """Not a C-contiguous 1-D float64 ndarray: the wrapper converts and calls again."""


cdef inline const double* samples(object array, Py_ssize_t* n) except NULL:
    if not (
        cnp.PyArray_Check(array)
        and cnp.PyArray_TYPE(<cnp.ndarray>array) == cnp.NPY_DOUBLE
        and cnp.PyArray_NDIM(<cnp.ndarray>array) == 1
        and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>array)
    ):
        raise NotSamplesError("expected a C-contiguous 1-D float64 ndarray")
    n[0] = cnp.PyArray_DIM(<cnp.ndarray>array, 0)
    return <const double*>cnp.PyArray_DATA(<cnp.ndarray>array)

cdef enum:
    UP = 1
    DOWN = -1
    NONE = 0
    START_AUTO = 0
    START_TOP = 1
    START_BOTTOM = 2


cdef struct Stats:
    double vpeak
    double t_vpeak
    double brake_t
    double brake_x
    double ppeak
    bint tainted


cdef struct Band:
    long n
    double st
    double stt
    double su
    double stu
    double t_edge


cdef struct Segment:
    int sign
    double t0
    double x0
    double t1
    double x1
    bint significant
    Stats stats
    double a_prev
    Band rise
    bint rise_done
    Band fall
    bint fall_reached
    Band rise2
    bint rise2_done
    Band fall2
    bint fall2_reached
    double pair[8]


cdef struct Builder:
    bint started
    double t0r
    double x0
    double t1
    double t1r
    double x1
    Stats stats
    Stats pending


cdef struct Leg:
    bint present
    int direction
    double t0
    double x0
    double t1
    double x1
    Stats stats


cdef struct RepOut:
    long index
    double start
    double end
    double cstart
    double cend
    double rom
    double mcv
    double mpv
    double vpeak
    double con_s
    double ecc_s
    double ttp
    double ppeak


cdef inline void stats_init(Stats* s) noexcept nogil:
    s.vpeak = -INFINITY
    s.t_vpeak = NAN
    s.brake_t = NAN
    s.brake_x = NAN
    s.ppeak = -INFINITY
    s.tainted = False


cdef inline void stats_merge(Stats* s, const Stats* later) noexcept nogil:
    if later.vpeak > s.vpeak:
        s.vpeak = later.vpeak
        s.t_vpeak = later.t_vpeak
        s.brake_t = later.brake_t
        s.brake_x = later.brake_x
    elif isnan(s.brake_t):
        s.brake_t = later.brake_t
        s.brake_x = later.brake_x
    if later.ppeak > s.ppeak:
        s.ppeak = later.ppeak
    s.tainted = s.tainted or later.tainted


cdef inline void band_init(Band* b) noexcept nogil:
    b.n = 0
    b.st = 0.0
    b.stt = 0.0
    b.su = 0.0
    b.stu = 0.0
    b.t_edge = NAN


cdef inline void band_add(Band* b, double tau, double u) noexcept nogil:
    b.n += 1
    b.st += tau
    b.stt += tau * tau
    b.su += u
    b.stu += tau * u


cdef inline double band_zero(const Band* b, bint rising) noexcept nogil:
    cdef double n, den, slope
    if b.n < 2:
        return NAN
    n = <double>b.n
    den = n * b.stt - b.st * b.st
    if not den > 0.0:
        return NAN
    slope = (n * b.stu - b.st * b.su) / den
    if rising:
        if not slope > 0.0:
            return NAN
    elif not slope < 0.0:
        return NAN
    return (b.st - b.su / slope) / n


cdef inline const Band* band_pick(const Band* low, const Band* high) noexcept nogil:
    if low.n >= 3:
        return low
    if high.n >= 2:
        return high
    if low.n >= 2:
        return low
    return NULL


cdef inline double dmax(double a, double b) noexcept nogil:
    # Python's max(a, b): a unless b is greater
    return b if b > a else a


cdef inline double dmin(double a, double b) noexcept nogil:
    return b if b < a else a


cdef double seg_refined_start(const Segment* seg) noexcept nogil:
    cdef const Band* band = band_pick(&seg.rise, &seg.rise2)
    cdef double tau, ta, ua, tb, ub, t
    if band != NULL:
        tau = band_zero(band, True)
        if not isnan(tau):
            return dmin(dmax(seg.t0 + tau, seg.t0 - EXTRAPOLATION_LIMIT_S), band.t_edge)
    ta = seg.pair[0]
    ua = seg.pair[1]
    tb = seg.pair[2]
    ub = seg.pair[3]
    if ub > ua:
        t = ta - ua * (tb - ta) / (ub - ua)
        return dmin(dmax(t, seg.t0 - EXTRAPOLATION_LIMIT_S), ta)
    return seg.t0


cdef double seg_refined_end(const Segment* seg) noexcept nogil:
    cdef const Band* band = band_pick(&seg.fall, &seg.fall2)
    cdef double tau, ta, ua, tb, ub, t
    if band != NULL:
        tau = band_zero(band, False)
        if not isnan(tau):
            return dmin(dmax(seg.t0 + tau, band.t_edge), seg.t1 + EXTRAPOLATION_LIMIT_S)
    ta = seg.pair[4]
    ua = seg.pair[5]
    tb = seg.pair[6]
    ub = seg.pair[7]
    if ua > ub:
        t = tb + ub * (tb - ta) / (ua - ub)
        return dmin(dmax(t, tb), seg.t1 + EXTRAPOLATION_LIMIT_S)
    return seg.t1


cdef void seg_init(Segment* seg, int sign, double t0, double x0) noexcept nogil:
    cdef int i
    seg.sign = sign
    seg.t0 = t0
    seg.x0 = x0
    seg.t1 = NAN
    seg.x1 = NAN
    seg.significant = False
    stats_init(&seg.stats)
    seg.a_prev = NAN
    band_init(&seg.rise)
    seg.rise_done = False
    band_init(&seg.fall)
    seg.fall_reached = False
    band_init(&seg.rise2)
    seg.rise2_done = False
    band_init(&seg.fall2)
    seg.fall2_reached = False
    for i in range(8):
        seg.pair[i] = NAN


cdef inline void builder_reset(Builder* b) noexcept nogil:
    b.started = False
    b.t0r = NAN
    b.x0 = NAN
    b.t1 = NAN
    b.t1r = NAN
    b.x1 = NAN
    stats_init(&b.stats)
    stats_init(&b.pending)


cdef void builder_commit(Builder* b, const Segment* seg) noexcept nogil:
    if b.started:
        stats_merge(&b.stats, &b.pending)
        stats_merge(&b.stats, &seg.stats)
    else:
        b.started = True
        b.t0r = seg_refined_start(seg)
        b.x0 = seg.x0
        b.stats = seg.stats
    b.t1 = seg.t1
    b.t1r = seg_refined_end(seg)
    b.x1 = seg.x1
    stats_init(&b.pending)


cdef inline Leg builder_leg(const Builder* b, int direction) noexcept nogil:
    cdef Leg leg
    leg.present = True
    leg.direction = direction
    leg.t0 = b.t0r
    leg.x0 = b.x0
    leg.t1 = b.t1r
    leg.x1 = b.x1
    leg.stats = b.stats
    return leg


cdef inline double leg_rom(const Leg* leg) noexcept nogil:
    cdef double d = leg.x1 - leg.x0
    return -d if d < 0.0 else d


cdef inline void leg_extend(Leg* leg, const Leg* later) noexcept nogil:
    leg.t1 = later.t1
    leg.x1 = later.x1
    stats_merge(&leg.stats, &later.stats)


@cython.final
cdef class RepDetectorCore:
    """The compiled detector; use :class:`kernels.rep_detector.RepDetector`."""

    # configuration
    cdef double pnom, min_rom, partial_min, significant, reversal, return_fraction
    cdef double rom_fraction, settle, max_gap, set_gap, band_low, band_high
    cdef double fast_dt  # a sample this close to the previous one is neither gap nor break
    cdef int m, h, H, delay
    cdef public int mode
    cdef double load  # NaN: unknown
    # time base
    cdef double origin, last_t, reg_base, reg_period
    cdef long reg_n
    # input and filters: linear buffers holding the history the filters need followed by
    # the samples not analysed yet; bx[i] and bt[i] are stream sample base + i, bxs[i] is
    # smoothed sample xsbase + i, bv[i] the velocity of point next_k + i
    cdef double* bx
    cdef double* bt
    cdef double* bxs
    cdef double* bv
    cdef long cap, keep, keep_xs, base, nb, xsbase, nxs
    cdef bint have_valid
    cdef double tv, xv
    cdef long n_in  # samples pushed since the stream (re)started
    cdef double x_first
    cdef double run_sum
    cdef long next_j, next_k
    # state machine
    cdef bint have_seg
    cdef Segment seg
    cdef double tp, xp, vp
    cdef Builder up, down
    cdef int active
    cdef double ext
    # rep assembly
    cdef Leg prev, held, pending_con
    cdef double ref_rom, ref_t
    cdef public long partial_reps
    cdef public long reps_completed
    cdef RepOut* out
    cdef long n_out, cap_out

    def __cinit__(self):
        self.bx = NULL
        self.bt = NULL
        self.bxs = NULL
        self.bv = NULL
        self.out = NULL

    def __init__(
        self,
        double sample_rate_hz,
        int start,
        double min_rom_m,
        double partial_min_m,
        double significant_m,
        double reversal_m,
        double return_fraction,
        double rom_fraction,
        double settle_s,
        double max_gap_s,
        double set_gap_s,
        int half_window,
        int diff_span,
        double band_low_ms,
        double band_high_ms,
        load_kg=None,
    ):
        self.pnom = 1.0 / sample_rate_hz
        self.mode = start
        self.min_rom = min_rom_m
        self.partial_min = partial_min_m
        self.significant = significant_m
        self.reversal = reversal_m
        self.return_fraction = return_fraction
        self.rom_fraction = rom_fraction
        self.settle = settle_s
        self.max_gap = max_gap_s
        self.fast_dt = dmin(1.5 * self.pnom, max_gap_s)
        self.set_gap = set_gap_s
        self.m = half_window
        self.h = diff_span
        self.H = 2 * diff_span
        self.delay = half_window + 2 * diff_span
        self.band_low = band_low_ms
        self.band_high = band_high_ms
        self.load = NAN if load_kg is None else <double>load_kg
        self.keep = self.m + 2 * self.H + 2
        self.keep_xs = 2 * self.H + 2
        self.cap = self.keep + BLOCK + self.delay
        self.bx = <double*>PyMem_Malloc(self.cap * sizeof(double))
        self.bt = <double*>PyMem_Malloc(self.cap * sizeof(double))
        self.bxs = <double*>PyMem_Malloc(self.cap * sizeof(double))
        self.bv = <double*>PyMem_Malloc(self.cap * sizeof(double))
        if self.bx == NULL or self.bt == NULL or self.bxs == NULL or self.bv == NULL:
            raise MemoryError()
        self.origin = NAN
        self.last_t = -INFINITY
        self.reg_base = NAN
        self.reg_period = NAN
        self.reg_n = 0
        self.prev.present = False
        self.held.present = False
        self.pending_con.present = False
        self.ref_rom = 0.0
        self.ref_t = NAN
        self.partial_reps = 0
        self.reps_completed = 0
        self.n_out = 0
        self.cap_out = 0
        self.reset_stream()

    def __dealloc__(self):
        PyMem_Free(self.bx)
        PyMem_Free(self.bt)
        PyMem_Free(self.bxs)
        PyMem_Free(self.bv)
        free(self.out)

    @property
    def load_kg(self):
        return None if isnan(self.load) else self.load

    @load_kg.setter
    def load_kg(self, value):
        self.load = NAN if value is None else <double>value

    # ------------------------------------------------------------------ API

    def feed(self, object values, double t0, double period):
        """Samples ``values[i]`` at ``t0 + i * period``; returns the completed reps."""
        cdef Py_ssize_t n
        cdef const double* x = samples(values, &n)
        cdef Py_ssize_t i, bad
        cdef double t0_rel, expected, first, base
        cdef long n0
        cdef bint rebase
        if not (period > 0.0 and not isinf(period) and not isnan(t0) and not isinf(t0)):
            raise InvalidInputError("t0 and period must be finite, period > 0", where="batch")
        if not (0.5 <= period / self.pnom <= 2.0):
            raise InvalidInputError(
                f"period {period} s does not match the detector's {1.0 / self.pnom} Hz",
                where="batch",
            )
        bad = -1
        for i in range(n):
            if fabs(x[i]) > MAX_POSITION_M:  # NaN (a dropout) compares false
                bad = i
                break
        if bad >= 0:
            raise InvalidInputError(_position_problem(x[bad]), where=f"sample {bad}")
        if n == 0:
            return self.take()
        if isnan(self.origin):
            self.origin = t0
        t0_rel = t0 - self.origin
        expected = self.reg_base + self.reg_n * self.reg_period
        rebase = isnan(self.reg_base) or period != self.reg_period or t0_rel > expected + 0.5 * period
        if not rebase and t0_rel < expected - 0.5 * period:
            raise InvalidInputError(
                f"batch starts at t0={t0} before the previous batch ended", where="batch"
            )
        base = t0_rel if rebase else self.reg_base
        n0 = 0 if rebase else self.reg_n
        first = base + n0 * period
        if not first > self.last_t:
            raise InvalidInputError(
                f"batch starts at t0={t0} before the previous batch ended", where="batch"
            )
        self.reg_base = base
        self.reg_period = period
        if n >= NOGIL_MIN_ITEMS:
            with nogil:
                self.take_regular(x, n, base, n0, period)
        else:
            self.take_regular(x, n, base, n0, period)
        self.reg_n = n0 + n
        return self.take()

    def feed_timed(self, object t_array, object values):
        """Samples ``values[i]`` at ``t[i]`` (strictly increasing seconds)."""
        cdef Py_ssize_t n, nt
        cdef const double* t = samples(t_array, &nt)
        cdef const double* x = samples(values, &n)
        cdef Py_ssize_t i, bad = -1
        cdef int why = 0
        cdef double origin, last
        if nt != n:
            raise InvalidInputError(f"{nt} timestamps for {n} positions", where="batch")
        if n == 0:
            return self.take()
        origin = t[0] if isnan(self.origin) else self.origin
        last = self.last_t
        for i in range(n):  # a pass of a few ns a sample: with the GIL, as feed's check
            if fabs(x[i]) > MAX_POSITION_M:
                bad = i
                why = 1
                break
            if isnan(t[i]) or isinf(t[i]):
                bad = i
                why = 2
                break
            if not t[i] - origin > last:
                bad = i
                why = 3
                break
            last = t[i] - origin
        if bad >= 0:
            problem = (
                _position_problem(x[bad]) if why == 1 else "",
                "timestamp is not a finite number",
                "time does not increase",
            )[why - 1]
            raise InvalidInputError(problem, where=f"sample {bad}")
        self.origin = origin
        self.reg_base = NAN
        if n >= NOGIL_MIN_ITEMS:
            with nogil:
                self.take_timed(t, x, n, origin)
        else:
            self.take_timed(t, x, n, origin)
        return self.take()

    def finish(self):
        """End of the stream: analyse the look-ahead and report what completed."""
        # with the GIL: the look-ahead is a few hundred samples (kernels/_gil.pxd)
        self.flush()
        self.reset_stream()
        self.close_attempts()
        return self.take()

    cdef object take(self):
        cdef long i
        cdef RepOut* r
        if self.n_out == 0:
            return ()
        reps = []
        has_load = not isnan(self.load)
        for i in range(self.n_out):
            r = &self.out[i]
            reps.append(
                RepMetrics(
                    r.index,
                    r.start,
                    r.end,
                    r.cstart,
                    r.cend,
                    r.rom,
                    r.mcv,
                    r.mpv,
                    r.vpeak,
                    r.con_s,
                    r.ecc_s,
                    r.ttp,
                    self.load * G * r.mcv if has_load else None,
                    self.load * r.ppeak if has_load else None,
                )
            )
        self.n_out = 0
        return tuple(reps)

    # ---------------------------------------------------------------- input

    cdef void take_regular(
        self, const double* x, Py_ssize_t n, double base, long n0, double period
    ) noexcept nogil:
        cdef Py_ssize_t i
        for i in range(n):
            self.take_sample(base + (n0 + i) * period, x[i])
        self.process()

    cdef void take_timed(
        self, const double* t, const double* x, Py_ssize_t n, double origin
    ) noexcept nogil:
        cdef Py_ssize_t i
        for i in range(n):
            self.take_sample(t[i] - origin, x[i])
        self.process()

    cdef inline void take_sample(self, double t, double x) noexcept nogil:
        """The common case inline (a valid sample right after the previous one), else accept()."""
        if (
            self.have_valid
            and x == x
            and t - self.tv <= self.fast_dt
            and self.nb < self.cap - self.delay
        ):
            self.last_t = t
            self.bx[self.nb] = x
            self.bt[self.nb] = t
            self.nb += 1
            self.n_in += 1
            self.tv = t
            self.xv = x
        else:
            self.accept(t, x)

    cdef void accept(self, double t, double x) noexcept nogil:
        cdef double dt, frac
        cdef long n_ins, i
        self.last_t = t
        if isnan(x):
            return
        if not self.have_valid:
            self.push(t, x)
        else:
            dt = t - self.tv
            if dt > self.max_gap:
                self.process()
                self.flush()
                self.reset_stream()
                self.push(t, x)
            elif dt > 1.5 * self.pnom:
                n_ins = <long>floor(dt / self.pnom + 0.5) - 1
                for i in range(1, n_ins + 1):
                    frac = <double>i / <double>(n_ins + 1)
                    self.push(self.tv + dt * frac, self.xv + (x - self.xv) * frac)
                self.push(t, x)
            else:
                self.push(t, x)
        self.have_valid = True
        self.tv = t
        self.xv = x

    # -------------------------------------------------------------- filters

    cdef void reset_stream(self) noexcept nogil:
        self.have_valid = False
        self.tv = NAN
        self.xv = NAN
        self.n_in = 0
        self.nb = 0
        self.nxs = 0
        self.run_sum = NAN
        self.next_j = -self.H
        self.next_k = 0
        self.have_seg = False
        self.tp = NAN
        self.xp = NAN
        self.vp = NAN
        builder_reset(&self.up)
        builder_reset(&self.down)
        self.active = NONE
        self.ext = NAN

    cdef inline double X(self, long i) noexcept nogil:
        return self.bx[i - self.base]

    cdef inline double T(self, long i) noexcept nogil:
        return self.bt[i - self.base]

    cdef inline double XS(self, long j) noexcept nogil:
        return self.bxs[j - self.xsbase]

    cdef inline void push(self, double t, double x) noexcept nogil:
        """Append one sample; analysed by the next process()."""
        cdef long i
        if self.n_in == 0:
            # the stream's past is its first sample repeated, at the nominal period
            self.x_first = x
            self.base = -self.keep
            self.xsbase = -self.H
            for i in range(self.keep):
                self.bx[i] = x
                self.bt[i] = t + <double>(i - self.keep) * self.pnom
            self.nb = self.keep
        elif self.nb == self.cap - self.delay:
            self.process()
        self.bx[self.nb] = x
        self.bt[self.nb] = t
        self.nb += 1
        self.n_in += 1

    cdef void process(self) noexcept nogil:
        """Smooth, differentiate and analyse every point the buffered samples made ready."""
        cdef long m = self.m
        cdef long h = self.h
        cdef long H = self.H
        cdef double width = <double>(2 * m + 1)
        cdef double inv_width = 1.0 / width
        cdef long last = self.n_in - 1
        cdef long j, k, k0, k1, drop
        cdef double run = self.run_sum
        cdef double* bx = self.bx
        cdef double* bt = self.bt
        cdef double* bxs = self.bxs
        cdef double* bv = self.bv
        cdef long b = self.base
        cdef long xb = self.xsbase
        if self.n_in == 0:
            return
        # pass 1: running boxcar (sequential sums, the reference's order)
        j = self.next_j
        while j + m <= last:
            if j == -H:
                run = self.x_first * width
            else:
                run = run + (bx[j + m - b] - bx[j - m - 1 - b])
            bxs[j - xb] = run * inv_width
            j += 1
        self.run_sum = run
        self.next_j = j
        self.nxs = j - xb
        # pass 2: velocity of every ready point (independent: pipelines well)
        k0 = self.next_k
        k1 = self.next_j - 1 - H
        for k in range(k0, k1 + 1):
            bv[k - k0] = (bxs[k + h - xb] - bxs[k - h - xb]) / (bt[k + h - b] - bt[k - h - b])
        # pass 3: the state machine, point by point
        for k in range(k0, k1 + 1):
            self.point(k, bv[k - k0])
        if k1 >= k0:
            self.next_k = k1 + 1
        # keep only the history the next samples need
        drop = self.nb - self.keep
        if drop > 0:
            memmove(bx, bx + drop, self.keep * sizeof(double))
            memmove(bt, bt + drop, self.keep * sizeof(double))
            self.nb = self.keep
            self.base += drop
        drop = self.nxs - self.keep_xs
        if drop > 0:
            memmove(bxs, bxs + drop, self.keep_xs * sizeof(double))
            self.nxs = self.keep_xs
            self.xsbase += drop

    cdef void flush(self) noexcept nogil:
        cdef long last, i
        cdef double x_last, t_last
        cdef Builder* b
        cdef bint moving
        if self.n_in == 0:
            return
        self.process()
        last = self.n_in - 1
        x_last = self.X(last)
        t_last = self.T(last)
        for i in range(1, self.delay + 1):
            self.bx[self.nb] = x_last
            self.bt[self.nb] = t_last + <double>i * self.pnom
            self.nb += 1
            self.n_in += 1
        self.process()
        self.n_in = last + 1
        if self.active != NONE:
            b = &self.up if self.active == UP else &self.down
            moving = self.have_seg and self.seg.sign == self.active and self.seg.significant
            if b.started and not moving:
                self.emit_leg(builder_leg(b, self.active))
        self.close_attempts()

    # -------------------------------------------------------- state machine

    cdef inline void point(self, long k, double v) noexcept nogil:
        cdef long H = self.H
        cdef double t = self.T(k)
        cdef double xs = self.XS(k)
        cdef int sign = UP if v > 0.0 else DOWN
        cdef Segment* seg = &self.seg
        cdef double f, tc, xc, u, dtf, dtb, r, vw, a, ap, p
        if not self.have_seg:
            seg_init(seg, sign, t, xs)
            seg.stats.tainted = True
            self.have_seg = True
        elif sign != seg.sign:
            f = self.vp / (self.vp - v)
            tc = self.tp + f * (t - self.tp)
            xc = self.xp + f * (xs - self.xp)
            seg.t1 = tc
            seg.x1 = xc
            self.close_segment()
            seg_init(seg, sign, tc, xc)
        u = v if sign == UP else -v
        if u >= self.band_low:
            self.bands(seg, t, u)
            if sign == UP:
                dtf = self.T(k + H) - t
                dtb = t - self.T(k - H)
                r = 1.0 / ((dtf * dtb) * (self.T(k + H) - self.T(k - H)))
                vw = ((self.XS(k + H) - self.XS(k - H)) * (dtf * dtb)) * r
                a = (2.0 * ((self.XS(k + H) - xs) * dtb - (xs - self.XS(k - H)) * dtf)) * r
                if vw > seg.stats.vpeak:
                    seg.stats.vpeak = vw
                    seg.stats.t_vpeak = t
                    seg.stats.brake_t = NAN
                    seg.stats.brake_x = NAN
                elif isnan(seg.stats.brake_t) and a <= -G:
                    ap = seg.a_prev
                    if isnan(ap):
                        seg.stats.brake_t = t
                        seg.stats.brake_x = xs
                    elif ap <= -G:
                        seg.stats.brake_t = self.tp
                        seg.stats.brake_x = self.xp
                    else:
                        f = (ap + G) / (ap - a)
                        seg.stats.brake_t = self.tp + f * (t - self.tp)
                        seg.stats.brake_x = self.xp + f * (xs - self.xp)
                p = (G + a) * v
                if p > seg.stats.ppeak:
                    seg.stats.ppeak = p
                seg.a_prev = a
        else:
            seg.a_prev = NAN
        if not seg.significant and seg.sign * (xs - seg.x0) >= self.significant:
            seg.significant = True
        self.check_legs(t, xs)
        self.tp = t
        self.xp = xs
        self.vp = v

    cdef inline void bands(self, Segment* seg, double t, double u) noexcept nogil:
        """Boundary extrapolation sums: every branch needs u >= band_low."""
        cdef double top = 3.0 * self.band_high
        cdef double* pair = seg.pair
        if not seg.rise_done:
            if u >= self.band_high:
                seg.rise_done = True
            else:
                if seg.rise.n == 0:
                    seg.rise.t_edge = t
                band_add(&seg.rise, t - seg.t0, u)
        if u >= self.band_high:
            seg.fall_reached = True
            band_init(&seg.fall)
        elif seg.fall_reached:
            band_add(&seg.fall, t - seg.t0, u)
            seg.fall.t_edge = t
        if isnan(pair[0]):
            pair[0] = t
            pair[1] = u
        elif isnan(pair[2]):
            pair[2] = t
            pair[3] = u
        pair[4] = pair[6]
        pair[5] = pair[7]
        pair[6] = t
        pair[7] = u
        if not seg.rise2_done:
            if u >= top:
                seg.rise2_done = True
            elif u >= self.band_high:
                if seg.rise2.n == 0:
                    seg.rise2.t_edge = t
                band_add(&seg.rise2, t - seg.t0, u)
        if u >= top:
            seg.fall2_reached = True
            band_init(&seg.fall2)
        elif seg.fall2_reached and u >= self.band_high:
            band_add(&seg.fall2, t - seg.t0, u)
            seg.fall2.t_edge = t

    cdef void close_segment(self) noexcept nogil:
        cdef Segment* seg = &self.seg
        cdef int d = seg.sign
        cdef Builder* b = &self.up if d == UP else &self.down
        cdef Builder* o = &self.down if d == UP else &self.up
        if seg.significant:
            if o.started:
                stats_merge(&o.pending, &seg.stats)
            builder_commit(b, seg)
            if self.active == NONE:
                self.active = d
                self.ext = seg.x1
            if self.active == d:
                builder_reset(o)
        else:
            if b.started:
                stats_merge(&b.pending, &seg.stats)
            if o.started:
                stats_merge(&o.pending, &seg.stats)

    cdef inline void check_legs(self, double t, double xs) noexcept nogil:
        cdef int active = self.active
        cdef Builder* b
        cdef bint resuming, reversed_
        cdef Segment* seg = &self.seg
        if active != NONE:
            b = &self.up if active == UP else &self.down
            resuming = seg.sign == active and seg.significant
            if b.started and not resuming and t - b.t1 >= self.settle:
                self.emit_leg(builder_leg(b, active))
                builder_reset(b)
                self.active = NONE
            else:
                if active == UP:
                    self.ext = dmax(self.ext, xs)
                    reversed_ = xs < self.ext - self.reversal
                else:
                    self.ext = dmin(self.ext, xs)
                    reversed_ = xs > self.ext + self.reversal
                if reversed_:
                    if b.started:
                        self.emit_leg(builder_leg(b, active))
                    builder_reset(b)
                    self.active = -active
                    self.ext = xs
        self.expire(&self.up, UP, t)
        self.expire(&self.down, DOWN, t)

    cdef inline void expire(self, Builder* other, int d, double t) noexcept nogil:
        """A movement that did not become the leg within settle_s of its last step is noise."""
        if d == self.active or not other.started:
            return
        if not (self.seg.sign == d and self.seg.significant) and t - other.t1 >= self.settle:
            builder_reset(other)

    # --------------------------------------------------------- rep assembly

    cdef void emit_leg(self, Leg leg) noexcept nogil:
        if leg.stats.tainted:
            self.close_attempts()
            self.prev.present = False
            return
        if leg_rom(&leg) < self.partial_min:
            return
        if leg.direction == UP:
            self.on_up(leg)
        else:
            self.on_down(leg)

    cdef void on_up(self, Leg leg) noexcept nogil:
        cdef Leg con
        cdef bint have_ecc
        cdef double rom = leg_rom(&leg)
        if self.mode == START_AUTO and rom >= self.min_rom:
            self.mode = START_BOTTOM
        if self.mode == START_BOTTOM:
            if rom < self.min_rom:
                self.partial_reps += 1
            else:
                if self.pending_con.present:
                    self.classify(&self.pending_con, NULL)
                self.pending_con = leg
            self.prev = leg
        elif self.mode == START_TOP:
            con = leg
            if self.held.present:
                leg_extend(&self.held, &leg)
                con = self.held
                self.held.present = False
            have_ecc = self.prev.present and self.prev.direction == DOWN
            if have_ecc and not self.returned(&con, &self.prev):
                self.held = con
                return
            self.classify(&con, &self.prev if have_ecc else NULL)
            self.prev = con
        else:
            self.partial_reps += 1
            self.prev = leg

    cdef void on_down(self, Leg leg) noexcept nogil:
        if self.mode == START_BOTTOM:
            if self.pending_con.present:
                self.classify(&self.pending_con, &leg)
                self.pending_con.present = False
            self.prev = leg
            return
        if self.held.present:
            self.partial_reps += 1
            self.held.present = False
            self.prev = leg
        elif self.prev.present and self.prev.direction == DOWN:
            leg_extend(&self.prev, &leg)
        else:
            self.prev = leg
        if self.mode == START_AUTO and leg_rom(&self.prev) >= self.min_rom:
            self.mode = START_TOP

    cdef bint returned(self, const Leg* con, const Leg* ecc) noexcept nogil:
        cdef double tolerance = dmax(self.reversal, self.return_fraction * (ecc.x0 - ecc.x1))
        cdef double d = con.x1 - ecc.x0
        return (-d if d < 0.0 else d) <= tolerance

    cdef void classify(self, const Leg* con, const Leg* ecc) noexcept nogil:
        cdef double rom = con.x1 - con.x0
        cdef double ref = self.ref_rom if con.t0 - self.ref_t <= self.set_gap else 0.0
        cdef bint ok = rom >= self.min_rom and rom >= self.rom_fraction * ref
        cdef RepOut* r
        cdef RepOut* grown
        cdef double con_s, mcv
        if self.mode == START_TOP and ecc == NULL:
            ok = False
        if isnan(con.stats.t_vpeak):
            ok = False  # no velocity sample inside it: too short to be a concentric
        if not ok:
            self.partial_reps += 1
            return
        self.ref_rom = rom
        self.ref_t = con.t1
        if self.n_out == self.cap_out:
            grown = <RepOut*>realloc(self.out, (2 * self.cap_out + 8) * sizeof(RepOut))
            if grown == NULL:
                return  # out of memory: the rep is lost rather than the process
            self.out = grown
            self.cap_out = 2 * self.cap_out + 8
        r = &self.out[self.n_out]
        self.n_out += 1
        con_s = con.t1 - con.t0
        mcv = rom / con_s
        r.index = self.reps_completed
        r.start = (ecc.t0 if self.mode == START_TOP and ecc != NULL else con.t0) + self.origin
        r.end = con.t1 + self.origin
        r.cstart = con.t0 + self.origin
        r.cend = con.t1 + self.origin
        r.rom = rom
        r.mcv = mcv
        if isnan(con.stats.brake_t):
            r.mpv = mcv
        else:
            r.mpv = (con.stats.brake_x - con.x0) / (con.stats.brake_t - con.t0)
        r.vpeak = con.stats.vpeak
        r.con_s = con_s
        if ecc == NULL:
            r.ecc_s = 0.0
        elif self.mode == START_TOP:
            r.ecc_s = dmin(ecc.t1, con.t0) - ecc.t0
        else:
            r.ecc_s = ecc.t1 - dmax(ecc.t0, con.t1)
        r.ttp = con.stats.t_vpeak - con.t0
        r.ppeak = con.stats.ppeak
        self.reps_completed += 1

    cdef void close_attempts(self) noexcept nogil:
        if self.pending_con.present:
            self.classify(&self.pending_con, NULL)
            self.pending_con.present = False
        if self.held.present:
            self.partial_reps += 1
            self.held.present = False
