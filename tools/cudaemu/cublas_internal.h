/* cudaemu: the one GEMM routine behind cuBLAS and cuBLASLt (cublas.cc) */
#ifndef CUDAEMU_CUBLAS_INTERNAL_H
#define CUDAEMU_CUBLAS_INTERNAL_H

#include <cublas_v2.h>

namespace cudaemu {
struct gemm_args {
    cublasOperation_t ta, tb;
    int m, n, k;
    float alpha;
    const void *A;
    cudaDataType_t At;
    int lda;
    long long sA;
    const void *B;
    cudaDataType_t Bt;
    int ldb;
    long long sB;
    float beta;
    float *C; /* read (beta != 0) and written in place */
    int ldc;
    long long sC;
    int batch;
    cublasComputeType_t ct;
    const float *bias; /* cuBLASLt's BIAS epilogue: + bias[i] on row i of C */
};
cublasStatus_t gemm(const gemm_args &g);
bool valid_compute(cublasComputeType_t ct);
} // namespace cudaemu

#endif
