/*
 * rnnrt_ckpt.c: checkpoints that survive crashes and explain themselves.
 *
 * Saving never touches the old checkpoint until the new one is complete:
 * everything goes to "<path>.tmp" in the same directory, then fflush, fsync,
 * fclose, rename over <path>, and fsync of the directory so the rename
 * itself is durable. Every write is checked; on any failure the tmp file is
 * deleted, the old checkpoint stays, and the error carries errno.
 *
 * The format (see rnnrt.h) is a fixed preamble (magic, version, byte order,
 * sizeof(real)) and five sections, each with its length and CRC32 (four
 * in version 1, which had no optimizer state). Loading
 * reads the whole file, checks the preamble field by field, then every
 * section's frame and CRC, and only then parses, comparing the model name,
 * spec hash and parameter shapes with the trainer's own. Every refusal names
 * what is wrong: truncation and corruption (naming the section) are I/O
 * errors (exit 3); a checkpoint of another model, spec, dtype, format
 * version or byte order is a data error (exit 1).
 */
#include "rnnrt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "RNNCKPT1"
#define ENDIAN_TAG 0x01020304u
#define PREAMBLE_BYTES 24
#define FRAME_BYTES 24

static const char *const section_names[] = {"header", "vocab", "params",
                                            "train", "optim"};
enum { MAX_SECTIONS = 5 };

/* ---- CRC32 (IEEE 802.3, reflected, as zlib's crc32) ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t rnnrt_crc32(uint32_t crc, const void *data, size_t n)
{
    if (!crc_table[1])
        crc_init();
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ---- building section payloads in memory ---- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *grown = realloc(b->p, cap);
        if (!grown) {
            fprintf(stderr, "error: out of memory building a checkpoint "
                            "(%zu bytes)\n", cap);
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
static void put_i64(Buf *b, int64_t v) { put(b, &v, sizeof v); }
static void put_f64(Buf *b, double v) { put(b, &v, sizeof v); }

static void put_str(Buf *b, const char *s)
{
    size_t n = strlen(s);
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

/* header: name, spec_hash, V, nparams, state_size, per param: name, ndim,
 * dims[2] */
static void build_header(Buf *b, const RnnrtModel *m, const RnnrtParams *p,
                         int V)
{
    put_str(b, m->name);
    put_u64(b, m->spec_hash);
    put_u32(b, (uint32_t)V);
    put_u32(b, (uint32_t)m->nparams);
    put_u32(b, (uint32_t)m->state_size);
    for (int i = 0; i < m->nparams; i++) {
        put_str(b, m->params[i].name);
        put_u32(b, (uint32_t)m->params[i].ndim);
        put_u32(b, (uint32_t)p->dims[i][0]);
        put_u32(b, (uint32_t)p->dims[i][1]);
    }
}

static void build_vocab(Buf *b, const RnnrtVocab *v)
{
    put_u32(b, (uint32_t)v->size);
    for (int i = 0; i < v->size; i++) {
        put_str(b, v->tokens[i]);
        put_i64(b, v->counts[i]);
    }
}

static void build_train(Buf *b, const RnnrtTrainState *ts)
{
    put_i64(b, ts->epoch);
    put_i64(b, ts->batch);
    put_i64(b, ts->step);
    put_i64(b, ts->tokens);
    put_f64(b, ts->lr);
    put_u32(b, (uint32_t)ts->halvings);
    put_u32(b, (uint32_t)ts->B);
    put_u32(b, (uint32_t)ts->T);
    put_u32(b, (uint32_t)ts->sampler);
    for (int i = 0; i < 4; i++)
        put_u64(b, ts->rng.s[i]);
    for (int i = 0; i < 4; i++)
        put_u64(b, ts->epoch_rng.s[i]);
    put_u64(b, ts->corpus_hash);
    put_u32(b, (uint32_t)ts->S);
    size_t n = ts->state ? (size_t)ts->B * (size_t)ts->S : 0;
    put_u64(b, n);
    put(b, ts->state, n * sizeof(real));
}

/* optim: name, momentum, beta1, beta2, eps, t, n, then the moments (m1,
 * then m2 for Adam). No optimizer = plain SGD without state. */
static void build_optim(Buf *b, const RnnrtOptim *o, size_t nparams)
{
    RnnrtOptim sgd;
    if (!o) {
        memset(&sgd, 0, sizeof sgd);
        sgd.n = nparams;
        o = &sgd;
    }
    put_str(b, rnnrt_optim_name(o->kind));
    put_f64(b, o->momentum);
    put_f64(b, o->beta1);
    put_f64(b, o->beta2);
    put_f64(b, o->eps);
    put_i64(b, o->t);
    put_u64(b, o->n);
    size_t ns = rnnrt_optim_state_size(o);
    put_u64(b, ns);
    if (o->m1 && ns)
        put(b, o->m1, o->n * sizeof(real));
    if (o->m2 && ns == 2 * o->n)
        put(b, o->m2, o->n * sizeof(real));
}

/* ---- writing ---- */

typedef struct {
    FILE *f;
    int err; /* errno of the first failure, 0 = none */
} Out;

static void out_write(Out *o, const void *p, size_t n)
{
    if (o->err || n == 0)
        return;
    errno = 0;
    if (fwrite(p, 1, n, o->f) != n)
        o->err = errno ? errno : EIO;
}

static void write_section(Out *o, const char *name, const void *data,
                          size_t n)
{
    char tag[8] = {0};
    memcpy(tag, name, strlen(name));
    uint64_t len = n;
    uint32_t crc = rnnrt_crc32(0, data, n), zero = 0;
    out_write(o, tag, sizeof tag);
    out_write(o, &len, sizeof len);
    out_write(o, &crc, sizeof crc);
    out_write(o, &zero, sizeof zero);
    out_write(o, data, n);
}

static int tmp_path(const char *path, char *out, size_t cap, RnnrtError *err)
{
    if ((size_t)snprintf(out, cap, "%s.tmp", path) >= cap)
        return rnnrt_error(err, RNNRT_EXIT_IO, "checkpoint path too long: "
                                               "'%s'", path);
    return 0;
}

/* fsync the directory holding path, so the rename is on disk. */
static int sync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : errno;
    close(fd);
    return rc;
}

static void write_all(Out *o, const RnnrtModel *m, const RnnrtVocab *v,
                      const RnnrtParams *p, const RnnrtTrainState *ts)
{
    Buf header = {0}, vocab = {0}, train = {0}, optim = {0};
    build_header(&header, m, p, v->size);
    build_vocab(&vocab, v);
    build_train(&train, ts);
    build_optim(&optim, ts->optim, p->total);
    uint32_t pre[4] = {RNNRT_CKPT_VERSION, ENDIAN_TAG, (uint32_t)sizeof(real),
                       0};
    out_write(o, MAGIC, 8);
    out_write(o, pre, sizeof pre);
    write_section(o, "header", header.p, header.n);
    write_section(o, "vocab", vocab.p, vocab.n);
    write_section(o, "params", p->params, p->total * sizeof(real));
    write_section(o, "train", train.p, train.n);
    write_section(o, "optim", optim.p, optim.n);
    free(header.p);
    free(vocab.p);
    free(train.p);
    free(optim.p);
}

int rnnrt_ckpt_save(const char *path, const RnnrtModel *m,
                    const RnnrtVocab *v, const RnnrtParams *p,
                    const RnnrtTrainState *ts, RnnrtError *err)
{
    char tmp[4096];
    int rc = tmp_path(path, tmp, sizeof tmp, err);
    if (rc)
        return rc;
    Out o = {fopen(tmp, "wb"), 0};
    if (!o.f)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot write checkpoint '%s': %s (the previous "
                           "checkpoint, if any, is unchanged)", tmp,
                           strerror(errno));
    write_all(&o, m, v, p, ts);
    errno = 0;
    if (!o.err && fflush(o.f) != 0)
        o.err = errno ? errno : EIO;
    if (!o.err && fsync(fileno(o.f)) != 0)
        o.err = errno;
    errno = 0;
    if (fclose(o.f) != 0 && !o.err)
        o.err = errno ? errno : EIO;
    if (!o.err && rename(tmp, path) != 0)
        o.err = errno;
    if (o.err) {
        remove(tmp);
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot write checkpoint '%s': %s (the previous "
                           "checkpoint, if any, is unchanged)", path,
                           strerror(o.err));
    }
    int e = sync_dir(path);
    if (e)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "checkpoint '%s' written, but syncing its "
                           "directory failed: %s", path, strerror(e));
    return 0;
}

int rnnrt_ckpt_remove_stale(const char *path, RnnrtError *err)
{
    char tmp[4096];
    int rc = tmp_path(path, tmp, sizeof tmp, err);
    if (rc)
        return rc;
    if (unlink(tmp) != 0 && errno != ENOENT)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot remove stale '%s': %s", tmp,
                           strerror(errno));
    return 0;
}

int rnnrt_ckpt_probe(const char *path, RnnrtError *err)
{
    char tmp[4096];
    int rc = tmp_path(path, tmp, sizeof tmp, err);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "checkpoint path '%s' is a directory", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot write checkpoints: creating '%s' failed: "
                           "%s", tmp, strerror(errno));
    int bad = fclose(f) != 0;
    int e = errno;
    remove(tmp);
    if (bad)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot write checkpoints to '%s': %s", tmp,
                           strerror(e));
    return 0;
}

/* ---- reading ---- */

/* A bounds-checked cursor over one section's payload. */
typedef struct {
    const unsigned char *p;
    size_t n, pos;
    int bad; /* read past the end */
} Rd;

static void get(Rd *r, void *out, size_t n)
{
    if (r->bad || r->n - r->pos < n) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
}

static uint32_t get_u32(Rd *r) { uint32_t v; get(r, &v, sizeof v); return v; }
static uint64_t get_u64(Rd *r) { uint64_t v; get(r, &v, sizeof v); return v; }
static int64_t get_i64(Rd *r) { int64_t v; get(r, &v, sizeof v); return v; }
static double get_f64(Rd *r) { double v; get(r, &v, sizeof v); return v; }

/* A length-prefixed string, pointing into the payload (not terminated). */
static const char *get_str(Rd *r, size_t *len)
{
    *len = get_u32(r);
    if (r->bad || r->n - r->pos < *len) {
        r->bad = 1;
        *len = 0;
        return "";
    }
    const char *s = (const char *)r->p + r->pos;
    r->pos += *len;
    return s;
}

static int str_is(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && !memcmp(s, want, n);
}

static uint32_t bswap32(uint32_t x)
{
    return (x >> 24) | ((x >> 8) & 0xFF00u) | ((x << 8) & 0xFF0000u) |
           (x << 24);
}

static const char *real_name(uint32_t size)
{
    return size == 4 ? "float" : size == 8 ? "double" : "unknown";
}

static int check_preamble(const char *path, const unsigned char *d, size_t n,
                          int *nsections, RnnrtError *err)
{
    if (n < PREAMBLE_BYTES)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "'%s' is truncated: %zu bytes, shorter than the "
                           "%d-byte checkpoint preamble", path, n,
                           PREAMBLE_BYTES);
    if (memcmp(d, MAGIC, 8))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' is not an rnnc checkpoint (bad magic)", path);
    uint32_t pre[4];
    memcpy(pre, d + 8, sizeof pre);
    if (pre[1] == bswap32(ENDIAN_TAG))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' was written on a machine with the other byte "
                           "order; it cannot be loaded here", path);
    if (pre[1] != ENDIAN_TAG || pre[3] != 0)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "'%s' is corrupt: bad byte-order tag in the "
                           "preamble", path);
    if (pre[0] != RNNRT_CKPT_VERSION && pre[0] != 1)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' has checkpoint format version %u; this "
                           "trainer reads versions 1 to %d", path, pre[0],
                           RNNRT_CKPT_VERSION);
    *nsections = pre[0] == 1 ? 4 : 5;
    if (pre[2] != sizeof(real))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' holds %s parameters but this trainer is "
                           "built with %s; use the %s build of the model",
                           path, real_name(pre[2]), RNNRT_REAL_NAME,
                           pre[2] == 8 ? "double (_d)" : "float");
    return 0;
}

/* Checks the frames and CRCs of all sections; fills sec[]. */
static int check_sections(const char *path, const unsigned char *d, size_t n,
                          Rd *sec, int nsections, RnnrtError *err)
{
    size_t pos = PREAMBLE_BYTES;
    for (int i = 0; i < nsections; i++) {
        const char *name = section_names[i];
        if (n - pos < FRAME_BYTES)
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is truncated: section '%s' is missing "
                               "(the file ends at byte %zu)", path, name, n);
        char tag[9] = {0};
        memcpy(tag, d + pos, 8);
        if (strcmp(tag, name))
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is corrupt: expected section '%s' at "
                               "byte %zu", path, name, pos);
        uint64_t len;
        uint32_t crc;
        memcpy(&len, d + pos + 8, 8);
        memcpy(&crc, d + pos + 16, 4);
        pos += FRAME_BYTES;
        if (len > n - pos)
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is truncated in section '%s': it needs "
                               "%llu bytes, %zu are left", path, name,
                               (unsigned long long)len, n - pos);
        uint32_t got = rnnrt_crc32(0, d + pos, (size_t)len);
        if (got != crc)
            return rnnrt_error(err, RNNRT_EXIT_IO,
                               "'%s' is corrupt: section '%s' fails its CRC32 "
                               "check (stored %08x, computed %08x)", path,
                               name, crc, got);
        sec[i] = (Rd){d + pos, (size_t)len, 0, 0};
        pos += (size_t)len;
    }
    if (pos != n)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "'%s' is corrupt: %zu unexpected bytes after the "
                           "last section", path, n - pos);
    return 0;
}

static int malformed(const char *path, const char *section, RnnrtError *err)
{
    return rnnrt_error(err, RNNRT_EXIT_IO,
                       "'%s' is corrupt: section '%s' is malformed", path,
                       section);
}

/* Compares the header with the trainer's model; allocates p for its V. */
static int read_header(const char *path, Rd *r, const RnnrtModel *m,
                       RnnrtParams *p, int *Vout, RnnrtError *err)
{
    size_t len;
    const char *name = get_str(r, &len);
    uint64_t hash = get_u64(r);
    uint32_t V = get_u32(r), np = get_u32(r), S = get_u32(r);
    if (r->bad || V > INT32_MAX)
        return malformed(path, "header", err);
    if (!str_is(name, len, m->name))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' holds model '%.*s', but this trainer is "
                           "model '%s'", path, (int)len, name, m->name);
    if (hash != m->spec_hash)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' was trained from a different version of the "
                           "spec (spec hash %016llx; this trainer's %s has "
                           "%016llx); retrain, or use the trainer it was "
                           "made with", path, (unsigned long long)hash,
                           m->spec_path, (unsigned long long)m->spec_hash);
    if (np != (uint32_t)m->nparams || S != (uint32_t)m->state_size)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' has %u parameters and state size %u; the "
                           "model has %d and %d", path, np, S, m->nparams,
                           m->state_size);
    int rc = rnnrt_params_init(p, m, (int)V, err);
    if (rc)
        return rc;
    *Vout = (int)V;
    for (int i = 0; i < m->nparams; i++) {
        const char *pn = get_str(r, &len);
        uint32_t nd = get_u32(r), d0 = get_u32(r), d1 = get_u32(r);
        if (r->bad)
            return malformed(path, "header", err);
        if (!str_is(pn, len, m->params[i].name) ||
            nd != (uint32_t)m->params[i].ndim ||
            d0 != (uint32_t)p->dims[i][0] || d1 != (uint32_t)p->dims[i][1])
            return rnnrt_error(err, RNNRT_EXIT_DATA,
                               "'%s': parameter %d is '%.*s' %ux%u, but the "
                               "model's is '%s' %dx%d", path, i, (int)len, pn,
                               d0, d1, m->params[i].name, p->dims[i][0],
                               p->dims[i][1]);
    }
    return r->pos == r->n ? 0 : malformed(path, "header", err);
}

static int read_vocab(const char *path, Rd *r, int V, RnnrtVocab *v,
                      RnnrtError *err)
{
    rnnrt_vocab_init(v);
    uint32_t size = get_u32(r);
    if (r->bad || size != (uint32_t)V || size < 4)
        return malformed(path, "vocab", err);
    for (uint32_t i = 0; i < size; i++) {
        size_t len;
        const char *tok = get_str(r, &len);
        int64_t count = get_i64(r);
        if (r->bad || memchr(tok, 0, len))
            return malformed(path, "vocab", err);
        if (i < 4) {
            if (!str_is(tok, len, v->tokens[i]))
                return malformed(path, "vocab", err);
            v->counts[i] = count;
        } else if (rnnrt_vocab_add(v, tok, len, count) < 0) {
            return malformed(path, "vocab", err);
        }
    }
    return r->pos == r->n ? 0 : malformed(path, "vocab", err);
}

static int read_train(const char *path, Rd *r, const RnnrtModel *m,
                      RnnrtTrainState *ts, RnnrtError *err)
{
    ts->epoch = get_i64(r);
    ts->batch = get_i64(r);
    ts->step = get_i64(r);
    ts->tokens = get_i64(r);
    ts->lr = get_f64(r);
    ts->halvings = (int32_t)get_u32(r);
    ts->B = (int32_t)get_u32(r);
    ts->T = (int32_t)get_u32(r);
    ts->sampler = (int32_t)get_u32(r);
    for (int i = 0; i < 4; i++)
        ts->rng.s[i] = get_u64(r);
    for (int i = 0; i < 4; i++)
        ts->epoch_rng.s[i] = get_u64(r);
    ts->corpus_hash = get_u64(r);
    ts->S = (int)get_u32(r);
    uint64_t n = get_u64(r);
    if (r->bad || ts->B <= 0 || ts->T <= 0 || ts->S != m->state_size ||
        ts->epoch < 0 || ts->batch < 0 || ts->step < 0)
        return malformed(path, "train", err);
    if (n != 0) {
        if (n != (uint64_t)ts->B * (uint64_t)ts->S ||
            n > (r->n - r->pos) / sizeof(real))
            return malformed(path, "train", err);
        ts->state = rnnrt_xcalloc((size_t)n, sizeof(real), "carried state");
        get(r, ts->state, (size_t)n * sizeof(real));
    }
    return r->pos == r->n ? 0 : malformed(path, "train", err);
}

/* The optimizer of the checkpoint; SGD leaves ts->optim NULL. */
static int read_optim(const char *path, Rd *r, const RnnrtParams *p,
                      RnnrtTrainState *ts, RnnrtError *err)
{
    size_t len;
    const char *name = get_str(r, &len);
    RnnrtOptim o;
    memset(&o, 0, sizeof o);
    int k = 0;
    while (k < 3 && !str_is(name, len, rnnrt_optim_name((RnnrtOptimKind)k)))
        k++;
    o.kind = (RnnrtOptimKind)k;
    o.momentum = get_f64(r);
    o.beta1 = get_f64(r);
    o.beta2 = get_f64(r);
    o.eps = get_f64(r);
    o.t = get_i64(r);
    uint64_t n = get_u64(r), ns = get_u64(r);
    if (r->bad || k == 3 || n != p->total || o.t < 0)
        return malformed(path, "optim", err);
    o.n = (size_t)n;
    if (ns != rnnrt_optim_state_size(&o) ||
        ns > (r->n - r->pos) / sizeof(real))
        return malformed(path, "optim", err);
    if (o.kind == RNNRT_OPTIM_SGD)
        return r->pos == r->n ? 0 : malformed(path, "optim", err);
    ts->optim = rnnrt_xcalloc(1, sizeof *ts->optim, "optimizer");
    *ts->optim = o;
    ts->optim->m1 = rnnrt_xcalloc(o.n + 1, sizeof(real), "optimizer moments");
    get(r, ts->optim->m1, o.n * sizeof(real));
    if (o.kind == RNNRT_OPTIM_ADAM) {
        ts->optim->m2 = rnnrt_xcalloc(o.n + 1, sizeof(real),
                                      "optimizer moments");
        get(r, ts->optim->m2, o.n * sizeof(real));
    }
    return r->pos == r->n && !r->bad ? 0 : malformed(path, "optim", err);
}

static int parse_all(const char *path, Rd *sec, int nsections,
                     const RnnrtModel *m, RnnrtVocab *v, RnnrtParams *p,
                     RnnrtTrainState *ts, RnnrtError *err)
{
    int V = 0;
    int rc = read_header(path, &sec[0], m, p, &V, err);
    if (!rc)
        rc = read_vocab(path, &sec[1], V, v, err);
    if (!rc && sec[2].n != p->total * sizeof(real))
        rc = rnnrt_error(err, RNNRT_EXIT_IO,
                         "'%s' is corrupt: section 'params' holds %zu bytes, "
                         "the header's shapes need %zu", path, sec[2].n,
                         p->total * sizeof(real));
    if (!rc)
        memcpy(p->params, sec[2].p, sec[2].n);
    if (!rc)
        rc = read_train(path, &sec[3], m, ts, err);
    if (!rc && nsections == 5)
        rc = read_optim(path, &sec[4], p, ts, err);
    return rc;
}

int rnnrt_ckpt_load(const char *path, const RnnrtModel *m, RnnrtVocab *v,
                    RnnrtParams *p, RnnrtTrainState *ts, RnnrtError *err)
{
    memset(v, 0, sizeof *v);
    memset(p, 0, sizeof *p);
    memset(ts, 0, sizeof *ts);
    char *data;
    size_t n;
    int rc = rnnrt_file_read(path, SIZE_MAX / 2, &data, &n, err);
    if (rc)
        return rc;
    const unsigned char *d = (const unsigned char *)data;
    Rd sec[MAX_SECTIONS];
    int nsections = 0;
    rc = check_preamble(path, d, n, &nsections, err);
    if (!rc)
        rc = check_sections(path, d, n, sec, nsections, err);
    if (!rc)
        rc = parse_all(path, sec, nsections, m, v, p, ts, err);
    free(data);
    if (rc) {
        rnnrt_vocab_free(v);
        rnnrt_params_free(p);
        rnnrt_train_state_free(ts);
    }
    return rc;
}

void rnnrt_train_state_free(RnnrtTrainState *ts)
{
    free(ts->state);
    ts->state = NULL;
    if (ts->optim) {
        rnnrt_optim_free(ts->optim);
        free(ts->optim);
        ts->optim = NULL;
    }
}
