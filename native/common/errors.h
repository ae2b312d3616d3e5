// Error plumbing shared by every kernel. Kernels are plain C++ and report bad input by throwing
// these types; bindings convert them to the matching JavaScript error class, so no C++ exception
// ever reaches the N-API boundary as an abort.
#pragma once
#include <napi.h>
#include <new>
#include <stdexcept>
#include <string>

namespace hotpath {

struct TypeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Turns any C++ exception into a JavaScript one. Used by every exported callback (see Guarded).
inline Napi::Error ToJsError(Napi::Env env, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Napi::Error& e) {
    return e;
  } catch (const TypeError& e) {
    return Napi::TypeError::New(env, e.what());
  } catch (const RangeError& e) {
    return Napi::RangeError::New(env, e.what());
  } catch (const std::bad_alloc&) {
    return Napi::RangeError::New(env, "hotpath: out of memory");
  } catch (const std::exception& e) {
    return Napi::Error::New(env, std::string("hotpath: ") + e.what());
  } catch (...) {
    return Napi::Error::New(env, "hotpath: unknown native error");
  }
}

template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (...) {
    ToJsError(info.Env(), std::current_exception()).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
}

}  // namespace hotpath
