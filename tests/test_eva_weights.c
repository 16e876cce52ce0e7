/* EVA02 weights in and out (docs/eva02.md): both layouts EVA02-CLIP comes in
 * (OpenCLIP/timm hub visual.trunk.*, BAAI EVA-CLIP visual.blocks.*) written
 * with the names and shapes those tools use, read back bit-exactly, the config
 * inferred from the shapes, BAAI's rope buffers carried, and bad files refused
 * with the tensor named: a missing one, a mis-shaped one, HF export, an EVA
 * file loaded as a CLIP ViT. */
#include <stdlib.h>
#include <unistd.h>

#include "atas/weights.h"
#include "vit_test_common.h"

static atas_vit_config eva_cfg(void) {
    atas_vit_config c = {.patch = 8, .width = 48, .layers = 2, .heads = 3, .mlp = 37, .embed = 24,
                         .grid = 5, .act = ATAS_ACT_GELU, .ln_eps = 1e-6f, .family = ATAS_VIT_EVA02};
    return c;
}

/* the file holds `name` with this 2-D (or 1-D when d1 == 0) shape */
static void expect(const char *path, const char *name, int64_t d0, int64_t d1) {
    atas_st *st;
    T_OK(atas_st_open(&st, path));
    int i = atas_st_find(st, name);
    T_ASSERT(i >= 0, "%s: no tensor %s", path, name);
    if (i >= 0) {
        const atas_st_tensor *t = atas_st_get(st, i);
        T_ASSERT(t->shape[0] == d0 && (d1 == 0 ? t->ndim == 1 : t->shape[1] == d1),
                 "%s: %s has shape [%lld,%lld]", path, name, (long long)t->shape[0],
                 (long long)(t->ndim > 1 ? t->shape[1] : 0));
    }
    atas_st_close(st);
}

static void absent(const char *path, const char *name) {
    atas_st *st;
    T_OK(atas_st_open(&st, path));
    T_ASSERT(atas_st_find(st, name) < 0, "%s: unexpected tensor %s", path, name);
    atas_st_close(st);
}

/* copy src to dst, dropping `drop` and giving `reshape` a wrong first dim; plus extra rope buffers */
static void rewrite(const char *src, const char *dst, const char *drop, const char *reshape, int rope) {
    atas_st *st;
    T_OK(atas_st_open(&st, src));
    const int n = atas_st_count(st);
    atas_st_entry *e = calloc((size_t)n + 2, sizeof *e);
    static float rope_tab[25 * 16];
    int k = 0;
    for (int i = 0; i < n; i++) {
        const atas_st_tensor *t = atas_st_get(st, i);
        if (drop && strcmp(t->name, drop) == 0) continue;
        e[k] = (atas_st_entry){t->name, t->dtype, t->ndim, {0}, t->data};
        memcpy(e[k].shape, t->shape, sizeof e[k].shape);
        if (reshape && strcmp(t->name, reshape) == 0) { e[k].shape[0] = 1; e[k].shape[1] = t->numel; }
        k++;
    }
    if (rope) {
        for (int i = 0; i < 25 * 16; i++) rope_tab[i] = (float)i;
        e[k++] = (atas_st_entry){"visual.rope.freqs_cos", ATAS_DT_F32, 2, {25, 16}, rope_tab};
        e[k++] = (atas_st_entry){"visual.rope.freqs_sin", ATAS_DT_F32, 2, {25, 16}, rope_tab};
    }
    T_OK(atas_st_write(dst, e, k));
    free(e);
    atas_st_close(st);
}

static void refused(const char *path, const atas_vit_config *c, const atas_param_info *info, int n,
                    float *host, const char *needle, const char *what) {
    atas_status s = atas_weights_read_host(path, c, info, n, host, NULL);
    const char *msg = atas_error_message();
    T_ASSERT(s != ATAS_OK && msg && strstr(msg, needle), "%s: expected an error naming '%s', got: %s",
             what, needle, s == ATAS_OK ? "success" : msg);
    printf("ok: %s -> %s\n", what, s == ATAS_OK ? "(none)" : msg);
    atas_error_clear();
}

int main(void) {
    const atas_backend *be = atas_backend_cpu();
    atas_vit_config c = eva_cfg();
    const int D = c.width, F = c.mlp;
    atas_vit m;
    T_OK(atas_vit_create(&m, &c, be, 0));
    T_OK(atas_vit_init_random(&m, 99));
    char dir[] = "/tmp/atas_eva_w_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char oc[300], baai[300], bad[300], hf[300], rt[300];
    snprintf(oc, sizeof oc, "%s/oc", dir);
    snprintf(baai, sizeof baai, "%s/baai.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    snprintf(hf, sizeof hf, "%s/hf", dir);
    snprintf(rt, sizeof rt, "%s/roundtrip.safetensors", dir);
    T_OK(atas_weights_save(oc, &m, ATAS_LAYOUT_OPENCLIP, NULL));
    T_OK(atas_weights_save(baai, &m, ATAS_LAYOUT_EVA_BAAI, NULL));
    char ocf[400];
    snprintf(ocf, sizeof ocf, "%s/open_clip_model.safetensors", oc);

    /* the names and shapes each tool uses */
    expect(ocf, "visual.trunk.patch_embed.proj.bias", D, 0);
    expect(ocf, "visual.trunk.blocks.1.attn.q_proj.weight", D, D);
    expect(ocf, "visual.trunk.blocks.1.attn.k_proj.weight", D, D);
    expect(ocf, "visual.trunk.blocks.1.attn.v_proj.bias", D, 0);
    expect(ocf, "visual.trunk.blocks.1.attn.norm.weight", D, 0);
    expect(ocf, "visual.trunk.blocks.0.mlp.fc1_g.weight", F, D);
    expect(ocf, "visual.trunk.blocks.0.mlp.fc1_x.bias", F, 0);
    expect(ocf, "visual.trunk.blocks.0.mlp.norm.weight", F, 0);
    expect(ocf, "visual.trunk.blocks.0.mlp.fc2.weight", D, F);
    expect(ocf, "visual.trunk.head.weight", c.embed, D);
    expect(ocf, "visual.trunk.head.bias", c.embed, 0);
    absent(ocf, "visual.trunk.blocks.0.attn.k_proj.bias");
    expect(baai, "visual.cls_token", 1, 1);
    expect(baai, "visual.pos_embed", 1, c.grid * c.grid + 1);
    expect(baai, "visual.blocks.1.attn.q_proj.weight", D, D);
    expect(baai, "visual.blocks.1.attn.q_bias", D, 0);
    expect(baai, "visual.blocks.1.attn.v_bias", D, 0);
    expect(baai, "visual.blocks.1.attn.inner_attn_ln.bias", D, 0);
    expect(baai, "visual.blocks.0.mlp.w1.weight", F, D);
    expect(baai, "visual.blocks.0.mlp.w2.weight", F, D);
    expect(baai, "visual.blocks.0.mlp.ffn_ln.weight", F, 0);
    expect(baai, "visual.blocks.0.mlp.w3.bias", D, 0);
    expect(baai, "visual.norm.weight", D, 0);
    expect(baai, "visual.head.weight", c.embed, D);

    /* config from the shapes, params back bit for bit, BAAI rope buffers carried */
    float *host = rand_buf(m.nparams, 0, 0), *want = rand_buf(m.nparams, 0, 0);
    T_OK(be->download(be, want, m.params, m.nparams * sizeof(float)));
    rewrite(baai, bad, NULL, NULL, 1);
    const char *files[] = {ocf, bad};
    for (int f = 0; f < 2; f++) {
        /* a converted BAAI state dict has no metadata: heads are stated, as users do */
        atas_vit_config got = {.heads = f ? c.heads : 0};
        int have_act = 0;
        T_OK(atas_weights_infer_config(files[f], &got, &have_act));
        T_ASSERT(got.family == ATAS_VIT_EVA02 && got.width == D && got.layers == c.layers &&
                     got.heads == c.heads && got.mlp == F && got.embed == c.embed &&
                     got.grid == c.grid && got.patch == c.patch && got.ln_eps == c.ln_eps && have_act,
                 "%s: inferred family %d width %d layers %d heads %d mlp %d embed %d grid %d patch %d "
                 "eps %g", files[f], got.family, got.width, got.layers, got.heads, got.mlp, got.embed,
                 got.grid, got.patch, (double)got.ln_eps);
        atas_weights_extra *x = NULL;
        memset(host, 0, m.nparams * sizeof(float));
        T_OK(atas_weights_read_host(files[f], &c, m.info, m.ntensors, host, &x));
        T_ASSERT(memcmp(host, want, m.nparams * sizeof(float)) == 0, "%s: params differ", files[f]);
        T_ASSERT(x->layout == (f ? ATAS_LAYOUT_EVA_BAAI : ATAS_LAYOUT_OPENCLIP), "%s: layout %d",
                 files[f], x->layout);
        T_ASSERT(x->n == (f ? 2 : 0), "%s: %d carried tensors", files[f], x->n);
        if (f) { /* exported back to BAAI names with the rope buffers */
            T_OK(atas_weights_save_host(rt, &c, m.info, m.ntensors, host, ATAS_LAYOUT_EVA_BAAI, x));
            expect(rt, "visual.rope.freqs_cos", 25, 16);
            expect(rt, "visual.blocks.0.attn.inner_attn_ln.weight", D, 0);
        }
        atas_weights_extra_free(x);
    }
    printf("ok: both layouts read back bit-exactly, config inferred, rope buffers carried\n");

    /* bad files */
    rewrite(baai, bad, "visual.blocks.1.attn.v_bias", NULL, 0);
    refused(bad, &c, m.info, m.ntensors, host, "'visual.blocks.1.attn.v_bias' missing", "missing v_bias");
    rewrite(ocf, bad, "visual.trunk.blocks.0.mlp.fc1_x.weight", NULL, 0);
    refused(bad, &c, m.info, m.ntensors, host, "'visual.trunk.blocks.0.mlp.fc1_x.weight' missing",
            "missing fc1_x");
    rewrite(baai, bad, NULL, "visual.blocks.0.mlp.w2.weight", 0);
    refused(bad, &c, m.info, m.ntensors, host, "'visual.blocks.0.mlp.w2.weight': expected shape [37,48]",
            "mis-shaped w2");
    rewrite(ocf, bad, NULL, "visual.trunk.blocks.1.attn.k_proj.weight", 0);
    refused(bad, &c, m.info, m.ntensors, host, "'visual.trunk.blocks.1.attn.k_proj.weight': expected shape",
            "mis-shaped k_proj");
    atas_vit_config clip = tiny_cfg(ATAS_ACT_GELU);
    atas_param_info *ci;
    int cn;
    size_t cp;
    T_OK(atas_vit_param_table(&clip, &ci, &cn, &cp));
    float *ch = rand_buf(cp, 0, 0);
    refused(baai, &clip, ci, cn, ch, "EVA02-CLIP weights but the model config is a CLIP", "EVA file as CLIP");
    atas_status s = atas_weights_save(hf, &m, ATAS_LAYOUT_HF, NULL);
    T_ASSERT(s != ATAS_OK && strstr(atas_error_message(), "no EVA02-CLIP class"), "hf export: %s",
             s == ATAS_OK ? "accepted" : atas_error_message());
    T_ASSERT(access(hf, F_OK) != 0, "hf export left %s behind", hf);
    printf("ok: hf export refused -> %s\n", atas_error_message());
    atas_error_clear();

    atas_host_free(host); atas_host_free(want); atas_host_free(ch); atas_host_free(ci);
    atas_vit_destroy(&m);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {}
    return t_finish("test_eva_weights");
}
