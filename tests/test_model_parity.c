/* Model parity: a whole encoder on a backend at a precision against the cpu backend at fp32.
 * ViT-B/16 (or --model PRESET) with the trainer's random initialisation (atas_vit_init_random,
 * the same seed on both: the same weights), B random images at the model's resolution, one
 * forward pass with the global and the dense outputs; per image the cosine of the global
 * embedding and, over its patch tokens, the least cosine of the dense embeddings, against the
 * fp32 cpu result:
 *   global  min cosine >= 1 - GLOBAL_GAP[precision]  (bf16: 0.9999, issue 11's bound)
 *   dense   min cosine >= 1 - DENSE_GAP[precision]  (bf16: 0.9998)
 * and, at tf32/bf16, 1 - cosine of the globals at least 1e-9 (the rounding is really applied).
 * Usage: test_model_parity BACKEND [fp32|tf32|bf16] [--model PRESET] [--images B]
 * Exits 77 when the backend is unsupported here (no GPU). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atas/vit.h"
#include "test_util.h"

/* 1 - cosine bounds. fp32 differs by summation order only. tf32/bf16 by the input rounding of
 * every GEMM and attention product (u = 2^-11 / 2^-8): a relative error e ~ u, and 1 - cos ~
 * e^2 / 2, so tf32's gap is (1/8)^2 of bf16's. bf16 global: issue 11's 0.9999; the CPU
 * emulation measures 1.3e-5 (global) and 2.2e-5 (dense, the least of 196 tokens) at B = 2;
 * fp32 (cudaemu against cpu) 2e-13, so its bounds still catch a path that used TF32 (2e-7). */
static double global_gap(atas_precision p) { return p == ATAS_PREC_BF16 ? 1e-4 : p == ATAS_PREC_TF32 ? 3e-6 : 1e-9; }
static double dense_gap(atas_precision p) { return p == ATAS_PREC_BF16 ? 2e-4 : p == ATAS_PREC_TF32 ? 6e-6 : 1e-8; }

static double cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    /* not finite (an inf or NaN output): -1, a failure, never a value the min would skip */
    const double c = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
    return isfinite(c) ? c : -1.0;
}

/* the global and dense outputs of one forward pass on backend be, downloaded */
static atas_status run(const atas_backend *be, const atas_vit_config *cfg, const float *images, int B, float *glob,
                       float *dense) {
    atas_vit m;
    atas_status st = atas_vit_create(&m, cfg, be, 0);
    if (st != ATAS_OK) {
        atas_vit_destroy(&m); /* safe after a failed create: it cleared m first */
        return st;
    }
    st = atas_vit_init_random(&m, 1234);
    atas_vit_pass *p = NULL;
    const int R = cfg->grid * cfg->patch, Np = cfg->grid * cfg->grid;
    const size_t img = (size_t)B * 3 * R * R;
    void *d_img = NULL;
    if (st == ATAS_OK) st = atas_vit_pass_create(&p, &m, B, R, R, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, 0);
    if (st == ATAS_OK) st = be->alloc(be, &d_img, img * sizeof(float), "images");
    if (st == ATAS_OK) st = be->upload(be, d_img, images, img * sizeof(float));
    if (st == ATAS_OK) st = atas_vit_forward(p, &m, d_img);
    if (st == ATAS_OK) st = be->sync(be);
    if (st == ATAS_OK) st = be->download(be, glob, atas_vit_global(p), (size_t)B * cfg->embed * sizeof(float));
    if (st == ATAS_OK)
        st = be->download(be, dense, atas_vit_dense(p), (size_t)B * Np * cfg->embed * sizeof(float));
    if (d_img) be->free(be, d_img);
    atas_vit_pass_destroy(p);
    atas_vit_destroy(&m);
    return st;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "cpu", *preset = "ViT-B-16";
    atas_precision prec = ATAS_PREC_FP32;
    int B = 2;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) preset = argv[++i];
        else if (!strcmp(argv[i], "--images") && i + 1 < argc) B = atoi(argv[++i]);
        else T_OK(atas_precision_parse(argv[i], &prec));
    }
    if (B <= 0) {
        fprintf(stderr, "test_model_parity: --images %d: expected a positive count\n", B);
        return 2;
    }
    atas_log_set_level(ATAS_LOG_WARN); /* not the passes' buffer tables */
    const atas_backend *cpu = atas_backend_cpu(), *tb = NULL;
    atas_status st = atas_backend_get_precision(name, prec, &tb);
    if (st == ATAS_ERR_UNSUPPORTED) {
        printf("backend \"%s\" unsupported here, skipped: %s\n", name, atas_error_message());
        return 77;
    }
    T_OK(st);
    atas_vit_config cfg;
    T_OK(atas_vit_preset(preset, &cfg));
    const int R = cfg.grid * cfg.patch, Np = cfg.grid * cfg.grid, E = cfg.embed;
    const size_t img = (size_t)B * 3 * R * R, nd = (size_t)B * Np * E;
    float *images = malloc(img * sizeof(float)), *g0 = malloc((size_t)B * E * sizeof(float)),
          *g1 = malloc((size_t)B * E * sizeof(float)), *d0 = malloc(nd * sizeof(float)),
          *d1 = malloc(nd * sizeof(float));
    if (!(images && g0 && g1 && d0 && d1)) {
        fprintf(stderr, "test_model_parity: out of host memory for %d images\n", B);
        return 1;
    }
    atas_rng rng = atas_rng_stream(7, 0, 0);
    for (size_t i = 0; i < img; i++) images[i] = atas_rng_normal(&rng); /* normalised pixels */
    T_OK(run(cpu, &cfg, images, B, g0, d0));
    T_OK(run(tb, &cfg, images, B, g1, d1));

    const double gg = global_gap(prec), dg = dense_gap(prec);
    printf("# model parity: %s, random init, %d image(s) at %d px: backend \"%s\" at %s against \"cpu\" fp32\n",
           preset, B, R, tb->name, atas_precision_name(prec));
    printf("# image  global_cos      1-cos  dense_min_cos  dense_1-cos\n");
    double gmin = 1, dmin = 1;
    for (int b = 0; b < B; b++) {
        const double cg = cosine(g1 + (size_t)b * E, g0 + (size_t)b * E, E);
        double cd = 1;
        for (int t = 0; t < Np; t++) {
            const size_t o = ((size_t)b * Np + t) * E;
            const double c = cosine(d1 + o, d0 + o, E);
            if (!(c >= cd)) cd = c;
        }
        printf("%7d  %10.7f  %9.2e  %13.7f  %11.2e\n", b, cg, 1 - cg, cd, 1 - cd);
        if (!(cg >= gmin)) gmin = cg;
        if (!(cd >= dmin)) dmin = cd;
    }
    const int gok = 1 - gmin <= gg, dok = 1 - dmin <= dg;
    const int applied = prec == ATAS_PREC_FP32 || 1 - gmin >= 1e-9;
    printf("global embeddings: min cosine %.7f, bound %.7f  %s\n", gmin, 1 - gg,
           gok ? "PASS" : "FAIL");
    printf("dense embeddings:  min cosine %.7f, bound %.7f  %s\n", dmin, 1 - dg,
           dok ? "PASS" : "FAIL");
    if (prec != ATAS_PREC_FP32)
        printf("the %s rounding is applied (1 - cosine %.2e >= 1e-9): %s\n", atas_precision_name(prec), 1 - gmin,
               applied ? "PASS" : "FAIL");
    T_ASSERT(gok && dok && applied, "model parity failed");
    free(images), free(g0), free(g1), free(d0), free(d1);
    atas_backend_release(tb);
    return t_finish("test_model_parity");
}
