/*
 * rnnrt_s2s.h: the sequence-to-sequence parts of librnnrt (issue #4):
 * parallel corpora, minibatches with valid lengths, greedy and beam
 * decoding, BLEU, attention plots and a toy task. None of it depends on the
 * model: the generated seq2seq trainer supplies a step function.
 *
 * Layouts follow rnnrt.h: token ids of a minibatch are time-major, [T][B].
 */
#ifndef RNNRT_S2S_H
#define RNNRT_S2S_H

#include "rnnrt.h"

/* ---------------------------------------------------------------------
 * Parallel corpus (rnnrt_pairs.c)
 *
 * File format: UTF-8 text, one pair per line, `source<TAB>target`, LF line
 * ends (one CR before the LF is dropped). Every line must hold exactly one
 * tab and two sides with at least one token each, and be at most
 * RNNRT_PAIRS_MAX_LINE bytes (not counting the line end). A file may end
 * with or without a final newline; blank lines are errors. Errors name the
 * place as path:line:col, 1-based, col counted in bytes (as
 * rnnrt_utf8_check), exit code 1.
 *
 * Preprocessing of each side (d2l's preprocess_nmt / MTFraEng._preprocess):
 *   1. U+202F (narrow no-break space) and U+00A0 (no-break space) -> ' '
 *   2. lowercase: ASCII, Latin-1 (U+00C0-U+00DE but U+00D7), Latin
 *      Extended-A (U+0100-U+017F; U+0130 -> "i" U+0307 as Python), U+0178,
 *      Greek (U+0391-U+03AB) and Cyrillic (U+0400-U+042F). This equals
 *      Python's str.lower() on those blocks; other characters are kept.
 *   3. a ' ' is inserted before each of , . ! ? not preceded by ' ' (nor at
 *      the start of the side, where it would make no difference).
 *   4. tokens = the maximal runs of bytes other than ' ' (Python's
 *      [t for t in s.split(' ') if t]); nothing else separates tokens, so
 *      U+2009 (thin space) stays inside its token, as in d2l.
 *
 * Vocabularies, one per side, from the training pairs only: <unk>=0 <pad>=1
 * <bos>=2 <eos>=3, then the tokens counted >= min_freq times, by decreasing
 * count, ties by byte order. A word spelled like a special token ("<eos>")
 * is never added and encodes as <unk>, so <pad> marks padding only.
 *
 * Arrays (d2l's build_array_nmt and truncate_pad): a side's ids + <eos>, cut
 * to num_steps or padded with <pad> to num_steps; valid length = the number
 * of non-pad ids = min(len + 1, num_steps) (a cut drops the <eos>). The
 * decoder input (teacher forcing) is <bos> followed by the label's first
 * num_steps - 1 ids.
 *
 * Split: the first floor(n * train_frac) pairs train, the rest are held
 * out (train_frac 0.9: the last 10% of the lines).
 * ------------------------------------------------------------------- */
#define RNNRT_PAIRS_MAX_LINE 4096

typedef struct {
    double train_frac; /* (0, 1]; 0.9 */
    int min_freq;      /* >= 1; 2 */
    int num_steps;     /* >= 2; 10 */
    size_t max_pairs;  /* read only the first max_pairs lines; 0 = all */
} RnnrtPairsOpts;

void rnnrt_pairs_opts_default(RnnrtPairsOpts *o);

/* One side of the corpus: the preprocessed tokens of every pair as strings
 * (for BLEU against untruncated references) and as ids. */
typedef struct {
    char *text;       /* every token, NUL-terminated, back to back */
    char **tok;       /* ntok pointers into text */
    size_t ntok;
    size_t *start;    /* n + 1: pair i's tokens are tok[start[i]..start[i+1]) */
    int32_t *ids;     /* ntok ids (encoded with the side's vocabulary) */
    size_t unk_train; /* tokens of the training pairs that became <unk> */
    size_t unk_held;  /* tokens of the held-out pairs that became <unk> */
} RnnrtSide;

typedef struct {
    size_t n, ntrain;     /* pairs; train = [0, ntrain), held out = rest */
    int T;                /* num_steps */
    RnnrtVocab src_vocab, tgt_vocab;
    RnnrtSide src, tgt;
    /* [n][T] arrays, row i = pair i (batch-major; batches are time-major) */
    int32_t *src_arr, *dec_in, *label;
    int32_t *src_valid, *tgt_valid; /* [n] */
    uint64_t hash;        /* FNV-1a of the file's bytes */
} RnnrtPairs;

/* Reads, checks, preprocesses and encodes a parallel corpus. src_vocab and
 * tgt_vocab NULL: build them from the training pairs; otherwise copy them
 * (eval/translate with a checkpoint's vocabularies; each is checked with
 * rnnrt_s2s_vocab_check). On error nothing is left allocated. */
int rnnrt_pairs_load(RnnrtPairs *p, const char *path, const RnnrtPairsOpts *o,
                     const RnnrtVocab *src_vocab, const RnnrtVocab *tgt_vocab,
                     RnnrtError *err);
/* The same from memory; path is only used in messages. */
int rnnrt_pairs_parse(RnnrtPairs *p, const char *path, const char *data,
                      size_t len, const RnnrtPairsOpts *o,
                      const RnnrtVocab *src_vocab,
                      const RnnrtVocab *tgt_vocab, RnnrtError *err);
void rnnrt_pairs_free(RnnrtPairs *p);

/* A vocabulary usable for seq2seq: ids 0..3 are <unk> <pad> <bos> <eos>
 * and there is at least one other token. what = "target vocabulary". */
int rnnrt_s2s_vocab_check(const RnnrtVocab *v, const char *what,
                          RnnrtError *err);

/* Preprocesses one side (steps 1-3 above) of text[0..len) into out, which
 * must hold 2 * len + 1 bytes; returns the length written (NUL-terminated).
 * The text must be valid UTF-8. */
size_t rnnrt_s2s_preprocess(const char *text, size_t len, char *out);

/* Checks one line typed by a user (translate): valid UTF-8, no NUL, no tab,
 * at most RNNRT_PAIRS_MAX_LINE bytes. where_prefix = "<stdin>"; lineno
 * 1-based. Errors are located at where_prefix:lineno:col, exit code 1. */
int rnnrt_s2s_check_line(const char *line, size_t len, const char *where,
                         size_t lineno, RnnrtError *err);

/* Encodes one source sentence (preprocessed and tokenized as above) into a
 * row of T ids + valid length, as the arrays. Tokens not in v (and lines
 * with no token at all) are fine: unknown words become <unk> (counted in
 * *nunk when not NULL); an empty line is just <eos>. */
void rnnrt_s2s_encode(const RnnrtVocab *v, const char *line, size_t len, int T,
                      int32_t *row, int32_t *valid, size_t *nunk);
/* The same in the caller's scratch (no allocation): pre of 2 * len + 1
 * bytes, ids of T entries. */
void rnnrt_s2s_encode_in(const RnnrtVocab *v, const char *line, size_t len,
                         int T, int32_t *row, int32_t *valid, size_t *nunk,
                         char *pre, int32_t *ids);

/* ---- minibatches ----
 * Pairs [first, first + count) of p, in an order reshuffled every epoch
 * (Fisher-Yates with the runtime RNG; the identity order when shuffle is
 * 0). Minibatch i holds B pairs, the last one of an epoch fewer unless
 * drop_last. Rows past the last pair of a short minibatch are filled with
 * <pad> and valid length 0, so fixed-size code can run it: a masked loss
 * gets nothing from them. */
typedef struct {
    const RnnrtPairs *p;
    size_t first, count;
    int B, shuffle, drop_last;
    size_t *order;     /* count pair indices */
    size_t nbatches;   /* minibatches per epoch */
} RnnrtS2sBatcher;

typedef struct {
    int B, T;
    int nrows;           /* real pairs in this minibatch (<= B) */
    int32_t *src;        /* [T][B] */
    int32_t *dec_in;     /* [T][B] */
    int32_t *label;      /* [T][B] */
    int32_t *src_valid;  /* [B] */
    int32_t *tgt_valid;  /* [B] */
    size_t *pair;        /* [B] pair index of each row (SIZE_MAX past nrows) */
    int64_t ntokens;     /* sum of tgt_valid: the label tokens */
} RnnrtS2sBatch;

void rnnrt_s2s_batcher_init(RnnrtS2sBatcher *b, const RnnrtPairs *p,
                            size_t first, size_t count, int B, int shuffle,
                            int drop_last);
void rnnrt_s2s_batcher_epoch(RnnrtS2sBatcher *b, RnnrtRng *r);
void rnnrt_s2s_batcher_free(RnnrtS2sBatcher *b);
void rnnrt_s2s_batch_init(RnnrtS2sBatch *mb, int B, int T);
void rnnrt_s2s_batch_free(RnnrtS2sBatch *mb);
/* Fills minibatch i (< b->nbatches) of the current epoch. */
void rnnrt_s2s_batcher_get(const RnnrtS2sBatcher *b, size_t i,
                           RnnrtS2sBatch *mb);

/* ---------------------------------------------------------------------
 * Decoding (rnnrt_beam.c)
 *
 * The model is a step function over n rows: given each row's previous
 * token and state (S reals), it writes the next state and log-probabilities
 * (log-softmax, [n][V]). Rows are independent; in a search over nsent
 * sentences with width k, row r always belongs to sentence r / k (the model
 * keeps each sentence's encoder outputs itself), and every call has
 * nsent * k rows. Rows of finished or unused hypotheses are still passed
 * (prev = <eos>, some state); their outputs are ignored.
 *
 * Search (greedy is k = 1): step 1 extends the start hypothesis (prev =
 * <bos>, state0) of each sentence. Every step extends each live hypothesis
 * by every allowed token (<pad> and <bos> never; <unk> only when allow_unk),
 * scores candidates by total log-probability (summed in double), and keeps
 * the best k - f, f = the hypotheses of that sentence finished so far, ties
 * broken by lower row, then lower token id. A kept candidate that ends in
 * <eos> is finished and leaves the beam, which so shrinks by one. After
 * max_len steps the live hypotheses are finished as they are. The result
 * is the finished hypothesis with the best score / len^alpha (len = tokens
 * including the <eos> when emitted; alpha = 0.75 as d2l), ties to the one
 * finished first. With k = 1 this is exactly greedy decoding. Since the
 * model always offers some allowed token, every input (also one of only
 * unknown words) gives an output, possibly empty.
 * ------------------------------------------------------------------- */
typedef void (*RnnrtStepFn)(void *model, int n, const int32_t *prev,
                            const real *state_in, real *state_out,
                            real *logprobs /* [n][V] */);

typedef struct {
    int beam;      /* k >= 1 */
    int max_len;   /* >= 1: tokens generated at most, <eos> included */
    double alpha;  /* length normalization exponent, default 0.75 */
    int allow_unk; /* 0 (default): <unk> is never emitted */
} RnnrtBeamOpts;

void rnnrt_beam_opts_default(RnnrtBeamOpts *o);

typedef struct {
    int nsent, max_len;
    int32_t *tokens; /* [nsent][max_len]: the output, <eos> not included */
    int *len;        /* [nsent] tokens in each output */
    double *logprob; /* [nsent] total log-probability (with <eos>) */
    double *score;   /* [nsent] logprob / len^alpha */
    /* [nsent][max_len]: the row (s * k + slot) whose step-t call produced
     * token t of the output, so a model that records attention weights per
     * call and row can find those of the chosen hypothesis. */
    int *rows;
} RnnrtBeamResult;

void rnnrt_beam_result_free(RnnrtBeamResult *r);
/* state0: [nsent][S]; V > 4. Returns 0 or RNNRT_EXIT_USAGE (bad options),
 * RNNRT_EXIT_SIGINT/SIGTERM when a signal arrived between steps. */
int rnnrt_beam_search(RnnrtStepFn step, void *model, int nsent, int V, int S,
                      const real *state0, const RnnrtBeamOpts *o,
                      RnnrtBeamResult *res, RnnrtError *err);
/* The same in buffers allocated once (the C API's translator): a work for
 * searches of up to nsent sentences of width k and max_len steps over V
 * tokens and S state reals (NULL and exit 2 in err when those are out of
 * range; out of memory exits 3); rnnrt_beam_search_in allocates nothing,
 * and its result lives in w until the next search (not for
 * rnnrt_beam_result_free). Equal results to rnnrt_beam_search. */
typedef struct RnnrtBeamWork RnnrtBeamWork;
RnnrtBeamWork *rnnrt_beam_work_new(int nsent, int k, int V, int S,
                                   int max_len, RnnrtError *err);
void rnnrt_beam_work_free(RnnrtBeamWork *w);
int rnnrt_beam_search_in(RnnrtBeamWork *w, RnnrtStepFn step, void *model,
                         int nsent, int V, int S, const real *state0,
                         const RnnrtBeamOpts *o, RnnrtBeamResult *res,
                         RnnrtError *err);

/* ---------------------------------------------------------------------
 * BLEU (rnnrt_bleu.c). Sequences are token ids (the caller maps strings
 * to ids, e.g. with rnnrt_bleu_intern, so that unknown reference words stay
 * distinct instead of all becoming <unk>). <eos> and padding must already
 * be removed.
 *
 * d2l's bleu(pred, label, k): exp(min(0, 1 - len_label / len_pred)) *
 * prod_{n=1..k} p_n^(1/2^n), p_n = clipped n-gram matches / (len_pred -
 * n + 1). Where d2l divides by zero (len_pred < n, e.g. an empty
 * prediction) the score is 0 here.
 *
 * Corpus BLEU-4 (Papineni et al. 2002, one reference per sentence, as
 * multi-bleu.perl and sacrebleu without smoothing): p_n = sum of clipped
 * n-gram matches / sum of predicted n-grams, over the whole corpus;
 * BP = 1 if c > r else exp(1 - r/c), c and r the total lengths; BLEU =
 * BP * exp(sum_n log p_n / 4); 0 when any p_n is 0 (or c is 0). Note: nltk's
 * corpus_bleu differs when a prediction is shorter than n (it counts a
 * denominator of 1 for it).
 * ------------------------------------------------------------------- */
double rnnrt_bleu_d2l(const int32_t *pred, int len_pred, const int32_t *label,
                      int len_label, int k);

typedef struct {
    int64_t match[4], total[4]; /* clipped matches, predicted n-grams */
    int64_t pred_len, ref_len;
} RnnrtBleuStats;

void rnnrt_bleu_stats_init(RnnrtBleuStats *s);
void rnnrt_bleu_stats_add(RnnrtBleuStats *s, const int32_t *pred,
                          int len_pred, const int32_t *ref, int len_ref);
double rnnrt_bleu_stats_score(const RnnrtBleuStats *s); /* in [0, 1] */
/* Corpus BLEU-4 of n sentences: pred[i] has pred_len[i] ids. */
double rnnrt_corpus_bleu4(int n, const int32_t *const *pred,
                          const int *pred_len, const int32_t *const *ref,
                          const int *ref_len);
/* Id of the string tok in v, adding it (count 0) when it is new. v comes
 * from rnnrt_vocab_init (specials first, so "<unk>" maps to 0). */
int32_t rnnrt_bleu_intern(RnnrtVocab *v, const char *tok);

/* ---------------------------------------------------------------------
 * Attention plots (rnnrt_attnviz.c). One matrix per sentence: w[i][j] =
 * weight of source position j when target token i was produced.
 *
 * CSV (RFC 4180; fields with , " CR LF quoted, " doubled): per sentence a
 * header row `sentence <k>,<src 1>,...,<src ns>`, then one row per target
 * token `<tgt i>,w[i][0],...`, numbers in %.9g (float) or %.17g (double)
 * so they read back exactly; a blank line between sentences.
 * SVG: one self-contained file, every sentence's heatmap under the
 * previous one, white (0) to dark blue (1), source tokens on top (rotated),
 * target tokens on the left, each cell with a <title> of its weight; all
 * text XML-escaped.
 * ------------------------------------------------------------------- */
typedef struct {
    int ns, nt;               /* source and target tokens */
    const char *const *src;   /* ns strings */
    const char *const *tgt;   /* nt strings */
    const real *w;            /* [nt][ns] */
} RnnrtAttnMatrix;

/* Each returns 0, or -1 when a write failed (errno is set). */
int rnnrt_attn_write_csv(FILE *f, const RnnrtAttnMatrix *m, int count);
int rnnrt_attn_write_svg(FILE *f, const RnnrtAttnMatrix *m, int count);
/* Writes csv_path and svg_path (either may be NULL) through rnnrt_out.h:
 * both are written before either is renamed into place; on error neither
 * tmp file is left behind (exit 3, naming the path). */
int rnnrt_attn_save(const char *csv_path, const char *svg_path,
                    const RnnrtAttnMatrix *m, int count, RnnrtError *err);

/* ---------------------------------------------------------------------
 * Toy task (rnnrt_toytask.c): n lines `x1 x2 .. xL<TAB>y1 .. yL` with L
 * uniform in [min_len, max_len] and tokens drawn uniformly from the first
 * nsym words of "a" "b" .. "z" (nsym <= 26), deterministic in seed.
 * task "reverse": y = x reversed; "copy": y = x. Readable by
 * rnnrt_pairs_load (lowercase, no punctuation).
 * ------------------------------------------------------------------- */
int rnnrt_toytask_write(FILE *f, const char *task, size_t n, int nsym,
                        int min_len, int max_len, uint64_t seed,
                        RnnrtError *err);

/* ---------------------------------------------------------------------
 * The generated training step of a `task: seq2seq` spec (emit.c).
 *
 * The parameter table uses RNNRT_DIM_V for the source vocabulary and
 * RNNRT_DIM_VT for the target's. forward computes the masked loss (the
 * mean cross-entropy over the label tokens before each row's tgt_len) and
 * the logits; backward adds the gradient of that loss to grads and writes
 * dstate_in (the encoder's initial states) when it is not NULL.
 * ------------------------------------------------------------------- */
#define RNNRT_DIM_VT RNNRT_DIM_L /* target vocabulary size: the parameter
                                    block resolves it as L */

typedef struct {
    int B, T, V, Vt;          /* V: source vocabulary; T: num_steps */
    const real *params;
    real *grads;              /* zeroed by the caller; backward adds */
    const int32_t *src;       /* [T][B] source ids */
    const int32_t *dec_in;    /* [T][B] <bos> + label[:-1] (teacher forcing) */
    const int32_t *label;     /* [T][B] */
    const int32_t *src_len;   /* [B] valid source steps */
    const int32_t *tgt_len;   /* [B] valid label steps */
    const real *state_in;     /* B*S reals: the encoder's initial states */
    real *dstate_in;          /* B*S reals or NULL */
    real *work;               /* workspace(B, T, V, Vt) reals */
    real *logits;             /* set by forward: [T][B][Vt] in work */
    real *attention;          /* set by forward: [T][T][B] in work, the weight of
                                 source step s at decoder step t for row b;
                                 NULL for a model without attention */
    double loss;              /* set by forward */
} RnnrtS2sCtx;

/* Decoding one step at a time (issue #5): encode once per batch of
 * sources, then step once per target token. Decoder states are dec_states
 * blocks [B][Sd / dec_states], block k at state_in + B * k * (Sd /
 * dec_states). encode and step of one search share work; encode's rows
 * are the step's rows (a beam repeats its sentence's source k times). */
typedef struct {
    int B, T, V, Vt;          /* T: num_steps, the source's padded length */
    const real *params;
    const int32_t *src;       /* encode: [T][B] source ids */
    const int32_t *src_len;   /* encode and step: [B] valid source steps */
    const int32_t *prev;      /* step: [B] the previous target tokens (<bos> first) */
    const real *state_in;     /* step: B*Sd reals, the decoder's states before it */
    real *state_out;          /* B*Sd reals: encode writes the initial states, step the next */
    real *work;               /* decode_workspace(B, T, V, Vt) reals */
    real *logits;             /* set by step: [B][Vt] in work */
    real *attention;          /* set by step: [T][B] in work, the weight of source
                                 step s for row b; NULL without attention */
} RnnrtS2sDecCtx;

typedef struct RnnrtS2sModel {
    const char *name, *spec_path;
    uint64_t spec_hash;
    int nparams;
    const RnnrtParamDesc *params;
    int state_size;           /* S: the encoder's initial states per row */
    int has_attention;        /* forward sets RnnrtS2sCtx.attention */
    RnnrtRecipe recipe;       /* steps = num_steps; split, min_freq, batch,
                                 epochs, optimizer, lr, clip_norm, seed */
    size_t (*workspace)(int B, int T, int V, int Vt);
    void (*forward)(RnnrtS2sCtx *c);
    void (*backward)(RnnrtS2sCtx *c);
    /* Decoding entries (RnnrtS2sDecCtx). A descriptor without them (emitted
     * before they were, encode NULL) decodes through forward instead. */
    int dec_state_size;       /* Sd: the decoder's states per row */
    int dec_states;           /* blocks of Sd / dec_states reals per row */
    size_t (*decode_workspace)(int B, int T, int V, int Vt);
    void (*encode)(RnnrtS2sDecCtx *c);
    void (*step)(RnnrtS2sDecCtx *c);
} RnnrtS2sModel;

/* ---- batch-split threads (rnnrt_s2s_split.c) ----
 * `--threads N` for the seq2seq trainer: each minibatch's rows over N
 * workers (rnnrt_crew_*), losses and gradients combined with weights
 * count_i / count, the slices' shares of the valid label tokens. */
typedef struct RnnrtS2sSplit RnnrtS2sSplit;
/* min(threads, B), or 1 when threads <= 1 or B <= 1. */
int rnnrt_s2s_split_workers(int threads, int B);
/* With one worker *out = NULL and OpenBLAS gets `threads` (0 = its
 * default), as before; otherwise OpenBLAS gets 1 thread and *out the
 * workers for minibatches of B rows and T steps, gradient blocks of total
 * reals; worker 0 uses work0 (the caller's workspace for B rows) when it
 * is not NULL. Exit 3 when a thread cannot be started. Over MPI ranks
 * (rnnrt_mpi_start) there is always a split, over this rank's rows only;
 * exit 2 when B is smaller than the ranks. */
int rnnrt_s2s_split_new(RnnrtS2sSplit **out, const RnnrtS2sModel *m,
                        int threads, int B, int T, int V, int Vt,
                        size_t total, real *work0, RnnrtError *err);
/* m->forward (and m->backward when `backward`) on c, split over p when p
 * is not NULL and fits c (B, T, a zero state_in, no dstate_in): loss and
 * grads (+=) as the plain calls give them; c->logits and c->attention are
 * NULL after a split call. */
void rnnrt_s2s_run(const RnnrtS2sModel *m, RnnrtS2sSplit *p, RnnrtS2sCtx *c,
                   int backward);
int rnnrt_s2s_split_n(const RnnrtS2sSplit *p); /* 1 when NULL */
/* The MPI ranks p's rows are split over (rnnrt_mpi.c; 1 when NULL): each
 * rank computes its rows' part of the minibatch's loss and gradients. */
int rnnrt_s2s_split_ranks(const RnnrtS2sSplit *p);
void rnnrt_s2s_split_free(RnnrtS2sSplit *p);

/* The seq2seq trainer's main (rnnrt_s2s_main.c):
 *   MODEL train PAIRS [--epochs N] [--lr F] [--batch N] [--max-pairs N]
 *                     [--beam K] [--eval-max N] [--seed N] [--ckpt CKPT]
 *                     [--resume] [--force] [--save-every N] [--max-steps N]
 *                     [--max-seconds X] [--quiet]
 *   MODEL eval PAIRS --model CKPT [--beam K] [--max-pairs N] [--eval-max N]
 *   MODEL translate --model CKPT [--beam K] [--attention OUT.csv]
 *                                              (stdin -> stdout; OUT.svg too)
 *   MODEL gradcheck [--seed N] [--max-per-param N] ...  (double build)
 * train learns on the first 90% (the recipe's split) of PAIRS with teacher
 * forcing, checkpointing (both vocabularies, the parameters, the optimizer
 * and the cursor; default MODEL.ckpt) every epoch and on SIGINT/SIGTERM
 * (exit 130/143); --resume continues exactly. Then it decodes the held-out
 * pairs greedily and with beam search and reports corpus BLEU-4, d2l's
 * mean BLEU and exact match; eval does the same from a checkpoint.
 * Decoding runs the model's encode once per batch of sources and its step
 * once per token; eval and translate --rerun-decode (and a model emitted
 * without those entries) instead rerun the training step's forward over the
 * prefix decoded so far at every step (the same outputs: the decoder is
 * causal; T times the work). */
int rnnrt_s2s_main(int argc, char **argv, const RnnrtS2sModel *m);

/* Safetensors export and import (runtime/io/rnnrt_safetensors.c; the
 * spec's parameter names): `export CKPT -o FILE` and `import FILE --ckpt
 * NEW`, argv[0] being the command. The checkpoint side is the trainer's
 * (rnnrt_s2s_ckpt.c): weights reads a checkpoint's parameter block into p
 * (free it with rnnrt_params_free on success) and vocabularies (the caller
 * frees them whatever the result); from_weights saves a checkpoint of p
 * with the train state ts and no progress in an epoch. */
int rnnrt_st_s2s_cmd(int argc, char **argv, const RnnrtS2sModel *m,
                     const char *prog);
int rnnrt_s2s_ckpt_weights(const char *path, const RnnrtS2sModel *m,
                           RnnrtParams *p, RnnrtVocab *sv, RnnrtVocab *tv,
                           RnnrtError *err);
int rnnrt_s2s_ckpt_from_weights(const char *path, const RnnrtS2sModel *m,
                                const RnnrtParams *p, const RnnrtVocab *sv,
                                const RnnrtVocab *tv,
                                const RnnrtTrainState *ts, RnnrtError *err);

#endif
