/* Reading one "__metadata__" value of a safetensors file (atas's own exports record
 * how they were made and what the tensors cannot say: heads, activation). The header
 * is parsed on its own here; atas_st_open stays the strict reader of the tensors. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atas/safetensors.h"

#define META_MAX_HEADER (100u << 20) /* the strict reader's limit */

atas_status atas_st_metadata_get(const char *path, const char *key, char *buf, size_t cap, int *found) {
    ATAS_REQUIRE(path && key && buf && cap > 0 && found, "atas_st_metadata_get: bad arguments");
    *found = 0;
    buf[0] = 0;
    struct stat sb;
    size_t pl = strlen(path);
    if (pl < 12 || strcmp(path + pl - 12, ".safetensors") != 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return ATAS_OK; /* an index or a directory: no single header to read */
    FILE *f = fopen(path, "rb");
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char lb[8];
    atas_status st = ATAS_OK;
    char *hdr = NULL;
    json_t *root = NULL;
    if (fread(lb, 1, 8, f) != 8) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: shorter than the 8-byte header length", path);
        goto done;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | lb[i];
    if (n == 0 || n > META_MAX_HEADER || n > (uint64_t)sb.st_size - 8) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: header length %llu is out of range", path, (unsigned long long)n);
        goto done;
    }
    hdr = malloc((size_t)n);
    if (!hdr) { st = ATAS_ERR(ATAS_ERR_NOMEM, "%s: no memory for the header", path); goto done; }
    if (fread(hdr, 1, (size_t)n, f) != (size_t)n) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: header cut short", path);
        goto done;
    }
    json_error_t jerr;
    root = json_loadb(hdr, (size_t)n, 0, &jerr);
    if (!json_is_object(root)) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: header is not a JSON object (%s)", path, jerr.text);
        goto done;
    }
    json_t *v = json_object_get(json_object_get(root, "__metadata__"), key);
    if (json_is_string(v)) {
        snprintf(buf, cap, "%s", json_string_value(v));
        *found = 1;
    }
done:
    json_decref(root);
    free(hdr);
    fclose(f);
    return st;
}
