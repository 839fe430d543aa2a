/* driver_common.h: what the two standalone-file drivers (driver.c,
 * driver_s2s.c) share: the allocation counter (off with -DNO_ALLOC_COUNT,
 * under ASan, whose malloc this must not replace), the model file's
 * declarations (INFER_FILE, compiled apart) and the name macros over MODEL
 * and UPPER. */
#ifndef INFER_DRIVER_COMMON_H
#define INFER_DRIVER_COMMON_H

#ifdef NO_ALLOC_COUNT
static int counting;
static long allocations;
#else
#include "../unit/alloc_count.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RNNC_INFER_DECLARE_ONLY
#include INFER_FILE

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(name) CAT(MODEL, name)
#define INFER CAT(MODEL, _infer)

#endif
