/*
 * st_logits.c: the logits a checkpoint gives for one input sequence, for
 * tests/torch/safetensors_roundtrip.py to compare with PyTorch's.
 *
 *   st_logits CKPT ID...
 *
 * Compiled with a generated model file (built with -DRNNC_NO_MAIN) and
 * -DST_MODEL=<name>_model. One batch row, T = the number of ids, from a
 * zero state, no dropout: prints the logits, one line per step ([T][V] for
 * a language model, [T][L] for labelling) or one line ([L],
 * classification, pooled over all T steps by the model's head), %.9g.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"

extern const RnnrtModel ST_MODEL;

int main(int argc, char **argv)
{
    const RnnrtModel *m = &ST_MODEL;
    if (argc < 3) {
        fprintf(stderr, "usage: st_logits CKPT ID...\n");
        return 2;
    }
    RnnrtError err = {0};
    RnnrtParams p;
    RnnrtVocab v, labels;
    memset(&labels, 0, sizeof labels);
    int T = argc - 2, L = 0, rc, Tck = 0;
    if (m->task == RNNRT_TASK_LANGUAGE_MODEL) {
        RnnrtTrainState ts;
        rc = rnnrt_ckpt_load(argv[1], m, &v, &p, &ts, &err);
        if (!rc)
            rnnrt_train_state_free(&ts);
    } else {
        int64_t steps;
        rc = rnnrt_task_ckpt_load(argv[1], m, &v, &labels, &p, &Tck, &steps,
                                  &err);
        L = labels.size;
    }
    if (rc) {
        rnnrt_error_print(&err, "st_logits");
        return rc;
    }
    RnnrtBuffers b;
    rc = rnnrt_buffers_init_l(&b, m, &p, 1, T, v.size, L, &err);
    if (rc) {
        rnnrt_error_print(&err, "st_logits");
        return rc;
    }
    for (int t = 0; t < T; t++) {
        long id = strtol(argv[2 + t], NULL, 10);
        if (id < 0 || id >= v.size) {
            fprintf(stderr, "st_logits: id %ld is not in [0, %d)\n", id,
                    v.size);
            return 2;
        }
        b.x[t] = (int32_t)id;
        b.y[t] = 0;
    }
    if (m->task == RNNRT_TASK_CLASSIFICATION) {
        rnnrt_pool_weights(b.pool, T, 1, 0, T, m->head);
        rnnrt_valid_mask(b.mask, T, 1, 0, T);
    }
    b.ctx.T = T;
    b.ctx.train = 0;
    rnnrt_model_run(m, &b, 0);
    int rows = m->task == RNNRT_TASK_CLASSIFICATION ? 1 : T;
    int width = m->task == RNNRT_TASK_LANGUAGE_MODEL ? v.size : L;
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < width; k++)
            printf("%.9g%c", (double)b.ctx.logits[(size_t)r * width + k],
                   k + 1 < width ? ' ' : '\n');
    rnnrt_buffers_free(&b);
    rnnrt_params_free(&p);
    rnnrt_vocab_free(&v);
    if (L)
        rnnrt_vocab_free(&labels);
    return 0;
}
