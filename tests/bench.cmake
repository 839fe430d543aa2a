# bench/ harnesses beyond the LM ones that tests/speed.cmake builds: the
# S2S-ATT pair of bench/run.sh at toy sizes (tests/bench/s2s_smoke.sh). No
# timing is checked; speed is measured by bench/run.sh, never by ctest.
#   bench_s2s_smoke        bench/bench_s2s.c against bench/specs/s2s_att.yaml
#   bench_torch_s2s_smoke  bench/torch_s2s.py (skipped without python3-torch)
set(BENCH_WORK ${CMAKE_CURRENT_BINARY_DIR}/bench)
add_test(NAME bench_s2s_smoke
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench/s2s_smoke.sh $<TARGET_FILE:rnnc> ${PROJECT_BINARY_DIR} ${BENCH_WORK})
add_test(NAME bench_torch_s2s_smoke
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bench/s2s_smoke.sh $<TARGET_FILE:rnnc> ${PROJECT_BINARY_DIR} ${BENCH_WORK} torch)
set_tests_properties(bench_s2s_smoke bench_torch_s2s_smoke PROPERTIES
  TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS bench)
