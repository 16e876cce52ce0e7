/* cudaemu: what the scheduler (fiber.cc) needs from the runtime (runtime.cc) */
#ifndef CUDAEMU_RUNTIME_INTERNAL_H
#define CUDAEMU_RUNTIME_INTERNAL_H

#include <cuda_runtime.h>

namespace cudaemu {
void set_error(cudaError_t e);  /* the next cudaGetLastError returns it */
void set_sticky(cudaError_t e); /* a kernel fault: every later call fails, as on a GPU */
cudaError_t sticky_error();
size_t smem_limit(const void *fn); /* dynamic shared memory a kernel may use (48 KiB unless opted in) */
cudaError_t check_stream(cudaStream_t s);
} // namespace cudaemu

#endif
