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
 * Every expression is lowered where its operands live (lower_expr.c): a
 * subexpression that reads only loop-invariant values (the keys,
 * parameters) is built in the outer graph, once per batch, and enters the decoder's scan as a
 * SCAN_INV input. So the additive score's `k @ W_k` is one GEMM before the
 * scan, and its backward pass sums d(k @ W_k) over the steps and does one
 * GEMM after the reverse scan, instead of a weight gradient per step (a
 * pass after autodiff could hoist the forward but not that). Likewise,
 * without attention, `c @ W_c` is computed once.
 *
 * Names resolve as in lower_cell.c (an earlier equation, a state, the input, a
 * parameter), plus the context in decoder.cell, and the query and keys in
 * the attention score. Functions: those of lower_expr.c, and in the score `sum`
 * (over the last axis), which reduces [T,B,n] to the [T,B] a score is.
 */
#include "lower.h"
#include "passes.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    Model *m;
    Spec *spec;
    Scope E;        /* the graph, the scan being built, the names in scope */
    Node *len_mask; /* [T,B]: 1 where t < src_len[b] */
    Node *attn;     /* the decoder body's attention weights, stacked after the scan */
} S2s;

/* Names of the parameters the network adds around the cells. */
static const char *const network_params[] = {"W_out", "b_out", "embed_src", "embed_tgt"};
enum { NNETWORK_PARAMS = 4 };

/* ---- parameters ---- */

static Node *param_node(S2s *S, int i)
{
    const Param *p = &S->m->params[i];
    Node *n = graph_leaf(S->E.g, OP_PARAM, p->loc, p->shape, DT_REAL, i);
    n->name = p->name;
    return n;
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
        Shape sh = lower_param_shape(sp, input, S->spec->hidden);
        const char *name = *S->E.suffix ? arena_printf(&perm, "%s%s", sp->name, S->E.suffix) : sp->name;
        int idx = model_add_param(S->m, name, sp->loc, sh, sp->init, sp->init_arg);
        ok &= lower_check_param_size(&S->m->params[idx], sp->name);
        scope_bind(&S->E, sp->name, param_node(S, idx), sp->loc, NULL)->param = idx;
    }
    return ok;
}

static void warn_unused_params(S2s *S, int from)
{
    for (int i = from; i < S->E.nb; i++)
        if (S->E.b[i].param >= 0 && !S->E.b[i].used)
            diag_warning(S->E.b[i].decl, "parameter '%s' is not used by any equation; it will not be trained",
                         S->E.b[i].name);
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
    int mark = S->E.nb;
    bool ok = bind_params(S, c->params, c->nparams, cs->input);
    scope_bind(&S->E, c->input, cs->x, c->input_loc, NULL)->used = true;
    if (cs->ctx)
        scope_bind(&S->E, cs->ctx_name, cs->ctx, cs->ctx_loc, "the attention context");
    bool set[MAX_STATES] = {false};
    for (int k = 0; k < c->nstate; k++)
        scope_bind(&S->E, c->state[k], cs->prev[k], c->state_locs[k], NULL)->state = k;
    ok = ok && lower_cell_equations(&S->E, c, mark, set);
    for (int k = 0; ok && k < c->nstate; k++) {
        Node *v = lower_state_value(&S->E, S->spec, c, k, set);
        if (v)
            cs->next[k] = scope_to_body(&S->E, v); /* a state that ignores the step is still carried */
        ok = v != NULL;
    }
    if (ok && cs->warn) {
        warn_unused_params(S, mark);
        Binding *ctx = cs->ctx ? scope_lookup(&S->E, cs->ctx_name) : NULL;
        if (ctx && !ctx->used)
            diag_warning(cs->ctx_loc, "the decoder cell never reads the context '%s'", cs->ctx_name);
    }
    S->E.nb = mark;
    return ok;
}

static int output_state(const SpecCell *c)
{
    int k = cell_state_index(c, c->output);
    return k < 0 ? 0 : k;
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
    scope_begin_scan(&S->E, graph_scan(S->E.g, loc, name, false));
}

/* Outer nodes made while the body was built come after the scan node:
 * move it after them, before anything reads its outputs. */
static void end_scan(S2s *S)
{
    graph_move_to_end(S->E.g, S->E.scan);
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
    S->E.suffix = layers > 1 ? arena_printf(&perm, "_enc_l%d", l) : "_enc";
    int s0 = m->nstates;
    lower_state_inputs(m, c, S->E.suffix);
    begin_scan(S, c->loc, arena_printf(&perm, "%s (encoder)", c->name));
    Node *x = scan_add_input(S->E.scan, SCAN_SEQ, in);
    Node *prev[MAX_STATES], *next[MAX_STATES];
    int carry[MAX_STATES];
    for (int k = 0; k < c->nstate; k++) {
        carry[k] = S->E.scan->scan->nin;
        prev[k] = scan_add_input(S->E.scan, SCAN_CARRY, m->state_in[s0 + k]);
        prev[k]->name = arena_printf(&perm, "%s_prev%s", c->state[k], S->E.suffix);
    }
    CellStep cs = {c, in_width, x, NULL, NULL, c->loc, prev, next, l == 0};
    if (!lower_cell_step(S, &cs))
        return false;
    /* Past a source's valid length the state stays as it was, as in a
     * classifier's padded rows: padding the source changes neither the
     * final state nor any gradient. */
    for (int k = 0; k < c->nstate; k++)
        scan_set_carry_out(S->E.scan, carry[k], next[k]);
    lower_mask_states(S->E.scan, carry, c, S->len_mask, S->E.suffix);
    for (int k = 0; k < c->nstate; k++)
        next[k] = S->E.scan->scan->in[carry[k]].carry_out;
    end_scan(S);
    out->out = scan_add_output(S->E.scan, SCAN_STACK, next[output_state(c)], 0);
    for (int k = 0; k < c->nstate; k++)
        m->state_out[s0 + k] = out->final[k] = scan_add_output(S->E.scan, SCAN_FINAL, NULL, carry[k]);
    S->E.body = NULL;
    S->E.scan = NULL;
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
    int mark = S->E.nb;
    S->E.suffix = "";
    bool ok = bind_params(S, at->params, at->nparams, S->spec->hidden);
    scope_bind(&S->E, at->query, q, at->query_loc, "the decoder's top-layer state before the step")->used = true;
    scope_bind(&S->E, at->keys, keys, at->keys_loc, "the encoder's top-layer outputs")->used = true;
    S->E.sum = true; /* a score sums over the key's last axis */
    Node *score = ok ? lower_eq(&S->E, &at->score) : NULL;
    S->E.sum = false;
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
    S->E.nb = mark;
    if (!score)
        return NULL;
    Node *a = graph_add2(S->E.body, OP_MASKED_SOFTMAX_T, at->score.loc, scope_to_body(&S->E, score), scope_to_body(&S->E, S->m->src_len));
    a->name = "attention";
    S->attn = a;
    Node *ctx = graph_add2(S->E.body, OP_POOL, at->loc, scope_to_body(&S->E, keys), a);
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
    Node *x = scan_add_input(S->E.scan, SCAN_SEQ, ys);
    for (int l = 0; l < layers; l++) {
        const SpecCell *c = l == 0 ? &spec->dec_cell : &spec->cell;
        const char *suffix = layers > 1 ? arena_printf(&perm, "_dec_l%d", l) : "_dec";
        for (int k = 0; k < c->nstate; k++) {
            Node *init = decoder_init(S, enc, l, c, k);
            if (!init)
                return NULL;
            lc[l].carry[k] = S->E.scan->scan->nin;
            lc[l].prev[k] = scan_add_input(S->E.scan, SCAN_CARRY, init);
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
        S->E.suffix = layers > 1 ? arena_printf(&perm, "_dec_l%d", l) : "_dec";
        CellStep cs = {c, l == 0 ? spec->embed_dim : spec->hidden, in, NULL, NULL, spec->dec_context_loc,
                       lc[l].prev, lc[l].next, l == 0};
        if (l == 0) {
            cs.ctx_name = spec->dec_context;
            cs.ctx = ctx;
        }
        if (!lower_cell_step(S, &cs))
            return NULL;
        for (int k = 0; k < c->nstate; k++)
            scan_set_carry_out(S->E.scan, lc[l].carry[k], lc[l].next[k]);
        in = lc[l].next[output_state(c)];
    }
    end_scan(S);
    S->m->decoder = S->E.scan;
    Node *hs = scan_add_output(S->E.scan, SCAN_STACK, in, 0);
    if (S->attn)
        S->m->attention = scan_add_output(S->E.scan, SCAN_STACK, S->attn, 0);
    S->E.body = NULL;
    S->E.scan = NULL;
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

static Node *int_input(Graph *g, Loc loc, Shape sh, int index, const char *name)
{
    Node *n = graph_leaf(g, OP_INPUT, loc, sh, DT_INT, index);
    n->name = name;
    return n;
}

static Node *embedding(S2s *S, const char *name, int vocab, Node *ids)
{
    const Spec *spec = S->spec;
    int i = model_add_param(S->m, name, spec->input_loc, shape2(vocab, spec->embed_dim), INIT_NORMAL, 1.0);
    return gather(S->E.g, spec->input_loc, param_node(S, i), ids, arena_printf(&perm, "%s_x", name));
}

Model *lower_s2s(Arena *a, Spec *spec)
{
    if (!check_supported(spec))
        return NULL;
    Model *m = arena_alloc(a, sizeof *m);
    m->spec = spec;
    m->g = graph_new(a, NULL);
    S2s S = {.m = m, .spec = spec, .E = {.g = m->g, .suffix = ""}};
    Graph *g = m->g;
    int errors0 = diag_error_count();
    int layers = spec->layers > 0 ? spec->layers : 1;

    m->x = int_input(g, spec->task_loc, shape2(DIM_T, DIM_B), INPUT_X, "src");
    m->y = int_input(g, spec->task_loc, shape2(DIM_T, DIM_B), INPUT_Y, "tgt");
    m->dec_in = int_input(g, spec->task_loc, shape2(DIM_T, DIM_B), INPUT_DEC_IN, "dec_in");
    m->src_len = int_input(g, spec->task_loc, shape1(DIM_B), INPUT_SRC_LEN, "src_len");
    m->tgt_len = int_input(g, spec->task_loc, shape1(DIM_B), INPUT_TGT_LEN, "tgt_len");

    S.len_mask = graph_leaf(g, OP_LEN_MASK, spec->task_loc, shape2(DIM_T, DIM_B), DT_REAL, 0);
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

    int iw = model_add_param(m, "W_out", spec->network_loc, shape2(spec->hidden, DIM_VT), INIT_DEFAULT, 0);
    int ib = model_add_param(m, "b_out", spec->network_loc, shape1(DIM_VT), INIT_DEFAULT, 0);
    Node *z = graph_matmul(g, spec->network_loc, hs, param_node(&S, iw), false, false);
    m->logits = graph_add2(g, OP_ADD, spec->network_loc, z, param_node(&S, ib));
    m->logits->name = "logits";
    Node *loss_in[3] = {m->logits, m->y, m->tgt_len};
    m->loss = graph_add(g, OP_MASKED_XENT, spec->task_loc, loss_in, 3);
    m->loss->name = "loss";
    return lower_finish(m, errors0);
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
    st->state_init = arena_array(a, MAX_STATES, sizeof(Node *));
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
    st->state_out = m->roots = arena_array(a, (size_t)st->nstates + 1, sizeof(Node *));
    m->nroots = st->nstates;
    for (int i = 0, k = 0; i < s->nin; i++)
        if (s->in[i].kind == SCAN_CARRY)
            st->state_out[k++] = map[s->in[i].carry_out->id];
    /* logits = h @ W_out + b_out, as the training graph's */
    const Node *z = train->logits->in[0];
    Node *h = map[s->out[0].node->id];
    Node *W = graph_clone_node(g, z->in[1], NULL), *bo = graph_clone_node(g, train->logits->in[1], NULL);
    m->logits = graph_add2(g, OP_ADD, train->logits->loc, graph_matmul(g, z->loc, h, W, false, false), bo);
    m->logits->name = "logits";
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].node && s->out[o].node->op == OP_MASKED_SOFTMAX_T)
            m->attention = map[s->out[o].node->id];
    m->nforward = g->n;
    graph_verify(g);
    return st;
}

/* ---- the decoding graphs (issue #5) ----
 * Made from the lowered training model before any pass or autodiff
 * (main.c), from a copy of it, so the passes that rewrite the training
 * graph's decoder body touch neither. The encoder is the copy's forward
 * pruned to what the step reads; the driver then runs the pass list on it
 * as on the training graph, so the encoder computes what the training
 * forward computes in the same order (hoisted GEMMs, fused loops) and a
 * decoded sentence's keys are those of the training forward bit for bit. */
S2sDecode *s2s_decode(Arena *a, const Model *train)
{
    Model *m = model_clone(a, train);
    S2sDecode *d = arena_alloc(a, sizeof *d);
    S2sStep *st = d->step = s2s_step(a, m);
    /* the encoder's outputs: what the step's invariants and initial states need */
    m->nroots = st->ninv + st->nstates;
    m->roots = arena_array(a, (size_t)m->nroots + 1, sizeof(Node *));
    for (int j = 0; j < st->ninv; j++)
        m->roots[j] = st->inv_src[j];
    for (int k = 0; k < st->nstates; k++)
        m->roots[st->ninv + k] = st->state_init[k];
    st->inv_src = m->roots; /* the passes keep m->roots current */
    st->state_init = m->roots + st->ninv;
    m->loss = m->logits = m->attention = m->decoder = NULL;
    for (int k = 0; k < m->nstates; k++)
        m->state_out[k] = NULL;
    pass_dce(m);
    d->enc = m;
    return d;
}
