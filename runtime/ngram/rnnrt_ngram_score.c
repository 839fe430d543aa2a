/*
 * rnnrt_ngram_score.c: probabilities of a built model, perplexity of a
 * token stream, and sampling.
 *
 * A token w after history h needs two right-to-left walks through the
 * tables (rnnrt_ngram_walk): the n-grams ending at the last history token
 * (the contexts c[1..K], K <= order-1) and the n-grams ending at w
 * (g[1..L], L <= K+1, since the prefix of a seen n-gram is seen). Then,
 * in the ARPA form the build produced,
 *
 *   ln p(w|h) = lp(g[L]) + lg(c[L]) + lg(c[L+1]) + ... + lg(c[K])
 *
 * (the weights of the contexts whose continuation by w was never seen).
 * add_k does not back off: it uses the full context (order-1 tokens, fewer
 * after <bos>) or, when that context was never seen, the uniform 1/|P|.
 *
 * Scoring a stream reuses the walk of the previous token as the contexts
 * of the next, so each token costs at most order-1 hash lookups, and
 * prefetches the slots a few tokens ahead (slot positions depend only on
 * the tokens). lp and lg are read from the slots (copies of the per-id
 * arrays made by the build), so a found n-gram costs one cache line.
 */
#include "rnnrt_ngram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int predicted(const RnnrtNgram *g, int32_t w)
{
    return w >= 0 && w < g->V && w != RNNRT_PAD && w != RNNRT_BOS;
}

typedef const RnnrtNgramSlot *Slotp;

/* The walk behind rnnrt_ngram_walk, returning slots. */
static int walk(const RnnrtNgram *g, const int32_t *toks, size_t n,
                int maxorder, Slotp *sl)
{
    if (n == 0 || maxorder < 1 || toks[n - 1] < 0 || toks[n - 1] >= g->V)
        return 0;
    int32_t w = toks[n - 1];
    sl[1] = &g->t[1].slots[w];
    if (w == RNNRT_BOS)
        return 1;
    uint64_t h = rnnrt_ngram_hash1(w);
    int L = 1;
    for (int m = 2; m <= maxorder && (size_t)m <= n; m++) {
        int32_t first = toks[n - (size_t)m];
        if (first < 0 || first >= g->V)
            break;
        h = rnnrt_ngram_hash_ext(h, first);
        Slotp s = rnnrt_ngram_slot(&g->t[m],
                                   rnnrt_ngram_key(sl[m - 1]->id, first), h);
        if (!s)
            break;
        sl[m] = s;
        L = m;
        if (first == RNNRT_BOS)
            break;
    }
    return L;
}

int rnnrt_ngram_walk(const RnnrtNgram *g, const int32_t *toks, size_t n,
                     int maxorder, uint32_t *ids)
{
    Slotp sl[RNNRT_NGRAM_MAX_ORDER + 1];
    int L = walk(g, toks, n, maxorder, sl);
    for (int m = 1; m <= L; m++)
        ids[m] = sl[m]->id;
    return L;
}

/* add_k: full = the length of the context it conditions on. */
static double combine_add_k(const RnnrtNgram *g, const Slotp *c, int K,
                            const Slotp *gs, int L, int full)
{
    if (full == 0)
        return gs[1]->lp;
    if (K < full || g->t[full].ctot[c[full]->id] == 0)
        return -log((double)g->npred);
    if (L > full)
        return gs[L]->lp;
    return c[full]->lg;
}

/* ln p(w|h) from the contexts c[1..K] and the n-grams gs[1..L] of w. */
static double combine(const RnnrtNgram *g, const Slotp *c, int K,
                      const Slotp *gs, int L, int full)
{
    if (g->opts.smoothing == RNNRT_SMOOTH_ADD_K)
        return combine_add_k(g, c, K, gs, L, full);
    double lp = gs[L]->lp;
    for (int k = L; k <= K; k++)
        lp += c[k]->lg;
    return lp;
}

/* The history that matters: at most order-1 tokens, from the last <bos>. */
static size_t history_start(const int32_t *ctx, size_t nctx, int order)
{
    size_t keep = (size_t)order - 1;
    size_t start = nctx > keep ? nctx - keep : 0;
    for (size_t i = nctx; i-- > start;)
        if (ctx[i] == RNNRT_BOS)
            return i;
    return start;
}

double rnnrt_ngram_logprob_upto(const RnnrtNgram *g, const int32_t *ctx,
                                size_t nctx, int32_t w, int order)
{
    if (!predicted(g, w) || order < 1 || order > g->order)
        return -INFINITY;
    size_t start = history_start(ctx, nctx, order);
    size_t nh = nctx - start;
    Slotp c[RNNRT_NGRAM_MAX_ORDER + 1], gs[RNNRT_NGRAM_MAX_ORDER + 1];
    int32_t toks[RNNRT_NGRAM_MAX_ORDER + 1];
    int K = walk(g, ctx + start, nh, order - 1, c);
    memcpy(toks, ctx + start, nh * sizeof *toks);
    toks[nh] = w;
    int L = walk(g, toks, nh + 1, K + 1, gs);
    return combine(g, c, K, gs, L, (int)nh);
}

double rnnrt_ngram_logprob(const RnnrtNgram *g, const int32_t *ctx,
                           size_t nctx, int32_t w)
{
    return rnnrt_ngram_logprob_upto(g, ctx, nctx, w, g->order);
}

/* The walk of token j of the stream <bos> ids <eos> (position 0 is
 * <bos>), capped at K+1 where K is the previous token's walk. */
static int stream_walk(const RnnrtNgram *g, const int32_t *ids, size_t j,
                       int32_t w, int K, Slotp *cur)
{
    cur[1] = &g->t[1].slots[w];
    uint64_t h = rnnrt_ngram_hash1(w);
    int L = 1;
    for (int m = 2; m <= K + 1; m++) {
        size_t p = j - (size_t)m + 1;
        int32_t first = p ? ids[p - 1] : RNNRT_BOS;
        h = rnnrt_ngram_hash_ext(h, first);
        Slotp s = rnnrt_ngram_slot(&g->t[m],
                                   rnnrt_ngram_key(cur[m - 1]->id, first), h);
        if (!s)
            break;
        cur[m] = s;
        L = m;
    }
    return L;
}

void rnnrt_ngram_score(const RnnrtNgram *g, const int32_t *ids, size_t n,
                       RnnrtNgramScore *s)
{
    memset(s, 0, sizeof *s);
    int order = g->order;
    Slotp a[RNNRT_NGRAM_MAX_ORDER + 1], b[RNNRT_NGRAM_MAX_ORDER + 1];
    Slotp *c = a, *cur = b;
    c[1] = &g->t[1].slots[RNNRT_BOS];
    int K = order > 1;
    double nll = 0, nll_unk = 0;
    size_t zero_unk = 0;
    for (size_t j = 1; j <= n + 1; j++) {
        rnnrt_ngram_prefetch(g, ids, n, j + RNNRT_NGRAM_AHEAD, order);
        int32_t w = j <= n ? ids[j - 1] : RNNRT_EOS;
        double lp = -INFINITY;
        int L = 0;
        if (predicted(g, w)) {
            L = stream_walk(g, ids, j, w, K, cur);
            int full = j < (size_t)order - 1 ? (int)j : order - 1;
            lp = combine(g, c, K, cur, L, full);
        }
        s->nunk += w == RNNRT_UNK;
        if (lp == -INFINITY) {
            s->nzero++;
            zero_unk += w == RNNRT_UNK;
        } else {
            nll -= lp;
            nll_unk -= w == RNNRT_UNK ? lp : 0;
        }
        K = L < order - 1 ? L : order - 1;
        Slotp *tmp = c;
        c = cur;
        cur = tmp;
    }
    s->ntokens = n + 1;
    s->nll = s->nzero ? INFINITY : nll;
    s->ppl = s->nzero ? INFINITY : exp(nll / (double)s->ntokens);
    size_t known = s->ntokens - s->nunk;
    s->ppl_known = s->nzero > zero_unk ? INFINITY
                   : known ? exp((nll - nll_unk) / (double)known) : NAN;
}

/* p(w | hist) for every w (0 for <pad>, <bos>); returns their sum. */
static double distribution(const RnnrtNgram *g, const int32_t *hist,
                           size_t nhist, double *p)
{
    size_t start = history_start(hist, nhist, g->order);
    size_t nh = nhist - start;
    Slotp c[RNNRT_NGRAM_MAX_ORDER + 1], gs[RNNRT_NGRAM_MAX_ORDER + 1];
    int32_t toks[RNNRT_NGRAM_MAX_ORDER + 1];
    int K = walk(g, hist + start, nh, g->order - 1, c);
    memcpy(toks, hist + start, nh * sizeof *toks);
    double sum = 0;
    for (int32_t w = 0; w < g->V; w++) {
        p[w] = 0;
        if (!predicted(g, w))
            continue;
        toks[nh] = w;
        int L = walk(g, toks, nh + 1, K + 1, gs);
        p[w] = exp(combine(g, c, K, gs, L, (int)nh));
        sum += p[w];
    }
    return sum;
}

size_t rnnrt_ngram_sample(const RnnrtNgram *g, const int32_t *prefix,
                          size_t np, size_t len, RnnrtRng *r, int32_t *out)
{
    int32_t *hist = rnnrt_xcalloc(np + len + 1, sizeof *hist, "history");
    double *p = rnnrt_xcalloc((size_t)g->V, sizeof *p, "distribution");
    hist[0] = RNNRT_BOS;
    memcpy(hist + 1, prefix, np * sizeof *prefix);
    size_t nhist = np + 1, k = 0;
    for (; k < len; k++) {
        double u = rnnrt_rng_uniform(r) * distribution(g, hist, nhist, p);
        int32_t w = RNNRT_EOS, last = RNNRT_EOS;
        for (int32_t v = 0; v < g->V; v++) {
            if (p[v] <= 0)
                continue;
            last = v;
            if ((u -= p[v]) < 0) {
                w = v;
                break;
            }
        }
        if (u >= 0)
            w = last; /* rounding left u just above the total */
        if (w == RNNRT_EOS)
            break;
        out[k] = w;
        hist[nhist++] = w;
    }
    free(hist);
    free(p);
    return k;
}
