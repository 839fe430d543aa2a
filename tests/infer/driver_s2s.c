/*
 * driver_s2s.c: a program using a seq2seq model's standalone file (rnnc
 * --inference), for tests/e2e/infer.sh. Built as driver.c (-DMODEL,
 * -DUPPER, -DINFER_FILE; tests/unit/alloc_count.h counts every allocation
 * while the model runs):
 *
 *   driver_s2s translate       each stdin line's greedy translation, one a line
 *                              (as the trainer's `translate`)
 *   driver_s2s beam K          the same by beam search of width K (translate --beam K)
 *   driver_s2s logits SOURCE   the decoder's logits on SOURCE's greedy path:
 *                              "prev l0 ... l(Vt-1)" per step (as ref_s2s.c)
 *   driver_s2s refuse          ids out of range and a step before an encode are refused
 *
 * Exit 1 when the model allocated anything (not counted with -DNO_ALLOC_COUNT).
 */
#include "driver_common.h"
#define U(name) CAT(UPPER, name)

static INFER s; /* the model's memory: the caller's (static here) */
static CAT(MODEL, _beam_work) bw; /* a beam search's */

static int done(void)
{
    fflush(stdout);
    if (allocations) {
        fprintf(stderr, "driver: the model allocated %ld times\n", (long)allocations);
        return 1;
    }
    fprintf(stderr, "driver: 0 heap allocations; RAM %zu bytes\n", sizeof s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "translate")) {
        static char line[4096], text[U(_TEXT_BYTES)];
        while (fgets(line, sizeof line, stdin)) {
            size_t len = strcspn(line, "\r\n");
            counting = 1;
            int n = F(_translate)(&s, line, len, text, sizeof text);
            counting = 0;
            if (n < 0) {
                fprintf(stderr, "driver: %s_TEXT_BYTES was not enough\n", "the model's");
                return 1;
            }
            printf("%s\n", text);
        }
        return done();
    }
    if (argc == 3 && !strcmp(argv[1], "beam")) {
        static char line[4096];
        int k = atoi(argv[2]);
        while (fgets(line, sizeof line, stdin)) {
            int32_t ids[U(_STEPS)], out[U(_STEPS)];
            counting = 1;
            int n = F(_source_ids)(line, strcspn(line, "\r\n"), ids, U(_STEPS));
            F(_encode)(&s, ids, n);
            int m = F(_beam)(&s, &bw, k, out);
            counting = 0;
            if (m < 0)
                return 2;
            for (int i = 0; i < m; i++)
                printf("%s%s", i ? " " : "", F(_target_token)(out[i]));
            printf("\n");
        }
        return done();
    }
    if (argc == 3 && !strcmp(argv[1], "logits")) {
        int32_t ids[U(_STEPS)], out[U(_STEPS)];
        counting = 1;
        int n = F(_source_ids)(argv[2], strlen(argv[2]), ids, U(_STEPS));
        F(_encode)(&s, ids, n);
        int m = F(_greedy)(&s, out);
        F(_encode)(&s, ids, n);
        counting = 0;
        int steps = m < U(_STEPS) ? m + 1 : m;
        for (int t = 0; t < steps; t++) {
            int prev = t ? out[t - 1] : 2;
            counting = 1;
            const float *z = F(_step)(&s, prev);
            counting = 0;
            if (!z)
                return 2;
            printf("%d", prev);
            for (int k = 0; k < U(_LOGITS); k++)
                printf(" %.9g", (double)z[k]);
            printf("\n");
        }
        return done();
    }
    if (argc == 2 && !strcmp(argv[1], "refuse")) {
        int bad = 0;
        int32_t ids[2] = {4, U(_SRC_VOCAB)};
        if (F(_step)(&s, 2))
            bad = fprintf(stderr, "driver: a step before any encode\n");
        if (F(_encode)(&s, ids, 2) != -1 || F(_encode)(&s, ids + 1, 1) != -1)
            bad = fprintf(stderr, "driver: a source id out of range was encoded\n");
        ids[1] = -1;
        if (F(_encode)(&s, ids, 2) != -1)
            bad = fprintf(stderr, "driver: a negative source id was encoded\n");
        if (F(_encode)(&s, ids, 1) != 2)
            bad = fprintf(stderr, "driver: one word + <eos> is not 2 positions\n");
        if (F(_step)(&s, -1) || F(_step)(&s, U(_TGT_VOCAB)))
            bad = fprintf(stderr, "driver: a target id out of range was fed\n");
        if (!F(_step)(&s, 2))
            bad = fprintf(stderr, "driver: <bos> after an encode was refused\n");
        if (F(_source_token)(-1) || F(_source_token)(U(_SRC_VOCAB)) || F(_target_token)(U(_TGT_VOCAB)) ||
            F(_source_id)("\001", 1) != -1)
            bad = fprintf(stderr, "driver: token lookups out of range\n");
        if (F(_beam)(&s, &bw, 0, ids) != -1 || F(_beam)(&s, &bw, U(_BEAM_MAX) + 1, ids) != -1)
            bad = fprintf(stderr, "driver: a beam width out of range\n");
        char small[2];
        if (F(_translate)(&s, "hello", 5, small, 0) != -1)
            bad = fprintf(stderr, "driver: a translation fit in 0 bytes\n");
        return bad ? 1 : 0;
    }
    fprintf(stderr, "usage: driver_s2s translate | beam K | logits SOURCE | refuse\n");
    return 2;
}
