/*
 * rnnrt_train.c: the training driver, the reference's main loop in C.
 *
 *   setup    check options; probe that checkpoints can be written; load the
 *            corpus (and, with --resume, the checkpoint); init parameters
 *   epochs   for every minibatch: zero grads, forward and backward
 *            (rnnrt_model_run: split over --threads workers), check the
 *            loss, clip, check the norm, optimizer step (SGD, SGD
 *            with momentum or Adam: rnnrt_optim.c), carry the state
 *            (sequential: state_out -> state_in, reset at epoch start;
 *            random: zeros for each minibatch)
 *            every 5th and the last epoch: "epoch E train_loss L val_ppl P"
 *   finish   save; the best checkpoint's parameters when this run kept
 *            one; evaluate (and score the test file), "RESULT ...", a
 *            sample from --prefix
 *
 * Truncation is the carry_scale the model's backward applies to the state
 * gradient entering step t-1 from step t: "full" all ones; "truncated" with
 * 0 < k < T cuts every k steps; "randomized" keeps the gradient with
 * probability p, scaled by 1/p (Tallec & Ollivier; d2l 9.7). The state is
 * always detached between minibatches (dstate_in is not computed).
 *
 * Faults: a non-finite loss or gradient norm skips the step (parameters and
 * carried state stay as they were) and halves the learning rate, at most 5
 * times; the 6th time exits 4 without saving, so the last good checkpoint
 * stays. A finite loss above --max-loss-ratio (3) times the training's
 * first loss (kept in the checkpoint: rnnrt_loss_guard) exits 4 the same
 * way (diverged). SIGINT/SIGTERM are polled between steps
 * and inside evaluation and sampling: the driver saves and returns 130/143.
 *
 * Resume is exact, also mid-epoch: the checkpoint holds the cursor (epoch,
 * next minibatch), the RNG now and at the start of the epoch (to rebuild a
 * random epoch's shuffle), the carried state, the step count, the
 * learning rate after halvings and the optimizer's moments. A checkpoint
 * made with another optimizer is refused. The learning rate and RNG come from the
 * checkpoint, not from --lr and --seed. The corpus must hash the same as
 * when the checkpoint was written (--force overrides), and a mid-epoch
 * cursor needs the same --batch, --steps and --sampler; at an epoch
 * boundary those may change. --max-steps and --max-seconds count this run
 * only. tok/s counts wall time of the epoch loop including the
 * periodic evaluations, as the reference does.
 */
#include "rnnrt.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { BPTT_FULL, BPTT_TRUNCATED, BPTT_RANDOMIZED };

typedef struct {
    const RnnrtModel *m;
    const RnnrtTrainOpts *o; /* &run */
    RnnrtTrainOpts run;      /* the caller's, the recipe's options as
                                resumed (recipe()) */
    RnnrtTrainResult *res;
    RnnrtSampler sampler;
    char ckpt[4096];
    RnnrtCorpus corpus;
    RnnrtParams p;
    RnnrtBuffers buf;
    RnnrtBatcher batcher;
    RnnrtTrainState ts;
    RnnrtDriver d;
    double val_ppl; /* the last validation's */
    int ftz;
    FILE *devnull; /* the results of MPI ranks other than 0 */
} Trainer;

void rnnrt_train_opts_default(RnnrtTrainOpts *o, const RnnrtModel *m)
{
    const RnnrtRecipe *r = &m->recipe;
    memset(o, 0, sizeof *o);
    o->epochs = r->epochs;
    o->batch = r->batch;
    o->steps = r->steps;
    o->sampler = r->sampler ? r->sampler : "sequential";
    o->optimizer = r->optimizer ? r->optimizer : "sgd";
    o->prefix = "the ";
    o->sample_len = 200;
    o->out = stdout;
    rnnrt_sched_opts_recipe(&o->sched, r); /* the name is checked later */
    rnnrt_recipe_defaults(o, r);
    o->valid = r->valid;
    o->test = r->test;
}

static int parse_bptt(const char *s, int *out)
{
    if (!strcmp(s, "full"))
        *out = BPTT_FULL;
    else if (!strcmp(s, "truncated"))
        *out = BPTT_TRUNCATED;
    else if (!strcmp(s, "randomized"))
        *out = BPTT_RANDOMIZED;
    else
        return -1;
    return 0;
}

int rnnrt_train_opts_check(RnnrtTrainOpts *o, RnnrtError *err)
{
    const char *bad = NULL;
    if (o->epochs <= 0)
        bad = "--epochs must be positive";
    else if (o->batch <= 0 || o->steps <= 0)
        bad = "--batch and --steps must be positive";
    else if (!(o->lr > 0) || !isfinite(o->lr))
        bad = "--lr must be positive";
    else if (!(o->clip >= 0))
        bad = "--clip must be >= 0 (0 turns clipping off)";
    else if (!(o->max_loss_ratio == 0 || (o->max_loss_ratio >= 1 && isfinite(o->max_loss_ratio))))
        bad = "--max-loss-ratio must be 0 (off) or a number >= 1";
    else if (o->max_steps < 0 || o->max_seconds < 0 || o->save_every < 0)
        bad = "--max-steps, --max-seconds and --save-every must be >= 0";
    else if (rnnrt_sched_parse(o->lr_schedule, &o->sched.kind))
        bad = "--lr-schedule must be constant, step, plateau or cosine";
    else if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        bad = "--weight-decay must be >= 0";
    else if (o->eval_every < 1 || o->early_stop < 0)
        bad = "--eval-every must be >= 1 and --early-stop >= 0";
    if (bad)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s", bad);
    int rc = rnnrt_sched_check(&o->sched, err);
    RnnrtOptim probe; /* checks the name and the hyperparameters */
    if (!rc)
        rc = rnnrt_optim_init(&probe, o->optimizer, o->momentum, o->beta1,
                              o->beta2, o->eps, 0, err);
    if (!rc)
        rnnrt_optim_free(&probe);
    return rc;
}

/* The language model's options, then those of every task. */
static int check_opts(Trainer *tr, RnnrtError *err)
{
    const RnnrtTrainOpts *o = tr->o;
    const char *bad = NULL;
    if (!o->sampler || rnnrt_sampler_parse(o->sampler, &tr->sampler))
        bad = "--sampler must be sequential or random";
    else if (!o->bptt || parse_bptt(o->bptt, &tr->run.bptt_kind))
        bad = "--bptt must be full, truncated or randomized";
    else if (o->bptt_k < 0)
        bad = "--bptt-k must be >= 0";
    else if (tr->o->bptt_kind == BPTT_RANDOMIZED && !(o->bptt_p > 0 && o->bptt_p <= 1))
        bad = "randomized truncation needs --bptt-p in (0, 1]";
    else if (o->sample_len < 0)
        bad = "--sample-len must be >= 0";
    if (bad)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s", bad);
    int rc = rnnrt_train_opts_check(&tr->run, err);
    if (rc)
        return rc;
    const char *path = o->ckpt;
    char def[4096];
    if (!path) {
        snprintf(def, sizeof def, "%s.ckpt", tr->m->name);
        path = def;
    }
    if ((size_t)snprintf(tr->ckpt, sizeof tr->ckpt, "%s", path) >=
        sizeof tr->ckpt)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "--ckpt path too long");
    return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void note(const Trainer *tr, const char *fmt, ...)
{
    if (tr->o->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", tr->m->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The recipe's data with --valid and --test (whose defaults are
 * data.valid and data.test). */
static int load_corpus(Trainer *tr, const RnnrtVocab *vocab, RnnrtError *err)
{
    RnnrtRecipe r = tr->m->recipe;
    r.valid = tr->o->valid;
    r.test = tr->o->test;
    return rnnrt_corpus_load_recipe(&tr->corpus, tr->o->data, &r, vocab,
                                    err);
}

static const char *valid_file(const Trainer *tr)
{
    return tr->o->valid;
}

static const char *test_file(const Trainer *tr)
{
    return tr->o->test;
}

/* A fresh optimizer (zero moments) for the parameter block. */
static int new_optim(const RnnrtTrainOpts *o, RnnrtTrainState *ts,
                     size_t total, RnnrtError *err)
{
    ts->optim = rnnrt_xcalloc(1, sizeof *ts->optim, "optimizer");
    return rnnrt_optim_init(ts->optim, o->optimizer, o->momentum, o->beta1,
                            o->beta2, o->eps, total, err);
}

int rnnrt_train_optim(const RnnrtTrainOpts *o, RnnrtTrainState *ts,
                      size_t total, const char *name, const char *ckpt,
                      RnnrtError *err)
{
    if (!o->resume)
        return new_optim(o, ts, total, err);
    const char *want = o->optimizer ? o->optimizer : "sgd";
    const char *have = ts->optim ? rnnrt_optim_name(ts->optim->kind) : "sgd";
    if (strcmp(want, have))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' was trained with optimizer %s, but this run "
                           "uses %s; resume with the same optimizer",
                           ckpt, have, want);
    if (!ts->optim)
        return new_optim(o, ts, total, err);
    RnnrtOptim want_o; /* this command line's, defaults filled in */
    int rc = rnnrt_optim_init(&want_o, o->optimizer, o->momentum, o->beta1,
                              o->beta2, o->eps, 0, err);
    rnnrt_optim_free(&want_o);
    if (rc)
        return rc;
    RnnrtOptim *h = ts->optim;
    double now[RNNRT_RECIPE_OPTS] = {
        [RNNRT_RECIPE_MOMENTUM] = want_o.momentum,
        [RNNRT_RECIPE_BETA1] = want_o.beta1,
        [RNNRT_RECIPE_BETA2] = want_o.beta2,
        [RNNRT_RECIPE_EPS] = want_o.eps,
    };
    double *held[RNNRT_RECIPE_OPTS] = {
        [RNNRT_RECIPE_MOMENTUM] = &h->momentum,
        [RNNRT_RECIPE_BETA1] = &h->beta1,
        [RNNRT_RECIPE_BETA2] = &h->beta2,
        [RNNRT_RECIPE_EPS] = &h->eps,
    };
    return rnnrt_recipe_resume(o->given, now, held, name, ckpt, ts->step,
                               err);
}

int rnnrt_train_recipe(RnnrtTrainOpts *o, RnnrtTrainState *ts,
                       const char *name, const char *ckpt, RnnrtError *err)
{
    double *r = ts->recipe, now[RNNRT_RECIPE_OPTS];
    rnnrt_recipe_values(o, now);
    if (!o->resume) {
        memcpy(r, now, RNNRT_RECIPE_N * sizeof *r);
        return 0;
    }
    double *have[RNNRT_RECIPE_OPTS] = {[RNNRT_RECIPE_LR] = &ts->sched.base_lr};
    for (int k = 0; k < RNNRT_RECIPE_N; k++)
        have[k] = &r[k];
    double base = ts->sched.base_lr;
    int rc = rnnrt_recipe_resume(o->given, now, have, name, ckpt, ts->step,
                                 err);
    if (rc)
        return rc;
    if (ts->sched.base_lr != base) /* the schedule goes on from the new lr */
        ts->lr = ts->sched.base_lr;
    rnnrt_recipe_apply(o, r);
    int bptt = o->bptt_kind;
    RnnrtError why = {0};
    if (rnnrt_sched_check(&o->sched, &why) || !(o->weight_decay >= 0) ||
        o->eval_every < 1 || o->early_stop < 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s': its recipe section "
                           "is malformed (lr schedule %d: %s)", ckpt,
                           o->sched.kind, why.code ? why.msg : "weight decay, "
                           "eval-every or early-stop out of range");
    if (!(o->clip >= 0) || !(o->max_loss_ratio >= 0) || bptt < 0 ||
        bptt > BPTT_RANDOMIZED || o->bptt_k < 0 || !(o->bptt_p >= 0))
        return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s': its recipe section "
                           "is malformed (clip %g, max-loss-ratio %g, bptt "
                           "%d)", ckpt, o->clip, o->max_loss_ratio, bptt);
    return 0;
}

/* Fresh start: vocabulary from the data, parameters from the seed. */
static int setup_fresh(Trainer *tr, RnnrtError *err)
{
    int rc = load_corpus(tr, NULL, err);
    if (!rc)
        rc = rnnrt_params_init(&tr->p, tr->m, tr->corpus.vocab.size, err);
    if (rc)
        return rc;
    RnnrtTrainState *ts = &tr->ts;
    rc = new_optim(tr->o, ts, tr->p.total, err);
    if (rc)
        return rc;
    rnnrt_rng_init(&ts->rng, tr->o->seed);
    rnnrt_params_randomize(&tr->p, tr->m, &ts->rng);
    ts->lr = tr->o->lr;
    rnnrt_sched_start(&ts->sched, ts->lr);
    ts->B = tr->o->batch;
    ts->T = tr->o->steps;
    ts->sampler = (int32_t)tr->sampler;
    ts->S = tr->m->state_size;
    ts->corpus_hash = tr->corpus.hash;
    ts->epoch_rng = ts->rng;
    return 0;
}

static int setup_resume(Trainer *tr, RnnrtError *err)
{
    RnnrtVocab vocab;
    RnnrtTrainState *ts = &tr->ts;
    RnnrtError warn = {0};
    int rc = rnnrt_ckpt_load_latest(tr->ckpt, tr->m, &vocab, &tr->p, ts,
                                    &warn, err);
    if (!rc && warn.code && rnnrt_mpi_rank() == 0)
        fprintf(stderr, "%s: warning: %s\n", tr->m->name, warn.msg);
    if (!rc)
        rc = rnnrt_train_optim(tr->o, ts, tr->p.total, tr->m->name, tr->ckpt,
                               err);
    if (rc) {
        rnnrt_vocab_free(&vocab);
        return rc;
    }
    rc = load_corpus(tr, &vocab, err);
    rnnrt_vocab_free(&vocab);
    if (rc)
        return rc;
    if (ts->corpus_hash != tr->corpus.hash && !tr->o->force)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the corpus differs from the one '%s' was trained "
                           "on; pass --force to continue on this one",
                           tr->ckpt);
    int same = ts->B == tr->o->batch && ts->T == tr->o->steps &&
               ts->sampler == (int32_t)tr->sampler;
    if (!same && ts->batch > 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' stopped in the middle of an epoch with "
                           "--batch %d --steps %d --sampler %s; resume with "
                           "the same values", tr->ckpt, ts->B, ts->T,
                           ts->sampler ? "random" : "sequential");
    if (!same) { /* at an epoch boundary: no carried state */
        free(ts->state);
        ts->state = NULL;
        ts->B = tr->o->batch;
        ts->T = tr->o->steps;
        ts->sampler = (int32_t)tr->sampler;
    }
    ts->corpus_hash = tr->corpus.hash;
    note(tr, "resuming '%s' at epoch %lld, minibatch %lld (step %lld)",
         tr->ckpt, (long long)ts->epoch + 1, (long long)ts->batch,
         (long long)ts->step);
    return 0;
}

static int check_sizes(Trainer *tr, RnnrtError *err)
{
    const RnnrtCorpus *c = &tr->corpus;
    int B = tr->o->batch, T = tr->o->steps;
    size_t need = rnnrt_batcher_min_tokens(tr->sampler, B, T);
    if (c->ntrain < need)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the training split has %zu tokens, but batch %d "
                           "x steps %d needs at least %zu; use a larger "
                           "corpus or smaller --batch/--steps", c->ntrain, B,
                           T, need);
    if (c->n - c->ntrain < (size_t)B + 1 && valid_file(tr))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the validation file '%s' has %zu tokens, but "
                           "evaluating with batch %d needs at least %d",
                           valid_file(tr), c->n - c->ntrain, B, B + 1);
    if (c->n - c->ntrain < (size_t)B + 1)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the validation split has %zu tokens, but "
                           "evaluating with batch %d needs at least %d",
                           c->n - c->ntrain, B, B + 1);
    if (test_file(tr) && c->ntest < (size_t)B + 1)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the test file '%s' has %zu tokens, but "
                           "evaluating with batch %d needs at least %d",
                           test_file(tr), c->ntest, B, B + 1);
    return 0;
}

/* A fresh run may replace a checkpoint of this model, but not another
 * file (a checkpoint of another spec, a corpus given by mistake) unless
 * --force: the seq2seq trainer's rule (rnnrt_s2s_main.c). */
static int check_overwrite(Trainer *tr, RnnrtError *err)
{
    if (tr->o->resume || tr->o->force)
        return 0;
    return rnnrt_ckpt_check_overwrite(tr->ckpt, rnnrt_ckpt_task_name(tr->m->task),
                                      tr->m->name, tr->m->spec_hash,
                                      tr->m->spec_path, err);
}

static int setup(Trainer *tr, RnnrtError *err)
{
    const RnnrtTrainOpts *o = tr->o;
    int rc = check_opts(tr, err);
    if (!rc)
        rc = rnnrt_ckpt_probe(tr->ckpt, err);
    if (!rc)
        rc = rnnrt_file_remove_stale(tr->ckpt, err);
    if (!rc)
        rc = check_overwrite(tr, err);
    if (!rc)
        rc = o->resume ? setup_resume(tr, err) : setup_fresh(tr, err);
    if (!rc)
        rc = rnnrt_train_recipe(&tr->run, &tr->ts, tr->m->name,
                                tr->ckpt, err);
    if (!rc)
        rc = check_sizes(tr, err);
    if (!rc)
        rc = rnnrt_buffers_init(&tr->buf, tr->m, &tr->p, o->batch, o->steps,
                                tr->corpus.vocab.size, err);
    if (!rc)
        rc = rnnrt_buffers_split_ranks(&tr->buf, tr->m, &tr->p, o->threads,
                                       err);
    if (rc)
        return rc;
    const RnnrtCorpus *c = &tr->corpus;
    rnnrt_batcher_init(&tr->batcher, tr->sampler, c->ids, c->ntrain,
                       o->batch, o->steps);
    if (tr->ts.state && tr->sampler == RNNRT_SAMPLER_SEQUENTIAL)
        memcpy(tr->buf.state_in, tr->ts.state,
               (size_t)o->batch * (size_t)tr->buf.S * sizeof(real));
    if (!o->quiet)
        fprintf(stderr, "%s: data %s: %zu tokens (train %zu, validation "
                        "%zu), vocabulary %d, %zu validation tokens not in "
                        "the vocabulary (<unk>)\n", tr->m->name,
                o->data ? o->data : RNNRT_DEFAULT_CORPUS_DIR, c->n, c->ntrain,
                c->n - c->ntrain, c->vocab.size, c->unk_valid);
    if (!o->quiet && (valid_file(tr) || test_file(tr)))
        fprintf(stderr, "%s: validation %s, test %s: %zu tokens, %zu not "
                        "in the vocabulary\n", tr->m->name,
                valid_file(tr) ? valid_file(tr) : "split",
                test_file(tr) ? test_file(tr) : "none", c->ntest,
                c->unk_test);
    if (!o->quiet && c->unk_train && o->resume)
        fprintf(stderr, "%s: note: %zu training tokens are not in the "
                        "checkpoint's vocabulary (<unk>)\n", tr->m->name,
                c->unk_train);
    else if (!o->quiet && c->unk_train)
        fprintf(stderr, "%s: note: %zu training tokens are read as <unk> "
                        "(data.min_freq, data.max_vocab)\n", tr->m->name,
                c->unk_train);
    return 0;
}

/* ---- the language model's part of the driver (RnnrtTaskOps) ---- */

static int save(void *task, RnnrtError *err)
{
    Trainer *tr = task;
    RnnrtTrainState ts = tr->ts;
    ts.S = tr->buf.S;
    ts.state = tr->buf.state_in;
    return rnnrt_ckpt_save(tr->ckpt, tr->m, &tr->corpus.vocab, &tr->p, &ts,
                           err);
}

static void fill_carry(Trainer *tr, int T)
{
    real *carry = tr->buf.carry;
    int k = tr->o->bptt_k;
    double p = tr->o->bptt_p;
    for (int t = 0; t < T; t++) {
        if (tr->o->bptt_kind == BPTT_TRUNCATED && k > 0 && k < tr->o->steps)
            carry[t] = t % k == 0 ? 0 : 1;
        else if (tr->o->bptt_kind == BPTT_RANDOMIZED)
            carry[t] = (real)(rnnrt_rng_uniform(&tr->ts.rng) < p ? 1 / p : 0);
        else
            carry[t] = 1;
    }
}

/* This step's dropout seed: a hash of the epoch's starting RNG and the
 * step count, both saved in the checkpoint, so a resumed run draws the
 * same masks. It reads the RNG without advancing it: a spec without
 * dropout trains exactly as before. */
static uint64_t dropout_seed(const RnnrtTrainState *ts)
{
    const uint64_t golden = UINT64_C(0x9e3779b97f4a7c15);
    uint64_t z = ts->epoch_rng.s[0] ^ rnnrt_mix64(ts->epoch_rng.s[1]);
    return rnnrt_mix64(z + golden * (uint64_t)(ts->step + 1));
}

/* One minibatch's forward and backward. */
static void lm_step(void *task, RnnrtTrainState *ts, double *loss,
                    int64_t *tokens)
{
    Trainer *tr = task;
    RnnrtBuffers *b = &tr->buf;
    RnnrtCtx *c = &b->ctx;
    c->T = rnnrt_batcher_get(&tr->batcher, (size_t)ts->batch, b->x, b->y);
    if (tr->sampler == RNNRT_SAMPLER_RANDOM)
        memset(b->state_in, 0, (size_t)b->B * (size_t)b->S * sizeof(real));
    fill_carry(tr, c->T);
    c->dstate_in = NULL;
    c->train = 1;
    c->dropout_seed = dropout_seed(ts);
    rnnrt_model_run(tr->m, b, 1);
    *loss = c->loss; /* over MPI ranks, this rank's rows' part */
    int row0, rows = b->B;
    if (rnnrt_buffers_ranks(b) > 1)
        rnnrt_mpi_rows(b->B, &row0, &rows);
    *tokens = (int64_t)c->T * rows;
}

/* Over MPI ranks, before a save: every rank's rows of the carried state. */
static void lm_share(void *task)
{
    Trainer *tr = task;
    rnnrt_buffers_share_state(&tr->buf, tr->buf.state_in);
}

/* After an applied step: carry the state to the next minibatch. */
static void lm_after_step(void *task)
{
    Trainer *tr = task;
    RnnrtBuffers *b = &tr->buf;
    memcpy(b->state_in, b->state_out,
           (size_t)b->B * (size_t)b->S * sizeof(real));
}

static const char *lm_param_name(void *task, size_t k, size_t *index)
{
    Trainer *tr = task;
    return rnnrt_params_owner(&tr->p, tr->m, k, index);
}

static size_t lm_nbatches(void *task)
{
    return ((Trainer *)task)->batcher.nbatches;
}

static int evaluate(Trainer *tr, double *ppl)
{
    const RnnrtCorpus *c = &tr->corpus;
    return rnnrt_evaluate(tr->m, &tr->buf, c->ids + c->ntrain,
                          c->n - c->ntrain, ppl, NULL);
}

/* The validation loss: ln of the perplexity rnnrt_evaluate gives. */
static int lm_validate(void *task, double *loss, RnnrtError *err)
{
    Trainer *tr = task;
    (void)err;
    int rc = evaluate(tr, &tr->val_ppl);
    *loss = log(tr->val_ppl);
    tr->d.val_name = "val_ppl"; /* for --metrics */
    tr->d.val_metric = tr->val_ppl;
    return rc;
}

/* After the last minibatch of an epoch: the line of a validated one (with
 * a schedule or warm-up, the lr the epoch trained with). */
static int lm_end_epoch(void *task, const RnnrtTrainState *ts,
                        double avg_loss, RnnrtError *err)
{
    Trainer *tr = task;
    (void)avg_loss;
    (void)err;
    if (!isnan(tr->d.val_loss)) {
        fprintf(tr->o->out, "epoch %lld train_loss %.4f val_ppl %.4f",
                (long long)ts->epoch + 1, tr->d.last_loss, tr->val_ppl);
        if (tr->o->sched.kind != RNNRT_SCHED_CONSTANT || tr->o->sched.warmup)
            fprintf(tr->o->out, " lr %.6g", ts->lr);
        fputc('\n', tr->o->out);
        fflush(tr->o->out);
    }
    memset(tr->buf.state_in, 0, /* evaluate used the buffers */
           (size_t)tr->buf.B * (size_t)tr->buf.S * sizeof(real));
    return 0;
}

static void lm_start_epoch(void *task, RnnrtTrainState *ts)
{
    Trainer *tr = task;
    if (ts->batch == 0) {
        memset(tr->buf.state_in, 0,
               (size_t)tr->buf.B * (size_t)tr->buf.S * sizeof(real));
        ts->epoch_rng = ts->rng;
        rnnrt_batcher_epoch(&tr->batcher, &ts->rng);
    } else { /* resumed mid-epoch: replay the epoch's draws */
        RnnrtRng r = ts->epoch_rng;
        rnnrt_batcher_epoch(&tr->batcher, &r);
    }
}

static const RnnrtTaskOps lm_ops = {
    .nbatches = lm_nbatches,
    .start_epoch = lm_start_epoch,
    .step = lm_step,
    .after_step = lm_after_step,
    .validate = lm_validate,
    .end_epoch = lm_end_epoch,
    .save = save,
    .param_name = lm_param_name,
    .share = lm_share,
};

/* The final scores are the best checkpoint's when this run's line kept
 * one and it is better than the last parameters (its best validation loss
 * is the one the run ends with, so a stale
 * file of an earlier run is not taken): its parameters replace the last
 * ones in memory, after the last checkpoint was saved. Over MPI ranks all
 * take it or none does. Returns 1 when they did. */
static int use_best(Trainer *tr)
{
    char best[RNNRT_PATH_MAX];
    struct stat st;
    if (!isfinite(tr->ts.sched.val_best) ||
        rnnrt_best_path(tr->ckpt, best, sizeof best) || stat(best, &st) != 0)
        return 0;
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    RnnrtError e = {0};
    int loaded = rnnrt_ckpt_load(best, tr->m, &v, &p, &ts, &e) == 0;
    int ok = loaded;
    if (ok) {
        ok = p.total == tr->p.total && v.size == tr->corpus.vocab.size &&
             ts.sched.val_best == tr->ts.sched.val_best;
        if (!ok)
            snprintf(e.msg, sizeof e.msg, "it is not this run's");
    }
    int bad = !ok;
    if (rnnrt_buffers_ranks(&tr->buf) > 1)
        rnnrt_mpi_max(&bad, 1);
    if (!bad)
        memcpy(tr->p.params, p.params, p.total * sizeof(real));
    else if (!tr->o->quiet)
        fprintf(stderr, "%s: warning: the final scores are the last "
                        "parameters', not the best checkpoint '%s''s: %s\n",
                tr->m->name, best, ok ? "another MPI rank cannot read it"
                                      : e.msg);
    if (loaded) {
        rnnrt_vocab_free(&v);
        rnnrt_params_free(&p);
        rnnrt_train_state_free(&ts);
    }
    if (!bad && !tr->o->quiet)
        fprintf(stderr, "%s: final scores from the best checkpoint '%s' "
                        "(epoch %lld)\n", tr->m->name, best,
                (long long)tr->ts.sched.val_best_epoch);
    return !bad;
}

static int finish(Trainer *tr, RnnrtError *err)
{
    double dt = rnnrt_now() - tr->d.t0;
    int rc = rnnrt_driver_finish(&tr->d, err);
    double ppl = NAN, test_ppl = NAN;
    /* the last parameters' validation perplexity: the run's last
     * validation when it was of these parameters, else evaluated now */
    if (!rc && tr->d.val_step == tr->ts.step && !isnan(tr->d.val_loss))
        ppl = tr->val_ppl;
    else if (!rc)
        rc = evaluate(tr, &ppl);
    /* a run that stopped after its last validation (a budget, mid-epoch)
     * may end better than its best checkpoint: that one is used only when
     * it is better than the last parameters, and its perplexity is its
     * validation loss's, computed by the same evaluation when it was kept */
    if (!rc && tr->ts.sched.val_best < log(ppl) && use_best(tr))
        ppl = exp(tr->ts.sched.val_best);
    const RnnrtCorpus *c = &tr->corpus;
    if (!rc && c->test)
        rc = rnnrt_evaluate(tr->m, &tr->buf, c->test, c->ntest, &test_ppl,
                            NULL);
    if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
        fprintf(stderr, "%s: interrupted during the final evaluation; the "
                        "checkpoint '%s' is saved\n", tr->m->name, tr->ckpt);
    if (rc)
        return rc;
    RnnrtTrainResult *res = tr->res;
    res->val_ppl = ppl;
    res->tok_s = dt > 0 ? (double)tr->d.run_tokens / dt : 0;
    if (c->test)
        fprintf(tr->o->out, "test_ppl %.4f tokens %zu test_unk %zu\n",
                test_ppl, c->ntest, c->unk_test);
    fprintf(tr->o->out, "RESULT model=%s epochs=%lld V=%d val_ppl=%.4f "
                        "train_tok_s=%.0f val_unk=%zu", tr->m->name,
            (long long)tr->ts.epoch, tr->corpus.vocab.size, ppl, res->tok_s,
            tr->corpus.unk_valid);
    if (c->test)
        fprintf(tr->o->out, " test_ppl=%.4f test_unk=%zu", test_ppl,
                c->unk_test);
    fputc('\n', tr->o->out);
    if (tr->o->sample_len == 0)
        return 0;
    RnnrtSampleOpts so = {tr->o->sample_len, 1.0, 0};
    RnnrtRng r = tr->ts.rng;
    RnnrtError serr = {0};
    fprintf(tr->o->out, "sample: ");
    rc = rnnrt_sample(tr->m, &tr->p, &tr->corpus.vocab, tr->o->prefix, &so,
                      &r, tr->o->out, &serr);
    if (serr.code) {
        fprintf(tr->o->out, "(none)\n");
        fprintf(stderr, "%s: warning: no sample: %s\n", tr->m->name,
                serr.msg);
        return 0;
    }
    return rc;
}

static void cleanup(Trainer *tr)
{
    rnnrt_signal_restore();
    if (tr->ftz)
        rnnrt_fpu_flush_denormals(0);
    rnnrt_batcher_free(&tr->batcher);
    rnnrt_buffers_free(&tr->buf);
    rnnrt_params_free(&tr->p);
    rnnrt_corpus_free(&tr->corpus);
    rnnrt_train_state_free(&tr->ts);
    if (tr->devnull)
        fclose(tr->devnull);
}

int rnnrt_train(const RnnrtModel *m, const RnnrtTrainOpts *o,
                RnnrtTrainResult *res, RnnrtError *err)
{
    Trainer tr;
    RnnrtTrainResult dummy;
    memset(&tr, 0, sizeof tr);
    tr.m = m;
    tr.run = *o;
    tr.o = &tr.run;
    tr.res = res ? res : &dummy;
    memset(tr.res, 0, sizeof *tr.res);
    err->code = 0;
    if (!o->keep_denormals)
        tr.ftz = rnnrt_fpu_flush_denormals(1);
    int rc = rnnrt_mpi_start(err);
    if (!rc && rnnrt_mpi_rank() != 0) { /* rank 0 alone prints */
        tr.run.quiet = 1;
        tr.run.sample_len = 0;
        tr.run.out = tr.devnull = fopen("/dev/null", "w");
        if (!tr.devnull)
            rc = rnnrt_error(err, RNNRT_EXIT_IO, "cannot open /dev/null");
    }
    if (!rc)
        rc = setup(&tr, err);
    if (!rc) {
        RnnrtDriver *d = &tr.d;
        rnnrt_driver_init(d, &lm_ops, &tr, &tr.ts, tr.p.params, tr.p.grads,
                          tr.p.total);
        d->o = (RnnrtDriverOpts){
            .name = m->name, .ckpt = tr.ckpt, .epochs = o->epochs,
            .max_steps = o->max_steps, .max_seconds = o->max_seconds,
            .save_every = o->save_every, .clip = tr.run.clip,
            .max_loss_ratio = tr.run.max_loss_ratio,
            .vocab = tr.corpus.vocab.size, .quiet = tr.run.quiet,
            .sched = tr.run.sched, .weight_decay = tr.run.weight_decay,
            .eval_every = tr.run.eval_every, .early_stop = tr.run.early_stop,
            .ranks = rnnrt_buffers_ranks(&tr.buf), .metrics = o->metrics,
            .metrics_every = o->metrics_every};
        rc = rnnrt_driver_run(d, err);
        tr.res->first_loss = d->first_loss;
        tr.res->last_loss = d->last_loss;
        tr.res->steps = d->run_steps;
        tr.res->skipped = d->skipped;
        if (!rc)
            rc = finish(&tr, err);
        if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
            err->code = 0; /* not an error: saved and stopped */
    }
    cleanup(&tr);
    return rc;
}
