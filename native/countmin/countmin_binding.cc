// N-API surface of the count-min kernel. The sketch's counters live in a JavaScript-owned
// Uint32Array (u64 counters as little-endian pairs), so both backends share one state layout and
// serialization; each call validates every argument before it touches the counters, and a batch
// is checked whole before the first update so a bad element leaves the sketch unchanged.
#include "countmin_binding.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../common/napi_errors.h"
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

// The keys of one batch as UTF-8 bytes plus byte offsets. Bytes arrive as they are. A string (many keys joined,
// with UTF-16 offsets: the cheap way to pass strings across N-API) becomes UTF-8 one of two ways, both giving the
// same bytes (unpaired surrogates as U+FFFD, each key encoded alone): V8 writes it as UTF-8 in one call, which for
// ASCII (the common case) is a copy whose UTF-16 offsets are byte offsets; or V8 copies its UTF-16 units and each
// key is encoded here, offsets as it goes, which for non-ASCII costs half of V8's UTF-8 write plus mapping the
// offsets back. Batches of one stream are alike, so each thread starts with the way its last batch needed.
class KeyBatch {
 public:
  KeyBatch(const Napi::Value& keys, const Napi::Value& offsetsValue) {
    auto offsets = RequireArray<uint32_t>(offsetsValue, napi_uint32_array, "Uint32Array", "offsets");
    if (offsets.length < 1) throw RangeError("offsets must have at least one element");
    count_ = offsets.length - 1;
    for (size_t i = 0; i < count_; ++i) {
      if (offsets.data[i] > offsets.data[i + 1]) throw RangeError("offsets must be non-decreasing");
    }
    if (!keys.IsString()) {
      auto bytes = RequireArray<uint8_t>(keys, napi_uint8_array, "Uint8Array or string", "keys");
      if (offsets.data[count_] > bytes.length) throw RangeError("offsets run past the end of keys");
      bytes_ = bytes.data;
      offsets_ = offsets.data;
      return;
    }
    if (preferUtf16) {
      ReadUtf16(keys, offsets.data);
    } else {
      ReadUtf8(keys, offsets.data);
    }
  }

  size_t size() const { return count_; }

  Keys keys() const { return Keys{bytes_, offsets_, count_}; }

 private:
  // V8's UTF-8 of the whole batch, its offsets mapped onto the bytes when it is not ASCII (then the next batch goes
  // through ReadUtf16).
  void ReadUtf8(const Napi::Value& keys, const uint32_t* offsets) {
    size_t units = 0;
    napi_env env = keys.Env();
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf16(env, keys, nullptr, 0, &units));
    if (offsets[count_] > units) throw RangeError("offsets run past the end of keys");
    // Any UTF-16 unit takes at most 3 bytes of UTF-8 (a surrogate pair 4 for 2 units), plus the terminating NUL.
    char* utf8 = Scratch(units * 3 + 1);
    size_t written = 0;
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf8(env, keys, utf8, units * 3 + 1, &written));
    if (written > UINT32_MAX) throw RangeError("a batch of keys must be under 4 GiB of UTF-8");
    bytes_ = reinterpret_cast<const uint8_t*>(utf8);
    // Every unit takes at least one byte, exactly one when it is ASCII: as many bytes as units means all ASCII.
    if (written == units) {
      offsets_ = offsets;
      return;
    }
    preferUtf16 = true;
    utf8Offsets_.resize(count_ + 1);
    if (MapOffsets(bytes_, written, offsets, count_ + 1, utf8Offsets_.data())) {
      offsets_ = utf8Offsets_.data();
      return;
    }
    // A key ending in a high surrogate and the next starting with the low one: each half must encode alone, as
    // U+FFFD, which only the key-by-key encoding does.
    ReadUtf16(keys, offsets);
  }

  // The batch's UTF-16 units, each key encoded to UTF-8 here. An all-ASCII batch sends the next one back to ReadUtf8.
  void ReadUtf16(const Napi::Value& keys, const uint32_t* offsets) {
    size_t units = 0;
    napi_env env = keys.Env();
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf16(env, keys, nullptr, 0, &units));
    if (offsets[count_] > units) throw RangeError("offsets run past the end of keys");
    // One block: the units (and V8's NUL), the encoder's scratch (4-byte aligned), then room for 3 bytes of UTF-8
    // per unit and the 16-byte store past the last.
    const size_t unitBytes = ((units + 1) * 2 + 3) & ~size_t{3};
    const size_t scratchBytes = (units / 4 + 4) * 4;
    char* block = Scratch(unitBytes + scratchBytes + units * 3 + 16);
    auto* u16 = reinterpret_cast<char16_t*>(block);
    NAPI_THROW_IF_FAILED_VOID(env, napi_get_value_string_utf16(env, keys, u16, units + 1, &units));
    auto* scratch = reinterpret_cast<uint32_t*>(block + unitBytes);
    auto* utf8 = reinterpret_cast<uint8_t*>(block + unitBytes + scratchBytes);
    // 3 bytes a unit at most: a batch under 4 GiB of UTF-8 needs no check per key.
    if (units * 3 > UINT32_MAX) throw RangeError("a batch of keys must be under 4 GiB of UTF-8");
    utf8Offsets_.resize(count_ + 1);
    const size_t written = EncodeKeysUtf8(u16, offsets, count_, utf8, utf8Offsets_.data(), scratch);
    bytes_ = utf8;
    offsets_ = utf8Offsets_.data();
    if (written == offsets[count_] - offsets[0]) preferUtf16 = false;
  }

  // Room for `size` bytes: a buffer kept per thread and reused by the next batch (no allocation and page faults per
  // call), or for a batch larger than kKeep bytes one of its own. One KeyBatch lives at a time on a thread: the
  // bindings that make one never call back into JavaScript.
  char* Scratch(size_t size) {
    constexpr size_t kKeep = size_t{1} << 23;
    thread_local std::unique_ptr<char[]> kept;
    thread_local size_t keptSize = 0;
    if (size > kKeep) {
      owned_.reset(new char[size]);
      return owned_.get();
    }
    if (keptSize < size) {
      kept.reset(new char[kKeep]);
      keptSize = kKeep;
    }
    return kept.get();
  }

  // out[k] = the byte offset in utf8[0, length) of UTF-16 offset units[k] (non-decreasing), counting one unit for
  // each 1-, 2- or 3-byte sequence and two for each 4-byte one (a surrogate pair). False when an offset falls
  // between the two units of a pair.
  static bool IsAscii8(const uint8_t* p) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    return (word & 0x8080808080808080ULL) == 0;
  }

  static bool MapOffsets(const uint8_t* utf8, size_t length, const uint32_t* units, size_t count, uint32_t* out) {
    size_t byte = 0, unit = 0;
    for (size_t k = 0; k < count; ++k) {
      const size_t target = units[k];
      while (unit < target && byte < length) {
        if (target - unit >= 8 && length - byte >= 8 && IsAscii8(utf8 + byte)) {
          byte += 8;
          unit += 8;
          continue;
        }
        const uint8_t lead = utf8[byte];
        const size_t bytes = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        byte += bytes;
        unit += bytes == 4 ? 2 : 1;
      }
      if (unit != target || byte > length) return false;
      out[k] = static_cast<uint32_t>(byte);
    }
    return true;
  }

  // How this thread's last batch of strings needed to be read.
  static thread_local bool preferUtf16;

  size_t count_ = 0;
  const uint8_t* bytes_ = nullptr;
  const uint32_t* offsets_ = nullptr;
  std::unique_ptr<char[]> owned_;
  std::vector<uint32_t> utf8Offsets_;
};

thread_local bool KeyBatch::preferUtf16 = false;

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

// countminUpdate(counters, shape, keys, offsets, counts | null, estimatesOut | null)
Napi::Value UpdateKeys(const Napi::CallbackInfo& info) {
  Sketch s = RequireSketch(info[0], info[1]);
  KeyBatch keys(info[2], info[3]);
  Span<double> counts = OptionalFloat64(info[4], keys.size(), "counts");
  Span<double> estimates = OptionalFloat64(info[5], keys.size(), "estimates");
  for (size_t i = 0; i < counts.length; ++i) {
    const double c = counts.data[i];
    if (!(std::fabs(c) <= kMaxSafeInteger) || c != std::trunc(c)) {
      throw RangeError("counts[" + std::to_string(i) + "] must be a safe integer");
    }
    if (s.shape.conservative && c < 0) {
      throw RangeError("counts[" + std::to_string(i) + "] must be >= 0 with conservative update");
    }
  }
  if (s.wide) {
    UpdateMany(static_cast<uint64_t*>(s.counters), s.shape, keys.keys(), counts.data, estimates.data);
  } else {
    UpdateMany(static_cast<uint32_t*>(s.counters), s.shape, keys.keys(), counts.data, estimates.data);
  }
  return info.Env().Undefined();
}

// countminEstimate(counters, shape, keys, offsets, estimatesOut)
Napi::Value EstimateKeys(const Napi::CallbackInfo& info) {
  Sketch s = RequireSketch(info[0], info[1]);
  KeyBatch keys(info[2], info[3]);
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
