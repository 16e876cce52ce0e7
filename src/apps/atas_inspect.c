/* atas_inspect: a corpus's attributes and counts; --verify reads every image
 * (Fletcher32) and names the bad indices; --png i out.png exports image i.
 *   atas_inspect corpus.h5 [--verify] [--png i out.png] */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atas/corpus.h"
#include "atas/version.h"

static void usage(FILE *f) {
    fprintf(f, "usage: atas_inspect CORPUS.h5 [--verify] [--png INDEX OUT.png]\n"
               "  --verify          read every image, checking its Fletcher32 checksum\n"
               "  --png I OUT.png   write image I as a PNG file\n");
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int verify = 0, rc = 0;
    long long png_index = -1;
    const char *png_out = NULL;
    static struct option opts[] = {{"verify", no_argument, 0, 'v'}, {"png", required_argument, 0, 'p'},
                                   {"help", no_argument, 0, 'h'},
                                   {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        if (c == 'v') verify = 1;
        else if (c == 'p') {
            char *end;
            png_index = strtoll(optarg, &end, 10);
            if (*end || optind >= argc) { usage(stderr); MPI_Finalize(); return 2; }
            png_out = argv[optind++];
        } else if (c == 'h') { usage(stdout); MPI_Finalize(); return 0; }
        else if (c == 'V') { atas_print_version("atas_inspect"); MPI_Finalize(); return 0; }
        else { usage(stderr); MPI_Finalize(); return 2; }
    }
    if (optind != argc - 1) { usage(stderr); MPI_Finalize(); return 2; }
    const char *path = argv[optind];
    atas_corpus cp;
    uint8_t *buf = NULL;
    if (atas_corpus_open(&cp, path, MPI_COMM_NULL) != ATAS_OK) { rc = 1; goto out; }
    struct stat sb;
    stat(path, &sb);
    char s[512];
    printf("corpus   %s (%.1f MiB)\n", path, sb.st_size / 1048576.0);
    atas_corpus_attr_str(&cp, "format", s, sizeof s);
    printf("format   %s version %d\n", s, cp.version);
    printf("count    %lld images of %d x %d x 3 (uint8, one Fletcher32-checked chunk each)\n",
           (long long)cp.N, cp.S, cp.S);
    atas_corpus_attr_str(&cp, "resize", s, sizeof s);
    printf("resize   %s\n", s);
    if (atas_host_alloc((void **)&buf, (size_t)cp.S * cp.S * 3, "inspect image") != ATAS_OK) { rc = 1; goto out; }
    if (png_out) {
        if (png_index < 0 || png_index >= cp.N) {
            ATAS_ERR(ATAS_ERR_INVALID, "corpus %s: --png index %lld out of range [0, %lld)", path,
                     png_index, (long long)cp.N);
            rc = 1;
            goto out;
        }
        if (atas_corpus_read(&cp, png_index, buf) != ATAS_OK ||
            atas_png_write(png_out, buf, cp.S, cp.S) != ATAS_OK) { rc = 1; goto out; }
        atas_corpus_name(&cp, png_index, s, sizeof s);
        printf("png      image %lld (%s) -> %s\n", png_index, s, png_out);
    }
    if (verify) {
        long long nbad = 0;
        double t0 = atas_now();
        for (long long i = 0; i < cp.N; i++) {
            if (atas_corpus_read(&cp, i, buf) != ATAS_OK) {
                atas_corpus_name(&cp, i, s, sizeof s);
                /* the reader's own words: a checksum failure, a never-written chunk... */
                fprintf(stderr, "verify: image %lld (%s): %s\n", i, s, atas_error_message());
                atas_error_clear();
                nbad++;
            }
        }
        printf("verify   %lld of %lld images bad (%.2f s)\n", nbad, (long long)cp.N, atas_now() - t0);
        if (nbad) {
            ATAS_ERR(ATAS_ERR_FORMAT, "corpus %s: %lld image(s) fail their checksum or are missing (indices above)",
                     path, nbad);
            rc = 1;
        }
    }
out:
    if (rc) atas_error_print(stderr);
    if (buf) atas_host_free(buf);
    if (cp.hid_file >= 0) atas_corpus_close(&cp);
    MPI_Finalize();
    return rc;
}
