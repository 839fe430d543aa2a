/*
 * test_layers.c: dropout between stacked layers and bidirectional layers.
 *
 * Gradient checks: the model is lowered from a YAML spec (library cells, so
 * the cells are the ones users get), autodiff adds the backward pass, and
 * the interpreter's gradient of EVERY parameter element and initial-state
 * element is compared with central differences of the interpreter's loss
 * (eps 1e-6, |a - n| <= 1e-5 + 1e-3 |n|, torch.gradcheck's tolerance).
 * Dropout runs in training mode with a fixed seed, so the mask is the same
 * in every perturbed forward pass. Bidirectional language models are
 * refused by spec.c, so these tests force spec->bidirectional after
 * parsing: lower() builds the stack the same way for every task.
 *
 * The mask itself: its drop rate over many elements, its dependence on the
 * seed and the site, train = 0 as the identity, and the runtime's copy of
 * the hash (rnnrt.h) against the interpreter's (dropout_keep).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "rnnrt.h"

static const double EPS = 1e-6, ATOL = 1e-5, RTOL = 1e-3;
static const uint64_t SEED = UINT64_C(0x5eed5eed12345678);

static uint64_t rng = 88172645463325252ull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

/* ---- specs ---- */

static char *spec_text(const char *cell, int hidden, int layers, const char *dropout, const char *input)
{
    const char *fmt = "model: m\n"
                      "task: language_model\n"
                      "data:\n"
                      "  tokens: char\n"
                      "cell: %s\n"
                      "network:\n"
                      "  input: %s\n"
                      "  hidden: %d\n"
                      "  layers: %d\n"
                      "  dropout: %s\n"
                      "train:\n"
                      "  batch: 2\n"
                      "  steps: 3\n"
                      "  optimizer: sgd\n"
                      "  lr: 1.0\n"
                      "  epochs: 1\n";
    size_t n = strlen(fmt) + strlen(cell) + strlen(dropout) + strlen(input) + 64;
    char *s = arena_alloc(&perm, n); /* lives as long as the spec's Locs */
    snprintf(s, n, fmt, cell, input, hidden, layers, dropout);
    return s;
}

/* Parse (the text is kept: diagnostics quote it), force the direction. */
static Spec *parse(const char *cell, int hidden, int layers, const char *dropout, bool bidirectional)
{
    char *text = spec_text(cell, hidden, layers, dropout, "one_hot");
    Spec *s = spec_parse(&perm, "t.yaml", text, strlen(text));
    assert_non_null(s);
    s->bidirectional = bidirectional;
    return s;
}

/* ---- a lowered model with random values ---- */

typedef struct {
    Model *m;
    InterpEnv env;
    double **pv;
    double *sv[MAX_STATES];
    int32_t *x, *y;
} Case;

static double *random_values(size_t n)
{
    double *v = calloc(n + 1, sizeof(double));
    for (size_t i = 0; i < n; i++)
        v[i] = urand(-1, 1);
    return v;
}

static size_t numel(const Case *c, Shape s)
{
    size_t n = 0;
    assert_true(shape_numel(s, c->env.B, c->env.T, c->env.V, c->env.L, &n));
    return n;
}

static Case *case_lowered(Spec *s, int B, int T, int V)
{
    Case *c = calloc(1, sizeof *c);
    c->m = lower(&perm, s);
    assert_non_null(c->m);
    c->env = (InterpEnv){.B = B, .T = T, .V = V, .dropout_seed = SEED, .train = true};
    c->pv = calloc((size_t)c->m->nparams + 1, sizeof(double *));
    c->env.params = c->pv;
    for (int i = 0; i < c->m->nparams; i++)
        c->pv[i] = random_values(numel(c, c->m->params[i].shape));
    for (int k = 0; k < c->m->nstates; k++) {
        c->sv[k] = random_values(numel(c, c->m->state_in[k]->shape));
        c->env.state[k] = c->sv[k];
    }
    c->x = calloc((size_t)(T * B), sizeof(int32_t));
    c->y = calloc((size_t)(T * B), sizeof(int32_t));
    for (int i = 0; i < T * B; i++) {
        c->x[i] = (int32_t)urand(0, V);
        c->y[i] = (int32_t)urand(0, V);
    }
    c->env.x = c->x;
    c->env.y = c->y;
    return c;
}

static void case_free(Case *c)
{
    for (int i = 0; i < c->m->nparams; i++)
        free(c->pv[i]);
    for (int k = 0; k < c->m->nstates; k++)
        free(c->sv[k]);
    free(c->pv);
    free(c->x);
    free(c->y);
    free(c);
}

static double loss(Case *c)
{
    Arena a = {0};
    InterpResult *r = interp_run(&a, c->m, &c->env);
    assert_non_null(r);
    double l = r->val[c->m->loss->id][0];
    arena_free_all(&a);
    return l;
}

/* analytic (NULL: zeros) against central differences over all of x[0..n) */
static int check_tensor(Case *c, const char *what, double *x, size_t n, const double *analytic)
{
    int bad = 0;
    double max_num = 0;
    for (size_t j = 0; j < n; j++) {
        double x0 = x[j];
        x[j] = x0 + EPS;
        double lp = loss(c);
        x[j] = x0 - EPS;
        double lm = loss(c);
        x[j] = x0;
        double num = (lp - lm) / (2 * EPS), a = analytic ? analytic[j] : 0;
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

static void check_grads(Case *c)
{
    Model *m = c->m;
    autodiff(&perm, m);
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
        const double *g = m->dstate[k] ? r->val[m->dstate[k]->id] : NULL;
        bad += check_tensor(c, m->state_in[k]->name, c->sv[k], numel(c, m->state_in[k]->shape), g);
    }
    arena_free_all(&a);
    assert_int_equal(bad, 0);
}

static const Node *find_op(const Graph *g, Op op, int nth)
{
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i]->op == op && nth-- == 0)
            return g->nodes[i];
    return NULL;
}

static int param_index(const Model *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- the mask ---- */

static void test_dropout_mask_drops_a_fraction_p(void **state)
{
    (void)state;
    const double rates[] = {0.1, 0.5, 0.9};
    const size_t n = 200000;
    for (int r = 0; r < 3; r++) {
        size_t dropped = 0;
        for (size_t i = 0; i < n; i++)
            dropped += !dropout_keep(SEED, 3, i, rates[r]);
        double frac = (double)dropped / (double)n;
        /* binomial sd is at most sqrt(0.25 / n) ~ 0.0011: 5 sd */
        if (fabs(frac - rates[r]) > 0.0056)
            fail_msg("rate %g dropped %g of %zu", rates[r], frac, n);
    }
}

static void test_dropout_mask_depends_on_seed_and_site_only(void **state)
{
    (void)state;
    const size_t n = 4096;
    size_t same_seed = 0, other_seed = 0, other_site = 0;
    for (size_t i = 0; i < n; i++) {
        bool k = dropout_keep(SEED, 1, i, 0.5);
        same_seed += k == dropout_keep(SEED, 1, i, 0.5);
        other_seed += k == dropout_keep(SEED + 1, 1, i, 0.5);
        other_site += k == dropout_keep(SEED, 2, i, 0.5);
    }
    assert_int_equal(same_seed, n);
    /* independent masks agree on about half the elements */
    assert_true(other_seed > n / 2 - n / 10 && other_seed < n / 2 + n / 10);
    assert_true(other_site > n / 2 - n / 10 && other_site < n / 2 + n / 10);
    /* rate 0 keeps everything */
    for (size_t i = 0; i < n; i++)
        assert_true(dropout_keep(SEED, 1, i, 0));
}

/* The emitted code uses rnnrt.h's copy of the hash: the same masks. */
static void test_dropout_mask_runtime_equals_interpreter(void **state)
{
    (void)state;
    const double rates[] = {0.0, 0.25, 0.5, 0.999};
    for (int r = 0; r < 4; r++)
        for (int site = 0; site < 3; site++)
            for (size_t i = 0; i < 3000; i++)
                assert_int_equal(rnnrt_dropout_keep(SEED ^ (uint64_t)r, site, i, rates[r]),
                                 dropout_keep(SEED ^ (uint64_t)r, site, i, rates[r]));
    /* and the runtime kernel applies it with the 1/(1-p) scale */
    RnnrtCtx ctx = {0};
    ctx.dropout_seed = SEED;
    ctx.train = 1;
    real in[64], out[64];
    for (int i = 0; i < 64; i++)
        in[i] = i + 1;
    rnnrt_dropout(&ctx, in, out, 64, 0.25, 7);
    for (int i = 0; i < 64; i++)
        assert_true(out[i] == (dropout_keep(SEED, 7, (size_t)i, 0.25) ? in[i] * (real)(1 / 0.75) : 0));
    ctx.train = 0;
    rnnrt_dropout(&ctx, in, out, 64, 0.25, 7);
    assert_memory_equal(in, out, sizeof in);
}

/* ---- the op alone ---- */

/* loss = xent(dropout(A) @ P): A's gradient is P's contribution through
 * the same mask, and dropped elements get exactly zero. */
static Case *dropout_op_case(double rate, bool train)
{
    Case *c = calloc(1, sizeof *c);
    Model *m = arena_alloc(&perm, sizeof *m);
    c->m = m;
    m->g = graph_new(&perm, NULL);
    c->env = (InterpEnv){.B = 1, .T = 1, .V = 5, .dropout_seed = SEED, .train = train};
    Shape shapes[2] = {shape2(6, 8), shape2(8, DIM_V)};
    const char *names[2] = {"A", "P"};
    Node *p[2];
    c->pv = calloc(3, sizeof(double *));
    c->env.params = c->pv;
    for (int i = 0; i < 2; i++) {
        m->params = arena_grow(&perm, m->params, &m->cap_params, i + 1, sizeof(Param));
        m->params[i] = (Param){names[i], loc_none(), shapes[i], INIT_UNIFORM, 1, true};
        m->nparams++;
        p[i] = graph_leaf(m->g, OP_PARAM, loc_none(), shapes[i], DT_REAL, i);
        p[i]->name = names[i];
        c->pv[i] = random_values(numel(c, shapes[i]));
    }
    Node *d = graph_dropout(m->g, loc_none(), p[0], rate, 4);
    assert_non_null(d);
    Node *z = graph_matmul(m->g, loc_none(), d, p[1], false, false);
    c->y = calloc(6, sizeof(int32_t));
    c->x = calloc(6, sizeof(int32_t));
    for (int i = 0; i < 6; i++)
        c->y[i] = (int32_t)urand(0, 5);
    c->env.y = c->y;
    c->env.x = c->x;
    Node *y = graph_leaf(m->g, OP_INPUT, loc_none(), shape1(6), DT_INT, INPUT_Y);
    m->logits = z;
    m->loss = graph_add2(m->g, OP_SOFTMAX_XENT, loc_none(), z, y);
    m->nforward = m->g->n;
    return c;
}

static void test_dropout_op_matches_fd(void **state)
{
    (void)state;
    Case *c = dropout_op_case(0.5, true);
    check_grads(c);
    /* the mask did something: some of A's gradient rows are exactly 0 */
    Arena a = {0};
    InterpResult *r = interp_run(&a, c->m, &c->env);
    const double *dA = r->val[c->m->grads[0]->id], *d = r->val[find_op(c->m->g, OP_DROPOUT, 0)->id];
    int zeros = 0;
    for (size_t i = 0; i < 48; i++) {
        bool keep = dropout_keep(SEED, 4, i, 0.5);
        assert_true(d[i] == (keep ? c->pv[0][i] * 2 : 0));
        zeros += dA[i] == 0;
        assert_true(keep || dA[i] == 0);
    }
    assert_true(zeros > 10 && zeros < 38);
    arena_free_all(&a);
    case_free(c);
}

static void test_dropout_op_is_identity_when_not_training(void **state)
{
    (void)state;
    Case *c = dropout_op_case(0.5, false);
    check_grads(c);
    Arena a = {0};
    InterpResult *r = interp_run(&a, c->m, &c->env);
    assert_memory_equal(r->val[find_op(c->m->g, OP_DROPOUT, 0)->id], c->pv[0], 48 * sizeof(double));
    arena_free_all(&a);
    case_free(c);
}

/* ---- stacked layers with dropout ---- */

static void test_two_lstm_layers_with_dropout_match_fd(void **state)
{
    (void)state;
    Case *c = case_lowered(parse("lstm", 3, 2, "0.5", false), 2, 3, 4);
    const Node *d = find_op(c->m->g, OP_DROPOUT, 0);
    assert_non_null(d);
    assert_null(find_op(c->m->g, OP_DROPOUT, 1)); /* not after the top layer */
    assert_true(d->value == 0.5);
    check_grads(c);
    case_free(c);
}

/* Dropout changes the training loss, and train = 0 undoes it. */
static void test_dropout_changes_training_loss_only(void **state)
{
    (void)state;
    Case *c = case_lowered(parse("gru", 4, 3, "0.3", false), 2, 3, 5);
    double with = loss(c);
    c->env.train = false;
    double without = loss(c);
    assert_true(fabs(with - without) > 1e-6);
    /* the same model without dropout gives the train = 0 loss */
    Case *plain = case_lowered(parse("gru", 4, 3, "0", false), 2, 3, 5);
    assert_int_equal(plain->m->nparams, c->m->nparams);
    assert_null(find_op(plain->m->g, OP_DROPOUT, 0));
    for (int i = 0; i < c->m->nparams; i++)
        memcpy(plain->pv[i], c->pv[i], numel(c, c->m->params[i].shape) * sizeof(double));
    for (int k = 0; k < c->m->nstates; k++)
        memcpy(plain->sv[k], c->sv[k], numel(c, c->m->state_in[k]->shape) * sizeof(double));
    memcpy(plain->x, c->x, 6 * sizeof(int32_t));
    memcpy(plain->y, c->y, 6 * sizeof(int32_t));
    assert_true(loss(plain) == without);
    case_free(plain);
    case_free(c);
}

/* ---- bidirectional ---- */

static void test_bidirectional_gru_one_layer_matches_fd(void **state)
{
    (void)state;
    Case *c = case_lowered(parse("gru", 3, 1, "0", true), 2, 3, 4);
    Model *m = c->m;
    /* the reverse copy: its own parameters and state, W_out 2H wide */
    assert_true(param_index(m, "W_ir") >= 0 && param_index(m, "W_ir_reverse") >= 0);
    assert_true(param_index(m, "b_hn_reverse") >= 0);
    assert_int_equal(m->nparams, 2 * 12 + 2);
    int wo = param_index(m, "W_out");
    assert_int_equal(m->params[wo].shape.d[0], 6);
    assert_int_equal(m->nstates, 2);
    assert_int_equal(m->state_size, 6);
    const Node *s0 = find_op(m->g, OP_SCAN, 0), *s1 = find_op(m->g, OP_SCAN, 1);
    assert_false(s0->scan->reverse);
    assert_true(s1->scan->reverse);
    check_grads(c);
    case_free(c);
}

static void test_bidirectional_lstm_two_layers_matches_fd(void **state)
{
    (void)state;
    Case *c = case_lowered(parse("lstm", 2, 2, "0", true), 2, 3, 4);
    Model *m = c->m;
    assert_true(param_index(m, "W_ii_l1_reverse") >= 0);
    /* layer 1 reads both directions of layer 0: input is 2 x hidden */
    assert_int_equal(m->params[param_index(m, "W_ii_l1")].shape.d[0], 4);
    assert_int_equal(m->params[param_index(m, "W_ii_l1_reverse")].shape.d[0], 4);
    assert_int_equal(m->nstates, 8); /* (h, c) x 2 directions x 2 layers */
    check_grads(c);
    case_free(c);
}

static void test_bidirectional_gru_two_layers_with_dropout_matches_fd(void **state)
{
    (void)state;
    Case *c = case_lowered(parse("gru", 2, 2, "0.4", true), 2, 3, 4);
    const Node *d = find_op(c->m->g, OP_DROPOUT, 0);
    assert_non_null(d);
    assert_int_equal(d->shape.d[2], 4); /* on the concatenated output */
    check_grads(c);
    case_free(c);
}

/* The reverse direction is the cell run over reversed time: its output
 * at step t equals a forward-only model's output at T-1-t on the reversed
 * sequence, with the reverse parameters and initial state. */
static void test_bidirectional_reverse_half_is_the_cell_over_reversed_time(void **state)
{
    (void)state;
    enum { B = 2, T = 4, V = 5, H = 3 };
    Case *bi = case_lowered(parse("gru", H, 1, "0", true), B, T, V);
    Case *fw = case_lowered(parse("gru", H, 1, "0", false), B, T, V);
    for (int i = 0; i < fw->m->nparams; i++) {
        const char *name = fw->m->params[i].name;
        if (strcmp(name, "W_out") == 0 || strcmp(name, "b_out") == 0)
            continue;
        int j = param_index(bi->m, arena_printf(&perm, "%s_reverse", name));
        assert_true(j >= 0);
        memcpy(fw->pv[i], bi->pv[j], numel(fw, fw->m->params[i].shape) * sizeof(double));
    }
    memcpy(fw->sv[0], bi->sv[1], B * H * sizeof(double));
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            fw->x[t * B + b] = bi->x[(T - 1 - t) * B + b];
    Arena a = {0};
    InterpResult *rb = interp_run(&a, bi->m, &bi->env), *rf = interp_run(&a, fw->m, &fw->env);
    assert_non_null(rb);
    assert_non_null(rf);
    const double *both = rb->val[find_op(bi->m->g, OP_CONCAT, 0)->id];
    const Node *hs = find_op(fw->m->g, OP_SCAN_OUT, 0);
    const double *h = rf->val[hs->id];
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < H; k++)
                assert_true(fabs(both[(t * B + b) * 2 * H + H + k] - h[((T - 1 - t) * B + b) * H + k]) < 1e-12);
    /* and the final reverse state is the one after step 0 */
    const double *fin_b = rb->val[bi->m->state_out[1]->id], *fin_f = rf->val[fw->m->state_out[0]->id];
    for (int i = 0; i < B * H; i++)
        assert_true(fabs(fin_b[i] - fin_f[i]) < 1e-12);
    arena_free_all(&a);
    case_free(bi);
    case_free(fw);
}

/* ---- errors ---- */

typedef struct {
    char *diag;
    size_t len;
    FILE *f;
} Capture;

static int setup(void **state)
{
    Capture *c = calloc(1, sizeof *c);
    c->f = open_memstream(&c->diag, &c->len);
    diag_reset();
    diag_set_stream(c->f);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    Capture *c = *state;
    diag_set_stream(NULL);
    diag_reset();
    fclose(c->f);
    free(c->diag);
    free(c);
    return 0;
}

/* A literal input width above a bidirectional layer: the error is at the
 * mismatching equation, with notes naming the layer and the key. */
static void test_bidirectional_wrong_literal_width_is_explained(void **state)
{
    Capture *cap = *state;
    /* x @ W_up with W_up [8, hidden]: right for layer 1 (embed 8) and for
     * a unidirectional layer 2 (hidden 8), wrong above a bidirectional one */
    static const char text[] = "model: m\n"
                               "task: language_model\n"
                               "data:\n"
                               "  tokens: char\n"
                               "cell:\n"
                               "  name: c\n"
                               "  input: x\n"
                               "  state: [h]\n"
                               "  output: h\n"
                               "  params:\n"
                               "    W_up: [8, hidden]\n"
                               "    W_hh: [hidden, hidden]\n"
                               "  equations:\n"
                               "    h: tanh(x @ W_up + h @ W_hh)\n"
                               "network:\n"
                               "  input: {embed: 8}\n"
                               "  hidden: 8\n"
                               "  layers: 2\n"
                               "  bidirectional: false\n"
                               "train:\n"
                               "  batch: 2\n"
                               "  steps: 3\n"
                               "  optimizer: sgd\n"
                               "  lr: 1.0\n"
                               "  epochs: 1\n";
    Spec *s = spec_parse(&perm, "t.yaml", text, strlen(text));
    assert_non_null(s);
    assert_non_null(lower(&perm, s));
    s = spec_parse(&perm, "t.yaml", text, strlen(text));
    s->bidirectional = true;
    fflush(cap->f);
    size_t before = cap->len;
    assert_null(lower(&perm, s));
    fflush(cap->f);
    const char *out = cap->diag + before;
    assert_non_null(strstr(out, "t.yaml:14:15: error: shape mismatch: [B,16] @ [8,8]"));
    assert_non_null(strstr(out, "note: while building layer 2 of 2, whose input is 16 wide (2 x hidden)"));
    assert_non_null(strstr(out, "t.yaml:19:18: note: 'network.bidirectional: true' makes each layer's output 16 "
                                "wide"));
}

/* Dropout applies between layers only: with one layer it is a no-op, and
 * the spec says so. */
static void test_dropout_with_one_layer_warns(void **state)
{
    Capture *cap = *state;
    char *text = spec_text("gru", 4, 1, "0.5", "one_hot");
    Spec *s = spec_parse(&perm, "t.yaml", text, strlen(text));
    assert_non_null(s);
    Model *m = lower(&perm, s);
    assert_non_null(m);
    assert_null(find_op(m->g, OP_DROPOUT, 0));
    fflush(cap->f);
    assert_non_null(strstr(cap->diag, "t.yaml:10:12: warning: 'network.dropout' applies between layers; with "
                                      "'layers: 1' it does nothing"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropout_mask_drops_a_fraction_p),
        cmocka_unit_test(test_dropout_mask_depends_on_seed_and_site_only),
        cmocka_unit_test(test_dropout_mask_runtime_equals_interpreter),
        cmocka_unit_test(test_dropout_op_matches_fd),
        cmocka_unit_test(test_dropout_op_is_identity_when_not_training),
        cmocka_unit_test(test_two_lstm_layers_with_dropout_match_fd),
        cmocka_unit_test(test_dropout_changes_training_loss_only),
        cmocka_unit_test(test_bidirectional_gru_one_layer_matches_fd),
        cmocka_unit_test(test_bidirectional_lstm_two_layers_matches_fd),
        cmocka_unit_test(test_bidirectional_gru_two_layers_with_dropout_matches_fd),
        cmocka_unit_test(test_bidirectional_reverse_half_is_the_cell_over_reversed_time),
        cmocka_unit_test_setup_teardown(test_bidirectional_wrong_literal_width_is_explained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropout_with_one_layer_warns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
