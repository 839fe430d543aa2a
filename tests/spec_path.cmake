# The emitted C does not depend on where the checkout lives (issue 12):
# every shipped spec, copied into two checkouts and compiled with absolute
# paths (--source-root, as rnnc_add_model runs it), from the root and from
# a cwd above it, gives the bytes of `rnnc specs/X.yaml` at the root and of
# generated/X.c; errors still name the path as given. Seconds.
add_test(NAME spec_path_independent
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/spec_path.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/spec_path)
set_tests_properties(spec_path_independent PROPERTIES TIMEOUT 300 LABELS compiler)
