/* Backend parity: runs every op of the backend named on the command line on
 * random inputs and compares its outputs with the CPU backend's, printing
 *   op  output  max error  bound  PASS|FAIL
 * with error = max|a - b| / max|b|. The bounds are the contract a new backend
 * is held to (docs/backend.md): GEMM-based ops may compute in bf16/TF32
 * (1e-2), fp32 elementwise and normalisation ops 1e-4, data movement exact.
 * Exits 77 (skipped) when the backend is unsupported in this build/machine. */
#include <string.h>

#include "atas/backend.h"
#include "test_util.h"

#define B_GEMM 1e-2
#define B_FP32 1e-4
#define B_EXACT 0.0

static const atas_backend *cpu, *tb;
static atas_rng rng;
static int nfail, nrun;

static float *hbuf(size_t n, float sc) {
    void *p = NULL;
    T_OK(atas_host_alloc(&p, (n ? n : 1) * sizeof(float), "parity host"));
    float *f = p;
    for (size_t i = 0; i < n; i++) f[i] = sc * atas_rng_normal(&rng);
    return f;
}
static float *hcopy(const float *h, size_t n) {
    float *c = hbuf(n, 0);
    memcpy(c, h, n * sizeof(float));
    return c;
}
/* a target-backend copy of host data */
static float *dup(const float *h, size_t n) {
    void *d = NULL;
    T_OK(tb->alloc(&d, (n ? n : 1) * sizeof(float), "parity device"));
    T_OK(tb->upload(d, h, n * sizeof(float)));
    return d;
}
static void report(const char *op, const char *what, const float *dev, const float *ref, size_t n,
                   double bound) {
    float *h = hbuf(n, 0);
    T_OK(tb->sync());
    T_OK(tb->download(h, dev, n * sizeof(float)));
    double err = t_rel_err(h, ref, n, 1e-30);
    int ok = err <= bound;
    printf("%-24s %-8s %12.3e %10.1e  %s\n", op, what, err, bound, ok ? "PASS" : "FAIL");
    nfail += !ok;
    nrun++;
    atas_host_free(h);
}

static void p_linear(int M, int K, int N) {
    float *x = hbuf((size_t)M * K, 1), *W = hbuf((size_t)N * K, 0.05f), *b = hbuf(N, 1);
    float *dy = hbuf((size_t)M * N, 1), *y = hbuf((size_t)M * N, 0);
    float *dx = hbuf((size_t)M * K, 1), *dW = hbuf((size_t)N * K, 1), *db = hbuf(N, 1);
    float *Dx = dup(x, (size_t)M * K), *DW = dup(W, (size_t)N * K), *Db = dup(b, N),
          *Ddy = dup(dy, (size_t)M * N), *Dy = dup(y, (size_t)M * N), *Ddx = dup(dx, (size_t)M * K),
          *DdW = dup(dW, (size_t)N * K), *Ddb = dup(db, N);
    T_OK(cpu->linear_fwd(y, x, W, b, M, K, N));
    T_OK(tb->linear_fwd(Dy, Dx, DW, Db, M, K, N));
    report("linear_fwd", "y", Dy, y, (size_t)M * N, B_GEMM);
    T_OK(cpu->linear_bwd(dx, dW, db, dy, x, W, M, K, N));
    T_OK(tb->linear_bwd(Ddx, DdW, Ddb, Ddy, Dx, DW, M, K, N));
    report("linear_bwd", "dx", Ddx, dx, (size_t)M * K, B_GEMM);
    report("linear_bwd", "dW", DdW, dW, (size_t)N * K, B_GEMM);
    report("linear_bwd", "db", Ddb, db, N, B_FP32);
}

static void p_layernorm(int M, int C) {
    size_t n = (size_t)M * C;
    float *x = hbuf(n, 2), *w = hbuf(C, 1), *b = hbuf(C, 1), *dy = hbuf(n, 1), *y = hbuf(n, 0);
    float *mu = hbuf(M, 0), *rs = hbuf(M, 0), *dx = hbuf(n, 1), *dw = hbuf(C, 1), *db = hbuf(C, 1);
    for (size_t i = 0; i < n; i++) x[i] += 3.0f;
    float *Dx = dup(x, n), *Dw = dup(w, C), *Db = dup(b, C), *Ddy = dup(dy, n), *Dy = dup(y, n),
          *Dmu = dup(mu, M), *Drs = dup(rs, M), *Ddx = dup(dx, n), *Ddw = dup(dw, C), *Ddb = dup(db, C);
    T_OK(cpu->layernorm_fwd(y, mu, rs, x, w, b, M, C, 1e-5f));
    T_OK(tb->layernorm_fwd(Dy, Dmu, Drs, Dx, Dw, Db, M, C, 1e-5f));
    report("layernorm_fwd", "y", Dy, y, n, B_FP32);
    report("layernorm_fwd", "mean", Dmu, mu, M, B_FP32);
    report("layernorm_fwd", "rstd", Drs, rs, M, B_FP32);
    T_OK(cpu->layernorm_bwd(dx, dw, db, dy, x, w, mu, rs, M, C));
    T_OK(tb->layernorm_bwd(Ddx, Ddw, Ddb, Ddy, Dx, Dw, Dmu, Drs, M, C));
    report("layernorm_bwd", "dx", Ddx, dx, n, B_FP32);
    report("layernorm_bwd", "dw", Ddw, dw, C, B_FP32);
    report("layernorm_bwd", "db", Ddb, db, C, B_FP32);
}

static void p_attention(int B, int T, int H, int hd) {
    size_t D = (size_t)H * hd, nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D,
           nl = (size_t)B * H * T;
    float *qkv = hbuf(nq, 1), *dout = hbuf(no, 1), *out = hbuf(no, 0), *lse = hbuf(nl, 0),
          *dqkv = hbuf(nq, 1);
    float *Dqkv = dup(qkv, nq), *Ddout = dup(dout, no), *Dout = dup(out, no), *Dlse = dup(lse, nl),
          *Ddqkv = dup(dqkv, nq);
    void *ws = NULL, *Dws = NULL;
    T_OK(cpu->alloc(&ws, cpu->attention_workspace_bytes(B, T, H, hd), "ws"));
    T_OK(tb->alloc(&Dws, tb->attention_workspace_bytes(B, T, H, hd), "ws"));
    T_OK(cpu->attention_fwd(out, lse, qkv, B, T, H, hd, ws));
    T_OK(tb->attention_fwd(Dout, Dlse, Dqkv, B, T, H, hd, Dws));
    char name[32];
    snprintf(name, sizeof name, "attention_fwd T%d", T);
    report(name, "out", Dout, out, no, B_GEMM);
    report(name, "lse", Dlse, lse, nl, B_GEMM);
    T_OK(cpu->attention_bwd(dqkv, dout, qkv, out, lse, B, T, H, hd, ws));
    T_OK(tb->attention_bwd(Ddqkv, Ddout, Dqkv, Dout, Dlse, B, T, H, hd, Dws));
    snprintf(name, sizeof name, "attention_bwd T%d", T);
    report(name, "dqkv", Ddqkv, dqkv, nq, B_GEMM);
}

/* the text tower's causal forward (no backward) */
static void p_attention_causal(int B, int T, int H, int hd) {
    size_t D = (size_t)H * hd, nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D,
           nl = (size_t)B * H * T;
    float *qkv = hbuf(nq, 1), *out = hbuf(no, 0), *lse = hbuf(nl, 0);
    float *Dqkv = dup(qkv, nq), *Dout = dup(out, no), *Dlse = dup(lse, nl);
    void *ws = NULL, *Dws = NULL;
    T_OK(cpu->alloc(&ws, cpu->attention_workspace_bytes(B, T, H, hd), "ws"));
    T_OK(tb->alloc(&Dws, tb->attention_workspace_bytes(B, T, H, hd), "ws"));
    T_OK(cpu->attention_causal_fwd(out, lse, qkv, B, T, H, hd, ws));
    T_OK(tb->attention_causal_fwd(Dout, Dlse, Dqkv, B, T, H, hd, Dws));
    char name[32];
    snprintf(name, sizeof name, "attention_causal_fwd T%d", T);
    report(name, "out", Dout, out, no, B_GEMM);
    report(name, "lse", Dlse, lse, nl, B_GEMM);
}

static void p_act(atas_act kind, size_t n) {
    float *x = hbuf(n, 3), *dy = hbuf(n, 1), *y = hbuf(n, 0), *dx = hbuf(n, 1);
    float *Dx = dup(x, n), *Ddy = dup(dy, n), *Dy = dup(y, n), *Ddx = dup(dx, n);
    const char *nm = kind == ATAS_ACT_GELU ? "gelu" : "quickgelu";
    char name[32];
    T_OK(cpu->act_fwd(y, x, n, kind));
    T_OK(tb->act_fwd(Dy, Dx, n, kind));
    snprintf(name, sizeof name, "act_fwd %s", nm);
    report(name, "y", Dy, y, n, B_FP32);
    T_OK(cpu->act_bwd(dx, dy, x, n, kind));
    T_OK(tb->act_bwd(Ddx, Ddy, Dx, n, kind));
    snprintf(name, sizeof name, "act_bwd %s", nm);
    report(name, "dx", Ddx, dx, n, B_FP32);
}

static void p_elementwise(size_t n) {
    float *a = hbuf(n, 1), *b = hbuf(n, 1), *y = hbuf(n, 0);
    float *Da = dup(a, n), *Db = dup(b, n), *Dy = dup(y, n);
    T_OK(cpu->add(y, a, b, n));
    T_OK(tb->add(Dy, Da, Db, n));
    report("add", "y", Dy, y, n, B_FP32);
    T_OK(cpu->add(a, a, b, n)); /* aliasing y = a */
    T_OK(tb->add(Da, Da, Db, n));
    report("add (y aliases a)", "y", Da, a, n, B_FP32);
    T_OK(cpu->axpy(y, -0.7f, b, n));
    T_OK(tb->axpy(Dy, -0.7f, Db, n));
    report("axpy", "y", Dy, y, n, B_FP32);
    T_OK(cpu->scale(y, 1.3f, n));
    T_OK(tb->scale(Dy, 1.3f, n));
    report("scale", "y", Dy, y, n, B_FP32);
    T_OK(cpu->ema(y, b, n, 0.996f));
    T_OK(tb->ema(Dy, Db, n, 0.996f));
    report("ema", "teacher", Dy, y, n, B_FP32);
    T_OK(tb->copy(Da, Dy, n * sizeof(float)));
    report("copy", "dst", Da, y, n, B_EXACT);
    T_OK(tb->zero(Da, n * sizeof(float)));
    memset(a, 0, n * sizeof(float));
    report("zero", "dst", Da, a, n, B_EXACT);
}

static void p_resample(atas_resample kind, int ih, int iw, int oh, int ow, int C) {
    size_t ni = (size_t)ih * iw * C, no = (size_t)oh * ow * C;
    float *in = hbuf(ni, 1), *dout = hbuf(no, 1), *out = hbuf(no, 0), *din = hbuf(ni, 1);
    float *Din = dup(in, ni), *Ddout = dup(dout, no), *Dout = dup(out, no), *Ddin = dup(din, ni);
    char name[32];
    const char *nm = kind == ATAS_RESAMPLE_BICUBIC ? "bicubic" : "bilinear";
    T_OK(cpu->resample_fwd(out, in, ih, iw, oh, ow, C, kind));
    T_OK(tb->resample_fwd(Dout, Din, ih, iw, oh, ow, C, kind));
    snprintf(name, sizeof name, "resample_fwd %s", nm);
    report(name, "out", Dout, out, no, B_FP32);
    T_OK(cpu->resample_bwd(din, dout, ih, iw, oh, ow, C, kind));
    T_OK(tb->resample_bwd(Ddin, Ddout, ih, iw, oh, ow, C, kind));
    snprintf(name, sizeof name, "resample_bwd %s", nm);
    report(name, "din", Ddin, din, ni, B_FP32);
}

static void p_l2norm(int M, int C) {
    size_t n = (size_t)M * C;
    float *x = hbuf(n, 1), *dy = hbuf(n, 1), *y = hbuf(n, 0), *nr = hbuf(M, 0), *dx = hbuf(n, 1);
    float *Dx = dup(x, n), *Ddy = dup(dy, n), *Dy = dup(y, n), *Dnr = dup(nr, M), *Ddx = dup(dx, n);
    T_OK(cpu->l2norm_fwd(y, nr, x, M, C));
    T_OK(tb->l2norm_fwd(Dy, Dnr, Dx, M, C));
    report("l2norm_fwd", "y", Dy, y, n, B_FP32);
    report("l2norm_fwd", "norm", Dnr, nr, M, B_FP32);
    T_OK(cpu->l2norm_bwd(dx, dy, y, nr, M, C));
    T_OK(tb->l2norm_bwd(Ddx, Ddy, Dy, Dnr, M, C));
    report("l2norm_bwd", "dx", Ddx, dx, n, B_FP32);
}

static void p_plumbing(int B, int H, int W, int P, int D) {
    const int Np = (H / P) * (W / P), T = Np + 1;
    size_t ni = (size_t)B * 3 * H * W, ne = (size_t)B * T * D;
    float *img = hbuf(ni, 1), *pt = hbuf(ni, 0);
    float *Dimg = dup(img, ni), *Dpt = dup(pt, ni);
    T_OK(cpu->patchify(pt, img, B, H, W, P));
    T_OK(tb->patchify(Dpt, Dimg, B, H, W, P));
    report("patchify", "patches", Dpt, pt, ni, B_EXACT);
    float *pe = hbuf((size_t)B * Np * D, 1), *cls = hbuf(D, 1), *pos = hbuf((size_t)T * D, 1),
          *x = hbuf(ne, 0), *dx = hbuf(ne, 1), *dpe = hbuf((size_t)B * Np * D, 1),
          *dcls = hbuf(D, 1), *dpos = hbuf((size_t)T * D, 1);
    float *Dpe = dup(pe, (size_t)B * Np * D), *Dcls = dup(cls, D), *Dpos = dup(pos, (size_t)T * D),
          *Dx = dup(x, ne), *Ddx = dup(dx, ne), *Ddpe = dup(dpe, (size_t)B * Np * D),
          *Ddcls = dup(dcls, D), *Ddpos = dup(dpos, (size_t)T * D);
    T_OK(cpu->embed_fwd(x, pe, cls, pos, B, Np, D));
    T_OK(tb->embed_fwd(Dx, Dpe, Dcls, Dpos, B, Np, D));
    report("embed_fwd", "x", Dx, x, ne, B_FP32);
    T_OK(cpu->embed_bwd(dpe, dcls, dpos, dx, B, Np, D));
    T_OK(tb->embed_bwd(Ddpe, Ddcls, Ddpos, Ddx, B, Np, D));
    report("embed_bwd", "dpe", Ddpe, dpe, (size_t)B * Np * D, B_FP32);
    report("embed_bwd", "dcls", Ddcls, dcls, D, B_FP32);
    report("embed_bwd", "dpos", Ddpos, dpos, (size_t)T * D, B_FP32);
    const int t0 = 1, nt = T - 2;
    size_t ng = (size_t)B * nt * D;
    float *g = hbuf(ng, 0), *Dg = dup(g, ng);
    T_OK(cpu->rows_gather(g, x, B, T, D, t0, nt));
    T_OK(tb->rows_gather(Dg, Dx, B, T, D, t0, nt));
    report("rows_gather", "out", Dg, g, ng, B_EXACT);
    T_OK(cpu->rows_scatter_add(dx, g, B, T, D, t0, nt));
    T_OK(tb->rows_scatter_add(Ddx, Dg, B, T, D, t0, nt));
    report("rows_scatter_add", "din", Ddx, dx, ne, B_FP32);
}

static void p_optim(size_t n) {
    float *p = hbuf(n, 1), *m = hbuf(n, 0), *v = hbuf(n, 0), *g = hbuf(n, 0.1f);
    float *Dp = dup(p, n), *Dm = dup(m, n), *Dv = dup(v, n), *Dg = dup(g, n);
    for (int t = 1; t <= 3; t++) {
        T_OK(cpu->adamw(p, g, m, v, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, t));
        T_OK(tb->adamw(Dp, Dg, Dm, Dv, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, t));
    }
    report("adamw x3", "p", Dp, p, n, 1e-5);
    report("adamw x3", "m", Dm, m, n, 1e-5);
    report("adamw x3", "v", Dv, v, n, 1e-5);
    double s1, s2;
    T_OK(cpu->sumsq(&s1, p, n));
    T_OK(tb->sumsq(&s2, Dp, n));
    float f1 = (float)s1, f2 = (float)s2, *Df = dup(&f2, 1);
    report("sumsq", "host", Df, &f1, 1, 1e-6);
    g[5] = NAN;
    g[n - 1] = -INFINITY;
    float *Dz = dup(g, n);
    size_t c1, c2;
    T_OK(cpu->count_nonfinite(&c1, g, n));
    T_OK(tb->count_nonfinite(&c2, Dz, n));
    float e1 = (float)c1, e2 = (float)c2, *De = dup(&e2, 1);
    report("count_nonfinite", "host", De, &e1, 1, B_EXACT);
    T_ASSERT(c1 == 2, "cpu count_nonfinite found %zu, expected 2", c1);
    (void)hcopy;
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
    printf("%-24s %-8s %12s %10s  %s\n", "# op", "output", "max error", "bound", "result");
    p_linear(67, 96, 80);
    p_layernorm(33, 200);
    p_attention(2, 1, 2, 8);
    p_attention(2, 77, 3, 16);
    p_attention(1, 197, 2, 64);
    p_attention_causal(2, 1, 2, 8);
    p_attention_causal(3, 77, 2, 16);
    p_attention_causal(1, 150, 2, 32);
    p_act(ATAS_ACT_QUICKGELU, 100003);
    p_act(ATAS_ACT_GELU, 1001);
    p_elementwise(70001);
    p_resample(ATAS_RESAMPLE_BICUBIC, 14, 14, 16, 20, 40);
    p_resample(ATAS_RESAMPLE_BILINEAR, 13, 9, 6, 11, 3);
    p_l2norm(9, 512);
    p_plumbing(2, 32, 48, 16, 24);
    p_optim(50000);
    printf("# %d outputs compared, %d failed\n", nrun, nfail);
    t_failures += nfail;
    return t_finish("test_backend_parity");
}
