/* libFuzzer targets for the readers of hostile files: the config loader, the corpus
 * reader and the checkpoint reader. Any byte string is written to a file and read the
 * way the programs read it; it must load or fail with a status - never crash, leak,
 * hang or touch memory out of bounds (built with -fsanitize=fuzzer,address,undefined).
 * One source, the target chosen by -DFUZZ_CONFIG / FUZZ_CORPUS / FUZZ_CKPT. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atas/config.h"
#include "atas/corpus.h"
#include "atas/weights.h"
#include "atas/checkpoint.h"

static char g_path[256];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided);
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_path, sizeof g_path, "%s/atas_fuzz_%d.in", dir, (int)getpid());
    return 0;
}

static int put(const uint8_t *d, size_t n) {
    FILE *f = fopen(g_path, "wb");
    if (!f) return -1;
    if (n) fwrite(d, 1, n, f);
    fclose(f);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (put(data, size) != 0) return 0;
#if defined(FUZZ_CONFIG)
    atas_run_config *c = malloc(sizeof *c);
    if (c) (void)atas_config_load(g_path, NULL, 0, c);
    free(c);
#elif defined(FUZZ_CORPUS)
    atas_corpus cp;
    if (atas_corpus_open(&cp, g_path, MPI_COMM_NULL) == ATAS_OK) {
        if (cp.S <= 256) {
            uint8_t *buf = malloc((size_t)cp.S * cp.S * 3);
            for (int64_t i = 0; buf && i < cp.N && i < 4; i++) (void)atas_corpus_read(&cp, i, buf);
            free(buf);
        }
        char name[64];
        (void)atas_corpus_name(&cp, 0, name, sizeof name);
        atas_corpus_close(&cp);
    }
#elif defined(FUZZ_CKPT)
    char done[300], why[512];
    snprintf(done, sizeof done, "%s.done", g_path);
    FILE *m = fopen(done, "w");
    if (m) { fprintf(m, "%zu\n", size); fclose(m); } /* size-only marker: reach the HDF5 walk */
    (void)atas_ckpt_verify(g_path, why, sizeof why);
    atas_vit_config vc;
    char pre[256];
    (void)atas_ckpt_read_model(g_path, &vc, pre, sizeof pre);
    unlink(done);
#endif
    atas_error_clear();
    return 0;
}
