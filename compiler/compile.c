/*
 * compile.c: the stages every compile runs, shared by the driver (main.c)
 * and by the whole pipeline of `rnnc SPEC -o OUT.c` as one library call on
 * spec text in memory, for the tests and the fuzzer (tests/fuzz/) that run
 * it many times in one process:
 *
 *   spec_parse -> lower -> every graph (graphs) -> forward passes
 *              -> autodiff -> passes -> storage (memplan_storage) -> emit_c
 *
 * (an n-gram spec is counted: spec_parse -> emit_ngram_c). main.c runs the
 * same stages one by one, through the same helpers, because -d and --check
 * stop between them.
 *
 * Everything is allocated in `perm`; compile_reset() frees it and forgets
 * the diagnostics' sources and error count, so the next call starts from
 * nothing. No stage keeps state of its own between calls.
 */
#include "passes.h"

Graphs graphs(Model *m, const S2sDecode *d)
{
    Graphs G = {.m = {m}, .n = 1};
    if (d) {
        const char *name = m->spec->model;
        G.role[1] = arena_printf(&perm, "decoding graph: %s_encode (the encoder, once per batch of sources)", name);
        G.m[1] = d->enc;
        G.role[2] = arena_printf(&perm, "decoding graph: %s_step (one decoder step)", name);
        G.m[2] = d->step->m;
        G.n = 3;
    }
    return G;
}

bool graphs_passes_forward(const Graphs *G, const PassChoice *c, const char *stop_after)
{
    bool stop = false;
    for (int i = 0; i < G->n; i++)
        stop |= passes_run_forward(G->m[i], c, stop_after);
    return stop;
}

bool graphs_passes(const Graphs *G, const PassChoice *c, const char *stop_after)
{
    bool stop = false;
    for (int i = 0; i < G->n; i++)
        stop |= passes_run(G->m[i], c, stop_after);
    return stop;
}

void graphs_storage(const Graphs *G)
{
    for (int i = 0; i < G->n; i++)
        memplan_storage(G->m[i]);
}

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
    S2sDecode *d = spec->task == TASK_SEQ2SEQ ? s2s_decode(&perm, m) : NULL;
    Graphs G = graphs(m, d);
    graphs_passes_forward(&G, NULL, NULL);
    autodiff(&perm, m);
    graphs_passes(&G, NULL, NULL);
    graphs_storage(&G);
    emit_c(out, m, d);
    return EXIT_OK;
}

void compile_reset(void)
{
    arena_free_all(&perm);
    diag_reset();
}
