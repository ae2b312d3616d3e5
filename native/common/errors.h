// Error types shared by every kernel. Kernels are plain C++ (no napi.h: they build and run without
// Node) and report bad input by throwing these; bindings convert them to the matching JavaScript
// error class through napi_errors.h, so no C++ exception ever reaches the N-API boundary as an abort.
#pragma once
#include <stdexcept>

namespace hotpath {

struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace hotpath
