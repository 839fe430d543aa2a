/*
 * rnnrt_ngram_count.c: n-gram tables and counting.
 *
 * One pass over the sequence <bos> t1 .. tn <eos>. At position j the
 * n-grams ending there are found right to left: the unigram is the token
 * itself, and the m-gram is the key (id of the (m-1)-gram ending at j,
 * token at j-m+1) in order m's table. The n-grams ending at j-1, kept from
 * the previous step, are the prefixes of those ending at j, so a new n-gram
 * records its prefix id for free. Windows never reach before <bos>, so an
 * m-gram exists at j only when j >= m - 1.
 *
 * Each table is open addressing with linear probing over 16-byte slots
 * (key, id, count), kept at most 70% full; counting touches one slot per
 * order per token. Ids are dense and never change when a table grows, so
 * the per-id arrays (key, prefix, later counts and probabilities) stay
 * valid. Running out of memory prints the size and exits 3, as everywhere
 * in librnnrt.
 */
#include "rnnrt_ngram.h"

#include <signal.h>

#include <stdlib.h>
#include <string.h>

static void *grow(void *p, size_t n, size_t size, const char *what)
{
    size_t bytes;
    if (rnnrt_size_mul(n, size, &bytes) != 0 || !(p = realloc(p, bytes))) {
        fprintf(stderr, "error: out of memory growing %s to %zu entries\n",
                what, n);
        exit(RNNRT_EXIT_IO);
    }
    return p;
}

/* Empty slots of a table of cap slots (a power of two). */
static void table_alloc_slots(RnnrtNgramTable *t, size_t cap)
{
    t->slots = rnnrt_xcalloc(cap, sizeof *t->slots, "n-gram table");
    for (size_t i = 0; i < cap; i++)
        t->slots[i].key = RNNRT_NGRAM_EMPTY;
    t->cap = cap;
    t->shift = 64;
    for (size_t c = cap; c > 1; c >>= 1)
        t->shift--;
}

static void table_rehash(RnnrtNgramTable *t)
{
    RnnrtNgramSlot *old = t->slots;
    size_t oldcap = t->cap;
    table_alloc_slots(t, oldcap * 2);
    size_t mask = t->cap - 1;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key == RNNRT_NGRAM_EMPTY)
            continue;
        size_t k = (size_t)(t->hash[old[i].id] >> t->shift);
        while (t->slots[k].key != RNNRT_NGRAM_EMPTY)
            k = (k + 1) & mask;
        t->slots[k] = old[i];
    }
    free(old);
}

static uint32_t table_new_id(RnnrtNgramTable *t, uint64_t key, uint64_t hash,
                             uint32_t prefix)
{
    if (t->n == t->room) {
        t->room = t->room ? 2 * t->room : 1024;
        t->key = grow(t->key, t->room, sizeof *t->key, "n-gram keys");
        t->hash = grow(t->hash, t->room, sizeof *t->hash, "n-gram hashes");
        t->prefix = grow(t->prefix, t->room, sizeof *t->prefix,
                         "n-gram prefixes");
    }
    t->key[t->n] = key;
    t->hash[t->n] = hash;
    t->prefix[t->n] = prefix;
    return (uint32_t)t->n++;
}

uint32_t rnnrt_ngram_add(RnnrtNgramTable *t, uint64_t key, uint64_t hash,
                         uint32_t prefix, uint32_t count)
{
    if (!t->cap)
        table_alloc_slots(t, 1024);
    size_t mask = t->cap - 1, i = (size_t)(hash >> t->shift);
    for (;; i = (i + 1) & mask) {
        RnnrtNgramSlot *s = &t->slots[i];
        if (s->key == key) {
            s->count += count;
            return s->id;
        }
        if (s->key == RNNRT_NGRAM_EMPTY)
            break;
    }
    uint32_t id = table_new_id(t, key, hash, prefix);
    t->slots[i].key = key;
    t->slots[i].id = id;
    t->slots[i].count = count;
    if ((t->n + 1) * 10 > t->cap * 7)
        table_rehash(t);
    return id;
}

void rnnrt_ngram_table_finish(RnnrtNgramTable *t)
{
    t->count = grow(t->count, t->n ? t->n : 1, sizeof *t->count,
                    "n-gram counts");
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].key != RNNRT_NGRAM_EMPTY)
            t->count[t->slots[i].id] = t->slots[i].count;
}

static int check_stream(const int32_t *ids, size_t n, int V, int order,
                        RnnrtError *err)
{
    if (order < 1 || order > RNNRT_NGRAM_MAX_ORDER)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "order must be between 1 and %d, not %d",
                           RNNRT_NGRAM_MAX_ORDER, order);
    if (V <= RNNRT_EOS)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "a vocabulary needs the 4 special tokens; got %d",
                           V);
    if (n == 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the training split is empty: an n-gram model "
                           "needs at least one token to count");
    if (n >= UINT32_MAX / 2)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "%zu training tokens: the n-gram tables hold at "
                           "most %u", n, UINT32_MAX / 2 - 1);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V || ids[i] == RNNRT_PAD ||
            ids[i] == RNNRT_BOS)
            return rnnrt_error(err, RNNRT_EXIT_DATA,
                               "token %zu has id %d, which cannot be "
                               "counted (vocabulary of %d, <pad> and <bos> "
                               "excluded)", i, (int)ids[i], V);
    return 0;
}

void rnnrt_ngram_table_unigrams(RnnrtNgramTable *t, int V)
{
    t->n = t->room = (size_t)V;
    t->count = rnnrt_xcalloc((size_t)V, sizeof *t->count, "unigram counts");
    t->slots = rnnrt_xcalloc((size_t)V, sizeof *t->slots, "unigram slots");
    for (int w = 0; w < V; w++) {
        t->slots[w].key = (uint64_t)w;
        t->slots[w].id = (uint32_t)w;
    }
}

/* Token p of the sequence <bos> ids[0..n) <eos>. */
static int32_t token_at(const int32_t *ids, size_t n, size_t p)
{
    return p == 0 ? RNNRT_BOS : p <= n ? ids[p - 1] : RNNRT_EOS;
}

void rnnrt_ngram_prefetch(const RnnrtNgram *g, const int32_t *ids, size_t n,
                          size_t j, int order)
{
#if defined(__GNUC__)
    if (j > n + 1)
        return;
    uint64_t h = rnnrt_ngram_hash1(token_at(ids, n, j));
    int lim = j + 1 < (size_t)order ? (int)(j + 1) : order;
    for (int m = 2; m <= lim; m++) {
        const RnnrtNgramTable *t = &g->t[m];
        h = rnnrt_ngram_hash_ext(h, token_at(ids, n, j - (size_t)m + 1));
        if (t->cap)
            __builtin_prefetch(&t->slots[h >> t->shift], 1);
    }
#else
    (void)g, (void)ids, (void)n, (void)j, (void)order;
#endif
}


/* The counting loop; prev[m] / cur[m] are the ids of the m-grams ending at
 * the previous / current position. Returns the signal pending at one of
 * its polls (every 65536 positions), or 0 when done. */
static int count_stream(RnnrtNgram *g, const int32_t *ids, size_t n)
{
    uint32_t a[RNNRT_NGRAM_MAX_ORDER + 1], b[RNNRT_NGRAM_MAX_ORDER + 1];
    uint32_t *prev = a, *cur = b;
    uint32_t *unigram = g->t[1].count;
    int order = g->counted;
    prev[1] = RNNRT_BOS;
    for (size_t j = 1; j <= n + 1; j++) {
        if (!(j & 0xFFFF) && rnnrt_signal_pending())
            return rnnrt_signal_pending();
        rnnrt_ngram_prefetch(g, ids, n, j + RNNRT_NGRAM_AHEAD, order);
        int32_t w = token_at(ids, n, j);
        uint64_t h = rnnrt_ngram_hash1(w);
        cur[1] = (uint32_t)w;
        unigram[w]++;
        int lim = j + 1 < (size_t)order ? (int)(j + 1) : order;
        for (int m = 2; m <= lim; m++) {
            int32_t first = token_at(ids, n, j - (size_t)m + 1);
            h = rnnrt_ngram_hash_ext(h, first);
            cur[m] = rnnrt_ngram_add(&g->t[m],
                                     rnnrt_ngram_key(cur[m - 1], first), h,
                                     prev[m - 1], 1);
        }
        uint32_t *tmp = prev;
        prev = cur;
        cur = tmp;
    }
    return 0;
}

int rnnrt_ngram_count(RnnrtNgram *g, const int32_t *ids, size_t n, int V,
                      int order, RnnrtError *err)
{
    memset(g, 0, sizeof *g);
    int rc = check_stream(ids, n, V, order, err);
    if (rc)
        return rc;
    g->V = V;
    g->npred = V - 2;
    g->counted = order;
    g->ntokens = (uint64_t)n + 1;
    rnnrt_ngram_table_unigrams(&g->t[1], V);
    int sig = count_stream(g, ids, n);
    if (sig) {
        rnnrt_ngram_free(g);
        return rnnrt_signal_exit_code(sig);
    }
    for (int m = 2; m <= order; m++)
        rnnrt_ngram_table_finish(&g->t[m]);
    return 0;
}

void rnnrt_ngram_free(RnnrtNgram *g)
{
    for (int m = 1; m <= RNNRT_NGRAM_MAX_ORDER; m++) {
        RnnrtNgramTable *t = &g->t[m];
        free(t->slots);
        free(t->key);
        free(t->hash);
        free(t->count);
        free(t->prefix);
        free(t->ctot);
        free(t->lp);
        free(t->lg);
    }
    memset(g, 0, sizeof *g);
}

void rnnrt_ngram_tokens(const RnnrtNgram *g, int m, uint32_t id,
                        int32_t *out)
{
    int i = 0;
    for (; m > 1; m--, i++) {
        uint64_t key = g->t[m].key[id];
        out[i] = (int32_t)(uint32_t)key;
        id = (uint32_t)(key >> 32);
    }
    out[i] = (int32_t)id;
}
