# Compiles schemas/*.avsc, schemas/compat/*.avsc and the default attribute
# dictionary into one generated C file (OSH_SCHEMAS_C). The glob is
# CONFIGURE_DEPENDS so adding a schema re-runs cmake; the custom command
# depends on every input so editing one regenerates the file.
file(GLOB OSH_SCHEMA_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/schemas/*.avsc)
file(GLOB OSH_SCHEMA_COMPAT_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/schemas/compat/*.avsc)
list(SORT OSH_SCHEMA_FILES)
list(SORT OSH_SCHEMA_COMPAT_FILES)
set(OSH_DICTIONARY_FILE ${CMAKE_SOURCE_DIR}/schemas/dictionary.tsv)
set(OSH_SCHEMAS_C ${CMAKE_CURRENT_BINARY_DIR}/osh_schemas_gen.c)

add_custom_command(
  OUTPUT ${OSH_SCHEMAS_C}
  COMMAND ${CMAKE_COMMAND}
          "-DOUT=${OSH_SCHEMAS_C}"
          "-DSCHEMAS=${OSH_SCHEMA_FILES}"
          "-DCOMPAT=${OSH_SCHEMA_COMPAT_FILES}"
          "-DDICTIONARY=${OSH_DICTIONARY_FILE}"
          -P ${CMAKE_CURRENT_LIST_DIR}/embed_schemas.cmake
  DEPENDS ${OSH_SCHEMA_FILES} ${OSH_SCHEMA_COMPAT_FILES} ${OSH_DICTIONARY_FILE}
          ${CMAKE_CURRENT_LIST_DIR}/embed_schemas.cmake
  COMMENT "Embedding Avro schemas and attribute dictionary"
  VERBATIM)
