/* atas_pack: decode + square every input image and write one corpus.
 *
 * Parallel design (HDF5 1.10.8 writes filtered datasets in parallel only with
 * collective transfers): the file list is cut into ROUNDS; in round k rank r
 * decodes files [k*W*B + r*B, +B). The good images of a round are therefore in
 * list order rank by rank, so the output index of each image equals the serial
 * pack's. Each round every rank writes its good images as ONE contiguous
 * hyperslab in one collective H5Dwrite (ranks with none select nothing), after a
 * collective H5Dset_extent. Output is identical for any number of ranks. */
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "atas/corpus.h"
#include "atas/h5file.h"
#include "atas/h5util.h"
#include "atas/mpi_check.h"

#define REASON_LEN 200

typedef struct {
    char **v;
    int n, cap;
} strlist;

static atas_status sl_push(strlist *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        char **nv = realloc(l->v, sizeof(char *) * cap);
        if (!nv) return ATAS_ERR(ATAS_ERR_NOMEM, "pack: file list of %d names", cap);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n] = strdup(s);
    if (!l->v[l->n]) return ATAS_ERR(ATAS_ERR_NOMEM, "pack: file name");
    l->n++;
    return ATAS_OK;
}

static void sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    return !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* directories in sorted name order, so the pack is reproducible */
static atas_status walk_dir(const char *dir, strlist *out) {
    DIR *d = opendir(dir);
    if (!d) return ATAS_ERR(ATAS_ERR_IO, "pack: cannot read directory %s (%s)", dir, strerror(errno));
    strlist names = {0};
    struct dirent *e;
    atas_status st = ATAS_OK;
    while ((e = readdir(d)) && st == ATAS_OK)
        if (e->d_name[0] != '.') st = sl_push(&names, e->d_name);
    closedir(d);
    if (st == ATAS_OK) qsort(names.v, names.n, sizeof(char *), cmp_str);
    for (int i = 0; i < names.n && st == ATAS_OK; i++) {
        size_t len = strlen(dir) + strlen(names.v[i]) + 2;
        char *p = malloc(len);
        snprintf(p, len, "%s/%s", dir, names.v[i]);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) st = walk_dir(p, out);
        else if (is_image_name(names.v[i])) st = sl_push(out, p);
        free(p);
    }
    sl_free(&names);
    if (st != ATAS_OK) return atas_error_trace(st, __FILE__, __LINE__, __func__);
    return ATAS_OK;
}

/* a list file: one path a line, '#' comments; relative paths are relative to the list */
static atas_status read_list(const char *path, strlist *out) {
    FILE *f = fopen(path, "r");
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "pack: cannot open list file %s (%s)", path, strerror(errno));
    char base[4096];
    snprintf(base, sizeof base, "%s", path);
    char *slash = strrchr(base, '/');
    if (slash) slash[1] = 0; else base[0] = 0;
    char line[4096];
    atas_status st = ATAS_OK;
    while (st == ATAS_OK && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
        if (!n || line[0] == '#') continue;
        if (line[0] == '/') { st = sl_push(out, line); continue; }
        char full[8192];
        snprintf(full, sizeof full, "%s%s", base, line);
        st = sl_push(out, full);
    }
    fclose(f);
    if (st != ATAS_OK) return atas_error_trace(st, __FILE__, __LINE__, __func__);
    return ATAS_OK;
}

static atas_status build_list(const atas_pack_config *cfg, strlist *out) {
    for (int i = 0; i < cfg->ninputs; i++) {
        struct stat sb;
        if (stat(cfg->inputs[i], &sb) != 0)
            return ATAS_ERR(ATAS_ERR_IO, "pack: input %s does not exist (%s)", cfg->inputs[i],
                            strerror(errno));
        if (S_ISDIR(sb.st_mode)) ATAS_CHECK(walk_dir(cfg->inputs[i], out));
        else if (is_image_name(cfg->inputs[i])) ATAS_CHECK(sl_push(out, cfg->inputs[i]));
        else ATAS_CHECK(read_list(cfg->inputs[i], out));
    }
    return ATAS_OK;
}

/* rank 0 builds the list; everyone gets it (NUL-separated) */
static atas_status share_list(const atas_pack_config *cfg, MPI_Comm comm, strlist *out) {
    int rank;
    ATAS_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    long long bytes = 0;
    char *buf = NULL;
    atas_status st = ATAS_OK;
    if (rank == 0) {
        st = build_list(cfg, out);
        if (st == ATAS_OK) {
            for (int i = 0; i < out->n; i++) bytes += (long long)strlen(out->v[i]) + 1;
            buf = malloc(bytes ? bytes : 1);
            char *p = buf;
            for (int i = 0; i < out->n; i++) p = stpcpy(p, out->v[i]) + 1;
        } else {
            bytes = -1;
        }
    }
    atas_status ms = ATAS_MPI_STATUS(MPI_Bcast(&bytes, 1, MPI_LONG_LONG, 0, comm));
    if (ms != ATAS_OK) { free(buf); return ms; }
    if (bytes < 0) {
        if (rank == 0) return atas_error_trace(st, __FILE__, __LINE__, __func__);
        return ATAS_ERR(ATAS_ERR_IO, "pack: rank 0 could not build the file list");
    }
    if (rank != 0) buf = malloc(bytes ? bytes : 1);
    ms = ATAS_MPI_STATUS(MPI_Bcast(buf, (int)bytes, MPI_CHAR, 0, comm));
    if (ms != ATAS_OK) { free(buf); return ms; }
    if (rank != 0)
        for (char *p = buf; p < buf + bytes; p += strlen(p) + 1) ATAS_CHECK(sl_push(out, p));
    free(buf);
    return ATAS_OK;
}

typedef struct {
    int ok;
    char reason[REASON_LEN];
} file_status;

static atas_status write_attrs(hid_t fid, const atas_pack_config *cfg, long long N, long long files) {
    long long ints[5][1] = {{ATAS_CORPUS_VERSION}, {cfg->S}, {N}, {cfg->min_side}, {files - N}};
    const char *inames[5] = {"version", "size", "count", "min_side", "skipped"};
    hid_t sc = H5Screate(H5S_SCALAR);
    for (int i = 0; i < 5; i++) {
        hid_t a = H5Acreate2(fid, inames[i], H5T_STD_I64LE, sc, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, H5T_NATIVE_LLONG, ints[i]) < 0)
            return ATAS_ERR(ATAS_ERR_IO, "pack: cannot write attribute %s", inames[i]);
        H5Aclose(a);
    }
    char policy[400];
    snprintf(policy, sizeof policy,
             "short side resized to %d and centre-cropped (integer-aligned centre square of the "
             "source, resized in one pass); filter: Pillow BILINEAR (triangle, support scaled by "
             "the reduction factor), 8-bit fixed point; alpha composited over %s", cfg->S,
             cfg->alpha_bg == ATAS_ALPHA_OVER_BLACK ? "black" : "white");
    const char *snames[3] = {"format", "resize", "layout"};
    const char *svals[3] = {ATAS_CORPUS_FORMAT, policy, "images: uint8 [count, size, size, 3] RGB, HWC"};
    for (int i = 0; i < 3; i++) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(svals[i]) + 1);
        H5Tset_strpad(t, H5T_STR_NULLTERM);
        hid_t a = H5Acreate2(fid, snames[i], t, sc, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, t, svals[i]) < 0)
            return ATAS_ERR(ATAS_ERR_IO, "pack: cannot write attribute %s", snames[i]);
        H5Aclose(a);
        H5Tclose(t);
    }
    H5Sclose(sc);
    return ATAS_OK;
}

static void fmt_hms(char *b, size_t n, double s) {
    if (s < 0 || s > 1e7) { snprintf(b, n, "?"); return; }
    int t = (int)(s + 0.5);
    snprintf(b, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
}

/* the body once the file list is known: collective on comm */
static atas_status pack_files(const atas_pack_config *cfg, MPI_Comm comm, strlist *files,
                              const char *tmp, atas_pack_result *res) {
    int rank, W;
    ATAS_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    ATAS_MPI_CHECK(MPI_Comm_size(comm, &W));
    const int S = cfg->S, B = cfg->files_per_round > 0 ? cfg->files_per_round : 8;
    const size_t img_bytes = (size_t)S * S * 3;
    const long long F = files->n;
    size_t maxname = 1;
    for (int i = 0; i < files->n; i++) maxname = ATAS_MAX(maxname, strlen(files->v[i]) + 1);
    /* HDF5 1.10 cannot close a file after a failed flush (it crashes at exit): room for
     * every file is checked before anything is written, a clear message instead */
    {
        int short_room = 0;
        unsigned long long need = (unsigned long long)F * (img_bytes + 4 + maxname) + (1ull << 20), avail = 0;
        if (rank == 0) {
            struct statvfs vs;
            if (statvfs(tmp, &vs) == 0) {
                avail = (unsigned long long)vs.f_bavail * vs.f_frsize;
                short_room = avail < need;
            }
        }
        ATAS_MPI_CHECK(MPI_Bcast(&short_room, 1, MPI_INT, 0, comm));
        if (short_room)
            return ATAS_ERR(ATAS_ERR_IO, "pack: %s: %s: %llu bytes free, %lld images of %dx%d need up to %llu",
                            cfg->out, strerror(ENOSPC), avail, F, S, S, need);
    }

    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    hid_t fid = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (fid < 0) return ATAS_ERR(ATAS_ERR_IO, "pack: cannot create %s", tmp);

    hsize_t dims[4] = {0, (hsize_t)S, (hsize_t)S, 3}, maxd[4] = {H5S_UNLIMITED, (hsize_t)S, (hsize_t)S, 3};
    hsize_t chunk[4] = {1, (hsize_t)S, (hsize_t)S, 3};
    hid_t space = H5Screate_simple(4, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 4, chunk);
    H5Pset_fletcher32(dcpl);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    hid_t dset = H5Dcreate2(fid, ATAS_CORPUS_IMAGES, H5T_STD_U8LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(space);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);

    atas_status st = ATAS_OK;
    uint8_t *imgs = NULL;
    file_status *mine = NULL, *all = NULL;
    char *okflags = NULL;
    FILE *report = NULL;
    if (dset < 0) { st = ATAS_ERR(ATAS_ERR_IO, "pack: cannot create dataset images in %s", tmp); goto done; }
    ATAS_CHECK_GOTO(st, atas_host_alloc((void **)&imgs, img_bytes * B, "pack round images"), done);
    mine = calloc(B, sizeof *mine);
    all = rank == 0 ? calloc((size_t)B * W, sizeof *all) : NULL;
    okflags = calloc(F ? F : 1, 1);
    if (!mine || (rank == 0 && !all) || !okflags) { st = ATAS_ERR(ATAS_ERR_NOMEM, "pack: status"); goto done; }
    if (rank == 0) {
        char rp[4200];
        snprintf(rp, sizeof rp, "%s.report.txt", cfg->out);
        report = fopen(rp, "w");
        if (!report) atas_warn("pack: cannot write the report %s (%s)", rp, strerror(errno));
        else fprintf(report, "# atas_pack report: skipped files, one a line: <path>\\t<reason>\n");
    }

    long long total = 0, skipped = 0;
    const double t0 = atas_now();
    double last_print = t0;
    const long long rounds = (F + (long long)W * B - 1) / ((long long)W * B);
    for (long long k = 0; k < rounds; k++) {
        long long first = k * W * B + (long long)rank * B;
        int nmine = (int)ATAS_MAX(0, ATAS_MIN((long long)B, F - first));
        int ndecoded[1] = {0};
        /* decode in parallel; slot i holds file first+i */
        #pragma omp parallel for schedule(dynamic, 1)
        for (int i = 0; i < nmine; i++) {
            const char *path = files->v[first + i];
            atas_image im;
            mine[i].ok = 0;
            mine[i].reason[0] = 0;
            if (atas_image_decode(path, cfg->alpha_bg, &im, mine[i].reason, REASON_LEN) != ATAS_OK)
                continue;
            int side = ATAS_MIN(im.w, im.h);
            if (side < cfg->min_side)
                snprintf(mine[i].reason, REASON_LEN, "too small: %dx%d, short side below %d",
                         im.w, im.h, cfg->min_side);
            else if (atas_image_square(imgs + img_bytes * i, S, &im) != ATAS_OK)
                snprintf(mine[i].reason, REASON_LEN, "resize failed: %s", atas_error_message());
            else
                mine[i].ok = 1;
            atas_image_free(&im);
        }
        atas_error_clear();
        for (int i = nmine; i < B; i++) { mine[i].ok = 0; mine[i].reason[0] = 0; }
        int cnt = 0;
        for (int i = 0; i < nmine; i++) {
            if (!mine[i].ok) continue;
            if (cnt != i) memcpy(imgs + img_bytes * cnt, imgs + img_bytes * i, img_bytes);
            cnt++;
        }
        ndecoded[0] = cnt;
        int *counts = malloc(sizeof(int) * W);
        if (!counts) { st = ATAS_ERR(ATAS_ERR_NOMEM, "pack: %d counts", W); goto done; }
        st = ATAS_MPI_STATUS(MPI_Allgather(ndecoded, 1, MPI_INT, counts, 1, MPI_INT, comm));
        if (st != ATAS_OK) { free(counts); goto done; }
        long long off = total, sum = 0;
        for (int q = 0; q < W; q++) {
            if (q < rank) off += counts[q];
            sum += counts[q];
        }
        free(counts);
        int fail = 0;
        if (sum > 0) {
            hsize_t nd[4] = {(hsize_t)(total + sum), (hsize_t)S, (hsize_t)S, 3};
            if (H5Dset_extent(dset, nd) < 0) fail = 1;
            hid_t fs = H5Dget_space(dset);
            hsize_t mc[4] = {(hsize_t)(cnt ? cnt : 1), (hsize_t)S, (hsize_t)S, 3};
            hid_t ms = H5Screate_simple(4, mc, NULL);
            if (cnt > 0) {
                hsize_t start[4] = {(hsize_t)off, 0, 0, 0};
                H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, mc, NULL);
            } else {
                H5Sselect_none(fs);
                H5Sselect_none(ms);
            }
            if (!fail && H5Dwrite(dset, H5T_NATIVE_UCHAR, ms, fs, dxpl, imgs) < 0) fail = 1;
            H5Sclose(ms);
            H5Sclose(fs);
        }
        ATAS_MPI_CHECK_GOTO(st, MPI_Allreduce(MPI_IN_PLACE, &fail, 1, MPI_INT, MPI_MAX, comm), done);
        if (fail) {
            st = ATAS_ERR(ATAS_ERR_IO, "pack: collective write of round %lld (images %lld..%lld) to %s failed",
                          k, total, total + sum - 1, tmp);
            goto done;
        }
        /* rank 0 learns every file's fate, in list order */
        ATAS_MPI_CHECK_GOTO(st, MPI_Gather(mine, (int)(B * sizeof *mine), MPI_BYTE, all, (int)(B * sizeof *mine),
                                           MPI_BYTE, 0, comm), done);
        if (rank == 0) {
            for (int q = 0; q < W; q++)
                for (int i = 0; i < B; i++) {
                    long long fi = k * W * B + (long long)q * B + i;
                    if (fi >= F) continue;
                    file_status *fsx = &all[(size_t)q * B + i];
                    okflags[fi] = (char)fsx->ok;
                    if (!fsx->ok) {
                        skipped++;
                        if (report) fprintf(report, "%s\t%s\n", files->v[fi], fsx->reason);
                    }
                }
        }
        total += sum;
        double now = atas_now();
        long long done_files = ATAS_MIN(F, (k + 1) * W * B);
        if (cfg->progress && rank == 0 && (now - last_print >= 1.0 || k + 1 == rounds)) {
            double rate = total / (now - t0 + 1e-9), frate = done_files / (now - t0 + 1e-9);
            char eta[32];
            fmt_hms(eta, sizeof eta, (F - done_files) / (frate + 1e-9));
            atas_info("pack: %lld/%lld files, %lld images, %.1f images/s, ETA %s", done_files, F,
                      total, rate, eta);
            last_print = now;
        }
    }
    ATAS_MPI_CHECK_GOTO(st, MPI_Bcast(&skipped, 1, MPI_LONG_LONG, 0, comm), done);
    if (total == 0) {
        st = ATAS_ERR(ATAS_ERR_FORMAT, "pack: no image could be packed: %lld input files, all skipped "
                      "(reasons in %s.report.txt)", F, cfg->out);
        goto done;
    }
    /* source names, in image order (rank 0 writes, everyone joins the collective calls) */
    {
        ATAS_MPI_CHECK_GOTO(st, MPI_Bcast(okflags, (int)F, MPI_CHAR, 0, comm), done);
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, maxname);
        H5Tset_strpad(t, H5T_STR_NULLTERM);
        hsize_t nd[1] = {(hsize_t)total};
        hid_t sp = H5Screate_simple(1, nd, NULL);
        hid_t nds = H5Dcreate2(fid, ATAS_CORPUS_NAMES, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        char *nb = calloc((size_t)total, maxname);
        long long j = 0;
        for (long long i = 0; i < F; i++)
            if (okflags[i]) memcpy(nb + (size_t)(j++) * maxname, files->v[i], strlen(files->v[i]));
        hid_t ms = H5Screate_simple(1, nd, NULL);
        if (rank != 0) { H5Sselect_none(ms); H5Sselect_none(sp); }
        int fail = nds < 0 || !nb || H5Dwrite(nds, t, ms, sp, dxpl, nb) < 0;
        free(nb);
        H5Sclose(ms);
        H5Sclose(sp);
        if (nds >= 0) H5Dclose(nds);
        H5Tclose(t);
        ATAS_MPI_CHECK_GOTO(st, MPI_Allreduce(MPI_IN_PLACE, &fail, 1, MPI_INT, MPI_MAX, comm), done);
        if (fail) { st = ATAS_ERR(ATAS_ERR_IO, "pack: cannot write the names dataset to %s", tmp); goto done; }
    }
    ATAS_CHECK_GOTO(st, write_attrs(fid, cfg, total, F), done);
    res->files = F;
    res->packed = total;
    res->skipped = skipped;
    if (rank == 0 && report) fprintf(report, "# %lld files, %lld packed, %lld skipped\n", F, total, skipped);
done:
    if (report) fclose(report);
    free(mine);
    free(all);
    free(okflags);
    if (imgs) atas_host_free(imgs);
    H5Pclose(dxpl);
    if (dset >= 0) H5Dclose(dset);
    if (H5Fclose(fid) < 0 && st == ATAS_OK) st = ATAS_ERR(ATAS_ERR_IO, "pack: closing %s failed", tmp);
    return st;
}

static atas_status verify_written(const char *tmp, long long packed) {
    atas_corpus c;
    ATAS_CHECK(atas_corpus_open(&c, tmp, MPI_COMM_NULL));
    atas_status s = c.N == packed ? ATAS_OK
                                  : ATAS_ERR(ATAS_ERR_IO, "pack: %s holds %lld images, %lld were packed", tmp,
                                             (long long)c.N, packed);
    uint8_t *buf = NULL;
    if (s == ATAS_OK) s = atas_host_alloc((void **)&buf, (size_t)c.S * c.S * 3, "pack verify");
    for (int64_t i = 0; s == ATAS_OK && i < c.N; i++) s = atas_corpus_read(&c, i, buf);
    atas_host_free(buf);
    atas_corpus_close(&c);
    if (s != ATAS_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", atas_error_message());
        atas_error_clear();
        return ATAS_ERR(ATAS_ERR_IO, "pack: verifying what was written failed: %s", why);
    }
    return ATAS_OK;
}

atas_status atas_pack(const atas_pack_config *cfg, MPI_Comm comm, atas_pack_result *res) {
    ATAS_REQUIRE(cfg->S >= 8 && cfg->S <= 8192, "pack: --size %d out of range 8..8192", cfg->S);
    ATAS_REQUIRE(cfg->out && cfg->ninputs > 0, "pack: needs an output and at least one input");
    memset(res, 0, sizeof *res);
    atas_h5_quiet();
    int rank;
    ATAS_MPI_CHECK(MPI_Comm_rank(comm, &rank));
    double t0 = atas_now();
    strlist files = {0};
    ATAS_CHECK(share_list(cfg, comm, &files));
    if (files.n == 0) {
        sl_free(&files);
        return ATAS_ERR(ATAS_ERR_INVALID, "pack: no .jpg/.jpeg/.png file found in the inputs");
    }
    /* an unpredictable temporary beside the output (rank 0 makes it, everyone opens it) */
    char tmp[4200] = "";
    int terr = 0;
    if (rank == 0 && atas_tmp_name(cfg->out, tmp, sizeof tmp) != ATAS_OK) terr = 1;
    atas_status st = ATAS_MPI_STATUS(MPI_Bcast(&terr, 1, MPI_INT, 0, comm));
    if (st == ATAS_OK && !terr) st = ATAS_MPI_STATUS(MPI_Bcast(tmp, sizeof tmp, MPI_CHAR, 0, comm));
    if (st != ATAS_OK) {
        sl_free(&files);
        if (rank == 0 && !terr) unlink(tmp);
        return st;
    }
    if (terr) {
        sl_free(&files);
        return rank == 0 ? atas_error_trace(ATAS_ERR_IO, __FILE__, __LINE__, __func__)
                         : ATAS_ERR(ATAS_ERR_IO, "pack: rank 0 cannot create a temporary beside %s", cfg->out);
    }
    st = pack_files(cfg, comm, &files, tmp, res);
    sl_free(&files);
    /* rank 0 verifies and renames once every rank has closed its part of the file */
    atas_status bs = ATAS_MPI_STATUS(MPI_Barrier(comm));
    if (st == ATAS_OK) st = bs;
    int rc = 0;
    if (rank == 0) {
        /* finish by verifying what was written: every image back through its checksum */
        if (st == ATAS_OK) st = verify_written(tmp, res->packed);
        if (st == ATAS_OK) st = atas_commit_tmp(tmp, cfg->out);
        else unlink(tmp);
        rc = st != ATAS_OK;
    }
    bs = ATAS_MPI_STATUS(MPI_Bcast(&rc, 1, MPI_INT, 0, comm));
    if (st == ATAS_OK) st = bs;
    if (st != ATAS_OK) return atas_error_trace(st, __FILE__, __LINE__, __func__);
    if (rc) return ATAS_ERR(ATAS_ERR_IO, "pack: rank 0 could not verify or rename %s", cfg->out);
    res->seconds = atas_now() - t0;
    return ATAS_OK;
}
