# Consumes k8snetio as a user would, for the ctest cases package.find_package,
# package.add_subdirectory and A3.* (tests/CMakeLists.txt): for find_package it first installs
# k8snetio into a fresh prefix; then it configures, builds and runs a small consumer project with
# the caller's compiler. COMPONENTS=core (A3) builds the consumer on k8snetio::core alone and
# proves it needs none of io's libraries: in find_package mode they are made unfindable, and in
# both modes the consumer's link line must not name them. COMPONENTS=compiled (A4) builds it on
# k8snetio::compiled and checks that its object file only declares the engines;
# COMPONENTS=compiled_io builds the writer consumer on k8snetio::compiled_io and header-only and
# compares what they write.
# MODE=plain_install (A3) configures the repository itself as a user installing the headers
# would, with the tests, examples and benchmarks off and their dependencies unfindable, then
# installs it and checks the package config and the pkg-config files.
#
#   cmake -DMODE=find_package|add_subdirectory|plain_install -DSOURCE_DIR=<consumer> -DBINARY_DIR=<dir>
#         -DCXX_COMPILER=<c++> -DGENERATOR=<generator> [-DCXX_FLAGS=...] [-DMAKE_PROGRAM=...]
#         [-DCONFIG=<build type>] [-DPREFIX_PATH=<dir>|<dir>...] -DK8SNETIO_SOURCE_DIR=<root>
#         [-DK8SNETIO_BINARY_DIR=<build> -DINSTALL_PREFIX=<dir>]   (find_package only)
#         [-DCOMPONENTS=core|compiled|compiled_io]
#         -P package-test.cmake
cmake_minimum_required(VERSION 3.21)

if(NOT CONFIG)
  set(CONFIG Release)
endif()
string(REPLACE "|" ";" PREFIX_PATH "${PREFIX_PATH}")

set(make_program)
if(MAKE_PROGRAM)
  set(make_program "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()

if(MODE STREQUAL "plain_install")
  # `cmake -S . -B build && cmake --install build` with the test, CLI and benchmark
  # dependencies out of reach: only the options that are off keep them out.
  file(REMOVE_RECURSE "${BINARY_DIR}" "${INSTALL_PREFIX}")
  execute_process(
    COMMAND
      ${CMAKE_COMMAND} -S ${K8SNETIO_SOURCE_DIR} -B ${BINARY_DIR} -G ${GENERATOR} ${make_program}
      "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${PREFIX_PATH}"
      "-DCMAKE_INSTALL_PREFIX=${INSTALL_PREFIX}" -DK8SNETIO_TEST=OFF -DK8SNETIO_EXAMPLES=OFF
      -DK8SNETIO_BENCHMARKS=OFF -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON
      -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON
    COMMAND_ERROR_IS_FATAL ANY)
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} COMMAND_ERROR_IS_FATAL ANY)
  foreach(file IN ITEMS include/k8snetio/k8snetio.hpp share/cmake/k8snetio/k8snetioConfig.cmake
                        share/cmake/k8snetio/k8snetio-core-targets.cmake
                        share/pkgconfig/k8snetio.pc share/pkgconfig/k8snetio-io.pc)
    if(NOT EXISTS "${INSTALL_PREFIX}/${file}")
      message(FATAL_ERROR "the install has no ${file}")
    endif()
  endforeach()
  # The same build installed again elsewhere (`cmake --install build --prefix DIR`): the .pc
  # files name the prefix installed to, not the one configured. And staged (DESTDIR): they name
  # the prefix, not the staging directory.
  set(moved "${INSTALL_PREFIX}-moved")
  set(staged "${INSTALL_PREFIX}-staged")
  file(REMOVE_RECURSE "${moved}" "${staged}")
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${moved}
                  COMMAND_ERROR_IS_FATAL ANY)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env DESTDIR=${staged}
                          ${CMAKE_COMMAND} --install ${BINARY_DIR} COMMAND_ERROR_IS_FATAL ANY)
  file(READ "${staged}${INSTALL_PREFIX}/share/pkgconfig/k8snetio.pc" staged_pc)
  if(NOT staged_pc MATCHES "(^|\n)prefix=${INSTALL_PREFIX}\n")
    message(FATAL_ERROR "a DESTDIR install's k8snetio.pc does not name the prefix:\n${staged_pc}")
  endif()
  find_program(pkg_config NAMES pkg-config NO_CACHE)
  if(pkg_config)
    foreach(prefix IN ITEMS "${INSTALL_PREFIX}" "${moved}")
      set(ENV{PKG_CONFIG_PATH} "${prefix}/share/pkgconfig")
      foreach(pc IN ITEMS k8snetio k8snetio-io)
        execute_process(COMMAND ${pkg_config} --cflags --libs ${pc} OUTPUT_VARIABLE flags
                        COMMAND_ERROR_IS_FATAL ANY)
        string(STRIP "${flags}" flags)
        if(NOT " ${flags} " MATCHES " -I${prefix}/include ")
          message(FATAL_ERROR "pkg-config ${pc} does not point at the install ${prefix}: ${flags}")
        endif()
        message(STATUS "pkg-config ${pc}: ${flags}")
      endforeach()
    endforeach()
  endif()
  return()
endif()

set(consumer_arguments)
set(io_libraries "pcre2|simdjson|zstd|libz\\.|-lz[ \n]|protozero|libfmt|-lfmt")
if(COMPONENTS STREQUAL "core" OR COMPONENTS STREQUAL "compiled")
  list(APPEND consumer_arguments -DK8SNETIO_COMPONENTS=${COMPONENTS})
  if(MODE STREQUAL "find_package")
    foreach(package IN ITEMS fmt simdjson ZLIB zstd PkgConfig Threads)
      list(APPEND consumer_arguments -DCMAKE_DISABLE_FIND_PACKAGE_${package}=ON)
    endforeach()
  endif()
elseif(COMPONENTS STREQUAL "compiled_io")
  list(APPEND consumer_arguments -DK8SNETIO_COMPONENTS=${COMPONENTS})
endif()

if(MODE STREQUAL "find_package")
  # The fresh install prefix first, so that no other k8snetio on the machine is picked up.
  file(REMOVE_RECURSE "${INSTALL_PREFIX}")
  execute_process(
    COMMAND ${CMAKE_COMMAND} --install ${K8SNETIO_BINARY_DIR} --prefix ${INSTALL_PREFIX}
            --config ${CONFIG} COMMAND_ERROR_IS_FATAL ANY)
  set(PREFIX_PATH "${INSTALL_PREFIX};${PREFIX_PATH}")
elseif(NOT MODE STREQUAL "add_subdirectory")
  message(FATAL_ERROR "MODE must be find_package, add_subdirectory or plain_install, not "
                      "'${MODE}'")
endif()

file(REMOVE_RECURSE "${BINARY_DIR}")
execute_process(
  COMMAND
    ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR} -G ${GENERATOR} ${make_program}
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_BUILD_TYPE=${CONFIG}" "-DCMAKE_PREFIX_PATH=${PREFIX_PATH}"
    "-DK8SNETIO_SOURCE_DIR=${K8SNETIO_SOURCE_DIR}" ${consumer_arguments}
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

if(COMPONENTS STREQUAL "core" OR COMPONENTS STREQUAL "compiled")
  # The consumer's link line (Ninja or Makefiles) names none of io's libraries.
  file(GLOB_RECURSE link_files "${BINARY_DIR}/build.ninja" "${BINARY_DIR}/*/consumer.dir/link.txt")
  foreach(link_file IN LISTS link_files)
    file(STRINGS "${link_file}" lines REGEX "LINK_LIBRARIES|consumer")
    foreach(line IN LISTS lines)
      if(line MATCHES "LINK_LIBRARIES|-o consumer" AND line MATCHES "${io_libraries}")
        message(FATAL_ERROR "the core consumer links a library of the io component: ${line}")
      endif()
    endforeach()
  endforeach()
endif()

if(COMPONENTS STREQUAL "core" AND MODE STREQUAL "find_package")
  # A7: docs/library.md's programs, built on the installed core alone, run and succeed.
  file(GLOB library_examples LIST_DIRECTORIES false "${BINARY_DIR}/library_*")
  if(NOT library_examples)
    message(FATAL_ERROR "no library_* example was built against the core component")
  endif()
  foreach(example IN LISTS library_examples)
    execute_process(COMMAND ${example} COMMAND_ERROR_IS_FATAL ANY)
  endforeach()
endif()

# The symbols (nm) of the consumer's object file compiled from SOURCE (one whose path does not
# match EXCLUDE), with the consumer's own nm: into OBJECT_VAR and SYMBOLS_VAR.
function(consumer_symbols source exclude object_var symbols_var)
  file(GLOB_RECURSE objects "${BINARY_DIR}/*${source}.o")
  list(FILTER objects EXCLUDE REGEX "${exclude}")
  if(NOT objects)
    message(FATAL_ERROR "no object file of ${source} under ${BINARY_DIR}")
  endif()
  list(GET objects 0 object)
  file(STRINGS "${BINARY_DIR}/CMakeCache.txt" nm REGEX "^CMAKE_NM:")
  string(REGEX REPLACE "^[^=]*=" "" nm "${nm}")
  if(NOT nm)
    find_program(nm NAMES nm NO_CACHE REQUIRED)
  endif()
  execute_process(COMMAND ${nm} ${object} OUTPUT_VARIABLE symbols COMMAND_ERROR_IS_FATAL ANY)
  set(${object_var} "${object}" PARENT_SCOPE)
  set(${symbols_var} "${symbols}" PARENT_SCOPE)
endfunction()

if(COMPONENTS STREQUAL "compiled" AND NOT CXX_COMPILER MATCHES "cl(\\.exe)?$")
  # A4: the consumer's object file declares the detector's and the baseline runner's add()
  # (nm: U) and defines neither: they come compiled from k8snetio::compiled. Matched by their
  # Itanium-mangled names (size_t's code may be j, m or y), with the consumer's own nm.
  consumer_symbols(core_consumer.cpp "^$" object symbols)
  foreach(member IN ITEMS "_ZN8k8snetio8detectorIL[jmy]2ENS_14baseline_tableIL[jmy]2EEEE3addE"
                          "_ZN8k8snetio15baseline_runnerIL[jmy]2EE3addE")
    if(NOT symbols MATCHES "[ \t]U ${member}" OR symbols MATCHES "[ \t][TtWw] ${member}")
      message(FATAL_ERROR "compiled mode: ${object} does not only declare ${member}:\n${symbols}")
    endif()
  endforeach()
  message(STATUS "compiled mode: the consumer declares the engines' add(), k8snetio::compiled "
                 "defines it")
endif()

if(COMPONENTS STREQUAL "compiled" AND MODE STREQUAL "find_package")
  # A3 and A4: the installed pkg-config file of the compiled mode names the library and the mode.
  find_program(pkg_config NAMES pkg-config NO_CACHE)
  if(pkg_config)
    file(GLOB_RECURSE pc_files "${INSTALL_PREFIX}/*/k8snetio-compiled.pc")
    if(NOT pc_files)
      message(FATAL_ERROR "the install has no k8snetio-compiled.pc")
    endif()
    list(GET pc_files 0 pc_file)
    get_filename_component(pc_dir "${pc_file}" DIRECTORY)
    get_filename_component(core_pc_dir "${INSTALL_PREFIX}/share/pkgconfig" ABSOLUTE)
    set(ENV{PKG_CONFIG_PATH} "${pc_dir}:${core_pc_dir}")
    execute_process(COMMAND ${pkg_config} --cflags --libs k8snetio-compiled
                    OUTPUT_VARIABLE flags COMMAND_ERROR_IS_FATAL ANY)
    if(NOT flags MATCHES "-DK8SNETIO_COMPILED" OR NOT flags MATCHES "-lk8snetio"
       OR NOT " ${flags}" MATCHES " -L${INSTALL_PREFIX}/")
      message(FATAL_ERROR "pkg-config k8snetio-compiled gives no library or mode: ${flags}")
    endif()
    message(STATUS "pkg-config k8snetio-compiled: ${flags}")
  endif()
endif()

if(COMPONENTS STREQUAL "compiled_io")
  # A4: the writer consumer's object file declares write_findings (nm: U) and defines no writer:
  # they come compiled from k8snetio::compiled_io. Its findings in every format are byte for
  # byte those of the same program built header-only.
  if(NOT CXX_COMPILER MATCHES "cl(\\.exe)?$")
    consumer_symbols(writer_consumer.cpp "consumer_header_only\\.dir" object symbols)
    set(writer "_ZN8k8snetio2io14write_findings")
    if(NOT symbols MATCHES "[ \t]U ${writer}" OR symbols MATCHES "[ \t][TtWw] _ZN8k8snetio2io")
      message(FATAL_ERROR "compiled_io: ${object} defines a writer or does not call one:\n${symbols}")
    endif()
    message(STATUS "compiled_io: the consumer declares write_findings, k8snetio::compiled_io "
                   "defines it")
  endif()
  if(MODE STREQUAL "find_package")
    find_program(pkg_config NAMES pkg-config NO_CACHE)
    if(pkg_config)
      file(GLOB_RECURSE pc_files "${INSTALL_PREFIX}/*/k8snetio-compiled-io.pc")
      if(NOT pc_files)
        message(FATAL_ERROR "the install has no k8snetio-compiled-io.pc")
      endif()
      list(GET pc_files 0 pc_file)
      get_filename_component(pc_dir "${pc_file}" DIRECTORY)
      get_filename_component(core_pc_dir "${INSTALL_PREFIX}/share/pkgconfig" ABSOLUTE)
      set(ENV{PKG_CONFIG_PATH} "${pc_dir}:${core_pc_dir}")
      execute_process(COMMAND ${pkg_config} --cflags --libs k8snetio-compiled-io
                      OUTPUT_VARIABLE flags COMMAND_ERROR_IS_FATAL ANY)
      if(NOT flags MATCHES "-DK8SNETIO_COMPILED_IO" OR NOT flags MATCHES "-lk8snetio_io"
         OR NOT " ${flags}" MATCHES " -L${INSTALL_PREFIX}/")
        message(FATAL_ERROR "pkg-config k8snetio-compiled-io gives no library or mode: ${flags}")
      endif()
      message(STATUS "pkg-config k8snetio-compiled-io: ${flags}")
    endif()
  endif()
  foreach(program IN ITEMS consumer consumer_header_only)
    find_program(${program}_path NAMES ${program} PATHS ${BINARY_DIR} ${BINARY_DIR}/${CONFIG}
                 NO_DEFAULT_PATH NO_CACHE REQUIRED)
    execute_process(COMMAND ${${program}_path} OUTPUT_VARIABLE ${program}_out
                    COMMAND_ERROR_IS_FATAL ANY)
  endforeach()
  if(NOT consumer_out STREQUAL consumer_header_only_out)
    message(FATAL_ERROR "compiled_io: the findings differ from header-only:\n${consumer_out}\n"
                        "header-only:\n${consumer_header_only_out}")
  endif()
  string(LENGTH "${consumer_out}" written)
  message(STATUS "compiled_io: ${written} bytes of findings, the same as header-only")
  return()
endif()

find_program(consumer NAMES consumer PATHS ${BINARY_DIR} ${BINARY_DIR}/${CONFIG}
             NO_DEFAULT_PATH NO_CACHE REQUIRED)
execute_process(COMMAND ${consumer} COMMAND_ERROR_IS_FATAL ANY)

# find_package: the README's quickstart, built against the installed package, runs as documented.
if(MODE STREQUAL "find_package" AND NOT COMPONENTS STREQUAL "core"
   AND NOT COMPONENTS STREQUAL "compiled")
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
