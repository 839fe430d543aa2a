# Structural checks on emitted C with libclang (tests/tools/check_emitted.c):
# it parses cleanly, defines <model>_model (RnnrtModel), <model>_forward and
# <model>_backward, the step allocates nothing, and there is no mutable
# global state. Tests: libclang_X per generated/X.c, plus two self-tests that
# prove the checker passes a good fixture and fails a bad one.
find_path(CLANG_C_INCLUDE_DIR clang-c/Index.h
  PATHS /usr/lib/llvm-14/include /usr/lib/llvm-15/include /usr/lib/llvm-16/include
        /usr/lib/llvm-17/include /usr/lib/llvm-18/include /usr/local/opt/llvm/include)
find_library(CLANG_LIB NAMES clang clang-14 libclang.so.1
  PATHS /usr/lib/llvm-14/lib /usr/lib/llvm-15/lib /usr/lib/llvm-16/lib
        /usr/lib/llvm-17/lib /usr/lib/llvm-18/lib /usr/local/opt/llvm/lib)

file(GLOB CLANG_CHECK_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/generated/*.c)
set(CHECK_FIXTURES ${CMAKE_CURRENT_LIST_DIR}/tools/fixtures)

if(CLANG_C_INCLUDE_DIR AND CLANG_LIB)
  add_executable(check_emitted ${CMAKE_CURRENT_LIST_DIR}/tools/check_emitted.c)
  target_include_directories(check_emitted PRIVATE ${CLANG_C_INCLUDE_DIR})
  target_link_libraries(check_emitted PRIVATE ${CLANG_LIB})

  add_test(NAME libclang_selftest_good
    COMMAND check_emitted ${CHECK_FIXTURES}/good.c -I ${PROJECT_SOURCE_DIR}/runtime)
  add_test(NAME libclang_selftest_bad
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/tools/selftest_bad.sh $<TARGET_FILE:check_emitted>
            ${PROJECT_SOURCE_DIR}/runtime ${CHECK_FIXTURES}/bad_alloc.c)
  set_tests_properties(libclang_selftest_good libclang_selftest_bad
    PROPERTIES TIMEOUT 60 LABELS libclang)

  foreach(src ${CLANG_CHECK_SOURCES})
    get_filename_component(name ${src} NAME_WE)
    # Relative path from the source dir, so messages read generated/X.c:L:C.
    add_test(NAME libclang_${name}
      COMMAND check_emitted generated/${name}.c -I runtime
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(libclang_${name} PROPERTIES TIMEOUT 60 LABELS libclang)
  endforeach()
else()
  message(WARNING "libclang not found (clang-c/Index.h: ${CLANG_C_INCLUDE_DIR}, "
                  "library: ${CLANG_LIB}); the libclang_* tests will fail. "
                  "Run scripts/install-deps.sh (libclang-dev).")
  add_test(NAME libclang_missing
    COMMAND sh -c "echo 'libclang not found at configure time: run scripts/install-deps.sh and reconfigure' >&2; exit 1")
endif()
