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
#include <string.h>

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
 * prefetching did not help: at ~115 GB/s the loop is bound by reading B
 * from L2. */
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
