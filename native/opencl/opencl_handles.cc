// OpenCL handles (see opencl_handles.h).
#include "opencl_handles.h"

#include <string>

namespace hotpath::opencl {
namespace {

// Checked before the External's data is read: an External that is not ours may point at anything.
constexpr napi_type_tag kHandleTag = {0x686f747061746863ULL, 0x6f70656e636c3031ULL};  // "hotpathc" "opencl01"

}  // namespace

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
  auto external = Napi::External<Handle>::New(env, handle, [](Napi::Env finalizeEnv, Handle* h) {
    h->Release(finalizeEnv);
    delete h;
  });
  external.TypeTag(&kHandleTag);
  return external;
}

Handle* RequireAnyHandle(const Napi::Value& value, const char* argName) {
  if (!value.IsExternal() || !value.As<Napi::External<Handle>>().CheckTypeTag(&kHandleTag)) {
    throw TypeError(std::string(argName) + " must be an OpenCL handle");
  }
  Handle* handle = value.As<Napi::External<Handle>>().Data();
  if (handle == nullptr) throw TypeError(std::string(argName) + " must be an OpenCL handle");
  return handle;
}

}  // namespace hotpath::opencl
