/* Device and cuBLAS set-up, once per process: one device per local rank
 * (atas_backend_set_local_rank; device = local rank % devices on the node).
 * cuBLAS keeps full fp32 arithmetic: under CUBLAS_DEFAULT_MATH cublasSgemm does
 * not use TF32 tensor cores (that takes CUBLAS_TF32_TENSOR_OP_MATH), so parity
 * with the CPU stays tight. */
#include <pthread.h>

#include "backend/cuda/cuda_common.cuh"

cublasHandle_t atas_cuda_blas = NULL;

static atas_status cuda_init_once(void);

/* once per process, whichever thread asks first; the others wait for it */
extern "C" atas_status atas_cuda_init(void) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    const atas_status st = atas_cuda_blas ? ATAS_OK : cuda_init_once();
    pthread_mutex_unlock(&lock);
    if (st != ATAS_OK) return atas_error_trace(st, __FILE__, __LINE__, __func__);
    return ATAS_OK;
}

static atas_status cuda_init_once(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        (void)cudaGetLastError(); /* do not leave the failure for a later check */
        return ATAS_ERR(ATAS_ERR_UNSUPPORTED, "backend \"cuda\": no CUDA device available: %s",
                        e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    }
    const int dev = atas_backend_local_rank() % n;
    CU_CHECK("cuda init (cudaSetDevice)", cudaSetDevice(dev));
    /* create the context now, so a broken device fails here and not in the first op */
    CU_CHECK("cuda init", cudaFree(0));
    cublasHandle_t h = NULL;
    CB_CHECK("cuda init", cublasCreate(&h));
    cublasStatus_t s = cublasSetStream(h, 0);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
    if (s == CUBLAS_STATUS_SUCCESS) s = cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST);
    if (s != CUBLAS_STATUS_SUCCESS) {
        cublasDestroy(h);
        return ATAS_ERR(ATAS_ERR_CUDA, "cuda init: cuBLAS set-up failed: %s",
                        cublasGetStatusString(s));
    }
    atas_cuda_blas = h;
    return ATAS_OK;
}
