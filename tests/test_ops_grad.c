/* Every CPU op with a backward against central finite differences of the
 * scalar loss L = sum(r * y) (r a fixed random projection, L summed in double):
 * the backward with upstream r must give dL/dinput. Also checks that backward
 * ops accumulate (two calls = twice the gradient), that a NULL gradient is
 * skipped without touching the others, and that bad arguments are refused. */
#include <string.h>

#include "atas/backend.h"
#include "test_util.h"

static const atas_backend *be;
static atas_rng rng;

static float *buf(size_t n) {
    void *p = NULL;
    T_OK(atas_host_calloc(&p, (n ? n : 1) * sizeof(float), "test"));
    return p;
}
static void fill(float *x, size_t n, float sc, float off) {
    for (size_t i = 0; i < n; i++) x[i] = off + sc * atas_rng_normal(&rng);
}
static double dot(const float *r, const float *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)r[i] * y[i];
    return s;
}

/* one op under test: inputs x[k] with gradient buffers g[k] */
#define MAXG 4
typedef struct {
    const char *name;
    int ng;
    float *x[MAXG], *g[MAXG];
    size_t n[MAXG];
    const char *gname[MAXG];
    double (*loss)(void);     /* forward at the current inputs -> sum r*y (also refreshes saved stats) */
    void (*bwd)(unsigned m);  /* backward with upstream r into g[k] for bits k set in m, NULL otherwise */
    float h;
    double bound;
} opcase;

static void run_case(const opcase *c) {
    const unsigned all = (1u << c->ng) - 1;
    float *g1[MAXG];
    c->loss();
    for (int k = 0; k < c->ng; k++) memset(c->g[k], 0, c->n[k] * sizeof(float));
    c->bwd(all);
    for (int k = 0; k < c->ng; k++) {
        g1[k] = buf(c->n[k]);
        memcpy(g1[k], c->g[k], c->n[k] * sizeof(float));
    }
    /* finite differences on up to 40 coordinates per input */
    for (int k = 0; k < c->ng; k++) {
        size_t n = c->n[k], cnt = n < 40 ? n : 40;
        double maxd = 0, maxref = 1e-3;
        for (size_t s = 0; s < cnt; s++) {
            size_t i = n <= 40 ? s : atas_rng_below(&rng, (uint32_t)n);
            float save = c->x[k][i];
            c->x[k][i] = save + c->h;
            double lp = c->loss();
            c->x[k][i] = save - c->h;
            double lm = c->loss();
            c->x[k][i] = save;
            double fd = (lp - lm) / (2.0 * c->h);
            double d = fabs(fd - g1[k][i]);
            if (d > maxd || d != d) maxd = d;
            if (fabs(fd) > maxref) maxref = fabs(fd);
        }
        double err = maxd / maxref;
        printf("  %-22s d%-6s fd error %.2e (bound %.0e)\n", c->name, c->gname[k], err, c->bound);
        T_ASSERT(err <= c->bound, "%s: d%s disagrees with finite differences (%.3e)", c->name,
                 c->gname[k], err);
    }
    c->loss();
    /* accumulation: a second call adds the same gradient again */
    c->bwd(all);
    for (int k = 0; k < c->ng; k++) {
        for (size_t i = 0; i < c->n[k]; i++) g1[k][i] *= 2.0f;
        double e = t_rel_err(c->g[k], g1[k], c->n[k], 1e-6);
        T_ASSERT(e < 1e-5, "%s: two backward calls do not give 2x d%s (%.3e)", c->name,
                 c->gname[k], e);
        for (size_t i = 0; i < c->n[k]; i++) g1[k][i] *= 0.5f;
    }
    /* NULL gradient k: skipped, the others unchanged */
    for (int skip = 0; skip < c->ng; skip++) {
        for (int k = 0; k < c->ng; k++) memset(c->g[k], 0, c->n[k] * sizeof(float));
        c->bwd(all & ~(1u << skip));
        for (int k = 0; k < c->ng; k++) {
            double e = t_rel_err(c->g[k], g1[k], c->n[k], 1e-6);
            if (k == skip) {
                int zero = 1;
                for (size_t i = 0; i < c->n[k]; i++) zero &= c->g[k][i] == 0.0f;
                T_ASSERT(zero, "%s: NULL d%s was written", c->name, c->gname[k]);
            } else {
                T_ASSERT(e < 1e-6, "%s: d%s changed when d%s is NULL (%.3e)", c->name,
                         c->gname[k], c->gname[skip], e);
            }
        }
    }
    for (int k = 0; k < c->ng; k++) atas_host_free(g1[k]);
}

#define G(m, k, p) (((m) >> (k)) & 1 ? (p) : NULL)

/* ---------------------------------------------------------------- linear */
static struct { int M, K, N; float *x, *W, *b, *y, *r, *dx, *dW, *db; } L;
static double lin_loss(void) {
    T_OK(be->linear_fwd(L.y, L.x, L.W, L.b, L.M, L.K, L.N));
    return dot(L.r, L.y, (size_t)L.M * L.N);
}
static void lin_bwd(unsigned m) {
    T_OK(be->linear_bwd(G(m, 0, L.dx), G(m, 1, L.dW), G(m, 2, L.db), L.r, L.x, L.W, L.M, L.K, L.N));
}
static void test_linear(void) {
    L.M = 5; L.K = 7; L.N = 6;
    L.x = buf(35); L.W = buf(42); L.b = buf(6); L.y = buf(30); L.r = buf(30);
    L.dx = buf(35); L.dW = buf(42); L.db = buf(6);
    fill(L.x, 35, 1, 0); fill(L.W, 42, 0.5f, 0); fill(L.b, 6, 1, 0); fill(L.r, 30, 1, 0);
    opcase c = {"linear", 3, {L.x, L.W, L.b}, {L.dx, L.dW, L.db}, {35, 42, 6}, {"x", "W", "b"},
                lin_loss, lin_bwd, 1e-2f, 2e-3};
    run_case(&c);
    /* b = NULL: the same product without the bias */
    float *y0 = buf(30);
    T_OK(be->linear_fwd(y0, L.x, L.W, NULL, L.M, L.K, L.N));
    lin_loss();
    for (int i = 0; i < 30; i++) y0[i] += L.b[i % 6];
    T_ASSERT(t_rel_err(y0, L.y, 30, 1e-6) < 1e-6, "linear without bias is not y - b");
    atas_host_free(y0);
}

/* ---------------------------------------------------------------- layernorm */
static struct { int M, C; float *x, *w, *b, *y, *mu, *rs, *r, *dx, *dw, *db; } N;
static double ln_loss(void) {
    T_OK(be->layernorm_fwd(N.y, N.mu, N.rs, N.x, N.w, N.b, N.M, N.C, 1e-5f));
    return dot(N.r, N.y, (size_t)N.M * N.C);
}
static void ln_bwd(unsigned m) {
    T_OK(be->layernorm_bwd(G(m, 0, N.dx), G(m, 1, N.dw), G(m, 2, N.db), N.r, N.x, N.w, N.mu, N.rs,
                           N.M, N.C));
}
static void test_layernorm(void) {
    N.M = 4; N.C = 33;
    size_t n = 4 * 33;
    N.x = buf(n); N.w = buf(33); N.b = buf(33); N.y = buf(n); N.mu = buf(4); N.rs = buf(4);
    N.r = buf(n); N.dx = buf(n); N.dw = buf(33); N.db = buf(33);
    fill(N.x, n, 2, 3); fill(N.w, 33, 0.5f, 1); fill(N.b, 33, 1, 0); fill(N.r, n, 1, 0);
    opcase c = {"layernorm", 3, {N.x, N.w, N.b}, {N.dx, N.dw, N.db}, {n, 33, 33}, {"x", "w", "b"},
                ln_loss, ln_bwd, 1e-2f, 1e-2};
    run_case(&c);
}

/* ---------------------------------------------------------------- attention */
static struct { int B, T, H, hd; float *qkv, *out, *lse, *r, *dqkv; void *ws; } A;
static double att_loss(void) {
    T_OK(be->attention_fwd(A.out, A.lse, A.qkv, A.B, A.T, A.H, A.hd, A.ws));
    return dot(A.r, A.out, (size_t)A.B * A.T * A.H * A.hd);
}
static void att_bwd(unsigned m) {
    T_OK(be->attention_bwd(G(m, 0, A.dqkv), A.r, A.qkv, A.out, A.lse, A.B, A.T, A.H, A.hd, A.ws));
}
static void test_attention(int B, int T, int H, int hd) {
    A.B = B; A.T = T; A.H = H; A.hd = hd;
    size_t D = (size_t)H * hd, nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D;
    A.qkv = buf(nq); A.out = buf(no); A.lse = buf((size_t)B * H * T); A.r = buf(no); A.dqkv = buf(nq);
    size_t wsb = be->attention_workspace_bytes(B, T, H, hd);
    T_OK(be->alloc(&A.ws, wsb, "attention workspace"));
    fill(A.qkv, nq, 1.0f, 0); fill(A.r, no, 1, 0);
    char name[64];
    snprintf(name, sizeof name, "attention T=%d H=%d", T, H);
    opcase c = {name, 1, {A.qkv}, {A.dqkv}, {nq}, {"qkv"}, att_loss, att_bwd, 1e-2f, 1e-2};
    run_case(&c);
    /* the saved lse is the log-sum-exp of the scaled scores of row 0, head 0 */
    double mx = -1e30, s = 0, sc = 1.0 / sqrt((double)hd);
    double sco[1024];
    for (int j = 0; j < T && j < 1024; j++) {
        double d = 0;
        for (int c2 = 0; c2 < hd; c2++) d += (double)A.qkv[c2] * A.qkv[(size_t)j * 3 * D + D + c2];
        sco[j] = d * sc;
        if (sco[j] > mx) mx = sco[j];
    }
    for (int j = 0; j < T; j++) s += exp(sco[j] - mx);
    T_ASSERT(fabs(mx + log(s) - A.lse[0]) < 1e-4 * (1 + fabs(A.lse[0])), "%s: lse[0] %g vs %g",
             name, A.lse[0], mx + log(s));
    be->free(A.ws);
    atas_host_free(A.qkv); atas_host_free(A.out); atas_host_free(A.lse); atas_host_free(A.r);
    atas_host_free(A.dqkv);
}

/* ---------------------------------------------------------------- activation */
static struct { size_t n; atas_act kind; float *x, *y, *r, *dx; } Ac;
static double act_loss(void) {
    T_OK(be->act_fwd(Ac.y, Ac.x, Ac.n, Ac.kind));
    return dot(Ac.r, Ac.y, Ac.n);
}
static void act_bwd(unsigned m) { T_OK(be->act_bwd(G(m, 0, Ac.dx), Ac.r, Ac.x, Ac.n, Ac.kind)); }
static void test_act(atas_act kind) {
    Ac.n = 60; Ac.kind = kind;
    Ac.x = buf(60); Ac.y = buf(60); Ac.r = buf(60); Ac.dx = buf(60);
    fill(Ac.x, 60, 2.5f, 0); fill(Ac.r, 60, 1, 0);
    opcase c = {kind == ATAS_ACT_GELU ? "gelu" : "quickgelu", 1, {Ac.x}, {Ac.dx}, {60}, {"x"},
                act_loss, act_bwd, 1e-2f, 1e-2};
    run_case(&c);
}

/* ---------------------------------------------------------------- resample */
static struct { int ih, iw, oh, ow, C; atas_resample kind; float *in, *out, *r, *din; } R;
static double rs_loss(void) {
    T_OK(be->resample_fwd(R.out, R.in, R.ih, R.iw, R.oh, R.ow, R.C, R.kind));
    return dot(R.r, R.out, (size_t)R.oh * R.ow * R.C);
}
static void rs_bwd(unsigned m) {
    T_OK(be->resample_bwd(G(m, 0, R.din), R.r, R.ih, R.iw, R.oh, R.ow, R.C, R.kind));
}
static void test_resample(atas_resample kind, int ih, int iw, int oh, int ow, int C) {
    R.ih = ih; R.iw = iw; R.oh = oh; R.ow = ow; R.C = C; R.kind = kind;
    size_t ni = (size_t)ih * iw * C, no = (size_t)oh * ow * C;
    R.in = buf(ni); R.out = buf(no); R.r = buf(no); R.din = buf(ni);
    fill(R.in, ni, 1, 0); fill(R.r, no, 1, 0);
    char name[64];
    snprintf(name, sizeof name, "%s %dx%d->%dx%d", kind == ATAS_RESAMPLE_BICUBIC ? "bicubic" : "bilinear",
             ih, iw, oh, ow);
    opcase c = {name, 1, {R.in}, {R.din}, {ni}, {"in"}, rs_loss, rs_bwd, 1e-2f, 2e-3};
    run_case(&c);
    /* a constant field stays constant (weights sum to 1) */
    for (size_t i = 0; i < ni; i++) R.in[i] = 1.5f;
    rs_loss();
    for (size_t i = 0; i < no; i++)
        if (fabsf(R.out[i] - 1.5f) > 1e-5f) {
            T_ASSERT(0, "%s: constant input not preserved (%g)", name, R.out[i]);
            break;
        }
    atas_host_free(R.in); /* the sanitizer job checks leaks */
    atas_host_free(R.out);
    atas_host_free(R.r);
    atas_host_free(R.din);
}

/* ---------------------------------------------------------------- l2norm */
static struct { int M, C; float *x, *y, *nrm, *r, *dx; } Q;
static double l2_loss(void) {
    T_OK(be->l2norm_fwd(Q.y, Q.nrm, Q.x, Q.M, Q.C));
    return dot(Q.r, Q.y, (size_t)Q.M * Q.C);
}
static void l2_bwd(unsigned m) { T_OK(be->l2norm_bwd(G(m, 0, Q.dx), Q.r, Q.y, Q.nrm, Q.M, Q.C)); }
static void test_l2norm(void) {
    Q.M = 3; Q.C = 10;
    Q.x = buf(30); Q.y = buf(30); Q.nrm = buf(3); Q.r = buf(30); Q.dx = buf(30);
    fill(Q.x, 30, 1, 0); fill(Q.r, 30, 1, 0);
    opcase c = {"l2norm", 1, {Q.x}, {Q.dx}, {30}, {"x"}, l2_loss, l2_bwd, 1e-2f, 1e-2};
    run_case(&c);
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int j = 0; j < 10; j++) s += (double)Q.y[i * 10 + j] * Q.y[i * 10 + j];
        T_ASSERT(fabs(s - 1) < 1e-5, "l2norm: row %d has norm^2 %g", i, s);
    }
}

/* ---------------------------------------------------------------- embed + rows */
static struct { int B, Np, D; float *pe, *cls, *pos, *x, *r, *dpe, *dcls, *dpos; } E;
static double emb_loss(void) {
    T_OK(be->embed_fwd(E.x, E.pe, E.cls, E.pos, E.B, E.Np, E.D));
    return dot(E.r, E.x, (size_t)E.B * (E.Np + 1) * E.D);
}
static void emb_bwd(unsigned m) {
    T_OK(be->embed_bwd(G(m, 0, E.dpe), G(m, 1, E.dcls), G(m, 2, E.dpos), E.r, E.B, E.Np, E.D));
}
static void test_embed(void) {
    E.B = 2; E.Np = 3; E.D = 4;
    E.pe = buf(24); E.cls = buf(4); E.pos = buf(16); E.x = buf(32); E.r = buf(32);
    E.dpe = buf(24); E.dcls = buf(4); E.dpos = buf(16);
    fill(E.pe, 24, 1, 0); fill(E.cls, 4, 1, 0); fill(E.pos, 16, 1, 0); fill(E.r, 32, 1, 0);
    opcase c = {"embed", 3, {E.pe, E.cls, E.pos}, {E.dpe, E.dcls, E.dpos}, {24, 4, 16},
                {"pe", "cls", "pos"}, emb_loss, emb_bwd, 1e-2f, 2e-3};
    run_case(&c);
}

static struct { int B, T, C, t0, nt; float *in, *out, *r, *din; } Rw;
static double rows_loss(void) {
    T_OK(be->rows_gather(Rw.out, Rw.in, Rw.B, Rw.T, Rw.C, Rw.t0, Rw.nt));
    return dot(Rw.r, Rw.out, (size_t)Rw.B * Rw.nt * Rw.C);
}
static void rows_bwd(unsigned m) {
    T_OK(be->rows_scatter_add(G(m, 0, Rw.din), Rw.r, Rw.B, Rw.T, Rw.C, Rw.t0, Rw.nt));
}
static void test_rows(void) {
    Rw.B = 2; Rw.T = 5; Rw.C = 3; Rw.t0 = 1; Rw.nt = 3;
    Rw.in = buf(30); Rw.out = buf(18); Rw.r = buf(18); Rw.din = buf(30);
    fill(Rw.in, 30, 1, 0); fill(Rw.r, 18, 1, 0);
    opcase c = {"rows_gather", 1, {Rw.in}, {Rw.din}, {30}, {"in"}, rows_loss, rows_bwd, 1e-2f, 2e-3};
    run_case(&c);
}

/* ---------------------------------------------------------------- bad inputs */
static void test_bad_inputs(void) {
    const atas_backend *b2 = NULL;
    float x[64] = {0}, y[64];
    T_ASSERT(atas_backend_get("tpu", &b2) == ATAS_ERR_INVALID && !b2, "unknown backend accepted");
    T_ASSERT(atas_backend_get("cuda", &b2) != ATAS_OK ? strstr(atas_error_message(), "cuda") != NULL : 1,
             "cuda refusal does not name the backend: %s", atas_error_message());
    T_OK(atas_backend_get("cpu", &b2));
    T_ASSERT(b2 == atas_backend_cpu() && strcmp(b2->name, "cpu") == 0, "cpu backend lookup");
    T_ASSERT(be->rows_gather(y, x, 1, 4, 2, 3, 2) == ATAS_ERR_INVALID, "rows past T accepted");
    T_ASSERT(be->patchify(y, x, 1, 5, 4, 2) == ATAS_ERR_INVALID, "patchify H %% P != 0 accepted");
    T_ASSERT(be->linear_fwd(y, x, x, NULL, 2, 0, 2) == ATAS_ERR_INVALID, "linear K=0 accepted");
    T_ASSERT(be->attention_fwd(y, NULL, x, 1, 2, 1, 2, NULL) == ATAS_ERR_INVALID,
             "attention without workspace accepted");
    T_ASSERT(be->layernorm_bwd(y, NULL, NULL, x, x, NULL, NULL, NULL, 1, 4) == ATAS_ERR_INVALID,
             "layernorm_bwd without saved stats accepted");
    T_ASSERT(be->adamw(x, x, x, x, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0, 0) == ATAS_ERR_INVALID,
             "adamw step 0 accepted");
    T_ASSERT(be->act_fwd(y, x, 4, (atas_act)7) == ATAS_ERR_INVALID, "unknown activation accepted");
    T_ASSERT(be->resample_fwd(y, x, 2, 2, 0, 2, 1, ATAS_RESAMPLE_BILINEAR) == ATAS_ERR_INVALID,
             "empty resample accepted");
    atas_error_clear();
    /* thread control: set, read back, and <= 0 keeps the current value */
    int t0 = atas_cpu_threads();
    atas_cpu_set_threads(1);
    T_ASSERT(atas_cpu_threads() == 1, "atas_cpu_set_threads(1) gave %d", atas_cpu_threads());
    atas_cpu_set_threads(0);
    T_ASSERT(atas_cpu_threads() == 1, "atas_cpu_set_threads(0) changed the count");
    atas_cpu_set_threads(t0);
    T_ASSERT(atas_cpu_threads() == t0, "threads not restored to %d", t0);
}

int main(void) {
    be = atas_backend_cpu();
    rng = atas_rng_stream(1234, 0, 0);
    test_linear();
    test_layernorm();
    test_attention(1, 1, 1, 4);
    test_attention(2, 5, 2, 3);
    test_attention(1, 70, 2, 4);
    test_attention(1, 131, 1, 8);
    test_act(ATAS_ACT_QUICKGELU);
    test_act(ATAS_ACT_GELU);
    test_resample(ATAS_RESAMPLE_BICUBIC, 5, 6, 7, 4, 3);
    test_resample(ATAS_RESAMPLE_BILINEAR, 5, 6, 7, 4, 3);
    test_resample(ATAS_RESAMPLE_BICUBIC, 4, 4, 9, 9, 2);
    test_l2norm();
    test_embed();
    test_rows();
    test_bad_inputs();
    return t_finish("test_ops_grad");
}
