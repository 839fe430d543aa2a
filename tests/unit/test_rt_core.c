/*
 * test_rt_core.c: librnnrt's numeric building blocks: the RNG, GEMM,
 * softmax cross-entropy and its gradient, SGD and clipping, strict number
 * parsing and CRC32. Linked with librnnrt_d, so real is double.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"

#include <cblas.h>

/* cmocka 1.1 has no double comparison */
#define assert_close(a, b, tol)                                               \
    do {                                                                      \
        double a_ = (a), b_ = (b);                                            \
        if (!(fabs(a_ - b_) <= (tol)))                                        \
            fail_msg("%s = %.17g, expected %.17g (tol %g)", #a, a_, b_,       \
                     (double)(tol));                                          \
    } while (0)

/* ---- RNG ---- */

static void test_rng_known_vectors(void **state)
{
    (void)state;
    /* splitmix64(0) starts with 0xe220a8397b1dcdaf */
    RnnrtRng r;
    rnnrt_rng_init(&r, 0);
    assert_true(r.s[0] == 0xe220a8397b1dcdafull);
    /* xoshiro256** from state {1,2,3,4} (the authors' reference code) */
    RnnrtRng x = {{1, 2, 3, 4}};
    assert_true(rnnrt_rng_next(&x) == 11520u);
    assert_true(rnnrt_rng_next(&x) == 0u);
    assert_true(rnnrt_rng_next(&x) == 1509978240u);
    assert_true(rnnrt_rng_next(&x) == 1215971899390074240ull);
}

static void test_rng_same_seed_same_numbers(void **state)
{
    (void)state;
    RnnrtRng a, b, c;
    rnnrt_rng_init(&a, 42);
    rnnrt_rng_init(&b, 42);
    rnnrt_rng_init(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t va = rnnrt_rng_next(&a);
        assert_true(va == rnnrt_rng_next(&b));
        differ += va != rnnrt_rng_next(&c);
    }
    assert_true(differ > 990);
}

static void test_rng_distributions(void **state)
{
    (void)state;
    RnnrtRng r;
    rnnrt_rng_init(&r, 7);
    enum { N = 200000 };
    double su = 0, sn = 0, sn2 = 0;
    int counts[7] = {0};
    for (int i = 0; i < N; i++) {
        double u = rnnrt_rng_uniform(&r);
        assert_true(u >= 0 && u < 1);
        su += u;
        double z = rnnrt_rng_normal(&r);
        sn += z;
        sn2 += z * z;
        uint64_t k = rnnrt_rng_below(&r, 7);
        assert_true(k < 7);
        counts[k]++;
    }
    assert_true(fabs(su / N - 0.5) < 0.01);
    assert_true(fabs(sn / N) < 0.01);
    assert_true(fabs(sn2 / N - 1) < 0.02);
    for (int k = 0; k < 7; k++)
        assert_true(abs(counts[k] - N / 7) < N / 70);
    assert_true(rnnrt_rng_below(&r, 1) == 0);
}

/* ---- GEMM ---- */

static void naive_gemm(int ta, int tb, int M, int N, int K, double alpha,
                       const double *A, int lda, const double *B, int ldb,
                       double beta, double *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
            }
            C[i * ldc + j] = alpha * s + beta * C[i * ldc + j];
        }
}

static void test_gemm_all_transposes_match_naive(void **state)
{
    (void)state;
    RnnrtRng r;
    rnnrt_rng_init(&r, 1);
    const int M = 5, N = 7, K = 3, pad = 2;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad;
            int ldc = N + pad;
            double A[64], B[64], C[64], want[64];
            rnnrt_rng_fill_uniform(&r, A, 64, -1, 1);
            rnnrt_rng_fill_uniform(&r, B, 64, -1, 1);
            rnnrt_rng_fill_uniform(&r, C, 64, -1, 1);
            memcpy(want, C, sizeof C);
            rnnrt_gemm(ta, tb, M, N, K, 0.5, A, lda, B, ldb, 2.0, C, ldc);
            naive_gemm(ta, tb, M, N, K, 0.5, A, lda, B, ldb, 2.0, want, ldc);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < ldc; j++)
                    assert_close(C[i * ldc + j], want[i * ldc + j],
                                        1e-12);
        }
}

/* rnnrt_gemm answers a single-row or single-column C with a GEMV; the
 * reference here is cblas_dgemm itself, at every transpose combination,
 * beta 0 and 1, padded strides, shapes on both sides of the switch, rows
 * wider than its own kernel's 256-column block (with a remainder) and
 * narrow rows (16..32 columns, its narrow kernel). */
static void check_gemv_shape(RnnrtRng *r, int ta, int tb, int M, int N, int K,
                             double beta)
{
    enum { CAP = 4096 };
    const int pad = 3;
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    double A[CAP], B[CAP], C[CAP], want[CAP];
    assert_true((ta ? K : M) * lda <= CAP && (tb ? N : K) * ldb <= CAP &&
                M * ldc <= CAP);
    rnnrt_rng_fill_uniform(r, A, CAP, -1, 1);
    rnnrt_rng_fill_uniform(r, B, CAP, -1, 1);
    rnnrt_rng_fill_uniform(r, C, CAP, -1, 1);
    /* NaN in the padding of A and B: a kernel may read it, never use it */
    for (int i = 0; i < (ta ? K : M); i++)
        for (int j = ta ? M : K; j < lda; j++)
            A[i * lda + j] = NAN;
    for (int i = 0; i < (tb ? N : K); i++)
        for (int j = tb ? K : N; j < ldb; j++)
            B[i * ldb + j] = NAN;
    memcpy(want, C, sizeof C);
    if (beta == 0) /* C must not be read: NaN in it cannot leak */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[i * ldc + j] = want[i * ldc + j] = NAN;
    rnnrt_gemm(ta, tb, M, N, K, 0.75, A, lda, B, ldb, beta, C, ldc);
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, M, N, K, 0.75, A, lda, B, ldb,
                beta, want, ldc);
    for (int i = 0; i < CAP; i++) {
        if (isnan(want[i])) { /* outside C, or reference failed */
            assert_true(isnan(C[i]));
            continue;
        }
        assert_false(isnan(C[i]));
        assert_close(C[i], want[i], 1e-12);
    }
}

static void test_gemm_vector_shapes_match_dgemm(void **state)
{
    (void)state;
    RnnrtRng r;
    rnnrt_rng_init(&r, 7);
    static const int shapes[][3] = {
        {1, 9, 6}, {9, 1, 6}, {1, 1, 6}, {1, 9, 1}, {9, 1, 1}, {2, 9, 6},
        {9, 2, 6}, {1, 9, 0}, {9, 1, 0}, {1, 256, 5}, {1, 300, 4},
        {1, 520, 3}, {300, 1, 4}, {1, 28, 6}, {1, 16, 3}, {1, 32, 2},
        {1, 28, 1}, {1, 15, 4},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int b = 0; b < 2; b++)
                    check_gemv_shape(&r, ta, tb, shapes[s][0], shapes[s][1],
                                     shapes[s][2], b);
}

/* ---- softmax cross-entropy ---- */

static double naive_xent_row(const double *row, int V, int target)
{
    long double s = 0;
    for (int v = 0; v < V; v++)
        s += expl((long double)row[v]);
    return (double)(logl(s) - row[target]);
}

static void test_softmax_xent_matches_naive(void **state)
{
    (void)state;
    enum { n = 6, V = 9 };
    double logits[n * V];
    int32_t y[n] = {0, 8, 3, 3, 5, 1};
    RnnrtRng r;
    rnnrt_rng_init(&r, 3);
    rnnrt_rng_fill_uniform(&r, logits, n * V, -4, 4);
    double want = 0;
    for (int i = 0; i < n; i++)
        want += naive_xent_row(logits + i * V, V, y[i]);
    assert_close(rnnrt_softmax_xent(logits, y, n, V), want / n, 1e-12);
}

static void test_softmax_xent_is_stable_for_large_logits(void **state)
{
    (void)state;
    double logits[4] = {1000, 0, -1000, 1000};
    int32_t y[2] = {1, 0};
    /* row [1000, 0] against 1: 1000; row [-1000, 1000] against 0: 2000 */
    double loss = rnnrt_softmax_xent(logits, y, 2, 2);
    assert_true(isfinite(loss));
    assert_close(loss, 1500.0, 1e-9);
    double d[4];
    rnnrt_softmax_xent_grad(logits, y, 2, 2, 1.0, d);
    for (int i = 0; i < 4; i++)
        assert_true(isfinite(d[i]));
    assert_close(d[0], 0.5, 1e-12); /* (p - onehot) / n */
    assert_close(d[1], -0.5, 1e-12);
    assert_close(d[2], -0.5, 1e-12);
    assert_close(d[3], 0.5, 1e-12);
}

static void test_softmax_xent_grad_matches_finite_differences(void **state)
{
    (void)state;
    enum { n = 4, V = 5 };
    double logits[n * V], d[n * V];
    int32_t y[n] = {4, 0, 2, 2};
    RnnrtRng r;
    rnnrt_rng_init(&r, 5);
    rnnrt_rng_fill_uniform(&r, logits, n * V, -2, 2);
    const double g = 1.7, eps = 1e-6;
    rnnrt_softmax_xent_grad(logits, y, n, V, g, d);
    for (int k = 0; k < n * V; k++) {
        double x = logits[k];
        logits[k] = x + eps;
        double hi = rnnrt_softmax_xent(logits, y, n, V);
        logits[k] = x - eps;
        double lo = rnnrt_softmax_xent(logits, y, n, V);
        logits[k] = x;
        assert_close(d[k], g * (hi - lo) / (2 * eps), 1e-8);
    }
    /* rows of the gradient sum to zero */
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int v = 0; v < V; v++)
            s += d[i * V + v];
        assert_close(s, 0, 1e-12);
    }
}

static void test_perplexity(void **state)
{
    (void)state;
    assert_close(rnnrt_perplexity(log(5.0) * 10, 10), 5.0, 1e-12);
    assert_true(isnan(rnnrt_perplexity(1, 0)));
}

/* ---- SGD and clipping ---- */

static void test_sgd_step(void **state)
{
    (void)state;
    double p[3] = {1, 2, 3}, g[3] = {1, -1, 0.5};
    rnnrt_sgd_step(p, g, 3, 0.1);
    assert_close(p[0], 0.9, 1e-15);
    assert_close(p[1], 2.1, 1e-15);
    assert_close(p[2], 2.95, 1e-15);
}

static void test_clip_scales_only_above_max_norm(void **state)
{
    (void)state;
    double g[2] = {3, 4};
    assert_close(rnnrt_clip_grad_norm(g, 2, 10), 5, 1e-15);
    assert_close(g[0], 3, 0);
    assert_close(rnnrt_clip_grad_norm(g, 2, 1), 5, 1e-15);
    assert_close(g[0], 3 / (5 + 1e-6), 1e-15);
    assert_close(g[1], 4 / (5 + 1e-6), 1e-15);
    assert_close(rnnrt_grad_norm(g, 2), 5 / (5 + 1e-6), 1e-15);
    double h[2] = {3, 4};
    rnnrt_clip_grad_norm(h, 2, 0); /* 0 = off */
    assert_close(h[1], 4, 0);
    double bad[2] = {NAN, 1};
    assert_true(isnan(rnnrt_clip_grad_norm(bad, 2, 1)));
    assert_close(bad[1], 1, 0);
}

/* ---- parsing, CRC ---- */

static void test_parse_numbers_strictly(void **state)
{
    (void)state;
    int64_t i;
    uint64_t u;
    double d;
    assert_int_equal(rnnrt_parse_i64("12", 0, 100, &i), 0);
    assert_int_equal(i, 12);
    assert_int_equal(rnnrt_parse_i64("-3", -5, 5, &i), 0);
    assert_int_equal(i, -3);
    const char *bad_ints[] = {"", " 12", "12 ", "12abc", "+5", "0x10", "1.0",
                              "101", "-1", "99999999999999999999"};
    for (size_t k = 0; k < sizeof bad_ints / sizeof *bad_ints; k++)
        assert_int_equal(rnnrt_parse_i64(bad_ints[k], 0, 100, &i), -1);
    assert_int_equal(rnnrt_parse_u64("18446744073709551615", &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(rnnrt_parse_u64("18446744073709551616", &u), -1);
    assert_int_equal(rnnrt_parse_u64("-1", &u), -1);
    assert_int_equal(rnnrt_parse_double("1e-3", 0, 1, &d), 0);
    assert_close(d, 1e-3, 0);
    assert_int_equal(rnnrt_parse_double(".5", 0, 1, &d), 0);
    const char *bad_doubles[] = {"", "nan", "inf", "1e400", "0.5x", "0x1p1",
                                 " 1", "2", "-0.1"};
    for (size_t k = 0; k < sizeof bad_doubles / sizeof *bad_doubles; k++)
        assert_int_equal(rnnrt_parse_double(bad_doubles[k], 0, 1, &d), -1);
}

/* A leading positional argument, "-o" for --out, and the errors: an
 * unknown option, a second positional argument, "-o" without --out. */
static void test_cli_positional_and_o(void **state)
{
    (void)state;
    const char *out = NULL, *pos = NULL;
    int64_t n = 1;
    const RnnrtOpt opts[] = {
        {"--out", RNNRT_OPT_STR, &out, "FILE", "output", 0, 0},
        {"--n", RNNRT_OPT_I64, &n, "N", "a count", 0, 10},
        {0},
    };
    char *a1[] = {"export", "in.ckpt", "-o", "x.st", "--n", "3", NULL};
    assert_int_equal(rnnrt_cli_parse_pos(6, a1, "t", "s", opts, &pos), 0);
    assert_string_equal(pos, "in.ckpt");
    assert_string_equal(out, "x.st");
    assert_true(n == 3);
    char *a2[] = {"export", "--out=y.st", NULL};
    assert_int_equal(rnnrt_cli_parse_pos(2, a2, "t", "s", opts, &pos), 0);
    assert_null(pos);
    assert_string_equal(out, "y.st");
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    assert_non_null(stderr);
    char *a3[] = {"export", "a", "b", NULL};
    int r3 = rnnrt_cli_parse_pos(3, a3, "t", "s", opts, &pos);
    char *a4[] = {"export", "--nope", NULL};
    int r4 = rnnrt_cli_parse_pos(2, a4, "t", "s", opts, &pos);
    const RnnrtOpt no_out[] = {{"--n", RNNRT_OPT_I64, &n, "N", "", 0, 10},
                               {0}};
    char *a5[] = {"cmd", "-o", "z", NULL};
    int r5 = rnnrt_cli_parse(3, a5, "t", "s", no_out);
    fclose(stderr);
    stderr = saved;
    assert_int_equal(r3, RNNRT_EXIT_USAGE);
    assert_int_equal(r4, RNNRT_EXIT_USAGE);
    assert_int_equal(r5, RNNRT_EXIT_USAGE);
}

static void test_crc32_check_value(void **state)
{
    (void)state;
    assert_true(rnnrt_crc32(0, "123456789", 9) == 0xCBF43926u);
    uint32_t part = rnnrt_crc32(0, "1234", 4);
    assert_true(rnnrt_crc32(part, "56789", 5) == 0xCBF43926u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_known_vectors),
        cmocka_unit_test(test_rng_same_seed_same_numbers),
        cmocka_unit_test(test_rng_distributions),
        cmocka_unit_test(test_gemm_all_transposes_match_naive),
        cmocka_unit_test(test_gemm_vector_shapes_match_dgemm),
        cmocka_unit_test(test_softmax_xent_matches_naive),
        cmocka_unit_test(test_softmax_xent_is_stable_for_large_logits),
        cmocka_unit_test(test_softmax_xent_grad_matches_finite_differences),
        cmocka_unit_test(test_perplexity),
        cmocka_unit_test(test_sgd_step),
        cmocka_unit_test(test_clip_scales_only_above_max_norm),
        cmocka_unit_test(test_parse_numbers_strictly),
        cmocka_unit_test(test_cli_positional_and_o),
        cmocka_unit_test(test_crc32_check_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
