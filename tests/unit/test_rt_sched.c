/*
 * test_rt_sched.c: the learning-rate schedules (rnnrt_sched.c), the best
 * loss record and weight decay (rnnrt_optim_decay).
 *
 * The expected values are derived here from the rules PyTorch documents,
 * never written down: StepLR is base * gamma^floor(e / step_size);
 * ReduceLROnPlateau on a constant loss cuts after the first evaluation
 * and then every patience + 1 evaluations; the recursive cosine equals
 * the closed form eta + (base - eta) (1 + cos(pi e / T)) / 2 while
 * nothing else changes the lr. tests/torch/compare_lr_schedule.py checks
 * the same sequences against torch.optim.lr_scheduler itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "rnnrt.h"

static const double PI = 3.14159265358979323846;

static void assert_close(double got, double want, const char *what, int64_t e)
{
    if (!(fabs(got - want) <= 1e-12 * fabs(want) + 1e-300))
        fail_msg("%s after epoch %lld: got %.17g, want %.17g", what, (long long)e, got, want);
}

static RnnrtSchedOpts opts(int kind)
{
    RnnrtSchedOpts o;
    rnnrt_sched_opts_default(&o);
    o.kind = kind;
    return o;
}

static void test_sched_step_decays_every_n_epochs(void **state)
{
    (void)state;
    for (int k = 1; k <= 4; k++) {
        RnnrtSchedOpts o = opts(RNNRT_SCHED_STEP);
        o.step_size = k;
        o.factor = 0.5;
        RnnrtSchedState s;
        double base = 0.8, lr = base;
        rnnrt_sched_start(&s, lr);
        for (int64_t e = 1; e <= 12; e++) {
            lr = rnnrt_sched_epoch(&o, &s, e, 12, NAN, lr);
            assert_close(lr, base * pow(o.factor, (double)(e / k)), "step", e);
        }
    }
}

static void test_sched_constant_never_changes(void **state)
{
    (void)state;
    RnnrtSchedOpts o = opts(RNNRT_SCHED_CONSTANT);
    RnnrtSchedState s;
    rnnrt_sched_start(&s, 1.5);
    for (int64_t e = 1; e <= 10; e++)
        assert_true(rnnrt_sched_epoch(&o, &s, e, 10, 5.0 + (double)e, 1.5) == 1.5);
}

/* A constant loss: the first evaluation sets the best, every later one is
 * bad, and more than patience bad ones cut the lr and restart the count. */
static void test_sched_plateau_cuts_after_patience(void **state)
{
    (void)state;
    for (int p = 1; p <= 3; p++) {
        RnnrtSchedOpts o = opts(RNNRT_SCHED_PLATEAU);
        o.patience = p;
        o.factor = 0.25;
        RnnrtSchedState s;
        double base = 2, lr = base;
        rnnrt_sched_start(&s, lr);
        for (int64_t n = 1; n <= 15; n++) {
            lr = rnnrt_sched_epoch(&o, &s, n, 15, 3.0, lr);
            assert_close(lr, base * pow(o.factor, (double)((n - 1) / (p + 1))), "plateau", n);
        }
    }
}

/* Improvements of more than the relative threshold keep the lr; smaller
 * ones count as bad evaluations; unevaluated epochs (NAN) count as
 * nothing; min_lr bounds the cuts. */
static void test_sched_plateau_threshold_nan_and_min_lr(void **state)
{
    (void)state;
    RnnrtSchedOpts o = opts(RNNRT_SCHED_PLATEAU);
    o.patience = 1;
    o.factor = 0.5;
    RnnrtSchedState s;
    double lr = 1, loss = 4;
    rnnrt_sched_start(&s, lr);
    for (int64_t e = 1; e <= 6; e++) { /* 1% better each time: no cut */
        lr = rnnrt_sched_epoch(&o, &s, e, 20, loss, lr);
        loss *= 0.99;
        assert_true(lr == 1);
        assert_true(s.bad == 0);
    }
    double best = s.best;
    for (int64_t e = 7; e <= 8; e++) { /* below the threshold: bad */
        lr = rnnrt_sched_epoch(&o, &s, e, 20, best * (1 - o.threshold / 2), lr);
        lr = rnnrt_sched_epoch(&o, &s, e, 20, NAN, lr); /* nothing */
    }
    assert_close(lr, o.factor, "plateau below the threshold", 8);
    assert_true(s.best == best);
    o.min_lr = 0.3;
    for (int64_t e = 9; e <= 20; e++)
        lr = rnnrt_sched_epoch(&o, &s, e, 20, 100, lr);
    assert_true(lr == o.min_lr);
}

static void test_sched_cosine_is_the_closed_form(void **state)
{
    (void)state;
    const double etas[] = {0, 0.01};
    for (int i = 0; i < 2; i++) {
        RnnrtSchedOpts o = opts(RNNRT_SCHED_COSINE);
        o.min_lr = etas[i];
        int64_t T = 7;
        RnnrtSchedState s;
        double base = 0.5, lr = base;
        rnnrt_sched_start(&s, lr);
        for (int64_t e = 1; e <= 3 * T; e++) {
            lr = rnnrt_sched_epoch(&o, &s, e, T, NAN, lr);
            double want = o.min_lr + (base - o.min_lr) * (1 + cos(PI * (double)e / (double)T)) / 2;
            if (!(fabs(lr - want) <= 1e-12 * base))
                fail_msg("cosine eta %g after epoch %lld: got %.17g, closed form %.17g", o.min_lr,
                         (long long)e, lr, want);
        }
    }
}

static void test_sched_warmup_is_linear_then_flat(void **state)
{
    (void)state;
    RnnrtSchedOpts o = opts(RNNRT_SCHED_CONSTANT);
    assert_true(rnnrt_sched_step_lr(&o, 0, 0.7) == 0.7); /* no warm-up */
    o.warmup = 4;
    double prev = 0;
    for (int64_t s = 0; s < 10; s++) {
        double lr = rnnrt_sched_step_lr(&o, s, 0.7);
        double want = s + 1 < o.warmup ? 0.7 * (double)(s + 1) / (double)o.warmup : 0.7;
        assert_close(lr, want, "warm-up step", s);
        assert_true(lr >= prev);
        prev = lr;
    }
}

static void test_sched_record_counts_evaluations_without_a_best(void **state)
{
    (void)state;
    RnnrtSchedState s;
    rnnrt_sched_start(&s, 1);
    const double val[] = {3, 2, 2, NAN, 2.5, 1, 1.5};
    const int best[] = {1, 1, 0, 0, 0, 1, 0};
    const int64_t bad[] = {0, 0, 1, 1, 2, 0, 1};
    for (int i = 0; i < 7; i++) {
        assert_int_equal(rnnrt_sched_record(&s, val[i], i + 1), best[i]);
        assert_int_equal(s.val_bad, bad[i]);
    }
    assert_true(s.val_best == 1);
    assert_int_equal(s.val_best_epoch, 6);
}

static void test_sched_state_round_trips_and_old_sections_start_afresh(void **state)
{
    (void)state;
    RnnrtSchedState s = {0.25, 1.5, 3, 1.25, 7, 2}, t;
    RnnrtBuf b = {.what = "a test"};
    rnnrt_sched_put(&b, &s);
    RnnrtReader r = {b.p, b.n, 0, 0};
    assert_int_equal(rnnrt_sched_get(&r, &t, 9), 0);
    assert_int_equal(r.pos, b.n);
    assert_memory_equal(&s, &t, sizeof s);
    RnnrtReader empty = {b.p, 0, 0, 0}; /* a section that ends before it */
    assert_int_equal(rnnrt_sched_get(&empty, &t, 9), 0);
    assert_true(t.base_lr == 9 && isinf(t.best) && t.bad == 0 && isinf(t.val_best));
    RnnrtReader cut = {b.p, b.n - 3, 0, 0}; /* truncated: malformed */
    assert_int_equal(rnnrt_sched_get(&cut, &t, 9), -1);
    rnnrt_buf_free(&b);
}

static void test_sched_names_and_bad_values(void **state)
{
    (void)state;
    int k = -1;
    const char *names[] = {"constant", "step", "plateau", "cosine"};
    for (int i = 0; i < RNNRT_SCHED_N; i++) {
        assert_int_equal(rnnrt_sched_parse(names[i], &k), 0);
        assert_int_equal(k, i);
        assert_string_equal(rnnrt_sched_name(i), names[i]);
    }
    assert_int_equal(rnnrt_sched_parse("exponential", &k), -1);
    struct {
        const char *field, *msg;
    } cases[] = {{"factor", "--lr-factor"},     {"factor1", "--lr-factor"},
                 {"patience", "--lr-patience"}, {"step", "--lr-step"},
                 {"min", "--lr-min"},           {"warmup", "--warmup-steps"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        RnnrtSchedOpts o = opts(RNNRT_SCHED_PLATEAU);
        RnnrtError err = {0};
        assert_int_equal(rnnrt_sched_check(&o, &err), 0);
        const char *f = cases[i].field;
        if (!strcmp(f, "factor"))
            o.factor = -0.5;
        else if (!strcmp(f, "factor1"))
            o.factor = 1;
        else if (!strcmp(f, "patience"))
            o.patience = 0;
        else if (!strcmp(f, "step"))
            o.step_size = 0;
        else if (!strcmp(f, "min"))
            o.min_lr = -1;
        else
            o.warmup = -1;
        assert_int_equal(rnnrt_sched_check(&o, &err), RNNRT_EXIT_USAGE);
        assert_non_null(strstr(err.msg, cases[i].msg));
    }
}

/* SGD and momentum: the step with decay is the step on g + wd p. Adam:
 * with a zero gradient the step leaves p, so the decay alone shows,
 * p (1 - lr wd) (AdamW). wd 0 changes nothing. */
static void test_optim_decay_l2_and_decoupled(void **state)
{
    (void)state;
    const char *names[] = {"sgd", "momentum"};
    const real p0[3] = {1, -2, 0.5}, g0[3] = {0.5, -1.5, 0.25};
    double wd = 0.1, lr = 0.05;
    for (int i = 0; i < 2; i++) {
        RnnrtOptim a, b;
        RnnrtError err = {0};
        assert_int_equal(rnnrt_optim_init(&a, names[i], 0, 0, 0, 0, 3, &err), 0);
        assert_int_equal(rnnrt_optim_init(&b, names[i], 0, 0, 0, 0, 3, &err), 0);
        real pa[3], pb[3], ga[3], gb[3];
        memcpy(pa, p0, sizeof pa);
        memcpy(pb, p0, sizeof pb);
        for (int step = 0; step < 3; step++) {
            memcpy(ga, g0, sizeof ga);
            for (int j = 0; j < 3; j++)
                gb[j] = g0[j] + (real)wd * pb[j];
            rnnrt_optim_decay(&a, wd, pa, ga, lr);
            rnnrt_optim_step(&a, pa, ga, lr);
            rnnrt_optim_step(&b, pb, gb, lr);
        }
        assert_memory_equal(pa, pb, sizeof pa);
        rnnrt_optim_free(&a);
        rnnrt_optim_free(&b);
    }
    RnnrtOptim o;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_optim_init(&o, "adam", 0, 0, 0, 0, 3, &err), 0);
    real p[3], g[3] = {0, 0, 0};
    memcpy(p, p0, sizeof p);
    rnnrt_optim_decay(&o, 0, p, g, lr);
    assert_memory_equal(p, p0, sizeof p);
    rnnrt_optim_decay(&o, wd, p, g, lr);
    rnnrt_optim_step(&o, p, g, lr);
    for (int j = 0; j < 3; j++)
        assert_true(p[j] == p0[j] * (real)(1 - lr * wd));
    rnnrt_optim_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sched_step_decays_every_n_epochs),
        cmocka_unit_test(test_sched_constant_never_changes),
        cmocka_unit_test(test_sched_plateau_cuts_after_patience),
        cmocka_unit_test(test_sched_plateau_threshold_nan_and_min_lr),
        cmocka_unit_test(test_sched_cosine_is_the_closed_form),
        cmocka_unit_test(test_sched_warmup_is_linear_then_flat),
        cmocka_unit_test(test_sched_record_counts_evaluations_without_a_best),
        cmocka_unit_test(test_sched_state_round_trips_and_old_sections_start_afresh),
        cmocka_unit_test(test_sched_names_and_bad_values),
        cmocka_unit_test(test_optim_decay_l2_and_decoupled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
