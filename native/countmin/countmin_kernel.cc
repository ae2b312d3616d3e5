#include "countmin_kernel.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <utility>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#endif
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define HOTPATH_ENCODE_SSSE3 1
#include <cpuid.h>
#include <tmmintrin.h>
#endif

#include "../common/thread_pool.h"

namespace hotpath::countmin {
namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t kP3 = 0x165667B19E3779F9ULL;
constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t kP5 = 0x27D4EB2F165667C5ULL;

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Little-endian loads through memcpy: no alignment or aliasing assumptions about the key bytes.
inline uint64_t Read64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint32_t Read32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline uint64_t Round(uint64_t acc, uint64_t lane) { return Rotl(acc + lane * kP2, 31) * kP1; }
inline uint64_t MergeRound(uint64_t acc, uint64_t v) { return (acc ^ Round(0, v)) * kP1 + kP4; }

template <typename Counter>
inline Counter AddSaturating(Counter c, int64_t count) {
  constexpr Counter kMax = std::numeric_limits<Counter>::max();
  if (count >= 0) {
    const uint64_t add = static_cast<uint64_t>(count);
    return add >= static_cast<uint64_t>(kMax - c) ? kMax : static_cast<Counter>(c + add);
  }
  // -count cannot overflow: the bindings limit counts to |count| <= 2^53.
  const uint64_t sub = static_cast<uint64_t>(-count);
  return sub >= c ? Counter(0) : static_cast<Counter>(c - sub);
}

// XXH64 in three parts, so a batch of keys with one length & 31 can take the tail without a branch on the length.
// HashHead: the state after the 32-byte stripes of a key (all of it but its last length & 31 bytes, where p then
// points), the length added.
inline uint64_t HashHead(const uint8_t*& p, size_t length, uint64_t seed) {
  uint64_t h;
  if (length >= 32) {
    const uint8_t* const limit = p + length - 32;
    uint64_t v1 = seed + kP1 + kP2, v2 = seed + kP2, v3 = seed, v4 = seed - kP1;
    do {
      v1 = Round(v1, Read64(p));
      v2 = Round(v2, Read64(p + 8));
      v3 = Round(v3, Read64(p + 16));
      v4 = Round(v4, Read64(p + 24));
      p += 32;
    } while (p <= limit);
    h = Rotl(v1, 1) + Rotl(v2, 7) + Rotl(v3, 12) + Rotl(v4, 18);
    h = MergeRound(h, v1);
    h = MergeRound(h, v2);
    h = MergeRound(h, v3);
    h = MergeRound(h, v4);
  } else {
    h = seed + kP5;
  }
  return h + static_cast<uint64_t>(length);
}

inline uint64_t Step8(uint64_t h, const uint8_t* p) { return Rotl(h ^ Round(0, Read64(p)), 27) * kP1 + kP4; }
inline uint64_t Step4(uint64_t h, const uint8_t* p) {
  return Rotl(h ^ (static_cast<uint64_t>(Read32(p)) * kP1), 23) * kP2 + kP3;
}
inline uint64_t Step1(uint64_t h, const uint8_t* p) { return Rotl(h ^ (*p * kP5), 11) * kP1; }

inline uint64_t Avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

// XXH64 itself, inlined into the loops below (the exported XXH64 is a call for one key).
inline uint64_t Hash(const uint8_t* p, size_t length, uint64_t seed) {
  const uint8_t* const end = p + length;
  uint64_t h = HashHead(p, length, seed);
  for (; p + 8 <= end; p += 8) h = Step8(h, p);
  if (p + 4 <= end) {
    h = Step4(h, p);
    p += 4;
  }
  for (; p < end; ++p) h = Step1(h, p);
  return Avalanche(h);
}

// Hash() of a key whose length & 31 is kTail: the tail's steps unrolled.
template <unsigned kTail>
inline uint64_t HashWithTail(const uint8_t* p, size_t length, uint64_t seed) {
  uint64_t h = HashHead(p, length, seed);
  for (unsigned i = 0; i < kTail / 8; ++i, p += 8) h = Step8(h, p);
  if constexpr ((kTail & 4) != 0) {
    h = Step4(h, p);
    p += 4;
  }
  for (unsigned i = 0; i < (kTail & 3); ++i, ++p) h = Step1(h, p);
  return Avalanche(h);
}

}  // namespace

uint64_t XXH64(const uint8_t* p, size_t length, uint64_t seed) { return Hash(p, length, seed); }

template <typename Counter>
Counter Estimate(const Counter* counters, const Shape& shape, uint64_t h) {
  Counter best = std::numeric_limits<Counter>::max();
  for (uint32_t r = 0; r < shape.depth; ++r) {
    best = std::min(best, counters[static_cast<size_t>(r) * shape.width + Column(h, r, shape.width)]);
  }
  return best;
}

template <typename Counter>
Counter Update(Counter* counters, const Shape& shape, uint64_t h, int64_t count) {
  if (shape.conservative) {
    // Raise each counter only as far as the new estimate needs: min + count (Estan–Varghese).
    const Counter target = AddSaturating(Estimate(counters, shape, h), count);
    for (uint32_t r = 0; r < shape.depth; ++r) {
      Counter& c = counters[static_cast<size_t>(r) * shape.width + Column(h, r, shape.width)];
      c = std::max(c, target);
    }
    return target;
  }
  Counter best = std::numeric_limits<Counter>::max();
  for (uint32_t r = 0; r < shape.depth; ++r) {
    Counter& c = counters[static_cast<size_t>(r) * shape.width + Column(h, r, shape.width)];
    c = AddSaturating(c, count);
    best = std::min(best, c);
  }
  return best;
}

template <typename Counter>
void Merge(Counter* dst, const Counter* src, size_t cells, uint64_t weight) {
  constexpr Counter kMax = std::numeric_limits<Counter>::max();
  for (size_t i = 0; i < cells; ++i) {
    const uint64_t s = src[i];
    // weight * s overflows the counter exactly when s > (max - dst) / weight.
    if (s != 0 && weight != 0 && s > static_cast<uint64_t>(kMax - dst[i]) / weight) {
      dst[i] = kMax;
    } else {
      dst[i] = static_cast<Counter>(dst[i] + weight * s);
    }
  }
}

namespace {

// Keys go through the kernels in batches: hash kBatch keys, then update their counters, so the counter loads of
// a batch are in flight together and the hashing of one key does not wait on the stores of the previous one.
// Under 256: HashBatch sorts a batch with byte-sized tallies.
constexpr size_t kBatch = 128;
static_assert(kBatch < 256, "HashBatch counts a batch in bytes");

struct KeySpan {
  const uint8_t* data;
  size_t length;
};

inline unsigned LowestBit(uint64_t mask) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long index;
  _BitScanForward64(&index, mask);
  return static_cast<unsigned>(index);
#else
  return static_cast<unsigned>(__builtin_ctzll(mask));
#endif
}

inline bool IsAsciiSpace(uint8_t b) { return b == ' ' || (b >= '\t' && b <= '\r'); }

// Bit i of Block(p) is set when p[i] ends a key: the separator byte, or any ASCII whitespace byte. 64 bytes a
// call, 16 at a time with SSE2 (every x86-64 CPU), 8 at a time in a 64-bit word elsewhere.
class SeparatorMask {
 public:
  explicit SeparatorMask(int separator)
      : whitespace_(separator == kWhitespace), byte_(static_cast<uint8_t>(separator)) {}

  uint64_t Block(const uint8_t* p) const {
    uint64_t mask = 0;
    for (int i = 0; i < 64; i += kStep) mask |= static_cast<uint64_t>(Step(p + i)) << i;
    return mask;
  }

 private:
#if defined(__SSE2__) || defined(_M_X64)
  static constexpr int kStep = 16;
  uint32_t Step(const uint8_t* p) const {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (!whitespace_) return static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(byte_))));
    // ' ', or '\t'..'\r': b - 9 <= 4 unsigned (min(x, 4) == x).
    const __m128i shifted = _mm_sub_epi8(v, _mm_set1_epi8(9));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(shifted, _mm_set1_epi8(4)), shifted);
    const __m128i space = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
    return static_cast<uint32_t>(_mm_movemask_epi8(_mm_or_si128(control, space)));
  }
#else
  static constexpr int kStep = 8;
  uint32_t Step(const uint8_t* p) const {
    if (whitespace_) {
      uint32_t bits = 0;
      for (int i = 0; i < 8; ++i) bits |= static_cast<uint32_t>(IsAsciiSpace(p[i])) << i;
      return bits;
    }
    constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;
    uint64_t word;
    std::memcpy(&word, p, 8);
    const uint64_t x = word ^ (0x0101010101010101ULL * byte_);
    // High bit of each byte set exactly where x has a zero byte (no carries between bytes), then gathered into
    // the low 8 bits in byte order (little-endian word: byte i is bits 8i..8i+7).
    const uint64_t zero = ~(((x & kLow7) + kLow7) | x | kLow7);
    return static_cast<uint32_t>(((zero >> 7) * 0x0102040810204080ULL) >> 56);
  }
#endif
  bool whitespace_;
  uint8_t byte_;
};

// Calls key(data, length) for each non-empty key of bytes[0, length) in order. Separators are found 64 bytes at a
// time as a bit mask (no call per separator); the last partial block is copied to a local buffer, so no read leaves
// [0, length).
template <typename KeyFn>
void ForEachKey(const uint8_t* bytes, size_t length, const LineFormat& format, KeyFn&& key) {
  const SeparatorMask separators(format.separator);
  const bool stripCR = format.stripCR && format.separator == '\n';
  size_t start = 0;
  const auto add = [&](size_t begin, size_t end) { key(bytes + begin, end - begin); };
  // The key that ends at the separator at `at`.
  const auto split = [&](size_t at) {
    size_t end = at;
    if (stripCR && end > start && bytes[end - 1] == '\r') --end;
    if (end > start) add(start, end);
    start = at + 1;
  };
  size_t block = 0;
  for (; block + 64 <= length; block += 64) {
    for (uint64_t mask = separators.Block(bytes + block); mask != 0; mask &= mask - 1) split(block + LowestBit(mask));
  }
  if (block < length) {
    uint8_t tail[64] = {};
    const size_t rest = length - block;
    std::memcpy(tail, bytes + block, rest);
    uint64_t mask = separators.Block(tail) & ((uint64_t{1} << rest) - 1);
    for (; mask != 0; mask &= mask - 1) split(block + LowestBit(mask));
  }
  if (start < length) add(start, length);
}

// Calls batch(keys, n) for the non-empty keys of bytes[0, length) in order, up to kBatch at a time; returns how
// many keys.
template <typename BatchFn>
uint64_t ForEachKeyBatch(const uint8_t* bytes, size_t length, const LineFormat& format, BatchFn&& batch) {
  KeySpan keys[kBatch];
  size_t pending = 0;
  uint64_t total = 0;
  ForEachKey(bytes, length, format, [&](const uint8_t* data, size_t size) {
    keys[pending++] = KeySpan{data, size};
    if (pending == kBatch) {
      batch(keys, pending);
      total += pending;
      pending = 0;
    }
  });
  if (pending > 0) batch(keys, pending);
  return total + pending;
}

// hashes[i] = Hash(keys[i]) for the keys of a batch whose length & 31 is kTail: keys[order[j]] for j in
// [begin, end), or keys[begin, end) without `order`.
template <unsigned kTail>
void HashRun(const KeySpan* keys, const uint8_t* order, size_t begin, size_t end, uint64_t seed, uint64_t* hashes) {
  if (order == nullptr) {
    for (size_t i = begin; i < end; ++i) hashes[i] = HashWithTail<kTail>(keys[i].data, keys[i].length, seed);
    return;
  }
  for (size_t j = begin; j < end; ++j) {
    const size_t i = order[j];
    hashes[i] = HashWithTail<kTail>(keys[i].data, keys[i].length, seed);
  }
}

using HashRunFn = void (*)(const KeySpan*, const uint8_t*, size_t, size_t, uint64_t, uint64_t*);

template <size_t... kTails>
constexpr std::array<HashRunFn, sizeof...(kTails)> HashRuns(std::index_sequence<kTails...>) {
  return {&HashRun<kTails>...};
}

// hashes[i] = Hash(keys[i]) for a batch. XXH64 branches on the length of a key (how many 8-byte, 4-byte and 1-byte
// steps its tail takes): keys of mixed lengths, the usual case, would mispredict a branch or two per key, costing
// as much as the hash. So the batch is hashed in runs of one length & 31 (the tail's shape), each by the HashRun
// for that shape, with no branch on the length. The counting sort into runs keeps 4 interleaved tallies per
// shape, so keys of one length do not chain every step through one counter in memory.
// The hash of a key depends on its length & 31 for its branches: one HashRun per such tail shape.
constexpr size_t kShapes = 32;
constexpr std::array<HashRunFn, kShapes> kRuns = HashRuns(std::make_index_sequence<kShapes>());

inline void HashBatch(const KeySpan* keys, size_t n, uint64_t seed, uint64_t* hashes) {
  constexpr size_t kLanes = 4;
  if (n == 0) return;
  size_t mixed = 0;
  for (size_t i = 1; i < n; ++i) mixed |= (keys[i].length ^ keys[0].length) & 31;
  if (mixed == 0) return kRuns[keys[0].length & 31](keys, nullptr, 0, n, seed, hashes);
  // [shape][lane]: a tally, then (exclusive prefix sums) where the next key of that shape and lane goes.
  alignas(8) uint8_t next[kShapes * kLanes] = {};
  for (size_t i = 0; i < n; ++i) ++next[(keys[i].length & 31) * kLanes + i % kLanes];
  // Prefix sums 8 tallies a word: multiplying by 0x0101... sums each byte with those below it (no sum exceeds
  // kBatch < 256, so no byte carries into the next).
  uint64_t below = 0;
  for (size_t w = 0; w < sizeof next; w += 8) {
    uint64_t word;
    std::memcpy(&word, next + w, 8);
    const uint64_t inclusive = word * 0x0101010101010101ULL;
    const uint64_t exclusive = (inclusive << 8) + below * 0x0101010101010101ULL;
    std::memcpy(next + w, &exclusive, 8);
    below += inclusive >> 56;
  }
  uint8_t order[kBatch];
  for (size_t i = 0; i < n; ++i) order[next[(keys[i].length & 31) * kLanes + i % kLanes]++] = static_cast<uint8_t>(i);
  // Each shape's last lane now ends where its run ends.
  size_t begin = 0;
  for (size_t shape = 0; shape < kShapes; ++shape) {
    const size_t end = next[shape * kLanes + kLanes - 1];
    if (end > begin) kRuns[shape](keys, order, begin, end, seed, hashes);
    begin = std::max(begin, end);
  }
}

// Adds 1 to the keys hashed to hashes[0, n) in a plain (not conservative) sketch: the byte path's hot loop, with
// no estimate to compute. Rows step the Kirsch–Mitzenmacher index by hi32(h), as Column() does. kDepth: the depth
// as a constant, so the rows unroll (0: shape.depth). kSaturate false: the caller checked that no counter can
// reach its maximum in this call, so the counters just add 1.
template <typename Counter, uint32_t kDepth, bool kSaturate>
inline void IncrementBatch(Counter* counters, const Shape& shape, const uint64_t* hashes, size_t n) {
  constexpr Counter kMax = std::numeric_limits<Counter>::max();
  const uint32_t depth = kDepth != 0 ? kDepth : shape.depth;
  const uint64_t width = shape.width;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t step = static_cast<uint32_t>(hashes[i] >> 32);
    uint32_t g = static_cast<uint32_t>(hashes[i]);
    Counter* row = counters;
    for (uint32_t r = 0; r < depth; ++r, g += step, row += width) {
      Counter& c = row[(g * width) >> 32];
      c = static_cast<Counter>(kSaturate ? c + (c != kMax) : c + 1);
    }
  }
}

// Counts keys queued by their tail shape (length & 31): forEachKey(push) calls push(data, length) for each key, a
// full queue is hashed by its HashRun, with no branch on the length, and its hashes go to count(hashes, n); returns
// how many keys. This replaces HashBatch's sort into runs (a third of the byte path's work per key) where the order
// of the updates does not matter, as in a plain sketch: adding 1, saturating or not, commutes. The queues are locals
// of this one function, not members, so the compiler keeps them apart from the counters the updates write.
template <typename KeysFn, typename CountFn>
uint64_t CountByShape(uint64_t seed, KeysFn&& forEachKey, CountFn&& count) {
  constexpr size_t kQueue = 32;
  KeySpan queues[kShapes][kQueue];  // 16 KiB
  uint8_t queued[kShapes] = {};
  uint64_t hashes[kQueue];
  uint64_t total = 0;
  const auto flush = [&](size_t tail) {
    kRuns[tail](queues[tail], nullptr, 0, queued[tail], seed, hashes);
    count(hashes, queued[tail]);
    total += queued[tail];
    queued[tail] = 0;
  };
  forEachKey([&](const uint8_t* data, size_t length) {
    const size_t tail = length & (kShapes - 1);
    queues[tail][queued[tail]] = KeySpan{data, length};
    if (++queued[tail] == kQueue) flush(tail);
  });
  for (size_t tail = 0; tail < kShapes; ++tail) {
    if (queued[tail] > 0) flush(tail);
  }
  return total;
}

// Counts the keys of bytes[0, size) into a plain sketch's counters (IncrementBatch's parameters); returns how many.
template <typename Counter, uint32_t kDepth, bool kSaturate>
uint64_t CountKeys(Counter* counters, const Shape& shape, const uint8_t* bytes, size_t size, const LineFormat& format) {
  const auto forEachKey = [&](auto&& push) { ForEachKey(bytes, size, format, push); };
  return CountByShape(shape.seed, forEachKey, [&](const uint64_t* hashes, size_t n) {
    IncrementBatch<Counter, kDepth, kSaturate>(counters, shape, hashes, n);
  });
}

// CountKeys with the depth as a constant for the usual depths (ln(1/delta) for delta from 0.37 down to 0.0004).
template <typename Counter, bool kSaturate>
uint64_t CountKeysAnyDepth(Counter* counters, const Shape& shape, const uint8_t* bytes, size_t size,
                           const LineFormat& format) {
  switch (shape.depth) {
    case 1: return CountKeys<Counter, 1, kSaturate>(counters, shape, bytes, size, format);
    case 2: return CountKeys<Counter, 2, kSaturate>(counters, shape, bytes, size, format);
    case 3: return CountKeys<Counter, 3, kSaturate>(counters, shape, bytes, size, format);
    case 4: return CountKeys<Counter, 4, kSaturate>(counters, shape, bytes, size, format);
    case 5: return CountKeys<Counter, 5, kSaturate>(counters, shape, bytes, size, format);
    case 6: return CountKeys<Counter, 6, kSaturate>(counters, shape, bytes, size, format);
    case 7: return CountKeys<Counter, 7, kSaturate>(counters, shape, bytes, size, format);
    case 8: return CountKeys<Counter, 8, kSaturate>(counters, shape, bytes, size, format);
    default: return CountKeys<Counter, 0, kSaturate>(counters, shape, bytes, size, format);
  }
}

// Whether adding 1 for each key of `size` bytes (at most size / 2 + 1 keys) can bring no counter to its maximum.
// Reading every counter pays off only for inputs with many keys per counter; smaller ones count saturating.
template <typename Counter>
bool CannotSaturate(const Counter* counters, size_t cells, size_t size, bool zeroed) {
  const uint64_t keys = size / 2 + 1;
  constexpr uint64_t kMax = std::numeric_limits<Counter>::max();
  if (keys >= kMax) return false;
  if (zeroed) return true;
  if (keys < cells / 4) return false;
  Counter largest = 0;
  for (size_t i = 0; i < cells; ++i) largest = std::max(largest, counters[i]);
  return largest < kMax - keys;
}

// Adds 1 for every key of bytes[0, size) to a plain sketch's counters; `zeroed`: they are all zero.
template <typename Counter>
uint64_t CountKeysPlain(Counter* counters, const Shape& shape, const uint8_t* bytes, size_t size,
                        const LineFormat& format, bool zeroed) {
  const size_t cells = static_cast<size_t>(shape.width) * shape.depth;
  return CannotSaturate(counters, cells, size, zeroed)
             ? CountKeysAnyDepth<Counter, false>(counters, shape, bytes, size, format)
             : CountKeysAnyDepth<Counter, true>(counters, shape, bytes, size, format);
}

// The first key boundary at or after `at`: just past a separator byte (whitespace byte), or length.
size_t NextBoundary(const uint8_t* bytes, size_t length, size_t at, const LineFormat& format) {
  if (format.separator == kWhitespace) {
    while (at < length && !IsAsciiSpace(bytes[at])) ++at;
    return at;
  }
  const void* hit = at < length ? std::memchr(bytes + at, format.separator, length - at) : nullptr;
  return hit ? static_cast<size_t>(static_cast<const uint8_t*>(hit) - bytes) + 1 : length;
}

// Parts of at least this many bytes each are worth a thread (the summing of counters costs one pass over them).
constexpr size_t kBytesPerThread = size_t{1} << 21;

// Calls batch(spans, n) for keys[begin, begin + n) as spans, kBatch keys at a time, with begin the index of the first.
template <typename BatchFn>
void ForEachSpanBatch(const Keys& keys, BatchFn&& batch) {
  KeySpan spans[kBatch];
  for (size_t begin = 0; begin < keys.count; begin += kBatch) {
    const size_t n = std::min(kBatch, keys.count - begin);
    for (size_t i = 0; i < n; ++i) {
      const uint32_t from = keys.offsets[begin + i];
      spans[i] = KeySpan{keys.bytes + from, keys.offsets[begin + i + 1] - from};
    }
    batch(begin, spans, n);
  }
}

// CountByShape's forEachKey over keys.
inline auto EachKey(const Keys& keys) {
  return [&keys](auto&& push) {
    for (size_t i = 0; i < keys.count; ++i) push(keys.bytes + keys.offsets[i], keys.offsets[i + 1] - keys.offsets[i]);
  };
}

}  // namespace

void HashKeys(const Keys& keys, uint64_t seed, bool inOrder, uint64_t* hashes) {
  if (inOrder) {
    ForEachSpanBatch(keys, [&](size_t begin, const KeySpan* spans, size_t n) {
      HashBatch(spans, n, seed, hashes + begin);
    });
    return;
  }
  size_t n = 0;
  CountByShape(seed, EachKey(keys), [&](const uint64_t* batch, size_t size) {
    std::memcpy(hashes + n, batch, size * sizeof *batch);
    n += size;
  });
}

template <typename Counter>
void AddHashes(Counter* counters, const Shape& shape, const uint64_t* hashes, size_t n) {
  IncrementBatch<Counter, 0, true>(counters, shape, hashes, n);
}

template <typename Counter>
void UpdateHashes(Counter* counters, const Shape& shape, const uint64_t* hashes, size_t n, const double* counts,
                  double* estimates) {
  for (size_t i = 0; i < n; ++i) {
    const Counter estimate = Update(counters, shape, hashes[i], counts ? static_cast<int64_t>(counts[i]) : 1);
    if (estimates) estimates[i] = static_cast<double>(estimate);
  }
}

template <typename Counter>
void UpdateMany(Counter* counters, const Shape& shape, const Keys& keys, const double* counts, double* estimates) {
  if (counts == nullptr && estimates == nullptr && !shape.conservative) {
    CountByShape(shape.seed, EachKey(keys), [&](const uint64_t* hashes, size_t n) {
      AddHashes(counters, shape, hashes, n);
    });
    return;
  }
  ForEachSpanBatch(keys, [&](size_t begin, const KeySpan* spans, size_t n) {
    uint64_t hashes[kBatch];
    HashBatch(spans, n, shape.seed, hashes);
    UpdateHashes(counters, shape, hashes, n, counts ? counts + begin : nullptr,
                 estimates ? estimates + begin : nullptr);
  });
}

template <typename Counter>
void EstimateMany(const Counter* counters, const Shape& shape, const Keys& keys, double* out) {
  ForEachSpanBatch(keys, [&](size_t begin, const KeySpan* spans, size_t n) {
    uint64_t hashes[kBatch];
    HashBatch(spans, n, shape.seed, hashes);
    for (size_t i = 0; i < n; ++i) out[begin + i] = static_cast<double>(Estimate(counters, shape, hashes[i]));
  });
}


template <typename Counter>
uint64_t UpdateLines(Counter* counters, const Shape& shape, const uint8_t* bytes, size_t length,
                     const LineFormat& format, unsigned threads) {
  if (shape.conservative) {
    // In order, one key at a time: a conservative update depends on the counters the previous keys left.
    return ForEachKeyBatch(bytes, length, format, [&](const KeySpan* keys, size_t n) {
      uint64_t hashes[kBatch];
      HashBatch(keys, n, shape.seed, hashes);
      for (size_t i = 0; i < n; ++i) Update(counters, shape, hashes[i], 1);
    });
  }
  const size_t parts = std::min<size_t>(threads, length / kBytesPerThread);
  if (parts < 2) return CountKeysPlain(counters, shape, bytes, length, format, false);
  std::vector<size_t> bounds(parts + 1, length);
  bounds[0] = 0;
  for (size_t p = 1; p < parts; ++p) {
    bounds[p] = NextBoundary(bytes, length, std::max(bounds[p - 1], length / parts * p), format);
  }
  const size_t cells = static_cast<size_t>(shape.width) * shape.depth;
  // Part 0 counts straight into the sketch; the others into zeroed private counters summed in afterwards.
  std::vector<std::vector<Counter>> partial(parts - 1);
  std::vector<uint64_t> keys(parts, 0);
  hotpath::ParallelFor(parts, threads, [&](size_t p) {
    Counter* into = counters;
    if (p > 0) {
      partial[p - 1].assign(cells, 0);
      into = partial[p - 1].data();
    }
    keys[p] = CountKeysPlain(into, shape, bytes + bounds[p], bounds[p + 1] - bounds[p], format, p > 0);
  });
  uint64_t total = keys[0];
  for (size_t p = 1; p < parts; ++p) {
    Merge(counters, partial[p - 1].data(), cells, 1);
    total += keys[p];
  }
  return total;
}

template <typename Counter>
uint64_t UpdateLinesCandidates(Counter* counters, const Shape& shape, const uint8_t* bytes, size_t length,
                               const LineFormat& format, uint64_t threshold, size_t limit,
                               std::vector<LineCandidate>& out) {
  struct Seen {
    size_t offset;
    uint64_t estimate;
  };
  struct ViewHash {
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>()(v); }
  };
  // Distinct keys at or above the threshold; when it holds many more than `limit`, the threshold rises to the
  // limit-th largest estimate and the rest go (estimates only grow, so a dropped key could only come back higher).
  std::unordered_map<std::string_view, Seen, ViewHash> seen;
  const size_t prune = std::max<size_t>(4096, limit * 4);
  std::vector<uint64_t> scratch;
  const auto candidate = [&](const KeySpan& key, uint64_t estimate) {
    if (estimate < threshold || limit == 0) return;
    const std::string_view view(reinterpret_cast<const char*>(key.data), key.length);
    auto [it, inserted] = seen.try_emplace(view, Seen{static_cast<size_t>(key.data - bytes), estimate});
    if (!inserted) it->second.estimate = std::max(it->second.estimate, estimate);
    if (seen.size() <= prune) return;
    scratch.clear();
    for (const auto& entry : seen) scratch.push_back(entry.second.estimate);
    std::nth_element(scratch.begin(), scratch.begin() + (limit - 1), scratch.end(), std::greater<uint64_t>());
    threshold = std::max(threshold, scratch[limit - 1]);
    for (auto i = seen.begin(); i != seen.end();) i = i->second.estimate < threshold ? seen.erase(i) : std::next(i);
  };
  const uint64_t keys = ForEachKeyBatch(bytes, length, format, [&](const KeySpan* batch, size_t n) {
    uint64_t hashes[kBatch];
    HashBatch(batch, n, shape.seed, hashes);
    for (size_t i = 0; i < n; ++i) candidate(batch[i], Update(counters, shape, hashes[i], 1));
  });
  out.clear();
  for (const auto& [view, entry] : seen) out.push_back(LineCandidate{entry.offset, view.size(), entry.estimate});
  std::sort(out.begin(), out.end(), [](const LineCandidate& a, const LineCandidate& b) {
    return a.estimate != b.estimate ? a.estimate > b.estimate : a.offset < b.offset;
  });
  if (out.size() > limit) out.resize(limit);
  return keys;
}

namespace {

// One unit below U+0800 as its 1 or 2 UTF-8 bytes in the low bytes of the result; *bytes gets how many.
inline uint32_t EncodeBelow800(uint32_t unit, uint32_t* bytes) {
  const bool ascii = unit < 0x80;
  *bytes = 2 - static_cast<uint32_t>(ascii);
  return ascii ? unit : (0xC0 | (unit >> 6)) | ((0x80 | (unit & 0x3F)) << 8);
}

// The code point starting at units[i] (a surrogate pair within [i, end) as one, an unpaired half as U+FFFD),
// written as UTF-8; advances i and out.
inline void EncodeCodePoint(const char16_t* units, size_t& i, size_t end, uint8_t*& out) {
  uint32_t cp = units[i++];
  if (cp >= 0xD800 && cp <= 0xDFFF) {
    const bool pairs = cp <= 0xDBFF && i < end && units[i] >= 0xDC00 && units[i] <= 0xDFFF;
    cp = pairs ? 0x10000 + ((cp - 0xD800) << 10) + (units[i++] - 0xDC00) : 0xFFFD;
  }
  if (cp < 0x800) {
    uint32_t bytes;
    const uint32_t encoded = EncodeBelow800(cp, &bytes);
    out[0] = static_cast<uint8_t>(encoded);
    out[1] = static_cast<uint8_t>(encoded >> 8);
    out += bytes;
  } else if (cp < 0x10000) {
    out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    out += 3;
  } else {
    out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    out += 4;
  }
}

#if HOTPATH_ENCODE_SSSE3
// Set bits of a byte from a table: __builtin_popcount without -mpopcnt (the portable prebuild) is a call into libgcc,
// which cost 13% of the encoder's time.
struct BytePopcounts {
  uint8_t of[256];
  constexpr BytePopcounts() : of() {
    for (int b = 0; b < 256; ++b) of[b] = static_cast<uint8_t>((b & 1) + (b >> 1 & 1) + (b >> 2 & 1) + (b >> 3 & 1) +
                                                               (b >> 4 & 1) + (b >> 5 & 1) + (b >> 6 & 1) + (b >> 7));
  }
};
constexpr BytePopcounts kPopcount;

// Shuffles that keep, of 8 units encoded as [lead, continuation] byte pairs, the lead byte of each and the
// continuation of the non-ASCII ones: index bit j set when unit j is ASCII.
struct CompactShuffles {
  alignas(16) uint8_t masks[256][16];
  CompactShuffles() {
    for (int bits = 0; bits < 256; ++bits) {
      int n = 0;
      for (int j = 0; j < 8; ++j) {
        masks[bits][n++] = static_cast<uint8_t>(2 * j);
        if (((bits >> j) & 1) == 0) masks[bits][n++] = static_cast<uint8_t>(2 * j + 1);
      }
      while (n < 16) masks[bits][n++] = 0x80;  // a zero byte, past the block's bytes
    }
  }
};

// Eight units a step while every unit of the batch is below U+0800 (ASCII, Latin, Greek, Cyrillic, Armenian, Hebrew,
// Arabic...): each becomes a [lead, continuation] pair and one shuffle drops the continuation of the ASCII ones. Keys
// are a few units long, and branching per key or per unit on lengths and scripts mispredicted about once a key,
// which cost more than the encoding. Block b's bytes start at starts[b] and bits[b] marks its ASCII units, so a
// key boundary's byte offset follows from its unit index. The last partial block is padded with NULs. False when a
// unit is U+0800 or above (surrogates included: those batches go key by key); out then holds nothing usable.
__attribute__((target("ssse3"))) bool EncodeBelow800Ssse3(const char16_t* units, size_t length, uint8_t* out,
                                                            uint32_t* starts, uint8_t* bits) {
  static const CompactShuffles shuffles;
  const __m128i zero = _mm_setzero_si128();
  uint32_t at = 0;
  for (size_t i = 0, block = 0; i < length; i += 8, ++block) {
    __m128i v;
    if (length - i >= 8) {
      v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(units + i));
    } else {
      char16_t tail[8] = {};
      std::memcpy(tail, units + i, (length - i) * sizeof(char16_t));
      v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tail));
    }
    const __m128i below800 = _mm_cmpeq_epi16(_mm_and_si128(v, _mm_set1_epi16(static_cast<short>(0xF800))), zero);
    if (_mm_movemask_epi8(below800) != 0xFFFF) return false;
    const __m128i ascii = _mm_cmpeq_epi16(_mm_and_si128(v, _mm_set1_epi16(static_cast<short>(0xFF80))), zero);
    const __m128i lead2 = _mm_or_si128(_mm_srli_epi16(v, 6), _mm_set1_epi16(0xC0));
    const __m128i lead = _mm_or_si128(_mm_and_si128(ascii, v), _mm_andnot_si128(ascii, lead2));
    const __m128i cont = _mm_or_si128(_mm_and_si128(v, _mm_set1_epi16(0x3F)), _mm_set1_epi16(0x80));
    const __m128i pairs = _mm_or_si128(lead, _mm_slli_epi16(cont, 8));
    const int asciiBits = _mm_movemask_epi8(_mm_packs_epi16(ascii, zero)) & 0xFF;
    const __m128i shuffle = _mm_load_si128(reinterpret_cast<const __m128i*>(shuffles.masks[asciiBits]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + at), _mm_shuffle_epi8(pairs, shuffle));
    starts[block] = at;
    bits[block] = static_cast<uint8_t>(asciiBits);
    at += 16 - uint32_t{kPopcount.of[asciiBits]};
  }
  starts[(length + 7) / 8] = at;
  bits[(length + 7) / 8] = 0;
  return true;
}

bool HasSsse3() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_SSSE3) != 0;
}
#endif

}  // namespace

size_t EncodeKeysUtf8(const char16_t* units, const uint32_t* offsets, size_t count, uint8_t* out,
                      uint32_t* byteOffsets, uint32_t* scratch) {
#if HOTPATH_ENCODE_SSSE3
  static const bool ssse3 = HasSsse3();
  const size_t length = offsets[count];
  uint32_t* starts = scratch;
  auto* bits = reinterpret_cast<uint8_t*>(scratch + length / 8 + 2);
  if (ssse3 && EncodeBelow800Ssse3(units, length, out, starts, bits)) {
    for (size_t k = 0; k <= count; ++k) {
      const uint32_t unit = offsets[k], block = unit / 8, lane = unit % 8;
      const uint32_t asciiBefore = kPopcount.of[bits[block] & ((1u << lane) - 1)];
      byteOffsets[k] = starts[block] + 2 * lane - asciiBefore;
    }
    return byteOffsets[count] - byteOffsets[0];
  }
#else
  (void)scratch;
#endif
  uint8_t* const start = out;
  byteOffsets[0] = 0;
  for (size_t k = 0; k < count; ++k) {
    size_t i = offsets[k];
    const size_t end = offsets[k + 1];
    // Two units at a time while both are below U+0800 (ASCII, Latin, Greek, Cyrillic, Hebrew, Arabic...): their 2 to
    // 4 bytes go out in one 4-byte store, without a branch on ASCII or not (digits between letters would mispredict
    // it). The store may run 2 bytes past them, within the 3 bytes per unit out has, and is overwritten next.
    while (end - i >= 2) {
      const uint32_t a = units[i], b = units[i + 1];
      if ((a | b) >= 0x800) {
        EncodeCodePoint(units, i, end, out);
        continue;
      }
      uint32_t aBytes, bBytes;
      const uint32_t first = EncodeBelow800(a, &aBytes);  // before the shift that reads aBytes
      const uint32_t encoded = first | (EncodeBelow800(b, &bBytes) << (8 * aBytes));
      std::memcpy(out, &encoded, 4);  // little-endian: the first unit's bytes first
      out += aBytes + bBytes;
      i += 2;
    }
    if (i < end) EncodeCodePoint(units, i, end, out);
    byteOffsets[k + 1] = static_cast<uint32_t>(out - start);
  }
  return static_cast<size_t>(out - start);
}

template uint32_t Update<uint32_t>(uint32_t*, const Shape&, uint64_t, int64_t);
template uint64_t Update<uint64_t>(uint64_t*, const Shape&, uint64_t, int64_t);
template uint32_t Estimate<uint32_t>(const uint32_t*, const Shape&, uint64_t);
template uint64_t Estimate<uint64_t>(const uint64_t*, const Shape&, uint64_t);
template void UpdateMany<uint32_t>(uint32_t*, const Shape&, const Keys&, const double*, double*);
template void UpdateMany<uint64_t>(uint64_t*, const Shape&, const Keys&, const double*, double*);
template void AddHashes<uint32_t>(uint32_t*, const Shape&, const uint64_t*, size_t);
template void AddHashes<uint64_t>(uint64_t*, const Shape&, const uint64_t*, size_t);
template void UpdateHashes<uint32_t>(uint32_t*, const Shape&, const uint64_t*, size_t, const double*, double*);
template void UpdateHashes<uint64_t>(uint64_t*, const Shape&, const uint64_t*, size_t, const double*, double*);
template void EstimateMany<uint32_t>(const uint32_t*, const Shape&, const Keys&, double*);
template void EstimateMany<uint64_t>(const uint64_t*, const Shape&, const Keys&, double*);
template void Merge<uint32_t>(uint32_t*, const uint32_t*, size_t, uint64_t);
template void Merge<uint64_t>(uint64_t*, const uint64_t*, size_t, uint64_t);
template uint64_t UpdateLines<uint32_t>(uint32_t*, const Shape&, const uint8_t*, size_t, const LineFormat&, unsigned);
template uint64_t UpdateLines<uint64_t>(uint64_t*, const Shape&, const uint8_t*, size_t, const LineFormat&, unsigned);
template uint64_t UpdateLinesCandidates<uint32_t>(uint32_t*, const Shape&, const uint8_t*, size_t, const LineFormat&,
                                                  uint64_t, size_t, std::vector<LineCandidate>&);
template uint64_t UpdateLinesCandidates<uint64_t>(uint64_t*, const Shape&, const uint8_t*, size_t, const LineFormat&,
                                                  uint64_t, size_t, std::vector<LineCandidate>&);

}  // namespace hotpath::countmin
