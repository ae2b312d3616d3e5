// dlopen of the OpenCL ICD loader and the status-code table used by every error message.
#include "opencl_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "../common/errors.h"

namespace hotpath::opencl {
namespace {

// The ICD loader's file name (Windows: installed with the GPU driver; <dlfcn.h> there is native/compat/win32).
#ifdef _WIN32
constexpr const char* kLoaderLibrary = "OpenCL.dll";
#else
constexpr const char* kLoaderLibrary = "libOpenCL.so.1";
#endif

struct Loaded {
  Api api;
  bool ok = false;
  std::string reason;
};

Loaded Load() {
  Loaded result;
  const char* override = std::getenv("HOTPATH_OPENCL_LIBRARY");
  const std::string library = override != nullptr && *override != '\0' ? override : kLoaderLibrary;
  // RTLD_LOCAL: the ICD loader's symbols stay out of the global namespace of the Node process.
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = dlerror();
    result.reason = "cannot load " + library + ": " + (error != nullptr ? error : "unknown dlopen error");
    return result;
  }
#define HOTPATH_CL_RESOLVE(name)                                                        \
  result.api.name = reinterpret_cast<decltype(result.api.name)>(dlsym(handle, #name)); \
  if (result.api.name == nullptr) {                                                     \
    result.reason = library + " lacks " #name " (OpenCL 1.2 or later is required)";     \
    return result;                                                                      \
  }
  HOTPATH_CL_FUNCTIONS(HOTPATH_CL_RESOLVE)
#undef HOTPATH_CL_RESOLVE
  // The handle is never closed: function pointers and driver threads live as long as the process.
  result.ok = true;
  return result;
}

}  // namespace

const Api* LoadApi(std::string* reason) {
  static std::once_flag once;
  static Loaded loaded;
  std::call_once(once, [] { loaded = Load(); });
  if (!loaded.ok) {
    if (reason != nullptr) *reason = loaded.reason;
    return nullptr;
  }
  return &loaded.api;
}

std::string ErrorName(cl_int status) {
  const char* name = "unknown OpenCL error";
  switch (status) {
#define HOTPATH_CL_CODE(code) \
  case code:                  \
    name = #code;             \
    break;
    HOTPATH_CL_CODE(CL_SUCCESS)
    HOTPATH_CL_CODE(CL_DEVICE_NOT_FOUND)
    HOTPATH_CL_CODE(CL_DEVICE_NOT_AVAILABLE)
    HOTPATH_CL_CODE(CL_COMPILER_NOT_AVAILABLE)
    HOTPATH_CL_CODE(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    HOTPATH_CL_CODE(CL_OUT_OF_RESOURCES)
    HOTPATH_CL_CODE(CL_OUT_OF_HOST_MEMORY)
    HOTPATH_CL_CODE(CL_BUILD_PROGRAM_FAILURE)
    HOTPATH_CL_CODE(CL_INVALID_VALUE)
    HOTPATH_CL_CODE(CL_INVALID_DEVICE_TYPE)
    HOTPATH_CL_CODE(CL_INVALID_PLATFORM)
    HOTPATH_CL_CODE(CL_INVALID_DEVICE)
    HOTPATH_CL_CODE(CL_INVALID_CONTEXT)
    HOTPATH_CL_CODE(CL_INVALID_COMMAND_QUEUE)
    HOTPATH_CL_CODE(CL_INVALID_HOST_PTR)
    HOTPATH_CL_CODE(CL_INVALID_MEM_OBJECT)
    HOTPATH_CL_CODE(CL_INVALID_BUFFER_SIZE)
    HOTPATH_CL_CODE(CL_INVALID_BUILD_OPTIONS)
    HOTPATH_CL_CODE(CL_INVALID_PROGRAM)
    HOTPATH_CL_CODE(CL_INVALID_PROGRAM_EXECUTABLE)
    HOTPATH_CL_CODE(CL_INVALID_KERNEL_NAME)
    HOTPATH_CL_CODE(CL_INVALID_KERNEL)
    HOTPATH_CL_CODE(CL_INVALID_ARG_INDEX)
    HOTPATH_CL_CODE(CL_INVALID_ARG_VALUE)
    HOTPATH_CL_CODE(CL_INVALID_ARG_SIZE)
    HOTPATH_CL_CODE(CL_INVALID_KERNEL_ARGS)
    HOTPATH_CL_CODE(CL_INVALID_WORK_DIMENSION)
    HOTPATH_CL_CODE(CL_INVALID_WORK_GROUP_SIZE)
    HOTPATH_CL_CODE(CL_INVALID_WORK_ITEM_SIZE)
    HOTPATH_CL_CODE(CL_INVALID_GLOBAL_OFFSET)
    HOTPATH_CL_CODE(CL_INVALID_EVENT)
    HOTPATH_CL_CODE(CL_INVALID_OPERATION)
    HOTPATH_CL_CODE(CL_INVALID_GLOBAL_WORK_SIZE)
    HOTPATH_CL_CODE(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)
    HOTPATH_CL_CODE(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
#undef HOTPATH_CL_CODE
    default:
      break;
  }
  return std::string(name) + " (" + std::to_string(status) + ")";
}

void Check(cl_int status, const char* call) {
  if (status == CL_SUCCESS) return;
  const std::string message = std::string(call) + " failed: " + ErrorName(status);
  switch (status) {
    case CL_INVALID_BUFFER_SIZE:
    case CL_INVALID_WORK_DIMENSION:
    case CL_INVALID_WORK_GROUP_SIZE:
    case CL_INVALID_WORK_ITEM_SIZE:
    case CL_INVALID_GLOBAL_WORK_SIZE:
    case CL_INVALID_GLOBAL_OFFSET:
      throw RangeError(message);
    case CL_INVALID_ARG_SIZE:
    case CL_INVALID_ARG_VALUE:
    case CL_INVALID_KERNEL_ARGS:
      throw TypeError(message);
    default:
      throw std::runtime_error(message);
  }
}

}  // namespace hotpath::opencl
