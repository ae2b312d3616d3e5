// Native memory accounting shared by every kernel. Each allocation a kernel makes through these
// helpers is added to one process-wide counter (all threads and worker environments), which
// hotpath.nativeMemory() reads and memory profiles include. Allocations made with an env are also
// reported to V8 (AdjustExternalMemory), so the garbage collector feels their pressure and they
// show in process.memoryUsage().external.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <new>

namespace hotpath::memory {

// Bytes held by tracked allocations right now.
int64_t LiveBytes();
// The highest LiveBytes() since the last ResetPeak(): catches allocations that come and go
// between two samples, or inside a synchronous call no JavaScript timer can interrupt.
int64_t PeakBytes();
void ResetPeak();

// Counted malloc/free, safe on any thread. Allocate throws std::bad_alloc (Guarded turns it into a
// RangeError). Release must get the byte count that was allocated.
void* Allocate(size_t bytes);
void Release(void* data, size_t bytes);

// Staging blocks for async work (AsyncArray): like Allocate/Release, but released blocks are kept
// for reuse by a later call of the same size, up to kStagingCacheBytes in all, so repeated async
// calls on large arrays don't pay the page faults of fresh memory each time (they cost more than
// the copy). Contents of a reused block are stale: callers overwrite every byte. Cached blocks are
// not counted in LiveBytes().
constexpr size_t kStagingCacheBytes = size_t{256} << 20;
void* TakeStaging(size_t bytes);
void GiveStaging(void* data, size_t bytes);

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
Napi::Float64Array NewFloat64Array(Napi::Env env, size_t length);

}  // namespace hotpath::memory
