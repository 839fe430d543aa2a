/*
 * rnnrt_corpus.c: the data pipeline of a language model, in order:
 *
 *   file (or the default corpus) -> UTF-8 check -> normalize -> char tokens
 *   (or, for tokens: word, lowercase and words as in rnnrt_words.c; for
 *   tokens: whitespace, the tokens as written; with eos, <eos> after
 *   every line)
 *   -> split (first floor(n * split) tokens train, the rest validation;
 *      with a validation file, the whole file trains)
 *   -> vocabulary (from the training split, dropping tokens seen fewer than
 *      min_freq times, then all but the max_vocab most frequent ids; or
 *      given by a checkpoint)
 *   -> ids (then the validation and test files', read the same way and
 *      encoded with that vocabulary)
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
    int min_freq, eos, max_vocab;
    const char *valid, *test;
} Recipe;

static int check_recipe(const Recipe *r, RnnrtNorm *mode, int *kind,
                        RnnrtError *err)
{
    const char *tokens = r->tokens, *normalize = r->normalize;
    double split = r->split;
    *kind = tokens ? rnnrt_tokens_kind(tokens) : RNNRT_TOKENS_CHAR;
    if (*kind < 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "unknown tokenizer '%s' (expected char, word or "
                           "whitespace)", tokens);
    if (rnnrt_norm_parse(normalize, mode) != 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "unknown normalization '%s' (expected none, "
                           "lower or letters)", normalize);
    if (!(split > 0 && split < 1))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "split must be between 0 and 1 (exclusive), not "
                           "%g", split);
    if (r->eos && *kind == RNNRT_TOKENS_CHAR)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "eos needs word or "
                           "whitespace tokens (a character model reads the "
                           "line ends as characters)");
    if (r->max_vocab < 0 || (r->max_vocab > 0 && r->max_vocab < 5))
        return rnnrt_error(err, RNNRT_EXIT_DATA, "max_vocab %d leaves no "
                           "room for a corpus token after the 4 specials "
                           "<unk> <pad> <bos> <eos>; give 5 or more (0 = no "
                           "cap)", r->max_vocab);
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

/* One file's normalized text and its tokens (chars: tok NULL, n chars). */
typedef struct {
    char *text;
    size_t len;
    RnnrtToken *tok;
    size_t n;
} Text;

static void text_free(Text *t)
{
    free(t->text);
    free(t->tok);
    memset(t, 0, sizeof *t);
}

/* path (NULL = the default corpus) -> t; *hash (if not NULL) continues
 * over the raw bytes. `what` names a file other than the corpus in
 * errors ("the validation file "). */
static int text_read(Text *t, const char *path, const char *what,
                     const Recipe *r, int kind, RnnrtNorm mode,
                     uint64_t *hash, RnnrtError *err)
{
    memset(t, 0, sizeof *t);
    int rc = path ? rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, &t->text,
                                    &t->len, err)
                  : rnnrt_text_read_dir(RNNRT_DEFAULT_CORPUS_DIR, &t->text,
                                        &t->len, err);
    if (!rc) {
        const char *where = path ? path : RNNRT_DEFAULT_CORPUS_DIR;
        if (hash)
            *hash = rnnrt_fnv1a(*hash, t->text, t->len);
        rc = rnnrt_utf8_check(t->text, t->len, where,
                              mode == RNNRT_NORM_LETTERS, err);
    }
    if (rc) {
        if (what && err) { /* say which file it is */
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            rnnrt_error(err, rc, "%s%s", what, msg);
        }
        text_free(t);
        return rc;
    }
    t->len = rnnrt_text_normalize(t->text, t->len, mode);
    if (kind == RNNRT_TOKENS_CHAR) {
        t->n = rnnrt_utf8_count(t->text, t->len);
        return 0;
    }
    if (kind == RNNRT_TOKENS_WORD)
        rnnrt_words_lower(t->text, t->len);
    t->n = rnnrt_tokens_split(kind, r->eos, t->text, t->len, NULL, 0);
    t->tok = rnnrt_xcalloc(t->n + 1, sizeof *t->tok, "word tokens");
    rnnrt_tokens_split(kind, r->eos, t->text, t->len, t->tok, t->n);
    return 0;
}

/* Tokens [from, to) of t -> ids; those v lacks become <unk>, counted. */
static size_t text_encode(const Text *t, const RnnrtVocab *v, size_t from,
                          size_t to, int32_t *ids, size_t *nunk)
{
    if (t->tok) {
        rnnrt_vocab_encode_words(v, t->text, t->tok + from, to - from, ids,
                                 nunk);
        return to - from;
    }
    size_t a = char_offset(t->text, t->len, from);
    size_t b = char_offset(t->text, t->len, to);
    return rnnrt_vocab_encode_chars(v, t->text + a, b - a, ids, to - from,
                                    nunk);
}

/* min_freq must leave at least one corpus token in the vocabulary. (An
 * empty training split is the caller's to report, with the sizes it
 * needs.) */
static int check_vocab(const RnnrtCorpus *c, const Recipe *r, int kind,
                       const char *path, size_t distinct, RnnrtError *err)
{
    if (c->vocab.size > 4 || distinct == 0)
        return 0;
    const char *what = kind == RNNRT_TOKENS_CHAR ? "character" : "word";
    return rnnrt_error(err, RNNRT_EXIT_DATA,
                       "min_freq %d leaves an empty vocabulary: none of the "
                       "%zu distinct %s tokens of the training split of "
                       "'%s' occurs %d times or more; lower data.min_freq",
                       r->min_freq, distinct, what, path, r->min_freq);
}

/* The vocabulary of the first ntrain tokens of t. */
static int build_vocab(RnnrtCorpus *c, const Recipe *r, int kind,
                       const char *path, const Text *t, size_t ntrain,
                       RnnrtError *err)
{
    size_t distinct;
    if (kind == RNNRT_TOKENS_CHAR) {
        rnnrt_vocab_build_chars(&c->vocab, t->text,
                                char_offset(t->text, t->len, ntrain));
        distinct = (size_t)c->vocab.size - 4;
        if (r->min_freq > 1)
            rnnrt_vocab_prune(&c->vocab, r->min_freq);
    } else {
        distinct = rnnrt_vocab_build_words(&c->vocab, t->text, t->tok, ntrain,
                                           r->min_freq);
    }
    if (r->max_vocab > 0)
        rnnrt_vocab_cap(&c->vocab, r->max_vocab);
    return check_vocab(c, r, kind, path, distinct, err);
}

static int load(RnnrtCorpus *c, const char *path, const Recipe *r,
                const RnnrtVocab *vocab, RnnrtError *err)
{
    memset(c, 0, sizeof *c);
    RnnrtNorm mode;
    int kind;
    int rc = check_recipe(r, &mode, &kind, err);
    if (rc)
        return rc;
    Text main, valid = {0}, test = {0};
    c->hash = RNNRT_FNV_INIT;
    rc = text_read(&main, path, NULL, r, kind, mode, &c->hash, err);
    if (rc)
        return rc;
    if (r->valid)
        rc = text_read(&valid, r->valid, "the validation file: ", r, kind,
                       mode, &c->hash, err);
    if (!rc && r->test)
        rc = text_read(&test, r->test, "the test file: ", r, kind, mode,
                       NULL, err);
    c->ntrain = r->valid ? main.n : (size_t)floor((double)main.n * r->split);
    if (!rc && vocab)
        copy_vocab(&c->vocab, vocab);
    else if (!rc)
        rc = build_vocab(c, r, kind, path ? path : RNNRT_DEFAULT_CORPUS_DIR,
                         &main, c->ntrain, err);
    if (!rc) {
        c->n = c->ntrain + (r->valid ? valid.n : main.n - c->ntrain);
        c->ids = rnnrt_xcalloc(c->n + 1, sizeof *c->ids, "corpus token ids");
        size_t k = text_encode(&main, &c->vocab, 0, c->ntrain, c->ids,
                               &c->unk_train);
        k += r->valid ? text_encode(&valid, &c->vocab, 0, valid.n,
                                    c->ids + k, &c->unk_valid)
                      : text_encode(&main, &c->vocab, c->ntrain, main.n,
                                    c->ids + k, &c->unk_valid);
        if (k != c->n)
            rc = rnnrt_error(err, RNNRT_EXIT_DATA,
                             "internal error: encoded %zu of %zu tokens", k,
                             c->n);
    }
    if (!rc && r->test) {
        c->test = rnnrt_xcalloc(test.n + 1, sizeof *c->test, "test ids");
        c->ntest = text_encode(&test, &c->vocab, 0, test.n, c->test,
                               &c->unk_test);
    }
    text_free(&main);
    text_free(&valid);
    text_free(&test);
    if (rc)
        rnnrt_corpus_free(c);
    return rc;
}

int rnnrt_corpus_load(RnnrtCorpus *c, const char *path, const char *tokens,
                      const char *normalize, double split,
                      const RnnrtVocab *vocab, RnnrtError *err)
{
    Recipe r = {.tokens = tokens, .normalize = normalize, .split = split,
                .min_freq = 1};
    return load(c, path, &r, vocab, err);
}

int rnnrt_corpus_load_recipe(RnnrtCorpus *c, const char *path,
                             const RnnrtRecipe *recipe,
                             const RnnrtVocab *vocab, RnnrtError *err)
{
    Recipe r = {.tokens = recipe->tokens, .normalize = recipe->normalize,
                .split = recipe->split,
                .min_freq = recipe->min_freq > 1 ? recipe->min_freq : 1,
                .eos = recipe->eos, .max_vocab = recipe->max_vocab,
                .valid = recipe->valid, .test = recipe->test};
    return load(c, path, &r, vocab, err);
}

void rnnrt_corpus_free(RnnrtCorpus *c)
{
    rnnrt_vocab_free(&c->vocab);
    free(c->ids);
    free(c->test);
    memset(c, 0, sizeof *c);
}
