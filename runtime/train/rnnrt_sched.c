/*
 * rnnrt_sched.c: learning-rate schedules with PyTorch's semantics, and the
 * record of the best validation loss, for every trainer (the driver,
 * rnnrt_driver.c, calls them at each epoch end and step).
 *
 *   constant  the lr stays (only halvings on non-finite steps change it)
 *   step      torch.optim.lr_scheduler.StepLR(step_size, gamma): after
 *             epoch e (1-based), when e % step_size == 0, lr *= gamma
 *   plateau   ReduceLROnPlateau(mode "min", factor, patience, threshold,
 *             threshold_mode "rel", cooldown 0, min_lr): at each
 *             evaluation, a loss below best * (1 - threshold) is the new
 *             best; otherwise one more bad evaluation, and more than
 *             patience of them set lr = max(lr * factor, min_lr) (when
 *             that changes it by more than 1e-8) and start the count again
 *   cosine    CosineAnnealingLR(T_max, eta_min) in torch's recursive form,
 *             so a halved lr stays halved:
 *               e == 0: lr;  (e - 1 - T) % 2T == 0:
 *               lr + (base - eta_min) (1 - cos(pi / T)) / 2;
 *               else (1 + cos(pi e / T)) / (1 + cos(pi (e - 1) / T))
 *                    (lr - eta_min) + eta_min
 *   warm-up   independent of the above: step s (0-based, counting every
 *             applied optimizer step of the training) uses
 *             lr * min(1, (s + 1) / warmup), torch's
 *             LambdaLR(lambda s: min(1, (s + 1) / warmup)) stepped per
 *             optimizer step
 *
 * The schedules work on the lr in the train state (ts->lr), which the
 * checkpoint keeps with RnnrtSchedState, so a resumed run continues with
 * the lr, best loss and counts a straight run would have. Arithmetic is in
 * double, as Python's floats in torch's schedulers.
 */
#include "rnnrt.h"

#include <math.h>
#include <string.h>

const char *const rnnrt_sched_names[RNNRT_SCHED_N] = {"constant", "step",
                                                      "plateau", "cosine"};

int rnnrt_sched_parse(const char *name, int *kind)
{
    for (int k = 0; k < RNNRT_SCHED_N; k++)
        if (name && !strcmp(name, rnnrt_sched_names[k])) {
            *kind = k;
            return 0;
        }
    return -1;
}

const char *rnnrt_sched_name(int kind)
{
    return kind >= 0 && kind < RNNRT_SCHED_N ? rnnrt_sched_names[kind] : "?";
}

void rnnrt_sched_opts_default(RnnrtSchedOpts *o)
{
    memset(o, 0, sizeof *o);
    o->kind = RNNRT_SCHED_CONSTANT;
    o->step_size = 1;
    o->factor = 0.1;    /* torch's gamma and factor */
    o->patience = 10;   /* torch's */
    o->threshold = 1e-4;
}

int rnnrt_sched_opts_recipe(RnnrtSchedOpts *o, const RnnrtRecipe *r)
{
    rnnrt_sched_opts_default(o);
    if (r->lr_step > 0)
        o->step_size = r->lr_step;
    if (r->lr_factor > 0)
        o->factor = r->lr_factor;
    if (r->lr_patience > 0)
        o->patience = r->lr_patience;
    if (r->lr_threshold > 0)
        o->threshold = r->lr_threshold;
    o->min_lr = r->lr_min;
    o->warmup = r->warmup_steps;
    return r->lr_schedule ? rnnrt_sched_parse(r->lr_schedule, &o->kind) : 0;
}

int rnnrt_sched_check(const RnnrtSchedOpts *o, RnnrtError *err)
{
    const char *bad = NULL;
    if (o->kind < 0 || o->kind >= RNNRT_SCHED_N)
        bad = "--lr-schedule must be constant, step, plateau or cosine";
    else if (o->step_size < 1)
        bad = "--lr-step must be >= 1 (epochs between decays)";
    else if (!(o->factor > 0 && o->factor < 1))
        bad = "--lr-factor must be in (0, 1)";
    else if (o->patience < 1)
        bad = "--lr-patience must be >= 1";
    else if (!(o->threshold >= 0 && o->threshold < 1))
        bad = "--lr-threshold must be in [0, 1)";
    else if (!(o->min_lr >= 0) || !isfinite(o->min_lr))
        bad = "--lr-min must be >= 0";
    else if (o->t_max < 0)
        bad = "the cosine period must be >= 0 epochs (0 = all)";
    else if (o->warmup < 0)
        bad = "--warmup-steps must be >= 0";
    return bad ? rnnrt_error(err, RNNRT_EXIT_USAGE, "%s", bad) : 0;
}

void rnnrt_sched_start(RnnrtSchedState *s, double lr)
{
    s->base_lr = lr;
    s->best = HUGE_VAL;
    s->bad = 0;
    s->val_best = HUGE_VAL;
    s->val_best_epoch = 0;
    s->val_bad = 0;
}

/* Python's a % b for b > 0: never negative. */
static int64_t py_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

static double cosine(const RnnrtSchedOpts *o, const RnnrtSchedState *s,
                     int64_t e, int64_t epochs, double lr)
{
    int64_t T = o->t_max > 0 ? o->t_max : epochs;
    double pi = 3.14159265358979323846, eta = o->min_lr;
    if (e == 0 || T < 1)
        return lr;
    if (py_mod(e - 1 - T, 2 * T) == 0)
        return lr + (s->base_lr - eta) * (1 - cos(pi / (double)T)) / 2;
    return (1 + cos(pi * (double)e / (double)T)) /
               (1 + cos(pi * (double)(e - 1) / (double)T)) * (lr - eta) +
           eta;
}

static double plateau(const RnnrtSchedOpts *o, RnnrtSchedState *s,
                      double val, double lr)
{
    if (isnan(val)) /* no evaluation this epoch */
        return lr;
    if (val < s->best * (1 - o->threshold)) {
        s->best = val;
        s->bad = 0;
    } else {
        s->bad++;
    }
    if (s->bad > o->patience) {
        double next = fmax(lr * o->factor, o->min_lr);
        if (lr - next > 1e-8)
            lr = next;
        s->bad = 0;
    }
    return lr;
}

double rnnrt_sched_epoch(const RnnrtSchedOpts *o, RnnrtSchedState *s,
                         int64_t e, int64_t epochs, double val, double lr)
{
    switch (o->kind) {
    case RNNRT_SCHED_STEP:
        return e > 0 && e % o->step_size == 0 ? lr * o->factor : lr;
    case RNNRT_SCHED_PLATEAU:
        return plateau(o, s, val, lr);
    case RNNRT_SCHED_COSINE:
        return cosine(o, s, e, epochs, lr);
    default:
        return lr;
    }
}

double rnnrt_sched_step_lr(const RnnrtSchedOpts *o, int64_t step, double lr)
{
    if (o->warmup <= 0 || step + 1 >= o->warmup)
        return lr;
    return lr * ((double)(step + 1) / (double)o->warmup); /* torch's order */
}

int rnnrt_sched_record(RnnrtSchedState *s, double val, int64_t epoch)
{
    if (isnan(val))
        return 0;
    if (val < s->val_best) {
        s->val_best = val;
        s->val_best_epoch = epoch;
        s->val_bad = 0;
        return 1;
    }
    s->val_bad++;
    return 0;
}

/* The checkpoint's record: a count of values, then the values, so a
 * reader takes what it knows and a section of an older writer, which
 * ends before them, starts the schedule afresh. */
enum { SCHED_FIELDS = 6 };

void rnnrt_sched_put(RnnrtBuf *b, const RnnrtSchedState *s)
{
    rnnrt_buf_put_u32(b, SCHED_FIELDS);
    rnnrt_buf_put_f64(b, s->base_lr);
    rnnrt_buf_put_f64(b, s->best);
    rnnrt_buf_put_i64(b, s->bad);
    rnnrt_buf_put_f64(b, s->val_best);
    rnnrt_buf_put_i64(b, s->val_best_epoch);
    rnnrt_buf_put_i64(b, s->val_bad);
}

int rnnrt_sched_get(RnnrtReader *r, RnnrtSchedState *s, double lr)
{
    rnnrt_sched_start(s, lr);
    if (r->pos == r->n)
        return 0;
    uint32_t n = rnnrt_reader_u32(r);
    if (r->bad || n < SCHED_FIELDS || n > 64)
        return -1;
    s->base_lr = rnnrt_reader_f64(r);
    s->best = rnnrt_reader_f64(r);
    s->bad = rnnrt_reader_i64(r);
    s->val_best = rnnrt_reader_f64(r);
    s->val_best_epoch = rnnrt_reader_i64(r);
    s->val_bad = rnnrt_reader_i64(r);
    for (uint32_t i = SCHED_FIELDS; i < n; i++) /* a newer writer's */
        (void)rnnrt_reader_u64(r);
    if (r->bad || !(s->base_lr >= 0) || !isfinite(s->base_lr) ||
        isnan(s->best) || s->bad < 0 || isnan(s->val_best) ||
        s->val_best_epoch < 0 || s->val_bad < 0)
        return -1;
    if (s->base_lr == 0) /* a state never started: the run's lr */
        s->base_lr = lr;
    return 0;
}
