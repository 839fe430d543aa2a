/*
 * rnnrt_s2s_split.c: batch-split threads for the seq2seq trainer
 * (`--threads N`), on the one split of rnnrt_parallel.c (RnnrtSplit: the
 * crew, the deal over ranks and workers, the fixed-order sums). This file
 * supplies only what differs: how a part's rows are gathered, its forward
 * and backward, and the weights below.
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

/* What a part of the seq2seq split holds beyond the shared RnnrtPart. */
typedef struct {
    int32_t *src, *dec_in, *label; /* [T][rows] */
    int32_t *src_len, *tgt_len;    /* [rows] */
    real *state;                   /* rows * S zeros */
    int64_t count;                 /* the part's valid label tokens */
} S2sSlice;

struct RnnrtS2sSplit {
    const RnnrtS2sModel *m;
    int B, T;
    RnnrtSplit sp;                 /* the parts, the crew, the sums */
    S2sSlice *s;
    RnnrtS2sCtx *job;
    int backward;
};

int rnnrt_s2s_split_workers(int threads, int B)
{
    return rnnrt_split_count(threads, B);
}

static void gather_rows(const int32_t *src, int32_t *dst, int T, int B,
                        int row0, int rows)
{
    for (int t = 0; t < T; t++)
        memcpy(dst + (size_t)t * (size_t)rows,
               src + (size_t)t * (size_t)B + (size_t)row0,
               (size_t)rows * sizeof *dst);
}

/* Valid label tokens of rows tgt_len[0..rows), as the generated loss
 * counts them: each length clamped to [0, T]. */
static int64_t tokens(const int32_t *tgt_len, int rows, int T)
{
    int64_t count = 0;
    for (int r = 0; r < rows; r++) {
        int L = tgt_len[r];
        count += L < 0 ? 0 : L > T ? T : L;
    }
    return count;
}

/* Part i: gather its rows, forward (and backward into its own block). */
static void run_slice(void *arg, int i)
{
    RnnrtS2sSplit *p = arg;
    RnnrtPart *part = &p->sp.part[i];
    S2sSlice *s = &p->s[i];
    const RnnrtS2sCtx *c = p->job;
    RnnrtS2sCtx w = *c; /* every field, including ones added later */
    int row0 = part->row0, rows = part->rows;
    gather_rows(c->src, s->src, p->T, p->B, row0, rows);
    gather_rows(c->dec_in, s->dec_in, p->T, p->B, row0, rows);
    gather_rows(c->label, s->label, p->T, p->B, row0, rows);
    memcpy(s->src_len, c->src_len + row0, (size_t)rows * sizeof(int32_t));
    memcpy(s->tgt_len, c->tgt_len + row0, (size_t)rows * sizeof(int32_t));
    s->count = tokens(s->tgt_len, rows, p->T);
    w.B = rows;
    w.src = s->src;
    w.dec_in = s->dec_in;
    w.label = s->label;
    w.src_len = s->src_len;
    w.tgt_len = s->tgt_len;
    w.state_in = s->state;
    w.dstate_in = NULL;
    w.work = part->work;
    w.grads = part->grads;
    p->m->forward(&w);
    part->loss = w.loss;
    if (!p->backward)
        return;
    memset(part->grads, 0, p->sp.total * sizeof(real));
    p->m->backward(&w);
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
        rnnrt_split_parts(&p->sp);
        /* the weights: shares of the whole minibatch's valid tokens (every
         * rank's rows); none at all: loss 0 and no gradient */
        int64_t count = tokens(c->tgt_len, p->B, p->T);
        for (int i = 0; i < p->sp.n; i++)
            p->sp.part[i].weight =
                count > 0 ? (double)p->s[i].count / (double)count : 0;
        c->loss = rnnrt_split_sum(&p->sp, c->grads, backward && count > 0);
        c->logits = NULL;
        c->attention = NULL;
        return;
    }
    RNNRT_SPLIT_UNSPLIT(m, c, backward);
}

int rnnrt_s2s_split_new(RnnrtS2sSplit **out, const RnnrtS2sModel *m,
                        int threads, int B, int T, int V, int Vt,
                        size_t total, real *work0, RnnrtError *err)
{
    *out = NULL;
    RnnrtS2sSplit *p = rnnrt_xcalloc(1, sizeof *p, "the thread pool");
    int rc = rnnrt_split_open(&p->sp, threads, B, rnnrt_mpi_size(), 1, total,
                              run_slice, p, err);
    if (rc || !p->sp.n) {
        free(p);
        return rc;
    }
    p->m = m;
    p->B = B;
    p->T = T;
    p->s = rnnrt_xcalloc((size_t)p->sp.n, sizeof *p->s, "the thread pool");
    for (int i = 0; i < p->sp.n; i++) {
        S2sSlice *s = &p->s[i];
        int rows = p->sp.part[i].rows;
        size_t tb = (size_t)T * (size_t)rows;
        s->src = rnnrt_split_alloc(&p->sp, i, tb, sizeof(int32_t),
                                   "a worker's tokens");
        s->dec_in = rnnrt_split_alloc(&p->sp, i, tb, sizeof(int32_t),
                                      "a worker's tokens");
        s->label = rnnrt_split_alloc(&p->sp, i, tb, sizeof(int32_t),
                                     "a worker's tokens");
        s->src_len = rnnrt_split_alloc(&p->sp, i, (size_t)rows,
                                       sizeof(int32_t), "a worker's lengths");
        s->tgt_len = rnnrt_split_alloc(&p->sp, i, (size_t)rows,
                                       sizeof(int32_t), "a worker's lengths");
        s->state = rnnrt_split_alloc(
            &p->sp, i, (size_t)rows * (size_t)m->state_size + 1, sizeof(real),
            "a worker's state");
        rnnrt_split_workspace(&p->sp, i, m->workspace(rows, T, V, Vt) + 1,
                              work0);
    }
    *out = p;
    return 0;
}

void rnnrt_s2s_split_free(RnnrtS2sSplit *p)
{
    if (!p)
        return;
    rnnrt_split_close(&p->sp); /* the slices' buffers too */
    free(p->s);
    free(p);
}

int rnnrt_s2s_split_n(const RnnrtS2sSplit *p)
{
    return p ? p->sp.n : 1;
}

int rnnrt_s2s_split_ranks(const RnnrtS2sSplit *p)
{
    return p ? p->sp.ranks : 1;
}
