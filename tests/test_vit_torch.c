/* Parity with an independent PyTorch implementation (tools/ref/clip_ref.py) on a
 * tiny ViT, both activations, at a resolution whose grid differs from the
 * pretrained one (positional embedding resampled, non-square): global and dense
 * outputs and every parameter gradient within 1e-4 relative (fp32).
 * Also: split passes (global-only + dense-only, as the trainer runs them) give
 * the same gradients as one combined pass, and inference equals train forward. */
#include <unistd.h>

#include "vit_test_h5.h"

#define TOL 1e-4

static int run_case(atas_act act) {
    const atas_backend *be = atas_backend_cpu();
    atas_vit_config c = tiny_cfg(act);
    const int B = 2, H = 24, W = 20; /* 6x5 grid vs pretrained 4x4 */
    atas_vit m;
    T_OK(atas_vit_create(&m, &c, be, 1));
    T_OK(atas_vit_init_random(&m, 1234 + act));
    const int gh = H / c.patch, gw = W / c.patch, E = c.embed;
    float *img = rand_buf((size_t)B * 3 * H * W, 5 + act, 1.0f);
    float *dglob = rand_buf((size_t)B * E, 6 + act, 1.0f);
    float *ddense = rand_buf((size_t)B * gh * gw * E, 7 + act, 1.0f);

    /* combined pass */
    atas_vit_pass *p;
    T_OK(atas_vit_pass_create(&p, &m, B, H, W, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, 1));
    T_OK(atas_vit_zero_grads(&m));
    T_OK(atas_vit_forward(p, &m, img));
    T_OK(atas_vit_backward(p, &m, dglob, ddense));

    char dir[] = "/tmp/atas_vit_torch_XXXXXX";
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
    if (system(cmd) != 0) { printf("SKIP: no torch/h5py in %s\n", py); exit(77); }
    snprintf(cmd, sizeof cmd, "%s %s/tools/ref/clip_ref.py %s %s", py, src, in, out);
    T_ASSERT(system(cmd) == 0, "reference failed: %s", cmd);

    T_OK(atas_h5_open_ro(out, &f));
    float *ref = rand_buf((size_t)B * gh * gw * E + m.nparams, 0, 0);
    T_OK(atas_h5_read_f32(f, "glob", ref, (size_t)B * E, out));
    double e = t_rel_err(atas_vit_global(p), ref, (size_t)B * E, 1e-6);
    printf("act=%d global      rel err %.2e\n", act, e);
    T_ASSERT(e < TOL, "global output: %.3e", e);
    T_OK(atas_h5_read_f32(f, "dense", ref, (size_t)B * gh * gw * E, out));
    e = t_rel_err(atas_vit_dense(p), ref, (size_t)B * gh * gw * E, 1e-6);
    printf("act=%d dense       rel err %.2e\n", act, e);
    T_ASSERT(e < TOL, "dense output: %.3e", e);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m.ntensors; i++) {
        char name[160];
        snprintf(name, sizeof name, "grads/%s", m.info[i].name);
        T_OK(atas_h5_read_f32(f, name, ref, m.info[i].numel, out));
        e = t_rel_err(m.grads + m.info[i].offset, ref, m.info[i].numel, 1e-6);
        T_ASSERT(e < TOL, "gradient of %s: rel err %.3e", m.info[i].name, e);
        if (e > worst) { worst = e; worst_name = m.info[i].name; }
    }
    printf("act=%d gradients   worst rel err %.2e (%s), %d tensors\n", act, worst, worst_name, m.ntensors);
    H5Fclose(f);

    /* split passes accumulate the same gradients */
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
    printf("act=%d split==combined rel err %.2e\n", act, e);
    T_ASSERT(e < 1e-5, "split passes vs combined: %.3e", e);
    /* inference mode: same outputs, far less memory */
    T_OK(atas_vit_pass_create(&pi, &m, B, H, W, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, 0));
    T_OK(atas_vit_forward(pi, &m, img));
    T_ASSERT(t_rel_err(atas_vit_global(pi), atas_vit_global(p), (size_t)B * E, 1e-6) < 1e-6, "inference global");
    T_ASSERT(t_rel_err(atas_vit_dense(pi), atas_vit_dense(p), (size_t)B * gh * gw * E, 1e-6) < 1e-6, "inference dense");
    T_ASSERT(atas_vit_pass_bytes(pi) < atas_vit_pass_bytes(p) / 2, "inference pass %zu B vs train %zu B",
             atas_vit_pass_bytes(pi), atas_vit_pass_bytes(p));

    atas_vit_pass_destroy(p); atas_vit_pass_destroy(pg); atas_vit_pass_destroy(pd); atas_vit_pass_destroy(pi);
    atas_host_free(img); atas_host_free(dglob); atas_host_free(ddense); atas_host_free(ref);
    atas_host_free(g_combined);
    atas_vit_destroy(&m);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {}
    return 0;
}

int main(void) {
    run_case(ATAS_ACT_QUICKGELU);
    run_case(ATAS_ACT_GELU);
    return t_finish("test_vit_torch");
}
