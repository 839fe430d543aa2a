/*
 * pass_onehot.c: products with a one-hot matrix become row gathers and
 * scatter-adds.
 *
 *   one_hot(ids) @ W        ->  gather(W, ids)        rows of W, no GEMM
 *   one_hot(ids)^T @ G      ->  scatter_add(ids, G)   G's rows added into
 *                                                     the rows ids name
 *
 * The first is the input projection of a one-hot (or embedded) input, the
 * second its weight gradient once pass_wgrad has made it one product over
 * all steps. Found from the operand being a one_hot node, in any graph. A
 * row of a one-hot matrix has a single 1, so the gather is exact; the
 * scatter-add sums the same terms as the GEMM (without the zeros) in
 * another order. The one_hot node dies when nothing else reads it.
 */
#include "passes.h"

static void rewrite(Model *m, Graph *g)
{
    for (int i = 0; i < g->n; i++) {
        Node *mm = g->nodes[i];
        if (mm->op == OP_SCAN)
            rewrite(m, mm->scan->body);
        if (mm->op != OP_MATMUL || mm->in[0]->op != OP_ONE_HOT || mm->tb)
            continue;
        Node *ids = mm->in[0]->in[0], *r;
        if (!mm->ta) {
            Node *in[2] = {mm->in[1], ids};
            r = pass_node(g, OP_GATHER, mm->loc, mm->shape, DT_REAL, in, 2);
        } else {
            Node *in[2] = {ids, mm->in[1]};
            r = pass_node(g, OP_SCATTER_ADD, mm->loc, mm->shape, DT_REAL, in, 2);
        }
        r->name = mm->name;
        pass_replace_uses(m, g, mm, r);
        pass_place_before(m, g, g->n - 1, mm);
        i++; /* mm moved one place on */
    }
}

void pass_onehot(Model *m) { rewrite(m, m->g); }
