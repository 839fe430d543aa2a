/*
 * lower_cell.c: what every lowering of a cell shares (lower.c for the
 * language model, tagger and classifier stacks, lower_s2s.c for the seq2seq
 * encoder and decoder): a parameter's shape, a cell's equations lowered in
 * order into a scan body, its states' values and graph inputs, the padding
 * mask on carried states, and the end of a lowering.
 *
 * Names in an equation resolve, in order, to: an equation defined earlier
 * in the cell, a state (its previous value until the equation that defines
 * it), the cell's input, a parameter (the Scope the caller filled). Errors
 * are reported at the spec position they come from.
 */
#include "lower.h"

#include <math.h>
#include <string.h>

/* A param dim: a number, `input` (the width the cell reads) or `hidden`.
 * In a language model's stack `input` is the network input's width for
 * the first layer and the width of the layer below above it (hidden, or
 * 2 x hidden when bidirectional). */
Shape lower_param_shape(const SpecParam *sp, int input, int hidden)
{
    Shape sh = shape0();
    sh.ndim = sp->ndim;
    for (int k = 0; k < sp->ndim; k++) {
        const SpecDim *d = &sp->dims[k];
        if (!d->sym)
            sh.d[k] = (int)d->value;
        else if (strcmp(d->sym, "hidden") == 0)
            sh.d[k] = hidden;
        else if (strcmp(d->sym, "input") == 0)
            sh.d[k] = input;
        else
            DIE("lower_param_shape: unknown symbol '%s' passed spec checks", d->sym);
    }
    return sh;
}

/* BLAS takes int sizes: every concrete param must fit. */
bool lower_check_param_size(const Param *p, const char *name)
{
    long long n = 1;
    for (int i = 0; i < p->shape.ndim; i++)
        if (p->shape.d[i] > 0)
            n *= p->shape.d[i];
    if (n > 0x7fffffff) {
        diag_error(p->loc, "parameter '%s' has %lld elements, more than the 2147483647 BLAS can index", name, n);
        return false;
    }
    return true;
}

/* ---- the cell body ---- */

/* Index of the state called name in c, or -1. */
int cell_state_index(const SpecCell *c, const char *name)
{
    for (int k = 0; k < c->nstate; k++)
        if (strcmp(c->state[k], name) == 0)
            return k;
    return -1;
}

bool lower_cell_equations(Scope *E, const SpecCell *c, int mark, bool *set)
{
    for (int i = 0; i < c->neqs; i++) {
        const SpecEq *eq = &c->eqs[i];
        Binding *prev = scope_lookup(E, eq->lhs);
        int state = cell_state_index(c, eq->lhs);
        if (prev && E->b + mark <= prev && (state < 0 || set[state])) {
            diag_error(eq->loc, "'%s' is already defined", eq->lhs);
            diag_note(prev->decl, "'%s' was defined here", eq->lhs);
            return false;
        }
        Node *n = lower_eq(E, eq);
        if (!n)
            return false;
        scope_bind(E, eq->lhs, n, eq->loc, NULL)->state = state;
        if (state >= 0)
            set[state] = true;
    }
    return true;
}

Node *lower_state_value(Scope *E, const Spec *spec, const SpecCell *c, int k, const bool *set)
{
    if (!set[k]) {
        diag_error(c->state_locs[k], "state '%s' is never updated by the cell's equations", c->state[k]);
        return NULL;
    }
    Binding *b = scope_lookup(E, c->state[k]);
    Shape want = shape2(DIM_B, spec->hidden);
    if (!shape_eq(b->node->shape, want)) {
        char s1[64], s2[64];
        diag_error(b->decl, "state '%s' must have shape %s (batch x hidden), but its equation gives %s",
                   c->state[k], shape_str(want, s1, sizeof s1), shape_str(b->node->shape, s2, sizeof s2));
        return NULL;
    }
    return b->node;
}

void lower_state_inputs(Model *m, const SpecCell *c, const char *suffix)
{
    int s0 = m->nstates, hidden = m->spec->hidden;
    for (int k = 0; k < c->nstate; k++) {
        Node *s = graph_leaf(m->g, OP_INPUT, c->state_locs[k], shape2(DIM_B, hidden), DT_REAL, INPUT_STATE + s0 + k);
        s->name = arena_printf(&perm, "%s0%s", c->state[k], suffix);
        m->state_in[s0 + k] = s;
        m->state_size += hidden;
    }
    m->nstates += c->nstate;
}

/* ---- padding ---- */

/* Padding must not move a state: with the valid-step mask m [T,B] (1 on a
 * row's valid steps, 0 on its padding) every carried state becomes
 *
 *   s = s_prev + m[t] * (s_new - s_prev)       (row_scale: m[t] per row)
 *
 * so a padding step keeps the state it got. A forward scan's states on the
 * valid steps never see padding anyway, and its final state is the one at
 * the last valid step; a reverse scan, which starts at t = T-1 inside the
 * padding, carries its initial state through it and starts the valid part
 * from that, so no valid-step state of either direction depends on how
 * much padding a row has (what PyTorch gets from packed sequences).
 * s_prev here is the carried value itself, not its grad_scale: a padding
 * step is no step of the row, so carry_scale does not touch the gradient
 * that passes through it (and on a valid step the two s_prev terms cancel
 * exactly, leaving the cell's own gradient path). The classifier's layers
 * and the seq2seq encoder's (lower_s2s.c) both mask this way. */
void lower_mask_states(Node *scan, const int *carry_in, const SpecCell *c, Node *mask, const char *suffix)
{
    Graph *body = scan->scan->body;
    Node *m_t = scan_add_input(scan, SCAN_SEQ, mask);
    m_t->name = arena_printf(&perm, "valid%s", suffix);
    for (int k = 0; k < c->nstate; k++) {
        ScanIn *in = &scan->scan->in[carry_in[k]];
        Node *prev = in->arg, *next = in->carry_out;
        Node *step = graph_add2(body, OP_SUB, c->state_locs[k], next, prev);
        Node *kept = graph_add2(body, OP_ROW_SCALE, c->state_locs[k], step, m_t);
        Node *s = graph_add2(body, OP_ADD, c->state_locs[k], prev, kept);
        /* the masked value takes the state's name, the cell's becomes _new */
        const char *sname = arena_printf(&perm, "%s%s", c->state[k], suffix);
        if (next->name && strcmp(next->name, sname) == 0)
            next->name = arena_printf(&perm, "%s_new%s", c->state[k], suffix);
        step->name = arena_printf(&perm, "%s_step%s", c->state[k], suffix);
        kept->name = arena_printf(&perm, "%s_kept%s", c->state[k], suffix);
        s->name = sname;
        scan_set_carry_out(scan, carry_in[k], s);
    }
}

/* The forward graph of m is complete: give the parameters without an init
 * of their own the default one, U(-1/sqrt(hidden), 1/sqrt(hidden)),
 * PyTorch's for RNN cells and for a Linear layer with hidden inputs. NULL
 * if errors were reported since there were errors0. */
Model *lower_finish(Model *m, int errors0)
{
    m->nforward = m->g->n;
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].init == INIT_DEFAULT) {
            m->params[i].init = INIT_UNIFORM;
            m->params[i].init_arg = 1.0 / sqrt((double)m->spec->hidden);
        }
    if (diag_error_count() > errors0)
        return NULL;
    graph_verify(m->g);
    return m;
}
