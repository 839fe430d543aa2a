/*
 * pass_cse.c: common subexpression elimination.
 *
 * Two nodes of one graph (the top graph or a scan body) that apply the same
 * op with the same attributes to the same inputs compute the same value, so
 * the later one is dropped and its uses read the earlier one (first
 * occurrence wins, so the result is deterministic). Example: the RNN's
 * bias gradients db_ih and db_hh are both sum_to(dh_add) after pass_wgrad;
 * they become one reduction read by both gradients.
 *
 * Leaves that stand for something outside the graph (param, input, arg)
 * and scans (which carry a body) are never merged. The surviving node is
 * the same computation, so values are bit-identical.
 *
 * Merging inside a scan body can leave two outputs of the scan that read
 * the same body node (after gemmfuse and wgrad, the decoder's two stacked
 * gate gradients concat(di, df, dg, do): one for the W_h* block, one for
 * the W_c* block). They are one output: the later one's SCAN_OUT nodes are
 * pointed at the earlier output, merge with its SCAN_OUT below, and DCE
 * drops the unread output. (Left as two, a stacked body value is written
 * in place into only one of them, and the other stayed unwritten.)
 */
#include "passes.h"

#include <math.h>

static bool mergeable(const Node *n)
{
    switch (n->op) {
    case OP_PARAM:
    case OP_INPUT:
    case OP_ARG:
    case OP_SCAN:
    case OP_FUSED:
        return false;
    default:
        return true;
    }
}

static bool same(const Node *a, const Node *b)
{
    if (a->op != b->op || a->nin != b->nin || a->dtype != b->dtype || !shape_eq(a->shape, b->shape))
        return false;
    if (a->ta != b->ta || a->tb != b->tb || a->index != b->index)
        return false;
    /* constants: the same bits (keeps -0 apart from 0; NaN never merges) */
    if (a->op == OP_CONST && !(a->value == b->value && signbit(a->value) == signbit(b->value)))
        return false;
    if (a->op == OP_DROPOUT && a->value != b->value) /* the rate */
        return false;
    for (int k = 0; k < a->nin; k++)
        if (a->in[k] != b->in[k])
            return false;
    return true;
}

static bool same_output(const ScanOut *a, const ScanOut *b)
{
    return a->kind == b->kind && (a->kind == SCAN_FINAL ? a->carry == b->carry : a->node == b->node);
}

/* Points the SCAN_OUT nodes of scan s that read a repeated output at the
 * first output that reads the same value. */
static void share_outputs(Graph *g, const Node *s)
{
    const Scan *sc = s->scan;
    for (int o = 1; o < sc->nout; o++) {
        int first = 0;
        while (!same_output(&sc->out[first], &sc->out[o]))
            first++;
        if (first == o)
            continue;
        for (int i = s->id + 1; i < g->n; i++) {
            Node *x = g->nodes[i];
            if (x->op == OP_SCAN_OUT && x->in[0] == s && x->index == o)
                x->index = first;
        }
    }
}

static void cse_graph(Model *m, Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        if (n->op == OP_SCAN) {
            cse_graph(m, n->scan->body);
            share_outputs(g, n);
        }
        if (!mergeable(n))
            continue;
        for (int j = 0; j < i; j++) {
            Node *first = g->nodes[j];
            if (mergeable(first) && same(first, n)) {
                pass_replace_uses(m, g, n, first);
                break;
            }
        }
    }
}

void pass_cse(Model *m) { cse_graph(m, m->g); }
