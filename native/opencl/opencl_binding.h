// N-API surface of hotpath's OpenCL layer (see src/opencl for the public TypeScript API).
#pragma once
#include <napi.h>

namespace hotpath::opencl {

void Register(Napi::Env env, Napi::Object exports);

}  // namespace hotpath::opencl
