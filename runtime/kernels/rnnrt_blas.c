/*
 * rnnrt_blas.c: the BLAS wrapper generated code calls for every matrix
 * product. Everything in rnnc is row-major, so this is a thin layer over
 * CBLAS with CblasRowMajor; `real` picks sgemm or dgemm at compile time.
 * Products with a single row or column of C (every step of a B = 1
 * generation) do not go to GEMM: see gemv_case.
 *
 *   C (M x N) = alpha * op(A) (M x K) @ op(B) (K x N) + beta * C
 *
 * lda/ldb/ldc are the row strides of A, B and C as stored (so A is M x lda
 * when not transposed and K x lda when transposed).
 */
/* The row-times-matrix kernels below are written for the vectorizer. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif
#include "rnnrt.h"

#include <cblas.h>
#include <pthread.h>
#include <string.h>

/* The AVX-512 row kernel (row_zmm) exists in the float build for x86-64,
 * compiled for AVX-512 by a target attribute whatever the build's -march;
 * it runs only on a CPU that has AVX-512 (row_zmm_on). */
#if !defined(RNNRT_DOUBLE) && defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define RNNRT_ROW_ZMM 1
#define TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define RNNRT_ROW_ZMM 0
#endif

#ifdef RNNRT_DOUBLE
#define GEMV cblas_dgemv
#define GEMM cblas_dgemm
#else
#define GEMV cblas_sgemv
#define GEMM cblas_sgemm
#endif

enum { ROW_BLOCK = 256 };

/* c[0..ROW_BLOCK) = alpha * sum_k a[k*inca] * B[k][0..ROW_BLOCK) + beta * c:
 * one block of columns of a row vector times a row-major matrix, the
 * product of every recurrent step at B = 1. The accumulators stay in L1
 * while the rows of B stream past once, in order. OpenBLAS 0.3.21's sgemv
 * for this shape took more than twice as long (1 thread, 256 x 256 from
 * L2: ~2.2 us against ~5.8 us per call); 256 columns measured faster than
 * 32, 64, 128 or 512, and keeping the accumulators in registers, FMA or
 * prefetching did not help with 256-bit vectors (~115 GB/s from L2). With
 * AVX-512, row_zmm below is faster and takes over (see row_zmm_on). */
static void row_block(int K, real alpha, const real *restrict a, int inca,
                      const real *restrict B, int ldb, real beta,
                      real *restrict c)
{
    real acc[ROW_BLOCK];
    memset(acc, 0, sizeof acc);
    for (int k = 0; k < K; k++) {
        const real *restrict b = B + (size_t)k * ldb;
        const real s = a[(size_t)k * inca];
        for (int j = 0; j < ROW_BLOCK; j++)
            acc[j] += s * b[j];
    }
    if (beta == 0) /* C is not read, as in BLAS */
        for (int j = 0; j < ROW_BLOCK; j++)
            c[j] = alpha * acc[j];
    else
        for (int j = 0; j < ROW_BLOCK; j++)
            c[j] = alpha * acc[j] + beta * c[j];
}

enum { NARROW = 32 };

/* row_block for a narrow row, 16 <= N <= NARROW (the logits of a character
 * model), at the fixed width NARROW, so that the loop vectorizes without a
 * remainder: lanes N..NARROW of rows 0..K-2 read B's padding and the start
 * of the next row (inside B, as ldb + N >= NARROW) and are thrown away; the
 * last row goes at width N. Twice as fast as sgemv at 256 x 28. */
static void row_narrow(int K, int N, real alpha, const real *restrict a,
                       int inca, const real *restrict B, int ldb, real beta,
                       real *restrict c)
{
    real acc[NARROW];
    memset(acc, 0, sizeof acc);
    for (int k = 0; k < K - 1; k++) {
        const real *restrict b = B + (size_t)k * ldb;
        const real s = a[(size_t)k * inca];
        for (int j = 0; j < NARROW; j++)
            acc[j] += s * b[j];
    }
    const real *restrict b = B + (size_t)(K - 1) * ldb;
    const real s = a[(size_t)(K - 1) * inca];
    for (int j = 0; j < N; j++) {
        real v = acc[j] + s * b[j];
        c[j] = beta == 0 ? alpha * v : alpha * v + beta * c[j];
    }
}

#if RNNRT_ROW_ZMM
/* row_block in 16-float vectors with the accumulators in registers:
 * c[0..16*nv) = alpha * sum_k a[k*inca] * B[k][..] + beta * c, the last
 * vector cut to the lanes in `last` when `masked` (masked loads and stores
 * neither read nor write past the row, so no padding is needed). nv <= 16
 * and `masked` are constants at every call, so acc[] is nv zmm registers
 * (16 of the 32) and each row of B is nv loads feeding a multiply and an
 * add, with no accumulator traffic through memory (row_block loads and
 * stores its accumulator for every 16 floats of B). The loads of several
 * rows are in flight through out-of-order execution alone: unrolling k by
 * 2 by hand measured slower (GCC then kept an address register per vector
 * of the second row and spilled them).
 *
 * Each lane is acc = fma(s, b, acc) in k order, one rounding per term:
 * the same chain, bit for bit, as the packed scan kernel (kernel32 in
 * rnnrt_gemm_packed.c) gives a row of C at alpha 1, so a generation step
 * and a scan over the same weights agree. It is not row_block's sum, a
 * rounded multiply then a rounded add (the runtime is compiled without FP
 * contraction, -std=c11): results move in the last bits, and sampled text
 * under an AVX-512 core differs from before and from Haswell's. Keeping
 * row_block's bits (_mm512_mul_ps then _mm512_add_ps) measured ~25% slower
 * (GRU-S generation 155k against 205k tok/s): with the multiply and the
 * add separate, the loop is not only bound by reading B from L2. */
static inline __attribute__((always_inline)) TARGET_AVX512 void
row_zmm(const int nv, const int masked, __mmask16 last, int K, float alpha,
        const float *restrict a, int inca, const float *restrict B, int ldb,
        float beta, float *restrict c)
{
    __m512 acc[16];
#pragma GCC unroll 16
    for (int v = 0; v < nv; v++)
        acc[v] = _mm512_setzero_ps();
#define ROW_ZMM_LOAD(p, v)                                                    \
    (masked && (v) == nv - 1 ? _mm512_maskz_loadu_ps(last, (p) + 16 * (v))  \
                             : _mm512_loadu_ps((p) + 16 * (v)))
    const float *b = B;
    for (int k = 0; k < K; k++, b += ldb) {
        const __m512 s = _mm512_set1_ps(a[(size_t)k * inca]);
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++)
            acc[v] = _mm512_fmadd_ps(s, ROW_ZMM_LOAD(b, v), acc[v]);
    }
#undef ROW_ZMM_LOAD
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int v = 0; v < nv; v++) {
        __m512 r = _mm512_mul_ps(va, acc[v]);
        const int part = masked && v == nv - 1;
        if (beta != 0) /* beta 0: C is not read, as in BLAS */
            r = _mm512_add_ps(r, _mm512_mul_ps(vb, part ? _mm512_maskz_loadu_ps(last, c + 16 * v)
                                                        : _mm512_loadu_ps(c + 16 * v)));
        if (part)
            _mm512_mask_storeu_ps(c + 16 * v, last, r);
        else
            _mm512_storeu_ps(c + 16 * v, r);
    }
}

/* c (1 x N) = a @ B (B stored K x N) with row_zmm: 256-column blocks (16
 * vectors), then the rest (0 < r < 256 columns) in one pass of
 * ceil(r / 16) vectors, the last one masked. */
TARGET_AVX512 static void row_zmm_all(int K, int N, float alpha, const float *a, int inca,
                        const float *B, int ldb, float beta, float *c)
{
    int j = 0;
    for (; j + ROW_BLOCK <= N; j += ROW_BLOCK)
        row_zmm(16, 0, 0, K, alpha, a, inca, B + j, ldb, beta, c + j);
    int r = N - j;
    if (r == 0)
        return;
    __mmask16 last = (__mmask16)(r % 16 ? (1u << (r % 16)) - 1 : 0xffffu);
#define ROW_ZMM_CASE(n)                                                       \
    case n:                                                                   \
        row_zmm(n, 1, last, K, alpha, a, inca, B + j, ldb, beta, c + j);      \
        break;
    switch ((r + 15) / 16) {
        ROW_ZMM_CASE(1) ROW_ZMM_CASE(2) ROW_ZMM_CASE(3) ROW_ZMM_CASE(4)
        ROW_ZMM_CASE(5) ROW_ZMM_CASE(6) ROW_ZMM_CASE(7) ROW_ZMM_CASE(8)
        ROW_ZMM_CASE(9) ROW_ZMM_CASE(10) ROW_ZMM_CASE(11) ROW_ZMM_CASE(12)
        ROW_ZMM_CASE(13) ROW_ZMM_CASE(14) ROW_ZMM_CASE(15) ROW_ZMM_CASE(16)
    default: break;
    }
#undef ROW_ZMM_CASE
}

/* Whether M = 1 products take row_zmm: only where the scan GEMM's packed
 * kernel is the AVX-512 one (OpenBLAS picked an AVX-512 core, or
 * RNNRT_GEMM=avx512), so that under OPENBLAS_CORETYPE=Haswell rnnc keeps
 * row_block, as the scan GEMM keeps its AVX2 kernel: a benchmark against
 * PyTorch on the same OpenBLAS core runs rnnc's hand-written kernels at
 * that core's vector width. (row_block is plain C at whatever width the
 * compiler picks for the build's -march: with RNNC_NATIVE, GCC 12 on Zen 5
 * uses zmm there too, so under Haswell the difference is the accumulators
 * kept in memory.) */
static int use_row_zmm;
static pthread_once_t row_zmm_once = PTHREAD_ONCE_INIT;

static void choose_row_kernel(void)
{
    use_row_zmm = __builtin_cpu_supports("avx512f") &&
                  !strcmp(rnnrt_gemm_packed_kernel(), "avx512");
}

static int row_zmm_on(void)
{
    pthread_once(&row_zmm_once, choose_row_kernel);
    return use_row_zmm;
}
#endif

/* A product with a single row or column of C as a GEMV. OpenBLAS's sgemm
 * packs all of op(B) on every call, which at M = 1 (one token of a B = 1
 * step) costs as much as the product itself; its GEMV reads the matrix once
 * in place. Same alpha/beta contract: with beta = 0, C is not read. Returns
 * 0 when the shape is not a vector product (or K = 0, which GEMM handles). */
static int gemv_case(int ta, int tb, int M, int N, int K, real alpha,
                     const real *A, int lda, const real *B, int ldb, real beta,
                     real *C, int ldc)
{
    if (K <= 0)
        return 0;
    if (M == 1) {
        /* c (1 x N) = a (1 x K) @ op(B): the row of op(A) is A itself, or
         * A's first column (stride lda) when transposed. C^T = op(B)^T a. */
        int inca = ta ? lda : 1;
#if RNNRT_ROW_ZMM
        if (!tb && row_zmm_on()) {
            row_zmm_all(K, N, alpha, A, inca, B, ldb, beta, C);
            return 1;
        }
#endif
        if (tb) /* B stored N x K: c = B a */
            GEMV(CblasRowMajor, CblasNoTrans, N, K, alpha, B, ldb, A, inca,
                 beta, C, 1);
        else if (N <= NARROW && N >= NARROW / 2 && K >= 2 &&
                 ldb + N >= NARROW)
            row_narrow(K, N, alpha, A, inca, B, ldb, beta, C);
        else { /* B stored K x N: c = B^T a, whole column blocks first */
            int j = 0;
            for (; j + ROW_BLOCK <= N; j += ROW_BLOCK)
                row_block(K, alpha, A, inca, B + j, ldb, beta, C + j);
            if (j < N) /* the rest (all of an N < 256 not taken above) */
                GEMV(CblasRowMajor, CblasTrans, K, N - j, alpha, B + j, ldb,
                     A, inca, beta, C + j, 1);
        }
        return 1;
    }
    if (N == 1) {
        /* c (M x 1, stride ldc) = op(A) @ b: op(B)'s column is B's first
         * column (stride ldb), or B itself (1 x K) when transposed. */
        int incb = tb ? 1 : ldb;
        if (ta) /* A stored K x M */
            GEMV(CblasRowMajor, CblasTrans, K, M, alpha, A, lda, B, incb,
                 beta, C, ldc);
        else /* A stored M x K */
            GEMV(CblasRowMajor, CblasNoTrans, M, K, alpha, A, lda, B, incb,
                 beta, C, ldc);
        return 1;
    }
    return 0;
}

void rnnrt_gemm(int ta, int tb, int M, int N, int K, real alpha,
                const real *A, int lda, const real *B, int ldb, real beta,
                real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (gemv_case(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
        return;
    enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE opb = tb ? CblasTrans : CblasNoTrans;
    GEMM(CblasRowMajor, opa, opb, M, N, K, alpha, A, lda, B, ldb, beta, C,
         ldc);
}

void rnnrt_blas_set_threads(int n)
{
    if (n > 0)
        openblas_set_num_threads(n);
}
