// N-API surface of the OpenCL layer: contexts, buffers, transfers and kernel runs, and the
// registration of every opencl* function. OpenCL objects travel to JavaScript as Externals wrapping
// a tagged Handle (opencl_handles.h). Transfers and kernel runs are enqueued on the main thread (so
// bad arguments throw before anything runs) and their promises settle from clSetEventCallback
// (opencl_completion.h): the event loop never waits on the device. Program builds run on the libuv
// pool (opencl_program.cc); platforms and devices are found once (opencl_discovery.h).
#include "opencl_binding.h"

#include "opencl_api.h"  // first: it pins CL_TARGET_OPENCL_VERSION before any CL header

#include <memory>
#include <string>
#include <vector>

#include "../common/async_array.h"
#include "../common/napi_errors.h"
#include "../common/typed_array.h"
#include "opencl_completion.h"
#include "opencl_discovery.h"
#include "opencl_handles.h"
#include "opencl_program.h"

namespace hotpath::opencl {
namespace {

// ---- Argument helpers ------------------------------------------------------------------------

size_t RequireSize(const Napi::Value& value, const char* argName, size_t min) {
  if (!value.IsNumber()) throw TypeError(std::string(argName) + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= static_cast<double>(min) && number <= 9007199254740991.0) ||
      number != static_cast<double>(static_cast<size_t>(number))) {
    throw RangeError(std::string(argName) + " must be an integer >= " + std::to_string(min));
  }
  return static_cast<size_t>(number);
}

std::vector<size_t> RequireSizes(const Napi::Value& value, const char* argName) {
  if (!value.IsArray()) throw TypeError(std::string(argName) + " must be an array of 1 to 3 sizes");
  auto array = value.As<Napi::Array>();
  if (array.Length() < 1 || array.Length() > 3) throw RangeError(std::string(argName) + " must have 1 to 3 dimensions");
  std::vector<size_t> sizes;
  for (uint32_t i = 0; i < array.Length(); ++i) sizes.push_back(RequireSize(array.Get(i), argName, 1));
  return sizes;
}

// ---- Exported functions ----------------------------------------------------------------------

Napi::Value Status(const Napi::CallbackInfo& info) {
  const Discovery& d = Discover();
  auto out = Napi::Object::New(info.Env());
  out.Set("available", Napi::Boolean::New(info.Env(), d.api != nullptr));
  out.Set("reason", d.api != nullptr ? info.Env().Null() : Napi::String::New(info.Env(), d.reason));
  const LoadPath& path = GetLoadPath();
  out.Set("via", path.via.empty() ? info.Env().Null() : Napi::String::New(info.Env(), path.via));
  auto libraries = Napi::Array::New(info.Env(), path.libraries.size());
  for (uint32_t i = 0; i < path.libraries.size(); ++i) libraries.Set(i, path.libraries[i]);
  out.Set("libraries", libraries);
  return out;
}

Napi::Value Platforms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Api& cl = RequireApi();
  const Discovery& d = Discover();
  auto platforms = Napi::Array::New(env, d.platforms.size());
  uint32_t deviceIndex = 0;
  for (uint32_t p = 0; p < d.platforms.size(); ++p) {
    const Platform& platform = d.platforms[p];
    auto po = Napi::Object::New(env);
    po.Set("name", GetString(cl.clGetPlatformInfo, platform.id, CL_PLATFORM_NAME));
    po.Set("vendor", GetString(cl.clGetPlatformInfo, platform.id, CL_PLATFORM_VENDOR));
    po.Set("version", GetString(cl.clGetPlatformInfo, platform.id, CL_PLATFORM_VERSION));
    po.Set("profile", GetString(cl.clGetPlatformInfo, platform.id, CL_PLATFORM_PROFILE));
    auto devices = Napi::Array::New(env, platform.devices.size());
    for (uint32_t i = 0; i < platform.devices.size(); ++i) {
      cl_device_id device = platform.devices[i];
      auto o = Napi::Object::New(env);
      o.Set("index", deviceIndex++);
      o.Set("name", GetString(cl.clGetDeviceInfo, device, CL_DEVICE_NAME));
      o.Set("vendor", GetString(cl.clGetDeviceInfo, device, CL_DEVICE_VENDOR));
      o.Set("version", GetString(cl.clGetDeviceInfo, device, CL_DEVICE_VERSION));
      o.Set("driverVersion", GetString(cl.clGetDeviceInfo, device, CL_DRIVER_VERSION));
      o.Set("typeMask", static_cast<double>(GetDeviceValue<cl_device_type>(cl, device, CL_DEVICE_TYPE)));
      o.Set("computeUnits", GetDeviceValue<cl_uint>(cl, device, CL_DEVICE_MAX_COMPUTE_UNITS));
      o.Set("clockMHz", GetDeviceValue<cl_uint>(cl, device, CL_DEVICE_MAX_CLOCK_FREQUENCY));
      o.Set("globalMemory", static_cast<double>(GetDeviceValue<cl_ulong>(cl, device, CL_DEVICE_GLOBAL_MEM_SIZE)));
      o.Set("localMemory", static_cast<double>(GetDeviceValue<cl_ulong>(cl, device, CL_DEVICE_LOCAL_MEM_SIZE)));
      o.Set("maxAllocation", static_cast<double>(GetDeviceValue<cl_ulong>(cl, device, CL_DEVICE_MAX_MEM_ALLOC_SIZE)));
      o.Set("maxWorkGroupSize", static_cast<double>(GetDeviceValue<size_t>(cl, device, CL_DEVICE_MAX_WORK_GROUP_SIZE)));
      size_t itemSizes[3] = {0, 0, 0};
      cl.clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof(itemSizes), itemSizes, nullptr);
      auto sizes = Napi::Array::New(env, 3);
      for (uint32_t k = 0; k < 3; ++k) sizes.Set(k, static_cast<double>(itemSizes[k]));
      o.Set("maxWorkItemSizes", sizes);
      o.Set("fp64", GetDeviceValue<cl_device_fp_config>(cl, device, CL_DEVICE_DOUBLE_FP_CONFIG) != 0);
      // 64-bit integers are core in the full profile; an embedded-profile device has them with cles_khr_int64.
      const std::string profile = GetString(cl.clGetDeviceInfo, device, CL_DEVICE_PROFILE);
      const std::string extensions = GetString(cl.clGetDeviceInfo, device, CL_DEVICE_EXTENSIONS);
      o.Set("int64", profile == "FULL_PROFILE" || extensions.find("cles_khr_int64") != std::string::npos);
      devices.Set(i, o);
    }
    po.Set("devices", devices);
    platforms.Set(p, po);
  }
  return platforms;
}

Napi::Value CreateContext(const Napi::CallbackInfo& info) {
  const Api& cl = RequireApi();
  const Discovery& d = Discover();
  const size_t index = RequireSize(info[0], "device", 0);
  if (index >= d.devices.size()) throw RangeError("device index " + std::to_string(index) + " does not exist");
  auto* handle = new ContextHandle();
  handle->device = d.devices[index];
  cl_int status = CL_SUCCESS;
  handle->context = cl.clCreateContext(nullptr, 1, &handle->device, nullptr, nullptr, &status);
  if (status == CL_SUCCESS) handle->queue = cl.clCreateCommandQueue(handle->context, handle->device, 0, &status);
  if (status != CL_SUCCESS) {
    if (handle->context != nullptr) cl.clReleaseContext(handle->context);
    delete handle;
    Check(status, "clCreateContext");
  }
  return Wrap(info.Env(), handle);
}

// createBuffer(ctx, access: 0 read-write | 1 read-only | 2 write-only, byteLength, initial?)
Napi::Value CreateBuffer(const Napi::CallbackInfo& info) {
  const Api& cl = RequireApi();
  auto* ctx = RequireHandle<ContextHandle>(info[0], Kind::Context, "context");
  static const cl_mem_flags kAccess[] = {CL_MEM_READ_WRITE, CL_MEM_READ_ONLY, CL_MEM_WRITE_ONLY};
  const size_t access = RequireSize(info[1], "access", 0);
  if (access > 2) throw RangeError("access must be 0, 1 or 2");
  const size_t byteLength = RequireSize(info[2], "byteLength", 1);
  cl_mem_flags flags = kAccess[access];
  void* initial = nullptr;
  if (!info[3].IsUndefined()) {
    const TypedArrayView bytes = ReadTypedArray(info[3], "initial");
    if (bytes.byteLength != byteLength) throw RangeError("initial data must be exactly byteLength bytes");
    initial = bytes.data;
    flags |= CL_MEM_COPY_HOST_PTR;  // copied during the call: the typed array stays the caller's
  }
  cl_int status = CL_SUCCESS;
  cl_mem mem = cl.clCreateBuffer(ctx->context, flags, byteLength, initial, &status);
  Check(status, "clCreateBuffer");
  auto* handle = new BufferHandle();
  handle->mem = mem;
  handle->byteLength = byteLength;
  handle->externalBytes = static_cast<int64_t>(byteLength);
  return Wrap(info.Env(), handle);
}

// transfer(ctx, buffer, typedArray, byteOffset): write when `isWrite`, else read into the array.
// The command reads or writes native memory (a copy of the source; the read's result, copied into
// the array once the command completes), never the array's own buffer: see AsyncArray.
template <bool isWrite>
Napi::Value Transfer(const Napi::CallbackInfo& info) {
  const Api& cl = RequireApi();
  auto* ctx = RequireHandle<ContextHandle>(info[0], Kind::Context, "context");
  auto* buffer = RequireHandle<BufferHandle>(info[1], Kind::Buffer, "buffer");
  const char* name = isWrite ? "source" : "destination";
  const TypedArrayView array = ReadTypedArray(info[2], name);
  const size_t offset = RequireSize(info[3], "byteOffset", 0);
  auto host = std::make_unique<AsyncArray>(array, isWrite ? AsyncArray::Use::kInput : AsyncArray::Use::kOutput, name,
                                           AsyncArray::Placement::kStaged);
  const size_t length = host->ByteLength();
  if (offset > buffer->byteLength || length > buffer->byteLength - offset) {
    throw RangeError(std::to_string(length) + " bytes at byte offset " + std::to_string(offset) +
                     " exceed the buffer's " + std::to_string(buffer->byteLength) + " bytes");
  }
  Napi::Env env = info.Env();
  Napi::Value result = isWrite ? env.Undefined() : info[2];
  if (length == 0) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Resolve(result);
    return deferred.Promise();
  }
  void* data = host->Data();
  const char* what = isWrite ? "buffer write" : "buffer read";
  auto completion = PrepareCompletion(env, {info[0], info[1]}, result, what, std::move(host));
  cl_event event = nullptr;
  cl_int status =
      isWrite ? cl.clEnqueueWriteBuffer(ctx->queue, buffer->mem, CL_FALSE, offset, length, data, 0, nullptr, &event)
              : cl.clEnqueueReadBuffer(ctx->queue, buffer->mem, CL_FALSE, offset, length, data, 0, nullptr, &event);
  if (status != CL_SUCCESS) {
    DiscardCompletion(std::move(completion));
    Check(status, isWrite ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer");
  }
  return AwaitEvent(*ctx, event, std::move(completion));
}

// runKernel(ctx, kernel, args, global, local | null). Each arg: a Buffer handle, a typed array
// holding a scalar's bytes, or a number giving the byte size of a __local allocation.
Napi::Value RunKernel(const Napi::CallbackInfo& info) {
  const Api& cl = RequireApi();
  auto* ctx = RequireHandle<ContextHandle>(info[0], Kind::Context, "context");
  auto* kernel = RequireHandle<KernelHandle>(info[1], Kind::Kernel, "kernel");
  if (!info[2].IsArray()) throw TypeError("args must be an array");
  auto args = info[2].As<Napi::Array>();
  if (args.Length() != kernel->numArgs) {
    throw TypeError("the kernel takes " + std::to_string(kernel->numArgs) + " arguments, got " +
                    std::to_string(args.Length()));
  }
  std::vector<size_t> global = RequireSizes(info[3], "global");
  std::vector<size_t> local;
  if (!info[4].IsNull() && !info[4].IsUndefined()) {
    local = RequireSizes(info[4], "local");
    if (local.size() != global.size()) throw RangeError("local must have as many dimensions as global");
  }
  std::vector<Napi::Value> keepAlive = {info[0], info[1]};
  // __local allocations must fit the device's local memory: drivers abort (pocl asserts) otherwise.
  const cl_ulong localMemory = GetDeviceValue<cl_ulong>(cl, ctx->device, CL_DEVICE_LOCAL_MEM_SIZE);
  cl_ulong localTotal = 0;
  std::vector<Napi::Value> values;  // read first: an accessor element runs JavaScript
  for (uint32_t i = 0; i < args.Length(); ++i) values.push_back(args.Get(i));
  for (uint32_t i = 0; i < values.size(); ++i) {
    Napi::Value arg = values[i];
    const std::string where = "argument " + std::to_string(i);
    cl_int status;
    TypedArrayView scalar;  // a scalar's bytes, copied by clSetKernelArg
    if (arg.IsExternal()) {
      auto* buffer = RequireHandle<BufferHandle>(arg, Kind::Buffer, where.c_str());
      status = cl.clSetKernelArg(kernel->kernel, i, sizeof(cl_mem), &buffer->mem);
      keepAlive.push_back(arg);
    } else if (TryReadTypedArray(arg, where, &scalar)) {
      status = cl.clSetKernelArg(kernel->kernel, i, scalar.byteLength, scalar.data);
    } else if (arg.IsNumber()) {
      const size_t bytes = RequireSize(arg, where.c_str(), 1);
      if (bytes > localMemory || (localTotal += bytes) > localMemory) {
        throw RangeError(where + ": __local allocations of " +
                         std::to_string(bytes > localMemory ? bytes : localTotal) +
                         " bytes exceed the device's local memory (" + std::to_string(localMemory) + " bytes)");
      }
      status = cl.clSetKernelArg(kernel->kernel, i, bytes, nullptr);
    } else {
      throw TypeError(where + " must be a Buffer, a scalar or a local allocation");
    }
    if (status != CL_SUCCESS) throw TypeError(where + ": clSetKernelArg failed: " + ErrorName(status));
  }
  auto completion = PrepareCompletion(info.Env(), keepAlive, Napi::Value(), "kernel run");
  cl_event event = nullptr;
  cl_int status = cl.clEnqueueNDRangeKernel(ctx->queue, kernel->kernel, static_cast<cl_uint>(global.size()), nullptr,
                                            global.data(), local.empty() ? nullptr : local.data(), 0, nullptr, &event);
  if (status != CL_SUCCESS) {
    DiscardCompletion(std::move(completion));
    Check(status, "clEnqueueNDRangeKernel");
  }
  return AwaitEvent(*ctx, event, std::move(completion));
}

// release(handle): frees the OpenCL object now; a second release is an Error, never a crash.
Napi::Value Release(const Napi::CallbackInfo& info) {
  Handle* handle = RequireAnyHandle(info[0], "handle");
  if (handle->released) {
    throw std::runtime_error(std::string("this ") + KindName(handle->kind) + " has already been released");
  }
  handle->Release(info.Env());
  return info.Env().Undefined();
}

}  // namespace

void Register(Napi::Env env, Napi::Object exports) {
  MarkEnvAlive(env);
  exports.Set("openclStatus", Napi::Function::New<Guarded<Status>>(env, "openclStatus"));
  exports.Set("openclPlatforms", Napi::Function::New<Guarded<Platforms>>(env, "openclPlatforms"));
  exports.Set("openclCreateContext", Napi::Function::New<Guarded<CreateContext>>(env, "openclCreateContext"));
  exports.Set("openclCreateBuffer", Napi::Function::New<Guarded<CreateBuffer>>(env, "openclCreateBuffer"));
  exports.Set("openclWriteBuffer", Napi::Function::New<Guarded<Transfer<true>>>(env, "openclWriteBuffer"));
  exports.Set("openclReadBuffer", Napi::Function::New<Guarded<Transfer<false>>>(env, "openclReadBuffer"));
  exports.Set("openclBuildProgram", Napi::Function::New<Guarded<BuildProgram>>(env, "openclBuildProgram"));
  exports.Set("openclCreateKernel", Napi::Function::New<Guarded<CreateKernel>>(env, "openclCreateKernel"));
  exports.Set("openclRunKernel", Napi::Function::New<Guarded<RunKernel>>(env, "openclRunKernel"));
  exports.Set("openclRelease", Napi::Function::New<Guarded<Release>>(env, "openclRelease"));
}

}  // namespace hotpath::opencl
