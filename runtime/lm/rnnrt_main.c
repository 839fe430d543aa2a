/*
 * rnnrt_main.c: the command line of every generated trainer.
 *
 *   MODEL train | eval | sample | predict | gradcheck | dump | export | import
 *         [options]
 *
 * Each command is a table of options (name, type, destination, help) whose
 * defaults come from the model's recipe; one parser (rnnrt_cli.c, shared
 * with the n-gram trainers) serves them all, so every option accepts
 * "--opt VALUE" and "--opt=VALUE", numbers are parsed strictly (the whole
 * string, in range), and an unknown option prints the message and the
 * command's usage and exits 2. "--help" after a command prints its
 * options with their defaults. This file only parses and
 * dispatches; the work is in rnnrt_train.c, rnnrt_eval.c, rnnrt_sample.c
 * and rnnrt_check.c, and for the task heads (labelling, classification)
 * in rnnrt_task.c: train and eval dispatch on the model's task, sample
 * is only for language models and predict (rnnrt_task_predict.c, on the
 * C API) only for the task heads. export and import (safetensors) are in
 * rnnrt_safetensors.c, for every task.
 */
#include "rnnrt.h"

#include <float.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv, const RnnrtModel *m, const char *prog);
} Command;

static const char *const task_names[] = {"language_model", "labelling",
                                         "classification"};

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
    char resume_help[1024];
    const RnnrtOpt opts[] = {
        {"--data", RNNRT_OPT_STR, &o.data, "PATH", "training text (default: "
         "the files in " RNNRT_DEFAULT_CORPUS_DIR ")", 0, 0},
        {"--valid", RNNRT_OPT_STR, &o.valid, "PATH", "language models: "
         "validation text (data.valid; none: the split of --data)", 0, 0},
        {"--test", RNNRT_OPT_STR, &o.test, "PATH", "language models: test "
         "text, scored at the end (data.test)", 0, 0},
        {"--epochs", RNNRT_OPT_INT, &o.epochs, "N", "epochs", 1, INT_MAX},
        rnnrt_recipe_train_opt(RNNRT_RECIPE_LR, &o),
        {"--optimizer", RNNRT_OPT_STR, &o.optimizer, "S", "sgd | momentum | "
         "adam", 0, 0},
        rnnrt_recipe_train_opt(RNNRT_RECIPE_MOMENTUM, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_BETA1, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_BETA2, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_EPS, &o),
        {"--batch", RNNRT_OPT_INT, &o.batch, "N", "batch size B", 1, 1 << 20},
        {"--steps", RNNRT_OPT_INT, &o.steps, "N", "time steps T per minibatch",
         1, 1 << 20},
        rnnrt_recipe_train_opt(RNNRT_RECIPE_CLIP, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_SEED, &o),
        {"--sampler", RNNRT_OPT_STR, &o.sampler, "S", "sequential | random", 0,
         0},
        rnnrt_recipe_train_opt(RNNRT_RECIPE_BPTT, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_BPTT_K, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_BPTT_P, &o),
        {"--ckpt", RNNRT_OPT_STR, &o.ckpt, "PATH", "checkpoint file", 0, 0},
        {"--resume", RNNRT_OPT_FLAG, &o.resume, NULL, resume_help, 0, 0},
        {"--force", RNNRT_OPT_FLAG, &o.force, NULL, "resume even if the "
         "corpus changed", 0, 0},
        {"--max-steps", RNNRT_OPT_I64, &o.max_steps, "N", "stop after N steps "
         "in this run, 0 = no limit", 0, 1e18},
        {"--max-seconds", RNNRT_OPT_DOUBLE, &o.max_seconds, "X", "stop after "
         "X seconds in this run, 0 = no limit", 0, DBL_MAX},
        {"--save-every", RNNRT_OPT_I64, &o.save_every, "N", "save every N "
         "steps, 0 = every epoch", 0, 1e18},
        rnnrt_recipe_train_opt(RNNRT_RECIPE_LOSS_RATIO, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_SCHED, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_LR_STEP, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_LR_FACTOR, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_LR_PATIENCE, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_LR_MIN, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_WARMUP, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_WEIGHT_DECAY, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_EVAL_EVERY, &o),
        rnnrt_recipe_train_opt(RNNRT_RECIPE_EARLY_STOP, &o),
        {"--threads", RNNRT_OPT_INT, &o.threads, "N", "threads: N >= 2 splits "
         "each minibatch's rows over N workers (OpenBLAS 1 thread each); "
         "0 = OpenBLAS's default", 0, 4096},
        {"--quiet", RNNRT_OPT_FLAG, &o.quiet, NULL, "no progress line or "
         "notes", 0, 0},
        {"--metrics", RNNRT_OPT_STR, &o.metrics, "FILE", "JSON-lines "
         "training metrics (README \"Training metrics\")", 0, 0},
        {"--metrics-every", RNNRT_OPT_I64, &o.metrics_every, "N", "--metrics: "
         "a train record every N steps (default 10)", 1, 1e18},
        {"--keep-denormals", RNNRT_OPT_FLAG, &o.keep_denormals, NULL, "do not "
         "flush denormals to zero", 0, 0},
        {"--prefix", RNNRT_OPT_STR, &o.prefix, "S", "start of the final "
         "sample", 0, 0},
        {"--sample-len", RNNRT_OPT_INT, &o.sample_len, "N", "tokens to "
         "sample at the end", 0, 1 << 24},
        {0},
    };
    const char *summary =
        m->task == RNNRT_TASK_LANGUAGE_MODEL
            ? "Trains the model; prints \"epoch E train_loss L val_ppl P\" "
              "after every --eval-every epochs and a final RESULT line."
            : "Trains the model on --data (required: the task's "
              "tab-separated lines); prints\n\"epoch E train_loss L val_loss "
              "V val_acc A\" after every --eval-every epochs and a final "
              "RESULT line.\n--sampler, --bptt*, --prefix and --sample-len "
              "are for language models.";
    rnnrt_recipe_resume_help(resume_help, sizeof resume_help, "continue "
                             "from --ckpt, exactly where it stopped, with "
                             "its recipe", opts);
    unsigned char given[sizeof opts / sizeof *opts] = {0};
    int rc = rnnrt_cli_parse_given(argc, argv, prog, summary, opts, given);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    rnnrt_recipe_given(opts, given, o.given);
    RnnrtError err = {0};
    /* the task heads train on the same driver; what shapes a language
     * model's stream of text and its final sample does not apply */
    static const char *const lm_only[] = {"--sampler", "--bptt", "--bptt-k",
                                          "--bptt-p", "--prefix",
                                          "--sample-len", "--valid",
                                          "--test"};
    for (size_t i = 0; m->task != RNNRT_TASK_LANGUAGE_MODEL &&
                       i < sizeof lm_only / sizeof *lm_only; i++)
        if (rnnrt_cli_given(opts, given, lm_only[i]))
            return rnnrt_cli_report(
                rnnrt_error(&err, RNNRT_EXIT_USAGE, "%s is for language "
                            "models; a %s model does not use it",
                            lm_only[i], m->task == RNNRT_TASK_LABELLING
                                            ? "labelling"
                                            : "classification"),
                &err, prog, "train");
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL)
        rc = rnnrt_task_train(m, &o, &err);
    else
        rc = rnnrt_train(m, &o, NULL, &err);
    rc = rnnrt_cli_report(rc, &err, prog, "train");
    rnnrt_mpi_stop(rc); /* over MPI ranks: all end here together */
    return rc;
}

/* ---- eval ---- */

static int cmd_eval(int argc, char **argv, const RnnrtModel *m,
                    const char *prog)
{
    char ckpt[4096];
    const char *path = default_ckpt(m, ckpt, sizeof ckpt), *data = NULL;
    RnnrtRecipe r = m->recipe;
    int B = 0, T = 0, threads = 0, keep = 0;
    const RnnrtOpt opts[] = {
        {"--ckpt", RNNRT_OPT_STR, &path, "PATH", "checkpoint", 0, 0},
        {"--data", RNNRT_OPT_STR, &data, "PATH", "text whose validation split "
         "is scored (default: the default corpus)", 0, 0},
        {"--valid", RNNRT_OPT_STR, &r.valid, "PATH", "language models: the "
         "validation text (data.valid; none: the split of --data)", 0, 0},
        {"--test", RNNRT_OPT_STR, &r.test, "PATH", "language models: also "
         "score this text (data.test)", 0, 0},
        {"--batch", RNNRT_OPT_INT, &B, "N", "batch size, 0 = as trained", 0,
         1 << 20},
        {"--steps", RNNRT_OPT_INT, &T, "N", "time steps, 0 = as trained", 0,
         1 << 20},
        {"--threads", RNNRT_OPT_INT, &threads, "N", "threads, as for "
         "train", 0, 4096},
        {"--keep-denormals", RNNRT_OPT_FLAG, &keep, NULL, "do not flush "
         "denormals", 0, 0},
        {0},
    };
    int rc = rnnrt_cli_parse(argc, argv, prog,
                             m->task == RNNRT_TASK_LANGUAGE_MODEL
                                 ? "Prints the validation perplexity of a "
                                   "checkpoint, computed like the training's."
                                 : "Prints the validation loss and accuracy "
                                   "of a checkpoint, computed like the "
                                   "training's.", opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    RnnrtError err = {0};
    int ftz = keep ? 0 : rnnrt_fpu_flush_denormals(1);
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL &&
        (r.valid != m->recipe.valid || r.test != m->recipe.test)) {
        fprintf(stderr, "%s: error: --valid and --test are for language "
                        "models\n", prog);
        if (ftz)
            rnnrt_fpu_flush_denormals(0);
        return RNNRT_EXIT_USAGE;
    }
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL) {
        RnnrtTaskScore sc;
        rc = rnnrt_task_eval(m, path, data, B, &sc, &err);
        if (!rc)
            printf("val_loss=%.4f val_acc=%.4f count=%zu\n", sc.loss, sc.acc,
                   sc.count);
        if (ftz)
            rnnrt_fpu_flush_denormals(0);
        return rnnrt_cli_report(rc, &err, prog, "eval");
    }
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    RnnrtCorpus c = {0};
    RnnrtBuffers buf = {0};
    rc = rnnrt_ckpt_load(path, m, &v, &p, &ts, &err);
    if (rc)
        return rnnrt_cli_report(rc, &err, prog, "eval");
    B = B ? B : ts.B;
    T = T ? T : ts.T;
    rc = rnnrt_corpus_load_recipe(&c, data, &r, &v, &err);
    if (!rc && c.n - c.ntrain < (size_t)B + 1)
        rc = rnnrt_error(&err, RNNRT_EXIT_DATA,
                         "the validation %s has %zu tokens; batch %d "
                         "needs at least %d", r.valid ? "file" : "split",
                         c.n - c.ntrain, B, B + 1);
    if (!rc && c.test && c.ntest < (size_t)B + 1)
        rc = rnnrt_error(&err, RNNRT_EXIT_DATA,
                         "the test file '%s' has %zu tokens; batch %d "
                         "needs at least %d", r.test, c.ntest, B, B + 1);
    if (!rc)
        rc = rnnrt_buffers_init(&buf, m, &p, B, T, v.size, &err);
    if (!rc)
        rc = rnnrt_buffers_split(&buf, m, &p, threads, &err);
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
        if (!rc && c.test)
            rc = rnnrt_evaluate(m, &buf, c.test, c.ntest, &ppl, &n);
        if (!rc && c.test)
            printf("test_ppl=%.4f tokens=%.0f test_unk=%zu\n", ppl, n,
                   c.unk_test);
    }
    if (ftz)
        rnnrt_fpu_flush_denormals(0);
    rnnrt_buffers_free(&buf);
    rnnrt_corpus_free(&c);
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    return rnnrt_cli_report(rc, &err, prog, "eval");
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
    const RnnrtOpt opts[] = {
        {"--ckpt", RNNRT_OPT_STR, &path, "PATH", "checkpoint", 0, 0},
        {"--prefix", RNNRT_OPT_STR, &prefix, "S", "text to start from", 0, 0},
        {"--len", RNNRT_OPT_INT, &so.len, "N", "tokens to generate", 0,
         1 << 30},
        {"--temperature", RNNRT_OPT_DOUBLE, &so.temperature, "X", "softmax "
         "temperature", DBL_MIN, DBL_MAX},
        {"--greedy", RNNRT_OPT_FLAG, &so.greedy, NULL, "always take the most "
         "likely character", 0, 0},
        {"--seed", RNNRT_OPT_U64, &seed, "N", "random seed", 0, 0},
        {"--keep-denormals", RNNRT_OPT_FLAG, &keep, NULL, "do not flush "
         "denormals", 0, 0},
        {0},
    };
    int rc = rnnrt_cli_parse(argc, argv, prog, "Continues --prefix with text "
                             "generated by a checkpoint.", opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL) {
        fprintf(stderr, "%s: error: sample is not available for task %s "
                        "(only for language_model)\n", prog,
                task_names[m->task == RNNRT_TASK_LABELLING ? 1 : 2]);
        return RNNRT_EXIT_USAGE;
    }
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
    return rnnrt_cli_report(rc, &err, prog, "sample");
}

/* ---- predict (labelling and classification) ---- */

static int cmd_predict(int argc, char **argv, const RnnrtModel *m,
                       const char *prog)
{
    char ckpt[4096];
    const char *path = default_ckpt(m, ckpt, sizeof ckpt);
    const RnnrtOpt opts[] = {
        {"--ckpt", RNNRT_OPT_STR, &path, "PATH", "checkpoint", 0, 0},
        {0},
    };
    int rc = rnnrt_cli_parse(argc, argv, prog, m->task ==
                             RNNRT_TASK_LABELLING
                                 ? "Labels the tokens of stdin (one per "
                                   "line, a blank line between sentences)"
                                   "\nand writes `token<TAB>label` lines to "
                                   "stdout."
                                 : "Classifies each line of stdin and writes "
                                   "`label<TAB>probability` lines to\n"
                                   "stdout.", opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    if (m->task == RNNRT_TASK_LANGUAGE_MODEL) {
        fprintf(stderr, "%s: error: predict is for labelling and "
                        "classification models; a language model has eval "
                        "and sample\n", prog);
        return RNNRT_EXIT_USAGE;
    }
    RnnrtError err = {0};
    rc = rnnrt_task_predict(m, path, stdin, stdout, &err);
    return rnnrt_cli_report(rc, &err, prog, "predict");
}

/* ---- gradcheck and dump ---- */

static int cmd_check(int argc, char **argv, const RnnrtModel *m,
                     const char *prog, int is_dump)
{
    RnnrtCheckOpts o = {2, is_dump ? 3 : 4, 5, 1, 0, 3};
    const RnnrtOpt opts[] = {
        {"--B", RNNRT_OPT_INT, &o.B, "N", "batch size", 1, 1 << 16},
        {"--T", RNNRT_OPT_INT, &o.T, "N", "time steps", 1, 1 << 16},
        {"--V", RNNRT_OPT_INT, &o.V, "N", "vocabulary size", 1, 1 << 20},
        {"--L", RNNRT_OPT_INT, &o.L, "N", "labels (labelling and "
         "classification models)", 1, 1 << 20},
        {"--seed", RNNRT_OPT_U64, &o.seed, "N", "random seed", 0, 0},
        is_dump ? (RnnrtOpt){0}
                : (RnnrtOpt){"--max-per-param", RNNRT_OPT_I64,
                             &o.max_per_param, "N", "check N evenly spaced "
                             "elements of each tensor, 0 = all", 0, 1e18},
        {0},
    };
    const char *summary =
        is_dump ? "Runs forward+backward once on random inputs and prints "
                  "every input and\noutput, one record per line: dims B T V "
                  "S / param NAME N v... / x / y /\nstate / carry_scale / "
                  "loss / logits / state_out / grad NAME / dstate.\nTask "
                  "models add L to dims (labels, --L) and classification "
                  "pool and mask\nrecords (the [T][B] pooling weights and "
                  "valid-step mask)."
                : "Checks backward against central differences for every "
                  "parameter and\nstate element (double build only).";
    int rc = rnnrt_cli_parse(argc, argv, prog, summary, opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    RnnrtError err = {0};
    rc = is_dump ? rnnrt_dump(m, &o, stdout, &err)
                 : rnnrt_gradcheck(m, &o, stdout, &err);
    return rnnrt_cli_report(rc, &err, prog, is_dump ? "dump" : "gradcheck");
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
    {"predict", "label stdin with a checkpoint (labelling, classification)",
     cmd_predict},
    {"gradcheck", "check backward against finite differences (double build)",
     cmd_gradcheck},
    {"dump", "print one forward+backward on random inputs", cmd_dump},
    {"export", "write a checkpoint as a safetensors file (PyTorch names)",
     rnnrt_st_export_cmd},
    {"import", "make a checkpoint from a safetensors file", rnnrt_st_import_cmd},
    {0},
};

static void main_usage(FILE *f, const char *prog, const RnnrtModel *m)
{
    fprintf(f, "usage: %s <command> [options]\n\n"
               "Trainer for model '%s' (%s), generated by rnnc; %s "
               "precision.\n\ncommands:\n", prog, m->name, m->spec_path,
            RNNRT_REAL_NAME);
    int lm = m->task == RNNRT_TASK_LANGUAGE_MODEL;
    for (const Command *c = commands; c->name; c++)
        if (lm ? c->run != cmd_predict : c->run != cmd_sample)
            fprintf(f, "  %-10s %s\n", c->name,
                    !lm && c->run == cmd_eval
                        ? "validation loss and accuracy of a checkpoint"
                        : c->summary);
    fprintf(f, "\n'%s <command> --help' lists the command's options.\n"
               "Exit status: 0 ok, 1 data error, 2 usage, 3 I/O, 4 numerical "
               "divergence,\n130/143 interrupted (after saving), 75 interrupted twice "
               "(stopped without saving;\nthe previous checkpoint is "
               "unchanged).\n", prog);
}

int rnnrt_main(int argc, char **argv, const RnnrtModel *m)
{
    const char *prog = rnnrt_cli_prog(argc, argv, m->name);
    if (argc < 2) {
        main_usage(stderr, prog, m);
        return RNNRT_EXIT_USAGE;
    }
    if (rnnrt_cli_version(argc, argv, prog, m->name, m->spec_path))
        return 0;
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
