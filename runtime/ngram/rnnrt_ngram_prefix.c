/*
 * rnnrt_ngram_prefix.c: the text that `sample --prefix` continues, as ids.
 *
 * The prefix goes through the corpus pipeline of the saved model, so that
 * it is tokenized exactly as the training text was: UTF-8 check ->
 * normalize (the recipe's mode) -> char tokens, or for `tokens: word`
 * rnnrt_words_lower + rnnrt_words_split, the shared word tokenizer of
 * rnnrt_corpus_load_recipe (rule in rnnrt.h). Unlike the corpus, a prefix
 * token missing from the vocabulary is not mapped to <unk>: the user
 * typed it, so the error names it.
 */
#include "rnnrt_ngram.h"

#include <stdlib.h>
#include <string.h>

static int missing(RnnrtError *err, const char *what, const char *tok,
                   size_t len, size_t at)
{
    return rnnrt_error(err, RNNRT_EXIT_DATA,
                       "the prefix's %s %zu, '%.*s', is not in the model's "
                       "vocabulary", what, at + 1, (int)len, tok);
}

static int encode_chars(const RnnrtVocab *v, const char *text, size_t len,
                        int32_t *ids, size_t *n, RnnrtError *err)
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

/* text is lowercased in place first, as the corpus is. */
static int encode_words(const RnnrtVocab *v, char *text, size_t len,
                        int32_t *ids, size_t *n, RnnrtError *err)
{
    rnnrt_words_lower(text, len);
    size_t nw = rnnrt_words_split(text, len, NULL, 0);
    RnnrtToken *tok = rnnrt_xcalloc(nw + 1, sizeof *tok, "prefix words");
    rnnrt_words_split(text, len, tok, nw);
    int rc = 0;
    for (size_t i = 0; i < nw && !rc; i++) {
        int id = rnnrt_vocab_find(v, text + tok[i].off, tok[i].len);
        if (id < 0)
            rc = missing(err, "word", text + tok[i].off, tok[i].len, i);
        ids[i] = id;
    }
    free(tok);
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
    *ids = rnnrt_xcalloc(len + 1, sizeof **ids, "prefix ids");
    rc = tokens && !strcmp(tokens, "word")
             ? encode_words(v, copy, len, *ids, n, err)
             : encode_chars(v, copy, len, *ids, n, err);
    free(copy);
    if (rc) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}
