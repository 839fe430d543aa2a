/*
 * main.c: the rnnc driver. Runs the stages in order and nothing else:
 *
 *   spec_load -> lower -> forward passes -> autodiff -> passes (passes.c) -> emit_c
 *
 * --check keeps the oracle the plain graph: no pass runs before its
 * autodiff.
 *
 * Output is written to a temporary file next to the target and renamed into
 * place only when every stage succeeded, so a failed compile never leaves a
 * partial or stale file at the output path.
 *
 * --test-bidirectional (not in --help; for tests only) lowers the spec as
 * if it said `network.bidirectional: true`. Spec checks refuse that for a
 * language model, yet the bidirectional stack is also worth checking on
 * the language-model specs (GRU and LSTM, stacked, with dropout) against
 * the interpreter and PyTorch: tests/bidirectional.cmake and
 * tests/torch/compare_bidirectional.py do that with this flag (the
 * labelling and classification specs say `bidirectional: true` and need
 * none). The spec hash stays the spec file's.
 */
#include "passes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rnnc SPEC.yaml [-o OUT.c] [-O0] [--pass PASS] [--no-pass PASS] [-d STAGE]\n"
            "\n"
            "Compiles an RNN spec into C that links against librnnrt.\n"
            "\n"
            "  -o OUT.c     write the C here (default: stdout)\n"
            "  -O0          skip the optimization passes (emit the graph autodiff made)\n"
            "  --pass PASS  also run an optional pass (off by default: gemmfuse)\n"
            "  --no-pass PASS  skip that optimization pass (repeatable; for measuring it)\n"
            "  -d STAGE     dump the graph after STAGE (lower | autodiff, or a pass:\n"
            "               %s) to stdout instead of emitting C\n"
            "  --check DUMP run the reference interpreter (double) on the parameters\n"
            "               and inputs in DUMP (written by a trainer's `dump` command)\n"
            "               and compare every output and gradient with it\n"
            "  --version    print the version\n"
            "  -h, --help   this help\n",
            pass_names());
}

/* The C of a model, or of a counted n-gram spec (m == NULL). */
static void emit_any(FILE *f, const Spec *spec, const Model *m)
{
    if (m)
        emit_c(f, m);
    else
        emit_ngram_c(f, spec);
}

/* Write the C to path atomically: tmp file, fsync, rename. */
static int write_output(const Spec *spec, const Model *m, const char *path)
{
    if (!path) {
        emit_any(stdout, spec, m);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_IO;
    }
    char *tmp = arena_printf(&perm, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "rnnc: error: cannot write '%s': %s\n", tmp, strerror(errno));
        return EXIT_IO;
    }
    emit_any(f, spec, m);
    int bad = ferror(f) | fflush(f) | fsync(fileno(f));
    bad |= fclose(f);
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "rnnc: error: cannot write '%s': %s\n", path, strerror(errno));
        remove(tmp);
        return EXIT_IO;
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    const char *spec_path = NULL, *out = NULL, *dump = NULL, *check = NULL;
    bool optimize = true, force_bidirectional = false;
    PassChoice choice = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(a, "-d") == 0 && i + 1 < argc)
            dump = argv[++i];
        else if (strcmp(a, "-O0") == 0)
            optimize = false;
        else if (strcmp(a, "-O") == 0 || strcmp(a, "-O1") == 0)
            optimize = true;
        else if ((strcmp(a, "--no-pass") == 0 || strcmp(a, "--pass") == 0) && i + 1 < argc) {
            if (!pass_known(argv[++i]) || strcmp(argv[i], "dce") == 0) {
                fprintf(stderr, "rnnc: error: unknown pass '%s' for %s (%s)\n", argv[i], a, pass_names());
                return EXIT_USAGE;
            }
            if (strcmp(a, "--pass") == 0)
                pass_enable(&choice, argv[i]);
            else
                pass_skip(&choice, argv[i]);
        } else if (strcmp(a, "--check") == 0 && i + 1 < argc)
            check = argv[++i];
        else if (strcmp(a, "--test-bidirectional") == 0)
            force_bidirectional = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("rnnc %s\n", RNNC_VERSION);
            return EXIT_OK;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "rnnc: error: unknown option '%s'\n", a);
            usage(stderr);
            return EXIT_USAGE;
        } else if (!spec_path)
            spec_path = a;
        else {
            fprintf(stderr, "rnnc: error: more than one spec given ('%s', '%s')\n", spec_path, a);
            return EXIT_USAGE;
        }
    }
    if (!spec_path) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (dump && strcmp(dump, "lower") != 0 && strcmp(dump, "autodiff") != 0 && !pass_known(dump)) {
        fprintf(stderr, "rnnc: error: unknown stage '%s' for -d (lower | autodiff | %s)\n", dump, pass_names());
        return EXIT_USAGE;
    }

    int code = EXIT_SPEC;
    Spec *spec = spec_load(&perm, spec_path, &code);
    if (!spec)
        return code;
    if (spec->task == TASK_NGRAM) {
        if (dump || check) {
            fprintf(stderr, "rnnc: error: %s: 'task: ngram' is counted and has no graph for %s\n", spec_path,
                    dump ? "-d" : "--check");
            return EXIT_USAGE;
        }
        return write_output(spec, NULL, out);
    }
    if (force_bidirectional)
        spec->bidirectional = true;
    Model *m = lower(&perm, spec);
    if (!m)
        return EXIT_SPEC;
    if (dump && strcmp(dump, "lower") == 0) {
        model_dump(stdout, m);
        return EXIT_OK;
    }
    if (dump && !optimize && pass_known(dump)) {
        fprintf(stderr, "rnnc: error: -d %s needs the passes; drop -O0\n", dump);
        return EXIT_USAGE;
    }
    if (optimize && !check && passes_run_forward(m, &choice, dump))
        return EXIT_OK;
    autodiff(&perm, m);
    if (check)
        return check_dump(m, check, 1e-9, 1e-12);
    if (dump && strcmp(dump, "autodiff") == 0) {
        model_dump(stdout, m);
        return EXIT_OK;
    }
    if (dump && !optimize) {
        fprintf(stderr, "rnnc: error: -d %s needs the passes; drop -O0\n", dump);
        return EXIT_USAGE;
    }
    if (optimize && passes_run(m, &choice, dump))
        return EXIT_OK;
    return write_output(spec, m, out);
}
