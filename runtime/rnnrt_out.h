/*
 * rnnrt_out.h: writing an output file the way a careful tool does. Shared
 * by rnnc (-o, -d) and librnnrt (checkpoints, n-gram models, attention
 * plots, standard output); the source is runtime/base/rnnrt_out.c, built
 * into both. Plain C and POSIX, nothing else of the runtime.
 *
 * What a path means (RELIABILITY F4, E1, E4):
 *   "-"                 standard output, written in place
 *   a symlink           followed, link by link; what it ends at is treated
 *                       as below (the link itself stays)
 *   a regular file, or  replaced atomically: the bytes go to "<target>.tmp"
 *   nothing yet         in the target's own directory, then fflush, fsync,
 *                       fclose, rename over the target, fsync of the
 *                       directory. A failure removes the tmp file and
 *                       leaves an older target as it was.
 *   a device, FIFO or   written in place (opened, never created, renamed
 *   socket              over or synced): `-o /dev/null` stays a device
 *   a directory         refused (EISDIR)
 * Every write, flush, sync and close is checked; the functions return 0
 * or an errno value and record the stage that failed, and leave the words
 * of the message to the caller, which knows what the file is.
 *
 * A second SIGINT/SIGTERM during a save must not leave a tmp file behind:
 * rnnrt_out_unlink_active, async-signal-safe, removes the tmp files of the
 * saves in progress (the runtime's signal handler calls it).
 */
#ifndef RNNRT_OUT_H
#define RNNRT_OUT_H

#include <stddef.h>
#include <stdio.h>

#define RNNRT_PATH_MAX 4200 /* a path plus ".tmp" */

/* Where a save failed, for the caller's message. */
typedef enum {
    RNNRT_SAVE_OK,
    RNNRT_SAVE_LONG_PATH, /* the target or its "<target>.tmp" does not fit
                             RNNRT_PATH_MAX, or too many symlinks */
    RNNRT_SAVE_OPEN,      /* creating the tmp file / opening in place */
    RNNRT_SAVE_WRITE,     /* writing, flushing, syncing or closing */
    RNNRT_SAVE_RENAME,
    RNNRT_SAVE_SYNC_DIR   /* after the rename: the new file is in place */
} RnnrtSaveStage;

typedef enum {
    RNNRT_OUT_STDOUT,   /* "-" */
    RNNRT_OUT_REPLACE,  /* tmp + rename */
    RNNRT_OUT_IN_PLACE  /* device, FIFO, socket */
} RnnrtOutKind;

typedef struct {
    const char *path;             /* as given, for messages */
    char target[RNNRT_PATH_MAX];  /* path with its symlinks followed */
    char tmp[RNNRT_PATH_MAX];     /* "<target>.tmp" (REPLACE only) */
    FILE *f;                      /* write the bytes here */
    RnnrtOutKind kind;
    RnnrtSaveStage stage;         /* where it failed; OK until then */
    int created;                  /* the tmp file exists: ours to remove */
    int slot;                     /* in the table of saves in progress */
} RnnrtOut;

/* Opens path for writing as the table above says. 0 or an errno value
 * (then o->f is NULL and o->stage tells where). */
int rnnrt_out_open(RnnrtOut *o, const char *path);
/* Checks ferror, flushes, syncs and closes (standard output: flushes and
 * checks, stays open). 0 or an errno value; a failure removes the tmp. */
int rnnrt_out_close(RnnrtOut *o);
/* rnnrt_out_close if still open, then renames the tmp over the target and
 * syncs the directory (REPLACE only). 0 or an errno value. */
int rnnrt_out_commit(RnnrtOut *o);
/* Gives up: closes and removes the tmp; an older target is untouched. */
void rnnrt_out_abort(RnnrtOut *o);
/* The name of the file that failed, for messages: the tmp file when it
 * could not be created, "standard output" for "-", else the path. */
const char *rnnrt_out_failed_path(const RnnrtOut *o);

/* Writes the file's bytes to f; returns 0 or an errno value. */
typedef int (*RnnrtWriteFn)(FILE *f, void *ctx);
/* open, write, commit; on failure the tmp is gone. */
int rnnrt_out_save(const char *path, RnnrtWriteFn write, void *ctx,
                   RnnrtSaveStage *stage);

/* Checks, before any work, that a save to path could succeed: a
 * directory is EISDIR; a device or FIFO must be writable (access W_OK);
 * else "<target>.tmp" is created and removed. 0 or an errno value. */
int rnnrt_out_probe(const char *path, RnnrtSaveStage *stage);
/* Follows path's symlinks into out (the last name, which may not exist
 * yet). 0, ELOOP or ENAMETOOLONG. */
int rnnrt_out_resolve(const char *path, char *out, size_t cap);
/* The tmp file a save of path uses, "<target>.tmp", into out; 0 or an
 * errno value. */
int rnnrt_out_tmp_path(const char *path, char *out, size_t cap);
/* Async-signal-safe: unlinks the tmp files of the saves in progress. */
void rnnrt_out_unlink_active(void);

#endif
