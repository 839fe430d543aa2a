/*
 * rnnrt_s2s_main.c: the command line of a seq2seq trainer (issue #4).
 *
 *   MODEL train PAIRS [--epochs N] [--lr F] [--batch N] [--max-pairs N]
 *                     [--beam K] [--eval-max N] [--seed N] [--ckpt CKPT]
 *                     [--resume] [--force] [--save-every N] [--max-steps N]
 *                     [--max-seconds X] [--threads N] [--quiet]
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
 * d2l's mean BLEU (k = 2) and the exact-match rate for each. Checkpoints,
 * signals, budgets, non-finite steps and exact resume work as in the LM
 * trainer (see "training" below).
 *
 * Decoding needs the decoder one step at a time: the model's emitted
 * entries (encode once per batch of sources, then one step per token; see
 * "decoding" below). A model emitted before them decodes by rerunning the
 * training forward over each prefix, exact but T times the work.
 *
 * Checkpoints (see "checkpoints" below) are rnnrt_ckpt.c's format: the
 * spec hash, both vocabularies, the parameters and the training state,
 * each section with a CRC32, written atomically, the previous one kept as
 * "<ckpt>.prev"; eval and translate load them.
 */
#include "rnnrt_s2s.h"

#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* ---- decoding ----
 * A Decoder runs searches of up to max_sent sentences of width k. With the
 * emitted entries (m->encode, m->step) a search starts with one encode of
 * its sources (each repeated for the k rows of its sentence) and every call
 * of the search is one step; a hypothesis carries the decoder's states (Sd
 * reals; beam search gathers them by parent row). Without them, or with
 * --rerun-decode, each call reruns the training step's forward over the
 * whole source and the prefix decoded so far (the rest <pad>, no labels)
 * and reads the logits at the prefix's end: the decoder is causal, so those
 * are the step's logits, at T times a step's cost; the state a hypothesis
 * carries is then its prefix. */
static int rerun_decode; /* --rerun-decode: the second way even when the first exists */

typedef struct {
    const S2sParams *p;
    int T, k, nsent;
    int S;                        /* the state per hypothesis */
    int calls;                    /* step calls of this search: the position */
    const int32_t *src, *src_len; /* [nsent][T], [nsent] */
    int32_t *x, *sl;              /* [T][rows], [rows]: the sources row by row */
    real *attn;                   /* NULL, or [T calls][rows][T]: each call's weights */
    int emitted;                  /* decoding through m->encode and m->step */
    /* the emitted entries */
    RnnrtS2sDecCtx dc;
    real *dwork, *sin, *sout;     /* decode_workspace; [rows][Sd] as the step's blocks */
    /* rerunning forward */
    Step step;
    int32_t *dec, *label, *tl;    /* [T][rows], [T][rows], [rows] */
} Decoder;

static void decoder_init(Decoder *d, const S2sParams *p, int T, int k, int max_sent, int attention)
{
    const RnnrtS2sModel *m = p->m;
    size_t rows = (size_t)max_sent * (size_t)k;
    *d = (Decoder){.p = p, .T = T, .k = k, .emitted = m->encode && m->step && !rerun_decode};
    d->x = rnnrt_xcalloc(rows * (size_t)T, sizeof(int32_t), "decoder inputs");
    d->sl = rnnrt_xcalloc(rows, sizeof(int32_t), "lengths");
    if (attention)
        d->attn = rnnrt_xcalloc((size_t)T * rows * (size_t)T, sizeof(real), "attention weights");
    if (d->emitted) {
        d->S = m->dec_state_size;
        size_t n = m->decode_workspace((int)rows, T, p->V, p->Vt);
        if (n == 0) {
            fprintf(stderr, "rnnrt: error: the decoding workspace for %zu rows, T %d does not fit\n", rows, T);
            exit(RNNRT_EXIT_USAGE);
        }
        d->dwork = rnnrt_xcalloc(n, sizeof(real), "the decoding workspace");
        d->sin = rnnrt_xcalloc(rows * (size_t)d->S + 1, sizeof(real), "decoder states");
        d->sout = rnnrt_xcalloc(rows * (size_t)d->S + 1, sizeof(real), "decoder states");
        d->dc = (RnnrtS2sDecCtx){.T = T, .V = p->V, .Vt = p->Vt, .params = p->params, .src = d->x,
                                 .src_len = d->sl, .work = d->dwork};
    } else {
        d->S = T + 1;
        step_init(&d->step, p, (int)rows, T);
        d->dec = rnnrt_xcalloc(rows * (size_t)T, sizeof(int32_t), "decoder inputs");
        d->label = rnnrt_xcalloc(rows * (size_t)T, sizeof(int32_t), "decoder inputs");
        d->tl = rnnrt_xcalloc(rows, sizeof(int32_t), "lengths");
    }
}

static void decoder_free(Decoder *d)
{
    free(d->x);
    free(d->sl);
    free(d->attn);
    if (d->emitted) {
        free(d->dwork);
        free(d->sin);
        free(d->sout);
    } else {
        step_free(&d->step);
        free(d->dec);
        free(d->label);
        free(d->tl);
    }
}

/* Copies between the beam's rows ([n][S]) and the step's blocks ([nb][n][S / nb]). */
static void rows_to_blocks(const real *rows, real *blocks, int n, int S, int nb)
{
    int w = S / nb;
    for (int r = 0; r < n; r++)
        for (int b = 0; b < nb; b++)
            memcpy(blocks + ((size_t)b * n + r) * w, rows + (size_t)r * S + (size_t)b * w, (size_t)w * sizeof(real));
}

static void blocks_to_rows(const real *blocks, real *rows, int n, int S, int nb)
{
    int w = S / nb;
    for (int r = 0; r < n; r++)
        for (int b = 0; b < nb; b++)
            memcpy(rows + (size_t)r * S + (size_t)b * w, blocks + ((size_t)b * n + r) * w, (size_t)w * sizeof(real));
}

static void log_softmax_row(const real *z, int Vt, real *out)
{
    double mx = z[0], s = 0;
    for (int v = 1; v < Vt; v++)
        mx = z[v] > mx ? z[v] : mx;
    for (int v = 0; v < Vt; v++)
        s += exp(z[v] - mx);
    double lse = mx + log(s);
    for (int v = 0; v < Vt; v++)
        out[v] = (real)(z[v] - lse);
}

/* Starts a search of nsent sentences: the sources row by row, and each
 * sentence's start state in state0 ([nsent][S]). */
static void decoder_start(Decoder *d, int nsent, const int32_t *src, const int32_t *src_len, real *state0)
{
    int T = d->T, rows = nsent * d->k;
    d->nsent = nsent;
    d->src = src;
    d->src_len = src_len;
    d->calls = 0;
    for (int r = 0; r < rows; r++) {
        int sent = r / d->k;
        for (int t = 0; t < T; t++)
            d->x[(size_t)t * rows + r] = src[(size_t)sent * T + t];
        d->sl[r] = src_len[sent];
    }
    if (!d->emitted) {
        memset(state0, 0, (size_t)nsent * d->S * sizeof(real));
        return;
    }
    const RnnrtS2sModel *m = d->p->m;
    d->dc.B = rows;
    d->dc.state_out = d->sout;
    m->encode(&d->dc);
    blocks_to_rows(d->sout, d->sin, rows, d->S, m->dec_states);
    for (int s = 0; s < nsent; s++)
        memcpy(state0 + (size_t)s * d->S, d->sin + (size_t)s * d->k * d->S, (size_t)d->S * sizeof(real));
}

/* One call of the search through the emitted step. */
static void emitted_step(void *model, int n, const int32_t *prev, const real *state_in, real *state_out,
                         real *logprobs)
{
    Decoder *d = model;
    const RnnrtS2sModel *m = d->p->m;
    int T = d->T, Vt = d->p->Vt, pos = d->calls++;
    if (pos >= T)
        pos = T - 1;
    rows_to_blocks(state_in, d->sin, n, d->S, m->dec_states);
    d->dc.B = n;
    d->dc.prev = prev;
    d->dc.state_in = d->sin;
    d->dc.state_out = d->sout;
    m->step(&d->dc);
    blocks_to_rows(d->sout, state_out, n, d->S, m->dec_states);
    for (int r = 0; d->attn && d->dc.attention && r < n; r++)
        for (int t = 0; t < T; t++)
            d->attn[((size_t)pos * n + r) * T + t] = d->dc.attention[(size_t)t * n + r];
    for (int r = 0; r < n; r++)
        log_softmax_row(d->dc.logits + (size_t)r * Vt, Vt, logprobs + (size_t)r * Vt);
}

/* One call through the training forward. state: [count, dec_in[0], ...,
 * dec_in[T-1]] as reals. The position is the call's number, not the
 * state's count: rows of finished hypotheses come with stale states. */
static void rerun_step(void *model, int n, const int32_t *prev, const real *state_in, real *state_out,
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
        for (int t = 0; t < T; t++) {
            d->dec[t * n + r] = t <= pos ? (int32_t)so[1 + t] : RNNRT_PAD;
            d->label[t * n + r] = RNNRT_PAD;
        }
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
    for (int r = 0; r < n; r++)
        log_softmax_row(c.logits + ((size_t)pos * n + r) * Vt, Vt, logprobs + (size_t)r * Vt);
}

static int decoder_search(Decoder *d, const real *state0, const RnnrtBeamOpts *o, RnnrtBeamResult *res,
                          RnnrtError *err)
{
    return rnnrt_beam_search(d->emitted ? emitted_step : rerun_step, d, d->nsent, d->p->Vt, d->S, state0, o, res,
                             err);
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
    Decoder d;
    decoder_init(&d, p, T, k, CHUNK, 0);
    RnnrtVocab words; /* BLEU over strings: unknown reference words stay distinct */
    rnnrt_vocab_init(&words);
    real *state0 = rnnrt_xcalloc((size_t)CHUNK * d.S, sizeof(real), "decoder states");
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
        int sig = rnnrt_signal_pending(); /* set only while train runs */
        if (sig) {
            rc = rnnrt_signal_exit_code(sig);
            break;
        }
        int nsent = (int)(first + count - at < CHUNK ? first + count - at : CHUNK);
        decoder_start(&d, nsent, pairs->src_arr + at * (size_t)T, pairs->src_valid + at, state0);
        RnnrtBeamResult res;
        rc = decoder_search(&d, state0, &o, &res, err);
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
    decoder_free(&d);
    return rc;
}

/* ---- checkpoints ----
 * rnnrt_ckpt.c's format, task "seq2seq": the header (dims V, Vt and the
 * block's total reals; every parameter's shape), "srcvocab" and
 * "tgtvocab", "params" (the block), "train" and "optim" (the cursor, step
 * and token counts, learning rate after halvings, the RNG now and at the
 * epoch's start, the corpus hash; the optimizer's moments) and "progress"
 * (the running epoch's loss sum and label tokens, so a resumed epoch
 * prints the same loss, and the training split's size). */

/* What a checkpoint holds besides the parameters and vocabularies. */
typedef struct {
    RnnrtTrainState ts; /* no carried state: every minibatch starts from zeros */
    double epoch_loss;  /* sum over the running epoch of loss x label tokens */
    int64_t epoch_ntok;
    uint64_t ntrain;    /* training pairs: a mid-epoch cursor needs the same */
} S2sProgress;

/* The header's parameter shapes, from the descriptor and V, Vt. */
static RnnrtCkptShape *ckpt_shapes(const RnnrtS2sModel *m, int V, int Vt)
{
    RnnrtCkptShape *sh = rnnrt_xcalloc((size_t)m->nparams + 1, sizeof *sh, "parameter shapes");
    for (int i = 0; i < m->nparams; i++) {
        const int *d = m->params[i].dims;
        sh[i] = (RnnrtCkptShape){m->params[i].name, m->params[i].ndim,
                                 {(int)dim_of(d[0], V, Vt), m->params[i].ndim > 1 ? (int)dim_of(d[1], V, Vt) : 0}};
    }
    return sh;
}

static int ckpt_save(const char *path, const S2sParams *p, const RnnrtPairs *pairs, const S2sProgress *pr,
                     RnnrtError *err)
{
    RnnrtCkptWriter w;
    rnnrt_ckpt_begin(&w, "seq2seq", p->m->name, p->m->spec_hash);
    rnnrt_ckpt_put_dim(&w, "V", (uint64_t)p->V);
    rnnrt_ckpt_put_dim(&w, "Vt", (uint64_t)p->Vt);
    rnnrt_ckpt_put_dim(&w, "total", p->np);
    RnnrtCkptShape *sh = ckpt_shapes(p->m, p->V, p->Vt);
    for (int i = 0; i < p->m->nparams; i++)
        rnnrt_ckpt_put_shape(&w, sh[i].name, sh[i].ndim, sh[i].dims[0], sh[i].dims[1]);
    free(sh);
    rnnrt_ckpt_put_vocab(&w, "srcvocab", &pairs->src_vocab);
    rnnrt_ckpt_put_vocab(&w, "tgtvocab", &pairs->tgt_vocab);
    rnnrt_ckpt_add_ref(&w, "params", p->params, p->np * sizeof(real));
    rnnrt_ckpt_put_state(&w, &pr->ts, p->np);
    RnnrtBuf *b = rnnrt_ckpt_add(&w, "progress");
    rnnrt_buf_put_f64(b, pr->epoch_loss);
    rnnrt_buf_put_i64(b, pr->epoch_ntok);
    rnnrt_buf_put_u64(b, pr->ntrain);
    return rnnrt_ckpt_write(&w, path, err);
}

static int get_progress(const RnnrtCkptFile *f, S2sProgress *pr, RnnrtError *err)
{
    RnnrtReader s;
    int rc = rnnrt_ckpt_section(f, "progress", &s, err);
    if (rc)
        return rc;
    pr->epoch_loss = rnnrt_reader_f64(&s);
    pr->epoch_ntok = rnnrt_reader_i64(&s);
    pr->ntrain = rnnrt_reader_u64(&s);
    if (s.bad || s.pos != s.n || pr->epoch_ntok < 0 || !isfinite(pr->epoch_loss))
        return rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: section 'progress' is malformed", f->path);
    return 0;
}

/* Header, vocabularies and parameters (allocating p), then with pr the
 * training state. */
static int ckpt_parse(const RnnrtCkptFile *f, const RnnrtS2sModel *m, S2sParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                      S2sProgress *pr, RnnrtError *err)
{
    uint64_t V = 0, Vt = 0, total = 0;
    int rc = rnnrt_ckpt_check_model(f, "seq2seq", m->name, m->spec_hash, m->spec_path, err);
    if (!rc)
        rc = rnnrt_ckpt_get_dim(f, "V", &V, err);
    if (!rc)
        rc = rnnrt_ckpt_get_dim(f, "Vt", &Vt, err);
    if (!rc)
        rc = rnnrt_ckpt_get_dim(f, "total", &total, err);
    if (!rc)
        rc = rnnrt_ckpt_get_vocab(f, "srcvocab", 1, sv, err);
    if (!rc)
        rc = rnnrt_ckpt_get_vocab(f, "tgtvocab", 1, tv, err);
    if (!rc && ((uint64_t)sv->size != V || (uint64_t)tv->size != Vt))
        rc = rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: the vocabularies disagree with the header", f->path);
    if (!rc)
        rc = rnnrt_s2s_vocab_check(sv, "source vocabulary", err);
    if (!rc)
        rc = rnnrt_s2s_vocab_check(tv, "target vocabulary", err);
    if (!rc) {
        RnnrtCkptShape *sh = ckpt_shapes(m, sv->size, tv->size);
        rc = rnnrt_ckpt_check_shapes(f, sh, m->nparams, err);
        free(sh);
    }
    RnnrtReader params;
    if (!rc)
        rc = rnnrt_ckpt_section(f, "params", &params, err);
    if (rc)
        return rc;
    RnnrtRng rng;
    rnnrt_rng_init(&rng, 0);
    params_init(p, m, sv->size, tv->size, &rng);
    if (p->np != total || params.n != total * sizeof(real)) {
        params_free(p);
        return rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: the parameter block has the wrong size", f->path);
    }
    memcpy(p->params, params.p, params.n);
    if (!pr)
        return 0;
    rc = rnnrt_ckpt_get_state(f, 0, p->np, &pr->ts, err);
    if (!rc)
        rc = get_progress(f, pr, err);
    if (rc) {
        rnnrt_train_state_free(&pr->ts);
        params_free(p);
    }
    return rc;
}

/* Loads a checkpoint; pr NULL: parameters and vocabularies only. With pr
 * (a resume) a damaged file falls back to its previous generation, with a
 * warning. The caller frees the vocabularies whatever happens, and p and
 * pr only on success. */
static int ckpt_read(const char *path, const RnnrtS2sModel *m, S2sParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                     S2sProgress *pr, RnnrtError *err)
{
    rnnrt_vocab_init(sv);
    rnnrt_vocab_init(tv);
    if (pr)
        memset(pr, 0, sizeof *pr);
    RnnrtCkptFile f;
    int rc = pr ? rnnrt_ckpt_open_latest(&f, path, err) : rnnrt_ckpt_open(&f, path, err);
    if (!rc) {
        rnnrt_vocab_free(sv);
        rnnrt_vocab_free(tv);
        rc = ckpt_parse(&f, m, p, sv, tv, pr, err);
    }
    if (!rc && f.warning[0] && rnnrt_mpi_rank() == 0) /* rank 0 alone prints */
        fprintf(stderr, "%s: warning: %s\n", m->name, f.warning);
    rnnrt_ckpt_close(&f);
    return rc;
}

static int ckpt_load(const char *path, const RnnrtS2sModel *m, S2sParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                     RnnrtError *err)
{
    return ckpt_read(path, m, p, sv, tv, NULL, err);
}

/* The safetensors export's and import's side (rnnrt_s2s.h). */
int rnnrt_s2s_ckpt_weights(const char *path, const RnnrtS2sModel *m, real **params, size_t *n, RnnrtVocab *sv,
                           RnnrtVocab *tv, RnnrtError *err)
{
    S2sParams p;
    int rc = ckpt_load(path, m, &p, sv, tv, err);
    if (rc)
        return rc;
    *params = p.params;
    *n = p.np;
    p.params = NULL;
    params_free(&p);
    return 0;
}

int rnnrt_s2s_ckpt_from_weights(const char *path, const RnnrtS2sModel *m, const real *params, const RnnrtVocab *sv,
                                const RnnrtVocab *tv, const RnnrtTrainState *ts, RnnrtError *err)
{
    S2sParams p;
    RnnrtRng rng;
    rnnrt_rng_init(&rng, 0);
    params_init(&p, m, sv->size, tv->size, &rng);
    memcpy(p.params, params, p.np * sizeof(real));
    RnnrtPairs pairs;
    memset(&pairs, 0, sizeof pairs);
    pairs.src_vocab = *sv;
    pairs.tgt_vocab = *tv;
    S2sProgress pr;
    memset(&pr, 0, sizeof pr);
    pr.ts = *ts;
    int rc = ckpt_save(path, &p, &pairs, &pr, err);
    params_free(&p);
    return rc;
}

/* A fresh run may replace a checkpoint of this model and spec, but not
 * another file (a checkpoint of another spec, a corpus given by mistake)
 * unless --force. */
static int check_overwrite(const char *path, const RnnrtS2sModel *m, int force, RnnrtError *err)
{
    return force ? 0 : rnnrt_ckpt_check_overwrite(path, "seq2seq", m->name, m->spec_hash, m->spec_path, err);
}

/* ---- training ----
 * The training loop is the driver's (runtime/train/rnnrt_driver.c: the
 * cursor, signals, budgets, non-finite steps, the divergence guard,
 * clipping, saves); this task supplies the pairs, their batches, the
 * model's forward and backward, the epoch line and the checkpoint. Every
 * epoch reshuffles the training pairs with the run's RNG; signals are
 * also polled between decoding chunks of the final evaluation. --resume continues exactly, also in
 * the middle of an epoch (the epoch's shuffle is replayed from the RNG
 * saved at its start); the learning rate and RNG come from the
 * checkpoint. --epochs counts all epochs, --max-steps and --max-seconds
 * this run only. */
typedef struct {
    int epochs, batch, beam, resume, force, quiet, threads;
    double lr, max_seconds;
    double max_loss_ratio; /* RELIABILITY D2: stop when a loss passes this x the run's first; 0 = off */
    int64_t max_pairs, eval_max, max_steps, save_every;
    uint64_t seed;
    const char *ckpt;
    int given_lr, given_seed, given_loss_ratio; /* on the command line */
} TrainOpts;

typedef struct {
    const RnnrtS2sModel *m;
    const TrainOpts *o;
    RnnrtPairs pairs;
    S2sParams p;
    S2sProgress pr; /* pr.ts: cursor, counts, lr, RNGs, optimizer */
    Step st;
    RnnrtS2sSplit *split; /* --threads workers, or NULL */
    RnnrtS2sBatcher bt;
    RnnrtS2sBatch mb;
    RnnrtDriver d;
    int have_pairs, have_params, have_loop;
} Trainer;

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

static void pairs_opts(const RnnrtS2sModel *m, int64_t max_pairs, RnnrtPairsOpts *po)
{
    rnnrt_pairs_opts_default(po);
    po->train_frac = m->recipe.split;
    po->min_freq = m->recipe.min_freq > 0 ? m->recipe.min_freq : 1;
    po->num_steps = m->recipe.steps;
    po->max_pairs = (size_t)max_pairs;
}

/* The data a run trains on: the file's bytes and how many pairs were read
 * (--max-pairs). */
static uint64_t pairs_hash(const RnnrtPairs *pairs)
{
    uint64_t n = pairs->n;
    return rnnrt_fnv1a(pairs->hash, &n, sizeof n);
}

static int new_optim(Trainer *tr, RnnrtError *err)
{
    const RnnrtRecipe *r = &tr->m->recipe;
    RnnrtOptim *o = rnnrt_xcalloc(1, sizeof *o, "optimizer");
    tr->pr.ts.optim = o;
    return rnnrt_optim_init(o, r->optimizer, r->momentum, r->beta1, r->beta2, r->eps, tr->p.np, err);
}

static int setup_fresh(Trainer *tr, const char *path, RnnrtError *err)
{
    const TrainOpts *o = tr->o;
    RnnrtPairsOpts po;
    pairs_opts(tr->m, o->max_pairs, &po);
    int rc = check_overwrite(tr->o->ckpt, tr->m, o->force, err);
    if (!rc)
        rc = rnnrt_pairs_load(&tr->pairs, path, &po, NULL, NULL, err);
    if (rc)
        return rc;
    tr->have_pairs = 1;
    RnnrtTrainState *ts = &tr->pr.ts;
    rnnrt_rng_init(&ts->rng, o->seed);
    params_init(&tr->p, tr->m, tr->pairs.src_vocab.size, tr->pairs.tgt_vocab.size, &ts->rng);
    tr->have_params = 1;
    ts->lr = o->lr;
    rnnrt_sched_start(&ts->sched, ts->lr);
    ts->B = o->batch;
    ts->T = tr->pairs.T;
    ts->sampler = RNNRT_SAMPLER_RANDOM;
    ts->corpus_hash = pairs_hash(&tr->pairs);
    ts->epoch_rng = ts->rng;
    for (int i = 0; i < RNNRT_RECIPE_N; i++)
        ts->recipe[i] = NAN; /* the LM's --bptt*: not a seq2seq option */
    ts->recipe[RNNRT_RECIPE_SEED] = (double)o->seed;
    ts->recipe[RNNRT_RECIPE_CLIP] = tr->m->recipe.clip_norm;
    ts->recipe[RNNRT_RECIPE_LOSS_RATIO] = o->max_loss_ratio;
    tr->pr.ntrain = tr->pairs.ntrain;
    return new_optim(tr, err);
}

static int setup_resume(Trainer *tr, const char *path, RnnrtError *err)
{
    const TrainOpts *o = tr->o;
    RnnrtVocab sv, tv;
    RnnrtTrainState *ts = &tr->pr.ts;
    int rc = ckpt_read(o->ckpt, tr->m, &tr->p, &sv, &tv, &tr->pr, err);
    tr->have_params = !rc;
    const char *want = tr->m->recipe.optimizer ? tr->m->recipe.optimizer : "sgd";
    const char *have = ts->optim ? rnnrt_optim_name(ts->optim->kind) : "sgd";
    if (!rc && strcmp(want, have))
        rc = rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' was trained with optimizer %s, but %s uses %s", o->ckpt, have,
                         tr->m->spec_path, want);
    if (!rc && !ts->optim)
        rc = new_optim(tr, err);
    if (!rc) { /* this command line's recipe options against the checkpoint's */
        double *r = ts->recipe;
        RnnrtResumeOpt list[] = {
            {"--seed", o->given_seed, (double)o->seed, &r[RNNRT_RECIPE_SEED], RNNRT_RESUME_REFUSE,
             "the random state continues from the checkpoint", NULL},
            {"--lr", o->given_lr, o->lr, &ts->sched.base_lr, RNNRT_RESUME_APPLY, NULL, NULL},
            {"--max-loss-ratio", o->given_loss_ratio, o->max_loss_ratio, &r[RNNRT_RECIPE_LOSS_RATIO],
             RNNRT_RESUME_APPLY, NULL, NULL},
        };
        double base = ts->sched.base_lr;
        rc = rnnrt_resume_opts(list, (int)(sizeof list / sizeof *list), tr->m->name, o->ckpt, ts->step, err);
        if (ts->sched.base_lr != base) /* the schedule goes on from the new lr */
            ts->lr = ts->sched.base_lr;
    }
    RnnrtPairsOpts po;
    pairs_opts(tr->m, o->max_pairs, &po);
    if (!rc)
        rc = rnnrt_pairs_load(&tr->pairs, path, &po, &sv, &tv, err);
    tr->have_pairs = !rc;
    rnnrt_vocab_free(&sv);
    rnnrt_vocab_free(&tv);
    if (rc)
        return rc;
    if (ts->corpus_hash != pairs_hash(&tr->pairs) && !o->force)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "the pairs differ from the ones '%s' was trained on (another file "
                           "or --max-pairs); pass --force to continue on these", o->ckpt);
    int same = ts->B == o->batch && tr->pr.ntrain == tr->pairs.ntrain && ts->T == tr->pairs.T;
    if (!same && ts->batch > 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' stopped in the middle of an epoch with --batch %d and %llu "
                           "training pairs; resume with the same", o->ckpt, ts->B, (unsigned long long)tr->pr.ntrain);
    ts->B = o->batch;
    ts->T = tr->pairs.T;
    ts->corpus_hash = pairs_hash(&tr->pairs);
    tr->pr.ntrain = tr->pairs.ntrain;
    if (!o->quiet)
        fprintf(stderr, "%s: resuming '%s' at epoch %lld, minibatch %lld (step %lld)\n", tr->m->name, o->ckpt,
                (long long)ts->epoch + 1, (long long)ts->batch, (long long)ts->step);
    return 0;
}

static int setup(Trainer *tr, const char *path, RnnrtError *err)
{
    const TrainOpts *o = tr->o;
    int rc = rnnrt_ckpt_probe(o->ckpt, err);
    if (!rc)
        rc = rnnrt_file_remove_stale(o->ckpt, err);
    if (!rc)
        rc = o->resume ? setup_resume(tr, path, err) : setup_fresh(tr, path, err);
    if (rc)
        return rc;
    printf("%s: %zu pairs (%zu train), vocabularies %d / %d, num_steps %d, %zu parameters\n", tr->m->name,
           tr->pairs.n, tr->pairs.ntrain, tr->p.V, tr->p.Vt, tr->pairs.T, tr->p.np);
    if (tr->pairs.ntrain == 0)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s' has no training pairs", path);
    step_init(&tr->st, &tr->p, o->batch, tr->pairs.T);
    rnnrt_s2s_batcher_init(&tr->bt, &tr->pairs, 0, tr->pairs.ntrain, o->batch, 1, 0);
    rnnrt_s2s_batch_init(&tr->mb, o->batch, tr->pairs.T);
    tr->have_loop = 1;
    rc = rnnrt_s2s_split_new(&tr->split, tr->m, o->threads, o->batch, tr->pairs.T, tr->p.V, tr->p.Vt, tr->p.np,
                             tr->st.work, err);
    return rc;
}

/* ---- the seq2seq task's part of the driver (RnnrtTaskOps) ---- */

static size_t s2s_nbatches(void *task)
{
    return ((Trainer *)task)->bt.nbatches;
}

static void s2s_start_epoch(void *task, RnnrtTrainState *ts)
{
    Trainer *tr = task;
    if (ts->batch == 0) {
        ts->epoch_rng = ts->rng;
        rnnrt_s2s_batcher_epoch(&tr->bt, &ts->rng);
    } else { /* resumed mid-epoch: replay the epoch's shuffle */
        RnnrtRng r = ts->epoch_rng;
        rnnrt_s2s_batcher_epoch(&tr->bt, &r);
    }
}

/* Forward and backward of one minibatch (the split cannot stop between
 * them; unsplit, a non-finite loss skips the backward). */
static void s2s_step(void *task, RnnrtTrainState *ts, double *loss, int64_t *tokens)
{
    Trainer *tr = task;
    rnnrt_s2s_batcher_get(&tr->bt, (size_t)ts->batch, &tr->mb);
    RnnrtS2sCtx c = tr->st.c;
    c.src = tr->mb.src;
    c.dec_in = tr->mb.dec_in;
    c.label = tr->mb.label;
    c.src_len = tr->mb.src_valid;
    c.tgt_len = tr->mb.tgt_valid;
    if (tr->split) {
        rnnrt_s2s_run(tr->m, tr->split, &c, 1);
    } else {
        tr->m->forward(&c);
        if (isfinite(c.loss))
            tr->m->backward(&c);
    }
    *loss = c.loss; /* over MPI ranks, this rank's rows' part */
    /* The minibatch's tokens, counted once over MPI ranks (the driver
     * sums every rank's): every rank has the whole minibatch. */
    *tokens = rnnrt_mpi_rank() == 0 ? tr->mb.ntokens : 0;
}

/* The epoch's line; with a schedule or warm-up, the lr it trained with. */
static int s2s_end_epoch(void *task, const RnnrtTrainState *ts, double avg_loss, RnnrtError *err)
{
    const RnnrtSchedOpts *so = &((Trainer *)task)->d.o.sched;
    (void)err;
    printf("epoch %lld loss %.4f", (long long)ts->epoch + 1, avg_loss);
    if (so->kind != RNNRT_SCHED_CONSTANT || so->warmup)
        printf(" lr %.6g", ts->lr);
    printf("\n");
    fflush(stdout);
    return 0;
}

/* The checkpoint holds the epoch's loss sums, so a resumed epoch's mean
 * covers all of it. */
static int s2s_save(void *task, RnnrtError *err)
{
    Trainer *tr = task;
    tr->pr.epoch_loss = tr->d.epoch_loss;
    tr->pr.epoch_ntok = tr->d.epoch_ntok;
    return ckpt_save(tr->o->ckpt, &tr->p, &tr->pairs, &tr->pr, err);
}

static const char *s2s_param_name(void *task, size_t k, size_t *index)
{
    const S2sParams *p = &((Trainer *)task)->p;
    for (int i = 0; i < p->m->nparams; i++)
        if (k < p->offset[i + 1]) {
            *index = k - p->offset[i];
            return p->m->params[i].name;
        }
    return "the parameters";
}

static const RnnrtTaskOps s2s_ops = {
    .nbatches = s2s_nbatches,
    .start_epoch = s2s_start_epoch,
    .step = s2s_step,
    .end_epoch = s2s_end_epoch,
    .save = s2s_save,
    .param_name = s2s_param_name,
};

/* Saves (unless just saved), then decodes the held-out pairs. */
static int finish(Trainer *tr, RnnrtError *err)
{
    double dt = rnnrt_now() - tr->d.t0;
    printf("train_tok_s %.0f\n", dt > 0 ? (double)tr->d.run_tokens / dt : 0.0);
    int rc = rnnrt_driver_finish(&tr->d, err);
    if (!rc)
        printf("saved %s\n", tr->o->ckpt);
    fflush(stdout);
    if (!rc)
        rc = report_eval(&tr->p, &tr->pairs, tr->o->beam, tr->o->eval_max, err);
    if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
        fprintf(stderr, "%s: interrupted during the final evaluation; the checkpoint '%s' is saved\n", tr->m->name,
                tr->o->ckpt);
    return rc;
}

static int train(const RnnrtS2sModel *m, const char *path, const TrainOpts *o, RnnrtError *err)
{
    Trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.m = m;
    tr.o = o;
    if (!(o->max_loss_ratio == 0 || o->max_loss_ratio >= 1))
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "--max-loss-ratio must be 0 (off) or a number >= 1");
    RnnrtSchedOpts sched;
    if (rnnrt_sched_opts_recipe(&sched, &m->recipe) || sched.kind == RNNRT_SCHED_PLATEAU)
        return rnnrt_error(err, RNNRT_EXIT_DATA, "%s: train.lr_schedule '%s': the seq2seq trainer takes constant, "
                           "step or cosine (plateau needs a validation loss every epoch, which it does not compute)",
                           m->spec_path, m->recipe.lr_schedule);
    int rc = rnnrt_sched_check(&sched, err);
    if (!rc)
        rc = rnnrt_mpi_start(err);
    TrainOpts quiet;
    if (!rc && rnnrt_mpi_rank() != 0) { /* rank 0 alone prints (stdout too) */
        quiet = *o;
        quiet.quiet = 1;
        tr.o = o = &quiet;
        if (!freopen("/dev/null", "w", stdout))
            rc = rnnrt_error(err, RNNRT_EXIT_IO, "cannot open /dev/null");
    }
    if (!rc)
        rc = setup(&tr, path, err);
    if (!rc) {
        RnnrtDriver *d = &tr.d;
        rnnrt_driver_init(d, &s2s_ops, &tr, &tr.pr.ts, tr.p.params, tr.p.grads, tr.p.np);
        d->o = (RnnrtDriverOpts){
            .name = m->name, .ckpt = o->ckpt, .epochs = o->epochs, .max_steps = o->max_steps,
            .max_seconds = o->max_seconds, .save_every = o->save_every, .clip = m->recipe.clip_norm,
            .max_loss_ratio = tr.pr.ts.recipe[RNNRT_RECIPE_LOSS_RATIO], .vocab = tr.pairs.tgt_vocab.size, .quiet = o->quiet,
            .sched = sched, .weight_decay = m->recipe.weight_decay,
            .ranks = rnnrt_s2s_split_ranks(tr.split)};
        if (o->resume) { /* the file holds this state and the epoch's sums */
            d->saved_step = tr.pr.ts.step;
            d->epoch_loss = tr.pr.epoch_loss;
            d->epoch_ntok = tr.pr.epoch_ntok;
        }
        rc = rnnrt_driver_run(d, err);
        if (!rc)
            rc = finish(&tr, err);
        rnnrt_signal_restore();
        if (rc == RNNRT_EXIT_SIGINT || rc == RNNRT_EXIT_SIGTERM)
            err->code = 0; /* not an error: saved and stopped */
    }
    if (tr.have_loop) {
        rnnrt_s2s_split_free(tr.split);
        rnnrt_s2s_batch_free(&tr.mb);
        rnnrt_s2s_batcher_free(&tr.bt);
        step_free(&tr.st);
    }
    rnnrt_train_state_free(&tr.pr.ts);
    if (tr.have_params)
        params_free(&tr.p);
    if (tr.have_pairs)
        rnnrt_pairs_free(&tr.pairs);
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
    pairs_opts(m, max_pairs, &po);
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
    Decoder d = {0};
    if (!rc)
        decoder_init(&d, &p, T, beam, 1, attention != NULL);
    if (!rc && attention && !m->has_attention)
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "--attention: model %s has no attention", m->name);
    if (!rc && attention && !strcmp(attention, "-")) /* the translations own stdout */
        rc = rnnrt_error(err, RNNRT_EXIT_USAGE, "--attention -: the weights and their heatmap (OUT.svg) need a file "
                         "name; standard output holds the translations");
    RnnrtBeamOpts o;
    rnnrt_beam_opts_default(&o);
    o.beam = beam;
    o.max_len = T;
    real *state0 = rnnrt_xcalloc((size_t)d.S + 1, sizeof(real), "a decoder state");
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
        decoder_start(&d, 1, row, &valid, state0);
        RnnrtBeamResult res;
        if ((rc = decoder_search(&d, state0, &o, &res, err)) != 0)
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
    if (d.x) {
        decoder_free(&d);
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

/* Every element (or --max-per-param N evenly spaced ones per tensor)
 * against central differences, eps 1e-6, |a - n| <= 1e-5 + 1e-3 |n|; then
 * the decoding entries against forward (step_check). Only meaningful in
 * double: the float build refuses. */
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
    int sbad = step_check(m, &pb);
    free(g);
    problem_free(&pb);
    if (bad)
        return rnnrt_error(err, RNNRT_EXIT_USAGE, "gradcheck: %d of %zu gradient elements disagree", bad, checked);
    return sbad ? rnnrt_error(err, RNNRT_EXIT_USAGE, "gradcheck: the decoding step disagrees with forward") : 0;
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
            "       %s export CKPT -o FILE.safetensors | import FILE.safetensors --ckpt NEW\n"
            "A seq2seq trainer (%s); see %s COMMAND --help.\n",
            prog, prog, prog, prog, prog, prog, m->spec_path, prog);
    return f == stdout ? 0 : RNNRT_EXIT_USAGE;
}

int rnnrt_s2s_main(int argc, char **argv, const RnnrtS2sModel *m)
{
    const char *prog = rnnrt_cli_prog(argc, argv, m->name);
    const RnnrtRecipe *r = &m->recipe;
    if (argc < 2)
        return usage(stderr, prog, m);
    if (rnnrt_cli_version(argc, argv, prog, m->name, m->spec_path))
        return 0;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return usage(stdout, prog, m);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "export") || !strcmp(cmd, "import")) /* rnnrt_safetensors.c */
        return rnnrt_st_s2s_cmd(argc - 1, argv + 1, m, prog);
    int is_train = !strcmp(cmd, "train"), is_eval = !strcmp(cmd, "eval"), is_tr = !strcmp(cmd, "translate");
    int is_dump = !strcmp(cmd, "dump"), is_gc = !strcmp(cmd, "gradcheck") || is_dump;
    if (!is_train && !is_eval && !is_tr && !is_gc) {
        fprintf(stderr, "%s: error: unknown command '%s'\n", prog, cmd);
        return usage(stderr, prog, m);
    }
    int beam = is_tr ? 1 : 4;
    TrainOpts to = {.epochs = r->epochs, .batch = r->batch, .lr = r->lr, .eval_max = -1, .seed = r->seed,
                    .max_loss_ratio = 3};
    int64_t max_pairs = 0, eval_max = -1;
    uint64_t seed = r->seed;
    char def_ckpt[4096];
    snprintf(def_ckpt, sizeof def_ckpt, "%s.ckpt", m->name);
    const char *ckpt = def_ckpt, *model = NULL;
    const RnnrtOpt train_opts[] = {
        {"--epochs", RNNRT_OPT_INT, &to.epochs, "N", "epochs in all (a resumed run counts the earlier ones)", 1, 1e6},
        {"--lr", RNNRT_OPT_DOUBLE, &to.lr, "F", "learning rate (--resume: replaces the checkpoint's, with a note)",
         DBL_MIN, 1e6},
        {"--batch", RNNRT_OPT_INT, &to.batch, "N", "pairs per minibatch", 1, 65536},
        {"--max-pairs", RNNRT_OPT_I64, &to.max_pairs, "N", "read only the first N pairs (0 = all)", 0, 1e15},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width for the second decoding (1 = greedy only)", 1, 64},
        {"--eval-max", RNNRT_OPT_I64, &to.eval_max, "N", "decode at most N held-out pairs (-1 = all)", -1, 1e15},
        {"--seed", RNNRT_OPT_U64, &to.seed, "N", "initialization and shuffling seed", 0, 0},
        {"--ckpt", RNNRT_OPT_STR, &ckpt, "CKPT", "checkpoint file, saved at every epoch's end", 0, 0},
        {"--save", RNNRT_OPT_STR, &ckpt, "CKPT", "the same as --ckpt", 0, 0},
        {"--resume", RNNRT_OPT_FLAG, &to.resume, NULL, "continue from --ckpt, exactly where it stopped", 0, 0},
        {"--force", RNNRT_OPT_FLAG, &to.force, NULL,
         "overwrite a --ckpt that is not this model's; resume on other pairs", 0, 0},
        {"--max-steps", RNNRT_OPT_I64, &to.max_steps, "N", "stop after N steps in this run (0 = no limit)", 0, 1e18},
        {"--max-seconds", RNNRT_OPT_DOUBLE, &to.max_seconds, "X", "stop after X seconds in this run (0 = no limit)",
         0, 1e12},
        {"--save-every", RNNRT_OPT_I64, &to.save_every, "N", "also save every N steps (0 = at epoch ends only)", 0,
         1e18},
        {"--max-loss-ratio", RNNRT_OPT_DOUBLE, &to.max_loss_ratio, "X",
         "stop (exit 4) when a step's loss exceeds X times the run's first loss (0 = off)", 0, 1e12},
        {"--threads", RNNRT_OPT_INT, &to.threads, "N",
         "threads: N >= 2 splits each minibatch's rows over N workers (OpenBLAS 1 thread each); "
         "0 = OpenBLAS's default", 0, 4096},
        {"--quiet", RNNRT_OPT_FLAG, &to.quiet, NULL, "no progress line or notes", 0, 0},
        {0},
    };
    const RnnrtOpt eval_opts[] = {
        {"--model", RNNRT_OPT_STR, &model, "CKPT", "a checkpoint written by train", 0, 0},
        {"--ckpt", RNNRT_OPT_STR, &model, "CKPT", "the same as --model", 0, 0},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width for the second decoding (1 = greedy only)", 1, 64},
        {"--max-pairs", RNNRT_OPT_I64, &max_pairs, "N", "read only the first N pairs (0 = all)", 0, 1e15},
        {"--eval-max", RNNRT_OPT_I64, &eval_max, "N", "decode at most N held-out pairs (-1 = all)", -1, 1e15},
        {"--rerun-decode", RNNRT_OPT_FLAG, &rerun_decode, NULL,
         "decode by rerunning the training forward over each prefix (slow; for comparisons)", 0, 0},
        {0},
    };
    const char *attention = NULL;
    const RnnrtOpt translate_opts[] = {
        {"--model", RNNRT_OPT_STR, &model, "CKPT", "a checkpoint written by train", 0, 0},
        {"--ckpt", RNNRT_OPT_STR, &model, "CKPT", "the same as --model", 0, 0},
        {"--beam", RNNRT_OPT_INT, &beam, "K", "beam width (1 = greedy)", 1, 64},
        {"--attention", RNNRT_OPT_STR, &attention, "OUT.csv",
         "write each sentence's attention weights here, and a heatmap to OUT.svg", 0, 0},
        {"--rerun-decode", RNNRT_OPT_FLAG, &rerun_decode, NULL,
         "decode by rerunning the training forward over each prefix (slow; for comparisons)", 0, 0},
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
    unsigned char given[sizeof train_opts / sizeof *train_opts] = {0};
    int rc;
    if (!is_tr && !is_gc && argc >= 3 && argv[2][0] != '-') {
        path = argv[2];
        argv[2] = argv[1]; /* the options parser sees "CMD --opt ..." */
        rc = rnnrt_cli_parse_given(argc - 2, argv + 2, prog, summary, opts, is_train ? given : NULL);
    } else {
        rc = rnnrt_cli_parse_given(argc - 1, argv + 1, prog, summary, opts, is_train ? given : NULL);
    }
    if (rc == RNNRT_HELP_SHOWN)
        return 0;
    if (rc)
        return rc;
    if (!is_tr && !is_gc && !path) {
        fprintf(stderr, "%s %s: error: needs a PAIRS file (source<TAB>target per line)\n", prog, cmd);
        return RNNRT_EXIT_USAGE;
    }
    if (!model)
        model = def_ckpt;
    RnnrtError err = {0};
    if (is_train)
    {
        to.beam = beam;
        to.ckpt = ckpt;
        to.given_lr = rnnrt_cli_given(train_opts, given, "--lr");
        to.given_seed = rnnrt_cli_given(train_opts, given, "--seed");
        to.given_loss_ratio = rnnrt_cli_given(train_opts, given, "--max-loss-ratio");
        rc = train(m, path, &to, &err);
        rc = rnnrt_cli_report(rc, &err, prog, cmd);
        rnnrt_mpi_stop(rc); /* over MPI ranks: all end here together */
        return rc;
    }
    else if (is_eval)
        rc = eval_cmd(m, path, model, beam, max_pairs, eval_max, &err);
    else if (is_gc)
        rc = is_dump ? dump_cmd(m, seed, gc_B, gc_T, gc_V, gc_Vt)
                     : gradcheck_cmd(m, seed, gc_B, gc_T, gc_V, gc_Vt, max_per, &err);
    else
        rc = translate_cmd(m, model, beam, attention, &err);
    return rnnrt_cli_report(rc, &err, prog, cmd);
}
