// An AsyncWorker that settles a Promise: the kernel runs in Compute() off the JavaScript thread, any
// C++ exception it throws is kept and becomes the matching JavaScript error (ToJsError), and the
// result is converted on the JavaScript thread by Result(). Bindings return Start(worker).
#pragma once
#include <napi.h>

#include <exception>

#include "napi_errors.h"

namespace hotpath {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // Queues the worker and returns its promise; the worker deletes itself once settled.
  static Napi::Promise Start(PromiseWorker* worker) {
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  PromiseWorker(Napi::Env env, const char* resourceName)
      : Napi::AsyncWorker(env, resourceName), deferred_(Napi::Promise::Deferred::New(env)) {}

  // Runs on a libuv pool thread: no N-API calls here.
  virtual void Compute() = 0;
  // Runs on the JavaScript thread after Compute() returned normally.
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void Execute() final {
    try {
      Compute();
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  // During environment teardown (worker.terminate(), process exit) the env waits for queued work
  // and then completes it with JavaScript disabled: settling throws there, and a C++ exception out
  // of this callback would abort the process. The result is dropped quietly instead.
  void OnOK() final {
    Napi::Env env = Env();
    try {
      if (error_) {
        deferred_.Reject(ToJsError(env, error_).Value());
      } else {
        deferred_.Resolve(Result(env));
      }
    } catch (...) {
      try {
        deferred_.Reject(ToJsError(env, std::current_exception()).Value());
      } catch (...) {
        // Nothing can settle: the environment is going away.
      }
    }
  }

  void OnError(const Napi::Error&) final {}  // never called: Execute() keeps errors in error_

  Napi::Promise::Deferred deferred_;
  std::exception_ptr error_;
};

}  // namespace hotpath
