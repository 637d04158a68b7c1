# Generates C for every proto/*.proto with protoc-c into the build tree.
# Sets OSH_PROTO_C (generated sources) and OSH_PROTO_INCLUDE (their directory,
# so code includes "transfer.pb-c.h").
set(OSH_PROTO_DIR ${CMAKE_SOURCE_DIR}/proto)
set(OSH_PROTO_INCLUDE ${CMAKE_BINARY_DIR}/generated/proto)
file(MAKE_DIRECTORY ${OSH_PROTO_INCLUDE})

file(GLOB _osh_protos CONFIGURE_DEPENDS ${OSH_PROTO_DIR}/*.proto)
set(OSH_PROTO_C "")
foreach(_proto ${_osh_protos})
  get_filename_component(_base ${_proto} NAME_WE)
  set(_c ${OSH_PROTO_INCLUDE}/${_base}.pb-c.c)
  set(_h ${OSH_PROTO_INCLUDE}/${_base}.pb-c.h)
  add_custom_command(
    OUTPUT ${_c} ${_h}
    COMMAND ${PROTOC_C} --proto_path=${OSH_PROTO_DIR} --c_out=${OSH_PROTO_INCLUDE} ${_proto}
    DEPENDS ${_proto}
    COMMENT "protoc-c ${_base}.proto"
    VERBATIM)
  list(APPEND OSH_PROTO_C ${_c})
  # Generated code is not ours to keep warning-free under -Wextra -Werror.
  set_source_files_properties(${_c} PROPERTIES GENERATED TRUE
    COMPILE_OPTIONS "-Wno-error;-Wno-unused-parameter;-Wno-missing-field-initializers;-Wno-missing-braces")
endforeach()
