# osh_embed_bytes(PATH VAR OUT_TEXT): OUT_TEXT = a C definition of the
# static NUL-terminated byte array VAR holding PATH's bytes. Bytes are
# emitted as hex so UTF-8, quotes and long texts need no escaping and no
# compiler string-length limits apply. Included by the -P embed scripts.
function(osh_embed_bytes path var out_text)
  file(READ "${path}" _hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _hex "${_hex}")
  # Break the initialiser into lines of 16 bytes (CMake regex has no {n}).
  string(REPEAT "0x[0-9a-f][0-9a-f]," 16 _row)
  string(REGEX REPLACE "(${_row})" "\\1\n\t" _hex "${_hex}")
  set(${out_text} "static const unsigned char ${var}[] = {\n\t${_hex}0x00};\n" PARENT_SCOPE)
endfunction()
