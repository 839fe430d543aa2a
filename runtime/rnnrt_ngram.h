/*
 * rnnrt_ngram.h: the n-gram baseline of librnnrt: counting, smoothing,
 * scoring, sampling and model files for `task: ngram` specs.
 *
 * rnnc compiles specs/ngram.yaml into a small C file that fills an
 * RnnrtNgramSpec and calls rnnrt_ngram_main; everything else is here.
 *
 * Data. The same corpus pipeline, tokenizer, split and vocabulary as the
 * neural models: rnnrt_corpus_load_recipe, for `tokens: char` and `tokens:
 * word` alike (the word rule is in rnnrt.h), with min_freq. Ids: <unk>=0
 * <pad>=1 <bos>=2 <eos>=3, then tokens by training frequency. The training split is one sequence:
 * <bos> t1 .. tn <eos>, and so is the validation split (KenLM-like: one
 * start context, one predicted end). N-grams never reach before <bos>, so
 * the first tokens of a sequence are predicted from shorter contexts that
 * begin with <bos>.
 *
 * What is predicted. P = the vocabulary minus <pad> and <bos>: every
 * distribution is over P (|P| = V - 2), so <unk> and <eos> are predictable
 * and <pad>/<bos> get probability 0 (they are never observed as a next
 * token). Every smoothed model (all but mle, with a discount > 0) gives
 * every token of P a probability > 0 after every context, seen or not.
 *
 * Smoothings (c = raw count, h' = h without its oldest token):
 *   mle        c(hw) / c(h) for the longest suffix h of the history that
 *              was seen as a context; 0 for unseen continuations (then the
 *              perplexity is infinite, and is reported as such).
 *   add_k      (c(hw) + k) / (c(h) + k |P|) with the full context (order-1
 *              tokens, fewer after <bos>); 1/|P| when that context was never
 *              seen. k = 1 is Laplace.
 *   backoff    absolute-discount backoff (Katz-style, normalized):
 *              (c(hw) - D) / c(h) when c(hw) > 0, else b(h) p(w|h'), with
 *              b(h) making the distribution sum to 1. A context followed by
 *              every token of P is not discounted. The unigrams interpolate
 *              with 1/|P| like the Kneser-Ney ones (below).
 *   kneser_ney interpolated Kneser-Ney with one discount D per order:
 *              max(a(hw) - D, 0) / a(h) + D N1+(h.) / a(h) p(w|h'), where a
 *              is the raw count at the highest order and the continuation
 *              count N1+(. g) below it (raw for n-grams that begin with
 *              <bos>, which nothing precedes).
 *   modified_kneser_ney  Chen & Goodman's interpolated modified KN: three
 *              discounts per order from the count-of-counts n1..n4 of the
 *              adjusted counts, D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2,
 *              D3+ = 3 - 4Y n4/n3, Y = n1 / (n1 + 2 n2). This is what KenLM's
 *              lmplz computes.
 * Unseen tokens: in backoff, kneser_ney and modified_kneser_ney the
 * unigram distribution is interpolated with the uniform distribution over
 * P: p(w) = max(a(w) - D, 0) / A + (discounted mass) / |P|, as in Chen &
 * Goodman and KenLM (--interpolate_unigrams). So <unk>, which the training
 * split never contains when the vocabulary is built from it, gets a small
 * share of the novel-token mass in all of them alike; the word-level
 * perplexities include those <unk> tokens, and eval also reports the
 * perplexity of the other tokens (KenLM's "excluding OOVs").
 * Discounts: for backoff and kneser_ney, `discount` >= 0 is used at every
 * order; < 0 estimates D = n1 / (n1 + 2 n2) per order (raw counts for
 * backoff, adjusted counts for kneser_ney). Fallback: when an order's
 * count-of-counts are degenerate (an n_i needed is 0, or a discount falls
 * outside (0, i)), that order uses D = 0.5 (kneser_ney, backoff) or
 * D1, D2, D3+ = 0.5, 1, 1.5 (modified_kneser_ney: KenLM's
 * --discount_fallback values); RnnrtNgram.fallback[m] records it.
 *
 * Storage. Order m's n-grams sit in an open-addressing hash table keyed by
 * (id of the n-gram without its first token at order m-1, first token), so
 * the n-grams ending at one position are found right to left, each from
 * the last: w, then (x w), then (y x w) ... Ids are dense per order, in
 * order of first occurrence; unigram ids are token ids. A slot's position
 * is a hash of the n-gram's tokens, not of the key, so the lookups of all
 * orders can be in flight (and prefetched) at once. After
 * rnnrt_ngram_build every n-gram g = hw holds lp = ln p(w|h) (complete, with
 * all lower orders folded in) and lg = ln of the weight of g as a context
 * (0 when g is not a context), as in an ARPA file, both also copied into
 * its slot: scoring a token costs one slot per order plus a few additions.
 */
#ifndef RNNRT_NGRAM_H
#define RNNRT_NGRAM_H

#include "rnnrt.h"

#define RNNRT_NGRAM_MAX_ORDER 8

/* What the generated file fills in from the spec. */
typedef struct {
    const char *name, *spec_path;
    uint64_t spec_hash;
    const char *tokens;    /* "char" | "word" */
    const char *normalize; /* "none" | "letters" | "lower" */
    double split;
    int order;             /* 1..8 */
    const char *smoothing; /* "mle" | "add_k" | "backoff" | "kneser_ney" |
                              "modified_kneser_ney" */
    double k;              /* add_k */
    double discount;       /* backoff, kneser_ney: absolute discount in
                              [0,1); < 0 = estimate D = n1/(n1+2 n2) */
    int min_freq;          /* data.min_freq: training tokens seen fewer
                              times become <unk>; 0 or 1 keeps all */
} RnnrtNgramSpec;

/* train | eval | sample | table, see --help. Returns the exit status. */
int rnnrt_ngram_main(int argc, char **argv, const RnnrtNgramSpec *s);

/* ---------------------------------------------------------------------
 * Library API (rnnrt_ngram_count.c, _smooth.c, _score.c, _io.c).
 * ------------------------------------------------------------------- */

typedef enum {
    RNNRT_SMOOTH_MLE,
    RNNRT_SMOOTH_ADD_K,
    RNNRT_SMOOTH_BACKOFF,
    RNNRT_SMOOTH_KN,
    RNNRT_SMOOTH_MKN,
    RNNRT_SMOOTH_COUNT
} RnnrtSmoothing;

typedef struct {
    int order;                /* 1..RNNRT_NGRAM_MAX_ORDER */
    RnnrtSmoothing smoothing;
    double k;                 /* add_k: > 0 */
    double discount;          /* backoff, kneser_ney: [0, 1), < 0 = estimate */
} RnnrtNgramOpts;

/* One order's n-grams. A slot holds the key and, once the model is built,
 * copies of lp and lg, so that scoring reads one cache line per order.
 * All arrays are indexed by id. */
typedef struct {
    uint64_t key;    /* (suffix id << 32) | first token; UINT64_MAX = empty */
    uint32_t id, count;
    double lp, lg;   /* = lp[id], lg[id] after rnnrt_ngram_build */
} RnnrtNgramSlot;

typedef struct {
    size_t n;              /* n-grams of this order */
    size_t room;           /* allocated entries of the id arrays */
    RnnrtNgramSlot *slots; /* cap slots; order 1: V slots indexed by token */
    size_t cap;            /* power of two (orders >= 2) */
    int shift;             /* 64 - log2(cap) */
    uint64_t *key;         /* as in the slot */
    uint64_t *hash;        /* content hash (decides the slot) */
    uint32_t *count;       /* raw count (as a predicted n-gram) */
    uint32_t *prefix;      /* id at order m-1 of the n-gram minus its last
                              token (order 1: unused) */
    uint32_t *ctot;        /* raw count as a context: sum of the counts of
                              its extensions (set by rnnrt_ngram_build) */
    double *lp, *lg;       /* set by rnnrt_ngram_build, see above */
} RnnrtNgramTable;

typedef struct {
    int V;          /* vocabulary size; ids are 0..V-1 */
    int npred;      /* |P| = V - 2 */
    int counted;    /* orders counted (tables 1..counted exist) */
    int order;      /* order of the built model (<= counted); 0 = not built */
    RnnrtNgramOpts opts;
    uint64_t ntokens; /* predicted training tokens (the stream + <eos>) */
    /* discount[m][1..3]: the discounts of order m in the built model */
    double discount[RNNRT_NGRAM_MAX_ORDER + 1][4];
    int fallback[RNNRT_NGRAM_MAX_ORDER + 1]; /* order m used the fallback */
    int from_arpa;  /* read from an ARPA file: lp and lg only, counts 0 */
    RnnrtNgramTable t[RNNRT_NGRAM_MAX_ORDER + 1]; /* t[1..counted] */
} RnnrtNgram;

const char *rnnrt_ngram_smoothing_name(RnnrtSmoothing s);
/* 0, or -1 for an unknown name */
int rnnrt_ngram_smoothing_parse(const char *name, RnnrtSmoothing *out);
/* The valid smoothing name meant by name (a common alias such as "kn" or
 * "laplace", a prefix, or the closest by edit distance), or NULL when none
 * is close. */
const char *rnnrt_ngram_smoothing_suggest(const char *name);
/* Checks order, k and discount; the message names the bad value. Exit
 * code RNNRT_EXIT_DATA. */
int rnnrt_ngram_opts_check(const RnnrtNgramOpts *o, RnnrtError *err);

/* Table primitives (rnnrt_ngram_count.c), shared by counting, loading
 * and scoring. A key packs (suffix id, first token) and is what a slot
 * must match; the slot's position comes from a hash of the n-gram's
 * tokens, built right to left like the key (hash1 of the last token, then
 * hash_ext with each earlier one). The position therefore does not depend
 * on the result of the lower order's lookup, so the lookups of all orders
 * at a position can be in flight at once (and be prefetched). */
#define RNNRT_NGRAM_NONE UINT32_MAX
#define RNNRT_NGRAM_EMPTY UINT64_MAX

static inline uint64_t rnnrt_ngram_key(uint32_t suffix, int32_t first)
{
    return ((uint64_t)suffix << 32) | (uint32_t)first;
}

static inline uint64_t rnnrt_ngram_hash1(int32_t w)
{
    return ((uint64_t)(uint32_t)w + 1) * 0x9E3779B97F4A7C15ull;
}

/* The rotation brings the well-mixed high half down, so the multiply
 * spreads all of it (and the new token) into the high bits used. */
static inline uint64_t rnnrt_ngram_hash_ext(uint64_t h, int32_t first)
{
    h = ((h << 32) | (h >> 32)) ^ ((uint64_t)(uint32_t)first + 1);
    return h * 0xD6E8FEB86659FD93ull;
}

static inline const RnnrtNgramSlot *rnnrt_ngram_slot(const RnnrtNgramTable *t,
                                                     uint64_t key,
                                                     uint64_t hash)
{
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)(hash >> t->shift);; i = (i + 1) & mask) {
        const RnnrtNgramSlot *s = &t->slots[i];
        if (s->key == key)
            return s;
        if (s->key == RNNRT_NGRAM_EMPTY)
            return NULL;
    }
}

static inline uint32_t rnnrt_ngram_find(const RnnrtNgramTable *t,
                                        uint64_t key, uint64_t hash)
{
    const RnnrtNgramSlot *s = rnnrt_ngram_slot(t, key, hash);
    return s ? s->id : RNNRT_NGRAM_NONE;
}

/* Adds count occurrences of key (a new n-gram gets id t->n and the given
 * content hash and prefix); returns its id. */
uint32_t rnnrt_ngram_add(RnnrtNgramTable *t, uint64_t key, uint64_t hash,
                         uint32_t prefix, uint32_t count);
/* Copies the counts kept in the slots while counting to t->count. */
void rnnrt_ngram_table_finish(RnnrtNgramTable *t);
/* The content hash of n-gram id of order m. */
static inline uint64_t rnnrt_ngram_hash_of(const RnnrtNgram *g, int m,
                                           uint32_t id)
{
    return m == 1 ? rnnrt_ngram_hash1((int32_t)id) : g->t[m].hash[id];
}
/* The dense unigram table of a vocabulary of V: slot w, id w = token w. */
void rnnrt_ngram_table_unigrams(RnnrtNgramTable *t, int V);
/* Prefetches the slots of the n-grams (orders 2..order) that end at
 * position j of the sequence <bos> ids[0..n) <eos> (position 0 is <bos>).
 * Counting and scoring call it RNNRT_NGRAM_AHEAD positions ahead. */
#define RNNRT_NGRAM_AHEAD 3
void rnnrt_ngram_prefetch(const RnnrtNgram *g, const int32_t *ids, size_t n,
                          size_t j, int order);
/* The m tokens of n-gram id at order m, oldest first. */
void rnnrt_ngram_tokens(const RnnrtNgram *g, int m, uint32_t id,
                        int32_t *out);
/* Finds the n-grams that end at toks[n-1], right to left: ids[1] is the
 * token, ids[m] the m-gram toks[n-m..n); stops at the first m-gram not in
 * the tables, at maxorder, or after a <bos>. Returns the longest m found
 * (0 when toks[n-1] is not a valid id). */
int rnnrt_ngram_walk(const RnnrtNgram *g, const int32_t *toks, size_t n,
                     int maxorder, uint32_t *ids);
/* rnnrt_ngram_logprob as if the model had order `order` <= g->order (the
 * build uses it on the orders finished so far). */
double rnnrt_ngram_logprob_upto(const RnnrtNgram *g, const int32_t *ctx,
                                size_t nctx, int32_t w, int order);

/* Counts every n-gram of order 1..order of the sequence <bos> ids[0..n)
 * <eos>. ids must be in [0, V) and not <pad>/<bos>; n >= 1. Polls
 * rnnrt_signal_pending() every 65536 tokens: when a signal is pending it
 * frees g and returns RNNRT_EXIT_SIGINT or RNNRT_EXIT_SIGTERM (err is
 * left alone). */
int rnnrt_ngram_count(RnnrtNgram *g, const int32_t *ids, size_t n, int V,
                      int order, RnnrtError *err);
/* Computes the probabilities of an o->order model (o->order <= counted)
 * from the counts; may be called again with other options. */
int rnnrt_ngram_build(RnnrtNgram *g, const RnnrtNgramOpts *o,
                      RnnrtError *err);
void rnnrt_ngram_free(RnnrtNgram *g);
/* Copies order m's lp and lg into its slots, where scoring reads them. */
void rnnrt_ngram_publish(RnnrtNgram *g, int m);

/* ln p(w | ctx) of the built model. ctx[0..nctx) is the history, oldest
 * first; only its last order-1 tokens matter, and a <bos> in it starts the
 * sequence (tokens before it are ignored). -inf for w outside P, and for
 * zero-probability tokens under mle. */
double rnnrt_ngram_logprob(const RnnrtNgram *g, const int32_t *ctx,
                           size_t nctx, int32_t w);

typedef struct {
    double nll;      /* sum of -ln p over the predicted tokens */
    size_t ntokens;  /* predicted tokens: n + 1 (<eos>) */
    size_t nzero;    /* tokens of probability 0 (mle only) */
    size_t nunk;     /* predicted <unk> tokens */
    double ppl;      /* exp(nll / ntokens); +inf when nzero > 0 */
    double ppl_known; /* the same over the tokens other than <unk> */
} RnnrtNgramScore;

/* Scores the sequence <bos> ids[0..n) <eos>. */
void rnnrt_ngram_score(const RnnrtNgram *g, const int32_t *ids, size_t n,
                       RnnrtNgramScore *s);

/* Sentence mode (rnnrt_ngram_sent.c): every line is <s> tokens </s>, as
 * KenLM's query scores it; log10 probabilities. */
typedef struct {
    double log10p;       /* over every predicted token; -inf if one has p 0 */
    double log10p_known; /* the same without the OOV (<unk>) tokens */
    size_t sentences;
    size_t ntokens;      /* predicted tokens: the words and each </s> */
    size_t noov;         /* tokens the vocabulary lacks (<unk>) */
    size_t nzero;        /* predicted tokens of probability 0 (mle) */
} RnnrtNgramSentScore;

/* Called with each sentence's score (index from 1); nonzero stops. */
typedef int (*RnnrtNgramSentFn)(void *ctx, size_t index,
                                const RnnrtNgramSentScore *s);
/* Scores every line of path (NULL: the default corpus) as a sentence, with
 * the recipe's tokens and normalize and g's vocabulary v; the sum in
 * total. A signal is polled every 4096 lines (RNNRT_EXIT_SIGINT/SIGTERM). */
int rnnrt_ngram_score_lines(const RnnrtNgram *g, const RnnrtVocab *v,
                            const char *path, const char *tokens,
                            const char *normalize, RnnrtNgramSentFn each,
                            void *ctx, RnnrtNgramSentScore *total,
                            RnnrtError *err);

/* Draws up to len tokens after <bos> prefix[0..np), stopping before <eos>;
 * returns how many were written to out. */
size_t rnnrt_ngram_sample(const RnnrtNgram *g, const int32_t *prefix,
                          size_t np, size_t len, RnnrtRng *r, int32_t *out);

/* ---- model files (rnnrt_ngram_io.c) ----
 * One file, written atomically (tmp in the same directory, fsync, rename,
 * fsync of the directory). Native byte order:
 *   "RNNNGRM1", u32 version, u32 endianness tag 0x01020304, u64 zero
 *   then sections "header", "vocab", "counts", each framed as char name[8],
 *   u64 length, u32 CRC32, u32 zero, payload.
 *   header: model name, spec hash, tokens, normalize, split, corpus hash,
 *           counted orders, model order, smoothing, k, discount, ntokens, V
 *   vocab:  size, then each token's bytes and count
 *   counts: per order m: u64 n; m = 1: V u32 counts; m >= 2: n x (u64 key,
 *           u32 count), in id order.
 * Only counts are stored (12 bytes per n-gram); loading rebuilds the
 * tables and the model. */
#define RNNRT_NGRAM_FILE_VERSION 1

typedef struct {
    char name[128];
    uint64_t spec_hash;
    char tokens[16], normalize[16];
    double split;
    uint64_t corpus_hash;
} RnnrtNgramMeta;

int rnnrt_ngram_save(const char *path, const RnnrtNgram *g,
                     const RnnrtVocab *v, const RnnrtNgramMeta *meta,
                     RnnrtError *err);
/* Verifies the frame and every CRC, rebuilds the tables and builds the
 * saved model. Truncation, corruption and I/O are exit 3; a file that is
 * not an n-gram model, or of another version or byte order, exit 1. */
int rnnrt_ngram_load(const char *path, RnnrtNgram *g, RnnrtVocab *v,
                     RnnrtNgramMeta *meta, RnnrtError *err);

/* The message of a failed rnnrt_file_save of path (what: "the model",
 * "the ARPA file"); returns 0 when e is 0 and the stage is OK. */
int rnnrt_ngram_save_error(const char *path, const char *what,
                           RnnrtSaveStage stage, int e, RnnrtError *err);

/* ---- ARPA interchange (rnnrt_ngram_arpa.c) ----
 * The text format of KenLM, SRILM and NLTK: log10 probabilities and
 * backoff weights per n-gram, exactly the built model's lp and lg. <bos>,
 * <eos>, <unk> are <s>, </s>, <unk>; a token that is one whitespace or
 * control byte is <space>, <newline>, <tab> or <0xHH>; log 0 is -99.
 * Export (atomic, through rnnrt_file_save) refuses add_k, which does not
 * back off, and tokens with no ARPA form (exit 1). Load fills g and v
 * (<unk> <pad> <bos> <eos>, then the 1-grams in file order) with a model
 * that scores and samples like a built one (from_arpa set, smoothing mle:
 * pure backoff); malformed input is exit 1 with file:line. */
int rnnrt_ngram_export_arpa(const char *path, const RnnrtNgram *g,
                            const RnnrtVocab *v, RnnrtError *err);
int rnnrt_ngram_load_arpa(const char *path, RnnrtNgram *g, RnnrtVocab *v,
                          RnnrtError *err);

/* ---- sampling prefixes (rnnrt_ngram_prefix.c) ----
 * Encodes a sampling prefix with the corpus tokenizer of the recipe
 * (normalized as it says; `tokens: word` lowercased and split by
 * rnnrt_words_split). Tokens missing from v are an error naming them
 * (exit 1). *ids is malloc'ed. */
int rnnrt_ngram_encode_prefix(const RnnrtVocab *v, const char *tokens,
                              const char *normalize, const char *text,
                              int32_t **ids, size_t *n, RnnrtError *err);

#endif
