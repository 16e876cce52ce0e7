/* cudaemu runtime API: one plausible H100, device memory = host memory, streams
 * and events as objects whose work has always finished (every call runs at once,
 * in issue order: a legal schedule of any correctly synchronised program).
 * Copies check that their device side lies inside one cudaMalloc'd buffer, so a
 * wrong size or direction shows here instead of as a corrupted neighbour. */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "runtime_internal.h"

struct CUstream_st {
    unsigned flags;
};
struct CUevent_st {
    unsigned flags;
    double t_ms; /* host time of the last record: everything before it is done */
    int recorded;
};

namespace {
std::mutex g_lock;
std::map<uintptr_t, size_t> g_dev;       /* cudaMalloc'd buffers: start -> bytes */
std::set<cudaStream_t> g_streams;
std::set<cudaEvent_t> g_events;
std::unordered_map<const void *, int> g_smem_optin;
size_t g_dev_bytes;
thread_local cudaError_t g_last = cudaSuccess;
cudaError_t g_sticky = cudaSuccess;
const size_t kCtx = (size_t)500 << 20; /* the context's own share of the device */

/* an H100's 80 GiB, or CUDAEMU_MEM_MB (a small device, to run the out-of-memory path) */
size_t total_bytes() {
    static size_t t = [] {
        const char *e = getenv("CUDAEMU_MEM_MB");
        const long long mb = e ? atoll(e) : 0;
        return mb > 0 ? (size_t)mb << 20 : (size_t)80 << 30;
    }();
    return t;
}

/* CUDAEMU_DEVICES=N: a machine of N devices (default 1), told apart by their PCI bus ids
 * only - they share the one emulated memory, and each process computes on one of them */
int device_count() {
    static int n = [] {
        const char *e = getenv("CUDAEMU_DEVICES");
        const int k = e ? atoi(e) : 1;
        return k >= 1 && k <= 16 ? k : 1;
    }();
    return n;
}
thread_local int g_device = 0;

/* CUDA_VISIBLE_DEVICES as the driver reads it: the listed ids, in order, up to the first
 * that is not a device of this machine (so "" or "-1" leaves none); unset: all of them */
struct visible {
    int n, phys[16];
};
const visible &visible_devices() {
    static visible v = [] {
        visible r{};
        const char *e = getenv("CUDA_VISIBLE_DEVICES");
        if (!e) {
            for (r.n = 0; r.n < device_count(); r.n++) r.phys[r.n] = r.n;
            return r;
        }
        while (r.n < 16) {
            char *end = nullptr;
            const long id = strtol(e, &end, 10);
            if (end == e || id < 0 || id >= device_count()) break;
            r.phys[r.n++] = (int)id;
            e = end;
            if (*e != ',') break;
            e++;
        }
        return r;
    }();
    return v;
}
bool no_device() { return visible_devices().n == 0; }

double now_ms() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

cudaError_t fail(cudaError_t e) {
    g_last = e;
    return e;
}

/* true when [p, p + n) lies inside one device buffer */
bool in_device(const void *p, size_t n) {
    std::lock_guard<std::mutex> lk(g_lock);
    const uintptr_t a = (uintptr_t)p;
    auto it = g_dev.upper_bound(a);
    if (it == g_dev.begin()) return false;
    --it;
    return a >= it->first && a + n <= it->first + it->second;
}

cudaError_t check_copy(void *dst, const void *src, size_t n, cudaMemcpyKind kind, const char *what) {
    if (n == 0) return cudaSuccess;
    const bool dd = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool sd = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyDefault) return cudaSuccess;
    if ((dd && !in_device(dst, n)) || (sd && !in_device(src, n))) {
        fprintf(stderr, "cudaemu: %s of %zu bytes (kind %d) from %p to %p: the %s range is not inside one "
                "cudaMalloc'd buffer\n", what, n, (int)kind, src, dst, dd && !in_device(dst, n) ? "destination" : "source");
        return fail(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}
} // namespace

namespace cudaemu {
void set_error(cudaError_t e) { g_last = e; }
void set_sticky(cudaError_t e) {
    g_sticky = e;
    g_last = e;
}
cudaError_t sticky_error() { return g_sticky; }
size_t smem_limit(const void *fn) {
    std::lock_guard<std::mutex> lk(g_lock);
    auto it = g_smem_optin.find(fn);
    return it != g_smem_optin.end() && it->second > 48 * 1024 ? (size_t)it->second : 48 * 1024;
}
cudaError_t check_stream(cudaStream_t s) {
    if (!s) return cudaSuccess;
    std::lock_guard<std::mutex> lk(g_lock);
    if (!g_streams.count(s)) {
        fprintf(stderr, "cudaemu: work queued on stream %p, which is not a live stream\n", (void *)s);
        return cudaErrorInvalidResourceHandle;
    }
    return cudaSuccess;
}
} // namespace cudaemu

extern "C" {

cudaError_t cudaGetLastError(void) {
    const cudaError_t e = g_sticky != cudaSuccess ? g_sticky : g_last;
    g_last = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError(void) { return g_sticky != cudaSuccess ? g_sticky : g_last; }

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    default: return "cudaErrorUnknown";
    }
}
const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure: return "unspecified launch failure (cudaemu: see its message above)";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    default: return "unknown error";
    }
}

cudaError_t cudaGetDeviceCount(int *n) {
    *n = 0;
    if (no_device()) return fail(cudaErrorNoDevice);
    *n = visible_devices().n;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) {
    if (d < 0 || d >= visible_devices().n) return fail(cudaErrorInvalidDevice);
    g_device = d;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *d) {
    *d = g_device;
    return no_device() ? fail(cudaErrorNoDevice) : cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int d) {
    if (d < 0 || d >= visible_devices().n) return fail(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "cudaemu (NVIDIA H100 80GB HBM3 on the CPU)");
    p->totalGlobalMem = total_bytes();
    p->sharedMemPerBlock = 48 * 1024;
    p->sharedMemPerBlockOptin = 232448;
    p->sharedMemPerMultiprocessor = 233472;
    p->regsPerBlock = 65536;
    p->warpSize = 32;
    p->maxThreadsPerBlock = 1024;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 2147483647;
    p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->clockRate = 1980000;
    p->multiProcessorCount = 132;
    p->major = 9;
    p->minor = 0;
    p->memoryClockRate = 2619000;
    p->memoryBusWidth = 5120;
    p->l2CacheSize = 50 << 20;
    p->maxThreadsPerMultiProcessor = 2048;
    p->totalConstMem = 65536;
    return cudaSuccess;
}
/* the properties above; CUDAEMU_CC=86 stands in for an sm_86 part (99 KiB of opt-in shared
 * memory per block), so the backend's choices for smaller devices can be run too */
cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int d) {
    struct cudaDeviceProp p;
    const cudaError_t e = cudaGetDeviceProperties(&p, d);
    if (e != cudaSuccess) return e;
    const char *cc = getenv("CUDAEMU_CC");
    if (cc && atoi(cc) > 0) {
        p.major = atoi(cc) / 10;
        p.minor = atoi(cc) % 10;
        if (p.major == 8 && p.minor >= 6) p.sharedMemPerBlockOptin = 101376;
    }
    switch (attr) {
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)p.sharedMemPerBlockOptin; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; return cudaSuccess;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; return cudaSuccess;
    }
    return fail(cudaErrorInvalidValue);
}

cudaError_t cudaDeviceGetPCIBusId(char *id, int len, int d) {
    if (d < 0 || d >= visible_devices().n) return fail(cudaErrorInvalidDevice);
    snprintf(id, (size_t)len, "0000:%02x:00.0", visible_devices().phys[d]);
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return g_sticky; }

cudaError_t cudaMalloc(void **p, size_t bytes) {
    *p = nullptr;
    if (bytes == 0) return cudaSuccess;
    {
        std::lock_guard<std::mutex> lk(g_lock);
        if (g_dev_bytes + bytes + kCtx > total_bytes()) return fail(cudaErrorMemoryAllocation);
    }
    void *q = aligned_alloc(256, (bytes + 255) & ~(size_t)255);
    if (!q) return fail(cudaErrorMemoryAllocation);
    memset(q, 0xff, bytes); /* cudaMalloc does not clear: NaN bytes show a missing zero-fill */
    std::lock_guard<std::mutex> lk(g_lock);
    g_dev[(uintptr_t)q] = bytes;
    g_dev_bytes += bytes;
    *p = q;
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    std::lock_guard<std::mutex> lk(g_lock);
    auto it = g_dev.find((uintptr_t)p);
    if (it == g_dev.end()) {
        fprintf(stderr, "cudaemu: cudaFree(%p): not a cudaMalloc'd pointer\n", p);
        g_last = cudaErrorInvalidDevicePointer;
        return cudaErrorInvalidDevicePointer;
    }
    g_dev_bytes -= it->second;
    g_dev.erase(it);
    free(p);
    return cudaSuccess;
}
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned flags) {
    (void)flags;
    *p = aligned_alloc(256, (bytes + 255) & ~(size_t)255);
    return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaMallocHost(void **p, size_t bytes) { return cudaHostAlloc(p, bytes, 0); }
cudaError_t cudaFreeHost(void *p) {
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b) {
    std::lock_guard<std::mutex> lk(g_lock);
    *total_b = total_bytes();
    *free_b = g_dev_bytes + kCtx < *total_b ? *total_b - g_dev_bytes - kCtx : 0;
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind) {
    return cudaMemcpyAsync(dst, src, bytes, kind, 0);
}
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind, cudaStream_t s) {
    if (g_sticky) return g_sticky;
    if (cudaemu::check_stream(s)) return fail(cudaErrorInvalidResourceHandle);
    const cudaError_t e = check_copy(dst, src, bytes, kind, "cudaMemcpy");
    if (e) return e;
    if (bytes) memcpy(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *dst, int v, size_t bytes) { return cudaMemsetAsync(dst, v, bytes, 0); }
cudaError_t cudaMemsetAsync(void *dst, int v, size_t bytes, cudaStream_t s) {
    if (g_sticky) return g_sticky;
    if (cudaemu::check_stream(s)) return fail(cudaErrorInvalidResourceHandle);
    if (bytes && !in_device(dst, bytes)) {
        fprintf(stderr, "cudaemu: cudaMemset of %zu bytes at %p: not inside one cudaMalloc'd buffer\n", bytes, dst);
        return fail(cudaErrorInvalidValue);
    }
    if (bytes) memset(dst, v, bytes);
    return cudaSuccess;
}

cudaError_t cudaemu_symbol_copy(void *dst, const void *src, size_t bytes, size_t sym_bytes, size_t offset,
                                int to_symbol, cudaStream_t s) {
    if (g_sticky) return g_sticky;
    if (cudaemu::check_stream(s)) return fail(cudaErrorInvalidResourceHandle);
    if (offset + bytes > sym_bytes) {
        fprintf(stderr, "cudaemu: cudaMemcpy%sSymbol of %zu bytes at offset %zu: the symbol has %zu\n",
                to_symbol ? "To" : "From", bytes, offset, sym_bytes);
        return fail(cudaErrorInvalidValue);
    }
    if (to_symbol)
        memcpy((char *)dst + offset, src, bytes);
    else
        memcpy(dst, (const char *)src + offset, bytes);
    return cudaSuccess;
}

cudaError_t cudaemu_func_set_attr(const void *fn, int attr, int value) {
    if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
        if (value < 0 || value > 232448) return fail(cudaErrorInvalidValue); /* H100: 227 KiB per block */
        std::lock_guard<std::mutex> lk(g_lock);
        g_smem_optin[fn] = value;
    }
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, 0); }
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
    *s = new CUstream_st{flags};
    std::lock_guard<std::mutex> lk(g_lock);
    g_streams.insert(*s);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
    std::lock_guard<std::mutex> lk(g_lock);
    if (!g_streams.erase(s)) return fail(cudaErrorInvalidResourceHandle);
    delete s;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
    if (cudaemu::check_stream(s)) return fail(cudaErrorInvalidResourceHandle);
    return g_sticky;
}
cudaError_t cudaStreamQuery(cudaStream_t s) { return cudaStreamSynchronize(s); }

static bool live_event(cudaEvent_t e) {
    std::lock_guard<std::mutex> lk(g_lock);
    return g_events.count(e) != 0;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags) {
    (void)flags;
    if (cudaemu::check_stream(s) || !live_event(e)) return fail(cudaErrorInvalidResourceHandle);
    return g_sticky;
}
cudaError_t cudaEventCreate(cudaEvent_t *e) { return cudaEventCreateWithFlags(e, 0); }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags) {
    *e = new CUevent_st{flags, 0.0, 0};
    std::lock_guard<std::mutex> lk(g_lock);
    g_events.insert(*e);
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
    std::lock_guard<std::mutex> lk(g_lock);
    if (!g_events.erase(e)) return fail(cudaErrorInvalidResourceHandle);
    delete e;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
    if (cudaemu::check_stream(s) || !live_event(e)) return fail(cudaErrorInvalidResourceHandle);
    e->t_ms = now_ms();
    e->recorded = 1;
    return g_sticky;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
    if (!live_event(e)) return fail(cudaErrorInvalidResourceHandle);
    return g_sticky;
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
    if (!live_event(e)) return fail(cudaErrorInvalidResourceHandle);
    return g_sticky;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    if (!live_event(a) || !live_event(b)) return fail(cudaErrorInvalidResourceHandle);
    /* CUDA refuses events made with cudaEventDisableTiming, and events never recorded */
    if ((a->flags | b->flags) & cudaEventDisableTiming) return fail(cudaErrorInvalidResourceHandle);
    if (!a->recorded || !b->recorded) return fail(cudaErrorInvalidResourceHandle);
    *ms = (float)(b->t_ms - a->t_ms);
    return g_sticky;
}

} // extern "C"
