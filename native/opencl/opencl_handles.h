// OpenCL objects as JavaScript sees them: type-tagged Externals wrapping a Handle whose finalizer
// releases the object if release() was never called, so a forgotten handle leaks nothing and a
// foreign External (another addon's, or one of our count-min pipelines) or a released handle is an
// error, never a crash.
#pragma once
#include <napi.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "../common/errors.h"
#include "opencl_discovery.h"

namespace hotpath::opencl {

enum class Kind { Context, Buffer, Program, Kernel };

// "Context", "Buffer", ...: for error messages.
const char* KindName(Kind kind);

struct Handle {
  explicit Handle(Kind k) : kind(k) {}
  virtual ~Handle() = default;
  // Idempotent: explicit release() marks the handle, the finalizer releases only what is left.
  void Release(Napi::Env env);
  virtual void ReleaseObject(const Api& cl) = 0;

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

// Hands the handle to JavaScript: an External whose finalizer releases what release() did not.
Napi::External<Handle> Wrap(Napi::Env env, Handle* handle);

// One of our handles, or a TypeError naming the argument.
Handle* RequireAnyHandle(const Napi::Value& value, const char* argName);

// A live handle of one kind, or a TypeError (another kind) or an Error (released).
template <typename T>
T* RequireHandle(const Napi::Value& value, Kind kind, const char* argName) {
  Handle* handle = RequireAnyHandle(value, argName);
  if (handle->kind != kind) {
    throw TypeError(std::string(argName) + " must be a " + KindName(kind) + ", got a " + KindName(handle->kind));
  }
  if (handle->released) throw std::runtime_error(std::string("this ") + KindName(kind) + " has been released");
  return static_cast<T*>(handle);
}

}  // namespace hotpath::opencl
