/*
 * main.c: the rnnc driver. Runs the stages in order and nothing else:
 *
 *   spec_load -> lower -> every graph -> forward passes -> autodiff -> passes (passes.c)
 *             -> storage (memplan_storage) -> emit_c
 *
 * The spec is lowered once. Right after, every graph the C will hold is
 * built from that lowering: the training step and, for seq2seq, the
 * decoding graphs (s2s_decode: the encoder and one decoder step, copies of
 * the lowered graph). Each goes through the same pass list (autodiff only
 * for the training step), so -O0, --no-pass and -d reach all of them, and
 * -d STAGE prints all of them. emit_c only prints. The graphs and the
 * loops over them are compile.c's (graphs, graphs_passes, ...), shared
 * with compile_spec_text, the same pipeline in one call for the tests and
 * the fuzzer; the passes chosen (--pass, --no-pass) are main's PassChoice.
 *
 * --check keeps the oracle the plain graph: no pass runs before its
 * autodiff.
 *
 * Output goes through the runtime's output module (runtime/rnnrt_out.h),
 * opened only when every stage succeeded, so a failed compile never leaves
 * a partial or stale file at the output path: `-o -` (or no -o) is stdout,
 * a regular file is replaced atomically (tmp file in its directory, fsync,
 * rename), a symlink is followed, a device or FIFO is written in place.
 * The -d dumps go to stdout, which is flushed and checked the same way: a
 * write error is exit 3 with the path and the reason.
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
#include "infer.h"
#include "passes.h"
#include "rnnrt_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rnnc SPEC.yaml [-o OUT.c] [--source-root DIR] [-O0] [--pass PASS] [--no-pass PASS]\n"
            "            [-d [dot:]STAGE [--dot]]\n"
            "\n"
            "Compiles an RNN spec into C that links against librnnrt.\n"
            "\n"
            "  -o OUT.c     write the C here (default, or -: stdout); a regular file is\n"
            "               replaced atomically, a symlink followed, a device written in place\n"
            "  --source-root DIR  name the spec in the C relative to DIR (default: the\n"
            "               current directory), so the C does not depend on where the\n"
            "               checkout lives; a spec outside DIR is named as given (an\n"
            "               absolute path stays absolute). Errors name the path as given.\n"
            "  -O0          skip the optimization passes (emit the graphs as lowered and differentiated)\n"
            "  --pass PASS  also run an optional pass (off by default: gemmfuse)\n"
            "  --no-pass PASS  skip that optimization pass (repeatable; for measuring it)\n"
            "  -d STAGE     dump the graphs after STAGE (lower | autodiff, or a pass:\n"
            "               %s) to stdout instead of emitting C\n"
            "               (the training step's, then a seq2seq model's decoding graphs)\n"
            "  -d dot:STAGE, or -d STAGE --dot  the same graphs as Graphviz DOT (`dot -Tsvg`);\n"
            "               -o writes a dump to a file (replaced atomically) instead of stdout\n"
            "  --check DUMP run the reference interpreter (double) on the parameters\n"
            "               and inputs in DUMP (written by a trainer's `dump` command)\n"
            "               and compare every output and gradient with it\n"
            "  --inference  emit standalone C instead: the trained model's step, generation\n"
            "               and the weights of --weights compiled in; needs a C compiler\n"
            "               and libm only (no librnnrt, BLAS, heap or stdio; language models,\n"
            "               taggers and classifiers, bidirectional too; seq2seq: encoder,\n"
            "               decoder step, greedy and beam translation)\n"
            "  --weights CKPT  the checkpoint the model's trainer wrote (with --inference)\n"
            "  --runtime-weights  (with --inference) the file reads the weights at run time\n"
            "               from a checkpoint of the same spec and vocabulary as CKPT (its\n"
            "               <model>_load), instead of compiling CKPT's in\n"
            "  --version    print the version\n"
            "  -h, --help   this help\n",
            pass_names());
}

/* Finishes an output: flush, sync, rename where that applies; every step
 * checked. EXIT_OK, or EXIT_IO with a message naming the file. */
static int finish_output(RnnrtOut *o, int e)
{
    if (!e)
        e = rnnrt_out_commit(o);
    if (!e)
        return EXIT_OK;
    if (o->kind == RNNRT_OUT_STDOUT)
        fprintf(stderr, "rnnc: error: cannot write to standard output: %s\n", strerror(e));
    else
        fprintf(stderr, "rnnc: error: cannot write '%s': %s\n", rnnrt_out_failed_path(o), strerror(e));
    rnnrt_out_abort(o);
    return EXIT_IO;
}

/* rnnc -d STAGE: every graph after STAGE (passes_dump after a pass), or
 * with dot, one Graphviz digraph of them; to path ("-" or NULL: stdout). */
static int dump_graphs(const Graphs *G, bool after_pass, bool dot, const char *path)
{
    RnnrtOut o;
    int e = rnnrt_out_open(&o, path ? path : "-");
    if (e)
        return finish_output(&o, e);
    if (dot)
        fputs("digraph rnnc {\nnode [shape=box fontname=\"monospace\" fontsize=10];\n", o.f);
    for (int i = 0; i < G->n; i++) {
        if (dot)
            model_dot(o.f, G->m[i], i, G->role[i]);
        else if (G->role[i])
            fprintf(o.f, "\n; %s\n", G->role[i]);
        if (dot)
            continue;
        if (after_pass)
            passes_dump(o.f, G->m[i]);
        else
            model_dump(o.f, G->m[i]);
    }
    if (dot)
        fputs("}\n", o.f);
    return finish_output(&o, 0);
}

/* The C of a model, or of a counted n-gram spec (m == NULL). */
static void emit_any(FILE *f, const Spec *spec, const Model *m, const S2sDecode *d)
{
    if (m)
        emit_c(f, m, d);
    else
        emit_ngram_c(f, spec);
}

/* rnnc --inference: the standalone C, to path ("-" or NULL: stdout). */
static int write_inference(const Model *m, const char *weights, bool runtime, const char *path)
{
    if (!infer_task_ok(m->spec))
        return EXIT_USAGE;
    bool s2s = m->spec->task == TASK_SEQ2SEQ;
    if (s2s && runtime) {
        fprintf(stderr, "rnnc: error: %s: --runtime-weights supports language models, taggers and classifiers "
                "for now (seq2seq: the weights compiled in)\n", m->spec->path);
        return EXIT_USAGE;
    }
    if (!(s2s ? infer_s2s_supported(m) : infer_supported(m)))
        return EXIT_SPEC;
    int code = EXIT_SPEC;
    InferWeights *w = s2s ? infer_weights_s2s_load(m, weights, &code) : infer_weights_load(m, weights, &code);
    if (!w)
        return code;
    w->runtime = runtime;
    RnnrtOut o;
    int e = rnnrt_out_open(&o, path ? path : "-");
    if (!e && !(s2s ? emit_infer_s2s_c(o.f, m, w) : emit_infer_c(o.f, m, w))) {
        rnnrt_out_abort(&o);
        return EXIT_SPEC;
    }
    return finish_output(&o, e);
}

/* The C, to path ("-" or NULL: stdout). */
static int write_output(const Spec *spec, const Model *m, const S2sDecode *d, const char *path)
{
    RnnrtOut o;
    int e = rnnrt_out_open(&o, path ? path : "-");
    if (!e)
        emit_any(o.f, spec, m, d);
    return finish_output(&o, e);
}

int main(int argc, char **argv)
{
    const char *spec_path = NULL, *out = NULL, *dump = NULL, *check = NULL, *source_root = NULL;
    const char *weights = NULL;
    bool optimize = true, force_bidirectional = false, inference = false, runtime_weights = false;
    PassChoice choice = {0};
    bool dot = false; /* -d dot:STAGE or --dot: the dump as Graphviz DOT */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(a, "--source-root") == 0 && i + 1 < argc)
            source_root = argv[++i];
        else if (strcmp(a, "-d") == 0 && i + 1 < argc)
            dump = argv[++i];
        else if (strcmp(a, "--dot") == 0)
            dot = true;
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
        else if (strcmp(a, "--inference") == 0)
            inference = true;
        else if (strcmp(a, "--runtime-weights") == 0)
            runtime_weights = true;
        else if (strcmp(a, "--weights") == 0 && i + 1 < argc)
            weights = argv[++i];
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
    if (dump && strncmp(dump, "dot:", 4) == 0) {
        dump += 4;
        dot = true;
    }
    if (dot && !dump) {
        fprintf(stderr, "rnnc: error: --dot needs -d STAGE (the graphs of which stage)\n");
        return EXIT_USAGE;
    }
    if (dump && strcmp(dump, "lower") != 0 && strcmp(dump, "autodiff") != 0 && !pass_known(dump)) {
        fprintf(stderr, "rnnc: error: unknown stage '%s' for -d (lower | autodiff | %s)\n", dump, pass_names());
        return EXIT_USAGE;
    }

    if (inference && (dump || check)) {
        fprintf(stderr, "rnnc: error: --inference does not go with %s\n", dump ? "-d" : "--check");
        return EXIT_USAGE;
    }
    if (runtime_weights && !inference) {
        fprintf(stderr, "rnnc: error: --runtime-weights goes with --inference\n");
        return EXIT_USAGE;
    }
    if (inference != (weights != NULL)) {
        fprintf(stderr, "rnnc: error: %s\n", inference ? "--inference needs --weights CKPT (the checkpoint to compile in)"
                                                        : "--weights goes with --inference");
        return EXIT_USAGE;
    }

    int code = EXIT_SPEC;
    Spec *spec = spec_load(&perm, spec_path, &code);
    if (!spec)
        return code;
    if (!spec_set_root(&perm, spec, source_root)) {
        fprintf(stderr, "rnnc: error: --source-root '%s': %s\n", source_root, strerror(errno));
        return EXIT_USAGE;
    }
    if (spec->task == TASK_NGRAM) {
        if (inference) {
            fprintf(stderr, "rnnc: error: %s: 'task: ngram' is counted; --inference is for neural models\n",
                    spec_path);
            return EXIT_USAGE;
        }
        if (dump || check) {
            fprintf(stderr, "rnnc: error: %s: 'task: ngram' is counted and has no graph for %s\n", spec_path,
                    dump ? "-d" : "--check");
            return EXIT_USAGE;
        }
        return write_output(spec, NULL, NULL, out);
    }
    if (force_bidirectional)
        spec->bidirectional = true;
    Model *m = lower(&perm, spec);
    if (!m)
        return EXIT_SPEC;
    if (inference) /* the forward graph as lowered: no pass, no autodiff */
        return write_inference(m, weights, runtime_weights, out);
    S2sDecode *d = spec->task == TASK_SEQ2SEQ ? s2s_decode(&perm, m) : NULL;
    Graphs G = graphs(m, d);
    if (dump && strcmp(dump, "lower") == 0)
        return dump_graphs(&G, false, dot, out);
    if (dump && !optimize && pass_known(dump)) {
        fprintf(stderr, "rnnc: error: -d %s needs the passes; drop -O0\n", dump);
        return EXIT_USAGE;
    }
    if (optimize && !check && graphs_passes_forward(&G, &choice, dump))
        return dump_graphs(&G, true, dot, out);
    autodiff(&perm, m);
    if (check)
        return check_dump(m, check, 1e-9, 1e-12);
    if (dump && strcmp(dump, "autodiff") == 0)
        return dump_graphs(&G, false, dot, out);
    if (optimize && graphs_passes(&G, &choice, dump))
        return dump_graphs(&G, true, dot, out);
    graphs_storage(&G);
    return write_output(spec, m, d, out);
}
