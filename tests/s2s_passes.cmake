# The seq2seq decoding graphs (<model>_encode's encoder, <model>_step's
# decoder step) are built by the driver and go through the pass list like
# the training graph (compiler/main.c), so -O0, --no-pass and -d reach them
# (tests/s2s/decode_passes.sh, on specs/seq2seq.yaml):
#   s2s_decode_passes_O0       -O0 emits the encoder without fused loops
#                              or hoisted GEMMs
#   s2s_decode_passes_no_pass  --no-pass fuse / hoist take out just that
#                              pass from the encoder
#   s2s_decode_passes_dump     -d STAGE prints the decoding graphs too; cse
#                              reaches the step, --no-pass cse keeps it out
# and the decoding entries emitted that way still give the training
# forward's logits and attention (tests/s2s/emit_check.c, as in s2s.cmake):
#   s2s_emit_check_additive_O0, s2s_emit_check_lstm_no_pass,
#   s2s_emit_check_additive_gemmfuse (the optional forward pass reaches the
#   encoder too)
set(S2SP_DIR ${CMAKE_CURRENT_LIST_DIR}/s2s)
set(S2SP_WORK ${CMAKE_CURRENT_BINARY_DIR}/s2s_passes)
foreach(mode O0 no_pass dump)
  add_test(NAME s2s_decode_passes_${mode}
    COMMAND bash ${S2SP_DIR}/decode_passes.sh $<TARGET_FILE:rnnc> specs/seq2seq.yaml ${mode}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(s2s_decode_passes_${mode} PROPERTIES TIMEOUT 120 LABELS s2s)
endforeach()

foreach(pair "additive_O0|additive|-O0" "lstm_no_pass|lstm|--no-pass;fuse;--no-pass;hoist;--no-pass;cse"
             "additive_gemmfuse|additive|--pass;gemmfuse")
  string(REPLACE "|" ";" parts "${pair}")
  list(GET parts 0 name)
  list(GET parts 1 v)
  list(SUBLIST parts 2 -1 opts)
  string(REPLACE ";" " " shown "${opts}")
  set(gen ${S2SP_WORK}/tiny_${name}.c)
  set(wrap ${S2SP_WORK}/emit_check_${name}.c)
  add_custom_command(OUTPUT ${gen}
    COMMAND $<TARGET_FILE:rnnc> ${S2SP_DIR}/tiny_${v}.yaml --source-root ${PROJECT_SOURCE_DIR} ${opts} -o ${gen}
    DEPENDS rnnc ${S2SP_DIR}/tiny_${v}.yaml
    COMMENT "rnnc tiny_${v}.yaml ${shown}")
  file(WRITE ${wrap}.in "#define RNNC_NO_MAIN\n#include \"${gen}\"\n#define S2S_MODEL tiny_${v}_model\n#include \"${S2SP_DIR}/emit_check.c\"\n")
  configure_file(${wrap}.in ${wrap} COPYONLY)
  set_source_files_properties(${wrap} PROPERTIES OBJECT_DEPENDS "${gen};${S2SP_DIR}/emit_check.c")
  add_executable(s2s_emit_check_${name} ${wrap})
  target_compile_definitions(s2s_emit_check_${name} PRIVATE S2S_SPEC="${S2SP_DIR}/tiny_${v}.yaml")
  target_link_libraries(s2s_emit_check_${name} PRIVATE rnnrt_d rnnc_core)
  add_test(NAME s2s_emit_check_${name} COMMAND s2s_emit_check_${name})
  set_tests_properties(s2s_emit_check_${name} PROPERTIES TIMEOUT 60 LABELS s2s)
endforeach()
