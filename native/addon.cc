// Module entry: each kernel group registers its functions on the shared exports object.
#include <napi.h>

#include "expr/expr_binding.h"
#include "countmin/countmin_binding.h"
#include "memprof/memprof_binding.h"
#include "moments/moments_binding.h"
#include "opencl/opencl_binding.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  hotpath::moments::Register(env, exports);
  hotpath::expr::Register(env, exports);
  hotpath::countmin::Register(env, exports);
  hotpath::memprof::Register(env, exports);
  hotpath::opencl::Register(env, exports);
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(hotpath, Init)
