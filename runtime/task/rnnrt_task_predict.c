/*
 * rnnrt_task_predict.c: the `predict` command of the labelling and
 * classification trainers, built on the C API (rnnrt_api_task.c).
 *
 *   labelling       one token per line (a line of the training data, with
 *                   `<TAB>label` after it, is fine: the label is ignored),
 *                   a blank line between sentences; out: `token<TAB>label`
 *                   per token, a blank line after each sentence. Each
 *                   sentence is labelled from a zero state.
 *   classification  one text per line; out: `label<TAB>probability` per
 *                   line.
 * A final \r is dropped from every line. Errors name <stdin>:line (a
 * sentence's: the line after it).
 */
#include "rnnrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One sentence of a tagger: tokens [0, n) of the lines in toks. */
typedef struct {
    char **tok;
    size_t n, cap;
    int *labels;
} Sentence;

static void sentence_push(Sentence *s, const char *tok, size_t len)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->tok = realloc(s->tok, s->cap * sizeof *s->tok);
        s->labels = realloc(s->labels, s->cap * sizeof *s->labels);
        if (!s->tok || !s->labels)
            rnnrt_xcalloc(SIZE_MAX, 1, "a sentence"); /* reports and exits */
    }
    char *t = rnnrt_xcalloc(len + 1, 1, "a token");
    memcpy(t, tok, len);
    s->tok[s->n++] = t;
}

static void sentence_clear(Sentence *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->tok[i]);
    s->n = 0;
}

static int tag_sentence(RnnrtTagger *t, Sentence *s, FILE *out, RnnrtError *err)
{
    if (s->n == 0)
        return 0;
    int rc = rnnrt_tagger_label(t, (const char *const *)s->tok, s->n, s->labels, NULL, err);
    for (size_t i = 0; !rc && i < s->n; i++) {
        const char *name;
        rc = rnnrt_tagger_label_name(t, s->labels[i], &name, err);
        if (!rc)
            fprintf(out, "%s\t%s\n", s->tok[i], name);
    }
    if (!rc)
        fputc('\n', out);
    sentence_clear(s);
    return rc;
}

/* An API error at <stdin>:lineno. */
static int at_line(RnnrtError *err, size_t lineno)
{
    char where[64];
    snprintf(where, sizeof where, "<stdin>:%zu", lineno);
    RnnrtError e = *err;
    return rnnrt_error_at(err, e.code, where, "%s", e.msg);
}

static int predict_labels(const RnnrtModel *m, const char *ckpt, FILE *in, FILE *out, RnnrtError *err)
{
    RnnrtTagger *t = NULL;
    int rc = rnnrt_tagger_open(&t, ckpt, m, err);
    Sentence s = {0};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    size_t len;
    while (!rc && rnnrt_read_line(in, &line, &cap, &len)) {
        lineno++;
        const char *tab = memchr(line, '\t', len);
        if (tab)
            len = (size_t)(tab - line);
        if (len == 0 && !tab) {
            rc = tag_sentence(t, &s, out, err);
            continue;
        }
        if (len == 0)
            rc = rnnrt_error(err, RNNRT_EXIT_DATA, "the token before the tab is empty");
        else
            rc = rnnrt_utf8_check(line, len, "token", 0, err);
        if (rc)
            break;
        sentence_push(&s, line, len);
    }
    if (!rc)
        rc = tag_sentence(t, &s, out, err);
    if (rc && lineno)
        at_line(err, lineno);
    sentence_clear(&s);
    free(s.tok);
    free(s.labels);
    free(line);
    rnnrt_tagger_close(&t);
    return rc;
}

static int predict_classes(const RnnrtModel *m, const char *ckpt, FILE *in, FILE *out, RnnrtError *err)
{
    RnnrtClassifier *c = NULL;
    int rc = rnnrt_classifier_open(&c, ckpt, m, err);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    size_t len;
    while (!rc && rnnrt_read_line(in, &line, &cap, &len)) {
        lineno++;
        RnnrtClass k;
        const char *name;
        rc = rnnrt_classify(c, line, len, &k, NULL, 0, err);
        if (!rc)
            rc = rnnrt_classifier_label_name(c, k.label, &name, err);
        if (rc) {
            at_line(err, lineno);
            break;
        }
        fprintf(out, "%s\t%.4f\n", name, k.prob);
    }
    free(line);
    rnnrt_classifier_close(&c);
    return rc;
}

int rnnrt_task_predict(const RnnrtModel *m, const char *ckpt, FILE *in, FILE *out, RnnrtError *err)
{
    int rc = m->task == RNNRT_TASK_LABELLING ? predict_labels(m, ckpt, in, out, err)
                                              : predict_classes(m, ckpt, in, out, err);
    if (fflush(out) != 0 && !rc)
        rc = rnnrt_error(err, RNNRT_EXIT_IO, "cannot write the predictions");
    return rc;
}
