/* Private to the CUDA backend: the fused bf16 attention kernels (flash_attn.cu),
 * called by attention.cu when atas_cuda_flash_supported says so. */
#ifndef ATAS_CUDA_FLASH_ATTN_H
#define ATAS_CUDA_FLASH_ATTN_H

#include "atas/backend.h"

/* precision bf16 and a head dim with a kernel (64, 80, 128) */
int atas_cuda_flash_supported(const atas_backend *be, int hd);
/* workspace of the fused path: Di [B,H,T] for the backward */
size_t atas_cuda_flash_workspace_bytes(int B, int T, int H);
atas_status atas_cuda_flash_fwd(const atas_backend *be, float *out, float *lse, const float *qkv, int B, int T, int H,
                                int hd, int causal);
atas_status atas_cuda_flash_bwd(const atas_backend *be, float *dqkv, const float *dout, const float *qkv,
                                const float *out, const float *lse, int B, int T, int H, int hd, void *workspace);

#endif
