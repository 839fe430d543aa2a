/*
 * rnnrt_sample.c: generating text from a trained model.
 *
 * The prefix is fed one token at a time (forward with B = 1, T = 1,
 * carrying the state), then each next token is drawn from
 * softmax(logits / temperature), or taken as the argmax with greedy, and fed
 * back. The special tokens <unk> <pad> <bos> <eos> are masked out, so the
 * output is always text. The prefix is not normalized: a character the
 * vocabulary lacks is an error naming it and its position, because silently
 * mapping it to <unk> would condition the model on something else.
 *
 * Word models (`tokens: word`) split the prefix with the training's word
 * tokenizer (lowercased, punctuation apart; `tokens: whitespace`: at
 * whitespace, as written). A word the vocabulary lacks is
 * read as <unk>, as rare words were in training, and named on stderr.
 * Generated words are written after the prefix, one space before each.
 *
 * The work is done by pieces that do not print (RnnrtTextIds,
 * RnnrtGen, rnnrt_gen_text), shared with the C API (rnnrt_api_lm.c);
 * rnnrt_sample, the trainers' `sample`, adds the notes, the output file
 * and the signal polling.
 */
#include "rnnrt.h"

#include <errno.h>

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_TOKEN 4 /* ids below are the specials */

/* ---- the prefix ---- */

/* The error for a prefix character the vocabulary lacks; an uppercase
 * letter gets a hint when the recipe lowercased the training text. */
static int unknown_char(const RnnrtModel *m, const RnnrtVocab *v,
                        const char *c, int len, size_t pos, RnnrtError *err)
{
    const char *norm = m->recipe.normalize;
    int lowered = norm && strcmp(norm, "none") && len == 1 && *c >= 'A' &&
                  *c <= 'Z';
    return rnnrt_error(err, RNNRT_EXIT_DATA,
                       "character '%.*s' at position %zu of the prefix is not "
                       "in the model's vocabulary of %d characters%s%s%s",
                       len, c, pos, v->size - FIRST_TOKEN,
                       lowered ? "; the training text was lowercased "
                                 "(normalize: " : "",
                       lowered ? norm : "", lowered ? ")" : "");
}

/* Encodes prefix (valid UTF-8 of len bytes) with v, refusing characters
 * it does not know. */
static int encode_chars(RnnrtTextIds *px, const RnnrtModel *m,
                        const RnnrtVocab *v, const char *prefix, size_t len,
                        RnnrtError *err)
{
    if (len == 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the prefix is empty; give at least one "
                           "character");
    size_t k = 0;
    for (size_t i = 0; i < len; k++) {
        int cl = rnnrt_utf8_len((unsigned char)prefix[i]);
        int id = rnnrt_vocab_find(v, prefix + i, (size_t)cl);
        if (id < FIRST_TOKEN)
            return unknown_char(m, v, prefix + i, cl, k + 1, err);
        px->ids[k] = id;
        i += (size_t)cl;
    }
    px->n = k;
    return 0;
}

/* The prefix of a word model: ids of its words, <unk> for missing ones. */
static int encode_words(RnnrtTextIds *px, int kind, const RnnrtVocab *v,
                        const char *prefix, size_t len, RnnrtError *err)
{
    memcpy(px->text, prefix, len);
    px->text[len] = '\0';
    if (kind == RNNRT_TOKENS_WORD)
        rnnrt_words_lower(px->text, len);
    /* a text of len bytes has at most len words: tok has room */
    px->n = rnnrt_tokens_split(kind, 0, px->text, len, px->tok, px->cap);
    rnnrt_vocab_encode_words(v, px->text, px->tok, px->n, px->ids,
                             &px->nunk);
    if (px->n == 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the prefix has no words; give at least one");
    return 0;
}

/* Room for a text of len bytes: len + 1 bytes, ids and words. */
int rnnrt_text_ids_reserve(RnnrtTextIds *px, size_t len, RnnrtError *err)
{
    if (len < px->cap)
        return 0;
    size_t cap = len + 1, bytes;
    if (rnnrt_size_mul(cap, sizeof(RnnrtToken), &bytes) != 0)
        return rnnrt_error(err, RNNRT_EXIT_IO, "a text of %zu bytes is "
                           "too long", len);
    char *text = realloc(px->text, cap);
    if (text)
        px->text = text;
    int32_t *ids = text ? realloc(px->ids, cap * sizeof *ids) : NULL;
    if (ids)
        px->ids = ids;
    RnnrtToken *tok = ids ? realloc(px->tok, bytes) : NULL;
    if (!tok)
        return rnnrt_error(err, RNNRT_EXIT_IO, "out of memory for a text "
                           "of %zu bytes", len);
    px->tok = tok;
    px->cap = cap;
    return 0;
}

int rnnrt_prefix_encode(RnnrtTextIds *px, const RnnrtModel *m,
                        const RnnrtVocab *v, const char *prefix, size_t len,
                        RnnrtError *err)
{
    px->n = px->nunk = 0;
    if (v->size <= FIRST_TOKEN)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "the vocabulary is empty");
    int rc = rnnrt_utf8_check(prefix, len, "prefix", 0, err);
    if (!rc)
        rc = rnnrt_text_ids_reserve(px, len, err);
    if (rc)
        return rc;
    int kind = rnnrt_tokens_kind(m->recipe.tokens);
    return kind > RNNRT_TOKENS_CHAR ? encode_words(px, kind, v, prefix, len,
                                                   err)
                                    : encode_chars(px, m, v, prefix, len, err);
}

void rnnrt_text_ids_free(RnnrtTextIds *px)
{
    free(px->ids);
    free(px->text);
    free(px->tok);
    memset(px, 0, sizeof *px);
}

/* ---- stepping ---- */

int rnnrt_gen_init(RnnrtGen *g, const RnnrtModel *m, const RnnrtParams *p,
                   const RnnrtVocab *v, RnnrtError *err)
{
    memset(g, 0, sizeof *g);
    g->m = m; /* first: rnnrt_gen_free then frees whatever follows */
    g->v = v;
    int rc = rnnrt_buffers_init(&g->b, m, p, 1, 1, v->size, err);
    if (rc)
        return rc;
    g->e = rnnrt_xcalloc((size_t)v->size, sizeof *g->e, "softmax");
    g->b.ctx.train = 0; /* no dropout when generating */
    return 0;
}

void rnnrt_gen_free(RnnrtGen *g)
{
    if (g->m)
        rnnrt_buffers_free(&g->b);
    free(g->e);
    memset(g, 0, sizeof *g);
}

void rnnrt_gen_reset(RnnrtGen *g)
{
    memset(g->b.state_in, 0, (size_t)g->b.S * sizeof(real));
    g->fed = 0;
}

/* One step: feed token id, carry the state. The model's step entry skips
 * the loss forward computes (same logits); older files lack it. */
void rnnrt_gen_feed(RnnrtGen *g, int32_t id)
{
    RnnrtBuffers *b = &g->b;
    b->x[0] = id;
    b->y[0] = FIRST_TOKEN;
    if (g->m->step)
        g->m->step(&b->ctx);
    else
        g->m->forward(&b->ctx);
    memcpy(b->state_in, b->state_out, (size_t)b->S * sizeof(real));
    g->fed++;
}

/* The next token: the argmax, or a draw from softmax(logits / T) over the
 * non-special tokens. e (V doubles) keeps each exp for the draw's walk, so
 * each is computed once (the same values as computing them twice). */
int32_t rnnrt_gen_pick(RnnrtGen *g, const RnnrtSampleOpts *o, RnnrtRng *r)
{
    const real *logits = g->b.ctx.logits;
    int V = g->v->size;
    double *e = g->e;
    int best = FIRST_TOKEN;
    for (int v = FIRST_TOKEN + 1; v < V; v++)
        if (logits[v] > logits[best])
            best = v;
    if (o->greedy)
        return best;
    double mx = logits[best], sum = 0;
    for (int v = FIRST_TOKEN; v < V; v++) {
        e[v] = exp(((double)logits[v] - mx) / o->temperature);
        sum += e[v];
    }
    double u = rnnrt_rng_uniform(r) * sum;
    for (int v = FIRST_TOKEN; v < V; v++) {
        u -= e[v];
        if (u < 0)
            return v;
    }
    return best; /* rounding left u >= 0 */
}

int rnnrt_gen_text(RnnrtGen *g, const RnnrtTextIds *px,
                   const RnnrtSampleOpts *o, RnnrtRng *r, RnnrtEmitFn emit,
                   void *ctx)
{
    int words = rnnrt_tokens_kind(g->m->recipe.tokens) > RNNRT_TOKENS_CHAR;
    rnnrt_gen_reset(g);
    for (size_t i = 0; i < px->n; i++)
        rnnrt_gen_feed(g, px->ids[i]);
    int rc = 0;
    for (int k = 0; k < o->len && !rc; k++) {
        int32_t id = rnnrt_gen_pick(g, o, r);
        if (words)
            rc = emit(ctx, " ");
        if (!rc)
            rc = emit(ctx, g->v->tokens[id]);
        if (!rc)
            rnnrt_gen_feed(g, id);
    }
    return rc;
}

/* ---- the trainers' sample ---- */

/* Writes a token to the FILE ctx unless a signal is pending. */
static int emit_file(void *ctx, const char *text)
{
    int rc = rnnrt_signal_exit_code(rnnrt_signal_pending());
    if (!rc)
        fputs(text, (FILE *)ctx);
    return rc;
}

/* The notes for the prefix words read as <unk>. */
static void note_unknown(const RnnrtModel *m, const RnnrtTextIds *px)
{
    for (size_t i = 0; i < px->n && px->nunk; i++)
        if (px->ids[i] == RNNRT_UNK)
            fprintf(stderr, "%s: note: prefix word '%.*s' is not in the "
                    "vocabulary; it is read as <unk>\n", m->name,
                    (int)px->tok[i].len, px->text + px->tok[i].off);
}

int rnnrt_sample(const RnnrtModel *m, const RnnrtParams *p,
                 const RnnrtVocab *v, const char *prefix,
                 const RnnrtSampleOpts *o, RnnrtRng *r, FILE *out,
                 RnnrtError *err)
{
    if (!o->greedy && !(o->temperature > 0))
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "the temperature must be positive");
    RnnrtTextIds px = {0};
    RnnrtGen g = {0};
    int rc = rnnrt_prefix_encode(&px, m, v, prefix, strlen(prefix), err);
    if (!rc)
        rc = rnnrt_gen_init(&g, m, p, v, err);
    if (!rc) {
        note_unknown(m, &px);
        fputs(prefix, out);
        rc = rnnrt_gen_text(&g, &px, o, r, emit_file, out);
        fputc('\n', out);
        if (fflush(out) != 0 && !rc) /* a full disk, /dev/full */
            rc = rnnrt_error(err, RNNRT_EXIT_IO,
                             "cannot write the sample: %s", strerror(errno));
    }
    rnnrt_gen_free(&g);
    rnnrt_text_ids_free(&px);
    return rc;
}
