/* Name maps between the atas parameter table (OpenCLIP names) and the names a
 * file uses: OpenCLIP/OpenAI `visual.*` or Hugging Face `vision_model.*`. */
#include <string.h>

#include "atas/weights.h"
#include "io/namemap_eva.h"

const char *atas_layout_name(atas_layout l) {
    return l == ATAS_LAYOUT_HF ? "hf" : l == ATAS_LAYOUT_EVA_BAAI ? "baai" : "openclip";
}

atas_status atas_layout_parse(const char *s, atas_layout *l) {
    if (strcmp(s, "hf") == 0) *l = ATAS_LAYOUT_HF;
    else if (strcmp(s, "openclip") == 0) *l = ATAS_LAYOUT_OPENCLIP;
    else if (strcmp(s, "baai") == 0) *l = ATAS_LAYOUT_EVA_BAAI;
    else return ATAS_ERR(ATAS_ERR_CONFIG, "layout \"%s\": expected openclip, hf or baai (EVA02)", s);
    return ATAS_OK;
}

const char *atas_weights_unwrap(const char *name) {
    for (;;) {
        if (strncmp(name, "state_dict.", 11) == 0) name += 11;
        else if (strncmp(name, "module.", 7) == 0) name += 7;
        else return name;
    }
}

int atas_namemap_is_vision(const char *name, atas_layout layout) {
    if (layout == ATAS_LAYOUT_EVA_BAAI) return atas_namemap_eva_is_vision(name, layout);
    if (layout == ATAS_LAYOUT_HF)
        return strncmp(name, "vision_model.", 13) == 0 || strncmp(name, "visual_projection.", 18) == 0;
    /* visual.rope.*: BAAI EVA-CLIP's rope tables, carried (never a CLIP/timm tensor) */
    return strncmp(name, "visual.", 7) == 0 && strncmp(name, "visual.rope.", 12) != 0;
}

static void part(atas_namemap_part *p, const atas_param_info *t, int row0, int rows, int transpose,
                 const char *name) {
    snprintf(p->name, sizeof p->name, "%s", name);
    p->row0 = row0;
    p->rows = rows;
    p->transpose = transpose;
    p->ndim = t->ndim;
    for (int i = 0; i < 4; i++) p->shape[i] = t->shape[i];
    p->shape[0] = rows;
    if (transpose) { p->shape[0] = t->shape[1]; p->shape[1] = t->shape[0]; }
}

int atas_namemap_parts(const atas_vit_config *c, const atas_param_info *info, int idx,
                       atas_layout layout, atas_namemap_part parts[3]) {
    const atas_param_info *t = &info[idx];
    char nm[160];
    if (c->family == ATAS_VIT_EVA02) return atas_namemap_eva_parts(c, info, idx, layout, parts);
    if (layout == ATAS_LAYOUT_OPENCLIP) {
        part(&parts[0], t, 0, t->shape[0], 0, t->name);
        return 1;
    }
    int L = c->layers, D = c->width;
    if (idx < ATAS_VIT_NHEAD) {
        static const char *head[ATAS_VIT_NHEAD] = {
            [ATAS_VIT_CONV1] = "vision_model.embeddings.patch_embedding.weight",
            [ATAS_VIT_CLS] = "vision_model.embeddings.class_embedding",
            [ATAS_VIT_POS] = "vision_model.embeddings.position_embedding.weight",
            [ATAS_VIT_LNPRE_W] = "vision_model.pre_layrnorm.weight",
            [ATAS_VIT_LNPRE_B] = "vision_model.pre_layrnorm.bias"};
        part(&parts[0], t, 0, t->shape[0], 0, head[idx]);
        return 1;
    }
    int b = idx - ATAS_VIT_NHEAD;
    if (b >= L * ATAS_BLK_NTENSORS) {
        int k = b - L * ATAS_BLK_NTENSORS;
        if (k == ATAS_VIT_PROJ) {
            part(&parts[0], t, 0, t->shape[0], 1, "visual_projection.weight");
            return 1;
        }
        part(&parts[0], t, 0, t->shape[0], 0,
             k == ATAS_VIT_LNPOST_W ? "vision_model.post_layernorm.weight"
                                    : "vision_model.post_layernorm.bias");
        return 1;
    }
    int l = b / ATAS_BLK_NTENSORS, k = b % ATAS_BLK_NTENSORS;
    static const char *blk[ATAS_BLK_NTENSORS] = {
        [ATAS_BLK_LN1_W] = "layer_norm1.weight", [ATAS_BLK_LN1_B] = "layer_norm1.bias",
        [ATAS_BLK_OUTPROJ_W] = "self_attn.out_proj.weight",
        [ATAS_BLK_OUTPROJ_B] = "self_attn.out_proj.bias", [ATAS_BLK_LN2_W] = "layer_norm2.weight",
        [ATAS_BLK_LN2_B] = "layer_norm2.bias", [ATAS_BLK_FC_W] = "mlp.fc1.weight",
        [ATAS_BLK_FC_B] = "mlp.fc1.bias", [ATAS_BLK_CPROJ_W] = "mlp.fc2.weight",
        [ATAS_BLK_CPROJ_B] = "mlp.fc2.bias"};
    if (k == ATAS_BLK_INPROJ_W || k == ATAS_BLK_INPROJ_B) {
        static const char qkv[3] = {'q', 'k', 'v'};
        for (int j = 0; j < 3; j++) {
            snprintf(nm, sizeof nm, "vision_model.encoder.layers.%d.self_attn.%c_proj.%s", l, qkv[j],
                     k == ATAS_BLK_INPROJ_W ? "weight" : "bias");
            part(&parts[j], t, j * D, D, 0, nm);
        }
        return 3;
    }
    snprintf(nm, sizeof nm, "vision_model.encoder.layers.%d.%s", l, blk[k]);
    part(&parts[0], t, 0, t->shape[0], 0, nm);
    return 1;
}
