/*
 * util.c: arenas, diagnostics with source lines and carets, DIE(), and
 * "did you mean" suggestions. See util.h for the contracts.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "util.h"

#include <stdlib.h>
#include <string.h>

Arena perm;

/* ---- arena ---- */

struct ArenaBlock {
    ArenaBlock *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

enum { ARENA_BLOCK = 1 << 20 };

static void *xcalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "rnnc: error: out of memory allocating %zu bytes\n", n);
        exit(EXIT_IO);
    }
    return p;
}

void *arena_alloc(Arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    a->used_bytes += size;
#ifdef RNNC_ARENA_MALLOC
    ArenaBlock *b = xcalloc(sizeof *b + size);
    b->next = a->head;
    b->used = b->cap = size;
    a->head = b;
    return b->data;
#else
    ArenaBlock *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = xcalloc(sizeof *b + cap);
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
#endif
}

void *arena_array(Arena *a, size_t n, size_t size)
{
    size_t total;
    if (!size_mul(n, size, &total))
        DIE("arena_array overflow: %zu x %zu", n, size);
    return arena_alloc(a, total);
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(Arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

bool path_relative_to(Arena *a, const char *path, const char *root, const char **rel)
{
    *rel = NULL;
    char *rroot = realpath(root, NULL);
    if (!rroot)
        return false;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *rdir = NULL;
    if (*base && strcmp(base, ".") != 0 && strcmp(base, "..") != 0) {
        const char *dir = slash ? arena_strndup(a, path, slash == path ? 1 : (size_t)(slash - path)) : ".";
        rdir = realpath(dir, NULL);
    }
    if (rdir) {
        size_t n = strcmp(rroot, "/") == 0 ? 0 : strlen(rroot);
        if (strcmp(rdir, rroot) == 0)
            *rel = arena_strdup(a, base);
        else if (strncmp(rdir, rroot, n) == 0 && rdir[n] == '/')
            *rel = arena_printf(a, "%s/%s", rdir + n + 1, base);
    }
    free(rdir);
    free(rroot);
    return true;
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void arena_free_all(Arena *a)
{
    ArenaBlock *b = a->head;
    while (b) {
        ArenaBlock *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used_bytes = 0;
}

void *arena_grow(Arena *a, void *ptr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return ptr;
    int ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = arena_array(a, (size_t)ncap, elem);
    if (ptr)
        memcpy(p, ptr, (size_t)*cap * elem);
    *cap = ncap;
    return p;
}

/* ---- diagnostics ---- */

typedef struct {
    const char *path, *text;
    size_t len;
} Source;

static Source sources[16];
static int nsources;
static int nerrors;
static FILE *dstream;

void diag_register_source(const char *path, const char *text, size_t len)
{
    for (int i = 0; i < nsources; i++)
        if (strcmp(sources[i].path, path) == 0) {
            sources[i].text = text;
            sources[i].len = len;
            return;
        }
    if (nsources < (int)(sizeof sources / sizeof sources[0]))
        sources[nsources++] = (Source){path, text, len};
}

void diag_set_stream(FILE *f) { dstream = f; }
FILE *diag_stream(void) { return dstream ? dstream : stderr; }
int diag_error_count(void) { return nerrors; }

void diag_reset(void)
{
    nerrors = 0;
    nsources = 0;
}

/* Print "   12 | text" and "      |      ^" for loc, if its file is known. */
static void print_source_line(FILE *f, Loc loc)
{
    if (!loc.file || loc.line <= 0)
        return;
    for (int i = 0; i < nsources; i++) {
        if (strcmp(sources[i].path, loc.file) != 0)
            continue;
        const char *p = sources[i].text, *end = p + sources[i].len;
        for (int l = 1; l < loc.line && p < end; p++)
            if (*p == '\n')
                l++;
        if (p >= end && loc.line > 1)
            return;
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r')
            eol++;
        fprintf(f, "%5d | ", loc.line);
        for (const char *q = p; q < eol; q++)
            fputc((*q == '\t' || (unsigned char)*q >= 0x20) ? *q : '?', f);
        fputc('\n', f);
        fprintf(f, "      | ");
        /* columns count bytes; pad one space per character so the caret
         * sits under the right character on lines with UTF-8 */
        for (int c = 1; c < loc.col && p + c - 1 < eol; c++) {
            unsigned char ch = (unsigned char)p[c - 1];
            if ((ch & 0xC0) != 0x80)
                fputc(ch == '\t' ? '\t' : ' ', f);
        }
        fputs("^\n", f);
        return;
    }
}

void diag_verror(const char *kind, Loc loc, const char *fmt, va_list ap)
{
    FILE *f = diag_stream();
    if (loc.file && loc.line > 0)
        fprintf(f, "%s:%d:%d: ", loc.file, loc.line, loc.col > 0 ? loc.col : 1);
    else if (loc.file)
        fprintf(f, "%s: ", loc.file);
    else
        fprintf(f, "rnnc: ");
    fprintf(f, "%s: ", kind);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    print_source_line(f, loc);
    if (strcmp(kind, "error") == 0)
        nerrors++;
}

#define DIAG_FN(fn, kind)                           \
    void fn(Loc loc, const char *fmt, ...)          \
    {                                               \
        va_list ap;                                 \
        va_start(ap, fmt);                          \
        diag_verror(kind, loc, fmt, ap);            \
        va_end(ap);                                 \
    }
DIAG_FN(diag_error, "error")
DIAG_FN(diag_warning, "warning")
DIAG_FN(diag_note, "note")

_Noreturn void die_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rnnc %s: internal error at %s:%d: ", RNNC_VERSION, file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nthis is a bug in rnnc; please report it with the spec.\n");
    va_end(ap);
    exit(EXIT_INTERNAL);
}

/* ---- did you mean ---- */

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and swaps of adjacent letters ("tahn" -> "tanh") each cost 1. */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 64 || lb > 64)
        return 1000;
    int d[65][65];
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *closest_word(const char *word, const char *const *cands, int n)
{
    const char *best = NULL;
    int bestd = 1000, len = (int)strlen(word);
    int limit = len / 3 > 1 ? len / 3 : 1;
    if (limit > 3)
        limit = 3;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= limit ? best : NULL;
}

uint64_t hash_fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* ---- text that goes into emitted C ---- */

const char *c_string(const char *s)
{
    char *out = arena_alloc(&perm, strlen(s) * 4 + 1), *q = out;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\')
            q += sprintf(q, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            q += sprintf(q, "\\%03o", ch);
        else
            *q++ = (char)ch;
    }
    *q = 0;
    return out;
}

const char *c_comment(const char *s)
{
    char *out = arena_strdup(&perm, s);
    for (char *q = out; *q; q++)
        if ((q[0] == '*' && q[1] == '/') || (q[0] == '/' && q[1] == '*'))
            q[0] = ' '; /* cannot close or open a C comment */
        else if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
            *q = '?';
    return out;
}
