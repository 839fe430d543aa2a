/*
 * rnnrt_task_data.c: the data files of the task heads (issue #3), read
 * into ids (the formats are in rnnrt.h above RnnrtTaskData).
 *
 * Every line is checked before anything is built, and a bad one is an
 * error at its path:line:col: no tab, an empty field, a `tokens: char`
 * token longer than one character. Labels form their own vocabulary
 * without specials, by decreasing count in the training split, ties in
 * byte order; a validation label the training split lacks is an error at
 * the label. Tokens use the language model's vocabulary rules (specials
 * first, then by count, `min_freq`); unseen ones become <unk> and are
 * counted.
 */
#include "rnnrt.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- vocabularies ---- */

/* Counting vocabulary -> out by decreasing count, ties in byte order. */
static const RnnrtVocab *cmp_vocab;

static int cmp_count(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    int64_t ci = cmp_vocab->counts[i], cj = cmp_vocab->counts[j];
    if (ci != cj)
        return ci > cj ? -1 : 1;
    return strcmp(cmp_vocab->tokens[i], cmp_vocab->tokens[j]);
}

static void vocab_sorted(const RnnrtVocab *counted, RnnrtVocab *out)
{
    int n = counted->size;
    int *ids = rnnrt_xcalloc(n > 0 ? (size_t)n : 1, sizeof *ids, "vocabulary");
    for (int i = 0; i < n; i++)
        ids[i] = i;
    cmp_vocab = counted;
    qsort(ids, (size_t)n, sizeof *ids, cmp_count);
    for (int i = 0; i < n; i++) {
        const char *t = counted->tokens[ids[i]];
        rnnrt_vocab_add(out, t, strlen(t), counted->counts[ids[i]]);
    }
    free(ids);
}

static void count_token(RnnrtVocab *v, const char *tok, size_t len)
{
    int id = rnnrt_vocab_find(v, tok, len);
    if (id < 0)
        id = rnnrt_vocab_add(v, tok, len, 0);
    v->counts[id]++;
}

static void vocab_copy(RnnrtVocab *dst, const RnnrtVocab *src, int specials)
{
    if (specials)
        rnnrt_vocab_init(dst);
    else
        rnnrt_vocab_init_empty(dst);
    for (int i = specials ? RNNRT_EOS + 1 : 0; i < src->size; i++)
        rnnrt_vocab_add(dst, src->tokens[i], strlen(src->tokens[i]),
                        src->counts[i]);
}

/* ---- reading the lines ---- */

typedef struct {
    size_t off, len; /* bytes of the text */
    int line, col;   /* where it starts */
} Span;

typedef struct {
    const char *path, *text;
    Span *tok, *lab;  /* per token (labelling) or row (classification) */
    size_t n, cap;
} Lines;

static void lines_push(Lines *l, Span tok, Span lab)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->tok = realloc(l->tok, l->cap * sizeof *l->tok);
        l->lab = realloc(l->lab, l->cap * sizeof *l->lab);
        if (!l->tok || !l->lab) {
            fprintf(stderr, "error: out of memory reading %zu lines\n", l->n);
            exit(RNNRT_EXIT_IO);
        }
    }
    l->tok[l->n] = tok;
    l->lab[l->n] = lab;
    l->n++;
}

/* A data error at path:line:col (exit 1). */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int at(RnnrtError *err, const char *path, int line, int col,
              const char *fmt, ...)
{
    char where[600], msg[1024];
    snprintf(where, sizeof where, "%s:%d:%d", path, line, col);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rnnrt_error_at(err, RNNRT_EXIT_DATA, where, "%s", msg);
}

/* Splits text into `first<TAB>second` lines (blank lines skipped, a final
 * \r dropped). labelling: first = token, second = label; classification:
 * first = label, second = text. */
static int split_lines(Lines *l, const RnnrtModel *m, RnnrtError *err)
{
    int cls = m->task == RNNRT_TASK_CLASSIFICATION;
    int chars = strcmp(m->recipe.tokens, "char") == 0;
    const char *fmt = cls ? "expected `label<TAB>text`" :
                            "expected `token<TAB>label`";
    const char *s = l->text;
    int line = 0;
    for (size_t pos = 0; s[pos];) {
        line++;
        size_t end = pos;
        while (s[end] && s[end] != '\n')
            end++;
        size_t next = s[end] ? end + 1 : end;
        size_t len = end - pos;
        if (len && s[pos + len - 1] == '\r')
            len--;
        if (len == 0) { /* a blank line: between sentences, or nothing */
            pos = next;
            continue;
        }
        const char *tab = memchr(s + pos, '\t', len);
        if (!tab)
            return at(err, l->path, line, (int)len + 1,
                      "%s, but the line has no tab", fmt);
        size_t k = (size_t)(tab - (s + pos));
        Span a = {pos, k, line, 1}, b = {pos + k + 1, len - k - 1, line,
                                         (int)k + 2};
        if (a.len == 0)
            return at(err, l->path, line, 1, "%s, but the %s is empty", fmt,
                      cls ? "label" : "token");
        if (b.len == 0)
            return at(err, l->path, line, b.col, "%s, but the %s is empty",
                      fmt, cls ? "text" : "label");
        if (!cls && chars &&
            (size_t)rnnrt_utf8_len((unsigned char)s[a.off]) != a.len)
            return at(err, l->path, line, 1, "%s with one character as the "
                      "token (tokens: char)", fmt);
        if (cls)
            lines_push(l, b, a);
        else
            lines_push(l, a, b);
        pos = next;
    }
    if (l->n == 0)
        return rnnrt_error_at(err, RNNRT_EXIT_DATA, l->path, "no data lines "
                              "(%s lines)", fmt);
    return 0;
}

/* ---- loading ---- */

/* given: the labels came with a checkpoint, not from this file. */
static int labels_encode(RnnrtTaskData *d, const Lines *l, int given, RnnrtError *err)
{
    for (size_t i = 0; i < l->n; i++) {
        const Span *s = &l->lab[i];
        int id = rnnrt_vocab_find(&d->labels, l->text + s->off, s->len);
        if (id < 0) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(s->len < 200 ? s->len
                                                                  : 200),
                     l->text + s->off);
            return at(err, l->path, s->line, s->col, "label '%s' %s", name,
                      given ? "is not one of the checkpoint's labels"
                            : "does not occur in the training split");
        }
        d->y[i] = id;
    }
    return 0;
}

/* The vocabularies of the training split from its token and label counts
 * (which it frees): tokens below recipe.min_freq become <unk>. */
static void take_vocabs(RnnrtTaskData *d, const RnnrtModel *m, RnnrtVocab *ct,
                        RnnrtVocab *cl)
{
    vocab_sorted(ct, &d->vocab);
    rnnrt_vocab_prune(&d->vocab, m->recipe.min_freq);
    vocab_sorted(cl, &d->labels);
    rnnrt_vocab_free(ct);
    rnnrt_vocab_free(cl);
}

static int load_labelling(RnnrtTaskData *d, const RnnrtModel *m, const Lines *l, int build)
{
    size_t nunk = 0;
    if (build) {
        RnnrtVocab ct, cl;
        rnnrt_vocab_init_empty(&ct);
        rnnrt_vocab_init_empty(&cl);
        for (size_t i = 0; i < d->ntrain; i++) {
            count_token(&ct, l->text + l->tok[i].off, l->tok[i].len);
            count_token(&cl, l->text + l->lab[i].off, l->lab[i].len);
        }
        take_vocabs(d, m, &ct, &cl);
    }
    for (size_t i = 0; i < l->n; i++) {
        int id = rnnrt_vocab_find(&d->vocab, l->text + l->tok[i].off,
                                  l->tok[i].len);
        d->x[i] = id < 0 ? RNNRT_UNK : id;
        nunk += id < 0 && i >= d->ntrain;
    }
    d->unk_valid = nunk;
    return 0;
}

static void grow_tokens(RnnrtToken **tok, size_t *cap, size_t n)
{
    *cap = n;
    *tok = realloc(*tok, *cap * sizeof **tok);
    if (!*tok)
        exit(RNNRT_EXIT_IO);
}

/* Tokens of one classification text (normalized copy in *buf). */
static size_t text_tokens(const RnnrtModel *m, RnnrtNorm norm, const char *s,
                          size_t len, char **buf, RnnrtToken **tok,
                          size_t *cap)
{
    *buf = rnnrt_xcalloc(len + 1, 1, "text");
    memcpy(*buf, s, len);
    len = rnnrt_text_normalize(*buf, len, norm);
    size_t n = 0;
    if (strcmp(m->recipe.tokens, "char") == 0) {
        for (size_t p = 0; p < len; n++) {
            size_t k = (size_t)rnnrt_utf8_len((unsigned char)(*buf)[p]);
            k = k && p + k <= len ? k : 1;
            if (n == *cap)
                grow_tokens(tok, cap, *cap ? 2 * *cap : 256);
            (*tok)[n] = (RnnrtToken){p, k};
            p += k;
        }
        return n;
    }
    rnnrt_words_lower(*buf, len);
    n = rnnrt_words_split(*buf, len, NULL, 0);
    if (n > *cap)
        grow_tokens(tok, cap, n);
    rnnrt_words_split(*buf, len, *tok, n);
    return n;
}

static int load_classification(RnnrtTaskData *d, const RnnrtModel *m,
                               const Lines *l, int build, RnnrtError *err)
{
    RnnrtNorm norm;
    if (rnnrt_norm_parse(m->recipe.normalize, &norm))
        return rnnrt_error(err, RNNRT_EXIT_DATA, "unknown normalize '%s'",
                           m->recipe.normalize);
    size_t T = (size_t)d->T, cap = 0;
    char **texts = rnnrt_xcalloc(l->n, sizeof *texts, "texts");
    RnnrtToken **toks = rnnrt_xcalloc(l->n, sizeof *toks, "tokens");
    RnnrtToken *tmp = NULL;
    int rc = 0;
    for (size_t i = 0; i < l->n && !rc; i++) {
        const Span *s = &l->tok[i];
        size_t n = text_tokens(m, norm, l->text + s->off, s->len, &texts[i],
                               &tmp, &cap);
        if (n == 0) {
            rc = at(err, l->path, s->line, s->col, "%s", "the text has no "
                    "tokens after normalization");
            break;
        }
        d->truncated += n > T;
        d->len[i] = (int32_t)(n > T ? T : n);
        toks[i] = rnnrt_xcalloc((size_t)d->len[i], sizeof **toks, "tokens");
        memcpy(toks[i], tmp, (size_t)d->len[i] * sizeof **toks);
    }
    if (!rc && build) {
        RnnrtVocab ct, cl;
        rnnrt_vocab_init_empty(&ct);
        rnnrt_vocab_init_empty(&cl);
        for (size_t i = 0; i < d->ntrain; i++) {
            for (int k = 0; k < d->len[i]; k++)
                count_token(&ct, texts[i] + toks[i][k].off, toks[i][k].len);
            count_token(&cl, l->text + l->lab[i].off, l->lab[i].len);
        }
        take_vocabs(d, m, &ct, &cl);
    }
    for (size_t i = 0; i < l->n && !rc; i++)
        for (size_t t = 0; t < T; t++) {
            int id = RNNRT_PAD;
            if (t < (size_t)d->len[i]) {
                id = rnnrt_vocab_find(&d->vocab, texts[i] + toks[i][t].off,
                                      toks[i][t].len);
                d->unk_valid += id < 0 && i >= d->ntrain;
                id = id < 0 ? RNNRT_UNK : id;
            }
            d->x[i * T + t] = id;
        }
    for (size_t i = 0; i < l->n; i++) {
        free(texts[i]);
        free(toks[i]);
    }
    free(texts);
    free(toks);
    free(tmp);
    return rc;
}

int rnnrt_task_data_load(RnnrtTaskData *d, const RnnrtModel *m,
                         const char *path, int T, const RnnrtVocab *vocab,
                         const RnnrtVocab *labels, RnnrtError *err)
{
    memset(d, 0, sizeof *d);
    d->T = T;
    char *text = NULL;
    size_t len = 0;
    int rc = rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, &text, &len, err);
    if (!rc)
        rc = rnnrt_utf8_check(text, len, path, 0, err);
    Lines l = {path, text, NULL, NULL, 0, 0};
    if (!rc)
        rc = split_lines(&l, m, err);
    int cls = m->task == RNNRT_TASK_CLASSIFICATION;
    if (!rc) {
        d->n = l.n;
        d->ntrain = (size_t)floor((double)l.n * m->recipe.split);
        if (d->ntrain == 0 || d->ntrain == d->n)
            rc = rnnrt_error_at(err, RNNRT_EXIT_DATA, path, "%zu %s and "
                                "split %g leave an empty training or "
                                "validation split", l.n, cls ? "lines" :
                                "tokens", m->recipe.split);
    }
    if (!rc) {
        size_t nx = cls ? d->n * (size_t)T : d->n;
        d->x = rnnrt_xcalloc(nx, sizeof *d->x, "task inputs");
        d->y = rnnrt_xcalloc(d->n, sizeof *d->y, "task labels");
        d->len = rnnrt_xcalloc(d->n, sizeof *d->len, "row lengths");
        if (vocab) {
            vocab_copy(&d->vocab, vocab, 1);
            vocab_copy(&d->labels, labels, 0);
        } else {
            rnnrt_vocab_init(&d->vocab);
            rnnrt_vocab_init_empty(&d->labels);
        }
        rc = cls ? load_classification(d, m, &l, !vocab, err)
                 : load_labelling(d, m, &l, !vocab);
    }
    if (!rc)
        rc = labels_encode(d, &l, vocab != NULL, err);
    free(l.tok);
    free(l.lab);
    free(text);
    if (rc)
        rnnrt_task_data_free(d);
    return rc;
}

void rnnrt_task_data_free(RnnrtTaskData *d)
{
    if (d->vocab.lookup)
        rnnrt_vocab_free(&d->vocab);
    if (d->labels.lookup)
        rnnrt_vocab_free(&d->labels);
    free(d->x);
    free(d->y);
    free(d->len);
    memset(d, 0, sizeof *d);
}
