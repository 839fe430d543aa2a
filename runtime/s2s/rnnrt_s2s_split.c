/*
 * rnnrt_s2s_split.c: batch-split threads for the seq2seq trainer
 * (`--threads N`), on the crew of rnnrt_parallel.c.
 *
 * As in the LM split, worker i runs the model's own forward (and backward)
 * on rows [row0_i, row0_i + rows_i) of the minibatch with its own context,
 * workspace and gradient block, and the caller combines the results in
 * worker order, in double. The weights differ: the seq2seq loss is a masked
 * mean, sum / count over the valid label tokens of the whole minibatch, and
 * each slice's loss is the mean over its own valid tokens, so
 *
 *   loss  = sum_i w_i loss_i      w_i = count_i / count   (not rows_i / B)
 *   grads += sum_i w_i grads_i
 *
 * with count_i = sum over the slice's rows of tgt_len clamped to [0, T], as
 * the generated loss counts them. A slice without a valid token has loss 0
 * and weight 0; a minibatch without one gives loss 0 and no gradient, as the
 * plain call does. Rows are dealt as evenly as possible (B = 5 over 2 is
 * 3 + 2), whatever their lengths, so a slice's work does not depend on
 * the data and the result is bit-reproducible for a given N.
 *
 * The encoder's initial state: the descriptor does not say how the S reals
 * of a row are laid out over the layers (the generated code keeps one
 * [B][width] block per layer), so a slice cannot gather its rows in
 * general. The trainer always starts from zeros, which every slice gets as
 * its own zeroed state; a call with a nonzero state_in or a dstate_in to
 * fill runs unsplit (same results, one thread). After a split call
 * c->logits and c->attention are NULL (nothing that splits needs them).
 *
 * Over MPI ranks (rnnrt_mpi.c) the slices cover only this rank's rows of
 * the B (rnnrt_mpi_rows), and count is the whole minibatch's, which every
 * rank has (each builds the same global minibatch): the weights are then
 * the ones of a split over all ranks' slices, the rank's loss and
 * gradients its part of the minibatch's, and the driver sums the parts.
 * The trainer's minibatches always split (zero state, fixed B and T).
 *
 * A call is two passes of the crew: the slices' forward and backward, then
 * the gradient sum, split by element (each element still summed over the
 * workers in worker order). Nothing is allocated per call: worker 0
 * borrows the caller's workspace.
 */
#include "rnnrt_s2s.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int row0, rows;
    int32_t *src, *dec_in, *label; /* [T][rows] */
    int32_t *src_len, *tgt_len;    /* [rows] */
    real *state;                   /* rows * S zeros */
    real *work, *grads;
    int own_work;
    int64_t count;                 /* the slice's valid label tokens */
    double loss;
} S2sSlice;

struct RnnrtS2sSplit {
    const RnnrtS2sModel *m;
    int n, B, T;
    int ranks;                     /* MPI ranks the B rows are split over */
    size_t total;                  /* reals in the gradient block */
    S2sSlice *s;
    double *weight;                /* [n] count_i / count, this call's */
    RnnrtCrew *crew;
    RnnrtS2sCtx *job;
    int backward;
    int reducing;                  /* the crew's second pass: the sums */
};

int rnnrt_s2s_split_workers(int threads, int B)
{
    if (threads <= 1 || B <= 1)
        return 1;
    return threads < B ? threads : B;
}

static void gather_rows(const int32_t *src, int32_t *dst, int T, int B,
                        int row0, int rows)
{
    for (int t = 0; t < T; t++)
        memcpy(dst + (size_t)t * (size_t)rows,
               src + (size_t)t * (size_t)B + (size_t)row0,
               (size_t)rows * sizeof *dst);
}

/* Member i's share of the gradient sum: elements [total*i/n, total*(i+1)/n),
 * each summed over the workers in worker order, in double, so the result
 * does not depend on who summed which element. */
static void reduce_part(RnnrtS2sSplit *p, int i)
{
    size_t k0 = p->total * (size_t)i / (size_t)p->n;
    size_t k1 = p->total * (size_t)(i + 1) / (size_t)p->n;
    real *out = p->job->grads;
    for (size_t k = k0; k < k1; k++) {
        double g = 0;
        for (int j = 0; j < p->n; j++)
            if (p->weight[j] > 0)
                g += p->weight[j] * (double)p->s[j].grads[k];
        out[k] += (real)g;
    }
}

static void run_slice(void *arg, int i)
{
    RnnrtS2sSplit *p = arg;
    if (p->reducing) {
        reduce_part(p, i);
        return;
    }
    S2sSlice *s = &p->s[i];
    const RnnrtS2sCtx *c = p->job;
    RnnrtS2sCtx w = *c; /* every field, including ones added later */
    gather_rows(c->src, s->src, p->T, p->B, s->row0, s->rows);
    gather_rows(c->dec_in, s->dec_in, p->T, p->B, s->row0, s->rows);
    gather_rows(c->label, s->label, p->T, p->B, s->row0, s->rows);
    memcpy(s->src_len, c->src_len + s->row0, (size_t)s->rows * sizeof(int32_t));
    memcpy(s->tgt_len, c->tgt_len + s->row0, (size_t)s->rows * sizeof(int32_t));
    s->count = 0;
    for (int r = 0; r < s->rows; r++) {
        int L = s->tgt_len[r];
        s->count += L < 0 ? 0 : L > p->T ? p->T : L;
    }
    w.B = s->rows;
    w.src = s->src;
    w.dec_in = s->dec_in;
    w.label = s->label;
    w.src_len = s->src_len;
    w.tgt_len = s->tgt_len;
    w.state_in = s->state;
    w.dstate_in = NULL;
    w.work = s->work;
    w.grads = s->grads;
    p->m->forward(&w);
    s->loss = w.loss;
    if (!p->backward)
        return;
    memset(s->grads, 0, p->total * sizeof(real));
    p->m->backward(&w);
}

/* Worker order, in double: the same sums whatever thread finished first.
 * The gradient sum, a pass over every worker's block, is itself split over
 * the crew by element. */
static void reduce(RnnrtS2sSplit *p, RnnrtS2sCtx *c)
{
    int64_t count = 0; /* the whole minibatch's, every rank's rows */
    for (int r = 0; r < p->B; r++) {
        int L = c->tgt_len[r];
        count += L < 0 ? 0 : L > p->T ? p->T : L;
    }
    double loss = 0;
    for (int i = 0; i < p->n; i++) {
        p->weight[i] = count > 0 ? (double)p->s[i].count / (double)count : 0;
        if (p->weight[i] > 0) /* a slice without tokens: no NaN from it */
            loss += p->weight[i] * p->s[i].loss;
    }
    c->loss = loss;
    c->logits = NULL;
    c->attention = NULL;
    if (!p->backward || count == 0)
        return;
    p->reducing = 1;
    rnnrt_crew_run(p->crew);
    p->reducing = 0;
}

static int zero_state(const real *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (v[k] != 0)
            return 0;
    return 1;
}

void rnnrt_s2s_run(const RnnrtS2sModel *m, RnnrtS2sSplit *p, RnnrtS2sCtx *c,
                   int backward)
{
    size_t ns = (size_t)c->B * (size_t)m->state_size;
    if (p && p->m == m && c->B == p->B && c->T == p->T && !c->dstate_in &&
        (!c->state_in || zero_state(c->state_in, ns))) {
        p->job = c;
        p->backward = backward;
        rnnrt_crew_run(p->crew);
        reduce(p, c);
        return;
    }
    m->forward(c);
    if (backward)
        m->backward(c);
}

void rnnrt_s2s_split_free(RnnrtS2sSplit *p)
{
    if (!p)
        return;
    rnnrt_crew_free(p->crew);
    for (int i = 0; i < p->n; i++) {
        S2sSlice *s = &p->s[i];
        free(s->src);
        free(s->dec_in);
        free(s->label);
        free(s->src_len);
        free(s->tgt_len);
        free(s->state);
        if (s->own_work)
            free(s->work);
        free(s->grads);
    }
    free(p->s);
    free(p->weight);
    free(p);
}

int rnnrt_s2s_split_new(RnnrtS2sSplit **out, const RnnrtS2sModel *m,
                        int threads, int B, int T, int V, int Vt,
                        size_t total, real *work0, RnnrtError *err)
{
    *out = NULL;
    int ranks = rnnrt_mpi_size(), row = 0, rows = B;
    if (ranks > 1 && B < ranks)
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "--batch %d is smaller than the %d MPI ranks: "
                           "each rank needs a row of the minibatch", B, ranks);
    if (ranks > 1)
        rnnrt_mpi_rows(B, &row, &rows);
    int n = rnnrt_s2s_split_workers(threads, rows);
    if (n <= 1 && ranks <= 1) { /* OpenBLAS's threads, as before */
        rnnrt_blas_set_threads(threads);
        return 0;
    }
    rnnrt_blas_set_threads(1);
    RnnrtS2sSplit *p = rnnrt_xcalloc(1, sizeof *p, "the thread pool");
    p->m = m;
    p->n = n;
    p->B = B;
    p->T = T;
    p->total = total;
    p->ranks = ranks;
    p->s = rnnrt_xcalloc((size_t)n, sizeof *p->s, "the thread pool");
    p->weight = rnnrt_xcalloc((size_t)n, sizeof *p->weight, "the thread pool");
    for (int i = 0, all = rows; i < n; i++) {
        S2sSlice *s = &p->s[i];
        s->row0 = row;
        s->rows = all / n + (i < all % n);
        row += s->rows;
        size_t tb = (size_t)T * (size_t)s->rows;
        s->src = rnnrt_xcalloc(tb, sizeof(int32_t), "a worker's tokens");
        s->dec_in = rnnrt_xcalloc(tb, sizeof(int32_t), "a worker's tokens");
        s->label = rnnrt_xcalloc(tb, sizeof(int32_t), "a worker's tokens");
        s->src_len = rnnrt_xcalloc((size_t)s->rows, sizeof(int32_t),
                                   "a worker's lengths");
        s->tgt_len = rnnrt_xcalloc((size_t)s->rows, sizeof(int32_t),
                                   "a worker's lengths");
        s->state = rnnrt_xcalloc((size_t)s->rows * (size_t)m->state_size + 1,
                                 sizeof(real), "a worker's state");
        /* Worker 0 runs in the caller's thread, which no longer uses its
         * own workspace (sized for all B rows) while the split exists. */
        s->own_work = i > 0 || !work0;
        s->work = s->own_work
                      ? rnnrt_xcalloc(m->workspace(s->rows, T, V, Vt) + 1,
                                      sizeof(real), "a worker's workspace")
                      : work0;
        s->grads = rnnrt_xcalloc(total + 1, sizeof(real),
                                 "a worker's gradient block");
    }
    int rc = rnnrt_crew_new(&p->crew, n, run_slice, p, err);
    if (rc) {
        rnnrt_s2s_split_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int rnnrt_s2s_split_n(const RnnrtS2sSplit *p)
{
    return p ? p->n : 1;
}

int rnnrt_s2s_split_ranks(const RnnrtS2sSplit *p)
{
    return p ? p->ranks : 1;
}
