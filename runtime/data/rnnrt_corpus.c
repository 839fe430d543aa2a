/*
 * rnnrt_corpus.c: the data pipeline of a language model, in order:
 *
 *   file (or the default corpus) -> UTF-8 check -> normalize -> char tokens
 *   (or, for tokens: word, lowercase and words as in rnnrt_words.c)
 *   -> split (first floor(n * split) tokens train, the rest validation)
 *   -> vocabulary (from the training split, dropping tokens seen fewer than
 *      min_freq times; or given by a checkpoint)
 *   -> ids
 *
 * The UTF-8 check runs on the raw bytes so that its line:col points into
 * the file the user has. The split is taken on the normalized token stream,
 * as int(len(ids) * 0.9) in the reference. Validation tokens missing from
 * the vocabulary become <unk> and are counted (so are training tokens when
 * the vocabulary comes from a checkpoint and the corpus changed).
 */
#include "rnnrt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *tokens, *normalize;
    double split;
    int min_freq;
} Recipe;

static int check_recipe(const Recipe *r, RnnrtNorm *mode, RnnrtError *err)
{
    const char *tokens = r->tokens, *normalize = r->normalize;
    double split = r->split;
    if (tokens && strcmp(tokens, "char") && strcmp(tokens, "word"))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "unknown tokenizer '%s' (expected char or word)",
                           tokens);
    if (rnnrt_norm_parse(normalize, mode) != 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "unknown normalization '%s' (expected none, "
                           "lower or letters)", normalize);
    if (!(split > 0 && split < 1))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "split must be between 0 and 1 (exclusive), not "
                           "%g", split);
    return 0;
}

/* Byte offset of character number k (valid UTF-8). */
static size_t char_offset(const char *text, size_t len, size_t k)
{
    size_t i = 0;
    for (; i < len && k > 0; k--)
        i += (size_t)rnnrt_utf8_len((unsigned char)text[i]);
    return i < len ? i : len;
}

static void copy_vocab(RnnrtVocab *dst, const RnnrtVocab *src)
{
    rnnrt_vocab_init(dst);
    for (int i = 4; i < src->size; i++)
        rnnrt_vocab_add(dst, src->tokens[i], strlen(src->tokens[i]),
                        src->counts[i]);
}

/* min_freq must leave at least one corpus token in the vocabulary. (An
 * empty training split is the caller's to report, with the sizes it
 * needs.) */
static int check_vocab(const RnnrtCorpus *c, const Recipe *r,
                       const char *path, size_t distinct, RnnrtError *err)
{
    if (c->vocab.size > 4 || distinct == 0)
        return 0;
    const char *what = r->tokens && !strcmp(r->tokens, "word") ? "word"
                                                               : "character";
    return rnnrt_error(err, RNNRT_EXIT_DATA,
                       "min_freq %d leaves an empty vocabulary: none of the "
                       "%zu distinct %s tokens of the training split of "
                       "'%s' occurs %d times or more; lower data.min_freq",
                       r->min_freq, distinct, what, path, r->min_freq);
}

/* chars: text -> c->ids and (unless given) c->vocab */
static int load_chars(RnnrtCorpus *c, const Recipe *r, const char *path,
                      char *text, size_t len, const RnnrtVocab *vocab,
                      RnnrtError *err)
{
    c->n = rnnrt_utf8_count(text, len);
    c->ntrain = (size_t)floor((double)c->n * r->split);
    size_t cut = char_offset(text, len, c->ntrain);
    if (vocab) {
        copy_vocab(&c->vocab, vocab);
    } else {
        rnnrt_vocab_build_chars(&c->vocab, text, cut);
        size_t distinct = (size_t)c->vocab.size - 4;
        if (r->min_freq > 1)
            rnnrt_vocab_prune(&c->vocab, r->min_freq);
        int rc = check_vocab(c, r, path, distinct, err);
        if (rc)
            return rc;
    }
    c->ids = rnnrt_xcalloc(c->n + 1, sizeof *c->ids, "corpus token ids");
    size_t k = rnnrt_vocab_encode_chars(&c->vocab, text, cut, c->ids,
                                        c->ntrain, &c->unk_train);
    k += rnnrt_vocab_encode_chars(&c->vocab, text + cut, len - cut,
                                  c->ids + k, c->n - k, &c->unk_valid);
    if (k != c->n)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "internal error: encoded %zu of %zu tokens", k,
                           c->n);
    return 0;
}

/* words: text -> c->ids and (unless given) c->vocab */
static int load_words(RnnrtCorpus *c, const Recipe *r, const char *path,
                      char *text, size_t len, const RnnrtVocab *vocab,
                      RnnrtError *err)
{
    rnnrt_words_lower(text, len);
    c->n = rnnrt_words_split(text, len, NULL, 0);
    RnnrtToken *tok = rnnrt_xcalloc(c->n + 1, sizeof *tok, "word tokens");
    rnnrt_words_split(text, len, tok, c->n);
    c->ntrain = (size_t)floor((double)c->n * r->split);
    int rc = 0;
    if (vocab) {
        copy_vocab(&c->vocab, vocab);
    } else {
        size_t distinct = rnnrt_vocab_build_words(&c->vocab, text, tok,
                                                  c->ntrain, r->min_freq);
        rc = check_vocab(c, r, path, distinct, err);
    }
    if (!rc) {
        c->ids = rnnrt_xcalloc(c->n + 1, sizeof *c->ids, "corpus token ids");
        rnnrt_vocab_encode_words(&c->vocab, text, tok, c->ntrain, c->ids,
                                 &c->unk_train);
        rnnrt_vocab_encode_words(&c->vocab, text, tok + c->ntrain,
                                 c->n - c->ntrain, c->ids + c->ntrain,
                                 &c->unk_valid);
    }
    free(tok);
    return rc;
}

static int load(RnnrtCorpus *c, const char *path, const Recipe *r,
                const RnnrtVocab *vocab, RnnrtError *err)
{
    memset(c, 0, sizeof *c);
    RnnrtNorm mode;
    int rc = check_recipe(r, &mode, err);
    if (rc)
        return rc;
    char *text;
    size_t len;
    rc = path ? rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, &text, &len, err)
              : rnnrt_text_read_dir(RNNRT_DEFAULT_CORPUS_DIR, &text, &len, err);
    if (rc)
        return rc;
    const char *where = path ? path : RNNRT_DEFAULT_CORPUS_DIR;
    c->hash = rnnrt_fnv1a(RNNRT_FNV_INIT, text, len);
    rc = rnnrt_utf8_check(text, len, where, mode == RNNRT_NORM_LETTERS, err);
    if (!rc) {
        len = rnnrt_text_normalize(text, len, mode);
        int words = r->tokens && !strcmp(r->tokens, "word");
        rc = words ? load_words(c, r, where, text, len, vocab, err)
                   : load_chars(c, r, where, text, len, vocab, err);
    }
    free(text);
    if (rc)
        rnnrt_corpus_free(c);
    return rc;
}

int rnnrt_corpus_load(RnnrtCorpus *c, const char *path, const char *tokens,
                      const char *normalize, double split,
                      const RnnrtVocab *vocab, RnnrtError *err)
{
    Recipe r = {tokens, normalize, split, 1};
    return load(c, path, &r, vocab, err);
}

int rnnrt_corpus_load_recipe(RnnrtCorpus *c, const char *path,
                             const RnnrtRecipe *recipe,
                             const RnnrtVocab *vocab, RnnrtError *err)
{
    Recipe r = {recipe->tokens, recipe->normalize, recipe->split,
                recipe->min_freq > 1 ? recipe->min_freq : 1};
    return load(c, path, &r, vocab, err);
}

void rnnrt_corpus_free(RnnrtCorpus *c)
{
    rnnrt_vocab_free(&c->vocab);
    free(c->ids);
    memset(c, 0, sizeof *c);
}
