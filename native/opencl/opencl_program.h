// OpenCL programs and kernels (N-API entry points registered by opencl_binding.cc).
#pragma once
#include <napi.h>

namespace hotpath::opencl {

Napi::Value BuildProgram(const Napi::CallbackInfo& info);
Napi::Value CreateKernel(const Napi::CallbackInfo& info);

}  // namespace hotpath::opencl
