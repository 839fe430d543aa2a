# Install and build-system integration (tests/install/): `cmake --install`
# into a temporary prefix, then three projects outside rnnc build against
# it as a user's would, each training its model 3 steps on a tiny corpus
# and sampling from the checkpoint:
#   install_prefix     cmake --install into build/tests/install/prefix; the
#                      files, librnnrt's SONAME, no AVX in the installed rnnc
#   install_cmake      find_package(rnnc) + rnnc_add_model (a trainer, and a
#                      model linked into the project's own program)
#   install_pkgconfig  a plain Makefile with pkg-config rnnrt
#   install_subdir     add_subdirectory() of this source tree (builds rnnc
#                      and librnnrt again: the slowest, ~1 min of CPU)
# Timeouts are guards against hangs on a loaded machine, not budgets.
set(RNNC_INSTALL_WORK ${CMAKE_CURRENT_BINARY_DIR}/install)
set(RNNC_CONSUMERS ${CMAKE_CURRENT_LIST_DIR}/install/consumers.sh)
add_test(NAME install_prefix
  COMMAND bash ${RNNC_CONSUMERS} install ${PROJECT_BINARY_DIR} ${RNNC_INSTALL_WORK}/prefix)
set_tests_properties(install_prefix PROPERTIES FIXTURES_SETUP rnnc_installed)
add_test(NAME install_cmake
  COMMAND bash ${RNNC_CONSUMERS} cmake ${RNNC_INSTALL_WORK}/prefix ${RNNC_INSTALL_WORK}/cmake)
add_test(NAME install_pkgconfig
  COMMAND bash ${RNNC_CONSUMERS} pkgconfig ${RNNC_INSTALL_WORK}/prefix ${RNNC_INSTALL_WORK}/pkgconfig)
set_tests_properties(install_cmake install_pkgconfig PROPERTIES FIXTURES_REQUIRED rnnc_installed)
add_test(NAME install_subdir
  COMMAND bash ${RNNC_CONSUMERS} subdir ${PROJECT_SOURCE_DIR} ${RNNC_INSTALL_WORK}/subdir)
set_tests_properties(install_prefix install_cmake install_pkgconfig install_subdir
  PROPERTIES TIMEOUT 600 LABELS install)
