/*
 * pass_dce.c: dead code elimination, run after every pass.
 *
 * A value is live when the model's outputs need it: the loss, the logits,
 * the attention weights, each final state, each parameter gradient and
 * state gradient, and a decoding graph's roots (those it has). Graph
 * inputs and parameters always stay (the emitted prologue names them).
 * Inside a scan the roots are the live outputs' body nodes and every
 * carry's next value. Dead scan outputs are dropped (the remaining SCAN_OUT
 * nodes are renumbered), and so are scan inputs (other than carries) whose
 * ARG the body no longer reads. Dead nodes are removed and ids renumbered
 * in the same order, so the result is deterministic.
 */
#include "passes.h"

#include <string.h>

static void sweep(Model *m, Graph *g, bool *live);

static void mark(bool *live, const Node *n)
{
    if (n)
        live[n->id] = true;
}

/* Drop dead outputs of scan s (given the live SCAN_OUT nodes after it). */
static void prune_outputs(Graph *g, Node *s, const bool *live)
{
    Scan *sc = s->scan;
    int *remap = arena_array(&perm, (size_t)sc->nout + 1, sizeof(int));
    bool *keep = arena_array(&perm, (size_t)sc->nout + 1, sizeof(bool));
    for (int i = s->id + 1; i < g->n; i++) {
        Node *o = g->nodes[i];
        if (o->op == OP_SCAN_OUT && o->in[0] == s && live[i])
            keep[o->index] = true;
    }
    int k = 0;
    for (int o = 0; o < sc->nout; o++) {
        remap[o] = k;
        if (keep[o])
            sc->out[k++] = sc->out[o];
    }
    sc->nout = k;
    for (int i = s->id + 1; i < g->n; i++) {
        Node *o = g->nodes[i];
        if (o->op == OP_SCAN_OUT && o->in[0] == s && live[i])
            o->index = remap[o->index];
    }
}

/* The body of a live scan: sweep it, then drop inputs it no longer reads. */
static void sweep_scan(Model *m, Node *s)
{
    Scan *sc = s->scan;
    Graph *b = sc->body;
    bool *blive = arena_array(&perm, (size_t)b->n + 1, sizeof(bool));
    for (int k = 0; k < sc->nin; k++)
        if (sc->in[k].kind == SCAN_CARRY) {
            mark(blive, sc->in[k].arg);
            mark(blive, sc->in[k].carry_out);
        }
    for (int o = 0; o < sc->nout; o++)
        if (sc->out[o].kind != SCAN_FINAL)
            mark(blive, sc->out[o].node);
    sweep(m, b, blive);
    for (int k = sc->nin - 1; k >= 0; k--) {
        Node *arg = sc->in[k].arg;
        if (sc->in[k].kind == SCAN_CARRY || (arg->id < b->n && b->nodes[arg->id] == arg))
            continue;
        pass_scan_remove_input(s, k);
    }
}

/* live[] holds the roots; marks everything they need, then compacts g. */
static void sweep(Model *m, Graph *g, bool *live)
{
    for (int i = g->n - 1; i >= 0; i--) {
        Node *n = g->nodes[i];
        if (n->op == OP_SCAN) {
            for (int j = i + 1; j < g->n; j++)
                if (g->nodes[j]->op == OP_SCAN_OUT && g->nodes[j]->in[0] == n && live[j])
                    live[i] = true;
            if (!live[i])
                continue;
            prune_outputs(g, n, live);
            sweep_scan(m, n);
        }
        if (n->op == OP_PARAM || n->op == OP_INPUT)
            live[i] = true;
        if (!live[i])
            continue;
        for (int k = 0; k < n->nin; k++)
            mark(live, n->in[k]);
    }
    int k = 0, nf = 0;
    for (int i = 0; i < g->n; i++) {
        if (!live[i])
            continue;
        if (g == m->g && i < m->nforward)
            nf++;
        g->nodes[k] = g->nodes[i];
        g->nodes[k]->id = k;
        k++;
    }
    for (int i = k; i < g->n; i++)
        g->nodes[i] = NULL;
    g->n = k;
    if (g == m->g)
        m->nforward = nf;
}

void pass_dce(Model *m)
{
    Graph *g = m->g;
    bool *live = arena_array(&perm, (size_t)g->n + 1, sizeof(bool));
    mark(live, m->loss);
    mark(live, m->logits);
    if (m->attention) /* seq2seq: the trainer reads the weights for plots */
        mark(live, m->attention);
    for (int k = 0; k < m->nstates; k++) {
        mark(live, m->state_out[k]);
        mark(live, m->dstate[k]);
    }
    for (int i = 0; m->grads && i < m->nparams; i++)
        mark(live, m->grads[i]);
    for (int i = 0; i < m->nroots; i++)
        mark(live, m->roots[i]);
    sweep(m, g, live);
    graph_verify(g);
}

void pass_dce_roots(Model *m, Node *const *roots, int n)
{
    Graph *g = m->g;
    bool *live = arena_array(&perm, (size_t)g->n + 1, sizeof(bool));
    for (int i = 0; i < n; i++)
        mark(live, roots[i]);
    sweep(m, g, live);
    graph_verify(g);
}
