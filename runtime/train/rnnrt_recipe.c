/*
 * rnnrt_recipe.c: the one table of the training recipe's options.
 *
 * Every trainer (language model, labelling, classification, seq2seq)
 * takes the recipe's options (--lr, --clip, --seed, --max-loss-ratio,
 * --bptt*, --lr-*, --warmup-steps, --weight-decay, --eval-every,
 * --early-stop and the optimizer's hyperparameters) from this table,
 * keyed by RNNRT_RECIPE_*: the command-line entry and its --help line, the
 * default (the spec's train.* value, else the table's), which of them the
 * command line gave, the values a fresh run records in its checkpoint and,
 * on --resume, which ones replace the checkpoint's with a note (APPLY)
 * and which are refused (REFUSE, exit 2: rnnrt_resume_opts).
 */
#include "rnnrt.h"

#include <float.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>

static const char *const bptt_names[] = {"full", "truncated", "randomized"};

#define OPT(f) offsetof(RnnrtTrainOpts, f)
#define SPEC(t, f) RNNRT_OPT_##t, offsetof(RnnrtRecipe, f)
#define NO_SPEC RNNRT_OPT_FLAG, 0
#define APPLY RNNRT_RESUME_APPLY, NULL, NULL, 0

static const char refuse_seed[] = "the random state continues from the "
                                  "checkpoint";
static const char refuse_optim[] = "the optimizer's moments were built with "
                                   "it";

const RnnrtRecipeOpt rnnrt_recipe_opts[RNNRT_RECIPE_OPTS] = {
    [RNNRT_RECIPE_SEED] = {"--seed", RNNRT_OPT_U64, OPT(seed), "N",
        "random seed", 0, 0, SPEC(U64, seed), 0, RNNRT_RESUME_REFUSE,
        refuse_seed, NULL, 0},
    [RNNRT_RECIPE_CLIP] = {"--clip", RNNRT_OPT_DOUBLE, OPT(clip), "X",
        "global gradient-norm clip, 0 = off", 0, DBL_MAX,
        SPEC(DOUBLE, clip_norm), 0, APPLY},
    [RNNRT_RECIPE_LOSS_RATIO] = {"--max-loss-ratio", RNNRT_OPT_DOUBLE,
        OPT(max_loss_ratio), "X", "stop (exit 4) when a step's loss exceeds "
        "X times the run's first loss, 0 = off", 0, DBL_MAX, NO_SPEC, 3,
        APPLY},
    [RNNRT_RECIPE_BPTT] = {"--bptt", RNNRT_OPT_STR, OPT(bptt), "S",
        "full | truncated | randomized", 0, 0, SPEC(STR, bptt), 1,
        RNNRT_RESUME_APPLY, NULL, bptt_names, OPT(bptt_kind)},
    [RNNRT_RECIPE_BPTT_K] = {"--bptt-k", RNNRT_OPT_INT, OPT(bptt_k), "N",
        "truncated: cut the gradient every N steps, 0 = at minibatch edges "
        "only", 0, INT_MAX, SPEC(INT, bptt_k), 0, APPLY},
    [RNNRT_RECIPE_BPTT_P] = {"--bptt-p", RNNRT_OPT_DOUBLE, OPT(bptt_p), "X",
        "randomized: probability of continuing", 0, 1, SPEC(DOUBLE, bptt_p),
        0, APPLY},
    [RNNRT_RECIPE_SCHED] = {"--lr-schedule", RNNRT_OPT_STR, OPT(lr_schedule),
        "S", "constant | step | plateau | cosine (torch's StepLR, "
        "ReduceLROnPlateau on the validation loss, CosineAnnealingLR over "
        "--epochs)", 0, 0, SPEC(STR, lr_schedule), RNNRT_SCHED_CONSTANT,
        RNNRT_RESUME_APPLY, NULL, rnnrt_sched_names, OPT(sched.kind)},
    [RNNRT_RECIPE_LR_STEP] = {"--lr-step", RNNRT_OPT_I64,
        OPT(sched.step_size), "N", "step: decay every N epochs", 1, 1e9,
        SPEC(INT, lr_step), 1, APPLY},
    [RNNRT_RECIPE_LR_FACTOR] = {"--lr-factor", RNNRT_OPT_DOUBLE,
        OPT(sched.factor), "X", "step and plateau: multiply the lr by X in "
        "(0, 1)", 0, 1, SPEC(DOUBLE, lr_factor), 0.1, APPLY},
    [RNNRT_RECIPE_LR_PATIENCE] = {"--lr-patience", RNNRT_OPT_I64,
        OPT(sched.patience), "N", "plateau: cut the lr after more than N "
        "evaluations without a 1e-4 relative improvement", 1, 1e9,
        SPEC(INT, lr_patience), 10, APPLY},
    [RNNRT_RECIPE_LR_MIN] = {"--lr-min", RNNRT_OPT_DOUBLE, OPT(sched.min_lr),
        "X", "plateau: lowest lr; cosine: eta_min", 0, 1e300,
        SPEC(DOUBLE, lr_min), 0, APPLY},
    [RNNRT_RECIPE_WARMUP] = {"--warmup-steps", RNNRT_OPT_I64,
        OPT(sched.warmup), "N", "linear warm-up: step s uses lr * min(1, "
        "(s+1)/N); 0 = none", 0, 1e15, SPEC(INT, warmup_steps), 0, APPLY},
    [RNNRT_RECIPE_WEIGHT_DECAY] = {"--weight-decay", RNNRT_OPT_DOUBLE,
        OPT(weight_decay), "X", "L2 for sgd and momentum, decoupled (AdamW) "
        "for adam; 0 = none", 0, 1e300, SPEC(DOUBLE, weight_decay), 0,
        APPLY},
    [RNNRT_RECIPE_EVAL_EVERY] = {"--eval-every", RNNRT_OPT_I64,
        OPT(eval_every), "N", "validate every N epochs and after the last",
        1, 1e9, NO_SPEC, 1, APPLY},
    [RNNRT_RECIPE_EARLY_STOP] = {"--early-stop", RNNRT_OPT_I64,
        OPT(early_stop), "N", "stop (exit 0) after N evaluations without a "
        "better validation loss; the best checkpoint is always kept in "
        "--ckpt's path + .best; 0 = never", 0, 1e9, NO_SPEC, 0, APPLY},
    [RNNRT_RECIPE_LR] = {"--lr", RNNRT_OPT_DOUBLE, OPT(lr), "X",
        "learning rate", DBL_MIN, DBL_MAX, SPEC(DOUBLE, lr), 0, APPLY},
    [RNNRT_RECIPE_MOMENTUM] = {"--momentum", RNNRT_OPT_DOUBLE, OPT(momentum),
        "X", "momentum: its factor, 0 = 0.9", 0, 1, SPEC(DOUBLE, momentum), 0,
        RNNRT_RESUME_REFUSE, refuse_optim, NULL, 0},
    [RNNRT_RECIPE_BETA1] = {"--beta1", RNNRT_OPT_DOUBLE, OPT(beta1), "X",
        "adam: beta1, 0 = 0.9", 0, 1, SPEC(DOUBLE, beta1), 0,
        RNNRT_RESUME_REFUSE, refuse_optim, NULL, 0},
    [RNNRT_RECIPE_BETA2] = {"--beta2", RNNRT_OPT_DOUBLE, OPT(beta2), "X",
        "adam: beta2, 0 = 0.999", 0, 1, SPEC(DOUBLE, beta2), 0,
        RNNRT_RESUME_REFUSE, refuse_optim, NULL, 0},
    [RNNRT_RECIPE_EPS] = {"--eps", RNNRT_OPT_DOUBLE, OPT(eps), "X",
        "adam: eps, 0 = 1e-8", 0, 1, SPEC(DOUBLE, eps), 0,
        RNNRT_RESUME_REFUSE, refuse_optim, NULL, 0},
};

RnnrtOpt rnnrt_recipe_opt(int key, void *dst)
{
    const RnnrtRecipeOpt *e = &rnnrt_recipe_opts[key];
    return (RnnrtOpt){e->name, e->type, dst, e->arg, e->help, e->min,
                      e->max};
}

RnnrtOpt rnnrt_recipe_train_opt(int key, RnnrtTrainOpts *o)
{
    return rnnrt_recipe_opt(key, (char *)o + rnnrt_recipe_opts[key].off);
}

void rnnrt_recipe_given(const RnnrtOpt *opts, const unsigned char *cli_given,
                        unsigned char given[RNNRT_RECIPE_OPTS])
{
    for (int k = 0; k < RNNRT_RECIPE_OPTS; k++)
        given[k] = (unsigned char)rnnrt_cli_given(opts, cli_given,
                                                  rnnrt_recipe_opts[k].name);
}

static int recipe_key(const char *name)
{
    for (int k = 0; k < RNNRT_RECIPE_OPTS; k++)
        if (!strcmp(rnnrt_recipe_opts[k].name, name))
            return k;
    return -1;
}

/* Appends opts' recipe options of one policy to buf as "A, B and C";
 * returns how many. */
static int list_names(char *buf, size_t n, const RnnrtOpt *opts,
                      RnnrtResumePolicy policy)
{
    int count = 0, total = 0;
    for (const RnnrtOpt *o = opts; o->name; o++) {
        int k = recipe_key(o->name);
        total += k >= 0 && rnnrt_recipe_opts[k].policy == policy;
    }
    for (const RnnrtOpt *o = opts; o->name; o++) {
        int k = recipe_key(o->name);
        if (k < 0 || rnnrt_recipe_opts[k].policy != policy)
            continue;
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s", count == 0 ? ""
                 : count == total - 1 ? " and " : ", ", o->name);
        count++;
    }
    return count;
}

const char *rnnrt_recipe_resume_help(char *buf, size_t n, const char *lead,
                                     const RnnrtOpt *opts)
{
    snprintf(buf, n, "%s; ", lead);
    if (list_names(buf, n, opts, RNNRT_RESUME_APPLY)) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, " given here replace the checkpoint's, "
                 "with a note; ");
    }
    if (list_names(buf, n, opts, RNNRT_RESUME_REFUSE)) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, " must be the checkpoint's");
    }
    size_t len = strlen(buf);
    while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == ';'))
        buf[--len] = 0;
    return buf;
}

static double get(const void *base, RnnrtOptType t, size_t off)
{
    const char *p = (const char *)base + off;
    switch (t) {
    case RNNRT_OPT_INT:
    case RNNRT_OPT_FLAG:
        return *(const int *)p;
    case RNNRT_OPT_I64:
        return (double)*(const int64_t *)p;
    case RNNRT_OPT_U64:
        return (double)*(const uint64_t *)p;
    case RNNRT_OPT_DOUBLE:
        return *(const double *)p;
    case RNNRT_OPT_STR:
        break;
    }
    return 0;
}

static void set(void *base, RnnrtOptType t, size_t off, double v)
{
    char *p = (char *)base + off;
    switch (t) {
    case RNNRT_OPT_INT:
    case RNNRT_OPT_FLAG:
        *(int *)p = (int)v;
        break;
    case RNNRT_OPT_I64:
        *(int64_t *)p = (int64_t)v;
        break;
    case RNNRT_OPT_U64:
        *(uint64_t *)p = (uint64_t)v;
        break;
    case RNNRT_OPT_DOUBLE:
        *(double *)p = v;
        break;
    case RNNRT_OPT_STR:
        break;
    }
}

void rnnrt_recipe_defaults(RnnrtTrainOpts *o, const RnnrtRecipe *r)
{
    for (int k = 0; k < RNNRT_RECIPE_OPTS; k++) {
        const RnnrtRecipeOpt *e = &rnnrt_recipe_opts[k];
        int spec = e->spec_type != RNNRT_OPT_FLAG;
        if (e->type == RNNRT_OPT_STR) {
            const char *s = spec ? *(const char *const *)((const char *)r +
                                                          e->spec_off)
                                 : NULL;
            *(const char **)((char *)o + e->off) =
                s ? s : e->names[(int)e->dflt];
            continue;
        }
        double v = spec ? get(r, e->spec_type, e->spec_off) : 0;
        if (e->type == RNNRT_OPT_U64) /* a seed: exactly, and 0 is one */
            *(uint64_t *)((char *)o + e->off) =
                spec ? *(const uint64_t *)((const char *)r + e->spec_off)
                     : (uint64_t)e->dflt;
        else
            set(o, e->type, e->off, v > 0 ? v : e->dflt);
    }
}

void rnnrt_recipe_values(const RnnrtTrainOpts *o, double v[RNNRT_RECIPE_OPTS])
{
    for (int k = 0; k < RNNRT_RECIPE_OPTS; k++) {
        const RnnrtRecipeOpt *e = &rnnrt_recipe_opts[k];
        v[k] = e->type == RNNRT_OPT_STR ? get(o, RNNRT_OPT_INT, e->kind_off)
                                        : get(o, e->type, e->off);
    }
}

void rnnrt_recipe_apply(RnnrtTrainOpts *o, const double *recipe)
{
    for (int k = 0; k < RNNRT_RECIPE_N; k++) {
        const RnnrtRecipeOpt *e = &rnnrt_recipe_opts[k];
        if (e->policy != RNNRT_RESUME_APPLY)
            continue;
        if (e->type == RNNRT_OPT_STR)
            set(o, RNNRT_OPT_INT, e->kind_off, recipe[k]);
        else
            set(o, e->type, e->off, recipe[k]);
    }
}

int rnnrt_recipe_resume(const unsigned char *given, const double *value,
                        double *const *have, const char *prog,
                        const char *ckpt, int64_t step, RnnrtError *err)
{
    RnnrtResumeOpt list[RNNRT_RECIPE_OPTS];
    int n = 0;
    /* --seed, --lr, then key order: the order of the notes */
    for (int i = -2; i < RNNRT_RECIPE_OPTS; i++) {
        int k = i == -2 ? RNNRT_RECIPE_SEED : i == -1 ? RNNRT_RECIPE_LR : i;
        const RnnrtRecipeOpt *e = &rnnrt_recipe_opts[k];
        if (have[k] && (i < 0 || (k != RNNRT_RECIPE_SEED &&
                                  k != RNNRT_RECIPE_LR)))
            list[n++] = (RnnrtResumeOpt){e->name, given[k], value[k], have[k],
                                         e->policy, e->why, e->names};
    }
    return rnnrt_resume_opts(list, n, prog, ckpt, step, err);
}
