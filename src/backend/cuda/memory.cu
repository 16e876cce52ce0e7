/* CUDA backend memory: cudaMalloc (zero-filled), explicit copies. Copies from
 * and to pageable host memory are synchronous for the host, so upload and
 * download return with the data in place. */
#include "backend/cuda/cuda_common.cuh"

extern "C" atas_status atas_cuda_alloc(const atas_backend *be, void **p, size_t bytes, const char *what) {
    *p = NULL;
    void *d = NULL;
    cudaError_t e = cudaMalloc(&d, bytes ? bytes : 1);
    if (e != cudaSuccess)
        return ATAS_ERR(e == cudaErrorMemoryAllocation ? ATAS_ERR_NOMEM : ATAS_ERR_CUDA,
                        "alloc: cudaMalloc of %zu bytes for %s failed: %s", bytes,
                        what ? what : "buffer", cudaGetErrorString(e));
    e = cudaMemset(d, 0, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        cudaFree(d);
        return ATAS_ERR(ATAS_ERR_CUDA, "alloc: zero-filling %zu bytes for %s failed: %s", bytes,
                        what ? what : "buffer", cudaGetErrorString(e));
    }
    *p = d;
    return ATAS_OK;
}

/* no status to return: a failure here would be a stale pointer, reported by the next op */
extern "C" void atas_cuda_free(const atas_backend *be, void *p) {
    if (p) (void)cudaFree(p);
}

extern "C" atas_status atas_cuda_upload(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    atas_backend_count_transfer(1, bytes);
    CU_CHECK("upload", cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_download(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    atas_backend_count_transfer(0, bytes);
    CU_CHECK("download", cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_copy(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0 || dst == src) return ATAS_OK;
    const char *d = (const char *)dst, *s = (const char *)src;
    /* cudaMemcpy leaves overlapping ranges undefined (the CPU backend's memmove does not) */
    ATAS_REQUIRE(d + bytes <= s || s + bytes <= d,
                 "copy: source and destination overlap (%zu bytes)", bytes);
    CU_CHECK("copy", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_zero(const atas_backend *be, void *dst, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    CU_CHECK("zero", cudaMemsetAsync(dst, 0, bytes, 0));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_sync(const atas_backend *be) {
    CU_CHECK("sync", cudaDeviceSynchronize());
    return ATAS_OK;
}
