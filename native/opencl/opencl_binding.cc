// N-API surface of the OpenCL layer. OpenCL objects travel to JavaScript as Externals wrapping a
// tagged Handle whose finalizer releases the object if release() was never called. Transfers and
// kernel runs are enqueued on the main thread (so bad arguments throw before anything runs) and
// their promises settle from clSetEventCallback through a thread-safe function: the event loop never
// waits on the device. Program builds run on the libuv pool (clBuildProgram blocks).
#include "opencl_binding.h"

#include "opencl_api.h"  // first: it pins CL_TARGET_OPENCL_VERSION before any CL header

#include <CL/cl_ext.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "../common/async_array.h"
#include "../common/napi_errors.h"
#include "../common/typed_array.h"

namespace hotpath::opencl {
namespace {

// ---- Discovery -------------------------------------------------------------------------------

struct Platform {
  cl_platform_id id;
  std::vector<cl_device_id> devices;
};

struct Discovery {
  const Api* api = nullptr;
  std::string reason;  // why OpenCL is unavailable (empty when available)
  std::vector<Platform> platforms;
  std::vector<cl_device_id> devices;  // every device of every platform: JS names a device by index
};

// Root platform and device ids are valid for the life of the process, so they are found once, under
// one process-wide lock: concurrent first use from worker threads otherwise saw "no device".
const Discovery& Discover() {
  static std::mutex mutex;
  static bool done = false;
  static Discovery discovery;
  std::lock_guard<std::mutex> lock(mutex);
  if (done) return discovery;
  done = true;
  discovery.api = LoadApi(&discovery.reason);
  if (discovery.api == nullptr) return discovery;
  const Api& cl = *discovery.api;
  cl_uint count = 0;
  cl_int status = cl.clGetPlatformIDs(0, nullptr, &count);
  if (status == CL_PLATFORM_NOT_FOUND_KHR || (status == CL_SUCCESS && count == 0)) {
    discovery.reason = "no OpenCL platform found (the ICD loader has no vendor driver, e.g. pocl-opencl-icd)";
    discovery.api = nullptr;
    return discovery;
  }
  if (status != CL_SUCCESS) {
    discovery.reason = "clGetPlatformIDs failed: " + ErrorName(status);
    discovery.api = nullptr;
    return discovery;
  }
  std::vector<cl_platform_id> ids(count);
  cl.clGetPlatformIDs(count, ids.data(), nullptr);
  for (cl_platform_id id : ids) {
    Platform platform{id, {}};
    cl_uint deviceCount = 0;
    if (cl.clGetDeviceIDs(id, CL_DEVICE_TYPE_ALL, 0, nullptr, &deviceCount) == CL_SUCCESS && deviceCount > 0) {
      platform.devices.resize(deviceCount);
      cl.clGetDeviceIDs(id, CL_DEVICE_TYPE_ALL, deviceCount, platform.devices.data(), nullptr);
    }
    discovery.devices.insert(discovery.devices.end(), platform.devices.begin(), platform.devices.end());
    discovery.platforms.push_back(std::move(platform));
  }
  return discovery;
}

const Api& RequireApi() {
  const Discovery& d = Discover();
  if (d.api == nullptr) throw std::runtime_error("OpenCL is not available: " + d.reason);
  return *d.api;
}

// ---- Handles ---------------------------------------------------------------------------------

enum class Kind { Context, Buffer, Program, Kernel };
constexpr uint32_t kHandleTag = 0x6f70636cu;  // 'opcl': rejects Externals that are not ours

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::Context: return "Context";
    case Kind::Buffer: return "Buffer";
    case Kind::Program: return "Program";
    case Kind::Kernel: return "Kernel";
  }
  return "handle";
}

struct Handle {
  explicit Handle(Kind k) : kind(k) {}
  virtual ~Handle() = default;
  // Idempotent: explicit release() marks the handle, the finalizer releases only what is left.
  void Release(Napi::Env env) {
    if (released) return;
    released = true;
    ReleaseObject(*Discover().api);
    if (externalBytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -externalBytes);
  }
  virtual void ReleaseObject(const Api& cl) = 0;

  uint32_t tag = kHandleTag;
  Kind kind;
  bool released = false;
  // Memory the handle holds outside the JS heap, reported to V8 so GC runs when it piles up.
  int64_t externalBytes = 0;
};

struct ContextHandle : Handle {
  ContextHandle() : Handle(Kind::Context) {}
  void ReleaseObject(const Api& cl) override {
    cl.clReleaseCommandQueue(queue);
    cl.clReleaseContext(context);
  }
  cl_device_id device = nullptr;
  cl_context context = nullptr;
  cl_command_queue queue = nullptr;
};

struct BufferHandle : Handle {
  BufferHandle() : Handle(Kind::Buffer) {}
  void ReleaseObject(const Api& cl) override { cl.clReleaseMemObject(mem); }
  cl_mem mem = nullptr;
  size_t byteLength = 0;
};

struct ProgramHandle : Handle {
  ProgramHandle() : Handle(Kind::Program) {}
  void ReleaseObject(const Api& cl) override { cl.clReleaseProgram(program); }
  cl_device_id device = nullptr;
  cl_program program = nullptr;
};

struct KernelHandle : Handle {
  KernelHandle() : Handle(Kind::Kernel) {}
  void ReleaseObject(const Api& cl) override { cl.clReleaseKernel(kernel); }
  cl_kernel kernel = nullptr;
  cl_uint numArgs = 0;
};

Napi::External<Handle> Wrap(Napi::Env env, Handle* handle) {
  if (handle->externalBytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, handle->externalBytes);
  return Napi::External<Handle>::New(env, handle, [](Napi::Env finalizeEnv, Handle* h) {
    h->Release(finalizeEnv);
    delete h;
  });
}

Handle* RequireAnyHandle(const Napi::Value& value, const char* argName) {
  if (!value.IsExternal()) throw TypeError(std::string(argName) + " must be an OpenCL handle");
  auto* handle = value.As<Napi::External<Handle>>().Data();
  if (handle == nullptr || handle->tag != kHandleTag) throw TypeError(std::string(argName) + " must be an OpenCL handle");
  return handle;
}

template <typename T>
T* RequireHandle(const Napi::Value& value, Kind kind, const char* argName) {
  Handle* handle = RequireAnyHandle(value, argName);
  if (handle->kind != kind) {
    throw TypeError(std::string(argName) + " must be a " + KindName(kind) + ", got a " + KindName(handle->kind));
  }
  if (handle->released) throw std::runtime_error(std::string("this ") + KindName(kind) + " has been released");
  return static_cast<T*>(handle);
}

// ---- Argument helpers ------------------------------------------------------------------------

struct Bytes {
  void* data = nullptr;
  size_t length = 0;
};

// Bytes of a typed array read during the call (clCreateBuffer copies them, clSetKernelArg too).
// Plain and SharedArrayBuffer-backed arrays alike (TypedArrayData).
Bytes RequireTypedArrayBytes(const Napi::Value& value, const char* argName) {
  if (!value.IsTypedArray()) throw TypeError(std::string(argName) + " must be a typed array");
  auto array = value.As<Napi::TypedArray>();
  Bytes bytes;
  bytes.length = array.ByteLength();
  bytes.data = TypedArrayData(array, argName);
  return bytes;
}

size_t RequireSize(const Napi::Value& value, const char* argName, size_t min) {
  if (!value.IsNumber()) throw TypeError(std::string(argName) + " must be a number");
  const double number = value.As<Napi::Number>().DoubleValue();
  if (!(number >= static_cast<double>(min) && number <= 9007199254740991.0) || number != static_cast<double>(static_cast<size_t>(number))) {
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

// A string property through clGetDeviceInfo or clGetPlatformInfo (same calling convention).
template <typename Getter, typename Id, typename Param>
std::string GetString(Getter getInfo, Id id, Param param) {
  size_t size = 0;
  if (getInfo(id, param, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string text(size, '\0');
  getInfo(id, param, size, text.data(), nullptr);
  text.resize(std::strlen(text.c_str()));
  return text;
}

template <typename T>
T GetDeviceValue(const Api& cl, cl_device_id device, cl_device_info param) {
  T value{};
  cl.clGetDeviceInfo(device, param, sizeof(T), &value, nullptr);
  return value;
}

// ---- Completion: a promise settled when an OpenCL event completes ------------------------------
//
// The event callback runs on a driver thread and reaches the JavaScript thread through a
// thread-safe function. When a worker's environment is torn down, Node deletes its thread-safe
// functions whether or not a driver thread still holds one, so callbacks check, under one lock,
// that the environment they belong to is still alive (envs are marked dead by a cleanup hook that
// runs before the functions are deleted). Host memory a command reads or writes is native
// (AsyncArray, staged), so a command that outlives its environment writes memory nobody frees.

std::mutex liveEnvsMutex;
std::unordered_map<napi_env, uint64_t> liveEnvs;  // env -> generation (addresses can be reused)
uint64_t nextGeneration = 1;

void MarkEnvDead(void* env) {
  std::lock_guard<std::mutex> lock(liveEnvsMutex);
  liveEnvs.erase(static_cast<napi_env>(env));
}

void MarkEnvAlive(napi_env env) {
  {
    std::lock_guard<std::mutex> lock(liveEnvsMutex);
    liveEnvs[env] = nextGeneration++;
  }
  napi_add_env_cleanup_hook(env, MarkEnvDead, env);
}

uint64_t Generation(napi_env env) {
  std::lock_guard<std::mutex> lock(liveEnvsMutex);
  auto found = liveEnvs.find(env);
  return found == liveEnvs.end() ? 0 : found->second;
}

struct Completion;
void SettleOnMainThread(Napi::Env env, Napi::Function, std::nullptr_t*, Completion* completion);
using CompletionCall = Napi::TypedThreadSafeFunction<std::nullptr_t, Completion, SettleOnMainThread>;

struct Completion {
  explicit Completion(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)), env(env), generation(Generation(env)) {}
  Napi::Promise::Deferred deferred;
  // JS values (handles, typed arrays) that must outlive the command: GC cannot free them meanwhile.
  std::vector<Napi::Reference<Napi::Value>> keepAlive;
  Napi::Reference<Napi::Value> result;  // resolved value (the typed array of a read), or undefined
  std::unique_ptr<AsyncArray> host;     // native copy of a transfer's host memory
  std::string what;
  cl_event event = nullptr;
  cl_int status = CL_SUCCESS;
  CompletionCall call;
  napi_env env;
  uint64_t generation;
};

// The environment is gone: no reference can be released in it, nothing settled. The command has
// completed, so its native host memory can go.
void DropAfterTeardown(Completion* completion) {
  Discover().api->clReleaseEvent(completion->event);
  for (auto& ref : completion->keepAlive) ref.SuppressDestruct();
  completion->result.SuppressDestruct();
  if (completion->host) completion->host->Abandon();
  delete completion;
}

void SettleOnMainThread(Napi::Env env, Napi::Function, std::nullptr_t*, Completion* completion) {
  if (env == nullptr) return DropAfterTeardown(completion);
  Napi::HandleScope scope(env);
  Discover().api->clReleaseEvent(completion->event);
  try {
    if (completion->status < 0) {
      completion->deferred.Reject(Napi::Error::New(env, "hotpath: " + completion->what + " failed on the device: " +
                                                            ErrorName(completion->status)).Value());
    } else {
      try {
        if (completion->host) completion->host->Deliver();
        completion->deferred.Resolve(completion->result.IsEmpty() ? env.Undefined() : completion->result.Value());
      } catch (...) {
        completion->deferred.Reject(ToJsError(env, std::current_exception()).Value());
      }
    }
  } catch (...) {
    // Settling failed: the environment is being torn down and can no longer run JavaScript.
  }
  delete completion;
}

void CL_CALLBACK OnEventComplete(cl_event, cl_int status, void* data) {
  auto* completion = static_cast<Completion*>(data);
  completion->status = status;
  std::lock_guard<std::mutex> lock(liveEnvsMutex);
  auto found = liveEnvs.find(completion->env);
  if (found == liveEnvs.end() || found->second != completion->generation) return DropAfterTeardown(completion);
  CompletionCall call = completion->call;
  if (call.BlockingCall(completion) != napi_ok) {
    call.Release();
    return DropAfterTeardown(completion);
  }
  call.Release();
}

// Everything a command's completion needs is made before the command is enqueued: the promise, the
// references and the thread-safe function are N-API calls, and they fail while the environment is
// being torn down (worker.terminate() during the call). Failing then, nothing has been enqueued yet
// and the host memory can go; once a command is enqueued, no call that can throw stands between it
// and the completion owning that memory until the command's event completes.
std::unique_ptr<Completion> PrepareCompletion(Napi::Env env, const std::vector<Napi::Value>& keepAlive,
                                              Napi::Value result, std::string what,
                                              std::unique_ptr<AsyncArray> host = nullptr) {
  auto completion = std::make_unique<Completion>(env);
  for (const auto& value : keepAlive) completion->keepAlive.push_back(Napi::Persistent(value));
  if (!result.IsEmpty() && result.IsObject()) completion->result = Napi::Persistent(result);  // only objects can be referenced
  completion->host = std::move(host);
  completion->what = std::move(what);
  completion->call = CompletionCall::New(env, "hotpath.opencl", 0, 1);  // last: nothing can throw after it
  return completion;
}

// A prepared completion whose command could not be enqueued: nothing runs, so it can all go now.
void DiscardCompletion(std::unique_ptr<Completion> completion) { completion->call.Release(); }

// Hands the completion to the event of an enqueue that just succeeded (taking ownership of both) and
// returns the promise. Throws only after the command has finished, when its host memory is free to go.
Napi::Promise AwaitEvent(const ContextHandle& ctx, cl_event event, std::unique_ptr<Completion> completion) {
  const Api& cl = *Discover().api;
  Napi::Promise promise = completion->deferred.Promise();
  completion->event = event;
  cl_int status = cl.clSetEventCallback(event, CL_COMPLETE, OnEventComplete, completion.get());
  if (status != CL_SUCCESS) {
    // Nobody will be told when the command ends: wait for it here, then free what it used.
    cl.clFinish(ctx.queue);
    cl.clReleaseEvent(event);
    DiscardCompletion(std::move(completion));
    Check(status, "clSetEventCallback");
  }
  completion.release();  // owned by the event callback from here
  cl.clFlush(ctx.queue);  // submit now; some drivers only start queued work on a flush
  return promise;
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
    Bytes bytes = RequireTypedArrayBytes(info[3], "initial");
    if (bytes.length != byteLength) throw RangeError("initial data must be exactly byteLength bytes");
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
  if (!info[2].IsTypedArray()) throw TypeError(std::string(name) + " must be a typed array");
  const size_t offset = RequireSize(info[3], "byteOffset", 0);
  auto host = std::make_unique<AsyncArray>(info[2].As<Napi::TypedArray>(),
                                           isWrite ? AsyncArray::Use::kInput : AsyncArray::Use::kOutput, name,
                                           AsyncArray::Placement::kStaged);
  const size_t length = host->ByteLength();
  if (offset > buffer->byteLength || length > buffer->byteLength - offset) {
    throw RangeError(std::to_string(length) + " bytes at byte offset " + std::to_string(offset) + " exceed the buffer's " +
                     std::to_string(buffer->byteLength) + " bytes");
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

// Builds on the libuv pool; rejects with an Error whose message and `buildLog` carry the log.
class BuildWorker : public Napi::AsyncWorker {
 public:
  BuildWorker(Napi::Env env, Napi::Value ctx, ProgramHandle* program, std::string options)
      : Napi::AsyncWorker(env, "hotpath.opencl.build"),
        deferred_(Napi::Promise::Deferred::New(env)),
        context_(Napi::Persistent(ctx)),
        program_(program),
        options_(std::move(options)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    const Api& cl = *Discover().api;
    status_ = cl.clBuildProgram(program_->program, 1, &program_->device, options_.c_str(), nullptr, nullptr);
    if (status_ == CL_SUCCESS) return;
    size_t size = 0;
    cl.clGetProgramBuildInfo(program_->program, program_->device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size);
    log_.assign(size, '\0');
    if (size > 0) cl.clGetProgramBuildInfo(program_->program, program_->device, CL_PROGRAM_BUILD_LOG, size, log_.data(), nullptr);
    log_.resize(std::strlen(log_.c_str()));
  }

  // Like PromiseWorker::OnOK: settling throws during environment teardown; drop the result then.
  void OnOK() override {
    try {
      Settle(Env());
    } catch (...) {
    }
  }

 private:
  void Settle(Napi::Env env) {
    if (status_ == CL_SUCCESS) {
      deferred_.Resolve(Wrap(env, program_));
      return;
    }
    program_->Release(env);
    delete program_;
    auto error = Napi::Error::New(env, "hotpath: program build failed: " + ErrorName(status_) + "\n" + log_);
    error.Set("buildLog", Napi::String::New(env, log_));
    error.Set("status", Napi::Number::New(env, status_));
    deferred_.Reject(error.Value());
  }

  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Value> context_;  // the program's context must outlive the build
  ProgramHandle* program_;
  std::string options_;
  cl_int status_ = CL_SUCCESS;
  std::string log_;
};

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
  auto* worker = new BuildWorker(info.Env(), info[0], handle, info[2].As<Napi::String>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

std::string GetArgString(const Api& cl, cl_kernel kernel, cl_uint index, cl_kernel_arg_info param, cl_int* status) {
  size_t size = 0;
  *status = cl.clGetKernelArgInfo(kernel, index, param, 0, nullptr, &size);
  if (*status != CL_SUCCESS) return "";
  std::string text(size, '\0');
  *status = cl.clGetKernelArgInfo(kernel, index, param, size, text.data(), nullptr);
  text.resize(std::strlen(text.c_str()));
  return text;
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
  Check(cl.clGetKernelInfo(kernel, CL_KERNEL_NUM_ARGS, sizeof(cl_uint), &handle->numArgs, nullptr), "clGetKernelInfo");
  size_t workGroupSize = 0;
  Check(cl.clGetKernelWorkGroupInfo(kernel, program->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof(size_t), &workGroupSize, nullptr),
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

// runKernel(ctx, kernel, args, global, local | null). Each arg: a Buffer handle, a typed array
// holding a scalar's bytes, or a number giving the byte size of a __local allocation.
Napi::Value RunKernel(const Napi::CallbackInfo& info) {
  const Api& cl = RequireApi();
  auto* ctx = RequireHandle<ContextHandle>(info[0], Kind::Context, "context");
  auto* kernel = RequireHandle<KernelHandle>(info[1], Kind::Kernel, "kernel");
  if (!info[2].IsArray()) throw TypeError("args must be an array");
  auto args = info[2].As<Napi::Array>();
  if (args.Length() != kernel->numArgs) {
    throw TypeError("the kernel takes " + std::to_string(kernel->numArgs) + " arguments, got " + std::to_string(args.Length()));
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
    if (arg.IsExternal()) {
      auto* buffer = RequireHandle<BufferHandle>(arg, Kind::Buffer, where.c_str());
      status = cl.clSetKernelArg(kernel->kernel, i, sizeof(cl_mem), &buffer->mem);
      keepAlive.push_back(arg);
    } else if (arg.IsTypedArray()) {
      Bytes bytes = RequireTypedArrayBytes(arg, where.c_str());
      status = cl.clSetKernelArg(kernel->kernel, i, bytes.length, bytes.data);
    } else if (arg.IsNumber()) {
      const size_t bytes = RequireSize(arg, where.c_str(), 1);
      if (bytes > localMemory || (localTotal += bytes) > localMemory) {
        throw RangeError(where + ": __local allocations of " + std::to_string(bytes > localMemory ? bytes : localTotal) +
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
  if (handle->released) throw std::runtime_error(std::string("this ") + KindName(handle->kind) + " has already been released");
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
