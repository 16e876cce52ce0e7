/* From the schema back to text: the resolved config (libconfig syntax) and the
 * markdown reference of every key. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "atas/h5file.h"
#include "train/config_internal.h"

/* Number of leading group components a and b share ("loss.g2l.x", "loss.l2l.y" -> 1). */
static int common_groups(const char *a, const char *b) {
    int n = 0;
    for (;;) {
        const char *da = strchr(a, '.'), *db = strchr(b, '.');
        if (!da || !db || da - a != db - b || strncmp(a, b, (size_t)(da - a)) != 0) return n;
        n++;
        a = da + 1;
        b = db + 1;
    }
}

static int depth(const char *k) {
    int d = 0;
    for (; *k; k++) d += *k == '.';
    return d;
}

static void indent(FILE *f, int level) {
    for (int i = 0; i < level; i++) fputs("  ", f);
}

atas_status atas_config_write_resolved_file(const atas_run_config *c, FILE *f) {
    fprintf(f, "# atas run configuration, resolved: every key with the value this run used.\n"
               "# Load it again with atas_mpi <this file>. Keys are documented in configs/README.md.\n");
    const char *prev = "";
    for (int i = 0; i < atas_cfg_nkeys; i++) {
        const cfg_key *k = &atas_cfg_keys[i];
        /* per-rank batch: batch.groups is derived at run time, and the two may not both be given */
        if (c->batch.groups_per_rank > 0 && !strcmp(k->key, "batch.groups")) continue;
        int keep = common_groups(prev, k->key), dp = depth(prev), dk = depth(k->key);
        for (int l = dp; l > keep; l--) { indent(f, l - 1); fputs("};\n", f); }
        /* open the groups of this key below the shared ones */
        const char *p = k->key;
        for (int l = 0; l < keep; l++) p = strchr(p, '.') + 1;
        for (int l = keep; l < dk; l++) {
            const char *d = strchr(p, '.');
            if (l == 0) fputc('\n', f);
            indent(f, l);
            fprintf(f, "%.*s = {\n", (int)(d - p), p);
            p = d + 1;
        }
        char val[ATAS_CFG_PATH_LEN * 2 + 8];
        atas_cfg_format(c, k, val, sizeof val);
        indent(f, dk);
        fprintf(f, "%s = %s;\n", p, val);
        prev = k->key;
    }
    for (int l = depth(prev); l > 0; l--) { indent(f, l - 1); fputs("};\n", f); }
    if (ferror(f)) return ATAS_ERR(ATAS_ERR_IO, "writing the resolved config failed");
    return ATAS_OK;
}

atas_status atas_config_write_resolved(const atas_run_config *c, const char *path) {
    /* write then rename: a resolved config is complete or absent */
    char tmp[ATAS_CFG_PATH_LEN + 32];
    ATAS_CHECK(atas_tmp_name(path, tmp, sizeof tmp)); /* mkstemp: unpredictable, never a planted link */
    FILE *f = fopen(tmp, "w");
    if (!f) {
        atas_status e = ATAS_ERR(ATAS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        remove(tmp);
        return e;
    }
    atas_status st = atas_config_write_resolved_file(c, f);
    if (st == ATAS_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        st = ATAS_ERR(ATAS_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && st == ATAS_OK) st = ATAS_ERR(ATAS_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == ATAS_OK && rename(tmp, path) != 0)
        st = ATAS_ERR(ATAS_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (st != ATAS_OK) remove(tmp);
    return st;
}

int atas_config_equal(const atas_run_config *a, const atas_run_config *b) {
    for (int i = 0; i < atas_cfg_nkeys; i++) {
        const cfg_key *k = &atas_cfg_keys[i];
        const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;
        switch (k->type) {
        case CFG_BOOL: case CFG_INT: case CFG_ENUM:
            if (*(const int *)fa != *(const int *)fb) return 0;
            break;
        case CFG_INT64:
            if (*(const int64_t *)fa != *(const int64_t *)fb) return 0;
            break;
        case CFG_FLOAT:
            if (*(const double *)fa != *(const double *)fb) return 0;
            break;
        case CFG_STRING:
            if (strcmp(fa, fb) != 0) return 0;
            break;
        case CFG_INTS: {
            int na = *(const int *)((const char *)a + k->count_off), nb = *(const int *)((const char *)b + k->count_off);
            if (na != nb) return 0;
            for (int j = 0; j < na; j++)
                if (((const int *)fa)[j] != ((const int *)fb)[j]) return 0;
            break;
        }
        case CFG_FLOATS:
            for (int j = 0; j < k->max_len; j++)
                if (((const double *)fa)[j] != ((const double *)fb)[j]) return 0;
            break;
        }
    }
    return 1;
}

/* ------------------------------------------------------------ docs */

static const char *type_name(const cfg_key *k, char *buf, size_t n) {
    switch (k->type) {
    case CFG_BOOL: return "bool";
    case CFG_INT: return "int";
    case CFG_INT64: return "int (64-bit)";
    case CFG_FLOAT: return "float";
    case CFG_STRING: return "string";
    case CFG_ENUM: return "string (enum)";
    case CFG_INTS: snprintf(buf, n, "int array"); return buf;
    case CFG_FLOATS: snprintf(buf, n, "float array"); return buf;
    }
    return "?";
}

/* markdown table cell: '|' must be escaped */
static void cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else fputc(*s, f);
    }
}

void atas_config_print_docs(FILE *f) {
    fputs("# Run configuration reference\n\n"
          "<!-- Generated from the schema in src/train/config_schema.c by `atas_config --docs "
          "configs/README.md` (or `cmake --build build --target config_docs`). Do not edit by hand: "
          "test_config fails when this file and the schema disagree. -->\n\n"
          "`atas_mpi CONFIG [--set key=value ...]` reads a [libconfig](https://hyperrealm.github.io/libconfig/) "
          "file of the groups below. Every key is optional except `data.corpus`; a key that is not "
          "given takes its default. Rules:\n\n"
          "- An unknown key or group anywhere (nested groups included) is an error that names the "
          "closest known key: a typo never passes silently.\n"
          "- Types are strict: an integer is accepted where a float is expected, a float where an "
          "integer is expected is an error; strings are in double quotes; arrays are `[a, b, ...]`.\n"
          "- Every error names the file, the line, the full dotted key, the value and the rule, e.g. "
          "`configs/x.cfg:12: optim.lr = -1: must be > 0`.\n"
          "- `--set key=value` overrides any key after the file is read, with the same checks "
          "(errors say `--set` instead of file:line). Strings may be unquoted "
          "(`--set run.name=trial2`), arrays are written `--set mosaic.grids=[2,3,4]`.\n"
          "- Cross-key checks after loading: `data.resolution` and every mosaic cell "
          "(`mosaic.canvas / g`) are multiples of the patch, heads divide the width, "
          "`optim.min_lr <= optim.lr`, `optim.warmup_steps <= run.steps`, at least one loss weight "
          "> 0, `model.unlocked_blocks <= layers`, and at run time `batch.groups` is a multiple of "
          "the number of ranks.\n"
          "- `@include \"file\"` is resolved relative to the directory of the including config.\n"
          "- The run writes `<run.dir>/<run.name>/config.resolved.cfg` with every key; loading it "
          "gives the same configuration.\n",
          f);
    atas_run_config d;
    atas_config_defaults(&d);
    for (int g = 0; atas_cfg_group_docs[g][0]; g++) {
        const char *grp = atas_cfg_group_docs[g][0];
        size_t gl = strlen(grp);
        fprintf(f, "\n## %s\n\n%s\n\n", grp, atas_cfg_group_docs[g][1]);
        fputs("| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n", f);
        for (int i = 0; i < atas_cfg_nkeys; i++) {
            const cfg_key *k = &atas_cfg_keys[i];
            if (strncmp(k->key, grp, gl) != 0 || k->key[gl] != '.') continue;
            char tb[32], def[256], rule[256];
            atas_cfg_format(&d, k, def, sizeof def);
            atas_cfg_describe_rule(k, rule, sizeof rule);
            fprintf(f, "| `%s` | %s | `", k->key, type_name(k, tb, sizeof tb));
            cell(f, def);
            fputs("` | ", f);
            cell(f, rule[0] ? rule : "any");
            fputs(" | ", f);
            cell(f, k->doc);
            fputs(" |\n", f);
        }
    }
}
