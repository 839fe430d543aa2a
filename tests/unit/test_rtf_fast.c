/*
 * test_rtf_fast.c: the float build's fast paths (issue #5), linked with
 * librnnrt (float), against double references computed here:
 *   - rnnrt_xent_lse / rnnrt_xent_grad_row (one rnnrt_exp_fast per logit,
 *     8 partial sums) against libm logsumexp and softmax;
 *   - the float Adam / momentum updates against the same rules in double
 *     (the rules rnnrt.h quotes from torch.optim), over a block whose size
 *     is not a multiple of the vector width;
 *   - rnnrt_grad_norm's 8 partial sums and rnnrt_clip_grad_norm.
 * The tolerances are a few float ulps, scaled by the values' size; a wrong
 * term (a missing one-hot, a beta in the wrong place, a lane not added)
 * is off by far more.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "rnnrt.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

/* uniform in [lo, hi), splitmix64 */
static double uniform(double lo, double hi)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) / 9007199254740992.0;
}

static double ref_lse(const float *z, int C)
{
    double mx = z[0], s = 0;
    for (int k = 1; k < C; k++)
        mx = z[k] > mx ? z[k] : mx;
    for (int k = 0; k < C; k++)
        s += exp((double)z[k] - mx);
    return mx + log(s);
}

/* One row of width C with logits in [-spread, spread), against libm. */
static void check_xent_row(int C, double spread, int target)
{
    float *z = malloc((size_t)C * sizeof *z), *d = malloc((size_t)C * sizeof *d);
    assert_true(z && d);
    for (int k = 0; k < C; k++)
        z[k] = (float)uniform(-spread, spread);
    double lse = ref_lse(z, C);
    double got = rnnrt_xent_lse(z, C);
    if (!(fabs(got - lse) <= 1e-6 * (1 + fabs(lse))))
        fail_msg("C %d spread %g: lse %.9g, libm %.9g", C, spread, got, lse);
    const double scale = 0.37;
    rnnrt_xent_grad_row(z, C, target, scale, d);
    double sum = 0;
    for (int k = 0; k < C; k++) {
        double want = scale * (exp((double)z[k] - lse) - (k == target));
        /* relative to p, plus float's rounding of p - 1 at the target */
        if (!(fabs(d[k] - want) <= 2e-6 * fabs(want) + 2.5e-7 * scale))
            fail_msg("C %d spread %g target %d: d[%d] %.9g, libm %.9g", C, spread, target, k,
                     d[k], want);
        sum += d[k];
    }
    /* softmax sums to 1: the row to scale * (1 - [target in range]) */
    double total = target >= 0 && target < C ? 0 : scale;
    if (!(fabs(sum - total) <= 1e-5 * scale))
        fail_msg("C %d target %d: row sums to %.9g, not %.9g", C, target, sum, total);
    free(z);
    free(d);
}

static void test_xent_rows_match_libm(void **state)
{
    (void)state;
    /* widths below, at and past the 8 lanes, with a tail; the S2S vocab */
    static const int widths[] = {1, 3, 8, 13, 64, 2000, 2003};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        int C = widths[i];
        check_xent_row(C, 1, C / 2);
        check_xent_row(C, 30, 0);
        check_xent_row(C, 5, C - 1);
        check_xent_row(C, 5, -1); /* no one-hot term */
        check_xent_row(C, 5, C);
    }
}

static void test_softmax_xent_uses_the_rows(void **state)
{
    (void)state;
    enum { N = 5, V = 29 };
    float z[N * V], d[N * V];
    int32_t y[N] = {0, 28, 3, 17, 9};
    for (int i = 0; i < N * V; i++)
        z[i] = (float)uniform(-4, 4);
    double want = 0;
    for (int i = 0; i < N; i++)
        want += ref_lse(z + i * V, V) - z[i * V + y[i]];
    want /= N;
    double got = rnnrt_softmax_xent(z, y, N, V);
    assert_true(fabs(got - want) <= 1e-6 * fabs(want));
    rnnrt_softmax_xent_grad(z, y, N, V, 2.0f, d);
    for (int i = 0; i < N; i++) {
        double lse = ref_lse(z + i * V, V);
        for (int k = 0; k < V; k++) {
            double w = 2.0 / N * (exp((double)z[i * V + k] - lse) - (k == y[i]));
            assert_true(fabs(d[i * V + k] - w) <= 2e-6 * fabs(w) + 1e-9);
        }
    }
}

enum { NP = 1003 }; /* not a multiple of any vector width */

/* `steps` updates of `name` in float against the rule in double. */
static void check_optim(const char *name, double lr, double mu, double b1, double b2,
                        double eps, int steps)
{
    RnnrtOptim o;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_optim_init(&o, name, mu, b1, b2, eps, NP, &err), 0);
    static float p[NP], g[NP];
    static double rp[NP], rm[NP], rv[NP];
    for (int i = 0; i < NP; i++) {
        p[i] = (float)uniform(-1, 1);
        rp[i] = p[i];
        rm[i] = rv[i] = 0;
    }
    mu = o.momentum, b1 = o.beta1, b2 = o.beta2, eps = o.eps;
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < NP; i++)
            g[i] = (float)uniform(-0.1, 0.1);
        rnnrt_optim_step(&o, p, g, lr);
        double t = s + 1;
        for (int i = 0; i < NP; i++) {
            if (o.kind == RNNRT_OPTIM_MOMENTUM) {
                rm[i] = s == 0 ? g[i] : mu * rm[i] + g[i];
                rp[i] -= lr * rm[i];
            } else {
                rm[i] = b1 * rm[i] + (1 - b1) * g[i];
                rv[i] = b2 * rv[i] + (1 - b2) * (double)g[i] * g[i];
                rp[i] -= lr / (1 - pow(b1, t)) * rm[i] / (sqrt(rv[i]) / sqrt(1 - pow(b2, t)) + eps);
            }
        }
        for (int i = 0; i < NP; i++)
            if (!(fabs(p[i] - rp[i]) <= 4e-7 * (s + 1) * (fabs(rp[i]) + lr)))
                fail_msg("%s step %d p[%d]: float %.9g, double rule %.9g", name, s + 1, i, p[i],
                         rp[i]);
        for (int i = 0; i < NP; i++)
            if (!(fabs(o.m1[i] - rm[i]) <= 1e-6 * fabs(rm[i]) + 2e-8 * (s + 1)))
                fail_msg("%s step %d m1[%d]: float %.9g, double rule %.9g", name, s + 1, i,
                         o.m1[i], rm[i]);
    }
    assert_int_equal(o.t, steps);
    rnnrt_optim_free(&o);
}

static void test_float_optimizers_follow_the_rules(void **state)
{
    (void)state;
    check_optim("adam", 0.005, 0, 0, 0, 0, 6);
    check_optim("adam", 0.05, 0, 0.8, 0.99, 1e-3, 6);
    check_optim("momentum", 0.1, 0, 0, 0, 0, 6);
    check_optim("momentum", 0.1, 0.5, 0, 0, 0, 6);
}

static void test_grad_norm_and_clip(void **state)
{
    (void)state;
    enum { N = 10007 };
    static float g[N];
    double sum = 0;
    for (int i = 0; i < N; i++) {
        g[i] = (float)uniform(-1, 1);
        sum += (double)g[i] * g[i];
    }
    double norm = rnnrt_grad_norm(g, N);
    assert_true(fabs(norm - sqrt(sum)) <= 1e-12 * sqrt(sum));
    /* every lane and the tail count: change one element in each */
    for (int i = N - 9; i < N; i++) {
        float keep = g[i];
        g[i] += 100;
        assert_true(rnnrt_grad_norm(g, N) > norm + 1);
        g[i] = keep;
    }
    double total = rnnrt_clip_grad_norm(g, N, 1.0);
    assert_true(total == norm);
    double after = rnnrt_grad_norm(g, N);
    assert_true(fabs(after - 1.0) <= 1e-5);
    assert_true(rnnrt_grad_norm(g, 3) == sqrt((double)g[0] * g[0] + (double)g[1] * g[1] +
                                              (double)g[2] * g[2]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xent_rows_match_libm),
        cmocka_unit_test(test_softmax_xent_uses_the_rows),
        cmocka_unit_test(test_float_optimizers_follow_the_rules),
        cmocka_unit_test(test_grad_norm_and_clip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
