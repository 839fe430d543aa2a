/*
 * rnnrt_ckpt.c: checkpoints that survive crashes and explain themselves.
 *
 * Saving never touches the old checkpoint until the new one is complete:
 * rnnrt_file_save (rnnrt_file.c, through rnnrt_out.c) writes
 * "<target>.tmp" in the directory of the file (a symlinked --ckpt is
 * followed), then fflush, fsync, fclose, rename over it, and fsync of the
 * directory so the rename itself is durable. Every write is checked; on
 * any failure the tmp file is deleted, the old checkpoint stays, and the
 * error carries errno.
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
#include <math.h>
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

/* ---- building section payloads in memory (rnnrt_file.c's RnnrtBuf) ---- */

/* header: name, spec_hash, V, nparams, state_size, per param: name, ndim,
 * dims[2] */
static void build_header(RnnrtBuf *b, const RnnrtModel *m, const RnnrtParams *p,
                         int V)
{
    rnnrt_buf_put_str(b, m->name);
    rnnrt_buf_put_u64(b, m->spec_hash);
    rnnrt_buf_put_u32(b, (uint32_t)V);
    rnnrt_buf_put_u32(b, (uint32_t)m->nparams);
    rnnrt_buf_put_u32(b, (uint32_t)m->state_size);
    for (int i = 0; i < m->nparams; i++) {
        rnnrt_buf_put_str(b, m->params[i].name);
        rnnrt_buf_put_u32(b, (uint32_t)m->params[i].ndim);
        rnnrt_buf_put_u32(b, (uint32_t)p->dims[i][0]);
        rnnrt_buf_put_u32(b, (uint32_t)p->dims[i][1]);
    }
}

static void build_vocab(RnnrtBuf *b, const RnnrtVocab *v)
{
    rnnrt_buf_put_u32(b, (uint32_t)v->size);
    for (int i = 0; i < v->size; i++) {
        rnnrt_buf_put_str(b, v->tokens[i]);
        rnnrt_buf_put_i64(b, v->counts[i]);
    }
}

void rnnrt_ckpt_put_train(RnnrtBuf *b, const RnnrtTrainState *ts)
{
    rnnrt_buf_put_i64(b, ts->epoch);
    rnnrt_buf_put_i64(b, ts->batch);
    rnnrt_buf_put_i64(b, ts->step);
    rnnrt_buf_put_i64(b, ts->tokens);
    rnnrt_buf_put_f64(b, ts->lr);
    rnnrt_buf_put_u32(b, (uint32_t)ts->halvings);
    rnnrt_buf_put_u32(b, (uint32_t)ts->B);
    rnnrt_buf_put_u32(b, (uint32_t)ts->T);
    rnnrt_buf_put_u32(b, (uint32_t)ts->sampler);
    for (int i = 0; i < 4; i++)
        rnnrt_buf_put_u64(b, ts->rng.s[i]);
    for (int i = 0; i < 4; i++)
        rnnrt_buf_put_u64(b, ts->epoch_rng.s[i]);
    rnnrt_buf_put_u64(b, ts->corpus_hash);
    rnnrt_buf_put_u32(b, (uint32_t)ts->S);
    size_t n = ts->state ? (size_t)ts->B * (size_t)ts->S : 0;
    rnnrt_buf_put_u64(b, n);
    rnnrt_buf_put(b, ts->state, n * sizeof(real));
    rnnrt_buf_put_f64(b, ts->loss_ref);
    rnnrt_buf_put_u32(b, RNNRT_RECIPE_N);
    for (int i = 0; i < RNNRT_RECIPE_N; i++)
        rnnrt_buf_put_f64(b, ts->recipe[i]);
    rnnrt_sched_put(b, &ts->sched);
}

/* optim: name, momentum, beta1, beta2, eps, t, n, then the moments (m1,
 * then m2 for Adam). No optimizer = plain SGD without state. */
void rnnrt_ckpt_put_optim(RnnrtBuf *b, const RnnrtOptim *o, size_t nparams)
{
    RnnrtOptim sgd;
    if (!o) {
        memset(&sgd, 0, sizeof sgd);
        sgd.n = nparams;
        o = &sgd;
    }
    rnnrt_buf_put_str(b, rnnrt_optim_name(o->kind));
    rnnrt_buf_put_f64(b, o->momentum);
    rnnrt_buf_put_f64(b, o->beta1);
    rnnrt_buf_put_f64(b, o->beta2);
    rnnrt_buf_put_f64(b, o->eps);
    rnnrt_buf_put_i64(b, o->t);
    rnnrt_buf_put_u64(b, o->n);
    size_t ns = rnnrt_optim_state_size(o);
    rnnrt_buf_put_u64(b, ns);
    if (o->m1 && ns)
        rnnrt_buf_put(b, o->m1, o->n * sizeof(real));
    if (o->m2 && ns == 2 * o->n)
        rnnrt_buf_put(b, o->m2, o->n * sizeof(real));
}

/* ---- writing ---- */

/* The sections but "params" are built in memory; the parameters, the big
 * part, go from their block straight to the file. */
typedef struct {
    const RnnrtModel *m;
    const RnnrtVocab *v;
    const RnnrtParams *p;
    const RnnrtTrainState *ts;
} Ckpt;

static int write_section(FILE *f, const char *name, const void *data,
                         size_t n)
{
    RnnrtBuf frame = {.what = "a checkpoint"};
    rnnrt_buf_put_frame(&frame, name, data, n);
    int e = rnnrt_file_write_buf(f, &frame);
    rnnrt_buf_free(&frame);
    if (!e && n && fwrite(data, 1, n, f) != n)
        e = errno ? errno : EIO;
    return e;
}

static int write_all(FILE *f, void *ctx)
{
    const Ckpt *c = ctx;
    RnnrtBuf s[4] = {{.what = "a checkpoint"}, {.what = "a checkpoint"},
                     {.what = "a checkpoint"}, {.what = "a checkpoint"}};
    build_header(&s[0], c->m, c->p, c->v->size);
    build_vocab(&s[1], c->v);
    rnnrt_ckpt_put_train(&s[2], c->ts);
    rnnrt_ckpt_put_optim(&s[3], c->ts->optim, c->p->total);
    uint32_t pre[4] = {RNNRT_CKPT_VERSION, ENDIAN_TAG, (uint32_t)sizeof(real),
                       0};
    int e = fwrite(MAGIC, 1, 8, f) == 8 && fwrite(pre, sizeof pre, 1, f) == 1
                ? 0 : errno ? errno : EIO;
    if (!e)
        e = write_section(f, "header", s[0].p, s[0].n);
    if (!e)
        e = write_section(f, "vocab", s[1].p, s[1].n);
    if (!e)
        e = write_section(f, "params", c->p->params,
                          c->p->total * sizeof(real));
    if (!e)
        e = write_section(f, "train", s[2].p, s[2].n);
    if (!e)
        e = write_section(f, "optim", s[3].p, s[3].n);
    for (int i = 0; i < 4; i++)
        rnnrt_buf_free(&s[i]);
    return e;
}

int rnnrt_ckpt_save(const char *path, const RnnrtModel *m,
                    const RnnrtVocab *v, const RnnrtParams *p,
                    const RnnrtTrainState *ts, RnnrtError *err)
{
    Ckpt c = {m, v, p, ts};
    RnnrtSaveStage stage;
    int e = rnnrt_file_save(path, write_all, &c, &stage);
    switch (stage) {
    case RNNRT_SAVE_OK:
        return 0;
    case RNNRT_SAVE_LONG_PATH:
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot write checkpoint "
                                               "'%s': %s", path, strerror(e));
    case RNNRT_SAVE_SYNC_DIR:
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "checkpoint '%s' written, but syncing its "
                           "directory failed: %s", path, strerror(e));
    default:
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot write checkpoint '%s': %s (the previous "
                           "checkpoint, if any, is unchanged)", path,
                           strerror(e));
    }
}

int rnnrt_ckpt_probe(const char *path, RnnrtError *err)
{
    if (strcmp(path, "-") == 0)
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "--ckpt -: a checkpoint is read back and "
                           "replaced atomically; standard output cannot "
                           "be one");
    RnnrtSaveStage stage;
    int e = rnnrt_out_probe(path, &stage);
    if (e == EISDIR)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot write checkpoint '%s': it is a "
                           "directory", path);
    if (e)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot write checkpoints to '%s': %s", path,
                           strerror(e));
    return 0;
}

/* ---- reading ---- */

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
                          RnnrtReader *sec, int nsections, RnnrtError *err)
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
        sec[i] = (RnnrtReader){d + pos, (size_t)len, 0, 0};
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
static int read_header(const char *path, RnnrtReader *r, const RnnrtModel *m,
                       RnnrtParams *p, int *Vout, RnnrtError *err)
{
    size_t len;
    const char *name = rnnrt_reader_str(r, &len);
    uint64_t hash = rnnrt_reader_u64(r);
    uint32_t V = rnnrt_reader_u32(r), np = rnnrt_reader_u32(r);
    uint32_t S = rnnrt_reader_u32(r);
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
        const char *pn = rnnrt_reader_str(r, &len);
        uint32_t nd = rnnrt_reader_u32(r), d0 = rnnrt_reader_u32(r);
        uint32_t d1 = rnnrt_reader_u32(r);
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

static int read_vocab(const char *path, RnnrtReader *r, int V, RnnrtVocab *v,
                      RnnrtError *err)
{
    rnnrt_vocab_init(v);
    uint32_t size = rnnrt_reader_u32(r);
    if (r->bad || size != (uint32_t)V || size < 4)
        return malformed(path, "vocab", err);
    for (uint32_t i = 0; i < size; i++) {
        size_t len;
        const char *tok = rnnrt_reader_str(r, &len);
        int64_t count = rnnrt_reader_i64(r);
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

int rnnrt_ckpt_get_train(const char *path, RnnrtReader *r, int state_size,
                         RnnrtTrainState *ts, RnnrtError *err)
{
    ts->epoch = rnnrt_reader_i64(r);
    ts->batch = rnnrt_reader_i64(r);
    ts->step = rnnrt_reader_i64(r);
    ts->tokens = rnnrt_reader_i64(r);
    ts->lr = rnnrt_reader_f64(r);
    ts->halvings = (int32_t)rnnrt_reader_u32(r);
    ts->B = (int32_t)rnnrt_reader_u32(r);
    ts->T = (int32_t)rnnrt_reader_u32(r);
    ts->sampler = (int32_t)rnnrt_reader_u32(r);
    for (int i = 0; i < 4; i++)
        ts->rng.s[i] = rnnrt_reader_u64(r);
    for (int i = 0; i < 4; i++)
        ts->epoch_rng.s[i] = rnnrt_reader_u64(r);
    ts->corpus_hash = rnnrt_reader_u64(r);
    ts->S = (int)rnnrt_reader_u32(r);
    uint64_t n = rnnrt_reader_u64(r);
    if (r->bad || ts->B <= 0 || ts->T <= 0 || ts->S != state_size ||
        ts->epoch < 0 || ts->batch < 0 || ts->step < 0)
        return malformed(path, "train", err);
    if (n != 0) {
        if (n != (uint64_t)ts->B * (uint64_t)ts->S ||
            n > (r->n - r->pos) / sizeof(real))
            return malformed(path, "train", err);
        ts->state = rnnrt_xcalloc((size_t)n, sizeof(real), "carried state");
        rnnrt_reader_get(r, ts->state, (size_t)n * sizeof(real));
    }
    /* the guard's reference; sections written before it existed end here */
    ts->loss_ref = r->pos == r->n ? 0 : rnnrt_reader_f64(r);
    if (r->bad || !(ts->loss_ref >= 0) || !isfinite(ts->loss_ref))
        return malformed(path, "train", err);
    /* the recipe: a count, then that many values (NAN = unrecorded);
     * sections written before it existed end here */
    for (int i = 0; i < RNNRT_RECIPE_N; i++)
        ts->recipe[i] = NAN;
    uint32_t nrec = r->pos == r->n ? 0 : rnnrt_reader_u32(r);
    if (r->bad || nrec > 64)
        return malformed(path, "train", err);
    for (uint32_t i = 0; i < nrec; i++) {
        double v = rnnrt_reader_f64(r);
        if (i < RNNRT_RECIPE_N)
            ts->recipe[i] = v;
    }
    /* the lr schedule's record; sections written before it end here */
    if (rnnrt_sched_get(r, &ts->sched, ts->lr))
        return malformed(path, "train", err);
    return !r->bad && r->pos == r->n ? 0 : malformed(path, "train", err);
}

/* The optimizer of the checkpoint; SGD leaves ts->optim NULL. */
int rnnrt_ckpt_get_optim(const char *path, RnnrtReader *r, size_t total,
                         RnnrtTrainState *ts, RnnrtError *err)
{
    size_t len;
    const char *name = rnnrt_reader_str(r, &len);
    RnnrtOptim o;
    memset(&o, 0, sizeof o);
    int k = 0;
    while (k < 3 && !str_is(name, len, rnnrt_optim_name((RnnrtOptimKind)k)))
        k++;
    o.kind = (RnnrtOptimKind)k;
    o.momentum = rnnrt_reader_f64(r);
    o.beta1 = rnnrt_reader_f64(r);
    o.beta2 = rnnrt_reader_f64(r);
    o.eps = rnnrt_reader_f64(r);
    o.t = rnnrt_reader_i64(r);
    uint64_t n = rnnrt_reader_u64(r), ns = rnnrt_reader_u64(r);
    if (r->bad || k == 3 || n != total || o.t < 0)
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
    rnnrt_reader_get(r, ts->optim->m1, o.n * sizeof(real));
    if (o.kind == RNNRT_OPTIM_ADAM) {
        ts->optim->m2 = rnnrt_xcalloc(o.n + 1, sizeof(real),
                                      "optimizer moments");
        rnnrt_reader_get(r, ts->optim->m2, o.n * sizeof(real));
    }
    return r->pos == r->n && !r->bad ? 0 : malformed(path, "optim", err);
}

static int parse_all(const char *path, RnnrtReader *sec, int nsections,
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
        rc = rnnrt_ckpt_get_train(path, &sec[3], m->state_size, ts, err);
    if (!rc && nsections == 5)
        rc = rnnrt_ckpt_get_optim(path, &sec[4], p->total, ts, err);
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
    RnnrtReader sec[MAX_SECTIONS];
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
