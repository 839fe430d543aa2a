# The task heads (issue #3): labelling (specs/tagger.yaml) and
# classification (specs/classifier.yaml, head: mean; tests/specs/
# classifier_last.yaml, head: last, is gradchecked by spec_check and
# trained by heads.sh).
#   gradcheck_X     X_d gradcheck with L = 3 labels: every parameter and the
#                   initial state against central differences
#   interp_check_X  X_d dump | rnnc --check (labels, pooling weights)
#   heads_check_X   rnnc --check refuses a dump with a label out of range,
#                   without L, without or with changed pooling weights
#   heads_X_e2e     train on self-made data to >= 95% validation accuracy,
#                   eval from the checkpoint, sample refused, bad data lines
#                   reported at path:line:col (tests/e2e/heads.sh)
#   heads_X_threads the same trainer (double) with --threads 2
#   heads_X_mpi     mpirun -np 2 == one process with --threads 2
set(HEADS_MODELS "tagger labelling" "classifier classification")
foreach(pair ${HEADS_MODELS})
  separate_arguments(pair)
  list(GET pair 0 model)
  list(GET pair 1 task)
  if(NOT EXISTS ${PROJECT_SOURCE_DIR}/generated/${model}.c)
    continue()
  endif()
  add_test(NAME gradcheck_${model}
    COMMAND ${model}_d gradcheck --B 3 --T 4 --V 6 --L 3 --max-per-param 4096)
  add_test(NAME interp_check_${model}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/interp_check.sh $<TARGET_FILE:${model}_d> $<TARGET_FILE:rnnc>
            specs/${model}.yaml ${CMAKE_CURRENT_BINARY_DIR}/e2e/interp_check_${model}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME heads_check_${model}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/heads_check.sh $<TARGET_FILE:${model}_d> $<TARGET_FILE:rnnc>
            specs/${model}.yaml ${CMAKE_CURRENT_BINARY_DIR}/e2e/heads_check_${model}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME heads_${model}_e2e
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/heads.sh ${task} $<TARGET_FILE:${model}> $<TARGET_FILE:rnnc>
            ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/e2e/heads_${model})
  set_tests_properties(gradcheck_${model} interp_check_${model} heads_check_${model} PROPERTIES TIMEOUT 1200 LABELS e2e
    ENVIRONMENT OPENBLAS_NUM_THREADS=1)
  set_tests_properties(heads_${model}_e2e PROPERTIES TIMEOUT 180 LABELS e2e)
  # --threads 2 (the batch split): per-step losses and parameters equal to
  # --threads 1's, and the resume, signal, damaged-checkpoint and
  # divergence checks with 2 threads (heads.sh with THREADS)
  add_test(NAME heads_${model}_threads
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/heads.sh ${task} $<TARGET_FILE:${model}_d> $<TARGET_FILE:rnnc>
            ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/e2e/heads_${model}_threads 2)
  set_tests_properties(heads_${model}_threads PROPERTIES TIMEOUT 300 LABELS e2e)
  # over MPI ranks: mpirun -np 2 == one process with --threads 2, byte for
  # byte, and resume across a changed N (heads_mpi.sh); skipped (77)
  # without RNNC_MPI or mpirun
  add_test(NAME heads_${model}_mpi
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/e2e/heads_mpi.sh ${task} $<TARGET_FILE:${model}_d>
            ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_BINARY_DIR}/e2e/heads_${model}_mpi ${RNNC_MPI})
  set_tests_properties(heads_${model}_mpi PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS e2e)
endforeach()

# The heads against PyTorch (tests/torch/compare_heads.py): the dumps of
# tagger_d, classifier_d, classifier_last and the bidirectional examples
# (tagger, classifier on padded rows) recomputed with torch.nn.GRU / LSTM,
# Linear and cross_entropy in float64; skipped without torch.
set(HEADS_TORCH_ARGS
  --source ${PROJECT_SOURCE_DIR} --rnnc $<TARGET_FILE:rnnc>
  --lib $<TARGET_FILE:rnnrt_d> --cc ${CMAKE_C_COMPILER}
  "--libs=${OPENBLAS_LINK_LIBRARIES} ${JANSSON_LINK_LIBRARIES}")
foreach(model tagger classifier)
  if(TARGET ${model}_d)
    list(APPEND HEADS_TORCH_ARGS --trainer ${model}=$<TARGET_FILE:${model}_d>)
  endif()
endforeach()
add_test(NAME torch_compare_heads
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/torch/compare_heads.py ${HEADS_TORCH_ARGS})
set_tests_properties(torch_compare_heads PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS torch)
