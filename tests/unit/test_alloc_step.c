/*
 * test_alloc_step.c: a training step of the generated trainer allocates
 * nothing (the static memory plan: every buffer lives in the workspace
 * that rnnrt_buffers_init makes once).
 *
 * The test includes generated/rnn.c (double build, no main) and replaces
 * malloc, calloc and realloc for the whole process with counting versions
 * that forward to glibc's __libc_* functions; defining them in the
 * executable interposes them for every caller, OpenBLAS included. After a
 * warm-up step, forward + backward + clip + SGD run a few times (and a
 * B = 1, T = 1 generation step) with counting on; the count must stay 0.
 * The same holds with the batch split over 2 worker threads
 * (rnnrt_parallel.c): the pool allocates everything when it is made.
 */
#define _GNU_SOURCE /* dladdr, in alloc_count.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RNNC_NO_MAIN
#include "../../generated/rnn.c"

#include "alloc_count.h"

typedef struct {
    RnnrtParams p;
    RnnrtBuffers b;
} Fix;

static void setup_model(Fix *f, int B, int T, int V)
{
    RnnrtError err;
    assert_int_equal(rnnrt_params_init(&f->p, &rnn_model, V, &err), 0);
    RnnrtRng r;
    rnnrt_rng_init(&r, 7);
    rnnrt_params_randomize(&f->p, &rnn_model, &r);
    assert_int_equal(rnnrt_buffers_init(&f->b, &rnn_model, &f->p, B, T, V, &err), 0);
    for (int i = 0; i < B * T; i++) {
        f->b.x[i] = (int32_t)rnnrt_rng_below(&r, (uint64_t)V);
        f->b.y[i] = (int32_t)rnnrt_rng_below(&r, (uint64_t)V);
    }
}

static void teardown_model(Fix *f)
{
    rnnrt_buffers_free(&f->b);
    rnnrt_params_free(&f->p);
}

static void train_step(Fix *f)
{
    memset(f->p.grads, 0, f->p.total * sizeof(real));
    rnnrt_model_run(&rnn_model, &f->b, 1); /* plain calls without a pool */
    rnnrt_clip_grad_norm(f->p.grads, f->p.total, 1.0);
    rnnrt_sgd_step(f->p.params, f->p.grads, f->p.total, 0.1);
    memcpy(f->b.state_in, f->b.state_out, (size_t)f->b.B * (size_t)f->b.S * sizeof(real));
}

static void test_train_step_allocates_nothing(void **state)
{
    (void)state;
    Fix f;
    rnnrt_blas_set_threads(1);
    setup_model(&f, 4, 6, 11);
    train_step(&f); /* warm-up: OpenBLAS sets up its buffers on first use */
    allocations = 0;
    counting = 1;
    for (int k = 0; k < 3; k++)
        train_step(&f);
    counting = 0;
    report_blas();
    assert_int_equal(allocations, 0);
    teardown_model(&f);
}

static void test_split_train_step_allocates_nothing(void **state)
{
    (void)state;
    Fix f;
    RnnrtError err;
    setup_model(&f, 5, 6, 11);
    assert_int_equal(rnnrt_buffers_split(&f.b, &rnn_model, &f.p, 2, &err), 0);
    assert_int_equal(rnnrt_buffers_workers(&f.b), 2);
    train_step(&f); /* warm-up: each thread's first GEMM sets up OpenBLAS */
    train_step(&f);
    allocations = 0;
    counting = 1;
    for (int k = 0; k < 3; k++)
        train_step(&f);
    counting = 0;
    report_blas();
    assert_int_equal(allocations, 0);
    teardown_model(&f);
    rnnrt_blas_set_threads(1);
}

static void test_generation_step_allocates_nothing(void **state)
{
    (void)state;
    Fix f;
    rnnrt_blas_set_threads(1);
    setup_model(&f, 1, 1, 11);
    rnn_model.forward(&f.b.ctx);
    allocations = 0;
    counting = 1;
    for (int k = 0; k < 5; k++) {
        rnn_model.forward(&f.b.ctx);
        memcpy(f.b.state_in, f.b.state_out, (size_t)f.b.S * sizeof(real));
    }
    counting = 0;
    report_blas();
    assert_int_equal(allocations, 0);
    teardown_model(&f);
}

/* The counter works: an allocation while counting is seen. */
static void test_counter_sees_malloc(void **state)
{
    (void)state;
    allocations = 0;
    counting = 1;
    void *volatile p = malloc(16); /* volatile: the pair must not be optimized away */
    counting = 0;
    free(p);
    assert_int_equal(allocations, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_sees_malloc),
        cmocka_unit_test(test_train_step_allocates_nothing),
        cmocka_unit_test(test_split_train_step_allocates_nothing),
        cmocka_unit_test(test_generation_step_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
