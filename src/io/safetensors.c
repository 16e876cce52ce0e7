/* safetensors: a strict parser of one file image, and dtype conversions.
 * Every rule of the reference reader is checked; errors name the file and the
 * tensor or byte offset at fault. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "atas/safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "atas reads safetensors (little endian) by memcpy: a big-endian host needs byte swaps"
#endif

static const struct { const char *name; int size; } dtypes[ATAS_DT_COUNT] = {
    [ATAS_DT_BOOL] = {"BOOL", 1}, [ATAS_DT_U8] = {"U8", 1},   [ATAS_DT_I8] = {"I8", 1},
    [ATAS_DT_F8_E5M2] = {"F8_E5M2", 1}, [ATAS_DT_F8_E4M3] = {"F8_E4M3", 1},
    [ATAS_DT_I16] = {"I16", 2}, [ATAS_DT_U16] = {"U16", 2}, [ATAS_DT_F16] = {"F16", 2},
    [ATAS_DT_BF16] = {"BF16", 2}, [ATAS_DT_I32] = {"I32", 4}, [ATAS_DT_U32] = {"U32", 4},
    [ATAS_DT_F32] = {"F32", 4}, [ATAS_DT_F64] = {"F64", 8}, [ATAS_DT_I64] = {"I64", 8},
    [ATAS_DT_U64] = {"U64", 8},
};

const char *atas_dtype_name(atas_dtype d) {
    return (unsigned)d < ATAS_DT_COUNT ? dtypes[d].name : "?";
}
int atas_dtype_size(atas_dtype d) { return (unsigned)d < ATAS_DT_COUNT ? dtypes[d].size : 0; }
int atas_dtype_parse(const char *s, atas_dtype *d) {
    for (int i = 0; i < ATAS_DT_COUNT; i++)
        if (strcmp(s, dtypes[i].name) == 0) { *d = (atas_dtype)i; return 1; }
    return 0;
}

float atas_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13); /* inf, or NaN with its payload */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign; /* signed zero */
    } else { /* subnormal: renormalise */
        int e = -1;
        do { e++; man <<= 1; } while (!(man & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float atas_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

atas_status atas_st_read_f32(const atas_st_tensor *t, float *dst) {
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case ATAS_DT_F32: memcpy(dst, p, t->numel * 4); break;
    case ATAS_DT_F16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = atas_f16_to_f32(h);
        }
        break;
    case ATAS_DT_BF16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            dst[i] = atas_bf16_to_f32(h);
        }
        break;
    default:
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16",
                        t->file ? t->file : "?", t->name, atas_dtype_name(t->dtype));
    }
    return ATAS_OK;
}

void atas_st_tensors_free(atas_st_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) free(t[i].name);
    free(t);
}

static int cmp_begin(const void *a, const void *b) {
    const atas_st_tensor *x = *(atas_st_tensor *const *)a, *y = *(atas_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* One tensor entry of the header: {"dtype": s, "shape": [..], "data_offsets": [b, e]}. */
static atas_status parse_entry(const char *label, const char *name, json_t *v, atas_st_tensor *t) {
    if (!json_is_object(v))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: header entry '%s' is not an object", label, name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
           *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off))
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: tensor '%s': expected \"dtype\" (string), \"shape\" (array) and "
                        "\"data_offsets\" (array)", label, name);
    if (!atas_dtype_parse(json_string_value(dt), &t->dtype))
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: tensor '%s': unknown dtype \"%s\" (expected one of F32 F16 BF16 F64 "
                        "I64 I32 I16 I8 U8 U16 U32 U64 BOOL F8_E5M2 F8_E4M3)",
                        label, name, json_string_value(dt));
    size_t nd = json_array_size(sh);
    if (nd > ATAS_ST_MAXDIM)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s': rank %zu exceeds %d", label, name, nd,
                        ATAS_ST_MAXDIM);
    t->ndim = (int)nd;
    size_t numel = 1;
    int overflow = 0;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return ATAS_ERR(ATAS_ERR_FORMAT,
                            "%s: tensor '%s': shape[%zu] is not a non-negative integer", label,
                            name, i);
        t->shape[i] = json_integer_value(d);
        if (t->shape[i] != 0 && numel > SIZE_MAX / (size_t)t->shape[i]) overflow = 1;
        else numel *= (size_t)t->shape[i];
    }
    size_t isz = (size_t)atas_dtype_size(t->dtype);
    if (overflow || numel > SIZE_MAX / isz)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s': shape overflows the address space",
                        label, name);
    t->numel = numel;
    t->nbytes = numel * isz;
    if (json_array_size(off) != 2 || !json_is_integer(json_array_get(off, 0)) ||
        !json_is_integer(json_array_get(off, 1)))
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end]",
                        label, name);
    json_int_t b = json_integer_value(json_array_get(off, 0)),
               e = json_integer_value(json_array_get(off, 1));
    if (b < 0 || e < b)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%lld, %lld] are not 0 <= begin <= end",
                        label, name, (long long)b, (long long)e);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    if (t->end - t->begin != t->nbytes) {
        char shp[256] = "";
        size_t k = 0;
        for (int i = 0; i < t->ndim && k < sizeof shp - 24; i++)
            k += (size_t)snprintf(shp + k, sizeof shp - k, "%s%lld", i ? "," : "",
                                  (long long)t->shape[i]);
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%zu, %zu] span %zu bytes, but shape [%s] "
                        "x %s (%zu bytes each) needs %zu",
                        label, name, t->begin, t->end, t->end - t->begin, shp,
                        atas_dtype_name(t->dtype), isz, t->nbytes);
    }
    return ATAS_OK;
}

atas_status atas_st_parse(const unsigned char *buf, size_t size, const char *label,
                          atas_st_tensor **out, int *nout) {
    *out = NULL;
    *nout = 0;
    if (size < 8)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: truncated: %zu bytes, shorter than the 8-byte header length", label,
                        size);
    uint64_t N;
    memcpy(&N, buf, 8);
    if (N > ATAS_ST_MAX_HEADER)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: header length %llu at offset 0 exceeds the limit %llu",
                        label, (unsigned long long)N, ATAS_ST_MAX_HEADER);
    if (N > size - 8)
        return ATAS_ERR(ATAS_ERR_FORMAT,
                        "%s: header length %llu (offset 0) runs past the end of the file "
                        "(%zu bytes)", label, (unsigned long long)N, size);
    if (N < 2 || buf[8] != '{')
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: header at offset 8 does not start with '{'", label);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)N, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ATAS_ERR(ATAS_ERR_FORMAT, "%s: header JSON invalid at offset %zu: %s", label,
                        (size_t)8 + (size_t)(jerr.position > 0 ? jerr.position : 0), jerr.text);
    atas_status st = ATAS_OK;
    atas_st_tensor *t = NULL, **order = NULL;
    int n = 0;
    if (!json_is_object(root)) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: header is not a JSON object", label);
        goto done;
    }
    size_t cap = json_object_size(root);
    t = calloc(cap ? cap : 1, sizeof *t);
    order = calloc(cap ? cap : 1, sizeof *order);
    if (!t || !order) {
        st = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory for %zu header entries", label, cap);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(v)) {
                st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: __metadata__ is not an object", label);
                goto done;
            }
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv) if (!json_is_string(mv)) {
                st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: __metadata__.%s is not a string", label, mk);
                goto done;
            }
            continue;
        }
        atas_st_tensor *e = &t[n];
        e->name = strdup(key);
        if (!e->name) { st = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory", label); goto done; }
        n++;
        ATAS_CHECK_GOTO(st, parse_entry(label, key, v, e), done);
        e->file = label;
    }
    for (int i = 0; i < n; i++) order[i] = &t[i];
    qsort(order, (size_t)n, sizeof *order, cmp_begin);
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        if (order[i]->begin != pos) {
            if (order[i]->begin > pos)
                st = ATAS_ERR(ATAS_ERR_FORMAT,
                              "%s: tensor '%s' begins at data offset %zu, leaving a hole after "
                              "offset %zu", label, order[i]->name, order[i]->begin, pos);
            else
                st = ATAS_ERR(ATAS_ERR_FORMAT,
                              "%s: tensor '%s' at data offsets [%zu, %zu] overlaps '%s' "
                              "(which ends at %zu)", label, order[i]->name, order[i]->begin,
                              order[i]->end, order[i - 1]->name, pos);
            goto done;
        }
        pos = order[i]->end;
    }
    size_t data_off = 8 + (size_t)N;
    if (data_off + pos != size) {
        if (data_off + pos > size)
            st = ATAS_ERR(ATAS_ERR_FORMAT,
                          "%s: truncated: tensors need %zu bytes of data at offset %zu (%zu bytes "
                          "in all) but the file has %zu; last tensor '%s'", label, pos, data_off,
                          data_off + pos, size, n ? order[n - 1]->name : "");
        else
            st = ATAS_ERR(ATAS_ERR_FORMAT,
                          "%s: %zu trailing bytes after the last tensor (data ends at offset %zu, "
                          "file has %zu)", label, size - data_off - pos, data_off + pos, size);
        goto done;
    }
    for (int i = 0; i < n; i++) t[i].data = buf + data_off + t[i].begin;
done:
    json_decref(root);
    free(order);
    if (st != ATAS_OK) {
        atas_st_tensors_free(t, n);
        return st;
    }
    *out = t;
    *nout = n;
    return ATAS_OK;
}
