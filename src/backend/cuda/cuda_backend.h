/* Private to the CUDA backend: the op functions that fill its table (plain C
 * declarations, so the table itself is written in C) and the entry points that
 * backend.c dispatches "cuda" to. Built only with ATAS_WITH_CUDA. */
#ifndef ATAS_CUDA_BACKEND_H
#define ATAS_CUDA_BACKEND_H

#include "atas/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one CUDA backend instance of the process, seen through one table per
 * precision (an atas_precision; all share the context): created on the first request
 * (any thread; the others wait), its context (device, streams, cuBLAS/cuBLASLt
 * handles, workspace, events, NCCL communicator) in be->ctx. Fails with
 * ATAS_ERR_UNSUPPORTED when no CUDA device can be used. */
atas_status atas_cuda_backend_get_precision(int prec, const atas_backend **out);
/* Destroys the context (a later get creates a new one). */
void atas_cuda_backend_release(const atas_backend *be);
/* init.cu: create / destroy one context (void * keeps CUDA types out of C) */
atas_status atas_cuda_ctx_create(void **ctx);
void atas_cuda_ctx_destroy(void *ctx);

/* every op of the registry (include/backend/atas/ops.def) as atas_cuda_<name>; the
 * registry's argument checks have run before any of them is called */
#define ATAS_OP(name, params, args, checks, flops, bytes) atas_status atas_cuda_##name params;
#define ATAS_FN(name, ret, params) ret atas_cuda_##name params;
#include "atas/ops.def"

#ifdef __cplusplus
}
#endif
#endif
