/* The one list of op test cases (src/backend/op_cases.c), after ggml's
 * test-backend-ops: every case names a family (how to lay out tensors for an op
 * pair and run it), its parameters, its tolerances and the modes it serves:
 *   OPC_PARITY  tests/test_backend_parity.c  a backend against the CPU backend
 *   OPC_GRAD    tests/test_ops_grad.c        backward vs central finite differences
 *   OPC_TORCH   tests/op_driver.c + test_ops_torch.py   against PyTorch (float64)
 *   OPC_BENCH / OPC_BENCH_QUICK  src/apps/atas_bench.c  timed rows (full / --quick)
 * Adding an op: its ATAS_OP in include/backend/atas/ops.def, its CPU and CUDA code, and
 * its family + case rows here (docs/backend.md walks through one). */
#ifndef ATAS_OP_CASES_H
#define ATAS_OP_CASES_H

#include "atas/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { OPC_PARITY = 1, OPC_GRAD = 2, OPC_TORCH = 4, OPC_BENCH = 8, OPC_BENCH_QUICK = 16 };

typedef enum {
    OPC_IN,    /* an input (random) */
    OPC_UP,    /* the upstream gradient of the first output (random) */
    OPC_OUT,   /* a forward output */
    OPC_SAVED, /* a forward output the backward reads (mean, rstd, lse) */
    OPC_DGRAD, /* a gradient the backward accumulates into; `of` = its input */
    OPC_INOUT  /* updated in place (optimizer state, y of axpy) */
} opc_role;

#define OPC_MAXT 16
typedef struct {
    const char *name;
    opc_role role;
    size_t n;          /* floats */
    float scale, off;  /* random fill: off + scale * N(0, 1) (scale 0: zeros) */
    double tol;        /* parity bound, max|a-b| / max|b|, for what is compared */
    int of;            /* OPC_DGRAD: index of the input it is the gradient of */
} opc_tensor;

typedef struct {
    const char *family; /* the family's name (op_driver's op, the torch reference) */
    const char *label;  /* the row name printed in every mode */
    unsigned modes;
    int p[8];           /* integer parameters, named by the family */
    float f[6];         /* float parameters */
    double fd_bound;    /* OPC_GRAD: bound on the finite-difference error */
    float fd_h;         /* OPC_GRAD: step */
    double torch_fwd, torch_bwd; /* OPC_TORCH: bounds on outputs / on gradients */
} opc_case;

typedef struct {
    const char *name;
    const char *pnames[8]; /* names of p[], for shapes printed by the benchmark */
    /* lays out the tensors of case c; returns how many */
    int (*tensors)(const opc_case *c, opc_tensor *t);
    /* run the forward / backward (NULL: none) on be; t[] in the tensors' order
     * (a NULL gradient is skipped by the op). When cost is not NULL the
     * registry's FLOP/byte counts of the calls made are added to it. */
    atas_status (*fwd)(const atas_backend *be, const opc_case *c, float **t, void *ws,
                       atas_op_cost *cost);
    atas_status (*bwd)(const atas_backend *be, const opc_case *c, float **t, void *ws,
                       atas_op_cost *cost);
    /* scratch bytes on be (NULL: none) */
    size_t (*workspace)(const atas_backend *be, const opc_case *c);
} opc_family;

extern const opc_case atas_op_cases[];
extern const int atas_op_ncases;
/* the family named, or NULL */
const opc_family *atas_op_family(const char *name);

#ifdef __cplusplus
}
#endif
#endif
