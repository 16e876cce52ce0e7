/* backend: one table of ops with forward and backward, chosen at run time.
 *
 * The ops, their contracts and their argument checks are declared once, in
 * include/backend/atas/ops.def (the op registry); this struct is generated from it, so
 * callers write be->linear_fwd(...) as before. The conventions every backend
 * keeps (memory, accumulation, NULL gradients, no allocation, no printing) are
 * written there too.
 */
#ifndef ATAS_BACKEND_H
#define ATAS_BACKEND_H

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ATAS_ACT_QUICKGELU = 0, ATAS_ACT_GELU = 1 } atas_act;
typedef enum { ATAS_RESAMPLE_BICUBIC = 0, ATAS_RESAMPLE_BILINEAR = 1 } atas_resample;

/* The ATAS objective's settings as the device objective op takes them (by value;
 * the enums' values are atas/objective.h's). */
typedef struct {
    double w_g2l, w_l2l, w_g2g;           /* a weight of 0 skips that loss */
    int g2l_pool, g2l_form, l2l_form, g2g_form;
    double pool_tau, g2l_tau, g2g_tau;
} atas_obj_params;
/* ints per cell in the device objective's cell table: mosaic, image, k, r0, c0 */
#define ATAS_OBJ_CELL_INTS 5
/* elements per partial of the deterministic gradient-norm reduction (grad_sumsq) */
#define ATAS_GN_CHUNK ((size_t)1 << 16)
/* the device step state step_guard writes: |g|, clip scale, skip flag */
enum { ATAS_STEP_GNORM = 0, ATAS_STEP_CLIP_SCALE = 1, ATAS_STEP_SKIP = 2, ATAS_STEP_NSTATE = 4 };
/* segment kinds of the fused optimizer op: decayed, not decayed, frozen (left alone) */
enum { ATAS_SEG_DECAY = 0, ATAS_SEG_NO_DECAY = 1, ATAS_SEG_FROZEN = 2 };

/* The math of the GEMMs and of attention (docs/backend.md "Precision"). Tensors
 * stay fp32 in memory; TF32 and BF16 round the GEMM inputs (round to nearest
 * even: 10 / 7 stored mantissa bits) and accumulate in fp32, as cuBLAS's
 * CUBLAS_COMPUTE_32F_FAST_TF32 / _FAST_16BF do on fp32 data. Everything else
 * (LayerNorm, softmax statistics, losses, the optimizer) stays fp32/double. */
typedef enum { ATAS_PREC_FP32 = 0, ATAS_PREC_TF32 = 1, ATAS_PREC_BF16 = 2 } atas_precision;
#define ATAS_PREC_COUNT 3
/* "fp32" | "tf32" | "bf16" (NULL for anything else) */
const char *atas_precision_name(atas_precision p);
/* "fp32" | "tf32" | "bf16" -> *out; anything else ATAS_ERR_INVALID naming it */
atas_status atas_precision_parse(const char *s, atas_precision *out);
/* One float rounded to bf16 / tf32 (round to nearest, ties to even; NaN stays a
 * quiet NaN, +-Inf stays, overflow rounds to +-Inf, subnormals are kept), as fp32. */
float atas_round_bf16(float x);
float atas_round_tf32(float x);
/* dst[i] = x[i] rounded to p (dst may equal src; fp32 copies when they differ) */
void atas_round_precision(float *dst, const float *src, size_t n, atas_precision p);

/* A bf16 value as stored: the upper 16 bits of the fp32 (bf16 storage ops) */
typedef uint16_t atas_bf16;
/* x rounded to bf16 (as atas_round_bf16) and its bits; the bits widened back */
atas_bf16 atas_bf16_from_float(float x);
float atas_bf16_to_float(atas_bf16 h);

typedef struct atas_backend atas_backend;
/* bytes of a collective bootstrap id (coll_unique_id; NCCL's ncclUniqueId) */
#define ATAS_COLL_ID_BYTES 128
struct atas_backend {
    const char *name;
    int host_addressable; /* 1 when pointers can be read by the CPU directly */
    void *ctx;            /* the backend's private state (cuda: device, streams, handles); NULL for cpu */
    int precision;        /* atas_precision of the GEMMs and attention (0 = fp32) */
#define ATAS_OP(name, params, args, checks, flops, bytes) atas_status(*name) params;
#define ATAS_FN(name, ret, params) ret(*name) params;
#include "atas/ops.def"
};

/* Bytes moved by upload (host -> device) and download (device -> host) since the
 * process started, all backends together (relaxed atomic counters; the trainer
 * writes the per-step differences to metrics.jsonl). */
void atas_backend_transfer_bytes(unsigned long long *h2d, unsigned long long *d2h);
void atas_backend_count_transfer(int to_device, size_t bytes);
/* Registry op calls that queued work since the process started, all backends and
 * threads together (a relaxed atomic counter, bumped by the shared checks of
 * src/backend/op_checked.h after a call passed them). Not counted: calls that
 * ATAS_SKIP'd or were refused, the ATAS_FN members, and the ops that queue no work
 * (alloc, host_alloc, sync, coll_unique_id, coll_init, coll_wait). On CUDA one op
 * call is one or a few kernel launches / memcpys, so the count is a lower bound on
 * launches (atas_bench --step prints it per step, metrics.jsonl as op_calls). */
unsigned long long atas_backend_op_calls(void);
void atas_backend_count_op_call(void);

/* "cpu" or "cuda". Asking for "cuda" in a CPU-only build, or on a machine with
 * no GPU, fails with ATAS_ERR_UNSUPPORTED and a message that says which. */
atas_status atas_backend_get(const char *name, const atas_backend **out);
const atas_backend *atas_backend_cpu(void);
/* The same backend with the GEMMs and attention at precision p ("cpu" and
 * "cpu-staged": a table per precision that rounds GEMM inputs (emulation);
 * "cuda": tensor-core compute types and the fused attention kernel).
 * atas_backend_get(name) is atas_backend_get_precision(name, ATAS_PREC_FP32). */
atas_status atas_backend_get_precision(const char *name, atas_precision p, const atas_backend **out);
/* Releases what atas_backend_get created for a device backend (streams, handles,
 * communicator); a no-op for cpu and NULL. Call once at process end, after the
 * last op; a later atas_backend_get starts a fresh instance. */
void atas_backend_release(const atas_backend *be);
/* The rank's index among the ranks of its node. Call before atas_backend_get: a
 * device backend then binds one device per local rank (device = local_rank % count). */
void atas_backend_set_local_rank(int local_rank);
int atas_backend_local_rank(void);
/* Ranks on this node (MPI start-up sets it; device backends name it in messages).
 * Ranks that end up on one GPU are refused by the comm layer
 * (atas_comm_check_devices) unless the environment says ATAS_SHARE_GPU=1. */
void atas_backend_set_local_size(int local_size);
int atas_backend_local_size(void);
/* Threads the CPU backend (OpenMP and OpenBLAS) uses; <= 0 keeps the default. */
void atas_cpu_set_threads(int n);
int atas_cpu_threads(void);

/* The 1-D resampling weights that the resample ops apply along one axis:
 * taps[o*4 + k] source indices and wts[o*4 + k] weights (bilinear uses k < 2 and
 * sets the rest to weight 0). Exposed so tests and the CUDA backend share them. */
void atas_resample_weights(int in, int out, atas_resample kind, int *taps, float *wts);

/* The work of one op call as the registry counts it (include/backend/atas/ops.def):
 * floating-point operations and the minimum bytes moved, for benchmark rows.
 * atas_op_cost_<name>(args...) takes the op's own arguments. */
typedef struct {
    double flops, bytes;
} atas_op_cost;
#define ATAS_OP(name, params, args, checks, flops, bytes) atas_op_cost atas_op_cost_##name params;
#include "atas/ops.def"

/* ---- activation plan: the working buffers of a pass (or any fixed set) as ONE
 * zero-filled backend allocation, carved from a table of named sizes (the way
 * llm.c's fill_in_activation_sizes does), printed, and released by one call.
 *   atas_plan pl; atas_plan_init(&pl, be, "pass");
 *   atas_plan_add(&pl, &p->qkv, n * sizeof(float), "qkv");   ... every buffer
 *   ATAS_CHECK(atas_plan_alloc(&pl));   sets every pointer (NULL for 0 bytes)
 *   atas_plan_print(&pl, ATAS_LOG_INFO); names, MiB and the total, through atas_log
 *   atas_plan_release(&pl);             one free; every pointer back to NULL
 * Each buffer starts on a 256-byte boundary (cudaMalloc's). */
#define ATAS_PLAN_MAX 96
typedef struct {
    const char *name;
    void **ptr;
    size_t bytes, offset;
} atas_plan_entry;
typedef struct {
    const atas_backend *be;
    const char *title;
    atas_plan_entry e[ATAS_PLAN_MAX];
    int n, overflow;
    size_t total;
    void *base;
} atas_plan;
void atas_plan_init(atas_plan *pl, const atas_backend *be, const char *title);
/* ptr: the address of the caller's pointer (float ** or void **) */
void atas_plan_add(atas_plan *pl, void *ptr, size_t bytes, const char *name);
atas_status atas_plan_alloc(atas_plan *pl);
void atas_plan_print(const atas_plan *pl, atas_log_level lvl);
void atas_plan_release(atas_plan *pl);

#ifdef __cplusplus
}
#endif
#endif
