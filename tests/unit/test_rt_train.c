/*
 * test_rt_train.c: the driver end to end, with a tiny hand-written model in
 * place of generated code:
 *
 *   h[t] = tanh(a * h[t-1] + e[x[t]])              state: h, S = 1
 *   logits[t] = W[x[t]] + bias + h[t] * u          W: [V][V] (a bigram)
 *
 * Its backward is written by hand and applies carry_scale as the contract
 * says. With it: gradcheck passes (and catches a wrong backward), dump
 * prints the documented records, training on timemachine.txt lowers the
 * loss, an interrupted-and-resumed run ends bitwise equal to a straight one
 * (both samplers; SGD, momentum and Adam, moments included), momentum
 * and Adam train, a word-level corpus with min_freq trains and its
 * vocabulary round-trips, non-finite losses and gradients are skipped with lr
 * halvings and then stop with exit 4, SIGINT/SIGTERM save and return
 * 130/143, eval and sample work from the checkpoint, and the CLI refuses
 * bad options with exit 2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rnnrt.h"

/* ---- the toy model ---- */

enum { POISON_NONE, POISON_LOSS, POISON_GRAD, RAISE_SIGINT, RAISE_SIGTERM };
static int poison;          /* what to do at forward calls [from, to) */
static long poison_from, poison_to, forward_calls;
static double grad_bias;    /* added to dW: a deliberately wrong backward */

static const RnnrtParamDesc toy_params[] = {
    {"W", 2, {RNNRT_DIM_V, RNNRT_DIM_V}, RNNRT_INIT_UNIFORM, 0.1, "toy:1"},
    {"bias", 1, {RNNRT_DIM_V, 0}, RNNRT_INIT_ZEROS, 0, "toy:2"},
    {"e", 1, {RNNRT_DIM_V, 0}, RNNRT_INIT_UNIFORM, 0.5, "toy:3"},
    {"a", 1, {1, 0}, RNNRT_INIT_UNIFORM, 0.5, "toy:4"},
    {"u", 1, {RNNRT_DIM_V, 0}, RNNRT_INIT_NORMAL, 0.1, "toy:5"},
};

typedef struct {
    const real *W, *bias, *e, *a, *u;
} Weights;

static Weights weights(const real *p, int V)
{
    size_t VV = (size_t)V * V;
    Weights w = {p, p + VV, p + VV + V, p + VV + 2 * V, p + VV + 2 * V + 1};
    return w;
}

/* logits [T][B][V], h [T][B], dlogits [T][B][V], dh_next [B] */
static size_t toy_workspace(int B, int T, int V)
{
    size_t tb = (size_t)T * B;
    return 2 * tb * (size_t)V + tb + (size_t)B;
}

static void toy_forward(RnnrtCtx *c)
{
    int B = c->B, T = c->T, V = c->V;
    Weights w = weights(c->params, V);
    real *logits = c->work, *hs = c->work + (size_t)T * B * V;
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            real hp = t ? hs[(t - 1) * B + b] : c->state_in[b];
            int x = c->x[t * B + b];
            real h = tanh(w.a[0] * hp + w.e[x]);
            hs[t * B + b] = h;
            real *row = logits + ((size_t)t * B + b) * V;
            for (int v = 0; v < V; v++)
                row[v] = w.W[(size_t)x * V + v] + w.bias[v] + h * w.u[v];
        }
    for (int b = 0; b < B; b++)
        c->state_out[b] = hs[(T - 1) * B + b];
    c->logits = logits;
    c->loss = rnnrt_softmax_xent(logits, c->y, (size_t)T * B, V);
    forward_calls++;
    int on = forward_calls > poison_from && forward_calls <= poison_to;
    if (on && poison == POISON_LOSS)
        c->loss = NAN;
    if (on && poison == RAISE_SIGINT)
        raise(SIGINT);
    if (on && poison == RAISE_SIGTERM)
        raise(SIGTERM);
}

static void toy_backward(RnnrtCtx *c)
{
    int B = c->B, T = c->T, V = c->V;
    size_t tbv = (size_t)T * B * V;
    Weights w = weights(c->params, V);
    Weights g = weights(c->grads, V);
    real *dW = (real *)g.W, *dbias = (real *)g.bias, *de = (real *)g.e;
    real *da = (real *)g.a, *du = (real *)g.u;
    real *hs = c->work + tbv, *dl = hs + (size_t)T * B, *dnext = dl + tbv;
    rnnrt_softmax_xent_grad(c->logits, c->y, (size_t)T * B, V, 1, dl);
    for (int b = 0; b < B; b++)
        dnext[b] = 0;
    for (int t = T - 1; t >= 0; t--)
        for (int b = 0; b < B; b++) {
            const real *row = dl + ((size_t)t * B + b) * V;
            int x = c->x[t * B + b];
            real h = hs[t * B + b], dh = dnext[b];
            for (int v = 0; v < V; v++) {
                dW[(size_t)x * V + v] += row[v] * (1 + grad_bias);
                dbias[v] += row[v];
                du[v] += row[v] * h;
                dh += row[v] * w.u[v];
            }
            real hp = t ? hs[(t - 1) * B + b] : c->state_in[b];
            real dpre = dh * (1 - h * h);
            de[x] += dpre;
            da[0] += dpre * hp;
            dnext[b] = dpre * w.a[0] * (c->carry_scale ? c->carry_scale[t] : 1);
        }
    if (c->dstate_in)
        for (int b = 0; b < B; b++)
            c->dstate_in[b] += dnext[b];
    long k = forward_calls;
    if (poison == POISON_GRAD && k > poison_from && k <= poison_to)
        du[1] = NAN;
}

static const RnnrtModel toy = {
    .name = "toy",
    .spec_path = "specs/toy.yaml",
    .spec_hash = 0x70790001ull,
    .nparams = 5,
    .params = toy_params,
    .state_size = 1,
    .recipe = {.tokens = "char", .normalize = "letters", .split = 0.9,
               .batch = 32, .steps = 35, .epochs = 2, .sampler = "sequential",
               .bptt = "truncated", .bptt_k = 0, .bptt_p = 0.5,
               .optimizer = "sgd", .lr = 1, .clip_norm = 1, .seed = 0},
    .workspace = toy_workspace,
    .forward = toy_forward,
    .backward = toy_backward,
};

/* ---- fixture: a temp dir, the corpus path, quiet options ---- */

static char tmpdir[256], corpus[1200];

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_rt_train.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    const char *src = getenv("RNNC_SOURCE_DIR");
    snprintf(corpus, sizeof corpus, "%s/../shared/data/timemachine.txt",
             src ? src : ".");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int reset(void **state)
{
    (void)state;
    poison = POISON_NONE;
    poison_from = poison_to = forward_calls = 0;
    grad_bias = 0;
    rnnrt_signal_clear();
    return 0;
}

static void need_corpus(void)
{
    if (access(corpus, R_OK) != 0) {
        print_message("skipped: %s not found (set RNNC_SOURCE_DIR)\n", corpus);
        skip();
    }
}

static const char *tmp_path(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static FILE *devnull(void)
{
    static FILE *f;
    if (!f)
        f = fopen("/dev/null", "w");
    return f;
}

static RnnrtTrainOpts quiet_opts(const char *ckpt)
{
    RnnrtTrainOpts o;
    rnnrt_train_opts_default(&o, &toy);
    o.data = corpus;
    o.ckpt = ckpt;
    o.quiet = 1;
    o.threads = 1;
    o.sample_len = 20;
    o.out = devnull();
    return o;
}

/* Runs rnnrt_main with stdout captured into out (NUL-terminated). */
static int run_main(char *out, size_t cap, int argc, const char **argv)
{
    fflush(stdout);
    int saved = dup(1);
    const char *path = tmp_path("stdout.txt");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    close(fd);
    int rc = rnnrt_main(argc, (char **)argv, &toy);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, cap - 1, f) : 0;
    out[n] = '\0';
    if (f)
        fclose(f);
    return rc;
}

static void load_ckpt(const char *path, RnnrtParams *p, RnnrtTrainState *ts)
{
    RnnrtVocab v;
    RnnrtError err = {0};
    int rc = rnnrt_ckpt_load(path, &toy, &v, p, ts, &err);
    if (rc)
        fail_msg("loading %s: %s", path, err.msg);
    rnnrt_vocab_free(&v);
}

/* ---- gradcheck and dump ---- */

#ifdef RNNRT_DOUBLE
static void test_gradcheck_passes_for_correct_backward(void **state)
{
    (void)state;
    FILE *out = tmpfile();
    RnnrtCheckOpts o = {2, 4, 5, 1, 0, 0};
    RnnrtError err = {0};
    assert_int_equal(rnnrt_gradcheck(&toy, &o, out, &err), 0);
    char buf[4096];
    rewind(out);
    size_t n = fread(buf, 1, sizeof buf - 1, out);
    buf[n] = '\0';
    fclose(out);
    assert_non_null(strstr(buf, "gradcheck: PASS"));
    assert_non_null(strstr(buf, "state_in"));
    const char *argv[] = {"toy", "gradcheck", "--T", "3", "--V", "6"};
    assert_int_equal(run_main(buf, sizeof buf, 6, argv), 0);
    assert_non_null(strstr(buf, "T=3 V=6"));
    assert_null(strstr(buf, "checked)"));
    const char *some[] = {"toy", "gradcheck", "--max-per-param", "4"};
    assert_int_equal(run_main(buf, sizeof buf, 4, some), 0);
    assert_non_null(strstr(buf, "W                      25  "));
    assert_non_null(strstr(buf, "(4 checked)"));
    assert_non_null(strstr(buf, "(0 of 19 values fail)")); /* 4+4+4+1+4+2 */
}

static void test_gradcheck_catches_wrong_backward(void **state)
{
    (void)state;
    grad_bias = 0.01; /* dW off by 1% */
    FILE *out = tmpfile();
    RnnrtCheckOpts o = {2, 4, 5, 1, 0, 0};
    RnnrtError err = {0};
    assert_int_equal(rnnrt_gradcheck(&toy, &o, out, &err), 1);
    char buf[8192];
    rewind(out);
    size_t n = fread(buf, 1, sizeof buf - 1, out);
    buf[n] = '\0';
    fclose(out);
    assert_non_null(strstr(buf, "  W["));
    assert_non_null(strstr(buf, "gradcheck: FAIL"));
    assert_null(strstr(buf, "  bias[")); /* only W is wrong */
}

/* The shared check (rnnrt_check_tensor, also seq2seq's) on a loss without a
 * model: sum of v[i]^3, gradient 3 v[i]^2. */
static double cube_loss(void *problem)
{
    const double *v = problem;
    double l = 0;
    for (int i = 0; i < 10; i++)
        l += v[i] * v[i] * v[i];
    return l;
}

static void test_check_tensor_counts_and_reports(void **state)
{
    (void)state;
    double v[10], good[10], bad[10];
    for (int i = 0; i < 10; i++) {
        v[i] = 0.1 * (i + 1);
        good[i] = bad[i] = 3 * v[i] * v[i];
    }
    bad[7] *= 1.01;
    char buf[1024];
    FILE *out = tmpfile();
    size_t checked = 0;
    assert_int_equal(rnnrt_check_tensor(cube_loss, v, "v", v, good, 10, 0, &checked, out), 0);
    assert_int_equal(checked, 10);
    /* --max-per-param 4: exactly 4 evenly spaced elements (0, 2, 5, 7) */
    assert_int_equal(rnnrt_check_tensor(cube_loss, v, "v", v, bad, 10, 4, &checked, out), 1);
    assert_int_equal(checked, 14);
    assert_int_equal(rnnrt_check_tensor(cube_loss, v, "v", v, bad, 10, 3, &checked, out), 0); /* 0, 3, 6 */
    assert_true(v[7] == 0.8); /* restored */
    rewind(out);
    size_t n = fread(buf, 1, sizeof buf - 1, out);
    buf[n] = '\0';
    fclose(out);
    assert_non_null(strstr(buf, "  v[7]: backward"));
    assert_non_null(strstr(buf, "FAIL  (4 checked)"));
    assert_non_null(strstr(buf, "PASS  (3 checked)"));
}
#else
static void test_gradcheck_refuses_in_float_build(void **state)
{
    (void)state;
    RnnrtCheckOpts o = {2, 4, 5, 1, 0, 0};
    RnnrtError err = {0};
    assert_int_equal(rnnrt_gradcheck(&toy, &o, devnull(), &err),
                     RNNRT_EXIT_USAGE);
    assert_non_null(strstr(err.msg, "toy_d"));
}
#endif

/* Reads "label N v1 .. vN" (after the label) into v; returns N. */
static size_t read_record(char **line, const char *label, double *v,
                          size_t cap)
{
    char *s = *line;
    size_t len = strlen(label);
    if (strncmp(s, label, len) || s[len] != ' ')
        fail_msg("expected record '%s', got '%.40s'", label, s);
    s += len;
    size_t n = strtoul(s, &s, 10);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++)
        v[i] = strtod(s, &s);
    assert_true(*s == '\n');
    *line = s + 1;
    return n;
}

static void test_dump_prints_documented_records(void **state)
{
    (void)state;
    static char buf[1 << 16];
    const char *argv[] = {"toy", "dump"};
    assert_int_equal(run_main(buf, sizeof buf, 2, argv), 0);
    char *s = buf;
    double v[256];
    assert_int_equal(strncmp(s, "dims 2 3 5 1\n", 13), 0); /* B T V S */
    s += 13;
    const char *names[] = {"param W", "param bias", "param e", "param a",
                           "param u"};
    size_t sizes[] = {25, 5, 5, 1, 5};
    for (int i = 0; i < 5; i++)
        assert_int_equal(read_record(&s, names[i], v, 256), sizes[i]);
    int32_t y[6];
    assert_int_equal(read_record(&s, "x", v, 256), 6);
    assert_int_equal(read_record(&s, "y", v, 256), 6);
    for (int i = 0; i < 6; i++) {
        assert_true(v[i] >= 0 && v[i] < 5);
        y[i] = (int32_t)v[i];
    }
    assert_int_equal(read_record(&s, "state", v, 256), 2);
    assert_int_equal(read_record(&s, "carry_scale", v, 256), 3);
    for (int i = 0; i < 3; i++)
        assert_true(v[i] >= 0.5 && v[i] < 1.5);
    /* "dropout SEED TRAIN": the dump runs as in training */
    assert_int_equal(strncmp(s, "dropout ", 8), 0);
    strtoull(s + 8, &s, 10);
    assert_int_equal(strncmp(s, " 1\n", 3), 0);
    s += 3;
    assert_int_equal(strncmp(s, "loss ", 5), 0); /* "loss v", no count */
    double loss = strtod(s + 5, &s);
    assert_true(*s++ == '\n');
    double logits[30];
    assert_int_equal(read_record(&s, "logits", logits, 30), 30);
    assert_int_equal(read_record(&s, "state_out", v, 256), 2);
    const char *grads[] = {"grad W", "grad bias", "grad e", "grad a",
                           "grad u"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(read_record(&s, grads[i], v, 256), sizes[i]);
    assert_int_equal(read_record(&s, "dstate", v, 256), 2);
    assert_int_equal(*s, '\0');
    /* the loss line agrees with the logits line */
    real lr[30];
    for (int i = 0; i < 30; i++)
        lr[i] = (real)logits[i]; /* exact: printed with %.17g */
    double want = rnnrt_softmax_xent(lr, y, 6, 5);
    assert_true(fabs(loss - want) < 1e-14);
}

/* ---- training ---- */

static void test_train_lowers_loss_then_eval_and_sample(void **state)
{
    (void)state;
    need_corpus();
    const char *ckpt = tmp_path("lm.ckpt");
    RnnrtTrainOpts o = quiet_opts(ckpt);
    o.epochs = 3;
    o.max_steps = 300;
    RnnrtTrainResult res;
    RnnrtError err = {0};
    int rc = rnnrt_train(&toy, &o, &res, &err);
    if (rc)
        fail_msg("train: %s", err.msg);
    assert_int_equal(res.steps, 300);
    assert_int_equal(res.skipped, 0);
    print_message("loss %.3f -> %.3f, val_ppl %.3f\n", res.first_loss,
                  res.last_loss, res.val_ppl);
    assert_true(res.first_loss > 3.3); /* about ln(31) */
    assert_true(res.last_loss < res.first_loss - 0.7);
    assert_true(res.val_ppl < 12);

    RnnrtParams p;
    RnnrtTrainState ts;
    load_ckpt(ckpt, &p, &ts);
    assert_int_equal(ts.step, 300);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);

    char out[4096], want[64];
    const char *ev[] = {"toy", "eval", "--ckpt", ckpt, "--data", corpus};
    assert_int_equal(run_main(out, sizeof out, 6, ev), 0);
    snprintf(want, sizeof want, "val_ppl=%.4f ", res.val_ppl);
    if (!strstr(out, want))
        fail_msg("eval printed '%s', expected '%s'", out, want);
    assert_non_null(strstr(out, "val_unk=0"));

    const char *sa[] = {"toy", "sample", "--ckpt", ckpt, "--prefix",
                        "the time ", "--len", "30", "--greedy"};
    assert_int_equal(run_main(out, sizeof out, 9, sa), 0);
    assert_int_equal(strncmp(out, "the time ", 9), 0);
    assert_int_equal(strlen(out), 9 + 30 + 1);
    for (int i = 9; i < 39; i++)
        assert_true((out[i] >= 'a' && out[i] <= 'z') || out[i] == ' ');
    const char *bad[] = {"toy", "sample", "--ckpt", ckpt, "--prefix", "The"};
    assert_int_equal(run_main(out, sizeof out, 6, bad), RNNRT_EXIT_DATA);
}

/* Trains `epochs` epochs straight, and again stopped after `cut` steps and
 * resumed; both final checkpoints must be identical. */
static void check_resume_exact(const char *sampler, const char *bptt,
                               const char *optimizer, double lr)
{
    const char *a = tmp_path("straight.ckpt"), *b = tmp_path("split.ckpt");
    RnnrtError err = {0};
    RnnrtTrainOpts o = quiet_opts(a);
    o.optimizer = optimizer;
    o.lr = lr;
    o.epochs = 2;
    o.sampler = sampler;
    o.bptt = bptt;
    o.save_every = 50;
    o.steps = 20;
    int rc = rnnrt_train(&toy, &o, NULL, &err);
    if (rc)
        fail_msg("straight run: %s", err.msg);
    o.ckpt = b;
    o.max_steps = 330; /* mid second epoch: about 244 minibatches each */
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), 0);
    RnnrtParams p1, p2;
    RnnrtTrainState t1, t2;
    load_ckpt(b, &p1, &t1);
    assert_int_equal(t1.step, 330);
    assert_int_equal(t1.epoch, 1);
    assert_true(t1.batch > 0);
    rnnrt_params_free(&p1);
    rnnrt_train_state_free(&t1);
    o.max_steps = 0;
    o.resume = 1;
    o.seed = 12345; /* ignored on resume: the RNG comes from the checkpoint */
    rc = rnnrt_train(&toy, &o, NULL, &err);
    if (rc)
        fail_msg("resumed run: %s", err.msg);
    load_ckpt(a, &p1, &t1);
    load_ckpt(b, &p2, &t2);
    assert_int_equal(t1.step, t2.step);
    assert_int_equal(t1.epoch, 2);
    assert_memory_equal(&t1.rng, &t2.rng, sizeof t1.rng);
    assert_memory_equal(p1.params, p2.params, p1.total * sizeof(real));
    if (strcmp(optimizer, "sgd")) { /* the moments, too */
        assert_non_null(t1.optim);
        assert_non_null(t2.optim);
        assert_int_equal(t1.optim->t, t2.optim->t);
        assert_memory_equal(t1.optim->m1, t2.optim->m1, p1.total * sizeof(real));
        if (t1.optim->m2)
            assert_memory_equal(t1.optim->m2, t2.optim->m2, p1.total * sizeof(real));
    }
    rnnrt_params_free(&p1);
    rnnrt_params_free(&p2);
    rnnrt_train_state_free(&t1);
    rnnrt_train_state_free(&t2);
}

static void test_resume_is_exact_sequential(void **state)
{
    (void)state;
    need_corpus();
    check_resume_exact("sequential", "truncated", "sgd", 1);
}

static void test_resume_is_exact_random_randomized(void **state)
{
    (void)state;
    need_corpus();
    check_resume_exact("random", "randomized", "sgd", 1);
}

static void test_resume_is_exact_momentum_and_adam(void **state)
{
    (void)state;
    need_corpus();
    check_resume_exact("sequential", "truncated", "momentum", 0.2);
    check_resume_exact("random", "full", "adam", 0.01);
}

/* Adam and momentum train the toy model as well as SGD does. */
static void test_train_with_momentum_and_adam(void **state)
{
    (void)state;
    need_corpus();
    static const char *const names[] = {"momentum", "adam"};
    static const double lrs[] = {0.2, 0.01};
    for (int k = 0; k < 2; k++) {
        RnnrtTrainOpts o = quiet_opts(tmp_path("opt.ckpt"));
        o.optimizer = names[k];
        o.lr = lrs[k];
        o.max_steps = 300;
        o.sample_len = 0;
        RnnrtTrainResult res;
        RnnrtError err = {0};
        if (rnnrt_train(&toy, &o, &res, &err))
            fail_msg("%s: %s", names[k], err.msg);
        print_message("%s: loss %.3f -> %.3f, val_ppl %.3f\n", names[k], res.first_loss,
                      res.last_loss, res.val_ppl);
        assert_true(res.last_loss < res.first_loss - 0.7);
        assert_true(res.val_ppl < 12);
        /* the checkpoint says which optimizer; resuming with another is
         * refused */
        o.optimizer = k ? "momentum" : "adam";
        o.resume = 1;
        assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), RNNRT_EXIT_DATA);
        if (!strstr(err.msg, "was trained with optimizer"))
            fail_msg("message: %s", err.msg);
    }
}

/* tokens: word with min_freq: the vocabulary is words, training works,
 * eval reads the same vocabulary back from the checkpoint. */
static void test_train_word_level_with_min_freq(void **state)
{
    (void)state;
    need_corpus();
    RnnrtModel words = toy;
    words.name = "toyw";
    words.recipe.tokens = "word";
    words.recipe.normalize = "none";
    words.recipe.min_freq = 40; /* W is V x V: keep V small */
    RnnrtTrainOpts o;
    rnnrt_train_opts_default(&o, &words);
    o.data = corpus;
    o.ckpt = tmp_path("words.ckpt");
    o.quiet = 1;
    o.threads = 1;
    o.out = devnull();
    o.max_steps = 100;
    o.optimizer = "adam";
    o.lr = 0.01;
    RnnrtTrainResult res;
    RnnrtError err = {0};
    if (rnnrt_train(&words, &o, &res, &err))
        fail_msg("train: %s", err.msg);
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    assert_int_equal(rnnrt_ckpt_load(o.ckpt, &words, &v, &p, &ts, &err), 0);
    print_message("words: V %d, loss %.3f -> %.3f, val_ppl %.1f\n", v.size, res.first_loss,
                  res.last_loss, res.val_ppl);
    assert_true(v.size > 50 && v.size < 400);
    for (int i = 4; i < v.size; i++)
        assert_true(v.counts[i] >= 40);
    assert_true(rnnrt_vocab_find(&v, "the", 3) >= 4);
    assert_true(res.last_loss < res.first_loss - 0.5);
    assert_true(res.val_ppl < v.size);
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    words.recipe.min_freq = 100000;
    o.resume = 0;
    assert_int_equal(rnnrt_train(&words, &o, NULL, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "min_freq 100000 leaves an empty vocabulary"));
}

static void test_resume_refuses_changed_corpus(void **state)
{
    (void)state;
    need_corpus();
    const char *ckpt = tmp_path("changed.ckpt");
    RnnrtTrainOpts o = quiet_opts(ckpt);
    o.epochs = 1;
    o.max_steps = 5;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), 0);
    const char *other = tmp_path("other.txt");
    FILE *f = fopen(other, "w");
    for (int i = 0; i < 400; i++)
        fputs("the quick brown fox jumps over the lazy dog ", f);
    fclose(f);
    o.data = other;
    o.resume = 1;
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "--force"));
    o.force = 1;
    o.max_steps = 3;
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), 0);
}

static void test_tiny_corpus_states_the_minimum(void **state)
{
    (void)state;
    const char *tiny = tmp_path("tiny.txt");
    FILE *f = fopen(tiny, "w");
    fputs("just a few words of text here", f);
    fclose(f);
    RnnrtTrainOpts o = quiet_opts(tmp_path("tiny.ckpt"));
    o.data = tiny;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "needs at least 1153")); /* 32*36+1 */
    o.batch = 3; /* 29 tokens: train 26 >= 3*4+1, validation 3 < 3+1 */
    o.steps = 3;
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "validation split has 3 tokens"));
    o.data = tmp_path("missing.txt");
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, "missing.txt"));
    o.optimizer = "adamw";
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "unknown optimizer 'adamw'"));
    o.optimizer = "momentum";
    o.momentum = 1.5;
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "momentum must be in (0, 1), not 1.5"));
}

static void test_nonfinite_loss_halves_lr_then_exits_4(void **state)
{
    (void)state;
    need_corpus();
    const char *ckpt = tmp_path("nan.ckpt");
    remove(ckpt);
    RnnrtTrainOpts o = quiet_opts(ckpt);
    o.max_steps = 20;
    poison = POISON_LOSS;
    poison_from = 3;
    poison_to = 5; /* calls 4 and 5: two skips, then recovery */
    RnnrtTrainResult res;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_train(&toy, &o, &res, &err), 0);
    assert_int_equal(res.skipped, 2);
    RnnrtParams p;
    RnnrtTrainState ts;
    load_ckpt(ckpt, &p, &ts);
    assert_true(ts.lr == 0.25);
    assert_int_equal(ts.halvings, 2);
    assert_int_equal(ts.step, 20); /* --max-steps counts steps taken */
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    /* from then on every loss is NaN: 6th failure stops, no save */
    remove(ckpt);
    forward_calls = 0;
    poison_from = 0;
    poison_to = 1000000;
    assert_int_equal(rnnrt_train(&toy, &o, &res, &err), RNNRT_EXIT_DIVERGED);
    assert_int_equal(res.skipped, 6);
    assert_non_null(strstr(err.msg, "the loss is NaN"));
    assert_non_null(strstr(err.msg, "No checkpoint was saved"));
    assert_null(strstr(err.msg, "is kept"));
    assert_int_equal(access(ckpt, F_OK), -1);
}

static void test_nonfinite_gradient_names_the_parameter(void **state)
{
    (void)state;
    need_corpus();
    RnnrtTrainOpts o = quiet_opts(tmp_path("nangrad.ckpt"));
    poison = POISON_GRAD;
    poison_to = 1000000;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), RNNRT_EXIT_DIVERGED);
    assert_non_null(strstr(err.msg, "gradient of u is NaN at element 1"));
}

static void check_signal(int kind, int want_rc)
{
    const char *ckpt = tmp_path("sig.ckpt");
    RnnrtTrainOpts o = quiet_opts(ckpt);
    poison = kind;
    poison_from = 49;
    poison_to = 50; /* during the 50th step */
    RnnrtError err = {0};
    assert_int_equal(rnnrt_train(&toy, &o, NULL, &err), want_rc);
    assert_int_equal(err.code, 0);
    RnnrtParams p;
    RnnrtTrainState ts;
    load_ckpt(ckpt, &p, &ts);
    assert_int_equal(ts.step, 50);
    assert_int_equal(ts.batch, 50);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    rnnrt_signal_clear();
}

static void test_signals_save_and_return_130_143(void **state)
{
    (void)state;
    need_corpus();
    check_signal(RAISE_SIGINT, RNNRT_EXIT_SIGINT);
    reset(NULL);
    check_signal(RAISE_SIGTERM, RNNRT_EXIT_SIGTERM);
}

/* A second signal while the first is being handled exits at once with
 * RNNRT_EXIT_ABORTED (not 130, which promises a clean save), removing the
 * tmp file of the save in progress; the old file stays as it was. */
static void test_second_signal_exits_immediately(void **state)
{
    (void)state;
    char dir[] = "/tmp/rnnrt_sig2_XXXXXX", path[64], tmp[80];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/old.ckpt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *old = fopen(path, "w");
    assert_non_null(old);
    fputs("old", old);
    assert_int_equal(fclose(old), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull_fd = open("/dev/null", O_WRONLY);
        dup2(devnull_fd, 2);
        rnnrt_signal_install();
        RnnrtOut o;
        if (rnnrt_out_open(&o, path) != 0)
            _exit(3);
        fputs("half a new one", o.f);
        fflush(o.f);
        if (access(tmp, F_OK) != 0)
            _exit(4);
        raise(SIGINT);
        if (rnnrt_signal_pending() != SIGINT)
            _exit(1);
        raise(SIGINT);
        _exit(2); /* not reached */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), RNNRT_EXIT_ABORTED);
    assert_int_equal(RNNRT_EXIT_ABORTED, 75);
    assert_int_equal(access(tmp, F_OK), -1);
    char buf[16] = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 3);
    fclose(f);
    assert_string_equal(buf, "old");
    unlink(path);
    rmdir(dir);
}

/* ---- command line ---- */

static void test_cli_usage_errors_exit_2(void **state)
{
    (void)state;
    char out[8192];
    const char *cases[][4] = {
        {"toy", NULL},
        {"toy", "fly", NULL},
        {"toy", "train", "--bogus", NULL},
        {"toy", "train", "--epochs", "3x"},
        {"toy", "train", "--epochs", "0"},
        {"toy", "train", "--lr", "nan"},
        {"toy", "train", "--epochs", NULL},
        {"toy", "train", "--quiet=1", NULL},
        {"toy", "train", "stray", NULL},
        {"toy", "gradcheck", "--B", "-1"},
        {"toy", "train", "--sampler", "shuffled"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int argc = 0;
        while (argc < 4 && cases[i][argc])
            argc++;
        int rc = run_main(out, sizeof out, argc, cases[i]);
        if (rc != RNNRT_EXIT_USAGE)
            fail_msg("case %zu (%s %s) returned %d", i,
                     argc > 1 ? cases[i][1] : "", argc > 2 ? cases[i][2] : "",
                     rc);
    }
    const char *help[] = {"toy", "train", "--help"};
    assert_int_equal(run_main(out, sizeof out, 3, help), 0);
    assert_non_null(strstr(out, "--max-seconds"));
    assert_non_null(strstr(out, "(default 32)")); /* batch, from the recipe */
    const char *top[] = {"toy", "--help"};
    assert_int_equal(run_main(out, sizeof out, 2, top), 0);
    assert_non_null(strstr(out, "gradcheck"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, reset, reset)
    const struct CMUnitTest tests[] = {
#ifdef RNNRT_DOUBLE
        T(test_gradcheck_passes_for_correct_backward),
        T(test_gradcheck_catches_wrong_backward),
        T(test_check_tensor_counts_and_reports),
#else
        T(test_gradcheck_refuses_in_float_build),
#endif
        T(test_dump_prints_documented_records),
        T(test_train_lowers_loss_then_eval_and_sample),
        T(test_resume_is_exact_sequential),
        T(test_resume_is_exact_random_randomized),
        T(test_resume_is_exact_momentum_and_adam),
        T(test_train_with_momentum_and_adam),
        T(test_train_word_level_with_min_freq),
        T(test_resume_refuses_changed_corpus),
        T(test_tiny_corpus_states_the_minimum),
        T(test_nonfinite_loss_halves_lr_then_exits_4),
        T(test_nonfinite_gradient_names_the_parameter),
        T(test_signals_save_and_return_130_143),
        T(test_second_signal_exits_immediately),
        T(test_cli_usage_errors_exit_2),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
