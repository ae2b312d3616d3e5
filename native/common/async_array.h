// Typed-array memory for work that outlives the call (AsyncWorkers, OpenCL commands). A napi
// reference keeps an ArrayBuffer from being collected but not from being detached (transferred to
// an owner that is then collected) or shrunk (resizable buffers), so native threads never touch an
// ordinary ArrayBuffer after the call returns: an input is copied into native memory during the
// call, an output is computed in native memory and copied into the array on the JavaScript thread
// once the work is done, after checking the array is still attached and long enough. A
// SharedArrayBuffer can be neither detached nor shrunk (growable ones only grow), so it is used in
// place, zero-copy, while the reference keeps it alive.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "errors.h"
#include "memory.h"
#include "typed_array.h"

namespace hotpath {

class AsyncArray {
 public:
  enum class Use { kInput, kOutput };
  // Where the data may live: kStaged forces native memory even for a SharedArrayBuffer (OpenCL
  // commands can outlive a worker's environment, and with it the last owner of the buffer).
  enum class Placement { kSharedInPlace, kStaged };

  // `view` is the array as the call read it (ReadTypedArray).
  AsyncArray(const TypedArrayView& view, Use use, std::string name, Placement placement = Placement::kSharedInPlace)
      : array_(Napi::Persistent(Napi::Object(view.env, view.value))),
        use_(use),
        name_(std::move(name)),
        bytes_(view.byteLength) {
    if (placement == Placement::kSharedInPlace && view.IsShared()) {
      data_ = view.data;
      return;
    }
    staged_ = static_cast<uint8_t*>(memory::TakeStaging(bytes_));
    data_ = staged_;
    if (use_ == Use::kInput && bytes_ > 0) std::memcpy(staged_, view.data, bytes_);
  }
  ~AsyncArray() {
    if (staged_ != nullptr) memory::GiveStaging(staged_, bytes_);
  }
  AsyncArray(const AsyncArray&) = delete;
  AsyncArray& operator=(const AsyncArray&) = delete;

  // The memory native threads read or write until the work is done.
  void* Data() const { return bytes_ == 0 ? nullptr : data_; }
  size_t ByteLength() const { return bytes_; }
  Napi::Object Array() const { return array_.Value(); }

  // JavaScript thread, after the work: copies a staged output into the array. Throws a TypeError
  // when the array was detached meanwhile, a RangeError when it shrank below the result.
  void Deliver() const {
    if (use_ != Use::kOutput || staged_ == nullptr || bytes_ == 0) return;
    const TypedArrayView view = ReadTypedArray(array_.Value(), name_);
    if (view.IsDetached()) throw TypeError(name_ + " was detached before the result could be written into it");
    if (view.byteLength < bytes_) {
      throw RangeError(name_ + " shrank to " + std::to_string(view.byteLength) + " bytes before the " +
                       std::to_string(bytes_) + "-byte result could be written into it");
    }
    std::memcpy(view.data, staged_, bytes_);
  }

  // Teardown: the environment that owns the reference is gone, so it must not be released.
  void Abandon() { array_.SuppressDestruct(); }

 private:
  Napi::ObjectReference array_;
  Use use_;
  std::string name_;
  size_t bytes_ = 0;
  void* data_ = nullptr;
  uint8_t* staged_ = nullptr;
};

}  // namespace hotpath
