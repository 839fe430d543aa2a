/*
 * test_rt_s2s_pairs.c: parallel corpora (rnnrt_pairs.c): d2l's
 * preprocessing (expected strings computed with CPython 3's
 * MTFraEng._preprocess), tokens, vocabularies with min_freq, arrays with
 * <eos>/<pad>/<bos> and valid lengths, the split, minibatches, the toy
 * task, and every bad-input error with its exact file:line:col.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt_s2s.h"

static RnnrtPairsOpts opts(int T, int min_freq)
{
    RnnrtPairsOpts o;
    rnnrt_pairs_opts_default(&o);
    o.num_steps = T;
    o.min_freq = min_freq;
    return o;
}

static int parse(RnnrtPairs *p, const char *text, RnnrtPairsOpts o,
                 RnnrtError *err)
{
    memset(err, 0, sizeof *err);
    return rnnrt_pairs_parse(p, "c.txt", text, strlen(text), &o, NULL, NULL,
                             err);
}

/* ---- preprocessing ---- */

static void check_pre(const char *in, const char *want)
{
    char out[512];
    size_t n = rnnrt_s2s_preprocess(in, strlen(in), out);
    if (n != strlen(want) || strcmp(out, want))
        fail_msg("preprocess(\"%s\") = \"%s\", expected \"%s\"", in, out,
                 want);
}

static void test_preprocess_matches_d2l(void **state)
{
    (void)state;
    check_pre("Go.", "go .");
    check_pre("Va\xe2\x80\xaf!", "va !");        /* U+202F */
    check_pre("Qui\xc2\xa0?", "qui ?");          /* U+00A0 */
    check_pre("Hi!Yes?", "hi !yes ?");
    check_pre("a...", "a . . .");
    check_pre("a ,b", "a ,b");
    check_pre(".x", ".x");                       /* start: nothing */
    check_pre("\xc3\x87" "a, \xc3\x89t\xc3\xa9 \xc3\x80 \xc3\x8atre "
              "\xc3\x94", "\xc3\xa7" "a , \xc3\xa9t\xc3\xa9 \xc3\xa0 "
              "\xc3\xaatre \xc3\xb4");           /* Ç É À Ê Ô */
    check_pre("\xc3\x97", "\xc3\x97");           /* U+00D7 stays */
    check_pre("\xc5\xb8", "\xc3\xbf");           /* U+0178 -> U+00FF */
    check_pre("\xc4\xb0", "i\xcc\x87");          /* U+0130 -> i U+0307 */
    check_pre("\xc5\x81\xc3\x93" "D\xc5\xb9", "\xc5\x82\xc3\xb3" "d\xc5\xba");
    check_pre("\xd0\x9f\xd0\x81", "\xd0\xbf\xd1\x91"); /* Cyrillic */
    check_pre("l\xe2\x80\x99" "ami", "l\xe2\x80\x99" "ami");
    check_pre("\xe2\x80\x89!", "\xe2\x80\x89 !"); /* U+2009 is no space */
}

/* ---- a small corpus ---- */

static const char *small =
    "Go.\tVa !\n"
    "Hi.\tSalut.\n"
    "Go now.\tVa maintenant !\n"
    "Run!\tCours\xe2\x80\xaf!\n"
    "Go.\tMarche.\n"
    "Hi there!\tSalut toi !\n"
    "Who?\tQui\xc2\xa0?\n"
    "Wow!\t\xc3\x87" "a alors\xe2\x80\xaf!\n"
    "Fire!\tAu feu !\n"
    "Help me now.\tAide-moi maintenant, vite.\n";

static void test_pairs_tokens_and_split(void **state)
{
    (void)state;
    RnnrtPairs p;
    RnnrtError e;
    assert_int_equal(parse(&p, small, opts(4, 2), &e), 0);
    assert_int_equal(p.n, 10);
    assert_int_equal(p.ntrain, 9);
    assert_int_equal(p.T, 4);
    /* pair 7 (0-based): "wow !" / "ça alors !" */
    assert_int_equal(p.src.start[8] - p.src.start[7], 2);
    assert_string_equal(p.src.tok[p.src.start[7]], "wow");
    assert_string_equal(p.src.tok[p.src.start[7] + 1], "!");
    assert_int_equal(p.tgt.start[8] - p.tgt.start[7], 3);
    assert_string_equal(p.tgt.tok[p.tgt.start[7]], "\xc3\xa7" "a");
    /* the held-out pair keeps its raw tokens: "aide-moi maintenant , vite ." */
    assert_int_equal(p.tgt.start[10] - p.tgt.start[9], 5);
    assert_string_equal(p.tgt.tok[p.tgt.start[9] + 2], ",");
    rnnrt_pairs_free(&p);
}

static void test_pairs_vocab_min_freq(void **state)
{
    (void)state;
    RnnrtPairs p;
    RnnrtError e;
    assert_int_equal(parse(&p, small, opts(4, 2), &e), 0);
    /* training source counts: go 3, . 4, ! 4, hi 2, now 1, run 1, there 1,
     * who 1, ? 1, wow 1, fire 1 -> min_freq 2 keeps ! . go hi */
    const RnnrtVocab *v = &p.src_vocab;
    assert_int_equal(v->size, 8);
    assert_string_equal(v->tokens[0], "<unk>");
    assert_string_equal(v->tokens[3], "<eos>");
    assert_string_equal(v->tokens[4], "!"); /* 4, ties by byte order */
    assert_string_equal(v->tokens[5], ".");
    assert_string_equal(v->tokens[6], "go");
    assert_string_equal(v->tokens[7], "hi");
    assert_int_equal(v->counts[4], 4);
    assert_int_equal(v->counts[6], 3);
    /* target: ! 6, va 2, salut 2, . 2 (maintenant is 1 in training) */
    const RnnrtVocab *t = &p.tgt_vocab;
    assert_int_equal(t->size, 8);
    assert_string_equal(t->tokens[4], "!");
    assert_string_equal(t->tokens[5], ".");
    assert_string_equal(t->tokens[6], "salut");
    assert_string_equal(t->tokens[7], "va");
    rnnrt_pairs_free(&p);

    assert_int_equal(parse(&p, small, opts(4, 1), &e), 0);
    assert_int_equal(p.src_vocab.size, 4 + 11);
    rnnrt_pairs_free(&p);
}

static void test_pairs_arrays_truncate_pad(void **state)
{
    (void)state;
    RnnrtPairs p;
    RnnrtError e;
    assert_int_equal(parse(&p, small, opts(4, 2), &e), 0);
    int go = 6, dot = 5, bang = 4, va = 7, salut = 6;
    /* pair 0: go . <eos> <pad> / va ! <eos> <pad> */
    const int32_t s0[] = {go, dot, RNNRT_EOS, RNNRT_PAD};
    const int32_t l0[] = {va, bang, RNNRT_EOS, RNNRT_PAD};
    const int32_t d0[] = {RNNRT_BOS, va, bang, RNNRT_EOS};
    assert_memory_equal(p.src_arr, s0, sizeof s0);
    assert_memory_equal(p.label, l0, sizeof l0);
    assert_memory_equal(p.dec_in, d0, sizeof d0);
    assert_int_equal(p.src_valid[0], 3);
    assert_int_equal(p.tgt_valid[0], 3);
    /* pair 5: "hi there !" / "salut toi !": exactly T with <eos> */
    const int32_t s5[] = {7, RNNRT_UNK, bang, RNNRT_EOS};
    const int32_t l5[] = {salut, RNNRT_UNK, bang, RNNRT_EOS};
    assert_memory_equal(p.src_arr + 5 * 4, s5, sizeof s5);
    assert_memory_equal(p.label + 5 * 4, l5, sizeof l5);
    assert_int_equal(p.tgt_valid[5], 4);
    /* pair 9: 5 target tokens: cut to 4, <eos> dropped (d2l) */
    const int32_t l9[] = {RNNRT_UNK, RNNRT_UNK, RNNRT_UNK, RNNRT_UNK};
    assert_memory_equal(p.label + 9 * 4, l9, sizeof l9);
    assert_int_equal(p.tgt_valid[9], 4);
    assert_int_equal(p.src_valid[9], 4);
    /* unknown counts: training target tokens not in the vocabulary */
    assert_int_equal(p.tgt.unk_held, 4); /* all but "." */
    rnnrt_pairs_free(&p);
}

static void test_pairs_special_words_are_unk(void **state)
{
    (void)state;
    RnnrtPairs p;
    RnnrtError e;
    assert_int_equal(parse(&p, "<eos> <pad> a\tb\n<eos> <pad> a\tb\n",
                           opts(4, 1), &e), 0);
    assert_int_equal(p.src_vocab.size, 5); /* only "a" is added */
    const int32_t s0[] = {RNNRT_UNK, RNNRT_UNK, 4, RNNRT_EOS};
    assert_memory_equal(p.src_arr, s0, sizeof s0);
    rnnrt_pairs_free(&p);
}

static void test_pairs_crlf_and_no_final_newline(void **state)
{
    (void)state;
    RnnrtPairs p;
    RnnrtError e;
    assert_int_equal(parse(&p, "a b\tc\r\na\tc d", opts(5, 1), &e), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.tgt.tok[0], "c");
    assert_string_equal(p.tgt.tok[2], "d");
    rnnrt_pairs_free(&p);
}

/* ---- bad input: exact positions ---- */

static void check_error(const char *text, RnnrtPairsOpts o, const char *where,
                        const char *msg_part)
{
    RnnrtPairs p;
    RnnrtError e;
    int rc = parse(&p, text, o, &e);
    if (rc != RNNRT_EXIT_DATA)
        fail_msg("expected a data error at %s, got %d", where, rc);
    if (strcmp(e.where, where) || !strstr(e.msg, msg_part))
        fail_msg("got '%s: error: %s', expected %s and '%s'", e.where, e.msg,
                 where, msg_part);
    assert_null(p.src_arr);
    assert_null(p.src.tok);
    assert_null(p.src_vocab.lookup);
}

static void test_pairs_bad_lines(void **state)
{
    (void)state;
    RnnrtPairsOpts o = opts(5, 1);
    check_error("a\tb\nno tab here\n", o, "c.txt:2:12", "no tab");
    check_error("a\tb\tc\n", o, "c.txt:1:4", "second tab");
    check_error("a\tb\n\nc\td\n", o, "c.txt:2:1", "empty line");
    check_error("a\tb\n \tb\n", o, "c.txt:2:1", "empty source");
    check_error("a\tb\nxy\t \xe2\x80\xaf\n", o, "c.txt:2:4", "empty target");
    check_error("\tb\n", o, "c.txt:1:1", "empty source");
    check_error("ab\t\n", o, "c.txt:1:4", "empty target");
    check_error("a\tb\nc\td\xff\n", o, "c.txt:2:4", "invalid UTF-8");
    check_error("", o, "c.txt:1:1", "no sentence pairs");
}

static void test_pairs_overlong_line(void **state)
{
    (void)state;
    size_t n = RNNRT_PAIRS_MAX_LINE + 10;
    char *text = calloc(n + 32, 1);
    strcpy(text, "ok\tfine\n");
    size_t at = strlen(text);
    for (size_t i = 0; i < n; i++)
        text[at + i] = i == 3 ? '\t' : 'x';
    text[at + n] = '\n';
    char where[64];
    snprintf(where, sizeof where, "c.txt:2:%d", RNNRT_PAIRS_MAX_LINE + 1);
    check_error(text, opts(5, 1), where, "longer than 4096");
    /* exactly the cap is fine */
    text[at + RNNRT_PAIRS_MAX_LINE] = '\n';
    text[at + RNNRT_PAIRS_MAX_LINE + 1] = '\0';
    RnnrtPairs p;
    RnnrtError e;
    assert_int_equal(parse(&p, text, opts(5, 1), &e), 0);
    rnnrt_pairs_free(&p);
    free(text);
}

static void test_pairs_max_pairs_ignores_the_rest(void **state)
{
    (void)state;
    RnnrtPairsOpts o = opts(5, 1);
    o.max_pairs = 2;
    RnnrtPairs p;
    RnnrtError e;
    assert_int_equal(parse(&p, "a\tb\nc\td\nbad line\n\xff\n", o, &e), 0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.ntrain, 1);
    rnnrt_pairs_free(&p);
}

static void test_pairs_empty_vocab_and_bad_vocab(void **state)
{
    (void)state;
    RnnrtPairs p;
    RnnrtError e;
    assert_int_equal(parse(&p, "a\tb\nc\td\n", opts(5, 2), &e),
                     RNNRT_EXIT_DATA);
    assert_string_equal(e.where, "c.txt");
    assert_non_null(strstr(e.msg, "source vocabulary is empty"));
    assert_null(p.src_vocab.lookup);

    RnnrtVocab good, bad;
    rnnrt_vocab_init(&good);
    rnnrt_vocab_add(&good, "b", 1, 1);
    memset(&bad, 0, sizeof bad);
    bad.lookup = NULL;
    rnnrt_vocab_init(&bad);
    free(bad.tokens[3]);
    bad.tokens[3] = calloc(6, 1);
    memcpy(bad.tokens[3], "<end>", 5);
    RnnrtPairsOpts o = opts(5, 1);
    memset(&e, 0, sizeof e);
    assert_int_equal(rnnrt_pairs_parse(&p, "c.txt", "a\tb\n", 4, &o, &good,
                                       &bad, &e), RNNRT_EXIT_DATA);
    assert_non_null(strstr(e.msg, "target vocabulary lacks <eos>"));
    /* a given vocabulary is copied and used */
    o.train_frac = 1;
    assert_int_equal(rnnrt_pairs_parse(&p, "c.txt", "b\tb\n", 4, &o, &good,
                                       &good, &e), 0);
    assert_int_equal(p.src_arr[0], 4);
    assert_int_equal(p.src_vocab.size, 5);
    rnnrt_pairs_free(&p);
    rnnrt_vocab_free(&good);
    rnnrt_vocab_free(&bad);
}

static void test_pairs_bad_options(void **state)
{
    (void)state;
    RnnrtPairs p;
    RnnrtError e;
    RnnrtPairsOpts o = opts(1, 1);
    assert_int_equal(parse(&p, "a\tb\n", o, &e), RNNRT_EXIT_USAGE);
    o = opts(5, 0);
    assert_int_equal(parse(&p, "a\tb\n", o, &e), RNNRT_EXIT_USAGE);
    o = opts(5, 1);
    o.train_frac = 0;
    assert_int_equal(parse(&p, "a\tb\n", o, &e), RNNRT_EXIT_USAGE);
    o.train_frac = 0.5; /* 1 pair -> 0 training pairs */
    assert_int_equal(parse(&p, "a\tb\n", o, &e), RNNRT_EXIT_DATA);
    assert_string_equal(e.msg, "1 pairs leave no training pair at a "
                        "training fraction of 0.5");
}

static void test_pairs_load_missing_file(void **state)
{
    (void)state;
    RnnrtPairs p;
    RnnrtError e = {0};
    RnnrtPairsOpts o = opts(5, 1);
    assert_int_equal(rnnrt_pairs_load(&p, "/nonexistent/x.txt", &o, NULL,
                                      NULL, &e), RNNRT_EXIT_IO);
    assert_non_null(strstr(e.msg, "/nonexistent/x.txt"));
}

/* ---- single sentences ---- */

static void test_encode_unknown_and_empty(void **state)
{
    (void)state;
    RnnrtVocab v;
    rnnrt_vocab_init(&v);
    rnnrt_vocab_add(&v, "go", 2, 1);
    rnnrt_vocab_add(&v, ".", 1, 1);
    int32_t row[4], valid;
    size_t nunk = 0;
    rnnrt_s2s_encode(&v, "Xyzzy Plugh!", 12, 4, row, &valid, &nunk);
    const int32_t w1[] = {RNNRT_UNK, RNNRT_UNK, RNNRT_UNK, RNNRT_EOS};
    assert_memory_equal(row, w1, sizeof w1);
    assert_int_equal(valid, 4);
    assert_int_equal(nunk, 3);
    rnnrt_s2s_encode(&v, "  ", 2, 4, row, &valid, NULL);
    const int32_t w2[] = {RNNRT_EOS, RNNRT_PAD, RNNRT_PAD, RNNRT_PAD};
    assert_memory_equal(row, w2, sizeof w2);
    assert_int_equal(valid, 1);
    rnnrt_s2s_encode(&v, "Go.", 3, 4, row, &valid, NULL);
    const int32_t w3[] = {4, 5, RNNRT_EOS, RNNRT_PAD};
    assert_memory_equal(row, w3, sizeof w3);
    rnnrt_vocab_free(&v);
}

static void test_check_line(void **state)
{
    (void)state;
    RnnrtError e = {0};
    assert_int_equal(rnnrt_s2s_check_line("fine", 4, "<stdin>", 3, &e), 0);
    assert_int_equal(rnnrt_s2s_check_line("ab\tc", 4, "<stdin>", 3, &e),
                     RNNRT_EXIT_DATA);
    assert_string_equal(e.where, "<stdin>:3:3");
    assert_int_equal(rnnrt_s2s_check_line("abc\xc3", 4, "<stdin>", 7, &e),
                     RNNRT_EXIT_DATA);
    assert_string_equal(e.where, "<stdin>:7:4");
    char big[RNNRT_PAIRS_MAX_LINE + 2];
    memset(big, 'a', sizeof big);
    assert_int_equal(rnnrt_s2s_check_line(big, sizeof big, "<stdin>", 1, &e),
                     RNNRT_EXIT_DATA);
    assert_string_equal(e.where, "<stdin>:1:4097");
}

/* ---- minibatches ---- */

static void test_batcher_covers_each_pair_once(void **state)
{
    (void)state;
    RnnrtPairs p;
    RnnrtError e;
    assert_int_equal(parse(&p, small, opts(4, 1), &e), 0);
    RnnrtS2sBatcher b;
    rnnrt_s2s_batcher_init(&b, &p, 0, p.ntrain, 4, 1, 0);
    assert_int_equal(b.nbatches, 3); /* 9 pairs: 4 + 4 + 1 */
    RnnrtS2sBatch mb;
    rnnrt_s2s_batch_init(&mb, 4, 4);
    RnnrtRng r;
    rnnrt_rng_init(&r, 7);
    size_t first[9];
    for (int epoch = 0; epoch < 2; epoch++) {
        rnnrt_s2s_batcher_epoch(&b, &r);
        int seen[9] = {0};
        for (size_t i = 0; i < b.nbatches; i++) {
            rnnrt_s2s_batcher_get(&b, i, &mb);
            assert_int_equal(mb.nrows, i < 2 ? 4 : 1);
            int64_t ntok = 0;
            for (int row = 0; row < 4; row++) {
                size_t k = mb.pair[row];
                if (row >= mb.nrows) {
                    assert_true(k == SIZE_MAX);
                    assert_int_equal(mb.tgt_valid[row], 0);
                    for (int t = 0; t < 4; t++)
                        assert_int_equal(mb.label[t * 4 + row], RNNRT_PAD);
                    continue;
                }
                seen[k]++;
                if (epoch == 0)
                    first[i * 4 + (size_t)row] = k;
                ntok += p.tgt_valid[k];
                for (int t = 0; t < 4; t++) { /* time-major */
                    assert_int_equal(mb.src[t * 4 + row], p.src_arr[k * 4 + t]);
                    assert_int_equal(mb.dec_in[t * 4 + row],
                                     p.dec_in[k * 4 + t]);
                    assert_int_equal(mb.label[t * 4 + row],
                                     p.label[k * 4 + t]);
                }
                assert_int_equal(mb.src_valid[row], p.src_valid[k]);
            }
            assert_int_equal(mb.ntokens, ntok);
        }
        for (int k = 0; k < 9; k++)
            assert_int_equal(seen[k], 1);
    }
    /* the same seed gives the same order */
    rnnrt_rng_init(&r, 7);
    rnnrt_s2s_batcher_epoch(&b, &r);
    for (size_t i = 0; i < 9; i++)
        assert_int_equal(b.order[i], first[i]);
    rnnrt_s2s_batcher_free(&b);
    rnnrt_s2s_batcher_init(&b, &p, p.ntrain, p.n - p.ntrain, 4, 0, 0);
    rnnrt_s2s_batcher_epoch(&b, &r);
    assert_int_equal(b.nbatches, 1);
    assert_int_equal(b.order[0], 9);
    rnnrt_s2s_batcher_free(&b);
    rnnrt_s2s_batcher_init(&b, &p, 0, 9, 4, 1, 1);
    assert_int_equal(b.nbatches, 2);
    rnnrt_s2s_batcher_free(&b);
    rnnrt_s2s_batch_free(&mb);
    rnnrt_pairs_free(&p);
}

/* ---- toy task ---- */

static void test_toytask_reverse_reads_back(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    RnnrtError e = {0};
    assert_int_equal(rnnrt_toytask_write(f, "reverse", 200, 8, 2, 6, 3, &e),
                     0);
    fclose(f);
    RnnrtPairs p;
    assert_int_equal(parse(&p, buf, opts(8, 1), &e), 0);
    assert_int_equal(p.n, 200);
    assert_int_equal(p.src_vocab.size, 4 + 8);
    for (size_t i = 0; i < p.n; i++) {
        size_t n = p.src.start[i + 1] - p.src.start[i];
        assert_true(n >= 2 && n <= 6);
        assert_int_equal(p.tgt.start[i + 1] - p.tgt.start[i], n);
        for (size_t t = 0; t < n; t++)
            assert_string_equal(p.src.tok[p.src.start[i] + t],
                                p.tgt.tok[p.tgt.start[i] + n - 1 - t]);
    }
    rnnrt_pairs_free(&p);
    /* deterministic */
    char *buf2 = NULL;
    size_t len2 = 0;
    f = open_memstream(&buf2, &len2);
    rnnrt_toytask_write(f, "reverse", 200, 8, 2, 6, 3, &e);
    fclose(f);
    assert_int_equal(len, len2);
    assert_memory_equal(buf, buf2, len);
    free(buf);
    free(buf2);
    assert_int_equal(rnnrt_toytask_write(stdout, "sort", 1, 8, 2, 6, 3, &e),
                     RNNRT_EXIT_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preprocess_matches_d2l),
        cmocka_unit_test(test_pairs_tokens_and_split),
        cmocka_unit_test(test_pairs_vocab_min_freq),
        cmocka_unit_test(test_pairs_arrays_truncate_pad),
        cmocka_unit_test(test_pairs_special_words_are_unk),
        cmocka_unit_test(test_pairs_crlf_and_no_final_newline),
        cmocka_unit_test(test_pairs_bad_lines),
        cmocka_unit_test(test_pairs_overlong_line),
        cmocka_unit_test(test_pairs_max_pairs_ignores_the_rest),
        cmocka_unit_test(test_pairs_empty_vocab_and_bad_vocab),
        cmocka_unit_test(test_pairs_bad_options),
        cmocka_unit_test(test_pairs_load_missing_file),
        cmocka_unit_test(test_encode_unknown_and_empty),
        cmocka_unit_test(test_check_line),
        cmocka_unit_test(test_batcher_covers_each_pair_once),
        cmocka_unit_test(test_toytask_reverse_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
