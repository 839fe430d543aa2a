/*
 * rnnrt_kernels.c: elementwise kernels the rnnc passes emit calls to.
 *
 * rnnrt_tanh_n / rnnrt_sigmoid_n apply tanh / sigmoid to n values (the
 * scalar forms, rnnrt_tanh_fast / rnnrt_sigmoid_fast, are inline in
 * rnnrt.h for the fused loops rnnc emits). In the
 * double build (gradient checks) they are plain libm loops, so checks see
 * exactly the math of the reference. In the float build they use a
 * branch-free polynomial form the compiler vectorizes (glibc's tanhf and
 * expf are scalar calls and were ~17% of a tanh-RNN training step):
 *   exp:  2^k * p(r), r = x - k ln2 in [-ln2/2, ln2/2], p of degree 6
 *         (Cephes expf), inputs clamped to [-87, 88];
 *   tanh: x + x^3 q(x^2) for |x| < 0.625 (Cephes tanhf), else
 *         sign(x) (1 - 2 / (exp(2|x|) + 1)), |x| clamped to 9;
 *   sigmoid: 1 / (1 + exp(-x)).
 * Max error against double tanh/sigmoid on [-20, 20]: below 3e-7 absolute
 * (a few float ulps; checked when the kernels were written, against libm
 * over 2M points).
 */
/* Vectorizing the selects in the polynomials needs no-trapping-math (GCC
 * must evaluate both arms); values do not change. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "no-trapping-math")
#endif
#include "rnnrt.h"

#include <string.h>

/* The math is in rnnrt.h (rnnrt_tanh_fast, rnnrt_sigmoid_fast), shared with
 * the fused loops rnnc emits, so both give the same values. */
void rnnrt_tanh_n(const real *x, real *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = rnnrt_tanh_fast(x[i]);
}

void rnnrt_sigmoid_n(const real *x, real *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = rnnrt_sigmoid_fast(x[i]);
}

void rnnrt_dropout(const RnnrtCtx *c, const real *in, real *out, size_t n,
                   double rate, int site)
{
    if (!c->train || rate <= 0) {
        if (out != in)
            memmove(out, in, n * sizeof(real));
        return;
    }
    real scale = (real)(1 / (1 - rate));
    /* A [T, B, w] tensor of a batch-split worker: index the mask by the
     * element's place in the whole minibatch, [T, rows_all, w]. */
    size_t tb = (size_t)c->T * (size_t)c->B;
    size_t w = tb ? n / tb : 0;
    if (c->rows_all > c->B && w * tb == n) {
        size_t slab = (size_t)c->B * w, all = (size_t)c->rows_all * w;
        size_t off = (size_t)c->row0 * w;
        for (size_t i = 0; i < n; i++) {
            size_t g = (i / slab) * all + off + i % slab;
            out[i] = rnnrt_dropout_keep(c->dropout_seed, site, g, rate)
                         ? in[i] * scale : 0;
        }
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = rnnrt_dropout_keep(c->dropout_seed, site, i, rate)
                     ? in[i] * scale : 0;
}

/* ---- one row of a softmax cross-entropy (rnnrt.h) ---- */
#ifdef RNNRT_DOUBLE
/* Max, then the sum of exp(z - max), left to right: the interpreter's
 * order, so the double build agrees with it to rounding. */
static double xent_max(const real *z, int C)
{
    double mx = z[0];
    for (int k = 1; k < C; k++)
        mx = z[k] > mx ? z[k] : mx;
    return mx;
}

double rnnrt_xent_lse(const real *z, int C)
{
    double mx = xent_max(z, C), s = 0;
    for (int k = 0; k < C; k++)
        s += exp(z[k] - mx);
    return mx + log(s);
}

void rnnrt_xent_grad_row(const real *z, int C, int target, double scale, real *d)
{
    double lse = rnnrt_xent_lse(z, C);
    for (int k = 0; k < C; k++)
        d[k] = (real)(scale * (exp(z[k] - lse) - (k == target)));
}
#else
/* XENT_LANES partial maxima and sums, so GCC vectorizes the loops without
 * reassociating float adds on its own (a fixed order, so runs repeat). */
#define XENT_LANES 8

static float xent_max(const float *z, int C)
{
    float m[XENT_LANES];
    for (int j = 0; j < XENT_LANES; j++)
        m[j] = z[0];
    int k = 0;
    for (; k + XENT_LANES <= C; k += XENT_LANES)
        for (int j = 0; j < XENT_LANES; j++)
            m[j] = z[k + j] > m[j] ? z[k + j] : m[j];
    float mx = m[0];
    for (int j = 1; j < XENT_LANES; j++)
        mx = m[j] > mx ? m[j] : mx;
    for (; k < C; k++)
        mx = z[k] > mx ? z[k] : mx;
    return mx;
}

/* sum of exp(z[k] - mx); with STORE, e[k] receives the exponentials (two
 * copies of the loop rather than a test inside it, which would stop it
 * vectorizing) */
#define XENT_EXPSUM(STORE)                                                  \
    float s[XENT_LANES] = {0};                                            \
    int k = 0;                                                            \
    for (; k + XENT_LANES <= C; k += XENT_LANES)                          \
        for (int j = 0; j < XENT_LANES; j++) {                            \
            float v = rnnrt_exp_fast(z[k + j] - mx);                      \
            STORE(k + j);                                                 \
            s[j] += v;                                                    \
        }                                                                 \
    float sum = 0;                                                        \
    for (int j = 0; j < XENT_LANES; j++)                                  \
        sum += s[j];                                                      \
    for (; k < C; k++) {                                                  \
        float v = rnnrt_exp_fast(z[k] - mx);                              \
        STORE(k);                                                         \
        sum += v;                                                         \
    }                                                                     \
    return sum
#define XENT_NO_STORE(i) (void)0
#define XENT_STORE(i) e[i] = v

static float xent_expsum(const float *z, int C, float mx) { XENT_EXPSUM(XENT_NO_STORE); }
static float xent_exps(const float *z, int C, float mx, float *e) { XENT_EXPSUM(XENT_STORE); }

double rnnrt_xent_lse(const float *z, int C)
{
    float mx = xent_max(z, C);
    return (double)mx + log((double)xent_expsum(z, C, mx));
}

void rnnrt_xent_grad_row(const float *z, int C, int target, double scale, float *d)
{
    float mx = xent_max(z, C);
    float f = (float)(scale / (double)xent_exps(z, C, mx, d));
    for (int k = 0; k < C; k++)
        d[k] *= f;
    if (target >= 0 && target < C)
        d[target] -= (float)scale;
}
#endif
