/*
 * rnnrt_s2s_check.c: the seq2seq trainer's gradcheck (backward against
 * finite differences, the decoding entries against forward) and dump (for
 * rnnc SPEC --check DUMP).
 */
#include "rnnrt_s2s_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- gradcheck and dump ----
 * A random problem from --seed (one RNG, in this order): the parameters,
 * then per row a source and a target length in [1, T] and the tokens (ids
 * >= 4, then <eos>, then <pad>, as the arrays; decoder input = <bos> +
 * labels[:-1]), then state_in U(-0.5, 0.5). */
typedef struct {
    const RnnrtS2sModel *m;
    S2sParams p;
    S2sStep st;
    int32_t *src, *lab, *dec, *sl, *tl;
    real *dstate;
    RnnrtS2sCtx c;
} Problem;

static int problem_init(Problem *pb, const RnnrtS2sModel *m, uint64_t seed, int B, int T, int V, int Vt,
                        RnnrtError *err)
{
    RnnrtRng rng;
    rnnrt_rng_init(&rng, seed);
    pb->m = m;
    int rc = rnnrt_s2s_params_init(&pb->p, m, V, Vt, &rng, err);
    if (!rc)
        rc = rnnrt_s2s_step_init(&pb->st, &pb->p, B, T, err);
    if (rc) {
        rnnrt_s2s_params_free(&pb->p);
        return rc;
    }
    size_t tb = (size_t)T * B, ns = (size_t)B * m->state_size;
    pb->src = rnnrt_xcalloc(tb, sizeof(int32_t), "inputs");
    pb->lab = rnnrt_xcalloc(tb, sizeof(int32_t), "inputs");
    pb->dec = rnnrt_xcalloc(tb, sizeof(int32_t), "inputs");
    pb->sl = rnnrt_xcalloc((size_t)B, sizeof(int32_t), "lengths");
    pb->tl = rnnrt_xcalloc((size_t)B, sizeof(int32_t), "lengths");
    for (int b = 0; b < B; b++) {
        pb->sl[b] = 1 + (int)rnnrt_rng_below(&rng, (uint64_t)T);
        pb->tl[b] = 1 + (int)rnnrt_rng_below(&rng, (uint64_t)T);
        for (int t = 0; t < T; t++) {
            pb->src[t * B + b] = t < pb->sl[b] - 1 ? 4 + (int32_t)rnnrt_rng_below(&rng, (uint64_t)(V - 4))
                                 : t == pb->sl[b] - 1 ? RNNRT_EOS : RNNRT_PAD;
            pb->lab[t * B + b] = t < pb->tl[b] - 1 ? 4 + (int32_t)rnnrt_rng_below(&rng, (uint64_t)(Vt - 4))
                                 : t == pb->tl[b] - 1 ? RNNRT_EOS : RNNRT_PAD;
        }
        for (int t = 0; t < T; t++)
            pb->dec[t * B + b] = t == 0 ? RNNRT_BOS : pb->lab[(t - 1) * B + b];
    }
    pb->dstate = rnnrt_xcalloc(ns + 1, sizeof(real), "state gradients");
    for (size_t i = 0; i < ns; i++)
        pb->st.state[i] = (real)(rnnrt_rng_uniform(&rng) - 0.5);
    pb->c = pb->st.c;
    pb->c.src = pb->src;
    pb->c.dec_in = pb->dec;
    pb->c.label = pb->lab;
    pb->c.src_len = pb->sl;
    pb->c.tgt_len = pb->tl;
    pb->c.dstate_in = pb->dstate;
    return 0;
}

static void problem_free(Problem *pb)
{
    free(pb->src);
    free(pb->lab);
    free(pb->dec);
    free(pb->sl);
    free(pb->tl);
    free(pb->dstate);
    rnnrt_s2s_step_free(&pb->st);
    rnnrt_s2s_params_free(&pb->p);
}

static void problem_run(Problem *pb, const RnnrtS2sModel *m)
{
    memset(pb->p.b.grads, 0, pb->p.b.total * sizeof(real));
    m->forward(&pb->c);
    m->backward(&pb->c);
}

/* The decoding entries against forward on the problem, from zero encoder
 * states (as decoding starts): encode, then one step per position with
 * teacher forcing (prev = dec_in[t]) must give forward's logits and
 * attention weights at every step, to 1e-12 (the problem's source lengths
 * are uneven, so padding is in it). Returns the mismatches; 0 for a model
 * without the entries. */
static int step_check(const RnnrtS2sModel *m, Problem *pb)
{
    if (!m->encode || !m->step)
        return 0;
    RnnrtS2sCtx *c = &pb->c;
    int B = c->B, T = c->T, Vt = c->Vt, Sd = m->dec_state_size, bad = 0;
    memset(pb->st.state, 0, (size_t)B * m->state_size * sizeof(real));
    m->forward(c);
    real *work = rnnrt_xcalloc(m->decode_workspace(B, T, c->V, Vt) + 1, sizeof(real), "the decoding workspace");
    real *s0 = rnnrt_xcalloc((size_t)B * Sd + 1, sizeof(real), "decoder states");
    real *s1 = rnnrt_xcalloc((size_t)B * Sd + 1, sizeof(real), "decoder states");
    RnnrtS2sDecCtx dc = {.B = B, .T = T, .V = c->V, .Vt = Vt, .params = c->params, .src = c->src,
                         .src_len = c->src_len, .state_out = s0, .work = work};
    m->encode(&dc);
    for (int t = 0; t < T; t++) {
        dc.prev = c->dec_in + (size_t)t * B;
        dc.state_in = s0;
        dc.state_out = s1;
        m->step(&dc);
        for (int i = 0; i < B * Vt; i++) {
            double want = c->logits[(size_t)t * B * Vt + i], got = dc.logits[i];
            if (!(fabs(want - got) <= 1e-12 * (1 + fabs(want))) && bad++ < 5)
                fprintf(stderr, "  step %d, logit %d of row %d: forward %.17g, step %.17g\n", t, i % Vt, i / Vt,
                        want, got);
        }
        if ((c->attention != NULL) != (dc.attention != NULL) && bad++ < 5)
            fprintf(stderr, "  forward and the step disagree on having attention weights\n");
        for (int i = 0; c->attention && dc.attention && i < T * B; i++) {
            double want = c->attention[(size_t)t * T * B + i], got = dc.attention[i];
            if (!(fabs(want - got) <= 1e-12) && bad++ < 5)
                fprintf(stderr, "  step %d, attention on source step %d of row %d: forward %.17g, step %.17g\n", t,
                        i / B, i % B, want, got);
        }
        real *x = s0;
        s0 = s1;
        s1 = x;
    }
    printf("decoding step: %d steps x %d rows against forward, %d mismatches\n", T, B, bad);
    free(work);
    free(s0);
    free(s1);
    return bad;
}

static double forward_loss(void *problem)
{
    Problem *pb = problem;
    pb->m->forward(&pb->c);
    return pb->c.loss;
}

/* Every parameter and encoder initial state element (or --max-per-param N
 * evenly spaced ones per tensor) against central differences, as the other
 * trainers' gradcheck (rnnrt_check_tensor); then the decoding entries
 * against forward (step_check). Only meaningful in double: the float build
 * refuses. */
int rnnrt_s2s_gradcheck_cmd(const RnnrtS2sModel *m, uint64_t seed, int B, int T, int V, int Vt, int64_t max_per,
                         RnnrtError *err)
{
    if (sizeof(real) != sizeof(double))
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "gradcheck needs the double build (%s_d)", m->name);
    Problem pb;
    int rc = problem_init(&pb, m, seed, B, T, V, Vt, err);
    if (rc)
        return rc;
    problem_run(&pb, m);
    S2sParams *p = &pb.p;
    real *g = rnnrt_xcalloc(p->b.total + 1, sizeof(real), "gradients");
    memcpy(g, p->b.grads, p->b.total * sizeof(real));
    size_t bad = 0, checked = 0, max = max_per > 0 ? (size_t)max_per : 0;
    for (int i = 0; i < m->nparams; i++)
        bad += rnnrt_check_tensor(forward_loss, &pb, m->params[i].name, p->b.params + p->b.offset[i], g + p->b.offset[i],
                                  p->b.numel[i], max, &checked, stdout);
    size_t ns = (size_t)B * m->state_size;
    if (ns)
        bad += rnnrt_check_tensor(forward_loss, &pb, "state_in", pb.st.state, pb.dstate, ns, max, &checked, stdout);
    printf("gradcheck: %zu elements, %zu mismatches (B %d, T %d, V %d, Vt %d, seed %llu)\n", checked, bad, B, T, V,
           Vt, (unsigned long long)seed);
    int sbad = step_check(m, &pb);
    free(g);
    problem_free(&pb);
    if (bad)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "gradcheck: %zu of %zu gradient elements disagree", bad, checked);
    return sbad ? rnnrt_error(err, RNNRT_EXIT_USAGE, "gradcheck: the decoding step disagrees with forward") : 0;
}

/* One forward and backward on the random problem, everything as text for
 * `rnnc SPEC --check DUMP` (compiler/check.c's seq2seq records). */
int rnnrt_s2s_dump_cmd(const RnnrtS2sModel *m, uint64_t seed, int B, int T, int V, int Vt, RnnrtError *err)
{
    Problem pb;
    int rc = problem_init(&pb, m, seed, B, T, V, Vt, err);
    if (rc)
        return rc;
    problem_run(&pb, m);
    size_t tb = (size_t)T * B, ns = (size_t)B * m->state_size;
    printf("dims %d %d %d %d %d\n", B, T, V, Vt, m->state_size);
    for (int i = 0; i < m->nparams; i++)
        rnnrt_dump_reals(stdout, "param", m->params[i].name, pb.p.b.params + pb.p.b.offset[i], pb.p.b.numel[i]);
    rnnrt_dump_ids(stdout, "x", pb.src, tb);
    rnnrt_dump_ids(stdout, "dec_in", pb.dec, tb);
    rnnrt_dump_ids(stdout, "y", pb.lab, tb);
    rnnrt_dump_ids(stdout, "src_len", pb.sl, (size_t)B);
    rnnrt_dump_ids(stdout, "tgt_len", pb.tl, (size_t)B);
    rnnrt_dump_reals(stdout, "state", NULL, pb.st.state, ns);
    printf("loss %.17g\n", pb.c.loss);
    rnnrt_dump_reals(stdout, "logits", NULL, pb.c.logits, tb * (size_t)Vt);
    for (int i = 0; i < m->nparams; i++)
        rnnrt_dump_reals(stdout, "grad", m->params[i].name, pb.p.b.grads + pb.p.b.offset[i], pb.p.b.numel[i]);
    rnnrt_dump_reals(stdout, "dstate", NULL, pb.dstate, ns);
    problem_free(&pb);
    return rnnrt_dump_end(stdout, err);
}

