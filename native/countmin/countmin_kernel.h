// Count-min sketch kernel: xxHash64 of each key's bytes, Kirsch–Mitzenmacher row indices, and
// saturating u32/u64 counters with plain or conservative (Estan–Varghese) update. The pure-TS twin
// in src/countmin/kernel.ts follows the same hash, index derivation and saturation rules, so both
// backends produce byte-identical counters for the same updates.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

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

// Estimate() of every key into out[i].
template <typename Counter>
void EstimateMany(const Counter* counters, const Shape& shape, const Keys& keys, double* out);

// dst[i] = min(dst[i] + weight * src[i], max) for i in [0, cells).
template <typename Counter>
void Merge(Counter* dst, const Counter* src, size_t cells, uint64_t weight);

// Appends the UTF-8 form of UTF-16 code units to out, replacing each unpaired surrogate with
// U+FFFD exactly as TextEncoder and Buffer.from do.
void AppendUtf8(const char16_t* units, size_t length, std::string& out);

}  // namespace hotpath::countmin
