/*
 * rnnrt_toytask.c: a self-made translation task for fast tests: short
 * random sequences of one-letter words and their reversal (or copy),
 * written as `source<TAB>target` lines so rnnrt_pairs_load reads them like
 * real data. The same seed gives the same bytes (runtime RNG).
 */
#include "rnnrt_s2s.h"

#include <string.h>

int rnnrt_toytask_write(FILE *f, const char *task, size_t n, int nsym,
                        int min_len, int max_len, uint64_t seed,
                        RnnrtError *err)
{
    int reverse;
    if (!strcmp(task, "reverse"))
        reverse = 1;
    else if (!strcmp(task, "copy"))
        reverse = 0;
    else
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "unknown toy task '%s' "
                           "(reverse, copy)", task);
    if (nsym < 1 || nsym > 26 || min_len < 1 || max_len < min_len
        || max_len > 1000)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "toy task: need 1 <= "
                           "symbols <= 26 and 1 <= min_len <= max_len <= "
                           "1000 (got %d, %d, %d)", nsym, min_len, max_len);
    RnnrtRng r;
    rnnrt_rng_init(&r, seed);
    char x[1000];
    for (size_t i = 0; i < n; i++) {
        int len = min_len + (int)rnnrt_rng_below(&r, (uint64_t)(max_len -
                                                               min_len + 1));
        for (int t = 0; t < len; t++)
            x[t] = (char)('a' + rnnrt_rng_below(&r, (uint64_t)nsym));
        for (int t = 0; t < len; t++)
            fprintf(f, t ? " %c" : "%c", x[t]);
        fputc('\t', f);
        for (int t = 0; t < len; t++)
            fprintf(f, t ? " %c" : "%c", x[reverse ? len - 1 - t : t]);
        fputc('\n', f);
    }
    return ferror(f) ? rnnrt_error(err, RNNRT_EXIT_IO,
                                   "error writing the toy task")
                     : 0;
}
