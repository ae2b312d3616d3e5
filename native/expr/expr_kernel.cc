#include "expr_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "../common/errors.h"
#include "../common/thread_pool.h"
#include "vector_math.h"

// Hot loops get an AVX2 clone picked at load time (ifunc: glibc only), so the prebuild stays baseline x86-64.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define HOTPATH_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define HOTPATH_CLONES
#endif
#define HOTPATH_INLINE inline __attribute__((always_inline))

namespace hotpath::expr {
namespace {

constexpr const char* kOpNames[] = {
    "neg", "not", "add", "sub", "mul", "div", "mod", "pow", "lt", "le", "eq", "ne", "ge", "gt", "and", "or", "where",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
    "exp", "expm1", "log", "log1p", "log10", "log2", "sqrt", "cbrt", "abs", "floor", "ceil", "trunc",
    "arctan2", "hypot", "minimum", "maximum", "fmod", "imod", "copy", "ones_like", "shl", "shr", "cast"};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == static_cast<size_t>(Op::kCount), "one name per opcode");

constexpr size_t kHeader = 5;
constexpr size_t kInstructionWords = 5;
// Below this many elements one thread does all the work: waking the pool costs more than it saves.
constexpr size_t kParallelMinLength = 1 << 15;

// JavaScript's Math.min / Math.max: NaN wins, and -0 is smaller than +0.
template <class T>
HOTPATH_INLINE T Minimum(T a, T b) {
  if (a != a || b != b) return a + b;
  if (a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}
template <class T>
HOTPATH_INLINE T Maximum(T a, T b) {
  if (a != a || b != b) return a + b;
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

// numexpr's float remainder x - floor(x/y)*y, in float64 also for float32 operands (then rounded
// once), exactly as the fused JS loop computes it.
HOTPATH_INLINE double FlooredRemainder(double x, double y) { return x - std::floor(x / y) * y; }

template <class T, class F>
HOTPATH_INLINE void Map1(T* d, const T* a, size_t n, F f) {
  for (size_t i = 0; i < n; ++i) d[i] = f(a[i]);
}
template <class T, class F>
HOTPATH_INLINE void Map2(T* d, const T* a, const T* b, size_t n, F f) {
  for (size_t i = 0; i < n; ++i) d[i] = f(a[i], b[i]);
}

// The C++ element type of each kind (bool registers hold 0 or 1).
template <Kind K> struct KindType;
template <> struct KindType<Kind::kBool> { using type = uint8_t; };
template <> struct KindType<Kind::kInt32> { using type = int32_t; };
template <> struct KindType<Kind::kInt64> { using type = int64_t; };
template <> struct KindType<Kind::kFloat32> { using type = float; };
template <> struct KindType<Kind::kFloat64> { using type = double; };

// Calls f.template operator()<T>() with the element type of `kind`.
template <class F>
HOTPATH_INLINE void WithType(Kind kind, F&& f) {
  switch (kind) {
    case Kind::kBool: f(uint8_t{}); break;
    case Kind::kInt32: f(int32_t{}); break;
    case Kind::kInt64: f(int64_t{}); break;
    case Kind::kFloat32: f(float{}); break;
    case Kind::kFloat64: f(double{}); break;
  }
}

// Integer arithmetic goes through the unsigned type: two's-complement wrap-around (NumPy's) without the
// signed overflow C++ leaves undefined.
template <class T>
using Unsigned = std::make_unsigned_t<T>;

// Floored integer remainder (sign of the divisor), 0 for a zero divisor (NumPy); y == -1 is 0 without
// dividing (INT_MIN % -1 traps on x86).
template <class T>
HOTPATH_INLINE T IntegerRemainder(T x, T y) {
  if (y == 0 || y == -1) return 0;
  const T r = x % y;
  return (r != 0 && ((r ^ y) < 0)) ? static_cast<T>(r + y) : r;
}

// Ops whose operands and result have one kind, for integer and bool registers.
template <class T>
HOTPATH_INLINE void ExecuteInteger(const Instruction& in, void* const* regs, size_t n) {
  T* d = static_cast<T*>(regs[in.dst]);
  const T* a = static_cast<const T*>(regs[in.a]);
  const T* b = static_cast<const T*>(regs[in.b]);
  using U = std::conditional_t<std::is_same_v<T, uint8_t>, uint8_t, std::make_unsigned_t<T>>;
  constexpr U kShiftMask = sizeof(T) * 8 - 1;
  switch (in.op) {
    case Op::kNeg: Map1(d, a, n, [](T x) { return static_cast<T>(U{0} - static_cast<U>(x)); }); break;
    case Op::kAdd: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(static_cast<U>(x) + static_cast<U>(y)); }); break;
    case Op::kSub: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(static_cast<U>(x) - static_cast<U>(y)); }); break;
    case Op::kMul: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(static_cast<U>(x) * static_cast<U>(y)); }); break;
    case Op::kIntMod: Map2(d, a, b, n, [](T x, T y) { return IntegerRemainder(x, y); }); break;
    case Op::kMinimum: Map2(d, a, b, n, [](T x, T y) { return x < y ? x : y; }); break;
    case Op::kMaximum: Map2(d, a, b, n, [](T x, T y) { return x > y ? x : y; }); break;
    case Op::kAnd: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(x & y); }); break;
    case Op::kOr: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(x | y); }); break;
    case Op::kNot:
      if constexpr (std::is_same_v<T, uint8_t>) Map1(d, a, n, [](T x) { return static_cast<T>(x ^ 1); });
      else Map1(d, a, n, [](T x) { return static_cast<T>(~x); });
      break;
    // The count modulo the width, as x86 (and JS for int32) shifts.
    case Op::kShl: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(static_cast<U>(x) << (static_cast<U>(y) & kShiftMask)); }); break;
    case Op::kShr: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(x >> (static_cast<U>(y) & kShiftMask)); }); break;
    case Op::kCopy: Map1(d, a, n, [](T x) { return x; }); break;
    case Op::kOnesLike: Map1(d, a, n, [](T) { return T{1}; }); break;
    default: break;  // Decode admits no other op on these kinds
  }
}

// Ops whose operands and result have one float kind. float32 functions compute in float64 and round once,
// as the fused JS loop does (Math.fround of Math.*): both backends agree, within an ulp of numexpr's sinf etc.
template <class T>
HOTPATH_INLINE void ExecuteFloat(const Instruction& in, void* const* regs, size_t n) {
  T* d = static_cast<T*>(regs[in.dst]);
  const T* a = static_cast<const T*>(regs[in.a]);
  const T* b = static_cast<const T*>(regs[in.b]);
  const T one = 1;
  switch (in.op) {
    case Op::kNeg: Map1(d, a, n, [](T x) { return -x; }); break;
    case Op::kAdd: Map2(d, a, b, n, [](T x, T y) { return x + y; }); break;
    case Op::kSub: Map2(d, a, b, n, [](T x, T y) { return x - y; }); break;
    case Op::kMul: Map2(d, a, b, n, [](T x, T y) { return x * y; }); break;
    case Op::kDiv: Map2(d, a, b, n, [](T x, T y) { return x / y; }); break;
    // numexpr's float remainder, x - floor(x/y)*y (sign of y); fmod is C's truncated one.
    case Op::kMod: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(FlooredRemainder(x, y)); }); break;
    case Op::kIntMod: Map2(d, a, b, n, [](T x, T y) { return y == 0 ? T{0} : static_cast<T>(FlooredRemainder(x, y)); }); break;
    case Op::kPow: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y))); }); break;
    case Op::kSin: VectorBlock(d, a, n, -kVectorTrigLimit, kVectorTrigLimit, [](double x) { return SinCosKernel<false>(x); }, [](double x) { return std::sin(x); }); break;
    case Op::kCos: VectorBlock(d, a, n, -kVectorTrigLimit, kVectorTrigLimit, [](double x) { return SinCosKernel<true>(x); }, [](double x) { return std::cos(x); }); break;
    case Op::kTan: Map1(d, a, n, [](T x) { return static_cast<T>(std::tan(static_cast<double>(x))); }); break;
    case Op::kArcsin: Map1(d, a, n, [](T x) { return static_cast<T>(std::asin(static_cast<double>(x))); }); break;
    case Op::kArccos: Map1(d, a, n, [](T x) { return static_cast<T>(std::acos(static_cast<double>(x))); }); break;
    case Op::kArctan: Map1(d, a, n, [](T x) { return static_cast<T>(std::atan(static_cast<double>(x))); }); break;
    case Op::kSinh: Map1(d, a, n, [](T x) { return static_cast<T>(std::sinh(static_cast<double>(x))); }); break;
    case Op::kCosh: Map1(d, a, n, [](T x) { return static_cast<T>(std::cosh(static_cast<double>(x))); }); break;
    case Op::kTanh: Map1(d, a, n, [](T x) { return static_cast<T>(std::tanh(static_cast<double>(x))); }); break;
    case Op::kArcsinh: Map1(d, a, n, [](T x) { return static_cast<T>(std::asinh(static_cast<double>(x))); }); break;
    case Op::kArccosh: Map1(d, a, n, [](T x) { return static_cast<T>(std::acosh(static_cast<double>(x))); }); break;
    case Op::kArctanh: Map1(d, a, n, [](T x) { return static_cast<T>(std::atanh(static_cast<double>(x))); }); break;
    case Op::kExp: VectorBlock(d, a, n, -kVectorExpLimit, kVectorExpLimit, [](double x) { return ExpKernel(x); }, [](double x) { return std::exp(x); }); break;
    case Op::kExpm1: Map1(d, a, n, [](T x) { return static_cast<T>(std::expm1(static_cast<double>(x))); }); break;
    case Op::kLog:
      VectorBlock(d, a, n, std::numeric_limits<double>::min(), std::numeric_limits<double>::max(), [](double x) { return LogKernel(x); }, [](double x) { return std::log(x); });
      break;
    case Op::kLog1p: Map1(d, a, n, [](T x) { return static_cast<T>(std::log1p(static_cast<double>(x))); }); break;
    case Op::kLog10: Map1(d, a, n, [](T x) { return static_cast<T>(std::log10(static_cast<double>(x))); }); break;
    case Op::kLog2: Map1(d, a, n, [](T x) { return static_cast<T>(std::log2(static_cast<double>(x))); }); break;
    case Op::kSqrt: Map1(d, a, n, [](T x) { return static_cast<T>(std::sqrt(static_cast<double>(x))); }); break;
    case Op::kCbrt: Map1(d, a, n, [](T x) { return static_cast<T>(std::cbrt(static_cast<double>(x))); }); break;
    case Op::kAbs: Map1(d, a, n, [](T x) { return std::fabs(x); }); break;
    case Op::kFloor: Map1(d, a, n, [](T x) { return std::floor(x); }); break;
    case Op::kCeil: Map1(d, a, n, [](T x) { return std::ceil(x); }); break;
    case Op::kTrunc: Map1(d, a, n, [](T x) { return std::trunc(x); }); break;
    case Op::kArctan2: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(std::atan2(static_cast<double>(x), static_cast<double>(y))); }); break;
    case Op::kHypot: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(std::hypot(static_cast<double>(x), static_cast<double>(y))); }); break;
    case Op::kMinimum: Map2(d, a, b, n, [](T x, T y) { return Minimum(x, y); }); break;
    case Op::kMaximum: Map2(d, a, b, n, [](T x, T y) { return Maximum(x, y); }); break;
    case Op::kFmod: Map2(d, a, b, n, [](T x, T y) { return std::fmod(x, y); }); break;
    case Op::kCopy: Map1(d, a, n, [](T x) { return x; }); break;
    case Op::kOnesLike: Map1(d, a, n, [=](T) { return one; }); break;
    default: break;  // Decode admits no other op on these kinds
  }
}

// Comparisons: operands of one kind, a bool result.
template <class T>
HOTPATH_INLINE void Compare(const Instruction& in, void* const* regs, size_t n) {
  uint8_t* d = static_cast<uint8_t*>(regs[in.dst]);
  const T* a = static_cast<const T*>(regs[in.a]);
  const T* b = static_cast<const T*>(regs[in.b]);
  switch (in.op) {
    case Op::kLt: for (size_t i = 0; i < n; ++i) d[i] = a[i] < b[i]; break;
    case Op::kLe: for (size_t i = 0; i < n; ++i) d[i] = a[i] <= b[i]; break;
    case Op::kEq: for (size_t i = 0; i < n; ++i) d[i] = a[i] == b[i]; break;
    case Op::kNe: for (size_t i = 0; i < n; ++i) d[i] = a[i] != b[i]; break;
    case Op::kGe: for (size_t i = 0; i < n; ++i) d[i] = a[i] >= b[i]; break;
    default: for (size_t i = 0; i < n; ++i) d[i] = a[i] > b[i]; break;
  }
}

// where(c, x, y): a bool condition, both loads unconditional so the select if-converts into a blend.
template <class T>
HOTPATH_INLINE void Select(const Instruction& in, void* const* regs, size_t n) {
  T* d = static_cast<T*>(regs[in.dst]);
  const uint8_t* c = static_cast<const uint8_t*>(regs[in.a]);
  const T* x = static_cast<const T*>(regs[in.b]);
  const T* y = static_cast<const T*>(regs[in.c]);
  for (size_t i = 0; i < n; ++i) {
    const T whenTrue = x[i], whenFalse = y[i];
    d[i] = c[i] != 0 ? whenTrue : whenFalse;
  }
}

// Converts a block between kinds: to bool is x != 0 (NaN is true), the others are C conversions that
// only widen (typed.ts never narrows but a float constant exponent to float32, done on the host).
template <class From, class To>
HOTPATH_INLINE void Convert(const From* a, To* d, size_t n) {
  if constexpr (std::is_same_v<To, uint8_t>) {
    for (size_t i = 0; i < n; ++i) d[i] = a[i] != 0;
  } else {
    for (size_t i = 0; i < n; ++i) d[i] = static_cast<To>(a[i]);
  }
}

HOTPATH_INLINE void Execute(const Program& p, const Instruction& in, void* const* regs, size_t n) {
  switch (in.op) {
    case Op::kCast:
      WithType(in.operand, [&](auto from) {
        using From = decltype(from);
        WithType(p.kinds[in.dst], [&](auto to) {
          using To = decltype(to);
          Convert(static_cast<const From*>(regs[in.a]), static_cast<To*>(regs[in.dst]), n);
        });
      });
      return;
    case Op::kLt: case Op::kLe: case Op::kEq: case Op::kNe: case Op::kGe: case Op::kGt:
      WithType(in.operand, [&](auto t) { Compare<decltype(t)>(in, regs, n); });
      return;
    case Op::kWhere:
      WithType(in.operand, [&](auto t) { Select<decltype(t)>(in, regs, n); });
      return;
    default:
      WithType(in.operand, [&](auto t) {
        using T = decltype(t);
        if constexpr (std::is_floating_point_v<T>) ExecuteFloat<T>(in, regs, n);
        else ExecuteInteger<T>(in, regs, n);
      });
  }
}

// A reduction's running value: a double for float operands and for int32 and bool ones (exact: int32
// sums and products wrap in int32 first, bool sums count), an int64 for int64 operands.
struct Accumulator {
  double real = 0;
  int64_t integer = 0;
};

double Identity(OutputKind kind) {
  switch (kind) {
    case OutputKind::kProd: return 1;
    case OutputKind::kMin: return std::numeric_limits<double>::infinity();
    case OutputKind::kMax: return -std::numeric_limits<double>::infinity();
    default: return 0;
  }
}

// Folds one block's (or one chunk's) partial into an accumulator; min/max propagate NaN.
double Combine(OutputKind kind, double acc, double x) {
  switch (kind) {
    case OutputKind::kSum: return acc + x;
    case OutputKind::kProd: return acc * x;
    case OutputKind::kMin: return (x < acc || x != x) && acc == acc ? x : acc;
    case OutputKind::kMax: return (x > acc || x != x) && acc == acc ? x : acc;
    default: return acc;
  }
}

// Integer accumulators wrap in T's width (numexpr 2.8's int32 sums; int64 as NumPy).
template <class T>
T CombineInteger(OutputKind kind, T acc, T x) {
  using U = Unsigned<T>;
  switch (kind) {
    case OutputKind::kSum: return static_cast<T>(static_cast<U>(acc) + static_cast<U>(x));
    case OutputKind::kProd: return static_cast<T>(static_cast<U>(acc) * static_cast<U>(x));
    case OutputKind::kMin: return x < acc ? x : acc;
    case OutputKind::kMax: return x > acc ? x : acc;
    default: return acc;
  }
}
template <class T>
T IntegerIdentity(OutputKind kind) {
  switch (kind) {
    case OutputKind::kProd: return 1;
    case OutputKind::kMin: return std::numeric_limits<T>::max();
    case OutputKind::kMax: return std::numeric_limits<T>::min();
    default: return 0;
  }
}

// The block's float partial: sums in eight lanes so the loop vectorizes; accumulation is float64.
template <class T>
HOTPATH_INLINE double ReduceFloatBlock(OutputKind kind, const T* x, size_t n) {
  constexpr size_t kLanes = 8;
  double lanes[kLanes];
  std::fill(lanes, lanes + kLanes, Identity(kind));
  const size_t body = n - n % kLanes;
  if (kind == OutputKind::kSum) {
    for (size_t i = 0; i < body; i += kLanes)
      for (size_t l = 0; l < kLanes; ++l) lanes[l] += static_cast<double>(x[i + l]);
  } else if (kind == OutputKind::kProd) {
    for (size_t i = 0; i < body; i += kLanes)
      for (size_t l = 0; l < kLanes; ++l) lanes[l] *= static_cast<double>(x[i + l]);
  } else {
    for (size_t i = 0; i < body; ++i) lanes[i % kLanes] = Combine(kind, lanes[i % kLanes], static_cast<double>(x[i]));
  }
  for (size_t i = body; i < n; ++i) lanes[0] = Combine(kind, lanes[0], static_cast<double>(x[i]));
  double acc = Identity(kind);
  for (size_t l = 0; l < kLanes; ++l) acc = Combine(kind, acc, lanes[l]);
  return acc;
}

// The block's integer partial, in T's width (a bool block is counted in int64: only sum reaches it).
template <class T>
HOTPATH_INLINE T ReduceIntegerBlock(OutputKind kind, const T* x, size_t n) {
  T acc = IntegerIdentity<T>(kind);
  if (kind == OutputKind::kSum) {
    Unsigned<T> sum = 0;
    for (size_t i = 0; i < n; ++i) sum += static_cast<Unsigned<T>>(x[i]);
    return static_cast<T>(sum);
  }
  for (size_t i = 0; i < n; ++i) acc = CombineInteger(kind, acc, x[i]);
  return acc;
}

Accumulator InitialAccumulator(OutputKind kind, Kind operand) {
  Accumulator acc;
  if (operand == Kind::kInt32 || operand == Kind::kInt64 || operand == Kind::kBool) {
    acc.integer = operand == Kind::kInt32 ? IntegerIdentity<int32_t>(kind) : IntegerIdentity<int64_t>(kind);
  } else {
    acc.real = Identity(kind);
  }
  return acc;
}

// Combines two partials of a reduction over `operand` values.
Accumulator CombineAccumulators(OutputKind kind, Kind operand, Accumulator acc, Accumulator x) {
  switch (operand) {
    case Kind::kInt32:
      acc.integer = CombineInteger<int32_t>(kind, static_cast<int32_t>(acc.integer), static_cast<int32_t>(x.integer));
      break;
    case Kind::kBool:
    case Kind::kInt64: acc.integer = CombineInteger<int64_t>(kind, acc.integer, x.integer); break;
    default: acc.real = Combine(kind, acc.real, x.real);
  }
  return acc;
}

Accumulator ReduceBlock(OutputKind kind, Kind operand, const void* x, size_t n) {
  Accumulator acc;
  switch (operand) {
    case Kind::kBool: {
      const uint8_t* b = static_cast<const uint8_t*>(x);
      int64_t count = 0;
      for (size_t i = 0; i < n; ++i) count += b[i];
      acc.integer = count;
      break;
    }
    case Kind::kInt32: acc.integer = ReduceIntegerBlock(kind, static_cast<const int32_t*>(x), n); break;
    case Kind::kInt64: acc.integer = ReduceIntegerBlock(kind, static_cast<const int64_t*>(x), n); break;
    case Kind::kFloat32: acc.real = ReduceFloatBlock(kind, static_cast<const float*>(x), n); break;
    case Kind::kFloat64: acc.real = ReduceFloatBlock(kind, static_cast<const double*>(x), n); break;
  }
  return acc;
}

// Loads block [start, start + n) of an array input into its register's slot, converting its elements.
template <class To>
HOTPATH_INLINE void LoadConverted(const Input& in, size_t start, size_t n, To* slot) {
  switch (in.source) {
    case Source::kFloat64: Convert(static_cast<const double*>(in.data) + start, slot, n); break;
    case Source::kFloat32: Convert(static_cast<const float*>(in.data) + start, slot, n); break;
    case Source::kInt32: Convert(static_cast<const int32_t*>(in.data) + start, slot, n); break;
    case Source::kInt8: Convert(static_cast<const int8_t*>(in.data) + start, slot, n); break;
    case Source::kUint8: Convert(static_cast<const uint8_t*>(in.data) + start, slot, n); break;
    case Source::kInt16: Convert(static_cast<const int16_t*>(in.data) + start, slot, n); break;
    case Source::kUint16: Convert(static_cast<const uint16_t*>(in.data) + start, slot, n); break;
    case Source::kUint32: Convert(static_cast<const uint32_t*>(in.data) + start, slot, n); break;
    case Source::kInt64: Convert(static_cast<const int64_t*>(in.data) + start, slot, n); break;
    case Source::kScalar: break;
  }
}

// An input whose elements already are its register's type is read in place (bool inputs are always
// converted: a byte other than 0 or 1 must read as 1).
bool ReadsInPlace(Source source, Kind kind) {
  return (source == Source::kFloat64 && kind == Kind::kFloat64) || (source == Source::kFloat32 && kind == Kind::kFloat32) ||
         (source == Source::kInt32 && kind == Kind::kInt32) || (source == Source::kInt64 && kind == Kind::kInt64);
}

// Fills a register's block with the 64 raw bits of a constant or scalar of its kind.
void FillRaw(Kind kind, uint64_t raw, void* slot, size_t n) {
  double real;
  std::memcpy(&real, &raw, sizeof real);
  int64_t integer;
  std::memcpy(&integer, &raw, sizeof integer);
  switch (kind) {
    case Kind::kBool: std::fill_n(static_cast<uint8_t*>(slot), n, static_cast<uint8_t>(real != 0)); break;
    case Kind::kInt32: std::fill_n(static_cast<int32_t*>(slot), n, static_cast<int32_t>(real)); break;
    case Kind::kInt64: std::fill_n(static_cast<int64_t*>(slot), n, integer); break;
    case Kind::kFloat32: std::fill_n(static_cast<float*>(slot), n, static_cast<float>(real)); break;
    case Kind::kFloat64: std::fill_n(static_cast<double*>(slot), n, real); break;
  }
}

HOTPATH_CLONES void RunRange(const Program& p, const std::vector<Input>& inputs, const std::vector<void*>& outputs,
                             size_t begin, size_t end, size_t blockSize, Accumulator* partial) {
  // Scratch grows with min(blockSize, range), not with blockSize alone: a large blockSize on a short
  // array must not allocate registers it never fills. The block decomposition is unchanged. Every
  // register slot is 8 bytes per element (the widest kind), 8-byte aligned.
  blockSize = std::min(blockSize, std::max<size_t>(end - begin, 1));
  const int32_t registers = p.Registers();
  std::vector<uint64_t> scratch(static_cast<size_t>(registers) * blockSize);
  std::vector<void*> regs(registers);
  auto slot = [&](int32_t r) { return static_cast<void*>(scratch.data() + static_cast<size_t>(r) * blockSize); };
  for (int32_t r = 0; r < registers; ++r) regs[r] = slot(r);
  for (int32_t k = 0; k < p.nConstants; ++k) FillRaw(p.kinds[p.nInputs + k], p.constants[k], regs[p.nInputs + k], blockSize);
  for (int32_t i = 0; i < p.nInputs; ++i) {
    if (inputs[i].source == Source::kScalar) FillRaw(p.kinds[i], inputs[i].scalar, regs[i], blockSize);
  }
  for (int32_t k = 0; k < p.nOutputs; ++k) partial[k] = InitialAccumulator(p.outputs[k].kind, p.kinds[p.outputs[k].source]);

  for (size_t start = begin; start < end; start += blockSize) {
    const size_t n = std::min(blockSize, end - start);
    for (int32_t i = 0; i < p.nInputs; ++i) {
      const Input& in = inputs[i];
      if (in.source == Source::kScalar) continue;
      const Kind kind = p.kinds[i];
      if (ReadsInPlace(in.source, kind)) {
        // read in place, never written (Decode refuses instructions writing input registers)
        regs[i] = const_cast<char*>(static_cast<const char*>(in.data) + start * KindSize(kind));
      } else {
        WithType(kind, [&](auto t) { LoadConverted(in, start, n, static_cast<decltype(t)*>(slot(i))); });
      }
    }
    for (int32_t k = 0; k < p.nOutputs; ++k) {
      if (p.outputs[k].kind == OutputKind::kElementwise) {
        regs[p.OutputRegister(k)] =
            static_cast<char*>(outputs[k]) + start * KindSize(p.kinds[p.OutputRegister(k)]);
      }
    }
    for (const Instruction& in : p.code) Execute(p, in, regs.data(), n);
    for (int32_t k = 0; k < p.nOutputs; ++k) {
      const Output& out = p.outputs[k];
      const Kind kind = p.kinds[out.source];
      if (out.kind != OutputKind::kElementwise) {
        partial[k] = CombineAccumulators(out.kind, kind, partial[k], ReduceBlock(out.kind, kind, regs[out.source], n));
      } else if (out.source != p.OutputRegister(k)) {
        std::memcpy(regs[p.OutputRegister(k)], regs[out.source], n * KindSize(kind));
      }
    }
  }
}

void Require(bool ok, const std::string& what) {
  if (!ok) throw RangeError("malformed expression bytecode: " + what);
}

// Operand and result kinds each op takes (typed.ts gives them; anything else is malformed bytecode).
bool KindsFit(const Instruction& in, const std::vector<Kind>& kinds) {
  const Kind a = kinds[in.a], b = kinds[in.b], c = kinds[in.c], d = kinds[in.dst];
  const bool isFloat = a == Kind::kFloat32 || a == Kind::kFloat64;
  const bool isInteger = a == Kind::kInt32 || a == Kind::kInt64;
  switch (in.op) {
    case Op::kCast: return true;
    case Op::kLt: case Op::kLe: case Op::kEq: case Op::kNe: case Op::kGe: case Op::kGt:
      return b == a && d == Kind::kBool;
    case Op::kWhere: return a == Kind::kBool && c == b && d == b;
    case Op::kAnd: case Op::kOr: return (isInteger || a == Kind::kBool) && b == a && d == a;
    case Op::kNot: return (isInteger || a == Kind::kBool) && d == a;
    case Op::kShl: case Op::kShr: return isInteger && b == a && d == a;
    case Op::kCopy: return d == a;
    case Op::kNeg: case Op::kOnesLike: return (isInteger || isFloat) && d == a;
    case Op::kAdd: case Op::kSub: case Op::kMul: case Op::kIntMod: case Op::kMinimum: case Op::kMaximum:
      return (isInteger || isFloat) && b == a && d == a;
    case Op::kDiv: case Op::kMod: case Op::kPow: case Op::kArctan2: case Op::kHypot: case Op::kFmod:
      return isFloat && b == a && d == a;
    default: return isFloat && d == a;  // the one-argument float functions
  }
}

}  // namespace

const char* OpName(Op op) { return kOpNames[static_cast<size_t>(op)]; }

size_t KindSize(Kind kind) {
  switch (kind) {
    case Kind::kBool: return 1;
    case Kind::kInt32:
    case Kind::kFloat32: return 4;
    default: return 8;
  }
}

uint64_t ElementBits(const Input& in, Kind kind, int64_t index) {
  uint64_t bits = 0;
  WithType(kind, [&](auto t) {
    using T = decltype(t);
    T value{};
    LoadConverted(in, static_cast<size_t>(index), 1, &value);
    if constexpr (std::is_same_v<T, int64_t>) {
      std::memcpy(&bits, &value, sizeof value);
    } else {
      const double real = static_cast<double>(value);  // exact for bool, int32 and float32
      std::memcpy(&bits, &real, sizeof real);
    }
  });
  return bits;
}

namespace {
// Run's raw result of reduction k as an accumulator, and back.
Accumulator FromRaw(Kind kind, uint64_t raw) {
  Accumulator acc;
  double real;
  std::memcpy(&real, &raw, sizeof real);
  if (kind == Kind::kInt64) std::memcpy(&acc.integer, &raw, sizeof raw);
  else if (kind == Kind::kInt32 || kind == Kind::kBool) acc.integer = static_cast<int64_t>(real);
  else acc.real = real;
  return acc;
}
uint64_t ToRaw(Kind kind, const Accumulator& acc) {
  uint64_t raw;
  const double real = kind == Kind::kInt32 || kind == Kind::kBool ? static_cast<double>(acc.integer) : acc.real;
  if (kind == Kind::kInt64) std::memcpy(&raw, &acc.integer, sizeof raw);
  else std::memcpy(&raw, &real, sizeof raw);
  return raw;
}
}  // namespace

uint64_t ReductionIdentity(const Program& program, int32_t k) {
  const Output& out = program.outputs[k];
  const Kind kind = program.kinds[out.source];
  return ToRaw(kind, InitialAccumulator(out.kind, kind));
}

uint64_t CombineReductions(const Program& program, int32_t k, uint64_t a, uint64_t b) {
  const Output& out = program.outputs[k];
  const Kind kind = program.kinds[out.source];
  return ToRaw(kind, CombineAccumulators(out.kind, kind, FromRaw(kind, a), FromRaw(kind, b)));
}

Program Decode(const int32_t* code, size_t length, const uint64_t* constants, size_t nConstants) {
  Require(length >= kHeader, "missing header");
  Program p;
  p.nInputs = code[0];
  p.nConstants = code[1];
  p.nOutputs = code[2];
  p.nTemps = code[3];
  const int32_t nInstructions = code[4];
  constexpr int32_t kMax = 1 << 20;
  for (size_t i = 0; i < kHeader; ++i) Require(code[i] >= 0 && code[i] <= kMax, "header field out of range");
  Require(p.nOutputs >= 1, "no outputs");
  const int32_t registers = p.Registers();
  Require(length == kHeader + static_cast<size_t>(registers) + 2 * static_cast<size_t>(p.nOutputs) +
                        kInstructionWords * static_cast<size_t>(nInstructions),
          "length does not match the header");
  Require(nConstants == static_cast<size_t>(p.nConstants), "constant count does not match the header");
  const int32_t* o = code + kHeader;
  for (int32_t r = 0; r < registers; ++r, ++o) {
    Require(*o >= 0 && *o < kKindCount, "bad register kind");
    p.kinds.push_back(static_cast<Kind>(*o));
  }
  p.constants.assign(constants, constants + nConstants);
  for (int32_t k = 0; k < p.nConstants; ++k) {
    double real;
    std::memcpy(&real, &p.constants[k], sizeof real);
    const Kind kind = p.kinds[p.nInputs + k];
    if (kind == Kind::kInt32) {
      Require(real >= -2147483648.0 && real <= 2147483647.0 && real == std::trunc(real), "int32 constant out of range");
    }
    if (kind == Kind::kBool) Require(real == 0 || real == 1, "bool constant other than 0 or 1");
  }
  const int32_t firstOutput = p.OutputRegister(0);
  const int32_t firstTemp = p.OutputRegister(p.nOutputs);
  for (int32_t k = 0; k < p.nOutputs; ++k, o += 2) {
    Require(o[0] >= 0 && o[0] <= static_cast<int32_t>(OutputKind::kMax), "bad output kind");
    Output out{static_cast<OutputKind>(o[0]), o[1]};
    const bool ownRegister = out.kind == OutputKind::kElementwise && out.source == p.OutputRegister(k);
    Require(out.source >= 0 && out.source < registers && (out.source < firstOutput || out.source >= firstTemp || ownRegister),
            "bad output source register");
    Require(p.kinds[out.source] == p.kinds[p.OutputRegister(k)], "output register of another kind than its source");
    Require(out.kind == OutputKind::kElementwise || out.kind == OutputKind::kSum || p.kinds[out.source] != Kind::kBool,
            "a bool reduction other than sum");
    p.outputs.push_back(out);
  }
  for (int32_t i = 0; i < nInstructions; ++i, o += kInstructionWords) {
    Require(o[0] >= 0 && o[0] < static_cast<int32_t>(Op::kCount), "bad opcode");
    Instruction in{static_cast<Op>(o[0]), o[1], o[2], o[3], o[4], Kind::kFloat64};
    const bool writesOutput = in.dst >= firstOutput && in.dst < firstTemp;
    Require(in.dst >= firstOutput && in.dst < registers, "instruction writes an input or constant register");
    Require(!writesOutput || p.outputs[in.dst - firstOutput].kind == OutputKind::kElementwise,
            "instruction writes the register of a reduction");
    for (int32_t r : {in.a, in.b, in.c}) {
      Require(r >= 0 && r < registers && (r < firstOutput || r >= firstTemp), "instruction reads a bad register");
    }
    in.operand = p.kinds[in.op == Op::kWhere ? in.b : in.a];
    Require(KindsFit(in, p.kinds), std::string("operand kinds that ") + OpName(in.op) + " does not take");
    p.code.push_back(in);
  }
  return p;
}

void Run(const Program& program, const std::vector<Input>& inputs, const std::vector<void*>& outputs, size_t n,
         const RunOptions& options, uint64_t* reductions) {
  const size_t blocks = (n + options.blockSize - 1) / options.blockSize;
  const size_t chunks = options.threads <= 1 || n < kParallelMinLength
                            ? 1
                            : std::min<size_t>(blocks, static_cast<size_t>(options.threads) * 4);
  const size_t blocksPerChunk = chunks == 0 ? 0 : (blocks + chunks - 1) / chunks;
  const size_t nOutputs = static_cast<size_t>(program.nOutputs);
  std::vector<Accumulator> partials(std::max<size_t>(chunks, 1) * nOutputs);
  auto runChunk = [&](size_t chunk) {
    const size_t begin = std::min(n, chunk * blocksPerChunk * options.blockSize);
    const size_t end = std::min(n, (chunk + 1) * blocksPerChunk * options.blockSize);
    RunRange(program, inputs, outputs, begin, end, options.blockSize, partials.data() + chunk * nOutputs);
  };
  ParallelFor(std::max<size_t>(chunks, 1), options.threads, runChunk);
  for (size_t k = 0; k < nOutputs; ++k) {
    const Output& out = program.outputs[k];
    const Kind kind = program.kinds[out.source];
    Accumulator acc = InitialAccumulator(out.kind, kind);
    for (size_t c = 0; c < std::max<size_t>(chunks, 1); ++c) acc = CombineAccumulators(out.kind, kind, acc, partials[c * nOutputs + k]);
    // int64: the raw integer; bool and int32: exactly as a double; floats: the double.
    if (out.kind == OutputKind::kElementwise) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      std::memcpy(&reductions[k], &nan, sizeof nan);
    } else {
      reductions[k] = ToRaw(kind, acc);
    }
  }
}

}  // namespace hotpath::expr
