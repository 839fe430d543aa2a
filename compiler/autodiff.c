/*
 * autodiff.c: reverse-mode automatic differentiation over the graph IR.
 *
 * The backward pass is appended to the same graph as new nodes: starting
 * from d(loss) = 1, nodes are visited in reverse order and each op's adjoint
 * rule (one case in `adjoint` per row of ops.def) adds the gradient of each
 * input that needs one. Contributions to the same node are summed with add
 * nodes, in the order they arise, so the result is deterministic.
 *
 * A forward scan differentiates into a reverse scan (backpropagation through
 * time). Its body is the adjoint of the forward body at one step:
 *   - the gradient of each carried state flows backward as the reverse
 *     scan's own carried value, starting from the gradient of the scan's
 *     final state (or zeros);
 *   - forward body values the adjoint needs at step t (activations, the
 *     previous state) are stacked over t by the forward scan and enter the
 *     reverse scan as per-step inputs; weights enter as loop invariants;
 *   - gradients of loop-invariant inputs (weights) are summed over steps,
 *     gradients of per-step inputs are stacked, and the carried gradient
 *     left after step 0 is the gradient of the initial state.
 * Nodes made here inherit the Loc of the forward node they differentiate.
 */
#include "graph.h"

#include <string.h>

typedef struct {
    Graph *g;      /* where adjoint nodes go */
    Node **adj;    /* adjoint of each node of the differentiated graph */
    bool *needs;   /* does the node depend on something we differentiate? */
    /* Only for scan bodies: forward body value -> value inside the
     * reverse body (fetched through the reverse scan's inputs). */
    Node *fscan, *rscan;
    Node **fval;
    /* Gradients of slices of each node, not yet summed into it
     * (slice_defer, slice_flush). */
    struct SliceGrad **slices;
} Diff;

typedef struct SliceGrad {
    int offset;
    Node *g;
    struct SliceGrad *next;
} SliceGrad;

static Node *value(Diff *D, Node *v);

static void accumulate(Diff *D, Node *n, Node *g)
{
    if (!g || !D->needs[n->id])
        return;
    if (!shape_eq(g->shape, n->shape))
        DIE("autodiff: gradient of %%%d (%s) has the wrong shape", n->id, op_name(n->op));
    if (!g->name && n->name)
        g->name = arena_printf(&perm, "d%s", n->name);
    if (D->adj[n->id]) {
        g = graph_add2(D->g, OP_ADD, n->loc, D->adj[n->id], g);
        if (n->name)
            g->name = arena_printf(&perm, "d%s", n->name);
    }
    D->adj[n->id] = g;
    /* A scan has no value of its own: mark it so the sweep visits it. */
    if (n->op == OP_SCAN_OUT)
        D->adj[n->in[0]->id] = g;
}

static Node *add1(Diff *D, Op op, Node *n, Node *a) { return graph_add1(D->g, op, n->loc, a); }
static Node *add2(Diff *D, Op op, Node *n, Node *a, Node *b)
{
    Node *r = graph_add2(D->g, op, n->loc, a, b);
    if (!r)
        DIE("autodiff: shape inference failed for %s", op_name(op));
    return r;
}

static void diff_scan(Diff *D, Node *scan);

static void slice_defer(Diff *D, Node *n, int offset, Node *g)
{
    SliceGrad *s = arena_array(&perm, 1, sizeof(SliceGrad));
    *s = (SliceGrad){offset, g, D->slices[n->id]};
    D->slices[n->id] = s;
}

static int last_dim_of(const Node *n) { return n->shape.d[n->shape.ndim - 1]; }

/* Zeros of n's shape but `width` columns (in D's graph). */
static Node *zero_cols(Diff *D, Node *n, int width)
{
    Shape sh = n->shape;
    sh.d[sh.ndim - 1] = width;
    return graph_leaf(D->g, OP_ZEROS, n->loc, sh, DT_REAL, 0);
}

/* The gradient of n that its slices contribute: the slices' gradients
 * laid side by side in column order with zeros in the gaps, one concat,
 * when they do not overlap (fused GEMMs: the gate gradients tile n, and
 * dM = concat(dR, dZ, dN) has no zero fill and no sum); overlapping
 * slices each add their own zero-padded embed. */
static void slice_flush(Diff *D, Node *n)
{
    int count = 0;
    for (SliceGrad *s = D->slices[n->id]; s; s = s->next)
        count++;
    if (!count)
        return;
    SliceGrad **v = arena_array(&perm, (size_t)count, sizeof(SliceGrad *));
    int k = count;
    for (SliceGrad *s = D->slices[n->id]; s; s = s->next)
        v[--k] = s; /* the order the sweep met them */
    for (int i = 1; i < count; i++) /* stable: by column */
        for (int j = i; j > 0 && v[j - 1]->offset > v[j]->offset; j--) {
            SliceGrad *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    D->slices[n->id] = NULL;
    int width = last_dim_of(n);
    bool disjoint = true;
    for (int i = 1; i < count; i++)
        disjoint &= v[i - 1]->offset + last_dim_of(v[i - 1]->g) <= v[i]->offset;
    Node **parts = arena_array(&perm, (size_t)2 * count + 2, sizeof(Node *));
    int np = 0, at = 0;
    for (int i = 0; i < count; i++) {
        if (!disjoint)
            np = 0, at = 0;
        if (v[i]->offset > at)
            parts[np++] = zero_cols(D, n, v[i]->offset - at);
        parts[np++] = v[i]->g;
        at = v[i]->offset + last_dim_of(v[i]->g);
        if (disjoint && i + 1 < count)
            continue;
        if (at < width)
            parts[np++] = zero_cols(D, n, width - at);
        accumulate(D, n, np == 1 ? parts[0] : graph_add(D->g, OP_CONCAT, n->loc, parts, np));
    }
}


/* The adjoint rule of each op: given g = d(out), add d(in[i]). */
static void adjoint(Diff *D, Node *n, Node *g)
{
    Node **in = n->in;
    Loc loc = n->loc;
    switch (n->op) {
    case OP_ADD:
        for (int i = 0; i < 2; i++)
            if (D->needs[in[i]->id])
                accumulate(D, in[i], graph_sum_to(D->g, loc, g, in[i]->shape));
        return;
    case OP_SUB:
        if (D->needs[in[0]->id])
            accumulate(D, in[0], graph_sum_to(D->g, loc, g, in[0]->shape));
        if (D->needs[in[1]->id])
            accumulate(D, in[1], graph_sum_to(D->g, loc, add1(D, OP_NEG, n, g), in[1]->shape));
        return;
    case OP_MUL:
        if (D->needs[in[0]->id])
            accumulate(D, in[0], graph_sum_to(D->g, loc, add2(D, OP_MUL, n, g, value(D, in[1])), in[0]->shape));
        if (D->needs[in[1]->id])
            accumulate(D, in[1], graph_sum_to(D->g, loc, add2(D, OP_MUL, n, g, value(D, in[0])), in[1]->shape));
        return;
    case OP_NEG:
        accumulate(D, in[0], add1(D, OP_NEG, n, g));
        return;
    case OP_TANH:
        accumulate(D, in[0], add2(D, OP_TANH_GRAD, n, value(D, n), g));
        return;
    case OP_SIGMOID:
        accumulate(D, in[0], add2(D, OP_SIGMOID_GRAD, n, value(D, n), g));
        return;
    case OP_RELU:
        accumulate(D, in[0], add2(D, OP_RELU_GRAD, n, value(D, n), g));
        return;
    case OP_EXP:
        accumulate(D, in[0], add2(D, OP_MUL, n, g, value(D, n)));
        return;
    case OP_MATMUL:
        if (n->ta)
            DIE("autodiff: a matmul with its left operand transposed in a forward graph");
        if (n->tb) { /* tied weights: C = A @ B^T: dA = dC @ B, dB = dC^T @ A */
            if (D->needs[in[0]->id])
                accumulate(D, in[0], graph_matmul(D->g, loc, g, value(D, in[1]), false, false));
            if (D->needs[in[1]->id])
                accumulate(D, in[1], graph_matmul(D->g, loc, g, value(D, in[0]), true, false));
            return;
        }
        /* C = A @ B: dA = dC @ B^T, dB = A^T @ dC (leading dims flattened) */
        if (D->needs[in[0]->id])
            accumulate(D, in[0], graph_matmul(D->g, loc, g, value(D, in[1]), false, true));
        if (D->needs[in[1]->id])
            accumulate(D, in[1], graph_matmul(D->g, loc, value(D, in[0]), g, true, false));
        return;
    case OP_GATHER: {
        /* out = rows of a at ids: da = scatter_add(ids, g) */
        if (!D->needs[in[0]->id])
            return;
        Node *ids = value(D, in[1]);
        Node *d = graph_leaf(D->g, OP_SCATTER_ADD, loc, in[0]->shape, DT_REAL, 0);
        d->in = arena_array(&perm, 2, sizeof(Node *));
        d->in[0] = ids;
        d->in[1] = g;
        d->nin = 2;
        accumulate(D, in[0], d);
        return;
    }
    case OP_SCATTER_ADD: {
        /* out[ids[i]] += g_in[i]: dg_in = rows of g at ids */
        if (!D->needs[in[1]->id])
            return;
        Node *ids = value(D, in[0]);
        Node *d = graph_leaf(D->g, OP_GATHER, loc, in[1]->shape, DT_REAL, 0);
        d->in = arena_array(&perm, 2, sizeof(Node *));
        d->in[0] = g;
        d->in[1] = ids;
        d->nin = 2;
        accumulate(D, in[1], d);
        return;
    }
    case OP_SOFTMAX_XENT: {
        Node *args[3] = {value(D, in[0]), value(D, in[1]), g};
        accumulate(D, in[0], graph_add(D->g, OP_SOFTMAX_XENT_GRAD, loc, args, 3));
        return;
    }
    case OP_GRAD_SCALE:
        accumulate(D, in[0], add2(D, OP_MUL, n, g, value(D, in[1])));
        return;
    case OP_DROPOUT:
        /* linear with a diagonal of keep/(1-rate): the same mask again */
        accumulate(D, in[0], graph_dropout(D->g, loc, g, n->value, n->index));
        return;
    case OP_CONCAT: {
        int last = n->shape.ndim - 1;
        for (int k = 0, at = 0; k < n->nin; k++) {
            int wk = in[k]->shape.d[last];
            if (D->needs[in[k]->id])
                accumulate(D, in[k], graph_slice(D->g, loc, g, at, wk));
            at += wk;
        }
        return;
    }
    case OP_SLICE:
        /* a zero-padded embed of g; held back until the sweep reaches
         * in[0], so the embeds of all its slices become one concat */
        if (D->needs[in[0]->id])
            slice_defer(D, in[0], n->index, g);
        return;
    case OP_ROW_SCALE:
        /* out = a * s per row: da = g * s per row; s is a mask made by
         * the runtime (INPUT_MASK) and gets no gradient */
        if (D->needs[in[1]->id])
            DIE("autodiff: a row scale that needs a gradient");
        accumulate(D, in[0], add2(D, OP_ROW_SCALE, n, g, value(D, in[1])));
        return;
    case OP_POOL:
        /* out[b,:] = sum_t w[t,b] h[t,b,:]: dh[t,b,:] = w[t,b] g[b,:] and
         * dw[t,b] = h[t,b,:] . g[b,:] (g [B,n] broadcasts against [T,B,n]).
         * The classification head's weights are data (INPUT_POOL); the
         * attention weights of seq2seq need their gradient. */
        if (D->needs[in[0]->id])
            accumulate(D, in[0], add2(D, OP_POOL_GRAD, n, value(D, in[1]), g));
        if (D->needs[in[1]->id])
            accumulate(D, in[1], add1(D, OP_SUM_LAST, n, add2(D, OP_MUL, n, value(D, in[0]), g)));
        return;
    /* seq2seq (issue #4) */
    case OP_SUM_LAST:
        accumulate(D, in[0], graph_bcast_last(D->g, loc, g, in[0]->shape.d[in[0]->shape.ndim - 1]));
        return;
    case OP_BCAST_LAST:
        accumulate(D, in[0], add1(D, OP_SUM_LAST, n, g));
        return;
    case OP_MASKED_SOFTMAX_T:
        accumulate(D, in[0], add2(D, OP_MASKED_SOFTMAX_T_GRAD, n, value(D, n), g));
        return;
    case OP_MASKED_XENT: {
        Node *args[4] = {value(D, in[0]), value(D, in[1]), value(D, in[2]), g};
        accumulate(D, in[0], graph_add(D->g, OP_MASKED_XENT_GRAD, loc, args, 4));
        return;
    }
    case OP_SCAN_OUT:
        return; /* collected by the scan node itself */
    case OP_SCAN:
        diff_scan(D, n);
        return;
    case OP_ONE_HOT:
    case OP_LEN_MASK:
    case OP_PARAM:
    case OP_INPUT:
    case OP_ARG:
    case OP_CONST:
    case OP_ZEROS:
        return;
    default:
        DIE("autodiff: no adjoint rule for %s", op_name(n->op));
    }
}

/* The value of forward node v where the adjoint is being built. At the top
 * level that is v itself; inside a reverse-scan body it is fetched through
 * the reverse scan: loop invariants and per-step inputs pass straight
 * through, everything else is stacked by the forward scan. */
static Node *value(Diff *D, Node *v)
{
    if (!D->fscan)
        return v;
    if (D->fval[v->id])
        return D->fval[v->id];
    Node *r;
    if (v->op == OP_CONST) {
        r = graph_const(D->g, v->loc, v->value);
    } else if (v->op == OP_ARG && D->fscan->scan->in[v->index].kind != SCAN_CARRY) {
        ScanInKind kind = D->fscan->scan->in[v->index].kind;
        r = scan_add_input(D->rscan, kind, D->fscan->in[v->index]);
    } else {
        Node *stacked = NULL;
        const Scan *fs = D->fscan->scan;
        for (int o = 0; o < fs->nout && !stacked; o++)
            if (fs->out[o].kind == SCAN_STACK && fs->out[o].node == v)
                stacked = scan_output_node(D->fscan, o);
        if (!stacked)
            stacked = scan_add_output(D->fscan, SCAN_STACK, v, 0);
        r = scan_add_input(D->rscan, SCAN_SEQ, stacked);
    }
    r->name = v->name;
    D->fval[v->id] = r;
    return r;
}

static bool *needs_grad_top(Model *m)
{
    Graph *g = m->g;
    bool *needs = arena_array(&perm, (size_t)g->n, sizeof(bool));
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        if (n->op == OP_PARAM)
            needs[i] = m->params[n->index].trainable;
        else if (n->op == OP_INPUT)
            /* states, not data (nor the seq2seq inputs numbered after them) */
            needs[i] = n->index >= INPUT_STATE && n->index < INPUT_STATE + MAX_STATES;
        for (int k = 0; k < n->nin; k++)
            needs[i] |= needs[n->in[k]->id];
    }
    return needs;
}

static bool *needs_grad_body(Node *scan, const bool *outer_needs)
{
    Graph *b = scan->scan->body;
    bool *needs = arena_array(&perm, (size_t)b->n, sizeof(bool));
    for (int i = 0; i < b->n; i++) {
        Node *n = b->nodes[i];
        if (n->op == OP_ARG)
            needs[i] = scan->scan->in[n->index].kind == SCAN_CARRY || outer_needs[scan->in[n->index]->id];
        for (int k = 0; k < n->nin; k++)
            needs[i] |= needs[n->in[k]->id];
    }
    return needs;
}

/* Outer adjoint of each output of `scan`, found among its SCAN_OUT users. */
static Node **scan_output_adjoints(Diff *D, Node *scan)
{
    Node **outs = arena_array(&perm, (size_t)scan->scan->nout + 1, sizeof(Node *));
    for (int i = scan->id + 1; i < D->g->n; i++) {
        Node *n = D->g->nodes[i];
        if (n->op == OP_SCAN_OUT && n->in[0] == scan && D->adj[n->id])
            outs[n->index] = D->adj[n->id];
    }
    return outs;
}

static void diff_scan(Diff *D, Node *F)
{
    Scan *fs = F->scan;
    Graph *fb = fs->body;
    int nout0 = fs->nout;
    Node **dout = scan_output_adjoints(D, F);
    Node *R = graph_scan(D->g, F->loc, fs->name, !fs->reverse);
    Diff B = {.g = R->scan->body, .fscan = F, .rscan = R};
    B.adj = arena_array(&perm, (size_t)fb->n, sizeof(Node *));
    B.fval = arena_array(&perm, (size_t)fb->n, sizeof(Node *));
    B.needs = needs_grad_body(F, D->needs);
    B.slices = arena_array(&perm, (size_t)fb->n, sizeof(SliceGrad *));

    /* Seeds: stacked outputs' gradients per step, sums' as invariants. */
    for (int o = 0; o < nout0; o++) {
        ScanOut *so = &fs->out[o];
        if (!dout[o] || so->kind == SCAN_FINAL)
            continue;
        Node *arg = scan_add_input(R, so->kind == SCAN_STACK ? SCAN_SEQ : SCAN_INV, dout[o]);
        accumulate(&B, so->node, arg);
    }
    /* Carried gradients: start from d(final state), or zeros. */
    int *rcarry = arena_array(&perm, (size_t)fs->nin + 1, sizeof(int));
    for (int i = 0; i < fs->nin; i++) {
        if (fs->in[i].kind != SCAN_CARRY)
            continue;
        Node *init = NULL;
        for (int o = 0; o < nout0; o++)
            if (fs->out[o].kind == SCAN_FINAL && fs->out[o].carry == i && dout[o])
                init = dout[o];
        if (!init)
            init = graph_leaf(D->g, OP_ZEROS, F->loc, F->in[i]->shape, DT_REAL, 0);
        rcarry[i] = R->scan->nin;
        Node *arg = scan_add_input(R, SCAN_CARRY, init);
        arg->name = arena_printf(&perm, "d%s_next", fs->in[i].carry_out->name ? fs->in[i].carry_out->name : "state");
        accumulate(&B, fs->in[i].carry_out, arg);
    }
    /* The body's adjoint, last equation first. */
    for (int i = fb->n - 1; i >= 0; i--) {
        Node *n = fb->nodes[i];
        slice_flush(&B, n);
        if (B.adj[i] && B.needs[i])
            adjoint(&B, n, B.adj[i]);
    }
    /* Outputs of the reverse scan, then their place in the outer graph. */
    typedef struct { int input; ScanOutKind kind; Node *body; } Pending;
    Pending *pend = arena_array(&perm, (size_t)fs->nin + 1, sizeof(Pending));
    int npend = 0;
    for (int i = 0; i < fs->nin; i++) {
        Node *arg = fs->in[i].arg;
        Node *d = B.adj[arg->id];
        bool wanted = D->needs[F->in[i]->id];
        if (fs->in[i].kind == SCAN_CARRY) {
            /* the carried gradient flows between steps even when the
             * initial state itself needs no gradient */
            if (!d)
                d = graph_leaf(B.g, OP_ZEROS, arg->loc, arg->shape, DT_REAL, 0);
            scan_set_carry_out(R, rcarry[i], d);
            if (wanted)
                pend[npend++] = (Pending){i, SCAN_FINAL, NULL};
        } else if (d && wanted) {
            pend[npend++] = (Pending){i, fs->in[i].kind == SCAN_INV ? SCAN_SUM : SCAN_STACK, d};
        }
    }
    graph_move_to_end(D->g, R);
    for (int k = 0; k < npend; k++) {
        int i = pend[k].input;
        Node *o = scan_add_output(R, pend[k].kind, pend[k].body, pend[k].kind == SCAN_FINAL ? rcarry[i] : 0);
        o->name = arena_printf(&perm, "d%s", F->in[i]->name ? F->in[i]->name : "in");
        accumulate(D, F->in[i], o);
    }
}

void autodiff(Arena *a, Model *m)
{
    Graph *g = m->g;
    int n0 = g->n;
    Diff D = {.g = g};
    /* The arrays are sized generously: the backward pass adds nodes. */
    size_t cap = (size_t)n0 * 64 + 1024;
    D.adj = arena_array(a, cap, sizeof(Node *));
    bool *needs = needs_grad_top(m);
    D.needs = arena_array(a, cap, sizeof(bool));
    D.slices = arena_array(a, cap, sizeof(SliceGrad *));
    memcpy(D.needs, needs, (size_t)n0 * sizeof(bool));
    D.adj[m->loss->id] = graph_const(g, m->loss->loc, 1.0);
    D.adj[m->loss->id]->name = "dloss";
    for (int i = n0 - 1; i >= 0; i--) {
        Node *n = g->nodes[i];
        slice_flush(&D, n);
        if (D.adj[n->id] && D.needs[n->id])
            adjoint(&D, n, D.adj[n->id]);
        if ((size_t)g->n >= cap)
            DIE("autodiff: graph grew past %zu nodes", cap);
    }
    /* The scans moved nodes around: look parameters up by node, not id. */
    m->grads = arena_array(a, (size_t)m->nparams + 1, sizeof(Node *));
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        if (n->op == OP_PARAM)
            m->grads[n->index] = D.adj[n->id];
        else if (n->op == OP_INPUT && n->index >= INPUT_STATE && n->index < INPUT_STATE + MAX_STATES)
            m->dstate[n->index - INPUT_STATE] = D.adj[n->id]; /* not the seq2seq inputs after the states */
    }
    graph_verify(g);
}
