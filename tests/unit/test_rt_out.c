/*
 * test_rt_out.c: rnnrt_out (runtime/base/rnnrt_out.c), the output module
 * rnnc and librnnrt share. Each test works in a fresh directory under
 * /tmp (removed in teardown) and checks what is on disk afterwards: the
 * target's bytes, that a symlink is still one, that no "<target>.tmp" is
 * left, and that a device is written in place.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rnnrt_out.h"

typedef struct {
    char dir[64];
} Fixture;

/* "<dir>/<name>", from a ring of 8 buffers (enough for one test). */
static const char *at(Fixture *f, const char *name)
{
    static char ring[8][128];
    static int next;
    char *p = ring[next++ % 8];
    snprintf(p, sizeof ring[0], "%s/%s", f->dir, name);
    return p;
}

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/rnnrt_out_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void expect_text(const char *path, const char *want)
{
    char buf[256] = {0};
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
}

static int write_hello(FILE *f, void *ctx)
{
    (void)ctx;
    return fputs("hello\n", f) < 0 ? EIO : 0;
}

static int write_fails(FILE *f, void *ctx)
{
    (void)ctx;
    fputs("half", f);
    return ENOSPC;
}

static void test_out_save_replaces_a_regular_file(void **state)
{
    Fixture *f = *state;
    const char *p = at(f, "a.c"), *tmp = at(f, "a.c.tmp");
    put(p, "old\n");
    assert_int_equal(chmod(p, 0640), 0);
    RnnrtSaveStage stage;
    assert_int_equal(rnnrt_out_save(p, write_hello, NULL, &stage), 0);
    assert_int_equal(stage, RNNRT_SAVE_OK);
    expect_text(p, "hello\n");
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640); /* permissions kept */
    assert_int_equal(access(tmp, F_OK), -1);
}

static void test_out_save_failure_keeps_the_old_file(void **state)
{
    Fixture *f = *state;
    const char *p = at(f, "a.c"), *tmp = at(f, "a.c.tmp");
    put(p, "old\n");
    RnnrtSaveStage stage;
    assert_int_equal(rnnrt_out_save(p, write_fails, NULL, &stage), ENOSPC);
    assert_int_equal(stage, RNNRT_SAVE_WRITE);
    expect_text(p, "old\n");
    assert_int_equal(access(tmp, F_OK), -1);
}

/* A relative link into another directory: the tmp file and the rename
 * happen there, the link stays. */
static void test_out_save_follows_symlinks(void **state)
{
    Fixture *f = *state;
    assert_int_equal(mkdir(at(f, "sub"), 0755), 0);
    const char *real = at(f, "sub/real.c"), *link = at(f, "link.c"),
               *link2 = at(f, "link2.c");
    put(real, "old\n");
    assert_int_equal(symlink("sub/real.c", link), 0);
    assert_int_equal(symlink("link.c", link2), 0); /* a chain of two */
    RnnrtSaveStage stage;
    assert_int_equal(rnnrt_out_save(link2, write_hello, NULL, &stage), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(link2, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect_text(real, "hello\n");
    assert_int_equal(access(at(f, "sub/real.c.tmp"), F_OK), -1);
    assert_int_equal(access(at(f, "link2.c.tmp"), F_OK), -1);
    char tmp[RNNRT_PATH_MAX];
    assert_int_equal(rnnrt_out_tmp_path(link2, tmp, sizeof tmp), 0);
    assert_string_equal(tmp, at(f, "sub/real.c.tmp"));
}

/* A dangling link names the file to create. */
static void test_out_save_creates_a_dangling_links_target(void **state)
{
    Fixture *f = *state;
    const char *link = at(f, "new.c");
    assert_int_equal(symlink("made.c", link), 0);
    RnnrtSaveStage stage;
    assert_int_equal(rnnrt_out_save(link, write_hello, NULL, &stage), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect_text(at(f, "made.c"), "hello\n");
}

static void test_out_device_is_written_in_place(void **state)
{
    (void)state;
    RnnrtOut o;
    assert_int_equal(rnnrt_out_open(&o, "/dev/null"), 0);
    assert_int_equal(o.kind, RNNRT_OUT_IN_PLACE);
    fputs("nothing", o.f);
    assert_int_equal(rnnrt_out_commit(&o), 0);
    struct stat st;
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    RnnrtSaveStage stage;
    assert_int_equal(rnnrt_out_probe("/dev/null", &stage), 0);
}

static void test_out_full_device_reports_enospc(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0) {
        print_message("skipped: no writable /dev/full\n");
        skip();
    }
    RnnrtSaveStage stage;
    assert_int_equal(rnnrt_out_save("/dev/full", write_hello, NULL, &stage),
                     ENOSPC);
    assert_int_equal(stage, RNNRT_SAVE_WRITE);
}

static void test_out_directory_is_refused(void **state)
{
    Fixture *f = *state;
    RnnrtOut o;
    assert_int_equal(rnnrt_out_open(&o, f->dir), EISDIR);
    assert_null(o.f);
    assert_string_equal(rnnrt_out_failed_path(&o), f->dir);
    RnnrtSaveStage stage;
    assert_int_equal(rnnrt_out_probe(f->dir, &stage), EISDIR);
}

static void test_out_dash_is_stdout(void **state)
{
    (void)state;
    RnnrtOut o;
    assert_int_equal(rnnrt_out_open(&o, "-"), 0);
    assert_int_equal(o.kind, RNNRT_OUT_STDOUT);
    assert_ptr_equal(o.f, stdout);
    assert_int_equal(rnnrt_out_commit(&o), 0);
    assert_string_equal(rnnrt_out_failed_path(&o), "standard output");
    assert_int_equal(access("-", F_OK), -1);
}

/* The table a signal handler reads: a save in progress is listed until it
 * is renamed or aborted. */
static void test_out_unlink_active_removes_the_tmp(void **state)
{
    Fixture *f = *state;
    const char *p = at(f, "a.c"), *tmp = at(f, "a.c.tmp");
    put(p, "old\n");
    RnnrtOut o;
    assert_int_equal(rnnrt_out_open(&o, p), 0);
    fputs("half", o.f);
    assert_int_equal(fflush(o.f), 0);
    assert_int_equal(access(tmp, F_OK), 0);
    rnnrt_out_unlink_active();
    assert_int_equal(access(tmp, F_OK), -1);
    rnnrt_out_abort(&o);
    expect_text(p, "old\n");
    /* after a commit nothing is listed: the new file survives */
    assert_int_equal(rnnrt_out_open(&o, p), 0);
    fputs("new\n", o.f);
    assert_int_equal(rnnrt_out_commit(&o), 0);
    rnnrt_out_unlink_active();
    expect_text(p, "new\n");
}

static void test_out_probe_leaves_nothing(void **state)
{
    Fixture *f = *state;
    const char *p = at(f, "m.ckpt"), *tmp = at(f, "m.ckpt.tmp");
    RnnrtSaveStage stage;
    assert_int_equal(rnnrt_out_probe(p, &stage), 0);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(rnnrt_out_probe(at(f, "nodir/m.ckpt"), &stage), ENOENT);
    assert_int_equal(stage, RNNRT_SAVE_OPEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_out_save_replaces_a_regular_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_save_failure_keeps_the_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_save_follows_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_save_creates_a_dangling_links_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_device_is_written_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_full_device_reports_enospc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_directory_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_dash_is_stdout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_unlink_active_removes_the_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_probe_leaves_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
