/*
 * rnnrt_task.c: training, scoring and checkpoints of the task heads (issue
 * #3): labelling (a label per step) and classification (a label per
 * sequence); their data files are read by rnnrt_task_data.c. The language model keeps its own driver (rnnrt_train.c); the
 * pieces shared with it are the parameter block, the call buffers, the
 * optimizers and clipping.
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
 * vocabulary ("vocab") and the labels ("labels").
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

/* Correct predictions among n rows of logits (width L) against y. */
static size_t count_correct(const real *logits, const int32_t *y, size_t n,
                            int L)
{
    size_t ok = 0;
    for (size_t r = 0; r < n; r++) {
        const real *z = logits + r * (size_t)L;
        int best = 0;
        for (int c = 1; c < L; c++)
            if (z[c] > z[best])
                best = c;
        ok += best == y[r];
    }
    return ok;
}

/* Loss and accuracy over items [from, to) (tokens or rows), forward only. */
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
            m->forward(&b->ctx);
            size_t k = (size_t)T * (size_t)B;
            loss += b->ctx.loss * (double)k;
            ok += count_correct(b->ctx.logits, b->y, k, b->L);
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
            m->forward(&b->ctx);
            loss += b->ctx.loss * B;
            ok += count_correct(b->ctx.logits, b->y, (size_t)B, b->L);
            count += (size_t)B;
            i += (size_t)B;
        }
    }
    out->loss = count ? loss / (double)count : NAN;
    out->acc = count ? (double)ok / (double)count : NAN;
    out->count = count;
}

/* ---- checkpoints ---- */

static int ckpt_save(const char *path, const RnnrtModel *m,
                     const RnnrtTaskData *d, const RnnrtParams *p,
                     RnnrtError *err)
{
    RnnrtCkptWriter w;
    rnnrt_ckpt_put_model(&w, m, p, d->vocab.size, d->labels.size);
    rnnrt_ckpt_put_dim(&w, "T", (uint64_t)d->T);
    rnnrt_ckpt_put_vocab(&w, "vocab", &d->vocab);
    rnnrt_ckpt_put_vocab(&w, "labels", &d->labels);
    return rnnrt_ckpt_write(&w, path, err);
}

typedef struct {
    RnnrtVocab vocab, labels;
    RnnrtParams p;
    int T;
} TaskCkpt;

static void ckpt_free(TaskCkpt *c)
{
    rnnrt_vocab_free(&c->vocab);
    rnnrt_vocab_free(&c->labels);
    rnnrt_params_free(&c->p);
}

static int ckpt_load(const char *path, const RnnrtModel *m, TaskCkpt *c,
                     RnnrtError *err)
{
    memset(c, 0, sizeof *c);
    RnnrtCkptFile f;
    int V = 0, L = 0;
    uint64_t T = 0;
    int rc = rnnrt_ckpt_open(&f, path, err);
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
    c->T = (int)T;
    rnnrt_ckpt_close(&f);
    if (rc)
        ckpt_free(c);
    return rc;
}

/* ---- training ---- */

/* A non-finite loss or gradient skips the step and halves the learning
 * rate, at most MAX_HALVINGS times (as the language model's driver);
 * STOPPED: a signal or a --max-steps / --max-seconds budget ended the run
 * at a step boundary. */
enum { MAX_HALVINGS = 5, STOPPED = -1 };

typedef struct {
    const RnnrtModel *m;
    const RnnrtTrainOpts *o;
    RnnrtBuffers b;
    RnnrtParams p;
    RnnrtOptim opt;
    RnnrtRng rng;
    double lr, t0;
    int halvings;
    int64_t steps;
} Task;

/* One optimizer step on the minibatch in t->b; its loss in *loss (NAN
 * when the step was skipped). */
static int train_step(Task *t, double *loss, RnnrtError *err)
{
    RnnrtParams *p = &t->p;
    memset(p->grads, 0, p->total * sizeof(real));
    t->m->forward(&t->b.ctx);
    *loss = t->b.ctx.loss;
    double norm = NAN;
    if (isfinite(*loss)) {
        t->m->backward(&t->b.ctx);
        norm = rnnrt_clip_grad_norm(p->grads, p->total, t->o->clip);
    }
    if (!isfinite(*loss) || !isfinite(norm)) {
        if (++t->halvings > MAX_HALVINGS)
            return rnnrt_error(err, RNNRT_EXIT_DIVERGED, "the %s stayed "
                               "non-finite after %d learning-rate halvings "
                               "(lr %g); stopping", isfinite(*loss) ?
                               "gradient" : "loss", MAX_HALVINGS, t->lr);
        t->lr /= 2;
        if (!t->o->quiet)
            fprintf(stderr, "%s: non-finite %s: step skipped, learning rate "
                            "halved to %g\n", t->m->name, isfinite(*loss) ?
                    "gradient" : "loss", t->lr);
        *loss = NAN;
        return 0;
    }
    rnnrt_optim_step(&t->opt, p->params, p->grads, t->lr);
    t->steps++;
    return 0;
}

/* Between steps: a signal or a budget ends the run (STOPPED). */
static int stop_now(const Task *t)
{
    const RnnrtTrainOpts *o = t->o;
    return rnnrt_signal_pending() ||
           (o->max_steps && t->steps >= o->max_steps) ||
           (o->max_seconds > 0 && rnnrt_now() - t->t0 >= o->max_seconds);
}

static int train_epoch(Task *t, const RnnrtTaskData *d, double *avg,
                       RnnrtError *err)
{
    RnnrtBuffers *b = &t->b;
    double sum = 0, loss;
    size_t steps = 0;
    int rc = 0;
    if (t->m->task == RNNRT_TASK_LABELLING) {
        size_t nc = d->ntrain / (size_t)b->B;
        memset(b->state_in, 0, (size_t)b->B * (size_t)b->S * sizeof(real));
        for (size_t t0 = 0; t0 < nc && !rc; t0 += (size_t)b->T) {
            if (stop_now(t))
                rc = STOPPED;
            if (rc)
                break;
            fill_labelling(b, d, 0, nc, b->B, t0);
            rc = train_step(t, &loss, err);
            if (isfinite(loss))
                sum += loss, steps++;
            memcpy(b->state_in, b->state_out,
                   (size_t)b->B * (size_t)b->S * sizeof(real));
        }
    } else {
        size_t n = d->ntrain;
        size_t *perm = rnnrt_xcalloc(n, sizeof *perm, "row order");
        for (size_t i = 0; i < n; i++)
            perm[i] = i;
        for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)rnnrt_rng_below(&t->rng, (uint64_t)i);
            size_t tmp = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = tmp;
        }
        for (size_t i = 0; i < n && !rc;) {
            if (stop_now(t)) {
                rc = STOPPED;
                break;
            }
            int B = n - i < (size_t)b->B ? (int)(n - i) : b->B;
            fill_classification(b, t->m, d, perm + i, B);
            memset(b->state_in, 0, (size_t)B * (size_t)b->S * sizeof(real));
            rc = train_step(t, &loss, err);
            if (isfinite(loss))
                sum += loss, steps++;
            i += (size_t)B;
        }
        free(perm);
    }
    *avg = steps ? sum / (double)steps : NAN;
    return rc;
}

static int train_run(Task *t, RnnrtTaskData *d, RnnrtError *err)
{
    const RnnrtModel *m = t->m;
    const RnnrtTrainOpts *o = t->o;
    FILE *out = o->out ? o->out : stdout;
    int rc = rnnrt_params_init_l(&t->p, m, d->vocab.size, d->labels.size, err);
    if (!rc)
        rc = rnnrt_buffers_init_l(&t->b, m, &t->p, o->batch, o->steps,
                                  d->vocab.size, d->labels.size, err);
    if (!rc)
        rc = rnnrt_optim_init(&t->opt, o->optimizer, o->momentum, o->beta1,
                              o->beta2, o->eps, t->p.total, err);
    if (rc)
        return rc;
    rnnrt_rng_init(&t->rng, o->seed);
    rnnrt_params_randomize(&t->p, m, &t->rng);
    double loss = NAN;
    RnnrtTaskScore val = {NAN, NAN, 0};
    int e = 0;
    for (; e < o->epochs && !rc; e++) {
        rc = train_epoch(t, d, &loss, err);
        if (rc)
            break;
        score(m, &t->b, d, d->ntrain, d->n, &val);
        fprintf(out, "epoch %d train_loss %.4f val_loss %.4f val_acc %.4f\n",
                e + 1, loss, val.loss, val.acc);
    }
    int sig = rnnrt_signal_pending();
    if (rc == STOPPED && !sig) {
        if (!o->quiet)
            fprintf(stderr, "%s: stopping at the --max-steps/--max-seconds "
                            "budget (%lld steps)\n", m->name,
                    (long long)t->steps);
        score(m, &t->b, d, d->ntrain, d->n, &val);
        rc = 0;
    }
    if (rc && rc != STOPPED)
        return rc;
    int saved = ckpt_save(o->ckpt, m, d, &t->p, err);
    if (saved)
        return saved;
    if (sig) {
        fprintf(stderr, "%s: interrupted in epoch %d: checkpoint saved to "
                        "'%s'\n", m->name, e + 1, o->ckpt);
        return rnnrt_signal_exit_code(sig);
    }
    fprintf(out, "RESULT task=%s train_loss=%.4f val_loss=%.4f val_acc=%.4f "
            "val_count=%zu val_unk=%zu steps=%lld seconds=%.1f\n",
            task_name[m->task], loss, val.loss, val.acc, val.count,
            d->unk_valid, (long long)t->steps, rnnrt_now() - t->t0);
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
    /* the checkpoint must be writable before any work (and a stale tmp of
     * a killed save goes) */
    int rc = rnnrt_ckpt_probe(o->ckpt, err);
    if (!rc)
        rc = rnnrt_file_remove_stale(o->ckpt, err);
    if (rc)
        return rc;
    RnnrtTaskData d;
    rc = rnnrt_task_data_load(&d, m, o->data, o->steps, NULL, NULL, err);
    if (rc)
        return rc;
    int cls = m->task == RNNRT_TASK_CLASSIFICATION;
    if (!cls && d.ntrain < (size_t)o->batch)
        rc = rnnrt_error(err, RNNRT_EXIT_DATA, "the training split has %zu "
                         "tokens, fewer than the batch %d", d.ntrain,
                         o->batch);
    if (!rc && !o->quiet) {
        fprintf(stderr, "%s: %zu train / %zu validation %s, %d tokens in the "
                        "vocabulary, %d labels", tn, d.ntrain, d.n - d.ntrain,
                cls ? "lines" : "tokens", d.vocab.size, d.labels.size);
        if (cls)
            fprintf(stderr, ", %zu lines cut to %d tokens", d.truncated,
                    d.T);
        fputc('\n', stderr);
    }
    Task t;
    memset(&t, 0, sizeof t);
    t.m = m;
    t.o = o;
    t.lr = o->lr;
    t.t0 = rnnrt_now();
    rnnrt_blas_set_threads(o->threads);
    int ftz = o->keep_denormals ? 0 : rnnrt_fpu_flush_denormals(1);
    if (!rc) {
        rnnrt_signal_install();
        rc = train_run(&t, &d, err);
        rnnrt_signal_restore();
        if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
            err->code = 0; /* not an error: saved and stopped */
    }
    if (ftz)
        rnnrt_fpu_flush_denormals(0);
    rnnrt_optim_free(&t.opt);
    rnnrt_buffers_free(&t.b);
    rnnrt_params_free(&t.p);
    rnnrt_task_data_free(&d);
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
    int rc = ckpt_load(ckpt, m, &c, err);
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
