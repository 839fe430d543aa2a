/*
 * rnnrt_trainlog.c: the --metrics file, one JSON object per line, which
 * the training driver (rnnrt_driver.c) fills and rnnc-plot draws.
 *
 * The file is the history of the checkpoint: at the start of a run, a
 * regular file keeps the records of the steps the run starts from (its
 * "step" at most the checkpoint's; a fresh run starts at step 0, so
 * nothing) and loses the rest, records a killed run wrote after its last
 * save; a last line cut short by a kill is dropped too. That rewrite is
 * atomic (rnnrt_out.c: "<target>.tmp", then rename). Then the run appends:
 * each line is written whole and flushed, so a signal or a kill loses
 * nothing written before it. A device, FIFO or "-" (standard output) is
 * written in place, nothing read back.
 *
 * A fresh run does not replace a file that is not a metrics file (its
 * first line is not one of these records): exit 1, naming it. Every write
 * is checked; a failure is exit 3 with the path.
 */
#include "rnnrt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_HEAD "{\"kind\":\""

/* The step of a record line (at most n bytes), or -1 if it is not one. */
static int64_t record_step(const char *s, size_t n)
{
    size_t h = sizeof RECORD_HEAD - 1;
    if (n <= h || memcmp(s, RECORD_HEAD, h) != 0 || s[n - 1] != '}')
        return -1;
    const char *key = "\",\"step\":";
    const char *end = s + n, *p = s + h;
    while (p < end && *p != '"')
        p++;
    if ((size_t)(end - p) <= strlen(key) ||
        memcmp(p, key, strlen(key)) != 0)
        return -1;
    p += strlen(key);
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    int64_t v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return p < end && *p == ',' ? v : -1;
}

/* Keeps in b the lines of data whose step is at most step. */
static int keep_records(const char *path, const char *data, size_t len,
                        int64_t step, RnnrtBuf *b, RnnrtError *err)
{
    size_t line = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(data + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
        size_t h = sizeof RECORD_HEAD - 1;
        int64_t s = nl ? record_step(data + i, n) : -1;
        line++;
        if (!nl && memcmp(data + i, RECORD_HEAD, n < h ? n : h) == 0)
            break; /* a record cut short by a kill mid-write: dropped */
        if (s < 0)
            return rnnrt_error(err, RNNRT_EXIT_DATA,
                               "%s:%zu: not a record of --metrics (a line "
                               "{\"kind\":...,\"step\":N,...}); this file is "
                               "not replaced: remove it or give another "
                               "--metrics path", path, line);
        if (s <= step)
            rnnrt_buf_put(b, data + i, n + 1);
        i += n + 1;
    }
    return 0;
}

int rnnrt_trainlog_open(RnnrtTrainLog *l, const char *path, int64_t step,
                        RnnrtError *err)
{
    memset(l, 0, sizeof *l);
    l->path = path;
    if (strcmp(path, "-") == 0) {
        l->f = stdout;
        l->std = 1;
        return 0;
    }
    char target[RNNRT_PATH_MAX];
    int e = rnnrt_out_resolve(path, target, sizeof target);
    struct stat st;
    int exists = 0;
    if (!e && stat(target, &st) == 0)
        exists = 1;
    else if (!e && errno != ENOENT)
        e = errno;
    if (!e && exists && S_ISDIR(st.st_mode))
        e = EISDIR;
    if (e)
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot write the metrics "
                           "file '%s': %s", path, strerror(e));
    if (exists && !S_ISREG(st.st_mode)) { /* a device or FIFO: in place */
        l->f = fopen(target, "a");
        if (!l->f)
            return rnnrt_error(err, RNNRT_EXIT_IO, "cannot write the metrics "
                               "file '%s': %s", path, strerror(errno));
        return 0;
    }
    RnnrtBuf b = {.what = "the metrics file"};
    if (exists && st.st_size > 0) {
        char *data;
        size_t len;
        int rc = rnnrt_file_read(target, SIZE_MAX, &data, &len, err);
        if (rc)
            return rc;
        rc = keep_records(path, data, len, step, &b, err);
        free(data);
        if (rc) {
            rnnrt_buf_free(&b);
            return rc;
        }
    }
    RnnrtSaveStage stage;
    e = rnnrt_file_save(path, rnnrt_file_write_buf, &b, &stage);
    rnnrt_buf_free(&b);
    if (stage != RNNRT_SAVE_OK)
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot write the metrics "
                           "file '%s': %s", path, strerror(e ? e : EIO));
    l->f = fopen(target, "a");
    if (!l->f)
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot write the metrics "
                           "file '%s': %s", path, strerror(errno));
    return 0;
}

int rnnrt_trainlog_put(RnnrtTrainLog *l, const char *line, RnnrtError *err)
{
    if (!l->f)
        return 0;
    errno = 0;
    if (fputs(line, l->f) < 0 || fputc('\n', l->f) == EOF ||
        fflush(l->f) != 0 || ferror(l->f)) {
        int e = errno ? errno : EIO;
        rnnrt_trainlog_close(l, NULL);
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot write the metrics "
                           "file '%s': %s", l->path, strerror(e));
    }
    return 0;
}

int rnnrt_trainlog_close(RnnrtTrainLog *l, RnnrtError *err)
{
    if (!l->f)
        return 0;
    FILE *f = l->f;
    l->f = NULL;
    errno = 0;
    int bad = fflush(f) != 0 || ferror(f);
    int e = errno;
    if (!l->std) {
        if (!bad && fsync(fileno(f)) != 0 && errno != EINVAL &&
            errno != EROFS) {
            bad = 1;
            e = errno;
        }
        if (fclose(f) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
    }
    if (bad && err)
        return rnnrt_error(err, RNNRT_EXIT_IO, "cannot write the metrics "
                           "file '%s': %s", l->path, strerror(e ? e : EIO));
    return bad ? RNNRT_EXIT_IO : 0;
}
