/*
 * seq2seq.c: a trained seq2seq model used from a program of one's own,
 * through the C API (runtime/rnnrt_api.h).
 *
 *   seq2seq CKPT SENTENCE [BEAM]
 *
 * Opens the checkpoint that the model's trainer wrote and translates
 * SENTENCE greedily and with beam search of width BEAM (default 4): each
 * translation is what the trainer's `translate --beam K` prints for the
 * sentence. Then, for a model with attention, the beam translation's
 * attention weights: a row per target token, a column per source token.
 *
 * Build: as examples/api/lm.c, with generated/seq2seq.c (CMake builds it
 * as build/examples/api/seq2seq; another model: -DS2S_MODEL=...). Errors
 * come back from the API as a code and a message; the program prints the
 * message and exits with the code.
 */
#include "rnnrt_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef S2S_MODEL
#define S2S_MODEL seq2seq_model
#endif
extern const RnnrtS2sModel S2S_MODEL;

static int fail(const RnnrtError *err, RnnrtTranslator **tr)
{
    rnnrt_error_print(err, "seq2seq");
    rnnrt_translator_close(tr);
    return err->code;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s CKPT SENTENCE [BEAM]\n", argv[0]);
        return RNNRT_EXIT_USAGE;
    }
    int beam = argc > 3 ? atoi(argv[3]) : 4;
    RnnrtError err;
    RnnrtTranslator *tr = NULL;
    if (rnnrt_translator_open(&tr, argv[1], &S2S_MODEL, &err))
        return fail(&err, &tr);
    RnnrtTranslatorInfo info;
    if (rnnrt_translator_info(tr, &info, &err))
        return fail(&err, &tr);
    printf("model %s: vocabularies %d / %d, %d steps, %s attention, %s\n",
           info.name, info.src_vocab, info.tgt_vocab, info.steps,
           info.has_attention ? "with" : "without", info.real);

    const char *src = argv[2];
    RnnrtTranslation t;
    if (rnnrt_translate(tr, src, strlen(src), 1, &t, &err))
        return fail(&err, &tr);
    printf("greedy: %s\n", t.text);
    if (rnnrt_translate(tr, src, strlen(src), beam, &t, &err))
        return fail(&err, &tr);
    printf("beam %d: %s (log-probability %.4f, %zu unknown)\n", beam, t.text,
           t.logprob, t.unk);
    if (t.attention) {
        printf("attention:%*s", 8, "");
        for (int j = 0; j < t.nsrc; j++)
            printf(" %8.8s", t.src[j]);
        printf("\n");
        for (int i = 0; i < t.ntgt; i++) {
            printf("  %16.16s", t.tgt[i]);
            for (int j = 0; j < t.nsrc; j++)
                printf(" %8.4f", t.attention[(size_t)i * t.nsrc + j]);
            printf("\n");
        }
    }
    rnnrt_translator_close(&tr);
    return 0;
}
