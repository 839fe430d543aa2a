/*
 * rnnrt_kernels.c: elementwise kernels the rnnc passes emit calls to.
 *
 * rnnrt_tanh_n / rnnrt_sigmoid_n apply tanh / sigmoid to n values. In the
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
#include "rnnrt.h"

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

#ifdef RNNRT_DOUBLE

void rnnrt_tanh_n(const real *x, real *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = tanh(x[i]);
}

void rnnrt_sigmoid_n(const real *x, real *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = 1 / (1 + exp(-x[i]));
}

#else

static inline float exp_poly(float x)
{
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    float k = (float)(int32_t)(x * 1.44269504088896341f + (x < 0 ? -0.5f : 0.5f));
    float r = x - k * 0.693359375f;
    r = r + k * 2.12194440e-4f;
    float r2 = r * r;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r2 + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

void rnnrt_tanh_n(const real *x, real *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i], a = v < 0 ? -v : v;
        a = a > 9.0f ? 9.0f : a;
        float z = a * a;
        float q = -5.70498872745E-3f;
        q = q * z + 2.06390887954E-2f;
        q = q * z - 5.37397155531E-2f;
        q = q * z + 1.33314422036E-1f;
        q = q * z - 3.33332819422E-1f;
        float small = a + a * z * q;
        float big = 1.0f - 2.0f / (exp_poly(2.0f * a) + 1.0f);
        float t = a < 0.625f ? small : big;
        y[i] = v < 0 ? -t : t;
    }
}

void rnnrt_sigmoid_n(const real *x, real *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f / (1.0f + exp_poly(-x[i]));
}

#endif
