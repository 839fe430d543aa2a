/*
 * interp.c: the reference interpreter, the oracle for autodiff and emit.
 *
 * interp_run executes every node of a model's graph (forward and backward)
 * in double precision with naive loops, exactly as ops.def defines each op.
 * It is deliberately slow and plain: no BLAS, no fusion, no in-place tricks.
 *
 * Invariants:
 *  - A Frame holds the values of one graph's nodes, indexed by node id. The
 *    top-level frame is what interp_run returns. A scan body gets a frame of
 *    its own, made once per scan node and reused at every step, so a step
 *    allocates nothing after the first.
 *  - Every node writes only its own buffer. Values that are views (a scan
 *    body's ARGs, SCAN_OUT) point at buffers owned elsewhere and are never
 *    written through.
 *  - Integer inputs (token ids) are stored as doubles; ids are < 2^31, so
 *    they are exact. ONE_HOT and SOFTMAX_XENT check that a target is an
 *    integer in [0, V) before using it as an index.
 *  - Symbolic dims are bound from the env (B, T, V >= 1), every element
 *    count is computed with overflow checks, and every operand size is
 *    checked against the op's expectation before any loop runs, so a bad
 *    graph or env gives an error message and NULL, never a crash.
 */
#include "graph.h"

#include <math.h>
#include <string.h>

/* A shape with its symbols bound: sizes and element count (n >= 1). */
typedef struct {
    int ndim;
    size_t d[MAX_DIMS];
    size_t n;
} Dims;

typedef struct Frame Frame;
struct Frame {
    const Graph *g;
    double **val;   /* val[id]: the node's value; NULL for SCAN */
    size_t *numel;  /* numel[id] */
    bool *owned;    /* val[id] is this frame's buffer (reused next step) */
    double ***outs; /* SCAN: buffers of its outputs, by output index */
    Frame **sub;    /* SCAN: the frame of its body */
};

typedef struct {
    Arena *a;
    const Model *m;
    const InterpEnv *env;
} Interp;

static bool eval_graph(Interp *I, Frame *F);

/* ---- errors and sizes ---- */

__attribute__((format(printf, 2, 3))) static bool fail(const Node *n, const char *fmt, ...)
{
    FILE *f = diag_stream();
    if (n->loc.file && n->loc.line > 0)
        fprintf(f, "%s:%d:%d: ", n->loc.file, n->loc.line, n->loc.col > 0 ? n->loc.col : 1);
    else
        fprintf(f, "rnnc: ");
    fprintf(f, "error: interp: %%%d %s%s%s: ", n->id, op_name(n->op), n->name ? " " : "", n->name ? n->name : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    return false;
}

/* Bind n's shape: DIM_B/T/V from the env, positive dims as they are. */
static bool node_dims(const Interp *I, const Node *n, Dims *out)
{
    Shape s = n->shape;
    if (s.ndim < 0 || s.ndim > MAX_DIMS)
        return fail(n, "bad rank %d", s.ndim);
    out->ndim = s.ndim;
    out->n = 1;
    for (int i = 0; i < s.ndim; i++) {
        int d = s.d[i] == DIM_B    ? I->env->B
                : s.d[i] == DIM_T  ? I->env->T
                : s.d[i] == DIM_V  ? I->env->V
                : s.d[i] == DIM_L  ? I->env->L
                : s.d[i] == DIM_VT ? I->env->Vt
                                   : s.d[i];
        if (d <= 0)
            return fail(n, "dim %d is %d (unbound symbol or not positive)", i, s.d[i]);
        out->d[i] = (size_t)d;
        if (!size_mul(out->n, (size_t)d, &out->n))
            return fail(n, "element count overflows size_t");
    }
    return true;
}

static size_t last_dim(const Dims *d) { return d->ndim ? d->d[d->ndim - 1] : 1; }

/* Is `small` a suffix of `big` (equal shapes, rank 0, bias [n] vs [B,n])? */
static bool dims_suffix(const Dims *small, const Dims *big)
{
    if (small->ndim > big->ndim)
        return false;
    int off = big->ndim - small->ndim;
    for (int i = 0; i < small->ndim; i++)
        if (small->d[i] != big->d[off + i])
            return false;
    return true;
}

/* A zeroed buffer of `count` doubles for n; reuses the one from the last
 * step when a scan body runs again. */
static double *alloc_val(Interp *I, Frame *F, const Node *n, size_t count)
{
    int id = n->id;
    if (F->owned[id] && F->numel[id] == count) {
        memset(F->val[id], 0, count * sizeof(double));
        return F->val[id];
    }
    size_t bytes;
    if (!size_mul(count, sizeof(double), &bytes)) {
        fail(n, "%zu elements do not fit in memory", count);
        return NULL;
    }
    F->val[id] = arena_alloc(I->a, bytes);
    F->numel[id] = count;
    F->owned[id] = true;
    return F->val[id];
}

/* The value of input k of n, checked to have the size its shape says. */
static const double *operand(const Interp *I, const Frame *F, const Node *n, int k, Dims *d)
{
    const Node *in = n->in[k];
    if (!node_dims(I, in, d))
        return NULL;
    if (!F->val[in->id]) {
        fail(n, "input %d (%%%d %s) has no value", k, in->id, op_name(in->op));
        return NULL;
    }
    if (F->numel[in->id] != d->n) {
        fail(n, "input %d has %zu elements, its shape says %zu", k, F->numel[in->id], d->n);
        return NULL;
    }
    return F->val[in->id];
}

static Frame *frame_new(Arena *a, const Graph *g)
{
    size_t n = (size_t)g->n + 1;
    Frame *F = arena_alloc(a, sizeof *F);
    F->g = g;
    F->val = arena_array(a, n, sizeof(double *));
    F->numel = arena_array(a, n, sizeof(size_t));
    F->owned = arena_array(a, n, sizeof(bool));
    F->outs = arena_array(a, n, sizeof(double **));
    F->sub = arena_array(a, n, sizeof(Frame *));
    return F;
}

/* ---- leaves ---- */

static bool eval_param(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    if (n->index < 0 || n->index >= I->m->nparams)
        return fail(n, "no parameter #%d (the model has %d)", n->index, I->m->nparams);
    if (!I->env->params || !I->env->params[n->index])
        return fail(n, "the env has no values for parameter #%d", n->index);
    double *r = alloc_val(I, F, n, o->n);
    if (r)
        memcpy(r, I->env->params[n->index], o->n * sizeof(double));
    return r != NULL;
}

/* x, y: int32 [T][B] ids, stored as exact doubles. */
static bool eval_ids(Interp *I, Frame *F, const Node *n, const Dims *o, const int32_t *ids)
{
    if (!ids)
        return fail(n, "the env has no %s", n->index == INPUT_X ? "x" : "y");
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < o->n; i++)
        r[i] = ids[i];
    return r != NULL;
}

/* seq2seq's int inputs: the decoder input [T][B] and the valid lengths [B]. */
static bool eval_s2s_input(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    const InterpEnv *env = I->env;
    static const char *const names[] = {"decoder input", "source lengths", "target lengths"};
    const int32_t *v = n->index == INPUT_DEC_IN ? env->dec_in : n->index == INPUT_SRC_LEN ? env->src_len : env->tgt_len;
    if (!v)
        return fail(n, "the env has no %s", names[n->index - INPUT_DEC_IN]);
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < o->n; i++)
        r[i] = v[i];
    return r != NULL;
}

static bool eval_input(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    const InterpEnv *env = I->env;
    if (n->index == INPUT_X || n->index == INPUT_Y)
        return eval_ids(I, F, n, o, n->index == INPUT_X ? env->x : env->y);
    if (n->index >= INPUT_DEC_IN && n->index <= INPUT_TGT_LEN)
        return eval_s2s_input(I, F, n, o);
    if (n->index >= INPUT_STEP_INV) {
        double *r = env->step_inv && env->step_inv[n->index - INPUT_STEP_INV] ? alloc_val(I, F, n, o->n) : NULL;
        if (r)
            memcpy(r, env->step_inv[n->index - INPUT_STEP_INV], o->n * sizeof(double));
        return r ? true : fail(n, "the env has no value for step invariant %d", n->index - INPUT_STEP_INV);
    }
    double *r = alloc_val(I, F, n, o->n);
    if (!r)
        return false;
    if (n->index == INPUT_CARRY_SCALE) {
        for (size_t i = 0; i < o->n; i++)
            r[i] = env->carry_scale ? env->carry_scale[i] : 1.0;
        return true;
    }
    if (n->index == INPUT_POOL || n->index == INPUT_MASK) {
        const double *v = n->index == INPUT_POOL ? env->pool : env->mask;
        if (!v)
            return fail(n, "the env has no %s", n->index == INPUT_POOL ? "pooling weights" : "valid-step mask");
        memcpy(r, v, o->n * sizeof(double));
        return true;
    }
    int k = n->index - INPUT_STATE;
    if (k < 0 || k >= MAX_STATES)
        return fail(n, "unknown graph input #%d", n->index);
    if (!env->state[k])
        return fail(n, "the env has no value for state %d", k);
    memcpy(r, env->state[k], o->n * sizeof(double));
    return true;
}

/* ---- data movement and linear algebra ---- */

/* ids [...] -> [..., V]: 1 at the id, else 0. */
static bool eval_one_hot(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims di;
    const double *ids = operand(I, F, n, 0, &di);
    if (!ids)
        return false;
    size_t V = last_dim(o);
    size_t count;
    if (!size_mul(di.n, V, &count) || count != o->n)
        return fail(n, "%zu ids and %zu classes do not make %zu elements", di.n, V, o->n);
    double *r = alloc_val(I, F, n, o->n);
    if (!r)
        return false;
    for (size_t i = 0; i < di.n; i++) {
        double id = ids[i];
        if (!(id >= 0 && id < (double)V && id == floor(id)))
            return fail(n, "id %g at position %zu is not in [0, %zu)", id, i, V);
        r[i * V + (size_t)id] = 1.0;
    }
    return true;
}

/* gather: out [..., n] = a [R, n] at rows ids [...]; scatter_add: out
 * [R, n] += g [..., n] at rows ids. Ids must be integers in [0, R), as for
 * one_hot (whose matmuls these replace). */
static bool check_id(const Node *n, double id, size_t R, size_t i)
{
    if (!(id >= 0 && id < (double)R && id == floor(id)))
        return fail(n, "id %g at position %zu is not in [0, %zu)", id, i, R);
    return true;
}

static bool eval_gather(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da, di;
    const double *A = operand(I, F, n, 0, &da);
    const double *ids = A ? operand(I, F, n, 1, &di) : NULL;
    if (!ids)
        return false;
    size_t cols = last_dim(&da), R = da.n / cols;
    if (da.ndim != 2 || last_dim(o) != cols || o->n != di.n * cols)
        return fail(n, "%zu ids of [%zu,%zu] rows do not give the node's shape", di.n, R, cols);
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < di.n; i++) {
        if (!check_id(n, ids[i], R, i))
            return false;
        memcpy(r + i * cols, A + (size_t)ids[i] * cols, cols * sizeof(double));
    }
    return r != NULL;
}

static bool eval_scatter_add(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims di, dg;
    const double *ids = operand(I, F, n, 0, &di);
    const double *G = ids ? operand(I, F, n, 1, &dg) : NULL;
    if (!G)
        return false;
    size_t cols = last_dim(&dg), R = o->ndim == 2 ? o->d[0] : 0;
    if (o->ndim != 2 || last_dim(o) != cols || dg.n != di.n * cols)
        return fail(n, "%zu ids and %zu gradient values do not give the node's shape", di.n, dg.n);
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < di.n; i++) {
        if (!check_id(n, ids[i], R, i))
            return false;
        for (size_t j = 0; j < cols; j++)
            r[(size_t)ids[i] * cols + j] += G[i * cols + j];
    }
    return r != NULL;
}

/* C [rows, nc] = A [rows, k] @ B [k, nc]  (tb: B stored as [nc, k]).
 * A's leading dims are flattened into rows; C keeps them. */
static bool eval_matmul_plain(Interp *I, Frame *F, const Node *n, const Dims *o, const double *A,
                              const Dims *da, const double *Bm, const Dims *db)
{
    if (da->ndim < 2 || db->ndim != 2)
        return fail(n, "needs A of rank >= 2 and B of rank 2");
    size_t k = last_dim(da), rows = da->n / k;
    size_t bk = n->tb ? db->d[1] : db->d[0], nc = n->tb ? db->d[0] : db->d[1];
    if (bk != k || last_dim(o) != nc || o->n != rows * nc)
        return fail(n, "[%zu,%zu] @ %s[%zu,%zu] does not give the node's shape", rows, k, n->tb ? "T" : "",
                    db->d[0], db->d[1]);
    double *C = alloc_val(I, F, n, o->n);
    if (!C)
        return false;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < nc; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += A[r * k + p] * (n->tb ? Bm[j * k + p] : Bm[p * nc + j]);
            C[r * nc + j] = s;
        }
    return true;
}

/* ta: C [m, nc] = A^T B with A [R, m] and B [R, nc], both flattened over
 * their leading dims (the weight gradient summed over rows). */
static bool eval_matmul_ta(Interp *I, Frame *F, const Node *n, const Dims *o, const double *A, const Dims *da,
                           const double *Bm, const Dims *db)
{
    if (n->tb)
        return fail(n, "ta together with tb is not an op");
    if (da->ndim < 2 || db->ndim < 2)
        return fail(n, "ta needs operands of rank >= 2");
    size_t m = last_dim(da), R = da->n / m, nc = last_dim(db);
    if (db->n / nc != R || o->ndim != 2 || o->d[0] != m || o->d[1] != nc)
        return fail(n, "[%zu,%zu]^T @ [%zu,%zu] does not give the node's shape", R, m, db->n / nc, nc);
    double *C = alloc_val(I, F, n, o->n);
    if (!C)
        return false;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < nc; j++) {
            double s = 0;
            for (size_t r = 0; r < R; r++)
                s += A[r * m + i] * Bm[r * nc + j];
            C[i * nc + j] = s;
        }
    return true;
}

static bool eval_matmul(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da, db;
    const double *A = operand(I, F, n, 0, &da);
    const double *Bm = A ? operand(I, F, n, 1, &db) : NULL;
    if (!Bm)
        return false;
    if (n->ta)
        return eval_matmul_ta(I, F, n, o, A, &da, Bm, &db);
    return eval_matmul_plain(I, F, n, o, A, &da, Bm, &db);
}

/* out [suffix] = a summed over its leading dims. */
static bool eval_sum_to(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da;
    const double *A = operand(I, F, n, 0, &da);
    if (!A)
        return false;
    if (!dims_suffix(o, &da))
        return fail(n, "the node's shape is not a suffix of its input's");
    double *r = alloc_val(I, F, n, o->n);
    if (!r)
        return false;
    for (size_t i = 0; i < da.n; i++)
        r[i % o->n] += A[i];
    return true;
}

/* POOL: h [T,B,n], w [T,B] -> [B,n], out[b,:] = sum_t w[t,b] h[t,b,:].
 * POOL_GRAD: w [T,B], g [B,n] -> [T,B,n], out[t,b,:] = w[t,b] g[b,:]. */
static bool eval_pool(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims d0, d1;
    const double *A = operand(I, F, n, 0, &d0);
    const double *Bv = A ? operand(I, F, n, 1, &d1) : NULL;
    if (!Bv)
        return false;
    bool grad = n->op == OP_POOL_GRAD;
    const double *h = grad ? Bv : A, *w = grad ? A : Bv;
    const Dims *dw = grad ? &d0 : &d1;
    if (dw->ndim != 2)
        return fail(n, "the pooling weights are not [T,B]");
    size_t T = dw->d[0], B = dw->d[1], C = last_dim(o);
    if ((grad ? d1.n : d0.n) != (grad ? B * C : T * B * C) || o->n != (grad ? T * B * C : B * C))
        return fail(n, "sizes do not match T=%zu B=%zu n=%zu", T, B, C);
    double *r = alloc_val(I, F, n, o->n);
    if (!r)
        return false;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j < C; j++) {
                double wt = w[t * B + b];
                if (grad)
                    r[(t * B + b) * C + j] = wt * h[b * C + j];
                else
                    r[b * C + j] += wt * h[(t * B + b) * C + j];
            }
    return true;
}

/* ---- elementwise ---- */

static double apply2(Op op, double a, double b)
{
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_TANH_GRAD: return b * (1 - a * a);
    case OP_SIGMOID_GRAD: return b * a * (1 - a);
    case OP_RELU_GRAD: return a > 0 ? b : 0;
    default: DIE("apply2: %s is not binary elementwise", op_name(op));
    }
}

static double apply1(Op op, double a)
{
    switch (op) {
    case OP_NEG: return -a;
    case OP_SIGMOID: return 1 / (1 + exp(-a));
    case OP_TANH: return tanh(a);
    case OP_RELU: return a > 0 ? a : 0;
    case OP_EXP: return exp(a);
    case OP_GRAD_SCALE: return a;
    default: DIE("apply1: %s is not unary elementwise", op_name(op));
    }
}

/* out[i] = a[i % |a|] op b[i % |b|]: each operand's shape is a suffix of
 * the output's (equal, rank 0, or a bias against its batch). */
static bool eval_binary(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da, db;
    const double *A = operand(I, F, n, 0, &da);
    const double *Bv = A ? operand(I, F, n, 1, &db) : NULL;
    if (!Bv)
        return false;
    if (!dims_suffix(&da, o) || !dims_suffix(&db, o))
        return fail(n, "operand shapes do not broadcast to the node's shape");
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < o->n; i++)
        r[i] = apply2(n->op, A[i % da.n], Bv[i % db.n]);
    return r != NULL;
}

/* Unary ops; GRAD_SCALE is the identity on its first input going forward. */
static bool eval_unary(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da;
    const double *A = operand(I, F, n, 0, &da);
    if (!A)
        return false;
    if (da.n != o->n)
        return fail(n, "input has %zu elements, the node %zu", da.n, o->n);
    if (n->op == OP_GRAD_SCALE) {
        Dims ds;
        if (!operand(I, F, n, 1, &ds))
            return false;
        if (ds.n != 1)
            return fail(n, "the scale must be a scalar");
    }
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < o->n; i++)
        r[i] = apply1(n->op, A[i]);
    return r != NULL;
}

/* ---- between layers ---- */

/* splitmix64's finalizer: a bijection of 64-bit words that mixes every
 * input bit into every output bit. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The mask is counter-based (a hash of seed, site and index, like
 * splitmix64 run to position i), so it needs no state and no storage: the
 * backward pass and the interpreter recompute the forward's mask exactly.
 * rnnrt.h has the same function for the emitted code. */
bool dropout_keep(uint64_t seed, int site, size_t i, double rate)
{
    const uint64_t golden = UINT64_C(0x9e3779b97f4a7c15);
    uint64_t key = mix64(seed + golden * ((uint64_t)(uint32_t)site + 1));
    double u = (double)(mix64(key + golden * ((uint64_t)i + 1)) >> 11) * 0x1.0p-53;
    return u >= rate;
}

/* out = a * keep / (1 - rate) when training, else a. */
static bool eval_dropout(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da;
    const double *A = operand(I, F, n, 0, &da);
    if (!A)
        return false;
    if (da.n != o->n)
        return fail(n, "input has %zu elements, the node %zu", da.n, o->n);
    if (!(n->value >= 0 && n->value < 1))
        return fail(n, "rate %g is not in [0, 1)", n->value);
    double *r = alloc_val(I, F, n, o->n);
    double scale = 1 / (1 - n->value);
    for (size_t i = 0; r && i < o->n; i++)
        r[i] = !I->env->train ? A[i] : dropout_keep(I->env->dropout_seed, n->index, i, n->value) ? A[i] * scale : 0;
    return r != NULL;
}

/* [rows, m] ++ [rows, n] -> [rows, m + n] */
static bool eval_concat(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    size_t w = last_dim(o), rows = o->n / w, at = 0;
    double *r = alloc_val(I, F, n, o->n);
    for (int k = 0; r && k < n->nin; k++) {
        Dims dk;
        const double *A = operand(I, F, n, k, &dk);
        if (!A)
            return false;
        size_t m = last_dim(&dk);
        if (at + m > w || dk.n != rows * m)
            return fail(n, "operand %d of %zu elements does not fit rows of %zu at column %zu", k, dk.n, w, at);
        for (size_t i = 0; i < rows; i++)
            memcpy(r + i * w + at, A + i * m, m * sizeof(double));
        at += m;
    }
    if (r && at != w)
        return fail(n, "operands of %zu columns do not concatenate to %zu", at, w);
    return r != NULL;
}

/* columns [index, index + w) of each row of a */
static bool eval_slice(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da;
    const double *A = operand(I, F, n, 0, &da);
    if (!A)
        return false;
    size_t m = last_dim(&da), w = last_dim(o), rows = o->n / w;
    if (n->index < 0 || (size_t)n->index + w > m || da.n != rows * m)
        return fail(n, "columns [%d, %zu) are not inside rows of %zu", n->index, (size_t)n->index + w, m);
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < rows; i++)
        memcpy(r + i * w, A + i * m + n->index, w * sizeof(double));
    return r != NULL;
}

/* a [rows, n] * s [rows], s broadcast over each row */
static bool eval_row_scale(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da, ds;
    const double *A = operand(I, F, n, 0, &da);
    const double *S = A ? operand(I, F, n, 1, &ds) : NULL;
    if (!S)
        return false;
    size_t w = last_dim(&da), rows = w ? da.n / w : 0;
    if (ds.n != rows || o->n != da.n)
        return fail(n, "%zu row scales for %zu rows of %zu", ds.n, rows, w);
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < rows; i++)
        for (size_t j = 0; j < w; j++)
            r[i * w + j] = A[i * w + j] * S[i];
    return r != NULL;
}

/* ---- loss ---- */

/* Shared by SOFTMAX_XENT and its gradient: logits [rows, C], targets
 * [rows], each target an integer in [0, C). */
typedef struct {
    const double *z, *t;
    size_t rows, C;
} Xent;

static bool xent_operands(Interp *I, Frame *F, const Node *n, Xent *x)
{
    Dims dz, dt;
    x->z = operand(I, F, n, 0, &dz);
    x->t = x->z ? operand(I, F, n, 1, &dt) : NULL;
    if (!x->t)
        return false;
    x->C = last_dim(&dz);
    x->rows = dz.n / x->C;
    if (dz.ndim < 1 || dt.n != x->rows)
        return fail(n, "%zu targets for %zu rows of logits", dt.n, x->rows);
    for (size_t r = 0; r < x->rows; r++) {
        double t = x->t[r];
        if (!(t >= 0 && t < (double)x->C && t == floor(t)))
            return fail(n, "target %g in row %zu is not in [0, %zu)", t, r, x->C);
    }
    return true;
}

/* log(sum_c exp(z[c])) for one row, shifted by the max for stability. */
static double logsumexp(const double *z, size_t C)
{
    double mx = z[0], s = 0;
    for (size_t c = 1; c < C; c++)
        mx = z[c] > mx ? z[c] : mx;
    for (size_t c = 0; c < C; c++)
        s += exp(z[c] - mx);
    return mx + log(s);
}

/* mean over rows of logsumexp(z[r]) - z[r][t[r]]; scalar. */
static bool eval_softmax_xent(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Xent x;
    if (!xent_operands(I, F, n, &x))
        return false;
    double *r = alloc_val(I, F, n, o->n);
    if (!r)
        return false;
    double sum = 0;
    for (size_t i = 0; i < x.rows; i++) {
        const double *z = x.z + i * x.C;
        sum += logsumexp(z, x.C) - z[(size_t)x.t[i]];
    }
    r[0] = sum / (double)x.rows;
    return true;
}

/* out [rows, C] = g * (softmax(z) - onehot(t)) / rows. */
/* Row i of the cross-entropy gradient: scale * (softmax(z_i) - onehot(t_i)). */
static void xent_grad_row(const Xent *x, size_t i, double scale, double *r)
{
    const double *z = x->z + i * x->C;
    double lse = logsumexp(z, x->C);
    for (size_t c = 0; c < x->C; c++)
        r[i * x->C + c] = scale * (exp(z[c] - lse) - (c == (size_t)x->t[i]));
}

static bool eval_softmax_xent_grad(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Xent x;
    Dims dg;
    if (!xent_operands(I, F, n, &x))
        return false;
    const double *g = operand(I, F, n, 2, &dg);
    if (!g)
        return false;
    if (dg.n != 1 || o->n != x.rows * x.C)
        return fail(n, "needs a scalar g and the logits' shape");
    double *r = alloc_val(I, F, n, o->n);
    if (!r)
        return false;
    double scale = g[0] / (double)x.rows;
    for (size_t i = 0; i < x.rows; i++)
        xent_grad_row(&x, i, scale, r);
    return true;
}

/* ---- seq2seq: attention and the masked loss (issue #4) ---- */

/* [..., n] -> [...] */
static bool eval_sum_last(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da;
    const double *A = operand(I, F, n, 0, &da);
    if (!A)
        return false;
    size_t w = last_dim(&da);
    if (da.n != o->n * w)
        return fail(n, "input has %zu elements, not %zu x %zu", da.n, o->n, w);
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < da.n; i++)
        r[i / w] += A[i];
    return r != NULL;
}

/* [...] -> [..., n] */
static bool eval_bcast_last(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims da;
    const double *A = operand(I, F, n, 0, &da);
    if (!A)
        return false;
    size_t w = last_dim(o);
    if (o->n != da.n * w)
        return fail(n, "output has %zu elements, not %zu x %zu", o->n, da.n, w);
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < o->n; i++)
        r[i] = A[i / w];
    return r != NULL;
}

/* Valid lengths must be integers; anything past T counts as T. */
static bool check_lens(const Node *n, const double *len, size_t B)
{
    for (size_t b = 0; b < B; b++)
        if (!(len[b] == floor(len[b]) && fabs(len[b]) < 2147483648.0))
            return fail(n, "length %g of row %zu is not an integer", len[b], b);
    return true;
}

/* The steps t < len of T (check_lens made len an integer). */
static size_t valid_steps(double len, size_t T) { return len <= 0 ? 0 : len >= (double)T ? T : (size_t)len; }

/* scores [T,B], lens [B] -> softmax over t < lens[b], exactly 0 past it. */
static bool eval_masked_softmax_t(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims ds, dl;
    const double *S = operand(I, F, n, 0, &ds);
    const double *len = S ? operand(I, F, n, 1, &dl) : NULL;
    if (!len)
        return false;
    size_t T = ds.d[0], B = ds.d[1];
    if (ds.ndim != 2 || dl.n != B)
        return fail(n, "needs scores [T,B] and B lengths");
    if (!check_lens(n, len, B))
        return false;
    double *r = alloc_val(I, F, n, o->n);
    for (size_t b = 0; r && b < B; b++) {
        size_t L = valid_steps(len[b], T);
        if (L == 0)
            continue;
        double mx = S[b];
        for (size_t t = 1; t < L; t++)
            mx = S[t * B + b] > mx ? S[t * B + b] : mx;
        double sum = 0;
        for (size_t t = 0; t < L; t++)
            sum += r[t * B + b] = exp(S[t * B + b] - mx);
        for (size_t t = 0; t < L; t++)
            r[t * B + b] /= sum;
    }
    return r != NULL;
}

/* y, g [T,B] -> y * (g - sum_t y g) for each b. */
static bool eval_masked_softmax_t_grad(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims dy, dg;
    const double *Y = operand(I, F, n, 0, &dy);
    const double *G = Y ? operand(I, F, n, 1, &dg) : NULL;
    if (!G)
        return false;
    if (dy.ndim != 2 || dg.n != dy.n)
        return fail(n, "needs y and g of the same shape [T,B]");
    size_t T = dy.d[0], B = dy.d[1];
    double *r = alloc_val(I, F, n, o->n);
    for (size_t b = 0; r && b < B; b++) {
        double dot = 0;
        for (size_t t = 0; t < T; t++)
            dot += Y[t * B + b] * G[t * B + b];
        for (size_t t = 0; t < T; t++)
            r[t * B + b] = Y[t * B + b] * (G[t * B + b] - dot);
    }
    return r != NULL;
}

/* Shared by MASKED_XENT and its gradient: SOFTMAX_XENT's operands plus the
 * lengths; `count` is the number of (t,b) with t < lens[b]. */
static bool masked_xent_operands(Interp *I, Frame *F, const Node *n, Xent *x, const double **len, size_t *T,
                                 size_t *B, size_t *count)
{
    Dims dz, dl;
    if (!xent_operands(I, F, n, x) || !(*len = operand(I, F, n, 2, &dl)))
        return false;
    if (!node_dims(I, n->in[0], &dz))
        return false;
    *T = dz.d[0];
    *B = dz.d[1];
    if (dz.ndim != 3 || dl.n != *B)
        return fail(n, "needs logits [T,B,C] and B lengths");
    if (!check_lens(n, *len, *B))
        return false;
    *count = 0;
    for (size_t b = 0; b < *B; b++)
        *count += valid_steps((*len)[b], *T);
    return true;
}

static bool eval_masked_xent(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Xent x;
    const double *len;
    size_t T, B, count;
    if (!masked_xent_operands(I, F, n, &x, &len, &T, &B, &count))
        return false;
    double *r = alloc_val(I, F, n, o->n);
    if (!r)
        return false;
    double sum = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            if ((double)t >= len[b])
                continue;
            const double *z = x.z + (t * B + b) * x.C;
            sum += logsumexp(z, x.C) - z[(size_t)x.t[t * B + b]];
        }
    r[0] = count ? sum / (double)count : 0;
    return true;
}

static bool eval_masked_xent_grad(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Xent x;
    const double *len;
    size_t T, B, count;
    Dims dg;
    if (!masked_xent_operands(I, F, n, &x, &len, &T, &B, &count))
        return false;
    const double *g = operand(I, F, n, 3, &dg);
    if (!g)
        return false;
    if (dg.n != 1 || o->n != x.rows * x.C)
        return fail(n, "needs a scalar g and the logits' shape");
    double *r = alloc_val(I, F, n, o->n);
    if (!r || !count)
        return r != NULL;
    double scale = g[0] / (double)count;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++) {
            if ((double)t >= len[b])
                continue;
            xent_grad_row(&x, t * B + b, scale, r);
        }
    return true;
}

/* lens [B] -> [T,B]: 1 where t < lens[b]. */
static bool eval_len_mask(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    Dims dl;
    const double *len = operand(I, F, n, 0, &dl);
    if (!len)
        return false;
    if (o->ndim != 2 || dl.n != o->d[1])
        return fail(n, "needs B lengths and a [T,B] shape");
    if (!check_lens(n, len, dl.n))
        return false;
    double *r = alloc_val(I, F, n, o->n);
    for (size_t i = 0; r && i < o->n; i++)
        r[i] = (double)(i / o->d[1]) < len[i % o->d[1]];
    return r != NULL;
}

/* ---- scans ---- */

/* Per-run state of one scan: the carried values (current and next). */
typedef struct {
    size_t T;
    size_t *slice;  /* by input: elements of the body ARG */
    double **cur;   /* SCAN_CARRY: the value at this step */
    double **next;  /* SCAN_CARRY: scratch for the next step's value */
} ScanRun;

/* Check each input's outer size against its ARG; copy carry inits. */
static bool scan_bind_inputs(Interp *I, Frame *F, Frame *B, const Node *n, ScanRun *S)
{
    const Scan *s = n->scan;
    for (int i = 0; i < s->nin; i++) {
        Dims da, douter;
        const double *outer = operand(I, F, n, i, &douter);
        if (!outer || !node_dims(I, s->in[i].arg, &da))
            return false;
        size_t want = da.n;
        if (s->in[i].kind == SCAN_SEQ && !size_mul(S->T, da.n, &want))
            return fail(n, "input %d: T * %zu overflows", i, da.n);
        if (douter.n != want)
            return fail(n, "input %d has %zu elements, the body expects %zu", i, douter.n, want);
        S->slice[i] = da.n;
        if (s->in[i].kind == SCAN_INV)
            B->val[s->in[i].arg->id] = (double *)outer;
        if (s->in[i].kind != SCAN_CARRY)
            continue;
        if (!s->in[i].carry_out)
            return fail(n, "carry %d has no next value", i);
        S->cur[i] = arena_array(I->a, da.n, sizeof(double));
        S->next[i] = arena_array(I->a, da.n, sizeof(double));
        memcpy(S->cur[i], outer, da.n * sizeof(double));
    }
    return true;
}

/* Zeroed output buffers: STACK [T, ...], SUM and FINAL the body's shape. */
static bool scan_alloc_outputs(Interp *I, Frame *F, const Node *n, ScanRun *S)
{
    const Scan *s = n->scan;
    double **outs = arena_array(I->a, (size_t)s->nout + 1, sizeof(double *));
    for (int o = 0; o < s->nout; o++) {
        const ScanOut *so = &s->out[o];
        Dims d;
        if (so->kind == SCAN_FINAL) {
            if (so->carry < 0 || so->carry >= s->nin || s->in[so->carry].kind != SCAN_CARRY)
                return fail(n, "output %d: input %d is not carried", o, so->carry);
            d.n = S->slice[so->carry];
        } else if (!so->node || so->node->graph != s->body || !node_dims(I, so->node, &d)) {
            return fail(n, "output %d has no body node", o);
        }
        size_t count = d.n, bytes;
        if (so->kind == SCAN_STACK && !size_mul(S->T, d.n, &count))
            return fail(n, "output %d: T * %zu overflows", o, d.n);
        if (!size_mul(count, sizeof(double), &bytes))
            return fail(n, "output %d: %zu elements do not fit in memory", o, count);
        outs[o] = arena_alloc(I->a, bytes);
    }
    F->outs[n->id] = outs;
    return true;
}

/* Point the body's SEQ args at slice t and its carries at their values. */
static void scan_bind_step(Frame *F, Frame *B, const Node *n, const ScanRun *S, size_t t)
{
    const Scan *s = n->scan;
    for (int i = 0; i < s->nin; i++) {
        int id = s->in[i].arg->id;
        if (s->in[i].kind == SCAN_SEQ)
            B->val[id] = F->val[n->in[i]->id] + t * S->slice[i];
        else if (s->in[i].kind == SCAN_CARRY)
            B->val[id] = S->cur[i];
        B->numel[id] = S->slice[i];
    }
}

/* After step t: stack and sum outputs, then move every carry forward (all
 * copies first: a carry's next value may be another carry's ARG). */
static bool scan_record_step(Frame *F, Frame *B, const Node *n, ScanRun *S, size_t t)
{
    const Scan *s = n->scan;
    double **outs = F->outs[n->id];
    for (int o = 0; o < s->nout; o++) {
        const ScanOut *so = &s->out[o];
        if (so->kind == SCAN_FINAL)
            continue;
        const double *v = B->val[so->node->id];
        size_t k = B->numel[so->node->id];
        if (!v)
            return fail(n, "output %d: body node %%%d has no value", o, so->node->id);
        for (size_t i = 0; i < k; i++)
            if (so->kind == SCAN_STACK)
                outs[o][t * k + i] = v[i];
            else
                outs[o][i] += v[i];
    }
    for (int i = 0; i < s->nin; i++) {
        if (s->in[i].kind != SCAN_CARRY)
            continue;
        const Node *c = s->in[i].carry_out;
        if (c->graph != s->body || !B->val[c->id] || B->numel[c->id] != S->slice[i])
            return fail(n, "carry %d: next value %%%d does not match the carried shape", i, c->id);
        memcpy(S->next[i], B->val[c->id], S->slice[i] * sizeof(double));
    }
    for (int i = 0; i < s->nin; i++)
        if (s->in[i].kind == SCAN_CARRY) {
            double *tmp = S->cur[i];
            S->cur[i] = S->next[i];
            S->next[i] = tmp;
        }
    return true;
}

/* for t in 0..T-1 (T-1..0 if reverse): bind, run the body, record. */
static bool eval_scan(Interp *I, Frame *F, const Node *n)
{
    const Scan *s = n->scan;
    if (!s || !s->body || s->nin != n->nin)
        return fail(n, "malformed scan");
    Frame *B = F->sub[n->id] ? F->sub[n->id] : (F->sub[n->id] = frame_new(I->a, s->body));
    size_t nin = (size_t)s->nin + 1;
    ScanRun S = {(size_t)I->env->T, arena_array(I->a, nin, sizeof(size_t)), arena_array(I->a, nin, sizeof(double *)),
                 arena_array(I->a, nin, sizeof(double *))};
    if (!scan_bind_inputs(I, F, B, n, &S) || !scan_alloc_outputs(I, F, n, &S))
        return false;
    for (size_t k = 0; k < S.T; k++) {
        size_t t = s->reverse ? S.T - 1 - k : k;
        scan_bind_step(F, B, n, &S, t);
        if (!eval_graph(I, B) || !scan_record_step(F, B, n, &S, t))
            return false;
    }
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].kind == SCAN_FINAL)
            memcpy(F->outs[n->id][o], S.cur[s->out[o].carry], S.slice[s->out[o].carry] * sizeof(double));
    F->val[n->id] = NULL;
    F->numel[n->id] = 0;
    return true;
}

/* A view of output `index` of the scan in[0]. */
static bool eval_scan_out(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    (void)I;
    const Node *scan = n->in[0];
    if (scan->op != OP_SCAN || !F->outs[scan->id])
        return fail(n, "input is not a scan that has run");
    if (n->index < 0 || n->index >= scan->scan->nout)
        return fail(n, "the scan has no output #%d", n->index);
    F->val[n->id] = F->outs[scan->id][n->index];
    F->numel[n->id] = o->n;
    F->owned[n->id] = false;
    return true;
}

/* ---- fused elementwise groups (pass_fuse.c) ---- */

/* Bind the body's ARGs to the inputs' values and run the subgraph; its
 * frame is made once and reused, like a scan body's. */
static bool eval_fused(Interp *I, Frame *F, const Node *n)
{
    const Scan *s = n->scan;
    if (!s || !s->body || s->nin != n->nin)
        return fail(n, "malformed fused node");
    Frame *B = F->sub[n->id] ? F->sub[n->id] : (F->sub[n->id] = frame_new(I->a, s->body));
    for (int i = 0; i < s->nin; i++) {
        Dims d, da;
        const double *v = operand(I, F, n, i, &d);
        if (!v || !node_dims(I, s->in[i].arg, &da))
            return false;
        if (da.n != d.n)
            return fail(n, "input %d has %zu elements, the body expects %zu", i, d.n, da.n);
        B->val[s->in[i].arg->id] = (double *)v;
        B->numel[s->in[i].arg->id] = d.n;
    }
    if (!eval_graph(I, B))
        return false;
    F->val[n->id] = NULL;
    F->numel[n->id] = 0;
    return true;
}

/* A view of output `index` of the fused node in[0] (valid until it runs
 * again). */
static bool eval_fused_out(Interp *I, Frame *F, const Node *n, const Dims *o)
{
    (void)I;
    const Node *fu = n->in[0];
    if (fu->op != OP_FUSED || !F->sub[fu->id])
        return fail(n, "input is not a fused node that has run");
    if (n->index < 0 || n->index >= fu->scan->nout)
        return fail(n, "the fused node has no output #%d", n->index);
    const Node *b = fu->scan->out[n->index].node;
    const Frame *B = F->sub[fu->id];
    if (!B->val[b->id] || B->numel[b->id] != o->n)
        return fail(n, "output %d has no value of %zu elements", n->index, o->n);
    F->val[n->id] = B->val[b->id];
    F->numel[n->id] = o->n;
    F->owned[n->id] = false;
    return true;
}

/* ---- driver ---- */

static bool eval_node(Interp *I, Frame *F, const Node *n)
{
    Dims o = {0, {0}, 0};
    if (n->op != OP_SCAN && !node_dims(I, n, &o))
        return false;
    switch (n->op) {
    case OP_PARAM: return eval_param(I, F, n, &o);
    case OP_INPUT: return eval_input(I, F, n, &o);
    case OP_ARG:
        if (!F->val[n->id] || F->numel[n->id] != o.n)
            return fail(n, "argument is not bound by a scan");
        return true;
    case OP_CONST: {
        double *r = alloc_val(I, F, n, o.n);
        for (size_t i = 0; r && i < o.n; i++)
            r[i] = n->value;
        return r != NULL;
    }
    case OP_ZEROS: return alloc_val(I, F, n, o.n) != NULL;
    case OP_ONE_HOT: return eval_one_hot(I, F, n, &o);
    case OP_MATMUL: return eval_matmul(I, F, n, &o);
    case OP_GATHER: return eval_gather(I, F, n, &o);
    case OP_SCATTER_ADD: return eval_scatter_add(I, F, n, &o);
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_TANH_GRAD:
    case OP_SIGMOID_GRAD:
    case OP_RELU_GRAD: return eval_binary(I, F, n, &o);
    case OP_NEG:
    case OP_SIGMOID:
    case OP_TANH:
    case OP_RELU:
    case OP_EXP:
    case OP_GRAD_SCALE: return eval_unary(I, F, n, &o);
    case OP_SUM_TO: return eval_sum_to(I, F, n, &o);
    case OP_DROPOUT: return eval_dropout(I, F, n, &o);
    case OP_CONCAT: return eval_concat(I, F, n, &o);
    case OP_SLICE: return eval_slice(I, F, n, &o);
    case OP_ROW_SCALE: return eval_row_scale(I, F, n, &o);
    case OP_POOL:
    case OP_POOL_GRAD: return eval_pool(I, F, n, &o);
    case OP_SOFTMAX_XENT: return eval_softmax_xent(I, F, n, &o);
    case OP_SOFTMAX_XENT_GRAD: return eval_softmax_xent_grad(I, F, n, &o);
    case OP_SCAN: return eval_scan(I, F, n);
    case OP_SCAN_OUT: return eval_scan_out(I, F, n, &o);
    case OP_FUSED: return eval_fused(I, F, n);
    case OP_FUSED_OUT: return eval_fused_out(I, F, n, &o);
    case OP_SUM_LAST: return eval_sum_last(I, F, n, &o);
    case OP_BCAST_LAST: return eval_bcast_last(I, F, n, &o);
    case OP_MASKED_SOFTMAX_T: return eval_masked_softmax_t(I, F, n, &o);
    case OP_MASKED_SOFTMAX_T_GRAD: return eval_masked_softmax_t_grad(I, F, n, &o);
    case OP_MASKED_XENT: return eval_masked_xent(I, F, n, &o);
    case OP_MASKED_XENT_GRAD: return eval_masked_xent_grad(I, F, n, &o);
    case OP_LEN_MASK: return eval_len_mask(I, F, n, &o);
    case OP__COUNT: break;
    }
    return fail(n, "unknown op %d", (int)n->op);
}

static bool eval_graph(Interp *I, Frame *F)
{
    for (int i = 0; i < F->g->n; i++) {
        const Node *n = F->g->nodes[i];
        for (int k = 0; k < n->nin; k++)
            if (!n->in[k] || n->in[k]->graph != F->g || n->in[k]->id >= i)
                return fail(n, "input %d is not an earlier node of the same graph", k);
        if (!eval_node(I, F, n))
            return false;
    }
    return true;
}

InterpResult *interp_run(Arena *a, const Model *m, const InterpEnv *env)
{
    if (env->B < 1 || env->T < 1 || env->V < 1) {
        fprintf(diag_stream(), "rnnc: error: interp: B, T and V must be positive (got %d, %d, %d)\n", env->B,
                env->T, env->V);
        return NULL;
    }
    Interp I = {a, m, env};
    Frame *F = frame_new(a, m->g);
    if (!eval_graph(&I, F))
        return NULL;
    InterpResult *r = arena_alloc(a, sizeof *r);
    r->val = F->val;
    r->numel = F->numel;
    return r;
}
