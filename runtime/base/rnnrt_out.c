/*
 * rnnrt_out.c: every output file of rnnc and librnnrt goes through here
 * (the rules are in rnnrt_out.h). Built into both rnnc_core and librnnrt,
 * so it uses nothing but C and POSIX.
 *
 * Invariants:
 *  - A path is classified once, after its symlinks are followed: "-"
 *    (stdout), a regular file or nothing (replaced atomically through
 *    "<target>.tmp" in the target's own directory), anything else but a
 *    directory (written in place: opened without O_CREAT, never renamed
 *    over, so a device node stays a device node).
 *  - While a tmp file exists, its name is in the `active` table, which a
 *    signal handler may read: the name is copied in before the flag is
 *    set, and the flag cleared only after the file is renamed or removed.
 *    Saves run on one thread at a time.
 *  - On any failure the tmp file is removed and an older target is
 *    untouched; an error code is returned, never printed.
 */
#include "rnnrt_out.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the tmp files of saves in progress, for a signal handler ---- */

#define ACTIVE_MAX 4
static char active_path[ACTIVE_MAX][RNNRT_PATH_MAX];
static volatile sig_atomic_t active_on[ACTIVE_MAX];

static int track(const char *tmp)
{
    for (int i = 0; i < ACTIVE_MAX; i++)
        if (!active_on[i]) {
            strcpy(active_path[i], tmp);
            atomic_signal_fence(memory_order_seq_cst);
            active_on[i] = 1;
            return i;
        }
    return -1; /* more than ACTIVE_MAX at once: not removed by a signal */
}

static void untrack(RnnrtOut *o)
{
    if (o->slot >= 0)
        active_on[o->slot] = 0;
    o->slot = -1;
}

void rnnrt_out_unlink_active(void)
{
    for (int i = 0; i < ACTIVE_MAX; i++)
        if (active_on[i])
            unlink(active_path[i]);
}

/* ---- paths ---- */

/* One link at a time with readlink, not realpath: the target may not
 * exist yet (a dangling link names the file to create), and the path stays
 * as relative as the user gave it, for messages. */
int rnnrt_out_resolve(const char *path, char *out, size_t cap)
{
    if (strlen(path) >= cap)
        return ENAMETOOLONG;
    strcpy(out, path);
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode))
            return 0; /* not a link (or not there yet): the target */
        if (hops == 40)
            return ELOOP;
        char link[RNNRT_PATH_MAX];
        ssize_t n = readlink(out, link, sizeof link);
        if (n < 0)
            return errno;
        if ((size_t)n >= sizeof link)
            return ENAMETOOLONG;
        link[n] = 0;
        /* a relative link is relative to the link's own directory */
        const char *slash = strrchr(out, '/');
        size_t dir = link[0] == '/' || !slash ? 0 : (size_t)(slash - out) + 1;
        if (dir + (size_t)n >= cap)
            return ENAMETOOLONG;
        memcpy(out + dir, link, (size_t)n + 1);
    }
}

int rnnrt_out_tmp_path(const char *path, char *out, size_t cap)
{
    char target[RNNRT_PATH_MAX];
    int e = rnnrt_out_resolve(path, target, sizeof target);
    if (e)
        return e;
    return (size_t)snprintf(out, cap, "%s.tmp", target) >= cap ? ENAMETOOLONG
                                                               : 0;
}

/* fsync the directory holding path, so the rename is on disk. Returns
 * errno, or 0 (also where directories cannot be synced: EINVAL). */
static int sync_dir(const char *path)
{
    char dir[RNNRT_PATH_MAX];
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

/* What is behind path and all its links: 0 nothing or a regular file, 1
 * a directory, 2 anything else (written in place). *st is filled when it
 * exists (*exists = 1). */
static int classify(const char *path, struct stat *st, int *exists)
{
    *exists = stat(path, st) == 0;
    if (!*exists || S_ISREG(st->st_mode))
        return 0;
    return S_ISDIR(st->st_mode) ? 1 : 2;
}

/* ---- writing ---- */

static void remove_tmp(RnnrtOut *o)
{
    if (o->created)
        unlink(o->tmp);
    o->created = 0;
    untrack(o);
}

static int fail(RnnrtOut *o, RnnrtSaveStage stage, int e)
{
    o->stage = stage;
    return e;
}

static int open_tmp(RnnrtOut *o, const struct stat *old)
{
    if ((size_t)snprintf(o->tmp, sizeof o->tmp, "%s.tmp", o->target) >=
        sizeof o->tmp)
        return fail(o, RNNRT_SAVE_LONG_PATH, ENAMETOOLONG);
    o->slot = track(o->tmp);
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0666);
    int e = fd < 0 ? errno : 0;
    /* the new file keeps the permissions of the one it replaces */
    if (!e && old && fchmod(fd, old->st_mode & 07777) != 0)
        e = errno;
    if (!e && !(o->f = fdopen(fd, "wb")))
        e = errno;
    if (e) {
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        untrack(o);
        return fail(o, RNNRT_SAVE_OPEN, e);
    }
    o->created = 1;
    return 0;
}

int rnnrt_out_open(RnnrtOut *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    o->slot = -1;
    if (strcmp(path, "-") == 0) {
        o->kind = RNNRT_OUT_STDOUT;
        o->f = stdout;
        return 0;
    }
    /* classified by what the kernel finds behind all links (also the
     * magic ones, /proc/self/fd/1 -> "pipe:[…]") */
    struct stat st;
    int exists, what = classify(path, &st, &exists);
    o->kind = what ? RNNRT_OUT_IN_PLACE : RNNRT_OUT_REPLACE;
    if (what == 1)
        return fail(o, RNNRT_SAVE_OPEN, EISDIR);
    if (what == 0) {
        int e = rnnrt_out_resolve(path, o->target, sizeof o->target);
        if (e)
            return fail(o, RNNRT_SAVE_LONG_PATH, e);
        return open_tmp(o, exists ? &st : NULL);
    }
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return fail(o, RNNRT_SAVE_OPEN, errno);
    if (!(o->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        return fail(o, RNNRT_SAVE_OPEN, e);
    }
    return 0;
}

int rnnrt_out_close(RnnrtOut *o)
{
    FILE *f = o->f;
    if (!f)
        return 0;
    o->f = NULL;
    /* fflush first: after a failed write it fails again with the errno
     * (ENOSPC), which ferror alone would not tell */
    errno = 0;
    int e = fflush(f) != 0 ? (errno ? errno : EIO) : 0;
    if (!e && ferror(f))
        e = EIO;
    if (o->kind == RNNRT_OUT_STDOUT) {
        clearerr(f);
        return e ? fail(o, RNNRT_SAVE_WRITE, e) : 0;
    }
    if (!e && o->kind == RNNRT_OUT_REPLACE && fsync(fileno(f)) != 0)
        e = errno;
    errno = 0;
    if (fclose(f) != 0 && !e)
        e = errno ? errno : EIO;
    if (e) {
        remove_tmp(o);
        return fail(o, RNNRT_SAVE_WRITE, e);
    }
    return 0;
}

int rnnrt_out_commit(RnnrtOut *o)
{
    int e = rnnrt_out_close(o);
    if (e || !o->created)
        return e;
    if (rename(o->tmp, o->target) != 0) {
        e = errno;
        remove_tmp(o);
        return fail(o, RNNRT_SAVE_RENAME, e);
    }
    o->created = 0; /* renamed: nothing to remove any more */
    untrack(o);
    e = sync_dir(o->target);
    return e ? fail(o, RNNRT_SAVE_SYNC_DIR, e) : 0;
}

void rnnrt_out_abort(RnnrtOut *o)
{
    if (o->f && o->kind != RNNRT_OUT_STDOUT)
        fclose(o->f);
    o->f = NULL;
    remove_tmp(o);
}

const char *rnnrt_out_failed_path(const RnnrtOut *o)
{
    if (o->kind == RNNRT_OUT_STDOUT)
        return "standard output";
    if (o->stage == RNNRT_SAVE_OPEN && o->tmp[0])
        return o->tmp;
    return o->path;
}

int rnnrt_out_save(const char *path, RnnrtWriteFn write, void *ctx,
                   RnnrtSaveStage *stage)
{
    RnnrtOut o;
    int e = rnnrt_out_open(&o, path);
    if (!e) {
        errno = 0;
        e = write(o.f, ctx);
        if (e) {
            o.stage = RNNRT_SAVE_WRITE;
            rnnrt_out_abort(&o);
        } else
            e = rnnrt_out_commit(&o);
    }
    *stage = e ? o.stage : RNNRT_SAVE_OK;
    return e;
}

int rnnrt_out_probe(const char *path, RnnrtSaveStage *stage)
{
    *stage = RNNRT_SAVE_OK;
    if (strcmp(path, "-") == 0)
        return 0;
    struct stat st;
    int exists, what = classify(path, &st, &exists);
    *stage = RNNRT_SAVE_OPEN;
    if (what == 1)
        return EISDIR;
    if (what == 2) /* opening a FIFO for writing would wait for a reader */
        return access(path, W_OK) == 0 ? (*stage = RNNRT_SAVE_OK, 0) : errno;
    RnnrtOut o;
    memset(&o, 0, sizeof o);
    o.path = path;
    o.slot = -1;
    o.kind = RNNRT_OUT_REPLACE;
    int e = rnnrt_out_resolve(path, o.target, sizeof o.target);
    if (e) {
        *stage = RNNRT_SAVE_LONG_PATH;
        return e;
    }
    e = open_tmp(&o, NULL);
    if (e) {
        *stage = o.stage;
        return e;
    }
    e = fclose(o.f) != 0 ? errno : 0;
    o.f = NULL;
    rnnrt_out_abort(&o);
    *stage = e ? RNNRT_SAVE_WRITE : RNNRT_SAVE_OK;
    return e;
}
