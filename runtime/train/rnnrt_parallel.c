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
 * (rnnrt_crew_*), which knows nothing of models, under the split
 * (RnnrtSplit: the deal, the parts' gradient blocks and workspaces, the
 * fixed-order sums), which knows nothing of models either: this file's
 * pool and the seq2seq trainer's split (rnnrt_s2s_split.c) each supply
 * only a part's gather and forward/backward. The caller is worker 0, so N
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

/* What a part of the LM split holds beyond the shared RnnrtPart. */
typedef struct {
    int32_t *x, *y;                    /* [T][rows] */
    real *weights, *mask;              /* classification: [T][rows] pooling
                                          weights and valid-step mask */
    real *state_in, *state_out, *dstate; /* [blocks][rows][S / blocks] */
    size_t correct;                    /* rnnrt_model_score: predictions
                                          equal to their label */
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
    int B, S, blocks;
    RnnrtSplit sp; /* the parts (this rank's rows of sp.rows_all, the B of
                      the call being dealt, <= B, the buffers'), the crew */
    Slice *s;
    RnnrtCtx *job;      /* the caller's context for this call */
    int backward;
    int score;          /* count correct predictions (rnnrt_model_score) */
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
static void state_gather(const RnnrtPool *p, const RnnrtPart *s,
                         const real *src, real *dst)
{
    size_t w = (size_t)(p->S / p->blocks);
    for (int k = 0; k < p->blocks; k++)
        memcpy(dst + (size_t)k * (size_t)s->rows * w,
               src + ((size_t)k * (size_t)p->sp.rows_all + (size_t)s->row0) *
                         w,
               (size_t)s->rows * w * sizeof(real));
}

static void state_scatter(const RnnrtPool *p, const RnnrtPart *s,
                          const real *src, real *dst)
{
    size_t w = (size_t)(p->S / p->blocks);
    for (int k = 0; k < p->blocks; k++)
        memcpy(dst + ((size_t)k * (size_t)p->sp.rows_all + (size_t)s->row0) *
                         w,
               src + (size_t)k * (size_t)s->rows * w,
               (size_t)s->rows * w * sizeof(real));
}

/* One slice of the call in p->job: the model's forward (and backward) on
 * the slice's rows, results left in the slice (loss, grads) or written to
 * the slice's rows of the caller's state_out and dstate_in. */
static void run_slice(void *arg, int i)
{
    RnnrtPool *p = arg;
    RnnrtPart *part = &p->sp.part[i];
    Slice *s = &p->s[i];
    const RnnrtCtx *c = p->job;
    RnnrtCtx w = *c; /* every field, including ones added later */
    size_t rows = (size_t)part->rows;
    part->loss = 0;
    s->correct = 0;
    if (!rows) /* fewer rows than workers (or ranks) in this call */
        return;
    for (int t = 0; t < c->T; t++) {
        size_t src = (size_t)t * (size_t)p->sp.rows_all + (size_t)part->row0;
        size_t dst = (size_t)t * rows;
        memcpy(s->x + dst, c->x + src, rows * sizeof *s->x);
        memcpy(s->y + dst, c->y + src, rows * sizeof *s->y);
        if (c->pool)
            memcpy(s->weights + dst, c->pool + src, rows * sizeof *s->weights);
        if (c->mask)
            memcpy(s->mask + dst, c->mask + src, rows * sizeof *s->mask);
    }
    if (p->S)
        state_gather(p, part, c->state_in, s->state_in);
    w.B = part->rows;
    w.row0 = part->row0;
    w.rows_all = p->sp.rows_all;
    w.x = s->x;
    w.y = s->y;
    w.pool = c->pool ? s->weights : NULL;
    w.mask = c->mask ? s->mask : NULL;
    w.state_in = s->state_in;
    w.state_out = s->state_out;
    w.dstate_in = c->dstate_in ? s->dstate : NULL;
    w.work = part->work;
    w.grads = part->grads;
    p->m->forward(&w);
    part->loss = w.loss;
    if (p->score)
        s->correct = rnnrt_count_correct(&w, p->m->task);
    if (p->S)
        state_scatter(p, part, s->state_out, c->state_out);
    if (!p->backward)
        return;
    memset(part->grads, 0, p->sp.total * sizeof(real));
    p->m->backward(&w);
    if (c->dstate_in && p->S) {
        size_t n = rows * (size_t)p->S;
        for (size_t k = 0; k < n; k++)
            s->dstate[k] = (real)(part->weight * (double)s->dstate[k]);
        state_scatter(p, part, s->dstate, c->dstate_in);
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

/* ---- the split (RnnrtSplit): shared by the pool below and the seq2seq
 * split ---- */

int rnnrt_split_count(int threads, int B)
{
    if (threads <= 1 || B <= 1)
        return 1;
    return threads < B ? threads : B;
}

int rnnrt_split_check_ranks(int B, int ranks, RnnrtError *err)
{
    if (ranks > 1 && B < ranks)
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "--batch %d is smaller than the %d MPI ranks: "
                           "each rank needs a row of the minibatch", B, ranks);
    return 0;
}

/* Member i's share of the gradient sum: elements [total*i/n,
 * total*(i+1)/n), each summed over the parts in part order, in double, so
 * the result does not depend on who summed which element. */
static void sum_part(RnnrtSplit *sp, int i)
{
    size_t k0 = sp->total * (size_t)i / (size_t)sp->n;
    size_t k1 = sp->total * (size_t)(i + 1) / (size_t)sp->n;
    real *out = sp->sum_to;
    for (size_t k = k0; k < k1; k++) {
        double g = 0;
        for (int j = 0; j < sp->n; j++)
            if (sp->part[j].weight > 0)
                g += sp->part[j].weight * (double)sp->part[j].grads[k];
        out[k] += (real)g;
    }
}

static void split_member(void *arg, int i)
{
    RnnrtSplit *sp = arg;
    if (sp->sum_to)
        sum_part(sp, i);
    else
        sp->fn(sp->owner, i);
}

/* This rank's part of the B rows (all of them without MPI), then as evenly
 * as possible over the parts; the weights are each part's share of B. A B
 * smaller than the buffers' gives each part at most the rows it was
 * allocated for. */
void rnnrt_split_deal(RnnrtSplit *sp, int B)
{
    int row = 0, rows = B;
    if (sp->ranks > 1)
        rnnrt_mpi_rows(B, &row, &rows);
    for (int i = 0; i < sp->n; i++) {
        RnnrtPart *s = &sp->part[i];
        s->row0 = row;
        s->rows = rows / sp->n + (i < rows % sp->n);
        s->weight = (double)s->rows / (double)B;
        row += s->rows;
    }
    sp->rows_all = B;
}

void rnnrt_split_close(RnnrtSplit *sp)
{
    rnnrt_crew_free(sp->crew);
    for (int i = 0; sp->part && i < sp->n; i++) {
        RnnrtPart *s = &sp->part[i];
        if (s->own_work)
            free(s->work);
        free(s->grads);
        for (int k = 0; k < s->nmem; k++)
            free(s->mem[k]);
    }
    free(sp->part);
    memset(sp, 0, sizeof *sp);
}

int rnnrt_split_open(RnnrtSplit *sp, int threads, int B, int ranks, int can,
                     size_t total, RnnrtCrewFn fn, void *owner,
                     RnnrtError *err)
{
    memset(sp, 0, sizeof *sp);
    int row = 0, rows = B;
    int rc = rnnrt_split_check_ranks(B, ranks, err);
    if (rc)
        return rc;
    if (ranks > 1)
        rnnrt_mpi_rows(B, &row, &rows);
    int n = can ? rnnrt_split_count(threads, rows) : 1;
    if (n <= 1 && ranks <= 1) { /* OpenBLAS's threads, as before */
        rnnrt_blas_set_threads(threads);
        return 0;
    }
    rnnrt_blas_set_threads(1);
    sp->n = n;
    sp->ranks = ranks > 1 ? ranks : 1;
    sp->total = total;
    sp->fn = fn;
    sp->owner = owner;
    sp->part = rnnrt_xcalloc((size_t)n, sizeof *sp->part, "the thread pool");
    rnnrt_split_deal(sp, B);
    for (int i = 0; i < n; i++)
        sp->part[i].grads = rnnrt_xcalloc(total + 1, sizeof(real),
                                          "a worker's gradient block");
    rc = rnnrt_crew_new(&sp->crew, n, split_member, sp, err);
    if (rc)
        rnnrt_split_close(sp);
    return rc;
}

/* Part 0 runs in the caller's thread, which no longer uses its own
 * workspace (sized for all B rows) while the split exists. */
void rnnrt_split_workspace(RnnrtSplit *sp, int i, size_t n, real *work0)
{
    RnnrtPart *s = &sp->part[i];
    s->own_work = i > 0 || !work0;
    s->work = s->own_work ? rnnrt_xcalloc(n, sizeof(real),
                                          "a worker's workspace")
                          : work0;
}

void *rnnrt_split_alloc(RnnrtSplit *sp, int i, size_t n, size_t size,
                        const char *what)
{
    RnnrtPart *s = &sp->part[i];
    int cap = (int)(sizeof s->mem / sizeof s->mem[0]);
    if (s->nmem == cap) { /* a programming error, not input */
        fprintf(stderr, "rnnrt: internal: more than %d buffers for a "
                        "split's part\n", cap);
        abort();
    }
    s->mem[s->nmem] = rnnrt_xcalloc(n, size, what);
    return s->mem[s->nmem++];
}

void rnnrt_split_parts(RnnrtSplit *sp)
{
    rnnrt_crew_run(sp->crew);
}

double rnnrt_split_sum(RnnrtSplit *sp, real *grads, int backward)
{
    double loss = 0;
    for (int i = 0; i < sp->n; i++)
        if (sp->part[i].weight > 0) /* a part without rows: no NaN */
            loss += sp->part[i].weight * sp->part[i].loss;
    if (backward) {
        sp->sum_to = grads;
        rnnrt_crew_run(sp->crew);
        sp->sum_to = NULL;
    }
    return loss;
}

/* ---- the LM and task heads' pool ---- */

static void pool_run(RnnrtPool *p, RnnrtCtx *c, int backward)
{
    if (c->B != p->sp.rows_all)
        rnnrt_split_deal(&p->sp, c->B);
    p->job = c;
    p->backward = backward;
    rnnrt_split_parts(&p->sp);
    c->loss = rnnrt_split_sum(&p->sp, c->grads, backward);
    c->logits = NULL;
}

/* b's workers when they can run this call (their model, at most their
 * rows), else NULL: the call runs unsplit. */
static RnnrtPool *pool_for(const RnnrtModel *m, RnnrtBuffers *b)
{
    RnnrtPool *p = b->workers;
    const RnnrtCtx *c = &b->ctx;
    return p && p->m == m && c->B >= 1 && c->B <= p->B ? p : NULL;
}

void rnnrt_model_run(const RnnrtModel *m, RnnrtBuffers *b, int backward)
{
    RnnrtPool *p = pool_for(m, b);
    if (p) {
        pool_run(p, &b->ctx, backward);
        return;
    }
    RNNRT_SPLIT_UNSPLIT(m, &b->ctx, backward);
}

size_t rnnrt_count_correct(const RnnrtCtx *c, RnnrtTask task)
{
    size_t n = (size_t)c->B * (task == RNNRT_TASK_LABELLING ? (size_t)c->T : 1);
    size_t ok = 0;
    for (size_t r = 0; r < n; r++) {
        const real *z = c->logits + r * (size_t)c->L;
        int best = 0;
        for (int k = 1; k < c->L; k++)
            if (z[k] > z[best])
                best = k;
        ok += best == c->y[r];
    }
    return ok;
}

size_t rnnrt_model_score(const RnnrtModel *m, RnnrtBuffers *b)
{
    RnnrtPool *p = pool_for(m, b);
    if (!p) {
        RNNRT_SPLIT_UNSPLIT(m, &b->ctx, 0);
        return rnnrt_count_correct(&b->ctx, m->task);
    }
    p->score = 1;
    pool_run(p, &b->ctx, 0);
    p->score = 0;
    size_t ok = 0;
    for (int i = 0; i < p->sp.n; i++)
        ok += p->s[i].correct;
    if (p->sp.ranks > 1) { /* this rank's rows: the call's is the sum, in
                              rank order as the driver sums a step's */
        double v[2] = {b->ctx.loss, (double)ok};
        rnnrt_mpi_sum(v, 2, NULL, 0);
        b->ctx.loss = v[0];
        ok = (size_t)v[1];
    }
    return ok;
}

void rnnrt_pool_free(RnnrtPool *p)
{
    if (!p)
        return;
    rnnrt_split_close(&p->sp); /* the slices' buffers too */
    free(p->s);
    free(p);
}

static void slice_alloc(RnnrtPool *p, int i, const RnnrtBuffers *b)
{
    Slice *s = &p->s[i];
    int rows_i = p->sp.part[i].rows;
    size_t tb = (size_t)b->T * (size_t)rows_i;
    size_t bs = (size_t)rows_i * (size_t)p->S;
    s->x = rnnrt_split_alloc(&p->sp, i, tb, sizeof *s->x,
                              "a worker's input tokens");
    s->y = rnnrt_split_alloc(&p->sp, i, tb, sizeof *s->y,
                              "a worker's target tokens");
    s->weights = rnnrt_split_alloc(&p->sp, i, tb, sizeof(real),
                              "a worker's pooling weights");
    s->mask = rnnrt_split_alloc(&p->sp, i, tb, sizeof(real),
                              "a worker's valid-step mask");
    s->state_in = rnnrt_split_alloc(&p->sp, i, bs + 1, sizeof(real),
                              "a worker's state");
    s->state_out = rnnrt_split_alloc(&p->sp, i, bs + 1, sizeof(real),
                              "a worker's state");
    s->dstate = rnnrt_split_alloc(&p->sp, i, bs + 1, sizeof(real),
                              "a worker's state");
    size_t work = p->m->workspace_l ? p->m->workspace_l(rows_i, b->T, b->V,
                                                        b->L)
                                    : p->m->workspace(rows_i, b->T, b->V);
    rnnrt_split_workspace(&p->sp, i, work, b->work);
}

static int state_splits(const RnnrtModel *m)
{
    return !(m->state_size > 0 &&
             (m->state_blocks <= 0 || m->state_size % m->state_blocks));
}

int rnnrt_split_workers(const RnnrtModel *m, int threads, int B)
{
    return state_splits(m) ? rnnrt_split_count(threads, B) : 1;
}

/* Workers over this rank's rows of b's B; ranks > 1 even with one worker,
 * since the other ranks' rows must be left out. */
static int split(RnnrtBuffers *b, const RnnrtModel *m,
                 const RnnrtParams *params, int threads, int ranks,
                 RnnrtError *err)
{
    rnnrt_pool_free(b->workers);
    b->workers = NULL;
    RnnrtPool *p = rnnrt_xcalloc(1, sizeof *p, "the thread pool");
    int rc = rnnrt_split_open(&p->sp, threads, b->B, ranks, state_splits(m),
                              params->total, run_slice, p, err);
    if (rc || !p->sp.n) {
        free(p);
        return rc;
    }
    p->m = m;
    p->B = b->B;
    p->S = b->S;
    p->blocks = m->state_blocks > 0 ? m->state_blocks : 1;
    p->s = rnnrt_xcalloc((size_t)p->sp.n, sizeof *p->s, "the thread pool");
    for (int i = 0; i < p->sp.n; i++)
        slice_alloc(p, i, b);
    b->workers = p;
    return 0;
}

int rnnrt_buffers_split(RnnrtBuffers *b, const RnnrtModel *m,
                        const RnnrtParams *params, int threads,
                        RnnrtError *err)
{
    return split(b, m, params, threads, 1, err);
}

int rnnrt_buffers_split_ranks(RnnrtBuffers *b, const RnnrtModel *m,
                              const RnnrtParams *params, int threads,
                              RnnrtError *err)
{
    int ranks = rnnrt_mpi_size();
    if (ranks <= 1)
        return rnnrt_buffers_split(b, m, params, threads, err);
    int rc = rnnrt_split_check_ranks(b->B, ranks, err);
    if (rc)
        return rc;
    if (!state_splits(m))
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "%s cannot split its minibatch over MPI ranks "
                           "(its descriptor does not give state_blocks; "
                           "regenerate it with this rnnc)", m->name);
    return split(b, m, params, threads > 1 ? threads : 1, ranks, err);
}

int rnnrt_buffers_workers(const RnnrtBuffers *b)
{
    return b->workers ? b->workers->sp.n : 1;
}

int rnnrt_buffers_ranks(const RnnrtBuffers *b)
{
    return b->workers ? b->workers->sp.ranks : 1;
}

void rnnrt_buffers_share_state(const RnnrtBuffers *b, real *state)
{
    const RnnrtPool *p = b->workers;
    if (p && p->sp.ranks > 1 && p->S)
        rnnrt_mpi_share_rows(state, p->blocks, p->B,
                             (size_t)(p->S / p->blocks));
}
