// N-API surface of the count-min kernel. The sketch's counters live in a JavaScript-owned
// Uint32Array (u64 counters as little-endian pairs), so both backends share one state layout and
// serialization; each call validates every argument before it touches the counters, and a batch
// is checked whole before the first update so a bad element leaves the sketch unchanged.
#include "countmin_binding.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../common/napi_errors.h"
#include "../common/thread_pool.h"
#include "../common/typed_array.h"
#include "countmin_kernel.h"

namespace hotpath::countmin {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

template <typename T>
struct Span {
  T* data = nullptr;
  size_t length = 0;
};

// A typed array of one element type, or a TypeError naming the argument (TryReadTypedArray: one
// napi_get_typedarray_info call, as this runs on every call of update() in a loop). A detached buffer
// reads as empty and is never read.
template <typename T>
Span<T> RequireArray(const Napi::Value& value, napi_typedarray_type type, const char* typeName, const char* argName) {
  TypedArrayView view;
  if (!TryReadTypedArray(value, argName, &view) || view.type != type) {
    throw TypeError(std::string(argName) + " must be a " + typeName);
  }
  return Span<T>{view.Data<T>(), view.length};
}

struct Sketch {
  Shape shape;
  bool wide = false;  // u64 counters
  void* counters = nullptr;
};

// counters: Uint32Array; shape: Uint32Array [width, depth, seedLo, seedHi, wide, conservative].
Sketch RequireSketch(const Napi::Value& countersValue, const Napi::Value& shapeValue) {
  auto shape = RequireArray<uint32_t>(shapeValue, napi_uint32_array, "Uint32Array", "shape");
  if (shape.length != 6) throw RangeError("shape must have 6 elements");
  Sketch s;
  s.shape.width = shape.data[0];
  s.shape.depth = shape.data[1];
  s.shape.seed = (static_cast<uint64_t>(shape.data[3]) << 32) | shape.data[2];
  if (s.shape.width < 1 || s.shape.depth < 1) throw RangeError("width and depth must be >= 1");
  if (shape.data[4] > 1 || shape.data[5] > 1) throw RangeError("shape flags must be 0 or 1");
  s.wide = shape.data[4] == 1;
  s.shape.conservative = shape.data[5] == 1;
  auto counters = RequireArray<uint32_t>(countersValue, napi_uint32_array, "Uint32Array", "counters");
  const size_t cells = static_cast<size_t>(s.shape.width) * s.shape.depth;
  if (counters.length != cells * (s.wide ? 2 : 1)) throw RangeError("counters length does not match width * depth");
  if (s.wide && reinterpret_cast<uintptr_t>(counters.data) % alignof(uint64_t) != 0) {
    throw RangeError("u64 counters must be 8-byte aligned");
  }
  s.counters = counters.data;
  return s;
}

// Where a batch of keys is read to: one block, kept for the next batch (no allocation and page faults per call)
// unless a batch of long keys grew it past kKeep.
class BatchStorage {
 public:
  char* Reserve(size_t size) {
    if (size > size_) {
      const size_t grown = std::max(size, std::min(2 * size_, kKeep));
      block_.reset(new char[grown]);
      size_ = grown;
    }
    return block_.get();
  }
  void Trim() {
    if (size_ > kKeep) {
      block_.reset();
      size_ = 0;
    }
  }

  std::vector<uint32_t> offsets;      // a copy of the batch's offsets, when the batch outlives the call
  std::vector<uint32_t> byteOffsets;  // the UTF-8 offsets of a batch read as UTF-16

 private:
  static constexpr size_t kKeep = size_t{1} << 23;
  std::unique_ptr<char[]> block_;
  size_t size_ = 0;
};

// The keys of one batch as UTF-8 bytes plus byte offsets. Bytes arrive as they are. A string (many keys joined,
// with UTF-16 offsets: the cheap way to pass strings across N-API) is read one of two ways: V8 writes it as UTF-8
// in one call, which for ASCII (the common case) is a copy whose UTF-16 offsets are byte offsets; else V8 copies
// its UTF-16 units and Encode() writes each key's UTF-8 (unpaired surrogates as U+FFFD, each key encoded alone).
// Batches of one stream are alike, so each thread reads a batch the way the last one it encoded needed (in a
// pipeline, the one before the last: the preference only saves work, never changes a result).
class KeyBatch {
 public:
  // copy: the batch is used after the call returns (a pipeline stage), so its bytes and offsets are copied too.
  KeyBatch(const Napi::Value& keys, const Napi::Value& offsetsValue, BatchStorage& storage, bool copy)
      : storage_(storage) {
    auto offsets = RequireArray<uint32_t>(offsetsValue, napi_uint32_array, "Uint32Array", "offsets");
    if (offsets.length < 1) throw RangeError("offsets must have at least one element");
    count_ = offsets.length - 1;
    offsets_ = offsets.data;
    if (copy) {
      storage.offsets.assign(offsets.data, offsets.data + offsets.length);
      offsets_ = storage.offsets.data();
    }
    for (size_t i = 0; i < count_; ++i) {
      if (offsets_[i] > offsets_[i + 1]) throw RangeError("offsets must be non-decreasing");
    }
    if (!keys.IsString()) {
      auto bytes = RequireArray<uint8_t>(keys, napi_uint8_array, "Uint8Array or string", "keys");
      if (offsets_[count_] > bytes.length) throw RangeError("offsets run past the end of keys");
      bytes_ = bytes.data;
      if (copy) {
        const size_t used = offsets_[count_];
        char* copied = storage.Reserve(std::max<size_t>(used, 1));
        if (used > 0) std::memcpy(copied, bytes.data, used);
        bytes_ = reinterpret_cast<const uint8_t*>(copied);
      }
      return;
    }
    if (preferUtf16 || !ReadAscii(keys)) ReadUtf16(keys);
  }

  ~KeyBatch() { storage_.Trim(); }
  KeyBatch(const KeyBatch&) = delete;
  KeyBatch& operator=(const KeyBatch&) = delete;

  size_t size() const { return count_; }

  // The keys as UTF-8, encoding a batch read as UTF-16 first. No N-API: runs on any thread.
  Keys Encode() {
    if (units_ != nullptr) {
      const size_t written = EncodeKeysUtf8(units_, offsets_, count_, utf8_, storage_.byteOffsets.data(), scratch_);
      ascii_ = written == offsets_[count_] - offsets_[0];
      bytes_ = utf8_;
      offsets_ = storage_.byteOffsets.data();
      units_ = nullptr;
    }
    return Keys{bytes_, offsets_, count_};
  }

  // On the thread that read the batch, after Encode(): a batch read as UTF-16 that was all ASCII sends the next
  // one back to ReadAscii.
  void RememberReadPath() const {
    if (ascii_) preferUtf16 = false;
  }

 private:
  size_t Units(const Napi::Value& keys) const {
    size_t units = 0;
    napi_env env = keys.Env();
    NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf16(env, keys, nullptr, 0, &units), 0);
    if (offsets_[count_] > units) throw RangeError("offsets run past the end of keys");
    return units;
  }

  // V8's UTF-8 of the whole batch. False, with nothing read, when it is not ASCII (then this thread's next
  // batches go through ReadUtf16 too).
  bool ReadAscii(const Napi::Value& keys) {
    const size_t units = Units(keys);
    napi_env env = keys.Env();
    // Any UTF-16 unit takes at most 3 bytes of UTF-8 (a surrogate pair 4 for 2 units), plus the terminating NUL:
    // V8 writes whole characters only, so a smaller buffer could end a non-ASCII batch at `units` bytes.
    char* utf8 = storage_.Reserve(units * 3 + 1);
    size_t written = 0;
    NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, keys, utf8, units * 3 + 1, &written), false);
    // Every unit takes at least one byte, exactly one when it is ASCII: as many bytes as units means all ASCII.
    if (written != units) {
      preferUtf16 = true;
      return false;
    }
    bytes_ = reinterpret_cast<const uint8_t*>(utf8);
    return true;
  }

  // The batch's UTF-16 units, for Encode().
  void ReadUtf16(const Napi::Value& keys) {
    size_t units = Units(keys);
    napi_env env = keys.Env();
    // 3 bytes a unit at most: a batch under 4 GiB of UTF-8 needs no check per key.
    if (units * 3 > UINT32_MAX) throw RangeError("a batch of keys must be under 4 GiB of UTF-8");
    // One block: the units (and V8's NUL), the encoder's scratch (4-byte aligned), then room for 3 bytes of UTF-8
    // per unit and the 16-byte store past the last.
    const size_t unitBytes = ((units + 1) * 2 + 3) & ~size_t{3};
    const size_t scratchBytes = (units / 4 + 4) * 4;
    char* block = storage_.Reserve(unitBytes + scratchBytes + units * 3 + 16);
    auto* u16 = reinterpret_cast<char16_t*>(block);
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf16(env, keys, u16, units + 1, &units));
    units_ = u16;
    scratch_ = reinterpret_cast<uint32_t*>(block + unitBytes);
    utf8_ = reinterpret_cast<uint8_t*>(block + unitBytes + scratchBytes);
    storage_.byteOffsets.resize(count_ + 1);
  }

  // How this thread's last batch of strings needed to be read.
  static thread_local bool preferUtf16;

  BatchStorage& storage_;
  size_t count_ = 0;
  const uint8_t* bytes_ = nullptr;
  const uint32_t* offsets_ = nullptr;
  // Set by ReadUtf16 until Encode().
  const char16_t* units_ = nullptr;
  uint32_t* scratch_ = nullptr;
  uint8_t* utf8_ = nullptr;
  bool ascii_ = false;  // Encode() found a batch read as UTF-16 all ASCII
};

thread_local bool KeyBatch::preferUtf16 = false;

// The storage of the batches a thread reads within one call.
BatchStorage& CallStorage() {
  thread_local BatchStorage storage;
  return storage;
}

// A KeyBatch read for use within the call, encoded.
class CallKeys {
 public:
  CallKeys(const Napi::Value& keys, const Napi::Value& offsets) : batch_(keys, offsets, CallStorage(), false) {
    keys_ = batch_.Encode();
    batch_.RememberReadPath();
  }
  size_t size() const { return keys_.count; }
  const Keys& keys() const { return keys_; }

 private:
  KeyBatch batch_;
  Keys keys_;
};

Span<double> OptionalFloat64(const Napi::Value& value, size_t expected, const char* argName) {
  if (value.IsNull() || value.IsUndefined()) return {};
  auto span = RequireArray<double>(value, napi_float64_array, "Float64Array", argName);
  if (span.length != expected) throw RangeError(std::string(argName) + " must have one element per key");
  return span;
}

double EstimateHash(const Sketch& s, uint64_t h) {
  return s.wide ? static_cast<double>(Estimate(static_cast<const uint64_t*>(s.counters), s.shape, h))
                : static_cast<double>(Estimate(static_cast<const uint32_t*>(s.counters), s.shape, h));
}

// The counts of a batch of `size` keys (null: all 1), each a safe integer, >= 0 for a conservative sketch.
Span<double> RequireCounts(const Napi::Value& value, size_t size, const Sketch& s) {
  Span<double> counts = OptionalFloat64(value, size, "counts");
  for (size_t i = 0; i < counts.length; ++i) {
    const double c = counts.data[i];
    if (!(std::fabs(c) <= kMaxSafeInteger) || c != std::trunc(c)) {
      throw RangeError("counts[" + std::to_string(i) + "] must be a safe integer");
    }
    if (s.shape.conservative && c < 0) {
      throw RangeError("counts[" + std::to_string(i) + "] must be >= 0 with conservative update");
    }
  }
  return counts;
}

// countminUpdate(counters, shape, keys, offsets, counts | null, estimatesOut | null)
Napi::Value UpdateKeys(const Napi::CallbackInfo& info) {
  Sketch s = RequireSketch(info[0], info[1]);
  CallKeys keys(info[2], info[3]);
  Span<double> counts = RequireCounts(info[4], keys.size(), s);
  Span<double> estimates = OptionalFloat64(info[5], keys.size(), "estimates");
  if (s.wide) {
    UpdateMany(static_cast<uint64_t*>(s.counters), s.shape, keys.keys(), counts.data, estimates.data);
  } else {
    UpdateMany(static_cast<uint32_t*>(s.counters), s.shape, keys.keys(), counts.data, estimates.data);
  }
  return info.Env().Undefined();
}

// updateMany over many batches, pipelined: a pool thread encodes and hashes batch i while JavaScript packs batch
// i + 1 (both cost about as much), and the calling thread adds batch i to the counters when it passes batch i + 1 or
// finishes, in order (a conservative sketch's counters depend on it), writing its estimates if asked. No other thread
// touches JavaScript memory: each batch and its counts are copied in, the hashes are used here. Two stages, one
// being read while the other is hashed.
class HashPipeline {
 public:
  // withEstimates: every batch's estimates after its update are written out, each when it is added.
  explicit HashPipeline(bool withEstimates) : withEstimates_(withEstimates) {}

  // Reads the batch and its counts, adds the batch in flight to s's counters (its estimates to inFlightEstimates),
  // then starts hashing this one.
  void Push(const Sketch& s, const Napi::Value& keys, const Napi::Value& offsets, const Napi::Value& counts,
            const Napi::Value& inFlightEstimates) {
    Stage& stage = stages_[next_];
    stage.batch.emplace(keys, offsets, stage.storage, true);
    const Span<double> checked = RequireCounts(counts, stage.batch->size(), s);
    stage.counts.assign(checked.data, checked.data + checked.length);
    stage.hashes.resize(stage.batch->size());
    stage.seed = s.shape.seed;
    stage.conservative = s.shape.conservative;
    // Plain increments commute: then the keys hash grouped by length, the byte path's faster order.
    stage.inOrder = s.shape.conservative || checked.data != nullptr || withEstimates_;
    Finish(&s, inFlightEstimates);
    task_.emplace([&stage, seed = s.shape.seed] {
      HashKeys(stage.batch->Encode(), seed, stage.inOrder, stage.hashes.data());
    });
    inFlight_ = &stage;
    next_ ^= 1;
  }

  // Adds the batch in flight to s's counters, writing its estimates to `estimates`; or drops it (s null).
  void Finish(const Sketch* s, const Napi::Value& estimates) {
    if (inFlight_ == nullptr) return;
    Stage& stage = *inFlight_;
    const size_t n = stage.hashes.size();
    Span<double> out;
    if (s != nullptr && withEstimates_) out = OptionalFloat64(estimates, n, "estimates");
    if (s != nullptr && withEstimates_ && out.data == nullptr && n > 0) {
      throw TypeError("estimates must be a Float64Array");
    }
    // Hashed with that sketch's seed, its counts checked against its update rule.
    if (s != nullptr && (s->shape.seed != stage.seed || s->shape.conservative != stage.conservative)) {
      throw RangeError("the batch in flight was hashed for another sketch");
    }
    inFlight_ = nullptr;
    task_->Join();
    stage.batch->RememberReadPath();
    stage.batch.reset();  // trims the stage's storage if a batch of long keys grew it
    if (s == nullptr) return;
    const double* counts = stage.counts.empty() ? nullptr : stage.counts.data();
    if (s->wide) {
      Add(static_cast<uint64_t*>(s->counters), s->shape, stage, counts, out.data);
    } else {
      Add(static_cast<uint32_t*>(s->counters), s->shape, stage, counts, out.data);
    }
  }

 private:
  struct Stage {
    BatchStorage storage;
    std::optional<KeyBatch> batch;
    std::vector<double> counts;  // empty: all 1
    std::vector<uint64_t> hashes;
    uint64_t seed = 0;
    bool conservative = false;
    bool inOrder = true;
  };

  template <typename Counter>
  static void Add(Counter* counters, const Shape& shape, const Stage& stage, const double* counts, double* estimates) {
    if (stage.inOrder) {
      UpdateHashes(counters, shape, stage.hashes.data(), stage.hashes.size(), counts, estimates);
    } else {
      AddHashes(counters, shape, stage.hashes.data(), stage.hashes.size());
    }
  }

  const bool withEstimates_;
  Stage stages_[2];
  size_t next_ = 0;
  Stage* inFlight_ = nullptr;
  std::optional<BackgroundTask> task_;  // last: destroyed (joined) before the stages it hashes
};

// A pipeline as JavaScript holds it: an External that owns it, type-tagged so that no other External passes for
// one. updateMany keeps it for the length of one call and closes it; one left behind by a script cut off mid-call
// without running its catch (a vm timeout, a worker's termination) is destroyed, its task joined, when the External
// is collected or its environment torn down. Nested calls (a getter on the keys array running another updateMany)
// each hold their own.
struct PipelineHandle {
  std::unique_ptr<HashPipeline> pipeline;  // null once closed
};

constexpr napi_type_tag kPipelineTag = {0x686f747061746863ULL, 0x6d696e7069706531ULL};  // "hotpathc" "minpipe1"

// The handle of an open pipeline, or a TypeError (not a pipeline handle) or RangeError (closed).
PipelineHandle& RequireOpenPipeline(const Napi::Value& value) {
  if (!value.IsExternal() || !value.As<Napi::External<PipelineHandle>>().CheckTypeTag(&kPipelineTag)) {
    throw TypeError("pipeline must be a pipeline handle");
  }
  PipelineHandle& handle = *value.As<Napi::External<PipelineHandle>>().Data();
  if (!handle.pipeline) throw RangeError("pipeline is not an open pipeline");
  return handle;
}

// countminPipelineOpen(estimates): a new pipeline for one updateMany call; estimates (a boolean): the calls pass an
// estimates array for each batch.
Napi::Value PipelineOpen(const Napi::CallbackInfo& info) {
  if (!info[0].IsBoolean()) throw TypeError("estimates must be a boolean");
  auto handle = std::make_unique<PipelineHandle>();
  handle->pipeline = std::make_unique<HashPipeline>(info[0].As<Napi::Boolean>().Value());
  auto external = Napi::External<PipelineHandle>::New(info.Env(), handle.get(),
                                                      [](Napi::Env, PipelineHandle* owned) { delete owned; });
  handle.release();  // the External's finalizer owns it now
  external.TypeTag(&kPipelineTag);
  return external;
}

// countminPipelinePush(pipeline, counters, shape, keys, offsets, counts | null, inFlightEstimates | null): the
// estimates array is the one of the batch pushed before (null for the first, and without estimates).
Napi::Value PipelinePush(const Napi::CallbackInfo& info) {
  HashPipeline& pipeline = *RequireOpenPipeline(info[0]).pipeline;
  pipeline.Push(RequireSketch(info[1], info[2]), info[3], info[4], info[5], info[6]);
  return info.Env().Undefined();
}

// countminPipelineClose(pipeline, counters | null, shape | null, inFlightEstimates | null): adds the batch in flight
// to the sketch, or drops it (null: the call failed and restores the counters), and closes the pipeline.
Napi::Value PipelineClose(const Napi::CallbackInfo& info) {
  // Closed from here on, even if adding the batch in flight throws.
  const std::unique_ptr<HashPipeline> pipeline = std::move(RequireOpenPipeline(info[0]).pipeline);
  if (info[1].IsNull()) {
    pipeline->Finish(nullptr, info[3]);
  } else {
    const Sketch s = RequireSketch(info[1], info[2]);
    pipeline->Finish(&s, info[3]);
  }
  return info.Env().Undefined();
}

// countminEstimate(counters, shape, keys, offsets, estimatesOut)
Napi::Value EstimateKeys(const Napi::CallbackInfo& info) {
  Sketch s = RequireSketch(info[0], info[1]);
  CallKeys keys(info[2], info[3]);
  Span<double> out = OptionalFloat64(info[4], keys.size(), "estimates");
  if (!out.data && keys.size() > 0) throw TypeError("estimates must be a Float64Array");
  if (s.wide) {
    EstimateMany(static_cast<const uint64_t*>(s.counters), s.shape, keys.keys(), out.data);
  } else {
    EstimateMany(static_cast<const uint32_t*>(s.counters), s.shape, keys.keys(), out.data);
  }
  return info.Env().Undefined();
}

// The hash of one key given as a string (hashed as UTF-8) or a Uint8Array. Short strings convert
// into a stack buffer: this is the per-call path of update() and estimate() in a loop.
uint64_t HashOneKey(const Napi::Value& key, uint64_t seed) {
  if (!key.IsString()) {
    auto bytes = RequireArray<uint8_t>(key, napi_uint8_array, "Uint8Array or string", "key");
    return XXH64(bytes.data, bytes.length, seed);
  }
  napi_env env = key.Env();
  char stack[256];
  size_t length = 0;
  // V8 writes whole characters only (unpaired surrogates as U+FFFD, as TextEncoder does), so a
  // result that could have been cut short (3 or fewer bytes left) is redone at its full length.
  NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, key, stack, sizeof stack, &length), 0);
  if (length + 4 < sizeof stack) return XXH64(reinterpret_cast<const uint8_t*>(stack), length, seed);
  NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, key, nullptr, 0, &length), 0);
  std::string heap(length + 1, '\0');
  NAPI_THROW_IF_FAILED(env, napi_get_value_string_utf8(env, key, heap.data(), heap.size(), &length), 0);
  return XXH64(reinterpret_cast<const uint8_t*>(heap.data()), length, seed);
}

// countminUpdateOne(counters, shape, key, count): the key's estimate after adding count.
Napi::Value UpdateOne(const Napi::CallbackInfo& info) {
  Sketch s = RequireSketch(info[0], info[1]);
  const uint64_t h = HashOneKey(info[2], s.shape.seed);
  if (!info[3].IsNumber()) throw TypeError("count must be a number");
  const double c = info[3].As<Napi::Number>().DoubleValue();
  if (!(std::fabs(c) <= kMaxSafeInteger) || c != std::trunc(c)) throw RangeError("count must be a safe integer");
  if (s.shape.conservative && c < 0) throw RangeError("count must be >= 0 with conservative update");
  const auto count = static_cast<int64_t>(c);
  const double estimate = s.wide ? static_cast<double>(Update(static_cast<uint64_t*>(s.counters), s.shape, h, count))
                                 : static_cast<double>(Update(static_cast<uint32_t*>(s.counters), s.shape, h, count));
  return Napi::Number::New(info.Env(), estimate);
}

// countminEstimateOne(counters, shape, key)
Napi::Value EstimateOne(const Napi::CallbackInfo& info) {
  Sketch s = RequireSketch(info[0], info[1]);
  return Napi::Number::New(info.Env(), EstimateHash(s, HashOneKey(info[2], s.shape.seed)));
}

// countminMerge(dstCounters, srcCounters, wide, weight): dst += weight * src, saturating.
Napi::Value MergeCounters(const Napi::CallbackInfo& info) {
  auto dst = RequireArray<uint32_t>(info[0], napi_uint32_array, "Uint32Array", "dst");
  auto src = RequireArray<uint32_t>(info[1], napi_uint32_array, "Uint32Array", "src");
  if (dst.length != src.length) throw RangeError("dst and src must have the same length");
  if (!info[2].IsBoolean()) throw TypeError("wide must be a boolean");
  if (!info[3].IsNumber()) throw TypeError("weight must be a number");
  const double weight = info[3].As<Napi::Number>().DoubleValue();
  if (!(weight >= 0 && weight <= 4294967295.0) || weight != std::trunc(weight)) {
    throw RangeError("weight must be an integer in [0, 4294967295]");
  }
  if (info[2].As<Napi::Boolean>().Value()) {
    const auto aligned8 = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 8 == 0; };
    const bool aligned = aligned8(dst.data) && aligned8(src.data);
    if (dst.length % 2 != 0 || !aligned) {
      throw RangeError("u64 counters must be 8-byte aligned pairs");
    }
    Merge(reinterpret_cast<uint64_t*>(dst.data), reinterpret_cast<const uint64_t*>(src.data), dst.length / 2,
          static_cast<uint64_t>(weight));
  } else {
    Merge(dst.data, src.data, dst.length, static_cast<uint64_t>(weight));
  }
  return info.Env().Undefined();
}

// countminHash(bytes, seedLo, seedHi): xxHash64 as a BigInt (tests and the serializer's checksum).
Napi::Value HashBytes(const Napi::CallbackInfo& info) {
  auto bytes = RequireArray<uint8_t>(info[0], napi_uint8_array, "Uint8Array", "bytes");
  uint32_t halves[2];
  for (int i = 0; i < 2; ++i) {
    const Napi::Value v = info[1 + i];
    if (!v.IsNumber()) throw TypeError("seed halves must be numbers");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 4294967295.0) || d != std::trunc(d)) throw RangeError("seed halves must be uint32");
    halves[i] = static_cast<uint32_t>(d);
  }
  const uint64_t seed = (static_cast<uint64_t>(halves[1]) << 32) | halves[0];
  return Napi::BigInt::New(info.Env(), XXH64(bytes.data, bytes.length, seed));
}

// The LineFormat of updateLines: separator (a byte 0..255, or 256 for ASCII whitespace) and stripCR.
LineFormat RequireLineFormat(const Napi::Value& separatorValue, const Napi::Value& stripValue) {
  if (!separatorValue.IsNumber()) throw TypeError("separator must be a number");
  const double separator = separatorValue.As<Napi::Number>().DoubleValue();
  if (!(separator >= 0 && separator <= kWhitespace) || separator != std::trunc(separator)) {
    throw RangeError("separator must be an integer in [0, 256]");
  }
  if (!stripValue.IsBoolean()) throw TypeError("stripCR must be a boolean");
  return LineFormat{static_cast<int>(separator), stripValue.As<Napi::Boolean>().Value()};
}

double RequireCount(const Napi::Value& value, const char* argName, double max) {
  if (!value.IsNumber()) throw TypeError(std::string(argName) + " must be a number");
  const double d = value.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= max) || d != std::trunc(d)) {
    throw RangeError(std::string(argName) + " must be a non-negative integer");
  }
  return d;
}

// countminUpdateLines(counters, shape, bytes, separator, stripCR, threads): the number of keys counted.
// Synchronous: JavaScript cannot detach or resize `bytes` while the call runs; a SharedArrayBuffer another
// thread writes is only ever read inside [0, length).
Napi::Value UpdateLinesBinding(const Napi::CallbackInfo& info) {
  Sketch s = RequireSketch(info[0], info[1]);
  auto bytes = RequireArray<uint8_t>(info[2], napi_uint8_array, "Uint8Array", "bytes");
  const LineFormat format = RequireLineFormat(info[3], info[4]);
  const auto threads = static_cast<unsigned>(RequireCount(info[5], "threads", 1024));
  if (threads < 1) throw RangeError("threads must be >= 1");
  const uint64_t keys = s.wide
      ? UpdateLines(static_cast<uint64_t*>(s.counters), s.shape, bytes.data, bytes.length, format, threads)
      : UpdateLines(static_cast<uint32_t*>(s.counters), s.shape, bytes.data, bytes.length, format, threads);
  return Napi::Number::New(info.Env(), static_cast<double>(keys));
}

// countminUpdateLinesCandidates(counters, shape, bytes, separator, stripCR, threshold, limit):
// Float64Array [keys, offset0, length0, estimate0, offset1, ...].
Napi::Value UpdateLinesCandidatesBinding(const Napi::CallbackInfo& info) {
  Sketch s = RequireSketch(info[0], info[1]);
  auto bytes = RequireArray<uint8_t>(info[2], napi_uint8_array, "Uint8Array", "bytes");
  const LineFormat format = RequireLineFormat(info[3], info[4]);
  const auto threshold = static_cast<uint64_t>(RequireCount(info[5], "threshold", kMaxSafeInteger));
  const auto limit = static_cast<size_t>(RequireCount(info[6], "limit", 1 << 20));
  std::vector<LineCandidate> candidates;
  const uint64_t keys = s.wide
      ? UpdateLinesCandidates(static_cast<uint64_t*>(s.counters), s.shape, bytes.data, bytes.length, format,
                              threshold, limit, candidates)
      : UpdateLinesCandidates(static_cast<uint32_t*>(s.counters), s.shape, bytes.data, bytes.length, format,
                              threshold, limit, candidates);
  auto out = Napi::Float64Array::New(info.Env(), 1 + 3 * candidates.size());
  out[0] = static_cast<double>(keys);
  for (size_t i = 0; i < candidates.size(); ++i) {
    out[1 + 3 * i] = static_cast<double>(candidates[i].offset);
    out[2 + 3 * i] = static_cast<double>(candidates[i].length);
    out[3 + 3 * i] = static_cast<double>(candidates[i].estimate);
  }
  return out;
}

}  // namespace

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("countminUpdate", Napi::Function::New<Guarded<UpdateKeys>>(env, "countminUpdate"));
  exports.Set("countminPipelineOpen", Napi::Function::New<Guarded<PipelineOpen>>(env, "countminPipelineOpen"));
  exports.Set("countminPipelinePush", Napi::Function::New<Guarded<PipelinePush>>(env, "countminPipelinePush"));
  exports.Set("countminPipelineClose", Napi::Function::New<Guarded<PipelineClose>>(env, "countminPipelineClose"));
  exports.Set("countminEstimate", Napi::Function::New<Guarded<EstimateKeys>>(env, "countminEstimate"));
  exports.Set("countminUpdateOne", Napi::Function::New<Guarded<UpdateOne>>(env, "countminUpdateOne"));
  exports.Set("countminEstimateOne", Napi::Function::New<Guarded<EstimateOne>>(env, "countminEstimateOne"));
  exports.Set("countminMerge", Napi::Function::New<Guarded<MergeCounters>>(env, "countminMerge"));
  exports.Set("countminUpdateLines", Napi::Function::New<Guarded<UpdateLinesBinding>>(env, "countminUpdateLines"));
  exports.Set("countminUpdateLinesCandidates",
              Napi::Function::New<Guarded<UpdateLinesCandidatesBinding>>(env, "countminUpdateLinesCandidates"));
  exports.Set("countminHash", Napi::Function::New<Guarded<HashBytes>>(env, "countminHash"));
}

}  // namespace hotpath::countmin
