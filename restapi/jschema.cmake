# JSON Schema validation of REST bodies (restapi/jschema.c), its unit test,
# and the API reference generated from schemas/ (docs/api.md).
pkg_check_modules(CMOCKA_J REQUIRED IMPORTED_TARGET cmocka)

add_library(mslb_jschema STATIC ${CMAKE_SOURCE_DIR}/restapi/jschema.c)
target_include_directories(mslb_jschema PUBLIC ${CMAKE_SOURCE_DIR}/restapi)
target_link_libraries(mslb_jschema PUBLIC PkgConfig::JANSSON)

# The test also checks that schema errors read like the model's own, so it
# links mslb_model (flows/model.c).
add_executable(test_jschema ${CMAKE_SOURCE_DIR}/tests/unit/test_jschema.c)
target_link_libraries(test_jschema PRIVATE mslb_jschema mslb_model
                      PkgConfig::CMOCKA_J)
add_test(NAME unit_jschema COMMAND test_jschema ${CMAKE_SOURCE_DIR})
set_tests_properties(unit_jschema PROPERTIES LABELS unit)

add_test(NAME docs_api COMMAND ${CMAKE_SOURCE_DIR}/tests/api_doc_check.sh)
set_tests_properties(docs_api PROPERTIES LABELS golden)
