# rnncModel.cmake: rnnc_add_model(), running rnnc on a spec at build time
# (as protobuf_generate does for .proto files). Included by rnnc's own
# CMakeLists.txt (add_subdirectory) and by the installed rnncConfig.cmake
# (find_package(rnnc)); it needs the targets rnnc::rnnc, rnnc::rnnrt and
# rnnc::rnnrt_d.
#
#   rnnc_add_model(TARGET name SPEC file.yaml [DOUBLE] [OPTIONS rnnc-flags...])
#
# compiles SPEC (relative paths are from the current source directory) to
# ${CMAKE_CURRENT_BINARY_DIR}/rnnc/<name>.c whenever the spec or rnnc
# changes. If no target `name` exists, it becomes an executable: the
# trainer, with the generated main (train, eval, sample, ... as the
# trainers of generated/). If `name` exists (an executable or library of
# yours), the generated file is added to it without its main
# (-DRNNC_NO_MAIN), and your code uses the model descriptor it exports,
# `<model>_model` (the spec's `model:` key), with the librnnrt API.
# DOUBLE builds and links the double-precision runtime (rnnc::rnnrt_d, for
# gradcheck); otherwise rnnc::rnnrt (float). The generated C file's name is
# in the variable <name>_RNNC_SOURCE afterwards.
function(rnnc_add_model)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "DOUBLE" "TARGET;SPEC" "OPTIONS")
  if(NOT ARG_TARGET OR NOT ARG_SPEC)
    message(FATAL_ERROR "rnnc_add_model: usage: rnnc_add_model(TARGET name SPEC file.yaml [DOUBLE] [OPTIONS ...])")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "rnnc_add_model(${ARG_TARGET}): unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  get_filename_component(spec_abs "${ARG_SPEC}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${spec_abs}")
    message(FATAL_ERROR "rnnc_add_model(${ARG_TARGET}): no spec at ${spec_abs}")
  endif()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/rnnc/${ARG_TARGET}.c")
  # rnnc names the spec in the file's header and descriptors relative to
  # --source-root (the top-level source directory), so two checkouts emit
  # the same bytes; a spec outside it (an installed one) keeps its absolute
  # path. An OPTIONS --source-root comes later and wins.
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${CMAKE_CURRENT_BINARY_DIR}/rnnc"
    COMMAND rnnc::rnnc "${ARG_SPEC}" --source-root "${CMAKE_SOURCE_DIR}" ${ARG_OPTIONS} -o "${out}"
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
    DEPENDS "${spec_abs}" rnnc::rnnc
    COMMENT "rnnc: ${ARG_SPEC} -> rnnc/${ARG_TARGET}.c"
    VERBATIM)
  set(runtime rnnc::rnnrt)
  if(ARG_DOUBLE)
    set(runtime rnnc::rnnrt_d)
  endif()
  if(TARGET ${ARG_TARGET})
    target_sources(${ARG_TARGET} PRIVATE "${out}")
    set_source_files_properties("${out}" PROPERTIES COMPILE_DEFINITIONS RNNC_NO_MAIN)
  else()
    add_executable(${ARG_TARGET} "${out}")
    set_target_properties(${ARG_TARGET} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
  endif()
  target_link_libraries(${ARG_TARGET} PRIVATE ${runtime})
  set(${ARG_TARGET}_RNNC_SOURCE "${out}" PARENT_SCOPE)
endfunction()
