/*
 * rnnrt_vocab.c: vocabularies: token <-> id.
 *
 * Ids 0..3 are <unk> <pad> <bos> <eos>; corpus tokens follow by decreasing
 * count in the training split, ties broken by byte order, so the same text
 * always gives the same ids. A token is a byte string without NUL (one UTF-8
 * character for the char tokenizer). Lookup is an open-addressing hash table
 * of ids keyed by FNV-1a of the token's bytes; it hides behind
 * RnnrtVocab.lookup together with the token lengths and array capacity.
 */
#include "rnnrt.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t *slot; /* cap entries, -1 = empty */
    size_t cap;    /* power of two, at least twice the vocabulary */
    size_t *lens;  /* byte length of each token */
    int room;      /* allocated entries of tokens, counts and lens */
} Lookup;

static const char *const specials[] = {"<unk>", "<pad>", "<bos>", "<eos>"};

static void grow_arrays(RnnrtVocab *v, Lookup *lk)
{
    int room = lk->room ? 2 * lk->room : 64;
    char **tokens = realloc(v->tokens, (size_t)room * sizeof *tokens);
    int64_t *counts = realloc(v->counts, (size_t)room * sizeof *counts);
    size_t *lens = realloc(lk->lens, (size_t)room * sizeof *lens);
    if (tokens)
        v->tokens = tokens;
    if (counts)
        v->counts = counts;
    if (lens)
        lk->lens = lens;
    if (!tokens || !counts || !lens || rnnrt_alloc_injected())
        rnnrt_out_of_memory("a vocabulary's tokens", (size_t)room * sizeof *tokens, 0);
    lk->room = room;
}

static void rehash(RnnrtVocab *v, Lookup *lk, size_t cap)
{
    /* allocate, then free: v stays whole when the allocation fails (an
     * open under rnnrt_alloc_guard frees it afterwards) */
    int32_t *slot = rnnrt_xcalloc(cap, sizeof *lk->slot, "vocabulary index");
    free(lk->slot);
    lk->slot = slot;
    lk->cap = cap;
    for (size_t i = 0; i < cap; i++)
        lk->slot[i] = -1;
    for (int id = 0; id < v->size; id++) {
        uint64_t h = rnnrt_fnv1a(RNNRT_FNV_INIT, v->tokens[id], lk->lens[id]);
        size_t i = h & (cap - 1);
        while (lk->slot[i] >= 0)
            i = (i + 1) & (cap - 1);
        lk->slot[i] = id;
    }
}

int rnnrt_vocab_find(const RnnrtVocab *v, const char *tok, size_t len)
{
    const Lookup *lk = v->lookup;
    if (!lk || !lk->cap)
        return -1;
    size_t i = rnnrt_fnv1a(RNNRT_FNV_INIT, tok, len) & (lk->cap - 1);
    for (int32_t id; (id = lk->slot[i]) >= 0; i = (i + 1) & (lk->cap - 1))
        if (lk->lens[id] == len && !memcmp(v->tokens[id], tok, len))
            return id;
    return -1;
}

int rnnrt_vocab_add(RnnrtVocab *v, const char *tok, size_t len, int64_t count)
{
    if (rnnrt_vocab_find(v, tok, len) >= 0)
        return -1;
    Lookup *lk = v->lookup;
    if (v->size == lk->room)
        grow_arrays(v, lk);
    char *t = rnnrt_xcalloc(len + 1, 1, "vocabulary token"); /* as rehash */
    int id = v->size++;
    v->tokens[id] = t;
    memcpy(t, tok, len);
    v->counts[id] = count;
    lk->lens[id] = len;
    if ((size_t)v->size * 2 > lk->cap)
        rehash(v, lk, lk->cap ? lk->cap * 2 : 256);
    else {
        size_t i = rnnrt_fnv1a(RNNRT_FNV_INIT, tok, len) & (lk->cap - 1);
        while (lk->slot[i] >= 0)
            i = (i + 1) & (lk->cap - 1);
        lk->slot[i] = id;
    }
    return id;
}

void rnnrt_vocab_init(RnnrtVocab *v)
{
    memset(v, 0, sizeof *v);
    v->lookup = rnnrt_xcalloc(1, sizeof(Lookup), "vocabulary");
    for (int i = 0; i < 4; i++)
        rnnrt_vocab_add(v, specials[i], strlen(specials[i]), 0);
}

void rnnrt_vocab_init_empty(RnnrtVocab *v)
{
    memset(v, 0, sizeof *v);
    v->lookup = rnnrt_xcalloc(1, sizeof(Lookup), "vocabulary");
}

void rnnrt_vocab_free(RnnrtVocab *v)
{
    Lookup *lk = v->lookup;
    for (int i = 0; i < v->size; i++)
        free(v->tokens[i]);
    free(v->tokens);
    free(v->counts);
    if (lk) {
        free(lk->slot);
        free(lk->lens);
        free(lk);
    }
    memset(v, 0, sizeof *v);
}

/* Decreasing count, then byte order (strcmp compares as unsigned char). */
static const RnnrtVocab *sort_vocab;
static int by_count(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    int64_t ci = sort_vocab->counts[i], cj = sort_vocab->counts[j];
    if (ci != cj)
        return ci > cj ? -1 : 1;
    return strcmp(sort_vocab->tokens[i], sort_vocab->tokens[j]);
}

/* Counts every character of text into tally (no specials): ASCII in an
 * array, the rest through the hash table. */
static void count_chars(RnnrtVocab *tally, const char *text, size_t len)
{
    int64_t ascii[128] = {0};
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        int n = rnnrt_utf8_len(c);
        if (c < 128) {
            ascii[c]++;
        } else {
            int id = rnnrt_vocab_find(tally, text + i, (size_t)n);
            if (id < 0)
                rnnrt_vocab_add(tally, text + i, (size_t)n, 1);
            else
                tally->counts[id]++;
        }
        i += (size_t)n;
    }
    for (int c = 1; c < 128; c++) { /* NUL never reaches here: utf8_check */
        char s = (char)c;
        if (ascii[c])
            rnnrt_vocab_add(tally, &s, 1, ascii[c]);
    }
}

void rnnrt_vocab_build_chars(RnnrtVocab *v, const char *text, size_t len)
{
    RnnrtVocab tally;
    memset(&tally, 0, sizeof tally);
    tally.lookup = rnnrt_xcalloc(1, sizeof(Lookup), "vocabulary");
    count_chars(&tally, text, len);
    int *order = rnnrt_xcalloc((size_t)tally.size + 1, sizeof *order,
                               "vocabulary order");
    for (int i = 0; i < tally.size; i++)
        order[i] = i;
    sort_vocab = &tally;
    qsort(order, (size_t)tally.size, sizeof *order, by_count);
    sort_vocab = NULL;
    rnnrt_vocab_init(v);
    for (int i = 0; i < tally.size; i++) {
        int k = order[i];
        rnnrt_vocab_add(v, tally.tokens[k], strlen(tally.tokens[k]),
                        tally.counts[k]);
    }
    free(order);
    rnnrt_vocab_free(&tally);
}

size_t rnnrt_vocab_encode_chars(const RnnrtVocab *v, const char *text,
                                size_t len, int32_t *ids, size_t max,
                                size_t *nunk)
{
    int32_t ascii[128];
    for (int c = 0; c < 128; c++) {
        char s = (char)c;
        ascii[c] = rnnrt_vocab_find(v, &s, 1);
    }
    size_t n = 0;
    for (size_t i = 0; i < len && n < max;) {
        unsigned char c = (unsigned char)text[i];
        int k = rnnrt_utf8_len(c);
        if (i + (size_t)k > len)
            k = (int)(len - i);
        int id = c < 128 ? ascii[c] : rnnrt_vocab_find(v, text + i, (size_t)k);
        if (id < 0) {
            id = RNNRT_UNK;
            if (nunk)
                (*nunk)++;
        }
        ids[n++] = id;
        i += (size_t)k;
    }
    return n;
}

/* ---- word vocabularies and min_freq ---- */

/* A tally of distinct tokens with counts, in a vocabulary without
 * specials (the same trick as count_chars). */
static void tally_init(RnnrtVocab *t)
{
    memset(t, 0, sizeof *t);
    t->lookup = rnnrt_xcalloc(1, sizeof(Lookup), "vocabulary");
}

/* Appends the tokens of tally to v (after its specials) by decreasing
 * count, ties in byte order, skipping those counted fewer than min_freq. */
static void add_sorted(RnnrtVocab *v, RnnrtVocab *tally, int min_freq)
{
    int *order = rnnrt_xcalloc((size_t)tally->size + 1, sizeof *order,
                               "vocabulary order");
    for (int i = 0; i < tally->size; i++)
        order[i] = i;
    sort_vocab = tally;
    qsort(order, (size_t)tally->size, sizeof *order, by_count);
    sort_vocab = NULL;
    const Lookup *lk = tally->lookup;
    for (int i = 0; i < tally->size; i++) {
        int k = order[i];
        if (tally->counts[k] >= min_freq)
            rnnrt_vocab_add(v, tally->tokens[k], lk->lens[k], tally->counts[k]);
    }
    free(order);
}

size_t rnnrt_vocab_build_words(RnnrtVocab *v, const char *text,
                               const RnnrtToken *tok, size_t n, int min_freq)
{
    RnnrtVocab tally;
    tally_init(&tally);
    rnnrt_vocab_init(v);
    for (size_t i = 0; i < n; i++) {
        const char *w = text + tok[i].off;
        int id = tok[i].len ? rnnrt_vocab_find(v, w, tok[i].len) : RNNRT_EOS;
        if (id >= 0) { /* <eos>, or a special written out ("<unk>") */
            v->counts[id]++;
            continue;
        }
        id = rnnrt_vocab_find(&tally, w, tok[i].len);
        if (id < 0)
            rnnrt_vocab_add(&tally, w, tok[i].len, 1);
        else
            tally.counts[id]++;
    }
    size_t distinct = (size_t)tally.size;
    add_sorted(v, &tally, min_freq);
    rnnrt_vocab_free(&tally);
    return distinct;
}

void rnnrt_vocab_encode_words(const RnnrtVocab *v, const char *text,
                              const RnnrtToken *tok, size_t n, int32_t *ids,
                              size_t *nunk)
{
    for (size_t i = 0; i < n; i++) {
        int id = tok[i].len ? rnnrt_vocab_find(v, text + tok[i].off,
                                               tok[i].len)
                            : RNNRT_EOS;
        if (id < 0) {
            id = RNNRT_UNK;
            if (nunk)
                (*nunk)++;
        }
        ids[i] = id;
    }
}

int rnnrt_vocab_prune(RnnrtVocab *v, int min_freq)
{
    int dropped = 0;
    for (int i = 4; i < v->size; i++)
        dropped += v->counts[i] < min_freq;
    if (dropped == 0)
        return 0;
    RnnrtVocab kept;
    rnnrt_vocab_init(&kept);
    for (int i = 0; i < 4; i++)
        kept.counts[i] = v->counts[i];
    const Lookup *lk = v->lookup;
    for (int i = 4; i < v->size; i++)
        if (v->counts[i] >= min_freq)
            rnnrt_vocab_add(&kept, v->tokens[i], lk->lens[i], v->counts[i]);
    rnnrt_vocab_free(v);
    *v = kept;
    return dropped;
}

int rnnrt_vocab_cap(RnnrtVocab *v, int max)
{
    if (max < 4 || v->size <= max)
        return 0;
    int dropped = v->size - max;
    RnnrtVocab kept;
    rnnrt_vocab_init(&kept);
    for (int i = 0; i < 4; i++)
        kept.counts[i] = v->counts[i];
    const Lookup *lk = v->lookup;
    for (int i = 4; i < max; i++)
        rnnrt_vocab_add(&kept, v->tokens[i], lk->lens[i], v->counts[i]);
    rnnrt_vocab_free(v);
    *v = kept;
    return dropped;
}
