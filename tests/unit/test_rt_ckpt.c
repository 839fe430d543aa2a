/*
 * test_rt_ckpt.c: checkpoints: a save/load round trip restores everything;
 * truncation, a flipped byte (named by section), another model, another
 * spec hash, another real type and a foreign file are refused with the
 * right exit code; optimizer moments round-trip (SGD's step count too);
 * the formats before this one are refused by name; a save keeps the file
 * it replaces as "<path>.prev" and a resume falls back to it when the
 * newest is damaged; a failed save (unwritable
 * directory, disk full) leaves the previous checkpoint intact and no tmp
 * file behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rnnrt.h"

static const RnnrtParamDesc toy_params[] = {
    {"W", 2, {RNNRT_DIM_V, 3}, RNNRT_INIT_UNIFORM, 0.1, "toy.yaml:1"},
    {"b", 1, {3, 0}, RNNRT_INIT_NORMAL, 0.5, "toy.yaml:2"},
};

static size_t no_workspace(int B, int T, int V)
{
    (void)B, (void)T, (void)V;
    return 1;
}

static const RnnrtModel toy = {
    .name = "toy",
    .spec_path = "specs/toy.yaml",
    .spec_hash = 0x1234abcdull,
    .nparams = 2,
    .params = toy_params,
    .state_size = 2,
    .workspace = no_workspace,
};

typedef struct {
    char dir[256], path[300], prev[310]; /* prev: "<path>.prev" */
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    real state[4];
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_rt_ckpt.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/toy.ckpt", f->dir);
    snprintf(f->prev, sizeof f->prev, "%s.prev", f->path);
    rnnrt_vocab_build_chars(&f->v, "hello", 5);
    RnnrtError err = {0};
    if (rnnrt_params_init(&f->p, &toy, f->v.size, &err))
        return -1;
    RnnrtRng r;
    rnnrt_rng_init(&r, 9);
    rnnrt_params_randomize(&f->p, &toy, &r);
    RnnrtTrainState *ts = &f->ts;
    ts->epoch = 2;
    ts->batch = 3;
    ts->step = 17;
    ts->tokens = 1000;
    ts->lr = 0.25;
    ts->halvings = 1;
    ts->B = 2;
    ts->T = 4;
    ts->sampler = RNNRT_SAMPLER_RANDOM;
    ts->rng = r;
    rnnrt_rng_init(&ts->epoch_rng, 77);
    ts->corpus_hash = 0xfeedull;
    ts->loss_ref = 3.25;
    ts->S = 2;
    for (int i = 0; i < 4; i++)
        f->state[i] = 0.5 * i - 1;
    ts->state = f->state;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'; rm -rf '%s'", f->dir,
             f->dir);
    int rc = system(cmd);
    rnnrt_vocab_free(&f->v);
    rnnrt_params_free(&f->p);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void save_ok(Fixture *f)
{
    RnnrtError err = {0};
    int rc = rnnrt_ckpt_save(f->path, &toy, &f->v, &f->p, &f->ts, &err);
    if (rc)
        fail_msg("save failed: %s", err.msg);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    char *data;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_file_read(path, 1 << 20, &data, n, &err), 0);
    return (unsigned char *)data;
}

static void spit(const char *path, const unsigned char *d, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(d, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* spit, with the preamble's CRC (bytes 28..31) fixed after an edit. */
static void spit_preamble(const char *path, unsigned char *d, size_t n)
{
    uint32_t crc = rnnrt_crc32(0, d, 28);
    memcpy(d + 28, &crc, 4);
    spit(path, d, n);
}

/* Loads f->path with model m, expecting failure rc whose message holds
 * `needle`. */
static void expect_refusal(Fixture *f, const RnnrtModel *m, int rc,
                           const char *needle)
{
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    RnnrtError err = {0};
    int got = rnnrt_ckpt_load(f->path, m, &v, &p, &ts, &err);
    if (got != rc || !strstr(err.msg, needle))
        fail_msg("load returned %d (%s), expected %d with '%s'", got, err.msg,
                 rc, needle);
    assert_null(p.params);
    assert_null(ts.state);
}

static void test_ckpt_round_trip(void **state)
{
    Fixture *f = *state;
    save_ok(f);
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_ckpt_load(f->path, &toy, &v, &p, &ts, &err), 0);
    assert_int_equal(v.size, f->v.size);
    for (int i = 0; i < v.size; i++) {
        assert_string_equal(v.tokens[i], f->v.tokens[i]);
        assert_int_equal(v.counts[i], f->v.counts[i]);
    }
    assert_int_equal(rnnrt_vocab_find(&v, "l", 1), 4);
    assert_int_equal(p.total, f->p.total);
    assert_memory_equal(p.params, f->p.params, p.total * sizeof(real));
    assert_int_equal(ts.epoch, 2);
    assert_int_equal(ts.batch, 3);
    assert_int_equal(ts.step, 17);
    assert_int_equal(ts.tokens, 1000);
    assert_true(ts.lr == 0.25);
    assert_int_equal(ts.halvings, 1);
    assert_int_equal(ts.B, 2);
    assert_int_equal(ts.T, 4);
    assert_int_equal(ts.sampler, RNNRT_SAMPLER_RANDOM);
    assert_memory_equal(&ts.rng, &f->ts.rng, sizeof ts.rng);
    assert_memory_equal(&ts.epoch_rng, &f->ts.epoch_rng, sizeof ts.rng);
    assert_true(ts.corpus_hash == 0xfeedull);
    assert_true(ts.loss_ref == 3.25);
    assert_non_null(ts.state);
    assert_memory_equal(ts.state, f->state, sizeof f->state);
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    /* nothing left over */
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    assert_int_equal(access(tmp, F_OK), -1);
}

static void test_ckpt_truncated_is_refused(void **state)
{
    Fixture *f = *state;
    save_ok(f);
    size_t n;
    unsigned char *d = slurp(f->path, &n);
    size_t cuts[] = {0, 5, 23, 24, 40, 47, 48, n / 2, n - 20, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        spit(f->path, d, cuts[i]);
        expect_refusal(f, &toy, RNNRT_EXIT_IO, "truncated");
    }
    free(d);
}

static void test_ckpt_flipped_byte_names_the_section(void **state)
{
    Fixture *f = *state;
    save_ok(f);
    size_t n;
    unsigned char *d = slurp(f->path, &n);
    const char *names[] = {"header", "params", "vocab", "train", "optim"};
    size_t pos = 32;
    for (int s = 0; s < 5; s++) {
        uint64_t len;
        assert_string_equal((char *)d + pos, names[s]);
        memcpy(&len, d + pos + 8, 8);
        size_t victim = pos + 24 + len / 2;
        d[victim] ^= 0x10;
        spit(f->path, d, n);
        char needle[64];
        snprintf(needle, sizeof needle, "section '%s' fails its CRC32",
                 names[s]);
        expect_refusal(f, &toy, RNNRT_EXIT_IO, needle);
        d[victim] ^= 0x10;
        /* the CRC covers the frame's name too */
        d[pos + 1] ^= 0x01;
        spit(f->path, d, n);
        expect_refusal(f, &toy, RNNRT_EXIT_IO, "fails its CRC32");
        d[pos + 1] ^= 0x01;
        pos += 24 + len;
    }
    assert_int_equal(pos, n);
    free(d);
}

static void test_ckpt_other_model_or_spec_is_refused(void **state)
{
    Fixture *f = *state;
    save_ok(f);
    RnnrtModel other = toy;
    other.spec_hash ^= 1;
    expect_refusal(f, &other, RNNRT_EXIT_DATA, "different version of the spec");
    other = toy;
    other.name = "gru";
    expect_refusal(f, &other, RNNRT_EXIT_DATA, "model 'toy'");
    RnnrtParamDesc wider[2] = {toy_params[0], toy_params[1]};
    wider[0].dims[1] = 4;
    other = toy;
    other.params = wider;
    expect_refusal(f, &other, RNNRT_EXIT_DATA, "parameter 0 is 'W'");
}

static void test_ckpt_preamble_mismatches(void **state)
{
    Fixture *f = *state;
    save_ok(f);
    size_t n;
    unsigned char *d = slurp(f->path, &n);
    uint32_t four = 4, ver = 9;
    memcpy(d + 16, &four, 4); /* sizeof(real) */
    spit_preamble(f->path, d, n);
    expect_refusal(f, &toy, RNNRT_EXIT_DATA, "holds float parameters");
    memcpy(d + 16, &(uint32_t){sizeof(real)}, 4);
    memcpy(d + 8, &ver, 4);
    spit_preamble(f->path, d, n);
    expect_refusal(f, &toy, RNNRT_EXIT_DATA, "format version 9");
    d[8] ^= 1; /* its preamble CRC not updated */
    spit(f->path, d, n);
    expect_refusal(f, &toy, RNNRT_EXIT_IO, "the preamble fails its check");
    uint32_t swapped = 0x04030201u;
    memcpy(d + 8, &(uint32_t){RNNRT_CKPT_VERSION}, 4);
    memcpy(d + 12, &swapped, 4);
    spit_preamble(f->path, d, n);
    expect_refusal(f, &toy, RNNRT_EXIT_DATA, "other byte order");
    spit(f->path, (const unsigned char *)"hello, world, not a checkpoint!",
         31);
    expect_refusal(f, &toy, RNNRT_EXIT_DATA, "not an rnnc checkpoint");
    remove(f->path);
    expect_refusal(f, &toy, RNNRT_EXIT_IO, strerror(ENOENT));
    free(d);
}

/* The old checkpoint must survive a save that cannot complete. */
static void expect_old_checkpoint(Fixture *f, const unsigned char *old,
                                  size_t n)
{
    size_t m;
    unsigned char *now = slurp(f->path, &m);
    assert_int_equal(m, n);
    assert_memory_equal(now, old, n);
    free(now);
}

/* Tries a save into the (now read-only) directory; returns 1 when it failed
 * with EACCES and left no tmp file. Root ignores permissions, so as root
 * the attempt runs in a child that has dropped to uid/gid 65534. */
static int save_is_refused(Fixture *f)
{
    if (geteuid() != 0) {
        RnnrtError err = {0};
        int rc = rnnrt_ckpt_save(f->path, &toy, &f->v, &f->p, &f->ts, &err);
        int probe = rnnrt_ckpt_probe(f->path, &err);
        return rc == RNNRT_EXIT_IO && probe == RNNRT_EXIT_IO &&
               strstr(err.msg, strerror(EACCES)) != NULL;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(2);
        _exit(save_is_refused(f) ? 0 : 1);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_ckpt_failed_save_keeps_old_when_dir_unwritable(void **state)
{
    Fixture *f = *state;
    save_ok(f);
    size_t n;
    unsigned char *old = slurp(f->path, &n);
    f->p.params[0] += 1;
    assert_int_equal(chmod(f->dir, 0555), 0);
    assert_int_equal(chmod(f->path, 0444), 0);
    int refused = save_is_refused(f);
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_true(refused);
    expect_old_checkpoint(f, old, n);
    free(old);
}

static void test_ckpt_failed_save_keeps_old_when_disk_full(void **state)
{
    Fixture *f = *state;
    if (access("/dev/full", W_OK) != 0) {
        print_message("skipped: no /dev/full\n");
        skip();
    }
    save_ok(f);
    size_t n;
    unsigned char *old = slurp(f->path, &n);
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    assert_int_equal(symlink("/dev/full", tmp), 0); /* writes fail: ENOSPC */
    f->p.params[0] += 1;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_ckpt_save(f->path, &toy, &f->v, &f->p, &f->ts,
                                     &err), RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, strerror(ENOSPC)));
    assert_non_null(strstr(err.msg, "unchanged"));
    struct stat st;
    assert_int_equal(lstat(tmp, &st), -1); /* tmp removed */
    expect_old_checkpoint(f, old, n);
    free(old);
}

static void test_ckpt_stale_tmp_and_probe(void **state)
{
    Fixture *f = *state;
    char tmp[320];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    spit(tmp, (const unsigned char *)"partial", 7);
    RnnrtError err = {0};
    assert_int_equal(rnnrt_file_remove_stale(f->path, &err), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(rnnrt_file_remove_stale(f->path, &err), 0);
    char prev_tmp[340]; /* the previous generation's, left by a killed save */
    snprintf(prev_tmp, sizeof prev_tmp, "%s.prev.tmp", f->path);
    spit(prev_tmp, (const unsigned char *)"partial", 7);
    assert_int_equal(rnnrt_ckpt_probe(f->path, &err), 0);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(prev_tmp, F_OK), -1);
    assert_int_equal(rnnrt_ckpt_probe("/nonexistent-dir/x.ckpt", &err),
                     RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, strerror(ENOENT)));
    assert_int_equal(rnnrt_ckpt_probe(f->dir, &err), RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, "is a directory"));
}

/* ---- optimizer state (section "optim", format version 2) ---- */

static void fill_optim(RnnrtOptim *o, const char *name, size_t n, int64_t t)
{
    RnnrtError err = {0};
    assert_int_equal(rnnrt_optim_init(o, name, 0, 0.8, 0, 0, n, &err), 0);
    o->t = t;
    for (size_t i = 0; i < n; i++) {
        if (o->m1)
            o->m1[i] = (real)(0.25 * (double)i - 1);
        if (o->m2)
            o->m2[i] = (real)(0.5 + (double)i);
    }
}

static void test_ckpt_optimizer_moments_round_trip(void **state)
{
    Fixture *f = *state;
    static const char *const names[] = {"momentum", "adam", "sgd"};
    for (int k = 0; k < 3; k++) {
        RnnrtOptim o;
        fill_optim(&o, names[k], f->p.total, 7 + k);
        f->ts.optim = &o;
        save_ok(f);
        f->ts.optim = NULL;
        RnnrtVocab v;
        RnnrtParams p;
        RnnrtTrainState ts;
        RnnrtError err = {0};
        assert_int_equal(rnnrt_ckpt_load(f->path, &toy, &v, &p, &ts, &err), 0);
        if (k == 2) { /* plain SGD carries its step count only */
            assert_non_null(ts.optim);
            assert_int_equal(ts.optim->kind, RNNRT_OPTIM_SGD);
            assert_int_equal(ts.optim->t, 9);
            assert_null(ts.optim->m1);
            assert_null(ts.optim->m2);
        } else {
            assert_non_null(ts.optim);
            assert_int_equal(ts.optim->kind, o.kind);
            assert_int_equal(ts.optim->t, 7 + k);
            assert_int_equal(ts.optim->n, p.total);
            assert_true(ts.optim->momentum == o.momentum);
            assert_true(ts.optim->beta1 == o.beta1 && ts.optim->beta2 == o.beta2 &&
                        ts.optim->eps == o.eps);
            assert_memory_equal(ts.optim->m1, o.m1, o.n * sizeof(real));
            if (o.m2)
                assert_memory_equal(ts.optim->m2, o.m2, o.n * sizeof(real));
            else
                assert_null(ts.optim->m2);
        }
        rnnrt_optim_free(&o);
        rnnrt_vocab_free(&v);
        rnnrt_params_free(&p);
        rnnrt_train_state_free(&ts);
        assert_null(ts.optim);
    }
}

/* Moments for a parameter block of another size are refused. */
static void test_ckpt_optimizer_of_other_size_is_refused(void **state)
{
    Fixture *f = *state;
    RnnrtOptim o;
    fill_optim(&o, "adam", f->p.total + 1, 3);
    f->ts.optim = &o;
    save_ok(f);
    f->ts.optim = NULL;
    rnnrt_optim_free(&o);
    expect_refusal(f, &toy, RNNRT_EXIT_IO, "section 'optim' is malformed");
}

/* The three formats this one replaced are refused by name, exit 1, and a
 * resume does not fall back from one to "<path>.prev": it is not damage. */
static void test_ckpt_old_formats_are_refused_by_name(void **state)
{
    Fixture *f = *state;
    static const struct {
        char bytes[32]; /* 24 of them written */
        const char *name;
    } old[] = {
        {"RNNCKPT1\2\0\0\0\4\3\2\1\4\0\0\0\0\0\0\0 more", "RNNCKPT1"},
        {"RNNTASK1 and its payload", "RNNTASK1"},
        {"RNNS2S02\4\0\0\0", "RNNS2S02"},
        {"RNNS2S01\4\0\0\0 and the sections", "RNNS2S01"},
    };
    for (size_t i = 0; i < sizeof old / sizeof *old; i++) {
        save_ok(f); /* a good checkpoint, then it becomes "<path>.prev" */
        save_ok(f);
        assert_int_equal(access(f->prev, F_OK), 0);
        spit(f->path, (const unsigned char *)old[i].bytes, 24);
        expect_refusal(f, &toy, RNNRT_EXIT_DATA, old[i].name);
        expect_refusal(f, &toy, RNNRT_EXIT_DATA, "no longer reads");
        RnnrtVocab v;
        RnnrtParams p;
        RnnrtTrainState ts;
        RnnrtError warn = {0}, err = {0};
        assert_int_equal(rnnrt_ckpt_load_latest(f->path, &toy, &v, &p, &ts,
                                                &warn, &err),
                         RNNRT_EXIT_DATA);
        assert_non_null(strstr(err.msg, old[i].name));
        assert_int_equal(warn.code, 0);
    }
}

/* ---- two generations ---- */

/* The step count of the checkpoint at path (which must load). */
static int64_t step_of(const char *path)
{
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    RnnrtError err = {0};
    if (rnnrt_ckpt_load(path, &toy, &v, &p, &ts, &err))
        fail_msg("'%s' does not load: %s", path, err.msg);
    int64_t step = ts.step;
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    return step;
}

static void save_step(Fixture *f, int64_t step)
{
    f->ts.step = step;
    save_ok(f);
}

/* Each save keeps the file it replaces as "<path>.prev". */
static void test_ckpt_save_keeps_previous_generation(void **state)
{
    Fixture *f = *state;
    save_step(f, 17);
    assert_int_equal(access(f->prev, F_OK), -1); /* nothing to keep yet */
    save_step(f, 18);
    assert_int_equal(step_of(f->path), 18);
    assert_int_equal(step_of(f->prev), 17);
    save_step(f, 19);
    assert_int_equal(step_of(f->path), 19);
    assert_int_equal(step_of(f->prev), 18);
}

/* A damaged file is replaced, but never kept: "<path>.prev" stays the
 * last good one. */
static void test_ckpt_damaged_file_is_not_kept(void **state)
{
    Fixture *f = *state;
    save_step(f, 17);
    save_step(f, 18);
    size_t n;
    unsigned char *d = slurp(f->path, &n);
    d[n / 2] ^= 0x40;
    spit(f->path, d, n);
    save_step(f, 19);
    assert_int_equal(step_of(f->path), 19);
    assert_int_equal(step_of(f->prev), 17);
    free(d);
}

/* A symlinked path: the link stays a link, the generation is kept next
 * to its target, and a resume through the link falls back to it. */
static void test_ckpt_generations_follow_a_symlink(void **state)
{
    Fixture *f = *state;
    char real_path[320], real_prev[330];
    snprintf(real_path, sizeof real_path, "%s/real.ckpt", f->dir);
    snprintf(real_prev, sizeof real_prev, "%s.prev", real_path);
    assert_int_equal(symlink("real.ckpt", f->path), 0);
    save_step(f, 17);
    save_step(f, 18);
    struct stat st;
    assert_int_equal(lstat(f->path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(step_of(real_path), 18);
    assert_int_equal(step_of(real_prev), 17);
    assert_int_equal(access(f->prev, F_OK), -1);
    size_t n;
    unsigned char *d = slurp(real_path, &n);
    spit(real_path, d, n / 2);
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    RnnrtError warn = {0}, err = {0};
    if (rnnrt_ckpt_load_latest(f->path, &toy, &v, &p, &ts, &warn, &err))
        fail_msg("no fallback through the link: %s", err.msg);
    assert_int_equal(ts.step, 17);
    assert_non_null(strstr(warn.msg, real_prev));
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    free(d);
}

/* rnnrt_ckpt_load_latest of f->path with model m; *step is the loaded
 * step count (-1 on failure), which frees everything it got. */
static int load_latest(Fixture *f, const RnnrtModel *m, RnnrtError *warn,
                       RnnrtError *err, int64_t *step)
{
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    memset(warn, 0, sizeof *warn);
    memset(err, 0, sizeof *err);
    int rc = rnnrt_ckpt_load_latest(f->path, m, &v, &p, &ts, warn, err);
    *step = rc ? -1 : ts.step;
    if (rc) {
        assert_null(p.params);
        assert_null(ts.state);
        return rc;
    }
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
    return 0;
}

/* Two saves (steps 17 and 18); returns the newest file's bytes. */
static unsigned char *two_generations(Fixture *f, size_t *n)
{
    save_step(f, 17);
    save_step(f, 18);
    return slurp(f->path, n);
}

/* Expects the load of f->path to fall back to step 17 with a warning
 * naming both files. */
static void expect_fallback(Fixture *f, const char *why)
{
    RnnrtError warn, err;
    int64_t step;
    if (load_latest(f, &toy, &warn, &err, &step))
        fail_msg("%s: no fallback: %s", why, err.msg);
    assert_int_equal(step, 17);
    if (!warn.code || !strstr(warn.msg, f->path) || !strstr(warn.msg, f->prev))
        fail_msg("%s: warning '%s' does not name both files", why, warn.msg);
}

static void test_ckpt_load_latest_falls_back(void **state)
{
    Fixture *f = *state;
    size_t n;
    unsigned char *d = two_generations(f, &n);
    RnnrtError warn, err;
    int64_t step;
    assert_int_equal(load_latest(f, &toy, &warn, &err, &step), 0);
    assert_int_equal(step, 18); /* the newest loads: no warning */
    assert_int_equal(warn.code, 0);
    spit(f->path, d, n / 2);
    expect_fallback(f, "truncated");
    d[n - 3] ^= 0x01;
    spit(f->path, d, n);
    expect_fallback(f, "flipped byte");
    d[n - 3] ^= 0x01;
    d[0] = 'X';
    spit(f->path, d, n);
    expect_fallback(f, "bad magic");
    spit(f->path, d, 0);
    expect_fallback(f, "empty");
    remove(f->path);
    expect_fallback(f, "missing");
    free(d);
}

/* Both generations damaged: exit 1 naming both; the newest damaged and
 * no "<path>.prev": its own error; another model: no fallback. */
static void test_ckpt_load_latest_both_damaged(void **state)
{
    Fixture *f = *state;
    size_t n;
    unsigned char *d = two_generations(f, &n);
    RnnrtError warn, err;
    int64_t step;
    RnnrtModel other = toy;
    other.spec_hash ^= 1;
    assert_int_equal(load_latest(f, &other, &warn, &err, &step),
                     RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "different version of the spec"));
    assert_int_equal(warn.code, 0);

    spit(f->path, d, n - 1);
    spit(f->prev, d, 40);
    assert_int_equal(load_latest(f, &toy, &warn, &err, &step),
                     RNNRT_EXIT_DATA);
    if (!strstr(err.msg, f->path) || !strstr(err.msg, f->prev) ||
        !strstr(err.msg, "truncated"))
        fail_msg("both damaged: '%s'", err.msg);
    assert_int_equal(warn.code, 0);

    remove(f->prev);
    assert_int_equal(load_latest(f, &toy, &warn, &err, &step), RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_null(strstr(err.msg, ".prev"));
    free(d);
}

/* The generic writer and reader: sections by name, dims, shapes. */
static void test_ckpt_sections_by_name(void **state)
{
    Fixture *f = *state;
    RnnrtCkptWriter w;
    rnnrt_ckpt_begin(&w, "seq2seq", "toy", 42);
    rnnrt_ckpt_put_dim(&w, "V", 7);
    rnnrt_ckpt_put_shape(&w, "W", 2, 7, 3);
    rnnrt_ckpt_put_shape(&w, "b", 1, 3, 0); /* as seq2seq wrote 1-D shapes */
    rnnrt_ckpt_put_vocab(&w, "srcvocab", &f->v);
    rnnrt_buf_put_u32(rnnrt_ckpt_add(&w, "extra"), 0xabcdu);
    static const real block[3] = {1, 2, 3};
    rnnrt_ckpt_add_ref(&w, "params", block, sizeof block);
    RnnrtError err = {0};
    assert_int_equal(rnnrt_ckpt_write(&w, f->path, &err), 0);

    RnnrtCkptFile c;
    assert_int_equal(rnnrt_ckpt_open(&c, f->path, &err), 0);
    assert_int_equal(rnnrt_ckpt_check_model(&c, "seq2seq", "toy", 42, "t.yaml",
                                            &err), 0);
    assert_int_equal(rnnrt_ckpt_check_model(&c, "labelling", "toy", 42,
                                            "t.yaml", &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "is a seq2seq checkpoint"));
    uint64_t V = 0;
    assert_int_equal(rnnrt_ckpt_get_dim(&c, "V", &V, &err), 0);
    assert_int_equal(V, 7);
    assert_int_equal(rnnrt_ckpt_get_dim(&c, "Vt", &V, &err), RNNRT_EXIT_IO);
    /* a 1-D shape's second dimension is 1 (RnnrtParams.dims); seq2seq
     * checkpoints from before its parameters were an RnnrtParams wrote 0,
     * and still load */
    RnnrtCkptShape want[2] = {{"W", 2, {7, 3}}, {"b", 1, {3, 1}}};
    assert_int_equal(rnnrt_ckpt_check_shapes(&c, want, 2, &err), 0);
    want[1].dims[1] = 2;
    assert_int_equal(rnnrt_ckpt_check_shapes(&c, want, 2, &err),
                     RNNRT_EXIT_DATA);
    want[1].dims[1] = 1;
    want[0].dims[1] = 4;
    assert_int_equal(rnnrt_ckpt_check_shapes(&c, want, 2, &err),
                     RNNRT_EXIT_DATA);
    RnnrtReader r;
    assert_int_equal(rnnrt_ckpt_section(&c, "extra", &r, &err), 0);
    assert_int_equal(rnnrt_reader_u32(&r), 0xabcdu);
    assert_int_equal(rnnrt_ckpt_section(&c, "params", &r, &err), 0);
    assert_int_equal(r.n, sizeof block);
    assert_memory_equal(r.p, block, sizeof block);
    assert_int_equal(rnnrt_ckpt_section(&c, "train", &r, &err), RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, "no section 'train'"));
    RnnrtVocab v;
    assert_int_equal(rnnrt_ckpt_get_vocab(&c, "srcvocab", 1, &v, &err), 0);
    assert_int_equal(v.size, f->v.size);
    assert_string_equal(v.tokens[4], f->v.tokens[4]);
    rnnrt_vocab_free(&v);
    /* read without the check of the four specials */
    assert_int_equal(rnnrt_ckpt_get_vocab(&c, "srcvocab", 0, &v, &err), 0);
    assert_int_equal(v.size, f->v.size);
    rnnrt_vocab_free(&v);
    rnnrt_ckpt_close(&c);
}

/* The divergence guard judges against the training's first loss, which
 * the checkpoint keeps; a checkpoint without it takes ln(V). */
static void test_loss_guard_reference(void **state)
{
    Fixture *f = *state;
    RnnrtTrainState ts = {0};
    RnnrtError err = {0};
    /* the first step sets the reference and passes */
    assert_int_equal(rnnrt_loss_guard(&ts, 2.0, 3, 28, f->path, &err), 0);
    assert_true(ts.loss_ref == 2.0);
    ts.step = 5;
    /* small noisy losses of a converged run never trip it */
    assert_int_equal(rnnrt_loss_guard(&ts, 0.001, 3, 28, f->path, &err), 0);
    assert_int_equal(rnnrt_loss_guard(&ts, 0.5, 3, 28, f->path, &err), 0);
    assert_int_equal(rnnrt_loss_guard(&ts, 6.0, 3, 28, f->path, &err), 0);
    /* above 3 x 2.0: stop, and say there is no checkpoint to keep */
    unlink(f->path);
    assert_int_equal(rnnrt_loss_guard(&ts, 6.01, 3, 28, f->path, &err),
                     RNNRT_EXIT_DIVERGED);
    assert_non_null(strstr(err.msg, "3 times the training's first loss 2"));
    assert_non_null(strstr(err.msg, "No checkpoint was saved"));
    save_ok(f);
    assert_int_equal(rnnrt_loss_guard(&ts, 7.0, 3, 28, f->path, &err),
                     RNNRT_EXIT_DIVERGED);
    assert_non_null(strstr(err.msg, "' is kept"));
    /* ratio 0: off */
    assert_int_equal(rnnrt_loss_guard(&ts, 1e9, 0, 28, f->path, &err), 0);
    /* a resumed checkpoint saved before the reference existed: ln V */
    RnnrtTrainState old = {.step = 40};
    assert_int_equal(rnnrt_loss_guard(&old, 0.01, 3, 28, f->path, &err), 0);
    assert_true(fabs(old.loss_ref - log(28)) < 1e-12);
    assert_int_equal(rnnrt_loss_guard(&old, 3.01 * log(28), 3, 28, f->path,
                                      &err), RNNRT_EXIT_DIVERGED);
}

/* A fresh parameter block (and its gradients) is zero and starts on a
 * 64-byte boundary, for the row kernels' whole-line loads; the block a
 * checkpoint loads into too. */
static void test_params_zeroed_and_aligned(void **state)
{
    Fixture *f = *state;
    RnnrtParams p;
    RnnrtError err = {0};
    for (int V = 1; V <= 9; V += 4) {
        if (rnnrt_params_init(&p, &toy, V, &err))
            fail_msg("%s", err.msg);
        assert_int_equal((uintptr_t)p.params % 64, 0);
        for (size_t i = 0; i < 2 * p.total; i++)
            assert_true(p.params[i] == 0);
        rnnrt_params_free(&p);
    }
    assert_int_equal((uintptr_t)f->p.params % 64, 0);
    assert_int_equal(rnnrt_ckpt_save(f->path, &toy, &f->v, &f->p, &f->ts, &err), 0);
    RnnrtVocab v;
    RnnrtTrainState ts;
    if (rnnrt_ckpt_load(f->path, &toy, &v, &p, &ts, &err))
        fail_msg("%s", err.msg);
    assert_int_equal((uintptr_t)p.params % 64, 0);
    rnnrt_vocab_free(&v);
    rnnrt_params_free(&p);
    rnnrt_train_state_free(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_params_zeroed_and_aligned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loss_guard_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_optimizer_moments_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_optimizer_of_other_size_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_old_formats_are_refused_by_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_save_keeps_previous_generation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_damaged_file_is_not_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_generations_follow_a_symlink, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_load_latest_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_load_latest_both_damaged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_sections_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_truncated_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_ckpt_flipped_byte_names_the_section, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_ckpt_other_model_or_spec_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_preamble_mismatches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_ckpt_failed_save_keeps_old_when_dir_unwritable, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_ckpt_failed_save_keeps_old_when_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ckpt_stale_tmp_and_probe, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
