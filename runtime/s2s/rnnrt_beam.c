/*
 * rnnrt_beam.c: greedy and beam-search decoding over a model's step
 * function, for a batch of sentences at once (the rules are in
 * rnnrt_s2s.h; greedy is beam width 1).
 *
 * Rows: sentence s owns rows s*k .. s*k+k-1 ("slots"); the live hypotheses
 * of s sit in its first live[s] slots, in rank order. At step t the slot
 * of a live hypothesis of length t is called; its candidates (slot, token)
 * are ranked, the best k - f kept (f = hypotheses of s finished so far),
 * and the kept ones are written to the new slots with their token and
 * parent row in hist[t], so any hypothesis is recovered by walking parents
 * back from (t, slot). Finished hypotheses go to a pool of at most k per
 * sentence (each finish takes one live slot away for good).
 *
 * Scores are summed in double. Everything is deterministic: candidates are
 * scanned in (row, token) order and a later one only passes an earlier one
 * when strictly better.
 */
#include "rnnrt_s2s.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void rnnrt_beam_opts_default(RnnrtBeamOpts *o)
{
    o->beam = 4;
    o->max_len = 10;
    o->alpha = 0.75;
    o->allow_unk = 0;
}

typedef struct {
    int t_last;     /* step of the last output token (-1: none) */
    int slot;       /* its slot at that step */
    int out_len;    /* output tokens (without <eos>) */
    int norm_len;   /* length for the normalization (with <eos>) */
    double logprob;
} Finished;

typedef struct {
    double score;
    int row, tok;
} Cand;

typedef struct {
    int n, k, V, S, rows, max_len;
    double alpha;
    int allow_unk;
    int32_t *prev;        /* [rows] */
    real *state, *next;   /* [rows][S] */
    real *lp;             /* [rows][V] */
    double *score;        /* [rows]: -inf for a free slot */
    int *live;            /* [n] */
    int32_t *tok_hist;    /* [max_len][rows] */
    int *par_hist;        /* [max_len][rows] */
    Finished *pool;       /* [n][k] */
    int *npool;           /* [n] */
    Cand *best;           /* [k] */
} Search;

static int allowed(const Search *s, int tok)
{
    return tok != RNNRT_PAD && tok != RNNRT_BOS
           && (tok != RNNRT_UNK || s->allow_unk);
}

/* The m best candidates of sentence i, into s->best; returns how many. */
static int rank_candidates(Search *s, int i, int m)
{
    int nbest = 0;
    if (m <= 0)
        return 0;
    for (int slot = 0; slot < s->k; slot++) {
        int r = i * s->k + slot;
        if (!(s->score[r] > -INFINITY))
            continue;
        const real *lp = s->lp + (size_t)r * (size_t)s->V;
        for (int v = 0; v < s->V; v++) {
            double c = s->score[r] + (double)lp[v];
            if (!allowed(s, v) || !(c > -INFINITY)) /* NaN fails too */
                continue;
            if (nbest == m && !(c > s->best[m - 1].score))
                continue;
            int at = nbest < m ? nbest++ : m - 1;
            while (at > 0 && c > s->best[at - 1].score) {
                s->best[at] = s->best[at - 1];
                at--;
            }
            s->best[at] = (Cand){c, r, v};
        }
    }
    return nbest;
}

static void finish(Search *s, int i, int t_last, int slot, int out_len,
                   int norm_len, double logprob)
{
    s->pool[i * s->k + s->npool[i]++] =
        (Finished){t_last, slot, out_len, norm_len, logprob};
}

/* Step t's selection for sentence i; writes new slots into next-step
 * arrays (scores, prev, state rows, history). */
static void advance(Search *s, int i, int t, double *new_score,
                    real *new_state)
{
    int k = s->k, S = s->S;
    int nbest = rank_candidates(s, i, k - s->npool[i]);
    int slot = 0;
    for (int j = 0; j < nbest; j++) {
        const Cand *c = &s->best[j];
        if (c->tok == RNNRT_EOS) {
            /* the hypothesis of row c->row (length t) + <eos> */
            finish(s, i, t - 1, c->row, t, t + 1, c->score);
            continue;
        }
        int r = i * k + slot++;
        new_score[r] = c->score;
        s->prev[r] = c->tok;
        s->tok_hist[(size_t)t * (size_t)s->rows + (size_t)r] = c->tok;
        s->par_hist[(size_t)t * (size_t)s->rows + (size_t)r] = c->row;
        memcpy(new_state + (size_t)r * (size_t)S,
               s->next + (size_t)c->row * (size_t)S, (size_t)S * sizeof(real));
    }
    for (int j = slot; j < k; j++) {
        new_score[i * k + j] = -INFINITY;
        s->prev[i * k + j] = RNNRT_EOS;
    }
    s->live[i] = slot;
}

/* Writes the pool's best hypothesis of sentence i into res. */
static void pick(const Search *s, int i, RnnrtBeamResult *res)
{
    int best = -1;
    double best_score = -INFINITY;
    for (int j = 0; j < s->npool[i]; j++) {
        const Finished *f = &s->pool[i * s->k + j];
        double sc = f->logprob / pow((double)f->norm_len, s->alpha);
        if (best < 0 || sc > best_score) {
            best = j;
            best_score = sc;
        }
    }
    int32_t *out = res->tokens + (size_t)i * (size_t)s->max_len;
    int *rows = res->rows + (size_t)i * (size_t)s->max_len;
    for (int t = 0; t < s->max_len; t++) {
        out[t] = RNNRT_PAD;
        rows[t] = -1;
    }
    if (best < 0) { /* the model never offered an allowed token */
        res->len[i] = 0;
        res->logprob[i] = res->score[i] = -INFINITY;
        return;
    }
    const Finished *f = &s->pool[i * s->k + best];
    int slot = f->slot;
    for (int t = f->t_last; t >= 0; t--) {
        size_t at = (size_t)t * (size_t)s->rows + (size_t)slot;
        out[t] = s->tok_hist[at];
        rows[t] = s->par_hist[at];
        slot = s->par_hist[at];
    }
    res->len[i] = f->out_len;
    res->logprob[i] = f->logprob;
    res->score[i] = best_score;
}

static int check_opts(int nsent, int V, int S, const RnnrtBeamOpts *o,
                      RnnrtError *err)
{
    if (nsent < 1 || V <= 4 || S < 0)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "beam search: need at "
                           "least 1 sentence and 5 tokens (got %d, V = %d, "
                           "S = %d)", nsent, V, S);
    if (o->beam < 1 || o->max_len < 1)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "beam search: the beam "
                           "width (%d) and the maximum length (%d) must be "
                           "at least 1", o->beam, o->max_len);
    if (!(o->alpha >= 0 && o->alpha <= 10))
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "beam search: the length "
                           "normalization exponent must be in [0, 10], not "
                           "%g", o->alpha);
    size_t rows, cells;
    if (rnnrt_size_mul((size_t)nsent, (size_t)o->beam, &rows) != 0
        || rows > INT32_MAX / 2
        || rnnrt_size_mul(rows, (size_t)V + (size_t)S, &cells) != 0
        || rnnrt_size_mul(rows, (size_t)o->max_len, &cells) != 0)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "beam search: %d "
                           "sentences x beam %d x %d tokens is too large",
                           nsent, o->beam, V);
    return 0;
}

/* The buffers of a search of up to nsent sentences of width k, V tokens,
 * S state reals and max_len steps, and of its result. */
struct RnnrtBeamWork {
    Search s;
    int nsent, k, V, S, max_len; /* the capacity */
    double *new_score;           /* [rows] */
    real *new_state;             /* [rows][S] */
    RnnrtBeamResult res;         /* [nsent][max_len] */
};

RnnrtBeamWork *rnnrt_beam_work_new(int nsent, int k, int V, int S,
                                   int max_len, RnnrtError *err)
{
    RnnrtBeamOpts o;
    rnnrt_beam_opts_default(&o);
    o.beam = k;
    o.max_len = max_len;
    if (check_opts(nsent, V, S, &o, err))
        return NULL;
    RnnrtBeamWork *w = rnnrt_xcalloc(1, sizeof *w, "beam");
    *w = (RnnrtBeamWork){.nsent = nsent, .k = k, .V = V, .S = S,
                         .max_len = max_len};
    Search *s = &w->s;
    size_t rows = (size_t)nsent * (size_t)k, cells = rows * (size_t)max_len;
    s->prev = rnnrt_xcalloc(rows, sizeof *s->prev, "beam tokens");
    s->state = rnnrt_xcalloc(rows * (size_t)S + 1, sizeof(real), "beam");
    s->next = rnnrt_xcalloc(rows * (size_t)S + 1, sizeof(real), "beam");
    s->lp = rnnrt_xcalloc(rows * (size_t)V, sizeof(real), "beam logprobs");
    s->score = rnnrt_xcalloc(rows, sizeof(double), "beam scores");
    s->live = rnnrt_xcalloc((size_t)nsent, sizeof(int), "beam");
    s->tok_hist = rnnrt_xcalloc(cells, sizeof(int32_t), "beam history");
    s->par_hist = rnnrt_xcalloc(cells, sizeof(int), "beam history");
    s->pool = rnnrt_xcalloc(rows, sizeof(Finished), "beam hypotheses");
    s->npool = rnnrt_xcalloc((size_t)nsent, sizeof(int), "beam");
    s->best = rnnrt_xcalloc((size_t)k, sizeof(Cand), "beam");
    w->new_score = rnnrt_xcalloc(rows, sizeof(double), "beam");
    w->new_state = rnnrt_xcalloc(rows * (size_t)S + 1, sizeof(real), "beam");
    RnnrtBeamResult *res = &w->res;
    res->tokens = rnnrt_xcalloc(cells, sizeof(int32_t), "decoder output");
    res->rows = rnnrt_xcalloc(cells, sizeof(int), "decoder output");
    res->len = rnnrt_xcalloc((size_t)nsent, sizeof(int), "decoder output");
    res->logprob = rnnrt_xcalloc((size_t)nsent, sizeof(double), "output");
    res->score = rnnrt_xcalloc((size_t)nsent, sizeof(double), "output");
    return w;
}

void rnnrt_beam_work_free(RnnrtBeamWork *w)
{
    if (!w)
        return;
    Search *s = &w->s;
    free(s->prev);
    free(s->state);
    free(s->next);
    free(s->lp);
    free(s->score);
    free(s->live);
    free(s->tok_hist);
    free(s->par_hist);
    free(s->pool);
    free(s->npool);
    free(s->best);
    free(w->new_score);
    free(w->new_state);
    rnnrt_beam_result_free(&w->res);
    free(w);
}

/* Starts a search in w's buffers: the start hypothesis of each sentence. */
static void search_start(RnnrtBeamWork *w, int nsent, int V, int S,
                         const real *state0, const RnnrtBeamOpts *o)
{
    Search *s = &w->s;
    s->n = nsent;
    s->k = o->beam;
    s->V = V;
    s->S = S;
    s->rows = nsent * o->beam;
    s->max_len = o->max_len;
    s->alpha = o->alpha;
    s->allow_unk = o->allow_unk;
    memset(s->npool, 0, (size_t)nsent * sizeof *s->npool);
    for (int i = 0; i < nsent; i++) {
        s->live[i] = s->k;
        for (int j = 0; j < s->k; j++) {
            int r = i * s->k + j;
            s->prev[r] = RNNRT_BOS;
            s->score[r] = j == 0 ? 0.0 : -INFINITY;
            memcpy(s->state + (size_t)r * (size_t)S,
                   state0 + (size_t)i * (size_t)S, (size_t)S * sizeof(real));
        }
    }
}

void rnnrt_beam_result_free(RnnrtBeamResult *r)
{
    free(r->tokens);
    free(r->rows);
    free(r->len);
    free(r->logprob);
    free(r->score);
    memset(r, 0, sizeof *r);
}

int rnnrt_beam_search_in(RnnrtBeamWork *w, RnnrtStepFn step, void *model,
                         int nsent, int V, int S, const real *state0,
                         const RnnrtBeamOpts *o, RnnrtBeamResult *res,
                         RnnrtError *err)
{
    memset(res, 0, sizeof *res);
    int rc = check_opts(nsent, V, S, o, err);
    if (rc)
        return rc;
    if (nsent > w->nsent || o->beam > w->k || V != w->V || S != w->S ||
        o->max_len > w->max_len)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "beam search: %d sentences "
                           "x beam %d x %d steps (V %d, S %d) do not fit "
                           "buffers for %d x %d x %d (V %d, S %d)", nsent,
                           o->beam, o->max_len, V, S, w->nsent, w->k,
                           w->max_len, w->V, w->S);
    Search *s = &w->s;
    search_start(w, nsent, V, S, state0, o);
    double *new_score = w->new_score;
    real *new_state = w->new_state;
    int t = 0;
    for (; t < s->max_len; t++) {
        int sig = rnnrt_signal_pending();
        if (sig) {
            rc = rnnrt_error(err, sig == SIGINT ? RNNRT_EXIT_SIGINT
                                           : RNNRT_EXIT_SIGTERM,
                             "interrupted while decoding");
            break;
        }
        step(model, s->rows, s->prev, s->state, s->next, s->lp);
        memcpy(new_state, s->state, (size_t)s->rows * (size_t)S * sizeof(real));
        int any = 0;
        for (int i = 0; i < nsent; i++) {
            advance(s, i, t, new_score, new_state);
            any |= s->live[i] > 0;
        }
        memcpy(s->score, new_score, (size_t)s->rows * sizeof(double));
        real *tmp = s->state;
        s->state = new_state;
        new_state = tmp;
        if (!any)
            break;
    }
    w->new_state = new_state; /* the buffers swap; w keeps both */
    if (rc)
        return rc;
    for (int i = 0; i < nsent; i++)
        for (int j = 0; j < s->live[i]; j++) /* cut off at max_len */
            finish(s, i, s->max_len - 1, i * s->k + j, s->max_len,
                   s->max_len, s->score[i * s->k + j]);
    *res = w->res;
    res->nsent = nsent;
    res->max_len = s->max_len;
    for (int i = 0; i < nsent; i++)
        pick(s, i, res);
    return 0;
}

int rnnrt_beam_search(RnnrtStepFn step, void *model, int nsent, int V, int S,
                      const real *state0, const RnnrtBeamOpts *o,
                      RnnrtBeamResult *res, RnnrtError *err)
{
    memset(res, 0, sizeof *res);
    int rc = check_opts(nsent, V, S, o, err);
    if (rc)
        return rc;
    RnnrtBeamWork *w = rnnrt_beam_work_new(nsent, o->beam, V, S, o->max_len,
                                           err);
    rc = rnnrt_beam_search_in(w, step, model, nsent, V, S, state0, o, res,
                              err);
    if (!rc)
        memset(&w->res, 0, sizeof w->res); /* the caller owns the result */
    rnnrt_beam_work_free(w);
    return rc;
}
