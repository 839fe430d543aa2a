/*
 * rnnrt_model.c: the parameter block of a model descriptor (the buffers of
 * a call to its forward/backward are rnnrt_buffers.c's: apart, so that a
 * program that only reads checkpoints, such as rnnc --inference, links
 * the parameters without the step's thread pool and kernels).
 *
 * Parameters live in one allocation (llm.c's malloc_and_point_parameters):
 * the parameters packed in descriptor order without padding, then their
 * gradients in the same layout, so clipping and SGD are single loops and a
 * checkpoint writes the block as is. RNNRT_DIM_V resolves to the vocabulary
 * size of the data. Every size is computed with overflow checks.
 *
 * Initialization draws from one RNG in descriptor order, each parameter
 * row-major: uniform = U(-arg, arg), normal = arg * N(0, 1), zeros draws
 * nothing. The same seed and vocabulary size always give the same block.
 */
#include "rnnrt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int resolve_dim(int d, int V, int L)
{
    return d == RNNRT_DIM_V ? V : d == RNNRT_DIM_L ? L : d;
}

static int resolve_shapes(RnnrtParams *p, const RnnrtParamDesc *desc, int V,
                          int L, RnnrtError *err)
{
    size_t total = 0;
    for (int i = 0; i < p->n; i++) {
        const RnnrtParamDesc *d = &desc[i];
        if (d->ndim != 1 && d->ndim != 2)
            return rnnrt_error(err, RNNRT_EXIT_DATA,
                               "parameter '%s' (%s) has %d dimensions",
                               d->name, d->where, d->ndim);
        p->dims[i][0] = resolve_dim(d->dims[0], V, L);
        p->dims[i][1] = d->ndim == 2 ? resolve_dim(d->dims[1], V, L) : 1;
        if (p->dims[i][0] <= 0 || p->dims[i][1] <= 0)
            return rnnrt_error(err, RNNRT_EXIT_DATA,
                               "parameter '%s' (%s) has shape %dx%d", d->name,
                               d->where, p->dims[i][0], p->dims[i][1]);
        size_t n;
        if (rnnrt_size_mul((size_t)p->dims[i][0], (size_t)p->dims[i][1], &n) ||
            total + n < total)
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "parameter sizes overflow at '%s' (%s)",
                               d->name, d->where);
        p->offset[i] = total;
        p->numel[i] = n;
        total += n;
    }
    p->total = total;
    return 0;
}

/* The parameter block, zeroed, starting on a 64-byte boundary (calloc
 * gives 16): every weight whose offset is a multiple of 16 floats, such as
 * the h x 256 matrices, then starts a cache line, and the M = 1 row kernels
 * (rnnrt_blas.c) load whole lines instead of splitting each 64-byte load
 * over two (measured: ~7% more bandwidth from L2 for a 256 x 256 product).
 * Freed with free(). */
static real *alloc_params(size_t n)
{
    size_t bytes;
    const char *what = "parameters and gradients";
    if (rnnrt_size_mul(n ? n : 1, sizeof(real), &bytes) != 0 ||
        bytes > SIZE_MAX - 63)
        rnnrt_out_of_memory(what, 0, 1);
    bytes = (bytes + 63) / 64 * 64; /* aligned_alloc: a multiple of the alignment */
    real *q = rnnrt_alloc_injected() ? NULL : aligned_alloc(64, bytes);
    if (!q)
        rnnrt_out_of_memory(what, bytes, 0);
    memset(q, 0, bytes);
    return q;
}

int rnnrt_params_init(RnnrtParams *p, const RnnrtModel *m, int V,
                      RnnrtError *err)
{
    return rnnrt_params_init_l(p, m, V, 0, err);
}

int rnnrt_params_init_l(RnnrtParams *p, const RnnrtModel *m, int V, int L,
                        RnnrtError *err)
{
    return rnnrt_params_init_table(p, m->params, m->nparams, V, L, err);
}

int rnnrt_params_init_table(RnnrtParams *p, const RnnrtParamDesc *desc,
                            int nparams, int V, int L, RnnrtError *err)
{
    memset(p, 0, sizeof *p);
    size_t n = nparams > 0 ? (size_t)nparams : 1;
    p->n = nparams;
    p->dims = rnnrt_xcalloc(n, sizeof *p->dims, "parameter shapes");
    p->offset = rnnrt_xcalloc(n, sizeof *p->offset, "parameter offsets");
    p->numel = rnnrt_xcalloc(n, sizeof *p->numel, "parameter sizes");
    int rc = resolve_shapes(p, desc, V, L, err);
    size_t both;
    if (!rc && rnnrt_size_mul(p->total, 2, &both))
        rc = rnnrt_error(err, RNNRT_EXIT_IO, "parameter block overflows");
    if (rc) {
        rnnrt_params_free(p);
        return rc;
    }
    p->params = alloc_params(both);
    p->grads = p->params + p->total;
    return 0;
}

void rnnrt_params_randomize(RnnrtParams *p, const RnnrtModel *m, RnnrtRng *r)
{
    rnnrt_params_draw(p, m->params, r);
}

void rnnrt_params_draw(RnnrtParams *p, const RnnrtParamDesc *desc,
                       RnnrtRng *r)
{
    for (int i = 0; i < p->n; i++) {
        const RnnrtParamDesc *d = &desc[i];
        real *w = p->params + p->offset[i];
        size_t n = p->numel[i];
        switch (d->init) {
        case RNNRT_INIT_UNIFORM:
        case RNNRT_INIT_UNIFORM_FAN:
            rnnrt_rng_fill_uniform(r, w, n, -rnnrt_init_bound(d), rnnrt_init_bound(d));
            break;
        case RNNRT_INIT_NORMAL:
            for (size_t k = 0; k < n; k++)
                w[k] = (real)(d->init_arg * rnnrt_rng_normal(r));
            break;
        case RNNRT_INIT_ZEROS:
            memset(w, 0, n * sizeof *w);
            break;
        }
    }
}

void rnnrt_params_free(RnnrtParams *p)
{
    free(p->params);
    free(p->dims);
    free(p->offset);
    free(p->numel);
    memset(p, 0, sizeof *p);
}

const char *rnnrt_params_owner(const RnnrtParams *p, const RnnrtModel *m,
                               size_t k, size_t *index)
{
    return rnnrt_params_name(p, m->params, k, index);
}

const char *rnnrt_params_name(const RnnrtParams *p,
                              const RnnrtParamDesc *desc, size_t k,
                              size_t *index)
{
    for (int i = 0; i < p->n; i++)
        if (k >= p->offset[i] && k - p->offset[i] < p->numel[i]) {
            if (index)
                *index = k - p->offset[i];
            return desc[i].name;
        }
    return "";
}
