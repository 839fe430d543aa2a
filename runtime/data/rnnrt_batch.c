/*
 * rnnrt_batch.c: language-model minibatches from one long stream of ids.
 *
 * Sequential partitioning is the reference's partition(): the stream is cut
 * into B rows of nc = (len-1)/B columns (x = ids[:nc*B], y = ids[1:nc*B+1],
 * each viewed [B][nc]) and minibatch i is the window of columns
 * [i*T, min((i+1)*T, nc)). Row b of minibatch i+1 continues row b of
 * minibatch i, which is why the trainer carries the state across. The last
 * window is shorter when T does not divide nc; the model then runs with that
 * smaller T.
 *
 * Random sampling is d2l's seq_data_iter_random: each epoch drops a random
 * offset in [0, T) from the front, cuts the rest into subsequences of T
 * (targets shifted by one), shuffles them and serves B per minibatch,
 * dropping the leftover. Neighbouring rows are unrelated, so the state
 * starts at zero for every minibatch.
 *
 * Both write x and y time-major, [T][B], as RnnrtCtx wants.
 */
#include "rnnrt.h"

#include <stdlib.h>
#include <string.h>

int rnnrt_sampler_parse(const char *name, RnnrtSampler *out)
{
    if (name && !strcmp(name, "sequential"))
        *out = RNNRT_SAMPLER_SEQUENTIAL;
    else if (name && !strcmp(name, "random"))
        *out = RNNRT_SAMPLER_RANDOM;
    else
        return -1;
    return 0;
}

/* Sequential needs T+1 columns per row plus the one-token shift. Random
 * needs B subsequences even at the largest offset T-1:
 * (len - (T-1) - 1) / T >= B, i.e. len >= (B+1)*T. */
size_t rnnrt_batcher_min_tokens(RnnrtSampler kind, int B, int T)
{
    size_t seq = (size_t)B * ((size_t)T + 1) + 1;
    size_t rnd = ((size_t)B + 1) * (size_t)T;
    if (kind == RNNRT_SAMPLER_RANDOM && rnd > seq)
        return rnd;
    return seq;
}

void rnnrt_batcher_init(RnnrtBatcher *b, RnnrtSampler kind,
                        const int32_t *ids, size_t len, int B, int T)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->ids = ids;
    b->len = len;
    b->B = B;
    b->T = T;
    if (len < 2)
        return;
    if (kind == RNNRT_SAMPLER_SEQUENTIAL) {
        b->nc = (len - 1) / (size_t)B;
        b->nbatches = (b->nc + (size_t)T - 1) / (size_t)T;
    } else {
        b->starts = rnnrt_xcalloc((len - 1) / (size_t)T + 1, sizeof *b->starts,
                                  "random batch starts");
    }
}

void rnnrt_batcher_epoch(RnnrtBatcher *b, RnnrtRng *r)
{
    if (b->kind != RNNRT_SAMPLER_RANDOM || b->len < 2)
        return;
    b->offset = rnnrt_rng_below(r, (uint64_t)b->T);
    b->nsub = (b->len - b->offset - 1) / (size_t)b->T;
    for (size_t k = 0; k < b->nsub; k++)
        b->starts[k] = b->offset + k * (size_t)b->T;
    for (size_t k = b->nsub; k > 1; k--) { /* Fisher-Yates */
        size_t j = rnnrt_rng_below(r, k);
        size_t tmp = b->starts[k - 1];
        b->starts[k - 1] = b->starts[j];
        b->starts[j] = tmp;
    }
    b->nbatches = b->nsub / (size_t)b->B;
}

int rnnrt_batcher_get(const RnnrtBatcher *b, size_t i, int32_t *x, int32_t *y)
{
    int B = b->B, T = b->T;
    if (b->kind == RNNRT_SAMPLER_SEQUENTIAL) {
        size_t c0 = i * (size_t)T;
        if (b->nc - c0 < (size_t)T)
            T = (int)(b->nc - c0);
        for (int r = 0; r < B; r++) {
            const int32_t *row = b->ids + (size_t)r * b->nc + c0;
            for (int t = 0; t < T; t++) {
                x[(size_t)t * B + r] = row[t];
                y[(size_t)t * B + r] = row[t + 1];
            }
        }
        return T;
    }
    for (int r = 0; r < B; r++) {
        const int32_t *seq = b->ids + b->starts[i * (size_t)B + (size_t)r];
        for (int t = 0; t < T; t++) {
            x[(size_t)t * B + r] = seq[t];
            y[(size_t)t * B + r] = seq[t + 1];
        }
    }
    return T;
}

void rnnrt_batcher_free(RnnrtBatcher *b)
{
    free(b->starts);
    memset(b, 0, sizeof *b);
}
