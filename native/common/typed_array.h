// Validated views of JavaScript typed arrays. Every binding goes through these before touching
// memory, so a wrong type or a detached buffer becomes a TypeError instead of a bad read.
#pragma once
#include <napi.h>
#include <cstddef>
#include <string>
#include "errors.h"

namespace hotpath {

// A float64 or float32 array as the kernels see it: a base pointer, its element count and kind.
struct FloatSpan {
  const void* data = nullptr;
  size_t length = 0;
  bool isFloat32 = false;
};

inline FloatSpan RequireFloatArray(const Napi::Value& value, const char* argName) {
  if (!value.IsTypedArray()) {
    throw TypeError(std::string(argName) + " must be a Float64Array or Float32Array");
  }
  auto array = value.As<Napi::TypedArray>();
  napi_typedarray_type type = array.TypedArrayType();
  if (type != napi_float64_array && type != napi_float32_array) {
    throw TypeError(std::string(argName) + " must be a Float64Array or Float32Array");
  }
  FloatSpan span;
  span.isFloat32 = type == napi_float32_array;
  // napi_get_typedarray_info, not Napi::ArrayBuffer: the latter rejects SharedArrayBuffer-backed
  // arrays (napi_get_arraybuffer_info fails on them), which worker threads share.
  void* data = nullptr;
  napi_status status = napi_get_typedarray_info(value.Env(), array, nullptr, &span.length, &data, nullptr, nullptr);
  if (status != napi_ok) throw TypeError(std::string(argName) + " could not be read as a typed array");
  if (span.length > 0 && data == nullptr) {
    throw TypeError(std::string(argName) + " is backed by a detached ArrayBuffer");
  }
  span.data = span.length == 0 ? nullptr : data;
  return span;
}

inline uint32_t RequireUint32(const Napi::Value& value, const char* argName, uint32_t min, uint32_t max) {
  if (!value.IsNumber()) throw TypeError(std::string(argName) + " must be a number");
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= min && number <= max) || number != static_cast<double>(static_cast<uint32_t>(number))) {
    throw RangeError(std::string(argName) + " must be an integer in [" + std::to_string(min) + ", " +
                     std::to_string(max) + "]");
  }
  return static_cast<uint32_t>(number);
}

}  // namespace hotpath
