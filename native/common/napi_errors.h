// The bindings' side of errors.h: every C++ exception a kernel or binding throws becomes the matching
// JavaScript error (hotpath::TypeError → TypeError, RangeError and bad_alloc → RangeError, anything
// else → Error), so none reaches the N-API boundary as an abort. Only bindings include this.
#pragma once
#include <napi.h>

#include <exception>
#include <new>
#include <string>

#include "errors.h"

namespace hotpath {

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
