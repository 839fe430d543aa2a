/*
 * rnnrt_ngram_io.c: n-gram model files (layout in rnnrt_ngram.h).
 *
 * A model file holds the counts, not the probabilities: 12 bytes per
 * n-gram, and the smoothing can be recomputed exactly on load. Saving is
 * atomic, as for checkpoints: the whole file is built in memory and
 * rnnrt_file_save writes it to "<path>.tmp" in the same directory, flushes,
 * fsyncs and renames it over <path>, then fsyncs the directory; any
 * failure deletes the tmp file and leaves an old model untouched, and
 * nothing says "saved" unless every step succeeded.
 *
 * Loading trusts nothing: the preamble is checked field by field, every
 * section's length and CRC32 before it is parsed, every id against its
 * table, every key for duplicates, and each n-gram's prefix must exist
 * (which is how the prefix ids are rebuilt). Corruption, truncation and
 * I/O failures are exit 3; a file of another kind, version or byte order
 * is exit 1.
 */
#include "rnnrt_ngram.h"

#include <stdlib.h>
#include <string.h>

#define MAGIC "RNNNGRM1"
#define ENDIAN_TAG 0x01020304u
#define PREAMBLE_BYTES 24
#define FRAME_BYTES 24
#define NSECTIONS 3
#define WHAT "an n-gram model file"

static const char *const section_names[NSECTIONS] = {"header", "vocab",
                                                     "counts"};

/* ---- writing (RnnrtBuf, rnnrt_file_save: rnnrt_file.c) ---- */

static void build_header(RnnrtBuf *b, const RnnrtNgram *g,
                         const RnnrtNgramMeta *m)
{
    rnnrt_buf_put_str(b, m->name);
    rnnrt_buf_put_u64(b, m->spec_hash);
    rnnrt_buf_put_str(b, m->tokens);
    rnnrt_buf_put_str(b, m->normalize);
    rnnrt_buf_put_f64(b, m->split);
    rnnrt_buf_put_u64(b, m->corpus_hash);
    rnnrt_buf_put_u32(b, (uint32_t)g->counted);
    rnnrt_buf_put_u32(b, (uint32_t)g->order);
    rnnrt_buf_put_u32(b, (uint32_t)g->opts.smoothing);
    rnnrt_buf_put_u32(b, 0);
    rnnrt_buf_put_f64(b, g->opts.k);
    rnnrt_buf_put_f64(b, g->opts.discount);
    rnnrt_buf_put_u64(b, g->ntokens);
    rnnrt_buf_put_u32(b, (uint32_t)g->V);
}

static void build_vocab(RnnrtBuf *b, const RnnrtVocab *v)
{
    rnnrt_buf_put_u32(b, (uint32_t)v->size);
    for (int i = 0; i < v->size; i++) {
        rnnrt_buf_put_str(b, v->tokens[i]);
        rnnrt_buf_put_u64(b, (uint64_t)v->counts[i]);
    }
}

static void build_counts(RnnrtBuf *b, const RnnrtNgram *g)
{
    for (int m = 1; m <= g->counted; m++) {
        const RnnrtNgramTable *t = &g->t[m];
        rnnrt_buf_put_u64(b, t->n);
        for (size_t id = 0; id < t->n; id++) {
            if (m > 1)
                rnnrt_buf_put_u64(b, t->key[id]);
            rnnrt_buf_put_u32(b, t->count[id]);
        }
    }
}

static void build_file(RnnrtBuf *out, const RnnrtNgram *g, const RnnrtVocab *v,
                       const RnnrtNgramMeta *meta)
{
    rnnrt_buf_put(out, MAGIC, 8);
    rnnrt_buf_put_u32(out, RNNRT_NGRAM_FILE_VERSION);
    rnnrt_buf_put_u32(out, ENDIAN_TAG);
    rnnrt_buf_put_u64(out, 0);
    RnnrtBuf s[NSECTIONS] = {{.what = WHAT}, {.what = WHAT}, {.what = WHAT}};
    build_header(&s[0], g, meta);
    build_vocab(&s[1], v);
    build_counts(&s[2], g);
    for (int i = 0; i < NSECTIONS; i++) {
        rnnrt_buf_put_section(out, section_names[i], s[i].p, s[i].n);
        rnnrt_buf_free(&s[i]);
    }
}

int rnnrt_ngram_save(const char *path, const RnnrtNgram *g,
                     const RnnrtVocab *v, const RnnrtNgramMeta *meta,
                     RnnrtError *err)
{
    if (!g->order)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "internal error: saving an n-gram model that was "
                           "not built");
    RnnrtBuf b = {.what = WHAT};
    build_file(&b, g, v, meta);
    RnnrtSaveStage stage;
    int e = rnnrt_file_save(path, rnnrt_file_write_buf, &b, &stage);
    rnnrt_buf_free(&b);
    return rnnrt_ngram_save_error(path, "the model", stage, e, err);
}

int rnnrt_ngram_save_error(const char *path, const char *what,
                           RnnrtSaveStage stage, int e, RnnrtError *err)
{
    if (stage == RNNRT_SAVE_LONG_PATH)
        return rnnrt_error(err, RNNRT_EXIT_IO, "path too long: '%s'", path);
    if (stage == RNNRT_SAVE_SYNC_DIR)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "saved '%s' but cannot sync its directory: %s",
                           path, strerror(e));
    if (e)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot save %s to '%s': %s (nothing was "
                           "written; an older file there is unchanged)",
                           what, path, strerror(e));
    return 0;
}

/* ---- reading ---- */

/* A length-prefixed string into dst (cap bytes with the NUL). */
static void get_str(RnnrtReader *r, char *dst, size_t cap)
{
    size_t n;
    const char *s = rnnrt_reader_str(r, &n);
    if (n >= cap)
        r->bad = 1;
    if (r->bad)
        n = 0;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int check_preamble(const char *path, RnnrtReader *r, RnnrtError *err)
{
    char magic[8];
    rnnrt_reader_get(r, magic, 8);
    uint32_t version = rnnrt_reader_u32(r), tag = rnnrt_reader_u32(r);
    rnnrt_reader_u64(r);
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
static int check_sections(const char *path, RnnrtReader *r, RnnrtReader *sec,
                          RnnrtError *err)
{
    for (int i = 0; i < NSECTIONS; i++) {
        char tag[8], want[8] = {0};
        rnnrt_reader_get(r, tag, 8);
        uint64_t len = rnnrt_reader_u64(r);
        uint32_t crc = rnnrt_reader_u32(r);
        rnnrt_reader_u32(r);
        if (r->bad || len > r->n - r->pos)
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is truncated in section '%s'", path,
                               section_names[i]);
        memcpy(want, section_names[i], strlen(section_names[i]));
        if (memcmp(tag, want, 8))
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is corrupt: expected section '%s'",
                               path, section_names[i]);
        sec[i] = (RnnrtReader){r->p + r->pos, (size_t)len, 0, 0};
        if (rnnrt_crc32(0, sec[i].p, sec[i].n) != crc)
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is corrupt: the CRC of section '%s' "
                               "does not match", path, section_names[i]);
        r->pos += (size_t)len;
    }
    return 0;
}

static int parse_header(RnnrtReader *r, RnnrtNgram *g, RnnrtNgramMeta *m,
                        RnnrtNgramOpts *o)
{
    get_str(r, m->name, sizeof m->name);
    m->spec_hash = rnnrt_reader_u64(r);
    get_str(r, m->tokens, sizeof m->tokens);
    get_str(r, m->normalize, sizeof m->normalize);
    m->split = rnnrt_reader_f64(r);
    m->corpus_hash = rnnrt_reader_u64(r);
    g->counted = (int)rnnrt_reader_u32(r);
    o->order = (int)rnnrt_reader_u32(r);
    o->smoothing = (RnnrtSmoothing)rnnrt_reader_u32(r);
    rnnrt_reader_u32(r);
    o->k = rnnrt_reader_f64(r);
    o->discount = rnnrt_reader_f64(r);
    g->ntokens = rnnrt_reader_u64(r);
    uint32_t V = rnnrt_reader_u32(r);
    g->V = (int)V;
    g->npred = g->V - 2;
    return r->bad || g->counted < 1 || g->counted > RNNRT_NGRAM_MAX_ORDER ||
           o->order > g->counted || V <= RNNRT_EOS || V > INT32_MAX / 2;
}

static int parse_vocab(RnnrtReader *r, RnnrtVocab *v, int V)
{
    rnnrt_vocab_init(v);
    uint32_t n = rnnrt_reader_u32(r);
    if (r->bad || n != (uint32_t)V)
        return 1;
    char *tok = rnnrt_xcalloc(r->n + 1, 1, "vocabulary token");
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        get_str(r, tok, r->n + 1);
        int64_t count = (int64_t)rnnrt_reader_u64(r);
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

static int parse_unigrams(RnnrtReader *r, RnnrtNgram *g, uint64_t n)
{
    RnnrtNgramTable *t = &g->t[1];
    if (n != (uint64_t)g->V)
        return 1;
    rnnrt_ngram_table_unigrams(t, g->V);
    for (size_t w = 0; w < t->n; w++)
        t->count[w] = rnnrt_reader_u32(r);
    return r->bad || t->count[RNNRT_PAD] || t->count[RNNRT_BOS];
}

static int parse_order(RnnrtReader *r, RnnrtNgram *g, int m)
{
    RnnrtNgramTable *t = &g->t[m];
    uint64_t n = rnnrt_reader_u64(r);
    if (r->bad || n > (r->n - r->pos) / (m == 1 ? 4 : 12))
        return 1;
    if (m == 1)
        return parse_unigrams(r, g, n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = rnnrt_reader_u64(r);
        uint32_t count = rnnrt_reader_u32(r), s = (uint32_t)(key >> 32);
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

static int parse_counts(RnnrtReader *r, RnnrtNgram *g)
{
    for (int m = 1; m <= g->counted; m++)
        if (parse_order(r, g, m))
            return 1;
    uint64_t total = 0;
    for (int w = 0; w < g->V; w++)
        total += g->t[1].count[w];
    return r->pos != r->n || total != g->ntokens;
}

static int load_bytes(const char *path, const unsigned char *p, size_t n,
                      RnnrtNgram *g, RnnrtVocab *v, RnnrtNgramMeta *meta,
                      RnnrtError *err)
{
    RnnrtReader r = {p, n, 0, 0}, sec[NSECTIONS];
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
