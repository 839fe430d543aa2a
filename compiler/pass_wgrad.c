/*
 * pass_wgrad.c: sums over time steps become one operation after the scan.
 *
 * A scan output of kind SCAN_SUM adds a body value up over all steps. When
 * that value is linear in per-step values, the sum can be computed once,
 * after the scan, over the values stacked along T:
 *
 *   sum_t A_t^T G_t      = A^T G        matmul.ta over [T,B,k] x [T,B,n]:
 *                                       one GEMM with T*B rows instead of T
 *                                       GEMMs with B rows (weight gradients)
 *   sum_t sum_to(G_t, s) = sum_to(G, s) one reduction over T*B rows (biases)
 *   sum_t (a_t + b_t)    = sum_t a_t + sum_t b_t   (same-shape adds)
 *
 * A per-step operand is a sequence input of the scan (read as its outer
 * [T,...] value) or a body value (stacked by a new SCAN_STACK output, or an
 * existing one); loop-invariant operands stop the rewrite. Nothing here
 * looks at which cell the scan came from. The sum is reassociated (the
 * order of the T*B terms changes), so values agree to rounding, not bits.
 * The body nodes that computed the per-step terms die (pass_dce).
 */
#include "passes.h"

typedef struct {
    Model *m;
    Node *scan;
    Node **stacked; /* body node id -> outer [T,...] value */
} Wgrad;

/* The per-step body value v over all steps, as an outer [T,...] node, or
 * NULL when v is not per-step. */
static Node *stack_of(Wgrad *W, Node *v)
{
    Scan *s = W->scan->scan;
    if (W->stacked[v->id])
        return W->stacked[v->id];
    if (v->op == OP_ARG && s->in[v->index].kind == SCAN_INV)
        return NULL;
    if (v->op == OP_CONST)
        return NULL;
    Node *r;
    if (v->op == OP_ARG && s->in[v->index].kind == SCAN_SEQ) {
        r = W->scan->in[v->index];
    } else {
        r = NULL;
        for (int o = 0; o < s->nout && !r; o++)
            if (s->out[o].kind == SCAN_STACK && s->out[o].node == v)
                r = scan_output_node(W->scan, o);
        if (!r)
            r = scan_add_output(W->scan, SCAN_STACK, v, 0);
    }
    W->stacked[v->id] = r;
    return r;
}

/* sum over t of body value v, as outer nodes; NULL if not linear. */
static Node *sum_over_steps(Wgrad *W, Node *v)
{
    Graph *g = W->m->g;
    switch (v->op) {
    case OP_MATMUL: {
        if (!v->ta || v->tb)
            return NULL;
        Node *a = stack_of(W, v->in[0]);
        Node *b = a ? stack_of(W, v->in[1]) : NULL;
        return b ? graph_matmul(g, v->loc, a, b, true, false) : NULL;
    }
    case OP_SUM_TO: {
        Node *a = stack_of(W, v->in[0]);
        return a ? graph_sum_to(g, v->loc, a, v->shape) : NULL;
    }
    case OP_ADD: {
        if (!shape_eq(v->in[0]->shape, v->shape) || !shape_eq(v->in[1]->shape, v->shape))
            return NULL;
        Node *a = sum_over_steps(W, v->in[0]);
        Node *b = a ? sum_over_steps(W, v->in[1]) : NULL;
        return b ? graph_add2(g, OP_ADD, v->loc, a, b) : NULL;
    }
    default:
        return NULL;
    }
}

/* Outputs are visited in graph order, and whatever an attempt made (even a
 * failed one, which dies) goes right after the output it was for, so every
 * node stays after the stacked outputs it reads. */
static void sink_sums(Model *m, Node *scan)
{
    Graph *g = m->g;
    Scan *s = scan->scan;
    Wgrad W = {m, scan, arena_array(&perm, (size_t)s->body->n + 1, sizeof(Node *))};
    for (int i = scan->id + 1; i < g->n; i++) {
        Node *old = g->nodes[i];
        if (old->op != OP_SCAN_OUT || old->in[0] != scan || s->out[old->index].kind != SCAN_SUM)
            continue;
        int n0 = g->n;
        Node *sum = sum_over_steps(&W, s->out[old->index].node);
        if (sum) {
            if (!sum->name)
                sum->name = old->name;
            pass_replace_uses(m, g, old, sum);
        }
        if (old->id + 1 < n0)
            pass_place_before(m, g, n0, g->nodes[old->id + 1]);
    }
}

void pass_wgrad(Model *m)
{
    Graph *g = m->g;
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i]->op == OP_SCAN)
            sink_sums(m, g->nodes[i]);
}
