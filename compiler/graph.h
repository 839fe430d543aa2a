/*
 * graph.h: the graph IR.
 *
 * A Graph is a list of Nodes in topological order (a node's inputs always
 * come before it; node ids are positions and break every tie, so iterating
 * `g->nodes` is deterministic). Each node has an op from ops.def, up to three
 * inputs, a shape and a Loc pointing back at the spec.
 *
 * Recurrence is a SCAN node. Its body is a Graph of its own whose ARG nodes
 * stand for the scan's inputs at one time step. Each scan input is
 *   SCAN_SEQ    outer [T, ...]  -> body [...]   (the value at step t)
 *   SCAN_INV    outer X         -> body X       (loop-invariant: weights)
 *   SCAN_CARRY  outer init      -> body value   (carried state: the init at
 *                                               the first step, then the
 *                                               value of `carry_out` at the
 *                                               previous step)
 * and each scan output (read through SCAN_OUT nodes) is
 *   SCAN_STACK  body node over all steps -> outer [T, ...]
 *   SCAN_FINAL  carry k after the last step
 *   SCAN_SUM    body node summed over all steps
 * A reverse scan visits t = T-1 .. 0; stacked outputs are still indexed by t.
 *
 * Model ties the graph to the spec: the parameter table, the graph inputs
 * and the named outputs the trainer reads.
 */
#ifndef RNNC_GRAPH_H
#define RNNC_GRAPH_H

#include "spec.h"
#include "util.h"

typedef enum {
#define OP(name, arity, str, doc) OP_##name,
#include "ops.def"
#undef OP
    OP__COUNT
} Op;

/* Symbolic dims, bound at run time. Positive values are concrete. */
enum { DIM_B = -1, DIM_T = -2, DIM_V = -3, DIM_L = -4 /* labels of a task head */ };
/* seq2seq (issue #4): the target vocabulary; DIM_V is the source's. The
 * source and target sides share DIM_T (one num_steps, as d2l). */
enum { DIM_VT = -5 };
enum { MAX_DIMS = 4 }; /* 4: a scan over [T,B,n] attention values stacks them [T,T,B,n] */

typedef struct {
    int ndim;
    int d[MAX_DIMS];
} Shape;

typedef enum { DT_REAL, DT_INT } DType;

/* Graph inputs (OP_INPUT index). */
enum {
    INPUT_X,           /* int [T, B] input tokens */
    INPUT_Y,           /* int [T, B] target tokens */
    INPUT_CARRY_SCALE, /* [T] multiplier for the state gradient (truncation) */
    INPUT_POOL,        /* [T, B] pooling weights of a classification head */
    INPUT_MASK,        /* [T, B] 1 on a row's valid steps, 0 on padding (classification) */
    INPUT_STATE        /* + k: [B, width] initial value of state k */
};
enum { MAX_STATES = 128 }; /* carried states of a model: layers x cell states */
/* seq2seq graph inputs (issue #4), numbered after every state input. */
enum {
    INPUT_DEC_IN = INPUT_STATE + MAX_STATES, /* int [T, B] decoder input: <bos> + y[:-1] */
    INPUT_SRC_LEN,                           /* int [B] valid source steps */
    INPUT_TGT_LEN,                           /* int [B] valid target steps */
    INPUT_STEP_INV                           /* + j: a decoder step's loop invariant j (s2s_step) */
};

typedef enum { SCAN_SEQ, SCAN_INV, SCAN_CARRY } ScanInKind;
typedef enum { SCAN_STACK, SCAN_FINAL, SCAN_SUM } ScanOutKind;

typedef struct Node Node;
typedef struct Graph Graph;

typedef struct {
    ScanInKind kind;
    Node *arg;       /* the body ARG node */
    Node *carry_out; /* SCAN_CARRY: body node holding the next value */
} ScanIn;

typedef struct {
    ScanOutKind kind;
    Node *node;      /* SCAN_STACK, SCAN_SUM: body node */
    int carry;       /* SCAN_FINAL: index of the scan input that is carried */
} ScanOut;

typedef struct {
    Graph *body;
    bool reverse;
    ScanIn *in;      /* parallel to the scan node's inputs */
    int nin, cap_in;
    ScanOut *out;
    int nout, cap_out;
    const char *name; /* for comments: "rnn_tanh" */
} Scan;

/* Where the emitted code keeps a node's value: decided by pass_memplan.c
 * (memplan_storage) on the final graph, read by emit.c. */
typedef enum {
    STORE_NONE,    /* no memory of its own: a parameter, an input, a scan's
                      argument or final value, a constant, an alias, a scan,
                      a fused loop, an integer value */
    STORE_BUFFER,  /* a workspace buffer of its own (the memory plan may share
                      its storage); also carry_scale's buffer */
    STORE_STACKED, /* a scan body value written straight into its stacked
                      output (scan_stack_output), row t at step t */
    STORE_VIEW,    /* a slice the fused loops read in place, through the rows
                      of its source (in[0]) */
    STORE_GRAD,    /* a weight gradient A^T @ B nothing else reads: its GEMM
                      adds straight into the gradient block */
    STORE_ZEROS,   /* zeros read only as scans' initial carries: the carries
                      are cleared instead */
} Storage;

struct Node {
    int id;          /* position in its graph */
    Op op;
    Loc loc;
    const char *name; /* spec name (param, equation lhs) or NULL */
    Node **in;
    int nin;
    Shape shape;
    DType dtype;
    double value;    /* CONST */
    int index;       /* PARAM, INPUT, ARG, SCAN_OUT */
    bool ta, tb;     /* MATMUL */
    Scan *scan;      /* SCAN */
    Graph *graph;    /* owner */
    const char *text; /* the spec text this node computes, for comments */
    int aux;         /* free for passes/emitters (e.g. buffer number) */
    Storage storage; /* memplan_storage (pass_memplan.c) */
};

struct Graph {
    Node **nodes;
    int n, cap;
    Graph *parent;   /* for scan bodies */
};

typedef struct {
    const char *name;
    Loc loc;
    Shape shape;     /* dims may be DIM_V */
    InitKind init;
    double init_arg;
    bool trainable;
} Param;

typedef struct {
    Spec *spec;
    Param *params;
    int nparams, cap_params;
    /* Carried state: the runtime sees one block of B*S reals; state k is
     * the [B, width_k] block at offset B * (sum of earlier widths). */
    int state_size;  /* S: carried reals per batch row */
    int nstates;
    Graph *g;        /* the top-level graph (forward, then backward) */
    Node *x, *y, *carry_scale;
    Node *state_in[MAX_STATES];
    Node *state_out[MAX_STATES];
    Node *loss;      /* scalar */
    Node *logits;    /* [T, B, V]; labelling [T, B, L]; classification [B, L] */
    Node *pool;      /* classification with head: mean: the INPUT_POOL node, else NULL */
    Node *mask;      /* classification: the INPUT_MASK node every scan reads, else NULL */
    Node *top_final[2]; /* the top layer's final output state, forward and reverse (or NULL) */
    int nforward;    /* nodes [0, nforward) are the forward pass */
    Node **grads;    /* after autodiff: grads[i] for params[i] (NULL if none) */
    Node *dstate[MAX_STATES]; /* after autodiff: gradient of state_in[k] */
    /* task: seq2seq (lower_s2s.c): x is the source, y the target labels;
     * the encoder's initial states are state_in[]. */
    Node *dec_in, *src_len, *tgt_len;
    Node *attention; /* [T, T, B]: weights at decoder step t over source steps; NULL without
                        attention. An output of the forward pass (c->attention). */
    Node *decoder;   /* the decoder's scan */
    /* A decoding graph's outputs besides logits and attention (s2s_decode):
     * what the caller reads after it runs. Kept by pass_dce, followed by
     * pass_replace_uses, live to the end in the memory plan. */
    Node **roots;
    int nroots;
    struct MemPlan *memplan; /* pass_memplan.c: buffers that share storage; NULL: one each */
    bool stored;     /* memplan_storage decided Node.storage on the final graph */
} Model;

/* The static memory plan (pass_memplan.c): every buffer of the emitted
 * step's workspace, its live range over the program order, and its slot.
 * Buffers in one slot start at the same offset (the slot is as large as
 * its largest member at run time): their live ranges do not overlap. */
typedef struct {
    const Node *node; /* the value; for a scan's carry buffer, the body ARG */
    bool carry;       /* the carry buffer of that ARG's scan input */
    Shape shape;
    int start, end;   /* program points, inclusive (0: the forward prologue) */
    int slot;
} MemBuf;

typedef struct MemPlan {
    MemBuf *buf;      /* in the order emit.c lays the buffers out */
    int nbuf, nslots;
    int end;          /* the last program point: read by the runtime */
} MemPlan;

/* seq2seq decoding (lower_s2s.c): the decoder's scan body as a graph of its
 * own that runs one step, for greedy and beam search. Its inputs are the
 * previous token (INPUT_DEC_IN, int [B]), the decoder's states
 * (INPUT_STATE + k, [B,hidden]) and the loop invariants the encoder
 * computes once per batch (INPUT_STEP_INV + j: the value of inv_src[j], a
 * node of the model the step was made from, e.g. the keys and their
 * projection). Its outputs are m->logits [B,Vt], m->attention ([T,B] or
 * NULL) and state_out[k] (= m->roots). */
typedef struct {
    Model *m;          /* g: the step; params shared with the training model */
    Node *prev;
    int nstates;
    Node **state_init; /* nodes of the source model: the states before step 0 */
    Node *state_in[MAX_STATES];
    Node **state_out;
    int ninv;
    Node **inv_src;    /* nodes of the source model */
} S2sStep;

/* The step of the decoder of `train`, a lowered model no pass has
 * rewritten (the passes rewrite the decoder's body). */
S2sStep *s2s_step(Arena *a, const Model *train);

/* The graphs of the emitted decoding entries (issue #5), made from the
 * lowered training model before any pass or autodiff (main.c), then passed
 * like it: `enc` is a copy of its forward pruned to what the step reads
 * (enc->roots: the step's inv_src, then its state_init), run once per batch
 * of sources; `step` is s2s_step of that copy. */
typedef struct {
    Model *enc;
    S2sStep *step;
} S2sDecode;

S2sDecode *s2s_decode(Arena *a, const Model *train);

/* ---- building ---- */
Graph *graph_new(Arena *a, Graph *parent);
/* Add a node; computes its shape and dtype from the inputs (shape
 * inference). On a shape error reports at `loc` and returns NULL. */
Node *graph_add(Graph *g, Op op, Loc loc, Node **in, int nin);
Node *graph_add1(Graph *g, Op op, Loc loc, Node *a);
Node *graph_add2(Graph *g, Op op, Loc loc, Node *a, Node *b);
/* Leaves whose shape is given. */
Node *graph_leaf(Graph *g, Op op, Loc loc, Shape shape, DType dt, int index);
Node *graph_const(Graph *g, Loc loc, double value);
Node *graph_matmul(Graph *g, Loc loc, Node *a, Node *b, bool ta, bool tb);
Node *graph_sum_to(Graph *g, Loc loc, Node *a, Shape to);
/* DROPOUT of a with `rate` (in [0, 1)) at mask site `site` (ops.def). */
Node *graph_dropout(Graph *g, Loc loc, Node *a, double rate, int site);
/* SLICE: columns [offset, offset + width) of a's last axis. */
Node *graph_slice(Graph *g, Loc loc, Node *a, int offset, int width);
/* The dropout mask (ops.def DROPOUT), shared by interp.c and the tests:
 * is element i kept at this site under this seed, for this rate? */
bool dropout_keep(uint64_t seed, int site, size_t i, double rate);
Node *graph_bcast_last(Graph *g, Loc loc, Node *a, int width);
/* A copy of n (not a scan) in g, reading `in` (n->nin nodes of g). */
Node *graph_clone_node(Graph *g, const Node *n, Node **in);
/* A copy of m with a graph of its own (scan bodies too; no fused loops),
 * its node fields pointing into the copy; parameters shared. */
Model *model_clone(Arena *a, const Model *m);

/* Scans: make the node, then its body (graph_new(a, g)), then add inputs and
 * outputs; graph_scan_finish computes the output shapes' dependence. */
Node *graph_scan(Graph *g, Loc loc, const char *name, bool reverse);
Node *scan_add_input(Node *scan, ScanInKind kind, Node *outer); /* returns body ARG */
void scan_set_carry_out(Node *scan, int input, Node *body_node);
/* The SCAN_OUT node reading output `index` of scan (NULL if none). */
Node *scan_output_node(const Node *scan, int index);
/* The SCAN_OUT node of a stacked output of scan whose body value is n, or
 * NULL. */
const Node *scan_stack_output(const Node *scan, const Node *n);
/* The scan whose body is g, or NULL (the top-level graph, a fused body). */
const Node *scan_of_body(const Graph *g);
/* Move a node nothing uses yet to the end of its graph (renumbers ids). */
void graph_move_to_end(Graph *g, Node *n);
/* Adds an output and returns a SCAN_OUT node for it in the outer graph. */
Node *scan_add_output(Node *scan, ScanOutKind kind, Node *body_node, int carry);

/* ---- shapes ---- */
Shape shape0(void);
Shape shape1(int a);
Shape shape2(int a, int b);
Shape shape3(int a, int b, int c);
bool shape_eq(Shape a, Shape b);
/* "[B,T,256]" into buf. */
const char *shape_str(Shape s, char *buf, size_t n);
/* Number of elements as a C expression over B, T, V ("B * 256"). */
const char *shape_size_expr(Arena *a, Shape s);
/* Number of elements with symbols bound; false on overflow. */
bool shape_numel(Shape s, int B, int T, int V, int L, size_t *out);

/* ---- inspecting ---- */
const char *op_name(Op op);
bool op_is_elementwise(Op op);
/* Text dump, one node per line, scan bodies indented. Deterministic. */
void graph_dump(FILE *f, const Graph *g, int indent);
void model_dump(FILE *f, const Model *m);
/* The model's graph as a Graphviz cluster "g<index>" (labelled with the
 * model's name and role, if any), for a digraph the caller opens. */
void model_dot(FILE *f, const Model *m, int index, const char *role);
/* Checks invariants (topological order, arities, shapes); DIE on failure. */
void graph_verify(const Graph *g);

/* ---- the reference interpreter (interp.c) ----
 * Executes every node of a model's graph (forward and backward) in double
 * precision with naive loops, following the op semantics in ops.def. It is
 * the oracle the emitted code and autodiff are checked against. */
typedef struct {
    int B, T, V;
    double **params;            /* params[i]: values of m->params[i], row-major */
    const int32_t *x, *y;       /* [T][B] */
    double *state[MAX_STATES];  /* state k: [B][width_k] */
    const double *carry_scale;  /* [T]; NULL = all ones */
    uint64_t dropout_seed;      /* the step's dropout seed (RnnrtCtx's) */
    bool train;                 /* false: DROPOUT is the identity */
    int L;                      /* labels (task heads); 0 when unused */
    const double *pool;         /* [T][B] pooling weights (classification) */
    const double *mask;         /* [T][B] valid-step mask (classification) */
    /* seq2seq: target vocabulary size, decoder input [T][B], valid
     * lengths [B] of the source and the target */
    int Vt;
    const int32_t *dec_in, *src_len, *tgt_len;
    const double *const *step_inv; /* s2s_step: the values of INPUT_STEP_INV + j */
} InterpEnv;

typedef struct {
    double **val;   /* val[node id]: the node's value (NULL for SCAN) */
    size_t *numel;  /* numel[node id] */
} InterpResult;

/* Returns the values of every top-level node; NULL after printing an error
 * (bad sizes, overflow). */
InterpResult *interp_run(Arena *a, const Model *m, const InterpEnv *env);

/* rnnc SPEC --check DUMP: read the params and inputs a trainer's `dump`
 * wrote, run the interpreter on them and compare every output and gradient.
 * Returns an exit code (0 when everything agrees within tolerance). */
int check_dump(const Model *m, const char *dump_path, double rtol, double atol);

/* ---- the stages (one file each) ---- */
Model *lower(Arena *a, Spec *spec);          /* lower.c; NULL on error */
/* lower_head.c: the output layer and loss of the spec's task on top of the
 * top layer's output hs [T,B,width] (m->y is made by lower); sets m->pool,
 * m->logits, m->loss. False after an error. */
bool lower_head(Model *m, Node *hs, int width);
int model_add_param(Model *m, const char *name, Loc loc, Shape shape, InitKind init, double arg);
Model *lower_s2s(Arena *a, Spec *spec);      /* lower_s2s.c: task: seq2seq */
void autodiff(Arena *a, Model *m);           /* autodiff.c */
/* emit.c: write the C for m to f, with the decoding entries of d (seq2seq;
 * else NULL). Every graph has been through memplan_storage. */
void emit_c(FILE *f, const Model *m, const S2sDecode *d);
/* emit_ngram.c: the C of a `task: ngram` spec (no graph: it is counted). */
void emit_ngram_c(FILE *f, const Spec *spec);

#endif
