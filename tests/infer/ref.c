/*
 * ref.c: the trainer's logits for tests/e2e/infer.sh. Built with a
 * generated model (-DRNNC_NO_MAIN, -DREF_MODEL=<name>_model) and librnnrt:
 *
 *   ref CKPT TEXT
 *
 * loads the checkpoint as `sample` does, feeds TEXT's tokens one at a time
 * from a zero state through the trainer's generation step (rnnrt_gen_feed,
 * what `sample` runs) and prints the logits after each: one line per
 * token, "id l0 l1 ... l(V-1)" with %.9g (floats exactly). A tagger (task:
 * labelling): the checkpoint as the task trainer reads it, TEXT's
 * characters (<unk> for those the vocabulary lacks) through the model's
 * forward with B = 1, T = the characters, and the L logits of each step.
 */
#include "rnnrt.h"

#include <stdio.h>
#include <string.h>

extern const RnnrtModel REF_MODEL;

static int tagger(const RnnrtModel *m, const char *path, const char *text)
{
    RnnrtError err = {0};
    RnnrtCkptFile f;
    RnnrtParams p;
    RnnrtVocab v;
    RnnrtBuffers b;
    int V = 0, L = 0;
    int rc = rnnrt_ckpt_open(&f, path, &err);
    if (!rc)
        rc = rnnrt_ckpt_get_model(&f, m, &p, &V, &L, &err);
    if (!rc)
        rc = rnnrt_ckpt_get_vocab(&f, "vocab", 1, &v, &err);
    int T = 0;
    int32_t ids[4096];
    for (size_t i = 0, n = strlen(text); !rc && i < n && T < 4096; T++) {
        int cl = rnnrt_utf8_len((unsigned char)text[i]);
        int id = rnnrt_vocab_find(&v, text + i, (size_t)cl);
        ids[T] = id < 4 ? 0 : id;
        i += (size_t)cl;
    }
    if (!rc)
        rc = rnnrt_buffers_init_l(&b, m, &p, 1, T, V, L, &err);
    if (rc) {
        rnnrt_error_print(&err, "ref");
        return rc;
    }
    for (int t = 0; t < T; t++) {
        b.x[t] = ids[t];
        b.y[t] = 0;
    }
    m->forward(&b.ctx);
    for (int t = 0; t < T; t++) {
        printf("%d", (int)ids[t]);
        for (int k = 0; k < L; k++)
            printf(" %.9g", (double)b.ctx.logits[(size_t)t * L + k]);
        printf("\n");
    }
    rnnrt_buffers_free(&b);
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_ckpt_close(&f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ref CKPT TEXT\n");
        return 2;
    }
    const RnnrtModel *m = &REF_MODEL;
    if (m->task == RNNRT_TASK_LABELLING)
        return tagger(m, argv[1], argv[2]);
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
