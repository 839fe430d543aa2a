/*
 * rnnrt_rng.c: the deterministic random number generator behind every
 * random choice the runtime makes (initialization, batch order, randomized
 * truncation, sampling).
 *
 * xoshiro256** (Blackman and Vigna), whose 256-bit state is filled from the
 * 64-bit seed by splitmix64, as its authors recommend. The whole state is
 * four words, so checkpoints store it and a resumed run draws the same
 * numbers as an uninterrupted one. Same seed, same numbers, on every
 * platform: nothing here depends on the C library's rand().
 */
#include "rnnrt.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void rnnrt_rng_init(RnnrtRng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t rnnrt_rng_next(RnnrtRng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* The top 53 bits, so every double in [0, 1) on the 2^-53 grid is equally
 * likely. */
double rnnrt_rng_uniform(RnnrtRng *r)
{
    return (double)(rnnrt_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Box-Muller, one value per call (the second is dropped so the state stays
 * four words). 1 - u is in (0, 1], so the log is finite. */
double rnnrt_rng_normal(RnnrtRng *r)
{
    double u1 = 1.0 - rnnrt_rng_uniform(r);
    double u2 = rnnrt_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

/* Rejection: draws below 2^64 mod n would make small results more likely. */
uint64_t rnnrt_rng_below(RnnrtRng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = rnnrt_rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

void rnnrt_rng_fill_uniform(RnnrtRng *r, real *p, size_t n, double lo,
                            double hi)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (real)(lo + (hi - lo) * rnnrt_rng_uniform(r));
}
