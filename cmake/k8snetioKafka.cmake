# librdkafka for `k8s-netio consume` and its mock-cluster tests (service.md K1, K7), found
# through its pkg-config file (Debian's librdkafka-dev). Optional: without it the library, the
# other subcommands and their tests build as before, and `consume` says what to install.
# Sets K8SNETIO_HAVE_RDKAFKA and, when found, the target PkgConfig::RDKAFKA.
option(K8SNETIO_KAFKA "Build k8s-netio consume on librdkafka when it is found" ON)
set(K8SNETIO_HAVE_RDKAFKA OFF)
if(K8SNETIO_KAFKA)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(RDKAFKA QUIET IMPORTED_TARGET GLOBAL rdkafka)
  endif()
  if(RDKAFKA_FOUND)
    set(K8SNETIO_HAVE_RDKAFKA ON)
    # librdkafka's compile-time argument checks (RD_KAFKA_V_* in rd_kafka_producev) are GNU
    # statement expressions, which clang's -Wpedantic rejects under -Werror; turned off, the
    # macros pass the same arguments unchecked.
    set_property(TARGET PkgConfig::RDKAFKA APPEND
                 PROPERTY INTERFACE_COMPILE_DEFINITIONS LIBRDKAFKA_TYPECHECKS=0)
    message(STATUS "k8snetio: librdkafka ${RDKAFKA_VERSION} found: k8s-netio consume is built")
  else()
    message(STATUS "k8snetio: librdkafka not found (install librdkafka-dev): k8s-netio consume "
                   "and its tests are left out")
  endif()
endif()
