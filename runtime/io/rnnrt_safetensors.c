/*
 * rnnrt_safetensors.c: the trainers' `export` and `import` commands, which
 * write a checkpoint's weights as a safetensors file and read one back
 * into a new checkpoint (language models, the task heads and seq2seq).
 *
 * The format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON, then the tensors' bytes.
 * The JSON maps each tensor name to {"dtype", "shape", "data_offsets":
 * [begin, end]} (offsets into the bytes after the header) and
 * "__metadata__" to an object of strings. rnnc writes F32 (float build) or
 * F64 (double build), little-endian, row-major; tensors in byte order of
 * their names, laid out one after the other in that order, the header
 * padded with spaces to a multiple of 8. The same checkpoint always gives
 * the same bytes. The JSON is read and written with Jansson.
 *
 * A seq2seq trainer's file (rnnrt_st_s2s_cmd) has every parameter under
 * its spec name and the vocabularies as src_vocab and tgt_vocab.
 *
 * Names and layouts. When every cell parameter is one of a library cell's
 * (rnn_tanh/rnn_relu: W_ih W_hh b_ih b_hh; gru: W_i{r,z,n} W_h{r,z,n}
 * b_i.. b_h..; lstm: the same over i,f,g,o), with the suffixes _lK (layer
 * K of a stack) and _reverse, the tensors are torch.nn.RNN/GRU/LSTM's:
 *   rnn.weight_ih_lK[_reverse]  [gates*H, I]: the W_i<gate> blocks in
 *                               PyTorch's gate order, each transposed
 *                               (rnnc stores x @ W, [I, H])
 *   rnn.weight_hh_lK[_reverse]  [gates*H, H], the same with W_h<gate>
 *   rnn.bias_ih_lK[_reverse]    [gates*H]: b_i<gate> one after the other
 *   rnn.bias_hh_lK[_reverse]    [gates*H]
 * Any other cell keeps the spec's names and rnnc's layouts. Either way the
 * network's own parameters are embedding.weight ([V, E], as rnnc's embed),
 * decoder.weight ([V or L, H'], W_out transposed) and decoder.bias.
 *
 * __metadata__ (strings; JSON where a list or object): model, task, spec,
 * names ("pytorch" or "spec"), cell, layers, bidirectional, hidden,
 * input_size, vocab (JSON list of the tokens, ids 0.. in order, the four
 * specials first), vocab_counts, labels and T (task heads), recipe (JSON
 * object: the spec's train and data keys), rnnc_version, dtype.
 *
 * import checks everything before it writes: the header's JSON (no
 * duplicate keys), each tensor's keys, dtype (F32 or F64), shape and
 * offsets (inside the file, matching the shape's byte count, no two
 * tensors overlapping), every value finite, the vocabulary, and the set
 * of tensors against the model's (a missing or extra tensor, a shape
 * mismatch); each error names the file and the tensor. The new checkpoint
 * has the model's recipe and a fresh train state (step 0; the optimizer's
 * moments zero), so eval and sample use it as it is and `train --resume
 * --force` continues training on any corpus (the checkpoint records no
 * corpus to compare with).
 */
#include "rnnrt.h"
#include "rnnrt_ngram.h" /* rnnrt_ngram_save_error */
#include "rnnrt_s2s.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER ((size_t)100 << 20) /* the reference reader's limit */
#define MAX_FILE ((size_t)1 << 40)

/* One tensor of the file: the vertical concatenation of parts, each a
 * parameter of the block, transposed or not. */
typedef struct {
    int param, transpose;
} Part;

typedef struct {
    char name[96];
    int ndim;
    int64_t shape[2];
    int nparts;
    Part parts[4];
    int alias; /* the same parameter as another tensor (tied weights):
                  export writes it again, import checks the values agree */
} Tensor;

typedef struct {
    int n;
    Tensor *t;
    int pytorch;  /* PyTorch's names for the cell, else the spec's */
    const char *cell;
    int layers, dirs, hidden, input;
} Plan;

/* ---- the plan: which tensors a model has, in name order ---- */

typedef struct {
    const char *cell;
    int ngates;
    const char *gates[4];
} Family;

/* rnn's one "gate" is h: W_ih = W_i + h, W_hh = W_h + h */
static const Family families[] = {
    {"rnn", 1, {"h"}},
    {"gru", 3, {"r", "z", "n"}},
    {"lstm", 4, {"i", "f", "g", "o"}},
};
static const char *const kinds[4] = {"W_i", "W_h", "b_i", "b_h"};
static const char *const torch_kinds[4] = {"weight_ih", "weight_hh",
                                           "bias_ih", "bias_hh"};

/* name = BASE[_lK][_reverse]: base length, layer (-1: no suffix), rev */
static size_t split_name(const char *name, int *layer, int *rev)
{
    size_t n = strlen(name);
    *rev = 0;
    *layer = -1;
    if (n > 8 && !strcmp(name + n - 8, "_reverse")) {
        *rev = 1;
        n -= 8;
    }
    size_t d = n;
    while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9')
        d--;
    if (d < n && d >= 2 && name[d - 2] == '_' && name[d - 1] == 'l' &&
        n - d <= 4 && (name[d] != '0' || n - d == 1)) {
        *layer = atoi(name + d);
        n = d - 2;
    }
    return n;
}

/* kind (0..3) and gate of base in family f, or -1 */
static int cell_param(const Family *f, const char *base, size_t n, int *gate)
{
    for (int k = 0; k < 4; k++)
        for (int g = 0; g < f->ngates; g++)
            if (n == 3 + strlen(f->gates[g]) && !strncmp(base, kinds[k], 3) &&
                !strncmp(base + 3, f->gates[g], n - 3)) {
                *gate = g;
                return k;
            }
    return -1;
}

static Tensor *add_tensor(Plan *pl, const char *name)
{
    pl->t = realloc(pl->t, (size_t)(pl->n + 1) * sizeof *pl->t);
    if (!pl->t) {
        fprintf(stderr, "rnnrt: out of memory for the tensor list\n");
        exit(RNNRT_EXIT_IO);
    }
    Tensor *t = &pl->t[pl->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

static void add_part(Tensor *t, const RnnrtParams *p, int i, int transpose)
{
    int r = p->dims[i][0], c = p->dims[i][1];
    if (transpose) {
        int x = r;
        r = c;
        c = x;
    }
    t->parts[t->nparts++] = (Part){i, transpose};
    if (t->nparts == 1) {
        t->shape[0] = r;
        t->shape[1] = c;
    } else {
        t->shape[0] += r;
    }
}

/* The network's own parameters; 1 when i is one of them. */
static int network_param(Plan *pl, const RnnrtModel *m, const RnnrtParams *p,
                         int i)
{
    const RnnrtParamDesc *d = &m->params[i];
    const char *to = !strcmp(d->name, "embed") && d->ndim == 2
                         ? "embedding.weight"
                     : !strcmp(d->name, "W_out") && d->ndim == 2
                         ? "decoder.weight"
                     : !strcmp(d->name, "b_out") && d->ndim == 1
                         ? "decoder.bias"
                         : NULL;
    if (!to)
        return 0;
    Tensor *t = add_tensor(pl, to);
    t->ndim = d->ndim;
    add_part(t, p, i, d->ndim == 2 && !strcmp(d->name, "W_out"));
    /* network.tie_weights: no W_out, logits = h @ embed^T + b_out; PyTorch
     * keeps decoder.weight as the same tensor as the embedding's ([V, H]),
     * so its state_dict holds both names */
    int tied = !strcmp(d->name, "embed") && d->ndim == 2;
    for (int j = 0; j < m->nparams && tied; j++)
        tied = strcmp(m->params[j].name, "W_out") != 0;
    if (tied) {
        t = add_tensor(pl, "decoder.weight");
        t->ndim = 2;
        t->alias = 1;
        add_part(t, p, i, 0);
    }
    return 1;
}

/* PyTorch's layout, when the cell parameters are one library family's
 * with consistent shapes; 0 otherwise (pl untouched). */
static int plan_pytorch(Plan *pl, const RnnrtModel *m, const RnnrtParams *p)
{
    for (size_t fi = 0; fi < sizeof families / sizeof *families; fi++) {
        const Family *f = &families[fi];
        int G = f->ngates, layers = 0, dirs = 1, ncell = 0, H = -1, ok = 1;
        int suffixed = -1;
        for (int i = 0; i < m->nparams && ok; i++) {
            const char *nm = m->params[i].name;
            if (!strcmp(nm, "embed") || !strcmp(nm, "W_out") ||
                !strcmp(nm, "b_out"))
                continue;
            int layer, rev, gate;
            size_t n = split_name(nm, &layer, &rev);
            int k = cell_param(f, nm, n, &gate);
            if (k < 0 || layer > 63 || (suffixed >= 0 &&
                                        suffixed != (layer >= 0))) {
                ok = 0;
                break;
            }
            suffixed = layer >= 0;
            int l = layer < 0 ? 0 : layer;
            layers = l + 1 > layers ? l + 1 : layers;
            dirs = rev ? 2 : dirs;
            ncell++;
            int h = k < 2 ? p->dims[i][1] : p->dims[i][0];
            if (H < 0)
                H = h;
            ok = h == H && m->params[i].ndim == (k < 2 ? 2 : 1) &&
                 (k != 1 || p->dims[i][0] == H);
        }
        if (!ok || ncell == 0 || ncell != layers * dirs * 4 * G ||
            (layers > 1 && suffixed != 1))
            continue;
        /* every (layer, direction, kind, gate) exactly once, one input
         * width per layer and direction */
        int *at = malloc((size_t)ncell * sizeof *at);
        if (!at)
            return 0;
        for (int j = 0; j < ncell; j++)
            at[j] = -1;
        for (int i = 0; i < m->nparams && ok; i++) {
            int layer, rev, gate;
            size_t n = split_name(m->params[i].name, &layer, &rev);
            int k = cell_param(f, m->params[i].name, n, &gate);
            if (k < 0)
                continue;
            int j = (((layer < 0 ? 0 : layer) * dirs + rev) * 4 + k) * G +
                    gate;
            ok = at[j] < 0;
            at[j] = i;
        }
        for (int g0 = 0; g0 < layers * dirs && ok; g0++)
            for (int j = 0; j < G && ok; j++)
                ok = at[g0 * 4 * G + j] >= 0 &&
                     p->dims[at[g0 * 4 * G + j]][0] ==
                         p->dims[at[g0 * 4 * G]][0];
        if (!ok) {
            free(at);
            continue;
        }
        for (int i = 0; i < m->nparams; i++)
            network_param(pl, m, p, i);
        for (int l = 0; l < layers; l++)
            for (int r = 0; r < dirs; r++)
                for (int k = 0; k < 4; k++) {
                    char name[96];
                    snprintf(name, sizeof name, "rnn.%s_l%d%s", torch_kinds[k],
                             l, r ? "_reverse" : "");
                    Tensor *t = add_tensor(pl, name);
                    t->ndim = k < 2 ? 2 : 1;
                    for (int g = 0; g < G; g++)
                        add_part(t, p, at[((l * dirs + r) * 4 + k) * G + g],
                                 k < 2);
                }
        pl->pytorch = 1;
        pl->cell = f->cell;
        pl->layers = layers;
        pl->dirs = dirs;
        pl->hidden = H;
        pl->input = p->dims[at[0]][0];
        free(at);
        return 1;
    }
    return 0;
}

static int tensor_cmp(const void *a, const void *b)
{
    return strcmp(((const Tensor *)a)->name, ((const Tensor *)b)->name);
}

/* torch 0: every parameter under its spec name (seq2seq) */
static void plan_build(Plan *pl, const RnnrtModel *m, const RnnrtParams *p,
                       int torch)
{
    memset(pl, 0, sizeof *pl);
    if (!torch || !plan_pytorch(pl, m, p)) {
        for (int i = 0; i < m->nparams; i++) {
            if (torch && network_param(pl, m, p, i))
                continue;
            Tensor *t = add_tensor(pl, m->params[i].name);
            t->ndim = m->params[i].ndim;
            add_part(t, p, i, 0);
        }
    }
    qsort(pl->t, (size_t)pl->n, sizeof *pl->t, tensor_cmp);
}

static size_t tensor_numel(const Tensor *t)
{
    return (size_t)t->shape[0] * (size_t)(t->ndim == 2 ? t->shape[1] : 1);
}

/* idx[e] = the block index of the tensor's element e (row-major), for
 * every element: export reads the block through it, import writes. */
static void tensor_map(const Tensor *t, const RnnrtParams *p, size_t *idx)
{
    size_t e = 0;
    for (int k = 0; k < t->nparts; k++) {
        int i = t->parts[k].param;
        size_t r = (size_t)p->dims[i][0], c = (size_t)p->dims[i][1];
        size_t base = p->offset[i];
        if (t->parts[k].transpose) {
            for (size_t a = 0; a < c; a++)
                for (size_t b = 0; b < r; b++)
                    idx[e++] = base + b * c + a;
        } else {
            for (size_t a = 0; a < r * c; a++)
                idx[e++] = base + a;
        }
    }
}

/* ---- the model's checkpoint: language model, task head or seq2seq ---- */

/* What is exported: for a seq2seq model, m is made from its descriptor
 * (the parameters, name, spec and recipe; RNNRT_DIM_VT has RNNRT_DIM_L's
 * value, so rnnrt_params_init_l resolves the target vocabulary as L). */
typedef struct {
    RnnrtModel m;
    const RnnrtS2sModel *s2s; /* NULL: m is the trainer's */
    const char *task;
    const char *vocab_key[2]; /* __metadata__ keys of the vocabularies */
    const char *count_key[2];
    int nvocab;               /* 1 (language model) or 2 */
} Target;

static void target_lm(Target *t, const RnnrtModel *m)
{
    memset(t, 0, sizeof *t);
    t->m = *m;
    t->task = rnnrt_ckpt_task_name(m->task);
    t->vocab_key[0] = "vocab";
    t->count_key[0] = "vocab_counts";
    t->vocab_key[1] = "labels";
    t->count_key[1] = "label_counts";
    t->nvocab = m->task == RNNRT_TASK_LANGUAGE_MODEL ? 1 : 2;
}

static void target_s2s(Target *t, const RnnrtS2sModel *s)
{
    memset(t, 0, sizeof *t);
    t->m.name = s->name;
    t->m.spec_path = s->spec_path;
    t->m.spec_hash = s->spec_hash;
    t->m.nparams = s->nparams;
    t->m.params = s->params;
    t->m.recipe = s->recipe;
    t->m.task = RNNRT_TASK_LABELLING; /* L = the target vocabulary */
    t->s2s = s;
    t->task = "seq2seq";
    t->vocab_key[0] = "src_vocab";
    t->count_key[0] = "src_vocab_counts";
    t->vocab_key[1] = "tgt_vocab";
    t->count_key[1] = "tgt_vocab_counts";
    t->nvocab = 2;
}

typedef struct {
    RnnrtParams p;
    RnnrtVocab vocab[2]; /* tokens; labels or the target vocabulary */
    int T;
} Weights;

static void weights_free(Weights *w)
{
    rnnrt_params_free(&w->p);
    rnnrt_vocab_free(&w->vocab[0]);
    rnnrt_vocab_free(&w->vocab[1]);
}

/* Fills w (free it with weights_free whatever the result). */
static int weights_load(Weights *w, const Target *t, const char *path,
                        RnnrtError *err)
{
    memset(w, 0, sizeof *w);
    const RnnrtModel *m = &t->m;
    if (t->s2s)
        return rnnrt_s2s_ckpt_weights(path, t->s2s, &w->p, &w->vocab[0],
                                      &w->vocab[1], err);
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL) {
        int64_t steps;
        return rnnrt_task_ckpt_load(path, m, &w->vocab[0], &w->vocab[1],
                                    &w->p, &w->T, &steps, err);
    }
    RnnrtTrainState ts;
    int rc = rnnrt_ckpt_load(path, m, &w->vocab[0], &w->p, &ts, err);
    if (!rc)
        rnnrt_train_state_free(&ts);
    return rc;
}

/* ---- export ---- */

static json_t *json_list(const RnnrtVocab *v, int counts)
{
    json_t *a = json_array();
    for (int i = 0; i < v->size; i++) {
        json_t *x = counts ? json_integer(v->counts[i])
                           : json_string(v->tokens[i]);
        if (!x) { /* not UTF-8: JSON cannot hold it */
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, x);
    }
    return a;
}

static void meta_str(json_t *meta, const char *key, const char *value)
{
    json_object_set_new(meta, key, json_string(value ? value : ""));
}

static void meta_json(json_t *meta, const char *key, json_t *value)
{
    if (!value)
        return;
    char *s = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(value);
    meta_str(meta, key, s);
    free(s);
}

static void meta_int(json_t *meta, const char *key, long long v)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    meta_str(meta, key, s);
}

static json_t *recipe_json(const RnnrtRecipe *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "tokens", json_string(r->tokens ? r->tokens : ""));
    json_object_set_new(o, "normalize",
                        json_string(r->normalize ? r->normalize : "none"));
    json_object_set_new(o, "split", json_real(r->split));
    json_object_set_new(o, "min_freq", json_integer(r->min_freq));
    json_object_set_new(o, "batch", json_integer(r->batch));
    json_object_set_new(o, "steps", json_integer(r->steps));
    json_object_set_new(o, "epochs", json_integer(r->epochs));
    json_object_set_new(o, "sampler",
                        json_string(r->sampler ? r->sampler : "sequential"));
    json_object_set_new(o, "bptt", json_string(r->bptt ? r->bptt : "full"));
    json_object_set_new(o, "bptt_k", json_integer(r->bptt_k));
    json_object_set_new(o, "bptt_p", json_real(r->bptt_p));
    json_object_set_new(o, "optimizer",
                        json_string(r->optimizer ? r->optimizer : "sgd"));
    json_object_set_new(o, "lr", json_real(r->lr));
    json_object_set_new(o, "clip_norm", json_real(r->clip_norm));
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    json_object_set_new(o, "seed", json_string(seed));
    json_object_set_new(o, "momentum", json_real(r->momentum));
    json_object_set_new(o, "beta1", json_real(r->beta1));
    json_object_set_new(o, "beta2", json_real(r->beta2));
    json_object_set_new(o, "eps", json_real(r->eps));
    json_object_set_new(o, "lr_schedule",
                        json_string(r->lr_schedule ? r->lr_schedule
                                                   : "constant"));
    json_object_set_new(o, "warmup_steps", json_integer(r->warmup_steps));
    json_object_set_new(o, "weight_decay", json_real(r->weight_decay));
    return o;
}

typedef struct {
    const char *header;
    size_t hlen, padded;
    const Plan *pl;
    const RnnrtParams *p;
} Writer;

static int put_le(FILE *f, real v)
{
    unsigned char b[8];
#ifdef RNNRT_DOUBLE
    uint64_t u;
    memcpy(&u, &v, 8);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(u >> (8 * i));
    return fwrite(b, 1, 8, f) == 8 ? 0 : -1;
#else
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(u >> (8 * i));
    return fwrite(b, 1, 4, f) == 4 ? 0 : -1;
#endif
}

static int write_file(FILE *f, void *ctx)
{
    const Writer *w = ctx;
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)w->padded >> (8 * i));
    if (fwrite(len, 1, 8, f) != 8 || fwrite(w->header, 1, w->hlen, f) != w->hlen)
        return EIO;
    for (size_t i = w->hlen; i < w->padded; i++)
        if (fputc(' ', f) == EOF)
            return EIO;
    for (int k = 0; k < w->pl->n; k++) {
        const Tensor *t = &w->pl->t[k];
        size_t n = tensor_numel(t);
        size_t *idx = rnnrt_xcalloc(n + 1, sizeof *idx, "tensor index");
        tensor_map(t, w->p, idx);
        int bad = 0;
        for (size_t e = 0; e < n && !bad; e++)
            bad = put_le(f, w->p->params[idx[e]]);
        free(idx);
        if (bad)
            return EIO;
    }
    return 0;
}

static const char *dtype_name(void)
{
    return sizeof(real) == 8 ? "F64" : "F32";
}

static int export_target(const Target *tg, const char *ckpt, const char *out,
                         RnnrtError *err)
{
    const RnnrtModel *m = &tg->m;
    Weights w;
    int rc = weights_load(&w, tg, ckpt, err);
    if (rc) {
        weights_free(&w);
        return rc;
    }
    json_t *lists[4] = {json_list(&w.vocab[0], 0), json_list(&w.vocab[0], 1),
                        NULL, NULL};
    if (tg->nvocab == 2) {
        lists[2] = json_list(&w.vocab[1], 0);
        lists[3] = json_list(&w.vocab[1], 1);
    }
    if (!lists[0] || (tg->nvocab == 2 && !lists[2])) {
        for (int i = 0; i < 4; i++)
            json_decref(lists[i]);
        weights_free(&w);
        return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' has a token that is "
                           "not valid UTF-8; a safetensors header (JSON) "
                           "cannot hold it", ckpt);
    }
    Plan pl;
    plan_build(&pl, m, &w.p, !tg->s2s);

    json_t *root = json_object(), *meta = json_object();
    json_object_set_new(root, "__metadata__", meta);
    if (pl.pytorch) {
        meta_int(meta, "bidirectional", pl.dirs == 2);
        meta_str(meta, "cell", pl.cell);
    }
    meta_str(meta, "dtype", dtype_name());
    if (pl.pytorch) {
        meta_int(meta, "hidden", pl.hidden);
        meta_int(meta, "input_size", pl.input);
    }
    if (tg->nvocab == 2 && !tg->s2s) {
        meta_json(meta, tg->count_key[1], lists[3]);
        meta_json(meta, tg->vocab_key[1], lists[2]);
    }
    if (pl.pytorch)
        meta_int(meta, "layers", pl.layers);
    meta_str(meta, "model", m->name);
    meta_str(meta, "names", pl.pytorch ? "pytorch" : "spec");
    meta_json(meta, "recipe", recipe_json(&m->recipe));
    meta_str(meta, "rnnc_version", RNNRT_VERSION);
    meta_str(meta, "spec", m->spec_path);
    if (tg->s2s) { /* src_vocab, src_vocab_counts, tgt_vocab, ... */
        meta_json(meta, tg->vocab_key[0], lists[0]);
        meta_json(meta, tg->count_key[0], lists[1]);
    }
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL && !tg->s2s)
        meta_int(meta, "T", w.T);
    meta_str(meta, "task", tg->task);
    if (tg->s2s) {
        meta_json(meta, tg->vocab_key[1], lists[2]);
        meta_json(meta, tg->count_key[1], lists[3]);
    } else {
        meta_json(meta, tg->vocab_key[0], lists[0]);
        meta_json(meta, tg->count_key[0], lists[1]);
    }

    size_t off = 0;
    for (int k = 0; k < pl.n; k++) {
        const Tensor *t = &pl.t[k];
        size_t bytes = tensor_numel(t) * sizeof(real);
        json_t *d = json_object();
        json_object_set_new(d, "dtype", json_string(dtype_name()));
        json_t *shape = json_array();
        for (int i = 0; i < t->ndim; i++)
            json_array_append_new(shape, json_integer(t->shape[i]));
        json_object_set_new(d, "shape", shape);
        json_object_set_new(d, "data_offsets",
                            json_pack("[II]", (json_int_t)off,
                                      (json_int_t)(off + bytes)));
        json_object_set_new(root, t->name, d);
        off += bytes;
    }
    char *header = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(root);
    if (!header) {
        free(pl.t);
        weights_free(&w);
        return rnnrt_error(err, RNNRT_EXIT_IO, "out of memory for the "
                           "safetensors header of '%s'", out);
    }
    Writer wr = {header, strlen(header), 0, &pl, &w.p};
    wr.padded = (wr.hlen + 7) / 8 * 8;
    RnnrtSaveStage stage;
    int e = rnnrt_file_save(out, write_file, &wr, &stage);
    rc = rnnrt_ngram_save_error(out, "the safetensors file", stage, e, err);
    free(header);
    free(pl.t);
    weights_free(&w);
    return rc;
}

int rnnrt_st_export(const RnnrtModel *m, const char *ckpt, const char *out,
                    RnnrtError *err)
{
    Target t;
    target_lm(&t, m);
    return export_target(&t, ckpt, out, err);
}

/* ---- import ---- */

typedef struct {
    const char *name;
    int dsize; /* 4 (F32) or 8 (F64) */
    int ndim;
    int64_t shape[8];
    uint64_t begin, end;
    int used;
} FileTensor;

typedef struct {
    const char *path;
    char *data;
    size_t n;
    json_t *root, *meta;
    const unsigned char *bytes; /* after the header */
    uint64_t nbytes;
    FileTensor *t;
    int nt;
} StFile;

static void st_close(StFile *f)
{
    free(f->data);
    free(f->t);
    if (f->root)
        json_decref(f->root);
    memset(f, 0, sizeof *f);
}

/* Exit 1: "'<path>' is not a usable safetensors file: <what>". */
static int bad(const StFile *f, RnnrtError *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int bad(const StFile *f, RnnrtError *err, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' is not a usable "
                       "safetensors file: %s", f->path, msg);
}

static int offset_cmp(const void *a, const void *b)
{
    const FileTensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int st_tensor(StFile *f, const char *key, json_t *v, FileTensor *t,
                     RnnrtError *err)
{
    memset(t, 0, sizeof *t);
    t->name = key;
    if (!json_is_object(v))
        return bad(f, err, "tensor '%s' is not a JSON object", key);
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") &&
            strcmp(k, "data_offsets"))
            return bad(f, err, "tensor '%s' has an unknown key '%s'", key, k);
    }
    json_t *dt = json_object_get(v, "dtype");
    json_t *sh = json_object_get(v, "shape");
    json_t *of = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(of))
        return bad(f, err, "tensor '%s' needs \"dtype\" (a string), "
                   "\"shape\" and \"data_offsets\" (lists)", key);
    const char *d = json_string_value(dt);
    if (!strcmp(d, "F32"))
        t->dsize = 4;
    else if (!strcmp(d, "F64"))
        t->dsize = 8;
    else
        return bad(f, err, "tensor '%s' has dtype %s; rnnc reads F32 and "
                   "F64", key, d);
    size_t nd = json_array_size(sh);
    if (nd > 8)
        return bad(f, err, "tensor '%s' has more than 8 dimensions",
                   key);
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *e = json_array_get(sh, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 ||
            json_integer_value(e) > (json_int_t)1 << 40)
            return bad(f, err, "tensor '%s' has a shape that is not a list "
                       "of sizes", key);
        t->shape[i] = json_integer_value(e);
        numel *= (uint64_t)t->shape[i];
        if (numel > (uint64_t)1 << 40)
            return bad(f, err, "tensor '%s' is too large", key);
    }
    json_t *b = json_array_get(of, 0), *e = json_array_get(of, 1);
    if (json_array_size(of) != 2 || !json_is_integer(b) ||
        !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b))
        return bad(f, err, "tensor '%s' needs \"data_offsets\": [begin, "
                   "end] with 0 <= begin <= end", key);
    t->begin = (uint64_t)json_integer_value(b);
    t->end = (uint64_t)json_integer_value(e);
    if (t->end - t->begin != numel * (uint64_t)t->dsize) {
        char s[160];
        snprintf(s, sizeof s, "its offsets span %llu bytes; its shape "
                 "needs %llu", (unsigned long long)(t->end - t->begin),
                 (unsigned long long)(numel * (uint64_t)t->dsize));
        return bad(f, err, "tensor '%s': %s", key, s);
    }
    if (t->end > f->nbytes) {
        char s[200];
        snprintf(s, sizeof s, "its bytes end at %llu, after the end of the "
                 "data (%llu bytes; is the file truncated?)",
                 (unsigned long long)t->end,
                 (unsigned long long)f->nbytes);
        return bad(f, err, "tensor '%s': %s", key, s);
    }
    return 0;
}

static int st_open(StFile *f, const char *path, RnnrtError *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    int rc = rnnrt_file_read(path, MAX_FILE, &f->data, &f->n, err);
    if (rc)
        return rc;
    if (f->n < 8)
        return rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is truncated: %zu "
                           "bytes, shorter than a safetensors header "
                           "length (8)", path, f->n);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)(unsigned char)f->data[i] << (8 * i);
    if (hlen > MAX_HEADER)
        return bad(f, err, "the header length (the first 8 bytes) exceeds "
                   "100 MiB");
    if (hlen > f->n - 8)
        return rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is truncated: the "
                           "header needs %llu bytes, the file has %zu after "
                           "its length", path, (unsigned long long)hlen,
                           f->n - 8);
    json_error_t je;
    f->root = json_loadb(f->data + 8, (size_t)hlen,
                         JSON_REJECT_DUPLICATES, &je);
    if (!f->root)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s': the safetensors "
                           "header is not valid JSON: %s (header line %d, "
                           "column %d)", path, je.text, je.line, je.column);
    if (!json_is_object(f->root))
        return bad(f, err, "the header is not a JSON object");
    f->bytes = (const unsigned char *)f->data + 8 + hlen;
    f->nbytes = f->n - 8 - hlen;
    size_t cap = json_object_size(f->root);
    f->t = rnnrt_xcalloc(cap + 1, sizeof *f->t, "tensor list");
    const char *key;
    json_t *v;
    json_object_foreach(f->root, key, v) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_is_object(v))
                return bad(f, err, "__metadata__ is not an object");
            const char *k;
            json_t *x;
            json_object_foreach(v, k, x) {
                if (!json_is_string(x))
                    return bad(f, err, "__metadata__ value '%s' is not a "
                               "string", k);
            }
            f->meta = v;
            continue;
        }
        rc = st_tensor(f, key, v, &f->t[f->nt], err);
        if (rc)
            return rc;
        f->nt++;
    }
    /* no two tensors share a byte */
    FileTensor *s = rnnrt_xcalloc((size_t)f->nt + 1, sizeof *s, "tensors");
    memcpy(s, f->t, (size_t)f->nt * sizeof *s);
    qsort(s, (size_t)f->nt, sizeof *s, offset_cmp);
    for (int i = 1; i < f->nt; i++)
        if (s[i].begin < s[i - 1].end && s[i].end > s[i].begin &&
            s[i - 1].end > s[i - 1].begin) {
            rc = bad(f, err, "tensors '%s' and '%s' overlap", s[i - 1].name,
                     s[i].name);
            break;
        }
    free(s);
    return rc;
}

static const char *meta_get(const StFile *f, const char *key)
{
    json_t *x = f->meta ? json_object_get(f->meta, key) : NULL;
    return x ? json_string_value(x) : NULL;
}

/* A vocabulary from the metadata's JSON list key (counts from
 * counts_key when present). */
static int meta_vocab(const StFile *f, const char *key, const char *counts_key,
                      int specials, RnnrtVocab *v, RnnrtError *err)
{
    if (specials)
        rnnrt_vocab_init(v);
    else
        rnnrt_vocab_init_empty(v);
    const char *s = meta_get(f, key);
    if (!s)
        return bad(f, err, "__metadata__ has no '%s' (a JSON list of the "
                   "tokens, in id order%s)", key,
                   specials ? ", <unk> <pad> <bos> <eos> first" : "");
    json_error_t je;
    json_t *a = json_loads(s, JSON_REJECT_DUPLICATES, &je);
    json_t *c = NULL;
    const char *cs = counts_key ? meta_get(f, counts_key) : NULL;
    if (cs)
        c = json_loads(cs, 0, &je);
    int rc = 0;
    if (!json_is_array(a) || json_array_size(a) > INT32_MAX)
        rc = bad(f, err, "__metadata__ '%s' is not a JSON list", key);
    else if (cs && (!json_is_array(c) ||
                    json_array_size(c) != json_array_size(a)))
        rc = bad(f, err, "__metadata__ '%s' is not a JSON list as long as "
                 "'%s'", counts_key, key);
    for (size_t i = 0; !rc && i < json_array_size(a); i++) {
        json_t *t = json_array_get(a, i), *n = c ? json_array_get(c, i) : NULL;
        size_t len = json_string_length(t);
        const char *tok = json_string_value(t);
        if (!tok || len == 0 || memchr(tok, 0, len) ||
            (n && !json_is_integer(n))) {
            char where[64];
            snprintf(where, sizeof where, "%zu", i);
            rc = bad(f, err, "__metadata__ '%s': entry %s is not a "
                     "non-empty string (or its count not an integer)", key,
                     where);
        } else if ((int)i < (specials ? 4 : 0)) {
            if (strcmp(tok, v->tokens[i]))
                rc = bad(f, err, "__metadata__ '%s' must start with the "
                         "special tokens <unk> <pad> <bos> <eos>, in that "
                         "order (at %s)", key, tok);
            else if (n)
                v->counts[i] = json_integer_value(n);
        } else if (rnnrt_vocab_add(v, tok, len,
                                   n ? json_integer_value(n) : 0) < 0) {
            rc = bad(f, err, "__metadata__ '%s' holds '%s' twice", key, tok);
        }
    }
    if (!rc && v->size == 0)
        rc = bad(f, err, "__metadata__ '%s' is empty", key);
    json_decref(a);
    if (c)
        json_decref(c);
    return rc;
}

static double get_le(const unsigned char *b, int dsize)
{
    if (dsize == 4) {
        uint32_t u = 0;
        for (int i = 0; i < 4; i++)
            u |= (uint32_t)b[i] << (8 * i);
        float x;
        memcpy(&x, &u, 4);
        return x;
    }
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)b[i] << (8 * i);
    double x;
    memcpy(&x, &u, 8);
    return x;
}

static void shape_str(char *s, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = (size_t)snprintf(s, cap, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%lld", i ? ", " : "",
                              (long long)shape[i]);
    if (k < cap)
        snprintf(s + k, cap - k, "]");
}

/* The file's tensors into w->p, by the plan. */
static int fill_params(StFile *f, const Plan *pl, Weights *w, RnnrtError *err)
{
    /* aliases last, against the values their parameter got */
    for (int k = 0; k < 2 * pl->n; k++) {
        const Tensor *t = &pl->t[k % pl->n];
        if (t->alias != (k >= pl->n))
            continue;
        FileTensor *ft = NULL;
        for (int i = 0; i < f->nt && !ft; i++)
            if (!strcmp(f->t[i].name, t->name))
                ft = &f->t[i];
        char want[64], have[64];
        shape_str(want, sizeof want, t->ndim, t->shape);
        if (!ft)
            return bad(f, err, "tensor '%s' %s is missing (the model's "
                       "names and shapes are in the README, \"Weight "
                       "interchange\")", t->name, want);
        ft->used = 1;
        shape_str(have, sizeof have, ft->ndim, ft->shape);
        if (strcmp(want, have)) {
            char s[200];
            snprintf(s, sizeof s, "has shape %s; the model needs %s", have,
                     want);
            return bad(f, err, "tensor '%s' %s", t->name, s);
        }
        size_t n = tensor_numel(t);
        size_t *idx = rnnrt_xcalloc(n + 1, sizeof *idx, "tensor index");
        tensor_map(t, &w->p, idx);
        const unsigned char *b = f->bytes + ft->begin;
        for (size_t e = 0; e < n; e++) {
            double x = get_le(b + e * (size_t)ft->dsize, ft->dsize);
            if (!isfinite(x)) {
                free(idx);
                char s[64];
                snprintf(s, sizeof s, "%zu", e);
                return bad(f, err, "tensor '%s' holds a NaN or infinity "
                           "(element %s)", t->name, s);
            }
            if (t->alias && w->p.params[idx[e]] != (real)x) {
                free(idx);
                return bad(f, err, "tensor '%s' differs from the tensor it "
                           "is tied to (network.tie_weights: one parameter)",
                           t->name);
            }
            w->p.params[idx[e]] = (real)x;
        }
        free(idx);
    }
    for (int i = 0; i < f->nt; i++)
        if (!f->t[i].used)
            return bad(f, err, "tensor '%s' is not a parameter of the model "
                       "(its tensors: the README, \"Weight interchange\")",
                       f->t[i].name);
    return 0;
}

/* A train state as a fresh `train` starts it, with the recipe's values. */
static int fresh_state(RnnrtTrainState *ts, const RnnrtModel *m, int S,
                       size_t total, RnnrtError *err)
{
    const RnnrtRecipe *r = &m->recipe;
    memset(ts, 0, sizeof *ts);
    rnnrt_rng_init(&ts->rng, r->seed);
    ts->epoch_rng = ts->rng;
    ts->lr = r->lr;
    rnnrt_sched_start(&ts->sched, ts->lr);
    ts->B = r->batch;
    ts->T = r->steps;
    ts->sampler = r->sampler && !strcmp(r->sampler, "random")
                      ? RNNRT_SAMPLER_RANDOM
                      : RNNRT_SAMPLER_SEQUENTIAL;
    ts->S = S;
    for (int i = 0; i < RNNRT_RECIPE_N; i++)
        ts->recipe[i] = NAN;
    ts->optim = rnnrt_xcalloc(1, sizeof *ts->optim, "optimizer");
    int rc = rnnrt_optim_init(ts->optim, r->optimizer, r->momentum, r->beta1,
                              r->beta2, r->eps, total, err);
    if (rc) {
        free(ts->optim);
        ts->optim = NULL;
    }
    return rc;
}

static int import_target(const Target *tg, const char *in, const char *ckpt,
                         int force, RnnrtError *err)
{
    const RnnrtModel *m = &tg->m;
    int rc = rnnrt_ckpt_probe(ckpt, err);
    if (!rc && !force)
        rc = rnnrt_ckpt_check_overwrite(ckpt, tg->task, m->name, m->spec_hash,
                                        m->spec_path, err);
    if (rc)
        return rc;
    StFile f;
    Weights w;
    memset(&w, 0, sizeof w);
    rc = st_open(&f, in, err);
    const char *ftask = rc ? NULL : meta_get(&f, "task");
    if (!rc && ftask && strcmp(ftask, tg->task))
        rc = bad(&f, err, "it holds a %s model; this is a %s model", ftask,
                 tg->task);
    /* the token vocabularies start with the specials; labels do not */
    for (int i = 0; i < tg->nvocab && !rc; i++)
        rc = meta_vocab(&f, tg->vocab_key[i], tg->count_key[i],
                        i == 0 || tg->s2s, &w.vocab[i], err);
    w.T = m->recipe.steps;
    const char *T = rc || tg->s2s ? NULL : meta_get(&f, "T");
    int64_t t64;
    if (T && (rnnrt_parse_i64(T, 1, 1 << 20, &t64)))
        rc = bad(&f, err, "__metadata__ 'T' is not a number of steps "
                 "(1 ... 2^20): '%s'", T);
    else if (T)
        w.T = (int)t64;
    if (!rc && tg->s2s)
        for (int i = 0; i < 2 && !rc; i++)
            rc = rnnrt_s2s_vocab_check(&w.vocab[i], tg->vocab_key[i], err);
    if (!rc)
        rc = rnnrt_params_init_l(&w.p, m, w.vocab[0].size,
                                 tg->nvocab == 2 ? w.vocab[1].size : 0, err);
    Plan pl;
    memset(&pl, 0, sizeof pl);
    if (!rc) {
        plan_build(&pl, m, &w.p, !tg->s2s);
        rc = fill_params(&f, &pl, &w, err);
    }
    st_close(&f);
    free(pl.t);
    RnnrtTrainState ts;
    memset(&ts, 0, sizeof ts);
    if (!rc)
        rc = fresh_state(&ts, m, tg->s2s ? 0 : m->state_size, w.p.total, err);
    if (!rc && tg->s2s)
        rc = rnnrt_s2s_ckpt_from_weights(ckpt, tg->s2s, &w.p,
                                         &w.vocab[0], &w.vocab[1], &ts, err);
    else if (!rc)
        rc = m->task == RNNRT_TASK_LANGUAGE_MODEL
                 ? rnnrt_ckpt_save(ckpt, m, &w.vocab[0], &w.p, &ts, err)
                 : rnnrt_task_ckpt_write(ckpt, m, &w.p, &w.vocab[0],
                                         &w.vocab[1], w.T, &ts, err);
    rnnrt_train_state_free(&ts);
    weights_free(&w);
    return rc;
}

int rnnrt_st_import(const RnnrtModel *m, const char *in, const char *ckpt,
                    int force, RnnrtError *err)
{
    Target t;
    target_lm(&t, m);
    return import_target(&t, in, ckpt, force, err);
}

/* ---- the commands ---- */

static int export_cmd(int argc, char **argv, const Target *t,
                      const char *prog)
{
    char dflt[4096];
    snprintf(dflt, sizeof dflt, "%s.ckpt", t->m.name);
    const char *ckpt = dflt, *pos = NULL, *out = NULL;
    const RnnrtOpt opts[] = {
        {"--ckpt", RNNRT_OPT_STR, &ckpt, "PATH", "checkpoint (also the "
         "first argument: export CKPT -o FILE)", 0, 0},
        {"--out", RNNRT_OPT_STR, &out, "FILE", "the safetensors file to "
         "write (also -o; - = standard output)", 0, 0},
        {0},
    };
    int rc = rnnrt_cli_parse_pos(argc, argv, prog,
                                 "Writes a checkpoint's weights, vocabulary "
                                 "and recipe as a safetensors file\n"
                                 "(PyTorch's names and layouts for the "
                                 "library cells; see the README).",
                                 opts, &pos);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    RnnrtError err = {0};
    if (pos)
        ckpt = pos;
    if (!out)
        return rnnrt_cli_report(rnnrt_error(&err, RNNRT_EXIT_USAGE,
                                            "-o FILE.safetensors is "
                                            "required"),
                                &err, prog, "export");
    rc = export_target(t, ckpt, out, &err);
    return rnnrt_cli_report(rc, &err, prog, "export");
}

static int import_cmd(int argc, char **argv, const Target *t,
                      const char *prog)
{
    char dflt[4096];
    snprintf(dflt, sizeof dflt, "%s.ckpt", t->m.name);
    const char *ckpt = dflt, *pos = NULL;
    int force = 0;
    const RnnrtOpt opts[] = {
        {"--ckpt", RNNRT_OPT_STR, &ckpt, "PATH", "the checkpoint to write",
         0, 0},
        {"--force", RNNRT_OPT_FLAG, &force, NULL, "replace --ckpt even when "
         "it is not a checkpoint of this model", 0, 0},
        {0},
    };
    int rc = rnnrt_cli_parse_pos(argc, argv, prog,
                                 "import FILE.safetensors: reads weights "
                                 "(and the vocabulary in __metadata__)\n"
                                 "and saves them as a checkpoint for eval, "
                                 "sample and train --resume --force.",
                                 opts, &pos);
    if (rc)
        return rc == RNNRT_HELP_SHOWN ? 0 : rc;
    RnnrtError err = {0};
    if (!pos)
        return rnnrt_cli_report(rnnrt_error(&err, RNNRT_EXIT_USAGE,
                                            "the safetensors file to read "
                                            "is required: import "
                                            "FILE.safetensors [--ckpt NEW]"),
                                &err, prog, "import");
    rc = import_target(t, pos, ckpt, force, &err);
    if (!rc)
        fprintf(stderr, "%s: imported '%s' into '%s'\n", prog, pos, ckpt);
    return rnnrt_cli_report(rc, &err, prog, "import");
}

int rnnrt_st_export_cmd(int argc, char **argv, const RnnrtModel *m,
                        const char *prog)
{
    Target t;
    target_lm(&t, m);
    return export_cmd(argc, argv, &t, prog);
}

int rnnrt_st_import_cmd(int argc, char **argv, const RnnrtModel *m,
                        const char *prog)
{
    Target t;
    target_lm(&t, m);
    return import_cmd(argc, argv, &t, prog);
}

int rnnrt_st_s2s_cmd(int argc, char **argv, const RnnrtS2sModel *m,
                     const char *prog)
{
    Target t;
    target_s2s(&t, m);
    return !strcmp(argv[0], "export") ? export_cmd(argc, argv, &t, prog)
                                      : import_cmd(argc, argv, &t, prog);
}
