/*
 * rnnrt_bleu.c: BLEU over token-id sequences: d2l's per-sentence bleu()
 * and corpus BLEU-4 (Papineni et al. 2002). Definitions and edge cases are
 * in rnnrt_s2s.h.
 *
 * Both rest on the clipped n-gram count: sum over the distinct n-grams g of
 * the prediction of min(count in prediction, count in reference). d2l's
 * loop (match, then decrement the reference's count) computes exactly this.
 * Sentences are short, so counting is a direct O(len^2) scan, no hashing.
 */
#include "rnnrt_s2s.h"

#include <string.h>

static int same(const int32_t *a, const int32_t *b, int n)
{
    for (int i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static int64_t count_in(const int32_t *g, int n, const int32_t *s, int len)
{
    int64_t c = 0;
    for (int i = 0; i + n <= len; i++)
        c += same(g, s + i, n);
    return c;
}

/* Clipped n-gram matches of pred against ref. */
static int64_t clipped(const int32_t *pred, int lp, const int32_t *ref, int lr,
                       int n)
{
    int64_t m = 0;
    for (int i = 0; i + n <= lp; i++) {
        int seen = 0; /* count each distinct n-gram at its first place */
        for (int j = 0; j < i && !seen; j++)
            seen = same(pred + j, pred + i, n);
        if (seen)
            continue;
        int64_t cp = count_in(pred + i, n, pred + i, lp - i);
        int64_t cr = count_in(pred + i, n, ref, lr);
        m += cp < cr ? cp : cr;
    }
    return m;
}

double rnnrt_bleu_d2l(const int32_t *pred, int len_pred, const int32_t *label,
                      int len_label, int k)
{
    if (len_pred <= 0 || k < 1)
        return 0;
    double score = exp(fmin(0.0, 1.0 - (double)len_label / len_pred));
    for (int n = 1; n <= k; n++) {
        if (len_pred < n)
            return 0; /* d2l divides by zero here */
        int64_t m = clipped(pred, len_pred, label, len_label, n);
        score *= pow((double)m / (len_pred - n + 1), pow(0.5, n));
    }
    return score;
}

void rnnrt_bleu_stats_init(RnnrtBleuStats *s)
{
    memset(s, 0, sizeof *s);
}

void rnnrt_bleu_stats_add(RnnrtBleuStats *s, const int32_t *pred,
                          int len_pred, const int32_t *ref, int len_ref)
{
    for (int n = 1; n <= 4; n++) {
        s->match[n - 1] += clipped(pred, len_pred, ref, len_ref, n);
        s->total[n - 1] += len_pred >= n ? len_pred - n + 1 : 0;
    }
    s->pred_len += len_pred;
    s->ref_len += len_ref;
}

double rnnrt_bleu_stats_score(const RnnrtBleuStats *s)
{
    if (s->pred_len <= 0)
        return 0;
    double logp = 0;
    for (int n = 0; n < 4; n++) {
        if (s->match[n] == 0)
            return 0;
        logp += log((double)s->match[n] / (double)s->total[n]);
    }
    double c = (double)s->pred_len, r = (double)s->ref_len;
    double bp = c > r ? 1.0 : exp(1.0 - r / c);
    return bp * exp(logp / 4);
}

double rnnrt_corpus_bleu4(int n, const int32_t *const *pred,
                          const int *pred_len, const int32_t *const *ref,
                          const int *ref_len)
{
    RnnrtBleuStats s;
    rnnrt_bleu_stats_init(&s);
    for (int i = 0; i < n; i++)
        rnnrt_bleu_stats_add(&s, pred[i], pred_len[i], ref[i], ref_len[i]);
    return rnnrt_bleu_stats_score(&s);
}

int32_t rnnrt_bleu_intern(RnnrtVocab *v, const char *tok)
{
    size_t n = strlen(tok);
    int id = rnnrt_vocab_find(v, tok, n);
    return id >= 0 ? id : rnnrt_vocab_add(v, tok, n, 0);
}
