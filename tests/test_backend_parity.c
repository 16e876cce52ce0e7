/* Backend parity: every OPC_PARITY case of the op registry's case list
 * (src/backend/op_cases.c) runs on the backend named on the command line and on
 * the CPU backend from the same random inputs, and every output, saved
 * statistic and (accumulated) gradient is compared, printing
 *   case  output  max error  bound  PASS|FAIL
 * with error = max|a - b| / max|b|. The bounds are the contract a new backend
 * is held to (docs/backend.md): GEMM-based ops may compute in bf16/TF32
 * (1e-2), fp32 elementwise and normalisation ops 1e-4, data movement exact.
 * Exits 77 (skipped) when the backend is unsupported in this build/machine.
 *
 * With a precision as second argument (tf32 | bf16) the backend runs at that
 * precision against the fp32 CPU backend: the GEMM-based outputs (those with the
 * GEMM bound) are held to the precision's bound PREC_C * u (u = unit roundoff:
 * 2^-8 bf16, 2^-11 tf32; docs/backend.md "Precision" derives it) AND must differ
 * from fp32 by at least u / PREC_FLOOR (the rounding is really applied); every
 * other output keeps its fp32 bound (the precision touches GEMMs only). */
#include <string.h>

#include "atas/op_cases.h"
#include "test_util.h"

static const atas_backend *cpu, *tb;
static atas_rng rng;
static int nfail, nrun;
static atas_precision g_prec = ATAS_PREC_FP32;
/* the precision bound: a chain of at most ~4 rounded GEMM stages (attention's
 * backward) of ~u each at the max-norm, times 2 for the tails of the max */
#define PREC_C 8.0
/* the least error that shows the rounding is applied (measured errors are ~u) */
#define PREC_FLOOR 64.0
static double unit_roundoff(atas_precision p) {
    return p == ATAS_PREC_BF16 ? 1.0 / 256 : p == ATAS_PREC_TF32 ? 1.0 / 2048 : 0.0;
}

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
    if (g_prec != ATAS_PREC_FP32 && bound == 1e-2) { /* a GEMM-based output (op_cases.c's B_GEMM) */
        const double u = unit_roundoff(g_prec);
        bound = PREC_C * u;
        ok = err <= bound && err >= u / PREC_FLOOR;
        printf("%-28s %-8s %12.3e %10.1e  %s  (%.2f u; floor %.1e)\n", op, what, err, bound,
               ok ? "PASS" : "FAIL", err / u, u / PREC_FLOOR);
    } else
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
    if (argc > 2) T_OK(atas_precision_parse(argv[2], &g_prec));
    atas_status st = atas_backend_get_precision(name, g_prec, &tb);
    if (st == ATAS_ERR_UNSUPPORTED) {
        printf("backend \"%s\" unsupported here, skipped: %s\n", name, atas_error_message());
        return 77;
    }
    T_OK(st);
    rng = atas_rng_stream(99, 1, 2);
    printf("# backend parity: \"%s\" at precision %s against \"cpu\" fp32; error = max|a-b| / max|b|\n",
           tb->name, atas_precision_name((atas_precision)tb->precision));
    printf("%-28s %-8s %12s %10s  %s\n", "# case", "output", "max error", "bound", "result");
    for (int i = 0; i < atas_op_ncases; i++)
        if (atas_op_cases[i].modes & OPC_PARITY) run_case(&atas_op_cases[i]);
    printf("# %d outputs compared, %d failed\n", nrun, nfail);
    T_ASSERT(nrun > 0, "no parity case ran");
    t_failures += nfail;
    return t_finish("test_backend_parity");
}
