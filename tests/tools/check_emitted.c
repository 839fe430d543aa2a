/*
 * check_emitted.c: structural checks on one rnnc-generated C file, with
 * libclang.
 *
 *   check_emitted [--model NAME] FILE.c [CLANG_ARG...]
 *
 * Parses FILE.c as C11 (plus CLANG_ARGs, e.g. -I runtime) and asserts what
 * DESIGN.md promises about emitted code:
 *
 *   1. it parses with no diagnostic of severity warning or worse;
 *   2. it defines a variable <model>_model of type RnnrtModel (found by type;
 *      --model NAME pins the name) and defines functions <model>_forward and
 *      <model>_backward. Exception: a counting model (an n-gram spec), whose
 *      file calls rnnrt_ngram_main instead, has no descriptor to check;
 *   3. the training step allocates nothing: no function whose name ends in
 *      _forward, _backward or _step, nor any function defined in the same
 *      file that it reaches through calls, calls or takes the address of
 *      malloc, calloc, realloc, free, aligned_alloc, posix_memalign, strdup
 *      (or their relatives strndup, reallocarray, memalign, valloc, pvalloc);
 *   4. there is no mutable global state: every variable with static storage
 *      defined in the file (at file scope, or `static` inside a function) is
 *      const all the way down (arrays of const; for pointers, `T *const`).
 *
 * Each violation is printed as `file:line:col: error: ...`; a summary line
 * follows. Exit status: 0 all checks pass, 1 some check failed, 2 usage,
 * 3 the file could not be parsed at all.
 *
 * Only the main file is checked: declarations from headers (rnnrt.h, libc)
 * are not the emitter's output.
 */
#include <clang-c/Index.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const banned_calls[] = {
    "malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign",
    "strdup", "strndup", "reallocarray", "memalign", "valloc", "pvalloc",
};

static const char *const step_suffixes[] = {"_forward", "_backward", "_step"};

/* A use of a function inside a function body: a call or an address-of. */
typedef struct {
    char *callee;
    char *where; /* "file:line:col" */
} Ref;

typedef struct {
    char *name;
    char *where;
    Ref *refs;
    int nrefs, caprefs;
    int reached_from; /* index of the function it was reached from, -1 = root */
    int seen;
} Func;

typedef struct {
    char *name;
    char *where;
} Model;

typedef struct {
    Func *funcs;
    int nfuncs, capfuncs;
    Model *models;
    int nmodels, capmodels;
    char **vars; /* USRs of the file-scope variables seen */
    int nvars, capvars;
    int nproblems;
    int nalloc, nglobals, ndiags, nmissing;
} Checker;

/* ---- small helpers ---- */

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "check_emitted: out of memory\n");
        exit(3);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

/* Take ownership of a CXString as a plain heap string. */
static char *take(CXString s)
{
    char *r = xstrdup(clang_getCString(s) ? clang_getCString(s) : "");
    clang_disposeString(s);
    return r;
}

static char *where(CXCursor c)
{
    CXFile file;
    unsigned line, col;
    clang_getExpansionLocation(clang_getCursorLocation(c), &file, &line, &col, NULL);
    char *name = take(clang_getFileName(file));
    size_t n = strlen(name) + 32;
    char *r = xrealloc(NULL, n);
    snprintf(r, n, "%s:%u:%u", name, line, col);
    free(name);
    return r;
}

static int in_main_file(CXCursor c)
{
    return clang_Location_isFromMainFile(clang_getCursorLocation(c));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

static void problem(Checker *ck, int *counter, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s: error: ", where);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    ck->nproblems++;
    (*counter)++;
}

static int is_banned(const char *name)
{
    for (size_t i = 0; i < sizeof banned_calls / sizeof banned_calls[0]; i++)
        if (strcmp(name, banned_calls[i]) == 0)
            return 1;
    return 0;
}

static int is_step_function(const char *name)
{
    for (size_t i = 0; i < sizeof step_suffixes / sizeof step_suffixes[0]; i++)
        if (ends_with(name, step_suffixes[i]))
            return 1;
    return 0;
}

static int find_func(const Checker *ck, const char *name)
{
    for (int i = 0; i < ck->nfuncs; i++)
        if (strcmp(ck->funcs[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- types ---- */

/* A variable is immutable when its object is const: the canonical type, or
 * for arrays the element type (at any depth), is const-qualified. */
static int is_const_object(CXType t)
{
    t = clang_getCanonicalType(t);
    for (;;) {
        if (clang_isConstQualifiedType(t))
            return 1;
        enum CXTypeKind k = t.kind;
        if (k != CXType_ConstantArray && k != CXType_IncompleteArray &&
            k != CXType_VariableArray && k != CXType_DependentSizedArray)
            return 0;
        t = clang_getCanonicalType(clang_getArrayElementType(t));
    }
}

static int is_model_type(CXType t)
{
    CXCursor decl = clang_getTypeDeclaration(clang_getCanonicalType(t));
    char *name = take(clang_getCursorSpelling(decl));
    /* RnnrtS2sModel: a seq2seq model's training step (rnnrt_s2s.h) */
    int ok = strcmp(name, "RnnrtModel") == 0 || strcmp(name, "RnnrtS2sModel") == 0;
    free(name);
    if (!ok) { /* anonymous struct behind the typedef: go by the spelling */
        char *sp = take(clang_getTypeSpelling(t));
        ok = ends_with(sp, " RnnrtModel") || strcmp(sp, "RnnrtModel") == 0 || ends_with(sp, " RnnrtS2sModel") ||
             strcmp(sp, "RnnrtS2sModel") == 0;
        free(sp);
    }
    return ok;
}

static void check_static_var(Checker *ck, CXCursor c, const char *scope)
{
    if (is_const_object(clang_getCursorType(c)))
        return;
    char *name = take(clang_getCursorSpelling(c));
    char *type = take(clang_getTypeSpelling(clang_getCursorType(c)));
    char *w = where(c);
    problem(ck, &ck->nglobals, w,
            "mutable %s variable '%s' of type '%s': emitted code keeps no global "
            "state (make it const; for pointers 'T *const')",
            scope, name, type);
    free(name);
    free(type);
    free(w);
}

/* ---- the walk ---- */

typedef struct {
    Checker *ck;
    int func; /* index into ck->funcs */
} BodyCtx;

static enum CXChildVisitResult visit_body(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    BodyCtx *b = data;
    Checker *ck = b->ck;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_DeclRefExpr) {
        CXCursor ref = clang_getCursorReferenced(c);
        if (clang_getCursorKind(ref) == CXCursor_FunctionDecl) {
            Func *f = &ck->funcs[b->func];
            if (f->nrefs == f->caprefs) {
                f->caprefs = f->caprefs ? 2 * f->caprefs : 16;
                f->refs = xrealloc(f->refs, (size_t)f->caprefs * sizeof *f->refs);
            }
            f->refs[f->nrefs].callee = take(clang_getCursorSpelling(ref));
            f->refs[f->nrefs].where = where(c);
            f->nrefs++;
        }
    } else if (k == CXCursor_VarDecl) {
        enum CX_StorageClass sc = clang_Cursor_getStorageClass(c);
        if (sc == CX_SC_Static || clang_getCursorTLSKind(c) != CXTLS_None)
            check_static_var(ck, c, "function-static");
    }
    return CXChildVisit_Recurse;
}

static void add_function(Checker *ck, CXCursor c)
{
    char *name = take(clang_getCursorSpelling(c));
    if (find_func(ck, name) >= 0) { /* cannot happen in valid C */
        free(name);
        return;
    }
    if (ck->nfuncs == ck->capfuncs) {
        ck->capfuncs = ck->capfuncs ? 2 * ck->capfuncs : 32;
        ck->funcs = xrealloc(ck->funcs, (size_t)ck->capfuncs * sizeof *ck->funcs);
    }
    Func *f = &ck->funcs[ck->nfuncs];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->where = where(c);
    f->reached_from = -1;
    BodyCtx b = {ck, ck->nfuncs};
    ck->nfuncs++;
    clang_visitChildren(c, visit_body, &b);
}

static void add_model(Checker *ck, CXCursor c)
{
    if (ck->nmodels == ck->capmodels) {
        ck->capmodels = ck->capmodels ? 2 * ck->capmodels : 4;
        ck->models = xrealloc(ck->models, (size_t)ck->capmodels * sizeof *ck->models);
    }
    ck->models[ck->nmodels].name = take(clang_getCursorSpelling(c));
    ck->models[ck->nmodels].where = where(c);
    ck->nmodels++;
}

/* A variable may be declared tentatively, then defined: check it once. */
static int seen_var(Checker *ck, CXCursor c)
{
    char *usr = take(clang_getCursorUSR(c));
    for (int i = 0; i < ck->nvars; i++)
        if (strcmp(ck->vars[i], usr) == 0) {
            free(usr);
            return 1;
        }
    if (ck->nvars == ck->capvars) {
        ck->capvars = ck->capvars ? 2 * ck->capvars : 32;
        ck->vars = xrealloc(ck->vars, (size_t)ck->capvars * sizeof *ck->vars);
    }
    ck->vars[ck->nvars++] = usr;
    return 0;
}

static enum CXChildVisitResult visit_top(CXCursor c, CXCursor parent, CXClientData data)
{
    (void)parent;
    Checker *ck = data;
    if (!in_main_file(c))
        return CXChildVisit_Continue;
    switch (clang_getCursorKind(c)) {
    case CXCursor_FunctionDecl:
        if (clang_isCursorDefinition(c))
            add_function(ck, c);
        break;
    case CXCursor_VarDecl:
        /* Definitions, including tentative ones (`static int n;`), which
         * libclang does not call definitions; `extern T x;` is neither. */
        if (clang_Cursor_getStorageClass(c) == CX_SC_Extern && !clang_isCursorDefinition(c))
            break;
        if (!seen_var(ck, c)) {
            check_static_var(ck, c, "file-scope");
            if (is_model_type(clang_getCursorType(c)))
                add_model(ck, c);
        }
        break;
    default:
        break;
    }
    return CXChildVisit_Continue;
}

/* ---- checks after the walk ---- */

static int report_diagnostics(Checker *ck, CXTranslationUnit tu)
{
    unsigned n = clang_getNumDiagnostics(tu);
    int errors = 0;
    for (unsigned i = 0; i < n; i++) {
        CXDiagnostic d = clang_getDiagnostic(tu, i);
        enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(d);
        if (sev >= CXDiagnostic_Warning) {
            char *text = take(clang_formatDiagnostic(d, clang_defaultDiagnosticDisplayOptions()));
            printf("%s\n", text);
            free(text);
            ck->ndiags++;
            ck->nproblems++;
            errors += sev >= CXDiagnostic_Error;
        }
        clang_disposeDiagnostic(d);
    }
    return errors;
}

static void require_function(Checker *ck, const char *model_where, const char *name)
{
    if (find_func(ck, name) >= 0)
        return;
    problem(ck, &ck->nmissing, model_where,
            "the descriptor is here, but no function '%s' is defined in this file", name);
}

/* Does any function in the file use `name` (call it or take its address)? */
static int file_uses(const Checker *ck, const char *name)
{
    for (int i = 0; i < ck->nfuncs; i++)
        for (int r = 0; r < ck->funcs[i].nrefs; r++)
            if (strcmp(ck->funcs[i].refs[r].callee, name) == 0)
                return 1;
    return 0;
}

static void check_models(Checker *ck, const char *file, const char *want)
{
    int found = 0;
    /* A counting model (task: ngram) has no RnnrtModel, forward or backward:
     * its file fills an RnnrtNgramSpec and hands it to rnnrt_ngram_main. */
    if (ck->nmodels == 0 && !want && file_uses(ck, "rnnrt_ngram_main")) {
        printf("check_emitted: counting model (calls rnnrt_ngram_main): no RnnrtModel, "
               "forward or backward required\n");
        return;
    }
    for (int i = 0; i < ck->nmodels; i++) {
        const char *var = ck->models[i].name;
        if (!ends_with(var, "_model")) {
            problem(ck, &ck->nmissing, ck->models[i].where,
                    "RnnrtModel variable '%s' is not named <model>_model", var);
            continue;
        }
        size_t n = strlen(var) - strlen("_model");
        if (want && (strlen(want) != n || strncmp(var, want, n) != 0))
            continue;
        found++;
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s_forward", (int)n, var);
        require_function(ck, ck->models[i].where, buf);
        snprintf(buf, sizeof buf, "%.*s_backward", (int)n, var);
        require_function(ck, ck->models[i].where, buf);
        printf("check_emitted: model '%.*s': descriptor %s at %s\n", (int)n, var, var,
               ck->models[i].where);
    }
    if (!found) {
        char w[1024];
        snprintf(w, sizeof w, "%s:1:1", file);
        if (want)
            problem(ck, &ck->nmissing, w, "no definition of '%s_model' of type RnnrtModel", want);
        else
            problem(ck, &ck->nmissing, w, "no definition of a <model>_model variable of type RnnrtModel");
    }
}

/* Print "root -> a -> b" for function i, following reached_from. */
static void print_chain(const Checker *ck, int i)
{
    if (ck->funcs[i].reached_from >= 0) {
        print_chain(ck, ck->funcs[i].reached_from);
        printf(" -> ");
    }
    printf("%s", ck->funcs[i].name);
}

/* Breadth-first from every step function over calls to functions defined in
 * this file; flag allocator uses in everything reached. */
static int check_allocations(Checker *ck)
{
    int *queue = xrealloc(NULL, (size_t)(ck->nfuncs + 1) * sizeof *queue);
    int head = 0, tail = 0, nroots = 0;
    for (int i = 0; i < ck->nfuncs; i++)
        if (is_step_function(ck->funcs[i].name)) {
            ck->funcs[i].seen = 1;
            queue[tail++] = i;
            nroots++;
        }
    while (head < tail) {
        Func *f = &ck->funcs[queue[head++]];
        for (int r = 0; r < f->nrefs; r++) {
            const char *callee = f->refs[r].callee;
            if (is_banned(callee)) {
                printf("%s: error: '%s' in %s, which the training step reaches (", f->refs[r].where,
                       callee, f->name);
                print_chain(ck, (int)(f - ck->funcs));
                printf("): step functions must not allocate; use the workspace\n");
                ck->nproblems++;
                ck->nalloc++;
                continue;
            }
            int j = find_func(ck, callee);
            if (j >= 0 && !ck->funcs[j].seen) {
                ck->funcs[j].seen = 1;
                ck->funcs[j].reached_from = (int)(f - ck->funcs);
                queue[tail++] = j;
            }
        }
    }
    free(queue);
    printf("check_emitted: %d step function(s) (*_forward, *_backward, *_step), "
           "%d function(s) checked with what they call\n", nroots, tail);
    return tail;
}

static void checker_free(Checker *ck)
{
    for (int i = 0; i < ck->nfuncs; i++) {
        for (int r = 0; r < ck->funcs[i].nrefs; r++) {
            free(ck->funcs[i].refs[r].callee);
            free(ck->funcs[i].refs[r].where);
        }
        free(ck->funcs[i].refs);
        free(ck->funcs[i].name);
        free(ck->funcs[i].where);
    }
    for (int i = 0; i < ck->nmodels; i++) {
        free(ck->models[i].name);
        free(ck->models[i].where);
    }
    for (int i = 0; i < ck->nvars; i++)
        free(ck->vars[i]);
    free(ck->funcs);
    free(ck->models);
    free(ck->vars);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: check_emitted [--model NAME] FILE.c [CLANG_ARG...]\n"
               "Checks an rnnc-generated C file with libclang (see the comment at the top of\n"
               "tests/tools/check_emitted.c). Exit 0 pass, 1 fail, 2 usage, 3 parse failure.\n");
}

int main(int argc, char **argv)
{
    const char *model = NULL, *file = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            model = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "check_emitted: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            file = argv[i++];
            break;
        }
    }
    if (!file) {
        usage(stderr);
        return 2;
    }

    /* -std=c11 first; the caller's arguments (-I runtime, -D...) follow. */
    int nargs = 1 + (argc - i);
    const char **args = xrealloc(NULL, (size_t)nargs * sizeof *args);
    args[0] = "-std=c11";
    for (int j = i; j < argc; j++)
        args[1 + j - i] = argv[j];

    CXIndex index = clang_createIndex(0, 0);
    CXTranslationUnit tu = NULL;
    enum CXErrorCode err = clang_parseTranslationUnit2(index, file, args, nargs, NULL, 0,
                                                       CXTranslationUnit_None, &tu);
    if (err != CXError_Success || !tu) {
        fprintf(stderr, "check_emitted: error: libclang could not parse '%s' (error %d)\n", file,
                (int)err);
        clang_disposeIndex(index);
        free(args);
        return 3;
    }

    Checker ck;
    memset(&ck, 0, sizeof ck);
    int parse_errors = report_diagnostics(&ck, tu);
    clang_visitChildren(clang_getTranslationUnitCursor(tu), visit_top, &ck);
    if (parse_errors)
        printf("check_emitted: %d parse error(s): the checks below may be incomplete\n",
               parse_errors);
    check_models(&ck, file, model);
    check_allocations(&ck);

    if (ck.nproblems == 0)
        printf("check_emitted: PASS %s: no warnings, entry points present, no allocation "
               "in the step, no mutable globals\n", file);
    else
        printf("check_emitted: FAIL %s: %d problem(s): %d diagnostic(s), %d missing "
               "definition(s), %d allocation(s) in the step, %d mutable global(s)\n",
               file, ck.nproblems, ck.ndiags, ck.nmissing, ck.nalloc, ck.nglobals);

    int status = ck.nproblems == 0 ? 0 : 1;
    checker_free(&ck);
    clang_disposeTranslationUnit(tu);
    clang_disposeIndex(index);
    free(args);
    return status;
}
