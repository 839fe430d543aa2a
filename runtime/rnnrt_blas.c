/*
 * rnnrt_blas.c: the BLAS wrapper generated code calls for every matrix
 * product. Everything in rnnc is row-major, so this is a thin layer over
 * CBLAS with CblasRowMajor; `real` picks sgemm or dgemm at compile time.
 *
 *   C (M x N) = alpha * op(A) (M x K) @ op(B) (K x N) + beta * C
 *
 * lda/ldb/ldc are the row strides of A, B and C as stored (so A is M x lda
 * when not transposed and K x lda when transposed).
 */
#include "rnnrt.h"

#include <cblas.h>

void rnnrt_gemm(int ta, int tb, int M, int N, int K, real alpha,
                const real *A, int lda, const real *B, int ldb, real beta,
                real *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE opb = tb ? CblasTrans : CblasNoTrans;
#ifdef RNNRT_DOUBLE
    cblas_dgemm(CblasRowMajor, opa, opb, M, N, K, alpha, A, lda, B, ldb, beta,
                C, ldc);
#else
    cblas_sgemm(CblasRowMajor, opa, opb, M, N, K, alpha, A, lda, B, ldb, beta,
                C, ldc);
#endif
}

void rnnrt_blas_set_threads(int n)
{
    if (n > 0)
        openblas_set_num_threads(n);
}
