/*
 * test_pass_hoist.c: step-independent work hoisted out of the scan
 * (pass_hoist) gives the values of the unoptimized graph
 * (test_pass_check.h), and the forward scan no longer multiplies its
 * per-step input by a weight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_pass_check.h"

static const PassFn hoist_only[] = {pass_hoist};
static const PassFn wgrad_hoist[] = {pass_wgrad, pass_hoist};

static const Node *forward_scan(const Model *m)
{
    for (int i = 0; i < m->g->n; i++)
        if (m->g->nodes[i]->op == OP_SCAN && !m->g->nodes[i]->scan->reverse)
            return m->g->nodes[i];
    return NULL;
}

static void test_pass_hoist_rnn_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_rnn, hoist_only, 1), 0);
    assert_int_equal(pass_check(spec_rnn, wgrad_hoist, 2), 0);
}

static void test_pass_hoist_gru_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_gru, hoist_only, 1), 0);
    assert_int_equal(pass_check(spec_gru, wgrad_hoist, 2), 0);
}

static void test_pass_hoist_lstm_embed_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_lstm_embed, hoist_only, 1), 0);
}

/* GRU: 6 matmuls per step in the forward body, 3 of them x_t @ W_i*. */
static void test_pass_hoist_gru_input_matmuls_leave_the_body(void **state)
{
    (void)state;
    Model *m = pc_model(spec_gru);
    assert_non_null(m);
    assert_int_equal(pc_count(forward_scan(m)->scan->body, OP_MATMUL), 6);
    pass_hoist(m);
    pass_dce(m);
    assert_int_equal(pc_count(forward_scan(m)->scan->body, OP_MATMUL), 3);
}

/* A loop-invariant subexpression a user wrote inside the cell (the two
 * biases added first) is computed once, outside the scan, with the same
 * values; the forward body then has that add no more. */
static const char *const spec_gru_inv = SPEC_HEAD("gru", "one_hot")
    "cell:\n  name: gru\n  input: x\n  state: [h]\n  output: h\n  params:\n"
    "    W_ir: [input, hidden]\n    W_hr: [hidden, hidden]\n    b_ir: [hidden]\n    b_hr: [hidden]\n"
    "  equations:\n"
    "    r: sigmoid(x @ W_ir + h @ W_hr + (b_ir + b_hr))\n"
    "    h: (1 - r) * h + r * tanh(x @ W_ir)\n";

static void test_pass_hoist_invariant_subexpression(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_gru_inv, hoist_only, 1), 0);
    assert_int_equal(pass_check(spec_gru_inv, wgrad_hoist, 2), 0);
    Model *m = pc_model(spec_gru_inv);
    assert_non_null(m);
    int adds = pc_count(forward_scan(m)->scan->body, OP_ADD);
    pass_hoist(m);
    pass_dce(m);
    assert_int_equal(pc_count(forward_scan(m)->scan->body, OP_ADD), adds - 1); /* b_ir + b_hr */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_hoist_rnn_values),
        cmocka_unit_test(test_pass_hoist_gru_values),
        cmocka_unit_test(test_pass_hoist_lstm_embed_values),
        cmocka_unit_test(test_pass_hoist_gru_input_matmuls_leave_the_body),
        cmocka_unit_test(test_pass_hoist_invariant_subexpression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
