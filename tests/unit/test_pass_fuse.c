/*
 * test_pass_fuse.c: elementwise chains of a scan step as FUSED nodes
 * (pass_fuse) keep the values of the unoptimized graph (test_pass_check.h,
 * the interpreter runs each fused subgraph), alone and after the other
 * passes; every scan body of the bench cells gets fused loops, no
 * elementwise op of a fused group is left outside, and no fused node reads
 * its own output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_pass_check.h"

static const PassFn fuse_only[] = {pass_fuse};
static const PassFn all_passes[] = {pass_wgrad, pass_hoist, pass_onehot, pass_cse, pass_fuse};

static void test_pass_fuse_rnn_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_rnn, fuse_only, 1), 0);
    assert_int_equal(pass_check(spec_rnn, all_passes, 5), 0);
}

static void test_pass_fuse_gru_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_gru, fuse_only, 1), 0);
    assert_int_equal(pass_check(spec_gru, all_passes, 5), 0);
}

static void test_pass_fuse_lstm_embed_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_lstm_embed, fuse_only, 1), 0);
    assert_int_equal(pass_check(spec_lstm_embed, all_passes, 5), 0);
}

/* Between layers: dropout and the bidirectional concat stay outside the
 * fused loops and every value is unchanged. */
static void test_pass_fuse_stacked_dropout_and_bidirectional_values(void **state)
{
    (void)state;
    assert_int_equal(pass_check(spec_gru_2layer_dropout, fuse_only, 1), 0);
    assert_int_equal(pass_check(spec_gru_2layer_dropout, all_passes, 5), 0);
    assert_int_equal(pass_check_bidirectional(spec_gru_2layer_dropout, all_passes, 5), 0);
    assert_int_equal(pass_check_bidirectional(spec_lstm_embed, all_passes, 5), 0);
}

/* Each scan body: at least one FUSED node; the GRU's forward step is one
 * loop (r, z, n and h in one group); outputs come after their fused node. */
static void test_pass_fuse_gru_structure(void **state)
{
    (void)state;
    Model *m = pc_model(spec_gru);
    assert_non_null(m);
    for (int i = 0; i < 5; i++) {
        all_passes[i](m);
        pass_dce(m);
    }
    graph_verify(m->g);
    int scans = 0;
    for (int i = 0; i < m->g->n; i++) {
        const Node *s = m->g->nodes[i];
        if (s->op != OP_SCAN)
            continue;
        const Graph *b = s->scan->body;
        int fused = pc_count(b, OP_FUSED), members = 0;
        assert_true(fused >= 1);
        for (int k = 0; k < b->n; k++) {
            const Node *n = b->nodes[k];
            if (n->op == OP_FUSED) {
                members += n->scan->body->n;
                for (int j = 0; j < n->nin; j++)
                    assert_true(n->in[j]->op != OP_FUSED_OUT || n->in[j]->in[0] != n);
            }
            if (n->op == OP_FUSED_OUT)
                assert_true(n->in[0]->id < n->id);
        }
        if (scans == 0) {
            assert_int_equal(fused, 1);
            assert_int_equal(pc_count(b, OP_SIGMOID) + pc_count(b, OP_TANH), 0);
        }
        assert_true(members > 0);
        scans++;
    }
    assert_int_equal(scans, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_fuse_rnn_values),
        cmocka_unit_test(test_pass_fuse_gru_values),
        cmocka_unit_test(test_pass_fuse_lstm_embed_values),
        cmocka_unit_test(test_pass_fuse_stacked_dropout_and_bidirectional_values),
        cmocka_unit_test(test_pass_fuse_gru_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
