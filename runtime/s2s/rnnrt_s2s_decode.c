/*
 * rnnrt_s2s_decode.c: decoding a seq2seq model (greedy and beam search,
 * rnnrt_beam.c) through its emitted entries or its training forward, and
 * scoring held-out pairs (BLEU, exact match).
 */
#include "rnnrt_s2s_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- decoding: see S2sDecoder in rnnrt_s2s_int.h ---- */

int rnnrt_s2s_decoder_init(S2sDecoder *d, const S2sParams *p, int T, int k, int max_sent, int attention,
                           int rerun, RnnrtError *err)
{
    const RnnrtS2sModel *m = p->m;
    size_t rows = (size_t)max_sent * (size_t)k;
    *d = (S2sDecoder){.p = p, .T = T, .k = k, .emitted = m->encode && m->step && !rerun};
    d->x = rnnrt_xcalloc(rows * (size_t)T, sizeof(int32_t), "decoder inputs");
    d->sl = rnnrt_xcalloc(rows, sizeof(int32_t), "lengths");
    if (attention)
        d->attn = rnnrt_xcalloc((size_t)T * rows * (size_t)T, sizeof(real), "attention weights");
    if (d->emitted) {
        d->S = m->dec_state_size;
        size_t n = m->decode_workspace((int)rows, T, p->V, p->Vt);
        if (n == 0)
            return rnnrt_error(err, RNNRT_EXIT_USAGE, "the decoding workspace for %zu rows, T %d does not fit", rows,
                               T);
        d->dwork = rnnrt_xcalloc(n, sizeof(real), "the decoding workspace");
        d->sin = rnnrt_xcalloc(rows * (size_t)d->S + 1, sizeof(real), "decoder states");
        d->sout = rnnrt_xcalloc(rows * (size_t)d->S + 1, sizeof(real), "decoder states");
        d->dc = (RnnrtS2sDecCtx){.T = T, .V = p->V, .Vt = p->Vt, .params = p->b.params, .src = d->x,
                                 .src_len = d->sl, .work = d->dwork};
    } else {
        d->S = T + 1;
        d->dec = rnnrt_xcalloc(rows * (size_t)T, sizeof(int32_t), "decoder inputs");
        d->label = rnnrt_xcalloc(rows * (size_t)T, sizeof(int32_t), "decoder inputs");
        d->tl = rnnrt_xcalloc(rows, sizeof(int32_t), "lengths");
        return rnnrt_s2s_step_init(&d->step, p, (int)rows, T, err);
    }
    return 0;
}

void rnnrt_s2s_decoder_free(S2sDecoder *d)
{
    free(d->x);
    free(d->sl);
    free(d->attn);
    if (d->emitted) {
        free(d->dwork);
        free(d->sin);
        free(d->sout);
    } else {
        rnnrt_s2s_step_free(&d->step);
        free(d->dec);
        free(d->label);
        free(d->tl);
    }
}

/* Copies between the beam's rows ([n][S]) and the step's blocks ([nb][n][S / nb]). */
static void rows_to_blocks(const real *rows, real *blocks, int n, int S, int nb)
{
    int w = S / nb;
    for (int r = 0; r < n; r++)
        for (int b = 0; b < nb; b++)
            memcpy(blocks + ((size_t)b * n + r) * w, rows + (size_t)r * S + (size_t)b * w, (size_t)w * sizeof(real));
}

static void blocks_to_rows(const real *blocks, real *rows, int n, int S, int nb)
{
    int w = S / nb;
    for (int r = 0; r < n; r++)
        for (int b = 0; b < nb; b++)
            memcpy(rows + (size_t)r * S + (size_t)b * w, blocks + ((size_t)b * n + r) * w, (size_t)w * sizeof(real));
}

static void log_softmax_row(const real *z, int Vt, real *out)
{
    double mx = z[0], s = 0;
    for (int v = 1; v < Vt; v++)
        mx = z[v] > mx ? z[v] : mx;
    for (int v = 0; v < Vt; v++)
        s += exp(z[v] - mx);
    double lse = mx + log(s);
    for (int v = 0; v < Vt; v++)
        out[v] = (real)(z[v] - lse);
}

/* Starts a search of nsent sentences: the sources row by row, and each
 * sentence's start state in state0 ([nsent][S]). */
void rnnrt_s2s_decoder_start(S2sDecoder *d, int nsent, const int32_t *src, const int32_t *src_len, real *state0)
{
    int T = d->T, rows = nsent * d->k;
    d->nsent = nsent;
    d->src = src;
    d->src_len = src_len;
    d->calls = 0;
    for (int r = 0; r < rows; r++) {
        int sent = r / d->k;
        for (int t = 0; t < T; t++)
            d->x[(size_t)t * rows + r] = src[(size_t)sent * T + t];
        d->sl[r] = src_len[sent];
    }
    if (!d->emitted) {
        memset(state0, 0, (size_t)nsent * d->S * sizeof(real));
        return;
    }
    const RnnrtS2sModel *m = d->p->m;
    d->dc.B = rows;
    d->dc.state_out = d->sout;
    m->encode(&d->dc);
    blocks_to_rows(d->sout, d->sin, rows, d->S, m->dec_states);
    for (int s = 0; s < nsent; s++)
        memcpy(state0 + (size_t)s * d->S, d->sin + (size_t)s * d->k * d->S, (size_t)d->S * sizeof(real));
}

/* One call of the search through the emitted step. */
static void emitted_step(void *model, int n, const int32_t *prev, const real *state_in, real *state_out,
                         real *logprobs)
{
    S2sDecoder *d = model;
    const RnnrtS2sModel *m = d->p->m;
    int T = d->T, Vt = d->p->Vt, pos = d->calls++;
    if (pos >= T)
        pos = T - 1;
    rows_to_blocks(state_in, d->sin, n, d->S, m->dec_states);
    d->dc.B = n;
    d->dc.prev = prev;
    d->dc.state_in = d->sin;
    d->dc.state_out = d->sout;
    m->step(&d->dc);
    blocks_to_rows(d->sout, state_out, n, d->S, m->dec_states);
    for (int r = 0; d->attn && d->dc.attention && r < n; r++)
        for (int t = 0; t < T; t++)
            d->attn[((size_t)pos * n + r) * T + t] = d->dc.attention[(size_t)t * n + r];
    for (int r = 0; r < n; r++)
        log_softmax_row(d->dc.logits + (size_t)r * Vt, Vt, logprobs + (size_t)r * Vt);
}

/* One call through the training forward. state: [count, dec_in[0], ...,
 * dec_in[T-1]] as reals. The position is the call's number, not the
 * state's count: rows of finished hypotheses come with stale states. */
static void rerun_step(void *model, int n, const int32_t *prev, const real *state_in, real *state_out,
                       real *logprobs)
{
    S2sDecoder *d = model;
    int T = d->T, S = T + 1, Vt = d->p->Vt, pos = d->calls++;
    if (pos >= T)
        pos = T - 1; /* max_len <= T: never past the last step */
    for (int r = 0; r < n; r++) {
        const real *si = state_in + (size_t)r * S;
        real *so = state_out + (size_t)r * S;
        memcpy(so, si, (size_t)S * sizeof(real));
        so[1 + pos] = (real)prev[r];
        so[0] = (real)(pos + 1);
        for (int t = 0; t < T; t++) {
            d->dec[t * n + r] = t <= pos ? (int32_t)so[1 + t] : RNNRT_PAD;
            d->label[t * n + r] = RNNRT_PAD;
        }
        d->tl[r] = 0;
    }
    RnnrtS2sCtx c = d->step.c;
    c.B = n;
    c.src = d->x;
    c.dec_in = d->dec;
    c.label = d->label;
    c.src_len = d->sl;
    c.tgt_len = d->tl;
    d->p->m->forward(&c);
    for (int r = 0; d->attn && c.attention && r < n; r++)
        for (int t = 0; t < T; t++)
            d->attn[((size_t)pos * n + r) * T + t] = c.attention[((size_t)pos * T + t) * n + r];
    for (int r = 0; r < n; r++)
        log_softmax_row(c.logits + ((size_t)pos * n + r) * Vt, Vt, logprobs + (size_t)r * Vt);
}

int rnnrt_s2s_decoder_search(S2sDecoder *d, RnnrtBeamWork *w, const real *state0, const RnnrtBeamOpts *o,
                             RnnrtBeamResult *res, RnnrtError *err)
{
    RnnrtStepFn step = d->emitted ? emitted_step : rerun_step;
    if (w)
        return rnnrt_beam_search_in(w, step, d, d->nsent, d->p->Vt, d->S, state0, o, res, err);
    return rnnrt_beam_search(step, d, d->nsent, d->p->Vt, d->S, state0, o, res, err);
}

/* Decodes held-out pairs [first, first + count) with width k and scores
 * them against the untruncated references. */
int rnnrt_s2s_decode_eval(const S2sParams *p, const RnnrtPairs *pairs, size_t first, size_t count, int k,
                          S2sScore *sc, int rerun, RnnrtError *err)
{
    enum { CHUNK = 128 };
    int T = pairs->T;
    S2sDecoder d;
    int rc = rnnrt_s2s_decoder_init(&d, p, T, k, CHUNK, 0, rerun, err);
    if (rc) {
        rnnrt_s2s_decoder_free(&d);
        return rc;
    }
    RnnrtVocab words; /* BLEU over strings: unknown reference words stay distinct */
    rnnrt_vocab_init(&words);
    real *state0 = rnnrt_xcalloc((size_t)CHUNK * d.S, sizeof(real), "decoder states");
    int32_t *pred = rnnrt_xcalloc((size_t)T + 1, sizeof(int32_t), "a prediction");
    int32_t *ref = NULL;
    size_t refcap = 0;
    rnnrt_bleu_stats_init(&sc->bleu);
    RnnrtBeamOpts o;
    rnnrt_beam_opts_default(&o);
    o.beam = k;
    o.max_len = T;
    for (size_t at = first; at < first + count && !rc; at += CHUNK) {
        int sig = rnnrt_signal_pending(); /* set only while train runs */
        if (sig) {
            rc = rnnrt_signal_exit_code(sig);
            break;
        }
        int nsent = (int)(first + count - at < CHUNK ? first + count - at : CHUNK);
        rnnrt_s2s_decoder_start(&d, nsent, pairs->src_arr + at * (size_t)T, pairs->src_valid + at, state0);
        RnnrtBeamResult res;
        rc = rnnrt_s2s_decoder_search(&d, NULL, state0, &o, &res, err);
        if (rc)
            break;
        for (int s = 0; s < nsent; s++) {
            size_t i = at + (size_t)s, b = pairs->tgt.start[i], e = pairs->tgt.start[i + 1];
            if (e - b > refcap) {
                refcap = e - b;
                ref = realloc(ref, refcap * sizeof(int32_t));
                if (!ref)
                    rnnrt_xcalloc(SIZE_MAX, 1, "a reference"); /* reports and exits */
            }
            for (size_t j = b; j < e; j++)
                ref[j - b] = rnnrt_bleu_intern(&words, pairs->tgt.tok[j]);
            int len = res.len[s];
            for (int j = 0; j < len; j++)
                pred[j] = rnnrt_bleu_intern(&words, p->Vt > res.tokens[(size_t)s * res.max_len + j]
                                                        ? pairs->tgt_vocab.tokens[res.tokens[(size_t)s * res.max_len + j]]
                                                        : "<unk>");
            rnnrt_bleu_stats_add(&sc->bleu, pred, len, ref, (int)(e - b));
            sc->d2l_sum += rnnrt_bleu_d2l(pred, len, ref, (int)(e - b), 2);
            sc->exact += (size_t)len == e - b && memcmp(pred, ref, (size_t)len * sizeof(int32_t)) == 0;
            sc->n++;
        }
        rnnrt_beam_result_free(&res);
    }
    free(ref);
    free(pred);
    free(state0);
    rnnrt_vocab_free(&words);
    rnnrt_s2s_decoder_free(&d);
    return rc;
}


/* Greedy, then (beam > 1) beam search over held-out pairs; one line each. */
int rnnrt_s2s_report_eval(const S2sParams *p, const RnnrtPairs *pairs, int beam, int64_t eval_max, int rerun,
                          RnnrtError *err)
{
    size_t held = pairs->n - pairs->ntrain;
    if (eval_max >= 0 && (size_t)eval_max < held)
        held = (size_t)eval_max;
    int rc = 0, widths[2] = {1, beam};
    for (int w = 0; w < 2 && held > 0 && !rc; w++) {
        if (w == 1 && beam <= 1)
            break;
        S2sScore sc = {0};
        rc = rnnrt_s2s_decode_eval(p, pairs, pairs->ntrain, held, widths[w], &sc, rerun, err);
        if (!rc)
            printf("%s: corpus BLEU-4 %.2f, mean d2l BLEU %.4f, exact match %.4f (%zu held-out pairs)\n",
                   widths[w] == 1 ? "greedy" : "beam", 100 * rnnrt_bleu_stats_score(&sc.bleu),
                   sc.d2l_sum / (double)sc.n, (double)sc.exact / (double)sc.n, sc.n);
    }
    return rc;
}

void rnnrt_s2s_pairs_opts(const RnnrtS2sModel *m, int64_t max_pairs, RnnrtPairsOpts *po)
{
    rnnrt_pairs_opts_default(po);
    po->train_frac = m->recipe.split;
    po->min_freq = m->recipe.min_freq > 0 ? m->recipe.min_freq : 1;
    po->num_steps = m->recipe.steps;
    po->max_pairs = (size_t)max_pairs;
}
