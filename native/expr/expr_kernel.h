// The expression VM: decodes and validates bytecode from src/expr/bytecode.ts, then runs it block
// by block (every register is one block of elements of its kind, so each instruction is one tight
// loop the compiler vectorizes, integer kernels included), with blocks spread over the shared thread
// pool. Plain C++: no N-API here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hotpath::expr {

// Same order as OPS in src/lang/ops.ts (a test compares OpNames() with it).
enum class Op : int32_t {
  kNeg, kNot, kAdd, kSub, kMul, kDiv, kMod, kPow, kLt, kLe, kEq, kNe, kGe, kGt, kAnd, kOr, kWhere,
  kSin, kCos, kTan, kArcsin, kArccos, kArctan, kSinh, kCosh, kTanh, kArcsinh, kArccosh, kArctanh,
  kExp, kExpm1, kLog, kLog1p, kLog10, kLog2, kSqrt, kCbrt, kAbs, kFloor, kCeil, kTrunc,
  kArctan2, kHypot, kMinimum, kMaximum, kFmod, kIntMod, kCopy, kOnesLike, kShl, kShr, kCast,
  kCount
};
const char* OpName(Op op);

// numexpr's kinds, as KINDS in src/lang/types.ts: the element type of a register.
enum class Kind : int32_t { kBool = 0, kInt32 = 1, kInt64 = 2, kFloat32 = 3, kFloat64 = 4 };
constexpr int32_t kKindCount = 5;

enum class OutputKind : int32_t { kElementwise = 0, kSum = 1, kProd = 2, kMin = 3, kMax = 4 };

struct Instruction {
  Op op;
  int32_t dst, a, b, c;
  Kind operand;  // the kind the op computes in (its first value operand's)
};
struct Output {
  OutputKind kind;
  int32_t source;
};

struct Program {
  int32_t nInputs = 0, nConstants = 0, nOutputs = 0, nTemps = 0;
  std::vector<Kind> kinds;  // per register
  std::vector<Output> outputs;
  std::vector<Instruction> code;
  std::vector<uint64_t> constants;  // raw 64 bits: an int64 for int64 registers, else a double
  int32_t Registers() const { return nInputs + nConstants + nOutputs + nTemps; }
  int32_t OutputRegister(int32_t k) const { return nInputs + nConstants + k; }
};

// Throws hotpath::RangeError when the bytecode is malformed (bad opcode or kind, register out of range,
// an instruction reading an output register or writing an input or constant, operand kinds the op does
// not take, a constant that does not fit its register's kind).
Program Decode(const int32_t* code, size_t length, const uint64_t* constants, size_t nConstants);

// Where an input's elements come from; the register's kind says what they become (the binding checks
// the pair: small integers load into int32 registers, uint32 into int64, uint8 into bool as x != 0).
enum class Source { kFloat64, kFloat32, kInt32, kInt8, kUint8, kInt16, kUint16, kUint32, kInt64, kScalar };
struct Input {
  Source source = Source::kScalar;
  const void* data = nullptr;  // arrays
  uint64_t scalar = 0;         // scalars: raw bits of the register's kind (as Program::constants)
};

struct RunOptions {
  unsigned threads = 1;
  size_t blockSize = 1024;
};

// Bytes per element of a register of `kind`.
size_t KindSize(Kind kind);

// Element `index` of an array input as the raw 64 bits of a scalar of `kind` (Input::scalar).
uint64_t ElementBits(const Input& in, Kind kind, int64_t index);

// Full reduction k's results as Run returns them (raw 64 bits): its identity, and two partial results
// (of two ranges of elements) as one, in the reduction's kind (int32 wraps, int64 wraps, floats NaN-propagate).
uint64_t ReductionIdentity(const Program& program, int32_t k);
uint64_t CombineReductions(const Program& program, int32_t k, uint64_t a, uint64_t b);

// Evaluates `program` over n elements. outputs[k] is the result array of elementwise output k (of
// its register's kind) and unused for reductions; reductions[k] receives the raw 64 bits of reduction
// output k's accumulator: a double for float and bool/int32 operands, an int64 for int64 ones. Inputs
// and outputs are validated by the caller.
void Run(const Program& program, const std::vector<Input>& inputs, const std::vector<void*>& outputs, size_t n,
         const RunOptions& options, uint64_t* reductions);

}  // namespace hotpath::expr
