/* io: safetensors, read as strictly as the format's own reader, written the way
 * transformers and open_clip expect (see docs/weights.md).
 *
 * Layout: u64 little-endian N, N bytes of JSON header, then the data buffer.
 * Tensors point into the mapped file and are never assumed to be aligned. */
#ifndef ATAS_SAFETENSORS_H
#define ATAS_SAFETENSORS_H

#include "atas/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATAS_ST_MAXDIM 16
#define ATAS_ST_MAX_HEADER 100000000ull /* the reference reader's limit */

typedef enum {
    ATAS_DT_BOOL = 0, ATAS_DT_U8, ATAS_DT_I8, ATAS_DT_F8_E5M2, ATAS_DT_F8_E4M3,
    ATAS_DT_I16, ATAS_DT_U16, ATAS_DT_F16, ATAS_DT_BF16, ATAS_DT_I32, ATAS_DT_U32,
    ATAS_DT_F32, ATAS_DT_F64, ATAS_DT_I64, ATAS_DT_U64, ATAS_DT_COUNT
} atas_dtype;

const char *atas_dtype_name(atas_dtype d);           /* "F32", ... */
int atas_dtype_size(atas_dtype d);                   /* bytes per element */
int atas_dtype_parse(const char *s, atas_dtype *d);  /* 1 when known */
static inline int atas_dtype_is_float(atas_dtype d) {
    return d == ATAS_DT_F32 || d == ATAS_DT_F16 || d == ATAS_DT_BF16;
}

/* Exact conversions (F16 subnormals, inf and NaN payloads kept, as numpy does). */
float atas_f16_to_f32(uint16_t h);
float atas_bf16_to_f32(uint16_t h);

typedef struct {
    char *name;
    atas_dtype dtype;
    int ndim;
    int64_t shape[ATAS_ST_MAXDIM];
    size_t numel, nbytes;
    size_t begin, end;          /* offsets into the data buffer */
    const unsigned char *data;  /* raw little-endian bytes, unaligned */
    const char *file;           /* the file it lives in (shards differ) */
} atas_st_tensor;

/* Parse an in-memory safetensors image (the whole file). `label` names it in
 * errors. Tensors are returned in header order; their data points into buf.
 * Free with atas_st_tensors_free. */
atas_status atas_st_parse(const unsigned char *buf, size_t size, const char *label,
                          atas_st_tensor **t, int *n);
void atas_st_tensors_free(atas_st_tensor *t, int n);

/* An opened model: one file, a sharded model (model.safetensors.index.json),
 * or a directory holding either (model.safetensors.index.json, model.safetensors,
 * open_clip_model.safetensors). Files are memory-mapped read-only. */
typedef struct atas_st atas_st;
atas_status atas_st_open(atas_st **st, const char *path);
void atas_st_close(atas_st *st);
int atas_st_count(const atas_st *st);
const atas_st_tensor *atas_st_get(const atas_st *st, int i);
int atas_st_find(const atas_st *st, const char *name); /* -1 when absent */
const char *atas_st_path(const atas_st *st);          /* the file or index that was opened */
/* Upcast a F32/F16/BF16 tensor into dst[numel]; other dtypes fail naming the tensor. */
atas_status atas_st_read_f32(const atas_st_tensor *t, float *dst);

/* Writing -------------------------------------------------------------- */
typedef struct {
    const char *name;
    atas_dtype dtype;
    int ndim;
    int64_t shape[ATAS_ST_MAXDIM];
    const void *data; /* prod(shape) * itemsize bytes, little endian */
} atas_st_entry;

/* Write n tensors to path: header padded with spaces to N % 8 == 0, data ordered
 * by dtype size descending then name, "__metadata__": {"format": "pt"}. Written
 * to a temporary name in the same directory, fsynced, then renamed: on any error
 * nothing is left behind and an existing file at path is untouched. */
atas_status atas_st_write(const char *path, const atas_st_entry *e, int n);
/* The same with extra "__metadata__" string pairs (keys[i] -> vals[i]; "format" stays "pt"). */
atas_status atas_st_write_meta(const char *path, const atas_st_entry *e, int n, const char *const *keys,
                               const char *const *vals, int nmeta);
/* One "__metadata__" value of a single .safetensors file into buf (cap bytes); *found = 0
 * (and ATAS_OK) when the file has no such key or is not a single safetensors file. */
atas_status atas_st_metadata_get(const char *path, const char *key, char *buf, size_t cap, int *found);

/* Write bytes to path through a temporary name + fsync + rename (used for config.json). */
atas_status atas_write_file_atomic(const char *path, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
