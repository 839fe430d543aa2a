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

/* One translation per stdin line; unknown words become <unk>, an empty
 * line translates too (from <eos> alone). rnnrt_s2s_ckpt_load's failure leaves the
 * parameters unallocated (d.x stays NULL). */
/* translate --attention: one matrix per line, kept until the end. */
typedef struct {
    RnnrtAttnMatrix *mat;
    int n, cap;
} Plots;

static void plot_add(Plots *pl, const RnnrtVocab *sv, const RnnrtVocab *tv, const int32_t *row, int ns,
                     const RnnrtBeamResult *res, const real *attn, int k, int T)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 16;
        pl->mat = realloc(pl->mat, (size_t)pl->cap * sizeof *pl->mat);
        if (!pl->mat)
            rnnrt_xcalloc(SIZE_MAX, 1, "attention plots"); /* reports and exits */
    }
    int nt = res->len[0];
    const char **src = rnnrt_xcalloc((size_t)ns + 1, sizeof(char *), "plot labels");
    const char **tgt = rnnrt_xcalloc((size_t)nt + 1, sizeof(char *), "plot labels");
    real *w = rnnrt_xcalloc((size_t)nt * ns + 1, sizeof(real), "attention weights");
    for (int j = 0; j < ns; j++)
        src[j] = sv->tokens[row[j]];
    for (int i = 0; i < nt; i++) {
        tgt[i] = tv->tokens[res->tokens[i]];
        int r = res->rows[i];
        for (int j = 0; j < ns; j++)
            w[(size_t)i * ns + j] = attn[((size_t)i * k + r) * T + j];
    }
    pl->mat[pl->n++] = (RnnrtAttnMatrix){ns, nt, src, tgt, w};
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
    for (int i = 0; i < pl->n; i++) {
        free((void *)pl->mat[i].src);
        free((void *)pl->mat[i].tgt);
        free((void *)pl->mat[i].w);
    }
    free(pl->mat);
    return rc;
}

int rnnrt_s2s_translate_cmd(const RnnrtS2sModel *m, const char *model, int beam, const char *attention, int rerun,
                            RnnrtError *err)
{
    Plots plots = {0};
    S2sParams p;
    RnnrtVocab sv, tv;
    int rc = rnnrt_s2s_ckpt_load(model, m, &p, &sv, &tv, err);
    int T = m->recipe.steps;
    int32_t *row = rnnrt_xcalloc((size_t)T, sizeof(int32_t), "a sentence"), valid = 0;
    S2sDecoder d = {0};
    if (!rc)
        rnnrt_s2s_decoder_init(&d, &p, T, beam, 1, attention != NULL, rerun);
    if (!rc && attention && !m->has_attention)
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "--attention: model %s has no attention", m->name);
    if (!rc && attention && !strcmp(attention, "-")) /* the translations own stdout */
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "--attention -: the weights and their heatmap (OUT.svg) need a file "
                         "name; standard output holds the translations");
    RnnrtBeamOpts o;
    rnnrt_beam_opts_default(&o);
    o.beam = beam;
    o.max_len = T;
    real *state0 = rnnrt_xcalloc((size_t)d.S + 1, sizeof(real), "a decoder state");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    while (!rc && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if ((rc = rnnrt_s2s_check_line(line, len, "<stdin>", lineno, err)) != 0)
            break;
        rnnrt_s2s_encode(&sv, line, len, T, row, &valid, NULL);
        rnnrt_s2s_decoder_start(&d, 1, row, &valid, state0);
        RnnrtBeamResult res;
        if ((rc = rnnrt_s2s_decoder_search(&d, state0, &o, &res, err)) != 0)
            break;
        for (int j = 0; j < res.len[0]; j++)
            printf("%s%s", j ? " " : "", tv.tokens[res.tokens[j]]);
        printf("\n");
        fflush(stdout);
        if (d.attn)
            plot_add(&plots, &sv, &tv, row, valid, &res, d.attn, beam, T);
        rnnrt_beam_result_free(&res);
    }
    if (!rc && attention)
        rc = plots_save(&plots, attention, err);
    free(line);
    free(state0);
    free(row);
    if (d.x) {
        rnnrt_s2s_decoder_free(&d);
        rnnrt_s2s_params_free(&p);
    }
    rnnrt_vocab_free(&sv);
    rnnrt_vocab_free(&tv);
    return rc;
}

