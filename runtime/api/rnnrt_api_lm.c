/*
 * rnnrt_api_lm.c: the C API for trained language models (rnnrt_api.h).
 *
 * A handle owns what the trainer's eval and sample commands build for one
 * call: the checkpoint's vocabulary and parameters (read by
 * rnnrt_ckpt_load, so it accepts and refuses exactly what they do), a
 * one-token stepper for feeding and sampling (RnnrtGen, rnnrt_sample.c)
 * and B = 1 buffers for scoring with rnnrt_evaluate (rnnrt_eval.c). The
 * API adds argument checks and keeps its scratch buffers between calls,
 * so a call allocates only when its text is longer than any before.
 *
 * Scoring reads the text as the corpus loader reads a training file (UTF-8
 * check, the recipe's normalization, chars or words, <unk> for what the
 * vocabulary lacks) and scores it as one stream, which is the trainer's
 * `eval --batch 1` on the same tokens. Feeding and sampling read a prefix
 * as `sample --prefix` does.
 */
#include "rnnrt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LM_MAGIC 0x4c4d5254u /* "TRML": an open RnnrtLm */

struct RnnrtLm {
    uint32_t magic;
    const RnnrtModel *m;
    RnnrtVocab v;
    RnnrtParams p;
    int64_t steps;      /* the checkpoint's optimizer steps */
    RnnrtGen gen;       /* feed, next, sample */
    RnnrtBuffers score; /* B = 1, T = the training's T */
    RnnrtTextIds px;    /* feed and sample's prefix */
    RnnrtTextIds sc;    /* score's text */
};

/* ---- argument checks ---- */

static int bad_arg(RnnrtError *err, const char *fn, const char *what)
{
    return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: %s", fn, what);
}

/* The handle must be one rnnrt_lm_open returned and not closed. */
static int check_lm(const RnnrtLm *lm, const char *fn, RnnrtError *err)
{
    if (!lm)
        return bad_arg(err, fn, "the handle is NULL (never opened, or "
                       "closed by rnnrt_lm_close)");
    if (lm->magic != LM_MAGIC)
        return bad_arg(err, fn, "the handle is not an open language model "
                       "(RnnrtLm from rnnrt_lm_open)");
    return 0;
}

/* What a generated language model's descriptor always has. */
static int check_model(const RnnrtModel *m, RnnrtError *err)
{
    const char *fn = "rnnrt_lm_open";
    if (!m)
        return bad_arg(err, fn, "the model is NULL; pass the generated "
                       "file's descriptor, e.g. &rnn_model");
    if (!m->name || !m->forward || !m->params || m->nparams <= 0 ||
        m->state_size < 0)
        return bad_arg(err, fn, "the model is not a descriptor from a file "
                       "rnnc generated");
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL || !m->workspace)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: model '%s' is not a "
                           "language model (its task is %s)", fn, m->name,
                           m->task == RNNRT_TASK_LABELLING ? "labelling"
                                                          : "classification");
    return 0;
}

/* Checks a text argument: NULL only when empty. */
static int check_text(const char *text, const char *fn, const char *name,
                      RnnrtError *err)
{
    if (!text)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: %s is NULL", fn,
                           name);
    return 0;
}

/* ---- open and close ---- */

static void lm_free(RnnrtLm *lm);

typedef struct {
    RnnrtLm *lm;
    const char *path;
    const RnnrtModel *m;
} LmOpen;

/* The open's allocations, under rnnrt_alloc_guard; lm_free frees them
 * whatever the result. */
static int lm_load(void *arg, RnnrtError *err)
{
    LmOpen *a = arg;
    RnnrtLm *lm = a->lm;
    RnnrtTrainState ts;
    int rc = rnnrt_ckpt_load(a->path, a->m, &lm->v, &lm->p, &ts, err);
    if (rc)
        return rc;
    lm->m = a->m;
    lm->steps = ts.step;
    int T = ts.T > 0 ? ts.T : 35;
    rnnrt_train_state_free(&ts);
    rc = rnnrt_gen_init(&lm->gen, a->m, &lm->p, &lm->v, err);
    if (!rc)
        rc = rnnrt_buffers_init(&lm->score, a->m, &lm->p, 1, T, lm->v.size,
                                err);
    return rc;
}

int rnnrt_lm_open(RnnrtLm **out, const char *path, const RnnrtModel *m,
                  RnnrtError *err)
{
    if (!out)
        return bad_arg(err, "rnnrt_lm_open", "the handle pointer is NULL");
    *out = NULL;
    if (!path)
        return bad_arg(err, "rnnrt_lm_open", "the checkpoint path is NULL");
    int rc = check_model(m, err);
    if (rc)
        return rc;
    RnnrtLm *lm = calloc(1, sizeof *lm);
    if (!lm)
        return rnnrt_error(err, RNNRT_EXIT_IO, "out of memory");
    LmOpen a = {lm, path, m};
    rc = rnnrt_alloc_guard(lm_load, &a, err); /* out of memory: 3, no exit */
    if (rc) {
        lm_free(lm);
        return rc;
    }
    lm->magic = LM_MAGIC;
    *out = lm;
    return 0;
}

void rnnrt_lm_close(RnnrtLm **plm)
{
    if (!plm || !*plm)
        return;
    lm_free(*plm);
    *plm = NULL;
}

/* Whatever lm holds, also after a failed or interrupted open (its fields
 * start zeroed). */
static void lm_free(RnnrtLm *lm)
{
    rnnrt_gen_free(&lm->gen);
    rnnrt_buffers_free(&lm->score);
    rnnrt_text_ids_free(&lm->px);
    rnnrt_params_free(&lm->p);
    rnnrt_vocab_free(&lm->v);
    rnnrt_text_ids_free(&lm->sc);
    lm->magic = 0;
    free(lm);
}

/* ---- what the model is ---- */

static int is_words(const RnnrtModel *m)
{
    return rnnrt_tokens_kind(m->recipe.tokens) > RNNRT_TOKENS_CHAR;
}

int rnnrt_lm_info(const RnnrtLm *lm, RnnrtLmInfo *info, RnnrtError *err)
{
    int rc = check_lm(lm, "rnnrt_lm_info", err);
    if (rc)
        return rc;
    if (!info)
        return bad_arg(err, "rnnrt_lm_info", "info is NULL");
    info->name = lm->m->name;
    info->tokens = is_words(lm->m) ? lm->m->recipe.tokens : "char";
    info->real = RNNRT_REAL_NAME;
    info->vocab = lm->v.size;
    info->steps = lm->steps;
    return 0;
}

int rnnrt_lm_token(const RnnrtLm *lm, int id, const char **tok,
                   RnnrtError *err)
{
    int rc = check_lm(lm, "rnnrt_lm_token", err);
    if (rc)
        return rc;
    if (!tok)
        return bad_arg(err, "rnnrt_lm_token", "tok is NULL");
    *tok = NULL;
    if (id < 0 || id >= lm->v.size)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "rnnrt_lm_token: id %d is "
                           "outside the vocabulary [0, %d)", id, lm->v.size);
    *tok = lm->v.tokens[id];
    return 0;
}

/* ---- scoring ---- */

/* The text's ids, as the corpus loader (rnnrt_corpus.c) reads a file with
 * a given vocabulary: UTF-8 check, normalize, chars or words, <unk>. */
static int encode_text(RnnrtLm *lm, const char *text, size_t len,
                       RnnrtError *err)
{
    RnnrtTextIds *sc = &lm->sc;
    RnnrtNorm mode;
    if (rnnrt_norm_parse(lm->m->recipe.normalize, &mode) != 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "unknown normalization "
                           "'%s'", lm->m->recipe.normalize);
    int rc = rnnrt_utf8_check(text, len, "text", mode == RNNRT_NORM_LETTERS,
                              err);
    if (!rc)
        rc = rnnrt_text_ids_reserve(sc, len, err);
    if (rc)
        return rc;
    memcpy(sc->text, text, len);
    sc->text[len] = '\0';
    len = rnnrt_text_normalize(sc->text, len, mode);
    sc->nunk = 0;
    if (!is_words(lm->m)) {
        sc->n = rnnrt_vocab_encode_chars(&lm->v, sc->text, len, sc->ids,
                                         sc->cap, &sc->nunk);
        return 0;
    }
    int kind = rnnrt_tokens_kind(lm->m->recipe.tokens);
    if (kind == RNNRT_TOKENS_WORD)
        rnnrt_words_lower(sc->text, len);
    sc->n = rnnrt_tokens_split(kind, lm->m->recipe.eos, sc->text, len,
                               sc->tok, sc->cap);
    rnnrt_vocab_encode_words(&lm->v, sc->text, sc->tok, sc->n, sc->ids,
                             &sc->nunk);
    return 0;
}

int rnnrt_lm_score(RnnrtLm *lm, const char *text, size_t len,
                   RnnrtLmScore *out, RnnrtError *err)
{
    const char *fn = "rnnrt_lm_score";
    int rc = check_lm(lm, fn, err);
    if (!rc && !out)
        rc = bad_arg(err, fn, "out is NULL");
    if (!rc)
        rc = check_text(text, fn, "text", err);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    unsigned int fpu = rnnrt_fpu_enter();
    rc = encode_text(lm, text, len, err);
    size_t n = lm->sc.n;
    if (!rc && n < 2)
        rc = rnnrt_error(err, RNNRT_EXIT_DATA, "%s: the text has %zu "
                         "token%s after normalization; scoring needs at "
                         "least 2", fn, n, n == 1 ? "" : "s");
    double ppl = 0, ntok = 0;
    if (!rc)
        rc = rnnrt_evaluate(lm->m, &lm->score, lm->sc.ids, n, &ppl, &ntok);
    rnnrt_fpu_leave(fpu);
    if (rc)
        return rc;
    out->perplexity = ppl;
    out->tokens = ntok;
    out->nll = log(ppl) * ntok;
    out->unk = lm->sc.nunk;
    return 0;
}

/* ---- feeding and the next token ---- */

int rnnrt_lm_reset(RnnrtLm *lm, RnnrtError *err)
{
    int rc = check_lm(lm, "rnnrt_lm_reset", err);
    if (!rc)
        rnnrt_gen_reset(&lm->gen);
    return rc;
}

/* px's tokens after the state */
static void feed_prefix(RnnrtLm *lm)
{
    unsigned int fpu = rnnrt_fpu_enter();
    for (size_t i = 0; i < lm->px.n; i++)
        rnnrt_gen_feed(&lm->gen, lm->px.ids[i]);
    rnnrt_fpu_leave(fpu);
}

int rnnrt_lm_feed(RnnrtLm *lm, const char *text, size_t *unk,
                  RnnrtError *err)
{
    int rc = check_lm(lm, "rnnrt_lm_feed", err);
    if (!rc)
        rc = check_text(text, "rnnrt_lm_feed", "text", err);
    if (!rc)
        rc = rnnrt_prefix_encode(&lm->px, lm->m, &lm->v, text, strlen(text),
                                 err);
    if (rc)
        return rc;
    feed_prefix(lm);
    if (unk)
        *unk = lm->px.nunk;
    return 0;
}

int rnnrt_lm_feed_token(RnnrtLm *lm, int id, RnnrtError *err)
{
    int rc = check_lm(lm, "rnnrt_lm_feed_token", err);
    if (rc)
        return rc;
    if (id < 0 || id >= lm->v.size)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "rnnrt_lm_feed_token: id "
                           "%d is outside the vocabulary [0, %d)", id,
                           lm->v.size);
    unsigned int fpu = rnnrt_fpu_enter();
    rnnrt_gen_feed(&lm->gen, id);
    rnnrt_fpu_leave(fpu);
    return 0;
}

int rnnrt_lm_next(RnnrtLm *lm, double *probs, int n, RnnrtError *err)
{
    const char *fn = "rnnrt_lm_next";
    int rc = check_lm(lm, fn, err);
    if (rc)
        return rc;
    if (!probs)
        return bad_arg(err, fn, "probs is NULL");
    if (n != lm->v.size)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: probs has %d entries; "
                           "the vocabulary has %d (rnnrt_lm_info)", fn, n,
                           lm->v.size);
    if (lm->gen.fed == 0)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: nothing was fed since "
                           "the last reset; feed some text first "
                           "(rnnrt_lm_feed)", fn);
    const real *z = lm->gen.b.ctx.logits;
    double lse = rnnrt_xent_lse(z, n);
    for (int i = 0; i < n; i++)
        probs[i] = exp((double)z[i] - lse);
    return 0;
}

/* ---- sampling ---- */

typedef struct {
    char *buf;
    size_t cap, len; /* len: bytes of the whole text, written or not */
} Sink;

static int emit_buf(void *ctx, const char *text)
{
    Sink *s = ctx;
    size_t n = strlen(text);
    if (s->len < s->cap) {
        size_t room = s->cap - 1 - s->len, k = n < room ? n : room;
        memcpy(s->buf + s->len, text, k);
        s->buf[s->len + k] = '\0';
    }
    s->len += n;
    return 0;
}

int rnnrt_lm_sample(RnnrtLm *lm, const char *prefix, int n,
                    double temperature, uint64_t seed, char *buf, size_t cap,
                    size_t *len, RnnrtError *err)
{
    const char *fn = "rnnrt_lm_sample";
    if (len)
        *len = 0;
    int rc = check_lm(lm, fn, err);
    if (!rc)
        rc = check_text(prefix, fn, "prefix", err);
    if (!rc && (!buf || cap == 0))
        rc = bad_arg(err, fn, "buf is NULL or cap is 0");
    if (!rc && n < 0)
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: n is %d; it must be "
                         ">= 0", fn, n);
    if (!rc && !(temperature >= 0 && isfinite(temperature)))
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: the temperature is %g; "
                         "it must be finite and >= 0 (0 = greedy)", fn,
                         temperature);
    if (!rc)
        rc = rnnrt_prefix_encode(&lm->px, lm->m, &lm->v, prefix,
                                 strlen(prefix), err);
    if (rc)
        return rc;
    RnnrtSampleOpts o = {n, temperature, temperature == 0};
    RnnrtRng r;
    rnnrt_rng_init(&r, seed);
    Sink s = {buf, cap, 0};
    buf[0] = '\0';
    emit_buf(&s, prefix);
    unsigned int fpu = rnnrt_fpu_enter();
    rnnrt_gen_text(&lm->gen, &lm->px, &o, &r, emit_buf, &s);
    rnnrt_fpu_leave(fpu);
    if (len)
        *len = s.len;
    if (s.len >= cap)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: the text needs %zu "
                           "bytes and a NUL; buf has %zu", fn, s.len, cap);
    return 0;
}
