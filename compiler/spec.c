/*
 * spec.c: YAML text -> Spec (spec.h), strictly.
 *
 * It works in two steps.
 *
 * 1. libyaml's event API builds a small tree of YNodes (scalar, list,
 *    mapping) in a scratch arena. Each node has the Loc of its first
 *    character. This step rejects what YAML allows and specs don't need:
 *    aliases and anchors, tags, merge keys, zero or several documents, a top
 *    level that is not a mapping, keys that are not scalars, duplicate keys,
 *    nesting deeper than MAX_DEPTH and scalars longer than MAX_SCALAR. The
 *    loop is iterative, so hostile nesting cannot overflow the C stack, and
 *    it stops at the first problem. libyaml 0.2.5 has no
 *    yaml_set_max_nest_level, so the depth limit is ours; libyaml itself
 *    keeps its stacks on the heap and is not recursive.
 *
 * 2. One function per spec key walks the tree and fills the Spec. Each one is
 *    named after its key and quotes the key's shape. Unknown keys get a "did
 *    you mean" and the list of valid keys. Integers must be plain decimal
 *    digits and floats plain unquoted numbers. Names must be C identifiers.
 *    Equations go to expr_parse (expr.c). This step reports every error it
 *    finds before returning NULL.
 *
 * Columns are byte columns, the unit util.c uses to place the caret. Locs
 * made here and Locs made by expr.c (col + i) therefore agree, even on lines
 * with non-ASCII text. libyaml's marks count characters, so Src turns them
 * into byte offsets. Line breaks other than \n and \r\n are rejected up
 * front, because libyaml would count them as new lines and util.c would not.
 *
 * Defaults when a key is absent (every other key is required):
 *   data.normalize  none          data.split       0.9
 *   data.min_freq   1             data.eos         false
 *   data.max_vocab  0 (no cap)    data.valid, data.test  none
 *   network.output  linear        network.layers   1
 *   network.dropout 0             network.bidirectional  false
 *   network.head    last (classification only)
 *   train.sampler   sequential    train.bptt       truncated (k = steps)
 *   train.clip_norm 0 (off)       train.seed       0
 *   train.lr_schedule constant    train.warmup_steps 0   train.weight_decay 0
 *   cell.params.X.init  default (uniform +-1/sqrt(hidden), see spec.h)
 *
 * `cell: NAME` (or `cell: {use: NAME}`) takes the cell from the standard
 * library, compiler/cells/NAME.yaml, which the build embeds into rnnc
 * (compiler/cells/embed.cmake). The library file is read by this same
 * reader under the name "<rnnc>/cells/NAME.yaml", registered with the
 * diagnostics, so its values carry real Locs into it.
 *
 * Nothing here aborts on user input. Every string the Spec keeps is copied
 * into the caller's arena. The tree and libyaml's buffers are freed before
 * spec_parse returns.
 */
#include "spec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

enum {
    MAX_FILE = 1 << 20,  /* bytes in a spec file */
    MAX_SCALAR = 4096,   /* bytes in one scalar */
    MAX_DEPTH = 64,      /* nested lists and mappings */
    MAX_ENTRIES = 4096,  /* items in one list or mapping */
    MAX_NAME = 64,       /* characters in an identifier */
    MAX_SHOWN = 40,      /* characters of a user string quoted in a message */
    MAX_TAG_SHOWN = 80,  /* the same for a tag (libyaml expands "!!") */
    MAX_LISTED = 16      /* valid words listed in a note */
};

/* Upper bounds for the sizes in a spec. They are far above any model that
 * trains on a CPU and keep later products of sizes well inside size_t. */
#define MAX_HIDDEN 65536
#define MAX_BATCH 65536
#define MAX_STEPS 100000
#define MAX_EPOCHS 1000000
#define MAX_DIM (1 << 20)
#define MAX_LAYERS 64
#define MAX_MIN_FREQ 1000000000

/* ---- positions: libyaml marks and byte offsets -> Loc ---- */

/* The text being parsed, with two cursors that move forward as events come
 * in order (they restart from the top when asked for an earlier place). */
typedef struct {
    const char *path, *text;
    size_t len;
    size_t bom;          /* 3 when the text starts with a UTF-8 BOM */
    size_t ci, cb;       /* character ci starts at byte cb */
    size_t lb, line, ls; /* byte lb is on line `line`, which starts at ls */
} Src;

static size_t utf8_width(unsigned char c)
{
    return c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* The byte offset of libyaml's character index `ci` (the BOM not counted). */
static size_t byte_of_char(Src *s, size_t ci)
{
    if (ci < s->ci || s->cb < s->bom) {
        s->ci = 0;
        s->cb = s->bom;
    }
    while (s->ci < ci && s->cb < s->len) {
        s->cb += utf8_width((unsigned char)s->text[s->cb]);
        s->ci++;
    }
    return s->cb < s->len ? s->cb : s->len;
}

/* The Loc of byte b. A position at the end of the file moves back onto the
 * last line, so the diagnostic can still show a line and a caret. */
static Loc loc_of_byte(Src *s, size_t b)
{
    if (b >= s->len && s->len > 0 && s->text[s->len - 1] == '\n')
        b = s->len - 1;
    if (b > s->len)
        b = s->len;
    if (b < s->bom)
        b = s->bom;
    if (b < s->lb || s->line == 0) {
        s->lb = s->ls = s->bom;
        s->line = 1;
    }
    for (; s->lb < b; s->lb++)
        if (s->text[s->lb] == '\n') {
            s->line++;
            s->ls = s->lb + 1;
        }
    Loc loc = {s->path, (int)s->line, (int)(b - s->ls + 1)};
    return loc;
}

static Loc mark_loc(Src *s, yaml_mark_t m)
{
    return loc_of_byte(s, byte_of_char(s, m.index));
}

/* ---- step 1: YAML events -> a tree of YNodes ---- */

typedef enum { Y_SCALAR, Y_LIST, Y_MAP } YKind;

typedef struct YNode YNode;
struct YNode {
    YKind kind;
    Loc loc;          /* first character (the quote, for quoted scalars) */
    const char *str;  /* Y_SCALAR: the value, NUL-terminated */
    size_t len;
    yaml_scalar_style_t style;
    int end_line;     /* Y_SCALAR: line just after its last character */
    size_t beg;       /* Y_SCALAR: byte offset of its first character */
    YNode **kids;     /* Y_LIST: items; Y_MAP: key, value, key, value, ... */
    int nkids, cap;
};

typedef struct {
    Arena *tmp;
    Src *src;
    YNode *stack[MAX_DEPTH]; /* open lists and mappings */
    int depth;
    YNode *root;
    int ndocs;
} Builder;

static const char *kind_name(YKind k)
{
    return k == Y_MAP ? "a mapping" : k == Y_LIST ? "a list" : "a scalar";
}

/* A user string made safe to quote in a message: printable ASCII (anything
 * else becomes '?', so a spec cannot send escape codes to the terminal),
 * at most `max` characters and "...". */
static const char *sanitize(Arena *tmp, const char *s, size_t max)
{
    size_t n = strlen(s), keep = n > max ? max : n;
    char *out = arena_alloc(tmp, keep + 4);
    for (size_t i = 0; i < keep; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    strcpy(out + keep, n > keep ? "..." : "");
    return out;
}

/* One document whose root is a mapping; a second document is an error. */
static bool on_document_start(Builder *b, const yaml_event_t *ev)
{
    if (++b->ndocs == 1)
        return true;
    diag_error(mark_loc(b->src, ev->start_mark),
               "expected exactly one mapping document, found a second document");
    return false;
}

/* Anchors and tags: specs need neither, and tags are how YAML loaders in
 * other languages get talked into constructing objects. */
static bool check_properties(Builder *b, Loc loc, const yaml_char_t *anchor,
                             const yaml_char_t *tag)
{
    if (anchor) {
        diag_error(loc, "YAML aliases and anchors are not allowed in specs");
        return false;
    }
    if (tag) {
        diag_error(loc, "YAML tags are not allowed in specs (found '%s')",
                   sanitize(b->tmp, (const char *)tag, MAX_TAG_SHOWN));
        return false;
    }
    return true;
}

/* Copy a scalar's value and where it sits in the source. */
static bool fill_scalar(Builder *b, YNode *n, const yaml_event_t *ev)
{
    size_t len = ev->data.scalar.length;
    if (len > MAX_SCALAR) {
        diag_error(n->loc, "scalar is too long (%zu bytes; the limit is %d)",
                   len, MAX_SCALAR);
        return false;
    }
    const char *v = (const char *)ev->data.scalar.value;
    if (memchr(v, 0, len)) {
        diag_error(n->loc, "NUL character in a scalar");
        return false;
    }
    n->str = arena_strndup(b->tmp, v, len);
    n->len = len;
    n->style = ev->data.scalar.style;
    n->beg = byte_of_char(b->src, ev->start_mark.index);
    n->end_line = mark_loc(b->src, ev->end_mark).line;
    return true;
}

/* A key must be a scalar, must not be the merge key, must not repeat. */
static bool check_key(Builder *b, const YNode *map, const YNode *key)
{
    if (key->kind != Y_SCALAR) {
        diag_error(key->loc, "mapping keys must be plain names, found %s",
                   kind_name(key->kind));
        return false;
    }
    if (key->style == YAML_PLAIN_SCALAR_STYLE && strcmp(key->str, "<<") == 0) {
        diag_error(key->loc, "YAML merge keys ('<<') are not allowed in specs");
        return false;
    }
    for (int i = 0; i < map->nkids; i += 2)
        if (strcmp(map->kids[i]->str, key->str) == 0) {
            const char *name = sanitize(b->tmp, key->str, MAX_SHOWN);
            diag_error(key->loc, "duplicate key '%s'", name);
            diag_note(map->kids[i]->loc, "'%s' was first set here", name);
            return false;
        }
    return true;
}

/* Hang a new node under the innermost open list or mapping, or make it the
 * root. */
static bool attach(Builder *b, YNode *n)
{
    if (b->depth == 0) {
        if (n->kind != Y_MAP) {
            diag_error(n->loc, "expected exactly one mapping document, found %s",
                       kind_name(n->kind));
            return false;
        }
        b->root = n;
        return true;
    }
    YNode *parent = b->stack[b->depth - 1];
    int limit = parent->kind == Y_MAP ? 2 * MAX_ENTRIES : MAX_ENTRIES;
    if (parent->nkids == limit) {
        diag_error(n->loc, "too many entries in one %s (the limit is %d)",
                   parent->kind == Y_MAP ? "mapping" : "list", MAX_ENTRIES);
        return false;
    }
    if (parent->kind == Y_MAP && parent->nkids % 2 == 0 && !check_key(b, parent, n))
        return false;
    parent->kids = arena_grow(b->tmp, parent->kids, &parent->cap,
                              parent->nkids + 1, sizeof *parent->kids);
    parent->kids[parent->nkids++] = n;
    return true;
}

/* A scalar, or the start of a list or mapping. */
static bool on_node(Builder *b, const yaml_event_t *ev, YKind kind)
{
    Loc loc = mark_loc(b->src, ev->start_mark);
    const yaml_char_t *anchor, *tag;
    if (kind == Y_SCALAR) {
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
    } else if (kind == Y_LIST) {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    } else {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    }
    if (!check_properties(b, loc, anchor, tag))
        return false;
    YNode *n = arena_alloc(b->tmp, sizeof *n);
    n->kind = kind;
    n->loc = loc;
    if (kind == Y_SCALAR && !fill_scalar(b, n, ev))
        return false;
    if (kind != Y_SCALAR && b->depth == MAX_DEPTH) {
        diag_error(loc, "nesting is too deep (more than %d levels)", MAX_DEPTH);
        return false;
    }
    if (!attach(b, n))
        return false;
    if (kind != Y_SCALAR)
        b->stack[b->depth++] = n;
    return true;
}

static bool on_event(Builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        return on_document_start(b, ev);
    case YAML_ALIAS_EVENT:
        diag_error(mark_loc(b->src, ev->start_mark),
                   "YAML aliases and anchors are not allowed in specs");
        return false;
    case YAML_SCALAR_EVENT:
        return on_node(b, ev, Y_SCALAR);
    case YAML_SEQUENCE_START_EVENT:
        return on_node(b, ev, Y_LIST);
    case YAML_MAPPING_START_EVENT:
        return on_node(b, ev, Y_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        b->depth--;
        return true;
    case YAML_STREAM_END_EVENT:
        if (b->ndocs == 0) {
            diag_error(loc_of_byte(b->src, 0),
                       "expected exactly one mapping document, found none");
            return false;
        }
        return true;
    default:
        return true;
    }
}

/* "while scanning a quoted scalar" -> "a quoted scalar" */
static const char *context_subject(const char *context)
{
    static const char *const prefixes[] = {"while scanning ", "while parsing "};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(context, prefixes[i], n) == 0)
            return context + n;
    }
    return context;
}

/* Where a reader error points: the bad byte, or for a bad continuation byte
 * the start of the character it breaks. */
static size_t reader_error_start(const Src *s, const yaml_parser_t *p)
{
    size_t b = p->problem_offset;
    if (!p->problem || !strstr(p->problem, "trailing") || b > s->len)
        return b;
    const unsigned char *t = (const unsigned char *)s->text;
    while (b > 0 && (t[b - 1] & 0xc0) == 0x80)
        b--;
    return b > 0 && t[b - 1] >= 0xc0 ? b - 1 : p->problem_offset;
}

/* libyaml's own errors: reader errors carry a byte offset, scanner and
 * parser errors a mark (and maybe a context mark, shown as a note). */
static void report_yaml_error(Src *s, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR) {
        Loc loc = {s->path, 0, 0};
        diag_error(loc, "out of memory while reading YAML");
    } else if (p->error == YAML_READER_ERROR) {
        Loc loc = loc_of_byte(s, reader_error_start(s, p));
        if (p->problem_value >= 0)
            diag_error(loc, "%s 0x%02X (specs must be UTF-8 text)", problem,
                       (unsigned)p->problem_value);
        else
            diag_error(loc, "%s (specs must be UTF-8 text)", problem);
    } else if (p->context) {
        Loc loc = mark_loc(s, p->problem_mark);
        Loc cloc = mark_loc(s, p->context_mark);
        diag_error(loc, "%s %s", problem, p->context);
        if (cloc.line != loc.line || cloc.col != loc.col)
            diag_note(cloc, "%s starts here", context_subject(p->context));
    } else {
        diag_error(mark_loc(s, p->problem_mark), "%s", problem);
    }
}

/* Run libyaml over the text and build the tree; NULL after an error. */
static YNode *build_tree(Arena *tmp, Src *src)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        Loc loc = {src->path, 0, 0};
        diag_error(loc, "out of memory while reading YAML");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)src->text, src->len);
    Builder b = {.tmp = tmp, .src = src};
    bool ok = true, done = false;
    while (ok && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            report_yaml_error(src, &parser);
            ok = false;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        ok = on_event(&b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return ok ? b.root : NULL;
}

/* Checks libyaml cannot do for us, on the raw bytes: UTF-16/32 files (libyaml
 * would silently decode UTF-16) and line breaks that libyaml counts as new
 * lines but util.c does not (lone \r, U+0085, U+2028, U+2029). */
static bool check_encoding(Src *s)
{
    const unsigned char *t = (const unsigned char *)s->text;
    size_t n = s->len;
    if (n >= 2 && ((t[0] == 0xff && t[1] == 0xfe) || (t[0] == 0xfe && t[1] == 0xff))) {
        diag_error(loc_of_byte(s, 0),
                   "file starts with a UTF-16 byte order mark; specs must be UTF-8 text");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const char *what = NULL;
        if (t[i] == '\r' && (i + 1 == n || t[i + 1] != '\n'))
            what = "a carriage return without a line feed";
        else if (t[i] == 0xc2 && i + 1 < n && t[i + 1] == 0x85)
            what = "U+0085 (next line)";
        else if (t[i] == 0xe2 && i + 2 < n && t[i + 1] == 0x80 &&
                 (t[i + 2] == 0xa8 || t[i + 2] == 0xa9))
            what = t[i + 2] == 0xa8 ? "U+2028 (line separator)" : "U+2029 (paragraph separator)";
        if (what) {
            diag_error(loc_of_byte(s, i),
                       "unsupported line break: %s; end lines with \\n", what);
            return false;
        }
    }
    return true;
}

/* ---- step 2: the tree -> Spec ---- */

typedef struct {
    Arena *a;   /* the Spec's arena */
    Arena *tmp; /* messages and the tree */
    Src *src;
    const char *path;
} Ctx;

/* One key of a spec and its value, with its dotted name for messages
 * ("network.hidden"). For the top level, key is NULL and name is "". */
typedef struct {
    YNode *key, *val;
    const char *name;
} Field;

static Loc nowhere(Ctx *c)
{
    Loc loc = {c->path, 0, 0};
    return loc;
}

static const char *show(Ctx *c, const char *s)
{
    return sanitize(c->tmp, s, MAX_SHOWN);
}

static bool is_null(const YNode *v)
{
    if (v->kind != Y_SCALAR || v->style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (int i = 0; i < 5; i++)
        if (strcmp(v->str, nulls[i]) == 0)
            return true;
    return false;
}

/* How a value looks, for "must be X, found Y" messages. */
static const char *describe(Ctx *c, const YNode *v)
{
    if (v->kind != Y_SCALAR)
        return kind_name(v->kind);
    if (is_null(v))
        return "null";
    if (v->style == YAML_LITERAL_SCALAR_STYLE || v->style == YAML_FOLDED_SCALAR_STYLE)
        return "a block scalar";
    if (v->style != YAML_PLAIN_SCALAR_STYLE)
        return arena_printf(c->tmp, "the quoted string '%s' (remove the quotes)",
                            show(c, v->str));
    return arena_printf(c->tmp, "'%s'", show(c, v->str));
}

static bool type_error(Ctx *c, Field f, const char *expected)
{
    diag_error(f.val->loc, "'%s' must be %s, found %s", f.name, expected,
               describe(c, f.val));
    return false;
}

static int find_word(const char *w, const char *const *words, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(w, words[i]) == 0)
            return i;
    return -1;
}

/* "a, b, c", listing at most MAX_LISTED words (a hostile spec can declare
 * thousands of states). */
static const char *join_words(Ctx *c, const char *const *words, int n)
{
    int shown = n > MAX_LISTED ? MAX_LISTED : n;
    size_t len = 8;
    for (int i = 0; i < shown; i++)
        len += strlen(words[i]) + 2;
    char *s = arena_alloc(c->tmp, len), *p = s;
    for (int i = 0; i < shown; i++)
        p += sprintf(p, "%s%s", i ? ", " : "", words[i]);
    strcpy(p, shown < n ? ", ..." : "");
    return s;
}

/* "<what>; did you mean 'X'?" and a note listing the valid words, which are
 * `noun` ("keys", "values"). */
static void unknown_word(Ctx *c, Loc loc, const char *what, const char *word,
                         const char *const *words, int n, const char *noun)
{
    const char *guess = closest_word(word, words, n);
    if (guess)
        diag_error(loc, "%s; did you mean '%s'?", what, guess);
    else
        diag_error(loc, "%s", what);
    diag_note(nowhere(c), "valid %s are: %s", noun, join_words(c, words, n));
}

/* Every key of the mapping sec.val must be one of `keys`. */
static bool check_keys(Ctx *c, Field sec, const char *const *keys, int n)
{
    bool ok = true;
    for (int i = 0; i < sec.val->nkids; i += 2) {
        YNode *k = sec.val->kids[i];
        if (find_word(k->str, keys, n) >= 0)
            continue;
        const char *what =
            sec.name[0]
                ? arena_printf(c->tmp, "unknown key '%s' in '%s'", show(c, k->str), sec.name)
                : arena_printf(c->tmp, "unknown key '%s' at the top level", show(c, k->str));
        unknown_word(c, k->loc, what, k->str, keys, n, "keys");
        ok = false;
    }
    return ok;
}

static const char *dotted(Ctx *c, Field sec, const char *key)
{
    return sec.name[0] ? arena_printf(c->tmp, "%s.%s", sec.name, key) : key;
}

/* The field `key` of the mapping sec.val; val is NULL when it is absent. */
static Field field(Ctx *c, Field sec, const char *key)
{
    Field f = {NULL, NULL, dotted(c, sec, key)};
    for (int i = 0; i < sec.val->nkids; i += 2)
        if (strcmp(sec.val->kids[i]->str, key) == 0) {
            f.key = sec.val->kids[i];
            f.val = sec.val->kids[i + 1];
        }
    return f;
}

/* Like field(), for a key without a default: reports it missing at the key
 * of the enclosing mapping. */
static bool require(Ctx *c, Field sec, const char *key, Field *out)
{
    *out = field(c, sec, key);
    if (out->val)
        return true;
    Loc loc = sec.key ? sec.key->loc : sec.val->loc;
    if (sec.name[0])
        diag_error(loc, "missing required key '%s' in '%s'", key, sec.name);
    else
        diag_error(loc, "missing required key '%s' at the top level", key);
    return false;
}

/* The value of f must be a mapping (sections, long forms). */
static bool expect_map(Ctx *c, Field f)
{
    return f.val->kind == Y_MAP || type_error(c, f, "a mapping");
}

/* ---- scalars ---- */

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* An integer in [lo, hi]: plain decimal digits, unquoted, no sign, no
 * leading zeros (YAML 1.1 reads 010 as octal 8, so "010" is ambiguous).
 * A minus sign is read only to say that the value is out of range. */
static bool read_uint(Ctx *c, Field f, uint64_t lo, uint64_t hi, uint64_t *out)
{
    const YNode *v = f.val;
    if (v->kind != Y_SCALAR || v->style != YAML_PLAIN_SCALAR_STYLE || is_null(v))
        return type_error(c, f, "a plain decimal integer");
    const char *d = v->str + (v->str[0] == '-');
    if (!all_digits(d) || (d[0] == '0' && d[1]))
        return type_error(c, f, "a plain decimal integer");
    uint64_t x = 0;
    bool too_big = false;
    for (; *d; d++) {
        unsigned digit = (unsigned)(*d - '0');
        if (x > (UINT64_MAX - digit) / 10)
            too_big = true;
        else
            x = x * 10 + digit;
    }
    if (v->str[0] == '-' || too_big || x < lo || x > hi) {
        diag_error(v->loc, "'%s' must be between %llu and %llu, found %s", f.name,
                   (unsigned long long)lo, (unsigned long long)hi, show(c, v->str));
        return false;
    }
    *out = x;
    return true;
}

static bool read_int(Ctx *c, Field f, int lo, int hi, int *out)
{
    uint64_t x;
    if (!read_uint(c, f, (uint64_t)lo, (uint64_t)hi, &x))
        return false;
    *out = (int)x;
    return true;
}

/* [+-]? (digits ("." digits*)? | "." digits) ([eE] [+-]? digits)? */
static bool is_decimal(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    int mant = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        mant++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            mant++;
    if (mant == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!all_digits(s))
            return false;
        return true;
    }
    return *s == 0;
}

/* A finite number written in plain decimal or exponent notation, unquoted.
 * (strtod reads '.' as the decimal point: rnnc never calls setlocale.) */
static bool read_float(Ctx *c, Field f, double *out)
{
    const YNode *v = f.val;
    if (v->kind != Y_SCALAR || v->style != YAML_PLAIN_SCALAR_STYLE || !is_decimal(v->str))
        return type_error(c, f, "a number");
    errno = 0;
    double x = strtod(v->str, NULL);
    if (!isfinite(x) || (x == 0 && errno == ERANGE)) {
        diag_error(v->loc, "'%s' is out of range: %s", f.name, show(c, v->str));
        return false;
    }
    *out = x == 0 ? 0.0 : x; /* -0 reads as 0, so no "-0" reaches emitted code */
    return true;
}

/* A number between lo and hi; each end is included when its flag says so. */
static bool read_float_in(Ctx *c, Field f, double lo, bool lo_closed, double hi,
                          bool hi_closed, const char *range, double *out)
{
    double x = 0;
    if (!read_float(c, f, &x))
        return false;
    if (x < lo || (x == lo && !lo_closed) || x > hi || (x == hi && !hi_closed)) {
        diag_error(f.val->loc, "'%s' must be %s, found %s", f.name, range,
                   show(c, f.val->str));
        return false;
    }
    *out = x;
    return true;
}

/* One of `words`, written as a string (quoted or not). */
static bool read_enum(Ctx *c, Field f, const char *const *words, int n, int *out)
{
    const YNode *v = f.val;
    if (v->kind != Y_SCALAR || is_null(v))
        return type_error(c, f, arena_printf(c->tmp, "one of: %s", join_words(c, words, n)));
    int i = find_word(v->str, words, n);
    if (i < 0) {
        const char *what = arena_printf(c->tmp, "unknown value '%s' for '%s'",
                                        show(c, v->str), f.name);
        unknown_word(c, v->loc, what, v->str, words, n, "values");
        return false;
    }
    *out = i;
    return true;
}

/* ---- names ---- */

static const char *const c_keywords[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do",
    "double", "else", "enum", "extern", "float", "for", "goto", "if", "inline",
    "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned",
    "void", "volatile", "while", "_Alignas", "_Alignof", "_Atomic", "_Bool",
    "_Complex", "_Generic", "_Imaginary", "_Noreturn", "_Static_assert",
    "_Thread_local",
    /* C23 */
    "alignas", "alignof", "bool", "constexpr", "false", "nullptr",
    "static_assert", "thread_local", "true", "typeof", "typeof_unqual",
};

static bool is_ident_char(char ch, bool first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

/* A name the emitted C can use: [A-Za-z_][A-Za-z0-9_]{0,63}, not a C keyword,
 * not reserved by C (_X..., __...) or by the runtime (rnnrt...). `what`
 * names the thing for the message ("'model'", "parameter name"). */
static bool check_ident(Ctx *c, Loc loc, const char *what, const char *s)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= MAX_NAME;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_ident_char(s[i], i == 0);
    if (!ok) {
        diag_error(loc, "%s must be an identifier (letters, digits and '_', "
                   "not starting with a digit, at most %d characters), found '%s'",
                   what, MAX_NAME, show(c, s));
        return false;
    }
    int nkw = (int)(sizeof c_keywords / sizeof c_keywords[0]);
    if (find_word(s, c_keywords, nkw) >= 0) {
        diag_error(loc, "%s cannot be '%s': it is a C keyword", what, s);
        return false;
    }
    if (s[0] == '_' && (s[1] == '_' || (s[1] >= 'A' && s[1] <= 'Z'))) {
        diag_error(loc, "%s cannot be '%s': names starting with '__' or '_' and "
                   "an uppercase letter are reserved in C", what, s);
        return false;
    }
    if (strncmp(s, "rnnrt", 5) == 0) {
        diag_error(loc, "%s cannot be '%s': names starting with 'rnnrt' belong "
                   "to the runtime", what, s);
        return false;
    }
    return true;
}

/* A field whose value is a name. */
static bool read_ident(Ctx *c, Field f, const char **out, Loc *loc)
{
    const YNode *v = f.val;
    if (v->kind != Y_SCALAR || is_null(v))
        return type_error(c, f, "a name");
    const char *what = arena_printf(c->tmp, "'%s'", f.name);
    if (!check_ident(c, v->loc, what, v->str))
        return false;
    *out = arena_strdup(c->a, v->str);
    *loc = v->loc;
    return true;
}

/* A choice written either as a bare word (`one_hot`) or as a mapping with
 * one key and its argument (`{embed: 32}`). *arg gets the argument's Field,
 * with val NULL for a bare word. The caller checks which words take an
 * argument; `expected` describes the accepted forms. */
static bool read_choice(Ctx *c, Field f, const char *const *words, int n,
                        const char *expected, int *which, Field *arg)
{
    const YNode *v = f.val;
    arg->key = arg->val = NULL;
    arg->name = f.name;
    if (v->kind == Y_SCALAR && !is_null(v))
        return read_enum(c, f, words, n, which);
    if (v->kind != Y_MAP || v->nkids == 0)
        return type_error(c, f, expected);
    if (v->nkids > 2) {
        diag_error(v->kids[2]->loc, "'%s' takes a single key, found a second one ('%s')",
                   f.name, show(c, v->kids[2]->str));
        return false;
    }
    Field key = {v->kids[0], v->kids[0], f.name};
    if (!read_enum(c, key, words, n, which))
        return false;
    arg->key = v->kids[0];
    arg->val = v->kids[1];
    arg->name = arena_printf(c->tmp, "%s.%s", f.name, words[*which]);
    return true;
}

/* The choice `word` needs an argument (want) or must be bare (!want). */
static bool choice_arg(Field f, Field arg, bool want, const char *form)
{
    if (want == (arg.val != NULL))
        return true;
    if (want)
        diag_error(f.val->loc, "'%s' needs an argument: write %s", f.name, form);
    else
        diag_error(f.val->loc, "'%s' takes no argument: write %s", f.name, form);
    return false;
}

/* ---- model: NAME, task: language_model ---- */

/* model: NAME  -- a C identifier; emitted names start with it */
static bool read_model(Ctx *c, Field top, Spec *s)
{
    Field f;
    return require(c, top, "model", &f) && read_ident(c, f, &s->model, &s->model_loc);
}

/* task: language_model | labelling | classification | ngram | seq2seq */
static bool read_task(Ctx *c, Field top, Spec *s)
{
    static const char *const tasks[] = {"language_model", "labelling", "classification", "ngram", "seq2seq"};
    Field f;
    int t;
    if (!require(c, top, "task", &f) || !read_enum(c, f, tasks, 5, &t))
        return false;
    s->task = (Task)t;
    s->task_loc = f.val->loc;
    return true;
}

/* ---- data: {tokens: char | word, normalize: letters | lower | none, split: F} ---- */

/* tokens: char | word | whitespace */
static bool read_data_tokens(Ctx *c, Field data, Spec *s)
{
    static const char *const words[] = {"char", "word", "whitespace"};
    static const TokKind kinds[] = {TOK_CHAR, TOK_WORD, TOK_WHITESPACE};
    Field f;
    int i;
    if (!require(c, data, "tokens", &f) || !read_enum(c, f, words, 3, &i))
        return false;
    s->tokens = kinds[i];
    s->tokens_loc = f.val->loc;
    return true;
}

/* normalize: letters | lower | none   (default none) */
static bool read_data_normalize(Ctx *c, Field data, Spec *s)
{
    static const char *const words[] = {"letters", "lower", "none"};
    static const Normalize kinds[] = {NORM_LETTERS, NORM_LOWER, NORM_NONE};
    Field f = field(c, data, "normalize");
    int i;
    s->normalize = NORM_NONE;
    s->normalize_loc = data.key->loc;
    if (!f.val)
        return true;
    s->normalize_loc = f.val->loc;
    if (!read_enum(c, f, words, 3, &i))
        return false;
    s->normalize = kinds[i];
    return true;
}

/* split: F  -- the training fraction, in (0,1) (default 0.9) */
static bool read_data_split(Ctx *c, Field data, Spec *s)
{
    Field f = field(c, data, "split");
    s->split = 0.9;
    s->split_loc = data.key->loc;
    if (!f.val)
        return true;
    s->split_loc = f.val->loc;
    return read_float_in(c, f, 0, false, 1, false, "between 0 and 1 (exclusive)",
                         &s->split);
}

/* min_freq: N  -- >= 1 (default 1): training tokens seen fewer than N
 * times are left out of the vocabulary and read as <unk> */
static bool read_data_min_freq(Ctx *c, Field data, Spec *s)
{
    Field f = field(c, data, "min_freq");
    s->min_freq = 1;
    s->min_freq_loc = data.key->loc;
    if (!f.val)
        return true;
    s->min_freq_loc = f.val->loc;
    return read_int(c, f, 1, MAX_MIN_FREQ, &s->min_freq);
}

static bool read_bool(Ctx *c, Field f, bool *out);

/* A data key of issue 13 is for language models: the n-gram, task and
 * seq2seq trainers read their data their own way. */
static bool lm_data_key(Ctx *c, Field f, const Spec *s, bool task_known)
{
    (void)c;
    if (!task_known || s->task == TASK_LANGUAGE_MODEL)
        return true;
    diag_error(f.key->loc, "'%s' applies only to task: language_model", f.name);
    diag_note(s->task_loc, "the task is set here");
    return false;
}

/* eos: true | false  (default false): <eos> ends every line; word and
 * whitespace tokens only (characters keep their line ends) */
static bool read_data_eos(Ctx *c, Field data, Spec *s, bool task_known)
{
    Field f = field(c, data, "eos");
    s->eos = false;
    s->eos_loc = data.key->loc;
    if (!f.val)
        return true;
    s->eos_loc = f.val->loc;
    if (!read_bool(c, f, &s->eos) || !lm_data_key(c, f, s, task_known))
        return false;
    if (s->eos && s->tokens == TOK_CHAR) {
        diag_error(f.val->loc, "'data.eos: true' needs word or whitespace tokens: a character "
                               "model reads the line ends as characters");
        diag_note(s->tokens_loc, "the tokens are characters here");
        return false;
    }
    if (s->eos && s->normalize == NORM_LETTERS) {
        diag_error(f.val->loc, "'data.eos: true' cannot be used with normalize: letters, which "
                               "turns the line ends into spaces");
        diag_note(s->normalize_loc, "the normalization is set here");
        return false;
    }
    return true;
}

/* max_vocab: N  -- the vocabulary's size at most, the 4 specials included
 * (default: no cap); the most frequent training tokens are kept, ties in
 * byte order */
static bool read_data_max_vocab(Ctx *c, Field data, Spec *s, bool task_known)
{
    Field f = field(c, data, "max_vocab");
    s->max_vocab = 0;
    s->max_vocab_loc = data.key->loc;
    if (!f.val)
        return true;
    s->max_vocab_loc = f.val->loc;
    const YNode *v = f.val;
    if (!read_int(c, f, 0, MAX_MIN_FREQ, &s->max_vocab) || !lm_data_key(c, f, s, task_known))
        return false;
    if (s->max_vocab >= 5)
        return true;
    diag_error(v->loc, "'data.max_vocab' must be 5 or more, found %d: the vocabulary holds the 4 "
                       "specials <unk> <pad> <bos> <eos> and at least one corpus token",
               s->max_vocab);
    return false;
}

/* valid: PATH, test: PATH  -- files; rnnc checks that they can be read */
static bool read_data_file(Ctx *c, Field data, const char *key, const char *what, Spec *s,
                           bool task_known, const char **out, Loc *loc)
{
    Field f = field(c, data, key);
    *out = NULL;
    *loc = data.key->loc;
    if (!f.val)
        return true;
    const YNode *v = f.val;
    *loc = v->loc;
    if (v->kind != Y_SCALAR || is_null(v) || !v->str[0])
        return type_error(c, f, "a file name");
    if (!lm_data_key(c, f, s, task_known))
        return false;
    FILE *fp = fopen(v->str, "rb");
    int e = errno;
    if (fp)
        fclose(fp);
    struct stat st;
    if (fp && stat(v->str, &st) == 0 && S_ISDIR(st.st_mode)) {
        fp = NULL;
        e = EISDIR;
    }
    if (!fp) {
        diag_error(v->loc, "cannot read the %s file '%s': %s", what, show(c, v->str), strerror(e));
        diag_note(nowhere(c), "a relative path is read from the current directory, rnnc's and "
                              "then the trainer's");
        return false;
    }
    *out = arena_strdup(c->a, v->str);
    return true;
}

static bool read_data(Ctx *c, Field top, Spec *s, bool task_known)
{
    static const char *const keys[] = {"tokens", "normalize", "split", "min_freq",
                                       "eos",    "max_vocab", "valid", "test"};
    Field data;
    if (!require(c, top, "data", &data) || !expect_map(c, data))
        return false;
    s->data_loc = data.key->loc;
    bool ok = check_keys(c, data, keys, 8);
    bool tokens_ok = read_data_tokens(c, data, s);
    ok &= tokens_ok;
    ok &= read_data_normalize(c, data, s);
    ok &= read_data_split(c, data, s);
    ok &= read_data_min_freq(c, data, s);
    if (tokens_ok && s->tokens == TOK_WHITESPACE && task_known &&
        s->task != TASK_LANGUAGE_MODEL) {
        diag_error(s->tokens_loc, "'tokens: whitespace' applies only to task: language_model");
        diag_note(s->task_loc, "the task is set here");
        ok = false;
    }
    if (tokens_ok)
        ok &= read_data_eos(c, data, s, task_known);
    ok &= read_data_max_vocab(c, data, s, task_known);
    ok &= read_data_file(c, data, "valid", "validation", s, task_known, &s->valid, &s->valid_loc);
    ok &= read_data_file(c, data, "test", "test", s, task_known, &s->test, &s->test_loc);
    Field split = field(c, data, "split");
    if (s->valid && split.val) {
        diag_error(split.key->loc, "'data.split' has no use with 'data.valid': the whole corpus "
                                   "trains and the validation file validates");
        diag_note(s->valid_loc, "the validation file is given here");
        ok = false;
    }
    return ok;
}

/* ---- cell: {name, input, state, output, params, equations} ---- */

/* A name declared by the cell (input, state or parameter), to find
 * collisions and to check what equations assign. */
typedef struct {
    const char *name;
    const char *kind; /* "input", "state", "parameter" */
    Loc loc;
} Decl;

typedef struct {
    Decl *decls;
    int n, cap;
} Decls;

static const Decl *find_decl(const Decls *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->decls[i].name, name) == 0)
            return &d->decls[i];
    return NULL;
}

/* Declare a name; a second declaration is an error with a note at the first. */
static bool declare(Ctx *c, Decls *d, const char *name, const char *kind, Loc loc)
{
    const Decl *prev = find_decl(d, name);
    if (prev) {
        if (strcmp(prev->kind, kind) == 0)
            diag_error(loc, "%s '%s' is declared twice", kind, name);
        else
            diag_error(loc, "%s '%s' has the same name as the %s", kind, name, prev->kind);
        diag_note(prev->loc, "the %s '%s' is declared here", prev->kind, name);
        return false;
    }
    d->decls = arena_grow(c->tmp, d->decls, &d->cap, d->n + 1, sizeof *d->decls);
    d->decls[d->n++] = (Decl){name, kind, loc};
    return true;
}

/* state: [NAME, ...]  -- non-empty, unique */
static bool read_cell_state(Ctx *c, Field cell, SpecCell *sc, Decls *decls)
{
    Field f;
    if (!require(c, cell, "state", &f))
        return false;
    const YNode *v = f.val;
    if (v->kind != Y_LIST || v->nkids == 0)
        return type_error(c, f, "a non-empty list of names, like [h]");
    sc->state = arena_array(c->a, (size_t)v->nkids, sizeof *sc->state);
    sc->state_locs = arena_array(c->a, (size_t)v->nkids, sizeof *sc->state_locs);
    bool ok = true;
    for (int i = 0; i < v->nkids; i++) {
        Field item = {NULL, v->kids[i], arena_printf(c->tmp, "%s[%d]", f.name, i)};
        const char *name;
        Loc loc;
        if (!read_ident(c, item, &name, &loc) || !declare(c, decls, name, "state", loc)) {
            ok = false;
            continue;
        }
        sc->state[sc->nstate] = name;
        sc->state_locs[sc->nstate++] = loc;
    }
    return ok;
}

/* output: NAME  -- one of the states */
static bool read_cell_output(Ctx *c, Field cell, SpecCell *sc)
{
    Field f;
    if (!require(c, cell, "output", &f) || !read_ident(c, f, &sc->output, &sc->output_loc))
        return false;
    if (sc->nstate == 0 || find_word(sc->output, sc->state, sc->nstate) >= 0)
        return true;
    const char *what = arena_printf(c->tmp, "'%s' must be one of the states, found '%s'",
                                    f.name, sc->output);
    unknown_word(c, sc->output_loc, what, sc->output, sc->state, sc->nstate, "states");
    return false;
}

/* DIM = positive integer | input | hidden */
static bool read_dim(Ctx *c, Field f, SpecDim *d)
{
    static const char *const syms[] = {"input", "hidden"};
    const YNode *v = f.val;
    d->loc = v->loc;
    if (v->kind == Y_SCALAR && !is_null(v) && !strchr("0123456789+-.", v->str[0])) {
        int i = find_word(v->str, syms, 2);
        if (i >= 0) {
            d->sym = syms[i];
            return true;
        }
        const char *what = arena_printf(c->tmp, "unknown dimension '%s' in '%s'",
                                        show(c, v->str), f.name);
        unknown_word(c, v->loc, what, v->str, syms, 2, "dimension names");
        return false;
    }
    uint64_t x;
    if (!read_uint(c, f, 1, MAX_DIM, &x))
        return false;
    d->value = (long)x;
    return true;
}

/* SHAPE = [DIM] | [DIM, DIM] */
static bool read_shape(Ctx *c, Field f, SpecParam *p)
{
    const YNode *v = f.val;
    if (v->kind != Y_LIST)
        return type_error(c, f, "a shape list like [input, hidden]");
    if (v->nkids < 1 || v->nkids > 2) {
        diag_error(v->loc, "'%s' must have 1 or 2 dimensions, found %d", f.name, v->nkids);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < v->nkids; i++) {
        Field dim = {NULL, v->kids[i], arena_printf(c->tmp, "%s[%d]", f.name, i)};
        ok &= read_dim(c, dim, &p->dims[i]);
    }
    p->ndim = v->nkids;
    return ok;
}

/* init: zeros | {uniform: A} | {normal: S}   (A, S > 0) */
static bool read_param_init(Ctx *c, Field f, SpecParam *p)
{
    static const char *const words[] = {"zeros", "uniform", "normal"};
    static const InitKind kinds[] = {INIT_ZEROS, INIT_UNIFORM, INIT_NORMAL};
    int i;
    Field arg;
    if (!read_choice(c, f, words, 3, "zeros, {uniform: A} or {normal: S}", &i, &arg))
        return false;
    static const char *const forms[] = {"zeros", "{uniform: A}", "{normal: S}"};
    if (!choice_arg(f, arg, kinds[i] != INIT_ZEROS, forms[i]))
        return false;
    p->init = kinds[i];
    p->init_loc = f.val->loc;
    if (kinds[i] == INIT_ZEROS)
        return true;
    return read_float_in(c, arg, 0, false, HUGE_VAL, true, "greater than 0", &p->init_arg);
}

/* NAME: SHAPE | {shape: SHAPE, init: INIT} */
static bool read_param(Ctx *c, Field f, SpecParam *p)
{
    static const char *const keys[] = {"shape", "init"};
    if (f.val->kind == Y_LIST)
        return read_shape(c, f, p);
    if (f.val->kind != Y_MAP)
        return type_error(c, f, "a shape list like [input, hidden] or a mapping "
                                "{shape: [...], init: ...}");
    bool ok = check_keys(c, f, keys, 2);
    Field shape, init = field(c, f, "init");
    ok &= require(c, f, "shape", &shape) && read_shape(c, shape, p);
    if (init.val)
        ok &= read_param_init(c, init, p);
    return ok;
}

/* params: {NAME: SHAPE | {shape: SHAPE, init: INIT}, ...} */
static bool read_cell_params(Ctx *c, Field cell, SpecCell *sc, Decls *decls)
{
    Field f;
    if (!require(c, cell, "params", &f))
        return false;
    if (f.val->kind != Y_MAP)
        return type_error(c, f, "a mapping of parameter names to shapes");
    int n = f.val->nkids / 2;
    sc->params = arena_array(c->a, (size_t)(n ? n : 1), sizeof *sc->params);
    bool ok = true;
    for (int i = 0; i < n; i++) {
        YNode *key = f.val->kids[2 * i];
        SpecParam *p = &sc->params[sc->nparams];
        Field pf = {key, f.val->kids[2 * i + 1], dotted(c, f, show(c, key->str))};
        if (!check_ident(c, key->loc, "parameter name", key->str) ||
            !declare(c, decls, key->str, "parameter", key->loc) || !read_param(c, pf, p)) {
            ok = false;
            continue;
        }
        p->name = arena_strdup(c->a, key->str);
        p->loc = key->loc;
        sc->nparams++;
    }
    return ok;
}

/* An equation's text must map byte for byte onto the source line, so that
 * expr.c's columns (loc.col + i) are right: one line, no block scalar, no
 * escapes. Returns the Loc of the text's first character. */
static bool equation_text_loc(Ctx *c, Field f, Loc *loc)
{
    const YNode *v = f.val;
    if (v->kind != Y_SCALAR)
        return type_error(c, f, "an expression");
    if (v->style == YAML_LITERAL_SCALAR_STYLE || v->style == YAML_FOLDED_SCALAR_STYLE) {
        diag_error(v->loc, "equation '%s' must be a one-line expression, not a block scalar",
                   show(c, f.key->str));
        return false;
    }
    if (v->end_line != v->loc.line) {
        diag_error(v->loc, "equation '%s' must be written on one line", show(c, f.key->str));
        return false;
    }
    size_t quote = v->style == YAML_PLAIN_SCALAR_STYLE ? 0 : 1;
    if (v->beg + quote + v->len > c->src->len ||
        memcmp(c->src->text + v->beg + quote, v->str, v->len) != 0) {
        diag_error(v->loc, "equation '%s' must not contain escape sequences",
                   show(c, f.key->str));
        return false;
    }
    *loc = v->loc;
    loc->col += (int)quote;
    return true;
}

/* NAME: EXPR  -- NAME is a state or a new intermediate value */
static bool read_equation(Ctx *c, Field f, const Decls *decls, SpecEq *eq)
{
    const char *lhs = f.key->str;
    if (!check_ident(c, f.key->loc, "equation name", lhs))
        return false;
    const Decl *d = find_decl(decls, lhs);
    if (d && strcmp(d->kind, "state") != 0) {
        diag_error(f.key->loc, "equation assigns to the %s '%s'", d->kind, lhs);
        diag_note(d->loc, "the %s '%s' is declared here", d->kind, lhs);
        return false;
    }
    Loc loc;
    if (!equation_text_loc(c, f, &loc))
        return false;
    eq->rhs = expr_parse(c->a, f.val->str, loc);
    if (!eq->rhs)
        return false;
    eq->lhs = arena_strdup(c->a, lhs);
    eq->loc = f.key->loc;
    eq->text = arena_strdup(c->a, f.val->str);
    return true;
}

/* equations: {NAME: EXPR, ...}  -- non-empty, run in order */
static bool read_cell_equations(Ctx *c, Field cell, SpecCell *sc, const Decls *decls)
{
    Field f;
    if (!require(c, cell, "equations", &f))
        return false;
    if (f.val->kind != Y_MAP || f.val->nkids == 0)
        return type_error(c, f, "a non-empty mapping of names to expressions");
    int n = f.val->nkids / 2;
    sc->eqs = arena_array(c->a, (size_t)n, sizeof *sc->eqs);
    bool ok = true;
    for (int i = 0; i < n; i++) {
        YNode *key = f.val->kids[2 * i];
        Field ef = {key, f.val->kids[2 * i + 1], dotted(c, f, show(c, key->str))};
        if (read_equation(c, ef, decls, &sc->eqs[sc->neqs]))
            sc->neqs++;
        else
            ok = false;
    }
    return ok;
}

/* Every state needs an equation that gives its next value. */
static bool check_states_assigned(const SpecCell *sc)
{
    bool ok = true;
    for (int i = 0; i < sc->nstate; i++) {
        int j = 0;
        while (j < sc->neqs && strcmp(sc->eqs[j].lhs, sc->state[i]) != 0)
            j++;
        if (j == sc->neqs) {
            diag_error(sc->state_locs[i], "state '%s' has no equation in 'cell.equations'",
                       sc->state[i]);
            ok = false;
        }
    }
    return ok;
}

/* {name, input, state, output, params, equations}: a cell written out,
 * in a spec or in a library file */
static bool read_cell_body(Ctx *c, Field cell, SpecCell *sc)
{
    static const char *const keys[] = {"name", "input", "state", "output", "params",
                                       "equations"};
    Field name, input;
    Decls decls = {0};
    bool ok = check_keys(c, cell, keys, 6);
    ok &= require(c, cell, "name", &name) && read_ident(c, name, &sc->name, &sc->loc);
    bool have_input = require(c, cell, "input", &input) &&
                      read_ident(c, input, &sc->input, &sc->input_loc);
    if (have_input)
        declare(c, &decls, sc->input, "input", sc->input_loc);
    ok &= have_input;
    bool have_state = read_cell_state(c, cell, sc, &decls);
    ok &= have_state;
    ok &= read_cell_output(c, cell, sc);
    ok &= read_cell_params(c, cell, sc, &decls);
    bool have_eqs = read_cell_equations(c, cell, sc, &decls);
    ok &= have_eqs;
    if (have_state && have_eqs)
        ok &= check_states_assigned(sc);
    return ok;
}

/* ---- the standard cell library ---- */

static const SpecLibCell *find_library_cell(const char *name)
{
    for (int i = 0; i < spec_cell_library_n; i++)
        if (strcmp(spec_cell_library[i].name, name) == 0)
            return &spec_cell_library[i];
    return NULL;
}

/* "unknown cell 'gur'; did you mean 'gru'?" and the list of library cells. */
static void unknown_cell(Ctx *c, Field f)
{
    int n = spec_cell_library_n;
    const char **names = arena_array(c->tmp, (size_t)n, sizeof *names);
    for (int i = 0; i < n; i++)
        names[i] = spec_cell_library[i].name;
    const char *what = arena_printf(c->tmp, "unknown cell '%s' in '%s'", show(c, f.val->str),
                                    f.name);
    unknown_word(c, f.val->loc, what, f.val->str, names, n, "library cells");
    diag_note(nowhere(c), "or write the cell out: {name, input, state, output, params, "
                          "equations}");
}

/* Parse compiler/cells/NAME.yaml with the same reader as a spec, under the
 * path "<rnnc>/cells/NAME.yaml", so its Locs and diagnostics point into it. */
static bool read_library_cell(Ctx *c, Field f, Spec *s)
{
    const YNode *v = f.val;
    if (v->kind != Y_SCALAR || is_null(v))
        return type_error(c, f, "the name of a library cell, like gru");
    const SpecLibCell *lib = find_library_cell(v->str);
    if (!lib) {
        unknown_cell(c, f);
        return false;
    }
    const char *path = arena_printf(c->a, "<rnnc>/cells/%s.yaml", lib->name);
    diag_register_source(path, lib->text, lib->len);
    Src src = {.path = path, .text = lib->text, .len = lib->len};
    Ctx lc = *c;
    lc.src = &src;
    lc.path = path;
    YNode *root = check_encoding(&src) ? build_tree(c->tmp, &src) : NULL;
    Field body = {NULL, root, "cell"};
    if (!root || !read_cell_body(&lc, body, &s->cell)) {
        diag_note(v->loc, "in the library cell '%s' used here", lib->name);
        return false;
    }
    s->cell_use = arena_strdup(c->a, lib->name);
    s->cell_use_loc = v->loc;
    return true;
}

/* {use: NAME, init: INIT}: nothing else may sit next to `use`; `init`
 * (zeros, {uniform: A} or {normal: S}, as a parameter's) replaces the
 * initialisation of every parameter of the library cell */
static bool read_cell_use(Ctx *c, Field cell, Spec *s)
{
    bool ok = true;
    for (int i = 0; i < cell.val->nkids; i += 2) {
        const YNode *k = cell.val->kids[i];
        if (strcmp(k->str, "use") == 0 || strcmp(k->str, "init") == 0)
            continue;
        diag_error(k->loc, "'cell.use' selects a library cell and takes no other keys, found '%s' "
                           "(only 'init' may stand next to it)", show(c, k->str));
        diag_note(nowhere(c), "to change a library cell, copy its equations into the spec "
                              "(see compiler/cells/)");
        ok = false;
    }
    SpecParam init = {0};
    Field f = field(c, cell, "init");
    if (f.val)
        ok &= read_param_init(c, f, &init);
    if (!read_library_cell(c, field(c, cell, "use"), s) || !ok)
        return false;
    for (int i = 0; f.val && i < s->cell.nparams; i++) {
        s->cell.params[i].init = init.init;
        s->cell.params[i].init_arg = init.init_arg;
        s->cell.params[i].init_loc = init.init_loc;
    }
    return true;
}

/* cell: NAME | {use: NAME} | {name, input, state, output, params, equations}
 *   NAME is a cell of the standard library: rnn_tanh, rnn_relu, gru, lstm */
static bool read_cell(Ctx *c, Field top, Spec *s)
{
    Field cell;
    if (!require(c, top, "cell", &cell))
        return false;
    s->cell_use = NULL;
    if (cell.val->kind == Y_SCALAR && !is_null(cell.val))
        return read_library_cell(c, cell, s);
    if (cell.val->kind != Y_MAP)
        return type_error(c, cell, "a library cell name (like gru), {use: NAME} or a "
                                   "mapping {name, input, state, output, params, equations}");
    if (field(c, cell, "use").val)
        return read_cell_use(c, cell, s);
    return read_cell_body(c, cell, &s->cell);
}

/* ---- network: {input: one_hot | {embed: N}, hidden: N, output: linear} ---- */

/* input: one_hot | {embed: N} */
static bool read_network_input(Ctx *c, Field net, Spec *s)
{
    static const char *const words[] = {"one_hot", "embed"};
    Field f, arg;
    int i;
    if (!require(c, net, "input", &f) ||
        !read_choice(c, f, words, 2, "one_hot or {embed: N}", &i, &arg))
        return false;
    s->input_loc = f.val->loc;
    if (!choice_arg(f, arg, i == 1, i == 1 ? "{embed: N}" : "one_hot"))
        return false;
    s->input = i == 1 ? INPUT_EMBED : INPUT_ONE_HOT;
    s->embed_dim = 0;
    return i == 0 || read_int(c, arg, 1, MAX_HIDDEN, &s->embed_dim);
}

/* hidden: N */
static bool read_network_hidden(Ctx *c, Field net, Spec *s)
{
    Field f;
    if (!require(c, net, "hidden", &f))
        return false;
    s->hidden_loc = f.val->loc;
    return read_int(c, f, 1, MAX_HIDDEN, &s->hidden);
}

/* output: linear   (default linear) */
static bool read_network_output(Ctx *c, Field net)
{
    static const char *const words[] = {"linear"};
    Field f = field(c, net, "output");
    int i;
    return !f.val || read_enum(c, f, words, 1, &i);
}

/* layers: N  -- stacked cells, 1..64 (default 1) */
static bool read_network_layers(Ctx *c, Field net, Spec *s)
{
    Field f = field(c, net, "layers");
    s->layers = 1;
    s->layers_loc = net.key->loc;
    if (!f.val)
        return true;
    s->layers_loc = f.val->loc;
    return read_int(c, f, 1, MAX_LAYERS, &s->layers);
}

/* dropout: P  -- in [0, 1) (default 0), on the outputs of every layer but
 * the last, in training only */
static bool read_network_dropout(Ctx *c, Field net, Spec *s)
{
    Field f = field(c, net, "dropout");
    s->dropout = 0;
    s->dropout_loc = net.key->loc;
    if (!f.val)
        return true;
    s->dropout_loc = f.val->loc;
    return read_float_in(c, f, 0, true, 1, false, "in [0, 1)", &s->dropout);
}

/* A boolean: the plain words true or false, nothing else (YAML 1.1 would
 * also read yes, on, y, ... and a quoted "true" is a string). */
static bool read_bool(Ctx *c, Field f, bool *out)
{
    const YNode *v = f.val;
    if (v->kind == Y_SCALAR && v->style == YAML_PLAIN_SCALAR_STYLE) {
        if (strcmp(v->str, "true") == 0 || strcmp(v->str, "false") == 0) {
            *out = v->str[0] == 't';
            return true;
        }
    }
    return type_error(c, f, "true or false");
}

/* bidirectional: true | false  (default false). Not with a language
 * model: the reverse scan reads the tokens the model is asked to predict. */
static bool read_network_bidirectional(Ctx *c, Field net, Spec *s, bool task_known)
{
    Field f = field(c, net, "bidirectional");
    s->bidirectional = false;
    s->bidirectional_loc = net.key->loc;
    if (!f.val)
        return true;
    s->bidirectional_loc = f.val->loc;
    if (!read_bool(c, f, &s->bidirectional))
        return false;
    if (!s->bidirectional || !task_known || s->task != TASK_LANGUAGE_MODEL)
        return true;
    diag_error(f.key->loc, "'network.bidirectional: true' cannot be used with task: language_model: the reverse "
                           "direction would read the very tokens the model predicts");
    diag_note(s->task_loc, "the task is language_model here; bidirectional layers are for labelling and "
                           "classification");
    return false;
}

/* head: last | mean  -- classification only (default last): classify from
 * the last state or from the mean of the states over time */
static bool read_network_head(Ctx *c, Field net, Spec *s, bool task_known)
{
    static const char *const words[] = {"last", "mean"};
    static const Head kinds[] = {HEAD_LAST, HEAD_MEAN};
    Field f = field(c, net, "head");
    int i;
    s->head = HEAD_LAST;
    s->head_loc = net.key->loc;
    if (!f.val)
        return true;
    s->head_loc = f.val->loc;
    if (!read_enum(c, f, words, 2, &i))
        return false;
    s->head = kinds[i];
    if (!task_known || s->task == TASK_CLASSIFICATION)
        return true;
    diag_error(f.key->loc, "'network.head' applies only to task: classification");
    diag_note(s->task_loc, "the task is %s here",
              s->task == TASK_LABELLING ? "labelling" : "language_model");
    return false;
}

/* A network key of issue 13 (dropout_embed, dropout_output, tie_weights):
 * a language model over an embedding, as torch's word_language_model. */
static bool lm_embed_key(Field f, const Spec *s, bool task_known, bool input_ok)
{
    if (task_known && s->task != TASK_LANGUAGE_MODEL) {
        diag_error(f.key->loc, "'%s' applies only to task: language_model", f.name);
        diag_note(s->task_loc, "the task is set here");
        return false;
    }
    if (input_ok && s->input != INPUT_EMBED) {
        diag_error(f.key->loc, "'%s' needs 'input: {embed: N}'", f.name);
        diag_note(s->input_loc, "the input is one_hot here");
        return false;
    }
    return true;
}

/* dropout_embed: P, dropout_output: P  -- in [0, 1) (default 0) */
static bool read_network_dropout_at(Ctx *c, Field net, const char *key, Spec *s, bool task_known,
                                    bool input_ok, double *out, Loc *loc)
{
    Field f = field(c, net, key);
    *out = 0;
    *loc = net.key->loc;
    if (!f.val)
        return true;
    *loc = f.val->loc;
    return read_float_in(c, f, 0, true, 1, false, "in [0, 1)", out) &&
           (*out == 0 || lm_embed_key(f, s, task_known, input_ok));
}

/* tie_weights: true | false  (default false): W_out is embed's transpose */
static bool read_network_tie(Ctx *c, Field net, Spec *s, bool task_known, bool input_ok)
{
    Field f = field(c, net, "tie_weights");
    s->tie_weights = false;
    s->tie_weights_loc = net.key->loc;
    if (!f.val)
        return true;
    s->tie_weights_loc = f.val->loc;
    if (!read_bool(c, f, &s->tie_weights))
        return false;
    if (!s->tie_weights || !lm_embed_key(f, s, task_known, input_ok))
        return !s->tie_weights;
    if (!input_ok || s->embed_dim == s->hidden)
        return true;
    diag_error(f.val->loc, "'network.tie_weights: true' needs the embedding as wide as the hidden state: "
                           "embed %d, hidden %d", s->embed_dim, s->hidden);
    diag_note(s->input_loc, "the embedding is %d wide here", s->embed_dim);
    diag_note(s->hidden_loc, "the hidden state is %d wide here", s->hidden);
    return false;
}

static bool read_network(Ctx *c, Field top, Spec *s, bool task_known)
{
    static const char *const keys[] = {"input",   "hidden",        "output", "layers",
                                       "dropout", "bidirectional", "head",   "dropout_embed",
                                       "dropout_output", "tie_weights"};
    Field net;
    if (!require(c, top, "network", &net) || !expect_map(c, net))
        return false;
    s->network_loc = net.key->loc;
    bool ok = check_keys(c, net, keys, 10);
    bool input_ok = read_network_input(c, net, s);
    bool hidden_ok = read_network_hidden(c, net, s);
    ok &= input_ok && hidden_ok;
    ok &= read_network_output(c, net);
    ok &= read_network_layers(c, net, s);
    ok &= read_network_dropout(c, net, s);
    ok &= read_network_bidirectional(c, net, s, task_known);
    ok &= read_network_head(c, net, s, task_known);
    ok &= read_network_dropout_at(c, net, "dropout_embed", s, task_known, input_ok, &s->dropout_embed,
                                  &s->dropout_embed_loc);
    ok &= read_network_dropout_at(c, net, "dropout_output", s, task_known, false, &s->dropout_output,
                                  &s->dropout_output_loc);
    ok &= read_network_tie(c, net, s, task_known, input_ok && hidden_ok);
    return ok;
}

/* ---- train: {batch, steps, sampler, bptt, optimizer, lr, clip_norm, epochs, seed,
 *              lr_schedule, warmup_steps, weight_decay} ---- */

/* A required integer field of train. */
static bool read_train_int(Ctx *c, Field train, const char *key, int hi, int *out,
                           Loc *loc)
{
    Field f;
    if (!require(c, train, key, &f))
        return false;
    *loc = f.val->loc;
    return read_int(c, f, 1, hi, out);
}

/* sampler: sequential | random   (default sequential) */
static bool read_train_sampler(Ctx *c, Field train, Spec *s)
{
    static const char *const words[] = {"sequential", "random"};
    static const Sampler kinds[] = {SAMPLER_SEQUENTIAL, SAMPLER_RANDOM};
    Field f = field(c, train, "sampler");
    int i;
    s->sampler = SAMPLER_SEQUENTIAL;
    s->sampler_loc = train.key->loc;
    if (!f.val)
        return true;
    s->sampler_loc = f.val->loc;
    if (!read_enum(c, f, words, 2, &i))
        return false;
    s->sampler = kinds[i];
    return true;
}

/* bptt: full | truncated | {truncated: K} | {randomized: P}
 *   (default truncated with k = steps; K >= 1; P in (0,1]) */
static bool read_train_bptt(Ctx *c, Field train, Spec *s)
{
    static const char *const words[] = {"full", "truncated", "randomized"};
    static const Bptt kinds[] = {BPTT_FULL, BPTT_TRUNCATED, BPTT_RANDOMIZED};
    Field f = field(c, train, "bptt"), arg;
    int i;
    s->bptt = BPTT_TRUNCATED;
    s->bptt_k = 0;
    s->bptt_loc = train.key->loc;
    if (!f.val)
        return true;
    s->bptt_loc = f.val->loc;
    if (!read_choice(c, f, words, 3,
                     "full, truncated, {truncated: K} or {randomized: P}", &i, &arg))
        return false;
    s->bptt = kinds[i];
    if (kinds[i] == BPTT_FULL)
        return choice_arg(f, arg, false, "full");
    if (kinds[i] == BPTT_RANDOMIZED)
        return choice_arg(f, arg, true, "{randomized: P}") &&
               read_float_in(c, arg, 0, false, 1, true, "in (0, 1]", &s->bptt_p);
    return !arg.val || read_int(c, arg, 1, MAX_STEPS, &s->bptt_k);
}

/* A Field for a key of an optional argument mapping. */
static bool read_optional_float(Ctx *c, Field sec, const char *key, double lo, bool lo_closed,
                                double hi, bool hi_closed, const char *range, double *out)
{
    Field f = field(c, sec, key);
    return !f.val || read_float_in(c, f, lo, lo_closed, hi, hi_closed, range, out);
}

/* {beta1: B1, beta2: B2, eps: E}  -- each optional; B in [0,1), E > 0 */
static bool read_adam_args(Ctx *c, Field arg, Spec *s)
{
    static const char *const keys[] = {"beta1", "beta2", "eps"};
    if (arg.val->kind != Y_MAP)
        return type_error(c, arg, "a mapping {beta1: B1, beta2: B2, eps: E} (each optional)");
    bool ok = check_keys(c, arg, keys, 3);
    ok &= read_optional_float(c, arg, "beta1", 0, true, 1, false, "in [0, 1)", &s->beta1);
    ok &= read_optional_float(c, arg, "beta2", 0, true, 1, false, "in [0, 1)", &s->beta2);
    ok &= read_optional_float(c, arg, "eps", 0, false, HUGE_VAL, true, "greater than 0",
                              &s->eps);
    return ok;
}

/* optimizer: sgd | momentum | {momentum: M} | adam | {adam: {beta1, beta2, eps}}
 *   PyTorch's update rules and defaults: momentum M = 0.9, in (0, 1);
 *   Adam beta1 0.9, beta2 0.999, eps 1e-8 */
static bool read_train_optimizer(Ctx *c, Field train, Spec *s)
{
    static const char *const words[] = {"sgd", "momentum", "adam"};
    static const Optim kinds[] = {OPT_SGD, OPT_MOMENTUM, OPT_ADAM};
    Field f, arg;
    int i;
    s->momentum = s->beta1 = s->beta2 = s->eps = 0;
    if (!require(c, train, "optimizer", &f))
        return false;
    s->optimizer_loc = f.val->loc;
    if (!read_choice(c, f, words, 3,
                     "sgd, momentum, {momentum: M}, adam or {adam: {beta1, beta2, eps}}", &i,
                     &arg))
        return false;
    s->optimizer = kinds[i];
    if (kinds[i] == OPT_SGD)
        return choice_arg(f, arg, false, "sgd");
    if (kinds[i] == OPT_MOMENTUM) {
        s->momentum = 0.9;
        return !arg.val || read_float_in(c, arg, 0, false, 1, false, "in (0, 1)", &s->momentum);
    }
    s->beta1 = 0.9;
    s->beta2 = 0.999;
    s->eps = 1e-8;
    return !arg.val || read_adam_args(c, arg, s);
}

/* lr: F  -- > 0 */
static bool read_train_lr(Ctx *c, Field train, Spec *s)
{
    Field f;
    if (!require(c, train, "lr", &f))
        return false;
    s->lr_loc = f.val->loc;
    return read_float_in(c, f, 0, false, HUGE_VAL, true, "greater than 0", &s->lr);
}

/* clip_norm: F  -- >= 0, 0 = off (default 0) */
static bool read_train_clip_norm(Ctx *c, Field train, Spec *s)
{
    Field f = field(c, train, "clip_norm");
    s->clip_norm = 0;
    s->clip_loc = train.key->loc;
    if (!f.val)
        return true;
    s->clip_loc = f.val->loc;
    return read_float_in(c, f, 0, true, HUGE_VAL, true, "0 (off) or greater",
                         &s->clip_norm);
}

/* An optional integer key of an argument mapping. */
static bool read_optional_int(Ctx *c, Field sec, const char *key, int lo, int hi, int *out)
{
    Field f = field(c, sec, key);
    return !f.val || read_int(c, f, lo, hi, out);
}

/* The argument mapping of a schedule: the keys it takes, each optional. */
static bool read_sched_args(Ctx *c, Field arg, LrSchedule kind, Spec *s)
{
    static const char *const step_keys[] = {"every", "factor"};
    static const char *const plateau_keys[] = {"factor", "patience", "threshold", "min_lr"};
    static const char *const cosine_keys[] = {"min_lr"};
    static const char *const forms[] = {"", "{every: N, factor: F}",
                                        "{factor: F, patience: N, threshold: T, min_lr: M}",
                                        "{min_lr: M}"};
    if (arg.val->kind != Y_MAP)
        return type_error(c, arg, arena_printf(c->tmp, "a mapping %s (each optional)", forms[kind]));
    bool ok = kind == SCHED_STEP      ? check_keys(c, arg, step_keys, 2)
              : kind == SCHED_PLATEAU ? check_keys(c, arg, plateau_keys, 4)
                                      : check_keys(c, arg, cosine_keys, 1);
    ok &= read_optional_int(c, arg, "every", 1, MAX_EPOCHS, &s->lr_step);
    ok &= read_optional_float(c, arg, "factor", 0, false, 1, false, "in (0, 1)", &s->lr_factor);
    ok &= read_optional_int(c, arg, "patience", 1, MAX_EPOCHS, &s->lr_patience);
    ok &= read_optional_float(c, arg, "threshold", 0, false, 1, false, "in (0, 1)",
                              &s->lr_threshold);
    ok &= read_optional_float(c, arg, "min_lr", 0, true, HUGE_VAL, true, "0 or greater",
                              &s->lr_min);
    return ok;
}

/* lr_schedule: constant | step | {step: {every, factor}} | plateau
 *            | {plateau: {factor, patience, threshold, min_lr}} | cosine | {cosine: {min_lr}}
 *   (default constant); PyTorch's StepLR, ReduceLROnPlateau (mode min,
 *   relative threshold) and CosineAnnealingLR over the epochs */
static bool read_train_lr_schedule(Ctx *c, Field train, Spec *s)
{
    static const char *const words[] = {"constant", "step", "plateau", "cosine"};
    Field f = field(c, train, "lr_schedule"), arg;
    int i;
    s->lr_schedule = SCHED_CONSTANT;
    s->lr_schedule_loc = train.key->loc;
    s->lr_step = s->lr_patience = 0;
    s->lr_factor = s->lr_threshold = s->lr_min = 0;
    if (!f.val)
        return true;
    s->lr_schedule_loc = f.val->loc;
    if (!read_choice(c, f, words, 4,
                     "constant, step, {step: {every, factor}}, plateau, {plateau: {factor, "
                     "patience, threshold, min_lr}}, cosine or {cosine: {min_lr}}",
                     &i, &arg))
        return false;
    s->lr_schedule = (LrSchedule)i;
    if (i == SCHED_CONSTANT)
        return choice_arg(f, arg, false, "constant");
    return !arg.val || read_sched_args(c, arg, (LrSchedule)i, s);
}

/* warmup_steps: N  -- >= 0 (default 0): step s uses lr * min(1, (s+1)/N)
 * weight_decay: F  -- >= 0 (default 0): L2 for sgd and momentum, AdamW's
 *                     decoupled decay for adam */
static bool read_train_warmup_decay(Ctx *c, Field train, Spec *s)
{
    Field w = field(c, train, "warmup_steps"), d = field(c, train, "weight_decay");
    s->warmup_steps = 0;
    s->weight_decay = 0;
    bool ok = !w.val || read_int(c, w, 0, INT32_MAX, &s->warmup_steps);
    return ok & (!d.val || read_float_in(c, d, 0, true, HUGE_VAL, true, "0 (none) or greater",
                                         &s->weight_decay));
}

/* seed: N  -- 0 .. 2^64-1 (default 0) */
static bool read_train_seed(Ctx *c, Field train, Spec *s)
{
    Field f = field(c, train, "seed");
    s->seed = 0;
    return !f.val || read_uint(c, f, 0, UINT64_MAX, &s->seed);
}

static bool read_train(Ctx *c, Field top, Spec *s)
{
    static const char *const keys[] = {"batch", "steps", "sampler", "bptt", "optimizer",
                                       "lr", "clip_norm", "epochs", "seed", "lr_schedule",
                                       "warmup_steps", "weight_decay"};
    Field train;
    if (!require(c, top, "train", &train) || !expect_map(c, train))
        return false;
    s->train_loc = train.key->loc;
    bool ok = check_keys(c, train, keys, 12);
    ok &= read_train_int(c, train, "batch", MAX_BATCH, &s->batch, &s->batch_loc);
    ok &= read_train_int(c, train, "steps", MAX_STEPS, &s->steps, &s->steps_loc);
    ok &= read_train_int(c, train, "epochs", MAX_EPOCHS, &s->epochs, &s->epochs_loc);
    ok &= read_train_sampler(c, train, s);
    ok &= read_train_bptt(c, train, s);
    ok &= read_train_optimizer(c, train, s);
    ok &= read_train_lr(c, train, s);
    ok &= read_train_clip_norm(c, train, s);
    ok &= read_train_seed(c, train, s);
    ok &= read_train_lr_schedule(c, train, s);
    ok &= read_train_warmup_decay(c, train, s);
    return ok;
}

/* ---- task: seq2seq: decoder and attention (issue #4) ---- */

/* decoder: {context: NAME, cell: {name, input, state, output, params, equations}}
 * The cell is written out (it reads the context, which library cells do
 * not); the context must not collide with the cell's own names. */
static bool read_decoder(Ctx *c, Field top, Spec *s)
{
    static const char *const keys[] = {"context", "cell"};
    Field dec, ctx, cell;
    if (!require(c, top, "decoder", &dec) || !expect_map(c, dec))
        return false;
    s->decoder_loc = dec.key->loc;
    bool ok = check_keys(c, dec, keys, 2);
    ok &= require(c, dec, "context", &ctx) && read_ident(c, ctx, &s->dec_context, &s->dec_context_loc);
    if (!require(c, dec, "cell", &cell))
        return false;
    if (cell.val->kind != Y_MAP)
        return type_error(c, cell, "a cell written out: {name, input, state, output, params, equations}");
    if (!read_cell_body(c, cell, &s->dec_cell) || !ok)
        return false;
    const SpecCell *sc = &s->dec_cell;
    bool clash = strcmp(sc->input, s->dec_context) == 0;
    for (int i = 0; i < sc->nstate; i++)
        clash |= strcmp(sc->state[i], s->dec_context) == 0;
    for (int i = 0; i < sc->nparams; i++)
        clash |= strcmp(sc->params[i].name, s->dec_context) == 0;
    if (clash) {
        diag_error(s->dec_context_loc, "the context '%s' has the same name as an input, state or parameter of "
                   "'decoder.cell'", s->dec_context);
        return false;
    }
    return true;
}

/* attention: {query: NAME, keys: NAME, params: {...} (optional), score: EXPR} */
static bool read_attention(Ctx *c, Field top, Spec *s)
{
    static const char *const keys[] = {"query", "keys", "params", "score"};
    SpecAttention *at = &s->attn;
    Field sec = field(c, top, "attention"), q, k, score;
    s->has_attention = sec.val != NULL;
    if (!sec.val)
        return true;
    if (!expect_map(c, sec))
        return false;
    at->loc = sec.key->loc;
    Decls decls = {0};
    bool ok = check_keys(c, sec, keys, 4);
    if (require(c, sec, "query", &q) && read_ident(c, q, &at->query, &at->query_loc))
        ok &= declare(c, &decls, at->query, "query", at->query_loc);
    else
        ok = false;
    if (require(c, sec, "keys", &k) && read_ident(c, k, &at->keys, &at->keys_loc)) {
        if (at->query && strcmp(at->query, at->keys) == 0) {
            diag_error(at->keys_loc, "'attention.keys' and 'attention.query' must have different names");
            diag_note(at->query_loc, "the query '%s' is declared here", at->query);
            ok = false;
        } else {
            ok &= declare(c, &decls, at->keys, "keys", at->keys_loc);
        }
    } else {
        ok = false;
    }
    if (field(c, sec, "params").val) {
        SpecCell tmp = {0};
        ok &= read_cell_params(c, sec, &tmp, &decls);
        at->params = tmp.params;
        at->nparams = tmp.nparams;
    }
    if (require(c, sec, "score", &score))
        ok &= read_equation(c, score, &decls, &at->score);
    else
        ok = false;
    return ok;
}

/* decoder and attention belong to task: seq2seq only. */
static bool reject_s2s_sections(Ctx *c, Field top, const Spec *s)
{
    static const char *const keys[] = {"decoder", "attention"};
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        Field f = field(c, top, keys[i]);
        if (!f.key)
            continue;
        diag_error(f.key->loc, "'%s' is only for 'task: seq2seq'", keys[i]);
        diag_note(s->task_loc, "the task is set here");
        ok = false;
    }
    return ok;
}

/* The top level: {model, task, data, cell, network, train} */
/* ---- ngram: {order: N, smoothing: S, k: F, discount: auto | F} ---- */

static bool read_ngram_discount(Ctx *c, Field sec, SpecNgram *g)
{
    Field f = field(c, sec, "discount");
    g->discount = -1;
    g->discount_loc = sec.key->loc;
    if (!f.val)
        return true;
    g->discount_loc = f.val->loc;
    if (f.val->kind == Y_SCALAR && f.val->style == YAML_PLAIN_SCALAR_STYLE && strcmp(f.val->str, "auto") == 0)
        return true;
    if (f.val->kind == Y_SCALAR && f.val->style == YAML_PLAIN_SCALAR_STYLE && !is_decimal(f.val->str))
        return type_error(c, f, "'auto' or a number in [0, 1)");
    return read_float_in(c, f, 0, true, 1, false, "in [0, 1) (or auto)", &g->discount);
}

static bool read_ngram(Ctx *c, Field top, Spec *s)
{
    static const char *const keys[] = {"order", "smoothing", "k", "discount"};
    static const char *const smoothings[] = {"mle", "add_k", "backoff", "kneser_ney", "modified_kneser_ney"};
    SpecNgram *g = &s->ngram;
    Field sec, f;
    if (!require(c, top, "ngram", &sec) || !expect_map(c, sec))
        return false;
    g->loc = sec.key->loc;
    bool ok = check_keys(c, sec, keys, 4);
    if (require(c, sec, "order", &f)) {
        g->order_loc = f.val->loc;
        ok &= read_int(c, f, 1, 8, &g->order);
    } else
        ok = false;
    int sm = 0;
    if (require(c, sec, "smoothing", &f)) {
        g->smoothing_loc = f.val->loc;
        ok &= read_enum(c, f, smoothings, 5, &sm);
        g->smoothing = (Smoothing)sm;
    } else
        ok = false;
    f = field(c, sec, "k");
    g->k = 1;
    g->k_loc = sec.key->loc;
    if (f.val) {
        g->k_loc = f.val->loc;
        ok &= read_float_in(c, f, 0, false, 1e6, true, "in (0, 1e6]", &g->k);
    }
    ok &= read_ngram_discount(c, sec, g);
    return ok;
}

/* An n-gram spec is counted: a cell, network or train section would be
 * silently ignored, so they are errors. */
static bool reject_neural_sections(Ctx *c, Field top)
{
    static const char *const neural[] = {"cell", "network", "train"};
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        Field f = field(c, top, neural[i]);
        if (f.key) {
            diag_error(f.key->loc, "'%s' has no meaning for 'task: ngram' (an n-gram model is counted, not trained); "
                       "remove it", neural[i]);
            ok = false;
        }
    }
    return ok;
}

static bool read_spec(Ctx *c, YNode *root, Spec *s)
{
    static const char *const keys[] = {"model",   "task",  "data",  "cell",     "network",
                                       "train",   "ngram", "decoder", "attention"};
    Field top = {NULL, root, ""};
    bool ok = check_keys(c, top, keys, 9);
    ok &= read_model(c, top, s);
    bool task_known = read_task(c, top, s);
    ok &= task_known;
    if (task_known && s->task == TASK_NGRAM) {
        ok &= read_data(c, top, s, task_known);
        ok &= reject_neural_sections(c, top);
        ok &= reject_s2s_sections(c, top, s);
        ok &= read_ngram(c, top, s);
        return ok;
    }
    Field ng = field(c, top, "ngram");
    if (ng.key) {
        diag_error(ng.key->loc, "'ngram' is only for 'task: ngram'");
        if (task_known)
            diag_note(s->task_loc, "the task is set here");
        ok = false;
    }
    ok &= read_data(c, top, s, task_known);
    ok &= read_cell(c, top, s);
    ok &= read_network(c, top, s, task_known);
    ok &= read_train(c, top, s);
    if (task_known && s->task == TASK_SEQ2SEQ) {
        ok &= read_decoder(c, top, s);
        ok &= read_attention(c, top, s);
    } else if (task_known) {
        ok &= reject_s2s_sections(c, top, s);
    }
    return ok;
}

/* ---- entry points ---- */

const char *spec_line_text(const Spec *s, const char *file, int line)
{
    size_t len = 0;
    const char *text = spec_source_text(s, file ? file : s->path, &len);
    if (!text || line <= 0)
        return "";
    const char *p = text, *end = text + len;
    for (int l = 1; l < line && p < end; p++)
        if (*p == '\n')
            l++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *e = p;
    while (e < end && *e != '\n' && *e != '\r')
        e++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return c_comment(arena_strndup(&perm, p, (size_t)(e - p)));
}

const char *spec_source_text(const Spec *s, const char *file, size_t *len)
{
    if (!file || strcmp(file, s->path) == 0) {
        *len = s->text_len;
        return s->text;
    }
    static const char prefix[] = "<rnnc>/cells/";
    size_t n = strlen(file), np = sizeof prefix - 1;
    if (!s->cell_use || n < np + 5 || strncmp(file, prefix, np) != 0 ||
        strcmp(file + n - 5, ".yaml") != 0)
        return NULL;
    for (int i = 0; i < spec_cell_library_n; i++) {
        const SpecLibCell *c = &spec_cell_library[i];
        if (strlen(c->name) == n - np - 5 && strncmp(file + np, c->name, n - np - 5) == 0) {
            *len = c->len;
            return c->text;
        }
    }
    return NULL;
}

bool spec_set_root(Arena *a, Spec *s, const char *root)
{
    const char *rel;
    if (!path_relative_to(a, s->path, root ? root : ".", &rel))
        return false;
    s->name = rel ? rel : s->path;
    return true;
}

const char *spec_file_name(const Spec *s, const char *file)
{
    return !file || strcmp(file, s->path) == 0 ? s->name : file;
}

Spec *spec_parse(Arena *a, const char *path, const char *text, size_t len)
{
    char *copy = arena_strndup(a, text, len);
    diag_register_source(path, copy, len);
    Src src = {.path = path, .text = copy, .len = len};
    if (len >= 3 && memcmp(copy, "\xef\xbb\xbf", 3) == 0)
        src.bom = 3;
    if (len > MAX_FILE) {
        Loc loc = {path, 0, 0};
        diag_error(loc, "spec is too large (%zu bytes; the limit is %d)", len, MAX_FILE);
        return NULL;
    }
    if (!check_encoding(&src))
        return NULL;

    Arena tmp = {0};
    Ctx c = {a, &tmp, &src, path};
    Spec *s = arena_alloc(a, sizeof *s);
    s->path = path;
    s->name = path;
    s->text = copy;
    s->text_len = len;
    s->hash = hash_fnv1a(copy, len);
    YNode *root = build_tree(&tmp, &src);
    bool ok = root && read_spec(&c, root, s);
    arena_free_all(&tmp);
    return ok ? s : NULL;
}

/* Read the whole file, refusing more than MAX_FILE bytes. Returns a malloc'd
 * buffer, or NULL with *exit_code set after reporting the problem. */
static char *read_file(const char *path, size_t *len, int *exit_code)
{
    Loc loc = {path, 0, 0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(loc, "cannot read spec: %s", strerror(errno));
        *exit_code = EXIT_IO;
        return NULL;
    }
    char *buf = malloc(MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        diag_error(loc, "out of memory reading spec");
        *exit_code = EXIT_IO;
        return NULL;
    }
    *len = fread(buf, 1, MAX_FILE + 1, f);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        diag_error(loc, "cannot read spec: %s", strerror(err));
        *exit_code = EXIT_IO;
    } else if (*len > MAX_FILE) {
        diag_error(loc, "spec is too large (more than %d bytes)", MAX_FILE);
        *exit_code = EXIT_SPEC;
    } else {
        return buf;
    }
    free(buf);
    return NULL;
}

Spec *spec_load(Arena *a, const char *path, int *exit_code)
{
    size_t len = 0;
    char *buf = read_file(path, &len, exit_code);
    if (!buf)
        return NULL;
    Spec *s = spec_parse(a, path, buf, len);
    free(buf);
    *exit_code = s ? EXIT_OK : EXIT_SPEC;
    return s;
}
