/*
 * compile.c: the whole pipeline of `rnnc SPEC -o OUT.c` as one library call
 * on spec text in memory, for the tests and the fuzzer (tests/fuzz/) that
 * run it many times in one process:
 *
 *   spec_parse -> lower -> forward passes -> autodiff -> passes -> emit_c
 *
 * (an n-gram spec is counted: spec_parse -> emit_ngram_c). main.c runs the
 * same stages one by one because -d and --check stop between them.
 *
 * Everything is allocated in `perm`; compile_reset() frees it and forgets
 * the diagnostics' sources and error count, so the next call starts from
 * nothing. No stage keeps state of its own between calls.
 */
#include "passes.h"

int compile_spec_text(FILE *out, const char *path, const char *text, size_t len)
{
    /* the spec and the diagnostics keep the path: the caller's may not last */
    path = arena_strdup(&perm, path);
    Spec *spec = spec_parse(&perm, path, text, len);
    if (!spec)
        return EXIT_SPEC;
    if (spec->task == TASK_NGRAM) {
        emit_ngram_c(out, spec);
        return EXIT_OK;
    }
    Model *m = lower(&perm, spec);
    if (!m)
        return EXIT_SPEC;
    passes_run_forward(m, NULL, NULL);
    autodiff(&perm, m);
    passes_run(m, NULL, NULL);
    emit_c(out, m);
    return EXIT_OK;
}

void compile_reset(void)
{
    arena_free_all(&perm);
    diag_reset();
}
