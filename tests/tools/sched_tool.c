/*
 * sched_tool.c: prints the learning rates rnnrt_sched.c gives, for
 * tests/torch/compare_lr_schedule.py to compare with torch's schedulers.
 *
 *   sched_tool KIND LR EPOCHS STEP FACTOR PATIENCE THRESHOLD MIN_LR [LOSS...]
 *     one line per epoch e = 1..EPOCHS: the lr after that epoch
 *     (%.17g), given LOSS[e-1] as its validation loss (plateau)
 *   sched_tool warmup LR WARMUP STEPS
 *     one line per optimizer step s = 0..STEPS-1: the lr it uses
 */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"

int main(int argc, char **argv)
{
    RnnrtSchedOpts o;
    rnnrt_sched_opts_default(&o);
    if (argc == 5 && !strcmp(argv[1], "warmup")) {
        double lr = atof(argv[2]);
        o.warmup = atoll(argv[3]);
        for (int64_t s = 0; s < atoll(argv[4]); s++)
            printf("%.17g\n", rnnrt_sched_step_lr(&o, s, lr));
        return 0;
    }
    if (argc < 9 || rnnrt_sched_parse(argv[1], &o.kind)) {
        fprintf(stderr, "usage: sched_tool KIND LR EPOCHS STEP FACTOR PATIENCE THRESHOLD MIN_LR [LOSS...]\n"
                        "       sched_tool warmup LR WARMUP STEPS\n");
        return 2;
    }
    double lr = atof(argv[2]);
    int64_t epochs = atoll(argv[3]);
    o.step_size = atoll(argv[4]);
    o.factor = atof(argv[5]);
    o.patience = atoll(argv[6]);
    o.threshold = atof(argv[7]);
    o.min_lr = atof(argv[8]);
    RnnrtError err = {0};
    if (rnnrt_sched_check(&o, &err)) {
        fprintf(stderr, "sched_tool: %s\n", err.msg);
        return 2;
    }
    RnnrtSchedState s;
    rnnrt_sched_start(&s, lr);
    for (int64_t e = 1; e <= epochs; e++) {
        double val = 9 + e - 1 < argc ? atof(argv[9 + e - 1]) : NAN;
        lr = rnnrt_sched_epoch(&o, &s, e, epochs, val, lr);
        printf("%.17g\n", lr);
    }
    return 0;
}
