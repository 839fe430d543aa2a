# End-to-end tests of the trainers built from generated/ (see tests/e2e/):
#   gradcheck_X     X_d gradcheck: BPTT gradients vs central differences
#   interp_check_X  X_d dump | rnnc --check: generated code vs the reference
#                   interpreter
#   train_X_e2e     float trainer, 150 steps on ../shared/data/timemachine.txt
#                   (license texts when absent): the loss falls, eval and
#                   sample work from the checkpoint
#   interrupt_X     SIGINT/SIGTERM mid-training: exit 130/143, loadable ckpt
#   corrupt_ckpt_X  flipped bytes / truncation: eval refuses, never crashes
#   diverge_X       an exploding loss stops with exit 4, last checkpoint kept
# Models are listed explicitly (not globbed) because each one costs CI time
# and some (n-gram, seq2seq) need other data or other checks.
set(RNNC_E2E_MODELS rnn gru lstm)
set(RNNC_E2E_DATA ${PROJECT_SOURCE_DIR}/../shared/data/timemachine.txt)
set(E2E_DIR ${CMAKE_CURRENT_LIST_DIR}/e2e)

foreach(model ${RNNC_E2E_MODELS})
  if(NOT EXISTS ${PROJECT_SOURCE_DIR}/generated/${model}.c)
    continue()
  endif()
  set(work ${CMAKE_CURRENT_BINARY_DIR}/e2e)
  add_test(NAME gradcheck_${model}
    COMMAND ${model}_d gradcheck --B 2 --T 4 --V 6 --max-per-param 4096)
  add_test(NAME interp_check_${model}
    COMMAND bash ${E2E_DIR}/interp_check.sh $<TARGET_FILE:${model}_d> $<TARGET_FILE:rnnc>
            specs/${model}.yaml ${work}/interp_check_${model}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  add_test(NAME train_${model}_e2e
    COMMAND bash ${E2E_DIR}/train.sh $<TARGET_FILE:${model}> ${RNNC_E2E_DATA} ${work}/train_${model})
  add_test(NAME interrupt_${model}
    COMMAND bash ${E2E_DIR}/interrupt.sh $<TARGET_FILE:${model}> ${RNNC_E2E_DATA} ${work}/interrupt_${model})
  add_test(NAME corrupt_ckpt_${model}
    COMMAND bash ${E2E_DIR}/corrupt_ckpt.sh $<TARGET_FILE:${model}> ${RNNC_E2E_DATA} ${work}/corrupt_${model})
  add_test(NAME diverge_${model}
    COMMAND bash ${E2E_DIR}/diverge.sh $<TARGET_FILE:${model}> ${RNNC_E2E_DATA} ${work}/diverge_${model})
  # Timeouts are guards against hangs on a loaded machine, not the budget:
  # on an idle 2-core machine gradcheck_rnn takes ~35 s of CPU and the
  # others ~20 s together; at load 15-20 gradcheck_gru took 7m42 of wall
  # time for 29 s of CPU, hence 1200 s.
  set_tests_properties(gradcheck_${model} interp_check_${model} PROPERTIES TIMEOUT 1200 LABELS e2e
    ENVIRONMENT OPENBLAS_NUM_THREADS=1)
  set_tests_properties(train_${model}_e2e interrupt_${model} corrupt_ckpt_${model} diverge_${model}
    PROPERTIES TIMEOUT 180 LABELS e2e)
endforeach()

# Batch-split threads (--threads 2, rnnrt_parallel.c) on the LSTM, whose
# carried state has two blocks (h, c): bit-reproducible runs, exact resume,
# the same result as 1 thread (threads.sh), and SIGINT/SIGTERM handled by
# the polling thread while workers run (interrupt.sh with 2 threads).
if(EXISTS ${PROJECT_SOURCE_DIR}/generated/lstm.c)
  set(work ${CMAKE_CURRENT_BINARY_DIR}/e2e)
  add_test(NAME threads_lstm
    COMMAND bash ${E2E_DIR}/threads.sh $<TARGET_FILE:lstm_d> ${RNNC_E2E_DATA} ${work}/threads_lstm)
  add_test(NAME interrupt_threads_lstm
    COMMAND bash ${E2E_DIR}/interrupt.sh $<TARGET_FILE:lstm> ${RNNC_E2E_DATA} ${work}/interrupt_threads_lstm 2)
  set_tests_properties(threads_lstm interrupt_threads_lstm PROPERTIES TIMEOUT 180 LABELS e2e)
  # The same split over MPI ranks (mpirun -np 2, rnnrt_mpi.c): equal to
  # --threads 2 byte for byte, resume across a changed N, a signal to one
  # rank, a dead rank. Skipped (77) without RNNC_MPI or mpirun.
  add_test(NAME mpi_lstm
    COMMAND bash ${E2E_DIR}/mpi.sh $<TARGET_FILE:lstm_d> ${RNNC_E2E_DATA} ${work}/mpi_lstm ${RNNC_MPI})
  # and the float trainer: one epoch's val_ppl within 1e-4 of one process
  add_test(NAME mpi_lstm_float
    COMMAND bash ${E2E_DIR}/mpi_float.sh $<TARGET_FILE:lstm> ${RNNC_E2E_DATA} ${work}/mpi_lstm_float ${RNNC_MPI})
  # (~20 mpirun starts: the timeout is a hang guard for a loaded machine)
  set_tests_properties(mpi_lstm mpi_lstm_float PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77 LABELS e2e)
endif()

# The divergence guard on a converged model (issue 17): 20 resumes of a
# character RNN trained to a tiny loss on a repetitive text never stop with
# exit 4 (the guard's reference is the training's first loss, kept in the
# checkpoint). The seq2seq twin is s2s_resume_converged (s2s.cmake).
if(EXISTS ${PROJECT_SOURCE_DIR}/generated/rnn.c)
  add_test(NAME resume_converged_rnn
    COMMAND bash ${E2E_DIR}/resume_converged.sh lm $<TARGET_FILE:rnn> ${CMAKE_CURRENT_BINARY_DIR}/e2e/resume_converged_rnn)
  set_tests_properties(resume_converged_rnn PROPERTIES TIMEOUT 300 LABELS e2e)
endif()

# Options given with --resume (issue 17): the checkpoint's recipe carries
# over; --lr/--clip apply with a note; --seed and optimizer hyperparameters
# are refused by name. The seq2seq twin is s2s_resume_opts (s2s.cmake).
if(EXISTS ${PROJECT_SOURCE_DIR}/generated/rnn.c)
  add_test(NAME resume_opts_rnn
    COMMAND bash ${E2E_DIR}/resume_opts.sh lm $<TARGET_FILE:rnn> ${CMAKE_CURRENT_BINARY_DIR}/e2e/resume_opts_rnn)
  set_tests_properties(resume_opts_rnn PROPERTIES TIMEOUT 300 LABELS e2e)
endif()

# Output paths (issue 17, RELIABILITY F4): rnnc's -o and -d and a trainer's
# --ckpt and stdout through a symlink, a FIFO, /dev/null, -, /dev/full, a
# directory and an unwritable directory (runtime/rnnrt_out.c). Seconds.
if(EXISTS ${PROJECT_SOURCE_DIR}/generated/rnn.c)
  add_test(NAME outpaths
    COMMAND bash ${E2E_DIR}/outpaths.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}/specs/rnn.yaml
            $<TARGET_FILE:rnn> ${CMAKE_CURRENT_BINARY_DIR}/e2e/outpaths)
  set_tests_properties(outpaths PROPERTIES TIMEOUT 300 LABELS e2e)
  # A second SIGINT/SIGTERM during a save: exit 75, the tmp file removed,
  # the previous checkpoint byte-identical (s2s_double_signal: the seq2seq
  # trainer).
  add_test(NAME double_signal_rnn
    COMMAND bash ${E2E_DIR}/double_signal.sh lm $<TARGET_FILE:rnn> ${CMAKE_CURRENT_BINARY_DIR}/e2e/double_signal_rnn)
  set_tests_properties(double_signal_rnn PROPERTIES TIMEOUT 300 LABELS e2e)
endif()

# The counted n-gram baseline (specs/ngram.yaml): count, eval, sample, and a
# corrupted model file refused; on timemachine.txt the perplexity must be
# KenLM's 3.894 (order 5, modified Kneser-Ney).
if(EXISTS ${PROJECT_SOURCE_DIR}/generated/ngram.c)
  add_test(NAME ngram_e2e
    COMMAND bash ${E2E_DIR}/ngram.sh $<TARGET_FILE:ngram> ${RNNC_E2E_DATA} ${CMAKE_CURRENT_BINARY_DIR}/e2e/ngram)
  set_tests_properties(ngram_e2e PROPERTIES TIMEOUT 120 LABELS e2e)
  # ARPA interchange: golden entries, round trip to 1e-9, malformed files
  # refused with file:line, KenLM when its Python module is present.
  add_test(NAME ngram_arpa
    COMMAND bash ${E2E_DIR}/ngram_arpa.sh $<TARGET_FILE:ngram> ${RNNC_E2E_DATA} ${CMAKE_CURRENT_BINARY_DIR}/e2e/ngram_arpa)
  set_tests_properties(ngram_arpa PROPERTIES TIMEOUT 120 LABELS e2e)
endif()

# Dropout between stacked layers (examples/lstm_2layer_dropout.yaml, hidden
# cut to 32): resume is exact (the masks' seeds come from the checkpoint)
# and evaluation runs without dropout. About a second.
add_test(NAME dropout_e2e
  COMMAND bash ${E2E_DIR}/dropout.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}/examples/lstm_2layer_dropout.yaml
          ${RNNC_E2E_DATA} ${CMAKE_CURRENT_BINARY_DIR}/e2e/dropout)
set_tests_properties(dropout_e2e PROPERTIES TIMEOUT 120 LABELS e2e)

# A word-level language model (examples/lstm_words.yaml, cut to hidden 32):
# train, then sample words after a prefix, unknown prefix words as <unk>.
add_test(NAME words_e2e
  COMMAND bash ${E2E_DIR}/words.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}/examples/lstm_words.yaml
          ${RNNC_E2E_DATA} ${CMAKE_CURRENT_BINARY_DIR}/e2e/words)
set_tests_properties(words_e2e PROPERTIES TIMEOUT 120 LABELS e2e)

# Learning-rate schedules, the best checkpoint and early stopping (issue
# 13): a plateau schedule with warm-up and weight decay stops early by the
# rules, X.best evaluates to the best epoch, and a run stopped every 70
# steps and resumed is byte-identical to the straight one. A few seconds.
if(EXISTS ${PROJECT_SOURCE_DIR}/generated/rnn.c)
  add_test(NAME sched_rnn
    COMMAND bash ${E2E_DIR}/sched.sh $<TARGET_FILE:rnn> ${CMAKE_CURRENT_BINARY_DIR}/e2e/sched_rnn)
  set_tests_properties(sched_rnn PROPERTIES TIMEOUT 300 LABELS e2e)
endif()
# The spec's train.lr_schedule, warmup_steps and weight_decay reach the
# generated recipe and the trainer (specs/rnn.yaml, hidden cut to 32).
add_test(NAME sched_spec
  COMMAND bash ${E2E_DIR}/sched_spec.sh $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}/specs/rnn.yaml
          ${CMAKE_CURRENT_BINARY_DIR}/e2e/sched_spec)
set_tests_properties(sched_spec PROPERTIES TIMEOUT 300 LABELS e2e)

# Resume is byte-identical for every optimizer (issue 17): SGD and Adam,
# language model (specs/rnn.yaml, hidden 32) and seq2seq (the toy
# reverser), 2 epochs straight == 1 + --resume. About ten seconds.
add_test(NAME resume_exact
  COMMAND bash ${E2E_DIR}/resume_exact.sh $<TARGET_FILE:rnnc> ${CMAKE_SOURCE_DIR}/specs/rnn.yaml
          ${CMAKE_SOURCE_DIR}/tests/s2s/toy_reverse.yaml $<TARGET_FILE:s2s_tool> ${RNNC_E2E_DATA}
          ${CMAKE_CURRENT_BINARY_DIR}/e2e/resume_exact)
set_tests_properties(resume_exact PROPERTIES TIMEOUT 300 LABELS e2e)

# Data of issue 13 on a tiny Penn-Treebank-style corpus the test writes:
# data.valid/data.test and --valid/--test, whitespace tokens, <eos>, a
# written <unk>, data.max_vocab; RESULT scores the best checkpoint and
# reports the test perplexity. A few seconds.
add_test(NAME ptb_data
  COMMAND bash ${E2E_DIR}/ptb_data.sh $<TARGET_FILE:rnnc> ${CMAKE_CURRENT_BINARY_DIR}/e2e/ptb_data)
set_tests_properties(ptb_data PROPERTIES TIMEOUT 120 LABELS e2e)
