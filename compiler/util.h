/*
 * util.h: the small things every stage of rnnc shares.
 *
 *  - Loc: where a value came from in a spec (1-based line and column).
 *    Every spec value, expression and graph node carries one; nodes made by
 *    autodiff or by passes inherit the Loc of the node they came from.
 *  - Arena: bump allocation. The compiler never frees single objects; the
 *    `perm` arena lives for the whole run. Build with -DRNNC_ARENA_MALLOC to
 *    give every allocation its own malloc so ASan can see overruns.
 *  - diag_*: user-facing diagnostics in the C-compiler format
 *      file:line:col: error: message
 *         12 |   n: relu6(x @ W_xh + b_h)
 *            |      ^
 *    followed by optional note: lines. Diagnostics never abort; callers check
 *    diag_error_count() at stage boundaries.
 *  - DIE(): internal compiler errors only (exit 70), never for user mistakes.
 */
#ifndef RNNC_UTIL_H
#define RNNC_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* rnnc's version is librnnrt's, RNNRT_VERSION in runtime/rnnrt_api.h:
 * CMakeLists.txt reads it there and passes it as RNNC_VERSION. */
#ifndef RNNC_VERSION
#error "RNNC_VERSION is defined by CMakeLists.txt, from runtime/rnnrt_api.h"
#endif

/* Exit codes, as in shared/RELIABILITY.md. */
enum {
    EXIT_OK = 0,
    EXIT_SPEC = 1,     /* spec or data error */
    EXIT_USAGE = 2,    /* bad command line */
    EXIT_IO = 3,       /* I/O or resource error */
    EXIT_DIVERGED = 4, /* numerical divergence */
    EXIT_INTERNAL = 70 /* internal compiler error (EX_SOFTWARE) */
};

typedef struct {
    const char *file; /* path as given on the command line; NULL = no file */
    int line;         /* 1-based; 0 = unknown */
    int col;          /* 1-based; 0 = unknown */
} Loc;

static inline Loc loc_none(void) { Loc l = {NULL, 0, 0}; return l; }

/* ---- arena ---- */
typedef struct ArenaBlock ArenaBlock;
typedef struct {
    ArenaBlock *head;
    size_t used_bytes; /* total bytes handed out, for -d stats */
} Arena;

extern Arena perm; /* lives for the whole run */

void *arena_alloc(Arena *a, size_t size);           /* zeroed, 16-aligned */
void *arena_array(Arena *a, size_t n, size_t size); /* checked n*size, zeroed */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void arena_free_all(Arena *a);

/* *rel = path relative to the directory root (both resolved by realpath;
 * the file's own name is kept, so a symlinked spec is named by its link),
 * in a, when the file is inside root; NULL when it is outside or its
 * directory cannot be resolved. false (errno set) when root cannot be. */
bool path_relative_to(Arena *a, const char *path, const char *root, const char **rel);

/* Grow a dynamic array allocated in an arena: doubles capacity. */
void *arena_grow(Arena *a, void *ptr, int *cap, int need, size_t elem);

/* ---- diagnostics ---- */

/* Register the text of a file so diagnostics can print its lines. The text
 * must stay alive for the whole run (copy it into perm first). */
void diag_register_source(const char *path, const char *text, size_t len);

/* Where diagnostics go (stderr by default; tests redirect to a memstream). */
void diag_set_stream(FILE *f);
FILE *diag_stream(void);

void diag_error(Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diag_warning(Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diag_note(Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diag_verror(const char *kind, Loc loc, const char *fmt, va_list ap);
int diag_error_count(void);
void diag_reset(void); /* for tests: forget the count and the sources */

/* Internal compiler error: prints file:line of the compiler source and
 * exits with EXIT_INTERNAL. */
#define DIE(...) die_at(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void die_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "did you mean" helper: the candidate closest to `word` by edit distance,
 * or NULL if none is close enough (distance <= max(1, len/3)). */
const char *closest_word(const char *word, const char *const *cands, int n);

/* Checked size arithmetic: returns false on overflow. */
static inline bool size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* FNV-1a 64-bit hash, used for the spec hash in emitted code. */
uint64_t hash_fnv1a(const void *data, size_t len);

/* Text from a spec (a path, a name, a line) in emitted C, in the arena:
 * as the inside of a string literal (quotes, backslashes and other bytes
 * escaped), or in a comment (no comment opener or closer, no control
 * bytes). */
const char *c_string(const char *s);
const char *c_comment(const char *s);

#endif
