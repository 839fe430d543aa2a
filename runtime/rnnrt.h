/*
 * rnnrt.h: librnnrt, the runtime every rnnc-generated trainer links against.
 *
 * The generated C file holds the math of one model (forward and backward
 * passes, emitted from the spec's graph). Everything that is not specific to
 * one model lives here and is tested once: BLAS wrappers, tokenizers and
 * vocabularies, LM batching, optimizers, clipping, metrics, sampling,
 * checkpoints, the training loop with its progress line, and the CLI.
 *
 * One source, two builds: librnnrt.a with `real` = float, and librnnrt_d.a
 * built with -DRNNRT_DOUBLE (`real` = double) for gradient checks. The
 * generated file is compiled with the same macro as the library it links.
 *
 * The declarations come in seven parts: what generated code uses (the
 * model descriptor, kernels, inline helpers), then base, data, training,
 * language models, task heads and weight interchange, each naming the
 * runtime/ folder that implements it.
 *
 * Layouts (row-major everywhere):
 *   token ids x, y : [T][B]  (time-major), int32
 *   state          : B*S reals, S = model->state_size; the layout inside
 *                    is the model's (the generated file documents it); the
 *                    runtime only zeroes, copies and carries it.
 *   logits         : [T][B][V]
 *   parameters     : one block of reals; param i lives at params + offset[i]
 *                    and its gradient at grads + offset[i].
 */
#ifndef RNNRT_H
#define RNNRT_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* The public API (errors, exit codes, the handles of trained models). */
#include "rnnrt_api.h"
/* Output files: "-", symlinks, devices, atomic replace (rnnrt_out.c). */
#include "rnnrt_out.h"

#ifdef RNNRT_DOUBLE
typedef double real;
#define RNNRT_REAL_NAME "double"
#else
typedef float real;
#define RNNRT_REAL_NAME "float"
#endif

/* =====================================================================
 * Part 1. What generated code uses: the model descriptor, the kernels
 * and inline helpers the emitted forward and backward call, and the two
 * types (RNG, vocabulary) every part below builds on.
 * ================================================================== */

/* ---------------------------------------------------------------------
 * The model descriptor: what a generated file exports (one per model).
 * ------------------------------------------------------------------- */

/* A dimension of a parameter shape that is only known at run time. */
#define RNNRT_DIM_V (-1) /* vocabulary size, from the data */
#define RNNRT_DIM_L (-2) /* number of labels of a task head, from the data */

/* What a model predicts (RnnrtModel.task; 0 = the language model). */
typedef enum {
    RNNRT_TASK_LANGUAGE_MODEL, /* the next token at every step */
    RNNRT_TASK_LABELLING,      /* a label per step: y [T][B] in [0, L) */
    RNNRT_TASK_CLASSIFICATION  /* a label per sequence: y [B] in [0, L) */
} RnnrtTask;

/* How classification pools the states into one per sequence. The runtime
 * fills ctx.pool with the weights of the head and ctx.mask with each row's
 * valid steps; a head: last model reads its scans' final states, which the
 * mask stops at the last valid step, and ignores ctx.pool. */
typedef enum {
    RNNRT_HEAD_LAST, /* weight 1 at the last valid step */
    RNNRT_HEAD_MEAN  /* weight 1/len at each valid step */
} RnnrtHead;

typedef enum {
    RNNRT_INIT_UNIFORM, /* U(-arg, arg) */
    RNNRT_INIT_NORMAL,  /* N(0, arg^2) */
    RNNRT_INIT_ZEROS,
    RNNRT_INIT_UNIFORM_FAN /* U(-1/sqrt(arg), 1/sqrt(arg)): PyTorch's default for
                              arg inputs; the emitted table names arg (GRU_H) */
} RnnrtInit;

typedef struct {
    const char *name;   /* as in the spec: "W_hh" */
    int ndim;           /* 1 or 2 */
    int dims[2];        /* > 0, or RNNRT_DIM_V */
    RnnrtInit init;
    double init_arg;
    const char *where;  /* "specs/rnn.yaml:23", for messages */
} RnnrtParamDesc;

/* The training recipe as written in the spec; the CLI can override it. */
typedef struct {
    const char *tokens;    /* "char" | "word" | "whitespace" */
    const char *normalize; /* "none" | "letters" | "lower" */
    double split;          /* training fraction */
    int batch, steps, epochs;
    const char *sampler;   /* "sequential" | "random" */
    const char *bptt;      /* "full" | "truncated" | "randomized" */
    int bptt_k;            /* truncated: cut every k steps (0 = steps) */
    double bptt_p;         /* randomized: continue probability */
    const char *optimizer; /* "sgd" | "momentum" | "adam" (NULL = "sgd") */
    double lr, clip_norm;  /* clip_norm 0 = off */
    uint64_t seed;
    /* Optimizer hyperparameters; 0 means the default: momentum 0.9 for
     * "momentum"; beta1 0.9, beta2 0.999, eps 1e-8 for "adam" (PyTorch's). */
    double momentum, beta1, beta2, eps;
    int min_freq;          /* tokens rarer in the training split become
                              <unk>; 0 or 1 keeps every token */
    /* The learning-rate schedule (train.lr_schedule, rnnrt_sched.c):
     * NULL = "constant", "step", "plateau" or "cosine"; its numbers, 0 =
     * the default (RnnrtSchedOpts); train.warmup_steps and
     * train.weight_decay (rnnrt_optim_decay), 0 = none. */
    const char *lr_schedule;
    int lr_step, lr_patience;
    double lr_factor, lr_threshold, lr_min;
    int warmup_steps;
    double weight_decay;
    /* Data (issue 13, rnnrt_corpus.c): eos 1 ends every line with <eos>
     * (word and whitespace tokens); max_vocab > 0 caps the vocabulary,
     * specials included, at its most frequent tokens; valid and test name
     * the validation file (then the whole corpus trains and split is
     * unused) and the test file, NULL = none. */
    int eos, max_vocab;
    const char *valid, *test;
} RnnrtRecipe;

/* Everything a forward/backward call reads and writes. The driver fills the
 * inputs; the generated code never allocates. */
typedef struct {
    int B, T, V;
    const real *params; /* parameter block */
    real *grads;        /* gradient block, same layout; zeroed by the driver
                           before backward, which accumulates into it */
    const int32_t *x;   /* [T][B] input tokens */
    const int32_t *y;   /* [T][B] target tokens */
    const real *state_in; /* B*S reals: initial carried state */
    real *state_out;      /* B*S reals: final carried state (forward) */
    real *dstate_in;      /* B*S reals: gradient w.r.t. state_in (backward);
                             may be NULL when not wanted */
    const real *carry_scale; /* [T]: backward multiplies the state gradient
                                flowing from step t into step t-1 by
                                carry_scale[t] (truncation: 0 cuts it,
                                randomized truncation: 0 or 1/p). NULL = 1. */
    real *work;         /* workspace of model->workspace(B, T, V) reals */
    real *logits;       /* set by forward: points into work, [T][B][V] */
    double loss;        /* set by forward: mean cross-entropy over T*B */
    /* Dropout (network.dropout): the masks of a step are a pure function
     * of dropout_seed (see rnnrt_dropout_keep), so backward and the
     * reference interpreter see the forward's masks. train = 0 makes
     * dropout the identity (eval, sample); the trainer sets 1 and a fresh
     * seed per step, gradcheck and dump 1 and a fixed seed. */
    uint64_t dropout_seed;
    int train;
    /* A worker of the batch split (rnnrt_parallel.c) sees rows [row0,
     * row0 + B) of a minibatch of rows_all rows; dropout indexes its masks
     * by the whole minibatch's row, so the split does not change them.
     * rows_all 0 = this ctx is the whole minibatch. */
    int row0, rows_all;
    /* Task heads (issue #3); unused by language models. */
    int L;              /* labels; logits are [T][B][L] (labelling) or
                           [B][L] (classification), and so is the loss' mean */
    const real *pool;   /* classification: [T][B] pooling weights */
    const real *mask;   /* classification: [T][B] 1 on a row's valid steps,
                           0 on its padding (the scans keep the state there) */
} RnnrtCtx;

typedef struct RnnrtModel {
    const char *name;      /* spec's model: name */
    const char *spec_path; /* "specs/rnn.yaml" */
    uint64_t spec_hash;    /* FNV-1a of the spec bytes; stored in checkpoints */
    int nparams;
    const RnnrtParamDesc *params;
    int state_size;        /* S: reals of carried state per batch row */
    RnnrtRecipe recipe;
    /* reals of workspace needed for (B, T, V); 0 means the size overflowed */
    size_t (*workspace)(int B, int T, int V);
    void (*forward)(RnnrtCtx *c);  /* loss, logits, state_out; keeps what
                                      backward needs in c->work */
    void (*backward)(RnnrtCtx *c); /* grads (+=), dstate_in; call right after
                                      forward with the same ctx */
    int state_blocks;      /* the state is state_blocks blocks of
                              [B][S / state_blocks], one after the other (an
                              LSTM: h, then c); 0 = not said, and then the
                              runtime never splits the batch
                              (rnnrt_parallel.c) */
    /* Task heads (issue #3). A language model leaves these zero; a task
     * model has workspace NULL and sizes its workspace with workspace_l. */
    int task;              /* RnnrtTask */
    int head;              /* RnnrtHead (classification) */
    size_t (*workspace_l)(int B, int T, int V, int L);
    /* Generation (rnnrt_sample.c): forward without the loss, setting only
     * c->logits and state_out (same values as forward; nothing kept for
     * backward, c->loss untouched). NULL: use forward. */
    void (*step)(RnnrtCtx *c);
} RnnrtModel;

/* The trainer's main: parses argv (train | eval | sample | gradcheck | dump,
 * see --help) and runs the model. Generated files call it from main(). */
int rnnrt_main(int argc, char **argv, const RnnrtModel *m);

/* ---------------------------------------------------------------------
 * Kernels used by generated code.
 * ------------------------------------------------------------------- */

/* C = alpha * op(A) @ op(B) + beta * C, row-major; op(A) is M x K, op(B) is
 * K x N. ta/tb nonzero = transpose. lda/ldb/ldc are row strides. Calls
 * cblas_sgemm or cblas_dgemm. */
void rnnrt_gemm(int ta, int tb, int M, int N, int K, real alpha,
                const real *A, int lda, const real *B, int ldb, real beta,
                real *C, int ldc);

/* Mean cross-entropy of softmax(logits) against targets, over n rows of
 * width V. Returns the mean in double. */
double rnnrt_softmax_xent(const real *logits, const int32_t *targets, size_t n,
                          int V);

/* dlogits = g * (softmax(logits) - onehot(targets)) / n, for n rows. */
void rnnrt_softmax_xent_grad(const real *logits, const int32_t *targets,
                             size_t n, int V, real g, real *dlogits);

/* Dropout's mask: element i at mask site `site` is kept when a hash of
 * (seed, site, i) read as u in [0, 1) is >= rate. The hash is splitmix64's
 * finalizer over a counter, as in rnnc's interpreter (dropout_keep). */
static inline uint64_t rnnrt_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}
static inline int rnnrt_dropout_keep(uint64_t seed, int site, size_t i,
                                     double rate)
{
    const uint64_t golden = UINT64_C(0x9e3779b97f4a7c15);
    uint64_t key = rnnrt_mix64(seed + golden * ((uint64_t)(uint32_t)site + 1));
    uint64_t h = rnnrt_mix64(key + golden * ((uint64_t)i + 1));
    return (double)(h >> 11) * 0x1.0p-53 >= rate;
}
/* out[i] = in[i] * keep(i) / (1 - rate) when c->train, else in[i]. The
 * adjoint is the same call on the gradient. in == out is allowed. */
void rnnrt_dropout(const RnnrtCtx *c, const real *in, real *out, size_t n,
                   double rate, int site);

/* Scalar math in the precision of `real` (float builds call the f forms). */
#ifdef RNNRT_DOUBLE
#define rnnrt_tanh(x) tanh(x)
#define rnnrt_exp(x) exp(x)
#else
#define rnnrt_tanh(x) tanhf(x)
#define rnnrt_exp(x) expf(x)
#endif
static inline real rnnrt_sigmoid(real x) { return (real)1 / ((real)1 + rnnrt_exp(-x)); }

/* ---- inline helpers for the emitted code and the trainers ---- */

/* One buffer of an emitted model's workspace (its <model>_bufs table):
 * the field of the work struct it sets, its slot (buffers of one slot start
 * at one offset, their lifetimes do not overlap: pass_memplan.c; -1 = its
 * own storage, after the slots) and its size in reals: mult times the
 * run-time dims named in dims ("TB" = T * B; letters B, T, V, L and "Vt").
 * A packed weight (pack_mult > 0) takes rnnrt_packed_size(rows, cols) with
 * rows = dims * mult and cols = pack_dims * pack_mult. */
typedef struct {
    size_t field; /* offsetof(<model>_work, field) */
    int slot;
    const char *dims;
    long mult;
    const char *pack_dims;
    long pack_mult;
} RnnrtWorkBuf;

/* The run-time dims of a layout: dims[] = {B, T, V, L or Vt}. */
enum { RNNRT_LAYOUT_B, RNNRT_LAYOUT_T, RNNRT_LAYOUT_V, RNNRT_LAYOUT_X, RNNRT_LAYOUT_NDIMS };

/* Places the n buffers of table buf at base (NULL: only measures), setting
 * each field of work; slots in the order of their first buffer, each as
 * large as its largest buffer. Returns the number of reals, or 0 when a
 * dim is out of range (B, T in 1 .. 2^20, V, L, Vt in 1 .. 2^24; an
 * unused L/Vt is 0) or a buffer would exceed INT_MAX reals. */
size_t rnnrt_layout(void *work, real *base, const RnnrtWorkBuf *buf, int n, const int dims[RNNRT_LAYOUT_NDIMS]);

/* Points view[i] at parameter i of the block at base, laid out as
 * rnnrt_params_init does (table order, no padding; RNNRT_DIM_V is V,
 * RNNRT_DIM_L and RNNRT_DIM_VT are X): the emitted <model>_params_at. */
static inline void rnnrt_param_views(real **view, real *base, const RnnrtParamDesc *t, int n, int V, int X)
{
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++)
            numel *= (size_t)(t[i].dims[d] == RNNRT_DIM_V ? V : t[i].dims[d] == RNNRT_DIM_L ? X : t[i].dims[d]);
        view[i] = base;
        base += numel;
    }
}

/* The emitted code's row kernels (generated/X.c calls them, so a forward
 * reads as a list of calls). Each is the loop the emitter wrote before, in
 * the same order, so the results are the same bits. */

/* out [n, cols] = rows ids[i] of table [R, cols]; an id outside [0, R)
 * gives a row of zeros. */
static inline void rnnrt_gather_rows(real *out, const real *table, const int32_t *ids, size_t n, int R, size_t cols)
{
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= 0 && ids[i] < R)
            memcpy(out + i * cols, table + (size_t)ids[i] * cols, cols * sizeof(real));
        else
            memset(out + i * cols, 0, cols * sizeof(real));
    }
}

/* out [R, cols] = 0, then out row ids[i] += g row i for every i < n (ids
 * outside [0, R) skipped): the gradient of rnnrt_gather_rows. */
static inline void rnnrt_scatter_add_rows(real *out, const int32_t *ids, const real *g, size_t n, int R, size_t cols)
{
    memset(out, 0, (size_t)R * cols * sizeof(real));
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < R)
            for (size_t j = 0; j < cols; j++)
                out[(size_t)ids[i] * cols + j] += g[i * cols + j];
}

/* out [total] = x + b, b [cols] repeated over the rows of x. */
static inline void rnnrt_add_bias(real *out, const real *x, const real *b, size_t total, size_t cols)
{
    for (size_t r = 0; r < total / cols; r++)
        for (size_t j = 0; j < cols; j++)
            out[r * cols + j] = x[r * cols + j] + b[j];
}

/* out [cols] = the sum of the rows of x [total / cols, cols], row by row. */
static inline void rnnrt_sum_rows(real *out, const real *x, size_t total, size_t cols)
{
    memset(out, 0, cols * sizeof(real));
    for (size_t r = 0; r < total / cols; r++)
        for (size_t j = 0; j < cols; j++)
            out[j] += x[r * cols + j];
}

/* acc [n] += x. */
static inline void rnnrt_add_to(real *acc, const real *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += x[i];
}

/* The bound b of a uniform init U(-b, b), or the deviation of a normal one. */
static inline double rnnrt_init_bound(const RnnrtParamDesc *d)
{
    return d->init == RNNRT_INIT_UNIFORM_FAN ? 1.0 / sqrt(d->init_arg) : d->init_arg;
}

/* ---- the scan's GEMM against a pre-packed weight (rnnrt_gemm_packed.c) ----
 * Emitted scans pack each loop-invariant weight once
 * (rnnrt_pack_b, before the loop) and multiply by it every step
 * (rnnrt_gemm_packed): C[M,N] = A[M,K] @ op(B), op(B) = B [K,N] or, with
 * tb, B^T (B stored [N,K]); beta 0, alpha 1. packed holds
 * rnnrt_packed_size(K, N) reals (either orientation). packed NULL, the
 * double build, or no vector kernel for this CPU / OpenBLAS core: the same
 * product by rnnrt_gemm (B, ldb are always the unpacked weight). */
size_t rnnrt_packed_size(int rows, int cols);
void rnnrt_pack_b(int tb, int K, int N, const real *B, int ldb, real *packed);
void rnnrt_gemm_packed(int tb, int M, int N, int K, const real *A, int lda,
                       const real *B, int ldb, const real *packed, real *C,
                       int ldc);
/* "avx2", "avx512" or "blas": the kernel rnnrt_gemm_packed uses here. */
const char *rnnrt_gemm_packed_kernel(void);
/* Scans shorter than this many steps do not pack (the pack would cost more
 * than it saves; sampling runs T = 1). */
#define RNNRT_PACK_MIN_T 4

/* ---- elementwise kernels for emitted code (rnnrt_kernels.c) ----
 * Owned by the rnnc passes. y = f(x) over n
 * values (x == y allowed): libm in the double build, vectorizable
 * polynomials (a few float ulps) in the float build. */
void rnnrt_tanh_n(const real *x, real *y, size_t n);
void rnnrt_sigmoid_n(const real *x, real *y, size_t n);
/* The same functions one value at a time, for the fused loops rnnc emits
 * (pass_fuse): inline and branch-free, so a loop over them vectorizes;
 * rnnrt_tanh_n / rnnrt_sigmoid_n use them, so results are the same. */
#ifdef RNNRT_DOUBLE
static inline real rnnrt_tanh_fast(real x) { return tanh(x); }
static inline real rnnrt_sigmoid_fast(real x) { return 1 / (1 + exp(-x)); }
#else
/* rnnrt_exp_fast, rnnrt_tanh_fast, rnnrt_sigmoid_fast: one source with the
 * standalone files of rnnc --inference. */
#include "rnnrt_fastmath.h"
#endif

/* One row z[0..C) (C >= 1) of a softmax cross-entropy, for the masked loss
 * of seq2seq (emitted) and rnnrt_softmax_xent. rnnrt_xent_lse returns
 * logsumexp(z); rnnrt_xent_grad_row writes d[k] = scale * (softmax(z)[k] -
 * [k == target]) (a target outside [0, C) has no one-hot term). The double
 * build is libm in double, in the order interp.c adds; the float build
 * computes exp once per value with rnnrt_exp_fast, in float, and keeps the
 * exponentials in d for the normalization (issue #5). */
double rnnrt_xent_lse(const real *z, int C);
void rnnrt_xent_grad_row(const real *z, int C, int target, double scale, real *d);

/* ---------------------------------------------------------------------
 * Library pieces the driver is made of (also usable on their own).
 * ------------------------------------------------------------------- */

/* Deterministic RNG: xoshiro256** seeded through splitmix64. */
typedef struct { uint64_t s[4]; } RnnrtRng;
void rnnrt_rng_init(RnnrtRng *r, uint64_t seed);
uint64_t rnnrt_rng_next(RnnrtRng *r);
double rnnrt_rng_uniform(RnnrtRng *r);          /* [0, 1) */
double rnnrt_rng_normal(RnnrtRng *r);           /* N(0, 1) */
uint64_t rnnrt_rng_below(RnnrtRng *r, uint64_t n); /* [0, n), unbiased */

/* Text and vocabulary. Tokens of a char vocabulary are single UTF-8
 * characters (byte sequences); index 0 is "<unk>", then "<pad>", "<bos>",
 * "<eos>", then the corpus tokens by decreasing frequency, ties broken by
 * byte order. */
typedef struct {
    int size;
    char **tokens;   /* size strings */
    int64_t *counts; /* training-corpus count of each token */
    /* private lookup table follows */
    void *lookup;
} RnnrtVocab;

enum { RNNRT_UNK = 0, RNNRT_PAD = 1, RNNRT_BOS = 2, RNNRT_EOS = 3 };

/* =====================================================================
 * Part 2. Base: errors and allocation, command lines, files, signals,
 * the progress line, random draws, BLAS threads (runtime/base/).
 * ================================================================== */

/* ---- errors, allocation, numbers (rnnrt_util.c) ----
 * Library functions report a failure by returning an RNNRT_EXIT_* code and
 * filling an RnnrtError; only rnnrt_main prints it and turns it into the
 * process exit status. The one exception is running out of memory:
 * rnnrt_xcalloc prints the byte count and the site and exits 3 (as llm.c's
 * mallocCheck), because every allocation happens before training starts;
 * the C API runs its allocations under rnnrt_alloc_guard, which turns that
 * into a returned 3. */
/* RnnrtError and the RNNRT_EXIT_* codes are in rnnrt_api.h. */
int rnnrt_error(RnnrtError *e, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ; /* fills e (if not NULL), returns code */
int rnnrt_error_at(RnnrtError *e, int code, const char *where,
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* rnnrt_error_print is in rnnrt_api.h. */

/* calloc of n * size bytes (checked); on failure prints the size and
 * `what` and exits 3, or inside rnnrt_alloc_guard returns 3 from it. */
void *rnnrt_xcalloc(size_t n, size_t size, const char *what);
/* The one report of an allocation that failed (or whose size overflows):
 * exit 3 with the message, or inside a guard back to it. */
_Noreturn void rnnrt_out_of_memory(const char *what, size_t bytes,
                                   int overflows);
/* Runs fn(arg, err) so that running out of memory returns instead of
 * exiting: rnnrt_out_of_memory fills err ("out of memory allocating N
 * bytes for WHAT") and the guard returns RNNRT_EXIT_IO; otherwise fn's
 * result. fn's caller then frees what fn attached to its handle (the
 * buffers of the one call that was allocating are not freed). Per thread,
 * nestable. The C API's opens run in one: the library never exits there. */
int rnnrt_alloc_guard(int (*fn)(void *arg, RnnrtError *err), void *arg,
                      RnnrtError *err);
/* For tests: the n-th allocation from now that goes through rnnrt_xcalloc
 * (or checks rnnrt_alloc_injected) fails; 0 turns it off. Returns how many
 * allocations the previous setting still had to go (0: it fired, or was
 * off). Per thread. */
long rnnrt_alloc_fail_after(long n);
int rnnrt_alloc_injected(void); /* 1 when this allocation is to fail */
/* *out = a * b; returns 0, or -1 when it overflows size_t. */
int rnnrt_size_mul(size_t a, size_t b, size_t *out);

/* Strict parsing: the whole string must be a number in [min, max]
 * (decimal integers; doubles must be finite). Return 0 or -1. */
int rnnrt_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int rnnrt_parse_u64(const char *s, uint64_t *out);
int rnnrt_parse_double(const char *s, double min, double max, double *out);

/* ---- command lines (rnnrt_cli.c) ----
 * A command's options are a table ended by {0}; each dst holds the default
 * and receives the value. min/max bound numbers (min DBL_MIN: > 0). */
typedef enum {
    RNNRT_OPT_INT,    /* int */
    RNNRT_OPT_I64,    /* int64_t */
    RNNRT_OPT_U64,    /* uint64_t, any */
    RNNRT_OPT_DOUBLE, /* double */
    RNNRT_OPT_STR,    /* const char *, pointing into argv */
    RNNRT_OPT_FLAG    /* int, set to 1; takes no value */
} RnnrtOptType;

typedef struct {
    const char *name; /* "--epochs" */
    RnnrtOptType type;
    void *dst;
    const char *arg;  /* "N" in the help; NULL for flags */
    const char *help;
    double min, max;  /* for numbers */
} RnnrtOpt;

#define RNNRT_HELP_SHOWN (-1)
/* Parses argv[1..argc) for the command argv[0]. Returns 0,
 * RNNRT_HELP_SHOWN (usage printed to stdout) or RNNRT_EXIT_USAGE (message
 * and usage printed to stderr). */
int rnnrt_cli_parse(int argc, char **argv, const char *prog,
                    const char *summary, const RnnrtOpt *opts);
/* The same, also marking given[i] = 1 for each opts[i] on the command
 * line (given: one per option, zeroed by the caller). */
int rnnrt_cli_parse_given(int argc, char **argv, const char *prog,
                          const char *summary, const RnnrtOpt *opts,
                          unsigned char *given);
/* The same for a command with one optional leading positional argument
 * ("export CKPT -o FILE"): *pos is it, or NULL. In every parse, "-o" is
 * "--out" where the table has --out. */
int rnnrt_cli_parse_pos(int argc, char **argv, const char *prog,
                        const char *summary, const RnnrtOpt *opts,
                        const char **pos);
/* Whether the option called name was marked in given. */
int rnnrt_cli_given(const RnnrtOpt *opts, const unsigned char *given,
                    const char *name);
void rnnrt_cli_usage(FILE *f, const char *prog, const char *cmd,
                     const char *summary, const RnnrtOpt *opts);
/* Prints err when rc != 0 (and a pointer to --help for usage errors),
 * then flushes stdout: when rc is 0, a failed write there is reported and
 * returned as RNNRT_EXIT_IO. Returns rc. */
int rnnrt_cli_report(int rc, const RnnrtError *err, const char *prog,
                     const char *cmd);
/* The program name: argv[0] without its directory, or fallback. */
const char *rnnrt_cli_prog(int argc, char **argv, const char *fallback);
/* `TRAINER --version`: when argv[1] is --version, prints the trainer's
 * model, spec and the runtime's version and precision to stdout and
 * returns 1 (the caller exits 0); otherwise returns 0. */
int rnnrt_cli_version(int argc, char **argv, const char *prog,
                      const char *model, const char *spec_path);

/* FNV-1a over data, continuing from h (start with RNNRT_FNV_INIT). */
#define RNNRT_FNV_INIT 14695981039346656037ull
uint64_t rnnrt_fnv1a(uint64_t h, const void *data, size_t n);
double rnnrt_now(void); /* monotonic seconds */

/* ---- binary files and atomic saves (rnnrt_file.c) ----
 * Shared by checkpoints, n-gram model files and attention plots. */

uint32_t rnnrt_crc32(uint32_t crc, const void *data, size_t n); /* crc0 = 0 */

/* A growing byte buffer; native byte order. Zero-initialize it; what names
 * the file for the out-of-memory message ("a checkpoint"), which exits
 * with RNNRT_EXIT_IO (rnnrt_out_of_memory: under a guard, returns it). */
typedef struct {
    unsigned char *p;
    size_t n, cap;
    const char *what;
} RnnrtBuf;

void rnnrt_buf_put(RnnrtBuf *b, const void *data, size_t n);
void rnnrt_buf_put_u32(RnnrtBuf *b, uint32_t v);
void rnnrt_buf_put_u64(RnnrtBuf *b, uint64_t v);
void rnnrt_buf_put_i64(RnnrtBuf *b, int64_t v);
void rnnrt_buf_put_f64(RnnrtBuf *b, double v);
void rnnrt_buf_put_str(RnnrtBuf *b, const char *s); /* u32 length, bytes */
/* A section's frame: char name[8] (zero-padded), u64 n, u32 CRC32 of
 * data[0..n), u32 zero; put_section appends the data after it. */
void rnnrt_buf_put_frame(RnnrtBuf *b, const char *name, const void *data,
                         size_t n);
void rnnrt_buf_put_section(RnnrtBuf *b, const char *name, const void *data,
                           size_t n);
void rnnrt_buf_free(RnnrtBuf *b);

/* A bounds-checked cursor over a payload: a read past the end sets bad
 * and yields zeros (and "" for strings). */
typedef struct {
    const unsigned char *p;
    size_t n, pos;
    int bad;
} RnnrtReader;

void rnnrt_reader_get(RnnrtReader *r, void *out, size_t n);
uint32_t rnnrt_reader_u32(RnnrtReader *r);
uint64_t rnnrt_reader_u64(RnnrtReader *r);
int64_t rnnrt_reader_i64(RnnrtReader *r);
double rnnrt_reader_f64(RnnrtReader *r);
/* A u32-length-prefixed string, pointing into the payload (not
 * NUL-terminated). */
const char *rnnrt_reader_str(RnnrtReader *r, size_t *len);

/* Saves: rnnrt_out_save (rnnrt_out.h: "-" is stdout, symlinks followed,
 * regular files replaced atomically through "<target>.tmp", devices and
 * FIFOs written in place), for every file the runtime writes. Returns 0
 * or an errno value and sets *stage to where it failed, for the caller's
 * message; on failure the tmp file is gone and an older path is unchanged
 * (a failed directory sync happens after the rename).
 * Test hook: with RNNRT_TEST_STOP_IN_SAVE set in the environment, the save
 * raises SIGINT twice (SIGTERM when the value is TERM) once the bytes are
 * in the tmp file and before it is renamed: the double signal of
 * rnnrt_signal.c, deterministically. */
int rnnrt_file_save(const char *path, RnnrtWriteFn write, void *ctx,
                    RnnrtSaveStage *stage);
/* An RnnrtWriteFn writing the RnnrtBuf ctx. */
int rnnrt_file_write_buf(FILE *f, void *buf);
/* Removes a stale "<target>.tmp" left by a killed save. Exit 3 on failure. */
int rnnrt_file_remove_stale(const char *path, RnnrtError *err);

/* ---- signals and the FPU (rnnrt_signal.c, rnnrt_fpu.c) ----
 * The SIGINT/SIGTERM handler only records the signal; loops poll
 * rnnrt_signal_pending() at step boundaries. A second signal _Exit()s at
 * once with RNNRT_EXIT_ABORTED (75), removing the tmp file of a save in
 * progress and leaving the other files on disk as they were. */
void rnnrt_signal_install(void);
void rnnrt_signal_restore(void);
int rnnrt_signal_pending(void); /* 0, SIGINT or SIGTERM */
/* The exit code for a pending signal: RNNRT_EXIT_SIGINT (130) or
 * RNNRT_EXIT_SIGTERM (143); 0 for no signal. */
int rnnrt_signal_exit_code(int sig);
void rnnrt_signal_clear(void);  /* for tests */
/* Flush-to-zero and denormals-are-zero (MXCSR) on x86 with SSE2, for the
 * calling thread; a no-op elsewhere. Returns 1 when the mode was set. */
int rnnrt_fpu_flush_denormals(int on);
/* Flush denormals until rnnrt_fpu_leave restores the mode enter returned
 * (the C API runs each call so, as the trainer runs eval and sample). */
unsigned int rnnrt_fpu_enter(void);
void rnnrt_fpu_leave(unsigned int saved);

/* ---- progress line (rnnrt_progress.c) ---- */
typedef struct {
    FILE *f;
    int tty, quiet, shown;
    double t_start, t_last;
    double interval; /* seconds between updates */
} RnnrtProgress;

void rnnrt_progress_init(RnnrtProgress *p, FILE *f, int quiet);
/* steps_left_total: optimizer steps left in the whole run (for the ETA). */
void rnnrt_progress_update(RnnrtProgress *p, int epoch, int epochs,
                           size_t batch, size_t nbatches, double loss,
                           double avg_loss, double tok_s,
                           double eta_seconds);
void rnnrt_progress_clear(RnnrtProgress *p); /* before printing a line */

/* ---- RNG: more draws (rnnrt_rng.c) ---- */
/* Fills the n reals of p with U(lo, hi), in order. */
void rnnrt_rng_fill_uniform(RnnrtRng *r, real *p, size_t n, double lo,
                            double hi);

/* ---- BLAS (rnnrt_blas.c) ---- */
/* n <= 0 leaves OpenBLAS's default (OPENBLAS_NUM_THREADS or all cores). */
void rnnrt_blas_set_threads(int n);

/* =====================================================================
 * Part 3. Data: text, words, vocabularies, corpora, batching
 * (runtime/data/).
 * ================================================================== */

/* ---- text (rnnrt_text.c) ----
 * Normalizations (the recipe's `normalize`):
 *   "none"    text unchanged
 *   "lower"   ASCII A-Z lowered; every other byte unchanged
 *   "letters" the d2l recipe, exactly re.sub("[^a-z]+", " ",
 *             text.lower()).strip() in Python: lowercase, every run of
 *             characters other than a-z becomes one space, no space at
 *             either end. Python's lower() maps two non-ASCII characters to
 *             ASCII letters (U+0130 -> "i" + U+0307, U+212A KELVIN SIGN ->
 *             "k"); they are mapped the same way here. */
typedef enum {
    RNNRT_NORM_NONE,
    RNNRT_NORM_LOWER,
    RNNRT_NORM_LETTERS
} RnnrtNorm;

#define RNNRT_MAX_CORPUS_BYTES ((size_t)1 << 30) /* 1 GiB */

/* Reads a whole file (at most max_bytes) into a NUL-terminated buffer.
 * Errors: path + strerror, or the size limit; exit code 3. */
int rnnrt_file_read(const char *path, size_t max_bytes, char **data,
                    size_t *len, RnnrtError *err);
/* The default corpus: every regular file (symlinks skipped) directly in dir,
 * sorted by name (byte order), joined with "\n". */
#define RNNRT_DEFAULT_CORPUS_DIR "/usr/share/common-licenses"
int rnnrt_text_read_dir(const char *dir, char **data, size_t *len,
                        RnnrtError *err);
int rnnrt_norm_parse(const char *name, RnnrtNorm *out); /* 0 or -1 */
/* Normalizes text in place (never grows); returns the new length. */
size_t rnnrt_text_normalize(char *text, size_t len, RnnrtNorm mode);
/* The next line of in into *line (grown with getline), its length without
 * the "\n" or "\r\n" in *len; 0 at the end of the input. */
int rnnrt_read_line(FILE *in, char **line, size_t *cap, size_t *len);

/* Checks that text is valid UTF-8 (no overlongs, surrogates or code points
 * above U+10FFFF) and, unless allow_nul, holds no NUL byte. The error names
 * the first bad byte as path:line:col (1-based; col counts bytes) and its
 * byte offset; exit code 1. */
int rnnrt_utf8_check(const char *text, size_t len, const char *path,
                     int allow_nul, RnnrtError *err);
/* Length in bytes of the UTF-8 character whose first byte is lead. */
int rnnrt_utf8_len(unsigned char lead);
size_t rnnrt_utf8_count(const char *text, size_t len); /* characters */

/* ---- words (rnnrt_words.c) ----
 * The word tokenizer of `tokens: word`, one rule for the neural models and
 * the n-gram baseline. On valid UTF-8 text (rnnrt_utf8_check), after the
 * recipe's normalization:
 *
 *  1. Lowercase (rnnrt_words_lower, in place, lengths unchanged): A-Z and
 *     the Latin-1 capitals U+00C0..U+00DE except U+00D7 become small
 *     letters. Other scripts are left as they are.
 *  2. Separators end a token and are dropped: Unicode White_Space (U+0009..
 *     U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028,
 *     U+2029, U+202F, U+205F, U+3000) and the other ASCII control
 *     characters (U+0000..U+001F, U+007F).
 *  3. Punctuation characters are tokens of their own: every printable ASCII
 *     character that is not a letter or a digit (so "_" too), U+00A1..U+00BF
 *     except the letters U+00AA, U+00B5, U+00BA, the signs U+00D7 and
 *     U+00F7, and U+2010..U+2027 and U+2030..U+205E (dashes, quotes,
 *     ellipsis, ...). An apostrophe (' or U+2019) with a word character on
 *     both sides is part of the word instead: "don't", "o'clock".
 *  4. Every other character (ASCII letters and digits, all other non-ASCII
 *     characters) is a word character; a word is a maximal run of them,
 *     with the inner apostrophes of rule 3.
 *
 *  5. The five bytes "<unk>" are one token wherever they stand (before
 *     rules 2-4), so a corpus that writes its unknown words as <unk> keeps
 *     them whole; the vocabulary reads that token as RNNRT_UNK.
 *
 * So "Don't stop--now, café!" is: don't stop - - now , café !
 * Bytes that are not valid UTF-8 (never passed by the corpus loader) count
 * as word characters, one byte each.
 *
 * `tokens: whitespace` (rnnrt_words_split_ws) keeps tokens as written: a
 * token is a maximal run of characters that are not separators (rule 2),
 * nothing is lowercased or split off, so "<unk>", "don't" and "N.Y." stay
 * whole. A token of length 0 stands for <eos> (rnnrt_tokens_split). */
typedef struct {
    size_t off, len; /* bytes of the text; len 0 = <eos> */
} RnnrtToken;

void rnnrt_words_lower(char *text, size_t len);
/* Splits text into tokens; writes at most max of them to out (out may be
 * NULL) and returns how many there are. */
size_t rnnrt_words_split(const char *text, size_t len, RnnrtToken *out,
                         size_t max);
size_t rnnrt_words_split_ws(const char *text, size_t len, RnnrtToken *out,
                            size_t max);
/* A recipe's `tokens` as RNNRT_TOKENS_*; -1 when unknown. */
enum { RNNRT_TOKENS_CHAR, RNNRT_TOKENS_WORD, RNNRT_TOKENS_WHITESPACE };
int rnnrt_tokens_kind(const char *tokens);
/* Splits text (lowercased by the caller for word tokens) by kind (word or
 * whitespace) as the functions above do; with eos, a token {off, 0}
 * (<eos>) follows every line: each "\n", and the end of a last line that
 * has no "\n" and is not empty, as Python's `for line in f` sees lines. */
size_t rnnrt_tokens_split(int kind, int eos, const char *text, size_t len,
                          RnnrtToken *out, size_t max);

/* ---- vocabulary (rnnrt_vocab.c) ----
 * rnnrt_vocab_init makes the four special tokens; rnnrt_vocab_add appends.
 * Tokens never contain NUL (rnnrt_utf8_check refuses NUL for char
 * vocabularies), so tokens[i] is a C string. */
void rnnrt_vocab_init(RnnrtVocab *v);
void rnnrt_vocab_free(RnnrtVocab *v);
/* A vocabulary without the four special tokens (label sets). */
void rnnrt_vocab_init_empty(RnnrtVocab *v);
/* Appends a token; returns its id, or -1 when it is already present. */
int rnnrt_vocab_add(RnnrtVocab *v, const char *tok, size_t len, int64_t count);
int rnnrt_vocab_find(const RnnrtVocab *v, const char *tok, size_t len); /* -1 */
/* Builds a char vocabulary from (valid UTF-8) training text: specials, then
 * characters by decreasing count, ties by byte order. */
void rnnrt_vocab_build_chars(RnnrtVocab *v, const char *text, size_t len);
/* Encodes at most max chars of text into ids; characters not in v become
 * RNNRT_UNK and are counted in *nunk. Returns the number of ids written. */
size_t rnnrt_vocab_encode_chars(const RnnrtVocab *v, const char *text,
                                size_t len, int32_t *ids, size_t max,
                                size_t *nunk);

/* ---- vocabularies of words, min_freq (rnnrt_vocab.c) ---- */
/* Specials, then the distinct tokens of text[tok[i]] seen at least min_freq
 * times (min_freq <= 1: all), by decreasing count, ties in byte order.
 * Returns the number of distinct tokens before min_freq. The specials
 * themselves (<eos> tokens of length 0, a literal "<unk>") are counted in
 * counts[0..3], not added twice. */
size_t rnnrt_vocab_build_words(RnnrtVocab *v, const char *text,
                               const RnnrtToken *tok, size_t n, int min_freq);
/* ids[i] = id of token i, RNNRT_UNK (counted in *nunk) when missing;
 * a token of length 0 is RNNRT_EOS. (A literal "<unk>" is found, as id
 * RNNRT_UNK, and not counted.) */
void rnnrt_vocab_encode_words(const RnnrtVocab *v, const char *text,
                              const RnnrtToken *tok, size_t n, int32_t *ids,
                              size_t *nunk);
/* Removes the non-special tokens counted fewer than min_freq times,
 * keeping the order of the rest. Returns how many were removed. */
int rnnrt_vocab_prune(RnnrtVocab *v, int min_freq);
/* Keeps the first max ids (specials included: max >= 4), i.e. the max - 4
 * most frequent tokens. Returns how many were removed. */
int rnnrt_vocab_cap(RnnrtVocab *v, int max);

/* ---- corpus: file -> normalized text -> ids -> train/valid (rnnrt_corpus.c)
 * tokens is "char" or "word" (see rnnrt_corpus_load_recipe below; this
 * form keeps every token, min_freq 1). The split is by tokens of the
 * normalized stream: ntrain = floor(n * split). */
typedef struct {
    RnnrtVocab vocab;
    int32_t *ids;      /* n token ids; train = [0, ntrain), valid = the rest */
    size_t n, ntrain;
    size_t unk_train;  /* tokens mapped to <unk> (only with a given vocab) */
    size_t unk_valid;
    uint64_t hash;     /* FNV-1a of the raw corpus bytes (and then of the
                          validation file's, when there is one) */
    int32_t *test;     /* the test file's ntest ids (recipe.test), or NULL */
    size_t ntest, unk_test;
} RnnrtCorpus;

/* path NULL = the default corpus. vocab NULL: build the vocabulary from the
 * training split; otherwise copy vocab and encode with it (eval, resume). */
int rnnrt_corpus_load(RnnrtCorpus *c, const char *path, const char *tokens,
                      const char *normalize, double split,
                      const RnnrtVocab *vocab, RnnrtError *err);
void rnnrt_corpus_free(RnnrtCorpus *c);

/* ---- corpus from a recipe (rnnrt_corpus.c) ----
 * rnnrt_corpus_load with the recipe's tokens ("char" or "word"),
 * normalize, split and min_freq. `tokens: word` runs: UTF-8 check ->
 * normalize -> rnnrt_words_lower -> rnnrt_words_split -> split by tokens
 * (first floor(n * split) train) -> vocabulary from the training tokens
 * (min_freq) -> ids. A min_freq that leaves no corpus token in the
 * vocabulary is an error (exit 1). */
int rnnrt_corpus_load_recipe(RnnrtCorpus *c, const char *path,
                             const RnnrtRecipe *r, const RnnrtVocab *vocab,
                             RnnrtError *err);

/* ---- LM batching (rnnrt_batch.c) ----
 * Sequential (d2l/reference partition()): nc = (len-1)/B columns; stream b
 * is ids[b*nc .. b*nc+nc), targets shifted by one; minibatch i is columns
 * [i*T, min((i+1)*T, nc)), so the last one may be shorter than T. State is
 * carried between minibatches.
 * Random (d2l seq_data_iter_random): per epoch a random offset in [0, T),
 * subsequences of length T from there, shuffled, B per minibatch, the
 * partial minibatch dropped; state starts at zero for every minibatch.
 * x and y are written time-major: x[t*B + b]. */
typedef enum { RNNRT_SAMPLER_SEQUENTIAL, RNNRT_SAMPLER_RANDOM } RnnrtSampler;

typedef struct {
    RnnrtSampler kind;
    const int32_t *ids;
    size_t len;
    int B, T;
    size_t nc;       /* sequential: columns per stream */
    size_t offset;   /* random: this epoch's offset */
    size_t nsub;     /* random: subsequences this epoch */
    size_t *starts;  /* random: shuffled subsequence starts */
    size_t nbatches; /* minibatches per epoch */
} RnnrtBatcher;

int rnnrt_sampler_parse(const char *name, RnnrtSampler *out); /* 0 or -1 */
/* Fewest tokens for which every epoch has at least one minibatch. */
size_t rnnrt_batcher_min_tokens(RnnrtSampler kind, int B, int T);
void rnnrt_batcher_init(RnnrtBatcher *b, RnnrtSampler kind,
                        const int32_t *ids, size_t len, int B, int T);
/* Starts an epoch (random: draws the offset and the shuffle from r). */
void rnnrt_batcher_epoch(RnnrtBatcher *b, RnnrtRng *r);
/* Fills minibatch i; returns its T. */
int rnnrt_batcher_get(const RnnrtBatcher *b, size_t i, int32_t *x, int32_t *y);
void rnnrt_batcher_free(RnnrtBatcher *b);

/* =====================================================================
 * Part 4. Training, for every task: parameters and buffers, the batch
 * split over threads and MPI ranks, optimizers, schedules, checkpoints,
 * the driver and its options, checks (runtime/train/).
 * ================================================================== */

/* ---- parameters and call buffers (rnnrt_model.c) ----
 * The block holds the parameters packed in descriptor order with no padding:
 * offset[0] = 0, offset[i+1] = offset[i] + numel(i), RNNRT_DIM_V resolved to
 * V. rnnrt_params_randomize draws from one RNG in descriptor order, each
 * parameter row-major: uniform = U(-arg, arg), normal = arg * N(0,1), zeros
 * draws nothing. */
typedef struct {
    int n;
    int (*dims)[2]; /* resolved; ndim 1 has dims[i][1] == 1 */
    size_t *offset, *numel;
    size_t total;
    real *params, *grads; /* total reals each, zeroed */
} RnnrtParams;

int rnnrt_params_init(RnnrtParams *p, const RnnrtModel *m, int V,
                      RnnrtError *err);
void rnnrt_params_randomize(RnnrtParams *p, const RnnrtModel *m, RnnrtRng *r);
void rnnrt_params_free(RnnrtParams *p);
/* Name of the parameter holding element k of the block ("" if none). */
const char *rnnrt_params_owner(const RnnrtParams *p, const RnnrtModel *m,
                               size_t k, size_t *index);
/* The same on a descriptor table of nparams entries, for any model (the
 * seq2seq trainer's too): RNNRT_DIM_V resolves to V, RNNRT_DIM_L (which is
 * also RNNRT_DIM_VT, the target vocabulary) to L. The RnnrtModel forms
 * above pass m->params. */
int rnnrt_params_init_table(RnnrtParams *p, const RnnrtParamDesc *desc,
                            int nparams, int V, int L, RnnrtError *err);
void rnnrt_params_draw(RnnrtParams *p, const RnnrtParamDesc *desc,
                       RnnrtRng *r);
const char *rnnrt_params_name(const RnnrtParams *p,
                              const RnnrtParamDesc *desc, size_t k,
                              size_t *index);

/* Everything one forward/backward call needs, for up to B x T. ctx points at
 * the buffers; set ctx.T per call. The workspace is sized for (B, T, V) and
 * used for every T' <= T. */
typedef struct {
    RnnrtCtx ctx;
    int B, T, V, S;
    int32_t *x, *y;                  /* [T][B] */
    real *state_in, *state_out, *dstate; /* [B][S] */
    real *carry;                     /* [T] */
    real *work;
    struct RnnrtPool *workers;       /* batch-split workers
                                        (rnnrt_buffers_split), or NULL;
                                        freed by rnnrt_buffers_free */
    int L;                           /* labels of a task head (else 0) */
    real *pool;                      /* [T][B] pooling weights (ctx.pool
                                        for classification) */
    real *mask;                      /* [T][B] valid-step mask (ctx.mask
                                        for classification) */
} RnnrtBuffers;

int rnnrt_buffers_init(RnnrtBuffers *b, const RnnrtModel *m,
                       const RnnrtParams *p, int B, int T, int V,
                       RnnrtError *err);
void rnnrt_buffers_free(RnnrtBuffers *b);

/* ---- batch-split threads (rnnrt_parallel.c) ----
 * `--threads N` with N >= 2 splits each minibatch's rows over N workers
 * (the caller and N - 1 persistent threads), each running the model's
 * forward/backward on its rows with OpenBLAS pinned to 1 thread; the
 * losses and gradients are combined with weights rows_i / B in worker
 * order, so results are deterministic for a given N. */
typedef struct RnnrtPool RnnrtPool;
/* How many workers rnnrt_buffers_split uses for threads and B: min(threads,
 * B), or 1 when threads <= 1 or the model's state_blocks is unknown. */
int rnnrt_split_workers(const RnnrtModel *m, int threads, int B);
/* Sets up b (and OpenBLAS) for `threads`: with one worker it only sets
 * OpenBLAS's thread count (rnnrt_blas_set_threads, 0 = its default), as
 * before; otherwise OpenBLAS gets 1 thread and b->workers the workers, whose
 * gradients have p's layout. Exit 3 when a thread cannot be started. */
int rnnrt_buffers_split(RnnrtBuffers *b, const RnnrtModel *m,
                        const RnnrtParams *p, int threads, RnnrtError *err);
/* m->forward (and m->backward when `backward`) on b->ctx, split over
 * b->workers when there is one: loss, state_out, grads (+=) and dstate_in as
 * the plain calls give them; ctx.logits is NULL after a split call. */
void rnnrt_model_run(const RnnrtModel *m, RnnrtBuffers *b, int backward);
/* A task head's forward as rnnrt_model_run's (split the same way) for
 * scoring: returns how many predictions (labelling: T x B, classification:
 * B) have argmax(logits) == their label, each part counting its own rows
 * when split. Over MPI ranks the loss and the count are summed over the
 * ranks (every rank calls it for the same minibatches). */
size_t rnnrt_model_score(const RnnrtModel *m, RnnrtBuffers *b);
/* Those predictions of one call's logits, c->y the labels. */
size_t rnnrt_count_correct(const RnnrtCtx *c, RnnrtTask task);
int rnnrt_buffers_workers(const RnnrtBuffers *b); /* 1 when not split */
/* rnnrt_buffers_split for a trainer run over MPI ranks: b's forward and
 * backward compute only this rank's rows of the B (rnnrt_mpi_rows), over
 * `threads` workers, with weights rows_i / B, so the minibatch's loss and
 * gradients are the sum over ranks (rnnrt_mpi_sum, in the driver). Exit 2
 * when B is smaller than the ranks or the model's state cannot be split. */
int rnnrt_buffers_split_ranks(RnnrtBuffers *b, const RnnrtModel *m,
                              const RnnrtParams *p, int threads,
                              RnnrtError *err);
/* The MPI ranks b's rows are split over (1: not split). */
int rnnrt_buffers_ranks(const RnnrtBuffers *b);
/* Every rank's rows of the [blocks][B][S / blocks] state `state` (b's
 * carried state) to every rank: before a save, the whole state. */
void rnnrt_buffers_share_state(const RnnrtBuffers *b, real *state);

/* ---- MPI ranks (rnnrt_mpi.c) ----
 * Started only under a launcher with N > 1 processes; otherwise rank 0 of
 * 1 and every call below is a no-op. Collectives: every rank calls them in
 * the same order. */
int rnnrt_mpi_launched(void);          /* the launcher's N, else 1 */
int rnnrt_mpi_start(RnnrtError *err);  /* MPI_Init when launched */
/* Barrier + MPI_Finalize for rc 0, 130, 143 (agreed by all ranks), else
 * MPI_Abort(rc): a failure that may be this rank's alone. */
void rnnrt_mpi_stop(int rc);
int rnnrt_mpi_rank(void);
int rnnrt_mpi_size(void);
/* Rank r's rows of B, dealt as the thread split deals them. */
void rnnrt_mpi_rows_of(int r, int B, int *row0, int *rows);
void rnnrt_mpi_rows(int B, int *row0, int *rows);
/* v[0..nv) and g[0..ng) become their sums over the ranks, added in rank
 * order on rank 0 and broadcast: the same bits on every rank. */
void rnnrt_mpi_sum(double *v, int nv, real *g, size_t ng);
void rnnrt_mpi_max(int *v, int n);     /* elementwise maximum, in place */
int rnnrt_mpi_bcast_int(int v);        /* rank 0's v */
/* Rank r's rows of each [B][w] block of buf, broadcast from rank r. */
void rnnrt_mpi_share_rows(real *buf, int blocks, int B, size_t w);
void rnnrt_pool_free(RnnrtPool *pool);
/* The threads under the split (also the seq2seq trainer's): a crew of n
 * members, the caller and n - 1 persistent threads started with every
 * signal blocked. rnnrt_crew_run calls fn(arg, i) for every member i < n
 * (member 0 in the caller's thread, the others under the caller's MXCSR)
 * and returns when all are done. Exit 3 when a thread cannot be started. */
typedef struct RnnrtCrew RnnrtCrew;
typedef void (*RnnrtCrewFn)(void *arg, int member);
int rnnrt_crew_new(RnnrtCrew **out, int n, RnnrtCrewFn fn, void *arg,
                   RnnrtError *err);
void rnnrt_crew_run(RnnrtCrew *c);
void rnnrt_crew_free(RnnrtCrew *c);

/* The batch split itself, one mechanism for every trainer: the LM and task
 * heads' pool above and the seq2seq split (rnnrt_s2s_split.c) each embed an
 * RnnrtSplit and supply only fn(owner, i), which gathers part i's rows, runs
 * its forward (and backward into part[i].grads, which fn zeroes) and leaves
 * part[i].loss. The split deals the rows (this rank's, then as evenly as
 * possible over the parts: B = 5 over 2 is 3 + 2), runs the parts on a
 * crew, and sums losses and gradients with the parts' weights in part order,
 * in double, the gradient sum itself split over the crew by element: the
 * same bits whatever thread finished first. */
typedef struct {
    int row0, rows;
    double weight;     /* rows / B as dealt; a task may set its own */
    double loss;       /* fn's */
    real *work;        /* the part's workspace (rnnrt_split_workspace) */
    real *grads;       /* [total] */
    int own_work;      /* part 0 may borrow the caller's workspace */
    void *mem[8];      /* the task's buffers (rnnrt_split_alloc) */
    int nmem;
} RnnrtPart;
typedef struct {
    int n;             /* parts; 0: not split */
    int ranks;         /* MPI ranks the rows are split over */
    int rows_all;      /* the B of the last deal */
    size_t total;      /* reals in a gradient block */
    RnnrtPart *part;
    RnnrtCrew *crew;
    RnnrtCrewFn fn;    /* the task's part */
    void *owner;
    real *sum_to;      /* the crew's second pass: the caller's gradients */
} RnnrtSplit;
/* min(threads, B), or 1 when threads <= 1 or B <= 1. */
int rnnrt_split_count(int threads, int B);
/* Exit 2 when B rows cannot give each of `ranks` ranks a row. */
int rnnrt_split_check_ranks(int B, int ranks, RnnrtError *err);
/* Plans and opens sp for minibatches of B rows over `threads` workers and
 * `ranks` MPI ranks (1: not over ranks), calling fn(owner, i) per part;
 * workers is the task's own limit (rnnrt_split_count of this rank's rows
 * when `can`, else 1). With one worker and one rank sp->n = 0 and OpenBLAS
 * gets `threads` (0 = its default), as before; otherwise OpenBLAS gets 1
 * thread, sp the parts (dealt for B, gradient blocks of total reals) and the
 * crew. Exit 2 as rnnrt_split_check_ranks, 3 when a thread cannot start. */
int rnnrt_split_open(RnnrtSplit *sp, int threads, int B, int ranks, int can,
                     size_t total, RnnrtCrewFn fn, void *owner,
                     RnnrtError *err);
/* Part i's workspace of n reals: work0 (the caller's, sized for all rows)
 * for part 0 when not NULL, else its own. */
void rnnrt_split_workspace(RnnrtSplit *sp, int i, size_t n, real *work0);
/* n zeroed elements of size bytes for part i (exit 3 with `what` when
 * out of memory), freed by rnnrt_split_close: a task's own per-part
 * buffers (at most 8 a part). */
void *rnnrt_split_alloc(RnnrtSplit *sp, int i, size_t n, size_t size,
                        const char *what);
/* Deals B rows again (a call with fewer rows than the buffers'). */
void rnnrt_split_deal(RnnrtSplit *sp, int B);
/* Runs fn on every part (the caller is part 0). */
void rnnrt_split_parts(RnnrtSplit *sp);
/* sum_i weight_i loss_i over the parts with weight > 0; with backward,
 * grads += sum_i weight_i grads_i (the same parts), element by element. */
double rnnrt_split_sum(RnnrtSplit *sp, real *grads, int backward);
void rnnrt_split_close(RnnrtSplit *sp);
/* A call that does not split (no workers, or a call they cannot take):
 * the model's own forward on the caller's context c, then its backward
 * when asked. m is an RnnrtModel or an RnnrtS2sModel (their contexts
 * differ, hence a macro): the one unsplit path of both splits
 * (rnnrt_model_run, rnnrt_s2s_run). */
#define RNNRT_SPLIT_UNSPLIT(m, c, bwd) \
    do {                              \
        (m)->forward(c);              \
        if (bwd)                      \
            (m)->backward(c);         \
    } while (0)

/* ---- optimizer and clipping (rnnrt_optim.c) ---- */
void rnnrt_sgd_step(real *p, const real *g, size_t n, double lr);
/* sqrt(sum g^2) accumulated in double; NaN/inf when a value is. */
double rnnrt_grad_norm(const real *g, size_t n);
/* torch.nn.utils.clip_grad_norm_: total = norm of all of g; when
 * max_norm / (total + 1e-6) < 1, g is scaled by that factor. max_norm <= 0
 * leaves g alone. Returns total (non-finite totals leave g alone). */
double rnnrt_clip_grad_norm(real *g, size_t n, double max_norm);

/* ---- optimizers (rnnrt_optim.c) ----
 * PyTorch's update rules (torch 1.13; weight decay: rnnrt_optim_decay),
 * over the whole
 * parameter block:
 *   sgd       p -= lr * g
 *   momentum  b = g at the first step, then b = momentum * b + g;
 *             p -= lr * b              (torch.optim.SGD, dampening 0)
 *   adam      t += 1; m = beta1 m + (1 - beta1) g;
 *             v = beta2 v + (1 - beta2) g^2;
 *             p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * The moments live in the optimizer and in checkpoints (section "optim"),
 * so a resumed run continues exactly (same format in both builds: `real`).
 * Arithmetic is in `real`: double in the double build (PyTorch's float64),
 * float in vectorized loops in the float build (as PyTorch's float32). */
typedef enum {
    RNNRT_OPTIM_SGD,
    RNNRT_OPTIM_MOMENTUM,
    RNNRT_OPTIM_ADAM
} RnnrtOptimKind;

typedef struct RnnrtOptim {
    RnnrtOptimKind kind;
    double momentum, beta1, beta2, eps; /* defaults filled in */
    size_t n;      /* reals in the parameter block */
    int64_t t;     /* update steps taken */
    real *m1;      /* momentum buffer / Adam's first moment (n, or NULL) */
    real *m2;      /* Adam's second moment (n, or NULL) */
} RnnrtOptim;

/* name: "sgd" | "momentum" | "adam" (NULL = "sgd"); hyperparameters 0 =
 * default. Bad names or values are exit 1. Zeroed moments, t = 0. */
int rnnrt_optim_init(RnnrtOptim *o, const char *name, double momentum,
                     double beta1, double beta2, double eps, size_t n,
                     RnnrtError *err);
void rnnrt_optim_step(RnnrtOptim *o, real *p, const real *g, double lr);
/* Weight decay wd >= 0 (0 = none), applied just before rnnrt_optim_step
 * with the same lr: L2 for sgd and momentum (g += wd * p, as
 * torch.optim.SGD(weight_decay)), decoupled for adam (p *= 1 - lr * wd,
 * as torch.optim.AdamW). */
void rnnrt_optim_decay(const RnnrtOptim *o, double wd, real *p, real *g,
                       double lr);
void rnnrt_optim_free(RnnrtOptim *o);
const char *rnnrt_optim_name(RnnrtOptimKind kind);
/* Reals of moment state: 0 (sgd), n (momentum) or 2n (adam). */
size_t rnnrt_optim_state_size(const RnnrtOptim *o);

/* ---- learning-rate schedules (rnnrt_sched.c) ----
 * PyTorch's schedulers (see rnnrt_sched.c for each rule): the driver
 * calls rnnrt_sched_epoch after every epoch and rnnrt_sched_step_lr for
 * every optimizer step (warm-up). */
enum {
    RNNRT_SCHED_CONSTANT,
    RNNRT_SCHED_STEP,    /* torch StepLR(step_size, gamma = factor) */
    RNNRT_SCHED_PLATEAU, /* ReduceLROnPlateau("min", factor, patience,
                            threshold, "rel", min_lr) */
    RNNRT_SCHED_COSINE,  /* CosineAnnealingLR(T_max, eta_min = min_lr) */
    RNNRT_SCHED_N
};

typedef struct {
    int kind;          /* RNNRT_SCHED_* */
    int64_t step_size; /* step: epochs between decays (default 1) */
    double factor;     /* step and plateau: multiplier in (0, 1) (0.1) */
    int64_t patience;  /* plateau: bad evaluations tolerated (10) */
    double threshold;  /* plateau: relative improvement needed (1e-4) */
    double min_lr;     /* plateau: min_lr; cosine: eta_min (0) */
    int64_t t_max;     /* cosine: epochs to the minimum (0 = all epochs) */
    int64_t warmup;    /* linear warm-up over this many steps (0 = none) */
} RnnrtSchedOpts;

/* What a resumed run needs to continue the schedule (in the checkpoint). */
typedef struct {
    double base_lr;         /* the lr the schedule started from */
    double best;            /* plateau: best loss (HUGE_VAL: none yet) */
    int64_t bad;            /* plateau: bad evaluations since best or a cut */
    double val_best;        /* best validation loss (the best checkpoint) */
    int64_t val_best_epoch; /* the epoch (1-based) it was reached; 0 none */
    int64_t val_bad;        /* evaluations since val_best (early stop) */
} RnnrtSchedState;

/* "constant" | "step" | "plateau" | "cosine" -> *kind; -1 if unknown. */
int rnnrt_sched_parse(const char *name, int *kind);
extern const char *const rnnrt_sched_names[RNNRT_SCHED_N];
const char *rnnrt_sched_name(int kind);
void rnnrt_sched_opts_default(RnnrtSchedOpts *o);
/* The defaults, then the recipe's train.lr_schedule and warmup_steps;
 * -1 for an unknown schedule name. */
int rnnrt_sched_opts_recipe(RnnrtSchedOpts *o, const RnnrtRecipe *r);
/* Usage errors (exit 2) naming the trainer option. */
int rnnrt_sched_check(const RnnrtSchedOpts *o, RnnrtError *err);
void rnnrt_sched_start(RnnrtSchedState *s, double lr);
/* The lr after epoch e (1-based: e epochs done of epochs) from lr, with
 * that epoch's validation loss (NAN: not evaluated; plateau then waits). */
double rnnrt_sched_epoch(const RnnrtSchedOpts *o, RnnrtSchedState *s,
                         int64_t e, int64_t epochs, double val, double lr);
/* The lr the optimizer step number step (0-based) uses: the warm-up. */
double rnnrt_sched_step_lr(const RnnrtSchedOpts *o, int64_t step, double lr);
/* Records validation loss val of epoch e: 1 when it is a new best (< the
 * best so far), 0 otherwise (one more evaluation without improvement) or
 * when val is NAN (not evaluated). */
int rnnrt_sched_record(RnnrtSchedState *s, double val, int64_t e);
/* The state in a checkpoint section; get starts afresh from lr when the
 * section ends before it (an older checkpoint), -1 when malformed. */
void rnnrt_sched_put(RnnrtBuf *b, const RnnrtSchedState *s);
int rnnrt_sched_get(RnnrtReader *r, RnnrtSchedState *s, double lr);

/* ---- checkpoints (rnnrt_ckpt.c) ----
 * One format for every trainer. Layout, native byte order:
 *   preamble (32 bytes): "RNNCCKPT", u32 format version, u32 byte-order
 *     tag 0x01020304, u32 sizeof(real), u32 section count, u32 zero,
 *     u32 CRC32 of the 28 bytes before it;
 *   then the sections, each framed as char name[8] (NUL-padded), u64
 *     length, u32 CRC32 (IEEE, as zlib) of name, length and payload, u32
 *     zero, then the payload. The first is "header": str model, u64
 *     spec_hash, str task ("language_model", "labelling",
 *     "classification", "seq2seq"), u32 ndims, each (str name, u64 value),
 *     u32 nshapes, each parameter's (str name, u32 ndim, u32 d0, u32 d1).
 *     The others are found by name; a str is u32 length + bytes.
 *   Vocabulary sections ("vocab", "srcvocab", "tgtvocab", "labels"): u32
 *     size, each token (str) and its i64 count. "params": the parameter
 *     block. "train": RnnrtTrainState's fields, the carried state,
 *     loss_ref, u32 n and n f64 of the recipe, then the lr schedule's
 *     record (rnnrt_sched_put). "optim": the optimizer's name, hyperparameters, step count
 *     and moments (SGD too: its step count).
 * Saves are atomic (rnnrt_file_write_tmp, rename, directory sync) and keep
 * two generations: a verified file at path becomes "<path>.prev" first.
 * The formats before this one (RNNCKPT1, RNNTASK1, RNNS2S0x) are refused
 * by name (exit 1). */
#define RNNRT_CKPT_VERSION 1
enum { RNNRT_CKPT_MAX_SECTIONS = 15 };

enum {
    RNNRT_RECIPE_SEED,       /* --seed */
    RNNRT_RECIPE_CLIP,       /* --clip (seq2seq: the spec's clip_norm) */
    RNNRT_RECIPE_LOSS_RATIO, /* --max-loss-ratio */
    RNNRT_RECIPE_BPTT,       /* --bptt: 0 full, 1 truncated, 2 randomized */
    RNNRT_RECIPE_BPTT_K,     /* --bptt-k */
    RNNRT_RECIPE_BPTT_P,     /* --bptt-p */
    RNNRT_RECIPE_SCHED,      /* --lr-schedule: RNNRT_SCHED_* */
    RNNRT_RECIPE_LR_STEP,    /* --lr-step */
    RNNRT_RECIPE_LR_FACTOR,  /* --lr-factor */
    RNNRT_RECIPE_LR_PATIENCE, /* --lr-patience */
    RNNRT_RECIPE_LR_MIN,     /* --lr-min */
    RNNRT_RECIPE_WARMUP,     /* --warmup-steps */
    RNNRT_RECIPE_WEIGHT_DECAY, /* --weight-decay */
    RNNRT_RECIPE_EVAL_EVERY, /* --eval-every */
    RNNRT_RECIPE_EARLY_STOP, /* --early-stop */
    RNNRT_RECIPE_N
};
/* The recipe's options a checkpoint keeps elsewhere than in the recipe
 * section: the table of recipe options (rnnrt_recipe_opts) is keyed by
 * RNNRT_RECIPE_* and then these. */
enum {
    RNNRT_RECIPE_LR = RNNRT_RECIPE_N, /* --lr: the schedule's base_lr */
    RNNRT_RECIPE_MOMENTUM,            /* --momentum ... --eps: the */
    RNNRT_RECIPE_BETA1,               /* optimizer's hyperparameters */
    RNNRT_RECIPE_BETA2,
    RNNRT_RECIPE_EPS,
    RNNRT_RECIPE_OPTS
};

typedef struct {
    char name[9];
    RnnrtBuf own;      /* the payload, built in place ... */
    const void *ref;   /* ... or borrowed until rnnrt_ckpt_write */
    size_t n;
    int is_ref;
} RnnrtCkptOut;

/* The writer: begin, put dims and shapes (the header), add sections, write
 * (which frees it; rnnrt_ckpt_writer_free drops an unwritten one). */
typedef struct {
    const char *task, *model;
    uint64_t spec_hash;
    RnnrtBuf dims, shapes;
    uint32_t ndims, nshapes;
    int nsec;
    RnnrtCkptOut sec[RNNRT_CKPT_MAX_SECTIONS];
} RnnrtCkptWriter;

typedef struct {
    const char *name;
    int ndim;
    int dims[2];
} RnnrtCkptShape;

typedef struct {
    char name[9];
    const unsigned char *p;
    size_t n;
} RnnrtCkptSection;

/* An opened checkpoint: the whole file, verified (preamble, every frame
 * and CRC), its header parsed. */
typedef struct {
    char path[RNNRT_PATH_MAX];
    char *data;
    size_t n;
    int nsec;
    RnnrtCkptSection sec[RNNRT_CKPT_MAX_SECTIONS + 1];
    const char *model, *task; /* not NUL-terminated */
    size_t model_len, task_len;
    uint64_t spec_hash;
    uint32_t ndims, nshapes;
    RnnrtReader dims, shapes; /* at the header's lists */
    int damaged;       /* open failed on a missing, cut or corrupt file */
    char warning[3200]; /* open_latest fell back to "<path>.prev": why */
} RnnrtCkptFile;

void rnnrt_ckpt_begin(RnnrtCkptWriter *w, const char *task, const char *model,
                      uint64_t spec_hash);
void rnnrt_ckpt_put_dim(RnnrtCkptWriter *w, const char *name, uint64_t value);
void rnnrt_ckpt_put_shape(RnnrtCkptWriter *w, const char *name, int ndim,
                          int d0, int d1);
/* A new section (name: at most 8 bytes) whose payload the caller fills. */
RnnrtBuf *rnnrt_ckpt_add(RnnrtCkptWriter *w, const char *name);
/* A section written from data, which must live until rnnrt_ckpt_write. */
void rnnrt_ckpt_add_ref(RnnrtCkptWriter *w, const char *name,
                        const void *data, size_t n);
void rnnrt_ckpt_put_vocab(RnnrtCkptWriter *w, const char *name,
                          const RnnrtVocab *v);
struct RnnrtTrainState;
/* "train" and "optim" (no optimizer: plain SGD before its first step). */
void rnnrt_ckpt_put_state(RnnrtCkptWriter *w,
                          const struct RnnrtTrainState *ts, size_t nparams);
/* Saves atomically, keeping a verified older file as "<path>.prev"; exit 3
 * naming the path on failure (the older files are then unchanged). */
int rnnrt_ckpt_write(RnnrtCkptWriter *w, const char *path, RnnrtError *err);
void rnnrt_ckpt_writer_free(RnnrtCkptWriter *w);

/* Reads and verifies path. Truncation and corruption are exit 3, naming
 * the section; wrong file type, old format, version, byte order or real
 * type exit 1. Close f whatever it returns. */
int rnnrt_ckpt_open(RnnrtCkptFile *f, const char *path, RnnrtError *err);
/* As open, but when path is damaged (missing, truncated, bad magic, a CRC
 * failure) and "<path>.prev" exists, opens that instead and says why in
 * f->warning (the caller prints it); both damaged: exit 1 naming both. */
int rnnrt_ckpt_open_latest(RnnrtCkptFile *f, const char *path,
                           RnnrtError *err);
void rnnrt_ckpt_close(RnnrtCkptFile *f);
int rnnrt_ckpt_check_model(const RnnrtCkptFile *f, const char *task,
                           const char *model, uint64_t spec_hash,
                           const char *spec_path, RnnrtError *err);
int rnnrt_ckpt_get_dim(const RnnrtCkptFile *f, const char *name,
                       uint64_t *value, RnnrtError *err);
int rnnrt_ckpt_check_shapes(const RnnrtCkptFile *f,
                            const RnnrtCkptShape *want, int n,
                            RnnrtError *err);
/* The payload of section name; a missing section is exit 3. */
int rnnrt_ckpt_section(const RnnrtCkptFile *f, const char *name,
                       RnnrtReader *r, RnnrtError *err);
/* specials: the first four tokens must be rnnrt_vocab_init's. v is
 * initialized whatever the result (free it with rnnrt_vocab_free). */
int rnnrt_ckpt_get_vocab(const RnnrtCkptFile *f, const char *name,
                         int specials, RnnrtVocab *v, RnnrtError *err);
/* "train" (carried state of state_size reals per row, 0: none) and
 * "optim" (moments covering total reals; ts->optim is always set). */
int rnnrt_ckpt_get_state(const RnnrtCkptFile *f, int state_size,
                         size_t total, struct RnnrtTrainState *ts,
                         RnnrtError *err);
/* Checks, by creating and removing "<path>.tmp", that a save can succeed;
 * removes a stale "<path>.prev.tmp" (of the target, symlinks followed). */
int rnnrt_ckpt_probe(const char *path, RnnrtError *err);
/* A fresh run's guard: a regular file at path that is not a checkpoint of
 * this model (another model's or spec's, damaged, not a checkpoint) is not
 * replaced (exit 1, naming why; --force skips this check). */
int rnnrt_ckpt_check_overwrite(const char *path, const char *task,
                               const char *model, uint64_t spec_hash,
                               const char *spec_path, RnnrtError *err);

typedef struct RnnrtTrainState {
    int64_t epoch;   /* epoch in progress, 0-based */
    int64_t batch;   /* next minibatch of that epoch */
    int64_t step;    /* optimizer steps taken in total */
    int64_t tokens;  /* tokens trained on in total */
    double lr;       /* current learning rate (after halvings) */
    int32_t halvings;
    int32_t B, T, sampler;
    RnnrtRng rng;       /* RNG now */
    RnnrtRng epoch_rng; /* RNG before this epoch's batcher draws */
    uint64_t corpus_hash;
    double loss_ref; /* the divergence guard's reference: the loss of the
                        training's first step (0 = none yet) */
    /* the run's recipe, by RNNRT_RECIPE_*: what --resume continues with
     * unless its command line says otherwise (rnnrt_resume_opts); NAN =
     * not recorded (a checkpoint older than these fields) */
    double recipe[RNNRT_RECIPE_N];
    RnnrtSchedState sched; /* the lr schedule's and the best loss' record */
    int S;
    real *state;     /* [B][S] carried state (owned; NULL = zeros) */
    struct RnnrtOptim *optim; /* optimizer, step count and moments (owned;
                                 a loaded checkpoint always has one) */
} RnnrtTrainState;

/* The checkpoint of an RnnrtModel (language model, task heads): header
 * with dims V (L for a task head) and S and every parameter's shape, the
 * block as "params". get_model checks task, model, spec hash and shapes
 * and allocates p. */
const char *rnnrt_ckpt_task_name(int task);
void rnnrt_ckpt_put_model(RnnrtCkptWriter *w, const RnnrtModel *m,
                          const RnnrtParams *p, int V, int L);
int rnnrt_ckpt_get_model(const RnnrtCkptFile *f, const RnnrtModel *m,
                         RnnrtParams *p, int *V, int *L, RnnrtError *err);
/* Any model's parameters (the seq2seq trainer's too): every parameter's
 * shape in the header and the block as "params"; get checks the shapes
 * against p's (allocated by rnnrt_params_init_table) and fills p->params. */
void rnnrt_ckpt_put_params(RnnrtCkptWriter *w, const RnnrtParamDesc *desc,
                           const RnnrtParams *p);
int rnnrt_ckpt_get_params(const RnnrtCkptFile *f, const RnnrtParamDesc *desc,
                          RnnrtParams *p, RnnrtError *err);
/* The language model's checkpoint: the model, "vocab", "train", "optim".
 * load fills v, p and ts (free them with rnnrt_vocab_free,
 * rnnrt_params_free, rnnrt_train_state_free); on failure they are freed.
 * load_latest falls back to "<path>.prev" as rnnrt_ckpt_open_latest,
 * putting the warning in warn (code set) for the caller to print. */
int rnnrt_ckpt_save(const char *path, const RnnrtModel *m,
                    const RnnrtVocab *v, const RnnrtParams *p,
                    const RnnrtTrainState *ts, RnnrtError *err);
int rnnrt_ckpt_load(const char *path, const RnnrtModel *m, RnnrtVocab *v,
                    RnnrtParams *p, RnnrtTrainState *ts, RnnrtError *err);
int rnnrt_ckpt_load_latest(const char *path, const RnnrtModel *m,
                           RnnrtVocab *v, RnnrtParams *p,
                           RnnrtTrainState *ts, RnnrtError *warn,
                           RnnrtError *err);
void rnnrt_train_state_free(RnnrtTrainState *ts);

/* The divergence guard (RELIABILITY D2, G6), shared by every trainer: a
 * finite loss above ratio times ts->loss_ref, the loss of the training's
 * first step, stops the run (exit 4) before the step is applied. The
 * reference is saved in the checkpoint, so a resumed run judges against
 * what the straight run would, and a converged model's small, noisy
 * losses never trip it. A checkpoint saved before the reference existed
 * takes ln(vocab), the loss of a uniform guess. ratio 0 turns the check
 * off (the reference is still recorded). ckpt names the checkpoint the
 * message says is kept, if it exists. */
int rnnrt_loss_guard(RnnrtTrainState *ts, double loss, double ratio,
                     int vocab, const char *ckpt, RnnrtError *err);

/* ---- training (rnnrt_train.c) ---- */
typedef struct {
    const char *data;     /* NULL = default corpus */
    const char *ckpt;     /* NULL = "<model name>.ckpt" */
    int epochs, batch, steps;
    double lr, clip;
    uint64_t seed;
    const char *sampler, *bptt;
    int bptt_k;
    double bptt_p;
    int resume, force;
    int64_t max_steps;    /* optimizer steps in this run; 0 = no limit */
    double max_seconds;   /* 0 = no limit */
    int64_t save_every;   /* steps; 0 = at the end of each epoch */
    int threads;          /* >= 2: batch-split workers (rnnrt_buffers_split);
                             1: one thread; 0 = OpenBLAS default */
    int quiet, keep_denormals;
    const char *prefix;
    int sample_len;
    FILE *out;            /* results (stdout) */
    const char *metrics;   /* --metrics FILE.jsonl; NULL = none */
    int64_t metrics_every; /* --metrics-every N steps; 0 = 10 */
    /* The optimizer, from the recipe: "sgd" | "momentum" | "adam" and its
     * hyperparameters (0 = PyTorch's default, see rnnrt_optim_init). */
    const char *optimizer;
    double momentum, beta1, beta2, eps;
    /* RELIABILITY D2: stop (exit 4, the last checkpoint kept) when a
     * step's loss exceeds this many times the run's first loss; 0 = off.
     * Default 3. */
    double max_loss_ratio;
    /* The lr schedule (rnnrt_sched.c): lr_schedule names sched.kind
     * (--lr-schedule); the recipe's values are the defaults. */
    const char *lr_schedule;
    RnnrtSchedOpts sched;
    double weight_decay;  /* rnnrt_optim_decay; 0 = none */
    int64_t eval_every;   /* validate every N epochs and the last (1) */
    int64_t early_stop;   /* stop after N evaluations without a new best
                             validation loss; 0 = never */
    int bptt_kind;        /* --bptt parsed: 0 full, 1 truncated, 2
                             randomized (what the recipe records) */
    /* Which recipe options the command line gave, by RNNRT_RECIPE_*
     * (rnnrt_recipe_given): on --resume, those that differ from the
     * checkpoint's are applied with a note or refused (rnnrt_recipe_resume);
     * the others come from the checkpoint. */
    unsigned char given[RNNRT_RECIPE_OPTS];
    /* --valid and --test (language models), the recipe's data.valid and
     * data.test by default; NULL = none */
    const char *valid, *test;
} RnnrtTrainOpts;

typedef struct {
    double first_loss, last_loss; /* first and last minibatch of this run */
    double val_ppl, tok_s;
    int64_t steps;                /* optimizer steps in this run */
    int64_t skipped;              /* non-finite steps skipped */
} RnnrtTrainResult;

/* ---- the training driver (rnnrt_driver.c) ----
 * One loop for every task: the cursor, signals and budgets, non-finite
 * steps, the divergence guard, clipping, the optimizer step, progress and
 * saves. A task fills RnnrtTaskOps; `task` is passed back to each. */
typedef struct {
    /* minibatches per epoch */
    size_t (*nbatches)(void *task);
    /* before the epoch's minibatch ts->batch: at 0, draw the epoch's order
     * from ts->rng (saving it in ts->epoch_rng first); past 0 (resumed),
     * replay it from ts->epoch_rng */
    void (*start_epoch)(void *task, RnnrtTrainState *ts);
    /* forward and backward of minibatch ts->batch into the zeroed
     * gradients: its mean loss (non-finite: the step is skipped) and the
     * tokens it counts */
    void (*step)(void *task, RnnrtTrainState *ts, double *loss,
                 int64_t *tokens);
    /* after an applied step (the LM carries its state); may be NULL */
    void (*after_step)(void *task);
    /* after the epoch's last minibatch (ts->epoch not yet advanced), with
     * the epoch's mean loss per token: evaluate and print; may be NULL.
     * A signal during it returns RNNRT_EXIT_SIGINT/SIGTERM. */
    int (*end_epoch)(void *task, const RnnrtTrainState *ts, double avg_loss,
                     RnnrtError *err);
    /* the validation loss (mean per token, lower is better) into *loss,
     * at the end of the epochs --eval-every picks and of the last one,
     * before end_epoch (which finds it in the driver's val_loss); may be
     * NULL (no validation: no plateau schedule, best checkpoint or early
     * stop). A signal during it returns RNNRT_EXIT_SIGINT/SIGTERM. */
    int (*validate)(void *task, double *loss, RnnrtError *err);
    /* write the checkpoint (the driver's epoch sums are in the driver) */
    int (*save)(void *task, RnnrtError *err);
    /* the parameter holding gradient element k and the index in it, for
     * messages; may be NULL */
    const char *(*param_name)(void *task, size_t k, size_t *index);
    /* over MPI ranks, before every save, on every rank: make whole what
     * the ranks hold in parts (the LM's carried state rows); may be NULL */
    void (*share)(void *task);
} RnnrtTaskOps;

typedef struct {
    const char *name;      /* the model's, for messages */
    const char *ckpt;      /* the checkpoint path, for messages */
    int64_t epochs;        /* all epochs of the training (not this run's) */
    int64_t max_steps;     /* this run's budget; 0 = none */
    double max_seconds;    /* this run's budget; 0 = none */
    int64_t save_every;    /* steps between saves; 0 = epoch ends only */
    double clip;           /* global-norm clipping; 0 = off */
    double max_loss_ratio; /* rnnrt_loss_guard; 0 = off */
    int vocab;             /* output vocabulary (the guard's fallback) */
    int quiet;             /* no progress line, no budget note */
    RnnrtSchedOpts sched;  /* the lr schedule and warm-up */
    double weight_decay;   /* rnnrt_optim_decay; 0 = none */
    int64_t eval_every;    /* validate every N epochs and the last; 0 = 1 */
    int64_t early_stop;    /* stop after N evaluations without a new best
                              validation loss; 0 = never */
    /* MPI ranks the task's step splits each minibatch over (its loss,
     * tokens and gradients are this rank's part, which the driver sums
     * over the ranks); 0 or 1 = not split. Under mpirun it must be the
     * number of ranks: a task that does not split is refused. */
    int ranks;
    const char *metrics;   /* --metrics FILE.jsonl (rnnrt_trainlog.c);
                              NULL = none */
    int64_t metrics_every; /* a "train" record every N steps; 0 = 10 */
} RnnrtDriverOpts;

/* ---- the --metrics file (rnnrt_trainlog.c) ----
 * JSON lines the driver writes: the records are in README "Training
 * metrics". Opening keeps a regular file's records of steps <= step (the
 * checkpoint's history; nothing for a fresh run, step 0) and drops the
 * rest, atomically; a file that is not a metrics file is refused (exit 1).
 * Each line is written whole and flushed. Errors: exit 3 with the path. */
typedef struct {
    const char *path;
    FILE *f;
    int std; /* "-": standard output, not closed */
} RnnrtTrainLog;

int rnnrt_trainlog_open(RnnrtTrainLog *l, const char *path, int64_t step,
                        RnnrtError *err);
/* line: one JSON object, without the newline. */
int rnnrt_trainlog_put(RnnrtTrainLog *l, const char *line, RnnrtError *err);
/* Flushes, syncs and closes (err may be NULL); 0 if never opened. */
int rnnrt_trainlog_close(RnnrtTrainLog *l, RnnrtError *err);

typedef struct {
    RnnrtDriverOpts o;
    const RnnrtTaskOps *ops;
    void *task;
    RnnrtTrainState *ts;
    real *params, *grads;
    size_t total;
    RnnrtProgress prog;
    FILE *out;
    double t0, first_loss, last_loss; /* this run's first and last loss */
    double epoch_loss;                /* sum of loss x tokens this epoch */
    int64_t epoch_ntok;
    int64_t run_steps, run_tokens, saved_step, skipped;
    double val_loss; /* this epoch's validation loss; NAN = not evaluated */
    int64_t val_step; /* the step whose parameters val_loss is of; -1 none */
    int early_stopped; /* the run ended by --early-stop */
    /* validate may name its metric and value for the --metrics records
     * ("val_ppl", "val_acc"); else they are "val_loss" and val_loss */
    const char *val_name;
    double val_metric;
    RnnrtTrainLog log; /* --metrics */
    double log_loss, log_norm, log_t, lr_used; /* since the last record */
    int64_t log_ntok, log_steps;
} RnnrtDriver;

enum { RNNRT_DRIVER_STOPPED = -1, RNNRT_DRIVER_EARLY = -2 };

/* "<ckpt>.best": the checkpoint of the best validation loss, a copy of
 * the last checkpoint written when an evaluation improves on every one
 * before it (atomically, as every checkpoint). -1 if it does not fit. */
int rnnrt_best_path(const char *ckpt, char *out, size_t cap);

/* saved_step starts at -1 (nothing saved); a resumed task sets it to
 * ts->step (the file holds that state) and restores epoch_loss/ntok. */
void rnnrt_driver_init(RnnrtDriver *d, const RnnrtTaskOps *ops, void *task,
                       RnnrtTrainState *ts, real *params, real *grads,
                       size_t total);
/* Trains to o.epochs, a budget (0, with a note) or a signal (saved,
 * RNNRT_EXIT_SIGINT/SIGTERM); installs the signal handlers, which the
 * caller restores after its final evaluation. */
int rnnrt_driver_run(RnnrtDriver *d, RnnrtError *err);
int rnnrt_driver_save(RnnrtDriver *d, RnnrtError *err);
/* Saves unless the last step is saved already. */
int rnnrt_driver_finish(RnnrtDriver *d, RnnrtError *err);

/* An option of the run's recipe as --resume sees it. Given on the command
 * line with a value other than the checkpoint's, an APPLY option replaces
 * it from the resumed step on, with a note on stderr; a REFUSE option is
 * a usage error (exit 2) naming it. Not given, the checkpoint's value
 * stands (*have); not recorded (NAN), the command line's is taken. The
 * notes are printed under --quiet too: they change the training. */
typedef enum { RNNRT_RESUME_APPLY, RNNRT_RESUME_REFUSE } RnnrtResumePolicy;
typedef struct {
    const char *name;          /* "--lr" */
    int given;                 /* on this command line */
    double value;              /* this command line's value (or default) */
    double *have;              /* the checkpoint's; updated when applied */
    RnnrtResumePolicy policy;
    const char *why;           /* REFUSE: why it cannot change */
    const char *const *names;  /* an enumeration's names by value, or NULL */
} RnnrtResumeOpt;
int rnnrt_resume_opts(RnnrtResumeOpt *opts, int n, const char *prog,
                      const char *ckpt, int64_t step, RnnrtError *err);

/* ---- the recipe's options (rnnrt_recipe.c) ----
 * One table, keyed by RNNRT_RECIPE_* (and RNNRT_RECIPE_LR ... _EPS), holds
 * each recipe option's name, type, field of RnnrtTrainOpts, help, range,
 * default (the spec's train.* value, or dflt where the spec has none or
 * 0) and --resume policy. It drives the options' command-line entries and
 * --help lines, which of them the command line gave, the defaults, the
 * values a fresh run records in the train state and what --resume applies
 * with a note or refuses, for every trainer. */
typedef struct {
    const char *name;      /* "--clip" */
    RnnrtOptType type;     /* of its field in RnnrtTrainOpts */
    size_t off;            /* offsetof(RnnrtTrainOpts, the field) */
    const char *arg, *help;
    double min, max;       /* the command line's range (RnnrtOpt) */
    RnnrtOptType spec_type; /* the spec's field in RnnrtRecipe, or */
    size_t spec_off;        /* RNNRT_OPT_FLAG: none */
    double dflt;           /* when the spec has none, or 0 (STR: the index
                              into names) */
    RnnrtResumePolicy policy;
    const char *why;       /* REFUSE: why it cannot change */
    const char *const *names; /* STR: the names by value; the recorded */
    size_t kind_off;          /* value is the int field at kind_off */
} RnnrtRecipeOpt;
extern const RnnrtRecipeOpt rnnrt_recipe_opts[RNNRT_RECIPE_OPTS];

/* key's command-line entry, storing into dst (its table type), or into
 * o's field. */
RnnrtOpt rnnrt_recipe_opt(int key, void *dst);
RnnrtOpt rnnrt_recipe_train_opt(int key, RnnrtTrainOpts *o);
/* given[key] = whether the parsed command line (opts, cli_given as from
 * rnnrt_cli_parse_given) gave key's option. */
void rnnrt_recipe_given(const RnnrtOpt *opts, const unsigned char *cli_given,
                        unsigned char given[RNNRT_RECIPE_OPTS]);
/* "--resume"'s help: what opts' recipe options do given with it. */
const char *rnnrt_recipe_resume_help(char *buf, size_t n, const char *lead,
                                     const RnnrtOpt *opts);
/* Every key's field of o from the spec's recipe (or dflt). */
void rnnrt_recipe_defaults(RnnrtTrainOpts *o, const RnnrtRecipe *r);
/* v[key] = o's value of every key (STR: its index). */
void rnnrt_recipe_values(const RnnrtTrainOpts *o,
                         double v[RNNRT_RECIPE_OPTS]);
/* o's field of every APPLY key below RNNRT_RECIPE_N from recipe[key] (a
 * resumed run's, as rnnrt_recipe_resume left them). */
void rnnrt_recipe_apply(RnnrtTrainOpts *o, const double *recipe);
/* --resume for the keys whose have[key] is not NULL (the checkpoint's
 * values), --seed and --lr first and then in key order, against this run's value[key] and given[key]:
 * rnnrt_resume_opts with the table's names, policies and reasons. */
int rnnrt_recipe_resume(const unsigned char *given, const double *value,
                        double *const *have, const char *prog,
                        const char *ckpt, int64_t step, RnnrtError *err);

void rnnrt_train_opts_default(RnnrtTrainOpts *o, const RnnrtModel *m);
/* The checks of every task's options (usage errors, exit 2); parses
 * o->lr_schedule into o->sched.kind. The language model adds its own
 * (--sampler, --bptt*, --sample-len). */
int rnnrt_train_opts_check(RnnrtTrainOpts *o, RnnrtError *err);
/* Shared by the trainers on the driver (rnnrt_train.c): the recipe's
 * options (a fresh run records o's in ts->recipe; a resumed one continues
 * with the checkpoint's, except where the command line changes one, applied
 * with a note or refused), written back into o; and the optimizer (fresh,
 * or the checkpoint's, which must be the one o names). */
int rnnrt_train_recipe(RnnrtTrainOpts *o, struct RnnrtTrainState *ts,
                       const char *name, const char *ckpt, RnnrtError *err);
int rnnrt_train_optim(const RnnrtTrainOpts *o, struct RnnrtTrainState *ts,
                      size_t total, const char *name, const char *ckpt,
                      RnnrtError *err);
int rnnrt_train(const RnnrtModel *m, const RnnrtTrainOpts *o,
                RnnrtTrainResult *res, RnnrtError *err);

/* ---- checks (rnnrt_check.c) ---- */
typedef struct {
    int B, T, V;
    uint64_t seed;
    int64_t max_per_param; /* gradcheck: check at most this many evenly
                              spaced elements of each tensor; 0 = all */
    int L;                 /* labels, for task models (issue #3) */
} RnnrtCheckOpts;

/* Central differences (eps 1e-6) for every parameter and state_in element
 * (or max_per_param of each) against backward, |a - n| <= 1e-5 + 1e-3 |n|.
 * Double builds only. Returns 0 (pass), 1 (fail) or an error code. */
int rnnrt_gradcheck(const RnnrtModel *m, const RnnrtCheckOpts *o, FILE *out,
                    RnnrtError *err);
/* One forward+backward on random inputs, printed as text (see --help). */
int rnnrt_dump(const RnnrtModel *m, const RnnrtCheckOpts *o, FILE *out,
               RnnrtError *err);

/* The pieces of gradcheck and dump that every trainer kind shares (the
 * language model and task trainers above, seq2seq in rnnrt_s2s_check.c);
 * each kind supplies only its random problem and its loss. */
typedef double (*RnnrtLossFn)(void *problem); /* forward; returns the loss */
/* Central differences of loss (eps 1e-6) at every element of v[0..n) (or
 * at max evenly spaced ones, max > 0) against analytic[], |a - n| <= 1e-5 +
 * 1e-3 |n|. Prints the tensor's summary line and its first failures to
 * out, adds the elements checked to *checked (if not NULL) and returns the
 * failures. v is restored. Only meaningful in double builds. */
size_t rnnrt_check_tensor(RnnrtLossFn loss, void *problem, const char *name,
                          real *v, const real *analytic, size_t n, size_t max,
                          size_t *checked, FILE *out);
/* Dump records, as `rnnc SPEC --check DUMP` reads them: "label[ name] n
 * v1 .. vn" (%.17g, so doubles round-trip) and "label n id1 .. idn". */
void rnnrt_dump_reals(FILE *out, const char *label, const char *name,
                      const real *v, size_t n);
void rnnrt_dump_ids(FILE *out, const char *label, const int32_t *v, size_t n);
/* Flushes a dump; RNNRT_EXIT_IO (with err set) if writing it failed. */
int rnnrt_dump_end(FILE *out, RnnrtError *err);

/* =====================================================================
 * Part 5. Language models: perplexity, evaluation, sampling
 * (runtime/lm/).
 * ================================================================== */

/* ---- metrics (rnnrt_metrics.c) ---- */
/* exp(nll / ntokens); +inf when it overflows, NaN when ntokens == 0. */
double rnnrt_perplexity(double nll, double ntokens);

/* ---- evaluation and sampling (rnnrt_eval.c, rnnrt_sample.c) ---- */
/* The reference's evaluate(): sequential partition of ids with buf's B and
 * T, carried state from zeros, exp(total NLL / total tokens). Returns 0, or
 * RNNRT_EXIT_SIGINT/SIGTERM when a signal arrived (partial result). */
int rnnrt_evaluate(const RnnrtModel *m, RnnrtBuffers *buf, const int32_t *ids,
                   size_t len, double *ppl, double *ntokens);

typedef struct {
    int len;            /* tokens to generate */
    double temperature; /* > 0 */
    int greedy;
} RnnrtSampleOpts;

/* Feeds prefix (B = 1, T = 1) and generates; writes prefix + generated text
 * to out. Characters of the prefix not in v are an error (exit 1); words
 * of a word model that v lacks are read as <unk> and named on stderr. */
int rnnrt_sample(const RnnrtModel *m, const RnnrtParams *p,
                 const RnnrtVocab *v, const char *prefix,
                 const RnnrtSampleOpts *o, RnnrtRng *r, FILE *out,
                 RnnrtError *err);

/* ---- generation (rnnrt_sample.c) ----
 * The pieces rnnrt_sample is made of, shared with the C API
 * (runtime/api/rnnrt_api_lm.c). None prints, and only running out of
 * memory in rnnrt_gen_init exits (rnnrt_xcalloc; under rnnrt_alloc_guard,
 * as the API opens, it returns 3).
 *
 * A text's ids (RnnrtTextIds): the buffers grow on demand
 * (rnnrt_text_ids_reserve, room for a text of len bytes) and are kept for
 * the next text; out of memory is exit 3. Zero one before its first use.
 *
 * rnnrt_prefix_encode reads a prefix as sample does: not normalized; a
 * char model refuses a character v lacks (exit 1, naming it), a word model
 * lowercases and splits it into words (rnnrt_words.c) and reads a word v
 * lacks as <unk>, counted in nunk (its text is text + tok[i].off). */
typedef struct {
    int32_t *ids;     /* n ids */
    size_t n, nunk;
    char *text;       /* word models: the lowercased text */
    RnnrtToken *tok;  /* word models: its n words */
    size_t cap;       /* bytes of text; entries of ids and tok */
} RnnrtTextIds;

int rnnrt_text_ids_reserve(RnnrtTextIds *px, size_t len, RnnrtError *err);
int rnnrt_prefix_encode(RnnrtTextIds *px, const RnnrtModel *m,
                        const RnnrtVocab *v, const char *prefix, size_t len,
                        RnnrtError *err);
void rnnrt_text_ids_free(RnnrtTextIds *px);

/* One model stepping on one token at a time (B = 1, T = 1, carried state,
 * no dropout): reset to a zero state, feed tokens, then pick the next one
 * from the last logits. */
typedef struct {
    const RnnrtModel *m;
    const RnnrtVocab *v;
    RnnrtBuffers b;
    double *e;     /* [V] exponentials of the draw */
    int64_t fed;   /* tokens fed since the reset (logits valid when > 0) */
} RnnrtGen;

int rnnrt_gen_init(RnnrtGen *g, const RnnrtModel *m, const RnnrtParams *p,
                   const RnnrtVocab *v, RnnrtError *err);
void rnnrt_gen_free(RnnrtGen *g);
void rnnrt_gen_reset(RnnrtGen *g);
void rnnrt_gen_feed(RnnrtGen *g, int32_t id);
/* The argmax (o->greedy) or a draw from softmax(logits / o->temperature)
 * over the non-special tokens; needs g->fed > 0. */
int32_t rnnrt_gen_pick(RnnrtGen *g, const RnnrtSampleOpts *o, RnnrtRng *r);
/* Resets, feeds px, then picks and feeds o->len tokens, handing each
 * one's text to emit (a word model's words each after a " "); emit
 * returns nonzero to stop, and that value is returned. */
typedef int (*RnnrtEmitFn)(void *ctx, const char *text);
int rnnrt_gen_text(RnnrtGen *g, const RnnrtTextIds *px,
                   const RnnrtSampleOpts *o, RnnrtRng *r, RnnrtEmitFn emit,
                   void *ctx);

/* =====================================================================
 * Part 6. Task heads: labelling and classification (runtime/task/).
 * ================================================================== */

/* ---- label sets, task data, task checkpoints ---- */

/* A task checkpoint of p, the vocabularies and T with the train state ts
 * (rnnrt_task.c), for the safetensors import (rnnrt_safetensors.c). */
int rnnrt_task_ckpt_write(const char *path, const RnnrtModel *m,
                          const RnnrtParams *p, const RnnrtVocab *vocab,
                          const RnnrtVocab *labels, int T,
                          const RnnrtTrainState *ts, RnnrtError *err);

/* rnnrt_params_init / rnnrt_buffers_init with L labels (RNNRT_DIM_L);
 * the plain forms pass L = 0, which only a language model accepts. Task
 * models size their workspace with m->workspace_l. */
int rnnrt_params_init_l(RnnrtParams *p, const RnnrtModel *m, int V, int L,
                        RnnrtError *err);
int rnnrt_buffers_init_l(RnnrtBuffers *b, const RnnrtModel *m,
                         const RnnrtParams *p, int B, int T, int V, int L,
                         RnnrtError *err);


/* Pooling weights of one row (column b of a [T][B] block pool) for a
 * sequence of len valid steps (1 <= len <= T; steps len..T-1 are padding):
 * last = 1 at step len-1, mean = 1/len at steps 0..len-1, 0 elsewhere. */
void rnnrt_pool_weights(real *pool, int T, int B, int b, int len, int head);
/* The valid-step mask of one row (column b of a [T][B] block mask): 1 at
 * steps 0..len-1, 0 on the padding after them. */
void rnnrt_valid_mask(real *mask, int T, int B, int b, int len);

/* The data of a task head (rnnrt_task.c).
 *   labelling:      `token<TAB>label` lines, one token per line (one
 *                   character for `tokens: char`, a word for `word`), a
 *                   blank line between sentences; the tokens form one
 *                   stream, split by tokens (first floor(n * split)).
 *   classification: `label<TAB>text` lines; the text is normalized and
 *                   tokenized like a language model's, then cut to `steps`
 *                   tokens (the count of cut lines is reported); the lines
 *                   are split by lines.
 * Labels are their own vocabulary (no specials), built from the training
 * split by decreasing count, ties in byte order; a label of the validation
 * split that the training split lacks is an error at its path:line:col.
 * Tokens missing from the vocabulary become <unk>. */
typedef struct {
    RnnrtVocab vocab, labels;
    int32_t *x, *y;     /* labelling: n tokens and labels;
                           classification: n rows of T ids (<pad>ded) */
    int32_t *len;       /* classification: valid length of each row */
    size_t n, ntrain;   /* tokens or rows; train = [0, ntrain) */
    int T;              /* classification: row length (steps) */
    size_t truncated;   /* classification: lines cut to T tokens */
    size_t unk_valid;   /* validation tokens mapped to <unk> */
} RnnrtTaskData;

/* vocab, labels NULL: build them from the training split (train);
 * otherwise use them (eval). */
int rnnrt_task_data_load(RnnrtTaskData *d, const RnnrtModel *m,
                         const char *path, int T, const RnnrtVocab *vocab,
                         const RnnrtVocab *labels, RnnrtError *err);
void rnnrt_task_data_free(RnnrtTaskData *d);

/* rnnrt_task_train: the recipe's training with the options (needs
 * o->data), per-epoch validation loss and accuracy, a checkpoint at
 * o->ckpt (token vocabulary, labels, parameters; CRC-checked) and a RESULT
 * line. rnnrt_task_eval: the validation split of data scored with a
 * checkpoint (B 0 = the recipe's batch). */
typedef struct {
    double loss, acc;
    size_t count; /* predictions scored: mean loss and accuracy over them */
} RnnrtTaskScore;

int rnnrt_task_train(const RnnrtModel *m, const RnnrtTrainOpts *o,
                     RnnrtError *err);
int rnnrt_task_eval(const RnnrtModel *m, const char *ckpt, const char *data,
                    int B, RnnrtTaskScore *out, RnnrtError *err);
/* The predict command (rnnrt_task_predict.c): labels or classes of the
 * lines of in, written to out, through the C API. */
int rnnrt_task_predict(const RnnrtModel *m, const char *ckpt, FILE *in,
                       FILE *out, RnnrtError *err);
/* The checkpoint of a task model as eval reads it (no .prev fallback, no
 * printing): vocabularies, parameters, its time steps T and optimizer
 * steps; on error nothing is left allocated. (The C API, rnnrt_api_task.c.) */
int rnnrt_task_ckpt_load(const char *path, const RnnrtModel *m,
                         RnnrtVocab *vocab, RnnrtVocab *labels,
                         RnnrtParams *p, int *T, int64_t *steps,
                         RnnrtError *err);

/* =====================================================================
 * Part 7. Weight interchange: safetensors (runtime/io/).
 * ================================================================== */

/* ---- export and import (rnnrt_safetensors.c) ---- */

/* The trainers' `export` and `import` commands (argv[0] is the command):
 *   export [CKPT] [--ckpt CKPT] -o|--out FILE.safetensors
 *   import FILE.safetensors [--ckpt NEW] [--force]
 * Library cells get PyTorch's names and layouts, other cells the spec's
 * names (README, "Weight interchange"). */
int rnnrt_st_export_cmd(int argc, char **argv, const RnnrtModel *m,
                        const char *prog);
int rnnrt_st_import_cmd(int argc, char **argv, const RnnrtModel *m,
                        const char *prog);
/* The work of the commands: the checkpoint at ckpt written as a
 * safetensors file at out (rnnrt_out.h's rules), and a safetensors file
 * read, checked against the model and saved as a checkpoint at ckpt. */
int rnnrt_st_export(const RnnrtModel *m, const char *ckpt, const char *out,
                    RnnrtError *err);
int rnnrt_st_import(const RnnrtModel *m, const char *in, const char *ckpt,
                    int force, RnnrtError *err);

#endif
