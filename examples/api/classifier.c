/*
 * classifier.c: a trained classification model used from a program of
 * one's own, through the C API (runtime/rnnrt_api.h).
 *
 *   classifier CKPT TEXT...
 *
 * Opens the checkpoint that the model's trainer wrote and prints, for
 * each TEXT, its class and the probability of every class:
 *
 *   more_a 0.9731 (more_a 0.9731, more_b 0.0269): aabca
 *
 * Build: as examples/api/lm.c, with generated/classifier.c (CMake builds
 * it as build/examples/api/classifier). Errors come back from the API as a
 * code and a message; the program prints the message and exits with the
 * code.
 */
#include "rnnrt_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CLASSIFIER_MODEL
#define CLASSIFIER_MODEL classifier_model
#endif
extern const RnnrtModel CLASSIFIER_MODEL;

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CKPT TEXT...\n", argv[0]);
        return RNNRT_EXIT_USAGE;
    }
    RnnrtError err;
    RnnrtClassifier *c = NULL;
    if (rnnrt_classifier_open(&c, argv[1], &CLASSIFIER_MODEL, &err)) {
        rnnrt_error_print(&err, "classifier");
        return err.code;
    }
    RnnrtTaskInfo info;
    rnnrt_classifier_info(c, &info, &err);
    printf("model %s: %d %s tokens, %d classes, %d steps, %s\n", info.name,
           info.vocab, info.tokens, info.labels, info.steps, info.real);
    double *probs = malloc((size_t)info.labels * sizeof *probs);
    if (!probs) {
        rnnrt_classifier_close(&c);
        return RNNRT_EXIT_IO;
    }
    int rc = 0;
    for (int a = 2; a < argc && !rc; a++) {
        RnnrtClass k;
        const char *name;
        rc = rnnrt_classify(c, argv[a], strlen(argv[a]), &k, probs,
                            info.labels, &err);
        if (!rc)
            rc = rnnrt_classifier_label_name(c, k.label, &name, &err);
        if (rc)
            break;
        printf("%s %.4f (", name, k.prob);
        for (int i = 0; i < info.labels && !rc; i++) {
            rc = rnnrt_classifier_label_name(c, i, &name, &err);
            if (!rc)
                printf("%s%s %.4f", i ? ", " : "", name, probs[i]);
        }
        printf("): %s%s\n", argv[a], k.truncated ? " (cut)" : "");
    }
    if (rc)
        rnnrt_error_print(&err, "classifier");
    free(probs);
    rnnrt_classifier_close(&c);
    return rc;
}
