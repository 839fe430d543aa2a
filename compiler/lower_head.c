/*
 * lower_head.c: the task head on top of the layer stack, and its loss.
 *
 * lower() builds the layers and hands the top layer's output hs [T,B,width]
 * to lower_head, which adds the output projection and the loss of the
 * spec's task:
 *
 *   language_model  logits = hs @ W_out + b_out      [T,B,V]  y [T,B] next token
 *   labelling       logits = hs @ W_out + b_out      [T,B,L]  y [T,B] label per step
 *   classification  pooled                           [B,width]
 *                   logits = pooled @ W_out + b_out  [B,L]    y [B]   label per row
 *   loss = mean softmax cross-entropy of logits against y
 *
 * With `tie_weights: true` (a language model over an embedding as wide as
 * the hidden state) the projection is the embedding itself, transposed:
 * logits = hs @ embed^T + b_out, one parameter read twice, so autodiff
 * sums its gradient from both uses (torch's word_language_model:
 * decoder.weight = encoder.weight).
 *
 * L, the number of labels, is a run-time dim like V (the labels of the
 * training data).
 *
 * Classification rows are padded to T. lower() gives every scan the
 * valid-step mask (INPUT_MASK, filled by the trainer from each row's valid
 * length), so padding steps keep the state (lower.c, mask_states): a
 * forward scan's final state is its state at the row's last valid step, a
 * reverse scan's final state its state at t = 0, after the whole valid
 * part, and no valid-step state of either direction depends on the
 * padding. The heads read those states:
 *
 *   head: last  pooled = h_final (forward), or concat(h_final, h_final_reverse)
 *               with bidirectional layers: the top layer's final output
 *               states, PyTorch's h_n of a packed sequence;
 *   head: mean  pooled = pool(hs, w) = sum_t w[t,b] hs[t,b,:] with the graph
 *               input w [T,B] (INPUT_POOL) = 1/len on the valid steps and
 *               0 on padding: the mean over the valid steps, of both
 *               halves of a bidirectional layer's output alike.
 *
 * Labelling has no padding (one stream of tokens), hence no mask; a
 * bidirectional tagger's reverse direction reads each minibatch window
 * from its right edge, starting from zeros (lower.c, initial_state).
 */
#include "graph.h"

#include <math.h>
#include <string.h>

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
    if (cls && spec->head == HEAD_MEAN) {
        m->pool = graph_leaf(g, OP_INPUT, spec->head_loc, shape2(DIM_T, DIM_B), DT_REAL, INPUT_POOL);
        m->pool->name = "pool_weights";
        feat = graph_add2(g, OP_POOL, spec->head_loc, hs, m->pool);
    } else if (cls) {
        feat = m->top_final[0];
        if (m->top_final[1])
            feat = graph_add2(g, OP_CONCAT, spec->head_loc, feat, m->top_final[1]);
    }
    if (cls && (!feat || !m->mask))
        DIE("lower_head: a classification head without its states or mask");
    if (cls && feat->op != OP_SCAN_OUT)
        feat->name = "pooled";
    /* PyTorch's default init for a Linear layer with `width` inputs (2 x
     * hidden above a bidirectional layer). */
    InitKind init = width == spec->hidden ? INIT_DEFAULT : INIT_UNIFORM;
    double bound = 1.0 / sqrt((double)width);
    int iw = -1;
    for (int i = 0; spec->tie_weights && i < m->nparams; i++)
        if (strcmp(m->params[i].name, "embed") == 0)
            iw = i;
    if (spec->tie_weights && (iw < 0 || !lm || width != spec->embed_dim))
        DIE("lower_head: tie_weights without an embedding as wide as the output");
    if (iw < 0)
        iw = model_add_param(m, "W_out", spec->network_loc, shape2(width, out), init, bound);
    int ib = model_add_param(m, "b_out", spec->network_loc, shape1(out), init, bound);
    /* tied: the embedding's own leaf, so that autodiff sums the two uses'
     * gradients into one adjoint (a parameter's gradient is its leaf's) */
    Node *W = NULL;
    for (int i = 0; spec->tie_weights && i < g->n; i++)
        if (g->nodes[i]->op == OP_PARAM && g->nodes[i]->index == iw)
            W = g->nodes[i];
    if (!W)
        W = param_node(m, iw, "W_out");
    Node *bo = param_node(m, ib, "b_out");
    Node *z = graph_matmul(g, spec->tie_weights ? spec->tie_weights_loc : spec->network_loc, feat, W, false,
                           spec->tie_weights);
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
