# How far a one-line spec edit travels in the emitted C (issue 12):
# tests/emit_diff.sh applies the issue's spec edits (a width, reordered
# terms, dot instead of additive attention, a new parameter and term) to
# copies of the shipped specs and fails when the emitted C changes in more
# lines than its limits, or when generated/ holds more counter-suffix or
# op+id names than allowed. Seconds.
add_test(NAME emit_diff
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/emit_diff.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}
          ${CMAKE_CURRENT_BINARY_DIR}/emit_diff --check)
set_tests_properties(emit_diff PROPERTIES TIMEOUT 120 LABELS compiler)
