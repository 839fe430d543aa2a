/*
 * rnnrt_fpu.c: flushing denormals to zero.
 *
 * Once a model is trained, softmax tails and small gradients produce
 * subnormal floats, and x86 handles those in microcode at a large cost per
 * operation. Setting FTZ (results that would be subnormal become 0) and DAZ
 * (subnormal inputs read as 0) in MXCSR removes that. The trainer does it
 * by default for train, eval and sample; --keep-denormals turns it off, and
 * gradcheck and dump never do it, so gradient checks see IEEE arithmetic.
 *
 * MXCSR is per thread: this affects the calling thread, which runs the
 * generated code and, with --threads 1, the BLAS calls too. OpenBLAS worker
 * threads started before this call keep their own setting.
 */
#include "rnnrt.h"

#if defined(__SSE2__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#endif

int rnnrt_fpu_flush_denormals(int on)
{
#if defined(__SSE2__)
    unsigned int bits = _MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON;
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | bits) : (csr & ~bits));
    return 1;
#else
    (void)on;
    return 0;
#endif
}

/* For the C API, which must not change its caller's floating-point mode:
 * flush denormals for the duration of a call, then put MXCSR back. */
unsigned int rnnrt_fpu_enter(void)
{
#if defined(__SSE2__)
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | _MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON);
    return csr;
#else
    return 0;
#endif
}

void rnnrt_fpu_leave(unsigned int saved)
{
#if defined(__SSE2__)
    _mm_setcsr(saved);
#else
    (void)saved;
#endif
}
