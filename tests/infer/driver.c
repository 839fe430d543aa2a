/*
 * driver.c: a program using a standalone model file (rnnc --inference),
 * for tests/e2e/infer.sh. Built with -DMODEL=<name> -DINFER_FILE="\"path\""
 * (the file is included for its declarations only; its object is linked)
 * and tests/unit/alloc_count.h, which counts every malloc, calloc and
 * realloc while the model runs:
 *
 *   driver logits TEXT            per character of TEXT: "id l0 ... l(V-1)" (as ref.c)
 *   driver sample PREFIX LEN SEED TEMPERATURE
 *                                 PREFIX and LEN generated tokens, as the trainer's
 *                                 `sample` prints them (TEMPERATURE 0: greedy)
 *   driver tag TEXT               (-DTEST_TAGGER) each character's label: "k name", one a line
 *   driver refuse                 an id out of range and an unknown character are refused
 *
 * A whole-sequence model (-DTEST_SEQ: a bidirectional tagger, with
 * -DTEST_TAGGER, or -DTEST_CLASSIFIER) runs n tokens at once (_run):
 *   driver logits TEXT            tagger: as above, in windows of MAX_T tokens (as ref.c);
 *                                 classifier: "label p0 ... p(L-1)" for TEXT (as ref.c)
 *   driver predict                (-DTEST_CLASSIFIER) a text per stdin line -> "label<TAB>prob"
 *                                 as the trainer's `predict`
 *
 * A file whose weights are read at run time (--runtime-weights; the driver
 * built with -DTEST_LOAD) first loads the checkpoint named by the
 * environment's INFER_CKPT into a static <name>_weights (exit 3 with the
 * loader's message when it refuses it), then does as above; and
 *   driver damage CKPT            the loader refuses every truncation, every flipped
 *                                 byte (sampled), and, their CRCs made right again, another
 *                                 spec hash or model name, other dimensions or shapes,
 *                                 another vocabulary, a NaN weight: each with its code
 *
 * Exit 1 when the model allocated anything (not counted with -DNO_ALLOC_COUNT,
 * for the sanitizers).
 */
#include "driver_common.h"
#define VOCAB CAT(UPPER, _VOCAB)
#define LOGITS CAT(UPPER, _LOGITS)

static INFER s; /* the model's memory: the caller's (static here) */

#ifdef TEST_LOAD
#define WEIGHTS CAT(MODEL, _weights)
#define CODE(name) CAT(UPPER, CAT(_LOAD_, name))
static WEIGHTS weights; /* the caller's memory for the weights */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0)
        if ((n += got) == cap)
            b = realloc(b, cap *= 2);
    fclose(f);
    *len = n;
    return b;
}

/* zlib's CRC32, written again (the test's, not the file's) */
static uint32_t crc32_of(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
    }
    return ~crc;
}

static uint32_t u32_at(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The frame of section name in b (its offset), or 0. */
static size_t section(const unsigned char *b, size_t len, const char *name)
{
    size_t pos = 32;
    while (len - pos >= 24) {
        uint64_t n;
        memcpy(&n, b + pos + 8, 8);
        if (!strncmp((const char *)b + pos, name, 8))
            return pos;
        pos += 24 + (size_t)n;
    }
    return 0;
}

/* The section at frame pos gets its CRC again (after an edit). */
static void fix_crc(unsigned char *b, size_t pos)
{
    uint64_t n;
    memcpy(&n, b + pos + 8, 8);
    uint32_t c = crc32_of(crc32_of(0, b + pos, 16), b + pos + 24, (size_t)n);
    memcpy(b + pos + 16, &c, 4);
}

static int damage(const char *path)
{
    size_t len = 0;
    unsigned char *good = read_file(path, &len), *b = good ? malloc(len) : NULL;
    if (!b)
        return 2;
    int bad = 0, rc;
    if ((rc = F(_load)(&weights, good, len)) != 0) {
        fprintf(stderr, "driver: the good checkpoint: %s\n", F(_load_error)(rc));
        return 1;
    }
    if (F(_load)(NULL, good, len) != CODE(BAD_ARG) || F(_load)(&weights, NULL, len) != CODE(BAD_ARG))
        bad = fprintf(stderr, "driver: NULL pointers were not refused\n");
    if (F(_load)(&weights, good, 0) == 0)
        bad = fprintf(stderr, "driver: an empty file was loaded\n");
    /* lengths short of the whole (each of the first 512, which hold the
     * preamble, the frames and the header, then 400 spread over the rest):
     * truncated (the copy is the exact size, for ASan) */
    size_t stride = len / 400 + 1;
    long cuts = 0;
    for (size_t cut = 1; cut < len; cut += cut < 512 ? 1 : stride, cuts++) {
        unsigned char *t = malloc(cut);
        memcpy(t, good, cut);
        if ((rc = F(_load)(&weights, t, cut)) != CODE(TRUNCATED))
            bad = fprintf(stderr, "driver: cut to %zu bytes: %d (%s)\n", cut, rc, F(_load_error)(rc));
        free(t);
    }
    /* one flipped byte anywhere: refused (a CRC, the magic, a length) */
    long flips = 0;
    for (size_t i = 0; i < len; i += i < 512 ? 1 : stride, flips++) {
        memcpy(b, good, len);
        b[i] ^= 0xFF;
        if ((rc = F(_load)(&weights, b, len)) == 0 || rc == CODE(BAD_ARG))
            bad = fprintf(stderr, "driver: byte %zu flipped: %d (%s)\n", i, rc, F(_load_error)(rc));
    }
    unsigned char *longer = malloc(len + 1); /* a byte after the last section */
    memcpy(longer, good, len);
    longer[len] = 0;
    if ((rc = F(_load)(&weights, longer, len + 1)) != CODE(MALFORMED))
        bad = fprintf(stderr, "driver: a byte after the end: %d (%s)\n", rc, F(_load_error)(rc));
    free(longer);
    /* edits with their CRC made right: the header's model name, spec hash, a dimension, a shape */
    size_t h = section(good, len, "header"), v = section(good, len, "vocab"), p = section(good, len, "params");
    if (h != 32 || !v || !p)
        return fprintf(stderr, "driver: sections not found\n"), 1;
    size_t at = h + 24, name_len = u32_at(good + at);
    size_t hash_at = at + 4 + name_len, task_at = hash_at + 8, dims_at = task_at + 4 + u32_at(good + task_at);
    size_t dim0_value = dims_at + 4 + 4 + u32_at(good + dims_at + 4); /* the first dimension's value */
    size_t shapes_at = dims_at + 4;
    for (uint32_t k = 0, nd = u32_at(good + dims_at); k < nd; k++)
        shapes_at += 4 + u32_at(good + shapes_at) + 8;
    size_t shape0_d0 = shapes_at + 4 + 4 + u32_at(good + shapes_at + 4) + 4;
    size_t tok = v + 24 + 4; /* past the four specials: the first token's first byte */
    for (int k = 0; k < 4; k++)
        tok += 4 + u32_at(good + tok) + 8;
    tok += 4;
    struct {
        const char *what;
        size_t sec, at;
        int want;
    } edits[] = {
        {"the model's name", h, at + 4, CODE(OTHER_MODEL)},
        {"the spec hash", h, hash_at, CODE(OTHER_MODEL)},
        {"the task", h, task_at + 4, CODE(OTHER_MODEL)},
        {"a dimension", h, dim0_value, CODE(DIMENSIONS)},
        {"a parameter's shape", h, shape0_d0, CODE(DIMENSIONS)},
        {"a token", v, tok, CODE(VOCABULARY)},
    };
    for (size_t e = 0; e < sizeof edits / sizeof *edits; e++) {
        memcpy(b, good, len);
        b[edits[e].at] ^= 0x01;
        fix_crc(b, edits[e].sec);
        if ((rc = F(_load)(&weights, b, len)) != edits[e].want)
            bad = fprintf(stderr, "driver: %s changed: %d (%s), want %d\n", edits[e].what, rc, F(_load_error)(rc),
                          edits[e].want);
    }
    memcpy(b, good, len);
    const float nan = 0.0f / 0.0f;
    memcpy(b + p + 24 + 4 * 3, &nan, 4);
    fix_crc(b, p);
    if ((rc = F(_load)(&weights, b, len)) != CODE(NOT_FINITE))
        bad = fprintf(stderr, "driver: a NaN weight: %d (%s)\n", rc, F(_load_error)(rc));
    if ((rc = F(_load)(&weights, good, len)) != 0)
        bad = fprintf(stderr, "driver: the good checkpoint again: %s\n", F(_load_error)(rc));
    if (!bad)
        printf("refused %ld truncations, %ld flipped bytes, 6 edits with their CRCs right, a NaN weight\n", cuts,
               flips);
    free(good);
    free(b);
    return bad ? 1 : 0;
}

/* The weights from $INFER_CKPT, attached to s. */
static void load_weights(void)
{
    const char *path = getenv("INFER_CKPT");
    size_t len = 0;
    unsigned char *b = path ? read_file(path, &len) : NULL;
    if (!b) {
        fprintf(stderr, "driver: cannot read $INFER_CKPT\n");
        exit(2);
    }
    int rc = F(_load)(&weights, b, len);
    free(b);
    if (rc) {
        fprintf(stderr, "driver: load: %s (%d)\n", F(_load_error)(rc), rc);
        exit(3);
    }
    F(_attach)(&s, &weights);
}
#endif

#ifdef TEST_SEQ
#define MAX_T CAT(UPPER, _MAX_T)
#define LABELS CAT(UPPER, _LABELS)
#endif

static int done(void)
{
    fflush(stdout); /* before the note on stderr: the test reads both from one file */
    if (allocations) {
        fprintf(stderr, "driver: the model allocated %ld times\n", (long)allocations);
        return 1;
    }
    fprintf(stderr, "driver: 0 heap allocations; RAM %zu bytes\n", sizeof s);
    return 0;
}

#ifdef TEST_LOAD
#define LOAD(argc, argv)                                        \
    do {                                                        \
        if (argc == 3 && !strcmp(argv[1], "damage"))            \
            return damage(argv[2]);                             \
        load_weights();                                         \
    } while (0)
#else
#define LOAD(argc, argv) (void)0
#endif

#ifdef TEST_SEQ
static int seq_main(int argc, char **argv)
{
    LOAD(argc, argv);
#ifdef TEST_CLASSIFIER
    if (argc == 3 && !strcmp(argv[1], "logits")) {
        double probs[LABELS];
        counting = 1;
        int k = F(_classify)(&s, argv[2], strlen(argv[2]), probs);
        counting = 0;
        if (k < 0)
            return 2;
        printf("%d", k);
        for (int i = 0; i < LABELS; i++)
            printf(" %.9g", probs[i]);
        printf("\n");
        return done();
    }
    if (argc == 2 && !strcmp(argv[1], "predict")) {
        static char line[65536];
        while (fgets(line, sizeof line, stdin)) {
            size_t len = strcspn(line, "\r\n");
            double probs[LABELS];
            counting = 1;
            int k = F(_classify)(&s, line, len, probs);
            counting = 0;
            if (k < 0)
                return 2;
            printf("%s\t%.4f\n", F(_label_name)(k), probs[k]);
        }
        return done();
    }
#else
    if (argc == 3 && !strcmp(argv[1], "logits")) { /* windows of MAX_T, the state carried */
        const char *t = argv[2];
        static int32_t ids[4096];
        int n = 0;
        for (size_t i = 0, len = strlen(t); i < len && n < 4096; n++) {
            unsigned char lead = (unsigned char)t[i];
            size_t k = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
            int id = F(_token_id)(t + i, k);
            ids[n] = id < 4 ? 0 : id;
            i += k;
        }
        F(_reset)(&s);
        for (int t0 = 0; t0 < n; t0 += MAX_T) {
            int T = n - t0 < MAX_T ? n - t0 : MAX_T;
            counting = 1;
            const float *z = F(_run)(&s, ids + t0, T);
            counting = 0;
            if (!z)
                return 2;
            for (int r = 0; r < T; r++) {
                printf("%d", (int)ids[t0 + r]);
                for (int k = 0; k < LOGITS; k++)
                    printf(" %.9g", (double)z[(size_t)r * LOGITS + k]);
                printf("\n");
            }
        }
        return done();
    }
    if (argc == 3 && !strcmp(argv[1], "tag")) {
        static int labels[4096];
        size_t len = strlen(argv[2]);
        if (len > 4096)
            return 2;
        counting = 1;
        long n = F(_tag)(&s, argv[2], len, labels);
        counting = 0;
        for (long i = 0; i < n; i++)
            printf("%d %s\n", labels[i], F(_label_name)(labels[i]));
        return done();
    }
#endif
    if (argc == 2 && !strcmp(argv[1], "refuse")) {
        static int32_t ids[MAX_T + 1];
        int bad = 0;
        F(_reset)(&s);
        for (int i = 0; i <= MAX_T; i++)
            ids[i] = 4;
        if (F(_logits)(&s))
            bad = fprintf(stderr, "driver: logits before any run\n");
        if (F(_run)(&s, ids, 0) || F(_run)(&s, ids, MAX_T + 1))
            bad = fprintf(stderr, "driver: a run of 0 or MAX_T + 1 tokens\n");
        ids[1] = VOCAB;
        if (F(_run)(&s, ids, 2))
            bad = fprintf(stderr, "driver: an id out of range was run\n");
        ids[1] = -1;
        if (F(_run)(&s, ids, 2))
            bad = fprintf(stderr, "driver: an id out of range was run\n");
        ids[1] = 4;
        if (!F(_run)(&s, ids, 1) || !F(_run)(&s, ids, MAX_T))
            bad = fprintf(stderr, "driver: a valid run was refused\n");
        if (F(_label_name)(-1) || F(_label_name)(LABELS))
            bad = fprintf(stderr, "driver: label names out of range\n");
#ifdef TEST_CLASSIFIER
        if (F(_classify)(&s, "", 0, NULL) != -1)
            bad = fprintf(stderr, "driver: an empty text was classified\n");
#endif
        if (F(_token)(-1) || F(_token)(VOCAB) || F(_token_id)("\001", 1) != -1)
            bad = fprintf(stderr, "driver: token lookups out of range\n");
        return bad ? 1 : 0;
    }
    fprintf(stderr, "usage: driver logits TEXT | tag TEXT | predict | refuse\n");
    return 2;
}
#endif

#ifdef TEST_SEQ
int main(int argc, char **argv)
{
    return seq_main(argc, argv);
}
#else
int main(int argc, char **argv)
{
    LOAD(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "logits")) {
        const char *t = argv[2];
        size_t len = strlen(t);
        counting = 1;
        F(_reset)(&s);
        counting = 0;
        for (size_t i = 0; i < len;) {
            unsigned char lead = (unsigned char)t[i];
            size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
            counting = 1;
            int id = F(_token_id)(t + i, n);
#ifdef TEST_TAGGER
            id = id < 4 ? 0 : id; /* <unk>, as the tagger reads its input */
#endif
            const float *z = id >= 0 ? F(_step)(&s, id) : NULL;
            counting = 0;
            if (!z) {
                fprintf(stderr, "driver: cannot read byte %zu of the text\n", i);
                return 2;
            }
            printf("%d", id);
            for (int k = 0; k < LOGITS; k++)
                printf(" %.9g", (double)z[k]);
            printf("\n");
            i += n;
        }
        return done();
    }
#ifdef TEST_TAGGER
    if (argc == 3 && !strcmp(argv[1], "tag")) { /* the labels' names, one a line */
        static int labels[4096];
        size_t len = strlen(argv[2]);
        if (len > 4096)
            return 2;
        counting = 1;
        long n = F(_tag)(&s, argv[2], len, labels);
        counting = 0;
        for (long i = 0; i < n; i++)
            printf("%d %s\n", labels[i], F(_label_name)(labels[i]));
        return done();
    }
#else
    if (argc == 6 && !strcmp(argv[1], "sample")) {
        const char *prefix = argv[2];
        int len = atoi(argv[3]);
        double temperature = atof(argv[5]);
        counting = 1;
        F(_reset)(&s);
        F(_seed)(&s, strtoull(argv[4], NULL, 10));
        long fed = F(_feed)(&s, prefix, strlen(prefix));
        counting = 0;
        if (fed <= 0) {
            fprintf(stderr, "driver: the prefix is not in the vocabulary (%ld)\n", fed);
            return 2;
        }
        fputs(prefix, stdout);
        for (int k = 0; k < len; k++) {
            counting = 1;
            int id = F(_sample)(&s, temperature);
            counting = 0;
            fputs(F(_token)(id), stdout);
        }
        fputc('\n', stdout);
        return done();
    }
#endif
    if (argc == 2 && !strcmp(argv[1], "refuse")) {
        F(_reset)(&s);
        int bad = 0;
        if (F(_step)(&s, -1) || F(_step)(&s, VOCAB))
            bad = fprintf(stderr, "driver: an id out of range was fed\n");
#ifdef TEST_TAGGER
        if (F(_label)(&s) != -1)
            bad = fprintf(stderr, "driver: a label before any step\n");
        if (F(_label_name)(-1) || F(_label_name)(CAT(UPPER, _LABELS)))
            bad = fprintf(stderr, "driver: label names out of range\n");
#else
        if (F(_pick)(&s, 0) != -1)
            bad = fprintf(stderr, "driver: pick before any feed did not refuse\n");
        if (F(_feed)(&s, "ab\001c", 4) != -3)
            bad = fprintf(stderr, "driver: an unknown character was not refused at byte 2\n");
#endif
        if (F(_token)(-1) || F(_token)(VOCAB) || F(_token_id)("\001", 1) != -1)
            bad = fprintf(stderr, "driver: token lookups out of range\n");
        return bad ? 1 : 0;
    }
    fprintf(stderr, "usage: driver logits TEXT | sample PREFIX LEN SEED TEMPERATURE | refuse\n");
    return 2;
}
#endif
