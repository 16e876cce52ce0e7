/* The device-resident step on CUDA (ops.def objective, grad_sumsq, step_guard,
 * clip_adamw_ema): the arithmetic of backend/objective_math.h and step_math.h,
 * which the CPU twins run too. Every result stays in device memory; no kernel
 * here waits on the host.
 * This is the first, correctness-first version: the objective gives each mosaic
 * cell (and each global view) one thread that runs the host objective's loops
 * in double; spreading a cell over a block is the next (speed) issue. */
#include "backend/cuda/cuda_common.cuh"
#include "backend/objective_math.h"
#include "backend/step_math.h"

static void ctx_init(obj_ctx *c, int ncells, int kmax, int n, int m, int E, int hT, int wT, int hC, int wC,
                     atas_obj_params prm) {
    memset(c, 0, sizeof *c);
    c->ncells = obj_dense(&prm) ? ncells : 0;
    c->kmax = kmax;
    c->n = n;
    c->m = m;
    c->E = E;
    c->hT = hT;
    c->wT = wT;
    c->hC = hC;
    c->wC = wC;
    c->prm = prm;
}

__global__ void k_inv_norm(double *inv, const float *x, long rows, int E) {
    for (long r = blockIdx.x * (long)blockDim.x + threadIdx.x; r < rows; r += (long)gridDim.x * blockDim.x)
        inv[r] = obj_inv_norm(x + (size_t)r * E, E);
}
__global__ void k_cells(obj_ctx c, float *ds_dense) {
    const int ci = blockIdx.x * blockDim.x + threadIdx.x; /* any launch shape */
    if (ci < c.ncells) obj_cell(&c, ds_dense, ci);
}
__global__ void k_g2g(obj_ctx c, float *ds_glob) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < c.n) obj_g2g(&c, ds_glob, i);
}
__global__ void k_finish(obj_ctx c, double *losses) {
    if (blockIdx.x == 0 && threadIdx.x == 0) (void)obj_finish(&c, losses);
}
/* a loss that is not finite makes every gradient of the group NaN (read from device memory) */
__global__ void k_poison(float *x, size_t n, const double *losses) {
    for (int k = 0; k < 4; k++)
        if (!obj_finite(losses[k])) {
            for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
                x[i] = __int_as_float(0x7fc00000);
            return;
        }
}

extern "C" size_t atas_cuda_objective_workspace_bytes(const atas_backend *be, int ncells, int kmax, int n, int E, int hT, int wT,
                                                      atas_obj_params prm) {
    obj_ctx c;
    ctx_init(&c, ncells, kmax, n, 0, E, hT, wT, 0, 0, prm);
    return obj_layout(&c, NULL);
}

extern "C" atas_status atas_cuda_objective(const atas_backend *be, double *losses, float *ds_glob, float *ds_dense, const float *t_glob,
                                           const float *t_dense, const float *s_glob, const float *s_dense,
                                           const int *cells, int ncells, int kmax, int n, int m, int E, int hT,
                                           int wT, int hC, int wC, atas_obj_params prm, float grad_scale,
                                           void *workspace) {
    obj_ctx c;
    ctx_init(&c, ncells, kmax, n, m, E, hT, wT, hC, wC, prm);
    c.tg = t_glob;
    c.td = t_dense;
    c.sg = s_glob;
    c.sd = s_dense;
    c.cells = cells;
    c.a_g2l = c.ncells ? (double)grad_scale * prm.w_g2l / c.ncells : 0;
    c.a_l2l = c.ncells ? (double)grad_scale * prm.w_l2l / c.ncells : 0;
    c.a_g2g = (double)grad_scale * prm.w_g2g / n;
    obj_layout(&c, (char *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63));
    const int T = 64;
    if (t_glob) {
        k_inv_norm<<<(n + T - 1) / T, T, 0, atas_cu_stream(be)>>>(c.tg_inv, t_glob, n, E);
        CU_LAUNCHED("objective");
    }
    if (prm.w_l2l > 0) {
        const long rows = (long)n * hT * wT;
        k_inv_norm<<<atas_cu_blocks(rows, T), T, 0, atas_cu_stream(be)>>>(c.td_inv, t_dense, rows, E);
        CU_LAUNCHED("objective");
    }
    const size_t nd = ds_dense ? (size_t)m * hC * wC * E : 0, ng = ds_glob ? (size_t)n * E : 0;
    if (obj_dense(&prm)) {
        /* one cell per block (a handful to a few hundred per group): each serial cell gets
         * an SM's load/store units to itself instead of sharing one block's */
        k_cells<<<c.ncells, 1, 0, atas_cu_stream(be)>>>(c, ds_dense);
        CU_LAUNCHED("objective");
    } else if (nd) {
        CU_CHECK("objective", cudaMemsetAsync(ds_dense, 0, nd * sizeof(float), atas_cu_stream(be)));
    }
    if (prm.w_g2g > 0) {
        k_g2g<<<n, 1, 0, atas_cu_stream(be)>>>(c, ds_glob);
        CU_LAUNCHED("objective");
    } else if (ng) {
        CU_CHECK("objective", cudaMemsetAsync(ds_glob, 0, ng * sizeof(float), atas_cu_stream(be)));
    }
    k_finish<<<1, 1, 0, atas_cu_stream(be)>>>(c, losses);
    CU_LAUNCHED("objective");
    if (nd) {
        k_poison<<<atas_cu_blocks(nd, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(ds_dense, nd, losses);
        CU_LAUNCHED("objective");
    }
    if (ng) {
        k_poison<<<atas_cu_blocks(ng, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(ds_glob, ng, losses);
        CU_LAUNCHED("objective");
    }
    return ATAS_OK;
}

/* ---- gradient norm: one block per ATAS_GN_CHUNK elements (a fixed tree inside),
 * then one thread adds the partials in chunk order: deterministic */
#define GN_THREADS 256
static size_t gn_chunks(size_t n) { return n ? (n + ATAS_GN_CHUNK - 1) / ATAS_GN_CHUNK : 1; }

__global__ void k_gn_chunks(double *part, const float *x, size_t n) {
    __shared__ double sh[GN_THREADS / 32];
    const size_t a = (size_t)blockIdx.x * ATAS_GN_CHUNK;
    const size_t b = a + ATAS_GN_CHUNK < n ? a + ATAS_GN_CHUNK : n;
    double s = 0.0;
    for (size_t i = a + threadIdx.x; i < b; i += GN_THREADS) {
        const double v = x[i];
        s += v * v;
    }
    s = atas_warp_sum_d(s);
    if ((threadIdx.x & 31) == 0) sh[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int w = 0; w < GN_THREADS / 32; w++) t += sh[w];
        part[blockIdx.x] = t;
    }
}
/* the chunk partials in one block: thread t adds chunks t, t + 256, ... in order, then a
 * fixed tree (a ViT-L has ~4600 chunks: one thread alone would take ~0.5 ms) */
#define GN_SUM_THREADS 256
__global__ void k_gn_sum(double *out, const double *part, size_t nc) {
    __shared__ double sh[GN_SUM_THREADS];
    double s = 0.0;
    for (size_t c = threadIdx.x; c < nc; c += GN_SUM_THREADS) s += part[c];
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int k = GN_SUM_THREADS / 2; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = sh[0];
}

extern "C" size_t atas_cuda_grad_sumsq_workspace_bytes(const atas_backend *be, size_t n) { return sizeof(double) * gn_chunks(n); }

extern "C" atas_status atas_cuda_grad_sumsq(const atas_backend *be, double *out, const float *x, size_t n, void *workspace) {
    double *part = (double *)workspace;
    const size_t nc = gn_chunks(n);
    if (n == 0) {
        CU_CHECK("grad_sumsq", cudaMemsetAsync(out, 0, sizeof(double), atas_cu_stream(be)));
        return ATAS_OK;
    }
    k_gn_chunks<<<(unsigned)nc, GN_THREADS, 0, atas_cu_stream(be)>>>(part, x, n);
    CU_LAUNCHED("grad_sumsq");
    k_gn_sum<<<1, GN_SUM_THREADS, 0, atas_cu_stream(be)>>>(out, part, nc);
    CU_LAUNCHED("grad_sumsq");
    return ATAS_OK;
}

__global__ void k_step_guard(double *state, const double *sumsq, const double *losses, int nl, double clip) {
    if (blockIdx.x == 0 && threadIdx.x == 0) atas_step_guard_math(state, sumsq[0], losses, nl, clip);
}

extern "C" atas_status atas_cuda_step_guard(const atas_backend *be, double *state, const double *sumsq, const double *losses, int nl,
                                            double clip) {
    k_step_guard<<<1, 1, 0, atas_cu_stream(be)>>>(state, sumsq, losses, nl, clip);
    CU_LAUNCHED("step_guard");
    return ATAS_OK;
}

/* one thread per element; its segment by binary search over seg_end */
__global__ void k_clip_adamw_ema(float *p, const float *g, float *m, float *v, float *teacher, size_t n,
                                 const size_t *seg_end, const int *seg_kind, int nseg, const double *state,
                                 atas_adamw_consts kd, atas_adamw_consts k0, float mom, float a) {
    if (state[ATAS_STEP_SKIP] != 0) return;
    const float sc = (float)state[ATAS_STEP_CLIP_SCALE];
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int lo = 0, hi = nseg - 1;
        while (lo < hi) {
            const int mid = (lo + hi) / 2;
            if (seg_end[mid] > i) hi = mid;
            else lo = mid + 1;
        }
        const int kind = seg_kind[lo];
        if (kind == ATAS_SEG_FROZEN) continue;
        atas_clip_adamw_ema_math(p + i, g[i], sc, m + i, v + i, teacher + i, kind == ATAS_SEG_DECAY ? kd : k0,
                                 mom, a);
    }
}

extern "C" atas_status atas_cuda_clip_adamw_ema(const atas_backend *be, float *p, const float *g, float *m, float *v, float *teacher,
                                                size_t n, const size_t *seg_end, const int *seg_kind, int nseg,
                                                const double *state, float lr, float beta1, float beta2,
                                                float eps, float wd, int t, float mom) {
    const atas_adamw_consts kd = atas_adamw_prepare(lr, beta1, beta2, eps, wd, t);
    const atas_adamw_consts k0 = atas_adamw_prepare(lr, beta1, beta2, eps, 0.0f, t);
    k_clip_adamw_ema<<<atas_cu_blocks(n, ATAS_CU_THREADS), ATAS_CU_THREADS, 0, atas_cu_stream(be)>>>(
        p, g, m, v, teacher, n, seg_end, seg_kind, nseg, state, kd, k0, mom, 1.0f - mom);
    CU_LAUNCHED("clip_adamw_ema");
    return ATAS_OK;
}
