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
 * trainer's fused loops (runtime/rnnrt_fastmath.h, which rnnrt.h includes;
 * its text is printed into the file, which includes nothing of the
 * runtime), exp by expf. Only the order of the sums of a matrix product differs from
 * BLAS's, so the logits agree to float rounding (tests/infer.cmake).
 *
 * A classifier and a bidirectional model read the whole sequence before
 * they answer: their file runs n <= T tokens at once (<name>_run, T the
 * checkpoint's time steps), each scan a loop over the steps (a reverse one
 * backwards), its carried values in arrays of their own, every value of
 * the n steps in the caller's struct (no sharing: loops read values across
 * iterations), the trainer's valid-step mask all ones and the mean's
 * weights 1/n, which is what the trainer computes for an unpadded row.
 *
 * Around the step: the weights as `static const float` arrays (or read at
 * run time: emit_infer_load.c), the
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
        return n->index == INPUT_X || n->index == INPUT_POOL || n->index == INPUT_MASK ||
               (n->index >= INPUT_STATE && n->index < INPUT_STATE + MAX_STATES);
    case OP_POOL: /* a classifier's head (seq), seq2seq's attention context */
        return true;
    case OP_MATMUL:
        return !n->ta;
    default:
        return false;
    }
}

/* Whether every marked node of g (and of its scan bodies) passes ok; each
 * one that does not is an error at its spec line, naming what (" in a
 * seq2seq model" or ""). Shared by the seq2seq emitter. */
bool infer_check_graph(const Graph *g, bool (*ok_op)(const Node *), const char *what)
{
    bool ok = true;
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (!n->aux)
            continue;
        if (!ok_op(n)) {
            diag_error(n->loc, "--inference cannot run '%s'%s%s%s%s yet", op_name(n->op), n->text ? " (" : "",
                       n->text ? n->text : "", n->text ? ")" : "", what);
            ok = false;
        }
        if (n->op == OP_SCAN)
            ok &= infer_check_graph(n->scan->body, ok_op, what);
    }
    return ok;
}

bool infer_supported(const Model *m)
{
    mark_model(m);
    return infer_check_graph(m->g, op_supported, "");
}

/* ---- sizes and names ---- */

static size_t numel(const Infer *I, Shape s)
{
    size_t n = 0;
    for (int k = 0; k < s.ndim; k++) /* seq2seq: the target vocabulary */
        s.d[k] = s.d[k] == DIM_VT ? I->Vt : s.d[k];
    if (!shape_numel(s, 1, I->seq ? I->w->T : I->T ? I->T : 1, I->w->V, I->w->nlabels, &n))
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
static const Node *token_row(const Infer *I, const Node *n)
{
    if (I->seq && n->graph == I->m->g)
        return NULL; /* T rows: a value of its own */
    const Node *ids = onehot_matmul(n) ? resolve(n->in[0])->in[0] : n->op == OP_GATHER ? n->in[1] : NULL;
    if (!ids)
        return NULL;
    ids = resolve(ids);
    /* (a seq2seq decoder's token is the previous one, INPUT_DEC_IN) */
    return ids->op == OP_INPUT && (ids->index == INPUT_X || ids->index == INPUT_DEC_IN) ? ids : NULL;
}

/* A slice of one row: read in place. */
static bool slice_row(const Infer *I, const Node *n)
{
    if (n->op != OP_SLICE)
        return false;
    for (int k = 0; I->seq && k < n->shape.ndim - 1; k++)
        if (n->shape.d[k] == DIM_T)
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

static bool is_alias(const Infer *I, const Node *n)
{
    if (token_row(I, n) || slice_row(I, n))
        return true;
    if (I->seq && n->op == OP_SCAN_OUT) /* a stack: T rows of its own; a final state: its carry */
        return n->in[0]->scan->out[n->index].kind != SCAN_STACK;
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
        if (!n->aux || is_alias(I, n))
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
        for (int k = 0; k < I->m->nstates && !I->seq; k++) /* computed straight into the next state */
            if (follow(I->m->state_out[k]) == n && !b->expr)
                b->expr = arena_printf(&perm, "(next + %d)", state_offset(I->m, k));
        n->aux = 2 + I->nbuf++;
    }
}

/* The buffer whose values x reads, or NULL (weights, the state, the token). */
static Buf *base(Infer *I, const Node *x)
{
    for (x = follow(x); slice_row(I, x); x = follow(x->in[0]))
        ;
    return x->aux >= 2 && !token_row(I, x) ? &I->buf[x->aux - 2] : NULL;
}

/* Shares arrays between buffers (buffer k is written at program point k,
 * in the order the step runs): each takes a free slot at least as large,
 * or a new one; a slot is free again after its buffer's last read. The
 * logits (read after the step) and values the end of the step copies keep
 * theirs. */
static void plan_slots(Infer *I)
{
    enum { END = 1 << 30 };
    if (I->seq) { /* loops read values across iterations: every value its own array */
        I->slot_size = arena_alloc(&perm, (size_t)(I->nbuf + 1) * sizeof *I->slot_size);
        for (int k = 0; k < I->nbuf; k++) {
            I->slot_size[k] = I->buf[k].size;
            I->buf[k].slot = I->nslots++;
        }
        return;
    }
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

/* A scan's carried value (its body ARG): its array in s->carry. */
static const char *carry_ref(const Infer *I, const Node *arg)
{
    for (int k = 0; k < I->ncarry; k++)
        if (I->carry_arg[k] == arg)
            return arena_printf(&perm, "(s->carry + %zu)", I->carry_off[k]);
    DIE("emit_infer: a carried value without an array");
}

/* Gives each carried value of the live scans its array (seq). */
static void plan_carries(Infer *I, const Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (!n->aux || n->op != OP_SCAN)
            continue;
        for (int k = 0; k < n->scan->nin; k++) {
            if (n->scan->in[k].kind != SCAN_CARRY)
                continue;
            const Node **a = arena_alloc(&perm, (size_t)(I->ncarry + 1) * sizeof *a);
            size_t *o = arena_alloc(&perm, (size_t)(I->ncarry + 1) * sizeof *o);
            if (I->ncarry) {
                memcpy(a, I->carry_arg, (size_t)I->ncarry * sizeof *a);
                memcpy(o, I->carry_off, (size_t)I->ncarry * sizeof *o);
            }
            a[I->ncarry] = n->scan->in[k].arg;
            o[I->ncarry] = I->carry_total;
            I->carry_arg = a, I->carry_off = o;
            I->ncarry++;
            I->carry_total += numel(I, n->scan->in[k].arg->shape);
        }
        plan_carries(I, n->scan->body);
    }
}

/* The C expression of n's values: a pointer (const for weights and ids). */
static const char *ref(Infer *I, const Node *n)
{
    switch (n->op) {
    case OP_PARAM:
        if (I->w->runtime) /* the caller's, at its offset in the block */
            return arena_printf(&perm, "(wt + %zu)", I->w->offset[n->index]);
        return arena_printf(&perm, "%s_%s", I->P, ident(I->m->params[n->index].name));
    case OP_INPUT:
        if (I->input_ref && I->input_ref(I, n))
            return I->input_ref(I, n);
        if (n->index == INPUT_X)
            return "x";
        if (n->index == INPUT_MASK) /* B = 1, no padding: every step is valid */
            return arena_printf(&perm, "%s_ones", I->P);
        if (n->index == INPUT_POOL)
            return "s->pool";
        return arena_printf(&perm, "(state + %d)", state_offset(I->m, n->index - INPUT_STATE));
    case OP_CONST:
        return arena_printf(&perm, "((const float[]){%s})", flit(n->value));
    case OP_ARG:
        if (I->seq) { /* step t of a sequence, the carried value, or the invariant */
            const Node *sn = scan_of_body(n->graph);
            const ScanIn *in = &sn->scan->in[n->index];
            if (in->kind == SCAN_CARRY)
                return carry_ref(I, n);
            if (in->kind == SCAN_SEQ)
                return arena_printf(&perm, "(%s + (size_t)t * %zu)", ref(I, sn->in[n->index]), numel(I, n->shape));
        }
        return ref(I, resolve(n));
    case OP_DROPOUT:
    case OP_GRAD_SCALE: /* (seq: through a scan argument as one) */
        return ref(I, n->in[0]);
    case OP_SCAN_OUT: {
        const Node *sn = n->in[0];
        const ScanOut *o = &sn->scan->out[n->index];
        if (I->seq && o->kind == SCAN_FINAL)
            return carry_ref(I, sn->scan->in[o->carry].arg);
        if (!I->seq)
            return ref(I, o->kind == SCAN_FINAL ? sn->scan->in[o->carry].carry_out : o->node);
        break;
    }
    case OP_SLICE:
        if (slice_row(I, n))
            return arena_printf(&perm, "(%s + %d)", ref(I, n->in[0]), n->index);
        break;
    default:
        break;
    }
    if (token_row(I, n)) {
        const Node *w = n->op == OP_GATHER ? n->in[0] : n->in[1];
        size_t width = last_dim(I, n->shape);
        return arena_printf(&perm, "(%s + (size_t)x[%s] * %zu)", ref(I, w), I->seq ? "t" : "0", width);
    }
    if (n->aux < 2)
        DIE("emit_infer: %s (%s) has no buffer", op_name(n->op), n->name ? n->name : "");
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
    case OP_SIGMOID: return arena_printf(&perm, "%s_sigmoid_fast(%s)", I->P, a);
    case OP_TANH: return arena_printf(&perm, "%s_tanh_fast(%s)", I->P, a);
    case OP_RELU: return arena_printf(&perm, "%s > 0 ? %s : 0", a, a);
    case OP_EXP: return arena_printf(&perm, "expf(%s)", a);
    default: DIE("emit_infer: elementwise %s", op_name(n->op));
    }
}

/* A loop over rows r < M, or one block for one row (the generation step's
 * usual case): the row's offset in a [M, width] value is then 0. */
static void rows_open(Infer *I, const char *M)
{
    if (strcmp(M, "1") == 0)
        out(I, 1, "{\n");
    else
        out(I, 1, "for (size_t r = 0; r < %s; r++) {\n", M);
}

static const char *row_at(const char *M, size_t width)
{
    return strcmp(M, "1") == 0 ? "" : arena_printf(&perm, " + r * %zu", width);
}

static const char *row_index(const char *M)
{
    return strcmp(M, "1") == 0 ? "0" : "r";
}

static bool has_T(Shape s)
{
    for (int k = 0; k < s.ndim; k++)
        if (s.d[k] == DIM_T)
            return true;
    return false;
}

/* How many of n's floats a loop visits, as C: a number, or n times one
 * step's when the shape has the time dimension (seq: n tokens at run time).
 * Divided by div (a row's width: the rows). */
static const char *count(Infer *I, Shape s, size_t div)
{
    size_t N = numel(I, s) / div;
    if (I->seq && has_T(s))
        return arena_printf(&perm, "(size_t)n * %zu", N / (size_t)I->w->T);
    return arena_printf(&perm, "%zu", N);
}

static void emit_matmul(Infer *I, const Node *n, const char *o)
{
    const Node *a = n->in[0], *b = n->in[1];
    size_t K = last_dim(I, a->shape), N = last_dim(I, n->shape);
    const char *M = count(I, a->shape, K);
    if (onehot_matmul(n)) {
        const Node *ids = resolve(a)->in[0];
        M = count(I, n->shape, N); /* the ids' rows (a is the one-hot, not a value) */
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
    } else { /* B is [K, N]: the sum of its rows scaled by x, eight rows a
              * pass over y (four when K is small; eight loads and stores
              * of y fewer than four: GRU-256 generation 12% faster at -O2)
              * (the first sets y: no zero-fill, which compilers may turn
              * into a call to memset) */
        out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", N);
        out(I, 3, "y[j] = x_r[0] * %s[j];\n", B);
        size_t k = 1, R = K >= 9 ? 8 : 4;
        if (K >= 1 + R) {
            out(I, 2, "for (size_t k = 1; k + %zu <= %zu; k += %zu) {\n", R, K, R);
            out(I, 3, "const float x0 = x_r[k]");
            for (size_t r = 1; r < R; r++)
                fprintf(I->f, ", x%zu = x_r[k + %zu]", r, r);
            fputs(";\n", I->f);
            out(I, 3, "const float *restrict r0 = %s + k * %zu;\n", B, N);
            out(I, 3, "for (size_t j = 0; j < %zu; j++)\n", N);
            out(I, 4, "y[j] += x0 * r0[j]");
            for (size_t r = 1; r < R; r++)
                fprintf(I->f, " + x%zu * r0[j + %zu]", r, r * N);
            fputs(";\n", I->f);
            out(I, 2, "}\n");
            k = 1 + (K - 1) / R * R;
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
    if (is_alias(I, n) || n->op == OP_SCAN_OUT) /* (seq: a stack is written by its scan's loop) */
        return;
    size_t N = numel(I, n->shape);
    const char *o = ref(I, n), *NS = count(I, n->shape, 1);
    out(I, 1, "/* %s [%s]%s%s */\n", n->name ? n->name : op_name(n->op), NS, n->text ? ": " : "", ctext(n->text));
    switch (n->op) {
    case OP_ZEROS:
        out(I, 1, "for (size_t i = 0; i < %s; i++)\n", NS);
        out(I, 2, "%s[i] = 0;\n", o);
        break;
    case OP_ONE_HOT: {
        size_t W = last_dim(I, n->shape);
        const char *M = count(I, n->shape, W);
        rows_open(I, M);
        out(I, 2, "const int32_t tok = %s[%s];\n", ref(I, n->in[0]), row_index(M));
        out(I, 2, "float *y = %s%s;\n", o, row_at(M, W));
        out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", W);
        out(I, 3, "y[j] = (size_t)tok == j ? 1.0f : 0.0f;\n");
        out(I, 1, "}\n");
        break;
    }
    case OP_GATHER: {
        size_t W = last_dim(I, n->shape), R = numel(I, n->in[0]->shape) / W;
        const char *M = count(I, n->shape, W);
        rows_open(I, M);
        out(I, 2, "const int32_t tok = %s[%s];\n", ref(I, n->in[1]), row_index(M));
        out(I, 2, "float *y = %s%s;\n", o, row_at(M, W));
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
        size_t W = last_dim(I, n->shape), at = 0;
        const char *rows = count(I, n->shape, W);
        for (int k = 0; k < n->nin; k++) {
            size_t w = last_dim(I, n->in[k]->shape);
            out(I, 1, "for (size_t r = 0; r < %s; r++)\n", rows);
            out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", w);
            out(I, 3, "%s[r * %zu + %zu + j] = %s[r * %zu + j];\n", o, W, at, ref(I, n->in[k]), w);
            at += w;
        }
        break;
    }
    case OP_SLICE: {
        size_t W = last_dim(I, n->shape), WA = last_dim(I, n->in[0]->shape);
        out(I, 1, "for (size_t r = 0; r < %s; r++)\n", count(I, n->shape, W));
        out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", W);
        out(I, 3, "%s[r * %zu + j] = %s[r * %zu + %d + j];\n", o, W, ref(I, n->in[0]), WA, n->index);
        break;
    }
    case OP_ROW_SCALE: {
        size_t W = last_dim(I, n->shape);
        out(I, 1, "for (size_t i = 0; i < %s; i++)\n", NS);
        out(I, 2, "%s[i] = %s[i] * %s[i / %zu];\n", o, ref(I, n->in[0]), ref(I, n->in[1]), W);
        break;
    }
    case OP_SUM_TO: {
        out(I, 1, "for (size_t i = 0; i < %s; i++)\n", NS);
        out(I, 2, "%s[i] = 0;\n", o);
        out(I, 1, "for (size_t i = 0; i < %s; i++)\n", count(I, n->in[0]->shape, 1));
        out(I, 2, "%s[i %% %zu] += %s[i];\n", o, N, ref(I, n->in[0]));
        break;
    }
    case OP_POOL: { /* pooled[j] = sum over the steps of w[t] h[t][j] (B = 1), from 0 as
                     * the trainer's: a run's n steps (seq), seq2seq's attention over its T
                     * positions (the first term as the start there: a zeroing loop
                     * becomes a memset call with clang -m32) */
        size_t W = last_dim(I, n->shape);
        const char *H = ref(I, n->in[0]), *Wt = ref(I, n->in[1]);
        out(I, 1, "for (size_t j = 0; j < %zu; j++)\n", W);
        if (I->seq) {
            out(I, 2, "%s[j] = 0;\n", o);
            out(I, 1, "for (size_t t = 0; t < (size_t)n; t++)\n");
        } else {
            out(I, 2, "%s[j] = 0.0f + %s[0] * %s[j];\n", o, Wt, H);
            out(I, 1, "for (size_t t = 1; t < %d; t++)\n", I->T ? I->T : 1);
        }
        out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", W);
        out(I, 3, "%s[j] += %s[t] * %s[t * %zu + j];\n", o, Wt, H, W);
        break;
    }
    default:
        if (I->extra_node && I->extra_node(I, n, N, o))
            break;
        out(I, 1, "for (size_t i = 0; i < %s; i++)\n", NS);
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

static void emit_graph(Infer *I, const Graph *g);

/* seq: a scan as a loop over the n steps (t = n-1 .. 0 for a reverse
 * scan): the carried values start from their initial values, the body
 * reads step t of its sequences, and after it the stacked values go to
 * row t of their arrays and the next carried values to the carries. */
static void emit_scan_loop(Infer *I, const Node *sn)
{
    const Scan *sc = sn->scan;
    out(I, 1, "/* scan %s: %s over the n steps */\n", sc->name ? sc->name : "", sc->reverse ? "reverse" : "forward");
    for (int k = 0; k < sc->nin; k++)
        if (sc->in[k].kind == SCAN_CARRY) {
            out(I, 1, "for (size_t i = 0; i < %zu; i++)\n", numel(I, sc->in[k].arg->shape));
            out(I, 2, "%s[i] = %s[i];\n", carry_ref(I, sc->in[k].arg), ref(I, sn->in[k]));
        }
    out(I, 1, "for (int step = 0; step < n; step++) {\n");
    out(I, 1, "const int t = %s;\n", sc->reverse ? "n - 1 - step" : "step");
    out(I, 1, "(void)t;\n");
    emit_graph(I, sc->body);
    for (int k = 0; k < sc->nout; k++) {
        const ScanOut *o = &sc->out[k];
        const Node *so = NULL;
        for (int i = 0; i < sn->graph->n && !so; i++) {
            const Node *x = sn->graph->nodes[i];
            if (x->op == OP_SCAN_OUT && x->in[0] == sn && x->index == k && x->aux)
                so = x;
        }
        if (!so || o->kind != SCAN_STACK)
            continue;
        size_t W = numel(I, o->node->shape);
        out(I, 1, "for (size_t i = 0; i < %zu; i++) /* stacked */\n", W);
        out(I, 2, "%s[(size_t)t * %zu + i] = %s[i];\n", ref(I, so), W, ref(I, o->node));
    }
    for (int k = 0; k < sc->nin; k++)
        if (sc->in[k].kind == SCAN_CARRY && sc->in[k].carry_out->aux) {
            out(I, 1, "for (size_t i = 0; i < %zu; i++) /* carried */\n", numel(I, sc->in[k].arg->shape));
            out(I, 2, "%s[i] = %s[i];\n", carry_ref(I, sc->in[k].arg), ref(I, sc->in[k].carry_out));
        }
    out(I, 1, "}\n");
}

static void emit_graph(Infer *I, const Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (!n->aux)
            continue;
        if (n->op == OP_SCAN && I->seq)
            emit_scan_loop(I, n);
        else if (n->op == OP_SCAN) {
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
    size_t ram = I->seq ? ((size_t)m->state_size + I->carry_total + scratch + (m->pool ? (size_t)I->w->T : 0)) * 4 +
                              (size_t)I->w->T * 4 + 4
                        : (size_t)m->state_size * 2 * 4 + scratch * 4 + 4 * 8 + 8;
    bool classifier = s->task == TASK_CLASSIFICATION;
    char *U = arena_strdup(&perm, P);
    for (char *p = U; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    out(I, 0, "/*\n");
    out(I, 0, " * generated by rnnc %s --inference from %s and the checkpoint %s; do not edit.\n", RNNC_VERSION,
        ctext(s->name), ctext(I->w->path));
    out(I, 0, " *\n");
    bool tagger = I->w->nlabels > 0;
    out(I, 0, " * Model '%s': a %s %s%s, cell '%s', hidden %d, %d layer(s), %s input;\n", s->model,
        s->tokens == TOK_CHAR ? "character" : "word", s->bidirectional ? "bidirectional " : "",
        classifier ? "classifier (a label per text)" : tagger ? "tagger (a label per token)" : "language model",
        s->cell.name, s->hidden, s->layers, s->input == INPUT_EMBED ? "embedded" : "one-hot");
    if (I->seq)
        out(I, 0, " * a whole sequence at a time (%s), up to %s_MAX_T = %d tokens (the trainer's steps%s);\n",
            classifier ? "the network reads the text before it decides" : "the reverse direction reads it backwards",
            U, I->w->T, classifier ? ": a longer text is cut, as its predict does" : ", a window");
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
    if (I->seq) {
        out(I, 0, " *   %s_infer (RAM, the caller's): about %zu bytes = carried state %d floats\n", P, ram,
            m->state_size);
        out(I, 0, " *     + the scans' carried values %zu floats + the values of %d steps %zu floats\n", I->carry_total,
            I->w->T, scratch);
        out(I, 0, " *     (logits included) + %d token ids;\n", I->w->T);
    } else {
        out(I, 0, " *   %s_infer (RAM, the caller's): about %zu bytes = carried state 2 x %d floats\n", P, ram,
            m->state_size);
        out(I, 0, " *     + scratch %zu floats (the step's values, logits included)%s;\n", scratch,
            tagger ? "" : " + the RNG's 32 bytes");
    }
    out(I, 0, " *     exactly sizeof(%s_infer) (%s_RAM_BYTES)\n", P, U);
    out(I, 0, " *   stack: a few scalars; nothing grows with the input.\n");
    out(I, 0, " *\n");
    out(I, 0, " * Use (or #define RNNC_INFER_DECLARE_ONLY and #include this file for the declarations):\n");
    out(I, 0, " *   %s_infer s;\n", P);
    out(I, 0, " *   %s_reset(&s);                       zero state\n", P);
    if (classifier) {
        out(I, 0, " *   double probs[%s_LABELS];\n", U);
        out(I, 0, " *   int k = %s_classify(&s, \"abc\", 3, probs);  a label for a text (-1: no tokens)\n", P);
        out(I, 0, " *   const char *name = %s_label_name(k);\n", P);
        out(I, 0, " *   const float *logits = %s_run(&s, ids, n);   n token ids -> %s_LOGITS logits\n", P, U);
    } else if (I->seq) {
        out(I, 0, " *   int labels[4];\n");
        out(I, 0, " *   %s_tag(&s, \"abc \", 4, labels);   from a reset, a label per character\n", P);
        out(I, 0, " *   const char *name = %s_label_name(labels[0]);\n", P);
        out(I, 0, " *   const float *logits = %s_run(&s, ids, n);   n <= %s_MAX_T ids -> n x %s_LOGITS\n", P, U, U);
    } else if (tagger) {
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
    if (I->seq)
        out(I, 0, "#define %s_MAX_T %d /* tokens a run reads at most */\n", U, I->w->T);
    if (tagger)
        out(I, 0, "#define %s_LABELS %d\n#define %s_LOGITS %s_LABELS /* floats a %s returns%s */\n", U,
            I->w->nlabels, U, U, I->seq ? "run" : "step", I->seq && !classifier ? " per token" : "");
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

/* The end of the declarations (the loader's first, when the weights are
 * read at run time). */
static void end_decls(Infer *I)
{
    if (I->w->runtime)
        emit_infer_load_decls(I->f, I->m, I->w);
    out(I, 0, "#endif\n\n");
}

/* The struct's member that points at the weights read at run time. */
static void weights_member(Infer *I)
{
    if (I->w->runtime)
        out(I, 1, "const struct %s_weights *wt; /* %s_attach's: the parameters */\n", I->P, I->P);
}

static void emit_struct_seq(Infer *I)
{
    const char *P = I->P;
    bool classifier = I->m->spec->task == TASK_CLASSIFICATION;
    out(I, 0, "/* Everything that changes: one per sequence in progress. */\n");
    out(I, 0, "typedef struct {\n");
    out(I, 1, "float state[%d]; /* the carried state: zeros after a reset%s */\n", I->m->state_size,
        classifier ? "" : ", then the last run's");
    out(I, 1, "float carry[%zu]; /* the scans' carried values */\n", I->carry_total);
    out(I, 1, "float w[%zu]; /* the values of a run (%d arrays) */\n", slots_total(I), I->nslots);
    if (I->m->pool)
        out(I, 1, "float pool[%d]; /* the mean's weights: 1/n */\n", I->w->T);
    out(I, 1, "int32_t ids[%d]; /* the text's tokens */\n", I->w->T);
    out(I, 1, "int n; /* tokens of the last run (0: none) */\n");
    weights_member(I);
    out(I, 0, "} %s_infer;\n\n", P);
    out(I, 0, "void %s_reset(%s_infer *s);\n", P, P);
    out(I, 0, "/* Runs n token ids (1 <= n <= MAX_T, 0 <= id < VOCAB) through the network,\n"
              " * %s, and returns the logits (%s floats in s,\n"
              " * valid until the next run), or NULL for n or an id out of range. */\n",
        classifier ? "from a zero state" : "from the state the last run left (zeros after a reset)",
        classifier ? "LOGITS" : "n x LOGITS");
    out(I, 0, "const float *%s_run(%s_infer *s, const int32_t *ids, int n);\n", P, P);
    out(I, 0, "/* The logits of the last run (NULL before any). */\n");
    out(I, 0, "const float *%s_logits(const %s_infer *s);\n", P, P);
    out(I, 0, "/* The id of the token with this text (len bytes), or -1. */\n");
    out(I, 0, "int %s_token_id(const char *text, size_t len);\n", P);
    out(I, 0, "/* The text of token id (NUL-terminated), or NULL out of range. */\n");
    out(I, 0, "const char *%s_token(int id);\n", P);
    out(I, 0, "/* The name of label k, or NULL out of range. */\n");
    out(I, 0, "const char *%s_label_name(int k);\n", P);
    if (classifier) {
        out(I, 0, "/* The label of a text as the trainer's predict gives it: its first MAX_T\n"
                  " * %s (<unk> for those the vocabulary lacks%s) from a zero state;\n"
                  " * probs (LABELS doubles, or NULL): softmax of the logits. -1: no tokens. */\n",
            I->m->spec->tokens == TOK_CHAR ? "characters" : "space-separated words",
            I->m->spec->normalize == NORM_NONE ? "" : "; normalize the text first");
        out(I, 0, "int %s_classify(%s_infer *s, const char *text, size_t len, double *probs);\n\n", P, P);
    } else {
        out(I, 0, "/* Resets, then labels text: labels[i] for its i-th character (<unk> for\n"
                  " * those the vocabulary lacks), MAX_T characters a run, each run from the\n"
                  " * state the last left, as the trainer's predict. Returns the characters. */\n");
        out(I, 0, "long %s_tag(%s_infer *s, const char *text, size_t len, int *labels);\n\n", P, P);
    }
    end_decls(I);
}

static void emit_struct(Infer *I)
{
    const char *P = I->P;
    if (I->seq) {
        emit_struct_seq(I);
        return;
    }
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
    weights_member(I);
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
        end_decls(I);
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
    end_decls(I);
}

/* runtime/rnnrt_fastmath.h, embedded when rnnc is built
 * (compiler/embed_text.cmake). */
extern const char rnnc_fastmath_text[];

/* Prints function fn of rnnrt_fastmath.h ("exp_fast": its lines from
 * "static inline float rnnrt_exp_fast(" to the next "}" line), rnnrt_
 * renamed to the model's prefix. */
static void emit_fastmath(Infer *I, const char *fn)
{
    const char *want = arena_printf(&perm, "static inline float rnnrt_%s(", fn);
    const char *p = strstr(rnnc_fastmath_text, want), *end = p ? strstr(p, "\n}\n") : NULL;
    if (!end)
        DIE("emit_infer: rnnrt_fastmath.h has no function %s", fn);
    end += 3;
    while (p < end) {
        const char *r = strstr(p, "rnnrt_");
        if (!r || r >= end) {
            fwrite(p, 1, (size_t)(end - p), I->f);
            break;
        }
        fwrite(p, 1, (size_t)(r - p), I->f);
        fprintf(I->f, "%s_", I->P);
        p = r + strlen("rnnrt_");
    }
    fputc('\n', I->f);
}

/* Only those the step calls: an unused static function is a warning. */
static void emit_math(Infer *I)
{
    if (!I->uses[OP_TANH] && !I->uses[OP_SIGMOID])
        return;
    out(I, 0, "/* The trainer's float approximations, from runtime/rnnrt_fastmath.h (the\n"
              " * trainer's own: the same operations in the same order, so the same values):\n"
              " * 2^k p(r) (Cephes expf), Cephes tanhf. */\n");
    emit_fastmath(I, "exp_fast");
    if (I->uses[OP_TANH])
        emit_fastmath(I, "tanh_fast");
    if (I->uses[OP_SIGMOID])
        emit_fastmath(I, "sigmoid_fast");
}

static void emit_step(Infer *I)
{
    const Model *m = I->m;
    const char *P = I->P;
    out(I, 0, "/* One token through the network (the forward graph of %s for B = 1, T = 1). */\n",
        ctext(m->spec->name));
    out(I, 0, "const float *%s_step(%s_infer *s, int id)\n{\n", P, P);
    out(I, 1, "if (id < 0 || id >= %d%s)\n", I->w->ntokens, I->w->runtime ? " || !s->wt" : "");
    out(I, 2, "return NULL;\n");
    if (I->w->runtime)
        out(I, 1, "const float *const wt = s->wt->p;\n");
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

/* seq: the whole graph for n tokens (B = 1, T = n). */
static void emit_run(Infer *I)
{
    const Model *m = I->m;
    const char *P = I->P;
    bool classifier = m->spec->task == TASK_CLASSIFICATION;
    out(I, 0, "/* n tokens through the network (the forward graph of %s for B = 1, T = n). */\n",
        ctext(m->spec->name));
    out(I, 0, "%s_NOLIB const float *%s_run(%s_infer *s, const int32_t *x, int n)\n{\n", P, P, P);
    out(I, 1, "if (n < 1 || n > %d%s)\n", I->w->T, I->w->runtime ? " || !s->wt" : "");
    out(I, 2, "return NULL;\n");
    if (I->w->runtime)
        out(I, 1, "const float *const wt = s->wt->p;\n");
    out(I, 1, "for (int i = 0; i < n; i++)\n");
    out(I, 2, "if (x[i] < 0 || x[i] >= %d)\n", I->w->ntokens);
    out(I, 3, "return NULL;\n");
    if (classifier) {
        out(I, 1, "for (size_t i = 0; i < %d; i++) /* a text starts from zeros */\n", m->state_size);
        out(I, 2, "s->state[i] = 0;\n");
    }
    if (m->pool && m->pool->aux) {
        out(I, 1, "for (int t = 0; t < n; t++) /* the mean's weights, as rnnrt_pool_weights */\n");
        out(I, 2, "s->pool[t] = 1.0f / (float)n;\n");
    }
    out(I, 1, "const float *state = s->state;\n");
    out(I, 1, "(void)state;\n");
    out(I, 1, "/* the values, in s->w */\n");
    for (int k = 0; k < I->nbuf; k++) {
        const Buf *b = &I->buf[k];
        out(I, 1, "float *const %s = s->w + %zu;%s%s%s\n", b->name, slot_offset(I, b->slot),
            b->node->text ? " /* " : "", b->node->text ? ctext(b->node->text) : "", b->node->text ? " */" : "");
    }
    emit_graph(I, m->g);
    for (int k = 0; k < m->nstates; k++) {
        const Node *so = m->state_out[k];
        out(I, 1, "for (size_t i = 0; i < %zu; i++) /* the next state %d */\n", numel(I, so->shape), k);
        out(I, 2, "s->state[%d + i] = %s[i];\n", state_offset(m, k), ref(I, so));
    }
    out(I, 1, "s->n = n;\n");
    out(I, 1, "return %s;\n}\n\n", ref(I, m->logits));
    const Buf *lb = base(I, m->logits);
    if (!lb)
        DIE("emit_infer: the logits are not a value of their own");
    out(I, 0, "const float *%s_logits(const %s_infer *s)\n{\n", P, P);
    out(I, 1, "return s->n ? s->w + %zu : NULL;\n}\n\n", slot_offset(I, lb->slot));
}

/* seq: one token of text at text[*i] (its id, <unk> for what the
 * vocabulary lacks; *i moves past it), or -1 at the end. */
static void emit_next_token(Infer *I)
{
    const char *P = I->P;
    out(I, 0, "static int %s_next_token(const char *text, size_t len, size_t *i)\n{\n", P);
    if (I->m->spec->tokens == TOK_CHAR) {
        out(I, 1, "if (*i >= len)\n");
        out(I, 2, "return -1;\n");
        out(I, 1, "/* characters: one UTF-8 sequence each, as rnnrt_utf8_len */\n");
        out(I, 1, "const unsigned char lead = (unsigned char)text[*i];\n");
        out(I, 1, "size_t k = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;\n");
        out(I, 1, "int id = k <= len - *i ? %s_token_id(text + *i, k) : -1;\n", P);
        out(I, 1, "*i += k <= len - *i ? k : len - *i;\n");
    } else {
        out(I, 1, "/* words: split at spaces */\n");
        out(I, 1, "while (*i < len && (text[*i] == ' ' || text[*i] == '\\t' || text[*i] == '\\n'))\n");
        out(I, 2, "++*i;\n");
        out(I, 1, "if (*i >= len)\n");
        out(I, 2, "return -1;\n");
        out(I, 1, "size_t k = 0;\n");
        out(I, 1, "while (*i + k < len && text[*i + k] != ' ' && text[*i + k] != '\\t' && text[*i + k] != '\\n')\n");
        out(I, 2, "k++;\n");
        out(I, 1, "int id = %s_token_id(text + *i, k);\n", P);
        out(I, 1, "*i += k;\n");
    }
    out(I, 1, "return id < %d ? 0 : id;\n}\n\n", FIRST_TOKEN);
}

static void emit_label_names(Infer *I)
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
}

/* The most likely of L logits at z (the first of equals, as the trainer). */
static void emit_argmax(Infer *I)
{
    out(I, 0, "static int %s_argmax(const float *z)\n{\n", I->P);
    out(I, 1, "int best = 0;\n");
    out(I, 1, "for (int k = 1; k < %d; k++)\n", I->w->nlabels);
    out(I, 2, "if (z[k] > z[best])\n");
    out(I, 3, "best = k;\n");
    out(I, 1, "return best;\n}\n\n");
}

static void emit_api_seq(Infer *I)
{
    const char *P = I->P;
    int T = I->w->T;
    out(I, 0, "%s_NOLIB void %s_reset(%s_infer *s)\n{\n", P, P, P);
    out(I, 1, "for (size_t i = 0; i < %d; i++)\n", I->m->state_size);
    out(I, 2, "s->state[i] = 0;\n");
    out(I, 1, "s->n = 0;\n}\n\n");
    emit_label_names(I);
    emit_next_token(I);
    emit_argmax(I);
    if (I->m->spec->task == TASK_CLASSIFICATION) {
        out(I, 0, "double exp(double);\n\n");
        out(I, 0, "int %s_classify(%s_infer *s, const char *text, size_t len, double *probs)\n{\n", P, P);
        out(I, 1, "int n = 0, id;\n");
        out(I, 1, "size_t i = 0;\n");
        out(I, 1, "while (n < %d && (id = %s_next_token(text, len, &i)) >= 0)\n", T, P);
        out(I, 2, "s->ids[n++] = id;\n");
        out(I, 1, "const float *z = n ? %s_run(s, s->ids, n) : NULL;\n", P);
        out(I, 1, "if (!z)\n");
        out(I, 2, "return -1;\n");
        out(I, 1, "int best = %s_argmax(z);\n", P);
        out(I, 1, "if (probs) { /* in double, as the trainer's */\n");
        out(I, 2, "double sum = 0;\n");
        out(I, 2, "for (int k = 0; k < %d; k++)\n", I->w->nlabels);
        out(I, 3, "sum += probs[k] = exp((double)z[k] - (double)z[best]);\n");
        out(I, 2, "for (int k = 0; k < %d; k++)\n", I->w->nlabels);
        out(I, 3, "probs[k] /= sum;\n");
        out(I, 1, "}\n");
        out(I, 1, "return best;\n}\n");
        return;
    }
    out(I, 0, "long %s_tag(%s_infer *s, const char *text, size_t len, int *labels)\n{\n", P, P);
    out(I, 1, "long done = 0;\n");
    out(I, 1, "size_t i = 0;\n");
    out(I, 1, "%s_reset(s);\n", P);
    out(I, 1, "for (;;) {\n");
    out(I, 2, "int n = 0, id;\n");
    out(I, 2, "while (n < %d && (id = %s_next_token(text, len, &i)) >= 0)\n", T, P);
    out(I, 3, "s->ids[n++] = id;\n");
    out(I, 2, "if (n == 0)\n");
    out(I, 3, "return done;\n");
    out(I, 2, "const float *z = %s_run(s, s->ids, n);\n", P);
    out(I, 2, "for (int t = 0; t < n; t++)\n");
    out(I, 3, "labels[done++] = %s_argmax(z + (size_t)t * %d);\n", P, I->w->nlabels);
    out(I, 1, "}\n}\n");
}

static void emit_api_tagger(Infer *I)
{
    const char *P = I->P;
    int L = I->w->nlabels;
    emit_label_names(I);
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

/* The vocabulary's lookups. */
static void emit_api_common(Infer *I)
{
    const char *P = I->P;
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
}

static void emit_api(Infer *I)
{
    const char *P = I->P;
    bool words = I->m->spec->tokens != TOK_CHAR;
    out(I, 0, "void %s_reset(%s_infer *s)\n{\n", P, P);
    out(I, 1, "s->cur = 0;\n");
    out(I, 1, "s->fed = 0; /* the next step reads zeros */\n}\n\n");
    emit_api_common(I);
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
    I.seq = m->spec->bidirectional || m->spec->task == TASK_CLASSIFICATION;
    if (I.seq && w->T < 1)
        DIE("emit_infer: a whole-sequence model without its time steps");
    if (I.seq)
        plan_carries(&I, m->g);
    add_buffers(&I, m->g);
    note_ops(&I, m->g);
    plan_slots(&I);
    emit_header(&I, slots_total(&I));
    if (w->runtime)
        out(&I, 0, "typedef struct %s_weights %s_weights;\n\n", I.P, I.P);
    emit_struct(&I);
    out(&I, 0, "#ifndef RNNC_INFER_DECLARE_ONLY\n\n");
    out(&I, 0, "float expf(float);\n\n");
    if (!I.seq)
        out(&I, 0, "/* the state after a reset */\nstatic const float %s_zeros[%d] = {0};\n\n", I.P, m->state_size);
    if (I.seq || w->runtime) {
        out(&I, 0, "/* A run copies and zeroes arrays in loops, which compilers may turn into\n"
                   " * calls to memmove and memset: not here (the file needs libm only). */\n");
        out(&I, 0, "#if defined(__clang__)\n#define %s_NOLIB __attribute__((no_builtin(\"memcpy\", \"memmove\", \"memset\")))\n", I.P);
        out(&I, 0, "#elif defined(__GNUC__)\n#define %s_NOLIB __attribute__((optimize(\"no-tree-loop-distribute-patterns\")))\n", I.P);
        out(&I, 0, "#else\n#define %s_NOLIB\n#endif\n\n", I.P);
    }
    if (I.seq && m->mask && m->mask->aux) {
        out(&I, 0, "/* every step of a run is valid (the trainer's mask for B = 1, no padding) */\n");
        out(&I, 0, "static const float %s_ones[%d] = {", I.P, w->T);
        for (int t = 0; t < w->T; t++)
            fputs(t ? ", 1" : "1", f);
        out(&I, 0, "};\n\n");
    }
    if (!w->runtime)
        emit_weights(&I);
    emit_vocab(&I);
    emit_math(&I);
    if (I.seq) {
        emit_run(&I);
        emit_api_common(&I);
        emit_api_seq(&I);
    } else {
        emit_step(&I);
        emit_api(&I);
    }
    if (w->runtime) {
        fputc('\n', f);
        emit_infer_load(f, m, w);
    }
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
