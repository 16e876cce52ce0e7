/* ViT configs: validation with messages that name the key and the rule, presets, FLOPs. */
#include <string.h>

#include "atas/vit.h"

atas_status atas_vit_config_check(const atas_vit_config *c, const char *where) {
    const char *w = where ? where : "model";
#define POS(field)                                                                         \
    if (c->field <= 0)                                                                     \
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s.%s = %d: must be a positive integer", w, #field, c->field)
    POS(patch); POS(width); POS(layers); POS(heads); POS(mlp); POS(embed); POS(grid);
#undef POS
    /* Limits (docs/limits.md): far above any CLIP (ViT-bigG-14: width 1664, 48 layers, mlp
     * 8192, 1.8e9 parameters) and low enough that every size derived from them (3*width,
     * grid*grid+1, the parameter table, the token count) fits an int and the parameter
     * count fits memory: a wrong number is a message, not an overflow or an OOM kill. */
#define MAX(field, lim)                                                                    \
    if (c->field > (lim))                                                                  \
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s.%s = %d: larger than the supported maximum %d", w, \
                        #field, c->field, (lim))
    MAX(patch, ATAS_VIT_MAX_PATCH); MAX(width, ATAS_VIT_MAX_WIDTH); MAX(layers, ATAS_VIT_MAX_LAYERS);
    MAX(heads, ATAS_VIT_MAX_WIDTH); MAX(mlp, ATAS_VIT_MAX_MLP); MAX(embed, ATAS_VIT_MAX_WIDTH);
    MAX(grid, ATAS_VIT_MAX_GRID);
#undef MAX
    size_t D = (size_t)c->width, G = (size_t)c->grid, P = (size_t)c->patch;
    size_t per_layer = 4 * D * D + 2 * D * (size_t)c->mlp + 9 * D + (size_t)c->mlp + 16 * 12;
    size_t total = (size_t)c->layers * per_layer + D * 3 * P * P + (G * G + 1) * D + D * (size_t)c->embed + 6 * D;
    if (total > ATAS_VIT_MAX_PARAMS)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s: width %d, layers %d, mlp %d, patch %d, grid %d, embed %d make "
                        "%.3g parameters, more than the supported maximum %.3g", w, c->width, c->layers,
                        c->mlp, c->patch, c->grid, c->embed, (double)total, (double)ATAS_VIT_MAX_PARAMS);
    if (c->width % c->heads != 0)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s.heads = %d: must divide %s.width = %d", w, c->heads, w,
                        c->width);
    if (c->act != ATAS_ACT_QUICKGELU && c->act != ATAS_ACT_GELU)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s.act: unknown activation %d (expected quickgelu or gelu)",
                        w, (int)c->act);
    if (c->family != ATAS_VIT_CLIP && c->family != ATAS_VIT_EVA02)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s.family = %d: unknown (expected CLIP or EVA02)", w, c->family);
    if (c->family == ATAS_VIT_EVA02 && (c->width / c->heads) % 4 != 0)
        return ATAS_ERR(ATAS_ERR_CONFIG,
                        "%s: EVA02 head width %d (width/heads) must be a multiple of 4 (2-D rotary)", w,
                        c->width / c->heads);
    if (!(c->ln_eps > 0 && c->ln_eps < 1))
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s.ln_eps = %g: must be in (0, 1)", w, c->ln_eps);
    return ATAS_OK;
}

atas_status atas_vit_check_resolution(const atas_vit_config *c, int H, int W, const char *key) {
    if (H <= 0 || W <= 0 || H % c->patch != 0 || W % c->patch != 0)
        return ATAS_ERR(ATAS_ERR_CONFIG, "%s = %dx%d: must be a positive multiple of the patch size %d",
                        key ? key : "resolution", H, W, c->patch);
    return ATAS_OK;
}

atas_status atas_vit_preset(const char *name, atas_vit_config *c) {
    static const struct { const char *name; atas_vit_config c; } presets[] = {
        {"ViT-B-16", {16, 768, 12, 12, 3072, 512, 14, ATAS_ACT_QUICKGELU, 1e-5f, ATAS_VIT_CLIP}},
        {"ViT-B-32", {32, 768, 12, 12, 3072, 512, 7, ATAS_ACT_QUICKGELU, 1e-5f, ATAS_VIT_CLIP}},
        {"ViT-L-14", {14, 1024, 24, 16, 4096, 768, 16, ATAS_ACT_QUICKGELU, 1e-5f, ATAS_VIT_CLIP}},
        {"ViT-L-14-336", {14, 1024, 24, 16, 4096, 768, 24, ATAS_ACT_QUICKGELU, 1e-5f, ATAS_VIT_CLIP}},
        {"ViT-H-14", {14, 1280, 32, 16, 5120, 1024, 16, ATAS_ACT_GELU, 1e-5f, ATAS_VIT_CLIP}},
        {"ViT-g-14", {14, 1408, 40, 16, 6144, 1024, 16, ATAS_ACT_GELU, 1e-5f, ATAS_VIT_CLIP}},
        {"ViT-bigG-14", {14, 1664, 48, 16, 8192, 1280, 16, ATAS_ACT_GELU, 1e-5f, ATAS_VIT_CLIP}},
        /* EVA02-CLIP (docs/eva02.md): mlp = SwiGLU hidden (4*2/3 of the width) */
        {"EVA02-B-16", {16, 768, 12, 12, 2048, 512, 14, ATAS_ACT_GELU, 1e-6f, ATAS_VIT_EVA02}},
        {"EVA02-L-14", {14, 1024, 24, 16, 2730, 768, 16, ATAS_ACT_GELU, 1e-6f, ATAS_VIT_EVA02}},
        {"EVA02-L-14-336", {14, 1024, 24, 16, 2730, 768, 24, ATAS_ACT_GELU, 1e-6f, ATAS_VIT_EVA02}},
    };
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0) { *c = presets[i].c; return ATAS_OK; }
    return ATAS_ERR(ATAS_ERR_CONFIG,
                    "model.preset = \"%s\": unknown (expected ViT-B-16, ViT-B-32, ViT-L-14, "
                    "ViT-L-14-336, ViT-H-14, ViT-g-14, ViT-bigG-14, EVA02-B-16, EVA02-L-14 or "
                    "EVA02-L-14-336)", name);
}

double atas_vit_flops_forward(const atas_vit_config *c, int H, int W) {
    double N = 1.0 + (double)(H / c->patch) * (W / c->patch), D = c->width;
    double Np = N - 1, K = 3.0 * c->patch * c->patch;
    /* docs/method.md: L*(24*N*D^2 + 4*N^2*D) + patch embed (2*Np*K*D) */
    return c->layers * (24.0 * N * D * D + 4.0 * N * N * D) + 2.0 * Np * K * D;
}
