// The bindings' side of memory.h: tracked allocations that are also reported to V8 through an env
// (napi_adjust_external_memory), so the garbage collector feels their pressure and they show in
// process.memoryUsage().external. Only bindings include this.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <new>

#include "errors.h"
#include "memory.h"

namespace hotpath::memory {

// A fixed-size array of T for a kernel's temporaries: counted, and reported to V8 through the env
// it was created with. Create and destroy it on the JavaScript thread (an AsyncWorker member is);
// worker threads may read and write its elements in between.
template <typename T>
class Scratch {
 public:
  Scratch(napi_env env, size_t count) : env_(env), count_(count) {
    if (count_ > SIZE_MAX / sizeof(T)) throw std::bad_alloc();
    data_ = static_cast<T*>(Allocate(Bytes()));
    for (size_t i = 0; i < count_; ++i) new (data_ + i) T();
    napi_adjust_external_memory(env_, static_cast<int64_t>(Bytes()), nullptr);
  }
  ~Scratch() {
    for (size_t i = 0; i < count_; ++i) data_[i].~T();
    Release(data_, Bytes());
    napi_adjust_external_memory(env_, -static_cast<int64_t>(Bytes()), nullptr);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  T& operator[](size_t i) { return data_[i]; }
  size_t size() const { return count_; }

 private:
  size_t Bytes() const { return count_ * sizeof(T); }

  napi_env env_;
  size_t count_;
  T* data_ = nullptr;
};

// A Float64Array (zero-filled) whose storage is a tracked allocation, released when the garbage
// collector finalizes it: the way a kernel returns a large result it computed natively.
inline Napi::Float64Array NewFloat64Array(Napi::Env env, size_t length) {
  // Node 20 refuses external ArrayBuffers over 4 GiB (buffer.constants.MAX_LENGTH), and by then it has already
  // run the finalizer: node-addon-api then frees its finalizer data a second time (an abort found by the fuzzer).
  // So the size is checked before anything is allocated.
  constexpr size_t kMaxBytes = size_t{1} << 32;
  if (length > kMaxBytes / sizeof(double)) {
    throw RangeError("a native Float64Array holds at most 2^29 elements (4 GiB)");
  }
  const size_t bytes = length * sizeof(double);
  void* data = Allocate(bytes);
  Napi::ArrayBuffer buffer;
  try {
    buffer = Napi::ArrayBuffer::New(env, data, bytes, [bytes](Napi::Env finalizeEnv, void* finalized) {
      Release(finalized, bytes);
      Napi::MemoryManagement::AdjustExternalMemory(finalizeEnv, -static_cast<int64_t>(bytes));
    });
  } catch (...) {
    Release(data, bytes);
    throw;
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
  return Napi::Float64Array::New(env, length, buffer, 0);
}

}  // namespace hotpath::memory
