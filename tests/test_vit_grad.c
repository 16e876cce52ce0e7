/* Whole-model gradient check on a tiny ViT against central finite differences:
 * for every tensor, the directional derivative along a random direction confined
 * to that tensor equals <grad, direction>. Loss = <r1, global> + <r2, dense>.
 * Also: frozen tensors get no gradient and trainable ones get exactly the
 * gradient of the fully trainable model. */
#include "vit_test_common.h"

#ifndef ATAS_FD_H
#define ATAS_FD_H 3e-3f
#endif

static double loss_of(atas_vit *m, atas_vit_pass *p, const float *img, const float *r1,
                      const float *r2, size_t ng, size_t nd) {
    if (atas_vit_forward(p, m, img) != ATAS_OK) { atas_error_print(stderr); exit(1); }
    const float *g = atas_vit_global(p), *d = atas_vit_dense(p);
    double s = 0;
    for (size_t i = 0; i < ng; i++) s += (double)g[i] * r1[i];
    for (size_t i = 0; i < nd; i++) s += (double)d[i] * r2[i];
    return s;
}

int main(void) {
    const atas_backend *be = atas_backend_cpu();
    atas_vit_config c = tiny_cfg(ATAS_ACT_QUICKGELU);
    c.layers = 2;
    const int B = 2, H = 20, W = 16;
    atas_vit m;
    T_OK(atas_vit_create(&m, &c, be, 1));
    T_OK(atas_vit_init_random(&m, 99));
    const size_t ng = (size_t)B * c.embed, nd = (size_t)B * (H / c.patch) * (W / c.patch) * c.embed;
    float *img = rand_buf((size_t)B * 3 * H * W, 1, 1.0f);
    float *r1 = rand_buf(ng, 2, 1.0f), *r2 = rand_buf(nd, 3, 1.0f);
    atas_vit_pass *p;
    T_OK(atas_vit_pass_create(&p, &m, B, H, W, ATAS_OUT_GLOBAL | ATAS_OUT_DENSE, 1));
    T_OK(atas_vit_zero_grads(&m));
    loss_of(&m, p, img, r1, r2, ng, nd);
    T_OK(atas_vit_backward(p, &m, r1, r2));

    double worst = 0;
    for (int t = 0; t < m.ntensors; t++) {
        const atas_param_info *ti = &m.info[t];
        float *dir = rand_buf(ti->numel, 100 + t, 1.0f);
        float *w = m.params + ti->offset;
        double analytic = 0, scale = 0;
        for (size_t i = 0; i < ti->numel; i++) {
            analytic += (double)m.grads[ti->offset + i] * dir[i];
            scale += fabs((double)w[i]);
        }
        /* step relative to the tensor's magnitude so fp32 rounding stays small */
        const float h = ATAS_FD_H;
        for (size_t i = 0; i < ti->numel; i++) w[i] += h * dir[i];
        double lp = loss_of(&m, p, img, r1, r2, ng, nd);
        for (size_t i = 0; i < ti->numel; i++) w[i] -= 2 * h * dir[i];
        double lm = loss_of(&m, p, img, r1, r2, ng, nd);
        for (size_t i = 0; i < ti->numel; i++) w[i] += h * dir[i];
        double fd = (lp - lm) / (2.0 * h);
        double err = fabs(fd - analytic) / fmax(fabs(analytic), 1e-2 * fabs(lp) + 1e-3);
        if (err > worst) worst = err;
        T_ASSERT(err < 1e-2, "%s: finite difference %.6g vs analytic %.6g (rel %.2e)", ti->name, fd,
                 analytic, err);
        atas_host_free(dir);
    }
    printf("whole-model directional FD check: %d tensors, worst rel err %.2e\n", m.ntensors, worst);

    /* frozen prefix: train only the last block */
    float *gfull = rand_buf(m.nparams, 0, 0);
    memcpy(gfull, m.grads, m.nparams * sizeof(float));
    atas_vit_set_trainable_blocks(&m, 1, 0, 0);
    T_OK(atas_vit_zero_grads(&m));
    loss_of(&m, p, img, r1, r2, ng, nd);
    T_OK(atas_vit_backward(p, &m, r1, r2));
    for (int t = 0; t < m.ntensors; t++) {
        const atas_param_info *ti = &m.info[t];
        const float *g = m.grads + ti->offset;
        if (m.trainable[t]) {
            double e = t_rel_err(g, gfull + ti->offset, ti->numel, 1e-8);
            T_ASSERT(e < 1e-6, "trainable %s differs from full run: %.2e", ti->name, e);
        } else {
            double mx = 0;
            for (size_t i = 0; i < ti->numel; i++) mx = fmax(mx, fabs(g[i]));
            T_ASSERT(mx == 0, "frozen %s got a gradient (max %g)", ti->name, mx);
        }
    }
    T_ASSERT(atas_vit_trainable_params(&m) > 0 && atas_vit_trainable_params(&m) < m.nparams, "mask");
    atas_vit_pass_destroy(p);
    atas_vit_destroy(&m);
    return t_finish("test_vit_grad");
}
