// The subset of POSIX <dlfcn.h> that hotpath uses (dlopen, dlsym, dlerror), over LoadLibrary/GetProcAddress,
// so run-time loaded libraries (the OpenCL ICD loader) need one code path. On the include path of Windows
// builds only (native/build-flags.json "include_dirs_win32"); POSIX systems use their own <dlfcn.h>.
#pragma once
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <cstdio>
#include <cstring>

#define RTLD_LAZY 0x1
#define RTLD_NOW 0x2
#define RTLD_LOCAL 0x0
#define RTLD_GLOBAL 0x100

namespace hotpath_dlfcn {
// The last failure's text, per thread like POSIX dlerror(); empty once read.
inline char* LastError() {
  static thread_local char message[512];
  return message;
}
inline void SetError(const char* what, const char* name) {
  char system[256] = "";
  FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, GetLastError(), 0, system,
                 sizeof system, nullptr);
  for (size_t end = std::strlen(system); end > 0 && (system[end - 1] == '\n' || system[end - 1] == '\r'); --end) {
    system[end - 1] = '\0';
  }
  std::snprintf(LastError(), 512, "%s %s: %s", what, name, system);
}
}  // namespace hotpath_dlfcn

inline void* dlopen(const char* name, int /*flags*/) {
  HMODULE module = LoadLibraryA(name);
  if (module == nullptr) hotpath_dlfcn::SetError("cannot load", name);
  return reinterpret_cast<void*>(module);
}

inline void* dlsym(void* handle, const char* symbol) {
  FARPROC address = GetProcAddress(static_cast<HMODULE>(handle), symbol);
  if (address == nullptr) hotpath_dlfcn::SetError("no symbol", symbol);
  return reinterpret_cast<void*>(address);
}

inline char* dlerror() {
  char* message = hotpath_dlfcn::LastError();
  if (message[0] == '\0') return nullptr;
  static thread_local char copy[512];
  std::snprintf(copy, sizeof copy, "%s", message);
  message[0] = '\0';
  return copy;
}
