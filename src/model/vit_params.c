/* The parameter table: OpenCLIP names and shapes, in the order of the one buffer. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atas/vit.h"
#include "eva_internal.h"


atas_status atas_vit_param_table(const atas_vit_config *c, atas_param_info **info, int *n,
                                 size_t *nparams) {
    ATAS_CHECK(atas_vit_config_check(c, "model"));
    if (c->family == ATAS_VIT_EVA02) return atas_eva_param_table(c, info, n, nparams);
    int D = c->width, P = c->patch, G = c->grid, Hm = c->mlp, E = c->embed;
    /* sizes in size_t; the limits checked above keep every int below (G*G+1, 3*D) in range */
    size_t count = ATAS_VIT_NHEAD + (size_t)c->layers * ATAS_BLK_NTENSORS + ATAS_VIT_NTAIL;
    ATAS_REQUIRE(count <= (size_t)INT_MAX / 2 && (size_t)G * G + 1 <= (size_t)INT_MAX && 3 * (size_t)D <= (size_t)INT_MAX,
            "model: sizes out of range (layers %d, grid %d, width %d)", c->layers, G, D);
    atas_param_info *t;
    ATAS_CHECK(atas_host_calloc((void **)&t, sizeof *t * count, "parameter table"));
    size_t off = 0;
    atas_param_set(&t[ATAS_VIT_CONV1], &off, 1, 4, (int[]){D, 3, P, P}, "visual.conv1.weight");
    atas_param_set(&t[ATAS_VIT_CLS], &off, 0, 1, (int[]){D}, "visual.class_embedding");
    atas_param_set(&t[ATAS_VIT_POS], &off, 0, 2, (int[]){G * G + 1, D}, "visual.positional_embedding");
    atas_param_set(&t[ATAS_VIT_LNPRE_W], &off, 0, 1, (int[]){D}, "visual.ln_pre.weight");
    atas_param_set(&t[ATAS_VIT_LNPRE_B], &off, 0, 1, (int[]){D}, "visual.ln_pre.bias");
    for (int l = 0; l < c->layers; l++) {
        const char *pre = "visual.transformer.resblocks";
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_LN1_W)], &off, 0, 1, (int[]){D}, "%s.%d.ln_1.weight", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_LN1_B)], &off, 0, 1, (int[]){D}, "%s.%d.ln_1.bias", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_INPROJ_W)], &off, 1, 2, (int[]){3 * D, D}, "%s.%d.attn.in_proj_weight", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_INPROJ_B)], &off, 0, 1, (int[]){3 * D}, "%s.%d.attn.in_proj_bias", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_OUTPROJ_W)], &off, 1, 2, (int[]){D, D}, "%s.%d.attn.out_proj.weight", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_OUTPROJ_B)], &off, 0, 1, (int[]){D}, "%s.%d.attn.out_proj.bias", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_LN2_W)], &off, 0, 1, (int[]){D}, "%s.%d.ln_2.weight", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_LN2_B)], &off, 0, 1, (int[]){D}, "%s.%d.ln_2.bias", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_FC_W)], &off, 1, 2, (int[]){Hm, D}, "%s.%d.mlp.c_fc.weight", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_FC_B)], &off, 0, 1, (int[]){Hm}, "%s.%d.mlp.c_fc.bias", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_CPROJ_W)], &off, 1, 2, (int[]){D, Hm}, "%s.%d.mlp.c_proj.weight", pre, l);
        atas_param_set(&t[atas_vit_blk(l, ATAS_BLK_CPROJ_B)], &off, 0, 1, (int[]){D}, "%s.%d.mlp.c_proj.bias", pre, l);
    }
    atas_param_set(&t[atas_vit_tail(c->layers, ATAS_VIT_LNPOST_W)], &off, 0, 1, (int[]){D}, "visual.ln_post.weight");
    atas_param_set(&t[atas_vit_tail(c->layers, ATAS_VIT_LNPOST_B)], &off, 0, 1, (int[]){D}, "visual.ln_post.bias");
    atas_param_set(&t[atas_vit_tail(c->layers, ATAS_VIT_PROJ)], &off, 1, 2, (int[]){D, E}, "visual.proj");
    *info = t;
    *n = (int)count;
    *nparams = off;
    return ATAS_OK;
}

atas_status atas_vit_create(atas_vit *m, const atas_vit_config *cfg, const atas_backend *be,
                            int with_grads) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->be = be;
    ATAS_CHECK(atas_vit_param_table(cfg, &m->info, &m->ntensors, &m->nparams));
    ATAS_CHECK(atas_host_calloc((void **)&m->trainable, (size_t)m->ntensors, "trainable mask"));
    ATAS_CHECK(be->alloc(be, (void **)&m->params, m->nparams * sizeof(float), "parameters"));
    if (with_grads) ATAS_CHECK(be->alloc(be, (void **)&m->grads, m->nparams * sizeof(float), "gradients"));
    atas_vit_set_trainable_all(m, with_grads);
    if (atas_vit_bf16_storage_default(be)) ATAS_CHECK(atas_vit_set_bf16_storage(m, 1));
    return ATAS_OK;
}

int atas_vit_bf16_storage_default(const atas_backend *be) {
    const char *env = getenv("ATAS_BF16_STORAGE");
    return be->precision == ATAS_PREC_BF16 && !(env && strcmp(env, "0") == 0);
}

atas_status atas_vit_set_bf16_storage(atas_vit *m, int on) {
    const atas_backend *be = m->be;
    if (!on) {
        be->free(be, m->params_h);
        m->params_h = NULL;
        return ATAS_OK;
    }
    if (m->params_h) return ATAS_OK;
    if (be->precision != ATAS_PREC_BF16)
        return ATAS_ERR(ATAS_ERR_UNSUPPORTED, "bf16 storage needs a backend at precision bf16 (this one: %s at %s)",
                        be->name, atas_precision_name(be->precision));
    ATAS_CHECK(be->alloc(be, (void **)&m->params_h, m->nparams * sizeof(atas_bf16), "parameters (bf16 copy)"));
    /* valid from the start (every forward refreshes it again) */
    return be->cast_bf16(be, m->params_h, m->params, m->nparams);
}

void atas_vit_destroy(atas_vit *m) {
    if (!m) return;
    if (m->be) {
        m->be->free(m->be, m->params);
        m->be->free(m->be, m->grads);
        m->be->free(m->be, m->params_h);
    }
    atas_host_free(m->info);
    atas_host_free(m->trainable);
    memset(m, 0, sizeof *m);
}

int atas_vit_find(const atas_vit *m, const char *name) {
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->info[i].name, name) == 0) return i;
    return -1;
}

void atas_vit_set_trainable_all(atas_vit *m, int on) {
    for (int i = 0; i < m->ntensors; i++) m->trainable[i] = (unsigned char)(on && m->grads);
}

void atas_vit_set_trainable_blocks(atas_vit *m, int unlocked, int train_embeddings, int train_head) {
    int L = m->cfg.layers;
    if (unlocked <= 0 || unlocked > L) unlocked = L;
    atas_vit_set_trainable_all(m, 0);
    if (!m->grads) return;
    if (m->cfg.family == ATAS_VIT_EVA02) {
        atas_eva_set_trainable_blocks(m, unlocked, train_embeddings, train_head);
        return;
    }
    for (int i = 0; i < ATAS_VIT_NHEAD; i++) m->trainable[i] = (unsigned char)train_embeddings;
    for (int l = L - unlocked; l < L; l++)
        for (int k = 0; k < ATAS_BLK_NTENSORS; k++) m->trainable[atas_vit_blk(l, k)] = 1;
    for (int k = 0; k < ATAS_VIT_NTAIL; k++) m->trainable[atas_vit_tail(L, k)] = (unsigned char)train_head;
}

size_t atas_vit_trainable_params(const atas_vit *m) {
    size_t n = 0;
    for (int i = 0; i < m->ntensors; i++)
        if (m->trainable[i]) n += m->info[i].numel;
    return n;
}

atas_status atas_vit_zero_grads(atas_vit *m) {
    if (m->grads) ATAS_CHECK(m->be->zero(m->be, m->grads, m->nparams * sizeof(float)));
    return ATAS_OK;
}

atas_status atas_vit_init_random(atas_vit *m, uint64_t seed) {
    float *h;
    ATAS_CHECK(atas_host_calloc((void **)&h, m->nparams * sizeof(float), "init staging"));
    int D = m->cfg.width;
    for (int i = 0; i < m->ntensors; i++) {
        const atas_param_info *t = &m->info[i];
        atas_rng r = atas_rng_stream(seed, 0x494E4954ull, (uint64_t)i);
        const char *nm = t->name;
        size_t len = strlen(nm);
        int is_ln_w = strstr(nm, "ln_") && len > 7 && strcmp(nm + len - 7, ".weight") == 0;
        float std, mean = 0;
        if (is_ln_w) { mean = 1.0f; std = 0.1f; }
        else if (t->ndim == 1 && strstr(nm, "bias")) std = 0.02f;
        else if (i == ATAS_VIT_CLS || i == ATAS_VIT_POS) std = 1.0f / sqrtf((float)D);
        else std = 1.0f / sqrtf((float)t->shape[t->ndim - 1]); /* fan-in */
        if (i == ATAS_VIT_PROJ + ATAS_VIT_NHEAD + m->cfg.layers * ATAS_BLK_NTENSORS)
            std = 1.0f / sqrtf((float)D); /* proj is [D,E]: fan-in is D */
        if (m->cfg.family == ATAS_VIT_EVA02) atas_eva_init_std(m, i, &mean, &std);
        for (size_t k = 0; k < t->numel; k++) h[t->offset + k] = mean + std * atas_rng_normal(&r);
    }
    atas_status s = m->be->upload(m->be, m->params, h, m->nparams * sizeof(float));
    atas_host_free(h);
    ATAS_CHECK(s);
    return ATAS_OK;
}
