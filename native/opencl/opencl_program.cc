// Programs and kernels: clBuildProgram runs on the libuv pool (it blocks for the whole compile),
// clCreateKernel on the calling thread with the kernel's argument metadata where the driver keeps it.
#include "opencl_program.h"

#include <cstring>
#include <string>
#include <utility>

#include "../common/napi_errors.h"
#include "../common/promise_worker.h"
#include "opencl_discovery.h"
#include "opencl_handles.h"

namespace hotpath::opencl {
namespace {

// Builds on the libuv pool (clBuildProgram blocks); rejects with an Error whose message and
// `buildLog` carry the log.
class BuildWorker : public PromiseWorker {
 public:
  BuildWorker(Napi::Env env, Napi::Value ctx, ProgramHandle* program, std::string options)
      : PromiseWorker(env, "hotpath.opencl.build"),
        context_(Napi::Persistent(ctx)),
        program_(program),
        options_(std::move(options)) {}
  // A program that never reached JavaScript (failed build, environment teardown) goes with the worker.
  ~BuildWorker() override {
    if (program_ == nullptr) return;
    program_->ReleaseObject(*Discover().api);
    delete program_;
  }

 protected:
  void Compute() override {
    const Api& cl = *Discover().api;
    status_ = cl.clBuildProgram(program_->program, 1, &program_->device, options_.c_str(), nullptr, nullptr);
    if (status_ == CL_SUCCESS) return;
    size_t size = 0;
    cl.clGetProgramBuildInfo(program_->program, program_->device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size);
    log_.assign(size, '\0');
    if (size > 0) {
      cl.clGetProgramBuildInfo(program_->program, program_->device, CL_PROGRAM_BUILD_LOG, size, log_.data(), nullptr);
    }
    log_.resize(std::strlen(log_.c_str()));
  }

  // A failed build rejects with the Error thrown here (PromiseWorker passes a Napi::Error through).
  Napi::Value Result(Napi::Env env) override {
    if (status_ != CL_SUCCESS) {
      auto error = Napi::Error::New(env, "hotpath: program build failed: " + ErrorName(status_) + "\n" + log_);
      error.Set("buildLog", Napi::String::New(env, log_));
      error.Set("status", Napi::Number::New(env, status_));
      throw error;
    }
    Napi::External<Handle> wrapped = Wrap(env, program_);
    program_ = nullptr;  // JavaScript's from here: released by release() or the finalizer
    return wrapped;
  }

 private:
  Napi::Reference<Napi::Value> context_;  // the program's context must outlive the build
  ProgramHandle* program_;
  std::string options_;
  cl_int status_ = CL_SUCCESS;
  std::string log_;
};

std::string GetArgString(const Api& cl, cl_kernel kernel, cl_uint index, cl_kernel_arg_info param,
                         cl_int* status) {
  size_t size = 0;
  *status = cl.clGetKernelArgInfo(kernel, index, param, 0, nullptr, &size);
  if (*status != CL_SUCCESS) return "";
  std::string text(size, '\0');
  *status = cl.clGetKernelArgInfo(kernel, index, param, size, text.data(), nullptr);
  text.resize(std::strlen(text.c_str()));
  return text;
}

}  // namespace

// buildProgram(ctx, source, options) -> Promise<Program handle>
Napi::Value BuildProgram(const Napi::CallbackInfo& info) {
  const Api& cl = RequireApi();
  auto* ctx = RequireHandle<ContextHandle>(info[0], Kind::Context, "context");
  if (!info[1].IsString()) throw TypeError("source must be a string");
  if (!info[2].IsString()) throw TypeError("options must be a string");
  const std::string source = info[1].As<Napi::String>();
  const char* text = source.c_str();
  const size_t length = source.size();
  cl_int status = CL_SUCCESS;
  cl_program program = cl.clCreateProgramWithSource(ctx->context, 1, &text, &length, &status);
  Check(status, "clCreateProgramWithSource");
  auto* handle = new ProgramHandle();
  handle->device = ctx->device;
  handle->program = program;
  return PromiseWorker::Start(new BuildWorker(info.Env(), info[0], handle, info[2].As<Napi::String>()));
}

// createKernel(program, name) -> { handle, workGroupSize, args: [{ name, type, addressSpace }] | null }
Napi::Value CreateKernel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Api& cl = RequireApi();
  auto* program = RequireHandle<ProgramHandle>(info[0], Kind::Program, "program");
  if (!info[1].IsString()) throw TypeError("name must be a string");
  const std::string name = info[1].As<Napi::String>();
  cl_int status = CL_SUCCESS;
  cl_kernel kernel = cl.clCreateKernel(program->program, name.c_str(), &status);
  if (status == CL_INVALID_KERNEL_NAME) throw std::runtime_error("the program has no kernel named '" + name + "'");
  Check(status, "clCreateKernel");
  auto* handle = new KernelHandle();
  handle->kernel = kernel;
  auto wrapped = Wrap(env, handle);  // owns the kernel from here, even if a query below throws
  Check(cl.clGetKernelInfo(kernel, CL_KERNEL_NUM_ARGS, sizeof(cl_uint), &handle->numArgs, nullptr),
        "clGetKernelInfo");
  size_t workGroupSize = 0;
  Check(cl.clGetKernelWorkGroupInfo(kernel, program->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof(size_t),
                                    &workGroupSize, nullptr),
        "clGetKernelWorkGroupInfo");
  auto out = Napi::Object::New(env);
  out.Set("handle", wrapped);
  out.Set("workGroupSize", static_cast<double>(workGroupSize));
  out.Set("numArgs", handle->numArgs);
  auto args = Napi::Array::New(env, handle->numArgs);
  for (cl_uint i = 0; i < handle->numArgs; ++i) {
    cl_kernel_arg_address_qualifier qualifier = 0;
    status = cl.clGetKernelArgInfo(kernel, i, CL_KERNEL_ARG_ADDRESS_QUALIFIER, sizeof(qualifier), &qualifier, nullptr);
    std::string argName = status == CL_SUCCESS ? GetArgString(cl, kernel, i, CL_KERNEL_ARG_NAME, &status) : "";
    std::string typeName = status == CL_SUCCESS ? GetArgString(cl, kernel, i, CL_KERNEL_ARG_TYPE_NAME, &status) : "";
    if (status != CL_SUCCESS) {
      out.Set("args", env.Null());  // the driver keeps no argument metadata: only the count is checked
      return out;
    }
    auto arg = Napi::Object::New(env);
    arg.Set("name", argName);
    arg.Set("type", typeName);
    arg.Set("addressSpace", qualifier == CL_KERNEL_ARG_ADDRESS_GLOBAL     ? "global"
                            : qualifier == CL_KERNEL_ARG_ADDRESS_LOCAL    ? "local"
                            : qualifier == CL_KERNEL_ARG_ADDRESS_CONSTANT ? "constant"
                                                                          : "private");
    args.Set(i, arg);
  }
  out.Set("args", args);
  return out;
}

}  // namespace hotpath::opencl
