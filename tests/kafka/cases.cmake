# service.md K1–K7: `k8s-netio consume` against librdkafka's mock cluster (3 brokers on
# loopback, started by kafka_helper inside the test), compared with `k8s-netio detect` over the
# same points (tests/kafka/kafka_test.py). Registered only when librdkafka was found
# (cmake/k8snetioKafka.cmake); CI installs it, so there they always run.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(TARGET k8s-netio AND K8SNETIO_HAVE_RDKAFKA AND Python3_Interpreter_FOUND)
  add_executable(kafka_helper ${CMAKE_CURRENT_LIST_DIR}/kafka_helper.cpp)
  target_link_libraries(kafka_helper PRIVATE PkgConfig::RDKAFKA)
  target_compile_features(kafka_helper PRIVATE cxx_std_20)
  k8snetio_warnings(kafka_helper)
  k8snetio_sanitizers(kafka_helper)
  foreach(case IN ITEMS K5.one_consumer_same_findings K5.three_consumers_same_findings
                        K3.killed_consumer_failover K3.consumer_added_rebalance
                        K3.corrupt_state_refused K1.malformed_messages_counted
                        K1.hec_input_same_findings K1.metrics_listen
                        K6.learned_days_merge K3.killed_consumer_file_durable
                        K1.early_alerts)
    string(REGEX REPLACE "^K[0-9]+\\." "" function ${case})
    add_test(NAME kafka.${case}
             COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/kafka_test.py
                     --k8s-netio $<TARGET_FILE:k8s-netio> --helper $<TARGET_FILE:kafka_helper>
                     --work ${CMAKE_CURRENT_BINARY_DIR}/kafka-work/${function} ${function})
    set_tests_properties(kafka.${case} PROPERTIES LABELS kafka TIMEOUT 150)
  endforeach()
  # K1.1: otlp_proto messages encoded by Google's encoder: Debian's python3 has
  # python3-protobuf (another python3 first on PATH may not), and protoc compiles tests/proto.
  set(proto_python ${Python3_EXECUTABLE})
  if(EXISTS /usr/bin/python3)
    set(proto_python /usr/bin/python3)
  endif()
  add_test(NAME kafka.K1.1.otlp_proto_same_findings
           COMMAND ${proto_python} ${CMAKE_CURRENT_LIST_DIR}/kafka_test.py
                   --k8s-netio $<TARGET_FILE:k8s-netio> --helper $<TARGET_FILE:kafka_helper>
                   --work ${CMAKE_CURRENT_BINARY_DIR}/kafka-work/otlp_proto_same_findings
                   otlp_proto_same_findings)
  set_tests_properties(kafka.K1.1.otlp_proto_same_findings PROPERTIES LABELS kafka TIMEOUT 150)
endif()
