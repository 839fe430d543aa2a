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
 * forward with B = 1 in windows of the checkpoint's T steps, each from the
 * state the last left (as rnnrt_tagger_label, what `predict` runs), and the
 * L logits of each step. A classifier (task: classification): the
 * trainer's rnnrt_classify on TEXT, "label p0 ... p(L-1)".
 */
#include "rnnrt.h"
#include "rnnrt_api.h"

#include <stdio.h>
#include <string.h>

extern const RnnrtModel REF_MODEL;

static int tagger(const RnnrtModel *m, const char *path, const char *text)
{
    RnnrtError err = {0};
    RnnrtParams p;
    RnnrtVocab v;
    RnnrtVocab lab;
    RnnrtBuffers b;
    int W = 0;
    int64_t steps = 0;
    int rc = rnnrt_task_ckpt_load(path, m, &v, &lab, &p, &W, &steps, &err);
    int n = 0;
    int32_t ids[4096];
    for (size_t i = 0, len = strlen(text); !rc && i < len && n < 4096; n++) {
        int cl = rnnrt_utf8_len((unsigned char)text[i]);
        int id = rnnrt_vocab_find(&v, text + i, (size_t)cl);
        ids[n] = id < 4 ? 0 : id;
        i += (size_t)cl;
    }
    int L = rc ? 0 : lab.size;
    if (!rc)
        rc = rnnrt_buffers_init_l(&b, m, &p, 1, W, v.size, L, &err);
    if (rc) {
        rnnrt_error_print(&err, "ref");
        return rc;
    }
    memset(b.state_in, 0, (size_t)b.S * sizeof(real));
    for (int t0 = 0; t0 < n; t0 += W) {
        int T = n - t0 < W ? n - t0 : W;
        for (int t = 0; t < T; t++) {
            b.x[t] = ids[t0 + t];
            b.y[t] = 0;
        }
        b.ctx.T = T;
        b.ctx.B = 1;
        m->forward(&b.ctx);
        for (int t = 0; t < T; t++) {
            printf("%d", (int)ids[t0 + t]);
            for (int k = 0; k < L; k++)
                printf(" %.9g", (double)b.ctx.logits[(size_t)t * L + k]);
            printf("\n");
        }
        memcpy(b.state_in, b.state_out, (size_t)b.S * sizeof(real));
    }
    rnnrt_buffers_free(&b);
    rnnrt_vocab_free(&v);
    rnnrt_vocab_free(&lab);
    rnnrt_params_free(&p);
    return 0;
}

static int classifier(const RnnrtModel *m, const char *path, const char *text)
{
    RnnrtError err = {0};
    RnnrtClassifier *c = NULL;
    RnnrtTaskInfo info;
    RnnrtClass k;
    double probs[256];
    int rc = rnnrt_classifier_open(&c, path, m, &err);
    if (!rc)
        rc = rnnrt_classifier_info(c, &info, &err);
    if (!rc && info.labels > 256)
        rc = rnnrt_error(&err, 2, "too many labels");
    if (!rc)
        rc = rnnrt_classify(c, text, strlen(text), &k, probs, info.labels, &err);
    if (rc) {
        rnnrt_error_print(&err, "ref");
        rnnrt_classifier_close(&c);
        return rc;
    }
    printf("%d", k.label);
    for (int i = 0; i < info.labels; i++)
        printf(" %.9g", probs[i]);
    printf("\n");
    rnnrt_classifier_close(&c);
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
    if (m->task == RNNRT_TASK_CLASSIFICATION)
        return classifier(m, argv[1], argv[2]);
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
