/*
 * pass_hoist.c: step-independent work moves out of the scan.
 *
 * A body value that does not depend on a carried state depends on t only
 * through the scan's sequence inputs, so it can be computed for all steps
 * at once before the scan, on the stacked [T,...] values:
 *
 *   x_t @ W  (W loop-invariant)   ->  one GEMM with T*B rows before the scan
 *   x_t @ W + b                   ->  one broadcast add over [T,B,n]
 *
 * Each body node is classified from its inputs: VAR (reads a carry,
 * directly or not), SEQ (reads a sequence input but no carry) or INV (only
 * loop invariants and constants). SEQ nodes whose op works row-wise
 * (matmul without ta, elementwise ops) get an outer twin over [T,...];
 * the body then reads the outermost twins that a VAR node, a scan output
 * or a carry still needs, through new sequence inputs. A stacked output of
 * a hoisted value is replaced by its twin outright. The values are the
 * same operations on the same numbers, so results are bit-identical.
 */
#include "passes.h"

enum { VAR, SEQ, INV };

typedef struct {
    Model *m;
    Node *scan;
    int *kind;     /* body node id -> VAR | SEQ | INV */
    Node **outer;  /* body node id -> its outer twin (SEQ, INV args) */
} Hoist;

static int classify(Hoist *H, Node *n)
{
    const Scan *s = H->scan->scan;
    if (n->op == OP_ARG)
        return s->in[n->index].kind == SCAN_CARRY ? VAR : s->in[n->index].kind == SCAN_SEQ ? SEQ : INV;
    if (n->op == OP_CONST)
        return INV;
    if (n->op == OP_ZEROS || n->nin == 0)
        return VAR; /* not worth hoisting; keep it where it is */
    int k = INV;
    for (int i = 0; i < n->nin; i++) {
        int ki = H->kind[n->in[i]->id];
        if (ki == VAR)
            return VAR;
        if (ki == SEQ)
            k = SEQ;
    }
    return k;
}

/* Each row of the result depends only on the same row of the inputs. */
static bool row_wise(const Node *n)
{
    return (n->op == OP_MATMUL && !n->ta) || op_is_elementwise(n->op);
}

/* The outer twin of body node n (all its inputs have twins), or NULL. */
static Node *twin(Hoist *H, Node *n)
{
    Graph *g = H->m->g;
    Node *in[3];
    for (int i = 0; i < n->nin; i++) {
        Node *a = n->in[i];
        if (!H->outer[a->id] && a->op == OP_CONST)
            H->outer[a->id] = graph_const(g, a->loc, a->value);
        if (!(in[i] = H->outer[a->id]))
            return NULL;
    }
    if (n->op == OP_MATMUL) {
        if (H->kind[n->in[0]->id] != SEQ || H->kind[n->in[1]->id] != INV)
            return NULL; /* the row dimension must be the stacked one */
        return graph_matmul(g, n->loc, in[0], in[1], false, n->tb);
    }
    for (int i = 0; i < n->nin; i++)
        if (H->kind[n->in[i]->id] == SEQ && !shape_eq(n->in[i]->shape, n->shape))
            return NULL; /* a broadcast per-step operand would not stack */
    return graph_add(g, n->op, n->loc, in, n->nin);
}

/* The outer copy of INV body node n: the same op on its inputs' twins. */
static Node *inv_twin(Hoist *H, Node *n)
{
    Node *in[8];
    if (n->nin > 8 || n->op == OP_SCAN || n->op == OP_FUSED)
        return NULL;
    for (int i = 0; i < n->nin; i++) {
        Node *a = n->in[i];
        if (!H->outer[a->id] && a->op == OP_CONST)
            H->outer[a->id] = graph_const(H->m->g, a->loc, a->value);
        if (!(in[i] = H->outer[a->id]))
            return NULL;
    }
    return graph_clone_node(H->m->g, n, in);
}

/* Does something that stays in the body (or leaves it) read n? */
static bool needed_in_body(Hoist *H, Node *n, int nb)
{
    const Scan *s = H->scan->scan;
    for (int i = n->id + 1; i < nb; i++) {
        Node *u = s->body->nodes[i];
        if (H->outer[u->id] && (H->kind[u->id] == SEQ || H->kind[u->id] == INV) && u->op != OP_ARG)
            continue;
        for (int k = 0; k < u->nin; k++)
            if (u->in[k] == n)
                return true;
    }
    for (int k = 0; k < s->nin; k++)
        if (s->in[k].carry_out == n)
            return true;
    return false;
}

/* Is n a stacked or summed output of the scan? */
static bool body_output(const Scan *s, const Node *n)
{
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].kind != SCAN_FINAL && s->out[o].node == n)
            return true;
    return false;
}

static void hoist_scan(Model *m, Node *scan)
{
    Graph *g = m->g, *b = scan->scan->body;
    Scan *s = scan->scan;
    Hoist H = {m, scan, arena_array(&perm, (size_t)b->n + 1, sizeof(int)),
               arena_array(&perm, (size_t)b->n + 1, sizeof(Node *))};
    int n0 = g->n, nb = b->n;
    bool any = false;
    for (int i = 0; i < nb; i++) {
        Node *n = b->nodes[i];
        H.kind[i] = classify(&H, n);
        if (n->op == OP_ARG && s->in[n->index].kind != SCAN_CARRY)
            H.outer[i] = scan->in[n->index];
        else if (H.kind[i] == SEQ && row_wise(n) && (H.outer[i] = twin(&H, n)) != NULL) {
            H.outer[i]->name = n->name;
            any = true;
        } else if (H.kind[i] == INV && n->op != OP_CONST && n->nin > 0 && (H.outer[i] = inv_twin(&H, n)) != NULL) {
            any = true;
        }
    }
    if (!any)
        return;
    /* Body uses of hoisted values go through new sequence inputs; their
     * ARGs are made at the end of the body and moved to its front last, so
     * ids stay put while H is in use. */
    for (int i = 0; i < nb; i++) {
        Node *n = b->nodes[i];
        if (n->op == OP_ARG || n->op == OP_CONST || H.kind[i] == VAR || !H.outer[i])
            continue;
        if (H.kind[i] == INV) {
            /* read once per scan; stacked and summed outputs keep reading the
             * body value, which is now the argument */
            if (!needed_in_body(&H, n, nb) && !body_output(s, n))
                continue;
            Node *arg = scan_add_input(scan, SCAN_INV, H.outer[i]);
            arg->name = n->name;
            pass_replace_uses(m, b, n, arg);
            continue;
        }
        for (int o = 0; o < s->nout; o++) {
            Node *so = scan_output_node(scan, o);
            if (s->out[o].kind == SCAN_STACK && s->out[o].node == n && so)
                pass_replace_uses(m, g, so, H.outer[i]);
        }
        if (!needed_in_body(&H, n, nb))
            continue;
        Node *arg = scan_add_input(scan, SCAN_SEQ, H.outer[i]);
        arg->name = n->name;
        pass_replace_uses(m, b, n, arg);
    }
    pass_place_before(m, b, nb, b->nodes[0]);
    pass_place_before(m, g, n0, scan);
}

void pass_hoist(Model *m)
{
    Graph *g = m->g;
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        if (n->op == OP_SCAN) {
            hoist_scan(m, n);
            i = n->id; /* new nodes went before it */
        }
    }
}
