// Module entry: each kernel group registers its functions on the shared exports object.
#include <napi.h>

#if !defined(_WIN32)
#include <dlfcn.h>
#endif

#include "expr/expr_binding.h"
#include "expr/ndarray_binding.h"
#include "countmin/countmin_binding.h"
#include "memprof/memprof_binding.h"
#include "moments/moments_binding.h"
#include "opencl/opencl_binding.h"

namespace {

// Node unloads an addon (dlclose) when the last environment that loaded it is torn down, e.g. a
// worker_thread when the main thread never required hotpath. The shared thread pool and OpenCL
// driver callbacks run this library's code on threads that outlive any environment, so the
// library pins itself: it stays mapped until the process exits.
void PinLibrary() {
#if !defined(_WIN32)
  static const bool pinned = [] {
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&PinLibrary), &self) == 0 || self.dli_fname == nullptr) return false;
    return dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE) != nullptr;
  }();
  (void)pinned;
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinLibrary();
  hotpath::moments::Register(env, exports);
  hotpath::expr::Register(env, exports);
  hotpath::expr::RegisterNd(env, exports);
  hotpath::countmin::Register(env, exports);
  hotpath::memprof::Register(env, exports);
  hotpath::opencl::Register(env, exports);
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(hotpath, Init)
