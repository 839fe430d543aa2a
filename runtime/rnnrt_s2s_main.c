/*
 * rnnrt_s2s_main.c: the command line of a seq2seq trainer (issue #4).
 *
 *   MODEL train PAIRS [--epochs N] [--lr F] [--batch N] [--max-pairs N]
 *                     [--beam K] [--eval-max N] [--seed N]
 *
 * Trains the generated training step (RnnrtS2sModel) on the training split
 * of a tab-separated parallel corpus (rnnrt_pairs.c: d2l's preprocessing,
 * two vocabularies, num_steps = the spec's train.steps), as
 * bench/s2s_torch.py: shuffled minibatches (the last, partial one kept),
 * masked mean cross-entropy with teacher forcing, clipping at the recipe's
 * global norm, the recipe's optimizer. Then it decodes the held-out pairs
 * greedily and with beam search (rnnrt_beam.c) and prints corpus BLEU-4,
 * d2l's mean BLEU (k = 2) and the exact-match rate for each.
 *
 * Decoding needs the decoder one step at a time. Until rnnc emits a step
 * function, the step here reruns the training step's forward over the
 * whole source and the target prefix decoded so far (the rest <pad>, no
 * labels) and reads the logits at the prefix's end: the decoder is causal,
 * so those are the step's logits, at T times a step's cost. The "state" a
 * hypothesis carries is its prefix.
 *
 * Not written yet: checkpoints (with both vocabularies), eval and
 * translate on a saved model, --attention plots.
 */
#include "rnnrt_s2s.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const RnnrtS2sModel *m;
    int V, Vt, T;
    size_t np;
    size_t *offset;
    real *params, *grads;
} S2sParams;

static size_t dim_of(int d, int V, int Vt) { return (size_t)(d == RNNRT_DIM_V ? V : d == RNNRT_DIM_VT ? Vt : d); }

/* The parameter block in descriptor order, drawn as rnnrt_params_randomize:
 * one RNG, each parameter row-major. */
static void params_init(S2sParams *p, const RnnrtS2sModel *m, int V, int Vt, RnnrtRng *rng)
{
    p->m = m;
    p->V = V;
    p->Vt = Vt;
    p->offset = rnnrt_xcalloc((size_t)m->nparams + 1, sizeof(size_t), "parameter offsets");
    for (int i = 0; i < m->nparams; i++) {
        size_t n = 1;
        for (int k = 0; k < m->params[i].ndim; k++)
            n *= dim_of(m->params[i].dims[k], V, Vt);
        p->offset[i + 1] = p->offset[i] + n;
    }
    p->np = p->offset[m->nparams];
    p->params = rnnrt_xcalloc(p->np, sizeof(real), "parameters");
    p->grads = rnnrt_xcalloc(p->np, sizeof(real), "gradients");
    for (int i = 0; i < m->nparams; i++) {
        const RnnrtParamDesc *d = &m->params[i];
        real *x = p->params + p->offset[i];
        size_t n = p->offset[i + 1] - p->offset[i];
        for (size_t j = 0; j < n && d->init != RNNRT_INIT_ZEROS; j++)
            x[j] = (real)(d->init == RNNRT_INIT_NORMAL ? d->init_arg * rnnrt_rng_normal(rng)
                                                      : d->init_arg * (2 * rnnrt_rng_uniform(rng) - 1));
    }
}

static void params_free(S2sParams *p)
{
    free(p->offset);
    free(p->params);
    free(p->grads);
}

/* One forward/backward context with its own buffers, for up to B rows. */
typedef struct {
    RnnrtS2sCtx c;
    real *state, *work;
} Step;

static void step_init(Step *s, const S2sParams *p, int B, int T)
{
    size_t n = p->m->workspace(B, T, p->V, p->Vt);
    if (n == 0) {
        fprintf(stderr, "rnnrt: error: the workspace for B %d, T %d does not fit\n", B, T);
        exit(RNNRT_EXIT_USAGE);
    }
    s->work = rnnrt_xcalloc(n, sizeof(real), "the workspace");
    s->state = rnnrt_xcalloc((size_t)B * (size_t)p->m->state_size + 1, sizeof(real), "initial states");
    s->c = (RnnrtS2sCtx){.B = B, .T = T, .V = p->V, .Vt = p->Vt, .params = p->params, .grads = p->grads,
                         .state_in = s->state, .work = s->work};
}

static void step_free(Step *s)
{
    free(s->work);
    free(s->state);
}

/* ---- decoding through the training step's forward ---- */

typedef struct {
    const S2sParams *p;
    Step step;
    int T, k, nsent;
    int calls;                    /* step calls of this search: the position */
    int32_t *src, *src_len;       /* [nsent][T], [nsent] */
    int32_t *x, *dec, *label, *sl, *tl; /* [T][rows], [rows] */
} Decoder;

/* state: [count, dec_in[0], ..., dec_in[T-1]] as reals. The position is
 * the call's number, not the state's count: rows of finished hypotheses
 * come with stale states. */
static void decode_step(void *model, int n, const int32_t *prev, const real *state_in, real *state_out,
                        real *logprobs)
{
    Decoder *d = model;
    int T = d->T, S = T + 1, Vt = d->p->Vt, pos = d->calls++;
    if (pos >= T)
        pos = T - 1; /* max_len <= T: never past the last step */
    for (int r = 0; r < n; r++) {
        const real *si = state_in + (size_t)r * S;
        real *so = state_out + (size_t)r * S;
        memcpy(so, si, (size_t)S * sizeof(real));
        so[1 + pos] = (real)prev[r];
        so[0] = (real)(pos + 1);
        int sent = r / d->k;
        for (int t = 0; t < T; t++) {
            d->x[t * n + r] = d->src[(size_t)sent * T + t];
            d->dec[t * n + r] = t <= pos ? (int32_t)so[1 + t] : RNNRT_PAD;
            d->label[t * n + r] = RNNRT_PAD;
        }
        d->sl[r] = d->src_len[sent];
        d->tl[r] = 0;
    }
    RnnrtS2sCtx c = d->step.c;
    c.B = n;
    c.src = d->x;
    c.dec_in = d->dec;
    c.label = d->label;
    c.src_len = d->sl;
    c.tgt_len = d->tl;
    d->p->m->forward(&c);
    for (int r = 0; r < n; r++) {
        const real *z = c.logits + ((size_t)pos * n + r) * Vt;
        double mx = z[0], s = 0;
        for (int v = 1; v < Vt; v++)
            mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < Vt; v++)
            s += exp(z[v] - mx);
        double lse = mx + log(s);
        for (int v = 0; v < Vt; v++)
            logprobs[(size_t)r * Vt + v] = (real)(z[v] - lse);
    }
}

typedef struct {
    RnnrtBleuStats bleu;
    double d2l_sum;
    size_t exact, n;
} Score;

/* Decodes held-out pairs [first, first + count) with width k and scores
 * them against the untruncated references. */
static int decode_eval(const S2sParams *p, const RnnrtPairs *pairs, size_t first, size_t count, int k, Score *sc,
                       RnnrtError *err)
{
    enum { CHUNK = 128 };
    int T = pairs->T;
    Decoder d = {.p = p, .T = T, .k = k};
    int rows = CHUNK * k;
    step_init(&d.step, p, rows, T);
    d.x = rnnrt_xcalloc((size_t)rows * T, sizeof(int32_t), "decoder inputs");
    d.dec = rnnrt_xcalloc((size_t)rows * T, sizeof(int32_t), "decoder inputs");
    d.label = rnnrt_xcalloc((size_t)rows * T, sizeof(int32_t), "decoder inputs");
    d.sl = rnnrt_xcalloc((size_t)rows, sizeof(int32_t), "lengths");
    d.tl = rnnrt_xcalloc((size_t)rows, sizeof(int32_t), "lengths");
    RnnrtVocab words; /* BLEU over strings: unknown reference words stay distinct */
    rnnrt_vocab_init(&words);
    real *state0 = rnnrt_xcalloc((size_t)CHUNK * (T + 1), sizeof(real), "decoder states");
    int32_t *pred = rnnrt_xcalloc((size_t)T + 1, sizeof(int32_t), "a prediction");
    int32_t *ref = NULL;
    size_t refcap = 0;
    rnnrt_bleu_stats_init(&sc->bleu);
    int rc = 0;
    RnnrtBeamOpts o;
    rnnrt_beam_opts_default(&o);
    o.beam = k;
    o.max_len = T;
    for (size_t at = first; at < first + count && !rc; at += CHUNK) {
        int nsent = (int)(first + count - at < CHUNK ? first + count - at : CHUNK);
        d.nsent = nsent;
        d.src = pairs->src_arr + at * (size_t)T;
        d.src_len = pairs->src_valid + at;
        memset(state0, 0, (size_t)CHUNK * (T + 1) * sizeof(real));
        d.calls = 0;
        RnnrtBeamResult res;
        rc = rnnrt_beam_search(decode_step, &d, nsent, p->Vt, T + 1, state0, &o, &res, err);
        if (rc)
            break;
        for (int s = 0; s < nsent; s++) {
            size_t i = at + (size_t)s, b = pairs->tgt.start[i], e = pairs->tgt.start[i + 1];
            if (e - b > refcap) {
                refcap = e - b;
                ref = realloc(ref, refcap * sizeof(int32_t));
                if (!ref)
                    rnnrt_xcalloc(SIZE_MAX, 1, "a reference"); /* reports and exits */
            }
            for (size_t j = b; j < e; j++)
                ref[j - b] = rnnrt_bleu_intern(&words, pairs->tgt.tok[j]);
            int len = res.len[s];
            for (int j = 0; j < len; j++)
                pred[j] = rnnrt_bleu_intern(&words, p->Vt > res.tokens[(size_t)s * res.max_len + j]
                                                        ? pairs->tgt_vocab.tokens[res.tokens[(size_t)s * res.max_len + j]]
                                                        : "<unk>");
            rnnrt_bleu_stats_add(&sc->bleu, pred, len, ref, (int)(e - b));
            sc->d2l_sum += rnnrt_bleu_d2l(pred, len, ref, (int)(e - b), 2);
            sc->exact += (size_t)len == e - b && memcmp(pred, ref, (size_t)len * sizeof(int32_t)) == 0;
            sc->n++;
        }
        rnnrt_beam_result_free(&res);
    }
    free(ref);
    free(pred);
    free(state0);
    rnnrt_vocab_free(&words);
    free(d.x);
    free(d.dec);
    free(d.label);
    free(d.sl);
    free(d.tl);
    step_free(&d.step);
    return rc;
}

/* ---- training ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int train(const RnnrtS2sModel *m, const char *path, int epochs, double lr, int B, int64_t max_pairs, int beam,
                 int64_t eval_max, uint64_t seed, RnnrtError *err)
{
    const RnnrtRecipe *r = &m->recipe;
    RnnrtPairsOpts po;
    rnnrt_pairs_opts_default(&po);
    po.train_frac = r->split;
    po.min_freq = r->min_freq > 0 ? r->min_freq : 1;
    po.num_steps = r->steps;
    po.max_pairs = (size_t)max_pairs;
    RnnrtPairs pairs;
    int rc = rnnrt_pairs_load(&pairs, path, &po, NULL, NULL, err);
    if (rc)
        return rc;
    int T = pairs.T;
    RnnrtRng rng;
    rnnrt_rng_init(&rng, seed);
    S2sParams p;
    params_init(&p, m, pairs.src_vocab.size, pairs.tgt_vocab.size, &rng);
    printf("%s: %zu pairs (%zu train), vocabularies %d / %d, num_steps %d, %zu parameters\n", m->name, pairs.n,
           pairs.ntrain, p.V, p.Vt, T, p.np);
    RnnrtOptim opt;
    rc = rnnrt_optim_init(&opt, r->optimizer, r->momentum, r->beta1, r->beta2, r->eps, p.np, err);
    if (rc) {
        params_free(&p);
        rnnrt_pairs_free(&pairs);
        return rc;
    }
    Step st;
    step_init(&st, &p, B, T);
    RnnrtS2sBatcher bt;
    RnnrtS2sBatch mb;
    rnnrt_s2s_batcher_init(&bt, &pairs, 0, pairs.ntrain, B, 1, 0);
    rnnrt_s2s_batch_init(&mb, B, T);
    double t_train = 0;
    int64_t tokens = 0;
    for (int ep = 0; ep < epochs; ep++) {
        rnnrt_s2s_batcher_epoch(&bt, &rng);
        double sum = 0, t0 = now();
        int64_t ntok = 0;
        for (size_t i = 0; i < bt.nbatches; i++) {
            rnnrt_s2s_batcher_get(&bt, i, &mb);
            RnnrtS2sCtx c = st.c;
            c.src = mb.src;
            c.dec_in = mb.dec_in;
            c.label = mb.label;
            c.src_len = mb.src_valid;
            c.tgt_len = mb.tgt_valid;
            memset(p.grads, 0, p.np * sizeof(real));
            m->forward(&c);
            m->backward(&c);
            rnnrt_clip_grad_norm(p.grads, p.np, r->clip_norm);
            rnnrt_optim_step(&opt, p.params, p.grads, lr);
            sum += c.loss * (double)mb.ntokens;
            ntok += mb.ntokens;
        }
        t_train += now() - t0;
        tokens += ntok;
        printf("epoch %d loss %.4f\n", ep + 1, ntok ? sum / (double)ntok : 0.0);
        fflush(stdout);
    }
    printf("train_tok_s %.0f\n", t_train > 0 ? (double)tokens / t_train : 0.0);
    size_t held = pairs.n - pairs.ntrain;
    if (eval_max >= 0 && (size_t)eval_max < held)
        held = (size_t)eval_max;
    int widths[2] = {1, beam};
    for (int w = 0; w < 2 && held > 0 && !rc; w++) {
        if (w == 1 && beam <= 1)
            break;
        Score sc = {0};
        rc = decode_eval(&p, &pairs, pairs.ntrain, held, widths[w], &sc, err);
        if (!rc)
            printf("%s: corpus BLEU-4 %.2f, mean d2l BLEU %.4f, exact match %.4f (%zu held-out pairs)\n",
                   widths[w] == 1 ? "greedy" : "beam", 100 * rnnrt_bleu_stats_score(&sc.bleu),
                   sc.d2l_sum / (double)sc.n, (double)sc.exact / (double)sc.n, sc.n);
    }
    rnnrt_s2s_batch_free(&mb);
    rnnrt_s2s_batcher_free(&bt);
    step_free(&st);
    rnnrt_optim_free(&opt);
    params_free(&p);
    rnnrt_pairs_free(&pairs);
    return rc;
}

int rnnrt_s2s_main(int argc, char **argv, const RnnrtS2sModel *m)
{
    const char *prog = rnnrt_cli_prog(argc, argv, m->name);
    const RnnrtRecipe *r = &m->recipe;
    if (argc < 2 || strcmp(argv[1], "train") != 0) {
        fprintf(argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? stdout : stderr,
                "usage: %s train PAIRS [options]   (see %s train --help)\n"
                "A seq2seq trainer (%s); eval, translate and checkpoints are not written yet.\n",
                prog, prog, m->spec_path);
        return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : RNNRT_EXIT_USAGE;
    }
    int epochs = r->epochs, batch = r->batch, beam = 4;
    double lr = r->lr;
    int64_t max_pairs = 0, eval_max = -1;
    uint64_t seed = r->seed;
    const RnnrtOpt opts[] = {
        {"--epochs", RNNRT_OPT_INT, &epochs, "N", "passes over the training pairs", 1, 1e6},
        {"--lr", RNNRT_OPT_DOUBLE, &lr, "F", "learning rate", DBL_MIN, 1e6},
        {"--batch", RNNRT_OPT_INT, &batch, "N", "pairs per minibatch", 1, 65536},
        {"--max-pairs", RNNRT_OPT_I64, &max_pairs, "N", "read only the first N pairs (0 = all)", 0, 1e15},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width for the second decoding (1 = greedy only)", 1, 64},
        {"--eval-max", RNNRT_OPT_I64, &eval_max, "N", "decode at most N held-out pairs (-1 = all)", -1, 1e15},
        {"--seed", RNNRT_OPT_U64, &seed, "N", "initialization and shuffling seed", 0, 0},
        {0},
    };
    if (argc < 3 || argv[2][0] == '-') {
        int rc = rnnrt_cli_parse(argc - 1, argv + 1, prog, "train PAIRS: train, then decode the held-out pairs", opts);
        if (rc == RNNRT_HELP_SHOWN)
            return 0;
        fprintf(stderr, "%s: error: train needs a PAIRS file (source<TAB>target per line)\n", prog);
        return RNNRT_EXIT_USAGE;
    }
    const char *path = argv[2];
    argv[2] = argv[1]; /* the options parser sees "train --opt ..." */
    int rc = rnnrt_cli_parse(argc - 2, argv + 2, prog, "train PAIRS: train, then decode the held-out pairs", opts);
    if (rc == RNNRT_HELP_SHOWN)
        return 0;
    if (rc)
        return rc;
    RnnrtError err = {0};
    rc = train(m, path, epochs, lr, batch, max_pairs, beam, eval_max, seed, &err);
    return rnnrt_cli_report(rc, &err, prog, "train");
}
