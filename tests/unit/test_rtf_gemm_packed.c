/*
 * test_rtf_gemm_packed.c: the scan GEMM against a pre-packed weight
 * (runtime/kernels/rnnrt_gemm_packed.c), float build, against a double product
 * computed here. Shapes cover full and partial row blocks (M = 1..13, 32,
 * 64), full and partial panels (N not a multiple of 16 or 32), both
 * orientations (tb), leading dimensions wider than the matrix, and the
 * unpacked fallback (packed NULL). ctest runs this file once per kernel
 * (RNNRT_GEMM = avx2, avx512, blas; see tests/gemm_packed.cmake); a kernel
 * this machine or build lacks falls back to BLAS, which the kernel test
 * reports.
 *
 * Tolerance: a float dot product of K terms is within K * 2^-24 * sum |a b|
 * of the exact one (each partial sum rounds once); 2x that is allowed. A
 * wrong panel offset, a dropped row or column, or a transposed read is off
 * by the size of the terms themselves.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static float uniformf(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (float)((double)(z >> 11) / 9007199254740992.0 * 2 - 1);
}

/* One product C = A @ op(B) with the given shape, packed (or not), against
 * the double reference; the padding columns of C (ldc > N) stay as set. */
static void check_one(int tb, int M, int N, int K, int pad, bool pack)
{
    int lda = K + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    int brows = tb ? N : K;
    float *A = malloc(sizeof(float) * (size_t)M * lda);
    float *B = malloc(sizeof(float) * (size_t)brows * ldb);
    float *C = malloc(sizeof(float) * (size_t)M * ldc);
    float *P = malloc(sizeof(float) * rnnrt_packed_size(brows, tb ? K : N));
    assert_non_null(A);
    assert_non_null(B);
    assert_non_null(C);
    assert_non_null(P);
    for (int i = 0; i < M * lda; i++)
        A[i] = uniformf();
    for (int i = 0; i < brows * ldb; i++)
        B[i] = uniformf();
    for (int i = 0; i < M * ldc; i++)
        C[i] = 1234.5f; /* beta 0: overwritten, whatever was there */
    if (pack)
        rnnrt_pack_b(tb, K, N, B, ldb, P);
    rnnrt_gemm_packed(tb, M, N, K, A, lda, B, ldb, pack ? P : NULL, C, ldc);
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += (double)A[(size_t)i * lda + k] * b;
                mag += fabs((double)A[(size_t)i * lda + k] * b);
            }
            double err = fabs(C[(size_t)i * ldc + j] - s), tol = 2.0 * K * ldexp(1, -24) * mag + 1e-30;
            if (err > tol) {
                fprintf(stderr, "kernel %s tb %d M %d N %d K %d pad %d: C[%d][%d] = %.9g, expected %.9g (tol %.3g)\n",
                        rnnrt_gemm_packed_kernel(), tb, M, N, K, pad, i, j, C[(size_t)i * ldc + j], s, tol);
                fail();
            }
        }
        for (int j = N; j < ldc; j++)
            assert_true(C[(size_t)i * ldc + j] == 1234.5f);
    }
    free(A);
    free(B);
    free(C);
    free(P);
}

static void test_shapes(void **state)
{
    (void)state;
    static const int Ns[] = {1, 7, 16, 17, 31, 32, 33, 48, 70, 256};
    static const int Ks[] = {1, 3, 16, 40};
    for (int tb = 0; tb < 2; tb++)
        for (int M = 1; M <= 13; M++)
            for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
                for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++)
                    check_one(tb, M, Ns[n], Ks[k], (M + n + k) % 3 == 0 ? 5 : 0, true);
}

/* the step shapes of the bench configs */
static void test_step_shapes(void **state)
{
    (void)state;
    for (int tb = 0; tb < 2; tb++) {
        check_one(tb, 32, 256, 256, 0, true);
        check_one(tb, 64, 768, 256, 0, true);
        check_one(tb, 64, 1024, 1024, 0, true);
    }
}

static void test_unpacked_fallback(void **state)
{
    (void)state;
    for (int tb = 0; tb < 2; tb++) {
        check_one(tb, 5, 33, 17, 0, false);
        check_one(tb, 1, 256, 256, 3, false);
    }
}

/* Each row of C is one multiply-add chain in k order whatever the other
 * rows are, so splitting the batch over workers (rnnrt_parallel.c) gives
 * the same bits: rows computed alone equal rows computed together. */
static void test_rows_independent(void **state)
{
    (void)state;
    if (!strcmp(rnnrt_gemm_packed_kernel(), "blas")) {
        /* sgemm blocks rows differently at M = 1 and M = 32 (measured:
         * last bits differ), which is why the kernels were written so */
        fprintf(stderr, "test_rows_independent: skipped, no vector kernel (BLAS)\n");
        skip();
    }
    enum { M = 32, N = 70, K = 50 };
    static float A[M * K], B[K * N], C[M * N], C1[N];
    float *P = malloc(sizeof(float) * rnnrt_packed_size(K, N));
    assert_non_null(P);
    for (int i = 0; i < M * K; i++)
        A[i] = uniformf();
    for (int i = 0; i < K * N; i++)
        B[i] = uniformf();
    rnnrt_pack_b(0, K, N, B, N, P);
    rnnrt_gemm_packed(0, M, N, K, A, K, B, N, P, C, N);
    for (int i = 0; i < M; i++) {
        rnnrt_gemm_packed(0, 1, N, K, A + (size_t)i * K, K, B, N, P, C1, N);
        assert_memory_equal(C1, C + (size_t)i * N, sizeof C1);
    }
    free(P);
}

/* One row of C through rnnrt_gemm (the products of a B = 1 generation
 * step), B stored K x N with NaN in its padding columns, the row of A read
 * with stride inca (a transposed A's first column): against the double
 * reference within the tolerance above, and, where rnnc's own M = 1 row
 * kernels answer every such product, bit for bit against the float sum
 * in k order they compute: with the AVX-512 kernel (all N) a fused
 * multiply-add chain, acc = fma(a_k, b_k, acc), as the packed kernels; with
 * row_block (N a multiple of 256 otherwise) a rounded product then a
 * rounded add. A changed order or rounding shows up here, not only in
 * sampled text. */
static void check_row(int N, int K, int inca, int pad, float beta)
{
    int ldb = N + pad;
    float *a = malloc(sizeof(float) * (size_t)K * inca);
    float *B = malloc(sizeof(float) * (size_t)K * ldb);
    float *C = malloc(sizeof(float) * (size_t)(N + 1));
    assert_non_null(a);
    assert_non_null(B);
    assert_non_null(C);
    for (int i = 0; i < K * inca; i++)
        a[i] = uniformf();
    for (int k = 0; k < K; k++)
        for (int j = 0; j < ldb; j++)
            B[(size_t)k * ldb + j] = j < N ? uniformf() : NAN;
    float *C0 = malloc(sizeof(float) * (size_t)N);
    assert_non_null(C0);
    for (int j = 0; j < N; j++) /* beta 0: C is not read, NaN cannot leak */
        C0[j] = C[j] = beta == 0 ? NAN : uniformf();
    C[N] = 1234.5f;
    const float alpha = 0.75f;
    rnnrt_gemm(inca > 1, 0, 1, N, K, alpha, a, inca, B, ldb, beta, C, N);
    bool fused = !strcmp(rnnrt_gemm_packed_kernel(), "avx512");
    bool exact = fused || N % 256 == 0;
    for (int j = 0; j < N; j++) {
        double s = 0, mag = 0;
        float acc = 0;
        for (int k = 0; k < K; k++) {
            float ak = a[(size_t)k * inca], bk = B[(size_t)k * ldb + j];
            if (fused)
                acc = fmaf(ak, bk, acc);
            else {
                float prod = ak * bk; /* rounded, then added: no contraction */
                acc = acc + prod;
            }
            s += (double)ak * bk;
            mag += fabs((double)ak * bk);
        }
        double want = alpha * s + (beta == 0 ? 0 : (double)beta * C0[j]);
        double tol = 2.0 * K * ldexp(1, -24) * alpha * mag + 4 * ldexp(1, -24) * fabs(want) + 1e-30;
        float wantf = beta == 0 ? alpha * acc : alpha * acc + beta * C0[j];
        if (isnan(C[j]) || fabs(C[j] - want) > tol || (exact && C[j] != wantf)) {
            fprintf(stderr, "kernel %s M 1 N %d K %d inca %d pad %d beta %g: C[%d] = %.9g, expected %.9g (float k order %.9g)\n",
                    rnnrt_gemm_packed_kernel(), N, K, inca, pad, beta, j, C[j], want, wantf);
            fail();
        }
    }
    assert_true(C[N] == 1234.5f); /* nothing written past the row */
    free(a);
    free(B);
    free(C);
    free(C0);
}

/* With the AVX-512 kernels, one row through rnnrt_gemm (a generation
 * step) and the same row through the packed scan GEMM are the same bits. */
static void test_single_row_matches_packed(void **state)
{
    (void)state;
    if (strcmp(rnnrt_gemm_packed_kernel(), "avx512")) {
        fprintf(stderr, "test_single_row_matches_packed: skipped, kernel %s\n", rnnrt_gemm_packed_kernel());
        return;
    }
    enum { K = 256, N = 300 };
    static float a[K], B[K * N], C1[N], C2[N];
    float *P = malloc(sizeof(float) * rnnrt_packed_size(K, N));
    assert_non_null(P);
    for (int i = 0; i < K; i++)
        a[i] = uniformf();
    for (int i = 0; i < K * N; i++)
        B[i] = uniformf();
    rnnrt_pack_b(0, K, N, B, N, P);
    rnnrt_gemm_packed(0, 1, N, K, a, K, B, N, P, C1, N);
    rnnrt_gemm(0, 0, 1, N, K, 1, a, K, B, N, 0, C2, N);
    assert_memory_equal(C1, C2, sizeof C1);
    free(P);
}

static void test_gemm_single_row(void **state)
{
    (void)state;
    static const int Ns[] = {1, 5, 15, 16, 17, 28, 32, 33, 100, 255, 256, 257, 300, 512, 520, 768, 1000};
    static const int Ks[] = {1, 2, 3, 17, 256, 257};
    for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
        for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++)
            for (int beta = 0; beta < 2; beta++)
                check_row(Ns[n], Ks[k], (n + k) % 3 == 0 ? 3 : 1, (n + k) % 2 ? 5 : 0, (float)beta);
}

/* The kernel asked for in RNNRT_GEMM is the one that runs, unless this
 * build or CPU does not have it (then BLAS, said on stderr). */
static void test_kernel_choice(void **state)
{
    (void)state;
    const char *want = getenv("RNNRT_GEMM"), *got = rnnrt_gemm_packed_kernel();
    fprintf(stderr, "test_rtf_gemm_packed: RNNRT_GEMM=%s, kernel %s\n", want ? want : "(unset)", got);
    if (want && !strcmp(want, "blas"))
        assert_string_equal(got, "blas");
    else if (want && *want && strcmp(got, want))
        assert_string_equal(got, "blas");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_choice),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_step_shapes),
        cmocka_unit_test(test_unpacked_fallback),
        cmocka_unit_test(test_rows_independent),
        cmocka_unit_test(test_gemm_single_row),
        cmocka_unit_test(test_single_row_matches_packed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
