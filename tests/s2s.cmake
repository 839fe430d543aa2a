# Seq2seq runtime checks (issue #4) that are not CMocka suites (those are
# tests/unit/test_rt_s2s_*.c):
#   s2s_check_data  librnnrt's parallel-corpus reader vs bench/s2s_torch.py:
#                   identical tokens, vocabularies, arrays and split on the
#                   first 20,000 pairs of ../shared/data/fra-eng-20k.txt
#   s2s_bad_data    bad corpora: file:line:col errors, exit 1, nothing written
#   s2s_nltk_bleu   corpus BLEU-4 vs nltk (skipped without python3-nltk)
# Skipped tests exit 77 (no data, no torch, no nltk).
add_executable(s2s_tool ${CMAKE_CURRENT_LIST_DIR}/s2s/s2s_tool.c)
target_link_libraries(s2s_tool PRIVATE rnnrt)
set(S2S_DIR ${CMAKE_CURRENT_LIST_DIR}/s2s)
set(S2S_WORK ${CMAKE_CURRENT_BINARY_DIR}/s2s)
add_test(NAME s2s_check_data
  COMMAND bash ${S2S_DIR}/check_data.sh $<TARGET_FILE:s2s_tool> ${PROJECT_SOURCE_DIR}
          ${PROJECT_SOURCE_DIR}/../shared/data/fra-eng-20k.txt ${S2S_WORK}/check_data)
add_test(NAME s2s_bad_data
  COMMAND bash ${S2S_DIR}/bad_data.sh $<TARGET_FILE:s2s_tool> ${S2S_WORK}/bad_data)
add_test(NAME s2s_nltk_bleu
  COMMAND bash ${S2S_DIR}/nltk_bleu.sh $<TARGET_FILE:s2s_tool> ${S2S_WORK}/nltk)
set_tests_properties(s2s_check_data s2s_bad_data s2s_nltk_bleu PROPERTIES
  TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS s2s)

# The seq2seq specs (specs/seq2seq*.yaml) go through lowering, autodiff and
# every pass; the decoder reads the key projection as a loop invariant.
add_test(NAME s2s_specs_graph
  COMMAND bash -c "set -e; for s in ${PROJECT_SOURCE_DIR}/specs/seq2seq*.yaml; do $<TARGET_FILE:rnnc> $s -d fuse >/dev/null; done; $<TARGET_FILE:rnnc> ${PROJECT_SOURCE_DIR}/specs/seq2seq.yaml -d hoist | grep -q '^%[0-9]* = matmul %[0-9]*, %[0-9]* : \\[T,B,128\\]  ; score_matmul'")
set_tests_properties(s2s_specs_graph PROPERTIES TIMEOUT 60 LABELS s2s)

# The emitted training step (double) of tiny seq2seq specs: loss and
# gradients equal the interpreter's, backward agrees with finite differences
# of forward, and padding changes nothing (tests/s2s/emit_check.c, included
# after the generated file).
foreach(v additive dot noattn lstm)
  set(gen ${S2S_WORK}/tiny_${v}.c)
  set(wrap ${S2S_WORK}/emit_check_${v}.c)
  add_custom_command(OUTPUT ${gen}
    COMMAND $<TARGET_FILE:rnnc> ${S2S_DIR}/tiny_${v}.yaml --source-root ${PROJECT_SOURCE_DIR} -o ${gen}
    DEPENDS rnnc ${S2S_DIR}/tiny_${v}.yaml
    COMMENT "rnnc tiny_${v}.yaml")
  file(WRITE ${wrap}.in "#define RNNC_NO_MAIN\n#include \"${gen}\"\n#define S2S_MODEL tiny_${v}_model\n#include \"${S2S_DIR}/emit_check.c\"\n")
  configure_file(${wrap}.in ${wrap} COPYONLY)
  set_source_files_properties(${wrap} PROPERTIES OBJECT_DEPENDS "${gen};${S2S_DIR}/emit_check.c")
  add_executable(s2s_emit_check_${v} ${wrap})
  target_compile_definitions(s2s_emit_check_${v} PRIVATE S2S_SPEC="${S2S_DIR}/tiny_${v}.yaml")
  target_link_libraries(s2s_emit_check_${v} PRIVATE rnnrt_d rnnc_core)
  add_test(NAME s2s_emit_check_${v} COMMAND s2s_emit_check_${v})
  set_tests_properties(s2s_emit_check_${v} PROPERTIES TIMEOUT 60 LABELS s2s)
endforeach()

# The reversal toy task: a trainer built from tests/s2s/toy_reverse.yaml
# must reach >= 99% exact match on held-out pairs, greedy and beam, within
# the test's 60 seconds (it takes a few).
set(toy_c ${S2S_WORK}/toy_reverse.c)
add_custom_command(OUTPUT ${toy_c}
  COMMAND $<TARGET_FILE:rnnc> ${S2S_DIR}/toy_reverse.yaml --source-root ${PROJECT_SOURCE_DIR} -o ${toy_c}
  DEPENDS rnnc ${S2S_DIR}/toy_reverse.yaml
  COMMENT "rnnc toy_reverse.yaml")
add_executable(s2s_toy_reverse ${toy_c})
target_link_libraries(s2s_toy_reverse PRIVATE rnnrt_mpi rnnrt)
add_executable(s2s_toy_reverse_d ${toy_c})
target_link_libraries(s2s_toy_reverse_d PRIVATE rnnrt_d_mpi rnnrt_d)
add_test(NAME s2s_toy_reverse
  COMMAND bash ${S2S_DIR}/toy_reverse.sh $<TARGET_FILE:s2s_toy_reverse> $<TARGET_FILE:s2s_tool> ${S2S_WORK}/toy)
set_tests_properties(s2s_toy_reverse PROPERTIES TIMEOUT 60 LABELS s2s)

# The shipped seq2seq trainers (double build): their own gradcheck
# (backward against finite differences on a random problem, 6 elements per
# tensor), and `rnnc SPEC --check` of their dump against the interpreter.
foreach(name seq2seq seq2seq_dot seq2seq_noattn)
  if(TARGET ${name}_d)
    add_test(NAME s2s_gradcheck_${name} COMMAND ${name}_d gradcheck --max-per-param 6)
    add_test(NAME s2s_check_${name}
      COMMAND bash -c "set -e; mkdir -p ${S2S_WORK}; $<TARGET_FILE:${name}_d> dump >${S2S_WORK}/${name}.dump; $<TARGET_FILE:rnnc> specs/${name}.yaml --check ${S2S_WORK}/${name}.dump"
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(s2s_gradcheck_${name} s2s_check_${name} PROPERTIES TIMEOUT 60 LABELS s2s)
  endif()
endforeach()

# The seq2seq trainer's reliability (RELIABILITY.md D3-D5, E1-E3; each a
# few seconds), on the reversal toy task's trainer:
#   s2s_resume        2 epochs == 1 + --resume == stopped mid-epoch twice by
#                     --max-steps and resumed == --save-every 5, byte for
#                     byte; --max-seconds stops and resumes
#   s2s_interrupt     SIGINT -> 130, SIGTERM -> 143, a checkpoint that
#                     evaluates, translates and resumes, no temporary files
#   s2s_corrupt_ckpt  flipped bytes, truncation, an empty and a missing
#                     checkpoint: eval, translate and train --resume refuse
#   s2s_diverge       an exploding loss stops with exit 4, last checkpoint kept
#   s2s_threads       --threads 2 and 3 reproducible and resuming exactly,
#                     --threads 1 == none (test_rt_s2s_split.c: == 1 thread)
# (tests/unit/test_rt_s2s_train.c: non-finite steps, --force, refusals.)
foreach(t resume interrupt corrupt_ckpt threads diverge safetensors)
  add_test(NAME s2s_${t}
    COMMAND bash ${S2S_DIR}/${t}.sh $<TARGET_FILE:s2s_toy_reverse> $<TARGET_FILE:s2s_tool> ${S2S_WORK}/${t})
  # a guard against hangs on a loaded machine, not a budget (each takes a
  # few seconds when the machine is idle)
  set_tests_properties(s2s_${t} PROPERTIES TIMEOUT 300 LABELS s2s)
endforeach()
# The split over MPI ranks (mpirun -np 2, rnnrt_mpi.c), double build:
# equal to --threads 2 byte for byte, resume across a changed N, SIGTERM to
# one rank (tests/s2s/mpi.sh). Skipped (77) without RNNC_MPI or mpirun.
add_test(NAME s2s_mpi
  COMMAND bash ${S2S_DIR}/mpi.sh $<TARGET_FILE:s2s_toy_reverse_d> $<TARGET_FILE:s2s_tool> ${S2S_WORK}/mpi ${RNNC_MPI})
set_tests_properties(s2s_mpi PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS s2s)
# The divergence guard on a converged model (issue 17): 20 resumes of the
# toy reverser trained to a small loss never stop with exit 4.
add_test(NAME s2s_resume_converged
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/e2e/resume_converged.sh s2s $<TARGET_FILE:s2s_toy_reverse>
          $<TARGET_FILE:s2s_tool> ${S2S_WORK}/resume_converged)
set_tests_properties(s2s_resume_converged PROPERTIES TIMEOUT 300 LABELS s2s)

# Options given with --resume (issue 17): --lr applies with a note, --seed
# is refused by name, a resume without options is the straight run.
add_test(NAME s2s_resume_opts
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/e2e/resume_opts.sh s2s $<TARGET_FILE:s2s_toy_reverse>
          $<TARGET_FILE:s2s_tool> ${S2S_WORK}/resume_opts)
set_tests_properties(s2s_resume_opts PROPERTIES TIMEOUT 300 LABELS s2s)

# A second signal during a save (issue 17): exit 75, the tmp file removed,
# the previous checkpoint byte-identical; --ckpt - and a directory refused.
add_test(NAME s2s_double_signal
  COMMAND bash ${PROJECT_SOURCE_DIR}/tests/e2e/double_signal.sh s2s $<TARGET_FILE:s2s_toy_reverse>
          $<TARGET_FILE:s2s_tool> ${S2S_WORK}/double_signal)
set_tests_properties(s2s_double_signal PROPERTIES TIMEOUT 300 LABELS s2s)

# The spec's learning-rate schedule, warm-up and weight decay in the
# seq2seq trainer (tests/s2s/sched.sh on toy_reverse.yaml): StepLR's lr on
# the epoch lines, stopped mid-epoch and resumed == straight, plateau
# refused (no per-epoch validation).
add_test(NAME s2s_sched
  COMMAND bash ${S2S_DIR}/sched.sh $<TARGET_FILE:rnnc> ${S2S_DIR}/toy_reverse.yaml
          $<TARGET_FILE:s2s_tool> ${S2S_WORK}/sched)
set_tests_properties(s2s_sched PROPERTIES TIMEOUT 300 LABELS s2s)
