/* atas_pack: JPEG/PNG files -> one atas corpus (docs/corpus.md).
 *   atas_pack --size S -o out.h5 DIR|LIST|IMAGE ...
 *   mpirun -n K atas_pack ...   (same output, decoded by K ranks) */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "atas/corpus.h"
#include "atas/version.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: atas_pack --size S -o out.h5 [options] INPUT...\n"
            "  INPUT: a directory (searched recursively for .jpg/.jpeg/.png), an image file,\n"
            "         or a list file (one path a line; relative to the list's directory)\n"
            "  -s, --size S         side of the stored square images (required)\n"
            "  -o, --output FILE    corpus to write (via FILE.tmp, renamed when complete)\n"
            "      --min-side N     skip images whose short side is below N (default 32)\n"
            "      --alpha-bg C     composite transparent pixels over white|black (default white)\n"
            "      --round B        files per rank per collective write (default 16)\n"
            "  -q, --quiet          no progress line\n"
            "Skipped files and reasons go to FILE.report.txt.\n");
}

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    atas_log_set_rank(rank, world);
    atas_pack_config cfg = {.S = 0, .min_side = 32, .alpha_bg = ATAS_ALPHA_OVER_WHITE,
                            .files_per_round = 16, .progress = 1};
    static struct option opts[] = {{"size", required_argument, 0, 's'},
                                   {"output", required_argument, 0, 'o'},
                                   {"min-side", required_argument, 0, 'm'},
                                   {"alpha-bg", required_argument, 0, 'a'},
                                   {"round", required_argument, 0, 'r'},
                                   {"quiet", no_argument, 0, 'q'},
                                   {"help", no_argument, 0, 'h'},
                                   {"version", no_argument, 0, 'V'},
                                   {0, 0, 0, 0}};
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "s:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's': cfg.S = atoi(optarg); break;
        case 'o': cfg.out = optarg; break;
        case 'm': cfg.min_side = atoi(optarg); break;
        case 'a':
            if (!strcmp(optarg, "black")) cfg.alpha_bg = ATAS_ALPHA_OVER_BLACK;
            else if (!strcmp(optarg, "white")) cfg.alpha_bg = ATAS_ALPHA_OVER_WHITE;
            else bad = 1;
            break;
        case 'r': cfg.files_per_round = atoi(optarg); break;
        case 'q': cfg.progress = 0; break;
        case 'h': if (rank == 0) usage(stdout); MPI_Finalize(); return 0;
        case 'V': if (rank == 0) atas_print_version("atas_pack"); MPI_Finalize(); return 0;
        default: bad = 1;
        }
    }
    if (bad || cfg.S <= 0 || !cfg.out || optind >= argc || cfg.files_per_round <= 0) {
        if (rank == 0) {
            if (cfg.S <= 0) fprintf(stderr, "atas_pack: --size S is required (a positive integer)\n");
            if (!cfg.out) fprintf(stderr, "atas_pack: -o out.h5 is required\n");
            if (optind >= argc) fprintf(stderr, "atas_pack: no input given\n");
            usage(stderr);
        }
        MPI_Finalize();
        return 2;
    }
    cfg.inputs = (const char *const *)(argv + optind);
    cfg.ninputs = argc - optind;
    atas_pack_result res;
    atas_status st = atas_pack(&cfg, MPI_COMM_WORLD, &res);
    if (st != ATAS_OK) {
        if (rank == 0) atas_error_print(stderr);
        MPI_Finalize();
        return 1;
    }
    if (rank == 0)
        printf("atas_pack: %s: %lld images packed, %lld skipped of %lld files in %.1f s "
               "(%d ranks; skipped files in %s.report.txt)\n",
               cfg.out, (long long)res.packed, (long long)res.skipped, (long long)res.files,
               res.seconds, world, cfg.out);
    MPI_Finalize();
    return 0;
}
