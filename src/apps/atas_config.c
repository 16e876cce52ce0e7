/* atas_config: check a run config, print it resolved, or regenerate the key reference.
 *
 *   atas_config CONFIG [--set key=value ...] [--world N] [--corpus-images N] [--out resolved.cfg]
 *   atas_config --docs [configs/README.md]
 *
 * The config is resolved for N ranks (default 1): the derived recipe (global batch,
 * steps, epochs, peak lr, warm-up) comes as "# recipe ..." lines on stderr (on stdout
 * with --out), so the config on stdout stays loadable. --corpus-images gives the corpus size the
 * steps and epochs need when run.steps = 0 (the trainer reads it from the corpus). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atas/config.h"
#include "atas/version.h"

static int usage_to(FILE *f, int code) {
    fprintf(f, "usage: atas_config CONFIG [--set key=value ...] [--world N] [--corpus-images N] [--out resolved.cfg]\n"
               "       atas_config --docs [out.md]\n"
               "       atas_config --version | --help\n"
               "  checks CONFIG with every --set applied (for N ranks), prints it resolved\n"
               "  (or writes it to --out); --docs writes the key reference (configs/README.md)\n");
    return code;
}
static int usage(void) { return usage_to(stderr, 2); }

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return usage_to(stdout, 0);
    if (!strcmp(argv[1], "--version")) { atas_print_version("atas_config"); return 0; }
    if (!strcmp(argv[1], "--docs")) {
        if (argc > 3) return usage();
        FILE *f = argc == 3 ? fopen(argv[2], "w") : stdout;
        if (!f) { perror(argv[2]); return 1; }
        atas_config_print_docs(f);
        if (f != stdout && fclose(f) != 0) { perror(argv[2]); return 1; }
        return 0;
    }
    const char *path = NULL, *out = NULL;
    int world = 1, nsets = 0;
    long long corpus_images = 0;
    char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[nsets++] = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6)) sets[nsets++] = argv[i] + 6;
        else if (!strcmp(argv[i], "--world") && i + 1 < argc) {
            char *end;
            long w = strtol(argv[++i], &end, 10);
            if (*end || w < 1 || w > 1 << 20) {
                fprintf(stderr, "atas_config: --world %s: expected a number of ranks >= 1\n", argv[i]);
                free(sets);
                return 2;
            }
            world = (int)w;
        } else if (!strcmp(argv[i], "--corpus-images") && i + 1 < argc) {
            char *end;
            corpus_images = strtoll(argv[++i], &end, 10);
            if (*end || corpus_images < 1) {
                fprintf(stderr, "atas_config: --corpus-images %s: expected a number of images >= 1\n", argv[i]);
                free(sets);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else { free(sets); return usage(); }
    }
    if (!path) { free(sets); return usage(); }
    atas_run_config c;
    atas_status st = atas_config_load(path, sets, nsets, &c);
    atas_recipe r;
    if (st == ATAS_OK) st = atas_recipe_derive(&c, world, corpus_images, &r);
    if (st == ATAS_OK) {
        char buf[2048];
        atas_recipe_format(&r, &c, buf, sizeof buf);
        /* stderr when the config goes to stdout: stdout stays a loadable config */
        FILE *rf = out ? stdout : stderr;
        for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) fprintf(rf, "# %.*s\n", (int)(nl - line), line);
        st = atas_config_apply_world(&c, world);
    }
    if (st == ATAS_OK) st = out ? atas_config_write_resolved(&c, out) : atas_config_write_resolved_file(&c, stdout);
    free(sets);
    if (st != ATAS_OK) {
        atas_error_print(stderr);
        return 1;
    }
    return 0;
}
