/* atas_bench_data: loader throughput (views + mosaics) next to the raw read
 * rates of the same corpus, in one run, as a fixed-width table.
 *   [mpirun -n K] atas_bench_data CORPUS.h5 [--steps N] [--n 8] [--groups G]
 *       [--mosaics 2] [--grids 2,3,4] [--view 224] [--canvas 224] [--workers 2] [--prefetch 2] */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atas/corpus.h"
#include "atas/loader.h"
#include "atas/version.h"

int main(int argc, char **argv) {
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    int rank, W;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &W);
    atas_log_set_rank(rank, W);
    int grids[ATAS_MOSAIC_MAX_GRID] = {2, 4}, ngrids = 2, steps = 20, rc = 0;
    atas_loader_config c = {.group_images = 8, .groups = 2 * W, .mosaics = 2, .view_px = 224,
                            .canvas_px = 224, .seed = 1, .workers = 2, .prefetch = 2,
                            .view_key = "--view", .canvas_key = "--canvas",
                            .repeat_images = 1 /* a throughput benchmark: any grid on any n */};
    static struct option opts[] = {{"steps", 1, 0, 's'}, {"n", 1, 0, 'n'}, {"groups", 1, 0, 'G'},
                                   {"mosaics", 1, 0, 'm'}, {"grids", 1, 0, 'g'}, {"view", 1, 0, 'R'},
                                   {"canvas", 1, 0, 'C'}, {"workers", 1, 0, 'w'},
                                   {"prefetch", 1, 0, 'p'}, {"help", 0, 0, 'h'},
                                   {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 's': steps = atoi(optarg); break;
        case 'n': c.group_images = atoi(optarg); break;
        case 'G': c.groups = atoi(optarg); break;
        case 'm': c.mosaics = atoi(optarg); break;
        case 'g': {
            ngrids = 0;
            for (char *t = strtok(optarg, ","); t && ngrids < ATAS_MOSAIC_MAX_GRID; t = strtok(NULL, ","))
                grids[ngrids++] = atoi(t);
            break;
        }
        case 'R': c.view_px = atoi(optarg); break;
        case 'C': c.canvas_px = atoi(optarg); break;
        case 'w': c.workers = atoi(optarg); break;
        case 'p': c.prefetch = atoi(optarg); break;
        case 'h': rc = -1; break;
        case 'V': if (rank == 0) atas_print_version("atas_bench_data"); MPI_Finalize(); return 0;
        default: rc = 2;
        }
    }
    if (rc || optind != argc - 1) {
        if (rc < 0) { /* --help: the usage on stdout, success */
            if (rank == 0) printf("usage: atas_bench_data CORPUS.h5 [--steps N] [--n n] [--groups G] "
                                  "[--mosaics m] [--grids a,b] [--view R] [--canvas C] [--workers w] [--prefetch p]\n");
            MPI_Finalize();
            return 0;
        }
        if (rank == 0) fprintf(stderr, "usage: atas_bench_data CORPUS.h5 [--steps N] [--n n] [--groups G] "
                                       "[--mosaics m] [--grids a,b] [--view R] [--canvas C] [--workers w] [--prefetch p]\n");
        MPI_Finalize();
        return 2;
    }
    c.path = argv[optind];
    c.grids = grids;
    c.ngrids = ngrids;
    atas_loader *ld = NULL;
    atas_corpus cp = {.hid_file = -1};
    uint8_t *buf = NULL;
    atas_status st = atas_loader_open(&ld, &c, MPI_COMM_WORLD);
    if (st != ATAS_OK) goto fail;
    const int S = atas_loader_corpus_side(ld);
    const int64_t N = atas_loader_corpus_count(ld);
    /* 1. loader: views + mosaics (first step excluded: it includes the start-up) */
    atas_batch *b;
    double wait = 0, t0 = 0;
    for (int s = 0; s <= steps; s++) {
        if ((st = atas_loader_next(ld, &b)) != ATAS_OK) goto fail;
        if (s == 0) t0 = atas_now(); else wait += b->wait_s;
        atas_loader_release(ld, b);
    }
    double tl = atas_now() - t0;
    double imgs_rank = (double)steps * (c.groups / W) * c.group_images;
    atas_loader_close(ld);
    ld = NULL;
    /* 2. raw HDF5: rank 0 reads images sequentially (serial driver, checksums on) */
    const size_t img = (size_t)S * S * 3;
    int64_t nraw = ATAS_MIN(N, (int64_t)imgs_rank);
    double th = 0, tr = 0, mb_read = 0;
    if (rank == 0) {
        if ((st = atas_corpus_open(&cp, c.path, MPI_COMM_NULL)) != ATAS_OK) goto fail;
        if ((st = atas_host_alloc((void **)&buf, 1 << 22 > img ? 1 << 22 : img, "bench")) != ATAS_OK) goto fail;
        double t = atas_now();
        for (int64_t i = 0; i < nraw; i++)
            if ((st = atas_corpus_read(&cp, i, buf)) != ATAS_OK) goto fail;
        th = atas_now() - t;
        atas_corpus_close(&cp);
        /* 3. plain read() of the whole file in 4 MiB blocks */
        int fd = open(c.path, O_RDONLY);
        t = atas_now();
        ssize_t r;
        while (fd >= 0 && (r = read(fd, buf, 1 << 22)) > 0) mb_read += r / 1048576.0;
        tr = atas_now() - t;
        if (fd >= 0) close(fd);
        printf("# atas_bench_data: %s, N=%lld, S=%d, %d rank(s)\n", c.path, (long long)N, S, W);
        printf("# loader: n=%d G=%d m=%d grids", c.group_images, c.groups, c.mosaics);
        for (int i = 0; i < ngrids; i++) printf("%s%d", i ? "," : " ", grids[i]);
        printf(" R=%d C=%d workers=%d prefetch=%d steps=%d; raw reads on rank 0 (page cache warm)\n",
               c.view_px, c.canvas_px, c.workers, c.prefetch, steps);
        printf("# %-34s %12s %12s %10s\n", "what", "images/s", "MiB/s", "wait %");
        printf("  %-34s %12.1f %12.1f %10.1f\n", "loader, views+mosaics, per rank", imgs_rank / tl,
               imgs_rank / tl * img / 1048576.0, 100.0 * wait / tl);
        printf("  %-34s %12.1f %12.1f %10s\n", "HDF5 read, sequential, 1 thread", nraw / th,
               nraw / th * img / 1048576.0, "-");
        printf("  %-34s %12.1f %12.1f %10s\n", "plain read() of the file", mb_read * 1048576.0 / img / tr,
               mb_read / tr, "-");
    }
    atas_host_free(buf);
    MPI_Finalize();
    return 0;
fail:
    atas_error_print(stderr);
    if (ld) atas_loader_close(ld);
    if (cp.hid_file >= 0) atas_corpus_close(&cp);
    atas_host_free(buf);
    MPI_Finalize();
    return 1;
}
