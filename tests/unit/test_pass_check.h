/*
 * test_pass_check.h: the oracle every test_pass_<name>.c uses.
 *
 * pass_check(spec, passes, n) parses a small spec, lowers it, runs autodiff
 * and evaluates the forward+backward graph with the reference interpreter
 * (double); then applies the given passes (each followed by pass_dce, as
 * passes_run does) and evaluates again. Every output the trainer reads
 * (loss, logits, each final state, each parameter and state gradient) must
 * agree to 1e-12 (|a - b| <= 1e-12 * max(1, |a|)). Inputs: random params,
 * random ids, random initial states and a carry_scale with a cut (0) and a
 * fraction (0.5) so truncated BPTT is covered. The specs are the bench
 * cells at hidden 8 (one-hot and embedded inputs), and stacks of them with
 * dropout (run in training mode with a fixed seed) and, through
 * pass_check_bidirectional, bidirectional layers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

#define SPEC_HEAD(model, input)                                                                                       \
    "model: " model "\ntask: language_model\ndata:\n  tokens: char\n  normalize: letters\n  split: 0.9\n"           \
    "network:\n  input: " input "\n  hidden: 8\n  output: linear\n"                                                   \
    "train:\n  batch: 3\n  steps: 5\n  sampler: sequential\n  bptt: truncated\n  optimizer: sgd\n  lr: 1.0\n"        \
    "  clip_norm: 1.0\n  epochs: 1\n  seed: 0\n"

static const char *const spec_rnn = SPEC_HEAD("rnn", "one_hot")
    "cell:\n  name: rnn_tanh\n  input: x\n  state: [h]\n  output: h\n  params:\n"
    "    W_ih: [input, hidden]\n    W_hh: [hidden, hidden]\n    b_ih: [hidden]\n    b_hh: [hidden]\n"
    "  equations:\n    h: tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)\n";

static const char *const spec_gru = SPEC_HEAD("gru", "one_hot")
    "cell:\n  name: gru\n  input: x\n  state: [h]\n  output: h\n  params:\n"
    "    W_ir: [input, hidden]\n    W_iz: [input, hidden]\n    W_in: [input, hidden]\n"
    "    W_hr: [hidden, hidden]\n    W_hz: [hidden, hidden]\n    W_hn: [hidden, hidden]\n"
    "    b_ir: [hidden]\n    b_iz: [hidden]\n    b_in: [hidden]\n    b_hr: [hidden]\n    b_hz: [hidden]\n"
    "    b_hn: [hidden]\n"
    "  equations:\n"
    "    r: sigmoid(x @ W_ir + b_ir + h @ W_hr + b_hr)\n"
    "    z: sigmoid(x @ W_iz + b_iz + h @ W_hz + b_hz)\n"
    "    n: tanh(x @ W_in + b_in + r * (h @ W_hn + b_hn))\n"
    "    h: (1 - z) * n + z * h\n";

static const char *const spec_lstm_embed = SPEC_HEAD("lstm", "{embed: 5}")
    "cell:\n  name: lstm\n  input: x\n  state: [h, c]\n  output: h\n  params:\n"
    "    W_ii: [input, hidden]\n    W_if: [input, hidden]\n    W_ig: [input, hidden]\n    W_io: [input, hidden]\n"
    "    W_hi: [hidden, hidden]\n    W_hf: [hidden, hidden]\n    W_hg: [hidden, hidden]\n    W_ho: [hidden, hidden]\n"
    "    b_i: [hidden]\n    b_f: [hidden]\n    b_g: [hidden]\n    b_o: [hidden]\n"
    "  equations:\n"
    "    i: sigmoid(x @ W_ii + h @ W_hi + b_i)\n"
    "    f: sigmoid(x @ W_if + h @ W_hf + b_f)\n"
    "    g: tanh(x @ W_ig + h @ W_hg + b_g)\n"
    "    o: sigmoid(x @ W_io + h @ W_ho + b_o)\n"
    "    c: f * c + i * g\n"
    "    h: o * tanh(c)\n";

/* The GRU, two layers with dropout between them (library cell). */
static const char *const spec_gru_2layer_dropout =
    "model: gru2\ntask: language_model\ndata:\n  tokens: char\n"
    "cell: gru\nnetwork:\n  input: {embed: 5}\n  hidden: 8\n  layers: 2\n  dropout: 0.4\n"
    "train:\n  batch: 3\n  steps: 5\n  bptt: truncated\n  optimizer: sgd\n  lr: 1.0\n  epochs: 1\n";

enum { PC_B = 3, PC_T = 5, PC_V = 7, PC_L = 4, PC_MAX = 128 };
static bool pc_bidirectional; /* lower the next spec as bidirectional */

typedef void (*PassFn)(Model *m);

static uint64_t pc_rng = 0x9e3779b97f4a7c15ull;

static double pc_urand(double lo, double hi)
{
    pc_rng ^= pc_rng << 13, pc_rng ^= pc_rng >> 7, pc_rng ^= pc_rng << 17;
    return lo + (hi - lo) * (double)(pc_rng >> 11) / 9007199254740992.0;
}

static Model *pc_model(const char *text)
{
    Spec *s = spec_parse(&perm, "t.yaml", text, strlen(text));
    if (!s)
        return NULL;
    s->bidirectional |= pc_bidirectional;
    Model *m = lower(&perm, s);
    if (m)
        autodiff(&perm, m);
    return m;
}

/* The values the trainer reads, in a fixed order, copied out of r. */
typedef struct {
    double *v[PC_MAX];
    size_t n[PC_MAX];
    const char *what[PC_MAX];
    int count;
} Outputs;

static void pc_take(Outputs *o, const InterpResult *r, const Node *n, const char *what)
{
    o->what[o->count] = what;
    o->n[o->count] = r->numel[n->id];
    o->v[o->count] = malloc(o->n[o->count] * sizeof(double) + 1);
    memcpy(o->v[o->count], r->val[n->id], o->n[o->count] * sizeof(double));
    o->count++;
}

static bool pc_outputs(const Model *m, const InterpEnv *env, Outputs *o)
{
    Arena a = {0};
    InterpResult *r = interp_run(&a, m, env);
    if (!r)
        return false;
    memset(o, 0, sizeof *o);
    pc_take(o, r, m->loss, "loss");
    pc_take(o, r, m->logits, "logits");
    for (int k = 0; k < m->nstates; k++)
        pc_take(o, r, m->state_out[k], "state_out");
    for (int k = 0; k < m->nstates; k++)
        if (m->dstate[k])
            pc_take(o, r, m->dstate[k], "dstate");
    for (int i = 0; i < m->nparams; i++)
        if (m->grads[i])
            pc_take(o, r, m->grads[i], m->params[i].name);
    arena_free_all(&a);
    return true;
}

/* 0 when everything agrees; prints the first disagreement. */
static int pass_check(const char *spec, const PassFn *passes, int npasses)
{
    Model *m = pc_model(spec);
    if (!m)
        return -1;
    /* task heads: labels in [0, L); classification pools row b over its
     * first b + 2 steps with the mean's weights */
    bool task = m->spec->task != TASK_LANGUAGE_MODEL;
    InterpEnv env = {.B = PC_B, .T = PC_T, .V = PC_V, .dropout_seed = 0x1234abcdull, .train = true, .L = task ? PC_L : 0};
    double *pv[PC_MAX] = {0}, *sv[MAX_STATES] = {0}, cs[PC_T], pool[PC_T * PC_B], mask[PC_T * PC_B];
    for (int t = 0; t < PC_T; t++)
        for (int b = 0; b < PC_B; b++) {
            pool[t * PC_B + b] = t < b + 2 ? 1.0 / (b + 2) : 0;
            mask[t * PC_B + b] = t < b + 2;
        }
    env.pool = m->pool ? pool : NULL;
    env.mask = m->mask ? mask : NULL;
    int32_t x[PC_B * PC_T], y[PC_B * PC_T];
    for (int i = 0; i < m->nparams; i++) {
        size_t n = 0;
        shape_numel(m->params[i].shape, PC_B, PC_T, PC_V, PC_L, &n);
        pv[i] = malloc(n * sizeof(double) + 1);
        for (size_t k = 0; k < n; k++)
            pv[i][k] = pc_urand(-0.8, 0.8);
    }
    for (int k = 0; k < m->nstates; k++) {
        sv[k] = malloc(PC_B * 8 * sizeof(double));
        for (int j = 0; j < PC_B * 8; j++)
            sv[k][j] = pc_urand(-0.5, 0.5);
        env.state[k] = sv[k];
    }
    for (int i = 0; i < PC_B * PC_T; i++) {
        x[i] = (int32_t)pc_urand(0, PC_V);
        y[i] = (int32_t)pc_urand(0, task ? PC_L : PC_V);
    }
    for (int t = 0; t < PC_T; t++)
        cs[t] = t == 2 ? 0 : t == 3 ? 0.5 : 1;
    env.params = pv, env.x = x, env.y = y, env.carry_scale = cs;

    Outputs before, after;
    int bad = !pc_outputs(m, &env, &before);
    for (int i = 0; !bad && i < npasses; i++) {
        passes[i](m);
        pass_dce(m);
        graph_verify(m->g);
    }
    bad = bad || !pc_outputs(m, &env, &after);
    for (int i = 0; !bad && i < before.count; i++) {
        if (after.n[i] != before.n[i] || strcmp(after.what[i], before.what[i]) != 0) {
            fprintf(stderr, "output %d (%s): %zu values before, %zu after\n", i, before.what[i], before.n[i],
                    after.n[i]);
            bad = 1;
            break;
        }
        for (size_t k = 0; k < before.n[i]; k++) {
            double a = before.v[i][k], b = after.v[i][k];
            if (!(fabs(a - b) <= 1e-12 * fmax(1, fabs(a)))) {
                fprintf(stderr, "%s[%zu]: %.17g before the passes, %.17g after\n", before.what[i], k, a, b);
                bad = 1;
                break;
            }
        }
    }
    for (int i = 0; i < before.count; i++)
        free(before.v[i]);
    for (int i = 0; !bad && i < after.count; i++)
        free(after.v[i]);
    for (int i = 0; i < PC_MAX; i++)
        free(pv[i]);
    for (int k = 0; k < MAX_STATES; k++)
        free(sv[k]);
    return bad;
}

/* How many nodes with op `op` g holds, counting scan bodies. */
static int pc_count(const Graph *g, Op op)
{
    int c = 0;
    for (int i = 0; i < g->n; i++) {
        c += g->nodes[i]->op == op;
        if (g->nodes[i]->op == OP_SCAN)
            c += pc_count(g->nodes[i]->scan->body, op);
    }
    return c;
}

/* pass_check with spec->bidirectional forced on (a language model spec:
 * spec checks refuse the key there, lower builds it). */
static inline int pass_check_bidirectional(const char *spec, const PassFn *passes, int npasses)
{
    pc_bidirectional = true;
    int r = pass_check(spec, passes, npasses);
    pc_bidirectional = false;
    return r;
}
