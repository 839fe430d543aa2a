/*
 * bench_gemm.h: what bench_lm.c and bench_s2s.c share: counting the GEMMs
 * of one training step through -Wl,--wrap=rnnrt_gemm and
 * -Wl,--wrap=rnnrt_gemm_packed (shape and calls,
 * without touching the runtime), timing cblas_sgemm alone at each counted
 * shape, and the median of the timing windows. Each harness is one
 * translation unit, so the definitions live here as statics.
 */
#ifndef BENCH_GEMM_H
#define BENCH_GEMM_H

#include "rnnrt.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int ta, tb, M, N, K;
    long calls;
} GemmShape;

enum { MAX_SHAPES = 64 };
static GemmShape shapes[MAX_SHAPES];
static int nshapes, counting;

void __real_rnnrt_gemm(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B,
                       int ldb, real beta, real *C, int ldc);

static void tally(int ta, int tb, int M, int N, int K)
{
    if (!counting)
        return;
    int i = 0;
    while (i < nshapes &&
           !(shapes[i].ta == ta && shapes[i].tb == tb && shapes[i].M == M && shapes[i].N == N && shapes[i].K == K))
        i++;
    if (i == nshapes && nshapes < MAX_SHAPES)
        shapes[nshapes++] = (GemmShape){ta, tb, M, N, K, 0};
    if (i < nshapes)
        shapes[i].calls++;
}

/* Every rnnrt_gemm of the program lands here; while `counting`, its shape
 * is tallied. */
void __wrap_rnnrt_gemm(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B,
                       int ldb, real beta, real *C, int ldc);
void __wrap_rnnrt_gemm(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B,
                       int ldb, real beta, real *C, int ldc)
{
    tally(ta, tb, M, N, K);
    __real_rnnrt_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* And every scan GEMM against a packed weight (-Wl,--wrap=rnnrt_gemm_packed)
 * is tallied as the sgemm it replaces; unpacked, or without a vector
 * kernel, it calls rnnrt_gemm, which tallies it there. */
void __real_rnnrt_gemm_packed(int tb, int M, int N, int K, const real *A, int lda, const real *B, int ldb,
                              const real *packed, real *C, int ldc);
void __wrap_rnnrt_gemm_packed(int tb, int M, int N, int K, const real *A, int lda, const real *B, int ldb,
                              const real *packed, real *C, int ldc);
void __wrap_rnnrt_gemm_packed(int tb, int M, int N, int K, const real *A, int lda, const real *B, int ldb,
                              const real *packed, real *C, int ldc)
{
    if (packed && strcmp(rnnrt_gemm_packed_kernel(), "blas"))
        tally(0, tb, M, N, K);
    __real_rnnrt_gemm_packed(tb, M, N, K, A, lda, B, ldb, packed, C, ldc);
}

static double shape_flops(const GemmShape *s) { return 2.0 * s->M * s->N * s->K * (double)s->calls; }

/* Seconds per call of cblas_sgemm at shape s (best of 5 timed batches). */
static double time_sgemm(const GemmShape *s)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
    float *a = calloc(na, sizeof *a), *b = calloc(nb, sizeof *b), *c = calloc(nc, sizeof *c);
    for (size_t i = 0; i < na; i++)
        a[i] = (float)((i % 13) * 0.01);
    for (size_t i = 0; i < nb; i++)
        b[i] = (float)((i % 7) * 0.01);
    double best = 1e30;
    long reps = 1;
    for (;;) { /* reps for ~20 ms */
        double t0 = rnnrt_now();
        for (long r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M,
                        s->N, s->K, 1, a, lda, b, ldb, 0, c, s->N);
        double dt = rnnrt_now() - t0;
        if (dt > 0.02)
            break;
        reps *= 2;
    }
    for (int k = 0; k < 5; k++) {
        double t0 = rnnrt_now();
        for (long r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M,
                        s->N, s->K, 1, a, lda, b, ldb, 0, c, s->N);
        double dt = (rnnrt_now() - t0) / (double)reps;
        best = dt < best ? dt : best;
    }
    free(a), free(b), free(c);
    return best;
}

/* The key=value lines of the GEMM efficiency, for a step of step_s
 * seconds: every counted shape timed alone (OpenBLAS with its current
 * threads), the "limit" = the time the step's GEMMs would take at those
 * rates; the shapes themselves go to stderr. */
static void print_gemm_report(double step_s)
{
    double flops = 0, limit_s = 0, top = 0;
    long calls = 0;
    int itop = 0;
    for (int i = 0; i < nshapes; i++) {
        double f = shape_flops(&shapes[i]);
        flops += f;
        calls += shapes[i].calls;
        limit_s += time_sgemm(&shapes[i]) * (double)shapes[i].calls;
        if (f > top)
            top = f, itop = i;
    }
    printf("gemm_kernel=%s\n", rnnrt_gemm_packed_kernel()); /* the scans' packed GEMMs */
    printf("gemm_calls_per_step=%ld\n", calls);
    printf("gemm_gflop_per_step=%.4f\n", flops / 1e9);
    printf("achieved_gflops=%.1f\n", flops / step_s / 1e9);
    printf("sgemm_gflops=%.1f\n", limit_s > 0 ? flops / limit_s / 1e9 : 0);
    printf("gemm_efficiency=%.2f\n", limit_s / step_s);
    if (nshapes)
        printf("top_shape=%s%s_%dx%dx%d_x%ld\n", shapes[itop].ta ? "T" : "N", shapes[itop].tb ? "T" : "N",
               shapes[itop].M, shapes[itop].N, shapes[itop].K, shapes[itop].calls);
    for (int i = 0; i < nshapes; i++)
        fprintf(stderr, "gemm %s%s M=%d N=%d K=%d calls=%ld\n", shapes[i].ta ? "T" : "N", shapes[i].tb ? "T" : "N",
                shapes[i].M, shapes[i].N, shapes[i].K, shapes[i].calls);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
