#pragma once
#include <napi.h>

namespace hotpath::memprof {
void Register(Napi::Env env, Napi::Object exports);
}
