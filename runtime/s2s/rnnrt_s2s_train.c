/*
 * rnnrt_s2s_train.c: the seq2seq trainer's train command, on the one
 * training driver.
 */
#include "rnnrt_s2s_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- training ----
 * The training loop is the driver's (runtime/train/rnnrt_driver.c: the
 * cursor, signals, budgets, non-finite steps, the divergence guard,
 * clipping, saves); this task supplies the pairs, their batches, the
 * model's forward and backward, the epoch line and the checkpoint. Every
 * epoch reshuffles the training pairs with the run's RNG; signals are
 * also polled between decoding chunks of the final evaluation. --resume continues exactly, also in
 * the middle of an epoch (the epoch's shuffle is replayed from the RNG
 * saved at its start); the learning rate and RNG come from the
 * checkpoint. --epochs counts all epochs, --max-steps and --max-seconds
 * this run only. */
typedef struct {
    const RnnrtS2sModel *m;
    const TrainOpts *o;
    RnnrtPairs pairs;
    S2sParams p;
    S2sProgress pr; /* pr.ts: cursor, counts, lr, RNGs, optimizer */
    S2sStep st;
    RnnrtS2sSplit *split; /* --threads workers, or NULL */
    RnnrtS2sBatcher bt;
    RnnrtS2sBatch mb;
    RnnrtDriver d;
    int have_pairs, have_params, have_loop;
} Trainer;

/* The data a run trains on: the file's bytes and how many pairs were read
 * (--max-pairs). */
static uint64_t pairs_hash(const RnnrtPairs *pairs)
{
    uint64_t n = pairs->n;
    return rnnrt_fnv1a(pairs->hash, &n, sizeof n);
}

static int new_optim(Trainer *tr, RnnrtError *err)
{
    const RnnrtRecipe *r = &tr->m->recipe;
    RnnrtOptim *o = rnnrt_xcalloc(1, sizeof *o, "optimizer");
    tr->pr.ts.optim = o;
    return rnnrt_optim_init(o, r->optimizer, r->momentum, r->beta1, r->beta2, r->eps, tr->p.b.total, err);
}

static int setup_fresh(Trainer *tr, const char *path, RnnrtError *err)
{
    const TrainOpts *o = tr->o;
    RnnrtPairsOpts po;
    rnnrt_s2s_pairs_opts(tr->m, o->max_pairs, &po);
    int rc = rnnrt_s2s_check_overwrite(tr->o->ckpt, tr->m, o->force, err);
    if (!rc)
        rc = rnnrt_pairs_load(&tr->pairs, path, &po, NULL, NULL, err);
    if (rc)
        return rc;
    tr->have_pairs = 1;
    RnnrtTrainState *ts = &tr->pr.ts;
    rnnrt_rng_init(&ts->rng, o->seed);
    rc = rnnrt_s2s_params_init(&tr->p, tr->m, tr->pairs.src_vocab.size, tr->pairs.tgt_vocab.size, &ts->rng, err);
    if (rc)
        return rc;
    tr->have_params = 1;
    ts->lr = o->lr;
    rnnrt_sched_start(&ts->sched, ts->lr);
    ts->B = o->batch;
    ts->T = tr->pairs.T;
    ts->sampler = RNNRT_SAMPLER_RANDOM;
    ts->corpus_hash = pairs_hash(&tr->pairs);
    ts->epoch_rng = ts->rng;
    for (int i = 0; i < RNNRT_RECIPE_N; i++)
        ts->recipe[i] = NAN; /* the LM's --bptt*: not a seq2seq option */
    ts->recipe[RNNRT_RECIPE_SEED] = (double)o->seed;
    ts->recipe[RNNRT_RECIPE_CLIP] = tr->m->recipe.clip_norm;
    ts->recipe[RNNRT_RECIPE_LOSS_RATIO] = o->max_loss_ratio;
    tr->pr.ntrain = tr->pairs.ntrain;
    return new_optim(tr, err);
}

static int setup_resume(Trainer *tr, const char *path, RnnrtError *err)
{
    const TrainOpts *o = tr->o;
    RnnrtVocab sv, tv;
    RnnrtTrainState *ts = &tr->pr.ts;
    int rc = rnnrt_s2s_ckpt_read(o->ckpt, tr->m, &tr->p, &sv, &tv, &tr->pr, err);
    tr->have_params = !rc;
    const char *want = tr->m->recipe.optimizer ? tr->m->recipe.optimizer : "sgd";
    const char *have = ts->optim ? rnnrt_optim_name(ts->optim->kind) : "sgd";
    if (!rc && strcmp(want, have))
        rc = rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' was trained with optimizer %s, but %s uses %s", o->ckpt, have,
                         tr->m->spec_path, want);
    if (!rc && !ts->optim)
        rc = new_optim(tr, err);
    if (!rc) { /* this command line's recipe options against the checkpoint's */
        double *r = ts->recipe;
        double now[RNNRT_RECIPE_OPTS] = {[RNNRT_RECIPE_SEED] = (double)o->seed, [RNNRT_RECIPE_LR] = o->lr,
                                         [RNNRT_RECIPE_LOSS_RATIO] = o->max_loss_ratio};
        double *have[RNNRT_RECIPE_OPTS] = {[RNNRT_RECIPE_SEED] = &r[RNNRT_RECIPE_SEED],
                                           [RNNRT_RECIPE_LR] = &ts->sched.base_lr,
                                           [RNNRT_RECIPE_LOSS_RATIO] = &r[RNNRT_RECIPE_LOSS_RATIO]};
        double base = ts->sched.base_lr;
        rc = rnnrt_recipe_resume(o->given, now, have, tr->m->name, o->ckpt, ts->step, err);
        if (ts->sched.base_lr != base) /* the schedule goes on from the new lr */
            ts->lr = ts->sched.base_lr;
    }
    RnnrtPairsOpts po;
    rnnrt_s2s_pairs_opts(tr->m, o->max_pairs, &po);
    if (!rc)
        rc = rnnrt_pairs_load(&tr->pairs, path, &po, &sv, &tv, err);
    tr->have_pairs = !rc;
    rnnrt_vocab_free(&sv);
    rnnrt_vocab_free(&tv);
    if (rc)
        return rc;
    if (ts->corpus_hash != pairs_hash(&tr->pairs) && !o->force)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "the pairs differ from the ones '%s' was trained on (another file "
                           "or --max-pairs); pass --force to continue on these", o->ckpt);
    int same = ts->B == o->batch && tr->pr.ntrain == tr->pairs.ntrain && ts->T == tr->pairs.T;
    if (!same && ts->batch > 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' stopped in the middle of an epoch with --batch %d and %llu "
                           "training pairs; resume with the same", o->ckpt, ts->B, (unsigned long long)tr->pr.ntrain);
    ts->B = o->batch;
    ts->T = tr->pairs.T;
    ts->corpus_hash = pairs_hash(&tr->pairs);
    tr->pr.ntrain = tr->pairs.ntrain;
    if (!o->quiet)
        fprintf(stderr, "%s: resuming '%s' at epoch %lld, minibatch %lld (step %lld)\n", tr->m->name, o->ckpt,
                (long long)ts->epoch + 1, (long long)ts->batch, (long long)ts->step);
    return 0;
}

static int setup(Trainer *tr, const char *path, RnnrtError *err)
{
    const TrainOpts *o = tr->o;
    int rc = rnnrt_ckpt_probe(o->ckpt, err);
    if (!rc)
        rc = rnnrt_file_remove_stale(o->ckpt, err);
    if (!rc)
        rc = o->resume ? setup_resume(tr, path, err) : setup_fresh(tr, path, err);
    if (rc)
        return rc;
    printf("%s: %zu pairs (%zu train), vocabularies %d / %d, num_steps %d, %zu parameters\n", tr->m->name,
           tr->pairs.n, tr->pairs.ntrain, tr->p.V, tr->p.Vt, tr->pairs.T, tr->p.b.total);
    if (tr->pairs.ntrain == 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' has no training pairs", path);
    rc = rnnrt_s2s_step_init(&tr->st, &tr->p, o->batch, tr->pairs.T, err);
    if (rc)
        return rc;
    rnnrt_s2s_batcher_init(&tr->bt, &tr->pairs, 0, tr->pairs.ntrain, o->batch, 1, 0);
    rnnrt_s2s_batch_init(&tr->mb, o->batch, tr->pairs.T);
    tr->have_loop = 1;
    rc = rnnrt_s2s_split_new(&tr->split, tr->m, o->threads, o->batch, tr->pairs.T, tr->p.V, tr->p.Vt, tr->p.b.total,
                             tr->st.work, err);
    return rc;
}

/* ---- the seq2seq task's part of the driver (RnnrtTaskOps) ---- */

static size_t s2s_nbatches(void *task)
{
    return ((Trainer *)task)->bt.nbatches;
}

static void s2s_start_epoch(void *task, RnnrtTrainState *ts)
{
    Trainer *tr = task;
    if (ts->batch == 0) {
        ts->epoch_rng = ts->rng;
        rnnrt_s2s_batcher_epoch(&tr->bt, &ts->rng);
    } else { /* resumed mid-epoch: replay the epoch's shuffle */
        RnnrtRng r = ts->epoch_rng;
        rnnrt_s2s_batcher_epoch(&tr->bt, &r);
    }
}

/* Forward and backward of one minibatch (the split cannot stop between
 * them; unsplit, a non-finite loss skips the backward). */
static void s2s_step(void *task, RnnrtTrainState *ts, double *loss, int64_t *tokens)
{
    Trainer *tr = task;
    rnnrt_s2s_batcher_get(&tr->bt, (size_t)ts->batch, &tr->mb);
    RnnrtS2sCtx c = tr->st.c;
    c.src = tr->mb.src;
    c.dec_in = tr->mb.dec_in;
    c.label = tr->mb.label;
    c.src_len = tr->mb.src_valid;
    c.tgt_len = tr->mb.tgt_valid;
    if (tr->split) {
        rnnrt_s2s_run(tr->m, tr->split, &c, 1);
    } else {
        tr->m->forward(&c);
        if (isfinite(c.loss))
            tr->m->backward(&c);
    }
    *loss = c.loss; /* over MPI ranks, this rank's rows' part */
    /* The minibatch's tokens, counted once over MPI ranks (the driver
     * sums every rank's): every rank has the whole minibatch. */
    *tokens = rnnrt_mpi_rank() == 0 ? tr->mb.ntokens : 0;
}

/* The epoch's line; with a schedule or warm-up, the lr it trained with. */
static int s2s_end_epoch(void *task, const RnnrtTrainState *ts, double avg_loss, RnnrtError *err)
{
    const RnnrtSchedOpts *so = &((Trainer *)task)->d.o.sched;
    (void)err;
    printf("epoch %lld loss %.4f", (long long)ts->epoch + 1, avg_loss);
    if (so->kind != RNNRT_SCHED_CONSTANT || so->warmup)
        printf(" lr %.6g", ts->lr);
    printf("\n");
    fflush(stdout);
    return 0;
}

/* The checkpoint holds the epoch's loss sums, so a resumed epoch's mean
 * covers all of it. */
static int s2s_save(void *task, RnnrtError *err)
{
    Trainer *tr = task;
    tr->pr.epoch_loss = tr->d.epoch_loss;
    tr->pr.epoch_ntok = tr->d.epoch_ntok;
    return rnnrt_s2s_ckpt_save(tr->o->ckpt, &tr->p, &tr->pairs, &tr->pr, err);
}

static const char *s2s_param_name(void *task, size_t k, size_t *index)
{
    const S2sParams *p = &((Trainer *)task)->p;
    return rnnrt_params_name(&p->b, p->m->params, k, index);
}

static const RnnrtTaskOps s2s_ops = {
    .nbatches = s2s_nbatches,
    .start_epoch = s2s_start_epoch,
    .step = s2s_step,
    .end_epoch = s2s_end_epoch,
    .save = s2s_save,
    .param_name = s2s_param_name,
};

/* Saves (unless just saved), then decodes the held-out pairs. */
static int finish(Trainer *tr, RnnrtError *err)
{
    double dt = rnnrt_now() - tr->d.t0;
    printf("train_tok_s %.0f\n", dt > 0 ? (double)tr->d.run_tokens / dt : 0.0);
    int rc = rnnrt_driver_finish(&tr->d, err);
    if (!rc)
        printf("saved %s\n", tr->o->ckpt);
    fflush(stdout);
    if (!rc)
        rc = rnnrt_s2s_report_eval(&tr->p, &tr->pairs, tr->o->beam, tr->o->eval_max, 0, err);
    if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
        fprintf(stderr, "%s: interrupted during the final evaluation; the checkpoint '%s' is saved\n", tr->m->name,
                tr->o->ckpt);
    return rc;
}

int rnnrt_s2s_train(const RnnrtS2sModel *m, const char *path, const TrainOpts *o, RnnrtError *err)
{
    Trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.m = m;
    tr.o = o;
    if (!(o->max_loss_ratio == 0 || o->max_loss_ratio >= 1))
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "--max-loss-ratio must be 0 (off) or a number >= 1");
    RnnrtSchedOpts sched;
    if (rnnrt_sched_opts_recipe(&sched, &m->recipe) || sched.kind == RNNRT_SCHED_PLATEAU)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "%s: train.lr_schedule '%s': the seq2seq trainer takes constant, "
                           "step or cosine (plateau needs a validation loss every epoch, which it does not compute)",
                           m->spec_path, m->recipe.lr_schedule);
    int rc = rnnrt_sched_check(&sched, err);
    if (!rc)
        rc = rnnrt_mpi_start(err);
    TrainOpts quiet;
    if (!rc && rnnrt_mpi_rank() != 0) { /* rank 0 alone prints (stdout too) */
        quiet = *o;
        quiet.quiet = 1;
        tr.o = o = &quiet;
        if (!freopen("/dev/null", "w", stdout))
            rc = rnnrt_error(err, RNNRT_EXIT_IO, "cannot open /dev/null");
    }
    if (!rc)
        rc = setup(&tr, path, err);
    if (!rc) {
        RnnrtDriver *d = &tr.d;
        rnnrt_driver_init(d, &s2s_ops, &tr, &tr.pr.ts, tr.p.b.params, tr.p.b.grads, tr.p.b.total);
        d->o = (RnnrtDriverOpts){
            .name = m->name, .ckpt = o->ckpt, .epochs = o->epochs, .max_steps = o->max_steps,
            .max_seconds = o->max_seconds, .save_every = o->save_every, .clip = m->recipe.clip_norm,
            .max_loss_ratio = tr.pr.ts.recipe[RNNRT_RECIPE_LOSS_RATIO], .vocab = tr.pairs.tgt_vocab.size, .quiet = o->quiet,
            .sched = sched, .weight_decay = m->recipe.weight_decay,
            .ranks = rnnrt_s2s_split_ranks(tr.split), .metrics = o->metrics, .metrics_every = o->metrics_every};
        if (o->resume) { /* the file holds this state and the epoch's sums */
            d->saved_step = tr.pr.ts.step;
            d->epoch_loss = tr.pr.epoch_loss;
            d->epoch_ntok = tr.pr.epoch_ntok;
        }
        rc = rnnrt_driver_run(d, err);
        if (!rc)
            rc = finish(&tr, err);
        rnnrt_signal_restore();
        if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
            err->code = 0; /* not an error: saved and stopped */
    }
    if (tr.have_loop) {
        rnnrt_s2s_split_free(tr.split);
        rnnrt_s2s_batch_free(&tr.mb);
        rnnrt_s2s_batcher_free(&tr.bt);
        rnnrt_s2s_step_free(&tr.st);
    }
    rnnrt_train_state_free(&tr.pr.ts);
    if (tr.have_params)
        rnnrt_s2s_params_free(&tr.p);
    if (tr.have_pairs)
        rnnrt_pairs_free(&tr.pairs);
    return rc;
}
