/*
 * rnnrt_check.c: checking a generated model's math, for its author.
 *
 * Both commands build the same random problem from --seed with one RNG, in
 * this order: the parameters (as rnnrt_params_randomize), x then y (T*B
 * draws each of rnnrt_rng_below(V), time-major), state_in (B*S draws of
 * U(-0.5, 0.5)), and for dump carry_scale (T draws of U(0.5, 1.5);
 * gradcheck uses ones).
 *
 * gradcheck compares backward's gradient of every parameter element and of
 * every state_in element (or, with --max-per-param N, of N evenly spaced
 * elements of each, for big models) with central differences of the
 * forward loss (eps 1e-6) under torch.autograd.gradcheck's tolerance
 * |a - n| <= 1e-5 + 1e-3 |n|. That is only meaningful in double, so the
 * float build refuses. Denormals are never flushed here. A language model's
 * generation step (m->step) is checked first: its logits and final state
 * must be forward's to 1e-12.
 *
 * Both run the model as in training (ctx.train = 1) with one dropout seed
 * drawn after state_in (and carry_scale), so every forward of gradcheck's
 * central differences sees the same dropout masks; dump prints the seed.
 * Task models (issue #3) draw y from [0, L) instead: T*B labels for
 * labelling, B for classification; classification then draws each row's
 * valid length (B draws of 1 + rnnrt_rng_below(T), after state_in and
 * carry_scale) and gets the weights of the model's head and the valid-step
 * mask from it.
 *
 * dump runs forward+backward once and prints every input and output as
 * text (%.17g, so doubles round-trip), for comparison with the compiler's
 * reference interpreter.
 *
 * The per-tensor central-difference check (rnnrt_check_tensor) and the
 * dump records (rnnrt_dump_reals, rnnrt_dump_ids, rnnrt_dump_end) are the
 * seq2seq trainer's too (rnnrt_s2s_check.c): it brings only its problem
 * and its loss.
 */
#include "rnnrt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6
#define ATOL 1e-5
#define RTOL 1e-3
#define SHOW_FAILURES 5
#define STEP_TOL 1e-12

typedef struct {
    const RnnrtModel *m;
    RnnrtParams p;
    RnnrtBuffers buf;
    real *grads;  /* analytic, copied after backward */
    real *dstate; /* analytic */
} Problem;

/* Targets: T*B (language model, labelling) or B (classification). */
static size_t ny(const RnnrtModel *m, const RnnrtCheckOpts *o)
{
    size_t n = (size_t)o->B;
    return m->task == RNNRT_TASK_CLASSIFICATION ? n : n * (size_t)o->T;
}

/* Logits: [T][B][V], [T][B][L] or [B][L]. */
static size_t nlogits(const RnnrtModel *m, const RnnrtCheckOpts *o)
{
    if (m->task == RNNRT_TASK_LANGUAGE_MODEL)
        return ny(m, o) * (size_t)o->V;
    return ny(m, o) * (size_t)o->L;
}

static int problem_init(Problem *pb, const RnnrtModel *m,
                        const RnnrtCheckOpts *o, int random_carry,
                        RnnrtError *err)
{
    memset(pb, 0, sizeof *pb);
    pb->m = m;
    int task = m->task != RNNRT_TASK_LANGUAGE_MODEL;
    if (o->B <= 0 || o->T <= 0 || o->V <= 0 || (task && o->L <= 0))
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "--B, --T, --V and --L must be positive");
    int L = task ? o->L : 0;
    int rc = rnnrt_params_init_l(&pb->p, m, o->V, L, err);
    if (!rc)
        rc = rnnrt_buffers_init_l(&pb->buf, m, &pb->p, o->B, o->T, o->V, L,
                                  err);
    if (rc)
        return rc;
    RnnrtBuffers *b = &pb->buf;
    RnnrtRng r;
    rnnrt_rng_init(&r, o->seed);
    rnnrt_params_randomize(&pb->p, m, &r);
    size_t tb = (size_t)o->T * (size_t)o->B, bs = (size_t)o->B * (size_t)b->S;
    for (size_t i = 0; i < tb; i++)
        b->x[i] = (int32_t)rnnrt_rng_below(&r, (uint64_t)o->V);
    for (size_t i = 0; i < ny(m, o); i++)
        b->y[i] = (int32_t)rnnrt_rng_below(&r, (uint64_t)(task ? L : o->V));
    rnnrt_rng_fill_uniform(&r, b->state_in, bs, -0.5, 0.5);
    if (random_carry)
        rnnrt_rng_fill_uniform(&r, b->carry, (size_t)o->T, 0.5, 1.5);
    b->ctx.train = 1;
    b->ctx.dropout_seed = rnnrt_rng_next(&r);
    for (int k = 0; m->task == RNNRT_TASK_CLASSIFICATION && k < o->B; k++) {
        int len = 1 + (int)rnnrt_rng_below(&r, (uint64_t)o->T);
        rnnrt_pool_weights(b->pool, o->T, o->B, k, len, m->head);
        rnnrt_valid_mask(b->mask, o->T, o->B, k, len);
    }
    pb->grads = rnnrt_xcalloc(pb->p.total, sizeof(real), "gradients");
    pb->dstate = rnnrt_xcalloc(bs, sizeof(real), "state gradient");
    return 0;
}

static void problem_free(Problem *pb)
{
    rnnrt_buffers_free(&pb->buf);
    rnnrt_params_free(&pb->p);
    free(pb->grads);
    free(pb->dstate);
}

/* forward + backward into zeroed gradients; keeps a copy of them. */
static void run_both(Problem *pb)
{
    RnnrtBuffers *b = &pb->buf;
    size_t bs = (size_t)b->B * (size_t)b->S;
    memset(pb->p.grads, 0, pb->p.total * sizeof(real));
    memset(b->dstate, 0, bs * sizeof(real));
    b->ctx.dstate_in = b->dstate;
    pb->m->forward(&b->ctx);
    pb->m->backward(&b->ctx);
    memcpy(pb->grads, pb->p.grads, pb->p.total * sizeof(real));
    memcpy(pb->dstate, b->dstate, bs * sizeof(real));
}

/* The forward loss with v[k] set to value (restored after). */
static double loss_with(RnnrtLossFn loss, void *problem, real *v,
                        double value)
{
    real saved = *v;
    *v = (real)value;
    double l = loss(problem);
    *v = saved;
    return l;
}

size_t rnnrt_check_tensor(RnnrtLossFn loss, void *problem, const char *name,
                          real *v, const real *analytic, size_t n, size_t max,
                          size_t *checked, FILE *out)
{
    double max_abs = 0, max_rel = 0;
    size_t fails = 0, m = max && max < n ? max : n;
    for (size_t i = 0; i < m; i++) {
        size_t k = m == n ? i : (size_t)((double)i * (double)n / (double)m);
        double x = v[k];
        double num = (loss_with(loss, problem, &v[k], x + EPS) -
                      loss_with(loss, problem, &v[k], x - EPS)) / (2 * EPS);
        double a = analytic[k], diff = fabs(a - num);
        double scale = fmax(fabs(a), fabs(num));
        max_abs = fmax(max_abs, diff);
        if (scale > 0)
            max_rel = fmax(max_rel, diff / scale);
        if (!(diff <= ATOL + RTOL * fabs(num))) {
            if (fails < SHOW_FAILURES)
                fprintf(out, "  %s[%zu]: backward %.10g, numeric %.10g, "
                             "diff %.3g\n", name, k, a, num, diff);
            fails++;
        }
    }
    fprintf(out, "%-16s %8zu  max_abs %.3e  max_rel %.3e  %s", name, n,
            max_abs, max_rel, fails ? "FAIL" : "PASS");
    if (m < n)
        fprintf(out, "  (%zu checked)", m);
    fputc('\n', out);
    if (checked)
        *checked += m;
    return fails;
}

#ifdef RNNRT_DOUBLE
static double forward_loss(void *problem)
{
    Problem *pb = problem;
    pb->m->forward(&pb->buf.ctx);
    return pb->buf.ctx.loss;
}

/* max(worst, |a - b|), with a NaN difference as infinitely bad (fmax
 * would drop it). */
static double worse(double worst, double a, double b)
{
    double d = fabs(a - b);
    return d <= worst ? worst : isnan(d) ? INFINITY : d;
}

/* The model's generation step (m->step) against its forward: the same
 * logits and final state on the problem (to STEP_TOL; the emitted blocks
 * are the same, so in practice bit for bit). Returns 1 on a mismatch. */
static size_t check_step(Problem *pb, const RnnrtCheckOpts *o, FILE *out)
{
    if (!pb->m->step)
        return 0;
    RnnrtBuffers *b = &pb->buf;
    size_t nl = nlogits(pb->m, o), bs = (size_t)b->B * (size_t)b->S;
    real *want = rnnrt_xcalloc(nl + bs, sizeof(real), "step check");
    pb->m->forward(&b->ctx);
    memcpy(want, b->ctx.logits, nl * sizeof(real));
    memcpy(want + nl, b->state_out, bs * sizeof(real));
    /* NaN everywhere forward wrote, so nothing step skips can pass */
    memset(b->work, 0xff, pb->m->workspace(b->B, b->T, b->V) * sizeof(real));
    memset(b->state_out, 0xff, bs * sizeof(real));
    b->ctx.logits = NULL;
    pb->m->step(&b->ctx);
    double max_abs = b->ctx.logits ? 0 : INFINITY;
    for (size_t i = 0; i < nl && b->ctx.logits; i++)
        max_abs = worse(max_abs, b->ctx.logits[i], want[i]);
    for (size_t i = 0; i < bs; i++)
        max_abs = worse(max_abs, b->state_out[i], want[nl + i]);
    int fail = !(max_abs <= STEP_TOL);
    fprintf(out, "%-16s %8zu  max_abs %.3e  (logits, state vs forward)  %s\n",
            "step", nl + bs, max_abs, fail ? "FAIL" : "PASS");
    free(want);
    return (size_t)fail;
}

#endif

int rnnrt_gradcheck(const RnnrtModel *m, const RnnrtCheckOpts *o, FILE *out,
                    RnnrtError *err)
{
#ifndef RNNRT_DOUBLE
    (void)o;
    (void)out;
    return rnnrt_error(err, RNNRT_EXIT_USAGE,
                       "gradcheck needs double precision; build and run the "
                       "double variant of this trainer (%s_d)", m->name);
#else
    Problem pb;
    rnnrt_fpu_flush_denormals(0);
    int rc = problem_init(&pb, m, o, 0, err);
    if (rc) {
        problem_free(&pb);
        return rc;
    }
    run_both(&pb);
    fprintf(out, "gradcheck %s: B=%d T=%d V=%d", m->name, o->B, o->T, o->V);
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL)
        fprintf(out, " L=%d", o->L);
    fprintf(out, " seed=%llu, eps %g, |a-n| <= %g + %g|n|\n",
            (unsigned long long)o->seed, EPS, ATOL, RTOL);
    size_t fails = check_step(&pb, o, out), total = 0;
    size_t max = (size_t)o->max_per_param;
    for (int i = 0; i < pb.p.n; i++) {
        size_t off = pb.p.offset[i];
        fails += rnnrt_check_tensor(forward_loss, &pb, m->params[i].name,
                                    pb.p.params + off, pb.grads + off,
                                    pb.p.numel[i], max, &total, out);
    }
    size_t bs = (size_t)o->B * (size_t)pb.buf.S;
    if (bs)
        fails += rnnrt_check_tensor(forward_loss, &pb, "state_in",
                                    pb.buf.state_in, pb.dstate, bs, max,
                                    &total, out);
    fprintf(out, "gradcheck: %s (%zu of %zu values fail)\n",
            fails ? "FAIL" : "PASS", fails, total);
    problem_free(&pb);
    return fails ? 1 : 0;
#endif
}

void rnnrt_dump_reals(FILE *out, const char *label, const char *name,
                      const real *v, size_t n)
{
    fprintf(out, "%s%s%s %zu", label, name ? " " : "", name ? name : "", n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, " %.17g", (double)v[i]);
    fputc('\n', out);
}

void rnnrt_dump_ids(FILE *out, const char *label, const int32_t *v, size_t n)
{
    fprintf(out, "%s %zu", label, n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, " %d", (int)v[i]);
    fputc('\n', out);
}

int rnnrt_dump(const RnnrtModel *m, const RnnrtCheckOpts *o, FILE *out,
               RnnrtError *err)
{
    Problem pb;
    int rc = problem_init(&pb, m, o, 1, err);
    if (rc) {
        problem_free(&pb);
        return rc;
    }
    RnnrtBuffers *b = &pb.buf;
    size_t tb = (size_t)o->T * (size_t)o->B, bs = (size_t)o->B * (size_t)b->S;
    if (m->task == RNNRT_TASK_LANGUAGE_MODEL)
        fprintf(out, "dims %d %d %d %d\n", o->B, o->T, o->V, b->S);
    else
        fprintf(out, "dims %d %d %d %d %d\n", o->B, o->T, o->V, b->S, o->L);
    for (int i = 0; i < pb.p.n; i++)
        rnnrt_dump_reals(out, "param", m->params[i].name,
                    pb.p.params + pb.p.offset[i], pb.p.numel[i]);
    rnnrt_dump_ids(out, "x", b->x, tb);
    rnnrt_dump_ids(out, "y", b->y, ny(m, o));
    rnnrt_dump_reals(out, "state", NULL, b->state_in, bs);
    rnnrt_dump_reals(out, "carry_scale", NULL, b->carry, (size_t)o->T);
    fprintf(out, "dropout %llu %d\n", (unsigned long long)b->ctx.dropout_seed,
            b->ctx.train);
    if (m->task == RNNRT_TASK_CLASSIFICATION) {
        rnnrt_dump_reals(out, "pool", NULL, b->pool, tb);
        rnnrt_dump_reals(out, "mask", NULL, b->mask, tb);
    }
    run_both(&pb);
    fprintf(out, "loss %.17g\n", b->ctx.loss);
    rnnrt_dump_reals(out, "logits", NULL, b->ctx.logits, nlogits(m, o));
    rnnrt_dump_reals(out, "state_out", NULL, b->state_out, bs);
    for (int i = 0; i < pb.p.n; i++)
        rnnrt_dump_reals(out, "grad", m->params[i].name,
                    pb.grads + pb.p.offset[i], pb.p.numel[i]);
    rnnrt_dump_reals(out, "dstate", NULL, pb.dstate, bs);
    problem_free(&pb);
    return rnnrt_dump_end(out, err);
}

int rnnrt_dump_end(FILE *out, RnnrtError *err)
{
    fflush(out);
    return ferror(out) ? rnnrt_error(err, RNNRT_EXIT_IO, "writing the dump "
                                                         "failed")
                       : 0;
}
