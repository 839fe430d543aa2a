/*
 * rnnrt_api_s2s.c: the C API for trained seq2seq models (RnnrtTranslator,
 * rnnrt_api.h), and the one decoding path of the trainer's translate
 * command (rnnrt_s2s_translate.c is built on it).
 *
 * A handle owns what translate needs for one sentence: the checkpoint's
 * vocabularies and parameters (rnnrt_s2s_ckpt_load, so it accepts and
 * refuses what eval and translate do), a decoder for one sentence of
 * width k (rnnrt_s2s_decode.c: the emitted encode and step, or the
 * training forward rerun over each prefix) and the buffers of the result.
 * The decoder and the beam search's buffers (rnnrt_beam_search_in) are
 * built by the first call and rebuilt only when a call asks for a wider
 * beam than any before; other calls allocate nothing.
 */
#include "s2s/rnnrt_s2s_int.h"

#include <stdlib.h>
#include <string.h>

#define TR_MAGIC 0x53325452u /* "TR2S": an open RnnrtTranslator */
#define MAX_BEAM 64          /* as translate --beam */

struct RnnrtTranslator {
    uint32_t magic;
    const RnnrtS2sModel *m;
    S2sParams p;
    RnnrtVocab sv, tv;
    int64_t steps; /* the checkpoint's optimizer steps */
    int T, rerun;
    S2sDecoder d;  /* width d.k; d.x NULL before the first call */
    real *state0;  /* [S] */
    RnnrtBeamWork *beam; /* the search's buffers */
    int kcap;            /* the widest beam d and beam were built for */
    /* the last translation */
    int32_t *row, valid;      /* [T]: the source's ids */
    int32_t *ids;             /* [T]: rnnrt_s2s_encode_in's scratch */
    char *pre;                /* 2 * RNNRT_PAIRS_MAX_LINE + 1: its text */
    char *text;               /* the target's tokens joined by ' ' */
    const char **src, **tgt;  /* [T] */
    double *attn;             /* [T][T] */
    const char *path;         /* while opening */
};

static int translator_load(void *arg, RnnrtError *err);

static int bad_arg(RnnrtError *err, const char *fn, const char *what)
{
    return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: %s", fn, what);
}

static int check_tr(const RnnrtTranslator *tr, const char *fn, RnnrtError *err)
{
    if (!tr)
        return bad_arg(err, fn, "the handle is NULL (never opened, or closed by rnnrt_translator_close)");
    if (tr->magic != TR_MAGIC)
        return bad_arg(err, fn, "the handle is not an open seq2seq model (RnnrtTranslator from "
                                "rnnrt_translator_open)");
    return 0;
}

static int check_model(const RnnrtS2sModel *m, RnnrtError *err)
{
    const char *fn = "rnnrt_translator_open";
    if (!m)
        return bad_arg(err, fn, "the model is NULL; pass the generated file's descriptor, e.g. &seq2seq_model");
    if (!m->name || !m->forward || !m->workspace || !m->params || m->nparams <= 0 || m->state_size < 0 ||
        m->recipe.steps < 2)
        return bad_arg(err, fn, "the model is not a seq2seq descriptor from a file rnnc generated");
    return 0;
}

void rnnrt_translator_close(RnnrtTranslator **ptr)
{
    if (!ptr || !*ptr)
        return;
    RnnrtTranslator *tr = *ptr;
    if (tr->d.x)
        rnnrt_s2s_decoder_free(&tr->d);
    if (tr->p.b.params)
        rnnrt_s2s_params_free(&tr->p);
    rnnrt_vocab_free(&tr->sv);
    rnnrt_vocab_free(&tr->tv);
    free(tr->state0);
    rnnrt_beam_work_free(tr->beam);
    free(tr->row);
    free(tr->ids);
    free(tr->pre);
    free(tr->text);
    free(tr->src);
    free(tr->tgt);
    free(tr->attn);
    tr->magic = 0;
    free(tr);
    *ptr = NULL;
}

int rnnrt_s2s_translator_open(RnnrtTranslator **out, const char *path, const RnnrtS2sModel *m, int rerun,
                              RnnrtError *err)
{
    const char *fn = "rnnrt_translator_open";
    if (!out)
        return bad_arg(err, fn, "the handle pointer is NULL");
    *out = NULL;
    if (!path)
        return bad_arg(err, fn, "the checkpoint path is NULL");
    int rc = check_model(m, err);
    if (rc)
        return rc;
    RnnrtTranslator *tr = calloc(1, sizeof *tr);
    if (!tr)
        return rnnrt_error(err, RNNRT_EXIT_IO, "out of memory");
    tr->m = m;
    tr->rerun = rerun;
    tr->path = path;
    rc = rnnrt_alloc_guard(translator_load, tr, err); /* out of memory: 3, no exit */
    tr->path = NULL;
    if (rc) {
        rnnrt_translator_close(&tr);
        return rc;
    }
    tr->magic = TR_MAGIC;
    *out = tr;
    return 0;
}

/* The open's allocations, under rnnrt_alloc_guard; rnnrt_translator_close
 * frees them whatever the result. */
static int translator_load(void *arg, RnnrtError *err)
{
    RnnrtTranslator *tr = arg;
    int rc = rnnrt_s2s_ckpt_load(tr->path, tr->m, &tr->p, &tr->sv, &tr->tv, err);
    if (rc) {
        memset(&tr->p, 0, sizeof tr->p); /* not allocated */
        return rc;
    }
    tr->T = tr->m->recipe.steps;
    size_t T = (size_t)tr->T, longest = 0;
    for (int i = 0; i < tr->tv.size; i++) {
        size_t n = strlen(tr->tv.tokens[i]);
        longest = n > longest ? n : longest;
    }
    tr->row = rnnrt_xcalloc(T, sizeof *tr->row, "a sentence");
    tr->ids = rnnrt_xcalloc(T, sizeof *tr->ids, "a sentence");
    tr->pre = rnnrt_xcalloc(2 * RNNRT_PAIRS_MAX_LINE + 1, 1, "a sentence");
    tr->text = rnnrt_xcalloc(T * (longest + 1) + 1, 1, "a translation");
    tr->src = rnnrt_xcalloc(T, sizeof *tr->src, "a translation");
    tr->tgt = rnnrt_xcalloc(T, sizeof *tr->tgt, "a translation");
    tr->attn = rnnrt_xcalloc(T * T, sizeof *tr->attn, "attention weights");
    return 0;
}

int rnnrt_translator_open(RnnrtTranslator **tr, const char *path, const RnnrtS2sModel *model, RnnrtError *err)
{
    return rnnrt_s2s_translator_open(tr, path, model, 0, err);
}

int rnnrt_translator_info(const RnnrtTranslator *tr, RnnrtTranslatorInfo *info, RnnrtError *err)
{
    int rc = check_tr(tr, "rnnrt_translator_info", err);
    if (rc)
        return rc;
    if (!info)
        return bad_arg(err, "rnnrt_translator_info", "info is NULL");
    info->name = tr->m->name;
    info->real = RNNRT_REAL_NAME;
    info->src_vocab = tr->sv.size;
    info->tgt_vocab = tr->tv.size;
    info->steps = tr->T;
    info->has_attention = tr->m->has_attention;
    return 0;
}

typedef struct {
    RnnrtTranslator *tr;
    int k;
} DecoderFor;

static int decoder_build(void *arg, RnnrtError *err);

/* A decoder of width k (one sentence), rebuilt for a wider beam; running
 * out of memory returns 3 (rnnrt_alloc_guard) and leaves no decoder. */
static int decoder_for(RnnrtTranslator *tr, int k, RnnrtError *err)
{
    if (tr->d.x && tr->kcap >= k) {
        tr->d.k = k;
        return 0;
    }
    DecoderFor a = {tr, k};
    int rc = rnnrt_alloc_guard(decoder_build, &a, err);
    if (rc) { /* also after the guard returned: d may be half built */
        rnnrt_s2s_decoder_free(&tr->d);
        memset(&tr->d, 0, sizeof tr->d);
        rnnrt_beam_work_free(tr->beam);
        tr->beam = NULL;
        free(tr->state0);
        tr->state0 = NULL;
        tr->kcap = 0;
    }
    return rc;
}

static int decoder_build(void *arg, RnnrtError *err)
{
    RnnrtTranslator *tr = ((DecoderFor *)arg)->tr;
    int k = ((DecoderFor *)arg)->k;
    tr->kcap = 0;
    if (tr->d.x)
        rnnrt_s2s_decoder_free(&tr->d);
    free(tr->state0);
    tr->state0 = NULL;
    rnnrt_beam_work_free(tr->beam);
    tr->beam = NULL;
    int rc = rnnrt_s2s_decoder_init(&tr->d, &tr->p, tr->T, k, 1, tr->m->has_attention, tr->rerun, err);
    if (!rc) {
        tr->beam = rnnrt_beam_work_new(1, k, tr->p.Vt, tr->d.S, tr->T, err);
        rc = tr->beam ? 0 : err ? err->code : RNNRT_EXIT_USAGE;
    }
    if (rc) {
        rnnrt_s2s_decoder_free(&tr->d);
        memset(&tr->d, 0, sizeof tr->d);
        return rc;
    }
    tr->state0 = rnnrt_xcalloc((size_t)tr->d.S + 1, sizeof(real), "a decoder state");
    tr->kcap = k;
    return 0;
}

int rnnrt_translate(RnnrtTranslator *tr, const char *text, size_t len, int beam, RnnrtTranslation *out,
                    RnnrtError *err)
{
    const char *fn = "rnnrt_translate";
    int rc = check_tr(tr, fn, err);
    if (rc)
        return rc;
    if (!out)
        return bad_arg(err, fn, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!text && len)
        return bad_arg(err, fn, "text is NULL");
    if (beam < 1 || beam > MAX_BEAM)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: the beam is %d; it must be 1 (greedy) to %d", fn, beam,
                           MAX_BEAM);
    if ((rc = rnnrt_s2s_check_line(text ? text : "", len, "text", 1, err)) != 0)
        return rc;
    if ((rc = decoder_for(tr, beam, err)) != 0)
        return rc;
    int T = tr->T;
    size_t unk = 0;
    rnnrt_s2s_encode_in(&tr->sv, text ? text : "", len, T, tr->row, &tr->valid, &unk, tr->pre, tr->ids);
    rnnrt_s2s_decoder_start(&tr->d, 1, tr->row, &tr->valid, tr->state0);
    RnnrtBeamOpts o;
    rnnrt_beam_opts_default(&o);
    o.beam = beam;
    o.max_len = T;
    RnnrtBeamResult res;
    if ((rc = rnnrt_s2s_decoder_search(&tr->d, tr->beam, tr->state0, &o, &res, err)) != 0)
        return rc;
    int nt = res.len[0], ns = tr->valid;
    char *p = tr->text;
    for (int i = 0; i < nt; i++) {
        const char *tok = tr->tv.tokens[res.tokens[i]];
        size_t n = strlen(tok);
        if (i)
            *p++ = ' ';
        memcpy(p, tok, n);
        p += n;
        tr->tgt[i] = tok;
    }
    *p = '\0';
    for (int j = 0; j < ns; j++)
        tr->src[j] = tr->sv.tokens[tr->row[j]];
    const real *a = tr->d.attn;
    for (int i = 0; a && i < nt; i++)
        for (int j = 0; j < ns; j++)
            tr->attn[(size_t)i * ns + j] = (double)a[((size_t)i * beam + res.rows[i]) * T + j];
    *out = (RnnrtTranslation){.text = tr->text, .ntgt = nt, .tgt = tr->tgt, .nsrc = ns, .src = tr->src,
                              .attention = a ? tr->attn : NULL, .logprob = res.logprob[0],
                              .score = res.score[0], .unk = unk};
    return 0; /* res lives in tr->beam */
}
