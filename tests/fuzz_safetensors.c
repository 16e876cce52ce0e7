/* libFuzzer target for the safetensors parser: any byte string must either
 * parse into tensors that lie inside the buffer or fail with a status; never
 * crash, leak or read out of bounds (built with -fsanitize=fuzzer,address). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atas/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* copy so that ASan sees the exact extent of the input */
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    atas_st_tensor *t = NULL;
    int n = 0;
    if (atas_st_parse(buf, size, "fuzz", &t, &n) == ATAS_OK) {
        for (int i = 0; i < n; i++) {
            if (t[i].data < buf || t[i].data + t[i].nbytes > buf + size) abort();
            if (t[i].nbytes && atas_dtype_is_float(t[i].dtype) && t[i].numel < (1u << 20)) {
                float *f = malloc(t[i].numel * sizeof(float));
                if (f && atas_st_read_f32(&t[i], f) != ATAS_OK) abort();
                free(f);
            }
        }
        atas_st_tensors_free(t, n);
    }
    atas_error_clear();
    free(buf);
    return 0;
}
