# The C API for trained models (runtime/rnnrt_api.h) end to end: the float
# rnn trainer trains 20 steps and examples/api/lm (built by CMake against
# generated/rnn.c) uses the checkpoint; then a word model is generated and
# its trainer and the example are built with cc as the README shows. The
# unit tests are tests/unit/test_rt_api.c. About 10 s.
if(EXISTS ${PROJECT_SOURCE_DIR}/generated/rnn.c)
  add_test(NAME api_lm_e2e
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e/api_lm.sh $<TARGET_FILE:rnn> $<TARGET_FILE:api_lm>
            ${PROJECT_SOURCE_DIR}/../shared/data/timemachine.txt ${CMAKE_CURRENT_BINARY_DIR}/e2e/api_lm
            $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}/examples/lstm_words.yaml)
  set_tests_properties(api_lm_e2e PROPERTIES TIMEOUT 300 LABELS e2e)
endif()

# The C API for the task models (examples/api/tagger.c, classifier.c,
# seq2seq.c) and the predict command, end to end on checkpoints the test
# trains (tests/e2e/api_tasks.sh). About 20 s.
if(EXISTS ${PROJECT_SOURCE_DIR}/generated/tagger.c AND EXISTS ${PROJECT_SOURCE_DIR}/generated/classifier.c
   AND EXISTS ${PROJECT_SOURCE_DIR}/generated/seq2seq.c)
  add_test(NAME api_tasks_e2e
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e/api_tasks.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/e2e/api_tasks)
  set_tests_properties(api_tasks_e2e PROPERTIES TIMEOUT 300 LABELS e2e)
endif()

# The examples under valgrind (tests/e2e/api_valgrind.sh): each of lm,
# tagger, classifier and seq2seq once on a checkpoint the test trains, no
# memory error and no leak (--leak-check=full), then on a truncated copy:
# exit 3 with the API's message, clean too. Skipped without valgrind.
# About 90 s.
if(EXISTS ${PROJECT_SOURCE_DIR}/generated/rnn.c AND EXISTS ${PROJECT_SOURCE_DIR}/generated/tagger.c
   AND EXISTS ${PROJECT_SOURCE_DIR}/generated/classifier.c AND EXISTS ${PROJECT_SOURCE_DIR}/generated/seq2seq.c)
  add_test(NAME api_valgrind
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e/api_valgrind.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}
            ${CMAKE_CURRENT_BINARY_DIR}/e2e/api_valgrind ${PROJECT_SOURCE_DIR}/../shared/data/timemachine.txt)
  set_tests_properties(api_valgrind PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77 LABELS e2e)
endif()
