/* CPU backend memory: backend memory is tracked host memory, so upload,
 * download and copy are all memcpy. */
#include "backend/cpu/cpu_internal.h"

atas_status atas_cpu_alloc(const atas_backend *be, void **p, size_t bytes, const char *what) {
    CHECK(atas_host_calloc(p, bytes, what));
    return ATAS_OK;
}

void atas_cpu_free(const atas_backend *be, void *p) { atas_host_free(p); }

static atas_status move(void *dst, const void *src, size_t bytes, const char *op) {
    if (bytes == 0) return ATAS_OK;
    memmove(dst, src, bytes);
    return ATAS_OK;
}

atas_status atas_cpu_upload(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    atas_backend_count_transfer(1, bytes);
    return move(dst, src, bytes, "upload");
}
atas_status atas_cpu_download(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    atas_backend_count_transfer(0, bytes);
    return move(dst, src, bytes, "download");
}
atas_status atas_cpu_copy(const atas_backend *be, void *dst, const void *src, size_t bytes) {
    return move(dst, src, bytes, "copy");
}

atas_status atas_cpu_zero(const atas_backend *be, void *dst, size_t bytes) {
    if (bytes == 0) return ATAS_OK;
    memset(dst, 0, bytes);
    return ATAS_OK;
}

atas_status atas_cpu_sync(const atas_backend *be) { return ATAS_OK; }
