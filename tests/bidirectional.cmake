# Bidirectional layers through the emitted code, on the language-model
# specs. Spec checks refuse `bidirectional: true` for a language model, so
# these run tests/spec_check.sh with rnnc's test-only
# --test-bidirectional, which lowers the spec as if it said so (the task
# heads' bidirectional specs, examples/*_bidirectional.yaml and
# tests/specs/classifier_bidirectional_mean.yaml, need no flag): the
# trainer's gradcheck (every parameter and the initial states of both
# directions) and `dump | rnnc --check` against the interpreter, for one
# and two layers, GRU and LSTM, with and without dropout.
foreach(spec specs/gru.yaml examples/lstm_2layer.yaml examples/lstm_2layer_dropout.yaml)
  get_filename_component(name ${spec} NAME_WE)
  add_test(NAME bidirectional_${name}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/spec_check.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}/${spec}
            ${CMAKE_CURRENT_BINARY_DIR}/bidirectional/${name} 12)
  set_tests_properties(bidirectional_${name} PROPERTIES TIMEOUT 180 LABELS e2e
                       ENVIRONMENT "RNNC_FLAGS=--test-bidirectional"
                       # a reverse parameter was gradchecked, and the script
                       # reached its last line (it stops at the first failure)
                       PASS_REGULAR_EXPRESSION "_reverse .*PASS.*spec_check: ${name}: gradcheck and interpreter check passed")
endforeach()
