# Extra ctest entries for librnnrt. The unit suites (tests/unit/test_rt_*.c)
# link librnnrt_d, where real is double; trainers use the float build by
# default, so the driver suite runs against librnnrt (float) too.
add_executable(test_rt_train_float ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_rt_train.c)
target_link_libraries(test_rt_train_float PRIVATE rnnrt PkgConfig::CMOCKA)
add_test(NAME test_rt_train_float COMMAND test_rt_train_float)
set_tests_properties(test_rt_train_float PROPERTIES ENVIRONMENT
  "RNNC_SOURCE_DIR=${PROJECT_SOURCE_DIR};RNNC_BUILD_DIR=${PROJECT_BINARY_DIR}")
