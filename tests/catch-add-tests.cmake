# The helper that catch_discover_tests runs after each build of k8snetio_tests: it lists the
# TEST_CASEs and writes one add_test per case. It replaces Debian's Catch2 2.13 CatchAddTests,
# which splits a name at ';' (so both halves "pass" having run nothing) and does not escape '\'.
# Called with Catch.cmake's variables; ignores TEST_REPORTER, TEST_OUTPUT_* and TEST_LIST.
cmake_minimum_required(VERSION 3.21)

execute_process(
  COMMAND ${TEST_EXECUTOR} "${TEST_EXECUTABLE}" ${TEST_SPEC} --list-test-names-only
  OUTPUT_VARIABLE output
  RESULT_VARIABLE result
  WORKING_DIRECTORY "${TEST_WORKING_DIR}")
if(NOT result MATCHES "^[0-9]+$")  # Catch exits with the number of tests it listed
  message(FATAL_ERROR "${TEST_EXECUTABLE} --list-test-names-only failed: ${result}\n${output}")
endif()

# One name per line; a ';' inside a name must not split it, so it is set aside meanwhile.
string(ASCII 31 semicolon_stand_in)
string(REPLACE ";" "${semicolon_stand_in}" output "${output}")
string(REPLACE "\r" "" output "${output}")
string(REPLACE "\n" ";" lines "${output}")

set(arguments "")
foreach(argument IN LISTS TEST_EXTRA_ARGS)
  string(APPEND arguments " [==[${argument}]==]")
endforeach()
set(properties "")
foreach(property IN LISTS TEST_PROPERTIES)
  string(APPEND properties " [==[${property}]==]")
endforeach()

set(script "")
foreach(line IN LISTS lines)
  if(line STREQUAL "")
    continue()
  endif()
  string(REPLACE "${semicolon_stand_in}" ";" name "${line}")
  # In a Catch test spec a backslash makes the next character literal.
  string(REGEX REPLACE "([][\\\\,*~\"])" "\\\\\\1" spec "${name}")
  set(test "${TEST_PREFIX}${name}${TEST_SUFFIX}")
  string(APPEND script
         "add_test([==[${test}]==] ${TEST_EXECUTOR} [==[${TEST_EXECUTABLE}]==] [==[${spec}]==]"
         "${arguments})\n"
         "set_tests_properties([==[${test}]==] PROPERTIES WORKING_DIRECTORY "
         "[==[${TEST_WORKING_DIR}]==]${properties})\n")
endforeach()

file(WRITE "${CTEST_FILE}" "${script}")
