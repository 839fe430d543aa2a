/*
 * graph.c: the graph IR's builder, shape inference, text dump and verifier.
 *
 * graph_add() is the only way nodes enter a graph, so shape inference runs
 * on every node as it is made: a node is appended after its inputs (the
 * node list is always in topological order) and gets its shape from its
 * op's rule below. A shape error is a user error when the node came from a
 * spec equation, so it is reported at the node's Loc and NULL is returned;
 * lower.c adds the notes that point at the producers.
 */
#include "graph.h"

#include <string.h>

static const char *op_names[] = {
#define OP(name, arity, str, doc) str,
#include "ops.def"
#undef OP
};

static const int op_arity[] = {
#define OP(name, arity, str, doc) arity,
#include "ops.def"
#undef OP
};

const char *op_name(Op op) { return op_names[op]; }

/* Ops that compute each output element from the same element of their
 * (broadcast) inputs: what the fusion and hoisting passes and the
 * elementwise emitter handle. */
bool op_is_elementwise(Op op)
{
    switch (op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_NEG:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_RELU:
    case OP_EXP:
    case OP_TANH_GRAD:
    case OP_SIGMOID_GRAD:
    case OP_RELU_GRAD:
        return true;
    default:
        return false;
    }
}

/* ---- shapes ---- */

Shape shape0(void) { return (Shape){0, {0, 0, 0}}; }
Shape shape1(int a) { return (Shape){1, {a, 0, 0}}; }
Shape shape2(int a, int b) { return (Shape){2, {a, b, 0}}; }
Shape shape3(int a, int b, int c) { return (Shape){3, {a, b, c}}; }

bool shape_eq(Shape a, Shape b)
{
    if (a.ndim != b.ndim)
        return false;
    for (int i = 0; i < a.ndim; i++)
        if (a.d[i] != b.d[i])
            return false;
    return true;
}

static const char *dim_str(int d, char *buf, size_t n)
{
    if (d == DIM_B)
        return "B";
    if (d == DIM_T)
        return "T";
    if (d == DIM_V)
        return "V";
    if (d == DIM_L)
        return "L";
    if (d == DIM_VT)
        return "Vt";
    snprintf(buf, n, "%d", d);
    return buf;
}

const char *shape_str(Shape s, char *buf, size_t n)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < s.ndim && k < n; i++) {
        char tmp[16];
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? "," : "", dim_str(s.d[i], tmp, sizeof tmp));
    }
    if (k < n)
        snprintf(buf + k, n - k, "]");
    return buf;
}

/* "B * 256": symbols first in B, T, V order, then the product of numbers. */
const char *shape_size_expr(Arena *a, Shape s)
{
    char buf[128];
    size_t k = 0;
    long long num = 1;
    static const int syms[] = {DIM_T, DIM_B, DIM_V, DIM_L};
    static const char *names[] = {"T", "B", "V", "L"};
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < s.ndim; i++)
            if (s.d[i] == syms[j])
                k += (size_t)snprintf(buf + k, sizeof buf - k, "%s(size_t)%s", k ? " * " : "", names[j]);
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] > 0)
            num *= s.d[i];
    if (num != 1 || k == 0)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%lld", k ? " * " : "", num);
    return arena_strdup(a, buf);
}

bool shape_numel(Shape s, int B, int T, int V, int L, size_t *out)
{
    size_t n = 1;
    for (int i = 0; i < s.ndim; i++) {
        int d = s.d[i] == DIM_B ? B : s.d[i] == DIM_T ? T : s.d[i] == DIM_V ? V : s.d[i] == DIM_L ? L : s.d[i];
        if (d < 0 || !size_mul(n, (size_t)d, &n))
            return false;
    }
    *out = n;
    return true;
}

/* Is `small` a suffix of `big` (bias [n] against [B,n])? */
static bool shape_is_suffix(Shape small, Shape big)
{
    if (small.ndim > big.ndim)
        return false;
    int off = big.ndim - small.ndim;
    for (int i = 0; i < small.ndim; i++)
        if (small.d[i] != big.d[off + i])
            return false;
    return true;
}

/* ---- building ---- */

Graph *graph_new(Arena *a, Graph *parent)
{
    Graph *g = arena_alloc(a, sizeof *g);
    g->parent = parent;
    return g;
}

static Node *append(Graph *g, Op op, Loc loc, Node **in, int nin)
{
    g->nodes = arena_grow(&perm, g->nodes, &g->cap, g->n + 1, sizeof(Node *));
    Node *n = arena_alloc(&perm, sizeof *n);
    n->id = g->n;
    n->op = op;
    n->loc = loc;
    n->graph = g;
    n->nin = nin;
    if (nin > 0) {
        n->in = arena_array(&perm, (size_t)nin, sizeof(Node *));
        memcpy(n->in, in, (size_t)nin * sizeof(Node *));
    }
    g->nodes[g->n++] = n;
    return n;
}

static void shape_error(Loc loc, const char *what, Node *a, Node *b)
{
    char sa[64], sb[64];
    if (b)
        diag_error(loc, "shape mismatch: %s %s %s", shape_str(a->shape, sa, sizeof sa), what,
                   shape_str(b->shape, sb, sizeof sb));
    else
        diag_error(loc, "shape mismatch: %s for %s", shape_str(a->shape, sa, sizeof sa), what);
}

/* Shape of an elementwise binary op, or ndim -1 if they don't broadcast. */
static Shape broadcast(Shape a, Shape b)
{
    if (shape_eq(a, b) || b.ndim == 0 || (shape_is_suffix(b, a) && a.ndim > b.ndim))
        return a;
    if (a.ndim == 0 || shape_is_suffix(a, b))
        return b;
    Shape bad = shape0();
    bad.ndim = -1;
    return bad;
}

/* MATMUL: A viewed as [rows, k] (leading dims flattened), B as [k, n]
 * (or [n, k] with tb); the result keeps A's leading dims. */
static bool infer_matmul(Node *n)
{
    Node *a = n->in[0], *b = n->in[1];
    if (a->shape.ndim < 2 || b->shape.ndim != 2)
        return false;
    int a_last = a->shape.d[a->shape.ndim - 1];
    int b_rows = n->tb ? b->shape.d[1] : b->shape.d[0];
    int b_cols = n->tb ? b->shape.d[0] : b->shape.d[1];
    if (a_last != b_rows)
        return false;
    n->shape = a->shape;
    n->shape.d[n->shape.ndim - 1] = b_cols;
    return true;
}

/* MATMUL with ta: both operands flattened to 2-D over their leading dims:
 * A [R, m], B [R, n] -> [m, n]. Used by autodiff for weight gradients. */
static bool infer_matmul_ta(Node *n)
{
    Node *a = n->in[0], *b = n->in[1];
    if (a->shape.ndim < 2 || b->shape.ndim < 2 || n->tb)
        return false;
    if (a->shape.ndim != b->shape.ndim)
        return false;
    for (int i = 0; i < a->shape.ndim - 1; i++)
        if (a->shape.d[i] != b->shape.d[i])
            return false;
    n->shape = shape2(a->shape.d[a->shape.ndim - 1], b->shape.d[b->shape.ndim - 1]);
    return true;
}

static bool infer(Node *n)
{
    Node **in = n->in;
    switch (n->op) {
    case OP_ONE_HOT:
        if (in[0]->dtype != DT_INT || in[0]->shape.ndim >= MAX_DIMS)
            return false;
        n->shape = in[0]->shape;
        n->shape.d[n->shape.ndim++] = DIM_V;
        return true;
    case OP_MATMUL:
        return n->ta ? infer_matmul_ta(n) : infer_matmul(n);
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
        n->shape = broadcast(in[0]->shape, in[1]->shape);
        return n->shape.ndim >= 0;
    case OP_NEG:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_RELU:
    case OP_EXP:
        n->shape = in[0]->shape;
        return true;
    case OP_TANH_GRAD:
    case OP_SIGMOID_GRAD:
    case OP_RELU_GRAD:
        n->shape = in[0]->shape;
        return shape_eq(in[0]->shape, in[1]->shape);
    case OP_SUM_TO:
        return true; /* shape set by graph_sum_to */
    case OP_DROPOUT:
        n->shape = in[0]->shape;
        return in[0]->dtype == DT_REAL;
    case OP_CONCAT: {
        /* leading dims equal, concrete last dims that add up */
        Shape a = in[0]->shape;
        int last = a.ndim - 1;
        if (n->nin < 1 || a.ndim < 1)
            return false;
        n->shape = a;
        n->shape.d[last] = 0;
        for (int k = 0; k < n->nin; k++) {
            Shape b = in[k]->shape;
            if (b.ndim != a.ndim || b.d[last] <= 0)
                return false;
            for (int i = 0; i < last; i++)
                if (a.d[i] != b.d[i])
                    return false;
            n->shape.d[last] += b.d[last];
        }
        return true;
    }
    case OP_SLICE:
        return true; /* shape set by graph_slice */
    case OP_ROW_SCALE: { /* [..., n], [...] -> [..., n] */
        Shape a = in[0]->shape, s = in[1]->shape;
        n->shape = a;
        if (a.ndim < 1 || s.ndim != a.ndim - 1 || in[0]->dtype != DT_REAL || in[1]->dtype != DT_REAL)
            return false;
        for (int i = 0; i < s.ndim; i++)
            if (a.d[i] != s.d[i])
                return false;
        return true;
    }
    case OP_SOFTMAX_XENT:
        n->shape = shape0();
        return in[1]->dtype == DT_INT && in[0]->shape.ndim == in[1]->shape.ndim + 1;
    case OP_SOFTMAX_XENT_GRAD:
        n->shape = in[0]->shape;
        return in[2]->shape.ndim == 0;
    case OP_GRAD_SCALE:
        n->shape = in[0]->shape;
        return in[1]->shape.ndim == 0;
    case OP_POOL: /* [T,B,n], [T,B] -> [B,n] */
        n->shape = shape2(in[0]->shape.d[1], in[0]->shape.d[2]);
        return in[0]->shape.ndim == 3 && in[1]->shape.ndim == 2 && in[0]->shape.d[0] == in[1]->shape.d[0] &&
               in[0]->shape.d[1] == in[1]->shape.d[1];
    case OP_POOL_GRAD: /* [T,B], [B,n] -> [T,B,n] */
        n->shape = shape3(in[0]->shape.d[0], in[0]->shape.d[1], in[1]->shape.d[1]);
        return in[0]->shape.ndim == 2 && in[1]->shape.ndim == 2 && in[0]->shape.d[1] == in[1]->shape.d[0];
    case OP_SCAN_OUT:
        return true; /* shape set by scan_add_output */
    case OP_FUSED:
    case OP_FUSED_OUT:
        return true; /* made by pass_fuse with their shapes */
    /* seq2seq (issue #4) */
    case OP_SUM_LAST:
        if (in[0]->shape.ndim < 1)
            return false;
        n->shape = in[0]->shape;
        n->shape.ndim--;
        n->shape.d[n->shape.ndim] = 0;
        return true;
    case OP_BCAST_LAST:
    case OP_LEN_MASK:
        return true; /* shape set by graph_bcast_last, by the caller */
    case OP_MASKED_SOFTMAX_T:
        n->shape = in[0]->shape;
        return in[0]->shape.ndim == 2 && in[1]->dtype == DT_INT &&
               shape_eq(in[1]->shape, shape1(in[0]->shape.d[1]));
    case OP_MASKED_SOFTMAX_T_GRAD:
        n->shape = in[0]->shape;
        return shape_eq(in[0]->shape, in[1]->shape);
    case OP_MASKED_XENT:
        n->shape = shape0();
        return in[0]->shape.ndim == 3 && in[1]->dtype == DT_INT && in[2]->dtype == DT_INT &&
               shape_eq(in[1]->shape, shape2(in[0]->shape.d[0], in[0]->shape.d[1])) &&
               shape_eq(in[2]->shape, shape1(in[0]->shape.d[1]));
    case OP_MASKED_XENT_GRAD:
        n->shape = in[0]->shape;
        return in[3]->shape.ndim == 0;
    default:
        DIE("infer: op %s has no shape rule", op_name(n->op));
    }
}

Node *graph_add(Graph *g, Op op, Loc loc, Node **in, int nin)
{
    if (op_arity[op] >= 0 && op_arity[op] != nin)
        DIE("graph_add: %s takes %d inputs, got %d", op_name(op), op_arity[op], nin);
    for (int i = 0; i < nin; i++)
        if (!in[i] || in[i]->graph != g)
            DIE("graph_add: %s input %d is %s", op_name(op), i, in[i] ? "in another graph" : "NULL");
    Node *n = append(g, op, loc, in, nin);
    if (!infer(n)) {
        g->n--; /* drop it: the graph stays well-formed */
        const char *sym = op == OP_MATMUL ? "@" : op == OP_ADD ? "+" : op == OP_SUB ? "-" : op == OP_MUL ? "*" : NULL;
        if (sym && nin == 2)
            shape_error(loc, sym, in[0], in[1]);
        else
            shape_error(loc, op_name(op), in[0], NULL);
        return NULL;
    }
    return n;
}

Node *graph_add1(Graph *g, Op op, Loc loc, Node *a) { return graph_add(g, op, loc, &a, 1); }

Node *graph_add2(Graph *g, Op op, Loc loc, Node *a, Node *b)
{
    Node *in[2] = {a, b};
    return graph_add(g, op, loc, in, 2);
}

Node *graph_leaf(Graph *g, Op op, Loc loc, Shape shape, DType dt, int index)
{
    Node *n = append(g, op, loc, NULL, 0);
    n->shape = shape;
    n->dtype = dt;
    n->index = index;
    return n;
}

Node *graph_const(Graph *g, Loc loc, double value)
{
    Node *n = graph_leaf(g, OP_CONST, loc, shape0(), DT_REAL, 0);
    n->value = value;
    return n;
}

Node *graph_matmul(Graph *g, Loc loc, Node *a, Node *b, bool ta, bool tb)
{
    Node *in[2] = {a, b};
    for (int i = 0; i < 2; i++)
        if (in[i]->graph != g)
            DIE("graph_matmul: input in another graph");
    Node *n = append(g, OP_MATMUL, loc, in, 2);
    n->ta = ta;
    n->tb = tb;
    if (!infer(n)) {
        g->n--;
        shape_error(loc, ta ? "^T @" : tb ? "@ ^T" : "@", a, b);
        return NULL;
    }
    return n;
}

Node *graph_sum_to(Graph *g, Loc loc, Node *a, Shape to)
{
    if (shape_eq(a->shape, to))
        return a;
    if (!shape_is_suffix(to, a->shape))
        DIE("graph_sum_to: target is not a suffix of the input");
    Node *n = append(g, OP_SUM_TO, loc, &a, 1);
    n->shape = to;
    return n;
}

Node *graph_dropout(Graph *g, Loc loc, Node *a, double rate, int site)
{
    Node *n = graph_add1(g, OP_DROPOUT, loc, a);
    if (n) {
        n->value = rate;
        n->index = site;
    }
    return n;
}

Node *graph_slice(Graph *g, Loc loc, Node *a, int offset, int width)
{
    int last = a->shape.ndim - 1;
    if (last < 0 || a->shape.d[last] <= 0 || offset < 0 || width <= 0 || offset + width > a->shape.d[last])
        DIE("graph_slice: columns [%d, %d) are not inside the last axis", offset, offset + width);
    Node *n = append(g, OP_SLICE, loc, &a, 1);
    n->shape = a->shape;
    n->shape.d[last] = width;
    n->index = offset;
    return n;
}

/* a [...] -> [..., width]: each element repeated along a new last axis. */
Node *graph_bcast_last(Graph *g, Loc loc, Node *a, int width)
{
    if (a->shape.ndim >= MAX_DIMS)
        DIE("graph_bcast_last: input has too many dims");
    Node *n = append(g, OP_BCAST_LAST, loc, &a, 1);
    n->shape = a->shape;
    n->shape.d[n->shape.ndim++] = width;
    return n;
}

Node *graph_clone_node(Graph *g, const Node *n, Node **in)
{
    if (n->op == OP_SCAN || n->op == OP_FUSED)
        DIE("graph_clone_node: cannot copy a %s", op_name(n->op));
    for (int i = 0; i < n->nin; i++)
        if (!in[i] || in[i]->graph != g)
            DIE("graph_clone_node: input %d is not a node of the graph", i);
    Node *c = append(g, n->op, n->loc, in, n->nin);
    c->name = n->name;
    c->shape = n->shape;
    c->dtype = n->dtype;
    c->value = n->value;
    c->index = n->index;
    c->ta = n->ta;
    c->tb = n->tb;
    c->text = n->text;
    return c;
}

/* ---- copying a model ---- */

static void copy_nodes(Graph *dst, const Graph *src, Node **map);

/* Scan sn of src as a scan of dst reading `in`; its body copied. */
static Node *copy_scan(Graph *dst, const Node *sn, Node **in)
{
    const Scan *s = sn->scan;
    Node *c = graph_scan(dst, sn->loc, s->name, s->reverse);
    c->name = sn->name;
    c->text = sn->text;
    c->shape = sn->shape;
    c->in = in;
    c->nin = sn->nin;
    Node **bmap = arena_array(&perm, (size_t)s->body->n + 1, sizeof(Node *));
    copy_nodes(c->scan->body, s->body, bmap);
    Scan *cs = c->scan;
    cs->in = arena_array(&perm, (size_t)s->nin + 1, sizeof(ScanIn));
    cs->nin = cs->cap_in = s->nin;
    for (int k = 0; k < s->nin; k++)
        cs->in[k] = (ScanIn){s->in[k].kind, bmap[s->in[k].arg->id],
                             s->in[k].carry_out ? bmap[s->in[k].carry_out->id] : NULL};
    cs->out = arena_array(&perm, (size_t)s->nout + 1, sizeof(ScanOut));
    cs->nout = cs->cap_out = s->nout;
    for (int o = 0; o < s->nout; o++)
        cs->out[o] = (ScanOut){s->out[o].kind, s->out[o].node ? bmap[s->out[o].node->id] : NULL, s->out[o].carry};
    return c;
}

/* src's nodes appended to dst in order; map[i] = the copy of node i. */
static void copy_nodes(Graph *dst, const Graph *src, Node **map)
{
    for (int i = 0; i < src->n; i++) {
        const Node *n = src->nodes[i];
        Node **in = arena_array(&perm, (size_t)n->nin + 1, sizeof(Node *));
        for (int k = 0; k < n->nin; k++)
            in[k] = map[n->in[k]->id];
        if (n->op == OP_FUSED)
            DIE("model_clone: cannot copy a fused loop");
        map[i] = n->op == OP_SCAN ? copy_scan(dst, n, in) : graph_clone_node(dst, n, in);
    }
}

static Node *mapped(Node **map, const Node *n) { return n ? map[n->id] : NULL; }

Model *model_clone(Arena *a, const Model *m)
{
    Model *c = arena_alloc(a, sizeof *c);
    *c = *m;
    c->g = graph_new(a, NULL);
    Node **map = arena_array(&perm, (size_t)m->g->n + 1, sizeof(Node *));
    copy_nodes(c->g, m->g, map);
    c->x = mapped(map, m->x);
    c->y = mapped(map, m->y);
    c->carry_scale = mapped(map, m->carry_scale);
    for (int k = 0; k < m->nstates; k++) {
        c->state_in[k] = mapped(map, m->state_in[k]);
        c->state_out[k] = mapped(map, m->state_out[k]);
        c->dstate[k] = mapped(map, m->dstate[k]);
    }
    c->loss = mapped(map, m->loss);
    c->logits = mapped(map, m->logits);
    c->pool = mapped(map, m->pool);
    c->mask = mapped(map, m->mask);
    c->top_final[0] = mapped(map, m->top_final[0]);
    c->top_final[1] = mapped(map, m->top_final[1]);
    c->dec_in = mapped(map, m->dec_in);
    c->src_len = mapped(map, m->src_len);
    c->tgt_len = mapped(map, m->tgt_len);
    c->attention = mapped(map, m->attention);
    c->decoder = mapped(map, m->decoder);
    if (m->grads) {
        c->grads = arena_array(a, (size_t)m->nparams + 1, sizeof(Node *));
        for (int i = 0; i < m->nparams; i++)
            c->grads[i] = mapped(map, m->grads[i]);
    }
    if (m->roots) {
        c->roots = arena_array(a, (size_t)m->nroots + 1, sizeof(Node *));
        for (int i = 0; i < m->nroots; i++)
            c->roots[i] = mapped(map, m->roots[i]);
    }
    c->memplan = NULL;
    c->stored = false;
    graph_verify(c->g);
    return c;
}

/* ---- scans ---- */

Node *graph_scan(Graph *g, Loc loc, const char *name, bool reverse)
{
    Node *n = append(g, OP_SCAN, loc, NULL, 0);
    n->scan = arena_alloc(&perm, sizeof *n->scan);
    n->scan->body = graph_new(&perm, g);
    n->scan->reverse = reverse;
    n->scan->name = name;
    n->shape = shape0();
    return n;
}

/* An input may come after the scan while it is being built (autodiff adds
 * inputs lazily); the builder then moves the scan to the end with
 * graph_move_to_end before anything uses it. graph_verify checks order. */
Node *scan_add_input(Node *scan, ScanInKind kind, Node *outer)
{
    Scan *s = scan->scan;
    int cap = s->cap_in;
    s->in = arena_grow(&perm, s->in, &s->cap_in, s->nin + 1, sizeof(ScanIn));
    Node **nin = arena_array(&perm, (size_t)scan->nin + 1, sizeof(Node *));
    if (scan->nin)
        memcpy(nin, scan->in, (size_t)scan->nin * sizeof(Node *));
    nin[scan->nin++] = outer;
    scan->in = nin;
    (void)cap;
    Shape sh = outer->shape;
    if (kind == SCAN_SEQ) {
        if (sh.ndim < 1 || sh.d[0] != DIM_T)
            DIE("scan_add_input: sequence input must be [T,...]");
        for (int i = 1; i < sh.ndim; i++)
            sh.d[i - 1] = sh.d[i];
        sh.ndim--;
    }
    Node *arg = graph_leaf(s->body, OP_ARG, outer->loc, sh, outer->dtype, s->nin);
    arg->name = outer->name;
    s->in[s->nin++] = (ScanIn){kind, arg, NULL};
    return arg;
}

void scan_set_carry_out(Node *scan, int input, Node *body_node)
{
    ScanIn *in = &scan->scan->in[input];
    if (in->kind != SCAN_CARRY || !shape_eq(in->arg->shape, body_node->shape))
        DIE("scan_set_carry_out: input %d is not a carry of that shape", input);
    in->carry_out = body_node;
}

Node *scan_add_output(Node *scan, ScanOutKind kind, Node *body_node, int carry)
{
    Scan *s = scan->scan;
    Graph *g = scan->graph;
    s->out = arena_grow(&perm, s->out, &s->cap_out, s->nout + 1, sizeof(ScanOut));
    s->out[s->nout] = (ScanOut){kind, body_node, carry};
    Node *o = append(g, OP_SCAN_OUT, scan->loc, &scan, 1);
    o->index = s->nout++;
    o->dtype = DT_REAL;
    if (kind == SCAN_FINAL) {
        o->shape = s->in[carry].arg->shape;
        o->name = s->in[carry].carry_out ? s->in[carry].carry_out->name : s->in[carry].arg->name;
    } else {
        o->shape = body_node->shape;
        o->name = body_node->name;
        if (kind == SCAN_STACK) {
            if (o->shape.ndim >= MAX_DIMS)
                DIE("scan_add_output: stacked output has too many dims");
            for (int i = o->shape.ndim; i > 0; i--)
                o->shape.d[i] = o->shape.d[i - 1];
            o->shape.d[0] = DIM_T;
            o->shape.ndim++;
        }
    }
    return o;
}

void graph_move_to_end(Graph *g, Node *n)
{
    if (n->graph != g)
        DIE("graph_move_to_end: node of another graph");
    for (int i = n->id; i + 1 < g->n; i++) {
        g->nodes[i] = g->nodes[i + 1];
        g->nodes[i]->id = i;
    }
    g->nodes[g->n - 1] = n;
    n->id = g->n - 1;
}

Node *scan_output_node(const Node *scan, int index)
{
    const Graph *g = scan->graph;
    for (int i = scan->id + 1; i < g->n; i++)
        if (g->nodes[i]->op == OP_SCAN_OUT && g->nodes[i]->in[0] == scan && g->nodes[i]->index == index)
            return g->nodes[i];
    return NULL;
}

const Node *scan_stack_output(const Node *scan, const Node *n)
{
    const Graph *g = scan->graph;
    for (int i = scan->id + 1; i < g->n; i++) {
        const Node *o = g->nodes[i];
        if (o->op == OP_SCAN_OUT && o->in[0] == scan && scan->scan->out[o->index].kind == SCAN_STACK &&
            scan->scan->out[o->index].node == n)
            return o;
    }
    return NULL;
}

const Node *scan_of_body(const Graph *g)
{
    for (int i = 0; g->parent && i < g->parent->n; i++)
        if (g->parent->nodes[i]->op == OP_SCAN && g->parent->nodes[i]->scan->body == g)
            return g->parent->nodes[i];
    return NULL;
}

/* ---- dump ---- */

static const char *scan_in_kind[] = {"seq", "inv", "carry"};
static const char *scan_out_kind[] = {"stack", "final", "sum"};

static void dump_node(FILE *f, const Node *n, int indent)
{
    char sb[64];
    fprintf(f, "%*s%%%d = %s", indent, "", n->id, op_name(n->op));
    if (n->op == OP_MATMUL && (n->ta || n->tb))
        fprintf(f, "%s%s", n->ta ? ".ta" : "", n->tb ? ".tb" : "");
    for (int i = 0; i < n->nin; i++)
        fprintf(f, "%s%%%d", i ? ", " : " ", n->in[i]->id);
    if (n->op == OP_CONST)
        fprintf(f, " %.17g", n->value);
    if (n->op == OP_DROPOUT)
        fprintf(f, " rate %.17g site %d", n->value, n->index);
    if (n->op == OP_SLICE)
        fprintf(f, " from %d", n->index);
    if (n->op == OP_PARAM || n->op == OP_INPUT || n->op == OP_ARG || n->op == OP_SCAN_OUT || n->op == OP_FUSED_OUT)
        fprintf(f, " #%d", n->index);
    fprintf(f, " : %s%s", n->dtype == DT_INT ? "int" : "", shape_str(n->shape, sb, sizeof sb));
    if (n->name)
        fprintf(f, "  ; %s", n->name);
    if (n->loc.line)
        fprintf(f, "%s line %d:%d", n->name ? "," : "  ;", n->loc.line, n->loc.col);
    fputc('\n', f);
    if (n->op != OP_SCAN)
        return;
    const Scan *s = n->scan;
    fprintf(f, "%*s  %s body (%s):\n", indent, "", s->reverse ? "reverse" : "forward", s->name ? s->name : "");
    for (int i = 0; i < s->nin; i++) {
        fprintf(f, "%*s    in %d: %s %%%d -> arg %%%d", indent, "", i, scan_in_kind[s->in[i].kind], n->in[i]->id,
                s->in[i].arg->id);
        if (s->in[i].carry_out)
            fprintf(f, ", next %%%d", s->in[i].carry_out->id);
        fputc('\n', f);
    }
    for (int i = 0; i < s->nout; i++) {
        if (s->out[i].kind == SCAN_FINAL)
            fprintf(f, "%*s    out %d: final of in %d\n", indent, "", i, s->out[i].carry);
        else
            fprintf(f, "%*s    out %d: %s %%%d\n", indent, "", i, scan_out_kind[s->out[i].kind], s->out[i].node->id);
    }
    graph_dump(f, s->body, indent + 4);
}

void graph_dump(FILE *f, const Graph *g, int indent)
{
    for (int i = 0; i < g->n; i++)
        dump_node(f, g->nodes[i], indent);
}

void model_dump(FILE *f, const Model *m)
{
    char sb[64];
    fprintf(f, "model %s  ; %s\n", m->spec->model, m->spec->path);
    for (int i = 0; i < m->nparams; i++)
        fprintf(f, "param #%d %s %s\n", i, m->params[i].name, shape_str(m->params[i].shape, sb, sizeof sb));
    fprintf(f, "state_size %d\n", m->state_size);
    graph_dump(f, m->g, 0);
    if (m->loss)
        fprintf(f, "loss %%%d logits %%%d forward_nodes %d\n", m->loss->id, m->logits->id, m->nforward);
    else if (m->logits)
        fprintf(f, "logits %%%d forward_nodes %d\n", m->logits->id, m->nforward);
    else
        fprintf(f, "forward_nodes %d\n", m->nforward);
    if (!m->loss && m->attention)
        fprintf(f, "attention %%%d\n", m->attention->id);
    for (int k = 0; k < m->nstates; k++)
        if (m->state_out[k])
            fprintf(f, "state %d in %%%d out %%%d\n", k, m->state_in[k]->id, m->state_out[k]->id);
        else
            fprintf(f, "state %d in %%%d\n", k, m->state_in[k]->id);
    for (int i = 0; i < m->nroots; i++)
        fprintf(f, "out %d %%%d\n", i, m->roots[i]->id);
    if (m->grads) {
        for (int i = 0; i < m->nparams; i++)
            if (m->grads[i])
                fprintf(f, "grad %s %%%d\n", m->params[i].name, m->grads[i]->id);
        for (int k = 0; k < m->nstates; k++)
            if (m->dstate[k])
                fprintf(f, "dstate %d %%%d\n", k, m->dstate[k]->id);
    }
}

/* ---- Graphviz DOT (rnnc -d dot:STAGE) ----
 * One cluster per graph; a node is "PREFIX_ID" (a body's prefix extends
 * its scan's), labelled as its dump line is; a scan's or fused loop's body
 * is a dashed cluster, fed by dashed edges from the outer inputs to the
 * body's args and feeding its outputs (scan_out, fused_out) the same way;
 * a carry's next value goes back to its arg (dotted). Deterministic: the
 * order is the graph's. */

static void dot_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fputc('\\', f);
        fputc(c < 0x20 || c == 0x7F ? '?' : c, f);
    }
}

static void dot_node(FILE *f, const Node *n, const char *pre)
{
    char sb[64], buf[64];
    fprintf(f, "  %s_%d [label=\"%%%d %s", pre, n->id, n->id, op_name(n->op));
    if (n->op == OP_MATMUL && (n->ta || n->tb))
        fprintf(f, "%s%s", n->ta ? ".ta" : "", n->tb ? ".tb" : "");
    if (n->op == OP_CONST)
        fprintf(f, " %.17g", n->value);
    if (n->op == OP_DROPOUT)
        fprintf(f, " rate %.17g", n->value);
    if (n->op == OP_SLICE)
        fprintf(f, " from %d", n->index);
    if (n->op == OP_PARAM || n->op == OP_INPUT || n->op == OP_ARG || n->op == OP_SCAN_OUT || n->op == OP_FUSED_OUT)
        fprintf(f, " #%d", n->index);
    snprintf(buf, sizeof buf, "%s%s", n->dtype == DT_INT ? "int" : "", shape_str(n->shape, sb, sizeof sb));
    fputs("\\n", f);
    dot_text(f, buf);
    if (n->name) {
        fputs("\\n", f);
        dot_text(f, n->name);
    }
    fputs("\"", f);
    if (n->op == OP_PARAM || n->op == OP_INPUT)
        fputs(" shape=ellipse", f);
    else if (n->op == OP_SCAN || n->op == OP_FUSED)
        fputs(" shape=box3d", f);
    fputs("];\n", f);
}

static void dot_graph(FILE *f, const Graph *g, const char *pre);

/* The body of scan or fused node n, and the edges across its border. */
static void dot_body(FILE *f, const Node *n, const char *pre)
{
    const Scan *s = n->scan;
    char inner[256];
    snprintf(inner, sizeof inner, "%s_%d", pre, n->id);
    fprintf(f, "subgraph cluster_%s {\nstyle=dashed;\nlabel=\"%%%d ", inner, n->id);
    if (n->op == OP_SCAN)
        fprintf(f, "%s ", s->reverse ? "reverse" : "forward");
    fputs("body", f);
    if (s->name) {
        fputc(' ', f);
        dot_text(f, s->name);
    }
    fputs("\";\n", f);
    dot_graph(f, s->body, inner);
    fputs("}\n", f);
    for (int i = 0; i < s->nin; i++) {
        fprintf(f, "  %s_%d -> %s_%d [style=dashed];\n", pre, n->in[i]->id, inner, s->in[i].arg->id);
        if (n->op == OP_SCAN && s->in[i].carry_out)
            fprintf(f, "  %s_%d -> %s_%d [style=dotted constraint=false];\n", inner, s->in[i].carry_out->id,
                    inner, s->in[i].arg->id);
    }
    const Graph *g = n->graph;
    for (int i = n->id + 1; i < g->n; i++) {
        const Node *o = g->nodes[i];
        if ((o->op != OP_SCAN_OUT && o->op != OP_FUSED_OUT) || o->in[0] != n || o->index >= s->nout)
            continue;
        const ScanOut *so = &s->out[o->index];
        const Node *from = n->op == OP_SCAN && so->kind == SCAN_FINAL ? s->in[so->carry].carry_out : so->node;
        if (from)
            fprintf(f, "  %s_%d -> %s_%d [style=dashed];\n", inner, from->id, pre, o->id);
    }
}

static void dot_graph(FILE *f, const Graph *g, const char *pre)
{
    for (int i = 0; i < g->n; i++)
        dot_node(f, g->nodes[i], pre);
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        for (int k = 0; k < n->nin; k++)
            fprintf(f, "  %s_%d -> %s_%d;\n", pre, n->in[k]->id, pre, n->id);
        if ((n->op == OP_SCAN || n->op == OP_FUSED) && n->scan)
            dot_body(f, n, pre);
    }
}

void model_dot(FILE *f, const Model *m, int index, const char *role)
{
    char pre[32];
    snprintf(pre, sizeof pre, "g%d", index);
    fprintf(f, "subgraph cluster_%s {\nlabel=\"", pre);
    dot_text(f, m->spec->model);
    if (role) {
        fputs(": ", f);
        dot_text(f, role);
    }
    fputs("\";\n", f);
    dot_graph(f, m->g, pre);
    fputs("}\n", f);
}

/* ---- verify ---- */

void graph_verify(const Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (n->id != i || n->graph != g)
            DIE("verify: node %d has id %d", i, n->id);
        if (op_arity[n->op] >= 0 && n->nin != op_arity[n->op])
            DIE("verify: %%%d %s has %d inputs", i, op_name(n->op), n->nin);
        for (int k = 0; k < n->nin; k++)
            if (n->in[k]->graph != g || n->in[k]->id >= i)
                DIE("verify: %%%d input %d (%%%d) is not before it in the same graph", i, k, n->in[k]->id);
        if (n->op == OP_SCAN) {
            const Scan *s = n->scan;
            if (s->nin != n->nin)
                DIE("verify: scan %%%d has %d inputs but %d records", i, n->nin, s->nin);
            for (int k = 0; k < s->nin; k++)
                if (s->in[k].kind == SCAN_CARRY && !s->in[k].carry_out)
                    DIE("verify: scan %%%d carry %d has no next value", i, k);
            graph_verify(s->body);
        }
        if (n->op == OP_FUSED) {
            if (!n->scan || n->scan->nin != n->nin)
                DIE("verify: fused %%%d has malformed records", i);
            graph_verify(n->scan->body);
        }
        if (n->op == OP_FUSED_OUT && (n->in[0]->op != OP_FUSED || n->index >= n->in[0]->scan->nout))
            DIE("verify: fused_out %%%d does not name an output of a fused node", i);
    }
}
