/*
 * test_rt_layout.c: rnnrt_layout, which places an emitted model's
 * workspace from its table of buffers: the buffers of one slot share an
 * offset and the slot is as large as its largest member, slots come in the
 * order of their first buffer and storage of its own after them; sizes
 * multiply the run-time dims named ("TB", "Vt"); a dim out of range or a
 * buffer past INT_MAX reals gives 0; NULL base only measures.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>

#include "rnnrt.h"

typedef struct {
    real *a, *b, *c, *d, *own;
} Work;

static const RnnrtWorkBuf bufs[] = {
    {offsetof(Work, a), 0, "TB", 4, NULL, 0}, /* slot 0: max(T*B*4, V*2) */
    {offsetof(Work, b), 1, "B", 3, NULL, 0},  /* slot 1 */
    {offsetof(Work, own), -1, "", 5, NULL, 0}, /* its own, after the slots */
    {offsetof(Work, c), 0, "V", 2, NULL, 0},
    {offsetof(Work, d), 1, "Vt", 1, NULL, 0},
};

static void test_layout_slots_and_own_storage(void **state)
{
    (void)state;
    real base[256];
    Work w;
    const int dims[RNNRT_LAYOUT_NDIMS] = {2, 3, 7, 9}; /* B T V Vt */
    size_t n = rnnrt_layout(&w, base, bufs, 5, dims);
    /* slot 0: max(3*2*4 = 24, 7*2 = 14) = 24; slot 1: max(6, 9) = 9; own 5 */
    assert_int_equal(n, 24 + 9 + 5);
    assert_ptr_equal(w.a, base);
    assert_ptr_equal(w.c, base);
    assert_ptr_equal(w.b, base + 24);
    assert_ptr_equal(w.d, base + 24);
    assert_ptr_equal(w.own, base + 33);
}

static void test_layout_null_base_measures(void **state)
{
    (void)state;
    Work w;
    const int dims[RNNRT_LAYOUT_NDIMS] = {2, 3, 7, 9};
    assert_int_equal(rnnrt_layout(&w, NULL, bufs, 5, dims), 38);
    assert_null(w.a);
    assert_null(w.own);
}

static void test_layout_out_of_range_is_zero(void **state)
{
    (void)state;
    Work w;
    const int bad_b[RNNRT_LAYOUT_NDIMS] = {0, 3, 7, 9};
    const int big_t[RNNRT_LAYOUT_NDIMS] = {2, (1 << 20) + 1, 7, 9};
    const int unused_vt[RNNRT_LAYOUT_NDIMS] = {2, 3, 7, 0}; /* d needs Vt */
    assert_int_equal(rnnrt_layout(&w, NULL, bufs, 5, bad_b), 0);
    assert_int_equal(rnnrt_layout(&w, NULL, bufs, 5, big_t), 0);
    assert_int_equal(rnnrt_layout(&w, NULL, bufs, 5, unused_vt), 0);
    /* T*B*4 = 2^20 * 2^10 * 4 > INT_MAX */
    const int huge[RNNRT_LAYOUT_NDIMS] = {1 << 10, 1 << 20, 7, 9};
    assert_int_equal(rnnrt_layout(&w, NULL, bufs, 5, huge), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_slots_and_own_storage),
        cmocka_unit_test(test_layout_null_base_measures),
        cmocka_unit_test(test_layout_out_of_range_is_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
