/* cudaemu: nvcuda::wmma for 16x16x16 tiles. Every lane holds the whole tile
 * (num_elements = rows x cols, row-major inside the fragment), so load, store,
 * mma and fill give every lane the same copy; load and store are warp-collective
 * (a warp barrier before each, as their _sync names promise, and after a store,
 * so that no lane's later writes are overwritten by a slower lane's copy), mma
 * and fill touch registers only. Code that only uses the fragment API, or loops over
 * frag.x[] element-wise, keeps its meaning; code that relies on which lane holds
 * which element (the hardware's unspecified layout) would not. */
#ifndef CUDAEMU_MMA_H
#define CUDAEMU_MMA_H

#include <cuda_bf16.h>
#include <cuda_runtime.h>

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K> struct shape;
template <int M, int N, int K> struct shape<matrix_a, M, N, K> { enum { rows = M, cols = K }; };
template <int M, int N, int K> struct shape<matrix_b, M, N, K> { enum { rows = K, cols = N }; };
template <int M, int N, int K> struct shape<accumulator, M, N, K> { enum { rows = M, cols = N }; };

template <class Use, int M, int N, int K, class T, class Layout = void> struct fragment {
    enum { rows = shape<Use, M, N, K>::rows, cols = shape<Use, M, N, K>::cols, num_elements = rows * cols };
    T x[num_elements];
};

namespace detail {
inline void warp_sync() { __syncwarp(0xffffffffu); }
template <class L> struct is_col { enum { value = 0 }; };
template <> struct is_col<col_major> { enum { value = 1 }; };
} // namespace detail

template <class Use, int M, int N, int K, class T, class L, class P>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L> &f, const P *p, unsigned ldm) {
    typedef fragment<Use, M, N, K, T, L> F;
    detail::warp_sync();
    for (int i = 0; i < F::rows; i++)
        for (int j = 0; j < F::cols; j++)
            f.x[i * F::cols + j] = detail::is_col<L>::value ? p[i + (size_t)j * ldm] : p[(size_t)i * ldm + j];
}
template <int M, int N, int K, class T>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T> &f, const T *p, unsigned ldm, layout_t l) {
    detail::warp_sync();
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) f.x[i * N + j] = l == mem_col_major ? p[i + (size_t)j * ldm] : p[(size_t)i * ldm + j];
}
template <int M, int N, int K, class T>
inline void store_matrix_sync(T *p, const fragment<accumulator, M, N, K, T> &f, unsigned ldm, layout_t l) {
    detail::warp_sync();
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) (l == mem_col_major ? p[i + (size_t)j * ldm] : p[(size_t)i * ldm + j]) = f.x[i * N + j];
    detail::warp_sync();
}
template <class Use, int M, int N, int K, class T, class L, class V>
inline void fill_fragment(fragment<Use, M, N, K, T, L> &f, const V &v) {
    for (int i = 0; i < fragment<Use, M, N, K, T, L>::num_elements; i++) f.x[i] = v;
}
/* d = a b + c: fp32 products of the (exactly representable) operands, fp32 sums.
 * Computed by the first lane of the warp to get here, copied by the others when
 * their operands are the same bytes (they are, unless code edits x[] per lane). */
template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC>
inline void mma_sync(fragment<accumulator, M, N, K, TC> &d, const fragment<matrix_a, M, N, K, TA, LA> &a,
                     const fragment<matrix_b, M, N, K, TB, LB> &b, const fragment<accumulator, M, N, K, TC> &c) {
    struct {
        TA a[M * K];
        TB b[K * N];
        TC c[M * N];
    } key;
    memcpy(key.a, a.x, sizeof key.a);
    memcpy(key.b, b.x, sizeof key.b);
    memcpy(key.c, c.x, sizeof key.c);
    TC out[M * N];
    if (cudaemu::memo_get(&key, sizeof key, out, sizeof out)) {
        memcpy(d.x, out, sizeof out);
        return;
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = (float)c.x[i * N + j];
            for (int k = 0; k < K; k++) s += (float)a.x[i * K + k] * (float)b.x[k * N + j];
            out[i * N + j] = s;
        }
    cudaemu::memo_put(&key, sizeof key, out, sizeof out);
    memcpy(d.x, out, sizeof out);
}
} // namespace wmma
} // namespace nvcuda

#endif
