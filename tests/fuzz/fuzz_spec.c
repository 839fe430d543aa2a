/*
 * fuzz_spec.c: libFuzzer target for the whole compiler. Each input is the
 * text of a spec; it goes through every stage `rnnc SPEC -o OUT.c` runs
 * (compile_spec_text: parse, lower, the decoding graphs of a seq2seq
 * model, forward passes, autodiff, passes, storage, emit) in this process, and compile_reset() frees everything before the
 * next input, so a stage that keeps state between compiles shows up as a
 * use-after-free under ASan.
 *
 * A spec error is a normal outcome (its diagnostics go to /dev/null); a
 * crash, a sanitizer report, a hang or an internal error (DIE() exits 70,
 * which libFuzzer reports as "fuzz target exited") is a bug.
 *
 * Built with -DRNNC_FUZZ=ON by clang (tests/fuzz/fuzz.cmake); README.md,
 * "Fuzzing and sanitizers", says how to run it.
 */
#include "passes.h"

#include <stdint.h>
#include <stdlib.h>

static FILE *sink; /* the emitted C and the diagnostics: discarded */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    sink = fopen("/dev/null", "w");
    if (!sink) {
        perror("fuzz_spec: /dev/null");
        abort();
    }
    diag_set_stream(sink);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    compile_spec_text(sink, "fuzz.yaml", (const char *)data, size);
    compile_reset();
    return 0;
}
