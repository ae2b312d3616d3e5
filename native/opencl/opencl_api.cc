// Finding OpenCL at run time: the ICD loader (libOpenCL.so.1) when it is installed, else the vendor
// drivers registered under /etc/OpenCL/vendors opened directly (cl_khr_icd), which is what GPU
// machines that ship a driver but no loader need. Also the status-code table of every error message.
#include "opencl_api.h"

#include <CL/cl_ext.h>
#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <type_traits>

#include "../common/errors.h"

// Each entry point's slot in the cl_khr_icd dispatch table (struct _cl_icd_dispatch in CL/cl_icd.h, an ABI
// Khronos keeps: new entry points are only appended). Slots rather than that header, which pulls in the GL,
// EGL and Direct3D headers the vendored set (native/third_party/opencl-headers) leaves out; checked against
// it at compile time where it is installed.
#define HOTPATH_CL_DISPATCH_SLOTS(X)                                                                      \
  X(clGetPlatformIDs, 0) X(clGetPlatformInfo, 1) X(clGetDeviceIDs, 2) X(clGetDeviceInfo, 3)               \
  X(clCreateContext, 4) X(clReleaseContext, 7) X(clCreateCommandQueue, 9) X(clReleaseCommandQueue, 11)   \
  X(clCreateBuffer, 14) X(clReleaseMemObject, 18) X(clCreateProgramWithSource, 26) X(clReleaseProgram, 29) \
  X(clBuildProgram, 30) X(clGetProgramBuildInfo, 33) X(clCreateKernel, 34) X(clReleaseKernel, 37)        \
  X(clSetKernelArg, 38) X(clGetKernelInfo, 39) X(clGetKernelWorkGroupInfo, 40) X(clReleaseEvent, 44)     \
  X(clFlush, 46) X(clFinish, 47) X(clEnqueueReadBuffer, 48) X(clEnqueueWriteBuffer, 49)                  \
  X(clEnqueueNDRangeKernel, 59) X(clSetEventCallback, 81) X(clGetKernelArgInfo, 101)

#define HOTPATH_CL_COUNT(...) +1
static_assert(0 HOTPATH_CL_FUNCTIONS(HOTPATH_CL_COUNT) == 0 HOTPATH_CL_DISPATCH_SLOTS(HOTPATH_CL_COUNT),
              "every entry point of Api needs its dispatch slot");
#undef HOTPATH_CL_COUNT

#if __has_include(<CL/cl_icd.h>)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // the table names OpenCL 1.0 entry points
#include <CL/cl_icd.h>
#pragma GCC diagnostic pop
#define HOTPATH_CL_CHECK_SLOT(name, slot) \
  static_assert(offsetof(cl_icd_dispatch, name) == (slot) * sizeof(void*), "dispatch slot of " #name);
HOTPATH_CL_DISPATCH_SLOTS(HOTPATH_CL_CHECK_SLOT)
#undef HOTPATH_CL_CHECK_SLOT
#endif

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
  LoadPath path;
};

std::string DlError() {
  const char* error = dlerror();
  return error != nullptr ? error : "unknown dlopen error";
}

bool LoadLoader(const std::string& library, Loaded* result) {
  // RTLD_LOCAL: the ICD loader's symbols stay out of the global namespace of the Node process.
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    result->reason = "cannot load " + library + ": " + DlError();
    return false;
  }
#define HOTPATH_CL_RESOLVE(name)                                                         \
  result->api.name = reinterpret_cast<decltype(result->api.name)>(dlsym(handle, #name)); \
  if (result->api.name == nullptr) {                                                     \
    result->reason = library + " lacks " #name " (OpenCL 1.2 or later is required)";     \
    return false;                                                                        \
  }
  HOTPATH_CL_FUNCTIONS(HOTPATH_CL_RESOLVE)
#undef HOTPATH_CL_RESOLVE
  // The handle is never closed: function pointers and driver threads live as long as the process.
  result->path = {"loader", {library}};
  return true;
}

// ---- Direct ICD dispatch (what the loader does) ------------------------------------------------
// Under cl_khr_icd every object a vendor driver returns (platform, device, context, queue, memory,
// program, kernel, event) starts with a pointer to that vendor's dispatch table, so a call on an
// object is forwarded through the table's entry for that function.

// The entry in `slot` of the dispatch table that `object` starts with.
template <typename Fn>
Fn Entry(const void* object, std::size_t slot) {
  const auto table = *static_cast<void* const* const*>(object);
  return reinterpret_cast<Fn>(table[slot]);
}

template <std::size_t Slot, typename Fn>
struct Dispatch;

template <std::size_t Slot, typename R, typename Object, typename... Args>
struct Dispatch<Slot, R (*)(Object, Args...)> {
  static R Call(Object object, Args... args) {
    if constexpr (!std::is_pointer_v<Object>) {
      return R{};  // never installed: the entry points without an object argument have their own versions
    } else {
      const auto entry = object != nullptr ? Entry<R (*)(Object, Args...)>(object, Slot) : nullptr;
      if (entry == nullptr) {
        if constexpr (std::is_same_v<R, cl_int>) return object == nullptr ? CL_INVALID_VALUE : CL_INVALID_OPERATION;
        else return R{};
      }
      return entry(object, args...);
    }
  }
};

std::vector<cl_platform_id>& DirectPlatforms() {
  static std::vector<cl_platform_id> platforms;  // filled once, before the table is published
  return platforms;
}

cl_int DirectGetPlatformIDs(cl_uint num_entries, cl_platform_id* platforms, cl_uint* num_platforms) {
  if ((num_entries == 0 && platforms != nullptr) || (platforms == nullptr && num_platforms == nullptr)) {
    return CL_INVALID_VALUE;
  }
  const std::vector<cl_platform_id>& all = DirectPlatforms();
  if (all.empty()) return CL_PLATFORM_NOT_FOUND_KHR;
  if (platforms != nullptr) std::copy_n(all.begin(), std::min<std::size_t>(num_entries, all.size()), platforms);
  if (num_platforms != nullptr) *num_platforms = static_cast<cl_uint>(all.size());
  return CL_SUCCESS;
}

// clCreateContext has no object argument: its devices say which vendor creates it.
cl_context DirectCreateContext(const cl_context_properties* properties, cl_uint num_devices,
                               const cl_device_id* devices,
                               void(CL_CALLBACK* notify)(const char*, const void*, size_t, void*), void* user_data,
                               cl_int* errcode_ret) {
  if (num_devices == 0 || devices == nullptr || devices[0] == nullptr) {
    if (errcode_ret != nullptr) *errcode_ret = CL_INVALID_VALUE;
    return nullptr;
  }
  const auto create = Entry<decltype(&::clCreateContext)>(devices[0], 4);  // its slot, as listed above
  return create(properties, num_devices, devices, notify, user_data, errcode_ret);
}

std::string VendorDirectory() {
  for (const char* name : {"HOTPATH_OPENCL_VENDORS", "OCL_ICD_VENDORS"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return "/etc/OpenCL/vendors";
}

// The library each *.icd file names (its first line), sorted by file name as the loaders do.
std::vector<std::string> RegisteredDrivers(const std::string& directory) {
  std::vector<std::string> files;
  if (DIR* dir = opendir(directory.c_str())) {
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".icd") == 0) files.push_back(directory + "/" + name);
    }
    closedir(dir);
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> libraries;
  for (const std::string& file : files) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    const auto first = line.find_first_not_of(" \t\r");
    const auto last = line.find_last_not_of(" \t\r");
    if (first != std::string::npos) libraries.push_back(line.substr(first, last - first + 1));
  }
  return libraries;
}

// Opens one vendor driver and appends its platforms; returns why it gave none.
std::string OpenDriver(const std::string& library, std::vector<cl_platform_id>* platforms) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return DlError();
  using GetAddress = void* (*)(const char*);
  auto getAddress = reinterpret_cast<GetAddress>(dlsym(handle, "clGetExtensionFunctionAddress"));
  void* symbol = getAddress != nullptr ? getAddress("clIcdGetPlatformIDsKHR") : nullptr;
  if (symbol == nullptr) symbol = dlsym(handle, "clIcdGetPlatformIDsKHR");
  if (symbol == nullptr) {
    return "it exports neither clGetExtensionFunctionAddress(\"clIcdGetPlatformIDsKHR\") nor the symbol";
  }
  const auto icdGetPlatformIDs = reinterpret_cast<clIcdGetPlatformIDsKHR_fn>(symbol);
  cl_uint count = 0;
  cl_int status = icdGetPlatformIDs(0, nullptr, &count);
  if (status != CL_SUCCESS || count == 0) return "clIcdGetPlatformIDsKHR found no platform: " + ErrorName(status);
  std::vector<cl_platform_id> ids(count);
  status = icdGetPlatformIDs(count, ids.data(), nullptr);
  if (status != CL_SUCCESS) return "clIcdGetPlatformIDsKHR failed: " + ErrorName(status);
  std::size_t added = 0;
  for (cl_platform_id id : ids) {
    // Two .icd files may name one library: dlopen returns the same handle and the same platforms.
    bool dispatchable = id != nullptr && *reinterpret_cast<void* const*>(id) != nullptr;
    if (dispatchable && std::find(platforms->begin(), platforms->end(), id) == platforms->end()) {
      platforms->push_back(id);
      ++added;
    }
  }
  return added > 0 ? "" : "its platforms are already listed or have no dispatch table";
}

bool LoadDirect(Loaded* result) {
  const std::string directory = VendorDirectory();
  const std::vector<std::string> drivers = RegisteredDrivers(directory);
  std::vector<cl_platform_id>& platforms = DirectPlatforms();
  std::string failures;
  for (const std::string& library : drivers) {
    const std::size_t before = platforms.size();
    const std::string why = OpenDriver(library, &platforms);
    if (platforms.size() > before) {
      result->path.libraries.push_back(library);
    } else {
      failures += "; " + library + ": " + why;
    }
  }
  if (platforms.empty()) {
    result->reason += drivers.empty() ? "; no vendor driver is registered in " + directory + "/*.icd"
                                      : "; no vendor driver from " + directory + " gave a platform" + failures;
    return false;
  }
#define HOTPATH_CL_DISPATCH(name, slot) result->api.name = &Dispatch<slot, decltype(result->api.name)>::Call;
  HOTPATH_CL_DISPATCH_SLOTS(HOTPATH_CL_DISPATCH)
#undef HOTPATH_CL_DISPATCH
  result->api.clGetPlatformIDs = &DirectGetPlatformIDs;
  result->api.clCreateContext = &DirectCreateContext;
  result->path.via = "direct-icd";
  return true;
}

Loaded Load() {
  Loaded result;
  const char* override = std::getenv("HOTPATH_OPENCL_LIBRARY");
  const std::string library = override != nullptr && *override != '\0' ? override : kLoaderLibrary;
  result.ok = LoadLoader(library, &result) || LoadDirect(&result);
  if (result.ok) result.reason.clear();
  return result;
}

const Loaded& LoadOnce() {
  // Never destroyed: driver threads call through the table from completion callbacks while the process exits.
  static const auto* loaded = new Loaded(Load());
  return *loaded;
}

}  // namespace

const Api* LoadApi(std::string* reason) {
  const Loaded& loaded = LoadOnce();
  if (!loaded.ok) {
    if (reason != nullptr) *reason = loaded.reason;
    return nullptr;
  }
  return &loaded.api;
}

const LoadPath& GetLoadPath() { return LoadOnce().path; }

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
