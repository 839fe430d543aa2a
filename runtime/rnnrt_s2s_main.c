/*
 * rnnrt_s2s_main.c: the command line of a seq2seq trainer (issue #4).
 *
 *   MODEL train PAIRS [--epochs N] [--lr F] [--batch N] [--max-pairs N]
 *                     [--beam K] [--eval-max N] [--seed N] [--save CKPT]
 *   MODEL eval PAIRS --model CKPT [--beam K] [--max-pairs N] [--eval-max N]
 *   MODEL translate --model CKPT [--beam K] [--attention OUT.csv]
 *                                                (stdin -> stdout)
 *   MODEL gradcheck [--seed N] [--max-per-param N] ...   (double build)
 *   MODEL dump [--seed N] ...                 (for rnnc SPEC --check DUMP)
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
 * Checkpoints (--save) hold the spec hash, both vocabularies and the
 * parameters, each section with a CRC32, written atomically; eval and
 * translate load them. Not written yet: resuming training (the optimizer's
 * moments are not saved).
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
    real *attn;                   /* NULL, or [T calls][rows][T]: each call's weights */
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
    for (int r = 0; d->attn && c.attention && r < n; r++)
        for (int t = 0; t < T; t++)
            d->attn[((size_t)pos * n + r) * T + t] = c.attention[((size_t)pos * T + t) * n + r];
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

/* ---- checkpoints ----
 * "RNNS2S01", u32 sizeof(real), then sections (rnnrt_buf_put_section:
 * char name[8], u64 n, u32 CRC32, u32 0, payload): "header" (model name,
 * spec hash, V, Vt, nparams, total reals), "srcvocab" and "tgtvocab"
 * (size, then each token's bytes and count), "params" (the block). */
static const char ckpt_magic[8] = {'R', 'N', 'N', 'S', '2', 'S', '0', '1'};

static void put_vocab(RnnrtBuf *b, const char *name, const RnnrtVocab *v)
{
    RnnrtBuf s = {.what = "a checkpoint"};
    rnnrt_buf_put_u32(&s, (uint32_t)v->size);
    for (int i = 0; i < v->size; i++) {
        rnnrt_buf_put_str(&s, v->tokens[i]);
        rnnrt_buf_put_i64(&s, v->counts[i]);
    }
    rnnrt_buf_put_section(b, name, s.p, s.n);
    rnnrt_buf_free(&s);
}

static int ckpt_save(const char *path, const S2sParams *p, const RnnrtPairs *pairs, RnnrtError *err)
{
    RnnrtBuf b = {.what = "a checkpoint"}, h = {.what = "a checkpoint"};
    rnnrt_buf_put(&b, ckpt_magic, 8);
    rnnrt_buf_put_u32(&b, (uint32_t)sizeof(real));
    rnnrt_buf_put_str(&h, p->m->name);
    rnnrt_buf_put_u64(&h, p->m->spec_hash);
    rnnrt_buf_put_u32(&h, (uint32_t)p->V);
    rnnrt_buf_put_u32(&h, (uint32_t)p->Vt);
    rnnrt_buf_put_u32(&h, (uint32_t)p->m->nparams);
    rnnrt_buf_put_u64(&h, p->np);
    rnnrt_buf_put_section(&b, "header", h.p, h.n);
    put_vocab(&b, "srcvocab", &pairs->src_vocab);
    put_vocab(&b, "tgtvocab", &pairs->tgt_vocab);
    rnnrt_buf_put_section(&b, "params", p->params, p->np * sizeof(real));
    RnnrtSaveStage stage;
    int e = rnnrt_file_save(path, rnnrt_file_write_buf, &b, &stage);
    rnnrt_buf_free(&h);
    rnnrt_buf_free(&b);
    return e ? rnnrt_error(err, RNNRT_EXIT_IO, "cannot save '%s': %s", path, strerror(e)) : 0;
}

/* The next section, which must be `name`, with its CRC checked. */
static int get_section(RnnrtReader *r, const char *path, const char *name, RnnrtReader *out, RnnrtError *err)
{
    char got[9] = {0};
    rnnrt_reader_get(r, got, 8);
    uint64_t n = rnnrt_reader_u64(r);
    uint32_t crc = rnnrt_reader_u32(r);
    (void)rnnrt_reader_u32(r);
    if (r->bad || strncmp(got, name, 8) != 0 || n > r->n - r->pos)
        return rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is truncated or not a seq2seq checkpoint (section %s)", path,
                           name);
    *out = (RnnrtReader){r->p + r->pos, (size_t)n, 0, 0};
    r->pos += (size_t)n;
    if (rnnrt_crc32(0, out->p, out->n) != crc)
        return rnnrt_error(err, RNNRT_EXIT_IO, "'%s': section %s fails its CRC check", path, name);
    return 0;
}

static int get_vocab(RnnrtReader *r, const char *path, const char *name, RnnrtVocab *v, RnnrtError *err)
{
    RnnrtReader s;
    int rc = get_section(r, path, name, &s, err);
    if (rc)
        return rc;
    uint32_t n = rnnrt_reader_u32(&s);
    for (uint32_t i = 0; i < n && !s.bad; i++) {
        size_t len;
        const char *tok = rnnrt_reader_str(&s, &len);
        int64_t count = rnnrt_reader_i64(&s);
        if (i >= 4 && rnnrt_vocab_add(v, tok, len, count) != (int)i)
            s.bad = 1;
    }
    if (s.bad || (uint32_t)v->size != n)
        return rnnrt_error(err, RNNRT_EXIT_IO, "'%s': the %s section is damaged", path, name);
    return rnnrt_s2s_vocab_check(v, strcmp(name, "srcvocab") ? "target vocabulary" : "source vocabulary", err);
}

static int ckpt_load(const char *path, const RnnrtS2sModel *m, S2sParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                     RnnrtError *err)
{
    size_t len;
    unsigned char *data;
    rnnrt_vocab_init(sv); /* the caller frees them, whatever happens */
    rnnrt_vocab_init(tv);
    int rc = rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, (char **)&data, &len, err);
    if (rc)
        return rc;
    RnnrtReader r = {data, len, 0, 0}, h, ps;
    char magic[8];
    rnnrt_reader_get(&r, magic, 8);
    if (r.bad || memcmp(magic, ckpt_magic, 8) != 0) {
        free(data);
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "'%s' is not a seq2seq checkpoint", path);
    }
    if (rnnrt_reader_u32(&r) != sizeof(real)) {
        free(data);
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "'%s' was saved by a %s build", path,
                           sizeof(real) == 4 ? "double" : "float");
    }
    rc = get_section(&r, path, "header", &h, err);
    size_t nlen = 0;
    const char *name = rc ? "" : rnnrt_reader_str(&h, &nlen);
    uint64_t hash = rnnrt_reader_u64(&h);
    int V = (int)rnnrt_reader_u32(&h), Vt = (int)rnnrt_reader_u32(&h), np = (int)rnnrt_reader_u32(&h);
    uint64_t total = rnnrt_reader_u64(&h);
    if (!rc && (h.bad || nlen != strlen(m->name) || memcmp(name, m->name, nlen) != 0 || hash != m->spec_hash ||
                np != m->nparams))
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "'%s' was saved by another model or spec than %s (%s)", path,
                         m->name, m->spec_path);
    if (!rc) {
        rc = get_vocab(&r, path, "srcvocab", sv, err);
        if (!rc)
            rc = get_vocab(&r, path, "tgtvocab", tv, err);
    }
    if (!rc && (sv->size != V || tv->size != Vt))
        rc = rnnrt_error(err, RNNRT_EXIT_IO, "'%s': the vocabularies disagree with the header", path);
    if (!rc)
        rc = get_section(&r, path, "params", &ps, err);
    if (!rc) {
        RnnrtRng rng;
        rnnrt_rng_init(&rng, 0);
        params_init(p, m, V, Vt, &rng);
        if (p->np != total || ps.n != total * sizeof(real)) {
            params_free(p);
            rc = rnnrt_error(err, RNNRT_EXIT_IO, "'%s': the parameter block has the wrong size", path);
        } else {
            memcpy(p->params, ps.p, ps.n);
        }
    }
    free(data);
    return rc;
}

/* ---- training ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Greedy, then (beam > 1) beam search over held-out pairs; one line each. */
static int report_eval(const S2sParams *p, const RnnrtPairs *pairs, int beam, int64_t eval_max, RnnrtError *err)
{
    size_t held = pairs->n - pairs->ntrain;
    if (eval_max >= 0 && (size_t)eval_max < held)
        held = (size_t)eval_max;
    int rc = 0, widths[2] = {1, beam};
    for (int w = 0; w < 2 && held > 0 && !rc; w++) {
        if (w == 1 && beam <= 1)
            break;
        Score sc = {0};
        rc = decode_eval(p, pairs, pairs->ntrain, held, widths[w], &sc, err);
        if (!rc)
            printf("%s: corpus BLEU-4 %.2f, mean d2l BLEU %.4f, exact match %.4f (%zu held-out pairs)\n",
                   widths[w] == 1 ? "greedy" : "beam", 100 * rnnrt_bleu_stats_score(&sc.bleu),
                   sc.d2l_sum / (double)sc.n, (double)sc.exact / (double)sc.n, sc.n);
    }
    return rc;
}

static int train(const RnnrtS2sModel *m, const char *path, int epochs, double lr, int B, int64_t max_pairs, int beam,
                 int64_t eval_max, uint64_t seed, const char *save, RnnrtError *err)
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
    if (save)
        rc = ckpt_save(save, &p, &pairs, err);
    if (!rc && save)
        printf("saved %s\n", save);
    if (!rc)
        rc = report_eval(&p, &pairs, beam, eval_max, err);
    rnnrt_s2s_batch_free(&mb);
    rnnrt_s2s_batcher_free(&bt);
    step_free(&st);
    rnnrt_optim_free(&opt);
    params_free(&p);
    rnnrt_pairs_free(&pairs);
    return rc;
}

/* ---- eval and translate on a checkpoint ---- */

static int eval_cmd(const RnnrtS2sModel *m, const char *path, const char *model, int beam, int64_t max_pairs,
                    int64_t eval_max, RnnrtError *err)
{
    S2sParams p;
    RnnrtVocab sv, tv;
    int rc = ckpt_load(model, m, &p, &sv, &tv, err);
    if (rc) {
        rnnrt_vocab_free(&sv);
        rnnrt_vocab_free(&tv);
        return rc;
    }
    RnnrtPairsOpts po;
    rnnrt_pairs_opts_default(&po);
    po.train_frac = m->recipe.split;
    po.min_freq = m->recipe.min_freq > 0 ? m->recipe.min_freq : 1;
    po.num_steps = m->recipe.steps;
    po.max_pairs = (size_t)max_pairs;
    RnnrtPairs pairs;
    rc = rnnrt_pairs_load(&pairs, path, &po, &sv, &tv, err);
    if (!rc) {
        rc = report_eval(&p, &pairs, beam, eval_max, err);
        rnnrt_pairs_free(&pairs);
    }
    params_free(&p);
    rnnrt_vocab_free(&sv);
    rnnrt_vocab_free(&tv);
    return rc;
}

/* One translation per stdin line; unknown words become <unk>, an empty
 * line translates too (from <eos> alone). ckpt_load's failure leaves the
 * parameters unallocated (d.x stays NULL). */
/* translate --attention: one matrix per line, kept until the end. */
typedef struct {
    RnnrtAttnMatrix *mat;
    int n, cap;
} Plots;

static void plot_add(Plots *pl, const RnnrtVocab *sv, const RnnrtVocab *tv, const int32_t *row, int ns,
                     const RnnrtBeamResult *res, const real *attn, int k, int T)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 16;
        pl->mat = realloc(pl->mat, (size_t)pl->cap * sizeof *pl->mat);
        if (!pl->mat)
            rnnrt_xcalloc(SIZE_MAX, 1, "attention plots"); /* reports and exits */
    }
    int nt = res->len[0];
    const char **src = rnnrt_xcalloc((size_t)ns + 1, sizeof(char *), "plot labels");
    const char **tgt = rnnrt_xcalloc((size_t)nt + 1, sizeof(char *), "plot labels");
    real *w = rnnrt_xcalloc((size_t)nt * ns + 1, sizeof(real), "attention weights");
    for (int j = 0; j < ns; j++)
        src[j] = sv->tokens[row[j]];
    for (int i = 0; i < nt; i++) {
        tgt[i] = tv->tokens[res->tokens[i]];
        int r = res->rows[i];
        for (int j = 0; j < ns; j++)
            w[(size_t)i * ns + j] = attn[((size_t)i * k + r) * T + j];
    }
    pl->mat[pl->n++] = (RnnrtAttnMatrix){ns, nt, src, tgt, w};
}

static int plots_save(Plots *pl, const char *csv, RnnrtError *err)
{
    size_t n = strlen(csv);
    char *svg = rnnrt_xcalloc(n + 5, 1, "a path");
    memcpy(svg, csv, n);
    if (n > 4 && !strcmp(csv + n - 4, ".csv"))
        n -= 4;
    strcpy(svg + n, ".svg");
    int rc = rnnrt_attn_save(csv, svg, pl->mat, pl->n, err);
    free(svg);
    for (int i = 0; i < pl->n; i++) {
        free((void *)pl->mat[i].src);
        free((void *)pl->mat[i].tgt);
        free((void *)pl->mat[i].w);
    }
    free(pl->mat);
    return rc;
}

static int translate_cmd(const RnnrtS2sModel *m, const char *model, int beam, const char *attention,
                         RnnrtError *err)
{
    Plots plots = {0};
    S2sParams p;
    RnnrtVocab sv, tv;
    int rc = ckpt_load(model, m, &p, &sv, &tv, err);
    int T = m->recipe.steps;
    int32_t *row = rnnrt_xcalloc((size_t)T, sizeof(int32_t), "a sentence"), valid = 0;
    Decoder d = {.p = &p, .T = T, .k = beam, .nsent = 1, .src = row, .src_len = &valid};
    if (!rc) {
        step_init(&d.step, &p, beam, T);
        d.x = rnnrt_xcalloc((size_t)beam * T, sizeof(int32_t), "decoder inputs");
        d.dec = rnnrt_xcalloc((size_t)beam * T, sizeof(int32_t), "decoder inputs");
        d.label = rnnrt_xcalloc((size_t)beam * T, sizeof(int32_t), "decoder inputs");
        d.sl = rnnrt_xcalloc((size_t)beam, sizeof(int32_t), "lengths");
        d.tl = rnnrt_xcalloc((size_t)beam, sizeof(int32_t), "lengths");
        if (attention)
            d.attn = rnnrt_xcalloc((size_t)T * beam * T, sizeof(real), "attention weights");
    }
    if (!rc && attention && !m->has_attention)
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "--attention: model %s has no attention", m->name);
    RnnrtBeamOpts o;
    rnnrt_beam_opts_default(&o);
    o.beam = beam;
    o.max_len = T;
    real *state0 = rnnrt_xcalloc((size_t)T + 1, sizeof(real), "a decoder state");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    while (!rc && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if ((rc = rnnrt_s2s_check_line(line, len, "<stdin>", lineno, err)) != 0)
            break;
        rnnrt_s2s_encode(&sv, line, len, T, row, &valid, NULL);
        memset(state0, 0, ((size_t)T + 1) * sizeof(real));
        d.calls = 0;
        RnnrtBeamResult res;
        if ((rc = rnnrt_beam_search(decode_step, &d, 1, p.Vt, T + 1, state0, &o, &res, err)) != 0)
            break;
        for (int j = 0; j < res.len[0]; j++)
            printf("%s%s", j ? " " : "", tv.tokens[res.tokens[j]]);
        printf("\n");
        fflush(stdout);
        if (d.attn)
            plot_add(&plots, &sv, &tv, row, valid, &res, d.attn, beam, T);
        rnnrt_beam_result_free(&res);
    }
    if (!rc && attention)
        rc = plots_save(&plots, attention, err);
    free(line);
    free(state0);
    free(row);
    free(d.attn);
    if (d.x) {
        free(d.x);
        free(d.dec);
        free(d.label);
        free(d.sl);
        free(d.tl);
        step_free(&d.step);
        params_free(&p);
    }
    rnnrt_vocab_free(&sv);
    rnnrt_vocab_free(&tv);
    return rc;
}

/* ---- gradcheck and dump ----
 * A random problem from --seed (one RNG, in this order): the parameters,
 * then per row a source and a target length in [1, T] and the tokens (ids
 * >= 4, then <eos>, then <pad>, as the arrays; decoder input = <bos> +
 * labels[:-1]), then state_in U(-0.5, 0.5). */
typedef struct {
    S2sParams p;
    Step st;
    int32_t *src, *lab, *dec, *sl, *tl;
    real *dstate;
    RnnrtS2sCtx c;
} Problem;

static void problem_init(Problem *pb, const RnnrtS2sModel *m, uint64_t seed, int B, int T, int V, int Vt)
{
    RnnrtRng rng;
    rnnrt_rng_init(&rng, seed);
    params_init(&pb->p, m, V, Vt, &rng);
    step_init(&pb->st, &pb->p, B, T);
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
}

static void problem_free(Problem *pb)
{
    free(pb->src);
    free(pb->lab);
    free(pb->dec);
    free(pb->sl);
    free(pb->tl);
    free(pb->dstate);
    step_free(&pb->st);
    params_free(&pb->p);
}

static void problem_run(Problem *pb, const RnnrtS2sModel *m)
{
    memset(pb->p.grads, 0, pb->p.np * sizeof(real));
    m->forward(&pb->c);
    m->backward(&pb->c);
}

/* Every element (or --max-per-param N evenly spaced ones per tensor)
 * against central differences, eps 1e-6, |a - n| <= 1e-5 + 1e-3 |n|. Only
 * meaningful in double: the float build refuses. */
static int gradcheck_cmd(const RnnrtS2sModel *m, uint64_t seed, int B, int T, int V, int Vt, int64_t max_per,
                         RnnrtError *err)
{
    if (sizeof(real) != sizeof(double))
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "gradcheck needs the double build (%s_d)", m->name);
    Problem pb;
    problem_init(&pb, m, seed, B, T, V, Vt);
    problem_run(&pb, m);
    S2sParams *p = &pb.p;
    size_t ns = (size_t)B * m->state_size;
    real *g = rnnrt_xcalloc(p->np + 1, sizeof(real), "gradients");
    memcpy(g, p->grads, p->np * sizeof(real));
    int bad = 0;
    size_t checked = 0;
    for (int i = 0; i <= m->nparams; i++) {
        /* i == nparams: the encoder's initial states */
        real *x = i < m->nparams ? p->params + p->offset[i] : pb.st.state;
        const real *a = i < m->nparams ? g + p->offset[i] : pb.dstate;
        size_t n = i < m->nparams ? p->offset[i + 1] - p->offset[i] : ns;
        size_t stride = max_per > 0 && (size_t)max_per < n ? n / (size_t)max_per : 1;
        for (size_t j = 0; j < n; j += stride) {
            double x0 = x[j];
            x[j] = (real)(x0 + 1e-6);
            m->forward(&pb.c);
            double lp = pb.c.loss;
            x[j] = (real)(x0 - 1e-6);
            m->forward(&pb.c);
            double lm = pb.c.loss;
            x[j] = (real)x0;
            double num = (lp - lm) / 2e-6;
            checked++;
            if (!(fabs(a[j] - num) <= 1e-5 + 1e-3 * fabs(num)) && bad++ < 5)
                fprintf(stderr, "  %s[%zu]: backward %.10g, finite differences %.10g\n",
                        i < m->nparams ? m->params[i].name : "state_in", j, (double)a[j], num);
        }
    }
    printf("gradcheck: %zu elements, %d mismatches (B %d, T %d, V %d, Vt %d, seed %llu)\n", checked, bad, B, T, V,
           Vt, (unsigned long long)seed);
    free(g);
    problem_free(&pb);
    return bad ? rnnrt_error(err, RNNRT_EXIT_USAGE, "gradcheck: %d of %zu gradient elements disagree", bad,
                             checked)
               : 0;
}

static void put_reals(const char *key, const char *name, const real *v, size_t n)
{
    printf("%s%s%s %zu", key, name ? " " : "", name ? name : "", n);
    for (size_t i = 0; i < n; i++)
        printf(" %.17g", (double)v[i]);
    printf("\n");
}

static void put_ids(const char *key, const int32_t *v, size_t n)
{
    printf("%s %zu", key, n);
    for (size_t i = 0; i < n; i++)
        printf(" %d", v[i]);
    printf("\n");
}

/* One forward and backward on the random problem, everything as text for
 * `rnnc SPEC --check DUMP` (compiler/check.c's seq2seq records). */
static int dump_cmd(const RnnrtS2sModel *m, uint64_t seed, int B, int T, int V, int Vt)
{
    Problem pb;
    problem_init(&pb, m, seed, B, T, V, Vt);
    problem_run(&pb, m);
    size_t tb = (size_t)T * B, ns = (size_t)B * m->state_size;
    printf("dims %d %d %d %d %d\n", B, T, V, Vt, m->state_size);
    for (int i = 0; i < m->nparams; i++)
        put_reals("param", m->params[i].name, pb.p.params + pb.p.offset[i], pb.p.offset[i + 1] - pb.p.offset[i]);
    put_ids("x", pb.src, tb);
    put_ids("dec_in", pb.dec, tb);
    put_ids("y", pb.lab, tb);
    put_ids("src_len", pb.sl, (size_t)B);
    put_ids("tgt_len", pb.tl, (size_t)B);
    put_reals("state", NULL, pb.st.state, ns);
    printf("loss %.17g\n", pb.c.loss);
    put_reals("logits", NULL, pb.c.logits, tb * (size_t)Vt);
    for (int i = 0; i < m->nparams; i++)
        put_reals("grad", m->params[i].name, pb.p.grads + pb.p.offset[i], pb.p.offset[i + 1] - pb.p.offset[i]);
    put_reals("dstate", NULL, pb.dstate, ns);
    problem_free(&pb);
    return fflush(stdout) ? RNNRT_EXIT_IO : 0;
}

static int usage(FILE *f, const char *prog, const RnnrtS2sModel *m)
{
    fprintf(f,
            "usage: %s train PAIRS [options]\n"
            "       %s eval PAIRS --model CKPT [options]\n"
            "       %s translate --model CKPT [--beam K] < sentences\n"
            "       %s gradcheck [options]   (the double build)\n"
            "       %s dump [options]        (for rnnc SPEC --check DUMP)\n"
            "A seq2seq trainer (%s); see %s COMMAND --help.\n",
            prog, prog, prog, prog, prog, m->spec_path, prog);
    return f == stdout ? 0 : RNNRT_EXIT_USAGE;
}

int rnnrt_s2s_main(int argc, char **argv, const RnnrtS2sModel *m)
{
    const char *prog = rnnrt_cli_prog(argc, argv, m->name);
    const RnnrtRecipe *r = &m->recipe;
    if (argc < 2)
        return usage(stderr, prog, m);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return usage(stdout, prog, m);
    const char *cmd = argv[1];
    int is_train = !strcmp(cmd, "train"), is_eval = !strcmp(cmd, "eval"), is_tr = !strcmp(cmd, "translate");
    int is_dump = !strcmp(cmd, "dump"), is_gc = !strcmp(cmd, "gradcheck") || is_dump;
    if (!is_train && !is_eval && !is_tr && !is_gc) {
        fprintf(stderr, "%s: error: unknown command '%s'\n", prog, cmd);
        return usage(stderr, prog, m);
    }
    int epochs = r->epochs, batch = r->batch, beam = is_tr ? 1 : 4;
    double lr = r->lr;
    int64_t max_pairs = 0, eval_max = -1;
    uint64_t seed = r->seed;
    const char *save = NULL, *model = NULL;
    const RnnrtOpt train_opts[] = {
        {"--epochs", RNNRT_OPT_INT, &epochs, "N", "passes over the training pairs", 1, 1e6},
        {"--lr", RNNRT_OPT_DOUBLE, &lr, "F", "learning rate", DBL_MIN, 1e6},
        {"--batch", RNNRT_OPT_INT, &batch, "N", "pairs per minibatch", 1, 65536},
        {"--max-pairs", RNNRT_OPT_I64, &max_pairs, "N", "read only the first N pairs (0 = all)", 0, 1e15},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width for the second decoding (1 = greedy only)", 1, 64},
        {"--eval-max", RNNRT_OPT_I64, &eval_max, "N", "decode at most N held-out pairs (-1 = all)", -1, 1e15},
        {"--seed", RNNRT_OPT_U64, &seed, "N", "initialization and shuffling seed", 0, 0},
        {"--save", RNNRT_OPT_STR, &save, "CKPT", "save the trained model (both vocabularies) here", 0, 0},
        {0},
    };
    const RnnrtOpt eval_opts[] = {
        {"--model", RNNRT_OPT_STR, &model, "CKPT", "a checkpoint written by train --save", 0, 0},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width for the second decoding (1 = greedy only)", 1, 64},
        {"--max-pairs", RNNRT_OPT_I64, &max_pairs, "N", "read only the first N pairs (0 = all)", 0, 1e15},
        {"--eval-max", RNNRT_OPT_I64, &eval_max, "N", "decode at most N held-out pairs (-1 = all)", -1, 1e15},
        {0},
    };
    const char *attention = NULL;
    const RnnrtOpt translate_opts[] = {
        {"--model", RNNRT_OPT_STR, &model, "CKPT", "a checkpoint written by train --save", 0, 0},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width (1 = greedy)", 1, 64},
        {"--attention", RNNRT_OPT_STR, &attention, "OUT.csv",
         "write each sentence's attention weights here, and a heatmap to OUT.svg", 0, 0},
        {0},
    };
    int gc_B = 2, gc_T = r->steps < 5 ? r->steps : 5, gc_V = 9, gc_Vt = 8;
    int64_t max_per = 0;
    const RnnrtOpt gradcheck_opts[] = {
        {"--seed", RNNRT_OPT_U64, &seed, "N", "the random problem's seed", 0, 0},
        {"--batch", RNNRT_OPT_INT, &gc_B, "N", "rows", 1, 64},
        {"--steps", RNNRT_OPT_INT, &gc_T, "N", "time steps", 2, 64},
        {"--vocab", RNNRT_OPT_INT, &gc_V, "N", "source vocabulary size", 5, 1000},
        {"--tgt-vocab", RNNRT_OPT_INT, &gc_Vt, "N", "target vocabulary size", 5, 1000},
        {"--max-per-param", RNNRT_OPT_I64, &max_per, "N", "check N evenly spaced elements per tensor (0 = all)", 0,
         1e15},
        {0},
    };
    const RnnrtOpt *opts = is_train ? train_opts : is_eval ? eval_opts : is_tr ? translate_opts : gradcheck_opts;
    const char *summary = is_train ? "train PAIRS: train, then decode the held-out pairs"
                          : is_eval ? "eval PAIRS: decode the held-out pairs with a saved model"
                          : is_tr   ? "translate: one translation per line of stdin"
                          : is_dump ? "dump: forward and backward on a random problem, as text for rnnc --check"
                                    : "gradcheck: backward against finite differences on a random problem";
    const char *path = NULL;
    int rc;
    if (!is_tr && !is_gc && argc >= 3 && argv[2][0] != '-') {
        path = argv[2];
        argv[2] = argv[1]; /* the options parser sees "CMD --opt ..." */
        rc = rnnrt_cli_parse(argc - 2, argv + 2, prog, summary, opts);
    } else {
        rc = rnnrt_cli_parse(argc - 1, argv + 1, prog, summary, opts);
    }
    if (rc == RNNRT_HELP_SHOWN)
        return 0;
    if (rc)
        return rc;
    if (!is_tr && !is_gc && !path) {
        fprintf(stderr, "%s %s: error: needs a PAIRS file (source<TAB>target per line)\n", prog, cmd);
        return RNNRT_EXIT_USAGE;
    }
    if ((is_eval || is_tr) && !model) {
        fprintf(stderr, "%s %s: error: needs --model CKPT\n", prog, cmd);
        return RNNRT_EXIT_USAGE;
    }
    RnnrtError err = {0};
    if (is_train)
        rc = train(m, path, epochs, lr, batch, max_pairs, beam, eval_max, seed, save, &err);
    else if (is_eval)
        rc = eval_cmd(m, path, model, beam, max_pairs, eval_max, &err);
    else if (is_gc)
        rc = is_dump ? dump_cmd(m, seed, gc_B, gc_T, gc_V, gc_Vt)
                     : gradcheck_cmd(m, seed, gc_B, gc_T, gc_V, gc_Vt, max_per, &err);
    else
        rc = translate_cmd(m, model, beam, attention, &err);
    return rnnrt_cli_report(rc, &err, prog, cmd);
}
