/* Private to the CUDA backend: the op functions that fill its table (plain C
 * declarations, so the table itself is written in C) and the entry point that
 * backend.c dispatches "cuda" to. Built only with ATAS_WITH_CUDA. */
#ifndef ATAS_CUDA_BACKEND_H
#define ATAS_CUDA_BACKEND_H

#include "atas/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialises the device, cuBLAS and the static tables once; fails with
 * ATAS_ERR_UNSUPPORTED when no CUDA device can be used. */
atas_status atas_cuda_backend_get(const atas_backend **out);
/* once per process, from atas_cuda_backend_get */
atas_status atas_cuda_init(void);

/* every op of the registry (include/atas/ops.def) as atas_cuda_<name>; the
 * registry's argument checks have run before any of them is called */
#define ATAS_OP(name, params, args, checks, flops, bytes) atas_status atas_cuda_##name params;
#define ATAS_FN(name, ret, params) ret atas_cuda_##name params;
#include "atas/ops.def"

#ifdef __cplusplus
}
#endif
#endif
