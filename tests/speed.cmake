# Optimization passes (compiler/pass_*.c) beyond their unit tests
# (tests/unit/test_pass_*.c, test_alloc_step.c). No timing here: speed is
# measured by bench/run.sh, never by ctest.
#   pass_dump_<pass>   rnnc specs/rnn.yaml -d <pass> prints the graph
#   pass_O0            rnnc -O0 (no passes) still emits C
#   pass_check_<cell>  the optimized C (fused loops and all) of specs/rnn.yaml,
#                      bench/specs/gru.yaml, lstm.yaml, built in
#                      double, agrees with the reference interpreter run on
#                      the unoptimized graph (dump | rnnc --check), at 6
#                      rows and at 136
#   pass_check_gemmfuse_<cell>  the same with --pass gemmfuse: at 6 rows
#                      GEMMs per weight, at 136 the concatenated weights
#                      (emit.c CONCAT_MIN_ROWS)
#   pass_dump_gemmfuse the forward graph after gemmfuse: W_cat = concat of 3
#   pass_optional_gemmfuse  gemmfuse runs only with --pass (and not with
#                      --no-pass too); pass_no_pass_unknown: a bad name
foreach(pass dce wgrad hoist onehot cse fuse)
  add_test(NAME pass_dump_${pass}
    COMMAND $<TARGET_FILE:rnnc> specs/rnn.yaml -d ${pass}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(pass_dump_${pass} PROPERTIES TIMEOUT 30 LABELS passes
    PASS_REGULAR_EXPRESSION "grad W_hh")
endforeach()
add_test(NAME pass_dump_gemmfuse
  COMMAND $<TARGET_FILE:rnnc> bench/specs/gru.yaml -d gemmfuse
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(pass_dump_gemmfuse PROPERTIES TIMEOUT 30 LABELS passes
  PASS_REGULAR_EXPRESSION "= concat %[0-9]+, %[0-9]+, %[0-9]+ : \\[256,768\\]")
add_test(NAME pass_optional_gemmfuse
  COMMAND sh -c "test $($<TARGET_FILE:rnnc> bench/specs/gru.yaml -d fuse | grep -c concat) -eq 0 && \
test $($<TARGET_FILE:rnnc> bench/specs/gru.yaml --pass gemmfuse -d fuse | grep -c concat) -eq 2 && \
test $($<TARGET_FILE:rnnc> bench/specs/gru.yaml --pass gemmfuse --no-pass gemmfuse -d fuse | grep -c concat) -eq 0"
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(pass_optional_gemmfuse PROPERTIES TIMEOUT 30 LABELS passes)
add_test(NAME pass_no_pass_unknown
  COMMAND $<TARGET_FILE:rnnc> specs/rnn.yaml --no-pass gemfuse
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(pass_no_pass_unknown PROPERTIES TIMEOUT 30 LABELS passes
  PASS_REGULAR_EXPRESSION "rnnc: error: unknown pass 'gemfuse' for --no-pass")
add_test(NAME pass_O0
  COMMAND $<TARGET_FILE:rnnc> specs/rnn.yaml -O0 -o ${CMAKE_CURRENT_BINARY_DIR}/rnn_O0.c
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(pass_O0 PROPERTIES TIMEOUT 30 LABELS passes)

# pass_check_<cell>, and pass_check_gemmfuse_<cell> with the optional pass
foreach(variant none gemmfuse)
foreach(spec specs/rnn.yaml bench/specs/gru.yaml bench/specs/lstm.yaml)
  get_filename_component(cell ${spec} NAME_WE)
  set(name ${cell})
  set(flags "")
  if(NOT variant STREQUAL none)
    set(name ${variant}_${cell})
    set(flags "--pass ${variant}")
  endif()
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/pass_check)
  add_test(NAME pass_check_${name}
    COMMAND sh -c "set -e; mkdir -p ${dir}; \
$<TARGET_FILE:rnnc> ${spec} ${flags} -o ${dir}/${name}.c; \
cc -O1 -std=c11 -DRNNRT_DOUBLE -I runtime ${dir}/${name}.c -L${PROJECT_BINARY_DIR} -lrnnrt_d -lopenblas -ljansson -lm -o ${dir}/${name}_d; \
${dir}/${name}_d dump --B 2 --T 3 --V 5 > ${dir}/${name}.dump; \
$<TARGET_FILE:rnnc> ${spec} --check ${dir}/${name}.dump; \
${dir}/${name}_d dump --B 8 --T 17 --V 5 > ${dir}/${name}_rows.dump; \
$<TARGET_FILE:rnnc> ${spec} --check ${dir}/${name}_rows.dump"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(pass_check_${name} PROPERTIES TIMEOUT 120 LABELS passes
    ENVIRONMENT OPENBLAS_NUM_THREADS=1)
endforeach()
endforeach()

# CSE leaves one bias reduction for the RNN's db_ih and db_hh.
add_test(NAME pass_cse_one_sum_to
  COMMAND sh -c "test $($<TARGET_FILE:rnnc> specs/rnn.yaml -d cse | grep -c '= sum_to %[0-9]* : \\[256\\]') -eq 1"
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(pass_cse_one_sum_to PROPERTIES TIMEOUT 30 LABELS passes)
