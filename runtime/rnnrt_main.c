/*
 * rnnrt_main.c: the command line of every generated trainer.
 *
 *   MODEL train | eval | sample | gradcheck | dump [options]
 *
 * Each command is a table of options (name, type, destination, help) whose
 * defaults come from the model's recipe; one parser serves them all, so
 * every option accepts "--opt VALUE" and "--opt=VALUE", numbers are parsed
 * strictly (the whole string, in range), and an unknown option prints the
 * message and the command's usage and exits 2. "--help" after a command
 * prints its options with their defaults. This file only parses and
 * dispatches; the work is in rnnrt_train.c, rnnrt_eval.c, rnnrt_sample.c
 * and rnnrt_check.c.
 */
#include "rnnrt.h"

#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    OPT_INT,
    OPT_I64,
    OPT_U64,
    OPT_DOUBLE,
    OPT_STR,
    OPT_FLAG
} OptType;

typedef struct {
    const char *name; /* "--epochs" */
    OptType type;
    void *dst;
    const char *arg;  /* "N" in the help */
    const char *help;
    double min, max;  /* for numbers */
} Opt;

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv, const RnnrtModel *m, const char *prog);
} Command;

enum { HELP_SHOWN = -1 };

static void print_default(FILE *f, const Opt *o)
{
    switch (o->type) {
    case OPT_INT:
        fprintf(f, " (default %d)", *(int *)o->dst);
        break;
    case OPT_I64:
        fprintf(f, " (default %lld)", (long long)*(int64_t *)o->dst);
        break;
    case OPT_U64:
        fprintf(f, " (default %llu)", (unsigned long long)*(uint64_t *)o->dst);
        break;
    case OPT_DOUBLE:
        fprintf(f, " (default %g)", *(double *)o->dst);
        break;
    case OPT_STR:
        if (*(const char **)o->dst)
            fprintf(f, " (default \"%s\")", *(const char **)o->dst);
        break;
    case OPT_FLAG:
        break;
    }
}

static void usage(FILE *f, const char *prog, const char *cmd,
                  const char *summary, const Opt *opts)
{
    fprintf(f, "usage: %s %s [options]\n\n%s\n\noptions:\n", prog, cmd,
            summary);
    for (const Opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(f, "  %-22s %s", left, o->help);
        print_default(f, o);
        fputc('\n', f);
    }
    fprintf(f, "  %-22s %s\n", "-h, --help", "this help");
}

static int bad_value(const char *prog, const char *cmd, const Opt *o,
                     const char *v)
{
    const char *what = o->type == OPT_DOUBLE ? "a number" : "an integer";
    fprintf(stderr, "%s %s: error: invalid value '%s' for %s: expected %s",
            prog, cmd, v, o->name, what);
    if (o->type == OPT_U64)
        fprintf(stderr, " >= 0\n");
    else if (o->min == DBL_MIN)
        fprintf(stderr, " > 0\n");
    else if (o->type == OPT_DOUBLE)
        fprintf(stderr, " in [%g, %g]\n", o->min, o->max);
    else
        fprintf(stderr, " in [%.0f, %.0f]\n", o->min, o->max);
    return RNNRT_EXIT_USAGE;
}

static int set_value(const char *prog, const char *cmd, const Opt *o,
                     const char *v)
{
    int64_t i;
    double d;
    switch (o->type) {
    case OPT_INT:
    case OPT_I64:
        if (rnnrt_parse_i64(v, (int64_t)o->min, (int64_t)o->max, &i))
            return bad_value(prog, cmd, o, v);
        if (o->type == OPT_INT)
            *(int *)o->dst = (int)i;
        else
            *(int64_t *)o->dst = i;
        return 0;
    case OPT_U64:
        if (rnnrt_parse_u64(v, (uint64_t *)o->dst))
            return bad_value(prog, cmd, o, v);
        return 0;
    case OPT_DOUBLE:
        if (rnnrt_parse_double(v, o->min, o->max, &d))
            return bad_value(prog, cmd, o, v);
        *(double *)o->dst = d;
        return 0;
    case OPT_STR:
        *(const char **)o->dst = v;
        return 0;
    case OPT_FLAG:
        *(int *)o->dst = 1;
        return 0;
    }
    return 0;
}

static int usage_error(const char *prog, const char *cmd, const char *summary,
                       const Opt *opts, const char *fmt, const char *what)
{
    fprintf(stderr, "%s %s: error: ", prog, cmd);
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
    usage(stderr, prog, cmd, summary, opts);
    return RNNRT_EXIT_USAGE;
}

/* argv[0] is the command. Returns 0, HELP_SHOWN or RNNRT_EXIT_USAGE. */
static int parse(int argc, char **argv, const char *prog, const char *summary,
                 const Opt *opts)
{
    const char *cmd = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout, prog, cmd, summary, opts);
            return HELP_SHOWN;
        }
        if (strncmp(a, "--", 2))
            return usage_error(prog, cmd, summary, opts,
                               "unexpected argument '%s'", a);
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const Opt *o = opts;
        while (o->name && (strlen(o->name) != len || strncmp(o->name, a, len)))
            o++;
        if (!o->name)
            return usage_error(prog, cmd, summary, opts,
                               "unknown option '%s'", a);
        const char *v = eq ? eq + 1 : NULL;
        if (o->type == OPT_FLAG && v)
            return usage_error(prog, cmd, summary, opts,
                               "option '%s' takes no value", o->name);
        if (o->type != OPT_FLAG && !v) {
            if (i + 1 == argc)
                return usage_error(prog, cmd, summary, opts,
                                   "option '%s' needs a value", o->name);
            v = argv[++i];
        }
        int rc = set_value(prog, cmd, o, v);
        if (rc)
            return rc;
    }
    return 0;
}

/* Prints a library error; for usage errors points at --help. */
static int report(int rc, const RnnrtError *err, const char *prog,
                  const char *cmd)
{
    if (rc && err->code) {
        rnnrt_error_print(err, prog);
        if (rc == RNNRT_EXIT_USAGE)
            fprintf(stderr, "(see '%s %s --help')\n", prog, cmd);
    }
    return rc;
}

static const char *default_ckpt(const RnnrtModel *m, char *buf, size_t n)
{
    snprintf(buf, n, "%s.ckpt", m->name);
    return buf;
}

/* ---- train ---- */

static int cmd_train(int argc, char **argv, const RnnrtModel *m,
                     const char *prog)
{
    RnnrtTrainOpts o;
    rnnrt_train_opts_default(&o, m);
    char ckpt[4096];
    o.ckpt = default_ckpt(m, ckpt, sizeof ckpt);
    const Opt opts[] = {
        {"--data", OPT_STR, &o.data, "PATH", "training text (default: the "
         "files in " RNNRT_DEFAULT_CORPUS_DIR ")", 0, 0},
        {"--epochs", OPT_INT, &o.epochs, "N", "epochs", 1, INT_MAX},
        {"--lr", OPT_DOUBLE, &o.lr, "X", "learning rate", DBL_MIN, DBL_MAX},
        {"--optimizer", OPT_STR, &o.optimizer, "S", "sgd | momentum | adam",
         0, 0},
        {"--momentum", OPT_DOUBLE, &o.momentum, "X", "momentum: its factor, "
         "0 = 0.9", 0, 1},
        {"--beta1", OPT_DOUBLE, &o.beta1, "X", "adam: beta1, 0 = 0.9", 0, 1},
        {"--beta2", OPT_DOUBLE, &o.beta2, "X", "adam: beta2, 0 = 0.999", 0,
         1},
        {"--eps", OPT_DOUBLE, &o.eps, "X", "adam: eps, 0 = 1e-8", 0, 1},
        {"--batch", OPT_INT, &o.batch, "N", "batch size B", 1, 1 << 20},
        {"--steps", OPT_INT, &o.steps, "N", "time steps T per minibatch", 1,
         1 << 20},
        {"--clip", OPT_DOUBLE, &o.clip, "X", "global gradient-norm clip, 0 = "
         "off", 0, DBL_MAX},
        {"--seed", OPT_U64, &o.seed, "N", "random seed", 0, 0},
        {"--sampler", OPT_STR, &o.sampler, "S", "sequential | random", 0, 0},
        {"--bptt", OPT_STR, &o.bptt, "S", "full | truncated | randomized", 0,
         0},
        {"--bptt-k", OPT_INT, &o.bptt_k, "N", "truncated: cut the gradient "
         "every N steps, 0 = at minibatch edges only", 0, INT_MAX},
        {"--bptt-p", OPT_DOUBLE, &o.bptt_p, "X", "randomized: probability "
         "of continuing", 0, 1},
        {"--ckpt", OPT_STR, &o.ckpt, "PATH", "checkpoint file", 0, 0},
        {"--resume", OPT_FLAG, &o.resume, NULL, "continue from --ckpt "
         "(exactly where it stopped)", 0, 0},
        {"--force", OPT_FLAG, &o.force, NULL, "resume even if the corpus "
         "changed", 0, 0},
        {"--max-steps", OPT_I64, &o.max_steps, "N", "stop after N steps in "
         "this run, 0 = no limit", 0, 1e18},
        {"--max-seconds", OPT_DOUBLE, &o.max_seconds, "X", "stop after X "
         "seconds in this run, 0 = no limit", 0, DBL_MAX},
        {"--save-every", OPT_I64, &o.save_every, "N", "save every N steps, "
         "0 = every epoch", 0, 1e18},
        {"--threads", OPT_INT, &o.threads, "N", "OpenBLAS threads, 0 = its "
         "default", 0, 4096},
        {"--quiet", OPT_FLAG, &o.quiet, NULL, "no progress line or notes", 0,
         0},
        {"--keep-denormals", OPT_FLAG, &o.keep_denormals, NULL, "do not "
         "flush denormals to zero", 0, 0},
        {"--prefix", OPT_STR, &o.prefix, "S", "start of the final sample", 0,
         0},
        {"--sample-len", OPT_INT, &o.sample_len, "N", "characters to sample "
         "at the end", 0, 1 << 24},
        {0},
    };
    int rc = parse(argc, argv, prog, "Trains the model; prints \"epoch E "
                   "train_loss L val_ppl P\" every 5 epochs and a final "
                   "RESULT line.", opts);
    if (rc)
        return rc == HELP_SHOWN ? 0 : rc;
    RnnrtError err = {0};
    rc = rnnrt_train(m, &o, NULL, &err);
    return report(rc, &err, prog, "train");
}

/* ---- eval ---- */

static int cmd_eval(int argc, char **argv, const RnnrtModel *m,
                    const char *prog)
{
    char ckpt[4096];
    const char *path = default_ckpt(m, ckpt, sizeof ckpt), *data = NULL;
    int B = 0, T = 0, threads = 0, keep = 0;
    const Opt opts[] = {
        {"--ckpt", OPT_STR, &path, "PATH", "checkpoint", 0, 0},
        {"--data", OPT_STR, &data, "PATH", "text whose validation split is "
         "scored (default: the default corpus)", 0, 0},
        {"--batch", OPT_INT, &B, "N", "batch size, 0 = as trained", 0,
         1 << 20},
        {"--steps", OPT_INT, &T, "N", "time steps, 0 = as trained", 0,
         1 << 20},
        {"--threads", OPT_INT, &threads, "N", "OpenBLAS threads", 0, 4096},
        {"--keep-denormals", OPT_FLAG, &keep, NULL, "do not flush denormals",
         0, 0},
        {0},
    };
    int rc = parse(argc, argv, prog, "Prints the validation perplexity of a "
                   "checkpoint, computed like the training's.", opts);
    if (rc)
        return rc == HELP_SHOWN ? 0 : rc;
    rnnrt_blas_set_threads(threads);
    int ftz = keep ? 0 : rnnrt_fpu_flush_denormals(1);
    RnnrtError err = {0};
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    RnnrtCorpus c = {0};
    RnnrtBuffers buf = {0};
    rc = rnnrt_ckpt_load(path, m, &v, &p, &ts, &err);
    if (rc)
        return report(rc, &err, prog, "eval");
    const RnnrtRecipe *r = &m->recipe;
    B = B ? B : ts.B;
    T = T ? T : ts.T;
    rc = rnnrt_corpus_load_recipe(&c, data, r, &v, &err);
    if (!rc && c.n - c.ntrain < (size_t)B + 1)
        rc = rnnrt_error(&err, RNNRT_EXIT_DATA,
                         "the validation split has %zu tokens; batch %d "
                         "needs at least %d", c.n - c.ntrain, B, B + 1);
    if (!rc)
        rc = rnnrt_buffers_init(&buf, m, &p, B, T, v.size, &err);
    if (!rc) {
        rnnrt_signal_install();
        double ppl, n, t0 = rnnrt_now();
        rc = rnnrt_evaluate(m, &buf, c.ids + c.ntrain, c.n - c.ntrain, &ppl,
                            &n);
        double dt = rnnrt_now() - t0;
        rnnrt_signal_restore();
        if (!rc)
            printf("val_ppl=%.4f tokens=%.0f tok_s=%.0f val_unk=%zu\n", ppl,
                   n, dt > 0 ? n / dt : 0, c.unk_valid);
    }
    if (ftz)
        rnnrt_fpu_flush_denormals(0);
    rnnrt_buffers_free(&buf);
    rnnrt_corpus_free(&c);
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    return report(rc, &err, prog, "eval");
}

/* ---- sample ---- */

static int cmd_sample(int argc, char **argv, const RnnrtModel *m,
                      const char *prog)
{
    char ckpt[4096];
    const char *path = default_ckpt(m, ckpt, sizeof ckpt), *prefix = "the ";
    RnnrtSampleOpts so = {200, 1.0, 0};
    uint64_t seed = m->recipe.seed;
    int keep = 0;
    const Opt opts[] = {
        {"--ckpt", OPT_STR, &path, "PATH", "checkpoint", 0, 0},
        {"--prefix", OPT_STR, &prefix, "S", "text to start from", 0, 0},
        {"--len", OPT_INT, &so.len, "N", "characters to generate", 0,
         1 << 30},
        {"--temperature", OPT_DOUBLE, &so.temperature, "X", "softmax "
         "temperature", DBL_MIN, DBL_MAX},
        {"--greedy", OPT_FLAG, &so.greedy, NULL, "always take the most "
         "likely character", 0, 0},
        {"--seed", OPT_U64, &seed, "N", "random seed", 0, 0},
        {"--keep-denormals", OPT_FLAG, &keep, NULL, "do not flush denormals",
         0, 0},
        {0},
    };
    int rc = parse(argc, argv, prog, "Continues --prefix with text generated "
                   "by a checkpoint.", opts);
    if (rc)
        return rc == HELP_SHOWN ? 0 : rc;
    int ftz = keep ? 0 : rnnrt_fpu_flush_denormals(1);
    RnnrtError err = {0};
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    rc = rnnrt_ckpt_load(path, m, &v, &p, &ts, &err);
    if (!rc) {
        RnnrtRng r;
        rnnrt_rng_init(&r, seed);
        rnnrt_signal_install();
        rc = rnnrt_sample(m, &p, &v, prefix, &so, &r, stdout, &err);
        rnnrt_signal_restore();
        rnnrt_vocab_free(&v);
        rnnrt_params_free(&p);
        rnnrt_train_state_free(&ts);
    }
    if (ftz)
        rnnrt_fpu_flush_denormals(0);
    return report(rc, &err, prog, "sample");
}

/* ---- gradcheck and dump ---- */

static int cmd_check(int argc, char **argv, const RnnrtModel *m,
                     const char *prog, int is_dump)
{
    RnnrtCheckOpts o = {2, is_dump ? 3 : 4, 5, 1, 0};
    const Opt opts[] = {
        {"--B", OPT_INT, &o.B, "N", "batch size", 1, 1 << 16},
        {"--T", OPT_INT, &o.T, "N", "time steps", 1, 1 << 16},
        {"--V", OPT_INT, &o.V, "N", "vocabulary size", 1, 1 << 20},
        {"--seed", OPT_U64, &o.seed, "N", "random seed", 0, 0},
        is_dump ? (Opt){0}
                : (Opt){"--max-per-param", OPT_I64, &o.max_per_param, "N",
                        "check N evenly spaced elements of each tensor, "
                        "0 = all", 0, 1e18},
        {0},
    };
    const char *summary =
        is_dump ? "Runs forward+backward once on random inputs and prints "
                  "every input and\noutput, one record per line: dims B T V "
                  "S / param NAME N v... / x / y /\nstate / carry_scale / "
                  "loss / logits / state_out / grad NAME / dstate."
                : "Checks backward against central differences for every "
                  "parameter and\nstate element (double build only).";
    int rc = parse(argc, argv, prog, summary, opts);
    if (rc)
        return rc == HELP_SHOWN ? 0 : rc;
    RnnrtError err = {0};
    rc = is_dump ? rnnrt_dump(m, &o, stdout, &err)
                 : rnnrt_gradcheck(m, &o, stdout, &err);
    return report(rc, &err, prog, is_dump ? "dump" : "gradcheck");
}

static int cmd_gradcheck(int argc, char **argv, const RnnrtModel *m,
                         const char *prog)
{
    return cmd_check(argc, argv, m, prog, 0);
}

static int cmd_dump(int argc, char **argv, const RnnrtModel *m,
                    const char *prog)
{
    return cmd_check(argc, argv, m, prog, 1);
}

static const Command commands[] = {
    {"train", "train on a corpus and save a checkpoint", cmd_train},
    {"eval", "validation perplexity of a checkpoint", cmd_eval},
    {"sample", "generate text from a checkpoint", cmd_sample},
    {"gradcheck", "check backward against finite differences (double build)",
     cmd_gradcheck},
    {"dump", "print one forward+backward on random inputs", cmd_dump},
    {0},
};

static void main_usage(FILE *f, const char *prog, const RnnrtModel *m)
{
    fprintf(f, "usage: %s <command> [options]\n\n"
               "Trainer for model '%s' (%s), generated by rnnc; %s "
               "precision.\n\ncommands:\n", prog, m->name, m->spec_path,
            RNNRT_REAL_NAME);
    for (const Command *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n'%s <command> --help' lists the command's options.\n"
               "Exit status: 0 ok, 1 data error, 2 usage, 3 I/O, 4 numerical "
               "divergence,\n130/143 interrupted (after saving).\n", prog);
}

int rnnrt_main(int argc, char **argv, const RnnrtModel *m)
{
    const char *prog = argc > 0 && argv[0] ? argv[0] : m->name;
    const char *slash = strrchr(prog, '/');
    if (slash)
        prog = slash + 1;
    if (argc < 2) {
        main_usage(stderr, prog, m);
        return RNNRT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        main_usage(stdout, prog, m);
        return 0;
    }
    for (const Command *c = commands; c->name; c++)
        if (!strcmp(c->name, cmd))
            return c->run(argc - 1, argv + 1, m, prog);
    fprintf(stderr, "%s: error: unknown command '%s'\n", prog, cmd);
    main_usage(stderr, prog, m);
    return RNNRT_EXIT_USAGE;
}
