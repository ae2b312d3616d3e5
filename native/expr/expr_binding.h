#pragma once
#include <napi.h>

#include <string>

#include "../common/typed_array.h"
#include "expr_kernel.h"

namespace hotpath::expr {
void Register(Napi::Env env, Napi::Object exports);
// Shared by exprEvaluate and exprEvaluateNd. Where an array input read by a register of `kind` comes from;
// TypeError naming `name` for an array type that kind does not read.
Source RequireSource(const TypedArrayView& array, Kind kind, const std::string& name);
// A number (float64, or bool 0/1) or bigint (int64) input as the raw bits of a scalar of `kind` (TypeError or
// RangeError naming `name` when it is not one of that kind); false for any other value.
bool ReadScalar(const Napi::Value& value, Kind kind, const std::string& name, uint64_t* bits);
}  // namespace hotpath::expr
