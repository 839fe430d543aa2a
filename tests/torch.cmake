# rnnc's GRU and LSTM against PyTorch's nn.GRU / nn.LSTM: the same weights,
# inputs and initial state in both, loss, logits, final states and every
# gradient compared in double (tests/torch/compare_cells.py). The trainers
# are gru_d / lstm_d when generated/gru.c and lstm.c exist; otherwise the
# script compiles specs/X.yaml with rnnc and links it with librnnrt_d.
# Skipped (exit 77) where /usr/bin/python3 cannot import torch.
set(TORCH_COMPARE_ARGS
  --source ${PROJECT_SOURCE_DIR} --rnnc $<TARGET_FILE:rnnc>
  --lib $<TARGET_FILE:rnnrt_d> --cc ${CMAKE_C_COMPILER}
  "--libs=${OPENBLAS_LINK_LIBRARIES} ${JANSSON_LINK_LIBRARIES}")
foreach(kind gru lstm)
  if(TARGET ${kind}_d)
    list(APPEND TORCH_COMPARE_ARGS --trainer ${kind}=$<TARGET_FILE:${kind}_d>)
  endif()
endforeach()
add_test(NAME torch_compare_cells
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/torch/compare_cells.py ${TORCH_COMPARE_ARGS})
set_tests_properties(torch_compare_cells PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS torch)

# Bidirectional and stacked layers, with and without dropout between them,
# against PyTorch (tests/torch/compare_bidirectional.py): one-layer
# nn.GRU/nn.LSTM modules per direction and layer fed step by step with the
# dumped weights, carry_scale and dropout mask, and (without dropout) one
# nn.GRU/LSTM(num_layers, bidirectional=True) call holding the same weights.
add_test(NAME torch_compare_bidirectional
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/torch/compare_bidirectional.py
          --source ${PROJECT_SOURCE_DIR} --rnnc $<TARGET_FILE:rnnc> --lib $<TARGET_FILE:rnnrt_d>
          --cc ${CMAKE_C_COMPILER} "--libs=${OPENBLAS_LINK_LIBRARIES} ${JANSSON_LINK_LIBRARIES}")
set_tests_properties(torch_compare_bidirectional PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS torch)

# The learning-rate schedules (runtime/train/rnnrt_sched.c) against
# torch.optim.lr_scheduler on one sequence of validation losses
# (tests/torch/compare_lr_schedule.py, through tests/tools/sched_tool.c).
add_executable(sched_tool ${CMAKE_CURRENT_LIST_DIR}/tools/sched_tool.c)
target_link_libraries(sched_tool PRIVATE rnnrt_d)
add_test(NAME torch_compare_lr_schedule
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/torch/compare_lr_schedule.py
          --tool $<TARGET_FILE:sched_tool>)
set_tests_properties(torch_compare_lr_schedule PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS torch)

# safetensors export and import (runtime/io/rnnrt_safetensors.c) against
# PyTorch (tests/torch/safetensors_roundtrip.py): torch.nn.RNN/GRU/LSTM
# state_dicts imported give PyTorch's logits; rnnc-trained models exported
# load with load_state_dict and give rnnc's; exports are byte-identical;
# malformed files are refused with clear errors. Float build.
add_test(NAME torch_safetensors
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/torch/safetensors_roundtrip.py
          --source ${PROJECT_SOURCE_DIR} --rnnc $<TARGET_FILE:rnnc> --lib $<TARGET_FILE:rnnrt>
          --cc ${CMAKE_C_COMPILER} "--libs=${OPENBLAS_LINK_LIBRARIES} ${JANSSON_LINK_LIBRARIES} -lpthread"
          --tool ${CMAKE_CURRENT_LIST_DIR}/tools/st_logits.c)
set_tests_properties(torch_safetensors PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS torch)

# The PyTorch twin of the recipes (bench/torch_recipe.py) reads their data as
# the rnnc trainers do: on a text of the tokenizer's corner cases, every
# recipe of examples/recipes/ gives the same token, split, vocabulary and
# <unk> counts on both sides (tests/torch/recipe_twin_data.py).
add_test(NAME torch_recipe_twin_data
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/torch/recipe_twin_data.py
          --source ${PROJECT_SOURCE_DIR} --rnnc $<TARGET_FILE:rnnc> --lib $<TARGET_FILE:rnnrt_d>
          --cc ${CMAKE_C_COMPILER} "--libs=${OPENBLAS_LINK_LIBRARIES} ${JANSSON_LINK_LIBRARIES}")
set_tests_properties(torch_recipe_twin_data PROPERTIES
  SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS torch)
