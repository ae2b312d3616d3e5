// Count-min sketch kernel: xxHash64 of each key's bytes, Kirsch–Mitzenmacher row indices, and
// saturating u32/u64 counters with plain or conservative (Estan–Varghese) update. The pure-TS twin
// in src/countmin/kernel.ts follows the same hash, index derivation and saturation rules, so both
// backends produce byte-identical counters for the same updates.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hotpath::countmin {

// XXH64 (xxHash specification v0.1.1) of data[0, length) with a 64-bit seed.
uint64_t XXH64(const uint8_t* data, size_t length, uint64_t seed);

// The dimensions and update rule of one sketch. Counters are row-major: row r, column c is
// counters[r * width + c].
struct Shape {
  uint32_t width = 1;
  uint32_t depth = 1;
  uint64_t seed = 0;
  bool conservative = false;
};

// Column of row `row` for a key hashed to h: g = (lo32(h) + row * hi32(h)) mod 2^32
// (Kirsch–Mitzenmacher double hashing), mapped onto [0, width) as floor(g * width / 2^32)
// (Lemire's multiply-shift: a multiply instead of a division per row).
inline uint32_t Column(uint64_t h, uint32_t row, uint32_t width) {
  const uint32_t h1 = static_cast<uint32_t>(h);
  const uint32_t h2 = static_cast<uint32_t>(h >> 32);
  return static_cast<uint32_t>((static_cast<uint64_t>(h1 + row * h2) * width) >> 32);
}

// Adds `count` (negative: subtracts, only without conservative update) to the key hashed to h,
// saturating at 0 and at the counter's maximum. Returns the key's estimate after the update.
template <typename Counter>
Counter Update(Counter* counters, const Shape& shape, uint64_t h, int64_t count);

// The key's estimate: the minimum of its counters over all rows.
template <typename Counter>
Counter Estimate(const Counter* counters, const Shape& shape, uint64_t h);

// Keys as one byte buffer: key i is bytes[offsets[i], offsets[i + 1]).
struct Keys {
  const uint8_t* bytes = nullptr;
  const uint32_t* offsets = nullptr;
  size_t count = 0;
};

// Update() for every key, by counts[i] (each a safe integer; all 1 when counts is null), writing
// each key's estimate after its update to estimates[i] when estimates is not null. One loop in
// this file, so the hash and the update inline into it.
template <typename Counter>
void UpdateMany(Counter* counters, const Shape& shape, const Keys& keys, const double* counts, double* estimates);

// UpdateMany in two halves, for a pipeline that hashes on another thread. HashKeys writes the hash of every key to
// hashes[0, keys.count): in key order, or (inOrder false) in an order of its own, grouped by length as the byte path
// hashes, for AddHashes only. AddHashes adds 1 to the counters of each hash in a plain (not conservative) sketch,
// saturating: adding 1 commutes. UpdateHashes is Update() of each hash in order, by counts[i] (null: 1), writing
// estimates[i] when not null.
void HashKeys(const Keys& keys, uint64_t seed, bool inOrder, uint64_t* hashes);
template <typename Counter>
void AddHashes(Counter* counters, const Shape& shape, const uint64_t* hashes, size_t n);
template <typename Counter>
void UpdateHashes(Counter* counters, const Shape& shape, const uint64_t* hashes, size_t n, const double* counts,
                  double* estimates);

// Estimate() of every key into out[i].
template <typename Counter>
void EstimateMany(const Counter* counters, const Shape& shape, const Keys& keys, double* out);

// dst[i] = min(dst[i] + weight * src[i], max) for i in [0, cells).
template <typename Counter>
void Merge(Counter* dst, const Counter* src, size_t cells, uint64_t weight);

// How a byte stream splits into keys (updateLines): at every `separator` byte, or at runs of ASCII whitespace
// (kWhitespace: space, \t, \n, \v, \f, \r). With stripCR, a '\r' just before the separator is not part of the
// key (CRLF lines, read as readline reads them). Empty keys are skipped.
constexpr int kWhitespace = 256;
struct LineFormat {
  int separator = '\n';
  bool stripCR = true;
};

// Adds 1 to every key of bytes[0, length) (hashing each key's bytes, as UpdateMany does); returns the number
// of keys. With threads > 1 and a plain (not conservative) sketch, a large input is split at key boundaries
// over the process-wide thread pool, each part counted into its own counters, then summed into `counters`:
// counts are additive, so the result is the counters of one sequential pass (sums saturate the same way).
template <typename Counter>
uint64_t UpdateLines(Counter* counters, const Shape& shape, const uint8_t* bytes, size_t length,
                     const LineFormat& format, unsigned threads);

// A key of a byte stream, bytes[offset, offset + length), with its estimate.
struct LineCandidate {
  size_t offset = 0;
  size_t length = 0;
  uint64_t estimate = 0;
};

// UpdateLines in one sequential pass (a conservative sketch, as TopK's, depends on the order of updates), also
// collecting the distinct keys whose estimate after their update reached `threshold`, each with its last (and
// largest) estimate: at most `limit` of them, largest estimates first, in `out`. Returns the number of keys.
template <typename Counter>
uint64_t UpdateLinesCandidates(Counter* counters, const Shape& shape, const uint8_t* bytes, size_t length,
                               const LineFormat& format, uint64_t threshold, size_t limit,
                               std::vector<LineCandidate>& out);

// The UTF-8 of `count` keys given as UTF-16: key k is units[offsets[k], offsets[k + 1]), encoded alone, each unpaired
// surrogate as U+FFFD exactly as TextEncoder and Buffer.from do (a pair split between two keys is two of them). out
// has room for 3 bytes per unit plus 16; scratch room for offsets[count] / 4 + 4 values; byteOffsets[0..count]
// receives where each key starts and the last ends. Returns the bytes of the keys.
size_t EncodeKeysUtf8(const char16_t* units, const uint32_t* offsets, size_t count, uint8_t* out,
                      uint32_t* byteOffsets, uint32_t* scratch);

}  // namespace hotpath::countmin
