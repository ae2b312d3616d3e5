#pragma once
#include <napi.h>

namespace hotpath::countmin {
void Register(Napi::Env env, Napi::Object exports);
}
