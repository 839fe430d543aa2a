/*
 * rnnrt_ngram_sent.c: sentence mode, `ngram eval --sentences`: every line
 * of a text is a sentence <s> t1 .. tn </s>, scored as KenLM's `query`
 * scores it: each of t1 .. tn and </s> from a history that starts at that
 * line's <s> (never reaching into the line before), log10 probabilities
 * summed per sentence and over the text.
 *
 * A line is what ends at "\n" (an "\r" before it is a separator of the
 * word tokenizer, a character of a char model's line); an empty line is
 * the sentence <s> </s>, and a last line without its newline counts. Each
 * line is normalized and tokenized as the model's recipe says (the same
 * rules as rnnrt_corpus.c, applied line by line); a token the vocabulary
 * lacks is <unk>, an OOV. Perplexity is 10^(-log10p / tokens), tokens
 * counting every </s>; "excluding OOVs" leaves out the OOV tokens and
 * their probabilities, as KenLM does.
 */
#include "rnnrt_ngram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t *ids;
    RnnrtToken *tok;
    size_t cap;
} Line;

static void reserve(Line *l, size_t n)
{
    if (n + 2 <= l->cap)
        return;
    free(l->ids);
    free(l->tok);
    l->cap = 2 * (n + 2);
    l->ids = rnnrt_xcalloc(l->cap, sizeof *l->ids, "a sentence's ids");
    l->tok = rnnrt_xcalloc(l->cap, sizeof *l->tok, "a sentence's words");
}

/* The ids of one normalized line into l->ids[1..]; returns their count. */
static size_t encode(Line *l, const RnnrtVocab *v, int words, char *s,
                     size_t len, size_t *nunk)
{
    size_t n;
    if (words) {
        rnnrt_words_lower(s, len);
        n = rnnrt_words_split(s, len, NULL, 0);
        reserve(l, n);
        rnnrt_words_split(s, len, l->tok, n);
        rnnrt_vocab_encode_words(v, s, l->tok, n, l->ids + 1, nunk);
    } else {
        n = rnnrt_utf8_count(s, len);
        reserve(l, n);
        n = rnnrt_vocab_encode_chars(v, s, len, l->ids + 1, n, nunk);
    }
    l->ids[0] = RNNRT_BOS;
    return n;
}

static void score_line(const RnnrtNgram *g, const int32_t *ids, size_t n,
                       RnnrtNgramSentScore *s)
{
    memset(s, 0, sizeof *s);
    s->sentences = 1;
    for (size_t i = 1; i <= n + 1; i++) {
        int32_t w = i <= n ? ids[i] : RNNRT_EOS;
        double lp = rnnrt_ngram_logprob(g, ids, i, w) / log(10.0);
        s->ntokens++;
        if (lp == -INFINITY)
            s->nzero++;
        s->log10p += lp;
        if (w == RNNRT_UNK)
            s->noov++;
        else
            s->log10p_known += lp;
    }
}

static void add(RnnrtNgramSentScore *t, const RnnrtNgramSentScore *s)
{
    t->log10p += s->log10p;
    t->log10p_known += s->log10p_known;
    t->sentences += s->sentences;
    t->ntokens += s->ntokens;
    t->noov += s->noov;
    t->nzero += s->nzero;
}

int rnnrt_ngram_score_lines(const RnnrtNgram *g, const RnnrtVocab *v,
                            const char *path, const char *tokens,
                            const char *normalize, RnnrtNgramSentFn each,
                            void *ctx, RnnrtNgramSentScore *total,
                            RnnrtError *err)
{
    memset(total, 0, sizeof *total);
    RnnrtNorm mode;
    if (rnnrt_norm_parse(normalize, &mode) != 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "unknown normalization '%s' "
                           "(expected none, lower or letters)", normalize);
    if (strcmp(tokens, "char") && strcmp(tokens, "word"))
        return rnnrt_error(err, RNNRT_EXIT_DATA, "unknown tokenizer '%s' "
                           "(expected char or word)", tokens);
    char *text;
    size_t len;
    int rc = path ? rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, &text,
                                    &len, err)
                  : rnnrt_text_read_dir(RNNRT_DEFAULT_CORPUS_DIR, &text, &len,
                                        err);
    if (rc)
        return rc;
    rc = rnnrt_utf8_check(text, len, path ? path : RNNRT_DEFAULT_CORPUS_DIR,
                          mode == RNNRT_NORM_LETTERS, err);
    Line l = {0};
    int words = !strcmp(tokens, "word");
    for (size_t i = 0; !rc && i < len;) {
        char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        size_t unk = 0;
        size_t nlen = rnnrt_text_normalize(text + i, n, mode);
        size_t ntok = encode(&l, v, words, text + i, nlen, &unk);
        RnnrtNgramSentScore s;
        score_line(g, l.ids, ntok, &s);
        add(total, &s);
        if (each)
            rc = each(ctx, total->sentences, &s);
        if (!rc && total->sentences % 4096 == 0)
            rc = rnnrt_signal_exit_code(rnnrt_signal_pending());
        i += n + 1;
    }
    free(l.ids);
    free(l.tok);
    free(text);
    return rc;
}
