/*
 * test_pass_gemmfuse.c: GEMMs that share their left operand, fused before
 * autodiff (pass_gemmfuse), give the values and gradients of the unfused
 * model: the same spec is lowered twice, once with the pass before
 * autodiff, and both graphs run in the reference interpreter on the same
 * inputs (test_pass_check.h's inputs and tolerance, 1e-12). Then the shape
 * of the result: one GEMM per shared operand forward, one for dh backward
 * fed by a concat of the gate gradients (no zero fill, no sum of GEMMs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_pass_check.h"

/* A user cell: two products of h share it (widths 8 and 8), a third has
 * another left operand (f * h) and a fourth a per-step one (x). */
static const char *const spec_user = SPEC_HEAD("usr", "one_hot")
    "cell:\n  name: usr\n  input: x\n  state: [h]\n  output: h\n  params:\n"
    "    W_xf: [input, hidden]\n    W_hf: [hidden, hidden]\n    W_hg: [hidden, hidden]\n"
    "    W_hh: [hidden, hidden]\n    b_f: [hidden]\n"
    "  equations:\n"
    "    f: sigmoid(x @ W_xf + h @ W_hf + b_f)\n"
    "    g: tanh(h @ W_hg)\n"
    "    n: tanh((f * h) @ W_hh + g)\n"
    "    h: (1 - f) * h + f * n\n";

static Model *lowered(const char *text, bool fuse)
{
    Spec *s = spec_parse(&perm, "t.yaml", text, strlen(text));
    if (s)
        s->bidirectional |= pc_bidirectional;
    Model *m = s ? lower(&perm, s) : NULL;
    if (!m)
        return NULL;
    if (fuse) {
        pass_gemmfuse(m);
        pass_dce(m);
        graph_verify(m->g);
    }
    autodiff(&perm, m);
    return m;
}

/* 0 when the fused model agrees with the plain one; prints the first
 * disagreement. */
static int fused_check(const char *spec)
{
    Model *m0 = lowered(spec, false), *m1 = lowered(spec, true);
    if (!m0 || !m1 || m0->nparams != m1->nparams || m0->nstates != m1->nstates)
        return -1;
    InterpEnv env = {.B = PC_B, .T = PC_T, .V = PC_V, .dropout_seed = 0x5eedull, .train = true};
    double *pv[PC_MAX] = {0}, *sv[MAX_STATES] = {0}, cs[PC_T];
    int32_t x[PC_B * PC_T], y[PC_B * PC_T];
    for (int i = 0; i < m0->nparams; i++) {
        size_t n = 0;
        shape_numel(m0->params[i].shape, PC_B, PC_T, PC_V, PC_L, &n);
        pv[i] = malloc(n * sizeof(double) + 1);
        for (size_t k = 0; k < n; k++)
            pv[i][k] = pc_urand(-0.8, 0.8);
    }
    for (int k = 0; k < m0->nstates; k++) {
        sv[k] = malloc(PC_B * 8 * sizeof(double));
        for (int j = 0; j < PC_B * 8; j++)
            sv[k][j] = pc_urand(-0.5, 0.5);
        env.state[k] = sv[k];
    }
    for (int i = 0; i < PC_B * PC_T; i++) {
        x[i] = (int32_t)pc_urand(0, PC_V);
        y[i] = (int32_t)pc_urand(0, PC_V);
    }
    for (int t = 0; t < PC_T; t++)
        cs[t] = t == 2 ? 0 : t == 3 ? 0.5 : 1;
    env.params = pv, env.x = x, env.y = y, env.carry_scale = cs;

    Outputs a, b;
    int bad = !pc_outputs(m0, &env, &a);
    bad = bad || !pc_outputs(m1, &env, &b);
    for (int i = 0; !bad && i < a.count; i++) {
        bad = a.n[i] != b.n[i] || strcmp(a.what[i], b.what[i]) != 0;
        for (size_t k = 0; !bad && k < a.n[i]; k++)
            if (!(fabs(a.v[i][k] - b.v[i][k]) <= 1e-12 * fmax(1, fabs(a.v[i][k])))) {
                fprintf(stderr, "%s[%zu]: %.17g unfused, %.17g fused\n", a.what[i], k, a.v[i][k], b.v[i][k]);
                bad = 1;
            }
    }
    for (int i = 0; i < a.count; i++)
        free(a.v[i]);
    for (int i = 0; i < b.count; i++)
        free(b.v[i]);
    for (int i = 0; i < PC_MAX; i++)
        free(pv[i]);
    for (int k = 0; k < MAX_STATES; k++)
        free(sv[k]);
    return bad;
}

/* Matmuls in the bodies of forward (reverse == want_reverse) scans with
 * the given transposes and last dim. */
static int body_matmuls(const Model *m, bool reverse, bool tb, int width)
{
    int c = 0;
    for (int i = 0; i < m->g->n; i++) {
        const Node *s = m->g->nodes[i];
        if (s->op != OP_SCAN || s->scan->reverse != reverse)
            continue;
        for (int k = 0; k < s->scan->body->n; k++) {
            const Node *n = s->scan->body->nodes[k];
            c += n->op == OP_MATMUL && n->tb == tb && n->shape.d[n->shape.ndim - 1] == width;
        }
    }
    return c;
}

static void test_gemmfuse_gru_values(void **state)
{
    (void)state;
    assert_int_equal(fused_check(spec_gru), 0);
}

static void test_gemmfuse_lstm_values(void **state)
{
    (void)state;
    assert_int_equal(fused_check(spec_lstm_embed), 0);
}

static void test_gemmfuse_2layer_values(void **state)
{
    (void)state;
    assert_int_equal(fused_check(spec_gru_2layer_dropout), 0);
}

static void test_gemmfuse_user_cell_values(void **state)
{
    (void)state;
    assert_int_equal(fused_check(spec_user), 0);
}

static void test_gemmfuse_bidirectional_values(void **state)
{
    (void)state;
    pc_bidirectional = true;
    int r = fused_check(spec_lstm_embed);
    pc_bidirectional = false;
    assert_int_equal(r, 0);
}

/* Forward: h @ [W_hr W_hz W_hn] is one [B,8]x[8,24] GEMM; backward: dh is
 * one [B,24]x[24,8] GEMM (matmul.tb) of the concatenated gate gradients. */
static void test_gemmfuse_gru_shape(void **state)
{
    (void)state;
    Model *m0 = lowered(spec_gru, false), *m = lowered(spec_gru, true);
    assert_non_null(m);
    assert_int_equal(body_matmuls(m0, false, false, 24), 0);
    assert_int_equal(body_matmuls(m, false, false, 24), 1);
    assert_int_equal(body_matmuls(m0, false, false, 8), 6); /* x @ W_i* and h @ W_h* */
    assert_int_equal(body_matmuls(m, false, false, 8), 3);  /* x @ W_i*: pass_hoist's */
    assert_int_equal(body_matmuls(m, true, true, 8), 1);
    assert_int_equal(body_matmuls(m0, true, true, 8), 3);
    /* dM = concat(dr, dz, dn): no zeros, and one concat of 3 per step */
    int concats = 0, zeros = 0;
    for (int i = 0; i < m->g->n; i++) {
        const Node *s = m->g->nodes[i];
        if (s->op != OP_SCAN || !s->scan->reverse)
            continue;
        for (int k = 0; k < s->scan->body->n; k++) {
            const Node *n = s->scan->body->nodes[k];
            concats += n->op == OP_CONCAT && n->nin == 3;
            zeros += n->op == OP_ZEROS && n->shape.d[n->shape.ndim - 1] != 8;
        }
    }
    assert_int_equal(concats, 1);
    assert_int_equal(zeros, 0);
    /* and W_cat = concat(W_hr, W_hz, W_hn) once, outside the scans */
    assert_int_equal(pc_count(m->g, OP_CONCAT) - concats, 1);
}

/* LSTM: four gates, one [B,8]x[8,32] GEMM; the user cell fuses only the two
 * products of h itself. */
static void test_gemmfuse_groups(void **state)
{
    (void)state;
    Model *m = lowered(spec_lstm_embed, true);
    assert_non_null(m);
    assert_int_equal(body_matmuls(m, false, false, 32), 1);
    Model *u = lowered(spec_user, true);
    assert_non_null(u);
    assert_int_equal(body_matmuls(u, false, false, 16), 1);
    assert_int_equal(body_matmuls(u, false, false, 8), 2); /* x @ W_xf, (f * h) @ W_hh */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemmfuse_gru_values),
        cmocka_unit_test(test_gemmfuse_lstm_values),
        cmocka_unit_test(test_gemmfuse_2layer_values),
        cmocka_unit_test(test_gemmfuse_user_cell_values),
        cmocka_unit_test(test_gemmfuse_bidirectional_values),
        cmocka_unit_test(test_gemmfuse_gru_shape),
        cmocka_unit_test(test_gemmfuse_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
