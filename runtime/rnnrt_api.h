/*
 * rnnrt_api.h: the C API for trained models, the one header a program that
 * uses a model includes.
 *
 * A model is the C file rnnc generated from its spec, compiled with
 * -DRNNC_NO_MAIN (no trainer main) and linked with librnnrt (librnnrt_d
 * when both are built with -DRNNRT_DOUBLE). The file exports its
 * descriptor as `const RnnrtModel <name>_model`; the program declares it
 * and passes it with the checkpoint the trainer wrote:
 *
 *     #include "rnnrt_api.h"
 *     extern const RnnrtModel rnn_model;   // generated/rnn.c
 *
 *     RnnrtError err;
 *     RnnrtLm *lm;
 *     if (rnnrt_lm_open(&lm, "rnn.ckpt", &rnn_model, &err)) {
 *         fprintf(stderr, "%s\n", err.msg);
 *         return 1;
 *     }
 *     RnnrtLmScore s;
 *     rnnrt_lm_score(lm, "the time machine", 16, &s, &err);
 *     rnnrt_lm_close(&lm);
 *
 * Rules for every function here:
 *  - It returns 0 or an error code (RNNRT_EXIT_*, below) and fills err
 *    (when err is not NULL) with the code and a message. It never prints,
 *    and refuses NULL pointers, bad sizes, a closed handle (rnnrt_lm_close
 *    sets it to NULL) and a damaged checkpoint or one of another model
 *    with a message. It never exits: running out of memory (while a
 *    handle opens, a text grows its buffers or a translator builds its
 *    decoder) is RNNRT_EXIT_IO with "out of memory ..." too.
 *  - There is no global state: each handle owns its parameters, vocabulary
 *    and buffers, so two threads may use two handles (of one model or not)
 *    at once. One handle is not for two threads at a time.
 *  - Memory is allocated when a handle is opened. A call that takes text
 *    keeps a scratch buffer in the handle, grown (and then reused) when a
 *    text is longer than any before; nothing else allocates.
 *  - The arithmetic is the trainer's: rnnrt_lm_score gives the perplexity
 *    the trainer's `eval --batch 1` gives on the same tokens, and
 *    rnnrt_lm_sample with a seed writes what the trainer's `sample --seed`
 *    prints (as the trainer, with denormals flushed to zero during the
 *    call; the caller's floating-point mode is restored).
 *
 * Language models (RnnrtLm), labelling (RnnrtTagger), classification
 * (RnnrtClassifier) and seq2seq models (RnnrtTranslator) each have their
 * handle type, opened the same way, with the same error rules. A
 * classifier's and a tagger's calls allocate nothing (a classifier's
 * scratch for a text grows as a language model's); a translator builds
 * its decoder and search buffers in its first call and rebuilds them only
 * when a call asks for a wider beam than any before.
 */
#ifndef RNNRT_API_H
#define RNNRT_API_H

#include <stddef.h>
#include <stdint.h>

/* The version of rnnc and librnnrt, one number for both: CMakeLists.txt
 * reads it from here (project(), librnnrt.so's SONAME is the major
 * version, rnnc --version, rnncConfigVersion.cmake, rnnrt.pc). */
#define RNNRT_VERSION_MAJOR 0
#define RNNRT_VERSION_MINOR 1
#define RNNRT_VERSION_PATCH 0
#define RNNRT_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ----
 * Codes are the trainers' exit codes (shared/RELIABILITY.md), so a
 * program may exit with them as they are. */
enum {
    RNNRT_EXIT_OK = 0,
    RNNRT_EXIT_DATA = 1,     /* spec or data error: a checkpoint of another
                                model, text the vocabulary cannot encode */
    RNNRT_EXIT_USAGE = 2,    /* bad command line, or bad arguments to an
                                API call (NULL, out of range, closed) */
    RNNRT_EXIT_IO = 3,       /* I/O or resource error: an unreadable or
                                damaged checkpoint, out of memory */
    RNNRT_EXIT_DIVERGED = 4, /* numerical divergence */
    RNNRT_EXIT_ABORTED = 75, /* a second SIGINT/SIGTERM: stopped without
                                saving (the tmp file removed, an older
                                checkpoint intact) */
    RNNRT_EXIT_SIGINT = 130, /* SIGINT, after a clean save */
    RNNRT_EXIT_SIGTERM = 143 /* SIGTERM, after a clean save */
};

typedef struct {
    int code;        /* RNNRT_EXIT_*; 0 = no error */
    char where[512]; /* "path:line:col" when the error has a location */
    char msg[1024];
} RnnrtError;

/* "where: error: msg" or "prog: error: msg" on stderr (for programs; the
 * library itself never prints). */
void rnnrt_error_print(const RnnrtError *e, const char *prog);

/* ---- models ----
 * What a generated file exports (its fields are in rnnrt.h, which only
 * generated code and librnnrt need). */
typedef struct RnnrtModel RnnrtModel;

/* ---- language models ---- */
typedef struct RnnrtLm RnnrtLm;

/* Opens the checkpoint at path, trained with the trainer of model, and
 * sets *lm to a new handle (NULL on failure). The checkpoint is verified
 * as the trainer verifies it: a damaged file is RNNRT_EXIT_IO, a
 * checkpoint of another model or spec RNNRT_EXIT_DATA, a model that is not
 * a language model RNNRT_EXIT_USAGE. */
int rnnrt_lm_open(RnnrtLm **lm, const char *path, const RnnrtModel *model,
                  RnnrtError *err);
/* Frees the handle and sets *lm to NULL; NULL and *lm NULL are no-ops. */
void rnnrt_lm_close(RnnrtLm **lm);

typedef struct {
    const char *name;   /* the spec's model name ("rnn") */
    const char *tokens; /* "char", "word" or "whitespace" */
    const char *real;   /* "float" or "double": the library's build */
    int vocab;          /* tokens, ids 0..vocab-1; ids 0-3 are the specials
                           <unk> <pad> <bos> <eos> */
    int64_t steps;      /* optimizer steps the checkpoint was trained for */
} RnnrtLmInfo;

int rnnrt_lm_info(const RnnrtLm *lm, RnnrtLmInfo *info, RnnrtError *err);
/* *tok = the text of token id (a character, or a word of a word model);
 * the string lives as long as the handle. */
int rnnrt_lm_token(const RnnrtLm *lm, int id, const char **tok,
                   RnnrtError *err);

/* How well the model predicts a text: the text (len bytes of UTF-8) is
 * normalized and tokenized as the training corpus was (tokens the
 * vocabulary lacks become <unk> and are counted), and each token after the
 * first is predicted from those before it, starting from a zero state.
 * Needs at least 2 tokens. The generation state (rnnrt_lm_feed) is left
 * as it was. */
typedef struct {
    double nll;        /* summed negative log-likelihood, in nats */
    double tokens;     /* tokens predicted (the text's tokens minus 1) */
    double perplexity; /* exp(nll / tokens) */
    size_t unk;        /* tokens read as <unk> */
} RnnrtLmScore;

int rnnrt_lm_score(RnnrtLm *lm, const char *text, size_t len,
                   RnnrtLmScore *out, RnnrtError *err);

/* Generation state: rnnrt_lm_reset forgets everything fed (zero state);
 * rnnrt_lm_feed reads text as the trainer's `sample --prefix` does (not
 * normalized; a character the vocabulary lacks is an error, a word a word
 * model lacks is read as <unk> and counted in *unk, which may be NULL);
 * rnnrt_lm_feed_token feeds one id (0 <= id < vocab). */
int rnnrt_lm_reset(RnnrtLm *lm, RnnrtError *err);
int rnnrt_lm_feed(RnnrtLm *lm, const char *text, size_t *unk,
                  RnnrtError *err);
int rnnrt_lm_feed_token(RnnrtLm *lm, int id, RnnrtError *err);
/* The model's distribution over the next token after what was fed:
 * probs[id] for every id < n, n == the vocabulary size (specials
 * included). Something must have been fed since the last reset. */
int rnnrt_lm_next(RnnrtLm *lm, double *probs, int n, RnnrtError *err);

/* Resets, feeds prefix (as rnnrt_lm_feed) and generates n tokens, each
 * drawn from softmax(logits / temperature) over the non-special tokens
 * with an RNG seeded by seed, or the most likely one when temperature is
 * 0. Writes prefix + the generated text (a space before each word of a
 * word model) and a NUL into buf; when that needs more than cap bytes, buf
 * holds what fits and the call fails (RNNRT_EXIT_USAGE). *len (may be
 * NULL) is the length of the whole text, without the NUL, in both cases.
 * The generation state is after the generated text. */
int rnnrt_lm_sample(RnnrtLm *lm, const char *prefix, int n,
                    double temperature, uint64_t seed, char *buf, size_t cap,
                    size_t *len, RnnrtError *err);

/* ---- labelling and classification models ----
 * Opened the same way, from a checkpoint the trainer of a `task:
 * labelling` or `task: classification` spec wrote, with the generated
 * descriptor (a RnnrtModel). Labels are numbered 0..labels-1 in the
 * checkpoint's order; rnnrt_*_label_name gives their text. */
typedef struct RnnrtTagger RnnrtTagger;
typedef struct RnnrtClassifier RnnrtClassifier;

typedef struct {
    const char *name;   /* the spec's model name */
    const char *tokens; /* "char" or "word" */
    const char *real;   /* "float" or "double": the library's build */
    int vocab;          /* tokens, specials included */
    int labels;         /* labels (classes) */
    int steps;          /* the time steps it was trained with: a tagger
                           reads a longer sequence in pieces of this many
                           tokens, carrying its state; a classifier reads
                           at most this many tokens of a text */
    int64_t train_steps; /* optimizer steps the checkpoint was trained for */
} RnnrtTaskInfo;

int rnnrt_tagger_open(RnnrtTagger **t, const char *path,
                      const RnnrtModel *model, RnnrtError *err);
void rnnrt_tagger_close(RnnrtTagger **t);
int rnnrt_tagger_info(const RnnrtTagger *t, RnnrtTaskInfo *info,
                      RnnrtError *err);
int rnnrt_tagger_label_name(const RnnrtTagger *t, int label,
                            const char **name, RnnrtError *err);
/* Labels a sequence of n tokens (tokens[i] NUL-terminated: one character
 * of a char model, a word of a word model, as a line of the training
 * data holds it; a token the vocabulary lacks is read as <unk> and counted
 * in *unk, which may be NULL): labels[i] = the most likely label of token
 * i, from a zero state, as the trainer's eval scores the stream. */
int rnnrt_tagger_label(RnnrtTagger *t, const char *const *tokens, size_t n,
                       int *labels, size_t *unk, RnnrtError *err);

int rnnrt_classifier_open(RnnrtClassifier **c, const char *path,
                          const RnnrtModel *model, RnnrtError *err);
void rnnrt_classifier_close(RnnrtClassifier **c);
int rnnrt_classifier_info(const RnnrtClassifier *c, RnnrtTaskInfo *info,
                          RnnrtError *err);
int rnnrt_classifier_label_name(const RnnrtClassifier *c, int label,
                                const char **name, RnnrtError *err);
/* The class of a text (len bytes of UTF-8, read as the training data's
 * text: normalized, split into chars or words, <unk> for what the
 * vocabulary lacks, cut to `steps` tokens; at least one token):
 * *label = the most likely; probs (NULL, or n == labels entries) = the
 * probability of every label. */
typedef struct {
    int label;      /* the most likely label */
    double prob;    /* its probability */
    int tokens;     /* tokens read (after the cut) */
    size_t unk;     /* of them <unk> */
    int truncated;  /* the text had more than `steps` tokens */
} RnnrtClass;

int rnnrt_classify(RnnrtClassifier *c, const char *text, size_t len,
                   RnnrtClass *out, double *probs, int n, RnnrtError *err);

/* ---- seq2seq models ----
 * A generated seq2seq file exports `const RnnrtS2sModel <name>_model`. */
typedef struct RnnrtS2sModel RnnrtS2sModel;
typedef struct RnnrtTranslator RnnrtTranslator;

int rnnrt_translator_open(RnnrtTranslator **tr, const char *path,
                          const RnnrtS2sModel *model, RnnrtError *err);
void rnnrt_translator_close(RnnrtTranslator **tr);

typedef struct {
    const char *name;
    const char *real;
    int src_vocab, tgt_vocab; /* specials included */
    int steps;                /* num_steps: a source is cut to steps - 1
                                 tokens and <eos>; a translation has at
                                 most steps tokens */
    int has_attention;        /* translations come with attention weights */
} RnnrtTranslatorInfo;

int rnnrt_translator_info(const RnnrtTranslator *tr,
                          RnnrtTranslatorInfo *info, RnnrtError *err);

/* A translation. Its pointers are the handle's: valid until the next
 * rnnrt_translate on the handle or its close. */
typedef struct {
    const char *text;        /* the target tokens joined by ' ' (no <eos>) */
    int ntgt;                /* target tokens */
    const char *const *tgt;  /* [ntgt] */
    int nsrc;                /* the source as the model read it: its
                                tokens (<unk> for unknown ones) and <eos> */
    const char *const *src;  /* [nsrc] */
    const double *attention; /* [ntgt][nsrc]: the weight of source token j
                                when target token i was produced; NULL for
                                a model without attention */
    double logprob;          /* total log-probability, <eos> included */
    double score;            /* logprob / len^0.75, what beam search ranks */
    size_t unk;              /* source tokens read as <unk> */
} RnnrtTranslation;

/* Translates one sentence (len bytes of UTF-8, no tab or NUL, at most 4096
 * bytes; preprocessed as the training pairs: lowercased, punctuation
 * split off) greedily (beam 1) or with beam search of width beam (<= 64),
 * exactly as the trainer's `translate --beam K`. */
int rnnrt_translate(RnnrtTranslator *tr, const char *text, size_t len,
                    int beam, RnnrtTranslation *out, RnnrtError *err);

#ifdef __cplusplus
}
#endif

#endif
