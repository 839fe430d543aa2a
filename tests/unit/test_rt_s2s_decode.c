/*
 * test_rt_s2s_decode.c: what turns a trained seq2seq model into output:
 * greedy and beam search (rnnrt_beam.c) on hand-made toy models whose best
 * beam output differs from greedy, against brute-force enumeration on a
 * random model; BLEU (rnnrt_bleu.c) against hand-computed values; and the
 * attention CSV/SVG writers (rnnrt_attnviz.c), whose output is parsed back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rnnrt_s2s.h"

/* ---------------------------------------------------------------- toys
 * A toy model is a tree of prefixes: the state (S = 1) is the node of the
 * prefix before `prev`; node 0 is the empty prefix, and the child of node
 * x by token v is 8x + v + 1. Tokens: A = 4, B = 5, C = 6; V = 7. */
enum { A = 4, B = 5, C = 6, V = 7, MAXROWS = 512, MAXSTEPS = 16 };

typedef enum { GREEDY_TRAP, LENGTH, UNK_FIRST, TIE, NO_EOS, RANDOM } Scen;

typedef struct {
    int k;
    Scen scen[4];       /* per sentence */
    int calls;
    int32_t prev_log[MAXSTEPS][MAXROWS];
} Toy;

static double child(double node, int v) { return 8 * node + v + 1; }

static double hash01(double node, int v)
{
    uint64_t h = rnnrt_fnv1a(RNNRT_FNV_INIT, &node, sizeof node);
    h = rnnrt_fnv1a(h, &v, sizeof v);
    return (double)(h >> 11) / 9007199254740992.0;
}

/* Probabilities of the next token after prefix node. */
static void dist(Scen s, double node, double p[V])
{
    for (int v = 0; v < V; v++)
        p[v] = 0;
    const double a = child(0, A), b = child(0, B), ab = child(a, B);
    switch (s) {
    case GREEDY_TRAP: /* greedy: A <eos> (.2); best: B <eos> (.36) */
        if (node == 0) {
            p[A] = .5, p[B] = .4, p[RNNRT_EOS] = .1;
        } else if (node == a) {
            p[RNNRT_EOS] = .4, p[B] = .3, p[C] = .3;
        } else if (node == b) {
            p[RNNRT_EOS] = .9, p[A] = .05, p[C] = .05;
        } else {
            p[RNNRT_EOS] = .97, p[A] = p[B] = p[C] = .01;
        }
        return;
    case LENGTH: /* <eos> (.3) vs A B <eos> (.27): alpha decides */
        if (node == 0) {
            p[RNNRT_EOS] = .3, p[A] = .5, p[B] = .2;
        } else if (node == a) {
            p[B] = .6, p[RNNRT_EOS] = .1, p[C] = .3;
        } else if (node == ab) {
            p[RNNRT_EOS] = .9, p[A] = p[B] = p[C] = .1 / 3;
        } else {
            p[RNNRT_EOS] = .97, p[A] = p[B] = p[C] = .01;
        }
        return;
    case UNK_FIRST: /* the model likes <unk>, <pad> and <bos> best */
        if (node == 0) {
            p[RNNRT_UNK] = .4, p[RNNRT_PAD] = .2, p[RNNRT_BOS] = .2;
            p[A] = .15, p[RNNRT_EOS] = .05;
        } else {
            p[RNNRT_EOS] = .9, p[RNNRT_UNK] = .1;
        }
        return;
    case TIE:
        if (node == 0)
            p[B] = .4, p[A] = .4, p[RNNRT_EOS] = .2;
        else
            p[RNNRT_EOS] = .97, p[A] = p[B] = p[C] = .01;
        return;
    case NO_EOS:
        p[A] = .6, p[B] = .4;
        return;
    case RANDOM: {
        double z = 0;
        for (int v = 0; v < V; v++)
            z += p[v] = exp(6 * hash01(node, v) - 3);
        for (int v = 0; v < V; v++)
            p[v] /= z;
        return;
    }
    }
}

static void toy_step(void *model, int n, const int32_t *prev,
                     const real *state_in, real *state_out, real *logprobs)
{
    Toy *t = model;
    assert_true(n <= MAXROWS && t->calls < MAXSTEPS);
    for (int r = 0; r < n; r++) {
        t->prev_log[t->calls][r] = prev[r];
        double node = prev[r] == RNNRT_BOS ? state_in[r]
                                           : child(state_in[r], prev[r]);
        double p[V];
        dist(t->scen[r / t->k], node, p);
        for (int v = 0; v < V; v++)
            logprobs[r * V + v] = (real)(p[v] > 0 ? log(p[v]) : -INFINITY);
        state_out[r] = (real)node;
    }
    t->calls++;
}

static RnnrtBeamResult decode(Toy *t, int nsent, int k, int max_len,
                              double alpha, int allow_unk)
{
    RnnrtBeamOpts o;
    rnnrt_beam_opts_default(&o);
    o.beam = k;
    o.max_len = max_len;
    o.alpha = alpha;
    o.allow_unk = allow_unk;
    t->k = k;
    t->calls = 0;
    real state0[4] = {0, 0, 0, 0};
    RnnrtBeamResult res;
    RnnrtError e = {0};
    assert_int_equal(rnnrt_beam_search(toy_step, t, nsent, V, 1, state0, &o,
                                       &res, &e), 0);
    return res;
}

static void expect_output(const RnnrtBeamResult *r, int s, const int32_t *want,
                          int n)
{
    if (r->len[s] != n)
        fail_msg("sentence %d: %d tokens, expected %d", s, r->len[s], n);
    assert_memory_equal(r->tokens + s * r->max_len, want,
                        (size_t)n * sizeof *want);
}

static void test_beam_finds_what_greedy_misses(void **state)
{
    (void)state;
    Toy t = {.scen = {GREEDY_TRAP}};
    RnnrtBeamResult g = decode(&t, 1, 1, 10, 0.75, 0);
    expect_output(&g, 0, (const int32_t[]){A}, 1);
    assert_float_equal(g.logprob[0], log(.5 * .4), 1e-12);
    assert_float_equal(g.score[0], log(.2) / pow(2, .75), 1e-12);
    assert_int_equal(t.calls, 2);
    RnnrtBeamResult b = decode(&t, 1, 2, 10, 0.75, 0);
    expect_output(&b, 0, (const int32_t[]){B}, 1);
    assert_float_equal(b.logprob[0], log(.4 * .9), 1e-12);
    rnnrt_beam_result_free(&g);
    rnnrt_beam_result_free(&b);
}

static void test_beam_length_normalization(void **state)
{
    (void)state;
    Toy t = {.scen = {LENGTH}};
    RnnrtBeamResult r = decode(&t, 1, 2, 10, 0.75, 0);
    expect_output(&r, 0, (const int32_t[]){A, B}, 2); /* -1.309 / 3^.75 */
    assert_float_equal(r.score[0], log(.27) / pow(3, .75), 1e-12);
    rnnrt_beam_result_free(&r);
    r = decode(&t, 1, 2, 10, 0.0, 0); /* raw log-probability: <eos> wins */
    assert_int_equal(r.len[0], 0);
    assert_float_equal(r.logprob[0], log(.3), 1e-12);
    rnnrt_beam_result_free(&r);
}

static void test_beam_never_emits_unk_pad_bos(void **state)
{
    (void)state;
    Toy t = {.scen = {UNK_FIRST}};
    for (int k = 1; k <= 3; k++) {
        RnnrtBeamResult r = decode(&t, 1, k, 5, 0.75, 0);
        expect_output(&r, 0, (const int32_t[]){A}, 1);
        rnnrt_beam_result_free(&r);
    }
    RnnrtBeamResult r = decode(&t, 1, 1, 5, 0.75, 1);
    expect_output(&r, 0, (const int32_t[]){RNNRT_UNK}, 1);
    rnnrt_beam_result_free(&r);
}

static void test_beam_ties_pick_lower_token(void **state)
{
    (void)state;
    Toy t = {.scen = {TIE}};
    for (int k = 1; k <= 2; k++) {
        RnnrtBeamResult r = decode(&t, 1, k, 5, 0.75, 0);
        expect_output(&r, 0, (const int32_t[]){A}, 1);
        rnnrt_beam_result_free(&r);
    }
}

static void test_beam_max_len_cuts(void **state)
{
    (void)state;
    Toy t = {.scen = {NO_EOS}};
    RnnrtBeamResult r = decode(&t, 1, 3, 3, 0.75, 0);
    expect_output(&r, 0, (const int32_t[]){A, A, A}, 3);
    assert_float_equal(r.score[0], 3 * log(.6) / pow(3, .75), 1e-12);
    assert_int_equal(t.calls, 3);
    rnnrt_beam_result_free(&r);
    r = decode(&t, 1, 1, 1, 0.75, 0);
    expect_output(&r, 0, (const int32_t[]){A}, 1);
    rnnrt_beam_result_free(&r);
}

static void test_beam_batch_equals_single(void **state)
{
    (void)state;
    Scen all[4] = {GREEDY_TRAP, LENGTH, RANDOM, TIE};
    Toy t = {.scen = {GREEDY_TRAP, LENGTH, RANDOM, TIE}};
    RnnrtBeamResult batch = decode(&t, 4, 3, 6, 0.75, 0);
    for (int s = 0; s < 4; s++) {
        Toy one = {.scen = {all[s]}};
        RnnrtBeamResult r = decode(&one, 1, 3, 6, 0.75, 0);
        expect_output(&batch, s, r.tokens, r.len[0]);
        assert_float_equal(batch.logprob[s], r.logprob[0], 1e-12);
        rnnrt_beam_result_free(&r);
    }
    rnnrt_beam_result_free(&batch);
}

/* The rows of the result name the calls that produced the output. */
static void test_beam_rows_trace_the_output(void **state)
{
    (void)state;
    Toy t = {.scen = {RANDOM, GREEDY_TRAP}};
    RnnrtBeamResult r = decode(&t, 2, 3, 6, 0.75, 0);
    for (int s = 0; s < 2; s++) {
        const int32_t *out = r.tokens + s * r.max_len;
        const int *rows = r.rows + s * r.max_len;
        for (int i = 0; i < r.len[s]; i++) {
            assert_true(rows[i] / 3 == s);
            int32_t want = i == 0 ? RNNRT_BOS : out[i - 1];
            assert_int_equal(t.prev_log[i][rows[i]], want);
        }
    }
    rnnrt_beam_result_free(&r);
}

/* ---- against brute force on a random model ---- */

typedef struct {
    int32_t seq[8];
    int len;
    double score;
} Best;

/* Every hypothesis of at most max_len tokens (allowed: <eos> A B C). */
static void enumerate(double node, int32_t *seq, int len, double lp,
                      int max_len, double alpha, Best *best)
{
    double p[V];
    dist(RANDOM, node, p);
    for (int v = RNNRT_EOS; v < V; v++) {
        double l = lp + log(p[v]);
        if (v == RNNRT_EOS || len + 1 == max_len) {
            int out = v == RNNRT_EOS ? len : len + 1;
            double sc = l / pow(len + 1, alpha);
            if (sc > best->score) {
                memcpy(best->seq, seq, (size_t)len * sizeof *seq);
                best->seq[len] = v;
                best->len = out;
                best->score = sc;
            }
            continue;
        }
        seq[len] = v;
        enumerate(child(node, v), seq, len + 1, l, max_len, alpha, best);
    }
}

static void test_beam_wide_equals_exhaustive_search(void **state)
{
    (void)state;
    Toy t = {.scen = {RANDOM}};
    for (int max_len = 1; max_len <= 4; max_len++) {
        Best best = {.score = -INFINITY};
        int32_t seq[8];
        enumerate(0, seq, 0, 0, max_len, 0.75, &best);
        RnnrtBeamResult r = decode(&t, 1, 128, max_len, 0.75, 0);
        expect_output(&r, 0, best.seq, best.len);
        assert_float_equal(r.score[0], best.score, 1e-9);
        rnnrt_beam_result_free(&r);
    }
}

static void test_beam_width_one_is_greedy(void **state)
{
    (void)state;
    Toy t = {.scen = {RANDOM}};
    RnnrtBeamResult r = decode(&t, 1, 1, 8, 0.75, 0);
    int32_t want[8];
    int n = 0;
    double node = 0;
    for (; n < 8; n++) {
        double p[V];
        dist(RANDOM, node, p);
        int arg = RNNRT_EOS;
        for (int v = RNNRT_EOS; v < V; v++)
            if (p[v] > p[arg])
                arg = v;
        if (arg == RNNRT_EOS)
            break;
        want[n] = arg;
        node = child(node, arg);
    }
    expect_output(&r, 0, want, n);
    rnnrt_beam_result_free(&r);
}

static void test_beam_bad_options(void **state)
{
    (void)state;
    Toy t = {.scen = {RANDOM}, .k = 1};
    RnnrtBeamOpts o;
    rnnrt_beam_opts_default(&o);
    RnnrtBeamResult r;
    RnnrtError e = {0};
    real s0 = 0;
    o.beam = 0;
    assert_int_equal(rnnrt_beam_search(toy_step, &t, 1, V, 1, &s0, &o, &r,
                                       &e), RNNRT_EXIT_USAGE);
    o.beam = 1;
    o.max_len = 0;
    assert_int_equal(rnnrt_beam_search(toy_step, &t, 1, V, 1, &s0, &o, &r,
                                       &e), RNNRT_EXIT_USAGE);
    o.max_len = 3;
    assert_int_equal(rnnrt_beam_search(toy_step, &t, 1, 4, 1, &s0, &o, &r,
                                       &e), RNNRT_EXIT_USAGE);
    assert_int_equal(t.calls, 0);
}

/* ---------------------------------------------------------------- BLEU */

static void test_bleu_d2l_hand_values(void **state)
{
    (void)state;
    const int32_t abcd[] = {1, 2, 3, 4};
    assert_float_equal(rnnrt_bleu_d2l(abcd, 4, abcd, 4, 2), 1.0, 1e-15);
    const int32_t p1[] = {1, 2, 3, 4, 5}, l1[] = {1, 2, 3, 6};
    /* BP 1, p1 = 3/5, p2 = 2/4 */
    assert_float_equal(rnnrt_bleu_d2l(p1, 5, l1, 4, 2),
                       sqrt(0.6) * pow(0.5, 0.25), 1e-15);
    /* k = 3 adds p3 = 1/3 with weight 1/8 */
    assert_float_equal(rnnrt_bleu_d2l(p1, 5, l1, 4, 3),
                       sqrt(0.6) * pow(0.5, 0.25) * pow(1.0 / 3, 0.125),
                       1e-15);
    /* short prediction: BP = exp(1 - 4/2) */
    assert_float_equal(rnnrt_bleu_d2l(abcd, 2, abcd, 4, 2), exp(-1.0), 1e-15);
    /* clipping: 7 7 7 7 vs 7 7 8: p1 = 2/4, p2 = 1/3 */
    const int32_t p2[] = {7, 7, 7, 7}, l2[] = {7, 7, 8};
    assert_float_equal(rnnrt_bleu_d2l(p2, 4, l2, 3, 2),
                       sqrt(0.5) * pow(1.0 / 3, 0.25), 1e-15);
    /* where d2l divides by zero: 0 */
    assert_float_equal(rnnrt_bleu_d2l(abcd, 1, abcd, 1, 2), 0.0, 0);
    assert_float_equal(rnnrt_bleu_d2l(abcd, 0, abcd, 4, 2), 0.0, 0);
    assert_float_equal(rnnrt_bleu_d2l(abcd, 1, abcd, 1, 1), 1.0, 1e-15);
}

static void test_corpus_bleu4_hand_values(void **state)
{
    (void)state;
    const int32_t p1[] = {1, 2, 3, 4, 5}, r1[] = {1, 2, 3, 4, 6};
    const int32_t p2[] = {1, 2, 3, 4}, r2[] = {1, 2, 3, 4, 5, 6};
    const int32_t *pred[] = {p1, p2}, *ref[] = {r1, r2};
    const int plen[] = {5, 4}, rlen[] = {5, 6};
    /* matches 8 6 4 2 of 9 7 5 3; c = 9, r = 11 */
    double want = exp(1 - 11.0 / 9)
                  * pow(8.0 / 9 * 6.0 / 7 * 4.0 / 5 * 2.0 / 3, 0.25);
    assert_float_equal(rnnrt_corpus_bleu4(2, pred, plen, ref, rlen), want,
                       1e-15);
    /* c > r: no brevity penalty */
    const int *rl1 = (const int[]){4};
    assert_float_equal(rnnrt_corpus_bleu4(1, pred, plen, ref, rl1),
                       pow(4.0 / 5 * 3.0 / 4 * 2.0 / 3 * 1.0 / 2, 0.25),
                       1e-15);
    /* no 4-gram at all: a zero precision gives 0, no smoothing */
    const int *three = (const int[]){3};
    assert_float_equal(rnnrt_corpus_bleu4(1, pred, three, ref, three), 0.0, 0);
    assert_float_equal(rnnrt_corpus_bleu4(0, pred, plen, ref, rlen), 0.0, 0);
    /* identical corpus: 1 */
    assert_float_equal(rnnrt_corpus_bleu4(1, ref, rlen, ref, rlen), 1.0,
                       1e-15);
}

static void test_bleu_intern_strings(void **state)
{
    (void)state;
    RnnrtVocab v;
    rnnrt_vocab_init(&v);
    int32_t a = rnnrt_bleu_intern(&v, "chat");
    int32_t b = rnnrt_bleu_intern(&v, "chien");
    assert_int_equal(rnnrt_bleu_intern(&v, "chat"), a);
    assert_true(a != b && a >= 4 && b >= 4);
    assert_int_equal(rnnrt_bleu_intern(&v, "<unk>"), RNNRT_UNK);
    rnnrt_vocab_free(&v);
}

/* ---------------------------------------------------------------- plots */

static const char *const src_tok[] = {"a,b", "say \"hi\"", "<x>&'", "\xc3\xa9t\xc3\xa9"};
static const char *const tgt_tok[] = {"l'ami", "x\ny", "!"};

static void make_matrices(real *w, RnnrtAttnMatrix m[2])
{
    RnnrtRng r;
    rnnrt_rng_init(&r, 5);
    for (int i = 0; i < 12; i++)
        w[i] = (real)rnnrt_rng_uniform(&r);
    w[0] = 0;
    w[1] = 1;
    m[0] = (RnnrtAttnMatrix){4, 3, src_tok, tgt_tok, w};
    m[1] = (RnnrtAttnMatrix){2, 1, src_tok + 2, tgt_tok + 2, w + 4};
}

/* One RFC 4180 record from *p; fields into out (max 8); returns count. */
static int csv_record(const char **p, char out[8][64])
{
    int n = 0;
    const char *s = *p;
    for (;;) {
        char *o = out[n];
        if (*s == '"') {
            for (s++; !(*s == '"' && s[1] != '"'); s++) {
                assert_true(*s != '\0');
                if (*s == '"')
                    s++;
                *o++ = *s;
            }
            s++;
        } else {
            while (*s && *s != ',' && *s != '\n')
                *o++ = *s++;
        }
        *o = '\0';
        n++;
        if (*s == ',') {
            s++;
            continue;
        }
        assert_true(*s == '\n');
        *p = s + 1;
        return n;
    }
}

static void test_attn_csv_round_trips(void **state)
{
    (void)state;
    real w[12];
    RnnrtAttnMatrix m[2];
    make_matrices(w, m);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(rnnrt_attn_write_csv(f, m, 2), 0);
    fclose(f);
    const char *p = buf;
    char cell[8][64];
    for (int k = 0; k < 2; k++) {
        if (k > 0)
            assert_true(*p++ == '\n');
        assert_int_equal(csv_record(&p, cell), m[k].ns + 1);
        char title[32];
        snprintf(title, sizeof title, "sentence %d", k + 1);
        assert_string_equal(cell[0], title);
        for (int j = 0; j < m[k].ns; j++)
            assert_string_equal(cell[j + 1], m[k].src[j]);
        for (int i = 0; i < m[k].nt; i++) {
            assert_int_equal(csv_record(&p, cell), m[k].ns + 1);
            assert_string_equal(cell[0], m[k].tgt[i]);
            for (int j = 0; j < m[k].ns; j++) {
                real back = (real)strtod(cell[j + 1], NULL);
                assert_true(back == m[k].w[i * m[k].ns + j]);
            }
        }
    }
    assert_true(*p == '\0');
    free(buf);
}

/* A small XML well-formedness scan: balanced tags, quoted attributes,
 * text without raw < or bare &, and nothing after the root element. */
static void check_xml(const char *s)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    if (!strncmp(s, "<?xml", 5))
        s = strstr(s, "?>") + 2;
    while (*s) {
        if (*s == '&') {
            const char *ents[] = {"&amp;", "&lt;", "&gt;", "&quot;",
                                  "&apos;"};
            int ok = 0;
            for (int i = 0; i < 5; i++)
                ok |= !strncmp(s, ents[i], strlen(ents[i]));
            if (!ok)
                fail_msg("bare & at '%.20s'", s);
            s++;
            continue;
        }
        if (*s == '>')
            fail_msg("stray > at '%.20s'", s);
        if (*s != '<') {
            if (depth == 0 && *s != '\n')
                fail_msg("text outside the root: '%.20s'", s);
            s++;
            continue;
        }
        int closing = s[1] == '/';
        s += 1 + closing;
        char name[32];
        int n = 0;
        while (*s && *s != ' ' && *s != '>' && *s != '/' && n < 31)
            name[n++] = *s++;
        name[n] = '\0';
        assert_true(n > 0);
        while (*s && *s != '>' && *s != '/') { /* attributes */
            if (*s == '"') {
                for (s++; *s != '"'; s++)
                    if (*s == '<' || *s == '\0')
                        fail_msg("bad attribute value in <%s>", name);
            }
            s++;
        }
        int empty = *s == '/';
        s += empty;
        assert_true(*s == '>');
        s++;
        if (closing) {
            assert_true(depth > 0);
            assert_string_equal(stack[depth - 1], name);
            depth--;
        } else if (!empty) {
            if (depth == 0)
                roots++;
            assert_true(depth < 64);
            strcpy(stack[depth++], name);
        } else if (depth == 0) {
            roots++;
        }
    }
    assert_int_equal(depth, 0);
    assert_int_equal(roots, 1);
}

static void test_attn_svg_is_well_formed(void **state)
{
    (void)state;
    real w[12];
    RnnrtAttnMatrix m[2];
    make_matrices(w, m);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(rnnrt_attn_write_svg(f, m, 2), 0);
    fclose(f);
    check_xml(buf);
    assert_non_null(strstr(buf, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(buf, "&lt;x&gt;&amp;&apos;"));
    assert_non_null(strstr(buf, "say &quot;hi&quot;"));
    assert_non_null(strstr(buf, "x?y")); /* control characters replaced */
    assert_non_null(strstr(buf, "\xc3\xa9t\xc3\xa9"));
    assert_non_null(strstr(buf, "fill=\"rgb(255,255,255)\"")); /* w = 0 */
    assert_non_null(strstr(buf, "fill=\"rgb(8,48,107)\""));    /* w = 1 */
    /* 4*3 + 2*1 cells */
    int cells = 0;
    for (const char *p = buf; (p = strstr(p, "<rect x=")); p++)
        cells++;
    assert_int_equal(cells, 14);
    free(buf);
}

static void test_attn_save_is_atomic(void **state)
{
    (void)state;
    real w[12];
    RnnrtAttnMatrix m[2];
    make_matrices(w, m);
    char dir[] = "/tmp/test_rt_s2s.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char csv[128], svg[128], tmp[140];
    snprintf(csv, sizeof csv, "%s/a.csv", dir);
    snprintf(svg, sizeof svg, "%s/a.svg", dir);
    RnnrtError e = {0};
    assert_int_equal(rnnrt_attn_save(csv, svg, m, 2, &e), 0);
    assert_int_equal(access(csv, R_OK), 0);
    assert_int_equal(access(svg, R_OK), 0);
    snprintf(tmp, sizeof tmp, "%s.tmp", csv);
    assert_int_not_equal(access(tmp, F_OK), 0);
    /* an unwritable place: exit 3, nothing left behind */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/b.csv", dir);
    assert_int_equal(rnnrt_attn_save(csv, bad, m, 2, &e), RNNRT_EXIT_IO);
    assert_non_null(strstr(e.msg, "no/such/dir"));
    assert_int_not_equal(access(tmp, F_OK), 0);
    remove(csv);
    remove(svg);
    assert_int_equal(rmdir(dir), 0);
}

/* A small text file's contents (NUL-terminated; the caller frees). */
static char *slurp_text(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    assert_true(n < (1 << 16) - 1);
    fclose(f);
    return buf;
}

/* Attention plots go through rnnrt_out: a symlinked CSV keeps its link
 * and gets its target replaced; an SVG to /dev/null is written in place
 * (the device stays a device). */
static void test_attn_save_follows_links_and_devices(void **state)
{
    (void)state;
    real w[12];
    RnnrtAttnMatrix m[2];
    make_matrices(w, m);
    char dir[] = "/tmp/test_rt_s2s.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char real_csv[128], link[128], ref[128];
    snprintf(real_csv, sizeof real_csv, "%s/real.csv", dir);
    snprintf(link, sizeof link, "%s/link.csv", dir);
    snprintf(ref, sizeof ref, "%s/ref.csv", dir);
    FILE *f = fopen(real_csv, "w");
    assert_non_null(f);
    fputs("old\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(symlink("real.csv", link), 0);
    RnnrtError e = {0};
    assert_int_equal(rnnrt_attn_save(link, NULL, m, 2, &e), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* only once links are followed (code that renames over its output
     * fails above, before it could replace the machine's /dev/null) */
    assert_int_equal(rnnrt_attn_save(ref, "/dev/null", m, 2, &e), 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    char *got = slurp_text(real_csv), *want = slurp_text(ref);
    assert_string_equal(got, want);
    free(got);
    free(want);
    remove(link);
    remove(real_csv);
    remove(ref);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beam_finds_what_greedy_misses),
        cmocka_unit_test(test_beam_length_normalization),
        cmocka_unit_test(test_beam_never_emits_unk_pad_bos),
        cmocka_unit_test(test_beam_ties_pick_lower_token),
        cmocka_unit_test(test_beam_max_len_cuts),
        cmocka_unit_test(test_beam_batch_equals_single),
        cmocka_unit_test(test_beam_rows_trace_the_output),
        cmocka_unit_test(test_beam_wide_equals_exhaustive_search),
        cmocka_unit_test(test_beam_width_one_is_greedy),
        cmocka_unit_test(test_beam_bad_options),
        cmocka_unit_test(test_bleu_d2l_hand_values),
        cmocka_unit_test(test_corpus_bleu4_hand_values),
        cmocka_unit_test(test_bleu_intern_strings),
        cmocka_unit_test(test_attn_csv_round_trips),
        cmocka_unit_test(test_attn_svg_is_well_formed),
        cmocka_unit_test(test_attn_save_follows_links_and_devices),
        cmocka_unit_test(test_attn_save_is_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
