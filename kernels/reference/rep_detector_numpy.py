"""The position rep detector vectorised with numpy: the benchmark's second baseline.

What a careful numpy programmer would write: the per-sample work (dropout bridging, the
running boxcar, velocity, acceleration, the boundary sums, peak, braking and power) runs
as array operations over each batch, and the state machine advances from one event to the
next (a velocity zero crossing, a phase that settles or reverses) with vectorised searches
in between. Its reps are those of :class:`~kernels.reference.rep_detector.ReferenceRepDetector`
to the last bit: every floating-point operation is done in the same order (running sums
with ``np.add.accumulate``, which adds sequentially), and the event handling reuses the
reference's code.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from kernels.reference.rep_detector import (
    DOWN,
    NONE,
    UP,
    Band,
    ReferenceRepDetector,
    Segment,
)
from kernels.rep_config import MAX_POSITION_M, DetectorConfig, G, position_problem
from kernels.reps import RepMetrics

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _first(mask: BoolArray) -> int | None:
    """Index of the first True, None if there is none."""
    if mask.size == 0:
        return None
    i = int(np.argmax(mask))
    return i if mask[i] else None


def _add_band(band: Band, tau: FloatArray, u: FloatArray) -> None:
    """``band.add`` for each sample in order (sequential sums, bit-identical)."""
    if tau.size == 0:
        return
    band.n += int(tau.size)
    band.st = float(np.add.accumulate(np.concatenate(([band.st], tau)))[-1])
    band.stt = float(np.add.accumulate(np.concatenate(([band.stt], tau * tau)))[-1])
    band.su = float(np.add.accumulate(np.concatenate(([band.su], u)))[-1])
    band.stu = float(np.add.accumulate(np.concatenate(([band.stu], tau * u)))[-1])


class NumpyRepDetector(ReferenceRepDetector):
    """Same interface and reps as the reference, batch-vectorised."""

    def __init__(self, config: DetectorConfig, *, load_kg: float | None = None) -> None:
        super().__init__(config, load_kg=load_kg)

    # ----------------------------------------------------------------- input

    def feed(
        self, values: Sequence[float] | FloatArray, t0: float, period: float
    ) -> list[RepMetrics]:
        if not (period > 0.0 and math.isfinite(period) and math.isfinite(t0)):
            raise InvalidInputError("t0 and period must be finite, period > 0", where="batch")
        if not 0.5 <= period / self._pnom <= 2.0:
            raise InvalidInputError(
                f"period {period} s does not match the detector's {1.0 / self._pnom} Hz",
                where="batch",
            )
        x: FloatArray = np.ascontiguousarray(values, dtype=np.float64)
        bad = _first(np.abs(x) > MAX_POSITION_M)
        if bad is not None:
            raise InvalidInputError(position_problem(float(x[bad])), where=f"sample {bad}")
        if x.size == 0:
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
        t = (base + (n0 + np.arange(x.size)) * period).astype(np.float64, copy=False)
        self._ingest(t, x)
        self._reg_n = n0 + int(x.size)
        return self._take()

    def feed_timed(
        self, t: Sequence[float] | FloatArray, values: Sequence[float] | FloatArray
    ) -> list[RepMetrics]:
        ts = np.ascontiguousarray(t, dtype=np.float64)
        x = np.ascontiguousarray(values, dtype=np.float64)
        if ts.size != x.size:
            raise InvalidInputError(f"{ts.size} timestamps for {x.size} positions", where="batch")
        if x.size == 0:
            return self._take()
        origin = float(ts[0]) if math.isnan(self._origin) else self._origin
        rel = ts - origin
        previous = np.concatenate(([self._last_t], rel[:-1]))
        problems = (
            (np.abs(x) > MAX_POSITION_M, "position"),
            (~np.isfinite(ts), "timestamp is not a finite number"),
            (~(rel > previous), "time does not increase"),
        )
        found = [(i, why) for mask, why in problems if (i := _first(mask)) is not None]
        if found:
            i, why = min(found, key=lambda item: item[0])
            if why == "position":
                why = position_problem(float(x[i]))
            raise InvalidInputError(why, where=f"sample {i}")
        self._origin = origin
        self._reg_base = math.nan
        self._ingest(rel, x)
        return self._take()

    def _ingest(self, t: FloatArray, x: FloatArray) -> None:
        """Dropouts, bridging and stream breaks, then the filters, for a whole batch."""
        self._last_t = float(t[-1])
        valid = ~np.isnan(x)
        if not valid.any():
            return
        tv = t[valid]
        xv = x[valid]
        prev_t = np.concatenate(([self._tv], tv[:-1]))
        prev_x = np.concatenate(([self._xv], xv[:-1]))
        dt = tv - prev_t  # NaN for the first sample of a stream
        breaks = np.flatnonzero(dt > self.config.max_gap_s)
        bridges = np.flatnonzero((dt > 1.5 * self._pnom) & ~(dt > self.config.max_gap_s))
        cuts = [0, *breaks.tolist(), tv.size]
        for start, stop in itertools.pairwise(cuts):
            if start == stop:
                continue
            if start > 0 or (breaks.size and breaks[0] == 0):
                self._flush()
                self._reset_stream()
            inside = bridges[(bridges >= start) & (bridges < stop)]
            if inside.size == 0:
                self._push_many(tv[start:stop], xv[start:stop])
                continue
            pieces_t: list[FloatArray] = []
            pieces_x: list[FloatArray] = []
            at = start
            for i in inside.tolist():
                pieces_t.append(tv[at:i])
                pieces_x.append(xv[at:i])
                gap = float(dt[i])
                n_ins = math.floor(gap / self._pnom + 0.5) - 1
                frac = np.arange(1, n_ins + 1) / (n_ins + 1)
                pieces_t.append(prev_t[i] + gap * frac)
                pieces_x.append(prev_x[i] + (xv[i] - prev_x[i]) * frac)
                at = i
            pieces_t.append(tv[at:stop])
            pieces_x.append(xv[at:stop])
            self._push_many(np.concatenate(pieces_t), np.concatenate(pieces_x))
        self._have_valid = True
        self._tv = float(tv[-1])
        self._xv = float(xv[-1])

    # --------------------------------------------------------------- filters

    def _reset_stream(self) -> None:
        super()._reset_stream()
        self._n_in = 0
        self._hx = np.empty(0)
        self._ht = np.empty(0)
        self._hbase = 0
        self._hxs = np.empty(0)
        self._xsbase = 0
        self._x_first = math.nan

    def _stream_empty(self) -> bool:
        return self._n_in == 0

    def _analyse_tail(self) -> None:
        last = self._n_in - 1
        pads = np.arange(1, self.config.delay + 1)
        t_last = float(self._ht[last - self._hbase])
        x_last = float(self._hx[last - self._hbase])
        pad_t = (t_last + pads * self._pnom).astype(np.float64, copy=False)
        self._push_many(pad_t, np.full(pads.size, x_last))
        self._n_in = last + 1

    def _push_many(self, t_new: FloatArray, x_new: FloatArray) -> None:
        m, H = self._m, self._H
        width = 2 * m + 1
        keep = m + 2 * H + 2
        if self._n_in == 0:
            # the stream's past is its first sample repeated at the nominal period
            idx = np.arange(-keep, 0)
            self._x_first = float(x_new[0])
            self._hx = np.full(keep, self._x_first)
            self._ht = (float(t_new[0]) + idx * self._pnom).astype(np.float64, copy=False)
            self._hbase = -keep
        X = np.concatenate((self._hx, x_new))
        T = np.concatenate((self._ht, t_new))
        b = self._hbase
        self._n_in += int(x_new.size)
        last = self._n_in - 1
        j0, j1 = self._next_j, last - m
        XS = self._hxs
        xb = self._xsbase
        if j1 >= j0:
            js = np.arange(j0, j1 + 1)
            if j0 == -H:
                first = self._x_first * width
                rest = js[1:]
                d = X[rest + m - b] - X[rest - m - 1 - b]
                sums = np.add.accumulate(np.concatenate(([first], d)))
                xb = -H
                XS = sums * (1.0 / width)
            else:
                d = X[js + m - b] - X[js - m - 1 - b]
                sums = np.add.accumulate(np.concatenate(([self._sum], d)))[1:]
                XS = np.concatenate((XS, sums * (1.0 / width)))
            self._sum = float(sums[-1])
            self._next_j = j1 + 1
        k0, k1 = self._next_k, self._next_j - 1 - H
        if k1 >= k0:
            self._points(np.arange(k0, k1 + 1), X=X, T=T, b=b, XS=XS, xb=xb)
            self._next_k = k1 + 1
        # keep what the next batch needs
        self._hx = X[-keep:]
        self._ht = T[-keep:]
        self._hbase = self._n_in - self._hx.size
        keep_xs = 2 * H + 2
        self._hxs = XS[-keep_xs:]
        self._xsbase = xb + XS.size - self._hxs.size

    # ---------------------------------------------------------- state machine

    def _points(
        self,
        ks: npt.NDArray[np.int64],
        *,
        X: FloatArray,
        T: FloatArray,
        b: int,
        XS: FloatArray,
        xb: int,
    ) -> None:
        cfg = self.config
        h, H = self._h, self._H
        t = T[ks - b]
        xs = XS[ks - xb]
        v = (XS[ks + h - xb] - XS[ks - h - xb]) / (T[ks + h - b] - T[ks - h - b])
        up = v > 0.0
        u = np.where(up, v, -v)
        gated = u >= cfg.band_low_ms
        t_f = T[ks + H - b]
        t_b = T[ks - H - b]
        dtf = t_f - t
        dtb = t - t_b
        with np.errstate(divide="ignore", invalid="ignore"):
            r = 1.0 / ((dtf * dtb) * (t_f - t_b))
        x_f = XS[ks + H - xb]
        x_b = XS[ks - H - xb]
        vw = ((x_f - x_b) * (dtf * dtb)) * r
        a = (2.0 * ((x_f - xs) * dtb - (xs - x_b) * dtf)) * r
        change = np.flatnonzero(up[1:] != up[:-1]) + 1
        starts = [0, *change.tolist()]
        stops = [*change.tolist(), ks.size]
        for i0, i1 in zip(starts, stops, strict=True):
            sign = UP if up[i0] else DOWN
            seg = self._seg
            if seg is None:
                seg = Segment(sign, float(t[i0]), float(xs[i0]))
                seg.stats.tainted = True
                self._seg = seg
            elif sign != seg.sign:
                v0 = float(v[i0])
                f = self._vp / (self._vp - v0)
                tc = self._tp + f * (float(t[i0]) - self._tp)
                xc = self._xp + f * (float(xs[i0]) - self._xp)
                seg.t1 = tc
                seg.x1 = xc
                self._close_segment(seg)
                seg = Segment(sign, tc, xc)
                self._seg = seg
            sl = slice(i0, i1)
            self._segment_stats(
                seg, t=t[sl], xs=xs[sl], v=v[sl], u=u[sl], gated=gated[sl], vw=vw[sl], a=a[sl]
            )
            self._leg_events(seg, t[sl], xs[sl])
            self._tp = float(t[i1 - 1])
            self._xp = float(xs[i1 - 1])
            self._vp = float(v[i1 - 1])

    def _segment_stats(
        self,
        seg: Segment,
        *,
        t: FloatArray,
        xs: FloatArray,
        v: FloatArray,
        u: FloatArray,
        gated: BoolArray,
        vw: FloatArray,
        a: FloatArray,
    ) -> None:
        """What the samples of one segment add to it: boundary sums, peak, braking, power."""
        cfg = self.config
        high = cfg.band_high_ms
        top = 3.0 * high
        gi = np.flatnonzero(gated)
        if gi.size:
            tg = t[gi]
            ug = u[gi]
            tau = tg - seg.t0
            # lower band, rising: gated samples until the first one at or above band_high
            if not seg.rise_done:
                stop = _first(ug >= high)
                n_add = gi.size if stop is None else stop
                if stop is not None:
                    seg.rise_done = True
                if n_add:
                    if seg.rise.n == 0:
                        seg.rise.t_edge = float(tg[0])
                    _add_band(seg.rise, tau[:n_add], ug[:n_add])
            # lower band, falling: gated samples after the last one at or above band_high
            above = np.flatnonzero(ug >= high)
            if above.size:
                seg.fall_reached = True
                seg.fall = Band()
                after = int(above[-1]) + 1
            else:
                after = 0
            if seg.fall_reached and after < gi.size:
                _add_band(seg.fall, tau[after:], ug[after:])
                seg.fall.t_edge = float(tg[-1])
            # first two and last two gated samples
            pair = seg.pair
            for q in range(min(2, gi.size)):
                if math.isnan(pair[0]):
                    pair[0] = float(tg[q])
                    pair[1] = float(ug[q])
                elif math.isnan(pair[2]):
                    pair[2] = float(tg[q])
                    pair[3] = float(ug[q])
            if gi.size >= 2:
                pair[4] = float(tg[-2])
                pair[5] = float(ug[-2])
            else:
                pair[4] = pair[6]
                pair[5] = pair[7]
            pair[6] = float(tg[-1])
            pair[7] = float(ug[-1])
            # upper band
            in_upper = ug >= high
            if not seg.rise2_done:
                stop = _first(ug >= top)
                end = gi.size if stop is None else stop
                if stop is not None:
                    seg.rise2_done = True
                sel = np.flatnonzero(in_upper[:end])
                if sel.size:
                    if seg.rise2.n == 0:
                        seg.rise2.t_edge = float(tg[sel[0]])
                    _add_band(seg.rise2, tau[sel], ug[sel])
            over = np.flatnonzero(ug >= top)
            if over.size:
                seg.fall2_reached = True
                seg.fall2 = Band()
                after = int(over[-1]) + 1
            else:
                after = 0
            if seg.fall2_reached:
                sel = after + np.flatnonzero(in_upper[after:])
                if sel.size:
                    _add_band(seg.fall2, tau[sel], ug[sel])
                    seg.fall2.t_edge = float(tg[sel[-1]])
        if seg.sign != UP:
            seg.a_prev = math.nan
            return
        if gi.size:
            st = seg.stats
            vwg = vw[gi]
            ag = a[gi]
            # acceleration at each gated sample's previous point, NaN if that was not gated
            prev_a = np.full(gi.size, math.nan)
            inner = gi > 0
            prev_idx = gi[inner] - 1
            prev_a[inner] = np.where(gated[prev_idx], a[prev_idx], math.nan)
            if gi[0] == 0:
                prev_a[0] = seg.a_prev
            running = np.maximum.accumulate(np.concatenate(([st.vpeak], vwg)))[:-1]
            updates = np.flatnonzero(vwg > running)
            search: int | None
            if updates.size:
                q = int(updates[-1])
                st.vpeak = float(vwg[q])
                st.t_vpeak = float(t[gi[q]])
                st.brake_t = math.nan
                st.brake_x = math.nan
                search = q + 1
            else:
                search = 0 if math.isnan(st.brake_t) else None
            if search is not None:
                hit = _first(ag[search:] <= -G)
                if hit is not None:
                    q = search + hit
                    i = int(gi[q])
                    ap = float(prev_a[q])
                    tp = self._tp if i == 0 else float(t[i - 1])
                    xp = self._xp if i == 0 else float(xs[i - 1])
                    ti = float(t[i])
                    xi = float(xs[i])
                    ai = float(ag[q])
                    if math.isnan(ap):
                        st.brake_t = ti
                        st.brake_x = xi
                    elif ap <= -G:
                        st.brake_t = tp
                        st.brake_x = xp
                    else:
                        f = (ap + G) / (ap - ai)
                        st.brake_t = tp + f * (ti - tp)
                        st.brake_x = xp + f * (xi - xp)
            st.ppeak = max(st.ppeak, float(np.max((G + ag) * v[gi])))
        seg.a_prev = float(a[-1]) if gated[-1] else math.nan

    def _leg_events(self, seg: Segment, t: FloatArray, xs: FloatArray) -> None:
        """Run the leg checks of the reference, jumping from one event to the next."""
        cfg = self.config
        n = t.size
        sig_at: int | None = None
        if not seg.significant:
            sig_at = _first(seg.sign * (xs - seg.x0) >= cfg.significant_m)
        sig_always = seg.significant
        pos = 0
        while pos < n:
            idx = np.arange(pos, n)
            sig = (
                np.full(n - pos, True)
                if sig_always
                else (idx >= sig_at if sig_at is not None else np.zeros(n - pos, dtype=bool))
            )
            tt = t[pos:]
            xx = xs[pos:]
            candidates: list[int] = []
            active = self._active
            ext_run: FloatArray | None = None
            if active != NONE:
                b = self._builders[active]
                if b.started:
                    resuming = sig if seg.sign == active else np.zeros(n - pos, dtype=bool)
                    hit = _first(~resuming & (tt - b.t1 >= cfg.settle_s))
                    if hit is not None:
                        candidates.append(hit)
                if active == UP:
                    ext_run = np.maximum.accumulate(np.concatenate(([self._ext], xx)))[1:]
                    hit = _first(xx < ext_run - cfg.reversal_m)
                else:
                    ext_run = np.minimum.accumulate(np.concatenate(([self._ext], xx)))[1:]
                    hit = _first(xx > ext_run + cfg.reversal_m)
                if hit is not None:
                    candidates.append(hit)
            for d in (UP, DOWN):
                other = self._builders[d]
                if d == active or not other.started:
                    continue
                moving = sig if seg.sign == d else np.zeros(n - pos, dtype=bool)
                hit = _first(~moving & (tt - other.t1 >= cfg.settle_s))
                if hit is not None:
                    candidates.append(hit)
            if not candidates:
                if ext_run is not None:
                    self._ext = float(ext_run[-1])
                break
            e = min(candidates)
            if ext_run is not None and e > 0:
                self._ext = float(ext_run[e - 1])
            seg.significant = bool(sig[e])
            self._check_legs(float(tt[e]), float(xx[e]), seg)
            pos += e + 1
        seg.significant = sig_always or sig_at is not None
