/* Every OPC_GRAD case of the op registry's case list (src/backend/op_cases.c)
 * on the CPU backend against central finite differences of the scalar loss
 * L = sum(r * y) (y the case's first output, r its upstream gradient, L summed
 * in double): the backward with upstream r must give dL/dinput. Also checks
 * that backward ops accumulate (two calls = twice the gradient), that a NULL
 * gradient is skipped without touching the others, and, beyond the list, a few
 * properties of single ops and that bad arguments are refused. */
#include <string.h>

#include "atas/op_cases.h"
#include "backend/resample_plan.h"
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

/* one case under test: its tensors, the first output y, the upstream r, and
 * the gradients g[k] of the inputs x[k] */
#define MAXG 4
static struct {
    const opc_case *c;
    const opc_family *f;
    opc_tensor t[OPC_MAXT];
    float *h[OPC_MAXT];
    int nt, iy, ir, ng, gi[MAXG];
    void *ws;
} K;

/* forward at the current inputs -> sum r*y (also refreshes saved stats) */
static double loss(void) {
    T_OK(K.f->fwd(be, K.c, K.h, K.ws, NULL));
    return dot(K.h[K.ir], K.h[K.iy], K.t[K.iy].n);
}
/* backward with upstream r into the gradients whose bit is set in m, NULL otherwise */
static void bwd(unsigned m) {
    float *h[OPC_MAXT];
    memcpy(h, K.h, sizeof h);
    for (int k = 0; k < K.ng; k++)
        if (!((m >> k) & 1)) h[K.gi[k]] = NULL;
    T_OK(K.f->bwd(be, K.c, h, K.ws, NULL));
}
#define GX(k) K.h[K.t[K.gi[k]].of] /* the input of gradient k */
#define GG(k) K.h[K.gi[k]]
#define GN(k) K.t[K.gi[k]].n

static void run_case(const opc_case *c) {
    K.c = c;
    K.f = atas_op_family(c->family);
    T_ASSERT(K.f && K.f->bwd, "case %s: family %s has no backward", c->label, c->family);
    if (!K.f || !K.f->bwd) return;
    K.nt = K.f->tensors(c, K.t);
    K.iy = K.ir = -1;
    K.ng = 0;
    for (int k = 0; k < K.nt; k++) {
        K.h[k] = buf(K.t[k].n);
        if (K.t[k].role == OPC_IN || K.t[k].role == OPC_UP) fill(K.h[k], K.t[k].n, K.t[k].scale, K.t[k].off);
        if (K.t[k].role == OPC_OUT && K.iy < 0) K.iy = k;
        if (K.t[k].role == OPC_UP && K.ir < 0) K.ir = k;
        if (K.t[k].role == OPC_DGRAD && K.ng < MAXG) K.gi[K.ng++] = k;
    }
    K.ws = NULL;
    if (K.f->workspace) T_OK(be->alloc(be, &K.ws, K.f->workspace(be, c), "workspace"));
    const unsigned all = (1u << K.ng) - 1;
    const float h = c->fd_h;
    float *g1[MAXG];
    loss();
    bwd(all);
    for (int k = 0; k < K.ng; k++) {
        g1[k] = buf(GN(k));
        memcpy(g1[k], GG(k), GN(k) * sizeof(float));
    }
    /* finite differences on up to 40 coordinates per input */
    for (int k = 0; k < K.ng; k++) {
        float *x = GX(k);
        size_t n = GN(k), cnt = n < 40 ? n : 40;
        double maxd = 0, maxref = 1e-3;
        for (size_t s = 0; s < cnt; s++) {
            size_t i = n <= 40 ? s : atas_rng_below(&rng, (uint32_t)n);
            float save = x[i];
            x[i] = save + h;
            double lp = loss();
            x[i] = save - h;
            double lm = loss();
            x[i] = save;
            double fd = (lp - lm) / (2.0 * h);
            double d = fabs(fd - g1[k][i]);
            if (d > maxd || d != d) maxd = d;
            if (fabs(fd) > maxref) maxref = fabs(fd);
        }
        double err = maxd / maxref;
        const char *gname = K.t[K.gi[k]].name;
        printf("  %-22s %-6s fd error %.2e (bound %.0e)\n", c->label, gname, err, c->fd_bound);
        T_ASSERT(err <= c->fd_bound, "%s: %s disagrees with finite differences (%.3e)", c->label,
                 gname, err);
    }
    loss();
    /* accumulation: a second call adds the same gradient again */
    bwd(all);
    for (int k = 0; k < K.ng; k++) {
        for (size_t i = 0; i < GN(k); i++) g1[k][i] *= 2.0f;
        double e = t_rel_err(GG(k), g1[k], GN(k), 1e-6);
        T_ASSERT(e < 1e-5, "%s: two backward calls do not give 2x %s (%.3e)", c->label,
                 K.t[K.gi[k]].name, e);
        for (size_t i = 0; i < GN(k); i++) g1[k][i] *= 0.5f;
    }
    /* NULL gradient k: skipped, the others unchanged */
    for (int skip = 0; skip < K.ng; skip++) {
        for (int k = 0; k < K.ng; k++) memset(GG(k), 0, GN(k) * sizeof(float));
        bwd(all & ~(1u << skip));
        for (int k = 0; k < K.ng; k++) {
            double e = t_rel_err(GG(k), g1[k], GN(k), 1e-6);
            if (k == skip) {
                int zero = 1;
                for (size_t i = 0; i < GN(k); i++) zero &= GG(k)[i] == 0.0f;
                T_ASSERT(zero, "%s: NULL %s was written", c->label, K.t[K.gi[k]].name);
            } else {
                T_ASSERT(e < 1e-6, "%s: %s changed when %s is NULL (%.3e)", c->label,
                         K.t[K.gi[k]].name, K.t[K.gi[skip]].name, e);
            }
        }
    }
    for (int k = 0; k < K.ng; k++) atas_host_free(g1[k]);
    for (int k = 0; k < K.nt; k++) atas_host_free(K.h[k]);
    be->free(be, K.ws);
}

/* ---------------------------------------------------------------- single-op properties */
/* linear with b = NULL is the same product without the bias */
static void test_linear_nobias(void) {
    enum { M = 5, Kd = 7, N = 6 };
    float *x = buf(M * Kd), *W = buf(N * Kd), *b = buf(N), *y = buf(M * N), *y0 = buf(M * N);
    fill(x, M * Kd, 1, 0); fill(W, N * Kd, 0.5f, 0); fill(b, N, 1, 0);
    T_OK(be->linear_fwd(be, y0, x, W, NULL, M, Kd, N));
    T_OK(be->linear_fwd(be, y, x, W, b, M, Kd, N));
    for (int i = 0; i < M * N; i++) y0[i] += b[i % N];
    T_ASSERT(t_rel_err(y0, y, M * N, 1e-6) < 1e-6, "linear without bias is not y - b");
    atas_host_free(x); atas_host_free(W); atas_host_free(b); atas_host_free(y); atas_host_free(y0);
}

/* add_layernorm_fwd is bit for bit add then layernorm_fwd on the CPU (the models'
 * fused forward must not change a trained number), every aliasing the models use */
static void test_add_layernorm_bits(int M, int C) {
    const size_t n = (size_t)M * C;
    float *a = buf(n), *r = buf(n), *w = buf(C), *b = buf(C), *s0 = buf(n), *y0 = buf(n), *m0 = buf(M),
          *q0 = buf(M), *s = buf(n), *y = buf(n), *mu = buf(M), *rs = buf(M), *a2 = buf(n), *r2 = buf(n);
    fill(a, n, 2, 3); fill(r, n, 1, -1); fill(w, C, 0.5f, 1); fill(b, C, 1, 0);
    T_OK(be->add(be, s0, a, r, n));
    T_OK(be->layernorm_fwd(be, y0, m0, q0, s0, w, b, M, C, 1e-5f));
    T_OK(be->add_layernorm_fwd(be, s, y, mu, rs, a, r, w, b, M, C, 1e-5f));
    T_ASSERT(!memcmp(s, s0, n * 4) && !memcmp(y, y0, n * 4) && !memcmp(mu, m0, M * 4) && !memcmp(rs, q0, M * 4),
             "add_layernorm_fwd %dx%d differs from add + layernorm_fwd", M, C);
    memcpy(a2, a, n * 4); memcpy(r2, r, n * 4); /* the text tower: s in r, y in a */
    T_OK(be->add_layernorm_fwd(be, r2, a2, NULL, NULL, a2, r2, w, b, M, C, 1e-5f));
    T_ASSERT(!memcmp(r2, s0, n * 4) && !memcmp(a2, y0, n * 4), "add_layernorm_fwd in place (s in r, y in a) differs");
    memcpy(a2, a, n * 4); /* a ViT block in training: s in a */
    T_OK(be->add_layernorm_fwd(be, a2, y, NULL, NULL, a2, r, w, b, M, C, 1e-5f));
    T_ASSERT(!memcmp(a2, s0, n * 4) && !memcmp(y, y0, n * 4), "add_layernorm_fwd in place (s in a) differs");
    T_ASSERT(be->add_layernorm_fwd(be, s, s, NULL, NULL, a, r, w, b, M, C, 1e-5f) == ATAS_ERR_INVALID,
             "add_layernorm_fwd with y aliasing s accepted");
    atas_error_clear();
    float *all[] = {a, r, w, b, s0, y0, m0, q0, s, y, mu, rs, a2, r2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) atas_host_free(all[i]);
}

/* the saved lse is the log-sum-exp of the scaled scores of row 0, head 0 */
static void test_attention_lse(int B, int T, int H, int hd) {
    size_t D = (size_t)H * hd, nq = (size_t)B * T * 3 * D;
    float *qkv = buf(nq), *out = buf((size_t)B * T * D), *lse = buf((size_t)B * H * T);
    void *ws = NULL;
    T_OK(be->alloc(be, &ws, be->attention_workspace_bytes(be, B, T, H, hd), "attention workspace"));
    fill(qkv, nq, 1.0f, 0);
    T_OK(be->attention_fwd(be, out, lse, qkv, B, T, H, hd, ws));
    double mx = -1e30, s = 0, sc = 1.0 / sqrt((double)hd);
    double sco[1024];
    for (int j = 0; j < T && j < 1024; j++) {
        double d = 0;
        for (int c2 = 0; c2 < hd; c2++) d += (double)qkv[c2] * qkv[(size_t)j * 3 * D + D + c2];
        sco[j] = d * sc;
        if (sco[j] > mx) mx = sco[j];
    }
    for (int j = 0; j < T; j++) s += exp(sco[j] - mx);
    T_ASSERT(fabs(mx + log(s) - lse[0]) < 1e-4 * (1 + fabs(lse[0])), "attention T=%d: lse[0] %g vs %g",
             T, lse[0], mx + log(s));
    be->free(be, ws);
    atas_host_free(qkv); atas_host_free(out); atas_host_free(lse);
}

/* a plan gives bit for bit the tables the op builds itself, forward and backward; its
 * transposed tables list every (output, weight) of the forward once; a plan of another
 * shape or kind is refused and named */
static void test_resample_plan(atas_resample kind, int ih, int iw, int oh, int ow, int C) {
    const size_t ni = (size_t)ih * iw * C, no = (size_t)oh * ow * C;
    float *in = buf(ni), *o0 = buf(no), *o1 = buf(no), *g = buf(no), *d0 = buf(ni), *d1 = buf(ni);
    void *plan = NULL;
    T_OK(be->alloc(be, &plan, be->resample_plan_bytes(be, ih, iw, oh, ow), "plan"));
    T_OK(be->resample_plan(be, plan, ih, iw, oh, ow, kind));
    fill(in, ni, 1, 0); fill(g, no, 1, 0); fill(d0, ni, 1, 0);
    memcpy(d1, d0, ni * 4);
    T_OK(be->resample_fwd(be, o0, in, ih, iw, oh, ow, C, kind, NULL));
    T_OK(be->resample_fwd(be, o1, in, ih, iw, oh, ow, C, kind, plan));
    T_OK(be->resample_bwd(be, d0, g, ih, iw, oh, ow, C, kind, NULL));
    T_OK(be->resample_bwd(be, d1, g, ih, iw, oh, ow, C, kind, plan));
    T_ASSERT(!memcmp(o0, o1, no * 4) && !memcmp(d0, d1, ni * 4), "resample %dx%d->%dx%d kind %d: planned differs",
             ih, iw, oh, ow, (int)kind);
    /* the transposed tables (the CUDA backward's gather): sum over them = sum over the forward's */
    atas_resample_tabs t;
    atas_resample_plan_view(plan, ih, iw, oh, ow, &t);
    const int ntap = kind == ATAS_RESAMPLE_BICUBIC ? 4 : 2;
    double wf = 0, wt = 0;
    int bad = t.yoff[0] != 0 || t.yoff[ih] != ntap * oh || t.xoff[iw] != ntap * ow;
    for (int o = 0; o < oh; o++)
        for (int k = 0; k < ntap; k++) wf += (double)t.wy[4 * o + k] * (o + 1) * (t.ty[4 * o + k] + 1);
    for (int i = 0; i < ih; i++)
        for (int e = t.yoff[i]; e < t.yoff[i + 1]; e++) {
            wt += (double)t.yw[e] * (t.yo[e] + 1) * (i + 1);
            bad |= e > t.yoff[i] && t.yo[e] < t.yo[e - 1]; /* output order */
        }
    T_ASSERT(!bad && fabs(wf - wt) <= 1e-9 * fabs(wf), "resample plan %dx%d->%dx%d: transposed tables wrong", ih,
             iw, oh, ow);
    const atas_resample other = kind == ATAS_RESAMPLE_BICUBIC ? ATAS_RESAMPLE_BILINEAR : ATAS_RESAMPLE_BICUBIC;
    T_ASSERT(be->resample_fwd(be, o1, in, ih, iw, oh, ow, C, other, plan) == ATAS_ERR_INVALID &&
                 strstr(atas_error_message(), "the plan is for"),
             "a plan of another kind accepted: %s", atas_error_message());
    atas_error_clear();
    be->free(be, plan);
    float *all[] = {in, o0, o1, g, d0, d1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) atas_host_free(all[i]);
}

/* a constant field stays constant (the weights of every output sum to 1) */
static void test_resample_constant(atas_resample kind, int ih, int iw, int oh, int ow, int C) {
    size_t ni = (size_t)ih * iw * C, no = (size_t)oh * ow * C;
    float *in = buf(ni), *out = buf(no);
    for (size_t i = 0; i < ni; i++) in[i] = 1.5f;
    T_OK(be->resample_fwd(be, out, in, ih, iw, oh, ow, C, kind, NULL));
    for (size_t i = 0; i < no; i++)
        if (fabsf(out[i] - 1.5f) > 1e-5f) {
            T_ASSERT(0, "resample %dx%d->%dx%d kind %d: constant input not preserved (%g)", ih, iw,
                     oh, ow, (int)kind, out[i]);
            break;
        }
    atas_host_free(in); atas_host_free(out);
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
    T_ASSERT(b2->ctx == NULL, "the cpu backend has no context");
    atas_backend_release(b2); /* a no-op: the table stays usable */
    atas_backend_release(NULL);
    T_ASSERT(atas_backend_get("cpu", &b2) == ATAS_OK && b2 == atas_backend_cpu(), "cpu after release");
    /* precision: one table per precision, fp32 the default, bad values refused */
    T_ASSERT(b2->precision == ATAS_PREC_FP32, "atas_backend_get is fp32");
    for (int p = 0; p < ATAS_PREC_COUNT; p++) {
        const char *nm[] = {"cpu", "cpu-staged"};
        for (int k = 0; k < 2; k++) {
            T_OK(atas_backend_get_precision(nm[k], (atas_precision)p, &b2));
            T_ASSERT(b2->precision == p && strcmp(b2->name, nm[k]) == 0 && b2->linear_fwd,
                     "%s at precision %d", nm[k], p);
        }
        atas_precision q = ATAS_PREC_FP32;
        T_ASSERT(atas_precision_parse(atas_precision_name((atas_precision)p), &q) == ATAS_OK && q == p,
                 "precision name round trip %d", p);
    }
    T_ASSERT(atas_backend_get_precision("cpu", (atas_precision)7, &b2) == ATAS_ERR_INVALID && !b2,
             "precision 7 accepted");
    {
        atas_precision q;
        T_ASSERT(atas_precision_parse("fp16", &q) == ATAS_ERR_INVALID && strstr(atas_error_message(), "fp16"),
                 "precision fp16 accepted or not named: %s", atas_error_message());
    }
    /* collectives: the cpu backends refuse them with the config key to change */
    {
        const atas_backend *cpus[2] = {atas_backend_cpu(), NULL};
        T_OK(atas_backend_get("cpu-staged", &cpus[1]));
        unsigned char id[ATAS_COLL_ID_BYTES];
        for (int k = 0; k < 2; k++) {
            const atas_backend *cb = cpus[k];
            int to = 7;
            double ds = 7;
            const atas_status st[5] = {cb->coll_unique_id(cb, id, sizeof id), cb->coll_init(cb, 2, 0, id, 60),
                                       cb->coll_allreduce_avg(cb, y, 4), cb->coll_bcast(cb, y, 4, 0),
                                       cb->coll_wait(cb, 1.0, &to, &ds)};
            const char *names[5] = {"coll_unique_id", "coll_init", "coll_allreduce_avg", "coll_bcast", "coll_wait"};
            for (int i = 0; i < 5; i++) {
                atas_error_clear();
                const atas_status again[5] = {cb->coll_unique_id(cb, id, sizeof id), cb->coll_init(cb, 2, 0, id, 60),
                                              cb->coll_allreduce_avg(cb, y, 4), cb->coll_bcast(cb, y, 4, 0),
                                              cb->coll_wait(cb, 1.0, &to, &ds)};
                T_ASSERT(st[i] == ATAS_ERR_UNSUPPORTED && again[i] == ATAS_ERR_UNSUPPORTED, "%s on %s: %s",
                         names[i], cb->name, atas_status_str(st[i]));
                T_ASSERT(strstr(atas_error_message(), "dist.backend = \"nccl\" needs the cuda backend"),
                         "%s message: %s", names[i], atas_error_message());
            }
            T_ASSERT(to == 0 && ds == 0, "coll_wait outputs not cleared");
            cb->coll_destroy(cb); /* nothing to destroy */
            /* the registry's checks come first: a bad call is INVALID, not UNSUPPORTED */
            T_ASSERT(cb->coll_unique_id(cb, id, 16) == ATAS_ERR_INVALID, "short id buffer accepted");
            T_ASSERT(cb->coll_init(cb, 2, 2, id, 60) == ATAS_ERR_INVALID, "rank 2 of 2 accepted");
            T_ASSERT(cb->coll_wait(cb, 0, &to, &ds) == ATAS_ERR_INVALID, "time-out 0 accepted");
            T_ASSERT(cb->coll_allreduce_avg(cb, y, 0) == ATAS_OK, "allreduce of 0 floats not skipped");
            atas_error_clear();
        }
        /* host_alloc is zero-filled host memory; upload_async counts as an upload */
        float *h = NULL;
        T_OK(be->host_alloc(be, (void **)&h, 64 * sizeof(float), "test staging"));
        int zero = 1;
        for (int i = 0; i < 64; i++) zero &= h[i] == 0;
        T_ASSERT(zero, "host_alloc not zero-filled");
        for (int i = 0; i < 64; i++) h[i] = (float)i;
        unsigned long long u0 = 0, u1 = 0;
        atas_backend_transfer_bytes(&u0, NULL);
        T_OK(be->upload_async(be, y, h, 64 * sizeof(float)));
        T_OK(be->sync(be));
        atas_backend_transfer_bytes(&u1, NULL);
        T_ASSERT(u1 - u0 == 64 * sizeof(float) && y[63] == 63.0f, "upload_async: %llu bytes, y[63] %g", u1 - u0,
                 (double)y[63]);
        T_ASSERT(be->upload_async(be, NULL, h, 4) == ATAS_ERR_INVALID, "upload_async to NULL accepted");
        /* gemm_peak: a measured rate (> 0, finite, below 100 TFLOP/s on any CPU); bad sizes refused */
        {
            double tf = -1;
            T_OK(be->gemm_peak(be, &tf, 128));
            T_ASSERT(tf > 0 && tf < 100, "gemm_peak 128^3: %g TFLOP/s", tf);
            T_ASSERT(be->gemm_peak(be, &tf, 10) == ATAS_ERR_INVALID && strstr(atas_error_message(), "n = 10"),
                     "gemm_peak n = 10 accepted or not named: %s", atas_error_message());
            T_ASSERT(be->gemm_peak(be, NULL, 128) == ATAS_ERR_INVALID, "gemm_peak into NULL accepted");
            /* gemm_rate: linear_fwd's GEMM at one shape; the CPU has no bf16 buffers to time */
            T_OK(be->gemm_rate(be, &tf, 96, 64, 80, 0));
            T_ASSERT(tf > 0 && tf < 100, "gemm_rate 96x64x80: %g TFLOP/s", tf);
            T_ASSERT(be->gemm_rate(be, &tf, 96, 64, 80, 1) == ATAS_ERR_UNSUPPORTED &&
                         strstr(atas_error_message(), "bf16 buffers"),
                     "gemm_rate on cpu bf16 buffers not refused by name: %s", atas_error_message());
            T_ASSERT(be->gemm_rate(be, &tf, 0, 64, 80, 0) == ATAS_ERR_INVALID && strstr(atas_error_message(), "M=0"),
                     "gemm_rate M = 0 accepted or not named: %s", atas_error_message());
            atas_error_clear();
        }
        /* upload_prefetch: "cpu" copies at once; "cpu-staged" (a device's stand-in)
         * only at upload_join, as a copy stream would - stale until then */
        {
            const atas_backend *sb = NULL;
            T_OK(atas_backend_get("cpu-staged", &sb));
            float d[2][64];
            const atas_backend *bs[2] = {be, sb};
            for (int k = 0; k < 2; k++) {
                for (int i = 0; i < 64; i++) d[k][i] = -1.0f;
                atas_backend_transfer_bytes(&u0, NULL);
                T_OK(bs[k]->upload_prefetch(bs[k], d[k], h, 64 * sizeof(float)));
                T_ASSERT(d[k][63] == (k == 0 ? 63.0f : -1.0f), "%s: after upload_prefetch dst[63] = %g",
                         bs[k]->name, (double)d[k][63]);
                T_OK(bs[k]->upload_join(bs[k]));
                atas_backend_transfer_bytes(&u1, NULL);
                T_ASSERT(d[k][63] == 63.0f && d[k][0] == 0.0f && u1 - u0 == 64 * sizeof(float),
                         "%s: after upload_join dst[63] = %g, %llu bytes counted", bs[k]->name, (double)d[k][63],
                         u1 - u0);
            }
            /* a queue longer than the stand-in's keeps every copy, in order */
            float src[40], dst[40];
            for (int i = 0; i < 40; i++) { src[i] = (float)(i + 1); dst[i] = 0; }
            for (int i = 0; i < 40; i++) T_OK(sb->upload_prefetch(sb, &dst[i], &src[i], sizeof(float)));
            T_OK(sb->upload_join(sb));
            int same = 1;
            for (int i = 0; i < 40; i++) same &= dst[i] == src[i];
            T_ASSERT(same, "cpu-staged: 40 queued prefetches not all applied");
            T_ASSERT(sb->upload_prefetch(sb, NULL, h, 4) == ATAS_ERR_INVALID, "upload_prefetch to NULL accepted");
            atas_error_clear();
        }
        T_ASSERT(be->host_alloc(be, NULL, 4, "x") == ATAS_ERR_INVALID, "host_alloc into NULL accepted");
        atas_error_clear();
        be->host_free(be, h);
    }
    T_ASSERT(be->rows_gather(be, y, x, 1, 4, 2, 3, 2) == ATAS_ERR_INVALID, "rows past T accepted");
    T_ASSERT(be->patchify(be, y, x, 1, 5, 4, 2) == ATAS_ERR_INVALID, "patchify H %% P != 0 accepted");
    T_ASSERT(be->linear_fwd(be, y, x, x, NULL, 2, 0, 2) == ATAS_ERR_INVALID, "linear K=0 accepted");
    T_ASSERT(be->attention_fwd(be, y, NULL, x, 1, 2, 1, 2, NULL) == ATAS_ERR_INVALID,
             "attention without workspace accepted");
    /* an empty batch is nothing to do, on every backend (no workspace needed) */
    T_OK(be->attention_fwd(be, y, NULL, x, 0, 2, 1, 2, NULL));
    T_OK(be->attention_bwd(be, y, x, x, x, x, 0, 2, 1, 2, NULL));
    T_OK(be->attention_causal_fwd(be, y, NULL, x, 0, 2, 1, 2, NULL));
    T_ASSERT(be->layernorm_bwd(be, y, NULL, NULL, x, x, NULL, NULL, NULL, 1, 4) == ATAS_ERR_INVALID,
             "layernorm_bwd without saved stats accepted");
    T_ASSERT(be->adamw(be, x, x, x, x, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0, 0) == ATAS_ERR_INVALID,
             "adamw step 0 accepted");
    T_ASSERT(be->act_fwd(be, y, x, 4, (atas_act)7) == ATAS_ERR_INVALID, "unknown activation accepted");
    T_ASSERT(be->resample_fwd(be, y, x, 2, 2, 0, 2, 1, ATAS_RESAMPLE_BILINEAR, NULL) == ATAS_ERR_INVALID,
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
    int n = 0;
    for (int i = 0; i < atas_op_ncases; i++)
        if (atas_op_cases[i].modes & OPC_GRAD) {
            run_case(&atas_op_cases[i]);
            n++;
        }
    T_ASSERT(n > 0, "no finite-difference case ran");
    test_linear_nobias();
    test_add_layernorm_bits(33, 200);
    test_add_layernorm_bits(3, 1024);
    test_attention_lse(1, 1, 1, 4);
    test_attention_lse(2, 5, 2, 3);
    test_attention_lse(1, 70, 2, 4);
    test_attention_lse(1, 131, 1, 8);
    test_resample_constant(ATAS_RESAMPLE_BICUBIC, 5, 6, 7, 4, 3);
    test_resample_constant(ATAS_RESAMPLE_BILINEAR, 5, 6, 7, 4, 3);
    test_resample_constant(ATAS_RESAMPLE_BICUBIC, 4, 4, 9, 9, 2);
    test_resample_plan(ATAS_RESAMPLE_BICUBIC, 14, 14, 60, 60, 5);
    test_resample_plan(ATAS_RESAMPLE_BILINEAR, 13, 9, 6, 11, 3);
    test_resample_plan(ATAS_RESAMPLE_BICUBIC, 16, 16, 7, 9, 4);
    test_bad_inputs();
    return t_finish("test_ops_grad");
}
