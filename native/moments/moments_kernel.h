// One-pass streaming moments (count, mean, central sums M2..M4, min, max) over float arrays.
// The pure-TS twin in src/moments/kernel.ts follows the same block layout, lane order and merge
// formulas, so both backends produce bit-identical partials for the same input.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hotpath::moments {

enum class NanPolicy : uint32_t { Propagate = 0, Omit = 1, Raise = 2 };

// Sums are kept about a shift (the first finite value seen) so that data like 1e9 + noise works
// with small, exactly representable deviations: the mean is shift + mean, and merging two partials
// computes the difference of their means as (shift_b - shift_a) + (mean_b - mean_a) without the
// rounding of two large means.
struct Partial {
  double n = 0;
  double shift = 0;
  double mean = 0;  // mean of (x - shift)
  double m2 = 0;
  double m3 = 0;
  double m4 = 0;
  double min = 1.0 / 0.0;
  double max = -1.0 / 0.0;
  double nanCount = 0;
};

// Elements per block: large enough that the per-block merge is noise, small enough that the
// second (central-sum) pass over the block hits L1. Must match BLOCK in src/moments/kernel.ts.
constexpr size_t kBlock = 2048;

// Pebay's pairwise update: exact combination of two partials (used across blocks and threads).
Partial Merge(const Partial& a, const Partial& b);

// Moments of data[0, length). Throws hotpath::RangeError under NanPolicy::Raise on a NaN,
// naming its index (offset by indexBase so chunked callers report the caller's index).
Partial Accumulate(const double* data, size_t length, NanPolicy policy, size_t indexBase = 0);
Partial Accumulate(const float* data, size_t length, NanPolicy policy, size_t indexBase = 0);

}  // namespace hotpath::moments
