/* The text tower's forward: every step is a backend op, so it runs on the CPU
 * and on CUDA alike; only the ids and the final [B,E] cross the host boundary. */
#include <stdlib.h>
#include <string.h>

#include "atas/text.h"

static void free_buffers(atas_text *t) {
    atas_plan_release(&t->plan);
    t->Bcap = 0;
}

void atas_text_free(atas_text *t) {
    if (!t) return;
    free_buffers(t);
    if (t->params) t->be->free(t->be, t->params);
    free(t->off);
    free(t);
}

static atas_status ensure_buffers(atas_text *t, int B) {
    if (B <= t->Bcap) return ATAS_OK;
    free_buffers(t);
    const atas_backend *be = t->be;
    const atas_text_config *c = &t->cfg;
    const size_t rows = (size_t)B * c->ctx, W = c->width, f = sizeof(float);
    /* the activation plan of a forward over B sequences: one allocation */
    atas_plan *pl = &t->plan;
    atas_plan_init(pl, be, "text tower");
    atas_plan_add(pl, &t->x, rows * W * f, "text x");
    atas_plan_add(pl, &t->h, rows * W * f, "text h");
    atas_plan_add(pl, &t->qkv, rows * 3 * W * f, "text qkv");
    atas_plan_add(pl, &t->att, rows * W * f, "text attention");
    atas_plan_add(pl, &t->hid, rows * (size_t)c->mlp * f, "text mlp");
    atas_plan_add(pl, &t->pooled, (size_t)B * W * f, "text pooled");
    atas_plan_add(pl, &t->pooled_ln, (size_t)B * W * f, "text pooled ln");
    atas_plan_add(pl, &t->out, (size_t)B * c->embed * f, "text out");
    size_t wsb = be->attention_workspace_bytes(be, B, c->ctx, c->heads, c->width / c->heads);
    atas_plan_add(pl, &t->ws, wsb ? wsb : 64, "text attention workspace");
    ATAS_CHECK(atas_plan_alloc(pl));
    /* debug level: the text tower's programs print JSON on stdout */
    atas_plan_print(pl, ATAS_LOG_DEBUG);
    t->Bcap = B;
    return ATAS_OK;
}

atas_status atas_text_encode(atas_text *t, const int32_t *ids, int B, float *out) {
    ATAS_REQUIRE(t && ids && out && B >= 0, "atas_text_encode: bad arguments");
    if (B == 0) return ATAS_OK;
    const atas_text_config *c = &t->cfg;
    const atas_backend *be = t->be;
    const int W = c->width, L = c->layers, H = c->heads;
    const size_t f = sizeof(float);
    for (size_t i = 0; i < (size_t)B * c->ctx; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return ATAS_ERR(ATAS_ERR_INVALID, "text: token id %d (sequence %zu, position %zu) "
                            "outside the vocabulary [0, %d)", ids[i], i / c->ctx, i % c->ctx,
                            c->vocab);
    ATAS_CHECK(ensure_buffers(t, B));
    /* EOT pooling: OpenCLIP takes the argmax of the ids (the EOT token has the
     * largest id). Attention is causal, so no position after the last EOT of
     * the batch can change any pooled row: run only the first T positions. */
    int *eot = malloc((size_t)B * sizeof *eot), T = 1;
    if (!eot) return ATAS_ERR(ATAS_ERR_NOMEM, "text: no memory");
    for (int b = 0; b < B; b++) {
        int am = 0;
        for (int j = 1; j < c->ctx; j++)
            if (ids[(size_t)b * c->ctx + j] > ids[(size_t)b * c->ctx + am]) am = j;
        eot[b] = am;
        T = ATAS_MAX(T, am + 1);
    }
    const size_t rows = (size_t)B * T;
    /* token embedding rows + positional embedding */
    const float *tok = atas_txt_p(t, ATAS_TXT_TOK), *pos = atas_txt_p(t, ATAS_TXT_POS);
    atas_status st = ATAS_OK;
    for (int b = 0; b < B && st == ATAS_OK; b++)
        for (int j = 0; j < T && st == ATAS_OK; j++)
            st = be->copy(be, t->x + ((size_t)b * T + j) * W, tok + (size_t)ids[(size_t)b * c->ctx + j] * W,
                          W * f);
    for (int b = 0; b < B && st == ATAS_OK; b++)
        st = be->add(be, t->x + (size_t)b * T * W, t->x + (size_t)b * T * W, pos, (size_t)T * W);
    if (st != ATAS_OK) {
        free(eot);
        return atas_error_trace(st, __FILE__, __LINE__, __func__);
    }
    /* causal pre-LN blocks */
    for (int l = 0; l < L; l++) {
#define P(k) atas_txt_p(t, atas_txt_blk(l, k))
#define DO(expr) ATAS_CHECK_GOTO(st, expr, done)
        if (l == 0) /* later blocks get their ln_1 from the previous block's last add */
            DO(be->layernorm_fwd(be, t->h, NULL, NULL, t->x, P(ATAS_BLK_LN1_W), P(ATAS_BLK_LN1_B),
                                 (int)rows, W, c->ln_eps));
        DO(be->linear_fwd(be, t->qkv, t->h, P(ATAS_BLK_INPROJ_W), P(ATAS_BLK_INPROJ_B), (int)rows, W,
                          3 * W));
        DO(be->attention_causal_fwd(be, t->att, NULL, t->qkv, B, T, H, W / H, t->ws));
        DO(be->linear_fwd(be, t->h, t->att, P(ATAS_BLK_OUTPROJ_W), P(ATAS_BLK_OUTPROJ_B), (int)rows,
                          W, W));
        DO(be->add_layernorm_fwd(be, t->x, t->h, NULL, NULL, t->h, t->x, P(ATAS_BLK_LN2_W), P(ATAS_BLK_LN2_B),
                                 (int)rows, W, c->ln_eps));
        DO(be->linear_fwd(be, t->hid, t->h, P(ATAS_BLK_FC_W), P(ATAS_BLK_FC_B), (int)rows, W, c->mlp));
        DO(be->act_fwd(be, t->hid, t->hid, rows * c->mlp, c->act));
        DO(be->linear_fwd(be, t->h, t->hid, P(ATAS_BLK_CPROJ_W), P(ATAS_BLK_CPROJ_B), (int)rows,
                          c->mlp, W));
        if (l + 1 < L)
            DO(be->add_layernorm_fwd(be, t->x, t->h, NULL, NULL, t->h, t->x,
                                     atas_txt_p(t, atas_txt_blk(l + 1, ATAS_BLK_LN1_W)),
                                     atas_txt_p(t, atas_txt_blk(l + 1, ATAS_BLK_LN1_B)), (int)rows, W, c->ln_eps));
        else
            DO(be->add(be, t->x, t->x, t->h, rows * W));
#undef DO
#undef P
    }
    /* the EOT rows; ln_final is per row, so it runs on the pooled rows only */
    for (int b = 0; b < B; b++)
        ATAS_CHECK_GOTO(st, be->copy(be, t->pooled + (size_t)b * W, t->x + ((size_t)b * T + eot[b]) * W,
                                W * f), done);
    ATAS_CHECK_GOTO(st, be->layernorm_fwd(be, t->pooled_ln, NULL, NULL, t->pooled,
                                     atas_txt_p(t, atas_txt_tail(L, ATAS_TXT_LNF_W)),
                                     atas_txt_p(t, atas_txt_tail(L, ATAS_TXT_LNF_B)), B, W, c->ln_eps), done);
    ATAS_CHECK_GOTO(st, be->matmul_fwd(be, t->out, t->pooled_ln, atas_txt_p(t, atas_txt_tail(L, ATAS_TXT_PROJ)), B, W,
                                  c->embed), done);
    ATAS_CHECK_GOTO(st, be->sync(be), done);
    ATAS_CHECK_GOTO(st, be->download(be, out, t->out, (size_t)B * c->embed * f), done);
done:
    free(eot);
    return st;
}
