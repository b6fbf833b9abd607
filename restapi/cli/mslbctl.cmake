# mslbctl: the operator's command-line client for mslbd's REST API
# (docs/cli.md).  Included from the top-level CMakeLists.txt.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)

add_executable(mslbctl
  ${CMAKE_CURRENT_LIST_DIR}/mslbctl.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_request.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_output.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_body.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_services.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_backends.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_status.c
  ${CMAKE_CURRENT_LIST_DIR}/ctl_bridges.c
  ${CMAKE_CURRENT_LIST_DIR}/cli_http.c
  ${CMAKE_CURRENT_LIST_DIR}/cli_table.c)
target_include_directories(mslbctl PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(mslbctl PRIVATE PkgConfig::CURL PkgConfig::JANSSON m)

# Every command against a mock mslbd (tests/tools/mock_mslbd.py).
find_package(Python3 COMPONENTS Interpreter)
if(NOT MSLB_BUILD_TESTS)
elseif(Python3_Interpreter_FOUND)
  add_test(NAME unit_mslbctl
           COMMAND ${Python3_EXECUTABLE}
                   ${CMAKE_SOURCE_DIR}/tests/unit/test_mslbctl.py
                   $<TARGET_FILE:mslbctl>)
  set_tests_properties(unit_mslbctl PROPERTIES LABELS unit TIMEOUT 120)
else()
  message(WARNING "python3 not found: unit_mslbctl will not run")
endif()
