// The OpenCL platforms and devices of this process. Root platform and device ids are valid for the
// life of the process, so they are found once, under one process-wide lock: concurrent first use
// from worker threads otherwise saw "no device". Plain C++: no N-API here.
#pragma once
#include "opencl_api.h"  // first: it pins CL_TARGET_OPENCL_VERSION before any CL header

#include <cstring>
#include <string>
#include <vector>

namespace hotpath::opencl {

struct Platform {
  cl_platform_id id;
  std::vector<cl_device_id> devices;
};

struct Discovery {
  const Api* api = nullptr;
  std::string reason;  // why OpenCL is unavailable (empty when available)
  std::vector<Platform> platforms;
  std::vector<cl_device_id> devices;  // every device of every platform: JS names a device by index
};

// Loads the API and lists every platform's devices on first use; later calls return the same result.
const Discovery& Discover();

// The loaded API, or a std::runtime_error saying why OpenCL is unavailable.
const Api& RequireApi();

// A string property through clGetDeviceInfo or clGetPlatformInfo (same calling convention).
template <typename Getter, typename Id, typename Param>
std::string GetString(Getter getInfo, Id id, Param param) {
  size_t size = 0;
  if (getInfo(id, param, 0, nullptr, &size) != CL_SUCCESS || size == 0) return "";
  std::string text(size, '\0');
  getInfo(id, param, size, text.data(), nullptr);
  text.resize(std::strlen(text.c_str()));
  return text;
}

template <typename T>
T GetDeviceValue(const Api& cl, cl_device_id device, cl_device_info param) {
  T value{};
  cl.clGetDeviceInfo(device, param, sizeof(T), &value, nullptr);
  return value;
}

}  // namespace hotpath::opencl
