/*
 * rnnrt_driver.c: the one training loop every task runs (issue 11).
 *
 *   for each epoch from the cursor (ts->epoch, ts->batch):
 *     task.start_epoch                  shuffle, or replay a resumed one
 *     for each minibatch:
 *       a signal? save, return 130/143  a budget? return STOPPED
 *       zero the gradients; task.step   forward + backward, loss, tokens
 *       non-finite loss: skip the step, halve the lr (at most 5 times)
 *       the divergence guard            rnnrt_loss_guard, exit 4
 *       clip; a non-finite norm: skip + halve, naming the gradient
 *       optimizer step; task.after_step (carry the state)
 *       progress line; every --save-every steps: save
 *     every --eval-every epochs and the last: task.validate
 *     task.end_epoch (its line); the lr schedule (rnnrt_sched.c); save;
 *     a new best validation loss: copy the checkpoint to "<ckpt>.best";
 *     --early-stop N evaluations without one: stop (exit 0, a note)
 *   --metrics: a "train" record every --metrics-every steps and at the
 *   run's end, an "eval" (or "epoch") record at every epoch end, before
 *   its save (rnnrt_trainlog.c; README "Training metrics")
 *
 * Over MPI ranks (rnnrt_mpi.c, `mpirun -np N`) the driver runs on every
 * rank in lockstep and the task computes this rank's rows of each
 * minibatch; three hooks make the ranks one run:
 *   step   after task.step, the loss, tokens and gradients are summed
 *          over the ranks in rank order (rnnrt_mpi_sum), so every rank
 *          takes the same decisions and the same optimizer step
 *   stop   a signal or a budget on any rank stops all of them at the same
 *          step boundary (the maximum over the ranks of what each saw)
 *   save   task.share on every rank, then rank 0 alone writes; its result
 *          is broadcast, so a failed save stops every rank
 * Only rank 0 prints (the others run quiet).
 *
 * A task (language model, labelling and classification, seq2seq;
 * rnnrt_train.c, rnnrt_task.c, rnnrt_s2s_main.c) owns
 * its data, batches, model calls, evaluation and checkpoint contents, and
 * fills RnnrtTaskOps; the driver owns the order of things, the counters,
 * the stopping rules and their messages, so each is written once.
 * Failures come back as RNNRT_EXIT_* codes in err; the driver prints only
 * the progress line and the warnings of skipped steps (stderr).
 */
#include "rnnrt.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_HALVINGS = 5 };

/* What a stopped run leaves: only a file that is there is "kept". */
static void kept_note(const char *ckpt, char *buf, size_t n)
{
    struct stat st;
    if (ckpt && stat(ckpt, &st) == 0 && S_ISREG(st.st_mode))
        snprintf(buf, n, "The last checkpoint '%s' is kept", ckpt);
    else
        snprintf(buf, n, "No checkpoint was saved");
}

int rnnrt_loss_guard(RnnrtTrainState *ts, double loss, double ratio,
                     int vocab, const char *ckpt, RnnrtError *err)
{
    if (!(ts->loss_ref > 0)) {
        if (ts->step == 0) { /* the training's first step sets it */
            ts->loss_ref = loss;
            return 0;
        }
        ts->loss_ref = log(vocab > 1 ? vocab : 2); /* an older checkpoint */
    }
    if (!(ratio > 0) || !(loss > ratio * ts->loss_ref))
        return 0;
    char kept[1200];
    kept_note(ckpt, kept, sizeof kept);
    return rnnrt_error(err, RNNRT_EXIT_DIVERGED,
                       "the loss %.4g at epoch %lld, minibatch %lld is more "
                       "than %g times the training's first loss %.4g: "
                       "training diverged (a smaller --lr, or --clip, may "
                       "help); stopping. %s (--max-loss-ratio 0 turns "
                       "this check off)", loss, (long long)ts->epoch + 1,
                       (long long)ts->batch + 1, ratio, ts->loss_ref, kept);
}


static int ranks(const RnnrtDriver *d)
{
    return d->o.ranks > 1 ? d->o.ranks : 1;
}

void rnnrt_driver_init(RnnrtDriver *d, const RnnrtTaskOps *ops, void *task,
                       RnnrtTrainState *ts, real *params, real *grads,
                       size_t total)
{
    memset(d, 0, sizeof *d);
    d->ops = ops;
    d->task = task;
    d->ts = ts;
    d->params = params;
    d->grads = grads;
    d->total = total;
    d->saved_step = -1;
    d->val_step = -1;
    d->out = stderr;
}

int rnnrt_driver_save(RnnrtDriver *d, RnnrtError *err)
{
    int rc = 0;
    if (ranks(d) > 1 && d->ops->share)
        d->ops->share(d->task);
    if (rnnrt_mpi_rank() == 0)
        rc = d->ops->save(d->task, err);
    if (ranks(d) > 1 && (rc = rnnrt_mpi_bcast_int(rc)) && !err->code)
        rnnrt_error(err, rc, "rank 0 could not save the checkpoint '%s' "
                    "(its message says why); stopping", d->o.ckpt);
    if (!rc)
        d->saved_step = d->ts->step;
    return rc;
}

/* A non-finite loss or gradient: skip, halve the lr, or give up. */
static int bad_step(RnnrtDriver *d, const char *what, RnnrtError *err)
{
    RnnrtTrainState *ts = d->ts;
    d->skipped++;
    if (++ts->halvings > MAX_HALVINGS) {
        char kept[1200];
        kept_note(d->o.ckpt, kept, sizeof kept);
        return rnnrt_error(err, RNNRT_EXIT_DIVERGED,
                           "%s at epoch %lld, minibatch %lld, after %d "
                           "learning-rate halvings (lr %g); stopping. %s",
                           what, (long long)ts->epoch + 1,
                           (long long)ts->batch + 1, MAX_HALVINGS, ts->lr,
                           kept);
    }
    ts->lr /= 2;
    rnnrt_progress_clear(&d->prog);
    if (rnnrt_mpi_rank() == 0) /* every rank skips the same step */
        fprintf(stderr, "%s: warning: %s at epoch %lld, minibatch %lld: "
                        "step skipped, learning rate halved to %g (%d of "
                        "%d)\n", d->o.name, what, (long long)ts->epoch + 1,
                (long long)ts->batch + 1, ts->lr, ts->halvings,
                MAX_HALVINGS);
    return 0;
}

/* A non-finite gradient norm: name the first non-finite element. */
static int bad_grads(RnnrtDriver *d, double norm, RnnrtError *err)
{
    char what[256];
    for (size_t k = 0; k < d->total; k++)
        if (!isfinite(d->grads[k])) {
            size_t idx = k;
            const char *name = d->ops->param_name
                                   ? d->ops->param_name(d->task, k, &idx)
                                   : "the parameters";
            snprintf(what, sizeof what, "the gradient of %s is %s at element "
                     "%zu", name, isnan(d->grads[k]) ? "NaN" : "infinite",
                     idx);
            return bad_step(d, what, err);
        }
    snprintf(what, sizeof what, "the gradient norm is %g", norm);
    return bad_step(d, what, err);
}

/* One minibatch: 0 (stepped or skipped) or an error code. */
static int step(RnnrtDriver *d, RnnrtError *err)
{
    RnnrtTrainState *ts = d->ts;
    memset(d->grads, 0, d->total * sizeof(real));
    double loss = NAN;
    int64_t tokens = 0;
    d->ops->step(d->task, ts, &loss, &tokens);
    if (ranks(d) > 1) { /* this rank's part: the minibatch's is the sum */
        double v[2] = {loss, (double)tokens};
        rnnrt_mpi_sum(v, 2, d->grads, d->total);
        loss = v[0];
        tokens = (int64_t)v[1];
    }
    if (!isfinite(loss))
        return bad_step(d, isnan(loss) ? "the loss is NaN"
                                       : "the loss is infinite", err);
    int rc = rnnrt_loss_guard(ts, loss, d->o.max_loss_ratio, d->o.vocab,
                              d->o.ckpt, err);
    if (rc)
        return rc;
    double norm = rnnrt_clip_grad_norm(d->grads, d->total, d->o.clip);
    if (!isfinite(norm))
        return bad_grads(d, norm, err);
    double lr = rnnrt_sched_step_lr(&d->o.sched, ts->step, ts->lr);
    d->lr_used = lr;
    rnnrt_optim_decay(ts->optim, d->o.weight_decay, d->params, d->grads, lr);
    rnnrt_optim_step(ts->optim, d->params, d->grads, lr);
    if (d->ops->after_step)
        d->ops->after_step(d->task);
    ts->step++;
    ts->tokens += tokens;
    d->run_steps++;
    d->run_tokens += tokens;
    d->epoch_loss += loss * (double)tokens;
    d->epoch_ntok += tokens;
    if (d->run_steps == 1)
        d->first_loss = loss;
    d->last_loss = loss;
    d->log_loss += loss * (double)tokens;
    d->log_ntok += tokens;
    d->log_norm += norm;
    d->log_steps++;
    return 0;
}

/* ---- the --metrics records (rnnrt_trainlog.c; README "Training
 * metrics"): every key in every record, null where it does not apply ---- */

/* Numbers to the digits that tell the build's reals apart: the double
 * build's records compare runs to 1e-12 (tests/e2e/mpi.sh). */
#ifdef RNNRT_DOUBLE
#define NUM_FMT "%.17g"
#else
#define NUM_FMT "%.9g"
#endif

static const char *num(char *buf, size_t n, double v)
{
    if (!isfinite(v))
        return "null";
    snprintf(buf, n, NUM_FMT, v);
    return buf;
}

static int put_record(RnnrtDriver *d, const char *kind, int64_t epoch,
                      double loss, double norm, double tok_s, int val,
                      RnnrtError *err)
{
    const RnnrtTrainState *ts = d->ts;
    char b[7][40], line[1024];
    const char *name = !val ? NULL : d->val_name ? d->val_name : "val_loss";
    double metric = !val ? NAN : d->val_name ? d->val_metric : d->val_loss;
    snprintf(line, sizeof line,
             "{\"kind\":\"%s\",\"step\":%lld,\"epoch\":%lld,\"loss\":%s,"
             "\"val_loss\":%s,\"val_metric\":%s%s%s,\"val_value\":%s,"
             "\"lr\":%s,\"grad_norm\":%s,\"tokens\":%lld,"
             "\"tokens_per_s\":%s,\"elapsed\":%s}",
             kind, (long long)ts->step, (long long)epoch,
             num(b[0], sizeof b[0], loss),
             num(b[1], sizeof b[1], val ? d->val_loss : NAN),
             name ? "\"" : "", name ? name : "null", name ? "\"" : "",
             num(b[2], sizeof b[2], metric),
             num(b[3], sizeof b[3], d->lr_used ? d->lr_used : ts->lr),
             num(b[4], sizeof b[4], norm), (long long)ts->tokens,
             num(b[5], sizeof b[5], tok_s),
             num(b[6], sizeof b[6], rnnrt_now() - d->t0));
    return rnnrt_trainlog_put(&d->log, line, err);
}

/* A "train" record of the steps since the last one (none: nothing). */
static int put_train(RnnrtDriver *d, RnnrtError *err)
{
    if (!d->log.f || !d->log_steps)
        return 0;
    double now = rnnrt_now();
    double loss = d->log_ntok ? d->log_loss / (double)d->log_ntok : NAN;
    double tok_s = now > d->log_t ? (double)d->log_ntok / (now - d->log_t)
                                  : NAN;
    int rc = put_record(d, "train", d->ts->epoch + 1, loss,
                        d->log_norm / (double)d->log_steps, tok_s, 0, err);
    d->log_loss = d->log_norm = 0;
    d->log_ntok = d->log_steps = 0;
    d->log_t = now;
    return rc;
}

/* At a step boundary: a signal (save, 130/143) or a budget (STOPPED). */
static int check_stop(RnnrtDriver *d, RnnrtError *err)
{
    int stop[2] = { /* a signal, a budget: on any rank, on all */
        rnnrt_signal_pending(),
        (d->o.max_steps && d->run_steps >= d->o.max_steps) ||
            (d->o.max_seconds > 0 &&
             rnnrt_now() - d->t0 >= d->o.max_seconds)};
    if (ranks(d) > 1)
        rnnrt_mpi_max(stop, 2);
    int sig = stop[0];
    if (sig) {
        rnnrt_progress_clear(&d->prog);
        int rc = d->saved_step == d->ts->step ? 0 : rnnrt_driver_save(d, err);
        if (rc)
            return rc;
        if (rnnrt_mpi_rank() == 0)
            fprintf(stderr, "%s: interrupted: checkpoint saved to '%s' "
                            "(epoch %lld, step %lld); continue with "
                            "--resume\n", d->o.name, d->o.ckpt,
                    (long long)d->ts->epoch + 1, (long long)d->ts->step);
        return rnnrt_signal_exit_code(sig);
    }
    if (stop[1])
        return RNNRT_DRIVER_STOPPED;
    return 0;
}

static void show_progress(RnnrtDriver *d, size_t nbatches)
{
    const RnnrtTrainState *ts = d->ts;
    double dt = rnnrt_now() - d->t0;
    double left = (double)(d->o.epochs - ts->epoch) * (double)nbatches -
                  (double)ts->batch;
    if (d->o.max_steps)
        left = fmin(left, (double)(d->o.max_steps - d->run_steps));
    double eta = d->run_steps ? left * dt / (double)d->run_steps : NAN;
    if (d->o.max_seconds > 0)
        eta = fmin(eta, d->o.max_seconds - dt);
    double avg = d->epoch_ntok ? d->epoch_loss / (double)d->epoch_ntok : NAN;
    rnnrt_progress_update(&d->prog, (int)ts->epoch + 1, (int)d->o.epochs,
                          (size_t)ts->batch, nbatches, d->last_loss, avg,
                          dt > 0 ? (double)d->run_tokens / dt : 0, eta);
}

static void start_epoch(RnnrtDriver *d)
{
    if (d->ts->batch == 0) { /* a resumed epoch keeps its sums */
        d->epoch_loss = 0;
        d->epoch_ntok = 0;
    }
    d->ops->start_epoch(d->task, d->ts);
}

int rnnrt_best_path(const char *ckpt, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s.best", ckpt);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The last checkpoint, just written, becomes "<ckpt>.best" (atomically). */
static int save_best(RnnrtDriver *d, RnnrtError *err)
{
    char best[RNNRT_PATH_MAX];
    if (rnnrt_best_path(d->o.ckpt, best, sizeof best))
        return rnnrt_error(err, RNNRT_EXIT_IO, "checkpoint path too long: "
                                               "'%s.best'", d->o.ckpt);
    RnnrtBuf b = {.what = "a checkpoint"};
    size_t len;
    int rc = rnnrt_file_read(d->o.ckpt, SIZE_MAX, (char **)&b.p, &len, err);
    if (rc)
        return rc;
    b.n = b.cap = len;
    RnnrtSaveStage stage;
    int e = rnnrt_file_save(best, rnnrt_file_write_buf, &b, &stage);
    rnnrt_buf_free(&b);
    if (stage != RNNRT_SAVE_OK)
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot write the best "
                           "checkpoint '%s': %s (the previous one, if any, "
                           "is unchanged)", best, strerror(e));
    return 0;
}

/* Whether the epoch just trained (1-based e) is validated. */
static int eval_due(const RnnrtDriver *d, int64_t e)
{
    int64_t every = d->o.eval_every > 0 ? d->o.eval_every : 1;
    return d->ops->validate && (e % every == 0 || e == d->o.epochs);
}

static int early_stop_due(const RnnrtDriver *d)
{
    return d->o.early_stop > 0 && d->ts->sched.val_bad >= d->o.early_stop;
}

/* After an epoch's last minibatch: the task's validation and line, the
 * schedule, a save, the best checkpoint. A signal during the validation
 * leaves the cursor after the last minibatch, so a resumed run validates
 * this epoch as a straight one would. */
static int end_epoch(RnnrtDriver *d, RnnrtError *err)
{
    RnnrtTrainState *ts = d->ts;
    double avg = d->epoch_ntok ? d->epoch_loss / (double)d->epoch_ntok : 0;
    double avg_rec = d->epoch_ntok ? avg : NAN; /* for --metrics */
    int64_t e = ts->epoch + 1;
    rnnrt_progress_clear(&d->prog);
    d->val_loss = NAN;
    if (eval_due(d, e)) {
        int rc = d->ops->validate(d->task, &d->val_loss, err);
        if (rc)
            return rc;
        d->val_step = ts->step;
    }
    int rc = d->ops->end_epoch ? d->ops->end_epoch(d->task, ts, avg, err) : 0;
    ts->epoch++;
    ts->batch = 0;
    d->epoch_loss = 0;
    d->epoch_ntok = 0;
    if (!rc && d->log.f) /* the record, then the save: see rnnrt_trainlog.c */
        rc = put_record(d, isnan(d->val_loss) ? "epoch" : "eval", e,
                        avg_rec, NAN, NAN,
                        !isnan(d->val_loss), err);
    if (rc)
        return rc;
    int best = rnnrt_sched_record(&ts->sched, d->val_loss, e);
    ts->lr = rnnrt_sched_epoch(&d->o.sched, &ts->sched, e, d->o.epochs,
                               d->val_loss, ts->lr);
    rc = d->saved_step == ts->step && !best ? 0 : rnnrt_driver_save(d, err);
    if (!rc && best) { /* over MPI ranks, rank 0 alone, as a save */
        rc = rnnrt_mpi_rank() == 0 ? save_best(d, err) : 0;
        if (ranks(d) > 1 && (rc = rnnrt_mpi_bcast_int(rc)) && !err->code)
            rnnrt_error(err, rc, "rank 0 could not write the best checkpoint "
                        "(its message says why); stopping");
    }
    if (!rc && early_stop_due(d))
        rc = RNNRT_DRIVER_EARLY;
    return rc;
}

static int run_epochs(RnnrtDriver *d, RnnrtError *err)
{
    RnnrtTrainState *ts = d->ts;
    if (early_stop_due(d)) /* resumed after an early stop */
        return RNNRT_DRIVER_EARLY;
    while (ts->epoch < d->o.epochs) {
        start_epoch(d);
        size_t nbatches = d->ops->nbatches(d->task);
        while ((size_t)ts->batch < nbatches) {
            int rc = check_stop(d, err);
            if (!rc)
                rc = step(d, err);
            if (rc)
                return rc;
            ts->batch++;
            show_progress(d, nbatches);
            int64_t every = d->o.metrics_every > 0 ? d->o.metrics_every : 10;
            if (ts->step % every == 0 && (rc = put_train(d, err)))
                return rc;
            if (d->o.save_every && ts->step % d->o.save_every == 0 &&
                ts->step != d->saved_step &&
                (rc = rnnrt_driver_save(d, err)))
                return rc;
        }
        int rc = end_epoch(d, err);
        if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
            return check_stop(d, err); /* interrupted in the evaluation */
        if (rc)
            return rc;
    }
    return check_stop(d, err);
}

int rnnrt_driver_run(RnnrtDriver *d, RnnrtError *err)
{
    int n = rnnrt_mpi_launched();
    if (n > 1 && ranks(d) != n)
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "started as one of %d MPI processes, but %s's "
                           "trainer does not split its minibatches over MPI "
                           "ranks yet; run it without mpirun", n, d->o.name);
    rnnrt_progress_init(&d->prog, stderr, d->o.quiet);
    rnnrt_signal_clear();
    rnnrt_signal_install();
    d->t0 = rnnrt_now();
    char best[RNNRT_PATH_MAX];
    int rc = 0;
    if (d->ops->validate && !rnnrt_best_path(d->o.ckpt, best, sizeof best))
        rc = rnnrt_file_remove_stale(best, err); /* a killed save_best's */
    if (!rc && d->o.metrics && rnnrt_mpi_rank() == 0)
        rc = rnnrt_trainlog_open(&d->log, d->o.metrics, d->ts->step, err);
    d->log_t = d->t0;
    if (!rc)
        rc = run_epochs(d, err);
    if (d->log.f) { /* the steps since the last record; then closed */
        RnnrtError lerr = {0};
        int lrc = put_train(d, &lerr);
        if (!lrc)
            lrc = rnnrt_trainlog_close(&d->log, &lerr);
        if (lrc && (!rc || rc == RNNRT_DRIVER_STOPPED ||
                    rc == RNNRT_DRIVER_EARLY)) {
            *err = lerr;
            rc = lrc;
        }
    }
    rnnrt_progress_clear(&d->prog);
    if (rc == RNNRT_DRIVER_EARLY) { /* a note even under --quiet */
        if (rnnrt_best_path(d->o.ckpt, best, sizeof best))
            snprintf(best, sizeof best, "the best checkpoint");
        fprintf(stderr, "%s: early stop: no better validation loss in %lld "
                        "evaluations (--early-stop); the best, %.4f at "
                        "epoch %lld, is in '%s'\n", d->o.name,
                (long long)d->o.early_stop, d->ts->sched.val_best,
                (long long)d->ts->sched.val_best_epoch, best);
        d->early_stopped = 1;
        rc = 0;
    }
    if (rc == RNNRT_DRIVER_STOPPED) {
        if (!d->o.quiet && d->ts->epoch < d->o.epochs)
            fprintf(stderr, "%s: stopping at the %s budget (%lld steps, "
                            "%.1f s)\n", d->o.name,
                    d->o.max_steps && d->run_steps >= d->o.max_steps
                        ? "--max-steps" : "--max-seconds",
                    (long long)d->run_steps, rnnrt_now() - d->t0);
        rc = 0;
    }
    return rc;
}

int rnnrt_driver_finish(RnnrtDriver *d, RnnrtError *err)
{
    return d->saved_step == d->ts->step ? 0 : rnnrt_driver_save(d, err);
}

/* v as the option is written: an enumeration's name, else the shortest
 * of %g and %.17g that tells it from other (the other side's value). */
static void put_value(char *buf, size_t n, const RnnrtResumeOpt *o, double v,
                      double other)
{
    int i = (int)v;
    char a[64], b[64];
    snprintf(a, sizeof a, "%g", v);
    snprintf(b, sizeof b, "%g", other);
    if (o->names && v == i && i >= 0)
        snprintf(buf, n, "%s", o->names[i]);
    else
        snprintf(buf, n, strcmp(a, b) ? "%g" : "%.17g", v);
}

int rnnrt_resume_opts(RnnrtResumeOpt *opts, int n, const char *prog,
                      const char *ckpt, int64_t step, RnnrtError *err)
{
    char want[64], have[64];
    for (int i = 0; i < n; i++) { /* refusals first: then nothing changed */
        const RnnrtResumeOpt *o = &opts[i];
        if (o->policy != RNNRT_RESUME_REFUSE || !o->given ||
            isnan(*o->have) || o->value == *o->have)
            continue;
        put_value(want, sizeof want, o, o->value, *o->have);
        put_value(have, sizeof have, o, *o->have, o->value);
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "%s %s on --resume: '%s' was trained with %s %s, "
                           "and %s; leave %s out, or start a new run without "
                           "--resume", o->name, want, ckpt, o->name, have,
                           o->why, o->name);
    }
    for (int i = 0; i < n; i++) {
        RnnrtResumeOpt *o = &opts[i];
        if (isnan(*o->have)) { /* an older checkpoint: take this run's */
            *o->have = o->value;
            continue;
        }
        if (!o->given || o->value == *o->have)
            continue;
        put_value(want, sizeof want, o, o->value, *o->have);
        put_value(have, sizeof have, o, *o->have, o->value);
        fprintf(stderr, "%s: note: %s %s replaces the checkpoint's %s from "
                        "step %lld on\n", prog, o->name, want, have,
                (long long)step + 1);
        *o->have = o->value;
    }
    return 0;
}
