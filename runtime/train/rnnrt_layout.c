/*
 * rnnrt_layout.c: an emitted model's workspace from its table of buffers.
 *
 * rnnc emits, per model, the struct of buffer pointers and a table
 * (RnnrtWorkBuf: field, slot, size); this one function places them, so the
 * overflow checks live here once instead of in every model's code. The
 * placement is the one the emitted code made before the table: the slots in
 * the order of their first buffer, each as large as its largest member,
 * then the buffers with storage of their own.
 */
#include "rnnrt.h"

#include <limits.h>
#include <string.h>

/* dims ("TB", "Vt") as the product of dims[], times mult; 0 if too big. */
static size_t dims_size(const char *d, long mult, const int dims[RNNRT_LAYOUT_NDIMS])
{
    size_t n = mult > 0 ? (size_t)mult : 0;
    for (; d && *d; d++) {
        int k = *d == 'B' ? RNNRT_LAYOUT_B : *d == 'T' ? RNNRT_LAYOUT_T : *d == 'V' && d[1] != 't' ? RNNRT_LAYOUT_V
                                                                                                   : RNNRT_LAYOUT_X;
        if (*d == 'V' && d[1] == 't')
            d++;
        size_t v = (size_t)dims[k];
        if (v == 0 || n > (size_t)INT_MAX / v)
            return 0;
        n *= v;
    }
    return n <= (size_t)INT_MAX ? n : 0;
}

static size_t buf_size(const RnnrtWorkBuf *b, const int dims[RNNRT_LAYOUT_NDIMS])
{
    size_t n = dims_size(b->dims, b->mult, dims);
    if (b->pack_mult <= 0 || n == 0)
        return n;
    size_t cols = dims_size(b->pack_dims, b->pack_mult, dims);
    if (cols == 0)
        return 0;
    n = rnnrt_packed_size((int)n, (int)cols);
    return n <= (size_t)INT_MAX ? n : 0;
}

static void place(void *work, real *base, const RnnrtWorkBuf *b, size_t off)
{
    real *p = base ? base + off : NULL;
    memcpy((char *)work + b->field, &p, sizeof p);
}

size_t rnnrt_layout(void *work, real *base, const RnnrtWorkBuf *buf, int n, const int dims[RNNRT_LAYOUT_NDIMS])
{
    static const int max[RNNRT_LAYOUT_NDIMS] = {1 << 20, 1 << 20, 1 << 24, 1 << 24};
    for (int k = 0; k < RNNRT_LAYOUT_NDIMS; k++)
        if (dims[k] < (k == RNNRT_LAYOUT_X ? 0 : 1) || dims[k] > max[k])
            return 0;
    size_t off = 0;
    for (int pass = 0; pass < 2; pass++) /* the slots, then the buffers of their own */
        for (int i = 0; i < n; i++) {
            if ((buf[i].slot < 0) != (pass == 1))
                continue;
            int first = 1;
            for (int j = 0; j < i && first && pass == 0; j++)
                first = buf[j].slot != buf[i].slot;
            if (!first)
                continue;
            size_t size = 0;
            for (int j = i; j < n; j++) {
                if (j != i && (pass == 1 || buf[j].slot != buf[i].slot))
                    continue;
                size_t sj = buf_size(&buf[j], dims);
                if (sj == 0)
                    return 0;
                if (sj > size)
                    size = sj;
                place(work, base, &buf[j], off);
                if (pass == 1)
                    break;
            }
            off += size;
        }
    return off;
}
