/*
 * test_rt_words.c: the word tokenizer (rnnrt_words.c), word vocabularies
 * with min_freq (rnnrt_vocab.c) and `tokens: word` corpora
 * (rnnrt_corpus_load_recipe). Expected token lists are written out by hand
 * from the rule in rnnrt.h.
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

#define TMPDIR_NAME "test_rt_words"
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

/* Lowercases and splits `in`; the tokens joined by '|' must be `want`. */
static void check_words(const char *in, const char *want)
{
    char text[512], got[1024] = "";
    size_t len = strlen(in);
    memcpy(text, in, len + 1);
    rnnrt_words_lower(text, len);
    size_t n = rnnrt_words_split(text, len, NULL, 0);
    RnnrtToken tok[128];
    assert_true(n <= 128);
    assert_int_equal(rnnrt_words_split(text, len, tok, 128), n);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(got, "|");
        strncat(got, text + tok[i].off, tok[i].len);
    }
    if (strcmp(got, want))
        fail_msg("'%s' -> '%s', expected '%s'", in, got, want);
}

static void test_words_lowercase_and_punctuation(void **state)
{
    (void)state;
    check_words("Don't stop--now, caf\xc3\xa9!", "don't|stop|-|-|now|,|caf\xc3\xa9|!");
    check_words("  Hello,  World.  ", "hello|,|world|.");
    check_words("", "");
    check_words(" \t\n\r ", "");
    check_words("a_b c-d (e)", "a|_|b|c|-|d|(|e|)");
    check_words("1984 3rd 2.5", "1984|3rd|2|.|5");
    check_words("\"quoted\"", "\"|quoted|\"");
}

static void test_words_apostrophes(void **state)
{
    (void)state;
    check_words("o'clock rock'n'roll", "o'clock|rock'n'roll");
    check_words("'tis the dogs' bone", "'|tis|the|dogs|'|bone");
    check_words("can''t", "can|'|'|t");
    check_words("'", "'");
    /* U+2019 RIGHT SINGLE QUOTATION MARK behaves like ' */
    check_words("don\xe2\x80\x99t \xe2\x80\x99x", "don\xe2\x80\x99t|\xe2\x80\x99|x");
}

static void test_words_utf8(void **state)
{
    (void)state;
    /* Latin-1 capitals lower; the multiplication sign is punctuation */
    check_words("\xc3\x89T\xc3\x89 \xc3\x97 \xc3\x9e", "\xc3\xa9t\xc3\xa9|\xc3\x97|\xc3\xbe");
    /* curly quotes, em dash, ellipsis, guillemets split */
    check_words("\xe2\x80\x9cHi\xe2\x80\x9d\xe2\x80\x94yes\xe2\x80\xa6 \xc2\xabok\xc2\xbb",
                "\xe2\x80\x9c|hi|\xe2\x80\x9d|\xe2\x80\x94|yes|\xe2\x80\xa6|\xc2\xab|ok|\xc2\xbb");
    /* non-breaking and ideographic spaces separate */
    check_words("a\xc2\xa0" "b\xe3\x80\x80" "c", "a|b|c");
    /* other scripts are words, left as they are (no case mapping) */
    check_words("\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1 \xe6\x97\xa5\xe6\x9c\xac",
                "\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1|\xe6\x97\xa5\xe6\x9c\xac");
    /* control characters separate; a stray byte is a word character */
    check_words("a\x01" "b\x7f" "c \xff", "a|b|c|\xff");
}

static void test_words_split_respects_max(void **state)
{
    (void)state;
    const char *t = "a b c d";
    RnnrtToken tok[2] = {{9, 9}, {9, 9}};
    assert_int_equal(rnnrt_words_split(t, 7, tok, 1), 4);
    assert_int_equal(tok[0].off, 0);
    assert_int_equal(tok[0].len, 1);
    assert_int_equal(tok[1].off, 9); /* untouched */
}

/* "the cat . the dog . the end" */
static void test_vocab_words_min_freq(void **state)
{
    (void)state;
    const char *text = "the cat . the dog . the end";
    RnnrtToken tok[16];
    size_t n = rnnrt_words_split(text, strlen(text), tok, 16);
    assert_int_equal(n, 8);
    RnnrtVocab v;
    assert_int_equal(rnnrt_vocab_build_words(&v, text, tok, n, 1), 5);
    assert_int_equal(v.size, 4 + 5);
    static const char *const order[] = {"the", ".", "cat", "dog", "end"};
    static const int64_t counts[] = {3, 2, 1, 1, 1};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(v.tokens[4 + i], order[i]);
        assert_int_equal(v.counts[4 + i], counts[i]);
    }
    assert_string_equal(v.tokens[RNNRT_UNK], "<unk>");
    assert_string_equal(v.tokens[RNNRT_EOS], "<eos>");
    int32_t ids[8];
    size_t unk = 0;
    rnnrt_vocab_encode_words(&v, text, tok, n, ids, &unk);
    int32_t want[] = {4, 6, 5, 4, 7, 5, 4, 8};
    assert_memory_equal(ids, want, sizeof want);
    assert_int_equal(unk, 0);
    rnnrt_vocab_free(&v);

    assert_int_equal(rnnrt_vocab_build_words(&v, text, tok, n, 2), 5);
    assert_int_equal(v.size, 4 + 2);
    assert_string_equal(v.tokens[4], "the");
    assert_string_equal(v.tokens[5], ".");
    rnnrt_vocab_encode_words(&v, text, tok, n, ids, &unk);
    int32_t want2[] = {4, 0, 5, 4, 0, 5, 4, 0};
    assert_memory_equal(ids, want2, sizeof want2);
    assert_int_equal(unk, 3);
    rnnrt_vocab_free(&v);

    assert_int_equal(rnnrt_vocab_build_words(&v, text, tok, n, 4), 5);
    assert_int_equal(v.size, 4);
    rnnrt_vocab_free(&v);
}

static void test_vocab_prune_keeps_order_and_specials(void **state)
{
    (void)state;
    RnnrtVocab v;
    rnnrt_vocab_build_chars(&v, "aaabbc", 6);
    assert_int_equal(v.size, 7);
    assert_int_equal(rnnrt_vocab_prune(&v, 1), 0);
    assert_int_equal(rnnrt_vocab_prune(&v, 2), 1);
    assert_int_equal(v.size, 6);
    assert_string_equal(v.tokens[4], "a");
    assert_string_equal(v.tokens[5], "b");
    assert_int_equal(rnnrt_vocab_find(&v, "c", 1), -1);
    assert_int_equal(rnnrt_vocab_find(&v, "b", 1), 5);
    assert_int_equal(rnnrt_vocab_find(&v, "<pad>", 5), RNNRT_PAD);
    rnnrt_vocab_free(&v);
}

static RnnrtRecipe word_recipe(int min_freq)
{
    RnnrtRecipe r;
    memset(&r, 0, sizeof r);
    r.tokens = "word";
    r.normalize = "none";
    r.split = 0.75;
    r.min_freq = min_freq;
    return r;
}

static void test_corpus_words_split_and_unknowns(void **state)
{
    (void)state;
    /* 8 tokens: train = the first 6 */
    const char *p = write_file("w.txt", "The cat. The dog.\nThe end");
    RnnrtRecipe r = word_recipe(0);
    RnnrtCorpus c;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_corpus_load_recipe(&c, p, &r, NULL, &err), 0);
    assert_int_equal(c.n, 8);
    assert_int_equal(c.ntrain, 6);
    assert_int_equal(c.vocab.size, 4 + 4); /* . the (2 each: byte order) cat dog */
    assert_string_equal(c.vocab.tokens[4], ".");
    assert_string_equal(c.vocab.tokens[5], "the");
    int32_t want[] = {5, 6, 4, 5, 7, 4, 5, 0};
    assert_memory_equal(c.ids, want, sizeof want);
    assert_int_equal(c.unk_train, 0);
    assert_int_equal(c.unk_valid, 1);
    /* min_freq 2: cat and dog become <unk> too */
    RnnrtCorpus d;
    r.min_freq = 2;
    assert_int_equal(rnnrt_corpus_load_recipe(&d, p, &r, NULL, &err), 0);
    assert_int_equal(d.vocab.size, 4 + 2);
    assert_int_equal(d.unk_train, 2);
    assert_true(c.hash == d.hash);
    rnnrt_corpus_free(&d);
    /* through a given vocabulary (resume, eval) min_freq does not apply */
    assert_int_equal(rnnrt_corpus_load_recipe(&d, p, &r, &c.vocab, &err), 0);
    assert_memory_equal(d.ids, c.ids, sizeof want);
    rnnrt_corpus_free(&d);
    rnnrt_corpus_free(&c);
}

static void test_corpus_min_freq_leaving_nothing_is_an_error(void **state)
{
    (void)state;
    const char *p = write_file("once.txt", "every word here is new .");
    RnnrtRecipe r = word_recipe(2);
    RnnrtCorpus c;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_corpus_load_recipe(&c, p, &r, NULL, &err), RNNRT_EXIT_DATA);
    if (!strstr(err.msg, "min_freq 2 leaves an empty vocabulary: none of the 4 distinct "
                         "word tokens"))
        fail_msg("message: %s", err.msg);
    assert_null(c.ids);
    r.tokens = "char";
    r.min_freq = 100;
    assert_int_equal(rnnrt_corpus_load_recipe(&c, p, &r, NULL, &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "character tokens"));
    r.min_freq = 3; /* 'e' 4 times, 'r' and ' ' 3 in the first 18 characters */
    assert_int_equal(rnnrt_corpus_load_recipe(&c, p, &r, NULL, &err), 0);
    assert_int_equal(rnnrt_vocab_find(&c.vocab, "v", 1), -1);
    assert_true(rnnrt_vocab_find(&c.vocab, "e", 1) >= 4);
    assert_true(c.unk_train > 0);
    rnnrt_corpus_free(&c);
}

/* Normalization runs before the word rule: letters drops the punctuation. */
static void test_corpus_words_after_normalize(void **state)
{
    (void)state;
    const char *p = write_file("n.txt", "It's A test, a TEST; it's.");
    RnnrtRecipe r = word_recipe(1);
    r.normalize = "letters";
    r.split = 0.5;
    RnnrtCorpus c;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_corpus_load_recipe(&c, p, &r, NULL, &err), 0);
    /* "it s a test a test it s" */
    assert_int_equal(c.n, 8);
    assert_int_equal(c.ntrain, 4);
    assert_string_equal(c.vocab.tokens[4], "a");
    rnnrt_corpus_free(&c);
}

static void test_corpus_timemachine_words(void **state)
{
    (void)state;
    char path[1200];
    const char *src = getenv("RNNC_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/../shared/data/timemachine.txt", src ? src : ".");
    if (access(path, R_OK) != 0) {
        print_message("skipped: %s not found\n", path);
        skip();
    }
    RnnrtRecipe r = word_recipe(1);
    r.split = 0.9;
    RnnrtCorpus all, some;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_corpus_load_recipe(&all, path, &r, NULL, &err), 0);
    r.min_freq = 5;
    assert_int_equal(rnnrt_corpus_load_recipe(&some, path, &r, NULL, &err), 0);
    print_message("timemachine: %zu words, vocabulary %d (min_freq 1), %d (min_freq 5)\n",
                  all.n, all.vocab.size, some.vocab.size);
    assert_int_equal(all.n, some.n);
    assert_true(some.vocab.size < all.vocab.size / 2);
    int the = rnnrt_vocab_find(&all.vocab, "the", 3);
    assert_true(the >= 4 && the < 7); /* with "," and "." at the top */
    for (int i = 4; i < some.vocab.size; i++)
        assert_true(some.vocab.counts[i] >= 5);
    rnnrt_corpus_free(&all);
    rnnrt_corpus_free(&some);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_lowercase_and_punctuation),
        cmocka_unit_test(test_words_apostrophes),
        cmocka_unit_test(test_words_utf8),
        cmocka_unit_test(test_words_split_respects_max),
        cmocka_unit_test(test_vocab_words_min_freq),
        cmocka_unit_test(test_vocab_prune_keeps_order_and_specials),
        cmocka_unit_test(test_corpus_words_split_and_unknowns),
        cmocka_unit_test(test_corpus_min_freq_leaving_nothing_is_an_error),
        cmocka_unit_test(test_corpus_words_after_normalize),
        cmocka_unit_test(test_corpus_timemachine_words),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
