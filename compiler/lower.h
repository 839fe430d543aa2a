/*
 * lower.h: what lower.c and lower_s2s.c share: the names an equation can
 * read (a Scope), the lowering of one expression (lower_expr.c) and the
 * lowering of a cell (lower_cell.c). Both lowerings call these and never
 * each other's functions (tests/layering.cmake checks).
 */
#ifndef RNNC_LOWER_H
#define RNNC_LOWER_H

#include "graph.h"

/* A name an equation can read. */
typedef struct {
    const char *name;
    Node *node;       /* its value: a scan body node or an outer one */
    Loc decl;         /* where the name was declared */
    const char *what; /* for notes ("the attention context"), or NULL */
    int param;        /* index in m->params, or -1 */
    int state;        /* index of the cell's state, or -1 */
    bool used;
} Binding;

/* An outer value already brought into the scan as a SCAN_INV input. */
typedef struct {
    Node *outer, *arg;
} InvArg;

/* Where expressions are lowered. With a scan (body != NULL) an op whose
 * operands are all outer values is built in the outer graph, once, and
 * enters the scan as a SCAN_INV input where a body op reads it; without
 * one, everything goes to g. */
typedef struct {
    Graph *g;       /* the outer graph */
    Node *scan;     /* the scan being built, or NULL */
    Graph *body;    /* its body, or NULL */
    Binding *b;     /* later bindings hide earlier ones of the same name */
    int nb, capb;
    InvArg *inv;    /* this scan's, reset by scope_begin_scan */
    int ninv, capinv;
    const char *eq;     /* the equation being lowered, for node names */
    const char *suffix; /* appended to C-visible names */
    bool sum;           /* sum() is allowed here (an attention score) */
} Scope;

Binding *scope_lookup(Scope *S, const char *name);
Binding *scope_bind(Scope *S, const char *name, Node *node, Loc decl, const char *what);
void scope_begin_scan(Scope *S, Node *scan);
/* The value of n inside the scan body (a cached SCAN_INV input for an
 * outer node, a copy for a constant). */
Node *scope_to_body(Scope *S, Node *n);
/* Lower e; NULL after an error (reported). */
Node *lower_expr(Scope *S, const Expr *e);
/* Lower an equation's right-hand side: the ops it makes are named
 * lhs_op<suffix>, its result lhs<suffix> (a plain alias keeps its name). */
Node *lower_eq(Scope *S, const SpecEq *eq);

/* lower_cell.c: the cell's equations in order, each bound under its name; a
 * name bound at E->b[mark] or later (this cell's) may not be defined
 * again, except a state once. set[k] says state k got its equation. */
bool lower_cell_equations(Scope *E, const SpecCell *c, int mark, bool *set);
/* lower_cell.c: state k's value after the equations, or NULL after an error
 * (never set, or not [B, hidden]). */
Node *lower_state_value(Scope *E, const Spec *spec, const SpecCell *c, int k, const bool *set);
/* lower_cell.c: the graph inputs of c's states [B, hidden], after the model's
 * earlier states (m->state_in[m->nstates ...]), named state0<suffix>. */
void lower_state_inputs(Model *m, const SpecCell *c, const char *suffix);
/* lower_cell.c: a cell parameter's shape, `input` and `hidden` resolved. */
Shape lower_param_shape(const SpecParam *sp, int input, int hidden);
/* lower_cell.c: false after an error if p has more elements than BLAS can
 * index (reported under name). */
bool lower_check_param_size(const Param *p, const char *name);
int cell_state_index(const SpecCell *c, const char *name); /* lower_cell.c: or -1 */

/* lower_cell.c: make each carried state of scan keep its value on the steps
 * where mask [T,B] is 0 (padding); carry_in[k] is state k's scan input. */
void lower_mask_states(Node *scan, const int *carry_in, const SpecCell *c, Node *mask, const char *suffix);

/* lower_cell.c: the end of a lowering (default inits, m->nforward); m, or NULL
 * if errors were reported since there were errors0. */
Model *lower_finish(Model *m, int errors0);

#endif
