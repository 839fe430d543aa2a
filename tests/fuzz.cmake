# The libFuzzer target (tests/fuzz/fuzz_spec.c): spec text through every
# stage of the compiler in one process, under ASan and UBSan.
#
# -DRNNC_FUZZ=ON (with -DCMAKE_C_COMPILER=clang) builds rnnc_fuzz from an
# instrumented copy of the compiler's sources (rnnc_core_fuzz: coverage,
# ASan, UBSan that aborts, one malloc per arena allocation). The test
# fuzz_smoke runs it a fixed number of inputs (-runs, not a time budget)
# from the seeds: specs/, examples/ and tests/errors/.
#
# In any other configuration fuzz_smoke builds that target itself in
# build/fuzz with clang when clang's libFuzzer links, and is skipped with a
# message otherwise (scripts/install-deps.sh installs it).
set(FUZZ_SEEDS ${PROJECT_SOURCE_DIR}/specs ${PROJECT_SOURCE_DIR}/examples ${PROJECT_SOURCE_DIR}/tests/errors)
# About 30-60 s (3000 inputs a second); the timeout is for a loaded machine.
set(FUZZ_SMOKE_RUNS 100000)
set(FUZZ_DICT ${PROJECT_SOURCE_DIR}/tests/fuzz/spec.dict)
set(FUZZ_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

if(RNNC_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RNNC_FUZZ needs clang's libFuzzer: configure with -DCMAKE_C_COMPILER=clang "
                        "(scripts/install-deps.sh installs clang and libclang-rt-dev)")
  endif()
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS -fsanitize=fuzzer,address,undefined)
  set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=fuzzer,address,undefined)
  check_c_source_compiles("#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; return (int)n * 0; }"
    RNNC_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(NOT RNNC_HAVE_LIBFUZZER)
    message(FATAL_ERROR "RNNC_FUZZ: clang cannot link -fsanitize=fuzzer,address,undefined; "
                        "install libclang-rt-dev (scripts/install-deps.sh)")
  endif()

  add_library(rnnc_core_fuzz STATIC ${RNNC_SOURCES} ${PROJECT_BINARY_DIR}/rnnc_cells.c)
  target_include_directories(rnnc_core_fuzz PUBLIC ${PROJECT_SOURCE_DIR}/compiler)
  # (infer_weights.c reads checkpoints with the runtime's reader; the fuzzer never calls it)
  target_include_directories(rnnc_core_fuzz PRIVATE ${PROJECT_SOURCE_DIR}/runtime)
  target_compile_options(rnnc_core_fuzz PUBLIC -fsanitize=fuzzer-no-link ${FUZZ_SANITIZE})
  target_compile_definitions(rnnc_core_fuzz PUBLIC RNNC_ARENA_MALLOC RNNC_VERSION="${PROJECT_VERSION}")
  target_link_libraries(rnnc_core_fuzz PUBLIC PkgConfig::YAML m)
  # rnnc_cells.c is made by a rule of the top directory, for rnnc_core
  set_source_files_properties(${PROJECT_BINARY_DIR}/rnnc_cells.c PROPERTIES GENERATED TRUE)
  add_dependencies(rnnc_core_fuzz rnnc_core)

  add_executable(rnnc_fuzz ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_spec.c)
  target_link_options(rnnc_fuzz PRIVATE -fsanitize=fuzzer ${FUZZ_SANITIZE})
  target_link_libraries(rnnc_fuzz PRIVATE rnnc_core_fuzz)

  add_test(NAME fuzz_smoke
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fuzz/smoke.sh run $<TARGET_FILE:rnnc_fuzz>
            ${PROJECT_BINARY_DIR}/fuzz_smoke ${FUZZ_SMOKE_RUNS} ${FUZZ_DICT} ${FUZZ_SEEDS})
else()
  find_program(RNNC_CLANG NAMES clang clang-18 clang-17 clang-16 clang-15 clang-14)
  add_test(NAME fuzz_smoke
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fuzz/smoke.sh build "${RNNC_CLANG}"
            ${PROJECT_BINARY_DIR}/fuzz_smoke ${FUZZ_SMOKE_RUNS} ${FUZZ_DICT} ${FUZZ_SEEDS})
  set_tests_properties(fuzz_smoke PROPERTIES ENVIRONMENT
    "RNNC_SOURCE_DIR=${PROJECT_SOURCE_DIR};RNNC_FUZZ_BUILD=${PROJECT_BINARY_DIR}/fuzz;CMAKE=${CMAKE_COMMAND}")
endif()
set_tests_properties(fuzz_smoke PROPERTIES TIMEOUT 1800 SKIP_RETURN_CODE 77 LABELS fuzz)
