/*
 * rnnrt_file.c: what every binary file of the runtime (checkpoints, n-gram
 * models) and every report file (attention CSV/SVG) shares.
 *
 *  - RnnrtBuf builds a payload in memory: raw bytes, native-endian
 *    integers and doubles, u32-length-prefixed strings, and framed
 *    sections (char name[8], u64 length, u32 CRC32, u32 zero, payload).
 *    Running out of memory while building exits with RNNRT_EXIT_IO.
 *  - RnnrtReader reads a payload back with bounds checks: reading past the
 *    end sets `bad` and yields zeros, so a parser reads a whole record and
 *    checks once.
 *  - rnnrt_file_save writes a file through rnnrt_out_save (rnnrt_out.c,
 *    shared with rnnc): a regular file is replaced atomically through
 *    "<target>.tmp" in its own directory (fsync, rename, fsync of the
 *    directory), a symlink is followed, a device or FIFO written in place.
 *    On any failure the tmp file is deleted and an older file is
 *    untouched. It reports the failing stage and errno, and leaves the
 *    wording of the message to the caller, which knows what the file is.
 *    It also holds the test hook RNNRT_TEST_STOP_IN_SAVE (rnnrt.h).
 */
#include "rnnrt.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

/* ---- CRC32 (IEEE 802.3, reflected, as zlib's crc32) ---- */

/* Filled once (pthread_once): two threads opening checkpoints at the same
 * time (two C API handles) must not see a half-built table. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

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
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ---- building payloads ---- */

void rnnrt_buf_put(RnnrtBuf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *grown = rnnrt_alloc_injected() ? NULL : realloc(b->p, cap);
        if (!grown)
            rnnrt_out_of_memory(b->what ? b->what : "a file", cap, 0);
        b->p = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, data, n);
    b->n += n;
}

void rnnrt_buf_put_u32(RnnrtBuf *b, uint32_t v) { rnnrt_buf_put(b, &v, 4); }
void rnnrt_buf_put_u64(RnnrtBuf *b, uint64_t v) { rnnrt_buf_put(b, &v, 8); }
void rnnrt_buf_put_i64(RnnrtBuf *b, int64_t v) { rnnrt_buf_put(b, &v, 8); }
void rnnrt_buf_put_f64(RnnrtBuf *b, double v) { rnnrt_buf_put(b, &v, 8); }

void rnnrt_buf_put_str(RnnrtBuf *b, const char *s)
{
    size_t n = strlen(s);
    rnnrt_buf_put_u32(b, (uint32_t)n);
    rnnrt_buf_put(b, s, n);
}

void rnnrt_buf_put_frame(RnnrtBuf *b, const char *name, const void *data,
                         size_t n)
{
    char tag[8] = {0};
    memcpy(tag, name, strlen(name));
    rnnrt_buf_put(b, tag, sizeof tag);
    rnnrt_buf_put_u64(b, n);
    rnnrt_buf_put_u32(b, rnnrt_crc32(0, data, n));
    rnnrt_buf_put_u32(b, 0);
}

void rnnrt_buf_put_section(RnnrtBuf *b, const char *name, const void *data,
                           size_t n)
{
    rnnrt_buf_put_frame(b, name, data, n);
    rnnrt_buf_put(b, data, n);
}

void rnnrt_buf_free(RnnrtBuf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* ---- reading payloads ---- */

void rnnrt_reader_get(RnnrtReader *r, void *out, size_t n)
{
    if (r->bad || r->n - r->pos < n) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
}

uint32_t rnnrt_reader_u32(RnnrtReader *r)
{
    uint32_t v;
    rnnrt_reader_get(r, &v, sizeof v);
    return v;
}

uint64_t rnnrt_reader_u64(RnnrtReader *r)
{
    uint64_t v;
    rnnrt_reader_get(r, &v, sizeof v);
    return v;
}

int64_t rnnrt_reader_i64(RnnrtReader *r)
{
    int64_t v;
    rnnrt_reader_get(r, &v, sizeof v);
    return v;
}

double rnnrt_reader_f64(RnnrtReader *r)
{
    double v;
    rnnrt_reader_get(r, &v, sizeof v);
    return v;
}

const char *rnnrt_reader_str(RnnrtReader *r, size_t *len)
{
    *len = rnnrt_reader_u32(r);
    if (r->bad || r->n - r->pos < *len) {
        r->bad = 1;
        *len = 0;
        return "";
    }
    const char *s = (const char *)r->p + r->pos;
    r->pos += *len;
    return s;
}

/* ---- saves (the mechanism is rnnrt_out.c's) ---- */

typedef struct {
    RnnrtWriteFn write;
    void *ctx;
    int sig;
} StopInSave;

/* RNNRT_TEST_STOP_IN_SAVE: the bytes are in the tmp file, not yet renamed;
 * a first and a second signal arrive (rnnrt_signal.c exits at the
 * second, removing the tmp file). */
static int write_then_stop(FILE *f, void *ctx)
{
    const StopInSave *s = ctx;
    int e = s->write(f, s->ctx);
    if (!e && fflush(f) == 0) {
        raise(s->sig);
        raise(s->sig);
    }
    return e;
}

int rnnrt_file_save(const char *path, RnnrtWriteFn write, void *ctx,
                    RnnrtSaveStage *stage)
{
    const char *hook = getenv("RNNRT_TEST_STOP_IN_SAVE");
    if (!hook || !*hook)
        return rnnrt_out_save(path, write, ctx, stage);
    StopInSave s = {write, ctx, strcmp(hook, "TERM") == 0 ? SIGTERM : SIGINT};
    return rnnrt_out_save(path, write_then_stop, &s, stage);
}

int rnnrt_file_write_buf(FILE *f, void *buf)
{
    const RnnrtBuf *b = buf;
    return fwrite(b->p, 1, b->n, f) == b->n ? 0 : errno ? errno : EIO;
}

int rnnrt_file_remove_stale(const char *path, RnnrtError *err)
{
    char tmp[RNNRT_PATH_MAX];
    int e = rnnrt_out_tmp_path(path, tmp, sizeof tmp);
    if (e)
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot save to '%s': %s",
                           path, strerror(e));
    if (unlink(tmp) != 0 && errno != ENOENT)
        return rnnrt_error(err, RNNRT_EXIT_IO,
                           "cannot remove stale '%s': %s", tmp,
                           strerror(errno));
    return 0;
}

int rnnrt_read_line(FILE *in, char **line, size_t *cap, size_t *len)
{
    ssize_t n = getline(line, cap, in);
    if (n < 0)
        return 0;
    size_t k = (size_t)n;
    if (k && (*line)[k - 1] == '\n')
        k--;
    if (k && (*line)[k - 1] == '\r')
        k--;
    *len = k;
    return 1;
}
