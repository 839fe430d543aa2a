/*
 * emit_infer_s2s.c: a seq2seq model -> standalone C (`rnnc SPEC
 * --inference --weights CKPT` on a `task: seq2seq` spec, infer.h).
 *
 * Two step functions, each printed by emit_infer.c's machinery
 * (infer_emit.h) from a forward graph for B = 1:
 *
 *   the encoder step: the lowered model's encoder scans for one source
 *     token (T = 1): the scans of all layers run their bodies once, the
 *     carried states read from and written to the caller's struct, the
 *     padding mask the step's `t < src_len`. After the step, the values
 *     the decoder reads (s2s_step's invariants: the keys and their
 *     projection, a row per source position, or the context of a model
 *     without attention) are copied into the struct. Running it over the
 *     source's T positions is what the trainer's encoder computes: the same
 *     ops in the same order per element (a state past the source's length
 *     stays as it was, as the trainer's mask keeps it);
 *   the decoder step: s2s_step's graph (lower_s2s.c), the training
 *     decoder's body as a graph of its own, with T the source's positions
 *     (the trainer's train.steps): attention over them, the cells, the
 *     logits.
 *
 * Around them: the source's preprocessing and lookup (rnnrt_pairs.c:
 * lower case, a space before , . ! ?, words split at spaces, <eos>
 * appended, cut or padded to T), greedy decoding as the trainer's beam
 * search of width 1 (rnnrt_beam.c: log-softmax in double, the best
 * allowed token by its summed score, <unk> <pad> <bos> never chosen, at
 * most T tokens), and the two vocabularies as string tables.
 */
#include "infer_emit.h"

#include <ctype.h>
#include <string.h>

enum { UNK = 0, PAD = 1, BOS = 2, EOS = 3 };
enum { BEAM_MAX = 8 }; /* the widest beam of <name>_beam */

/* What the two steps need besides emit_infer.c's state. */
typedef struct {
    Infer enc, dec;
    S2sStep *st;
    int T;                 /* source positions (train.steps) */
    int dec_state_of[MAX_STATES]; /* decoder state k starts as encoder state dec_state_of[k] */
} S2sInfer;

static bool is_src_len(const Node *n)
{
    return n->op == OP_INPUT && n->index == INPUT_SRC_LEN;
}

/* Does invariant j of the step have a row per source position? */
static bool inv_per_step(const S2sInfer *S, int j)
{
    const Node *n = S->st->inv_src[j];
    return n->shape.ndim > 0 && n->shape.d[0] == DIM_T;
}

static size_t inv_width(S2sInfer *S, int j)
{
    return infer_last_dim(&S->enc, S->st->inv_src[j]->shape);
}

static const char *s2s_input_ref(Infer *I, const Node *n)
{
    if (n->index == INPUT_SRC_LEN)
        return "s->src_len";
    if (n->index == INPUT_DEC_IN)
        return "x";
    if (n->index >= INPUT_STEP_INV && n->index < INPUT_STEP_INV + 64) {
        int j = n->index - INPUT_STEP_INV;
        (void)I;
        return n->dtype == DT_INT ? "s->src_len" : arena_printf(&perm, "s->inv%d", j);
    }
    return NULL;
}

/* The ops only seq2seq has, as emit.c prints them for the trainer (the
 * float build): the same operations in the same order. */
static bool s2s_node(Infer *I, const Node *n, size_t N, const char *o)
{
    const Node *a = n->in[0];
    int T = I->T ? I->T : 1;
    switch (n->op) {
    case OP_LEN_MASK: /* the encoder step's position t of the source */
        if (N != 1)
            DIE("emit_infer_s2s: a padding mask of %zu values", N);
        infer_out(I, 1, "%s[0] = t < %s[0] ? 1.0f : 0.0f;\n", o, infer_ref(I, a));
        return true;
    case OP_SUM_LAST: {
        size_t w = infer_last_dim(I, a->shape);
        infer_out(I, 1, "for (size_t i = 0; i < %zu; i++) {\n", N);
        infer_out(I, 2, "float acc = 0;\n");
        infer_out(I, 2, "for (size_t j = 0; j < %zu; j++)\n", w);
        infer_out(I, 3, "acc += %s[i * %zu + j];\n", infer_ref(I, a), w);
        infer_out(I, 2, "%s[i] = acc;\n", o);
        infer_out(I, 1, "}\n");
        return true;
    }
    case OP_MASKED_SOFTMAX_T: { /* [T, 1]: over the source's first src_len positions */
        const char *S = infer_ref(I, a), *len = infer_ref(I, n->in[1]);
        infer_out(I, 1, "{\n");
        infer_out(I, 2, "const int L = %s[0] < 0 ? 0 : %s[0] > %d ? %d : %s[0];\n", len, len, T, T, len);
        infer_out(I, 2, "float mx = %s[0], sum = 0;\n", S);
        infer_out(I, 2, "for (int t = 1; t < L; t++)\n");
        infer_out(I, 3, "mx = %s[t] > mx ? %s[t] : mx;\n", S, S);
        infer_out(I, 2, "for (int t = 0; t < %d; t++) { /* past L: weight 0 (adds nothing to sum) */\n", T);
        infer_out(I, 3, "const float e = t < L ? expf(%s[t] - mx) : 0.0f;\n", S);
        infer_out(I, 3, "%s[t] = e;\n", o);
        infer_out(I, 3, "sum += e;\n");
        infer_out(I, 2, "}\n");
        infer_out(I, 2, "for (int t = 0; t < L; t++)\n");
        infer_out(I, 3, "%s[t] /= sum;\n", o);
        infer_out(I, 1, "}\n");
        return true;
    }
    default:
        return false;
    }
}

static bool s2s_op_ok(const Node *n)
{
    switch (n->op) {
    case OP_LEN_MASK: case OP_SUM_LAST: case OP_MASKED_SOFTMAX_T:
        return true;
    case OP_INPUT:
        return infer_op_supported(n) || n->index == INPUT_SRC_LEN || n->index == INPUT_DEC_IN ||
               (n->index >= INPUT_STEP_INV && n->index < INPUT_STEP_INV + 64);
    default:
        return infer_op_supported(n);
    }
}

/* The decoder step as a model of its own: its states are s2s_step's. */
static void step_states(S2sStep *st)
{
    Model *d = st->m;
    d->nstates = st->nstates;
    d->state_size = 0;
    for (int k = 0; k < st->nstates; k++) {
        d->state_in[k] = st->state_in[k];
        d->state_out[k] = st->state_out[k];
        d->state_size += st->state_in[k]->shape.d[st->state_in[k]->shape.ndim - 1];
    }
}

/* Marks what both steps compute (node->aux) and checks they can be printed. */
static bool prepare(S2sInfer *S, const Model *m, const InferWeights *w)
{
    S2sStep *st = S->st = s2s_step(&perm, m);
    step_states(st);
    S->T = m->spec->steps;
    for (int j = 0; j < st->ninv; j++)
        infer_mark((Node *)st->inv_src[j]);
    for (int k = 0; k < m->nstates; k++)
        infer_mark(m->state_out[k]);
    for (int k = 0; k < st->nstates; k++) {
        S->dec_state_of[k] = -1;
        for (int j = 0; j < m->nstates; j++)
            if (st->state_init[k] == m->state_out[j])
                S->dec_state_of[k] = j;
        if (S->dec_state_of[k] < 0 ||
            m->state_out[S->dec_state_of[k]]->shape.d[1] != st->state_in[k]->shape.d[1]) {
            diag_error(m->spec->task_loc, "--inference: the decoder's state %d does not start from an encoder state",
                       k);
            return false;
        }
    }
    Model *d = st->m;
    infer_mark(d->logits);
    for (int k = 0; k < d->nstates; k++)
        infer_mark(d->state_out[k]);
    if (d->attention)
        infer_mark(d->attention);
    bool ok = infer_check_graph(m->g, s2s_op_ok, " in a seq2seq model") &
              infer_check_graph(d->g, s2s_op_ok, " in a seq2seq model");
    S->enc = (Infer){.m = m, .w = w, .P = m->spec->model, .T = 1, .Vt = w ? w->Vt : 0, .keep = (const Node *const *)st->inv_src,
                     .nkeep = st->ninv, .input_ref = s2s_input_ref, .extra_node = s2s_node};
    S->dec = (Infer){.m = d, .w = w, .P = m->spec->model, .T = S->T, .Vt = w ? w->Vt : 0,
                     .keep = (const Node *const *)&d->attention, .nkeep = d->attention ? 1 : 0,
                     .input_ref = s2s_input_ref, .extra_node = s2s_node};
    return ok;
}

bool infer_s2s_supported(const Model *m)
{
    S2sInfer S;
    return prepare(&S, m, NULL);
}

/* ---- the file ---- */

/* Printing: through the encoder's Infer (both write to the same file). */
#define out(S, ...) infer_out(&(S)->enc, __VA_ARGS__)

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

static size_t longest(const char *const *tok, int n)
{
    size_t l = 0;
    for (int i = 0; i < n; i++)
        l = max_size(l, strlen(tok[i]));
    return l;
}

static size_t vocab_bytes(const char *const *tok, int n)
{
    size_t b = 0;
    for (int i = 0; i < n; i++)
        b += strlen(tok[i]) + 1 + sizeof(void *);
    return b;
}

static size_t inv_floats(S2sInfer *S)
{
    size_t n = 0;
    for (int j = 0; j < S->st->ninv; j++)
        if (!is_src_len(S->st->inv_src[j]))
            n += inv_width(S, j) * (inv_per_step(S, j) ? (size_t)S->T : 1);
    return n;
}

static const char *upper(const char *s)
{
    char *u = arena_strdup(&perm, s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

static void emit_header(S2sInfer *S, size_t scratch)
{
    const Model *m = S->enc.m;
    const Spec *s = m->spec;
    const InferWeights *w = S->enc.w;
    const char *P = S->enc.P, *U = upper(P);
    size_t wbytes = w->total * sizeof(float) + vocab_bytes(w->tokens, w->ntokens) + vocab_bytes(w->tgt_tokens, w->Vt);
    size_t states = (size_t)2 * (size_t)(m->state_size + S->st->m->state_size);
    size_t ram = 4 * (states + inv_floats(S) + scratch) + 4 * ((size_t)S->T + 1) + 4 * 4;
    out(S, 0, "/*\n");
    out(S, 0, " * generated by rnnc %s --inference from %s and the checkpoint %s; do not edit.\n", RNNC_VERSION,
        infer_ctext(s->name), infer_ctext(w->path));
    out(S, 0, " *\n");
    out(S, 0, " * Model '%s': a seq2seq (encoder-decoder) model, encoder cell '%s', decoder cell '%s',\n", s->model,
        s->cell.name, s->dec_cell.name);
    out(S, 0, " * hidden %d, %d layer(s), %s; %d source and %d target tokens (words),\n", s->hidden, s->layers,
        S->st->m->attention ? "attention over the source" : "no attention (the context is the source's last state)",
        w->ntokens, w->Vt);
    out(S, 0, " * sources of at most %d tokens (with <eos>; the trainer's train.steps), translations of at most %d.\n",
        S->T, S->T);
    out(S, 0, " * Standalone: needs a C11 compiler and libm (expf, exp, log) only; no heap, no stdio,\n");
    out(S, 0, " * no global state (everything lives in the caller's %s_infer).\n", P);
    out(S, 0, " *\n");
    out(S, 0, " * Memory:\n");
    out(S, 0, " *   weights and vocabularies (read only): %zu bytes (%zu floats) (%s_WEIGHT_BYTES)\n", wbytes,
        w->total, U);
    out(S, 0, " *   %s_infer (RAM, the caller's): about %zu bytes = encoder and decoder states 2 x (%d + %d) floats\n",
        P, ram, m->state_size, S->st->m->state_size);
    out(S, 0, " *     + what the decoder reads of the encoder %zu floats + scratch %zu floats (the steps' values,\n",
        inv_floats(S), scratch);
    out(S, 0, " *     logits and attention included) + the source's %d ids; exactly sizeof(%s_infer) (%s_RAM_BYTES)\n",
        S->T, P, U);
    out(S, 0, " *   %s_translate's output: at most %s_TEXT_BYTES bytes; stack: a few scalars.\n", P, U);
    out(S, 0, " *\n");
    out(S, 0, " * Use (or #define RNNC_INFER_DECLARE_ONLY and #include this file for the declarations):\n");
    out(S, 0, " *   static %s_infer s;                   (%s_RAM_BYTES bytes: static or the caller's)\n", P, U);
    out(S, 0, " *   char text[%s_TEXT_BYTES];\n", U);
    out(S, 0, " *   %s_translate(&s, \"how are you ?\", 13, text, sizeof text);   greedy, as `translate`\n", P);
    out(S, 0, " * or step by step:\n");
    out(S, 0, " *   int32_t ids[%s_STEPS];\n", U);
    out(S, 0, " *   int n = %s_source_ids(\"how are you ?\", 13, ids, %s_STEPS);\n", P, U);
    out(S, 0, " *   %s_encode(&s, ids, n);               the source (+ <eos>, padded to %s_STEPS)\n", P, U);
    out(S, 0, " *   const float *logits = %s_step(&s, %d);   <bos> (2), then each chosen token: %s_LOGITS floats\n",
        P, BOS, U);
    out(S, 0, " *   const float *a = %s_attention(&s);   the step's weights over the %s_STEPS source positions\n", P,
        U);
    out(S, 0, " *   int32_t out[%s_STEPS];\n", U);
    out(S, 0, " *   int len = %s_greedy(&s, out);        after %s_encode: the target ids, <eos> not included\n", P, P);
    out(S, 0, " *   const char *word = %s_target_token(out[0]);\n", P);
    out(S, 0, " *\n");
    out(S, 0, " * Build: cc -std=c11 -O2 -c %s_infer.c (also -ffreestanding); link with -lm.\n", P);
    out(S, 0, " */\n");
    out(S, 0, "#ifndef %s_INFER_H\n#define %s_INFER_H\n\n", U, U);
    out(S, 0, "#include <stddef.h>\n#include <stdint.h>\n\n");
    out(S, 0, "#define %s_SRC_VOCAB %d /* source tokens; ids 0-3 are <unk> <pad> <bos> <eos> */\n", U, w->ntokens);
    out(S, 0, "#define %s_TGT_VOCAB %d /* target tokens, the same specials */\n", U, w->Vt);
    out(S, 0, "#define %s_LOGITS %s_TGT_VOCAB /* floats a decoder step returns */\n", U, U);
    out(S, 0, "#define %s_STEPS %d /* source positions (with <eos>) and the longest translation */\n", U, S->T);
    out(S, 0, "#define %s_TEXT_BYTES %zu /* the longest translation's text, with its NUL */\n", U,
        (size_t)S->T * (longest(w->tgt_tokens, w->Vt) + 1) + 1);
    out(S, 0, "#define %s_WEIGHT_BYTES %zu /* weights and vocabularies */\n", U, wbytes);
    out(S, 0, "#define %s_RAM_BYTES sizeof(%s_infer)\n\n", U, P);
}

static void emit_struct(S2sInfer *S, size_t scratch)
{
    const char *P = S->enc.P;
    out(S, 0, "/* Everything that changes: one per translation in progress. */\n");
    out(S, 0, "typedef struct {\n");
    out(S, 1, "float enc[2][%d]; /* the encoder's carried state: now and next */\n", S->enc.m->state_size);
    out(S, 1, "float dec[2][%d]; /* the decoder's */\n", S->st->m->state_size);
    for (int j = 0; j < S->st->ninv; j++) {
        const Node *n = S->st->inv_src[j];
        if (is_src_len(n))
            continue;
        if (inv_per_step(S, j))
            out(S, 1, "float inv%d[%zu]; /* %s: a row per source position */\n", j, (size_t)S->T * inv_width(S, j),
                n->name ? n->name : op_name(n->op));
        else
            out(S, 1, "float inv%d[%zu]; /* %s */\n", j, inv_width(S, j), n->name ? n->name : op_name(n->op));
    }
    out(S, 1, "float w[%zu]; /* the steps' values (arrays shared by values whose lifetimes do not overlap) */\n",
        scratch);
    out(S, 1, "int32_t src[%d]; /* the source's ids, <eos>, padding */\n", S->T);
    out(S, 1, "int32_t src_len[1]; /* its valid positions (with <eos>) */\n");
    out(S, 1, "int enc_cur, dec_cur; /* which state is now's */\n");
    out(S, 1, "int encoded;          /* a source was encoded (0 in a zeroed struct: no step yet) */\n");
    out(S, 1, "int steps;            /* decoder steps since the last encode */\n");
    out(S, 0, "} %s_infer;\n\n", P);
    out(S, 0, "#define %s_BEAM_MAX %d /* the widest beam %s_beam_work holds */\n\n", upper(P), BEAM_MAX, P);
    out(S, 0, "/* The memory of a beam search: the hypotheses' decoder states, scores and\n"
              " * histories, and the finished ones. */\n");
    out(S, 0, "typedef struct {\n");
    out(S, 1, "float state[3][%d][%d]; /* now, after the step, chosen */\n", BEAM_MAX, S->st->m->state_size);
    out(S, 1, "double score[%d], new_score[%d], best[%d];\n", BEAM_MAX, BEAM_MAX, BEAM_MAX);
    out(S, 1, "int32_t prev[%d], tok[%d][%d], par[%d][%d];\n", BEAM_MAX, S->T, BEAM_MAX, S->T, BEAM_MAX);
    out(S, 1, "int best_row[%d], best_tok[%d];\n", BEAM_MAX, BEAM_MAX);
    out(S, 1, "double pool_logprob[%d];\n", BEAM_MAX);
    out(S, 1, "int pool_last[%d], pool_slot[%d], pool_len[%d], pool_norm[%d];\n", BEAM_MAX, BEAM_MAX, BEAM_MAX,
        BEAM_MAX);
    out(S, 0, "} %s_beam_work;\n\n", P);
    out(S, 0, "/* The ids of a source sentence (UTF-8) as the trainer reads one: lower case, a\n"
              " * space before , . ! ?, words split at spaces, an unknown word <unk>. Writes at\n"
              " * most max ids; returns how many. */\n");
    out(S, 0, "int %s_source_ids(const char *text, size_t len, int32_t *ids, int max);\n", P);
    out(S, 0, "/* Encodes the source ids[0..n) (+ <eos>, cut or padded to %s_STEPS) and starts a\n"
              " * translation. Returns the valid positions, or -1 for an id out of range. */\n", upper(P));
    out(S, 0, "int %s_encode(%s_infer *s, const int32_t *ids, int n);\n", P, P);
    out(S, 0, "/* One decoder step from token prev (<bos> = %d first): the logits of the next token\n"
              " * (valid until the next step), or NULL for an id out of range or before an encode. */\n", BOS);
    out(S, 0, "const float *%s_step(%s_infer *s, int prev);\n", P, P);
    out(S, 0, "/* The last step's attention weights over the source positions (NULL: none). */\n");
    out(S, 0, "const float *%s_attention(const %s_infer *s);\n", P, P);
    out(S, 0, "/* Greedy decoding after an encode, as the trainer's translate: writes the target\n"
              " * ids (at most %s_STEPS, <eos> not included) and returns how many. */\n", upper(P));
    out(S, 0, "int %s_greedy(%s_infer *s, int32_t *out);\n", P, P);
    out(S, 0, "/* Beam search of width k (1 .. %s_BEAM_MAX) after an encode, as the trainer's\n"
              " * translate --beam k: the finished hypothesis of the best log-probability /\n"
              " * length^0.75. Its memory is the caller's w (sizeof(%s_beam_work) bytes).\n"
              " * Writes the target ids (at most %s_STEPS) and returns how many, or -1 for a\n"
              " * width out of range or no encode. */\n", upper(P), P, upper(P));
    out(S, 0, "int %s_beam(%s_infer *s, %s_beam_work *w, int k, int32_t *out);\n", P, P, P);
    out(S, 0, "/* source_ids, encode, greedy, and the target's tokens joined by spaces into text\n"
              " * (cap bytes, NUL-terminated, %s_TEXT_BYTES always enough). Returns the target\n"
              " * tokens, or -1 when cap is too small (text is then cut). */\n", upper(P));
    out(S, 0, "int %s_translate(%s_infer *s, const char *src, size_t len, char *text, size_t cap);\n", P, P);
    out(S, 0, "/* The text of a token (NUL-terminated), or NULL out of range; a word's id, or -1. */\n");
    out(S, 0, "const char *%s_source_token(int id);\n", P);
    out(S, 0, "const char *%s_target_token(int id);\n", P);
    out(S, 0, "int %s_source_id(const char *word, size_t len);\n\n", P);
    out(S, 0, "#endif\n\n");
}

static void emit_table(S2sInfer *S, const char *name, const char *const *tok, int n, const char *what)
{
    out(S, 0, "/* The %s vocabulary: token id -> its text. */\n", what);
    out(S, 0, "static const char *const %s_%s[%d] = {\n", S->enc.P, name, n);
    for (int i = 0; i < n; i++) {
        fputs("    ", S->enc.f);
        infer_emit_cstring(&S->enc, tok[i]);
        fputs(i + 1 < n ? ",\n" : "\n", S->enc.f);
    }
    out(S, 0, "};\n\n");
}

/* The local pointers to a step's values in s->w. */
static void emit_locals(Infer *I)
{
    for (int k = 0; k < I->nbuf; k++) {
        const Buf *b = &I->buf[k];
        if (!b->expr)
            infer_out(I, 1, "float *const %s = s->w + %zu;%s%s%s\n", b->name, infer_slot_offset(I, b->slot),
                      b->node->text ? " /* " : "", b->node->text ? infer_ctext(b->node->text) : "",
                      b->node->text ? " */" : "");
    }
}

/* Why the file's copies store through volatile pointers. */
static const char *const no_memmove = "a loop compilers do not turn into a call to memmove";

/* The next states a step did not compute in place. */
static void emit_state_copies(Infer *I)
{
    const Model *m = I->m;
    for (int k = 0; k < m->nstates; k++) {
        const Node *so = m->state_out[k];
        const char *r = infer_ref(I, so), *want = arena_printf(&perm, "(next + %d)", infer_state_offset(m, k));
        if (strcmp(r, want) == 0)
            continue;
        infer_out(I, 1, "/* state %d is not computed in place */\n", k);
        infer_out(I, 1, "for (size_t i = 0; i < %zu; i++)\n", infer_numel(I, so->shape));
        infer_out(I, 2, "((volatile float *)%s)[i] = %s[i]; /* volatile: %s */\n", want, r, no_memmove);
    }
}

/* Where the encoder step leaves invariant j of the decoder (t: the position). */
static const char *inv_dst(S2sInfer *S, int j)
{
    if (!inv_per_step(S, j))
        return arena_printf(&perm, "s->inv%d", j);
    return arena_printf(&perm, "(s->inv%d + (size_t)t * %zu)", j, inv_width(S, j));
}

/* An invariant that is a value of its own (the key projection) is computed
 * straight into its row of the struct. */
static void place_invariants(S2sInfer *S)
{
    for (int j = 0; j < S->st->ninv; j++) {
        const Node *n = S->st->inv_src[j];
        Buf *b = is_src_len(n) ? NULL : infer_base(&S->enc, n);
        if (b && !b->expr && b->node == n)
            b->expr = inv_dst(S, j);
    }
}

static void emit_encoder_step(S2sInfer *S)
{
    Infer *I = &S->enc;
    const char *P = I->P;
    out(S, 0, "/* Source token id at position t through the encoder (its scans' bodies once, B = 1). */\n");
    out(S, 0, "static void %s_encode_step(%s_infer *s, int32_t id, int t)\n{\n", P, P);
    out(S, 1, "const int32_t x[1] = {id};\n");
    out(S, 1, "const float *state = t ? s->enc[s->enc_cur] : %s_zeros;\n", P);
    out(S, 1, "float *next = s->enc[s->enc_cur ^ 1];\n");
    out(S, 1, "(void)x, (void)state;\n");
    emit_locals(I);
    infer_emit_graph(I, I->m->g);
    emit_state_copies(I);
    out(S, 1, "/* what the decoder reads */\n");
    for (int j = 0; j < S->st->ninv; j++) {
        const Node *n = S->st->inv_src[j];
        if (is_src_len(n))
            continue;
        size_t wd = inv_width(S, j);
        const char *dst = inv_dst(S, j);
        if (strcmp(infer_ref(I, n), dst) == 0)
            continue; /* computed there */
        out(S, 1, "for (size_t i = 0; i < %zu; i++) /* volatile: %s */\n", wd, no_memmove);
        out(S, 2, "((volatile float *)%s)[i] = %s[i];\n", dst, infer_ref(I, n));
    }
    out(S, 1, "s->enc_cur ^= 1;\n}\n\n");
}

static void emit_decoder_step(S2sInfer *S)
{
    Infer *I = &S->dec;
    const Model *d = I->m;
    const char *P = I->P;
    out(S, 0, "/* One decoder step (s2s_step's graph: the training decoder's body, B = 1). */\n");
    out(S, 0, "const float *%s_step(%s_infer *s, int prev)\n{\n", P, P);
    out(S, 1, "if (prev < 0 || prev >= %d || !s->encoded)\n", I->Vt);
    out(S, 2, "return NULL;\n");
    out(S, 1, "const int32_t x[1] = {(int32_t)prev};\n");
    out(S, 1, "const float *state = s->dec[s->dec_cur];\n");
    out(S, 1, "float *next = s->dec[s->dec_cur ^ 1];\n");
    out(S, 1, "(void)x, (void)state;\n");
    emit_locals(I);
    infer_emit_graph(I, d->g);
    emit_state_copies(I);
    out(S, 1, "s->dec_cur ^= 1;\n");
    out(S, 1, "s->steps++;\n");
    out(S, 1, "return %s;\n}\n\n", infer_ref(I, d->logits));
    out(S, 0, "const float *%s_attention(const %s_infer *s)\n{\n", P, P);
    const Buf *ab = d->attention ? infer_base(I, d->attention) : NULL;
    if (ab && !ab->expr)
        out(S, 1, "return s->encoded && s->steps > 0 ? s->w + %zu : NULL;\n}\n\n", infer_slot_offset(I, ab->slot));
    else
        out(S, 1, "(void)s;\n    return NULL; /* no attention */\n}\n\n");
}

/* rnnrt_beam.c for one sentence: the same ranking (rows, then tokens, in
 * order; a later candidate passes only a strictly better one), the same
 * pool of finished hypotheses and the same pick. */
static void emit_beam(S2sInfer *S)
{
    const char *P = S->enc.P;
    int T = S->T, Vt = S->enc.w->Vt, DS = S->st->m->state_size;
    out(S, 0, "double pow(double, double);\n\n");
    out(S, 0, "static void %s_copy(volatile float *dst, const float *src) /* volatile: %s */\n{\n", P,
        no_memmove);
    out(S, 1, "for (int i = 0; i < %d; i++)\n", DS);
    out(S, 2, "dst[i] = src[i];\n}\n\n");
    out(S, 0, "int %s_beam(%s_infer *s, %s_beam_work *w, int k, int32_t *out)\n{\n", P, P, P);
    out(S, 1, "if (k < 1 || k > %d || !s->encoded)\n", BEAM_MAX);
    out(S, 2, "return -1;\n");
    out(S, 1, "float (*cur)[%d] = w->state[0], (*stepped)[%d] = w->state[1], (*chosen)[%d] = w->state[2];\n", DS,
        DS, DS);
    out(S, 1, "double *score = w->score, *new_score = w->new_score;\n");
    out(S, 1, "int live = 1, npool = 0; /* live hypotheses: slots 0 .. live - 1 */\n");
    out(S, 1, "w->prev[0] = %d;\n", BOS);
    out(S, 1, "score[0] = 0;\n");
    out(S, 1, "%s_copy(cur[0], s->dec[s->dec_cur]); /* the encoder's final states */\n", P);
    out(S, 1, "for (int t = 0; t < %d; t++) {\n", T);
    out(S, 2, "const int m = k - npool; /* candidates to keep */\n");
    out(S, 2, "int nbest = 0;\n");
    out(S, 2, "for (int r = 0; r < live; r++) {\n");
    out(S, 3, "%s_copy(s->dec[s->dec_cur], cur[r]);\n", P);
    out(S, 3, "const float *z = %s_step(s, w->prev[r]);\n", P);
    out(S, 3, "%s_copy(stepped[r], s->dec[s->dec_cur]);\n", P);
    out(S, 3, "double mx = z[0], sum = 0;\n");
    out(S, 3, "for (int v = 1; v < %d; v++)\n", Vt);
    out(S, 4, "mx = z[v] > mx ? z[v] : mx;\n");
    out(S, 3, "for (int v = 0; v < %d; v++)\n", Vt);
    out(S, 4, "sum += exp(z[v] - mx);\n");
    out(S, 3, "const double lse = mx + log(sum);\n");
    out(S, 3, "for (int v = %d; v < %d; v++) { /* <eos> and the words */\n", EOS, Vt);
    out(S, 4, "const double c = score[r] + (double)(float)(z[v] - lse);\n");
    out(S, 4, "if (!(c >= -1.7976931348623157e308) || (nbest == m && !(c > w->best[m - 1])))\n");
    out(S, 5, "continue;\n");
    out(S, 4, "int at = nbest < m ? nbest++ : m - 1;\n");
    out(S, 4, "for (; at > 0 && c > w->best[at - 1]; at--) {\n");
    out(S, 5, "w->best[at] = w->best[at - 1];\n");
    out(S, 5, "w->best_row[at] = w->best_row[at - 1];\n");
    out(S, 5, "w->best_tok[at] = w->best_tok[at - 1];\n");
    out(S, 4, "}\n");
    out(S, 4, "w->best[at] = c;\n");
    out(S, 4, "w->best_row[at] = r;\n");
    out(S, 4, "w->best_tok[at] = v;\n");
    out(S, 3, "}\n");
    out(S, 2, "}\n");
    out(S, 2, "int slot = 0;\n");
    out(S, 2, "for (int j = 0; j < nbest; j++) {\n");
    out(S, 3, "if (w->best_tok[j] == %d) { /* finished: the hypothesis of its row + <eos> */\n", EOS);
    out(S, 4, "w->pool_last[npool] = t - 1;\n");
    out(S, 4, "w->pool_slot[npool] = w->best_row[j];\n");
    out(S, 4, "w->pool_len[npool] = t;\n");
    out(S, 4, "w->pool_norm[npool] = t + 1;\n");
    out(S, 4, "w->pool_logprob[npool++] = w->best[j];\n");
    out(S, 4, "continue;\n");
    out(S, 3, "}\n");
    out(S, 3, "const int r = slot++;\n");
    out(S, 3, "new_score[r] = w->best[j];\n");
    out(S, 3, "w->prev[r] = w->tok[t][r] = w->best_tok[j];\n");
    out(S, 3, "w->par[t][r] = w->best_row[j];\n");
    out(S, 3, "%s_copy(chosen[r], stepped[w->best_row[j]]);\n", P);
    out(S, 2, "}\n");
    out(S, 2, "double *tmp_score = score;\n");
    out(S, 2, "score = new_score;\n");
    out(S, 2, "new_score = tmp_score;\n");
    out(S, 2, "float (*tmp)[%d] = cur;\n", DS);
    out(S, 2, "cur = chosen;\n");
    out(S, 2, "chosen = tmp;\n");
    out(S, 2, "live = slot;\n");
    out(S, 2, "if (!live)\n");
    out(S, 3, "break;\n");
    out(S, 1, "}\n");
    out(S, 1, "for (int j = 0; j < live; j++) { /* cut off at %d tokens */\n", T);
    out(S, 2, "w->pool_last[npool] = %d;\n", T - 1);
    out(S, 2, "w->pool_slot[npool] = j;\n");
    out(S, 2, "w->pool_len[npool] = w->pool_norm[npool] = %d;\n", T);
    out(S, 2, "w->pool_logprob[npool++] = score[j];\n");
    out(S, 1, "}\n");
    out(S, 1, "int best = -1;\n");
    out(S, 1, "double best_score = 0;\n");
    out(S, 1, "for (int j = 0; j < npool; j++) {\n");
    out(S, 2, "const double sc = w->pool_logprob[j] / pow((double)w->pool_norm[j], 0.75);\n");
    out(S, 2, "if (best < 0 || sc > best_score)\n");
    out(S, 3, "best = j, best_score = sc;\n");
    out(S, 1, "}\n");
    out(S, 1, "if (best < 0)\n");
    out(S, 2, "return 0; /* the model never offered an allowed token */\n");
    out(S, 1, "for (int t = w->pool_last[best], slot = w->pool_slot[best]; t >= 0; t--) {\n");
    out(S, 2, "out[t] = w->tok[t][slot];\n");
    out(S, 2, "slot = w->par[t][slot];\n");
    out(S, 1, "}\n");
    out(S, 1, "return w->pool_len[best];\n}\n\n");
}

static void emit_api(S2sInfer *S)
{
    const char *P = S->enc.P;
    const Model *m = S->enc.m;
    int T = S->T, V = S->enc.w->ntokens, Vt = S->enc.w->Vt;
    out(S, 0, "const char *%s_source_token(int id)\n{\n", P);
    out(S, 1, "return id >= 0 && id < %d ? %s_src_vocab[id] : NULL;\n}\n\n", V, P);
    out(S, 0, "const char *%s_target_token(int id)\n{\n", P);
    out(S, 1, "return id >= 0 && id < %d ? %s_tgt_vocab[id] : NULL;\n}\n\n", Vt, P);
    out(S, 0, "int %s_source_id(const char *word, size_t len)\n{\n", P);
    out(S, 1, "for (int id = 0; id < %d; id++) {\n", V);
    out(S, 2, "const char *t = %s_src_vocab[id];\n", P);
    out(S, 2, "size_t k = 0;\n");
    out(S, 2, "while (k < len && t[k] && t[k] == word[k])\n");
    out(S, 3, "k++;\n");
    out(S, 2, "if (k == len && !t[k])\n");
    out(S, 3, "return id;\n");
    out(S, 1, "}\n");
    out(S, 1, "return -1;\n}\n\n");
    /* rnnrt_s2s_preprocess + rnnrt_s2s_encode_in (runtime/data/rnnrt_pairs.c):
     * its lower case (Python's str.lower() on the blocks rnnrt_s2s.h lists)
     * and its splitting, a word at a time */
    out(S, 0, "/* Python's str.lower() on Latin-1, Latin Extended-A and Cyrillic (rnnrt_pairs.c). */\n");
    out(S, 0, "static uint32_t %s_lower(uint32_t c)\n{\n", P);
    out(S, 1, "if (c >= 'A' && c <= 'Z')\n        return c + 32;\n");
    out(S, 1, "if (c < 0xC0)\n        return c;\n");
    out(S, 1, "if (c <= 0xDE)\n        return c == 0xD7 ? c : c + 32;\n");
    out(S, 1, "if (c >= 0x100 && c <= 0x137 && c != 0x130 && c != 0x131)\n        return c | 1;\n");
    out(S, 1, "if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))\n        return (c & 1) ? c + 1 : c;\n");
    out(S, 1, "if (c >= 0x14A && c <= 0x177)\n        return c | 1;\n");
    out(S, 1, "if (c == 0x178)\n        return 0xFF;\n");
    out(S, 1, "if (c >= 0x400 && c <= 0x40F)\n        return c + 0x50;\n");
    out(S, 1, "if (c >= 0x410 && c <= 0x42F)\n        return c + 32;\n");
    out(S, 1, "return c;\n}\n\n");
    out(S, 0, "/* Appends code point c as UTF-8 to word (cap bytes; *too_long when it does not fit). */\n");
    out(S, 0, "static void %s_put(uint32_t c, char *word, size_t cap, size_t *wl, int *too_long)\n{\n", P);
    out(S, 1, "unsigned char b[4];\n");
    out(S, 1, "size_t k = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;\n");
    out(S, 1, "static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};\n");
    out(S, 1, "for (size_t j = k; j > 1; j--, c >>= 6)\n");
    out(S, 2, "b[j - 1] = (unsigned char)(0x80 | (c & 0x3F));\n");
    out(S, 1, "b[0] = (unsigned char)(lead[k] | c);\n");
    out(S, 1, "for (size_t j = 0; j < k; j++) {\n");
    out(S, 2, "if (*wl < cap)\n");
    out(S, 3, "word[(*wl)++] = (char)b[j];\n");
    out(S, 2, "else\n");
    out(S, 3, "*too_long = 1;\n");
    out(S, 1, "}\n}\n\n");
    out(S, 0, "int %s_source_ids(const char *text, size_t len, int32_t *ids, int max)\n{\n", P);
    out(S, 1, "const unsigned char *u = (const unsigned char *)text;\n");
    out(S, 1, "char word[%zu]; /* the longest source word, and more: <unk> */\n", longest(S->enc.w->tokens, V) + 4);
    out(S, 1, "size_t wl = 0;\n");
    out(S, 1, "int n = 0, too_long = 0;\n");
    out(S, 1, "for (size_t i = 0; i <= len && n < max;) {\n");
    out(S, 2, "uint32_t c = ' '; /* the end of the text ends the last word */\n");
    out(S, 2, "if (i < len) { /* one UTF-8 sequence (translate checks them) */\n");
    out(S, 3, "size_t k = u[i] < 0xC0 ? 1 : u[i] < 0xE0 ? 2 : u[i] < 0xF0 ? 3 : 4;\n");
    out(S, 3, "k = k <= len - i ? k : 1;\n");
    out(S, 3, "c = k == 1 ? u[i] : (uint32_t)(u[i] & (0x7F >> k));\n");
    out(S, 3, "for (size_t j = 1; j < k; j++)\n");
    out(S, 4, "c = c << 6 | (u[i + j] & 0x3F);\n");
    out(S, 3, "i += k;\n");
    out(S, 2, "} else\n");
    out(S, 3, "i++;\n");
    out(S, 2, "if (c == 0x202F || c == 0xA0)\n");
    out(S, 3, "c = ' ';\n");
    out(S, 2, "const int punct = c == ',' || c == '.' || c == '!' || c == '?';\n");
    out(S, 2, "if (c == ' ' || (punct && wl > 0)) { /* the end of a word (a space before punctuation) */\n");
    out(S, 3, "if (wl > 0) {\n");
    out(S, 4, "int id = too_long ? -1 : %s_source_id(word, wl);\n", P);
    out(S, 4, "ids[n++] = id < 4 ? %d : id;\n", UNK);
    out(S, 3, "}\n");
    out(S, 3, "wl = 0, too_long = 0;\n");
    out(S, 3, "if (c == ' ')\n");
    out(S, 4, "continue;\n");
    out(S, 2, "}\n");
    out(S, 2, "if (c == 0x130) { /* Python: U+0130 -> i U+0307 */\n");
    out(S, 3, "%s_put('i', word, sizeof word, &wl, &too_long);\n", P);
    out(S, 3, "%s_put(0x307, word, sizeof word, &wl, &too_long);\n", P);
    out(S, 2, "} else\n");
    out(S, 3, "%s_put(%s_lower(c), word, sizeof word, &wl, &too_long);\n", P, P);
    out(S, 1, "}\n");
    out(S, 1, "return n;\n}\n\n");

    out(S, 0, "int %s_encode(%s_infer *s, const int32_t *ids, int n)\n{\n", P, P);
    out(S, 1, "int32_t valid = 0;\n");
    out(S, 1, "for (int t = 0; t < n && t < %d; t++)\n", T);
    out(S, 2, "if (ids[t] < 0 || ids[t] >= %d)\n", V);
    out(S, 3, "return -1;\n");
    out(S, 1, "for (int t = 0; t < %d; t++) { /* rnnrt_pairs.c's fill_row */\n", T);
    out(S, 2, "s->src[t] = t < n ? ids[t] : t == n ? %d : %d;\n", EOS, PAD);
    out(S, 2, "valid += s->src[t] != %d;\n", PAD);
    out(S, 1, "}\n");
    out(S, 1, "s->src_len[0] = valid;\n");
    out(S, 1, "s->enc_cur = 0;\n");
    out(S, 1, "for (int t = 0; t < %d; t++) /* all positions, as the trainer: padding keeps the state */\n", T);
    out(S, 2, "%s_encode_step(s, s->src[t], t);\n", P);
    out(S, 1, "/* the decoder starts from the encoder's final states */\n");
    for (int k = 0; k < S->st->nstates; k++) {
        int j = S->dec_state_of[k];
        int wd = S->st->state_in[k]->shape.d[1];
        out(S, 1, "for (int i = 0; i < %d; i++) /* volatile: %s */\n", wd, no_memmove);
        out(S, 2, "((volatile float *)s->dec[0])[%d + i] = s->enc[s->enc_cur][%d + i];\n",
            infer_state_offset(S->st->m, k), infer_state_offset(m, j));
    }
    out(S, 1, "s->dec_cur = 0;\n");
    out(S, 1, "s->steps = 0;\n");
    out(S, 1, "s->encoded = 1;\n");
    out(S, 1, "return valid;\n}\n\n");

    out(S, 0, "double exp(double);\ndouble log(double);\n\n");
    out(S, 0, "int %s_greedy(%s_infer *s, int32_t *out)\n{\n", P, P);
    out(S, 1, "/* rnnrt_beam.c with width 1: the summed log-probabilities (each a float of\n"
              "   * z - logsumexp(z), computed in double) of <eos> and tokens 4.. compared */\n");
    out(S, 1, "double score = 0;\n");
    out(S, 1, "int32_t prev = %d;\n", BOS);
    out(S, 1, "for (int t = 0; t < %d; t++) {\n", T);
    out(S, 2, "const float *z = %s_step(s, prev);\n", P);
    out(S, 2, "if (!z)\n");
    out(S, 3, "return 0;\n");
    out(S, 2, "double mx = z[0], sum = 0;\n");
    out(S, 2, "for (int v = 1; v < %d; v++)\n", Vt);
    out(S, 3, "mx = z[v] > mx ? z[v] : mx;\n");
    out(S, 2, "for (int v = 0; v < %d; v++)\n", Vt);
    out(S, 3, "sum += exp(z[v] - mx);\n");
    out(S, 2, "const double lse = mx + log(sum);\n");
    out(S, 2, "int best = -1;\n");
    out(S, 2, "double best_score = 0;\n");
    out(S, 2, "for (int v = %d; v < %d; v++) {\n", EOS, Vt);
    out(S, 3, "const double c = score + (double)(float)(z[v] - lse);\n");
    out(S, 3, "if (!(c >= -1.7976931348623157e308)) /* -inf, NaN */\n");
    out(S, 4, "continue;\n");
    out(S, 3, "if (best < 0 || c > best_score)\n");
    out(S, 4, "best = v, best_score = c;\n");
    out(S, 2, "}\n");
    out(S, 2, "if (best < 0)\n");
    out(S, 3, "return 0; /* the model never offered an allowed token */\n");
    out(S, 2, "if (best == %d)\n", EOS);
    out(S, 3, "return t;\n");
    out(S, 2, "out[t] = best;\n");
    out(S, 2, "score = best_score;\n");
    out(S, 2, "prev = best;\n");
    out(S, 1, "}\n");
    out(S, 1, "return %d;\n}\n\n", T);

    emit_beam(S);
    out(S, 0, "int %s_translate(%s_infer *s, const char *src, size_t len, char *text, size_t cap)\n{\n", P, P);
    out(S, 1, "int32_t ids[%d];\n", T);
    out(S, 1, "int n = %s_source_ids(src, len, ids, %d);\n", P, T);
    out(S, 1, "%s_encode(s, ids, n);\n", P);
    out(S, 1, "int m = %s_greedy(s, ids);\n", P);
    out(S, 1, "size_t at = 0;\n");
    out(S, 1, "int fits = cap > 0;\n");
    out(S, 1, "for (int i = 0; i < m && fits; i++) {\n");
    out(S, 2, "const char *w = %s_tgt_vocab[ids[i]];\n", P);
    out(S, 2, "if (i) {\n");
    out(S, 3, "if (at + 1 >= cap) {\n");
    out(S, 4, "fits = 0;\n");
    out(S, 4, "break;\n");
    out(S, 3, "}\n");
    out(S, 3, "text[at++] = ' ';\n");
    out(S, 2, "}\n");
    out(S, 2, "for (size_t k = 0; w[k]; k++) {\n");
    out(S, 3, "if (at + 1 >= cap) {\n");
    out(S, 4, "fits = 0;\n");
    out(S, 4, "break;\n");
    out(S, 3, "}\n");
    out(S, 3, "text[at++] = w[k];\n");
    out(S, 2, "}\n");
    out(S, 1, "}\n");
    out(S, 1, "if (cap > 0)\n");
    out(S, 2, "text[at] = '\\0';\n");
    out(S, 1, "return fits ? m : -1;\n}\n");
}

bool emit_infer_s2s_c(FILE *f, const Model *m, const InferWeights *w)
{
    S2sInfer S;
    if (!prepare(&S, m, w))
        return false;
    S.enc.f = S.dec.f = f;
    infer_add_buffers(&S.enc, m->g);
    infer_add_buffers(&S.dec, S.st->m->g);
    place_invariants(&S);
    infer_note_ops(&S.enc, m->g);
    infer_note_ops(&S.dec, S.st->m->g);
    infer_plan_slots(&S.enc);
    infer_plan_slots(&S.dec);
    size_t scratch = max_size(infer_slots_total(&S.enc), infer_slots_total(&S.dec));
    emit_header(&S, scratch);
    emit_struct(&S, scratch);
    out(&S, 0, "#ifndef RNNC_INFER_DECLARE_ONLY\n\n");
    out(&S, 0, "float expf(float);\n\n");
    out(&S, 0, "/* the encoder's state before the first token */\nstatic const float %s_zeros[%d] = {0};\n\n", S.enc.P,
        m->state_size);
    infer_emit_weights(&S.enc);
    emit_table(&S, "src_vocab", w->tokens, w->ntokens, "source");
    emit_table(&S, "tgt_vocab", w->tgt_tokens, w->Vt, "target");
    Infer math = S.enc; /* the approximations either step calls */
    for (int op = 0; op < OP__COUNT; op++)
        math.uses[op] = S.enc.uses[op] || S.dec.uses[op];
    infer_emit_math(&math);
    emit_encoder_step(&S);
    emit_decoder_step(&S);
    emit_api(&S);
    out(&S, 0, "\n#endif /* RNNC_INFER_DECLARE_ONLY */\n");
    return true;
}
