/*
 * lower.c: spec AST -> graph IR (the forward pass of one training step).
 *
 * The language-model network is
 *
 *   xs     = one_hot(x)                       [T,B,V]   (or one_hot(x) @ E
 *                                                        for embed: {dim})
 *   h[t]   = cell(xs[t], h[t-1])              scan over t, the cell's
 *                                             equations as its body
 *   logits = h @ W_out + b_out                [T,B,V]
 *   loss   = mean softmax cross-entropy(logits, y)
 *
 * (the last two are the task head, lower_head.c; labelling and
 * classification predict labels instead of the next token).
 *
 * With `layers: N` each layer's scan reads the sequence the layer below
 * produced; with `dropout: p`, dropout(p) sits between layers (not after
 * the top one), one mask site per layer. `dropout_embed` and
 * `dropout_output` put the same op on the embedding's output and on the
 * top layer's output (torch's word_language_model: drop(encoder(x)) and
 * drop(output) before the decoder), at mask sites of their own. With `bidirectional: true` each
 * layer has a second scan, with its own parameters and states (suffixed
 * _reverse), over t = T-1 .. 0, and the layer's output is the concat of
 * both directions, [T,B,2*hidden]. lower_stack builds all of that and
 * returns the top sequence and its width, which the task head reads
 * (classification also reads the top layer's final states, and its padded
 * rows make every scan keep its state on padding steps: lower_mask_states). The
 * reverse direction's state at step t comes from step t+1, through
 * grad_scale(state, carry_scale[t]) like the forward's, so a truncation
 * cut at t cuts both; a labelling model starts it from zeros in every
 * window (initial_state).
 *
 * The cell is not built in: its equations are lowered one by one into the
 * scan body, so every cell gets its backward pass from autodiff. Names in
 * an equation resolve, in order, to: an equation defined earlier in the
 * cell, a state (its previous value until the equation that defines it),
 * the cell's input, a parameter. Each state enters the body through
 * grad_scale(state, carry_scale[t]) so truncated BPTT can cut the gradient
 * between steps without touching the forward values.
 *
 * Every user error is reported at the spec position it comes from, with
 * notes at the related declarations; lower returns NULL if there was any.
 */
#include "lower.h"

#include <string.h>

typedef struct {
    Model *m;
    Spec *spec;
    Scope E;            /* the body's names; E.suffix is appended to C-visible
                           names: "", "_l1", "_reverse", "_l1_reverse" */
    bool state_set[MAX_STATES];
    int layer;          /* the layer being built, 0-based */
    bool reverse;       /* building the reverse direction of the layer */
    int input_width;    /* the width `input` resolves to in this layer */
    Node *final;        /* the last layer built: its output state's final value */
} Lower;

/* Dropout mask sites: layer l's output is site l (l < MAX_LAYERS - 1);
 * the embedding's and the top layer's outputs have these. */
enum { DROPOUT_SITE_EMBED = 64, DROPOUT_SITE_OUTPUT = 65 };

/* ---- parameters ---- */

/* Names of the parameters the network adds around the cell. */
static const char *const network_params[] = {"W_out", "b_out", "embed"};

static bool lower_params(Lower *L)
{
    const SpecCell *c = &L->spec->cell;
    bool ok = true;
    for (int i = 0; i < c->nparams; i++) {
        const SpecParam *sp = &c->params[i];
        for (int k = 0; k < 3; k++)
            if (strcmp(sp->name, network_params[k]) == 0) {
                diag_error(sp->loc, "'%s' is the name of a parameter of the network around the cell; rename this one",
                           sp->name);
                ok = false;
            }
        Shape sh = lower_param_shape(sp, L->input_width, L->spec->hidden);
        const char *name = *L->E.suffix ? arena_printf(&perm, "%s%s", sp->name, L->E.suffix) : sp->name;
        int idx = model_add_param(L->m, name, sp->loc, sh, sp->init, sp->init_arg);
        ok &= lower_check_param_size(&L->m->params[idx], name);
    }
    return ok;
}

/* ---- the cell body ---- */

/* Every state must be assigned, with the state's shape [B, hidden]. */
static bool check_states(Lower *L, Node *scan, const int *carry_in)
{
    const SpecCell *c = &L->spec->cell;
    bool ok = true;
    for (int k = 0; k < c->nstate; k++) {
        Node *v = lower_state_value(&L->E, L->spec, c, k, L->state_set);
        if (v)
            scan_set_carry_out(scan, carry_in[k], v);
        ok &= v != NULL;
    }
    return ok;
}

static void warn_unused(Lower *L)
{
    for (int i = 0; i < L->E.nb; i++) {
        Binding *b = &L->E.b[i];
        if (!b->used && b->param >= 0)
            diag_warning(b->decl, "parameter '%s' is not used by any equation; it will not be trained", b->name);
        else if (!b->used && b->state < 0 && b->node && b->node->op != OP_ARG && b->node->op != OP_GRAD_SCALE &&
                 b->param < 0 && strcmp(b->name, L->spec->cell.output) != 0)
            diag_warning(b->decl, "'%s' is computed but never used", b->name);
    }
}

/* ---- the network ---- */

/* The value state k of the model starts the layer's scan from. A labelling
 * model carries its states from one minibatch window to the next, which
 * continues the forward direction; the reverse direction would get its
 * state at the previous window's left edge at this window's right edge,
 * text that is not next to it, so it starts every window from zeros (its
 * state input is then unused and gets a zero gradient). */
static Node *initial_state(Lower *L, int k)
{
    Node *in = L->m->state_in[k];
    if (!L->reverse || L->spec->task != TASK_LABELLING)
        return in;
    Node *z = graph_leaf(L->m->g, OP_ZEROS, in->loc, in->shape, DT_REAL, 0);
    z->name = arena_printf(&perm, "%s_zeros", in->name);
    return z;
}

/* One layer: the cell's parameters, its initial states and a scan over
 * the sequence `in` [T,B,I]. Returns the stacked cell output [T,B,hidden],
 * or NULL after an error. Each layer has its own parameters (suffixed _l1,
 * _l2 ... when there is more than one, like PyTorch's weight_ih_l1) and
 * its own states, after the earlier layers' in the state block. */
static Node *lower_layer(Lower *L, Node *in)
{
    Model *m = L->m;
    const Spec *spec = L->spec;
    const SpecCell *c = &spec->cell;
    Graph *g = m->g;
    int p0 = m->nparams, s0 = m->nstates;
    L->E.nb = 0;
    memset(L->state_set, 0, sizeof L->state_set);
    if (!lower_params(L))
        return NULL;
    lower_state_inputs(m, c, L->E.suffix);
    Node **pnodes = arena_array(&perm, (size_t)c->nparams + 1, sizeof(Node *));
    for (int i = 0; i < c->nparams; i++) {
        const Param *p = &m->params[p0 + i];
        pnodes[i] = graph_leaf(g, OP_PARAM, p->loc, p->shape, DT_REAL, p0 + i);
        pnodes[i]->name = p->name;
    }

    Node *inits[MAX_STATES]; /* made before the scan that reads them */
    for (int k = 0; k < c->nstate; k++)
        inits[k] = initial_state(L, s0 + k);

    /* The scan and its body's bindings (spec names, not suffixed). */
    Node *scan = graph_scan(g, c->loc, c->name, L->reverse);
    scope_begin_scan(&L->E, scan);
    Node *x_t = scan_add_input(scan, SCAN_SEQ, in);
    x_t->name = arena_printf(&perm, "%s%s", c->input, L->E.suffix);
    scope_bind(&L->E, c->input, x_t, c->input_loc, NULL);
    Node *cs_t = scan_add_input(scan, SCAN_SEQ, m->carry_scale);
    for (int i = 0; i < c->nparams; i++) {
        Node *arg = scan_add_input(scan, SCAN_INV, pnodes[i]);
        Binding *b = scope_bind(&L->E, c->params[i].name, arg, c->params[i].loc, NULL);
        b->param = p0 + i;
    }
    int carry_in[MAX_STATES];
    for (int k = 0; k < c->nstate; k++) {
        carry_in[k] = scan->scan->nin;
        Node *arg = scan_add_input(scan, SCAN_CARRY, inits[k]);
        arg->name = arena_printf(&perm, "%s_prev%s", c->state[k], L->E.suffix);
        Node *prev = graph_add2(L->E.body, OP_GRAD_SCALE, c->state_locs[k], arg, cs_t);
        prev->name = arg->name;
        Binding *b = scope_bind(&L->E, c->state[k], prev, c->state_locs[k], NULL);
        b->state = k;
        b->used = true;
    }
    if (!lower_cell_equations(&L->E, c, 0, L->state_set) || !check_states(L, scan, carry_in))
        return NULL;
    if (m->mask)
        lower_mask_states(scan, carry_in, c, m->mask, L->E.suffix);
    if (L->layer == 0 && !L->reverse) { /* the same spec for every layer: warn once */
        warn_unused(L);
        if (!scope_lookup(&L->E, c->input)->used)
            diag_warning(c->input_loc, "the cell never reads its input '%s'", c->input);
    }

    /* Outputs: the stacked cell output, then each state's final value. */
    int out_state = cell_state_index(c, c->output);
    out_state = out_state < 0 ? 0 : out_state;
    Node *hs = scan_add_output(scan, SCAN_STACK, scan->scan->in[carry_in[out_state]].carry_out, 0);
    for (int k = 0; k < c->nstate; k++)
        m->state_out[s0 + k] = scan_add_output(scan, SCAN_FINAL, NULL, carry_in[k]);
    L->final = m->state_out[s0 + out_state];
    return hs;
}

/* After an error in layer l: say what `input` was there. */
static void note_layer_input(const Lower *L, int l, int layers)
{
    const Spec *spec = L->spec;
    if (l == 0)
        return;
    if (!spec->bidirectional) {
        diag_note(spec->layers_loc, "while building layer %d of %d, whose input is %d wide (hidden)", l + 1, layers,
                  spec->hidden);
        return;
    }
    diag_note(spec->layers_loc, "while building layer %d of %d, whose input is %d wide (2 x hidden)", l + 1,
              layers, 2 * spec->hidden);
    diag_note(spec->bidirectional_loc,
              "'network.bidirectional: true' makes each layer's output %d wide: forward and reverse states of "
              "%d, concatenated",
              2 * spec->hidden, spec->hidden);
}

/* One direction of layer l, reading `in` of width `width`. */
static Node *lower_direction(Lower *L, Node *in, int width, bool reverse)
{
    int layers = L->spec->layers > 0 ? L->spec->layers : 1;
    L->reverse = reverse;
    L->input_width = width;
    const char *ls = layers > 1 ? arena_printf(&perm, "_l%d", L->layer) : "";
    L->E.suffix = reverse ? arena_printf(&perm, "%s_reverse", ls) : ls;
    int before = diag_error_count();
    Node *hs = lower_layer(L, in);
    if (!hs && diag_error_count() > before)
        note_layer_input(L, L->layer, layers);
    return hs;
}

/* The layer stack over xs [T,B,in_width]: each layer reads the one below,
 * both directions of a bidirectional layer read the same sequence, and
 * dropout (when the spec has it) follows every layer but the top one, at
 * mask site l. Returns the top sequence [T,B,*width], NULL after errors. */
static Node *lower_stack(Lower *L, Node *xs, int in_width, int *width)
{
    const Spec *spec = L->spec;
    Graph *g = L->m->g;
    int layers = spec->layers > 0 ? spec->layers : 1;
    Node *hs = xs;
    *width = in_width;
    if (spec->dropout > 0 && layers == 1) /* as torch.nn.LSTM warns */
        diag_warning(spec->dropout_loc, "'network.dropout' applies between layers; with 'layers: 1' it does nothing");
    for (int l = 0; l < layers; l++) {
        L->layer = l;
        Node *fwd = lower_direction(L, hs, *width, false);
        Node *fwd_final = L->final;
        Node *rev = fwd && spec->bidirectional ? lower_direction(L, hs, *width, true) : NULL;
        if (!fwd || (spec->bidirectional && !rev))
            return NULL;
        L->m->top_final[0] = fwd_final;
        L->m->top_final[1] = rev ? L->final : NULL;
        if (rev) {
            hs = graph_add2(g, OP_CONCAT, spec->bidirectional_loc, fwd, rev);
            hs->name = layers > 1 ? arena_printf(&perm, "h_both_l%d", l) : "h_both";
            *width = 2 * spec->hidden;
        } else {
            hs = fwd;
            *width = spec->hidden;
        }
        if (l + 1 < layers && spec->dropout > 0) {
            hs = graph_dropout(g, spec->dropout_loc, hs, spec->dropout, l);
            hs->name = arena_printf(&perm, "h_dropout_l%d", l);
        }
    }
    if (spec->dropout_output > 0) {
        hs = graph_dropout(g, spec->dropout_output_loc, hs, spec->dropout_output, DROPOUT_SITE_OUTPUT);
        hs->name = "h_dropout_out";
    }
    return hs;
}

Model *lower(Arena *a, Spec *spec)
{
    if (spec->task == TASK_SEQ2SEQ)
        return lower_s2s(a, spec); /* lower_s2s.c */

    Model *m = arena_alloc(a, sizeof *m);
    m->spec = spec;
    m->g = graph_new(a, NULL);
    Graph *g = m->g;
    const SpecCell *c = &spec->cell;
    Lower L = {.m = m, .spec = spec, .E = {.g = m->g, .suffix = ""}};
    int errors0 = diag_error_count();
    int layers = spec->layers > 0 ? spec->layers : 1, dirs = spec->bidirectional ? 2 : 1;

    if (c->nstate * layers * dirs > MAX_STATES) {
        diag_error(spec->layers_loc, "%d layers of a cell with %d states carry %d states; at most %d are supported",
                   layers, c->nstate, layers * dirs * c->nstate, MAX_STATES);
        if (dirs > 1)
            diag_note(spec->bidirectional_loc, "bidirectional layers carry the states of both directions");
        return NULL;
    }

    /* Inputs and the per-step input xs [T,B,I]. */
    m->x = graph_leaf(g, OP_INPUT, spec->task_loc, shape2(DIM_T, DIM_B), DT_INT, INPUT_X);
    m->x->name = "x";
    /* y: the next token or a label per step [T,B]; a label per row [B] */
    Shape ys = spec->task == TASK_CLASSIFICATION ? shape1(DIM_B) : shape2(DIM_T, DIM_B);
    m->y = graph_leaf(g, OP_INPUT, spec->task_loc, ys, DT_INT, INPUT_Y);
    m->y->name = "y";
    m->carry_scale = graph_leaf(g, OP_INPUT, spec->train_loc, shape1(DIM_T), DT_REAL, INPUT_CARRY_SCALE);
    m->carry_scale->name = "carry_scale";
    if (spec->task == TASK_CLASSIFICATION) { /* rows padded to T: see lower_mask_states */
        m->mask = graph_leaf(g, OP_INPUT, spec->task_loc, shape2(DIM_T, DIM_B), DT_REAL, INPUT_MASK);
        m->mask->name = "valid_mask";
    }
    Node *xs = graph_add1(g, OP_ONE_HOT, spec->input_loc, m->x);
    xs->name = "x_onehot";
    int embed = -1;
    if (spec->input == INPUT_EMBED) {
        double bound = 1.0; /* like torch.nn.Embedding's N(0,1) */
        embed = model_add_param(m, "embed", spec->input_loc, shape2(DIM_V, spec->embed_dim), INIT_NORMAL, bound);
        Node *E = graph_leaf(g, OP_PARAM, spec->input_loc, m->params[embed].shape, DT_REAL, embed);
        E->name = "embed";
        xs = graph_matmul(g, spec->input_loc, xs, E, false, false);
        xs->name = "x_embed";
        if (spec->dropout_embed > 0) {
            xs = graph_dropout(g, spec->dropout_embed_loc, xs, spec->dropout_embed, DROPOUT_SITE_EMBED);
            xs->name = "x_embed_dropout";
        }
    }

    /* The layers, each reading the one below. */
    int width;
    Node *hs = lower_stack(&L, xs, spec->input == INPUT_EMBED ? spec->embed_dim : DIM_V, &width);
    if (!hs)
        return NULL;

    /* The task head: output layer and loss (lower_head.c). */
    if (!lower_head(m, hs, width))
        return NULL;
    return lower_finish(m, errors0);
}
