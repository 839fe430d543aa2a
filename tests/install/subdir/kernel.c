/* kernel.c: links the static runtime (rnnc::rnnrt_static) of an
 * add_subdirectory()'d rnnc, whose OpenBLAS dependency comes along, and
 * prints the runtime's version and the packed GEMM kernel this CPU gets. */
#include "rnnrt.h"

int main(void)
{
    printf("librnnrt %s, packed GEMM kernel %s\n", RNNRT_VERSION, rnnrt_gemm_packed_kernel());
    return 0;
}
