/*
 * rnnrt_eval.c: perplexity on held-out text, exactly as the reference's
 * evaluate(): the stream is partitioned sequentially with the training B and
 * T (rnnrt_batch.c), the state starts at zero and is carried from window to
 * window, and the result is exp(total NLL / total tokens). Each window's
 * mean loss from forward is weighted by its token count, so a short last
 * window counts for what it is.
 *
 * The loop polls for SIGINT/SIGTERM between windows, so a long evaluation
 * can be interrupted.
 */
#include "rnnrt.h"

#include <math.h>
#include <signal.h>
#include <string.h>

int rnnrt_evaluate(const RnnrtModel *m, RnnrtBuffers *buf, const int32_t *ids,
                   size_t len, double *ppl, double *ntokens)
{
    RnnrtBatcher b;
    rnnrt_batcher_init(&b, RNNRT_SAMPLER_SEQUENTIAL, ids, len, buf->B, buf->T);
    size_t bs = (size_t)buf->B * (size_t)buf->S;
    memset(buf->state_in, 0, bs * sizeof(real));
    RnnrtCtx *c = &buf->ctx;
    c->dstate_in = NULL;
    int train = c->train;
    c->train = 0; /* no dropout: evaluate the whole network */
    double nll = 0, n = 0;
    int rc = 0;
    for (size_t i = 0; i < b.nbatches; i++) {
        int sig = rnnrt_signal_pending();
        if (sig) {
            rc = rnnrt_signal_exit_code(sig);
            break;
        }
        c->T = rnnrt_batcher_get(&b, i, buf->x, buf->y);
        rnnrt_model_run(m, buf, 0);
        double tokens = (double)c->T * (double)buf->B;
        nll += c->loss * tokens;
        n += tokens;
        memcpy(buf->state_in, buf->state_out, bs * sizeof(real));
    }
    if (rnnrt_buffers_ranks(buf) > 1) { /* each rank has its rows' part */
        rnnrt_mpi_max(&rc, 1);      /* interrupted on one rank: on all */
        rnnrt_mpi_sum(&nll, 1, NULL, 0);
    }
    c->T = buf->T;
    c->train = train;
    rnnrt_batcher_free(&b);
    *ppl = rnnrt_perplexity(nll, n);
    if (ntokens)
        *ntokens = n;
    return rc;
}
