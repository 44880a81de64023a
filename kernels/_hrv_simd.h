/* Sums of the HRV time-domain metrics, SIMD through GCC/Clang vector extensions.
 *
 * Why C: Cython cannot ask for vector division, and the 60000 / RR of the mean heart rate
 * dominates the pass. Four-double vectors compile to two SSE2 halves on baseline x86-64
 * and to AVX2 where the processor has it (GCC picks the clone at load time).
 */
#ifndef GYMCTL_HRV_SIMD_H
#define GYMCTL_HRV_SIMD_H

#include <math.h>
#include <stddef.h>
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

#endif
