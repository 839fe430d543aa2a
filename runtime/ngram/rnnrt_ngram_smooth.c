/*
 * rnnrt_ngram_smooth.c: from counts to probabilities (the formulas are in
 * rnnrt_ngram.h).
 *
 * rnnrt_ngram_build fills, for every n-gram g = hw of orders 1..n, lp[g] =
 * ln p(w|h) and, for every context h of orders 1..n-1, lg[h] = ln of the
 * weight that multiplies the next lower order when w was not seen after h
 * (the ARPA form). Orders are built bottom up, because an interpolated
 * probability needs the finished lower order: p(w|h) = alpha(hw) +
 * gamma(h) p(w|h'), and h'w is always in the tables when hw is.
 *
 * Invariants: every distribution is over P (vocabulary minus <pad> and
 * <bos>); n-grams that are not contexts have lg = 0, so an unseen context
 * passes its lower order through unchanged; the same counts can be built
 * again at any order <= counted or with another smoothing (the table
 * command does this) because build only writes ctot, lp, lg and the
 * discounts.
 */
#include "rnnrt_ngram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const smoothing_names[RNNRT_SMOOTH_COUNT] = {
    "mle", "add_k", "backoff", "kneser_ney", "modified_kneser_ney"};

const char *rnnrt_ngram_smoothing_name(RnnrtSmoothing s)
{
    return (unsigned)s < RNNRT_SMOOTH_COUNT ? smoothing_names[s] : "?";
}

int rnnrt_ngram_smoothing_parse(const char *name, RnnrtSmoothing *out)
{
    for (int i = 0; name && i < RNNRT_SMOOTH_COUNT; i++)
        if (!strcmp(name, smoothing_names[i])) {
            *out = (RnnrtSmoothing)i;
            return 0;
        }
    return -1;
}

/* Levenshtein distance, ASCII case-insensitive; long strings are far. */
static int edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 40 || nb > 40)
        return 99;
    int d[41][41];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int ca = a[i - 1] | 0x20, cb = b[j - 1] | 0x20;
            int best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[na][nb];
}

/* Names people write for these smoothings. */
static const struct {
    const char *alias, *name;
} aliases[] = {
    {"kn", "kneser_ney"}, {"ikn", "kneser_ney"},
    {"mkn", "modified_kneser_ney"}, {"modkn", "modified_kneser_ney"},
    {"laplace", "add_k"}, {"add_one", "add_k"}, {"add1", "add_k"},
    {"lidstone", "add_k"}, {"katz", "backoff"}, {"absolute", "backoff"},
    {"ml", "mle"}, {"none", "mle"},
};

const char *rnnrt_ngram_smoothing_suggest(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!edit_distance(name, aliases[i].alias))
            return aliases[i].name;
    const char *best = NULL;
    int bestd = 99;
    size_t len = strlen(name);
    for (int i = 0; i < RNNRT_SMOOTH_COUNT; i++) { /* a prefix: "kneser" */
        const char *s = smoothing_names[i];
        size_t k = 0;
        while (k < len && s[k] && (name[k] | 0x20) == (s[k] | 0x20))
            k++;
        if (len >= 3 && k == len)
            return s;
    }
    for (int i = 0; i < RNNRT_SMOOTH_COUNT; i++) {
        int d = edit_distance(name, smoothing_names[i]);
        if (d < bestd) {
            bestd = d;
            best = smoothing_names[i];
        }
    }
    return bestd <= (len > 8 ? (int)len / 3 : 2) ? best : NULL;
}

int rnnrt_ngram_opts_check(const RnnrtNgramOpts *o, RnnrtError *err)
{
    if (o->order < 1 || o->order > RNNRT_NGRAM_MAX_ORDER)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "order must be between 1 and %d, not %d",
                           RNNRT_NGRAM_MAX_ORDER, o->order);
    if ((unsigned)o->smoothing >= RNNRT_SMOOTH_COUNT)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "unknown smoothing %d",
                           (int)o->smoothing);
    if (o->smoothing == RNNRT_SMOOTH_ADD_K && !(o->k > 0 && isfinite(o->k)))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "add_k needs k > 0, not %g (k = 1 is Laplace)",
                           o->k);
    if ((o->smoothing == RNNRT_SMOOTH_BACKOFF ||
         o->smoothing == RNNRT_SMOOTH_KN) &&
        (isnan(o->discount) || o->discount >= 1))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the discount of %s must be in [0, 1) (or "
                           "estimated), not %g",
                           smoothing_names[o->smoothing], o->discount);
    return 0;
}

/* ---- helpers ---- */

static int predicted(size_t w)
{
    return w != RNNRT_PAD && w != RNNRT_BOS;
}

static double ln(double p)
{
    return p > 0 ? log(p) : -INFINITY;
}

static void *zeros(size_t n, size_t size, const char *what)
{
    return rnnrt_xcalloc(n ? n : 1, size, what);
}

/* The discount of an n-gram of order m with (adjusted) count a. */
static double disc(const RnnrtNgram *g, int m, uint32_t a)
{
    return a == 0 ? 0 : g->discount[m][a < 3 ? a : 3];
}

/* n[1..4]: how many n-grams of order m have count 1..4 (unigrams: of P). */
static void count_of_counts(const RnnrtNgram *g, int m, const uint32_t *c,
                            uint64_t n[5])
{
    memset(n, 0, 5 * sizeof *n);
    for (size_t id = 0; id < g->t[m].n; id++)
        if ((m > 1 || predicted(id)) && c[id] >= 1 && c[id] <= 4)
            n[c[id]]++;
}

/* One discount per order: the given one, or n1 / (n1 + 2 n2). */
static void single_discount(RnnrtNgram *g, int m, const uint32_t *c)
{
    double D = g->opts.discount;
    if (D < 0) {
        uint64_t n[5];
        count_of_counts(g, m, c, n);
        if (n[1] && n[2]) {
            D = (double)n[1] / ((double)n[1] + 2.0 * (double)n[2]);
        } else {
            D = 0.5;
            g->fallback[m] = 1;
        }
    }
    for (int i = 1; i <= 3; i++)
        g->discount[m][i] = D;
}

/* Chen & Goodman's three discounts (their equation 26), or the fallback. */
static void mkn_discounts(RnnrtNgram *g, int m, const uint32_t *c)
{
    uint64_t n[5];
    count_of_counts(g, m, c, n);
    double *D = g->discount[m];
    int ok = n[1] && n[2] && n[3] && n[4];
    if (ok) {
        double Y = (double)n[1] / ((double)n[1] + 2.0 * (double)n[2]);
        for (int i = 1; i <= 3; i++) {
            D[i] = i - (i + 1) * Y * (double)n[i + 1] / (double)n[i];
            ok = ok && D[i] > 0 && D[i] < i;
        }
    }
    if (!ok) {
        D[1] = 0.5, D[2] = 1.0, D[3] = 1.5;
        g->fallback[m] = 1;
    }
}

/* ctot[h] of every context of orders 1..n-1; 0 at order n. */
static void context_totals(RnnrtNgram *g)
{
    int n = g->order;
    for (int m = 1; m <= n; m++)
        memset(g->t[m].ctot, 0, g->t[m].n * sizeof *g->t[m].ctot);
    for (int m = 2; m <= n; m++) {
        const RnnrtNgramTable *t = &g->t[m];
        uint32_t *ctot = g->t[m - 1].ctot;
        for (size_t id = 0; id < t->n; id++)
            ctot[t->prefix[id]] += t->count[id];
    }
}

static uint32_t suffix_of(const RnnrtNgramTable *t, size_t id)
{
    return (uint32_t)(t->key[id] >> 32);
}

void rnnrt_ngram_publish(RnnrtNgram *g, int m)
{
    RnnrtNgramTable *t = &g->t[m];
    size_t nslots = m == 1 ? t->n : t->cap;
    for (size_t i = 0; i < nslots; i++) {
        RnnrtNgramSlot *s = &t->slots[i];
        if (s->key != RNNRT_NGRAM_EMPTY) {
            s->lp = t->lp[s->id];
            s->lg = t->lg[s->id];
        }
    }
}

static void alloc_model(RnnrtNgram *g, int n)
{
    for (int m = 1; m <= n; m++) {
        RnnrtNgramTable *t = &g->t[m];
        if (!t->lp) {
            t->lp = zeros(t->n, sizeof *t->lp, "n-gram probabilities");
            t->lg = zeros(t->n, sizeof *t->lg, "n-gram backoff weights");
            t->ctot = zeros(t->n, sizeof *t->ctot, "context counts");
        }
    }
}

/* ---- mle and add_k: raw counts, no interpolation ---- */

/* add = 0 is mle: p = c / total; else p = (c + k) / (total + k|P|). A seen
 * context's weight is 0 (mle: unseen continuations get 0) or
 * k / (total + k|P|) (add_k, read by the scorer directly). */
static void build_ratio(RnnrtNgram *g, double add)
{
    int n = g->order;
    double kP = add * g->npred;
    RnnrtNgramTable *u = &g->t[1];
    for (size_t w = 0; w < u->n; w++)
        u->lp[w] = predicted(w) ? ln((u->count[w] + add) /
                                     ((double)g->ntokens + kP))
                                : -INFINITY;
    for (int m = 2; m <= n; m++) {
        RnnrtNgramTable *t = &g->t[m];
        const uint32_t *ctot = g->t[m - 1].ctot;
        for (size_t id = 0; id < t->n; id++)
            t->lp[id] = ln((t->count[id] + add) /
                           (ctot[t->prefix[id]] + kP));
    }
    for (int m = 1; m <= n; m++) {
        RnnrtNgramTable *t = &g->t[m];
        for (size_t h = 0; h < t->n; h++)
            t->lg[h] = m == n || !t->ctot[h] ? 0
                       : add > 0 ? ln(add / (t->ctot[h] + kP))
                                 : -INFINITY;
    }
}

/* ---- backoff: absolute discounting without interpolation ---- */

/* Unigrams: seen tokens lose D each, and that mass is spread over all of
 * P (interpolation with the uniform distribution, as in kneser_ney), so
 * every smoothed model treats unseen tokens such as <unk> alike. */
static void backoff_unigrams(RnnrtNgram *g, double *pr)
{
    RnnrtNgramTable *u = &g->t[1];
    double D = g->discount[1][1], N = (double)g->ntokens, seen = 0;
    for (size_t w = 0; w < u->n; w++)
        seen += predicted(w) && u->count[w] > 0;
    double uniform = D * seen / N / g->npred;
    for (size_t w = 0; w < u->n; w++) {
        double c = u->count[w];
        pr[w] = predicted(w) ? (c > 0 ? c - D : 0) / N + uniform : 0;
        u->lp[w] = ln(pr[w]);
    }
}

/* The lower-order mass of the tokens of P never seen after context h (an
 * (m-1)-gram), summed over those tokens: used when 1 - (mass of the seen
 * ones) would lose its digits to cancellation. */
static double unseen_mass(const RnnrtNgram *g, int m, uint32_t h)
{
    int32_t toks[RNNRT_NGRAM_MAX_ORDER + 1];
    uint32_t ids[RNNRT_NGRAM_MAX_ORDER + 1];
    rnnrt_ngram_tokens(g, m - 1, h, toks);
    double mass = 0;
    for (int32_t w = 0; w < g->V; w++) {
        if (!predicted((size_t)w))
            continue;
        toks[m - 1] = w;
        if (rnnrt_ngram_walk(g, toks, (size_t)m, m, ids) == m)
            continue;
        mass += exp(rnnrt_ngram_logprob_upto(g, toks + 1, (size_t)m - 2, w,
                                             m - 1));
    }
    return mass;
}

/* Order m >= 2 from order m-1's probabilities prev; writes pr. */
static void backoff_order(RnnrtNgram *g, int m, const double *prev,
                          double *pr)
{
    RnnrtNgramTable *t = &g->t[m], *c = &g->t[m - 1];
    uint32_t *next = zeros(c->n, sizeof *next, "backoff contexts");
    double *low = zeros(c->n, sizeof *low, "backoff contexts");
    for (size_t id = 0; id < t->n; id++) {
        next[t->prefix[id]]++;
        low[t->prefix[id]] += prev[suffix_of(t, id)];
    }
    double D = g->discount[m][1];
    for (size_t h = 0; h < c->n; h++) {
        c->lg[h] = 0;
        if (!c->ctot[h])
            continue;
        if (next[h] >= (uint32_t)g->npred || D == 0) {
            c->lg[h] = -INFINITY; /* nothing left to back off to */
            low[h] = 0;           /* low[h] now holds h's discount */
            continue;
        }
        double den = 1 - low[h];
        if (den < 1e-6)
            den = unseen_mass(g, m, (uint32_t)h);
        c->lg[h] = ln(D * next[h] / c->ctot[h] / den);
        low[h] = D;
    }
    for (size_t id = 0; id < t->n; id++) {
        uint32_t h = t->prefix[id];
        pr[id] = (t->count[id] - low[h]) / c->ctot[h];
        t->lp[id] = ln(pr[id]);
    }
    free(next);
    free(low);
}

static void build_backoff(RnnrtNgram *g)
{
    int n = g->order;
    for (int m = 1; m <= n; m++)
        single_discount(g, m, g->t[m].count);
    double *prev = zeros(g->t[1].n, sizeof *prev, "probabilities");
    backoff_unigrams(g, prev);
    for (int m = 2; m <= n; m++) {
        double *pr = zeros(g->t[m].n, sizeof *pr, "probabilities");
        for (int k = 1; k < m; k++)
            rnnrt_ngram_publish(g, k); /* unseen_mass reads orders < m */
        backoff_order(g, m, prev, pr);
        free(prev);
        prev = pr;
    }
    free(prev);
    memset(g->t[n].lg, 0, g->t[n].n * sizeof *g->t[n].lg);
}

/* ---- interpolated Kneser-Ney, one or three discounts per order ---- */

/* Adjusted counts of order m < n: the number of distinct left extensions
 * x g in order m+1, except for n-grams that begin with <bos>, which keep
 * their raw counts. */
static uint32_t *adjusted_counts(const RnnrtNgram *g, int m)
{
    const RnnrtNgramTable *t = &g->t[m], *up = &g->t[m + 1];
    uint32_t *a = zeros(t->n, sizeof *a, "adjusted counts");
    for (size_t id = 0; id < up->n; id++)
        a[suffix_of(up, id)]++;
    for (size_t id = 0; m > 1 && id < t->n; id++)
        if ((int32_t)(uint32_t)t->key[id] == RNNRT_BOS)
            a[id] = t->count[id];
    return a;
}

/* Unigrams interpolate with the uniform distribution over P. */
static void kn_unigrams(RnnrtNgram *g, const uint32_t *a, double *pr)
{
    RnnrtNgramTable *u = &g->t[1];
    double tot = 0, dsum = 0;
    for (size_t w = 0; w < u->n; w++)
        if (predicted(w)) {
            tot += a[w];
            dsum += disc(g, 1, a[w]);
        }
    double gamma = dsum / tot / g->npred;
    for (size_t w = 0; w < u->n; w++) {
        pr[w] = predicted(w) ? (a[w] - disc(g, 1, a[w])) / tot + gamma : 0;
        u->lp[w] = ln(pr[w]);
    }
}

/* Order m >= 2: p(w|h) = (a(hw) - D(a)) / a(h) + gamma(h) p(w|h'), with
 * gamma(h) = sum of the discounts taken from h's extensions / a(h). */
static void kn_order(RnnrtNgram *g, int m, const uint32_t *a,
                     const double *prev, double *pr)
{
    RnnrtNgramTable *t = &g->t[m], *c = &g->t[m - 1];
    double *tot = zeros(c->n, sizeof *tot, "context totals");
    double *gamma = zeros(c->n, sizeof *gamma, "context weights");
    for (size_t id = 0; id < t->n; id++) {
        tot[t->prefix[id]] += a[id];
        gamma[t->prefix[id]] += disc(g, m, a[id]);
    }
    for (size_t h = 0; h < c->n; h++) {
        gamma[h] = tot[h] > 0 ? gamma[h] / tot[h] : 0;
        c->lg[h] = tot[h] > 0 ? ln(gamma[h]) : 0;
    }
    for (size_t id = 0; id < t->n; id++) {
        uint32_t h = t->prefix[id];
        pr[id] = (a[id] - disc(g, m, a[id])) / tot[h] +
                 gamma[h] * prev[suffix_of(t, id)];
        t->lp[id] = ln(pr[id]);
    }
    free(tot);
    free(gamma);
}

static void build_kn(RnnrtNgram *g, int modified)
{
    int n = g->order;
    uint32_t *a[RNNRT_NGRAM_MAX_ORDER + 1];
    for (int m = 1; m <= n; m++) {
        a[m] = m == n ? g->t[m].count : adjusted_counts(g, m);
        if (modified)
            mkn_discounts(g, m, a[m]);
        else
            single_discount(g, m, a[m]);
    }
    double *prev = zeros(g->t[1].n, sizeof *prev, "probabilities");
    kn_unigrams(g, a[1], prev);
    for (int m = 2; m <= n; m++) {
        double *pr = zeros(g->t[m].n, sizeof *pr, "probabilities");
        kn_order(g, m, a[m], prev, pr);
        free(prev);
        prev = pr;
    }
    free(prev);
    for (int m = 1; m < n; m++)
        free(a[m]);
    memset(g->t[n].lg, 0, g->t[n].n * sizeof *g->t[n].lg);
}

/* ---- entry point ---- */

int rnnrt_ngram_build(RnnrtNgram *g, const RnnrtNgramOpts *o,
                      RnnrtError *err)
{
    int rc = rnnrt_ngram_opts_check(o, err);
    if (rc)
        return rc;
    if (o->order > g->counted)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "cannot build an order-%d model from counts of "
                           "orders 1..%d", o->order, g->counted);
    g->order = o->order;
    g->opts = *o;
    g->from_arpa = 0;
    memset(g->discount, 0, sizeof g->discount);
    memset(g->fallback, 0, sizeof g->fallback);
    alloc_model(g, o->order);
    context_totals(g);
    switch (o->smoothing) {
    case RNNRT_SMOOTH_MLE:
        build_ratio(g, 0);
        break;
    case RNNRT_SMOOTH_ADD_K:
        build_ratio(g, o->k);
        break;
    case RNNRT_SMOOTH_BACKOFF:
        build_backoff(g);
        break;
    case RNNRT_SMOOTH_KN:
    case RNNRT_SMOOTH_MKN:
        build_kn(g, o->smoothing == RNNRT_SMOOTH_MKN);
        break;
    default:
        break;
    }
    for (int m = 1; m <= o->order; m++)
        rnnrt_ngram_publish(g, m);
    return 0;
}
