/*
 * test_rt_s2s_split.c: batch-split threads for the seq2seq trainer
 * (rnnrt_s2s_split.c) on the generated seq2seq models, double build.
 *
 * B = 7 rows with uneven valid lengths (a row with none, a row cut at T,
 * short and long sources) go through the plain forward/backward and
 * through 2, 3 and 4 workers; the loss and every gradient must agree to
 * 1e-12 relative. The lengths are chosen so that the rows per worker and
 * the valid tokens per worker are not proportional: weighting by rows
 * instead of tokens fails. A repeated split call must be bit-identical,
 * a minibatch with no valid token gives loss 0 and no gradient, a call the
 * split cannot serve (nonzero encoder state) runs unsplit, and a split step
 * allocates nothing.
 */
#define _GNU_SOURCE /* dladdr, in alloc_count.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RNNC_NO_MAIN
#include "../../generated/seq2seq.c"
#include "../../generated/seq2seq_noattn.c"

#include "alloc_count.h"

enum { B = 7, T = 6, V = 10, VT = 9 };

/* Valid lengths: with 2 workers rows 0-3 hold 6+6+1+0 = 13 label tokens
 * and rows 4-6 hold 2+5+3 = 10, so token weights (13/23, 10/23) differ
 * from row weights (4/7, 3/7). */
static const int32_t tgt_len[B] = {6, 9, 1, 0, 2, 5, 3};
static const int32_t src_len[B] = {1, 6, 3, 2, 6, 4, 5};

typedef struct {
    const RnnrtS2sModel *m;
    size_t np;
    real *params, *grads, *work, *state;
    int32_t src[T * B], dec[T * B], lab[T * B], sl[B], tl[B];
    RnnrtS2sCtx c;
} Fix;

static size_t dim_of(int d)
{
    return (size_t)(d == RNNRT_DIM_V ? V : d == RNNRT_DIM_VT ? VT : d);
}

static void setup_fix(Fix *f, const RnnrtS2sModel *m)
{
    memset(f, 0, sizeof *f);
    f->m = m;
    for (int i = 0; i < m->nparams; i++) {
        size_t n = 1;
        for (int k = 0; k < m->params[i].ndim; k++)
            n *= dim_of(m->params[i].dims[k]);
        f->np += n;
    }
    RnnrtRng r;
    rnnrt_rng_init(&r, 5);
    f->params = calloc(f->np, sizeof(real));
    f->grads = calloc(f->np, sizeof(real));
    rnnrt_rng_fill_uniform(&r, f->params, f->np, -0.3, 0.3);
    f->work = calloc(m->workspace(B, T, V, VT) + 1, sizeof(real));
    f->state = calloc((size_t)B * (size_t)m->state_size + 1, sizeof(real));
    for (int i = 0; i < T * B; i++) {
        f->src[i] = (int32_t)rnnrt_rng_below(&r, V);
        f->lab[i] = (int32_t)(4 + rnnrt_rng_below(&r, VT - 4));
    }
    for (int b = 0; b < B; b++) {
        f->dec[b] = 2; /* <bos> */
        for (int t = 1; t < T; t++)
            f->dec[t * B + b] = f->lab[(t - 1) * B + b];
        f->sl[b] = src_len[b];
        f->tl[b] = tgt_len[b];
    }
    f->c = (RnnrtS2sCtx){.B = B, .T = T, .V = V, .Vt = VT, .params = f->params, .grads = f->grads,
                         .src = f->src, .dec_in = f->dec, .label = f->lab, .src_len = f->sl,
                         .tgt_len = f->tl, .state_in = f->state, .work = f->work};
}

static void teardown_fix(Fix *f)
{
    free(f->params);
    free(f->grads);
    free(f->work);
    free(f->state);
}

/* One step (forward and backward) through split p, or plainly when NULL. */
static double step(Fix *f, RnnrtS2sSplit *p, real *grads_out)
{
    RnnrtS2sCtx c = f->c;
    memset(f->grads, 0, f->np * sizeof(real));
    rnnrt_s2s_run(f->m, p, &c, 1);
    memcpy(grads_out, f->grads, f->np * sizeof(real));
    return c.loss;
}

static RnnrtS2sSplit *new_split(Fix *f, int threads)
{
    RnnrtError err;
    RnnrtS2sSplit *p = NULL;
    assert_int_equal(rnnrt_s2s_split_new(&p, f->m, threads, B, T, V, VT, f->np, f->work, &err), 0);
    assert_int_equal(rnnrt_s2s_split_n(p), threads);
    return p;
}

static void assert_close(double a, double b, const char *what, size_t k)
{
    double tol = 1e-12 * fmax(1.0, fmax(fabs(a), fabs(b)));
    if (fabs(a - b) > tol)
        fail_msg("%s[%zu]: split %.17g, plain %.17g", what, k, a, b);
}

static void check_model(const RnnrtS2sModel *m)
{
    Fix f;
    setup_fix(&f, m);
    real *g0 = calloc(f.np, sizeof(real)), *g1 = calloc(f.np, sizeof(real)), *g2 = calloc(f.np, sizeof(real));
    double plain = step(&f, NULL, g0);
    assert_true(plain > 0);
    double gsum = 0;
    for (size_t k = 0; k < f.np; k++)
        gsum += fabs((double)g0[k]);
    assert_true(gsum > 0);
    for (int n = 2; n <= 4; n++) {
        RnnrtS2sSplit *p = new_split(&f, n);
        double loss = step(&f, p, g1);
        assert_close(loss, plain, "loss", 0);
        for (size_t k = 0; k < f.np; k++)
            assert_close((double)g1[k], (double)g0[k], "grad", k);
        /* run to run: bit-identical */
        double again = step(&f, p, g2);
        assert_memory_equal(&again, &loss, sizeof loss);
        assert_memory_equal(g2, g1, f.np * sizeof(real));
        rnnrt_s2s_split_free(p);
    }
    free(g0);
    free(g1);
    free(g2);
    teardown_fix(&f);
}

static void test_split_equals_plain_attention(void **state)
{
    (void)state;
    check_model(&seq2seq_model);
}

static void test_split_equals_plain_noattn(void **state)
{
    (void)state;
    check_model(&seq2seq_noattn_model);
}

/* Weighting by rows instead of valid tokens gives a different loss here:
 * the test above would see it. Make sure the data really is uneven. */
static void test_lengths_are_uneven(void **state)
{
    (void)state;
    int64_t c0 = 0, c1 = 0;
    for (int b = 0; b < B; b++) {
        int L = tgt_len[b] > T ? T : tgt_len[b];
        *(b < 4 ? &c0 : &c1) += L;
    }
    assert_true((double)c0 / (double)(c0 + c1) != 4.0 / 7.0);
}

static void test_no_valid_token(void **state)
{
    (void)state;
    Fix f;
    setup_fix(&f, &seq2seq_model);
    for (int b = 0; b < B; b++)
        f.tl[b] = 0;
    real *g = calloc(f.np, sizeof(real));
    RnnrtS2sSplit *p = new_split(&f, 3);
    double loss = step(&f, p, g);
    assert_true(loss == 0);
    for (size_t k = 0; k < f.np; k++)
        assert_true(g[k] == 0);
    rnnrt_s2s_split_free(p);
    free(g);
    teardown_fix(&f);
}

/* A nonzero encoder state: the split cannot gather its rows, so the call
 * runs unsplit and still equals the plain one (logits stay set). */
static void test_nonzero_state_runs_unsplit(void **state)
{
    (void)state;
    Fix f;
    setup_fix(&f, &seq2seq_model);
    RnnrtRng r;
    rnnrt_rng_init(&r, 9);
    rnnrt_rng_fill_uniform(&r, f.state, (size_t)B * (size_t)f.m->state_size, -0.5, 0.5);
    real *g0 = calloc(f.np, sizeof(real)), *g1 = calloc(f.np, sizeof(real));
    double plain = step(&f, NULL, g0);
    RnnrtS2sSplit *p = new_split(&f, 2);
    RnnrtS2sCtx c = f.c;
    memset(f.grads, 0, f.np * sizeof(real));
    rnnrt_s2s_run(f.m, p, &c, 1);
    assert_non_null(c.logits);
    assert_memory_equal(&c.loss, &plain, sizeof plain);
    assert_memory_equal(f.grads, g0, f.np * sizeof(real));
    rnnrt_s2s_split_free(p);
    free(g0);
    free(g1);
    teardown_fix(&f);
}

static void test_split_step_allocates_nothing(void **state)
{
    (void)state;
    Fix f;
    setup_fix(&f, &seq2seq_model);
    RnnrtS2sSplit *p = new_split(&f, 2);
    RnnrtS2sCtx c = f.c;
    rnnrt_s2s_run(f.m, p, &c, 1);
    allocations = 0;
    counting = 1;
    for (int k = 0; k < 3; k++) {
        c = f.c;
        rnnrt_s2s_run(f.m, p, &c, 1);
    }
    counting = 0;
    report_blas();
    assert_int_equal(allocations, 0);
    rnnrt_s2s_split_free(p);
    teardown_fix(&f);
}

/* One thread or one row: no workers, the plain path. */
static void test_worker_count(void **state)
{
    (void)state;
    assert_int_equal(rnnrt_s2s_split_workers(0, 8), 1);
    assert_int_equal(rnnrt_s2s_split_workers(1, 8), 1);
    assert_int_equal(rnnrt_s2s_split_workers(4, 1), 1);
    assert_int_equal(rnnrt_s2s_split_workers(4, 3), 3);
    assert_int_equal(rnnrt_s2s_split_workers(2, 64), 2);
}

int main(void)
{
    rnnrt_blas_set_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_equals_plain_attention),
        cmocka_unit_test(test_split_equals_plain_noattn),
        cmocka_unit_test(test_lengths_are_uneven),
        cmocka_unit_test(test_no_valid_token),
        cmocka_unit_test(test_nonzero_state_runs_unsplit),
        cmocka_unit_test(test_split_step_allocates_nothing),
        cmocka_unit_test(test_worker_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
