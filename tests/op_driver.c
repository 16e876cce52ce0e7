/* Runs one CPU-backend op for tests/test_ops_torch.py:
 *   op_driver OP IN.bin OUT.bin [params...]
 * IN.bin holds the op's float32 inputs back to back (order below), OUT.bin
 * receives its float32 outputs back to back. Gradients start at zero, so the
 * backward outputs are the gradients themselves. Exit 0 on success. */
#include <stdlib.h>
#include <string.h>

#include "atas/backend.h"

static float *g_in;
static size_t g_nin, g_pos;
static FILE *g_out;

static float *take(size_t n) {
    if (g_pos + n > g_nin) {
        fprintf(stderr, "op_driver: input has %zu floats, need at least %zu\n", g_nin, g_pos + n);
        exit(2);
    }
    float *p = g_in + g_pos;
    g_pos += n;
    return p;
}
static float *zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) exit(2);
    return p;
}
static void put(const float *p, size_t n) { fwrite(p, sizeof(float), n, g_out); }
#define OK(e)                                                                         \
    do {                                                                              \
        if ((e) != ATAS_OK) {                                                         \
            atas_error_print(stderr);                                                 \
            return 1;                                                                 \
        }                                                                             \
    } while (0)

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: op_driver OP IN.bin OUT.bin [params...]\n");
        return 2;
    }
    const char *op = argv[1];
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 2; }
    fseek(f, 0, SEEK_END);
    g_nin = (size_t)ftell(f) / sizeof(float);
    fseek(f, 0, SEEK_SET);
    g_in = zeros(g_nin);
    if (fread(g_in, sizeof(float), g_nin, f) != g_nin) { fprintf(stderr, "short read\n"); return 2; }
    fclose(f);
    g_out = fopen(argv[3], "wb");
    if (!g_out) { perror(argv[3]); return 2; }
    int ip[8] = {0};
    for (int i = 4; i < argc && i < 12; i++) ip[i - 4] = atoi(argv[i]);
    const atas_backend *be = atas_backend_cpu();

    if (!strcmp(op, "linear")) { /* M K N : x W b dy -> y dx dW db */
        int M = ip[0], K = ip[1], N = ip[2];
        float *x = take((size_t)M * K), *W = take((size_t)N * K), *b = take(N), *dy = take((size_t)M * N);
        float *y = zeros((size_t)M * N), *dx = zeros((size_t)M * K), *dW = zeros((size_t)N * K), *db = zeros(N);
        OK(be->linear_fwd(y, x, W, b, M, K, N));
        OK(be->linear_bwd(dx, dW, db, dy, x, W, M, K, N));
        put(y, (size_t)M * N); put(dx, (size_t)M * K); put(dW, (size_t)N * K); put(db, N);
    } else if (!strcmp(op, "layernorm")) { /* M C : x w b dy -> y dx dw db */
        int M = ip[0], C = ip[1];
        float *x = take((size_t)M * C), *w = take(C), *b = take(C), *dy = take((size_t)M * C);
        float *y = zeros((size_t)M * C), *mu = zeros(M), *rs = zeros(M), *dx = zeros((size_t)M * C),
              *dw = zeros(C), *db = zeros(C);
        OK(be->layernorm_fwd(y, mu, rs, x, w, b, M, C, 1e-5f));
        OK(be->layernorm_bwd(dx, dw, db, dy, x, w, mu, rs, M, C));
        put(y, (size_t)M * C); put(dx, (size_t)M * C); put(dw, C); put(db, C);
    } else if (!strcmp(op, "attention")) { /* B T H hd : qkv dout -> out lse dqkv */
        int B = ip[0], T = ip[1], H = ip[2], hd = ip[3];
        size_t nq = (size_t)B * T * 3 * H * hd, no = (size_t)B * T * H * hd, nl = (size_t)B * H * T;
        float *qkv = take(nq), *dout = take(no);
        float *out = zeros(no), *lse = zeros(nl), *dqkv = zeros(nq);
        void *ws = NULL;
        OK(be->alloc(&ws, be->attention_workspace_bytes(B, T, H, hd), "workspace"));
        OK(be->attention_fwd(out, lse, qkv, B, T, H, hd, ws));
        OK(be->attention_bwd(dqkv, dout, qkv, out, lse, B, T, H, hd, ws));
        put(out, no); put(lse, nl); put(dqkv, nq);
    } else if (!strcmp(op, "attention_causal")) { /* B T H hd : qkv -> out lse (no backward) */
        int B = ip[0], T = ip[1], H = ip[2], hd = ip[3];
        size_t nq = (size_t)B * T * 3 * H * hd, no = (size_t)B * T * H * hd, nl = (size_t)B * H * T;
        float *qkv = take(nq), *out = zeros(no), *lse = zeros(nl);
        void *ws = NULL;
        OK(be->alloc(&ws, be->attention_workspace_bytes(B, T, H, hd), "workspace"));
        OK(be->attention_causal_fwd(out, lse, qkv, B, T, H, hd, ws));
        put(out, no); put(lse, nl);
    } else if (!strcmp(op, "act")) { /* n kind : x dy -> y dx */
        size_t n = (size_t)ip[0];
        float *x = take(n), *dy = take(n), *y = zeros(n), *dx = zeros(n);
        OK(be->act_fwd(y, x, n, (atas_act)ip[1]));
        OK(be->act_bwd(dx, dy, x, n, (atas_act)ip[1]));
        put(y, n); put(dx, n);
    } else if (!strcmp(op, "resample")) { /* ih iw oh ow C kind : in dout -> out din */
        int ih = ip[0], iw = ip[1], oh = ip[2], ow = ip[3], C = ip[4];
        size_t ni = (size_t)ih * iw * C, no = (size_t)oh * ow * C;
        float *in = take(ni), *dout = take(no), *out = zeros(no), *din = zeros(ni);
        OK(be->resample_fwd(out, in, ih, iw, oh, ow, C, (atas_resample)ip[5]));
        OK(be->resample_bwd(din, dout, ih, iw, oh, ow, C, (atas_resample)ip[5]));
        put(out, no); put(din, ni);
    } else if (!strcmp(op, "l2norm")) { /* M C : x dy -> y dx */
        int M = ip[0], C = ip[1];
        size_t n = (size_t)M * C;
        float *x = take(n), *dy = take(n), *y = zeros(n), *nrm = zeros(M), *dx = zeros(n);
        OK(be->l2norm_fwd(y, nrm, x, M, C));
        OK(be->l2norm_bwd(dx, dy, y, nrm, M, C));
        put(y, n); put(dx, n);
    } else if (!strcmp(op, "patchify")) { /* B H W P : img -> patches */
        int B = ip[0], H = ip[1], W = ip[2], P = ip[3];
        size_t n = (size_t)B * 3 * H * W;
        float *img = take(n), *pt = zeros(n);
        OK(be->patchify(pt, img, B, H, W, P));
        put(pt, n);
    } else if (!strcmp(op, "embed")) { /* B Np D : pe cls pos dx -> x dpe dcls dpos */
        int B = ip[0], Np = ip[1], D = ip[2], T = Np + 1;
        float *pe = take((size_t)B * Np * D), *cls = take(D), *pos = take((size_t)T * D),
              *dx = take((size_t)B * T * D);
        float *x = zeros((size_t)B * T * D), *dpe = zeros((size_t)B * Np * D), *dcls = zeros(D),
              *dpos = zeros((size_t)T * D);
        OK(be->embed_fwd(x, pe, cls, pos, B, Np, D));
        OK(be->embed_bwd(dpe, dcls, dpos, dx, B, Np, D));
        put(x, (size_t)B * T * D); put(dpe, (size_t)B * Np * D); put(dcls, D); put(dpos, (size_t)T * D);
    } else if (!strcmp(op, "adamw")) { /* n steps lr b1 b2 eps wd : p g[steps] -> p m v */
        size_t n = (size_t)ip[0];
        int steps = ip[1];
        float lr = (float)atof(argv[6]), b1 = (float)atof(argv[7]), b2 = (float)atof(argv[8]),
              eps = (float)atof(argv[9]), wd = (float)atof(argv[10]);
        float *p = take(n), *m = zeros(n), *v = zeros(n);
        for (int t = 1; t <= steps; t++) OK(be->adamw(p, take(n), m, v, n, lr, b1, b2, eps, wd, t));
        put(p, n); put(m, n); put(v, n);
    } else if (!strcmp(op, "reduce")) { /* n mom : teacher student z -> ema, sumsq(student), nonfinite(z) */
        size_t n = (size_t)ip[0];
        float mom = (float)atof(argv[5]);
        float *t = take(n), *s = take(n), *z = take(n);
        double ss;
        size_t nf;
        OK(be->sumsq(&ss, s, n));
        OK(be->count_nonfinite(&nf, z, n));
        OK(be->ema(t, s, n, mom));
        float extra[2] = {(float)ss, (float)nf};
        put(t, n); put(extra, 2);
    } else {
        fprintf(stderr, "op_driver: unknown op %s\n", op);
        return 2;
    }
    if (g_pos != g_nin) {
        fprintf(stderr, "op_driver: %s used %zu of %zu input floats\n", op, g_pos, g_nin);
        return 2;
    }
    return fclose(g_out) == 0 ? 0 : 2;
}
