#pragma once
#include <napi.h>

namespace hotpath::expr {
// exprEvaluateNd / exprEvaluateNdAsync (ndarray_binding.cc).
void RegisterNd(Napi::Env env, Napi::Object exports);
}  // namespace hotpath::expr
