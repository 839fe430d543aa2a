/*
 * pass_memplan.c: the static memory plan (DESIGN.md pass 7). Buffers of
 * the workspace whose lifetimes do not overlap share storage.
 *
 * The buffers are the ones emit.c lays out (emit_has_buffer): top-level
 * values, each scan's carries, and the per-step temporaries of scan bodies.
 * The program order is the order the emitted code runs them: the forward
 * pass, then the backward pass, a scan's body nested between the scan's
 * first point (carries set, sums cleared) and its last (the final values
 * copied out). Point 0 is the forward prologue (which fills carry_scale).
 *
 * A buffer is live from its first write to its last read, inclusive:
 *  - a value read by a scan (sequence, loop-invariant or initial carry) is
 *    read on every step, so until the scan's last point; a body value the
 *    scan copies out at the end of a step (a carry's next value, a sum) is
 *    read at that last point too;
 *  - a scan's outputs and carries are written from its first point on and
 *    live at least until its last one;
 *  - a fused loop's outputs are written where the loop runs, so they never
 *    share with its inputs (the loop's restrict pointers stay honest);
 *  - reads through an alias (grad_scale, a slice read in place, a final
 *    state read from its carry, a body value stacked in place) are reads of
 *    the buffer behind it;
 *  - the loss and the final states are copied out at the end of the
 *    forward pass (a point of its own); what the runtime reads through
 *    pointers (logits, attention) and what backward's epilogue reads (state
 *    and parameter gradients) lives to the end.
 * Per-step temporaries of one body may share with each other: no step
 * reads another step's temporaries (carries have buffers of their own).
 *
 * Packing: the buffers, largest first (sizes evaluated at the spec's batch
 * and steps, with a nominal vocabulary: only the order depends on it, and
 * through it how well the plan packs, never whether it is right), each
 * go to the first slot none of whose members it overlaps, else to a new
 * slot. A slot is as large as its largest member for the run-time (B, T, V),
 * so the plan is right for every size. Ties break on the start and then the
 * layout order, so the plan is deterministic.
 */
#include "passes.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The nominal vocabulary (characters, words) and label count of the
 * packing order and the dump. The order matters: a plan made for V = 64
 * left the seq2seq workspaces 20% larger at V = 2000 than one made for it. */
enum { MEMPLAN_V_CHAR = 64, MEMPLAN_V_WORD = 2048, MEMPLAN_L = 8 };

static int nominal_v(const Model *m)
{
    return m->spec->task == TASK_SEQ2SEQ || m->spec->tokens == TOK_WORD ? MEMPLAN_V_WORD : MEMPLAN_V_CHAR;
}

typedef struct {
    const Model *m;
    MemPlan *p;
    int npoints;
    int fwd_end;   /* the forward pass's epilogue (loss and final states copied out) */
    int *scan_end; /* by the scan's first point: its last point */
    int *own;      /* by a node's point: its buffer, or -1 */
    int *carry;    /* by a carry ARG's point: its carry buffer, or -1 */
} Plan;

/* ---- program points (kept in Node.aux while the pass runs) ---- */

/* Numbers every node in program order; a scan's body sits between the
 * scan's first point (its node) and its last (recorded in scan_end once
 * that array exists: the first call only counts). */
static void number(Plan *P, Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        n->aux = ++P->npoints;
        if (n->op == OP_SCAN) {
            number(P, n->scan->body);
            ++P->npoints;
            if (P->scan_end)
                P->scan_end[n->aux] = P->npoints;
        }
        if (g == P->m->g && i == P->m->nforward - 1)
            P->fwd_end = ++P->npoints; /* forward's epilogue */
    }
}

/* ---- the buffers, in emit.c's layout order ---- */

static void add(Plan *P, const Node *n, bool carry, Shape shape, int *cap)
{
    MemPlan *p = P->p;
    p->buf = arena_grow(&perm, p->buf, cap, p->nbuf + 1, sizeof(MemBuf));
    p->buf[p->nbuf] = (MemBuf){.node = n, .carry = carry, .shape = shape, .start = INT_MAX, .end = -1};
    (carry ? P->carry : P->own)[n->aux] = p->nbuf++;
}

static void collect(Plan *P, const Graph *g, int *cap)
{
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_SCAN) {
            for (int k = 0; k < n->scan->nin; k++)
                if (n->scan->in[k].kind == SCAN_CARRY)
                    add(P, n->scan->in[k].arg, true, n->scan->in[k].arg->shape, cap);
            collect(P, n->scan->body, cap);
            continue;
        }
        if (emit_has_buffer(P->m, n))
            add(P, n, false, n->shape, cap);
    }
}

/* ---- live ranges ---- */

static void touch(Plan *P, int b, int at)
{
    if (b < 0)
        return;
    MemBuf *mb = &P->p->buf[b];
    mb->start = at < mb->start ? at : mb->start;
    mb->end = at > mb->end ? at : mb->end;
}

/* The scan node whose body is g (NULL for the top level). */
static const Node *scan_of(const Graph *g)
{
    for (int i = 0; g->parent && i < g->parent->n; i++)
        if (g->parent->nodes[i]->op == OP_SCAN && g->parent->nodes[i]->scan->body == g)
            return g->parent->nodes[i];
    return NULL;
}

/* The buffer behind node x, or -1 when it has none in the workspace. */
static int owner(Plan *P, const Node *x)
{
    for (;;) {
        const Node *v = x->op == OP_GRAD_SCALE ? x->in[0] : emit_in_place(P->m, x);
        if (v) {
            x = v;
            continue;
        }
        if (x->op == OP_SCAN_OUT && x->in[0]->scan->out[x->index].kind == SCAN_FINAL) {
            const Scan *s = x->in[0]->scan;
            return P->carry[s->in[s->out[x->index].carry].arg->aux];
        }
        const Node *scan = x->op == OP_ARG ? scan_of(x->graph) : NULL;
        if (scan && scan->scan->in[x->index].kind == SCAN_CARRY)
            return P->carry[x->aux];
        if (scan) { /* the outer value (the scan reads it to its last point) */
            x = scan->in[x->index];
            continue;
        }
        return P->own[x->aux];
    }
}

static void live(Plan *P, const Graph *g);

static void live_scan(Plan *P, const Node *sn)
{
    const Scan *s = sn->scan;
    int first = sn->aux, last = P->scan_end[sn->aux];
    for (int k = 0; k < s->nin; k++) {
        /* read on every step (or copied into the carry at the first) */
        touch(P, owner(P, sn->in[k]), last);
        if (s->in[k].kind == SCAN_CARRY) {
            int c = P->carry[s->in[k].arg->aux];
            touch(P, c, first);
            touch(P, c, last);
            touch(P, owner(P, s->in[k].carry_out), last);
        }
    }
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].kind != SCAN_FINAL)
            touch(P, owner(P, s->out[o].node), last);
    live(P, s->body);
}

static void live(Plan *P, const Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_SCAN) {
            live_scan(P, n);
            continue;
        }
        int b = P->own[n->aux];
        if (n->op == OP_SCAN_OUT) { /* written by the scan's steps */
            touch(P, b, n->in[0]->aux);
            touch(P, b, P->scan_end[n->in[0]->aux]);
            continue;
        }
        if (n->op == OP_FUSED_OUT) { /* written where the loop runs */
            touch(P, b, n->in[0]->aux);
            continue;
        }
        touch(P, b, n->aux);
        for (int k = 0; k < n->nin; k++)
            touch(P, owner(P, n->in[k]), n->aux);
    }
}

/* What forward and backward hand the runtime (read after they return or
 * copied out in their epilogues), and what the forward prologue writes. */
static void outputs(Plan *P)
{
    const Model *m = P->m;
    int end = P->p->end;
    /* the runtime holds pointers to these */
    if (m->logits)
        touch(P, owner(P, m->logits), end);
    if (m->attention)
        touch(P, owner(P, m->attention), end);
    /* copied out when forward returns */
    if (m->loss)
        touch(P, owner(P, m->loss), P->fwd_end);
    for (int k = 0; k < m->nstates; k++) {
        touch(P, owner(P, m->state_out[k]), P->fwd_end);
        if (m->dstate[k])
            touch(P, owner(P, m->dstate[k]), end);
    }
    for (int i = 0; m->grads && i < m->nparams; i++)
        if (m->grads[i])
            touch(P, owner(P, m->grads[i]), end);
    if (m->carry_scale)
        touch(P, P->own[m->carry_scale->aux], 0);
}

/* ---- packing ---- */

/* Reals of shape s at the spec's batch and steps and a nominal vocabulary
 * and label count (for the order of the packing and the dump only). */
static double nominal(const Model *m, Shape s)
{
    double n = 1;
    for (int i = 0; i < s.ndim; i++)
        n *= s.d[i] > 0         ? s.d[i]
             : s.d[i] == DIM_B ? m->spec->batch
             : s.d[i] == DIM_T ? m->spec->steps
             : s.d[i] == DIM_L ? MEMPLAN_L
                                : nominal_v(m);
    return n;
}

/* A buffer's sort key, computed before the sort so the comparison needs
 * no state outside its arguments. */
typedef struct {
    double size;
    int start, index;
} SortKey;

/* largest first; then the earlier start; then the layout order */
static int by_size(const void *pa, const void *pb)
{
    const SortKey *x = pa, *y = pb;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static bool overlap(const MemBuf *x, const MemBuf *y) { return x->start <= y->end && y->start <= x->end; }

static void pack(const Model *m, MemPlan *p)
{
    SortKey *key = arena_array(&perm, (size_t)p->nbuf + 1, sizeof(SortKey));
    for (int i = 0; i < p->nbuf; i++)
        key[i] = (SortKey){nominal(m, p->buf[i].shape), p->buf[i].start, i};
    qsort(key, (size_t)p->nbuf, sizeof *key, by_size);
    int *order = arena_array(&perm, (size_t)p->nbuf + 1, sizeof(int));
    for (int i = 0; i < p->nbuf; i++)
        order[i] = key[i].index;
    p->nslots = 0;
    for (int i = 0; i < p->nbuf; i++) {
        MemBuf *b = &p->buf[order[i]];
        b->slot = -1;
        for (int s = 0; s < p->nslots && b->slot < 0; s++) {
            bool free = true;
            for (int j = 0; j < i && free; j++)
                free = p->buf[order[j]].slot != s || !overlap(&p->buf[order[j]], b);
            if (free)
                b->slot = s;
        }
        if (b->slot < 0)
            b->slot = p->nslots++;
    }
}

void pass_memplan(Model *m)
{
    Plan P = {.m = m, .p = arena_alloc(&perm, sizeof(MemPlan))};
    number(&P, m->g);
    int points = P.npoints + 2;
    P.scan_end = arena_array(&perm, (size_t)points, sizeof(int));
    P.own = arena_array(&perm, (size_t)points, sizeof(int));
    P.carry = arena_array(&perm, (size_t)points, sizeof(int));
    for (int i = 0; i < points; i++)
        P.own[i] = P.carry[i] = -1;
    P.npoints = 0;
    number(&P, m->g);
    P.p->end = P.npoints + 1;
    int cap = 0;
    collect(&P, m->g, &cap);
    live(&P, m->g);
    outputs(&P);
    for (int i = 0; i < P.p->nbuf; i++)
        if (P.p->buf[i].end < 0) /* never touched: keep it to itself */
            P.p->buf[i].start = 0, P.p->buf[i].end = P.p->end;
    pack(m, P.p);
    m->memplan = P.p;
}

/* ---- the dump (rnnc -d memplan) ---- */

static const char *buf_name(const MemBuf *b)
{
    const Node *n = b->node;
    const char *base = n->name ? n->name : op_name(n->op);
    const Node *scan = scan_of(n->graph);
    const char *where = scan ? arena_printf(&perm, " in scan %%%d", scan->id) : "";
    return arena_printf(&perm, "%s%s %%%d%s", base, b->carry ? "_carry" : "", n->id, where);
}

void memplan_dump(FILE *f, const Model *m)
{
    const MemPlan *p = m->memplan;
    if (!p)
        return;
    double before = 0, after = 0, *size = arena_array(&perm, (size_t)p->nslots + 1, sizeof(double));
    for (int i = 0; i < p->nbuf; i++) {
        double n = nominal(m, p->buf[i].shape);
        before += n;
        size[p->buf[i].slot] = n > size[p->buf[i].slot] ? n : size[p->buf[i].slot];
    }
    for (int s = 0; s < p->nslots; s++)
        after += size[s];
    fprintf(f, "memplan: %d buffers in %d slots; program points 0 .. %d (0: forward prologue, %d: after the step)\n",
            p->nbuf, p->nslots, p->end, p->end);
    fprintf(f, "memplan: reals at B=%d T=%d V=Vt=%d L=%d: %.0f before, %.0f after (%.1f%%)\n", m->spec->batch,
            m->spec->steps, nominal_v(m), MEMPLAN_L, before, after, before > 0 ? 100.0 * after / before : 100.0);
    double off = 0;
    char sb[64];
    for (int s = 0; s < p->nslots; s++) {
        fprintf(f, "slot %d offset %.0f size %.0f\n", s, off, size[s]);
        for (int i = 0; i < p->nbuf; i++)
            if (p->buf[i].slot == s)
                fprintf(f, "  %-36s %-14s live %d .. %d\n", buf_name(&p->buf[i]),
                        shape_str(p->buf[i].shape, sb, sizeof sb), p->buf[i].start, p->buf[i].end);
        off += size[s];
    }
}
