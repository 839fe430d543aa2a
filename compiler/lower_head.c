/*
 * lower_head.c: the task head on top of the layer stack, and its loss.
 *
 * lower() builds the layers and hands the top layer's output hs [T,B,width]
 * to lower_head, which adds the output projection and the loss of the
 * spec's task:
 *
 *   language_model  logits = hs @ W_out + b_out      [T,B,V]  y [T,B] next token
 *   labelling       logits = hs @ W_out + b_out      [T,B,L]  y [T,B] label per step
 *   classification  pooled = pool(hs, w)             [B,width]
 *                   logits = pooled @ W_out + b_out  [B,L]    y [B]   label per row
 *   loss = mean softmax cross-entropy of logits against y
 *
 * L, the number of labels, is a run-time dim like V (the labels of the
 * training data). Classification pools with a graph input w [T,B] that the
 * trainer fills from each row's valid length: 1 at the last valid step
 * (head: last) or 1/len on the valid steps (head: mean), 0 on padding. The
 * head itself is generic, so it also pools a reverse scan's outputs, whose
 * "last" state sits at t = 0 (the trainer decides where the weight goes).
 * Nothing here assumes the layers are causal.
 */
#include "graph.h"

#include <math.h>

int model_add_param(Model *m, const char *name, Loc loc, Shape shape, InitKind init, double arg)
{
    m->params = arena_grow(&perm, m->params, &m->cap_params, m->nparams + 1, sizeof(Param));
    m->params[m->nparams] = (Param){name, loc, shape, init, arg, true};
    return m->nparams++;
}

static Node *param_node(Model *m, int i, const char *name)
{
    Node *n = graph_leaf(m->g, OP_PARAM, m->params[i].loc, m->params[i].shape, DT_REAL, i);
    n->name = name;
    return n;
}

/* m->y is already there: lower() makes it next to x ([B] for
 * classification, else [T,B]). */
bool lower_head(Model *m, Node *hs, int width)
{
    const Spec *spec = m->spec;
    Graph *g = m->g;
    bool lm = spec->task == TASK_LANGUAGE_MODEL, cls = spec->task == TASK_CLASSIFICATION;
    int out = lm ? DIM_V : DIM_L;
    Node *feat = hs;
    if (cls) {
        m->pool = graph_leaf(g, OP_INPUT, spec->head_loc, shape2(DIM_T, DIM_B), DT_REAL, INPUT_POOL);
        m->pool->name = "pool_weights";
        feat = graph_add2(g, OP_POOL, spec->head_loc, hs, m->pool);
        if (!feat)
            return false;
        feat->name = "pooled";
    }
    /* PyTorch's default init for a Linear layer with `width` inputs (2 x
     * hidden above a bidirectional layer). */
    InitKind init = width == spec->hidden ? INIT_DEFAULT : INIT_UNIFORM;
    double bound = 1.0 / sqrt((double)width);
    int iw = model_add_param(m, "W_out", spec->network_loc, shape2(width, out), init, bound);
    int ib = model_add_param(m, "b_out", spec->network_loc, shape1(out), init, bound);
    Node *W = param_node(m, iw, "W_out");
    Node *bo = param_node(m, ib, "b_out");
    Node *z = graph_matmul(g, spec->network_loc, feat, W, false, false);
    m->logits = z ? graph_add2(g, OP_ADD, spec->network_loc, z, bo) : NULL;
    if (!m->logits)
        return false;
    m->logits->name = "logits";
    m->loss = graph_add2(g, OP_SOFTMAX_XENT, spec->task_loc, m->logits, m->y);
    if (!m->loss)
        return false;
    m->loss->name = "loss";
    return true;
}
