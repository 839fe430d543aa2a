/*
 * test_rt_text.c: librnnrt's data path: reading files, the UTF-8 gate,
 * normalization (against Python's re.sub("[^a-z]+", " ", t.lower())
 * .strip(), expected values computed with CPython 3), the char vocabulary,
 * the corpus split, and LM batching (sequential windows against a hand
 * computation, random sampling's offsets and shuffles).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rnnrt.h"

#define TMPDIR_NAME "test_rt_text"
#include "tmpdir.h"

static const char *write_file(const char *name, const char *data, size_t n)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* ---- normalization ---- */

static void check_norm(const char *in, RnnrtNorm mode, const char *want)
{
    char buf[256];
    size_t n = strlen(in);
    memcpy(buf, in, n + 1);
    n = rnnrt_text_normalize(buf, n, mode);
    buf[n] = '\0';
    if (strcmp(buf, want))
        fail_msg("normalize(\"%s\") = \"%s\", expected \"%s\"", in, buf, want);
}

static void test_normalize_letters_matches_python(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", ""},
        {"   ", ""},
        {"Hello, World!", "hello world"},
        {"  The Time-Machine\n\n", "the time machine"},
        {"a1b2c3", "a b c"},
        {"\xc3\x84\xc3\x96\xc3\x9c abc", "abc"},
        {"\xc4\xb0stanbul", "i stanbul"}, /* U+0130 -> i U+0307 */
        {"\xe2\x84\xaa" "elvin", "kelvin"}, /* U+212A KELVIN SIGN */
        {"x\xc4\xb0y", "xi y"},
        {"\xc4\xb0", "i"},
        {"tab\tand\nnewline", "tab and newline"},
        {"---", ""},
        {"A", "a"},
        {"mixed CASE   spaces  ", "mixed case spaces"},
        {"caf\xc3\xa9 na\xc3\xafve", "caf na ve"},
        {"end.", "end"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_norm(cases[i][0], RNNRT_NORM_LETTERS, cases[i][1]);
}

static void test_normalize_lower_and_none(void **state)
{
    (void)state;
    check_norm("Hello, W\xc3\x84rld!", RNNRT_NORM_LOWER,
               "hello, w\xc3\x84rld!");
    check_norm("Hello, World!", RNNRT_NORM_NONE, "Hello, World!");
    RnnrtNorm m;
    assert_int_equal(rnnrt_norm_parse("letters", &m), 0);
    assert_int_equal(m, RNNRT_NORM_LETTERS);
    assert_int_equal(rnnrt_norm_parse("upper", &m), -1);
}

/* ---- UTF-8 ---- */

static void test_utf8_check_reports_line_and_column(void **state)
{
    (void)state;
    RnnrtError err = {0};
    const char *text = "ab\ncd\xff" "e";
    assert_int_equal(rnnrt_utf8_check(text, strlen(text), "c.txt", 0, &err),
                     RNNRT_EXIT_DATA);
    assert_string_equal(err.where, "c.txt:2:3");
    assert_non_null(strstr(err.msg, "0xFF"));
    assert_non_null(strstr(err.msg, "byte offset 5"));
}

static void test_utf8_check_rejects_malformed_sequences(void **state)
{
    (void)state;
    const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "x\xe2\x82",
                         "\xf4\x90\x80\x80", "\x80", "\xe0\x80\x80",
                         "\xf8\x88\x80\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        RnnrtError err = {0};
        if (rnnrt_utf8_check(bad[i], strlen(bad[i]), "f", 0, &err) == 0)
            fail_msg("case %zu accepted", i);
    }
    const char *good = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                       "\xf4\x8f\xbf\xbf";
    assert_int_equal(rnnrt_utf8_check(good, strlen(good), "f", 0, NULL), 0);
    assert_int_equal(rnnrt_utf8_count(good, strlen(good)), 10);
}

static void test_utf8_check_nul_only_when_allowed(void **state)
{
    (void)state;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_utf8_check("a\0b", 3, "f", 0, &err),
                     RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "NUL"));
    assert_string_equal(err.where, "f:1:2");
    assert_int_equal(rnnrt_utf8_check("a\0b", 3, "f", 1, &err), 0);
}

/* ---- vocabulary ---- */

static void test_vocab_orders_by_count_then_bytes(void **state)
{
    (void)state;
    RnnrtVocab v;
    const char *text = "hello wo";
    rnnrt_vocab_build_chars(&v, text, strlen(text));
    const char *want[] = {"<unk>", "<pad>", "<bos>", "<eos>", "l", "o", " ",
                          "e", "h", "w"};
    assert_int_equal(v.size, 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(v.tokens[i], want[i]);
    assert_int_equal(v.counts[4], 2);
    assert_int_equal(v.counts[9], 1);
    assert_int_equal(rnnrt_vocab_find(&v, "w", 1), 9);
    assert_int_equal(rnnrt_vocab_find(&v, "z", 1), -1);
    assert_int_equal(rnnrt_vocab_add(&v, "w", 1, 5), -1);
    rnnrt_vocab_free(&v);
}

static void test_vocab_multibyte_characters(void **state)
{
    (void)state;
    RnnrtVocab v;
    const char *text = "\xc3\xa9\xc3\xa9" "a\xe2\x82\xac";
    rnnrt_vocab_build_chars(&v, text, strlen(text));
    assert_int_equal(v.size, 7);
    assert_string_equal(v.tokens[4], "\xc3\xa9");
    assert_string_equal(v.tokens[5], "a");
    assert_string_equal(v.tokens[6], "\xe2\x82\xac");
    int32_t ids[8];
    size_t unk = 0;
    const char *enc = "a\xc3\xa9z\xe2\x82\xac";
    size_t n = rnnrt_vocab_encode_chars(&v, enc, strlen(enc), ids, 8, &unk);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], 5);
    assert_int_equal(ids[1], 4);
    assert_int_equal(ids[2], RNNRT_UNK);
    assert_int_equal(ids[3], 6);
    assert_int_equal(unk, 1);
    rnnrt_vocab_free(&v);
}

static void test_vocab_many_tokens_grow_the_table(void **state)
{
    (void)state;
    RnnrtVocab v;
    rnnrt_vocab_init(&v);
    char tok[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(tok, sizeof tok, "t%d", i);
        assert_int_equal(rnnrt_vocab_add(&v, tok, strlen(tok), i), i + 4);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(tok, sizeof tok, "t%d", i);
        assert_int_equal(rnnrt_vocab_find(&v, tok, strlen(tok)), i + 4);
    }
    assert_int_equal(rnnrt_vocab_find(&v, "<eos>", 5), RNNRT_EOS);
    rnnrt_vocab_free(&v);
}

/* ---- files and corpus ---- */

static void test_file_read_errors_name_the_path(void **state)
{
    (void)state;
    RnnrtError err = {0};
    char *data;
    size_t n;
    assert_int_equal(rnnrt_file_read("/nonexistent/corpus.txt", 100, &data, &n,
                                     &err), RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/corpus.txt"));
    assert_non_null(strstr(err.msg, strerror(ENOENT)));
    assert_int_equal(rnnrt_file_read(tmpdir, 100, &data, &n, &err),
                     RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, strerror(EISDIR)));
    const char *p = write_file("big.txt", "0123456789abcdef", 16);
    assert_int_equal(rnnrt_file_read(p, 10, &data, &n, &err), RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, "limit"));
    assert_int_equal(rnnrt_file_read(p, 16, &data, &n, &err), 0);
    assert_int_equal(n, 16);
    assert_int_equal(data[16], '\0');
    free(data);
}

static void test_read_dir_sorted_regular_files_only(void **state)
{
    (void)state;
    char dir[512], path[600], target[600];
    snprintf(dir, sizeof dir, "%s/licenses", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/b", dir);
    FILE *f = fopen(path, "w");
    fputs("BBB", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/a", dir);
    f = fopen(path, "w");
    fputs("AA", f);
    fclose(f);
    snprintf(target, sizeof target, "%s/c", dir);
    assert_int_equal(symlink(path, target), 0);
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    char *data;
    size_t n;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_text_read_dir(dir, &data, &n, &err), 0);
    assert_int_equal(n, 6);
    assert_string_equal(data, "AA\nBBB");
    free(data);
}

static void test_corpus_split_vocab_and_unknowns(void **state)
{
    (void)state;
    const char *text = "Hello, World! Hello!";
    const char *p = write_file("small.txt", text, strlen(text));
    RnnrtCorpus c;
    RnnrtError err = {0};
    /* "hello world hello": 17 tokens, train = first floor(8.5) = 8 */
    assert_int_equal(rnnrt_corpus_load(&c, p, "char", "letters", 0.5, NULL,
                                       &err), 0);
    assert_int_equal(c.n, 17);
    assert_int_equal(c.ntrain, 8);
    assert_int_equal(c.vocab.size, 10);
    assert_int_equal(c.unk_valid, 2); /* 'r' and 'd' */
    assert_int_equal(c.unk_train, 0);
    int32_t want[] = {8, 7, 4, 4, 5, 6, 9, 5, 0, 4, 0, 6, 8, 7, 4, 4, 5};
    for (int i = 0; i < 17; i++)
        assert_int_equal(c.ids[i], want[i]);
    /* the same corpus through a given vocabulary */
    RnnrtCorpus d;
    assert_int_equal(rnnrt_corpus_load(&d, p, "char", "letters", 0.9,
                                       &c.vocab, &err), 0);
    assert_int_equal(d.n, 17);
    assert_int_equal(d.ntrain, 15);
    assert_int_equal(d.unk_train, 2);
    assert_memory_equal(d.ids, c.ids, 17 * sizeof *c.ids);
    assert_true(c.hash == d.hash);
    rnnrt_corpus_free(&d);
    rnnrt_corpus_free(&c);
}

static void test_corpus_rejects_unknown_tokens_and_bad_utf8(void **state)
{
    (void)state;
    const char *p = write_file("w.txt", "abc", 3);
    RnnrtCorpus c;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_corpus_load(&c, p, "bpe", "none", 0.9, NULL, &err),
                     RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "unknown tokenizer 'bpe' (expected char, word or whitespace)"));
    assert_int_equal(rnnrt_corpus_load(&c, p, "char", "bogus", 0.9, NULL,
                                       &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.msg, "bogus"));
    p = write_file("bad.txt", "ok\nok\xfe", 6);
    assert_int_equal(rnnrt_corpus_load(&c, p, "char", "letters", 0.9, NULL,
                                       &err), RNNRT_EXIT_DATA);
    assert_non_null(strstr(err.where, "bad.txt:2:3"));
}

static const char *data_dir(void)
{
    static char dir[1024];
    const char *src = getenv("RNNC_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/../shared/data", src ? src : ".");
    return dir;
}

static void test_corpus_timemachine_like_reference(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/timemachine.txt", data_dir());
    if (access(path, R_OK) != 0) {
        print_message("skipped: %s not found\n", path);
        skip();
    }
    RnnrtCorpus c;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_corpus_load(&c, path, "char", "letters", 0.9, NULL,
                                       &err), 0);
    /* len(text) = 173427, int(len * 0.9) = 156084, 27 characters (Python) */
    assert_int_equal(c.n, 173427);
    assert_int_equal(c.ntrain, 156084);
    assert_int_equal(c.vocab.size, 4 + 27);
    assert_string_equal(c.vocab.tokens[4], " ");
    assert_string_equal(c.vocab.tokens[5], "e");
    assert_string_equal(c.vocab.tokens[6], "t");
    assert_int_equal(c.vocab.counts[4], 29402);
    assert_int_equal(c.vocab.counts[5], 16091);
    assert_int_equal(c.unk_valid, 0);
    rnnrt_corpus_free(&c);
}

/* ---- batching ---- */

static void test_sequential_windows_by_hand(void **state)
{
    (void)state;
    int32_t ids[14];
    for (int i = 0; i < 14; i++)
        ids[i] = i;
    RnnrtBatcher b;
    int32_t x[16], y[16];
    /* len 13, B 3, T 2: nc = 4, rows [0..3] [4..7] [8..11] */
    rnnrt_batcher_init(&b, RNNRT_SAMPLER_SEQUENTIAL, ids, 13, 3, 2);
    rnnrt_batcher_epoch(&b, NULL);
    assert_int_equal(b.nbatches, 2);
    assert_int_equal(rnnrt_batcher_get(&b, 0, x, y), 2);
    int32_t x0[] = {0, 4, 8, 1, 5, 9}, y0[] = {1, 5, 9, 2, 6, 10};
    assert_memory_equal(x, x0, sizeof x0);
    assert_memory_equal(y, y0, sizeof y0);
    assert_int_equal(rnnrt_batcher_get(&b, 1, x, y), 2);
    int32_t x1[] = {2, 6, 10, 3, 7, 11}, y1[] = {3, 7, 11, 4, 8, 12};
    assert_memory_equal(x, x1, sizeof x1);
    assert_memory_equal(y, y1, sizeof y1);
    rnnrt_batcher_free(&b);
    /* len 14, B 3, T 3: nc = 4, windows [0,3) and a short [3,4) */
    rnnrt_batcher_init(&b, RNNRT_SAMPLER_SEQUENTIAL, ids, 14, 3, 3);
    assert_int_equal(b.nbatches, 2);
    assert_int_equal(rnnrt_batcher_get(&b, 1, x, y), 1);
    int32_t x2[] = {3, 7, 11}, y2[] = {4, 8, 12};
    assert_memory_equal(x, x2, sizeof x2);
    assert_memory_equal(y, y2, sizeof y2);
    rnnrt_batcher_free(&b);
}

static void test_random_sampler_covers_offsets(void **state)
{
    (void)state;
    enum { LEN = 100, B = 2, T = 5 };
    int32_t ids[LEN];
    for (int i = 0; i < LEN; i++)
        ids[i] = i;
    RnnrtBatcher b;
    RnnrtRng r;
    rnnrt_rng_init(&r, 11);
    rnnrt_batcher_init(&b, RNNRT_SAMPLER_RANDOM, ids, LEN, B, T);
    int seen[T] = {0}, orders = 0;
    int32_t first = -1;
    for (int epoch = 0; epoch < 60; epoch++) {
        rnnrt_batcher_epoch(&b, &r);
        assert_true(b.offset < T);
        seen[b.offset]++;
        size_t nsub = (LEN - b.offset - 1) / T;
        assert_int_equal(b.nbatches, nsub / B);
        int used[LEN] = {0};
        for (size_t i = 0; i < b.nbatches; i++) {
            int32_t x[B * T], y[B * T];
            assert_int_equal(rnnrt_batcher_get(&b, i, x, y), T);
            for (int k = 0; k < B; k++) {
                int32_t s = x[k];
                assert_int_equal((s - (int)b.offset) % T, 0);
                assert_int_equal(used[s]++, 0); /* no start twice */
                for (int t = 0; t < T; t++) {
                    assert_int_equal(x[t * B + k], s + t);
                    assert_int_equal(y[t * B + k], s + t + 1);
                }
            }
            if (i == 0 && epoch > 0 && x[0] != first)
                orders++;
            if (i == 0)
                first = x[0];
        }
    }
    for (int o = 0; o < T; o++)
        assert_true(seen[o] > 0);
    assert_true(orders > 30); /* the shuffle changes between epochs */
    rnnrt_batcher_free(&b);
    assert_int_equal(rnnrt_batcher_min_tokens(RNNRT_SAMPLER_SEQUENTIAL, 2, 5),
                     13);
    assert_int_equal(rnnrt_batcher_min_tokens(RNNRT_SAMPLER_RANDOM, 2, 5), 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_letters_matches_python),
        cmocka_unit_test(test_normalize_lower_and_none),
        cmocka_unit_test(test_utf8_check_reports_line_and_column),
        cmocka_unit_test(test_utf8_check_rejects_malformed_sequences),
        cmocka_unit_test(test_utf8_check_nul_only_when_allowed),
        cmocka_unit_test(test_vocab_orders_by_count_then_bytes),
        cmocka_unit_test(test_vocab_multibyte_characters),
        cmocka_unit_test(test_vocab_many_tokens_grow_the_table),
        cmocka_unit_test(test_file_read_errors_name_the_path),
        cmocka_unit_test(test_read_dir_sorted_regular_files_only),
        cmocka_unit_test(test_corpus_split_vocab_and_unknowns),
        cmocka_unit_test(test_corpus_rejects_unknown_tokens_and_bad_utf8),
        cmocka_unit_test(test_corpus_timemachine_like_reference),
        cmocka_unit_test(test_sequential_windows_by_hand),
        cmocka_unit_test(test_random_sampler_covers_offsets),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
