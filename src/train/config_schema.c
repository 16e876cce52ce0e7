/* The one table of run-config keys: type, default, allowed values and meaning.
 * configs/README.md is generated from it (atas_config --docs). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "train/config_internal.h"

#define OFF(f) offsetof(atas_run_config, f)
#define R_GE(x) .has_lo = 1, .lo = (x)
#define R_GT(x) .has_lo = 1, .lo_open = 1, .lo = (x)
#define R_LE(x) .has_hi = 1, .hi = (x)
#define R_LT(x) .has_hi = 1, .hi_open = 1, .hi = (x)

#define K_BOOL(k, f, d, doc_) {.key = k, .type = CFG_BOOL, .off = OFF(f), .def = d, .doc = doc_}
#define K_INT(k, f, d, doc_, ...) \
    {.key = k, .type = CFG_INT, .off = OFF(f), .def = d, .doc = doc_, .range = {__VA_ARGS__}}
#define K_INT64(k, f, d, doc_, ...) \
    {.key = k, .type = CFG_INT64, .off = OFF(f), .def = d, .doc = doc_, .range = {__VA_ARGS__}}
#define K_FLOAT(k, f, d, doc_, ...) \
    {.key = k, .type = CFG_FLOAT, .off = OFF(f), .def = d, .doc = doc_, .range = {__VA_ARGS__}}
#define K_STR(k, f, d, doc_) \
    {.key = k, .type = CFG_STRING, .off = OFF(f), .size = sizeof(((atas_run_config *)0)->f), \
     .def = d, .doc = doc_}
#define K_STR_RULE(k, f, d, rl, rd, doc_) \
    {.key = k, .type = CFG_STRING, .off = OFF(f), .size = sizeof(((atas_run_config *)0)->f), \
     .def = d, .rule = rl, .rule_doc = rd, .doc = doc_}
#define K_ENUM(k, f, d, it, doc_) \
    {.key = k, .type = CFG_ENUM, .off = OFF(f), .def = d, .items = it, .doc = doc_}

static const cfg_enum_item e_backend[] = {{"cpu", ATAS_CFG_BACKEND_CPU}, {"cuda", ATAS_CFG_BACKEND_CUDA},
                                           {"cpu-staged", ATAS_CFG_BACKEND_CPU_STAGED}, {0, 0}};
static const cfg_enum_item e_precision[] = {{"auto", ATAS_CFG_PRECISION_AUTO}, {"fp32", ATAS_CFG_PRECISION_FP32},
                                            {"tf32", ATAS_CFG_PRECISION_TF32}, {"bf16", ATAS_CFG_PRECISION_BF16},
                                            {0, 0}};
static const cfg_enum_item e_dist[] = {{"auto", ATAS_CFG_DIST_AUTO}, {"nccl", ATAS_CFG_DIST_NCCL},
                                       {"mpi", ATAS_CFG_DIST_MPI}, {0, 0}};
static const cfg_enum_item e_act[] = {{"", ATAS_CFG_ACT_UNSET}, {"quickgelu", ATAS_ACT_QUICKGELU},
                                      {"gelu", ATAS_ACT_GELU}, {0, 0}};
static const cfg_enum_item e_wfmt[] = {{"auto", ATAS_CFG_WEIGHTS_AUTO}, {"openclip", ATAS_CFG_WEIGHTS_OPENCLIP},
                                       {"hf", ATAS_CFG_WEIGHTS_HF}, {0, 0}};
static const cfg_enum_item e_pool[] = {{"mean", ATAS_CFG_POOL_MEAN},
                                       {"teacher_weighted", ATAS_CFG_POOL_TEACHER_WEIGHTED},
                                       {"mean_raw", ATAS_CFG_POOL_MEAN_RAW}, {0, 0}};
static const cfg_enum_item e_form_nce[] = {{"cosine", ATAS_CFG_FORM_COSINE}, {"infonce", ATAS_CFG_FORM_INFONCE}, {0, 0}};
static const cfg_enum_item e_form_l2l[] = {{"cosine", ATAS_CFG_FORM_COSINE},
                                           {"similarity", ATAS_CFG_FORM_SIMILARITY}, {0, 0}};
static const cfg_enum_item e_lr_rule[] = {{"linear", ATAS_CFG_LR_LINEAR}, {"sqrt", ATAS_CFG_LR_SQRT}, {0, 0}};
static const cfg_enum_item e_mom[] = {{"cosine", ATAS_CFG_MOM_COSINE}, {"constant", ATAS_CFG_MOM_CONSTANT}, {0, 0}};

/* run.name becomes a directory name under run.dir */
static const char *rule_name(const void *field, char *buf, size_t n) {
    const char *s = field;
    if (!s[0]) return "must not be empty";
    if (strchr(s, '/')) return "must not contain '/' (it names a directory under run.dir)";
    if (!strcmp(s, ".") || !strcmp(s, "..")) return "must not be \".\" or \"..\"";
    return NULL;
}

static const char *rule_nonempty(const void *field, char *buf, size_t n) {
    return ((const char *)field)[0] ? NULL : "must not be empty";
}

/* model.preset: "" or a name atas_vit_preset knows (its own list, not a copy) */
static const char *rule_preset(const void *field, char *buf, size_t n) {
    const char *s = field;
    if (!s[0]) return NULL;
    atas_vit_config tmp;
    if (atas_vit_preset(s, &tmp) == ATAS_OK) return NULL;
    const char *msg = atas_error_message(), *p = strstr(msg, "\": ");
    snprintf(buf, n, "%s", p ? p + 3 : "unknown preset");
    atas_error_clear();
    return buf;
}

const cfg_key atas_cfg_keys[] = {
    /* ---- run */
    K_STR_RULE("run.name", run.name, "atas", rule_name, "non-empty, no '/'",
               "Name of the run; its directory is `run.dir/run.name` (checkpoints, logs, the resolved config)."),
    K_STR_RULE("run.dir", run.dir, "runs", rule_nonempty, "non-empty", "Parent directory of run directories."),
    K_INT64("run.seed", run.seed, "0",
            "Seed of every random stream (init, data order, mosaics); with the same global batch the "
            "trajectory does not depend on the number of ranks.", R_GE(0)),
    K_INT("run.steps", run.steps, "1000",
          "Total optimizer steps; 0 = derive from `run.epochs` and the corpus size.", R_GE(0)),
    K_INT("run.epochs", run.epochs, "0",
          "Passes over the corpus, used only when `run.steps` = 0.", R_GE(0)),
    K_INT("run.log_every", run.log_every, "10", "Print and log metrics every this many steps.", R_GE(1)),
    K_ENUM("run.backend", run.backend, "cpu", e_backend, "Compute backend. \"cpu-staged\" runs the CPU ops through the code paths of a device backend (inputs uploaded, embeddings downloaded, MPI through host staging): how those paths are tested without a GPU."),
    K_ENUM("run.precision", run.precision, "auto", e_precision,
           "Math of the GEMMs and attention (tensors stay fp32 in memory): \"fp32\" exact; \"tf32\" / \"bf16\" "
           "round the GEMM inputs to tf32 / bf16 and accumulate in fp32 (tensor cores on cuda, emulated by "
           "rounding on cpu); LayerNorm, softmax statistics, losses, optimizer and master weights stay fp32. "
           "\"auto\" = bf16 on cuda, fp32 on cpu (docs/backend.md, Precision)."),
    K_INT("run.threads", run.threads, "0", "CPU threads per rank (OpenMP, OpenBLAS); 0 = OMP_NUM_THREADS when set, else the node's cores divided by its ranks.", R_GE(0)),
    K_INT("run.dump_step", run.dump_step, "-1",
          "Dump the inputs, outputs and gradients of this step for debugging; -1 = never.", R_GE(-1)),
    K_STR("run.dump_dir", run.dump_dir, "", "Where `run.dump_step` writes; \"\" = `<run dir>/dump`."),
    K_FLOAT("run.peak_tflops", run.peak_tflops, "0", "Peak TFLOP/s of one rank at run.precision, the denominator of the MFU in the log and metrics.jsonl; 0 = measured at start by the backend's gemm_peak (cuda: a bf16-input tensor-core GEMM for bf16, FAST_TF32 for tf32, sgemm for fp32; cpu: OpenBLAS sgemm at the run's threads).", R_GE(0)),

    /* ---- model */
    K_STR_RULE("model.preset", model.preset, "", rule_preset,
               "\"\" or ViT-B-16, ViT-B-32, ViT-L-14, ViT-L-14-336, ViT-H-14, ViT-g-14, ViT-bigG-14, "
               "EVA02-B-16, EVA02-L-14, EVA02-L-14-336",
               "Architecture preset; the dims below override it when non-zero. \"\" = dims from the "
               "keys below or from the weights."),
    K_INT("model.patch", model.patch, "0", "Patch size P; 0 = from preset / weights.", R_GE(0)),
    K_INT("model.width", model.width, "0", "Transformer width D; 0 = from preset / weights.", R_GE(0)),
    K_INT("model.layers", model.layers, "0", "Number of blocks L; 0 = from preset / weights.", R_GE(0)),
    K_INT("model.heads", model.heads, "0", "Attention heads (must divide the width); 0 = from preset / weights.", R_GE(0)),
    K_INT("model.mlp", model.mlp, "0", "MLP hidden width; 0 = from preset / weights.", R_GE(0)),
    K_INT("model.embed", model.embed, "0", "Output embedding width E (proj); 0 = from preset / weights.", R_GE(0)),
    K_INT("model.grid", model.grid, "0",
          "Side of the pretrained positional-embedding grid; 0 = from preset / weights, or "
          "`data.resolution / patch` for a random init without preset.", R_GE(0)),
    K_ENUM("model.act", model.act, "", e_act,
           "MLP activation: quickgelu (OpenAI weights) or gelu (LAION / DataComp); \"\" = from preset / weights."),
    K_FLOAT("model.ln_eps", model.ln_eps, "0",
            "LayerNorm epsilon; 0 = from preset / weights (1e-5 for CLIP ViTs, 1e-6 for EVA02).",
            R_GE(0), R_LT(1)),
    K_STR("model.weights", model.weights, "",
          "Pretrained weights (safetensors); \"\" = deterministic random init from `run.seed` (tests, tiny runs)."),
    K_ENUM("model.weights_format", model.weights_format, "auto", e_wfmt,
           "Tensor naming of `model.weights`: OpenCLIP (`visual.*`), Hugging Face (`vision_model.*`) or detected."),
    K_INT("model.unlocked_blocks", model.unlocked_blocks, "0",
          "Train only the last this many blocks; 0 = every block trains. Must be <= the number of layers.", R_GE(0)),
    K_BOOL("model.train_embeddings", model.train_embeddings, "false",
           "Also train conv1, the class and positional embeddings and ln_pre (frozen in CLIPSelf)."),
    K_BOOL("model.train_head", model.train_head, "false", "Also train ln_post and proj (frozen in CLIPSelf)."),

    /* ---- data */
    K_STR("data.corpus", data.corpus, "", "HDF5 image corpus (made by atas_pack). Required."),
    K_INT("data.resolution", data.resolution, "224",
          "Side R of the global views (teacher and student); a multiple of the patch.", R_GE(1)),
    K_INT("data.workers", data.workers, "2", "Loader threads per rank; 0 = load on the training thread.", R_GE(0)),
    K_INT("data.prefetch", data.prefetch, "2", "Batches prepared ahead of the step.", R_GE(1)),

    /* ---- batch */
    K_INT("batch.groups", batch.groups, "1",
          "Global number of groups per step (the world-size-invariant unit of work); a multiple of the "
          "number of ranks.", R_GE(1)),
    K_INT("batch.group_images", batch.group_images, "16",
          "Images n per group; each has a global view and is placed in the group's mosaics.", R_GE(1), R_LE(256)),
    K_INT("batch.groups_per_rank", batch.groups_per_rank, "0",
          "If > 0: groups per rank, and the global `batch.groups` becomes this x the number of ranks (the "
          "config starts on any world size; the global batch, and with it the lr, grows with the ranks). "
          "0 = `batch.groups` is the global batch. Not both in one file; a later `--set batch.groups=G` "
          "switches back to a fixed global batch.", R_GE(0)),
    K_BOOL("batch.round_up", batch.round_up, "false",
           "If true, a global `batch.groups` that is not a multiple of the number of ranks is rounded up "
           "to the next multiple (noted in the recipe line at start; the trajectory then differs from the "
           "same config on a world size that divides it). false: that is a config error."),

    /* ---- mosaic */
    K_INT("mosaic.canvas", mosaic.canvas, "960",
          "Side C of a mosaic canvas in pixels; C / g must be a multiple of the patch for every grid g.", R_GE(1)),
    {.key = "mosaic.grids", .type = CFG_INTS, .off = OFF(mosaic.grids), .count_off = OFF(mosaic.ngrids),
     .min_len = 1, .max_len = ATAS_MOSAIC_MAX_GRID, .def = "[2, 3, 4]",
     .range = {R_GE(1), R_LE(ATAS_MOSAIC_MAX_GRID)},
     .doc = "Grid sides g to draw from (uniformly) for each mosaic: g x g cells of C / g pixels, holding "
            "g x g different images of the group (g x g <= `batch.group_images` unless `mosaic.repeat_images`)."},
    K_INT("mosaic.per_group", mosaic.per_group, "1", "Mosaics m per group.", R_GE(0)),
    K_BOOL("mosaic.repeat_images", mosaic.repeat_images, "false",
           "Opt-in: let a mosaic with more cells (g x g) than `batch.group_images` repeat images. Off: every "
           "cell holds a different image of the group and a grid with g x g > group_images is a config error."),

    /* ---- loss */
    K_FLOAT("loss.g2l.weight", loss.g2l.weight, "1.0",
            "Weight of Global-to-Local: the student's dense features pooled over a mosaic cell vs the "
            "teacher's global embedding of that image.", R_GE(0)),
    K_ENUM("loss.g2l.pool", loss.g2l.pool, "mean", e_pool,
           "Cell pooling of the L2-normalised student tokens (CLIPSelf: normalise every token, then "
           "RoIAlign 1x1): mean (= RoIAlign 1x1 on the token-aligned box) or teacher_weighted (weights: "
           "softmax of teacher-global similarity / pool_tau, no gradient through the weights); mean_raw "
           "averages the raw, unnormalised tokens instead (high-norm tokens dominate)."),
    K_FLOAT("loss.g2l.pool_tau", loss.g2l.pool_tau, "0.1", "Temperature of teacher_weighted pooling.", R_GT(0)),
    K_ENUM("loss.g2l.form", loss.g2l.form, "cosine", e_form_nce,
           "G2L term: 1 - cos, or InfoNCE against the other images of the rank's batch."),
    K_FLOAT("loss.g2l.tau", loss.g2l.tau, "0.07", "InfoNCE temperature of G2L.", R_GT(0)),
    K_FLOAT("loss.l2l.weight", loss.l2l.weight, "1.0",
            "Weight of Local-to-Local: the student's cell tokens vs the teacher's dense map of that image "
            "resampled to the cell grid.", R_GE(0)),
    K_ENUM("loss.l2l.form", loss.l2l.form, "cosine", e_form_l2l,
           "L2L term: mean over tokens of 1 - cos, or MSE between token-similarity matrices."),
    K_FLOAT("loss.g2g.weight", loss.g2g.weight, "1.0",
            "Weight of Global-to-Global: student vs teacher global embedding of the same view.", R_GE(0)),
    K_ENUM("loss.g2g.form", loss.g2g.form, "cosine", e_form_nce, "G2G term: 1 - cos, or InfoNCE."),
    K_FLOAT("loss.g2g.tau", loss.g2g.tau, "0.07", "InfoNCE temperature of G2G.", R_GT(0)),

    /* ---- optim */
    K_FLOAT("optim.lr", optim.lr, "1e-5",
            "Peak AdamW learning rate (before `lr_scale_ref_images` scaling).", R_GT(0)),
    {.key = "optim.betas", .type = CFG_FLOATS, .off = OFF(optim.betas), .min_len = 2, .max_len = 2,
     .def = "[0.9, 0.98]", .range = {R_GE(0), R_LT(1)}, .doc = "AdamW (beta1, beta2)."},
    K_FLOAT("optim.eps", optim.eps, "1e-6", "AdamW epsilon.", R_GT(0)),
    K_FLOAT("optim.weight_decay", optim.weight_decay, "0.1",
            "Decoupled weight decay, applied to 2-D weight matrices only.", R_GE(0)),
    K_INT("optim.warmup_steps", optim.warmup_steps, "1000",
          "Linear warmup from 0 to the peak lr, then cosine decay to `min_lr`.", R_GE(0)),
    K_FLOAT("optim.min_lr", optim.min_lr, "0", "Learning rate at the end of the cosine decay (<= lr).", R_GE(0)),
    K_FLOAT("optim.clip_grad_norm", optim.clip_grad_norm, "0",
            "Clip the global gradient norm to this; 0 = off.", R_GE(0)),
    K_FLOAT("optim.lr_scale_ref_images", optim.lr_scale_ref_images, "0",
            "If > 0, `optim.lr` is the lr at this many global images per step and is scaled to the actual "
            "global batch B by `lr_scale_rule`; 0 = no scaling.", R_GE(0)),
    K_ENUM("optim.lr_scale_rule", optim.lr_scale_rule, "linear", e_lr_rule,
           "Scaling of the lr with the global batch B: linear (lr x B / ref) or sqrt (lr x sqrt(B / ref), "
           "the rule for Adam-type optimisers; the shipped recipes use it)."),
    K_FLOAT("optim.warmup_fraction", optim.warmup_fraction, "0",
            "If > 0: the warm-up is round(this x total steps) (at least 1) and `warmup_steps` is not used, "
            "so the warm-up share stays the same at any world size; a later `--set optim.warmup_steps=N` "
            "switches back to a step count. 0 = `warmup_steps`.", R_GE(0), R_LE(1)),

    /* ---- teacher */
    K_FLOAT("teacher.momentum_start", teacher.momentum_start, "0.999",
            "EMA momentum m of the teacher at step 0 (teacher = m*teacher + (1-m)*student).", R_GE(0), R_LE(1)),
    K_FLOAT("teacher.momentum_end", teacher.momentum_end, "1.0",
            "EMA momentum at the last step; 1 with momentum_start 1 = frozen teacher (CLIPSelf).", R_GE(0), R_LE(1)),
    K_ENUM("teacher.momentum_schedule", teacher.momentum_schedule, "cosine", e_mom,
           "cosine: from momentum_start to momentum_end over the run; constant: momentum_start throughout "
           "(then momentum_end must equal it)."),
    K_INT("teacher.sync_every", teacher.sync_every, "100",
          "Re-broadcast the teacher from rank 0 every this many steps (removes drift across ranks); 0 = never.",
          R_GE(0)),

    /* ---- checkpoint */
    K_INT("checkpoint.every", checkpoint.every, "500", "Write a checkpoint every this many steps (and at the end); 0 = only at the end.", R_GE(0)),
    K_INT("checkpoint.keep_last", checkpoint.keep_last, "2", "Keep this many most recent checkpoints.", R_GE(1)),
    K_INT("checkpoint.keep_every", checkpoint.keep_every, "0",
          "Also keep every checkpoint whose step is a multiple of this forever; 0 = none.", R_GE(0)),
    K_STR("checkpoint.resume", checkpoint.resume, "",
          "\"\" = start fresh; \"auto\" = the newest complete checkpoint of the run directory if any; else a checkpoint path."),

    /* ---- dist */
    K_INT("dist.bucket_mb", dist.bucket_mb, "25", "Gradient allreduce bucket size in MiB.", R_GE(1)),
    K_INT("dist.timeout_s", dist.timeout_s, "300",
          "A collective that takes longer than this is reported as a hang and the run stops.", R_GE(1)),
    K_INT("dist.check_every", dist.check_every, "100",
          "Check every this many steps that all ranks hold identical parameters; 0 = never.", R_GE(0)),
    K_ENUM("dist.backend", dist.backend, "auto", e_dist,
           "How ranks reduce gradients and broadcast the teacher: \"nccl\" (GPU to GPU on the device, "
           "needs run.backend = \"cuda\" and one GPU per rank), \"mpi\" (through host memory), \"auto\" "
           "(nccl when a cuda build runs run.backend = \"cuda\" on more than one rank without ATAS_SHARE_GPU=1, "
           "else mpi)."),

    /* ---- faults */
    K_INT("faults.max_nonfinite_in_row", faults.max_nonfinite_in_row, "5",
          "A step with a non-finite loss or gradient is skipped; this many in a row stop the run.", R_GE(1)),

    /* ---- eval (region classification during training, docs/eval.md) */
    K_INT("eval.every", eval.every, "0",
          "Evaluate the student at step 0 and every this many steps (and after the last step when it is a "
          "multiple); 0 = never. Needs `eval.data`, `eval.images` and `eval.classes`.", R_GE(0)),
    K_STR("eval.data", eval.data, "",
          "Held-out annotations: a COCO panoptic JSON (boxes and masks: rois and maskpool) or instances JSON (boxes: rois)."),
    K_STR("eval.images", eval.images, "", "Folder of the images named by `eval.data`."),
    K_STR("eval.masks", eval.masks, "", "Folder of the panoptic PNGs; \"\" = the `eval.data` path without `.json` (COCO's layout)."),
    K_STR("eval.classes", eval.classes, "", "Class embeddings (HDF5) covering the category ids of `eval.data`."),
    K_INT("eval.size", eval.size, "0",
          "Longest image side at evaluation (padded square, a multiple of the patch); 0 = 64 tokens (1024 for patch 16).",
          R_GE(0)),
    K_INT("eval.max_images", eval.max_images, "0", "Evaluate the first this many images of `eval.data`; 0 = all.", R_GE(0)),
    K_BOOL("eval.crops", eval.crops, "false", "Also the crop baseline (one global forward per region: slow)."),
};
const int atas_cfg_nkeys = (int)(sizeof atas_cfg_keys / sizeof atas_cfg_keys[0]);

const char *const atas_cfg_group_docs[][2] = {
    {"run", "Identity, length and housekeeping of a run."},
    {"model", "The CLIP ViT vision encoder (student and teacher share it). Resolution order: `preset`, "
              "then every non-zero dim key, then what the weights file says for the rest."},
    {"data", "The image corpus and the global views."},
    {"batch", "A step takes `groups` groups of `group_images` images; rank r of W takes groups "
              "[r*G/W, (r+1)*G/W), so the trajectory is the same for any number of ranks."},
    {"mosaic", "Mosaics: g x g images tiled into a C x C canvas; every cell must cover whole tokens."},
    {"loss", "L = g2l.weight * G2L + l2l.weight * L2L + g2g.weight * G2G (see docs of ATAS); weights >= 0 "
             "and at least one > 0. The defaults are this project's choices, the paper gives none."},
    {"optim", "AdamW with linear warmup and cosine decay (defaults: CLIPSelf's recipe, lr 1e-5 for 16 images per step)."},
    {"teacher", "The EMA teacher."},
    {"checkpoint", "Checkpoints (written completely or not at all) and resume."},
    {"dist", "Multi-rank training (MPI / NCCL)."},
    {"faults", "What the run tolerates before it stops."},
    {"eval", "Region classification (CLIPSelf's protocol, docs/eval.md) of the student on a held-out set during "
             "training, rank-parallel; logged as `\"eval\": {\"rois.thing.macc1\": ...}` in that step's metrics.jsonl record."},
    {NULL, NULL},
};

const cfg_key *atas_cfg_find(const char *key) {
    for (int i = 0; i < atas_cfg_nkeys; i++)
        if (strcmp(atas_cfg_keys[i].key, key) == 0) return &atas_cfg_keys[i];
    return NULL;
}
