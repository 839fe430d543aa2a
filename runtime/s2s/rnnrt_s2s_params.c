/*
 * rnnrt_s2s_params.c: the seq2seq trainer's parameter block (an RnnrtParams
 * with the model and its vocabulary sizes) and the buffers of one
 * forward/backward call.
 */
#include "rnnrt_s2s_int.h"

#include <stdlib.h>
#include <string.h>

/* The block of RnnrtParams (rnnrt_model.c), the one every model uses: the
 * target vocabulary (RNNRT_DIM_VT) resolves as a task head's L. */
int rnnrt_s2s_params_init(S2sParams *p, const RnnrtS2sModel *m, int V, int Vt, RnnrtRng *rng, RnnrtError *err)
{
    p->m = m;
    p->V = V;
    p->Vt = Vt;
    int rc = rnnrt_params_init_table(&p->b, m->params, m->nparams, V, Vt, err);
    if (!rc && rng)
        rnnrt_params_draw(&p->b, m->params, rng);
    return rc;
}

void rnnrt_s2s_params_free(S2sParams *p)
{
    rnnrt_params_free(&p->b);
}

int rnnrt_s2s_step_init(S2sStep *s, const S2sParams *p, int B, int T, RnnrtError *err)
{
    memset(s, 0, sizeof *s);
    size_t n = p->m->workspace(B, T, p->V, p->Vt);
    if (n == 0)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "the workspace for B %d, T %d does not fit", B, T);
    s->work = rnnrt_xcalloc(n, sizeof(real), "the workspace");
    s->state = rnnrt_xcalloc((size_t)B * (size_t)p->m->state_size + 1, sizeof(real), "initial states");
    s->c = (RnnrtS2sCtx){.B = B, .T = T, .V = p->V, .Vt = p->Vt, .params = p->b.params, .grads = p->b.grads,
                         .state_in = s->state, .work = s->work};
    return 0;
}

void rnnrt_s2s_step_free(S2sStep *s)
{
    free(s->work);
    free(s->state);
}

