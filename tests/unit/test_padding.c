/*
 * test_padding.c: classification rows are padded to T, and the padding
 * must not change anything a row's valid steps compute (issue #3).
 *
 * Each case lowers a classification spec (forward or bidirectional, one or
 * two layers, head: last or mean), runs the reference interpreter (double)
 * on the same rows twice: padded to T = 4, and padded to T = 7 with other
 * random tokens in the padding, with the same parameters, initial states
 * and valid lengths. The loss, the logits, every parameter gradient, the
 * gradient of the initial states and the final states must agree to 1e-12
 * (|a - b| <= 1e-12 * max(1, |a|)). Without the valid-step mask the
 * reverse direction starts inside the padding and all of them move.
 *
 * head: last must pool PyTorch's h_n: the forward half of the top layer at
 * each row's last valid step, the reverse half at t = 0. And the
 * interpreter's gradients of bidirectional classifiers (row_scale and the
 * heads through autodiff) match central differences of its loss (eps 1e-6,
 * rtol 1e-3, atol 1e-5), every parameter and initial-state element.
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

enum { B = 3, T_SHORT = 4, T_LONG = 7, V = 6, L = 3 };
static const int lens[B] = {4, 2, 1};

#define CLS_SPEC(cell, input, layers, bidi, head)                                                                     \
    "model: cls\ntask: classification\ndata:\n  tokens: char\n  split: 0.9\n"                                         \
    "cell: " cell "\nnetwork:\n  input: " input "\n  hidden: 5\n  layers: " layers "\n  bidirectional: " bidi        \
    "\n  head: " head "\ntrain:\n  batch: 3\n  steps: 4\n  optimizer: sgd\n  lr: 1.0\n  epochs: 1\n"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

static Model *model_of(const char *text)
{
    Spec *s = spec_parse(&perm, "t.yaml", text, strlen(text));
    assert_non_null(s);
    Model *m = lower(&perm, s);
    assert_non_null(m);
    autodiff(&perm, m);
    return m;
}

/* The inputs of one row set: tokens, labels, states and parameters are
 * shared by the two paddings; tokens and carry_scale past a row's length
 * are drawn afresh for each T. */
typedef struct {
    double *params[128];
    double *state[MAX_STATES];
    int32_t x_valid[T_SHORT * B], y[B];
    double carry[T_LONG];
} Rows;

static void rows_init(Rows *r, const Model *m)
{
    memset(r, 0, sizeof *r);
    assert_true(m->nparams <= 128);
    for (int i = 0; i < m->nparams; i++) {
        size_t n = 0;
        shape_numel(m->params[i].shape, B, T_LONG, V, L, &n);
        r->params[i] = malloc(n * sizeof(double));
        for (size_t k = 0; k < n; k++)
            r->params[i][k] = urand(-0.7, 0.7);
    }
    for (int k = 0; k < m->nstates; k++) {
        size_t n = 0;
        shape_numel(m->state_in[k]->shape, B, T_LONG, V, L, &n);
        r->state[k] = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            r->state[k][i] = urand(-0.5, 0.5);
    }
    for (int i = 0; i < T_SHORT * B; i++)
        r->x_valid[i] = (int32_t)urand(0, V);
    for (int b = 0; b < B; b++)
        r->y[b] = (int32_t)urand(0, L);
    for (int t = 0; t < T_LONG; t++)
        r->carry[t] = urand(0.5, 1.5);
}

static void rows_free(Rows *r, const Model *m)
{
    for (int i = 0; i < m->nparams; i++)
        free(r->params[i]);
    for (int k = 0; k < m->nstates; k++)
        free(r->state[k]);
}

/* Runs m on the rows padded to T (random padding tokens). */
static InterpResult *run_padded(Arena *a, const Model *m, const Rows *r, int T)
{
    int32_t *x = arena_array(a, (size_t)T * B, sizeof(int32_t));
    double *pool = arena_array(a, (size_t)T * B, sizeof(double));
    double *mask = arena_array(a, (size_t)T * B, sizeof(double));
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            bool valid = t < lens[b];
            x[t * B + b] = valid ? r->x_valid[t * B + b] : (int32_t)urand(0, V);
            pool[t * B + b] = valid ? 1.0 / lens[b] : 0;
            mask[t * B + b] = valid;
        }
    InterpEnv env = {.B = B, .T = T, .V = V, .L = L, .x = x, .y = r->y, .carry_scale = r->carry,
                     .params = (double **)r->params, .pool = pool, .mask = mask};
    for (int k = 0; k < m->nstates; k++)
        env.state[k] = r->state[k];
    InterpResult *res = interp_run(a, m, &env);
    assert_non_null(res);
    return res;
}

static int differ(const char *what, const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= 1e-12 * fmax(1.0, fabs(a[i])))) {
            print_error("%s[%zu]: %.17g with T=%d, %.17g with T=%d\n", what, i, a[i], T_SHORT, b[i], T_LONG);
            return 1;
        }
    return 0;
}

/* The outputs that do not have a T axis, both runs. */
static int compare_runs(const Model *m, const InterpResult *s, const InterpResult *l)
{
    int bad = differ("loss", s->val[m->loss->id], l->val[m->loss->id], 1);
    bad += differ("logits", s->val[m->logits->id], l->val[m->logits->id], s->numel[m->logits->id]);
    for (int k = 0; k < m->nstates; k++) {
        const Node *o = m->state_out[k], *d = m->dstate[k];
        bad += differ("state_out", s->val[o->id], l->val[o->id], s->numel[o->id]);
        if (d)
            bad += differ("dstate", s->val[d->id], l->val[d->id], s->numel[d->id]);
    }
    for (int i = 0; i < m->nparams; i++)
        if (m->grads[i])
            bad += differ(m->params[i].name, s->val[m->grads[i]->id], l->val[m->grads[i]->id],
                          s->numel[m->grads[i]->id]);
    return bad;
}

static void check_padding_invariance(const char *spec)
{
    Model *m = model_of(spec);
    Rows r;
    rows_init(&r, m);
    Arena a = {0};
    InterpResult *s = run_padded(&a, m, &r, T_SHORT);
    InterpResult *l = run_padded(&a, m, &r, T_LONG);
    assert_int_equal(compare_runs(m, s, l), 0);
    /* not vacuous: a valid token does move the loss */
    r.x_valid[1 * B + 1] = (r.x_valid[1 * B + 1] + 1) % V;
    InterpResult *c = run_padded(&a, m, &r, T_LONG);
    assert_true(fabs(c->val[m->loss->id][0] - l->val[m->loss->id][0]) > 1e-9);
    arena_free_all(&a);
    rows_free(&r, m);
}

static void test_forward_gru_last(void **state)
{
    (void)state;
    check_padding_invariance(CLS_SPEC("gru", "one_hot", "1", "false", "last"));
}

static void test_forward_lstm_mean_two_layers(void **state)
{
    (void)state;
    check_padding_invariance(CLS_SPEC("lstm", "{embed: 4}", "2", "false", "mean"));
}

static void test_bidirectional_gru_last(void **state)
{
    (void)state;
    check_padding_invariance(CLS_SPEC("gru", "one_hot", "1", "true", "last"));
}

static void test_bidirectional_lstm_mean(void **state)
{
    (void)state;
    check_padding_invariance(CLS_SPEC("lstm", "{embed: 4}", "1", "true", "mean"));
}

static void test_bidirectional_rnn_two_layers_last(void **state)
{
    (void)state;
    check_padding_invariance(CLS_SPEC("rnn_tanh", "one_hot", "2", "true", "last"));
}

/* head: last over a bidirectional layer: pooled[b] = concat(forward state
 * at lens[b] - 1, reverse state at t = 0), read off the layer's output. */
static void test_bidirectional_last_pools_h_n(void **state)
{
    (void)state;
    Model *m = model_of(CLS_SPEC("gru", "one_hot", "1", "true", "last"));
    const Node *mm = m->logits->in[0], *pooled = mm->in[0], *both = NULL;
    assert_int_equal(mm->op, OP_MATMUL);
    assert_int_equal(pooled->op, OP_CONCAT);
    for (int i = 0; i < m->nforward; i++)
        if (m->g->nodes[i]->op == OP_CONCAT && m->g->nodes[i]->shape.ndim == 3)
            both = m->g->nodes[i];
    assert_non_null(both);
    Rows r;
    rows_init(&r, m);
    Arena a = {0};
    InterpResult *res = run_padded(&a, m, &r, T_LONG);
    const double *p = res->val[pooled->id], *h = res->val[both->id];
    enum { H = 5 };
    for (int b = 0; b < B; b++)
        for (int j = 0; j < H; j++) {
            assert_true(p[b * 2 * H + j] == h[((lens[b] - 1) * B + b) * 2 * H + j]);
            assert_true(p[b * 2 * H + H + j] == h[(0 * B + b) * 2 * H + H + j]);
        }
    /* and not the reverse state at the last padded step */
    assert_true(p[2 * 2 * H + H] != h[((T_LONG - 1) * B + 2) * 2 * H + H]);
    arena_free_all(&a);
    rows_free(&r, m);
}

/* The loss of the rows padded to T_LONG; the padding tokens are drawn from
 * the same rng state every time. */
static double loss_at(const Model *m, const Rows *r)
{
    uint64_t saved = rng;
    Arena a = {0};
    double v = run_padded(&a, m, r, T_LONG)->val[m->loss->id][0];
    arena_free_all(&a);
    rng = saved;
    return v;
}

/* Central differences of the loss against the analytic gradient g. */
static int fd_check(const Model *m, Rows *r, const char *what, double *x, size_t n, const double *g)
{
    const double eps = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + eps;
        double up = loss_at(m, r);
        x[i] = keep - eps;
        double down = loss_at(m, r);
        x[i] = keep;
        double fd = (up - down) / (2 * eps);
        if (!(fabs(fd - g[i]) <= 1e-5 + 1e-3 * fabs(fd))) {
            print_error("%s[%zu]: analytic %.9g, central difference %.9g\n", what, i, g[i], fd);
            return 1;
        }
    }
    return 0;
}

static void check_fd(const char *spec)
{
    Model *m = model_of(spec);
    Rows r;
    rows_init(&r, m);
    for (int t = 0; t < T_LONG; t++) /* carry_scale is no derivative */
        r.carry[t] = 1;
    uint64_t saved = rng;
    Arena a = {0};
    InterpResult *res = run_padded(&a, m, &r, T_LONG);
    rng = saved;
    int bad = 0;
    for (int i = 0; i < m->nparams; i++) {
        assert_non_null(m->grads[i]);
        bad += fd_check(m, &r, m->params[i].name, r.params[i], res->numel[m->grads[i]->id],
                        res->val[m->grads[i]->id]);
    }
    for (int k = 0; k < m->nstates; k++) {
        assert_non_null(m->dstate[k]);
        bad += fd_check(m, &r, "state", r.state[k], res->numel[m->dstate[k]->id], res->val[m->dstate[k]->id]);
    }
    assert_int_equal(bad, 0);
    arena_free_all(&a);
    rows_free(&r, m);
}

static void test_bidirectional_gru_last_matches_fd(void **state)
{
    (void)state;
    check_fd(CLS_SPEC("gru", "one_hot", "1", "true", "last"));
}

static void test_bidirectional_lstm_two_layers_mean_matches_fd(void **state)
{
    (void)state;
    check_fd(CLS_SPEC("lstm", "{embed: 4}", "2", "true", "mean"));
}

/* row_scale: shape rule and value. */
static void test_row_scale_op(void **state)
{
    (void)state;
    Graph *g = graph_new(&perm, NULL);
    Node *a = graph_leaf(g, OP_INPUT, loc_none(), shape2(DIM_B, 4), DT_REAL, INPUT_STATE);
    Node *s = graph_leaf(g, OP_INPUT, loc_none(), shape1(DIM_B), DT_REAL, INPUT_MASK);
    Node *bad = graph_leaf(g, OP_INPUT, loc_none(), shape1(4), DT_REAL, INPUT_POOL);
    Node *n = graph_add2(g, OP_ROW_SCALE, loc_none(), a, s);
    assert_non_null(n);
    assert_true(shape_eq(n->shape, shape2(DIM_B, 4)));
    assert_null(graph_add2(g, OP_ROW_SCALE, loc_none(), a, bad)); /* [4] is not a's rows */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_gru_last),
        cmocka_unit_test(test_forward_lstm_mean_two_layers),
        cmocka_unit_test(test_bidirectional_gru_last),
        cmocka_unit_test(test_bidirectional_lstm_mean),
        cmocka_unit_test(test_bidirectional_rnn_two_layers_last),
        cmocka_unit_test(test_bidirectional_last_pools_h_n),
        cmocka_unit_test(test_bidirectional_gru_last_matches_fd),
        cmocka_unit_test(test_bidirectional_lstm_two_layers_mean_matches_fd),
        cmocka_unit_test(test_row_scale_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
