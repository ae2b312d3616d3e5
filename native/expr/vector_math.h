// Branch-free sin, cos, exp and log over a block, written so the compiler vectorizes the loop (SSE2 in the
// baseline build, AVX2 in the target_clones copy): Cody-Waite reduction by pi/2 in three parts and
// fdlibm's minimax polynomials on [-pi/4, pi/4]. Within about 2 ulps of the true value for
// |x| <= kVectorTrigLimit; blocks holding anything larger (or NaN/Inf) fall back to libm, which
// reduces huge arguments exactly. exp: reduction by ln 2 and a degree-13 Taylor polynomial, the
// power of two built in the exponent bits, for |x| <= kVectorExpLimit (results stay normal). log:
// fdlibm's reduction to [sqrt(2)/2, sqrt(2)) and its polynomial, for positive normal arguments.
// glibc's scalar functions are what numexpr calls per element.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hotpath::expr {

constexpr double kVectorTrigLimit = 1e5;
constexpr double kVectorExpLimit = 708;

// With `cosine`, evaluates cos(x) = sin(x + pi/2) by shifting the quadrant by one.
template <bool cosine>
inline double SinCosKernel(double x) {
  constexpr double kTwoOverPi = 6.36619772367581382433e-01;
  constexpr double kPio2_1 = 1.57079632673412561417e+00;   // first 33 bits of pi/2
  constexpr double kPio2_2 = 6.07710050630396597660e-11;   // next 33 bits
  constexpr double kPio2_3 = 2.02226624871116645580e-21;   // the rest
  constexpr double kRound = 6755399441055744.0;            // 1.5 * 2^52: adding it rounds to an integer
  const double shifted = x * kTwoOverPi + kRound;
  const double k = shifted - kRound;
  uint64_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);  // the low mantissa bits hold k (two's complement)
  const uint64_t quadrant = bits + (cosine ? 1 : 0);
  const double r = ((x - k * kPio2_1) - k * kPio2_2) - k * kPio2_3;
  const double z = r * r;
  const double s = r + r * z * (-1.66666666666666324348e-01 + z * (8.33333333332248946124e-03 + z * (-1.98412698298579493134e-04 +
                   z * (2.75573137070700676789e-06 + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)))));
  const double c = (1.0 - 0.5 * z) + z * z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03 + z * (2.48015872894767294178e-05 +
                   z * (-2.75573143513906633035e-07 + z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)))));
  // Quadrant select and sign flip as bit operations: a branch would stop the loop vectorizing.
  uint64_t sBits, cBits;
  std::memcpy(&sBits, &s, sizeof sBits);
  std::memcpy(&cBits, &c, sizeof cBits);
  const uint64_t pickCos = uint64_t{0} - (quadrant & 1);
  const uint64_t resultBits = ((sBits & ~pickCos) | (cBits & pickCos)) ^ ((quadrant & 2) << 62);
  double result;
  std::memcpy(&result, &resultBits, sizeof result);
  return result;
}

inline double ExpKernel(double x) {
  constexpr double kLog2e = 1.44269504088896338700e+00;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;  // low bits zero: k * kLn2Hi is exact
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kRound = 6755399441055744.0;
  const double shifted = x * kLog2e + kRound;
  const double k = shifted - kRound;
  uint64_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;  // |r| <= ln(2)/2
  double p = 1.0 / 6227020800.0;                   // 1/13!
  constexpr double kInverseFactorials[] = {1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040,
                                           1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0};
  for (double c : kInverseFactorials) p = p * r + c;
  const uint64_t scaleBits = (bits + 1023) << 52;  // 2^k: k sits in the low bits of `shifted`
  double scale;
  std::memcpy(&scale, &scaleBits, sizeof scale);
  return p * scale;
}

inline double LogKernel(double x) {
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kTwoTo52 = 4503599627370496.0;
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  // Mantissa in [1, 2); above sqrt(2) it is halved and the exponent bumped, using integer arithmetic
  // on the bits (positive doubles order like their bit patterns) so the loop has no branch to vectorize around.
  constexpr uint64_t kSqrt2Bits = 0x3ff6a09e667f3bcdULL;
  const uint64_t mantissaBits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  const uint64_t high = (kSqrt2Bits - mantissaBits) >> 63;  // 1 when the mantissa exceeds sqrt(2)
  const uint64_t reducedBits = mantissaBits - (high << 52);
  double m;
  std::memcpy(&m, &reducedBits, sizeof m);
  // Exponent (plus the bump) as a double via the 2^52 trick: AVX2 has no int64 -> double conversion.
  const uint64_t exponentBits = ((bits >> 52) + high) | 0x4330000000000000ULL;
  double k;
  std::memcpy(&k, &exponentBits, sizeof k);
  k -= kTwoTo52 + 1023;
  const double f = m - 1.0;
  const double s = f / (2.0 + f);
  const double z = s * s;
  const double w = z * z;
  const double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
  const double t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
  const double hfsq = 0.5 * f * f;
  return k * kLn2Hi - ((hfsq - (s * (hfsq + (t1 + t2)) + k * kLn2Lo)) - f);
}

// d[i] = f(a[i]) with the vectorized kernel when every a[i] is in [lowest, highest], else libm for the whole
// block (huge, NaN or infinite arguments are rare; checking first lets d alias a).
template <class T, class Kernel, class Fallback>
inline void VectorBlock(T* d, const T* a, size_t n, double lowest, double highest, Kernel kernel, Fallback fallback) {
  size_t outside = 0;
  for (size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(a[i]);
    outside += !((x >= lowest) & (x <= highest));  // & not &&: no branch in the loop
  }
  if (outside != 0) {
    for (size_t i = 0; i < n; ++i) d[i] = static_cast<T>(fallback(static_cast<double>(a[i])));
    return;
  }
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<T>(kernel(static_cast<double>(a[i])));
}

}  // namespace hotpath::expr
