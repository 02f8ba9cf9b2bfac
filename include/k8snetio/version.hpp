// The library's version, kept equal to the CMake project version.
#pragma once

#define K8SNETIO_VERSION_MAJOR 0
#define K8SNETIO_VERSION_MINOR 1
#define K8SNETIO_VERSION_PATCH 0

namespace k8snetio {
inline constexpr const char* version_string = "0.1.0";
}  // namespace k8snetio
