# The bad-spec corpus: every tests/errors/*.yaml (plus the binary cases that
# run.sh generates) must make rnnc exit with 1 and print the diagnostic named
# on the file's first line, with a caret, without writing any output.
add_test(NAME spec_errors
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/errors/run.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR})
