/*
 * test_rt_corpus_files.c: the data keys of issue 13 on a tiny
 * Penn-Treebank-style corpus written here (one sentence per line, tokens
 * separated by spaces, unknown words written as <unk>): `tokens:
 * whitespace`, <eos> at line ends, a literal <unk>, max_vocab, and
 * validation and test files (rnnrt_corpus_load_recipe).
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

#define TMPDIR_NAME "test_rt_corpus_files"
#include "tmpdir.h"

static char *write_file(const char *name, const char *data)
{
    char *path = malloc(512);
    assert_non_null(path);
    snprintf(path, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* 4 lines, 19 tokens; counts: the 5, cat 3, <unk> 3 (a special), sat 2,
 * dog 2, a 1, N 1, "don't" 1, "U.S." 1. The last line has no "\n". The
 * first 90% (20 of 23 with <eos>) end after "cat" of the last line: the 4,
 * cat 3, sat 2, dog 1. */
static const char train_text[] =
    " the cat sat <unk> \n"
    "the dog sat N\n"
    "the cat <unk> don't a\n"
    "the <unk> U.S. cat dog the";

static RnnrtRecipe ptb_recipe(void)
{
    RnnrtRecipe r = {0};
    r.tokens = "whitespace";
    r.normalize = "none";
    r.split = 0.9;
    r.eos = 1;
    return r;
}

static size_t count_id(const int32_t *ids, size_t n, int32_t id)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ids[i] == id;
    return k;
}

static void test_whitespace_tokens_keep_what_is_written(void **state)
{
    (void)state;
    const char *text = "  Don't <unk>\tN.Y. café\r\nx ";
    RnnrtToken tok[16];
    size_t n = rnnrt_words_split_ws(text, strlen(text), tok, 16);
    const char *want[] = {"Don't", "<unk>", "N.Y.", "café", "x"};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tok[i].len, strlen(want[i]));
        assert_memory_equal(text + tok[i].off, want[i], tok[i].len);
    }
    /* <eos> after each line, the last line without "\n" included; an
     * empty line is a line (Python's `for line in f` and torch's
     * word_language_model data.py) */
    const char *lines = "a b\n\nc";
    n = rnnrt_tokens_split(RNNRT_TOKENS_WHITESPACE, 1, lines, strlen(lines),
                           tok, 16);
    assert_int_equal(n, 6); /* a b <eos> <eos> c <eos> */
    assert_int_equal(tok[2].len, 0);
    assert_int_equal(tok[3].len, 0);
    assert_int_equal(tok[4].off, 5);
    assert_int_equal(tok[5].len, 0);
    assert_int_equal(rnnrt_tokens_split(RNNRT_TOKENS_WHITESPACE, 1, "x\n", 2,
                                        NULL, 0), 2);
}

static void test_word_tokenizer_keeps_unk_whole(void **state)
{
    (void)state;
    char text[] = "a<unk> <unk>b don't";
    RnnrtToken tok[16];
    size_t n = rnnrt_words_split(text, strlen(text), tok, 16);
    const char *want[] = {"a", "<unk>", "<unk>", "b", "don't"};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tok[i].len, strlen(want[i]));
        assert_memory_equal(text + tok[i].off, want[i], tok[i].len);
    }
}

static void test_ptb_vocab_unk_and_eos(void **state)
{
    (void)state;
    char *path = write_file("ptb.train.txt", train_text);
    char *valid = write_file("ptb.valid.txt", "the cat zebra\n<unk> dog\n");
    char *test = write_file("ptb.test.txt", "the the\nsat\nN U.S.\n");
    RnnrtRecipe r = ptb_recipe();
    r.valid = valid;
    r.test = test;
    RnnrtCorpus c;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_corpus_load_recipe(&c, path, &r, NULL, &err), 0);
    /* 4 specials + the cat sat dog a N don't U.S. (the <unk>s are the
     * special, <eos> too) */
    assert_int_equal(c.vocab.size, 4 + 8);
    const char *order[] = {"the", "cat", "dog", "sat", "N", "U.S.", "a",
                           "don't"};
    for (int i = 0; i < 8; i++)
        assert_string_equal(c.vocab.tokens[4 + i], order[i]);
    /* the whole file trains: 19 tokens and 4 <eos> */
    assert_int_equal(c.ntrain, 23);
    assert_int_equal(count_id(c.ids, c.ntrain, RNNRT_EOS), 4);
    assert_int_equal(count_id(c.ids, c.ntrain, RNNRT_UNK), 3);
    assert_int_equal(c.unk_train, 0); /* a literal <unk> is not "missing" */
    assert_int_equal(c.vocab.counts[RNNRT_EOS], 4);
    assert_int_equal(c.vocab.counts[RNNRT_UNK], 3);
    /* validation: the cat zebra <eos> <unk> dog <eos> */
    assert_int_equal(c.n - c.ntrain, 7);
    const int32_t *v = c.ids + c.ntrain;
    assert_int_equal(v[0], 4);
    assert_int_equal(v[2], RNNRT_UNK); /* zebra */
    assert_int_equal(v[3], RNNRT_EOS);
    assert_int_equal(v[4], RNNRT_UNK); /* <unk> */
    assert_int_equal(c.unk_valid, 1);
    /* test: 3 lines */
    assert_int_equal(c.ntest, 8);
    assert_int_equal(count_id(c.test, c.ntest, RNNRT_EOS), 3);
    assert_int_equal(c.unk_test, 0);
    uint64_t hash = c.hash;
    rnnrt_corpus_free(&c);
    /* the validation file is part of the corpus hash (resume checks it) */
    r.valid = path;
    assert_int_equal(rnnrt_corpus_load_recipe(&c, path, &r, NULL, &err), 0);
    assert_true(c.hash != hash);
    rnnrt_corpus_free(&c);
    free(path);
    free(valid);
    free(test);
}

static void test_max_vocab_most_frequent_ties_in_byte_order(void **state)
{
    (void)state;
    char *path = write_file("cap.txt", train_text);
    RnnrtRecipe r = ptb_recipe();
    r.max_vocab = 7; /* the, cat, sat of the first 90% */
    RnnrtCorpus c;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_corpus_load_recipe(&c, path, &r, NULL, &err), 0);
    assert_int_equal(c.vocab.size, 7);
    assert_string_equal(c.vocab.tokens[4], "the");
    assert_string_equal(c.vocab.tokens[5], "cat");
    assert_string_equal(c.vocab.tokens[6], "sat");
    /* dog, N, don't, a, U.S. (1 each) are <unk> now */
    assert_int_equal(c.unk_train, 5);
    assert_int_equal(rnnrt_vocab_find(&c.vocab, "dog", 3), -1);
    rnnrt_corpus_free(&c);
    /* with min_freq: both apply */
    r.max_vocab = 100;
    r.min_freq = 2;
    assert_int_equal(rnnrt_corpus_load_recipe(&c, path, &r, NULL, &err), 0);
    assert_int_equal(c.vocab.size, 4 + 3); /* the cat sat */
    assert_string_equal(c.vocab.tokens[6], "sat");
    rnnrt_corpus_free(&c);
    /* characters take the cap too */
    r = ptb_recipe();
    r.tokens = "char";
    r.eos = 0;
    r.max_vocab = 5;
    assert_int_equal(rnnrt_corpus_load_recipe(&c, path, &r, NULL, &err), 0);
    assert_int_equal(c.vocab.size, 5);
    assert_string_equal(c.vocab.tokens[4], " ");
    rnnrt_corpus_free(&c);
    free(path);
}

static void test_bad_values_are_errors_naming_the_file(void **state)
{
    (void)state;
    char *path = write_file("bad.txt", train_text);
    RnnrtRecipe r = ptb_recipe();
    RnnrtCorpus c;
    RnnrtError err = {0};
    r.max_vocab = 4;
    assert_int_equal(rnnrt_corpus_load_recipe(&c, path, &r, NULL, &err),
                     RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "max_vocab 4 leaves no room"));
    r = ptb_recipe();
    r.tokens = "char";
    assert_int_equal(rnnrt_corpus_load_recipe(&c, path, &r, NULL, &err),
                     RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "eos needs word or whitespace tokens"));
    r = ptb_recipe();
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no-such-valid.txt", tmpdir);
    r.valid = missing;
    assert_int_equal(rnnrt_corpus_load_recipe(&c, path, &r, NULL, &err),
                     RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, "the validation file: cannot open"));
    assert_non_null(strstr(err.msg, "no-such-valid.txt"));
    r = ptb_recipe();
    r.test = missing;
    assert_int_equal(rnnrt_corpus_load_recipe(&c, path, &r, NULL, &err),
                     RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, "the test file: cannot open"));
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whitespace_tokens_keep_what_is_written),
        cmocka_unit_test(test_word_tokenizer_keeps_unk_whole),
        cmocka_unit_test(test_ptb_vocab_unk_and_eos),
        cmocka_unit_test(test_max_vocab_most_frequent_ties_in_byte_order),
        cmocka_unit_test(test_bad_values_are_errors_naming_the_file),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
