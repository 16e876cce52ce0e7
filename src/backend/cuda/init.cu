/* The CUDA backend context, once per process (cuda_table.c holds the lock): one
 * device per local rank (device = local rank % visible devices; ranks that land
 * on one GPU are refused by the comm layer unless ATAS_SHARE_GPU=1), a non-blocking compute
 * stream, a communication stream, cuBLAS and cuBLASLt bound to the compute
 * stream, a cuBLASLt workspace and the events that order the two streams.
 * The handle's math mode stays CUBLAS_DEFAULT_MATH, so cublasSgemm (precision
 * fp32) does not use TF32 tensor cores and parity with the CPU stays tight; the
 * tf32/bf16 precisions ask for tensor cores per call through cublasGemmEx's
 * compute type (atas_cu_sgemm, cuda_common.cuh). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/cuda/cuda_common.cuh"

extern "C" const char *atas_cu_where(void) {
    static thread_local char buf[160];
    char host[64] = "?";
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "?");
    host[sizeof host - 1] = 0;
    int d = -1;
    if (cudaGetDevice(&d) != cudaSuccess) {
        (void)cudaGetLastError(); /* the failure being reported stays the one to report */
        d = -1;
    }
    char dev[16] = "?";
    if (d >= 0) snprintf(dev, sizeof dev, "%d", d);
    snprintf(buf, sizeof buf, "rank %d of %d, host %s, GPU %s", atas_log_rank(), atas_log_world(), host, dev);
    return buf;
}

extern "C" void atas_cuda_device_id(const atas_backend *be, char *out, size_t bytes) {
    if (bytes) snprintf(out, bytes, "%s", atas_cu_ctx(be)->busid);
}

extern "C" size_t atas_cuda_mem_used(const atas_backend *be) {
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return total_b - free_b;
}

#define LT_WORKSPACE_BYTES ((size_t)32 << 20)

static atas_status ctx_setup(atas_cuda_ctx *c) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        (void)cudaGetLastError(); /* do not leave the failure for a later check */
        return ATAS_ERR(ATAS_ERR_UNSUPPORTED, "backend \"cuda\": no CUDA device available to rank %d of %d on "
                        "host %s: %s (CUDA_VISIBLE_DEVICES=%s; run.backend = \"cpu\" runs without one)",
                        atas_log_rank(), atas_log_world(), c->host,
                        e != cudaSuccess ? cudaGetErrorString(e) : "0 devices",
                        getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "unset");
    }
    /* whether ranks really share a device is decided by the comm layer, which compares
     * the ranks' bus ids (atas_comm_check_devices): with one visible GPU per rank
     * (Slurm --gpus-per-task=1) every rank sees device 0 of a different GPU */
    const int lr = atas_backend_local_rank(), ls = atas_backend_local_size();
    c->ndevices = n;
    c->shared = ls > n; /* a hint for messages only */
    c->device = lr % n;
    CU_CHECK("cuda init (cudaSetDevice)", cudaSetDevice(c->device));
    CU_CHECK("cuda init (cudaDeviceGetPCIBusId)", cudaDeviceGetPCIBusId(c->busid, sizeof c->busid, c->device));
    /* create the context now, so a broken device fails here and not in the first op */
    CU_CHECK("cuda init", cudaFree(0));
    CU_CHECK("cuda init (device attributes)",
             cudaDeviceGetAttribute(&c->cc_major, cudaDevAttrComputeCapabilityMajor, c->device));
    CU_CHECK("cuda init (device attributes)",
             cudaDeviceGetAttribute(&c->smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, c->device));
    CU_CHECK("cuda init (compute stream)", cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    CU_CHECK("cuda init (comm stream)", cudaStreamCreateWithFlags(&c->comm_stream, cudaStreamNonBlocking));
    CU_CHECK("cuda init (copy stream)", cudaStreamCreateWithFlags(&c->copy_stream, cudaStreamNonBlocking));
    CU_CHECK("cuda init (events)", cudaEventCreateWithFlags(&c->ev_copy, cudaEventDisableTiming));
    CU_CHECK("cuda init (events)", cudaEventCreateWithFlags(&c->ev_compute, cudaEventDisableTiming));
    CU_CHECK("cuda init (events)", cudaEventCreateWithFlags(&c->ev_comm, cudaEventDisableTiming));
    CU_CHECK("cuda init (events)", cudaEventCreate(&c->ev_c0));
    CU_CHECK("cuda init (events)", cudaEventCreate(&c->ev_c1));
    CB_CHECK("cuda init", cublasCreate(&c->blas));
    CB_CHECK("cuda init", cublasSetStream(c->blas, c->stream));
    CB_CHECK("cuda init", cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH));
    CB_CHECK("cuda init", cublasSetPointerMode(c->blas, CUBLAS_POINTER_MODE_HOST));
    CB_CHECK("cuda init", cublasLtCreate(&c->lt));
    c->lt_ws_bytes = LT_WORKSPACE_BYTES;
    ATAS_CHECK(atas_cu_malloc(c, &c->lt_ws, c->lt_ws_bytes, "the cuBLASLt workspace"));
    /* cuBLAS picks its own workspace for the compute stream: give it the same one */
    CB_CHECK("cuda init", cublasSetWorkspace(c->blas, c->lt_ws, c->lt_ws_bytes));
    c->scratch_floats = (size_t)2 * 64 * 16384; /* 8 MiB: 2 outputs x 64 slabs x 16384 columns */
    ATAS_CHECK(atas_cu_malloc(c, (void **)&c->scratch, c->scratch_floats * sizeof(float), "the ops' scratch"));
    return ATAS_OK;
}

extern "C" atas_status atas_cuda_ctx_create(void **out) {
    *out = NULL;
    atas_cuda_ctx *c = (atas_cuda_ctx *)calloc(1, sizeof *c);
    ATAS_REQUIRE(c, "backend \"cuda\": out of host memory for the context");
    if (gethostname(c->host, sizeof c->host - 1) != 0) strcpy(c->host, "?");
    const atas_status st = ctx_setup(c);
    if (st != ATAS_OK) {
        atas_cuda_ctx_destroy(c);
        return atas_error_trace(st, __FILE__, __LINE__, __func__);
    }
    *out = c;
    return ATAS_OK;
}

/* best effort: at process end nothing can be done about a failure */
extern "C" void atas_cuda_ctx_destroy(void *p) {
    atas_cuda_ctx *c = (atas_cuda_ctx *)p;
    if (!c) return;
    if (c->stream) (void)cudaStreamSynchronize(c->stream);
    if (c->copy_stream) (void)cudaStreamSynchronize(c->copy_stream); /* pinned sources may be freed next */
    if (c->nccl) (void)ncclCommAbort(c->nccl); /* coll_destroy finalizes it properly first */
    if (c->blas) (void)cublasDestroy(c->blas);
    atas_cu_lt_release(c);
    if (c->lt) (void)cublasLtDestroy(c->lt);
    if (c->lt_ws) (void)cudaFree(c->lt_ws);
    if (c->scratch) (void)cudaFree(c->scratch);
    cudaEvent_t ev[] = {c->ev_compute, c->ev_comm, c->ev_copy, c->ev_c0, c->ev_c1};
    for (int i = 0; i < 5; i++)
        if (ev[i]) (void)cudaEventDestroy(ev[i]);
    if (c->comm_stream) (void)cudaStreamDestroy(c->comm_stream);
    if (c->copy_stream) (void)cudaStreamDestroy(c->copy_stream);
    if (c->stream) (void)cudaStreamDestroy(c->stream);
    (void)cudaGetLastError();
    free(c);
}
