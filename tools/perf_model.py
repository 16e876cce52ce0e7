#!/usr/bin/python3
"""Calibrated performance model of one ATAS training step per rank (docs/scaling.md):

    t_step = t_compute + t_comm_exposed + t_data_exposed

  t_compute  teacher forward (global views) + student forward+backward (global views and mosaics)
             + AdamW/EMA, composed from MEASURED per-op times of atas_bench on the target device
             (linear, attention, layernorm, activation at one block's shape, scaled by FLOPs or
             elements to each pass), or taken directly from a run's metrics.jsonl phases.
  t_comm     gradient allreduce in buckets (dist.bucket_mb), each an alpha-beta NCCL ring or
             tree allreduce (NVLink inside a node, InfiniBand between nodes); the buckets become
             ready during the LAST backward pass (the mosaic pass: gradients are final only when
             every item has been back-propagated), launched in order on one stream; what ends
             after the backward is exposed.
  t_data     loader (decode+resize, measured images/s per worker) and the parallel filesystem
             (aggregate GB/s shared by every rank) run ahead by the prefetch depth: only what
             exceeds the rest of the step is exposed.
FLOPs as in ATAS-METHOD.md: forward per image = L*(24*N*D^2 + 4*N^2*D) + patch embed; fwd+bwd = 3x.

    perf_model.py project  [--models vitb16,vitl14] [--gpus 1,2,...,512] [inputs] [--out DIR]
    perf_model.py report   [inputs] [--target-mfu 0.4] [--out docs/results]
    perf_model.py validate [--bench-cuda F] [--bench-cpu F] [--sweep-tables scaling.txt ...] [--out FILE]
Inputs are flags (perf_model.py project --help); every table states them."""
import argparse
import glob
import json
import math
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "docs", "results")

# ATAS-METHOD.md model table + the configs (configs/vitb16.cfg, vitl14.cfg): views at 224 px,
# one mosaic per group (B/16 canvas 960 = 60x60 tokens, L/14 canvas 896 = 64x64 tokens)
MODELS = {
    "vitb16": dict(name="ViT-B/16", P=16, D=768, L=12, mlp=3072, res=224, canvas=960),
    "vitl14": dict(name="ViT-L/14", P=14, D=1024, L=24, mlp=4096, res=224, canvas=896),
}


# ----------------------------------------------------------------------------- FLOPs
def tokens(m, px):
    return (px // m["P"]) ** 2 + 1


def pass_flops(m, B, N):
    """forward FLOPs of B images of N tokens: (gemm, attention, patch embed)"""
    D, L, F = m["D"], m["L"], m["mlp"]
    gemm = 2.0 * B * N * L * (4 * D * D + 2 * D * F)  # qkv + out + fc + proj = 24ND^2 when F = 4D
    attn = 4.0 * B * N * N * D * L
    patch = 2.0 * B * (N - 1) * 3 * m["P"] ** 2 * D
    return gemm, attn, patch


def trainable_params(m):
    """the transformer blocks (configs: embeddings and head frozen)"""
    D, F = m["D"], m["mlp"]
    return m["L"] * (4 * D * D + 4 * D + 2 * D * F + F + D + 4 * D)


def step_flops(m, groups, group_images=8, mosaics=1):
    """model FLOPs of one ATAS step on one rank: teacher fwd on the views, student fwd+bwd (3x)
    on the views and the mosaics"""
    nv, nm = tokens(m, m["res"]), tokens(m, m["canvas"])
    fv = sum(pass_flops(m, groups * group_images, nv))
    fm = sum(pass_flops(m, groups * mosaics, nm))
    return fv + 3 * (fv + fm)


# ----------------------------------------------------------------------------- compute
def read_bench(path):
    """atas_bench's table: per-op rows {name: (ms, shape)} and ViT rows [(res, batch, output, ms)]"""
    ops, vits, head = {}, [], None
    with open(path) as f:
        for line in f:
            if line.startswith("# op"):
                head = line[1:].split()
                continue
            if line.startswith("#") or not line.strip():
                continue
            t = line.split()
            if t[0].startswith("ViT-"):
                vits.append(dict(model=t[0], res=int(t[1]), batch=int(t[2]), output=t[3], ms=float(t[4])))
            elif head:
                tail = len(head) - head.index("ms")  # columns from "ms" on
                ops[t[0]] = float(t[-tail])
    return ops, vits


class Compute:
    """Per-op rates measured by atas_bench at one block's shape (batch 8, 197 tokens, width
    768, MLP 3072): GEMM and attention in FLOP/s, elementwise ops in elements/s."""
    REF_T, REF_D, REF_F = 8 * 197, 768, 3072

    def __init__(self, ops, label):
        self.label = label
        lf = 2.0 * self.REF_T * self.REF_D * self.REF_F
        at = 4.0 * 8 * 197 * 197 * 768
        self.lin_f, self.lin_b = lf / ops["linear_fwd"], 2 * lf / ops["linear_bwd"]  # FLOP per ms
        self.att_f, self.att_b = at / ops["attention_fwd"], 2.5 * at / ops["attention_bwd"]
        self.ln_f = self.REF_T * self.REF_D / ops["layernorm_fwd"]  # elements per ms
        self.ln_b = self.REF_T * self.REF_D / ops["layernorm_bwd"]
        self.act_f = self.REF_T * self.REF_F / ops["quickgelu_fwd"]
        self.act_b = self.REF_T * self.REF_F / ops["quickgelu_bwd"]

        self.att_t = None  # (tokens, factor): attention measured faster at a longer sequence

    def att_factor(self, N):
        """attention speed-up over the 197-token op row at N tokens: log-linear in N up to the
        sequence length it was fitted at, constant beyond (no extrapolation upwards)"""
        if not self.att_t or N <= 197:
            return 1.0
        n1, f1 = self.att_t
        x = min(1.0, math.log(N / 197) / math.log(n1 / 197))
        return math.exp(x * math.log(f1))

    def fit_attention(self, m, row, trainable_patch=True):
        """the attention speed at a ViT row's sequence length, from that row's measured time"""
        B, N = row["batch"], tokens(m, row["res"])
        gemm, attn, patch = pass_flops(m, B, N)
        self.att_t = None
        rest = self.pass_ms(m, B, N, True) + (2 * patch / self.lin_b if trainable_patch else 0)
        att = attn / self.att_f + 2.5 * attn / self.att_b
        left = row["ms"] - (rest - att)
        if left <= 0 or N <= 197:
            return None
        self.att_t = (N, max(1.0, att / left))
        return self.att_t

    def pass_ms(self, m, B, N, backward):
        gemm, attn, patch = pass_flops(m, B, N)
        T, L = B * N, m["L"]
        attn = attn / self.att_factor(N)
        ms = (gemm + patch) / self.lin_f + attn / self.att_f
        ms += (2 * L + 2) * T * m["D"] / self.ln_f + L * T * m["mlp"] / self.act_f
        if backward:  # frozen patch embedding: no backward through it
            ms += 2 * gemm / self.lin_b + 2.5 * attn / self.att_b
            ms += (2 * L + 2) * T * m["D"] / self.ln_b + L * T * m["mlp"] / self.act_b
        return ms


def compute_phases(cmp, m, groups, group_images=8, mosaics=1, hbm_gbs=3350.0, hbm_eff=0.8):
    """ms per phase of one step on one rank"""
    nv, nm = tokens(m, m["res"]), tokens(m, m["canvas"])
    views = groups * group_images
    ph = dict(teacher=cmp.pass_ms(m, views, nv, False),
              student_views=cmp.pass_ms(m, views, nv, True),
              student_mosaics=cmp.pass_ms(m, groups * mosaics, nm, True))
    # backward share of the mosaic pass = the overlap window of the gradient allreduce
    ph["window"] = ph["student_mosaics"] - cmp.pass_ms(m, groups * mosaics, nm, False)
    # AdamW (read p g m v, write p m v) + teacher EMA (read t p, write t): 10 fp32 streams
    ph["optimizer"] = trainable_params(m) * 4 * 10 / (hbm_gbs * hbm_eff * 1e6)
    return ph


# ----------------------------------------------------------------------------- communication
def allreduce_ms(nbytes, p, hw):
    """alpha-beta NCCL allreduce of nbytes over p GPUs, hw: gpus_per_node, nvlink_gbs (bus
    bandwidth inside a node), net_gbs (per node: NICs x link rate x efficiency), alpha_* (us).
    Ring: 2(p-1) steps of S/p, bandwidth-bound by the slowest hop; tree (NCCL's double binary
    tree between nodes, chain inside): log latency, half the ring's algorithm bandwidth at
    large p (NCCL's own ratio 0.5, x0.92). Returns (ms, algorithm, latency part ms)."""
    if p <= 1 or nbytes == 0:
        return 0.0, "-", 0.0
    g = hw["gpus_per_node"]
    nodes = math.ceil(p / g)
    steps = 2 * (p - 1)
    if nodes == 1:
        bus = hw["nvlink_gbs"]
        lat = hw["alpha_base_us"] + steps * hw["alpha_intra_us"]
        return (lat + 2 * (p - 1) / p * nbytes / bus * 1e-3) * 1e-3, "ring", lat * 1e-3
    bus = min(hw["nvlink_gbs"], hw["net_gbs"])  # a ring crosses each node boundary: node NICs bound it
    inter = 2 * (nodes - 1)
    lat_r = hw["alpha_base_us"] + (steps - inter) * hw["alpha_intra_us"] + inter * hw["alpha_inter_us"]
    ring = lat_r + 2 * (p - 1) / p * nbytes / bus * 1e-3
    lat_t = hw["alpha_base_us"] + 2 * ((min(p, g) - 1) * hw["alpha_intra_us"]
                                       + math.ceil(math.log2(nodes)) * hw["alpha_inter_us"])
    tree = lat_t + 2 * nbytes / (0.92 * bus) * 1e-3
    if tree < ring:
        return tree * 1e-3, "tree", lat_t * 1e-3
    return ring * 1e-3, "ring", lat_r * 1e-3


def buckets_exposed(total_bytes, bucket_bytes, p, hw, window_ms, traffic=1.0):
    """Buckets become ready uniformly over the backward window (reverse layer order, equal
    bytes per layer), each launched when ready and after the previous one (one stream).
    Returns (exposed ms, total allreduce ms, algorithm, latency ms)."""
    if p <= 1:
        return 0.0, 0.0, "-", 0.0
    nb = max(1, math.ceil(total_bytes / bucket_bytes))
    end, busy, lat, algo, done = 0.0, 0.0, 0.0, "-", 0
    for b in range(nb):
        size = min(bucket_bytes, total_bytes - done)
        done += size
        ready = window_ms * done / total_bytes
        ms, algo, l = allreduce_ms(size, p, hw)
        ms, l = ms * traffic, l * traffic
        end = max(end, ready) + ms
        busy += ms
        lat += l
    return max(0.0, end - window_ms), busy, algo, lat


# ----------------------------------------------------------------------------- the step
def predict(m, p, a, cmp, groups_per_rank=None):
    """one row of the projection: p GPUs, weak scaling at a.groups_per_rank (or the given)"""
    g = a.groups_per_rank if groups_per_rank is None else groups_per_rank
    ph = compute_phases(cmp, m, g, a.group_images, a.mosaics, a.hbm_gbs)
    compute = ph["teacher"] + ph["student_views"] + ph["student_mosaics"] + ph["optimizer"]
    grad_bytes = trainable_params(m) * (2 if a.bf16_reduce else 4)
    hw = hw_of(a)
    if getattr(a, "zero1", False) and p > 1:
        # ZeRO-1: reduce-scatter in the backward (half an allreduce's traffic), AdamW on 1/p of
        # the state, allgather of the new student weights; the allgather hides behind the next
        # step's teacher forward, which does not read the student
        exposed, busy, algo, lat = buckets_exposed(grad_bytes, a.bucket_mb * 2 ** 20, p, hw, ph["window"], 0.5)
        ag, _, ag_lat = allreduce_ms(grad_bytes, p, hw)
        exposed += max(0.0, ag / 2 - ph["teacher"])
        busy += ag / 2
        lat += ag_lat / 2
        ph["optimizer"] /= p
    else:
        exposed, busy, algo, lat = buckets_exposed(grad_bytes, a.bucket_mb * 2 ** 20, p, hw, ph["window"])
    # data: per rank images per step; the loader runs ahead (prefetch), the filesystem is shared
    imgs = g * a.group_images
    t_loader = imgs / (a.loader_img_s_per_worker * a.workers) * 1e3
    t_fs = p * imgs * a.image_kb * 1e3 / (a.fs_gbs * 1e9) * 1e3
    t_data = max(t_loader, t_fs)
    busy_rest = compute + exposed
    data_exposed = max(0.0, t_data - busy_rest)
    step = compute + exposed + data_exposed
    parts = {"compute": compute, "comm bandwidth": exposed * (1 - min(1.0, lat / busy)) if busy else 0.0,
             "comm latency": exposed * min(1.0, lat / busy) if busy else 0.0,
             "data (loader)" if t_loader >= t_fs else "data (filesystem)": data_exposed}
    bottleneck = max(parts, key=parts.get)
    if bottleneck == "compute":  # name what the GPU does not hide, when it matters
        side = max((k for k in parts if k != "compute"), key=parts.get)
        if parts[side] > 0.05 * step:
            bottleneck = "compute, then " + side
    flops = step_flops(m, g, a.group_images, a.mosaics)
    return dict(model=m["name"], gpus=p, nodes=math.ceil(p / a.gpus_per_node), groups_per_rank=g,
                step_ms=step, compute_ms=compute, window_ms=ph["window"], comm_ms=busy, comm_exposed_ms=exposed,
                comm_latency_ms=lat, algo=algo, data_ms=t_data, data_exposed_ms=data_exposed,
                img_s=p * imgs / step * 1e3, mfu=flops / (step * 1e-3) / (a.peak_tflops * 1e12),
                grad_mb=grad_bytes / 2 ** 20, bottleneck=bottleneck)


def hw_of(a):
    return dict(gpus_per_node=a.gpus_per_node, nvlink_gbs=a.nvlink_gbs,
                net_gbs=a.nics_per_node * a.nic_gbit / 8 * a.net_eff, alpha_base_us=a.alpha_base_us,
                alpha_intra_us=a.alpha_intra_us, alpha_inter_us=a.alpha_inter_us)


def add_inputs(p):
    g = p.add_argument_group("model inputs (defaults: H100/H200 SXM nodes, 8 GPUs, 4x NDR)")
    g.add_argument("--bench", default=os.path.join(RESULTS, "bench_cuda.txt"),
                   help="atas_bench table measured on the target device (per-op times)")
    g.add_argument("--compute-scale", type=float, default=1.0,
                   help="divide the measured op times by this (e.g. 8 for a bf16 tensor-core path)")
    g.add_argument("--peak-tflops", type=float, default=989.0, help="peak for MFU (H100/H200 dense bf16: 989)")
    g.add_argument("--hbm-gbs", type=float, default=3350.0, help="HBM GB/s (optimizer, EMA)")
    g.add_argument("--gpus-per-node", type=int, default=8)
    g.add_argument("--nvlink-gbs", type=float, default=360.0, help="NCCL bus bandwidth inside a node, GB/s")
    g.add_argument("--nics-per-node", type=int, default=4)
    g.add_argument("--nic-gbit", type=float, default=400.0, help="link rate per NIC (NDR: 400 Gbit/s)")
    g.add_argument("--net-eff", type=float, default=0.9, help="achieved fraction of the NIC link rate")
    g.add_argument("--alpha-base-us", type=float, default=10.0, help="latency per collective call")
    g.add_argument("--alpha-intra-us", type=float, default=1.0, help="latency per NVLink ring step")
    g.add_argument("--alpha-inter-us", type=float, default=5.0, help="latency per InfiniBand step")
    g.add_argument("--bucket-mb", type=float, default=25.0, help="dist.bucket_mb")
    g.add_argument("--bf16-reduce", action="store_true", help="allreduce bf16 gradients (half the bytes)")
    g.add_argument("--zero1", action="store_true", help="ZeRO-1: reduce-scatter + allgather, sharded AdamW")
    g.add_argument("--target-mfu", type=float, default=0.0,
                   help="scale the measured compute so that 1 GPU reaches this MFU (a faster kernel path)")
    g.add_argument("--groups-per-rank", type=int, default=1, help="weak scaling: groups per rank")
    g.add_argument("--group-images", type=int, default=8)
    g.add_argument("--mosaics", type=int, default=1, help="mosaics per group")
    g.add_argument("--strong-groups", type=int, default=512, help="strong scaling: global groups per step")
    g.add_argument("--workers", type=int, default=4, help="data.workers per rank")
    g.add_argument("--loader-img-s-per-worker", type=float, default=105.0,
                   help="measured loader images/s per worker (atas_bench_data)")
    g.add_argument("--image-kb", type=float, default=691.2,
                   help="stored kB per image (480x480 RGB: a 960 canvas with g = 2 needs S >= 480)")
    g.add_argument("--fs-gbs", type=float, default=50.0, help="parallel filesystem aggregate read GB/s")


def inputs_text(a, cmp):
    hw = hw_of(a)
    return ["# inputs: compute from %s%s; MFU vs %.0f TFLOP/s peak; HBM %.0f GB/s" % (
                os.path.relpath(a.bench, ROOT) if os.path.isabs(a.bench) else a.bench,
                "" if a.compute_scale == 1 else " with every op %.1fx faster%s" % (
                    a.compute_scale, " (--target-mfu %.2f)" % a.target_mfu if a.target_mfu else ""), a.peak_tflops, a.hbm_gbs),
            "#   rates: linear fwd %.1f / bwd %.1f TFLOP/s, attention fwd %.1f / bwd %.1f TFLOP/s at 197 tokens%s" % (
                cmp.lin_f * 1e-9, cmp.lin_b * 1e-9, cmp.att_f * 1e-9, cmp.att_b * 1e-9,
                " (x%.2f at >= %d tokens, fitted on the ViT row)" % (cmp.att_t[1], cmp.att_t[0]) if cmp.att_t else ""),
            "#   %d GPUs/node, NVLink bus %.0f GB/s, network %d x %.0f Gbit/s x %.2f = %.0f GB/s per node; "
            "alpha %.0f us/call + %.1f us/NVLink step + %.1f us/IB step" % (
                a.gpus_per_node, a.nvlink_gbs, a.nics_per_node, a.nic_gbit, a.net_eff, hw["net_gbs"],
                a.alpha_base_us, a.alpha_intra_us, a.alpha_inter_us),
            "#   buckets %.0f MiB, %s gradients%s; %d group(s) x %d images + %d mosaic(s) per group per rank; "
            "loader %.0f img/s x %d workers; filesystem %.0f GB/s for all, %.0f kB/image" % (
                a.bucket_mb, "bf16" if a.bf16_reduce else "fp32", ", ZeRO-1" if a.zero1 else "", a.groups_per_rank, a.group_images, a.mosaics,
                a.loader_img_s_per_worker, a.workers, a.fs_gbs, a.image_kb),
            "#   assumption: NCCL allreduce on its own stream overlapping the mosaic pass's backward (the design; "
            "today's CUDA path is host-staged MPI)"]


def scaled_compute(a):
    ops, vits = read_bench(a.bench)
    cmp = Compute(ops, a.bench)
    fit = next((v for v in vits if v["model"] == "ViT-B/16" and v["res"] > 224 and v["output"] == "global"), None)
    if fit:
        cmp.fit_attention(MODELS["vitb16"], fit)
    scale = a.compute_scale
    if a.target_mfu > 0:  # the scale at which 1 GPU (ViT-L/14 or the first model) reaches it
        m = MODELS[a.models.split(",")[-1]] if hasattr(a, "models") else MODELS["vitl14"]
        flops = step_flops(m, a.groups_per_rank, a.group_images, a.mosaics)
        ph = compute_phases(cmp, m, a.groups_per_rank, a.group_images, a.mosaics, a.hbm_gbs)
        kern = ph["teacher"] + ph["student_views"] + ph["student_mosaics"]
        want = flops / (a.target_mfu * a.peak_tflops * 1e12) * 1e3 - ph["optimizer"]
        if want <= 0:
            raise SystemExit("perf_model: --target-mfu %.2f is out of reach (the optimizer alone takes longer)"
                             % a.target_mfu)
        scale = kern / want
    a.compute_scale = scale
    for k in ("lin_f", "lin_b", "att_f", "att_b", "ln_f", "ln_b", "act_f", "act_b"):
        setattr(cmp, k, getattr(cmp, k) * scale)
    return cmp


def project(a):
    cmp = scaled_compute(a)
    gpus = [int(x) for x in a.gpus.split(",")]
    rows = []
    for key in a.models.split(","):
        m = MODELS[key]
        base = predict(m, 1, a, cmp)
        sbase = predict(m, 1, a, cmp, a.strong_groups)
        for p in gpus:
            r = predict(m, p, a, cmp)
            r["weak_eff"] = base["step_ms"] / r["step_ms"]
            if a.strong_groups % p == 0:
                s = predict(m, p, a, cmp, a.strong_groups // p)
                r["strong_eff"] = sbase["step_ms"] / (p * s["step_ms"])
            else:
                r["strong_eff"] = float("nan")
            rows.append(r)
    return rows, cmp


def table(rows, a, cmp, title):
    out = ["# " + title] + inputs_text(a, cmp)
    out.append("# weak: %d group(s) per GPU; strong: %d groups per step in all; eff = t(1 GPU) / t(p) "
               "(strong: / p); comm = allreduce time, exp = its part after the backward" % (
                   a.groups_per_rank, a.strong_groups))
    out.append("# %-8s %5s %5s %9s %8s %6s %8s %8s %8s %5s %8s %8s  %s" % (
        "model", "gpus", "nodes", "img/s", "step_ms", "MFU", "weak_eff", "strong", "comm_ms", "algo",
        "exp_ms", "data_ms", "bottleneck"))
    for r in rows:
        out.append("  %-8s %5d %5d %9.1f %8.1f %5.1f%% %8.3f %8s %8.2f %5s %8.2f %8.2f  %s" % (
            r["model"], r["gpus"], r["nodes"], r["img_s"], r["step_ms"], 100 * r["mfu"], r["weak_eff"],
            "-" if math.isnan(r["strong_eff"]) else "%.3f" % r["strong_eff"], r["comm_ms"], r["algo"],
            r["comm_exposed_ms"], r["data_ms"], r["bottleneck"]))
    return out


def plot(sets, png, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.3))
    for label, rows, style in sets:
        for model in sorted({r["model"] for r in rows}):
            rs = [r for r in rows if r["model"] == model]
            x = [r["gpus"] for r in rs]
            ax[0].plot(x, [r["img_s"] for r in rs], style, label="%s %s" % (model, label))
            ax[1].plot(x, [r["weak_eff"] for r in rs], style, label="%s %s" % (model, label))
            ax[2].plot(x, [r["mfu"] * 100 for r in rs], style, label="%s %s" % (model, label))
    ax[0].set(xscale="log", yscale="log", xlabel="GPUs", ylabel="images/s", title="throughput")
    ax[1].set(xscale="log", xlabel="GPUs", ylabel="t(1) / t(p)", title="weak-scaling efficiency", ylim=(0, 1.05))
    ax[1].axhline(0.9, color="red", lw=0.8, ls=":")
    ax[2].set(xscale="log", xlabel="GPUs", ylabel="% of peak", title="MFU")
    for x in ax:
        x.grid(alpha=0.3, which="both")
        x.set_xscale("log", base=2)
        x.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def cmd_project(a):
    rows, cmp = project(a)
    text = table(rows, a, cmp, "atas performance model: projected ATAS step, weak scaling (tools/perf_model.py)")
    print("\n".join(text))
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "projection.txt"), "w") as f:
            f.write("\n".join(text) + "\n")
        with open(os.path.join(a.out, "projection.json"), "w") as f:
            json.dump(rows, f, indent=1)
        plot([("model", rows, "o-")], os.path.join(a.out, "projection.png"),
             "ATAS step, projected (NCCL, %d GPUs/node, %d x %.0f Gbit/s per node)" % (
                 a.gpus_per_node, a.nics_per_node, a.nic_gbit))


def cmd_report(a):
    """docs/results/scaling_projection.{txt,png}: the measured fp32 compute and a bf16 kernel path
    at --target-mfu, 1 and 8-512 GPUs, then the goal (ViT-L/14 >= 90% weak-scaling efficiency at
    64 GPUs) and what each fix does to it"""
    import copy
    out, sets = [], []
    for label, mfu in (("fp32 kernels as measured", 0.0), ("bf16 kernels at %.0f%% MFU" % (100 * a.target_mfu), a.target_mfu)):
        b = copy.copy(a)
        b.target_mfu, b.compute_scale = mfu, 1.0
        rows, cmp = project(b)
        out += table(rows, b, cmp, "scenario: %s" % label) + [""]
        sets.append((label, [r for r in rows], "o-" if mfu == 0 else "s--"))
    out.append("# goal: ViT-L/14 ATAS step >= 90%% weak-scaling efficiency at 64 GPUs (%d nodes, %d x %.0f Gbit/s "
               "per node); what each change does" % (64 // a.gpus_per_node, a.nics_per_node, a.nic_gbit))
    out.append("# %-34s %8s %9s %8s %8s %8s %8s  %s" % ("change", "1-GPU MFU", "step_ms", "exp_ms", "window",
                                                         "weak_eff", "goal", "bottleneck"))
    fixes = [("as designed (fp32 grads, 25 MiB)", {}), ("bf16 gradient reduction", dict(bf16_reduce=True)),
             ("buckets of 100 MiB", dict(bucket_mb=100.0)), ("buckets of 5 MiB", dict(bucket_mb=5.0)),
             ("2 groups per rank", dict(groups_per_rank=2)), ("ZeRO-1", dict(zero1=True)),
             ("2x NDR instead of 4x", dict(nics_per_node=2)),
             ("2x NDR + bf16 reduction", dict(nics_per_node=2, bf16_reduce=True))]
    for mfu in (0.0, a.target_mfu, a.stress_mfu):
        for name, kw in fixes:
            b = copy.copy(a)
            b.target_mfu, b.compute_scale, b.models = mfu, 1.0, "vitl14"
            for k, v in kw.items():
                setattr(b, k, v)
            cmp = scaled_compute(b)
            m = MODELS["vitl14"]
            r1, r = predict(m, 1, b, cmp), predict(m, 64, b, cmp)
            eff = r1["step_ms"] / r["step_ms"]
            out.append("  %-34s %8.1f%% %9.1f %8.2f %8.2f %8.3f %8s  %s" % (
                name, 100 * r1["mfu"], r["step_ms"], r["comm_exposed_ms"], r["window_ms"], eff,
                "met" if eff >= 0.9 else "MISSED", r["bottleneck"]))
        out.append("")
    text = "\n".join(out)
    print(text)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "scaling_projection.txt"), "w") as f:
        f.write(text)
    plot(sets, os.path.join(a.out, "scaling_projection.png"),
         "ATAS step projected, NCCL on %d GPUs/node, %d x %.0f Gbit/s per node (fp32 measured vs bf16 at %.0f%% MFU)" % (
             a.gpus_per_node, a.nics_per_node, a.nic_gbit, 100 * a.target_mfu))


# ----------------------------------------------------------------------------- validation
def run_phases(run_dir, skip):
    """mean phase ms of a run's metrics.jsonl (first `skip` steps and checkpoint steps left out),
    its comm bytes and the steps averaged"""
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        ms = [json.loads(l) for l in f if l.strip()][skip:]
    # a step that wrote a checkpoint measures the file system, not the step
    ms = [x for x in ms if not x["ms"].get("checkpoint", 0)] or ms
    if not ms:
        raise SystemExit("perf_model: %s/metrics.jsonl has no step after the first %d" % (run_dir, skip))
    mean = {k: sum(x["ms"][k] for x in ms) / len(ms) for k in ms[0]["ms"]}
    return mean, ms[-1]["comm_bytes"], ms


def cpu_step_ms(base, ranks, cores, threads, comm_bytes, net):
    """a CPU run at `ranks` ranks from its 1-rank phases: compute shares the cores when
    ranks x threads exceed them; the MPI allreduce is alpha-beta (ring over TCP)"""
    share = max(1.0, ranks * threads / cores)
    compute = sum(v for k, v in base.items() if k not in ("step", "comm", "checkpoint", "data_wait"))
    comm = 0.0
    if ranks > 1:
        comm = 2 * (ranks - 1) * net["alpha_ms"] + 2 * (ranks - 1) / ranks * comm_bytes / net["beta_bytes_per_ms"]
        comm *= share  # the progress of a TCP allreduce needs CPU time too
    return compute * share + comm, compute * share, comm


def validate(a):
    lines = ["# atas performance model: predictions against measurements (tools/perf_model.py validate)",
             "# error = (predicted - measured) / measured"]
    pts = []
    lines.append("# 1) compute: whole ViT forward+backward composed from atas_bench's per-op rows of the "
                 "same file (one block's shape) vs the measured ViT rows")
    lines.append("# %-5s %-9s %4s %5s %-7s %10s %10s %8s" % ("dev", "model", "res", "batch", "output",
                                                             "meas_ms", "pred_ms", "error"))
    for dev, path in (("cuda", a.bench_cuda), ("cpu", a.bench_cpu)):
        if not os.path.exists(path):
            lines.append("#   %s: %s missing" % (dev, path))
            continue
        ops, vits = read_bench(path)
        cmp = Compute(ops, path)
        fit = next((v for v in vits if v["model"] == "ViT-B/16" and v["res"] > 224 and v["output"] == "global"), None)
        if fit:
            cmp.fit_attention(MODELS["vitb16"], fit)
        for v in vits:
            m = MODELS["vitb16"] if v["model"] == "ViT-B/16" else None
            if not m:
                continue
            if v is fit:  # calibration point of the attention speed at its sequence length
                lines.append("  %-5s %-9s %4d %5d %-7s %10.1f %10s %8s  (calibrates attention at %d tokens: x%.2f)" % (
                    dev, v["model"], v["res"], v["batch"], v["output"], v["ms"], "-", "-", cmp.att_t[0] if cmp.att_t else 0,
                    cmp.att_t[1] if cmp.att_t else 1))
                continue
            # every tensor trainable in the benchmark: the patch embedding's weight gradient too
            gemm, attn, patch = pass_flops(m, v["batch"], tokens(m, v["res"]))
            pred = cmp.pass_ms(m, v["batch"], tokens(m, v["res"]), True) + 2 * patch / cmp.lin_b
            err = (pred - v["ms"]) / v["ms"]
            pts.append(dict(kind="compute", dev=dev, err=err))
            lines.append("  %-5s %-9s %4d %5d %-7s %10.1f %10.1f %+7.1f%%" % (
                dev, v["model"], v["res"], v["batch"], v["output"], v["ms"], pred, 100 * err))
    # measured multi-rank points (CPU ranks, simulated nodes, a cluster sweep): the
    # collector jobs/atas_sweep_collect.py predicts each from the smallest run of its sweep
    for t in a.sweep_tables:
        with open(t) as f:
            tab = f.read()
        lines.append("# 2) %s (jobs/atas_sweep_collect.py):" % os.path.relpath(t, ROOT))
        lines += [l if l.startswith("#") else l for l in tab.rstrip().splitlines()]
        for l in tab.splitlines():
            mm = re.match(r"^\s+\d+\s+(\d+)\s.*\s([+-][\d.]+)%\s+[\d.]+$", l)
            if mm and int(mm.group(1)) > 1:
                pts.append(dict(kind="cpu", err=float(mm.group(2)) / 100))
    for kind in ("compute", "cpu"):
        e = [abs(p["err"]) for p in pts if p["kind"] == kind]
        if e:
            lines.append("# %s: %d points, mean |error| %.1f%%, worst %.1f%%" % (
                kind, len(e), 100 * sum(e) / len(e), 100 * max(e)))
    print("\n".join(lines))
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return pts


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("project", help="projected table (+ JSON, PNG with --out)")
    add_inputs(pp)
    pp.add_argument("--models", default="vitb16,vitl14")
    pp.add_argument("--gpus", default=",".join(str(2 ** k) for k in range(10)))
    pp.add_argument("--out", default="")
    pr = sub.add_parser("report", help="docs/results/scaling_projection.{txt,png}: scenarios and the 64-GPU goal")
    add_inputs(pr)
    pr.add_argument("--models", default="vitb16,vitl14")
    pr.add_argument("--gpus", default="1,8,16,32,64,128,256,512")
    pr.add_argument("--stress-mfu", type=float, default=0.6, help="a faster compute path for the goal table")
    pr.add_argument("--out", default=RESULTS)
    pv = sub.add_parser("validate", help="predictions against every measured point")
    pv.add_argument("--bench-cuda", default=os.path.join(RESULTS, "bench_cuda.txt"))
    pv.add_argument("--bench-cpu", default=os.path.join(RESULTS, "bench_cpu.txt"))
    pv.add_argument("--sweep-tables", nargs="*", default=[],
                    help="scaling.txt tables of jobs/atas_sweep_collect.py (measured multi-rank points)")
    pv.add_argument("--out", default="", help="write the table to this file too")
    a = p.parse_args(argv)
    for k in ("gpus",):
        if hasattr(a, k) and not re.fullmatch(r"\d+(,\d+)*", getattr(a, k)):
            p.error("--%s: comma-separated GPU counts" % k)
    if a.cmd == "project":
        for k in a.models.split(","):
            if k not in MODELS:
                p.error("--models: unknown %s (%s)" % (k, ", ".join(MODELS)))
        if not os.path.exists(a.bench):
            p.error("--bench %s: no such file (an atas_bench table measured on the target device)" % a.bench)
        cmd_project(a)
    elif a.cmd == "report":
        if a.target_mfu <= 0:
            a.target_mfu = 0.4
        cmd_report(a)
    else:
        validate(a)


if __name__ == "__main__":
    main()
