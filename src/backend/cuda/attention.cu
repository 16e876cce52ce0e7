/* Multi-head self-attention on cuBLAS + two row kernels, chunked over query
 * rows so that scratch stays bounded (no T x T matrix per head outlives a
 * chunk). For one image b and a chunk of m query rows, every GEMM is one
 * cublasSgemmStridedBatched over the H heads: inside the packed qkv [T, 3D]
 * head h starts at column h*hd, so the batch stride is hd and the leading
 * dimension 3D (out and dout: stride hd, ld D).
 *   fwd: S = scale Q K^T -> softmax rows (lse) -> O = P V
 *   bwd: P = exp(scale Q K^T - lse); Di = rowsum(dO * O); dV += P^T dO;
 *        dP = dO V^T; dS = P (dP - Di); dQ += scale dS K; dK += scale dS^T Q
 * Chunks of one image run in order on one stream, so the beta = 1 updates of
 * dK and dV accumulate without races. Workspace: P and dS for H x m x T plus
 * Di for H x m, with m chosen so that it stays under ATTN_WS_BUDGET.
 * Precision (be->precision): fp32 runs exactly this; tf32 runs this with the
 * GEMMs on TF32 tensor cores (atas_cu_sgemm_sb); bf16 runs the fused kernels of
 * flash_attn.cu for head dims 64/80/128 and this with bf16 GEMMs otherwise. */
#include <math.h>

#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/flash_attn.h"

/* bytes of attention scratch at most (one query row is always allowed) */
#define ATTN_WS_BUDGET ((size_t)256 << 20)

static const float k_one = 1.0f, k_zero = 0.0f;

static size_t align64(size_t floats) { return (floats + 63) & ~(size_t)63; }

/* query rows per chunk: all of T when it fits the budget */
static int chunk_rows(int T, int H) {
    const size_t per_row = sizeof(float) * (size_t)H * (2 * (size_t)T + 1);
    size_t m = ATTN_WS_BUDGET / per_row;
    if (m < 1) m = 1;
    return m < (size_t)T ? (int)m : T;
}

extern "C" size_t atas_cuda_attention_workspace_bytes(const atas_backend *be, int B, int T, int H, int hd) {
    if (T <= 0 || H <= 0) return 0;
    if (atas_cuda_flash_supported(be, hd)) return atas_cuda_flash_workspace_bytes(B, T, H);
    const size_t m = (size_t)chunk_rows(T, H);
    const size_t pt = align64((size_t)H * m * T);
    return sizeof(float) * (2 * pt + align64((size_t)H * m));
}

/* one warp per row of S [rows, T]: softmax in place; lse of row r = h*m + i
 * goes to lse[h*T + i] (lse already points at this image and chunk).
 * q0 >= 0 makes it causal: row i is query q0 + i and sees keys j <= q0 + i only
 * (the others get probability 0); q0 < 0 sees every key. */
__global__ void k_softmax_rows(float *S, float *lse, int rows, int m, int T, int q0) {
    const int lane = threadIdx.x & 31;
    const long r = (long)blockIdx.x * ATAS_CU_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (r >= rows) return;
    float *s = S + r * T;
    const int nk = q0 >= 0 ? q0 + (int)(r % m) + 1 : T;
    float mx = -INFINITY;
    for (int j = lane; j < nk; j += 32) mx = fmaxf(mx, s[j]);
    mx = atas_warp_max(mx);
    float sum = 0.0f;
    for (int j = lane; j < T; j += 32) {
        const float e = j < nk ? expf(s[j] - mx) : 0.0f;
        s[j] = e;
        sum += e;
    }
    sum = atas_warp_sum(sum);
    const float inv = 1.0f / sum;
    for (int j = lane; j < T; j += 32) s[j] *= inv;
    if (lse && lane == 0) {
        const int h = (int)(r / m), i = (int)(r % m);
        lse[(size_t)h * T + i] = mx + logf(sum);
    }
}

/* backward, per row r = h*m + i: P = exp(S - lse) in place, Di = <dO, O> of that row */
__global__ void k_probs_di(float *P, float *Di, const float *lse, const float *dO, const float *O,
                           int rows, int m, int T, int D, int hd) {
    const int lane = threadIdx.x & 31;
    const long r = (long)blockIdx.x * ATAS_CU_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (r >= rows) return;
    const int h = (int)(r / m), i = (int)(r % m);
    float *p = P + r * T;
    const float l = lse[(size_t)h * T + i];
    for (int j = lane; j < T; j += 32) p[j] = expf(p[j] - l);
    const float *dor = dO + (size_t)i * D + (size_t)h * hd, *orow = O + (size_t)i * D + (size_t)h * hd;
    float s = 0.0f;
    for (int c = lane; c < hd; c += 32) s += dor[c] * orow[c];
    s = atas_warp_sum(s);
    if (lane == 0) Di[r] = s;
}

/* dS = P (dP - Di), in place over dP */
__global__ void k_dscores(float *dS, const float *P, const float *Di, int rows, int T) {
    const int lane = threadIdx.x & 31;
    const long r = (long)blockIdx.x * ATAS_CU_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (r >= rows) return;
    float *d = dS + r * T;
    const float *p = P + r * T;
    const float di = Di[r];
    for (int j = lane; j < T; j += 32) d[j] = p[j] * (d[j] - di);
}

/* S[h] (m x T, row-major) = alpha Q[h] (rows i0.., ld 3D) K[h]^T, for every head h */
static atas_status scores(const atas_backend *be, const char *op, float *S, const float *Q, const float *K, int m, int T,
                          int H, int hd, int ld, float alpha) {
    /* column-major: S^T[T,m] = (K^T)^T [T,hd] x Q^T [hd,m] */
    CB_CHECK(op, atas_cu_sgemm_sb(be, CUBLAS_OP_T, CUBLAS_OP_N, T, m, hd,
                                           &alpha, K, ld, hd, Q, ld, hd, &k_zero, S, T,
                                           (long long)m * T, H));
    return ATAS_OK;
}

static atas_status attention_fwd(const atas_backend *be, const char *op, float *out, float *lse, const float *qkv, int B,
                                 int T, int H, int hd, void *workspace, int causal) {
    if (atas_cuda_flash_supported(be, hd)) return atas_cuda_flash_fwd(be, out, lse, qkv, B, T, H, hd, causal);
    const int D = H * hd, ld = 3 * D, mc = chunk_rows(T, H);
    const float scale = 1.0f / sqrtf((float)hd);
    float *P = (float *)workspace;
    for (int b = 0; b < B; b++) {
        const float *base = qkv + (size_t)b * T * ld;
        for (int i0 = 0; i0 < T; i0 += mc) {
            const int m = mc < T - i0 ? mc : T - i0, rows = H * m;
            ATAS_CHECK(scores(be, "attention_fwd QK^T", P, base + (size_t)i0 * ld, base + D, m, T, H, hd,
                         ld, scale));
            k_softmax_rows<<<atas_cu_row_blocks(rows), 32 * ATAS_CU_ROWS_PER_BLOCK, 0, atas_cu_stream(be)>>>(
                P, lse ? lse + (size_t)b * H * T + i0 : NULL, rows, m, T, causal ? i0 : -1);
            CU_LAUNCHED("attention_fwd softmax");
            /* O^T[hd,m] = V^T[hd,T] P^T[T,m], written into out (ld D, head stride hd) */
            CB_CHECK("attention_fwd PV",
                     atas_cu_sgemm_sb(be, CUBLAS_OP_N, CUBLAS_OP_N, hd, m, T,
                                               &k_one, base + 2 * D, ld, hd, P, T,
                                               (long long)m * T, &k_zero,
                                               out + ((size_t)b * T + i0) * D, D, hd, H));
        }
    }
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_attention_fwd(const atas_backend *be, float *out, float *lse, const float *qkv, int B,
                                               int T, int H, int hd, void *workspace) {
    ATAS_CHECK(attention_fwd(be, "attention_fwd", out, lse, qkv, B, T, H, hd, workspace, 0));
    return ATAS_OK;
}

/* CLIP's text tower: the full scores are computed and the masked ones get
 * probability 0 (T = 77 there, so skipping the upper triangle saves little). */
extern "C" atas_status atas_cuda_attention_causal_fwd(const atas_backend *be, float *out, float *lse, const float *qkv,
                                                      int B, int T, int H, int hd,
                                                      void *workspace) {
    ATAS_CHECK(attention_fwd(be, "attention_causal_fwd", out, lse, qkv, B, T, H, hd, workspace, 1));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_attention_bwd(const atas_backend *be, float *dqkv, const float *dout, const float *qkv,
                                               const float *out, const float *lse, int B, int T,
                                               int H, int hd, void *workspace) {
    if (!dqkv) return ATAS_OK;
    if (atas_cuda_flash_supported(be, hd))
        return atas_cuda_flash_bwd(be, dqkv, dout, qkv, out, lse, B, T, H, hd, workspace);
    const int D = H * hd, ld = 3 * D, mc = chunk_rows(T, H);
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t pt = align64((size_t)H * mc * T);
    float *P = (float *)workspace, *dS = P + pt, *Di = dS + pt;
    for (int b = 0; b < B; b++) {
        const float *base = qkv + (size_t)b * T * ld, *K = base + D, *V = base + 2 * D;
        float *dbase = dqkv + (size_t)b * T * ld, *dK = dbase + D, *dV = dbase + 2 * D;
        for (int i0 = 0; i0 < T; i0 += mc) {
            const int m = mc < T - i0 ? mc : T - i0, rows = H * m;
            const long long sP = (long long)m * T;
            const float *Q = base + (size_t)i0 * ld;
            const float *dO = dout + ((size_t)b * T + i0) * D, *O = out + ((size_t)b * T + i0) * D;
            ATAS_CHECK(scores(be, "attention_bwd QK^T", P, Q, K, m, T, H, hd, ld, scale));
            k_probs_di<<<atas_cu_row_blocks(rows), 32 * ATAS_CU_ROWS_PER_BLOCK, 0, atas_cu_stream(be)>>>(
                P, Di, lse + (size_t)b * H * T + i0, dO, O, rows, m, T, D, hd);
            CU_LAUNCHED("attention_bwd probabilities");
            /* dV^T[hd,T] += dO^T[hd,m] P[m,T] */
            CB_CHECK("attention_bwd dV",
                     atas_cu_sgemm_sb(be, CUBLAS_OP_N, CUBLAS_OP_T, hd, T, m,
                                               &k_one, dO, D, hd, P, T, sP, &k_one, dV, ld, hd,
                                               H));
            /* dP^T[T,m] = V[T,hd] dO^T[hd,m]  (V buffer is V^T col-major: op T) */
            CB_CHECK("attention_bwd dP",
                     atas_cu_sgemm_sb(be, CUBLAS_OP_T, CUBLAS_OP_N, T, m, hd,
                                               &k_one, V, ld, hd, dO, D, hd, &k_zero, dS, T, sP,
                                               H));
            k_dscores<<<atas_cu_row_blocks(rows), 32 * ATAS_CU_ROWS_PER_BLOCK, 0, atas_cu_stream(be)>>>(dS, P, Di, rows,
                                                                                 T);
            CU_LAUNCHED("attention_bwd dS");
            /* dQ^T[hd,m] += scale K^T[hd,T] dS^T[T,m] */
            CB_CHECK("attention_bwd dQ",
                     atas_cu_sgemm_sb(be, CUBLAS_OP_N, CUBLAS_OP_N, hd, m, T,
                                               &scale, K, ld, hd, dS, T, sP, &k_one,
                                               dbase + (size_t)i0 * ld, ld, hd, H));
            /* dK^T[hd,T] += scale Q^T[hd,m] dS[m,T] */
            CB_CHECK("attention_bwd dK",
                     atas_cu_sgemm_sb(be, CUBLAS_OP_N, CUBLAS_OP_T, hd, T, m,
                                               &scale, Q, ld, hd, dS, T, sP, &k_one, dK, ld, hd,
                                               H));
        }
    }
    return ATAS_OK;
}
