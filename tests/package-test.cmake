# Consumes k8snetio as a user would, for the ctest cases package.find_package and
# package.add_subdirectory (tests/CMakeLists.txt): for find_package it first installs k8snetio
# into a fresh prefix; then it configures, builds and runs a small consumer project with the
# caller's compiler.
#
#   cmake -DMODE=find_package|add_subdirectory -DSOURCE_DIR=<consumer> -DBINARY_DIR=<dir>
#         -DCXX_COMPILER=<c++> -DGENERATOR=<generator> [-DCXX_FLAGS=...] [-DMAKE_PROGRAM=...]
#         [-DCONFIG=<build type>] [-DPREFIX_PATH=<dir>|<dir>...] -DK8SNETIO_SOURCE_DIR=<root>
#         [-DK8SNETIO_BINARY_DIR=<build> -DINSTALL_PREFIX=<dir>]   (find_package only)
#         -P package-test.cmake
cmake_minimum_required(VERSION 3.21)

if(NOT CONFIG)
  set(CONFIG Release)
endif()
string(REPLACE "|" ";" PREFIX_PATH "${PREFIX_PATH}")

if(MODE STREQUAL "find_package")
  # The fresh install prefix first, so that no other k8snetio on the machine is picked up.
  file(REMOVE_RECURSE "${INSTALL_PREFIX}")
  execute_process(
    COMMAND ${CMAKE_COMMAND} --install ${K8SNETIO_BINARY_DIR} --prefix ${INSTALL_PREFIX}
            --config ${CONFIG} COMMAND_ERROR_IS_FATAL ANY)
  set(PREFIX_PATH "${INSTALL_PREFIX};${PREFIX_PATH}")
elseif(NOT MODE STREQUAL "add_subdirectory")
  message(FATAL_ERROR "MODE must be find_package or add_subdirectory, not '${MODE}'")
endif()

file(REMOVE_RECURSE "${BINARY_DIR}")
set(make_program)
if(MAKE_PROGRAM)
  set(make_program "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
execute_process(
  COMMAND
    ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR} -G ${GENERATOR} ${make_program}
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_BUILD_TYPE=${CONFIG}" "-DCMAKE_PREFIX_PATH=${PREFIX_PATH}"
    "-DK8SNETIO_SOURCE_DIR=${K8SNETIO_SOURCE_DIR}"
  COMMAND_ERROR_IS_FATAL ANY)

if(MODE STREQUAL "find_package")
  file(STRINGS "${BINARY_DIR}/CMakeCache.txt" found REGEX "^k8snetio_DIR:")
  string(FIND "${found}" "${INSTALL_PREFIX}/" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the consumer did not find k8snetio in ${INSTALL_PREFIX}: ${found}")
  endif()
endif()

execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} --config ${CONFIG}
                COMMAND_ERROR_IS_FATAL ANY)

find_program(consumer NAMES consumer PATHS ${BINARY_DIR} ${BINARY_DIR}/${CONFIG}
             NO_DEFAULT_PATH NO_CACHE REQUIRED)
execute_process(COMMAND ${consumer} COMMAND_ERROR_IS_FATAL ANY)

# find_package: the README's quickstart, built against the installed package, runs as documented.
if(MODE STREQUAL "find_package")
  find_program(quickstart NAMES quickstart PATHS ${BINARY_DIR} ${BINARY_DIR}/${CONFIG}
               NO_DEFAULT_PATH NO_CACHE REQUIRED)
  execute_process(
    COMMAND ${quickstart} ${K8SNETIO_SOURCE_DIR}/tests/data/cli_baseline.csv
            ${K8SNETIO_SOURCE_DIR}/tests/data/cli_detect.csv
    OUTPUT_VARIABLE quickstart_out COMMAND_ERROR_IS_FATAL ANY)
  if(NOT quickstart_out MATCHES "checkout-7d4b9c8f6d-x2k9p")
    message(FATAL_ERROR "the installed quickstart printed no finding:\n${quickstart_out}")
  endif()
endif()
