/*
 * test_rt_parallel.c: batch-split threads (rnnrt_parallel.c) on the real
 * generated models, double build.
 *
 * The same inputs (B = 7, so the rows split unevenly: 4 + 3, 3 + 2 + 2)
 * go through the plain forward/backward and through 2 and 3 workers; loss,
 * gradient block, state_out and dstate_in must agree to 1e-12 relative,
 * with a cut in carry_scale and a minibatch shorter than the buffers' T.
 * The LSTM has two state blocks (h, c), so a wrong state gather shows. A
 * split run repeated must be bit-identical, and forward-only calls (eval)
 * must give the same loss. The task heads (a tagger: labels [T][B]; a
 * classifier: labels [B], pooling weights and valid-step mask [T][B],
 * rows of different lengths) split the same way to the same tolerance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#define RNNC_NO_MAIN
#include "../../generated/lstm.c"
#include "../../generated/rnn.c"
#include "../../generated/tagger.c"
#include "../../generated/classifier.c"

enum { B = 7, TMAX = 5, V = 11 };

typedef struct {
    const RnnrtModel *m;
    RnnrtParams p;
    RnnrtBuffers b;
} Fix;

/* A fresh model and buffers with random parameters, tokens and state; the
 * same seed gives the same everything. */
static void setup_fix(Fix *f, const RnnrtModel *m, int threads)
{
    RnnrtError err;
    f->m = m;
    assert_int_equal(rnnrt_params_init(&f->p, m, V, &err), 0);
    RnnrtRng r;
    rnnrt_rng_init(&r, 11);
    rnnrt_params_randomize(&f->p, m, &r);
    assert_int_equal(rnnrt_buffers_init(&f->b, m, &f->p, B, TMAX, V, &err), 0);
    assert_int_equal(rnnrt_buffers_split(&f->b, m, &f->p, threads, &err), 0);
    assert_int_equal(rnnrt_buffers_workers(&f->b), threads < 1 ? 1 : threads);
    for (int i = 0; i < B * TMAX; i++) {
        f->b.x[i] = (int32_t)rnnrt_rng_below(&r, V);
        f->b.y[i] = (int32_t)rnnrt_rng_below(&r, V);
    }
    rnnrt_rng_fill_uniform(&r, f->b.state_in, (size_t)B * (size_t)f->b.S, -0.5, 0.5);
    f->b.carry[2] = 0; /* a truncation cut */
    f->b.ctx.dstate_in = f->b.dstate;
}

static void teardown_fix(Fix *f)
{
    rnnrt_buffers_free(&f->b);
    rnnrt_params_free(&f->p);
}

/* One training call: gradients zeroed, forward + backward. */
static void run(Fix *f, int T, int backward)
{
    memset(f->p.grads, 0, f->p.total * sizeof(real));
    memset(f->b.dstate, 0, (size_t)B * (size_t)f->b.S * sizeof(real));
    f->b.ctx.T = T;
    rnnrt_model_run(f->m, &f->b, backward);
}

static double max_abs(const real *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

/* |a - b| <= 1e-12 max(|a|, |b|), with the tensor's largest value / 1e3 as
 * the floor of the scale (a sum that cancels to ~0 keeps its absolute
 * rounding). */
static void assert_close(const char *what, const real *a, const real *b, size_t n)
{
    double floor_ = max_abs(a, n) * 1e-3;
    for (size_t i = 0; i < n; i++) {
        double scale = fmax(fmax(fabs(a[i]), fabs(b[i])), floor_);
        if (fabs(a[i] - b[i]) > 1e-12 * scale)
            fail_msg("%s[%zu]: %.17g vs %.17g", what, i, a[i], b[i]);
    }
}

static void check_split_equals_plain(const RnnrtModel *m, int threads, int T)
{
    Fix one, many;
    setup_fix(&one, m, 1);
    setup_fix(&many, m, threads);
    run(&one, T, 1);
    run(&many, T, 1);
    size_t bs = (size_t)B * (size_t)one.b.S;
    assert_true(fabs(one.b.ctx.loss - many.b.ctx.loss) <= 1e-12 * fabs(one.b.ctx.loss));
    assert_true(max_abs(one.p.grads, one.p.total) > 0);
    assert_close("grads", one.p.grads, many.p.grads, one.p.total);
    assert_close("state_out", one.b.state_out, many.b.state_out, bs);
    assert_close("dstate_in", one.b.dstate, many.b.dstate, bs);
    /* forward only, as eval calls it: the same loss and state */
    memset(many.b.state_out, 0, bs * sizeof(real));
    run(&one, T, 0);
    run(&many, T, 0);
    assert_true(fabs(one.b.ctx.loss - many.b.ctx.loss) <= 1e-12 * fabs(one.b.ctx.loss));
    assert_close("state_out (forward only)", one.b.state_out, many.b.state_out, bs);
    teardown_fix(&one);
    teardown_fix(&many);
}

/* Dropout's mask belongs to the minibatch, not to the worker: rows
 * [row0, row0 + B) of a split see the same mask as those rows of the
 * whole [T, B, w] tensor. */
static void test_dropout_mask_ignores_split(void **state)
{
    (void)state;
    enum { T = 3, W = 5, N = T * B * W };
    real in[N], whole[N];
    for (int i = 0; i < N; i++)
        in[i] = 1;
    RnnrtCtx c = {.B = B, .T = T, .train = 1, .dropout_seed = 99};
    rnnrt_dropout(&c, in, whole, N, 0.5, 3);
    int dropped = 0;
    for (int i = 0; i < N; i++)
        dropped += whole[i] == 0;
    assert_true(dropped > 0 && dropped < N);
    const int row0s[] = {0, 4, 6}, rows[] = {4, 2, 1};
    for (int k = 0; k < 3; k++) {
        RnnrtCtx w = c;
        w.B = rows[k];
        w.row0 = row0s[k];
        w.rows_all = B;
        real part[N];
        size_t n = (size_t)T * (size_t)rows[k] * W;
        rnnrt_dropout(&w, in, part, n, 0.5, 3);
        for (int t = 0; t < T; t++)
            for (int b = 0; b < rows[k]; b++)
                for (int j = 0; j < W; j++)
                    assert_true(part[(t * rows[k] + b) * W + j] == whole[(t * B + row0s[k] + b) * W + j]);
    }
}

static void test_lstm_two_workers(void **state)
{
    (void)state;
    check_split_equals_plain(&lstm_model, 2, TMAX);
}

static void test_lstm_three_workers_short_minibatch(void **state)
{
    (void)state;
    check_split_equals_plain(&lstm_model, 3, TMAX - 2);
}

static void test_rnn_two_workers(void **state)
{
    (void)state;
    check_split_equals_plain(&rnn_model, 2, TMAX);
}

/* More workers than rows: one row each. */
static void test_rnn_one_row_per_worker(void **state)
{
    (void)state;
    assert_int_equal(rnnrt_split_workers(&rnn_model, 64, B), B);
    check_split_equals_plain(&rnn_model, B, TMAX);
}

/* The same split run twice, in fresh buffers: bit for bit the same. */
static void test_split_is_deterministic(void **state)
{
    (void)state;
    Fix a, b;
    setup_fix(&a, &lstm_model, 2);
    setup_fix(&b, &lstm_model, 2);
    for (int k = 0; k < 3; k++) {
        run(&a, TMAX, 1);
        run(&b, TMAX, 1);
        assert_memory_equal(&a.b.ctx.loss, &b.b.ctx.loss, sizeof(double));
        assert_memory_equal(a.p.grads, b.p.grads, a.p.total * sizeof(real));
        assert_memory_equal(a.b.state_out, b.b.state_out, (size_t)B * a.b.S * sizeof(real));
        memcpy(a.b.state_in, a.b.state_out, (size_t)B * a.b.S * sizeof(real));
        memcpy(b.b.state_in, b.b.state_out, (size_t)B * b.b.S * sizeof(real));
    }
    teardown_fix(&a);
    teardown_fix(&b);
}

/* Backward accumulates (+=) into the caller's gradient block, as the plain
 * call does. */
static void test_split_accumulates_grads(void **state)
{
    (void)state;
    Fix f;
    setup_fix(&f, &rnn_model, 2);
    run(&f, TMAX, 1);
    real *g1 = calloc(f.p.total, sizeof(real));
    memcpy(g1, f.p.grads, f.p.total * sizeof(real));
    f.b.ctx.T = TMAX;
    rnnrt_model_run(f.m, &f.b, 1); /* no zeroing: twice the gradient */
    for (size_t k = 0; k < f.p.total; k++)
        assert_true(fabs(f.p.grads[k] - 2 * g1[k]) <= 1e-15 * fabs(g1[k]) + 1e-300);
    free(g1);
    teardown_fix(&f);
}

/* Who splits: never one thread, one row, or a model that does not say its
 * state layout. */
static void test_split_workers_policy(void **state)
{
    (void)state;
    RnnrtModel unknown = lstm_model;
    unknown.state_blocks = 0;
    assert_int_equal(rnnrt_split_workers(&lstm_model, 2, 32), 2);
    assert_int_equal(rnnrt_split_workers(&lstm_model, 0, 32), 1);
    assert_int_equal(rnnrt_split_workers(&lstm_model, 1, 32), 1);
    assert_int_equal(rnnrt_split_workers(&lstm_model, 2, 1), 1);
    assert_int_equal(rnnrt_split_workers(&unknown, 2, 32), 1);
    RnnrtError err;
    RnnrtParams p;
    RnnrtBuffers b;
    assert_int_equal(rnnrt_params_init(&p, &unknown, V, &err), 0);
    assert_int_equal(rnnrt_buffers_init(&b, &unknown, &p, B, TMAX, V, &err), 0);
    assert_int_equal(rnnrt_buffers_split(&b, &unknown, &p, 2, &err), 0);
    assert_null(b.workers);
    assert_int_equal(rnnrt_buffers_workers(&b), 1);
    rnnrt_buffers_free(&b);
    rnnrt_params_free(&p);
}

/* A task model (labels L = 3) with random parameters, tokens, labels and,
 * for classification, row lengths 1..T with their pooling weights and
 * masks; forward + backward plain and split over `threads`. */
static void setup_task(Fix *f, const RnnrtModel *m, int threads, int T, int rows)
{
    enum { L = 3 };
    RnnrtError err;
    f->m = m;
    assert_int_equal(rnnrt_params_init_l(&f->p, m, V, L, &err), 0);
    RnnrtRng r;
    rnnrt_rng_init(&r, 5);
    rnnrt_params_randomize(&f->p, m, &r);
    assert_int_equal(rnnrt_buffers_init_l(&f->b, m, &f->p, B, TMAX, V, L, &err), 0);
    assert_int_equal(rnnrt_buffers_split(&f->b, m, &f->p, threads, &err), 0);
    assert_int_equal(rnnrt_buffers_workers(&f->b), threads);
    int cls = m->task == RNNRT_TASK_CLASSIFICATION;
    for (int i = 0; i < B * TMAX; i++) {
        f->b.x[i] = (int32_t)rnnrt_rng_below(&r, V);
        f->b.y[i] = (int32_t)rnnrt_rng_below(&r, L);
    }
    for (int k = 0; cls && k < rows; k++) {
        int len = 1 + (int)rnnrt_rng_below(&r, (uint64_t)T);
        rnnrt_pool_weights(f->b.pool, T, rows, k, len, m->head);
        rnnrt_valid_mask(f->b.mask, T, rows, k, len);
    }
    f->b.ctx.B = rows;
    if (!cls) /* labelling carries its state between minibatches */
        rnnrt_rng_fill_uniform(&r, f->b.state_in, (size_t)B * (size_t)f->b.S, -0.5, 0.5);
}

/* rows < B: a call with fewer rows than the buffers (a classification
 * epoch's last minibatch), dealt again over the workers. */
static void check_task_split(const RnnrtModel *m, int threads, int T, int rows)
{
    Fix one, many;
    setup_task(&one, m, 1, T, rows);
    setup_task(&many, m, threads, T, rows);
    run(&one, T, 1);
    run(&many, T, 1);
    assert_true(fabs(one.b.ctx.loss - many.b.ctx.loss) <= 1e-12 * fabs(one.b.ctx.loss));
    assert_true(max_abs(one.p.grads, one.p.total) > 0);
    assert_close("grads", one.p.grads, many.p.grads, one.p.total);
    assert_close("state_out", one.b.state_out, many.b.state_out, (size_t)rows * (size_t)one.b.S);
    teardown_fix(&one);
    teardown_fix(&many);

    /* validation's forward (rnnrt_model_score): the split counts the same
     * correct predictions in its parts as the plain call over all rows */
    setup_task(&one, m, 1, T, rows);
    setup_task(&many, m, threads, T, rows);
    one.b.ctx.T = many.b.ctx.T = T;
    size_t n = (size_t)rows * (m->task == RNNRT_TASK_LABELLING ? (size_t)T : 1);
    size_t ok1 = rnnrt_model_score(m, &one.b), okn = rnnrt_model_score(m, &many.b);
    assert_int_equal(ok1, rnnrt_count_correct(&one.b.ctx, m->task));
    assert_null(many.b.ctx.logits); /* it was split */
    assert_int_equal(ok1, okn);
    assert_true(n < 3 || (ok1 > 0 && ok1 < n)); /* L = 3, random parameters */
    assert_true(fabs(one.b.ctx.loss - many.b.ctx.loss) <= 1e-12 * fabs(one.b.ctx.loss));
    assert_close("state_out", one.b.state_out, many.b.state_out, (size_t)rows * (size_t)one.b.S);
    teardown_fix(&one);
    teardown_fix(&many);
}

static void test_tagger_split(void **state)
{
    (void)state;
    check_task_split(&tagger_model, 2, TMAX, B);
    check_task_split(&tagger_model, 3, TMAX - 2, B);
}

static void test_classifier_split(void **state)
{
    (void)state;
    check_task_split(&classifier_model, 2, TMAX, B);
    check_task_split(&classifier_model, 3, TMAX, B);
    check_task_split(&classifier_model, 2, TMAX, 5);
    check_task_split(&classifier_model, 3, TMAX, 2); /* a worker sits out */
    check_task_split(&classifier_model, 3, TMAX, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lstm_two_workers),
        cmocka_unit_test(test_lstm_three_workers_short_minibatch),
        cmocka_unit_test(test_rnn_two_workers),
        cmocka_unit_test(test_rnn_one_row_per_worker),
        cmocka_unit_test(test_split_is_deterministic),
        cmocka_unit_test(test_split_accumulates_grads),
        cmocka_unit_test(test_split_workers_policy),
        cmocka_unit_test(test_dropout_mask_ignores_split),
        cmocka_unit_test(test_tagger_split),
        cmocka_unit_test(test_classifier_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
