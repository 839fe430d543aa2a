/*
 * rnnrt_s2s_int.h: what the files of the seq2seq trainer share (internal
 * to librnnrt; rnnrt_s2s.h is the public part):
 *   rnnrt_s2s_params.c     the parameter block and forward/backward buffers
 *   rnnrt_s2s_decode.c     decoding (greedy and beam) and scoring held-out pairs
 *   rnnrt_s2s_ckpt.c       checkpoints
 *   rnnrt_s2s_train.c      training on the driver
 *   rnnrt_s2s_translate.c  eval and translate on a checkpoint, attention plots
 *   rnnrt_s2s_check.c      gradcheck and dump
 *   rnnrt_s2s_main.c       the command line
 */
#ifndef RNNRT_S2S_INT_H
#define RNNRT_S2S_INT_H

#include "rnnrt_s2s.h"

/* ---- parameters (rnnrt_s2s_params.c) ---- */
typedef struct {
    const RnnrtS2sModel *m;
    int V, Vt;
    RnnrtParams b; /* the block, as every model's (rnnrt_model.c) */
} S2sParams;

/* rng NULL: the block stays zero (a checkpoint fills it). Exit 1 (err)
 * when a shape is bad; free p even then. */
int rnnrt_s2s_params_init(S2sParams *p, const RnnrtS2sModel *m, int V, int Vt, RnnrtRng *rng, RnnrtError *err);
void rnnrt_s2s_params_free(S2sParams *p);

/* One forward/backward context with its own buffers, for up to B rows. */
typedef struct {
    RnnrtS2sCtx c;
    real *state, *work;
} S2sStep;

/* Exit 2 (err) when the workspace's size overflows; free even then. */
int rnnrt_s2s_step_init(S2sStep *s, const S2sParams *p, int B, int T, RnnrtError *err);
void rnnrt_s2s_step_free(S2sStep *s);

/* ---- decoding ----
 * An S2sDecoder runs searches of up to max_sent sentences of width k. With
 * the emitted entries (m->encode, m->step) a search starts with one encode of
 * its sources (each repeated for the k rows of its sentence) and every call
 * of the search is one step; a hypothesis carries the decoder's states (Sd
 * reals; beam search gathers them by parent row). Without them, or with
 * --rerun-decode, each call reruns the training step's forward over the
 * whole source and the prefix decoded so far (the rest <pad>, no labels)
 * and reads the logits at the prefix's end: the decoder is causal, so those
 * are the step's logits, at T times a step's cost; the state a hypothesis
 * carries is then its prefix. */
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
    S2sStep step;
    int32_t *dec, *label, *tl;    /* [T][rows], [T][rows], [rows] */
} S2sDecoder;

/* rerun: decode through forward even when the emitted entries exist
 * (--rerun-decode). attention: keep every call's weights in d->attn. Exit
 * 2 (err) when a workspace's size overflows; free d even then. */
int rnnrt_s2s_decoder_init(S2sDecoder *d, const S2sParams *p, int T, int k, int max_sent, int attention,
                           int rerun, RnnrtError *err);
void rnnrt_s2s_decoder_free(S2sDecoder *d);
void rnnrt_s2s_decoder_start(S2sDecoder *d, int nsent, const int32_t *src, const int32_t *src_len, real *state0);
/* w NULL: the search allocates its buffers and the caller frees res
 * (rnnrt_beam_result_free); otherwise it runs in w's (rnnrt_beam_search_in)
 * and res lives in w. */
int rnnrt_s2s_decoder_search(S2sDecoder *d, RnnrtBeamWork *w, const real *state0, const RnnrtBeamOpts *o,
                             RnnrtBeamResult *res, RnnrtError *err);

typedef struct {
    RnnrtBleuStats bleu;
    double d2l_sum;
    size_t exact, n;
} S2sScore;

int rnnrt_s2s_decode_eval(const S2sParams *p, const RnnrtPairs *pairs, size_t first, size_t count, int k,
                          S2sScore *sc, int rerun, RnnrtError *err);
/* Greedy, then (beam > 1) beam search over held-out pairs; one line each. */
int rnnrt_s2s_report_eval(const S2sParams *p, const RnnrtPairs *pairs, int beam, int64_t eval_max, int rerun,
                          RnnrtError *err);
void rnnrt_s2s_pairs_opts(const RnnrtS2sModel *m, int64_t max_pairs, RnnrtPairsOpts *po);

/* ---- checkpoints (rnnrt_s2s_ckpt.c) ---- */
/* What a checkpoint holds besides the parameters and vocabularies. */
typedef struct {
    RnnrtTrainState ts; /* no carried state: every minibatch starts from zeros */
    double epoch_loss;  /* sum over the running epoch of loss x label tokens */
    int64_t epoch_ntok;
    uint64_t ntrain;    /* training pairs: a mid-epoch cursor needs the same */
} S2sProgress;

int rnnrt_s2s_ckpt_save(const char *path, const S2sParams *p, const RnnrtPairs *pairs, const S2sProgress *pr,
                        RnnrtError *err);
int rnnrt_s2s_ckpt_read(const char *path, const RnnrtS2sModel *m, S2sParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                        S2sProgress *pr, RnnrtError *err);
int rnnrt_s2s_ckpt_load(const char *path, const RnnrtS2sModel *m, S2sParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                        RnnrtError *err);
int rnnrt_s2s_check_overwrite(const char *path, const RnnrtS2sModel *m, int force, RnnrtError *err);

/* rnnrt_translator_open (rnnrt_api_s2s.c) with --rerun-decode's choice. */
int rnnrt_s2s_translator_open(RnnrtTranslator **tr, const char *path, const RnnrtS2sModel *m, int rerun,
                              RnnrtError *err);

/* ---- the commands ---- */
typedef struct {
    int epochs, batch, beam, resume, force, quiet, threads;
    double lr, max_seconds;
    double max_loss_ratio; /* RELIABILITY D2: stop when a loss passes this x the run's first; 0 = off */
    const char *metrics;   /* --metrics FILE.jsonl (the driver writes it) */
    int64_t metrics_every; /* --metrics-every N */
    int64_t max_pairs, eval_max, max_steps, save_every;
    uint64_t seed;
    const char *ckpt;
    unsigned char given[RNNRT_RECIPE_OPTS]; /* on the command line */
} TrainOpts;

int rnnrt_s2s_train(const RnnrtS2sModel *m, const char *path, const TrainOpts *o, RnnrtError *err);
int rnnrt_s2s_eval_cmd(const RnnrtS2sModel *m, const char *path, const char *model, int beam, int64_t max_pairs,
                       int64_t eval_max, int rerun, RnnrtError *err);
int rnnrt_s2s_translate_cmd(const RnnrtS2sModel *m, const char *model, int beam, const char *attention, int rerun,
                            RnnrtError *err);
int rnnrt_s2s_gradcheck_cmd(const RnnrtS2sModel *m, uint64_t seed, int B, int T, int V, int Vt, int64_t max_per,
                            RnnrtError *err);
int rnnrt_s2s_dump_cmd(const RnnrtS2sModel *m, uint64_t seed, int B, int T, int V, int Vt, RnnrtError *err);

#endif
