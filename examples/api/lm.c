/*
 * lm.c: a trained language model used from a program of one's own, through
 * the C API (runtime/rnnrt_api.h).
 *
 *   lm CKPT TEXT PREFIX [LEN [SEED [TEMPERATURE]]]
 *
 * Opens the checkpoint that the model's trainer wrote, prints the
 * perplexity of TEXT, the five most likely tokens after PREFIX, and LEN
 * (default 100) tokens sampled after PREFIX with SEED (default 0) at
 * TEMPERATURE (default 1; 0 = greedy). The sample is what the trainer's
 * `sample --ckpt CKPT --prefix PREFIX --len LEN --seed SEED` prints.
 *
 * Build: the generated model compiled with -DRNNC_NO_MAIN, this file, and
 * librnnrt (CMake builds it against generated/rnn.c as build/examples/api/lm):
 *
 *   cc -O2 -DRNNC_NO_MAIN -Iruntime -c generated/rnn.c
 *   cc -O2 -Iruntime examples/api/lm.c rnn.o build/librnnrt.a \
 *      $(pkg-config --libs openblas jansson) -lm -lpthread -o lm
 *
 * Another model: -DLM_MODEL=gru_model with generated/gru.c. Errors come
 * back from the API as a code and a message; the program prints the
 * message and exits with the code.
 */
#include "rnnrt_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LM_MODEL
#define LM_MODEL rnn_model
#endif
extern const RnnrtModel LM_MODEL;

static int fail(const RnnrtError *err, RnnrtLm **lm)
{
    rnnrt_error_print(err, "lm");
    rnnrt_lm_close(lm);
    return err->code;
}

/* Prints the k most likely next tokens (probs has n entries). */
static int print_top(RnnrtLm *lm, const double *probs, int n, int k,
                     RnnrtError *err)
{
    char *taken = calloc((size_t)n, 1);
    if (!taken)
        return RNNRT_EXIT_IO;
    for (int j = 0; j < k && j < n; j++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!taken[i] && (best < 0 || probs[i] > probs[best]))
                best = i;
        taken[best] = 1;
        const char *tok;
        int rc = rnnrt_lm_token(lm, best, &tok, err);
        if (rc) {
            free(taken);
            return rc;
        }
        printf("%s'%s' %.4f", j ? ", " : " ", tok, probs[best]);
    }
    printf("\n");
    free(taken);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 7) {
        fprintf(stderr, "usage: %s CKPT TEXT PREFIX [LEN [SEED "
                        "[TEMPERATURE]]]\n", argv[0]);
        return RNNRT_EXIT_USAGE;
    }
    int len = argc > 4 ? atoi(argv[4]) : 100;
    uint64_t seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 0;
    double temperature = argc > 6 ? atof(argv[6]) : 1.0;

    RnnrtError err;
    RnnrtLm *lm = NULL;
    if (rnnrt_lm_open(&lm, argv[1], &LM_MODEL, &err))
        return fail(&err, &lm);
    RnnrtLmInfo info;
    if (rnnrt_lm_info(lm, &info, &err))
        return fail(&err, &lm);
    printf("model %s: %d %s tokens, %lld training steps, %s\n", info.name,
           info.vocab, info.tokens, (long long)info.steps, info.real);

    RnnrtLmScore s;
    if (rnnrt_lm_score(lm, argv[2], strlen(argv[2]), &s, &err))
        return fail(&err, &lm);
    printf("score: perplexity %.4f, %.0f tokens predicted, %.4f nats, "
           "%zu unknown\n", s.perplexity, s.tokens, s.nll, s.unk);

    double *probs = malloc((size_t)info.vocab * sizeof *probs);
    if (!probs)
        return RNNRT_EXIT_IO;
    int rc = rnnrt_lm_feed(lm, argv[3], NULL, &err);
    if (!rc)
        rc = rnnrt_lm_next(lm, probs, info.vocab, &err);
    if (!rc) {
        printf("next:");
        rc = print_top(lm, probs, info.vocab, 5, &err);
    }
    free(probs);
    if (rc)
        return fail(&err, &lm);

    /* Ask for the length first (a buffer of 1 byte), then sample again into
     * a buffer of that size: the same seed gives the same text. */
    char one[1];
    size_t need = 0;
    rnnrt_lm_sample(lm, argv[3], len, temperature, seed, one, sizeof one,
                    &need, &err);
    char *text = malloc(need + 1);
    if (!text)
        return RNNRT_EXIT_IO;
    if (rnnrt_lm_sample(lm, argv[3], len, temperature, seed, text, need + 1,
                        NULL, &err)) {
        free(text);
        return fail(&err, &lm);
    }
    printf("sample: %s\n", text);
    free(text);
    rnnrt_lm_close(&lm);
    return 0;
}
