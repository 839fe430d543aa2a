/*
 * passes.h: the optimization passes that run between autodiff and emit,
 * and the forward passes that run before autodiff (its backward of what
 * they made is then derived like any other).
 *
 * Each pass is one file (pass_<name>.c) with one entry point that rewrites
 * the model's graph in place and leaves it verified (graph_verify) and free
 * of dead nodes (pass_dce). Every pass keeps the values of the model's
 * outputs and gradients what they were (checked against the reference
 * interpreter by tests/unit/test_pass_<name>.c) and is derived from the
 * graph's dependencies, never from a cell's name.
 *
 * The order is the flat list in passes_run (passes.c's only job); the
 * driver runs it on every graph it emits (the training step and a seq2seq
 * model's decoding graphs), so -O0, --no-pass and -d reach them all.
 */
#ifndef RNNC_PASSES_H
#define RNNC_PASSES_H

#include "graph.h"

/* Before autodiff (passes_run_forward), on the forward graph only: autodiff
 * then derives the backward of what they made. */
void pass_gemmfuse(Model *m); /* pass_gemmfuse.c: GEMMs sharing a left operand as one, concatenated
                                 weights; optional (rnnc --pass gemmfuse) */

/* The passes, in the order passes_run applies them. */
void pass_wgrad(Model *m);  /* pass_wgrad.c: loop-invariant gradients as one GEMM after the scan */
void pass_hoist(Model *m);  /* pass_hoist.c: step-independent work out of the scan */
void pass_onehot(Model *m); /* pass_onehot.c: one-hot matmuls as row gather / scatter-add */
void pass_cse(Model *m);    /* pass_cse.c: identical nodes merged (first occurrence wins) */
void pass_fuse(Model *m);   /* pass_fuse.c: a step's elementwise chains as one loop */
void pass_dce(Model *m);    /* pass_dce.c: drop nodes, scan inputs and outputs nothing reads */
/* pass_dce.c: keep only roots[0..n) and what they read (the model's loss,
 * logits and states are not roots): a seq2seq model's encoder entry. */
void pass_dce_roots(Model *m, Node *const *roots, int n);
void pass_memplan(Model *m); /* pass_memplan.c: buffers whose lifetimes do not overlap share storage
                                (m->memplan; last: it plans the graph the emitter sees) */
/* pass_memplan.c: where the emitted code keeps each value of m's graphs
 * (Node.storage), on the final graph. pass_memplan runs it first; the
 * driver runs it on every graph it emits, whichever passes ran. */
void memplan_storage(Model *m);
/* The plan as text (rnnc -d memplan, after the graph); nothing without one. */
void memplan_dump(FILE *f, const Model *m);

/* rnnc --no-pass NAME: passes_run and passes_run_forward skip pass NAME
 * (not dce), so a pass can be measured against the code without it;
 * rnnc --pass NAME runs an optional pass (one that is off by default:
 * gemmfuse). -d NAME runs the pass it dumps after. The caller keeps the
 * choice (zero-initialized: the default passes); NULL means the defaults. */
enum { PASS_CHOICE_MAX = 16 };
typedef struct {
    const char *skipped[PASS_CHOICE_MAX], *enabled[PASS_CHOICE_MAX];
    int nskipped, nenabled;
} PassChoice;
void pass_skip(PassChoice *c, const char *name);
void pass_enable(PassChoice *c, const char *name);

/* Runs the forward passes (before autodiff) like passes_run. */
bool passes_run_forward(Model *m, const PassChoice *c, const char *stop_after);
/* Runs the passes in order on m, one of the graphs the driver emits, as c
 * chooses (NULL: the defaults). When stop_after names a pass, returns true
 * after it (the driver then prints every graph with passes_dump and stops). */
bool passes_run(Model *m, const PassChoice *c, const char *stop_after);
/* Is `name` a pass -d accepts? */
bool pass_known(const char *name);
/* "gemmfuse | dce | wgrad | ..." for messages. */
const char *pass_names(void);
/* model_dump plus the bodies of fused nodes. */
void passes_dump(FILE *f, const Model *m);

/* ---- helpers for passes (pass_util.c) ---- */
/* A node appended to g with its shape given (no shape rule runs): for the
 * ops passes introduce. */
Node *pass_node(Graph *g, Op op, Loc loc, Shape shape, DType dt, Node **in, int nin);
/* Every use of `old` in g (node inputs, scan carries and outputs of scans
 * in g and, for the top graph, the model's outputs) now reads `new`. */
void pass_replace_uses(Model *m, Graph *g, Node *old, Node *repl);
/* Moves the nodes g->nodes[n0 .. g->n) (made by a pass, in order) to just
 * before `before`, renumbering; keeps m->nforward pointing past the
 * forward pass. */
void pass_place_before(Model *m, Graph *g, int n0, Node *before);
/* Removes input k of a scan (its ARG must be unused), renumbering the rest. */
void pass_scan_remove_input(Node *scan, int k);

/* compile.c: the graphs rnnc passes, dumps and emits: the training step,
 * then a seq2seq model's decoding encoder and step (s2s_decode, d NULL for
 * the other tasks). main.c and compile_spec_text build and run them alike. */
typedef struct {
    Model *m[3];
    const char *role[3]; /* the dump's heading; NULL for the training step */
    int n;
} Graphs;
Graphs graphs(Model *m, const S2sDecode *d);
/* passes_run_forward / passes_run on every graph (each runs, even when one
 * stops); true when stop_after stopped them (the driver then dumps). */
bool graphs_passes_forward(const Graphs *G, const PassChoice *c, const char *stop_after);
bool graphs_passes(const Graphs *G, const PassChoice *c, const char *stop_after);
/* memplan_storage on every graph: what emit_c reads. */
void graphs_storage(const Graphs *G);

/* compile.c: spec text -> C on `out`, every stage as `rnnc SPEC -o OUT.c`
 * runs it (default passes). EXIT_OK, or EXIT_SPEC after printing
 * diagnostics. compile_reset() frees perm and the diagnostics' state so the
 * next compile starts from nothing. */
int compile_spec_text(FILE *out, const char *path, const char *text, size_t len);
void compile_reset(void);

#endif
