/*
 * rnnrt_gemm_packed.c: the recurrent step's GEMM against a pre-packed weight.
 *
 * Inside a scan every step multiplies a few rows (the batch, B = 32 or 64)
 * by the same weight: h_{t-1} [B,K] @ W [K,N] forward, dh [B,N] @ W^T
 * backward. sgemm packs both operands on every call, and at these shapes
 * packing W (K*N floats, 256 KB at h = 256) costs as much as a fifth of
 * the product (perf: sgemm_itcopy/incopy ~11% of a GRU-S training step).
 * Here W is packed once before the scan (rnnrt_pack_b) into column panels
 * of NR floats, [panel][k][NR], and every step runs a register-blocked
 * kernel over it, reading the few rows of A in place (no copy of A either):
 *
 *   C[M,N] = A[M,K] @ op(B)[K,N]   (op(B) = B, or B^T when tb)
 *
 * The kernel holds MR x NR of C in registers (MR = 6 rows; NR = 2 vectors:
 * 16 floats with AVX2+FMA, 32 with AVX-512) and walks k once, so each C
 * element is one fused multiply-add chain in k order: the same value
 * whatever the row split across threads. Measured at [32,256]x[256,256],
 * AVX2, one core: OpenBLAS 0.3.21 sgemm 96 GFLOP/s, this kernel 120.
 *
 * Which kernel runs follows the vector ISA OpenBLAS itself picked
 * (openblas_get_corename: Haswell/Zen -> AVX2, SkylakeX/Cooperlake/
 * SapphireRapids -> AVX-512), so rnnc and anything else using the same
 * OpenBLAS are compared under the same kernels (OPENBLAS_CORETYPE moves
 * both). RNNRT_GEMM=blas|avx2|avx512 overrides; a kernel the CPU lacks
 * falls back to rnnrt_gemm. Both kernels are compiled into every x86-64
 * float build by target attributes, whatever its -march (RNNC_NATIVE), and
 * chosen at run time. The double build always uses rnnrt_gemm.
 */
#include "rnnrt.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define RNNRT_HAVE_AVX2 0
#define RNNRT_HAVE_AVX512 0
#if !defined(RNNRT_DOUBLE) && defined(__GNUC__) && defined(__x86_64__)
#include <cblas.h>
#include <immintrin.h>
#undef RNNRT_HAVE_AVX2
#define RNNRT_HAVE_AVX2 1
#undef RNNRT_HAVE_AVX512
#define RNNRT_HAVE_AVX512 1
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TARGET_AVX512 __attribute__((target("avx512f")))
#endif

enum { MR = 6, NR_MAX = 32 };

/* ---- which kernel ---- */

static int pack_nr; /* panel width in floats: 16 (AVX2), 32 (AVX-512), 0 (BLAS) */
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;

#if !defined(RNNRT_DOUBLE) && defined(__GNUC__) && defined(__x86_64__)
static bool contains_ci(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == word[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}
#endif

static void choose_kernel(void)
{
    pack_nr = 0;
#if !defined(RNNRT_DOUBLE) && defined(__GNUC__) && defined(__x86_64__)
    bool avx2 = false, avx512 = false;
#if RNNRT_HAVE_AVX2
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if RNNRT_HAVE_AVX512
    avx512 = __builtin_cpu_supports("avx512f");
#endif
    const char *want = getenv("RNNRT_GEMM");
    if (want && *want) {
        pack_nr = !strcmp(want, "avx2") && avx2 ? 16 : !strcmp(want, "avx512") && avx512 ? 32 : 0;
        return;
    }
    const char *core = openblas_get_corename();
    if (!core)
        return;
    if (contains_ci(core, "skylakex") || contains_ci(core, "cooperlake") || contains_ci(core, "sapphirerapids"))
        pack_nr = avx512 ? 32 : avx2 ? 16 : 0;
    else if (contains_ci(core, "haswell") || contains_ci(core, "zen"))
        pack_nr = avx2 ? 16 : 0;
#endif
}

static int kernel_nr(void)
{
    pthread_once(&pack_once, choose_kernel);
    return pack_nr;
}

const char *rnnrt_gemm_packed_kernel(void)
{
    int nr = kernel_nr();
    return nr == 32 ? "avx512" : nr == 16 ? "avx2" : "blas";
}

size_t rnnrt_packed_size(int rows, int cols)
{
    /* room for either orientation at the widest panel */
    size_t r = (size_t)(rows > 0 ? rows : 0), c = (size_t)(cols > 0 ? cols : 0);
    size_t a = r * ((c + NR_MAX - 1) / NR_MAX * NR_MAX), b = c * ((r + NR_MAX - 1) / NR_MAX * NR_MAX);
    return (a > b ? a : b) + NR_MAX; /* + slack to align the panels to 64 bytes */
}

/* The panels start at the first 64-byte boundary in buf. */
static real *panel_base(real *buf)
{
    uintptr_t p = (uintptr_t)buf;
    return (real *)((p + 63) & ~(uintptr_t)63);
}

void rnnrt_pack_b(int tb, int K, int N, const real *B, int ldb, real *packed)
{
    int nr = kernel_nr();
    if (!nr || K <= 0 || N <= 0)
        return;
    real *P = panel_base(packed);
    for (int c0 = 0; c0 < N; c0 += nr) {
        int nc = N - c0 < nr ? N - c0 : nr;
        real *dst = P + (size_t)c0 * K; /* panel c0 / nr holds K * nr values */
        for (int k = 0; k < K; k++, dst += nr) {
            if (tb)
                for (int c = 0; c < nc; c++)
                    dst[c] = B[(size_t)(c0 + c) * ldb + k];
            else
                memcpy(dst, B + (size_t)k * ldb + c0, (size_t)nc * sizeof *dst);
            for (int c = nc; c < nr; c++)
                dst[c] = 0;
        }
    }
}

/* ---- kernels: C[mr rows, nc <= NR cols] (beta 0) = A[mr, K] @ panel ---- */

#if RNNRT_HAVE_AVX2
/* one row of 16: v0 v1; the last panel's partial row goes through t[] */
static inline __attribute__((always_inline)) TARGET_AVX2 void store16(real *c, __m256 v0, __m256 v1, int nc)
{
    if (nc == 16) {
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
        return;
    }
    float t[16];
    _mm256_storeu_ps(t, v0);
    _mm256_storeu_ps(t + 8, v1);
    memcpy(c, t, (size_t)nc * sizeof *c);
}

#define ROW16(r)                                                                                                       \
    if (mr > r) {                                                                                                      \
        __m256 a = _mm256_broadcast_ss(A + (size_t)r * lda + k);                                                       \
        c##r##0 = _mm256_fmadd_ps(a, b0, c##r##0);                                                                     \
        c##r##1 = _mm256_fmadd_ps(a, b1, c##r##1);                                                                     \
    }
#define STORE16(r)                                                                                                     \
    if (mr > r)                                                                                                        \
        store16(C + (size_t)r * ldc, c##r##0, c##r##1, nc);

/* mr is a constant at every call site, so the unused rows vanish and the
 * 12 accumulators stay in registers (an array of them did not: GCC 12
 * spilled it every k). */
static inline __attribute__((always_inline)) TARGET_AVX2 void kernel16(int mr, int K, const real *A, int lda, const real *P,
                                                           real *C, int ldc, int nc)
{
    __m256 z = _mm256_setzero_ps();
    __m256 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
    for (int k = 0; k < K; k++, P += 16) {
        __m256 b0 = _mm256_load_ps(P), b1 = _mm256_load_ps(P + 8);
        ROW16(0) ROW16(1) ROW16(2) ROW16(3) ROW16(4) ROW16(5)
    }
    STORE16(0) STORE16(1) STORE16(2) STORE16(3) STORE16(4) STORE16(5)
}
#endif

#if RNNRT_HAVE_AVX512
static inline __attribute__((always_inline)) TARGET_AVX512 void store32(real *c, __m512 v0, __m512 v1, int nc)
{
    if (nc == 32) {
        _mm512_storeu_ps(c, v0);
        _mm512_storeu_ps(c + 16, v1);
        return;
    }
    float t[32];
    _mm512_storeu_ps(t, v0);
    _mm512_storeu_ps(t + 16, v1);
    memcpy(c, t, (size_t)nc * sizeof *c);
}

#define ROW32(r)                                                                                                       \
    if (mr > r) {                                                                                                      \
        __m512 a = _mm512_set1_ps(A[(size_t)r * lda + k]);                                                             \
        c##r##0 = _mm512_fmadd_ps(a, b0, c##r##0);                                                                     \
        c##r##1 = _mm512_fmadd_ps(a, b1, c##r##1);                                                                     \
    }
#define STORE32(r)                                                                                                     \
    if (mr > r)                                                                                                        \
        store32(C + (size_t)r * ldc, c##r##0, c##r##1, nc);

static inline __attribute__((always_inline)) TARGET_AVX512 void kernel32(int mr, int K, const real *A, int lda, const real *P,
                                                           real *C, int ldc, int nc)
{
    __m512 z = _mm512_setzero_ps();
    __m512 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
    for (int k = 0; k < K; k++, P += 32) {
        __m512 b0 = _mm512_load_ps(P), b1 = _mm512_load_ps(P + 16);
        ROW32(0) ROW32(1) ROW32(2) ROW32(3) ROW32(4) ROW32(5)
    }
    STORE32(0) STORE32(1) STORE32(2) STORE32(3) STORE32(4) STORE32(5)
}
#endif

/* All rows against one panel: full blocks of MR, then the rest. */
#define PANEL(kern)                                                                                                    \
    do {                                                                                                               \
        int i = 0;                                                                                                     \
        for (; i + MR <= M; i += MR)                                                                                   \
            kern(MR, K, A + (size_t)i * lda, lda, pp, C + (size_t)i * ldc + c0, ldc, nc);                             \
        const real *ai = A + (size_t)i * lda;                                                                          \
        real *ci = C + (size_t)i * ldc + c0;                                                                           \
        switch (M - i) {                                                                                               \
        case 5: kern(5, K, ai, lda, pp, ci, ldc, nc); break;                                                           \
        case 4: kern(4, K, ai, lda, pp, ci, ldc, nc); break;                                                           \
        case 3: kern(3, K, ai, lda, pp, ci, ldc, nc); break;                                                           \
        case 2: kern(2, K, ai, lda, pp, ci, ldc, nc); break;                                                           \
        case 1: kern(1, K, ai, lda, pp, ci, ldc, nc); break;                                                           \
        default: break;                                                                                                \
        }                                                                                                              \
    } while (0)

/* Every panel of C = A @ packed with one kernel; the target attribute lets
 * the always_inline kernel inline into it. */
#define PANELS(kern, nr)                                                                                               \
    do {                                                                                                               \
        const real *P = panel_base((real *)packed);                                                                    \
        for (int c0 = 0; c0 < N; c0 += nr) {                                                                           \
            int nc = N - c0 < nr ? N - c0 : nr;                                                                        \
            const real *pp = P + (size_t)c0 * K;                                                                       \
            PANEL(kern);                                                                                               \
        }                                                                                                              \
    } while (0)

#if RNNRT_HAVE_AVX2
TARGET_AVX2 static void gemm16(int M, int N, int K, const real *A, int lda, const real *packed, real *C, int ldc)
{
    PANELS(kernel16, 16);
}
#endif

#if RNNRT_HAVE_AVX512
TARGET_AVX512 static void gemm32(int M, int N, int K, const real *A, int lda, const real *packed, real *C, int ldc)
{
    PANELS(kernel32, 32);
}
#endif

void rnnrt_gemm_packed(int tb, int M, int N, int K, const real *A, int lda, const real *B, int ldb,
                       const real *packed, real *C, int ldc)
{
    int nr = packed ? kernel_nr() : 0;
    if (!nr || K <= 0) {
        rnnrt_gemm(0, tb, M, N, K, 1, A, lda, B, ldb, 0, C, ldc);
        return;
    }
    if (M <= 0 || N <= 0)
        return;
#if RNNRT_HAVE_AVX512
    if (nr == 32) {
        gemm32(M, N, K, A, lda, packed, C, ldc);
        return;
    }
#endif
#if RNNRT_HAVE_AVX2
    gemm16(M, N, K, A, lda, packed, C, ldc);
#endif
}
