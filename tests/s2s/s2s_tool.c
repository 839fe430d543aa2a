/*
 * s2s_tool.c: a command-line window on librnnrt's seq2seq data path, for
 * the script tests in tests/s2s/ (comparisons with bench/s2s_torch.py and
 * nltk). Not installed; the trainer's own commands come from the compiler.
 *
 *   s2s_tool dump DATA OUTDIR [PAIRS [T [MIN_FREQ]]]
 *       the vocabularies, tokens and arrays, in s2s_torch.py --dump's format
 *   s2s_tool toy TASK N NSYM MIN_LEN MAX_LEN SEED   pairs on stdout
 *   s2s_tool preprocess        each stdin line, preprocessed, on stdout
 *   s2s_tool bleu PRED REF     lines of space-separated tokens: prints
 *                              corpus BLEU-4 and the mean d2l bleu (k=2)
 *
 * Errors are printed as the runtime prints them; exit codes as RELIABILITY.
 */
#include "rnnrt_s2s.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: s2s_tool dump DATA OUTDIR [PAIRS [T [MIN_FREQ]]]"
                    "\n       s2s_tool toy TASK N NSYM MIN_LEN MAX_LEN SEED\n"
                    "       s2s_tool preprocess < lines\n"
                    "       s2s_tool bleu PRED REF\n");
    return RNNRT_EXIT_USAGE;
}

static int fail(const RnnrtError *e)
{
    rnnrt_error_print(e, "s2s_tool");
    return e->code;
}

static FILE *open_out(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "s2s_tool: error: cannot write '%s': %s\n", path,
                strerror(errno));
        exit(RNNRT_EXIT_IO);
    }
    return f;
}

static void dump_vocab(const char *dir, const char *name, const RnnrtVocab *v)
{
    FILE *f = open_out(dir, name);
    for (int i = 0; i < v->size; i++)
        fprintf(f, "%s\t%lld\n", v->tokens[i], (long long)v->counts[i]);
    fclose(f);
}

static void dump_tokens(const char *dir, const char *name, const RnnrtSide *s,
                        size_t n)
{
    FILE *f = open_out(dir, name);
    for (size_t i = 0; i < n; i++)
        for (size_t t = s->start[i]; t < s->start[i + 1]; t++)
            fprintf(f, "%s%s", s->tok[t], t + 1 < s->start[i + 1] ? " " : "\n");
    fclose(f);
}

static void dump_row(FILE *f, const int32_t *row, int T)
{
    for (int t = 0; t < T; t++)
        fprintf(f, t ? " %d" : "%d", row[t]);
}

static int cmd_dump(int argc, char **argv)
{
    if (argc < 4 || argc > 7)
        return usage();
    RnnrtPairsOpts o;
    rnnrt_pairs_opts_default(&o);
    int64_t v;
    if (argc > 4) {
        if (rnnrt_parse_i64(argv[4], 0, INT64_MAX, &v))
            return usage();
        o.max_pairs = (size_t)v;
    }
    if (argc > 5) {
        if (rnnrt_parse_i64(argv[5], 2, 100000, &v))
            return usage();
        o.num_steps = (int)v;
    }
    if (argc > 6) {
        if (rnnrt_parse_i64(argv[6], 1, INT32_MAX, &v))
            return usage();
        o.min_freq = (int)v;
    }
    RnnrtPairs p;
    RnnrtError e = {0};
    if (rnnrt_pairs_load(&p, argv[2], &o, NULL, NULL, &e))
        return fail(&e);
    const char *dir = argv[3];
    dump_vocab(dir, "src_vocab.tsv", &p.src_vocab);
    dump_vocab(dir, "tgt_vocab.tsv", &p.tgt_vocab);
    dump_tokens(dir, "src_tokens.txt", &p.src, p.n);
    dump_tokens(dir, "tgt_tokens.txt", &p.tgt, p.n);
    FILE *f = open_out(dir, "arrays.txt");
    fprintf(f, "n %zu ntrain %zu T %d\n", p.n, p.ntrain, p.T);
    for (size_t i = 0; i < p.n; i++) {
        size_t at = i * (size_t)p.T;
        dump_row(f, p.src_arr + at, p.T);
        fprintf(f, " | %d | ", p.src_valid[i]);
        dump_row(f, p.dec_in + at, p.T);
        fputs(" | ", f);
        dump_row(f, p.label + at, p.T);
        fprintf(f, " | %d\n", p.tgt_valid[i]);
    }
    fclose(f);
    printf("pairs %zu train %zu held-out %zu src_vocab %d tgt_vocab %d "
           "src_tokens %zu tgt_tokens %zu unk_train %zu %zu unk_held %zu "
           "%zu\n", p.n, p.ntrain, p.n - p.ntrain, p.src_vocab.size,
           p.tgt_vocab.size, p.src.ntok, p.tgt.ntok, p.src.unk_train,
           p.tgt.unk_train, p.src.unk_held, p.tgt.unk_held);
    rnnrt_pairs_free(&p);
    return 0;
}

static int cmd_toy(int argc, char **argv)
{
    int64_t n, nsym, lo, hi;
    uint64_t seed;
    if (argc != 8 || rnnrt_parse_i64(argv[3], 0, INT64_MAX, &n)
        || rnnrt_parse_i64(argv[4], 1, 26, &nsym)
        || rnnrt_parse_i64(argv[5], 1, 1000, &lo)
        || rnnrt_parse_i64(argv[6], 1, 1000, &hi)
        || rnnrt_parse_u64(argv[7], &seed))
        return usage();
    RnnrtError e = {0};
    if (rnnrt_toytask_write(stdout, argv[2], (size_t)n, (int)nsym, (int)lo,
                            (int)hi, seed, &e))
        return fail(&e);
    return 0;
}

static int cmd_preprocess(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t lineno = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        if (line[n - 1] == '\n')
            n--;
        RnnrtError e = {0};
        if (rnnrt_s2s_check_line(line, (size_t)n, "<stdin>", lineno, &e)) {
            free(line);
            return fail(&e);
        }
        char *out = malloc(2 * (size_t)n + 1);
        rnnrt_s2s_preprocess(line, (size_t)n, out);
        puts(out);
        free(out);
    }
    free(line);
    return 0;
}

/* Reads a file of lines of space-separated tokens as interned ids. */
static int read_token_lines(const char *path, RnnrtVocab *v, int32_t ***seqs,
                            int **lens, int *count)
{
    RnnrtError e = {0};
    char *data;
    size_t len;
    if (rnnrt_file_read(path, RNNRT_MAX_CORPUS_BYTES, &data, &len, &e))
        return fail(&e);
    int n = 0, cap = 0;
    int32_t **s = NULL;
    int *l = NULL;
    for (char *p = data; p < data + len;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        if (!nl)
            nl = data + len;
        *nl = '\0';
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            s = realloc(s, (size_t)cap * sizeof *s);
            l = realloc(l, (size_t)cap * sizeof *l);
        }
        s[n] = rnnrt_xcalloc(strlen(p) + 1, sizeof(int32_t), "tokens");
        l[n] = 0;
        for (char *tok = strtok(p, " "); tok; tok = strtok(NULL, " "))
            s[n][l[n]++] = rnnrt_bleu_intern(v, tok);
        n++;
        p = nl + 1;
    }
    free(data);
    *seqs = s;
    *lens = l;
    *count = n;
    return 0;
}

static int cmd_bleu(int argc, char **argv)
{
    if (argc != 4)
        return usage();
    RnnrtVocab v;
    rnnrt_vocab_init(&v);
    int32_t **pred, **ref;
    int *plen, *rlen, np, nr;
    int rc = read_token_lines(argv[2], &v, &pred, &plen, &np);
    if (rc)
        return rc;
    rc = read_token_lines(argv[3], &v, &ref, &rlen, &nr);
    if (rc)
        return rc;
    if (np != nr) {
        fprintf(stderr, "s2s_tool: error: %d predictions but %d references\n",
                np, nr);
        return RNNRT_EXIT_DATA;
    }
    double d2l = 0;
    for (int i = 0; i < np; i++)
        d2l += rnnrt_bleu_d2l(pred[i], plen[i], ref[i], rlen[i], 2);
    double b = rnnrt_corpus_bleu4(np, (const int32_t *const *)pred, plen,
                                  (const int32_t *const *)ref, rlen);
    printf("corpus_bleu4 %.12f d2l_mean %.12f\n", b, np ? d2l / np : 0.0);
    for (int i = 0; i < np; i++) {
        free(pred[i]);
        free(ref[i]);
    }
    free(pred);
    free(ref);
    free(plen);
    free(rlen);
    rnnrt_vocab_free(&v);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (!strcmp(argv[1], "dump"))
        return cmd_dump(argc, argv);
    if (!strcmp(argv[1], "toy"))
        return cmd_toy(argc, argv);
    if (!strcmp(argv[1], "preprocess") && argc == 2)
        return cmd_preprocess();
    if (!strcmp(argv[1], "bleu"))
        return cmd_bleu(argc, argv);
    return usage();
}
