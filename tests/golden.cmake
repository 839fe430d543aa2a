# Golden files: generated/X.c must be exactly what rnnc emits for specs/X.yaml
# (compiled from the source directory with the relative spec path, twice, to
# also catch nondeterminism). golden_X fails with a diff and leaves
# build/X.c.new; `cmake --build build --target update-generated` fixes it.
# golden_orphans fails when a generated file has no spec.
file(GLOB GOLDEN_SPECS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/specs/*.yaml)
foreach(spec ${GOLDEN_SPECS})
  get_filename_component(name ${spec} NAME_WE)
  add_test(NAME golden_${name}
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/golden.sh $<TARGET_FILE:rnnc> ${name} ${PROJECT_BINARY_DIR}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(golden_${name} PROPERTIES TIMEOUT 60 LABELS golden)
endforeach()
add_test(NAME golden_orphans
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/golden.sh --orphans
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(golden_orphans PROPERTIES TIMEOUT 10 LABELS golden)
