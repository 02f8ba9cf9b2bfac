# The dependencies of k8snetio's headers, per component (library.md A3), found the same way by
# our own build and by the installed package config (k8snetioConfig.cmake includes this file):
#   core     the model, stages, engines and rules: range-v3, tl-expected
#   compiled the core's engines for the shipped rules compiled once (A4): the core's
#   compiled_io  the writers of findings compiled once (A4): io's
#   io       readers and writers, and user service patterns (D2.4): adds fmt, simdjson, zlib,
#            zstd, PCRE2, protozero and threads
#   service  what the live core needs: io's, and threads
#   server   the transports of `serve` (service.md L9-L11; http_server.hpp, grpc_server.hpp):
#            adds Boost's headers (Beast, Asio), OpenSSL and gRPC++ (through pkg-config: its
#            CMake package needs protobuf's development files, its .pc file does not)
# Each with the oldest version we build and test with (Debian 12's), through imported targets.
# All are Debian packages: libfmt-dev librange-v3-dev libexpected-dev libsimdjson-dev zlib1g-dev
# libzstd-dev libpcre2-dev libprotozero-dev; for server libboost-dev libssl-dev libgrpc++-dev.
#
# In the package config, k8snetio_find_<component>() marks what it cannot find in
# _k8snetio_missing (and says what, unless quiet) instead of failing, so that a missing optional
# component leaves the others usable; in our own build every component is required.
set(K8SNETIO_FMT_MIN_VERSION 9.1)
set(K8SNETIO_RANGE_V3_MIN_VERSION 0.12)
set(K8SNETIO_TL_EXPECTED_MIN_VERSION 1.0)
set(K8SNETIO_SIMDJSON_MIN_VERSION 3.0)
set(K8SNETIO_ZLIB_MIN_VERSION 1.2.11)
set(K8SNETIO_ZSTD_MIN_VERSION 1.5)
set(K8SNETIO_PCRE2_MIN_VERSION 10.30)  # pcre2_set_heap_limit (D2.4)
set(K8SNETIO_PROTOZERO_MIN_VERSION 1.7)
set(K8SNETIO_BOOST_MIN_VERSION 1.74)
set(K8SNETIO_OPENSSL_MIN_VERSION 1.1.1)
set(K8SNETIO_GRPCPP_MIN_VERSION 1.30)

# Finds one CMake package, at least `min_version` (compared here: some packages, range-v3 for
# one, accept only their exact version when asked for one); in the package config a failure is
# recorded, not fatal.
macro(_k8snetio_require name)
  set(_k8snetio_min "${ARGV1}")
  if(DEFINED _k8snetio_in_config)
    find_package(${name} QUIET)
  else()
    find_package(${name} REQUIRED)
  endif()
  if(NOT ${name}_FOUND)
    list(APPEND _k8snetio_missing "${name} ${_k8snetio_min}")
  elseif(_k8snetio_min AND DEFINED ${name}_VERSION AND ${name}_VERSION VERSION_LESS _k8snetio_min)
    _k8snetio_missing_dependency(
      "${name} ${_k8snetio_min} or newer (found ${${name}_VERSION})")
  endif()
endmacro()

macro(_k8snetio_missing_dependency what)
  if(DEFINED _k8snetio_in_config)
    list(APPEND _k8snetio_missing "${what}")
  else()
    message(FATAL_ERROR "k8snetio needs ${what}")
  endif()
endmacro()

macro(k8snetio_find_core)
  _k8snetio_require(range-v3 ${K8SNETIO_RANGE_V3_MIN_VERSION})
  _k8snetio_require(tl-expected ${K8SNETIO_TL_EXPECTED_MIN_VERSION})
endmacro()

# compiled (library.md A4): a static library of the core's engines, so the core's dependencies.
macro(k8snetio_find_compiled)
  k8snetio_find_core()
endmacro()

# compiled_io needs io's libraries (its writers are built on fmt).
macro(k8snetio_find_compiled_io)
  k8snetio_find_io()
endmacro()

macro(k8snetio_find_io)
  k8snetio_find_core()
  _k8snetio_require(fmt ${K8SNETIO_FMT_MIN_VERSION})
  _k8snetio_require(Threads)
  _k8snetio_require(simdjson ${K8SNETIO_SIMDJSON_MIN_VERSION})
  _k8snetio_require(ZLIB ${K8SNETIO_ZLIB_MIN_VERSION})
  _k8snetio_require(zstd ${K8SNETIO_ZSTD_MIN_VERSION})
  # zstd's package names its shared and static libraries apart (zstd::libzstd from 1.5.6 on):
  # the first of K8SNETIO_ZSTD_TARGETS that exists is used; put libzstd_static first to link
  # it statically.
  set(K8SNETIO_ZSTD_TARGETS zstd::libzstd zstd::libzstd_shared zstd::libzstd_static
      CACHE STRING "The zstd targets k8snetio::io may link, in order of preference")
  if(NOT TARGET k8snetio_deps::zstd)
    foreach(_k8snetio_target IN LISTS K8SNETIO_ZSTD_TARGETS)
      if(TARGET ${_k8snetio_target})
        add_library(k8snetio_deps::zstd INTERFACE IMPORTED)
        set_target_properties(k8snetio_deps::zstd PROPERTIES INTERFACE_LINK_LIBRARIES
                                                             ${_k8snetio_target})
        break()
      endif()
    endforeach()
    if(NOT TARGET k8snetio_deps::zstd AND zstd_FOUND)
      _k8snetio_missing_dependency("one of the zstd targets ${K8SNETIO_ZSTD_TARGETS}")
    endif()
  endif()
  # PCRE2 ships no CMake package, only pkg-config files.
  if(NOT TARGET k8snetio_deps::pcre2)
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(K8SNETIO_PCRE2 QUIET libpcre2-8>=${K8SNETIO_PCRE2_MIN_VERSION})
    endif()
    if(K8SNETIO_PCRE2_FOUND)
      add_library(k8snetio_deps::pcre2 INTERFACE IMPORTED)
      # The full paths pkg-config resolved, as pkg_check_modules(IMPORTED_TARGET) gives them.
      set_target_properties(
        k8snetio_deps::pcre2 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES
                                        "${K8SNETIO_PCRE2_INCLUDE_DIRS}"
                                        INTERFACE_LINK_LIBRARIES "${K8SNETIO_PCRE2_LINK_LIBRARIES}")
    else()
      _k8snetio_missing_dependency(
        "PCRE2 ${K8SNETIO_PCRE2_MIN_VERSION} or newer (libpcre2-8.pc; Debian: libpcre2-dev)")
    endif()
  endif()
  # protozero (header-only) ships neither a CMake package nor a pkg-config file.
  if(NOT TARGET k8snetio_deps::protozero)
    find_path(K8SNETIO_PROTOZERO_INCLUDE_DIR protozero/version.hpp)
    set(_k8snetio_protozero_version)
    if(K8SNETIO_PROTOZERO_INCLUDE_DIR)
      file(STRINGS "${K8SNETIO_PROTOZERO_INCLUDE_DIR}/protozero/version.hpp"
           _k8snetio_protozero_version REGEX "define PROTOZERO_VERSION_STRING")
      string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" _k8snetio_protozero_version
                           "${_k8snetio_protozero_version}")
    endif()
    if(_k8snetio_protozero_version AND NOT _k8snetio_protozero_version VERSION_LESS
                                       K8SNETIO_PROTOZERO_MIN_VERSION)
      add_library(k8snetio_deps::protozero INTERFACE IMPORTED)
      set_target_properties(k8snetio_deps::protozero PROPERTIES INTERFACE_INCLUDE_DIRECTORIES
                                                                "${K8SNETIO_PROTOZERO_INCLUDE_DIR}")
    else()
      _k8snetio_missing_dependency(
        "protozero ${K8SNETIO_PROTOZERO_MIN_VERSION} or newer (Debian: libprotozero-dev)")
    endif()
  endif()
endmacro()

macro(k8snetio_find_service)
  k8snetio_find_io()
  _k8snetio_require(Threads)
endmacro()

macro(k8snetio_find_server)
  k8snetio_find_service()
  _k8snetio_require(Boost ${K8SNETIO_BOOST_MIN_VERSION})
  _k8snetio_require(OpenSSL ${K8SNETIO_OPENSSL_MIN_VERSION})
  if(NOT TARGET k8snetio_deps::grpcpp)
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(K8SNETIO_GRPCPP QUIET grpc++>=${K8SNETIO_GRPCPP_MIN_VERSION})
    endif()
    if(K8SNETIO_GRPCPP_FOUND)
      add_library(k8snetio_deps::grpcpp INTERFACE IMPORTED)
      set_target_properties(
        k8snetio_deps::grpcpp
        PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${K8SNETIO_GRPCPP_INCLUDE_DIRS}"
                   INTERFACE_LINK_LIBRARIES "${K8SNETIO_GRPCPP_LINK_LIBRARIES}"
                   INTERFACE_COMPILE_OPTIONS "${K8SNETIO_GRPCPP_CFLAGS_OTHER}")
    else()
      _k8snetio_missing_dependency(
        "gRPC++ ${K8SNETIO_GRPCPP_MIN_VERSION} or newer (grpc++.pc; Debian: libgrpc++-dev)")
    endif()
  endif()
endmacro()
