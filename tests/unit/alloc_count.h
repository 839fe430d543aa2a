/*
 * alloc_count.h: counting malloc, calloc and realloc for the allocation
 * tests (test_alloc_step.c, test_rt_s2s_split.c). Defined in the test
 * executable, they interpose for every caller and forward to glibc's
 * __libc_* functions. While `counting` is set, a call made from rnnc's code
 * (the emitted step, librnnrt) adds to `allocations`; a call made from
 * inside OpenBLAS adds to `blas_allocations` instead: with the AVX-512
 * cores (OPENBLAS_CORETYPE unset here) OpenBLAS 0.3.21's small-matrix
 * kernels (dgemm_small_kernel_b0_nn_COOPERLAKE, found with gdb) malloc a
 * scratch block on each call, which is the library's business, not the
 * step's. The caller is told apart by the return address (dladdr: which
 * shared object it lies in). Include once, before any other use of malloc.
 */
#ifndef ALLOC_COUNT_H
#define ALLOC_COUNT_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static volatile int counting; /* volatile: malloc is a builtin the compiler reasons about */
static volatile long allocations, blas_allocations;
static volatile int in_count; /* dladdr must not count itself */

static void count_call(void *caller)
{
    if (!counting || in_count)
        return;
    in_count = 1;
    Dl_info info;
    if (dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "libopenblas"))
        blas_allocations++;
    else
        allocations++;
    in_count = 0;
}

void *malloc(size_t n)
{
    count_call(__builtin_return_address(0));
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    count_call(__builtin_return_address(0));
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    count_call(__builtin_return_address(0));
    return __libc_realloc(p, n);
}

/* What OpenBLAS allocated inside the counted steps (not rnnc's), said on
 * stderr so that it is visible; then zero again. */
static void report_blas(void)
{
    if (blas_allocations)
        fprintf(stderr, "note: OpenBLAS itself allocated %ld times inside the counted steps\n",
                (long)blas_allocations);
    blas_allocations = 0;
}

#endif
