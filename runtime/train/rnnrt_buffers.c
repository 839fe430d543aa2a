/*
 * rnnrt_buffers.c: the buffers of a call to a model's forward/backward (the
 * tokens, the carried state in and out, its gradient, the carry scale, the
 * workspace the generated layout needs, a task head's pooling weights and
 * mask) and the RnnrtCtx pointing at them and at the parameter block
 * (rnnrt_model.c). Every size is computed with overflow checks.
 */
#include "rnnrt.h"

#include <stdlib.h>
#include <string.h>

int rnnrt_buffers_init(RnnrtBuffers *b, const RnnrtModel *m,
                       const RnnrtParams *p, int B, int T, int V,
                       RnnrtError *err)
{
    return rnnrt_buffers_init_l(b, m, p, B, T, V, 0, err);
}

int rnnrt_buffers_init_l(RnnrtBuffers *b, const RnnrtModel *m,
                         const RnnrtParams *p, int B, int T, int V, int L,
                         RnnrtError *err)
{
    memset(b, 0, sizeof *b);
    size_t tb, bs;
    int S = m->state_size;
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL && L <= 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "a %s model needs at least "
                           "one label", m->task == RNNRT_TASK_LABELLING
                           ? "labelling" : "classification");
    size_t work = m->workspace_l ? m->workspace_l(B, T, V, L)
                                 : m->workspace(B, T, V);
    if (B <= 0 || T <= 0 || V <= 0 || S < 0 ||
        rnnrt_size_mul((size_t)T, (size_t)B, &tb) ||
        rnnrt_size_mul((size_t)B, (size_t)S, &bs) || work == 0)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "buffer sizes overflow for batch %d, steps %d, "
                           "vocabulary %d", B, T, V);
    b->B = B;
    b->T = T;
    b->V = V;
    b->S = S;
    b->x = rnnrt_xcalloc(tb, sizeof *b->x, "input tokens");
    b->y = rnnrt_xcalloc(tb, sizeof *b->y, "target tokens");
    b->state_in = rnnrt_xcalloc(bs, sizeof(real), "state");
    b->state_out = rnnrt_xcalloc(bs, sizeof(real), "state");
    b->dstate = rnnrt_xcalloc(bs, sizeof(real), "state gradient");
    b->carry = rnnrt_xcalloc((size_t)T, sizeof(real), "carry scale");
    b->work = rnnrt_xcalloc(work, sizeof(real), "model workspace");
    b->L = L;
    b->pool = rnnrt_xcalloc(tb, sizeof(real), "pooling weights");
    b->mask = rnnrt_xcalloc(tb, sizeof(real), "valid-step mask");
    for (int t = 0; t < T; t++)
        b->carry[t] = 1;
    RnnrtCtx *c = &b->ctx;
    c->B = B;
    c->T = T;
    c->V = V;
    c->params = p->params;
    c->grads = p->grads;
    c->x = b->x;
    c->y = b->y;
    c->state_in = b->state_in;
    c->state_out = b->state_out;
    c->dstate_in = NULL;
    c->carry_scale = b->carry;
    c->work = b->work;
    c->dropout_seed = 0;
    c->train = 0; /* the trainer and the checks turn dropout on */
    c->L = L;
    c->pool = m->task == RNNRT_TASK_CLASSIFICATION ? b->pool : NULL;
    c->mask = m->task == RNNRT_TASK_CLASSIFICATION ? b->mask : NULL;
    return 0;
}

void rnnrt_buffers_free(RnnrtBuffers *b)
{
    rnnrt_pool_free(b->workers);
    free(b->x);
    free(b->y);
    free(b->state_in);
    free(b->state_out);
    free(b->dstate);
    free(b->carry);
    free(b->work);
    free(b->pool);
    free(b->mask);
    memset(b, 0, sizeof *b);
}
