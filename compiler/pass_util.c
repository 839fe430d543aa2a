/*
 * pass_util.c: graph surgery the passes share: making nodes of the ops
 * passes introduce, redirecting uses, moving new nodes into place, removing
 * scan inputs.
 *
 * Invariants kept: node ids are positions; every node comes after its
 * inputs; a scan's ARG nodes carry the index of their scan input; the top
 * graph's nodes [0, m->nforward) are the forward pass.
 */
#include "passes.h"

#include <string.h>

Node *pass_node(Graph *g, Op op, Loc loc, Shape shape, DType dt, Node **in, int nin)
{
    Node *n = graph_leaf(g, op, loc, shape, dt, 0);
    for (int i = 0; i < nin; i++)
        if (!in[i] || in[i]->graph != g)
            DIE("pass_node: %s input %d is %s", op_name(op), i, in[i] ? "in another graph" : "NULL");
    n->in = arena_array(&perm, (size_t)nin + 1, sizeof(Node *));
    if (nin > 0)
        memcpy(n->in, in, (size_t)nin * sizeof(Node *));
    n->nin = nin;
    return n;
}

static void replace_ptr(Node **p, Node *old, Node *repl)
{
    if (*p == old)
        *p = repl;
}

void pass_replace_uses(Model *m, Graph *g, Node *old, Node *repl)
{
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        if (n == repl)
            continue;
        for (int k = 0; k < n->nin; k++)
            replace_ptr(&n->in[k], old, repl);
        if (n->op != OP_SCAN)
            continue;
        /* a scan's records point into its own body, never at g */
    }
    /* uses inside the scan whose body g is: carries and outputs */
    if (g->parent) {
        for (int i = 0; i < g->parent->n; i++) {
            Node *s = g->parent->nodes[i];
            if (s->op != OP_SCAN || s->scan->body != g)
                continue;
            for (int k = 0; k < s->scan->nin; k++)
                replace_ptr(&s->scan->in[k].carry_out, old, repl);
            for (int k = 0; k < s->scan->nout; k++)
                replace_ptr(&s->scan->out[k].node, old, repl);
        }
        return;
    }
    replace_ptr(&m->loss, old, repl);
    replace_ptr(&m->logits, old, repl);
    replace_ptr(&m->attention, old, repl);
    for (int k = 0; k < m->nstates; k++) {
        replace_ptr(&m->state_out[k], old, repl);
        replace_ptr(&m->dstate[k], old, repl);
    }
    for (int i = 0; m->grads && i < m->nparams; i++)
        replace_ptr(&m->grads[i], old, repl);
    for (int i = 0; i < m->nroots; i++)
        replace_ptr(&m->roots[i], old, repl);
}

void pass_place_before(Model *m, Graph *g, int n0, Node *before)
{
    int count = g->n - n0, at = before->id;
    if (count <= 0 || at >= n0)
        return;
    Node **moved = arena_array(&perm, (size_t)count, sizeof(Node *));
    memcpy(moved, g->nodes + n0, (size_t)count * sizeof(Node *));
    memmove(g->nodes + at + count, g->nodes + at, (size_t)(n0 - at) * sizeof(Node *));
    memcpy(g->nodes + at, moved, (size_t)count * sizeof(Node *));
    for (int i = at; i < g->n; i++)
        g->nodes[i]->id = i;
    if (g == m->g && at < m->nforward)
        m->nforward += count;
}

void pass_scan_remove_input(Node *scan, int k)
{
    Scan *s = scan->scan;
    for (int i = k; i + 1 < s->nin; i++) {
        s->in[i] = s->in[i + 1];
        s->in[i].arg->index = i;
        scan->in[i] = scan->in[i + 1];
    }
    s->nin--;
    scan->nin--;
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].kind == SCAN_FINAL && s->out[o].carry > k)
            s->out[o].carry--;
}
