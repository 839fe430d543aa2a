/*
 * pass_memplan.c: the static memory plan (DESIGN.md pass 7). Buffers of
 * the workspace whose lifetimes do not overlap share storage.
 *
 * Storage first (memplan_storage, which the driver also runs when this
 * pass does not): where the emitted code keeps each value (Node.storage):
 * a buffer of its own, in place (a body value in its stacked output, a
 * slice read through its source's rows), straight in the gradient block,
 * or nowhere (parameters, inputs, aliases, zeros that only clear carries).
 * The buffers planned are the ones emit.c then lays out: STORE_BUFFER
 * values and each scan's carries.
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
 *    pointers (logits, attention, a decoding graph's roots) and what
 *    backward's epilogue reads (state and parameter gradients) lives to
 *    the end.
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
    return m->spec->task == TASK_SEQ2SEQ || m->spec->tokens != TOK_CHAR ? MEMPLAN_V_WORD : MEMPLAN_V_CHAR;
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

/* ---- storage: where each value lives (Node.storage) ---- */

/* How often top-level node n is read: by nodes, scans and the model. */
static int top_uses(const Model *m, const Node *n, bool *only_carry_init)
{
    int uses = 0;
    *only_carry_init = true;
    for (int i = n->id + 1; i < m->g->n; i++) {
        const Node *u = m->g->nodes[i];
        for (int k = 0; k < u->nin; k++)
            if (u->in[k] == n) {
                uses++;
                if (u->op != OP_SCAN || u->scan->in[k].kind != SCAN_CARRY)
                    *only_carry_init = false;
            }
    }
    if (m->loss == n || m->logits == n)
        uses++, *only_carry_init = false;
    for (int k = 0; k < m->nstates; k++)
        if (m->state_out[k] == n || m->dstate[k] == n)
            uses++, *only_carry_init = false;
    for (int i = 0; m->grads && i < m->nparams; i++)
        if (m->grads[i] == n)
            uses++, *only_carry_init = false;
    for (int i = 0; i < m->nroots; i++)
        if (m->roots[i] == n)
            uses++, *only_carry_init = false;
    return uses;
}

/* A weight gradient A^T @ B that nothing else reads: its GEMM adds into
 * the gradient block (beta = 1) instead of a temporary that is added
 * afterwards. */
static bool direct_grad(const Model *m, const Node *n)
{
    if (n->op != OP_MATMUL || !n->ta || n->graph != m->g)
        return false;
    int p = -1;
    for (int i = 0; m->grads && i < m->nparams; i++)
        if (m->grads[i] == n)
            p = p < 0 ? i : -2;
    bool ci;
    return p >= 0 && top_uses(m, n, &ci) == 1;
}

/* A ZEROS node read only as the initial value of scan carries: the carries
 * are cleared with memset and the node needs no buffer. */
static bool zeros_only_init(const Model *m, const Node *n)
{
    bool ci;
    return n->op == OP_ZEROS && n->graph == m->g && top_uses(m, n, &ci) > 0 && ci;
}

/* A slice that only fused loops read is not copied: each loop reads its
 * columns in place, row r at src + offset + r * ld with ld the source's
 * last dim, as BLAS reads a matrix through its leading dimension. (The
 * gates of a fused GEMM, pass_gemmfuse.c, are such slices.) */
static bool slice_view(const Node *n)
{
    if (n->op != OP_SLICE || !n->graph->parent || n->shape.ndim < 2 || n->in[0]->op == OP_SLICE)
        return false;
    const Graph *g = n->graph;
    int users = 0;
    for (int i = n->id + 1; i < g->n; i++) {
        const Node *u = g->nodes[i];
        for (int k = 0; k < u->nin; k++) {
            if (u->in[k] != n)
                continue;
            if (u->op != OP_FUSED || !shape_eq(u->scan->out[0].node->shape, n->shape))
                return false;
            users++;
        }
    }
    for (int i = 0; i < g->parent->n; i++) {
        const Node *sn = g->parent->nodes[i];
        if (sn->op != OP_SCAN || sn->scan->body != g)
            continue;
        for (int o = 0; o < sn->scan->nout; o++)
            if (sn->scan->out[o].node == n)
                return false;
        for (int k = 0; k < sn->scan->nin; k++)
            if (sn->scan->in[k].carry_out == n)
                return false;
    }
    return users > 0;
}

static Storage storage_of(const Model *m, const Node *n)
{
    if (n->op == OP_INPUT && n->index == INPUT_CARRY_SCALE)
        return STORE_BUFFER; /* ones when the caller passes NULL */
    if (direct_grad(m, n))
        return STORE_GRAD;
    if (zeros_only_init(m, n))
        return STORE_ZEROS;
    if (slice_view(n))
        return STORE_VIEW;
    switch (n->op) {
    case OP_PARAM:
    case OP_INPUT:
    case OP_ARG:
    case OP_CONST:
    case OP_GRAD_SCALE:
    case OP_SCAN:
    case OP_FUSED:
        return STORE_NONE;
    case OP_SCAN_OUT:
        if (n->in[0]->scan->out[n->index].kind == SCAN_FINAL)
            return STORE_NONE; /* read from the carry buffer */
        break;
    default:
        if (n->dtype != DT_REAL)
            return STORE_NONE;
        break;
    }
    const Node *scan = scan_of_body(n->graph);
    return scan && scan_stack_output(scan, n) ? STORE_STACKED : STORE_BUFFER;
}

static void storage_graph(const Model *m, Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        n->storage = storage_of(m, n);
        if (n->op == OP_SCAN || n->op == OP_FUSED)
            storage_graph(m, n->scan->body);
    }
}

void memplan_storage(Model *m)
{
    storage_graph(m, m->g);
    m->stored = true;
}

/* The node whose buffer n is read and written through, or NULL. */
static const Node *in_place(const Node *n)
{
    if (n->storage == STORE_VIEW)
        return n->in[0];
    if (n->storage == STORE_STACKED)
        return scan_stack_output(scan_of_body(n->graph), n);
    return NULL;
}

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
        if (n->storage == STORE_BUFFER)
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

/* The buffer behind node x, or -1 when it has none in the workspace. */
static int owner(Plan *P, const Node *x)
{
    for (;;) {
        const Node *v = x->op == OP_GRAD_SCALE ? x->in[0] : in_place(x);
        if (v) {
            x = v;
            continue;
        }
        if (x->op == OP_SCAN_OUT && x->in[0]->scan->out[x->index].kind == SCAN_FINAL) {
            const Scan *s = x->in[0]->scan;
            return P->carry[s->in[s->out[x->index].carry].arg->aux];
        }
        const Node *scan = x->op == OP_ARG ? scan_of_body(x->graph) : NULL;
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
        if (m->state_out[k])
            touch(P, owner(P, m->state_out[k]), P->fwd_end);
        if (m->dstate[k])
            touch(P, owner(P, m->dstate[k]), end);
    }
    /* a decoding graph's outputs: read after it returns */
    for (int i = 0; i < m->nroots; i++)
        touch(P, owner(P, m->roots[i]), end);
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
    memplan_storage(m);
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
    const Node *scan = scan_of_body(n->graph);
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
