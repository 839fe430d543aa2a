# embed_rows.cmake: the one byte-array writer of the embedding scripts
# (embed_text.cmake, cells/embed.cmake), included by them.
#
# embed_rows(FILE ROWS_VAR BYTES_VAR): ROWS_VAR = FILE's bytes as C array
# rows ("    0x2f,0x2a,...\n", 16 a row), BYTES_VAR = how many bytes.
function(embed_rows file rows_var bytes_var)
  file(READ "${file}" hex HEX)
  string(LENGTH "${hex}" digits)
  math(EXPR bytes "${digits} / 2")
  set(rows "")
  set(at 0)
  while(at LESS digits)
    string(SUBSTRING "${hex}" ${at} 32 row)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," row "${row}")
    string(APPEND rows "    ${row}\n")
    math(EXPR at "${at} + 32")
  endwhile()
  set(${rows_var} "${rows}" PARENT_SCOPE)
  set(${bytes_var} "${bytes}" PARENT_SCOPE)
endfunction()
