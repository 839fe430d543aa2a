/*
 * main.c: a program of the consumer project with an rnnc model linked in.
 * rnnc_add_model(TARGET predict ...) adds the generated C (compiled without
 * its main) to this program; the model descriptor it exports is
 * <model>_model, here rnn_model (specs/rnn.yaml has `model: rnn`). This
 * program hands its command line to the runtime's CLI, so `predict sample
 * --ckpt FILE` generates from a checkpoint the trainer wrote.
 */
#include "rnnrt.h"

extern const RnnrtModel rnn_model;

int main(int argc, char **argv)
{
    fprintf(stderr, "predict: model %s, librnnrt %s, %s\n", rnn_model.name, RNNRT_VERSION, RNNRT_REAL_NAME);
    return rnnrt_main(argc, argv, &rnn_model);
}
