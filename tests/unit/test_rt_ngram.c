/*
 * test_rt_ngram.c: the n-gram baseline (runtime/rnnrt_ngram*.c).
 *
 *  - Exhaustive normalization: for every smoothing, orders 1..4 and a small
 *    vocabulary, p(.|h) sums to 1 over P for every context h of length
 *    0..order-1 over the vocabulary (seen or not, with and without <bos>),
 *    and smoothed models give every token of P a probability > 0.
 *  - add_k against a straightforward implementation written here (sorted
 *    windows, binary search): 1e-9 relative.
 *  - modified_kneser_ney against a straightforward implementation of Chen
 *    & Goodman's interpolated modified Kneser-Ney written here (sorted
 *    n-gram lists, adjusted counts by definition, recursive interpolation):
 *    1e-6 relative, on the Time Machine (KenLM: 6.381 at order 3, 3.894 at
 *    order 5) and on words with unseen validation words.
 *  - modified_kneser_ney beats add_k and backoff at orders >= 3; no
 *    smoothed model is ever inf or NaN (20-token corpus, unseen words).
 *  - Corpora come through rnnrt_corpus_load_recipe, as in the CLI (the
 *    neural models' tokenizer, vocabulary, min_freq and split), and word
 *    prefixes through the shared word tokenizer.
 *  - Bad parameters and data through the CLI: exit codes, messages, and
 *    nothing written. A stale "<out>.tmp" is removed; SIGINT/SIGTERM stop
 *    train with 130/143 and no files (a forked child, signalled once its
 *    corpus is loaded). Model files: round trip, corruption, truncation.
 *
 * Corpora come from $RNNC_SOURCE_DIR/../shared/data; tests that need them
 * are skipped, saying so, when it is absent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rnnrt_ngram.h"

#define TMPDIR_NAME "test_rt_ngram"
#include "tmpdir.h"

static const char *tmp_path(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static const char *write_file(const char *name, const char *data)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    size_t n = strlen(data);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return path;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Path of a shared corpus, or NULL (and a message) when it is absent. */
static const char *data_file(const char *name)
{
    static char path[4][1024];
    static int k;
    k = (k + 1) % 4;
    const char *src = getenv("RNNC_SOURCE_DIR");
    snprintf(path[k], sizeof path[k], "%s/../shared/data/%s",
             src ? src : "..", name);
    if (access(path[k], R_OK) == 0)
        return path[k];
    print_message("skipped: no corpus at %s (the tests expect "
                  "$RNNC_SOURCE_DIR/../shared/data)\n", path[k]);
    return NULL;
}

#define NEED(path, name)                                                      \
    const char *path = data_file(name);                                       \
    if (!path) {                                                              \
        skip();                                                               \
        return;                                                               \
    }

/* The neural models' pipeline, as the n-gram CLI uses it. */
static void load_min(RnnrtCorpus *c, const char *path, const char *tokens,
                     const char *norm, int min_freq)
{
    RnnrtRecipe r = {0};
    r.tokens = tokens;
    r.normalize = norm;
    r.split = 0.9;
    r.min_freq = min_freq;
    RnnrtError e = {0};
    if (rnnrt_corpus_load_recipe(c, path, &r, NULL, &e))
        fail_msg("%s", e.msg);
}

static void load(RnnrtCorpus *c, const char *path, const char *tokens,
                 const char *norm)
{
    load_min(c, path, tokens, norm, 1);
}

static void build(RnnrtNgram *g, int order, RnnrtSmoothing s, double k,
                  double discount)
{
    RnnrtNgramOpts o = {order, s, k, discount};
    RnnrtError e = {0};
    if (rnnrt_ngram_build(g, &o, &e))
        fail_msg("%s", e.msg);
}

static double valid_ppl(const RnnrtNgram *g, const RnnrtCorpus *c)
{
    RnnrtNgramScore sc;
    rnnrt_ngram_score(g, c->ids + c->ntrain, c->n - c->ntrain, &sc);
    return sc.ppl;
}

static double worst; /* largest relative error seen by assert_rel */

static void assert_rel(double got, double want, double tol, const char *what)
{
    double rel = fabs(got - want) / fabs(want);
    if (rel > worst)
        worst = rel;
    if (!(rel <= tol))
        fail_msg("%s: got %.12g, want %.12g (relative error %.3g > %.1g)",
                 what, got, want, rel, tol);
}

/* ---- exhaustive: every distribution sums to 1 ---- */

enum { A = 4, B = 5, C = 6, SMALL_V = 7 };
static const int32_t alphabet[] = {RNNRT_UNK, RNNRT_EOS, A, B, C};
#define NALPHA 5

/* A training stream with structure, <unk>s, and a context ('a') that is
 * followed by every token of P (it ends the stream, so <eos> follows). */
static size_t small_stream(int32_t *ids)
{
    static const int32_t head[] = {A, RNNRT_UNK, A, A, A, B, A, C, B, B,
                                   C, A, B, C, C, C, B, A, A, B};
    size_t n = 0;
    for (size_t i = 0; i < sizeof head / sizeof *head; i++)
        ids[n++] = head[i];
    RnnrtRng r;
    rnnrt_rng_init(&r, 7);
    for (int i = 0; i < 40; i++, n++)
        ids[n] = i % 3 ? A + (int32_t)rnnrt_rng_below(&r, 3) : ids[n - 2];
    ids[n++] = A;
    return n;
}

static int smoothed(const RnnrtNgramOpts *o)
{
    return o->smoothing != RNNRT_SMOOTH_MLE;
}

/* Sums p(.|ctx) over P and checks each p; returns the sum. */
static double sum_over_p(const RnnrtNgram *g, const int32_t *ctx, size_t n)
{
    double sum = 0;
    for (int i = 0; i < NALPHA; i++) {
        double p = exp(rnnrt_ngram_logprob(g, ctx, n, alphabet[i]));
        if (smoothed(&g->opts) && !(p > 0))
            fail_msg("%s order %d: p = %g for token %d after a context of "
                     "%zu", rnnrt_ngram_smoothing_name(g->opts.smoothing),
                     g->order, p, alphabet[i], n);
        sum += p;
    }
    assert_true(rnnrt_ngram_logprob(g, ctx, n, RNNRT_PAD) == -INFINITY);
    assert_true(rnnrt_ngram_logprob(g, ctx, n, RNNRT_BOS) == -INFINITY);
    return sum;
}

/* Every context of length len over the alphabet, after an optional <bos>. */
static void check_contexts(const RnnrtNgram *g, int len, int bos)
{
    int32_t ctx[RNNRT_NGRAM_MAX_ORDER + 2];
    long total = 1;
    for (int i = 0; i < len; i++)
        total *= NALPHA;
    for (long code = 0; code < total; code++) {
        long c = code;
        ctx[0] = RNNRT_BOS;
        for (int i = 0; i < len; i++, c /= NALPHA)
            ctx[bos + i] = alphabet[c % NALPHA];
        double sum = sum_over_p(g, ctx, (size_t)(len + bos));
        if (fabs(sum - 1) > 1e-9)
            fail_msg("%s order %d: probabilities after context %ld (length "
                     "%d%s) sum to %.15f",
                     rnnrt_ngram_smoothing_name(g->opts.smoothing), g->order,
                     code, len, bos ? " after <bos>" : "", sum);
    }
}

static void check_model(RnnrtNgram *g, int order, RnnrtSmoothing s, double k,
                        double d)
{
    build(g, order, s, k, d);
    for (int len = 0; len <= order; len++) {
        check_contexts(g, len, 0);
        check_contexts(g, len, 1);
    }
}

static void test_ngram_probs_sum_to_one_every_context(void **state)
{
    (void)state;
    int32_t ids[128];
    size_t n = small_stream(ids);
    RnnrtNgram g;
    RnnrtError e = {0};
    assert_int_equal(rnnrt_ngram_count(&g, ids, n, SMALL_V, 4, &e), 0);
    int models = 0;
    for (int order = 1; order <= 4; order++) {
        check_model(&g, order, RNNRT_SMOOTH_MLE, 1, -1);
        check_model(&g, order, RNNRT_SMOOTH_ADD_K, 1, -1);
        check_model(&g, order, RNNRT_SMOOTH_ADD_K, 0.05, -1);
        check_model(&g, order, RNNRT_SMOOTH_BACKOFF, 1, -1);
        check_model(&g, order, RNNRT_SMOOTH_BACKOFF, 1, 0.9);
        check_model(&g, order, RNNRT_SMOOTH_KN, 1, -1);
        check_model(&g, order, RNNRT_SMOOTH_KN, 1, 0.3);
        check_model(&g, order, RNNRT_SMOOTH_MKN, 1, -1);
        models += 8;
    }
    print_message("%d models, every context of length 0..order over 5 "
                  "tokens, with and without <bos>: sums within 1e-9\n",
                  models);
    rnnrt_ngram_free(&g);
}

/* The stream scorer and rnnrt_ngram_logprob must agree. */
static void test_ngram_score_matches_logprob(void **state)
{
    (void)state;
    int32_t ids[128], valid[] = {A, B, RNNRT_UNK, C, C, A, A, A, B, C, A};
    size_t n = small_stream(ids), nv = sizeof valid / sizeof *valid;
    RnnrtNgram g;
    assert_int_equal(rnnrt_ngram_count(&g, ids, n, SMALL_V, 4, NULL), 0);
    for (int s = 0; s < RNNRT_SMOOTH_COUNT; s++)
        for (int order = 1; order <= 4; order++) {
            build(&g, order, (RnnrtSmoothing)s, 0.5, -1);
            int32_t seq[32] = {RNNRT_BOS};
            memcpy(seq + 1, valid, sizeof valid);
            seq[nv + 1] = RNNRT_EOS;
            double nll = 0;
            for (size_t j = 1; j <= nv + 1; j++)
                nll -= rnnrt_ngram_logprob(&g, seq, j, seq[j]);
            RnnrtNgramScore sc;
            rnnrt_ngram_score(&g, valid, nv, &sc);
            assert_int_equal(sc.ntokens, nv + 1);
            assert_int_equal(sc.nunk, 1);
            if (isinf(nll))
                assert_true(isinf(sc.nll) && sc.nzero > 0);
            else
                assert_rel(sc.nll, nll, 1e-12, "stream vs logprob");
        }
    rnnrt_ngram_free(&g);
}

/* ---- reference implementations ---- */

/* An n-gram as a value: tokens oldest first, the rest -1. */
typedef struct {
    int32_t t[RNNRT_NGRAM_MAX_ORDER];
    int len;
} Gram;

static int gram_cmp(const void *a, const void *b)
{
    const Gram *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    for (int i = 0; i < x->len; i++)
        if (x->t[i] != y->t[i])
            return x->t[i] < y->t[i] ? -1 : 1;
    return 0;
}

/* seq[from..to) as a Gram. */
static Gram gram(const int32_t *seq, size_t from, size_t to)
{
    Gram g;
    memset(&g, 0xff, sizeof g);
    g.len = (int)(to - from);
    for (size_t i = from; i < to; i++)
        g.t[i - from] = seq[i];
    return g;
}

/* <bos> ids <eos> */
static int32_t *sequence(const int32_t *ids, size_t n)
{
    int32_t *s = malloc((n + 2) * sizeof *s);
    assert_non_null(s);
    s[0] = RNNRT_BOS;
    memcpy(s + 1, ids, n * sizeof *ids);
    s[n + 1] = RNNRT_EOS;
    return s;
}

/* How many of the sorted grams equal q. */
static size_t occurrences(const Gram *sorted, size_t n, const Gram *q)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (gram_cmp(&sorted[mid], q) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t k = lo;
    while (k < n && !gram_cmp(&sorted[k], q))
        k++;
    return k - lo;
}

/* add_k by its definition: for each predicted token j of <bos> train
 * <eos>, the history is the previous min(order-1, j) tokens; count
 * histories and history+token windows, then score the validation split. */
static double ref_add_k(const int32_t *train, size_t nt, const int32_t *valid,
                        size_t nv, int order, double k, int npred)
{
    int32_t *s = sequence(train, nt);
    size_t L = nt + 2;
    Gram *H = malloc((L - 1) * sizeof *H), *F = malloc((L - 1) * sizeof *F);
    assert_true(H && F);
    for (size_t j = 1; j < L; j++) {
        size_t from = j >= (size_t)order - 1 ? j - ((size_t)order - 1) : 0;
        H[j - 1] = gram(s, from, j);
        F[j - 1] = gram(s, from, j + 1);
    }
    qsort(H, L - 1, sizeof *H, gram_cmp);
    qsort(F, L - 1, sizeof *F, gram_cmp);
    int32_t *v = sequence(valid, nv);
    double nll = 0;
    for (size_t j = 1; j < nv + 2; j++) {
        size_t from = j >= (size_t)order - 1 ? j - ((size_t)order - 1) : 0;
        Gram h = gram(v, from, j), f = gram(v, from, j + 1);
        size_t ch = occurrences(H, L - 1, &h), chw = occurrences(F, L - 1, &f);
        double p = ch ? (chw + k) / (ch + k * npred) : 1.0 / npred;
        nll -= log(p);
    }
    free(H), free(F), free(s), free(v);
    return exp(nll / (double)(nv + 1));
}

static void test_ngram_add_k_matches_reference(void **state)
{
    (void)state;
    NEED(tm, "timemachine.txt");
    static const struct {
        const char *tokens, *norm;
        int maxorder;
    } cases[] = {{"char", "letters", 5}, {"word", "none", 3}};
    for (size_t i = 0; i < 2; i++) {
        RnnrtCorpus c;
        worst = 0;
        load(&c, tm, cases[i].tokens, cases[i].norm);
        RnnrtNgram g;
        assert_int_equal(rnnrt_ngram_count(&g, c.ids, c.ntrain, c.vocab.size,
                                           cases[i].maxorder, NULL), 0);
        for (int order = 1; order <= cases[i].maxorder; order++)
            for (double k = 1; k >= 0.01; k /= 10) {
                build(&g, order, RNNRT_SMOOTH_ADD_K, k, -1);
                double want = ref_add_k(c.ids, c.ntrain, c.ids + c.ntrain,
                                        c.n - c.ntrain, order, k,
                                        c.vocab.size - 2);
                assert_rel(valid_ppl(&g, &c), want, 1e-9, "add_k");
            }
        print_message("add_k = reference on timemachine %s, orders 1..%d, "
                      "k = 1, 0.1, 0.01: largest relative difference "
                      "%.1e\n", cases[i].tokens, cases[i].maxorder, worst);
        rnnrt_ngram_free(&g);
        rnnrt_corpus_free(&c);
    }
}

/* ---- Chen & Goodman's interpolated modified Kneser-Ney, by the book ----
 * level[m]: the distinct m-grams of <bos> train <eos> (windows never
 * reach before <bos>), sorted, with raw counts and adjusted counts
 * (raw at the highest order and for n-grams starting with <bos>; else the
 * number of distinct one-token left extensions). ctx[m]: the distinct
 * (m-1)-token prefixes of level[m] with the sum of their extensions'
 * adjusted counts and how many have adjusted count 1, 2, 3+. */
typedef struct {
    Gram *g;
    double *raw, *adj;
    size_t n;
} Level;

typedef struct {
    Gram *h;
    double *tot, (*nk)[4];
    size_t n;
} Contexts;

typedef struct {
    int order, npred;
    Level level[RNNRT_NGRAM_MAX_ORDER + 1];
    Contexts ctx[RNNRT_NGRAM_MAX_ORDER + 1];
    double D[RNNRT_NGRAM_MAX_ORDER + 1][4];
} Mkn;

static size_t find(const Gram *sorted, size_t n, const Gram *q)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = gram_cmp(&sorted[mid], q);
        if (!c)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

static void ref_level(Level *l, const int32_t *s, size_t L, int m)
{
    Gram *all = malloc(L * sizeof *all);
    assert_non_null(all);
    size_t k = 0;
    for (size_t j = 1; j < L; j++)
        if (j + 1 >= (size_t)m)
            all[k++] = gram(s, j + 1 - (size_t)m, j + 1);
    qsort(all, k, sizeof *all, gram_cmp);
    l->g = malloc((k + 1) * sizeof *l->g);
    l->raw = calloc(k + 1, sizeof *l->raw);
    l->adj = calloc(k + 1, sizeof *l->adj);
    l->n = 0;
    for (size_t i = 0; i < k; i++) {
        if (!l->n || gram_cmp(&l->g[l->n - 1], &all[i]))
            l->g[l->n++] = all[i];
        l->raw[l->n - 1]++;
    }
    free(all);
}

static void ref_adjust(Mkn *r, int m)
{
    Level *l = &r->level[m];
    if (m == r->order) {
        memcpy(l->adj, l->raw, l->n * sizeof *l->adj);
        return;
    }
    const Level *up = &r->level[m + 1];
    for (size_t i = 0; i < up->n; i++) {
        Gram suffix = up->g[i];
        memmove(suffix.t, suffix.t + 1, (size_t)m * sizeof *suffix.t);
        suffix.t[m] = -1;
        suffix.len = m;
        size_t at = find(l->g, l->n, &suffix);
        assert_true(at != SIZE_MAX);
        l->adj[at]++;
    }
    for (size_t i = 0; i < l->n; i++)
        if (l->g[i].t[0] == RNNRT_BOS)
            l->adj[i] = l->raw[i];
}

static void ref_discounts(Mkn *r, int m)
{
    double n[5] = {0};
    for (size_t i = 0; i < r->level[m].n; i++) {
        double a = r->level[m].adj[i];
        if (a >= 1 && a <= 4)
            n[(int)a]++;
    }
    double *D = r->D[m];
    int ok = n[1] > 0 && n[2] > 0 && n[3] > 0 && n[4] > 0;
    if (ok) {
        double Y = n[1] / (n[1] + 2 * n[2]);
        D[1] = 1 - 2 * Y * n[2] / n[1];
        D[2] = 2 - 3 * Y * n[3] / n[2];
        D[3] = 3 - 4 * Y * n[4] / n[3];
        ok = D[1] > 0 && D[1] < 1 && D[2] > 0 && D[2] < 2 && D[3] > 0 &&
             D[3] < 3;
    }
    if (!ok)
        D[1] = 0.5, D[2] = 1, D[3] = 1.5;
}

static double ref_D(const Mkn *r, int m, double a)
{
    return a <= 0 ? 0 : r->D[m][a >= 3 ? 3 : (int)a];
}

typedef struct {
    Gram h;
    double a;
} Pair;

static int pair_cmp(const void *x, const void *y)
{
    return gram_cmp(&((const Pair *)x)->h, &((const Pair *)y)->h);
}

/* Contexts of order m (prefixes of level[m]); m = 1: the empty context. */
static void ref_contexts(Mkn *r, int m)
{
    const Level *l = &r->level[m];
    Contexts *c = &r->ctx[m];
    Pair *p = malloc((l->n + 1) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < l->n; i++) {
        p[i].h = l->g[i];
        p[i].h.t[m - 1] = -1;
        p[i].h.len = m - 1;
        p[i].a = l->adj[i];
    }
    qsort(p, l->n, sizeof *p, pair_cmp);
    c->h = malloc((l->n + 1) * sizeof *c->h);
    c->tot = calloc(l->n + 1, sizeof *c->tot);
    c->nk = calloc(l->n + 1, sizeof *c->nk);
    c->n = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!c->n || gram_cmp(&c->h[c->n - 1], &p[i].h))
            c->h[c->n++] = p[i].h;
        c->tot[c->n - 1] += p[i].a;
        c->nk[c->n - 1][p[i].a >= 3 ? 3 : (int)p[i].a]++;
    }
    free(p);
}

static void ref_mkn_init(Mkn *r, const int32_t *train, size_t nt, int order,
                         int npred)
{
    memset(r, 0, sizeof *r);
    r->order = order;
    r->npred = npred;
    int32_t *s = sequence(train, nt);
    for (int m = 1; m <= order; m++)
        ref_level(&r->level[m], s, nt + 2, m);
    for (int m = order; m >= 1; m--) {
        ref_adjust(r, m);
        ref_discounts(r, m);
        ref_contexts(r, m);
    }
    free(s);
}

static void ref_mkn_free(Mkn *r)
{
    for (int m = 1; m <= r->order; m++) {
        free(r->level[m].g), free(r->level[m].raw), free(r->level[m].adj);
        free(r->ctx[m].h), free(r->ctx[m].tot), free(r->ctx[m].nk);
    }
}

/* p(w | h[0..hl)) */
static double ref_mkn_prob(const Mkn *r, const int32_t *h, int hl, int32_t w)
{
    int m = hl + 1;
    Gram q = gram(h, 0, (size_t)hl);
    size_t ci = find(r->ctx[m].h, r->ctx[m].n, &q);
    if (m > 1 && ci == SIZE_MAX) /* unseen context: the lower order */
        return ref_mkn_prob(r, h + 1, hl - 1, w);
    q.t[hl] = w;
    q.len = m;
    size_t gi = find(r->level[m].g, r->level[m].n, &q);
    double a = gi == SIZE_MAX ? 0 : r->level[m].adj[gi];
    const double *nk = r->ctx[m].nk[ci], tot = r->ctx[m].tot[ci];
    double gamma = (r->D[m][1] * nk[1] + r->D[m][2] * nk[2] +
                    r->D[m][3] * nk[3]) / tot;
    double lower = m == 1 ? 1.0 / r->npred
                          : ref_mkn_prob(r, h + 1, hl - 1, w);
    return (a - ref_D(r, m, a)) / tot + gamma * lower;
}

static double ref_mkn_ppl(const Mkn *r, const int32_t *valid, size_t nv)
{
    int32_t *v = sequence(valid, nv);
    double nll = 0;
    for (size_t j = 1; j < nv + 2; j++) {
        size_t from = j >= (size_t)r->order - 1 ? j - ((size_t)r->order - 1)
                                                : 0;
        nll -= log(ref_mkn_prob(r, v + from, (int)(j - from), v[j]));
    }
    free(v);
    return exp(nll / (double)(nv + 1));
}

static double mkn_vs_reference(const RnnrtCorpus *c, RnnrtNgram *g, int order)
{
    build(g, order, RNNRT_SMOOTH_MKN, 1, -1);
    Mkn r;
    ref_mkn_init(&r, c->ids, c->ntrain, order, c->vocab.size - 2);
    for (int m = 1; m <= order; m++)
        for (int i = 1; i <= 3; i++)
            assert_rel(g->discount[m][i], r.D[m][i], 1e-12, "discount");
    double want = ref_mkn_ppl(&r, c->ids + c->ntrain, c->n - c->ntrain);
    double got = valid_ppl(g, c);
    assert_rel(got, want, 1e-6, "modified_kneser_ney");
    ref_mkn_free(&r);
    return got;
}

static void test_ngram_mkn_matches_reference(void **state)
{
    (void)state;
    NEED(tm, "timemachine.txt");
    RnnrtCorpus c;
    load(&c, tm, "char", "letters");
    RnnrtNgram g;
    assert_int_equal(rnnrt_ngram_count(&g, c.ids, c.ntrain, c.vocab.size, 5,
                                       NULL), 0);
    worst = 0;
    double p3 = mkn_vs_reference(&c, &g, 3), p5 = mkn_vs_reference(&c, &g, 5);
    print_message("timemachine char MKN: order 3 %.4f (KenLM 6.381), order "
                  "5 %.4f (KenLM 3.894); largest relative difference from "
                  "the reference %.1e\n", p3, p5, worst);
    assert_rel(p3, 6.381, 1e-3, "KenLM order 3");
    assert_rel(p5, 3.894, 1e-3, "KenLM order 5");
    rnnrt_ngram_free(&g);
    rnnrt_corpus_free(&c);
    load(&c, tm, "word", "none");
    assert_true(c.unk_valid > 0);
    assert_int_equal(rnnrt_ngram_count(&g, c.ids, c.ntrain, c.vocab.size, 4,
                                       NULL), 0);
    worst = 0;
    for (int order = 1; order <= 4; order++)
        mkn_vs_reference(&c, &g, order);
    print_message("timemachine word MKN (%zu <unk> in validation), orders "
                  "1..4: largest relative difference %.1e\n", c.unk_valid,
                  worst);
    rnnrt_ngram_free(&g);
    rnnrt_corpus_free(&c);
    load_min(&c, tm, "word", "none", 3); /* <unk> in training too */
    assert_true(c.unk_train > 0);
    assert_int_equal(rnnrt_ngram_count(&g, c.ids, c.ntrain, c.vocab.size, 3,
                                       NULL), 0);
    worst = 0;
    for (int order = 1; order <= 3; order++)
        mkn_vs_reference(&c, &g, order);
    print_message("timemachine word MKN, min_freq 3 (%zu <unk> in "
                  "training), orders 1..3: largest relative difference "
                  "%.1e\n", c.unk_train, worst);
    rnnrt_ngram_free(&g);
    rnnrt_corpus_free(&c);
}

/* ---- quality and robustness ---- */

static void mkn_wins(const char *path, const char *tokens, const char *norm)
{
    RnnrtCorpus c;
    load(&c, path, tokens, norm);
    RnnrtNgram g;
    assert_int_equal(rnnrt_ngram_count(&g, c.ids, c.ntrain, c.vocab.size, 6,
                                       NULL), 0);
    for (int order = 3; order <= 6; order++) {
        build(&g, order, RNNRT_SMOOTH_MKN, 1, -1);
        double mkn = valid_ppl(&g, &c);
        build(&g, order, RNNRT_SMOOTH_ADD_K, 1, -1);
        double addk = valid_ppl(&g, &c);
        build(&g, order, RNNRT_SMOOTH_BACKOFF, 1, -1);
        double bo = valid_ppl(&g, &c);
        if (!(mkn < addk && mkn < bo))
            fail_msg("%s %s order %d: mkn %.4f, add_k %.4f, backoff %.4f",
                     path, tokens, order, mkn, addk, bo);
    }
    rnnrt_ngram_free(&g);
    rnnrt_corpus_free(&c);
}

static void test_ngram_mkn_beats_add_k_and_backoff(void **state)
{
    (void)state;
    NEED(tm, "timemachine.txt");
    NEED(ts, "tinyshakespeare.txt");
    mkn_wins(tm, "char", "letters");
    mkn_wins(ts, "char", "none");
    mkn_wins(ts, "word", "none");
}

/* Every smoothed model at every order is finite; mle may be inf, not NaN. */
static void all_finite(const char *path, const char *tokens, int want_unk)
{
    RnnrtCorpus c;
    load(&c, path, tokens, "none");
    if (want_unk)
        assert_true(c.unk_valid > 0);
    RnnrtNgram g;
    assert_int_equal(rnnrt_ngram_count(&g, c.ids, c.ntrain, c.vocab.size, 8,
                                       NULL), 0);
    for (int s = 0; s < RNNRT_SMOOTH_COUNT; s++)
        for (int order = 1; order <= 8; order++)
            for (double d = -1; d < 1; d += 0.8) {
                build(&g, order, (RnnrtSmoothing)s, 1, d);
                double ppl = valid_ppl(&g, &c);
                assert_false(isnan(ppl));
                if (s != RNNRT_SMOOTH_MLE && !isfinite(ppl))
                    fail_msg("%s order %d: perplexity %g",
                             rnnrt_ngram_smoothing_name(g.opts.smoothing),
                             order, ppl);
            }
    rnnrt_ngram_free(&g);
    rnnrt_corpus_free(&c);
}

static void test_ngram_tiny_corpora_stay_finite(void **state)
{
    (void)state;
    const char *tiny = write_file("tiny.txt", "the cat sat on a mat");
    all_finite(tiny, "char", 0);
    const char *words = write_file("words.txt",
        "the cat sat on the mat . the dog sat on the cat . a cat and a dog "
        "sat on a mat . the mat was red . the dog ran . zebras yodel "
        "quietly ! ");
    all_finite(words, "word", 1);
    /* mle on unseen words is infinite, and says so */
    RnnrtCorpus c;
    load(&c, words, "word", "none");
    RnnrtNgram g;
    assert_int_equal(rnnrt_ngram_count(&g, c.ids, c.ntrain, c.vocab.size, 2,
                                       NULL), 0);
    build(&g, 2, RNNRT_SMOOTH_MLE, 1, -1);
    RnnrtNgramScore sc;
    rnnrt_ngram_score(&g, c.ids + c.ntrain, c.n - c.ntrain, &sc);
    assert_true(isinf(sc.ppl) && sc.nzero > 0);
    rnnrt_ngram_free(&g);
    rnnrt_corpus_free(&c);
}

static void test_ngram_fallback_discounts_on_degenerate_counts(void **state)
{
    (void)state;
    int32_t ids[] = {A, B, C}; /* every n-gram seen once: n2 = 0 */
    RnnrtNgram g;
    assert_int_equal(rnnrt_ngram_count(&g, ids, 3, SMALL_V, 3, NULL), 0);
    build(&g, 3, RNNRT_SMOOTH_MKN, 1, -1);
    for (int m = 1; m <= 3; m++) {
        assert_int_equal(g.fallback[m], 1);
        assert_true(g.discount[m][1] == 0.5 && g.discount[m][2] == 1 &&
                    g.discount[m][3] == 1.5);
    }
    for (int s = RNNRT_SMOOTH_BACKOFF; s <= RNNRT_SMOOTH_KN; s++) {
        build(&g, 3, (RnnrtSmoothing)s, 1, -1);
        for (int m = 1; m <= 3; m++)
            assert_true(g.fallback[m] && g.discount[m][1] == 0.5);
        build(&g, 3, (RnnrtSmoothing)s, 1, 0.25); /* given: no estimate */
        assert_true(!g.fallback[2] && g.discount[2][1] == 0.25);
    }
    rnnrt_ngram_free(&g);
}

/* ---- words ---- */

/* The prefix is tokenized like the corpus, by the shared word tokenizer:
 * Latin-1 capitals lowercased, a dash (U+2014) splits, a curly apostrophe
 * (U+2019) inside a word stays. */
static void test_word_prefix_uses_shared_tokenizer(void **state)
{
    (void)state;
    const char *path = write_file("p.txt", "caf\xc3\xa9 \xe2\x80\x94 "
                                  "don\xe2\x80\x99t x y z");
    RnnrtCorpus c;
    load(&c, path, "word", "none");
    int32_t *ids;
    size_t n;
    RnnrtError e = {0};
    assert_int_equal(rnnrt_ngram_encode_prefix(&c.vocab, "word", "none",
                     "CAF\xc3\x89\xe2\x80\x94" "Don\xe2\x80\x99t", &ids, &n,
                     &e), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(ids[i], c.ids[i]);
    free(ids);
    assert_int_equal(rnnrt_ngram_encode_prefix(&c.vocab, "word", "none",
                     "caf\xc3\xa9 zebra", &ids, &n, &e), RNNRT_EXIT_DATA);
    assert_non_null(strstr(e.msg, "word 2, 'zebra'"));
    rnnrt_corpus_free(&c);
}

static void test_word_corpus_vocab_and_split(void **state)
{
    (void)state;
    const char *path = write_file("w.txt", "B a b A c, a b a d e f g h i j");
    RnnrtCorpus c;
    load(&c, path, "word", "none"); /* 16 tokens: 14 train, 2 valid */
    assert_int_equal(c.n, 16);
    assert_int_equal(c.ntrain, 14);
    assert_string_equal(c.vocab.tokens[4], "a"); /* 4 times */
    assert_string_equal(c.vocab.tokens[5], "b"); /* 3 times */
    assert_string_equal(c.vocab.tokens[6], ","); /* ties in byte order */
    assert_int_equal(c.ids[c.ntrain], RNNRT_UNK); /* i, j: unseen */
    assert_int_equal(c.unk_valid, 2);
    rnnrt_corpus_free(&c);
    load_min(&c, path, "word", "none", 3); /* only a and b are kept */
    assert_int_equal(c.vocab.size, 6);
    assert_int_equal(c.unk_train, 7);
    rnnrt_corpus_free(&c);
}

/* ---- the command line ---- */

static const RnnrtNgramSpec spec = {
    .name = "ngramtest", .spec_path = "specs/ngramtest.yaml",
    .spec_hash = 0x1234, .tokens = "char", .normalize = "none",
    .split = 0.9, .order = 3, .smoothing = "modified_kneser_ney", .k = 1,
    .discount = -1};

static const RnnrtNgramSpec *cli_spec = &spec;

/* Runs the CLI with stdout and stderr going to a file; *out = its text. */
static int run(char **out, int argc, char **argv)
{
    static char text[16384], log[512];
    snprintf(log, sizeof log, "%s/cli.log", tmpdir);
    fflush(stdout);
    fflush(stderr);
    int o = dup(1), e = dup(2);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(o >= 0 && e >= 0 && fd >= 0);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    int rc = rnnrt_ngram_main(argc, argv, cli_spec);
    fflush(stdout);
    fflush(stderr);
    dup2(o, 1);
    dup2(e, 2);
    close(o);
    close(e);
    FILE *f = fopen(log, "rb");
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    *out = text;
    return rc;
}

#define RUN(...)                                                              \
    (argv_n = 0, run(&out, build_argv(argv_buf, &argv_n, __VA_ARGS__, NULL),  \
                     argv_buf))

static char *argv_buf[32];
static int argv_n;

static int build_argv(char **argv, int *n, ...)
{
    va_list ap;
    va_start(ap, n);
    argv[(*n)++] = "ngramtest";
    for (char *a; (a = va_arg(ap, char *));)
        argv[(*n)++] = a;
    va_end(ap);
    argv[*n] = NULL;
    return *n;
}

#define EXPECT(want, needle, ...)                                             \
    do {                                                                      \
        int rc_ = RUN(__VA_ARGS__);                                           \
        expect(rc_, want, out, needle);                                       \
    } while (0)

static void expect(int rc, int want, const char *out, const char *needle)
{
    if (rc != want || !strstr(out, needle))
        fail_msg("exit %d (want %d), output lacks '%s':\n%s", rc, want,
                 needle, out);
}

static void test_cli_rejects_bad_parameters(void **state)
{
    (void)state;
    char *out;
    char *d = (char *)write_file("cli.txt", "abcabcabdabcabcabcabdab");
    char *model = (char *)tmp_path("bad.ngram");
    EXPECT(2, "invalid value '0' for --order",
           "train", "--data", d, "--order", "0", "--out", model);
    EXPECT(2, "in [1, 8]", "train", "--data", d, "--order", "9");
    EXPECT(2, "did you mean 'kneser_ney'?",
           "train", "--data", d, "--smoothing", "kneser-ney");
    EXPECT(2, "did you mean 'add_k'?",
           "train", "--data", d, "--smoothing", "laplace");
    EXPECT(2, "expected a number > 0",
           "train", "--data", d, "--smoothing", "add_k", "--k", "0");
    EXPECT(2, "expected a number > 0",
           "train", "--data", d, "--smoothing", "add_k", "--k", "-1");
    EXPECT(2, "in [0, 1) or 'auto'",
           "train", "--data", d, "--smoothing", "backoff", "--discount", "1");
    EXPECT(2, "in [0, 1) or 'auto'",
           "train", "--data", d, "--smoothing", "kneser_ney", "--discount",
           "-0.2");
    EXPECT(2, "unknown option '--ordr'", "train", "--data", d, "--ordr", "3");
    EXPECT(2, "invalid value '0' for --min-freq",
           "train", "--data", d, "--min-freq", "0", "--out", model);
    EXPECT(1, "leaves an empty vocabulary",
           "train", "--data", d, "--min-freq", "1000", "--out", model);
    EXPECT(2, "unknown command 'fit'", "fit");
    char *empty = (char *)write_file("empty.txt", "");
    EXPECT(1, "gives 0 char tokens",
           "train", "--data", empty, "--out", model);
    char *one = (char *)write_file("one.txt", "x");
    EXPECT(1, "gives 1 char token", "train", "--data", one, "--out", model);
    char *blank = (char *)write_file("blank.txt", " \n\t ");
    EXPECT(1, "gives 0 word tokens",
           "train", "--data", blank, "--tokens", "word", "--out", model);
    EXPECT(3, "cannot open", "train", "--data",
           (char *)tmp_path("missing.txt"), "--out", model);
    EXPECT(3, "cannot open", "eval", "--model", model, "--data", d);
    RnnrtNgramSpec bad = spec;
    bad.order = 0;
    cli_spec = &bad;
    EXPECT(1, "specs/ngramtest.yaml: error: order must be between 1 and 8",
           "train", "--data", d, "--out", model);
    bad.order = 3;
    bad.smoothing = "kneser_nay";
    EXPECT(1, "did you mean 'kneser_ney'?",
           "train", "--data", d, "--out", model);
    bad.smoothing = "kneser_ney";
    bad.discount = 1.5;
    EXPECT(1, "must be in [0, 1)", "train", "--data", d, "--out", model);
    cli_spec = &spec;
    assert_false(exists(model));
    assert_false(exists(tmp_path("bad.ngram.tmp")));
    assert_false(exists("ngramtest.ngram"));
}

static void test_cli_train_eval_sample(void **state)
{
    (void)state;
    char *out, *model = (char *)tmp_path("m.ngram");
    char *d = (char *)write_file("t.txt", "the cat sat on the mat. the dog "
                                 "sat on the log. the cat saw the dog.");
    EXPECT(0, "validation perplexity",
           "train", "--data", d, "--order", "4", "--out", model);
    assert_true(exists(model));
    EXPECT(0, "model: order 4, modified_kneser_ney",
           "eval", "--model", model, "--data", d);
    char first[256];
    EXPECT(0, "the ", "sample", "--model", model, "--prefix", "the ",
           "--len", "30", "--seed", "5");
    snprintf(first, sizeof first, "%s", out);
    EXPECT(0, "the ", "sample", "--model", model, "--prefix", "the ",
           "--len", "30", "--seed", "5");
    assert_string_equal(first, out);
    EXPECT(1, "'Z', is not in the model's vocabulary",
           "sample", "--model", model, "--prefix", "the Z");
    EXPECT(0, "| modified_kneser_ney |",
           "table", "--data", d, "--max-order", "3");
}

static void test_cli_refuses_other_spec(void **state)
{
    (void)state;
    char *out, *model = (char *)tmp_path("o.ngram");
    char *d = (char *)write_file("o.txt", "abracadabra abracadabra");
    int32_t ids[] = {A, B, C};
    RnnrtNgram g;
    assert_int_equal(rnnrt_ngram_count(&g, ids, 3, SMALL_V, 2, NULL), 0);
    build(&g, 2, RNNRT_SMOOTH_KN, 1, -1);
    RnnrtVocab v;
    rnnrt_vocab_init(&v);
    rnnrt_vocab_add(&v, "a", 1, 1);
    rnnrt_vocab_add(&v, "b", 1, 1);
    rnnrt_vocab_add(&v, "c", 1, 1);
    RnnrtNgramMeta meta = {"someone_else", 0x9999, "char", "none", 0.9, 0};
    assert_int_equal(rnnrt_ngram_save(model, &g, &v, &meta, NULL), 0);
    EXPECT(1, "made from another spec",
           "eval", "--model", model, "--data", d);
    EXPECT(0, "validation perplexity",
           "eval", "--model", model, "--data", d, "--force");
    rnnrt_vocab_free(&v);
    rnnrt_ngram_free(&g);
}

/* ---- model files ---- */

static void corrupt(const char *path, long at, int truncate)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    if (truncate) {
        assert_int_equal(ftruncate(fileno(f), at), 0);
    } else {
        fseek(f, at, SEEK_SET);
        int c = fgetc(f);
        fseek(f, at, SEEK_SET);
        fputc(c ^ 0x10, f);
    }
    fclose(f);
}

static void test_ngram_file_round_trip_and_damage(void **state)
{
    (void)state;
    int32_t ids[128];
    size_t n = small_stream(ids);
    RnnrtNgram g, h;
    RnnrtVocab v, v2;
    RnnrtNgramMeta meta = {"m", 42, "char", "none", 0.9, 7}, m2;
    rnnrt_vocab_init(&v);
    rnnrt_vocab_add(&v, "a", 1, 1);
    rnnrt_vocab_add(&v, "b", 1, 1);
    rnnrt_vocab_add(&v, "c", 1, 1);
    assert_int_equal(rnnrt_ngram_count(&g, ids, n, SMALL_V, 4, NULL), 0);
    build(&g, 3, RNNRT_SMOOTH_BACKOFF, 1, 0.6);
    const char *path = tmp_path("rt.ngram");
    assert_int_equal(rnnrt_ngram_save(path, &g, &v, &meta, NULL), 0);
    assert_false(exists(tmp_path("rt.ngram.tmp")));
    RnnrtError e = {0};
    assert_int_equal(rnnrt_ngram_load(path, &h, &v2, &m2, &e), 0);
    assert_int_equal(h.order, 3);
    assert_int_equal(h.counted, 4);
    assert_int_equal(h.opts.smoothing, RNNRT_SMOOTH_BACKOFF);
    assert_true(h.opts.discount == 0.6);
    assert_int_equal(m2.spec_hash, 42);
    assert_string_equal(v2.tokens[6], "c");
    RnnrtNgramScore s1, s2;
    rnnrt_ngram_score(&g, ids, n, &s1);
    rnnrt_ngram_score(&h, ids, n, &s2);
    assert_true(s1.nll == s2.nll);
    rnnrt_ngram_free(&h);
    rnnrt_vocab_free(&v2);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    corrupt(path, st.st_size - 5, 0);
    assert_int_equal(rnnrt_ngram_load(path, &h, &v2, &m2, &e), 3);
    assert_non_null(strstr(e.msg, "CRC of section 'counts'"));
    assert_int_equal(rnnrt_ngram_save(path, &g, &v, &meta, NULL), 0);
    corrupt(path, st.st_size / 2, 1);
    assert_int_equal(rnnrt_ngram_load(path, &h, &v2, &m2, &e), 3);
    assert_non_null(strstr(e.msg, "truncated"));
    const char *junk = write_file("junk.ngram", "RNNCKPT1 not a model at all");
    assert_int_equal(rnnrt_ngram_load(junk, &h, &v2, &m2, &e), 1);
    assert_non_null(strstr(e.msg, "not an rnnc n-gram model"));
    rnnrt_ngram_free(&g);
    rnnrt_vocab_free(&v);
}

static void test_ngram_opts_check_and_suggest(void **state)
{
    (void)state;
    RnnrtError e = {0};
    RnnrtNgramOpts o = {0, RNNRT_SMOOTH_MKN, 1, -1};
    assert_int_equal(rnnrt_ngram_opts_check(&o, &e), RNNRT_EXIT_DATA);
    o.order = 9;
    assert_int_equal(rnnrt_ngram_opts_check(&o, &e), RNNRT_EXIT_DATA);
    o.order = 3;
    assert_int_equal(rnnrt_ngram_opts_check(&o, &e), 0);
    o.smoothing = RNNRT_SMOOTH_ADD_K;
    o.k = 0;
    assert_int_equal(rnnrt_ngram_opts_check(&o, &e), RNNRT_EXIT_DATA);
    o.k = NAN;
    assert_int_equal(rnnrt_ngram_opts_check(&o, &e), RNNRT_EXIT_DATA);
    o.smoothing = RNNRT_SMOOTH_KN;
    o.discount = 1;
    assert_int_equal(rnnrt_ngram_opts_check(&o, &e), RNNRT_EXIT_DATA);
    o.discount = 0;
    assert_int_equal(rnnrt_ngram_opts_check(&o, &e), 0);
    assert_string_equal(rnnrt_ngram_smoothing_suggest("kneser-ney"),
                        "kneser_ney");
    assert_string_equal(rnnrt_ngram_smoothing_suggest("modified_kn"),
                        "modified_kneser_ney");
    assert_string_equal(rnnrt_ngram_smoothing_suggest("MKN"),
                        "modified_kneser_ney");
    assert_string_equal(rnnrt_ngram_smoothing_suggest("backof"), "backoff");
    assert_null(rnnrt_ngram_smoothing_suggest("witten_bell"));
    int32_t ids[] = {A, RNNRT_PAD};
    RnnrtNgram g;
    assert_int_equal(rnnrt_ngram_count(&g, ids, 2, SMALL_V, 2, &e),
                     RNNRT_EXIT_DATA);
    assert_int_equal(rnnrt_ngram_count(&g, ids, 0, SMALL_V, 2, &e),
                     RNNRT_EXIT_DATA);
}

static void test_ngram_sample_is_deterministic(void **state)
{
    (void)state;
    int32_t ids[128], out1[50], out2[50], pre[] = {A, B};
    size_t n = small_stream(ids);
    RnnrtNgram g;
    assert_int_equal(rnnrt_ngram_count(&g, ids, n, SMALL_V, 3, NULL), 0);
    build(&g, 3, RNNRT_SMOOTH_KN, 1, -1);
    RnnrtRng r1, r2;
    rnnrt_rng_init(&r1, 9);
    rnnrt_rng_init(&r2, 9);
    size_t n1 = rnnrt_ngram_sample(&g, pre, 2, 50, &r1, out1);
    size_t n2 = rnnrt_ngram_sample(&g, pre, 2, 50, &r2, out2);
    assert_int_equal(n1, n2);
    assert_memory_equal(out1, out2, n1 * sizeof *out1);
    for (size_t i = 0; i < n1; i++)
        assert_true(out1[i] == RNNRT_UNK || out1[i] >= A);
    rnnrt_ngram_free(&g);
}

/* ---- interruption and stale files ---- */

static void test_ngram_count_stops_on_pending_signal(void **state)
{
    (void)state;
    size_t n = 200000;
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = A + (int32_t)(i % 3);
    RnnrtNgram g;
    rnnrt_signal_clear();
    rnnrt_signal_install();
    raise(SIGTERM); /* recorded by the handler, polled by the count */
    int rc = rnnrt_ngram_count(&g, ids, n, SMALL_V, 3, NULL);
    rnnrt_signal_restore();
    rnnrt_signal_clear();
    assert_int_equal(rc, RNNRT_EXIT_SIGTERM);
    assert_int_equal(g.counted, 0); /* freed */
    assert_int_equal(rnnrt_ngram_count(&g, ids, n, SMALL_V, 3, NULL), 0);
    rnnrt_ngram_free(&g);
    free(ids);
}

static void test_cli_train_removes_stale_tmp(void **state)
{
    (void)state;
    char *out, *model = (char *)tmp_path("stale.ngram");
    char *d = (char *)write_file("stale.txt", "abcabcabdabcabcabcabdab");
    const char *tmp = write_file("stale.ngram.tmp", "half a model");
    EXPECT(0, "saved", "train", "--data", d, "--out", model);
    assert_false(exists(tmp));
    assert_true(exists(model));
}

/* A corpus that takes seconds to count (4 letters: few distinct n-grams,
 * so little memory even when it is not interrupted). */
static const char *big_corpus(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s", tmp_path("big.txt"));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < (1 << 24); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fputc("abcd"[x & 3], f);
    }
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Runs "train" in a child, sends sig once the corpus is loaded (the
 * "corpus:" line), and returns the child's exit status. */
static int train_and_signal(const char *data, const char *model, int sig)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 1);
        setvbuf(stdout, NULL, _IOLBF, 0);
        char *argv[] = {"ngramtest", "train", "--data", (char *)data,
                        "--order", "8", "--out", (char *)model, NULL};
        _exit(rnnrt_ngram_main(8, argv, &spec));
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[512];
    while (fgets(line, sizeof line, f) && strncmp(line, "corpus:", 7))
        ;
    kill(pid, sig);
    while (fgets(line, sizeof line, f))
        ;
    fclose(f);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_cli_train_interrupted_saves_nothing(void **state)
{
    (void)state;
    const char *data = big_corpus();
    const char *model = tmp_path("int.ngram");
    assert_int_equal(train_and_signal(data, model, SIGINT), 130);
    assert_false(exists(model));
    assert_false(exists(tmp_path("int.ngram.tmp")));
    assert_int_equal(train_and_signal(data, model, SIGTERM), 143);
    assert_false(exists(model));
    assert_false(exists(tmp_path("int.ngram.tmp")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ngram_probs_sum_to_one_every_context),
        cmocka_unit_test(test_ngram_score_matches_logprob),
        cmocka_unit_test(test_ngram_add_k_matches_reference),
        cmocka_unit_test(test_ngram_mkn_matches_reference),
        cmocka_unit_test(test_ngram_mkn_beats_add_k_and_backoff),
        cmocka_unit_test(test_ngram_tiny_corpora_stay_finite),
        cmocka_unit_test(test_ngram_fallback_discounts_on_degenerate_counts),
        cmocka_unit_test(test_word_prefix_uses_shared_tokenizer),
        cmocka_unit_test(test_word_corpus_vocab_and_split),
        cmocka_unit_test(test_cli_rejects_bad_parameters),
        cmocka_unit_test(test_cli_train_eval_sample),
        cmocka_unit_test(test_cli_refuses_other_spec),
        cmocka_unit_test(test_ngram_file_round_trip_and_damage),
        cmocka_unit_test(test_ngram_opts_check_and_suggest),
        cmocka_unit_test(test_ngram_sample_is_deterministic),
        cmocka_unit_test(test_ngram_count_stops_on_pending_signal),
        cmocka_unit_test(test_cli_train_removes_stale_tmp),
        cmocka_unit_test(test_cli_train_interrupted_saves_nothing),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
