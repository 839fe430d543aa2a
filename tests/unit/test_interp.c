/*
 * test_interp.c: the reference interpreter's op semantics (ops.def).
 *
 * Each test builds a tiny graph by hand, runs interp_run on it and compares
 * the values with numbers worked out by hand (the comments show the
 * arithmetic). Error tests check that bad ids, sizes and envs give a
 * message and NULL instead of a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

enum { MAX_PARAMS = 8 };

/* A hand-built model, its env and the arena interp_run allocates from. */
typedef struct {
    Model *m;
    Graph *g;
    InterpEnv env;
    double *pv[MAX_PARAMS];
    Arena a;
    InterpResult *r;
} Fix;

static int setup(void **state)
{
    Fix *f = test_calloc(1, sizeof *f);
    f->m = arena_alloc(&perm, sizeof *f->m);
    f->m->g = f->g = graph_new(&perm, NULL);
    f->env.B = f->env.T = f->env.V = 1;
    f->env.params = f->pv;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fix *f = *state;
    arena_free_all(&f->a);
    diag_set_stream(NULL);
    test_free(f);
    return 0;
}

/* A parameter of shape s holding `vals`. */
static Node *param(Fix *f, Shape s, const double *vals)
{
    Model *m = f->m;
    m->params = arena_grow(&perm, m->params, &m->cap_params, m->nparams + 1, sizeof(Param));
    m->params[m->nparams] = (Param){"p", loc_none(), s, INIT_ZEROS, 0, true};
    f->pv[m->nparams] = (double *)vals;
    return graph_leaf(f->g, OP_PARAM, loc_none(), s, DT_REAL, m->nparams++);
}

static void run(Fix *f)
{
    graph_verify(f->g);
    f->r = interp_run(&f->a, f->m, &f->env);
    assert_non_null(f->r);
}

/* Runs and expects failure; the message must mention `what`. */
static void run_fails(Fix *f, const char *what)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *ms = open_memstream(&buf, &len);
    diag_set_stream(ms);
    f->r = interp_run(&f->a, f->m, &f->env);
    diag_set_stream(NULL);
    fclose(ms);
    assert_null(f->r);
    assert_non_null(strstr(buf, what));
    free(buf);
}

static void expect(const Fix *f, const Node *n, const double *want, size_t count)
{
    assert_int_equal(f->r->numel[n->id], count);
    for (size_t i = 0; i < count; i++)
        if (fabs(f->r->val[n->id][i] - want[i]) > 1e-12) {
            print_error("%%%d[%zu] = %.17g, want %.17g\n", n->id, i, f->r->val[n->id][i], want[i]);
            fail();
        }
}

#define EXPECT(f, n, ...)                                         \
    do {                                                          \
        const double want_[] = {__VA_ARGS__};                     \
        expect(f, n, want_, sizeof want_ / sizeof want_[0]);      \
    } while (0)

static const double A23[] = {1, 2, 3, 4, 5, 6};
static const double B3[] = {10, 20, 30};
static const double A223[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const double W32[] = {1, 2, 3, 4, 5, 6};

/* ---- elementwise ---- */

static void test_interp_run_add_broadcasts_bias_and_scalar(void **state)
{
    Fix *f = *state;
    Node *A = param(f, shape2(2, 3), A23), *b = param(f, shape1(3), B3);
    Node *s = graph_const(f->g, loc_none(), 0.5);
    Node *ab = graph_add2(f->g, OP_ADD, loc_none(), A, b);
    Node *ba = graph_add2(f->g, OP_ADD, loc_none(), b, A);
    Node *as = graph_add2(f->g, OP_ADD, loc_none(), A, s);
    Node *sa = graph_add2(f->g, OP_ADD, loc_none(), s, A);
    Node *ss = graph_add2(f->g, OP_ADD, loc_none(), s, s);
    run(f);
    EXPECT(f, ab, 11, 22, 33, 14, 25, 36);
    EXPECT(f, ba, 11, 22, 33, 14, 25, 36);
    EXPECT(f, as, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5);
    EXPECT(f, sa, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5);
    EXPECT(f, ss, 1.0);
}

static void test_interp_run_sub_and_mul_broadcast_either_side(void **state)
{
    Fix *f = *state;
    Node *A = param(f, shape2(2, 3), A23), *b = param(f, shape1(3), B3);
    Node *two = graph_const(f->g, loc_none(), 2.0);
    Node *ab = graph_add2(f->g, OP_SUB, loc_none(), A, b);
    Node *ba = graph_add2(f->g, OP_SUB, loc_none(), b, A);
    Node *s2 = graph_add2(f->g, OP_SUB, loc_none(), two, A);
    Node *mb = graph_add2(f->g, OP_MUL, loc_none(), b, A);
    Node *mm = graph_add2(f->g, OP_MUL, loc_none(), A, A);
    Node *m2 = graph_add2(f->g, OP_MUL, loc_none(), A, two);
    run(f);
    EXPECT(f, ab, -9, -18, -27, -6, -15, -24);
    EXPECT(f, ba, 9, 18, 27, 6, 15, 24);
    EXPECT(f, s2, 1, 0, -1, -2, -3, -4);
    EXPECT(f, mb, 10, 40, 90, 40, 100, 180);
    EXPECT(f, mm, 1, 4, 9, 16, 25, 36);
    EXPECT(f, m2, 2, 4, 6, 8, 10, 12);
}

static void test_interp_run_unary_ops_match_their_definitions(void **state)
{
    Fix *f = *state;
    static const double v[] = {-1, 0, 2};
    Node *a = param(f, shape1(3), v);
    Node *neg = graph_add1(f->g, OP_NEG, loc_none(), a);
    Node *sig = graph_add1(f->g, OP_SIGMOID, loc_none(), a);
    Node *th = graph_add1(f->g, OP_TANH, loc_none(), a);
    Node *relu = graph_add1(f->g, OP_RELU, loc_none(), a);
    Node *ex = graph_add1(f->g, OP_EXP, loc_none(), a);
    run(f);
    EXPECT(f, neg, 1, 0, -2);
    EXPECT(f, sig, 0.2689414213699951, 0.5, 0.8807970779778823);
    EXPECT(f, th, -0.7615941559557649, 0.0, 0.9640275800758169);
    EXPECT(f, relu, 0, 0, 2);
    EXPECT(f, ex, 0.36787944117144233, 1.0, 7.38905609893065);
}

static void test_interp_run_grad_helpers_use_forward_output(void **state)
{
    Fix *f = *state;
    static const double y[] = {0.5, -0.2}, g[] = {2, 3};
    Node *Y = param(f, shape1(2), y), *G = param(f, shape1(2), g);
    Node *tg = graph_add2(f->g, OP_TANH_GRAD, loc_none(), Y, G);
    Node *sg = graph_add2(f->g, OP_SIGMOID_GRAD, loc_none(), Y, G);
    Node *rg = graph_add2(f->g, OP_RELU_GRAD, loc_none(), Y, G);
    run(f);
    EXPECT(f, tg, 2 * (1 - 0.25), 3 * (1 - 0.04)); /* g (1 - y^2) */
    EXPECT(f, sg, 2 * 0.5 * 0.5, 3 * -0.2 * 1.2);  /* g y (1 - y) */
    EXPECT(f, rg, 2, 0);                           /* y > 0 ? g : 0 */
}

static void test_interp_run_leaves_const_zeros_grad_scale(void **state)
{
    Fix *f = *state;
    Node *A = param(f, shape2(2, 3), A23);
    Node *c = graph_const(f->g, loc_none(), -3.25);
    Node *z = graph_leaf(f->g, OP_ZEROS, loc_none(), shape2(DIM_B, 2), DT_REAL, 0);
    Node *gs = graph_add2(f->g, OP_GRAD_SCALE, loc_none(), A, graph_const(f->g, loc_none(), 0.0));
    f->env.B = 2;
    run(f);
    EXPECT(f, c, -3.25);
    EXPECT(f, z, 0, 0, 0, 0);
    EXPECT(f, gs, 1, 2, 3, 4, 5, 6); /* forward: identity, whatever the scale */
}

/* ---- linear algebra ---- */

static void test_interp_run_matmul_2d_and_tb(void **state)
{
    Fix *f = *state;
    static const double Wt[] = {1, 3, 5, 2, 4, 6}; /* W32 transposed: [2,3] */
    Node *A = param(f, shape2(2, 3), A23), *W = param(f, shape2(3, 2), W32);
    Node *WT = param(f, shape2(2, 3), Wt);
    Node *c = graph_matmul(f->g, loc_none(), A, W, false, false);
    Node *ct = graph_matmul(f->g, loc_none(), A, WT, false, true);
    run(f);
    /* [1 2 3] . [1 3 5] = 22, [1 2 3] . [2 4 6] = 28; [4 5 6] -> 49, 64 */
    EXPECT(f, c, 22, 28, 49, 64);
    EXPECT(f, ct, 22, 28, 49, 64);
    assert_int_equal(c->shape.ndim, 2);
}

static void test_interp_run_matmul_3d_keeps_leading_dims(void **state)
{
    Fix *f = *state;
    Node *A = param(f, shape3(2, 2, 3), A223), *W = param(f, shape2(3, 2), W32);
    Node *c = graph_matmul(f->g, loc_none(), A, W, false, false);
    run(f);
    /* rows [7 8 9] -> 7+24+45, 14+32+54; [10 11 12] -> 10+33+60, 20+44+72 */
    EXPECT(f, c, 22, 28, 49, 64, 76, 100, 103, 136);
    assert_true(shape_eq(c->shape, shape3(2, 2, 2)));
}

static void test_interp_run_matmul_ta_flattens_both_operands(void **state)
{
    Fix *f = *state;
    static const double Bv[] = {1, 0, 0, 1, 1, 1, 2, -1}; /* rows b0..b3 */
    Node *A = param(f, shape3(2, 2, 3), A223), *B = param(f, shape3(2, 2, 2), Bv);
    Node *c = graph_matmul(f->g, loc_none(), A, B, true, false);
    run(f);
    /* sum_r a_r^T b_r: column 0 = a0 + a2 + 2 a3, column 1 = a1 + a2 - a3 */
    EXPECT(f, c, 28, 1, 32, 2, 36, 3);
    assert_true(shape_eq(c->shape, shape2(3, 2)));
}

static void test_interp_run_sum_to_sums_leading_dims(void **state)
{
    Fix *f = *state;
    Node *A = param(f, shape3(2, 2, 3), A223);
    Node *s3 = graph_sum_to(f->g, loc_none(), A, shape1(3));
    Node *s23 = graph_sum_to(f->g, loc_none(), A, shape2(2, 3));
    Node *s0 = graph_sum_to(f->g, loc_none(), A, shape0());
    run(f);
    EXPECT(f, s3, 1 + 4 + 7 + 10, 2 + 5 + 8 + 11, 3 + 6 + 9 + 12);
    EXPECT(f, s23, 1 + 7, 2 + 8, 3 + 9, 4 + 10, 5 + 11, 6 + 12);
    EXPECT(f, s0, 78);
}

/* ---- inputs, one_hot, loss ---- */

static void test_interp_run_one_hot_binds_v_from_env(void **state)
{
    Fix *f = *state;
    static const int32_t x[] = {0, 2, 1, 2}; /* [T=2][B=2] */
    Node *X = graph_leaf(f->g, OP_INPUT, loc_none(), shape2(DIM_T, DIM_B), DT_INT, INPUT_X);
    Node *oh = graph_add1(f->g, OP_ONE_HOT, loc_none(), X);
    f->env.T = 2, f->env.B = 2, f->env.V = 3;
    f->env.x = x;
    run(f);
    EXPECT(f, X, 0, 2, 1, 2);
    EXPECT(f, oh, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1);
}

/* pool sums the steps of each row with its weights; pool_grad spreads a
 * row's gradient back over the steps with the same weights; the weights
 * are the INPUT_POOL input and L binds from the env. */
static void test_interp_run_pool_and_pool_grad(void **state)
{
    Fix *f = *state;
    static const double w[] = {1, 0.5, 0, 0.5}; /* [T=2][B=2] */
    Node *H = param(f, shape3(DIM_T, DIM_B, 3), A223);
    Node *W = graph_leaf(f->g, OP_INPUT, loc_none(), shape2(DIM_T, DIM_B), DT_REAL, INPUT_POOL);
    Node *G = param(f, shape2(DIM_B, 3), A23);
    Node *P = graph_add2(f->g, OP_POOL, loc_none(), H, W);
    Node *D = graph_add2(f->g, OP_POOL_GRAD, loc_none(), W, G);
    Node *Lp = param(f, shape1(DIM_L), B3);
    f->env.T = 2, f->env.B = 2, f->env.L = 3;
    f->env.pool = w;
    run(f);
    /* row 0: 1 * h[0,0] + 0 * h[1,0]; row 1: 0.5 h[0,1] + 0.5 h[1,1] */
    EXPECT(f, P, 1, 2, 3, 7, 8, 9);
    EXPECT(f, D, 1, 2, 3, 2, 2.5, 3, 0, 0, 0, 2, 2.5, 3);
    EXPECT(f, Lp, 10, 20, 30);
}

static void test_interp_run_pool_without_weights_fails(void **state)
{
    Fix *f = *state;
    Node *H = param(f, shape3(DIM_T, DIM_B, 3), B3);
    Node *W = graph_leaf(f->g, OP_INPUT, loc_none(), shape2(DIM_T, DIM_B), DT_REAL, INPUT_POOL);
    graph_add2(f->g, OP_POOL, loc_none(), H, W);
    run_fails(f, "no pooling weights");
}

static void test_interp_run_one_hot_id_out_of_range_fails(void **state)
{
    Fix *f = *state;
    static const int32_t x[] = {0, 3};
    Node *X = graph_leaf(f->g, OP_INPUT, loc_none(), shape2(DIM_T, DIM_B), DT_INT, INPUT_X);
    graph_add1(f->g, OP_ONE_HOT, loc_none(), X);
    f->env.T = 2, f->env.B = 1, f->env.V = 3;
    f->env.x = x;
    run_fails(f, "id 3 at position 1 is not in [0, 3)");
}

static void test_interp_run_one_hot_negative_id_fails(void **state)
{
    Fix *f = *state;
    static const int32_t x[] = {-1};
    Node *X = graph_leaf(f->g, OP_INPUT, loc_none(), shape2(DIM_T, DIM_B), DT_INT, INPUT_X);
    graph_add1(f->g, OP_ONE_HOT, loc_none(), X);
    f->env.V = 3;
    f->env.x = x;
    run_fails(f, "is not in [0, 3)");
}

static void test_interp_run_inputs_carry_scale_and_state(void **state)
{
    Fix *f = *state;
    static const double cs[] = {0.5, 0, 2};
    double h1[] = {1, 2, 3, 4};
    Node *C = graph_leaf(f->g, OP_INPUT, loc_none(), shape1(DIM_T), DT_REAL, INPUT_CARRY_SCALE);
    Node *H = graph_leaf(f->g, OP_INPUT, loc_none(), shape2(DIM_B, 2), DT_REAL, INPUT_STATE + 1);
    f->env.T = 3, f->env.B = 2;
    f->env.state[1] = h1;
    run(f);
    EXPECT(f, C, 1, 1, 1); /* NULL carry_scale: all ones */
    EXPECT(f, H, 1, 2, 3, 4);
    arena_free_all(&f->a);
    f->env.carry_scale = cs;
    run(f);
    EXPECT(f, C, 0.5, 0, 2);
}

static void test_interp_run_missing_state_fails(void **state)
{
    Fix *f = *state;
    graph_leaf(f->g, OP_INPUT, loc_none(), shape2(DIM_B, 2), DT_REAL, INPUT_STATE);
    run_fails(f, "no value for state 0");
}

/* logits [[0 0 0], [1 2 3]], targets {1, 0}:
 *   row 0: log 3 - 0;  row 1: log(e + e^2 + e^3) - 1. */
static void test_interp_run_softmax_xent_mean_over_rows(void **state)
{
    Fix *f = *state;
    static const double z[] = {0, 0, 0, 1, 2, 3};
    static const int32_t y[] = {1, 0};
    Node *Z = param(f, shape2(2, 3), z);
    Node *Y = graph_leaf(f->g, OP_INPUT, loc_none(), shape1(2), DT_INT, INPUT_Y);
    Node *loss = graph_add2(f->g, OP_SOFTMAX_XENT, loc_none(), Z, Y);
    Node *in[3] = {Z, Y, graph_const(f->g, loc_none(), 2.0)};
    Node *grad = graph_add(f->g, OP_SOFTMAX_XENT_GRAD, loc_none(), in, 3);
    f->env.y = y;
    run(f);
    EXPECT(f, loss, (1.0986122886681098 + 2.40760596444438) / 2);
    /* g (softmax - onehot) / rows with g = 2, rows = 2 */
    EXPECT(f, grad, 1.0 / 3, 1.0 / 3 - 1, 1.0 / 3, 0.09003057317038046 - 1, 0.24472847105479767,
           0.6652409557748219);
}

static void test_interp_run_softmax_xent_bad_target_fails(void **state)
{
    Fix *f = *state;
    static const double z[] = {0, 0, 0, 1, 2, 3};
    static const int32_t y[] = {1, 7};
    Node *Z = param(f, shape2(2, 3), z);
    Node *Y = graph_leaf(f->g, OP_INPUT, loc_none(), shape1(2), DT_INT, INPUT_Y);
    graph_add2(f->g, OP_SOFTMAX_XENT, loc_none(), Z, Y);
    f->env.y = y;
    run_fails(f, "target 7 in row 1");
}

/* ---- sizes ---- */

static void test_interp_run_overflowing_size_fails(void **state)
{
    Fix *f = *state;
    graph_leaf(f->g, OP_ZEROS, loc_none(), shape3(DIM_B, DIM_T, DIM_V), DT_REAL, 0);
    f->env.B = f->env.T = f->env.V = INT_MAX;
    run_fails(f, "overflows");
}

static void test_interp_run_nonpositive_dims_fail(void **state)
{
    Fix *f = *state;
    graph_const(f->g, loc_none(), 1.0);
    f->env.T = 0;
    run_fails(f, "must be positive");
}

static void test_interp_run_arg_outside_scan_fails(void **state)
{
    Fix *f = *state;
    graph_leaf(f->g, OP_ARG, loc_none(), shape1(2), DT_REAL, 0);
    run_fails(f, "not bound by a scan");
}

/* ---- scans ---- */

/* Body: hn = h + a_t; o = hn * w. Outputs: o stacked, h entering each step
 * stacked, a summed, h final. xs = [[1 2] [3 4] [5 6]], w = [10 100],
 * h0 = [0.5 -1]. */
typedef struct {
    Node *o, *h_in, *sum, *fin;
} ScanNodes;

static ScanNodes build_scan(Fix *f, bool reverse)
{
    static const double xs[] = {1, 2, 3, 4, 5, 6}, w[] = {10, 100}, h0[] = {0.5, -1};
    Node *X = param(f, shape2(DIM_T, 2), xs), *W = param(f, shape1(2), w), *H0 = param(f, shape1(2), h0);
    Node *scan = graph_scan(f->g, loc_none(), "test", reverse);
    Graph *b = scan->scan->body;
    Node *a = scan_add_input(scan, SCAN_SEQ, X);
    Node *wa = scan_add_input(scan, SCAN_INV, W);
    Node *h = scan_add_input(scan, SCAN_CARRY, H0);
    Node *hn = graph_add2(b, OP_ADD, loc_none(), h, a);
    Node *o = graph_add2(b, OP_MUL, loc_none(), hn, wa);
    scan_set_carry_out(scan, 2, hn);
    ScanNodes s;
    s.o = scan_add_output(scan, SCAN_STACK, o, 0);
    s.h_in = scan_add_output(scan, SCAN_STACK, h, 0);
    s.sum = scan_add_output(scan, SCAN_SUM, a, 0);
    s.fin = scan_add_output(scan, SCAN_FINAL, NULL, 2);
    f->env.T = 3;
    return s;
}

static void test_interp_run_scan_forward_all_kinds(void **state)
{
    Fix *f = *state;
    ScanNodes s = build_scan(f, false);
    run(f);
    /* h: [.5 -1] -> [1.5 1] -> [4.5 5] -> [9.5 11] */
    EXPECT(f, s.o, 15, 100, 45, 500, 95, 1100);
    EXPECT(f, s.h_in, 0.5, -1, 1.5, 1, 4.5, 5);
    EXPECT(f, s.sum, 9, 12);
    EXPECT(f, s.fin, 9.5, 11);
    assert_null(f->r->val[s.o->in[0]->id]); /* the scan node itself */
}

static void test_interp_run_scan_reverse_indexes_by_t(void **state)
{
    Fix *f = *state;
    ScanNodes s = build_scan(f, true);
    run(f);
    /* t = 2, 1, 0: h [.5 -1] -> [5.5 5] -> [8.5 9] -> [9.5 11] */
    EXPECT(f, s.o, 95, 1100, 85, 900, 55, 500);
    EXPECT(f, s.h_in, 8.5, 9, 5.5, 5, 0.5, -1);
    EXPECT(f, s.sum, 9, 12);
    EXPECT(f, s.fin, 9.5, 11);
}

/* p' = q, q' = p, r' = r (its own arg): every carry sees the values of the
 * previous step, not ones already updated in this step. */
static void test_interp_run_scan_carries_swap_simultaneously(void **state)
{
    Fix *f = *state;
    static const double p0[] = {1}, q0[] = {2}, r0[] = {7};
    Node *P = param(f, shape1(1), p0), *Q = param(f, shape1(1), q0), *R = param(f, shape1(1), r0);
    Node *scan = graph_scan(f->g, loc_none(), "swap", false);
    Node *p = scan_add_input(scan, SCAN_CARRY, P);
    Node *q = scan_add_input(scan, SCAN_CARRY, Q);
    Node *r = scan_add_input(scan, SCAN_CARRY, R);
    scan_set_carry_out(scan, 0, q);
    scan_set_carry_out(scan, 1, p);
    scan_set_carry_out(scan, 2, r);
    Node *ps = scan_add_output(scan, SCAN_STACK, p, 0);
    Node *pf = scan_add_output(scan, SCAN_FINAL, NULL, 0);
    Node *qf = scan_add_output(scan, SCAN_FINAL, NULL, 1);
    Node *rf = scan_add_output(scan, SCAN_FINAL, NULL, 2);
    f->env.T = 3;
    run(f);
    EXPECT(f, ps, 1, 2, 1);
    EXPECT(f, pf, 2);
    EXPECT(f, qf, 1);
    EXPECT(f, rf, 7);
}

/* The body reads a [B,2] state and a [T] scale (a rank-0 arg per step). */
static void test_interp_run_scan_seq_of_scalars_and_batched_state(void **state)
{
    Fix *f = *state;
    static const double cs[] = {2, 3};
    double h0[] = {1, 2, 3, 4};
    Node *C = graph_leaf(f->g, OP_INPUT, loc_none(), shape1(DIM_T), DT_REAL, INPUT_CARRY_SCALE);
    Node *H = graph_leaf(f->g, OP_INPUT, loc_none(), shape2(DIM_B, 2), DT_REAL, INPUT_STATE);
    Node *scan = graph_scan(f->g, loc_none(), "scale", false);
    Node *c = scan_add_input(scan, SCAN_SEQ, C);
    Node *h = scan_add_input(scan, SCAN_CARRY, H);
    Node *hn = graph_add2(scan->scan->body, OP_MUL, loc_none(), h, c);
    scan_set_carry_out(scan, 1, hn);
    Node *hs = scan_add_output(scan, SCAN_STACK, hn, 0);
    f->env.T = 2, f->env.B = 2;
    f->env.carry_scale = cs;
    f->env.state[0] = h0;
    run(f);
    EXPECT(f, hs, 2, 4, 6, 8, 6, 12, 18, 24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_interp_run_add_broadcasts_bias_and_scalar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_sub_and_mul_broadcast_either_side, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_unary_ops_match_their_definitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_grad_helpers_use_forward_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_leaves_const_zeros_grad_scale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_matmul_2d_and_tb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_matmul_3d_keeps_leading_dims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_matmul_ta_flattens_both_operands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_sum_to_sums_leading_dims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_one_hot_binds_v_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_one_hot_id_out_of_range_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_one_hot_negative_id_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_inputs_carry_scale_and_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_missing_state_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_softmax_xent_mean_over_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_softmax_xent_bad_target_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_overflowing_size_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_nonpositive_dims_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_arg_outside_scan_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_scan_forward_all_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_scan_reverse_indexes_by_t, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_pool_and_pool_grad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_pool_without_weights_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_scan_carries_swap_simultaneously, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interp_run_scan_seq_of_scalars_and_batched_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
