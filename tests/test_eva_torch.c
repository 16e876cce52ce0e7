/* EVA02 parity with an independent float64 PyTorch reference written from
 * timm's / BAAI's semantics (tools/ref/eva_ref.py) on random EVA02-shaped
 * weights at a small B/16-like size (patch 16, pretrained grid 14) and a
 * resampled non-square runtime grid (10x13): global and dense outputs within
 * 1e-5 relative, every parameter gradient within 1e-4. Also: split passes give
 * the combined gradients, inference equals the train forward, and a frozen
 * model below the last block still gets the same last-block gradients. */
#include <unistd.h>

#include "vit_test_h5.h"

#define TOL_OUT 1e-5
#define TOL_GRAD 1e-4

static atas_vit_config eva_small(void) {
    atas_vit_config c = {.patch = 16, .width = 64, .layers = 3, .heads = 4, .mlp = 170, .embed = 32,
                         .grid = 14, .act = ATAS_ACT_GELU, .ln_eps = 1e-6f, .family = ATAS_VIT_EVA02};
    return c;
}

int main(void) {
    const atas_backend *be = atas_backend_cpu();
    atas_vit_config c = eva_small();
    const int B = 2, H = 160, W = 208; /* 10x13 grid vs pretrained 14x14 */
    atas_vit m;
    T_OK(atas_vit_create(&m, &c, be, 1));
    T_OK(atas_vit_init_random(&m, 4321));
    const int gh = H / c.patch, gw = W / c.patch, E = c.embed;
    const size_t nd = (size_t)B * gh * gw * E;
    float *img = rand_buf((size_t)B * 3 * H * W, 15, 1.0f);
    float *dglob = rand_buf((size_t)B * E, 16, 1.0f);
    float *ddense = rand_buf(nd, 17, 1.0f);

    atas_vit_pass *p;
    T_OK(atas_vit_pass_create(&p, &m, B, H, W, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, 1));
    T_OK(atas_vit_zero_grads(&m));
    T_OK(atas_vit_forward(p, &m, img));
    T_OK(atas_vit_backward(p, &m, dglob, ddense));

    char dir[] = "/tmp/atas_eva_torch_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char in[256], out[256], cmd[1024];
    snprintf(in, sizeof in, "%s/in.h5", dir);
    snprintf(out, sizeof out, "%s/out.h5", dir);
    hid_t f;
    T_OK(atas_h5_create(in, &f));
    T_OK(write_model_h5(f, &m, m.params));
    T_OK(atas_h5_write_f32(f, "images", img, 4, (size_t[]){B, 3, H, W}));
    T_OK(atas_h5_write_f32(f, "dglob", dglob, 2, (size_t[]){B, E}));
    T_OK(atas_h5_write_f32(f, "ddense", ddense, 4, (size_t[]){B, gh, gw, E}));
    H5Fclose(f);
    const char *py = getenv("ATAS_PYTHON") ? getenv("ATAS_PYTHON") : "/usr/bin/python3";
    const char *src = getenv("ATAS_SOURCE_DIR") ? getenv("ATAS_SOURCE_DIR") : ".";
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, h5py' 2>/dev/null", py);
    if (system(cmd) != 0) { printf("SKIP: no torch/h5py in %s\n", py); return 77; }
    snprintf(cmd, sizeof cmd, "%s %s/tools/ref/eva_ref.py %s %s", py, src, in, out);
    T_ASSERT(system(cmd) == 0, "reference failed: %s", cmd);

    T_OK(atas_h5_open_ro(out, &f));
    float *ref = rand_buf(nd + m.nparams, 0, 0);
    T_OK(atas_h5_read_f32(f, "glob", ref, (size_t)B * E, out));
    double e = t_rel_err(atas_vit_global(p), ref, (size_t)B * E, 1e-6);
    printf("EVA02 global      rel err %.2e\n", e);
    T_ASSERT(e < TOL_OUT, "global output: %.3e", e);
    T_OK(atas_h5_read_f32(f, "dense", ref, nd, out));
    e = t_rel_err(atas_vit_dense(p), ref, nd, 1e-6);
    printf("EVA02 dense       rel err %.2e\n", e);
    T_ASSERT(e < TOL_OUT, "dense output: %.3e", e);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m.ntensors; i++) {
        char name[160];
        snprintf(name, sizeof name, "grads/%s", m.info[i].name);
        T_OK(atas_h5_read_f32(f, name, ref, m.info[i].numel, out));
        e = t_rel_err(m.grads + m.info[i].offset, ref, m.info[i].numel, 1e-6);
        T_ASSERT(e < TOL_GRAD, "gradient of %s: rel err %.3e", m.info[i].name, e);
        if (e > worst) { worst = e; worst_name = m.info[i].name; }
    }
    printf("EVA02 gradients   worst rel err %.2e (%s), %d tensors\n", worst, worst_name, m.ntensors);
    H5Fclose(f);

    /* split passes (global-only + dense-only, as the trainer runs them) */
    float *g_combined = rand_buf(m.nparams, 0, 0);
    memcpy(g_combined, m.grads, m.nparams * sizeof(float));
    atas_vit_pass *pg, *pd, *pi;
    T_OK(atas_vit_pass_create(&pg, &m, B, H, W, ATAS_OUT_GLOBAL, 1));
    T_OK(atas_vit_pass_create(&pd, &m, B, H, W, ATAS_OUT_DENSE, 1));
    T_OK(atas_vit_zero_grads(&m));
    T_OK(atas_vit_forward(pg, &m, img));
    T_OK(atas_vit_backward(pg, &m, dglob, NULL));
    T_OK(atas_vit_forward(pd, &m, img));
    T_OK(atas_vit_backward(pd, &m, NULL, ddense));
    e = t_rel_err(m.grads, g_combined, m.nparams, 1e-6);
    printf("EVA02 split==combined rel err %.2e\n", e);
    T_ASSERT(e < 1e-5, "split passes vs combined: %.3e", e);
    /* CLIPSelf's default: only the last block trains; its gradients are unchanged */
    atas_vit_set_trainable_blocks(&m, 1, 0, 0);
    T_OK(atas_vit_zero_grads(&m));
    T_OK(atas_vit_forward(p, &m, img));
    T_OK(atas_vit_backward(p, &m, dglob, ddense));
    for (int i = 0; i < m.ntensors; i++) {
        const atas_param_info *t = &m.info[i];
        const int last = i >= atas_eva_blk(c.layers - 1, 0) && i < atas_eva_tail(c.layers, 0);
        T_ASSERT(m.trainable[i] == last, "%s trainable %d", t->name, m.trainable[i]);
        const double d = last ? t_rel_err(m.grads + t->offset, g_combined + t->offset, t->numel, 1e-6) : 0;
        T_ASSERT(d < 1e-5, "last-block-only gradient of %s: %.3e", t->name, d);
        if (!last)
            for (size_t k = 0; k < t->numel; k++)
                T_ASSERT(m.grads[t->offset + k] == 0, "frozen %s got a gradient", t->name);
    }
    printf("EVA02 last block only: same gradients, frozen tensors untouched\n");
    /* inference: same outputs, far less memory */
    T_OK(atas_vit_pass_create(&pi, &m, B, H, W, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, 0));
    T_OK(atas_vit_forward(pi, &m, img));
    T_ASSERT(t_rel_err(atas_vit_global(pi), atas_vit_global(p), (size_t)B * E, 1e-6) < 1e-6, "inference global");
    T_ASSERT(t_rel_err(atas_vit_dense(pi), atas_vit_dense(p), nd, 1e-6) < 1e-6, "inference dense");
    T_ASSERT(atas_vit_pass_bytes(pi) < atas_vit_pass_bytes(p) / 2, "inference pass %zu B vs train %zu B",
             atas_vit_pass_bytes(pi), atas_vit_pass_bytes(p));

    atas_vit_pass_destroy(p); atas_vit_pass_destroy(pg); atas_vit_pass_destroy(pd); atas_vit_pass_destroy(pi);
    atas_host_free(img); atas_host_free(dglob); atas_host_free(ddense); atas_host_free(ref);
    atas_host_free(g_combined);
    atas_vit_destroy(&m);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {}
    return t_finish("test_eva_torch");
}
