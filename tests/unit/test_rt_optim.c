/*
 * test_rt_optim.c: the optimizers (rnnrt_optim.c) against PyTorch.
 *
 * The expected parameters are torch.optim.SGD(momentum=...) and
 * torch.optim.Adam in float64 (torch 1.13), three steps from
 * p = [1, -2, 0.5] with the gradients below, printed with %.17g:
 *
 *   p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5], dtype=float64))
 *   opt = torch.optim.Adam([p], lr=0.01)
 *   for g in grads: p.grad = torch.tensor(g); opt.step(); print(p)
 *
 * The first step of each is also checked against a hand computation.
 * The double build must agree to 1e-15 relative; the float build (same
 * source, compiled by test_rt_* only in double) is not tested here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "rnnrt.h"

static const double grads[3][3] = {
    {0.5, -1.5, 0.25},
    {-0.2, 0.3, 0.0},
    {1.0, -0.7, 2.0},
};

static void check_close(double got, double want, double rtol, const char *what, int step,
                        int i)
{
    if (!(fabs(got - want) <= rtol * fabs(want) + 1e-300))
        fail_msg("%s step %d p[%d]: got %.17g, PyTorch %.17g (diff %.3g)", what, step + 1, i,
                 got, want, got - want);
}

/* Runs 3 steps of `name` and compares with want[step][i]. */
static void run(const char *name, double lr, double mom, double b1, double b2, double eps,
                const double want[3][3])
{
#ifndef RNNRT_DOUBLE
    (void)name, (void)lr, (void)mom, (void)b1, (void)b2, (void)eps, (void)want;
    skip();
#else
    RnnrtOptim o;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_optim_init(&o, name, mom, b1, b2, eps, 3, &err), 0);
    real p[3] = {1.0, -2.0, 0.5}, g[3];
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 3; i++)
            g[i] = grads[s][i];
        rnnrt_optim_step(&o, p, g, lr);
        for (int i = 0; i < 3; i++)
            check_close(p[i], want[s][i], 1e-15, name, s, i);
    }
    assert_int_equal(o.t, 3);
    rnnrt_optim_free(&o);
#endif
}

static void test_momentum_matches_pytorch(void **state)
{
    (void)state;
    static const double want[3][3] = {
        {0.94999999999999996, -1.8500000000000001, 0.47499999999999998},
        {0.92499999999999993, -1.7450000000000001, 0.45249999999999996},
        {0.80249999999999988, -1.5805, 0.23224999999999993},
    };
    /* by hand, p[0]: b = 0.5, p = 0.95; b = 0.45 - 0.2 = 0.25, p = 0.925;
     * b = 0.225 + 1 = 1.225, p = 0.8025 */
    assert_true(fabs(want[2][0] - 0.8025) < 1e-15);
    run("momentum", 0.1, 0, 0, 0, 0, want); /* 0 = the default 0.9 */
    run("momentum", 0.1, 0.9, 0, 0, 0, want);
    static const double half[3][3] = {
        {0.94999999999999996, -1.8500000000000001, 0.47499999999999998},
        {0.94499999999999995, -1.8050000000000002, 0.46249999999999997},
        {0.84249999999999992, -1.7125000000000001, 0.25624999999999998},
    };
    run("momentum", 0.1, 0.5, 0, 0, 0, half);
}

static void test_adam_matches_pytorch(void **state)
{
    (void)state;
    static const double want[3][3] = {
        {0.99000000020000001, -1.9900000000666667, 0.49000000039999997},
        {0.98654394181165106, -1.9848897393420886, 0.48329941823777162},
        {0.97965256089766639, -1.9786380248088655, 0.47631870082512751},
    };
    /* by hand, step 1 of p[0]: m = 0.05, v = 0.00025; m / (1 - 0.9) = 0.5,
     * sqrt(v) / sqrt(1 - 0.999) = 0.5, so p = 1 - 0.01 * 0.5 / (0.5 + 1e-8) */
    check_close(1 - 0.01 * 0.5 / (0.5 + 1e-8), want[0][0], 1e-15, "hand", 0, 0);
    run("adam", 0.01, 0, 0, 0, 0, want);
    run("adam", 0.01, 0, 0.9, 0.999, 1e-8, want);
    static const double custom[3][3] = {
        {0.95009980039920161, -1.950033311125916, 0.45019920318725098},
        {0.93552193234615422, -1.9268884583831383, 0.41887064212334429},
        {0.89943286501381803, -1.896866032778306, 0.38105094649594634},
    };
    run("adam", 0.05, 0, 0.8, 0.99, 1e-3, custom);
}

static void test_sgd_is_plain_sgd(void **state)
{
    (void)state;
    RnnrtOptim o;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_optim_init(&o, NULL, 0, 0, 0, 0, 2, &err), 0);
    assert_int_equal(o.kind, RNNRT_OPTIM_SGD);
    assert_null(o.m1);
    assert_int_equal(rnnrt_optim_state_size(&o), 0);
    real p[2] = {1, 2}, g[2] = {0.5, -1};
    rnnrt_optim_step(&o, p, g, 0.1);
    assert_true(p[0] == (real)(1 - 0.1 * 0.5) && p[1] == (real)(2 + 0.1));
    rnnrt_optim_free(&o);
}

static void test_optim_state_sizes_and_names(void **state)
{
    (void)state;
    RnnrtOptim o;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_optim_init(&o, "momentum", 0, 0, 0, 0, 5, &err), 0);
    assert_int_equal(rnnrt_optim_state_size(&o), 5);
    assert_true(o.momentum == 0.9);
    assert_string_equal(rnnrt_optim_name(o.kind), "momentum");
    rnnrt_optim_free(&o);
    assert_int_equal(rnnrt_optim_init(&o, "adam", 0, 0, 0, 0, 5, &err), 0);
    assert_int_equal(rnnrt_optim_state_size(&o), 10);
    assert_true(o.beta1 == 0.9 && o.beta2 == 0.999 && o.eps == 1e-8);
    assert_string_equal(rnnrt_optim_name(o.kind), "adam");
    for (int i = 0; i < 5; i++)
        assert_true(o.m1[i] == 0 && o.m2[i] == 0);
    rnnrt_optim_free(&o);
    assert_null(o.m1);
}

static void test_optim_rejects_bad_names_and_values(void **state)
{
    (void)state;
    RnnrtOptim o;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_optim_init(&o, "adagrad", 0, 0, 0, 0, 1, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "unknown optimizer 'adagrad'"));
    assert_int_equal(rnnrt_optim_init(&o, "momentum", 1.0, 0, 0, 0, 1, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "momentum must be in (0, 1), not 1"));
    assert_int_equal(rnnrt_optim_init(&o, "adam", 0, -0.1, 0, 0, 1, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "beta1 must be in [0, 1), not -0.1"));
    assert_int_equal(rnnrt_optim_init(&o, "adam", 0, 0, 1.0, 0, 1, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "beta2"));
    assert_int_equal(rnnrt_optim_init(&o, "adam", 0, 0, 0, -1, 1, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "eps"));
    assert_int_equal(rnnrt_optim_init(&o, "adam", 0, 0, 0, NAN, 1, &err), RNNRT_EXIT_DATA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_momentum_matches_pytorch),
        cmocka_unit_test(test_adam_matches_pytorch),
        cmocka_unit_test(test_sgd_is_plain_sgd),
        cmocka_unit_test(test_optim_state_sizes_and_names),
        cmocka_unit_test(test_optim_rejects_bad_names_and_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
