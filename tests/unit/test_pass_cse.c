/*
 * test_pass_cse.c: merging identical nodes (pass_cse) keeps the values of
 * the unoptimized graph (test_pass_check.h), and the RNN's two bias
 * gradients become one reduction after pass_wgrad.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_pass_check.h"

static const PassFn all_to_cse[] = {pass_wgrad, pass_hoist, pass_onehot, pass_cse};

static void test_pass_cse_rnn_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_rnn, all_to_cse, 4), 0);
}

static void test_pass_cse_gru_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_gru, all_to_cse, 4), 0);
}

static void test_pass_cse_lstm_embed_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_lstm_embed, all_to_cse, 4), 0);
}

/* The two dropouts of a layer output (forward, and its adjoint on the
 * gradient) share the site but read different values: nothing merges
 * that should not. */
static void test_pass_cse_dropout_and_bidirectional_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_gru_2layer_dropout, all_to_cse, 4), 0);
    assert_int_equal(pass_check_bidirectional(spec_gru_2layer_dropout, all_to_cse, 4), 0);
}

/* db_ih and db_hh are both sum_to(dh_add): one sum_to is left, read by
 * both gradients. */
static void test_pass_cse_rnn_one_bias_sum(void **state)
{
    (void)state;
    Model *m = pc_model(spec_rnn);
    assert_non_null(m);
    for (int i = 0; i < 3; i++) {
        all_to_cse[i](m);
        pass_dce(m);
    }
    int before = pc_count(m->g, OP_SUM_TO);
    pass_cse(m);
    pass_dce(m);
    graph_verify(m->g);
    assert_int_equal(pc_count(m->g, OP_SUM_TO), before - 1);
    const Node *gb_ih = NULL, *gb_hh = NULL;
    for (int i = 0; i < m->nparams; i++) {
        if (strcmp(m->params[i].name, "b_ih") == 0)
            gb_ih = m->grads[i];
        if (strcmp(m->params[i].name, "b_hh") == 0)
            gb_hh = m->grads[i];
    }
    assert_non_null(gb_ih);
    assert_ptr_equal(gb_ih, gb_hh);
    assert_int_equal(gb_ih->op, OP_SUM_TO);
}

/* Running it twice changes nothing more (the first pass found them all). */
static void test_pass_cse_idempotent(void **state)
{
    (void)state;
    Model *m = pc_model(spec_gru);
    assert_non_null(m);
    for (int i = 0; i < 4; i++) {
        all_to_cse[i](m);
        pass_dce(m);
    }
    int n = m->g->n;
    pass_cse(m);
    pass_dce(m);
    assert_int_equal(m->g->n, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_cse_rnn_values),
        cmocka_unit_test(test_pass_cse_gru_values),
        cmocka_unit_test(test_pass_cse_lstm_embed_values),
        cmocka_unit_test(test_pass_cse_dropout_and_bidirectional_values),
        cmocka_unit_test(test_pass_cse_rnn_one_bias_sum),
        cmocka_unit_test(test_pass_cse_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
