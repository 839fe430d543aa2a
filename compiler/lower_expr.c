/*
 * lower_expr.c: one expression of a spec -> graph nodes, for lower.c (the
 * cells of a language model, tagger or classifier) and lower_s2s.c (the
 * encoder, decoder and attention score of a seq2seq model).
 *
 * Every op is built where its operands live: in the scan body when one of
 * them is a body value, else in the outer graph. A language model's cell
 * binds only body values (its parameters enter the scan as SCAN_INV
 * arguments up front), so all of its ops land in the body; a seq2seq model
 * binds its parameters and the encoder's keys as outer values, so a
 * subexpression that reads only those (the additive score's k @ W_k) is
 * computed once before the scan instead of at every step, and autodiff
 * gets one weight gradient for it instead of one per step.
 */
#include "lower.h"

#include <string.h>

/* sum is last: it is only offered where S->sum allows it. */
static const char *const functions[] = {"sigmoid", "tanh", "relu", "exp", "sum"};
static const Op function_ops[] = {OP_SIGMOID, OP_TANH, OP_RELU, OP_EXP, OP_SUM_LAST};
enum { NFUNCTIONS = 5, SUM = 4 };

Binding *scope_lookup(Scope *S, const char *name)
{
    for (int i = S->nb - 1; i >= 0; i--)
        if (strcmp(S->b[i].name, name) == 0)
            return &S->b[i];
    return NULL;
}

Binding *scope_bind(Scope *S, const char *name, Node *node, Loc decl, const char *what)
{
    S->b = arena_grow(&perm, S->b, &S->capb, S->nb + 1, sizeof(Binding));
    Binding *b = &S->b[S->nb++];
    *b = (Binding){name, node, decl, what, -1, -1, false};
    return b;
}

void scope_begin_scan(Scope *S, Node *scan)
{
    S->scan = scan;
    S->body = scan->scan->body;
    S->ninv = 0;
}

/* ---- where values live ---- */

static bool in_body(const Scope *S, const Node *n) { return S->body && n->graph == S->body; }

Node *scope_to_body(Scope *S, Node *n)
{
    if (in_body(S, n))
        return n;
    if (n->op == OP_CONST)
        return graph_const(S->body, n->loc, n->value);
    for (int i = 0; i < S->ninv; i++)
        if (S->inv[i].outer == n)
            return S->inv[i].arg;
    Node *arg = scan_add_input(S->scan, SCAN_INV, n);
    S->inv = arena_grow(&perm, S->inv, &S->capinv, S->ninv + 1, sizeof(InvArg));
    S->inv[S->ninv++] = (InvArg){n, arg};
    return arg;
}

/* The graph an op over `in` belongs in: the outer one when no operand is
 * a body value; constants go wherever the other operands are. */
static Graph *home(Scope *S, Node **in, int nin)
{
    bool body = false, outer = false;
    for (int i = 0; i < nin; i++)
        if (in[i]->op != OP_CONST)
            *(in_body(S, in[i]) ? &body : &outer) = true;
    return body || (!outer && S->body && in_body(S, in[0])) ? S->body : S->g;
}

static Node *add_op(Scope *S, Op op, Loc loc, Node **in, int nin)
{
    Graph *g = home(S, in, nin);
    for (int i = 0; i < nin; i++)
        if (g == S->body)
            in[i] = scope_to_body(S, in[i]);
        else if (in[i]->graph != g) /* a constant made in the body, next to outer values */
            in[i] = graph_const(g, in[i]->loc, in[i]->value);
    Node *n = op == OP_MATMUL ? graph_matmul(g, loc, in[0], in[1], false, false) : graph_add(g, op, loc, in, nin);
    if (n && S->eq && !n->name)
        n->name = arena_printf(&perm, "%s_%s%s", S->eq, op_name(op), S->suffix);
    return n;
}

/* ---- expressions ---- */

/* Note where each operand of a failed op came from. */
static void note_operand(Scope *S, const Expr *e, const Node *n)
{
    char sb[64];
    if (e->kind != EX_NAME)
        return;
    Binding *b = scope_lookup(S, e->name);
    if (b && b->what)
        diag_note(b->decl, "'%s' is %s, %s", e->name, b->what, shape_str(n->shape, sb, sizeof sb));
    else if (b)
        diag_note(b->decl, "'%s' has shape %s", e->name, shape_str(n->shape, sb, sizeof sb));
}

/* sum() reduces a score's [T,B,n] to [T,B]; a cell's values are [B,n],
 * which it would turn into [B], a shape no state can take. */
static Node *lower_call(Scope *S, const Expr *e)
{
    int nfunctions = S->sum ? NFUNCTIONS : SUM;
    if (!S->sum && strcmp(e->name, functions[SUM]) == 0) {
        diag_error(e->loc, "sum() (over the last axis) is only available in an attention score; a cell's values "
                   "are [B,n], and a state needs all n of them");
        return NULL;
    }
    for (int i = 0; i < nfunctions; i++)
        if (strcmp(e->name, functions[i]) == 0) {
            Node *a = lower_expr(S, e->lhs);
            if (!a)
                return NULL;
            if (function_ops[i] == OP_SUM_LAST && a->shape.ndim == 0) {
                diag_error(e->loc, "sum() needs a tensor (it sums over the last axis), found a scalar");
                return NULL;
            }
            return add_op(S, function_ops[i], e->loc, &a, 1);
        }
    const char *near = closest_word(e->name, functions, nfunctions);
    if (near)
        diag_error(e->loc, "unknown function '%s'; did you mean '%s'?", e->name, near);
    else
        diag_error(e->loc, "unknown function '%s' (known: sigmoid, tanh, relu, exp%s)", e->name,
                   S->sum ? ", sum" : "");
    return NULL;
}

static Node *lower_name(Scope *S, const Expr *e)
{
    Binding *b = scope_lookup(S, e->name);
    if (b) {
        b->used = true;
        return b->node;
    }
    const char **names = arena_array(&perm, (size_t)S->nb + 1, sizeof(char *));
    for (int i = 0; i < S->nb; i++)
        names[i] = S->b[i].name;
    const char *near = closest_word(e->name, names, S->nb);
    if (near)
        diag_error(e->loc, "undefined name '%s'; did you mean '%s'?", e->name, near);
    else
        diag_error(e->loc, "undefined name '%s' (not a parameter, state, input or earlier equation)", e->name);
    return NULL;
}

Node *lower_expr(Scope *S, const Expr *e)
{
    switch (e->kind) {
    case EX_NUM:
        return graph_const(S->body ? S->body : S->g, e->loc, e->num);
    case EX_NAME:
        return lower_name(S, e);
    case EX_CALL:
        return lower_call(S, e);
    case EX_NEG: {
        Node *a = lower_expr(S, e->lhs);
        return a ? add_op(S, OP_NEG, e->loc, &a, 1) : NULL;
    }
    case EX_BINOP: {
        Node *in[2];
        in[0] = lower_expr(S, e->lhs);
        in[1] = in[0] ? lower_expr(S, e->rhs) : NULL;
        if (!in[1])
            return NULL;
        Node *a = in[0], *b = in[1]; /* add_op may replace in[] by their body copies */
        Op op = e->op == '@' ? OP_MATMUL : e->op == '+' ? OP_ADD : e->op == '-' ? OP_SUB : OP_MUL;
        Node *n = add_op(S, op, e->loc, in, 2);
        if (!n) {
            note_operand(S, e->lhs, a);
            note_operand(S, e->rhs, b);
        }
        return n;
    }
    }
    DIE("lower_expr: bad expression kind %d", e->kind);
}

/* Made by this equation (after the marks): not a name it merely reads. */
static bool is_new(const Scope *S, const Node *n, int g0, int body0)
{
    return n->graph == S->g ? n->id >= g0 : in_body(S, n) && n->id >= body0;
}

Node *lower_eq(Scope *S, const SpecEq *eq)
{
    int g0 = S->g->n, body0 = S->body ? S->body->n : 0;
    S->eq = eq->lhs;
    Node *n = lower_expr(S, eq->rhs);
    S->eq = NULL;
    if (n && n->op != OP_CONST && is_new(S, n, g0, body0)) {
        n->name = *S->suffix ? arena_printf(&perm, "%s%s", eq->lhs, S->suffix) : eq->lhs;
        n->text = eq->text;
    }
    return n;
}
