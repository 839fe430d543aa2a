/*
 * rnnrt_ngram_io.c: n-gram model files (layout in rnnrt_ngram.h).
 *
 * A model file holds the counts, not the probabilities: 12 bytes per
 * n-gram, and the smoothing can be recomputed exactly on load. Saving is
 * atomic, as for checkpoints: the whole file is built in memory, written
 * to "<path>.tmp" in the same directory, flushed, fsync'ed and renamed over
 * <path>, then the directory is fsync'ed; any failure deletes the tmp file
 * and leaves an old model untouched, and nothing says "saved" unless every
 * step succeeded.
 *
 * Loading trusts nothing: the preamble is checked field by field, every
 * section's length and CRC32 before it is parsed, every id against its
 * table, every key for duplicates, and each n-gram's prefix must exist
 * (which is how the prefix ids are rebuilt). Corruption, truncation and
 * I/O failures are exit 3; a file of another kind, version or byte order
 * is exit 1.
 */
#include "rnnrt_ngram.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "RNNNGRM1"
#define ENDIAN_TAG 0x01020304u
#define PREAMBLE_BYTES 24
#define FRAME_BYTES 24
#define NSECTIONS 3

static const char *const section_names[NSECTIONS] = {"header", "vocab",
                                                     "counts"};

/* ---- writing ---- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *grown = realloc(b->p, cap);
        if (!grown) {
            fprintf(stderr, "error: out of memory building an n-gram model "
                            "file (%zu bytes)\n", cap);
            exit(RNNRT_EXIT_IO);
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void put_u32(Buf *b, uint32_t v) { put(b, &v, sizeof v); }
static void put_u64(Buf *b, uint64_t v) { put(b, &v, sizeof v); }
static void put_f64(Buf *b, double v) { put(b, &v, sizeof v); }

static void put_str(Buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static void build_header(Buf *b, const RnnrtNgram *g, const RnnrtNgramMeta *m)
{
    put_str(b, m->name);
    put_u64(b, m->spec_hash);
    put_str(b, m->tokens);
    put_str(b, m->normalize);
    put_f64(b, m->split);
    put_u64(b, m->corpus_hash);
    put_u32(b, (uint32_t)g->counted);
    put_u32(b, (uint32_t)g->order);
    put_u32(b, (uint32_t)g->opts.smoothing);
    put_u32(b, 0);
    put_f64(b, g->opts.k);
    put_f64(b, g->opts.discount);
    put_u64(b, g->ntokens);
    put_u32(b, (uint32_t)g->V);
}

static void build_vocab(Buf *b, const RnnrtVocab *v)
{
    put_u32(b, (uint32_t)v->size);
    for (int i = 0; i < v->size; i++) {
        put_str(b, v->tokens[i]);
        put_u64(b, (uint64_t)v->counts[i]);
    }
}

static void build_counts(Buf *b, const RnnrtNgram *g)
{
    for (int m = 1; m <= g->counted; m++) {
        const RnnrtNgramTable *t = &g->t[m];
        put_u64(b, t->n);
        for (size_t id = 0; id < t->n; id++) {
            if (m > 1)
                put_u64(b, t->key[id]);
            put_u32(b, t->count[id]);
        }
    }
}

static void frame(Buf *out, const char *name, const Buf *payload)
{
    char tag[8] = {0};
    memcpy(tag, name, strlen(name));
    put(out, tag, sizeof tag);
    put_u64(out, payload->n);
    put_u32(out, rnnrt_crc32(0, payload->p, payload->n));
    put_u32(out, 0);
    put(out, payload->p, payload->n);
}

static void build_file(Buf *out, const RnnrtNgram *g, const RnnrtVocab *v,
                       const RnnrtNgramMeta *meta)
{
    put(out, MAGIC, 8);
    put_u32(out, RNNRT_NGRAM_FILE_VERSION);
    put_u32(out, ENDIAN_TAG);
    put_u64(out, 0);
    Buf s[NSECTIONS] = {{0}};
    build_header(&s[0], g, meta);
    build_vocab(&s[1], v);
    build_counts(&s[2], g);
    for (int i = 0; i < NSECTIONS; i++) {
        frame(out, section_names[i], &s[i]);
        free(s[i].p);
    }
}

/* fsync of the directory holding path, so the rename survives a crash. */
static int sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int fd = open(dirname(copy), O_RDONLY);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(const char *tmp, const Buf *b)
{
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int ok = fwrite(b->p, 1, b->n, f) == b->n;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok && saved)
        errno = saved;
    return ok ? 0 : -1;
}

int rnnrt_ngram_save(const char *path, const RnnrtNgram *g,
                     const RnnrtVocab *v, const RnnrtNgramMeta *meta,
                     RnnrtError *err)
{
    if (!g->order)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "internal error: saving an n-gram model that was "
                           "not built");
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return rnnrt_error(err, RNNRT_EXIT_IO, "path too long: '%s'", path);
    Buf b = {0};
    build_file(&b, g, v, meta);
    int rc = write_all(tmp, &b);
    free(b.p);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0) {
        int saved = errno;
        unlink(tmp);
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot save the model to '%s': %s (nothing was "
                           "written; an older file there is unchanged)",
                           path, strerror(saved));
    }
    if (sync_dir(path) != 0)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "saved '%s' but cannot sync its directory: %s",
                           path, strerror(errno));
    return 0;
}

/* ---- reading ---- */

typedef struct {
    const unsigned char *p;
    size_t n, at;
    int bad; /* read past the end */
} Reader;

static void get(Reader *r, void *dst, size_t n)
{
    if (r->bad || n > r->n - r->at) {
        r->bad = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p + r->at, n);
    r->at += n;
}

static uint32_t get_u32(Reader *r)
{
    uint32_t v;
    get(r, &v, sizeof v);
    return v;
}

static uint64_t get_u64(Reader *r)
{
    uint64_t v;
    get(r, &v, sizeof v);
    return v;
}

static double get_f64(Reader *r)
{
    double v;
    get(r, &v, sizeof v);
    return v;
}

/* A length-prefixed string into dst (cap bytes with the NUL). */
static void get_str(Reader *r, char *dst, size_t cap)
{
    uint32_t n = get_u32(r);
    if (r->bad || n >= cap || n > r->n - r->at) {
        r->bad = 1;
        dst[0] = '\0';
        return;
    }
    get(r, dst, n);
    dst[n] = '\0';
}

static int check_preamble(const char *path, Reader *r, RnnrtError *err)
{
    char magic[8];
    get(r, magic, 8);
    uint32_t version = get_u32(r), tag = get_u32(r);
    get_u64(r);
    if (r->bad)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "'%s' is truncated (%zu bytes): not even the "
                           "preamble is complete", path, r->n);
    if (memcmp(magic, MAGIC, 8))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' is not an rnnc n-gram model (no " MAGIC
                           " magic)", path);
    if (tag != ENDIAN_TAG)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' was written on a machine of the other byte "
                           "order", path);
    if (version != RNNRT_NGRAM_FILE_VERSION)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' has format version %u; this runtime reads "
                           "version %d", path, version,
                           RNNRT_NGRAM_FILE_VERSION);
    return 0;
}

/* Checks every frame and CRC; fills each section's reader. */
static int check_sections(const char *path, Reader *r, Reader *sec,
                          RnnrtError *err)
{
    for (int i = 0; i < NSECTIONS; i++) {
        char tag[8], want[8] = {0};
        get(r, tag, 8);
        uint64_t len = get_u64(r);
        uint32_t crc = get_u32(r);
        get_u32(r);
        if (r->bad || len > r->n - r->at)
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is truncated in section '%s'", path,
                               section_names[i]);
        memcpy(want, section_names[i], strlen(section_names[i]));
        if (memcmp(tag, want, 8))
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is corrupt: expected section '%s'",
                               path, section_names[i]);
        sec[i] = (Reader){r->p + r->at, (size_t)len, 0, 0};
        if (rnnrt_crc32(0, sec[i].p, sec[i].n) != crc)
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is corrupt: the CRC of section '%s' "
                               "does not match", path, section_names[i]);
        r->at += (size_t)len;
    }
    return 0;
}

static int parse_header(Reader *r, RnnrtNgram *g, RnnrtNgramMeta *m,
                        RnnrtNgramOpts *o)
{
    get_str(r, m->name, sizeof m->name);
    m->spec_hash = get_u64(r);
    get_str(r, m->tokens, sizeof m->tokens);
    get_str(r, m->normalize, sizeof m->normalize);
    m->split = get_f64(r);
    m->corpus_hash = get_u64(r);
    g->counted = (int)get_u32(r);
    o->order = (int)get_u32(r);
    o->smoothing = (RnnrtSmoothing)get_u32(r);
    get_u32(r);
    o->k = get_f64(r);
    o->discount = get_f64(r);
    g->ntokens = get_u64(r);
    uint32_t V = get_u32(r);
    g->V = (int)V;
    g->npred = g->V - 2;
    return r->bad || g->counted < 1 || g->counted > RNNRT_NGRAM_MAX_ORDER ||
           o->order > g->counted || V <= RNNRT_EOS || V > INT32_MAX / 2;
}

static int parse_vocab(Reader *r, RnnrtVocab *v, int V)
{
    rnnrt_vocab_init(v);
    uint32_t n = get_u32(r);
    if (r->bad || n != (uint32_t)V)
        return 1;
    char *tok = rnnrt_xcalloc(r->n + 1, 1, "vocabulary token");
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        get_str(r, tok, r->n + 1);
        int64_t count = (int64_t)get_u64(r);
        if (r->bad)
            break;
        if (i < 4) {
            if (strcmp(tok, v->tokens[i]))
                r->bad = 1;
        } else if (rnnrt_vocab_add(v, tok, strlen(tok), count) < 0) {
            r->bad = 1; /* duplicate token */
        }
    }
    free(tok);
    return r->bad;
}

/* The prefix of n-gram (suffix s, first) of order m: the (m-1)-gram
 * first + prefix(s), which must exist. */
static uint32_t prefix_of(const RnnrtNgram *g, int m, uint32_t s,
                          int32_t first)
{
    if (m == 2)
        return (uint32_t)first;
    uint32_t ps = g->t[m - 1].prefix[s];
    uint64_t h = rnnrt_ngram_hash_ext(rnnrt_ngram_hash_of(g, m - 2, ps),
                                      first);
    return rnnrt_ngram_find(&g->t[m - 1], rnnrt_ngram_key(ps, first), h);
}

static int parse_unigrams(Reader *r, RnnrtNgram *g, uint64_t n)
{
    RnnrtNgramTable *t = &g->t[1];
    if (n != (uint64_t)g->V)
        return 1;
    rnnrt_ngram_table_unigrams(t, g->V);
    for (size_t w = 0; w < t->n; w++)
        t->count[w] = get_u32(r);
    return r->bad || t->count[RNNRT_PAD] || t->count[RNNRT_BOS];
}

static int parse_order(Reader *r, RnnrtNgram *g, int m)
{
    RnnrtNgramTable *t = &g->t[m];
    uint64_t n = get_u64(r);
    if (r->bad || n > (r->n - r->at) / (m == 1 ? 4 : 12))
        return 1;
    if (m == 1)
        return parse_unigrams(r, g, n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = get_u64(r);
        uint32_t count = get_u32(r), s = (uint32_t)(key >> 32);
        int32_t first = (int32_t)(uint32_t)key;
        if (r->bad || !count || s >= g->t[m - 1].n || first < 0 ||
            first >= g->V || first == RNNRT_PAD ||
            (m == 2 && (s == RNNRT_PAD || s == RNNRT_BOS)))
            return 1;
        uint32_t p = prefix_of(g, m, s, first);
        uint64_t h = rnnrt_ngram_hash_ext(rnnrt_ngram_hash_of(g, m - 1, s),
                                          first);
        size_t before = t->n;
        if (p == RNNRT_NGRAM_NONE ||
            rnnrt_ngram_add(t, key, h, p, count) != before)
            return 1; /* no prefix, or a duplicate */
    }
    rnnrt_ngram_table_finish(t);
    return 0;
}

static int parse_counts(Reader *r, RnnrtNgram *g)
{
    for (int m = 1; m <= g->counted; m++)
        if (parse_order(r, g, m))
            return 1;
    uint64_t total = 0;
    for (int w = 0; w < g->V; w++)
        total += g->t[1].count[w];
    return r->at != r->n || total != g->ntokens;
}

static int load_bytes(const char *path, const unsigned char *p, size_t n,
                      RnnrtNgram *g, RnnrtVocab *v, RnnrtNgramMeta *meta,
                      RnnrtError *err)
{
    Reader r = {p, n, 0, 0}, sec[NSECTIONS];
    int rc = check_preamble(path, &r, err);
    if (!rc)
        rc = check_sections(path, &r, sec, err);
    if (rc)
        return rc;
    RnnrtNgramOpts o;
    const char *bad = NULL;
    if (parse_header(&sec[0], g, meta, &o))
        bad = "header";
    else if (parse_vocab(&sec[1], v, g->V))
        bad = "vocab";
    else if (parse_counts(&sec[2], g))
        bad = "counts";
    if (bad)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "'%s' is corrupt: section '%s' does not parse "
                           "(its CRC matched, so the writer was faulty)",
                           path, bad);
    RnnrtError why = {0};
    if (rnnrt_ngram_build(g, &o, &why))
        return rnnrt_error(err, RNNRT_EXIT_DATA, "'%s': %s", path, why.msg);
    return 0;
}

int rnnrt_ngram_load(const char *path, RnnrtNgram *g, RnnrtVocab *v,
                     RnnrtNgramMeta *meta, RnnrtError *err)
{
    memset(g, 0, sizeof *g);
    memset(v, 0, sizeof *v);
    memset(meta, 0, sizeof *meta);
    char *data;
    size_t n;
    int rc = rnnrt_file_read(path, (size_t)1 << 34, &data, &n, err);
    if (rc)
        return rc;
    rc = load_bytes(path, (const unsigned char *)data, n, g, v, meta, err);
    free(data);
    if (rc) {
        rnnrt_ngram_free(g);
        if (v->lookup)
            rnnrt_vocab_free(v);
    }
    return rc;
}
