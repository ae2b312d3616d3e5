#include "moments_kernel.h"

#include <cmath>
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

// Moments of one NaN-free block: pass 1 sums (and min/max) in four lanes, pass 2 accumulates
// central powers about the block mean while the block is still in L1. Four independent lanes let
// the compiler vectorize without -ffast-math and fix the summation order the TS twin reproduces.
template <typename T>
Partial Block(const T* x, size_t len, double shift) {
  double s[kLanes] = {0, 0, 0, 0};
  double lo[kLanes] = {INFINITY, INFINITY, INFINITY, INFINITY};
  double hi[kLanes] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
  const size_t body = len - len % kLanes;
  for (size_t i = 0; i < body; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double v = static_cast<double>(x[i + l]);
      s[l] += v - shift;
      lo[l] = v < lo[l] ? v : lo[l];
      hi[l] = v > hi[l] ? v : hi[l];
    }
  }
  for (size_t i = body; i < len; ++i) {
    const int l = static_cast<int>(i - body);
    const double v = static_cast<double>(x[i]);
    s[l] += v - shift;
    lo[l] = v < lo[l] ? v : lo[l];
    hi[l] = v > hi[l] ? v : hi[l];
  }
  Partial p;
  p.n = static_cast<double>(len);
  p.shift = shift;
  p.mean = ((s[0] + s[1]) + (s[2] + s[3])) / p.n;
  // Same compare-and-select as the lanes (not fmin) so signed zeros resolve as in the TS twin.
  for (int l = 1; l < kLanes; ++l) {
    lo[0] = lo[l] < lo[0] ? lo[l] : lo[0];
    hi[0] = hi[l] > hi[0] ? hi[l] : hi[0];
  }
  p.min = lo[0];
  p.max = hi[0];

  double q2[kLanes] = {0, 0, 0, 0}, q3[kLanes] = {0, 0, 0, 0}, q4[kLanes] = {0, 0, 0, 0};
  const double mean = p.mean;
  for (size_t i = 0; i < body; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double d = (static_cast<double>(x[i + l]) - shift) - mean;
      const double d2 = d * d;
      q2[l] += d2;
      q3[l] += d2 * d;
      q4[l] += d2 * d2;
    }
  }
  for (size_t i = body; i < len; ++i) {
    const int l = static_cast<int>(i - body);
    const double d = (static_cast<double>(x[i]) - shift) - mean;
    const double d2 = d * d;
    q2[l] += d2;
    q3[l] += d2 * d;
    q4[l] += d2 * d2;
  }
  p.m2 = (q2[0] + q2[1]) + (q2[2] + q2[3]);
  p.m3 = (q3[0] + q3[1]) + (q3[2] + q3[3]);
  p.m4 = (q4[0] + q4[1]) + (q4[2] + q4[3]);
  return p;
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
    const size_t nans = CountNaN(x, len);
    Partial block;
    if (nans == 0) {
      block = Block(x, len, shift);
    } else if (policy == NanPolicy::Propagate) {
      block = NaNBlock(len, nans);
    } else if (policy == NanPolicy::Raise) {
      size_t i = 0;
      while (x[i] == x[i]) ++i;
      throw RangeError("values contains NaN at index " + std::to_string(indexBase + start + i) +
                       " (nan: 'raise')");
    } else {
      size_t k = 0;
      for (size_t i = 0; i < len; ++i) {
        if (x[i] == x[i]) kept[k++] = x[i];
      }
      block = k > 0 ? Block(kept, k, shift) : Partial();
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
