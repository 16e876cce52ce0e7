/* Fused attention for precision bf16 (docs/backend.md "Precision"), in the
 * FlashAttention-2 style: no T x T matrix in memory, fp32 in and out in the
 * attention ops' layout (packed qkv [B,T,3D], head h at columns h*hd of each
 * third; out/dout [B,T,D]; lse [B,H,T]).
 *
 * Tiles are read from the fp32 tensors, rounded to bf16 (round to nearest even,
 * __float2bfloat16_rn) into shared memory and multiplied on the tensor cores with
 * nvcuda::wmma 16x16x16 bf16 fragments and fp32 accumulators; the softmax
 * statistics (running max m, running sum l, lse, Di) are fp32. The rounding is
 * the CPU emulation's (src/backend/cpu/attention.c): Q, K, V, dO, P and dS are
 * rounded before their products. One difference: the forward rounds the
 * unnormalised probabilities exp(s - m_running) and divides by l at the end (the
 * CPU rounds the normalised P); both are one rounding of relative size <= 2^-9.
 *
 * Tiling (BQ = BK = 64, four warps of 32 threads, warp w owns tile rows
 * [16w, 16w+16), so every softmax row lives in one warp and warps synchronise
 * only around the shared tiles):
 *   grid: x = b*H + h, y = the tile (x has no 65535 limit; T / 64 fits y)
 *   forward, block (query tile, b*H + h):
 *     Q tile [64 x hd] once; for each key tile: K, V [64 x hd];
 *     S = scale Q K^T [64 x 64] (fp32, shared) -> online softmax per row (two lanes
 *     a row, 32 columns each in registers): m' = max(m, rowmax),
 *     P = exp(S - m') (bf16, shared), l = l e^(m-m') + rowsum,
 *     O = O e^(m-m') + P V (O fp32 in shared, through accumulator fragments);
 *     end: out = O / l, lse = m + log l. Causal: key tiles past the query tile
 *     are skipped and keys j > i masked inside the diagonal tile.
 *   backward, after k_flash_di (Di = rowsum(dO * O), fp32, in the workspace),
 *   two kernels that recompute P = exp(scale Q K^T - lse), so that each output
 *   element has one owner and no atomics are needed (deterministic, and each
 *   kernel adds its result once onto dqkv: the backward accumulates):
 *     k_flash_dkdv, block (key tile, b*H + h): for every query tile,
 *       P^T = exp(scale K Q^T - lse), dP^T = V dO^T, dS^T = P^T (dP^T - Di),
 *       dV += P^T dO, dK += scale dS^T Q (accumulators in registers);
 *     k_flash_dq, block (query tile, b*H + h): for every key tile,
 *       P, dP = dO V^T, dS = P (dP - Di), dQ += scale dS K.
 * Rows and keys past T (the last tile) are loaded as zeros and masked to
 * probability 0; only rows < T are written. Head dims: multiples of 16 up to
 * 128 are instantiated for 64, 80, 128 (the ViT and EVA heads); other head
 * dims, and tf32, take the cuBLAS path of attention.cu.
 *
 * Shared tiles are row-major with padded rows (FA_LD*: +16 bytes for bf16, +16
 * for fp32), so a fragment's rows start in different banks. The padding costs 6-8 KiB
 * a block: at hd 64 (ViT-B/L, EVA02-B/L) H100/H200 keep 3 / 2 / 2 blocks per SM (fwd,
 * dkdv, dq), but A100's dkdv<64> drops from 2 to 1, H100's fwd<80> from 3 to 2 and
 * dkdv<128> from 2 to 1: to be timed on a GPU (wmma needs plain strides; a swizzle
 * would need ldmatrix by hand). Not tuned: no double
 * buffering, no wgmma, S and O pass through shared memory. Untested on a GPU when written (compiled for sm_80/90). */
#include <cuda_bf16.h>
#include <stdlib.h>
#include <string.h>
#include <mma.h>

#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/flash_attn.h"

using namespace nvcuda;

/* bf16 wmma needs sm_80; an older target (V100, T4) still builds the module, with these
 * kernels as traps that the capability test never launches */
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define FA_ARCH_OK 1
#else
#define FA_ARCH_OK 0
#endif

#define FA_B 64        /* rows of a query tile = keys of a key tile */
#define FA_WARPS 4     /* 16 rows each */
#define FA_THREADS (32 * FA_WARPS)
/* row strides of the shared tiles, padded so that the 16-byte rows of a fragment load (and the
 * softmax's per-lane columns) fall in different banks: with unpadded 128-byte rows every row
 * of a 16 x 16 fragment starts in the same bank */
#define FA_LDS (FA_B + 4) /* fp32 [64][64]: S, dP */
#define FA_LDP (FA_B + 8) /* bf16 [64][64]: P, dS */
#define FA_LDH(HD) ((HD) + 8) /* bf16 [64][HD]: Q, K, V, dO */
#define FA_LDO(HD) ((HD) + 4) /* fp32 [64][HD]: O, the dQ staging */

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> frag_a;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> frag_b_row;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> frag_b_col;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> frag_c;

/* rows [r0, r0 + 64) of one head's [T, hd] slice (row stride ld floats) into a
 * bf16 tile [64][HD] of row stride FA_LDH(HD); rows >= T become zeros */
template <int HD>
__device__ void load_tile(__nv_bfloat16 *dst, const float *src, int r0, int T, int ld) {
    for (int e = threadIdx.x; e < FA_B * HD; e += FA_THREADS) {
        const int r = e / HD, c = e % HD;
        dst[r * FA_LDH(HD) + c] = __float2bfloat16_rn(r0 + r < T ? src[(size_t)(r0 + r) * ld + c] : 0.0f);
    }
}

/* a warp's 16 x HD accumulator, as HD / 16 fragments of 16 x 16 */
template <int HD>
__device__ void zero_frags(frag_c (&acc)[HD / 16]) {
#pragma unroll
    for (int n = 0; n < HD / 16; n++) wmma::fill_fragment(acc[n], 0.0f);
}

/* ------------------------------------------------------------------ forward */
/* shared: Q, K, V tiles (bf16 [64][HD]), S (fp32 [64][64]), P (bf16 [64][64]),
 * O (fp32 [64][HD]) */
template <int HD>
static size_t fwd_smem() {
    return 3 * sizeof(__nv_bfloat16) * FA_B * FA_LDH(HD) + sizeof(float) * FA_B * FA_LDS +
           sizeof(__nv_bfloat16) * FA_B * FA_LDP + sizeof(float) * FA_B * FA_LDO(HD);
}

template <int HD>
__global__ void __launch_bounds__(FA_THREADS) k_flash_fwd(float *out, float *lse, const float *qkv, int T, int H,
                                                          float scale, int causal) {
#if FA_ARCH_OK
    extern __shared__ __align__(32) unsigned char smem[];
    constexpr int LDH = FA_LDH(HD), LDO = FA_LDO(HD);
    __nv_bfloat16 *Qs = (__nv_bfloat16 *)smem, *Ks = Qs + FA_B * LDH, *Vs = Ks + FA_B * LDH;
    float *Ss = (float *)(Vs + FA_B * LDH);
    __nv_bfloat16 *Ps = (__nv_bfloat16 *)(Ss + FA_B * FA_LDS);
    float *Os = (float *)(Ps + FA_B * FA_LDP);
    const int D = H * HD, ld = 3 * D;
    const int q0 = blockIdx.y * FA_B, bh = blockIdx.x, b = bh / H, h = bh % H;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, w0 = 16 * warp;
    const float *base = qkv + (size_t)b * T * ld + (size_t)h * HD;

    load_tile<HD>(Qs, base, q0, T, ld);
    for (int e = threadIdx.x; e < FA_B * LDO; e += FA_THREADS) Os[e] = 0.0f;
    /* the softmax: lanes 2r and 2r + 1 own row w0 + r of the warp's 16, 32 of the tile's 64
     * columns each; both keep the row's running max and sum */
    const int r = lane >> 1, half = lane & 1, i = q0 + w0 + r;
    float mrow = -INFINITY, lrow = 0.0f;

    const int nkt = (T + FA_B - 1) / FA_B;
    const int last = causal ? min(nkt - 1, (q0 + FA_B - 1) / FA_B) : nkt - 1;
    for (int kt = 0; kt <= last; kt++) {
        const int k0 = kt * FA_B;
        __syncthreads(); /* the previous tile's K, V are no longer read */
        load_tile<HD>(Ks, base + D, k0, T, ld);
        load_tile<HD>(Vs, base + 2 * D, k0, T, ld);
        __syncthreads();
        /* S[w0.., :] = Q[w0.., :] K^T: K^T as a col-major B (element (k, n) = K[n][k]) */
        for (int n = 0; n < FA_B / 16; n++) {
            frag_c acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int k = 0; k < HD / 16; k++) {
                frag_a a;
                frag_b_col bk;
                wmma::load_matrix_sync(a, Qs + w0 * LDH + 16 * k, LDH);
                wmma::load_matrix_sync(bk, Ks + (16 * n) * LDH + 16 * k, LDH);
                wmma::mma_sync(acc, a, bk, acc);
            }
            wmma::store_matrix_sync(Ss + w0 * FA_LDS + 16 * n, acc, FA_LDS, wmma::mem_row_major);
        }
        __syncwarp();
        /* online softmax, all 16 rows at once: a lane's 32 columns in registers, one shuffle
         * for the row's max and one for its sum. Lane-rotated columns ((t + lane) mod 32) put
         * the 32 lanes' shared-memory words in 32 different banks. */
        {
            const float *srow = Ss + (w0 + r) * FA_LDS + 32 * half;
            float sv[32], mx = -INFINITY;
#pragma unroll
            for (int t = 0; t < 32; t++) {
                const int c = (t + lane) & 31, j = k0 + 32 * half + c;
                const bool ok = j < T && (!causal || j <= i);
                sv[t] = ok ? scale * srow[c] : -INFINITY;
                mx = fmaxf(mx, sv[t]);
            }
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            const float mnew = fmaxf(mrow, mx);
            /* a row with no visible key yet keeps m = -inf: exponentiate against 0 */
            const float mref = mnew == -INFINITY ? 0.0f : mnew;
            const float alpha = __expf(mrow - mref);
            __nv_bfloat16 *prow = Ps + (w0 + r) * FA_LDP + 32 * half;
            float sum = 0.0f;
#pragma unroll
            for (int t = 0; t < 32; t++) {
                const float p = __expf(sv[t] - mref); /* exp(-inf) = 0 for masked keys */
                prow[(t + lane) & 31] = __float2bfloat16_rn(p);
                sum += p;
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            lrow = lrow * alpha + sum;
            mrow = mnew;
            float *orow = Os + (w0 + r) * LDO + half * (HD / 2);
#pragma unroll 8
            for (int t = 0; t < HD / 2; t++) { /* (t + lane) mod HD/2: HD/2 >= 32 > lane */
                const int c = t + lane;
                orow[c < HD / 2 ? c : c - HD / 2] *= alpha;
            }
        }
        __syncwarp();
        /* O[w0.., :] += P[w0.., :] V through accumulator fragments loaded from O */
#pragma unroll
        for (int n = 0; n < HD / 16; n++) {
            frag_c acc;
            wmma::load_matrix_sync(acc, Os + w0 * LDO + 16 * n, LDO, wmma::mem_row_major);
            for (int k = 0; k < FA_B / 16; k++) {
                frag_a a;
                frag_b_row bv;
                wmma::load_matrix_sync(a, Ps + w0 * FA_LDP + 16 * k, FA_LDP);
                wmma::load_matrix_sync(bv, Vs + (16 * k) * LDH + 16 * n, LDH);
                wmma::mma_sync(acc, a, bv, acc);
            }
            wmma::store_matrix_sync(Os + w0 * LDO + 16 * n, acc, LDO, wmma::mem_row_major);
        }
        __syncwarp();
    }
    /* out = O / l, lse = m + log l, rows < T only: row by row, the whole warp along a row
     * (coalesced stores), its m and l from the row's first lane */
#pragma unroll
    for (int rr = 0; rr < 16; rr++) {
        const float mr = __shfl_sync(0xffffffffu, mrow, 2 * rr), lr = __shfl_sync(0xffffffffu, lrow, 2 * rr);
        const int ii = q0 + w0 + rr;
        if (ii >= T) continue;
        const float inv = 1.0f / lr;
        float *o = out + ((size_t)b * T + ii) * D + (size_t)h * HD;
        for (int c = lane; c < HD; c += 32) o[c] = Os[(w0 + rr) * LDO + c] * inv;
        if (lse && lane == 0) lse[((size_t)b * H + h) * T + ii] = mr + logf(lr);
    }
#else
    __trap(); /* below sm_80: atas_cuda_flash_supported keeps these unused */
#endif
}

/* ------------------------------------------------------------------ backward */
/* Di[b,h,i] = sum_c dO[b,i,h,c] O[b,i,h,c] (fp32): one warp per (b, i, h) */
__global__ void k_flash_di(float *Di, const float *dout, const float *out, int B, int T, int H, int hd) {
    const long r = (long)blockIdx.x * ATAS_CU_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (r >= (long)B * T * H) return;
    const int h = (int)(r % H), i = (int)(r / H % T), b = (int)(r / H / T);
    const size_t off = ((size_t)b * T + i) * H * hd + (size_t)h * hd;
    float s = 0.0f;
    for (int c = lane; c < hd; c += 32) s += dout[off + c] * out[off + c];
    s = atas_warp_sum(s);
    if (lane == 0) Di[((size_t)b * H + h) * T + i] = s;
}

/* shared of k_flash_dkdv: K, V, Q, dO tiles (bf16 [64][HD]); per warp 16 x 64:
 * P^T and dP^T (fp32), P^T and dS^T (bf16); lse, Di of the query tile */
template <int HD>
static size_t dkdv_smem() {
    return 4 * sizeof(__nv_bfloat16) * FA_B * FA_LDH(HD) + 2 * sizeof(float) * FA_B * FA_LDS +
           2 * sizeof(__nv_bfloat16) * FA_B * FA_LDP + 2 * sizeof(float) * FA_B;
}

template <int HD>
__global__ void __launch_bounds__(FA_THREADS) k_flash_dkdv(float *dqkv, const float *dout, const float *qkv,
                                                           const float *lse, const float *Di, int T, int H,
                                                           float scale) {
#if FA_ARCH_OK
    extern __shared__ __align__(32) unsigned char smem[];
    constexpr int LDH = FA_LDH(HD);
    __nv_bfloat16 *Ks = (__nv_bfloat16 *)smem, *Vs = Ks + FA_B * LDH, *Qs = Vs + FA_B * LDH, *dOs = Qs + FA_B * LDH;
    float *Pt = (float *)(dOs + FA_B * LDH), *dPt = Pt + FA_B * FA_LDS;
    __nv_bfloat16 *Ptb = (__nv_bfloat16 *)(dPt + FA_B * FA_LDS), *dStb = Ptb + FA_B * FA_LDP;
    float *Ls = (float *)(dStb + FA_B * FA_LDP), *Ds = Ls + FA_B;
    const int D = H * HD, ld = 3 * D;
    const int k0 = blockIdx.y * FA_B, bh = blockIdx.x, b = bh / H, h = bh % H;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, w0 = 16 * warp;
    const float *base = qkv + (size_t)b * T * ld + (size_t)h * HD;
    const float *dob = dout + (size_t)b * T * D + (size_t)h * HD;
    const float *Lb = lse + (size_t)bh * T, *Db = Di + (size_t)bh * T;

    load_tile<HD>(Ks, base + D, k0, T, ld);
    load_tile<HD>(Vs, base + 2 * D, k0, T, ld);
    frag_c dK[HD / 16], dV[HD / 16]; /* this warp's 16 keys x HD */
    zero_frags<HD>(dK);
    zero_frags<HD>(dV);
    for (int q0 = 0; q0 < T; q0 += FA_B) {
        __syncthreads(); /* the previous query tile is no longer read */
        load_tile<HD>(Qs, base, q0, T, ld);
        load_tile<HD>(dOs, dob, q0, T, D);
        for (int e = threadIdx.x; e < FA_B; e += FA_THREADS) {
            Ls[e] = q0 + e < T ? Lb[q0 + e] : 0.0f;
            Ds[e] = q0 + e < T ? Db[q0 + e] : 0.0f;
        }
        __syncthreads();
        /* S^T[w0.., :] = K[w0.., :] Q^T and dP^T[w0.., :] = V[w0.., :] dO^T */
        for (int n = 0; n < FA_B / 16; n++) {
            frag_c s, dp;
            wmma::fill_fragment(s, 0.0f);
            wmma::fill_fragment(dp, 0.0f);
#pragma unroll
            for (int k = 0; k < HD / 16; k++) {
                frag_a a;
                frag_b_col bt;
                wmma::load_matrix_sync(a, Ks + w0 * LDH + 16 * k, LDH);
                wmma::load_matrix_sync(bt, Qs + (16 * n) * LDH + 16 * k, LDH);
                wmma::mma_sync(s, a, bt, s);
                wmma::load_matrix_sync(a, Vs + w0 * LDH + 16 * k, LDH);
                wmma::load_matrix_sync(bt, dOs + (16 * n) * LDH + 16 * k, LDH);
                wmma::mma_sync(dp, a, bt, dp);
            }
            wmma::store_matrix_sync(Pt + w0 * FA_LDS + 16 * n, s, FA_LDS, wmma::mem_row_major);
            wmma::store_matrix_sync(dPt + w0 * FA_LDS + 16 * n, dp, FA_LDS, wmma::mem_row_major);
        }
        __syncwarp();
        /* P^T = exp(scale S^T - lse_i), 0 past T; dS^T = P^T (dP^T - Di_i); both to bf16 */
        for (int e = lane; e < 16 * FA_B; e += 32) {
            const int r = e / FA_B, i = e % FA_B, at = (w0 + r) * FA_LDS + i, ab = (w0 + r) * FA_LDP + i;
            const bool ok = k0 + w0 + r < T && q0 + i < T;
            const float p = ok ? __expf(scale * Pt[at] - Ls[i]) : 0.0f;
            Ptb[ab] = __float2bfloat16_rn(p);
            dStb[ab] = __float2bfloat16_rn(p * (dPt[at] - Ds[i]));
        }
        __syncwarp();
        /* dV += P^T dO, dK += dS^T Q (the query tile's rows as the K dimension) */
#pragma unroll
        for (int n = 0; n < HD / 16; n++)
#pragma unroll
            for (int k = 0; k < FA_B / 16; k++) {
                frag_a a;
                frag_b_row bm;
                wmma::load_matrix_sync(a, Ptb + w0 * FA_LDP + 16 * k, FA_LDP);
                wmma::load_matrix_sync(bm, dOs + (16 * k) * LDH + 16 * n, LDH);
                wmma::mma_sync(dV[n], a, bm, dV[n]);
                wmma::load_matrix_sync(a, dStb + w0 * FA_LDP + 16 * k, FA_LDP);
                wmma::load_matrix_sync(bm, Qs + (16 * k) * LDH + 16 * n, LDH);
                wmma::mma_sync(dK[n], a, bm, dK[n]);
            }
    }
    /* dqkv += scale dK and += dV for keys < T, one 16 x 16 fragment at a time
     * through this warp's rows of the fp32 scratch Pt (compile-time fragment
     * indices keep the accumulators in registers) */
    float *stage = Pt + w0 * FA_LDS;
#pragma unroll
    for (int n = 0; n < 2 * (HD / 16); n++) {
        const int which = n / (HD / 16), nn = n % (HD / 16); /* 0: dK, 1: dV */
        wmma::store_matrix_sync(stage, which ? dV[nn] : dK[nn], FA_LDS, wmma::mem_row_major);
        __syncwarp();
        for (int e = lane; e < 256; e += 32) {
            const int r = e / 16, c = e % 16, j = k0 + w0 + r;
            if (j < T)
                dqkv[((size_t)b * T + j) * ld + (size_t)(1 + which) * D + (size_t)h * HD + 16 * nn + c] +=
                    (which ? 1.0f : scale) * stage[r * FA_LDS + c];
        }
        __syncwarp();
    }
#else
    __trap(); /* below sm_80: atas_cuda_flash_supported keeps these unused */
#endif
}

/* shared of k_flash_dq: Q, dO, K, V tiles (bf16 [64][HD]); per warp 16 x 64: S
 * and dP (fp32), dS (bf16); lse, Di of the query tile; dQ staging (fp32 [64][HD]) */
template <int HD>
static size_t dq_smem() {
    return 4 * sizeof(__nv_bfloat16) * FA_B * FA_LDH(HD) + 2 * sizeof(float) * FA_B * FA_LDS +
           sizeof(__nv_bfloat16) * FA_B * FA_LDP + 2 * sizeof(float) * FA_B + sizeof(float) * FA_B * FA_LDO(HD);
}

template <int HD>
__global__ void __launch_bounds__(FA_THREADS) k_flash_dq(float *dqkv, const float *dout, const float *qkv,
                                                         const float *lse, const float *Di, int T, int H,
                                                         float scale) {
#if FA_ARCH_OK
    extern __shared__ __align__(32) unsigned char smem[];
    constexpr int LDH = FA_LDH(HD), LDO = FA_LDO(HD);
    __nv_bfloat16 *Qs = (__nv_bfloat16 *)smem, *dOs = Qs + FA_B * LDH, *Ks = dOs + FA_B * LDH, *Vs = Ks + FA_B * LDH;
    float *Ss = (float *)(Vs + FA_B * LDH), *dPs = Ss + FA_B * FA_LDS;
    __nv_bfloat16 *dSb = (__nv_bfloat16 *)(dPs + FA_B * FA_LDS);
    float *Ls = (float *)(dSb + FA_B * FA_LDP), *Ds = Ls + FA_B, *dQs = Ds + FA_B;
    const int D = H * HD, ld = 3 * D;
    const int q0 = blockIdx.y * FA_B, bh = blockIdx.x, b = bh / H, h = bh % H;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, w0 = 16 * warp;
    const float *base = qkv + (size_t)b * T * ld + (size_t)h * HD;

    load_tile<HD>(Qs, base, q0, T, ld);
    load_tile<HD>(dOs, dout + (size_t)b * T * D + (size_t)h * HD, q0, T, D);
    for (int e = threadIdx.x; e < FA_B; e += FA_THREADS) {
        Ls[e] = q0 + e < T ? lse[(size_t)bh * T + q0 + e] : 0.0f;
        Ds[e] = q0 + e < T ? Di[(size_t)bh * T + q0 + e] : 0.0f;
    }
    frag_c dQ[HD / 16];
    zero_frags<HD>(dQ);
    for (int k0 = 0; k0 < T; k0 += FA_B) {
        __syncthreads();
        load_tile<HD>(Ks, base + D, k0, T, ld);
        load_tile<HD>(Vs, base + 2 * D, k0, T, ld);
        __syncthreads();
        /* S = Q K^T, dP = dO V^T (the warp's 16 rows) */
        for (int n = 0; n < FA_B / 16; n++) {
            frag_c s, dp;
            wmma::fill_fragment(s, 0.0f);
            wmma::fill_fragment(dp, 0.0f);
#pragma unroll
            for (int k = 0; k < HD / 16; k++) {
                frag_a a;
                frag_b_col bt;
                wmma::load_matrix_sync(a, Qs + w0 * LDH + 16 * k, LDH);
                wmma::load_matrix_sync(bt, Ks + (16 * n) * LDH + 16 * k, LDH);
                wmma::mma_sync(s, a, bt, s);
                wmma::load_matrix_sync(a, dOs + w0 * LDH + 16 * k, LDH);
                wmma::load_matrix_sync(bt, Vs + (16 * n) * LDH + 16 * k, LDH);
                wmma::mma_sync(dp, a, bt, dp);
            }
            wmma::store_matrix_sync(Ss + w0 * FA_LDS + 16 * n, s, FA_LDS, wmma::mem_row_major);
            wmma::store_matrix_sync(dPs + w0 * FA_LDS + 16 * n, dp, FA_LDS, wmma::mem_row_major);
        }
        __syncwarp();
        for (int e = lane; e < 16 * FA_B; e += 32) {
            const int r = e / FA_B, j = e % FA_B, at = (w0 + r) * FA_LDS + j;
            const bool ok = q0 + w0 + r < T && k0 + j < T;
            const float p = ok ? __expf(scale * Ss[at] - Ls[w0 + r]) : 0.0f;
            dSb[(w0 + r) * FA_LDP + j] = __float2bfloat16_rn(p * (dPs[at] - Ds[w0 + r]));
        }
        __syncwarp();
        /* dQ += dS K */
#pragma unroll
        for (int n = 0; n < HD / 16; n++)
#pragma unroll
            for (int k = 0; k < FA_B / 16; k++) {
                frag_a a;
                frag_b_row bm;
                wmma::load_matrix_sync(a, dSb + w0 * FA_LDP + 16 * k, FA_LDP);
                wmma::load_matrix_sync(bm, Ks + (16 * k) * LDH + 16 * n, LDH);
                wmma::mma_sync(dQ[n], a, bm, dQ[n]);
            }
    }
#pragma unroll
    for (int n = 0; n < HD / 16; n++)
        wmma::store_matrix_sync(dQs + w0 * LDO + 16 * n, dQ[n], LDO, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 16 * HD; e += 32) {
        const int r = e / HD, c = e % HD, i = q0 + w0 + r;
        if (i < T) dqkv[((size_t)b * T + i) * ld + (size_t)h * HD + c] += scale * dQs[(w0 + r) * LDO + c];
    }
#else
    __trap(); /* below sm_80: atas_cuda_flash_supported keeps these unused */
#endif
}

/* ------------------------------------------------------------------ launch */
template <int HD> static size_t flash_smem_max() {
    const size_t a = fwd_smem<HD>(), b = dkdv_smem<HD>(), c = dq_smem<HD>();
    return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

/* bf16 tensor cores (sm_80+) and room for the kernels' shared tiles: sm_86/89 (A10, L4,
 * L40S) allow 99 KiB per block, less than hd 128 (and hd 80's dQ) needs; those shapes
 * take the cuBLAS path there instead of failing at launch */
int atas_cuda_flash_supported(const atas_backend *be, int hd) {
    /* ATAS_NO_FLASH=1: the chunked path at bf16 too, to time one against the other */
    static int off = -1;
    if (off < 0) off = getenv("ATAS_NO_FLASH") && strcmp(getenv("ATAS_NO_FLASH"), "0") != 0;
    if (off || be->precision != ATAS_PREC_BF16) return 0;
    const size_t need = hd == 64 ? flash_smem_max<64>() : hd == 80 ? flash_smem_max<80>()
                      : hd == 128 ? flash_smem_max<128>() : 0;
    const atas_cuda_ctx *c = atas_cu_ctx(be);
    return need > 0 && c->cc_major >= 8 && need <= (size_t)c->smem_optin;
}

size_t atas_cuda_flash_workspace_bytes(int B, int T, int H) {
    return sizeof(float) * ((size_t)B * H * T + 64); /* Di */
}

/* raises the kernel's dynamic shared-memory limit (> 48 KB needs opting in) */
template <typename K>
static atas_status smem_opt_in(K kernel, size_t bytes, const char *op) {
    CU_CHECK(op, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    return ATAS_OK;
}

template <int HD>
static atas_status flash_fwd(const atas_backend *be, float *out, float *lse, const float *qkv, int B, int T, int H,
                             int causal, const char *op) {
    const size_t sm = fwd_smem<HD>();
    ATAS_CHECK(smem_opt_in(k_flash_fwd<HD>, sm, op));
    const dim3 grid(B * H, (T + FA_B - 1) / FA_B); /* (b, h) on x: no 65535 limit */
    k_flash_fwd<HD><<<grid, FA_THREADS, sm, atas_cu_stream(be)>>>(out, lse, qkv, T, H, 1.0f / sqrtf((float)HD),
                                                                   causal);
    CU_LAUNCHED(op);
    return ATAS_OK;
}

template <int HD>
static atas_status flash_bwd(const atas_backend *be, float *dqkv, const float *dout, const float *qkv,
                             const float *out, const float *lse, int B, int T, int H, void *workspace) {
    float *Di = (float *)workspace;
    const float scale = 1.0f / sqrtf((float)HD);
    const long rows = (long)B * T * H;
    k_flash_di<<<atas_cu_row_blocks(rows), 32 * ATAS_CU_ROWS_PER_BLOCK, 0, atas_cu_stream(be)>>>(Di, dout, out, B, T,
                                                                                               H, HD);
    CU_LAUNCHED("attention_bwd flash Di");
    const dim3 grid(B * H, (T + FA_B - 1) / FA_B); /* (b, h) on x: no 65535 limit */
    const size_t s1 = dkdv_smem<HD>(), s2 = dq_smem<HD>();
    ATAS_CHECK(smem_opt_in(k_flash_dkdv<HD>, s1, "attention_bwd flash dK dV"));
    k_flash_dkdv<HD><<<grid, FA_THREADS, s1, atas_cu_stream(be)>>>(dqkv, dout, qkv, lse, Di, T, H, scale);
    CU_LAUNCHED("attention_bwd flash dK dV");
    ATAS_CHECK(smem_opt_in(k_flash_dq<HD>, s2, "attention_bwd flash dQ"));
    k_flash_dq<HD><<<grid, FA_THREADS, s2, atas_cu_stream(be)>>>(dqkv, dout, qkv, lse, Di, T, H, scale);
    CU_LAUNCHED("attention_bwd flash dQ");
    return ATAS_OK;
}

atas_status atas_cuda_flash_fwd(const atas_backend *be, float *out, float *lse, const float *qkv, int B, int T, int H,
                                int hd, int causal) {
    const char *op = causal ? "attention_causal_fwd flash" : "attention_fwd flash";
    switch (hd) {
    case 64: return flash_fwd<64>(be, out, lse, qkv, B, T, H, causal, op);
    case 80: return flash_fwd<80>(be, out, lse, qkv, B, T, H, causal, op);
    case 128: return flash_fwd<128>(be, out, lse, qkv, B, T, H, causal, op);
    default: return ATAS_ERR(ATAS_ERR_INVALID, "%s: head dim %d has no fused kernel", op, hd);
    }
}

atas_status atas_cuda_flash_bwd(const atas_backend *be, float *dqkv, const float *dout, const float *qkv,
                                const float *out, const float *lse, int B, int T, int H, int hd, void *workspace) {
    switch (hd) {
    case 64: return flash_bwd<64>(be, dqkv, dout, qkv, out, lse, B, T, H, workspace);
    case 80: return flash_bwd<80>(be, dqkv, dout, qkv, out, lse, B, T, H, workspace);
    case 128: return flash_bwd<128>(be, dqkv, dout, qkv, out, lse, B, T, H, workspace);
    default: return ATAS_ERR(ATAS_ERR_INVALID, "attention_bwd flash: head dim %d has no fused kernel", hd);
    }
}
