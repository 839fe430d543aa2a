/*
 * ref.c: the trainer's logits for tests/e2e/infer.sh. Built with a
 * generated model (-DRNNC_NO_MAIN, -DREF_MODEL=<name>_model) and librnnrt:
 *
 *   ref CKPT TEXT
 *
 * loads the checkpoint as `sample` does, feeds TEXT's tokens one at a time
 * from a zero state through the trainer's generation step (rnnrt_gen_feed,
 * what `sample` runs) and prints the logits after each: one line per
 * token, "id l0 l1 ... l(V-1)" with %.9g (floats exactly).
 */
#include "rnnrt.h"

#include <stdio.h>
#include <string.h>

extern const RnnrtModel REF_MODEL;

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ref CKPT TEXT\n");
        return 2;
    }
    const RnnrtModel *m = &REF_MODEL;
    RnnrtError err = {0};
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    int rc = rnnrt_ckpt_load(argv[1], m, &v, &p, &ts, &err);
    RnnrtTextIds px = {0};
    RnnrtGen g = {0};
    if (!rc)
        rc = rnnrt_prefix_encode(&px, m, &v, argv[2], strlen(argv[2]), &err);
    if (!rc)
        rc = rnnrt_gen_init(&g, m, &p, &v, &err);
    if (rc) {
        rnnrt_error_print(&err, "ref");
        return rc;
    }
    rnnrt_gen_reset(&g);
    for (size_t i = 0; i < px.n; i++) {
        rnnrt_gen_feed(&g, px.ids[i]);
        printf("%d", (int)px.ids[i]);
        for (int k = 0; k < v.size; k++)
            printf(" %.9g", (double)g.b.ctx.logits[k]);
        printf("\n");
    }
    rnnrt_gen_free(&g);
    rnnrt_text_ids_free(&px);
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    return 0;
}
