/* The C side of tests/test_ops_torch.py, driven by the op registry's case list
 * (src/backend/op_cases.c):
 *   op_driver --list              one JSON line per OPC_TORCH case: index, family,
 *                                 label, p, f, bounds and its tensors (name, role,
 *                                 floats, fill scale and offset)
 *   op_driver INDEX IN.bin OUT.bin  runs case INDEX on the CPU backend
 *   op_driver --precision P INDEX IN.bin OUT.bin   the same at precision P (tf32 |
 *                                 bf16 | fp32; test_precision_torch.py)
 *   op_driver --round P IN.bin OUT.bin   atas_round_precision of every float32
 * IN.bin holds the case's inputs (roles in, up, inout) as float32 back to back in
 * tensor order; OUT.bin receives every other tensor and the inout ones after the
 * run (roles out, saved, grad, inout), in tensor order. Gradients start at zero,
 * so the backward outputs are the gradients themselves. Exit 0 on success. */
#include <stdlib.h>
#include <string.h>

#include "atas/op_cases.h"

static const char *role_name(opc_role r) {
    static const char *n[] = {"in", "up", "out", "saved", "grad", "inout"};
    return n[r];
}
static int is_input(opc_role r) { return r == OPC_IN || r == OPC_UP || r == OPC_INOUT; }

static int list(void) {
    for (int i = 0; i < atas_op_ncases; i++) {
        const opc_case *c = &atas_op_cases[i];
        if (!(c->modes & OPC_TORCH)) continue;
        const opc_family *f = atas_op_family(c->family);
        if (!f) { fprintf(stderr, "op_driver: case %d: unknown family %s\n", i, c->family); return 2; }
        opc_tensor t[OPC_MAXT];
        const int nt = f->tensors(c, t);
        printf("{\"index\": %d, \"family\": \"%s\", \"label\": \"%s\", \"p\": [", i, c->family, c->label);
        for (int k = 0; k < 8; k++) printf("%s%d", k ? ", " : "", c->p[k]);
        printf("], \"f\": [");
        for (int k = 0; k < 6; k++) printf("%s%.9g", k ? ", " : "", (double)c->f[k]);
        printf("], \"fwd\": %g, \"bwd\": %g, \"tensors\": [", c->torch_fwd, c->torch_bwd);
        for (int k = 0; k < nt; k++)
            printf("%s{\"name\": \"%s\", \"role\": \"%s\", \"n\": %zu, \"scale\": %.9g, \"off\": %.9g}",
                   k ? ", " : "", t[k].name, role_name(t[k].role), t[k].n, (double)t[k].scale,
                   (double)t[k].off);
        printf("]}\n");
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--list")) return list();
    atas_precision prec = ATAS_PREC_FP32;
    if (argc == 5 && !strcmp(argv[1], "--round")) {
        if (atas_precision_parse(argv[2], &prec) != ATAS_OK) {
            atas_error_print(stderr);
            return 2;
        }
        FILE *in = fopen(argv[3], "rb");
        if (!in) { perror(argv[3]); return 2; }
        size_t n = 0, cap = 1024;
        float *v = malloc(cap * sizeof(float));
        while (v && fread(v + n, sizeof(float), 1, in) == 1)
            if (++n == cap) v = realloc(v, (cap *= 2) * sizeof(float));
        fclose(in);
        if (!v) return 2;
        atas_round_precision(v, v, n, prec);
        FILE *out = fopen(argv[4], "wb");
        if (!out || fwrite(v, sizeof(float), n, out) != n) { perror(argv[4]); return 2; }
        free(v);
        return fclose(out) == 0 ? 0 : 2;
    }
    if (argc == 6 && !strcmp(argv[1], "--precision")) {
        if (atas_precision_parse(argv[2], &prec) != ATAS_OK) {
            atas_error_print(stderr);
            return 2;
        }
        argc -= 2;
        argv += 2;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: op_driver --list | op_driver [--precision P] INDEX IN.bin OUT.bin\n");
        return 2;
    }
    const int idx = atoi(argv[1]);
    if (idx < 0 || idx >= atas_op_ncases) { fprintf(stderr, "op_driver: no case %d\n", idx); return 2; }
    const opc_case *c = &atas_op_cases[idx];
    const opc_family *f = atas_op_family(c->family);
    if (!f) { fprintf(stderr, "op_driver: unknown family %s\n", c->family); return 2; }
    opc_tensor t[OPC_MAXT];
    const int nt = f->tensors(c, t);
    size_t need = 0;
    float *h[OPC_MAXT];
    for (int k = 0; k < nt; k++) {
        h[k] = calloc(t[k].n ? t[k].n : 1, sizeof(float));
        if (!h[k]) return 2;
        if (is_input(t[k].role)) need += t[k].n;
    }
    FILE *in = fopen(argv[2], "rb");
    if (!in) { perror(argv[2]); return 2; }
    for (int k = 0; k < nt; k++)
        if (is_input(t[k].role) && fread(h[k], sizeof(float), t[k].n, in) != t[k].n) {
            fprintf(stderr, "op_driver: %s holds fewer than the %zu input floats of case %d\n",
                    argv[2], need, idx);
            return 2;
        }
    if (fgetc(in) != EOF) {
        fprintf(stderr, "op_driver: %s holds more than the %zu input floats of case %d\n", argv[2],
                need, idx);
        return 2;
    }
    fclose(in);
    const atas_backend *be = NULL;
    if (atas_backend_get_precision("cpu", prec, &be) != ATAS_OK) {
        atas_error_print(stderr);
        return 2;
    }
    void *ws = NULL;
    if ((f->workspace && be->alloc(be, &ws, f->workspace(be, c), "workspace") != ATAS_OK) ||
        f->fwd(be, c, h, ws, NULL) != ATAS_OK || (f->bwd && f->bwd(be, c, h, ws, NULL) != ATAS_OK)) {
        atas_error_print(stderr);
        return 1;
    }
    FILE *out = fopen(argv[3], "wb");
    if (!out) { perror(argv[3]); return 2; }
    for (int k = 0; k < nt; k++)
        if (t[k].role != OPC_IN && t[k].role != OPC_UP) fwrite(h[k], sizeof(float), t[k].n, out);
    return fclose(out) == 0 ? 0 : 2;
}
