/*
 * rnnrt_parallel.c: batch-split data parallelism, `--threads N`.
 *
 * At rnnc's step shapes (B = 32..64 rows, h = 256..1024) one GEMM is too
 * small for OpenBLAS to gain much from a second thread, and most of a step
 * is elementwise code that OpenBLAS does not run at all. The rows of a
 * minibatch are independent until the loss, so the step is split instead:
 * worker i runs the model's own forward (and backward) on rows
 * [row0_i, row0_i + rows_i) with its own context, workspace, token, state
 * and gradient buffers, OpenBLAS runs single-threaded inside each worker,
 * and the caller combines the results:
 *
 *   loss  = sum_i w_i loss_i          w_i = rows_i / B
 *   grads += sum_i w_i grads_i        (the model's loss is a mean over T*B,
 *                                      so slice i's mean counts rows_i / B)
 *   state_out, dstate_in: each worker writes its own rows (dstate scaled
 *   by w_i)
 *
 * always summed in worker order, so a run is bit-reproducible for a given
 * thread count (and equal to one thread up to rounding). Rows are dealt as
 * evenly as possible: B = 5 over 2 workers is 3 + 2.
 *
 * The task heads (rnnrt_task.c) split the same way: a labelling model's
 * labels are [T][B] like the tokens; a classification model's y is [B]
 * (the first row of the time-major gather) and its pooling weights and
 * valid-step mask [T][B] are gathered like the tokens; both losses are
 * means over the rows (times T), so w_i = rows_i / B weighs them too. A
 * call with fewer rows B' than the buffers' (a classification epoch's
 * last, short minibatch) is dealt again: B' over the ranks and workers,
 * w_i = rows_i / B' (a slice left without rows sits out).
 *
 * Layouts: tokens are time-major [T][B], so a slice's x and y are gathered
 * column by column; the carried state is the model's state_blocks blocks of
 * [B][S / state_blocks] (an LSTM: h then c), so a slice's state is
 * gathered and scattered block by block. A model whose descriptor does not
 * say state_blocks (0) is never split.
 *
 * The workers are persistent: created once with the buffers, woken per call
 * by a condition variable, with every signal blocked (SIGINT and SIGTERM
 * reach the thread that polls for them). The threads are a "crew"
 * (rnnrt_crew_*), which knows nothing of models: the seq2seq trainer's
 * split (rnnrt_s2s_split.c) runs on one too. The caller is worker 0, so N
 * threads compute in all and nothing else runs: no oversubscription.
 * Each call copies the caller's whole RnnrtCtx into the worker's, so fields
 * added to the context later reach the model unchanged, and the caller's
 * MXCSR (flush-to-zero, rnnrt_fpu.c) is applied in every worker, so float
 * results do not depend on which thread ran a row. After a split call
 * ctx.logits is NULL: the slices' logits are not gathered (nothing that
 * splits needs them). No allocation happens per call; worker 0 uses the
 * buffers' workspace, so memory grows by the other workers' workspaces and
 * one gradient block per worker.
 */
#include "rnnrt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

typedef struct {
    struct RnnrtPool *pool;
    int row0, rows;
    double weight;                     /* rows / B */
    int32_t *x, *y;                    /* [T][rows] */
    real *weights, *mask;              /* classification: [T][rows] pooling
                                          weights and valid-step mask */
    real *state_in, *state_out, *dstate; /* [blocks][rows][S / blocks] */
    real *work, *grads;
    int own_work;      /* worker 0 borrows the buffers' workspace */
    double loss;
} Slice;

/* The threads themselves, shared by the LM split below and the seq2seq
 * split (rnnrt_s2s_split.c): n members, member 0 is the caller. */
typedef struct {
    struct RnnrtCrew *crew;
    int index;
    pthread_t tid;
    int started;
} Member;

struct RnnrtCrew {
    int n;
    RnnrtCrewFn fn;
    void *arg;
    Member *mem;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;       /* calls dispatched so far */
    int busy;           /* members (other than the caller) still running */
    int quit;
    unsigned int csr;   /* the caller's MXCSR */
};

struct RnnrtPool {
    const RnnrtModel *m;
    int n, B, S, blocks;
    int rows_all; /* B of the call being dealt (<= B, the buffers') */
    int ranks;    /* MPI ranks the B rows are split over; the slices cover
                     this rank's rows only */
    size_t total; /* reals in the gradient block */
    Slice *s;
    RnnrtCrew *crew;
    RnnrtCtx *job;      /* the caller's context for this call */
    int backward;
};

static unsigned int fpu_get(void)
{
#if defined(__SSE2__)
    return _mm_getcsr();
#else
    return 0;
#endif
}

static void fpu_set(unsigned int csr)
{
#if defined(__SSE2__)
    _mm_setcsr(csr);
#else
    (void)csr;
#endif
}

/* Rows [row0, row0 + rows) of each [B][w] block of src into the packed
 * [rows][w] blocks of dst (gather), or back (scatter). */
static void state_gather(const RnnrtPool *p, const Slice *s, const real *src,
                         real *dst)
{
    size_t w = (size_t)(p->S / p->blocks);
    for (int k = 0; k < p->blocks; k++)
        memcpy(dst + (size_t)k * (size_t)s->rows * w,
               src + ((size_t)k * (size_t)p->rows_all + (size_t)s->row0) * w,
               (size_t)s->rows * w * sizeof(real));
}

static void state_scatter(const RnnrtPool *p, const Slice *s, const real *src,
                          real *dst)
{
    size_t w = (size_t)(p->S / p->blocks);
    for (int k = 0; k < p->blocks; k++)
        memcpy(dst + ((size_t)k * (size_t)p->rows_all + (size_t)s->row0) * w,
               src + (size_t)k * (size_t)s->rows * w,
               (size_t)s->rows * w * sizeof(real));
}

/* One slice of the call in p->job: the model's forward (and backward) on
 * the slice's rows, results left in the slice (loss, grads) or written to
 * the slice's rows of the caller's state_out and dstate_in. */
static void run_slice(RnnrtPool *p, Slice *s)
{
    const RnnrtCtx *c = p->job;
    RnnrtCtx w = *c; /* every field, including ones added later */
    size_t rows = (size_t)s->rows;
    s->loss = 0;
    if (!rows) /* fewer rows than workers (or ranks) in this call */
        return;
    for (int t = 0; t < c->T; t++) {
        size_t src = (size_t)t * (size_t)p->rows_all + (size_t)s->row0;
        size_t dst = (size_t)t * rows;
        memcpy(s->x + dst, c->x + src, rows * sizeof *s->x);
        memcpy(s->y + dst, c->y + src, rows * sizeof *s->y);
        if (c->pool)
            memcpy(s->weights + dst, c->pool + src, rows * sizeof *s->weights);
        if (c->mask)
            memcpy(s->mask + dst, c->mask + src, rows * sizeof *s->mask);
    }
    if (p->S)
        state_gather(p, s, c->state_in, s->state_in);
    w.B = s->rows;
    w.row0 = s->row0;
    w.rows_all = p->rows_all;
    w.x = s->x;
    w.y = s->y;
    w.pool = c->pool ? s->weights : NULL;
    w.mask = c->mask ? s->mask : NULL;
    w.state_in = s->state_in;
    w.state_out = s->state_out;
    w.dstate_in = c->dstate_in ? s->dstate : NULL;
    w.work = s->work;
    w.grads = s->grads;
    p->m->forward(&w);
    s->loss = w.loss;
    if (p->S)
        state_scatter(p, s, s->state_out, c->state_out);
    if (!p->backward)
        return;
    memset(s->grads, 0, p->total * sizeof(real));
    p->m->backward(&w);
    if (c->dstate_in && p->S) {
        size_t n = rows * (size_t)p->S;
        for (size_t k = 0; k < n; k++)
            s->dstate[k] = (real)(s->weight * (double)s->dstate[k]);
        state_scatter(p, s, s->dstate, c->dstate_in);
    }
}

static void *member_main(void *arg)
{
    Member *me = arg;
    RnnrtCrew *c = me->crew;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (c->gen == seen && !c->quit)
            pthread_cond_wait(&c->go, &c->mu);
        if (c->quit) {
            pthread_mutex_unlock(&c->mu);
            return NULL;
        }
        seen = c->gen;
        unsigned int csr = c->csr;
        pthread_mutex_unlock(&c->mu);
        fpu_set(csr);
        c->fn(c->arg, me->index);
        pthread_mutex_lock(&c->mu);
        if (--c->busy == 0)
            pthread_cond_signal(&c->done);
        pthread_mutex_unlock(&c->mu);
    }
}

/* The mutex orders everything the caller wrote before this call before
 * the members' reads, and their writes before the return. */
void rnnrt_crew_run(RnnrtCrew *c)
{
    pthread_mutex_lock(&c->mu);
    c->csr = fpu_get();
    c->busy = c->n - 1;
    c->gen++;
    pthread_cond_broadcast(&c->go);
    pthread_mutex_unlock(&c->mu);
    c->fn(c->arg, 0);
    pthread_mutex_lock(&c->mu);
    while (c->busy > 0)
        pthread_cond_wait(&c->done, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

void rnnrt_crew_free(RnnrtCrew *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->quit = 1;
    pthread_cond_broadcast(&c->go);
    pthread_mutex_unlock(&c->mu);
    for (int i = 1; i < c->n; i++)
        if (c->mem[i].started)
            pthread_join(c->mem[i].tid, NULL);
    pthread_cond_destroy(&c->go);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    free(c->mem);
    free(c);
}

/* Starts members 1..n-1 with every signal blocked (the mask is inherited),
 * so that signals go to the caller's thread. */
int rnnrt_crew_new(RnnrtCrew **out, int n, RnnrtCrewFn fn, void *arg,
                   RnnrtError *err)
{
    RnnrtCrew *c = rnnrt_xcalloc(1, sizeof *c, "the thread pool");
    c->n = n;
    c->fn = fn;
    c->arg = arg;
    c->mem = rnnrt_xcalloc((size_t)n, sizeof *c->mem, "the thread pool");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->go, NULL);
    pthread_cond_init(&c->done, NULL);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        c->mem[i].crew = c;
        c->mem[i].index = i;
    }
    for (int i = 1; i < n && !rc; i++) {
        rc = pthread_create(&c->mem[i].tid, NULL, member_main, &c->mem[i]);
        c->mem[i].started = rc == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *out = NULL;
    if (rc) {
        rnnrt_crew_free(c);
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot start %d threads: %s",
                           n, strerror(rc));
    }
    *out = c;
    return 0;
}

static void pool_slice(void *arg, int i)
{
    RnnrtPool *p = arg;
    run_slice(p, &p->s[i]);
}

/* Worker order, in double: the same sums whatever thread finished first. */
static void reduce(RnnrtPool *p, RnnrtCtx *c)
{
    double loss = 0;
    for (int i = 0; i < p->n; i++)
        if (p->s[i].rows)
            loss += p->s[i].weight * p->s[i].loss;
    c->loss = loss;
    c->logits = NULL;
    if (!p->backward)
        return;
    for (size_t k = 0; k < p->total; k++) {
        double g = 0;
        for (int i = 0; i < p->n; i++)
            if (p->s[i].rows)
                g += p->s[i].weight * (double)p->s[i].grads[k];
        c->grads[k] += (real)g;
    }
}

/* Deals the B rows of a call: this rank's part (all of them without
 * MPI), then as evenly as possible over the workers; the weights are each
 * slice's share of B. A B smaller than the buffers' gives each slice at
 * most the rows it was allocated for. */
static void deal(RnnrtPool *p, int B)
{
    int row = 0, rows = B;
    if (p->ranks > 1)
        rnnrt_mpi_rows(B, &row, &rows);
    for (int i = 0; i < p->n; i++) {
        Slice *s = &p->s[i];
        s->row0 = row;
        s->rows = rows / p->n + (i < rows % p->n);
        s->weight = (double)s->rows / (double)B;
        row += s->rows;
    }
    p->rows_all = B;
}

static void pool_run(RnnrtPool *p, RnnrtCtx *c, int backward)
{
    if (c->B != p->rows_all)
        deal(p, c->B);
    p->job = c;
    p->backward = backward;
    rnnrt_crew_run(p->crew);
    reduce(p, c);
}

void rnnrt_model_run(const RnnrtModel *m, RnnrtBuffers *b, int backward)
{
    RnnrtCtx *c = &b->ctx;
    RnnrtPool *p = b->workers;
    if (p && p->m == m && c->B >= 1 && c->B <= p->B) {
        pool_run(p, c, backward);
        return;
    }
    m->forward(c);
    if (backward)
        m->backward(c);
}

void rnnrt_pool_free(RnnrtPool *p)
{
    if (!p)
        return;
    rnnrt_crew_free(p->crew);
    for (int i = 0; i < p->n; i++) {
        Slice *s = &p->s[i];
        free(s->x);
        free(s->y);
        free(s->weights);
        free(s->mask);
        free(s->state_in);
        free(s->state_out);
        free(s->dstate);
        if (s->own_work)
            free(s->work);
        free(s->grads);
    }
    free(p->s);
    free(p);
}

static void slice_alloc(RnnrtPool *p, Slice *s, const RnnrtBuffers *b)
{
    size_t tb = (size_t)b->T * (size_t)s->rows;
    size_t bs = (size_t)s->rows * (size_t)p->S;
    s->pool = p;
    s->x = rnnrt_xcalloc(tb, sizeof *s->x, "a worker's input tokens");
    s->y = rnnrt_xcalloc(tb, sizeof *s->y, "a worker's target tokens");
    s->weights = rnnrt_xcalloc(tb, sizeof(real), "a worker's pooling weights");
    s->mask = rnnrt_xcalloc(tb, sizeof(real), "a worker's valid-step mask");
    s->state_in = rnnrt_xcalloc(bs + 1, sizeof(real), "a worker's state");
    s->state_out = rnnrt_xcalloc(bs + 1, sizeof(real), "a worker's state");
    s->dstate = rnnrt_xcalloc(bs + 1, sizeof(real), "a worker's state");
    /* Worker 0 runs in the caller's thread, which no longer uses the
     * buffers' own workspace (sized for all B rows) while the pool exists. */
    s->own_work = s != &p->s[0];
    size_t work = p->m->workspace_l ? p->m->workspace_l(s->rows, b->T, b->V,
                                                        b->L)
                                    : p->m->workspace(s->rows, b->T, b->V);
    s->work = s->own_work ? rnnrt_xcalloc(work, sizeof(real),
                                          "a worker's workspace")
                          : b->work;
    s->grads = rnnrt_xcalloc(p->total + 1, sizeof(real),
                             "a worker's gradient block");
}

int rnnrt_split_workers(const RnnrtModel *m, int threads, int B)
{
    if (threads <= 1 || B <= 1 || (m->state_size > 0 && m->state_blocks <= 0) ||
        (m->state_size > 0 && m->state_size % m->state_blocks))
        return 1;
    return threads < B ? threads : B;
}

/* Workers over this rank's rows of b's B (rows of them); ranks > 1 even
 * with one worker, since the other ranks' rows must be left out. */
static int split(RnnrtBuffers *b, const RnnrtModel *m,
                 const RnnrtParams *params, int threads, int ranks, int rows,
                 RnnrtError *err)
{
    rnnrt_pool_free(b->workers);
    b->workers = NULL;
    int n = rnnrt_split_workers(m, threads, rows);
    if (n <= 1 && ranks <= 1) { /* OpenBLAS's threads, as before */
        rnnrt_blas_set_threads(threads);
        return 0;
    }
    rnnrt_blas_set_threads(1);
    RnnrtPool *p = rnnrt_xcalloc(1, sizeof *p, "the thread pool");
    p->m = m;
    p->n = n;
    p->B = b->B;
    p->S = b->S;
    p->blocks = m->state_blocks > 0 ? m->state_blocks : 1;
    p->total = params->total;
    p->ranks = ranks;
    p->s = rnnrt_xcalloc((size_t)n, sizeof *p->s, "the thread pool");
    deal(p, b->B);
    for (int i = 0; i < n; i++)
        slice_alloc(p, &p->s[i], b);
    int rc = rnnrt_crew_new(&p->crew, n, pool_slice, p, err);
    if (rc) {
        rnnrt_pool_free(p);
        return rc;
    }
    b->workers = p;
    return 0;
}

int rnnrt_buffers_split(RnnrtBuffers *b, const RnnrtModel *m,
                        const RnnrtParams *params, int threads,
                        RnnrtError *err)
{
    return split(b, m, params, threads, 1, b->B, err);
}

int rnnrt_buffers_split_ranks(RnnrtBuffers *b, const RnnrtModel *m,
                              const RnnrtParams *params, int threads,
                              RnnrtError *err)
{
    int ranks = rnnrt_mpi_size(), row0, rows;
    if (ranks <= 1)
        return rnnrt_buffers_split(b, m, params, threads, err);
    if (b->B < ranks)
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "--batch %d is smaller than the %d MPI ranks: "
                           "each rank needs a row of the minibatch", b->B,
                           ranks);
    if (m->state_size > 0 &&
        (m->state_blocks <= 0 || m->state_size % m->state_blocks))
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "%s cannot split its minibatch over MPI ranks "
                           "(its descriptor does not give state_blocks; "
                           "regenerate it with this rnnc)", m->name);
    rnnrt_mpi_rows(b->B, &row0, &rows);
    return split(b, m, params, threads > 1 ? threads : 1, ranks, rows, err);
}

int rnnrt_buffers_workers(const RnnrtBuffers *b)
{
    return b->workers ? b->workers->n : 1;
}

int rnnrt_buffers_ranks(const RnnrtBuffers *b)
{
    return b->workers ? b->workers->ranks : 1;
}

void rnnrt_buffers_share_state(const RnnrtBuffers *b, real *state)
{
    const RnnrtPool *p = b->workers;
    if (p && p->ranks > 1 && p->S)
        rnnrt_mpi_share_rows(state, p->blocks, p->B,
                             (size_t)(p->S / p->blocks));
}
