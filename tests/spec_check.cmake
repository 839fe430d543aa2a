# Every example spec (examples/*.yaml, examples/recipes/*.yaml) and every test-only spec
# (tests/specs/*.yaml) compiles, and its generated trainer passes gradcheck
# and agrees with the reference interpreter (tests/spec_check.sh). Hidden
# widths are cut to 16 so the finite differences stay cheap.
file(GLOB SPEC_CHECK_SPECS CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/examples/*.yaml ${PROJECT_SOURCE_DIR}/examples/recipes/*.yaml
  ${PROJECT_SOURCE_DIR}/tests/specs/*.yaml)
foreach(spec ${SPEC_CHECK_SPECS})
  get_filename_component(name ${spec} NAME_WE)
  add_test(NAME spec_check_${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/spec_check.sh $<TARGET_FILE:rnnc> ${spec}
            ${CMAKE_CURRENT_BINARY_DIR}/spec_check/${name} 16)
  set_tests_properties(spec_check_${name} PROPERTIES TIMEOUT 180 LABELS e2e)
endforeach()
