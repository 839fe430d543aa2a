/*
 * rnnrt_ckpt.c: the one checkpoint format of every trainer (language
 * model, labelling, classification, seq2seq), its writer and its reader.
 *
 * Layout (native byte order; rnnrt.h has the field list): a 32-byte
 * preamble ("RNNCCKPT", format version, byte-order tag, sizeof(real),
 * section count, a zero word, the CRC32 of the 28 bytes before it), then
 * the sections, each a 24-byte frame (name, length, CRC32, zero) and its
 * payload. A section's CRC covers its name and length as well as its
 * payload, so a flipped bit anywhere is caught before anything is parsed.
 * The first section is always "header": model name, spec hash, task, the
 * model's named dimensions and its parameter shapes. The other sections
 * are found by name, so a task adds what it needs ("srcvocab", "labels",
 * "progress") without a new format; "vocab"-like sections share one codec
 * and "train" and "optim" hold RnnrtTrainState for every trainer.
 *
 * Saving never touches the old checkpoint until the new one is complete
 * (rnnrt_file_save, through rnnrt_out.c: "<target>.tmp", fsync, rename,
 * directory sync; a symlinked path is followed, a device written in
 * place), and keeps two generations: if the regular file at path verifies,
 * it is first kept as "<target>.prev" (a hard link renamed into place, so
 * path never goes missing). A damaged file is never kept, so
 * "<target>.prev" stays the last good one.
 * rnnrt_ckpt_open_latest falls back to "<path>.prev" when path is damaged
 * (missing, truncated, bad magic, a CRC failure) and says so in f->warning.
 *
 * Every refusal names what is wrong: truncation and corruption (naming
 * the section) are I/O errors (exit 3); a checkpoint of another model,
 * spec, dtype, format version or byte order, and the three formats this
 * one replaced (RNNCKPT1, RNNTASK1, RNNS2S0x), are data errors (exit 1).
 */
#include "rnnrt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "RNNCCKPT"
#define ENDIAN_TAG 0x01020304u
enum { PREAMBLE = 32, FRAME = 24 };

/* The formats before this one, refused by name. */
static const struct {
    const char *magic;
    size_t n;
    const char *what;
} old_formats[] = {
    {"RNNCKPT1", 8, "language model"},
    {"RNNTASK1", 8, "labelling or classification"},
    {"RNNS2S0", 7, "seq2seq"},
};

/* name (up to 8 bytes from a file) with anything unprintable as '?'. */
static const char *printable(const char *name, char out[9])
{
    for (int i = 0; i < 8; i++)
        out[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : name[i] ? '?' : 0;
    out[8] = 0;
    return out;
}

static uint32_t frame_crc(const char *name, uint64_t n, const void *data)
{
    char tag[8] = {0};
    memcpy(tag, name, strlen(name));
    uint32_t crc = rnnrt_crc32(0, tag, 8);
    crc = rnnrt_crc32(crc, &n, 8);
    return rnnrt_crc32(crc, data, (size_t)n);
}

/* ---- writing ---- */

void rnnrt_ckpt_begin(RnnrtCkptWriter *w, const char *task, const char *model,
                      uint64_t spec_hash)
{
    memset(w, 0, sizeof *w);
    w->dims.what = w->shapes.what = "a checkpoint";
    w->task = task;
    w->model = model;
    w->spec_hash = spec_hash;
}

void rnnrt_ckpt_put_dim(RnnrtCkptWriter *w, const char *name, uint64_t value)
{
    rnnrt_buf_put_str(&w->dims, name);
    rnnrt_buf_put_u64(&w->dims, value);
    w->ndims++;
}

void rnnrt_ckpt_put_shape(RnnrtCkptWriter *w, const char *name, int ndim,
                          int d0, int d1)
{
    rnnrt_buf_put_str(&w->shapes, name);
    rnnrt_buf_put_u32(&w->shapes, (uint32_t)ndim);
    rnnrt_buf_put_u32(&w->shapes, (uint32_t)d0);
    rnnrt_buf_put_u32(&w->shapes, (uint32_t)d1);
    w->nshapes++;
}

static RnnrtCkptOut *new_section(RnnrtCkptWriter *w, const char *name)
{
    if (w->nsec == RNNRT_CKPT_MAX_SECTIONS || strlen(name) > 8) {
        fprintf(stderr, "%s:%d: internal error: checkpoint section '%s' does "
                "not fit\n", __FILE__, __LINE__, name);
        abort();
    }
    RnnrtCkptOut *s = &w->sec[w->nsec++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->own.what = "a checkpoint";
    return s;
}

RnnrtBuf *rnnrt_ckpt_add(RnnrtCkptWriter *w, const char *name)
{
    return &new_section(w, name)->own;
}

void rnnrt_ckpt_add_ref(RnnrtCkptWriter *w, const char *name,
                        const void *data, size_t n)
{
    RnnrtCkptOut *s = new_section(w, name);
    s->ref = data;
    s->n = n;
    s->is_ref = 1;
}

/* The vocabulary codec: u32 size, then each token (u32 length, bytes) and
 * its i64 count. */
void rnnrt_ckpt_put_vocab(RnnrtCkptWriter *w, const char *name,
                          const RnnrtVocab *v)
{
    RnnrtBuf *b = rnnrt_ckpt_add(w, name);
    rnnrt_buf_put_u32(b, (uint32_t)v->size);
    for (int i = 0; i < v->size; i++) {
        rnnrt_buf_put_str(b, v->tokens[i]);
        rnnrt_buf_put_i64(b, v->counts[i]);
    }
}

static void put_train(RnnrtBuf *b, const RnnrtTrainState *ts)
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
 * then m2 for Adam). No optimizer = plain SGD that has taken no step. */
static void put_optim(RnnrtBuf *b, const RnnrtOptim *o, size_t nparams)
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

void rnnrt_ckpt_put_state(RnnrtCkptWriter *w, const RnnrtTrainState *ts,
                          size_t nparams)
{
    put_train(rnnrt_ckpt_add(w, "train"), ts);
    put_optim(rnnrt_ckpt_add(w, "optim"), ts->optim, nparams);
}

void rnnrt_ckpt_writer_free(RnnrtCkptWriter *w)
{
    rnnrt_buf_free(&w->dims);
    rnnrt_buf_free(&w->shapes);
    for (int i = 0; i < w->nsec; i++)
        rnnrt_buf_free(&w->sec[i].own);
    w->nsec = 0;
}

static int write_frame(FILE *f, const char *name, const void *data, size_t n)
{
    char tag[8] = {0};
    memcpy(tag, name, strlen(name));
    uint64_t len = n;
    uint32_t tail[2] = {frame_crc(name, len, data), 0};
    if (fwrite(tag, 8, 1, f) != 1 || fwrite(&len, 8, 1, f) != 1 ||
        fwrite(tail, sizeof tail, 1, f) != 1 ||
        (n && fwrite(data, 1, n, f) != n))
        return errno ? errno : EIO;
    return 0;
}

static int write_all(FILE *f, void *ctx)
{
    const RnnrtCkptWriter *w = ctx;
    RnnrtBuf h = {.what = "a checkpoint"};
    rnnrt_buf_put_str(&h, w->model);
    rnnrt_buf_put_u64(&h, w->spec_hash);
    rnnrt_buf_put_str(&h, w->task);
    rnnrt_buf_put_u32(&h, w->ndims);
    rnnrt_buf_put(&h, w->dims.p, w->dims.n);
    rnnrt_buf_put_u32(&h, w->nshapes);
    rnnrt_buf_put(&h, w->shapes.p, w->shapes.n);
    uint32_t pre[6] = {RNNRT_CKPT_VERSION, ENDIAN_TAG, (uint32_t)sizeof(real),
                       (uint32_t)w->nsec + 1, 0, 0};
    unsigned char head[PREAMBLE];
    memcpy(head, MAGIC, 8);
    memcpy(head + 8, pre, 20);
    pre[5] = rnnrt_crc32(0, head, 28);
    memcpy(head + 28, &pre[5], 4);
    int e = fwrite(head, PREAMBLE, 1, f) == 1 ? 0 : errno ? errno : EIO;
    if (!e)
        e = write_frame(f, "header", h.p, h.n);
    rnnrt_buf_free(&h);
    for (int i = 0; i < w->nsec && !e; i++) {
        const RnnrtCkptOut *s = &w->sec[i];
        e = s->is_ref ? write_frame(f, s->name, s->ref, s->n)
                      : write_frame(f, s->name, s->own.p, s->own.n);
    }
    return e;
}

/* "<target>.prev", target being path with its symlinks followed (where
 * rnnrt_out.c writes; into target when not NULL); -1 when it does not
 * fit. */
static int prev_path(const char *path, char *out, size_t cap, char *target)
{
    char t[RNNRT_PATH_MAX];
    if (rnnrt_out_resolve(path, t, sizeof t))
        return -1;
    if (target)
        memcpy(target, t, sizeof t);
    return (size_t)snprintf(out, cap, "%s.prev", t) >= cap ? -1 : 0;
}

/* Keeps the regular file at path (symlinks already followed), if it is a
 * whole checkpoint of this format, as prev: a hard link renamed into place
 * (where the file system has none, a copy saved atomically). path itself
 * stays in place all along. Returns 0 or an errno value. */
static int keep_previous(const char *path, const char *prev)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    RnnrtCkptFile f;
    int e = 0;
    if (rnnrt_ckpt_open(&f, path, NULL) == 0) {
        char tmp[RNNRT_PATH_MAX + 8];
        snprintf(tmp, sizeof tmp, "%s.tmp", prev);
        unlink(tmp);
        if (link(path, tmp) == 0) {
            e = rename(tmp, prev) == 0 ? 0 : errno;
            if (e)
                unlink(tmp);
        } else {
            RnnrtBuf b = {(unsigned char *)f.data, f.n, f.n, "a checkpoint"};
            RnnrtSaveStage stage;
            e = rnnrt_file_save(prev, rnnrt_file_write_buf, &b, &stage);
        }
    }
    rnnrt_ckpt_close(&f);
    return e;
}

int rnnrt_ckpt_write(RnnrtCkptWriter *w, const char *path, RnnrtError *err)
{
    char prev[RNNRT_PATH_MAX], target[RNNRT_PATH_MAX];
    RnnrtSaveStage stage = RNNRT_SAVE_OK;
    int e = 0, rc = 0;
    if (prev_path(path, prev, sizeof prev, target))
        rc = rnnrt_error(err, RNNRT_EXIT_IO, "checkpoint path too long: "
                                             "'%s'", path);
    if (!rc && (e = keep_previous(target, prev)) != 0)
        rc = rnnrt_error(err, RNNRT_EXIT_IO, "cannot keep the checkpoint "
                         "'%s' as '%s': %s (it is unchanged)", path, prev,
                         strerror(e));
    if (!rc)
        e = rnnrt_file_save(path, write_all, w, &stage);
    if (!rc && e)
        rc = stage == RNNRT_SAVE_SYNC_DIR
                 ? rnnrt_error(err, RNNRT_EXIT_IO, "checkpoint '%s' written, "
                               "but syncing its directory failed: %s", path,
                               strerror(e))
                 : rnnrt_error(err, RNNRT_EXIT_IO, "cannot write checkpoint "
                               "'%s': %s (the previous checkpoint, if any, "
                               "is unchanged)", path, strerror(e));
    rnnrt_ckpt_writer_free(w);
    return rc;
}

int rnnrt_ckpt_probe(const char *path, RnnrtError *err)
{
    if (strcmp(path, "-") == 0)
        return rnnrt_error(err, RNNRT_EXIT_USAGE,
                           "--ckpt -: a checkpoint is read back and "
                           "replaced atomically; standard output cannot "
                           "be one");
    char prev[RNNRT_PATH_MAX];
    if (prev_path(path, prev, sizeof prev, NULL))
        return rnnrt_error(err, RNNRT_EXIT_IO, "checkpoint path too long: "
                                               "'%s'", path);
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
    return rnnrt_file_remove_stale(prev, err); /* "<prev>.tmp" of a killed
                                                  save (RELIABILITY E6) */
}

int rnnrt_ckpt_check_overwrite(const char *path, const char *task,
                               const char *model, uint64_t spec_hash,
                               const char *spec_path, RnnrtError *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0; /* nothing there, or a device or FIFO written in place */
    RnnrtCkptFile f;
    RnnrtError why = {0};
    int rc = rnnrt_ckpt_open(&f, path, &why);
    if (!rc)
        rc = rnnrt_ckpt_check_model(&f, task, model, spec_hash, spec_path,
                                    &why);
    rnnrt_ckpt_close(&f);
    if (!rc)
        return 0;
    return rnnrt_error(err, RNNRT_EXIT_DATA,
                       "refusing to overwrite '%s', which is not a "
                       "checkpoint of %s (%s): %s; pass --force to "
                       "overwrite it, or choose another --ckpt", path, model,
                       spec_path, why.msg);
}

/* ---- reading: the preamble and the frames ---- */

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

/* Marks the failure as damage (rnnrt_ckpt_open_latest may fall back). */
static int damaged(RnnrtCkptFile *f, int rc)
{
    f->damaged = 1;
    return rc;
}

static int check_preamble(RnnrtCkptFile *f, uint32_t *nsec, RnnrtError *err)
{
    const unsigned char *d = (const unsigned char *)f->data;
    const char *path = f->path;
    char name[9];
    for (size_t i = 0; i < sizeof old_formats / sizeof *old_formats; i++)
        if (f->n >= 8 && !memcmp(d, old_formats[i].magic, old_formats[i].n))
            return rnnrt_error(err, RNNRT_EXIT_DATA,
                               "'%s' is in the old %s checkpoint format %s, "
                               "which this trainer no longer reads (it "
                               "reads %s version %d); retrain, or use the "
                               "trainer that wrote it", path,
                               old_formats[i].what,
                               printable(f->data, name), MAGIC,
                               RNNRT_CKPT_VERSION);
    if (f->n >= 8 && memcmp(d, MAGIC, 8))
        return damaged(f, rnnrt_error(err, RNNRT_EXIT_DATA,
                                      "'%s' is not an rnnc checkpoint (bad "
                                      "magic)", path));
    if (f->n < PREAMBLE)
        return damaged(f, rnnrt_error(err, RNNRT_EXIT_IO,
                                      "'%s' is truncated: %zu bytes, shorter "
                                      "than the %d-byte checkpoint preamble",
                                      path, f->n, PREAMBLE));
    uint32_t pre[6];
    memcpy(pre, d + 8, sizeof pre);
    if (pre[1] == bswap32(ENDIAN_TAG))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' was written on a machine with the other byte "
                           "order; it cannot be loaded here", path);
    if (pre[1] != ENDIAN_TAG || pre[4] != 0 ||
        pre[5] != rnnrt_crc32(0, d, 28))
        return damaged(f, rnnrt_error(err, RNNRT_EXIT_IO,
                                      "'%s' is corrupt: the preamble fails "
                                      "its check", path));
    if (pre[0] != RNNRT_CKPT_VERSION)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' has checkpoint format version %u; this "
                           "trainer reads version %d", path, pre[0],
                           RNNRT_CKPT_VERSION);
    if (pre[2] != sizeof(real))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' holds %s parameters but this trainer is "
                           "built with %s; use the %s build of the model",
                           path, real_name(pre[2]), RNNRT_REAL_NAME,
                           pre[2] == 8 ? "double (_d)" : "float");
    if (pre[3] < 1 || pre[3] > RNNRT_CKPT_MAX_SECTIONS + 1)
        return damaged(f, rnnrt_error(err, RNNRT_EXIT_IO,
                                      "'%s' is corrupt: %u sections", path,
                                      pre[3]));
    *nsec = pre[3];
    return 0;
}

/* Checks every frame and CRC; fills f->sec. */
static int check_sections(RnnrtCkptFile *f, uint32_t nsec, RnnrtError *err)
{
    const unsigned char *d = (const unsigned char *)f->data;
    const char *path = f->path;
    size_t n = f->n, pos = PREAMBLE;
    for (uint32_t i = 0; i < nsec; i++) {
        if (n - pos < FRAME)
            return damaged(f, rnnrt_error(err, RNNRT_EXIT_IO,
                                          "'%s' is truncated: %u of its %u "
                                          "sections are missing (the file "
                                          "ends at byte %zu)", path,
                                          nsec - i, nsec, n));
        RnnrtCkptSection *s = &f->sec[i];
        char shown[9];
        memset(s->name, 0, sizeof s->name);
        memcpy(s->name, d + pos, 8);
        printable(s->name, shown);
        uint64_t len;
        uint32_t crc, zero;
        memcpy(&len, d + pos + 8, 8);
        memcpy(&crc, d + pos + 16, 4);
        memcpy(&zero, d + pos + 20, 4);
        pos += FRAME;
        if (len > n - pos)
            return damaged(f, rnnrt_error(err, RNNRT_EXIT_IO,
                                          "'%s' is truncated in section "
                                          "'%s': it needs %llu bytes, %zu "
                                          "are left", path, shown,
                                          (unsigned long long)len, n - pos));
        uint32_t got = frame_crc(s->name, len, d + pos);
        if (got != crc || zero != 0)
            return damaged(f, rnnrt_error(err, RNNRT_EXIT_IO,
                                          "'%s' is corrupt: section '%s' "
                                          "fails its CRC32 check (stored "
                                          "%08x, computed %08x)", path,
                                          shown, crc, got));
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(f->sec[j].name, s->name))
                return damaged(f, rnnrt_error(err, RNNRT_EXIT_IO,
                                              "'%s' is corrupt: section "
                                              "'%s' appears twice", path,
                                              s->name));
        s->p = d + pos;
        s->n = (size_t)len;
        pos += (size_t)len;
    }
    f->nsec = (int)nsec;
    if (pos != n)
        return damaged(f, rnnrt_error(err, RNNRT_EXIT_IO,
                                      "'%s' is corrupt: %zu unexpected bytes "
                                      "after the last section", path,
                                      n - pos));
    return 0;
}

static int malformed(const RnnrtCkptFile *f, const char *section,
                     RnnrtError *err)
{
    return rnnrt_error(err, RNNRT_EXIT_IO,
                       "'%s' is corrupt: section '%s' is malformed", f->path,
                       section);
}

/* header: model, spec_hash, task, u32 ndims, each (name, u64 value),
 * u32 nshapes, each (name, u32 ndim, u32 d0, u32 d1). Leaves f->dims and
 * f->shapes at their lists. */
static int read_header(RnnrtCkptFile *f, RnnrtError *err)
{
    if (strcmp(f->sec[0].name, "header"))
        return malformed(f, "header", err);
    RnnrtReader r = {f->sec[0].p, f->sec[0].n, 0, 0};
    f->model = rnnrt_reader_str(&r, &f->model_len);
    f->spec_hash = rnnrt_reader_u64(&r);
    f->task = rnnrt_reader_str(&r, &f->task_len);
    f->ndims = rnnrt_reader_u32(&r);
    f->dims = r;
    for (uint32_t i = 0; i < f->ndims && !r.bad; i++) {
        size_t len;
        rnnrt_reader_str(&r, &len);
        rnnrt_reader_u64(&r);
    }
    f->nshapes = rnnrt_reader_u32(&r);
    f->shapes = r;
    for (uint32_t i = 0; i < f->nshapes && !r.bad; i++) {
        size_t len;
        rnnrt_reader_str(&r, &len);
        for (int k = 0; k < 3; k++)
            rnnrt_reader_u32(&r);
    }
    return r.bad || r.pos != r.n ? malformed(f, "header", err) : 0;
}

int rnnrt_ckpt_open(RnnrtCkptFile *f, const char *path, RnnrtError *err)
{
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    int rc = rnnrt_file_read(path, SIZE_MAX / 2, &f->data, &f->n, err);
    if (rc)
        return damaged(f, rc);
    uint32_t nsec = 0;
    rc = check_preamble(f, &nsec, err);
    if (!rc)
        rc = check_sections(f, nsec, err);
    if (!rc)
        rc = read_header(f, err);
    return rc;
}

void rnnrt_ckpt_close(RnnrtCkptFile *f)
{
    free(f->data);
    f->data = NULL;
    f->n = 0;
    f->nsec = 0;
}

int rnnrt_ckpt_open_latest(RnnrtCkptFile *f, const char *path,
                           RnnrtError *err)
{
    RnnrtError first = {0}, second = {0};
    int rc = rnnrt_ckpt_open(f, path, &first);
    char prev[RNNRT_PATH_MAX];
    struct stat st;
    if (!rc || !f->damaged || prev_path(path, prev, sizeof prev, NULL) ||
        stat(prev, &st) != 0) {
        if (rc && err)
            *err = first;
        return rc;
    }
    rnnrt_ckpt_close(f);
    if (rnnrt_ckpt_open(f, prev, &second) == 0) {
        snprintf(f->warning, sizeof f->warning,
                 "the checkpoint '%.1000s' is damaged (%.1000s); resuming "
                 "from the previous one, '%.1000s'", path, first.msg, prev);
        return 0;
    }
    return rnnrt_error(err, RNNRT_EXIT_DATA,
                       "no checkpoint to resume: '%s' is damaged (%s), and "
                       "so is the previous one, '%s' (%s)", path, first.msg,
                       prev, second.msg);
}

/* ---- reading: what is in the sections ---- */

int rnnrt_ckpt_check_model(const RnnrtCkptFile *f, const char *task,
                           const char *model, uint64_t spec_hash,
                           const char *spec_path, RnnrtError *err)
{
    if (!str_is(f->task, f->task_len, task))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' is a %.*s checkpoint, but this trainer is "
                           "for %s", f->path, (int)f->task_len, f->task, task);
    if (!str_is(f->model, f->model_len, model))
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' holds model '%.*s', but this trainer is "
                           "model '%s'", f->path, (int)f->model_len, f->model,
                           model);
    if (f->spec_hash != spec_hash)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' was trained from a different version of the "
                           "spec (spec hash %016llx; this trainer's %s has "
                           "%016llx); retrain, or use the trainer it was "
                           "made with", f->path,
                           (unsigned long long)f->spec_hash, spec_path,
                           (unsigned long long)spec_hash);
    return 0;
}

int rnnrt_ckpt_get_dim(const RnnrtCkptFile *f, const char *name,
                       uint64_t *value, RnnrtError *err)
{
    RnnrtReader r = f->dims;
    for (uint32_t i = 0; i < f->ndims; i++) {
        size_t len;
        const char *s = rnnrt_reader_str(&r, &len);
        uint64_t v = rnnrt_reader_u64(&r);
        if (str_is(s, len, name)) {
            *value = v;
            return 0;
        }
    }
    return rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: the header has "
                       "no dimension '%s'", f->path, name);
}

int rnnrt_ckpt_check_shapes(const RnnrtCkptFile *f,
                            const RnnrtCkptShape *want, int n,
                            RnnrtError *err)
{
    if (f->nshapes != (uint32_t)n)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' has %u parameters; the model has %d",
                           f->path, f->nshapes, n);
    RnnrtReader r = f->shapes;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *s = rnnrt_reader_str(&r, &len);
        uint32_t nd = rnnrt_reader_u32(&r), d0 = rnnrt_reader_u32(&r);
        uint32_t d1 = rnnrt_reader_u32(&r);
        const RnnrtCkptShape *w = &want[i];
        if (nd == 1 && d1 == 0) /* seq2seq checkpoints written before its
                                   parameters were an RnnrtParams */
            d1 = 1;
        if (!str_is(s, len, w->name) || nd != (uint32_t)w->ndim ||
            d0 != (uint32_t)w->dims[0] || d1 != (uint32_t)w->dims[1])
            return rnnrt_error(err, RNNRT_EXIT_DATA,
                               "'%s': parameter %d is '%.*s' %ux%u, but the "
                               "model's is '%s' %dx%d", f->path, i, (int)len,
                               s, d0, d1, w->name, w->dims[0], w->dims[1]);
    }
    return 0;
}

int rnnrt_ckpt_section(const RnnrtCkptFile *f, const char *name,
                       RnnrtReader *r, RnnrtError *err)
{
    for (int i = 0; i < f->nsec; i++)
        if (!strcmp(f->sec[i].name, name)) {
            *r = (RnnrtReader){f->sec[i].p, f->sec[i].n, 0, 0};
            return 0;
        }
    return rnnrt_error(err, RNNRT_EXIT_IO, "'%s' is corrupt: it has no "
                       "section '%s'", f->path, name);
}

int rnnrt_ckpt_get_vocab(const RnnrtCkptFile *f, const char *name,
                         int specials, RnnrtVocab *v, RnnrtError *err)
{
    if (specials)
        rnnrt_vocab_init(v);
    else
        rnnrt_vocab_init_empty(v);
    RnnrtReader r;
    int rc = rnnrt_ckpt_section(f, name, &r, err);
    if (rc)
        return rc;
    uint32_t size = rnnrt_reader_u32(&r);
    int first = specials ? v->size : 0;
    if (r.bad || size < (uint32_t)first || size > INT32_MAX)
        return malformed(f, name, err);
    for (uint32_t i = 0; i < size; i++) {
        size_t len;
        const char *tok = rnnrt_reader_str(&r, &len);
        int64_t count = rnnrt_reader_i64(&r);
        if (r.bad || memchr(tok, 0, len))
            return malformed(f, name, err);
        if ((int)i < first) {
            if (!str_is(tok, len, v->tokens[i]))
                return malformed(f, name, err);
            v->counts[i] = count;
        } else if (rnnrt_vocab_add(v, tok, len, count) != (int)i) {
            return malformed(f, name, err);
        }
    }
    return r.pos == r.n ? 0 : malformed(f, name, err);
}

static int get_train(const RnnrtCkptFile *f, int state_size,
                     RnnrtTrainState *ts, RnnrtError *err)
{
    RnnrtReader rd, *r = &rd;
    int rc = rnnrt_ckpt_section(f, "train", r, err);
    if (rc)
        return rc;
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
        return malformed(f, "train", err);
    if (n != 0) {
        if (n != (uint64_t)ts->B * (uint64_t)ts->S ||
            n > (r->n - r->pos) / sizeof(real))
            return malformed(f, "train", err);
        ts->state = rnnrt_xcalloc((size_t)n, sizeof(real), "carried state");
        rnnrt_reader_get(r, ts->state, (size_t)n * sizeof(real));
    }
    ts->loss_ref = rnnrt_reader_f64(r);
    if (r->bad || !(ts->loss_ref >= 0) || !isfinite(ts->loss_ref))
        return malformed(f, "train", err);
    /* the recipe: a count, then that many values (NAN = unrecorded; a
     * later trainer may record more) */
    for (int i = 0; i < RNNRT_RECIPE_N; i++)
        ts->recipe[i] = NAN;
    uint32_t nrec = rnnrt_reader_u32(r);
    if (r->bad || nrec > 64)
        return malformed(f, "train", err);
    for (uint32_t i = 0; i < nrec; i++) {
        double v = rnnrt_reader_f64(r);
        if (i < RNNRT_RECIPE_N)
            ts->recipe[i] = v;
    }
    /* the lr schedule's record (rnnrt_sched.c) */
    if (rnnrt_sched_get(r, &ts->sched, ts->lr))
        return malformed(f, "train", err);
    return !r->bad && r->pos == r->n ? 0 : malformed(f, "train", err);
}

/* The optimizer of the checkpoint, SGD included: its step count is part
 * of the state a resumed run continues from. */
static int get_optim(const RnnrtCkptFile *f, size_t total,
                     RnnrtTrainState *ts, RnnrtError *err)
{
    RnnrtReader rd, *r = &rd;
    int rc = rnnrt_ckpt_section(f, "optim", r, err);
    if (rc)
        return rc;
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
        return malformed(f, "optim", err);
    o.n = (size_t)n;
    if (ns != rnnrt_optim_state_size(&o) ||
        ns > (r->n - r->pos) / sizeof(real))
        return malformed(f, "optim", err);
    ts->optim = rnnrt_xcalloc(1, sizeof *ts->optim, "optimizer");
    *ts->optim = o;
    if (o.kind != RNNRT_OPTIM_SGD) {
        ts->optim->m1 = rnnrt_xcalloc(o.n + 1, sizeof(real),
                                      "optimizer moments");
        rnnrt_reader_get(r, ts->optim->m1, o.n * sizeof(real));
    }
    if (o.kind == RNNRT_OPTIM_ADAM) {
        ts->optim->m2 = rnnrt_xcalloc(o.n + 1, sizeof(real),
                                      "optimizer moments");
        rnnrt_reader_get(r, ts->optim->m2, o.n * sizeof(real));
    }
    return r->pos == r->n && !r->bad ? 0 : malformed(f, "optim", err);
}

int rnnrt_ckpt_get_state(const RnnrtCkptFile *f, int state_size,
                         size_t total, RnnrtTrainState *ts, RnnrtError *err)
{
    memset(ts, 0, sizeof *ts);
    int rc = get_train(f, state_size, ts, err);
    if (!rc)
        rc = get_optim(f, total, ts, err);
    if (rc)
        rnnrt_train_state_free(ts);
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

/* ---- the language model's and the task heads' checkpoints ---- */

static const char *const task_names[] = {"language_model", "labelling",
                                         "classification"};

const char *rnnrt_ckpt_task_name(int task)
{
    return task >= 0 && task < 3 ? task_names[task] : "unknown";
}

/* Header and parameters of an RnnrtModel: dims V (and L for a task head)
 * and S, the shape of every parameter, the block as "params". */
void rnnrt_ckpt_put_model(RnnrtCkptWriter *w, const RnnrtModel *m,
                          const RnnrtParams *p, int V, int L)
{
    rnnrt_ckpt_begin(w, rnnrt_ckpt_task_name(m->task), m->name,
                     m->spec_hash);
    rnnrt_ckpt_put_dim(w, "V", (uint64_t)V);
    if (m->task != RNNRT_TASK_LANGUAGE_MODEL)
        rnnrt_ckpt_put_dim(w, "L", (uint64_t)L);
    rnnrt_ckpt_put_dim(w, "S", (uint64_t)m->state_size);
    rnnrt_ckpt_put_params(w, m->params, p);
}

void rnnrt_ckpt_put_params(RnnrtCkptWriter *w, const RnnrtParamDesc *desc,
                           const RnnrtParams *p)
{
    for (int i = 0; i < p->n; i++)
        rnnrt_ckpt_put_shape(w, desc[i].name, desc[i].ndim, p->dims[i][0],
                             p->dims[i][1]);
    rnnrt_ckpt_add_ref(w, "params", p->params, p->total * sizeof(real));
}

int rnnrt_ckpt_get_params(const RnnrtCkptFile *f, const RnnrtParamDesc *desc,
                          RnnrtParams *p, RnnrtError *err)
{
    RnnrtCkptShape *want = rnnrt_xcalloc((size_t)p->n + 1, sizeof *want,
                                         "parameter shapes");
    for (int i = 0; i < p->n; i++)
        want[i] = (RnnrtCkptShape){desc[i].name, desc[i].ndim,
                                   {p->dims[i][0], p->dims[i][1]}};
    int rc = rnnrt_ckpt_check_shapes(f, want, p->n, err);
    free(want);
    RnnrtReader r;
    if (!rc)
        rc = rnnrt_ckpt_section(f, "params", &r, err);
    if (!rc && r.n != p->total * sizeof(real))
        rc = rnnrt_error(err, RNNRT_EXIT_IO,
                         "'%s' is corrupt: section 'params' holds %zu bytes, "
                         "the header's shapes need %zu", f->path, r.n,
                         p->total * sizeof(real));
    if (!rc)
        memcpy(p->params, r.p, r.n);
    return rc;
}

int rnnrt_ckpt_get_model(const RnnrtCkptFile *f, const RnnrtModel *m,
                         RnnrtParams *p, int *V, int *L, RnnrtError *err)
{
    memset(p, 0, sizeof *p);
    uint64_t v = 0, l = 0, s = 0;
    int rc = rnnrt_ckpt_check_model(f, rnnrt_ckpt_task_name(m->task),
                                    m->name, m->spec_hash, m->spec_path, err);
    if (!rc)
        rc = rnnrt_ckpt_get_dim(f, "V", &v, err);
    if (!rc && m->task != RNNRT_TASK_LANGUAGE_MODEL)
        rc = rnnrt_ckpt_get_dim(f, "L", &l, err);
    if (!rc)
        rc = rnnrt_ckpt_get_dim(f, "S", &s, err);
    if (rc)
        return rc;
    if (v > INT32_MAX || l > INT32_MAX)
        return malformed(f, "header", err);
    if (s != (uint64_t)m->state_size)
        return rnnrt_error(err, RNNRT_EXIT_DATA,
                           "'%s' has state size %llu; the model has %d",
                           f->path, (unsigned long long)s, m->state_size);
    rc = rnnrt_params_init_l(p, m, (int)v, (int)l, err);
    if (rc)
        return rc;
    rc = rnnrt_ckpt_get_params(f, m->params, p, err);
    if (rc)
        rnnrt_params_free(p);
    *V = (int)v;
    *L = (int)l;
    return rc;
}

int rnnrt_ckpt_save(const char *path, const RnnrtModel *m,
                    const RnnrtVocab *v, const RnnrtParams *p,
                    const RnnrtTrainState *ts, RnnrtError *err)
{
    RnnrtCkptWriter w;
    rnnrt_ckpt_put_model(&w, m, p, v->size, 0);
    rnnrt_ckpt_put_vocab(&w, "vocab", v);
    rnnrt_ckpt_put_state(&w, ts, p->total);
    return rnnrt_ckpt_write(&w, path, err);
}

static int load_from(RnnrtCkptFile *f, const RnnrtModel *m, RnnrtVocab *v,
                     RnnrtParams *p, RnnrtTrainState *ts, RnnrtError *err)
{
    int V = 0, L = 0;
    int rc = rnnrt_ckpt_get_model(f, m, p, &V, &L, err);
    if (!rc)
        rc = rnnrt_ckpt_get_vocab(f, "vocab", 1, v, err);
    if (!rc && v->size != V)
        rc = malformed(f, "vocab", err);
    if (!rc)
        rc = rnnrt_ckpt_get_state(f, m->state_size, p->total, ts, err);
    if (rc) {
        rnnrt_vocab_free(v);
        rnnrt_params_free(p);
        rnnrt_train_state_free(ts);
    }
    return rc;
}

static int load(const char *path, int latest, const RnnrtModel *m,
                RnnrtVocab *v, RnnrtParams *p, RnnrtTrainState *ts,
                RnnrtError *warn, RnnrtError *err)
{
    memset(v, 0, sizeof *v);
    memset(p, 0, sizeof *p);
    memset(ts, 0, sizeof *ts);
    RnnrtCkptFile f;
    int rc = latest ? rnnrt_ckpt_open_latest(&f, path, err)
                    : rnnrt_ckpt_open(&f, path, err);
    if (!rc)
        rc = load_from(&f, m, v, p, ts, err);
    if (!rc && f.warning[0] && warn)
        rnnrt_error(warn, RNNRT_EXIT_IO, "%s", f.warning);
    rnnrt_ckpt_close(&f);
    return rc;
}

int rnnrt_ckpt_load(const char *path, const RnnrtModel *m, RnnrtVocab *v,
                    RnnrtParams *p, RnnrtTrainState *ts, RnnrtError *err)
{
    return load(path, 0, m, v, p, ts, NULL, err);
}

int rnnrt_ckpt_load_latest(const char *path, const RnnrtModel *m,
                           RnnrtVocab *v, RnnrtParams *p,
                           RnnrtTrainState *ts, RnnrtError *warn,
                           RnnrtError *err)
{
    return load(path, 1, m, v, p, ts, warn, err);
}
