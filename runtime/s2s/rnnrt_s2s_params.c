/*
 * rnnrt_s2s_params.c: the seq2seq trainer's parameter block (one block in
 * descriptor order, with its gradients) and the buffers of one
 * forward/backward call.
 */
#include "rnnrt_s2s_int.h"

#include <stdlib.h>
#include <string.h>

size_t rnnrt_s2s_dim(int d, int V, int Vt) { return (size_t)(d == RNNRT_DIM_V ? V : d == RNNRT_DIM_VT ? Vt : d); }

/* The parameter block in descriptor order, drawn as rnnrt_params_randomize:
 * one RNG, each parameter row-major. */
void rnnrt_s2s_params_init(S2sParams *p, const RnnrtS2sModel *m, int V, int Vt, RnnrtRng *rng)
{
    p->m = m;
    p->V = V;
    p->Vt = Vt;
    p->offset = rnnrt_xcalloc((size_t)m->nparams + 1, sizeof(size_t), "parameter offsets");
    for (int i = 0; i < m->nparams; i++) {
        size_t n = 1;
        for (int k = 0; k < m->params[i].ndim; k++)
            n *= rnnrt_s2s_dim(m->params[i].dims[k], V, Vt);
        p->offset[i + 1] = p->offset[i] + n;
    }
    p->np = p->offset[m->nparams];
    p->params = rnnrt_xcalloc(p->np, sizeof(real), "parameters");
    p->grads = rnnrt_xcalloc(p->np, sizeof(real), "gradients");
    for (int i = 0; i < m->nparams; i++) {
        const RnnrtParamDesc *d = &m->params[i];
        real *x = p->params + p->offset[i];
        size_t n = p->offset[i + 1] - p->offset[i];
        for (size_t j = 0; j < n && d->init != RNNRT_INIT_ZEROS; j++)
            x[j] = (real)(d->init == RNNRT_INIT_NORMAL ? d->init_arg * rnnrt_rng_normal(rng)
                                                      : d->init_arg * (2 * rnnrt_rng_uniform(rng) - 1));
    }
}

void rnnrt_s2s_params_free(S2sParams *p)
{
    free(p->offset);
    free(p->params);
    free(p->grads);
}

int rnnrt_s2s_step_init(S2sStep *s, const S2sParams *p, int B, int T, RnnrtError *err)
{
    memset(s, 0, sizeof *s);
    size_t n = p->m->workspace(B, T, p->V, p->Vt);
    if (n == 0)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "the workspace for B %d, T %d does not fit", B, T);
    s->work = rnnrt_xcalloc(n, sizeof(real), "the workspace");
    s->state = rnnrt_xcalloc((size_t)B * (size_t)p->m->state_size + 1, sizeof(real), "initial states");
    s->c = (RnnrtS2sCtx){.B = B, .T = T, .V = p->V, .Vt = p->Vt, .params = p->params, .grads = p->grads,
                         .state_in = s->state, .work = s->work};
    return 0;
}

void rnnrt_s2s_step_free(S2sStep *s)
{
    free(s->work);
    free(s->state);
}

