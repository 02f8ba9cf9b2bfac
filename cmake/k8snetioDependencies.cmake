# The dependencies of k8snetio's headers, found the same way by our own build and by the
# installed package config (k8snetioConfig.cmake includes this file), so that a consumer of
# k8snetio::k8snetio gets every library its headers need. All are Debian packages:
# libfmt-dev librange-v3-dev libexpected-dev libpcre2-dev libsimdjson-dev zlib1g-dev libzstd-dev
# libprotozero-dev.
macro(_k8snetio_require name)
  if(COMMAND find_dependency)
    find_dependency(${name} ${ARGN})
  else()
    find_package(${name} ${ARGN} REQUIRED)
  endif()
endmacro()

_k8snetio_require(fmt)
_k8snetio_require(range-v3)
_k8snetio_require(tl-expected)
_k8snetio_require(Threads)
_k8snetio_require(simdjson)
_k8snetio_require(ZLIB)
_k8snetio_require(zstd)
# PCRE2 ships no CMake package, only pkg-config files.
if(NOT TARGET PkgConfig::K8SNETIO_PCRE2)
  _k8snetio_require(PkgConfig)
  pkg_check_modules(K8SNETIO_PCRE2 REQUIRED IMPORTED_TARGET GLOBAL libpcre2-8)
endif()
# protozero (I3.5, the OTLP protobuf reader) is header-only and ships no CMake package: its
# header is found and carried by an imported target that k8snetio::io links.
if(NOT TARGET k8snetio_protozero)
  find_path(K8SNETIO_PROTOZERO_INCLUDE_DIR protozero/pbf_reader.hpp)
  if(NOT K8SNETIO_PROTOZERO_INCLUDE_DIR)
    message(FATAL_ERROR "k8snetio needs protozero's headers (Debian: libprotozero-dev)")
  endif()
  add_library(k8snetio_protozero INTERFACE IMPORTED GLOBAL)
  set_target_properties(k8snetio_protozero PROPERTIES INTERFACE_INCLUDE_DIRECTORIES
                                                      "${K8SNETIO_PROTOZERO_INCLUDE_DIR}")
endif()
