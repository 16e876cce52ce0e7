/* atas_config: check a run config, print it resolved, or regenerate the key reference.
 *
 *   atas_config CONFIG [--set key=value ...] [--world N] [--out resolved.cfg]
 *   atas_config --docs [configs/README.md]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atas/config.h"
#include "atas/version.h"

static int usage_to(FILE *f, int code) {
    fprintf(f, "usage: atas_config CONFIG [--set key=value ...] [--world N] [--out resolved.cfg]\n"
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
    char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) return 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[nsets++] = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6)) sets[nsets++] = argv[i] + 6;
        else if (!strcmp(argv[i], "--world") && i + 1 < argc) world = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else { free(sets); return usage(); }
    }
    if (!path) { free(sets); return usage(); }
    atas_run_config c;
    atas_status st = atas_config_load(path, sets, nsets, &c);
    if (st == ATAS_OK) st = atas_config_check_world(&c, world);
    if (st == ATAS_OK) st = out ? atas_config_write_resolved(&c, out) : atas_config_write_resolved_file(&c, stdout);
    free(sets);
    if (st != ATAS_OK) {
        atas_error_print(stderr);
        return 1;
    }
    return 0;
}
