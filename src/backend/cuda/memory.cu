/* CUDA backend memory: cudaMalloc (zero-filled before alloc returns), copies on
 * the compute stream. upload and download return with the data in place (a
 * stream synchronisation); upload_async returns at once, and its pinned source
 * (host_alloc) must stay untouched until the stream has passed it (the next
 * sync or download). */
#include "backend/cuda/cuda_common.cuh"

/* cudaMalloc with the message a user can act on: the bytes, what for, where, and the
 * device's free / total memory; shared by alloc and the context's own buffers */
extern "C" atas_status atas_cu_malloc(const atas_cuda_ctx *c, void **p, size_t bytes, const char *what) {
    *p = NULL;
    const cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        *p = NULL;
        size_t fr = 0, tot = 0;
        if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) (void)cudaGetLastError();
        return ATAS_ERR(ATAS_ERR_NOMEM,
                        "out of GPU memory: %zu bytes (%.1f MiB) for %s on GPU %d of host %s (rank %d of %d), "
                        "which has %.1f MiB free of %.1f MiB%s (a smaller batch.groups_per_rank or model helps)",
                        bytes, bytes / 1048576.0, what ? what : "buffer", c->device, c->host, atas_log_rank(),
                        atas_log_world(), fr / 1048576.0, tot / 1048576.0,
                        c->shared ? "; other ranks of this host may use this GPU too" : "");
    }
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *p = NULL;
        return ATAS_ERR(ATAS_ERR_CUDA, "cudaMalloc of %zu bytes for %s failed (%s): %s", bytes,
                        what ? what : "buffer", atas_cu_where(), cudaGetErrorString(e));
    }
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_alloc(const atas_backend *be, void **p, size_t bytes, const char *what) {
    *p = NULL;
    void *d = NULL;
    const atas_cuda_ctx *c = atas_cu_ctx(be);
    ATAS_CHECK(atas_cu_malloc(c, &d, bytes, what));
    /* zero-filled before alloc returns: the buffer may be used next from another stream
     * (upload_prefetch on the copy stream), which nothing would order after this memset.
     * Allocations happen at set-up, where a wait costs nothing. */
    cudaError_t e = cudaMemsetAsync(d, 0, bytes ? bytes : 1, c->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
    if (e != cudaSuccess) {
        cudaFree(d);
        (void)cudaGetLastError();
        return ATAS_ERR(ATAS_ERR_CUDA, "alloc: zero-filling %zu bytes for %s failed (%s): %s", bytes,
                        what ? what : "buffer", atas_cu_where(), cudaGetErrorString(e));
    }
    *p = d;
    return ATAS_OK;
}

/* no status to return: a failure here would be a stale pointer, reported by the next op */
extern "C" void atas_cuda_free(const atas_backend *be, void *p) {
    if (p) (void)cudaFree(p);
}

/* pinned (page-locked) host memory: the DMA engine reads it directly, so an
 * upload from it is asynchronous for the host and runs at full bus speed */
extern "C" atas_status atas_cuda_host_alloc(const atas_backend *be, void **p, size_t bytes, const char *what) {
    *p = NULL;
    void *h = NULL;
    const cudaError_t e = cudaHostAlloc(&h, bytes ? bytes : 1, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return ATAS_ERR(e == cudaErrorMemoryAllocation ? ATAS_ERR_NOMEM : ATAS_ERR_CUDA,
                        "host_alloc: %zu bytes (%.1f MiB) of pinned host memory for %s failed (%s): %s "
                        "(the locked-memory limit, ulimit -l, may be too low)",
                        bytes, bytes / 1048576.0, what ? what : "buffer", atas_cu_where(),
                        cudaGetErrorString(e));
    }
    memset(h, 0, bytes ? bytes : 1);
    *p = h;
    return ATAS_OK;
}

extern "C" void atas_cuda_host_free(const atas_backend *be, void *p) {
    if (p) (void)cudaFreeHost(p);
}

extern "C" atas_status atas_cuda_upload(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    atas_backend_count_transfer(1, bytes);
    CU_CHECK("upload", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    /* the caller may reuse src on return (a pinned src would otherwise still be read) */
    CU_CHECK("upload", cudaStreamSynchronize(atas_cu_stream(be)));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_upload_async(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    atas_backend_count_transfer(1, bytes);
    CU_CHECK("upload_async", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, atas_cu_stream(be)));
    return ATAS_OK;
}

/* the copy engine works on copy_stream while the compute stream runs this step;
 * upload_join then makes the compute stream wait for what was queued */
extern "C" atas_status atas_cuda_upload_prefetch(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    atas_backend_count_transfer(1, bytes);
    CU_CHECK("upload_prefetch", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, atas_cu_ctx(be)->copy_stream));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_upload_join(const atas_backend *be) {
    atas_cuda_ctx *c = atas_cu_ctx(be);
    CU_CHECK("upload_join", cudaEventRecord(c->ev_copy, c->copy_stream));
    CU_CHECK("upload_join", cudaStreamWaitEvent(c->stream, c->ev_copy, 0));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_download(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    atas_backend_count_transfer(0, bytes);
    CU_CHECK("download", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, atas_cu_stream(be)));
    CU_CHECK("download", cudaStreamSynchronize(atas_cu_stream(be)));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_copy(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0 || dst == src) return ATAS_OK;
    const char *d = (const char *)dst, *s = (const char *)src;
    /* cudaMemcpy leaves overlapping ranges undefined (the CPU backend's memmove does not) */
    ATAS_REQUIRE(d + bytes <= s || s + bytes <= d,
                 "copy: source and destination overlap (%zu bytes)", bytes);
    CU_CHECK("copy", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, atas_cu_stream(be)));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_zero(const atas_backend *be, void *dst, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    CU_CHECK("zero", cudaMemsetAsync(dst, 0, bytes, atas_cu_stream(be)));
    return ATAS_OK;
}

/* the compute stream, and the copy stream too: a prefetch not yet joined still reads its
 * pinned source, which the caller may reuse after a sync */
extern "C" atas_status atas_cuda_sync(const atas_backend *be) {
    CU_CHECK("sync", cudaStreamSynchronize(atas_cu_stream(be)));
    CU_CHECK("sync", cudaStreamSynchronize(atas_cu_ctx(be)->copy_stream));
    return ATAS_OK;
}
