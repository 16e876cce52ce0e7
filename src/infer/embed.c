/* io: weights + images -> HDF5 embeddings (docs/embed.md).
 *
 * Every rank embeds a contiguous slice of the images in rounds of one batch and
 * writes its rows with independent hyperslab writes through MPI-IO; after each
 * round the ranks agree on success, so one bad image stops all of them at the
 * same point and the temporary file is removed. */
#include "atas/embed.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "atas/corpus.h"
#include "atas/h5file.h"
#include "atas/h5util.h"
#include "atas/loader.h"
#include "atas/checkpoint.h"
#include "atas/weights.h"
#include "atas/fileio.h"

#define EMBED_FORMAT "atas-embeddings"


atas_status atas_embed_load_model(const atas_embed_config *e, atas_vit *m) {
    ATAS_REQUIRE(e->weights && e->weights[0], "atas_embed: no weights given (--weights PATH)");
    if (access(e->weights, R_OK) != 0)
        return ATAS_ERR(ATAS_ERR_IO, "%s: cannot read the weights: %s", e->weights, strerror(errno));
    atas_vit_config c = {0};
    const char *which = e->which ? e->which : "student";
    const atas_backend *be = NULL;
    atas_precision prec = ATAS_PREC_FP32;
    if (e->precision && e->precision[0]) ATAS_CHECK(atas_precision_parse(e->precision, &prec));
    ATAS_CHECK(atas_backend_get_precision(e->backend && e->backend[0] ? e->backend : "cpu", prec, &be));
    if (atas_h5_is_file(e->weights)) {
        char pre[4096];
        if (e->heads > 0 || e->have_act)
            return ATAS_ERR(ATAS_ERR_INVALID,
                            "--heads/--act apply to safetensors weights; checkpoint %s states its config",
                            e->weights);
        ATAS_CHECK(atas_ckpt_read_model(e->weights, &c, pre, sizeof pre));
        ATAS_CHECK(atas_vit_config_check(&c, e->weights));
        ATAS_CHECK(atas_vit_create(m, &c, be, 0));
        float *host = NULL;
        atas_status s;
        ATAS_CHECK_GOTO(s, atas_host_alloc((void **)&host, m->nparams * sizeof(float), "checkpoint params"),
                   fail);
        ATAS_CHECK_GOTO(s, atas_ckpt_read_params(e->weights, which, m->info, m->ntensors, host), fail);
        ATAS_CHECK_GOTO(s, m->be->upload(m->be, m->params, host, m->nparams * sizeof(float)), fail);
        atas_host_free(host);
        return ATAS_OK;
    fail:
        atas_host_free(host);
        atas_vit_destroy(m);
        return s;
    }
    if (e->which && strcmp(e->which, "student") != 0)
        return ATAS_ERR(ATAS_ERR_INVALID, "--which %s applies to checkpoints; %s is safetensors",
                        e->which, e->weights);
    int have_act = 0;
    c.heads = e->heads;
    ATAS_CHECK(atas_weights_infer_config(e->weights, &c, &have_act));
    if (e->have_act) {
        c.act = e->act;
        have_act = 1;
    }
    if (!have_act) ATAS_CHECK(atas_weights_act_unknown(e->weights));
    ATAS_CHECK(atas_vit_config_check(&c, "--heads"));
    ATAS_CHECK(atas_vit_create(m, &c, be, 0));
    atas_status s = atas_weights_load(e->weights, m, NULL);
    if (s != ATAS_OK) {
        atas_error_trace(s, __FILE__, __LINE__, __func__);
        atas_vit_destroy(m);
    }
    return s;
}

/* ---------------------------------------------------------------- sources */
typedef struct {
    int is_corpus;
    atas_corpus c;
    char **paths; /* list mode */
    int64_t n;
} source;

static void source_close(source *s) {
    if (s->is_corpus) atas_corpus_close(&s->c);
    for (int64_t i = 0; s->paths && i < s->n; i++) free(s->paths[i]);
    free(s->paths);
    memset(s, 0, sizeof *s);
}

static atas_status read_list(source *s, const char *list) {
    ATAS_CHECK(atas_require_regular_file(list, "image list"));
    FILE *f = fopen(list, "r");
    if (!f) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot open the image list: %s", list, strerror(errno));
    char line[4096];
    int64_t cap = 0;
    atas_status st = ATAS_OK;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            st = ATAS_ERR(ATAS_ERR_FORMAT, "%s: line %lld is longer than %zu characters", list,
                          (long long)s->n + 1, sizeof line - 2);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                       line[len - 1] == '\t'))
            line[--len] = 0;
        if (!len || line[0] == '#') continue;
        if (s->n == cap) {
            cap = cap ? 2 * cap : 64;
            char **p = realloc(s->paths, (size_t)cap * sizeof *p);
            if (!p) { st = ATAS_ERR(ATAS_ERR_NOMEM, "%s: image list too large", list); break; }
            s->paths = p;
        }
        if (!(s->paths[s->n] = strdup(line))) { st = ATAS_ERR(ATAS_ERR_NOMEM, "image list"); break; }
        s->n++;
    }
    fclose(f);
    ATAS_CHECK(st);
    if (s->n == 0) return ATAS_ERR(ATAS_ERR_INVALID, "%s: the image list names no image", list);
    return ATAS_OK;
}

static atas_status source_open(source *s, const atas_embed_config *e) {
    memset(s, 0, sizeof *s);
    if (!!e->corpus == !!e->images_list)
        return ATAS_ERR(ATAS_ERR_INVALID, "atas_embed: give exactly one of --corpus FILE.h5 and --images LIST.txt");
    if (e->images_list) return read_list(s, e->images_list);
    /* serial driver on every rank: read-only, and names can be read */
    ATAS_CHECK(atas_corpus_open(&s->c, e->corpus, MPI_COMM_NULL));
    s->is_corpus = 1;
    s->n = s->c.N;
    if (s->n == 0) return ATAS_ERR(ATAS_ERR_INVALID, "%s: the corpus holds no image", e->corpus);
    return ATAS_OK;
}

static atas_status source_name(source *s, int64_t i, char *buf, size_t len) {
    if (s->is_corpus) return atas_corpus_name(&s->c, i, buf, len);
    snprintf(buf, len, "%s", s->paths[i]);
    return ATAS_OK;
}

/* Image i -> CLIP-normalised planar [3,R,R]. Corpus: the loader's mode-"F"
 * bilinear resize of the stored S x S image; list: decode, short side to R and
 * centre crop (the packer's policy, 8-bit). */
static atas_status source_image(source *s, int64_t i, int R, float *out, uint8_t *u8, float *tmp) {
    if (s->is_corpus) {
        ATAS_CHECK(atas_corpus_read(&s->c, i, u8));
        ATAS_CHECK(atas_resize_f32_square(out, R, u8, s->c.S, tmp));
    } else {
        atas_image im = {0};
        char why[256] = "";
        if (atas_image_decode(s->paths[i], ATAS_ALPHA_OVER_WHITE, &im, why, sizeof why) != ATAS_OK) {
            atas_error_clear();
            return ATAS_ERR(ATAS_ERR_FORMAT, "%s: cannot read the image (image %lld of the list): %s",
                            s->paths[i], (long long)i + 1, why);
        }
        atas_status st = atas_image_square(u8, R, &im);
        atas_image_free(&im);
        ATAS_CHECK(st);
        const size_t hw = (size_t)R * R;
        for (size_t p = 0; p < hw; p++)
            for (int c = 0; c < 3; c++) out[c * hw + p] = (float)u8[3 * p + c];
    }
    const size_t hw = (size_t)R * R;
    for (int c = 0; c < 3; c++) {
        const float m = atas_clip_mean[c], is = 1.0f / atas_clip_std[c];
        float *p = out + c * hw;
        for (size_t k = 0; k < hw; k++) p[k] = (p[k] * (1.0f / 255.0f) - m) * is;
    }
    return ATAS_OK;
}

/* ---------------------------------------------------------------- agreement */
/* Every rank passes its status; all return failure when any rank failed. */
static atas_status agree(atas_comm *comm, atas_status st, int64_t *sum_done, int64_t done) {
    /* doubles: the comm layer's timed sum; counts stay exact below 2^53 */
    double r[2] = {st != ATAS_OK, (double)done};
    comm->phase = "embed";
    const atas_status cs = atas_comm_allreduce_sum_f64(comm, r, 2);
    if (cs != ATAS_OK) return st != ATAS_OK ? st : cs;
    if (sum_done) *sum_done = (int64_t)r[1];
    if (st != ATAS_OK) return st;
    if (r[0] > 0) return ATAS_ERR_PEER(ATAS_ERR_INTERRUPTED, "atas_embed: stopped because another rank failed");
    return ATAS_OK;
}

static void l2_normalize(float *x, size_t rows, int E) {
    for (size_t r = 0; r < rows; r++) {
        float *v = x + r * (size_t)E;
        double s = 0;
        for (int k = 0; k < E; k++) s += (double)v[k] * v[k];
        const float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (int k = 0; k < E; k++) v[k] *= inv;
    }
}

/* ---------------------------------------------------------------- output */
typedef struct {
    hid_t file, glob, dense, names, strtype;
} outfile;

static atas_status h5_dataset(hid_t file, const char *name, hid_t type, int nd, const hsize_t *dims,
                              const hsize_t *chunk, const char *path, hid_t *out) {
    hid_t sp = H5Screate_simple(nd, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    if (chunk) H5Pset_chunk(dcpl, nd, chunk);
    *out = H5Dcreate2(file, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Sclose(sp);
    if (*out < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot create dataset /%s", path, name);
    return ATAS_OK;
}

static atas_status out_create(outfile *o, const char *tmp, MPI_Comm comm, int world, int64_t N,
                              int gh, int E, int dense, size_t namelen) {
    memset(o, 0, sizeof *o);
    o->file = o->glob = o->dense = o->names = o->strtype = -1;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (world > 1) H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    o->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (o->file < 0) return ATAS_ERR(ATAS_ERR_IO, "%s: cannot create the output file", tmp);
    hsize_t gd[2] = {(hsize_t)N, (hsize_t)E};
    ATAS_CHECK(h5_dataset(o->file, "global", H5T_NATIVE_FLOAT, 2, gd, NULL, tmp, &o->glob));
    if (dense) {
        hsize_t dd[4] = {(hsize_t)N, (hsize_t)gh, (hsize_t)gh, (hsize_t)E};
        hsize_t ch[4] = {1, (hsize_t)gh, (hsize_t)gh, (hsize_t)E};
        ATAS_CHECK(h5_dataset(o->file, "dense", H5T_NATIVE_FLOAT, 4, dd, ch, tmp, &o->dense));
    }
    o->strtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(o->strtype, namelen);
    H5Tset_strpad(o->strtype, H5T_STR_NULLTERM);
    hsize_t nd[1] = {(hsize_t)N};
    ATAS_CHECK(h5_dataset(o->file, "names", o->strtype, 1, nd, NULL, tmp, &o->names));
    return ATAS_OK;
}

static atas_status out_rows_locked(hid_t ds, hid_t type, int nd, const hsize_t *dims, int64_t row0,
                            int64_t rows, const void *buf, const char *path, const char *name) {
    if (rows == 0) return ATAS_OK;
    hsize_t start[4] = {(hsize_t)row0, 0, 0, 0}, count[4];
    for (int i = 0; i < nd; i++) count[i] = dims[i];
    count[0] = (hsize_t)rows;
    hid_t fs = H5Dget_space(ds);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t ms = H5Screate_simple(nd, count, NULL);
    herr_t r = H5Dwrite(ds, type, ms, fs, H5P_DEFAULT, buf);
    H5Sclose(ms);
    H5Sclose(fs);
    if (r < 0)
        return ATAS_ERR(ATAS_ERR_IO, "%s: writing rows %lld..%lld of /%s failed", path,
                        (long long)row0, (long long)(row0 + rows - 1), name);
    return ATAS_OK;
}

/* HDF5 is not thread-safe: the loader's I/O thread reads the corpus meanwhile */
static atas_status out_rows(hid_t ds, hid_t type, int nd, const hsize_t *dims, int64_t row0,
                            int64_t rows, const void *buf, const char *path, const char *name) {
    atas_h5_lock();
    atas_status s = out_rows_locked(ds, type, nd, dims, row0, rows, buf, path, name);
    atas_h5_unlock();
    return s;
}

static void out_close(outfile *o) {
    atas_h5_lock();
    if (o->glob >= 0) H5Dclose(o->glob);
    if (o->dense >= 0) H5Dclose(o->dense);
    if (o->names >= 0) H5Dclose(o->names);
    if (o->strtype >= 0) H5Tclose(o->strtype);
    if (o->file >= 0) H5Fclose(o->file);
    o->file = o->glob = o->dense = o->names = o->strtype = -1;
    atas_h5_unlock();
}

/* ---------------------------------------------------------------- run */
atas_status atas_embed_run(const atas_embed_config *e, atas_comm *comm, atas_embed_result *res) {
    const int rank = comm->rank, world = comm->world;
    const double t0 = atas_now();
    atas_vit m = {0};
    int have_model = 0;
    source src = {0};
    outfile o = {.file = -1, .glob = -1, .dense = -1, .names = -1, .strtype = -1};
    atas_vit_pass *pass = NULL;
    float *img = NULL, *dimg = NULL, *gh_buf = NULL, *dn_buf = NULL, *tmp = NULL;
    uint8_t *u8 = NULL;
    char *names = NULL, tmp_path[4200] = "";
    int created = 0;
    atas_status st = ATAS_OK;
    const int B = e->batch > 0 ? e->batch : 8;

    /* ---- setup: every rank loads the model and opens the source; then agree */
    if (!e->out || !e->out[0]) st = ATAS_ERR(ATAS_ERR_INVALID, "atas_embed: no output given (-o OUT.h5)");
    if (st == ATAS_OK) {
        st = atas_embed_load_model(e, &m);
        have_model = st == ATAS_OK;
    }
    const atas_vit_config *c = &m.cfg;
    int R = 0, G = 0, E = 0;
    if (st == ATAS_OK) {
        R = e->resolution > 0 ? e->resolution : c->grid * c->patch;
        E = c->embed;
        G = R / c->patch;
        if (e->resolution < 0 || R % c->patch)
            st = ATAS_ERR(ATAS_ERR_INVALID, "--resolution %d: not a positive multiple of the patch "
                          "size %d of %s", e->resolution, c->patch, e->weights);
        else
            st = atas_vit_check_resolution(c, R, R, "--resolution");
    }
    if (st == ATAS_OK) st = source_open(&src, e);
    if (st == ATAS_OK && src.is_corpus && src.c.S < R && rank == 0)
        atas_warn("%s: corpus side %d < --resolution %d: images are enlarged", e->corpus, src.c.S, R);
    ATAS_CHECK_GOTO(st, agree(comm, st, NULL, 0), done);

    /* ---- this rank's slice and its names */
    const int64_t N = src.n;
    const int64_t lo = N * rank / world, hi = N * (rank + 1) / world, cnt = hi - lo;
    const int64_t most = (N + world - 1) / world;
    const int64_t rounds = (most + B - 1) / B;
    char nb[4096];
    long long namelen = 1;
    for (int64_t i = lo; i < hi && st == ATAS_OK; i++) {
        st = source_name(&src, i, nb, sizeof nb);
        if (st == ATAS_OK && (long long)strlen(nb) + 1 > namelen) namelen = (long long)strlen(nb) + 1;
    }
    ATAS_CHECK_GOTO(st, agree(comm, st, NULL, 0), done);
    int nl = (int)ATAS_MIN(namelen, (long long)sizeof nb);
    ATAS_CHECK_GOTO(st, atas_comm_allreduce_max_i32(comm, &nl, 1), done);
    namelen = nl;

    /* ---- buffers and the pass */
    const int S = src.is_corpus ? src.c.S : R;
    const size_t in_sz = (size_t)3 * R * R, den_sz = (size_t)G * G * E;
    st = atas_vit_pass_create(&pass, &m, B, R, R, ATAS_OUT_GLOBAL | (e->dense ? ATAS_OUT_DENSE : 0), 0);
    if (st == ATAS_OK) st = atas_host_calloc((void **)&img, (size_t)B * in_sz * sizeof(float), "embed images");
    if (st == ATAS_OK) st = m.be->alloc(m.be, (void **)&dimg, (size_t)B * in_sz * sizeof(float), "embed images");
    if (st == ATAS_OK) st = atas_host_alloc((void **)&gh_buf, (size_t)B * E * sizeof(float), "embed global");
    if (st == ATAS_OK && e->dense)
        st = atas_host_alloc((void **)&dn_buf, (size_t)B * den_sz * sizeof(float), "embed dense");
    if (st == ATAS_OK) st = atas_host_alloc((void **)&u8, (size_t)ATAS_MAX(S, R) * ATAS_MAX(S, R) * 3, "embed u8");
    if (st == ATAS_OK) st = atas_host_alloc((void **)&tmp, (size_t)3 * S * R * sizeof(float), "embed resize");
    if (st == ATAS_OK) st = atas_host_calloc((void **)&names, (size_t)B * namelen, "embed names");
    ATAS_CHECK_GOTO(st, agree(comm, st, NULL, 0), done);

    /* ---- output (collective create) */
    /* an unpredictable temporary beside the output (rank 0 makes it), and room for all of
     * it checked first: HDF5 1.10 cannot close a file after a failed flush (it crashes) */
    if (rank == 0) {
        st = atas_tmp_name(e->out, tmp_path, sizeof tmp_path);
        struct statvfs vs;
        unsigned long long need = (unsigned long long)N * ((unsigned long long)E * 4 * (e->dense ? 1 + (unsigned long long)G * G : 1) + (unsigned long long)namelen) + (1ull << 20);
        if (st == ATAS_OK && statvfs(tmp_path, &vs) == 0 && (unsigned long long)vs.f_bavail * vs.f_frsize < need) {
            st = ATAS_ERR(ATAS_ERR_IO, "%s: %s: %llu bytes free, %lld embeddings need %llu", e->out, strerror(ENOSPC),
                          (unsigned long long)vs.f_bavail * vs.f_frsize, (long long)N, need);
            unlink(tmp_path);
        }
    }
    ATAS_CHECK_GOTO(st, agree(comm, st, NULL, 0), done);
    ATAS_CHECK_GOTO(st, atas_comm_bcast(comm, tmp_path, sizeof tmp_path, 0), done);
    created = 1;
    atas_h5_lock(); /* the loader's I/O thread reads the corpus with HDF5 meanwhile */
    st = out_create(&o, tmp_path, comm->comm, world, N, G, E, e->dense, (size_t)namelen);
    atas_h5_unlock();
    ATAS_CHECK_GOTO(st, agree(comm, st, NULL, 0), done);
    /* attributes: collective, the same values on every rank */
    atas_h5_lock();
    st = atas_h5_attr_write_str(o.file, "format", EMBED_FORMAT);
    if (st == ATAS_OK) st = atas_h5_attr_write_int(o.file, "version", 1);
    if (st == ATAS_OK) st = atas_h5_attr_write_str(o.file, "weights", e->weights);
    if (st == ATAS_OK && atas_h5_is_file(e->weights))
        st = atas_h5_attr_write_str(o.file, "which", e->which ? e->which : "student");
    if (st == ATAS_OK) st = atas_h5_attr_write_str(o.file, "source", e->corpus ? e->corpus : e->images_list);
    if (st == ATAS_OK) st = atas_h5_attr_write_int(o.file, "resolution", R);
    if (st == ATAS_OK) st = atas_h5_attr_write_int(o.file, "patch", c->patch);
    if (st == ATAS_OK) st = atas_h5_attr_write_int(o.file, "grid", G);
    if (st == ATAS_OK) st = atas_h5_attr_write_int(o.file, "embed", E);
    if (st == ATAS_OK) st = atas_h5_attr_write_int(o.file, "count", N);
    if (st == ATAS_OK) st = atas_h5_attr_write_int(o.file, "normalized", e->normalize ? 1 : 0);
    if (st == ATAS_OK) st = atas_h5_attr_write_int(o.file, "has_dense", e->dense ? 1 : 0);
    atas_h5_unlock();
    ATAS_CHECK_GOTO(st, agree(comm, st, NULL, 0), done);

    /* ---- rounds: one batch per rank, then agree */
    const hsize_t gdims[2] = {(hsize_t)N, (hsize_t)E};
    const hsize_t ddims[4] = {(hsize_t)N, (hsize_t)G, (hsize_t)G, (hsize_t)E};
    const hsize_t ndims[1] = {(hsize_t)N};
    int64_t done_all = 0;
    double last_print = atas_now();
    for (int64_t r = 0; r < rounds; r++) {
        const int64_t row0 = lo + r * B;
        const int64_t b = row0 < hi ? ATAS_MIN((int64_t)B, hi - row0) : 0;
        for (int64_t k = 0; k < b && st == ATAS_OK; k++) {
            st = source_image(&src, row0 + k, R, img + k * in_sz, u8, tmp);
            if (st == ATAS_OK) st = source_name(&src, row0 + k, names + k * namelen, (size_t)namelen);
        }
        if (b > 0) {
            if (st == ATAS_OK && b < B) memset(img + b * in_sz, 0, (size_t)(B - b) * in_sz * sizeof(float));
            if (st == ATAS_OK) st = m.be->upload(m.be, dimg, img, (size_t)B * in_sz * sizeof(float));
            if (st == ATAS_OK) st = atas_vit_forward(pass, &m, dimg);
            if (st == ATAS_OK)
                st = m.be->download(m.be, gh_buf, atas_vit_global(pass), (size_t)b * E * sizeof(float));
            if (st == ATAS_OK && e->dense)
                st = m.be->download(m.be, dn_buf, atas_vit_dense(pass), (size_t)b * den_sz * sizeof(float));
            if (st == ATAS_OK && e->normalize) {
                l2_normalize(gh_buf, (size_t)b, E);
                if (e->dense) l2_normalize(dn_buf, (size_t)b * G * G, E);
            }
            if (st == ATAS_OK)
                st = out_rows(o.glob, H5T_NATIVE_FLOAT, 2, gdims, row0, b, gh_buf, tmp_path, "global");
            if (st == ATAS_OK && e->dense)
                st = out_rows(o.dense, H5T_NATIVE_FLOAT, 4, ddims, row0, b, dn_buf, tmp_path, "dense");
            if (st == ATAS_OK) st = out_rows(o.names, o.strtype, 1, ndims, row0, b, names, tmp_path, "names");
        }
        const int64_t mine = st == ATAS_OK ? ATAS_MIN(cnt, (r + 1) * B) : 0;
        ATAS_CHECK_GOTO(st, agree(comm, st, &done_all, mine), done);
        const double now = atas_now();
        if (e->progress && rank == 0 && (now - last_print > 2.0 || r + 1 == rounds)) {
            const double el = now - t0, rate = done_all / (el > 0 ? el : 1e-9);
            atas_info("atas_embed: %lld/%lld images, %.1f images/s, ETA %.0f s", (long long)done_all,
                      (long long)N, rate, rate > 0 ? (N - done_all) / rate : 0.0);
            last_print = now;
        }
    }
    out_close(&o);
    if (rank == 0) st = atas_commit_tmp(tmp_path, e->out); /* fsync, rename, fsync the directory */
    ATAS_CHECK_GOTO(st, agree(comm, st, NULL, 0), done);
    created = 0;
    if (res) {
        res->n = N;
        res->resolution = R;
        res->grid = G;
        res->embed = E;
        res->seconds = atas_now() - t0;
    }
done:
    out_close(&o);
    if (created) {
        /* every rank has closed the file (or given up waiting for a dead one) */
        (void)atas_comm_barrier(comm);
        if (rank == 0) unlink(tmp_path);
    }
    atas_vit_pass_destroy(pass);
    if (dimg) m.be->free(m.be, dimg);
    atas_host_free(img);
    atas_host_free(gh_buf);
    atas_host_free(dn_buf);
    atas_host_free(u8);
    atas_host_free(tmp);
    atas_host_free(names);
    source_close(&src);
    if (have_model) atas_vit_destroy(&m);
    return st;
}
