# Compile-error tests (issue 10, as fmt's): each misuse in misuse.cpp must stop the compiler with
# the message its static_assert advertises; case 0, every correct form, must compile. The
# compiler only parses (-fsyntax-only), with the project's headers and the system's.
set(k8snetio_misuse_messages
    "aggregate_spans: the input must be a range of k8snetio::metric_point"
    "normalize_service: the input must be a range of k8snetio::span_row"
    "pivot_direction: the input must be a range of k8snetio::service_row"
    "lookup_baseline: the baseline needs"
    "persist_over: the input must be a range of k8snetio::anomalous_row"
    "build_baseline: the input must be a range of k8snetio::service_row"
    "baseline_table: give the measure_set of your rule"
    "lookup_baseline: the input must be a range of k8snetio::measure_row<N>"
    "score_sigma: the input must be a range of k8snetio::looked_up_row<N>"
    # A composed closure reports the misuse of the stage that meets the wrong rows.
    "pivot_direction: the input must be a range of k8snetio::service_row"
    # library.md A1.2: a temporary baseline where a reference is kept.
    "detector: the baseline is a temporary"
    "make_detector: the baseline is a temporary"
    "lookup_baseline: the baseline is a temporary"
    # library.md A1.3: results that must not be dropped (with -Werror=unused-result).
    "A1.3:finish:nodiscard"
    "A1.3:take_closed:nodiscard"
    "A1.3:save_state:nodiscard"
    "A1.3:detect:nodiscard"
    "A1.3:make_detector:nodiscard"
    "A1.3:baseline_runner_finish:nodiscard"
    "A1.3:load_baseline_csv:nodiscard"
    "A1.3:read_inputs:nodiscard"
    # library.md A6: restore returns its refusal as a result, which must not be dropped.
    "A1.3:restore_state:nodiscard")
set(k8snetio_misuse_command
    ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -Werror=unused-result
    -I${PROJECT_SOURCE_DIR}/include ${CMAKE_CURRENT_LIST_DIR}/misuse.cpp)
add_test(NAME compile_error.correct_forms_compile
         COMMAND ${k8snetio_misuse_command} -DK8SNETIO_MISUSE=0)
set_tests_properties(compile_error.correct_forms_compile PROPERTIES LABELS compile_error)
set(index 0)
foreach(message IN LISTS k8snetio_misuse_messages)
  math(EXPR index "${index} + 1")
  string(REGEX REPLACE ":.*" "" stage "${message}")
  if(message MATCHES "^(A1[.][0-9]):([a-z_]+):(.*)$")  # A1.3:<function>:<expected text>
    set(stage "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
    set(message "${CMAKE_MATCH_3}")
  elseif(message MATCHES "is a temporary")
    set(stage "A1.2.${stage}")
  endif()
  # The compiler must fail and say why in the library's words (expect_message.cmake).
  add_test(NAME compile_error.${index}.${stage}
           COMMAND ${CMAKE_COMMAND} "-DMESSAGE=${message}"
                   "-DCOMMAND=${k8snetio_misuse_command};-DK8SNETIO_MISUSE=${index}"
                   -P ${CMAKE_CURRENT_LIST_DIR}/expect_message.cmake)
  set_tests_properties(compile_error.${index}.${stage} PROPERTIES LABELS compile_error)
endforeach()
