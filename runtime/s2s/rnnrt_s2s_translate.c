/*
 * rnnrt_s2s_translate.c: the seq2seq trainer's eval and translate commands
 * on a checkpoint, and translate's attention plots.
 */
#include "rnnrt_s2s_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- eval and translate on a checkpoint ---- */

int rnnrt_s2s_eval_cmd(const RnnrtS2sModel *m, const char *path, const char *model, int beam, int64_t max_pairs,
                       int64_t eval_max, int rerun, RnnrtError *err)
{
    S2sParams p;
    RnnrtVocab sv, tv;
    int rc = rnnrt_s2s_ckpt_load(model, m, &p, &sv, &tv, err);
    if (rc) {
        rnnrt_vocab_free(&sv);
        rnnrt_vocab_free(&tv);
        return rc;
    }
    RnnrtPairsOpts po;
    rnnrt_s2s_pairs_opts(m, max_pairs, &po);
    RnnrtPairs pairs;
    rc = rnnrt_pairs_load(&pairs, path, &po, &sv, &tv, err);
    if (!rc) {
        rc = rnnrt_s2s_report_eval(&p, &pairs, beam, eval_max, rerun, err);
        rnnrt_pairs_free(&pairs);
    }
    rnnrt_s2s_params_free(&p);
    rnnrt_vocab_free(&sv);
    rnnrt_vocab_free(&tv);
    return rc;
}

/* translate --attention: one matrix per line, kept until the end. */
typedef struct {
    RnnrtAttnMatrix *mat;
    int n, cap;
} Plots;

static void plot_add(Plots *pl, const RnnrtTranslation *tr)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 16;
        pl->mat = realloc(pl->mat, (size_t)pl->cap * sizeof *pl->mat);
        if (!pl->mat)
            rnnrt_xcalloc(SIZE_MAX, 1, "attention plots"); /* reports and exits */
    }
    int ns = tr->nsrc, nt = tr->ntgt;
    const char **src = rnnrt_xcalloc((size_t)ns + 1, sizeof(char *), "plot labels");
    const char **tgt = rnnrt_xcalloc((size_t)nt + 1, sizeof(char *), "plot labels");
    real *w = rnnrt_xcalloc((size_t)nt * ns + 1, sizeof(real), "attention weights");
    memcpy(src, tr->src, (size_t)ns * sizeof *src);
    memcpy(tgt, tr->tgt, (size_t)nt * sizeof *tgt);
    for (size_t i = 0; i < (size_t)nt * ns; i++)
        w[i] = (real)tr->attention[i]; /* the model's reals, widened and back */
    pl->mat[pl->n++] = (RnnrtAttnMatrix){ns, nt, src, tgt, w};
}

static void plots_free(Plots *pl)
{
    for (int i = 0; i < pl->n; i++) {
        free((void *)pl->mat[i].src);
        free((void *)pl->mat[i].tgt);
        free((void *)pl->mat[i].w);
    }
    free(pl->mat);
}

static int plots_save(Plots *pl, const char *csv, RnnrtError *err)
{
    size_t n = strlen(csv);
    char *svg = rnnrt_xcalloc(n + 5, 1, "a path");
    memcpy(svg, csv, n);
    if (n > 4 && !strcmp(csv + n - 4, ".csv"))
        n -= 4;
    strcpy(svg + n, ".svg");
    int rc = rnnrt_attn_save(csv, svg, pl->mat, pl->n, err);
    free(svg);
    return rc;
}

/* One translation per stdin line through the C API (rnnrt_api_s2s.c);
 * unknown words become <unk>, an empty line translates too (from <eos>
 * alone). The labels of the plots are the handle's strings, which live
 * until it is closed. */
int rnnrt_s2s_translate_cmd(const RnnrtS2sModel *m, const char *model, int beam, const char *attention, int rerun,
                            RnnrtError *err)
{
    Plots plots = {0};
    RnnrtTranslator *tr = NULL;
    int rc = rnnrt_s2s_translator_open(&tr, model, m, rerun, err);
    if (!rc && attention && !m->has_attention)
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "--attention: model %s has no attention", m->name);
    if (!rc && attention && !strcmp(attention, "-")) /* the translations own stdout */
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "--attention -: the weights and their heatmap (OUT.svg) need a file "
                         "name; standard output holds the translations");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    size_t len;
    while (!rc && rnnrt_read_line(stdin, &line, &cap, &len)) {
        lineno++;
        if ((rc = rnnrt_s2s_check_line(line, len, "<stdin>", lineno, err)) != 0)
            break;
        RnnrtTranslation out;
        if ((rc = rnnrt_translate(tr, line, len, beam, &out, err)) != 0)
            break;
        printf("%s\n", out.text);
        fflush(stdout);
        if (attention && out.attention)
            plot_add(&plots, &out);
    }
    if (!rc && attention)
        rc = plots_save(&plots, attention, err);
    plots_free(&plots);
    free(line);
    rnnrt_translator_close(&tr);
    return rc;
}
