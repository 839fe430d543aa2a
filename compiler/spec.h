/*
 * spec.h: the spec AST, what spec.c builds from a YAML file.
 *
 * A spec names the model, the data recipe, one recurrent cell written as
 * equations, the network around it, and the training recipe. spec.c reads the
 * YAML with libyaml, checks every key and scalar strictly (unknown keys get a
 * "did you mean"; integers are plain decimals; aliases, tags, duplicate keys
 * and multi-document files are rejected) and parses each equation with the
 * expression grammar in expr.c. Every value keeps the Loc it came from, so
 * later stages can report errors at the right place.
 *
 * What spec.c does NOT check: whether names in equations are defined and
 * whether shapes agree. That is lower.c's job (it builds the graph).
 */
#ifndef RNNC_SPEC_H
#define RNNC_SPEC_H

#include "util.h"

/* ---- expressions (the cell equation language) ----
 *
 *   expr    = term (("+" | "-") term)*
 *   term    = matmul (("*") matmul)*
 *   matmul  = unary ("@" unary)*
 *   unary   = "-" unary | primary
 *   primary = number | name | name "(" expr ")" | "(" expr ")"
 *
 * `@` binds tighter than `*`, which binds tighter than `+`/`-`; all are left
 * associative. Names are [A-Za-z_][A-Za-z0-9_]* (a trailing ' is not allowed).
 * Functions: sigmoid, tanh, relu, exp (checked by lower.c, not here).
 */
typedef enum { EX_NUM, EX_NAME, EX_CALL, EX_BINOP, EX_NEG } ExprKind;

typedef struct Expr Expr;
struct Expr {
    ExprKind kind;
    Loc loc;          /* EX_BINOP: the operator; EX_CALL: the function name */
    double num;       /* EX_NUM */
    const char *name; /* EX_NAME, EX_CALL */
    char op;          /* EX_BINOP: '+', '-', '*', '@' */
    Expr *lhs, *rhs;  /* EX_BINOP: both; EX_NEG, EX_CALL: lhs is the operand */
};

/* Parse one expression from `text`. `loc` is the Loc of text[0]; the Loc of
 * text[i] is {loc.file, loc.line, loc.col + i} (equations are one-line
 * scalars; spec.c passes the column after any opening quote). Returns NULL
 * after reporting an error via diag_error. */
Expr *expr_parse(Arena *a, const char *text, Loc loc);

/* Print an expression fully parenthesized, for tests and graph dumps. */
void expr_print(FILE *f, const Expr *e);

/* ---- the spec ---- */

typedef enum { TASK_LANGUAGE_MODEL, TASK_LABELLING, TASK_CLASSIFICATION, TASK_NGRAM, TASK_SEQ2SEQ } Task;
typedef enum { TOK_CHAR, TOK_WORD, TOK_WHITESPACE } TokKind;
typedef enum { NORM_NONE, NORM_LETTERS, NORM_LOWER } Normalize;
typedef enum { INPUT_ONE_HOT, INPUT_EMBED } InputKind;
typedef enum { SAMPLER_SEQUENTIAL, SAMPLER_RANDOM } Sampler;
typedef enum { BPTT_FULL, BPTT_TRUNCATED, BPTT_RANDOMIZED } Bptt;
typedef enum { OPT_SGD, OPT_MOMENTUM, OPT_ADAM } Optim;
/* train.lr_schedule, in RNNRT_SCHED_* order (runtime/train/rnnrt_sched.c) */
typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_PLATEAU, SCHED_COSINE } LrSchedule;
typedef enum { HEAD_LAST, HEAD_MEAN } Head; /* classification: which states */
typedef enum { INIT_DEFAULT, INIT_UNIFORM, INIT_NORMAL, INIT_ZEROS } InitKind;

/* A dimension in a param shape: a number, or a symbol resolved by lower.c:
 * "input" (the cell's input width: vocab for one_hot, embed dim for embed)
 * or "hidden". */
typedef struct {
    const char *sym; /* NULL when it is a number */
    long value;      /* when sym == NULL; > 0 checked by spec.c */
    Loc loc;
} SpecDim;

typedef struct {
    const char *name;
    Loc loc;          /* of the key */
    SpecDim dims[4];
    int ndim;         /* 1 or 2 */
    InitKind init;    /* INIT_DEFAULT = uniform(+-1/sqrt(hidden)) */
    double init_arg;  /* uniform: bound a, U(-a,a); normal: stddev */
    Loc init_loc;
} SpecParam;

typedef struct {
    const char *lhs; /* the name being defined */
    Loc loc;         /* of the key */
    Expr *rhs;
    const char *text; /* the equation text as written, for comments */
} SpecEq;

/*   cell: gru | {use: gru}    -- a cell of the standard library, or
 *   cell:
 *     name: rnn_tanh
 *     input: x
 *     state: [h]
 *     output: h
 *     params: {W_ih: [input, hidden], b_ih: [hidden], ...}
 *     equations: {h: tanh(x @ W_ih + b_ih + h @ W_hh + b_hh)}
 * Equations run in order; a state name on the right-hand side means its
 * previous value until the equation that defines it, its new value after. */
typedef struct {
    const char *name;
    Loc loc;
    const char *input;
    Loc input_loc;
    const char **state;
    Loc *state_locs;
    int nstate;
    const char *output;
    Loc output_loc;
    SpecParam *params;
    int nparams;
    SpecEq *eqs;
    int neqs;
} SpecCell;

/*   ngram:
 *     order: 5                        1 .. 8
 *     smoothing: modified_kneser_ney  mle | add_k | backoff | kneser_ney |
 *                                     modified_kneser_ney
 *     k: 1.0                          add_k's pseudo-count, > 0 (default 1)
 *     discount: auto                  backoff, kneser_ney: D in [0, 1), or
 *                                     auto = n1 / (n1 + 2 n2) (default) */
typedef enum { SMOOTH_MLE, SMOOTH_ADD_K, SMOOTH_BACKOFF, SMOOTH_KN, SMOOTH_MKN } Smoothing;

typedef struct {
    int order;
    Smoothing smoothing;
    double k;
    double discount; /* < 0: auto */
    Loc loc, order_loc, smoothing_loc, k_loc, discount_loc;
} SpecNgram;

/* task: seq2seq (issue #4). The encoder is the spec's `cell` over the
 * source (network.layers of them); the decoder is one scan whose first
 * layer is `decoder.cell`, a cell that reads its input (the embedding of
 * the previous target token) and the attention context, and whose upper
 * layers are `cell` again:
 *
 *   decoder:
 *     context: c          the context's name in decoder.cell's equations
 *     cell: {name, input, state, output, params, equations}
 *   attention:            absent: c = the encoder's final top-layer state
 *     query: q            the decoder's top-layer state before the step [B,hidden]
 *     keys: k             the encoder's top-layer outputs [T,B,hidden] (also the values)
 *     params: {NAME: SHAPE, ...}
 *     score: EXPR         one score per source step: [T,B]
 */
typedef struct {
    const char *query, *keys;
    Loc loc, query_loc, keys_loc;
    SpecParam *params;
    int nparams;
    SpecEq score;
} SpecAttention;

typedef struct {
    const char *path; /* as given on the command line (diagnostics name it) */
    const char *name; /* the emitted C's name for it: path, or relative to a
                       * root after spec_set_root() */
    const char *text; /* the whole file (in perm), for diagnostics */
    size_t text_len;
    uint64_t hash;    /* hash_fnv1a of the file bytes */

    const char *model; /* model: rnn  -- [A-Za-z_][A-Za-z0-9_]*, used in C names */
    Loc model_loc;
    Task task;
    Loc task_loc;

    /* data: */
    TokKind tokens;
    Normalize normalize;
    double split; /* fraction for training, in (0,1) */
    Loc data_loc, tokens_loc, split_loc, normalize_loc;

    SpecCell cell; /* cell: */

    /* network: */
    InputKind input;
    int embed_dim; /* input: {embed: N}; 0 for one_hot */
    int hidden;
    Loc input_loc, hidden_loc, network_loc;

    /* train: */
    int batch, steps, epochs;
    Sampler sampler;
    Bptt bptt;
    int bptt_k;      /* truncated: cut the gradient every k steps (0 = steps) */
    double bptt_p;   /* randomized: probability of continuing, in (0,1] */
    Optim optimizer;
    double lr, clip_norm; /* clip_norm 0 = off */
    uint64_t seed;
    Loc train_loc, batch_loc, steps_loc, epochs_loc, lr_loc, clip_loc,
        bptt_loc, sampler_loc;

    /* ---- added for gated and deeper networks (issue #3) ----
     * An absent key's Loc is the Loc of its section's key, as above. */

    /* cell: NAME | {use: NAME} selects a cell of the standard library
     * (compiler/cells/NAME.yaml, built into rnnc). `cell` is then that
     * file's cell and its Locs point into "<rnnc>/cells/NAME.yaml". */
    const char *cell_use; /* NULL for a cell written in the spec */
    Loc cell_use_loc;     /* the name in the spec */

    /* data: */
    int min_freq;         /* min_freq: N >= 1 (default 1); rarer training
                             tokens become <unk> */
    Loc min_freq_loc;

    /* network: */
    int layers;           /* layers: N, 1..64 (default 1) */
    double dropout;       /* dropout: P in [0,1) (default 0), between layers */
    bool bidirectional;   /* bidirectional: true | false (default false) */
    Head head;            /* head: last | mean (classification only; default last) */
    Loc layers_loc, dropout_loc, bidirectional_loc, head_loc;
    /* network (issue 13; language models with input: {embed: N}), torch's
     * word_language_model: dropout_embed: P on the embedding's output,
     * dropout_output: P on the top layer's output (both in [0,1), default
     * 0); tie_weights: true makes the output projection the embedding's
     * transpose (one parameter; needs embed == hidden). */
    double dropout_embed, dropout_output;
    bool tie_weights;
    Loc dropout_embed_loc, dropout_output_loc, tie_weights_loc;

    /* train.optimizer: the hyperparameters, PyTorch's defaults filled in:
     * momentum 0.9 (SGD with momentum, no dampening, no Nesterov); Adam
     * beta1 0.9, beta2 0.999, eps 1e-8. Unused ones are 0. */
    double momentum, beta1, beta2, eps;
    Loc optimizer_loc;

    /* train.lr_schedule (PyTorch's schedulers: rnnrt_sched.c) and its
     * numbers, 0 = the runtime's default (step every 1 epoch, factor 0.1,
     * patience 10, threshold 1e-4, min_lr 0); train.warmup_steps and
     * train.weight_decay, 0 = none. */
    LrSchedule lr_schedule;
    int lr_step, lr_patience, warmup_steps;
    double lr_factor, lr_threshold, lr_min, weight_decay;
    Loc lr_schedule_loc;

    /* data (issue 13; task: language_model only): eos: true ends every
     * line with <eos> (word and whitespace tokens); max_vocab: N >= 5
     * caps the vocabulary, specials included (0 = no cap); valid and test:
     * files, as written (read from the trainer's current directory; rnnc
     * checks them from its own), NULL = none. */
    bool eos;
    int max_vocab;
    const char *valid, *test;
    Loc eos_loc, max_vocab_loc, valid_loc, test_loc;

    /* ---- task: ngram (the counted baseline; no cell, network or train) ---- */
    SpecNgram ngram;

    /* ---- task: seq2seq (issue #4) ---- */
    SpecCell dec_cell;      /* decoder.cell */
    const char *dec_context; /* decoder.context */
    Loc decoder_loc, dec_context_loc;
    bool has_attention;
    SpecAttention attn;
} Spec;

/* A cell of the standard library: compiler/cells/NAME.yaml, embedded into
 * rnnc at build time by compiler/cells/embed.cmake (sorted by name). */
typedef struct {
    const char *name; /* "gru" */
    const char *text; /* the file's bytes, NUL-terminated */
    size_t len;
} SpecLibCell;

extern const SpecLibCell spec_cell_library[];
extern const int spec_cell_library_n;

/* The text of the file a Loc of spec `s` points into: the spec itself, or
 * the library cell it uses ("<rnnc>/cells/gru.yaml"). NULL when `file` is
 * neither. For comments that quote the source line (emit.c). */
const char *spec_source_text(const Spec *s, const char *file, size_t *len);
/* Line `line` of that file, trimmed, safe inside a C comment (ASCII only,
 * no comment delimiters), in perm. "" when unknown. */
const char *spec_line_text(const Spec *s, const char *file, int line);

/* Names the spec in the emitted C (s->name) relative to the directory root
 * (NULL: the current directory) when the file is inside it, so the same
 * spec emits the same bytes wherever the checkout lives; a spec outside
 * keeps its path as given (an absolute one stays absolute). Diagnostics
 * keep s->path. false (errno set) when root cannot be resolved. */
bool spec_set_root(Arena *a, Spec *s, const char *root);
/* The emitted C's name for `file`, a Loc's file (NULL or s->path: the
 * spec, s->name; a library cell's "<rnnc>/cells/NAME.yaml" as it is). */
const char *spec_file_name(const Spec *s, const char *file);

/* Read and check a spec file. On any error, prints diagnostics and returns
 * NULL; *exit_code is set to EXIT_IO when the file cannot be read and to
 * EXIT_SPEC otherwise. */
Spec *spec_load(Arena *a, const char *path, int *exit_code);

/* Same, from text in memory (path is used for diagnostics only). */
Spec *spec_parse(Arena *a, const char *path, const char *text, size_t len);

#endif
