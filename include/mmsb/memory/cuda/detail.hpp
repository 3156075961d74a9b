// Shared by the CUDA memory policies: turning a failed runtime call into mmsb::error with the
// size and the call named, and clearing the runtime's last-error slot so that an unrelated
// later check does not report it again. Opt-in (needs the CUDA runtime headers).
#pragma once

#include <mmsb/config/error.hpp>

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace mmsb::detail {

[[nodiscard]] inline std::string cuda_message(cudaError_t err)
{
  return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
}

// Throws errc::out_of_memory when the runtime says memory ran out, errc::device_error otherwise.
[[noreturn]] inline void throw_cuda_alloc(cudaError_t err, const char* what, std::size_t bytes)
{
  (void)cudaGetLastError();
  const errc code = err == cudaErrorMemoryAllocation ? errc::out_of_memory : errc::device_error;
  throw error(code, std::string(what) + " of " + std::to_string(bytes) + " bytes failed: " + cuda_message(err));
}

} // namespace mmsb::detail
