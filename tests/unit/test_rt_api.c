/*
 * test_rt_api.c: the C API for trained language models (rnnrt_api.h),
 * double build, on generated/rnn.c.
 *
 * The group setup trains a small checkpoint through the trainer's own
 * command line (rnnrt_main "train", 12 steps on a generated text), so the
 * tests see what a user's program sees. Then:
 *  - every function refuses NULL, bad sizes, ids outside the vocabulary, a
 *    closed handle and damaged or foreign checkpoints with a code and a
 *    message, never a crash;
 *  - rnnrt_lm_score on the validation split's text gives the perplexity of
 *    the trainer's eval with --batch 1 (rnnrt_evaluate, to 1e-9 relative,
 *    and as the `eval` command prints it);
 *  - rnnrt_lm_sample with a seed writes what the `sample` command prints
 *    (greedy too), and two handles opened and used in two threads give
 *    the same texts (a TSan build of this pair found the CRC table's lazy
 *    fill racing; rnnrt_file.c fills it once with pthread_once);
 *  - feed, feed_token, next and score agree with each other;
 *  - after a first call, score, feed, next and sample allocate nothing;
 *  - every allocation of rnnrt_lm_open failing in turn gives code 3 and
 *    "out of memory", no handle and no exit (test_rt_api_tasks.c: the
 *    other handles).
 */
#define _GNU_SOURCE /* dladdr, in alloc_count.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RNNC_NO_MAIN
#include "../../generated/rnn.c"

#include "alloc_count.h"

typedef struct {
    char dir[64];
    char data[128], ckpt[128], out[128];
    char *valid;   /* the validation split of data, as text */
    RnnrtLm *lm;   /* open on ckpt for each test */
} Fix;

static Fix fx;

/* ---- helpers ---- */

/* Runs the trainer's command line with stdout in fx.out; returns its exit
 * code. */
static int run_trainer(int argc, const char **argv)
{
    fflush(stdout);
    int saved = dup(1);
    int fd = open(fx.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    int rc = rnnrt_main(argc, (char **)argv, &rnn_model);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    return rc;
}

/* The whole of a file, NUL-terminated (freed by the caller). */
static char *slurp(const char *path)
{
    char *text;
    size_t len;
    RnnrtError err;
    assert_int_equal(rnnrt_file_read(path, 1 << 24, &text, &len, &err), 0);
    return text;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A corpus of lowercase words and single spaces (its "letters"
 * normalization is itself) with every letter in the training split, cut so
 * that the validation split neither starts nor ends with a space. */
static size_t make_corpus(char *text, size_t cap)
{
    static const char *pangram = "the quick brown fox jumps over the lazy dog ";
    static const char *words[] = {"time", "machine", "traveller", "said",
                                  "and", "the", "of", "we", "four", "dimension",
                                  "psychologist", "very", "medical", "man"};
    RnnrtRng r;
    rnnrt_rng_init(&r, 3);
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s", pangram);
    while (n < 6000)
        n += (size_t)snprintf(text + n, cap - n, "%s ",
                              words[rnnrt_rng_below(&r, 14)]);
    n--; /* no trailing space */
    while (text[(size_t)floor((double)n * 0.9)] == ' ' ||
           text[(size_t)floor((double)n * 0.9) - 1] == ' ')
        text[n++] = 'x';
    text[n] = '\0';
    return n;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(fx.dir, sizeof fx.dir, "/tmp/rnnc_api_XXXXXX");
    if (!mkdtemp(fx.dir))
        return -1;
    snprintf(fx.data, sizeof fx.data, "%s/data.txt", fx.dir);
    snprintf(fx.ckpt, sizeof fx.ckpt, "%s/rnn.ckpt", fx.dir);
    snprintf(fx.out, sizeof fx.out, "%s/stdout.txt", fx.dir);
    static char text[8192];
    size_t n = make_corpus(text, sizeof text);
    write_file(fx.data, text, n);
    size_t ntrain = (size_t)floor((double)n * rnn_model.recipe.split);
    fx.valid = strdup(text + ntrain);
    const char *argv[] = {"rnn", "train", "--data", fx.data, "--batch", "4",
                          "--steps", "16", "--max-steps", "12", "--threads",
                          "1", "--quiet", "--sample-len", "0", "--ckpt",
                          fx.ckpt};
    return run_trainer(17, argv);
}

static int group_teardown(void **state)
{
    (void)state;
    free(fx.valid);
    const char *names[] = {fx.data, fx.ckpt, fx.out};
    for (int i = 0; i < 3; i++)
        remove(names[i]);
    char other[160];
    snprintf(other, sizeof other, "%s/other.ckpt", fx.dir);
    remove(other);
    rmdir(fx.dir);
    return 0;
}

static int open_lm(void **state)
{
    (void)state;
    RnnrtError err;
    return rnnrt_lm_open(&fx.lm, fx.ckpt, &rnn_model, &err);
}

static int close_lm(void **state)
{
    (void)state;
    rnnrt_lm_close(&fx.lm);
    return 0;
}

/* rc must be code, with a message containing what. */
static void expect_error(int rc, const RnnrtError *err, int code,
                         const char *what)
{
    if (rc != code || err->code != code || !strstr(err->msg, what))
        fail_msg("want code %d with '%s'; got %d: %s", code, what, rc,
                 err->msg);
}

/* ---- argument checks ---- */

static void test_lm_open_refuses_bad_arguments(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtLm *lm = (RnnrtLm *)&err; /* set to NULL on failure */
    expect_error(rnnrt_lm_open(NULL, fx.ckpt, &rnn_model, &err), &err,
                 RNNRT_EXIT_USAGE, "handle pointer is NULL");
    expect_error(rnnrt_lm_open(&lm, NULL, &rnn_model, &err), &err,
                 RNNRT_EXIT_USAGE, "path is NULL");
    assert_null(lm);
    expect_error(rnnrt_lm_open(&lm, fx.ckpt, NULL, &err), &err,
                 RNNRT_EXIT_USAGE, "model is NULL");
    RnnrtModel empty = {0};
    expect_error(rnnrt_lm_open(&lm, fx.ckpt, &empty, &err), &err,
                 RNNRT_EXIT_USAGE, "not a descriptor");
    RnnrtModel tagger = rnn_model;
    tagger.task = RNNRT_TASK_LABELLING;
    expect_error(rnnrt_lm_open(&lm, fx.ckpt, &tagger, &err), &err,
                 RNNRT_EXIT_USAGE, "not a language model");
    assert_null(lm);
    assert_int_equal(rnnrt_lm_open(&lm, fx.ckpt, &rnn_model, NULL), 0);
    rnnrt_lm_close(&lm);
    assert_null(lm);
    rnnrt_lm_close(&lm); /* closing twice is a no-op */
    rnnrt_lm_close(NULL);
}

static void test_lm_open_refuses_damaged_and_foreign_checkpoints(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtLm *lm = NULL;
    char path[160];
    snprintf(path, sizeof path, "%s/missing.ckpt", fx.dir);
    expect_error(rnnrt_lm_open(&lm, path, &rnn_model, &err), &err,
                 RNNRT_EXIT_IO, "cannot open");
    /* another model's (here: same shapes, other name and spec) */
    RnnrtModel other = rnn_model;
    other.name = "other";
    expect_error(rnnrt_lm_open(&lm, fx.ckpt, &other, &err), &err,
                 RNNRT_EXIT_DATA, "holds model 'rnn'");
    other.name = "rnn";
    other.spec_hash ^= 1;
    rnnrt_error(&err, 0, "%s", "");
    assert_int_equal(rnnrt_lm_open(&lm, fx.ckpt, &other, &err),
                     RNNRT_EXIT_DATA);
    assert_true(err.msg[0] != '\0');
    /* truncated, and a flipped byte in the parameters */
    char *bytes;
    size_t len;
    assert_int_equal(rnnrt_file_read(fx.ckpt, 1 << 24, &bytes, &len, &err), 0);
    snprintf(path, sizeof path, "%s/other.ckpt", fx.dir);
    write_file(path, bytes, len / 2);
    assert_int_equal(rnnrt_lm_open(&lm, path, &rnn_model, &err),
                     RNNRT_EXIT_IO);
    bytes[len / 2] ^= 0xff;
    write_file(path, bytes, len);
    assert_int_equal(rnnrt_lm_open(&lm, path, &rnn_model, &err),
                     RNNRT_EXIT_IO);
    assert_null(lm);
    free(bytes);
}

static void test_lm_calls_refuse_a_closed_handle(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtLm *lm = NULL;
    assert_int_equal(rnnrt_lm_open(&lm, fx.ckpt, &rnn_model, &err), 0);
    rnnrt_lm_close(&lm);
    RnnrtLmInfo info;
    RnnrtLmScore s;
    const char *tok;
    double probs[64];
    char buf[64];
    size_t n = 7;
    const char *closed = "closed by rnnrt_lm_close";
    expect_error(rnnrt_lm_info(lm, &info, &err), &err, RNNRT_EXIT_USAGE, closed);
    expect_error(rnnrt_lm_token(lm, 5, &tok, &err), &err, RNNRT_EXIT_USAGE, closed);
    expect_error(rnnrt_lm_score(lm, "the time", 8, &s, &err), &err,
                 RNNRT_EXIT_USAGE, closed);
    expect_error(rnnrt_lm_reset(lm, &err), &err, RNNRT_EXIT_USAGE, closed);
    expect_error(rnnrt_lm_feed(lm, "the", NULL, &err), &err, RNNRT_EXIT_USAGE,
                 closed);
    expect_error(rnnrt_lm_feed_token(lm, 5, &err), &err, RNNRT_EXIT_USAGE, closed);
    expect_error(rnnrt_lm_next(lm, probs, 64, &err), &err, RNNRT_EXIT_USAGE,
                 closed);
    expect_error(rnnrt_lm_sample(lm, "the", 5, 1.0, 0, buf, sizeof buf, &n,
                                 &err), &err, RNNRT_EXIT_USAGE, closed);
    assert_int_equal(n, 0);
    /* a pointer that is not a handle */
    RnnrtLm *bogus = (RnnrtLm *)probs;
    memset(probs, 0, sizeof probs);
    expect_error(rnnrt_lm_reset(bogus, &err), &err, RNNRT_EXIT_USAGE,
                 "not an open language model");
    /* err may be NULL */
    assert_int_equal(rnnrt_lm_reset(NULL, NULL), RNNRT_EXIT_USAGE);
}

static void test_lm_calls_refuse_bad_arguments(void **state)
{
    (void)state;
    RnnrtLm *lm = fx.lm;
    RnnrtError err;
    RnnrtLmInfo info;
    assert_int_equal(rnnrt_lm_info(lm, &info, &err), 0);
    int V = info.vocab;
    assert_string_equal(info.name, "rnn");
    assert_string_equal(info.tokens, "char");
    assert_string_equal(info.real, "double");
    assert_int_equal(info.steps, 12);
    assert_in_range(V, 5, 40);
    expect_error(rnnrt_lm_info(lm, NULL, &err), &err, RNNRT_EXIT_USAGE, "NULL");

    const char *tok = "x";
    expect_error(rnnrt_lm_token(lm, -1, &tok, &err), &err, RNNRT_EXIT_USAGE,
                 "outside the vocabulary");
    assert_null(tok);
    expect_error(rnnrt_lm_token(lm, V, &tok, &err), &err, RNNRT_EXIT_USAGE,
                 "outside the vocabulary");
    expect_error(rnnrt_lm_token(lm, 0, NULL, &err), &err, RNNRT_EXIT_USAGE,
                 "NULL");
    assert_int_equal(rnnrt_lm_token(lm, 0, &tok, &err), 0);
    assert_string_equal(tok, "<unk>");

    RnnrtLmScore s;
    expect_error(rnnrt_lm_score(lm, NULL, 3, &s, &err), &err, RNNRT_EXIT_USAGE,
                 "text is NULL");
    expect_error(rnnrt_lm_score(lm, "abc", 3, NULL, &err), &err,
                 RNNRT_EXIT_USAGE, "out is NULL");
    expect_error(rnnrt_lm_score(lm, "a!", 2, &s, &err), &err, RNNRT_EXIT_DATA,
                 "1 token");
    expect_error(rnnrt_lm_score(lm, "", 0, &s, &err), &err, RNNRT_EXIT_DATA,
                 "0 tokens");
    expect_error(rnnrt_lm_score(lm, "ab\xff", 3, &s, &err), &err,
                 RNNRT_EXIT_DATA, "UTF-8");

    expect_error(rnnrt_lm_feed(lm, NULL, NULL, &err), &err, RNNRT_EXIT_USAGE,
                 "text is NULL");
    expect_error(rnnrt_lm_feed(lm, "", NULL, &err), &err, RNNRT_EXIT_DATA,
                 "empty");
    expect_error(rnnrt_lm_feed(lm, "the Q", NULL, &err), &err, RNNRT_EXIT_DATA,
                 "'Q' at position 5");
    expect_error(rnnrt_lm_feed_token(lm, -1, &err), &err, RNNRT_EXIT_USAGE,
                 "outside the vocabulary");
    expect_error(rnnrt_lm_feed_token(lm, V, &err), &err, RNNRT_EXIT_USAGE,
                 "outside the vocabulary");

    double *probs = calloc((size_t)V + 1, sizeof *probs);
    assert_int_equal(rnnrt_lm_reset(lm, &err), 0);
    expect_error(rnnrt_lm_next(lm, probs, V, &err), &err, RNNRT_EXIT_USAGE,
                 "nothing was fed");
    assert_int_equal(rnnrt_lm_feed(lm, "the", NULL, &err), 0);
    expect_error(rnnrt_lm_next(lm, NULL, V, &err), &err, RNNRT_EXIT_USAGE,
                 "probs is NULL");
    expect_error(rnnrt_lm_next(lm, probs, V + 1, &err), &err, RNNRT_EXIT_USAGE,
                 "entries");
    expect_error(rnnrt_lm_next(lm, probs, 0, &err), &err, RNNRT_EXIT_USAGE,
                 "entries");
    free(probs);

    char buf[32];
    size_t len = 99;
    expect_error(rnnrt_lm_sample(lm, NULL, 5, 1, 0, buf, sizeof buf, &len, &err),
                 &err, RNNRT_EXIT_USAGE, "prefix is NULL");
    expect_error(rnnrt_lm_sample(lm, "the", 5, 1, 0, NULL, 8, &len, &err),
                 &err, RNNRT_EXIT_USAGE, "buf is NULL");
    expect_error(rnnrt_lm_sample(lm, "the", 5, 1, 0, buf, 0, &len, &err),
                 &err, RNNRT_EXIT_USAGE, "cap is 0");
    expect_error(rnnrt_lm_sample(lm, "the", -1, 1, 0, buf, sizeof buf, &len,
                                 &err), &err, RNNRT_EXIT_USAGE, "n is -1");
    expect_error(rnnrt_lm_sample(lm, "the", 5, -1, 0, buf, sizeof buf, &len,
                                 &err), &err, RNNRT_EXIT_USAGE, "temperature");
    expect_error(rnnrt_lm_sample(lm, "the", 5, NAN, 0, buf, sizeof buf, &len,
                                 &err), &err, RNNRT_EXIT_USAGE, "temperature");
    expect_error(rnnrt_lm_sample(lm, "the", 5, INFINITY, 0, buf, sizeof buf,
                                 &len, &err), &err, RNNRT_EXIT_USAGE,
                 "temperature");
    expect_error(rnnrt_lm_sample(lm, "Zed", 5, 1, 0, buf, sizeof buf, &len,
                                 &err), &err, RNNRT_EXIT_DATA, "'Z'");
    assert_int_equal(len, 0);
}

/* A buffer too small holds what fits, and *len says what is needed. */
static void test_lm_sample_reports_the_length_it_needs(void **state)
{
    (void)state;
    RnnrtError err;
    char full[256], part[10];
    size_t need = 0, need2 = 0;
    assert_int_equal(rnnrt_lm_sample(fx.lm, "the ", 40, 1.0, 9, full,
                                     sizeof full, &need, &err), 0);
    assert_int_equal(need, strlen(full));
    assert_int_equal(need, 44);
    expect_error(rnnrt_lm_sample(fx.lm, "the ", 40, 1.0, 9, part, sizeof part,
                                 &need2, &err), &err, RNNRT_EXIT_USAGE,
                 "needs 44 bytes");
    assert_int_equal(need2, need);
    assert_int_equal(strlen(part), sizeof part - 1);
    assert_memory_equal(part, full, sizeof part - 1);
    /* exactly need bytes is one short (the NUL) */
    assert_int_equal(rnnrt_lm_sample(fx.lm, "the ", 40, 1.0, 9, full, need,
                                     NULL, &err), RNNRT_EXIT_USAGE);
}

/* ---- agreement with the trainer ---- */

/* The validation split's perplexity, as the trainer's eval computes it with
 * --batch 1 (cmd_eval: the corpus with the checkpoint's vocabulary, buffers
 * of B = 1 and the training's T, rnnrt_evaluate). */
static double eval_batch1(void)
{
    RnnrtError err;
    RnnrtVocab v;
    RnnrtParams p;
    RnnrtTrainState ts;
    RnnrtCorpus c;
    RnnrtBuffers b;
    assert_int_equal(rnnrt_ckpt_load(fx.ckpt, &rnn_model, &v, &p, &ts, &err), 0);
    assert_int_equal(rnnrt_corpus_load_recipe(&c, fx.data, &rnn_model.recipe,
                                              &v, &err), 0);
    assert_int_equal(c.unk_valid, 0);
    assert_int_equal(rnnrt_buffers_init(&b, &rnn_model, &p, 1, ts.T, v.size,
                                        &err), 0);
    double ppl, n;
    assert_int_equal(rnnrt_evaluate(&rnn_model, &b, c.ids + c.ntrain,
                                    c.n - c.ntrain, &ppl, &n), 0);
    assert_true(n == (double)(c.n - c.ntrain - 1));
    rnnrt_buffers_free(&b);
    rnnrt_corpus_free(&c);
    rnnrt_train_state_free(&ts);
    rnnrt_params_free(&p);
    rnnrt_vocab_free(&v);
    return ppl;
}

static void test_lm_score_equals_the_trainers_eval(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtLmScore s;
    assert_int_equal(rnnrt_lm_score(fx.lm, fx.valid, strlen(fx.valid), &s,
                                    &err), 0);
    double want = eval_batch1();
    assert_true(want > 1 && isfinite(want));
    assert_true(s.tokens == (double)(rnnrt_utf8_count(fx.valid,
                                                      strlen(fx.valid)) - 1));
    assert_int_equal(s.unk, 0);
    if (fabs(s.perplexity - want) > 1e-9 * want)
        fail_msg("rnnrt_lm_score %.15g, eval %.15g", s.perplexity, want);
    assert_true(fabs(exp(s.nll / s.tokens) - s.perplexity) <= 1e-12 * want);

    /* as the `eval` command prints it */
    const char *argv[] = {"rnn", "eval", "--data", fx.data, "--ckpt", fx.ckpt,
                          "--batch", "1", "--threads", "1"};
    assert_int_equal(run_trainer(10, argv), 0);
    char *out = slurp(fx.out), printed[64];
    snprintf(printed, sizeof printed, "val_ppl=%.4f ", s.perplexity);
    if (!strstr(out, printed))
        fail_msg("eval printed '%s', the API gives %s", out, printed);
    free(out);

    /* normalization as for the corpus: case and punctuation fold away */
    RnnrtLmScore s2;
    assert_int_equal(rnnrt_lm_score(fx.lm, "  The QUICK, brown fox!\n", 24,
                                    &s2, &err), 0);
    assert_int_equal(rnnrt_lm_score(fx.lm, "the quick brown fox", 19, &s, &err),
                     0);
    assert_true(s2.nll == s.nll && s2.tokens == 18);
    /* "letters" drops what is not a-z (here the é), so nothing is <unk> */
    assert_int_equal(rnnrt_lm_score(fx.lm, "caf\xc3\xa9 time", 10, &s, &err), 0);
    assert_true(s.unk == 0 && s.tokens == 7);
}

/* Runs the trainer's `sample` with extra options and returns its line. */
static char *trainer_sample(const char *prefix, const char *len,
                            const char *seed, const char *extra)
{
    const char *argv[] = {"rnn", "sample", "--ckpt", fx.ckpt, "--prefix",
                          prefix, "--len", len, "--seed", seed, extra};
    assert_int_equal(run_trainer(extra ? 11 : 10, argv), 0);
    return slurp(fx.out);
}

static void test_lm_sample_equals_the_trainers_sample(void **state)
{
    (void)state;
    RnnrtError err;
    char buf[512], line[520];
    const char *seeds[] = {"0", "7", "123456789"};
    for (int i = 0; i < 3; i++) {
        char *want = trainer_sample("the time ", "200", seeds[i], NULL);
        assert_int_equal(rnnrt_lm_sample(fx.lm, "the time ", 200, 1.0,
                                         strtoull(seeds[i], NULL, 10), buf,
                                         sizeof buf, NULL, &err), 0);
        snprintf(line, sizeof line, "%s\n", buf);
        assert_string_equal(line, want);
        free(want);
    }
    char *want = trainer_sample("we ", "100", "3", "--greedy");
    assert_int_equal(rnnrt_lm_sample(fx.lm, "we ", 100, 0, 3, buf, sizeof buf,
                                     NULL, &err), 0);
    snprintf(line, sizeof line, "%s\n", buf);
    assert_string_equal(line, want);
    free(want);
    /* the same call twice: the same text (sample resets first) */
    char again[512];
    assert_int_equal(rnnrt_lm_sample(fx.lm, "we ", 100, 0, 3, again,
                                     sizeof again, NULL, &err), 0);
    assert_string_equal(again, buf);
}

/* ---- feed, next, score agree ---- */

static void test_lm_next_agrees_with_score_and_feed_token(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtLmInfo info;
    assert_int_equal(rnnrt_lm_info(fx.lm, &info, &err), 0);
    int V = info.vocab;
    double *p1 = calloc((size_t)V, sizeof *p1), *p2 = calloc((size_t)V, sizeof *p2);

    /* after "the tim", p(e) from next is exp(-(nll of "the time" - nll of
     * "the tim")) from score */
    assert_int_equal(rnnrt_lm_feed(fx.lm, "xyz", NULL, &err), 0);
    assert_int_equal(rnnrt_lm_reset(fx.lm, &err), 0);
    assert_int_equal(rnnrt_lm_feed(fx.lm, "the ", NULL, &err), 0);
    assert_int_equal(rnnrt_lm_feed(fx.lm, "tim", NULL, &err), 0);
    assert_int_equal(rnnrt_lm_next(fx.lm, p1, V, &err), 0);
    double sum = 0;
    for (int i = 0; i < V; i++) {
        assert_true(p1[i] >= 0 && p1[i] <= 1);
        sum += p1[i];
    }
    assert_true(fabs(sum - 1) < 1e-12);
    RnnrtLmScore a, b;
    assert_int_equal(rnnrt_lm_score(fx.lm, "the tim", 7, &a, &err), 0);
    assert_int_equal(rnnrt_lm_score(fx.lm, "the time", 8, &b, &err), 0);
    int e = -1;
    for (int i = 0; i < V; i++) {
        const char *tok;
        assert_int_equal(rnnrt_lm_token(fx.lm, i, &tok, &err), 0);
        if (!strcmp(tok, "e"))
            e = i;
    }
    assert_true(e >= 4);
    double want = exp(-(b.nll - a.nll));
    if (fabs(p1[e] - want) > 1e-9 * want)
        fail_msg("next p(e) %.15g, score %.15g", p1[e], want);

    /* scoring left the generation state alone; feed_token = feed */
    assert_int_equal(rnnrt_lm_next(fx.lm, p2, V, &err), 0);
    assert_memory_equal(p1, p2, (size_t)V * sizeof *p1);
    assert_int_equal(rnnrt_lm_reset(fx.lm, &err), 0);
    const char *text = "the tim";
    for (const char *c = text; *c; c++) {
        int id = -1;
        for (int i = 0; i < V && id < 0; i++) {
            const char *tok;
            rnnrt_lm_token(fx.lm, i, &tok, &err);
            if (tok[0] == *c && tok[1] == '\0')
                id = i;
        }
        assert_int_equal(rnnrt_lm_feed_token(fx.lm, id, &err), 0);
    }
    assert_int_equal(rnnrt_lm_next(fx.lm, p2, V, &err), 0);
    assert_memory_equal(p1, p2, (size_t)V * sizeof *p1);
    free(p1);
    free(p2);
}

/* ---- handles are independent ---- */

typedef struct {
    uint64_t seed;
    char text[320];
    int rc;
} Job;

/* Opens its own handle (checkpoint reading runs in two threads at once
 * too), samples three times, closes. */
static void *sample_job(void *arg)
{
    Job *j = arg;
    RnnrtError err;
    RnnrtLm *lm = NULL;
    j->rc = rnnrt_lm_open(&lm, fx.ckpt, &rnn_model, &err);
    for (int k = 0; k < 3 && !j->rc; k++)
        j->rc = rnnrt_lm_sample(lm, "the ", 300, 0.8, j->seed, j->text,
                                sizeof j->text, NULL, &err);
    rnnrt_lm_close(&lm);
    return NULL;
}

static void test_lm_handles_are_independent_across_threads(void **state)
{
    (void)state;
    RnnrtError err;
    Job jobs[2] = {{.seed = 1}, {.seed = 2}};
    char want[2][320];
    for (int i = 0; i < 2; i++)
        assert_int_equal(rnnrt_lm_sample(fx.lm, "the ", 300, 0.8, jobs[i].seed,
                                         want[i], sizeof want[i], NULL, &err), 0);
    assert_string_not_equal(want[0], want[1]);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sample_job, &jobs[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].rc, 0);
        assert_string_equal(jobs[i].text, want[i]);
    }
}

/* ---- allocation ---- */

static void test_lm_calls_allocate_nothing_after_the_first(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtLmScore s;
    double probs[64];
    char buf[128];
    RnnrtLmInfo info;
    assert_int_equal(rnnrt_lm_info(fx.lm, &info, &err), 0);
    assert_true(info.vocab <= 64);
    for (int pass = 0; pass < 2; pass++) {
        counting = pass;
        allocations = 0;
        assert_int_equal(rnnrt_lm_score(fx.lm, fx.valid, strlen(fx.valid), &s,
                                        &err), 0);
        assert_int_equal(rnnrt_lm_score(fx.lm, "the time", 8, &s, &err), 0);
        assert_int_equal(rnnrt_lm_feed(fx.lm, "the time machine", NULL, &err), 0);
        assert_int_equal(rnnrt_lm_next(fx.lm, probs, info.vocab, &err), 0);
        assert_int_equal(rnnrt_lm_sample(fx.lm, "the ", 100, 1.0, 4, buf,
                                         sizeof buf, NULL, &err), 0);
        counting = 0;
    }
    report_blas();
    assert_int_equal(allocations, 0);
}

/* rnnrt_alloc_fail_after(n) for n = 1, 2, ... until the open needs
 * fewer allocations than n: each failure is code 3 with the message, no
 * handle; the process would have exited before rnnrt_alloc_guard. */
static void test_lm_open_reports_running_out_of_memory(void **state)
{
    (void)state;
    long n = 1;
    for (;; n++) {
        RnnrtLm *lm = NULL;
        RnnrtError err = {0};
        rnnrt_alloc_fail_after(n);
        int rc = rnnrt_lm_open(&lm, fx.ckpt, &rnn_model, &err);
        if (rnnrt_alloc_fail_after(0) > 0) { /* no allocation failed */
            assert_int_equal(rc, 0);
            rnnrt_lm_close(&lm);
            break;
        }
        if (rc != RNNRT_EXIT_IO || !strstr(err.msg, "out of memory allocating"))
            fail_msg("allocation %ld failing: code %d, '%s'", n, rc, err.msg);
        assert_null(lm);
    }
    print_message("rnnrt_lm_open: each of %ld allocations failing gives code 3\n", n - 1);
    assert_true(n - 1 >= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lm_open_refuses_bad_arguments),
        cmocka_unit_test(test_lm_open_reports_running_out_of_memory),
        cmocka_unit_test(test_lm_open_refuses_damaged_and_foreign_checkpoints),
        cmocka_unit_test(test_lm_calls_refuse_a_closed_handle),
        cmocka_unit_test_setup_teardown(test_lm_calls_refuse_bad_arguments,
                                        open_lm, close_lm),
        cmocka_unit_test_setup_teardown(test_lm_sample_reports_the_length_it_needs,
                                        open_lm, close_lm),
        cmocka_unit_test_setup_teardown(test_lm_score_equals_the_trainers_eval,
                                        open_lm, close_lm),
        cmocka_unit_test_setup_teardown(test_lm_sample_equals_the_trainers_sample,
                                        open_lm, close_lm),
        cmocka_unit_test_setup_teardown(test_lm_next_agrees_with_score_and_feed_token,
                                        open_lm, close_lm),
        cmocka_unit_test_setup_teardown(test_lm_handles_are_independent_across_threads,
                                        open_lm, close_lm),
        cmocka_unit_test_setup_teardown(test_lm_calls_allocate_nothing_after_the_first,
                                        open_lm, close_lm),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
