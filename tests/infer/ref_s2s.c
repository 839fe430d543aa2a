/*
 * ref_s2s.c: a seq2seq trainer's decoder logits for tests/e2e/infer.sh.
 * Built with a generated seq2seq model (-DRNNC_NO_MAIN,
 * -DREF_MODEL=<name>_model) and librnnrt:
 *
 *   ref_s2s CKPT SOURCE TRANSLATION
 *
 * loads the checkpoint as `translate` does, encodes SOURCE through the
 * trainer's emitted encoder and runs its emitted decoder step (what
 * `translate` runs, rnnrt_s2s_decode.c) from <bos>, then from each word of
 * TRANSLATION (the trainer's greedy output): one line per step, "prev l0
 * ... l(Vt-1)" with %.9g (floats exactly); the last step is the one whose
 * logits chose <eos> (none when TRANSLATION has train.steps words).
 */
#include "rnnrt.h"
#include "s2s/rnnrt_s2s_int.h"

#include <stdio.h>
#include <string.h>

extern const RnnrtS2sModel REF_MODEL;

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: ref_s2s CKPT SOURCE TRANSLATION\n");
        return 2;
    }
    const RnnrtS2sModel *m = &REF_MODEL;
    RnnrtError err = {0};
    S2sParams p;
    RnnrtVocab sv, tv;
    int rc = rnnrt_s2s_ckpt_load(argv[1], m, &p, &sv, &tv, &err);
    if (rc) {
        rnnrt_error_print(&err, "ref_s2s");
        return rc;
    }
    int T = m->recipe.steps;
    int32_t row[256], valid = 0, prev[257];
    if (T > 256 || !m->encode || !m->step)
        return 2;
    rnnrt_s2s_encode(&sv, argv[2], strlen(argv[2]), T, row, &valid, NULL);
    int n = 0;
    prev[n++] = RNNRT_BOS;
    for (char *w = strtok(argv[3], " "); w && n <= T; w = strtok(NULL, " ")) {
        int id = rnnrt_vocab_find(&tv, w, strlen(w));
        if (id < 4) {
            fprintf(stderr, "ref_s2s: '%s' is not a target word\n", w);
            return 2;
        }
        prev[n++] = id;
    }
    if (n > T)
        n = T; /* no <eos>: the search stopped after T steps */
    S2sDecoder d;
    real state0[4096];
    if ((rc = rnnrt_s2s_decoder_init(&d, &p, T, 1, 1, 0, 0, &err)) != 0 || d.S > 4096) {
        rnnrt_error_print(&err, "ref_s2s");
        return 2;
    }
    rnnrt_s2s_decoder_start(&d, 1, row, &valid, state0);
    /* one row: the step's state blocks are the row itself */
    memcpy(d.sin, state0, (size_t)d.S * sizeof(real));
    for (int t = 0; t < n; t++) {
        d.dc.B = 1;
        d.dc.prev = &prev[t];
        d.dc.state_in = d.sin;
        d.dc.state_out = d.sout;
        m->step(&d.dc);
        printf("%d", (int)prev[t]);
        for (int k = 0; k < p.Vt; k++)
            printf(" %.9g", (double)d.dc.logits[k]);
        printf("\n");
        real *tmp = d.sin;
        d.sin = d.sout;
        d.sout = tmp;
    }
    rnnrt_s2s_decoder_free(&d);
    rnnrt_s2s_params_free(&p);
    rnnrt_vocab_free(&sv);
    rnnrt_vocab_free(&tv);
    return 0;
}
