/*
 * test_pass_onehot.c: one-hot products as gather / scatter-add
 * (pass_onehot) give the values of the unoptimized graph
 * (test_pass_check.h), and no one_hot matrix is built any more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_pass_check.h"

static const PassFn onehot_only[] = {pass_onehot};
static const PassFn all[] = {pass_wgrad, pass_hoist, pass_onehot};

static void test_pass_onehot_rnn_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_rnn, onehot_only, 1), 0);
    assert_int_equal(pass_check(spec_rnn, all, 3), 0);
}

static void test_pass_onehot_gru_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_gru, all, 3), 0);
}

/* embed: one_hot(x) @ embed is a gather; its gradient a scatter-add */
static void test_pass_onehot_lstm_embed_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_lstm_embed, onehot_only, 1), 0);
    assert_int_equal(pass_check(spec_lstm_embed, all, 3), 0);
}

static void test_pass_onehot_no_one_hot_left(void **state)
{
    (void)state;
    Model *m = pc_model(spec_rnn);
    assert_non_null(m);
    for (int i = 0; i < 3; i++) {
        all[i](m);
        pass_dce(m);
    }
    assert_int_equal(pc_count(m->g, OP_ONE_HOT), 0);
    assert_int_equal(pc_count(m->g, OP_GATHER), 1);
    assert_int_equal(pc_count(m->g, OP_SCATTER_ADD), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_onehot_rnn_values),
        cmocka_unit_test(test_pass_onehot_gru_values),
        cmocka_unit_test(test_pass_onehot_lstm_embed_values),
        cmocka_unit_test(test_pass_onehot_no_one_hot_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
