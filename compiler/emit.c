/*
 * emit.c: graph -> C.
 *
 * One C file per model. Its parts, in order: a header comment, the
 * parameter table, a struct of views into the parameter block, the
 * workspace layout (every buffer the step needs, placed once per (B, T, V),
 * so forward and backward never allocate; buffers whose lifetimes do not
 * overlap share storage, as pass_memplan.c planned), <model>_forward (nodes
 * before m->nforward; a language model's generation calls it too, one
 * token at a time: one forward, no second copy), <model>_backward (the
 * rest), the descriptor and main().
 *
 * Every node that computes something becomes one short block: a BLAS call,
 * a loop, or a runtime kernel. Each block is preceded by the spec line it
 * comes from the first time that line is reached. A scan becomes a loop over
 * t whose body is the scan body's blocks; carried values live in their own
 * buffers and are copied at the end of each step.
 *
 * Same spec, same bytes: names come from the spec or from the value a node
 * feeds, each unique in its C scope (name_free): workspace fields in their
 * struct, a scan's views in the step function, a fused loop's scalars in
 * the loop, where single-use ones are written into their reader's
 * expression. Two values of one name are told apart by what they read
 * (name_cands: dh_prev_W_hn, the gradient through W_hn), never by a
 * counter of the values before them. Widths are named constants (emit_dims). Nothing
 * depends on pointers, time or paths other than the spec's name (spec_set_root: relative to the source root or
 * the current directory, so not where the checkout lives).
 */
#include "graph.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct Buffer;
struct PackSlot;

typedef struct {
    const char **slot;
    int n, cap;
} NameSet;

/* A fused loop's parameters, named after its operands (fused_params).
 * Fused nodes whose loops are the same text up to the names of their
 * operands (fused_key) call one function: the first one's (rep), whose
 * names they share. */
typedef struct {
    const Node *fu;
    const char **in, **out; /* per input / output index; NULL for constants */
    int *order;             /* the inputs in the order of their names */
    const char *key;        /* the loop with canonical names (fused_key) */
    const Node *rep;        /* the fused node whose function fu calls */
} FusedParams;

/* Everything one emit_c call knows. No state outside it survives a call:
 * the compiler is a library (tests and the fuzzer run it many times in one
 * process). */
typedef struct {
    FILE *f;
    const Model *m;       /* the model whose nodes are being emitted (the
                             seq2seq decoding entries switch it) */
    const char *prefix;   /* model name, used for C identifiers */
    const char **node_names; /* unique C name per named node, at node->aux - 1 */
    bool *node_local;     /* ... read through a local pointer, not a workspace field */
    int nnode_names, capnode_names, capnode_local;
    struct Buffer *buffers; /* the workspace being laid out */
    int nbuffers, capbuffers;
    struct PackSlot *pack_slots; /* packed weights and their workspace slots */
    int npack_slots, cappack_slots;
    NameSet global;       /* the file's own identifiers (name_free) */
    NameSet fields;       /* the fields of the workspace struct being named */
    NameSet inputs;       /* the step inputs' names (h0, carry_scale): one per input */
    int last_line;        /* spec line of the last comment */
    bool in_backward;
    bool labels;          /* a task head with L labels: L is a run-time dim */
    bool s2s;             /* task: seq2seq: RnnrtS2sCtx, the target vocabulary Vt */
    const char *xdim;     /* the run-time dim after B, T, V: "L", "Vt" or NULL */
    const char *pack_flag; /* in a scan body: the flag "this scan packed its weights" */
    NameSet locals;       /* names local to one step function (local_name) */
    NameSet slocals;      /* ... to one scan's loop body (its views), while in_scan */
    bool in_scan;
    NameSet flocals;      /* names local to one fused loop */
    const char **node_carry, **node_cur; /* a carried scan argument's workspace field and cursor, at aux - 1 */
    int capnode_carry, capnode_cur;
    FusedParams *fparams; /* one per fused node */
    int nfparams, capfparams;
    int *shown;           /* spec lines commented in the current scan body */
    bool in_body;         /* emitting a scan body */
    int nshown, capshown;
    int dim_h, dim_e;     /* the spec's hidden and embed widths (0: none) */
    const char *sym_h, *sym_e; /* ... their names in the C (emit_dims) */
} Emit;

/* ---- naming ---- */

/* Every node gets a slot in E->node_names through its aux field. */

static const char *node_cname(Emit *E, const Node *n)
{
    if (n->aux <= 0 || n->aux > E->nnode_names)
        DIE("emit: node %%%d (%s) has no C name", n->id, op_name(n->op));
    return E->node_names[n->aux - 1];
}

/* A set of names: an open-addressing hash set (linear probing, at most
 * half full, in perm): a deep spec has thousands of names, and a list
 * compared name by name made `layers: 64` take seconds. */
static size_t nameset_slot(const NameSet *set, const char *s)
{
    size_t mask = (size_t)set->cap - 1, i = (size_t)hash_fnv1a(s, strlen(s)) & mask;
    while (set->slot[i] && strcmp(set->slot[i], s) != 0)
        i = (i + 1) & mask;
    return i;
}

static bool nameset_has(const NameSet *set, const char *s)
{
    return set->cap && set->slot[nameset_slot(set, s)] != NULL;
}

static void nameset_add(NameSet *set, const char *s)
{
    if (2 * (set->n + 1) > set->cap) {
        const char **old = set->slot;
        int oldcap = set->cap;
        set->cap = oldcap ? 2 * oldcap : 64;
        set->slot = arena_array(&perm, (size_t)set->cap, sizeof(char *));
        for (int i = 0; i < oldcap; i++)
            if (old[i])
                set->slot[nameset_slot(set, old[i])] = old[i];
    }
    set->slot[nameset_slot(set, s)] = s;
    set->n++;
}

static void nameset_clear(NameSet *set) { *set = (NameSet){0}; }

/* Names no identifier of the file may take: C keywords and the type. */
static const char *const c_reserved[] = {"auto", "break", "case", "char", "const", "continue", "default", "do",
                                         "double", "else", "enum", "extern", "float", "for", "goto", "if", "inline",
                                         "int", "long", "register", "restrict", "return", "short", "signed", "sizeof",
                                         "static", "struct", "switch", "typedef", "union", "unsigned", "void",
                                         "volatile", "while", "real", NULL};
/* ... nor a local of a step function: the emitted code's own locals. */
static const char *const fn_reserved[] = {"B", "T", "V", "L", "Vt", "c", "w", "p", "g", "t", "i", "j", "r", "k", "n",
                                          "off", "packed", "row", "col", "idx", "rows", "cols", NULL};
/* ... nor a local of a fused loop: its loop variables. */
static const char *const fused_reserved[] = {"row", "col", "idx", "rows", "cols", NULL};

static bool in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* A C identifier from a name: [A-Za-z0-9_], not starting with a digit. All
 * spec names are already identifiers (spec.c checks). */
static const char *c_ident(const char *base)
{
    char buf[96];
    size_t k = 0;
    for (const char *p = base; *p && k < 80; p++)
        buf[k++] = (isalnum((unsigned char)*p) || *p == '_') ? *p : '_';
    buf[k] = 0;
    if (k == 0 || isdigit((unsigned char)buf[0])) {
        memmove(buf + 1, buf, k + 1);
        buf[0] = 'v';
    }
    return arena_strdup(&perm, buf);
}

/* Is s free in a scope? Every scope avoids the keywords and the file's
 * own identifiers (E->global: widths, functions); a step function's
 * locals avoid its fixed locals and each other (E->locals), a fused loop's
 * its loop variables and each other, workspace fields each other
 * (E->fields). */
typedef enum { SCOPE_FILE, SCOPE_FIELD, SCOPE_FN, SCOPE_FUSED } ScopeKind;

static bool name_free(Emit *E, ScopeKind k, const char *s)
{
    if (in_list(c_reserved, s) || nameset_has(&E->global, s))
        return false;
    switch (k) {
    case SCOPE_FILE: return !in_list(fn_reserved, s);
    case SCOPE_FIELD: return !nameset_has(&E->fields, s);
    case SCOPE_FN: return !in_list(fn_reserved, s) && !nameset_has(&E->locals, s) && !nameset_has(&E->slocals, s);
    case SCOPE_FUSED:
        if (strncmp(s, "in", 2) == 0 || strncmp(s, "out", 3) == 0) { /* a fused loop's parameters */
            const char *d = s + (s[0] == 'i' ? 2 : 3);
            if (*d && strspn(d, "0123456789") == strlen(d))
                return false;
        }
        return !in_list(fused_reserved, s) && !nameset_has(&E->flocals, s);
    }
    return false;
}

static void name_take(Emit *E, ScopeKind k, const char *s)
{
    nameset_add(k == SCOPE_FILE    ? &E->global
                : k == SCOPE_FIELD ? &E->fields
                : k == SCOPE_FN    ? (E->in_scan ? &E->slocals : &E->locals)
                                   : &E->flocals,
                s);
}

/* base, made free in scope k by the first qualifier that frees it; NULL
 * when none does. */
static const char *name_in(Emit *E, ScopeKind k, const char *base, const char *const *quals)
{
    const char *b = c_ident(base);
    if (name_free(E, k, b)) {
        name_take(E, k, b);
        return b;
    }
    for (int i = 0; quals && quals[i]; i++) {
        const char *cand = c_ident(arena_printf(&perm, "%s_%s", b, quals[i]));
        if (name_free(E, k, cand)) {
            name_take(E, k, cand);
            return cand;
        }
    }
    return NULL;
}

/* A name in scope k: base, or base qualified (name_quals), or as a last
 * resort (two values that nothing tells apart) numbered. */
static const char *scoped_name(Emit *E, ScopeKind k, const char *base, const char *const *quals)
{
    const char *name = name_in(E, k, base, quals);
    if (name)
        return name;
    const char *b = c_ident(base);
    for (int i = 2;; i++) {
        const char *cand = arena_printf(&perm, "%s_%d", b, i);
        if (name_free(E, k, cand)) {
            name_take(E, k, cand);
            return cand;
        }
    }
}

/* The first free name of cands (NULL-ended) in scope k; numbered after
 * the first when none is free. */
static const char *first_free(Emit *E, ScopeKind k, const char *const *cands)
{
    for (int i = 0; cands[i]; i++) {
        const char *cand = c_ident(cands[i]);
        if (name_free(E, k, cand)) {
            name_take(E, k, cand);
            return cand;
        }
    }
    return scoped_name(E, k, cands[0], NULL);
}

/* A name for the whole file (a width, a function). */
static const char *unique_name(Emit *E, const char *base) { return scoped_name(E, SCOPE_FILE, base, NULL); }

/* A name local to one C function (a scan's views, its carry cursors) or
 * one fused loop (its parameters and scalars): free to repeat a workspace
 * field's name (w.h_add and a local h_add do not clash) or a name of
 * another function, so a name does not depend on how many functions came
 * before. */

static const char *local_name(Emit *E, const char *base, bool fused)
{
    return scoped_name(E, fused ? SCOPE_FUSED : SCOPE_FN, base, NULL);
}

/* Nodes read through a local pointer rather than a workspace field (scan
 * arguments, and body values written straight into a stacked output) are
 * marked in E->node_local. */

static void set_name(Emit *E, Node *n, const char *name, bool local)
{
    E->node_names = arena_grow(&perm, E->node_names, &E->capnode_names, E->nnode_names + 1, sizeof(char *));
    E->node_local = arena_grow(&perm, E->node_local, &E->capnode_local, E->nnode_names + 1, sizeof(bool));
    E->node_local[E->nnode_names] = local;
    E->node_names[E->nnode_names++] = name;
    n->aux = E->nnode_names;
    E->node_carry = arena_grow(&perm, E->node_carry, &E->capnode_carry, E->nnode_names, sizeof(char *));
    E->node_cur = arena_grow(&perm, E->node_cur, &E->capnode_cur, E->nnode_names, sizeof(char *));
}

/* A carried scan argument's workspace field ("h_prev_carry") and the
 * cursor a carry updated in place steps with ("h_prev_cur"). */
static const char *carry_field(Emit *E, const Node *arg)
{
    if (!E->node_carry[arg->aux - 1])
        DIE("emit: scan argument %%%d has no carry field", arg->id);
    return E->node_carry[arg->aux - 1];
}

static const char *carry_cursor(Emit *E, const Node *arg)
{
    if (!E->node_cur[arg->aux - 1])
        DIE("emit: scan argument %%%d has no cursor", arg->id);
    return E->node_cur[arg->aux - 1];
}

/* The parameter a node reads (directly or as a scan's loop-invariant
 * input), or NULL. */
static const char *param_read(const Node *n)
{
    for (int k = 0; k < n->nin; k++) {
        const Node *x = n->in[k];
        const Node *sn = x->op == OP_ARG ? scan_of_body(x->graph) : NULL;
        if (sn && sn->scan->in[x->index].kind == SCAN_INV)
            x = sn->in[x->index];
        if (x->op == OP_PARAM && x->name)
            return x->name;
    }
    return NULL;
}

/* A term of an equation named after its weight, not its op: the lowering
 * calls each of z's products z_matmul<layer>; z_W_hz<layer> says which. */
static const char *term_name(const Node *n)
{
    const char *at = strstr(n->name, "_matmul"), *w = param_read(n);
    if (!at || !w || (n->op != OP_MATMUL && n->op != OP_GATHER))
        return n->name;
    const char *suffix = at + strlen("_matmul");
    size_t lw = strlen(w), ls = strlen(suffix);
    bool has_suffix = lw >= ls && strcmp(w + lw - ls, suffix) == 0;
    return arena_printf(&perm, "%.*s_%s%s", (int)(at - n->name), n->name, w, has_suffix ? "" : suffix);
}

static const char *base_name(const Node *n)
{
    if (n->op == OP_SCAN_OUT && n->name) {
        const ScanOut *o = &n->in[0]->scan->out[n->index];
        return o->kind == SCAN_STACK ? arena_printf(&perm, "%s_seq", n->name) : n->name;
    }
    if (n->name)
        return term_name(n);
    /* unnamed (the output layer, autodiff): by the value it feeds, so the
     * name does not depend on how many nodes came before it */
    for (int i = n->id + 1; i < n->graph->n; i++) {
        const Node *u = n->graph->nodes[i];
        for (int k = 0; k < u->nin && u->name; k++)
            if (u->in[k] == n)
                return arena_printf(&perm, "%s_%s", u->op == OP_SCAN_OUT ? base_name(u) : u->name, op_name(n->op));
    }
    return op_name(n->op);
}

/* The value a node stands for: a fused loop's output is its member. */
static const Node *fused_member(const Node *n)
{
    return n->op == OP_FUSED_OUT ? n->in[0]->scan->out[n->index].node : n;
}

/* Operand k of n as the value it is: a scan's or a fused loop's argument
 * is the outer value (a loop-invariant one: the parameter). */
static const Node *operand_value(const Node *n, int k)
{
    const Node *x = n->in[k];
    while (x->op == OP_GRAD_SCALE) /* the identity going forward */
        x = x->in[0];
    if (x->op != OP_ARG)
        return x;
    const Node *sn = scan_of_body(x->graph);
    if (sn)
        return sn->scan->in[x->index].kind == SCAN_INV ? sn->in[x->index] : x;
    for (int i = 0; x->graph->parent && i < x->graph->parent->n; i++) {
        const Node *fu = x->graph->parent->nodes[i];
        if (fu->op == OP_FUSED && fu->scan->body == x->graph)
            return fu->in[x->index];
    }
    return x;
}

/* Is n a part of a value of its own name (a gradient contribution summed
 * into the total, a partial sum): read by a node of the same name? */
static bool name_part(const Node *n, const char *b)
{
    const Graph *g = n->graph;
    for (int i = n->id + 1; i < g->n; i++) {
        const Node *u = g->nodes[i];
        bool reads = false;
        for (int k = 0; k < u->nin && !reads; k++)
            reads = u->in[k] == n;
        if (!reads)
            continue;
        if (u->op == OP_FUSED) {
            for (int j = i + 1; j < g->n; j++)
                if (g->nodes[j]->op == OP_FUSED_OUT && g->nodes[j]->in[0] == u && strcmp(base_name(g->nodes[j]), b) == 0)
                    return true;
        } else if (u->op != OP_CONST && u->op != OP_SCAN && strcmp(base_name(u), b) == 0) {
            return true;
        }
    }
    return false;
}

/* Length of the layer suffix ("_enc_l0") a and b share: the longest common
 * proper suffix of both that starts with '_'. */
static size_t shared_suffix(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = 0, best = 0;
    while (n < la && n < lb && a[la - 1 - n] == b[lb - 1 - n]) {
        n++;
        if (a[la - n] == '_' && n < la && n < lb)
            best = n;
    }
    return best;
}

/* b told apart by q: "dh_prev_enc_l0" by "W_hn_enc_l0" is
 * "dh_prev_W_hn_enc_l0"; a leading equation name they share goes
 * ("r_add" by "r_W_hr": "r_add_W_hr"). */
static const char *qualified(const char *b, const char *q)
{
    size_t lb = strlen(b);
    if (strncmp(q, b, lb) == 0 && q[lb] == '_' && q[lb + 1]) /* "dh_prev_mul" by itself: "mul" */
        q += lb + 1;
    size_t suf = shared_suffix(b, q), lq = strlen(q);
    const char *us = strchr(b, '_');
    if (us && strncmp(b, q, (size_t)(us - b) + 1) == 0 && lq - suf > (size_t)(us - b) + 1) {
        q += us - b + 1;
        lq -= (size_t)(us - b) + 1;
    }
    return arena_printf(&perm, "%.*s_%.*s%s", (int)(lb - suf), b, (int)(lq - suf), q, b + lb - suf);
}

/* The names of node n (base name b) in the order they are tried: b, then
 * b told apart by what n reads (the parameter, then its operands, last
 * first: dh_prev_W_hn is the h_prev gradient through W_hn, r_add_W_hr
 * the sum that adds h @ W_hr); a part of a value of the same name
 * (name_part) tries those first and leaves b to the whole. */
/* Operand y as a qualifier of b: its name (the parameter's; a value's C
 * name once it has one), less a leading b ("dh_W_cz" of dh: "W_cz"). */
static const char *operand_label(Emit *E, const Node *y, const char *b)
{
    const char *l = (y->op == OP_PARAM || y->op == OP_ARG) && y->name ? y->name
                    : y->op != OP_FUSED && y->aux > 0 && y->aux <= E->nnode_names && E->node_names[y->aux - 1] &&
                            *E->node_names[y->aux - 1]
                        ? node_cname(E, y)
                                                                                             : base_name(y);
    size_t lb = strlen(b);
    if (strncmp(l, b, lb) == 0 && l[lb] == '_' && l[lb + 1])
        l += lb + 1;
    return l;
}

static const char *const *name_cands(Emit *E, const Node *n, const char *b)
{
    const Node *m = fused_member(n);
    const char **c = arena_array(&perm, 2 * (size_t)m->nin + 4, sizeof(char *));
    int nc = 0;
    bool part = name_part(n, b);
    if (!part)
        c[nc++] = b;
    const char *w = param_read(m);
    if (w)
        c[nc++] = qualified(b, w);
    for (int k = m->nin - 1; k >= 0; k--) {
        const Node *y = operand_value(m, k);
        if (y->op == OP_CONST || y->op == OP_SCAN)
            continue;
        const char *yb = operand_label(E, y, b);
        if (strcmp(yb, b) != 0 && (!w || strcmp(yb, w) != 0))
            c[nc++] = qualified(b, yb);
    }
    if (part)
        c[nc++] = b;
    /* last: b told apart by what n does (dh_sum: the sum of dh's parts),
     * then by that and its last operand (dh_sum_W_cz: the sum up to the
     * term through W_cz) */
    const char *role = m->op == OP_ADD ? "sum" : m->op == OP_SUB ? "diff" : m->op == OP_MUL ? "prod" : op_name(m->op);
    c[nc++] = qualified(b, role);
    for (int k = m->nin - 1; k >= 0; k--) {
        const Node *y = operand_value(m, k);
        if (y->op != OP_CONST && y->op != OP_SCAN && strcmp(operand_label(E, y, b), b) != 0)
            c[nc++] = qualified(b, arena_printf(&perm, "%s_%s", role, operand_label(E, y, b)));
    }
    c[nc] = NULL;
    return c;
}

static const char *ref(Emit *E, const Node *n);

/* A fused loop's parameter for operand x: the identifier of the pointer
 * the call passes, without "p.", "w." or "c->" ("(w.h_seq + 128)" -> h_seq). */
static const char *operand_name(Emit *E, const Node *x)
{
    const char *r = ref(E, x), *start = r;
    for (const char *q = r; *q; q++)
        if (*q == '.' || (*q == '>' && q > r && q[-1] == '-') || *q == '(')
            start = q + 1;
        else if (*q == ' ')
            break;
    size_t len = 0;
    while (isalnum((unsigned char)start[len]) || start[len] == '_')
        len++;
    return len ? arena_printf(&perm, "%.*s", (int)len, start) : "in";
}

/* Is token t (up to '_' or the end) a layer tag the lowering appends
 * (lower.c, lower_s2s.c): enc, dec, l<k>, reverse? */
static bool layer_token(const char *t, bool keep_side)
{
    size_t len = strcspn(t, "_");
    if ((len == 3 && !keep_side && (strncmp(t, "enc", 3) == 0 || strncmp(t, "dec", 3) == 0)) ||
        (len == 7 && strncmp(t, "reverse", 7) == 0))
        return true;
    return len >= 2 && t[0] == 'l' && strspn(t + 1, "0123456789") == len - 1;
}

/* A name without the layer tags (h_prev_enc_l0 -> h_prev, dh_l1_reverse_t
 * -> dh_t; the first token always stays): a fused function shared by
 * layers names its parameters and scalars after their roles. keep_side
 * keeps a seq2seq model's enc and dec (h_step_enc_l0 -> h_step_enc). */
static const char *layer_strip(const char *s, bool keep_side)
{
    char *out = arena_alloc(&perm, strlen(s) + 1), *o = out;
    size_t first = strcspn(s, "_");
    memcpy(o, s, first);
    o += first;
    for (const char *t = s + first; *t == '_';) {
        size_t len = strcspn(t + 1, "_");
        if (!layer_token(t + 1, keep_side)) {
            memcpy(o, t, len + 1);
            o += len + 1;
        }
        t += len + 1;
    }
    *o = 0;
    return out;
}

static const char *layer_free(const char *s) { return layer_strip(s, false); }

static FusedParams *fused_params(Emit *E, const Node *fu)
{
    for (int i = 0; i < E->nfparams; i++)
        if (E->fparams[i].fu == fu)
            return &E->fparams[i];
    DIE("emit: fused node %%%d has no parameter names", fu->id);
}

/* The first input of fused node fu that passes the same buffer as input
 * k (one parameter for both), or -1. */
static int fused_same_input(Emit *E, const Node *fu, int k)
{
    for (int j = 0; j < k && fu->in[k]->op != OP_CONST; j++)
        if (fu->in[j]->op != OP_CONST && strcmp(ref(E, fu->in[j]), ref(E, fu->in[k])) == 0)
            return j;
    return -1;
}

/* The inputs' parameter names, in the fused loop's own scope (before its
 * scalars take theirs), and their order: by name, so reordered terms keep
 * the signature. */
static void name_fused_inputs(Emit *E, FusedParams *fp)
{
    const Node *fu = fp->fu;
    int nin = fu->scan->nin, nout = fu->scan->nout;
    fp->in = arena_array(&perm, (size_t)nin + 1, sizeof(char *));
    fp->out = arena_array(&perm, (size_t)nout + 1, sizeof(char *));
    fp->order = arena_array(&perm, (size_t)nin + 1, sizeof(int));
    bool *again = arena_array(&perm, (size_t)nin + 1, sizeof(bool)); /* a value passed twice: one parameter */
    for (int k = 0; k < nin; k++) {
        int j = fused_same_input(E, fu, k);
        if (j >= 0) {
            fp->in[k] = fp->in[j];
            again[k] = true;
        } else if (fu->in[k]->op != OP_CONST) {
            fp->in[k] = local_name(E, layer_free(operand_name(E, fu->in[k])), true);
        }
    }
    int n = 0;
    for (int k = 0; k < nin; k++)
        if (fp->in[k] && !again[k]) {
            int j = n++;
            while (j > 0 && strcmp(fp->in[fp->order[j - 1]], fp->in[k]) > 0) {
                fp->order[j] = fp->order[j - 1];
                j--;
            }
            fp->order[j] = k;
        }
    fp->order[n] = -1;
}

/* The outputs' parameter names: the value's name and _out. */
static void name_fused_outputs(Emit *E, FusedParams *fp)
{
    const Node *fu = fp->fu;
    for (int o = 0; o < fu->scan->nout; o++)
        fp->out[o] = local_name(E, arena_printf(&perm, "%s_out", node_cname(E, fu->scan->out[o].node)), true);
}

static const char *fused_key(Emit *E, const Node *fu);
static const Node *fused_out_node(const Node *fu, int o);

/* Name every node that appears in the code. Loop-invariant scan inputs
 * are read through the outer value's name; aliases and constants have no
 * name of their own. */
static const char *ref(Emit *E, const Node *n);

static bool carry_in_place(const Node *sn, int k);

/* A node's name in its scope: a scan's views and the body values written
 * straight into a stacked output are locals of the step function that
 * runs the scan; a step input (h0, carry_scale) is one name wherever a
 * graph reads it; everything else is a workspace field. */
static void name_node(Emit *E, Node *n, const Node *scan)
{
    if (n->op == OP_ARG && scan->scan->in[n->index].kind == SCAN_INV) {
        set_name(E, n, ref(E, scan->in[n->index]), true);
    } else if (n->op == OP_ARG && scan->scan->in[n->index].kind == SCAN_SEQ) {
        set_name(E, n, local_name(E, arena_printf(&perm, "%s_t", n->name ? n->name : "in"), false), true);
    } else if (n->op == OP_ARG) {
        static const char *const at_t[] = {"t", NULL}; /* r, a name the code takes: r_t, r at step t */
        set_name(E, n, scoped_name(E, SCOPE_FN, base_name(n), at_t), true);
    } else if (scan && scan_stack_output(scan, n)) {
        const char *const *c = name_cands(E, n, base_name(n));
        if (in_list(fn_reserved, c[0])) { /* r, a name the code takes: r_t, r at step t */
            const char **t = arena_array(&perm, 2, sizeof(char *));
            t[0] = arena_printf(&perm, "%s_t", c[0]);
            c = t;
        }
        set_name(E, n, first_free(E, SCOPE_FN, c), true);
    } else if (n->op == OP_INPUT) {
        const char *base = c_ident(base_name(n));
        if (nameset_has(&E->inputs, base)) {
            set_name(E, n, base, false);
        } else {
            const char *name = unique_name(E, base);
            nameset_add(&E->inputs, name);
            set_name(E, n, name, false);
        }
    } else if (n->op == OP_SCAN_OUT && n->in[0]->scan->out[n->index].kind == SCAN_STACK &&
               n->in[0]->scan->out[n->index].node->op != OP_GRAD_SCALE && n->in[0]->scan->out[n->index].node->aux > 0) {
        /* a stacked value told apart in the body keeps that name:
         * dn_add_r_seq stacks dn_add_r */
        const Node *v = n->in[0]->scan->out[n->index].node;
        const char *vb = c_ident(base_name(v)), *vn = node_cname(E, v);
        const char **c = arena_array(&perm, 3, sizeof(char *));
        bool told = strcmp(vn, vb) != 0 && !(strlen(vn) == strlen(vb) + 2 && strncmp(vn, vb, strlen(vb)) == 0 &&
                                             strcmp(vn + strlen(vb), "_t") == 0); /* r_t: r at step t */
        c[told ? 1 : 0] = base_name(n);
        c[told ? 0 : 1] = arena_printf(&perm, "%s_seq", vn);
        set_name(E, n, first_free(E, SCOPE_FIELD, c), false);
    } else if (n->op == OP_SCAN_OUT && n->in[0]->scan->out[n->index].kind == SCAN_SUM) {
        /* a sum over the steps of a value each step makes: dh_enc_l1_steps */
        const char **c = arena_array(&perm, 3, sizeof(char *));
        c[0] = base_name(n);
        c[1] = qualified(c[0], "steps");
        set_name(E, n, first_free(E, SCOPE_FIELD, c), false);
    } else {
        set_name(E, n, first_free(E, SCOPE_FIELD, name_cands(E, n, base_name(n))), false);
    }
}

/* Is fused member x written into its one reader's expression rather than
 * named? When it is no output of the loop and that reader's expression
 * spells the operand once (tanh_grad spells its first operand twice). */
static bool fused_inline(const Node *fu, const Node *x)
{
    const Graph *fb = fu->scan->body;
    for (int o = 0; o < fu->scan->nout; o++)
        if (fu->scan->out[o].node == x)
            return false;
    int uses = 0;
    for (int i = 0; i < fb->n; i++)
        for (int k = 0; k < fb->nodes[i]->nin; k++)
            if (fb->nodes[i]->in[k] == x) {
                Op op = fb->nodes[i]->op;
                bool twice = k == 0 && (op == OP_TANH_GRAD || op == OP_SIGMOID_GRAD || op == OP_RELU || op == OP_RELU_GRAD);
                uses += twice ? 2 : 1;
            }
    return uses == 1;
}

/* The names a fused loop's member x tries: an output by the name of the
 * value it writes (the scalar dh_prev_z is stored to w.dh_prev_z). */
static const char *const *fused_member_cands(Emit *E, const Node *fu, const Node *x)
{
    const Graph *g = fu->graph;
    for (int i = fu->id + 1; i < g->n; i++) {
        const Node *o = g->nodes[i];
        if (o->op == OP_FUSED_OUT && o->in[0] == fu && fu->scan->out[o->index].node == x && o->aux > 0) {
            const char **c = arena_array(&perm, 2, sizeof(char *));
            c[0] = node_cname(E, o);
            return c;
        }
    }
    return name_cands(E, x, base_name(x));
}

/* The function a fused node calls: named after the last value it stores
 * (its spec name without layer tags; with enc/dec, or its C name, when
 * another loop took that name; <model>_step_ at a decoding step's top
 * level), its parameters after the operands, its scalars after the values
 * (fused_member_cands, layer tags dropped first), single-use ones written
 * into their reader (fused_inline). A fused node whose loop is one
 * already named (fused_key: the same ops on operands of the same kinds,
 * another layer's or direction's copy) calls that function. */
static void name_fused(Emit *E, Node *fu)
{
    const Graph *fb = fu->scan->body;
    for (int k = 0; k < fb->n; k++) /* unnamed until set_name (aux is free for passes) */
        fb->nodes[k]->aux = 0;
    const char *key = fused_key(E, fu);
    E->fparams = arena_grow(&perm, E->fparams, &E->capfparams, E->nfparams + 1, sizeof(FusedParams));
    FusedParams *fp = &E->fparams[E->nfparams++];
    for (int i = 0; i < E->nfparams - 1; i++)
        if (strcmp(E->fparams[i].key, key) == 0) {
            *fp = E->fparams[i];
            fp->fu = fu;
            set_name(E, fu, node_cname(E, fp->rep), true);
            return;
        }
    *fp = (FusedParams){.fu = fu, .key = key, .rep = fu};
    const Node *last = NULL; /* the last value stored: its FUSED_OUT node */
    for (int o = 0; o < fu->scan->nout; o++)
        if (fused_out_node(fu, o) && fused_out_node(fu, o)->aux > 0)
            last = fused_out_node(fu, o);
    const char *b = base_name(fu->scan->out[0].node), *cn = b;
    if (last) {
        b = base_name(fused_member(last));
        cn = node_cname(E, last);
    }
    const char *kind = fu->graph->parent ? "fused" : "step"; /* a decoding step's top level */
    const char *cand[] = {layer_free(b), layer_strip(b, true), layer_free(cn), layer_strip(cn, true), cn, NULL};
    for (int c = 0; cand[c]; c++)
        cand[c] = arena_printf(&perm, "%s_%s_%s", E->prefix, kind, cand[c]);
    set_name(E, fu, first_free(E, SCOPE_FILE, cand), true);
    nameset_clear(&E->flocals);
    name_fused_inputs(E, fp);
    for (int k = 0; k < fb->n; k++) {
        if (fb->nodes[k]->op == OP_ARG || fb->nodes[k]->op == OP_CONST)
            continue;
        if (fused_inline(fu, fb->nodes[k])) {
            set_name(E, fb->nodes[k], "", true);
            continue;
        }
        const char *const *c = fused_member_cands(E, fu, fb->nodes[k]);
        int n = 0;
        while (c[n])
            n++;
        const char **lf = arena_array(&perm, 2 * (size_t)n + 1, sizeof(char *)); /* without layer tags first */
        for (int j = 0; j < n; j++) {
            lf[j] = layer_free(c[j]);
            lf[n + j] = c[j];
        }
        set_name(E, fb->nodes[k], first_free(E, SCOPE_FUSED, lf), true);
    }
    name_fused_outputs(E, fp);
}

static void name_graph(Emit *E, Graph *g, const Node *scan)
{
    for (int i = 0; i < g->n; i++) /* unnamed until set_name (aux is free for passes) */
        g->nodes[i]->aux = 0;
    if (!scan)
        nameset_clear(&E->locals); /* the forward's locals */
    for (int i = 0; i < g->n; i++) {
        Node *n = g->nodes[i];
        if (!scan && i == E->m->nforward)
            nameset_clear(&E->locals); /* the backward's */
        if (n->op == OP_GRAD_SCALE || n->op == OP_CONST)
            continue;
        if (n->op == OP_SCAN) {
            /* its views are declared in its loop body: a scope of their
             * own, apart from the function's (its cursors) */
            nameset_clear(&E->slocals);
            E->in_scan = true;
            name_graph(E, n->scan->body, n);
            E->in_scan = false;
            for (int k = 0; k < n->scan->nin; k++) {
                const Node *a = n->scan->in[k].arg;
                if (n->scan->in[k].kind != SCAN_CARRY)
                    continue;
                E->node_carry[a->aux - 1] = scoped_name(E, SCOPE_FIELD, arena_printf(&perm, "%s_carry", node_cname(E, a)), NULL);
                if (carry_in_place(n, k))
                    E->node_cur[a->aux - 1] = local_name(E, arena_printf(&perm, "%s_cur", node_cname(E, a)), false);
            }
            continue;
        }
        if (n->op == OP_FUSED)
            continue; /* after the buffers, below */
        name_node(E, n, scan);
    }
    /* a fused loop's scalars, one per member, after the buffers (which
     * keep the plain spec names) */
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i]->op == OP_FUSED)
            name_fused(E, g->nodes[i]);
}

/* ---- output helpers ---- */

static void emitf(Emit *E, int indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void emitf(Emit *E, int indent, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(E->f, "%*s", indent * 4, "");
    vfprintf(E->f, fmt, ap);
    va_end(ap);
}

/* The text a comment shows for a spec line: the line itself, or for a
 * line that only opens a YAML block, the math the block stands for. */
static const char *line_text(Emit *E, const char *file, int line)
{
    const Spec *s = E->m->spec;
    if (line == s->network_loc.line)
        return "output layer: logits = features @ W_out + b_out";
    if (line == s->task_loc.line)
        return arena_printf(&perm, "%s: loss = mean cross-entropy of softmax(logits) against the targets",
                            spec_line_text(s, file, line));
    return spec_line_text(s, file, line);
}

static bool line_shown(const Emit *E, int line)
{
    for (int i = 0; i < E->nshown; i++)
        if (E->shown[i] == line)
            return true;
    return false;
}

static void comment_loc(Emit *E, int indent, Loc loc)
{
    if (loc.line <= 0 || loc.line == E->last_line || (E->in_body && line_shown(E, loc.line)))
        return; /* a scan body names each line once */
    E->last_line = loc.line;
    E->shown = arena_grow(&perm, E->shown, &E->capshown, E->nshown + 1, sizeof(int));
    E->shown[E->nshown++] = loc.line;
    const char *file = loc.file ? loc.file : E->m->spec->path;
    emitf(E, indent, "/* %s:%d%s  %s */\n", c_comment(spec_file_name(E->m->spec, file)), loc.line, E->in_backward ? " (backward)" : "",
          line_text(E, file, loc.line));
}

/* ---- dimensions: the model's widths as named constants ----
 * The spec's widths (hidden, embed) are an enum at the top of the file
 * (emit_dims), and every width in the code is written through them, so a
 * width change in the spec is one line in the C. A width is matched by
 * value: hidden, embed, then small multiples of them (gate blocks of a
 * fused weight, the two directions of a bidirectional layer). Any other
 * number stays a literal. */

/* The C expression for width d (d > 0), or NULL for a plain literal. */
static const char *dim_sym(Emit *E, long long d)
{
    if (E->dim_h > 0 && d == E->dim_h)
        return E->sym_h;
    if (E->dim_e > 0 && d == E->dim_e)
        return E->sym_e;
    if (E->dim_h > 1 && d % E->dim_h == 0)
        return arena_printf(&perm, "%lld * %s", d / E->dim_h, E->sym_h);
    if (E->dim_e > 1 && d % E->dim_e == 0)
        return arena_printf(&perm, "%lld * %s", d / E->dim_e, E->sym_e);
    return NULL;
}

/* Width d as C: its name, or the number. */
static const char *dim_c(Emit *E, long long d)
{
    const char *s = d > 0 ? dim_sym(E, d) : NULL;
    return s ? s : arena_printf(&perm, "%lld", d);
}

/* C expression for the product of dims [from, to) of s, as an int:
 * run-time dims first, then the named widths, then a literal factor. */
static const char *dims_expr(Emit *E, Shape s, int from, int to)
{
    char buf[256];
    size_t k = 0;
    long long num = 1;
    int nsym = 0;
    for (int i = from; i < to; i++) {
        if (s.d[i] > 0)
            continue;
        const char *sym = s.d[i] == DIM_B   ? "B"
                          : s.d[i] == DIM_T ? "T"
                          : s.d[i] == DIM_V ? "V"
                          : s.d[i] == DIM_L ? "L"
                                            : "Vt";
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", nsym++ ? " * " : "", sym);
    }
    for (int i = from; i < to; i++) {
        if (s.d[i] <= 0)
            continue;
        const char *sym = dim_sym(E, s.d[i]);
        if (sym)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", nsym++ ? " * " : "", sym);
        else
            num *= s.d[i];
    }
    if (num != 1 || nsym == 0)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%lld", nsym ? " * " : "", num);
    return arena_strdup(&perm, buf);
}

static const char *numel_expr(Emit *E, Shape s) { return dims_expr(E, s, 0, s.ndim); }

/* size_t version for offsets and memcpy sizes. */
static const char *numel_size(Emit *E, Shape s)
{
    const char *e = numel_expr(E, s);
    return arena_printf(&perm, "(size_t)%s", e);
}

/* A shape for a comment, with the widths' names: "[T,B,GRU_H]". */
static const char *shape_c(Emit *E, Shape s)
{
    char buf[256];
    size_t k = 0;
    k += (size_t)snprintf(buf + k, sizeof buf - k, "[");
    for (int i = 0; i < s.ndim; i++) {
        const char *d = s.d[i] == DIM_B   ? "B"
                        : s.d[i] == DIM_T ? "T"
                        : s.d[i] == DIM_V ? "V"
                        : s.d[i] == DIM_L ? "L"
                        : s.d[i] == DIM_VT ? "Vt"
                                           : dim_c(E, s.d[i]);
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? "," : "", d);
    }
    snprintf(buf + k, sizeof buf - k, "]");
    return arena_strdup(&perm, buf);
}

static bool is_scalar(const Node *n) { return n->shape.ndim == 0; }

/* The leading dims of s (the rows of its last axis) as a shape. */
static Shape shape_rows(Shape s)
{
    if (s.ndim > 0)
        s.ndim--;
    return s;
}

static bool slice_view(const Node *n);

/* How a node's value is read: a pointer expression. */
static const char *ref(Emit *E, const Node *n)
{
    if (slice_view(n))
        return n->index ? arena_printf(&perm, "(%s + %s)", ref(E, n->in[0]), dim_c(E, n->index)) : ref(E, n->in[0]);
    switch (n->op) {
    case OP_PARAM: /* by the parameter's name: a graph may hold several nodes of one */
        return arena_printf(&perm, "p.%s", E->m->params[n->index].name);
    case OP_INPUT:
        if (n->index == INPUT_X)
            return E->m && E->m->spec->task == TASK_SEQ2SEQ ? "c->src" : "c->x";
        if (n->index == INPUT_Y)
            return E->m && E->m->spec->task == TASK_SEQ2SEQ ? "c->label" : "c->y";
        if (n->index == INPUT_DEC_IN) /* a decoding step reads one token per row */
            return n->shape.ndim == 1 ? "c->prev" : "c->dec_in";
        if (n->index == INPUT_SRC_LEN)
            return "c->src_len";
        if (n->index == INPUT_TGT_LEN)
            return "c->tgt_len";
        if (n->index == INPUT_POOL)
            return "c->pool";
        if (n->index == INPUT_MASK)
            return "c->mask";
        return node_cname(E, n);
    case OP_GRAD_SCALE:
        return ref(E, n->in[0]); /* identity in the forward direction */
    case OP_SCAN_OUT: {
        const Scan *s = n->in[0]->scan;
        const ScanOut *o = &s->out[n->index];
        if (o->kind == SCAN_FINAL)
            return arena_printf(&perm, "w.%s", carry_field(E, s->in[o->carry].arg));
        return arena_printf(&perm, "w.%s", node_cname(E, n));
    }
    default:
        if (E->node_local[n->aux - 1])
            return node_cname(E, n);
        return arena_printf(&perm, "w.%s", node_cname(E, n));
    }
}

/* A scalar operand as a C expression (rank-0 nodes only). */
static const char *scalar(Emit *E, const Node *n)
{
    if (n->op == OP_CONST)
        return arena_printf(&perm, "(real)%.17g", n->value);
    return arena_printf(&perm, "%s[0]", ref(E, n));
}

/* ---- where values live: pass_memplan.c decided (Node.storage) ---- */

/* A slice read in place by the fused loops, through its source's rows. */
static bool slice_view(const Node *n) { return n->storage == STORE_VIEW; }

/* Memory of its own: a workspace buffer or rows of its stacked output. */
static bool has_storage(const Node *n) { return n->storage == STORE_BUFFER || n->storage == STORE_STACKED; }

/* Zeros read only as carries' initial values: the scans clear the carries. */
static bool zeros_only_init(const Node *n) { return n->storage == STORE_ZEROS; }

/* The parameter whose gradient block the GEMM n adds into, or -1. */
static int direct_grad_param(Emit *E, const Node *n)
{
    for (int i = 0; n->storage == STORE_GRAD && i < E->m->nparams; i++)
        if (E->m->grads[i] == n)
            return i;
    return -1;
}

/* ---- the pieces of the file ---- */

/* The legend of widths, like llm.c's B, T, C, V: one line per width, so a
 * width change in the spec is one line here. */
static void emit_dims(Emit *E)
{
    const Spec *s = E->m->spec;
    const char *file = c_comment(spec_file_name(s, s->hidden_loc.file ? s->hidden_loc.file : s->path));
    emitf(E, 0, "/* The model's widths. B (rows of a batch), T (steps)%s and V (vocabulary)\n"
                " * are arguments of every function. */\n",
          E->labels ? ", L (labels)" : E->s2s ? ", Vt (target vocabulary)" : "");
    emitf(E, 0, "enum {\n");
    emitf(E, 1, "%s = %d, /* hidden: %s:%d */\n", E->sym_h, E->dim_h, file, s->hidden_loc.line);
    if (E->sym_e)
        emitf(E, 1, "%s = %d, /* embed: %s:%d */\n", E->sym_e, E->dim_e, file, s->input_loc.line);
    emitf(E, 0, "};\n\n");
}

/* Name the widths (emit_dims) before anything else takes a name. */
static void name_dims(Emit *E)
{
    const Model *m = E->m;
    char up[96];
    size_t k = 0;
    for (const char *p = E->prefix; *p && k + 1 < sizeof up; p++)
        up[k++] = (char)toupper((unsigned char)*p);
    up[k] = 0;
    E->dim_h = m->spec->hidden;
    E->sym_h = unique_name(E, arena_printf(&perm, "%s_H", up));
    if (m->spec->embed_dim > 0 && m->spec->embed_dim != m->spec->hidden) {
        E->dim_e = m->spec->embed_dim;
        E->sym_e = unique_name(E, arena_printf(&perm, "%s_E", up));
    }
}

static void emit_header(Emit *E)
{
    const Model *m = E->m;
    const Spec *s = m->spec;
    emitf(E, 0, "/*\n");
    emitf(E, 0, " * generated by rnnc %s from %s; do not edit.\n", RNNC_VERSION, c_comment(s->name));
    emitf(E, 0, " *\n");
    if (E->s2s) {
        emitf(E, 0, " * Model '%s': a sequence-to-sequence model. Encoder cell '%s', decoder cell '%s', %s,\n"
                    " * hidden %s, %d layer(s). The trainer is runtime/rnnrt_s2s_main.c.\n",
              s->model, s->cell.name, s->dec_cell.name, s->has_attention ? "attention" : "no attention", E->sym_h,
              s->layers);
    } else {
        static const char *const tasks[] = {"language model", "labelling model (a label per step)",
                                            "classification model (a label per sequence)"};
        emitf(E, 0, " * Model '%s': a %s %s. Cell '%s', hidden %s, %s input.\n", s->model,
              s->tokens == TOK_CHAR ? "character" : "word", tasks[s->task], s->cell.name, E->sym_h,
              s->input == INPUT_EMBED ? "embedded" : "one-hot");
    }
    if (s->layers > 1 && s->dropout > 0)
        emitf(E, 0, " * Dropout %.17g between the %d layers (training only).\n", s->dropout, s->layers);
    if (s->bidirectional)
        emitf(E, 0, " * Bidirectional: every layer also runs over t = T-1 .. 0 (the _reverse parameters).\n");
    emitf(E, 0, " * Carried state (B*S reals, S = %s):", dim_c(E, m->state_size));
    int dirs = s->bidirectional ? 2 : 1;
    for (int k = 0; k < m->nstates; k++) {
        int block = k / s->cell.nstate;
        const char *where = "";
        if (m->nstates > s->cell.nstate)
            where = arena_printf(&perm, " (layer %d%s)", block / dirs + 1, block % dirs ? ", reverse" : "");
        emitf(E, 0, "%s %s%s [B,%s] at offset %s", k ? "," : "", s->cell.state[k % s->cell.nstate], where, E->sym_h,
              k ? arena_printf(&perm, "B * %s", dim_c(E, (long long)k * s->hidden)) : "0");
    }
    emitf(E, 0, ".\n");
    if (E->s2s)
        emitf(E, 0, " * Token ids are time-major [T][B]; logits are [T][B][Vt] (Vt: target vocabulary).\n"
                    " * Decoding: %s_encode once per batch of sources, then %s_step once per\n"
                    " * target token (RnnrtS2sDecCtx), instead of the whole forward per token.\n",
              s->model, s->model);
    else if (s->task == TASK_LANGUAGE_MODEL)
        emitf(E, 0, " * Token ids are time-major [T][B]; logits are [T][B][V].\n");
    else if (s->task == TASK_LABELLING)
        emitf(E, 0, " * Token ids and labels are time-major [T][B]; logits are [T][B][L] (L labels).\n");
    else if (s->head == HEAD_MEAN)
        emitf(E, 0, " * Token ids are time-major [T][B], labels [B]; the scans keep their states on\n"
                    " * the steps c->mask [T][B] marks as padding, and the states are pooled with\n"
                    " * c->pool [T][B] (head: mean); logits are [B][L] (L labels).\n");
    else
        emitf(E, 0, " * Token ids are time-major [T][B], labels [B]; the scans keep their states on\n"
                    " * the steps c->mask [T][B] marks as padding, and the final states are\n"
                    " * classified (head: last); logits are [B][L] (L labels).\n");
    emitf(E, 0, " *\n");
    emitf(E, 0, " * Build: cc -O2 -march=native %s.c -Iruntime -Lbuild -lrnnrt -lopenblas -ljansson -lm\n", s->model);
    emitf(E, 0, " * (with -DRNNRT_DOUBLE and -lrnnrt_d for the double build used by gradcheck).\n");
    emitf(E, 0, " */\n");
    /* The fused loops call rnnrt_tanh_fast & co.: GCC vectorizes them only
     * when it may evaluate both arms of their selects (no FP traps), which
     * changes no value. Before the include, so the inline functions and
     * their callers are compiled alike (and so can be inlined). */
    emitf(E, 0, "#if defined(__GNUC__) && !defined(__clang__)\n");
    emitf(E, 0, "#pragma GCC optimize(\"tree-vectorize\", \"no-trapping-math\")\n");
    emitf(E, 0, "#endif\n");
    emitf(E, 0, "#include \"%s\"\n\n#include <limits.h>\n#include <string.h>\n\n", E->s2s ? "rnnrt_s2s.h" : "rnnrt.h");
    emit_dims(E);
}

/* The fan-in f of a uniform init whose bound is 1/sqrt(f) (PyTorch's
 * default, f = hidden or 2 * hidden), written by name in the table so the
 * bound follows a width change; 0 for other inits. */
static int init_fan(Emit *E, const Param *p)
{
    for (int f = E->dim_h; p->init == INIT_UNIFORM && f <= 2 * E->dim_h; f += E->dim_h)
        if (p->init_arg == 1.0 / sqrt((double)f))
            return f;
    return 0;
}

static const char *init_name(Emit *E, const Param *p)
{
    return p->init == INIT_NORMAL ? "RNNRT_INIT_NORMAL"
           : p->init == INIT_ZEROS ? "RNNRT_INIT_ZEROS"
           : init_fan(E, p)        ? "RNNRT_INIT_UNIFORM_FAN"
                                   : "RNNRT_INIT_UNIFORM";
}

static const char *rt_dim(Emit *E, int d)
{
    return d == DIM_V ? "RNNRT_DIM_V" : d == DIM_L ? "RNNRT_DIM_L" : d == DIM_VT ? "RNNRT_DIM_VT" : dim_c(E, d);
}

/* An init argument: the fan-in of RNNRT_INIT_UNIFORM_FAN by its name. */
static const char *init_arg_c(Emit *E, const Param *p)
{
    int f = init_fan(E, p);
    return f ? dim_c(E, f) : arena_printf(&perm, "%.17g", p->init_arg);
}

static void emit_params(Emit *E)
{
    const Model *m = E->m;
    emitf(E, 0, "/* Parameters, in the order of the parameter block. */\n");
    emitf(E, 0, "static const RnnrtParamDesc %s_param_table[] = {\n", E->prefix);
    for (int i = 0; i < m->nparams; i++) {
        const Param *p = &m->params[i];
        emitf(E, 1, "{\"%s\", %d, {%s, %s}, %s, %s, \"%s:%d\"},\n", p->name, p->shape.ndim, rt_dim(E, p->shape.d[0]),
              p->shape.ndim > 1 ? rt_dim(E, p->shape.d[1]) : "0", init_name(E, p), init_arg_c(E, p), c_string(spec_file_name(m->spec, p->loc.file)),
              p->loc.line);
    }
    emitf(E, 0, "};\n\n");
    emitf(E, 0, "/* Views into a parameter (or gradient) block: p.%s is p.view[0], and so on\n"
                " * in the order of the table (%s_params_at points them). */\n",
          m->params[0].name, E->prefix);
    emitf(E, 0, "typedef union {\n");
    emitf(E, 1, "struct {\n");
    for (int i = 0; i < m->nparams; i++)
        emitf(E, 2, "real *%s; /* %s */\n", m->params[i].name, shape_c(E, m->params[i].shape));
    emitf(E, 1, "};\n");
    emitf(E, 1, "real *view[sizeof %s_param_table / sizeof *%s_param_table];\n", E->prefix, E->prefix);
    emitf(E, 0, "} %s_params;\n\n", E->prefix);
    emitf(E, 0, "static %s_params %s_params_at(real *base, int V%s)\n{\n", E->prefix, E->prefix,
          E->xdim ? arena_printf(&perm, ", int %s", E->xdim) : "");
    emitf(E, 1, "%s_params p;\n", E->prefix);
    emitf(E, 1, "rnnrt_param_views(p.view, base, %s_param_table, (int)(sizeof p.view / sizeof *p.view), V, %s);\n",
          E->prefix, E->xdim ? E->xdim : "0");
    emitf(E, 1, "return p;\n}\n\n");
}

/* Every buffer of the workspace: top-level values, scan carries, per-step
 * temporaries of scan bodies (stacked ones live in their output). */
typedef struct Buffer {
    const char *field;
    const char *what; /* comment */
    const Node *node; /* the value, or the ARG of a carry */
    bool carry;
    Shape shape;
    bool packed; /* a packed weight (emit_packs): own storage, outside the plan */
} Buffer;


static void add_buffer(Emit *E, const char *field, const char *what, const Node *n, bool carry)
{
    E->buffers = arena_grow(&perm, E->buffers, &E->capbuffers, E->nbuffers + 1, sizeof(Buffer));
    E->buffers[E->nbuffers++] = (Buffer){field, what, n, carry, n ? n->shape : (Shape){0}, false};
}

/* A packed weight's panels: filled before a scan's loop and read by every
 * step, so they never share storage (pass_memplan does not plan them). */
static void add_pack_buffer(Emit *E, const char *field, const char *what, const Node *w)
{
    add_buffer(E, field, what, w, false);
    E->buffers[E->nbuffers - 1].packed = true;
}

/* ---- packed weights (issue #5) ----
 * A matmul in a scan body whose right operand is a loop-invariant 2-D
 * weight multiplies by the same matrix at every step: the scan packs it
 * once before its loop (rnnrt_pack_b) and each step runs
 * rnnrt_gemm_packed against the panels (see runtime/rnnrt_gemm_packed.c).
 * One workspace slot per weight: the forward and backward scans that read
 * it run one after the other and each packs on entry. */
typedef struct PackSlot {
    const Node *outer; /* the weight, outside the scan */
    const char *field; /* its workspace slot */
} PackSlot;


static const char *pack_field(Emit *E, const Node *outer)
{
    for (int i = 0; i < E->npack_slots; i++)
        if (E->pack_slots[i].outer == outer)
            return E->pack_slots[i].field;
    return NULL;
}

static const Node *split_weight(Emit *E, const Node *n);

/* The weight (outside the scan) that matmul n packs, or NULL: n is in a
 * scan body, without ta, and its right operand is a loop-invariant input
 * of the scan with a shape fixed for the whole step (no B or T). The first
 * matmul of the body against a weight sets its orientation (tb); a second
 * one with the other orientation runs unpacked. */
static const Node *packed_weight(Emit *E, const Node *n)
{
    if (n->op != OP_MATMUL || n->ta || !n->graph->parent)
        return NULL;
    const Node *b = n->in[1];
    if (b->op != OP_ARG || b->graph != n->graph || b->shape.ndim != 2)
        return NULL;
    for (int d = 0; d < 2; d++)
        if (b->shape.d[d] == DIM_B || b->shape.d[d] == DIM_T)
            return NULL;
    const Node *sn = scan_of_body(n->graph);
    if (!sn || sn->scan->in[b->index].kind != SCAN_INV || split_weight(E, n))
        return NULL;
    for (int i = 0; i < n->graph->n && n->graph->nodes[i] != n; i++) {
        const Node *u = n->graph->nodes[i];
        if (u->op == OP_MATMUL && !u->ta && u->in[1] == b && u->tb != n->tb)
            return NULL;
    }
    return sn->in[b->index];
}

static void collect_pack_slots(Emit *E, const Graph *body)
{
    for (int i = 0; i < body->n; i++) {
        const Node *w = packed_weight(E, body->nodes[i]);
        if (!w || pack_field(E, w))
            continue;
        E->pack_slots = arena_grow(&perm, E->pack_slots, &E->cappack_slots, E->npack_slots + 1, sizeof(PackSlot));
        E->pack_slots[E->npack_slots++] = (PackSlot){w, scoped_name(E, SCOPE_FIELD, arena_printf(&perm, "%s_packed", node_cname(E, w)), NULL)};
    }
}

static void collect_buffers(Emit *E, const Graph *g, const Node *scan)
{
    for (int i = 0; i < g->n; i++) {
        const Node *n = g->nodes[i];
        if (n->op == OP_SCAN) {
            for (int k = 0; k < n->scan->nin; k++)
                if (n->scan->in[k].kind == SCAN_CARRY) {
                    const Node *a = n->scan->in[k].arg;
                    add_buffer(E, carry_field(E, a),
                               arena_printf(&perm, "carried %s %s", a->name ? a->name : "", shape_c(E, a->shape)),
                               a, true);
                }
            collect_buffers(E, n->scan->body, n);
            int before = E->npack_slots;
            collect_pack_slots(E, n->scan->body);
            for (int j = before; j < E->npack_slots; j++) {
                const Node *w = E->pack_slots[j].outer;
                add_pack_buffer(E, E->pack_slots[j].field,
                                arena_printf(&perm, "%s packed for the steps (rnnrt_pack_b)", node_cname(E, w)), w);
            }
            continue;
        }
        if (n->op == OP_INPUT && n->index == INPUT_CARRY_SCALE) {
            add_buffer(E, node_cname(E, n), "carry_scale [T], ones when the caller passes NULL", n, false);
            continue;
        }
        if (!has_storage(n) || (scan && scan_stack_output(scan, n)))
            continue;
        add_buffer(E, node_cname(E, n),
                   arena_printf(&perm, "%s%s %s", scan ? "per step: " : "", op_name(n->op), shape_c(E, n->shape)),
                   n, false);
    }
}

/* The slot of buffer i in plan p (pass_memplan.c plans exactly these). */
static int buffer_slot(Emit *E, const MemPlan *p, int i)
{
    for (int k = 0; k < p->nbuf; k++)
        if (p->buf[k].node == E->buffers[i].node && p->buf[k].carry == E->buffers[i].carry)
            return p->buf[k].slot;
    DIE("emit: buffer %s is not in the memory plan", E->buffers[i].field);
}

/* A size as a table row's run-time dims and constant factor: "TB", GRU_H. */
static const char *size_dims(Shape s)
{
    char buf[4 * MAX_DIMS + 1];
    size_t k = 0;
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] <= 0)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s",
                                  s.d[i] == DIM_B   ? "B"
                                  : s.d[i] == DIM_T ? "T"
                                  : s.d[i] == DIM_V ? "V"
                                  : s.d[i] == DIM_L ? "L"
                                                    : "Vt");
    buf[k] = 0;
    return arena_strdup(&perm, buf);
}

static const char *size_mult(Emit *E, Shape s)
{
    Shape c = {0};
    for (int i = 0; i < s.ndim; i++)
        if (s.d[i] > 0)
            c.d[c.ndim++] = s.d[i];
    return dims_expr(E, c, 0, c.ndim);
}

/* The table of buffers rnnrt_layout places (RnnrtWorkBuf): slot[i] is buffer
 * i's slot, -1 for storage of its own. A slot is named by its first
 * buffer (its offset in the struct: any int tells slots apart), so a
 * buffer added or removed renumbers no other slot. */
static void emit_buf_table(Emit *E, const char *work, const char *table, const int *slot)
{
    int *num = arena_array(&perm, (size_t)E->nbuffers + 1, sizeof(int));
    for (int i = 0; i < E->nbuffers; i++) {
        num[i] = slot[i] < 0 ? -1 : i;
        for (int j = 0; j < i && slot[i] >= 0; j++)
            if (slot[j] == slot[i]) {
                num[i] = j;
                break;
            }
    }
    emitf(E, 0, "/* Where the buffers live: {field, slot, run-time dims, constant factor}\n"
                " * (one slot, named by its first buffer: lifetimes that do not overlap;\n"
                " * -1: storage of its own; a packed weight adds its columns).\n"
                " * rnnrt_layout places them. */\n");
    emitf(E, 0, "static const RnnrtWorkBuf %s[] = {\n", table);
    for (int i = 0; i < E->nbuffers; i++) {
        const Buffer *b = &E->buffers[i];
        if (b->packed) {
            Shape rows = shape1(b->shape.d[0]), cols = shape1(b->shape.d[1]);
            emitf(E, 1, "{offsetof(%s, %s), -1, \"%s\", %s, \"%s\", %s},\n", work, b->field, size_dims(rows),
                  size_mult(E, rows), size_dims(cols), size_mult(E, cols));
        } else {
            const char *sl = num[i] < 0 ? "-1" : arena_printf(&perm, "(int)offsetof(%s, %s)", work, E->buffers[num[i]].field);
            emitf(E, 1, "{offsetof(%s, %s), %s, \"%s\", %s, NULL, 0},\n", work, b->field, sl, size_dims(b->shape),
                  size_mult(E, b->shape));
        }
    }
    emitf(E, 0, "};\n\n");
}

/* The layout function: the run-time dims and the table, to rnnrt_layout. */
static void emit_layout_fn(Emit *E, const char *fn, const char *work, const char *table, const char *xdim)
{
    const char *xp = xdim ? arena_printf(&perm, ", int %s", xdim) : "";
    emitf(E, 0, "/* Place the buffers for (B, T, V%s) at base (NULL: just measure). Returns\n"
                " * the number of reals, or 0 when a size is out of range. */\n",
          xdim ? arena_printf(&perm, ", %s", xdim) : "");
    emitf(E, 0, "static size_t %s(%s *w, real *base, int B, int T, int V%s)\n{\n", fn, work, xp);
    emitf(E, 1, "const int dims[RNNRT_LAYOUT_NDIMS] = {B, T, V, %s};\n", xdim ? xdim : "0");
    emitf(E, 1, "return rnnrt_layout(w, base, %s, (int)(sizeof %s / sizeof *%s), dims);\n", table, table, table);
    emitf(E, 0, "}\n\n");
}

/* The buffers in the order of their names (packed weights last), so an edit
 * that reorders a spec's terms does not reorder the workspace. */
static int buffer_cmp(const void *a, const void *b)
{
    const Buffer *x = a, *y = b;
    if (x->packed != y->packed)
        return x->packed ? 1 : -1;
    return strcmp(x->field, y->field);
}

static void emit_layout(Emit *E)
{
    E->nbuffers = 0;
    E->npack_slots = 0;
    collect_buffers(E, E->m->g, NULL);
    qsort(E->buffers, (size_t)E->nbuffers, sizeof *E->buffers, buffer_cmp);
    emitf(E, 0, "/* The workspace: every buffer of a training step, placed once%s. */\n",
          E->m->memplan ? " (buffers\n * whose lifetimes do not overlap share storage: pass_memplan.c)" : "");
    emitf(E, 0, "typedef struct {\n");
    for (int i = 0; i < E->nbuffers; i++)
        emitf(E, 1, "real *%s; /* %s */\n", E->buffers[i].field, E->buffers[i].what);
    emitf(E, 0, "} %s_work;\n\n", E->prefix);
    int *slot = arena_array(&perm, (size_t)E->nbuffers + 1, sizeof(int));
    for (int i = 0; i < E->nbuffers; i++)
        slot[i] = E->buffers[i].packed || !E->m->memplan ? -1 : buffer_slot(E, E->m->memplan, i);
    const char *work = arena_printf(&perm, "%s_work", E->prefix), *table = arena_printf(&perm, "%s_bufs", E->prefix);
    emit_buf_table(E, work, table, slot);
    emit_layout_fn(E, arena_printf(&perm, "%s_layout", E->prefix), work, table, E->xdim);
    const char *xp = E->xdim ? arena_printf(&perm, ", int %s", E->xdim) : "";
    const char *xa = E->xdim ? arena_printf(&perm, ", %s", E->xdim) : "";
    /* a task head's workspace takes L (RnnrtModel.workspace_l) */
    emitf(E, 0, "static size_t %s_workspace%s(int B, int T, int V%s)\n{\n", E->prefix, E->labels ? "_l" : "", xp);
    emitf(E, 1, "%s_work w;\n", E->prefix);
    emitf(E, 1, "return %s_layout(&w, NULL, B, T, V%s);\n}\n\n", E->prefix, xa);
}

/* ---- node blocks ---- */

/* out[i] = a OP b with broadcasting: a or b may be rank 0 or a suffix. */
static const char *operand_at(Emit *E, const Node *x, const Node *out, bool nested)
{
    if (is_scalar(x))
        return scalar(E, x);
    if (shape_eq(x->shape, out->shape))
        return arena_printf(&perm, "%s[%s]", ref(E, x), nested ? "r * n + j" : "i");
    return arena_printf(&perm, "%s[j]", ref(E, x));
}

static const char *elementwise_expr(const Node *n, const char *a, const char *b)
{
    switch (n->op) {
    case OP_ADD: return arena_printf(&perm, "%s + %s", a, b);
    case OP_SUB: return arena_printf(&perm, "%s - %s", a, b);
    case OP_MUL: return arena_printf(&perm, "%s * %s", a, b);
    case OP_NEG: return arena_printf(&perm, "-%s", a);
    case OP_SIGMOID: return arena_printf(&perm, "rnnrt_sigmoid(%s)", a);
    case OP_TANH: return arena_printf(&perm, "rnnrt_tanh(%s)", a);
    case OP_RELU: return arena_printf(&perm, "%s > 0 ? %s : 0", a, a);
    case OP_EXP: return arena_printf(&perm, "rnnrt_exp(%s)", a);
    case OP_TANH_GRAD: return arena_printf(&perm, "%s * (1 - %s * %s)", b, a, a);
    case OP_SIGMOID_GRAD: return arena_printf(&perm, "%s * %s * (1 - %s)", b, a, a);
    case OP_RELU_GRAD: return arena_printf(&perm, "%s > 0 ? %s : 0", a, b);
    default: DIE("elementwise_expr: %s", op_name(n->op));
    }
}

static void emit_elementwise(Emit *E, int ind, const Node *n)
{
    const Node *a = n->in[0], *b = n->nin > 1 ? n->in[1] : NULL;
    /* tanh and sigmoid over a whole buffer: the runtime's vector kernels */
    if ((n->op == OP_TANH || n->op == OP_SIGMOID) && shape_eq(a->shape, n->shape)) {
        emitf(E, ind, "rnnrt_%s_n(%s, %s, %s);\n", n->op == OP_TANH ? "tanh" : "sigmoid", ref(E, a), ref(E, n),
              numel_size(E, n->shape));
        return;
    }
    /* A broadcast operand (a proper suffix, not a scalar) needs two loops. */
    const Node *small = NULL;
    for (int k = 0; k < n->nin; k++)
        if (!is_scalar(n->in[k]) && !shape_eq(n->in[k]->shape, n->shape))
            small = n->in[k];
    if (!small) {
        emitf(E, ind, "for (size_t i = 0; i < %s; i++)\n", numel_size(E, n->shape));
        emitf(E, ind + 1, "%s[i] = %s;\n", ref(E, n),
              elementwise_expr(n, operand_at(E, a, n, false), b ? operand_at(E, b, n, false) : NULL));
        return;
    }
    const char *inner = numel_size(E, small->shape);
    if (n->op == OP_ADD && small == b && shape_eq(a->shape, n->shape)) {
        emitf(E, ind, "rnnrt_add_bias(%s, %s, %s, %s, %s);\n", ref(E, n), ref(E, a), ref(E, b), numel_size(E, n->shape), inner);
        return;
    }
    emitf(E, ind, "for (size_t r = 0, n = %s; r < %s / n; r++)\n", inner, numel_size(E, n->shape));
    emitf(E, ind + 1, "for (size_t j = 0; j < n; j++)\n");
    emitf(E, ind + 2, "%s[r * n + j] = %s;\n", ref(E, n),
          elementwise_expr(n, operand_at(E, a, n, true), b ? operand_at(E, b, n, true) : NULL));
}

/* ---- fused elementwise loops (pass_fuse.c) ---- */

/* The FUSED_OUT node for output o of fused node fu (NULL if dead). */
static const Node *fused_out_node(const Node *fu, int o)
{
    const Graph *g = fu->graph;
    for (int i = fu->id + 1; i < g->n; i++)
        if (g->nodes[i]->op == OP_FUSED_OUT && g->nodes[i]->in[0] == fu && g->nodes[i]->index == o)
            return g->nodes[i];
    return NULL;
}

/* A body node of fused node fu read inside its loop: a scalar local
 * (local[its id]), a literal, or input k (inptr[k]) at element idx (tile),
 * col (bias) or 0 (scalar). */
static const char *fused_operand(Emit *E, const Node *fu, const Node *x, const char *const *inptr,
                                 const char *const *local)
{
    if (x->op == OP_CONST)
        return arena_printf(&perm, "(real)%.17g", x->value);
    if (x->op != OP_ARG)
        return local[x->id];
    const Node *outer = fu->in[x->index];
    if (is_scalar(outer))
        return outer->op == OP_CONST ? scalar(E, outer) : arena_printf(&perm, "%s[0]", inptr[x->index]);
    if (outer->shape.ndim == 1 && !shape_eq(outer->shape, fu->scan->out[0].node->shape))
        return arena_printf(&perm, "%s[col]", inptr[x->index]);
    if (slice_view(outer))
        return arena_printf(&perm, "%s[row * %s + col]", inptr[x->index], dim_c(E, outer->in[0]->shape.d[outer->shape.ndim - 1]));
    return arena_printf(&perm, "%s[idx]", inptr[x->index]);
}

/* The spec lines a fused node computes, as comment lines (those not yet
 * shown in this scan body, if unshown). */
static void fused_comment(Emit *E, int ind, const Node *fu, bool backward, bool unshown)
{
    const Graph *fb = fu->scan->body;
    for (int k = 0; k < fb->n; k++) {
        const Node *x = fb->nodes[k];
        if (x->op == OP_ARG || x->op == OP_CONST || x->loc.line <= 0 || (unshown && line_shown(E, x->loc.line)))
            continue;
        bool seen = false;
        for (int q = 0; q < k && !seen; q++)
            seen = fb->nodes[q]->op != OP_ARG && fb->nodes[q]->op != OP_CONST && fb->nodes[q]->loc.line == x->loc.line;
        if (!seen)
            emitf(E, ind, " *   %s:%d%s  %s\n", c_comment(spec_file_name(E->m->spec, x->loc.file)), x->loc.line,
                  backward ? " (backward)" : "",
                  spec_line_text(E->m->spec, x->loc.file ? x->loc.file : E->m->spec->path, x->loc.line));
    }
}

/* Operand k of fused member x: an inlined member's expression (fused_inline)
 * bare where C reads it as the same tree (a call, a call's argument, a
 * product in a sum, a sum as the left operand of a sum and a product as
 * the left operand of a product: a + b + c is (a + b) + c), else in
 * parentheses. */
static const char *fused_arg(Emit *E, const Node *fu, const Node *x, int k, const char *const *inptr,
                             const char *const *local)
{
    const Node *y = x->in[k];
    const char *e = fused_operand(E, fu, y, inptr, local);
    if (y->op == OP_ARG || y->op == OP_CONST || !fused_inline(fu, y) || y->op == OP_TANH || y->op == OP_SIGMOID)
        return e;
    bool sum = y->op == OP_ADD || y->op == OP_SUB, in_sum = x->op == OP_ADD || x->op == OP_SUB;
    bool product = y->op == OP_MUL || y->op == OP_TANH_GRAD || y->op == OP_SIGMOID_GRAD; /* b * (1 - a * a) */
    bool left_of_product = (k == 0 && x->op == OP_MUL) || (k == 1 && (x->op == OP_TANH_GRAD || x->op == OP_SIGMOID_GRAD));
    bool bare = x->op == OP_TANH || x->op == OP_SIGMOID || x->op == OP_EXP || (sum && in_sum && k == 0) ||
                (product && (in_sum || left_of_product));
    return bare ? e : arena_printf(&perm, "(%s)", e);
}

/* The loop of fused node fu: over the tile [rows, cols], every member a
 * scalar (local[its id]) or, used once, written into its reader's
 * expression (local[its id] becomes that expression), the live outputs
 * stored (outptr[o]). */
static void fused_loop(Emit *E, const Node *fu, const char *const *inptr, const char **local,
                       const char *const *outptr)
{
    const Scan *s = fu->scan;
    const Graph *fb = s->body;
    Shape tile = s->out[0].node->shape;
    const char *cols = tile.d[tile.ndim - 1] <= 0 ? "cols" : dim_c(E, tile.d[tile.ndim - 1]);
    emitf(E, 1, "for (size_t row = 0; row < rows; row++)\n");
    emitf(E, 2, "for (size_t col = 0; col < %s; col++) {\n", cols);
    emitf(E, 3, "const size_t idx = row * %s + col;\n", cols);
    for (int k = 0; k < fb->n; k++) {
        const Node *x = fb->nodes[k];
        if (x->op == OP_ARG || x->op == OP_CONST)
            continue;
        const char *a = fused_arg(E, fu, x, 0, inptr, local);
        const char *b = x->nin > 1 ? fused_arg(E, fu, x, 1, inptr, local) : NULL;
        const char *e;
        if (x->op == OP_TANH || x->op == OP_SIGMOID)
            e = arena_printf(&perm, "rnnrt_%s_fast(%s)", x->op == OP_TANH ? "tanh" : "sigmoid", a);
        else
            e = elementwise_expr(x, a, b);
        if (fused_inline(fu, x)) { /* its reader spells it out */
            local[x->id] = e;
            continue;
        }
        emitf(E, 3, "const real %s = %s;\n", local[x->id], e);
    }
    for (int o = 0; o < s->nout; o++)
        if (fused_out_node(fu, o))
            emitf(E, 3, "%s[idx] = %s;\n", outptr[o], local[s->out[o].node->id]);
    emitf(E, 2, "}\n");
}

static FILE *body_begin(Emit *E);
static const char *body_end(Emit *E, FILE *saved);

/* Fused node fu's loop with every name canonical (input k: a<k>, or the
 * first input that passes the same buffer's; body node k: s<k>; output o:
 * o<o>) and its tile: two fused nodes with the same key compute the same
 * function of their operands, passed the same way. */
static const char *fused_key(Emit *E, const Node *fu)
{
    const Scan *s = fu->scan;
    const char **inptr = arena_array(&perm, (size_t)s->nin + 1, sizeof(char *));
    const char **local = arena_array(&perm, (size_t)s->body->n + 1, sizeof(char *));
    const char **outptr = arena_array(&perm, (size_t)s->nout + 1, sizeof(char *));
    for (int k = 0; k < s->nin; k++) {
        int j = fused_same_input(E, fu, k);
        inptr[k] = j >= 0 ? inptr[j] : arena_printf(&perm, "a%d", k);
    }
    for (int k = 0; k < s->body->n; k++)
        local[k] = arena_printf(&perm, "s%d", k);
    for (int o = 0; o < s->nout; o++)
        outptr[o] = arena_printf(&perm, "o%d", o);
    FILE *saved = body_begin(E);
    emitf(E, 0, "%s\n", shape_c(E, s->out[0].node->shape));
    fused_loop(E, fu, inptr, local, outptr);
    return body_end(E, saved);
}

/* A fused node as a function: one loop over the tile [rows, n], every
 * member a scalar, the outputs stored. Inputs and outputs are restrict
 * parameters (distinct buffers), so GCC vectorizes the loop without alias
 * checks and inlines the call. */
static void emit_fused_fn(Emit *E, const Node *fu, bool backward)
{
    const Scan *s = fu->scan;
    const Graph *fb = s->body;
    Shape tile = s->out[0].node->shape;
    emitf(E, 0, "/* Fused elementwise loop over %s (the ops of these lines%s):\n", shape_c(E, tile),
          backward ? ", backward" : "");
    fused_comment(E, 0, fu, backward, false);
    emitf(E, 0, " */\n");
    bool sym_cols = tile.d[tile.ndim - 1] <= 0;
    const FusedParams *fp = fused_params(E, fu);
    emitf(E, 0, "static void %s(size_t rows%s", node_cname(E, fu), sym_cols ? ", size_t cols" : "");
    for (int j = 0; fp->order[j] >= 0; j++)
        fprintf(E->f, ", const real *restrict %s", fp->in[fp->order[j]]);
    for (int o = 0; o < s->nout; o++)
        if (fused_out_node(fu, o))
            fprintf(E->f, ", real *restrict %s", fp->out[o]);
    fprintf(E->f, ")\n{\n");
    const char **local = arena_array(&perm, (size_t)fb->n + 1, sizeof(char *));
    for (int k = 0; k < fb->n; k++)
        if (fb->nodes[k]->op != OP_ARG && fb->nodes[k]->op != OP_CONST)
            local[k] = node_cname(E, fb->nodes[k]);
    fused_loop(E, fu, fp->in, local, fp->out);
    emitf(E, 0, "}\n\n");
}

/* Every fused function the model's graph calls first, as functions:
 * forward ones first, each part by name, so a spec edit that adds or drops
 * one leaves the others in place. */
typedef struct {
    const Node *fu;
    const char *name;
    bool backward;
} FusedFn;

static int fused_fn_cmp(const void *pa, const void *pb)
{
    const FusedFn *a = pa, *b = pb;
    if (a->backward != b->backward)
        return a->backward - b->backward;
    return strcmp(a->name, b->name);
}

static void emit_fused_fns(Emit *E)
{
    const Graph *g = E->m->g;
    FusedFn *fn = NULL;
    int n = 0, cap = 0;
    for (int i = 0; i < g->n; i++) {
        const Graph *b = g->nodes[i]->op == OP_SCAN ? g->nodes[i]->scan->body : g; /* g: a decoding step's */
        for (int k = b == g ? i : 0; k < (b == g ? i + 1 : b->n); k++)
            if (b->nodes[k]->op == OP_FUSED && fused_params(E, b->nodes[k])->rep == b->nodes[k]) {
                fn = arena_grow(&perm, fn, &cap, n + 1, sizeof *fn);
                fn[n++] = (FusedFn){b->nodes[k], node_cname(E, b->nodes[k]), i >= E->m->nforward};
            }
    }
    if (n)
        qsort(fn, (size_t)n, sizeof *fn, fused_fn_cmp);
    for (int j = 0; j < n; j++)
        emit_fused_fn(E, fn[j].fu, fn[j].backward);
}

static void emit_fused(Emit *E, int ind, const Node *fu)
{
    const Scan *s = fu->scan;
    Shape tile = s->out[0].node->shape;
    /* the lines the GEMMs before it did not name */
    int lines = 0, line = 0;
    for (int k = 0; k < s->body->n; k++) {
        const Node *x = s->body->nodes[k];
        if (x->op != OP_ARG && x->op != OP_CONST && x->loc.line > 0 && !line_shown(E, x->loc.line) && x->loc.line != line) {
            bool dup = false;
            for (int q = 0; q < k && !dup; q++)
                dup = s->body->nodes[q]->loc.line == x->loc.line && s->body->nodes[q]->op != OP_ARG &&
                      s->body->nodes[q]->op != OP_CONST;
            lines += !dup;
            line = x->loc.line;
        }
    }
    if (lines == 1) {
        for (int k = 0; k < s->body->n; k++)
            if (s->body->nodes[k]->loc.line == line) {
                comment_loc(E, ind, s->body->nodes[k]->loc);
                break;
            }
    } else if (lines > 1) {
        emitf(E, ind, "/* fused:\n");
        fused_comment(E, ind, fu, E->in_backward, true);
        emitf(E, ind, " */\n");
    }
    E->last_line = 0;
    emitf(E, ind, "%s((size_t)%s", node_cname(E, fu), dims_expr(E, tile, 0, tile.ndim - 1));
    if (tile.d[tile.ndim - 1] <= 0)
        fprintf(E->f, ", (size_t)%s", dims_expr(E, tile, tile.ndim - 1, tile.ndim));
    const FusedParams *fp = fused_params(E, fu);
    for (int j = 0; fp->order[j] >= 0; j++)
        fprintf(E->f, ", %s", ref(E, fu->in[fp->order[j]]));
    for (int o = 0; o < s->nout; o++) {
        const Node *on = fused_out_node(fu, o);
        if (on)
            fprintf(E->f, ", %s", ref(E, on));
    }
    fprintf(E->f, ");\n");
}

/* The weights pass_gemmfuse.c concatenates cost one copy per forward call.
 * A training step's T*B rows pay for it many times over; generation (one
 * token a call, B = 1) does not, so below CONCAT_MIN_ROWS rows the copy is
 * skipped and each GEMM against the concatenation runs as one GEMM per
 * part, into (or out of) the same columns: the values are the same sums. */
enum { CONCAT_MIN_ROWS = 128 };

/* Is n such a concatenation: of parameters, read only as the right operand
 * of matmuls (without ta) through loop-invariant inputs of scans? */
static bool weight_concat(Emit *E, const Node *n)
{
    if (n->op != OP_CONCAT || n->graph->parent || n->shape.ndim != 2)
        return false;
    for (int k = 0; k < n->nin; k++)
        if (n->in[k]->op != OP_PARAM)
            return false;
    const Graph *g = n->graph;
    if (!E->m || g != E->m->g || E->m->loss == n || E->m->logits == n)
        return false;
    int uses = 0;
    for (int i = n->id + 1; i < g->n; i++) {
        const Node *u = g->nodes[i];
        for (int k = 0; k < u->nin; k++) {
            if (u->in[k] != n)
                continue;
            if (u->op != OP_SCAN || u->scan->in[k].kind != SCAN_INV)
                return false;
            const Node *arg = u->scan->in[k].arg;
            const Graph *b = u->scan->body;
            for (int j = arg->id + 1; j < b->n; j++)
                for (int q = 0; q < b->nodes[j]->nin; q++)
                    if (b->nodes[j]->in[q] == arg && (b->nodes[j]->op != OP_MATMUL || q != 1 || b->nodes[j]->ta))
                        return false;
            uses++;
        }
    }
    return uses > 0;
}

/* The weight concatenation matmul n reads as its right operand, or NULL. */
static const Node *split_weight(Emit *E, const Node *n)
{
    const Node *w = n->in[1];
    if (n->op != OP_MATMUL || n->ta || w->op != OP_ARG || !w->graph->parent)
        return NULL;
    const Graph *pg = w->graph->parent;
    for (int i = 0; i < pg->n; i++) {
        const Node *sn = pg->nodes[i];
        if (sn->op == OP_SCAN && sn->scan->body == w->graph)
            return weight_concat(E, sn->in[w->index]) ? sn->in[w->index] : NULL;
    }
    return NULL;
}

static void emit_matmul_plain(Emit *E, int ind, const Node *n);

/* A matmul against a weight concatenation: one GEMM when it was made,
 * else one per part: C[:, part] = A @ W_k, or C = sum_k A[:, part] @ W_k^T. */
static void emit_matmul(Emit *E, int ind, const Node *n)
{
    const Node *cat = split_weight(E, n);
    if (!cat) {
        emit_matmul_plain(E, ind, n);
        return;
    }
    const Node *a = n->in[0];
    int ak = a->shape.ndim - 1, wide = cat->shape.d[1];
    const char *M = dims_expr(E, a->shape, 0, ak);
    emitf(E, ind, "if ((size_t)T * B >= %d) {\n", CONCAT_MIN_ROWS);
    emit_matmul_plain(E, ind + 1, n);
    emitf(E, ind, "} else {\n");
    for (int k = 0, at = 0; k < cat->nin; k++) {
        const Node *w = cat->in[k];
        int wk = w->shape.d[1], rows = w->shape.d[0];
        const char *off = at ? arena_printf(&perm, " + %s", dim_c(E, at)) : "";
        const char *WK = dim_c(E, wk), *ROWS = dim_c(E, rows), *WIDE = dim_c(E, wide);
        if (!n->tb)
            emitf(E, ind + 1, "rnnrt_gemm(0, 0, %s, %s, %s, 1, %s, %s, %s, %s, 0, %s%s, %s);\n", M, WK, ROWS, ref(E, a),
                  ROWS, ref(E, w), WK, ref(E, n), off, WIDE);
        else
            emitf(E, ind + 1, "rnnrt_gemm(0, 1, %s, %s, %s, 1, %s%s, %s, %s, %s, %d, %s, %s);\n", M, ROWS, WK, ref(E, a),
                  off, WIDE, ref(E, w), WK, k ? 1 : 0, ref(E, n), ROWS);
        at += wk;
    }
    emitf(E, ind, "}\n");
}

static void emit_matmul_plain(Emit *E, int ind, const Node *n)
{
    const Node *a = n->in[0], *b = n->in[1];
    int ak = a->shape.ndim - 1;
    if (!n->ta) {
        const char *M = dims_expr(E, a->shape, 0, ak), *K = dims_expr(E, a->shape, ak, ak + 1);
        const char *N = dims_expr(E, n->shape, n->shape.ndim - 1, n->shape.ndim);
        const Node *pw = E->pack_flag ? packed_weight(E, n) : NULL;
        if (pw && pack_field(E, pw)) {
            emitf(E, ind, "rnnrt_gemm_packed(%d, %s, %s, %s, %s, %s, %s, %s, %s ? w.%s : NULL, %s, %s);\n", n->tb ? 1 : 0,
                  M, N, K, ref(E, a), K, ref(E, b), n->tb ? K : N, E->pack_flag, pack_field(E, pw), ref(E, n), N);
            return;
        }
        emitf(E, ind, "rnnrt_gemm(0, %d, %s, %s, %s, 1, %s, %s, %s, %s, 0, %s, %s);\n", n->tb ? 1 : 0, M, N, K, ref(E, a),
              K, ref(E, b), n->tb ? K : N, ref(E, n), N);
        return;
    }
    /* A^T @ B over the flattened leading dims: [R,m]^T [R,n] -> [m,n] */
    const char *R = dims_expr(E, a->shape, 0, ak), *M = dims_expr(E, a->shape, ak, ak + 1);
    const char *N = dims_expr(E, b->shape, b->shape.ndim - 1, b->shape.ndim);
    int gp = direct_grad_param(E, n);
    if (gp >= 0) { /* straight into the gradient block */
        emitf(E, ind, "rnnrt_gemm(1, 0, %s, %s, %s, 1, %s, %s, %s, %s, 1, g.%s, %s);\n", M, N, R, ref(E, a), M, ref(E, b), N,
              E->m->params[gp].name, N);
        return;
    }
    emitf(E, ind, "rnnrt_gemm(1, 0, %s, %s, %s, 1, %s, %s, %s, %s, 0, %s, %s);\n", M, N, R, ref(E, a), M, ref(E, b), N,
          ref(E, n), N);
}

static void emit_node(Emit *E, int ind, const Node *n);

/* acc += x, elementwise (x and acc have the same shape). */
static void emit_sum_into(Emit *E, int ind, const Node *acc, const Node *x)
{
    emitf(E, ind, "rnnrt_add_to(%s, %s, %s);\n", ref(E, acc), ref(E, x), numel_size(E, x->shape));
}

/* Does the emitted body read node n (directly, or through a grad_scale
 * alias, or as an output of the step)? */
static bool body_reads(const Node *scan, const Node *n)
{
    const Scan *s = scan->scan;
    for (int i = 0; i < s->body->n; i++) {
        const Node *u = s->body->nodes[i];
        for (int k = 0; k < u->nin; k++)
            if (u->in[k] == n && (u->op != OP_GRAD_SCALE || (k == 0 && body_reads(scan, u))))
                return true;
    }
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].node == n)
            return true;
    for (int k = 0; k < s->nin; k++)
        if (s->in[k].carry_out == n)
            return true;
    return false;
}

/* Carry k's next value is a body node stacked in place: step t writes it
 * into row t of its stacked output, which no later step overwrites. Then
 * step t + 1 reads that row through a pointer instead of a copy of it in
 * the carry buffer; the buffer gets the final value once, after the loop. */
static bool carry_in_place(const Node *sn, int k)
{
    const ScanIn *in = &sn->scan->in[k];
    return in->kind == SCAN_CARRY && in->carry_out && has_storage(in->carry_out) &&
           scan_stack_output(sn, in->carry_out);
}

/* Pack the weights this scan's steps multiply by (packed_weight), once
 * for all its steps; short scans (sampling runs T = 1) multiply unpacked. */
static void emit_packs(Emit *E, int ind, const Node *sn)
{
    const Graph *body = sn->scan->body;
    const char *flag = NULL;
    for (int i = 0; i < body->n; i++) {
        const Node *n = body->nodes[i], *w = packed_weight(E, n);
        if (!w || !pack_field(E, w))
            continue;
        bool first = true; /* the first matmul against w packs it */
        for (int j = 0; j < i; j++)
            if (packed_weight(E, body->nodes[j]) == w)
                first = false;
        if (!first)
            continue;
        if (!flag) { /* declared by the prologue: T >= RNNRT_PACK_MIN_T */
            flag = "packed";
            emitf(E, ind, "if (%s) { /* weights packed once for the steps */\n", flag);
        }
        const char *rows = dims_expr(E, w->shape, 0, 1), *cols = dims_expr(E, w->shape, 1, 2);
        if (!n->tb) /* op(B) = W [K = rows, N = cols] */
            emitf(E, ind + 1, "rnnrt_pack_b(0, %s, %s, %s, %s, w.%s);\n", rows, cols, ref(E, w), cols, pack_field(E, w));
        else /* op(B) = W^T [K = cols, N = rows] */
            emitf(E, ind + 1, "rnnrt_pack_b(1, %s, %s, %s, %s, w.%s);\n", cols, rows, ref(E, w), cols, pack_field(E, w));
    }
    if (flag)
        emitf(E, ind, "}\n");
    E->pack_flag = flag;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Lines (each a declaration "type *name = ...;") in the order of their text. */
static void emit_sorted(Emit *E, int ind, const char **lines, int n)
{
    qsort(lines, (size_t)n, sizeof *lines, str_cmp);
    for (int i = 0; i < n; i++)
        emitf(E, ind, "%s", lines[i]);
}

static void emit_scan(Emit *E, int ind, const Node *sn)
{
    const Scan *s = sn->scan;
    const Graph *body = s->body;
    const char **cur = arena_alloc(&perm, (size_t)(s->nin + 1) * sizeof *cur);
    const char *file = sn->loc.file ? sn->loc.file : E->m->spec->path;
    if (sn->loc.line > 0)
        emitf(E, ind, "/* %s:%d%s  cell '%s' over t = %s */\n", c_comment(spec_file_name(E->m->spec, file)), sn->loc.line,
              E->in_backward ? " (backward)" : "", s->name ? s->name : "", s->reverse ? "T-1 .. 0" : "0 .. T-1");
    else
        emitf(E, ind, "/* scan '%s' over t = %s */\n", s->name ? s->name : "", s->reverse ? "T-1 .. 0" : "0 .. T-1");
    /* carries start at their initial values; sums at zero */
    for (int k = 0; k < s->nin; k++)
        if (s->in[k].kind == SCAN_CARRY && zeros_only_init(sn->in[k]))
            emitf(E, ind, "memset(w.%s, 0, %s * sizeof(real));\n", carry_field(E, s->in[k].arg),
                  numel_size(E, s->in[k].arg->shape));
        else if (s->in[k].kind == SCAN_CARRY)
            emitf(E, ind, "memcpy(w.%s, %s, %s * sizeof(real));\n", carry_field(E, s->in[k].arg), ref(E, sn->in[k]),
                  numel_size(E, s->in[k].arg->shape));
    for (int k = 0; k < s->nin; k++)
        if (carry_in_place(sn, k)) {
            cur[k] = carry_cursor(E, s->in[k].arg);
            emitf(E, ind, "const real *%s = w.%s;\n", cur[k], carry_field(E, s->in[k].arg));
        }
    for (int o = 0; o < s->nout; o++)
        if (s->out[o].kind == SCAN_SUM) {
            const Node *on = scan_output_node(sn, o);
            emitf(E, ind, "memset(%s, 0, %s * sizeof(real));\n", ref(E, on), numel_size(E, on->shape));
        }
    emit_packs(E, ind, sn);
    if (s->reverse)
        emitf(E, ind, "for (int t = T - 1; t >= 0; t--) {\n");
    else
        emitf(E, ind, "for (int t = 0; t < T; t++) {\n");
    int in1 = ind + 1;
    /* this step's views of the inputs, then the body nodes that are
     * stacked (written in place); each group by name, so reordered terms
     * do not reorder them */
    const char **views = arena_array(&perm, (size_t)(s->nin + body->n + 1), sizeof(char *));
    int nviews = 0;
    for (int k = 0; k < s->nin; k++) {
        const Node *arg = s->in[k].arg;
        if (s->in[k].kind != SCAN_INV && !body_reads(sn, arg))
            continue; /* e.g. carry_scale, read only by the backward pass */
        if (s->in[k].kind == SCAN_SEQ)
            views[nviews++] = arena_printf(&perm, "const real *%s = %s + (size_t)t * %s;\n", node_cname(E, arg),
                                           ref(E, sn->in[k]), numel_expr(E, arg->shape));
        else if (carry_in_place(sn, k))
            views[nviews++] = arena_printf(&perm, "const real *%s = %s;\n", node_cname(E, arg), cur[k]);
        else if (s->in[k].kind == SCAN_CARRY)
            views[nviews++] = arena_printf(&perm, "const real *%s = w.%s;\n", node_cname(E, arg), carry_field(E, arg));
    }
    emit_sorted(E, in1, views, nviews);
    nviews = 0;
    for (int i = 0; i < body->n; i++) {
        const Node *n = body->nodes[i];
        const Node *o = scan_stack_output(sn, n);
        if (o && has_storage(n))
            views[nviews++] = arena_printf(&perm, "real *%s = %s + (size_t)t * %s;\n", node_cname(E, n), ref(E, o),
                                           numel_expr(E, n->shape));
    }
    emit_sorted(E, in1, views, nviews);
    E->last_line = 0;
    E->nshown = 0;
    E->in_body = true;
    for (int i = 0; i < body->n; i++)
        emit_node(E, in1, body->nodes[i]);
    E->in_body = false;
    E->nshown = 0;
    /* outputs of this step */
    for (int o = 0; o < s->nout; o++) {
        const ScanOut *so = &s->out[o];
        const Node *on = scan_output_node(sn, o);
        if (!on)
            continue;
        if (so->kind == SCAN_STACK && !has_storage(so->node))
            emitf(E, in1, "memcpy(%s + (size_t)t * %s, %s, %s * sizeof(real));\n", ref(E, on), numel_expr(E, so->node->shape),
                  ref(E, so->node), numel_size(E, so->node->shape));
        else if (so->kind == SCAN_SUM)
            emit_sum_into(E, in1, on, so->node);
    }
    for (int k = 0; k < s->nin; k++)
        if (carry_in_place(sn, k))
            emitf(E, in1, "%s = %s;\n", cur[k], ref(E, s->in[k].carry_out));
        else if (s->in[k].kind == SCAN_CARRY)
            emitf(E, in1, "memcpy(w.%s, %s, %s * sizeof(real));\n", carry_field(E, s->in[k].arg),
                  ref(E, s->in[k].carry_out), numel_size(E, s->in[k].arg->shape));
    emitf(E, ind, "}\n");
    E->pack_flag = NULL;
    for (int k = 0; k < s->nin; k++)
        if (carry_in_place(sn, k)) { /* T == 0 leaves it where it was */
            emitf(E, ind, "if (%s != w.%s)\n", cur[k], carry_field(E, s->in[k].arg));
            emitf(E, ind + 1, "memcpy(w.%s, %s, %s * sizeof(real));\n", carry_field(E, s->in[k].arg), cur[k],
                  numel_size(E, s->in[k].arg->shape));
        }
    E->last_line = 0;
}

/* pool: out [B,n] = sum_t w[t,b] h[t,b,:]; pool_grad: out [T,B,n] =
 * w[t,b] g[b,:]. Plain loops: the weights are mostly zeros or 1/len, and
 * the result is tiny next to the scans. */
static void emit_pool(Emit *E, int ind, const Node *n)
{
    bool grad = n->op == OP_POOL_GRAD;
    const Node *w = n->in[grad ? 0 : 1], *h = n->in[grad ? 1 : 0];
    const char *T = dims_expr(E, w->shape, 0, 1), *Bd = dims_expr(E, w->shape, 1, 2);
    const char *C = numel_size(E, shape1(n->shape.d[n->shape.ndim - 1]));
    if (!grad)
        emitf(E, ind, "memset(%s, 0, %s * sizeof(real));\n", ref(E, n), numel_size(E, n->shape));
    emitf(E, ind, "for (size_t t = 0; t < (size_t)%s; t++)\n", T);
    emitf(E, ind + 1, "for (size_t r = 0; r < (size_t)%s; r++) {\n", Bd);
    emitf(E, ind + 2, "const real wt = %s[t * (size_t)%s + r];\n", ref(E, w), Bd);
    emitf(E, ind + 2, "for (size_t j = 0; j < %s; j++)\n", C);
    if (grad)
        emitf(E, ind + 3, "%s[(t * (size_t)%s + r) * %s + j] = wt * %s[r * %s + j];\n", ref(E, n), Bd, C, ref(E, h), C);
    else
        emitf(E, ind + 3, "%s[r * %s + j] += wt * %s[(t * (size_t)%s + r) * %s + j];\n", ref(E, n), C, ref(E, h), Bd, C);
    emitf(E, ind + 1, "}\n");
}

/* ---- seq2seq: attention and the masked loss (issue #4) ----
 * Plain loops in the order interp.c adds things up, so the double build
 * agrees with the interpreter to rounding. Lengths are clamped to [0, T].
 * A row of the masked loss is the runtime's rnnrt_xent_lse /
 * rnnrt_xent_grad_row: the same double arithmetic in the double build, a
 * vectorized float exp (one per logit) in the float build. */
static void emit_clamped_len(Emit *E, int ind, const Node *len, const char *T)
{
    emitf(E, ind, "const int L = %s[b] < 0 ? 0 : %s[b] > %s ? %s : %s[b];\n", ref(E, len), ref(E, len), T, T, ref(E, len));
}

static void emit_masked_xent(Emit *E, int ind, const Node *n, bool grad)
{
    const Node *lg = n->in[0], *y = n->in[1], *len = n->in[2];
    const char *T = dims_expr(E, lg->shape, 0, 1), *B = dims_expr(E, lg->shape, 1, 2), *C = dims_expr(E, lg->shape, 2, 3);
    emitf(E, ind, "{\n");
    emitf(E, ind + 1, "double sum = 0, count = 0;\n");
    emitf(E, ind + 1, "for (int b = 0; b < %s; b++) {\n", B);
    emit_clamped_len(E, ind + 2, len, T);
    emitf(E, ind + 2, "count += L;\n");
    emitf(E, ind + 1, "}\n");
    emitf(E, ind + 1, "for (int t = 0; t < %s; t++)\n", T);
    emitf(E, ind + 2, "for (int b = 0; b < %s; b++) {\n", B);
    if (!grad) {
        emitf(E, ind + 3, "if (t >= %s[b])\n", ref(E, len));
        emitf(E, ind + 4, "continue;\n");
    } else {
        /* only the padding's rows are zeroed: the others are written whole */
        emitf(E, ind + 3, "real *d = %s + ((size_t)t * %s + (size_t)b) * %s;\n", ref(E, n), B, C);
        emitf(E, ind + 3, "if (t >= %s[b]) {\n", ref(E, len));
        emitf(E, ind + 4, "memset(d, 0, (size_t)%s * sizeof(real));\n", C);
        emitf(E, ind + 4, "continue;\n");
        emitf(E, ind + 3, "}\n");
    }
    emitf(E, ind + 3, "const real *z = %s + ((size_t)t * %s + (size_t)b) * %s;\n", ref(E, lg), B, C);
    emitf(E, ind + 3, "const int32_t target = %s[(size_t)t * %s + (size_t)b];\n", ref(E, y), B);
    if (!grad) {
        emitf(E, ind + 3, "sum += rnnrt_xent_lse(z, %s) - (target >= 0 && target < %s ? z[target] : 0);\n", C, C);
    } else {
        emitf(E, ind + 3, "rnnrt_xent_grad_row(z, %s, target, %s / count, d);\n", C, scalar(E, n->in[3]));
    }
    emitf(E, ind + 2, "}\n");
    if (!grad)
        emitf(E, ind + 1, "%s[0] = (real)(count > 0 ? sum / count : 0);\n", ref(E, n));
    else
        emitf(E, ind + 1, "(void)sum;\n");
    emitf(E, ind, "}\n");
}

static void emit_s2s_node(Emit *E, int ind, const Node *n)
{
    const Node *a = n->in[0];
    switch (n->op) {
    case OP_SUM_LAST: {
        const char *w = dims_expr(E, a->shape, a->shape.ndim - 1, a->shape.ndim);
        emitf(E, ind, "for (size_t i = 0; i < %s; i++) {\n", numel_size(E, n->shape));
        emitf(E, ind + 1, "real s = 0;\n");
        emitf(E, ind + 1, "for (size_t j = 0; j < (size_t)%s; j++)\n", w);
        emitf(E, ind + 2, "s += %s[i * %s + j];\n", ref(E, a), w);
        emitf(E, ind + 1, "%s[i] = s;\n", ref(E, n));
        emitf(E, ind, "}\n");
        return;
    }
    case OP_BCAST_LAST: {
        const char *w = dims_expr(E, n->shape, n->shape.ndim - 1, n->shape.ndim);
        emitf(E, ind, "for (size_t i = 0; i < %s; i++)\n", numel_size(E, a->shape));
        emitf(E, ind + 1, "for (size_t j = 0; j < (size_t)%s; j++)\n", w);
        emitf(E, ind + 2, "%s[i * %s + j] = %s[i];\n", ref(E, n), w, ref(E, a));
        return;
    }
    case OP_MASKED_SOFTMAX_T: {
        const char *T = dims_expr(E, a->shape, 0, 1), *B = dims_expr(E, a->shape, 1, 2);
        const char *S = ref(E, a), *Y = ref(E, n);
        emitf(E, ind, "memset(%s, 0, %s * sizeof(real));\n", Y, numel_size(E, n->shape));
        emitf(E, ind, "for (int b = 0; b < %s; b++) {\n", B);
        emit_clamped_len(E, ind + 1, n->in[1], T);
        emitf(E, ind + 1, "if (L == 0)\n");
        emitf(E, ind + 2, "continue;\n");
        emitf(E, ind + 1, "real mx = %s[b], sum = 0;\n", S);
        emitf(E, ind + 1, "for (int t = 1; t < L; t++)\n");
        emitf(E, ind + 2, "mx = %s[t * %s + b] > mx ? %s[t * %s + b] : mx;\n", S, B, S, B);
        emitf(E, ind + 1, "for (int t = 0; t < L; t++)\n");
        emitf(E, ind + 2, "sum += %s[t * %s + b] = rnnrt_exp(%s[t * %s + b] - mx);\n", Y, B, S, B);
        emitf(E, ind + 1, "for (int t = 0; t < L; t++)\n");
        emitf(E, ind + 2, "%s[t * %s + b] /= sum;\n", Y, B);
        emitf(E, ind, "}\n");
        return;
    }
    case OP_MASKED_SOFTMAX_T_GRAD: {
        const char *T = dims_expr(E, a->shape, 0, 1), *B = dims_expr(E, a->shape, 1, 2);
        const char *Y = ref(E, a), *G = ref(E, n->in[1]);
        emitf(E, ind, "for (int b = 0; b < %s; b++) {\n", B);
        emitf(E, ind + 1, "real dot = 0;\n");
        emitf(E, ind + 1, "for (int t = 0; t < %s; t++)\n", T);
        emitf(E, ind + 2, "dot += %s[t * %s + b] * %s[t * %s + b];\n", Y, B, G, B);
        emitf(E, ind + 1, "for (int t = 0; t < %s; t++)\n", T);
        emitf(E, ind + 2, "%s[t * %s + b] = %s[t * %s + b] * (%s[t * %s + b] - dot);\n", ref(E, n), B, Y, B, G, B);
        emitf(E, ind, "}\n");
        return;
    }
    case OP_MASKED_XENT:
    case OP_MASKED_XENT_GRAD:
        emit_masked_xent(E, ind, n, n->op == OP_MASKED_XENT_GRAD);
        return;
    case OP_LEN_MASK: {
        const char *T = dims_expr(E, n->shape, 0, 1), *B = dims_expr(E, n->shape, 1, 2);
        emitf(E, ind, "for (int t = 0; t < %s; t++)\n", T);
        emitf(E, ind + 1, "for (int b = 0; b < %s; b++)\n", B);
        emitf(E, ind + 2, "%s[(size_t)t * %s + b] = t < %s[b];\n", ref(E, n), B, ref(E, a));
        return;
    }
    default:
        DIE("emit_s2s_node: %s", op_name(n->op));
    }
}

static void emit_node(Emit *E, int ind, const Node *n)
{
    switch (n->op) {
    case OP_PARAM:
    case OP_INPUT:
    case OP_ARG:
    case OP_CONST:
    case OP_GRAD_SCALE:
    case OP_SCAN_OUT:
    case OP_FUSED_OUT:
        return;
    case OP_FUSED:
        emit_fused(E, ind, n);
        return;
    default:
        break;
    }
    if (zeros_only_init(n))
        return; /* the scans memset their carries */
    if (n->op != OP_SCAN) /* emit_scan names the cell */
        comment_loc(E, ind, n->loc);
    switch (n->op) {
    case OP_ZEROS:
        emitf(E, ind, "memset(%s, 0, %s * sizeof(real));\n", ref(E, n), numel_size(E, n->shape));
        return;
    case OP_ONE_HOT: {
        const char *rows = numel_size(E, n->in[0]->shape);
        emitf(E, ind, "memset(%s, 0, %s * V * sizeof(real));\n", ref(E, n), rows);
        emitf(E, ind, "for (size_t i = 0; i < %s; i++)\n", rows);
        emitf(E, ind + 1, "if (%s[i] >= 0 && %s[i] < V)\n", ref(E, n->in[0]), ref(E, n->in[0]));
        emitf(E, ind + 2, "%s[i * V + (size_t)%s[i]] = 1;\n", ref(E, n), ref(E, n->in[0]));
        return;
    }
    case OP_GATHER: {
        /* out [rows, n] = rows ids of a [R, n]; ids outside [0, R) give 0 */
        const Node *a = n->in[0], *ids = n->in[1];
        const char *R = dims_expr(E, a->shape, 0, 1), *cols = numel_size(E, shape1(a->shape.d[1]));
        if (ids->op == OP_INPUT) { /* int32_t token ids */
            emitf(E, ind, "rnnrt_gather_rows(%s, %s, %s, %s, %s, %s);\n", ref(E, n), ref(E, a), ref(E, ids),
                  numel_size(E, ids->shape), R, cols);
            return;
        }
        emitf(E, ind, "for (size_t i = 0; i < %s; i++) {\n", numel_size(E, ids->shape));
        emitf(E, ind + 1, "if (%s[i] >= 0 && %s[i] < %s)\n", ref(E, ids), ref(E, ids), R);
        emitf(E, ind + 2, "memcpy(%s + i * %s, %s + (size_t)%s[i] * %s, %s * sizeof(real));\n", ref(E, n), cols, ref(E, a),
              ref(E, ids), cols, cols);
        emitf(E, ind + 1, "else\n");
        emitf(E, ind + 2, "memset(%s + i * %s, 0, %s * sizeof(real));\n", ref(E, n), cols, cols);
        emitf(E, ind, "}\n");
        return;
    }
    case OP_SCATTER_ADD: {
        /* out [R, n] = 0; row ids[i] += g[i] for every i */
        const Node *ids = n->in[0], *gr = n->in[1];
        const char *R = dims_expr(E, n->shape, 0, 1), *cols = numel_size(E, shape1(n->shape.d[1]));
        if (ids->op == OP_INPUT) {
            emitf(E, ind, "rnnrt_scatter_add_rows(%s, %s, %s, %s, %s, %s);\n", ref(E, n), ref(E, ids), ref(E, gr),
                  numel_size(E, ids->shape), R, cols);
            return;
        }
        emitf(E, ind, "memset(%s, 0, %s * sizeof(real));\n", ref(E, n), numel_size(E, n->shape));
        emitf(E, ind, "for (size_t i = 0; i < %s; i++)\n", numel_size(E, ids->shape));
        emitf(E, ind + 1, "if (%s[i] >= 0 && %s[i] < %s)\n", ref(E, ids), ref(E, ids), R);
        emitf(E, ind + 2, "for (size_t j = 0; j < %s; j++)\n", cols);
        emitf(E, ind + 3, "%s[(size_t)%s[i] * %s + j] += %s[i * %s + j];\n", ref(E, n), ref(E, ids), cols, ref(E, gr), cols);
        return;
    }
    case OP_MATMUL:
        emit_matmul(E, ind, n);
        return;
    case OP_SUM_TO: {
        emitf(E, ind, "rnnrt_sum_rows(%s, %s, %s, %s);\n", ref(E, n), ref(E, n->in[0]), numel_size(E, n->in[0]->shape),
              numel_size(E, n->shape));
        return;
    }
    case OP_DROPOUT:
        /* the mask is a hash of (c->dropout_seed, site, i): see rnnrt.h */
        emitf(E, ind, "rnnrt_dropout(c, %s, %s, %s, %.17g, %d);\n", ref(E, n->in[0]), ref(E, n), numel_size(E, n->shape),
              n->value, n->index);
        return;
    case OP_CONCAT: {
        int last = n->shape.ndim - 1, w = n->shape.d[last];
        bool weights = weight_concat(E, n);
        if (weights)
            emitf(E, ind++, "if ((size_t)T * B >= %d) /* else: GEMMs per part (emit_matmul) */\n", CONCAT_MIN_ROWS);
        emitf(E, ind, "for (size_t r = 0; r < %s; r++) {\n", numel_size(E, shape_rows(n->shape)));
        for (int k = 0, at = 0; k < n->nin; k++) {
            int wk = n->in[k]->shape.d[last];
            const char *to = at ? arena_printf(&perm, " + %s", dim_c(E, at)) : "";
            emitf(E, ind + 1, "memcpy(%s + r * %s%s, %s + r * %s, %s * sizeof(real));\n", ref(E, n), dim_c(E, w), to,
                  ref(E, n->in[k]), dim_c(E, wk), dim_c(E, wk));
            at += wk;
        }
        emitf(E, ind, "}\n");
        return;
    }
    case OP_SLICE: {
        if (slice_view(n))
            return; /* read in place by the fused loops */
        const Node *a = n->in[0];
        int last = n->shape.ndim - 1, w = n->shape.d[last], wa = a->shape.d[last];
        emitf(E, ind, "for (size_t r = 0; r < %s; r++)\n", numel_size(E, shape_rows(n->shape)));
        const char *from = n->index ? arena_printf(&perm, " + %s", dim_c(E, n->index)) : "";
        emitf(E, ind + 1, "memcpy(%s + r * %s, %s + r * %s%s, %s * sizeof(real));\n", ref(E, n), dim_c(E, w), ref(E, a),
              dim_c(E, wa), from, dim_c(E, w));
        return;
    }
    case OP_ROW_SCALE: {
        /* out[r][j] = a[r][j] * s[r]: a mask over the rows of a state */
        const Node *a = n->in[0], *sc = n->in[1];
        int w = a->shape.d[a->shape.ndim - 1];
        emitf(E, ind, "for (size_t r = 0; r < %s; r++)\n", numel_size(E, sc->shape));
        const char *W = dim_c(E, w);
        emitf(E, ind + 1, "for (size_t j = 0; j < %s; j++)\n", W);
        emitf(E, ind + 2, "%s[r * %s + j] = %s[r * %s + j] * %s[r];\n", ref(E, n), W, ref(E, a), W, ref(E, sc));
        return;
    }
    case OP_SOFTMAX_XENT: {
        const Node *lg = n->in[0];
        int last = lg->shape.ndim - 1;
        emitf(E, ind, "%s[0] = (real)rnnrt_softmax_xent(%s, %s, %s, %s);\n", ref(E, n), ref(E, lg), ref(E, n->in[1]),
              numel_size(E, n->in[1]->shape), dims_expr(E, lg->shape, last, last + 1));
        return;
    }
    case OP_SOFTMAX_XENT_GRAD: {
        const Node *lg = n->in[0];
        int last = lg->shape.ndim - 1;
        emitf(E, ind, "rnnrt_softmax_xent_grad(%s, %s, %s, %s, %s, %s);\n", ref(E, lg), ref(E, n->in[1]),
              numel_size(E, n->in[1]->shape), dims_expr(E, lg->shape, last, last + 1), scalar(E, n->in[2]), ref(E, n));
        return;
    }
    case OP_POOL:
    case OP_POOL_GRAD:
        emit_pool(E, ind, n);
        return;
    case OP_SCAN:
        emit_scan(E, ind, n);
        return;
    case OP_SUM_LAST:
    case OP_BCAST_LAST:
    case OP_MASKED_SOFTMAX_T:
    case OP_MASKED_SOFTMAX_T_GRAD:
    case OP_MASKED_XENT:
    case OP_MASKED_XENT_GRAD:
    case OP_LEN_MASK:
        emit_s2s_node(E, ind, n);
        return;
    default:
        if (!op_is_elementwise(n->op))
            DIE("emit: no C for op %s", op_name(n->op));
        emit_elementwise(E, ind, n);
        return;
    }
}

/* Locals every step function starts with. */
/* ---- function bodies: written first, so the prologue declares only the
 * locals a body reads (no unused variables, no (void) lines) ---- */

static FILE *body_begin(Emit *E)
{
    FILE *saved = E->f;
    E->f = tmpfile();
    if (!E->f)
        DIE("emit: cannot create a temporary file");
    return saved;
}

static const char *body_end(Emit *E, FILE *saved)
{
    long len = ftell(E->f);
    if (len < 0 || fseek(E->f, 0, SEEK_SET) != 0)
        DIE("emit: cannot read back a function body");
    char *text = arena_alloc(&perm, (size_t)len + 1);
    if (fread(text, 1, (size_t)len, E->f) != (size_t)len)
        DIE("emit: cannot read back a function body");
    text[len] = 0;
    fclose(E->f);
    E->f = saved;
    return text;
}

/* Does the C text read identifier name (outside comments)? */
static bool body_uses(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *q = text; *q; q++) {
        if (q[0] == '/' && q[1] == '*') {
            const char *end = strstr(q + 2, "*/");
            if (!end)
                return false;
            q = end + 1;
            continue;
        }
        if (strncmp(q, name, n) == 0 && (q == text || !(isalnum((unsigned char)q[-1]) || q[-1] == '_')) &&
            !(isalnum((unsigned char)q[n]) || q[n] == '_'))
            return true;
        while (isalnum((unsigned char)*q) || *q == '_') /* skip the rest of an identifier */
            if (!(isalnum((unsigned char)q[1]) || q[1] == '_'))
                break;
            else
                q++;
    }
    return false;
}

static void emit_prologue(Emit *E, bool backward, const char *body)
{
    const Model *m = E->m;
    const char *xa = E->xdim ? arena_printf(&perm, ", %s", E->xdim) : "";
    emitf(E, 1, "const int B = c->B, T = c->T, V = c->V%s;\n",
          E->xdim ? arena_printf(&perm, ", %s = c->%s", E->xdim, E->xdim) : "");
    if (body_uses(body, "p"))
        emitf(E, 1, "%s_params p = %s_params_at((real *)c->params, V%s); /* read only */\n", E->prefix, E->prefix, xa);
    if (body_uses(body, "g"))
        emitf(E, 1, "%s_params g = %s_params_at(c->grads, V%s);\n", E->prefix, E->prefix, xa);
    emitf(E, 1, "%s_work w;\n", E->prefix);
    emitf(E, 1, "%s_layout(&w, c->work, B, T, V%s);\n", E->prefix, xa);
    if (m->carry_scale && (!backward || body_uses(body, node_cname(E, m->carry_scale))))
        emitf(E, 1, "real *%s = w.%s;\n", node_cname(E, m->carry_scale), node_cname(E, m->carry_scale));
    for (int k = 0; k < m->nstates; k++)
        if (body_uses(body, node_cname(E, m->state_in[k])))
            emitf(E, 1, "const real *%s = c->state_in + (size_t)B * %s;\n", node_cname(E, m->state_in[k]),
                  dim_c(E, (long long)k * m->spec->hidden));
    if (body_uses(body, "packed"))
        emitf(E, 1, "const int packed = T >= RNNRT_PACK_MIN_T; /* the scans pack their weights */\n");
    if (m->carry_scale && !backward) {
        emitf(E, 1, "for (int t = 0; t < T; t++)\n");
        emitf(E, 2, "%s[t] = c->carry_scale ? c->carry_scale[t] : 1;\n", node_cname(E, m->carry_scale));
    }
    fputc('\n', E->f);
}

/* Nodes of the forward pass: everything before nforward (a scan emits all
 * its outputs, including those autodiff added). */
static void emit_forward(Emit *E)
{
    const Model *m = E->m;
    emitf(E, 0, "/* Forward pass: loss, logits and the final state; keeps in the\n"
                " * workspace what the backward pass reads. */\n");
    emitf(E, 0, "static void %s_forward(%s *c)\n{\n", E->prefix, E->s2s ? "RnnrtS2sCtx" : "RnnrtCtx");
    FILE *saved = body_begin(E);
    E->in_backward = false;
    E->last_line = 0;
    for (int i = 0; i < m->nforward; i++)
        emit_node(E, 1, m->g->nodes[i]);
    fputc('\n', E->f);
    emitf(E, 1, "c->loss = %s;\n", scalar(E, m->loss));
    emitf(E, 1, "c->logits = %s;\n", ref(E, m->logits));
    if (E->s2s)
        emitf(E, 1, "c->attention = %s;\n", m->attention ? ref(E, m->attention) : "NULL");
    for (int k = 0; k < m->nstates && !E->s2s; k++)
        emitf(E, 1, "memcpy(c->state_out + (size_t)B * %s, %s, %s * sizeof(real));\n", dim_c(E, (long long)k * m->spec->hidden),
              ref(E, m->state_out[k]), numel_size(E, m->state_out[k]->shape));
    const char *body = body_end(E, saved);
    emit_prologue(E, false, body);
    fputs(body, E->f);
    emitf(E, 0, "}\n\n");
}

static void emit_backward(Emit *E)
{
    const Model *m = E->m;
    emitf(E, 0, "/* Backward pass (backpropagation through time): adds the gradient of\n"
                " * c->loss to c->grads and writes c->dstate_in. Call after forward. */\n");
    emitf(E, 0, "static void %s_backward(%s *c)\n{\n", E->prefix, E->s2s ? "RnnrtS2sCtx" : "RnnrtCtx");
    FILE *saved = body_begin(E);
    E->in_backward = true;
    E->last_line = 0;
    for (int i = m->nforward; i < m->g->n; i++)
        emit_node(E, 1, m->g->nodes[i]);
    E->last_line = 0;
    fputc('\n', E->f);
    emitf(E, 1, "/* accumulate into the gradient block */\n");
    for (int i = 0; i < m->nparams; i++) {
        if (!m->grads[i] || direct_grad_param(E, m->grads[i]) >= 0)
            continue;
        int same = -1; /* CSE: two parameters whose gradients are one value */
        for (int j = 0; j < i && same < 0; j++)
            if (m->grads[j] == m->grads[i])
                same = j;
        emitf(E, 1, "rnnrt_add_to(g.%s, %s, %s);%s\n", m->params[i].name, ref(E, m->grads[i]),
              numel_size(E, m->params[i].shape),
              same < 0 ? "" : arena_printf(&perm, " /* d%s: the same sum as d%s */", m->params[i].name, m->params[same].name));
    }
    emitf(E, 1, "if (c->dstate_in) {\n");
    for (int k = 0; k < m->nstates; k++) {
        if (m->dstate[k])
            emitf(E, 2, "memcpy(c->dstate_in + (size_t)B * %s, %s, %s * sizeof(real));\n",
                  dim_c(E, (long long)k * m->spec->hidden),
                  ref(E, m->dstate[k]), numel_size(E, m->dstate[k]->shape));
        else
            emitf(E, 2, "memset(c->dstate_in + (size_t)B * %s, 0, (size_t)B * %s * sizeof(real));\n",
                  dim_c(E, (long long)k * m->spec->hidden), E->sym_h);
    }
    emitf(E, 1, "}\n");
    const char *body = body_end(E, saved);
    emit_prologue(E, true, body);
    fputs(body, E->f);
    emitf(E, 0, "}\n\n");
}

/* The runtime splits a batch's rows over threads (rnnrt_parallel.c) when it
 * knows the state's layout: nstates blocks [B, width] of one width. Other
 * layouts say 0, and the runtime does not split. */
static int state_blocks(const Model *m)
{
    for (int k = 1; k < m->nstates; k++)
        if (m->state_in[k]->shape.d[1] != m->state_in[0]->shape.d[1])
            return 0;
    return m->nstates;
}

/* The descriptor's first fields, the same in RnnrtModel and RnnrtS2sModel. */
static void emit_model_begin(Emit *E, const char *type)
{
    const Spec *s = E->m->spec;
    emitf(E, 0, "const %s %s_model = {\n", type, E->prefix);
    emitf(E, 1, ".name = \"%s\",\n", c_string(s->model));
    emitf(E, 1, ".spec_path = \"%s\",\n", c_string(s->name));
    emitf(E, 1, ".spec_hash = UINT64_C(0x%016llx),\n", (unsigned long long)s->hash);
    emitf(E, 1, ".nparams = %d,\n", E->m->nparams);
    emitf(E, 1, ".params = %s_param_table,\n", E->prefix);
    emitf(E, 1, ".state_size = %s,\n", dim_c(E, E->m->state_size));
}

/* The recipe's lr schedule, warm-up and weight decay: only what the spec
 * sets, so specs without them emit what they did before. */
static void emit_schedule(Emit *E)
{
    const Spec *s = E->m->spec;
    static const char *names[] = {"constant", "step", "plateau", "cosine"};
    if (s->lr_schedule != SCHED_CONSTANT)
        emitf(E, 2, ".lr_schedule = \"%s\",\n", names[s->lr_schedule]);
    if (s->lr_step)
        emitf(E, 2, ".lr_step = %d,\n", s->lr_step);
    if (s->lr_patience)
        emitf(E, 2, ".lr_patience = %d,\n", s->lr_patience);
    if (s->lr_factor)
        emitf(E, 2, ".lr_factor = %.17g,\n", s->lr_factor);
    if (s->lr_threshold)
        emitf(E, 2, ".lr_threshold = %.17g,\n", s->lr_threshold);
    if (s->lr_min)
        emitf(E, 2, ".lr_min = %.17g,\n", s->lr_min);
    if (s->warmup_steps)
        emitf(E, 2, ".warmup_steps = %d,\n", s->warmup_steps);
    if (s->weight_decay)
        emitf(E, 2, ".weight_decay = %.17g,\n", s->weight_decay);
}

/* The training recipe (RnnrtRecipe); a seq2seq model reads sentence pairs,
 * not windows of a stream, so it has no sampler or BPTT fields. */
static void emit_recipe(Emit *E, const char *tokens, const char *normalize, bool windows)
{
    const Spec *s = E->m->spec;
    static const char *samplers[] = {"sequential", "random"};
    static const char *bptts[] = {"full", "truncated", "randomized"};
    static const char *optims[] = {"sgd", "momentum", "adam"};
    emitf(E, 1, ".recipe = {\n");
    emitf(E, 2, ".tokens = \"%s\",\n", tokens);
    emitf(E, 2, ".normalize = \"%s\",\n", normalize);
    emitf(E, 2, ".split = %.17g,\n", s->split);
    emitf(E, 2, ".batch = %d,\n", s->batch);
    emitf(E, 2, ".steps = %d,\n", s->steps);
    emitf(E, 2, ".epochs = %d,\n", s->epochs);
    if (windows) {
        emitf(E, 2, ".sampler = \"%s\",\n", samplers[s->sampler]);
        emitf(E, 2, ".bptt = \"%s\",\n", bptts[s->bptt]);
        emitf(E, 2, ".bptt_k = %d,\n", s->bptt_k);
        emitf(E, 2, ".bptt_p = %.17g,\n", s->bptt_p);
    }
    emitf(E, 2, ".optimizer = \"%s\",\n", optims[s->optimizer]);
    emitf(E, 2, ".lr = %.17g,\n", s->lr);
    emitf(E, 2, ".clip_norm = %.17g,\n", s->clip_norm);
    emitf(E, 2, ".seed = UINT64_C(%llu),\n", (unsigned long long)s->seed);
    emitf(E, 2, ".momentum = %.17g,\n", s->momentum);
    emitf(E, 2, ".beta1 = %.17g,\n", s->beta1);
    emitf(E, 2, ".beta2 = %.17g,\n", s->beta2);
    emitf(E, 2, ".eps = %.17g,\n", s->eps);
    emitf(E, 2, ".min_freq = %d,\n", s->min_freq);
    if (s->eos)
        emitf(E, 2, ".eos = 1,\n");
    if (s->max_vocab)
        emitf(E, 2, ".max_vocab = %d,\n", s->max_vocab);
    if (s->valid)
        emitf(E, 2, ".valid = \"%s\",\n", c_string(s->valid));
    if (s->test)
        emitf(E, 2, ".test = \"%s\",\n", c_string(s->test));
    emit_schedule(E);
    emitf(E, 1, "},\n");
}

/* The step functions, the end of the descriptor and a main that hands it
 * to the runtime's main_fn. */
static void emit_model_end(Emit *E, const char *main_fn, bool step_fns)
{
    if (step_fns) {
        emitf(E, 1, ".forward = %s_forward,\n", E->prefix);
        emitf(E, 1, ".backward = %s_backward,\n", E->prefix);
    }
    emitf(E, 0, "};\n\n");
    emitf(E, 0, "#ifndef RNNC_NO_MAIN\n");
    emitf(E, 0, "int main(int argc, char **argv)\n{\n");
    emitf(E, 1, "return %s(argc, argv, &%s_model);\n}\n", main_fn, E->prefix);
    emitf(E, 0, "#endif\n");
}

/* ---- seq2seq decoding entries (issue #5) ----
 * Greedy and beam search need the decoder one step at a time. Two
 * functions share one workspace (<model>_dec_work): <model>_encode runs
 * the encoder over a batch of sources from zero states (the training
 * forward's encoder part, S2sDecode.enc) and leaves there what the step
 * reads every time: the keys, their projection, the source lengths;
 * <model>_step runs the decoder's body once (S2sDecode.step) from the
 * previous tokens and states, reading those where encode left them. Both
 * went through the pass list the training graph went through (main.c). */

/* The step's loop invariants are named after the encoder values they are. */
static void name_decode(Emit *E, const S2sDecode *d)
{
    const S2sStep *st = d->step;
    nameset_clear(&E->fields); /* their own workspace struct */
    E->m = d->enc;
    name_graph(E, d->enc->g, NULL);
    E->m = st->m;
    name_graph(E, st->m->g, NULL);
    E->m = d->enc;
    for (int i = 0; i < st->m->g->n; i++) {
        const Node *n = st->m->g->nodes[i];
        if (n->op == OP_INPUT && n->index >= INPUT_STEP_INV) {
            E->node_names[n->aux - 1] = ref(E, st->inv_src[n->index - INPUT_STEP_INV]);
            E->node_local[n->aux - 1] = true;
        }
    }
}

static void emit_dec_layout(Emit *E, const S2sDecode *d, const char *state0)
{
    E->nbuffers = 0;
    E->m = d->enc;
    collect_buffers(E, d->enc->g, NULL);
    add_buffer(E, state0, "the encoder's initial states: zeros",
               NULL, false);
    E->buffers[E->nbuffers - 1].shape = shape2(DIM_B, d->enc->state_size);
    E->m = d->step->m;
    collect_buffers(E, d->step->m->g, NULL);
    qsort(E->buffers, (size_t)E->nbuffers, sizeof *E->buffers, buffer_cmp);
    emitf(E, 0, "/* The decoding workspace: the encoder's buffers, then the step's. */\n");
    emitf(E, 0, "typedef struct {\n");
    for (int i = 0; i < E->nbuffers; i++)
        emitf(E, 1, "real *%s; /* %s */\n", E->buffers[i].field, E->buffers[i].what);
    emitf(E, 0, "} %s_dec_work;\n\n", E->prefix);
    int *slot = arena_array(&perm, (size_t)E->nbuffers + 1, sizeof(int));
    for (int i = 0; i < E->nbuffers; i++)
        slot[i] = -1;
    const char *work = arena_printf(&perm, "%s_dec_work", E->prefix), *table = arena_printf(&perm, "%s_dec_bufs", E->prefix);
    emit_buf_table(E, work, table, slot);
    emit_layout_fn(E, arena_printf(&perm, "%s_dec_layout", E->prefix), work, table, "Vt");
    emitf(E, 0, "static size_t %s_dec_workspace(int B, int T, int V, int Vt)\n{\n", E->prefix);
    emitf(E, 1, "%s_dec_work w;\n", E->prefix);
    emitf(E, 1, "return %s_dec_layout(&w, NULL, B, T, V, Vt);\n}\n\n", E->prefix);
}

static void emit_dec_prologue(Emit *E, const char *body)
{
    emitf(E, 1, "const int B = c->B, T = c->T, V = c->V, Vt = c->Vt;\n");
    if (body_uses(body, "p"))
        emitf(E, 1, "%s_params p = %s_params_at((real *)c->params, V, Vt); /* read only */\n", E->prefix, E->prefix);
    emitf(E, 1, "%s_dec_work w;\n", E->prefix);
    emitf(E, 1, "%s_dec_layout(&w, c->work, B, T, V, Vt);\n", E->prefix);
    if (body_uses(body, "packed"))
        emitf(E, 1, "const int packed = T >= RNNRT_PACK_MIN_T; /* the scans pack their weights */\n");
}

/* Body nodes of g as the training functions emit them. */
static void emit_dec_nodes(Emit *E, const Model *m)
{
    E->m = m;
    E->in_backward = false;
    E->last_line = 0;
    for (int i = 0; i < m->g->n; i++)
        emit_node(E, 1, m->g->nodes[i]);
    E->last_line = 0;
    fputc('\n', E->f);
}

/* Offset of state k of the step's [B, width] blocks, in rows of B. */
static int step_state_offset(const S2sStep *st, int k)
{
    int off = 0;
    for (int j = 0; j < k; j++)
        off += st->state_in[j]->shape.d[1];
    return off;
}

static void emit_s2s_decode(Emit *E, const S2sDecode *d)
{
    const Model *train = E->m;
    const S2sStep *st = d->step;
    name_decode(E, d);
    const char *state0 = scoped_name(E, SCOPE_FIELD, "enc_state0", NULL);
    emit_dec_layout(E, d, state0);
    E->m = d->enc;
    emit_fused_fns(E);
    E->m = st->m;
    emit_fused_fns(E);
    E->m = train;

    emitf(E, 0, "/* Decoding, once per batch of sources: the encoder over c->src (c->src_len\n"
                " * valid steps per row) from zero states. Leaves in c->work what %s_step\n"
                " * reads and writes the decoder's initial states to c->state_out (B*%s\n"
                " * reals, the blocks of %s_step's c->state_in). */\n",
          E->prefix, dim_c(E, step_state_offset(st, st->nstates)), E->prefix);
    emitf(E, 0, "static void %s_encode(RnnrtS2sDecCtx *c)\n{\n", E->prefix);
    FILE *saved = body_begin(E);
    emit_dec_nodes(E, d->enc);
    for (int k = 0; k < st->nstates; k++)
        emitf(E, 1, "memcpy(c->state_out + (size_t)B * %s, %s, %s * sizeof(real));\n", dim_c(E, step_state_offset(st, k)),
              ref(E, st->state_init[k]), numel_size(E, st->state_init[k]->shape));
    const char *body = body_end(E, saved);
    emit_dec_prologue(E, body);
    emitf(E, 1, "memset(w.%s, 0, (size_t)B * %s * sizeof(real));\n", state0, dim_c(E, d->enc->state_size));
    for (int k = 0, off = 0; k < d->enc->nstates; k++) {
        const Node *s = d->enc->state_in[k];
        if (body_uses(body, node_cname(E, s)))
            emitf(E, 1, "const real *%s = w.%s + (size_t)B * %s;\n", node_cname(E, s), state0, dim_c(E, off));
        off += s->shape.d[1];
    }
    fputc('\n', E->f);
    fputs(body, E->f);
    emitf(E, 0, "}\n\n");

    emitf(E, 0, "/* Decoding, one step for B rows after %s_encode on the same c->work:\n"
                " * c->prev [B] the previous tokens (<bos> first), c->state_in the decoder's\n"
                " * states; writes c->state_out and sets c->logits [B][Vt] and c->attention\n"
                " * ([T][B], the weight of source step s for row b; NULL without attention). */\n",
          E->prefix);
    emitf(E, 0, "static void %s_step(RnnrtS2sDecCtx *c)\n{\n", E->prefix);
    saved = body_begin(E);
    emit_dec_nodes(E, st->m);
    for (int k = 0; k < st->nstates; k++)
        emitf(E, 1, "memcpy(c->state_out + (size_t)B * %s, %s, %s * sizeof(real));\n", dim_c(E, step_state_offset(st, k)),
              ref(E, st->state_out[k]), numel_size(E, st->state_out[k]->shape));
    emitf(E, 1, "c->logits = %s;\n", ref(E, st->m->logits));
    emitf(E, 1, "c->attention = %s;\n", st->m->attention ? ref(E, st->m->attention) : "NULL");
    body = body_end(E, saved);
    emit_dec_prologue(E, body);
    for (int k = 0; k < st->nstates; k++)
        if (body_uses(body, node_cname(E, st->state_in[k])))
            emitf(E, 1, "const real *%s = c->state_in + (size_t)B * %s;\n", node_cname(E, st->state_in[k]),
                  dim_c(E, step_state_offset(st, k)));
    fputc('\n', E->f);
    fputs(body, E->f);
    emitf(E, 0, "}\n\n");
    E->m = train;
}

/* seq2seq: the training step's descriptor and main (rnnrt_s2s.h), with the
 * decoding entries (emit_s2s_decode) appended. */
static void emit_s2s_descriptor(Emit *E, const S2sDecode *d)
{
    emit_model_begin(E, "RnnrtS2sModel");
    emitf(E, 1, ".has_attention = %d,\n", E->m->attention != NULL);
    emit_recipe(E, "word", "lower", false);
    emitf(E, 1, ".workspace = %s_workspace,\n", E->prefix);
    emitf(E, 1, ".forward = %s_forward,\n", E->prefix);
    emitf(E, 1, ".backward = %s_backward,\n", E->prefix);
    int sd = 0;
    for (int k = 0; k < d->step->nstates; k++)
        sd += d->step->state_in[k]->shape.d[1];
    emitf(E, 1, ".dec_state_size = %s,\n", dim_c(E, sd));
    emitf(E, 1, ".dec_states = %d,\n", d->step->nstates);
    emitf(E, 1, ".decode_workspace = %s_dec_workspace,\n", E->prefix);
    emitf(E, 1, ".encode = %s_encode,\n", E->prefix);
    emitf(E, 1, ".step = %s_step,\n", E->prefix);
    emit_model_end(E, "rnnrt_s2s_main", false);
}

static void emit_descriptor(Emit *E, const S2sDecode *d)
{
    if (E->s2s) {
        emit_s2s_descriptor(E, d);
        return;
    }
    const Spec *s = E->m->spec;
    static const char *tokens[] = {"char", "word", "whitespace"};
    static const char *norms[] = {"none", "letters", "lower"};
    emit_model_begin(E, "RnnrtModel");
    emitf(E, 1, ".state_blocks = %d,\n", state_blocks(E->m));
    emit_recipe(E, tokens[s->tokens], norms[s->normalize], true);
    if (E->labels) {
        static const char *const tasks[] = {"RNNRT_TASK_LANGUAGE_MODEL", "RNNRT_TASK_LABELLING",
                                            "RNNRT_TASK_CLASSIFICATION"};
        emitf(E, 1, ".task = %s,\n", tasks[s->task]);
        if (s->task == TASK_CLASSIFICATION)
            emitf(E, 1, ".head = %s,\n", s->head == HEAD_MEAN ? "RNNRT_HEAD_MEAN" : "RNNRT_HEAD_LAST");
        emitf(E, 1, ".workspace_l = %s_workspace_l,\n", E->prefix);
    } else {
        emitf(E, 1, ".workspace = %s_workspace,\n", E->prefix); /* generation calls forward */
    }
    emit_model_end(E, "rnnrt_main", true);
}

void emit_c(FILE *f, const Model *m, const S2sDecode *d)
{
    bool labels = m->spec->task == TASK_LABELLING || m->spec->task == TASK_CLASSIFICATION;
    bool s2s = m->spec->task == TASK_SEQ2SEQ;
    Emit E = {.f = f, .m = m, .prefix = m->spec->model, .labels = labels, .s2s = s2s,
              .xdim = labels ? "L" : s2s ? "Vt" : NULL};
    if (!m->stored || (d && (!d->enc->stored || !d->step->m->stored)))
        DIE("emit_c: memplan_storage has not run on every graph");
    name_dims(&E);
    name_graph(&E, m->g, NULL);
    emit_header(&E);
    emit_params(&E);
    emit_layout(&E);
    emit_fused_fns(&E);
    emit_forward(&E);
    emit_backward(&E);
    if (s2s != (d != NULL))
        DIE("emit_c: a seq2seq model needs its decoding graphs, and only it");
    if (d)
        emit_s2s_decode(&E, d);
    E.m = m;
    emit_descriptor(&E, d);
}
