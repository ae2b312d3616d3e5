#pragma once
#include <napi.h>

namespace hotpath::moments {
void Register(Napi::Env env, Napi::Object exports);
}
