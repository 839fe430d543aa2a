/*
 * bench_s2s.c: speed of one rnnc-generated seq2seq training step (S2S-ATT),
 * the rnnc half of bench/run.sh for that config (the PyTorch half is
 * bench/torch_s2s.py; both print the same key=value lines as bench_lm.c).
 *
 * Built by run.sh against the generated C of bench/specs/s2s_att.yaml
 * compiled with -DRNNC_NO_MAIN, with -DBENCH_MODEL=<name>_model, librnnrt
 * (float) and -Wl,--wrap=rnnrt_gemm (bench_gemm.h counts the step's GEMMs).
 *
 *   bench_s2s --B 64 --T 10 --V 2000 --threads 1 [--windows 7] [--seconds 1]
 *
 * Data: random token ids (fixed seed), drawn once, uniform over the ids
 * past the four specials of both vocabularies (V = V_src = V_tgt);
 * dec_in = <bos> + label[:-1] (teacher forcing); every source and target
 * length is T, so nothing is padded and every label counts. One step =
 * zero the gradient block, forward, backward, clip to the recipe's norm,
 * the recipe's optimizer (Adam, lr 0.005): what rnnrt_s2s_main's train
 * loop does per minibatch. Training tokens/s counts target (label) tokens,
 * B * T per step, as the trainer's train_tok_s. After a warm-up window it
 * runs `windows` windows of at least `seconds` each and reports the median,
 * and how the measured windows' time splits into forward (with zeroing
 * the gradients), backward and update (clip + optimizer).
 *
 * Threads: with N >= 2 the batch is split over N workers as the trainer's
 * --threads does (rnnrt_s2s_split.c; train_tok_s, workers=), and for
 * comparison the same step is also timed unsplit with OpenBLAS running N
 * threads (train_blas_tok_s). A split step's forward and backward run in
 * the workers together, so with workers > 1 forward_pct holds both and
 * backward_pct is 0.
 *
 * Generation (gen_tok_s): batch-1 greedy decoding through the model's
 * decoding entries, as the trainer's translate does it: per sentence (the
 * sources of the training batch in turn, T valid tokens) one encode, then
 * T steps from <bos>, each feeding back the argmax of its logits (no stop
 * at <eos>, so every sentence is T tokens on both sides). Tokens/s counts
 * those generated tokens, the encoder's time included; OpenBLAS runs
 * `threads` threads (one row cannot be split). Measured after the
 * training windows, on the parameters they trained.
 */
#include "bench_gemm.h"
#include "rnnrt_s2s.h"

#include <string.h>
#include <sys/resource.h>

extern const RnnrtS2sModel BENCH_MODEL;

typedef struct {
    int B, T, V, threads, windows;
    double seconds;
} Opts;

static size_t dim_of(int d, int V) { return (size_t)(d == RNNRT_DIM_V || d == RNNRT_DIM_VT ? V : d); }

/* One training step's buffers and the model's parameters and optimizer. */
typedef struct {
    const RnnrtS2sModel *m;
    size_t np;
    real *params, *grads, *work, *state;
    int32_t *src, *dec_in, *label, *src_len, *tgt_len;
    RnnrtOptim opt;
    RnnrtS2sCtx c;
    RnnrtS2sSplit *split; /* the workers while a split run is timed */
} Bench;

/* Parameters drawn as each descriptor says (the trainer's init), in
 * descriptor order from one RNG. */
static void params_init(Bench *b, int V, RnnrtRng *r)
{
    const RnnrtS2sModel *m = b->m;
    b->np = 0;
    for (int i = 0; i < m->nparams; i++) {
        size_t n = 1;
        for (int k = 0; k < m->params[i].ndim; k++)
            n *= dim_of(m->params[i].dims[k], V);
        b->np += n;
    }
    b->params = rnnrt_xcalloc(b->np, sizeof(real), "parameters");
    b->grads = rnnrt_xcalloc(b->np, sizeof(real), "gradients");
    real *x = b->params;
    for (int i = 0; i < m->nparams; i++) {
        const RnnrtParamDesc *d = &m->params[i];
        size_t n = 1;
        for (int k = 0; k < d->ndim; k++)
            n *= dim_of(d->dims[k], V);
        for (size_t j = 0; j < n && d->init != RNNRT_INIT_ZEROS; j++)
            x[j] = (real)(d->init == RNNRT_INIT_NORMAL ? d->init_arg * rnnrt_rng_normal(r)
                                                      : rnnrt_init_bound(d) * (2 * rnnrt_rng_uniform(r) - 1));
        x += n;
    }
}

static void bench_init(Bench *b, const RnnrtS2sModel *m, const Opts *o)
{
    int B = o->B, T = o->T, V = o->V;
    memset(b, 0, sizeof *b);
    b->m = m;
    RnnrtRng r;
    rnnrt_rng_init(&r, 0);
    params_init(b, V, &r);
    size_t nw = m->workspace(B, T, V, V);
    if (nw == 0) {
        fprintf(stderr, "bench_s2s: the workspace for B %d, T %d, V %d does not fit\n", B, T, V);
        exit(2);
    }
    b->work = rnnrt_xcalloc(nw, sizeof(real), "the workspace");
    b->state = rnnrt_xcalloc((size_t)B * (size_t)m->state_size + 1, sizeof(real), "initial states");
    size_t n = (size_t)B * (size_t)T;
    b->src = rnnrt_xcalloc(n, sizeof(int32_t), "sources");
    b->dec_in = rnnrt_xcalloc(n, sizeof(int32_t), "decoder inputs");
    b->label = rnnrt_xcalloc(n, sizeof(int32_t), "labels");
    b->src_len = rnnrt_xcalloc((size_t)B, sizeof(int32_t), "lengths");
    b->tgt_len = rnnrt_xcalloc((size_t)B, sizeof(int32_t), "lengths");
    rnnrt_rng_init(&r, 1);
    for (size_t i = 0; i < n; i++) { /* [T][B]: ids 4 .. V-1, no specials */
        b->src[i] = 4 + (int32_t)rnnrt_rng_below(&r, (uint64_t)(V - 4));
        b->label[i] = 4 + (int32_t)rnnrt_rng_below(&r, (uint64_t)(V - 4));
    }
    for (int i = 0; i < B; i++) {
        b->src_len[i] = b->tgt_len[i] = T;
        b->dec_in[i] = RNNRT_BOS;
    }
    memcpy(b->dec_in + B, b->label, (size_t)B * (size_t)(T - 1) * sizeof(int32_t));
    const RnnrtRecipe *rc = &m->recipe;
    RnnrtError err;
    if (rnnrt_optim_init(&b->opt, rc->optimizer, rc->momentum, rc->beta1, rc->beta2, rc->eps, b->np, &err)) {
        rnnrt_error_print(&err, "bench_s2s");
        exit(3);
    }
    b->c = (RnnrtS2sCtx){.B = B, .T = T, .V = V, .Vt = V, .params = b->params, .grads = b->grads,
                         .src = b->src, .dec_in = b->dec_in, .label = b->label, .src_len = b->src_len,
                         .tgt_len = b->tgt_len, .state_in = b->state, .work = b->work};
}

static void bench_free(Bench *b)
{
    rnnrt_optim_free(&b->opt);
    free(b->params), free(b->grads), free(b->work), free(b->state);
    free(b->src), free(b->dec_in), free(b->label), free(b->src_len), free(b->tgt_len);
}

/* Seconds spent in each phase of the steps since the last reset: zeroing
 * the gradients + forward, backward, clip + optimizer (a clock read costs
 * tens of ns against a step of ~100 ms). */
static double phase_s[3];

static void train_step(Bench *b)
{
    const RnnrtRecipe *r = &b->m->recipe;
    double t0 = rnnrt_now();
    memset(b->grads, 0, b->np * sizeof(real));
    double t1, t2;
    if (b->split) {
        rnnrt_s2s_run(b->m, b->split, &b->c, 1);
        t1 = t2 = rnnrt_now();
    } else {
        b->m->forward(&b->c);
        t1 = rnnrt_now();
        b->m->backward(&b->c);
        t2 = rnnrt_now();
    }
    if (r->clip_norm > 0)
        rnnrt_clip_grad_norm(b->grads, b->np, r->clip_norm);
    rnnrt_optim_step(&b->opt, b->params, b->grads, r->lr);
    double t3 = rnnrt_now();
    phase_s[0] += t1 - t0, phase_s[1] += t2 - t1, phase_s[2] += t3 - t2;
}

/* The unsplit step's GEMMs, once (the workers' are smaller); *loss0: its
 * loss (about ln V from a fresh init). */
static void count_gemms(Bench *b, double *loss0)
{
    counting = 1;
    train_step(b);
    counting = 0;
    *loss0 = b->c.loss;
}

/* Median target tokens/s over the windows; *step_s: seconds per step.
 * split: the batch over o->threads workers (*workers says how many), else
 * OpenBLAS threads. */
static double bench_train(Bench *b, const Opts *o, int split, double *step_s, int *workers)
{
    RnnrtError err;
    if (split) {
        if (rnnrt_s2s_split_new(&b->split, b->m, o->threads, o->B, o->T, o->V, o->V, b->np, b->work, &err)) {
            rnnrt_error_print(&err, "bench_s2s");
            exit(3);
        }
    } else {
        rnnrt_blas_set_threads(o->threads);
    }
    *workers = rnnrt_s2s_split_n(b->split);
    double *tps = calloc((size_t)o->windows + 1, sizeof *tps);
    for (int w = -1; w < o->windows; w++) { /* window -1 is the warm-up */
        long steps = 0;
        double t0 = rnnrt_now(), dt;
        do {
            train_step(b);
            steps++;
        } while ((dt = rnnrt_now() - t0) < o->seconds);
        if (w >= 0)
            tps[w] = (double)steps * o->B * o->T / dt;
        else
            phase_s[0] = phase_s[1] = phase_s[2] = 0; /* the phases of the measured windows */
    }
    double med = median(tps, o->windows);
    *step_s = (double)o->B * o->T / med;
    free(tps);
    rnnrt_s2s_split_free(b->split);
    b->split = NULL;
    return med;
}

static int argmax(const real *z, int V)
{
    int best = 0;
    for (int v = 1; v < V; v++)
        if (z[v] > z[best])
            best = v;
    return best;
}

/* Median generated tokens/s of batch-1 greedy decoding (see the top). */
static double bench_generate(Bench *b, const Opts *o)
{
    const RnnrtS2sModel *m = b->m;
    int T = o->T, V = o->V;
    if (!m->encode || !m->step) {
        fprintf(stderr, "bench_s2s: the model has no decoding entries (emitted by an older rnnc)\n");
        exit(2);
    }
    size_t nw = m->decode_workspace(1, T, V, V);
    real *work = rnnrt_xcalloc(nw + 1, sizeof(real), "the decoding workspace");
    real *s0 = rnnrt_xcalloc((size_t)m->dec_state_size + 1, sizeof(real), "decoder states");
    real *s1 = rnnrt_xcalloc((size_t)m->dec_state_size + 1, sizeof(real), "decoder states");
    int32_t *src = rnnrt_xcalloc((size_t)T, sizeof(int32_t), "a source"), len = T, prev = RNNRT_BOS;
    RnnrtS2sDecCtx dc = {.B = 1, .T = T, .V = V, .Vt = V, .params = b->params, .src = src, .src_len = &len,
                         .prev = &prev, .work = work};
    rnnrt_blas_set_threads(o->threads);
    double *tps = calloc((size_t)o->windows + 1, sizeof *tps);
    int row = 0;
    for (int w = -1; w < o->windows; w++) { /* window -1 is the warm-up */
        long n = 0;
        double t0 = rnnrt_now(), dt;
        do {
            for (int t = 0; t < T; t++) /* row `row` of the [T][B] sources */
                src[t] = b->src[(size_t)t * o->B + row];
            row = (row + 1) % o->B;
            dc.state_out = s0;
            m->encode(&dc);
            prev = RNNRT_BOS;
            for (int t = 0; t < T; t++, n++) {
                dc.state_in = s0;
                dc.state_out = s1;
                m->step(&dc);
                prev = argmax(dc.logits, V);
                real *x = s0;
                s0 = s1;
                s1 = x;
            }
        } while ((dt = rnnrt_now() - t0) < o->seconds / 2);
        if (w >= 0)
            tps[w] = (double)n / dt;
    }
    double med = median(tps, o->windows);
    free(tps), free(work), free(s0), free(s1), free(src);
    return med;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_s2s --B N --T N --V N [--threads N] [--windows N] [--seconds S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    Opts o = {64, 10, 2000, 1, 7, 1.0};
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
        else
            usage();
    }
    if (o.B < 1 || o.T < 2 || o.V < 5 || o.threads < 1 || o.windows < 1 || !(o.seconds > 0))
        usage();
    rnnrt_blas_set_threads(o.threads);
    rnnrt_fpu_flush_denormals(1);
    Bench b;
    bench_init(&b, &BENCH_MODEL, &o);
    double step_s, blas_step_s, loss0;
    int workers, blas_workers;
    count_gemms(&b, &loss0);
    double train_blas = o.threads > 1 ? bench_train(&b, &o, 0, &blas_step_s, &blas_workers) : 0;
    double train = bench_train(&b, &o, 1, &step_s, &workers); /* last: its phases are printed */
    if (o.threads <= 1)
        train_blas = train;
    double gen = bench_generate(&b, &o);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("impl=rnnc\n");
    printf("train_tok_s=%.0f\n", train);
    printf("workers=%d\n", workers);
    printf("train_blas_tok_s=%.0f\n", train_blas);
    printf("gen_tok_s=%.0f\n", gen);
    printf("first_loss=%.4f\n", loss0);
    printf("peak_rss_mb=%.1f\n", (double)ru.ru_maxrss / 1024.0);
    double all = phase_s[0] + phase_s[1] + phase_s[2];
    printf("step_ms=%.2f\n", 1e3 * step_s);
    printf("forward_pct=%.0f\nbackward_pct=%.0f\nupdate_pct=%.0f\n", 100 * phase_s[0] / all,
           100 * phase_s[1] / all, 100 * phase_s[2] / all);
    print_gemm_report(step_s);
    bench_free(&b);
    return 0;
}
