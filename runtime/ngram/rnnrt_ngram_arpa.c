/*
 * rnnrt_ngram_arpa.c: ARPA interchange of a built n-gram model (the text
 * format of KenLM, SRILM and NLTK).
 *
 *   \data\
 *   ngram 1=C1            one line per order, 1..N
 *   ...
 *   \1-grams:
 *   log10p<TAB>w<TAB>log10bo     the backoff weight only when not zero
 *   ...
 *   \N-grams:
 *   log10p<TAB>w1 .. wN
 *   \end\
 *
 * A built model already is in this form (rnnrt_ngram.h: lp = ln p(w|h)
 * with the lower orders folded in, lg = ln of the weight of a context), so
 * export converts ln to log10 and import converts back; scoring an
 * imported model uses the same backoff walk as a counted one. Numbers are
 * written with 15 significant digits, so a round trip keeps the
 * perplexity to ~1e-14. log 0 (-inf: mle's unseen unigrams, a backoff
 * context followed by every token, and <s> as a predicted token) is
 * written as -99, the ARPA convention, and read back as -inf.
 *
 * Tokens. <bos>, <eos>, <unk> are <s>, </s>, <unk>; <pad> is never
 * written. ARPA tokens are separated by whitespace, so a token that is
 * one ASCII whitespace or control byte (a character model's space,
 * newline, tab) is written as a name: <space>, <newline>, <tab>, else
 * <0xHH>. Any other token is written as it is; one that contains such a
 * byte, or that looks like a name (<...>), cannot be written and export
 * refuses it. Import maps the names back.
 *
 * add_k does not back off (it uses only the full context), so it has no
 * ARPA form and export refuses it.
 *
 * Import reads the file into the tables with counts of zero; it checks the
 * header, every section and entry, the counts against the header, and
 * \end\, and names file:line for what is wrong (exit 1).
 */
#include "rnnrt_ngram.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define LN10 2.302585092994045684017991454684364208
#define ARPA_LOG0 (-99.0)

/* ---- token names ---- */

static const char *const byte_names[] = {[' '] = "<space>",
                                         ['\n'] = "<newline>",
                                         ['\t'] = "<tab>"};

static int is_sep_byte(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

/* The ARPA name of token w into buf (cap >= 16), or NULL when it has
 * none (see the top of the file). */
static const char *token_name(const RnnrtVocab *v, int32_t w, char *buf,
                              size_t cap)
{
    if (w == RNNRT_BOS)
        return "<s>";
    if (w == RNNRT_EOS)
        return "</s>";
    if (w == RNNRT_UNK)
        return "<unk>";
    if (w == RNNRT_PAD)
        return NULL;
    const char *t = v->tokens[w];
    size_t n = strlen(t);
    if (n == 1 && is_sep_byte((unsigned char)t[0])) {
        unsigned char c = (unsigned char)t[0];
        if (c < sizeof byte_names / sizeof *byte_names && byte_names[c])
            return byte_names[c];
        snprintf(buf, cap, "<0x%02X>", c);
        return buf;
    }
    if (n == 0 || (n >= 3 && t[0] == '<' && t[n - 1] == '>'))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (is_sep_byte((unsigned char)t[i]))
            return NULL;
    return t;
}

/* The bytes an ARPA token that is not <s>, </s>, <unk> stands for: a
 * byte name's byte (into *byte), else the token itself. */
static void token_bytes(const char *s, char *byte, const char **out,
                        size_t *len)
{
    for (size_t c = 0; c < sizeof byte_names / sizeof *byte_names; c++)
        if (byte_names[c] && !strcmp(s, byte_names[c])) {
            *byte = (char)c;
            *out = byte;
            *len = 1;
            return;
        }
    unsigned x;
    char tail;
    if (strlen(s) == 6 && sscanf(s, "<0x%2X%c", &x, &tail) == 2 &&
        tail == '>' && is_sep_byte((unsigned char)x)) {
        *byte = (char)x;
        *out = byte;
        *len = 1;
        return;
    }
    *out = s;
    *len = strlen(s);
}

/* <s>, </s>, <unk> as ids; -1 for any other token. */
static int special_id(const char *s)
{
    return !strcmp(s, "<s>")     ? RNNRT_BOS
           : !strcmp(s, "</s>")  ? RNNRT_EOS
           : !strcmp(s, "<unk>") ? RNNRT_UNK
                                 : -1;
}

/* The inverse of token_name: the id of an ARPA token in v, or -1 (also
 * for the vocabulary's own names of <pad>, <bos>, <eos>). */
static int token_id(const RnnrtVocab *v, const char *s)
{
    int id = special_id(s);
    if (id >= 0)
        return id;
    const char *bytes;
    char byte;
    size_t len;
    token_bytes(s, &byte, &bytes, &len);
    id = rnnrt_vocab_find(v, bytes, len);
    return id > RNNRT_EOS ? id : -1;
}

/* ---- export ---- */

typedef struct {
    const RnnrtNgram *g;
    const RnnrtVocab *v;
} ArpaOut;

static void put_num(FILE *f, double ln)
{
    if (ln == -INFINITY)
        fprintf(f, "%g", ARPA_LOG0);
    else
        fprintf(f, "%.15g", ln / LN10);
}

static int write_arpa(FILE *f, void *ctx)
{
    const ArpaOut *o = ctx;
    const RnnrtNgram *g = o->g;
    fprintf(f, "\\data\\\n");
    for (int m = 1; m <= g->order; m++)
        fprintf(f, "ngram %d=%zu\n", m,
                m == 1 ? (size_t)g->V - 1 : g->t[m].n);
    char buf[RNNRT_NGRAM_MAX_ORDER][16];
    int32_t toks[RNNRT_NGRAM_MAX_ORDER];
    for (int m = 1; m <= g->order; m++) {
        const RnnrtNgramTable *t = &g->t[m];
        fprintf(f, "\n\\%d-grams:\n", m);
        for (size_t id = 0; id < t->n; id++) {
            if (m == 1 && id == RNNRT_PAD)
                continue;
            rnnrt_ngram_tokens(g, m, (uint32_t)id, toks);
            put_num(f, m == 1 && id == RNNRT_BOS ? -INFINITY : t->lp[id]);
            for (int i = 0; i < m; i++)
                fprintf(f, "%c%s", i ? ' ' : '\t',
                        token_name(o->v, toks[i], buf[i], sizeof buf[i]));
            if (m < g->order && t->lg[id] != 0) {
                fputc('\t', f);
                put_num(f, t->lg[id]);
            }
            fputc('\n', f);
        }
    }
    fprintf(f, "\n\\end\\\n");
    return ferror(f) ? EIO : 0;
}

int rnnrt_ngram_export_arpa(const char *path, const RnnrtNgram *g,
                            const RnnrtVocab *v, RnnrtError *err)
{
    if (!g->order)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "internal error: exporting an n-gram model that "
                           "was not built");
    if (g->opts.smoothing == RNNRT_SMOOTH_ADD_K && !g->from_arpa)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "an add_k model has no ARPA form: it does not "
                           "back off to lower orders (use backoff, "
                           "kneser_ney, modified_kneser_ney or mle)");
    char buf[16];
    for (int32_t w = RNNRT_EOS + 1; w < g->V; w++)
        if (!token_name(v, w, buf, sizeof buf))
            return rnnrt_error(err, RNNRT_EXIT_DATA,
                               "token %d, '%s', cannot be written as an "
                               "ARPA token (it contains whitespace or looks "
                               "like a name such as <s>)", (int)w,
                               v->tokens[w]);
    ArpaOut o = {g, v};
    RnnrtSaveStage stage;
    int e = rnnrt_file_save(path, write_arpa, &o, &stage);
    return rnnrt_ngram_save_error(path, "the ARPA file", stage, e, err);
}

/* ---- import ---- */

#define MAXF (RNNRT_NGRAM_MAX_ORDER + 3)

typedef struct {
    const char *path, *p;
    size_t n, pos, lineno;
    char *line;
    size_t cap;
    char *f[MAXF];
    int nf;      /* fields of the line; MAXF = at least that many */
    int back;    /* the current line is to be read again */
    RnnrtError *err;
} Lines;

static int next_line(Lines *L)
{
    if (L->back) {
        L->back = 0;
        return 1;
    }
    if (L->pos >= L->n)
        return 0;
    const char *s = L->p + L->pos;
    const char *e = memchr(s, '\n', L->n - L->pos);
    size_t len = e ? (size_t)(e - s) : L->n - L->pos;
    L->pos += len + (e != NULL);
    L->lineno++;
    if (len + 1 > L->cap) {
        L->cap = 2 * (len + 1);
        free(L->line);
        L->line = rnnrt_xcalloc(L->cap, 1, "ARPA line");
    }
    memcpy(L->line, s, len);
    L->line[len] = 0;
    L->nf = 0;
    for (char *c = L->line; *c && L->nf < MAXF;) {
        while (*c == ' ' || *c == '\t' || *c == '\r')
            *c++ = 0;
        if (!*c)
            break;
        L->f[L->nf++] = c;
        while (*c && *c != ' ' && *c != '\t' && *c != '\r')
            c++;
    }
    return 1;
}

static int bad(Lines *L, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int bad(Lines *L, const char *fmt, ...)
{
    char where[RNNRT_PATH_MAX + 32], msg[512];
    snprintf(where, sizeof where, "%s:%zu", L->path, L->lineno);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rnnrt_error_at(L->err, RNNRT_EXIT_DATA, where, "%s", msg);
}

/* The next line that is not blank; 0 at the end of the file. */
static int next_nonblank(Lines *L)
{
    while (next_line(L))
        if (L->nf)
            return 1;
    return 0;
}

/* A decimal number filling the field: 0, or an error naming it. */
static int parse_num(Lines *L, const char *s, const char *what, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || x != x || x == INFINITY)
        return bad(L, "%s '%s' is not a number", what, s);
    *out = x <= ARPA_LOG0 ? -INFINITY : x * LN10;
    return 0;
}

static int parse_header(Lines *L, uint64_t *cnt, int *order)
{
    int found = 0;
    while (!found && next_line(L))
        found = L->nf == 1 && !strcmp(L->f[0], "\\data\\");
    /* text before \data\ is a comment, as SRILM allows */
    if (!found)
        return rnnrt_error_at(L->err, RNNRT_EXIT_DATA, L->path,
                              "no '\\data\\' line: this is not an ARPA "
                              "file");
    *order = 0;
    while (next_line(L)) {
        if (!L->nf) {
            if (*order)
                break;
            continue;
        }
        if (L->f[0][0] == '\\') {
            L->back = 1;
            break;
        }
        int m, used = 0;
        unsigned long long c;
        if (L->nf != 2 || strcmp(L->f[0], "ngram") ||
            sscanf(L->f[1], "%d=%llu%n", &m, &c, &used) != 2 ||
            L->f[1][used] || L->f[1][0] == '-' || strchr(L->f[1], '-'))
            return bad(L, "expected 'ngram N=COUNT' in the \\data\\ section, "
                       "found '%s%s%s'", L->f[0], L->nf > 1 ? " " : "",
                       L->nf > 1 ? L->f[1] : "");
        if (m != *order + 1 || m > RNNRT_NGRAM_MAX_ORDER)
            return bad(L, "order %d: expected order %d (orders go 1, 2, ... "
                       "up to %d)", m, *order + 1, RNNRT_NGRAM_MAX_ORDER);
        if (c > L->n / 4 || (m == 1 && c == 0))
            return bad(L, "ngram %d=%llu: %s", m, c,
                       c ? "more n-grams than the file can hold"
                         : "a model needs at least one 1-gram");
        cnt[m] = c;
        *order = m;
    }
    if (!*order)
        return bad(L, "the \\data\\ section has no 'ngram N=COUNT' line");
    return 0;
}

/* Reads the entries of order m into g (and, for m = 1, v). */
static int parse_entry(Lines *L, RnnrtNgram *g, RnnrtVocab *v, int m,
                       int order, size_t k, int32_t *uni, int *seen)
{
    RnnrtNgramTable *t = &g->t[m];
    if (L->nf < m + 1 || L->nf > m + 2)
        return bad(L, "a %d-gram line is a log10 probability, %d token%s "
                   "and an optional backoff weight; this one has %s%d "
                   "fields", m, m, m > 1 ? "s" : "", L->nf == MAXF ? "at "
                   "least " : "", L->nf);
    if (L->nf == m + 2 && m == order)
        return bad(L, "%d fields: a %d-gram of the highest order has a "
                   "log10 probability and %d tokens, no backoff weight (an "
                   "n-gram of another order?)", L->nf, m, m);
    double lp, lg = 0;
    int rc = parse_num(L, L->f[0], "the log10 probability", &lp);
    if (!rc && L->nf == m + 2)
        rc = parse_num(L, L->f[m + 1], "the backoff weight", &lg);
    if (rc)
        return rc;
    if (lp > 1e-6)
        return bad(L, "log10 probability %s is above 0", L->f[0]);
    if (m == 1) {
        const char *name = L->f[1], *bytes;
        char byte;
        size_t len;
        int id = special_id(name);
        if (id >= 0) {
            id = seen[id] ? -1 : id;
            if (id >= 0)
                seen[id] = 1;
        } else {
            token_bytes(name, &byte, &bytes, &len);
            id = rnnrt_vocab_add(v, bytes, len, 0); /* -1: present */
        }
        if (id < 0)
            return bad(L, "1-gram '%s' is listed twice (or is the reserved "
                       "<pad>, <bos> or <eos>)", name);
        uni[k] = id;
        /* lp and lg of unigram k wait in t->lp/lg until the vocabulary is
         * complete; the table is made then. */
        t->lp[k] = lp;
        t->lg[k] = lg;
        return 0;
    }
    int32_t toks[RNNRT_NGRAM_MAX_ORDER + 1];
    for (int i = 0; i < m; i++) {
        int id = token_id(v, L->f[1 + i]);
        if (id < 0)
            return bad(L, "'%s' is not one of the 1-grams", L->f[1 + i]);
        if (id == RNNRT_BOS && i > 0)
            return bad(L, "<s> can only begin an n-gram");
        if (id == RNNRT_EOS && i < m - 1)
            return bad(L, "</s> can only end an n-gram");
        toks[i] = id;
    }
    uint32_t ids[RNNRT_NGRAM_MAX_ORDER + 1];
    if (rnnrt_ngram_walk(g, toks + 1, (size_t)m - 1, m - 1, ids) < m - 1)
        return bad(L, "its last %d tokens are not a %d-gram of the file (an "
                   "ARPA file lists every suffix of an n-gram)", m - 1,
                   m - 1);
    uint32_t suffix = ids[m - 1];
    uint32_t prefix = rnnrt_ngram_walk(g, toks, (size_t)m - 1, m - 1, ids) ==
                              m - 1
                          ? ids[m - 1]
                          : RNNRT_NGRAM_NONE;
    uint64_t h = rnnrt_ngram_hash1(toks[m - 1]);
    for (int i = m - 2; i >= 0; i--)
        h = rnnrt_ngram_hash_ext(h, toks[i]);
    size_t before = t->n;
    if (rnnrt_ngram_add(t, rnnrt_ngram_key(suffix, toks[0]), h, prefix, 1) !=
        before)
        return bad(L, "this %d-gram is listed twice", m);
    t->lp[before] = lp;
    t->lg[before] = lg;
    return 0;
}

/* Makes the unigram table once the 1-grams are read: their lp and lg wait
 * in t->lp/lg in file order, uni[i] is the token of entry i. */
static void finish_unigrams(RnnrtNgram *g, const RnnrtVocab *v,
                            const int32_t *uni, size_t k)
{
    RnnrtNgramTable *t = &g->t[1];
    double *lp = t->lp, *lg = t->lg;
    g->V = v->size;
    rnnrt_ngram_table_unigrams(t, g->V);
    t->lp = rnnrt_xcalloc((size_t)g->V, sizeof *t->lp, "1-gram log10p");
    t->lg = rnnrt_xcalloc((size_t)g->V, sizeof *t->lg, "1-gram backoff");
    for (int w = 0; w < g->V; w++)
        t->lp[w] = -INFINITY; /* absent from the file: probability 0 */
    for (size_t i = 0; i < k; i++) {
        t->lp[uni[i]] = lp[i];
        t->lg[uni[i]] = lg[i];
    }
    free(lp);
    free(lg);
    rnnrt_ngram_publish(g, 1);
}

static int parse_sections(Lines *L, RnnrtNgram *g, RnnrtVocab *v,
                          const uint64_t *cnt, int order)
{
    int32_t *uni = rnnrt_xcalloc((size_t)cnt[1], sizeof *uni, "1-grams");
    int seen[RNNRT_EOS + 1] = {0}, rc = 0;
    for (int m = 1; m <= order && !rc; m++) {
        char want[32];
        snprintf(want, sizeof want, "\\%d-grams:", m);
        if (!next_nonblank(L)) {
            rc = bad(L, "the file ends before the '%s' section", want);
            break;
        }
        if (L->nf != 1 || strcmp(L->f[0], want)) {
            rc = bad(L, "expected '%s', found '%s'", want, L->f[0]);
            break;
        }
        RnnrtNgramTable *t = &g->t[m];
        size_t room = cnt[m] ? (size_t)cnt[m] : 1;
        t->lp = rnnrt_xcalloc(room, sizeof *t->lp, "n-gram log10p");
        t->lg = rnnrt_xcalloc(room, sizeof *t->lg, "n-gram backoff");
        size_t k = 0;
        while (!rc && next_line(L) && L->nf) {
            if (L->f[0][0] == '\\') {
                L->back = 1;
                break;
            }
            if (k == cnt[m])
                rc = bad(L, "more %d-grams than the %llu of the \\data\\ "
                         "header", m, (unsigned long long)cnt[m]);
            else
                rc = parse_entry(L, g, v, m, order, k++, uni, seen);
        }
        if (!rc && k != cnt[m])
            rc = bad(L, "the \\%d-grams: section ends after %zu entries; the "
                     "\\data\\ header says %llu", m, k,
                     (unsigned long long)cnt[m]);
        if (rc)
            break;
        if (m == 1) {
            finish_unigrams(g, v, uni, k);
        } else {
            rnnrt_ngram_table_finish(t);
            rnnrt_ngram_publish(g, m);
        }
    }
    free(uni);
    if (rc)
        return rc;
    if (!next_nonblank(L))
        return bad(L, "the file ends without '\\end\\' (truncated?)");
    if (L->nf != 1 || strcmp(L->f[0], "\\end\\"))
        return bad(L, "expected '\\end\\' after the \\%d-grams: section (the "
                   "header announces order %d), found '%s'", order, order,
                   L->f[0]);
    return 0;
}

int rnnrt_ngram_load_arpa(const char *path, RnnrtNgram *g, RnnrtVocab *v,
                          RnnrtError *err)
{
    memset(g, 0, sizeof *g);
    memset(v, 0, sizeof *v);
    char *data;
    size_t n;
    int rc = rnnrt_file_read(path, (size_t)1 << 34, &data, &n, err);
    if (rc)
        return rc;
    rnnrt_vocab_init(v);
    Lines L = {.path = path, .p = data, .n = n, .err = err};
    uint64_t cnt[RNNRT_NGRAM_MAX_ORDER + 1] = {0};
    int order = 0;
    rc = parse_header(&L, cnt, &order);
    if (!rc)
        rc = parse_sections(&L, g, v, cnt, order);
    free(L.line);
    free(data);
    if (rc) {
        rnnrt_ngram_free(g);
        rnnrt_vocab_free(v);
        return rc;
    }
    g->npred = g->V - 2;
    g->counted = g->order = order;
    g->opts.order = order;
    g->opts.smoothing = RNNRT_SMOOTH_MLE;
    g->from_arpa = 1;
    return 0;
}
