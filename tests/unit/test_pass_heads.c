/*
 * test_pass_heads.c: the task heads (issue #3) through every pass. A
 * labelling model (label per step, [T,B,L] logits) and classification
 * models pooling with head: mean and head: last ([B,L] logits, y [B], the
 * pool / pool_grad ops) keep every output and gradient of the unoptimized
 * graph (test_pass_check.h), each pass alone and all together; so do
 * bidirectional ones (classification's valid-step mask: row_scale).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_pass_check.h"

#define HEAD_SPEC(model, task, input, head)                                                                           \
    "model: " model "\ntask: " task "\ndata:\n  tokens: char\n  split: 0.9\n"                                         \
    "cell: gru\n"                                                                                                     \
    "network:\n  input: " input "\n  hidden: 8\n" head                                                                \
    "train:\n  batch: 3\n  steps: 5\n  optimizer: sgd\n  lr: 1.0\n  epochs: 1\n"

static const char *const spec_tagger = HEAD_SPEC("tagger", "labelling", "one_hot", "");
static const char *const spec_mean = HEAD_SPEC("cls", "classification", "{embed: 5}", "  head: mean\n");
static const char *const spec_last = HEAD_SPEC("cls", "classification", "one_hot", "  head: last\n");
static const char *const spec_bi_tagger = HEAD_SPEC("tagger", "labelling", "{embed: 5}", "  bidirectional: true\n");
static const char *const spec_bi_last =
    HEAD_SPEC("cls", "classification", "one_hot", "  layers: 2\n  bidirectional: true\n  head: last\n");
static const char *const spec_bi_mean =
    HEAD_SPEC("cls", "classification", "{embed: 5}", "  bidirectional: true\n  head: mean\n");

static const PassFn all_passes[] = {pass_wgrad, pass_hoist, pass_onehot, pass_cse, pass_fuse};

static void check_each_and_all(const char *spec)
{
    for (int i = 0; i < 5; i++)
        assert_int_equal(pass_check(spec, &all_passes[i], 1), 0);
    assert_int_equal(pass_check(spec, all_passes, 5), 0);
}

static void test_pass_heads_labelling(void **state)
{
    (void)state;
    Model *m = pc_model(spec_tagger);
    assert_non_null(m);
    assert_int_equal(m->logits->shape.ndim, 3);
    assert_int_equal(m->logits->shape.d[2], DIM_L);
    assert_null(m->pool);
    check_each_and_all(spec_tagger);
}

static void test_pass_heads_classification_mean(void **state)
{
    (void)state;
    Model *m = pc_model(spec_mean);
    assert_non_null(m);
    assert_non_null(m->pool);
    assert_int_equal(m->y->shape.ndim, 1);
    assert_int_equal(pc_count(m->g, OP_POOL), 1);
    assert_int_equal(pc_count(m->g, OP_POOL_GRAD), 1);
    check_each_and_all(spec_mean);
}

static void test_pass_heads_classification_last(void **state)
{
    (void)state;
    check_each_and_all(spec_last);
}

/* Bidirectional layers under each head; classification masks every
 * carried state with row_scale (lower.c, mask_states). */
static void test_pass_heads_bidirectional(void **state)
{
    (void)state;
    Model *m = pc_model(spec_bi_last);
    assert_non_null(m);
    assert_non_null(m->mask);
    assert_null(m->pool); /* head: last reads the final states */
    assert_non_null(m->top_final[1]);
    /* a tagger carries its states across windows, but its reverse
     * direction starts each window from zeros: no gradient to its state */
    Model *t = pc_model(spec_bi_tagger);
    assert_non_null(t);
    assert_int_equal(t->nstates, 2);
    assert_non_null(t->dstate[0]);
    assert_null(t->dstate[1]);
    check_each_and_all(spec_bi_tagger);
    check_each_and_all(spec_bi_last);
    check_each_and_all(spec_bi_mean);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_heads_labelling),
        cmocka_unit_test(test_pass_heads_classification_mean),
        cmocka_unit_test(test_pass_heads_classification_last),
        cmocka_unit_test(test_pass_heads_bidirectional),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
