/*
 * emit_infer.c: graph -> standalone C (`rnnc SPEC --inference --weights
 * CKPT`, infer.h).
 *
 * The file needs a C compiler and libm only: no librnnrt, no BLAS, no
 * heap, no stdio. The model's forward step is printed from the lowered
 * graph (the spec's own equations, so user-written cells work as the
 * library's do) for one token: B = 1 and T = 1, so every shape is a
 * constant and a scan runs its body once, its carried values read from
 * the caller's state. Only the nodes the logits and the next state need
 * are printed (the loss is not), each as a plain loop into an array of its
 * own in the caller's struct; a matrix product is a sum of weight rows
 * scaled by the input (contiguous rows, which compilers vectorize), and a
 * product with a one-hot input is the weight row of the token.
 *
 * Each block's arithmetic is the trainer's: the same ops in the same
 * order, tanh and sigmoid by the same float approximations as the
 * trainer's fused loops (rnnrt.h's rnnrt_tanh_fast, rnnrt_sigmoid_fast,
 * printed here as functions of the file: it cannot include rnnrt.h), exp
 * by expf. Only the order of the sums of a matrix product differs from
 * BLAS's, so the logits agree to float rounding (tests/infer.cmake).
 *
 * Around the step: the weights as `static const float` arrays, the
 * vocabulary as a string table, and generation as the trainer's `sample`
 * does it (rnnrt_sample.c): greedy, or a draw from softmax(logits / T)
 * over the non-special tokens with the runtime's RNG (xoshiro256**
 * seeded by splitmix64, rnnrt_rng.c), so a seed gives the trainer's text.
 */
#include "infer_emit.h"

#include <ctype.h>
#include <string.h>


enum { FIRST_TOKEN = 4 }; /* ids below are <unk> <pad> <bos> <eos> */

/* ---- which nodes the step needs (node->aux: 0 dead, 1 live, 2 + k
 * buffer k) ---- */

/* n through the ops that are the identity when generating. */
static const Node *resolve(const Node *n)
{
    for (;;) {
        if (n->op == OP_DROPOUT || n->op == OP_GRAD_SCALE)
            n = n->in[0];
        else if (n->op == OP_ARG)
            n = scan_of_body(n->graph)->in[n->index];
        else
            return n;
    }
}

/* A product of a one-hot input by a weight: the weight's row. */
static bool onehot_matmul(const Node *n)
{
    return n->op == OP_MATMUL && !n->ta && !n->tb && resolve(n->in[0])->op == OP_ONE_HOT;
}

static void mark(Node *n)
{
    if (n->aux)
        return;
    n->aux = 1;
    switch (n->op) {
    case OP_ARG: {
        Node *sn = (Node *)scan_of_body(n->graph);
        mark(sn);
        mark(sn->in[n->index]);
        break;
    }
    case OP_SCAN_OUT: {
        Node *sn = n->in[0];
        const ScanOut *o = &sn->scan->out[n->index];
        mark(sn);
        mark(o->kind == SCAN_FINAL ? sn->scan->in[o->carry].carry_out : o->node);
        break;
    }
    case OP_SCAN:
        break; /* its body's nodes are marked through its outputs */
    case OP_GRAD_SCALE:
    case OP_DROPOUT:
        mark(n->in[0]);
        break;
    case OP_MATMUL:
        if (onehot_matmul(n)) {
            mark((Node *)resolve(n->in[0])->in[0]); /* the ids */
            mark(n->in[1]);
            break;
        }
        /* fall through */
    default:
        for (int k = 0; k < n->nin; k++)
            mark(n->in[k]);
    }
}

static void mark_model(const Model *m)
{
    mark(m->logits);
    for (int k = 0; k < m->nstates; k++)
        mark(m->state_out[k]);
}

static bool op_supported(const Node *n)
{
    switch (n->op) {
    case OP_PARAM: case OP_CONST: case OP_ZEROS: case OP_ARG: case OP_SCAN: case OP_SCAN_OUT:
    case OP_ONE_HOT: case OP_GATHER: case OP_ADD: case OP_SUB: case OP_MUL: case OP_NEG:
    case OP_SIGMOID: case OP_TANH: case OP_RELU: case OP_EXP: case OP_DROPOUT: case OP_GRAD_SCALE:
    case OP_CONCAT: case OP_SLICE: case OP_ROW_SCALE: case OP_SUM_TO:
        return true;
    case OP_INPUT:
        return n->index == INPUT_X || (n->index >= INPUT_STATE && n->index < INPUT_STATE + MAX_STATES);
    case OP_MATMUL:
        return !n->ta;
    default:
        return false;
    }
}

static bool check_graph(const Graph *g)
{
    bool ok = true;
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (!n->aux)
            continue;
        if (!op_supported(n)) {
            diag_error(n->loc, "--inference cannot run '%s'%s%s%s yet", op_name(n->op), n->text ? " (" : "",
                       n->text ? n->text : "", n->text ? ")" : "");
            ok = false;
        }
        if (n->op == OP_SCAN)
            ok &= check_graph(n->scan->body);
    }
    return ok;
}

bool infer_supported(const Model *m)
{
    mark_model(m);
    return check_graph(m->g);
}

/* ---- sizes and names ---- */

static size_t numel(const Infer *I, Shape s)
{
    size_t n = 0;
    for (int k = 0; k < s.ndim; k++) /* seq2seq: the target vocabulary */
        s.d[k] = s.d[k] == DIM_VT ? I->Vt : s.d[k];
    if (!shape_numel(s, 1, I->T ? I->T : 1, I->w->V, I->w->nlabels, &n))
        DIE("emit_infer: shape overflow");
    return n;
}

static size_t last_dim(const Infer *I, Shape s)
{
    if (s.ndim == 0)
        return 1;
    Shape l = shape1(s.d[s.ndim - 1]);
    return numel(I, l);
}

/* A C identifier from a spec name (they are identifiers; be safe). */
static const char *ident(const char *s)
{
    char *o = arena_strdup(&perm, s && *s ? s : "v");
    for (char *p = o; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            *p = '_';
    if (isdigit((unsigned char)o[0]))
        o = arena_printf(&perm, "v%s", o);
    return o;
}

static int state_offset(const Model *m, int k)
{
    int off = 0;
    for (int j = 0; j < k; j++)
        off += m->state_in[j]->shape.d[m->state_in[j]->shape.ndim - 1];
    return off;
}

/* The row of a weight the token selects (a one-hot product, an embedding):
 * read in place. The ids are the step's token, checked in range. */
static const Node *token_row(const Node *n)
{
    const Node *ids = onehot_matmul(n) ? resolve(n->in[0])->in[0] : n->op == OP_GATHER ? n->in[1] : NULL;
    if (!ids)
        return NULL;
    ids = resolve(ids);
    /* (a seq2seq decoder's token is the previous one, INPUT_DEC_IN) */
    return ids->op == OP_INPUT && (ids->index == INPUT_X || ids->index == INPUT_DEC_IN) ? ids : NULL;
}

/* A slice of one row: read in place. */
static bool slice_row(const Node *n)
{
    if (n->op != OP_SLICE)
        return false;
    for (int k = 0; k < n->shape.ndim - 1; k++)
        if (n->shape.d[k] != DIM_B && n->shape.d[k] != DIM_T && n->shape.d[k] != 1)
            return false;
    return true;
}

/* The node whose values x is: through the identities, scan arguments and
 * scan outputs (the body's value: T = 1). */
static const Node *follow(const Node *x)
{
    for (;;) {
        if (x->op == OP_SCAN_OUT) {
            const Node *sn = x->in[0];
            const ScanOut *o = &sn->scan->out[x->index];
            x = o->kind == SCAN_FINAL ? sn->scan->in[o->carry].carry_out : o->node;
        } else if (x->op == OP_ARG || x->op == OP_DROPOUT || x->op == OP_GRAD_SCALE)
            x = resolve(x);
        else
            return x;
    }
}

static bool is_alias(const Node *n)
{
    if (token_row(n) || slice_row(n))
        return true;
    switch (n->op) {
    case OP_PARAM: case OP_INPUT: case OP_ARG: case OP_SCAN: case OP_SCAN_OUT: case OP_DROPOUT:
    case OP_GRAD_SCALE: case OP_CONST:
        return true;
    default:
        return false;
    }
}

static void add_buffers(Infer *I, const Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        if (n->aux && n->op == OP_SCAN)
            add_buffers(I, n->scan->body);
        if (!n->aux || is_alias(n))
            continue;
        if (I->nbuf == I->capbuf) {
            int cap = I->capbuf ? 2 * I->capbuf : 32;
            Buf *b = arena_alloc(&perm, (size_t)cap * sizeof *b);
            if (I->nbuf)
                memcpy(b, I->buf, (size_t)I->nbuf * sizeof *b);
            I->buf = b, I->capbuf = cap;
        }
        Buf *b = &I->buf[I->nbuf];
        b->name = arena_printf(&perm, "%s_%d", ident(n->name ? n->name : op_name(n->op)), I->nbuf);
        b->size = numel(I, n->shape);
        b->node = n;
        b->def = b->last = I->nbuf;
        b->slot = -1;
        for (int k = 0; k < I->m->nstates; k++) /* computed straight into the next state */
            if (follow(I->m->state_out[k]) == n && !b->expr)
                b->expr = arena_printf(&perm, "(next + %d)", state_offset(I->m, k));
        n->aux = 2 + I->nbuf++;
    }
}

/* The buffer whose values x reads, or NULL (weights, the state, the token). */
static Buf *base(Infer *I, const Node *x)
{
    for (x = follow(x); slice_row(x); x = follow(x->in[0]))
        ;
    return x->aux >= 2 && !token_row(x) ? &I->buf[x->aux - 2] : NULL;
}

/* Shares arrays between buffers (buffer k is written at program point k,
 * in the order the step runs): each takes a free slot at least as large,
 * or a new one; a slot is free again after its buffer's last read. The
 * logits (read after the step) and values the end of the step copies keep
 * theirs. */
static void plan_slots(Infer *I)
{
    enum { END = 1 << 30 };
    for (int k = 0; k < I->nbuf; k++) {
        const Node *n = I->buf[k].node;
        for (int j = 0; j < n->nin; j++) {
            Buf *b = base(I, n->in[j]);
            if (b && b->last < k)
                b->last = k;
        }
    }
    Buf *lb = I->m->logits ? base(I, I->m->logits) : NULL;
    if (lb)
        lb->last = END;
    for (int k = 0; k < I->nkeep; k++) {
        Buf *b = base(I, I->keep[k]);
        if (b)
            b->last = END;
    }
    for (int k = 0; k < I->m->nstates; k++) {
        Buf *b = base(I, I->m->state_out[k]);
        if (b && !b->expr)
            b->last = END;
    }
    I->slot_size = arena_alloc(&perm, (size_t)(I->nbuf + 1) * sizeof *I->slot_size);
    int *owner = arena_alloc(&perm, (size_t)(I->nbuf + 1) * sizeof *owner); /* buffer in the slot, or -1 */
    for (int k = 0; k < I->nbuf; k++) {
        Buf *b = &I->buf[k];
        if (b->expr)
            continue;
        int pick = -1;
        for (int sl = 0; sl < I->nslots; sl++) {
            bool free = owner[sl] < 0 || I->buf[owner[sl]].last < k;
            if (free && I->slot_size[sl] >= b->size && (pick < 0 || I->slot_size[sl] < I->slot_size[pick]))
                pick = sl;
        }
        if (pick < 0) {
            pick = I->nslots++;
            I->slot_size[pick] = b->size;
        }
        owner[pick] = k;
        b->slot = pick;
    }
}

static const char *flit(double v)
{
    return arena_printf(&perm, "(float)%.17g", v);
}

/* The C expression of n's values: a pointer (const for weights and ids). */
static const char *ref(Infer *I, const Node *n)
{
    switch (n->op) {
    case OP_PARAM:
        return arena_printf(&perm, "%s_%s", I->P, ident(I->m->params[n->index].name));
    case OP_INPUT:
        if (I->input_ref && I->input_ref(I, n))
            return I->input_ref(I, n);
        if (n->index == INPUT_X)
            return "x";
        return arena_printf(&perm, "(state + %d)", state_offset(I->m, n->index - INPUT_STATE));
    case OP_CONST:
        return arena_printf(&perm, "((const float[]){%s})", flit(n->value));
    case OP_ARG:
    case OP_DROPOUT:
    case OP_GRAD_SCALE:
        return ref(I, resolve(n));
    case OP_SCAN_OUT: {
        const Node *sn = n->in[0];
        const ScanOut *o = &sn->scan->out[n->index];
        return ref(I, o->kind == SCAN_FINAL ? sn->scan->in[o->carry].carry_out : o->node);
    }
    case OP_SLICE:
        if (slice_row(n))
            return arena_printf(&perm, "(%s + %d)", ref(I, n->in[0]), n->index);
        break;
    default:
        break;
    }
    if (token_row(n)) {
        const Node *w = n->op == OP_GATHER ? n->in[0] : n->in[1];
        size_t width = last_dim(I, n->shape);
        return arena_printf(&perm, "(%s + (size_t)x[0] * %zu)", ref(I, w), width);
    }
    if (n->aux < 2)
        DIE("emit_infer: %s has no buffer", op_name(n->op));
    const Buf *b = &I->buf[n->aux - 2];
    return b->expr ? b->expr : b->name;
}

/* ---- printing ---- */

static void vout(Infer *I, int indent, const char *fmt, va_list ap)
{
    for (int i = 0; i < indent; i++)
        fputs("    ", I->f);
    vfprintf(I->f, fmt, ap);
}

static void out(Infer *I, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void out(Infer *I, int indent, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vout(I, indent, fmt, ap);
    va_end(ap);
}

/* Text for inside a comment: no end of comment, one line. */
static const char *ctext(const char *s)
{
    if (!s)
        return "";
    char *o = arena_alloc(&perm, 2 * strlen(s) + 1), *p = o;
    for (; *s; s++) {
        if (*s == '\n' || *s == '\r')
            *p++ = ' ';
        else if (*s == '*' && s[1] == '/') {
            *p++ = '*';
            *p++ = ' ';
        } else
            *p++ = *s;
    }
    *p = '\0';
    return o;
}

/* out[i] of an elementwise op: operand x at index i. */
static const char *operand(Infer *I, const Node *x, size_t n)
{
    if (x->op == OP_CONST)
        return flit(x->value);
    size_t nx = numel(I, x->shape);
    if (nx == n)
        return arena_printf(&perm, "%s[i]", ref(I, x));
    if (nx == 1)
        return arena_printf(&perm, "%s[0]", ref(I, x));
    return arena_printf(&perm, "%s[i %% %zu]", ref(I, x), nx);
}

static const char *elementwise(Infer *I, const Node *n, size_t N)
{
    const char *a = operand(I, n->in[0], N), *b = n->nin > 1 ? operand(I, n->in[1], N) : NULL;
    switch (n->op) {
    case OP_ADD: return arena_printf(&perm, "%s + %s", a, b);
    case OP_SUB: return arena_printf(&perm, "%s - %s", a, b);
    case OP_MUL: return arena_printf(&perm, "%s * %s", a, b);
    case OP_NEG: return arena_printf(&perm, "-%s", a);
    case OP_SIGMOID: return arena_printf(&perm, "%s_sigmoid(%s)", I->P, a);
    case OP_TANH: return arena_printf(&perm, "%s_tanh(%s)", I->P, a);
    case OP_RELU: return arena_printf(&perm, "%s > 0 ? %s : 0", a, a);
    case OP_EXP: return arena_printf(&perm, "expf(%s)", a);
    default: DIE("emit_infer: elementwise %s", op_name(n->op));
    }
}

/* A loop over rows r < M, or one block for one row (the generation step's
 * usual case): the row's offset in a [M, width] value is then 0. */
static void rows_open(Infer *I, size_t M)
{
    if (M == 1)
        out(I, 1, "{\n");
    else
        out(I, 1, "for (size_t r = 0; r < %zu; r++) {\n", M);
}

static const char *row_at(size_t M, size_t width)
{
    return M == 1 ? "" : arena_printf(&perm, " + r * %zu", width);
}

static const char *row_index(size_t M)
{
    return M == 1 ? "0" : "r";
}

static void emit_matmul(Infer *I, const Node *n, const char *o)
{
    const Node *a = n->in[0], *b = n->in[1];
    size_t K = last_dim(I, a->shape), M = numel(I, a->shape) / K, N = last_dim(I, n->shape);
    if (onehot_matmul(n)) {
        const Node *ids = resolve(a)->in[0];
        size_t R = numel(I, b->shape) / N;
        out(I, 1, "/* x is one-hot: the token's row of %s */\n", ref(I, b));
        rows_open(I, M);
        out(I, 2, "const int32_t tok = %s[%s];\n", ref(I, ids), row_index(M));
        out(I, 2, "float *y = %s%s;\n", o, row_at(M, N));
        out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", N);
        out(I, 3, "y[j] = tok >= 0 && (size_t)tok < %zu ? %s[(size_t)tok * %zu + j] : 0;\n", R, ref(I, b), N);
        out(I, 1, "}\n");
        return;
    }
    const char *A = ref(I, a), *B = ref(I, b);
    rows_open(I, M);
    out(I, 2, "float *restrict y = %s%s;\n", o, row_at(M, N));
    out(I, 2, "const float *x_r = %s%s;\n", A, row_at(M, K));
    if (n->tb) { /* B is [N, K]: a dot product per output */
        out(I, 2, "for (size_t j = 0; j < %zu; j++) {\n", N);
        out(I, 3, "float acc = 0;\n");
        out(I, 3, "for (size_t k = 0; k < %zu; k++)\n", K);
        out(I, 4, "acc += x_r[k] * %s[j * %zu + k];\n", B, K);
        out(I, 3, "y[j] = acc;\n");
        out(I, 2, "}\n");
    } else { /* B is [K, N]: the sum of its rows scaled by x, four rows a pass
              * over y (the first sets y: no zero-fill, which compilers may
              * turn into a call to memset) */
        out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", N);
        out(I, 3, "y[j] = x_r[0] * %s[j];\n", B);
        size_t k = 1;
        if (K >= 5) {
            out(I, 2, "for (size_t k = 1; k + 4 <= %zu; k += 4) {\n", K);
            out(I, 3, "const float x0 = x_r[k], x1 = x_r[k + 1], x2 = x_r[k + 2], x3 = x_r[k + 3];\n");
            out(I, 3, "const float *restrict r0 = %s + k * %zu;\n", B, N);
            out(I, 3, "for (size_t j = 0; j < %zu; j++)\n", N);
            out(I, 4, "y[j] += x0 * r0[j] + x1 * r0[j + %zu] + x2 * r0[j + %zu] + x3 * r0[j + %zu];\n", N, 2 * N,
                3 * N);
            out(I, 2, "}\n");
            k = 1 + (K - 1) / 4 * 4;
        }
        if (k < K) {
            out(I, 2, "for (size_t k = %zu; k < %zu; k++) {\n", k, K);
            out(I, 3, "const float xk = x_r[k];\n");
            out(I, 3, "const float *restrict row = %s + k * %zu;\n", B, N);
            out(I, 3, "for (size_t j = 0; j < %zu; j++)\n", N);
            out(I, 4, "y[j] += xk * row[j];\n");
            out(I, 2, "}\n");
        }
    }
    out(I, 1, "}\n");
}

static void emit_node(Infer *I, const Node *n)
{
    if (is_alias(n))
        return;
    size_t N = numel(I, n->shape);
    const char *o = ref(I, n);
    out(I, 1, "/* %s [%zu]%s%s */\n", n->name ? n->name : op_name(n->op), N, n->text ? ": " : "", ctext(n->text));
    switch (n->op) {
    case OP_ZEROS:
        out(I, 1, "for (size_t i = 0; i < %zu; i++)\n", N);
        out(I, 2, "%s[i] = 0;\n", o);
        break;
    case OP_ONE_HOT: {
        size_t W = last_dim(I, n->shape);
        rows_open(I, N / W);
        out(I, 2, "const int32_t tok = %s[%s];\n", ref(I, n->in[0]), row_index(N / W));
        out(I, 2, "float *y = %s%s;\n", o, row_at(N / W, W));
        out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", W);
        out(I, 3, "y[j] = (size_t)tok == j ? 1.0f : 0.0f;\n");
        out(I, 1, "}\n");
        break;
    }
    case OP_GATHER: {
        size_t W = last_dim(I, n->shape), R = numel(I, n->in[0]->shape) / W;
        rows_open(I, N / W);
        out(I, 2, "const int32_t tok = %s[%s];\n", ref(I, n->in[1]), row_index(N / W));
        out(I, 2, "float *y = %s%s;\n", o, row_at(N / W, W));
        out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", W);
        out(I, 3, "y[j] = tok >= 0 && (size_t)tok < %zu ? %s[(size_t)tok * %zu + j] : 0;\n", R, ref(I, n->in[0]),
            W);
        out(I, 1, "}\n");
        break;
    }
    case OP_MATMUL:
        emit_matmul(I, n, o);
        break;
    case OP_CONCAT: {
        size_t W = last_dim(I, n->shape), rows = N / W, at = 0;
        for (int k = 0; k < n->nin; k++) {
            size_t w = last_dim(I, n->in[k]->shape);
            out(I, 1, "for (size_t r = 0; r < %zu; r++)\n", rows);
            out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", w);
            out(I, 3, "%s[r * %zu + %zu + j] = %s[r * %zu + j];\n", o, W, at, ref(I, n->in[k]), w);
            at += w;
        }
        break;
    }
    case OP_SLICE: {
        size_t W = last_dim(I, n->shape), WA = last_dim(I, n->in[0]->shape);
        out(I, 1, "for (size_t r = 0; r < %zu; r++)\n", N / W);
        out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", W);
        out(I, 3, "%s[r * %zu + j] = %s[r * %zu + %d + j];\n", o, W, ref(I, n->in[0]), WA, n->index);
        break;
    }
    case OP_ROW_SCALE: {
        size_t W = last_dim(I, n->shape);
        out(I, 1, "for (size_t i = 0; i < %zu; i++)\n", N);
        out(I, 2, "%s[i] = %s[i] * %s[i / %zu];\n", o, ref(I, n->in[0]), ref(I, n->in[1]), W);
        break;
    }
    case OP_SUM_TO: {
        size_t NA = numel(I, n->in[0]->shape);
        out(I, 1, "for (size_t i = 0; i < %zu; i++)\n", N);
        out(I, 2, "%s[i] = 0;\n", o);
        out(I, 1, "for (size_t i = 0; i < %zu; i++)\n", NA);
        out(I, 2, "%s[i %% %zu] += %s[i];\n", o, N, ref(I, n->in[0]));
        break;
    }
    default:
        if (I->extra_node && I->extra_node(I, n, N, o))
            break;
        out(I, 1, "for (size_t i = 0; i < %zu; i++)\n", N);
        out(I, 2, "%s[i] = %s;\n", o, elementwise(I, n, N));
    }
}

static void note_ops(Infer *I, const Graph *g)
{
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i]->aux) {
            I->uses[g->nodes[i]->op] = true;
            if (g->nodes[i]->op == OP_SCAN)
                note_ops(I, g->nodes[i]->scan->body);
        }
}

static void emit_graph(Infer *I, const Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (!n->aux)
            continue;
        if (n->op == OP_SCAN) {
            out(I, 1, "/* scan %s: its body once (one token) */\n", n->scan->name ? n->scan->name : "");
            emit_graph(I, n->scan->body);
        } else
            emit_node(I, n);
    }
}

/* ---- the data ---- */

static void emit_float(Infer *I, float v, bool last)
{
    char b[64];
    snprintf(b, sizeof b, "%.9g", (double)v);
    bool point = strpbrk(b, ".eEn") != NULL;
    fprintf(I->f, "%s%sf%s", b, point ? "" : ".0", last ? "" : ",");
}

static void emit_weights(Infer *I)
{
    const Model *m = I->m;
    for (int i = 0; i < m->nparams; i++) {
        const float *p = I->w->params + I->w->offset[i];
        size_t n = I->w->numel[i];
        char sb[64];
        Shape s = m->params[i].shape;
        for (int k = 0; k < s.ndim; k++)
            if (s.d[k] < 0)
                s.d[k] = s.d[k] == DIM_L ? I->w->nlabels : s.d[k] == DIM_VT ? I->Vt : I->w->V;
        out(I, 0, "/* %s %s, %s */\n", m->params[i].name, shape_str(s, sb, sizeof sb),
            m->params[i].loc.line ? arena_printf(&perm, "%s:%d", ctext(m->spec->name), m->params[i].loc.line)
                                  : ctext(m->spec->name));
        out(I, 0, "static const float %s_%s[%zu] = {\n", I->P, ident(m->params[i].name), n);
        for (size_t j = 0; j < n; j++) {
            if (j % 8 == 0)
                fputs("    ", I->f);
            emit_float(I, p[j], j + 1 == n);
            fputs(j % 8 == 7 || j + 1 == n ? "\n" : " ", I->f);
        }
        out(I, 0, "};\n\n");
    }
}

static void emit_cstring(Infer *I, const char *s)
{
    fputc('"', I->f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(I->f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f || *p == '?')
            fprintf(I->f, "\\%03o", *p); /* octal: at most 3 digits, never runs on */
        else
            fputc(*p, I->f);
    }
    fputc('"', I->f);
}

static void emit_vocab(Infer *I)
{
    const InferWeights *w = I->w;
    out(I, 0, "/* The vocabulary: token id -> its text (ids 0-3: <unk> <pad> <bos> <eos>). */\n");
    out(I, 0, "static const char *const %s_vocab[%d] = {\n", I->P, w->ntokens);
    for (int i = 0; i < w->ntokens; i++) {
        fputs("    ", I->f);
        emit_cstring(I, w->tokens[i]);
        fputs(i + 1 < w->ntokens ? ",\n" : "\n", I->f);
    }
    out(I, 0, "};\n\n");
}

/* ---- the file ---- */

static size_t weight_bytes(const Infer *I)
{
    size_t b = I->w->total * sizeof(float);
    for (int i = 0; i < I->w->ntokens; i++)
        b += strlen(I->w->tokens[i]) + 1 + sizeof(void *);
    return b;
}

static size_t slots_total(const Infer *I)
{
    size_t n = 0;
    for (int k = 0; k < I->nslots; k++)
        n += I->slot_size[k];
    return n;
}

/* Where slot k starts in s->w. */
static size_t slot_offset(const Infer *I, int k)
{
    size_t n = 0;
    for (int j = 0; j < k; j++)
        n += I->slot_size[j];
    return n;
}

static void emit_header(Infer *I, size_t scratch)
{
    const Model *m = I->m;
    const Spec *s = m->spec;
    const char *P = I->P;
    size_t ram = (size_t)m->state_size * 2 * 4 + scratch * 4 + 4 * 8 + 8;
    char *U = arena_strdup(&perm, P);
    for (char *p = U; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    out(I, 0, "/*\n");
    out(I, 0, " * generated by rnnc %s --inference from %s and the checkpoint %s; do not edit.\n", RNNC_VERSION,
        ctext(s->name), ctext(I->w->path));
    out(I, 0, " *\n");
    bool tagger = I->w->nlabels > 0;
    out(I, 0, " * Model '%s': a %s %s, cell '%s', hidden %d, %d layer(s), %s input;\n", s->model,
        s->tokens == TOK_CHAR ? "character" : "word", tagger ? "tagger (a label per token)" : "language model",
        s->cell.name, s->hidden, s->layers, s->input == INPUT_EMBED ? "embedded" : "one-hot");
    if (tagger)
        out(I, 0, " * %d tokens, %d labels. Standalone: needs a C11 compiler (and libm for expf) only; no heap,\n",
            I->w->ntokens, I->w->nlabels);
    else
        out(I, 0, " * %d tokens. Standalone: needs a C11 compiler and libm (expf, exp) only; no heap,\n",
            I->w->ntokens);
    out(I, 0, " * no stdio, no global state (everything lives in the caller's %s_infer).\n", P);
    out(I, 0, " *\n");
    out(I, 0, " * Memory:\n");
    out(I, 0, " *   weights and vocabulary (read only): %zu bytes (%zu floats)\n", weight_bytes(I), I->w->total);
    out(I, 0, " *   %s_infer (RAM, the caller's): about %zu bytes = carried state 2 x %d floats\n", P, ram,
        m->state_size);
    out(I, 0, " *     + scratch %zu floats (the step's values, logits included)%s;\n", scratch,
        tagger ? "" : " + the RNG's 32 bytes");
    out(I, 0, " *     exactly sizeof(%s_infer) (%s_RAM_BYTES)\n", P, U);
    out(I, 0, " *   stack: a few scalars; nothing grows with the input.\n");
    out(I, 0, " *\n");
    out(I, 0, " * Use (or #define RNNC_INFER_DECLARE_ONLY and #include this file for the declarations):\n");
    out(I, 0, " *   %s_infer s;\n", P);
    out(I, 0, " *   %s_reset(&s);                       zero state\n", P);
    if (tagger) {
        out(I, 0, " *   const float *logits = %s_step(&s, id);   one token -> %s_LOGITS label logits\n", P, U);
        out(I, 0, " *   int labels[4];\n");
        out(I, 0, " *   %s_tag(&s, \"abc \", 4, labels);   from a reset, a label per character\n", P);
        out(I, 0, " *   const char *name = %s_label_name(labels[0]);\n", P);
    } else {
        out(I, 0, " *   %s_feed(&s, \"the \", 4);             a prefix (%s)\n", P,
            s->tokens == TOK_CHAR ? "its characters" : "its space-separated words; unknown words are <unk>");
        out(I, 0, " *   const float *logits = %s_step(&s, id);   one token -> %s_LOGITS logits\n", P, U);
        out(I, 0, " *   %s_seed(&s, 42);\n", P);
        out(I, 0, " *   int id = %s_sample(&s, 0.8);      draw the next token (temperature 0: greedy) and feed it\n",
            P);
        out(I, 0, " *   const char *text = %s_token(id);\n", P);
    }
    out(I, 0, " *\n");
    out(I, 0, " * Build: cc -std=c11 -O2 -c %s_infer.c (also -ffreestanding); link with -lm.\n", P);
    out(I, 0, " */\n");
    out(I, 0, "#ifndef %s_INFER_H\n#define %s_INFER_H\n\n", U, U);
    out(I, 0, "#include <stddef.h>\n#include <stdint.h>\n\n");
    out(I, 0, "#define %s_VOCAB %d /* tokens, ids 0 .. %d; 0-3 are <unk> <pad> <bos> <eos> */\n", U, I->w->ntokens,
        I->w->ntokens - 1);
    if (tagger)
        out(I, 0, "#define %s_LABELS %d\n#define %s_LOGITS %s_LABELS /* floats a step returns */\n", U,
            I->w->nlabels, U, U);
    else
        out(I, 0, "#define %s_LOGITS %s_VOCAB /* floats a step returns */\n", U, U);
    out(I, 0, "#define %s_STATE_FLOATS %d /* the carried state:", U, m->state_size);
    for (int k = 0; k < m->nstates; k++)
        out(I, 0, "%s %s [%d] at %d", k ? "," : "", m->state_in[k]->name ? m->state_in[k]->name : "state",
            m->state_in[k]->shape.d[m->state_in[k]->shape.ndim - 1], state_offset(m, k));
    out(I, 0, " */\n");
    out(I, 0, "#define %s_WEIGHT_BYTES %zu /* weights and vocabulary */\n", U, weight_bytes(I));
    out(I, 0, "#define %s_RAM_BYTES sizeof(%s_infer)\n\n", U, P);
}

static void emit_struct(Infer *I)
{
    const char *P = I->P;
    out(I, 0, "/* Everything that changes: one per generation in progress. */\n");
    out(I, 0, "typedef struct {\n");
    out(I, 1, "float state[2][%d]; /* the carried state: now (state[cur]) and next */\n", I->m->state_size);
    out(I, 1, "float w[%zu]; /* the step's values (%d arrays, shared by values whose\n", slots_total(I), I->nslots);
    out(I, 1, "              * lifetimes do not overlap) */\n");
    bool tagger = I->w->nlabels > 0;
    if (!tagger)
        out(I, 1, "uint64_t rng[4]; /* xoshiro256** */\n");
    out(I, 1, "int cur;         /* which state is now's */\n");
    out(I, 1, "int fed;         /* tokens fed since the last reset (0: the state is zeros) */\n");
    out(I, 0, "} %s_infer;\n\n", P);
    out(I, 0, "void %s_reset(%s_infer *s);\n", P, P);
    out(I, 0, "/* Feeds token id (0 <= id < VOCAB) and returns the logits of %s\n"
              " * (LOGITS floats in s, valid until the next step), or NULL for an id out\n"
              " * of range (nothing is fed). */\n", tagger ? "its label" : "the next token");
    out(I, 0, "const float *%s_step(%s_infer *s, int id);\n", P, P);
    out(I, 0, "/* The logits after the last step (NULL before any). */\n");
    out(I, 0, "const float *%s_logits(const %s_infer *s);\n", P, P);
    out(I, 0, "/* The id of the token with this text (len bytes), or -1. */\n");
    out(I, 0, "int %s_token_id(const char *text, size_t len);\n", P);
    out(I, 0, "/* The text of token id (NUL-terminated), or NULL out of range. */\n");
    out(I, 0, "const char *%s_token(int id);\n", P);
    if (tagger) {
        out(I, 0, "/* The most likely label after the last step (-1 before any). */\n");
        out(I, 0, "int %s_label(const %s_infer *s);\n", P, P);
        out(I, 0, "/* The name of label k, or NULL out of range. */\n");
        out(I, 0, "const char *%s_label_name(int k);\n", P);
        out(I, 0, "/* Resets, then labels text: labels[i] for its i-th character (a character\n"
                  " * the vocabulary lacks is read as <unk>). Returns the characters labelled. */\n");
        out(I, 0, "long %s_tag(%s_infer *s, const char *text, size_t len, int *labels);\n\n", P, P);
        out(I, 0, "#endif\n\n");
        return;
    }
    out(I, 0, "/* Feeds a prefix as the trainer's `sample --prefix` does. Returns the tokens\n"
              " * fed, or -1 - (byte offset) of the first text it cannot read, having fed\n"
              " * what came before it. */\n");
    out(I, 0, "long %s_feed(%s_infer *s, const char *text, size_t len);\n", P, P);
    out(I, 0, "void %s_seed(%s_infer *s, uint64_t seed);\n", P, P);
    out(I, 0, "/* The next token from the last logits, as the trainer's `sample`: the most\n"
              " * likely one when temperature <= 0, else a draw from softmax(logits /\n"
              " * temperature), never a special token; -1 before anything was fed. */\n");
    out(I, 0, "int %s_pick(%s_infer *s, double temperature);\n", P, P);
    out(I, 0, "/* pick, then feed what was picked; returns its id (-1 as pick). */\n");
    out(I, 0, "int %s_sample(%s_infer *s, double temperature);\n\n", P, P);
    out(I, 0, "#endif\n\n");
}

/* Only those the step calls: an unused static function is a warning. */
static void emit_math(Infer *I)
{
    const char *P = I->P;
    if (!I->uses[OP_TANH] && !I->uses[OP_SIGMOID])
        return;
    out(I, 0, "/* The trainer's float approximations (runtime/rnnrt.h: rnnrt_exp_fast,\n"
              " * rnnrt_tanh_fast, rnnrt_sigmoid_fast; the same operations in the same order,\n"
              " * so the same values): 2^k p(r) (Cephes expf), Cephes tanhf. k is read from\n"
              " * the bits of t rather than computed as t - 1.5 * 2^23 (the same value) so that\n"
              " * it is right where float arithmetic is done in a wider format (x87). */\n");
    out(I, 0, "static inline float %s_exp_fast(float x)\n{\n", P);
    out(I, 1, "union { float f; int32_t i; } u;\n");
    out(I, 1, "x = x < -87.0f ? -87.0f : x;\n");
    out(I, 1, "x = x > 88.0f ? 88.0f : x;\n");
    out(I, 1, "float t = x * 1.44269504088896341f + 12582912.0f;\n");
    out(I, 1, "u.f = t;\n");
    out(I, 1, "int32_t kbits = u.i; /* 0x4B400000 + k */\n");
    out(I, 1, "float k = (float)(kbits - 0x4B400000); /* = t - 12582912.0f, also where floats have\n"
              "                                        * excess precision (x87: t unrounded) */\n");
    out(I, 1, "float r = x - k * 0.693359375f;\n");
    out(I, 1, "r = r + k * 2.12194440e-4f;\n");
    out(I, 1, "float r2 = r * r;\n");
    out(I, 1, "float p = 1.9875691500E-4f;\n");
    out(I, 1, "p = p * r + 1.3981999507E-3f;\n");
    out(I, 1, "p = p * r + 8.3334519073E-3f;\n");
    out(I, 1, "p = p * r + 4.1665795894E-2f;\n");
    out(I, 1, "p = p * r + 1.6666665459E-1f;\n");
    out(I, 1, "p = p * r + 5.0000001201E-1f;\n");
    out(I, 1, "p = p * r2 + r + 1.0f;\n");
    out(I, 1, "u.i = (kbits - 0x4B400000 + 127) * (1 << 23);\n");
    out(I, 1, "return p * u.f;\n}\n\n");
    if (I->uses[OP_SIGMOID])
        out(I, 0, "static inline float %s_sigmoid(float x) { return 1.0f / (1.0f + %s_exp_fast(-x)); }\n\n", P, P);
    if (!I->uses[OP_TANH])
        return;
    out(I, 0, "static inline float %s_tanh(float v)\n{\n", P);
    out(I, 1, "float a = v < 0 ? -v : v;\n");
    out(I, 1, "a = a > 9.0f ? 9.0f : a;\n");
    out(I, 1, "float z = a * a;\n");
    out(I, 1, "float q = -5.70498872745E-3f;\n");
    out(I, 1, "q = q * z + 2.06390887954E-2f;\n");
    out(I, 1, "q = q * z - 5.37397155531E-2f;\n");
    out(I, 1, "q = q * z + 1.33314422036E-1f;\n");
    out(I, 1, "q = q * z - 3.33332819422E-1f;\n");
    out(I, 1, "float small = a + a * z * q;\n");
    out(I, 1, "float big = 1.0f - 2.0f / (%s_exp_fast(2.0f * a) + 1.0f);\n", P);
    out(I, 1, "float t = a < 0.625f ? small : big;\n");
    out(I, 1, "return v < 0 ? -t : t;\n}\n\n");
}

static void emit_step(Infer *I)
{
    const Model *m = I->m;
    const char *P = I->P;
    out(I, 0, "/* One token through the network (the forward graph of %s for B = 1, T = 1). */\n",
        ctext(m->spec->name));
    out(I, 0, "const float *%s_step(%s_infer *s, int id)\n{\n", P, P);
    out(I, 1, "if (id < 0 || id >= %d)\n", I->w->ntokens);
    out(I, 2, "return NULL;\n");
    out(I, 1, "const int32_t x[1] = {(int32_t)id};\n");
    out(I, 1, "/* the state now (zeros after a reset), and where the next is computed */\n");
    out(I, 1, "const float *state = s->fed ? s->state[s->cur] : %s_zeros;\n", P);
    out(I, 1, "float *next = s->state[s->cur ^ 1];\n");
    out(I, 1, "(void)x, (void)state;\n");
    out(I, 1, "/* the values, in s->w */\n");
    for (int k = 0; k < I->nbuf; k++) {
        const Buf *b = &I->buf[k];
        if (!b->expr)
            out(I, 1, "float *const %s = s->w + %zu;%s%s%s\n", b->name, slot_offset(I, b->slot),
                b->node->text ? " /* " : "", b->node->text ? ctext(b->node->text) : "", b->node->text ? " */" : "");
    }
    emit_graph(I, m->g);
    for (int k = 0; k < m->nstates; k++) {
        const Node *so = m->state_out[k];
        const char *r = ref(I, so), *want = arena_printf(&perm, "(next + %d)", state_offset(m, k));
        if (strcmp(r, want) == 0)
            continue;
        out(I, 1, "/* state %d is not computed in place */\n", k);
        out(I, 1, "for (size_t i = 0; i < %zu; i++)\n", numel(I, so->shape));
        out(I, 2, "%s[i] = %s[i];\n", want, r);
    }
    out(I, 1, "s->cur ^= 1;\n");
    out(I, 1, "s->fed++;\n");
    out(I, 1, "return %s;\n}\n\n", ref(I, m->logits));
    out(I, 0, "const float *%s_logits(const %s_infer *s)\n{\n", P, P);
    /* the logits' buffer, read through a const struct */
    const Buf *lb = base(I, m->logits);
    if (!lb || lb->expr)
        DIE("emit_infer: the logits are not a value of their own");
    out(I, 1, "return s->fed ? s->w + %zu : NULL;\n}\n\n", slot_offset(I, lb->slot));
}

static void emit_api_tagger(Infer *I)
{
    const char *P = I->P;
    int L = I->w->nlabels;
    out(I, 0, "static const char *const %s_labels[%d] = {\n", P, L);
    for (int i = 0; i < L; i++) {
        fputs("    ", I->f);
        emit_cstring(I, I->w->labels[i]);
        fputs(i + 1 < L ? ",\n" : "\n", I->f);
    }
    out(I, 0, "};\n\n");
    out(I, 0, "const char *%s_label_name(int k)\n{\n", P);
    out(I, 1, "return k >= 0 && k < %d ? %s_labels[k] : NULL;\n}\n\n", L, P);
    out(I, 0, "int %s_label(const %s_infer *s)\n{\n", P, P);
    out(I, 1, "const float *z = %s_logits(s);\n", P);
    out(I, 1, "if (!z)\n");
    out(I, 2, "return -1;\n");
    out(I, 1, "int best = 0;\n");
    out(I, 1, "for (int k = 1; k < %d; k++)\n", L);
    out(I, 2, "if (z[k] > z[best])\n");
    out(I, 3, "best = k;\n");
    out(I, 1, "return best;\n}\n\n");
    out(I, 0, "long %s_tag(%s_infer *s, const char *text, size_t len, int *labels)\n{\n", P, P);
    out(I, 1, "long n = 0;\n");
    out(I, 1, "%s_reset(s);\n", P);
    out(I, 1, "for (size_t i = 0; i < len; n++) {\n");
    out(I, 2, "const unsigned char lead = (unsigned char)text[i];\n");
    out(I, 2, "size_t k = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;\n");
    out(I, 2, "int id = k <= len - i ? %s_token_id(text + i, k) : -1;\n", P);
    out(I, 2, "%s_step(s, id < %d ? 0 : id);\n", P, FIRST_TOKEN);
    out(I, 2, "labels[n] = %s_label(s);\n", P);
    out(I, 2, "i += k <= len - i ? k : len - i;\n");
    out(I, 1, "}\n");
    out(I, 1, "return n;\n}\n");
}

static void emit_api(Infer *I)
{
    const char *P = I->P;
    bool words = I->m->spec->tokens != TOK_CHAR;
    out(I, 0, "void %s_reset(%s_infer *s)\n{\n", P, P);
    out(I, 1, "s->cur = 0;\n");
    out(I, 1, "s->fed = 0; /* the next step reads zeros */\n}\n\n");
    out(I, 0, "const char *%s_token(int id)\n{\n", P);
    out(I, 1, "return id >= 0 && id < %d ? %s_vocab[id] : NULL;\n}\n\n", I->w->ntokens, P);
    out(I, 0, "int %s_token_id(const char *text, size_t len)\n{\n", P);
    out(I, 1, "for (int id = 0; id < %d; id++) {\n", I->w->ntokens);
    out(I, 2, "const char *t = %s_vocab[id];\n", P);
    out(I, 2, "size_t k = 0;\n");
    out(I, 2, "while (k < len && t[k] && t[k] == text[k])\n");
    out(I, 3, "k++;\n");
    out(I, 2, "if (k == len && !t[k])\n");
    out(I, 3, "return id;\n");
    out(I, 1, "}\n");
    out(I, 1, "return -1;\n}\n\n");
    if (I->w->nlabels) {
        emit_api_tagger(I);
        return;
    }
    out(I, 0, "long %s_feed(%s_infer *s, const char *text, size_t len)\n{\n", P, P);
    out(I, 1, "long fed = 0;\n");
    out(I, 1, "size_t i = 0;\n");
    out(I, 1, "while (i < len) {\n");
    if (words) {
        out(I, 2, "/* words: split at spaces; a word the vocabulary lacks is <unk> (the\n"
                  " * trainer also lowercases and splits punctuation: do that first) */\n");
        out(I, 2, "if (text[i] == ' ' || text[i] == '\\t' || text[i] == '\\n') {\n");
        out(I, 3, "i++;\n");
        out(I, 3, "continue;\n");
        out(I, 2, "}\n");
        out(I, 2, "size_t n = 0;\n");
        out(I, 2, "while (i + n < len && text[i + n] != ' ' && text[i + n] != '\\t' && text[i + n] != '\\n')\n");
        out(I, 3, "n++;\n");
        out(I, 2, "int id = %s_token_id(text + i, n);\n", P);
        out(I, 2, "if (id < %d)\n", FIRST_TOKEN);
        out(I, 3, "id = 0;\n");
    } else {
        out(I, 2, "/* characters: one UTF-8 sequence each, as rnnrt_utf8_len */\n");
        out(I, 2, "const unsigned char lead = (unsigned char)text[i];\n");
        out(I, 2, "size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;\n");
        out(I, 2, "int id = n <= len - i ? %s_token_id(text + i, n) : -1;\n", P);
        out(I, 2, "if (id < %d)\n", FIRST_TOKEN);
        out(I, 3, "return -1 - (long)i;\n");
    }
    out(I, 2, "%s_step(s, id);\n", P);
    out(I, 2, "fed++;\n");
    out(I, 2, "i += n;\n");
    out(I, 1, "}\n");
    out(I, 1, "return fed;\n}\n\n");
    /* the RNG: rnnrt_rng.c's */
    out(I, 0, "/* The trainer's RNG (runtime/base/rnnrt_rng.c): xoshiro256**, its state\n"
              " * filled from the seed by splitmix64; uniform: the top 53 bits. */\n");
    out(I, 0, "void %s_seed(%s_infer *s, uint64_t seed)\n{\n", P, P);
    out(I, 1, "uint64_t x = seed;\n");
    out(I, 1, "for (int i = 0; i < 4; i++) {\n");
    out(I, 2, "uint64_t z = (x += UINT64_C(0x9e3779b97f4a7c15));\n");
    out(I, 2, "z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);\n");
    out(I, 2, "z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);\n");
    out(I, 2, "s->rng[i] = z ^ (z >> 31);\n");
    out(I, 1, "}\n}\n\n");
    out(I, 0, "static uint64_t %s_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }\n\n", P);
    out(I, 0, "static double %s_uniform(%s_infer *s)\n{\n", P, P);
    out(I, 1, "uint64_t *r = s->rng;\n");
    out(I, 1, "uint64_t v = %s_rotl(r[1] * 5, 7) * 9, t = r[1] << 17;\n", P);
    out(I, 1, "r[2] ^= r[0];\n");
    out(I, 1, "r[3] ^= r[1];\n");
    out(I, 1, "r[1] ^= r[2];\n");
    out(I, 1, "r[0] ^= r[3];\n");
    out(I, 1, "r[2] ^= t;\n");
    out(I, 1, "r[3] = %s_rotl(r[3], 45);\n", P);
    out(I, 1, "return (double)(v >> 11) * 0x1.0p-53;\n}\n\n");
    out(I, 0, "double exp(double);\n\n");
    out(I, 0, "int %s_pick(%s_infer *s, double temperature)\n{\n", P, P);
    out(I, 1, "const float *z = %s_logits(s);\n", P);
    out(I, 1, "if (!z)\n");
    out(I, 2, "return -1;\n");
    out(I, 1, "int best = %d;\n", FIRST_TOKEN);
    out(I, 1, "for (int v = %d; v < %d; v++)\n", FIRST_TOKEN + 1, I->w->ntokens);
    out(I, 2, "if (z[v] > z[best])\n");
    out(I, 3, "best = v;\n");
    out(I, 1, "if (!(temperature > 0))\n");
    out(I, 2, "return best;\n");
    out(I, 1, "/* as rnnrt_gen_pick: the exponentials in double, summed, then walked */\n");
    out(I, 1, "double mx = z[best], sum = 0;\n");
    out(I, 1, "for (int v = %d; v < %d; v++)\n", FIRST_TOKEN, I->w->ntokens);
    out(I, 2, "sum += exp(((double)z[v] - mx) / temperature);\n");
    out(I, 1, "double u = %s_uniform(s) * sum;\n", P);
    out(I, 1, "for (int v = %d; v < %d; v++) {\n", FIRST_TOKEN, I->w->ntokens);
    out(I, 2, "u -= exp(((double)z[v] - mx) / temperature);\n");
    out(I, 2, "if (u < 0)\n");
    out(I, 3, "return v;\n");
    out(I, 1, "}\n");
    out(I, 1, "return best; /* rounding left u >= 0 */\n}\n\n");
    out(I, 0, "int %s_sample(%s_infer *s, double temperature)\n{\n", P, P);
    out(I, 1, "int id = %s_pick(s, temperature);\n", P);
    out(I, 1, "if (id >= 0)\n");
    out(I, 2, "%s_step(s, id);\n", P);
    out(I, 1, "return id;\n}\n");
}

bool emit_infer_c(FILE *f, const Model *m, const InferWeights *w)
{
    if (!infer_supported(m))
        return false;
    Infer I = {.f = f, .m = m, .w = w, .P = m->spec->model};
    add_buffers(&I, m->g);
    note_ops(&I, m->g);
    plan_slots(&I);
    emit_header(&I, slots_total(&I));
    emit_struct(&I);
    out(&I, 0, "#ifndef RNNC_INFER_DECLARE_ONLY\n\n");
    out(&I, 0, "float expf(float);\n\n");
    out(&I, 0, "/* the state after a reset */\nstatic const float %s_zeros[%d] = {0};\n\n", I.P, m->state_size);
    emit_weights(&I);
    emit_vocab(&I);
    emit_math(&I);
    emit_step(&I);
    emit_api(&I);
    out(&I, 0, "\n#endif /* RNNC_INFER_DECLARE_ONLY */\n");
    return true;
}

/* ---- for emit_infer_s2s.c (infer_emit.h) ---- */

void infer_mark(Node *n) { mark(n); }
bool infer_op_supported(const Node *n) { return op_supported(n); }
size_t infer_numel(const Infer *I, Shape s) { return numel(I, s); }
size_t infer_last_dim(const Infer *I, Shape s) { return last_dim(I, s); }
int infer_state_offset(const Model *m, int k) { return state_offset(m, k); }
void infer_add_buffers(Infer *I, const Graph *g) { add_buffers(I, g); }
Buf *infer_base(Infer *I, const Node *x) { return base(I, x); }
void infer_plan_slots(Infer *I) { plan_slots(I); }
size_t infer_slots_total(const Infer *I) { return slots_total(I); }
size_t infer_slot_offset(const Infer *I, int k) { return slot_offset(I, k); }
const char *infer_ref(Infer *I, const Node *n) { return ref(I, n); }
const char *infer_ctext(const char *s) { return ctext(s); }
void infer_note_ops(Infer *I, const Graph *g) { note_ops(I, g); }
void infer_emit_graph(Infer *I, const Graph *g) { emit_graph(I, g); }
void infer_emit_weights(Infer *I) { emit_weights(I); }
void infer_emit_cstring(Infer *I, const char *s) { emit_cstring(I, s); }
void infer_emit_math(Infer *I) { emit_math(I); }
void infer_out(Infer *I, int indent, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vout(I, indent, fmt, ap);
    va_end(ap);
}
