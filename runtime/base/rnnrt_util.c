/*
 * rnnrt_util.c: the small things every part of librnnrt shares.
 *
 *  - RnnrtError: library functions never print or exit on a user or data
 *    error; they fill an RnnrtError and return its RNNRT_EXIT_* code, and
 *    rnnrt_main decides what to do. That keeps every failure testable.
 *  - rnnrt_xcalloc: the one exception. Allocation happens only while setting
 *    up (the training step allocates nothing), so running out of memory
 *    prints the byte count and what it was for, and exits 3; inside
 *    rnnrt_alloc_guard (the C API's opens) it returns 3 with that message
 *    instead.
 *  - Strict number parsing for the command line: the whole string must be a
 *    number in range; "12abc", "", "1e400" and "0x10" are refused.
 *  - FNV-1a (corpus fingerprints) and a monotonic clock.
 */
#include "rnnrt.h"

#include <errno.h>
#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int rnnrt_error(RnnrtError *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    e->where[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int rnnrt_error_at(RnnrtError *e, int code, const char *where,
                   const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    snprintf(e->where, sizeof e->where, "%s", where ? where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void rnnrt_error_print(const RnnrtError *e, const char *prog)
{
    const char *who = e->where[0] ? e->where : prog;
    fprintf(stderr, "%s: error: %s\n", who, e->msg);
}

/* ---- running out of memory ----
 * Outside a guard: print and exit 3. Inside rnnrt_alloc_guard (the C
 * API's opens): the message goes to the guard's RnnrtError and the guard
 * returns 3. Both are per thread: two threads opening two handles do not
 * meet here. */
typedef struct AllocGuard {
    jmp_buf jb;
    RnnrtError *err;
    struct AllocGuard *prev;
} AllocGuard;

static _Thread_local AllocGuard *guard;
static _Thread_local long fail_in; /* rnnrt_alloc_fail_after's countdown */

long rnnrt_alloc_fail_after(long n)
{
    long left = fail_in;
    fail_in = n > 0 ? n : 0;
    return left;
}

int rnnrt_alloc_injected(void)
{
    return fail_in > 0 && --fail_in == 0;
}

void rnnrt_out_of_memory(const char *what, size_t bytes, int overflows)
{
    char msg[256];
    if (overflows)
        snprintf(msg, sizeof msg, "size of %s overflows", what);
    else
        snprintf(msg, sizeof msg, "out of memory allocating %zu bytes for %s",
                 bytes, what);
    if (guard) {
        rnnrt_error(guard->err, RNNRT_EXIT_IO, "%s", msg);
        longjmp(guard->jb, 1);
    }
    fprintf(stderr, "error: %s\n", msg);
    exit(RNNRT_EXIT_IO);
}

int rnnrt_alloc_guard(int (*fn)(void *arg, RnnrtError *err), void *arg,
                      RnnrtError *err)
{
    AllocGuard g = {.err = err, .prev = guard};
    if (setjmp(g.jb)) {
        guard = g.prev;
        return RNNRT_EXIT_IO;
    }
    guard = &g;
    int rc = fn(arg, err);
    guard = g.prev;
    return rc;
}

void *rnnrt_xcalloc(size_t n, size_t size, const char *what)
{
    size_t bytes;
    if (rnnrt_size_mul(n, size, &bytes) != 0)
        rnnrt_out_of_memory(what, 0, 1);
    void *p = rnnrt_alloc_injected() ? NULL : calloc(bytes ? bytes : 1, 1);
    if (!p)
        rnnrt_out_of_memory(what, bytes, 0);
    return p;
}

int rnnrt_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

/* Only plain decimal: optional '-', then digits. strtoll alone would take
 * leading spaces, '+' and (with base 0) hex. */
static int is_decimal(const char *s, int allow_minus)
{
    if (allow_minus && *s == '-')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int rnnrt_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !is_decimal(s, 1))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int rnnrt_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !is_decimal(s, 0))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int rnnrt_parse_double(const char *s, double min, double max, double *out)
{
    if (!s || !*s || *s == ' ' || *s == '\t' || *s == '\n')
        return -1;
    /* strtod also accepts "inf", "nan" and hex floats; a number here starts
       with a sign, a digit or a dot, and has no 'x'. */
    const char *d = (*s == '-' || *s == '+') ? s + 1 : s;
    if (!((*d >= '0' && *d <= '9') || *d == '.') || strpbrk(s, "xX"))
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno == ERANGE || *end || !isfinite(v) || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

uint64_t rnnrt_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

double rnnrt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
