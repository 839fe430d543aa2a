/*
 * rnnrt_api_task.c: the C API for trained labelling (RnnrtTagger) and
 * classification models (RnnrtClassifier), rnnrt_api.h.
 *
 * A handle owns the checkpoint's vocabulary, labels and parameters (read
 * by rnnrt_task_ckpt_load, as the trainer's eval reads them) and B = 1
 * call buffers for the time steps the model was trained with. A tagger
 * runs a sequence in pieces of those steps, carrying the state from a zero
 * one, as eval scores its stream; a classifier runs one padded row with
 * the model's pooling weights and valid-step mask, as eval scores a line.
 * The arithmetic is the trainer's, with denormals flushed during a call
 * (the caller's floating-point mode is restored).
 */
#include "rnnrt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TAGGER_MAGIC 0x47415452u     /* "RTAG" */
#define CLASSIFIER_MAGIC 0x534c4352u /* "RCLS" */

typedef struct {
    uint32_t magic;
    const RnnrtModel *m;
    RnnrtVocab vocab, labels;
    RnnrtParams p;
    RnnrtBuffers b; /* B = 1, T */
    int T;
    int64_t steps;
    RnnrtTextIds sc; /* a classifier's text */
    const char *path; /* while opening */
} Handle;

struct RnnrtTagger {
    Handle h;
};

struct RnnrtClassifier {
    Handle h;
};

static const char *const kind_name[] = {"language model", "labelling model", "classification model"};

static int bad_arg(RnnrtError *err, const char *fn, const char *what)
{
    return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: %s", fn, what);
}

static int check_handle(const Handle *h, uint32_t magic, const char *fn, RnnrtError *err)
{
    const char *what = magic == TAGGER_MAGIC ? "a tagger (RnnrtTagger from rnnrt_tagger_open)"
                                             : "a classifier (RnnrtClassifier from rnnrt_classifier_open)";
    if (!h)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: the handle is NULL (never opened, or closed)", fn);
    if (h->magic != magic)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: the handle is not an open %s", fn, what);
    return 0;
}

static void handle_free(Handle *h)
{
    rnnrt_buffers_free(&h->b);
    rnnrt_params_free(&h->p);
    rnnrt_vocab_free(&h->vocab);
    rnnrt_vocab_free(&h->labels);
    rnnrt_text_ids_free(&h->sc);
    h->magic = 0;
}

/* The open's allocations, under rnnrt_alloc_guard; handle_free frees
 * them whatever the result. */
static int handle_load(void *arg, RnnrtError *err)
{
    Handle *h = arg;
    int rc = rnnrt_task_ckpt_load(h->path, h->m, &h->vocab, &h->labels, &h->p, &h->T, &h->steps, err);
    if (!rc && h->T < 1)
        rc = rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: its time steps are %d", h->path, h->T);
    if (!rc)
        rc = rnnrt_buffers_init_l(&h->b, h->m, &h->p, 1, h->T, h->vocab.size, h->labels.size, err);
    return rc;
}

static int handle_open(Handle *h, const char *fn, const char *path, const RnnrtModel *m, int task, uint32_t magic,
                       RnnrtError *err)
{
    if (!path)
        return bad_arg(err, fn, "the checkpoint path is NULL");
    if (!m)
        return bad_arg(err, fn, "the model is NULL; pass the generated file's descriptor, e.g. &tagger_model");
    if (!m->name || !m->forward || !m->params || m->nparams <= 0 || m->state_size < 0 ||
        (!m->workspace && !m->workspace_l))
        return bad_arg(err, fn, "the model is not a descriptor from a file rnnc generated");
    if (m->task != task)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: model '%s' is a %s, not a %s", fn, m->name,
                           kind_name[m->task == RNNRT_TASK_LABELLING        ? 1
                                     : m->task == RNNRT_TASK_CLASSIFICATION ? 2
                                                                            : 0],
                           kind_name[task == RNNRT_TASK_LABELLING ? 1 : 2]);
    h->m = m;
    h->path = path;
    int rc = rnnrt_alloc_guard(handle_load, h, err); /* out of memory: 3, no exit */
    h->path = NULL;
    if (rc) {
        handle_free(h);
        return rc;
    }
    h->magic = magic;
    return 0;
}

static int handle_info(const Handle *h, RnnrtTaskInfo *info, const char *fn, RnnrtError *err)
{
    if (!info)
        return bad_arg(err, fn, "info is NULL");
    info->name = h->m->name;
    info->tokens = h->m->recipe.tokens && !strcmp(h->m->recipe.tokens, "word") ? "word" : "char";
    info->real = RNNRT_REAL_NAME;
    info->vocab = h->vocab.size;
    info->labels = h->labels.size;
    info->steps = h->T;
    info->train_steps = h->steps;
    return 0;
}

static int handle_label_name(const Handle *h, int label, const char **name, const char *fn, RnnrtError *err)
{
    if (!name)
        return bad_arg(err, fn, "name is NULL");
    *name = NULL;
    if (label < 0 || label >= h->labels.size)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: label %d is outside [0, %d)", fn, label, h->labels.size);
    *name = h->labels.tokens[label];
    return 0;
}

/* The most likely of the L labels in row z. */
static int argmax(const real *z, int L)
{
    int best = 0;
    for (int c = 1; c < L; c++)
        if (z[c] > z[best])
            best = c;
    return best;
}

/* ---- tagger ---- */

int rnnrt_tagger_open(RnnrtTagger **out, const char *path, const RnnrtModel *model, RnnrtError *err)
{
    if (!out)
        return bad_arg(err, "rnnrt_tagger_open", "the handle pointer is NULL");
    *out = NULL;
    RnnrtTagger *t = calloc(1, sizeof *t);
    if (!t)
        return rnnrt_error(err, RNNRT_EXIT_IO, "out of memory");
    int rc = handle_open(&t->h, "rnnrt_tagger_open", path, model, RNNRT_TASK_LABELLING, TAGGER_MAGIC, err);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void rnnrt_tagger_close(RnnrtTagger **t)
{
    if (!t || !*t)
        return;
    handle_free(&(*t)->h);
    free(*t);
    *t = NULL;
}

int rnnrt_tagger_info(const RnnrtTagger *t, RnnrtTaskInfo *info, RnnrtError *err)
{
    int rc = check_handle(t ? &t->h : NULL, TAGGER_MAGIC, "rnnrt_tagger_info", err);
    return rc ? rc : handle_info(&t->h, info, "rnnrt_tagger_info", err);
}

int rnnrt_tagger_label_name(const RnnrtTagger *t, int label, const char **name, RnnrtError *err)
{
    int rc = check_handle(t ? &t->h : NULL, TAGGER_MAGIC, "rnnrt_tagger_label_name", err);
    return rc ? rc : handle_label_name(&t->h, label, name, "rnnrt_tagger_label_name", err);
}

int rnnrt_tagger_label(RnnrtTagger *t, const char *const *tokens, size_t n, int *labels, size_t *unk,
                       RnnrtError *err)
{
    const char *fn = "rnnrt_tagger_label";
    int rc = check_handle(t ? &t->h : NULL, TAGGER_MAGIC, fn, err);
    if (rc)
        return rc;
    if (n > 0 && (!tokens || !labels))
        return bad_arg(err, fn, "tokens or labels is NULL");
    for (size_t i = 0; i < n; i++)
        if (!tokens[i])
            return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: tokens[%zu] is NULL", fn, i);
    Handle *h = &t->h;
    RnnrtBuffers *b = &h->b;
    size_t nunk = 0;
    unsigned int fpu = rnnrt_fpu_enter();
    memset(b->state_in, 0, (size_t)b->S * sizeof(real));
    for (size_t t0 = 0; t0 < n; t0 += (size_t)h->T) {
        int T = n - t0 < (size_t)h->T ? (int)(n - t0) : h->T;
        for (int s = 0; s < T; s++) {
            const char *tok = tokens[t0 + (size_t)s];
            int id = rnnrt_vocab_find(&h->vocab, tok, strlen(tok));
            nunk += id < 0;
            b->x[s] = id < 0 ? RNNRT_UNK : id;
            b->y[s] = 0; /* the loss is not used */
        }
        b->ctx.T = T;
        b->ctx.B = 1;
        h->m->forward(&b->ctx);
        for (int s = 0; s < T; s++)
            labels[t0 + (size_t)s] = argmax(b->ctx.logits + (size_t)s * (size_t)b->L, b->L);
        memcpy(b->state_in, b->state_out, (size_t)b->S * sizeof(real));
    }
    rnnrt_fpu_leave(fpu);
    if (unk)
        *unk = nunk;
    return 0;
}

/* ---- classifier ---- */

int rnnrt_classifier_open(RnnrtClassifier **out, const char *path, const RnnrtModel *model, RnnrtError *err)
{
    if (!out)
        return bad_arg(err, "rnnrt_classifier_open", "the handle pointer is NULL");
    *out = NULL;
    RnnrtClassifier *c = calloc(1, sizeof *c);
    if (!c)
        return rnnrt_error(err, RNNRT_EXIT_IO, "out of memory");
    int rc = handle_open(&c->h, "rnnrt_classifier_open", path, model, RNNRT_TASK_CLASSIFICATION, CLASSIFIER_MAGIC,
                         err);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void rnnrt_classifier_close(RnnrtClassifier **c)
{
    if (!c || !*c)
        return;
    handle_free(&(*c)->h);
    free(*c);
    *c = NULL;
}

int rnnrt_classifier_info(const RnnrtClassifier *c, RnnrtTaskInfo *info, RnnrtError *err)
{
    int rc = check_handle(c ? &c->h : NULL, CLASSIFIER_MAGIC, "rnnrt_classifier_info", err);
    return rc ? rc : handle_info(&c->h, info, "rnnrt_classifier_info", err);
}

int rnnrt_classifier_label_name(const RnnrtClassifier *c, int label, const char **name, RnnrtError *err)
{
    int rc = check_handle(c ? &c->h : NULL, CLASSIFIER_MAGIC, "rnnrt_classifier_label_name", err);
    return rc ? rc : handle_label_name(&c->h, label, name, "rnnrt_classifier_label_name", err);
}

/* The text's ids as the data loader reads a line's text (rnnrt_task_data.c):
 * normalized, chars or lowercased words, <unk> for what the vocabulary
 * lacks. */
static int encode_text(Handle *h, const char *text, size_t len, RnnrtError *err)
{
    RnnrtTextIds *sc = &h->sc;
    RnnrtNorm mode;
    if (rnnrt_norm_parse(h->m->recipe.normalize, &mode) != 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "unknown normalization '%s'", h->m->recipe.normalize);
    int rc = rnnrt_utf8_check(text, len, "text", 0, err);
    if (!rc)
        rc = rnnrt_text_ids_reserve(sc, len, err);
    if (rc)
        return rc;
    memcpy(sc->text, text, len);
    sc->text[len] = '\0';
    len = rnnrt_text_normalize(sc->text, len, mode);
    sc->nunk = 0;
    if (strcmp(h->m->recipe.tokens, "word") != 0) {
        sc->n = rnnrt_vocab_encode_chars(&h->vocab, sc->text, len, sc->ids, sc->cap, &sc->nunk);
        return 0;
    }
    rnnrt_words_lower(sc->text, len);
    sc->n = rnnrt_words_split(sc->text, len, sc->tok, sc->cap);
    rnnrt_vocab_encode_words(&h->vocab, sc->text, sc->tok, sc->n, sc->ids, &sc->nunk);
    return 0;
}

int rnnrt_classify(RnnrtClassifier *c, const char *text, size_t len, RnnrtClass *out, double *probs, int n,
                   RnnrtError *err)
{
    const char *fn = "rnnrt_classify";
    int rc = check_handle(c ? &c->h : NULL, CLASSIFIER_MAGIC, fn, err);
    if (rc)
        return rc;
    if (!out)
        return bad_arg(err, fn, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!text && len)
        return bad_arg(err, fn, "text is NULL");
    Handle *h = &c->h;
    RnnrtBuffers *b = &h->b;
    int L = b->L;
    if (probs && n != L)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "%s: probs has %d entries; the model has %d labels "
                           "(rnnrt_classifier_info)", fn, n, L);
    if ((rc = encode_text(h, text ? text : "", len, err)) != 0)
        return rc;
    if (h->sc.n == 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "%s: the text has no tokens after normalization", fn);
    int T = h->T, k = h->sc.n > (size_t)T ? T : (int)h->sc.n;
    size_t unk = 0;
    for (int t = 0; t < T; t++) {
        b->x[t] = t < k ? h->sc.ids[t] : RNNRT_PAD;
        unk += t < k && h->sc.ids[t] == RNNRT_UNK;
    }
    b->y[0] = 0; /* the loss is not used */
    rnnrt_pool_weights(b->pool, T, 1, 0, k, h->m->head);
    rnnrt_valid_mask(b->mask, T, 1, 0, k);
    b->ctx.T = T;
    b->ctx.B = 1;
    memset(b->state_in, 0, (size_t)b->S * sizeof(real));
    unsigned int fpu = rnnrt_fpu_enter();
    h->m->forward(&b->ctx);
    rnnrt_fpu_leave(fpu);
    const real *z = b->ctx.logits;
    double lse = rnnrt_xent_lse(z, L);
    int best = argmax(z, L);
    for (int i = 0; probs && i < L; i++)
        probs[i] = exp((double)z[i] - lse);
    *out = (RnnrtClass){.label = best, .prob = exp((double)z[best] - lse), .tokens = k, .unk = unk,
                        .truncated = h->sc.n > (size_t)T};
    return 0;
}
