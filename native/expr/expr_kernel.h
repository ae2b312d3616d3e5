// The expression VM: decodes and validates bytecode from src/expr/bytecode.ts, then runs it block
// by block (every register is one block of elements, so each instruction is one tight loop the
// compiler vectorizes), with blocks spread over the shared thread pool. Plain C++: no N-API here.
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

enum class OutputKind : int32_t { kElementwise = 0, kSum = 1, kProd = 2, kMin = 3, kMax = 4 };

struct Instruction {
  Op op;
  int32_t dst, a, b, c;
};
struct Output {
  OutputKind kind;
  int32_t source;
};

struct Program {
  int32_t nInputs = 0, nConstants = 0, nOutputs = 0, nTemps = 0;
  std::vector<Output> outputs;
  std::vector<Instruction> code;
  std::vector<double> constants;
  int32_t Registers() const { return nInputs + nConstants + nOutputs + nTemps; }
  int32_t OutputRegister(int32_t k) const { return nInputs + nConstants + k; }
};

// Throws hotpath::RangeError when the bytecode is malformed (bad opcode, register out of range,
// an instruction reading an output register or writing an input or constant).
Program Decode(const int32_t* code, size_t length, const double* constants, size_t nConstants);

// Element types an input array may have; every integer kind converts exactly to the float64 computation.
enum class InputKind { kFloat64, kFloat32, kInt32, kInt8, kUint8, kInt16, kUint16, kUint32, kScalar };
struct Input {
  InputKind kind = InputKind::kScalar;
  const void* data = nullptr;  // arrays
  double scalar = 0;           // scalars
};

struct RunOptions {
  bool float32 = false;  // compute in float32 (every array input is float32; outputs are float32)
  unsigned threads = 1;
  size_t blockSize = 1024;
};

// Evaluates `program` over n elements. outputs[k] is the result array of elementwise output k
// (double* or float* per options.float32) and unused for reductions; reductions[k] receives the
// raw accumulator of reduction output k. Inputs and outputs are validated by the caller.
void Run(const Program& program, const std::vector<Input>& inputs, const std::vector<void*>& outputs, size_t n,
         const RunOptions& options, double* reductions);

}  // namespace hotpath::expr
