/*
 * infer.h: `rnnc SPEC --inference --weights CKPT`: a standalone C file that
 * runs a trained model with nothing but a C compiler and libm (issue #15).
 *
 *   spec_load -> lower -> infer_weights_load (the trainer's checkpoint,
 *   read by the runtime's own reader, rnnrt_ckpt.c) -> emit_infer_c
 *
 * No pass and no autodiff run: emit_infer.c prints the forward graph as
 * lowered, the nodes the logits and the next state need, for one token
 * (B = 1, T = 1), as plain loops. The values are the trainer's step's:
 * the same ops in the same order (the passes do not reorder arithmetic),
 * the same tanh/sigmoid approximations; only the order of the sums in a
 * matrix product differs from BLAS's.
 */
#ifndef RNNC_INFER_H
#define RNNC_INFER_H

#include "graph.h"

/* What a checkpoint gives the emitter: the parameter block (the model's
 * parameters in order, DIM_V resolved to V) and the vocabulary. */
typedef struct {
    const char *path; /* as given */
    int V;            /* vocabulary size, specials included */
    const float *params;
    size_t total;     /* floats in params */
    size_t *offset;   /* offset[i]: where m->params[i] starts */
    size_t *numel;    /* numel[i] */
    int ntokens;
    const char *const *tokens; /* ntokens strings (no NUL inside) */
    int nlabels;      /* a tagger's or classifier's labels (L), else 0 */
    int T;            /* a task model's time steps (the checkpoint's "T": the
                       * classifier's longest text, the tagger's window), else 0 */
    const char *const *labels;
    bool runtime;     /* --runtime-weights: the file loads the parameters at run
                       * time (emit_infer_load.c); params give only the sizes */
    int Vt;           /* seq2seq: the target vocabulary (tokens: the source's), else 0 */
    const char *const *tgt_tokens;
} InferWeights;

/* Can --inference emit a model of this task? Says why not (false). */
bool infer_task_ok(const Spec *s);

/* Reads path, a checkpoint of m's trainer, verified as the trainer verifies
 * it (damaged -> EXIT_IO, another model, spec or shape -> EXIT_SPEC). Prints
 * the error and sets *code on failure (NULL). Language models, labelling
 * models (taggers) and classifiers, one-directional or bidirectional. */
InferWeights *infer_weights_load(const Model *m, const char *path, int *code);

/* emit_infer.c: the standalone C of m with the weights w compiled in.
 * False after printing an error (an op the standalone file cannot run). */
bool emit_infer_c(FILE *f, const Model *m, const InferWeights *w);
/* emit_infer_load.c (w->runtime): the loader's declarations (the weights'
 * struct, the error codes, <name>_load, <name>_attach), and its code (after
 * the vocabulary and the labels' arrays). */
void emit_infer_load_decls(FILE *f, const Model *m, const InferWeights *w);
void emit_infer_load(FILE *f, const Model *m, const InferWeights *w);
/* Checks, before anything is written, that emit_infer_c can print m;
 * prints the error and returns false if not. */
bool infer_supported(const Model *m);

/* seq2seq (emit_infer_s2s.c): the checkpoint of a seq2seq trainer (as
 * infer_weights_load; V, tokens: the source side), and the standalone file
 * of its encoder, decoder step and greedy decoding. */
InferWeights *infer_weights_s2s_load(const Model *m, const char *path, int *code);
bool infer_s2s_supported(const Model *m);
bool emit_infer_s2s_c(FILE *f, const Model *m, const InferWeights *w);

#endif
