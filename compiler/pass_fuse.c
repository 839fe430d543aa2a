/*
 * pass_fuse.c: a scan step's elementwise ops become one loop.
 *
 * Inside a scan body, elementwise nodes (add, sub, mul, neg, the
 * activations and their *_grad helpers) over the same tile shape [B,n] are
 * grouped: a node joins the group of an elementwise input of its shape.
 * Each group of two or more nodes becomes one FUSED node whose subgraph
 * (`scan->body`, ARG k = input k) holds copies of the members; the values
 * something outside the group still reads (a matmul, a stacked output for
 * the backward pass, a carry) leave it through FUSED_OUT nodes. emit.c
 * writes a FUSED node as one loop over the tile with the intermediate
 * values as scalars.
 *
 * A graph without scans (a seq2seq model's decoding step: one step of the
 * decoder) is fused the same way at its top level; there the values the
 * model returns (roots, logits, attention, loss) are what leaves a group.
 *
 * An operand from outside the group must have the tile's shape, be a bias
 * [n] (the tile's last dim) or a scalar. Groups stay convex: two groups (or
 * a node and a group) merge only when no outside node lies on a path
 * between members, so the FUSED node can be placed where all of its inputs
 * are ready and before all of its readers; the body is then re-sorted
 * topologically (ties by old id, so the order is deterministic). The ops
 * and their operands are unchanged, so values are bit-identical.
 */
#include "passes.h"

typedef struct {
    Graph *b;
    int n0;      /* nodes before fusing; later ones are FUSED / FUSED_OUT */
    int *parent; /* union-find over body node ids; -1: not fusable */
    char *reach; /* scratch for legal() */
} Fuse;

/* An operand the loop can read: the tile's shape, a bias, a scalar. */
static bool tile_operand(const Node *x, Shape tile)
{
    if (x->dtype != DT_REAL)
        return false;
    if (x->shape.ndim == 0 || shape_eq(x->shape, tile))
        return true;
    return x->shape.ndim == 1 && x->shape.d[0] == tile.d[tile.ndim - 1];
}

static bool fusable(const Node *n)
{
    if (!op_is_elementwise(n->op) || n->dtype != DT_REAL || n->shape.ndim < 1)
        return false;
    for (int k = 0; k < n->nin; k++)
        if (!tile_operand(n->in[k], n->shape))
            return false;
    return true;
}

static int find(Fuse *F, int i)
{
    while (F->parent[i] != i)
        i = F->parent[i] = F->parent[F->parent[i]];
    return i;
}

static bool in_set(Fuse *F, int id, int ga, int gb)
{
    if (F->parent[id] < 0)
        return false;
    int r = find(F, id);
    return r == ga || r == gb;
}

/* May groups ga and gb become one? Not when a member reads an outside node
 * that depends on a member. */
static bool legal(Fuse *F, int ga, int gb)
{
    Graph *b = F->b;
    for (int i = 0; i < b->n; i++) {
        Node *n = b->nodes[i];
        F->reach[i] = in_set(F, i, ga, gb);
        for (int k = 0; k < n->nin && !F->reach[i]; k++)
            F->reach[i] = F->reach[n->in[k]->id];
        if (!in_set(F, i, ga, gb))
            continue;
        for (int k = 0; k < n->nin; k++)
            if (!in_set(F, n->in[k]->id, ga, gb) && F->reach[n->in[k]->id])
                return false;
    }
    return true;
}

/* Is n one of the model's outputs (the top level of a graph without
 * scans)? */
static bool model_output(const Model *m, const Node *n)
{
    if (n == m->loss || n == m->logits || n == m->attention)
        return true;
    for (int k = 0; k < m->nstates; k++)
        if (n == m->state_out[k] || n == m->dstate[k])
            return true;
    for (int i = 0; i < m->nroots; i++)
        if (n == m->roots[i])
            return true;
    for (int i = 0; m->grads && i < m->nparams; i++)
        if (n == m->grads[i])
            return true;
    return false;
}

/* Is member n read by something outside its group (or by the scan, or
 * the model when scan is NULL)? */
static bool read_outside(Fuse *F, const Model *m, const Node *scan, const Node *n)
{
    int g = find(F, n->id);
    for (int i = n->id + 1; i < F->b->n; i++) {
        const Node *u = F->b->nodes[i];
        if (i < F->n0 && F->parent[i] >= 0 && find(F, i) == g)
            continue;
        for (int k = 0; k < u->nin; k++)
            if (u->in[k] == n)
                return true;
    }
    if (!scan)
        return model_output(m, n);
    const Scan *s = scan->scan;
    for (int k = 0; k < s->nin; k++)
        if (s->in[k].carry_out == n)
            return true;
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].kind != SCAN_FINAL && s->out[o].node == n)
            return true;
    return false;
}

/* Group g (members ids[0..nm), in order) as one FUSED node at the end of
 * the body. */
static void build_fused(Model *m, Fuse *F, const Node *scan, const int *ids, int nm)
{
    Graph *b = F->b;
    Graph *fb = graph_new(&perm, b);
    Node **clone = arena_array(&perm, (size_t)b->n + 1, sizeof(Node *));
    Node **ext = arena_array(&perm, (size_t)nm * 3 + 1, sizeof(Node *));
    int next = 0;
    Node *fu = pass_node(b, OP_FUSED, b->nodes[ids[nm - 1]]->loc, shape0(), DT_REAL, NULL, 0);
    Scan *s = fu->scan = arena_alloc(&perm, sizeof *fu->scan);
    s->body = fb;
    s->name = "fused";
    for (int j = 0; j < nm; j++) {
        Node *n = b->nodes[ids[j]], *in[3];
        for (int k = 0; k < n->nin; k++) {
            Node *u = n->in[k];
            if (!clone[u->id] && u->op == OP_CONST) {
                clone[u->id] = graph_const(fb, u->loc, u->value);
            } else if (!clone[u->id]) {
                clone[u->id] = graph_leaf(fb, OP_ARG, u->loc, u->shape, u->dtype, next);
                clone[u->id]->name = u->name;
                s->in = arena_grow(&perm, s->in, &s->cap_in, s->nin + 1, sizeof(ScanIn));
                s->in[s->nin++] = (ScanIn){SCAN_INV, clone[u->id], NULL};
                ext[next++] = u;
            }
            in[k] = clone[u->id];
        }
        Node *c = clone[n->id] = pass_node(fb, n->op, n->loc, n->shape, n->dtype, in, n->nin);
        c->name = n->name;
        c->text = n->text;
    }
    fu->in = ext;
    fu->nin = next;
    for (int j = 0; j < nm; j++) {
        Node *n = b->nodes[ids[j]];
        if (!read_outside(F, m, scan, n))
            continue;
        s->out = arena_grow(&perm, s->out, &s->cap_out, s->nout + 1, sizeof(ScanOut));
        s->out[s->nout] = (ScanOut){SCAN_STACK, clone[n->id], 0};
        Node *o = pass_node(b, OP_FUSED_OUT, n->loc, n->shape, DT_REAL, &fu, 1);
        o->index = s->nout++;
        o->name = n->name;
        o->text = n->text;
        pass_replace_uses(m, b, n, o);
    }
}

/* Stable topological order of g (Kahn, smallest old id first). */
static void resort(Graph *g)
{
    int n = g->n;
    Node **out = arena_array(&perm, (size_t)n + 1, sizeof(Node *));
    char *done = arena_array(&perm, (size_t)n + 1, 1);
    for (int k = 0; k < n; k++) {
        int pick = -1;
        for (int i = 0; i < n && pick < 0; i++) {
            if (done[i])
                continue;
            bool ready = true;
            for (int j = 0; j < g->nodes[i]->nin && ready; j++)
                ready = done[g->nodes[i]->in[j]->id];
            if (ready)
                pick = i;
        }
        if (pick < 0)
            DIE("pass_fuse: the body has a cycle after fusing");
        done[pick] = 1;
        out[k] = g->nodes[pick];
    }
    for (int i = 0; i < n; i++) {
        g->nodes[i] = out[i];
        g->nodes[i]->id = i;
    }
}

/* Fuses the elementwise chains of b: the body of scan, or the top level
 * of a graph without scans (scan NULL). */
static void fuse_graph(Model *m, Graph *b, Node *scan)
{
    int n = b->n;
    Fuse F = {b, n, arena_array(&perm, (size_t)n + 1, sizeof(int)), arena_array(&perm, (size_t)n + 1, 1)};
    for (int i = 0; i < n; i++)
        F.parent[i] = fusable(b->nodes[i]) ? i : -1;
    for (int i = 0; i < n; i++) {
        Node *x = b->nodes[i];
        if (F.parent[i] < 0)
            continue;
        for (int k = 0; k < x->nin; k++) {
            int u = x->in[k]->id;
            if (F.parent[u] < 0 || !shape_eq(x->in[k]->shape, x->shape))
                continue;
            int ga = find(&F, u), gb = find(&F, i);
            if (ga != gb && legal(&F, ga, gb))
                F.parent[gb] = ga;
        }
    }
    int *ids = arena_array(&perm, (size_t)n + 1, sizeof(int));
    bool any = false;
    for (int r = 0; r < n; r++) {
        if (F.parent[r] != r)
            continue;
        int nm = 0;
        for (int i = 0; i < n; i++)
            if (F.parent[i] >= 0 && find(&F, i) == r)
                ids[nm++] = i;
        if (nm >= 2) {
            build_fused(m, &F, scan, ids, nm);
            any = true;
        }
    }
    if (any)
        resort(b);
}

void pass_fuse(Model *m)
{
    Graph *g = m->g;
    bool scans = false;
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i]->op == OP_SCAN) {
            fuse_graph(m, g->nodes[i]->scan->body, g->nodes[i]);
            scans = true;
        }
    if (scans || m->grads)
        return;
    bool all_forward = m->nforward == g->n;
    fuse_graph(m, g, NULL);
    if (all_forward)
        m->nforward = g->n;
}
