/*
 * pass_gemmfuse.c: GEMMs that share their left operand become one GEMM
 * against the concatenated weights. It runs on the forward graph, before
 * autodiff (passes_run_forward), so the backward follows by itself:
 *
 *   body:  h @ W_a, h @ W_b, h @ W_c          (each [B,k] x [k,n_i])
 *   ->     W_cat = concat(W_a, W_b, W_c)      before the scan, once per
 *                                             forward, a loop invariant
 *          M = h @ W_cat                      one [B,k] x [k,sum n_i] GEMM
 *          slice(M, 0, n_a), slice(M, n_a, n_b), ...
 *
 * and autodiff then derives dh = dM @ W_cat^T (one GEMM), dM = concat of
 * the gate gradients (the adjoints of the slices, merged in autodiff.c),
 * dW_cat = sum_t h^T dM (one GEMM after pass_wgrad) and dW_a = its slices.
 *
 * Candidates are found from the graph alone: in a scan body, matmuls
 * without transposes whose right operand is a loop-invariant scan input of
 * concrete shape [k, n] and whose left operand depends on a carried state.
 * Products of a per-step input are left alone: pass_hoist turns each into
 * one GEMM over all T*B rows already (and pass_onehot into a gather), so a
 * concatenation would only cost a copy there. Groups are keyed by the left
 * node; members keep body order and the first member's place. Each column
 * of M is the same dot product as in the separate GEMM, so the values are
 * the same in exact arithmetic (the reference interpreter sums in the same
 * order: it agrees bit for bit; BLAS may block differently).
 */
#include "passes.h"

#include <string.h>

typedef struct {
    Node *left;
    Node **mm; /* the matmuls, body order */
    int n;
} Group;

/* Does body node n depend on a carried state? (ids are positions) */
static bool *carry_dependent(const Node *scan)
{
    const Graph *b = scan->scan->body;
    bool *dep = arena_array(&perm, (size_t)b->n + 1, sizeof(bool));
    for (int i = 0; i < b->n; i++) {
        const Node *n = b->nodes[i];
        if (n->op == OP_ARG)
            dep[i] = scan->scan->in[n->index].kind == SCAN_CARRY;
        for (int k = 0; k < n->nin; k++)
            dep[i] |= dep[n->in[k]->id];
    }
    return dep;
}

/* A right operand that can join a concatenation: a loop-invariant input
 * [k, n] with n concrete. */
static bool invariant_weight(const Node *scan, const Node *w)
{
    return w->op == OP_ARG && scan->scan->in[w->index].kind == SCAN_INV && w->dtype == DT_REAL &&
           w->shape.ndim == 2 && w->shape.d[1] > 0;
}

static bool candidate(const Node *scan, const bool *dep, const Node *n)
{
    return n->op == OP_MATMUL && !n->ta && !n->tb && dep[n->in[0]->id] && invariant_weight(scan, n->in[1]);
}

/* Groups of candidates by left operand, in order of first appearance. */
static Group *find_groups(const Node *scan, int *ngroups)
{
    const Graph *b = scan->scan->body;
    bool *dep = carry_dependent(scan);
    Group *gr = arena_array(&perm, (size_t)b->n + 1, sizeof(Group));
    int ng = 0;
    for (int i = 0; i < b->n; i++) {
        Node *n = b->nodes[i];
        if (!candidate(scan, dep, n))
            continue;
        Group *g = NULL;
        for (int k = 0; k < ng && !g; k++)
            if (gr[k].left == n->in[0] && gr[k].mm[0]->in[1]->shape.d[0] == n->in[1]->shape.d[0])
                g = &gr[k];
        if (!g) {
            g = &gr[ng++];
            g->left = n->in[0];
            g->mm = arena_array(&perm, (size_t)b->n + 1, sizeof(Node *));
        }
        bool twice = false; /* the same weight again: cse's business */
        for (int k = 0; k < g->n; k++)
            twice |= g->mm[k]->in[1] == n->in[1];
        if (!twice)
            g->mm[g->n++] = n;
    }
    *ngroups = ng;
    return gr;
}

/* "W_hr_W_hz_W_hn" from the weights' names (NULL if one has none). */
static const char *joined_name(const Node *scan, const Group *g)
{
    const char *s = NULL;
    for (int k = 0; k < g->n; k++) {
        const char *w = scan->in[g->mm[k]->in[1]->index]->name;
        if (!w)
            return NULL;
        s = s ? arena_printf(&perm, "%s_%s", s, w) : w;
    }
    return s;
}

static void fuse_group(Model *m, Node *scan, const Group *gr)
{
    Graph *g = m->g, *b = scan->scan->body;
    Node *first = gr->mm[0];
    Node **parts = arena_array(&perm, (size_t)gr->n, sizeof(Node *));
    for (int k = 0; k < gr->n; k++)
        parts[k] = scan->in[gr->mm[k]->in[1]->index];

    /* the concatenated weights, just before the scan */
    int n0 = g->n;
    Node *wcat = graph_add(g, OP_CONCAT, first->loc, parts, gr->n);
    if (!wcat)
        DIE("pass_gemmfuse: weights that do not concatenate");
    wcat->name = joined_name(scan, gr);
    pass_place_before(m, g, n0, scan);

    /* ... enter as a loop invariant (its ARG at the front of the body) */
    int nb = b->n;
    Node *arg = scan_add_input(scan, SCAN_INV, wcat);
    arg->name = wcat->name;
    pass_place_before(m, b, nb, b->nodes[0]);

    /* one GEMM and a slice per product, in the first product's place */
    nb = b->n;
    Node *prod = graph_matmul(b, first->loc, gr->left, arg, false, false);
    prod->text = first->text;
    Node **sl = arena_array(&perm, (size_t)gr->n, sizeof(Node *));
    for (int k = 0, at = 0; k < gr->n; k++) {
        Node *mm = gr->mm[k];
        sl[k] = graph_slice(b, mm->loc, prod, at, mm->shape.d[mm->shape.ndim - 1]);
        sl[k]->name = mm->name;
        sl[k]->text = mm->text;
        at += mm->shape.d[mm->shape.ndim - 1];
    }
    pass_place_before(m, b, nb, first);
    for (int k = 0; k < gr->n; k++)
        pass_replace_uses(m, b, gr->mm[k], sl[k]);
}

static void fuse_scan(Model *m, Node *scan)
{
    int ng = 0;
    Group *gr = find_groups(scan, &ng);
    for (int k = 0; k < ng; k++)
        if (gr[k].n >= 2)
            fuse_group(m, scan, &gr[k]);
}

void pass_gemmfuse(Model *m)
{
    Graph *g = m->g;
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        if (n->op == OP_SCAN) {
            fuse_scan(m, n);
            i = n->id; /* the concatenations went before it */
        }
    }
}
