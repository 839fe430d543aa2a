# Emitted C must compile warning-free: every generated/X.c is compiled with
# gcc and with clang, -std=c11 -Wall -Wextra -pedantic -Werror, in float and
# in double (-DRNNRT_DOUBLE). Real compiles (-O2 -c) rather than
# -fsyntax-only, so the warnings that need the optimizer's data flow
# (-Wmaybe-uninitialized, array bounds) are seen too.
# Tests: emitted_X_{gcc,clang}_{float,double}.
find_program(RNNC_GCC NAMES gcc)
find_program(RNNC_CLANG NAMES clang clang-14 clang-15 clang-16)
set(EMITTED_FLAGS -std=c11 -Wall -Wextra -pedantic -Werror -O2
    -I ${PROJECT_SOURCE_DIR}/runtime)

file(GLOB EMITTED_SOURCES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/generated/*.c)
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/emitted)
foreach(src ${EMITTED_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  foreach(cc gcc clang)
    if(cc STREQUAL "gcc")
      set(cc_bin ${RNNC_GCC})
    else()
      set(cc_bin ${RNNC_CLANG})
    endif()
    foreach(prec float double)
      set(test emitted_${name}_${cc}_${prec})
      set(defs "")
      if(prec STREQUAL "double")
        set(defs -DRNNRT_DOUBLE)
      endif()
      if(cc_bin)
        add_test(NAME ${test}
          COMMAND ${cc_bin} ${EMITTED_FLAGS} ${defs} -c ${src}
                  -o ${CMAKE_CURRENT_BINARY_DIR}/emitted/${name}_${cc}_${prec}.o)
      else()
        add_test(NAME ${test}
          COMMAND sh -c "echo '${cc} not found: run scripts/install-deps.sh' >&2; exit 1")
      endif()
      set_tests_properties(${test} PROPERTIES TIMEOUT 120 LABELS emitted)
    endforeach()
  endforeach()
endforeach()
