/* cudaemu: device-side builtins (thread indices, barriers, warp shuffles,
 * atomics, fast-math intrinsics) and the kernel launcher the rewritten
 * `k<<<grid, block, smem, stream>>>(args)` calls. The scheduler (fiber.cc) runs a
 * grid's blocks one after another and a block's threads as fibers; the indices
 * below are set by the scheduler on every switch. */
#ifndef CUDAEMU_DEVICE_H
#define CUDAEMU_DEVICE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

extern thread_local uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;
static constexpr int warpSize = 32;

namespace cudaemu {
struct launch_cfg {
    dim3 grid, block;
    size_t smem;
    cudaStream_t stream;
    const void *fn;
};
/* runs body(ctx) as every thread of the grid; launch errors go to cudaGetLastError */
void run_grid(const launch_cfg &cfg, void (*body)(void *), void *ctx);
void *dyn_smem();
void syncthreads();
void syncwarp(unsigned mask);
/* lane's v into the warp's exchange slot, barrier, read src_lane's slot, barrier */
uint64_t warp_exchange(uint64_t v, int src_lane, unsigned mask);
/* bit i set when lane i (in mask) passed a true predicate */
unsigned warp_ballot(int pred, unsigned mask);
unsigned active_mask();
/* mma.h: the calling warp's memo of fragment products (the n-th product of a lane
 * is the n-th of every lane of its warp); get counts the call */
bool memo_get(const void *key, size_t key_bytes, void *val, size_t val_bytes);
void memo_put(const void *key, size_t key_bytes, const void *val, size_t val_bytes);
int lane();

template <class T> static inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
    uint64_t u = 0;
    memcpy(&u, &v, sizeof v);
    return u;
}
template <class T> static inline T from_bits(uint64_t u) {
    T v;
    memcpy(&v, &u, sizeof v);
    return v;
}
} // namespace cudaemu

/* the launcher: arguments converted once to the kernel's parameter types, then
 * every thread calls the kernel with its own copies (parameters are per thread) */
template <class... P, class... A>
void cudaemu_launch(dim3 grid, dim3 block, size_t smem, cudaStream_t stream, void (*kernel)(P...), A &&...a) {
    static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
    typedef std::tuple<typename std::decay<P>::type...> args_t;
    args_t args(std::forward<A>(a)...);
    struct call {
        void (*k)(P...);
        args_t *args;
        static void run(void *p) {
            call *c = (call *)p;
            std::apply(c->k, *c->args);
        }
    } c{kernel, &args};
    cudaemu::launch_cfg cfg{grid, block, smem, stream, (const void *)kernel};
    cudaemu::run_grid(cfg, &call::run, &c);
}

/* ---- barriers and warp operations */
static inline void __syncthreads() { cudaemu::syncthreads(); }
static inline void __syncwarp(unsigned mask = 0xffffffffu) { cudaemu::syncwarp(mask); }
static inline void __threadfence() {}
static inline void __threadfence_block() {}
static inline unsigned __activemask() { return cudaemu::active_mask(); }

/* width < 32: lanes form groups of width; a source outside the caller's group
 * (xor/down/up) returns the caller's own value, as the CUDA guide says */
template <class T> static inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    const int l = cudaemu::lane(), base = l - l % width;
    return cudaemu::from_bits<T>(cudaemu::warp_exchange(cudaemu::to_bits(v), base + (src % width), mask));
}
template <class T> static inline T __shfl_xor_sync(unsigned mask, T v, int lm, int width = 32) {
    const int l = cudaemu::lane(), s = l ^ lm;
    const int src = (s / width) > (l / width) ? l : s;
    return cudaemu::from_bits<T>(cudaemu::warp_exchange(cudaemu::to_bits(v), src, mask));
}
template <class T> static inline T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
    const int l = cudaemu::lane(), s = l + (int)d;
    const int src = (s / width) != (l / width) ? l : s;
    return cudaemu::from_bits<T>(cudaemu::warp_exchange(cudaemu::to_bits(v), src, mask));
}
template <class T> static inline T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = 32) {
    const int l = cudaemu::lane(), s = l - (int)d;
    const int src = s < l - l % width ? l : s;
    return cudaemu::from_bits<T>(cudaemu::warp_exchange(cudaemu::to_bits(v), src, mask));
}
static inline unsigned __ballot_sync(unsigned mask, int pred) { return cudaemu::warp_ballot(pred, mask); }
static inline int __any_sync(unsigned mask, int pred) { return cudaemu::warp_ballot(pred, mask) != 0; }
static inline int __all_sync(unsigned mask, int pred) {
    return cudaemu::warp_ballot(pred, mask) == (mask & cudaemu::active_mask());
}

/* ---- atomics: one OS thread runs every fiber, so plain read-modify-write */
template <class T> static inline T atomicAdd(T *p, T v) { T o = *p; *p = o + v; return o; }
template <class T> static inline T atomicSub(T *p, T v) { T o = *p; *p = o - v; return o; }
template <class T> static inline T atomicMax(T *p, T v) { T o = *p; *p = o > v ? o : v; return o; }
template <class T> static inline T atomicMin(T *p, T v) { T o = *p; *p = o < v ? o : v; return o; }
template <class T> static inline T atomicExch(T *p, T v) { T o = *p; *p = v; return o; }
template <class T> static inline T atomicCAS(T *p, T cmp, T v) { T o = *p; if (o == cmp) *p = v; return o; }

/* ---- intrinsics: the C library's accurate functions */
/* glibc's math.h declares __expf & co. itself: the CUDA names become macros */
static inline float cudaemu_expf(float x) { return expf(x); }
static inline float cudaemu_logf(float x) { return logf(x); }
static inline float cudaemu_sinf(float x) { return sinf(x); }
static inline float cudaemu_cosf(float x) { return cosf(x); }
static inline float cudaemu_powf(float x, float y) { return powf(x, y); }
#define __expf cudaemu_expf
#define __logf cudaemu_logf
#define __sinf cudaemu_sinf
#define __cosf cudaemu_cosf
#define __powf cudaemu_powf
static inline float __fdividef(float a, float b) { return a / b; }
static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
static inline double rsqrt(double x) { return 1.0 / sqrt(x); }
static inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
static inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
static inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
static inline float __uint_as_float(unsigned i) { float f; memcpy(&f, &i, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned i; memcpy(&i, &f, 4); return i; }
static inline long long __double_as_longlong(double d) { long long i; memcpy(&i, &d, 8); return i; }
static inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, 8); return d; }
template <class T> static inline T __ldg(const T *p) { return *p; }
static inline int __popc(unsigned v) { return __builtin_popcount(v); }
static inline int __ffs(int v) { return __builtin_ffs(v); }
static inline int __clz(int v) { return v ? __builtin_clz((unsigned)v) : 32; }

/* CUDA's min/max overloads for device code */
#define CUDAEMU_MINMAX(T)                                            \
    static inline T min(T a, T b) { return a < b ? a : b; }         \
    static inline T max(T a, T b) { return a > b ? a : b; }
CUDAEMU_MINMAX(int)
CUDAEMU_MINMAX(unsigned)
CUDAEMU_MINMAX(long)
CUDAEMU_MINMAX(unsigned long)
CUDAEMU_MINMAX(long long)
CUDAEMU_MINMAX(unsigned long long)
static inline float min(float a, float b) { return fminf(a, b); }
static inline float max(float a, float b) { return fmaxf(a, b); }
static inline double min(double a, double b) { return fmin(a, b); }
static inline double max(double a, double b) { return fmax(a, b); }
#undef CUDAEMU_MINMAX

#endif
