# The static memory plan (compiler/pass_memplan.c) moves buffers, never a
# value: for every spec in specs/ (but the counted n-gram), examples/,
# examples/recipes/ and tests/specs/, tests/memplan/check.sh builds the
# double trainer with and without the plan, requires identical dumps and the interpreter's
# agreement, and that the plan does not grow the workspace (it prints both
# sizes). Hidden widths are cut to 16 to keep it cheap.
file(GLOB MEMPLAN_SPECS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/specs/*.yaml ${PROJECT_SOURCE_DIR}/examples/*.yaml
  ${PROJECT_SOURCE_DIR}/examples/recipes/*.yaml
  ${PROJECT_SOURCE_DIR}/tests/specs/*.yaml)
foreach(spec ${MEMPLAN_SPECS})
  get_filename_component(name ${spec} NAME_WE)
  file(STRINGS ${spec} task REGEX "^task: *ngram")
  if(task)
    continue()
  endif()
  add_test(NAME memplan_${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/memplan/check.sh $<TARGET_FILE:rnnc> ${spec}
            ${CMAKE_CURRENT_BINARY_DIR}/memplan/${name} 16)
  set_tests_properties(memplan_${name} PROPERTIES TIMEOUT 180 LABELS e2e)
endforeach()
