/*
 * test_pass_wgrad.c: sums over steps moved after the scan (pass_wgrad) give
 * the values of the unoptimized graph (test_pass_check.h), and no scan sums
 * a weight gradient step by step any more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_pass_check.h"

static const PassFn wgrad_only[] = {pass_wgrad};

static int scan_sums(const Model *m)
{
    int c = 0;
    for (int i = 0; i < m->g->n; i++)
        if (m->g->nodes[i]->op == OP_SCAN)
            for (int o = 0; o < m->g->nodes[i]->scan->nout; o++)
                c += m->g->nodes[i]->scan->out[o].kind == SCAN_SUM;
    return c;
}

static void test_pass_wgrad_rnn_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_rnn, wgrad_only, 1), 0);
}

static void test_pass_wgrad_gru_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_gru, wgrad_only, 1), 0);
}

static void test_pass_wgrad_lstm_embed_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_lstm_embed, wgrad_only, 1), 0);
}

static void test_pass_wgrad_no_sums_left(void **state)
{
    (void)state;
    Model *m = pc_model(spec_gru);
    assert_non_null(m);
    int before = pc_count(m->g, OP_MATMUL);
    assert_true(scan_sums(m) > 0);
    pass_wgrad(m);
    pass_dce(m);
    assert_int_equal(scan_sums(m), 0);
    /* per-step matmul.ta terms became one matmul.ta each after the scan */
    assert_true(pc_count(m->g, OP_MATMUL) <= before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_wgrad_rnn_values),
        cmocka_unit_test(test_pass_wgrad_gru_values),
        cmocka_unit_test(test_pass_wgrad_lstm_embed_values),
        cmocka_unit_test(test_pass_wgrad_no_sums_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
