/*
 * test_rt_api_tasks.c: the C API for trained labelling, classification and
 * seq2seq models (RnnrtTagger, RnnrtClassifier, RnnrtTranslator in
 * rnnrt_api.h), double build, on generated/tagger.c, classifier.c and
 * seq2seq.c.
 *
 * The group setup trains a small checkpoint of each through the trainers'
 * own command lines (rnnrt_main and rnnrt_s2s_main "train", a few steps).
 * Then:
 *  - every function refuses NULL, bad sizes, labels out of range, a closed
 *    handle, a model of another task and damaged or foreign checkpoints
 *    with a code and a message, never a crash;
 *  - a classifier's probabilities sum to 1 and its label is their argmax;
 *    a tagger labels a sequence longer than its steps, the same twice;
 *  - a translation's attention rows sum to 1 over the source tokens, and
 *    two translators in two threads give what one gives alone;
 *  - after a first call, the tagger's, the classifier's and the
 *    translator's calls allocate nothing;
 *  - every allocation of an open (and of a translator's decoder) failing in
 *    turn gives code 3 and "out of memory", no handle, no exit.
 */
#define _GNU_SOURCE /* dladdr, in alloc_count.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RNNC_NO_MAIN
#include "../../generated/classifier.c"
#include "../../generated/seq2seq.c"
#include "../../generated/tagger.c"

#include "alloc_count.h"

static struct {
    char dir[64];
    char lab[128], cls[128], pairs[128], out[128];
    char tag_ckpt[128], cls_ckpt[128], s2s_ckpt[128], bad[128];
} fx;

/* ---- helpers ---- */

/* Runs a trainer's command line (seq2seq: s2s != NULL) with stdout in
 * fx.out; returns its exit code. */
static int run_trainer(int argc, const char **argv, const RnnrtModel *m, const RnnrtS2sModel *s2s)
{
    fflush(stdout);
    int saved = dup(1);
    int fd = open(fx.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    int rc = s2s ? rnnrt_s2s_main(argc, (char **)argv, s2s) : rnnrt_main(argc, (char **)argv, m);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    return rc;
}

/* rc must be code, with a message containing what. */
static void expect_error(int rc, const RnnrtError *err, int code, const char *what)
{
    if (rc != code || err->code != code || !strstr(err->msg, what))
        fail_msg("want code %d with '%s'; got %d: %s", code, what, rc, err->msg);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(fx.dir, sizeof fx.dir, "/tmp/rnnc_api_tasks_XXXXXX");
    if (!mkdtemp(fx.dir))
        return -1;
#define PATH(field, name) snprintf(fx.field, sizeof fx.field, "%s/" name, fx.dir)
    PATH(lab, "lab.txt");
    PATH(cls, "cls.txt");
    PATH(pairs, "pairs.txt");
    PATH(out, "stdout.txt");
    PATH(tag_ckpt, "tag.ckpt");
    PATH(cls_ckpt, "cls.ckpt");
    PATH(s2s_ckpt, "s2s.ckpt");
    PATH(bad, "bad.ckpt");
#undef PATH
    /* labelling: O outside parentheses, I inside; classification: which of
     * a and b occurs more often */
    RnnrtRng r;
    rnnrt_rng_init(&r, 5);
    FILE *f = fopen(fx.lab, "w"), *g = fopen(fx.cls, "w");
    if (!f || !g)
        return -1;
    for (int s = 0; s < 60; s++) {
        int depth = 0;
        for (int i = 0; i < 12 || depth; i++) {
            char c = "abc(("[rnnrt_rng_below(&r, 5)];
            if (depth && (i >= 12 || rnnrt_rng_below(&r, 3) == 0))
                c = ')';
            if (c == '(' && depth)
                c = 'a';
            fprintf(f, "%c\t%s\n", c, depth || c == ')' ? "I" : "O");
            depth += (c == '(') - (c == ')');
        }
        fprintf(f, "\n");
        int na = 0, nb = 0;
        char text[16];
        int len = 3 + (int)rnnrt_rng_below(&r, 10);
        for (int i = 0; i < len; i++) {
            text[i] = "abc"[rnnrt_rng_below(&r, 3)];
            na += text[i] == 'a';
            nb += text[i] == 'b';
        }
        text[len] = '\0';
        fprintf(g, "%s\t%s\n", na > nb ? "more_a" : "more_b", text);
    }
    fclose(f);
    fclose(g);
    f = fopen(fx.pairs, "w");
    RnnrtError err;
    if (!f || rnnrt_toytask_write(f, "reverse", 200, 6, 2, 5, 1, &err) != 0)
        return -1;
    fclose(f);
    const char *tag[] = {"tagger", "train", "--data", fx.lab, "--steps", "8", "--max-steps", "10", "--quiet",
                         "--ckpt", fx.tag_ckpt};
    const char *cls[] = {"classifier", "train", "--data", fx.cls, "--steps", "6", "--max-steps", "10", "--quiet",
                         "--ckpt", fx.cls_ckpt};
    const char *s2s[] = {"seq2seq", "train", fx.pairs, "--batch", "8", "--max-steps", "4", "--eval-max", "0",
                         "--threads", "1", "--quiet", "--ckpt", fx.s2s_ckpt};
    if (run_trainer(11, tag, &tagger_model, NULL) || run_trainer(11, cls, &classifier_model, NULL) ||
        run_trainer(14, s2s, NULL, &seq2seq_model))
        return -1;
    /* a checkpoint cut in half */
    char *text;
    size_t len;
    if (rnnrt_file_read(fx.cls_ckpt, 1 << 26, &text, &len, &err))
        return -1;
    f = fopen(fx.bad, "wb");
    fwrite(text, 1, len / 2, f);
    fclose(f);
    free(text);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    const char *names[] = {fx.lab, fx.cls, fx.pairs, fx.out, fx.tag_ckpt, fx.cls_ckpt, fx.s2s_ckpt, fx.bad};
    char prev[160];
    for (int i = 0; i < 8; i++) {
        remove(names[i]);
        snprintf(prev, sizeof prev, "%s.prev", names[i]);
        remove(prev);
    }
    rmdir(fx.dir);
    return 0;
}

/* ---- opening ---- */

static void test_open_refuses_bad_arguments_and_checkpoints(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtTagger *t = (RnnrtTagger *)1;
    RnnrtClassifier *c = (RnnrtClassifier *)1;
    RnnrtTranslator *tr = (RnnrtTranslator *)1;
    expect_error(rnnrt_tagger_open(NULL, fx.tag_ckpt, &tagger_model, &err), &err, 2, "handle pointer is NULL");
    expect_error(rnnrt_tagger_open(&t, NULL, &tagger_model, &err), &err, 2, "path is NULL");
    assert_null(t);
    expect_error(rnnrt_tagger_open(&t, fx.tag_ckpt, NULL, &err), &err, 2, "the model is NULL");
    expect_error(rnnrt_tagger_open(&t, fx.tag_ckpt, &classifier_model, &err), &err, 2,
                 "is a classification model, not a labelling model");
    expect_error(rnnrt_classifier_open(&c, fx.cls_ckpt, &tagger_model, &err), &err, 2,
                 "is a labelling model, not a classification model");
    assert_null(c);
    expect_error(rnnrt_classifier_open(&c, fx.tag_ckpt, &classifier_model, &err), &err, 1,
                 "is a labelling checkpoint");
    expect_error(rnnrt_classifier_open(&c, fx.bad, &classifier_model, &err), &err, 3, "truncated");
    expect_error(rnnrt_tagger_open(&t, fx.dir, &tagger_model, &err), &err, 3, fx.dir);
    expect_error(rnnrt_translator_open(NULL, fx.s2s_ckpt, &seq2seq_model, &err), &err, 2, "handle pointer");
    expect_error(rnnrt_translator_open(&tr, fx.s2s_ckpt, NULL, &err), &err, 2, "the model is NULL");
    assert_null(tr);
    expect_error(rnnrt_translator_open(&tr, fx.tag_ckpt, &seq2seq_model, &err), &err, 1, "labelling checkpoint");
    expect_error(rnnrt_translator_open(&tr, fx.bad, &seq2seq_model, &err), &err, 3, fx.bad);
    assert_null(tr);
    expect_error(rnnrt_tagger_open(&t, fx.s2s_ckpt, &tagger_model, &err), &err, 1, "seq2seq checkpoint");
}

static void test_calls_refuse_a_closed_handle(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtTagger *t;
    RnnrtClassifier *c;
    RnnrtTranslator *tr;
    assert_int_equal(rnnrt_tagger_open(&t, fx.tag_ckpt, &tagger_model, &err), 0);
    assert_int_equal(rnnrt_classifier_open(&c, fx.cls_ckpt, &classifier_model, &err), 0);
    assert_int_equal(rnnrt_translator_open(&tr, fx.s2s_ckpt, &seq2seq_model, &err), 0);
    rnnrt_tagger_close(&t);
    rnnrt_classifier_close(&c);
    rnnrt_translator_close(&tr);
    assert_null(t);
    assert_null(c);
    assert_null(tr);
    rnnrt_tagger_close(&t); /* no-ops */
    rnnrt_tagger_close(NULL);
    rnnrt_translator_close(&tr);
    RnnrtTaskInfo info;
    const char *name;
    const char *toks[] = {"a"};
    int labels[1];
    RnnrtClass k;
    RnnrtTranslation out;
    expect_error(rnnrt_tagger_info(t, &info, &err), &err, 2, "NULL");
    expect_error(rnnrt_tagger_label_name(t, 0, &name, &err), &err, 2, "NULL");
    expect_error(rnnrt_tagger_label(t, toks, 1, labels, NULL, &err), &err, 2, "NULL");
    expect_error(rnnrt_classifier_info(c, &info, &err), &err, 2, "NULL");
    expect_error(rnnrt_classify(c, "ab", 2, &k, NULL, 0, &err), &err, 2, "NULL");
    expect_error(rnnrt_translate(tr, "a", 1, 1, &out, &err), &err, 2, "NULL");
}

/* ---- calls ---- */

static void test_calls_refuse_bad_arguments(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtTagger *t;
    RnnrtClassifier *c;
    RnnrtTranslator *tr;
    assert_int_equal(rnnrt_tagger_open(&t, fx.tag_ckpt, &tagger_model, &err), 0);
    assert_int_equal(rnnrt_classifier_open(&c, fx.cls_ckpt, &classifier_model, &err), 0);
    assert_int_equal(rnnrt_translator_open(&tr, fx.s2s_ckpt, &seq2seq_model, &err), 0);
    RnnrtTaskInfo info;
    const char *name;
    const char *toks[] = {"a", NULL};
    int labels[2];
    assert_int_equal(rnnrt_tagger_info(t, &info, &err), 0);
    assert_int_equal(info.labels, 2);
    assert_int_equal(info.steps, 8);
    assert_string_equal(info.tokens, "char");
    expect_error(rnnrt_tagger_info(t, NULL, &err), &err, 2, "info is NULL");
    expect_error(rnnrt_tagger_label_name(t, 2, &name, &err), &err, 2, "outside [0, 2)");
    expect_error(rnnrt_tagger_label_name(t, -1, &name, &err), &err, 2, "outside");
    expect_error(rnnrt_tagger_label(t, NULL, 1, labels, NULL, &err), &err, 2, "NULL");
    expect_error(rnnrt_tagger_label(t, toks, 2, labels, NULL, &err), &err, 2, "tokens[1] is NULL");
    assert_int_equal(rnnrt_tagger_label(t, toks, 0, NULL, NULL, &err), 0); /* nothing to label */

    RnnrtClass k;
    double probs[3];
    expect_error(rnnrt_classify(c, "ab", 2, NULL, NULL, 0, &err), &err, 2, "out is NULL");
    expect_error(rnnrt_classify(c, "ab", 2, &k, probs, 3, &err), &err, 2, "probs has 3 entries");
    expect_error(rnnrt_classify(c, "", 0, &k, NULL, 0, &err), &err, 1, "no tokens");
    expect_error(rnnrt_classify(c, "a\xff", 2, &k, NULL, 0, &err), &err, 1, "UTF-8");
    expect_error(rnnrt_classify(c, NULL, 3, &k, NULL, 0, &err), &err, 2, "text is NULL");

    RnnrtTranslation out;
    expect_error(rnnrt_translate(tr, "a b", 3, 0, &out, &err), &err, 2, "the beam is 0");
    expect_error(rnnrt_translate(tr, "a b", 3, 65, &out, &err), &err, 2, "the beam is 65");
    expect_error(rnnrt_translate(tr, "a\tb", 3, 1, &out, &err), &err, 1, "tab");
    expect_error(rnnrt_translate(tr, "a b", 3, 1, NULL, &err), &err, 2, "out is NULL");
    expect_error(rnnrt_translator_info(tr, NULL, &err), &err, 2, "info is NULL");
    rnnrt_tagger_close(&t);
    rnnrt_classifier_close(&c);
    rnnrt_translator_close(&tr);
}

static void test_classifier_probabilities_and_tagger_pieces(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtClassifier *c;
    assert_int_equal(rnnrt_classifier_open(&c, fx.cls_ckpt, &classifier_model, &err), 0);
    const char *texts[] = {"aab", "bbbca", "c", "abababababababab"};
    for (int i = 0; i < 4; i++) {
        RnnrtClass k;
        double p[2];
        assert_int_equal(rnnrt_classify(c, texts[i], strlen(texts[i]), &k, p, 2, &err), 0);
        assert_true(fabs(p[0] + p[1] - 1) < 1e-12);
        assert_int_equal(k.label, p[1] > p[0]);
        assert_true(k.prob == p[k.label]);
        assert_int_equal(k.tokens, strlen(texts[i]) > 6 ? 6 : (int)strlen(texts[i]));
        assert_int_equal(k.truncated, strlen(texts[i]) > 6);
    }
    RnnrtClass k;
    assert_int_equal(rnnrt_classify(c, "zz", 2, &k, NULL, 0, &err), 0);
    assert_int_equal(k.unk, 2);
    rnnrt_classifier_close(&c);

    RnnrtTagger *t;
    assert_int_equal(rnnrt_tagger_open(&t, fx.tag_ckpt, &tagger_model, &err), 0);
    const char *toks[20];
    for (int i = 0; i < 20; i++)
        toks[i] = i % 7 == 3 ? "(" : i % 7 == 5 ? ")" : i == 9 ? "zz" : "a";
    int a[20], b[20];
    size_t unk;
    assert_int_equal(rnnrt_tagger_label(t, toks, 20, a, &unk, &err), 0);
    assert_int_equal(unk, 1);
    assert_int_equal(rnnrt_tagger_label(t, toks, 20, b, NULL, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    for (int i = 0; i < 20; i++)
        assert_true(a[i] == 0 || a[i] == 1);
    rnnrt_tagger_close(&t);
}

static void test_translation_attention_and_beams(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtTranslator *tr;
    assert_int_equal(rnnrt_translator_open(&tr, fx.s2s_ckpt, &seq2seq_model, &err), 0);
    RnnrtTranslatorInfo info;
    assert_int_equal(rnnrt_translator_info(tr, &info, &err), 0);
    assert_int_equal(info.steps, seq2seq_model.recipe.steps);
    assert_true(info.has_attention);
    for (int beam = 1; beam <= 4; beam += 3) {
        RnnrtTranslation out;
        assert_int_equal(rnnrt_translate(tr, "a b c zz", 8, beam, &out, &err), 0);
        assert_int_equal(out.unk, 1);
        assert_int_equal(out.nsrc, 5); /* 4 tokens and <eos> */
        assert_string_equal(out.src[3], "<unk>");
        assert_string_equal(out.src[4], "<eos>");
        assert_non_null(out.attention);
        assert_true(out.logprob <= 0);
        for (int i = 0; i < out.ntgt; i++) {
            double sum = 0;
            for (int j = 0; j < out.nsrc; j++)
                sum += out.attention[(size_t)i * out.nsrc + j];
            assert_true(fabs(sum - 1) < 1e-9);
        }
    }
    rnnrt_translator_close(&tr);
}

typedef struct {
    int beam, rc;
    char text[256];
} Job;

static void *translate_job(void *arg)
{
    Job *j = arg;
    RnnrtError err;
    RnnrtTranslator *tr;
    j->rc = rnnrt_translator_open(&tr, fx.s2s_ckpt, &seq2seq_model, &err);
    const char *src[] = {"a b c d", "e f", "b b a c e"};
    j->text[0] = '\0';
    for (int i = 0; i < 3 && !j->rc; i++) {
        RnnrtTranslation out;
        j->rc = rnnrt_translate(tr, src[i], strlen(src[i]), j->beam, &out, &err);
        if (!j->rc)
            snprintf(j->text + strlen(j->text), sizeof j->text - strlen(j->text), "%s|", out.text);
    }
    rnnrt_translator_close(&tr);
    return NULL;
}

static void test_translators_are_independent_across_threads(void **state)
{
    (void)state;
    Job want[2] = {{.beam = 1}, {.beam = 3}}, got[2] = {{.beam = 1}, {.beam = 3}};
    for (int i = 0; i < 2; i++) {
        translate_job(&want[i]);
        assert_int_equal(want[i].rc, 0);
    }
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, translate_job, &got[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(got[i].rc, 0);
        assert_string_equal(got[i].text, want[i].text);
    }
}

/* ---- allocation ---- */

static void test_task_calls_allocate_nothing_after_the_first(void **state)
{
    (void)state;
    RnnrtError err;
    RnnrtTagger *t;
    RnnrtClassifier *c;
    assert_int_equal(rnnrt_tagger_open(&t, fx.tag_ckpt, &tagger_model, &err), 0);
    assert_int_equal(rnnrt_classifier_open(&c, fx.cls_ckpt, &classifier_model, &err), 0);
    const char *toks[] = {"a", "(", "b", "c", ")", "a", "b", "(", "c", "a", ")"};
    int labels[11];
    RnnrtTranslator *tr;
    assert_int_equal(rnnrt_translator_open(&tr, fx.s2s_ckpt, &seq2seq_model, &err), 0);
    RnnrtClass k;
    double p[2];
    RnnrtTranslation out;
    for (int pass = 0; pass < 2; pass++) {
        counting = pass;
        allocations = 0;
        assert_int_equal(rnnrt_tagger_label(t, toks, 11, labels, NULL, &err), 0);
        assert_int_equal(rnnrt_classify(c, "abcabcabcabc", 12, &k, p, 2, &err), 0);
        assert_int_equal(rnnrt_classify(c, "ab", 2, &k, NULL, 0, &err), 0);
        assert_int_equal(rnnrt_translate(tr, "a b c d e", 9, 3, &out, &err), 0);
        assert_int_equal(rnnrt_translate(tr, "a b", 3, 1, &out, &err), 0);
        counting = 0;
    }
    report_blas();
    assert_int_equal(allocations, 0);
    rnnrt_tagger_close(&t);
    rnnrt_classifier_close(&c);
    rnnrt_translator_close(&tr);
}

/* ---- running out of memory ---- */

typedef int (*OpenFn)(void **h, RnnrtError *err);
typedef void (*CloseFn)(void *h);

/* Opens with the n-th allocation failing (rnnrt_alloc_fail_after), for
 * n = 1, 2, ... until the open needs fewer than n and succeeds. Every
 * failure returns 3 with "out of memory allocating" and no handle, and the
 * process goes on (it would have exited before). Returns the failures. */
static int fail_each_allocation(OpenFn open_fn, CloseFn close_fn, const char *what)
{
    for (long n = 1;; n++) {
        void *h = NULL;
        RnnrtError err = {0};
        rnnrt_alloc_fail_after(n);
        int rc = open_fn(&h, &err);
        if (rnnrt_alloc_fail_after(0) > 0) { /* no allocation failed */
            assert_int_equal(rc, 0);
            assert_non_null(h);
            close_fn(h);
            print_message("%s: each of %ld allocations failing gives code 3\n", what, n - 1);
            return (int)(n - 1);
        }
        if (rc != RNNRT_EXIT_IO || !strstr(err.msg, "out of memory allocating"))
            fail_msg("%s, allocation %ld failing: code %d, '%s'", what, n, rc, err.msg);
        assert_null(h);
    }
}

/* open_NAME and close_NAME for fail_each_allocation: the handle type's
 * open on the group's checkpoint, and its close. */
#define OPEN_CLOSE(name, Type, open, close, ckpt, model)     \
    static int open_##name(void **h, RnnrtError *err)        \
    {                                                        \
        Type *x = NULL;                                      \
        int rc = open(&x, fx.ckpt, &model, err);             \
        *h = x;                                              \
        return rc;                                           \
    }                                                        \
    static void close_##name(void *h)                        \
    {                                                        \
        Type *x = h;                                         \
        close(&x);                                           \
    }
OPEN_CLOSE(tagger, RnnrtTagger, rnnrt_tagger_open, rnnrt_tagger_close, tag_ckpt, tagger_model)
OPEN_CLOSE(classifier, RnnrtClassifier, rnnrt_classifier_open, rnnrt_classifier_close, cls_ckpt, classifier_model)
OPEN_CLOSE(translator, RnnrtTranslator, rnnrt_translator_open, rnnrt_translator_close, s2s_ckpt, seq2seq_model)

static void test_opens_report_running_out_of_memory(void **state)
{
    (void)state;
    /* more than a handful: the checkpoint, vocabularies, parameters and
     * buffers each allocate */
    assert_true(fail_each_allocation(open_tagger, close_tagger, "rnnrt_tagger_open") >= 8);
    assert_true(fail_each_allocation(open_classifier, close_classifier, "rnnrt_classifier_open") >= 8);
    assert_true(fail_each_allocation(open_translator, close_translator, "rnnrt_translator_open") >= 8);

    /* a translator's decoder is built by its first call (and rebuilt for a
     * wider beam): the same there, and the translator still works after */
    RnnrtError err;
    RnnrtTranslator *tr;
    RnnrtTranslation out, want;
    assert_int_equal(rnnrt_translator_open(&tr, fx.s2s_ckpt, &seq2seq_model, &err), 0);
    assert_int_equal(rnnrt_translate(tr, "a b c", 5, 2, &want, &err), 0);
    char *want_text = strdup(want.text);
    long n = 1;
    for (;; n++) {
        rnnrt_alloc_fail_after(n);
        int rc = rnnrt_translate(tr, "a b c", 5, 4, &out, &err); /* wider: rebuilt */
        if (rnnrt_alloc_fail_after(0) > 0) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_int_equal(rc, RNNRT_EXIT_IO);
        assert_non_null(strstr(err.msg, "out of memory allocating"));
        assert_int_equal(rnnrt_translate(tr, "a b c", 5, 2, &out, &err), 0);
        assert_string_equal(out.text, want_text);
    }
    assert_true(n > 2);
    free(want_text);
    rnnrt_translator_close(&tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_refuses_bad_arguments_and_checkpoints),
        cmocka_unit_test(test_opens_report_running_out_of_memory),
        cmocka_unit_test(test_calls_refuse_a_closed_handle),
        cmocka_unit_test(test_calls_refuse_bad_arguments),
        cmocka_unit_test(test_classifier_probabilities_and_tagger_pieces),
        cmocka_unit_test(test_translation_attention_and_beams),
        cmocka_unit_test(test_translators_are_independent_across_threads),
        cmocka_unit_test(test_task_calls_allocate_nothing_after_the_first),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
