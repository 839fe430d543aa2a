/*
 * rnnrt_corpus.c: the data pipeline of a language model, in order:
 *
 *   file (or the default corpus) -> UTF-8 check -> normalize -> char tokens
 *   -> split (first floor(n * split) tokens train, the rest validation)
 *   -> vocabulary (from the training split, or given by a checkpoint)
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

static int check_recipe(const char *tokens, const char *normalize,
                        double split, RnnrtNorm *mode, RnnrtError *err)
{
    if (tokens && !strcmp(tokens, "word"))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "tokens: word is not supported by this runtime "
                           "yet; use tokens: char");
    if (tokens && strcmp(tokens, "char"))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "unknown tokenizer '%s' (expected char)", tokens);
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

int rnnrt_corpus_load(RnnrtCorpus *c, const char *path, const char *tokens,
                      const char *normalize, double split,
                      const RnnrtVocab *vocab, RnnrtError *err)
{
    memset(c, 0, sizeof *c);
    RnnrtNorm mode;
    int rc = check_recipe(tokens, normalize, split, &mode, err);
    if (rc)
        return rc;
    char *text;
    size_t len;
    rc = path ? rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, &text, &len, err)
              : rnnrt_text_read_dir(RNNRT_DEFAULT_CORPUS_DIR, &text, &len, err);
    if (rc)
        return rc;
    c->hash = rnnrt_fnv1a(RNNRT_FNV_INIT, text, len);
    rc = rnnrt_utf8_check(text, len, path ? path : RNNRT_DEFAULT_CORPUS_DIR,
                          mode == RNNRT_NORM_LETTERS, err);
    if (rc) {
        free(text);
        return rc;
    }
    len = rnnrt_text_normalize(text, len, mode);
    c->n = rnnrt_utf8_count(text, len);
    c->ntrain = (size_t)floor((double)c->n * split);
    size_t cut = char_offset(text, len, c->ntrain);
    if (vocab)
        copy_vocab(&c->vocab, vocab);
    else
        rnnrt_vocab_build_chars(&c->vocab, text, cut);
    c->ids = rnnrt_xcalloc(c->n + 1, sizeof *c->ids, "corpus token ids");
    size_t k = rnnrt_vocab_encode_chars(&c->vocab, text, cut, c->ids,
                                        c->ntrain, &c->unk_train);
    k += rnnrt_vocab_encode_chars(&c->vocab, text + cut, len - cut,
                                  c->ids + k, c->n - k, &c->unk_valid);
    free(text);
    if (k != c->n) {
        rnnrt_corpus_free(c);
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "internal error: encoded %zu of %zu tokens", k,
                           c->n);
    }
    return 0;
}

void rnnrt_corpus_free(RnnrtCorpus *c)
{
    rnnrt_vocab_free(&c->vocab);
    free(c->ids);
    memset(c, 0, sizeof *c);
}
