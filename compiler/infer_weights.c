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
    if (s->task == TASK_LANGUAGE_MODEL || s->task == TASK_LABELLING || s->task == TASK_CLASSIFICATION ||
        s->task == TASK_SEQ2SEQ)
        return true;
    fprintf(stderr, "rnnc: error: %s: --inference supports language models, taggers, classifiers and seq2seq "
            "for now\n", s->path);
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

/* A seq2seq trainer's checkpoint (runtime/s2s/rnnrt_s2s_ckpt.c: task
 * "seq2seq", dims V, Vt and total, "srcvocab", "tgtvocab", the parameter
 * block in the model's order), checked as the trainer checks it. */
InferWeights *infer_weights_s2s_load(const Model *m, const char *path, int *code)
{
    const Spec *s = m->spec;
    RnnrtError err = {0};
    RnnrtCkptFile f;
    RnnrtVocab sv, tv;
    RnnrtReader block = {0};
    uint64_t V = 0, Vt = 0, total = 0;
    int ok = 1;
    memset(&sv, 0, sizeof sv);
    memset(&tv, 0, sizeof tv);
    if (rnnrt_ckpt_open(&f, path, &err) || rnnrt_ckpt_check_model(&f, "seq2seq", s->model, s->hash, s->name, &err) ||
        rnnrt_ckpt_get_dim(&f, "V", &V, &err) || rnnrt_ckpt_get_dim(&f, "Vt", &Vt, &err) ||
        rnnrt_ckpt_get_dim(&f, "total", &total, &err) || rnnrt_ckpt_get_vocab(&f, "srcvocab", 1, &sv, &err) ||
        rnnrt_ckpt_get_vocab(&f, "tgtvocab", 1, &tv, &err))
        ok = fail(&err, code);
    else if ((uint64_t)sv.size != V || (uint64_t)tv.size != Vt || V <= 4 || Vt <= 4) {
        fprintf(stderr, "rnnc: error: '%s' is corrupt: its vocabularies (%d and %d tokens) disagree with its header "
                "(%llu and %llu) or hold only the specials\n", path, sv.size, tv.size, (unsigned long long)V,
                (unsigned long long)Vt);
        *code = EXIT_IO;
        ok = 0;
    }
    size_t *offset = arena_alloc(&perm, (size_t)(m->nparams + 1) * sizeof *offset);
    size_t *numel = arena_alloc(&perm, (size_t)(m->nparams + 1) * sizeof *numel);
    if (ok) {
        RnnrtCkptShape *sh = arena_alloc(&perm, (size_t)(m->nparams + 1) * sizeof *sh);
        size_t at = 0;
        for (int i = 0; i < m->nparams; i++) {
            const Param *p = &m->params[i];
            size_t n = 1;
            /* a 1-D parameter is n x 1 in the checkpoint format */
            sh[i] = (RnnrtCkptShape){p->name, p->shape.ndim, {0, 1}};
            for (int k = 0; k < p->shape.ndim && k < 2; k++) {
                int d = p->shape.d[k];
                sh[i].dims[k] = d == DIM_V ? (int)V : d == DIM_VT ? (int)Vt : d;
                n *= (size_t)sh[i].dims[k];
            }
            offset[i] = at;
            numel[i] = n;
            at += n;
        }
        if (rnnrt_ckpt_check_shapes(&f, sh, m->nparams, &err) || rnnrt_ckpt_section(&f, "params", &block, &err))
            ok = fail(&err, code);
        else if (at != total || block.n != total * sizeof(float)) {
            fprintf(stderr, "rnnc: error: '%s' is corrupt: the parameter block has the wrong size\n", path);
            *code = EXIT_IO;
            ok = 0;
        }
    }
    InferWeights *w = NULL;
    if (ok) {
        w = arena_alloc(&perm, sizeof *w);
        w->path = arena_strdup(&perm, path);
        w->V = (int)V;
        w->Vt = (int)Vt;
        w->total = (size_t)total;
        float *params = arena_alloc(&perm, (w->total ? w->total : 1) * sizeof *params);
        memcpy(params, block.p, w->total * sizeof *params);
        w->params = params;
        w->offset = offset;
        w->numel = numel;
        const char **st = arena_alloc(&perm, (size_t)sv.size * sizeof *st);
        const char **tt = arena_alloc(&perm, (size_t)tv.size * sizeof *tt);
        for (int i = 0; i < sv.size; i++)
            st[i] = arena_strdup(&perm, sv.tokens[i]);
        for (int i = 0; i < tv.size; i++)
            tt[i] = arena_strdup(&perm, tv.tokens[i]);
        w->tokens = st;
        w->ntokens = sv.size;
        w->tgt_tokens = tt;
        for (size_t i = 0; i < w->total && w; i++)
            if (!isfinite(params[i])) {
                fprintf(stderr, "rnnc: error: '%s': parameter value %zu is not finite (a diverged run?)\n", path, i);
                *code = EXIT_SPEC;
                w = NULL;
            }
    }
    rnnrt_vocab_free(&sv);
    rnnrt_vocab_free(&tv);
    rnnrt_ckpt_close(&f);
    return w;
}
