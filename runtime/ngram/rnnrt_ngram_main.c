/*
 * rnnrt_ngram_main.c: the command line of an n-gram trainer.
 *
 *   NGRAM train  [--data PATH] [--order N] [--smoothing S] [--out FILE] ...
 *   NGRAM eval   [--model FILE] [--data PATH] [--sentences [--per-sentence]]
 *   NGRAM sample [--model FILE] [--prefix S] [--len N] [--seed N]
 *   NGRAM table  [--data PATH] [--max-order N]
 *   NGRAM export-arpa [--model FILE] [--out FILE.arpa]
 *
 * eval and sample also take --arpa FILE instead of --model: an ARPA file
 * (rnnrt_ngram_arpa.c), read with the spec's tokens, normalize and split
 * (an ARPA file does not record them).
 *
 * Defaults come from the spec (RnnrtNgramSpec); options override them,
 * parsed by rnnrt_cli.c as for the neural trainers. All arguments are
 * checked before any data is read: a bad option or value is exit 2 with
 * the command's usage, and an unknown smoothing gets a "did
 * you mean". Data problems (an empty corpus, an empty split) are exit 1,
 * I/O exit 3; in every failing case nothing is written. Results go to
 * stdout, notes and errors to stderr.
 *
 * `table` counts once at the largest order and rebuilds every (order,
 * smoothing) from those counts, which gives the same numbers as separate
 * `train` runs: an order-n model only reads the tables of orders 1..n.
 */
#include "rnnrt_ngram.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

typedef struct {
    const char *data, *out, *model, *tokens, *normalize, *smoothing;
    const char *discount, *prefix, *arpa;
    double split, k;
    int order, max_order, len, force, min_freq;
    int sentences, per_sentence; /* eval: sentence mode (rnnrt_ngram_sent.c) */
    uint64_t seed;
} Args;

static const char *prog = "ngram";

/* ---- interruption ----
 * train, eval and table install the SIGINT/SIGTERM handler
 * (rnnrt_signal.c) and poll it between their phases (counting also polls
 * inside). Nothing is saved after a signal: the save is atomic, so an
 * interrupted run leaves no model and no "<out>.tmp", and exits 130/143. */

#define NOTHING_SAVED "nothing was saved"
#define STOPPED "stopped early"

/* 0, or the exit code of a pending signal after saying what happened. */
static int interrupted(const char *outcome)
{
    int sig = rnnrt_signal_pending();
    if (!sig)
        return 0;
    fprintf(stderr, "%s: interrupted by %s: %s\n", prog,
            sig == SIGTERM ? "SIGTERM" : "SIGINT", outcome);
    return rnnrt_signal_exit_code(sig);
}

/* ---- settings: spec defaults, command-line overrides ---- */

/* The spec's discount as --discount shows it; Args.discount points here
 * until the command line sets it. */
static char spec_discount[32];

static void args_default(Args *a, const RnnrtNgramSpec *s)
{
    if (s->discount < 0)
        snprintf(spec_discount, sizeof spec_discount, "auto");
    else
        snprintf(spec_discount, sizeof spec_discount, "%g", s->discount);
    memset(a, 0, sizeof *a);
    a->discount = spec_discount;
    a->tokens = s->tokens ? s->tokens : "char";
    a->normalize = s->normalize ? s->normalize : "none";
    a->split = s->split;
    a->order = s->order;
    a->smoothing = s->smoothing;
    a->k = s->k;
    a->min_freq = s->min_freq > 1 ? s->min_freq : 1;
    a->max_order = 6;
    a->len = 200;
    a->seed = 42;
}

static int smoothing_error(const char *name, RnnrtError *err, int code)
{
    const char *near = rnnrt_ngram_smoothing_suggest(name);
    char hint[96] = "";
    if (near)
        snprintf(hint, sizeof hint, "did you mean '%s'? ", near);
    return rnnrt_error(err, code,
                       "unknown smoothing '%s'; %s(expected mle, add_k, "
                       "backoff, kneser_ney or modified_kneser_ney)",
                       name ? name : "(none)", hint);
}

/* --discount: "auto" (estimate) or a number in [0, 1). */
static int parse_discount(const char *v, double *out, RnnrtError *err)
{
    if (!strcmp(v, "auto")) {
        *out = -1;
        return 0;
    }
    if (rnnrt_parse_double(v, 0, 1, out) || *out >= 1)
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "invalid value '%s' for --discount: expected a "
                           "number in [0, 1) or 'auto'", v);
    return 0;
}

/* The model options. Command-line values were range-checked by the
 * parser, so a bad smoothing name there is a usage error (2) and anything
 * else opts_check refuses came from the spec (1). */
static int model_opts(const Args *a, const RnnrtNgramSpec *s,
                      RnnrtNgramOpts *o, RnnrtError *err)
{
    int from_cli = a->smoothing != s->smoothing;
    if (rnnrt_ngram_smoothing_parse(a->smoothing, &o->smoothing))
        return smoothing_error(a->smoothing, err,
                               from_cli ? RNNRT_EXIT_USAGE : RNNRT_EXIT_DATA);
    o->order = a->order;
    o->k = a->k;
    o->discount = s->discount;
    int rc = a->discount == spec_discount
                 ? 0 : parse_discount(a->discount, &o->discount, err);
    if (rc)
        return rc;
    rc = rnnrt_ngram_opts_check(o, err);
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        rc = rnnrt_error_at(err, rc, s->spec_path ? s->spec_path : "spec",
                            "%s", msg);
    }
    return rc;
}

/* ---- corpus ---- */

static int check_sizes(const RnnrtCorpus *c, const Args *a, RnnrtError *err)
{
    const char *path = a->data ? a->data : RNNRT_DEFAULT_CORPUS_DIR;
    if (c->n < 2)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' gives %zu %s token%s after normalization "
                           "'%s'; an n-gram model needs at least 2 (one to "
                           "count, one to validate)", path, c->n, a->tokens,
                           c->n == 1 ? "" : "s", a->normalize);
    if (c->ntrain == 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the training split of '%s' is empty (%zu tokens "
                           "x split %g)", path, c->n, a->split);
    if (c->ntrain == c->n)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the validation split of '%s' is empty (%zu "
                           "tokens x split %g leaves none)", path, c->n,
                           a->split);
    return 0;
}

/* The neural models' pipeline (rnnrt_corpus_load_recipe): same tokenizer,
 * vocabulary and split. vocab: a saved model's, or NULL to build one. */
static int load_corpus(const Args *a, const RnnrtVocab *vocab,
                       RnnrtCorpus *c, RnnrtError *err)
{
    RnnrtRecipe r = {0};
    r.tokens = a->tokens;
    r.normalize = a->normalize;
    r.split = a->split;
    r.min_freq = a->min_freq;
    int rc = rnnrt_corpus_load_recipe(c, a->data, &r, vocab, err);
    if (!rc && (rc = check_sizes(c, a, err)))
        rnnrt_corpus_free(c);
    return rc;
}

static void print_corpus(const RnnrtCorpus *c, const Args *a)
{
    printf("corpus: %s: %zu %s tokens (normalize %s), vocabulary %d, "
           "train %zu, valid %zu (%zu <unk>)\n",
           a->data ? a->data : RNNRT_DEFAULT_CORPUS_DIR, c->n, a->tokens,
           a->normalize, c->vocab.size, c->ntrain, c->n - c->ntrain,
           c->unk_valid);
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

/* ---- reporting a model ---- */

static void print_model(const RnnrtNgram *g)
{
    if (g->from_arpa) {
        printf("model: order %d, from an ARPA file\nn-grams:", g->order);
        for (int m = 1; m <= g->order; m++)
            printf(" %d:%zu", m, g->t[m].n);
        printf("\n");
        return;
    }
    printf("model: order %d, %s", g->order,
           rnnrt_ngram_smoothing_name(g->opts.smoothing));
    if (g->opts.smoothing == RNNRT_SMOOTH_ADD_K)
        printf(" (k = %g)", g->opts.k);
    printf("\nn-grams:");
    for (int m = 1; m <= g->order; m++)
        printf(" %d:%zu", m, g->t[m].n);
    printf("\n");
    RnnrtSmoothing s = g->opts.smoothing;
    if (s != RNNRT_SMOOTH_BACKOFF && s != RNNRT_SMOOTH_KN &&
        s != RNNRT_SMOOTH_MKN)
        return;
    for (int m = 1; m <= g->order; m++) {
        if (s == RNNRT_SMOOTH_MKN)
            printf("discounts order %d: D1 %.4f D2 %.4f D3+ %.4f%s\n", m,
                   g->discount[m][1], g->discount[m][2], g->discount[m][3],
                   g->fallback[m] ? " (fallback)" : "");
        else
            printf("discount order %d: D %.4f%s\n", m, g->discount[m][1],
                   g->fallback[m] ? " (fallback)" : "");
    }
}

static void print_notes(const RnnrtNgram *g)
{
    for (int m = 1; m <= g->order; m++)
        if (g->fallback[m])
            fprintf(stderr, "%s: note: the count-of-counts of order %d are "
                    "degenerate (too few n-grams seen 1..4 times: small or "
                    "artificial data); it uses the fallback discount%s\n",
                    prog, m, g->opts.smoothing == RNNRT_SMOOTH_MKN
                                 ? "s D1 0.5, D2 1, D3+ 1.5 (as KenLM's "
                                   "--discount_fallback)"
                                 : " D 0.5");
    RnnrtSmoothing s = g->opts.smoothing;
    if ((s == RNNRT_SMOOTH_BACKOFF || s == RNNRT_SMOOTH_KN) &&
        g->opts.discount == 0)
        fprintf(stderr, "%s: note: discount 0 leaves no mass for unseen "
                "n-grams: the model is unsmoothed\n", prog);
}

static void print_score(const char *what, const RnnrtNgramScore *sc,
                        double seconds)
{
    printf("%s perplexity ", what);
    if (sc->nzero)
        printf("inf (%zu of %zu tokens have probability 0: the model is "
               "not smoothed)", sc->nzero, sc->ntokens);
    else
        printf("%.4f", sc->ppl);
    printf(" on %zu tokens (%zu <unk>), %.2f M tokens/s\n", sc->ntokens,
           sc->nunk, (double)sc->ntokens / (seconds > 0 ? seconds : 1e-9) /
                         1e6);
    if (sc->nunk && sc->nunk < sc->ntokens)
        printf("%s perplexity excluding <unk> %.4f on %zu tokens\n", what,
               sc->ppl_known, sc->ntokens - sc->nunk);
}

/* ---- train ---- */

static void fill_meta(RnnrtNgramMeta *m, const RnnrtNgramSpec *s,
                      const Args *a, uint64_t corpus_hash)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", s->name ? s->name : "ngram");
    m->spec_hash = s->spec_hash;
    snprintf(m->tokens, sizeof m->tokens, "%s", a->tokens);
    snprintf(m->normalize, sizeof m->normalize, "%s", a->normalize);
    m->split = a->split;
    m->corpus_hash = corpus_hash;
}

static int train_run(const Args *a, const RnnrtNgramSpec *s,
                     const RnnrtNgramOpts *o, RnnrtCorpus *c,
                     RnnrtError *err)
{
    RnnrtNgram g;
    double t0 = rnnrt_now();
    int rc = rnnrt_ngram_count(&g, c->ids, c->ntrain, c->vocab.size,
                               o->order, err);
    if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
        return interrupted(NOTHING_SAVED);
    if (rc)
        return rc;
    rc = rnnrt_ngram_build(&g, o, err);
    double t1 = rnnrt_now();
    if (!rc && !(rc = interrupted(NOTHING_SAVED))) {
        print_model(&g);
        print_notes(&g);
        printf("counted %zu tokens in %.3f s, %.2f M tokens/s\n",
               c->ntrain + 1, t1 - t0,
               (double)(c->ntrain + 1) / (t1 - t0 > 0 ? t1 - t0 : 1e-9) / 1e6);
        RnnrtNgramScore sc;
        double t2 = rnnrt_now();
        rnnrt_ngram_score(&g, c->ids + c->ntrain, c->n - c->ntrain, &sc);
        print_score("validation", &sc, rnnrt_now() - t2);
        rc = interrupted(NOTHING_SAVED);
    }
    if (!rc) {
        RnnrtNgramMeta meta;
        fill_meta(&meta, s, a, c->hash);
        rc = rnnrt_ngram_save(a->out, &g, &c->vocab, &meta, err);
    }
    if (!rc) {
        printf("saved %s (peak RSS %.1f MB)\n", a->out, peak_rss_mb());
        rc = interrupted("the model had been saved");
    }
    rnnrt_ngram_free(&g);
    return rc;
}

/* The options train and table share after their first ones: the
 * smoothing parameters and the data recipe, NDATA entries. */
enum { NDATA = 6 };

static void data_opts(Args *a, RnnrtOpt *o)
{
    o[0] = (RnnrtOpt){"--k", RNNRT_OPT_DOUBLE, &a->k, "K", "add_k's k, > 0",
                      DBL_MIN, DBL_MAX};
    o[1] = (RnnrtOpt){"--discount", RNNRT_OPT_STR, &a->discount, "D",
                      "backoff and kneser_ney: a discount in [0, 1) or "
                      "'auto'", 0, 0};
    o[2] = (RnnrtOpt){"--tokens", RNNRT_OPT_STR, &a->tokens, "T",
                      "char or word", 0, 0};
    o[3] = (RnnrtOpt){"--normalize", RNNRT_OPT_STR, &a->normalize, "M",
                      "none, lower or letters", 0, 0};
    o[4] = (RnnrtOpt){"--split", RNNRT_OPT_DOUBLE, &a->split, "F",
                      "training fraction", 0, 1};
    o[5] = (RnnrtOpt){"--min-freq", RNNRT_OPT_INT, &a->min_freq, "N",
                      "training tokens seen fewer times become <unk>", 1,
                      1000000};
}

static int cmd_train(int argc, char **argv, const RnnrtNgramSpec *s,
                     RnnrtError *err)
{
    Args a;
    args_default(&a, s);
    char out[300];
    snprintf(out, sizeof out, "%s.ngram", s->name ? s->name : "ngram");
    a.out = out;
    RnnrtOpt opts[NDATA + 5] = {
        {"--data", RNNRT_OPT_STR, &a.data, "PATH", "corpus (absent: every "
         "file in " RNNRT_DEFAULT_CORPUS_DIR ")", 0, 0},
        {"--order", RNNRT_OPT_INT, &a.order, "N", "n-gram order, 1..8", 1, 8},
        {"--smoothing", RNNRT_OPT_STR, &a.smoothing, "S", "mle, add_k, "
         "backoff, kneser_ney or modified_kneser_ney", 0, 0}};
    data_opts(&a, opts + 3);
    opts[NDATA + 3] = (RnnrtOpt){"--out", RNNRT_OPT_STR, &a.out, "FILE",
                                 "model file", 0, 0};
    int rc = rnnrt_cli_parse(argc, argv, prog, "Counts the training split, "
                             "saves the model and reports validation "
                             "perplexity.", opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    RnnrtNgramOpts o;
    if ((rc = model_opts(&a, s, &o, err)))
        return rc;
    /* a "<out>.tmp" left by a killed save, as checkpoints do */
    if ((rc = rnnrt_file_remove_stale(a.out, err)))
        return rc;
    RnnrtCorpus c;
    if ((rc = load_corpus(&a, NULL, &c, err)))
        return rc;
    print_corpus(&c, &a);
    rc = interrupted(NOTHING_SAVED);
    if (!rc)
        rc = train_run(&a, s, &o, &c, err);
    rnnrt_corpus_free(&c);
    return rc;
}

/* ---- eval and sample: a saved model ---- */

static int load_model(const char *path, const RnnrtNgramSpec *s, int force,
                      RnnrtNgram *g, RnnrtVocab *v, RnnrtNgramMeta *meta,
                      RnnrtError *err)
{
    int rc = rnnrt_ngram_load(path, g, v, meta, err);
    if (rc || force || meta->spec_hash == s->spec_hash)
        return rc;
    rnnrt_ngram_free(g);
    rnnrt_vocab_free(v);
    return rnnrt_error(err, RNNRT_EXIT_DATA,
                       "'%s' was made from another spec (model '%s', spec "
                       "hash %016llx; this trainer is '%s', %016llx); use "
                       "--force to use it anyway", path, meta->name,
                       (unsigned long long)meta->spec_hash,
                       s->name ? s->name : "?",
                       (unsigned long long)s->spec_hash);
}

/* --model FILE, or --arpa FILE with the recipe of the command line (an
 * ARPA file does not record one; defaults: the spec's) in meta. The
 * recipe options are for --arpa only: a saved model has its own. */
static int load_any(const Args *a, const RnnrtNgramSpec *s, RnnrtNgram *g,
                    RnnrtVocab *v, RnnrtNgramMeta *meta, RnnrtError *err)
{
    Args d;
    args_default(&d, s);
    if (!a->arpa && (a->tokens != d.tokens || a->normalize != d.normalize ||
                     a->split != d.split))
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "--tokens, --normalize and --split go with "
                           "--arpa; a saved model uses the recipe it was "
                           "trained with");
    if (!a->arpa)
        return load_model(a->model, s, a->force, g, v, meta, err);
    fill_meta(meta, s, a, 0);
    return rnnrt_ngram_load_arpa(a->arpa, g, v, err);
}

static int eval_run(const Args *a, RnnrtNgram *g, RnnrtVocab *v,
                    const RnnrtNgramMeta *meta, RnnrtError *err)
{
    Args recipe = *a;
    recipe.tokens = meta->tokens;
    recipe.normalize = meta->normalize;
    recipe.split = meta->split;
    RnnrtCorpus c;
    int rc = load_corpus(&recipe, v, &c, err);
    if (rc)
        return rc;
    if ((rc = interrupted(STOPPED))) {
        rnnrt_corpus_free(&c);
        return rc;
    }
    print_corpus(&c, &recipe);
    if (!g->from_arpa && c.hash != meta->corpus_hash)
        fprintf(stderr, "%s: note: this corpus differs from the one the "
                "model was trained on\n", prog);
    print_model(g);
    RnnrtNgramScore sc;
    double t0 = rnnrt_now();
    rnnrt_ngram_score(g, c.ids + c.ntrain, c.n - c.ntrain, &sc);
    rc = interrupted(STOPPED);
    if (!rc) {
        print_score("validation", &sc, rnnrt_now() - t0);
        /* all the digits, for comparing models (an ARPA round trip) */
        printf("validation cross-entropy %.17g nats per token\n",
               sc.nll / (double)sc.ntokens);
        printf("peak RSS %.1f MB\n", peak_rss_mb());
    }
    rnnrt_corpus_free(&c);
    return rc;
}

/* ---- eval --sentences: every line a sentence, as KenLM's query ---- */

static double sent_ppl(double log10p, size_t n)
{
    return n ? pow(10.0, -log10p / (double)n) : NAN;
}

static int print_sentence(void *ctx, size_t index,
                          const RnnrtNgramSentScore *s)
{
    (void)ctx;
    printf("sentence %zu log10prob %.17g tokens %zu oov %zu ppl %.4f\n",
           index, s->log10p, s->ntokens, s->noov,
           sent_ppl(s->log10p, s->ntokens));
    return 0;
}

static int sentences_run(const Args *a, RnnrtNgram *g, RnnrtVocab *v,
                         const RnnrtNgramMeta *meta, RnnrtError *err)
{
    RnnrtNgramSentScore t;
    const char *path = a->data ? a->data : RNNRT_DEFAULT_CORPUS_DIR;
    int rc = rnnrt_ngram_score_lines(g, v, a->data, meta->tokens,
                                     meta->normalize,
                                     a->per_sentence ? print_sentence : NULL,
                                     NULL, &t, err);
    if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
        return interrupted(STOPPED);
    if (!rc && (rc = interrupted(STOPPED)))
        return rc;
    if (!rc && t.sentences == 0)
        rc = rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' has no lines to score",
                         path);
    if (rc)
        return rc;
    printf("sentences: %s: %zu sentences, %zu tokens (%zu OOV) of %s "
           "(normalize %s), each line <s> ... </s>\n", path, t.sentences,
           t.ntokens, t.noov, meta->tokens, meta->normalize);
    printf("sentences log10prob %.17g perplexity %.6f perplexity excluding "
           "OOVs %.6f\n", t.log10p, sent_ppl(t.log10p, t.ntokens),
           sent_ppl(t.log10p_known, t.ntokens - t.noov));
    if (t.nzero)
        printf("note: %zu of %zu tokens have probability 0 (the model is "
               "not smoothed): the perplexity is infinite\n", t.nzero,
               t.ntokens);
    return 0;
}

static int cmd_eval(int argc, char **argv, const RnnrtNgramSpec *s,
                    RnnrtError *err)
{
    Args a;
    args_default(&a, s);
    char model[300];
    snprintf(model, sizeof model, "%s.ngram", s->name ? s->name : "ngram");
    a.model = model;
    const RnnrtOpt opts[] = {
        {"--model", RNNRT_OPT_STR, &a.model, "FILE", "model file", 0, 0},
        {"--data", RNNRT_OPT_STR, &a.data, "PATH", "corpus whose validation "
         "split is scored (absent: every file in " RNNRT_DEFAULT_CORPUS_DIR
         ")", 0, 0},
        {"--force", RNNRT_OPT_FLAG, &a.force, NULL, "accept a model made from "
         "another spec", 0, 0},
        {"--arpa", RNNRT_OPT_STR, &a.arpa, "FILE", "score an ARPA file "
         "instead of --model", 0, 0},
        {"--tokens", RNNRT_OPT_STR, &a.tokens, "T", "with --arpa: char or "
         "word", 0, 0},
        {"--normalize", RNNRT_OPT_STR, &a.normalize, "M", "with --arpa: none, "
         "lower or letters", 0, 0},
        {"--split", RNNRT_OPT_DOUBLE, &a.split, "F", "with --arpa: training "
         "fraction", 0, 1},
        {"--sentences", RNNRT_OPT_FLAG, &a.sentences, NULL, "score every "
         "line of --data (all of it, no split) as a sentence <s> ... </s>, "
         "as KenLM's query does", 0, 0},
        {"--per-sentence", RNNRT_OPT_FLAG, &a.per_sentence, NULL, "with "
         "--sentences: also print each sentence's log10 probability", 0, 0},
        {0}};
    int rc = rnnrt_cli_parse(argc, argv, prog, "Reports the validation "
                             "perplexity of a saved model (tokenizer, "
                             "normalization and split as saved).", opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    if (a.per_sentence && !a.sentences)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "--per-sentence goes with "
                           "--sentences");
    RnnrtNgram g;
    RnnrtVocab v;
    RnnrtNgramMeta meta;
    if ((rc = load_any(&a, s, &g, &v, &meta, err)))
        return rc;
    rc = a.sentences ? sentences_run(&a, &g, &v, &meta, err)
                     : eval_run(&a, &g, &v, &meta, err);
    rnnrt_ngram_free(&g);
    rnnrt_vocab_free(&v);
    return rc;
}

static void print_sample(const Args *a, const RnnrtVocab *v, int word,
                         const int32_t *out, size_t n)
{
    fputs(a->prefix, stdout);
    for (size_t i = 0; i < n; i++) {
        if (word && (i > 0 || a->prefix[0]))
            fputc(' ', stdout);
        fputs(v->tokens[out[i]], stdout);
    }
    fputc('\n', stdout);
}

static int cmd_sample(int argc, char **argv, const RnnrtNgramSpec *s,
                      RnnrtError *err)
{
    Args a;
    args_default(&a, s);
    char model[300];
    snprintf(model, sizeof model, "%s.ngram", s->name ? s->name : "ngram");
    a.model = model;
    a.prefix = "";
    const RnnrtOpt opts[] = {
        {"--model", RNNRT_OPT_STR, &a.model, "FILE", "model file", 0, 0},
        {"--prefix", RNNRT_OPT_STR, &a.prefix, "S", "text to continue (empty: "
         "from the start of a sequence)", 0, 0},
        {"--len", RNNRT_OPT_INT, &a.len, "N", "tokens to generate (stops "
         "early at <eos>)", 0, 1000000},
        {"--seed", RNNRT_OPT_U64, &a.seed, "N", "random seed", 0, 0},
        {"--force", RNNRT_OPT_FLAG, &a.force, NULL, "accept a model made from "
         "another spec", 0, 0},
        {"--arpa", RNNRT_OPT_STR, &a.arpa, "FILE", "sample from an ARPA file "
         "instead of --model", 0, 0},
        {"--tokens", RNNRT_OPT_STR, &a.tokens, "T", "with --arpa: char or "
         "word", 0, 0},
        {"--normalize", RNNRT_OPT_STR, &a.normalize, "M", "with --arpa: none, "
         "lower or letters", 0, 0},
        {0}};
    int rc = rnnrt_cli_parse(argc, argv, prog, "Continues a prefix by "
                             "sampling from a saved model.", opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    RnnrtNgram g;
    RnnrtVocab v;
    RnnrtNgramMeta meta;
    if ((rc = load_any(&a, s, &g, &v, &meta, err)))
        return rc;
    int32_t *pre;
    size_t np;
    rc = rnnrt_ngram_encode_prefix(&v, meta.tokens, meta.normalize, a.prefix,
                                   &pre, &np, err);
    if (!rc) {
        RnnrtRng r;
        rnnrt_rng_init(&r, a.seed);
        int32_t *out = rnnrt_xcalloc((size_t)a.len + 1, sizeof *out, "sample");
        size_t n = rnnrt_ngram_sample(&g, pre, np, (size_t)a.len, &r, out);
        print_sample(&a, &v, !strcmp(meta.tokens, "word"), out, n);
        free(out);
        free(pre);
    }
    rnnrt_ngram_free(&g);
    rnnrt_vocab_free(&v);
    return rc;
}

/* ---- export-arpa ---- */

static int cmd_export_arpa(int argc, char **argv, const RnnrtNgramSpec *s,
                           RnnrtError *err)
{
    Args a;
    args_default(&a, s);
    char model[300], out[300];
    snprintf(model, sizeof model, "%s.ngram", s->name ? s->name : "ngram");
    snprintf(out, sizeof out, "%s.arpa", s->name ? s->name : "ngram");
    a.model = model;
    a.out = out;
    const RnnrtOpt opts[] = {
        {"--model", RNNRT_OPT_STR, &a.model, "FILE", "model file", 0, 0},
        {"--out", RNNRT_OPT_STR, &a.out, "FILE", "ARPA file to write ('-': "
         "standard output)", 0, 0},
        {"--force", RNNRT_OPT_FLAG, &a.force, NULL, "accept a model made from "
         "another spec", 0, 0},
        {0}};
    int rc = rnnrt_cli_parse(argc, argv, prog, "Writes a saved model as an "
                             "ARPA file (log10 probabilities and backoff "
                             "weights, as KenLM reads them).", opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    if (strcmp(a.out, "-") && (rc = rnnrt_file_remove_stale(a.out, err)))
        return rc;
    RnnrtNgram g;
    RnnrtVocab v;
    RnnrtNgramMeta meta;
    if ((rc = load_model(a.model, s, a.force, &g, &v, &meta, err)))
        return rc;
    rc = rnnrt_ngram_export_arpa(a.out, &g, &v, err);
    if (!rc && strcmp(a.out, "-")) {
        printf("wrote %s: order %d, n-grams", a.out, g.order);
        for (int m = 1; m <= g.order; m++)
            printf(" %d:%zu", m, m == 1 ? g.t[1].n - 1 : g.t[m].n);
        printf("\n");
    }
    rnnrt_ngram_free(&g);
    rnnrt_vocab_free(&v);
    return rc;
}

/* ---- table ---- */

/* One Markdown table: rows smoothings, columns orders; known = 1 scores
 * only the tokens other than <unk>. A signal stops it after a cell. */
static void print_table(RnnrtNgram *g, const RnnrtCorpus *c, const Args *a,
                        RnnrtNgramOpts o, int known)
{
    printf("\n| smoothing |");
    for (int n = 1; n <= a->max_order; n++)
        printf(" %d |", n);
    printf("\n|---|");
    for (int n = 1; n <= a->max_order; n++)
        printf("---:|");
    printf("\n");
    for (int s = 0; s < RNNRT_SMOOTH_COUNT && !rnnrt_signal_pending(); s++) {
        o.smoothing = (RnnrtSmoothing)s;
        printf("| %s |", rnnrt_ngram_smoothing_name(o.smoothing));
        for (int n = 1; n <= a->max_order && !rnnrt_signal_pending(); n++) {
            RnnrtNgramScore sc;
            o.order = n;
            rnnrt_ngram_build(g, &o, NULL);
            rnnrt_ngram_score(g, c->ids + c->ntrain, c->n - c->ntrain, &sc);
            double ppl = known ? sc.ppl_known : sc.ppl;
            if (isinf(ppl))
                printf(" inf |");
            else
                printf(" %.3f |", ppl);
        }
        printf("\n");
    }
}

static int cmd_table(int argc, char **argv, const RnnrtNgramSpec *s,
                     RnnrtError *err)
{
    Args a;
    args_default(&a, s);
    RnnrtOpt opts[NDATA + 3] = {
        {"--data", RNNRT_OPT_STR, &a.data, "PATH", "corpus (absent: every "
         "file in " RNNRT_DEFAULT_CORPUS_DIR ")", 0, 0},
        {"--max-order", RNNRT_OPT_INT, &a.max_order, "N", "orders 1..N", 1,
         8}};
    data_opts(&a, opts + 2);
    int rc = rnnrt_cli_parse(argc, argv, prog, "Prints the validation "
                             "perplexity of every smoothing at orders 1..N as "
                             "a Markdown table.", opts);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    RnnrtNgramOpts o;
    a.order = a.max_order;
    if (a.k <= 0)
        a.k = 1; /* a spec of another smoothing may leave k unset */
    for (int i = 0; i < RNNRT_SMOOTH_COUNT; i++) {
        a.smoothing = rnnrt_ngram_smoothing_name((RnnrtSmoothing)i);
        if ((rc = model_opts(&a, s, &o, err)))
            return rc;
    }
    RnnrtCorpus c;
    if ((rc = load_corpus(&a, NULL, &c, err)))
        return rc;
    print_corpus(&c, &a);
    RnnrtNgram g;
    rc = rnnrt_ngram_count(&g, c.ids, c.ntrain, c.vocab.size, a.max_order,
                           err);
    if (!rc) {
        printf("validation perplexity (add_k k = %g; backoff, kneser_ney "
               "discount %s)\n", o.k, o.discount < 0 ? "estimated per order"
                                                     : "as given");
        print_table(&g, &c, &a, o, 0);
        if (c.unk_valid && !rnnrt_signal_pending()) {
            printf("\nexcluding the %zu <unk> tokens of the validation "
                   "split (KenLM's \"excluding OOVs\")\n", c.unk_valid);
            print_table(&g, &c, &a, o, 1);
        }
    }
    if (!rc || rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
        rc = interrupted(STOPPED);
    rnnrt_ngram_free(&g);
    rnnrt_corpus_free(&c);
    return rc;
}

/* ---- dispatch ---- */

static const struct {
    const char *name, *summary;
    int (*run)(int, char **, const RnnrtNgramSpec *, RnnrtError *);
    int polls; /* polls for SIGINT/SIGTERM (see "interruption") */
} commands[] = {
    {"train", "count the training split and save the model", cmd_train, 1},
    {"eval", "validation perplexity of a saved model", cmd_eval, 1},
    {"sample", "continue a prefix from a saved model", cmd_sample, 0},
    {"table", "perplexity of every smoothing at orders 1..6", cmd_table, 1},
    {"export-arpa", "write a saved model as an ARPA file", cmd_export_arpa,
     0},
};

static void main_usage(FILE *f, const RnnrtNgramSpec *s)
{
    fprintf(f, "usage: %s <command> [options]\n\nn-gram language model "
            "'%s' from %s\n\ncommands:\n", prog, s->name ? s->name : "?",
            s->spec_path ? s->spec_path : "?");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'%s <command> --help' lists a command's options.\n", prog);
}

int rnnrt_ngram_main(int argc, char **argv, const RnnrtNgramSpec *s)
{
    prog = rnnrt_cli_prog(argc, argv, "ngram");
    if (argc < 2) {
        main_usage(stderr, s);
        return RNNRT_EXIT_USAGE;
    }
    if (rnnrt_cli_version(argc, argv, prog, s->name, s->spec_path))
        return 0;
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        main_usage(stdout, s);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name))
            continue;
        RnnrtError err = {0};
        if (commands[i].polls) {
            rnnrt_signal_clear();
            rnnrt_signal_install();
        }
        int rc = commands[i].run(argc - 1, argv + 1, s, &err);
        rnnrt_signal_restore();
        return rnnrt_cli_report(rc, &err, prog, argv[1]);
    }
    fprintf(stderr, "%s: error: unknown command '%s'\n", prog, argv[1]);
    main_usage(stderr, s);
    return RNNRT_EXIT_USAGE;
}
