# Training metrics and graph pictures (issue 14):
#   metrics_e2e  --metrics FILE.jsonl on the LM, labelling, classification
#                and seq2seq trainers (JSON lines, --resume, bad paths) and
#                rnnc-plot's SVG (tests/metrics/metrics.sh)
#   rnnc_dot     rnnc -d dot:STAGE parses with Graphviz `dot -Tsvg` for
#                every stage of an LSTM spec and two of a seq2seq spec,
#                deterministically; skipped (77) without graphviz
set(METRICS_DIR ${CMAKE_CURRENT_LIST_DIR}/metrics)
if(RNNC_BUILD_TRAINERS AND TARGET rnn AND TARGET tagger AND TARGET classifier)
  if(TARGET rnnc-plot)
    set(plot $<TARGET_FILE:rnnc-plot>)
  else()
    set(plot none)
  endif()
  add_test(NAME metrics_e2e
    COMMAND bash ${METRICS_DIR}/metrics.sh $<TARGET_FILE:rnn> $<TARGET_FILE:tagger>
            $<TARGET_FILE:classifier> $<TARGET_FILE:s2s_toy_reverse> $<TARGET_FILE:s2s_tool> ${plot}
            ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/../shared/data/timemachine.txt
            ${CMAKE_CURRENT_BINARY_DIR}/metrics)
  set_tests_properties(metrics_e2e PROPERTIES TIMEOUT 300 LABELS e2e)
endif()
add_test(NAME rnnc_dot
  COMMAND bash ${METRICS_DIR}/dot.sh $<TARGET_FILE:rnnc> ${CMAKE_CURRENT_BINARY_DIR}/dot
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(rnnc_dot PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77)

# n-gram sentence mode (issue 14): `ngram eval --sentences --per-sentence`
# against a hand computation, the exported ARPA file and an independent
# Python scorer (tests/metrics/ngram_sent.sh).
if(RNNC_BUILD_TRAINERS AND TARGET ngram)
  add_test(NAME ngram_sentences
    COMMAND bash ${METRICS_DIR}/ngram_sent.sh $<TARGET_FILE:ngram> ${CMAKE_CURRENT_BINARY_DIR}/ngram_sent)
  set_tests_properties(ngram_sentences PROPERTIES TIMEOUT 120 LABELS e2e)
endif()
