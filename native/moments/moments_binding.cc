// N-API surface of the moments kernel: a partial over one typed array, synchronously or on worker
// threads. Merging partials, policies and statistics live in TypeScript (src/moments).
#include "moments_binding.h"

#include <algorithm>
#include <exception>
#include <vector>

#include "../common/async_array.h"
#include "../common/napi_errors.h"
#include "../common/promise_worker.h"
#include "../common/napi_memory.h"
#include "../common/thread_pool.h"
#include "../common/typed_array.h"
#include "moments_kernel.h"

namespace hotpath::moments {
namespace {

constexpr size_t kPartialFields = 9;

Napi::Float64Array ToJs(Napi::Env env, const Partial& p) {
  auto out = Napi::Float64Array::New(env, kPartialFields);
  const double fields[kPartialFields] = {p.n, p.shift, p.mean, p.m2, p.m3, p.m4, p.min, p.max, p.nanCount};
  std::copy(fields, fields + kPartialFields, out.Data());
  return out;
}

Partial AccumulateSpan(const FloatSpan& span, size_t begin, size_t end, NanPolicy policy) {
  if (span.isFloat32) {
    return Accumulate(static_cast<const float*>(span.data) + begin, end - begin, policy, begin);
  }
  return Accumulate(static_cast<const double*>(span.data) + begin, end - begin, policy, begin);
}

NanPolicy RequirePolicy(const Napi::Value& value) {
  return static_cast<NanPolicy>(RequireUint32(value, "nanPolicy", 0, 2));
}

// A plain four-lane sum: the streaming bound the benchmark compares the moments kernel with.
Napi::Value FloatSum(const Napi::CallbackInfo& info) {
  FloatSpan span = RequireFloatArray(info[0], "values");
  double s[4] = {0, 0, 0, 0};
  const size_t body = span.length - span.length % 4;
  if (span.isFloat32) throw TypeError("values must be a Float64Array");
  const double* x = static_cast<const double*>(span.data);
  for (size_t i = 0; i < body; i += 4) {
    for (int l = 0; l < 4; ++l) s[l] += x[i + l];
  }
  for (size_t i = body; i < span.length; ++i) s[0] += x[i];
  return Napi::Number::New(info.Env(), (s[0] + s[1]) + (s[2] + s[3]));
}

Napi::Value PartialSync(const Napi::CallbackInfo& info) {
  FloatSpan span = RequireFloatArray(info[0], "values");
  NanPolicy policy = RequirePolicy(info[1]);
  return ToJs(info.Env(), AccumulateSpan(span, 0, span.length, policy));
}

// Threads actually used: no more than there are blocks, and at least one.
size_t WorkerCount(size_t length, uint32_t threads) {
  const size_t blocks = (length + kBlock - 1) / kBlock;
  return std::max<size_t>(1, std::min<size_t>(threads, blocks));
}

// Splits the array into per-thread chunks on block boundaries (so every thread runs the same
// block decomposition as the synchronous path) and merges the chunk partials in order.
class PartialWorker : public PromiseWorker {
 public:
  PartialWorker(Napi::Env env, const TypedArrayView& values, NanPolicy policy, uint32_t threads)
      : PromiseWorker(env, "hotpath.moments"),
        values_(values, AsyncArray::Use::kInput, "values"),
        span_(FloatSpan::Of(values)),
        policy_(policy),
        threads_(threads),
        slots_(env, WorkerCount(values.length, threads)) {
    span_.data = values_.Data();
  }

 protected:
  void Compute() override {
    const size_t blocks = (span_.length + kBlock - 1) / kBlock;
    const size_t workers = slots_.size();
    const size_t blocksPerWorker = (blocks + workers - 1) / workers;
    auto run = [&](size_t w) {
      const size_t begin = std::min(span_.length, w * blocksPerWorker * kBlock);
      const size_t end = std::min(span_.length, (w + 1) * blocksPerWorker * kBlock);
      try {
        slots_[w].partial = AccumulateSpan(span_, begin, end, policy_);
      } catch (...) {
        slots_[w].error = std::current_exception();
      }
    };
    ParallelFor(workers, threads_, run);
    for (size_t w = 0; w < workers; ++w) {
      if (slots_[w].error) std::rethrow_exception(slots_[w].error);
      result_ = Merge(result_, slots_[w].partial);
    }
  }

  Napi::Value Result(Napi::Env env) override { return ToJs(env, result_); }

 private:
  AsyncArray values_;  // what the worker threads read: a copy, or a SharedArrayBuffer in place
  FloatSpan span_;
  NanPolicy policy_;
  uint32_t threads_;
  // One result slot per thread, allocated here on the JavaScript thread through the tracked
  // allocator so the native memory accounting sees the worker's scratch.
  struct Slot {
    Partial partial;
    std::exception_ptr error;
  };
  memory::Scratch<Slot> slots_;
  Partial result_;
};

Napi::Value PartialAsync(const Napi::CallbackInfo& info) {
  const TypedArrayView values = ReadFloatArray(info[0], "values");
  NanPolicy policy = RequirePolicy(info[1]);
  uint32_t threads = RequireUint32(info[2], "threads", 1, 1024);
  return PromiseWorker::Start(new PartialWorker(info.Env(), values, policy, threads));
}

}  // namespace

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("momentsPartial", Napi::Function::New<Guarded<PartialSync>>(env, "momentsPartial"));
  exports.Set("floatSum", Napi::Function::New<Guarded<FloatSum>>(env, "floatSum"));
  exports.Set("momentsPartialAsync", Napi::Function::New<Guarded<PartialAsync>>(env, "momentsPartialAsync"));
}

}  // namespace hotpath::moments
