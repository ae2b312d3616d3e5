// N-API surface of the native memory accounting in native/common/memory.h: the live and peak
// byte counts that memory profiles sample.
#include "memprof_binding.h"

#include "../common/napi_errors.h"
#include "../common/napi_memory.h"
#include "../common/typed_array.h"

namespace hotpath::memprof {
namespace {

Napi::Value NativeMemory(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(memory::LiveBytes()));
}

// The high-water mark since the previous call, which starts the next interval from the live total.
Napi::Value TakeNativePeak(const Napi::CallbackInfo& info) {
  const double peak = static_cast<double>(memory::PeakBytes());
  memory::ResetPeak();
  return Napi::Number::New(info.Env(), peak);
}

// A tracked Float64Array of the given length: lets the test suite and the demo check the
// accounting end to end (counter, V8 external memory, release on GC). Not public API.
Napi::Value TrackedFloat64Array(const Napi::CallbackInfo& info) {
  const uint32_t length = RequireUint32(info[0], "length", 0, UINT32_MAX);
  return memory::NewFloat64Array(info.Env(), length);
}

}  // namespace

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("nativeMemory", Napi::Function::New<Guarded<NativeMemory>>(env, "nativeMemory"));
  exports.Set("takeNativePeak", Napi::Function::New<Guarded<TakeNativePeak>>(env, "takeNativePeak"));
  exports.Set("trackedFloat64Array", Napi::Function::New<Guarded<TrackedFloat64Array>>(env, "trackedFloat64Array"));
}

}  // namespace hotpath::memprof
