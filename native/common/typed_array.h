// The one way bindings read a JavaScript typed array: type check, element kind, byte offset and
// length, data pointer, SharedArrayBuffer detection, all from one napi_get_typedarray_info call, so
// a wrong type becomes a TypeError naming the argument instead of a bad read. Work that outlives
// the call holds the array through async_array.h, built on this reader.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "errors.h"

namespace hotpath {

// Bytes per element of a typed array kind.
inline size_t ElementSize(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    default: return 8;
  }
}

// A typed array as one call sees it. A detached buffer reads as an empty array (V8 reports length 0
// and no data), so it is never read; async work that must notice a detach later uses AsyncArray.
struct TypedArrayView {
  napi_env env = nullptr;
  napi_value value = nullptr;   // the typed array itself
  napi_value buffer = nullptr;  // its ArrayBuffer or SharedArrayBuffer
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;      // elements
  size_t byteOffset = 0;  // into the buffer
  size_t byteLength = 0;
  void* data = nullptr;  // first element; null when empty

  // Backed by a SharedArrayBuffer, which can be neither detached nor shrunk. Napi::TypedArray's
  // ArrayBuffer() fails on those (napi_get_arraybuffer_info rejects them), and worker threads share
  // memory that way, so everything here reads the typed array itself.
  bool IsShared() const {
    bool isArrayBuffer = true;
    napi_is_arraybuffer(env, buffer, &isArrayBuffer);
    return !isArrayBuffer;
  }
  // The buffer was detached (transferred away). Reads as empty, like any array whose buffer shrank.
  bool IsDetached() const {
    bool detached = false;
    napi_is_detached_arraybuffer(env, buffer, &detached);
    return detached;
  }
  template <typename T>
  T* Data() const {
    return static_cast<T*>(data);
  }
};

// Reads `value` into `view`; false when it is not a typed array. Throws a TypeError naming the
// argument when V8 cannot describe it (a backstop: it always can).
inline bool TryReadTypedArray(const Napi::Value& value, std::string_view name, TypedArrayView* view) {
  view->env = value.Env();
  view->value = value;
  bool isTypedArray = false;
  if (napi_is_typedarray(view->env, value, &isTypedArray) != napi_ok || !isTypedArray) return false;
  if (napi_get_typedarray_info(view->env, value, &view->type, &view->length, &view->data, &view->buffer,
                               &view->byteOffset) != napi_ok) {
    throw TypeError(std::string(name) + " could not be read as a typed array");
  }
  if (view->length > 0 && view->data == nullptr) {
    throw TypeError(std::string(name) + " is backed by a detached ArrayBuffer");
  }
  if (view->length == 0) view->data = nullptr;
  view->byteLength = view->length * ElementSize(view->type);
  return true;
}

// Reads `value` as a typed array of one of `kinds` (any kind when empty), or throws a TypeError
// "<name> must be <expected>".
inline TypedArrayView ReadTypedArray(const Napi::Value& value, std::string_view name,
                                     std::initializer_list<napi_typedarray_type> kinds = {},
                                     const char* expected = "a typed array") {
  TypedArrayView view;
  bool accepted = TryReadTypedArray(value, name, &view);
  if (accepted && kinds.size() > 0) {
    accepted = false;
    for (napi_typedarray_type kind : kinds) accepted = accepted || kind == view.type;
  }
  if (!accepted) throw TypeError(std::string(name) + " must be " + expected);
  return view;
}

// A float64 or float32 array as the kernels see it: a base pointer, its element count and kind.
struct FloatSpan {
  const void* data = nullptr;
  size_t length = 0;
  bool isFloat32 = false;

  static FloatSpan Of(const TypedArrayView& view) { return {view.data, view.length, view.type == napi_float32_array}; }
};

inline TypedArrayView ReadFloatArray(const Napi::Value& value, std::string_view name) {
  return ReadTypedArray(value, name, {napi_float64_array, napi_float32_array}, "a Float64Array or Float32Array");
}

inline FloatSpan RequireFloatArray(const Napi::Value& value, const char* argName) {
  return FloatSpan::Of(ReadFloatArray(value, argName));
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
