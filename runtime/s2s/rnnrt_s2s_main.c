/*
 * rnnrt_s2s_main.c: the command line of a seq2seq trainer (issue #4).
 *
 *   MODEL train PAIRS [--epochs N] [--lr F] [--batch N] [--max-pairs N]
 *                     [--beam K] [--eval-max N] [--seed N] [--ckpt CKPT]
 *                     [--resume] [--force] [--save-every N] [--max-steps N]
 *                     [--max-seconds X] [--threads N] [--quiet]
 *   MODEL eval PAIRS --model CKPT [--beam K] [--max-pairs N] [--eval-max N]
 *   MODEL translate --model CKPT [--beam K] [--attention OUT.csv]
 *                                                (stdin -> stdout)
 *   MODEL gradcheck [--seed N] [--max-per-param N] ...   (double build)
 *   MODEL dump [--seed N] ...                 (for rnnc SPEC --check DUMP)
 *
 * Trains the generated training step (RnnrtS2sModel) on the training split
 * of a tab-separated parallel corpus (rnnrt_pairs.c: d2l's preprocessing,
 * two vocabularies, num_steps = the spec's train.steps), as
 * bench/s2s_torch.py: shuffled minibatches (the last, partial one kept),
 * masked mean cross-entropy with teacher forcing, clipping at the recipe's
 * global norm, the recipe's optimizer. Then it decodes the held-out pairs
 * greedily and with beam search (rnnrt_beam.c) and prints corpus BLEU-4,
 * d2l's mean BLEU (k = 2) and the exact-match rate for each. Checkpoints,
 * signals, budgets, non-finite steps and exact resume work as in the LM
 * trainer (see "training" below).
 *
 * Decoding needs the decoder one step at a time: the model's emitted
 * entries (encode once per batch of sources, then one step per token; see
 * "decoding" below). A model emitted before them decodes by rerunning the
 * training forward over each prefix, exact but T times the work.
 *
 * Checkpoints (see "checkpoints" below) are rnnrt_ckpt.c's format: the
 * spec hash, both vocabularies, the parameters and the training state,
 * each section with a CRC32, written atomically, the previous one kept as
 * "<ckpt>.prev"; eval and translate load them.
 */
#include "rnnrt_s2s_int.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

static int usage(FILE *f, const char *prog, const RnnrtS2sModel *m)
{
    fprintf(f,
            "usage: %s train PAIRS [options]\n"
            "       %s eval PAIRS --model CKPT [options]\n"
            "       %s translate --model CKPT [--beam K] < sentences\n"
            "       %s gradcheck [options]   (the double build)\n"
            "       %s dump [options]        (for rnnc SPEC --check DUMP)\n"
            "       %s export CKPT -o FILE.safetensors | import FILE.safetensors --ckpt NEW\n"
            "A seq2seq trainer (%s); see %s COMMAND --help.\n",
            prog, prog, prog, prog, prog, prog, m->spec_path, prog);
    return f == stdout ? 0 : RNNRT_EXIT_USAGE;
}

int rnnrt_s2s_main(int argc, char **argv, const RnnrtS2sModel *m)
{
    const char *prog = rnnrt_cli_prog(argc, argv, m->name);
    const RnnrtRecipe *r = &m->recipe;
    if (argc < 2)
        return usage(stderr, prog, m);
    if (rnnrt_cli_version(argc, argv, prog, m->name, m->spec_path))
        return 0;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return usage(stdout, prog, m);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "export") || !strcmp(cmd, "import")) /* rnnrt_safetensors.c */
        return rnnrt_st_s2s_cmd(argc - 1, argv + 1, m, prog);
    int is_train = !strcmp(cmd, "train"), is_eval = !strcmp(cmd, "eval"), is_tr = !strcmp(cmd, "translate");
    int is_dump = !strcmp(cmd, "dump"), is_gc = !strcmp(cmd, "gradcheck") || is_dump;
    if (!is_train && !is_eval && !is_tr && !is_gc) {
        fprintf(stderr, "%s: error: unknown command '%s'\n", prog, cmd);
        return usage(stderr, prog, m);
    }
    int beam = is_tr ? 1 : 4;
    TrainOpts to = {.epochs = r->epochs, .batch = r->batch, .lr = r->lr, .eval_max = -1, .seed = r->seed,
                    .max_loss_ratio = 3};
    int64_t max_pairs = 0, eval_max = -1;
    uint64_t seed = r->seed;
    char def_ckpt[4096];
    snprintf(def_ckpt, sizeof def_ckpt, "%s.ckpt", m->name);
    const char *ckpt = def_ckpt, *model = NULL;
    char resume_help[1024];
    const RnnrtOpt train_opts[] = {
        {"--epochs", RNNRT_OPT_INT, &to.epochs, "N", "epochs in all (a resumed run counts the earlier ones)", 1, 1e6},
        rnnrt_recipe_opt(RNNRT_RECIPE_LR, &to.lr),
        {"--batch", RNNRT_OPT_INT, &to.batch, "N", "pairs per minibatch", 1, 65536},
        {"--max-pairs", RNNRT_OPT_I64, &to.max_pairs, "N", "read only the first N pairs (0 = all)", 0, 1e15},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width for the second decoding (1 = greedy only)", 1, 64},
        {"--eval-max", RNNRT_OPT_I64, &to.eval_max, "N", "decode at most N held-out pairs (-1 = all)", -1, 1e15},
        rnnrt_recipe_opt(RNNRT_RECIPE_SEED, &to.seed),
        {"--ckpt", RNNRT_OPT_STR, &ckpt, "CKPT", "checkpoint file, saved at every epoch's end", 0, 0},
        {"--save", RNNRT_OPT_STR, &ckpt, "CKPT", "the same as --ckpt", 0, 0},
        {"--resume", RNNRT_OPT_FLAG, &to.resume, NULL, resume_help, 0, 0},
        {"--force", RNNRT_OPT_FLAG, &to.force, NULL,
         "overwrite a --ckpt that is not this model's; resume on other pairs", 0, 0},
        {"--max-steps", RNNRT_OPT_I64, &to.max_steps, "N", "stop after N steps in this run (0 = no limit)", 0, 1e18},
        {"--max-seconds", RNNRT_OPT_DOUBLE, &to.max_seconds, "X", "stop after X seconds in this run (0 = no limit)",
         0, 1e12},
        {"--save-every", RNNRT_OPT_I64, &to.save_every, "N", "also save every N steps (0 = at epoch ends only)", 0,
         1e18},
        rnnrt_recipe_opt(RNNRT_RECIPE_LOSS_RATIO, &to.max_loss_ratio),
        {"--threads", RNNRT_OPT_INT, &to.threads, "N",
         "threads: N >= 2 splits each minibatch's rows over N workers (OpenBLAS 1 thread each); "
         "0 = OpenBLAS's default", 0, 4096},
        {"--quiet", RNNRT_OPT_FLAG, &to.quiet, NULL, "no progress line or notes", 0, 0},
        {"--metrics", RNNRT_OPT_STR, &to.metrics, "FILE", "write JSON-lines training metrics (README \"Training metrics\")", 0, 0},
        {"--metrics-every", RNNRT_OPT_I64, &to.metrics_every, "N", "--metrics: a train record every N steps (default 10)", 1, 1e18},
        {0},
    };
    int rerun_decode = 0; /* --rerun-decode: through forward even when the emitted entries exist */
    const RnnrtOpt eval_opts[] = {
        {"--model", RNNRT_OPT_STR, &model, "CKPT", "a checkpoint written by train", 0, 0},
        {"--ckpt", RNNRT_OPT_STR, &model, "CKPT", "the same as --model", 0, 0},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width for the second decoding (1 = greedy only)", 1, 64},
        {"--max-pairs", RNNRT_OPT_I64, &max_pairs, "N", "read only the first N pairs (0 = all)", 0, 1e15},
        {"--eval-max", RNNRT_OPT_I64, &eval_max, "N", "decode at most N held-out pairs (-1 = all)", -1, 1e15},
        {"--rerun-decode", RNNRT_OPT_FLAG, &rerun_decode, NULL,
         "decode by rerunning the training forward over each prefix (slow; for comparisons)", 0, 0},
        {0},
    };
    const char *attention = NULL;
    const RnnrtOpt translate_opts[] = {
        {"--model", RNNRT_OPT_STR, &model, "CKPT", "a checkpoint written by train", 0, 0},
        {"--ckpt", RNNRT_OPT_STR, &model, "CKPT", "the same as --model", 0, 0},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width (1 = greedy)", 1, 64},
        {"--attention", RNNRT_OPT_STR, &attention, "OUT.csv",
         "write each sentence's attention weights here, and a heatmap to OUT.svg", 0, 0},
        {"--rerun-decode", RNNRT_OPT_FLAG, &rerun_decode, NULL,
         "decode by rerunning the training forward over each prefix (slow; for comparisons)", 0, 0},
        {0},
    };
    int gc_B = 2, gc_T = r->steps < 5 ? r->steps : 5, gc_V = 9, gc_Vt = 8;
    int64_t max_per = 0;
    const RnnrtOpt gradcheck_opts[] = {
        {"--seed", RNNRT_OPT_U64, &seed, "N", "the random problem's seed", 0, 0},
        {"--batch", RNNRT_OPT_INT, &gc_B, "N", "rows", 1, 64},
        {"--steps", RNNRT_OPT_INT, &gc_T, "N", "time steps", 2, 64},
        {"--vocab", RNNRT_OPT_INT, &gc_V, "N", "source vocabulary size", 5, 1000},
        {"--tgt-vocab", RNNRT_OPT_INT, &gc_Vt, "N", "target vocabulary size", 5, 1000},
        {"--max-per-param", RNNRT_OPT_I64, &max_per, "N", "check N evenly spaced elements per tensor (0 = all)", 0,
         1e15},
        {0},
    };
    const RnnrtOpt *opts = is_train ? train_opts : is_eval ? eval_opts : is_tr ? translate_opts : gradcheck_opts;
    const char *summary = is_train ? "train PAIRS: train, then decode the held-out pairs"
                          : is_eval ? "eval PAIRS: decode the held-out pairs with a saved model"
                          : is_tr   ? "translate: one translation per line of stdin"
                          : is_dump ? "dump: forward and backward on a random problem, as text for rnnc --check"
                                    : "gradcheck: backward against finite differences on a random problem";
    const char *path = NULL;
    rnnrt_recipe_resume_help(resume_help, sizeof resume_help, "continue from --ckpt, exactly where it stopped",
                             train_opts);
    unsigned char given[sizeof train_opts / sizeof *train_opts] = {0};
    int rc;
    if (!is_tr && !is_gc && argc >= 3 && argv[2][0] != '-') {
        path = argv[2];
        argv[2] = argv[1]; /* the options parser sees "CMD --opt ..." */
        rc = rnnrt_cli_parse_given(argc - 2, argv + 2, prog, summary, opts, is_train ? given : NULL);
    } else {
        rc = rnnrt_cli_parse_given(argc - 1, argv + 1, prog, summary, opts, is_train ? given : NULL);
    }
    if (rc == RNNRT_HELP_SHOWN)
        return 0;
    if (rc)
        return rc;
    if (!is_tr && !is_gc && !path) {
        fprintf(stderr, "%s %s: error: needs a PAIRS file (source<TAB>target per line)\n", prog, cmd);
        return RNNRT_EXIT_USAGE;
    }
    if (!model)
        model = def_ckpt;
    RnnrtError err = {0};
    if (is_train)
    {
        to.beam = beam;
        to.ckpt = ckpt;
        rnnrt_recipe_given(train_opts, given, to.given);
        rc = rnnrt_s2s_train(m, path, &to, &err);
        rc = rnnrt_cli_report(rc, &err, prog, cmd);
        rnnrt_mpi_stop(rc); /* over MPI ranks: all end here together */
        return rc;
    }
    else if (is_eval)
        rc = rnnrt_s2s_eval_cmd(m, path, model, beam, max_pairs, eval_max, rerun_decode, &err);
    else if (is_gc)
        rc = is_dump ? rnnrt_s2s_dump_cmd(m, seed, gc_B, gc_T, gc_V, gc_Vt, &err)
                     : rnnrt_s2s_gradcheck_cmd(m, seed, gc_B, gc_T, gc_V, gc_Vt, max_per, &err);
    else
        rc = rnnrt_s2s_translate_cmd(m, model, beam, attention, rerun_decode, &err);
    return rnnrt_cli_report(rc, &err, prog, cmd);
}
