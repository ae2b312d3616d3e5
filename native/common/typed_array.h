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

// First element of a typed array (null when empty), for plain and SharedArrayBuffer-backed arrays
// alike: Napi::TypedArray::ArrayBuffer() fails on the latter (napi_get_arraybuffer_info rejects a
// SharedArrayBuffer), and worker threads share memory that way.
inline void* TypedArrayData(const Napi::TypedArray& array, const std::string& name) {
  void* data = nullptr;
  size_t length = 0;
  if (napi_get_typedarray_info(array.Env(), array, nullptr, &length, &data, nullptr, nullptr) != napi_ok) {
    throw TypeError(name + " could not be read as a typed array");
  }
  if (length > 0 && data == nullptr) throw TypeError(name + " is backed by a detached ArrayBuffer");
  return length == 0 ? nullptr : data;
}

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
  span.length = array.ElementLength();
  span.data = TypedArrayData(array, argName);
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
