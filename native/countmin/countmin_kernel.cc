#include "countmin_kernel.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>

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

}  // namespace

uint64_t XXH64(const uint8_t* p, size_t length, uint64_t seed) {
  const uint8_t* const end = p + length;
  uint64_t h;
  if (length >= 32) {
    const uint8_t* const limit = end - 32;
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
  h += static_cast<uint64_t>(length);
  for (; p + 8 <= end; p += 8) h = Rotl(h ^ Round(0, Read64(p)), 27) * kP1 + kP4;
  if (p + 4 <= end) {
    h = Rotl(h ^ (static_cast<uint64_t>(Read32(p)) * kP1), 23) * kP2 + kP3;
    p += 4;
  }
  for (; p < end; ++p) h = Rotl(h ^ (*p * kP5), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

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
void UpdateMany(Counter* counters, const Shape& shape, const Keys& keys, const double* counts, double* estimates) {
  for (size_t i = 0; i < keys.count; ++i) {
    const uint32_t begin = keys.offsets[i];
    const uint64_t h = XXH64(keys.bytes + begin, keys.offsets[i + 1] - begin, shape.seed);
    const Counter estimate = Update(counters, shape, h, counts ? static_cast<int64_t>(counts[i]) : 1);
    if (estimates) estimates[i] = static_cast<double>(estimate);
  }
}

template <typename Counter>
void EstimateMany(const Counter* counters, const Shape& shape, const Keys& keys, double* out) {
  for (size_t i = 0; i < keys.count; ++i) {
    const uint32_t begin = keys.offsets[i];
    out[i] = static_cast<double>(Estimate(counters, shape, XXH64(keys.bytes + begin, keys.offsets[i + 1] - begin, shape.seed)));
  }
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

inline bool IsAsciiSpace(uint8_t b) { return b == ' ' || (b >= '\t' && b <= '\r'); }

// Calls key(begin, length) for every non-empty key of bytes[0, length) in order; returns how many.
// memchr finds single-byte separators (vectorized in libc); every read stays inside [0, length).
template <typename KeyFn>
uint64_t ForEachKey(const uint8_t* bytes, size_t length, const LineFormat& format, KeyFn&& key) {
  uint64_t keys = 0;
  size_t start = 0;
  if (format.separator == kWhitespace) {
    while (start < length) {
      while (start < length && IsAsciiSpace(bytes[start])) ++start;
      size_t end = start;
      while (end < length && !IsAsciiSpace(bytes[end])) ++end;
      if (end > start) {
        key(bytes + start, end - start);
        ++keys;
      }
      start = end;
    }
    return keys;
  }
  const int separator = format.separator;
  const bool stripCR = format.stripCR;
  while (start < length) {
    const void* hit = std::memchr(bytes + start, separator, length - start);
    const size_t end = hit ? static_cast<size_t>(static_cast<const uint8_t*>(hit) - bytes) : length;
    size_t keyEnd = end;
    if (stripCR && hit && keyEnd > start && bytes[keyEnd - 1] == '\r') --keyEnd;
    if (keyEnd > start) {
      key(bytes + start, keyEnd - start);
      ++keys;
    }
    start = end + 1;
  }
  return keys;
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

}  // namespace

template <typename Counter>
uint64_t UpdateLines(Counter* counters, const Shape& shape, const uint8_t* bytes, size_t length,
                     const LineFormat& format, unsigned threads) {
  const auto updateAll = [&](Counter* into, const uint8_t* from, size_t size) {
    return ForEachKey(from, size, format, [&](const uint8_t* key, size_t n) { Update(into, shape, XXH64(key, n, shape.seed), 1); });
  };
  const size_t parts = std::min<size_t>(threads, length / kBytesPerThread);
  if (shape.conservative || parts < 2) return updateAll(counters, bytes, length);
  std::vector<size_t> bounds(parts + 1, length);
  bounds[0] = 0;
  for (size_t p = 1; p < parts; ++p) bounds[p] = NextBoundary(bytes, length, std::max(bounds[p - 1], length / parts * p), format);
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
    keys[p] = updateAll(into, bytes + bounds[p], bounds[p + 1] - bounds[p]);
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
  const uint64_t keys = ForEachKey(bytes, length, format, [&](const uint8_t* key, size_t n) {
    const uint64_t estimate = Update(counters, shape, XXH64(key, n, shape.seed), 1);
    if (estimate < threshold || limit == 0) return;
    const std::string_view view(reinterpret_cast<const char*>(key), n);
    auto [it, inserted] = seen.try_emplace(view, Seen{static_cast<size_t>(key - bytes), estimate});
    if (!inserted) it->second.estimate = std::max(it->second.estimate, estimate);
    if (seen.size() <= prune) return;
    scratch.clear();
    for (const auto& entry : seen) scratch.push_back(entry.second.estimate);
    std::nth_element(scratch.begin(), scratch.begin() + (limit - 1), scratch.end(), std::greater<uint64_t>());
    threshold = std::max(threshold, scratch[limit - 1]);
    for (auto i = seen.begin(); i != seen.end();) i = i->second.estimate < threshold ? seen.erase(i) : std::next(i);
  });
  out.clear();
  for (const auto& [view, entry] : seen) out.push_back(LineCandidate{entry.offset, view.size(), entry.estimate});
  std::sort(out.begin(), out.end(), [](const LineCandidate& a, const LineCandidate& b) {
    return a.estimate != b.estimate ? a.estimate > b.estimate : a.offset < b.offset;
  });
  if (out.size() > limit) out.resize(limit);
  return keys;
}

void AppendUtf8(const char16_t* units, size_t length, std::string& out) {
  size_t i = 0;
  while (i < length) {
    // Copy a run of ASCII in one resize: the common case for keys.
    size_t run = i;
    while (run < length && units[run] < 0x80) ++run;
    if (run > i) {
      const size_t at = out.size();
      out.resize(at + (run - i));
      for (size_t j = i; j < run; ++j) out[at + j - i] = static_cast<char>(units[j]);
      i = run;
      if (i == length) break;
    }
    uint32_t cp = units[i++];
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      const bool pairs = cp <= 0xDBFF && i < length && units[i] >= 0xDC00 && units[i] <= 0xDFFF;
      if (pairs) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (units[i++] - 0xDC00);
      } else {
        cp = 0xFFFD;
      }
    }
    if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    }
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

template uint32_t Update<uint32_t>(uint32_t*, const Shape&, uint64_t, int64_t);
template uint64_t Update<uint64_t>(uint64_t*, const Shape&, uint64_t, int64_t);
template uint32_t Estimate<uint32_t>(const uint32_t*, const Shape&, uint64_t);
template uint64_t Estimate<uint64_t>(const uint64_t*, const Shape&, uint64_t);
template void UpdateMany<uint32_t>(uint32_t*, const Shape&, const Keys&, const double*, double*);
template void UpdateMany<uint64_t>(uint64_t*, const Shape&, const Keys&, const double*, double*);
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
