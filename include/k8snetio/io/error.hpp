// The readers' and loaders' errors are the library's one error type (A6, ../error.hpp); these
// names keep the io:: spellings working.
#pragma once

#include "../error.hpp"

namespace k8snetio::io {

using k8snetio::error_code;
using k8snetio::make_error;
using k8snetio::result;
using k8snetio::to_string;
using input_error = k8snetio::error;

}  // namespace k8snetio::io
