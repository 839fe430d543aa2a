/*
 * infer_weights.c: the checkpoint a trainer wrote, for `rnnc --inference
 * --weights` (infer.h). Read by the runtime's reader (rnnrt_ckpt.c,
 * linked into rnnc): the model, task, spec hash, dimensions and every
 * parameter's shape are checked against the spec as the trainer checks
 * them, and a damaged file is refused with the trainer's message. The
 * reader is told about the model through an RnnrtModel made from the
 * lowered one: the names, shapes and state size the generated trainer's
 * descriptor holds.
 */
#include "infer.h"
#include "rnnrt.h"

#include <math.h>
#include <string.h>

/* The compiler's symbolic dims as the runtime's. */
static int rt_dim(int d)
{
    return d == DIM_V ? RNNRT_DIM_V : d == DIM_L ? RNNRT_DIM_L : d;
}

static int fail(RnnrtError *err, int *code)
{
    rnnrt_error_print(err, "rnnc");
    *code = err->code == RNNRT_EXIT_DATA ? EXIT_SPEC : EXIT_IO;
    return 0;
}

bool infer_task_ok(const Spec *s)
{
    if (s->task == TASK_LANGUAGE_MODEL || s->task == TASK_LABELLING || s->task == TASK_CLASSIFICATION)
        return true;
    fprintf(stderr, "rnnc: error: %s: --inference supports language models, taggers and classifiers for now\n",
            s->path);
    return false;
}

InferWeights *infer_weights_load(const Model *m, const char *path, int *code)
{
    const Spec *s = m->spec;
    if (!infer_task_ok(s)) {
        *code = EXIT_USAGE;
        return NULL;
    }
    bool tagger = s->task == TASK_LABELLING || s->task == TASK_CLASSIFICATION; /* labels */
    RnnrtParamDesc *pd = arena_alloc(&perm, (size_t)(m->nparams + 1) * sizeof *pd);
    for (int i = 0; i < m->nparams; i++) {
        const Param *p = &m->params[i];
        pd[i].name = p->name;
        pd[i].ndim = p->shape.ndim;
        for (int k = 0; k < p->shape.ndim && k < 2; k++)
            pd[i].dims[k] = rt_dim(p->shape.d[k]);
        pd[i].where = s->name;
    }
    RnnrtModel rm = {.name = s->model,
                     .spec_path = s->name,
                     .spec_hash = s->hash,
                     .nparams = m->nparams,
                     .params = pd,
                     .state_size = m->state_size,
                     .task = s->task == TASK_LABELLING         ? RNNRT_TASK_LABELLING
                             : s->task == TASK_CLASSIFICATION ? RNNRT_TASK_CLASSIFICATION
                                                              : RNNRT_TASK_LANGUAGE_MODEL};
    RnnrtError err = {0};
    RnnrtCkptFile f;
    RnnrtParams p;
    RnnrtVocab v, lab;
    int V = 0, L = 0, ok = 1;
    uint64_t T = 0;
    memset(&v, 0, sizeof v);
    memset(&lab, 0, sizeof lab);
    memset(&p, 0, sizeof p);
    if (rnnrt_ckpt_open(&f, path, &err) || rnnrt_ckpt_get_model(&f, &rm, &p, &V, &L, &err) ||
        rnnrt_ckpt_get_vocab(&f, "vocab", 1, &v, &err) ||
        (tagger && (rnnrt_ckpt_get_vocab(&f, "labels", 0, &lab, &err) || rnnrt_ckpt_get_dim(&f, "T", &T, &err))))
        ok = fail(&err, code);
    else if (tagger && (T < 1 || T > 1u << 20)) {
        fprintf(stderr, "rnnc: error: '%s' is corrupt: its time steps are %llu\n", path, (unsigned long long)T);
        *code = EXIT_IO;
        ok = 0;
    }
    else if (tagger && lab.size != L) {
        fprintf(stderr, "rnnc: error: '%s' is corrupt: it has %d labels, its header says %d\n", path, lab.size, L);
        *code = EXIT_IO;
        ok = 0;
    }
    else if (v.size != V) {
        fprintf(stderr, "rnnc: error: '%s' is corrupt: its vocabulary has %d tokens, its header says %d\n", path,
                v.size, V);
        *code = EXIT_IO;
        ok = 0;
    } else if (V <= 4 && !tagger) {
        fprintf(stderr, "rnnc: error: '%s': the vocabulary has no tokens besides the specials\n", path);
        *code = EXIT_SPEC;
        ok = 0;
    }
    InferWeights *w = NULL;
    if (ok) {
        w = arena_alloc(&perm, sizeof *w);
        w->path = arena_strdup(&perm, path);
        w->V = V;
        w->nlabels = tagger ? L : 0;
        w->T = (int)T;
        const char **lt = arena_alloc(&perm, (size_t)(L + 1) * sizeof *lt);
        for (int i = 0; tagger && i < L; i++)
            lt[i] = arena_strdup(&perm, lab.tokens[i]);
        w->labels = lt;
        w->total = p.total;
        float *block = arena_alloc(&perm, (p.total ? p.total : 1) * sizeof *block);
        memcpy(block, p.params, p.total * sizeof *block);
        w->params = block;
        w->offset = arena_alloc(&perm, (size_t)(m->nparams + 1) * sizeof *w->offset);
        w->numel = arena_alloc(&perm, (size_t)(m->nparams + 1) * sizeof *w->numel);
        for (int i = 0; i < m->nparams; i++) {
            w->offset[i] = p.offset[i];
            w->numel[i] = p.numel[i];
        }
        const char **tok = arena_alloc(&perm, (size_t)v.size * sizeof *tok);
        for (int i = 0; i < v.size; i++)
            tok[i] = arena_strdup(&perm, v.tokens[i]);
        w->tokens = tok;
        w->ntokens = v.size;
        for (size_t i = 0; i < p.total && w; i++)
            if (!isfinite(block[i])) {
                fprintf(stderr, "rnnc: error: '%s': parameter value %zu is not finite (a diverged run?)\n", path, i);
                *code = EXIT_SPEC;
                w = NULL;
            }
    }
    rnnrt_vocab_free(&v);
    rnnrt_vocab_free(&lab);
    rnnrt_params_free(&p);
    rnnrt_ckpt_close(&f);
    return w;
}
