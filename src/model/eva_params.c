/* The EVA02 tensor table (docs/eva02.md): timm's names under "visual.trunk.",
 * in the order of the one parameter buffer; q|k|v and w1|w2 are stored fused
 * (one GEMM each), with timm's fused-attention names (attn.qkv.weight,
 * attn.q_bias, attn.v_bias) and mlp.fc1_gx (rows fc1_g = w1, then fc1_x = w2). */
#include <math.h>
#include <string.h>

#include "eva_internal.h"


atas_status atas_eva_param_table(const atas_vit_config *c, atas_param_info **info, int *n,
                                 size_t *nparams) {
    const int D = c->width, P = c->patch, G = c->grid, F = c->mlp, E = c->embed;
    const int count = ATAS_EVA_NHEAD + c->layers * ATAS_EVA_NBLK + ATAS_EVA_NTAIL;
    atas_param_info *t;
    ATAS_CHECK(atas_host_calloc((void **)&t, sizeof *t * count, "parameter table"));
    size_t off = 0;
    const char *tr = "visual.trunk";
    atas_param_set(&t[ATAS_EVA_PATCH_W], &off, 1, 4, (int[]){D, 3, P, P}, "%s.patch_embed.proj.weight", tr);
    atas_param_set(&t[ATAS_EVA_PATCH_B], &off, 0, 1, (int[]){D}, "%s.patch_embed.proj.bias", tr);
    atas_param_set(&t[ATAS_EVA_CLS], &off, 0, 3, (int[]){1, 1, D}, "%s.cls_token", tr);
    atas_param_set(&t[ATAS_EVA_POS], &off, 0, 3, (int[]){1, G * G + 1, D}, "%s.pos_embed", tr);
    for (int l = 0; l < c->layers; l++) {
        atas_param_info *b = &t[atas_eva_blk(l, 0)];
#define V1(k, n, nm) atas_param_set(&b[k], &off, 0, 1, (int[]){n}, "%s.blocks.%d." nm, tr, l)
#define M2(k, r, cc, nm) atas_param_set(&b[k], &off, 1, 2, (int[]){r, cc}, "%s.blocks.%d." nm, tr, l)
        V1(ATAS_EVA_NORM1_W, D, "norm1.weight");
        V1(ATAS_EVA_NORM1_B, D, "norm1.bias");
        M2(ATAS_EVA_QKV_W, 3 * D, D, "attn.qkv.weight");
        V1(ATAS_EVA_Q_B, D, "attn.q_bias");
        V1(ATAS_EVA_V_B, D, "attn.v_bias");
        V1(ATAS_EVA_ILN_W, D, "attn.norm.weight");
        V1(ATAS_EVA_ILN_B, D, "attn.norm.bias");
        M2(ATAS_EVA_PROJ_W, D, D, "attn.proj.weight");
        V1(ATAS_EVA_PROJ_B, D, "attn.proj.bias");
        V1(ATAS_EVA_NORM2_W, D, "norm2.weight");
        V1(ATAS_EVA_NORM2_B, D, "norm2.bias");
        M2(ATAS_EVA_W12_W, 2 * F, D, "mlp.fc1_gx.weight");
        V1(ATAS_EVA_W12_B, 2 * F, "mlp.fc1_gx.bias");
        V1(ATAS_EVA_FLN_W, F, "mlp.norm.weight");
        V1(ATAS_EVA_FLN_B, F, "mlp.norm.bias");
        M2(ATAS_EVA_W3_W, D, F, "mlp.fc2.weight");
        V1(ATAS_EVA_W3_B, D, "mlp.fc2.bias");
#undef V1
#undef M2
    }
    atas_param_info *tl = &t[atas_eva_tail(c->layers, 0)];
    atas_param_set(&tl[ATAS_EVA_NORM_W], &off, 0, 1, (int[]){D}, "%s.norm.weight", tr);
    atas_param_set(&tl[ATAS_EVA_NORM_B], &off, 0, 1, (int[]){D}, "%s.norm.bias", tr);
    atas_param_set(&tl[ATAS_EVA_HEAD_W], &off, 1, 2, (int[]){E, D}, "%s.head.weight", tr);
    atas_param_set(&tl[ATAS_EVA_HEAD_B], &off, 0, 1, (int[]){E}, "%s.head.bias", tr);
    *info = t;
    *n = count;
    *nparams = off;
    return ATAS_OK;
}

void atas_eva_set_trainable_blocks(atas_vit *m, int unlocked, int train_embeddings, int train_head) {
    const int L = m->cfg.layers;
    for (int i = 0; i < ATAS_EVA_NHEAD; i++) m->trainable[i] = (unsigned char)train_embeddings;
    for (int l = L - unlocked; l < L; l++)
        for (int k = 0; k < ATAS_EVA_NBLK; k++) m->trainable[atas_eva_blk(l, k)] = 1;
    for (int k = 0; k < ATAS_EVA_NTAIL; k++) m->trainable[atas_eva_tail(L, k)] = (unsigned char)train_head;
}

/* LayerNorm weights 1 + noise, biases small, matrices N(0, 1/fan-in) */
void atas_eva_init_std(const atas_vit *m, int i, float *mean, float *std) {
    const atas_param_info *t = &m->info[i];
    const char *nm = t->name;
    const size_t len = strlen(nm);
    const int is_norm_w = strstr(nm, "norm") && len > 7 && strcmp(nm + len - 7, ".weight") == 0;
    *mean = 0;
    if (is_norm_w) { *mean = 1.0f; *std = 0.1f; }
    else if (t->ndim == 1) *std = 0.02f;
    else if (i == ATAS_EVA_CLS || i == ATAS_EVA_POS) *std = 1.0f / sqrtf((float)m->cfg.width);
    else *std = 1.0f / sqrtf((float)(t->numel / (size_t)t->shape[0])); /* fan-in */
}
