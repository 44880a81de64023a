"""The position rep detector in plain Python, one sample at a time: the tests' oracle.

This is the algorithm of ``kernels._rep_detector`` written for reading, with the same
floating-point operations in the same order, so the compiled kernel must reproduce its reps
to the last bits. ``docs/kernels.md`` describes the algorithm; in short:

1. **Input.** Each sample is ``(t, x)``. A NaN position is a dropout. Between two valid
   samples more than 1.5 nominal periods apart the missing samples are bridged by linear
   interpolation when the gap is at most ``max_gap_s``; a longer gap splits the stream (what
   was finished before it is kept, the movement in progress is dropped, the filters restart).
2. **Filters** (centred, so they neither delay nor smear the phase boundaries): a boxcar of
   2m + 1 samples on position (``xs``), velocity as the difference of ``xs`` over +-h
   samples, acceleration as the second difference over +-2h samples. The stream is padded
   at its ends by repeating its first and last sample.
3. **Segments.** The stream is cut where the velocity changes sign (the crossing time is
   interpolated between samples). A segment is *significant* once it has moved
   ``significant_m`` from its start; noise and pauses make only insignificant segments.
4. **Legs.** A leg (a movement up or down) runs from the start of its first significant
   segment to the end of its last one; it ends when the bar travels ``reversal_m`` the
   other way, or stays ``settle_s`` without a new significant segment in its direction.
   The concentric phase of a rep is an up leg; pauses are outside it by construction. Its
   start and end are extrapolated to zero speed from a line fitted where the speed passes
   through ``band_low_ms``-``band_high_ms`` (noise makes the zero crossing itself early).
5. **Reps.** Legs shorter than ``partial_min_m`` are jiggles and are ignored. A lift that
   starts at the top pairs each up leg with the descent before it: a rep when it is at least
   ``min_rom_m`` (and ``rom_fraction`` of the previous rep) and returns near the descent's
   start. A lift that starts at the bottom takes each up leg of at least ``min_rom_m`` as a
   rep and reports it when the descent after it ends. Other up legs count as partial.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from kernels.rep_config import (
    EXTRAPOLATION_LIMIT_S,
    MAX_POSITION_M,
    DetectorConfig,
    G,
    LiftStart,
    position_problem,
)
from kernels.reps import RepMetrics

UP = 1
DOWN = -1
NONE = 0

FloatArray = npt.NDArray[np.float64]


class Stats:
    """What a run of samples contributes to a concentric: peak velocity, braking, power."""

    __slots__ = ("brake_t", "brake_x", "ppeak", "t_vpeak", "tainted", "vpeak")

    def __init__(self) -> None:
        self.vpeak = -math.inf
        self.t_vpeak = math.nan
        self.brake_t = math.nan  #: first a <= -G after the peak velocity (NaN: none yet)
        self.brake_x = math.nan
        self.ppeak = -math.inf  #: max of (G + a) * v: peak power per kg
        self.tainted = False  #: began before the filters had real data on both sides

    def copy(self) -> Stats:
        other = Stats()
        other.merge(self)
        return other

    def merge(self, later: Stats) -> None:
        """Fold in a run that comes after this one."""
        if later.vpeak > self.vpeak:
            self.vpeak = later.vpeak
            self.t_vpeak = later.t_vpeak
            self.brake_t = later.brake_t
            self.brake_x = later.brake_x
        elif math.isnan(self.brake_t):
            self.brake_t = later.brake_t
            self.brake_x = later.brake_x
        self.ppeak = max(self.ppeak, later.ppeak)
        self.tainted = self.tainted or later.tainted


class Band:
    """Least-squares sums of speed on time over the samples inside the velocity band."""

    __slots__ = ("n", "st", "stt", "stu", "su", "t_edge")

    def __init__(self) -> None:
        self.n = 0
        self.st = self.stt = self.su = self.stu = 0.0
        self.t_edge = math.nan  #: first sample of a rise, last of a fall

    def add(self, tau: float, u: float) -> None:
        self.n += 1
        self.st += tau
        self.stt += tau * tau
        self.su += u
        self.stu += tau * u

    def zero(self, rising: bool) -> float:
        """Where the fitted speed line reaches zero (``tau``), NaN if it cannot be fitted."""
        n = self.n
        if n < 2:
            return math.nan
        den = n * self.stt - self.st * self.st
        if not den > 0.0:
            return math.nan
        slope = (n * self.stu - self.st * self.su) / den
        if not (slope > 0.0 if rising else slope < 0.0):
            return math.nan
        return (self.st - self.su / slope) / n


class Segment:
    """The samples between two zero crossings of the velocity."""

    __slots__ = (
        "a_prev",
        "fall",
        "fall2",
        "fall2_reached",
        "fall_reached",
        "pair",
        "rise",
        "rise2",
        "rise2_done",
        "rise_done",
        "sign",
        "significant",
        "stats",
        "t0",
        "t1",
        "x0",
        "x1",
    )

    def __init__(self, sign: int, t0: float, x0: float) -> None:
        self.sign = sign
        self.t0 = t0
        self.x0 = x0
        self.t1 = math.nan
        self.x1 = math.nan
        self.significant = False
        self.stats = Stats()
        self.a_prev = math.nan
        self.rise = Band()  #: speed rising from band_low to band_high, before first reaching it
        self.rise_done = False
        self.fall = Band()  #: speed falling through the band after it was last above it
        self.fall_reached = False
        self.rise2 = Band()  #: the same for the upper band (band_high to 3 x band_high)
        self.rise2_done = False
        self.fall2 = Band()
        self.fall2_reached = False
        #: (t, u) of the first two samples above band_low and of the last two: the boundary
        #: when neither band has enough samples (a fast movement at a low sample rate)
        self.pair = [math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan]

    def refined_start(self) -> float:
        """The start extrapolated from the rise of speed; the zero crossing if it cannot be."""
        band = _pick(self.rise, self.rise2)
        if band is not None:
            tau = band.zero(True)
            if not math.isnan(tau):
                return min(max(self.t0 + tau, self.t0 - EXTRAPOLATION_LIMIT_S), band.t_edge)
        ta, ua, tb, ub = self.pair[0:4]
        if ub > ua:
            t = ta - ua * (tb - ta) / (ub - ua)
            return min(max(t, self.t0 - EXTRAPOLATION_LIMIT_S), ta)
        return self.t0

    def refined_end(self) -> float:
        band = _pick(self.fall, self.fall2)
        if band is not None:
            tau = band.zero(False)
            if not math.isnan(tau):
                return min(max(self.t0 + tau, band.t_edge), self.t1 + EXTRAPOLATION_LIMIT_S)
        ta, ua, tb, ub = self.pair[4:8]
        if ua > ub:
            t = tb + ub * (tb - ta) / (ua - ub)
            return min(max(t, tb), self.t1 + EXTRAPOLATION_LIMIT_S)
        return self.t1


def _pick(low: Band, high: Band) -> Band | None:
    """The lower band when it has 3 samples, else the upper one when it has 2."""
    if low.n >= 3:
        return low
    if high.n >= 2:
        return high
    if low.n >= 2:
        return low
    return None


class Leg:
    """A finished movement in one direction (``t0, x0`` to ``t1, x1``)."""

    __slots__ = ("direction", "stats", "t0", "t1", "x0", "x1")

    def __init__(
        self, direction: int, *, t0: float, x0: float, t1: float, x1: float, stats: Stats
    ) -> None:
        self.direction = direction
        self.t0 = t0
        self.x0 = x0
        self.t1 = t1
        self.x1 = x1
        self.stats = stats

    @property
    def rom(self) -> float:
        return abs(self.x1 - self.x0)

    def extend(self, later: Leg) -> None:
        self.t1 = later.t1
        self.x1 = later.x1
        self.stats.merge(later.stats)


class Builder:
    """A leg being built in one direction from the significant segments as they close.

    ``t1`` is the last significant segment's zero crossing (the state machine's clock);
    ``t0r`` and ``t1r`` are the refined phase boundaries the leg reports.
    """

    __slots__ = ("direction", "pending", "started", "stats", "t0r", "t1", "t1r", "x0", "x1")

    def __init__(self, direction: int) -> None:
        self.direction = direction
        self.reset()

    def reset(self) -> None:
        self.started = False
        self.t0r = self.x0 = self.t1 = self.t1r = self.x1 = math.nan
        self.stats = Stats()
        self.pending = Stats()  #: segments after the last significant one

    def commit(self, seg: Segment) -> None:
        if self.started:
            self.stats.merge(self.pending)
            self.stats.merge(seg.stats)
        else:
            self.started = True
            self.t0r = seg.refined_start()
            self.x0 = seg.x0
            self.stats = seg.stats.copy()
        self.t1 = seg.t1
        self.t1r = seg.refined_end()
        self.x1 = seg.x1
        self.pending = Stats()

    def leg(self) -> Leg:
        return Leg(
            self.direction,
            t0=self.t0r,
            x0=self.x0,
            t1=self.t1r,
            x1=self.x1,
            stats=self.stats.copy(),
        )


class ReferenceRepDetector:
    """Streaming position rep detector, plain Python (slow: for tests and as documentation).

    Same interface as :class:`kernels.rep_detector.RepDetector`: ``feed`` a regular batch
    (first sample's time and period) or ``feed_timed`` explicit timestamps; each returns the
    reps completed by that batch; ``finish`` ends the stream.
    """

    def __init__(self, config: DetectorConfig, *, load_kg: float | None = None) -> None:
        self.config = config
        self.load_kg = load_kg
        self._m = config.half_window
        self._h = config.diff_span
        self._H = 2 * self._h
        self._pnom = config.period_s
        self._origin = math.nan
        self._last_t = -math.inf  # relative time of the last input sample, valid or not
        self._reg_base = math.nan  # regular stream: t = base + n * period
        self._reg_period = math.nan
        self._reg_n = 0
        self.mode = config.start
        self.partial_reps = 0
        self.reps_completed = 0
        self._prev: Leg | None = None
        self._held: Leg | None = None
        self._pending_con: Leg | None = None
        self._ref_rom = 0.0
        self._ref_t = math.nan
        self._out: list[RepMetrics] = []
        self._have_valid = False  # a valid sample since the stream (re)started
        self._tv = math.nan  # the last valid sample
        self._xv = math.nan
        self._reset_stream()

    # ----------------------------------------------------------------- input

    def feed(
        self, values: Sequence[float] | FloatArray, t0: float, period: float
    ) -> list[RepMetrics]:
        """Samples ``values[i]`` taken at ``t0 + i * period``."""
        if not (period > 0.0 and math.isfinite(period) and math.isfinite(t0)):
            raise InvalidInputError("t0 and period must be finite, period > 0", where="batch")
        if not 0.5 <= period / self._pnom <= 2.0:
            raise InvalidInputError(
                f"period {period} s does not match the detector's {1.0 / self._pnom} Hz",
                where="batch",
            )
        xs = [float(v) for v in values]
        for i, x in enumerate(xs):
            if abs(x) > MAX_POSITION_M:
                raise InvalidInputError(position_problem(x), where=f"sample {i}")
        if not xs:
            return self._take()
        if math.isnan(self._origin):
            self._origin = t0
        t0_rel = t0 - self._origin
        expected = self._reg_base + self._reg_n * self._reg_period
        rebase = (
            math.isnan(self._reg_base)
            or period != self._reg_period
            or t0_rel > expected + 0.5 * period
        )
        if not rebase and t0_rel < expected - 0.5 * period:
            raise InvalidInputError(
                f"batch starts at t0={t0} before the previous batch ended", where="batch"
            )
        base = t0_rel if rebase else self._reg_base
        n0 = 0 if rebase else self._reg_n
        if not base + n0 * period > self._last_t:
            raise InvalidInputError(
                f"batch starts at t0={t0} before the previous batch ended", where="batch"
            )
        self._reg_base = base
        self._reg_period = period
        for i, x in enumerate(xs):
            self._accept(base + (n0 + i) * period, x)
        self._reg_n = n0 + len(xs)
        return self._take()

    def feed_timed(
        self, t: Sequence[float] | FloatArray, values: Sequence[float] | FloatArray
    ) -> list[RepMetrics]:
        """Samples ``values[i]`` taken at ``t[i]`` (seconds, strictly increasing)."""
        ts = [float(v) for v in t]
        xs = [float(v) for v in values]
        if len(ts) != len(xs):
            raise InvalidInputError(f"{len(ts)} timestamps for {len(xs)} positions", where="batch")
        if not xs:
            return self._take()
        origin = ts[0] if math.isnan(self._origin) else self._origin
        last = self._last_t
        for i, (tv, x) in enumerate(zip(ts, xs, strict=True)):
            if abs(x) > MAX_POSITION_M:
                raise InvalidInputError(position_problem(x), where=f"sample {i}")
            if not math.isfinite(tv):
                raise InvalidInputError("timestamp is not a finite number", where=f"sample {i}")
            if not tv - origin > last:
                raise InvalidInputError("time does not increase", where=f"sample {i}")
            last = tv - origin
        self._origin = origin
        self._reg_base = math.nan
        for tv, x in zip(ts, xs, strict=True):
            self._accept(tv - origin, x)
        return self._take()

    def finish(self) -> list[RepMetrics]:
        """End of the stream: analyse the look-ahead and report what completed."""
        self._flush()
        self._reset_stream()
        self._close_attempts()
        return self._take()

    def _take(self) -> list[RepMetrics]:
        out, self._out = self._out, []
        return out

    def _accept(self, t: float, x: float) -> None:
        """One input sample (relative time): dropouts, bridging, then the filters."""
        self._last_t = t
        if math.isnan(x):
            return
        if not self._have_valid:
            self._push(t, x)
        else:
            dt = t - self._tv
            if dt > self.config.max_gap_s:
                self._flush()
                self._reset_stream()
                self._push(t, x)
            elif dt > 1.5 * self._pnom:
                n_ins = math.floor(dt / self._pnom + 0.5) - 1
                for i in range(1, n_ins + 1):
                    frac = i / (n_ins + 1)
                    self._push(self._tv + dt * frac, self._xv + (x - self._xv) * frac)
                self._push(t, x)
            else:
                self._push(t, x)
        self._have_valid = True
        self._tv = t
        self._xv = x

    # --------------------------------------------------------------- filters

    def _reset_stream(self) -> None:
        self._have_valid = False
        self._tv = math.nan
        self._xv = math.nan
        self._x: list[float] = []
        self._t: list[float] = []
        self._xs: dict[int, float] = {}
        self._sum = math.nan  # running sum of the boxcar
        self._next_j = -self._H
        self._next_k = 0
        self._seg: Segment | None = None
        self._tp = self._xp = self._vp = math.nan
        self._builders = {UP: Builder(UP), DOWN: Builder(DOWN)}
        self._active = NONE
        self._ext = math.nan

    def _x_at(self, i: int) -> float:
        return self._x[min(max(i, 0), len(self._x) - 1)]

    def _t_at(self, i: int) -> float:
        if i < 0:
            return self._t[0] + i * self._pnom
        return self._t[i]

    def _xs_at(self, j: int) -> float:
        return self._xs[j]

    def _push(self, t: float, x: float) -> None:
        self._x.append(x)
        self._t.append(t)
        self._advance(len(self._x) - 1)

    def _advance(self, last: int) -> None:
        """Compute the smoothed positions and analyse the points that ``last`` made ready."""
        m = self._m
        width = 2 * m + 1
        while self._next_j + m <= last:
            j = self._next_j
            if j == -self._H:
                # every sample of the first window is the padded first sample (m <= 2h)
                self._sum = self._x[0] * width
            else:
                self._sum = self._sum + (self._x_at(j + m) - self._x_at(j - m - 1))
            self._xs[j] = self._sum * (1.0 / width)  # a product: cheaper than a division
            self._next_j += 1
        while self._next_k + self._H <= self._next_j - 1:
            self._point(self._next_k)
            self._next_k += 1

    def _flush(self) -> None:
        """End of a stream (or a break): analyse its tail, close the leg that has ended."""
        if self._stream_empty():
            return
        self._analyse_tail()
        active = self._active
        seg = self._seg
        if active != NONE:
            b = self._builders[active]
            moving = seg is not None and seg.sign == active and seg.significant
            if b.started and not moving:
                self._emit_leg(b.leg())
        self._close_attempts()

    def _stream_empty(self) -> bool:
        return not self._x

    def _analyse_tail(self) -> None:
        """Analyse the last samples with the stream padded by its last value."""
        last = len(self._x) - 1
        for i in range(1, self.config.delay + 1):
            self._x.append(self._x[last])
            self._t.append(self._t[last] + i * self._pnom)
        self._advance(len(self._x) - 1)
        del self._x[last + 1 :], self._t[last + 1 :]

    # ---------------------------------------------------------- state machine

    def _point(self, k: int) -> None:
        cfg = self.config
        h, H = self._h, self._H
        XS, T = self._xs_at, self._t_at
        t = T(k)
        xs = XS(k)
        v = (XS(k + h) - XS(k - h)) / (T(k + h) - T(k - h))
        sign = UP if v > 0.0 else DOWN
        seg = self._seg
        if seg is None:
            seg = Segment(sign, t, xs)
            seg.stats.tainted = True
            self._seg = seg
        elif sign != seg.sign:
            f = self._vp / (self._vp - v)
            tc = self._tp + f * (t - self._tp)
            xc = self._xp + f * (xs - self._xp)
            seg.t1 = tc
            seg.x1 = xc
            self._close_segment(seg)
            seg = Segment(sign, tc, xc)
            self._seg = seg
        u = v if sign == UP else -v
        if u >= cfg.band_low_ms:
            # every boundary sum and the peak, braking and power analysis need this speed
            self._bands(seg, t, u)
            if sign == UP:
                dtf = T(k + H) - t
                dtb = t - T(k - H)
                r = 1.0 / ((dtf * dtb) * (T(k + H) - T(k - H)))
                vw = ((XS(k + H) - XS(k - H)) * (dtf * dtb)) * r  # velocity over +-2h
                a = (2.0 * ((XS(k + H) - xs) * dtb - (xs - XS(k - H)) * dtf)) * r
                st = seg.stats
                if vw > st.vpeak:
                    st.vpeak = vw
                    st.t_vpeak = t
                    st.brake_t = math.nan
                    st.brake_x = math.nan
                elif math.isnan(st.brake_t) and a <= -G:
                    ap = seg.a_prev
                    if math.isnan(ap):
                        st.brake_t = t
                        st.brake_x = xs
                    elif ap <= -G:
                        st.brake_t = self._tp
                        st.brake_x = self._xp
                    else:
                        f = (ap + G) / (ap - a)
                        st.brake_t = self._tp + f * (t - self._tp)
                        st.brake_x = self._xp + f * (xs - self._xp)
                st.ppeak = max(st.ppeak, (G + a) * v)
                seg.a_prev = a
        else:
            seg.a_prev = math.nan
        if not seg.significant and seg.sign * (xs - seg.x0) >= cfg.significant_m:
            seg.significant = True
        self._check_legs(t, xs, seg)
        self._tp = t
        self._xp = xs
        self._vp = v

    def _bands(self, seg: Segment, t: float, u: float) -> None:
        """Sums for the boundary extrapolation; called with u >= band_low."""
        cfg = self.config
        if not seg.rise_done:
            if u >= cfg.band_high_ms:
                seg.rise_done = True
            else:
                if seg.rise.n == 0:
                    seg.rise.t_edge = t
                seg.rise.add(t - seg.t0, u)
        if u >= cfg.band_high_ms:
            seg.fall_reached = True
            seg.fall = Band()
        elif seg.fall_reached:
            seg.fall.add(t - seg.t0, u)
            seg.fall.t_edge = t
        pair = seg.pair
        if math.isnan(pair[0]):
            pair[0] = t
            pair[1] = u
        elif math.isnan(pair[2]):
            pair[2] = t
            pair[3] = u
        pair[4] = pair[6]
        pair[5] = pair[7]
        pair[6] = t
        pair[7] = u
        top = 3.0 * cfg.band_high_ms
        if not seg.rise2_done:
            if u >= top:
                seg.rise2_done = True
            elif u >= cfg.band_high_ms:
                if seg.rise2.n == 0:
                    seg.rise2.t_edge = t
                seg.rise2.add(t - seg.t0, u)
        if u >= top:
            seg.fall2_reached = True
            seg.fall2 = Band()
        elif seg.fall2_reached and u >= cfg.band_high_ms:
            seg.fall2.add(t - seg.t0, u)
            seg.fall2.t_edge = t

    def _close_segment(self, seg: Segment) -> None:
        d = seg.sign
        b = self._builders[d]
        o = self._builders[-d]
        if seg.significant:
            if o.started:
                o.pending.merge(seg.stats)
            b.commit(seg)
            if self._active == NONE:
                self._active = d
                self._ext = seg.x1
            if self._active == d:
                o.reset()
        else:
            if b.started:
                b.pending.merge(seg.stats)
            if o.started:
                o.pending.merge(seg.stats)

    def _check_legs(self, t: float, xs: float, seg: Segment) -> None:
        cfg = self.config
        active = self._active
        if active != NONE:
            b = self._builders[active]
            resuming = seg.sign == active and seg.significant
            if b.started and not resuming and t - b.t1 >= cfg.settle_s:
                self._emit_leg(b.leg())
                b.reset()
                self._active = NONE
            else:
                if active == UP:
                    self._ext = max(self._ext, xs)
                    reversed_ = xs < self._ext - cfg.reversal_m
                else:
                    self._ext = min(self._ext, xs)
                    reversed_ = xs > self._ext + cfg.reversal_m
                if reversed_:
                    if b.started:
                        self._emit_leg(b.leg())
                    b.reset()
                    self._active = -active
                    self._ext = xs
        for d in (UP, DOWN):
            other = self._builders[d]
            if d == self._active or not other.started:
                continue
            if not (seg.sign == d and seg.significant) and t - other.t1 >= cfg.settle_s:
                other.reset()

    # ------------------------------------------------------------ rep assembly

    def _emit_leg(self, leg: Leg) -> None:
        cfg = self.config
        if leg.stats.tainted:
            self._close_attempts()
            self._prev = None
            return
        if leg.rom < cfg.partial_min_m:
            return  # a jiggle: transparent for pairing
        if leg.direction == UP:
            self._on_up(leg)
        else:
            self._on_down(leg)

    def _on_up(self, leg: Leg) -> None:
        cfg = self.config
        if self.mode == LiftStart.AUTO and leg.rom >= cfg.min_rom_m:
            self.mode = LiftStart.BOTTOM
        if self.mode == LiftStart.BOTTOM:
            if leg.rom < cfg.min_rom_m:
                self.partial_reps += 1
            else:
                if self._pending_con is not None:
                    self._classify(self._pending_con, None)
                self._pending_con = leg
            self._prev = leg
        elif self.mode == LiftStart.TOP:
            con = leg
            if self._held is not None:
                self._held.extend(leg)
                con = self._held
                self._held = None
            prev = self._prev
            ecc = prev if prev is not None and prev.direction == DOWN else None
            if ecc is not None and not self._returned(con, ecc):
                self._held = con
                return
            self._classify(con, ecc)
            self._prev = con
        else:
            self.partial_reps += 1
            self._prev = leg

    def _on_down(self, leg: Leg) -> None:
        cfg = self.config
        if self.mode == LiftStart.BOTTOM:
            if self._pending_con is not None:
                self._classify(self._pending_con, leg)
                self._pending_con = None
            self._prev = leg
            return
        if self._held is not None:
            self.partial_reps += 1
            self._held = None
            self._prev = leg
        elif self._prev is not None and self._prev.direction == DOWN:
            self._prev.extend(leg)
        else:
            self._prev = leg
        if self.mode == LiftStart.AUTO and self._prev.rom >= cfg.min_rom_m:
            self.mode = LiftStart.TOP

    def _returned(self, con: Leg, ecc: Leg) -> bool:
        cfg = self.config
        tolerance = max(cfg.reversal_m, cfg.return_fraction * (ecc.x0 - ecc.x1))
        return abs(con.x1 - ecc.x0) <= tolerance

    def _classify(self, con: Leg, ecc: Leg | None) -> None:
        cfg = self.config
        rom = con.x1 - con.x0
        ref = self._ref_rom if con.t0 - self._ref_t <= cfg.set_gap_s else 0.0
        ok = rom >= cfg.min_rom_m and rom >= cfg.rom_fraction * ref
        if self.mode == LiftStart.TOP and ecc is None:
            ok = False
        if math.isnan(con.stats.t_vpeak):
            ok = False  # no velocity sample inside it: too short to be a concentric
        if not ok:
            self.partial_reps += 1
            return
        self._ref_rom = rom
        self._ref_t = con.t1
        self._out.append(self._metrics(con, ecc))
        self.reps_completed += 1

    def _close_attempts(self) -> None:
        """End what waited for a later leg: at a stream break, at the end, after a tainted leg."""
        if self._pending_con is not None:
            self._classify(self._pending_con, None)
            self._pending_con = None
        if self._held is not None:
            self.partial_reps += 1
            self._held = None

    def _metrics(self, con: Leg, ecc: Leg | None) -> RepMetrics:
        st = con.stats
        rom = con.x1 - con.x0
        con_s = con.t1 - con.t0
        mcv = rom / con_s
        propulsive = math.isnan(st.brake_t)  # no braking phase: MPV is MCV
        mpv = mcv if propulsive else (st.brake_x - con.x0) / (st.brake_t - con.t0)
        top = self.mode == LiftStart.TOP and ecc is not None
        if ecc is None:
            ecc_s = 0.0
        elif top:  # the two boundaries are extrapolated apart: they must not overlap
            ecc_s = min(ecc.t1, con.t0) - ecc.t0
        else:
            ecc_s = ecc.t1 - max(ecc.t0, con.t1)
        start = ecc.t0 if top and ecc is not None else con.t0
        load = self.load_kg
        origin = self._origin
        return RepMetrics(
            index=self.reps_completed,
            start_s=start + origin,
            end_s=con.t1 + origin,
            concentric_start_s=con.t0 + origin,
            concentric_end_s=con.t1 + origin,
            rom_m=rom,
            mean_velocity_ms=mcv,
            mean_propulsive_velocity_ms=mpv,
            peak_velocity_ms=st.vpeak,
            concentric_s=con_s,
            eccentric_s=ecc_s,
            time_to_peak_s=st.t_vpeak - con.t0,
            mean_power_w=None if load is None else load * G * mcv,
            peak_power_w=None if load is None else load * st.ppeak,
        )
