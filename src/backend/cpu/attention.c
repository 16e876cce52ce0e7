/* Multi-head self-attention, flash-style on the CPU: per (batch, head) and per
 * block of query rows, the scores of that block against all keys live in a
 * per-thread scratch of QBLK x T floats; no T x T matrix is ever stored. All
 * products are OpenBLAS sgemm calls that read Q, K, V straight out of the packed
 * qkv rows (leading dimension 3D). Inside the OpenMP region the OpenMP build of
 * OpenBLAS runs each sgemm on the calling thread.
 * At tf32/bf16 precision (docs/backend.md "Precision") every GEMM input is
 * rounded as the fused GPU kernel rounds its tiles: Q, K, V and dO once into a
 * copy at the end of the workspace; the probabilities P (fp32 softmax) before
 * P V and P^T dO; dS before dS K and dS^T Q. Softmax, lse and Di stay fp32. */
#include <math.h>
#include <omp.h>
#include <cblas.h>

#include "backend/cpu/cpu_internal.h"

#define QBLK 64

/* floats of scratch one thread needs: P and dP/dS blocks, plus row sums; when
 * rounding, a third block for the rounded copy of P (the backward's dS needs
 * the fp32 P) */
static size_t per_thread_floats(const atas_backend *be, int T) {
    size_t f = (atas_cpu_rounds(be) ? 3 : 2) * (size_t)QBLK * T + QBLK;
    return (f + 15) & ~(size_t)15; /* keep every thread's slice 64-byte aligned */
}

size_t atas_cpu_attention_workspace_bytes(const atas_backend *be, int B, int T, int H, int hd) {
    if (T <= 0) return 0;
    size_t f = per_thread_floats(be, T) * (size_t)omp_get_max_threads();
    /* rounded copies of qkv [B,T,3D] and dout [B,T,D] after the thread slices */
    if (atas_cpu_rounds(be)) f += 4 * (size_t)B * T * H * hd;
    return sizeof(float) * f;
}

/* where the rounded qkv copy starts in the workspace (after the thread slices);
 * the rounded dout copy follows it */
static float *rounded_copy(const atas_backend *be, void *workspace, int T) {
    return (float *)workspace + per_thread_floats(be, T) * (size_t)omp_get_max_threads();
}

/* P[m,T] <- softmax rows of S (in place); lse[i] = max + log(sum) of row i */
ATAS_CPU_HOT static void softmax_rows(float *S, int m, int T, float *lse) {
    for (int i = 0; i < m; i++) {
        float *r = S + (size_t)i * T;
        float mx = r[0];
#pragma omp simd reduction(max : mx)
        for (int j = 1; j < T; j++) mx = r[j] > mx ? r[j] : mx;
        for (int j = 0; j < T; j++) r[j] = atas_fast_expf(r[j] - mx);
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < T; j++) sum += r[j];
        const float inv = 1.0f / sum;
        for (int j = 0; j < T; j++) r[j] *= inv;
        if (lse) lse[i] = mx + logf(sum);
    }
}

/* causal: query i sees keys j <= i only (CLIP's text tower); a block of rows
 * [i0, i0+m) then needs keys [0, i0+m) and masks the upper triangle inside. */
static atas_status attention_fwd(const atas_backend *be, float *out, float *lse, const float *qkv, int B,
                                 int T, int H, int hd, void *workspace, int causal) {
    const int D = H * hd, ld = 3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    const int nq = (T + QBLK - 1) / QBLK;
    const long ntask = (long)B * H * nq;
    float *ws = (float *)workspace;
    const size_t ptf = per_thread_floats(be, T);
    const int maxthr = omp_get_max_threads();
    const int rounds = atas_cpu_rounds(be);
    if (rounds) {
        float *qr = rounded_copy(be, workspace, T);
        atas_round_precision(qr, qkv, (size_t)B * T * ld, be->precision);
        qkv = qr;
    }
    /* the forward has no reductions across query blocks: one task per block */
#pragma omp parallel for schedule(dynamic, 1) num_threads(maxthr) if (ntask > 1)
    for (long task = 0; task < ntask; task++) {
        const int blk = (int)(task % nq), h = (int)(task / nq % H), b = (int)(task / nq / H);
        const int i0 = blk * QBLK, m = ATAS_MIN(QBLK, T - i0);
        const int nk = causal ? i0 + m : T; /* keys this block can see */
        float *S = ws + ptf * (size_t)omp_get_thread_num();
        const float *base = qkv + (size_t)b * T * ld + (size_t)h * hd;
        const float *Q = base + (size_t)i0 * ld, *K = base + D, *V = base + 2 * D;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nk, hd, scale, Q, ld, K, ld, 0.0f,
                    S, nk);
        float *L = lse ? lse + ((size_t)b * H + h) * T + i0 : NULL;
        if (!causal) {
            softmax_rows(S, m, nk, L);
        } else {
            /* row i sees i0 + i + 1 keys; the rest of its row is zero probability */
            for (int i = 0; i < m; i++) {
                const int len = i0 + i + 1;
                float *r = S + (size_t)i * nk;
                softmax_rows(r, 1, len, L ? L + i : NULL);
                for (int j = len; j < nk; j++) r[j] = 0.0f;
            }
        }
        if (rounds) atas_round_precision(S, S, (size_t)m * nk, be->precision); /* P, an input of P V */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, hd, nk, 1.0f, S, nk, V, ld, 0.0f,
                    out + ((size_t)b * T + i0) * D + (size_t)h * hd, D);
    }
    return ATAS_OK;
}

atas_status atas_cpu_attention_fwd(const atas_backend *be, float *out, float *lse, const float *qkv, int B, int T, int H,
                                   int hd, void *workspace) {
    ATAS_CHECK(attention_fwd(be, out, lse, qkv, B, T, H, hd, workspace, 0));
    return ATAS_OK;
}

atas_status atas_cpu_attention_causal_fwd(const atas_backend *be, float *out, float *lse, const float *qkv, int B, int T,
                                          int H, int hd, void *workspace) {
    ATAS_CHECK(attention_fwd(be, out, lse, qkv, B, T, H, hd, workspace, 1));
    return ATAS_OK;
}

/* backward, rows i < m of a query block: P = exp(S - lse) in place, and
 * Di = rowsum(dO * O) = rowsum(P * dP) */
ATAS_CPU_HOT static void probs_rows(float *P, float *Di, const float *L, const float *dO,
                                    const float *O, int m, int T, int D, int hd) {
    for (int i = 0; i < m; i++) {
        float *r = P + (size_t)i * T;
        const float l = L[i];
        for (int j = 0; j < T; j++) r[j] = atas_fast_expf(r[j] - l);
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < hd; c++) s += dO[(size_t)i * D + c] * O[(size_t)i * D + c];
        Di[i] = s;
    }
}

/* dS = P (dP - Di), in place over dP */
ATAS_CPU_HOT static void dscores_rows(float *dS, const float *P, const float *Di, int m, int T) {
    for (int i = 0; i < m; i++) {
        float *d = dS + (size_t)i * T;
        const float *p = P + (size_t)i * T;
        const float di = Di[i];
        for (int j = 0; j < T; j++) d[j] = p[j] * (d[j] - di);
    }
}

atas_status atas_cpu_attention_bwd(const atas_backend *be, float *dqkv, const float *dout, const float *qkv,
                                   const float *out, const float *lse, int B, int T, int H, int hd,
                                   void *workspace) {
    if (!dqkv) return ATAS_OK;
    const int D = H * hd, ld = 3 * D;
    const float scale = 1.0f / sqrtf((float)hd);
    const long ntask = (long)B * H;
    float *ws = (float *)workspace;
    const size_t ptf = per_thread_floats(be, T);
    const int maxthr = omp_get_max_threads();
    const int rounds = atas_cpu_rounds(be);
    const float *qkv_m = qkv, *dout_m = dout; /* the GEMMs' inputs: rounded copies when rounding */
    if (rounds) {
        float *qr = rounded_copy(be, workspace, T), *dr = qr + (size_t)B * T * ld;
        atas_round_precision(qr, qkv, (size_t)B * T * ld, be->precision);
        atas_round_precision(dr, dout, (size_t)B * T * D, be->precision);
        qkv_m = qr;
        dout_m = dr;
    }
    /* dK and dV gather over all query blocks: one thread owns a whole (b, h) */
#pragma omp parallel for schedule(dynamic, 1) num_threads(maxthr) if (ntask > 1)
    for (long task = 0; task < ntask; task++) {
        const int h = (int)(task % H), b = (int)(task / H);
        float *P = ws + ptf * (size_t)omp_get_thread_num();
        float *dS = P + (size_t)QBLK * T;
        float *Di = dS + (size_t)QBLK * T;
        float *Pr = rounds ? Di + QBLK : P; /* P as the GEMM input */
        const size_t boff = (size_t)b * T * ld + (size_t)h * hd;
        const float *Qa = qkv_m + boff, *K = Qa + D, *V = Qa + 2 * D;
        float *dQa = dqkv + boff, *dK = dQa + D, *dV = dQa + 2 * D;
        const float *L = lse + ((size_t)b * H + h) * T;
        for (int i0 = 0; i0 < T; i0 += QBLK) {
            const int m = ATAS_MIN(QBLK, T - i0);
            const float *Q = Qa + (size_t)i0 * ld;
            const float *dO = dout + ((size_t)b * T + i0) * D + (size_t)h * hd;
            const float *dOm = dout_m + ((size_t)b * T + i0) * D + (size_t)h * hd;
            const float *O = out + ((size_t)b * T + i0) * D + (size_t)h * hd;
            /* P = exp(scale Q K^T - lse) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, T, hd, scale, Q, ld, K, ld,
                        0.0f, P, T);
            probs_rows(P, Di, L + i0, dO, O, m, T, D, hd);
            if (rounds) atas_round_precision(Pr, P, (size_t)m * T, be->precision);
            /* dV += P^T dO */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, m, 1.0f, Pr, T, dOm, D, 1.0f,
                        dV, ld);
            /* dP = dO V^T, then dS = P (dP - Di) in place */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, T, hd, 1.0f, dOm, D, V, ld, 0.0f,
                        dS, T);
            dscores_rows(dS, P, Di, m, T);
            if (rounds) atas_round_precision(dS, dS, (size_t)m * T, be->precision);
            /* dQ += scale dS K ; dK += scale dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, hd, T, scale, dS, T, K, ld,
                        1.0f, dQa + (size_t)i0 * ld, ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hd, m, scale, dS, T, Q, ld, 1.0f,
                        dK, ld);
        }
    }
    return ATAS_OK;
}
