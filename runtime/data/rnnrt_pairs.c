/*
 * rnnrt_pairs.c: parallel corpora for seq2seq: `source<TAB>target` lines ->
 * checked, preprocessed tokens -> two vocabularies -> fixed-length arrays
 * with valid lengths -> shuffled minibatches.
 *
 * The rules (file format, d2l's preprocess_nmt, vocabularies, truncation and
 * padding, the split) are spelled out in rnnrt_s2s.h; bench/s2s_torch.py
 * implements the same ones and tests/s2s/check_data.sh compares the two.
 *
 * Invariants: every line is checked before anything is kept, so an error
 * leaves nothing allocated; tokens never contain ' ' or NUL and are never
 * empty; ids of words are >= 4 or RNNRT_UNK (a word spelled like a special
 * token is <unk>), so a <pad> in an array is always padding.
 *
 * This tokenizer is for translation only: the language-model word tokenizer
 * (rnnrt_words.c) normalizes differently.
 */
#include "rnnrt_s2s.h"

#include <stdlib.h>
#include <string.h>

void rnnrt_pairs_opts_default(RnnrtPairsOpts *o)
{
    o->train_frac = 0.9;
    o->min_freq = 2;
    o->num_steps = 10;
    o->max_pairs = 0;
}

/* ---- preprocessing ---- */

/* Decodes the UTF-8 character at s (valid, at most n bytes); *k = bytes. */
static uint32_t decode(const unsigned char *s, size_t n, int *k)
{
    int len = rnnrt_utf8_len(s[0]);
    if ((size_t)len > n)
        len = 1;
    *k = len;
    switch (len) {
    case 1: return s[0];
    case 2: return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    case 3: return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6
                   | (s[2] & 0x3F);
    default: return (uint32_t)(s[0] & 0x07) << 18
                    | (uint32_t)(s[1] & 0x3F) << 12
                    | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    }
}

/* Writes code point c (< 0x800 here, or any) as UTF-8; returns bytes. */
static int encode(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (char)(0x80 | (c >> 6 & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Python's str.lower() for the blocks listed in rnnrt_s2s.h. U+0130 is
 * handled by the caller (it lowers to two characters). */
static uint32_t lower(uint32_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c < 0xC0)
        return c;
    if (c <= 0xDE)
        return c == 0xD7 ? c : c + 32;
    if (c >= 0x100 && c <= 0x137 && c != 0x130 && c != 0x131)
        return c | 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return (c & 1) ? c + 1 : c;
    if (c >= 0x14A && c <= 0x177)
        return c | 1;
    if (c == 0x178)
        return 0xFF;
    if (c >= 0x400 && c <= 0x40F)
        return c + 0x50;
    if (c >= 0x410 && c <= 0x42F)
        return c + 32;
    return c;
}

size_t rnnrt_s2s_preprocess(const char *text, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0;
    int prev_space = 1; /* no space is inserted at the start */
    for (size_t i = 0; i < len;) {
        int k;
        uint32_t c = decode(s + i, len - i, &k);
        i += (size_t)k;
        if (c == 0x202F || c == 0xA0)
            c = ' ';
        if ((c == ',' || c == '.' || c == '!' || c == '?') && !prev_space)
            out[o++] = ' ';
        if (c == 0x130) { /* Python: U+0130 -> "i" U+0307 */
            out[o++] = 'i';
            o += (size_t)encode(0x307, out + o);
        } else {
            o += (size_t)encode(lower(c), out + o);
        }
        prev_space = c == ' ';
    }
    out[o] = '\0';
    return o;
}

/* ---- a growing side: token strings and their pair boundaries ---- */

typedef struct {
    char *text;
    size_t len, cap;
    size_t *offs; /* token start offsets into text */
    size_t ntok, tcap;
    size_t *start; /* pair boundaries */
    size_t npair, pcap;
} SideBuild;

static void *grow(void *p, size_t *cap, size_t need, size_t elem,
                  const char *what)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    size_t bytes;
    if (rnnrt_size_mul(c, elem, &bytes) != 0)
        bytes = SIZE_MAX;
    void *q = bytes == SIZE_MAX ? NULL : realloc(p, bytes);
    if (!q) {
        fprintf(stderr, "error: out of memory growing %s to %zu entries\n",
                what, c);
        exit(RNNRT_EXIT_IO);
    }
    *cap = c;
    return q;
}

/* Splits the preprocessed side pre[0..n) on ' ' and appends its tokens;
 * returns how many. */
static size_t side_add(SideBuild *sb, const char *pre, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && pre[i] == ' ')
            i++;
        size_t j = i;
        while (j < n && pre[j] != ' ')
            j++;
        if (j > i) {
            sb->text = grow(sb->text, &sb->cap, sb->len + (j - i) + 1, 1,
                            "corpus tokens");
            sb->offs = grow(sb->offs, &sb->tcap, sb->ntok + 1,
                            sizeof *sb->offs, "corpus tokens");
            sb->offs[sb->ntok++] = sb->len;
            memcpy(sb->text + sb->len, pre + i, j - i);
            sb->len += j - i;
            sb->text[sb->len++] = '\0';
            count++;
        }
        i = j;
    }
    return count;
}

static void side_end_pair(SideBuild *sb)
{
    sb->start = grow(sb->start, &sb->pcap, sb->npair + 2, sizeof *sb->start,
                     "corpus pairs");
    if (sb->npair == 0)
        sb->start[0] = 0;
    sb->start[++sb->npair] = sb->ntok;
}

static void side_build_free(SideBuild *sb)
{
    free(sb->text);
    free(sb->offs);
    free(sb->start);
    memset(sb, 0, sizeof *sb);
}

/* Moves a finished SideBuild into an RnnrtSide (pointers into text). */
static void side_finish(SideBuild *sb, RnnrtSide *side)
{
    memset(side, 0, sizeof *side);
    side->text = sb->text;
    side->ntok = sb->ntok;
    side->tok = rnnrt_xcalloc(sb->ntok + 1, sizeof *side->tok, "tokens");
    for (size_t i = 0; i < sb->ntok; i++)
        side->tok[i] = sb->text + sb->offs[i];
    side->start = sb->start;
    side->ids = rnnrt_xcalloc(sb->ntok + 1, sizeof *side->ids, "token ids");
    free(sb->offs);
    memset(sb, 0, sizeof *sb);
}

/* ---- reading lines ---- */

static int error_at(RnnrtError *err, const char *path, size_t line,
                    size_t col, const char *msg)
{
    char where[600];
    snprintf(where, sizeof where, "%s:%zu:%zu", path, line, col);
    return rnnrt_error_at(err, RNNRT_EXIT_DATA, where, "%s", msg);
}

/* Checks one line (without its line end) and finds its tab. */
static int check_pair_line(const char *line, size_t len, const char *path,
                           size_t lineno, size_t *tab, RnnrtError *err)
{
    char msg[200];
    if (len > RNNRT_PAIRS_MAX_LINE) {
        snprintf(msg, sizeof msg, "line is longer than %d bytes (%zu bytes)",
                 RNNRT_PAIRS_MAX_LINE, len);
        return error_at(err, path, lineno, RNNRT_PAIRS_MAX_LINE + 1, msg);
    }
    if (len == 0)
        return error_at(err, path, lineno, 1, "empty line: expected "
                        "'source<TAB>target'");
    const char *t = memchr(line, '\t', len);
    if (!t)
        return error_at(err, path, lineno, len + 1, "no tab in this line: "
                        "expected 'source<TAB>target'");
    const char *t2 = memchr(t + 1, '\t', len - (size_t)(t - line) - 1);
    if (t2)
        return error_at(err, path, lineno, (size_t)(t2 - line) + 1,
                        "a second tab: expected exactly one tab, between "
                        "source and target");
    *tab = (size_t)(t - line);
    return 0;
}

/* Whether side s[0..n) holds a token after preprocessing: any byte other
 * than ' ' that does not start U+00A0 or U+202F. */
static int has_token(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (u[i] == ' ') {
            i++;
        } else if (u[i] == 0xC2 && i + 1 < n && u[i + 1] == 0xA0) {
            i += 2;
        } else if (u[i] == 0xE2 && i + 2 < n && u[i + 1] == 0x80
                   && u[i + 2] == 0xAF) {
            i += 3;
        } else {
            return 1;
        }
    }
    return 0;
}

/* Byte offset where the lines used end (after max_pairs lines). */
static size_t used_prefix(const char *data, size_t len, size_t max_pairs)
{
    if (!max_pairs)
        return len;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\n' && ++lines == max_pairs)
            return i + 1;
    return len;
}

/* Reads every line of data[0..len) into the two sides. */
static int read_lines(const char *path, const char *data, size_t len,
                      SideBuild *src, SideBuild *tgt, RnnrtError *err)
{
    char *pre = rnnrt_xcalloc(2 * RNNRT_PAIRS_MAX_LINE + 2, 1,
                              "preprocessing buffer");
    int rc = 0;
    size_t lineno = 0;
    for (size_t i = 0; i < len && !rc;) {
        const char *line = data + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t n = nl ? (size_t)(nl - line) : len - i;
        i += n + (nl != NULL);
        lineno++;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        size_t tab = 0;
        rc = check_pair_line(line, n, path, lineno, &tab, err);
        if (rc)
            break;
        if (!has_token(line, tab)) {
            rc = error_at(err, path, lineno, 1, "empty source side: "
                          "expected at least one word before the tab");
            break;
        }
        if (!has_token(line + tab + 1, n - tab - 1)) {
            rc = error_at(err, path, lineno, tab + 2, "empty target side: "
                          "expected at least one word after the tab");
            break;
        }
        size_t m = rnnrt_s2s_preprocess(line, tab, pre);
        side_add(src, pre, m);
        m = rnnrt_s2s_preprocess(line + tab + 1, n - tab - 1, pre);
        side_add(tgt, pre, m);
        side_end_pair(src);
        side_end_pair(tgt);
    }
    free(pre);
    if (!rc && lineno == 0)
        rc = error_at(err, path, 1, 1, "no sentence pairs in this file");
    return rc;
}

/* ---- vocabularies ---- */

int rnnrt_s2s_vocab_check(const RnnrtVocab *v, const char *what,
                          RnnrtError *err)
{
    static const char *const specials[] = {"<unk>", "<pad>", "<bos>",
                                           "<eos>"};
    for (int i = 0; i < 4; i++)
        if (v->size <= i || strcmp(v->tokens[i], specials[i]))
            return rnnrt_error(err, RNNRT_EXIT_DATA,
                               "the %s lacks %s at id %d (ids 0-3 must be "
                               "<unk> <pad> <bos> <eos>)", what, specials[i],
                               i);
    if (v->size < 5)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "the %s has no tokens besides <unk> <pad> <bos> "
                           "<eos>", what);
    return 0;
}

static const RnnrtVocab *sort_tally;
static int by_count(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    int64_t ci = sort_tally->counts[i], cj = sort_tally->counts[j];
    if (ci != cj)
        return ci > cj ? -1 : 1;
    return strcmp(sort_tally->tokens[i], sort_tally->tokens[j]);
}

/* Vocabulary of tokens tok[0..ntok) counted >= min_freq times. */
static void build_vocab(RnnrtVocab *v, char *const *tok, size_t ntok,
                        int min_freq)
{
    RnnrtVocab tally;
    rnnrt_vocab_init(&tally);
    for (size_t i = 0; i < ntok; i++) {
        size_t n = strlen(tok[i]);
        int id = rnnrt_vocab_find(&tally, tok[i], n);
        if (id < 0)
            rnnrt_vocab_add(&tally, tok[i], n, 1);
        else if (id >= 4)
            tally.counts[id]++;
    }
    int nw = tally.size - 4;
    int *order = rnnrt_xcalloc((size_t)nw + 1, sizeof *order, "vocab order");
    for (int i = 0; i < nw; i++)
        order[i] = i + 4;
    sort_tally = &tally;
    qsort(order, (size_t)nw, sizeof *order, by_count);
    sort_tally = NULL;
    rnnrt_vocab_init(v);
    for (int i = 0; i < nw && tally.counts[order[i]] >= min_freq; i++)
        rnnrt_vocab_add(v, tally.tokens[order[i]],
                        strlen(tally.tokens[order[i]]),
                        tally.counts[order[i]]);
    free(order);
    rnnrt_vocab_free(&tally);
}

static void copy_vocab(RnnrtVocab *dst, const RnnrtVocab *src)
{
    rnnrt_vocab_init(dst);
    for (int i = 4; i < src->size; i++)
        rnnrt_vocab_add(dst, src->tokens[i], strlen(src->tokens[i]),
                        src->counts[i]);
}

static int32_t word_id(const RnnrtVocab *v, const char *tok, size_t n)
{
    int id = rnnrt_vocab_find(v, tok, n);
    return id < 4 ? RNNRT_UNK : id;
}

static void encode_side(RnnrtSide *s, const RnnrtVocab *v, size_t ntrain_tok)
{
    for (size_t i = 0; i < s->ntok; i++) {
        s->ids[i] = word_id(v, s->tok[i], strlen(s->tok[i]));
        if (s->ids[i] == RNNRT_UNK)
            *(i < ntrain_tok ? &s->unk_train : &s->unk_held) += 1;
    }
}

/* ---- arrays ---- */

/* ids[0..n) + <eos>, cut or padded to T; returns the valid length. */
static int32_t fill_row(const int32_t *ids, size_t n, int T, int32_t *row)
{
    int32_t valid = 0;
    for (int t = 0; t < T; t++) {
        if ((size_t)t < n)
            row[t] = ids[t];
        else if ((size_t)t == n)
            row[t] = RNNRT_EOS;
        else
            row[t] = RNNRT_PAD;
        valid += row[t] != RNNRT_PAD;
    }
    return valid;
}

static void build_arrays(RnnrtPairs *p)
{
    size_t T = (size_t)p->T, cells;
    if (rnnrt_size_mul(p->n, T, &cells) != 0)
        cells = SIZE_MAX; /* rnnrt_xcalloc reports the overflow */
    p->src_arr = rnnrt_xcalloc(cells, sizeof(int32_t), "source array");
    p->dec_in = rnnrt_xcalloc(cells, sizeof(int32_t), "decoder input array");
    p->label = rnnrt_xcalloc(cells, sizeof(int32_t), "label array");
    p->src_valid = rnnrt_xcalloc(p->n, sizeof(int32_t), "valid lengths");
    p->tgt_valid = rnnrt_xcalloc(p->n, sizeof(int32_t), "valid lengths");
    for (size_t i = 0; i < p->n; i++) {
        const RnnrtSide *s = &p->src, *t = &p->tgt;
        p->src_valid[i] = fill_row(s->ids + s->start[i],
                                   s->start[i + 1] - s->start[i], p->T,
                                   p->src_arr + i * T);
        p->tgt_valid[i] = fill_row(t->ids + t->start[i],
                                   t->start[i + 1] - t->start[i], p->T,
                                   p->label + i * T);
        p->dec_in[i * T] = RNNRT_BOS;
        memcpy(p->dec_in + i * T + 1, p->label + i * T,
               (T - 1) * sizeof(int32_t));
    }
}

/* ---- loading ---- */

static int check_opts(const RnnrtPairsOpts *o, RnnrtError *err)
{
    if (!(o->train_frac > 0 && o->train_frac <= 1))
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "the training fraction "
                           "must be in (0, 1], not %g", o->train_frac);
    if (o->min_freq < 1)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "min_freq must be at least "
                           "1, not %d", o->min_freq);
    if (o->num_steps < 2)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "num_steps must be at "
                           "least 2, not %d", o->num_steps);
    return 0;
}

static int make_vocabs(RnnrtPairs *p, const char *path, int min_freq,
                       const RnnrtVocab *sv, const RnnrtVocab *tv,
                       RnnrtError *err)
{
    if (sv)
        copy_vocab(&p->src_vocab, sv);
    else
        build_vocab(&p->src_vocab, p->src.tok, p->src.start[p->ntrain],
                    min_freq);
    if (tv)
        copy_vocab(&p->tgt_vocab, tv);
    else
        build_vocab(&p->tgt_vocab, p->tgt.tok, p->tgt.start[p->ntrain],
                    min_freq);
    const char *which = p->src_vocab.size < 5 ? "source" : "target";
    if (p->src_vocab.size < 5 || p->tgt_vocab.size < 5)
        return rnnrt_error_at(err, RNNRT_EXIT_DATA, path,
                              "the %s vocabulary is empty: no %s word occurs "
                              "%d or more times in the %zu training pairs",
                              which, which, min_freq, p->ntrain);
    return 0;
}

int rnnrt_pairs_parse(RnnrtPairs *p, const char *path, const char *data,
                      size_t len, const RnnrtPairsOpts *o,
                      const RnnrtVocab *src_vocab,
                      const RnnrtVocab *tgt_vocab, RnnrtError *err)
{
    memset(p, 0, sizeof *p);
    int rc = check_opts(o, err);
    if (!rc && src_vocab)
        rc = rnnrt_s2s_vocab_check(src_vocab, "source vocabulary", err);
    if (!rc && tgt_vocab)
        rc = rnnrt_s2s_vocab_check(tgt_vocab, "target vocabulary", err);
    size_t used = used_prefix(data, len, o->max_pairs);
    if (!rc)
        rc = rnnrt_utf8_check(data, used, path, 0, err);
    SideBuild sb = {0}, tb = {0};
    if (!rc)
        rc = read_lines(path, data, used, &sb, &tb, err);
    if (rc) {
        side_build_free(&sb);
        side_build_free(&tb);
        return rc;
    }
    p->n = sb.npair;
    p->ntrain = (size_t)((double)p->n * o->train_frac + 1e-9);
    if (p->ntrain > p->n)
        p->ntrain = p->n;
    p->T = o->num_steps;
    p->hash = rnnrt_fnv1a(RNNRT_FNV_INIT, data, len);
    side_finish(&sb, &p->src);
    side_finish(&tb, &p->tgt);
    if (p->ntrain == 0) {
        size_t n = p->n;
        rnnrt_pairs_free(p);
        return rnnrt_error_at(err, RNNRT_EXIT_DATA, path,
                              "%zu pairs leave no training pair at a training "
                              "fraction of %g", n, o->train_frac);
    }
    rc = make_vocabs(p, path, o->min_freq, src_vocab, tgt_vocab, err);
    if (rc) {
        rnnrt_pairs_free(p);
        return rc;
    }
    encode_side(&p->src, &p->src_vocab, p->src.start[p->ntrain]);
    encode_side(&p->tgt, &p->tgt_vocab, p->tgt.start[p->ntrain]);
    build_arrays(p);
    return 0;
}

int rnnrt_pairs_load(RnnrtPairs *p, const char *path, const RnnrtPairsOpts *o,
                     const RnnrtVocab *src_vocab, const RnnrtVocab *tgt_vocab,
                     RnnrtError *err)
{
    char *data;
    size_t len;
    memset(p, 0, sizeof *p);
    int rc = rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, &data, &len, err);
    if (rc)
        return rc;
    rc = rnnrt_pairs_parse(p, path, data, len, o, src_vocab, tgt_vocab, err);
    free(data);
    return rc;
}

static void side_free(RnnrtSide *s)
{
    free(s->text);
    free(s->tok);
    free(s->start);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

void rnnrt_pairs_free(RnnrtPairs *p)
{
    if (p->src_vocab.lookup)
        rnnrt_vocab_free(&p->src_vocab);
    if (p->tgt_vocab.lookup)
        rnnrt_vocab_free(&p->tgt_vocab);
    side_free(&p->src);
    side_free(&p->tgt);
    free(p->src_arr);
    free(p->dec_in);
    free(p->label);
    free(p->src_valid);
    free(p->tgt_valid);
    memset(p, 0, sizeof *p);
}

/* ---- single sentences (translate) ---- */

int rnnrt_s2s_check_line(const char *line, size_t len, const char *where,
                         size_t lineno, RnnrtError *err)
{
    if (len > RNNRT_PAIRS_MAX_LINE) {
        char msg[120];
        snprintf(msg, sizeof msg, "line is longer than %d bytes (%zu bytes)",
                 RNNRT_PAIRS_MAX_LINE, len);
        return error_at(err, where, lineno, RNNRT_PAIRS_MAX_LINE + 1, msg);
    }
    RnnrtError e = {0};
    if (rnnrt_utf8_check(line, len, where, 0, &e) != 0) {
        /* rnnrt_utf8_check counts lines from 1 within `line`: keep its
         * column, put our line number in front. */
        const char *col = strrchr(e.where, ':');
        char w[600];
        snprintf(w, sizeof w, "%s:%zu%s", where, lineno, col ? col : ":1");
        return rnnrt_error_at(err, RNNRT_EXIT_DATA, w, "%s", e.msg);
    }
    const char *tab = memchr(line, '\t', len);
    if (tab)
        return error_at(err, where, lineno, (size_t)(tab - line) + 1,
                        "a tab in a sentence to translate (give the source "
                        "sentence only)");
    return 0;
}

void rnnrt_s2s_encode(const RnnrtVocab *v, const char *line, size_t len, int T,
                      int32_t *row, int32_t *valid, size_t *nunk)
{
    char *pre = rnnrt_xcalloc(2 * len + 1, 1, "sentence");
    int32_t *ids = rnnrt_xcalloc((size_t)T, sizeof *ids, "sentence ids");
    rnnrt_s2s_encode_in(v, line, len, T, row, valid, nunk, pre, ids);
    free(ids);
    free(pre);
}

void rnnrt_s2s_encode_in(const RnnrtVocab *v, const char *line, size_t len,
                         int T, int32_t *row, int32_t *valid, size_t *nunk,
                         char *pre, int32_t *ids)
{
    size_t m = rnnrt_s2s_preprocess(line, len, pre);
    size_t n = 0;
    for (size_t i = 0; i < m && n < (size_t)T;) {
        while (i < m && pre[i] == ' ')
            i++;
        size_t j = i;
        while (j < m && pre[j] != ' ')
            j++;
        if (j > i) {
            ids[n] = word_id(v, pre + i, j - i);
            if (ids[n] == RNNRT_UNK && nunk)
                (*nunk)++;
            n++;
        }
        i = j;
    }
    *valid = fill_row(ids, n, T, row);
}

/* ---- minibatches ---- */

void rnnrt_s2s_batcher_init(RnnrtS2sBatcher *b, const RnnrtPairs *p,
                            size_t first, size_t count, int B, int shuffle,
                            int drop_last)
{
    memset(b, 0, sizeof *b);
    b->p = p;
    b->first = first;
    b->count = count;
    b->B = B;
    b->shuffle = shuffle;
    b->drop_last = drop_last;
    b->order = rnnrt_xcalloc(count + 1, sizeof *b->order, "batch order");
    for (size_t i = 0; i < count; i++)
        b->order[i] = first + i;
    b->nbatches = drop_last ? count / (size_t)B
                            : (count + (size_t)B - 1) / (size_t)B;
}

void rnnrt_s2s_batcher_epoch(RnnrtS2sBatcher *b, RnnrtRng *r)
{
    for (size_t i = 0; i < b->count; i++)
        b->order[i] = b->first + i;
    if (!b->shuffle)
        return;
    for (size_t i = b->count; i > 1; i--) {
        size_t j = (size_t)rnnrt_rng_below(r, i);
        size_t t = b->order[i - 1];
        b->order[i - 1] = b->order[j];
        b->order[j] = t;
    }
}

void rnnrt_s2s_batcher_free(RnnrtS2sBatcher *b)
{
    free(b->order);
    memset(b, 0, sizeof *b);
}

void rnnrt_s2s_batch_init(RnnrtS2sBatch *mb, int B, int T)
{
    memset(mb, 0, sizeof *mb);
    mb->B = B;
    mb->T = T;
    size_t cells = (size_t)B * (size_t)T;
    mb->src = rnnrt_xcalloc(cells, sizeof(int32_t), "minibatch");
    mb->dec_in = rnnrt_xcalloc(cells, sizeof(int32_t), "minibatch");
    mb->label = rnnrt_xcalloc(cells, sizeof(int32_t), "minibatch");
    mb->src_valid = rnnrt_xcalloc((size_t)B, sizeof(int32_t), "minibatch");
    mb->tgt_valid = rnnrt_xcalloc((size_t)B, sizeof(int32_t), "minibatch");
    mb->pair = rnnrt_xcalloc((size_t)B, sizeof(size_t), "minibatch");
}

void rnnrt_s2s_batch_free(RnnrtS2sBatch *mb)
{
    free(mb->src);
    free(mb->dec_in);
    free(mb->label);
    free(mb->src_valid);
    free(mb->tgt_valid);
    free(mb->pair);
    memset(mb, 0, sizeof *mb);
}

void rnnrt_s2s_batcher_get(const RnnrtS2sBatcher *b, size_t i,
                           RnnrtS2sBatch *mb)
{
    const RnnrtPairs *p = b->p;
    int B = mb->B, T = mb->T;
    size_t lo = i * (size_t)b->B;
    size_t rows = b->count - lo < (size_t)B ? b->count - lo : (size_t)B;
    mb->nrows = (int)rows;
    mb->ntokens = 0;
    for (int r = 0; r < B; r++) {
        size_t k = (size_t)r < rows ? b->order[lo + (size_t)r] : SIZE_MAX;
        mb->pair[r] = k;
        mb->src_valid[r] = k == SIZE_MAX ? 0 : p->src_valid[k];
        mb->tgt_valid[r] = k == SIZE_MAX ? 0 : p->tgt_valid[k];
        mb->ntokens += mb->tgt_valid[r];
        for (int t = 0; t < T; t++) {
            size_t c = (size_t)t * (size_t)B + (size_t)r;
            size_t a = k * (size_t)p->T + (size_t)t;
            mb->src[c] = k == SIZE_MAX ? RNNRT_PAD : p->src_arr[a];
            mb->dec_in[c] = k == SIZE_MAX ? RNNRT_PAD : p->dec_in[a];
            mb->label[c] = k == SIZE_MAX ? RNNRT_PAD : p->label[a];
        }
    }
}
