// OpenCL handles (see opencl_handles.h).
#include "opencl_handles.h"

#include <string>

namespace hotpath::opencl {

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::Context: return "Context";
    case Kind::Buffer: return "Buffer";
    case Kind::Program: return "Program";
    case Kind::Kernel: return "Kernel";
  }
  return "handle";
}

void Handle::Release(Napi::Env env) {
  if (released) return;
  released = true;
  ReleaseObject(*Discover().api);
  if (externalBytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -externalBytes);
}

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
  if (handle == nullptr || handle->tag != kHandleTag) {
    throw TypeError(std::string(argName) + " must be an OpenCL handle");
  }
  return handle;
}

}  // namespace hotpath::opencl
