#pragma once
#include <napi.h>

#include <string>

#include "expr_kernel.h"

namespace hotpath::expr {
void Register(Napi::Env env, Napi::Object exports);
// The VM's element kind of a typed-array input; TypeError naming `name` for other array types, or for a
// non-float32 array when the program computes in float32. Shared by exprEvaluate and exprEvaluateNd.
InputKind ArrayInputKind(napi_typedarray_type type, const std::string& name, bool float32);
}  // namespace hotpath::expr
