// Whether a usable CUDA device is present. Part of the opt-in CUDA support (mmsb/cuda.hpp):
// include it only where the CUDA runtime headers are available.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace mmsb::gpu {

// What probe_devices() (or a backend's probe()) found.
struct device_probe {
  bool available = false;  // a device can be used
  int count = 0;           // how many CUDA devices the runtime reports (0 when unavailable)
  std::string reason;  // why no device is usable; empty when available
};

// Asks the runtime once. MMSB_FORCE_CPU=1 forces "unavailable". Without a driver,
// cudaGetDeviceCount returns cudaErrorInsufficientDriver (35) and leaves the count unset, so the
// count is read only on success; that error and cudaErrorNoDevice both mean "no GPU".
inline device_probe probe_devices()
{
  device_probe p;
  if (const char* force = std::getenv("MMSB_FORCE_CPU"); force && std::strcmp(force, "0") != 0 && *force) {
    p.reason = "MMSB_FORCE_CPU is set";
    return p;
  }
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // do not leave the error for the next unrelated check to find
    p.reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(err) + " (" +
               std::to_string(static_cast<int>(err)) + "): " + cudaGetErrorString(err);
    return p;
  }
  if (count <= 0) {
    p.reason = "no CUDA device";
    return p;
  }
  p.available = true;
  p.count = count;
  return p;
}

} // namespace mmsb::gpu
