/*
 * rnnrt_cli.c: the option parser of every command line of the runtime
 * (rnnrt_main.c for the neural trainers, rnnrt_ngram_main.c for the n-gram
 * baseline).
 *
 * A command is a table of RnnrtOpt (name, type, destination, help, range)
 * whose destinations hold the defaults. Every option accepts "--opt VALUE"
 * and "--opt=VALUE"; numbers are parsed strictly (the whole string, in
 * range, rnnrt_parse_*); an unknown option, a bad value or a stray
 * argument prints one message and the command's usage to stderr and is
 * exit 2. "--help" prints the usage, with each option's current default,
 * to stdout.
 */
#include "rnnrt.h"

#include <float.h>
#include <string.h>

static void print_default(FILE *f, const RnnrtOpt *o)
{
    switch (o->type) {
    case RNNRT_OPT_INT:
        fprintf(f, " (default %d)", *(int *)o->dst);
        break;
    case RNNRT_OPT_I64:
        fprintf(f, " (default %lld)", (long long)*(int64_t *)o->dst);
        break;
    case RNNRT_OPT_U64:
        fprintf(f, " (default %llu)", (unsigned long long)*(uint64_t *)o->dst);
        break;
    case RNNRT_OPT_DOUBLE:
        fprintf(f, " (default %g)", *(double *)o->dst);
        break;
    case RNNRT_OPT_STR:
        if (*(const char **)o->dst)
            fprintf(f, " (default \"%s\")", *(const char **)o->dst);
        break;
    case RNNRT_OPT_FLAG:
        break;
    }
}

void rnnrt_cli_usage(FILE *f, const char *prog, const char *cmd,
                     const char *summary, const RnnrtOpt *opts)
{
    fprintf(f, "usage: %s %s [options]\n\n%s\n\noptions:\n", prog, cmd,
            summary);
    for (const RnnrtOpt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(f, "  %-22s %s", left, o->help);
        print_default(f, o);
        fputc('\n', f);
    }
    fprintf(f, "  %-22s %s\n", "-h, --help", "this help");
}

static int bad_value(const char *prog, const char *cmd, const RnnrtOpt *o,
                     const char *v)
{
    const char *what = o->type == RNNRT_OPT_DOUBLE ? "a number" : "an integer";
    fprintf(stderr, "%s %s: error: invalid value '%s' for %s: expected %s",
            prog, cmd, v, o->name, what);
    if (o->type == RNNRT_OPT_U64)
        fprintf(stderr, " >= 0\n");
    else if (o->min == DBL_MIN)
        fprintf(stderr, " > 0\n");
    else if (o->type == RNNRT_OPT_DOUBLE)
        fprintf(stderr, " in [%g, %g]\n", o->min, o->max);
    else
        fprintf(stderr, " in [%.0f, %.0f]\n", o->min, o->max);
    return RNNRT_EXIT_USAGE;
}

static int set_value(const char *prog, const char *cmd, const RnnrtOpt *o,
                     const char *v)
{
    int64_t i;
    double d;
    switch (o->type) {
    case RNNRT_OPT_INT:
    case RNNRT_OPT_I64:
        if (rnnrt_parse_i64(v, (int64_t)o->min, (int64_t)o->max, &i))
            return bad_value(prog, cmd, o, v);
        if (o->type == RNNRT_OPT_INT)
            *(int *)o->dst = (int)i;
        else
            *(int64_t *)o->dst = i;
        return 0;
    case RNNRT_OPT_U64:
        if (rnnrt_parse_u64(v, (uint64_t *)o->dst))
            return bad_value(prog, cmd, o, v);
        return 0;
    case RNNRT_OPT_DOUBLE:
        if (rnnrt_parse_double(v, o->min, o->max, &d))
            return bad_value(prog, cmd, o, v);
        *(double *)o->dst = d;
        return 0;
    case RNNRT_OPT_STR:
        *(const char **)o->dst = v;
        return 0;
    case RNNRT_OPT_FLAG:
        *(int *)o->dst = 1;
        return 0;
    }
    return 0;
}

static int usage_error(const char *prog, const char *cmd, const char *summary,
                       const RnnrtOpt *opts, const char *fmt, const char *what)
{
    fprintf(stderr, "%s %s: error: ", prog, cmd);
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
    rnnrt_cli_usage(stderr, prog, cmd, summary, opts);
    return RNNRT_EXIT_USAGE;
}

int rnnrt_cli_parse(int argc, char **argv, const char *prog,
                    const char *summary, const RnnrtOpt *opts)
{
    return rnnrt_cli_parse_given(argc, argv, prog, summary, opts, NULL);
}

int rnnrt_cli_given(const RnnrtOpt *opts, const unsigned char *given,
                    const char *name)
{
    for (const RnnrtOpt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            return given[o - opts];
    return 0;
}

static int has_option(const RnnrtOpt *opts, const char *name)
{
    for (const RnnrtOpt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            return 1;
    return 0;
}

/* Parses argv[first..argc) as options of the command argv[0]; "-o" is
 * "--out" where the table has --out. */
static int parse_from(int argc, char **argv, int first, const char *prog,
                      const char *summary, const RnnrtOpt *opts,
                      unsigned char *given)
{
    const char *cmd = argv[0];
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-o") && has_option(opts, "--out"))
            a = "--out";
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            rnnrt_cli_usage(stdout, prog, cmd, summary, opts);
            return RNNRT_HELP_SHOWN;
        }
        if (strncmp(a, "--", 2))
            return usage_error(prog, cmd, summary, opts,
                               "unexpected argument '%s'", a);
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        const RnnrtOpt *o = opts;
        while (o->name && (strlen(o->name) != len || strncmp(o->name, a, len)))
            o++;
        if (!o->name)
            return usage_error(prog, cmd, summary, opts,
                               "unknown option '%s'", a);
        const char *v = eq ? eq + 1 : NULL;
        if (o->type == RNNRT_OPT_FLAG && v)
            return usage_error(prog, cmd, summary, opts,
                               "option '%s' takes no value", o->name);
        if (o->type != RNNRT_OPT_FLAG && !v) {
            if (i + 1 == argc)
                return usage_error(prog, cmd, summary, opts,
                                   "option '%s' needs a value", o->name);
            v = argv[++i];
        }
        int rc = set_value(prog, cmd, o, v);
        if (rc)
            return rc;
        if (given)
            given[o - opts] = 1;
    }
    return 0;
}

int rnnrt_cli_parse_given(int argc, char **argv, const char *prog,
                          const char *summary, const RnnrtOpt *opts,
                          unsigned char *given)
{
    return parse_from(argc, argv, 1, prog, summary, opts, given);
}

int rnnrt_cli_parse_pos(int argc, char **argv, const char *prog,
                        const char *summary, const RnnrtOpt *opts,
                        const char **pos)
{
    *pos = NULL;
    int first = 1;
    if (argc > 1 && argv[1][0] != '-') {
        *pos = argv[1];
        first = 2;
    }
    return parse_from(argc, argv, first, prog, summary, opts, NULL);
}

int rnnrt_cli_report(int rc, const RnnrtError *err, const char *prog,
                     const char *cmd)
{
    if (rc && err->code) {
        rnnrt_error_print(err, prog);
        if (rc == RNNRT_EXIT_USAGE)
            fprintf(stderr, "(see '%s %s --help')\n", prog, cmd);
    }
    /* what went to stdout (results, samples, translations) is output
     * too: a full disk is exit 3, not a silent 0 (after another error,
     * that one is the message) */
    RnnrtOut out;
    int e = rnnrt_out_open(&out, "-");
    if (!e)
        e = rnnrt_out_commit(&out);
    if (e && !rc) {
        fprintf(stderr, "%s: error: cannot write to standard output: %s\n",
                prog, strerror(e));
        rc = RNNRT_EXIT_IO;
    }
    return rc;
}

const char *rnnrt_cli_prog(int argc, char **argv, const char *fallback)
{
    const char *prog = argc > 0 && argv[0] ? argv[0] : fallback;
    const char *slash = strrchr(prog, '/');
    return slash ? slash + 1 : prog;
}

int rnnrt_cli_version(int argc, char **argv, const char *prog,
                      const char *model, const char *spec_path)
{
    if (argc < 2 || strcmp(argv[1], "--version"))
        return 0;
    printf("%s: model '%s' from %s, generated by rnnc; librnnrt %s, %s\n",
           prog, model, spec_path, RNNRT_VERSION, RNNRT_REAL_NAME);
    return 1;
}
