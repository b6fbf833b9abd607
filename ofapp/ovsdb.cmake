# The OVSDB database of the model: IDL bindings generated from
# schemas/mslb.ovsschema at build time (as OVS and OVN do), mslbd's private
# ovsdb-server, and the main loop that runs OVS's poll loop and libuv
# together.

# mslb_use_ovs_json(TARGET [SCOPE]): TARGET's C files call OVS's JSON
# through the renamed symbols of libopenvswitch-mslb.a (see the generated
# header's comment).  For one file:
#   set_source_files_properties(F.c PROPERTIES COMPILE_OPTIONS
#       "-include;${OVS_JSON_RENAME_H}")
function(mslb_use_ovs_json target)
  set(scope PRIVATE)
  if(ARGC GREATER 1)
    set(scope ${ARGV1})
  endif()
  target_compile_options(${target} ${scope} -include ${OVS_JSON_RENAME_H})
  add_dependencies(${target} ovs_renamed)
endfunction()

set(MSLB_IDL_H "${CMAKE_BINARY_DIR}/mslb-idl.h")
set(MSLB_IDL_C "${CMAKE_BINARY_DIR}/mslb-idl.c")
add_custom_command(OUTPUT ${MSLB_IDL_H} ${MSLB_IDL_C}
  COMMAND ${CMAKE_SOURCE_DIR}/scripts/ovsdb-idlc.sh ${OVS_BUILD}
          ${CMAKE_SOURCE_DIR}/schemas/mslb.ovsschema mslbrec_
          ${CMAKE_BINARY_DIR} mslb-idl
  DEPENDS ${CMAKE_SOURCE_DIR}/schemas/mslb.ovsschema
          ${CMAKE_SOURCE_DIR}/scripts/ovsdb-idlc.sh
          ${OVS_BUILD}/ovsdb/ovsdb-idlc.in
  COMMENT "Generating mslb-idl.[ch] from schemas/mslb.ovsschema")

# Generated code: OVS style, not ours; quiet the warnings it trips.
add_library(mslb_idl STATIC ${MSLB_IDL_C} ${MSLB_IDL_H})
target_include_directories(mslb_idl PUBLIC ${CMAKE_BINARY_DIR})
target_link_libraries(mslb_idl PUBLIC ovs)
target_compile_options(mslb_idl PRIVATE -Wno-unused-but-set-variable)
mslb_use_ovs_json(mslb_idl)

# ofapp/dbserver.c: mslbd's private ovsdb-server; ofapp/mainloop.c: OVS's
# poll loop with libuv inside.
add_library(mslb_ovsdb STATIC ofapp/dbserver.c ofapp/mainloop.c
            ofapp/child.c)
target_include_directories(mslb_ovsdb PUBLIC ${CMAKE_SOURCE_DIR}/ofapp)
target_link_libraries(mslb_ovsdb PUBLIC mslb_idl PkgConfig::LIBUV)
# The schema is found at run time (dbserver.c): beside the installed
# binary (PREFIX/share/mslb), in the source tree above a build directory,
# else where the install prefix puts it; nothing of the source tree is
# compiled in.
include(GNUInstallDirs)
target_compile_definitions(mslb_ovsdb PUBLIC
  MSLB_OVSDB_SCHEMA_INSTALLED="${CMAKE_INSTALL_FULL_DATADIR}/mslb/mslb.ovsschema")
mslb_use_ovs_json(mslb_ovsdb)
