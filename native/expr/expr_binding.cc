// N-API surface of the expression VM: validates bytecode, inputs and outputs, then runs the program
// synchronously or in an AsyncWorker. Parsing, type promotion and result shaping live in src/expr.
#include "expr_binding.h"

#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "../common/async_array.h"
#include "../common/napi_errors.h"
#include "../common/promise_worker.h"
#include "../common/typed_array.h"
#include "expr_kernel.h"

namespace hotpath::expr {
namespace {

// Everything one evaluation needs, checked before any memory is touched. An async call's arrays
// are held as AsyncArrays (see async_array.h): its threads only ever touch native memory or a
// SharedArrayBuffer that nothing can detach.
struct Call {
  Program program;
  std::vector<Input> inputs;
  std::vector<void*> outputs;
  size_t length = 0;
  RunOptions options;
  bool async = false;
  std::vector<std::unique_ptr<AsyncArray>> held;
};

const void* ArrayData(const TypedArrayView& array, const std::string& name, AsyncArray::Use use, Call& call) {
  if (!call.async) return array.data;
  call.held.push_back(std::make_unique<AsyncArray>(array, use, name));
  return call.held.back()->Data();
}

Input RequireInput(const Napi::Value& value, size_t index, Kind kind, Call& call) {
  const std::string name = "inputs[" + std::to_string(index) + "]";
  Input input;
  if (ReadScalar(value, kind, name, &input.scalar)) return input;
  const TypedArrayView array = ReadTypedArray(value, name, {}, "a number, a bigint or a typed array");
  input.source = RequireSource(array, kind, name);
  if (array.length != call.length) throw RangeError(name + " has the wrong length");
  input.data = ArrayData(array, name, AsyncArray::Use::kInput, call);
  return input;
}

void* RequireOutput(const Napi::Value& value, size_t index, OutputKind output, Kind kind, Call& call) {
  const std::string name = "outputs[" + std::to_string(index) + "]";
  if (output != OutputKind::kElementwise) {
    if (!value.IsNull() && !value.IsUndefined()) throw TypeError(name + " must be null for a reduction");
    return nullptr;
  }
  static constexpr napi_typedarray_type kArrays[] = {napi_uint8_array, napi_int32_array, napi_bigint64_array,
                                                     napi_float32_array, napi_float64_array};
  static constexpr const char* kNames[] = {"a Uint8Array", "an Int32Array", "a BigInt64Array", "a Float32Array",
                                           "a Float64Array"};
  const auto k = static_cast<size_t>(kind);
  const TypedArrayView array = ReadTypedArray(value, name, {kArrays[k]}, kNames[k]);
  if (array.length != call.length) throw RangeError(name + " has the wrong length");
  return const_cast<void*>(ArrayData(array, name, AsyncArray::Use::kOutput, call));
}

// Every element of a JavaScript array, read before any memory is looked at: an accessor element
// runs JavaScript, which must not get a chance to detach an array already validated.
std::vector<Napi::Value> Elements(const Napi::Array& array) {
  std::vector<Napi::Value> values;
  for (uint32_t i = 0; i < array.Length(); ++i) values.push_back(array.Get(i));
  return values;
}

// Arguments: code Int32Array (register kinds included), constants Float64Array (an int64 constant's raw
// bits), inputs (number | bigint | typed array)[], outputs (typed array | null)[], length, threads, blockSize.
Call Prepare(const Napi::CallbackInfo& info, bool async) {
  Call call;
  call.async = async;
  const TypedArrayView code = ReadTypedArray(info[0], "code", {napi_int32_array}, "an Int32Array");
  const TypedArrayView constants = ReadTypedArray(info[1], "constants", {napi_float64_array}, "a Float64Array");
  call.program = Decode(code.Data<const int32_t>(), code.length, constants.Data<const uint64_t>(), constants.length);
  if (!info[2].IsArray() || !info[3].IsArray()) throw TypeError("inputs and outputs must be arrays");
  const std::vector<Napi::Value> inputs = Elements(info[2].As<Napi::Array>());
  const std::vector<Napi::Value> outputs = Elements(info[3].As<Napi::Array>());
  if (!info[4].IsNumber()) throw TypeError("length must be a number");
  const double length = info[4].As<Napi::Number>().DoubleValue();
  if (!(length >= 0 && length <= 9007199254740991.0) || length != static_cast<double>(static_cast<size_t>(length))) {
    throw RangeError("length must be a non-negative integer");
  }
  call.length = static_cast<size_t>(length);
  call.options.threads = RequireUint32(info[5], "threads", 1, 1024);
  call.options.blockSize = RequireUint32(info[6], "blockSize", 16, 1 << 20);
  if (inputs.size() != static_cast<size_t>(call.program.nInputs)) throw RangeError("inputs has the wrong length");
  if (outputs.size() != static_cast<size_t>(call.program.nOutputs)) throw RangeError("outputs has the wrong length");
  const Program& p = call.program;
  for (size_t i = 0; i < inputs.size(); ++i) call.inputs.push_back(RequireInput(inputs[i], i, p.kinds[i], call));
  for (size_t k = 0; k < outputs.size(); ++k) {
    const auto out = static_cast<int32_t>(k);
    call.outputs.push_back(RequireOutput(outputs[k], k, p.outputs[k].kind, p.kinds[p.OutputRegister(out)], call));
  }
  return call;
}

// Each reduction's raw 64 bits (src/expr/native.ts reads an int64 one through a BigInt64Array view).
Napi::Float64Array Reductions(Napi::Env env, const std::vector<uint64_t>& values) {
  auto out = Napi::Float64Array::New(env, values.size());
  if (!values.empty()) std::memcpy(out.Data(), values.data(), values.size() * sizeof(uint64_t));
  return out;
}

Napi::Value EvaluateSync(const Napi::CallbackInfo& info) {
  Call call = Prepare(info, false);
  std::vector<uint64_t> reductions(call.program.nOutputs);
  Run(call.program, call.inputs, call.outputs, call.length, call.options, reductions.data());
  return Reductions(info.Env(), reductions);
}

class EvaluateWorker : public PromiseWorker {
 public:
  EvaluateWorker(Napi::Env env, Call&& call) : PromiseWorker(env, "hotpath.expr"), call_(std::move(call)) {}

 protected:
  void Compute() override {
    reductions_.resize(call_.program.nOutputs);
    Run(call_.program, call_.inputs, call_.outputs, call_.length, call_.options, reductions_.data());
  }

  Napi::Value Result(Napi::Env env) override {
    for (const auto& array : call_.held) array->Deliver();
    return Reductions(env, reductions_);
  }

 private:
  Call call_;
  std::vector<uint64_t> reductions_;
};

Napi::Value EvaluateAsync(const Napi::CallbackInfo& info) {
  return PromiseWorker::Start(new EvaluateWorker(info.Env(), Prepare(info, true)));
}

Napi::Value OpNames(const Napi::CallbackInfo& info) {
  auto names = Napi::Array::New(info.Env(), static_cast<size_t>(Op::kCount));
  for (int32_t i = 0; i < static_cast<int32_t>(Op::kCount); ++i) names.Set(i, OpName(static_cast<Op>(i)));
  return names;
}

}  // namespace

Source RequireSource(const TypedArrayView& array, Kind kind, const std::string& name) {
  const napi_typedarray_type t = array.type;
  switch (kind) {
    case Kind::kFloat64:
      if (t == napi_float64_array) return Source::kFloat64;
      break;
    case Kind::kFloat32:
      if (t == napi_float32_array) return Source::kFloat32;
      break;
    case Kind::kInt32:
      if (t == napi_int32_array) return Source::kInt32;
      if (t == napi_int16_array) return Source::kInt16;
      if (t == napi_int8_array) return Source::kInt8;
      if (t == napi_uint16_array) return Source::kUint16;
      if (t == napi_uint8_array || t == napi_uint8_clamped_array) return Source::kUint8;
      break;
    case Kind::kInt64:
      if (t == napi_bigint64_array) return Source::kInt64;
      if (t == napi_uint32_array) return Source::kUint32;
      break;
    case Kind::kBool:
      if (t == napi_uint8_array) return Source::kUint8;
      break;
  }
  throw TypeError(name + " is not a typed array its register's kind reads");
}

bool ReadScalar(const Napi::Value& value, Kind kind, const std::string& name, uint64_t* bits) {
  if (value.IsNumber()) {
    const double scalar = value.As<Napi::Number>().DoubleValue();
    if (kind != Kind::kFloat64 && !(kind == Kind::kBool && (scalar == 0 || scalar == 1))) {
      throw TypeError(name + ": a number is a float64 or bool (0 or 1) scalar");
    }
    std::memcpy(bits, &scalar, sizeof scalar);
    return true;
  }
  if (value.IsBigInt()) {
    if (kind != Kind::kInt64) throw TypeError(name + ": a bigint is an int64 scalar");
    bool lossless = false;
    const int64_t scalar = value.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw RangeError(name + " does not fit in int64");
    std::memcpy(bits, &scalar, sizeof scalar);
    return true;
  }
  return false;
}

void Register(Napi::Env env, Napi::Object exports) {
  exports.Set("exprEvaluate", Napi::Function::New<Guarded<EvaluateSync>>(env, "exprEvaluate"));
  exports.Set("exprEvaluateAsync", Napi::Function::New<Guarded<EvaluateAsync>>(env, "exprEvaluateAsync"));
  exports.Set("exprOpNames", Napi::Function::New<Guarded<OpNames>>(env, "exprOpNames"));
}

}  // namespace hotpath::expr
