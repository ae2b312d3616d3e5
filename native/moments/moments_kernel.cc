#include "moments_kernel.h"

#include <cmath>
#include <cstring>
#include <string>

#include "../common/errors.h"

namespace hotpath::moments {

Partial Merge(const Partial& a, const Partial& b) {
  if (a.n == 0) {
    Partial out = b;
    out.nanCount += a.nanCount;
    return out;
  }
  if (b.n == 0) {
    Partial out = a;
    out.nanCount += b.nanCount;
    return out;
  }
  const double na = a.n, nb = b.n, n = na + nb;
  const double delta = (b.shift - a.shift) + (b.mean - a.mean);
  const double dn = delta / n;
  const double dn2 = dn * dn;
  const double nanb = na * nb;
  Partial out;
  out.n = n;
  out.shift = a.shift;
  out.mean = a.mean + nb * dn;
  out.m2 = a.m2 + b.m2 + delta * dn * nanb;
  out.m3 = a.m3 + b.m3 + delta * dn2 * nanb * (na - nb) + 3.0 * dn * (na * b.m2 - nb * a.m2);
  out.m4 = a.m4 + b.m4 + delta * dn2 * dn * nanb * (na * na - nanb + nb * nb) +
           6.0 * dn2 * (na * na * b.m2 + nb * nb * a.m2) + 4.0 * dn * (na * b.m3 - nb * a.m3);
  // NaN-aware min/max so a propagated NaN survives merging (std::fmin would drop it).
  out.min = (a.min < b.min || std::isnan(a.min)) ? a.min : b.min;
  out.max = (a.max > b.max || std::isnan(a.max)) ? a.max : b.max;
  out.nanCount = a.nanCount + b.nanCount;
  return out;
}

namespace {

constexpr int kLanes = 4;

// Four double lanes as one GCC/Clang vector: explicit lanes fix the summation order (the TS twin
// reproduces it exactly) and vectorize without -ffast-math; two SSE2 registers by default, one
// AVX2 register in the avx2 clone below.
typedef double Lanes __attribute__((vector_size(32)));
typedef float FloatLanes __attribute__((vector_size(16)));
typedef long long LaneMask __attribute__((vector_size(32)));

inline Lanes Load(const double* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);  // unaligned load: subarray views are only element-aligned
  return v;
}
inline Lanes Load(const float* p) {
  FloatLanes v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, Lanes);
}

inline double SumLanes(Lanes v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// Moments of one block: pass 1 sums (about the shift), min and max, pass 2 accumulates central
// powers about the block mean while the block is still in L1. Returns false, leaving *out
// untouched, when the block holds a NaN (the caller then applies the NaN policy).
template <typename T>
__attribute__((always_inline)) inline bool BlockImpl(const T* x, size_t len, double shift, Partial* out) {
  const Lanes zero = {0, 0, 0, 0};
  Lanes s = zero, lo = zero + INFINITY, hi = zero - INFINITY;
  LaneMask nan = {0, 0, 0, 0};
  const size_t body = len - len % kLanes;
  for (size_t i = 0; i < body; i += kLanes) {
    const Lanes v = Load(x + i);
    s += v - shift;
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
    nan |= v != v;
  }
  for (size_t i = body; i < len; ++i) {
    const int l = static_cast<int>(i - body);
    const double v = static_cast<double>(x[i]);
    s[l] += v - shift;
    lo[l] = v < lo[l] ? v : lo[l];
    hi[l] = v > hi[l] ? v : hi[l];
    nan[l] |= v != v;
  }
  if (nan[0] | nan[1] | nan[2] | nan[3]) return false;
  Partial p;
  p.n = static_cast<double>(len);
  p.shift = shift;
  p.mean = SumLanes(s) / p.n;
  // Same compare-and-select as the lanes (not fmin) so signed zeros resolve as in the TS twin.
  double mn = lo[0], mx = hi[0];
  for (int l = 1; l < kLanes; ++l) {
    mn = lo[l] < mn ? lo[l] : mn;
    mx = hi[l] > mx ? hi[l] : mx;
  }
  p.min = mn;
  p.max = mx;

  Lanes q2 = zero, q3 = zero, q4 = zero;
  const double mean = p.mean;
  for (size_t i = 0; i < body; i += kLanes) {
    const Lanes d = (Load(x + i) - shift) - mean;
    const Lanes d2 = d * d;
    q2 += d2;
    q3 += d2 * d;
    q4 += d2 * d2;
  }
  for (size_t i = body; i < len; ++i) {
    const int l = static_cast<int>(i - body);
    const double d = (static_cast<double>(x[i]) - shift) - mean;
    const double d2 = d * d;
    q2[l] += d2;
    q3[l] += d2 * d;
    q4[l] += d2 * d2;
  }
  p.m2 = SumLanes(q2);
  p.m3 = SumLanes(q3);
  p.m4 = SumLanes(q4);
  *out = p;
  return true;
}

// Function multiversioning: the prebuild stays portable (baseline x86-64) and still runs AVX2
// code where the CPU has it. The lane order is the same in both clones, so results are identical.
// target_clones needs ifunc: glibc has it; musl and Windows (PE) do not.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__GLIBC__)
#define HOTPATH_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define HOTPATH_MULTIVERSION
#endif

HOTPATH_MULTIVERSION bool Block(const double* x, size_t len, double shift, Partial* out) {
  return BlockImpl(x, len, shift, out);
}
HOTPATH_MULTIVERSION bool Block(const float* x, size_t len, double shift, Partial* out) {
  return BlockImpl(x, len, shift, out);
}

template <typename T>
size_t CountNaN(const T* x, size_t len) {
  size_t count = 0;
  for (size_t i = 0; i < len; ++i) count += x[i] != x[i];
  return count;
}

Partial NaNBlock(size_t len, size_t nans) {
  Partial p;
  p.n = static_cast<double>(len);
  p.shift = 0;
  p.mean = p.m2 = p.m3 = p.m4 = p.min = p.max = NAN;
  p.nanCount = static_cast<double>(nans);
  return p;
}

template <typename T>
double FirstFinite(const T* x, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (std::isfinite(x[i])) return static_cast<double>(x[i]);
  }
  return 0;
}

template <typename T>
Partial AccumulateImpl(const T* data, size_t length, NanPolicy policy, size_t indexBase) {
  Partial total;
  const double shift = FirstFinite(data, length);
  T kept[kBlock];
  for (size_t start = 0; start < length; start += kBlock) {
    const size_t len = length - start < kBlock ? length - start : kBlock;
    const T* x = data + start;
    Partial block;
    if (Block(x, len, shift, &block)) {
      total = Merge(total, block);
      continue;
    }
    const size_t nans = CountNaN(x, len);
    if (policy == NanPolicy::Propagate) {
      block = NaNBlock(len, nans);
    } else if (policy == NanPolicy::Raise) {
      // Bounded by len: another thread may have overwritten the NaN since Block saw it (shared memory).
      size_t i = 0;
      while (i < len && x[i] == x[i]) ++i;
      if (i == len) {
        throw RangeError("values contained NaN that another thread overwrote during the call (nan: 'raise')");
      }
      throw RangeError("values contains NaN at index " + std::to_string(indexBase + start + i) +
                       " (nan: 'raise')");
    } else {
      size_t k = 0;
      for (size_t i = 0; i < len; ++i) {
        if (x[i] == x[i]) kept[k++] = x[i];
      }
      if (k == 0 || !Block(kept, k, shift, &block)) block = Partial();
      block.nanCount = static_cast<double>(nans);
    }
    total = Merge(total, block);
  }
  return total;
}

}  // namespace

Partial Accumulate(const double* data, size_t length, NanPolicy policy, size_t indexBase) {
  return AccumulateImpl(data, length, policy, indexBase);
}
Partial Accumulate(const float* data, size_t length, NanPolicy policy, size_t indexBase) {
  return AccumulateImpl(data, length, policy, indexBase);
}

}  // namespace hotpath::moments
