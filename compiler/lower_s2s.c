/*
 * lower_s2s.c: a `task: seq2seq` spec -> graph IR (issue #4).
 *
 * The network (d2l's encoder-decoder with Bahdanau attention):
 *
 *   xs       = embed_src[x]                         [T,B,E]  source
 *   enc_l    = scan of `cell` over the layer below  [T,B,H]  l = 0 .. L-1,
 *              from the initial states (graph inputs); a state stays as
 *              it is past the source's valid length (len_mask), so the
 *              final state is the one after the last real token
 *              (PyTorch's packed sequences; bench/s2s_torch.py instead
 *              runs its encoder over the padding)
 *   ys       = embed_tgt[dec_in]                    [T,B,E]  <bos> + y[:-1]
 *   decoder  = ONE scan over the target steps, its carries initialized with
 *              the encoders' final states (layer by layer, state by name):
 *                q     = the top layer's state before the step   [B,H]
 *                score = attention.score(q, k = enc_{L-1})       [T,B]
 *                a     = masked_softmax_t(score, src_len)        [T,B]
 *                c     = pool(enc_{L-1}, a)                      [B,H]
 *                layer 0: decoder.cell(x = ys[t], context = c)
 *                layer l: cell(x = layer l-1's new output)
 *              (without `attention:`, c = the encoder's final top-layer
 *              output, the same at every step)
 *   logits   = top outputs @ W_out + b_out          [T,B,Vt]
 *   loss     = masked_xent(logits, y, tgt_len)      mean over valid tokens
 *
 * Every expression is lowered where its operands live: a subexpression
 * that reads only loop-invariant values (the keys, parameters) is built in
 * the outer graph, once per batch, and enters the decoder's scan as a
 * SCAN_INV input. So the additive score's `k @ W_k` is one GEMM before the
 * scan, and its backward pass sums d(k @ W_k) over the steps and does one
 * GEMM after the reverse scan, instead of a weight gradient per step (a
 * pass after autodiff could hoist the forward but not that). Likewise,
 * without attention, `c @ W_c` is computed once.
 *
 * Names resolve as in lower.c (an earlier equation, a state, the input, a
 * parameter), plus the context in decoder.cell, and the query and keys in
 * the attention score. Functions: those of lower.c and `sum` (over the last
 * axis), which scores need.
 */
#include "graph.h"

#include <math.h>
#include <string.h>

typedef struct {
    const char *name;
    Node *node;     /* outer or body node */
    Loc decl;
    const char *what; /* for notes: "the decoder's top-layer state" */
    bool param, state, used;
} Bind;

typedef struct {
    Node *outer, *arg;
} InvArg;

typedef struct {
    Model *m;
    Spec *spec;
    Graph *g;       /* the outer graph */
    Node *scan;     /* the scan being built, or NULL */
    Graph *body;
    Node *len_mask; /* [T,B,hidden]: 1 where t < src_len[b] */
    Node *attn;     /* the decoder body's attention weights, stacked after the scan */
    Bind *b;
    int nb, capb;
    InvArg *inv;    /* outer values already brought into the scan */
    int ninv, capinv;
    const char *eq;     /* the equation being lowered, for node names */
    const char *suffix; /* appended to C-visible names */
} S2s;

static const char *const functions[] = {"sigmoid", "tanh", "relu", "exp", "sum"};
static const Op function_ops[] = {OP_SIGMOID, OP_TANH, OP_RELU, OP_EXP, OP_SUM_LAST};
enum { NFUNCTIONS = 5 };

/* Names of the parameters the network adds around the cells. */
static const char *const network_params[] = {"W_out", "b_out", "embed_src", "embed_tgt"};
enum { NNETWORK_PARAMS = 4 };

static Bind *lookup(S2s *S, const char *name)
{
    for (int i = S->nb - 1; i >= 0; i--)
        if (strcmp(S->b[i].name, name) == 0)
            return &S->b[i];
    return NULL;
}

static Bind *bind(S2s *S, const char *name, Node *node, Loc decl, const char *what)
{
    S->b = arena_grow(&perm, S->b, &S->capb, S->nb + 1, sizeof(Bind));
    Bind *b = &S->b[S->nb++];
    *b = (Bind){name, node, decl, what, false, false, false};
    return b;
}

/* ---- where values live ---- */

static bool in_body(const S2s *S, const Node *n) { return S->body && n->graph == S->body; }

/* The value of n inside the scan body: body nodes as they are, constants
 * remade, anything else of the outer graph as a (cached) SCAN_INV input. */
static Node *to_body(S2s *S, Node *n)
{
    if (in_body(S, n))
        return n;
    if (n->op == OP_CONST)
        return graph_const(S->body, n->loc, n->value);
    for (int i = 0; i < S->ninv; i++)
        if (S->inv[i].outer == n)
            return S->inv[i].arg;
    Node *arg = scan_add_input(S->scan, SCAN_INV, n);
    S->inv = arena_grow(&perm, S->inv, &S->capinv, S->ninv + 1, sizeof(InvArg));
    S->inv[S->ninv++] = (InvArg){n, arg};
    return arg;
}

/* The graph an op over `in` belongs in: the outer one when no operand is
 * a body value; constants go wherever the other operands are. */
static Graph *home(S2s *S, Node **in, int nin)
{
    bool body = false, outer = false;
    for (int i = 0; i < nin; i++)
        if (in[i]->op != OP_CONST)
            *(in_body(S, in[i]) ? &body : &outer) = true;
    return body || (!outer && S->body && in_body(S, in[0])) ? S->body : S->g;
}

static Node *add_op(S2s *S, Op op, Loc loc, Node **in, int nin)
{
    Graph *g = home(S, in, nin);
    for (int i = 0; i < nin; i++)
        if (g == S->body)
            in[i] = to_body(S, in[i]);
        else if (in[i]->graph != g) /* a constant made in the body, next to outer values */
            in[i] = graph_const(g, in[i]->loc, in[i]->value);
    Node *n = op == OP_MATMUL ? graph_matmul(g, loc, in[0], in[1], false, false) : graph_add(g, op, loc, in, nin);
    if (n && S->eq && !n->name)
        n->name = arena_printf(&perm, "%s_%s%s", S->eq, op_name(op), S->suffix);
    return n;
}

/* ---- expressions ---- */

static void note_operand(S2s *S, const Expr *e, const Node *n)
{
    char sb[64];
    if (e->kind != EX_NAME)
        return;
    Bind *b = lookup(S, e->name);
    if (b && b->what)
        diag_note(b->decl, "'%s' is %s, %s", e->name, b->what, shape_str(n->shape, sb, sizeof sb));
    else if (b)
        diag_note(b->decl, "'%s' has shape %s", e->name, shape_str(n->shape, sb, sizeof sb));
}

static Node *lower_expr(S2s *S, const Expr *e);

static Node *lower_call(S2s *S, const Expr *e)
{
    for (int i = 0; i < NFUNCTIONS; i++)
        if (strcmp(e->name, functions[i]) == 0) {
            Node *a = lower_expr(S, e->lhs);
            if (!a)
                return NULL;
            if (function_ops[i] == OP_SUM_LAST && a->shape.ndim == 0) {
                diag_error(e->loc, "sum() needs a tensor (it sums over the last axis), found a scalar");
                return NULL;
            }
            return add_op(S, function_ops[i], e->loc, &a, 1);
        }
    const char *near = closest_word(e->name, functions, NFUNCTIONS);
    if (near)
        diag_error(e->loc, "unknown function '%s'; did you mean '%s'?", e->name, near);
    else
        diag_error(e->loc, "unknown function '%s' (known: sigmoid, tanh, relu, exp, sum)", e->name);
    return NULL;
}

static Node *lower_name(S2s *S, const Expr *e)
{
    Bind *b = lookup(S, e->name);
    if (b) {
        b->used = true;
        return b->node;
    }
    const char **names = arena_array(&perm, (size_t)S->nb + 1, sizeof(char *));
    for (int i = 0; i < S->nb; i++)
        names[i] = S->b[i].name;
    const char *near = closest_word(e->name, names, S->nb);
    if (near)
        diag_error(e->loc, "undefined name '%s'; did you mean '%s'?", e->name, near);
    else
        diag_error(e->loc, "undefined name '%s' (not a parameter, state, input or earlier equation)", e->name);
    return NULL;
}

static Node *lower_expr(S2s *S, const Expr *e)
{
    switch (e->kind) {
    case EX_NUM:
        return graph_const(S->body ? S->body : S->g, e->loc, e->num);
    case EX_NAME:
        return lower_name(S, e);
    case EX_CALL:
        return lower_call(S, e);
    case EX_NEG: {
        Node *a = lower_expr(S, e->lhs);
        return a ? add_op(S, OP_NEG, e->loc, &a, 1) : NULL;
    }
    case EX_BINOP: {
        Node *in[2];
        in[0] = lower_expr(S, e->lhs);
        in[1] = in[0] ? lower_expr(S, e->rhs) : NULL;
        if (!in[1])
            return NULL;
        Node *a = in[0], *b = in[1];
        Op op = e->op == '@' ? OP_MATMUL : e->op == '+' ? OP_ADD : e->op == '-' ? OP_SUB : OP_MUL;
        Node *n = add_op(S, op, e->loc, in, 2);
        if (!n) {
            note_operand(S, e->lhs, a);
            note_operand(S, e->rhs, b);
        }
        return n;
    }
    }
    DIE("lower_s2s: bad expression kind %d", e->kind);
}

/* Lower one equation; the result is named after its left-hand side. */
static Node *lower_eq(S2s *S, const SpecEq *eq)
{
    S->eq = eq->lhs;
    Node *n = lower_expr(S, eq->rhs);
    S->eq = NULL;
    if (n && n->op != OP_CONST && (!n->name || strncmp(n->name, eq->lhs, strlen(eq->lhs)) == 0)) {
        n->name = arena_printf(&perm, "%s%s", eq->lhs, S->suffix);
        n->text = eq->text;
    }
    return n;
}

/* ---- parameters ---- */

static int add_param(Model *m, const char *name, Loc loc, Shape shape, InitKind init, double arg)
{
    m->params = arena_grow(&perm, m->params, &m->cap_params, m->nparams + 1, sizeof(Param));
    m->params[m->nparams] = (Param){name, loc, shape, init, arg, true};
    return m->nparams++;
}

static Node *param_node(S2s *S, int i)
{
    const Param *p = &S->m->params[i];
    Node *n = graph_leaf(S->g, OP_PARAM, p->loc, p->shape, DT_REAL, i);
    n->name = p->name;
    return n;
}

/* `input` is the width of what the cell reads; `hidden` the network's. */
static bool param_shape(const Spec *s, const SpecParam *sp, int input, Shape *out)
{
    *out = shape0();
    out->ndim = sp->ndim;
    for (int k = 0; k < sp->ndim; k++) {
        const SpecDim *d = &sp->dims[k];
        out->d[k] = !d->sym ? (int)d->value : strcmp(d->sym, "hidden") == 0 ? s->hidden : input;
    }
    long long n = 1;
    for (int k = 0; k < sp->ndim; k++)
        n *= out->d[k];
    if (n > 0x7fffffff) {
        diag_error(sp->loc, "parameter '%s' has %lld elements, more than the 2147483647 BLAS can index", sp->name, n);
        return false;
    }
    return true;
}

/* Declare params (suffixed in C) and bind them under their spec names. */
static bool bind_params(S2s *S, const SpecParam *ps, int np, int input)
{
    bool ok = true;
    for (int i = 0; i < np; i++) {
        const SpecParam *sp = &ps[i];
        for (int k = 0; k < NNETWORK_PARAMS; k++)
            if (strcmp(sp->name, network_params[k]) == 0) {
                diag_error(sp->loc, "'%s' is the name of a parameter of the network around the cells; rename this one",
                           sp->name);
                ok = false;
            }
        Shape sh;
        if (!param_shape(S->spec, sp, input, &sh)) {
            ok = false;
            continue;
        }
        const char *name = *S->suffix ? arena_printf(&perm, "%s%s", sp->name, S->suffix) : sp->name;
        int idx = add_param(S->m, name, sp->loc, sh, sp->init, sp->init_arg);
        bind(S, sp->name, param_node(S, idx), sp->loc, NULL)->param = true;
    }
    return ok;
}

static void warn_unused_params(S2s *S, int from)
{
    for (int i = from; i < S->nb; i++)
        if (S->b[i].param && !S->b[i].used)
            diag_warning(S->b[i].decl, "parameter '%s' is not used by any equation; it will not be trained",
                         S->b[i].name);
}

/* ---- one step of a cell inside a scan body ----
 * prev[k]: state k before the step (body values); next[k] gets the value
 * after it. ctx (may be NULL) is bound as `ctx_name`. */
typedef struct {
    const SpecCell *c;
    int input;              /* width of x */
    Node *x;
    const char *ctx_name;
    Node *ctx;
    Loc ctx_loc;
    Node **prev, **next;
    bool warn;              /* report unused parameters (once per cell spec) */
} CellStep;

static bool lower_cell_step(S2s *S, CellStep *cs)
{
    const SpecCell *c = cs->c;
    int mark = S->nb;
    bool ok = bind_params(S, c->params, c->nparams, cs->input);
    bind(S, c->input, cs->x, c->input_loc, NULL)->used = true;
    if (cs->ctx)
        bind(S, cs->ctx_name, cs->ctx, cs->ctx_loc, "the attention context");
    bool set[MAX_STATES] = {false};
    for (int k = 0; k < c->nstate; k++)
        bind(S, c->state[k], cs->prev[k], c->state_locs[k], NULL)->state = true;
    for (int i = 0; ok && i < c->neqs; i++) {
        const SpecEq *eq = &c->eqs[i];
        int state = -1;
        for (int k = 0; k < c->nstate; k++)
            if (strcmp(c->state[k], eq->lhs) == 0)
                state = k;
        Bind *prev = lookup(S, eq->lhs);
        if (prev && S->b + mark <= prev && (state < 0 || set[state])) {
            diag_error(eq->loc, "'%s' is already defined", eq->lhs);
            diag_note(prev->decl, "'%s' was defined here", eq->lhs);
            ok = false;
            break;
        }
        Node *n = lower_eq(S, eq);
        if (!n) {
            ok = false;
            break;
        }
        bind(S, eq->lhs, n, eq->loc, NULL);
        if (state >= 0) {
            set[state] = true;
            cs->next[state] = n;
        }
    }
    for (int k = 0; ok && k < c->nstate; k++) {
        Shape want = shape2(DIM_B, S->spec->hidden);
        Bind *b = lookup(S, c->state[k]);
        if (!set[k]) {
            diag_error(c->state_locs[k], "state '%s' is never updated by the cell's equations", c->state[k]);
            ok = false;
        } else if (!shape_eq(b->node->shape, want)) {
            char s1[64], s2[64];
            diag_error(b->decl, "state '%s' must have shape %s (batch x hidden), but its equation gives %s",
                       c->state[k], shape_str(want, s1, sizeof s1), shape_str(b->node->shape, s2, sizeof s2));
            ok = false;
        } else {
            cs->next[k] = to_body(S, b->node); /* a state that ignores the step is still carried */
        }
    }
    if (ok && cs->warn) {
        warn_unused_params(S, mark);
        Bind *ctx = cs->ctx ? lookup(S, cs->ctx_name) : NULL;
        if (ctx && !ctx->used)
            diag_warning(cs->ctx_loc, "the decoder cell never reads the context '%s'", cs->ctx_name);
    }
    S->nb = mark;
    return ok;
}

static int output_state(const SpecCell *c)
{
    for (int k = 0; k < c->nstate; k++)
        if (strcmp(c->state[k], c->output) == 0)
            return k;
    return 0;
}

static Node *gather(Graph *g, Loc loc, Node *table, Node *ids, const char *name)
{
    Shape sh = ids->shape;
    sh.d[sh.ndim++] = table->shape.d[1];
    Node *n = graph_leaf(g, OP_GATHER, loc, sh, DT_REAL, 0);
    n->in = arena_array(&perm, 2, sizeof(Node *));
    n->in[0] = table;
    n->in[1] = ids;
    n->nin = 2;
    n->name = name;
    return n;
}

static void begin_scan(S2s *S, Loc loc, const char *name)
{
    S->scan = graph_scan(S->g, loc, name, false);
    S->body = S->scan->scan->body;
    S->ninv = 0;
}

/* Outer nodes made while the body was built come after the scan node:
 * move it after them, before anything reads its outputs. */
static void end_scan(S2s *S)
{
    graph_move_to_end(S->g, S->scan);
}

/* ---- the encoder: one scan of `cell` per layer ---- */

typedef struct {
    Node *out;                 /* [T,B,H] stacked output */
    Node *final[MAX_STATES];   /* each state after the last step */
} Layer;

static bool lower_encoder_layer(S2s *S, int l, int layers, Node *in, int in_width, Layer *out)
{
    Model *m = S->m;
    const SpecCell *c = &S->spec->cell;
    S->suffix = layers > 1 ? arena_printf(&perm, "_enc_l%d", l) : "_enc";
    int s0 = m->nstates;
    for (int k = 0; k < c->nstate; k++) {
        Node *s = graph_leaf(S->g, OP_INPUT, c->state_locs[k], shape2(DIM_B, S->spec->hidden), DT_REAL,
                             INPUT_STATE + s0 + k);
        s->name = arena_printf(&perm, "%s0%s", c->state[k], S->suffix);
        m->state_in[s0 + k] = s;
        m->state_size += S->spec->hidden;
    }
    m->nstates += c->nstate;
    begin_scan(S, c->loc, arena_printf(&perm, "%s (encoder)", c->name));
    Node *x = scan_add_input(S->scan, SCAN_SEQ, in);
    Node *prev[MAX_STATES], *next[MAX_STATES];
    int carry[MAX_STATES];
    for (int k = 0; k < c->nstate; k++) {
        carry[k] = S->scan->scan->nin;
        prev[k] = scan_add_input(S->scan, SCAN_CARRY, m->state_in[s0 + k]);
        prev[k]->name = arena_printf(&perm, "%s_prev%s", c->state[k], S->suffix);
    }
    CellStep cs = {c, in_width, x, NULL, NULL, c->loc, prev, next, l == 0};
    if (!lower_cell_step(S, &cs))
        return false;
    /* Past a source's valid length the state stays as it was: keep =
     * mask * new + (1 - mask) * old is exactly new or old, so padding the
     * source changes neither the final state nor any gradient. */
    Node *mask = scan_add_input(S->scan, SCAN_SEQ, S->len_mask);
    Node *keep = graph_add2(S->body, OP_SUB, c->loc, graph_const(S->body, c->loc, 1), mask);
    for (int k = 0; k < c->nstate; k++) {
        Node *a = graph_add2(S->body, OP_MUL, c->loc, next[k], mask);
        Node *b = graph_add2(S->body, OP_MUL, c->loc, prev[k], keep);
        next[k] = graph_add2(S->body, OP_ADD, c->loc, a, b);
        next[k]->name = arena_printf(&perm, "%s%s", c->state[k], S->suffix);
        scan_set_carry_out(S->scan, carry[k], next[k]);
    }
    end_scan(S);
    out->out = scan_add_output(S->scan, SCAN_STACK, next[output_state(c)], 0);
    for (int k = 0; k < c->nstate; k++)
        m->state_out[s0 + k] = out->final[k] = scan_add_output(S->scan, SCAN_FINAL, NULL, carry[k]);
    S->body = NULL;
    S->scan = NULL;
    return true;
}

/* ---- the decoder ---- */

/* The encoder state layer l hands to a decoder cell's state `name`. */
static Node *decoder_init(S2s *S, const Layer *enc, int l, const SpecCell *dc, int k)
{
    const SpecCell *ec = &S->spec->cell;
    for (int j = 0; j < ec->nstate; j++)
        if (strcmp(ec->state[j], dc->state[k]) == 0)
            return enc[l].final[j];
    diag_error(dc->state_locs[k], "the decoder's state '%s' has no encoder state of the same name to start from",
               dc->state[k]);
    diag_note(ec->loc, "the encoder cell '%s' is declared here", ec->name);
    return NULL;
}

/* score(q, k) -> the context [B,H], inside the decoder's body. */
static Node *lower_attention(S2s *S, Node *q, Node *keys)
{
    const SpecAttention *at = &S->spec->attn;
    int mark = S->nb;
    S->suffix = "";
    bool ok = bind_params(S, at->params, at->nparams, S->spec->hidden);
    bind(S, at->query, q, at->query_loc, "the decoder's top-layer state before the step")->used = true;
    bind(S, at->keys, keys, at->keys_loc, "the encoder's top-layer outputs")->used = true;
    Node *score = ok ? lower_eq(S, &at->score) : NULL;
    if (score && !shape_eq(score->shape, shape2(DIM_T, DIM_B))) {
        char sb[64];
        diag_error(at->score.loc, "the attention score must have shape [T,B] (one score per source step), but "
                   "its equation gives %s", shape_str(score->shape, sb, sizeof sb));
        if (score->shape.ndim == 3)
            diag_note(at->score.loc, "sum(...) adds up the last axis");
        score = NULL;
    }
    if (score)
        warn_unused_params(S, mark);
    S->nb = mark;
    if (!score)
        return NULL;
    Node *a = graph_add2(S->body, OP_MASKED_SOFTMAX_T, at->score.loc, to_body(S, score), to_body(S, S->m->src_len));
    a->name = "attention";
    S->attn = a;
    Node *ctx = graph_add2(S->body, OP_POOL, at->loc, to_body(S, keys), a);
    ctx->name = "context";
    return ctx;
}

typedef struct {
    int carry[MAX_STATES];
    Node *prev[MAX_STATES], *next[MAX_STATES];
} LayerCarry;

static Node *lower_decoder(S2s *S, const Layer *enc, int layers, Node *ys)
{
    const Spec *spec = S->spec;
    const SpecCell *top_enc = &spec->cell;
    LayerCarry *lc = arena_array(&perm, (size_t)layers, sizeof(LayerCarry));
    begin_scan(S, spec->decoder_loc, arena_printf(&perm, "%s (decoder)", spec->dec_cell.name));
    Node *x = scan_add_input(S->scan, SCAN_SEQ, ys);
    for (int l = 0; l < layers; l++) {
        const SpecCell *c = l == 0 ? &spec->dec_cell : &spec->cell;
        const char *suffix = layers > 1 ? arena_printf(&perm, "_dec_l%d", l) : "_dec";
        for (int k = 0; k < c->nstate; k++) {
            Node *init = decoder_init(S, enc, l, c, k);
            if (!init)
                return NULL;
            lc[l].carry[k] = S->scan->scan->nin;
            lc[l].prev[k] = scan_add_input(S->scan, SCAN_CARRY, init);
            lc[l].prev[k]->name = arena_printf(&perm, "%s_prev%s", c->state[k], suffix);
        }
    }
    const SpecCell *top = layers == 1 ? &spec->dec_cell : &spec->cell;
    Node *q = lc[layers - 1].prev[output_state(top)];
    Node *ctx;
    if (spec->has_attention)
        ctx = lower_attention(S, q, enc[layers - 1].out);
    else
        ctx = enc[layers - 1].final[output_state(top_enc)];
    if (!ctx)
        return NULL;
    Node *in = x;
    for (int l = 0; l < layers; l++) {
        const SpecCell *c = l == 0 ? &spec->dec_cell : &spec->cell;
        S->suffix = layers > 1 ? arena_printf(&perm, "_dec_l%d", l) : "_dec";
        CellStep cs = {c, l == 0 ? spec->embed_dim : spec->hidden, in, NULL, NULL, spec->dec_context_loc,
                       lc[l].prev, lc[l].next, l == 0};
        if (l == 0) {
            cs.ctx_name = spec->dec_context;
            cs.ctx = ctx;
        }
        if (!lower_cell_step(S, &cs))
            return NULL;
        for (int k = 0; k < c->nstate; k++)
            scan_set_carry_out(S->scan, lc[l].carry[k], lc[l].next[k]);
        in = lc[l].next[output_state(c)];
    }
    end_scan(S);
    S->m->decoder = S->scan;
    Node *hs = scan_add_output(S->scan, SCAN_STACK, in, 0);
    if (S->attn)
        S->m->attention = scan_add_output(S->scan, SCAN_STACK, S->attn, 0);
    S->body = NULL;
    S->scan = NULL;
    return hs;
}

/* ---- the model ---- */

static bool check_supported(const Spec *s)
{
    bool ok = true;
    if (s->tokens != TOK_WORD) {
        diag_error(s->tokens_loc, "'task: seq2seq' reads sentence pairs as words (d2l's preprocessing); use "
                   "'tokens: word'");
        ok = false;
    }
    if (s->input != INPUT_EMBED) {
        diag_error(s->input_loc, "'task: seq2seq' needs 'network.input: {embed: N}' (source and target have "
                   "vocabularies of their own)");
        ok = false;
    }
    if (s->dropout > 0) {
        diag_error(s->dropout_loc, "'network.dropout' above 0 is not supported yet");
        ok = false;
    }
    if (s->bidirectional) {
        diag_error(s->bidirectional_loc, "'network.bidirectional: true' is not supported yet");
        ok = false;
    }
    int layers = s->layers > 0 ? s->layers : 1;
    int n = layers * s->cell.nstate;
    if (n > MAX_STATES) {
        diag_error(s->layers_loc, "%d layers of a cell with %d states carry %d states; at most %d are supported",
                   layers, s->cell.nstate, n, MAX_STATES);
        ok = false;
    }
    return ok;
}

static Node *input(Graph *g, Loc loc, Shape sh, int index, const char *name)
{
    Node *n = graph_leaf(g, OP_INPUT, loc, sh, DT_INT, index);
    n->name = name;
    return n;
}

static Node *embedding(S2s *S, const char *name, int vocab, Node *ids)
{
    const Spec *spec = S->spec;
    int i = add_param(S->m, name, spec->input_loc, shape2(vocab, spec->embed_dim), INIT_NORMAL, 1.0);
    return gather(S->g, spec->input_loc, param_node(S, i), ids, arena_printf(&perm, "%s_x", name));
}

Model *lower_s2s(Arena *a, Spec *spec)
{
    if (!check_supported(spec))
        return NULL;
    Model *m = arena_alloc(a, sizeof *m);
    m->spec = spec;
    m->g = graph_new(a, NULL);
    S2s S = {.m = m, .spec = spec, .g = m->g, .suffix = ""};
    Graph *g = m->g;
    int errors0 = diag_error_count();
    int layers = spec->layers > 0 ? spec->layers : 1;

    m->x = input(g, spec->task_loc, shape2(DIM_T, DIM_B), INPUT_X, "src");
    m->y = input(g, spec->task_loc, shape2(DIM_T, DIM_B), INPUT_Y, "tgt");
    m->dec_in = input(g, spec->task_loc, shape2(DIM_T, DIM_B), INPUT_DEC_IN, "dec_in");
    m->src_len = input(g, spec->task_loc, shape1(DIM_B), INPUT_SRC_LEN, "src_len");
    m->tgt_len = input(g, spec->task_loc, shape1(DIM_B), INPUT_TGT_LEN, "tgt_len");

    S.len_mask = graph_leaf(g, OP_LEN_MASK, spec->task_loc, shape3(DIM_T, DIM_B, spec->hidden), DT_REAL, 0);
    S.len_mask->in = arena_array(&perm, 1, sizeof(Node *));
    S.len_mask->in[0] = m->src_len;
    S.len_mask->nin = 1;
    S.len_mask->name = "src_mask";
    Layer *enc = arena_array(&perm, (size_t)layers, sizeof(Layer));
    Node *in = embedding(&S, "embed_src", DIM_V, m->x);
    for (int l = 0; l < layers; l++) {
        if (!lower_encoder_layer(&S, l, layers, in, l == 0 ? spec->embed_dim : spec->hidden, &enc[l]))
            return NULL;
        in = enc[l].out;
    }
    Node *ys = embedding(&S, "embed_tgt", DIM_VT, m->dec_in);
    Node *hs = lower_decoder(&S, enc, layers, ys);
    if (!hs)
        return NULL;

    int iw = add_param(m, "W_out", spec->network_loc, shape2(spec->hidden, DIM_VT), INIT_DEFAULT, 0);
    int ib = add_param(m, "b_out", spec->network_loc, shape1(DIM_VT), INIT_DEFAULT, 0);
    Node *z = graph_matmul(g, spec->network_loc, hs, param_node(&S, iw), false, false);
    m->logits = graph_add2(g, OP_ADD, spec->network_loc, z, param_node(&S, ib));
    m->logits->name = "logits";
    Node *loss_in[3] = {m->logits, m->y, m->tgt_len};
    m->loss = graph_add(g, OP_MASKED_XENT, spec->task_loc, loss_in, 3);
    m->loss->name = "loss";
    m->nforward = g->n;

    /* Default init: U(-1/sqrt(hidden), 1/sqrt(hidden)), as lower.c. */
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].init == INIT_DEFAULT) {
            m->params[i].init = INIT_UNIFORM;
            m->params[i].init_arg = 1.0 / sqrt((double)spec->hidden);
        }
    if (diag_error_count() > errors0)
        return NULL;
    graph_verify(g);
    return m;
}

/* ---- decoding: one decoder step as a graph of its own ----
 * The training graph's decoder body already is one step: copy it, with
 * its arguments replaced by the step's inputs. The sequence input (the
 * target embeddings) becomes embed_tgt[prev]; carries become state inputs;
 * parameters stay parameters; other invariants (keys, key projection,
 * source lengths) become inputs the caller fills from the encoder. */
S2sStep *s2s_step(Arena *a, const Model *train)
{
    const Node *dec = train->decoder;
    const Scan *s = dec->scan;
    S2sStep *st = arena_alloc(a, sizeof *st);
    Model *m = arena_alloc(a, sizeof *m);
    *m = (Model){.spec = train->spec, .params = train->params, .nparams = train->nparams};
    m->g = graph_new(a, NULL);
    st->m = m;
    st->inv_src = arena_array(a, (size_t)s->nin + 1, sizeof(Node *));
    Graph *g = m->g, *body = s->body;
    Node **map = arena_array(&perm, (size_t)body->n + 1, sizeof(Node *));
    st->prev = graph_leaf(g, OP_INPUT, dec->loc, shape1(DIM_B), DT_INT, INPUT_DEC_IN);
    st->prev->name = "prev";
    for (int i = 0; i < s->nin; i++) {
        Node *outer = dec->in[i], *arg = s->in[i].arg, *v;
        if (s->in[i].kind == SCAN_SEQ) { /* gather(embed_tgt, dec_in) */
            if (outer->op != OP_GATHER || outer->in[0]->op != OP_PARAM)
                DIE("s2s_step: the decoder's sequence input is not an embedding");
            Node *E = graph_clone_node(g, outer->in[0], NULL);
            v = gather(g, outer->loc, E, st->prev, outer->name);
        } else if (s->in[i].kind == SCAN_CARRY) {
            int k = st->nstates++;
            v = graph_leaf(g, OP_INPUT, arg->loc, arg->shape, DT_REAL, INPUT_STATE + k);
            st->state_init[k] = outer;
            st->state_in[k] = v;
        } else if (outer->op == OP_PARAM) {
            v = graph_clone_node(g, outer, NULL);
        } else {
            int j = st->ninv++;
            v = graph_leaf(g, OP_INPUT, arg->loc, arg->shape, arg->dtype, INPUT_STEP_INV + j);
            st->inv_src[j] = outer;
        }
        v->name = arg->name;
        map[arg->id] = v;
    }
    for (int i = 0; i < body->n; i++) {
        Node *n = body->nodes[i], *in[8];
        if (n->op == OP_ARG)
            continue;
        if (n->nin > 8)
            DIE("s2s_step: %s with %d inputs", op_name(n->op), n->nin);
        for (int k = 0; k < n->nin; k++)
            in[k] = map[n->in[k]->id];
        map[i] = graph_clone_node(g, n, in);
    }
    for (int i = 0, k = 0; i < s->nin; i++)
        if (s->in[i].kind == SCAN_CARRY)
            st->state_out[k++] = map[s->in[i].carry_out->id];
    /* logits = h @ W_out + b_out, as the training graph's */
    const Node *z = train->logits->in[0];
    Node *h = map[s->out[0].node->id];
    Node *W = graph_clone_node(g, z->in[1], NULL), *bo = graph_clone_node(g, train->logits->in[1], NULL);
    st->logits = graph_add2(g, OP_ADD, train->logits->loc, graph_matmul(g, z->loc, h, W, false, false), bo);
    st->logits->name = "logits";
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].node && s->out[o].node->op == OP_MASKED_SOFTMAX_T)
            st->attention = map[s->out[o].node->id];
    m->logits = st->logits;
    m->nforward = g->n;
    graph_verify(g);
    return st;
}
