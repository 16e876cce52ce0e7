/* A model config that cannot work fails before any work, naming the key and the rule. */
#include <string.h>

#include "vit_test_common.h"

static void expect_fail(atas_vit_config c, const char *needle) {
    atas_error_clear();
    atas_status s = atas_vit_config_check(&c, "model");
    T_ASSERT(s == ATAS_ERR_CONFIG, "expected a config error mentioning '%s'", needle);
    T_ASSERT(strstr(atas_error_message(), needle) != NULL, "message '%s' lacks '%s'",
             atas_error_message(), needle);
}

int main(void) {
    atas_vit_config c = tiny_cfg(ATAS_ACT_QUICKGELU);
    T_OK(atas_vit_config_check(&c, "model"));
    atas_vit_config b = c; b.heads = 5; expect_fail(b, "model.heads = 5: must divide model.width = 32");
    b = c; b.act = (atas_act)7; expect_fail(b, "model.act");
    b = c; b.layers = 0; expect_fail(b, "model.layers = 0");
    b = c; b.patch = -3; expect_fail(b, "model.patch");
    atas_error_clear();
    T_ASSERT(atas_vit_check_resolution(&c, 30, 32, "data.resolution") == ATAS_ERR_CONFIG &&
                 strstr(atas_error_message(), "data.resolution = 30x32: must be a positive multiple of the patch size 4"),
             "resolution: %s", atas_error_message());
    T_OK(atas_vit_check_resolution(&c, 32, 28, "data.resolution"));
    atas_vit_config v;
    T_OK(atas_vit_preset("ViT-B-16", &v));
    T_ASSERT(v.width == 768 && v.layers == 12 && v.patch == 16 && v.embed == 512, "B/16 preset");
    T_ASSERT(atas_vit_preset("ViT-X", &v) == ATAS_ERR_CONFIG, "unknown preset");
    /* docs/method.md: L*(24*N*D^2 + 4*N^2*D) + patch embed; B/16 at 960 is ~1.1-1.2 TFLOP */
    double fl = atas_vit_flops_forward(&v, 960, 960);
    double N = 3601, D = 768, want = 12 * (24 * N * D * D + 4 * N * N * D) + 2 * 3600.0 * 768 * 768;
    T_ASSERT(fabs(fl - want) < 1e-9 * want && fl > 1.0e12 && fl < 1.3e12, "B/16@960 flops %.4g vs %.4g", fl, want);
    /* parameter count of ViT-B/16's visual tower: 86.2M + proj */
    atas_param_info *info; int n; size_t np;
    T_OK(atas_vit_param_table(&v, &info, &n, &np));
    size_t numel = 0;
    for (int i = 0; i < n; i++) numel += info[i].numel;
    T_ASSERT(numel == 86192640, "ViT-B/16 visual params %zu", numel);
    atas_host_free(info);
    return t_finish("test_vit_config");
}
