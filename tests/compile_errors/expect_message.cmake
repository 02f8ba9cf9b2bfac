# cmake -DCOMMAND=<compiler;args...> -DMESSAGE=<text> -P expect_message.cmake
# Passes only when COMMAND fails and its output holds MESSAGE.
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(status EQUAL 0)
  message(FATAL_ERROR "compiled, but it must not: expected the error '${MESSAGE}'")
endif()
string(FIND "${out}" "${MESSAGE}" at)
if(at EQUAL -1)
  string(SUBSTRING "${out}" 0 3000 head)
  message(FATAL_ERROR "failed, but without '${MESSAGE}':\n${head}")
endif()
message(STATUS "refused with: ${MESSAGE}")
