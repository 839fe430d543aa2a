# The packed scan GEMM (runtime/kernels/rnnrt_gemm_packed.c) has one kernel per
# vector width; the plain test_rtf_gemm_packed run checks the one this
# machine's OpenBLAS core selects, these check each by name (a kernel the
# build or CPU lacks falls back to BLAS, which the test allows and prints).
foreach(kernel avx2 avx512 blas)
  add_test(NAME gemm_packed_${kernel} COMMAND test_rtf_gemm_packed)
  set_tests_properties(gemm_packed_${kernel} PROPERTIES ENVIRONMENT "RNNRT_GEMM=${kernel}")
endforeach()
