/*
 * test_s2s.c: the graph side of seq2seq with attention (issue #4).
 *
 * Whole models: a `task: seq2seq` spec on tiny shapes (V 6, Vt 5, E 2,
 * H 3, T 4, B 2) is lowered by lower_s2s, differentiated by autodiff and
 * run by the interpreter in double; every parameter element and every
 * encoder initial-state element is compared with central differences of
 * the loss (eps 1e-6, |a - n| <= 1e-5 + 1e-3 |n|, as test_autodiff.c), for
 * additive attention, scaled dot-product attention (2 layers) and no
 * attention, with padding on both sides (valid lengths < T) and teacher
 * forcing (decoder input = <bos> + the labels shifted by one).
 *
 * Padding: the same batch padded from T = 4 to T = 6 with <pad> gives the
 * same loss and the same gradients, bit for bit; attention weights past a
 * source's length are exactly 0. Passes: the optimized graph (hoist, fuse,
 * ...) computes the same loss and gradients as autodiff's.
 *
 * Decoding: the decoder's step graph (s2s_step), run step by step with
 * teacher forcing, reproduces the training graph's logits and attention.
 *
 * Each new op's adjoint alone: small graphs whose loss is masked_xent over
 * logits that go through the op, against central differences.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "passes.h"

enum { B = 2, V = 6, VT = 5, PAD = 1, BOS = 2, MAXT = 8, MAXP = 128 };
static const double EPS = 1e-6, ATOL = 1e-5, RTOL = 1e-3;

static uint64_t rng = 88172645463325252ull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

/* ---- a model with its inputs ---- */

typedef struct {
    Model *m;
    InterpEnv env;
    double *pv[MAXP];
    double *sv[MAX_STATES];
    int32_t x[MAXT * B], y[MAXT * B], dec[MAXT * B], src_len[B], tgt_len[B];
} Case;

static size_t numel(const Case *c, Shape s)
{
    size_t n = 1;
    for (int i = 0; i < s.ndim; i++) {
        int d = s.d[i] == DIM_B ? c->env.B : s.d[i] == DIM_T ? c->env.T : s.d[i] == DIM_V ? c->env.V
              : s.d[i] == DIM_VT ? c->env.Vt : s.d[i];
        assert_true(d > 0);
        n *= (size_t)d;
    }
    return n;
}

/* Source and labels: tokens >= 4 (not special), <eos> = 3 at the end of
 * the valid part, <pad> after it; decoder input = <bos> + labels[:-1]. */
static void fill_batch(Case *c, int T, const int *src_len, const int *tgt_len)
{
    for (int b = 0; b < B; b++) {
        c->src_len[b] = src_len[b];
        c->tgt_len[b] = tgt_len[b];
        for (int t = 0; t < T; t++) {
            int ts = t * B + b;
            c->x[ts] = t < src_len[b] - 1 ? 4 + (int)urand(0, V - 4) : t == src_len[b] - 1 ? 3 : PAD;
            c->y[ts] = t < tgt_len[b] - 1 ? 4 + (int)urand(0, VT - 4) : t == tgt_len[b] - 1 ? 3 : PAD;
        }
        for (int t = 0; t < T; t++)
            c->dec[t * B + b] = t == 0 ? BOS : c->y[(t - 1) * B + b];
    }
}

static void env_init(Case *c, int T)
{
    c->env = (InterpEnv){.B = B, .T = T, .V = V, .Vt = VT, .params = c->pv, .x = c->x, .y = c->y,
                         .dec_in = c->dec, .src_len = c->src_len, .tgt_len = c->tgt_len};
    for (int k = 0; k < MAX_STATES; k++)
        c->env.state[k] = c->sv[k];
}

static void random_values(Case *c)
{
    for (int i = 0; i < c->m->nparams; i++) {
        size_t n = numel(c, c->m->params[i].shape);
        c->pv[i] = calloc(n, sizeof(double));
        for (size_t j = 0; j < n; j++)
            c->pv[i][j] = urand(-1, 1);
    }
    for (int k = 0; k < c->m->nstates; k++) {
        size_t n = numel(c, c->m->state_in[k]->shape);
        c->sv[k] = calloc(n, sizeof(double));
        for (size_t j = 0; j < n; j++)
            c->sv[k][j] = urand(-0.5, 0.5);
    }
    env_init(c, c->env.T);
}

static void case_free(Case *c)
{
    for (int i = 0; i < MAXP; i++)
        free(c->pv[i]);
    for (int k = 0; k < MAX_STATES; k++)
        free(c->sv[k]);
    free(c);
}

/* ---- specs ---- */

static const char *const decoder_cell =
    "decoder:\n"
    "  context: c\n"
    "  cell:\n"
    "    name: gru_ctx\n"
    "    input: x\n"
    "    state: [h]\n"
    "    output: h\n"
    "    params:\n"
    "      W_ir: [input, hidden]\n"
    "      W_iz: [input, hidden]\n"
    "      W_in: [input, hidden]\n"
    "      W_cr: [hidden, hidden]\n"
    "      W_cz: [hidden, hidden]\n"
    "      W_cn: [hidden, hidden]\n"
    "      W_hr: [hidden, hidden]\n"
    "      W_hz: [hidden, hidden]\n"
    "      W_hn: [hidden, hidden]\n"
    "      b_r: [hidden]\n"
    "      b_z: [hidden]\n"
    "      b_in: [hidden]\n"
    "      b_hn: [hidden]\n"
    "    equations:\n"
    "      r: sigmoid(x @ W_ir + c @ W_cr + h @ W_hr + b_r)\n"
    "      z: sigmoid(x @ W_iz + c @ W_cz + h @ W_hz + b_z)\n"
    "      n: tanh(x @ W_in + c @ W_cn + b_in + r * (h @ W_hn + b_hn))\n"
    "      h: (1 - z) * n + z * h\n";

static const char *const additive =
    "attention:\n"
    "  query: q\n"
    "  keys: k\n"
    "  params: {W_q: [hidden, hidden], W_k: [hidden, hidden], w_v: [hidden]}\n"
    "  score: sum(tanh(q @ W_q + k @ W_k) * w_v)\n";

static const char *const dot =
    "attention:\n"
    "  query: q\n"
    "  keys: k\n"
    "  score: 0.5773502691896258 * sum(q * k)\n";

static Model *compile(const char *attention, int layers, bool *ok)
{
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    fprintf(f,
            "model: s2s\ntask: seq2seq\ndata: {tokens: word}\ncell: gru\n%s%s"
            "network: {input: {embed: 2}, hidden: 3, layers: %d}\n"
            "train: {batch: 2, steps: 4, epochs: 1, optimizer: adam, lr: 0.01, clip_norm: 1.0}\n",
            decoder_cell, attention, layers);
    fclose(f);
    Spec *s = spec_parse(&perm, "s2s.yaml", text, len);
    free(text);
    *ok = s != NULL;
    return s ? lower_s2s(&perm, s) : NULL;
}

static Case *case_from_spec(const char *attention, int layers, int T)
{
    static const int src_len[B] = {4, 2}, tgt_len[B] = {3, 1};
    bool ok;
    Case *c = calloc(1, sizeof *c);
    c->m = compile(attention, layers, &ok);
    assert_true(ok);
    assert_non_null(c->m);
    assert_true(c->m->nparams <= MAXP);
    fill_batch(c, T, src_len, tgt_len);
    c->env.T = T;
    env_init(c, T);
    random_values(c);
    autodiff(&perm, c->m);
    return c;
}

/* ---- gradient checks ---- */

static double loss_of(Case *c)
{
    Arena a = {0};
    InterpResult *r = interp_run(&a, c->m, &c->env);
    assert_non_null(r);
    double l = r->val[c->m->loss->id][0];
    arena_free_all(&a);
    return l;
}

static int check_tensor(Case *c, const char *what, double *x, size_t n, const double *grad)
{
    int bad = 0;
    double max_num = 0;
    for (size_t j = 0; j < n; j++) {
        double x0 = x[j];
        x[j] = x0 + EPS;
        double lp = loss_of(c);
        x[j] = x0 - EPS;
        double lm = loss_of(c);
        x[j] = x0;
        double num = (lp - lm) / (2 * EPS), a = grad ? grad[j] : 0;
        max_num = fmax(max_num, fabs(num));
        if (!(fabs(a - num) <= ATOL + RTOL * fabs(num)) && bad++ < 5)
            print_message("  %s[%zu]: autodiff %.10g, finite differences %.10g\n", what, j, a, num);
    }
    if (max_num < 1e-7) {
        print_message("  %s: the finite-difference gradient is zero; the test checks nothing\n", what);
        bad++;
    }
    return bad;
}

/* Every parameter and initial-state element against central differences. */
static void check_grads(Case *c)
{
    Model *m = c->m;
    Arena a = {0};
    InterpResult *r = interp_run(&a, m, &c->env);
    assert_non_null(r);
    int bad = 0;
    for (int i = 0; i < m->nparams; i++) {
        size_t n = numel(c, m->params[i].shape);
        const double *g = m->grads[i] ? r->val[m->grads[i]->id] : NULL;
        bad += check_tensor(c, m->params[i].name, c->pv[i], n, g);
    }
    for (int k = 0; k < m->nstates; k++) {
        size_t n = numel(c, m->state_in[k]->shape);
        const double *g = m->dstate[k] ? r->val[m->dstate[k]->id] : NULL;
        bad += check_tensor(c, m->state_in[k]->name, c->sv[k], n, g);
    }
    arena_free_all(&a);
    assert_int_equal(bad, 0);
}

static void test_gradcheck_additive(void **state)
{
    (void)state;
    Case *c = case_from_spec(additive, 1, 4);
    check_grads(c);
    case_free(c);
}

static void test_gradcheck_dot_two_layers(void **state)
{
    (void)state;
    Case *c = case_from_spec(dot, 2, 4);
    assert_int_equal(c->m->nstates, 2);
    check_grads(c);
    case_free(c);
}

static void test_gradcheck_no_attention(void **state)
{
    (void)state;
    Case *c = case_from_spec("", 1, 4);
    assert_null(c->m->attention);
    check_grads(c);
    case_free(c);
}

/* ---- padding ---- */

typedef struct {
    double loss;
    double *grad[MAXP + MAX_STATES];
    size_t n[MAXP + MAX_STATES];
} Result;

static Result run(Case *c)
{
    Result res = {0};
    Arena a = {0};
    InterpResult *r = interp_run(&a, c->m, &c->env);
    assert_non_null(r);
    res.loss = r->val[c->m->loss->id][0];
    int n = c->m->nparams;
    for (int i = 0; i < n + c->m->nstates; i++) {
        Node *g = i < n ? c->m->grads[i] : c->m->dstate[i - n];
        assert_non_null(g);
        res.n[i] = r->numel[g->id];
        res.grad[i] = malloc(res.n[i] * sizeof(double));
        memcpy(res.grad[i], r->val[g->id], res.n[i] * sizeof(double));
    }
    arena_free_all(&a);
    return res;
}

static void result_free(Result *r)
{
    for (int i = 0; i < MAXP + MAX_STATES; i++)
        free(r->grad[i]);
}

/* Growing T from 4 to 6 with <pad> (same valid lengths) changes nothing. */
static void padding_is_ignored(const char *attention)
{
    Case *c = case_from_spec(attention, 2, 4);
    Result short_run = run(c);
    int T = 6;
    int32_t x[MAXT * B], y[MAXT * B], dec[MAXT * B];
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            x[t * B + b] = t < 4 ? c->x[t * B + b] : PAD;
            y[t * B + b] = t < 4 ? c->y[t * B + b] : PAD;
            dec[t * B + b] = t < 4 ? c->dec[t * B + b] : PAD;
        }
    memcpy(c->x, x, sizeof x);
    memcpy(c->y, y, sizeof y);
    memcpy(c->dec, dec, sizeof dec);
    c->env.T = T;
    Result long_run = run(c);
    assert_true(short_run.loss == long_run.loss);
    for (int i = 0; i < c->m->nparams + c->m->nstates; i++) {
        assert_int_equal(short_run.n[i], long_run.n[i]);
        for (size_t j = 0; j < short_run.n[i]; j++)
            if (short_run.grad[i][j] != long_run.grad[i][j])
                fail_msg("gradient %d element %zu: %.17g at T=4, %.17g at T=6", i, j, short_run.grad[i][j],
                         long_run.grad[i][j]);
    }
    result_free(&short_run);
    result_free(&long_run);
    case_free(c);
}

static void test_padding_additive(void **state)
{
    (void)state;
    padding_is_ignored(additive);
}

static void test_padding_no_attention(void **state)
{
    (void)state;
    padding_is_ignored("");
}

/* Weights past a source's valid length are exactly 0; the rest sum to 1. */
static void test_attention_mask_exact(void **state)
{
    (void)state;
    Case *c = case_from_spec(dot, 1, 4);
    Arena a = {0};
    InterpResult *r = interp_run(&a, c->m, &c->env);
    assert_non_null(r);
    const double *w = r->val[c->m->attention->id]; /* [T dec][T src][B] */
    int T = 4;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            double sum = 0;
            for (int s = 0; s < T; s++) {
                double v = w[(t * T + s) * B + b];
                if (s >= c->src_len[b])
                    assert_true(v == 0.0);
                else
                    assert_true(v > 0);
                sum += v;
            }
            assert_true(fabs(sum - 1) < 1e-12);
        }
    arena_free_all(&a);
    case_free(c);
}

/* The passes (hoisting the key projection, fusion, ...) keep every value. */
static void test_passes_keep_values(void **state)
{
    (void)state;
    Case *c = case_from_spec(additive, 2, 4);
    Result before = run(c);
    passes_run(c->m, NULL, NULL);
    Result after = run(c);
    assert_true(fabs(before.loss - after.loss) <= 1e-12 * fabs(before.loss));
    for (int i = 0; i < c->m->nparams + c->m->nstates; i++)
        for (size_t j = 0; j < before.n[i]; j++)
            assert_true(fabs(before.grad[i][j] - after.grad[i][j]) <= 1e-12 + 1e-9 * fabs(before.grad[i][j]));
    result_free(&before);
    result_free(&after);
    case_free(c);
}

/* The key projection k @ W_k is computed once, outside the decoder's scan:
 * the scan reads it as a loop-invariant input. */
static void test_key_projection_outside_scan(void **state)
{
    (void)state;
    bool ok;
    Model *m = compile(additive, 1, &ok);
    assert_non_null(m);
    int found = 0;
    for (int i = 0; i < m->g->n; i++) {
        Node *n = m->g->nodes[i];
        if (n->op == OP_MATMUL && n->in[1]->op == OP_PARAM && strcmp(n->in[1]->name, "W_k") == 0) {
            assert_int_equal(n->shape.ndim, 3);
            found++;
        }
        if (n->op != OP_SCAN)
            continue;
        Graph *body = n->scan->body;
        for (int j = 0; j < body->n; j++) {
            Node *u = body->nodes[j];
            if (u->op == OP_ARG && strcmp(u->name ? u->name : "", "W_k") == 0)
                fail_msg("W_k is read inside a scan");
        }
    }
    assert_int_equal(found, 1);
}

/* The encoder keeps its state on padding as a classifier's layers do: one
 * [T,B] mask from the source lengths, and per layer a row_scale of each
 * state's step by the mask's row (lower_mask_states). */
static void test_encoder_masks_rows(void **state)
{
    (void)state;
    bool ok;
    Model *m = compile(additive, 2, &ok);
    assert_non_null(m);
    int masks = 0, scaled = 0;
    for (int i = 0; i < m->g->n; i++) {
        Node *n = m->g->nodes[i];
        if (n->op == OP_LEN_MASK) {
            assert_true(shape_eq(n->shape, shape2(DIM_T, DIM_B)));
            masks++;
        }
        if (n->op != OP_SCAN || n == m->decoder)
            continue;
        Graph *body = n->scan->body;
        for (int j = 0; j < body->n; j++)
            if (body->nodes[j]->op == OP_ROW_SCALE) {
                assert_int_equal(body->nodes[j]->in[1]->op, OP_ARG);
                scaled++;
            }
    }
    assert_int_equal(masks, 1);
    assert_int_equal(scaled, 2); /* a GRU's one state, two layers */
}

/* ---- decoding one step at a time ---- */

/* Running the step graph T times, fed the labels (teacher forcing), the
 * encoder's values from the training graph and its own states, gives the
 * training graph's logits and attention weights at every step. */
static void step_matches_training(const char *attention, int layers)
{
    Case *c = case_from_spec(attention, layers, 4);
    S2sStep *st = s2s_step(&perm, c->m);
    int T = c->env.T;
    Arena a = {0};
    InterpResult *r = interp_run(&a, c->m, &c->env);
    assert_non_null(r);
    const double **inv = calloc((size_t)st->ninv + 1, sizeof(double *));
    for (int j = 0; j < st->ninv; j++)
        inv[j] = r->val[st->inv_src[j]->id];
    double *state[MAX_STATES];
    for (int k = 0; k < st->nstates; k++) {
        state[k] = malloc((size_t)B * 3 * sizeof(double));
        memcpy(state[k], r->val[st->state_init[k]->id], (size_t)B * 3 * sizeof(double));
    }
    const double *logits = r->val[c->m->logits->id];
    const double *w = c->m->attention ? r->val[c->m->attention->id] : NULL;
    assert_true((w != NULL) == (st->m->attention != NULL));
    for (int t = 0; t < T; t++) {
        InterpEnv e = c->env;
        e.dec_in = c->dec + t * B;
        e.step_inv = inv;
        for (int k = 0; k < st->nstates; k++)
            e.state[k] = state[k];
        Arena sa = {0};
        InterpResult *sr = interp_run(&sa, st->m, &e);
        assert_non_null(sr);
        const double *sl = sr->val[st->m->logits->id];
        for (int i = 0; i < B * VT; i++)
            if (sl[i] != logits[t * B * VT + i])
                fail_msg("step %d logit %d: %.17g, training %.17g", t, i, sl[i], logits[t * B * VT + i]);
        if (w)
            for (int i = 0; i < T * B; i++)
                assert_true(sr->val[st->m->attention->id][i] == w[t * T * B + i]);
        for (int k = 0; k < st->nstates; k++)
            memcpy(state[k], sr->val[st->state_out[k]->id], (size_t)B * 3 * sizeof(double));
        arena_free_all(&sa);
    }
    for (int k = 0; k < st->nstates; k++)
        free(state[k]);
    free(inv);
    arena_free_all(&a);
    case_free(c);
}

static void test_step_additive(void **state)
{
    (void)state;
    step_matches_training(additive, 2);
}

static void test_step_dot(void **state)
{
    (void)state;
    step_matches_training(dot, 1);
}

static void test_step_no_attention(void **state)
{
    (void)state;
    step_matches_training("", 2);
}

/* ---- each new op's adjoint alone ---- */

static Case *op_case(int T)
{
    static const int src_len[B] = {3, 1}, tgt_len[B] = {2, 3};
    Case *c = calloc(1, sizeof *c);
    c->m = arena_alloc(&perm, sizeof *c->m);
    c->m->g = graph_new(&perm, NULL);
    fill_batch(c, T, src_len, tgt_len);
    c->env.T = T;
    env_init(c, T);
    return c;
}

static Node *op_param(Case *c, const char *name, Shape s)
{
    Model *m = c->m;
    m->params = arena_grow(&perm, m->params, &m->cap_params, m->nparams + 1, sizeof(Param));
    m->params[m->nparams] = (Param){name, loc_none(), s, INIT_UNIFORM, 1, true};
    Node *n = graph_leaf(m->g, OP_PARAM, loc_none(), s, DT_REAL, m->nparams++);
    n->name = name;
    return n;
}

static Node *op_input(Case *c, int index, Shape s)
{
    return graph_leaf(c->m->g, OP_INPUT, loc_none(), s, DT_INT, index);
}

/* loss = masked_xent(logits [T,B,VT], y, tgt_len); then the check. */
static void op_finish(Case *c, Node *logits)
{
    Model *m = c->m;
    Node *in[3] = {logits, op_input(c, INPUT_Y, shape2(DIM_T, DIM_B)), op_input(c, INPUT_TGT_LEN, shape1(DIM_B))};
    m->logits = logits;
    m->loss = graph_add(m->g, OP_MASKED_XENT, loc_none(), in, 3);
    assert_non_null(m->loss);
    m->nforward = m->g->n;
    graph_verify(m->g);
    random_values(c);
    autodiff(&perm, m);
    check_grads(c);
    case_free(c);
}

static void test_op_masked_xent(void **state)
{
    (void)state;
    Case *c = op_case(3);
    op_finish(c, op_param(c, "z", shape3(DIM_T, DIM_B, DIM_VT)));
}

static void test_op_sum_last_bcast_last(void **state)
{
    (void)state;
    Case *c = op_case(3);
    Node *s = graph_add1(c->m->g, OP_SUM_LAST, loc_none(), op_param(c, "a", shape3(DIM_T, DIM_B, 4)));
    Node *e = graph_bcast_last(c->m->g, loc_none(), s, DIM_VT);
    op_finish(c, graph_add2(c->m->g, OP_MUL, loc_none(), e, op_param(c, "q", shape3(DIM_T, DIM_B, DIM_VT))));
}

static void test_op_masked_softmax_t(void **state)
{
    (void)state;
    Case *c = op_case(3);
    Node *w = graph_add2(c->m->g, OP_MASKED_SOFTMAX_T, loc_none(), op_param(c, "s", shape2(DIM_T, DIM_B)),
                         op_input(c, INPUT_SRC_LEN, shape1(DIM_B)));
    Node *e = graph_bcast_last(c->m->g, loc_none(), w, DIM_VT);
    op_finish(c, graph_add2(c->m->g, OP_MUL, loc_none(), e, op_param(c, "q", shape3(DIM_T, DIM_B, DIM_VT))));
}

/* pool as attention uses it: both the weights and the values need their
 * gradient (the classification head's weights are data). */
static void test_op_pool_weights(void **state)
{
    (void)state;
    Case *c = op_case(3);
    Node *ctx = graph_add2(c->m->g, OP_POOL, loc_none(), op_param(c, "h", shape3(DIM_T, DIM_B, DIM_VT)),
                           op_param(c, "w", shape2(DIM_T, DIM_B)));
    assert_true(shape_eq(ctx->shape, shape2(DIM_B, DIM_VT)));
    op_finish(c, graph_add2(c->m->g, OP_ADD, loc_none(), op_param(c, "q", shape3(DIM_T, DIM_B, DIM_VT)), ctx));
}

/* masked_xent ignores the padded positions' logits and labels exactly. */
static void test_op_masked_xent_ignores_padding(void **state)
{
    (void)state;
    Case *c = op_case(3);
    Node *z = op_param(c, "z", shape3(DIM_T, DIM_B, DIM_VT));
    Model *m = c->m;
    Node *in[3] = {z, op_input(c, INPUT_Y, shape2(DIM_T, DIM_B)), op_input(c, INPUT_TGT_LEN, shape1(DIM_B))};
    m->logits = z;
    m->loss = graph_add(m->g, OP_MASKED_XENT, loc_none(), in, 3);
    m->nforward = m->g->n;
    random_values(c);
    autodiff(&perm, m);
    Result r0 = run(c);
    for (int t = 0; t < 3; t++)
        for (int b = 0; b < B; b++)
            if (t >= c->tgt_len[b]) {
                c->y[t * B + b] = 0;
                for (int v = 0; v < VT; v++)
                    c->pv[0][(t * B + b) * VT + v] = 100.0 * (v + 1);
            }
    Result r1 = run(c);
    assert_true(r0.loss == r1.loss);
    for (size_t j = 0; j < r0.n[0]; j++) {
        assert_true(r0.grad[0][j] == r1.grad[0][j]);
        size_t tb = j / VT;
        if ((int)(tb / B) >= c->tgt_len[tb % B])
            assert_true(r1.grad[0][j] == 0.0);
    }
    result_free(&r0);
    result_free(&r1);
    case_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_masked_xent),
        cmocka_unit_test(test_op_sum_last_bcast_last),
        cmocka_unit_test(test_op_masked_softmax_t),
        cmocka_unit_test(test_op_pool_weights),
        cmocka_unit_test(test_op_masked_xent_ignores_padding),
        cmocka_unit_test(test_gradcheck_additive),
        cmocka_unit_test(test_gradcheck_dot_two_layers),
        cmocka_unit_test(test_gradcheck_no_attention),
        cmocka_unit_test(test_padding_additive),
        cmocka_unit_test(test_padding_no_attention),
        cmocka_unit_test(test_attention_mask_exact),
        cmocka_unit_test(test_passes_keep_values),
        cmocka_unit_test(test_key_projection_outside_scan),
        cmocka_unit_test(test_encoder_masks_rows),
        cmocka_unit_test(test_step_additive),
        cmocka_unit_test(test_step_dot),
        cmocka_unit_test(test_step_no_attention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
