/*
 * test_rt_trainlog.c: the --metrics file (runtime/train/rnnrt_trainlog.c).
 * Opening keeps the records of steps <= the run's start and drops the
 * rest and a cut last line; refuses a file that is not a metrics file
 * (exit 1, unchanged), a binary file without a newline too; lines are
 * appended whole; a directory or a missing directory is exit 3.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rnnrt.h"

static char dir[64], path[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/rnnrt_trainlog_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/m.jsonl", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put_file(const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *get_file(void)
{
    static char buf[4096];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

#define R(kind, step) "{\"kind\":\"" kind "\",\"step\":" #step ",\"loss\":1}\n"

static void test_resume_keeps_history(void **state)
{
    (void)state;
    const char *text = R("train", 10) R("train", 20) R("eval", 20)
        R("train", 30) "{\"kind\":\"tr";
    put_file(text, strlen(text));
    RnnrtTrainLog l;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_trainlog_open(&l, path, 20, &err), 0);
    assert_int_equal(rnnrt_trainlog_put(&l, "{\"kind\":\"train\",\"step\":25}", &err), 0);
    assert_int_equal(rnnrt_trainlog_close(&l, &err), 0);
    assert_string_equal(get_file(), R("train", 10) R("train", 20)
                        R("eval", 20) "{\"kind\":\"train\",\"step\":25}\n");
}

static void test_fresh_run_replaces(void **state)
{
    (void)state;
    const char *text = R("train", 10) R("eval", 20);
    put_file(text, strlen(text));
    RnnrtTrainLog l;
    RnnrtError err = {0};
    assert_int_equal(rnnrt_trainlog_open(&l, path, 0, &err), 0);
    assert_int_equal(rnnrt_trainlog_put(&l, "{\"kind\":\"train\",\"step\":1}",
                                        &err), 0);
    assert_int_equal(rnnrt_trainlog_close(&l, &err), 0);
    assert_string_equal(get_file(), "{\"kind\":\"train\",\"step\":1}\n");
}

static void test_refuses_other_files(void **state)
{
    (void)state;
    static const char *others[] = {
        "epoch 1 train_loss 2.0\n",
        R("train", 10) "{\"kind\":\"train\",\"loss\":1}\n", /* no step */
        "RNNCKPT\1\0\0\0\xff\xfe", /* binary, no newline */
    };
    static const size_t len[] = {0, 0, 13};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        size_t n = len[i] ? len[i] : strlen(others[i]);
        put_file(others[i], n);
        RnnrtTrainLog l;
        RnnrtError err = {0};
        assert_int_equal(rnnrt_trainlog_open(&l, path, 0, &err),
                         RNNRT_EXIT_DATA);
        assert_non_null(strstr(err.msg, "not a record of --metrics"));
        assert_memory_equal(get_file(), others[i], n);
        char tmp[160];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        assert_int_equal(access(tmp, F_OK), -1);
    }
}

static void test_bad_paths(void **state)
{
    (void)state;
    RnnrtTrainLog l;
    RnnrtError err = {0};
    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/m.jsonl", dir);
    assert_int_equal(rnnrt_trainlog_open(&l, bad, 0, &err), RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, bad));
    err.code = 0;
    assert_int_equal(rnnrt_trainlog_open(&l, dir, 0, &err), RNNRT_EXIT_IO);
    assert_non_null(strstr(err.msg, "Is a directory"));
    /* a device is written in place, never replaced */
    err.code = 0;
    assert_int_equal(rnnrt_trainlog_open(&l, "/dev/null", 5, &err), 0);
    assert_int_equal(rnnrt_trainlog_put(&l, "{}", &err), 0);
    assert_int_equal(rnnrt_trainlog_close(&l, &err), 0);
    /* a full device: the write fails, exit 3 with the path */
    if (access("/dev/full", W_OK) == 0) {
        assert_int_equal(rnnrt_trainlog_open(&l, "/dev/full", 0, &err), 0);
        assert_int_equal(rnnrt_trainlog_put(&l, "{}", &err), RNNRT_EXIT_IO);
        assert_non_null(strstr(err.msg, "/dev/full"));
        assert_int_equal(rnnrt_trainlog_close(&l, NULL), 0); /* closed */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resume_keeps_history, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fresh_run_replaces, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refuses_other_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
