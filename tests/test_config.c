/* Run config: schema sanity, shipped configs, resolved round trip, every error
 * class with file:line and key, --set, and configs/README.md up to date. */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atas/config.h"
#include "test_util.h"
#include "train/config_internal.h"

static char g_dir[256];
static const char *g_src;

static const char *write_cfg(const char *name, const char *text) {
    static char path[8][512];
    static int slot = 0;
    char *p = path[slot++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    FILE *f = fopen(p, "w");
    if (!f) { perror(p); exit(1); }
    fputs(text, f);
    fclose(f);
    return p;
}

/* A load that must fail with `code` and a message containing `want`. */
static void expect_fail(const char *path, char **sets, int nsets, atas_status code, const char *want) {
    atas_run_config c;
    atas_error_clear();
    atas_status st = atas_config_load(path, sets, nsets, &c);
    const char *msg = atas_error_message();
    T_ASSERT(st == code, "%s: status %s, expected %s (message: %s)", path, atas_status_str(st),
             atas_status_str(code), msg);
    T_ASSERT(strstr(msg, want) != NULL, "message\n    %s\n  lacks\n    %s", msg, want);
    atas_error_clear();
}

/* Text of a bad config: a valid base with `extra` appended at line `*line`. */
#define BASE "data = { corpus = \"c.h5\"; };\nmodel = { preset = \"ViT-B-16\"; };\n"
#define BASE_LINES 2

static void expect_line_error(const char *extra, const char *want_after_line) {
    char text[2048], want[1024];
    snprintf(text, sizeof text, BASE "%s", extra);
    const char *p = write_cfg("bad.cfg", text);
    /* the error sits on the first line of `extra` unless `extra` starts with newlines */
    int line = BASE_LINES + 1;
    for (const char *q = extra; *q == '\n'; q++) line++;
    snprintf(want, sizeof want, "%s:%d: %s", p, line, want_after_line);
    expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
}

static void test_schema(void) {
    atas_run_config c;
    memset(&c, 0x5a, sizeof c);
    for (int i = 0; i < atas_cfg_nkeys; i++) {
        const cfg_key *k = &atas_cfg_keys[i];
        cfg_value v;
        char buf[256];
        atas_error_clear();
        T_ASSERT(atas_cfg_parse_text(k, k->def, &v, buf, sizeof buf, "default") == ATAS_OK &&
                     atas_cfg_apply(&c, k, &v, "default") == ATAS_OK,
                 "default of %s does not pass its own checks: %s", k->key, atas_error_message());
        T_ASSERT(k->doc && strlen(k->doc) > 10, "%s: no documentation", k->key);
        for (int j = 0; j < i; j++) T_ASSERT(strcmp(k->key, atas_cfg_keys[j].key) != 0, "duplicate key %s", k->key);
        /* the writer needs each group's keys contiguous: a group seen before must be the current one */
        const char *dot = strrchr(k->key, '.');
        T_ASSERT(dot != NULL, "%s: every key lives in a group", k->key);
        size_t gl = (size_t)(dot - k->key);
        for (int j = 0; j + 1 < i; j++) {
            const char *kj = atas_cfg_keys[j].key, *dj = strrchr(kj, '.');
            if ((size_t)(dj - kj) == gl && !strncmp(kj, k->key, gl)) {
                const char *kp = atas_cfg_keys[i - 1].key, *dp = strrchr(kp, '.');
                T_ASSERT((size_t)(dp - kp) == gl && !strncmp(kp, k->key, gl), "%s: group not contiguous", k->key);
                break;
            }
        }
        /* a documented top-level group */
        int found = 0;
        for (int g = 0; atas_cfg_group_docs[g][0]; g++) {
            size_t l = strlen(atas_cfg_group_docs[g][0]);
            if (!strncmp(k->key, atas_cfg_group_docs[g][0], l) && k->key[l] == '.') found = 1;
        }
        T_ASSERT(found, "%s: its group has no entry in atas_cfg_group_docs", k->key);
    }
    atas_error_clear();
}

/* Independent geometry check of a loaded config: cells and views are whole tokens. */
static void check_geometry(const char *name, const atas_run_config *c) {
    atas_vit_config m;
    int complete = 0;
    T_OK(atas_config_model(c, &m, &complete));
    T_ASSERT(complete, "%s: model incomplete", name);
    T_ASSERT(c->data.resolution % m.patch == 0, "%s: resolution %d vs patch %d", name, c->data.resolution, m.patch);
    T_ASSERT(m.width % m.heads == 0, "%s: heads", name);
    for (int i = 0; i < c->mosaic.ngrids; i++) {
        int g = c->mosaic.grids[i];
        T_ASSERT(c->mosaic.canvas % g == 0 && (c->mosaic.canvas / g) % m.patch == 0, "%s: grid %d of canvas %d", name,
                 g, c->mosaic.canvas);
    }
}

static void roundtrip(const char *name, const atas_run_config *c) {
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/resolved1.cfg", g_dir);
    snprintf(p2, sizeof p2, "%s/resolved2.cfg", g_dir);
    T_OK(atas_config_write_resolved(c, p1));
    atas_run_config r;
    atas_status st = atas_config_load(p1, NULL, 0, &r);
    T_ASSERT(st == ATAS_OK, "%s: resolved config does not load: %s", name, atas_error_message());
    if (st != ATAS_OK) { atas_error_clear(); return; }
    T_ASSERT(atas_config_equal(c, &r), "%s: resolved config loads to a different struct", name);
    /* and the text is a fixed point */
    T_OK(atas_config_write_resolved(&r, p2));
    FILE *a = fopen(p1, "r"), *b = fopen(p2, "r");
    int same = a && b;
    while (same) {
        int x = fgetc(a), y = fgetc(b);
        if (x != y) same = 0;
        if (x == EOF || y == EOF) break;
    }
    if (a) fclose(a);
    if (b) fclose(b);
    T_ASSERT(same, "%s: writing the reloaded config gives different text", name);
}

static void test_shipped(void) {
    static const char *expected[] = {"tiny.cfg", "vitb16.cfg", "vitl14.cfg", "vitl14_336.cfg",
                                     "ablation_g2l_frozen.cfg", "ablation_no_l2l.cfg"};
    char dirpath[512];
    snprintf(dirpath, sizeof dirpath, "%s/configs", g_src);
    DIR *d = opendir(dirpath);
    T_ASSERT(d != NULL, "cannot list %s", dirpath);
    if (!d) return;
    int seen[6] = {0}, n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".cfg") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
        atas_run_config c;
        atas_status st = atas_config_load(path, NULL, 0, &c);
        T_ASSERT(st == ATAS_OK, "%s: %s", path, atas_error_message());
        atas_error_clear();
        if (st != ATAS_OK) continue;
        n++;
        for (int i = 0; i < 6; i++) if (!strcmp(e->d_name, expected[i])) seen[i] = 1;
        T_OK(atas_config_check_world(&c, 1));
        T_OK(atas_config_check_world(&c, c.batch.groups));
        if (strcmp(e->d_name, "tiny.cfg")) { /* the recipes: any world size, one token canvas */
            T_OK(atas_config_check_world(&c, 64));
            atas_vit_config mm;
            T_OK(atas_config_model(&c, &mm, NULL));
            T_ASSERT(c.mosaic.canvas / mm.patch == 60 && c.mosaic.ngrids == 3 && c.mosaic.grids[0] == 2 &&
                         c.mosaic.grids[1] == 3 && c.mosaic.grids[2] == 4 && c.batch.group_images >= 16,
                     "%s: not the shared 60-token canvas / grids [2, 3, 4] / 16 images", e->d_name);
        }
        check_geometry(e->d_name, &c);
        roundtrip(e->d_name, &c);
        if (!strcmp(e->d_name, "vitb16.cfg")) {
            /* one policy for every backbone: 60 x 60 tokens, grids [2, 3, 4], 16 distinct images */
            T_ASSERT(!strcmp(c.model.preset, "ViT-B-16") && c.mosaic.canvas == 960 && c.mosaic.ngrids == 3 &&
                         c.mosaic.grids[2] == 4 && c.batch.group_images == 16 && !c.mosaic.repeat_images,
                     "vitb16: preset/canvas/grids");
            T_ASSERT(c.optim.lr == 1e-5 && c.optim.betas[0] == 0.9 && c.optim.betas[1] == 0.98 &&
                         c.optim.eps == 1e-6 && c.optim.weight_decay == 0.1 && c.optim.warmup_fraction == 0.025 &&
                         c.optim.lr_scale_rule == ATAS_CFG_LR_SQRT && c.batch.groups_per_rank == 1,
                     "vitb16: CLIPSelf recipe");
            T_ASSERT(atas_config_images_per_step(&c) == 16 && atas_config_peak_lr(&c) == 1e-5,
                     "vitb16: 16 images per step at lr 1e-5");
            T_ASSERT(atas_config_total_steps(&c, 118287) == (6 * 118287 + 15) / 16, "vitb16: steps from epochs");
        }
        if (!strcmp(e->d_name, "ablation_g2l_frozen.cfg"))
            T_ASSERT(c.loss.l2l.weight == 0 && c.loss.g2g.weight == 0 && c.loss.g2l.weight > 0 &&
                         c.teacher.momentum_start == 1 && c.teacher.momentum_end == 1,
                     "g2l_frozen: G2L only, frozen teacher");
        if (!strcmp(e->d_name, "ablation_no_l2l.cfg"))
            T_ASSERT(c.loss.l2l.weight == 0 && c.loss.g2l.weight > 0 && c.loss.g2g.weight > 0, "no_l2l");
        if (!strcmp(e->d_name, "tiny.cfg"))
            T_ASSERT(!c.model.weights[0] && c.model.width == 64 && c.run.backend == ATAS_CFG_BACKEND_CPU, "tiny");
    }
    closedir(d);
    for (int i = 0; i < 6; i++) T_ASSERT(seen[i], "configs/%s missing or not loadable", expected[i]);
    T_ASSERT(n >= 6, "only %d configs loaded", n);
}

/* Every key can be changed by --set, and atas_config_equal notices each change;
 * unusual values (escapes, shortest floats, 64-bit seeds) survive the round trip. */
static void test_set_and_equal(void) {
    const char *base = write_cfg("base.cfg", BASE);
    atas_run_config ref;
    T_OK(atas_config_load(base, NULL, 0, &ref));
    for (int i = 0; i < atas_cfg_nkeys; i++) {
        const cfg_key *k = &atas_cfg_keys[i];
        char cur[2048], set[2300];
        const char *alt = NULL;
        switch (k->type) {
        case CFG_BOOL: alt = ((int *)((char *)&ref + k->off))[0] ? "false" : "true"; break;
        case CFG_INT: case CFG_INT64: alt = NULL; break;
        case CFG_FLOAT: alt = NULL; break;
        case CFG_STRING: alt = "\"some\\\"thing\""; break;
        case CFG_ENUM: alt = k->items[1].name; break;
        case CFG_INTS: alt = "[2, 4]"; break;
        case CFG_FLOATS: alt = "[0.5, 0.25]"; break;
        }
        char num[64];
        if (k->type == CFG_INT || k->type == CFG_INT64 || k->type == CFG_FLOAT) {
            atas_cfg_format(&ref, k, cur, sizeof cur);
            double x = strtod(cur, NULL);
            /* a value inside the range that differs from the current one */
            double y = x + 1;
            if (k->range.has_hi && !(y < k->range.hi || (!k->range.hi_open && y == k->range.hi))) y = x / 2;
            if (y == x && k->range.has_hi) y = (x + k->range.hi) / 2; /* a default of 0 in [0, hi) */
            if (k->type == CFG_FLOAT) snprintf(num, sizeof num, "%.17g", y);
            else snprintf(num, sizeof num, "%lld", (long long)y);
            alt = num;
        }
        if (!strcmp(k->key, "model.preset")) alt = "ViT-L-14";
        if (!strcmp(k->key, "run.name")) alt = "a\"b\\c";
        snprintf(set, sizeof set, "%s=%s", k->key, alt);
        atas_run_config c = ref;
        atas_status st = atas_config_set(&c, set);
        T_ASSERT(st == ATAS_OK, "--set %s: %s", set, atas_error_message());
        atas_error_clear();
        T_ASSERT(!atas_config_equal(&c, &ref), "--set %s did not change the struct (or equal missed it)", set);
    }
    /* values that stress the writer, through a full load */
    char *sets[] = {"run.name=we\"ird\\name", "optim.lr=3.0000000000000004e-05", "run.seed=5000000000",
                    "optim.betas=[0.1, 0.30000000000000004]", "mosaic.grids=[2,4,6]", "model.train_head=true",
                    "run.dump_dir=\"/tmp/x y\"", "loss.g2l.pool=teacher_weighted", "optim.lr=1e-4",
                    "mosaic.repeat_images=true" /* a 6 x 6 grid on 16 images */};
    atas_run_config c;
    T_OK(atas_config_load(base, sets, 10, &c));
    T_ASSERT(!strcmp(c.run.name, "we\"ird\\name"), "name %s", c.run.name);
    T_ASSERT(c.optim.lr == 1e-4, "the later --set wins (lr %g)", c.optim.lr);
    T_ASSERT(c.run.seed == 5000000000LL, "seed %lld", (long long)c.run.seed);
    T_ASSERT(c.optim.betas[1] == 0.30000000000000004, "betas");
    T_ASSERT(c.mosaic.ngrids == 3 && c.mosaic.grids[2] == 6, "grids");
    T_ASSERT(c.model.train_head == 1 && !strcmp(c.run.dump_dir, "/tmp/x y"), "bool / quoted string");
    T_ASSERT(c.loss.g2l.pool == ATAS_CFG_POOL_TEACHER_WEIGHTED, "enum");
    roundtrip("--set values", &c);
    /* an int where a float is expected */
    T_OK(atas_config_set(&c, "optim.lr=1"));
    T_ASSERT(c.optim.lr == 1.0, "int for float");
}

static void test_file_errors(void) {
    /* unknown keys, anywhere, with a suggestion */
    expect_line_error("optim = { lrr = 1e-5; };\n", "optim.lrr: unknown key (did you mean optim.lr?)");
    expect_line_error("lr = 1e-5;\n", "lr: unknown key (did you mean optim.lr?)");
    {   /* the line is the key's own line, not the group's */
        char text[512], want[600];
        snprintf(text, sizeof text, BASE "loss = {\n  g2l = {\n    wieght = 1.0;\n  };\n};\n");
        const char *p = write_cfg("bad_nested.cfg", text);
        snprintf(want, sizeof want, "%s:%d: loss.g2l.wieght", p, BASE_LINES + 3);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
    }
    expect_line_error("optm = { lr = 1e-5; };\n", "optm: unknown group (did you mean optim?)");
    expect_line_error("loss = { g3l = { weight = 1.0; }; };\n", "loss.g3l: unknown group (did you mean loss.g2l?)");
    expect_line_error("zzzzzzzzzz = 1;\n", "zzzzzzzzzz: unknown key (the known keys");
    /* wrong types */
    expect_line_error("run = { steps = 10.5; };\n", "run.steps = 10.5: must be an integer, not a float");
    expect_line_error("run = { steps = \"10\"; };\n", "run.steps = \"10\": must be an integer");
    expect_line_error("run = { name = 5; };\n", "run.name = 5: must be a string");
    expect_line_error("optim = { lr = true; };\n", "optim.lr = true: must be a number");
    {   /* the line of a key after several groups */
        const char *p = write_cfg("lines.cfg", BASE "checkpoint = { every = 10; };\nmosaic = {\n  per_group = 1;\n};\n"
                                               "run = { threads = false; };\n");
        char want[600];
        snprintf(want, sizeof want, "%s:%d: run.threads = false: must be an integer", p, BASE_LINES + 5);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
    }
    {
        const char *p = write_cfg("b.cfg", "data = { corpus = \"c.h5\"; };\nmodel = {\n  train_head = 1;\n  preset = \"ViT-B-17\";\n};\n");
        char want[600];
        snprintf(want, sizeof want, "%s:3: model.train_head = 1: must be a boolean (true or false)", p);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
        p = write_cfg("b2.cfg", "data = { corpus = \"c.h5\"; };\nmodel = {\n  train_head = true;\n  preset = \"ViT-B-17\";\n};\n");
        snprintf(want, sizeof want, "%s:4: model.preset = \"ViT-B-17\": unknown", p);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
    }
    expect_line_error("optim = { lr = { x = 1; }; };\n", "optim.lr = { ... }: must be a number, not a group");
    expect_line_error("optim = 3;\n", "optim: must be a group");
    /* ranges */
    expect_line_error("optim = { lr = -1; };\n", "optim.lr = -1: must be > 0");
    expect_line_error("optim = { lr = 0.0; };\n", "optim.lr = 0.0: must be > 0");
    expect_line_error("teacher = { momentum_end = 1.5; };\n", "teacher.momentum_end = 1.5: must be in [0, 1]");
    expect_line_error("run = { dump_step = -2; };\n", "run.dump_step = -2: must be >= -1");
    expect_line_error("run = { seed = -1; };\n", "run.seed = -1: must be >= 0");
    /* enums */
    expect_line_error("loss = { g2l = { pool = \"max\"; }; };\n",
                      "loss.g2l.pool = \"max\": must be one of \"mean\" | \"teacher_weighted\"");
    expect_line_error("loss = { l2l = { form = \"infonce\"; }; };\n",
                      "loss.l2l.form = \"infonce\": must be one of \"cosine\" | \"similarity\"");
    expect_line_error("run = { backend = \"gpu\"; };\n", "run.backend = \"gpu\": must be one of \"cpu\" | \"cuda\"");
    /* arrays */
    expect_line_error("optim = { betas = [0.9]; };\n", "optim.betas = [0.9]: must have exactly 2 elements (has 1)");
    expect_line_error("optim = { betas = [0.9, 1.0]; };\n", "optim.betas = [0.9, 1.0]: element 1 = 1 must be in [0, 1)");
    expect_line_error("mosaic = { grids = [2.0, 4.0]; };\n", "mosaic.grids = [2.0, 4.0]: element 0 must be an integer, not a float");
    expect_line_error("mosaic = { grids = [2, 9]; };\n", "mosaic.grids = [2, 9]: element 1 = 9 must be in [1, 8]");
    expect_line_error("mosaic = { grids = []; };\n", "mosaic.grids = []: must have 1 to 8 elements (has 0)");
    expect_line_error("mosaic = { grids = (2, \"a\"); };\n", "mosaic.grids = [2, <string>]: element 1 must be an integer");
    expect_line_error("mosaic = { grids = 2; };\n", "mosaic.grids = 2: must be an array of integers");
    /* libconfig syntax errors: file:line and libconfig's message */
    expect_line_error("\noptim = { lr = ; };\n", "syntax error");
    /* strings longer than the field */
    {
        char text[2000] = BASE "run = { name = \"";
        size_t l = strlen(text);
        memset(text + l, 'x', 200);
        strcpy(text + l + 200, "\"; };\n");
        const char *p = write_cfg("long.cfg", text);
        char want[600];
        snprintf(want, sizeof want, "%s:%d: run.name = \"xxx", p, BASE_LINES + 1);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, "too long (at most 127 characters)");
    }
    /* an error inside an @include names the included file and its line */
    {
        char sub[300];
        snprintf(sub, sizeof sub, "%s/inc", g_dir);
        mkdir(sub, 0755);
        write_cfg("inc/frag.cfg", "optim = {\n  lr = 1e-5;\n  weight_decy = 0.1;\n};\n");
        const char *p = write_cfg("main_inc.cfg", "@include \"inc/frag.cfg\"\n" BASE);
        char want[600];
        snprintf(want, sizeof want, "%s/inc/frag.cfg:3: optim.weight_decy: unknown key (did you mean optim.weight_decay?)",
                 g_dir);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
        write_cfg("inc/frag.cfg", "optim = {\n  lr = 1e-5;\n};\n");
        atas_run_config c;
        T_OK(atas_config_load(p, NULL, 0, &c));
        T_ASSERT(c.optim.lr == 1e-5, "@include value");
    }
    /* a missing file */
    {
        char p[400];
        snprintf(p, sizeof p, "%s/does_not_exist.cfg", g_dir);
        expect_fail(p, NULL, 0, ATAS_ERR_IO, "does_not_exist.cfg: cannot open the config file");
    }
}

static void test_cross_errors(void) {
    /* geometry through vit.h / mosaic.h, located at the offending key's line */
    expect_line_error("mosaic = { canvas = 900; };\n", "mosaic.grids[0] = 2: canvas 900 / 2 = 450 px is not a multiple of the patch 16");
    expect_line_error("mosaic = { grids = [2, 7]; };\n", "mosaic.grids[1] = 7");
    /* BASE already has a data group: use a file without it */
    {
        const char *p = write_cfg("res.cfg", "model = { preset = \"ViT-B-16\"; };\ndata = {\n  corpus = \"c.h5\";\n  resolution = 225;\n};\n");
        char want[600];
        snprintf(want, sizeof want, "%s:4: data.resolution = 225x225", p);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
        p = write_cfg("heads.cfg", "data = { corpus = \"c.h5\"; };\nmodel = {\n  preset = \"ViT-B-16\";\n  heads = 7;\n};\n");
        snprintf(want, sizeof want, "%s:4: model.heads = 7: must divide model.width = 768", p);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
        p = write_cfg("unl.cfg", "data = { corpus = \"c.h5\"; };\nmodel = {\n  preset = \"ViT-B-16\";\n  unlocked_blocks = 13;\n};\n");
        snprintf(want, sizeof want, "%s:4: model.unlocked_blocks = 13: must be <= the number of layers 12", p);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
        p = write_cfg("nocorpus.cfg", "model = { preset = \"ViT-B-16\"; };\n");
        snprintf(want, sizeof want, "%s: data.corpus: required", p);
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
        p = write_cfg("dims.cfg", "data = { corpus = \"c.h5\"; };\nmodel = { patch = 8; width = 64; };\n");
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, "model.layers: required when model.preset and model.weights are both empty");
        p = write_cfg("act.cfg", "data = { corpus = \"c.h5\"; resolution = 64; };\nmodel = { patch = 8; width = 64; layers = 2;"
                                 " heads = 4; mlp = 128; embed = 32; };\n");
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, "model.act: required");
    }
    expect_line_error("loss = { g2l = { weight = 0.0; }; l2l = { weight = 0.0; }; g2g = { weight = 0; }; };\n",
                      "loss: at least one of loss.g2l.weight, loss.l2l.weight, loss.g2g.weight must be > 0");
    expect_line_error("optim = { min_lr = 1e-3; };\n", "optim.min_lr = 0.001: must be <= optim.lr = 1e-05");
    expect_line_error("optim = { warmup_steps = 2000; };\n", "optim.warmup_steps = 2000: must be <= run.steps = 1000");
    expect_line_error("run = { steps = 0; };\n", "run.steps = 0: needs run.epochs > 0");
    expect_line_error("teacher = { momentum_schedule = \"constant\"; };\n",
                      "teacher.momentum_end = 1: must equal teacher.momentum_start = 0.999 when teacher.momentum_schedule = \"constant\"");
    /* with weights and no preset, dims wait for the weights but the patch-only checks still run */
    {
        const char *p = write_cfg("wts.cfg", "data = { corpus = \"c.h5\"; };\nmodel = { weights = \"w.safetensors\"; patch = 14; };\n");
        expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, "mosaic.grids[0] = 2: canvas 960 / 2 = 480 px is not a multiple of the patch 14");
        char *fix[] = {"mosaic.canvas=840", "data.resolution=224"};
        atas_run_config c;
        T_OK(atas_config_load(p, fix, 2, &c));
        atas_vit_config m;
        int complete = 1;
        T_OK(atas_config_model(&c, &m, &complete));
        T_ASSERT(!complete && m.patch == 14 && m.width == 0, "weights without preset: incomplete model");
        /* the lead fills dims from the weights, then checks again */
        m.width = 1024; m.layers = 24; m.heads = 16; m.mlp = 4096; m.embed = 768; m.grid = 16;
        T_OK(atas_config_check_model(&c, &m));
        m.heads = 15;
        T_ASSERT(atas_config_check_model(&c, &m) == ATAS_ERR_CONFIG, "check_model: heads");
        atas_error_clear();
    }
    /* groups vs ranks */
    {
        const char *p = write_cfg("w.cfg", BASE "batch = { groups = 6; };\n");
        atas_run_config c;
        T_OK(atas_config_load(p, NULL, 0, &c));
        T_OK(atas_config_check_world(&c, 3));
        T_ASSERT(atas_config_check_world(&c, 4) == ATAS_ERR_CONFIG &&
                     strstr(atas_error_message(), "batch.groups = 6: must be a multiple of the number of ranks (4)"),
                 "world check: %s", atas_error_message());
        atas_error_clear();
    }
}

static void test_set_errors(void) {
    const char *p = write_cfg("base2.cfg", BASE);
    struct { const char *set, *want; } cases[] = {
        {"optim.lr=-1", "--set: optim.lr = -1: must be > 0"},
        {"optim.lrx=1", "--set: optim.lrx: unknown key (did you mean optim.lr?)"},
        {"run.steps=1.5", "--set: run.steps = 1.5: must be an integer, not a float"},
        {"run.steps=abc", "--set: run.steps = \"abc\": must be an integer"},
        {"run.backend=gpu", "--set: run.backend = \"gpu\": must be one of \"cpu\" | \"cuda\""},
        {"optim.betas=[0.9]", "--set: optim.betas = [0.9]: must have exactly 2 elements (has 1)"},
        {"mosaic.grids=[2,3.5]", "--set: mosaic.grids = [2, 3.5]: element 1 must be an integer, not a float"},
        {"model.train_head=yes", "--set: model.train_head = \"yes\": must be a boolean"},
        {"optim.lr=nan", "--set: optim.lr = \"nan\": must be a number"},
        {"optim", "--set: \"optim\": expected key=value"},
        {"=3", "--set: \"=3\": expected key=value"},
        {"optim=1", "--set: optim: is a group"},
        {"run.name=a/b", "--set: run.name = \"a/b\": must not contain '/'"},
        {"mosaic.canvas=900", ": mosaic.grids[0] = 2: canvas 900 / 2"}, /* cross-key, after the --set */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *sets[1] = {(char *)cases[i].set};
        expect_fail(p, sets, 1, ATAS_ERR_CONFIG, cases[i].want);
    }
    /* a cross-key error caused by --set points at --set */
    char *sets[1] = {"data.resolution=100"};
    expect_fail(p, sets, 1, ATAS_ERR_CONFIG, "--set: data.resolution = 100x100");
}

/* dist.backend: the three values, "auto" resolved, nccl refused without the cuda backend */
static void test_dist_backend(void) {
    atas_run_config c;
    const char *p = write_cfg("dist.cfg", BASE);
    T_OK(atas_config_load(p, NULL, 0, &c));
    T_ASSERT(c.dist.backend == ATAS_CFG_DIST_AUTO, "dist.backend default %d", c.dist.backend);
    T_ASSERT(atas_config_dist_nccl(&c) == 0, "auto on cpu is mpi");
    char *mpi[] = {"dist.backend=mpi"};
    T_OK(atas_config_load(p, mpi, 1, &c));
    T_ASSERT(c.dist.backend == ATAS_CFG_DIST_MPI && atas_config_dist_nccl(&c) == 0, "mpi");
    char *cuda_mpi[] = {"run.backend=cuda", "dist.backend=mpi"};
    T_OK(atas_config_load(p, cuda_mpi, 2, &c));
    T_ASSERT(atas_config_dist_nccl(&c) == 0, "mpi asked for on cuda");
    char *cuda_auto[] = {"run.backend=cuda"};
    T_OK(atas_config_load(p, cuda_auto, 1, &c));
#ifdef ATAS_WITH_CUDA
    const char *share = getenv("ATAS_SHARE_GPU");
    T_ASSERT(atas_config_dist_nccl(&c) == !(share && !strcmp(share, "1")), "auto on cuda");
    char *cuda_nccl[] = {"run.backend=cuda", "dist.backend=nccl"};
    T_OK(atas_config_load(p, cuda_nccl, 2, &c));
    T_ASSERT(atas_config_dist_nccl(&c) == 1, "nccl on cuda");
#else
    T_ASSERT(atas_config_dist_nccl(&c) == 0, "auto on cuda without a CUDA build is mpi");
    char *cuda_nccl[] = {"run.backend=cuda", "dist.backend=nccl"};
    expect_fail(p, cuda_nccl, 2, ATAS_ERR_CONFIG, "dist.backend = \"nccl\": this build has no CUDA/NCCL");
#endif
    char *cpu_nccl[] = {"dist.backend=nccl"};
    expect_fail(p, cpu_nccl, 1, ATAS_ERR_CONFIG, "dist.backend = \"nccl\": needs run.backend = \"cuda\" (run.backend is \"cpu\"");
    char *staged_nccl[] = {"run.backend=cpu-staged", "dist.backend=nccl"};
    expect_fail(p, staged_nccl, 2, ATAS_ERR_CONFIG, "(run.backend is \"cpu-staged\"");
    /* a file's key is located at its line */
    p = write_cfg("dist2.cfg", BASE "dist = { backend = \"nccl\"; };\n");
    char want[600];
    snprintf(want, sizeof want, "%s:3: dist.backend = \"nccl\": needs run.backend", p);
    expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
    char *bad[] = {"dist.backend=gloo"};
    expect_fail(write_cfg("dist3.cfg", BASE), bad, 1, ATAS_ERR_CONFIG, "dist.backend");
}

static void test_helpers(void) {
    const char *p = write_cfg("h.cfg", BASE "model = { width = 1024; act = \"gelu\"; };\n");
    atas_run_config c;
    /* BASE defines model already: duplicate group -> libconfig error with the line */
    char want[600];
    snprintf(want, sizeof want, "%s:3:", p);
    expect_fail(p, NULL, 0, ATAS_ERR_CONFIG, want);
    p = write_cfg("h2.cfg", "data = { corpus = \"c.h5\"; };\nmodel = { preset = \"ViT-L-14\"; layers = 12; act = \"gelu\"; };\n"
                            "batch = { groups = 4; group_images = 8; };\noptim = { lr_scale_ref_images = 16; };\n"
                            "mosaic = { canvas = 840; grids = [2]; };\nrun = { name = \"r1\"; dir = \"/tmp/runs\"; };\n");
    T_OK(atas_config_load(p, NULL, 0, &c));
    atas_vit_config m, ref;
    int complete = 0;
    T_OK(atas_config_model(&c, &m, &complete));
    T_OK(atas_vit_preset("ViT-L-14", &ref));
    T_ASSERT(complete && m.layers == 12 && m.width == ref.width && m.patch == ref.patch && m.grid == ref.grid &&
                 m.act == ATAS_ACT_GELU,
             "preset + overrides");
    T_ASSERT(atas_config_peak_lr(&c) == 1e-5 * 32 / 16, "lr scaling %g", atas_config_peak_lr(&c));
    c.optim.lr_scale_ref_images = 0;
    T_ASSERT(atas_config_peak_lr(&c) == 1e-5, "no lr scaling");
    T_ASSERT(atas_config_total_steps(&c, 100) == 1000, "steps given");
    c.run.steps = 0;
    c.run.epochs = 3;
    T_ASSERT(atas_config_total_steps(&c, 100) == (300 + 31) / 32, "steps from epochs");
    char dir[64];
    T_OK(atas_config_run_dir(&c, dir, sizeof dir));
    T_ASSERT(!strcmp(dir, "/tmp/runs/r1"), "run dir %s", dir);
    T_ASSERT(atas_config_run_dir(&c, dir, 5) == ATAS_ERR_CONFIG, "run dir too long");
    atas_error_clear();
    T_ASSERT(!strcmp(atas_config_enum_name("run.backend", ATAS_CFG_BACKEND_CUDA), "cuda"), "enum name");
    T_ASSERT(!strcmp(atas_config_enum_name("model.act", ATAS_CFG_ACT_UNSET), ""), "enum name act");
    T_ASSERT(atas_config_enum_name("optim.lr", 0) == NULL, "enum name of a non-enum");
}

static void test_docs(void) {
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    atas_config_print_docs(m);
    fclose(m);
    for (int i = 0; i < atas_cfg_nkeys; i++) {
        char needle[200];
        snprintf(needle, sizeof needle, "| `%s` |", atas_cfg_keys[i].key);
        T_ASSERT(strstr(buf, needle), "docs lack %s", atas_cfg_keys[i].key);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/configs/README.md", g_src);
    FILE *f = fopen(path, "rb");
    T_ASSERT(f != NULL, "%s missing", path);
    if (f) {
        char *disk = malloc(n + 2);
        size_t got = fread(disk, 1, n + 1, f);
        fclose(f);
        T_ASSERT(got == n && memcmp(disk, buf, n) == 0,
                 "%s is out of date: regenerate with `build/atas_config --docs configs/README.md` "
                 "(or cmake --build build --target config_docs)", path);
        free(disk);
    }
    free(buf);
}

int main(void) {
    g_src = getenv("ATAS_SOURCE_DIR");
    if (!g_src) g_src = ".";
    snprintf(g_dir, sizeof g_dir, "/tmp/atas_test_config_XXXXXX");
    if (!mkdtemp(g_dir)) { perror("mkdtemp"); return 1; }
    test_schema();
    test_shipped();
    test_set_and_equal();
    test_file_errors();
    test_cross_errors();
    test_dist_backend();
    test_set_errors();
    test_helpers();
    test_docs();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return t_finish("test_config");
}
