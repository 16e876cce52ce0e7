/* The one list of op test cases (include/backend/atas/op_cases.h): the families (how an
 * op pair lays out its tensors and runs) and the cases of every mode. The
 * tolerances are the project's contract (docs/backend.md): against the CPU
 * backend GEMM-based ops 1e-2 at precision fp32 (a backend run at tf32/bf16 is
 * held to that precision's bound instead, test_backend_parity.c), fp32 elementwise and
 * normalisation 1e-4, data movement exact; against PyTorch in float64 1e-5 for
 * outputs and 2e-5 for gradients; finite differences 2e-3 for ops linear in their
 * inputs and 1e-2 for the others. */
#include <string.h>

#include "atas/op_cases.h"

#define B_GEMM 1e-2
#define B_FP32 1e-4
#define B_EXACT 0.0
/* an output stored as bf16, widened for the comparison: the fp32 values before the
 * rounding differ by ~1e-6 between backends, which flips an element's rounding by at most
 * one bf16 ulp, 2^-7 of the largest element at most */
#define B_BF16_OUT 7.8125e-3

/* a tensor row: name, role, floats, fill scale and offset, parity bound, grad-of */
#define TN(nm, role, n, sc, off, tol, of) \
    (opc_tensor){(nm), (role), (size_t)(n), (sc), (off), (tol), (of)}
#define IN(nm, n, sc, off) TN(nm, OPC_IN, n, sc, off, 0, -1)
#define UP(nm, n) TN(nm, OPC_UP, n, 1, 0, 0, -1)
#define OUT(nm, n, tol) TN(nm, OPC_OUT, n, 0, 0, tol, -1)
#define SAVED(nm, n, tol) TN(nm, OPC_SAVED, n, 0, 0, tol, -1)
#define GRAD(nm, n, tol, of) TN(nm, OPC_DGRAD, n, 1, 0, tol, of)
#define INOUT(nm, n, sc, tol) TN(nm, OPC_INOUT, n, sc, 0, tol, -1)

/* run one registry op, adding its registry cost when asked */
#define RUN(op, ...)                                                                    \
    do {                                                                                \
        if (cost) {                                                                     \
            atas_op_cost c_ = atas_op_cost_##op(be, __VA_ARGS__);                           \
            cost->flops += c_.flops;                                                    \
            cost->bytes += c_.bytes;                                                    \
        }                                                                               \
        ATAS_CHECK(be->op(be, __VA_ARGS__));                                                \
    } while (0)
#define FAMILY_FN(fn)                                                                   \
    static atas_status fn(const atas_backend *be, const opc_case *c, float **t, void *ws, \
                          atas_op_cost *cost)

/* ---------------------------------------------------------------- linear */
static int linear_t(const opc_case *c, opc_tensor *t) {
    const size_t M = c->p[0], K = c->p[1], N = c->p[2];
    t[0] = IN("x", M * K, 1, 0);
    t[1] = IN("W", N * K, 0.1f, 0);
    t[2] = IN("b", N, 1, 0);
    t[3] = OUT("y", M * N, B_GEMM);
    t[4] = UP("dy", M * N);
    t[5] = GRAD("dx", M * K, B_GEMM, 0);
    t[6] = GRAD("dW", N * K, B_GEMM, 1);
    t[7] = GRAD("db", N, B_FP32, 2);
    return 8;
}
FAMILY_FN(linear_f) {
    RUN(linear_fwd, t[3], t[0], t[1], t[2], c->p[0], c->p[1], c->p[2]);
    return ATAS_OK;
}
FAMILY_FN(linear_b) {
    RUN(linear_bwd, t[5], t[6], t[7], t[4], t[0], t[1], c->p[0], c->p[1], c->p[2]);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- matmul ([K,N] weights) */
static int matmul_t(const opc_case *c, opc_tensor *t) {
    const size_t M = c->p[0], K = c->p[1], N = c->p[2];
    t[0] = IN("x", M * K, 1, 0);
    t[1] = IN("W", K * N, 0.1f, 0);
    t[2] = OUT("y", M * N, B_GEMM);
    t[3] = UP("dy", M * N);
    t[4] = GRAD("dx", M * K, B_GEMM, 0);
    t[5] = GRAD("dW", K * N, B_GEMM, 1);
    return 6;
}
FAMILY_FN(matmul_f) {
    RUN(matmul_fwd, t[2], t[0], t[1], c->p[0], c->p[1], c->p[2]);
    return ATAS_OK;
}
FAMILY_FN(matmul_b) {
    RUN(matmul_bwd, t[4], t[5], t[3], t[0], t[1], c->p[0], c->p[1], c->p[2]);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- layernorm */
static int layernorm_t(const opc_case *c, opc_tensor *t) {
    const size_t M = c->p[0], C = c->p[1];
    t[0] = IN("x", M * C, 2, 3);
    t[1] = IN("w", C, 0.5f, 1);
    t[2] = IN("b", C, 1, 0);
    t[3] = OUT("y", M * C, B_FP32);
    t[4] = SAVED("mean", M, B_FP32);
    t[5] = SAVED("rstd", M, B_FP32);
    t[6] = UP("dy", M * C);
    t[7] = GRAD("dx", M * C, B_FP32, 0);
    t[8] = GRAD("dw", C, B_FP32, 1);
    t[9] = GRAD("db", C, B_FP32, 2);
    return 10;
}
FAMILY_FN(layernorm_f) {
    RUN(layernorm_fwd, t[3], t[4], t[5], t[0], t[1], t[2], c->p[0], c->p[1], 1e-5f);
    return ATAS_OK;
}
FAMILY_FN(layernorm_b) {
    RUN(layernorm_bwd, t[7], t[8], t[9], t[6], t[0], t[1], t[4], t[5], c->p[0], c->p[1]);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- add + layernorm
 * y (the first output, the one the upstream gradient dy is of) = LN(s), s = a + r.
 * The backward is the model's: layernorm_bwd on s into both inputs (the add passes
 * the gradient through), so finite differences check the fused forward's y. */
static int add_layernorm_t(const opc_case *c, opc_tensor *t) {
    const size_t M = c->p[0], C = c->p[1];
    t[0] = IN("a", M * C, 2, 3);
    t[1] = IN("r", M * C, 1, -1);
    t[2] = IN("w", C, 0.5f, 1);
    t[3] = IN("b", C, 1, 0);
    t[4] = OUT("y", M * C, B_FP32);
    t[5] = OUT("s", M * C, B_FP32);
    t[6] = SAVED("mean", M, B_FP32);
    t[7] = SAVED("rstd", M, B_FP32);
    t[8] = UP("dy", M * C);
    t[9] = GRAD("da", M * C, B_FP32, 0);
    t[10] = GRAD("dr", M * C, B_FP32, 1);
    t[11] = GRAD("dw", C, B_FP32, 2);
    t[12] = GRAD("db", C, B_FP32, 3);
    return 13;
}
FAMILY_FN(add_layernorm_f) {
    RUN(add_layernorm_fwd, t[5], t[4], t[6], t[7], t[0], t[1], t[2], t[3], c->p[0], c->p[1], 1e-5f);
    return ATAS_OK;
}
FAMILY_FN(add_layernorm_b) {
    RUN(layernorm_bwd, t[9], t[11], t[12], t[8], t[5], t[2], t[6], t[7], c->p[0], c->p[1]);
    RUN(layernorm_bwd, t[10], NULL, NULL, t[8], t[5], t[2], t[6], t[7], c->p[0], c->p[1]);
    return ATAS_OK;
}
/* in place, as the models call it. mode 0 (the text tower): s into r's buffer, y into a's;
 * mode 1 (a ViT block in training): s into a's buffer (the projection's output) */
static int add_layernorm_alias_t(const opc_case *c, opc_tensor *t) {
    const size_t M = c->p[0], C = c->p[1];
    t[0] = INOUT("a", M * C, 2, B_FP32);
    t[1] = INOUT("r", M * C, 1, B_FP32);
    t[2] = IN("w", C, 0.5f, 1);
    t[3] = IN("b", C, 1, 0);
    t[4] = OUT("y", M * C, B_FP32);
    return 5;
}
FAMILY_FN(add_layernorm_alias_f) {
    if (c->p[2] == 0)
        RUN(add_layernorm_fwd, t[1], t[0], NULL, NULL, t[0], t[1], t[2], t[3], c->p[0], c->p[1], 1e-5f);
    else
        RUN(add_layernorm_fwd, t[0], t[4], NULL, NULL, t[0], t[1], t[2], t[3], c->p[0], c->p[1], 1e-5f);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- attention (B T H hd) */
static int attention_t(const opc_case *c, opc_tensor *t) {
    const size_t B = c->p[0], T = c->p[1], H = c->p[2], D = H * c->p[3];
    t[0] = IN("qkv", B * T * 3 * D, 1, 0);
    t[1] = OUT("out", B * T * D, B_GEMM);
    t[2] = SAVED("lse", B * H * T, B_GEMM);
    t[3] = UP("dout", B * T * D);
    t[4] = GRAD("dqkv", B * T * 3 * D, B_GEMM, 0);
    return 5;
}
static size_t attention_ws(const atas_backend *be, const opc_case *c) {
    return be->attention_workspace_bytes(be, c->p[0], c->p[1], c->p[2], c->p[3]);
}
FAMILY_FN(attention_f) {
    RUN(attention_fwd, t[1], t[2], t[0], c->p[0], c->p[1], c->p[2], c->p[3], ws);
    return ATAS_OK;
}
FAMILY_FN(attention_b) {
    RUN(attention_bwd, t[4], t[3], t[0], t[1], t[2], c->p[0], c->p[1], c->p[2], c->p[3], ws);
    return ATAS_OK;
}
/* the text tower's causal forward (no backward) */
static int attention_causal_t(const opc_case *c, opc_tensor *t) {
    attention_t(c, t);
    return 3;
}
FAMILY_FN(attention_causal_f) {
    RUN(attention_causal_fwd, t[1], t[2], t[0], c->p[0], c->p[1], c->p[2], c->p[3], ws);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- activation (n kind) */
static int act_t(const opc_case *c, opc_tensor *t) {
    const size_t n = c->p[0];
    t[0] = IN("x", n, 3, 0);
    t[1] = OUT("y", n, B_FP32);
    t[2] = UP("dy", n);
    t[3] = GRAD("dx", n, B_FP32, 0);
    return 4;
}
FAMILY_FN(act_f) {
    RUN(act_fwd, t[1], t[0], (size_t)c->p[0], (atas_act)c->p[1]);
    return ATAS_OK;
}
FAMILY_FN(act_b) {
    RUN(act_bwd, t[3], t[2], t[0], (size_t)c->p[0], (atas_act)c->p[1]);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- elementwise (n; f0 = alpha) */
static int add_t(const opc_case *c, opc_tensor *t) {
    t[0] = IN("a", c->p[0], 1, 0);
    t[1] = IN("b", c->p[0], 1, 0);
    t[2] = OUT("y", c->p[0], B_FP32);
    return 3;
}
FAMILY_FN(add_f) {
    RUN(add, t[2], t[0], t[1], (size_t)c->p[0]);
    return ATAS_OK;
}
/* y aliases a: a = a + b */
static int add_alias_t(const opc_case *c, opc_tensor *t) {
    t[0] = INOUT("a", c->p[0], 1, B_FP32);
    t[1] = IN("b", c->p[0], 1, 0);
    return 2;
}
FAMILY_FN(add_alias_f) {
    RUN(add, t[0], t[0], t[1], (size_t)c->p[0]);
    return ATAS_OK;
}
static int axpy_t(const opc_case *c, opc_tensor *t) {
    t[0] = INOUT("y", c->p[0], 1, B_FP32);
    t[1] = IN("x", c->p[0], 1, 0);
    return 2;
}
FAMILY_FN(axpy_f) {
    RUN(axpy, t[0], c->f[0], t[1], (size_t)c->p[0]);
    return ATAS_OK;
}
static int scale_t(const opc_case *c, opc_tensor *t) {
    t[0] = INOUT("y", c->p[0], 1, B_FP32);
    return 1;
}
FAMILY_FN(scale_f) {
    RUN(scale, t[0], c->f[0], (size_t)c->p[0]);
    return ATAS_OK;
}
/* teacher = mom teacher + (1 - mom) student; f0 = mom */
static int ema_t(const opc_case *c, opc_tensor *t) {
    t[0] = INOUT("teacher", c->p[0], 1, B_FP32);
    t[1] = IN("student", c->p[0], 1, 0);
    return 2;
}
FAMILY_FN(ema_f) {
    RUN(ema, t[0], t[1], (size_t)c->p[0], c->f[0]);
    return ATAS_OK;
}
/* memory: copy src -> dst, zero dst */
static int copy_t(const opc_case *c, opc_tensor *t) {
    t[0] = IN("src", c->p[0], 1, 0);
    t[1] = OUT("dst", c->p[0], B_EXACT);
    return 2;
}
FAMILY_FN(copy_f) {
    RUN(copy, t[1], t[0], (size_t)c->p[0] * sizeof(float));
    return ATAS_OK;
}
/* pinned staging: src comes down into host_alloc memory, goes up again with
 * upload_async into dst; the sync before host_free is the contract (the source
 * must outlive the queued copy) */
FAMILY_FN(upload_async_f) {
    const size_t bytes = (size_t)c->p[0] * sizeof(float);
    if (cost) {
        atas_op_cost c_ = atas_op_cost_upload_async(be, t[1], t[0], bytes);
        cost->flops += c_.flops;
        cost->bytes += c_.bytes;
    }
    void *h = NULL;
    ATAS_CHECK(be->host_alloc(be, &h, bytes, "upload_async case"));
    atas_status st = be->download(be, h, t[0], bytes);
    if (st == ATAS_OK) st = be->upload_async(be, t[1], h, bytes);
    if (st == ATAS_OK) st = be->sync(be);
    be->host_free(be, h);
    ATAS_CHECK(st);
    return ATAS_OK;
}
/* the copy stream: src comes down into host_alloc memory and goes up again with
 * upload_prefetch; upload_join orders the compute stream after it, so the sync
 * that follows (a compute-stream wait) covers the copy too */
FAMILY_FN(upload_prefetch_f) {
    const size_t bytes = (size_t)c->p[0] * sizeof(float);
    if (cost) {
        atas_op_cost c_ = atas_op_cost_upload_prefetch(be, t[1], t[0], bytes);
        cost->flops += c_.flops;
        cost->bytes += c_.bytes;
    }
    void *h = NULL;
    ATAS_CHECK(be->host_alloc(be, &h, bytes, "upload_prefetch case"));
    atas_status st = be->download(be, h, t[0], bytes);
    if (st == ATAS_OK) st = be->upload_prefetch(be, t[1], h, bytes);
    if (st == ATAS_OK) st = be->upload_join(be);
    if (st == ATAS_OK) st = be->sync(be);
    be->host_free(be, h);
    ATAS_CHECK(st);
    return ATAS_OK;
}
static int zero_t(const opc_case *c, opc_tensor *t) {
    t[0] = INOUT("dst", c->p[0], 1, B_EXACT);
    return 1;
}
FAMILY_FN(zero_f) {
    RUN(zero, t[0], (size_t)c->p[0] * sizeof(float));
    return ATAS_OK;
}

/* ---------------------------------------------------------------- resample (ih iw oh ow C kind plan)
 * plan 1: the tables built once by resample_plan into the workspace (as a pass does),
 * plan 0: built by the op itself each call */
static int resample_t(const opc_case *c, opc_tensor *t) {
    const size_t ni = (size_t)c->p[0] * c->p[1] * c->p[4], no = (size_t)c->p[2] * c->p[3] * c->p[4];
    t[0] = IN("in", ni, 1, 0);
    t[1] = OUT("out", no, B_FP32);
    t[2] = UP("dout", no);
    t[3] = GRAD("din", ni, B_FP32, 0);
    return 4;
}
static size_t resample_ws(const atas_backend *be, const opc_case *c) {
    return c->p[6] ? be->resample_plan_bytes(be, c->p[0], c->p[1], c->p[2], c->p[3]) : 0;
}
FAMILY_FN(resample_f) {
    const int *p = c->p;
    if (p[6]) RUN(resample_plan, ws, p[0], p[1], p[2], p[3], (atas_resample)p[5]);
    RUN(resample_fwd, t[1], t[0], p[0], p[1], p[2], p[3], p[4], (atas_resample)p[5], p[6] ? ws : NULL);
    return ATAS_OK;
}
FAMILY_FN(resample_b) {
    const int *p = c->p;
    if (p[6]) RUN(resample_plan, ws, p[0], p[1], p[2], p[3], (atas_resample)p[5]);
    RUN(resample_bwd, t[3], t[2], p[0], p[1], p[2], p[3], p[4], (atas_resample)p[5], p[6] ? ws : NULL);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- ViT plumbing */
/* patchify (B H W P) */
static int patchify_t(const opc_case *c, opc_tensor *t) {
    const size_t n = (size_t)c->p[0] * 3 * c->p[1] * c->p[2];
    t[0] = IN("img", n, 1, 0);
    t[1] = OUT("patches", n, B_EXACT);
    return 2;
}
FAMILY_FN(patchify_f) {
    RUN(patchify, t[1], t[0], c->p[0], c->p[1], c->p[2], c->p[3]);
    return ATAS_OK;
}
/* embed (B Np D) */
static int embed_t(const opc_case *c, opc_tensor *t) {
    const size_t B = c->p[0], Np = c->p[1], D = c->p[2], T = Np + 1;
    t[0] = IN("pe", B * Np * D, 1, 0);
    t[1] = IN("cls", D, 1, 0);
    t[2] = IN("pos", T * D, 1, 0);
    t[3] = OUT("x", B * T * D, B_FP32);
    t[4] = UP("dx", B * T * D);
    t[5] = GRAD("dpe", B * Np * D, B_FP32, 0);
    t[6] = GRAD("dcls", D, B_FP32, 1);
    t[7] = GRAD("dpos", T * D, B_FP32, 2);
    return 8;
}
FAMILY_FN(embed_f) {
    RUN(embed_fwd, t[3], t[0], t[1], t[2], c->p[0], c->p[1], c->p[2]);
    return ATAS_OK;
}
FAMILY_FN(embed_b) {
    RUN(embed_bwd, t[5], t[6], t[7], t[4], c->p[0], c->p[1], c->p[2]);
    return ATAS_OK;
}
/* rows_gather / rows_scatter_add (B T C t0 nt) */
static int rows_t(const opc_case *c, opc_tensor *t) {
    const size_t B = c->p[0], T = c->p[1], C = c->p[2], nt = c->p[4];
    t[0] = IN("in", B * T * C, 1, 0);
    t[1] = OUT("out", B * nt * C, B_EXACT);
    t[2] = UP("dout", B * nt * C);
    t[3] = GRAD("din", B * T * C, B_FP32, 0);
    return 4;
}
FAMILY_FN(rows_f) {
    RUN(rows_gather, t[1], t[0], c->p[0], c->p[1], c->p[2], c->p[3], c->p[4]);
    return ATAS_OK;
}
FAMILY_FN(rows_b) {
    RUN(rows_scatter_add, t[3], t[2], c->p[0], c->p[1], c->p[2], c->p[3], c->p[4]);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- optimizer */
/* adamw (n steps; f = lr b1 b2 eps wd): steps updates of p with gradients g1.. */
#define ADAMW_MAXSTEPS 4
static int adamw_t(const opc_case *c, opc_tensor *t) {
    static const char *gn[ADAMW_MAXSTEPS] = {"g1", "g2", "g3", "g4"};
    const size_t n = c->p[0];
    t[0] = INOUT("p", n, 1, 1e-5);
    t[1] = INOUT("m", n, 0, 1e-5);
    t[2] = INOUT("v", n, 0, 1e-5);
    for (int s = 0; s < c->p[1] && s < ADAMW_MAXSTEPS; s++)
        t[3 + s] = IN(gn[s], n, 0.1f * (s + 1), 0);
    return 3 + ATAS_MIN(c->p[1], ADAMW_MAXSTEPS);
}
FAMILY_FN(adamw_f) {
    const float *f = c->f;
    for (int s = 0; s < c->p[1] && s < ADAMW_MAXSTEPS; s++)
        RUN(adamw, t[0], t[3 + s], t[1], t[2], (size_t)c->p[0], f[0], f[1], f[2], f[3], f[4], s + 1);
    return ATAS_OK;
}
/* sumsq (n): the double result, rounded to float, in a one-float output */
static int sumsq_t(const opc_case *c, opc_tensor *t) {
    t[0] = IN("x", c->p[0], 1, 0);
    t[1] = OUT("sumsq", 1, 1e-6);
    return 2;
}
FAMILY_FN(sumsq_f) {
    double s = 0;
    RUN(sumsq, &s, t[0], (size_t)c->p[0]);
    const float f = (float)s;
    ATAS_CHECK(be->upload(be, t[1], &f, sizeof f));
    return ATAS_OK;
}


/* grad_sumsq (n): the double result, rounded to float, in a one-float output */
static int grad_sumsq_t(const opc_case *c, opc_tensor *t) {
    t[0] = IN("x", c->p[0], 1, 0);
    t[1] = OUT("sumsq", 1, 1e-6);
    return 2;
}
static size_t grad_sumsq_ws(const atas_backend *be, const opc_case *c) {
    return 256 + be->grad_sumsq_workspace_bytes(be, (size_t)c->p[0]);
}
FAMILY_FN(grad_sumsq_f) {
    RUN(grad_sumsq, (double *)ws, t[0], (size_t)c->p[0], (char *)ws + 256);
    double s = 0;
    ATAS_CHECK(be->download(be, &s, ws, sizeof s));
    const float f = (float)s;
    ATAS_CHECK(be->upload(be, t[1], &f, sizeof f));
    return ATAS_OK;
}
/* clip_adamw_ema (n, clipped; f = lr b1 b2 eps wd mom): three segments (decay, no
 * decay, frozen), the clip scale 0.4 when clipped; state and segments in ws */
static int clip_adamw_ema_t(const opc_case *c, opc_tensor *t) {
    const size_t n = c->p[0];
    t[0] = INOUT("p", n, 1, 1e-5);
    t[1] = INOUT("m", n, 0.01f, 1e-5);
    t[2] = INOUT("v", n, 0, 1e-5);
    t[3] = INOUT("teacher", n, 1, 1e-5);
    t[4] = IN("g", n, 0.3f, 0);
    return 5;
}
static size_t clip_adamw_ema_ws(const atas_backend *be, const opc_case *c) {
    (void)be;
    (void)c;
    return 256;
}
FAMILY_FN(clip_adamw_ema_f) {
    const size_t n = (size_t)c->p[0];
    const double state[4] = {2.5, c->p[1] ? 0.4 : 1.0, 0, 0};
    const size_t seg_end[3] = {n / 2, n - n / 5, n};
    const int kind[3] = {ATAS_SEG_DECAY, ATAS_SEG_NO_DECAY, ATAS_SEG_FROZEN};
    char *w = ws;
    ATAS_CHECK(be->upload(be, w, state, sizeof state));
    ATAS_CHECK(be->upload(be, w + 64, seg_end, sizeof seg_end));
    ATAS_CHECK(be->upload(be, w + 128, kind, sizeof kind));
    const float *f = c->f;
    RUN(clip_adamw_ema, t[0], t[4], t[1], t[2], t[3], n, (const size_t *)(w + 64), (const int *)(w + 128), 3,
        (const double *)w, f[0], f[1], f[2], f[3], f[4], 3, f[5]);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- device objective
 * objective (n, E, k, g, hT, mode): one group of n views, two mosaics (g x g cells
 * of k tokens, and one cell of g*k), the loss forms from `mode` (pool mode%3, G2L
 * form (mode/3)%2, L2L form (mode/6)%2, G2G form (mode/12)%2), weights 1. The first
 * output is the total loss (rounded to float); the backward runs the op with
 * grad_scale = the upstream value and adds its gradients (the op overwrites its own
 * outputs, so they go through scratch). Teacher-weighted pooling's weights are
 * stop-gradient, so its cases are parity-only (test_objective_device checks it
 * against the host objective, whose own FD test freezes the weights). */
typedef struct {
    int n, E, k, g, hT, hC, m, ncells, kmax;
    atas_obj_params prm;
} obj_case;
static obj_case obj_shape(const opc_case *c) {
    obj_case o;
    o.n = c->p[0];
    o.E = c->p[1];
    o.k = c->p[2];
    o.g = c->p[3];
    o.hT = c->p[4];
    o.hC = o.g * o.k;
    o.m = 2;
    o.ncells = o.g * o.g + 1;
    o.kmax = o.hC;
    const int mode = c->p[5];
    o.prm = (atas_obj_params){1.0, 1.0, 1.0, mode % 3, (mode / 3) % 2, (mode / 6) % 2, (mode / 12) % 2,
                              0.2, 0.3, 0.25};
    return o;
}
static int objective_t(const opc_case *c, opc_tensor *t) {
    const obj_case o = obj_shape(c);
    const size_t ng = (size_t)o.n * o.E, nd = (size_t)o.m * o.hC * o.hC * o.E;
    t[0] = IN("t_glob", ng, 1, 0);
    t[1] = IN("t_dense", (size_t)o.n * o.hT * o.hT * o.E, 1, 0);
    t[2] = IN("s_glob", ng, 1, 0.2f);
    t[3] = IN("s_dense", nd, 1, 0.3f);
    t[4] = OUT("loss", 1, 1e-6);
    t[5] = UP("r", 1);
    t[6] = GRAD("ds_glob", ng, 1e-5, 2);
    t[7] = GRAD("ds_dense", nd, 1e-5, 3);
    return 8;
}
/* workspace: cells | losses | the op's workspace | gradient scratch */
static size_t obj_ws_parts(const atas_backend *be, const obj_case *o, size_t *off) {
    const size_t ng = (size_t)o->n * o->E, nd = (size_t)o->m * o->hC * o->hC * o->E;
    off[0] = 0;
    off[1] = (sizeof(int) * ATAS_OBJ_CELL_INTS * o->ncells + 255) & ~(size_t)255;
    off[2] = off[1] + 256;
    off[3] = off[2] + ((be->objective_workspace_bytes(be, o->ncells, o->kmax, o->n, o->E, o->hT, o->hT, o->prm) + 255) &
                       ~(size_t)255);
    off[4] = off[3] + ((sizeof(float) * ng + 255) & ~(size_t)255);
    return off[4] + sizeof(float) * nd;
}
static size_t objective_ws(const atas_backend *be, const opc_case *c) {
    const obj_case o = obj_shape(c);
    size_t off[5];
    return obj_ws_parts(be, &o, off);
}
static atas_status objective_run(const atas_backend *be, const opc_case *c, float **t, void *ws, float scale,
                                 atas_op_cost *cost) {
    const obj_case o = obj_shape(c);
    size_t off[5];
    obj_ws_parts(be, &o, off);
    char *w = ws;
    int cells[ATAS_OBJ_CELL_INTS * (16 * 16 + 1)];
    ATAS_REQUIRE(o.ncells <= 16 * 16 + 1, "objective case: g = %d too large", o.g);
    for (int ci = 0; ci < o.ncells; ci++) {
        int *e = cells + ATAS_OBJ_CELL_INTS * ci;
        const int mos = ci < o.g * o.g ? 0 : 1, cc = mos ? 0 : ci;
        e[0] = mos;
        e[1] = (ci * 7 + 1) % o.n;
        e[2] = mos ? o.hC : o.k;
        e[3] = mos ? 0 : (cc / o.g) * o.k;
        e[4] = mos ? 0 : (cc % o.g) * o.k;
    }
    ATAS_CHECK(be->upload(be, w + off[0], cells, sizeof(int) * ATAS_OBJ_CELL_INTS * o.ncells));
    RUN(objective, (double *)(w + off[1]), (float *)(w + off[3]), (float *)(w + off[4]), t[0], t[1], t[2], t[3],
        (const int *)(w + off[0]), o.ncells, o.kmax, o.n, o.m, o.E, o.hT, o.hT, o.hC, o.hC, o.prm, scale,
        w + off[2]);
    return ATAS_OK;
}
FAMILY_FN(objective_f) {
    ATAS_CHECK(objective_run(be, c, t, ws, 1.0f, cost));
    const obj_case o = obj_shape(c);
    size_t off[5];
    obj_ws_parts(be, &o, off);
    double l[4];
    ATAS_CHECK(be->download(be, l, (char *)ws + off[1], sizeof l));
    const float f = (float)l[3];
    ATAS_CHECK(be->upload(be, t[4], &f, sizeof f));
    return ATAS_OK;
}
FAMILY_FN(objective_b) {
    float r = 0;
    ATAS_CHECK(be->download(be, &r, t[5], sizeof r));
    ATAS_CHECK(objective_run(be, c, t, ws, r, cost));
    const obj_case o = obj_shape(c);
    size_t off[5];
    obj_ws_parts(be, &o, off);
    const size_t ng = (size_t)o.n * o.E, nd = (size_t)o.m * o.hC * o.hC * o.E;
    if (t[6]) RUN(axpy, t[6], 1.0f, (const float *)((char *)ws + off[3]), ng);
    if (t[7]) RUN(axpy, t[7], 1.0f, (const float *)((char *)ws + off[4]), nd);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- EVA02 (docs/eva02.md) */
/* rope (B gh gw ld nh hd; f = ref theta): x [B, 1+gh*gw, ld] */
static int rope_t(const opc_case *c, opc_tensor *t) {
    const size_t n = (size_t)c->p[0] * (1 + c->p[1] * c->p[2]) * c->p[3];
    t[0] = IN("x", n, 1, 0);
    t[1] = OUT("y", n, B_FP32);
    t[2] = UP("dy", n);
    t[3] = GRAD("dx", n, B_FP32, 0);
    return 4;
}
FAMILY_FN(rope_f) {
    const int *p = c->p;
    RUN(rope_fwd, t[1], t[0], p[0], p[1], p[2], p[3], p[4], p[5], c->f[0], c->f[1]);
    return ATAS_OK;
}
FAMILY_FN(rope_b) {
    const int *p = c->p;
    RUN(rope_bwd, t[3], t[2], p[0], p[1], p[2], p[3], p[4], p[5], c->f[0], c->f[1]);
    return ATAS_OK;
}
/* y aliases x: the model turns q and k in place */
static int rope_alias_t(const opc_case *c, opc_tensor *t) {
    t[0] = INOUT("x", (size_t)c->p[0] * (1 + c->p[1] * c->p[2]) * c->p[3], 1, B_FP32);
    return 1;
}
FAMILY_FN(rope_alias_f) {
    const int *p = c->p;
    RUN(rope_fwd, t[0], t[0], p[0], p[1], p[2], p[3], p[4], p[5], c->f[0], c->f[1]);
    return ATAS_OK;
}
/* swiglu (M F): x [M, 2F] -> y [M, F] */
static int swiglu_t(const opc_case *c, opc_tensor *t) {
    const size_t M = c->p[0], F = c->p[1];
    t[0] = IN("x", M * 2 * F, 2, 0);
    t[1] = OUT("y", M * F, B_FP32);
    t[2] = UP("dy", M * F);
    t[3] = GRAD("dx", M * 2 * F, B_FP32, 0);
    return 4;
}
FAMILY_FN(swiglu_f) {
    RUN(swiglu_fwd, t[1], t[0], c->p[0], c->p[1]);
    return ATAS_OK;
}
FAMILY_FN(swiglu_b) {
    RUN(swiglu_bwd, t[3], t[2], t[0], c->p[0], c->p[1]);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- bf16 storage (the _h ops)
 * The harness holds fp32 tensors: a family rounds its bf16 inputs into the workspace
 * with cast_bf16 and widens its bf16 outputs back with cast_f32. */
static size_t h_bytes(size_t n) { return (n * sizeof(atas_bf16) + 255) & ~(size_t)255; }
static int cast_h_t(const opc_case *c, opc_tensor *t) {
    t[0] = IN("x", c->p[0], 3, 0);
    t[1] = OUT("y", c->p[0], B_EXACT);
    return 2;
}
static size_t cast_h_ws(const atas_backend *be, const opc_case *c) { return (void)be, h_bytes(c->p[0]); }
FAMILY_FN(cast_h_f) {
    RUN(cast_bf16, (atas_bf16 *)ws, t[0], (size_t)c->p[0]);
    RUN(cast_f32, t[1], (const atas_bf16 *)ws, (size_t)c->p[0]);
    return ATAS_OK;
}
/* layernorm_fwd_h (M C; p2 = 1: add_layernorm_fwd_h with r = x - 1) */
static int layernorm_h_t(const opc_case *c, opc_tensor *t) {
    const size_t M = c->p[0], C = c->p[1];
    layernorm_t(c, t); /* x, w, b, y, mean, rstd; the backward's tensors are not used */
    t[3].tol = B_BF16_OUT;
    if (!c->p[2]) return 6;
    t[6] = IN("r", M * C, 1, -1);
    t[7] = OUT("s", M * C, B_FP32);
    return 8;
}
static size_t layernorm_h_ws(const atas_backend *be, const opc_case *c) {
    return (void)be, h_bytes((size_t)c->p[0] * c->p[1]);
}
FAMILY_FN(layernorm_h_f) {
    const int M = c->p[0], C = c->p[1];
    if (c->p[2]) RUN(add_layernorm_fwd_h, t[7], (atas_bf16 *)ws, t[4], t[5], t[0], t[6], t[1], t[2], M, C, 1e-5f);
    else RUN(layernorm_fwd_h, (atas_bf16 *)ws, t[4], t[5], t[0], t[1], t[2], M, C, 1e-5f);
    RUN(cast_f32, t[3], (const atas_bf16 *)ws, (size_t)M * C);
    return ATAS_OK;
}
static int act_h_t(const opc_case *c, opc_tensor *t) {
    cast_h_t(c, t); /* x, y; y is an activation rounded to bf16 */
    t[1].tol = B_BF16_OUT;
    return 2;
}
FAMILY_FN(act_h_f) {
    RUN(act_fwd_h, (atas_bf16 *)ws, t[0], (size_t)c->p[0], (atas_act)c->p[1]);
    RUN(cast_f32, t[1], (const atas_bf16 *)ws, (size_t)c->p[0]);
    return ATAS_OK;
}
/* linear_fwd_h / linear_bwd_h (M K N): x and W rounded to bf16, then the products are
 * exact and both backends accumulate in fp32, so the fp32 bound holds */
static int linear_h_t(const opc_case *c, opc_tensor *t) {
    linear_t(c, t);
    t[3].tol = t[5].tol = t[6].tol = B_FP32;
    return 8;
}
static size_t linear_h_ws(const atas_backend *be, const opc_case *c) {
    const size_t M = c->p[0], K = c->p[1], N = c->p[2];
    return (void)be, h_bytes(M * K) + h_bytes(N * K) + h_bytes(M * N);
}
FAMILY_FN(linear_h_f) {
    const size_t M = c->p[0], K = c->p[1];
    atas_bf16 *xh = (atas_bf16 *)ws, *Wh = (atas_bf16 *)((char *)ws + h_bytes(M * K));
    RUN(cast_bf16, xh, t[0], M * K);
    RUN(cast_bf16, Wh, t[1], (size_t)c->p[2] * K);
    RUN(linear_fwd_h, t[3], xh, Wh, t[2], c->p[0], c->p[1], c->p[2]);
    return ATAS_OK;
}
FAMILY_FN(linear_h_b) {
    const size_t M = c->p[0], K = c->p[1], N = c->p[2];
    const atas_bf16 *xh = (const atas_bf16 *)ws, *Wh = (const atas_bf16 *)((char *)ws + h_bytes(M * K));
    atas_bf16 *dyh = (atas_bf16 *)((char *)ws + h_bytes(M * K) + h_bytes(N * K));
    RUN(linear_bwd_h, t[5], t[6], t[7], t[4], xh, Wh, c->p[0], c->p[1], c->p[2], dyh);
    return ATAS_OK;
}

/* ---------------------------------------------------------------- the families */
static const opc_family g_families[] = {
    {"linear", {"M", "K", "N"}, linear_t, linear_f, linear_b, NULL},
    {"matmul", {"M", "K", "N"}, matmul_t, matmul_f, matmul_b, NULL},
    {"layernorm", {"M", "C"}, layernorm_t, layernorm_f, layernorm_b, NULL},
    {"add_layernorm", {"M", "C"}, add_layernorm_t, add_layernorm_f, add_layernorm_b, NULL},
    {"add_layernorm_alias", {"M", "C", "mode"}, add_layernorm_alias_t, add_layernorm_alias_f, NULL, NULL},
    {"attention", {"B", "T", "H", "hd"}, attention_t, attention_f, attention_b, attention_ws},
    {"attention_causal", {"B", "T", "H", "hd"}, attention_causal_t, attention_causal_f, NULL,
     attention_ws},
    {"act", {"n", "kind"}, act_t, act_f, act_b, NULL},
    {"add", {"n"}, add_t, add_f, NULL, NULL},
    {"add_alias", {"n"}, add_alias_t, add_alias_f, NULL, NULL},
    {"axpy", {"n"}, axpy_t, axpy_f, NULL, NULL},
    {"scale", {"n"}, scale_t, scale_f, NULL, NULL},
    {"ema", {"n"}, ema_t, ema_f, NULL, NULL},
    {"copy", {"n"}, copy_t, copy_f, NULL, NULL},
    {"upload_async", {"n"}, copy_t, upload_async_f, NULL, NULL},
    {"upload_prefetch", {"n"}, copy_t, upload_prefetch_f, NULL, NULL},
    {"zero", {"n"}, zero_t, zero_f, NULL, NULL},
    {"resample", {"ih", "iw", "oh", "ow", "C", "kind", "plan"}, resample_t, resample_f, resample_b, resample_ws},
    {"patchify", {"B", "H", "W", "P"}, patchify_t, patchify_f, NULL, NULL},
    {"embed", {"B", "Np", "D"}, embed_t, embed_f, embed_b, NULL},
    {"rows", {"B", "T", "C", "t0", "nt"}, rows_t, rows_f, rows_b, NULL},
    {"adamw", {"n", "steps"}, adamw_t, adamw_f, NULL, NULL},
    {"sumsq", {"n"}, sumsq_t, sumsq_f, NULL, NULL},
    {"objective", {"n", "E", "k", "g", "hT", "mode"}, objective_t, objective_f, objective_b, objective_ws},
    {"grad_sumsq", {"n"}, grad_sumsq_t, grad_sumsq_f, NULL, grad_sumsq_ws},
    {"clip_adamw_ema", {"n", "clipped"}, clip_adamw_ema_t, clip_adamw_ema_f, NULL, clip_adamw_ema_ws},
    /* EVA02 */
    {"rope", {"B", "gh", "gw", "ld", "nh", "hd"}, rope_t, rope_f, rope_b, NULL},
    {"rope_alias", {"B", "gh", "gw", "ld", "nh", "hd"}, rope_alias_t, rope_alias_f, NULL, NULL},
    {"swiglu", {"M", "F"}, swiglu_t, swiglu_f, swiglu_b, NULL},
    /* bf16 storage */
    {"cast_h", {"n"}, cast_h_t, cast_h_f, NULL, cast_h_ws},
    {"layernorm_h", {"M", "C", "add"}, layernorm_h_t, layernorm_h_f, NULL, layernorm_h_ws},
    {"act_h", {"n", "kind"}, act_h_t, act_h_f, NULL, cast_h_ws},
    {"linear_h", {"M", "K", "N"}, linear_h_t, linear_h_f, linear_h_b, linear_h_ws},
};

const opc_family *atas_op_family(const char *name) {
    for (size_t i = 0; i < sizeof g_families / sizeof g_families[0]; i++)
        if (strcmp(g_families[i].name, name) == 0) return &g_families[i];
    return NULL;
}

/* ---------------------------------------------------------------- the cases
 * columns: family, label, modes, {p}, {f}, fd bound, fd step, torch fwd, torch bwd */
#define P OPC_PARITY
#define G OPC_GRAD
#define TO OPC_TORCH
#define BE OPC_BENCH
#define BQ OPC_BENCH_QUICK
#define FD(bound) (bound), 1e-2f /* finite differences: bound, step 1e-2 */
#define NOFD 0, 0
#define TORCH 1e-5, 2e-5 /* fp32 against float64 */
#define NOTORCH 0, 0
#define QG ATAS_ACT_QUICKGELU
#define GE ATAS_ACT_GELU
#define BIC ATAS_RESAMPLE_BICUBIC
#define BIL ATAS_RESAMPLE_BILINEAR

const opc_case atas_op_cases[] = {
    /* linear */
    {"linear", "linear", P, {67, 96, 80}, {0}, NOFD, NOTORCH},
    /* rows enough for the CUDA column sums (db) to run in slabs (4 of ~1025 rows) */
    {"linear", "linear M=4100", P, {4100, 64, 96}, {0}, NOFD, NOTORCH},
    {"linear", "linear", G, {5, 7, 6}, {0}, FD(2e-3), NOTORCH},
    {"linear", "linear", TO, {37, 50, 29}, {0}, NOFD, TORCH},
    {"linear", "linear", TO, {64, 768, 96}, {0}, NOFD, TORCH},
    {"linear", "linear", BE, {8 * 197, 768, 3072}, {0}, NOFD, NOTORCH},
    {"linear", "linear", BQ, {2 * 17, 64, 128}, {0}, NOFD, NOTORCH},
    /* matmul ([K,N] weights: CLIP's proj) */
    {"matmul", "matmul", P, {67, 96, 80}, {0}, NOFD, NOTORCH},
    {"matmul", "matmul", G, {5, 7, 6}, {0}, FD(2e-3), NOTORCH},
    {"matmul", "matmul", TO, {37, 50, 29}, {0}, NOFD, TORCH},
    /* layernorm */
    {"layernorm", "layernorm", P, {33, 200}, {0}, NOFD, NOTORCH},
    /* dw/db in 64 row slabs on CUDA (70000 rows), and in 3 */
    {"layernorm", "layernorm M=70000", P, {70000, 40}, {0}, NOFD, NOTORCH},
    {"layernorm", "layernorm M=3333", P, {3333, 72}, {0}, NOFD, NOTORCH},
    {"layernorm", "layernorm", G, {4, 33}, {0}, FD(1e-2), NOTORCH},
    {"layernorm", "layernorm", TO, {13, 96}, {0}, NOFD, TORCH},
    {"layernorm", "layernorm", TO, {3, 768}, {0}, NOFD, TORCH},
    {"layernorm", "layernorm", BE, {8 * 197, 768}, {0}, NOFD, NOTORCH},
    {"layernorm", "layernorm", BQ, {2 * 17, 64}, {0}, NOFD, NOTORCH},
    /* residual add fused into the LayerNorm (ViT-L's width 1024, EVA-L's odd 1026 not needed:
     * 200 and 33 cover rows that are not a multiple of the warp) */
    {"add_layernorm", "add_layernorm", P, {33, 200}, {0}, NOFD, NOTORCH},
    {"add_layernorm", "add_layernorm", P, {17, 1024}, {0}, NOFD, NOTORCH},
    {"add_layernorm_alias", "add_layernorm (s in r, y in a)", P, {33, 200, 0}, {0}, NOFD, NOTORCH},
    {"add_layernorm_alias", "add_layernorm (s in a)", P, {33, 200, 1}, {0}, NOFD, NOTORCH},
    {"add_layernorm", "add_layernorm", G, {4, 33}, {0}, FD(1e-2), NOTORCH},
    {"add_layernorm", "add_layernorm", TO, {13, 96}, {0}, NOFD, TORCH},
    {"add_layernorm", "add_layernorm", TO, {3, 768}, {0}, NOFD, TORCH},
    {"add_layernorm", "add_layernorm", BE, {8 * 197, 768}, {0}, NOFD, NOTORCH},
    {"add_layernorm", "add_layernorm", BQ, {2 * 17, 64}, {0}, NOFD, NOTORCH},
    /* attention */
    {"attention", "attention T1", P, {2, 1, 2, 8}, {0}, NOFD, NOTORCH},
    {"attention", "attention T77", P, {2, 77, 3, 16}, {0}, NOFD, NOTORCH},
    {"attention", "attention T197", P, {1, 197, 2, 64}, {0}, NOFD, NOTORCH},
    /* the shapes of the fused bf16 kernel (cuda, flash_attn.cu: head dims 64/80/128,
     * partial last tiles): ViT-B at 256/384 px and 1024 px, EVA's 80, a 128 head */
    {"attention", "attention T257 hd64", P, {1, 257, 2, 64}, {0}, NOFD, NOTORCH},
    {"attention", "attention T577 hd64", P, {1, 577, 1, 64}, {0}, NOFD, NOTORCH},
    {"attention", "attention T4097 hd64", P, {1, 4097, 1, 64}, {0}, NOFD, NOTORCH},
    {"attention", "attention T197 hd80", P, {2, 197, 1, 80}, {0}, NOFD, NOTORCH},
    {"attention", "attention T65 hd128", P, {1, 65, 2, 128}, {0}, NOFD, NOTORCH},
    {"attention", "attention T=1 H=1", G, {1, 1, 1, 4}, {0}, FD(1e-2), NOTORCH},
    {"attention", "attention T=5 H=2", G, {2, 5, 2, 3}, {0}, FD(1e-2), NOTORCH},
    {"attention", "attention T=70 H=2", G, {1, 70, 2, 4}, {0}, FD(1e-2), NOTORCH},
    {"attention", "attention T=131 H=1", G, {1, 131, 1, 8}, {0}, FD(1e-2), NOTORCH},
    {"attention", "attention", TO, {1, 1, 1, 8}, {0}, NOFD, TORCH},
    {"attention", "attention", TO, {2, 5, 2, 4}, {0}, NOFD, TORCH},
    {"attention", "attention", TO, {2, 70, 2, 8}, {0}, NOFD, TORCH},
    {"attention", "attention", TO, {1, 197, 3, 16}, {0}, NOFD, TORCH},
    {"attention", "attention", BE, {8, 197, 12, 64}, {0}, NOFD, NOTORCH},
    /* the mosaics (issue 11's yardstick: >= 300 TFLOP/s forward on an H100/H200 at bf16):
     * ViT-L/14 at 896 px (T = 4097, 16 heads of 64), ViT-B/16 at 960 px (T = 3601, 12 of 64) */
    {"attention", "attention L/14 896px", BE, {1, 4097, 16, 64}, {0}, NOFD, NOTORCH},
    {"attention", "attention B/16 960px", BE, {1, 3601, 12, 64}, {0}, NOFD, NOTORCH},
    {"attention", "attention", BQ, {2, 17, 4, 16}, {0}, NOFD, NOTORCH},
    /* causal attention (CLIP's text tower; forward only) */
    {"attention_causal", "attention_causal T1", P, {2, 1, 2, 8}, {0}, NOFD, NOTORCH},
    {"attention_causal", "attention_causal T77", P, {3, 77, 2, 16}, {0}, NOFD, NOTORCH},
    {"attention_causal", "attention_causal T150", P, {1, 150, 2, 32}, {0}, NOFD, NOTORCH},
    {"attention_causal", "attention_causal T77 hd64", P, {2, 77, 2, 64}, {0}, NOFD, NOTORCH},
    {"attention_causal", "attention_causal T200 hd64", P, {1, 200, 1, 64}, {0}, NOFD, NOTORCH},
    {"attention_causal", "attention causal", TO, {1, 1, 1, 8}, {0}, NOFD, TORCH},
    {"attention_causal", "attention causal", TO, {2, 77, 2, 8}, {0}, NOFD, TORCH},
    {"attention_causal", "attention causal", TO, {1, 150, 3, 16}, {0}, NOFD, TORCH},
    {"attention_causal", "attention_causal", BE, {64, 77, 8, 64}, {0}, NOFD, NOTORCH},
    {"attention_causal", "attention_causal", BQ, {2, 17, 4, 16}, {0}, NOFD, NOTORCH},
    /* activations */
    {"act", "quickgelu", P, {100003, QG}, {0}, NOFD, NOTORCH},
    {"act", "gelu", P, {1001, GE}, {0}, NOFD, NOTORCH},
    {"act", "quickgelu", G, {60, QG}, {0}, FD(1e-2), NOTORCH},
    {"act", "gelu", G, {60, GE}, {0}, FD(1e-2), NOTORCH},
    {"act", "quickgelu", TO, {1000, QG}, {0}, NOFD, TORCH},
    {"act", "gelu", TO, {1000, GE}, {0}, NOFD, TORCH},
    {"act", "quickgelu", BE, {8 * 197 * 3072, QG}, {0}, NOFD, NOTORCH},
    {"act", "gelu", BE, {8 * 197 * 3072, GE}, {0}, NOFD, NOTORCH},
    {"act", "quickgelu", BQ, {2 * 17 * 128, QG}, {0}, NOFD, NOTORCH},
    /* elementwise and memory */
    {"add", "add", P, {70001}, {0}, NOFD, NOTORCH},
    {"add_alias", "add (y aliases a)", P, {70001}, {0}, NOFD, NOTORCH},
    {"axpy", "axpy", P, {70001}, {-0.7f}, NOFD, NOTORCH},
    {"scale", "scale", P, {70001}, {1.3f}, NOFD, NOTORCH},
    {"ema", "ema", P, {70001}, {0.996f}, NOFD, NOTORCH},
    {"ema", "ema", TO, {100000}, {0.996f}, NOFD, TORCH},
    {"copy", "copy", P, {70001}, {0}, NOFD, NOTORCH},
    {"upload_async", "host_alloc + upload_async", P, {70001}, {0}, NOFD, NOTORCH},
    {"upload_prefetch", "host_alloc + upload_prefetch + upload_join", P, {70001}, {0}, NOFD, NOTORCH},
    {"zero", "zero", P, {70001}, {0}, NOFD, NOTORCH},
    /* resampling */
    {"resample", "bicubic", P, {14, 14, 16, 20, 40, BIC}, {0}, NOFD, NOTORCH},
    {"resample", "bilinear", P, {13, 9, 6, 11, 3, BIL}, {0}, NOFD, NOTORCH},
    {"resample", "bicubic, planned", P, {14, 14, 16, 20, 40, BIC, 1}, {0}, NOFD, NOTORCH},
    {"resample", "bilinear, planned", P, {13, 9, 6, 11, 3, BIL, 1}, {0}, NOFD, NOTORCH},
    {"resample", "bicubic 14->60x60 (B/16 at 960), planned", P, {14, 14, 60, 60, 8, BIC, 1}, {0}, NOFD, NOTORCH},
    {"resample", "bicubic 5x6->7x4", G, {5, 6, 7, 4, 3, BIC}, {0}, FD(2e-3), NOTORCH},
    {"resample", "bilinear 5x6->7x4", G, {5, 6, 7, 4, 3, BIL}, {0}, FD(2e-3), NOTORCH},
    {"resample", "bicubic 4x4->9x9", G, {4, 4, 9, 9, 2, BIC}, {0}, FD(2e-3), NOTORCH},
    {"resample", "bicubic 5x6->7x4, planned", G, {5, 6, 7, 4, 3, BIC, 1}, {0}, FD(2e-3), NOTORCH},
    {"resample", "bilinear 5x6->3x9, planned", G, {5, 6, 3, 9, 2, BIL, 1}, {0}, FD(2e-3), NOTORCH},
    {"resample", "bicubic", TO, {7, 7, 9, 11, 3, BIC}, {0}, NOFD, TORCH},
    {"resample", "bicubic", TO, {14, 14, 16, 16, 8, BIC}, {0}, NOFD, TORCH},
    {"resample", "bicubic", TO, {10, 9, 7, 4, 2, BIC}, {0}, NOFD, TORCH},
    {"resample", "bilinear", TO, {7, 7, 9, 11, 3, BIL}, {0}, NOFD, TORCH},
    {"resample", "bilinear", TO, {10, 9, 7, 4, 2, BIL}, {0}, NOFD, TORCH},
    {"resample", "bicubic, planned", TO, {10, 9, 7, 4, 2, BIC, 1}, {0}, NOFD, TORCH},
    {"resample", "bicubic 16->37x23, planned", TO, {16, 16, 37, 23, 4, BIC, 1}, {0}, NOFD, TORCH},
    {"resample", "bicubic", BE, {14, 14, 28, 28, 768, BIC}, {0}, NOFD, NOTORCH},
    {"resample", "bicubic, planned", BE, {14, 14, 28, 28, 768, BIC, 1}, {0}, NOFD, NOTORCH},
    {"resample", "bicubic", BQ, {4, 4, 8, 8, 64, BIC}, {0}, NOFD, NOTORCH},
    /* ViT plumbing */
    {"patchify", "patchify", P, {2, 32, 48, 16}, {0}, NOFD, NOTORCH},
    {"patchify", "patchify", TO, {2, 8, 12, 4}, {0}, NOFD, TORCH},
    {"embed", "embed", P, {2, 6, 24}, {0}, NOFD, NOTORCH},
    {"embed", "embed", G, {2, 3, 4}, {0}, FD(2e-3), NOTORCH},
    {"embed", "embed", TO, {2, 4, 6}, {0}, NOFD, TORCH},
    {"rows", "rows_gather", P, {2, 7, 24, 1, 5}, {0}, NOFD, NOTORCH},
    {"rows", "rows_gather", G, {2, 5, 3, 1, 3}, {0}, FD(2e-3), NOTORCH},
    /* optimizer and reductions */
    {"adamw", "adamw x3", P, {50000, 3}, {1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f}, NOFD, NOTORCH},
    {"adamw", "adamw 3 steps wd=0", TO, {1000, 3}, {1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f}, NOFD, TORCH},
    {"adamw", "adamw 3 steps wd=0.05", TO, {1000, 3}, {3e-3f, 0.9f, 0.98f, 1e-6f, 0.05f}, NOFD,
     TORCH},
    {"sumsq", "sumsq", P, {50000}, {0}, NOFD, NOTORCH},
    {"sumsq", "sumsq (double accumulation)", TO, {100000}, {0}, NOFD, 1e-6, 0},
    /* device objective (n, E, k, g, hT, mode): FD on every form with mean / mean_raw
     * pooling; parity on every mode, teacher-weighted included */
    {"objective", "objective mean cos/cos/cos", G, {3, 6, 2, 2, 3, 0}, {0}, FD(1e-2), NOTORCH},
    {"objective", "objective mean_raw nce/cos/cos", G, {3, 6, 2, 2, 3, 5}, {0}, FD(1e-2), NOTORCH},
    {"objective", "objective mean cos/sim/cos", G, {3, 6, 2, 2, 5, 6}, {0}, FD(1e-2), NOTORCH},
    {"objective", "objective mean_raw cos/cos/nce", G, {3, 6, 3, 2, 4, 14}, {0}, FD(1e-2), NOTORCH},
    {"objective", "objective mean nce/sim/nce", G, {4, 5, 2, 3, 3, 21}, {0}, FD(1e-2), NOTORCH},
    {"objective", "objective mean_raw nce/sim/nce", G, {3, 6, 2, 2, 3, 23}, {0}, FD(1e-2), NOTORCH},
    {"objective", "objective tw cos/cos/cos", P, {4, 40, 4, 2, 7, 1}, {0}, NOFD, NOTORCH},
    {"objective", "objective tw nce/sim/nce", P, {4, 40, 4, 2, 7, 22}, {0}, NOFD, NOTORCH},
    {"objective", "objective raw nce/sim/cos", P, {5, 33, 3, 3, 7, 11}, {0}, NOFD, NOTORCH},
    {"objective", "objective mean cos/cos/nce", P, {5, 64, 8, 2, 16, 12}, {0}, NOFD, NOTORCH},
    {"objective", "objective B/16 grid 4 + 1, cosine", BE, {16, 512, 15, 4, 14, 0}, {0}, NOFD, NOTORCH},
    {"objective", "objective", BQ, {4, 32, 4, 2, 4, 0}, {0}, NOFD, NOTORCH},
    {"grad_sumsq", "grad_sumsq", P, {3 * 65536 + 11}, {0}, NOFD, NOTORCH},
    {"grad_sumsq", "grad_sumsq B/16 params", BE, {86000000}, {0}, NOFD, NOTORCH},
    {"grad_sumsq", "grad_sumsq", BQ, {100000}, {0}, NOFD, NOTORCH},
    {"clip_adamw_ema", "clip_adamw_ema", P, {50001, 0}, {1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, 0.996f}, NOFD, NOTORCH},
    {"clip_adamw_ema", "clip_adamw_ema clipped", P, {50001, 1}, {3e-3f, 0.9f, 0.98f, 1e-6f, 0.05f, 0.99f}, NOFD,
     NOTORCH},
    {"clip_adamw_ema", "clip_adamw_ema B/16 params", BE, {86000000, 1}, {3e-3f, 0.9f, 0.98f, 1e-6f, 0.05f, 0.99f},
     NOFD, NOTORCH},
    {"clip_adamw_ema", "clip_adamw_ema", BQ, {100000, 1}, {3e-3f, 0.9f, 0.98f, 1e-6f, 0.05f, 0.99f}, NOFD, NOTORCH},
    /* EVA02: rope on packed qkv (ld = 3D, nh = 2H: q and k turned, v copied), reference grid 16 */
    {"rope", "rope qkv 14x14", P, {2, 14, 14, 3 * 64, 4, 32}, {16, 10000}, NOFD, NOTORCH},
    {"rope", "rope qkv 5x7 hd=64", P, {2, 5, 7, 3 * 128, 4, 64}, {16, 10000}, NOFD, NOTORCH},
    {"rope_alias", "rope in place", P, {2, 6, 4, 3 * 48, 6, 16}, {16, 10000}, NOFD, NOTORCH},
    {"rope", "rope 3x2 hd=8", G, {2, 3, 2, 3 * 16, 4, 8}, {16, 10000}, FD(2e-3), NOTORCH},
    {"rope", "rope 2x4 hd=4 ld>rot", G, {1, 2, 4, 13, 2, 4}, {7, 100}, FD(2e-3), NOTORCH},
    {"rope", "rope", TO, {2, 14, 14, 3 * 64, 4, 32}, {16, 10000}, NOFD, TORCH},
    {"rope", "rope", TO, {2, 6, 9, 3 * 128, 4, 64}, {16, 10000}, NOFD, TORCH},
    {"rope", "rope", TO, {1, 24, 24, 2 * 64, 2, 64}, {16, 10000}, NOFD, TORCH},
    {"rope", "rope", TO, {1, 3, 5, 21, 2, 8}, {7, 100}, NOFD, TORCH},
    {"rope", "rope", BE, {8, 14, 14, 3 * 768, 24, 64}, {16, 10000}, NOFD, NOTORCH},
    {"rope", "rope", BQ, {2, 4, 4, 3 * 64, 8, 16}, {16, 10000}, NOFD, NOTORCH},
    /* EVA02: SwiGLU gate (hidden 2730 for L: not a multiple of 8) */
    {"swiglu", "swiglu", P, {67, 2730}, {0}, NOFD, NOTORCH},
    {"swiglu", "swiglu", G, {3, 7}, {0}, FD(1e-2), NOTORCH},
    {"swiglu", "swiglu", TO, {13, 2730}, {0}, NOFD, TORCH},
    {"swiglu", "swiglu", TO, {5, 31}, {0}, NOFD, TORCH},
    {"swiglu", "swiglu", BE, {8 * 197, 3072}, {0}, NOFD, NOTORCH},
    {"swiglu", "swiglu", BQ, {2 * 17, 128}, {0}, NOFD, NOTORCH},
    /* bf16 storage: odd sizes for the tails of the 4-wide kernels, a block's shapes */
    {"cast_h", "cast bf16", P, {1003}, {0}, NOFD, NOTORCH},
    {"layernorm_h", "layernorm_h", P, {33, 200, 0}, {0}, NOFD, NOTORCH},
    {"layernorm_h", "add_layernorm_h", P, {17, 1024, 1}, {0}, NOFD, NOTORCH},
    {"act_h", "act_h quickgelu", P, {4099, QG}, {0}, NOFD, NOTORCH},
    {"act_h", "act_h gelu", P, {1001, GE}, {0}, NOFD, NOTORCH},
    {"linear_h", "linear_h", P, {67, 96, 80}, {0}, NOFD, NOTORCH},
    {"linear_h", "linear_h M=4100", P, {4100, 64, 96}, {0}, NOFD, NOTORCH},
    {"linear_h", "linear_h qkv", P, {197, 128, 384}, {0}, NOFD, NOTORCH},
};
const int atas_op_ncases = (int)(sizeof atas_op_cases / sizeof atas_op_cases[0]);
