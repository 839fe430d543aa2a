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
 * tokenizer (lowercased, punctuation apart). A word the vocabulary lacks is
 * read as <unk>, as rare words were in training, and named on stderr.
 * Generated words are written after the prefix, one space before each.
 */
#include "rnnrt.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_TOKEN 4 /* ids below are the specials */

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
static int encode_prefix(const RnnrtModel *m, const RnnrtVocab *v,
                         const char *prefix, size_t len, int32_t *ids,
                         size_t *n, RnnrtError *err)
{
    if (len == 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the prefix is empty; give at least one character "
                           "with --prefix");
    size_t k = 0;
    for (size_t i = 0; i < len; k++) {
        int cl = rnnrt_utf8_len((unsigned char)prefix[i]);
        int id = rnnrt_vocab_find(v, prefix + i, (size_t)cl);
        if (id < FIRST_TOKEN)
            return unknown_char(m, v, prefix + i, cl, k + 1, err);
        ids[k] = id;
        i += (size_t)cl;
    }
    *n = k;
    return 0;
}

/* The prefix of a word model: ids of its words, <unk> for missing ones. */
static int encode_prefix_words(const RnnrtModel *m, const RnnrtVocab *v,
                               const char *prefix, size_t len, int32_t *ids,
                               size_t *n, RnnrtError *err)
{
    char *text = rnnrt_xcalloc(len + 1, 1, "prefix");
    memcpy(text, prefix, len + 1);
    rnnrt_words_lower(text, len);
    size_t ntok = rnnrt_words_split(text, len, NULL, 0);
    RnnrtToken *tok = rnnrt_xcalloc(ntok + 1, sizeof *tok, "prefix words");
    rnnrt_words_split(text, len, tok, ntok);
    size_t nunk = 0;
    rnnrt_vocab_encode_words(v, text, tok, ntok, ids, &nunk);
    for (size_t i = 0; i < ntok && nunk; i++)
        if (ids[i] == RNNRT_UNK)
            fprintf(stderr, "%s: note: prefix word '%.*s' is not in the "
                    "vocabulary; it is read as <unk>\n", m->name,
                    (int)tok[i].len, text + tok[i].off);
    free(tok);
    free(text);
    if (ntok == 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the prefix has no words; give at least one with "
                           "--prefix");
    *n = ntok;
    return 0;
}

/* The next token: the argmax, or a draw from softmax(logits / T) over the
 * non-special tokens. e (V doubles) keeps each exp for the draw's walk, so
 * each is computed once (the same values as computing them twice). */
static int pick_token(const real *logits, int V, const RnnrtSampleOpts *o,
                      RnnrtRng *r, double *e)
{
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

/* One step: feed token id, carry the state. The model's step entry skips
 * the loss forward computes (same logits); older files lack it. */
static void step(const RnnrtModel *m, RnnrtBuffers *b, int32_t id)
{
    b->x[0] = id;
    b->y[0] = FIRST_TOKEN;
    b->ctx.train = 0; /* no dropout when generating */
    if (m->step)
        m->step(&b->ctx);
    else
        m->forward(&b->ctx);
    memcpy(b->state_in, b->state_out, (size_t)b->S * sizeof(real));
}

static int interrupted(void)
{
    return rnnrt_signal_exit_code(rnnrt_signal_pending());
}

int rnnrt_sample(const RnnrtModel *m, const RnnrtParams *p,
                 const RnnrtVocab *v, const char *prefix,
                 const RnnrtSampleOpts *o, RnnrtRng *r, FILE *out,
                 RnnrtError *err)
{
    if (v->size <= FIRST_TOKEN)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "the vocabulary is empty");
    if (!o->greedy && !(o->temperature > 0))
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "the temperature must be positive");
    int words = m->recipe.tokens && strcmp(m->recipe.tokens, "word") == 0;
    size_t len = strlen(prefix), n = 0;
    int rc = rnnrt_utf8_check(prefix, len, "prefix", 0, err);
    if (rc)
        return rc;
    int32_t *ids = rnnrt_xcalloc(len + 1, sizeof *ids, "prefix");
    rc = words ? encode_prefix_words(m, v, prefix, len, ids, &n, err)
               : encode_prefix(m, v, prefix, len, ids, &n, err);
    RnnrtBuffers b;
    if (!rc)
        rc = rnnrt_buffers_init(&b, m, p, 1, 1, v->size, err);
    if (rc) {
        free(ids);
        return rc;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        rc = interrupted();
        if (!rc)
            step(m, &b, ids[i]);
    }
    fputs(prefix, out);
    double *e = rnnrt_xcalloc((size_t)v->size, sizeof *e, "softmax");
    for (int k = 0; k < o->len && !rc; k++) {
        rc = interrupted();
        if (rc)
            break;
        int id = pick_token(b.ctx.logits, v->size, o, r, e);
        if (words)
            fputc(' ', out);
        fputs(v->tokens[id], out);
        step(m, &b, id);
    }
    fputc('\n', out);
    fflush(out);
    free(e);
    rnnrt_buffers_free(&b);
    free(ids);
    return rc;
}
