// Completions of OpenCL commands (see opencl_completion.h).
#include "opencl_completion.h"

#include <mutex>
#include <unordered_map>
#include <utility>

#include "../common/napi_errors.h"
#include "opencl_discovery.h"

namespace hotpath::opencl {
namespace {

struct LiveEnvs {
  std::mutex mutex;
  std::unordered_map<napi_env, uint64_t> generations;  // env -> generation (addresses can be reused)
  uint64_t nextGeneration = 1;
};

// Never destroyed: driver threads complete commands (and look their environment up here) while the process
// exits, after static destructors have run.
LiveEnvs& Envs() {
  static auto* envs = new LiveEnvs();
  return *envs;
}

void MarkEnvDead(void* env) {
  LiveEnvs& envs = Envs();
  std::lock_guard<std::mutex> lock(envs.mutex);
  envs.generations.erase(static_cast<napi_env>(env));
}

uint64_t Generation(napi_env env) {
  LiveEnvs& envs = Envs();
  std::lock_guard<std::mutex> lock(envs.mutex);
  auto found = envs.generations.find(env);
  return found == envs.generations.end() ? 0 : found->second;
}

// The environment is gone: no reference can be released in it, nothing settled. The command has
// completed, so its native host memory can go.
void DropAfterTeardown(Completion* completion) {
  Discover().api->clReleaseEvent(completion->event);
  for (auto& ref : completion->keepAlive) ref.SuppressDestruct();
  completion->result.SuppressDestruct();
  if (completion->host) completion->host->Abandon();
  delete completion;
}

void CL_CALLBACK OnEventComplete(cl_event, cl_int status, void* data) {
  auto* completion = static_cast<Completion*>(data);
  completion->status = status;
  LiveEnvs& envs = Envs();
  std::lock_guard<std::mutex> lock(envs.mutex);
  auto found = envs.generations.find(completion->env);
  if (found == envs.generations.end() || found->second != completion->generation) {
    return DropAfterTeardown(completion);
  }
  CompletionCall call = completion->call;
  if (call.BlockingCall(completion) != napi_ok) {
    call.Release();
    return DropAfterTeardown(completion);
  }
  call.Release();
}

}  // namespace

void MarkEnvAlive(napi_env env) {
  {
    LiveEnvs& envs = Envs();
    std::lock_guard<std::mutex> lock(envs.mutex);
    envs.generations[env] = envs.nextGeneration++;
  }
  napi_add_env_cleanup_hook(env, MarkEnvDead, env);
}

Completion::Completion(Napi::Env env)
    : deferred(Napi::Promise::Deferred::New(env)), env(env), generation(Generation(env)) {}

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

std::unique_ptr<Completion> PrepareCompletion(Napi::Env env, const std::vector<Napi::Value>& keepAlive,
                                              Napi::Value result, std::string what, std::unique_ptr<AsyncArray> host) {
  auto completion = std::make_unique<Completion>(env);
  for (const auto& value : keepAlive) completion->keepAlive.push_back(Napi::Persistent(value));
  // Only objects can be referenced: undefined (a write's result) stays empty.
  if (!result.IsEmpty() && result.IsObject()) completion->result = Napi::Persistent(result);
  completion->host = std::move(host);
  completion->what = std::move(what);
  completion->call = CompletionCall::New(env, "hotpath.opencl", 0, 1);  // last: nothing can throw after it
  return completion;
}

void DiscardCompletion(std::unique_ptr<Completion> completion) { completion->call.Release(); }

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

}  // namespace hotpath::opencl
