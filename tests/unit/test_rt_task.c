/*
 * test_rt_task.c: the data side of the task heads (rnnrt_task.c): pooling
 * weights of both heads, labelling and classification files (label
 * vocabulary by count then bytes, ids, the split, padding, truncation,
 * <unk>), and the errors a bad file gets, at path:line:col.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rnnrt.h"

#define TMPDIR_NAME "test_rt_task"
#include "tmpdir.h"

static const char *write_file(const char *name, const char *data)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* A descriptor with only what the data path reads. */
static RnnrtModel model(int task, const char *tokens, double split)
{
    RnnrtModel m;
    memset(&m, 0, sizeof m);
    m.name = "t";
    m.task = task;
    m.recipe.tokens = tokens;
    m.recipe.normalize = "none";
    m.recipe.split = split;
    return m;
}

static void test_pool_weights_last_and_mean(void **state)
{
    (void)state;
    real pool[4 * 2];
    rnnrt_pool_weights(pool, 4, 2, 0, 3, RNNRT_HEAD_LAST);
    rnnrt_pool_weights(pool, 4, 2, 1, 2, RNNRT_HEAD_MEAN);
    /* [t][b]: row 0 has 1 at t = 2, row 1 has 1/2 at t = 0, 1 */
    static const real want[] = {0, 0.5, 0, 0.5, 1, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        assert_true(pool[i] == want[i]);
}

static void test_valid_mask_marks_the_valid_steps(void **state)
{
    (void)state;
    real mask[4 * 2];
    rnnrt_valid_mask(mask, 4, 2, 0, 3);
    rnnrt_valid_mask(mask, 4, 2, 1, 1);
    /* [t][b]: row 0 valid at t = 0..2, row 1 at t = 0 */
    static const real want[] = {1, 1, 1, 0, 1, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        assert_true(mask[i] == want[i]);
}

static void test_labelling_vocab_ids_and_split(void **state)
{
    (void)state;
    RnnrtModel m = model(RNNRT_TASK_LABELLING, "char", 0.8);
    /* 5 tokens: 4 train (a b a c), 1 valid (z, unseen -> <unk>) */
    const char *path = write_file("tag.txt", "a\tN\nb\tV\n\na\tN\nc\tV\r\nz\tN\n");
    RnnrtTaskData d;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_task_data_load(&d, &m, path, 8, NULL, NULL, &err), 0);
    assert_int_equal(d.n, 5);
    assert_int_equal(d.ntrain, 4);
    /* labels: N and V twice each in training: ties in byte order */
    assert_int_equal(d.labels.size, 2);
    assert_string_equal(d.labels.tokens[0], "N");
    assert_string_equal(d.labels.tokens[1], "V");
    /* tokens: specials, then a (2), b, c (1 each) */
    assert_int_equal(d.vocab.size, 7);
    assert_string_equal(d.vocab.tokens[4], "a");
    static const int32_t x[] = {4, 5, 4, 6, RNNRT_UNK}, y[] = {0, 1, 0, 1, 0};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(d.x[i], x[i]);
        assert_int_equal(d.y[i], y[i]);
    }
    assert_int_equal(d.unk_valid, 1);
    rnnrt_task_data_free(&d);
}

static void test_min_freq_drops_rare_tokens(void **state)
{
    (void)state;
    RnnrtModel m = model(RNNRT_TASK_LABELLING, "char", 0.75);
    m.recipe.min_freq = 2;
    const char *path = write_file("rare.txt", "a\tN\nb\tN\na\tN\nb\tN\n");
    RnnrtTaskData d;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_task_data_load(&d, &m, path, 8, NULL, NULL, &err), 0);
    /* training: a a b -> b (once) is dropped and becomes <unk> */
    assert_int_equal(d.vocab.size, 5);
    assert_int_equal(d.x[1], RNNRT_UNK);
    assert_int_equal(d.x[3], RNNRT_UNK);
    assert_int_equal(d.unk_valid, 1);
    rnnrt_task_data_free(&d);
}

static void test_classification_pads_truncates_and_counts(void **state)
{
    (void)state;
    RnnrtModel m = model(RNNRT_TASK_CLASSIFICATION, "char", 0.5);
    const char *path = write_file("cls.txt", "pos\tabcde\nneg\tab\nneg\tba\npos\tzzzzzz\n");
    RnnrtTaskData d;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_task_data_load(&d, &m, path, 4, NULL, NULL, &err), 0);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.ntrain, 2);
    assert_int_equal(d.truncated, 2); /* abcde and zzzzzz */
    assert_string_equal(d.labels.tokens[0], "neg"); /* 1 each: byte order */
    static const int32_t len[] = {4, 2, 2, 4};
    for (int i = 0; i < 4; i++)
        assert_int_equal(d.len[i], len[i]);
    /* row 1 "ab" then <pad>; row 3 is all <unk> (z only in validation) */
    int a = rnnrt_vocab_find(&d.vocab, "a", 1), b = rnnrt_vocab_find(&d.vocab, "b", 1);
    assert_true(a >= 4 && b >= 4);
    static const int32_t pad[] = {RNNRT_PAD, RNNRT_PAD};
    assert_int_equal(d.x[4], a);
    assert_int_equal(d.x[5], b);
    assert_memory_equal(d.x + 6, pad, sizeof pad);
    for (int t = 0; t < 4; t++)
        assert_int_equal(d.x[12 + t], RNNRT_UNK);
    assert_int_equal(d.y[0], rnnrt_vocab_find(&d.labels, "pos", 3));
    rnnrt_task_data_free(&d);
}

/* Loading `text` fails with exit 1 and the message "<path>:<where>...". */
static void expect_error(int task, const char *tokens, const char *text, const char *where, const char *msg)
{
    RnnrtModel m = model(task, tokens, 0.5);
    const char *path = write_file("bad.txt", text);
    RnnrtTaskData d;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_task_data_load(&d, &m, path, 4, NULL, NULL, &err), RNNRT_EXIT_DATA);
    char want[600];
    snprintf(want, sizeof want, "%s%s", path, where);
    if (strcmp(err.where, want) || !strstr(err.msg, msg))
        fail_msg("got \"%s: %s\", expected \"%s: ...%s...\"", err.where, err.msg, want, msg);
}

static void test_bad_files_are_errors_at_their_place(void **state)
{
    (void)state;
    int L = RNNRT_TASK_LABELLING, C = RNNRT_TASK_CLASSIFICATION;
    expect_error(L, "char", "a\tX\nb X\n", ":2:4", "expected `token<TAB>label`, but the line has no tab");
    expect_error(L, "char", "a\tX\n\tY\n", ":2:1", "the token is empty");
    expect_error(L, "char", "a\tX\nb\t\n", ":2:3", "the label is empty");
    expect_error(L, "char", "ab\tX\n", ":1:1", "with one character as the token");
    expect_error(L, "word", "a\tX\nb\tY\n", ":2:3", "label 'Y' does not occur in the training split");
    expect_error(L, "char", "\n\n", "", "no data lines");
    expect_error(L, "char", "a\tX\n", "", "leave an empty training or validation split");
    expect_error(C, "char", "x\tab\ny\n", ":2:2", "expected `label<TAB>text`, but the line has no tab");
    expect_error(C, "char", "x\tab\n\tab\n", ":2:1", "the label is empty");
    expect_error(C, "char", "x\tab\ny\t\n", ":2:3", "the text is empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_weights_last_and_mean),
        cmocka_unit_test(test_valid_mask_marks_the_valid_steps),
        cmocka_unit_test(test_labelling_vocab_ids_and_split),
        cmocka_unit_test(test_min_freq_drops_rare_tokens),
        cmocka_unit_test(test_classification_pads_truncates_and_counts),
        cmocka_unit_test(test_bad_files_are_errors_at_their_place),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
