// Completions: a promise settled when an OpenCL event completes, so the event loop never waits on
// the device. The event callback runs on a driver thread and reaches the JavaScript thread through a
// thread-safe function. When a worker's environment is torn down, Node deletes its thread-safe
// functions whether or not a driver thread still holds one, so callbacks check, under one lock,
// that the environment they belong to is still alive (envs are marked dead by a cleanup hook that
// runs before the functions are deleted). Host memory a command reads or writes is native
// (AsyncArray, staged), so a command that outlives its environment writes memory nobody frees.
#pragma once
#include "opencl_api.h"  // first: it pins CL_TARGET_OPENCL_VERSION before any CL header

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../common/async_array.h"
#include "opencl_handles.h"

namespace hotpath::opencl {

// Registers the environment as alive until its cleanup hooks run (each environment that loads the addon).
void MarkEnvAlive(napi_env env);

struct Completion;
// Runs on the JavaScript thread for a completed command (the thread-safe function's callback).
void SettleOnMainThread(Napi::Env env, Napi::Function, std::nullptr_t*, Completion* completion);
using CompletionCall = Napi::TypedThreadSafeFunction<std::nullptr_t, Completion, SettleOnMainThread>;

struct Completion {
  explicit Completion(Napi::Env env);
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

// Everything a command's completion needs is made before the command is enqueued: the promise, the
// references and the thread-safe function are N-API calls, and they fail while the environment is
// being torn down (worker.terminate() during the call). Failing then, nothing has been enqueued yet
// and the host memory can go; once a command is enqueued, no call that can throw stands between it
// and the completion owning that memory until the command's event completes.
std::unique_ptr<Completion> PrepareCompletion(Napi::Env env, const std::vector<Napi::Value>& keepAlive,
                                              Napi::Value result, std::string what,
                                              std::unique_ptr<AsyncArray> host = nullptr);

// A prepared completion whose command could not be enqueued: nothing runs, so it can all go now.
void DiscardCompletion(std::unique_ptr<Completion> completion);

// Hands the completion to the event of an enqueue that just succeeded (taking ownership of both) and
// returns the promise. Throws only after the command has finished, when its host memory is free to go.
Napi::Promise AwaitEvent(const ContextHandle& ctx, cl_event event, std::unique_ptr<Completion> completion);

}  // namespace hotpath::opencl
