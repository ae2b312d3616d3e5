#pragma once
#include <napi.h>

namespace hotpath::expr {
void Register(Napi::Env env, Napi::Object exports);
}
