// Discovery of OpenCL platforms and devices, once per process (see opencl_discovery.h).
#include "opencl_discovery.h"

#include <CL/cl_ext.h>

#include <mutex>
#include <stdexcept>

namespace hotpath::opencl {

const Discovery& Discover() {
  static std::mutex mutex;
  static bool done = false;
  // Never destroyed: completion callbacks on driver threads release events through it while the process exits.
  static auto& discovery = *new Discovery();
  std::lock_guard<std::mutex> lock(mutex);
  if (done) return discovery;
  done = true;
  discovery.api = LoadApi(&discovery.reason);
  if (discovery.api == nullptr) return discovery;
  const Api& cl = *discovery.api;
  cl_uint count = 0;
  cl_int status = cl.clGetPlatformIDs(0, nullptr, &count);
  if (status == CL_PLATFORM_NOT_FOUND_KHR || (status == CL_SUCCESS && count == 0)) {
    discovery.reason = "no OpenCL platform found (the ICD loader has no vendor driver, e.g. pocl-opencl-icd)";
    discovery.api = nullptr;
    return discovery;
  }
  if (status != CL_SUCCESS) {
    discovery.reason = "clGetPlatformIDs failed: " + ErrorName(status);
    discovery.api = nullptr;
    return discovery;
  }
  std::vector<cl_platform_id> ids(count);
  cl.clGetPlatformIDs(count, ids.data(), nullptr);
  for (cl_platform_id id : ids) {
    Platform platform{id, {}};
    cl_uint deviceCount = 0;
    if (cl.clGetDeviceIDs(id, CL_DEVICE_TYPE_ALL, 0, nullptr, &deviceCount) == CL_SUCCESS && deviceCount > 0) {
      platform.devices.resize(deviceCount);
      cl.clGetDeviceIDs(id, CL_DEVICE_TYPE_ALL, deviceCount, platform.devices.data(), nullptr);
    }
    discovery.devices.insert(discovery.devices.end(), platform.devices.begin(), platform.devices.end());
    discovery.platforms.push_back(std::move(platform));
  }
  return discovery;
}

const Api& RequireApi() {
  const Discovery& d = Discover();
  if (d.api == nullptr) throw std::runtime_error("OpenCL is not available: " + d.reason);
  return *d.api;
}

}  // namespace hotpath::opencl
