/*
 * bench_lm.c: speed of one rnnc-generated language model, the rnnc half of
 * bench/run.sh (the PyTorch half is bench/torch_lm.py; both print the same
 * key=value lines).
 *
 * Built by run.sh against a generated file compiled with -DRNNC_NO_MAIN and
 * -DBENCH_MODEL=<name>_model, linked with librnnrt (float) and
 * -Wl,--wrap=rnnrt_gemm so that the GEMMs of one training step can be
 * counted (shape and flops) without touching the runtime.
 *
 *   bench_lm --B 32 --T 35 --V 28 --threads 1 [--windows 7] [--seconds 1]
 *            [--gen-only 1]   (generation alone, for A/B runs)
 *
 * Training: random token data (fixed seed), one step = zero the gradient
 * block, forward, backward, clip to norm 1, SGD, carry the state, exactly
 * what rnnrt_train does per minibatch. Threads as in the trainer's
 * --threads N: with N >= 2 the batch is split over N workers
 * (rnnrt_buffers_split; train_tok_s, workers=), and for comparison the
 * same step is also timed unsplit with OpenBLAS running N threads
 * (train_blas_tok_s). After a warm-up (1 window) it runs
 * `windows` windows of at least `seconds` each and reports the median
 * tokens/s. Generation: B = 1, T = 1, forward + softmax sampling per token,
 * state carried, median over windows as well.
 *
 * GEMM efficiency: every distinct GEMM shape of one unsplit training step
 * (counted before the workers start, whose GEMMs are smaller) is timed on
 * its own (cblas_sgemm in a loop, OpenBLAS with N threads); the "GEMM limit"
 * is the time the step's GEMMs would take at those measured rates. The
 * step's achieved GFLOP/s (GEMM flops / measured step time) is reported
 * against the rate of the limit (GEMM flops / limit time).
 */
#include "bench_gemm.h"

#include <string.h>
#include <sys/resource.h>
#include <time.h>

extern const RnnrtModel BENCH_MODEL;

/* ---- the runs ---- */

typedef struct {
    int B, T, V, threads, windows, gen_only;
    double seconds;
} Opts;

static void fill_tokens(RnnrtBuffers *b, RnnrtRng *r)
{
    for (int i = 0; i < b->B * b->T; i++) {
        b->x[i] = (int32_t)rnnrt_rng_below(r, (uint64_t)b->V);
        b->y[i] = (int32_t)rnnrt_rng_below(r, (uint64_t)b->V);
    }
}

static void train_step(const RnnrtModel *m, RnnrtParams *p, RnnrtBuffers *b)
{
    memset(p->grads, 0, p->total * sizeof(real));
    rnnrt_model_run(m, b, 1);
    rnnrt_clip_grad_norm(p->grads, p->total, 1.0);
    rnnrt_sgd_step(p->params, p->grads, p->total, 0.01);
    memcpy(b->state_in, b->state_out, (size_t)b->B * b->S * sizeof(real));
}

/* Median training tokens/s and seconds per step; split: the batch over
 * o->threads workers (*workers says how many), else OpenBLAS threads. */
static double bench_train(const RnnrtModel *m, RnnrtParams *p, const Opts *o, int split, double *step_s,
                          int *workers)
{
    RnnrtBuffers b;
    RnnrtError err;
    if (rnnrt_buffers_init(&b, m, p, o->B, o->T, o->V, &err)) {
        rnnrt_error_print(&err, "bench_lm");
        exit(3);
    }
    RnnrtRng r;
    rnnrt_rng_init(&r, 1);
    fill_tokens(&b, &r);
    if (!nshapes) { /* the unsplit step's GEMMs, once */
        counting = 1;
        train_step(m, p, &b);
        counting = 0;
    }
    if (split && rnnrt_buffers_split(&b, m, p, o->threads, &err)) {
        rnnrt_error_print(&err, "bench_lm");
        exit(3);
    }
    if (!split)
        rnnrt_blas_set_threads(o->threads);
    *workers = rnnrt_buffers_workers(&b);
    double *tps = calloc((size_t)o->windows + 1, sizeof *tps);
    for (int w = -1; w < o->windows; w++) { /* window -1 is the warm-up */
        long steps = 0;
        double t0 = rnnrt_now(), dt;
        do {
            train_step(m, p, &b);
            steps++;
        } while ((dt = rnnrt_now() - t0) < o->seconds);
        if (w >= 0)
            tps[w] = (double)steps * o->B * o->T / dt;
    }
    double med = median(tps, o->windows);
    *step_s = (double)o->B * o->T / med;
    free(tps);
    rnnrt_buffers_free(&b);
    return med;
}

/* Softmax sampling from logits [V] with a uniform draw; e: V doubles for
 * the exps, computed once (as rnnrt_sample.c). */
static int32_t pick(const real *z, int V, RnnrtRng *r, double *e)
{
    double mx = z[0], s = 0;
    for (int i = 1; i < V; i++)
        mx = z[i] > mx ? z[i] : mx;
    for (int i = 0; i < V; i++) {
        e[i] = exp(z[i] - mx);
        s += e[i];
    }
    double u = rnnrt_rng_uniform(r) * s;
    for (int i = 0; i < V; i++) {
        u -= e[i];
        if (u < 0)
            return i;
    }
    return V - 1;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Median generation tokens/s (wall clock); *cpu_tps: tokens per second of
 * this process's CPU time over all windows, which a loaded machine
 * disturbs much less (A/B runs). */
static double bench_generate(const RnnrtModel *m, RnnrtParams *p, const Opts *o, double *cpu_tps)
{
    RnnrtBuffers b;
    RnnrtError err;
    if (rnnrt_buffers_init(&b, m, p, 1, 1, o->V, &err) || rnnrt_buffers_split(&b, m, p, o->threads, &err)) {
        rnnrt_error_print(&err, "bench_lm");
        exit(3);
    }
    RnnrtRng r;
    rnnrt_rng_init(&r, 2);
    int32_t id = 0;
    double *tps = calloc((size_t)o->windows + 1, sizeof *tps), *e = calloc((size_t)o->V, sizeof *e);
    long ntotal = 0;
    double c0 = 0;
    for (int w = -1; w < o->windows; w++) {
        long n = 0;
        if (w == 0)
            c0 = cpu_now();
        double t0 = rnnrt_now(), dt;
        do {
            for (int k = 0; k < 64; k++, n++) {
                b.x[0] = id;
                b.y[0] = 0;
                if (m->step) /* as rnnrt_sample.c */
                    m->step(&b.ctx);
                else
                    m->forward(&b.ctx);
                memcpy(b.state_in, b.state_out, (size_t)b.S * sizeof(real));
                id = pick(b.ctx.logits, o->V, &r, e);
            }
        } while ((dt = rnnrt_now() - t0) < o->seconds / 2);
        if (w >= 0) {
            tps[w] = (double)n / dt;
            ntotal += n;
        }
    }
    *cpu_tps = (double)ntotal / (cpu_now() - c0);
    double med = median(tps, o->windows);
    free(tps);
    free(e);
    rnnrt_buffers_free(&b);
    return med;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_lm --B N --T N --V N [--threads N] [--windows N] [--seconds S] [--gen-only 1]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    Opts o = {32, 35, 28, 1, 7, 0, 1.0};
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        const char *k = argv[i], *v = argv[++i];
        if (!strcmp(k, "--B"))
            o.B = atoi(v);
        else if (!strcmp(k, "--T"))
            o.T = atoi(v);
        else if (!strcmp(k, "--V"))
            o.V = atoi(v);
        else if (!strcmp(k, "--threads"))
            o.threads = atoi(v);
        else if (!strcmp(k, "--windows"))
            o.windows = atoi(v);
        else if (!strcmp(k, "--seconds"))
            o.seconds = atof(v);
        else if (!strcmp(k, "--gen-only"))
            o.gen_only = atoi(v);
        else
            usage();
    }
    if (o.B < 1 || o.T < 1 || o.V < 2 || o.threads < 1 || o.windows < 1 || !(o.seconds > 0))
        usage();
    rnnrt_blas_set_threads(o.threads);
    rnnrt_fpu_flush_denormals(1);
    const RnnrtModel *m = &BENCH_MODEL;
    RnnrtParams p;
    RnnrtError err;
    if (rnnrt_params_init(&p, m, o.V, &err)) {
        rnnrt_error_print(&err, "bench_lm");
        return 3;
    }
    RnnrtRng r;
    rnnrt_rng_init(&r, 0);
    rnnrt_params_randomize(&p, m, &r);

    if (o.gen_only) { /* A/B runs of generation alone */
        double cpu, gen = bench_generate(m, &p, &o, &cpu);
        printf("impl=rnnc\ngen_tok_s=%.0f\ngen_cpu_tok_s=%.0f\n", gen, cpu);
        rnnrt_params_free(&p);
        return 0;
    }
    double step_s, blas_step_s;
    int workers, blas_workers;
    double train = bench_train(m, &p, &o, 1, &step_s, &workers);
    double train_blas = o.threads > 1 ? bench_train(m, &p, &o, 0, &blas_step_s, &blas_workers) : train;
    double gen_cpu, gen = bench_generate(m, &p, &o, &gen_cpu); /* B = 1: OpenBLAS threads */

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("impl=rnnc\n");
    printf("train_tok_s=%.0f\n", train);
    printf("workers=%d\n", workers);
    printf("train_blas_tok_s=%.0f\n", train_blas);
    printf("gen_tok_s=%.0f\n", gen);
    printf("peak_rss_mb=%.1f\n", (double)ru.ru_maxrss / 1024.0);
    print_gemm_report(step_s);
    rnnrt_params_free(&p);
    return 0;
}
