/*
 * test_autodiff.c: every adjoint rule against central finite differences.
 *
 * Each test builds a small Model whose scalar loss uses the op under test
 * (usually loss = softmax_xent(f(params) @ P, y), the matmul with a random
 * P mixing the classes so a wrong gradient cannot hide in the directions
 * softmax ignores), runs autodiff, evaluates the forward+backward graph
 * with the interpreter and compares m->grads[i] and m->dstate[k] with
 * central differences of the loss over EVERY parameter and initial-state
 * element: eps 1e-6, |a - n| <= 1e-5 + 1e-3 |n| (torch.gradcheck's).
 *
 * Truncated BPTT (carry_scale) is not the gradient of the forward loss, so
 * those tests compare against an independent computation: the loss with
 * the state detached at every cut, i.e. the sequence split into segments
 * whose initial states are constants (taken from an unperturbed run), each
 * segment run on its own with the interpreter. A fractional scale s at one
 * cut gives s * full + (1 - s) * detached.
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

enum { MAX_P = 24, MAX_TB = 64, SHOW = 5 };
static const double EPS = 1e-6, ATOL = 1e-5, RTOL = 1e-3;

/* A model under test, its inputs, and what its gradients should be. */
typedef struct Case Case;
struct Case {
    Model *m;
    InterpEnv env;
    double *pv[MAX_P];
    double *sv[MAX_STATES];
    int32_t x[MAX_TB], y[MAX_TB];
    double cs[MAX_TB];
    /* expected grad = full * FD(loss) + det * FD(detached loss) */
    double p_full, p_det, s_full, s_det;
    bool cut[MAX_TB];                     /* detach the state entering t */
    double *seg_state[MAX_TB][MAX_STATES]; /* its constant value */
    bool may_vanish;                      /* all-zero expected grads are fine */
};

static uint64_t rng = 88172645463325252ull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

static size_t numel(const Case *c, Shape s)
{
    size_t n = 0;
    assert_true(shape_numel(s, c->env.B, c->env.T, c->env.V, 0, &n));
    return n;
}

static Case *case_new(int B, int T, int V)
{
    Case *c = test_calloc(1, sizeof *c);
    c->m = arena_alloc(&perm, sizeof *c->m);
    c->m->g = graph_new(&perm, NULL);
    c->env = (InterpEnv){.B = B, .T = T, .V = V, .params = c->pv, .x = c->x, .y = c->y};
    c->p_full = c->s_full = 1;
    assert_true(T * B <= MAX_TB);
    for (int i = 0; i < T * B; i++) {
        c->x[i] = (int32_t)urand(0, V);
        c->y[i] = (int32_t)urand(0, V);
    }
    return c;
}

static void case_free(Case *c)
{
    for (int i = 0; i < MAX_P; i++)
        free(c->pv[i]);
    for (int k = 0; k < MAX_STATES; k++) {
        free(c->sv[k]);
        for (int t = 0; t < MAX_TB; t++)
            free(c->seg_state[t][k]);
    }
    test_free(c);
}

static double *random_values(size_t n, double lo, double hi, bool away_from_zero)
{
    double *v = calloc(n + 1, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        v[i] = urand(lo, hi);
        if (away_from_zero && fabs(v[i]) < 0.2) /* keep relu off its kink */
            v[i] = v[i] < 0 ? -0.2 - v[i] : 0.2 + v[i];
    }
    return v;
}

/* ---- building models ---- */

static void add_param_values(Case *c, int i, bool away_from_zero)
{
    assert_true(i < MAX_P);
    free(c->pv[i]);
    c->pv[i] = random_values(numel(c, c->m->params[i].shape), -1, 1, away_from_zero);
}

static Node *param(Case *c, const char *name, Shape s)
{
    Model *m = c->m;
    m->params = arena_grow(&perm, m->params, &m->cap_params, m->nparams + 1, sizeof(Param));
    m->params[m->nparams] = (Param){name, loc_none(), s, INIT_UNIFORM, 1, true};
    add_param_values(c, m->nparams, false);
    Node *n = graph_leaf(m->g, OP_PARAM, loc_none(), s, DT_REAL, m->nparams++);
    n->name = name;
    return n;
}

/* Initial state k: INPUT_STATE + k of shape [B, width]. */
static Node *state(Case *c, int width)
{
    Model *m = c->m;
    int k = m->nstates++;
    m->state_in[k] = graph_leaf(m->g, OP_INPUT, loc_none(), shape2(DIM_B, width), DT_REAL, INPUT_STATE + k);
    m->state_size += width;
    c->sv[k] = random_values(numel(c, m->state_in[k]->shape), -1, 1, false);
    c->env.state[k] = c->sv[k];
    return m->state_in[k];
}

static Node *input(Case *c, int index, Shape s, DType dt)
{
    return graph_leaf(c->m->g, OP_INPUT, loc_none(), s, dt, index);
}

static Node *op1(Case *c, Op op, Node *a)
{
    (void)c;
    return graph_add1(a->graph, op, loc_none(), a);
}
static Node *op2(Case *c, Op op, Node *a, Node *b)
{
    (void)c;
    Node *n = graph_add2(a->graph, op, loc_none(), a, b);
    assert_non_null(n);
    return n;
}
static Node *mm(Node *a, Node *b)
{
    Node *n = graph_matmul(a->graph, loc_none(), a, b, false, false);
    assert_non_null(n);
    return n;
}

/* loss = softmax_xent(logits [..., V], y [...]). */
static void xent_loss(Case *c, Node *logits)
{
    Shape ys = logits->shape;
    ys.ndim--;
    Node *y = input(c, INPUT_Y, ys, DT_INT);
    c->m->logits = logits;
    c->m->loss = op2(c, OP_SOFTMAX_XENT, logits, y);
    c->m->nforward = c->m->g->n;
}

/* loss = softmax_xent(f [..., n] @ P [n, V], y). */
static void head(Case *c, Node *f)
{
    Node *P = param(c, "P", shape2(f->shape.d[f->shape.ndim - 1], DIM_V));
    xent_loss(c, mm(f, P));
}

/* ---- losses and finite differences ---- */

typedef double LossFn(Case *c);

static double loss_of(Case *c, const InterpEnv *env)
{
    Arena a = {0};
    InterpResult *r = interp_run(&a, c->m, env);
    assert_non_null(r);
    double l = r->val[c->m->loss->id][0];
    arena_free_all(&a);
    return l;
}

static double loss_full(Case *c) { return loss_of(c, &c->env); }

/* The state entering each cut, from an unperturbed run of the prefix. */
static void compute_cut_states(Case *c)
{
    Model *m = c->m;
    for (int t = 0; t < c->env.T; t++) {
        if (!c->cut[t])
            continue;
        for (int k = 0; k < m->nstates; k++) {
            size_t n = numel(c, m->state_in[k]->shape);
            c->seg_state[t][k] = calloc(n, sizeof(double));
            if (t == 0) {
                memcpy(c->seg_state[t][k], c->sv[k], n * sizeof(double));
                continue;
            }
            InterpEnv e = c->env;
            e.T = t;
            Arena a = {0};
            InterpResult *r = interp_run(&a, m, &e);
            assert_non_null(r);
            memcpy(c->seg_state[t][k], r->val[m->state_out[k]->id], n * sizeof(double));
            arena_free_all(&a);
        }
    }
}

/* The loss with the state detached at every cut: segment [t0, t1) starts
 * from the constant cut state, weighted by its share of the rows. */
static double loss_detached(Case *c)
{
    int T = c->env.T, B = c->env.B;
    double total = 0;
    for (int t0 = 0; t0 < T;) {
        int t1 = t0 + 1;
        while (t1 < T && !c->cut[t1])
            t1++;
        InterpEnv e = c->env;
        e.T = t1 - t0;
        e.x = c->x + t0 * B;
        e.y = c->y + t0 * B;
        e.carry_scale = NULL;
        for (int k = 0; k < c->m->nstates; k++)
            if (c->cut[t0])
                e.state[k] = c->seg_state[t0][k];
        total += loss_of(c, &e) * (t1 - t0) / T;
        t0 = t1;
    }
    return total;
}

static double fd(Case *c, double *x, size_t j, LossFn *f)
{
    double x0 = x[j];
    x[j] = x0 + EPS;
    double lp = f(c);
    x[j] = x0 - EPS;
    double lm = f(c);
    x[j] = x0;
    return (lp - lm) / (2 * EPS);
}

/* Compares one tensor's analytic gradient (NULL: zeros) with
 * full * FD(loss) + det * FD(detached loss); returns the mismatches. */
static int check_tensor(Case *c, const char *what, double *x, size_t n, const double *grad, double full, double det)
{
    int bad = 0;
    double max_num = 0, max_diff = 0;
    for (size_t j = 0; j < n; j++) {
        double num = 0;
        if (full != 0)
            num += full * fd(c, x, j, loss_full);
        if (det != 0)
            num += det * fd(c, x, j, loss_detached);
        double a = grad ? grad[j] : 0, diff = fabs(a - num);
        max_num = fmax(max_num, fabs(num));
        max_diff = fmax(max_diff, diff);
        if (!(diff <= ATOL + RTOL * fabs(num)) && bad++ < SHOW)
            print_message("  %s[%zu]: autodiff %.10g, finite differences %.10g\n", what, j, a, num);
    }
    if (bad)
        print_message("  %s: %d of %zu differ, max diff %.3g\n", what, bad, n, max_diff);
    if (max_num < 1e-7 && !c->may_vanish) {
        print_message("  %s: the finite-difference gradient is zero; the test checks nothing\n", what);
        bad++;
    }
    return bad;
}

/* autodiff, then every parameter and initial-state element. */
static void check_grads(Case *c)
{
    Model *m = c->m;
    autodiff(&perm, m);
    compute_cut_states(c);
    Arena a = {0};
    InterpResult *r = interp_run(&a, m, &c->env);
    assert_non_null(r);
    int bad = 0;
    for (int i = 0; i < m->nparams; i++) {
        size_t n = numel(c, m->params[i].shape);
        const double *g = m->grads[i] ? r->val[m->grads[i]->id] : NULL;
        if (g)
            assert_int_equal(r->numel[m->grads[i]->id], n);
        bad += check_tensor(c, m->params[i].name, c->pv[i], n, g, c->p_full, c->p_det);
    }
    for (int k = 0; k < m->nstates; k++) {
        size_t n = numel(c, m->state_in[k]->shape);
        const double *g = m->dstate[k] ? r->val[m->dstate[k]->id] : NULL;
        if (g)
            assert_int_equal(r->numel[m->dstate[k]->id], n);
        char what[32];
        snprintf(what, sizeof what, "dstate %d", k);
        bad += check_tensor(c, what, c->sv[k], n, g, c->s_full, c->s_det);
    }
    arena_free_all(&a);
    assert_int_equal(bad, 0);
}

/* ---- elementwise ops ---- */

static void test_autodiff_add_with_bias_and_scalar_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 4)), *b = param(c, "b", shape1(4)), *s = param(c, "s", shape0());
    Node *u = op2(c, OP_ADD, A, b);  /* [3,4] + [4] */
    Node *v = op2(c, OP_ADD, s, u);  /* [] + [3,4] */
    Node *w = op2(c, OP_ADD, b, v);  /* [4] + [3,4] */
    Node *z = op2(c, OP_ADD, w, s);  /* [3,4] + [] */
    head(c, op2(c, OP_ADD, z, A));   /* equal shapes */
    check_grads(c);
    case_free(c);
}

static void test_autodiff_sub_with_bias_and_scalar_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 4)), *b = param(c, "b", shape1(4)), *s = param(c, "s", shape0());
    Node *A2 = param(c, "A2", shape2(3, 4)), *b2 = param(c, "b2", shape1(4));
    Node *u = op2(c, OP_SUB, A, b);  /* [3,4] - [4] */
    Node *v = op2(c, OP_SUB, s, u);  /* [] - [3,4] */
    Node *w = op2(c, OP_SUB, b2, v); /* [4] - [3,4] */
    Node *z = op2(c, OP_SUB, w, s);  /* [3,4] - [] */
    head(c, op2(c, OP_SUB, z, A2));
    check_grads(c);
    case_free(c);
}

static void test_autodiff_mul_with_bias_scalar_and_const_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 4)), *b = param(c, "b", shape1(4)), *s = param(c, "s", shape0());
    Node *A2 = param(c, "A2", shape2(3, 4));
    Node *u = op2(c, OP_MUL, A, A2);
    Node *v = op2(c, OP_MUL, u, b);
    Node *w = op2(c, OP_MUL, b, v);
    Node *z = op2(c, OP_MUL, s, w);
    Node *k = op2(c, OP_MUL, z, graph_const(c->m->g, loc_none(), 2.5));
    head(c, op2(c, OP_ADD, k, op2(c, OP_MUL, A, A))); /* a node times itself */
    check_grads(c);
    case_free(c);
}

static void check_unary(Op op, bool away_from_zero)
{
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 4));
    add_param_values(c, A->index, away_from_zero);
    Node *b = param(c, "b", shape1(4));
    head(c, op1(c, op, op2(c, OP_ADD, op1(c, op, A), b)));
    check_grads(c);
    case_free(c);
}

static void test_autodiff_neg_matches_fd(void **state)
{
    (void)state;
    check_unary(OP_NEG, false);
}

static void test_autodiff_sigmoid_matches_fd(void **state)
{
    (void)state;
    check_unary(OP_SIGMOID, false);
}

static void test_autodiff_tanh_matches_fd(void **state)
{
    (void)state;
    check_unary(OP_TANH, false);
}

static void test_autodiff_exp_matches_fd(void **state)
{
    (void)state;
    check_unary(OP_EXP, false);
}

/* relu(relu(A) + b) with |A| >= 0.2 and a bias that keeps every sum off 0. */
static void test_autodiff_relu_off_the_kink_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 4));
    add_param_values(c, A->index, true);
    Node *b = param(c, "b", shape1(4));
    static const double bias[] = {-3, 3, -3, 3}; /* |relu(A)| <= 1.2 */
    memcpy(c->pv[b->index], bias, sizeof bias);
    Node *r = op1(c, OP_RELU, op2(c, OP_ADD, op1(c, OP_RELU, A), b));
    head(c, op2(c, OP_ADD, r, A)); /* A also directly: the FD of A is never 0 */
    check_grads(c);
    case_free(c);
}

/* ---- linear algebra, loss, inputs ---- */

static void test_autodiff_matmul_2d_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 5)), *W = param(c, "W", shape2(5, 2));
    head(c, mm(A, W));
    check_grads(c);
    case_free(c);
}

static void test_autodiff_matmul_3d_leading_dims_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape3(2, 3, 5)), *W = param(c, "W", shape2(5, 2));
    head(c, op1(c, OP_TANH, mm(A, W)));
    check_grads(c);
    case_free(c);
}

/* Slices of one value with a gap (column 5) and a concat of four: the
 * slices' gradients are laid side by side with zeros in the gap. */
static void test_autodiff_slices_with_gap_and_concat_match_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 7));
    Node *s0 = graph_slice(c->m->g, loc_none(), A, 0, 2), *s1 = graph_slice(c->m->g, loc_none(), A, 2, 3);
    Node *s2 = graph_slice(c->m->g, loc_none(), A, 6, 1);
    Node *parts[4] = {op1(c, OP_TANH, s1), s0, op1(c, OP_SIGMOID, s2), A};
    Node *u = graph_add(c->m->g, OP_CONCAT, loc_none(), parts, 4);
    assert_non_null(u);
    assert_int_equal(u->shape.d[1], 13);
    head(c, u);
    check_grads(c);
    case_free(c);
}

/* Overlapping slices (column 2 in both) each add their own embed. */
static void test_autodiff_overlapping_slices_match_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 5));
    Node *s0 = graph_slice(c->m->g, loc_none(), A, 0, 3), *s1 = graph_slice(c->m->g, loc_none(), A, 2, 3);
    head(c, op2(c, OP_CONCAT, op1(c, OP_TANH, s0), s1));
    check_grads(c);
    case_free(c);
}

static void test_autodiff_softmax_xent_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    xent_loss(c, param(c, "Z", shape3(2, 3, 4)));
    check_grads(c);
    case_free(c);
}

/* grad_scale(A, 1) is the identity in both directions. */
static void test_autodiff_grad_scale_one_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 4));
    head(c, op2(c, OP_GRAD_SCALE, A, graph_const(c->m->g, loc_none(), 1.0)));
    check_grads(c);
    case_free(c);
}

/* grad_scale(A, 0.25): A's gradient is a quarter of the true one; the head
 * P after it is untouched. */
static void test_autodiff_grad_scale_scales_only_upstream(void **state)
{
    (void)state;
    Case *c = case_new(1, 1, 4);
    Node *A = param(c, "A", shape2(3, 4));
    Node *s = op2(c, OP_GRAD_SCALE, op1(c, OP_TANH, A), graph_const(c->m->g, loc_none(), 0.25));
    head(c, s);
    autodiff(&perm, c->m);
    Arena a = {0};
    InterpResult *r = interp_run(&a, c->m, &c->env);
    assert_non_null(r);
    int bad = check_tensor(c, "A", c->pv[0], 12, r->val[c->m->grads[0]->id], 0.25, 0);
    bad += check_tensor(c, "P", c->pv[1], 16, r->val[c->m->grads[1]->id], 1, 0);
    arena_free_all(&a);
    assert_int_equal(bad, 0);
    case_free(c);
}

/* xs = one_hot(x) @ E [T,B,n]: the gradient reaches E, not the ids. */
static void test_autodiff_one_hot_matmul_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(2, 3, 5);
    Node *X = input(c, INPUT_X, shape2(DIM_T, DIM_B), DT_INT);
    Node *E = param(c, "E", shape2(DIM_V, 3));
    head(c, op1(c, OP_TANH, mm(op1(c, OP_ONE_HOT, X), E)));
    check_grads(c);
    case_free(c);
}

/* ---- scans ---- */

/* A two-state cell with every input and output kind:
 *   seq x_t = (one_hot(x) @ E)[t], q_t = Q[t], cs_t = carry_scale[t]
 *   inv W, U, b, V2;  carry h (state 0), c (state 1)
 *     hs = grad_scale(h, cs_t)
 *     hn = tanh(x_t @ W + hs @ U + b)
 *     cn = c * sigmoid(q_t) + hn          (uses the new h)
 *     o  = hn * hs + cn @ V2              (old and new h together)
 *   outputs: o stacked, h final (used), c final (unused), hn summed
 *   loss = xent((o + b) @ P + h_T @ Pf + sum(hn) @ Ps, y) */
static void build_scan_model(Case *c, bool reverse)
{
    Graph *g = c->m->g;
    enum { N = 3 };
    Node *X = input(c, INPUT_X, shape2(DIM_T, DIM_B), DT_INT);
    Node *E = param(c, "E", shape2(DIM_V, N));
    Node *xs = mm(op1(c, OP_ONE_HOT, X), E);
    Node *Q = param(c, "Q", shape3(DIM_T, DIM_B, N));
    Node *W = param(c, "W", shape2(N, N)), *U = param(c, "U", shape2(N, N));
    Node *b = param(c, "b", shape1(N)), *V2 = param(c, "V2", shape2(N, N));
    Node *CS = input(c, INPUT_CARRY_SCALE, shape1(DIM_T), DT_REAL);
    Node *H0 = state(c, N), *C0 = state(c, N);
    Node *scan = graph_scan(g, loc_none(), "cell", reverse);
    Node *x_t = scan_add_input(scan, SCAN_SEQ, xs), *q_t = scan_add_input(scan, SCAN_SEQ, Q);
    Node *cs_t = scan_add_input(scan, SCAN_SEQ, CS);
    Node *Wa = scan_add_input(scan, SCAN_INV, W), *Ua = scan_add_input(scan, SCAN_INV, U);
    Node *ba = scan_add_input(scan, SCAN_INV, b), *Va = scan_add_input(scan, SCAN_INV, V2);
    Node *h = scan_add_input(scan, SCAN_CARRY, H0), *cc = scan_add_input(scan, SCAN_CARRY, C0);
    Node *hs = op2(c, OP_GRAD_SCALE, h, cs_t);
    Node *hn = op1(c, OP_TANH, op2(c, OP_ADD, op2(c, OP_ADD, mm(x_t, Wa), mm(hs, Ua)), ba));
    Node *cn = op2(c, OP_ADD, op2(c, OP_MUL, cc, op1(c, OP_SIGMOID, q_t)), hn);
    Node *o = op2(c, OP_ADD, op2(c, OP_MUL, hn, hs), mm(cn, Va));
    scan_set_carry_out(scan, 7, hn);
    scan_set_carry_out(scan, 8, cn);
    Node *os = scan_add_output(scan, SCAN_STACK, o, 0);
    Node *hT = scan_add_output(scan, SCAN_FINAL, NULL, 7);
    c->m->state_out[0] = hT;
    c->m->state_out[1] = scan_add_output(scan, SCAN_FINAL, NULL, 8);
    Node *hsum = scan_add_output(scan, SCAN_SUM, hn, 0);
    Node *P = param(c, "P", shape2(N, DIM_V)), *Pf = param(c, "Pf", shape2(N, DIM_V));
    Node *Ps = param(c, "Ps", shape2(N, DIM_V));
    Node *os_b = op2(c, OP_ADD, os, b); /* b used inside the scan and out */
    Node *logits = op2(c, OP_ADD, op2(c, OP_ADD, mm(os_b, P), mm(hT, Pf)), mm(hsum, Ps));
    xent_loss(c, logits);
    graph_verify(g);
}

static void test_autodiff_scan_all_input_and_output_kinds_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(2, 3, 4);
    build_scan_model(c, false);
    check_grads(c);
    case_free(c);
}

static void test_autodiff_reverse_scan_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(2, 3, 4);
    build_scan_model(c, true);
    check_grads(c);
    case_free(c);
}

/* A carry that starts from zeros (no gradient wanted for its init): the
 * carried gradient must still flow between steps. */
static void test_autodiff_scan_with_constant_init_matches_fd(void **state)
{
    (void)state;
    Case *c = case_new(2, 3, 4);
    Graph *g = c->m->g;
    Node *X = input(c, INPUT_X, shape2(DIM_T, DIM_B), DT_INT);
    Node *E = param(c, "E", shape2(DIM_V, 3)), *U = param(c, "U", shape2(3, 3));
    Node *xs = mm(op1(c, OP_ONE_HOT, X), E);
    Node *H0 = graph_leaf(g, OP_ZEROS, loc_none(), shape2(DIM_B, 3), DT_REAL, 0);
    Node *scan = graph_scan(g, loc_none(), "cell", false);
    Node *x_t = scan_add_input(scan, SCAN_SEQ, xs), *Ua = scan_add_input(scan, SCAN_INV, U);
    Node *h = scan_add_input(scan, SCAN_CARRY, H0);
    Node *hn = op1(c, OP_TANH, op2(c, OP_ADD, x_t, mm(h, Ua)));
    scan_set_carry_out(scan, 2, hn);
    head(c, scan_add_output(scan, SCAN_STACK, hn, 0));
    check_grads(c);
    case_free(c);
}

/* ---- whole networks through lower() ---- */

typedef struct {
    const char *name, *d0, *d1; /* dims: "input", "hidden" or NULL */
} ParamSrc;

typedef struct {
    const char *lhs, *rhs;
} EqSrc;

static SpecDim spec_dim(const char *sym) { return (SpecDim){sym, 0, loc_none()}; }

/* A language-model spec with the given cell, built without YAML. */
static Spec *make_spec(const char *const *states, int nstate, const ParamSrc *ps, int np, const EqSrc *eqs,
                       int neq, int hidden, int embed)
{
    Spec *s = arena_alloc(&perm, sizeof *s);
    s->path = "test.yaml";
    s->model = "test";
    s->hidden = hidden;
    s->input = embed ? INPUT_EMBED : INPUT_ONE_HOT;
    s->embed_dim = embed;
    SpecCell *c = &s->cell;
    c->name = "cell";
    c->input = "x";
    c->state = (const char **)states;
    c->nstate = nstate;
    c->state_locs = arena_array(&perm, (size_t)nstate, sizeof(Loc));
    c->output = states[0];
    c->params = arena_array(&perm, (size_t)np, sizeof(SpecParam));
    c->nparams = np;
    for (int i = 0; i < np; i++) {
        SpecParam *p = &c->params[i];
        p->name = ps[i].name;
        p->ndim = ps[i].d1 ? 2 : 1;
        p->dims[0] = spec_dim(ps[i].d0);
        p->dims[1] = spec_dim(ps[i].d1);
    }
    c->eqs = arena_array(&perm, (size_t)neq, sizeof(SpecEq));
    c->neqs = neq;
    for (int i = 0; i < neq; i++) {
        Loc loc = {"test.yaml", i + 1, 1};
        c->eqs[i] = (SpecEq){eqs[i].lhs, loc, expr_parse(&perm, eqs[i].rhs, loc), eqs[i].rhs};
        assert_non_null(c->eqs[i].rhs);
    }
    return s;
}

/* A Case around lower(spec): random params, ids and initial states. */
static Case *lowered_case(Spec *s, int B, int T, int V)
{
    Case *c = case_new(B, T, V);
    c->m = lower(&perm, s);
    assert_non_null(c->m);
    for (int i = 0; i < c->m->nparams; i++)
        add_param_values(c, i, false);
    for (int k = 0; k < c->m->nstates; k++) {
        c->sv[k] = random_values(numel(c, c->m->state_in[k]->shape), -1, 1, false);
        c->env.state[k] = c->sv[k];
    }
    return c;
}

static Spec *rnn_spec(int embed)
{
    static const char *const states[] = {"h"};
    static const ParamSrc ps[] = {{"W_ih", "input", "hidden"}, {"W_hh", "hidden", "hidden"}, {"b", "hidden", NULL}};
    static const EqSrc eqs[] = {{"h", "tanh(x @ W_ih + h @ W_hh + b)"}};
    return make_spec(states, 1, ps, 3, eqs, 1, 3, embed);
}

static Spec *gru_spec(void)
{
    static const char *const states[] = {"h"};
    static const ParamSrc ps[] = {
        {"W_xz", "input", "hidden"}, {"W_hz", "hidden", "hidden"}, {"b_z", "hidden", NULL},
        {"W_xr", "input", "hidden"}, {"W_hr", "hidden", "hidden"}, {"b_r", "hidden", NULL},
        {"W_xh", "input", "hidden"}, {"W_hh", "hidden", "hidden"}, {"b_h", "hidden", NULL}};
    static const EqSrc eqs[] = {{"z", "sigmoid(x @ W_xz + h @ W_hz + b_z)"},
                                {"r", "sigmoid(x @ W_xr + h @ W_hr + b_r)"},
                                {"n", "tanh(x @ W_xh + (r * h) @ W_hh + b_h)"},
                                {"h", "z * h + (1 - z) * n"}};
    return make_spec(states, 1, ps, 9, eqs, 4, 3, 0);
}

/* LSTM: h is used before its update (gates) and after (nothing), c before
 * (its own update) and after (h's equation). */
static Spec *lstm_spec(void)
{
    static const char *const states[] = {"h", "c"};
    static const ParamSrc ps[] = {
        {"W_xi", "input", "hidden"}, {"W_hi", "hidden", "hidden"}, {"b_i", "hidden", NULL},
        {"W_xf", "input", "hidden"}, {"W_hf", "hidden", "hidden"}, {"b_f", "hidden", NULL},
        {"W_xo", "input", "hidden"}, {"W_ho", "hidden", "hidden"}, {"b_o", "hidden", NULL},
        {"W_xg", "input", "hidden"}, {"W_hg", "hidden", "hidden"}, {"b_g", "hidden", NULL}};
    static const EqSrc eqs[] = {{"i", "sigmoid(x @ W_xi + h @ W_hi + b_i)"},
                                {"f", "sigmoid(x @ W_xf + h @ W_hf + b_f)"},
                                {"o", "sigmoid(x @ W_xo + h @ W_ho + b_o)"},
                                {"g", "tanh(x @ W_xg + h @ W_hg + b_g)"},
                                {"c", "f * c + i * g"},
                                {"h", "o * tanh(c)"}};
    return make_spec(states, 2, ps, 12, eqs, 6, 3, 0);
}

static void test_autodiff_lowered_rnn_matches_fd(void **state)
{
    (void)state;
    Case *c = lowered_case(rnn_spec(0), 2, 4, 5);
    check_grads(c);
    case_free(c);
}

static void test_autodiff_lowered_rnn_with_embedding_matches_fd(void **state)
{
    (void)state;
    Case *c = lowered_case(rnn_spec(2), 2, 3, 5);
    check_grads(c);
    case_free(c);
}

static void test_autodiff_lowered_gru_matches_fd(void **state)
{
    (void)state;
    Case *c = lowered_case(gru_spec(), 2, 4, 5);
    check_grads(c);
    case_free(c);
}

static void test_autodiff_lowered_lstm_matches_fd(void **state)
{
    (void)state;
    Case *c = lowered_case(lstm_spec(), 2, 3, 4);
    check_grads(c);
    case_free(c);
}

/* ---- truncated BPTT: carry_scale ---- */

static Case *truncated_case(Spec *s, const double *cs, int T)
{
    Case *c = lowered_case(s, 2, T, 4);
    memcpy(c->cs, cs, (size_t)T * sizeof(double));
    c->env.carry_scale = c->cs;
    return c;
}

/* carry_scale {1, 1, 0, 1, 0}: the gradient of the loss with the state
 * detached entering steps 2 and 4 (three independent segments). */
static void test_autodiff_carry_scale_zero_detaches_state_gru(void **state)
{
    (void)state;
    static const double cs[] = {1, 1, 0, 1, 0};
    Case *c = truncated_case(gru_spec(), cs, 5);
    c->cut[2] = c->cut[4] = true;
    c->p_full = c->s_full = 0;
    c->p_det = c->s_det = 1;
    check_grads(c);
    case_free(c);
}

static void test_autodiff_carry_scale_zero_detaches_both_lstm_states(void **state)
{
    (void)state;
    static const double cs[] = {1, 0, 1, 1};
    Case *c = truncated_case(lstm_spec(), cs, 4);
    c->cut[1] = true;
    c->p_full = c->s_full = 0;
    c->p_det = c->s_det = 1;
    check_grads(c);
    case_free(c);
}

/* All zeros: every step on its own; nothing reaches the initial state. */
static void test_autodiff_carry_scale_all_zero_gives_per_step_grads(void **state)
{
    (void)state;
    static const double cs[] = {0, 0, 0, 0};
    Case *c = truncated_case(rnn_spec(0), cs, 4);
    for (int t = 0; t < 4; t++)
        c->cut[t] = true;
    c->p_full = c->s_full = 0;
    c->p_det = c->s_det = 1;
    c->may_vanish = true; /* dstate is exactly zero */
    check_grads(c);
    case_free(c);
}

/* One cut scaled by 0.5: paths through it count half, so the gradient is
 * 0.5 * full + 0.5 * detached. */
static void test_autodiff_carry_scale_half_mixes_full_and_detached(void **state)
{
    (void)state;
    static const double cs[] = {1, 1, 0.5, 1, 1};
    Case *c = truncated_case(gru_spec(), cs, 5);
    c->cut[2] = true;
    c->p_full = c->s_full = 0.5;
    c->p_det = c->s_det = 0.5;
    check_grads(c);
    case_free(c);
}

/* Scaling the first step only scales the initial state's gradient. */
static void test_autodiff_carry_scale_first_step_scales_dstate(void **state)
{
    (void)state;
    static const double cs[] = {0.5, 1, 1};
    Case *c = truncated_case(lstm_spec(), cs, 3);
    c->s_full = 0.5;
    check_grads(c);
    case_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_autodiff_add_with_bias_and_scalar_matches_fd),
        cmocka_unit_test(test_autodiff_sub_with_bias_and_scalar_matches_fd),
        cmocka_unit_test(test_autodiff_mul_with_bias_scalar_and_const_matches_fd),
        cmocka_unit_test(test_autodiff_neg_matches_fd),
        cmocka_unit_test(test_autodiff_sigmoid_matches_fd),
        cmocka_unit_test(test_autodiff_tanh_matches_fd),
        cmocka_unit_test(test_autodiff_exp_matches_fd),
        cmocka_unit_test(test_autodiff_relu_off_the_kink_matches_fd),
        cmocka_unit_test(test_autodiff_matmul_2d_matches_fd),
        cmocka_unit_test(test_autodiff_matmul_3d_leading_dims_matches_fd),
        cmocka_unit_test(test_autodiff_slices_with_gap_and_concat_match_fd),
        cmocka_unit_test(test_autodiff_overlapping_slices_match_fd),
        cmocka_unit_test(test_autodiff_softmax_xent_matches_fd),
        cmocka_unit_test(test_autodiff_grad_scale_one_matches_fd),
        cmocka_unit_test(test_autodiff_grad_scale_scales_only_upstream),
        cmocka_unit_test(test_autodiff_one_hot_matmul_matches_fd),
        cmocka_unit_test(test_autodiff_scan_all_input_and_output_kinds_matches_fd),
        cmocka_unit_test(test_autodiff_reverse_scan_matches_fd),
        cmocka_unit_test(test_autodiff_scan_with_constant_init_matches_fd),
        cmocka_unit_test(test_autodiff_lowered_rnn_matches_fd),
        cmocka_unit_test(test_autodiff_lowered_rnn_with_embedding_matches_fd),
        cmocka_unit_test(test_autodiff_lowered_gru_matches_fd),
        cmocka_unit_test(test_autodiff_lowered_lstm_matches_fd),
        cmocka_unit_test(test_autodiff_carry_scale_zero_detaches_state_gru),
        cmocka_unit_test(test_autodiff_carry_scale_zero_detaches_both_lstm_states),
        cmocka_unit_test(test_autodiff_carry_scale_all_zero_gives_per_step_grads),
        cmocka_unit_test(test_autodiff_carry_scale_half_mixes_full_and_detached),
        cmocka_unit_test(test_autodiff_carry_scale_first_step_scales_dstate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
