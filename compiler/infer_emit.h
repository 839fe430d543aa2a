/*
 * infer_emit.h: the standalone emitter's pieces that emit_infer.c (language
 * models, taggers, classifiers) and emit_infer_s2s.c (seq2seq) share: the
 * buffers of a forward graph printed for one token, the printing of its
 * nodes, the weights, the vocabulary and the float approximations
 * (runtime/rnnrt_fastmath.h's text).
 */
#ifndef RNNC_INFER_EMIT_H
#define RNNC_INFER_EMIT_H

#include "infer.h"

/* A value the step computes, in an array of the caller's struct that
 * buffers whose lifetimes do not overlap share (a slot), or in place. */
typedef struct Buf {
    const char *name; /* the step's local pointer to it */
    size_t size;      /* floats */
    const Node *node;
    const char *expr; /* not NULL: where it is instead of a slot (the next state) */
    int def, last;    /* program points: where it is written, where last read */
    int slot;
} Buf;

typedef struct Infer Infer;
struct Infer {
    FILE *f;
    const Model *m;
    const InferWeights *w;
    const char *P; /* the model's name: the prefix of every C name */
    struct Buf *buf; /* the step's values: node->aux - 2 */
    int nbuf, capbuf;
    size_t *slot_size; /* the struct's arrays, which buffers share */
    int nslots;
    bool uses[OP__COUNT]; /* ops the step runs */
    /* A whole-sequence model (a classifier, a bidirectional model): the
     * graph runs for T = n <= w->T tokens at once, its scans as loops over
     * t, each carried value in an array of its own (carry_arg[k]'s at
     * carry_off[k] in s->carry). */
    bool seq;
    const Node **carry_arg;
    size_t *carry_off;
    int ncarry;
    size_t carry_total;
    /* seq2seq (emit_infer_s2s.c); zero for the other tasks */
    int T;  /* DIM_T (0: 1) */
    int Vt; /* DIM_VT */
    const Node *const *keep; /* values read after the step, besides the logits and the next state */
    int nkeep;
    /* The C of an input the step reads that is not the token or a state
     * (NULL: none), and the printing of an op emit_node does not know
     * (false: not one of them). */
    const char *(*input_ref)(Infer *I, const Node *n);
    bool (*extra_node)(Infer *I, const Node *n, size_t N, const char *o);
};

void infer_mark(Node *n);
bool infer_op_supported(const Node *n);
bool infer_check_graph(const Graph *g, bool (*ok_op)(const Node *), const char *what);
size_t infer_numel(const Infer *I, Shape s);
size_t infer_last_dim(const Infer *I, Shape s);
int infer_state_offset(const Model *m, int k);
void infer_add_buffers(Infer *I, const Graph *g);
Buf *infer_base(Infer *I, const Node *x);
void infer_plan_slots(Infer *I);
size_t infer_slots_total(const Infer *I);
size_t infer_slot_offset(const Infer *I, int k);
const char *infer_ref(Infer *I, const Node *n);
const char *infer_ctext(const char *s);
void infer_out(Infer *I, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void infer_note_ops(Infer *I, const Graph *g);
void infer_emit_graph(Infer *I, const Graph *g);
void infer_emit_weights(Infer *I);
void infer_emit_cstring(Infer *I, const char *s);
void infer_emit_math(Infer *I);

#endif
