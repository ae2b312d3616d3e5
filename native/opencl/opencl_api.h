// OpenCL entry points resolved at run time. The addon never links libOpenCL: it dlopens the ICD
// loader on first use, so hotpath loads (and every other capability works) where OpenCL is absent.
#pragma once
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <string>
#include <vector>

namespace hotpath::opencl {

// One pointer per entry point, typed from the header's own declaration so a mismatch cannot compile.
struct Api {
#define HOTPATH_CL_FUNCTIONS(X)                                                                      \
  X(clGetPlatformIDs) X(clGetPlatformInfo) X(clGetDeviceIDs) X(clGetDeviceInfo) X(clCreateContext)  \
  X(clReleaseContext) X(clCreateCommandQueue) X(clReleaseCommandQueue) X(clCreateBuffer)            \
  X(clReleaseMemObject) X(clEnqueueReadBuffer) X(clEnqueueWriteBuffer) X(clCreateProgramWithSource) \
  X(clBuildProgram) X(clGetProgramBuildInfo) X(clReleaseProgram) X(clCreateKernel)                  \
  X(clReleaseKernel) X(clGetKernelInfo) X(clGetKernelArgInfo) X(clGetKernelWorkGroupInfo)           \
  X(clSetKernelArg) X(clEnqueueNDRangeKernel) X(clSetEventCallback) X(clReleaseEvent) X(clFlush)    \
  X(clFinish)
#define HOTPATH_CL_DECLARE(name) decltype(&::name) name = nullptr;
  HOTPATH_CL_FUNCTIONS(HOTPATH_CL_DECLARE)
#undef HOTPATH_CL_DECLARE
};

// The loaded table, or nullptr with `reason` set (library missing, symbol missing, no platform).
// Thread-safe: the first call loads under a process-wide mutex; later calls return the same result.
// HOTPATH_OPENCL_LIBRARY names another loader library to open (tests point it at a missing file).
// Without a loader, the vendor drivers registered in /etc/OpenCL/vendors/*.icd (another directory:
// HOTPATH_OPENCL_VENDORS, else OCL_ICD_VENDORS) are opened directly, as GPU machines often lack
// libOpenCL.so.1 while the driver is installed.
const Api* LoadApi(std::string* reason);

// How LoadApi reached OpenCL: "loader" (libOpenCL.so.1 or the override), "direct-icd" (vendor
// libraries opened here), or "" when it did not; `libraries` are the files opened.
struct LoadPath {
  std::string via;
  std::vector<std::string> libraries;
};
const LoadPath& GetLoadPath();

// "CL_INVALID_VALUE (-30)" for an OpenCL status code.
std::string ErrorName(cl_int status);

// Throws hotpath::RangeError for argument-shaped failures (sizes, work sizes), else a plain error,
// with "<call> failed: <code name>" as the message.
void Check(cl_int status, const char* call);

}  // namespace hotpath::opencl
