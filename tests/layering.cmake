# The compiler's files call each other one way, down the pipeline: no two
# of them call each other, directly or around a loop (tests/tools/
# call_cycles.py reads the symbols of rnnc_core's objects with nm).
#   compiler_no_call_cycles   e.g. lower.c and lower_s2s.c, which shared the
#                             cell lowering before lower_cell.c held it
add_test(NAME compiler_no_call_cycles
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/tools/call_cycles.py $<TARGET_FILE:rnnc_core>)
