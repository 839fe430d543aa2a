# rnnc --inference (issue #15): the standalone C file of a trained language
# model, end to end (tests/e2e/infer.sh): each spec's trainer (hidden cut to
# 48) trains 60 steps; the file rnnc writes from the checkpoint compiles
# with gcc and clang at -std=c11 -Wall -Wextra -pedantic -Werror, hosted and
# -ffreestanding (-m32 when a 32-bit toolchain is installed), references
# nothing but libm, gives the trainer's logits (1e-5 relative) and its
# `sample` text token for token (greedy and seeded) with no heap
# allocation, runs clean under ASan/UBSan; damaged, foreign and stale
# checkpoints are refused. examples/mgu.yaml is a cell the spec writes
# itself; specs/tagger.yaml (self-made data) is compared with the trainer's
# forward and its labels. 10-40 s each (mostly compiling the file with each compiler).
#   infer_<spec>
foreach(spec specs/rnn specs/gru specs/lstm examples/lstm_2layer examples/mgu specs/tagger
             specs/classifier examples/classifier_bidirectional examples/tagger_bidirectional)
  get_filename_component(name ${spec} NAME)
  add_test(NAME infer_${name}
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e/infer.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}/${spec}.yaml
            ${PROJECT_SOURCE_DIR}/../shared/data/timemachine.txt ${CMAKE_CURRENT_BINARY_DIR}/e2e/infer_${name})
  # (a guard against hangs on a loaded machine, not a budget)
  set_tests_properties(infer_${name} PROPERTIES TIMEOUT 900 LABELS e2e)
endforeach()

# The three seq2seq specs (tests/e2e/infer.sh, task: seq2seq): each trainer
# (hidden cut to 48) trains 300 steps on 3000 pairs of
# ../shared/data/fra-eng-20k.txt (absent: a toy reversal task); the
# standalone file translates held-out and hand-written sentences as the
# trainer's `translate`, word for word (greedy and --beam 4), with the trainer's decoder logits
# (1e-5 relative), no heap allocation and only libm; ASan/UBSan once.
#   infer_<spec>
foreach(spec seq2seq seq2seq_dot seq2seq_noattn)
  add_test(NAME infer_${spec}
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/e2e/infer.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}/specs/${spec}.yaml
            ${PROJECT_SOURCE_DIR}/../shared/data/fra-eng-20k.txt ${CMAKE_CURRENT_BINARY_DIR}/e2e/infer_${spec})
  set_tests_properties(infer_${spec} PROPERTIES TIMEOUT 900 LABELS e2e)
endforeach()
