/*
 * check.c: `rnnc SPEC --check DUMP`, emitted code against the interpreter.
 *
 * A generated trainer's `dump` command runs one forward and backward pass
 * on random inputs and prints everything it used and produced as text, one
 * record per line, numbers with %.17g:
 *
 *   dims B T V S [L]              L (labels) only for labelling and
 *                                 classification models
 *   param NAME N v1 ... vN        one per parameter, in m->params order
 *   x N ...   y N ...             int32 [T][B] token ids (labelling: y
 *                                 are labels in [0, L); classification: y
 *                                 is [B])
 *   pool N ...                    classification only: [T][B] pooling weights
 *                                 (read by head: mean only)
 *   mask N ...                    classification only: [T][B] valid-step mask
 *   state N ...                   B*S reals: state k is the [B, width_k]
 *                                 block at offset B * (earlier widths)
 *   carry_scale N ...             [T]
 *   dropout SEED TRAIN            the step's RnnrtCtx.dropout_seed and train
 *                                 (optional: absent = not training)
 *   loss v
 *   logits N ...                  [T][B][V] ([T][B][L], [B][L] for the heads)
 *   state_out N ...               like state
 *   grad NAME N ...               one per parameter, in m->params order
 *   dstate N ...                  like state
 *
 * A seq2seq trainer's dump (task: seq2seq; rnnrt_s2s_main.c) has instead
 *
 *   dims B T V Vt S               V: source vocabulary, Vt: target's
 *   x, dec_in, y N ...            int32 [T][B]: source, decoder input, labels
 *   src_len, tgt_len N ...        int32 [B]
 *   logits N ...                  [T][B][Vt]
 *
 * and no carry_scale or state_out (state and dstate are the encoder's
 * initial states).
 *
 * check_dump reads it (every count, name, id and number is validated and a
 * bad dump is reported as path:line: error: ..., never a crash), feeds the
 * same params and inputs to interp_run and compares each output with
 * |dump - interp| <= atol + rtol * |interp|. It prints one line per tensor
 * and, on a mismatch, the first few differing values.
 *
 * Everything is allocated in a private arena freed before returning.
 */
#include "graph.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SHOW_DIFFS = 5 };

typedef struct {
    double *v;
    size_t n;
    bool seen;
    int line;
} Vec;

typedef struct {
    Arena *a;
    const Model *m;
    const char *path;
    int line;
    char **tok;       /* the current line's words */
    int ntok, cap_tok;
    bool have_dims;
    bool s2s;          /* a seq2seq model (m->decoder) */
    int B, T, V, Vt, S, L;
    int nparam, ngrad; /* param / grad lines read so far */
    Vec *param, *grad; /* [m->nparams] */
    Vec x, y, state, carry_scale, loss, logits, state_out, dstate, pool, mask;
    Vec dec_in, src_len, tgt_len; /* seq2seq */
    bool have_dropout;
    uint64_t dropout_seed;
    bool train;
} Dump;

/* Does the model have a task head with labels (DIM_L)? */
static bool has_labels(const Model *m)
{
    return m->spec && (m->spec->task == TASK_LABELLING || m->spec->task == TASK_CLASSIFICATION);
}

__attribute__((format(printf, 2, 3))) static bool bad(const Dump *d, const char *fmt, ...)
{
    FILE *f = diag_stream();
    if (d->line > 0)
        fprintf(f, "%s:%d: error: ", d->path, d->line);
    else
        fprintf(f, "%s: error: ", d->path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    return false;
}

/* ---- words and numbers ---- */

/* Split line into d->tok in place (spaces, tabs, CR are separators). */
static void split_line(Dump *d, char *line)
{
    d->ntok = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            return;
        d->tok = arena_grow(d->a, d->tok, &d->cap_tok, d->ntok + 1, sizeof(char *));
        d->tok[d->ntok++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        if (*p)
            *p++ = 0;
    }
}

static bool parse_real(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return end != s && *end == 0 && (errno == 0 || errno == ERANGE);
}

static bool parse_long(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Ids of a record: tokens in [0, V), labels in [0, L), target tokens in
 * [0, Vt), lengths in [0, T], or none (reals). */
typedef enum { IDS_NONE, IDS_TOKEN, IDS_LABEL, IDS_TARGET, IDS_LEN } Ids;

/* "NAME? N v1 ... vN" starting at word `first`: checks N against the words
 * on the line and against `want`, then reads the values. */
static bool read_values(Dump *d, const char *what, int first, size_t want, Ids ids, Vec *out)
{
    long long n;
    if (first >= d->ntok || !parse_long(d->tok[first], 0, LLONG_MAX, &n))
        return bad(d, "'%s' needs a count of values (a non-negative integer) after it", what);
    size_t have = (size_t)(d->ntok - first - 1);
    if ((unsigned long long)n != have)
        return bad(d, "'%s' says %lld values but the line has %zu", what, n, have);
    if (have != want)
        return bad(d, "'%s' needs %zu values for this model and dims, got %zu", what, want, have);
    out->v = arena_array(d->a, have + 1, sizeof(double));
    out->n = have;
    for (size_t i = 0; i < have; i++) {
        const char *s = d->tok[first + 1 + (int)i];
        long long k;
        long long limit = ids == IDS_LABEL    ? d->L
                          : ids == IDS_TARGET ? d->Vt
                          : ids == IDS_LEN    ? (long long)d->T + 1
                                              : d->V;
        bool ok = ids ? parse_long(s, 0, limit - 1, &k) : parse_real(s, &out->v[i]);
        if (!ok)
            return bad(d, "'%s' value %zu ('%s') is not %s", what, i + 1, s,
                       ids == IDS_TOKEN    ? "a token id in [0, V)"
                       : ids == IDS_LABEL  ? "a label in [0, L)"
                       : ids == IDS_TARGET ? "a target token id in [0, Vt)"
                       : ids == IDS_LEN    ? "a length in [0, T]"
                                           : "a number");
        if (ids)
            out->v[i] = (double)k;
    }
    out->seen = true;
    out->line = d->line;
    return true;
}

/* ---- sizes ---- */

static bool numel_of(Dump *d, Shape s, size_t *out)
{
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] == DIM_VT)
            s.d[i] = d->Vt; /* shape_numel knows B, T, V and L only */
    if (!shape_numel(s, d->B, d->T, d->V, d->L, out))
        return bad(d, "dims B=%d T=%d V=%d L=%d make a tensor too large", d->B, d->T, d->V, d->L);
    return true;
}

/* Width of state k: state_in[k] is [B, width]. */
static int state_width(const Model *m, int k)
{
    Shape s = m->state_in[k]->shape;
    return s.ndim == 2 && s.d[0] == DIM_B && s.d[1] > 0 ? s.d[1] : -1;
}

/* "h" for state k: the spec's name when there is a spec. */
static const char *state_name(const Model *m, int k)
{
    if (m->spec && k < m->spec->cell.nstate)
        return m->spec->cell.state[k];
    return m->state_in[k]->name ? m->state_in[k]->name : "?";
}

/* ---- records ---- */

/* dims B T V S, with L after S for a task head (B T V S L) and Vt before S
 * for seq2seq (B T V Vt S): must come first; S is the model's state size,
 * L the number of labels, Vt the target vocabulary. */
static bool rec_dims(Dump *d)
{
    long long v[5] = {0};
    bool labels = has_labels(d->m);
    int want = labels || d->s2s ? 5 : 4;
    int is = d->s2s ? 4 : 3; /* where S is */
    if (d->have_dims)
        return bad(d, "'dims' appears twice");
    if (d->ntok != want + 1)
        return bad(d, "'dims' needs %d numbers for this model: %s", want,
                   d->s2s ? "B T V Vt S" : labels ? "B T V S L" : "B T V S");
    for (int i = 0; i < want; i++)
        if (!parse_long(d->tok[i + 1], i == is ? 0 : 1, 0x7fffffff, &v[i]))
            return bad(d, "'dims' value %d ('%s') is not a %s integer", i + 1, d->tok[i + 1],
                       i == is ? "non-negative" : "positive");
    d->B = (int)v[0], d->T = (int)v[1], d->V = (int)v[2], d->S = (int)v[is];
    d->L = labels ? (int)v[4] : 0;
    d->Vt = d->s2s ? (int)v[3] : 0;
    if (d->S != d->m->state_size)
        return bad(d, "'dims' says S = %d but the model carries %d reals per batch row", d->S, d->m->state_size);
    d->have_dims = true;
    return true;
}

/* param NAME N ... / grad NAME N ...: the i-th line names m->params[i]. */
static bool rec_param(Dump *d, bool is_grad)
{
    const char *what = is_grad ? "grad" : "param";
    int *count = is_grad ? &d->ngrad : &d->nparam;
    if (*count >= d->m->nparams)
        return bad(d, "more '%s' lines than the model's %d parameters", what, d->m->nparams);
    const Param *p = &d->m->params[*count];
    if (d->ntok < 2)
        return bad(d, "'%s' needs a name", what);
    if (strcmp(d->tok[1], p->name) != 0)
        return bad(d, "'%s' line %d names '%s', but the model's parameter %d is '%s'", what, *count + 1,
                   d->tok[1], *count + 1, p->name);
    size_t want;
    if (!numel_of(d, p->shape, &want))
        return false;
    const char *label = arena_printf(d->a, "%s %s", what, p->name);
    return read_values(d, label, 2, want, IDS_NONE, &(is_grad ? d->grad : d->param)[(*count)++]);
}

/* A record "KEY N v..." of `want` values stored in `out`. */
static bool rec_vec(Dump *d, const char *key, Vec *out, size_t want, Ids ids)
{
    if (out->seen)
        return bad(d, "'%s' appears twice (first at line %d)", key, out->line);
    return read_values(d, key, 1, want, ids, out);
}

static bool rec_loss(Dump *d)
{
    if (d->loss.seen)
        return bad(d, "'loss' appears twice (first at line %d)", d->loss.line);
    d->loss.v = arena_alloc(d->a, sizeof(double));
    if (d->ntok != 2 || !parse_real(d->tok[1], d->loss.v))
        return bad(d, "'loss' needs exactly one number");
    d->loss.n = 1;
    d->loss.seen = true;
    d->loss.line = d->line;
    return true;
}

/* dropout SEED TRAIN: the masks' seed (an unsigned 64-bit decimal) and 0/1 */
static bool rec_dropout(Dump *d)
{
    if (d->have_dropout)
        return bad(d, "'dropout' appears twice");
    if (d->ntok != 3)
        return bad(d, "'dropout' needs 2 numbers: SEED TRAIN");
    const char *t = d->tok[1];
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(t, &end, 10);
    if (!(*t >= '0' && *t <= '9') || *end || errno == ERANGE)
        return bad(d, "'dropout' seed '%s' is not an unsigned 64-bit integer", t);
    if (strcmp(d->tok[2], "0") != 0 && strcmp(d->tok[2], "1") != 0)
        return bad(d, "'dropout' train flag '%s' is not 0 or 1", d->tok[2]);
    d->dropout_seed = (uint64_t)seed;
    d->train = d->tok[2][0] == '1';
    d->have_dropout = true;
    return true;
}

static bool rec_line(Dump *d)
{
    static const char *const keys[] = {"dims",   "param",  "x",         "y",    "state",  "carry_scale",
                                       "loss",   "logits", "state_out", "grad", "dstate", "dropout",
                                       "pool",   "mask",   "dec_in",    "src_len", "tgt_len"};
    const char *k = d->tok[0];
    if (strcmp(k, "dims") == 0)
        return rec_dims(d);
    bool known = false;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        known |= strcmp(k, keys[i]) == 0;
    if (!known) {
        const char *near = closest_word(k, keys, (int)(sizeof keys / sizeof keys[0]));
        return near ? bad(d, "unknown record '%s'; did you mean '%s'?", k, near) : bad(d, "unknown record '%s'", k);
    }
    if (!d->have_dims)
        return bad(d, "'%s' before 'dims' (the first record must be 'dims B T V S')", k);
    size_t tb, bs, ny, nlogits;
    if (!size_mul((size_t)d->T, (size_t)d->B, &tb) || !size_mul((size_t)d->B, (size_t)d->S, &bs))
        return bad(d, "dims B=%d T=%d V=%d S=%d make a tensor too large", d->B, d->T, d->V, d->S);
    if (!numel_of(d, d->m->y->shape, &ny) || !numel_of(d, d->m->logits->shape, &nlogits))
        return false;
    if (strcmp(k, "param") == 0 || strcmp(k, "grad") == 0)
        return rec_param(d, k[0] == 'g');
    if (strcmp(k, "dropout") == 0)
        return rec_dropout(d);
    if (strcmp(k, "loss") == 0)
        return rec_loss(d);
    if (strcmp(k, "x") == 0)
        return rec_vec(d, k, &d->x, tb, IDS_TOKEN);
    if (strcmp(k, "y") == 0)
        return rec_vec(d, k, &d->y, ny, d->s2s ? IDS_TARGET : has_labels(d->m) ? IDS_LABEL : IDS_TOKEN);
    if (strcmp(k, "pool") == 0 || strcmp(k, "mask") == 0) {
        if (!d->m->mask)
            return bad(d, "'%s' is only for classification models", k);
        return rec_vec(d, k, k[0] == 'p' ? &d->pool : &d->mask, tb, IDS_NONE);
    }
    if (d->s2s && strcmp(k, "dec_in") == 0)
        return rec_vec(d, k, &d->dec_in, tb, IDS_TARGET);
    if (d->s2s && (strcmp(k, "src_len") == 0 || strcmp(k, "tgt_len") == 0))
        return rec_vec(d, k, k[0] == 's' ? &d->src_len : &d->tgt_len, (size_t)d->B, IDS_LEN);
    bool s2s_only = strcmp(k, "dec_in") == 0 || strcmp(k, "src_len") == 0 || strcmp(k, "tgt_len") == 0;
    bool lm_only = strcmp(k, "carry_scale") == 0 || strcmp(k, "state_out") == 0;
    if ((!d->s2s && s2s_only) || (d->s2s && lm_only))
        return bad(d, "'%s' is not a record of a %s model's dump", k, d->s2s ? "seq2seq" : "language");
    if (strcmp(k, "carry_scale") == 0)
        return rec_vec(d, k, &d->carry_scale, (size_t)d->T, false);
    if (strcmp(k, "logits") == 0)
        return rec_vec(d, k, &d->logits, nlogits, IDS_NONE);
    Vec *v = strcmp(k, "state") == 0 ? &d->state : strcmp(k, "state_out") == 0 ? &d->state_out : &d->dstate;
    return rec_vec(d, k, v, bs, IDS_NONE);
}

/* Every record must be there, every parameter and gradient once. */
static bool check_complete(Dump *d)
{
    d->line = 0;
    if (!d->have_dims)
        return bad(d, "no 'dims' record (is this a dump?)");
    if (d->nparam != d->m->nparams)
        return bad(d, "%d 'param' lines, the model has %d parameters", d->nparam, d->m->nparams);
    if (d->ngrad != d->m->nparams)
        return bad(d, "%d 'grad' lines, the model has %d parameters", d->ngrad, d->m->nparams);
    const char *names[] = {"x", "y", "state", "loss", "logits", "dstate", "carry_scale", "state_out"};
    const Vec *vecs[] = {&d->x, &d->y, &d->state, &d->loss, &d->logits, &d->dstate, &d->carry_scale, &d->state_out};
    for (int i = 0; i < (d->s2s ? 6 : 8); i++)
        if (!vecs[i]->seen)
            return bad(d, "no '%s' record", names[i]);
    if (d->m->pool && !d->pool.seen)
        return bad(d, "no 'pool' record (a classification model's pooling weights)");
    const char *s2s_names[] = {"dec_in", "src_len", "tgt_len"};
    const Vec *s2s_vecs[] = {&d->dec_in, &d->src_len, &d->tgt_len};
    for (int i = 0; d->s2s && i < 3; i++)
        if (!s2s_vecs[i]->seen)
            return bad(d, "no '%s' record", s2s_names[i]);
    if (d->m->mask && !d->mask.seen)
        return bad(d, "no 'mask' record (a classification model's valid steps)");
    return true;
}

static bool read_dump(Dump *d, FILE *f)
{
    char *buf = NULL;
    size_t cap = 0;
    bool ok = true;
    d->line = 0;
    while (ok && getline(&buf, &cap, f) >= 0) {
        d->line++;
        split_line(d, buf);
        if (d->ntok > 0)
            ok = rec_line(d);
    }
    if (ok && ferror(f))
        ok = bad(d, "read error");
    free(buf);
    return ok && check_complete(d);
}

/* ---- running the interpreter ---- */

static const int32_t *to_ids(Arena *a, const Vec *v)
{
    int32_t *r = arena_array(a, v->n + 1, sizeof(int32_t));
    for (size_t i = 0; i < v->n; i++)
        r[i] = (int32_t)v->v[i];
    return r;
}

/* Offsets of each state's [B, width] block inside a B*S block. */
static bool state_offsets(Dump *d, size_t *off)
{
    size_t sum = 0;
    for (int k = 0; k < d->m->nstates; k++) {
        int w = state_width(d->m, k);
        if (w < 0)
            return bad(d, "state %d of the model is not [B, width]", k);
        off[k] = (size_t)d->B * sum;
        sum += (size_t)w;
    }
    if (sum != (size_t)d->m->state_size)
        return bad(d, "the model's state widths add up to %zu, not %d", sum, d->m->state_size);
    return true;
}

static InterpResult *run(Dump *d, const size_t *off)
{
    InterpEnv env = {.B = d->B, .T = d->T, .V = d->V, .L = d->L, .pool = d->pool.v,
                     .mask = d->mask.v, .Vt = d->Vt};
    if (d->s2s) {
        env.dec_in = to_ids(d->a, &d->dec_in);
        env.src_len = to_ids(d->a, &d->src_len);
        env.tgt_len = to_ids(d->a, &d->tgt_len);
    }
    env.params = arena_array(d->a, (size_t)d->m->nparams + 1, sizeof(double *));
    for (int i = 0; i < d->m->nparams; i++)
        env.params[i] = d->param[i].v;
    env.x = to_ids(d->a, &d->x);
    env.y = to_ids(d->a, &d->y);
    for (int k = 0; k < d->m->nstates; k++)
        env.state[k] = d->state.v + off[k];
    env.carry_scale = d->carry_scale.v;
    env.dropout_seed = d->dropout_seed;
    env.train = d->train;
    InterpResult *r = interp_run(d->a, d->m, &env);
    if (!r)
        bad(d, "the interpreter could not run on this dump");
    return r;
}

/* ---- comparing ---- */

typedef struct {
    double rtol, atol;
    int bad;          /* tensors that differ */
} Cmp;

/* |got - ref| <= atol + rtol * |ref|; exact equality covers infinities. */
static bool close_enough(const Cmp *c, double got, double ref)
{
    if (got == ref)
        return true;
    double diff = fabs(got - ref);
    return diff <= c->atol + c->rtol * fabs(ref);
}

static void compare(Cmp *c, const char *what, const double *got, const double *ref, size_t n)
{
    double max_abs = 0, max_rel = 0;
    size_t nbad = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = got[i] == ref[i] ? 0 : fabs(got[i] - ref[i]);
        double rel = diff == 0 ? 0 : ref[i] != 0 ? diff / fabs(ref[i]) : INFINITY;
        if (isnan(diff) || diff > max_abs)
            max_abs = diff;
        if (isnan(rel) || rel > max_rel)
            max_rel = rel;
        if (!close_enough(c, got[i], ref[i]))
            nbad++;
    }
    printf("check: %-16s %8zu values  max abs diff %-10.3g max rel diff %-10.3g %s\n", what, n, max_abs, max_rel,
           nbad ? "MISMATCH" : "OK");
    if (!nbad)
        return;
    c->bad++;
    int shown = 0;
    for (size_t i = 0; i < n && shown < SHOW_DIFFS; i++)
        if (!close_enough(c, got[i], ref[i])) {
            printf("    [%zu] dump %.17g  interp %.17g\n", i, got[i], ref[i]);
            shown++;
        }
    if (nbad > SHOW_DIFFS)
        printf("    ... %zu of %zu values differ\n", nbad, n);
}

/* The interpreter's value of n (NULL n: zeros), checked to have `want`
 * elements. */
static const double *ref_value(Dump *d, const InterpResult *r, const Node *n, size_t want, const char *what)
{
    if (!n)
        return arena_array(d->a, want + 1, sizeof(double));
    if (!r->val[n->id] || r->numel[n->id] != want) {
        bad(d, "the interpreter's %s has %zu values, the dump %zu", what, r->numel[n->id], want);
        return NULL;
    }
    return r->val[n->id];
}

/* One line per state for a B*S record (state_out, dstate). */
static bool compare_states(Dump *d, Cmp *c, const InterpResult *r, const char *key, const Vec *v,
                           Node *const *nodes, const size_t *off)
{
    for (int k = 0; k < d->m->nstates; k++) {
        size_t n = (size_t)d->B * (size_t)state_width(d->m, k);
        const char *what = arena_printf(d->a, "%s %s", key, state_name(d->m, k));
        const double *ref = ref_value(d, r, nodes[k], n, what);
        if (!ref)
            return false;
        compare(c, what, v->v + off[k], ref, n);
    }
    return true;
}

static bool compare_all(Dump *d, Cmp *c, const InterpResult *r, const size_t *off)
{
    const Model *m = d->m;
    const double *ref = ref_value(d, r, m->loss, 1, "loss");
    if (!ref)
        return false;
    compare(c, "loss", d->loss.v, ref, 1);
    if (!(ref = ref_value(d, r, m->logits, d->logits.n, "logits")))
        return false;
    compare(c, "logits", d->logits.v, ref, d->logits.n);
    if (!d->s2s && !compare_states(d, c, r, "state_out", &d->state_out, m->state_out, off))
        return false;
    for (int i = 0; i < m->nparams; i++) {
        const char *what = arena_printf(d->a, "grad %s", m->params[i].name);
        if (!(ref = ref_value(d, r, m->grads[i], d->grad[i].n, what)))
            return false;
        compare(c, what, d->grad[i].v, ref, d->grad[i].n);
    }
    return compare_states(d, c, r, "dstate", &d->dstate, m->dstate, off);
}

int check_dump(const Model *m, const char *dump_path, double rtol, double atol)
{
    FILE *f = fopen(dump_path, "r");
    if (!f) {
        fprintf(diag_stream(), "%s: error: cannot read the dump: %s\n", dump_path, strerror(errno));
        return EXIT_IO;
    }
    Arena a = {0};
    Dump d = {.a = &a, .m = m, .path = dump_path, .s2s = m->decoder != NULL};
    d.param = arena_array(&a, (size_t)m->nparams + 1, sizeof(Vec));
    d.grad = arena_array(&a, (size_t)m->nparams + 1, sizeof(Vec));
    bool ok = read_dump(&d, f);
    fclose(f);
    size_t off[MAX_STATES];
    Cmp c = {rtol, atol, 0};
    InterpResult *r = NULL;
    if (ok && !m->grads)
        ok = bad(&d, "the model has no gradients (run autodiff before checking)");
    if (ok && m->nstates > MAX_STATES)
        ok = bad(&d, "the model has %d states, more than %d", m->nstates, MAX_STATES);
    ok = ok && state_offsets(&d, off) && (r = run(&d, off)) != NULL && compare_all(&d, &c, r, off);
    if (ok)
        printf("check: %s: %s\n", dump_path, c.bad ? "MISMATCH" : "all outputs and gradients agree");
    arena_free_all(&a);
    return ok && c.bad == 0 ? EXIT_OK : EXIT_SPEC;
}
