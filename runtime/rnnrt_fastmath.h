/*
 * rnnrt_fastmath.h: the float approximations of exp, tanh and sigmoid of
 * the float build: the trainers' fused loops and rnnrt_tanh_n /
 * rnnrt_sigmoid_n use them (rnnrt.h includes this file), and `rnnc
 * --inference` prints the same text into the standalone files (rnnc embeds
 * this file when it is built, compiler/embed_text.cmake, and renames rnnrt_
 * to the model's prefix), so the two compute the same values from one
 * source.
 *
 * Self-contained, for those files: C11 and <stdint.h>, no libm, no memcpy
 * (a union reads a float's bits; freestanding code has no memcpy). k is
 * read from the bits of t rather than computed as t - 1.5 * 2^23 (the same
 * value) so that it is right where float arithmetic is done in a wider
 * format (x87, -m32). GCC vectorizes a loop over them (no branch, no
 * float-to-int conversion), at any vector width.
 *
 * rnnc cuts out each function from its line "static inline float
 * rnnrt_NAME(" to the next line "}": keep that shape.
 */
#ifndef RNNRT_FASTMATH_H
#define RNNRT_FASTMATH_H

#include <stdint.h>

/* 2^k p(r), r = x - k ln2, p of degree 6 (Cephes expf); x clamped to
 * [-87, 88]; k = round(x log2 e) by adding 1.5 * 2^23 (the float's low
 * mantissa bits are then k). */
static inline float rnnrt_exp_fast(float x)
{
    union { float f; int32_t i; } u;
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float t = x * 1.44269504088896341f + 12582912.0f;
    u.f = t;
    int32_t kbits = u.i; /* 0x4B400000 + k */
    float k = (float)(kbits - 0x4B400000);
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
    u.i = (kbits - 0x4B400000 + 127) * (1 << 23);
    return p * u.f;
}

/* x + x^3 q(x^2) for |x| < 0.625 (Cephes tanhf), else
 * sign(x) (1 - 2 / (exp(2|x|) + 1)), |x| clamped to 9. */
static inline float rnnrt_tanh_fast(float v)
{
    float a = v < 0 ? -v : v;
    a = a > 9.0f ? 9.0f : a;
    float z = a * a;
    float q = -5.70498872745E-3f;
    q = q * z + 2.06390887954E-2f;
    q = q * z - 5.37397155531E-2f;
    q = q * z + 1.33314422036E-1f;
    q = q * z - 3.33332819422E-1f;
    float small = a + a * z * q;
    float big = 1.0f - 2.0f / (rnnrt_exp_fast(2.0f * a) + 1.0f);
    float t = a < 0.625f ? small : big;
    return v < 0 ? -t : t;
}

static inline float rnnrt_sigmoid_fast(float x)
{
    return 1.0f / (1.0f + rnnrt_exp_fast(-x));
}

#endif
