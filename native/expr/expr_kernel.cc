#include "expr_kernel.h"

#include <algorithm>
#include <cmath>
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

template <class T>
HOTPATH_INLINE void Execute(const Instruction& in, T* const* regs, size_t n) {
  T* d = regs[in.dst];
  const T* a = regs[in.a];
  const T* b = regs[in.b];
  const T one = 1, zero = 0;
  switch (in.op) {
    case Op::kNeg: Map1(d, a, n, [](T x) { return -x; }); break;
    case Op::kNot: Map1(d, a, n, [=](T x) { return x == zero ? one : zero; }); break;
    case Op::kAdd: Map2(d, a, b, n, [](T x, T y) { return x + y; }); break;
    case Op::kSub: Map2(d, a, b, n, [](T x, T y) { return x - y; }); break;
    case Op::kMul: Map2(d, a, b, n, [](T x, T y) { return x * y; }); break;
    case Op::kDiv: Map2(d, a, b, n, [](T x, T y) { return x / y; }); break;
    // numexpr's float remainder, x - floor(x/y)*y (sign of y); fmod is C's truncated one.
    case Op::kMod: Map2(d, a, b, n, [](T x, T y) { return static_cast<T>(FlooredRemainder(x, y)); }); break;
    case Op::kPow: Map2(d, a, b, n, [](T x, T y) { return std::pow(x, y); }); break;
    case Op::kLt: Map2(d, a, b, n, [=](T x, T y) { return x < y ? one : zero; }); break;
    case Op::kLe: Map2(d, a, b, n, [=](T x, T y) { return x <= y ? one : zero; }); break;
    case Op::kEq: Map2(d, a, b, n, [=](T x, T y) { return x == y ? one : zero; }); break;
    case Op::kNe: Map2(d, a, b, n, [=](T x, T y) { return x != y ? one : zero; }); break;
    case Op::kGe: Map2(d, a, b, n, [=](T x, T y) { return x >= y ? one : zero; }); break;
    case Op::kGt: Map2(d, a, b, n, [=](T x, T y) { return x > y ? one : zero; }); break;
    case Op::kAnd: Map2(d, a, b, n, [=](T x, T y) { return (x != zero) & (y != zero) ? one : zero; }); break;
    case Op::kOr: Map2(d, a, b, n, [=](T x, T y) { return (x != zero) | (y != zero) ? one : zero; }); break;
    case Op::kWhere: {
      const T* c = regs[in.c];
      // Both loads unconditional, so the select if-converts into a vector blend.
      for (size_t i = 0; i < n; ++i) {
        const T whenTrue = b[i], whenFalse = c[i];
        d[i] = a[i] != zero ? whenTrue : whenFalse;
      }
      break;
    }
    case Op::kSin: VectorBlock(d, a, n, -kVectorTrigLimit, kVectorTrigLimit, [](double x) { return SinCosKernel<false>(x); }, [](double x) { return std::sin(x); }); break;
    case Op::kCos: VectorBlock(d, a, n, -kVectorTrigLimit, kVectorTrigLimit, [](double x) { return SinCosKernel<true>(x); }, [](double x) { return std::cos(x); }); break;
    case Op::kTan: Map1(d, a, n, [](T x) { return std::tan(x); }); break;
    case Op::kArcsin: Map1(d, a, n, [](T x) { return std::asin(x); }); break;
    case Op::kArccos: Map1(d, a, n, [](T x) { return std::acos(x); }); break;
    case Op::kArctan: Map1(d, a, n, [](T x) { return std::atan(x); }); break;
    case Op::kSinh: Map1(d, a, n, [](T x) { return std::sinh(x); }); break;
    case Op::kCosh: Map1(d, a, n, [](T x) { return std::cosh(x); }); break;
    case Op::kTanh: Map1(d, a, n, [](T x) { return std::tanh(x); }); break;
    case Op::kArcsinh: Map1(d, a, n, [](T x) { return std::asinh(x); }); break;
    case Op::kArccosh: Map1(d, a, n, [](T x) { return std::acosh(x); }); break;
    case Op::kArctanh: Map1(d, a, n, [](T x) { return std::atanh(x); }); break;
    case Op::kExp: VectorBlock(d, a, n, -kVectorExpLimit, kVectorExpLimit, [](double x) { return ExpKernel(x); }, [](double x) { return std::exp(x); }); break;
    case Op::kExpm1: Map1(d, a, n, [](T x) { return std::expm1(x); }); break;
    case Op::kLog:
      VectorBlock(d, a, n, std::numeric_limits<double>::min(), std::numeric_limits<double>::max(), [](double x) { return LogKernel(x); }, [](double x) { return std::log(x); });
      break;
    case Op::kLog1p: Map1(d, a, n, [](T x) { return std::log1p(x); }); break;
    case Op::kLog10: Map1(d, a, n, [](T x) { return std::log10(x); }); break;
    case Op::kLog2: Map1(d, a, n, [](T x) { return std::log2(x); }); break;
    case Op::kSqrt: Map1(d, a, n, [](T x) { return std::sqrt(x); }); break;
    case Op::kCbrt: Map1(d, a, n, [](T x) { return std::cbrt(x); }); break;
    case Op::kAbs: Map1(d, a, n, [](T x) { return std::fabs(x); }); break;
    case Op::kFloor: Map1(d, a, n, [](T x) { return std::floor(x); }); break;
    case Op::kCeil: Map1(d, a, n, [](T x) { return std::ceil(x); }); break;
    case Op::kTrunc: Map1(d, a, n, [](T x) { return std::trunc(x); }); break;
    case Op::kArctan2: Map2(d, a, b, n, [](T x, T y) { return std::atan2(x, y); }); break;
    case Op::kHypot: Map2(d, a, b, n, [](T x, T y) { return std::hypot(x, y); }); break;
    case Op::kMinimum: Map2(d, a, b, n, [](T x, T y) { return Minimum(x, y); }); break;
    case Op::kMaximum: Map2(d, a, b, n, [](T x, T y) { return Maximum(x, y); }); break;
    case Op::kFmod: Map2(d, a, b, n, [](T x, T y) { return std::fmod(x, y); }); break;
    // Integer operands: the floored remainder, exact in float64 for 32-bit integers; by zero 0 as in NumPy.
    case Op::kIntMod: Map2(d, a, b, n, [=](T x, T y) { return y == zero ? zero : static_cast<T>(FlooredRemainder(x, y)); }); break;
    case Op::kCopy: Map1(d, a, n, [](T x) { return x; }); break;
    case Op::kOnesLike: Map1(d, a, n, [=](T) { return one; }); break;
    case Op::kShl:
    case Op::kShr:
    case Op::kCast:  // rejected by Decode
    case Op::kCount: break;
  }
}

double Identity(OutputKind kind) {
  switch (kind) {
    case OutputKind::kProd: return 1;
    case OutputKind::kMin: return std::numeric_limits<double>::infinity();
    case OutputKind::kMax: return -std::numeric_limits<double>::infinity();
    default: return 0;
  }
}

// Folds one block (or one chunk's partial) into an accumulator; min/max propagate NaN.
double Combine(OutputKind kind, double acc, double x) {
  switch (kind) {
    case OutputKind::kSum: return acc + x;
    case OutputKind::kProd: return acc * x;
    case OutputKind::kMin: return (x < acc || x != x) && acc == acc ? x : acc;
    case OutputKind::kMax: return (x > acc || x != x) && acc == acc ? x : acc;
    default: return acc;
  }
}

// The block's partial: sums in eight lanes so the loop vectorizes; accumulation is float64 in both modes.
template <class T>
HOTPATH_INLINE double ReduceBlock(OutputKind kind, const T* x, size_t n) {
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

template <class T>
constexpr InputKind ComputeKind() {
  return std::is_same_v<T, double> ? InputKind::kFloat64 : InputKind::kFloat32;
}

// An input of another element type than the computation (an integer array, or float32 in a float64
// program) is converted block by block into its register.
template <class T>
HOTPATH_INLINE void LoadConverted(const Input& in, size_t start, size_t n, T* slot) {
  switch (in.kind) {
    case InputKind::kFloat64: std::copy_n(static_cast<const double*>(in.data) + start, n, slot); break;
    case InputKind::kFloat32: std::copy_n(static_cast<const float*>(in.data) + start, n, slot); break;
    case InputKind::kInt32: std::copy_n(static_cast<const int32_t*>(in.data) + start, n, slot); break;
    case InputKind::kInt8: std::copy_n(static_cast<const int8_t*>(in.data) + start, n, slot); break;
    case InputKind::kUint8: std::copy_n(static_cast<const uint8_t*>(in.data) + start, n, slot); break;
    case InputKind::kInt16: std::copy_n(static_cast<const int16_t*>(in.data) + start, n, slot); break;
    case InputKind::kUint16: std::copy_n(static_cast<const uint16_t*>(in.data) + start, n, slot); break;
    case InputKind::kUint32: std::copy_n(static_cast<const uint32_t*>(in.data) + start, n, slot); break;
    case InputKind::kScalar: break;
  }
}

template <class T>
HOTPATH_INLINE void RunRangeImpl(const Program& p, const std::vector<Input>& inputs, const std::vector<void*>& outputs,
                                 size_t begin, size_t end, size_t blockSize, double* partial) {
  // Scratch grows with min(blockSize, range), not with blockSize alone: a large blockSize on a short
  // array must not allocate registers it never fills. The block decomposition is unchanged.
  blockSize = std::min(blockSize, std::max<size_t>(end - begin, 1));
  const int32_t registers = p.Registers();
  std::vector<T> scratch(static_cast<size_t>(registers) * blockSize);
  std::vector<T*> regs(registers);
  for (int32_t r = 0; r < registers; ++r) regs[r] = scratch.data() + static_cast<size_t>(r) * blockSize;
  for (int32_t k = 0; k < p.nConstants; ++k) std::fill_n(regs[p.nInputs + k], blockSize, static_cast<T>(p.constants[k]));
  for (int32_t i = 0; i < p.nInputs; ++i) {
    if (inputs[i].kind == InputKind::kScalar) std::fill_n(regs[i], blockSize, static_cast<T>(inputs[i].scalar));
  }
  for (int32_t k = 0; k < p.nOutputs; ++k) partial[k] = Identity(p.outputs[k].kind);

  for (size_t start = begin; start < end; start += blockSize) {
    const size_t n = std::min(blockSize, end - start);
    for (int32_t i = 0; i < p.nInputs; ++i) {
      const Input& in = inputs[i];
      if (in.kind == InputKind::kScalar) continue;
      if (in.kind == ComputeKind<T>()) {
        regs[i] = const_cast<T*>(static_cast<const T*>(in.data) + start);  // read in place, never written
      } else {
        LoadConverted(in, start, n, scratch.data() + static_cast<size_t>(i) * blockSize);
      }
    }
    for (int32_t k = 0; k < p.nOutputs; ++k) {
      if (p.outputs[k].kind == OutputKind::kElementwise) regs[p.OutputRegister(k)] = static_cast<T*>(outputs[k]) + start;
    }
    for (const Instruction& in : p.code) Execute<T>(in, regs.data(), n);
    for (int32_t k = 0; k < p.nOutputs; ++k) {
      const Output& out = p.outputs[k];
      if (out.kind != OutputKind::kElementwise) {
        partial[k] = Combine(out.kind, partial[k], ReduceBlock<T>(out.kind, regs[out.source], n));
      } else if (out.source != p.OutputRegister(k)) {
        std::copy_n(regs[out.source], n, regs[p.OutputRegister(k)]);
      }
    }
  }
}

HOTPATH_CLONES void RunRangeF64(const Program& p, const std::vector<Input>& inputs, const std::vector<void*>& outputs,
                                size_t begin, size_t end, size_t blockSize, double* partial) {
  RunRangeImpl<double>(p, inputs, outputs, begin, end, blockSize, partial);
}
HOTPATH_CLONES void RunRangeF32(const Program& p, const std::vector<Input>& inputs, const std::vector<void*>& outputs,
                                size_t begin, size_t end, size_t blockSize, double* partial) {
  RunRangeImpl<float>(p, inputs, outputs, begin, end, blockSize, partial);
}

void Require(bool ok, const std::string& what) {
  if (!ok) throw RangeError("malformed expression bytecode: " + what);
}

}  // namespace

const char* OpName(Op op) { return kOpNames[static_cast<size_t>(op)]; }

Program Decode(const int32_t* code, size_t length, const double* constants, size_t nConstants) {
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
  Require(length == kHeader + 2 * static_cast<size_t>(p.nOutputs) + kInstructionWords * static_cast<size_t>(nInstructions),
          "length does not match the header");
  Require(nConstants == static_cast<size_t>(p.nConstants), "constant count does not match the header");
  p.constants.assign(constants, constants + nConstants);
  const int32_t registers = p.Registers();
  const int32_t firstOutput = p.OutputRegister(0);
  const int32_t firstTemp = p.OutputRegister(p.nOutputs);
  const int32_t* o = code + kHeader;
  for (int32_t k = 0; k < p.nOutputs; ++k, o += 2) {
    Require(o[0] >= 0 && o[0] <= static_cast<int32_t>(OutputKind::kMax), "bad output kind");
    Output out{static_cast<OutputKind>(o[0]), o[1]};
    const bool ownRegister = out.kind == OutputKind::kElementwise && out.source == p.OutputRegister(k);
    Require(out.source >= 0 && out.source < registers && (out.source < firstOutput || out.source >= firstTemp || ownRegister),
            "bad output source register");
    p.outputs.push_back(out);
  }
  for (int32_t i = 0; i < nInstructions; ++i, o += kInstructionWords) {
    Require(o[0] >= 0 && o[0] < static_cast<int32_t>(Op::kShl), "bad opcode");
    Instruction in{static_cast<Op>(o[0]), o[1], o[2], o[3], o[4]};
    const bool writesOutput = in.dst >= firstOutput && in.dst < firstTemp;
    Require(in.dst >= firstOutput && in.dst < registers, "instruction writes an input or constant register");
    Require(!writesOutput || p.outputs[in.dst - firstOutput].kind == OutputKind::kElementwise,
            "instruction writes the register of a reduction");
    for (int32_t r : {in.a, in.b, in.c}) {
      Require(r >= 0 && r < registers && (r < firstOutput || r >= firstTemp), "instruction reads a bad register");
    }
    p.code.push_back(in);
  }
  return p;
}

void Run(const Program& program, const std::vector<Input>& inputs, const std::vector<void*>& outputs, size_t n,
         const RunOptions& options, double* reductions) {
  const size_t blocks = (n + options.blockSize - 1) / options.blockSize;
  const size_t chunks = options.threads <= 1 || n < kParallelMinLength
                            ? 1
                            : std::min<size_t>(blocks, static_cast<size_t>(options.threads) * 4);
  const size_t blocksPerChunk = chunks == 0 ? 0 : (blocks + chunks - 1) / chunks;
  const size_t nOutputs = static_cast<size_t>(program.nOutputs);
  std::vector<double> partials(std::max<size_t>(chunks, 1) * nOutputs);
  auto runChunk = [&](size_t chunk) {
    const size_t begin = std::min(n, chunk * blocksPerChunk * options.blockSize);
    const size_t end = std::min(n, (chunk + 1) * blocksPerChunk * options.blockSize);
    double* partial = partials.data() + chunk * nOutputs;
    if (options.float32) RunRangeF32(program, inputs, outputs, begin, end, options.blockSize, partial);
    else RunRangeF64(program, inputs, outputs, begin, end, options.blockSize, partial);
  };
  ParallelFor(std::max<size_t>(chunks, 1), options.threads, runChunk);
  for (size_t k = 0; k < nOutputs; ++k) {
    const OutputKind kind = program.outputs[k].kind;
    double acc = Identity(kind);
    for (size_t c = 0; c < std::max<size_t>(chunks, 1); ++c) acc = Combine(kind, acc, partials[c * nOutputs + k]);
    reductions[k] = kind == OutputKind::kElementwise ? std::numeric_limits<double>::quiet_NaN() : acc;
  }
}

}  // namespace hotpath::expr
