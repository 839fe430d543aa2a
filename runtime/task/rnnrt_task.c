/*
 * rnnrt_task.c: training, scoring and checkpoints of the task heads (issue
 * #3): labelling (a label per step) and classification (a label per
 * sequence); their data files are read by rnnrt_task_data.c. They train
 * on the one training driver (rnnrt_driver.c), with the language model's
 * recipe and optimizer handling (rnnrt_train_recipe, rnnrt_train_optim):
 * exact --resume, budgets, --save-every, signal saves, the loss guard,
 * schedules, weight decay, --eval-every and --early-stop on the
 * validation loss, and --threads N and MPI ranks: the LM's batch split
 * (rnnrt_parallel.c, rnnrt_model_run) of each training minibatch's rows
 * and of each validation minibatch's (rnnrt_model_score),
 * over the ranks (mpirun -np N, rnnrt_mpi.c; every rank reads the data and
 * validates, rank 0 alone prints and saves) and then over the threads.
 *
 * Batching, the simplest honest one for each task:
 *   labelling       the tokens form one stream with a parallel stream of
 *                   labels, partitioned like the sequential LM sampler: B
 *                   streams of nc = n / B tokens, minibatch i = columns
 *                   [i*T, min((i+1)*T, nc)), state carried between
 *                   minibatches (from zeros each epoch), the gradient cut
 *                   at minibatch edges. Sentences are joined, no padding.
 *   classification  each row is one sequence of `steps` ids (<pad> after
 *                   its valid length); rows are shuffled every epoch and
 *                   taken B at a time (the last minibatch may be smaller);
 *                   every minibatch starts from a zero state; from each
 *                   row's valid length come the model's pooling weights
 *                   (rnnrt_pool_weights, by the model's head) and its
 *                   valid-step mask (rnnrt_valid_mask: the scans keep
 *                   their state on padding steps).
 * The loss is the mean cross-entropy over the predictions of a minibatch;
 * accuracy counts argmax(logits) == label.
 *
 * Checkpoint: rnnrt_ckpt.c's format, task "labelling" or "classification":
 * the model (dims V, L, S, T, the parameter shapes, "params"), the token
 * vocabulary ("vocab"), the labels ("labels") and the train state
 * ("train", "optim"; labelling's carried state when saved mid-epoch).
 */
#include "rnnrt.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *const task_name[] = {"language_model", "labelling",
                                        "classification"};

void rnnrt_pool_weights(real *pool, int T, int B, int b, int len, int head)
{
    for (int t = 0; t < T; t++) {
        real w = 0;
        if (t < len)
            w = head == RNNRT_HEAD_MEAN ? (real)1 / (real)len
                                        : (real)(t == len - 1);
        pool[(size_t)t * (size_t)B + (size_t)b] = w;
    }
}

void rnnrt_valid_mask(real *mask, int T, int B, int b, int len)
{
    for (int t = 0; t < T; t++)
        mask[(size_t)t * (size_t)B + (size_t)b] = (real)(t < len);
}

/* ---- minibatches ---- */

/* Labelling: columns [t0, t0 + T') of the B streams of nc tokens starting
 * at from. Returns T'. */
static int fill_labelling(RnnrtBuffers *b, const RnnrtTaskData *d,
                          size_t from, size_t nc, int B, size_t t0)
{
    int T = (int)(nc - t0 < (size_t)b->T ? nc - t0 : (size_t)b->T);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < B; k++) {
            size_t i = from + (size_t)k * nc + t0 + (size_t)t;
            b->x[(size_t)t * (size_t)B + (size_t)k] = d->x[i];
            b->y[(size_t)t * (size_t)B + (size_t)k] = d->y[i];
        }
    b->ctx.T = T;
    b->ctx.B = B;
    return T;
}

/* Classification: rows rows[0..B) (time-major x, y [B], pooling). */
static void fill_classification(RnnrtBuffers *b, const RnnrtModel *m,
                                const RnnrtTaskData *d, const size_t *rows,
                                int B)
{
    int T = d->T;
    for (int k = 0; k < B; k++) {
        const int32_t *row = d->x + rows[k] * (size_t)T;
        for (int t = 0; t < T; t++)
            b->x[(size_t)t * (size_t)B + (size_t)k] = row[t];
        b->y[k] = d->y[rows[k]];
        rnnrt_pool_weights(b->pool, T, B, k, d->len[rows[k]], m->head);
        rnnrt_valid_mask(b->mask, T, B, k, d->len[rows[k]]);
    }
    b->ctx.T = T;
    b->ctx.B = B;
}

/* Loss and accuracy over items [from, to) (tokens or rows), forward only,
 * split over b's workers as training is (rnnrt_model_score): the same
 * accuracy, and the loss to rounding, at every --threads. */
static void score(const RnnrtModel *m, RnnrtBuffers *b,
                  const RnnrtTaskData *d, size_t from, size_t to,
                  RnnrtTaskScore *out)
{
    double loss = 0;
    size_t count = 0, ok = 0, n = to - from;
    if (m->task == RNNRT_TASK_LABELLING) {
        int B = n < (size_t)b->B ? (int)n : b->B;
        size_t nc = n / (size_t)B;
        memset(b->state_in, 0, (size_t)b->B * (size_t)b->S * sizeof(real));
        for (size_t t0 = 0; t0 < nc; t0 += (size_t)b->T) {
            int T = fill_labelling(b, d, from, nc, B, t0);
            ok += rnnrt_model_score(m, b);
            size_t k = (size_t)T * (size_t)B;
            loss += b->ctx.loss * (double)k;
            count += k;
            memcpy(b->state_in, b->state_out,
                   (size_t)B * (size_t)b->S * sizeof(real));
        }
    } else {
        size_t rows[1 << 12];
        for (size_t i = from; i < to;) {
            int B = to - i < (size_t)b->B ? (int)(to - i) : b->B;
            B = B > (int)(sizeof rows / sizeof *rows) ? (int)(sizeof rows /
                                                             sizeof *rows)
                                                      : B;
            for (int k = 0; k < B; k++)
                rows[k] = i + (size_t)k;
            fill_classification(b, m, d, rows, B);
            memset(b->state_in, 0, (size_t)B * (size_t)b->S * sizeof(real));
            ok += rnnrt_model_score(m, b);
            loss += b->ctx.loss * B;
            count += (size_t)B;
            i += (size_t)B;
        }
    }
    out->loss = count ? loss / (double)count : NAN;
    out->acc = count ? (double)ok / (double)count : NAN;
    out->count = count;
}

/* ---- checkpoints ---- */

/* The model, its vocabularies and, when ts is given, the train state. */
static int ckpt_save(const char *path, const RnnrtModel *m,
                     const RnnrtTaskData *d, const RnnrtParams *p,
                     const RnnrtTrainState *ts, RnnrtError *err)
{
    RnnrtCkptWriter w;
    rnnrt_ckpt_put_model(&w, m, p, d->vocab.size, d->labels.size);
    rnnrt_ckpt_put_dim(&w, "T", (uint64_t)d->T);
    rnnrt_ckpt_put_vocab(&w, "vocab", &d->vocab);
    rnnrt_ckpt_put_vocab(&w, "labels", &d->labels);
    if (ts)
        rnnrt_ckpt_put_state(&w, ts, p->total);
    return rnnrt_ckpt_write(&w, path, err);
}

typedef struct {
    RnnrtVocab vocab, labels;
    RnnrtParams p;
    RnnrtTrainState ts; /* filled when asked for */
    int T;
} TaskCkpt;

static void ckpt_free(TaskCkpt *c)
{
    rnnrt_vocab_free(&c->vocab);
    rnnrt_vocab_free(&c->labels);
    rnnrt_params_free(&c->p);
    rnnrt_train_state_free(&c->ts);
}

/* latest: fall back to "<path>.prev" (a warning in warn); state: read
 * the train state too. */
static int ckpt_load(const char *path, const RnnrtModel *m, int latest,
                     int state, TaskCkpt *c, RnnrtError *warn,
                     RnnrtError *err)
{
    memset(c, 0, sizeof *c);
    RnnrtCkptFile f;
    int V = 0, L = 0;
    uint64_t T = 0;
    int rc = latest ? rnnrt_ckpt_open_latest(&f, path, err)
                    : rnnrt_ckpt_open(&f, path, err);
    if (!rc)
        rc = rnnrt_ckpt_get_model(&f, m, &c->p, &V, &L, err);
    if (!rc)
        rc = rnnrt_ckpt_get_dim(&f, "T", &T, err);
    if (!rc)
        rc = rnnrt_ckpt_get_vocab(&f, "vocab", 1, &c->vocab, err);
    if (!rc)
        rc = rnnrt_ckpt_get_vocab(&f, "labels", 0, &c->labels, err);
    if (!rc && (c->vocab.size != V || c->labels.size != L || T > INT32_MAX))
        rc = rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: the "
                         "vocabularies disagree with the header", path);
    if (!rc && state)
        rc = rnnrt_ckpt_get_state(&f, m->state_size, c->p.total, &c->ts,
                                  err);
    if (!rc && f.warning[0] && warn)
        rnnrt_error(warn, RNNRT_EXIT_IO, "%s", f.warning);
    c->T = (int)T;
    rnnrt_ckpt_close(&f);
    if (rc)
        ckpt_free(c);
    return rc;
}

/* A checkpoint of p, the vocabularies and T with the train state ts, for
 * the safetensors import (rnnrt_safetensors.c). */
int rnnrt_task_ckpt_write(const char *path, const RnnrtModel *m,
                          const RnnrtParams *p, const RnnrtVocab *vocab,
                          const RnnrtVocab *labels, int T,
                          const RnnrtTrainState *ts, RnnrtError *err)
{
    RnnrtTaskData d;
    memset(&d, 0, sizeof d);
    d.vocab = *vocab;
    d.labels = *labels;
    d.T = T;
    return ckpt_save(path, m, &d, p, ts, err);
}

/* ---- training, on the one driver (rnnrt_driver.c) ----
 * Labelling carries the state between the minibatches of an epoch (saved
 * in the checkpoint's train state, so --resume continues it); the
 * classification rows are shuffled from ts->rng at each epoch's start
 * (replayed from ts->epoch_rng when resumed mid-epoch). */

typedef struct {
    const RnnrtModel *m;
    RnnrtTrainOpts o; /* the caller's, the recipe as resumed */
    const char *ckpt;
    RnnrtTaskData d;
    RnnrtBuffers b;
    RnnrtParams p;
    RnnrtTrainState ts;
    RnnrtDriver drv;
    size_t *perm;     /* classification: this epoch's row order */
    RnnrtTaskScore val; /* the last validation's */
    double train_loss;  /* the last finished epoch's mean loss */
} Task;

static size_t labelling_columns(const Task *t)
{
    return t->d.ntrain / (size_t)t->b.B;
}

/* Labelling: column blocks of T; classification: rows B at a time (the
 * last block may be smaller). */
static size_t task_nbatches(void *task)
{
    Task *t = task;
    int lab = t->m->task == RNNRT_TASK_LABELLING;
    size_t n = lab ? labelling_columns(t) : t->d.ntrain;
    size_t per = (size_t)(lab ? t->b.T : t->b.B);
    return (n + per - 1) / per;
}

static void task_start_epoch(void *task, RnnrtTrainState *ts)
{
    Task *t = task;
    RnnrtBuffers *b = &t->b;
    if (ts->batch == 0)
        memset(b->state_in, 0, (size_t)b->B * (size_t)b->S * sizeof(real));
    if (t->m->task == RNNRT_TASK_LABELLING)
        return;
    RnnrtRng replay = ts->epoch_rng, *rng = &replay;
    if (ts->batch == 0) {
        ts->epoch_rng = ts->rng;
        rng = &ts->rng;
    }
    size_t n = t->d.ntrain;
    for (size_t i = 0; i < n; i++)
        t->perm[i] = i;
    for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
        size_t j = (size_t)rnnrt_rng_below(rng, (uint64_t)i);
        size_t tmp = t->perm[i - 1];
        t->perm[i - 1] = t->perm[j];
        t->perm[j] = tmp;
    }
}

static void task_step(void *task, RnnrtTrainState *ts, double *loss,
                      int64_t *tokens)
{
    Task *t = task;
    RnnrtBuffers *b = &t->b;
    int64_t count;
    if (t->m->task == RNNRT_TASK_LABELLING) {
        int T = fill_labelling(b, &t->d, 0, labelling_columns(t), b->B,
                               (size_t)ts->batch * (size_t)b->T);
        count = (int64_t)T * b->B;
    } else {
        size_t i = (size_t)ts->batch * (size_t)b->B, n = t->d.ntrain;
        int B = n - i < (size_t)b->B ? (int)(n - i) : b->B;
        fill_classification(b, t->m, &t->d, t->perm + i, B);
        memset(b->state_in, 0, (size_t)B * (size_t)b->S * sizeof(real));
        count = B;
    }
    rnnrt_model_run(t->m, b, 1); /* split over --threads workers */
    *loss = b->ctx.loss; /* over MPI ranks, this rank's rows' part */
    if (rnnrt_buffers_ranks(b) > 1) {
        int rows_all = b->ctx.B, row0, rows;
        rnnrt_mpi_rows(rows_all, &row0, &rows);
        count = count / rows_all * rows;
    }
    *tokens = count;
}

/* Labelling: carry the state to the next minibatch. */
static void task_after_step(void *task)
{
    Task *t = task;
    RnnrtBuffers *b = &t->b;
    if (t->m->task == RNNRT_TASK_LABELLING)
        memcpy(b->state_in, b->state_out,
               (size_t)b->B * (size_t)b->S * sizeof(real));
}

static int task_validate(void *task, double *loss, RnnrtError *err)
{
    Task *t = task;
    (void)err;
    RnnrtBuffers *b = &t->b;
    real *keep = rnnrt_xcalloc((size_t)b->B * (size_t)b->S + 1, sizeof(real),
                               "carried state");
    memcpy(keep, b->state_in, (size_t)b->B * (size_t)b->S * sizeof(real));
    score(t->m, b, &t->d, t->d.ntrain, t->d.n, &t->val);
    memcpy(b->state_in, keep, (size_t)b->B * (size_t)b->S * sizeof(real));
    free(keep);
    *loss = t->val.loss;
    t->drv.val_name = "val_acc"; /* for --metrics */
    t->drv.val_metric = t->val.acc;
    return 0;
}

static int task_end_epoch(void *task, const RnnrtTrainState *ts,
                          double avg_loss, RnnrtError *err)
{
    Task *t = task;
    (void)err;
    t->train_loss = avg_loss;
    if (!isnan(t->drv.val_loss)) {
        fprintf(t->o.out, "epoch %lld train_loss %.4f val_loss %.4f val_acc "
                          "%.4f", (long long)ts->epoch + 1, avg_loss,
                t->val.loss, t->val.acc);
        if (t->o.sched.kind != RNNRT_SCHED_CONSTANT || t->o.sched.warmup)
            fprintf(t->o.out, " lr %.6g", ts->lr);
        fputc('\n', t->o.out);
        fflush(t->o.out);
    }
    return 0;
}

static int task_save(void *task, RnnrtError *err)
{
    Task *t = task;
    RnnrtTrainState ts = t->ts;
    int lab = t->m->task == RNNRT_TASK_LABELLING;
    ts.S = t->b.S;
    /* the carried state between an epoch's minibatches (at its end,
     * none: the next starts from zeros) */
    ts.state = lab && ts.batch > 0 ? t->b.state_in : NULL;
    return ckpt_save(t->ckpt, t->m, &t->d, &t->p, &ts, err);
}

/* Over MPI ranks, before a save: every rank's rows of labelling's carried
 * state. */
static void task_share(void *task)
{
    Task *t = task;
    rnnrt_buffers_share_state(&t->b, t->b.state_in);
}

static const char *task_param_name(void *task, size_t k, size_t *index)
{
    Task *t = task;
    return rnnrt_params_owner(&t->p, t->m, k, index);
}

static const RnnrtTaskOps task_ops = {
    .nbatches = task_nbatches,
    .start_epoch = task_start_epoch,
    .step = task_step,
    .after_step = task_after_step,
    .validate = task_validate,
    .end_epoch = task_end_epoch,
    .save = task_save,
    .param_name = task_param_name,
    .share = task_share,
};

/* The data as the trainer sees it (ids, labels, lengths, the split), so
 * --resume can tell another file from the one a checkpoint trained on. */
static uint64_t data_hash(const RnnrtTaskData *d, int cls)
{
    size_t nx = cls ? d->n * (size_t)d->T : d->n;
    size_t ny = d->n;
    uint64_t h = rnnrt_fnv1a(RNNRT_FNV_INIT, &d->ntrain, sizeof d->ntrain);
    h = rnnrt_fnv1a(h, d->x, nx * sizeof *d->x);
    h = rnnrt_fnv1a(h, d->y, ny * sizeof *d->y);
    if (cls)
        h = rnnrt_fnv1a(h, d->len, d->n * sizeof *d->len);
    return h;
}

/* Fresh: the data builds the vocabularies, the seed the parameters.
 * Resumed: the checkpoint's vocabularies, parameters and train state. */
static int setup(Task *t, RnnrtError *err)
{
    const RnnrtModel *m = t->m;
    RnnrtTrainOpts *o = &t->o;
    RnnrtTrainState *ts = &t->ts;
    int rc;
    if (!o->resume) {
        rc = rnnrt_task_data_load(&t->d, m, o->data, o->steps, NULL, NULL,
                                  err);
        if (!rc)
            rc = rnnrt_params_init_l(&t->p, m, t->d.vocab.size,
                                     t->d.labels.size, err);
        if (rc)
            return rc;
        rnnrt_rng_init(&ts->rng, o->seed);
        rnnrt_params_randomize(&t->p, m, &ts->rng);
        ts->epoch_rng = ts->rng;
        ts->lr = o->lr;
        rnnrt_sched_start(&ts->sched, ts->lr);
        ts->B = o->batch;
        ts->T = o->steps;
        ts->S = m->state_size;
        ts->corpus_hash = data_hash(&t->d, m->task == RNNRT_TASK_CLASSIFICATION);
    } else {
        TaskCkpt c;
        RnnrtError warn = {0};
        rc = ckpt_load(t->ckpt, m, 1, 1, &c, &warn, err);
        if (rc)
            return rc;
        if (warn.code && rnnrt_mpi_rank() == 0)
            fprintf(stderr, "%s: warning: %s\n", m->name, warn.msg);
        t->p = c.p;
        *ts = c.ts;
        memset(&c.p, 0, sizeof c.p);
        memset(&c.ts, 0, sizeof c.ts);
        if (ts->batch > 0 && (ts->B != o->batch || ts->T != o->steps))
            rc = rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' stopped in the "
                             "middle of an epoch with --batch %d --steps %d; "
                             "resume with the same values", t->ckpt, ts->B,
                             ts->T);
        if (!rc)
            rc = rnnrt_task_data_load(&t->d, m, o->data, c.T, &c.vocab,
                                      &c.labels, err);
        ckpt_free(&c);
        if (!rc && ts->corpus_hash != data_hash(&t->d, m->task == RNNRT_TASK_CLASSIFICATION) && !o->force)
            rc = rnnrt_error(err, RNNRT_EXIT_DATA, "the data differs from "
                             "the data '%s' was trained on; pass --force to "
                             "continue on this one", t->ckpt);
        if (rc)
            return rc;
        ts->corpus_hash = data_hash(&t->d, m->task == RNNRT_TASK_CLASSIFICATION);
        ts->B = o->batch;
        ts->T = o->steps;
        if (!o->quiet)
            fprintf(stderr, "%s: resuming '%s' at epoch %lld, minibatch "
                            "%lld (step %lld)\n", m->name, t->ckpt,
                    (long long)ts->epoch + 1, (long long)ts->batch,
                    (long long)ts->step);
    }
    rc = rnnrt_train_optim(o, ts, t->p.total, m->name, t->ckpt, err);
    if (!rc)
        rc = rnnrt_train_recipe(o, ts, m->name, t->ckpt, err);
    if (rc)
        return rc;
    if (m->task == RNNRT_TASK_LABELLING && t->d.ntrain < (size_t)o->batch)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "the training split has %zu "
                           "tokens, fewer than the batch %d", t->d.ntrain,
                           o->batch);
    rc = rnnrt_buffers_init_l(&t->b, m, &t->p, o->batch, o->steps,
                              t->d.vocab.size, t->d.labels.size, err);
    if (!rc)
        rc = rnnrt_buffers_split_ranks(&t->b, m, &t->p, o->threads, err);
    if (rc)
        return rc;
    if (ts->state && ts->batch > 0)
        memcpy(t->b.state_in, ts->state,
               (size_t)t->b.B * (size_t)t->b.S * sizeof(real));
    free(ts->state);
    ts->state = NULL;
    t->perm = rnnrt_xcalloc(t->d.ntrain + 1, sizeof *t->perm, "row order");
    if (!o->quiet) {
        int cls = m->task == RNNRT_TASK_CLASSIFICATION;
        fprintf(stderr, "%s: %zu train / %zu validation %s, %d tokens in the "
                        "vocabulary, %d labels", task_name[m->task],
                t->d.ntrain, t->d.n - t->d.ntrain, cls ? "lines" : "tokens",
                t->d.vocab.size, t->d.labels.size);
        if (cls)
            fprintf(stderr, ", %zu lines cut to %d tokens", t->d.truncated,
                    t->d.T);
        fputc('\n', stderr);
    }
    return 0;
}

static int train_run(Task *t, RnnrtError *err)
{
    const RnnrtModel *m = t->m;
    const RnnrtTrainOpts *o = &t->o;
    RnnrtDriver *d = &t->drv;
    rnnrt_driver_init(d, &task_ops, t, &t->ts, t->p.params, t->p.grads,
                      t->p.total);
    d->o = (RnnrtDriverOpts){
        .name = m->name, .ckpt = t->ckpt, .epochs = o->epochs,
        .max_steps = o->max_steps, .max_seconds = o->max_seconds,
        .save_every = o->save_every, .clip = o->clip,
        .max_loss_ratio = o->max_loss_ratio, .vocab = t->d.labels.size,
        .quiet = o->quiet, .sched = o->sched,
        .weight_decay = o->weight_decay, .eval_every = o->eval_every,
        .early_stop = o->early_stop, .ranks = rnnrt_buffers_ranks(&t->b), .metrics = o->metrics,
        .metrics_every = o->metrics_every};
    int rc = rnnrt_driver_run(d, err);
    if (!rc)
        rc = rnnrt_driver_finish(d, err);
    if (rc)
        return rc;
    /* the epoch a budget stopped in, else the last finished one */
    double train = d->epoch_ntok ? d->epoch_loss / (double)d->epoch_ntok
                                 : t->train_loss;
    RnnrtTaskScore val;
    score(m, &t->b, &t->d, t->d.ntrain, t->d.n, &val);
    fprintf(o->out, "RESULT task=%s train_loss=%.4f val_loss=%.4f "
            "val_acc=%.4f val_count=%zu val_unk=%zu steps=%lld "
            "seconds=%.1f\n", task_name[m->task], train, val.loss, val.acc,
            val.count, t->d.unk_valid, (long long)d->run_steps,
            rnnrt_now() - d->t0);
    return 0;
}

int rnnrt_task_train(const RnnrtModel *m, const RnnrtTrainOpts *o,
                     RnnrtError *err)
{
    const char *tn = task_name[m->task];
    if (!o->data)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "a %s model needs --data "
                           "FILE (%s lines)", tn,
                           m->task == RNNRT_TASK_LABELLING
                               ? "`token<TAB>label`, blank between sentences"
                               : "`label<TAB>text`");
    Task t;
    memset(&t, 0, sizeof t);
    t.m = m;
    t.o = *o;
    t.train_loss = NAN;
    if (!t.o.out)
        t.o.out = stdout;
    t.ckpt = o->ckpt;
    FILE *devnull = NULL;
    int rc = rnnrt_mpi_start(err);
    if (!rc && rnnrt_mpi_rank() != 0) { /* rank 0 alone prints */
        t.o.quiet = 1;
        t.o.out = devnull = fopen("/dev/null", "w");
        if (!devnull)
            rc = rnnrt_error(err, RNNRT_EXIT_IO, "cannot open /dev/null");
    }
    /* the checkpoint must be writable before any work (and a stale tmp of
     * a killed save goes) */
    if (!rc)
        rc = rnnrt_train_opts_check(&t.o, err);
    if (!rc)
        rc = rnnrt_ckpt_probe(t.ckpt, err);
    if (!rc)
        rc = rnnrt_file_remove_stale(t.ckpt, err);
    if (!rc && !o->resume && !o->force)
        rc = rnnrt_ckpt_check_overwrite(t.ckpt, rnnrt_ckpt_task_name(m->task),
                                        m->name, m->spec_hash, m->spec_path,
                                        err);
    if (rc) {
        if (devnull)
            fclose(devnull);
        return rc;
    }
    int ftz = o->keep_denormals ? 0 : rnnrt_fpu_flush_denormals(1);
    rc = setup(&t, err);
    if (!rc)
        rc = train_run(&t, err);
    rnnrt_signal_restore();
    if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
        err->code = 0; /* not an error: saved and stopped */
    if (ftz)
        rnnrt_fpu_flush_denormals(0);
    free(t.perm);
    rnnrt_train_state_free(&t.ts);
    rnnrt_buffers_free(&t.b);
    rnnrt_params_free(&t.p);
    rnnrt_task_data_free(&t.d);
    if (devnull)
        fclose(devnull);
    return rc;
}

int rnnrt_task_eval(const RnnrtModel *m, const char *ckpt, const char *data,
                    int B, RnnrtTaskScore *out, RnnrtError *err)
{
    if (!data)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "a %s model needs --data "
                           "FILE: its validation split is scored",
                           task_name[m->task]);
    TaskCkpt c;
    RnnrtTaskData d;
    RnnrtBuffers b = {0};
    int rc = ckpt_load(ckpt, m, 0, 0, &c, NULL, err);
    if (rc)
        return rc;
    B = B ? B : m->recipe.batch;
    rc = rnnrt_task_data_load(&d, m, data, c.T, &c.vocab, &c.labels, err);
    if (!rc) {
        rc = rnnrt_buffers_init_l(&b, m, &c.p, B, c.T, c.vocab.size,
                                  c.labels.size, err);
        if (!rc)
            score(m, &b, &d, d.ntrain, d.n, out);
        rnnrt_buffers_free(&b);
        rnnrt_task_data_free(&d);
    }
    ckpt_free(&c);
    return rc;
}

int rnnrt_task_ckpt_load(const char *path, const RnnrtModel *m,
                         RnnrtVocab *vocab, RnnrtVocab *labels,
                         RnnrtParams *p, int *T, int64_t *steps,
                         RnnrtError *err)
{
    TaskCkpt c;
    int rc = ckpt_load(path, m, 0, 1, &c, NULL, err);
    if (rc)
        return rc;
    *vocab = c.vocab;
    *labels = c.labels;
    *p = c.p;
    *T = c.T;
    *steps = c.ts.step;
    rnnrt_train_state_free(&c.ts);
    return 0;
}
