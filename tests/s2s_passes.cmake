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

# The optional gemmfuse pass on the seq2seq decoders (double build):
# backward against finite differences and the dump against the reference
# interpreter. The LSTM decoder with attention has two fused groups that
# share their gate gradients (concat(di, df, dg, do) feeds both dW_h* and
# dW_c*); CSE made them one body node stacked by two scan outputs, and the
# second stack was never written (wrong dW_h* before pass_cse.c merged the
# outputs).
foreach(v lstm additive)
  set(name s2s_gemmfuse_check_${v})
  set(dir ${S2SP_WORK}/gemmfuse)
  set(spec ${S2SP_DIR}/tiny_${v}.yaml)
  add_test(NAME ${name}
    COMMAND sh -c "set -e; mkdir -p ${dir}; \
$<TARGET_FILE:rnnc> ${spec} --pass gemmfuse -o ${dir}/${v}.c; \
cc -O1 -std=c11 -DRNNRT_DOUBLE -I runtime ${dir}/${v}.c -L${PROJECT_BINARY_DIR} -lrnnrt_d -lopenblas -ljansson -lm -lpthread -o ${dir}/${v}_d; \
${dir}/${v}_d gradcheck --max-per-param 6; \
${dir}/${v}_d dump > ${dir}/${v}.dump; \
$<TARGET_FILE:rnnc> ${spec} --pass gemmfuse --check ${dir}/${v}.dump"
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES TIMEOUT 120 LABELS s2s ENVIRONMENT OPENBLAS_NUM_THREADS=1)
endforeach()
