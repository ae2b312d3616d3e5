// N-API surface of the n-d evaluator (ndarray_kernel.h): reads the views TS has already validated and
// broadcast (src/lang/ndarray.ts), checks them again before any memory is touched (the kernel's CheckNd
// bounds every read by its array's length), and runs them synchronously (evaluate: all threads of the
// pool, the caller included, as exprEvaluate) or in an AsyncWorker (evaluateAsync), whose arrays are
// held as AsyncArrays: copied into native memory unless backed by a SharedArrayBuffer.
#include "ndarray_binding.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../common/async_array.h"
#include "../common/napi_errors.h"
#include "../common/promise_worker.h"
#include "../common/typed_array.h"
#include "expr_binding.h"
#include "ndarray_kernel.h"

namespace hotpath::expr {
namespace {

struct NdCall {
  Program program;
  std::vector<NdInput> inputs;
  std::vector<size_t> shape;
  std::vector<NdOutput> outputs;
  RunOptions options;
  bool async = false;
  std::vector<std::unique_ptr<AsyncArray>> held;
};

std::vector<Napi::Value> Elements(const Napi::Value& value, const std::string& name) {
  if (!value.IsArray()) throw TypeError(name + " must be an array");
  const Napi::Array array = value.As<Napi::Array>();
  std::vector<Napi::Value> values;
  for (uint32_t i = 0; i < array.Length(); ++i) values.push_back(array.Get(i));
  return values;
}

// An integer in [min, max] (safe integers only).
int64_t RequireInteger(const Napi::Value& value, const std::string& name, double min, double max) {
  if (!value.IsNumber()) throw TypeError(name + " must be a number");
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!(x >= min && x <= max) || std::trunc(x) != x) throw RangeError(name + " must be an integer in range");
  return static_cast<int64_t>(x);
}

constexpr double kSafe = 9007199254740991.0;

void* ArrayData(const TypedArrayView& array, const std::string& name, AsyncArray::Use use, NdCall& call) {
  if (!call.async) return array.data;
  call.held.push_back(std::make_unique<AsyncArray>(array, use, name));
  return call.held.back()->Data();
}

// Arguments: code Int32Array, constants Float64Array (as exprEvaluate's), inputs (number | bigint | typed
// array)[], strides (number[] | null)[] and offsets number[] per input, shape number[], outputs (typed array |
// null)[], axes Int32Array ([reduction, axis] per output, reduction 0 when none), reduced (Float64Array |
// null)[], threads, blockSize. Every JavaScript value is read before any array's memory is looked at: an
// accessor could otherwise run JavaScript that detaches an array already checked.
NdCall Prepare(const Napi::CallbackInfo& info, bool async) {
  NdCall call;
  call.async = async;
  // Decode copies the bytecode and constants, so no later JavaScript can change what runs.
  const TypedArrayView code = ReadTypedArray(info[0], "code", {napi_int32_array}, "an Int32Array");
  const TypedArrayView constants = ReadTypedArray(info[1], "constants", {napi_float64_array}, "a Float64Array");
  call.program = Decode(code.Data<const int32_t>(), code.length, constants.Data<const uint64_t>(), constants.length);
  const std::vector<Napi::Value> inputs = Elements(info[2], "inputs");
  const std::vector<Napi::Value> strides = Elements(info[3], "strides");
  const std::vector<Napi::Value> offsets = Elements(info[4], "offsets");
  const std::vector<Napi::Value> shape = Elements(info[5], "shape");
  const std::vector<Napi::Value> outputs = Elements(info[6], "outputs");
  const std::vector<Napi::Value> reduced = Elements(info[8], "reduced");
  ReadTypedArray(info[7], "axes", {napi_int32_array}, "an Int32Array");
  call.options.threads = RequireUint32(info[9], "threads", 1, 1024);
  call.options.blockSize = RequireUint32(info[10], "blockSize", 16, 1 << 20);
  const size_t nInputs = static_cast<size_t>(call.program.nInputs);
  const size_t nOutputs = static_cast<size_t>(call.program.nOutputs);
  if (inputs.size() != nInputs || strides.size() != nInputs || offsets.size() != nInputs) {
    throw RangeError("inputs, strides and offsets must have one entry per program input");
  }
  if (outputs.size() != nOutputs || reduced.size() != nOutputs) {
    throw RangeError("outputs, axes and reduced must have one entry per program output");
  }
  if (shape.empty() || shape.size() > kNdMaxDimensions) throw RangeError("shape must have 1 to 64 dimensions");
  for (const Napi::Value& extent : shape) {
    call.shape.push_back(static_cast<size_t>(RequireInteger(extent, "shape", 0, static_cast<double>(kNdMaxElements))));
  }
  std::vector<std::vector<Napi::Value>> inputStrides(nInputs);
  for (size_t i = 0; i < nInputs; ++i) {
    if (inputs[i].IsTypedArray()) inputStrides[i] = Elements(strides[i], "strides[" + std::to_string(i) + "]");
  }
  // Every JavaScript value has been read; from here on only numbers are converted and arrays resolved (read
  // again, since a getter above could have detached one).
  const TypedArrayView axes = ReadTypedArray(info[7], "axes", {napi_int32_array}, "an Int32Array");
  if (axes.length != 2 * nOutputs) throw RangeError("outputs, axes and reduced must have one entry per program output");
  size_t n = 1;
  for (size_t extent : call.shape) {
    n *= extent;
    if (n > kNdMaxElements) throw RangeError("shape has more than 2**32 elements");
  }
  for (size_t i = 0; i < nInputs; ++i) {
    const std::string name = "inputs[" + std::to_string(i) + "]";
    NdInput in;
    const Kind kind = call.program.kinds[i];
    if (ReadScalar(inputs[i], kind, name, &in.element.scalar)) {
      call.inputs.push_back(std::move(in));
      continue;
    }
    const TypedArrayView array = ReadTypedArray(inputs[i], name, {}, "a number, a bigint or a typed array");
    in.element.source = RequireSource(array, kind, name);
    in.elementSize = ElementSize(array.type);
    in.length = array.length;
    in.offset = RequireInteger(offsets[i], "offsets[" + std::to_string(i) + "]", 0, kSafe);
    for (const Napi::Value& stride : inputStrides[i]) in.strides.push_back(RequireInteger(stride, name, -kSafe, kSafe));
    call.inputs.push_back(std::move(in));
  }
  for (size_t k = 0; k < nOutputs; ++k) {
    const std::string name = "outputs[" + std::to_string(k) + "]";
    NdOutput out;
    out.reduction = static_cast<AxisReduction>(axes.Data<const int32_t>()[2 * k]);
    out.axis = axes.Data<const int32_t>()[2 * k + 1];
    if (out.reduction != AxisReduction::kNone) {
      const std::string label = "reduced[" + std::to_string(k) + "]";
      out.reducedLength = ReadTypedArray(reduced[k], label, {napi_float64_array}, "a Float64Array").length;
    } else if (!outputs[k].IsNull() && !outputs[k].IsUndefined()) {
      static constexpr napi_typedarray_type kArrays[] = {napi_uint8_array, napi_int32_array, napi_bigint64_array,
                                                         napi_float32_array, napi_float64_array};
      static constexpr const char* kNames[] = {"a Uint8Array", "an Int32Array", "a BigInt64Array",
                                               "a Float32Array", "a Float64Array"};
      const auto kind = static_cast<size_t>(call.program.kinds[call.program.OutputRegister(static_cast<int32_t>(k))]);
      if (ReadTypedArray(outputs[k], name, {kArrays[kind]}, kNames[kind]).length != n) {
        throw RangeError(name + " has the wrong length");
      }
    }
    call.outputs.push_back(out);
  }
  for (size_t i = 0; i < nInputs; ++i) {
    if (call.inputs[i].element.source == Source::kScalar) continue;
    const std::string name = "inputs[" + std::to_string(i) + "]";
    call.inputs[i].element.data = ArrayData(ReadTypedArray(inputs[i], name), name, AsyncArray::Use::kInput, call);
  }
  for (size_t k = 0; k < nOutputs; ++k) {
    NdOutput& out = call.outputs[k];
    const std::string name = "outputs[" + std::to_string(k) + "]";
    if (out.reduction != AxisReduction::kNone) {
      const std::string label = "reduced[" + std::to_string(k) + "]";
      out.reduced =
          static_cast<double*>(ArrayData(ReadTypedArray(reduced[k], label), label, AsyncArray::Use::kOutput, call));
    } else if (outputs[k].IsTypedArray()) {
      out.elementwise = ArrayData(ReadTypedArray(outputs[k], name), name, AsyncArray::Use::kOutput, call);
    }
  }
  // Strides, offsets and every read against each array's length, before any computation (RunNd checks again).
  CheckNd(call.program, call.inputs, call.shape, call.outputs);
  return call;
}

// Each full reduction's raw 64 bits, as exprEvaluate returns them.
Napi::Float64Array Reductions(Napi::Env env, const std::vector<uint64_t>& values) {
  auto out = Napi::Float64Array::New(env, values.size());
  if (!values.empty()) std::memcpy(out.Data(), values.data(), values.size() * sizeof(uint64_t));
  return out;
}

Napi::Value EvaluateNdSync(const Napi::CallbackInfo& info) {
  NdCall call = Prepare(info, false);
  std::vector<uint64_t> reductions(call.outputs.size());
  RunNd(call.program, call.inputs, call.shape, call.outputs, call.options, reductions.data());
  return Reductions(info.Env(), reductions);
}

class EvaluateNdWorker : public PromiseWorker {
 public:
  EvaluateNdWorker(Napi::Env env, NdCall&& call) : PromiseWorker(env, "hotpath.exprNd"), call_(std::move(call)) {}

 protected:
  void Compute() override {
    reductions_.resize(call_.outputs.size());
    RunNd(call_.program, call_.inputs, call_.shape, call_.outputs, call_.options, reductions_.data());
  }

  Napi::Value Result(Napi::Env env) override {
    for (const auto& array : call_.held) array->Deliver();
    return Reductions(env, reductions_);
  }

 private:
  NdCall call_;
  std::vector<uint64_t> reductions_;
};

Napi::Value EvaluateNdAsync(const Napi::CallbackInfo& info) {
  return PromiseWorker::Start(new EvaluateNdWorker(info.Env(), Prepare(info, true)));
}

}  // namespace

void RegisterNd(Napi::Env env, Napi::Object exports) {
  exports.Set("exprEvaluateNd", Napi::Function::New<Guarded<EvaluateNdSync>>(env, "exprEvaluateNd"));
  exports.Set("exprEvaluateNdAsync", Napi::Function::New<Guarded<EvaluateNdAsync>>(env, "exprEvaluateNdAsync"));
}

}  // namespace hotpath::expr
