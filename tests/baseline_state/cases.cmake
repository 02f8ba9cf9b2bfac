# engine.md S4.1, S6 and service.md K6 through `k8s-netio baseline --state/--add/--merge`: each
# case is a function of tests/baseline_state/run.sh, registered as cli.<case>.
if(TARGET k8s-netio)
  find_program(K8SNETIO_BASELINE_STATE_BASH bash)
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(K8SNETIO_BASELINE_STATE_BASH AND Python3_Interpreter_FOUND)
    foreach(case IN ITEMS S6.rolling_add_drop S6.replace_and_refuse S6.bad_state K6.merge
                          S6.usage S1.4.future_day RT-5.lock RT-23.merge_twice
                          RT-24.all_or_nothing RT-12.state_links)
      add_test(NAME cli.${case}
               COMMAND ${K8SNETIO_BASELINE_STATE_BASH}
                       ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:k8s-netio>
                       ${case} ${CMAKE_CURRENT_BINARY_DIR}/baseline-state-work
                       ${Python3_EXECUTABLE})
      set_tests_properties(cli.${case} PROPERTIES LABELS cli TIMEOUT 300)
    endforeach()
  endif()
endif()
