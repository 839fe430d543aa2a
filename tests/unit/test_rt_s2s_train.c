/*
 * test_rt_s2s_train.c: the seq2seq trainer's faults (rnnrt_s2s_main.c),
 * driven through rnnrt_s2s_main with a stand-in model whose loss is
 * 0.5 |params - 1|^2 and which can be told to return a NaN loss or a NaN
 * gradient on chosen steps: a non-finite step is skipped (the parameters
 * the next step sees are finite), the 6th in a row exits 4 and leaves the
 * last checkpoint as it was; a file that is not this model's checkpoint is
 * not overwritten without --force; --resume refuses other pairs and a
 * mid-epoch cursor with another --batch. Exact resume, signals and damaged
 * checkpoints are tested on a real trainer in tests/s2s.cmake.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rnnrt_s2s.h"

enum { NAN_LOSS, NAN_GRAD };

static struct {
    int calls;            /* forward calls */
    int nan_from, nan_to; /* calls in [from, to) go wrong */
    int mode;
    int saw_nonfinite;    /* a forward saw a non-finite parameter */
} fake;

static size_t fake_np(const RnnrtS2sCtx *c) { return (size_t)c->V * 3 + 4; }

static size_t fake_workspace(int B, int T, int V, int Vt)
{
    (void)V;
    return (size_t)B * (size_t)T * (size_t)Vt + 1;
}

static void fake_forward(RnnrtS2sCtx *c)
{
    int bad = ++fake.calls >= fake.nan_from && fake.calls < fake.nan_to;
    double loss = 0;
    for (size_t i = 0; i < fake_np(c); i++) {
        if (!isfinite(c->params[i]))
            fake.saw_nonfinite = 1;
        loss += 0.5 * (c->params[i] - 1) * (c->params[i] - 1);
    }
    c->logits = c->work;
    c->loss = bad && fake.mode == NAN_LOSS ? NAN : loss + 0.01 * c->src[0];
}

static void fake_backward(RnnrtS2sCtx *c)
{
    int bad = fake.calls >= fake.nan_from && fake.calls < fake.nan_to;
    for (size_t i = 0; i < fake_np(c); i++)
        c->grads[i] += c->params[i] - 1;
    if (bad && fake.mode == NAN_GRAD)
        c->grads[1] = NAN;
}

static const RnnrtParamDesc fake_params[] = {
    {"w", 2, {RNNRT_DIM_V, 3}, RNNRT_INIT_UNIFORM, 0.1, "fake.yaml:1"},
    {"b", 1, {4, 0}, RNNRT_INIT_ZEROS, 0, "fake.yaml:2"},
};

static RnnrtS2sModel fake_model(void)
{
    RnnrtS2sModel m;
    memset(&m, 0, sizeof m);
    m.name = "fake";
    m.spec_path = "fake.yaml";
    m.spec_hash = 0x1234;
    m.nparams = 2;
    m.params = fake_params;
    m.state_size = 1;
    m.recipe.split = 0.9;
    m.recipe.batch = 4;
    m.recipe.steps = 5;
    m.recipe.epochs = 2;
    m.recipe.optimizer = "adam";
    m.recipe.lr = 0.01;
    m.recipe.clip_norm = 1;
    m.recipe.min_freq = 1;
    m.workspace = fake_workspace;
    m.forward = fake_forward;
    m.backward = fake_backward;
    return m;
}

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static char data[512];

/* 40 pairs, 36 of them training: 9 minibatches of 4 per epoch. */
static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_rt_s2s_train.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(data, sizeof data, "%s", tmp_path("pairs.txt"));
    FILE *f = fopen(data, "w");
    if (!f)
        return -1;
    for (int i = 0; i < 40; i++)
        fprintf(f, "w%d w%d .\tv%d v%d v%d .\n", i % 6, (i * 5) % 7, i % 5, (i * 3) % 8, i % 3);
    return fclose(f);
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd);
}

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    fake.nan_to = INT_MIN;
    return 0;
}

static char errors[8192]; /* the last run's stderr */

/* rnnrt_s2s_main on the argument list (NULL-terminated); its stderr goes
 * to errors[]. */
static int run(const char *first, ...)
{
    const char *argv[32] = {"fake", first};
    int argc = 2;
    va_list ap;
    va_start(ap, first);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && argc < 31)
        argv[argc++] = a;
    va_end(ap);
    char path[512]; /* not tmp_path's: the caller's paths stay valid */
    snprintf(path, sizeof path, "%s/stderr.txt", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    dup2(fileno(f), 2);
    fclose(f);
    RnnrtS2sModel m = fake_model();
    int rc = rnnrt_s2s_main(argc, (char **)argv, &m);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(errors, 1, sizeof errors - 1, f);
    errors[n] = 0;
    fclose(f);
    return rc;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    *n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void test_nan_loss_skips_the_step(void **state)
{
    (void)state;
    fake.nan_from = 3;
    fake.nan_to = 4;
    fake.mode = NAN_LOSS;
    const char *ck = tmp_path("nanloss.ckpt");
    assert_int_equal(run("train", data, "--ckpt", ck, "--eval-max", "0", "--quiet", NULL), 0);
    assert_int_equal(fake.calls, 18); /* 2 epochs x 9, the bad one too */
    assert_false(fake.saw_nonfinite);
    assert_non_null(strstr(errors, "warning: the loss is NaN at epoch 1, minibatch 3: step skipped, learning rate "
                                   "halved to 0.005 (1 of 5)"));
}

static void test_nan_gradient_skips_the_step(void **state)
{
    (void)state;
    fake.nan_from = 2;
    fake.nan_to = 6; /* 4 in a row: still below the limit of 5 halvings */
    fake.mode = NAN_GRAD;
    const char *ck = tmp_path("nangrad.ckpt");
    assert_int_equal(run("train", data, "--ckpt", ck, "--eval-max", "0", "--quiet", NULL), 0);
    assert_false(fake.saw_nonfinite);
    assert_int_equal(fake.calls, 18);
    fake.nan_from = 1;
    fake.nan_to = INT_MAX;
    assert_int_equal(run("train", data, "--ckpt", ck, "--eval-max", "0", "--quiet", NULL), RNNRT_EXIT_DIVERGED);
    assert_non_null(strstr(errors, "the gradient of w is NaN at element 1 at epoch 1, minibatch 6, after 5"));
    assert_false(fake.saw_nonfinite);
}

/* One clean epoch, then every loss NaN: the 6th bad step exits 4 and the
 * checkpoint of epoch 1 is left byte for byte, with no temporary file. */
static void test_divergence_keeps_the_checkpoint(void **state)
{
    (void)state;
    const char *ck = tmp_path("diverge.ckpt");
    assert_int_equal(run("train", data, "--ckpt", ck, "--epochs", "1", "--eval-max", "0", "--quiet", NULL), 0);
    size_t n0, n1;
    char *before = slurp(ck, &n0);
    fake.nan_from = fake.calls + 1;
    fake.nan_to = INT_MAX;
    assert_int_equal(run("train", data, "--ckpt", ck, "--resume", "--epochs", "3", "--save-every", "1", "--eval-max",
                         "0", "--quiet", NULL),
                     RNNRT_EXIT_DIVERGED);
    char *after = slurp(ck, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", ck);
    assert_int_not_equal(access(tmp, F_OK), 0);
    free(before);
    free(after);
}

static void test_foreign_file_not_overwritten(void **state)
{
    (void)state;
    const char *ck = tmp_path("notes.txt");
    FILE *f = fopen(ck, "w");
    fputs("my notes\n", f);
    fclose(f);
    assert_int_equal(run("train", data, "--ckpt", ck, "--eval-max", "0", "--quiet", NULL), RNNRT_EXIT_DATA);
    assert_non_null(strstr(errors, "notes.txt', which is not a checkpoint of fake (fake.yaml)"));
    assert_non_null(strstr(errors, "pass --force to overwrite it"));
    size_t n;
    char *s = slurp(ck, &n);
    assert_int_equal(n, 9);
    assert_memory_equal(s, "my notes\n", 9);
    free(s);
    assert_int_equal(fake.calls, 0);
    assert_int_equal(run("train", data, "--ckpt", ck, "--force", "--epochs", "1", "--eval-max", "0", "--quiet", NULL),
                     0);
    /* now it is this model's checkpoint: a fresh run may replace it */
    assert_int_equal(run("train", data, "--ckpt", ck, "--epochs", "1", "--eval-max", "0", "--quiet", NULL), 0);
}

static void test_resume_refuses_other_data(void **state)
{
    (void)state;
    const char *ck = tmp_path("other.ckpt");
    assert_int_equal(run("train", data, "--ckpt", ck, "--max-steps", "3", "--eval-max", "0", "--quiet", NULL), 0);
    /* other pairs (fewer of them) */
    assert_int_equal(run("train", data, "--ckpt", ck, "--resume", "--max-pairs", "30", "--eval-max", "0", "--quiet",
                         NULL),
                     RNNRT_EXIT_DATA);
    assert_non_null(strstr(errors, "the pairs differ from the ones"));
    /* mid-epoch with another batch size */
    assert_int_equal(run("train", data, "--ckpt", ck, "--resume", "--batch", "3", "--eval-max", "0", "--quiet",
                         NULL),
                     RNNRT_EXIT_DATA);
    assert_non_null(strstr(errors, "stopped in the middle of an epoch with --batch 4 and 36 training pairs"));
    assert_int_equal(fake.calls, 3);
    /* a checkpoint that is not there */
    assert_int_equal(run("train", data, "--ckpt", tmp_path("missing.ckpt"), "--resume", "--eval-max", "0", "--quiet",
                         NULL),
                     RNNRT_EXIT_IO);
    assert_int_equal(run("train", data, "--ckpt", ck, "--resume", "--eval-max", "0", "--quiet", NULL), 0);
    assert_int_equal(fake.calls, 18);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_nan_loss_skips_the_step, setup),
        cmocka_unit_test_setup(test_nan_gradient_skips_the_step, setup),
        cmocka_unit_test_setup(test_divergence_keeps_the_checkpoint, setup),
        cmocka_unit_test_setup(test_foreign_file_not_overwritten, setup),
        cmocka_unit_test_setup(test_resume_refuses_other_data, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
