/* safetensors reader/writer and weights load/save: round trips, exact F16/BF16
 * upcasts (against a formula written independently with ldexp), and every bad
 * input the strict reader must refuse with a message naming file and tensor or
 * offset, leaving no output behind. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atas/weights.h"
#include "test_util.h"

static char dir[256];

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

/* header JSON + data bytes as a safetensors image */
static size_t build(unsigned char *buf, const char *hdr, const void *data, size_t ndata) {
    uint64_t N = strlen(hdr);
    memcpy(buf, &N, 8);
    memcpy(buf + 8, hdr, N);
    if (ndata) memcpy(buf + 8 + N, data, ndata);
    return 8 + N + ndata;
}

static int count_files(const char *d) {
    DIR *dd = opendir(d);
    if (!dd) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(dd);
    return n;
}

/* expect failure whose message names the file and contains every needle */
static void expect_bad(const char *name, const unsigned char *img, size_t n, const char *n1,
                       const char *n2) {
    char p[512];
    path_in(p, sizeof p, name);
    write_bytes(p, img, n);
    atas_st *st = NULL;
    atas_error_clear();
    atas_status s = atas_st_open(&st, p);
    const char *msg = atas_error_message();
    T_ASSERT(s != ATAS_OK, "%s: accepted", name);
    T_ASSERT(strstr(msg, p) != NULL, "%s: message does not name the file: %s", name, msg);
    T_ASSERT(!n1 || strstr(msg, n1), "%s: message lacks '%s': %s", name, n1, msg);
    T_ASSERT(!n2 || strstr(msg, n2), "%s: message lacks '%s': %s", name, n2, msg);
    if (s == ATAS_OK) atas_st_close(st);
    unlink(p);
}

static float f16_ref(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp((double)m, -24);
    else v = ldexp(1.0 + m / 1024.0, e - 15);
    return (float)(s ? -v : v);
}

static void test_f16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float a = atas_f16_to_f32((uint16_t)h), b = f16_ref((uint16_t)h);
        if (isnan(b)) {
            uint32_t bits;
            memcpy(&bits, &a, 4);
            /* NaN keeps sign and payload in the top mantissa bits */
            if (!isnan(a) || (bits >> 31) != (h >> 15) || ((bits >> 13) & 1023) != (h & 1023)) bad++;
        } else if (a != b || signbit(a) != signbit(b)) {
            bad++;
        }
    }
    T_ASSERT(bad == 0, "%d F16 values convert wrongly", bad);
    for (uint32_t h = 0; h < 65536; h += 7) {
        float a = atas_bf16_to_f32((uint16_t)h);
        uint32_t bits;
        memcpy(&bits, &a, 4);
        T_ASSERT(bits == h << 16, "bf16 %u", h);
    }
}

static void test_roundtrip(void) {
    float a[6] = {1, -2, 3.5f, 0, 1e-30f, -7};
    uint16_t h[4] = {0x3c00, 0x0001, 0x7c00, 0x8000}; /* 1, 2^-24, inf, -0 */
    int64_t ids[3] = {5, -1, 1LL << 40};
    atas_st_entry e[4] = {
        {.name = "b.half", .dtype = ATAS_DT_F16, .ndim = 2, .shape = {2, 2}, .data = h},
        {.name = "a.float", .dtype = ATAS_DT_F32, .ndim = 2, .shape = {2, 3}, .data = a},
        {.name = "c.ids", .dtype = ATAS_DT_I64, .ndim = 1, .shape = {3}, .data = ids},
        {.name = "d.scalar", .dtype = ATAS_DT_F32, .ndim = 0, .data = a},
    };
    char p[512];
    path_in(p, sizeof p, "rt.safetensors");
    T_OK(atas_st_write(p, e, 4));
    /* header length is a multiple of 8 and data order is size desc, then name */
    FILE *f = fopen(p, "rb");
    uint64_t N;
    T_ASSERT(fread(&N, 8, 1, f) == 1, "read");
    fclose(f);
    T_ASSERT(N % 8 == 0, "header length %llu not a multiple of 8", (unsigned long long)N);
    atas_st *st;
    T_OK(atas_st_open(&st, p));
    T_ASSERT(atas_st_count(st) == 4, "count %d", atas_st_count(st));
    const atas_st_tensor *ti = atas_st_get(st, atas_st_find(st, "c.ids"));
    const atas_st_tensor *ta = atas_st_get(st, atas_st_find(st, "a.float"));
    const atas_st_tensor *tsc = atas_st_get(st, atas_st_find(st, "d.scalar"));
    const atas_st_tensor *th = atas_st_get(st, atas_st_find(st, "b.half"));
    T_ASSERT(ti->begin == 0 && ta->begin == 24 && tsc->begin == 48 && th->begin == 52,
             "order: ids %zu a %zu scalar %zu half %zu", ti->begin, ta->begin, tsc->begin, th->begin);
    T_ASSERT(memcmp(ti->data, ids, 24) == 0 && ti->dtype == ATAS_DT_I64, "ids bytes");
    float out[6];
    T_OK(atas_st_read_f32(ta, out));
    T_ASSERT(memcmp(out, a, sizeof a) == 0, "f32 values");
    T_OK(atas_st_read_f32(th, out));
    T_ASSERT(out[0] == 1 && out[1] == ldexpf(1, -24) && isinf(out[2]) && signbit(out[3]), "f16 values");
    T_ASSERT(tsc->ndim == 0 && tsc->numel == 1, "scalar");
    atas_error_clear();
    T_ASSERT(atas_st_read_f32(ti, out) != ATAS_OK && strstr(atas_error_message(), "c.ids"),
             "I64 upcast must fail naming the tensor: %s", atas_error_message());
    T_ASSERT(atas_st_find(st, "nope") == -1, "find");
    atas_st_close(st);

    /* a failing write leaves an existing file untouched and no temporary behind */
    struct stat sb0;
    stat(p, &sb0);
    int before = count_files(dir);
    atas_st_entry dup[2] = {e[1], e[1]};
    atas_error_clear();
    T_ASSERT(atas_st_write(p, dup, 2) != ATAS_OK && strstr(atas_error_message(), "a.float"),
             "duplicate names accepted: %s", atas_error_message());
    struct stat sb1;
    stat(p, &sb1);
    T_ASSERT(sb1.st_size == sb0.st_size && count_files(dir) == before, "write failure left debris");
    unlink(p);
}

static void test_bad_inputs(void) {
    unsigned char img[4096];
    float d[4] = {1, 2, 3, 4};
    const char *ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
    size_t n = build(img, ok, d, 16);
    char p[512];
    path_in(p, sizeof p, "good.safetensors");
    write_bytes(p, img, n);
    atas_st *st;
    T_OK(atas_st_open(&st, p));
    atas_st_close(st);
    unlink(p);

    expect_bad("truncated.safetensors", img, n - 3, "truncated", "'v'");
    expect_bad("tiny.safetensors", img, 5, "truncated", NULL);
    unsigned char big[64];
    memcpy(big, img, 64);
    uint64_t N = 1000;
    memcpy(big, &N, 8);
    expect_bad("hdrpast.safetensors", big, 64, "header length 1000", "offset 0");
    N = 200000000;
    memcpy(big, &N, 8);
    expect_bad("hdrhuge.safetensors", big, 64, "exceeds", "offset 0");
    n = build(img, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", d, 12);
    expect_bad("overlap.safetensors", img, n, "'v'", "overlaps");
    n = build(img, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                   "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", d, 16);
    expect_bad("hole.safetensors", img, n, "'v'", "hole after offset 8");
    n = build(img, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", d, 8);
    expect_bad("reversed.safetensors", img, n, "'w'", "data_offsets [8, 0]");
    n = build(img, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d, 8);
    expect_bad("size.safetensors", img, n, "'w'", "needs 12");
    n = build(img, "{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 8);
    expect_bad("dtype.safetensors", img, n, "'w'", "unknown dtype \"F33\"");
    n = build(img, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", d, 8);
    expect_bad("dup.safetensors", img, n, "duplicate", "offset");
    n = build(img, " {\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 8);
    expect_bad("brace.safetensors", img, n, "offset 8", "'{'");
    n = build(img, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 12);
    expect_bad("trailing.safetensors", img, n, "trailing", "offset");
    n = build(img, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", d, 8);
    expect_bad("negshape.safetensors", img, n, "'w'", "shape[0]");
    n = build(img, "{\"__metadata__\":{\"format\":1}}", d, 0);
    expect_bad("meta.safetensors", img, n, "__metadata__.format", NULL);
    /* right-padded header and an empty model are valid */
    n = build(img, "{\"__metadata__\":{\"format\":\"pt\"}}      ", d, 0);
    path_in(p, sizeof p, "empty.safetensors");
    write_bytes(p, img, n);
    T_OK(atas_st_open(&st, p));
    T_ASSERT(atas_st_count(st) == 0, "empty");
    atas_st_close(st);
    unlink(p);
}

/* A host-memory stand-in for the backend until the CPU backend is merged. */
static atas_status h_alloc(const atas_backend *be, void **p, size_t b, const char *w) { return atas_host_calloc(p, b ? b : 1, w); }
static void h_free(const atas_backend *be, void *p) { atas_host_free(p); }
static atas_status h_copy(const atas_backend *be, void *d, const void *s, size_t b) { memcpy(d, s, b); return ATAS_OK; }

static void test_model_roundtrip(void) {
    atas_backend be = {.name = "host-test", .host_addressable = 1, .alloc = h_alloc, .free = h_free,
                       .upload = h_copy, .download = h_copy, .copy = h_copy};
    atas_vit_config c = {.patch = 4, .width = 32, .layers = 2, .heads = 2, .mlp = 48, .embed = 16,
                         .grid = 3, .act = ATAS_ACT_GELU, .ln_eps = 1e-6f};
    atas_vit m, m2;
    T_OK(atas_vit_create(&m, &c, &be, 0));
    T_OK(atas_vit_init_random(&m, 7));
    for (int layout = 0; layout < 2; layout++) {
        char p[512];
        path_in(p, sizeof p, layout ? "hfdir" : "oc.safetensors");
        T_OK(atas_weights_save(p, &m, (atas_layout)layout, NULL));
        atas_vit_config ci = {0};
        int have_act = -1;
        if (layout == ATAS_LAYOUT_OPENCLIP) {
            /* width 32: no preset and not a multiple of 64, so heads need a config; atas's own
             * export records heads / act / ln_eps in its __metadata__ and reads back alone */
            T_OK(atas_weights_infer_config(p, &ci, &have_act));
            T_ASSERT(ci.heads == 2 && have_act == 1 && ci.act == ATAS_ACT_GELU && ci.ln_eps == 1e-6f,
                     "own export without a side config: heads %d act %d eps %g", ci.heads, (int)ci.act,
                     (double)ci.ln_eps);
            char mv[64];
            int found = 0;
            T_OK(atas_st_metadata_get(p, "atas.heads", mv, sizeof mv, &found));
            T_ASSERT(found && !strcmp(mv, "2"), "atas.heads metadata '%s'", mv);
            T_OK(atas_st_metadata_get(p, "format", mv, sizeof mv, &found));
            T_ASSERT(found && !strcmp(mv, "pt"), "format metadata '%s'", mv);
            /* the same tensors without the metadata: heads are not guessed */
            char bare[512];
            path_in(bare, sizeof bare, "bare.safetensors");
            atas_st *st = NULL;
            T_OK(atas_st_open(&st, p));
            int nt = atas_st_count(st);
            atas_st_entry *ent = calloc((size_t)nt, sizeof *ent);
            float **buf = calloc((size_t)nt, sizeof *buf);
            for (int i = 0; i < nt; i++) {
                const atas_st_tensor *t = atas_st_get(st, i);
                size_t numel = 1;
                for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
                buf[i] = malloc(numel * sizeof(float) + 1);
                T_OK(atas_st_read_f32(t, buf[i]));
                ent[i] = (atas_st_entry){.name = t->name, .dtype = ATAS_DT_F32, .ndim = t->ndim, .data = buf[i]};
                memcpy(ent[i].shape, t->shape, sizeof ent[i].shape);
            }
            T_OK(atas_st_write(bare, ent, nt));
            for (int i = 0; i < nt; i++) free(buf[i]);
            free(buf);
            free(ent);
            atas_st_close(st);
            atas_error_clear();
            memset(&ci, 0, sizeof ci); /* heads > 0 on entry would count as stated */
            T_ASSERT(atas_weights_infer_config(bare, &ci, &have_act) != ATAS_OK &&
                         strstr(atas_error_message(), "heads cannot be inferred"),
                     "heads guessed: %s", atas_error_message());
            char oc[512];
            path_in(oc, sizeof oc, "open_clip_config.json");
            const char *js = "{\"model_cfg\": {\"vision_cfg\": {\"head_width\": 16}}}";
            write_bytes(oc, js, strlen(js));
        }
        T_OK(atas_weights_infer_config(p, &ci, &have_act));
        T_ASSERT(ci.patch == 4 && ci.width == 32 && ci.layers == 2 && ci.mlp == 48 && ci.embed == 16 &&
                 ci.grid == 3, "inferred dims (%s)", atas_layout_name(layout));
        if (layout == ATAS_LAYOUT_HF)
            T_ASSERT(have_act == 1 && ci.act == ATAS_ACT_GELU && ci.heads == 2 && ci.ln_eps == 1e-6f,
                     "HF config.json act/heads/eps");
        else /* open_clip_config.json without quick_gelu: OpenCLIP's default, gelu */
            T_ASSERT(have_act == 1 && ci.act == ATAS_ACT_GELU && ci.heads == 2, "open_clip_config.json");
        T_OK(atas_vit_create(&m2, &c, &be, 0));
        atas_weights_extra *x = NULL;
        T_OK(atas_weights_load(p, &m2, &x));
        T_ASSERT(memcmp(m.params, m2.params, m.nparams * sizeof(float)) == 0, "params differ (%s)",
                 atas_layout_name(layout));
        T_ASSERT(x && x->n == 0 && (int)x->layout == layout, "extra");
        atas_weights_extra_free(x);
        atas_vit_destroy(&m2);

        /* a config that disagrees: one error naming file, tensor, expected and found */
        atas_vit_config cb = c;
        cb.mlp = 40;
        T_OK(atas_vit_create(&m2, &cb, &be, 0));
        atas_error_clear();
        T_ASSERT(atas_weights_load(p, &m2, NULL) != ATAS_OK, "wrong mlp accepted");
        const char *msg = atas_error_message();
        T_ASSERT(strstr(msg, p) && strstr(msg, layout ? "mlp.fc1.weight" : "mlp.c_fc.weight") &&
                 strstr(msg, "[40,32]") && strstr(msg, "[48,32]"), "mismatch message: %s", msg);
        atas_vit_destroy(&m2);
        cb = c;
        cb.layers = 3;
        T_OK(atas_vit_create(&m2, &cb, &be, 0));
        atas_error_clear();
        T_ASSERT(atas_weights_load(p, &m2, NULL) != ATAS_OK && strstr(atas_error_message(), "missing") &&
                 strstr(atas_error_message(), layout ? "layers.2." : "resblocks.2."),
                 "missing tensor message: %s", atas_error_message());
        atas_vit_destroy(&m2);
        cb = c;
        cb.layers = 1;
        T_OK(atas_vit_create(&m2, &cb, &be, 0));
        atas_error_clear();
        T_ASSERT(atas_weights_load(p, &m2, NULL) != ATAS_OK && strstr(atas_error_message(), layout ? "layers.1." : "resblocks.1."),
                 "extra layer message: %s", atas_error_message());
        atas_vit_destroy(&m2);
    }
    /* HF config.json disagreeing with the model's heads */
    atas_vit_config cb = c;
    cb.heads = 4;
    char p[512];
    path_in(p, sizeof p, "hfdir");
    T_OK(atas_vit_create(&m2, &cb, &be, 0));
    atas_error_clear();
    T_ASSERT(atas_weights_load(p, &m2, NULL) != ATAS_OK && strstr(atas_error_message(), "config.json") &&
             strstr(atas_error_message(), "heads"), "heads mismatch: %s", atas_error_message());
    atas_vit_destroy(&m2);

    /* a failing save leaves no directory behind */
    atas_weights_tensor t = {.name = "vision_model.post_layernorm.weight", .dtype = ATAS_DT_F32,
                             .ndim = 1, .shape = {1}, .data = (unsigned char *)m.params, .nbytes = 4};
    atas_weights_extra x = {.layout = ATAS_LAYOUT_HF, .n = 1, .t = &t};
    path_in(p, sizeof p, "hf_fail");
    atas_error_clear();
    T_ASSERT(atas_weights_save(p, &m, ATAS_LAYOUT_HF, &x) != ATAS_OK, "collision accepted");
    struct stat sb;
    T_ASSERT(stat(p, &sb) != 0, "failed save left %s behind", p);
    atas_vit_destroy(&m);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/atas_test_st_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_f16();
    test_roundtrip();
    test_bad_inputs();
    test_model_roundtrip();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return t_finish("test_safetensors");
}
