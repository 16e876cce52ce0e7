/* Backend parity: every OPC_PARITY case of the op registry's case list
 * (src/backend/op_cases.c) runs on the backend named on the command line and on
 * the CPU backend from the same random inputs, and every output, saved
 * statistic and (accumulated) gradient is compared, printing
 *   case  output  max error  bound  PASS|FAIL
 * with error = max|a - b| / max|b|. The bounds are the contract a new backend
 * is held to (docs/backend.md): GEMM-based ops may compute in bf16/TF32
 * (1e-2), fp32 elementwise and normalisation ops 1e-4, data movement exact.
 * Exits 77 (skipped) when the backend is unsupported in this build/machine. */
#include <string.h>

#include "atas/op_cases.h"
#include "test_util.h"

static const atas_backend *cpu, *tb;
static atas_rng rng;
static int nfail, nrun;

static float *hbuf(size_t n, float sc, float off) {
    void *p = NULL;
    T_OK(atas_host_calloc(&p, (n ? n : 1) * sizeof(float), "parity host"));
    float *f = p;
    if (sc != 0)
        for (size_t i = 0; i < n; i++) f[i] = off + sc * atas_rng_normal(&rng);
    return f;
}
/* a target-backend copy of host data */
static float *dup(const float *h, size_t n) {
    void *d = NULL;
    T_OK(tb->alloc(tb, &d, (n ? n : 1) * sizeof(float), "parity device"));
    T_OK(tb->upload(tb, d, h, n * sizeof(float)));
    return d;
}
static void report(const char *op, const char *what, const float *dev, const float *ref, size_t n,
                   double bound) {
    float *h = hbuf(n, 0, 0);
    T_OK(tb->sync(tb));
    T_OK(tb->download(tb, h, dev, n * sizeof(float)));
    double err = t_rel_err(h, ref, n, 1e-30);
    int ok = err <= bound;
    printf("%-28s %-8s %12.3e %10.1e  %s\n", op, what, err, bound, ok ? "PASS" : "FAIL");
    nfail += !ok;
    nrun++;
    atas_host_free(h);
}

static void run_case(const opc_case *c) {
    const opc_family *f = atas_op_family(c->family);
    T_ASSERT(f, "case %s: unknown family %s", c->label, c->family);
    if (!f) return;
    opc_tensor t[OPC_MAXT];
    const int nt = f->tensors(c, t);
    float *h[OPC_MAXT], *d[OPC_MAXT];
    for (int k = 0; k < nt; k++) {
        /* gradients start random: the backward must accumulate onto them */
        h[k] = hbuf(t[k].n, t[k].scale, t[k].off);
        d[k] = dup(h[k], t[k].n);
    }
    void *ws = NULL, *dws = NULL;
    if (f->workspace) {
        T_OK(cpu->alloc(cpu, &ws, f->workspace(cpu, c), "ws"));
        T_OK(tb->alloc(tb, &dws, f->workspace(tb, c), "ws"));
    }
    T_OK(f->fwd(cpu, c, h, ws, NULL));
    T_OK(f->fwd(tb, c, d, dws, NULL));
    if (f->bwd) {
        T_OK(f->bwd(cpu, c, h, ws, NULL));
        T_OK(f->bwd(tb, c, d, dws, NULL));
    }
    for (int k = 0; k < nt; k++)
        if (t[k].role != OPC_IN && t[k].role != OPC_UP)
            report(c->label, t[k].name, d[k], h[k], t[k].n, t[k].tol);
    for (int k = 0; k < nt; k++) {
        atas_host_free(h[k]);
        tb->free(tb, d[k]);
    }
    cpu->free(cpu, ws);
    tb->free(tb, dws);
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "cpu";
    cpu = atas_backend_cpu();
    atas_status st = atas_backend_get(name, &tb);
    if (st == ATAS_ERR_UNSUPPORTED) {
        printf("backend \"%s\" unsupported here, skipped: %s\n", name, atas_error_message());
        return 77;
    }
    T_OK(st);
    rng = atas_rng_stream(99, 1, 2);
    printf("# backend parity: \"%s\" against \"cpu\"; error = max|a-b| / max|b|\n", tb->name);
    printf("%-28s %-8s %12s %10s  %s\n", "# case", "output", "max error", "bound", "result");
    for (int i = 0; i < atas_op_ncases; i++)
        if (atas_op_cases[i].modes & OPC_PARITY) run_case(&atas_op_cases[i]);
    printf("# %d outputs compared, %d failed\n", nrun, nfail);
    T_ASSERT(nrun > 0, "no parity case ran");
    t_failures += nfail;
    return t_finish("test_backend_parity");
}
