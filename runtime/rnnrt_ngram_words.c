/*
 * rnnrt_ngram_words.c: corpora for the n-gram models, including the word
 * tokenizer the shared corpus pipeline does not have yet.
 *
 * `tokens: char` goes straight to rnnrt_corpus_load, so the n-gram models
 * see exactly the neural models' ids. `tokens: word` follows the same
 * steps in the same order, with words instead of characters:
 *
 *   file (or the default corpus) -> UTF-8 check -> normalize -> lowercase
 *   -> word spans -> split (first floor(n * split) words train) ->
 *   vocabulary (specials, then training words by decreasing count, ties in
 *   byte order; or a given vocabulary) -> ids (missing words -> <unk>)
 *
 * The word rules are in rnnrt_ngram.h. They are deliberately simple and
 * byte based: ASCII punctuation splits, non-ASCII characters are word
 * characters (so "café" is one word), and only ASCII is lowercased.
 */
#include "rnnrt_ngram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f' || c == 0;
}

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c >= 0x80;
}

size_t rnnrt_word_spans(const char *text, size_t len, RnnrtSpan *out,
                        size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, i = 0;
    while (i < len) {
        if (is_space(s[i])) {
            i++;
            continue;
        }
        size_t start = i++;
        if (is_word(s[start]))
            while (i < len && (is_word(s[i]) || (s[i] == '\'' && i + 1 < len
                                                 && is_word(s[i + 1]))))
                i++;
        if (out && n < max)
            out[n] = (RnnrtSpan){start, i - start};
        n++;
    }
    return n;
}

static void lowercase(char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] >= 'A' && text[i] <= 'Z')
            text[i] = (char)(text[i] - 'A' + 'a');
}

/* ---- the vocabulary of the training words ---- */

typedef struct {
    const char *tok;
    int64_t count;
} Entry;

static int by_count(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->tok, y->tok);
}

static void build_word_vocab(RnnrtVocab *v, const char *text,
                             const RnnrtSpan *sp, size_t n)
{
    RnnrtVocab tally;
    rnnrt_vocab_init(&tally);
    for (size_t i = 0; i < n; i++) {
        int id = rnnrt_vocab_find(&tally, text + sp[i].off, sp[i].len);
        if (id < 0)
            rnnrt_vocab_add(&tally, text + sp[i].off, sp[i].len, 1);
        else
            tally.counts[id]++;
    }
    size_t nw = (size_t)tally.size - 4;
    Entry *e = rnnrt_xcalloc(nw + 1, sizeof *e, "word vocabulary");
    for (size_t i = 0; i < nw; i++)
        e[i] = (Entry){tally.tokens[i + 4], tally.counts[i + 4]};
    qsort(e, nw, sizeof *e, by_count);
    rnnrt_vocab_init(v);
    for (size_t i = 0; i < nw; i++)
        rnnrt_vocab_add(v, e[i].tok, strlen(e[i].tok), e[i].count);
    free(e);
    rnnrt_vocab_free(&tally);
}

static void copy_vocab(RnnrtVocab *dst, const RnnrtVocab *src)
{
    rnnrt_vocab_init(dst);
    for (int i = 4; i < src->size; i++)
        rnnrt_vocab_add(dst, src->tokens[i], strlen(src->tokens[i]),
                        src->counts[i]);
}

/* ---- word corpora ---- */

static int read_text(const char *path, RnnrtNorm mode, char **text,
                     size_t *len, uint64_t *hash, RnnrtError *err)
{
    int rc = path ? rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, text, len,
                                    err)
                  : rnnrt_text_read_dir(RNNRT_DEFAULT_CORPUS_DIR, text, len,
                                        err);
    if (rc)
        return rc;
    *hash = rnnrt_fnv1a(RNNRT_FNV_INIT, *text, *len);
    rc = rnnrt_utf8_check(*text, *len, path ? path : RNNRT_DEFAULT_CORPUS_DIR,
                          mode == RNNRT_NORM_LETTERS, err);
    if (rc) {
        free(*text);
        return rc;
    }
    *len = rnnrt_text_normalize(*text, *len, mode);
    lowercase(*text, *len);
    return 0;
}

static void encode_words(RnnrtCorpus *c, const char *text,
                         const RnnrtSpan *sp)
{
    for (size_t i = 0; i < c->n; i++) {
        int id = rnnrt_vocab_find(&c->vocab, text + sp[i].off, sp[i].len);
        if (id < 0) {
            id = RNNRT_UNK;
            if (i < c->ntrain)
                c->unk_train++;
            else
                c->unk_valid++;
        }
        c->ids[i] = id;
    }
}

static int load_words(RnnrtCorpus *c, const char *path, const char *normalize,
                      double split, const RnnrtVocab *vocab, RnnrtError *err)
{
    RnnrtNorm mode;
    if (rnnrt_norm_parse(normalize, &mode) != 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "unknown normalization '%s' (expected none, "
                           "lower or letters)", normalize);
    if (!(split > 0 && split < 1))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "split must be between 0 and 1 (exclusive), not "
                           "%g", split);
    char *text;
    size_t len;
    int rc = read_text(path, mode, &text, &len, &c->hash, err);
    if (rc)
        return rc;
    c->n = rnnrt_word_spans(text, len, NULL, 0);
    RnnrtSpan *sp = rnnrt_xcalloc(c->n + 1, sizeof *sp, "word spans");
    rnnrt_word_spans(text, len, sp, c->n);
    c->ntrain = (size_t)floor((double)c->n * split);
    if (vocab)
        copy_vocab(&c->vocab, vocab);
    else
        build_word_vocab(&c->vocab, text, sp, c->ntrain);
    c->ids = rnnrt_xcalloc(c->n + 1, sizeof *c->ids, "corpus token ids");
    encode_words(c, text, sp);
    free(sp);
    free(text);
    return 0;
}

int rnnrt_ngram_corpus_load(RnnrtCorpus *c, const char *path,
                            const char *tokens, const char *normalize,
                            double split, const RnnrtVocab *vocab,
                            RnnrtError *err)
{
    memset(c, 0, sizeof *c);
    if (!tokens || !strcmp(tokens, "char"))
        return rnnrt_corpus_load(c, path, "char", normalize, split, vocab,
                                 err);
    if (strcmp(tokens, "word"))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "unknown tokenizer '%s' (expected char or word)",
                           tokens);
    int rc = load_words(c, path, normalize, split, vocab, err);
    if (rc)
        rnnrt_corpus_free(c);
    return rc;
}

/* ---- sampling prefixes ---- */

static int missing(RnnrtError *err, const char *what, const char *tok,
                   size_t len, size_t at)
{
    return rnnrt_error(err, RNNRT_EXIT_DATA,
                       "the prefix's %s %zu, '%.*s', is not in the model's "
                       "vocabulary", what, at + 1, (int)len, tok);
}

static int encode_prefix_chars(const RnnrtVocab *v, const char *text,
                               size_t len, int32_t *ids, size_t *n,
                               RnnrtError *err)
{
    size_t k = 0;
    for (size_t i = 0; i < len; k++) {
        size_t cl = (size_t)rnnrt_utf8_len((unsigned char)text[i]);
        int id = rnnrt_vocab_find(v, text + i, cl);
        if (id < 0)
            return missing(err, "character", text + i, cl, k);
        ids[k] = id;
        i += cl;
    }
    *n = k;
    return 0;
}

static int encode_prefix_words(const RnnrtVocab *v, const char *text,
                               size_t len, int32_t *ids, size_t *n,
                               RnnrtError *err)
{
    size_t nw = rnnrt_word_spans(text, len, NULL, 0);
    RnnrtSpan *sp = rnnrt_xcalloc(nw + 1, sizeof *sp, "word spans");
    rnnrt_word_spans(text, len, sp, nw);
    int rc = 0;
    for (size_t i = 0; i < nw && !rc; i++) {
        int id = rnnrt_vocab_find(v, text + sp[i].off, sp[i].len);
        if (id < 0)
            rc = missing(err, "word", text + sp[i].off, sp[i].len, i);
        ids[i] = id;
    }
    free(sp);
    *n = nw;
    return rc;
}

int rnnrt_ngram_encode_prefix(const RnnrtVocab *v, const char *tokens,
                              const char *normalize, const char *text,
                              int32_t **ids, size_t *n, RnnrtError *err)
{
    RnnrtNorm mode;
    if (rnnrt_norm_parse(normalize, &mode) != 0)
        mode = RNNRT_NORM_NONE;
    size_t len = strlen(text);
    int rc = rnnrt_utf8_check(text, len, "prefix", 0, err);
    if (rc)
        return rc;
    char *copy = rnnrt_xcalloc(len + 1, 1, "prefix");
    memcpy(copy, text, len);
    len = rnnrt_text_normalize(copy, len, mode);
    int word = tokens && !strcmp(tokens, "word");
    if (word)
        lowercase(copy, len);
    *ids = rnnrt_xcalloc(len + 1, sizeof **ids, "prefix ids");
    rc = word ? encode_prefix_words(v, copy, len, *ids, n, err)
              : encode_prefix_chars(v, copy, len, *ids, n, err);
    free(copy);
    if (rc) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}
