/* Name maps of the EVA02 family (docs/eva02.md): atas' table (timm names, q|k|v
 * and w1|w2 fused) to the two layouts EVA02-CLIP weights come in:
 *   openclip: OpenCLIP / timm hub files, visual.trunk.* (timm's Eva with
 *             qkv_fused=False: attn.{q,k,v}_proj, q/v biases on q_proj/v_proj,
 *             attn.norm, mlp.fc1_g / fc1_x / norm / fc2, head with bias);
 *   baai:     BAAI EVA-CLIP state dicts, visual.* (attn.{q,k,v}_proj.weight,
 *             attn.q_bias / v_bias, attn.inner_attn_ln, mlp.w1 / w2 / ffn_ln / w3).
 * Hugging Face transformers has no EVA02-CLIP class: no hf map. */
#include <string.h>

#include "atas/weights.h"
#include "io/namemap_eva.h"

static void part(atas_namemap_part *p, const atas_param_info *t, int row0, int rows,
                 const char *name) {
    snprintf(p->name, sizeof p->name, "%s", name);
    p->row0 = row0;
    p->rows = rows;
    p->transpose = 0;
    p->ndim = t->ndim;
    for (int i = 0; i < 4; i++) p->shape[i] = t->shape[i];
    p->shape[0] = rows;
}

int atas_namemap_eva_is_baai(const char *name) {
    return strncmp(name, "visual.blocks.", 14) == 0 || strncmp(name, "visual.patch_embed.", 19) == 0;
}

int atas_namemap_eva_is_timm(const char *name) { return strncmp(name, "visual.trunk.", 13) == 0; }

int atas_namemap_eva_is_vision(const char *name, atas_layout layout) {
    if (layout == ATAS_LAYOUT_EVA_BAAI)
        /* BAAI's rope tables (visual.rope.freqs_cos / freqs_sin) are buffers of the
         * construction grid, recomputed here: carried, not loaded */
        return strncmp(name, "visual.", 7) == 0 && strncmp(name, "visual.rope.", 12) != 0;
    return atas_namemap_eva_is_timm(name);
}

int atas_namemap_eva_parts(const atas_vit_config *c, const atas_param_info *info, int idx,
                           atas_layout layout, atas_namemap_part parts[3]) {
    const atas_param_info *t = &info[idx];
    const int L = c->layers, D = c->width, F = c->mlp, baai = layout == ATAS_LAYOUT_EVA_BAAI;
    char nm[160];
    if (layout == ATAS_LAYOUT_HF) return 0; /* refused by the callers */
    if (idx < ATAS_EVA_NHEAD || idx >= atas_eva_tail(L, 0)) {
        /* visual.trunk.<x> (timm) or visual.<x> (BAAI): the same tails */
        snprintf(nm, sizeof nm, "visual.%s", t->name + strlen("visual.trunk."));
        part(&parts[0], t, 0, t->shape[0], baai ? nm : t->name);
        return 1;
    }
    const int l = (idx - ATAS_EVA_NHEAD) / ATAS_EVA_NBLK, k = (idx - ATAS_EVA_NHEAD) % ATAS_EVA_NBLK;
    const char *pre = baai ? "visual.blocks" : "visual.trunk.blocks";
    switch (k) {
    case ATAS_EVA_QKV_W:
        for (int j = 0; j < 3; j++) {
            snprintf(nm, sizeof nm, "%s.%d.attn.%c_proj.weight", pre, l, "qkv"[j]);
            part(&parts[j], t, j * D, D, nm);
        }
        return 3;
    case ATAS_EVA_W12_W:
    case ATAS_EVA_W12_B:
        for (int j = 0; j < 2; j++) {
            snprintf(nm, sizeof nm, "%s.%d.mlp.%s.%s", pre, l,
                     baai ? (j ? "w2" : "w1") : (j ? "fc1_x" : "fc1_g"),
                     k == ATAS_EVA_W12_W ? "weight" : "bias");
            part(&parts[j], t, j * F, F, nm);
        }
        return 2;
    default: break;
    }
    static const char *timm[ATAS_EVA_NBLK] = {
        [ATAS_EVA_NORM1_W] = "norm1.weight", [ATAS_EVA_NORM1_B] = "norm1.bias",
        [ATAS_EVA_Q_B] = "attn.q_proj.bias", [ATAS_EVA_V_B] = "attn.v_proj.bias",
        [ATAS_EVA_ILN_W] = "attn.norm.weight", [ATAS_EVA_ILN_B] = "attn.norm.bias",
        [ATAS_EVA_PROJ_W] = "attn.proj.weight", [ATAS_EVA_PROJ_B] = "attn.proj.bias",
        [ATAS_EVA_NORM2_W] = "norm2.weight", [ATAS_EVA_NORM2_B] = "norm2.bias",
        [ATAS_EVA_FLN_W] = "mlp.norm.weight", [ATAS_EVA_FLN_B] = "mlp.norm.bias",
        [ATAS_EVA_W3_W] = "mlp.fc2.weight", [ATAS_EVA_W3_B] = "mlp.fc2.bias"};
    static const char *bai[ATAS_EVA_NBLK] = {
        [ATAS_EVA_NORM1_W] = "norm1.weight", [ATAS_EVA_NORM1_B] = "norm1.bias",
        [ATAS_EVA_Q_B] = "attn.q_bias", [ATAS_EVA_V_B] = "attn.v_bias",
        [ATAS_EVA_ILN_W] = "attn.inner_attn_ln.weight", [ATAS_EVA_ILN_B] = "attn.inner_attn_ln.bias",
        [ATAS_EVA_PROJ_W] = "attn.proj.weight", [ATAS_EVA_PROJ_B] = "attn.proj.bias",
        [ATAS_EVA_NORM2_W] = "norm2.weight", [ATAS_EVA_NORM2_B] = "norm2.bias",
        [ATAS_EVA_FLN_W] = "mlp.ffn_ln.weight", [ATAS_EVA_FLN_B] = "mlp.ffn_ln.bias",
        [ATAS_EVA_W3_W] = "mlp.w3.weight", [ATAS_EVA_W3_B] = "mlp.w3.bias"};
    snprintf(nm, sizeof nm, "%s.%d.%s", pre, l, baai ? bai[k] : timm[k]);
    part(&parts[0], t, 0, t->shape[0], nm);
    return 1;
}
