/*
 * test_pass_memplan.c: the static memory plan (pass_memplan.c).
 *
 * On a hand-made chain a -> b -> c of equal buffers, a (dead once b is
 * computed) and c share a slot while b, which overlaps both, gets its own;
 * the logits live to the end. On the bench cells after the default passes
 * (and on stacked, dropout and bidirectional variants): no two buffers of a
 * slot are live at once, what the runtime reads lives to the end, some
 * buffers do share, and the plan is the same when made twice. That the
 * emitted code computes the same values with the plan is checked end to
 * end (tests/memplan.cmake, the interpreter checks and gradchecks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_pass_check.h"

static const MemBuf *find(const MemPlan *p, const Node *n, bool carry)
{
    for (int i = 0; i < p->nbuf; i++)
        if (p->buf[i].node == n && p->buf[i].carry == carry)
            return &p->buf[i];
    return NULL;
}

/* s (a graph input, no buffer) -> a -> b -> c = logits */
static void test_memplan_chain_shares(void **state)
{
    (void)state;
    Model *base = pc_model(spec_rnn);
    assert_non_null(base);
    Model m = {.spec = base->spec, .g = graph_new(&perm, NULL)};
    Node *s = graph_leaf(m.g, OP_INPUT, loc_none(), shape2(DIM_B, 8), DT_REAL, INPUT_STATE);
    Node *a = graph_add1(m.g, OP_TANH, loc_none(), s);
    Node *b = graph_add1(m.g, OP_TANH, loc_none(), a);
    Node *c = graph_add1(m.g, OP_TANH, loc_none(), b);
    m.logits = c;
    m.nforward = m.g->n;
    pass_memplan(&m);
    const MemPlan *p = m.memplan;
    assert_non_null(p);
    assert_int_equal(p->nbuf, 3);
    assert_int_equal(p->nslots, 2);
    const MemBuf *ba = find(p, a, false), *bb = find(p, b, false), *bc = find(p, c, false);
    assert_non_null(ba);
    assert_non_null(bb);
    assert_non_null(bc);
    /* points: s 1, a 2, b 3, c 4, forward's epilogue 5; the logits live to the end */
    assert_int_equal(ba->start, 2);
    assert_int_equal(ba->end, 3);
    assert_int_equal(bb->start, 3);
    assert_int_equal(bb->end, 4);
    assert_int_equal(bc->start, 4);
    assert_int_equal(bc->end, p->end);
    assert_int_equal(ba->slot, bc->slot); /* a is dead before c is written */
    assert_int_not_equal(ba->slot, bb->slot); /* b reads a */
    assert_int_not_equal(bb->slot, bc->slot); /* c reads b */

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    memplan_dump(f, &m);
    fclose(f);
    assert_non_null(strstr(text, "memplan: 3 buffers in 2 slots"));
    free(text);
}

/* A value read by a scan stays live until the scan ends, so the per-step
 * temporaries of its body never share with it. */
static void check_plan(const Model *m)
{
    const MemPlan *p = m->memplan;
    assert_non_null(p);
    assert_true(p->nslots < p->nbuf);
    for (int i = 0; i < p->nbuf; i++) {
        const MemBuf *x = &p->buf[i];
        assert_true(x->start <= x->end);
        for (int j = i + 1; j < p->nbuf; j++) {
            const MemBuf *y = &p->buf[j];
            if (x->slot == y->slot && x->start <= y->end && y->start <= x->end) {
                fprintf(stderr, "buffers %d and %d share slot %d: [%d, %d] and [%d, %d]\n", i, j, x->slot,
                        x->start, x->end, y->start, y->end);
                fail();
            }
        }
    }
    const MemBuf *lg = find(p, m->logits, false);
    assert_non_null(lg);
    assert_int_equal(lg->end, p->end);
    for (int i = 0; i < m->nparams; i++) {
        const MemBuf *g = m->grads[i] ? find(p, m->grads[i], false) : NULL;
        if (g)
            assert_int_equal(g->end, p->end);
    }
    /* every carry lives across its scan: from before any body value of
     * that scan is written to after the last is read */
    for (int i = 0; i < p->nbuf; i++) {
        const MemBuf *c = &p->buf[i];
        if (!c->carry)
            continue;
        for (int k = 0; k < p->nbuf; k++)
            if (!p->buf[k].carry && p->buf[k].node->graph == c->node->graph) {
                assert_true(c->start <= p->buf[k].start);
                assert_true(c->end >= p->buf[k].end);
            }
    }
}

static void plan_spec(const char *spec)
{
    static const PassFn passes[] = {pass_wgrad, pass_hoist, pass_onehot, pass_cse, pass_fuse};
    Model *m = pc_model(spec);
    assert_non_null(m);
    assert_true(pc_count(m->g, OP_SCAN) > 0);
    for (size_t i = 0; i < sizeof passes / sizeof *passes; i++) {
        passes[i](m);
        pass_dce(m);
        graph_verify(m->g);
    }
    pass_memplan(m);
    check_plan(m);
    /* deterministic: the same plan again */
    MemPlan *first = m->memplan;
    pass_memplan(m);
    assert_int_equal(m->memplan->nbuf, first->nbuf);
    assert_int_equal(m->memplan->nslots, first->nslots);
    for (int i = 0; i < first->nbuf; i++) {
        assert_ptr_equal(m->memplan->buf[i].node, first->buf[i].node);
        assert_int_equal(m->memplan->buf[i].slot, first->buf[i].slot);
        assert_int_equal(m->memplan->buf[i].start, first->buf[i].start);
        assert_int_equal(m->memplan->buf[i].end, first->buf[i].end);
    }
}

static void test_memplan_cells(void **state)
{
    (void)state;
    plan_spec(spec_rnn);
    plan_spec(spec_gru);
    plan_spec(spec_lstm_embed);
    plan_spec(spec_gru_2layer_dropout);
}

static void test_memplan_bidirectional(void **state)
{
    (void)state;
    pc_bidirectional = true;
    plan_spec(spec_gru);
    plan_spec(spec_gru_2layer_dropout);
    pc_bidirectional = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memplan_chain_shares),
        cmocka_unit_test(test_memplan_cells),
        cmocka_unit_test(test_memplan_bidirectional),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
