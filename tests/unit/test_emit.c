/*
 * test_emit.c: the emitter is re-entrant (issue 17, item 6). One process
 * compiles several specs, the same spec again, and the first spec after
 * others, through every stage rnnc runs (compile_spec_text), and each
 * output must be byte-identical to what a fresh `rnnc specs/X.yaml` writes:
 * the checked-in generated/X.c (the golden tests hold the two equal).
 *
 * Between compiles compile_reset() frees the arena: an emitter that kept
 * file-level state pointing into it (node names, buffers, packed weights,
 * the model) wrote into freed memory on the next call, which crashed, or
 * which ASan reports. The second group compiles without the reset, so
 * state that survives a call cannot leak into the next output either.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* The file at RNNC_SOURCE_DIR/rel, malloc'd, NUL-terminated. */
static char *read_source(const char *rel, size_t *len)
{
    const char *dir = getenv("RNNC_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : ".", rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (set RNNC_SOURCE_DIR to the source tree)", path);
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (cap - n < 65536)
            buf = realloc(buf, cap = cap * 2 + 65536);
        assert_non_null(buf);
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Compile specs/<name>.yaml in this process and compare the C with
 * generated/<name>.c. */
static void check_compile(const char *name, bool reset)
{
    char spec_rel[256], gen_rel[256];
    snprintf(spec_rel, sizeof spec_rel, "specs/%s.yaml", name);
    snprintf(gen_rel, sizeof gen_rel, "generated/%s.c", name);
    size_t spec_len, want_len, got_len = 0;
    char *spec = read_source(spec_rel, &spec_len), *want = read_source(gen_rel, &want_len), *got = NULL;
    FILE *out = open_memstream(&got, &got_len);
    assert_non_null(out);
    /* the path as rnnc is given it, so the header and comments match */
    int code = compile_spec_text(out, spec_rel, spec, spec_len);
    fclose(out);
    assert_int_equal(code, EXIT_OK);
    if (got_len != want_len || memcmp(got, want, want_len) != 0) {
        size_t i = 0;
        while (i < got_len && i < want_len && got[i] == want[i])
            i++;
        fail_msg("%s: %zu bytes, generated/%s.c has %zu; first difference at byte %zu", spec_rel, got_len, name,
                 want_len, i);
    }
    free(spec);
    free(want);
    free(got);
    if (reset)
        compile_reset();
}

static void test_emit_c_same_spec_twice_after_reset(void **state)
{
    (void)state;
    check_compile("gru", true);
    check_compile("gru", true);
}

static void test_emit_c_other_specs_between_after_reset(void **state)
{
    (void)state;
    /* language model, seq2seq (its decoding entries switch models), a
     * counted n-gram, a labelling head; then the first ones again */
    const char *order[] = {"lstm", "seq2seq", "ngram", "tagger", "rnn", "lstm", "seq2seq", "classifier"};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        check_compile(order[i], true);
}

static void test_emit_c_without_reset(void **state)
{
    (void)state;
    const char *order[] = {"seq2seq_dot", "gru", "seq2seq_dot", "gru"};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        check_compile(order[i], false);
    compile_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emit_c_same_spec_twice_after_reset),
        cmocka_unit_test(test_emit_c_other_specs_between_after_reset),
        cmocka_unit_test(test_emit_c_without_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
