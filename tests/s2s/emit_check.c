/*
 * emit_check.c: the emitted seq2seq training step (double), on its own.
 *
 * Included after a generated file by a wrapper that defines S2S_MODEL (the
 * descriptor). On a tiny batch (B 2, T 4, V 6, Vt 5, source lengths 4 and
 * 2, target lengths 3 and 1, teacher forcing) it checks:
 *   - backward against central differences of forward's loss for every
 *     parameter and encoder initial-state element (eps 1e-6,
 *     |a - n| <= 1e-5 + 1e-3 |n|);
 *   - padding the batch to T 6 with <pad> (same lengths) leaves the loss
 *     and every gradient as they were (to 1e-12 relative: BLAS may add up
 *     a longer matrix in another order);
 *   - with S2S_SPEC (the spec's path) defined, the loss and every gradient
 *     equal the reference interpreter's on the spec (rnnc_core), to 1e-10;
 *   - the decoding entries (encode, then one step per position with
 *     teacher forcing) give forward's logits and attention weights at every
 *     step, from zero encoder states, at T 4 and padded to T 6 (to 1e-12).
 * Exit 0 when all agree, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

enum { B = 2, V = 6, VT = 5, PAD = 1, BOS = 2, EOS = 3, MAXT = 6 };
static const double EPS = 1e-6, ATOL = 1e-5, RTOL = 1e-3;

static uint64_t rng = 88172645463325252ull;

static double urand(double lo, double hi)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) / 9007199254740992.0;
}

typedef struct {
    const RnnrtS2sModel *m;
    size_t np;
    real *params, *grads, *state, *dstate, *work;
    int32_t src[MAXT * B], dec[MAXT * B], label[MAXT * B], src_len[B], tgt_len[B];
    RnnrtS2sCtx c;
} Run;

static size_t param_numel(const RnnrtParamDesc *p)
{
    size_t n = 1;
    for (int k = 0; k < p->ndim; k++)
        n *= (size_t)(p->dims[k] == RNNRT_DIM_V ? V : p->dims[k] == RNNRT_DIM_VT ? VT : p->dims[k]);
    return n;
}

static void set_T(Run *r, int T)
{
    free(r->work);
    size_t n = r->m->workspace(B, T, V, VT);
    r->work = calloc(n + 1, sizeof(real));
    r->c = (RnnrtS2sCtx){.B = B, .T = T, .V = V, .Vt = VT, .params = r->params, .grads = r->grads,
                         .src = r->src, .dec_in = r->dec, .label = r->label, .src_len = r->src_len,
                         .tgt_len = r->tgt_len, .state_in = r->state, .dstate_in = r->dstate, .work = r->work};
}

static double loss(Run *r)
{
    r->m->forward(&r->c);
    return r->c.loss;
}

static void grads(Run *r)
{
    memset(r->grads, 0, r->np * sizeof(real));
    r->m->forward(&r->c);
    r->m->backward(&r->c);
}

static int check(Run *r, const char *what, real *x, const real *g, size_t n)
{
    int bad = 0;
    double max_num = 0;
    for (size_t j = 0; j < n; j++) {
        double x0 = x[j];
        x[j] = x0 + EPS;
        double lp = loss(r);
        x[j] = x0 - EPS;
        double lm = loss(r);
        x[j] = x0;
        double num = (lp - lm) / (2 * EPS);
        max_num = num > max_num ? num : -num > max_num ? -num : max_num;
        if (!(fabs(g[j] - num) <= ATOL + RTOL * fabs(num)) && bad++ < 5)
            fprintf(stderr, "  %s[%zu]: backward %.10g, finite differences %.10g\n", what, j, g[j], num);
    }
    if (max_num < 1e-7) {
        fprintf(stderr, "  %s: the finite-difference gradient is zero; nothing is checked\n", what);
        bad++;
    }
    return bad;
}

/* The interpreter on the same spec, parameters and batch. */
static int check_interp(Run *r, const real *g, const real *ds)
{
    int code, bad = 0;
    Spec *spec = spec_load(&perm, S2S_SPEC, &code);
    Model *m = spec ? lower(&perm, spec) : NULL;
    if (!m)
        return 1;
    autodiff(&perm, m);
    if (m->nparams != r->m->nparams || m->state_size != r->m->state_size)
        return fprintf(stderr, "  the spec's model has other parameters than the emitted one\n"), 1;
    double **pv = calloc((size_t)m->nparams, sizeof(double *));
    size_t off = 0;
    for (int i = 0; i < m->nparams; i++) {
        pv[i] = r->params + off;
        off += param_numel(&r->m->params[i]);
    }
    InterpEnv env = {.B = B, .T = 4, .V = V, .Vt = VT, .params = pv, .x = r->src, .y = r->label,
                     .dec_in = r->dec, .src_len = r->src_len, .tgt_len = r->tgt_len};
    for (int k = 0; k < m->nstates; k++)
        env.state[k] = r->state + (size_t)B * spec->hidden * k;
    Arena a = {0};
    InterpResult *res = interp_run(&a, m, &env);
    if (!res)
        return 1;
    double l = res->val[m->loss->id][0];
    if (fabs(l - r->c.loss) > 1e-10 * fabs(l))
        bad++, fprintf(stderr, "  loss: interpreter %.17g, emitted %.17g\n", l, r->c.loss);
    off = 0;
    for (int i = 0; i < m->nparams; i++) {
        size_t n = param_numel(&r->m->params[i]);
        const double *gi = m->grads[i] ? res->val[m->grads[i]->id] : NULL;
        for (size_t j = 0; j < n; j++) {
            double want = gi ? gi[j] : 0;
            if (fabs(want - g[off + j]) > 1e-10 * (1 + fabs(want)) && bad++ < 10)
                fprintf(stderr, "  %s[%zu]: interpreter %.17g, emitted %.17g\n", m->params[i].name, j, want, g[off + j]);
        }
        off += n;
    }
    for (int k = 0; k < m->nstates; k++) {
        const double *d = m->dstate[k] ? res->val[m->dstate[k]->id] : NULL;
        for (int j = 0; j < B * spec->hidden; j++) {
            double want = d ? d[j] : 0, got = ds[(size_t)B * spec->hidden * k + j];
            if (fabs(want - got) > 1e-10 * (1 + fabs(want)) && bad++ < 10)
                fprintf(stderr, "  dstate %d[%d]: interpreter %.17g, emitted %.17g\n", k, j, want, got);
        }
    }
    arena_free_all(&a);
    free(pv);
    return bad;
}

static int close_to(double want, double got) { return fabs(want - got) <= 1e-12 * (1 + fabs(want)); }

/* The decoding entries against the training forward at T steps. */
static int check_step(Run *r, int T)
{
    const RnnrtS2sModel *m = r->m;
    if (!m->encode || !m->step || !m->decode_workspace || m->dec_states < 1) {
        fprintf(stderr, "  %s has no decoding entries\n", m->name);
        return 1;
    }
    memset(r->state, 0, (size_t)B * m->state_size * sizeof(real)); /* decoding starts the encoder from zeros */
    set_T(r, T);
    m->forward(&r->c);
    int Sd = m->dec_state_size, bad = 0;
    real *work = calloc(m->decode_workspace(B, T, V, VT) + 1, sizeof(real));
    real *s0 = calloc((size_t)B * Sd + 1, sizeof(real)), *s1 = calloc((size_t)B * Sd + 1, sizeof(real));
    RnnrtS2sDecCtx dc = {.B = B, .T = T, .V = V, .Vt = VT, .params = r->params, .src = r->src,
                         .src_len = r->src_len, .state_out = s0, .work = work};
    m->encode(&dc);
    for (int t = 0; t < T; t++) {
        dc.prev = r->dec + (size_t)t * B;
        dc.state_in = s0;
        dc.state_out = s1;
        m->step(&dc);
        for (int b = 0; b < B; b++)
            for (int v = 0; v < VT; v++) {
                double want = r->c.logits[((size_t)t * B + b) * VT + v], got = dc.logits[(size_t)b * VT + v];
                if (!close_to(want, got) && bad++ < 10)
                    fprintf(stderr, "  T %d step %d row %d logit %d: forward %.17g, step %.17g\n", T, t, b, v, want,
                            got);
            }
        if ((r->c.attention != NULL) != (dc.attention != NULL) && bad++ < 10)
            fprintf(stderr, "  T %d: forward and step disagree on having attention weights\n", T);
        for (int s = 0; r->c.attention && dc.attention && s < T; s++)
            for (int b = 0; b < B; b++) {
                double want = r->c.attention[((size_t)t * T + s) * B + b], got = dc.attention[(size_t)s * B + b];
                if (!close_to(want, got) && bad++ < 10)
                    fprintf(stderr, "  T %d step %d: attention on source step %d of row %d: forward %.17g, step "
                                    "%.17g\n", T, t, s, b, want, got);
            }
        real *tmp = s0;
        s0 = s1;
        s1 = tmp;
    }
    free(work);
    free(s0);
    free(s1);
    return bad;
}

int main(void)
{
    Run r = {.m = &S2S_MODEL};
    const RnnrtS2sModel *m = r.m;
    for (int i = 0; i < m->nparams; i++)
        r.np += param_numel(&m->params[i]);
    r.params = calloc(r.np, sizeof(real));
    r.grads = calloc(r.np, sizeof(real));
    r.state = calloc((size_t)B * m->state_size, sizeof(real));
    r.dstate = calloc((size_t)B * m->state_size, sizeof(real));
    for (size_t i = 0; i < r.np; i++)
        r.params[i] = (real)urand(-1, 1);
    for (int i = 0; i < B * m->state_size; i++)
        r.state[i] = (real)urand(-0.5, 0.5);
    static const int sl[B] = {4, 2}, tl[B] = {3, 1};
    for (int i = 0; i < MAXT * B; i++)
        r.src[i] = r.dec[i] = r.label[i] = PAD;
    for (int b = 0; b < B; b++) {
        r.src_len[b] = sl[b];
        r.tgt_len[b] = tl[b];
        for (int t = 0; t < 4; t++) {
            r.src[t * B + b] = t < sl[b] - 1 ? 4 + (int)urand(0, V - 4) : t == sl[b] - 1 ? EOS : PAD;
            r.label[t * B + b] = t < tl[b] - 1 ? 4 + (int)urand(0, VT - 4) : t == tl[b] - 1 ? EOS : PAD;
            r.dec[t * B + b] = t == 0 ? BOS : r.label[(t - 1) * B + b];
        }
    }
    set_T(&r, 4);
    grads(&r);
    real *g = malloc(r.np * sizeof(real)), *ds = malloc((size_t)B * m->state_size * sizeof(real));
    memcpy(g, r.grads, r.np * sizeof(real));
    memcpy(ds, r.dstate, (size_t)B * m->state_size * sizeof(real));
    double l4 = r.c.loss;
    int bad = check_interp(&r, g, ds);
    size_t off = 0;
    for (int i = 0; i < m->nparams; i++) {
        size_t n = param_numel(&m->params[i]);
        bad += check(&r, m->params[i].name, r.params + off, g + off, n);
        off += n;
    }
    bad += check(&r, "state_in", r.state, ds, (size_t)B * m->state_size);

    /* the same batch padded to T = 6 */
    set_T(&r, 6);
    grads(&r);
    if (fabs(r.c.loss - l4) > 1e-12 * fabs(l4)) {
        fprintf(stderr, "  padding changed the loss: %.17g at T=4, %.17g at T=6\n", l4, r.c.loss);
        bad++;
    }
    for (size_t i = 0; i < r.np; i++)
        if (fabs(r.grads[i] - g[i]) > 1e-12 * (1 + fabs(g[i])) && bad++ < 10)
            fprintf(stderr, "  padding changed gradient element %zu: %.17g -> %.17g\n", i, g[i], r.grads[i]);
    for (int i = 0; i < B * m->state_size; i++)
        if (fabs(r.dstate[i] - ds[i]) > 1e-12 * (1 + fabs(ds[i])) && bad++ < 10)
            fprintf(stderr, "  padding changed dstate element %d\n", i);
    int bad_step = check_step(&r, 4) + check_step(&r, 6);
    bad += bad_step;
    printf("%s: %zu parameters, loss %.12g, decoding step %s, %d mismatches\n", m->name, r.np, l4,
           bad_step ? "differs" : "equals forward", bad);
    free(g);
    free(ds);
    free(r.params);
    free(r.grads);
    free(r.state);
    free(r.dstate);
    free(r.work);
    return bad ? 1 : 0;
}
