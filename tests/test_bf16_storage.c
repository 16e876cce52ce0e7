/* bf16 storage (docs/backend.md "bf16 storage"): a ViT at precision bf16 computes the same
 * with its block GEMMs' inputs stored as bf16 (CLIP: ln_1, ln_2, the MLP activation; EVA02:
 * norm1, attn.norm, norm2, mlp.norm; the weights' bf16 copy, dy rounded once per linear
 * backward) as with them stored fp32 and rounded at each GEMM. A small CLIP ViT and a small
 * EVA02, random init: train passes (global + dense) at two resolutions (the model's grid
 * and a resampled one), forward and backward with random upstream gradients, all tensors
 * trainable and then only the last two blocks; inference passes with both outputs, the
 * global alone and the dense alone. The two runs' outputs and every gradient are compared.
 *   cpu, cpu-staged: bit for bit (the _h ops widen to the values the fp32 ops round to
 *     and run the same GEMM calls).
 *   other backends (cuda, cudaemu): max|a-b| / max|b| <= 8u = 3.1e-2, the bound of a bf16
 *     GEMM output (test_backend_parity): the GEMM kernels of the two paths differ, and a
 *     1e-6 difference before a rounding to bf16 can flip it by one ulp.
 * Also: storage is on by default at bf16, off at fp32 and refused there. Usage: test_bf16_storage BACKEND. Exits 77 when the backend is
 * unsupported here. */
#include <stdlib.h>
#include <string.h>

#include "atas/vit.h"
#include "test_util.h"

typedef struct {
    float *glob, *dense, *grads;
} outputs;

static const atas_vit_config k_cfgs[2] = {
    {16, 64, 3, 4, 256, 32, 4, ATAS_ACT_QUICKGELU, 1e-5f, ATAS_VIT_CLIP},
    {16, 64, 3, 4, 160, 32, 4, ATAS_ACT_GELU, 1e-6f, ATAS_VIT_EVA02}, /* mlp: the SwiGLU hidden width */
};

/* one pass at H x W px: forward (and with train, backward); its outputs downloaded (what
 * it does not compute stays zero) */
static atas_status run(const atas_backend *be, const atas_vit_config *cfg, int storage, int last2, int H, int W,
                       int train, int outs, outputs *o) {
    const int B = 2, E = cfg->embed, Np = (H / cfg->patch) * (W / cfg->patch);
    atas_vit m;
    ATAS_CHECK(atas_vit_create(&m, cfg, be, train));
    atas_status st = atas_vit_set_bf16_storage(&m, storage);
    if (st == ATAS_OK) st = atas_vit_init_random(&m, 99);
    if (last2) atas_vit_set_trainable_blocks(&m, 2, 0, 0);
    atas_vit_pass *p = NULL;
    const size_t img = (size_t)B * 3 * H * W, ng = (size_t)B * E, nd = (size_t)B * Np * E;
    float *h = malloc((img + ng + nd) * sizeof(float));
    void *d = NULL;
    if (!h) st = ATAS_ERR(ATAS_ERR_NOMEM, "host buffers");
    if (st == ATAS_OK) {
        atas_rng rng = atas_rng_stream(5, (uint64_t)H, 0);
        for (size_t i = 0; i < img + ng + nd; i++) h[i] = atas_rng_normal(&rng);
        st = atas_vit_pass_create(&p, &m, B, H, W, outs, train);
    }
    if (st == ATAS_OK) st = be->alloc(be, &d, (img + ng + nd) * sizeof(float), "inputs");
    if (st == ATAS_OK) st = be->upload(be, d, h, (img + ng + nd) * sizeof(float));
    if (st == ATAS_OK && train) st = atas_vit_zero_grads(&m);
    if (st == ATAS_OK) st = atas_vit_forward(p, &m, d);
    if (st == ATAS_OK && train)
        st = atas_vit_backward(p, &m, (outs & ATAS_OUT_GLOBAL) ? (float *)d + img : NULL,
                               (outs & ATAS_OUT_DENSE) ? (float *)d + img + ng : NULL);
    if (st == ATAS_OK) st = be->sync(be);
    o->glob = calloc(ng, sizeof(float)), o->dense = calloc(nd, sizeof(float));
    o->grads = calloc(m.nparams, sizeof(float));
    if (st == ATAS_OK && !(o->glob && o->dense && o->grads)) st = ATAS_ERR(ATAS_ERR_NOMEM, "host outputs");
    if (st == ATAS_OK && (outs & ATAS_OUT_GLOBAL))
        st = be->download(be, o->glob, atas_vit_global(p), ng * sizeof(float));
    if (st == ATAS_OK && (outs & ATAS_OUT_DENSE))
        st = be->download(be, o->dense, atas_vit_dense(p), nd * sizeof(float));
    if (st == ATAS_OK && train) st = be->download(be, o->grads, m.grads, m.nparams * sizeof(float));
    if (d) be->free(be, d);
    free(h);
    atas_vit_pass_destroy(p);
    atas_vit_destroy(&m);
    return st;
}

static double rel(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = a[i] > b[i] ? (double)a[i] - b[i] : (double)b[i] - a[i];
        if (!(e <= num)) num = e; /* a NaN makes it NaN: a failure */
        if (b[i] > den) den = b[i];
        if (-b[i] > den) den = -b[i];
    }
    return den > 0 ? num / den : num;
}

static int nonzero(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != 0.0f) return 1;
    return 0;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "cpu";
    atas_log_set_level(ATAS_LOG_WARN);
    unsetenv("ATAS_BF16_STORAGE"); /* the default is part of what is tested */
    const atas_backend *be = NULL, *be32 = NULL;
    atas_status st = atas_backend_get_precision(name, ATAS_PREC_BF16, &be);
    if (st == ATAS_ERR_UNSUPPORTED) {
        printf("backend \"%s\" unsupported here, skipped: %s\n", name, atas_error_message());
        return 77;
    }
    T_OK(st);
    T_OK(atas_backend_get_precision(name, ATAS_PREC_FP32, &be32));
    const int exact = !strcmp(name, "cpu") || !strcmp(name, "cpu-staged");
    const double bound = exact ? 0.0 : 8.0 / 256.0;

    /* the default, and the refusal */
    atas_vit m;
    for (int f = 0; f < 2; f++) {
        T_OK(atas_vit_create(&m, &k_cfgs[f], be, 0));
        T_ASSERT(atas_vit_bf16_storage(&m), "storage is not on by default at bf16");
        atas_vit_destroy(&m);
    }
    T_OK(atas_vit_create(&m, &k_cfgs[0], be32, 0));
    T_ASSERT(!atas_vit_bf16_storage(&m), "storage is on at fp32");
    T_ASSERT(atas_vit_set_bf16_storage(&m, 1) == ATAS_ERR_UNSUPPORTED, "storage at fp32 not refused");
    printf("refused at fp32: %s\n", atas_error_message());
    atas_vit_destroy(&m);

    printf("# bf16 storage against fp32 storage, %s at bf16: max|a-b| / max|b|, bound %g\n", be->name, bound);
    printf("# %-36s %11s %11s %11s\n", "pass", "global", "dense", "grads");
    /* train passes at the model's grid and a resampled one, all trainable and the last two
     * blocks; inference passes (buffers reused across blocks, aliased in place) with both
     * outputs, the global alone and the dense alone */
    static const struct { int H, W, train, last2, outs; const char *what; } kinds[] = {
        {64, 64, 1, 0, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, "train, all trainable"},
        {96, 80, 1, 0, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, "train, all trainable"},
        {64, 64, 1, 1, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, "train, last 2 blocks"},
        {96, 80, 1, 1, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, "train, last 2 blocks"},
        {96, 80, 0, 0, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, "inference"},
        {96, 80, 0, 0, ATAS_OUT_GLOBAL, "inference, global"},
        {96, 80, 0, 0, ATAS_OUT_DENSE, "inference, dense"},
    };
    for (int f = 0; f < 2; f++)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            const atas_vit_config *cfg = &k_cfgs[f];
            const int H = kinds[k].H, W = kinds[k].W;
            outputs a = {0}, b = {0};
            T_OK(run(be, cfg, 1, kinds[k].last2, H, W, kinds[k].train, kinds[k].outs, &a));
            T_OK(run(be, cfg, 0, kinds[k].last2, H, W, kinds[k].train, kinds[k].outs, &b));
            const size_t ng = 2 * (size_t)cfg->embed, nd = ng * (H / 16) * (W / 16);
            size_t np;
            atas_param_info *info;
            int nt;
            T_OK(atas_vit_param_table(cfg, &info, &nt, &np));
            atas_host_free(info);
            const double eg = rel(a.glob, b.glob, ng), ed = rel(a.dense, b.dense, nd), ew = rel(a.grads, b.grads, np);
            char label[64];
            snprintf(label, sizeof label, "%s %dx%d %s", f ? "EVA02" : "CLIP", H, W, kinds[k].what);
            printf("  %-36s %11.3e %11.3e %11.3e\n", label, eg, ed, ew);
            int ok = eg <= bound && ed <= bound && ew <= bound;
            if (exact)
                ok = ok && !memcmp(a.glob, b.glob, ng * sizeof(float)) &&
                     !memcmp(a.dense, b.dense, nd * sizeof(float)) && !memcmp(a.grads, b.grads, np * sizeof(float));
            T_ASSERT(ok, "%s: bf16 storage differs from fp32 storage beyond %g", label, bound);
            /* what the pass computes is there (equal zeros would prove nothing) */
            T_ASSERT((!(kinds[k].outs & ATAS_OUT_GLOBAL) || nonzero(b.glob, ng)) &&
                         (!(kinds[k].outs & ATAS_OUT_DENSE) || nonzero(b.dense, nd)) &&
                         (!kinds[k].train || nonzero(b.grads, np)),
                     "%s: an output or the gradients are all zero", label);
            free(a.glob), free(a.dense), free(a.grads), free(b.glob), free(b.dense), free(b.grads);
        }
    atas_backend_release(be);
    return t_finish("test_bf16_storage");
}
