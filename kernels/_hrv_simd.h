/* The HRV kernels' inner loops, SIMD through GCC/Clang vector extensions.
 *
 * Why C: Cython cannot ask for vector operations. In the time domain the 60000 / RR of
 * the mean heart rate dominates the pass; in the artefact classification, finding a
 * value's place in the sorted sliding window does. Four-double vectors compile to two SSE2 halves on baseline x86-64
 * and to AVX2 where the processor has it (GCC picks the clone at load time).
 */
#ifndef GYMCTL_HRV_SIMD_H
#define GYMCTL_HRV_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define GYMCTL_THREADS 1
#else
#define GYMCTL_THREADS 0
#endif

typedef double gymctl_v4d __attribute__((vector_size(32)));
typedef long long gymctl_v4i __attribute__((vector_size(32)));

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define GYMCTL_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GYMCTL_CLONES
#endif

/* out: sum(x - k), sum((x - k)^2), sum(60000 / x), sum(d^2), count(|d| > 50) for x in rr
 * (k = rr[0]); returns 0 if every value is finite and positive, else 1. n >= 1. */
GYMCTL_CLONES
int gymctl_hrv_sums(const double *rr, ptrdiff_t n, double *out)
{
    const double k = rr[0];
    const gymctl_v4d kv = {k, k, k, k};
    const gymctl_v4d zero = {0.0, 0.0, 0.0, 0.0};
    const gymctl_v4d inf = {INFINITY, INFINITY, INFINITY, INFINITY};
    const gymctl_v4d c60k = {60000.0, 60000.0, 60000.0, 60000.0};
    const gymctl_v4d lim = {50.0, 50.0, 50.0, 50.0};
    gymctl_v4d s = zero, q = zero, h = zero, e = zero;
    gymctl_v4i c = {0, 0, 0, 0};
    gymctl_v4i ok = {-1, -1, -1, -1};
    gymctl_v4d x, p, xs, d;
    double sx, sq, sh, se, xi, di;
    long long sc;
    int good = (k > 0.0) && (k < INFINITY);
    ptrdiff_t i = 1;

    for (; i + 4 <= n; i += 4) {
        memcpy(&x, rr + i, sizeof x);
        memcpy(&p, rr + i - 1, sizeof p);
        ok &= (x > zero) & (x < inf);
        d = x - p;
        xs = x - kv;
        s += xs;
        q += xs * xs;
        h += c60k / x;
        e += d * d;
        c -= (d > lim) | (d < -lim);
    }
    sx = (s[0] + s[1]) + (s[2] + s[3]);
    sq = (q[0] + q[1]) + (q[2] + q[3]);
    sh = 60000.0 / k + ((h[0] + h[1]) + (h[2] + h[3]));
    se = (e[0] + e[1]) + (e[2] + e[3]);
    sc = (c[0] + c[1]) + (c[2] + c[3]);
    good = good && ok[0] && ok[1] && ok[2] && ok[3];
    for (; i < n; i++) {
        xi = rr[i];
        good = good && (xi > 0.0) && (xi < INFINITY);
        di = xi - rr[i - 1];
        sx += xi - k;
        sq += (xi - k) * (xi - k);
        sh += 60000.0 / xi;
        se += di * di;
        sc += fabs(di) > 50.0;
    }
    out[0] = sx;
    out[1] = sq;
    out[2] = sh;
    out[3] = se;
    out[4] = (double)sc;
    return !good;
}

/* First index whose value is not within [lo, hi] (NaN is not), or -1: the range check of
 * kernels.hrv.as_rr_array in one vector pass instead of five numpy temporaries. */
GYMCTL_CLONES
ptrdiff_t gymctl_first_outside(const double *x, ptrdiff_t n, double lo, double hi)
{
    const gymctl_v4d lov = {lo, lo, lo, lo}, hiv = {hi, hi, hi, hi};
    gymctl_v4i ok = {-1, -1, -1, -1};
    gymctl_v4d v;
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        memcpy(&v, x + i, sizeof v);
        ok &= (v >= lov) & (v <= hiv);
    }
    if (ok[0] && ok[1] && ok[2] && ok[3]) {
        for (; i < n; i++)
            if (!(x[i] >= lo && x[i] <= hi))
                return i;
        return -1;
    }
    for (i = 0; i < n; i++)
        if (!(x[i] >= lo && x[i] <= hi))
            return i;
    return -1;
}

/* ---- Sliding quantiles ------------------------------------------------------------------
 * Quantile q of m values: linear interpolation between order statistics (numpy's and
 * pandas' default): pos = q (m - 1), lo = floor(pos), s[lo] + (s[lo + 1] - s[lo]) (pos - lo),
 * or s[m - 1] when lo + 1 >= m. Windows are centred, 2 (width / 2) + 1 values, shrunk at the
 * ends of the series. Both paths below compute the outputs [i0, i1) only, starting their
 * window from the true series at i0, so the same values come out whatever the cut. */

typedef struct {
    ptrdiff_t lo;
    double frac;
} gymctl_qpos;

static inline gymctl_qpos gymctl_qpos_of(double q, ptrdiff_t m)
{
    gymctl_qpos p;
    double pos = q * (double)(m - 1);
    p.lo = (ptrdiff_t)pos; /* pos >= 0: truncation is floor, and no libm call */
    p.frac = pos - (double)p.lo;
    return p;
}

/* Rank of x in the sorted window buf[0..cap) (+inf beyond the m values in use): the
 * number of values below x, counted with vector compares over the whole buffer. For a
 * 91-value window this beats a binary search, whose steps wait on each other. */
static inline ptrdiff_t gymctl_rank(const double *buf, ptrdiff_t cap, double x)
{
    const gymctl_v4d xv = {x, x, x, x};
    gymctl_v4i c = {0, 0, 0, 0};
    gymctl_v4d v;
    ptrdiff_t i;
    for (i = 0; i < cap; i += 4) {
        memcpy(&v, buf + i, sizeof v);
        c -= (v < xv);
    }
    return (ptrdiff_t)((c[0] + c[1]) + (c[2] + c[3]));
}

/* Ranks of two keys in one pass over the window (one load, two compares per value). */
static inline void gymctl_rank2(const double *buf, ptrdiff_t cap, double x, double y,
                                ptrdiff_t *rx, ptrdiff_t *ry)
{
    const gymctl_v4d xv = {x, x, x, x}, yv = {y, y, y, y};
    gymctl_v4i cx = {0, 0, 0, 0}, cy = {0, 0, 0, 0};
    gymctl_v4d v;
    ptrdiff_t i;
    for (i = 0; i < cap; i += 4) {
        memcpy(&v, buf + i, sizeof v);
        cx -= (v < xv);
        cy -= (v < yv);
    }
    *rx = (ptrdiff_t)((cx[0] + cx[1]) + (cx[2] + cx[3]));
    *ry = (ptrdiff_t)((cy[0] + cy[1]) + (cy[2] + cy[3]));
}

static inline double gymctl_sorted_q(const double *buf, ptrdiff_t m, gymctl_qpos p)
{
    if (p.lo + 1 >= m)
        return buf[m - 1];
    return buf[p.lo] + (buf[p.lo + 1] - buf[p.lo]) * p.frac;
}

static inline ptrdiff_t gymctl_rq_cap(ptrdiff_t width)
{
    return ((width + 1 + 3) / 4) * 4;
}

/* General path, any doubles: a sorted copy of the window slides along, one value out and
 * one in per step: two vector rank counts and one block move. out_b may be NULL; buf has
 * gymctl_rq_cap(width) doubles. */
GYMCTL_CLONES
static void gymctl_rq_sorted(const double *x, ptrdiff_t n, ptrdiff_t width, double qa,
                             double qb, double *out_a, double *out_b, ptrdiff_t i0,
                             ptrdiff_t i1, double *buf)
{
    const ptrdiff_t half = width / 2, full = 2 * half + 1, cap = gymctl_rq_cap(width);
    const gymctl_qpos fa = gymctl_qpos_of(qa, full), fb = gymctl_qpos_of(qb, full);
    ptrdiff_t m = 0, i, j, k, r;
    for (j = 0; j < cap; j++)
        buf[j] = INFINITY;
    for (j = i0 - half > 0 ? i0 - half : 0; j < i0 + half + 1 && j < n; j++) {
        k = gymctl_rank(buf, cap, x[j]);
        memmove(buf + k + 1, buf + k, (size_t)(m - k) * sizeof(double));
        buf[k] = x[j];
        m++;
    }
    for (i = i0; i < i1; i++) {
        if (m == full) {
            out_a[i] = gymctl_sorted_q(buf, m, fa);
            if (out_b != NULL)
                out_b[i] = gymctl_sorted_q(buf, m, fb);
        } else {
            out_a[i] = gymctl_sorted_q(buf, m, gymctl_qpos_of(qa, m));
            if (out_b != NULL)
                out_b[i] = gymctl_sorted_q(buf, m, gymctl_qpos_of(qb, m));
        }
        if (i + 1 == i1)
            break;
        if (i - half >= 0 && i + half + 1 < n) {
            double old = x[i - half], new = x[i + half + 1];
            gymctl_rank2(buf, cap, old, new, &r, &k);
            if (k > r) {
                memmove(buf + r, buf + r + 1, (size_t)(k - 1 - r) * sizeof(double));
                buf[k - 1] = new;
            } else {
                memmove(buf + k + 1, buf + k, (size_t)(r - k) * sizeof(double));
                buf[k] = new;
            }
        } else if (i - half >= 0) {
            r = gymctl_rank(buf, cap, x[i - half]);
            memmove(buf + r, buf + r + 1, (size_t)(m - r - 1) * sizeof(double));
            buf[--m] = INFINITY;
        } else if (i + half + 1 < n) {
            k = gymctl_rank(buf, cap, x[i + half + 1]);
            memmove(buf + k + 1, buf + k, (size_t)(m - k) * sizeof(double));
            buf[k] = x[i + half + 1];
            m++;
        }
    }
}

/* Quantised path, for values that are exact multiples of `quantum` (key = value / quantum
 * is a small integer): a histogram of the window's keys (bin = key + 64, with an empty
 * sentinel bin at each end), a bitmap of its non-empty bins, and one cursor per quantile
 * that remembers a bin and how many values lie below it. Sliding the window moves each
 * cursor by a bin or two, so a step costs a handful of operations whatever the width. The
 * order statistics are the same numbers as the sorted path's (key * quantum is exact),
 * interpolated by the same formula. */
typedef struct {
    ptrdiff_t bin, below;
} gymctl_cursor;

static inline ptrdiff_t gymctl_bin_after(const uint64_t *bits, ptrdiff_t c)
{
    ptrdiff_t w = c >> 6;
    uint64_t m = bits[w] & ~((2ULL << (c & 63)) - 1);
    while (m == 0)
        m = bits[++w];
    return (w << 6) + __builtin_ctzll(m);
}

static inline ptrdiff_t gymctl_bin_before(const uint64_t *bits, ptrdiff_t c)
{
    ptrdiff_t w = c >> 6;
    uint64_t m = bits[w] & ((1ULL << (c & 63)) - 1);
    while (m == 0)
        m = bits[--w];
    return (w << 6) + 63 - __builtin_clzll(m);
}

/* Bin of the k-th smallest value (0-based; k below the window's count). */
static inline ptrdiff_t gymctl_kth(gymctl_cursor *cu, const unsigned char *h,
                                   const uint64_t *bits, ptrdiff_t k)
{
    ptrdiff_t c = cu->bin, below = cu->below;
    while (below > k) {
        c = gymctl_bin_before(bits, c);
        below -= h[c];
    }
    while (below + h[c] <= k) {
        below += h[c];
        c = gymctl_bin_after(bits, c);
    }
    cu->bin = c;
    cu->below = below;
    return c;
}

static inline double gymctl_hist_q(gymctl_cursor *cu, const unsigned char *h,
                                   const uint64_t *bits, ptrdiff_t m, gymctl_qpos p,
                                   double quantum)
{
    ptrdiff_t a, b, nb, same;
    double va, vb;
    if (p.lo + 1 >= m)
        return (double)(gymctl_kth(cu, h, bits, m - 1) - 64) * quantum;
    a = gymctl_kth(cu, h, bits, p.lo);
    if (p.frac == 0.0) /* an odd window's median: s[lo] + (s[lo + 1] - s[lo]) 0 is s[lo] */
        return (double)(a - 64) * quantum;
    nb = gymctl_bin_after(bits, a);
    same = -(ptrdiff_t)(p.lo + 1 < cu->below + h[a]);
    b = (a & same) | (nb & ~same);
    va = (double)(a - 64) * quantum;
    vb = (double)(b - 64) * quantum;
    return va + (vb - va) * p.frac;
}

static inline ptrdiff_t gymctl_key(double v, double inv)
{
    return (ptrdiff_t)(v * inv + 0.5);
}

/* Bytes of histogram and bitmap for keys up to top_key (bins are keys + 64, with empty
 * sentinel bins below and above). */
static inline ptrdiff_t gymctl_hist_bytes(ptrdiff_t top_key)
{
    return (((top_key >> 6) + 3) << 6) / 8 * 9;
}

/* Whether the classification reads the |mRR| thresholds at beat i: only at beats whose
 * normalised dRR (gate) exceeds 1 and at the beats that follow them. */
static inline int gymctl_gated(const double *gate, ptrdiff_t i)
{
    return fabs(gate[i]) > 1.0 || (i >= 1 && fabs(gate[i - 1]) > 1.0);
}

/* h: gymctl_hist_bytes(top_key) bytes, every key at most top_key; the width must stay
 * below 256 (byte counts). */
GYMCTL_CLONES
static void gymctl_rq_hist(const int32_t *keys, ptrdiff_t n, ptrdiff_t width, double qa,
                           double qb, double *out_a, double *out_b, ptrdiff_t i0, ptrdiff_t i1,
                           double quantum, unsigned char *h, ptrdiff_t top_key,
                           const double *gate)
{
    const ptrdiff_t half = width / 2, full = 2 * half + 1, nbins = ((top_key >> 6) + 3) << 6;
    const gymctl_qpos fa = gymctl_qpos_of(qa, full), fb = gymctl_qpos_of(qb, full);
    uint64_t *bits = (uint64_t *)(h + nbins);
    gymctl_cursor ca = {0, 0}, cb = {0, 0};
    ptrdiff_t m = 0, i, j, key;
    memset(h, 0, (size_t)nbins);
    memset(bits, 0, (size_t)(nbins / 64) * sizeof(uint64_t));
    bits[0] = 1;                             /* sentinel bin 0 */
    bits[nbins / 64 - 1] = 1ULL << 63;       /* sentinel bin nbins - 1 */
    for (j = i0 - half > 0 ? i0 - half : 0; j < i0 + half + 1 && j < n; j++) {
        key = keys[j] + 64;
        h[key]++;
        bits[key >> 6] |= 1ULL << (key & 63);
        m++;
    }
    for (i = i0; i < i1; i++) {
        gymctl_qpos pa = fa, pb = fb;
        if (gate == NULL || gymctl_gated(gate, i)) {
            if (m != full) {
                pa = gymctl_qpos_of(qa, m);
                pb = gymctl_qpos_of(qb, m);
            }
            out_a[i] = gymctl_hist_q(&ca, h, bits, m, pa, quantum);
            if (out_b != NULL)
                out_b[i] = gymctl_hist_q(&cb, h, bits, m, pb, quantum);
        }
        if (i + 1 == i1)
            break;
        if (i - half >= 0) {
            key = keys[i - half] + 64;
            h[key]--;
            bits[key >> 6] &= ~((uint64_t)(h[key] == 0) << (key & 63));
            ca.below -= key < ca.bin;
            cb.below -= key < cb.bin;
            m--;
        }
        if (i + half + 1 < n) {
            key = keys[i + half + 1] + 64;
            h[key]++;
            bits[key >> 6] |= 1ULL << (key & 63);
            ca.below += key < ca.bin;
            cb.below += key < cb.bin;
            m++;
        }
    }
}

/* Running median of an odd window of at most 15 keys (the 11-beat median filter), for
 * outputs [i0, i1) whose windows are full: half <= i0, i1 <= n - half. The window's keys
 * sit in the lanes of one 16-lane vector, each made unique as key * 16 + lane, with each
 * lane's rank among them; a step replaces the oldest lane and updates every rank with two
 * vector compares, and the median is the key whose rank is half. No branch depends on the
 * data, where the histogram's cursor, stepping between sparse bins (11 values over hundreds
 * of milliseconds), mispredicts. The value is key * quantum, as the histogram path gives. */
typedef int32_t gymctl_v8i __attribute__((vector_size(32)));

static inline int32_t gymctl_hsum8(const gymctl_v8i *p)
{
    gymctl_v8i v = *p;
    const gymctl_v8i s4 = {4, 5, 6, 7, 0, 1, 2, 3}, s2 = {2, 3, 0, 1, 6, 7, 4, 5};
    const gymctl_v8i s1 = {1, 0, 3, 2, 5, 4, 7, 6};
    v += __builtin_shuffle(v, s4);
    v += __builtin_shuffle(v, s2);
    v += __builtin_shuffle(v, s1);
    return v[0];
}

GYMCTL_CLONES
static void gymctl_med_small(const int32_t *keys, ptrdiff_t width, double *out, ptrdiff_t i0,
                             ptrdiff_t i1, double quantum)
{
    const ptrdiff_t half = width / 2, full = 2 * half + 1;
    const gymctl_v8i zero = {0, 0, 0, 0, 0, 0, 0, 0}, halfv = zero + (int32_t)half;
    gymctl_v8i lane0, lane1, k0, k1, r0, r1, v0, v1, g0, g1, m0, m1, nv, sv;
    int32_t ks[16], rk[16];
    ptrdiff_t i, slot = 0, l, a;
    int32_t nk;
    for (l = 0; l < 16; l++) {
        ks[l] = l < full ? keys[i0 - half + l] * 16 + (int32_t)l : INT32_MAX;
        rk[l] = 0;
    }
    for (l = 0; l < full; l++)
        for (a = 0; a < full; a++)
            rk[l] += ks[a] < ks[l];
    memcpy(&k0, ks, sizeof k0);
    memcpy(&k1, ks + 8, sizeof k1);
    memcpy(&r0, rk, sizeof r0);
    memcpy(&r1, rk + 8, sizeof r1);
    for (l = 0; l < 8; l++) {
        lane0[l] = (int32_t)l;
        lane1[l] = (int32_t)l + 8;
        v0[l] = l < full ? -1 : 0;
        v1[l] = l + 8 < full ? -1 : 0;
    }
    for (i = i0; i < i1; i++) {
        g0 = ((r0 == halfv) & v0 & k0) + ((r1 == halfv) & v1 & k1);
        out[i] = (double)(gymctl_hsum8(&g0) >> 4) * quantum;
        if (i + 1 == i1)
            break;
        /* The oldest value (lane slot) leaves, keys[i + half + 1] takes its lane. */
        sv = zero + (int32_t)slot;
        m0 = lane0 == sv;
        m1 = lane1 == sv;
        nv = zero + ks[slot]; /* the lanes above it lose one */
        r0 += k0 > nv;
        r1 += k1 > nv;
        nk = keys[i + half + 1] * 16 + (int32_t)slot;
        ks[slot] = nk;
        nv = zero + nk;
        k0 = (k0 & ~m0) | (nv & m0);
        k1 = (k1 & ~m1) | (nv & m1);
        g0 = (k0 > nv) & v0; /* the lanes above the new value gain one */
        g1 = (k1 > nv) & v1;
        r0 -= g0;
        r1 -= g1;
        g0 += g1;
        nv = zero + (int32_t)(full - 1 + gymctl_hsum8(&g0));
        r0 = (r0 & ~m0) | (nv & m0);
        r1 = (r1 & ~m1) | (nv & m1);
        slot = slot + 1 == full ? 0 : slot + 1;
    }
}

/* One value in or out of the window: the histogram, its bitmap, and the count below each
 * cursor. */
static inline void gymctl_hist_move(unsigned char *h, uint64_t *bits, ptrdiff_t key, int sign,
                                    gymctl_cursor *cu, int ncu)
{
    int c;
    h[key] = (unsigned char)(h[key] + sign);
    bits[key >> 6] = (bits[key >> 6] & ~(1ULL << (key & 63))) |
                     ((uint64_t)(h[key] != 0) << (key & 63));
    for (c = 0; c < ncu; c++)
        cu[c].below += sign * (key < cu[c].bin);
}

/* The normalised dRR of the quantised path, dRR / (alpha (Q3 - Q1) / 2) over the |dRR|
 * window (keys in quanta; dRR = rr[i] - rr[i - 1], so i0 >= 1), exact wherever the
 * classification reads it and 0 elsewhere.
 * Most beats are far inside the threshold: two bound cursors, left where they found
 * s[lo + 1] and s[hi] of the quartiles' order statistics, prove Q1 <= s[lo + 1] <= bin_a
 * and Q3 >= s[hi] >= bin_b for as long as the counts below them allow (they are moved
 * again when not; placing them a rank or two further inside, for more slack, measured
 * slower), so |dRR| <= alpha (bin_b - bin_a) quantum / 2 proves |d| <= 1
 * (every step of that bound rounds the same way as the exact value) without locating the
 * quartiles. A beat the bound cannot clear gets its exact value; when that exceeds 1 the
 * three beats after it and the one before it (the neighbours Figure 1 reads) get theirs
 * too, the one before by stepping the window back and forth (only within [i0, i1)). The
 * first three and the last beat of [i0, i1) are always exact, so that a cut between threads
 * (or the switch from the sorted path at half + 1) needs nothing of the other side and
 * writes nothing there. The exact value is computed by the very formula of the plain path. */
GYMCTL_CLONES
static void gymctl_drr_norm_hist(const int32_t *keys, const double *rr, ptrdiff_t n,
                                 ptrdiff_t width, double alpha, double *out, ptrdiff_t i0,
                                 ptrdiff_t i1, double quantum, unsigned char *h,
                                 ptrdiff_t top_key)
{
    const ptrdiff_t half = width / 2, full = 2 * half + 1, nbins = ((top_key >> 6) + 3) << 6;
    const gymctl_qpos fa = gymctl_qpos_of(0.25, full), fb = gymctl_qpos_of(0.75, full);
    const ptrdiff_t ka = fa.lo + 1, kb = fb.lo;
    const int bounded = kb > ka;
    uint64_t *bits = (uint64_t *)(h + nbins);
    gymctl_cursor cu[4] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}}; /* exact a, b; bound a, b */
    ptrdiff_t m = 0, i, j, force = 0, prev_exact = 0, exact;
    double t, tb;
    memset(h, 0, (size_t)nbins);
    memset(bits, 0, (size_t)(nbins / 64) * sizeof(uint64_t));
    bits[0] = 1;
    bits[nbins / 64 - 1] = 1ULL << 63;
    for (j = i0 - half > 0 ? i0 - half : 0; j < i0 + half + 1 && j < n; j++) {
        gymctl_hist_move(h, bits, keys[j] + 64, 1, cu, 0);
        m++;
    }
    gymctl_kth(&cu[2], h, bits, 0);
    gymctl_kth(&cu[3], h, bits, 0);
    for (i = i0; i < i1; i++) {
        exact = !bounded || m != full || i < i0 + 3 || i + 1 == i1 || force > 0;
        if (!exact) {
            if (!(cu[3].below <= kb && cu[2].below + h[cu[2].bin] > ka)) {
                gymctl_kth(&cu[2], h, bits, ka);
                gymctl_kth(&cu[3], h, bits, kb);
            }
            tb = alpha * ((double)(cu[3].bin - cu[2].bin) * quantum) / 2.0;
            exact = !(fabs(rr[i] - rr[i - 1]) <= tb);
        }
        force--;
        if (exact) {
            gymctl_qpos pa = fa, pb = fb;
            if (!prev_exact) {
                /* The exact cursors are stale; the bound cursors sit a few ranks away. */
                cu[0] = cu[2];
                cu[1] = cu[3];
            }
            if (m != full) {
                pa = gymctl_qpos_of(0.25, m);
                pb = gymctl_qpos_of(0.75, m);
            }
            t = alpha *
                (gymctl_hist_q(&cu[1], h, bits, m, pb, quantum) -
                 gymctl_hist_q(&cu[0], h, bits, m, pa, quantum)) /
                2.0;
            out[i] = t > 0.0 ? (rr[i] - rr[i - 1]) / t : 0.0;
            if (fabs(out[i]) > 1.0) {
                force = 3;
                if (!prev_exact && i > i0) {
                    /* Beat i - 1 was bounded, so its window was full: step back to it.
                     * Never from i0: beat i0 - 1 is not this range's (the sorted path,
                     * whose windows hold dRR[0], or the other thread computed it exactly),
                     * and its window need not be full nor hold these keys. */
                    ptrdiff_t back = i - 1 - half, ahead = i + half;
                    if (back >= 0)
                        gymctl_hist_move(h, bits, keys[back] + 64, 1, cu, 4);
                    if (ahead < n)
                        gymctl_hist_move(h, bits, keys[ahead] + 64, -1, cu, 4);
                    t = alpha *
                        (gymctl_hist_q(&cu[1], h, bits, full, fb, quantum) -
                         gymctl_hist_q(&cu[0], h, bits, full, fa, quantum)) /
                        2.0;
                    out[i - 1] = t > 0.0 ? (rr[i - 1] - rr[i - 2]) / t : 0.0;
                    if (ahead < n)
                        gymctl_hist_move(h, bits, keys[ahead] + 64, 1, cu, 4);
                    if (back >= 0)
                        gymctl_hist_move(h, bits, keys[back] + 64, -1, cu, 4);
                }
            }
        } else {
            out[i] = 0.0;
        }
        prev_exact = exact;
        if (i + 1 == i1)
            break;
        if (i - half >= 0) {
            gymctl_hist_move(h, bits, keys[i - half] + 64, -1, cu, 4);
            m--;
        }
        if (i + half + 1 < n) {
            gymctl_hist_move(h, bits, keys[i + half + 1] + 64, 1, cu, 4);
            m++;
        }
    }
}

/* ---- Artefact classification and correction (Lipponen & Tarvainen 2019) ---------------- */

enum { GYMCTL_NORMAL, GYMCTL_ECTOPIC, GYMCTL_LONG, GYMCTL_SHORT, GYMCTL_MISSED, GYMCTL_EXTRA };

/* Largest series value handled by the quantised path, in quanta (keeps histograms small). */
#define GYMCTL_MAX_TICKS 65536

/* The quantum of the series if every interval is a whole number of milliseconds (files,
 * most straps) or of 1/1024 s (the BLE Heart Rate Measurement unit), else 0. kt gets each
 * interval in quanta, *ticks the largest. */
static double gymctl_quantum_of(const double *rr, ptrdiff_t n, int32_t *kt, ptrdiff_t *ticks)
{
    static const double quanta[2] = {1.0, 0.9765625}, invs[2] = {1.0, 1.024};
    int c;
    ptrdiff_t i, t, top;
    for (c = 0; c < 2; c++) {
        top = 0;
        for (i = 0; i < n; i++) {
            if (!(rr[i] > 0.0 && rr[i] < (double)GYMCTL_MAX_TICKS * quanta[c]))
                break;
            t = (ptrdiff_t)(rr[i] * invs[c] + 0.5);
            if ((double)t * quanta[c] != rr[i])
                break;
            kt[i] = (int32_t)t;
            top = t > top ? t : top;
        }
        if (i == n) {
            *ticks = top;
            return quanta[c];
        }
    }
    return 0.0;
}

/* One thread's share of the windows: outputs [lo, hi) of every sliding pass. Phase 1 needs
 * only the whole series' |dRR|; phase 2 needs |mRR| around its range, which phase 1 of the
 * neighbouring range writes, hence the barrier between them. */
typedef struct gymctl_hrv_job {
    const double *rr;
    ptrdiff_t n, window, medfilt, lo, hi, ticks, top_d, top_m;
    double alpha, quantum;
    double *drr, *mrr, *med, *qa, *th2, *mag_d, *mag_m, *buf;
    int32_t *kt, *kd, *km; /* keys (in quanta) of rr and |dRR|, of |mRR| in half quanta */
    unsigned char *h;
    const struct gymctl_hrv_job *other;
#if GYMCTL_THREADS
    pthread_barrier_t *barrier;
#endif
} gymctl_hrv_job;

GYMCTL_CLONES
static void gymctl_hrv_phase1(gymctl_hrv_job *j)
{
    const ptrdiff_t n = j->n, lo = j->lo, hi = j->hi, half = j->window / 2;
    const double q = j->quantum;
    ptrdiff_t i, k, split = hi, top = 0;
    double t, v;
    /* dRR[0], the mean of the others, is off the grid: windows holding it are sorted. */
    if (q > 0.0)
        split = half + 1 < lo ? lo : (half + 1 < hi ? half + 1 : hi);
    if (split > lo)
        gymctl_rq_sorted(j->mag_d, n, j->window, 0.25, 0.75, j->qa, j->th2, lo, split, j->buf);
    for (i = lo; i < split; i++) {
        t = j->alpha * (j->th2[i] - j->qa[i]) / 2.0;
        /* A flat window (identical intervals) has no spread: nothing there is an outlier. */
        j->drr[i] = t > 0.0 ? j->drr[i] / t : 0.0;
    }
    if (split < hi)
        gymctl_drr_norm_hist(j->kd, j->rr, n, j->window, j->alpha, j->drr, split, hi, q, j->h,
                             j->top_d);
    /* mRR: deviation from the 11-beat median, negative side doubled. */
    if (q > 0.0 && j->medfilt < 16 && j->ticks < (1 << 26)) {
        /* Full windows by lanes, the ends of the series (shrunk windows) by histogram. */
        const ptrdiff_t mh = j->medfilt / 2;
        ptrdiff_t a = lo > mh ? lo : mh, b = hi < n - mh ? hi : n - mh;
        if (a >= b)
            a = b = hi;
        if (lo < a)
            gymctl_rq_hist(j->kt, n, j->medfilt, 0.5, 0.5, j->med, NULL, lo, a, q, j->h,
                           j->ticks, NULL);
        if (a < b)
            gymctl_med_small(j->kt, j->medfilt, j->med, a, b, q);
        if (b < hi)
            gymctl_rq_hist(j->kt, n, j->medfilt, 0.5, 0.5, j->med, NULL, b, hi, q, j->h,
                           j->ticks, NULL);
    } else if (q > 0.0)
        gymctl_rq_hist(j->kt, n, j->medfilt, 0.5, 0.5, j->med, NULL, lo, hi, q, j->h, j->ticks,
                       NULL);
    else
        gymctl_rq_sorted(j->rr, n, j->medfilt, 0.5, 0.5, j->med, NULL, lo, hi, j->buf);
    for (i = lo; i < hi; i++) {
        v = j->rr[i] - j->med[i];
        j->mrr[i] = v < 0.0 ? 2.0 * v : v;
        j->mag_m[i] = fabs(j->mrr[i]);
    }
    if (q > 0.0) {
        for (i = lo; i < hi; i++) {
            k = gymctl_key(j->mag_m[i], 2.0 / q);
            j->km[i] = (int32_t)k;
            top = k > top ? k : top;
        }
    }
    j->top_m = top;
}

GYMCTL_CLONES
static void gymctl_hrv_phase2(gymctl_hrv_job *j)
{
    const ptrdiff_t lo = j->lo, hi = j->hi;
    const double q = j->quantum;
    ptrdiff_t i, top = j->top_m;
    if (j->other != NULL && j->other->top_m > top)
        top = j->other->top_m;
    /* |mRR| is a multiple of half a quantum (the median of an even window is a mean). */
    if (q > 0.0) {
        /* Only the beats the classification asks about (see gymctl_gated). */
        gymctl_rq_hist(j->km, j->n, j->window, 0.25, 0.75, j->qa, j->th2, lo, hi, q / 2.0, j->h,
                       top, j->drr);
        for (i = lo; i < hi; i++) {
            if (gymctl_gated(j->drr, i)) {
                j->th2[i] = j->alpha * (j->th2[i] - j->qa[i]) / 2.0;
                j->mrr[i] = j->th2[i] > 0.0 ? j->mrr[i] / j->th2[i] : 0.0;
            }
        }
        return;
    }
    gymctl_rq_sorted(j->mag_m, j->n, j->window, 0.25, 0.75, j->qa, j->th2, lo, hi, j->buf);
    for (i = lo; i < hi; i++) {
        j->th2[i] = j->alpha * (j->th2[i] - j->qa[i]) / 2.0;
        j->mrr[i] = j->th2[i] > 0.0 ? j->mrr[i] / j->th2[i] : 0.0;
    }
}

#if GYMCTL_THREADS
static void *gymctl_hrv_worker(void *arg)
{
    gymctl_hrv_job *j = (gymctl_hrv_job *)arg;
    gymctl_hrv_phase1(j);
    pthread_barrier_wait(j->barrier);
    gymctl_hrv_phase2(j);
    return NULL;
}
#endif

/* Classify every beat into cls (see kernels.hrv); returns the number of beats flagged and
 * sets *n_missed, or -1 if out of memory. The quartile and median windows take the
 * quantised path when the series allows it (kernels.hrv says which series do). With
 * threads = 2 the sliding passes are cut into two halves run side by side, each starting
 * its windows from the true series, so the values are the same as with one. */
GYMCTL_CLONES
ptrdiff_t gymctl_hrv_classify(const double *rr, ptrdiff_t n, signed char *cls, double c1,
                              double c2, double alpha, ptrdiff_t window, ptrdiff_t medfilt,
                              int threads, ptrdiff_t *n_missed)
{
    ptrdiff_t i, j, k, n_cand, cand[2], ticks = 0, top = 0, flagged = 0, missed = 0;
    ptrdiff_t cap = gymctl_rq_cap(window > medfilt ? window : medfilt), hist = 0;
    double *drr, *mrr, *med, *th2, mean_d = 0.0, quantum = 0.0;
    int32_t *kt;
    unsigned char *hists = NULL;
    gymctl_hrv_job jobs[2];
    int parts = threads >= 2 && n >= 4 * window ? 2 : 1, p;
    *n_missed = 0;
    memset(cls, GYMCTL_NORMAL, (size_t)n);
    if (n < 4)
        return 0;
    drr = (double *)malloc((size_t)(n * 7 + 2 * cap) * sizeof(double) +
                           (size_t)(3 * n) * sizeof(int32_t));
    if (drr == NULL)
        return -1;
    kt = (int32_t *)(drr + n * 7 + 2 * cap);
    if (window < 256 && medfilt < 256)
        quantum = gymctl_quantum_of(rr, n, kt, &ticks);
    /* |mRR| in half quanta stays below 4 * ticks; the other keys below that. */
    if (quantum > 0.0) {
        hist = gymctl_hist_bytes(4 * ticks);
        hists = (unsigned char *)malloc((size_t)(2 * hist));
        if (hists == NULL) {
            free(drr);
            return -1;
        }
    }
    mrr = drr + n;
    med = mrr + n;
    th2 = med + 2 * n;
    for (p = 0; p < 2; p++) {
        jobs[p].rr = rr;
        jobs[p].n = n;
        jobs[p].window = window;
        jobs[p].medfilt = medfilt;
        jobs[p].lo = p == 0 ? 0 : n / 2;
        jobs[p].hi = parts == 1 || p == 1 ? n : n / 2;
        jobs[p].alpha = alpha;
        jobs[p].quantum = quantum;
        jobs[p].drr = drr;
        jobs[p].mrr = mrr;
        jobs[p].med = med;
        jobs[p].qa = med + n;
        jobs[p].th2 = th2;
        jobs[p].mag_d = th2 + n;
        jobs[p].mag_m = th2 + 2 * n;
        jobs[p].buf = th2 + 3 * n + p * cap;
        jobs[p].ticks = ticks;
        jobs[p].top_m = 0;
        jobs[p].kt = kt;
        jobs[p].kd = kt + n;
        jobs[p].km = kt + 2 * n;
        jobs[p].h = hists + p * hist;
        jobs[p].other = parts == 2 ? &jobs[1 - p] : NULL;
    }

    /* dRR, with the first set to the mean of the others (a realistic value). */
    for (i = 1; i < n; i++) {
        drr[i] = rr[i] - rr[i - 1];
        mean_d += drr[i];
    }
    drr[0] = mean_d / (double)(n - 1);
    for (i = 0; i < n; i++)
        jobs[0].mag_d[i] = fabs(drr[i]);
    if (quantum > 0.0) {
        /* |dRR| in quanta: the difference of the intervals in quanta, exactly. */
        jobs[0].kd[0] = 0; /* dRR[0] is off the grid: its windows take the sorted path */
        for (i = 1; i < n; i++) {
            k = kt[i] > kt[i - 1] ? kt[i] - kt[i - 1] : kt[i - 1] - kt[i];
            jobs[0].kd[i] = (int32_t)k;
            top = k > top ? k : top;
        }
    }
    jobs[0].top_d = jobs[1].top_d = top;

    if (parts == 2) {
#if GYMCTL_THREADS
        pthread_t worker;
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 2);
        jobs[0].barrier = jobs[1].barrier = &barrier;
        if (pthread_create(&worker, NULL, gymctl_hrv_worker, &jobs[1]) == 0) {
            gymctl_hrv_phase1(&jobs[0]);
            pthread_barrier_wait(&barrier);
            gymctl_hrv_phase2(&jobs[0]);
            pthread_join(worker, NULL);
        } else {
            parts = 3; /* no thread: the same cut, one after the other */
        }
        pthread_barrier_destroy(&barrier);
#else
        parts = 3;
#endif
    }
    if (parts != 2) {
        for (p = 0; p < (parts == 3 ? 2 : 1); p++)
            gymctl_hrv_phase1(&jobs[p]);
        for (p = 0; p < (parts == 3 ? 2 : 1); p++)
            gymctl_hrv_phase2(&jobs[p]);
    }

    /* Figure 1: S12 from the neighbours, S22 from the two following beats. */
    for (i = 1; i < n - 2; i++) {
        double d = drr[i], s12 = 0.0;
        if (fabs(d) <= 1.0 || cls[i] != GYMCTL_NORMAL)
            continue;
        if (d > 0.0)
            s12 = drr[i + 1] > drr[i - 1] ? drr[i + 1] : drr[i - 1];
        else if (d < 0.0)
            s12 = drr[i + 1] < drr[i - 1] ? drr[i + 1] : drr[i - 1];
        if ((d > 1.0 && s12 < -c1 * d - c2) || (d < -1.0 && s12 > -c1 * d + c2)) {
            cls[i] = GYMCTL_ECTOPIC;
            continue;
        }
        cand[0] = i;
        n_cand = 1;
        if (i + 2 < n && fabs(drr[i + 1]) < fabs(drr[i + 2])) {
            cand[1] = i + 1;
            n_cand = 2;
        }
        for (k = 0; k < n_cand; k++) {
            double s22 = 0.0;
            int eq3, eq4, eq5, eq6, eq7;
            j = cand[k];
            if (j >= n - 1 || cls[j] != GYMCTL_NORMAL)
                continue;
            if (j < n - 2) {
                if (drr[j] >= 0.0)
                    s22 = drr[j + 2] < drr[j + 1] ? drr[j + 2] : drr[j + 1];
                else
                    s22 = drr[j + 2] > drr[j + 1] ? drr[j + 2] : drr[j + 1];
            }
            eq3 = drr[j] > 1.0 && s22 < -1.0;
            eq4 = fabs(mrr[j]) > 3.0;
            eq5 = drr[j] < -1.0 && s22 > 1.0;
            if (!(eq3 || eq4 || eq5))
                continue;
            eq6 = fabs(rr[j] / 2.0 - med[j]) < th2[j];
            eq7 = fabs(rr[j] + rr[j + 1] - med[j]) < th2[j];
            if (eq5 && eq7)
                cls[j] = GYMCTL_EXTRA;
            else if (eq3 && eq6)
                cls[j] = GYMCTL_MISSED;
            else if (rr[j] > med[j])
                cls[j] = GYMCTL_LONG;
            else
                cls[j] = GYMCTL_SHORT;
        }
    }
    for (i = 0; i < n; i++) {
        flagged += cls[i] != GYMCTL_NORMAL;
        missed += cls[i] == GYMCTL_MISSED;
    }
    free(hists);
    free(drr);
    *n_missed = missed;
    return flagged;
}

/* Write the corrected series into out (room for n + count(MISSED) values); returns its
 * length. Extra beats are merged with the next interval, missed beats split in two equal
 * halves, ectopic, long and short beats replaced by linear interpolation between the
 * nearest normal neighbours (marked NaN meanwhile: no RR interval is NaN). */
ptrdiff_t gymctl_hrv_correct(const double *rr, ptrdiff_t n, const signed char *cls, double *out)
{
    ptrdiff_t i = 0, m = 0, a, b, k, first = -1;
    double va, vb;
    while (i < n) {
        switch (cls[i]) {
        case GYMCTL_EXTRA:
            if (i + 1 < n) {
                out[m++] = rr[i] + rr[i + 1];
                i += 2;
                continue;
            }
            out[m++] = rr[i];
            break;
        case GYMCTL_MISSED:
            out[m] = rr[i] / 2.0;
            out[m + 1] = rr[i] / 2.0;
            m += 2;
            break;
        case GYMCTL_ECTOPIC:
        case GYMCTL_LONG:
        case GYMCTL_SHORT:
            if (first < 0)
                first = m;
            out[m++] = NAN;
            break;
        default:
            out[m++] = rr[i];
        }
        i++;
    }
    if (first < 0)
        return m;
    /* Fill each run of holes on the straight line between its good neighbours. */
    k = first;
    while (k < m) {
        if (out[k] == out[k]) {
            k++;
            continue;
        }
        a = k - 1;
        b = k;
        while (b < m && out[b] != out[b])
            b++;
        if (a < 0 && b >= m) {
            /* Nothing good to interpolate from: every beat was a hole, leave them. */
            memcpy(out, rr, (size_t)n * sizeof(double));
            return n;
        }
        va = a >= 0 ? out[a] : out[b];
        vb = b < m ? out[b] : out[a];
        for (k = a + 1; k < b; k++)
            out[k] = va + (vb - va) * (double)(k - a) / (double)(b - a);
        k = b;
    }
    return m;
}

#endif
