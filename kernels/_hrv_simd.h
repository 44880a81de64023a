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
#include <stdlib.h>
#include <string.h>

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

static inline double gymctl_quantile(const double *buf, ptrdiff_t m, double q)
{
    /* Linear interpolation between order statistics (numpy's and pandas' default). */
    double pos = q * (double)(m - 1);
    ptrdiff_t lo = (ptrdiff_t)floor(pos);
    if (lo + 1 >= m)
        return buf[m - 1];
    return buf[lo] + (buf[lo + 1] - buf[lo]) * (pos - (double)lo);
}

/* Quantiles qa and qb (out_b may be NULL) of x over a centred window of `width` values,
 * shrunk at the ends; a sorted copy of the window slides along, one value out and one in
 * per step: two vector rank counts and one block move. Returns -1 if out of memory. */
GYMCTL_CLONES
int gymctl_rolling_quantiles(const double *x, ptrdiff_t n, ptrdiff_t width, double qa,
                             double qb, double *out_a, double *out_b)
{
    ptrdiff_t half = width / 2, cap = ((width + 1 + 3) / 4) * 4, m = 0, i, j, k, r;
    double *buf = (double *)malloc((size_t)cap * sizeof(double));
    if (buf == NULL)
        return -1;
    for (j = 0; j < cap; j++)
        buf[j] = INFINITY;
    for (j = 0; j < half + 1 && j < n; j++) {
        k = gymctl_rank(buf, cap, x[j]);
        memmove(buf + k + 1, buf + k, (size_t)(m - k) * sizeof(double));
        buf[k] = x[j];
        m++;
    }
    for (i = 0; i < n; i++) {
        out_a[i] = gymctl_quantile(buf, m, qa);
        if (out_b != NULL)
            out_b[i] = gymctl_quantile(buf, m, qb);
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
    free(buf);
    return 0;
}

#endif
