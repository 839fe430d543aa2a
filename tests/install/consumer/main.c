/*
 * main.c: a program of the consumer project with an rnnc model linked in.
 *
 *   predict CKPT PREFIX LEN
 *
 * rnnc_add_model(TARGET predict ...) adds the generated C (compiled
 * without its main) to this program; the model descriptor it exports is
 * <model>_model, here rnn_model (specs/rnn.yaml has `model: rnn`). Opens
 * the checkpoint the trainer wrote through the C API (rnnrt_api.h), prints
 * the model and runtime on stderr and LEN tokens sampled after PREFIX with
 * seed 1 on stdout: what the trainer's `sample --prefix PREFIX --len LEN
 * --seed 1` prints.
 */
#include "rnnrt_api.h"

#include <stdio.h>
#include <stdlib.h>

extern const RnnrtModel rnn_model;

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: predict CKPT PREFIX LEN\n");
        return RNNRT_EXIT_USAGE;
    }
    RnnrtError err;
    RnnrtLm *lm;
    RnnrtLmInfo info;
    static char text[1 << 16];
    if (rnnrt_lm_open(&lm, argv[1], &rnn_model, &err) || rnnrt_lm_info(lm, &info, &err) ||
        rnnrt_lm_sample(lm, argv[2], atoi(argv[3]), 1.0, 1, text, sizeof text, NULL, &err)) {
        rnnrt_error_print(&err, "predict");
        rnnrt_lm_close(&lm);
        return err.code;
    }
    fprintf(stderr, "predict: model %s, librnnrt %s, %s\n", info.name, RNNRT_VERSION, info.real);
    printf("%s\n", text);
    rnnrt_lm_close(&lm);
    return 0;
}
