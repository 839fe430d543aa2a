/* tmpdir.h: a fresh directory under /tmp for a test file's group
 * (cmocka group setup make_tmpdir, teardown remove_tmpdir), named after
 * TMPDIR_NAME when the test defines it before the include. */
#ifndef TEST_TMPDIR_H
#define TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef TMPDIR_NAME
#define TMPDIR_NAME "rnnrt_test"
#endif

static char tmpdir[256];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/" TMPDIR_NAME ".XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
