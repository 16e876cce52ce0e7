#!/usr/bin/python3
"""Weak scaling of atas_mpi: a fixed batch per rank (batch.groups = ranks x groups_per_rank),
1, 2, 4 ... ranks, on tiny.cfg and a small ViT; reads each run's metrics.jsonl and prints
a fixed-width table ('#' header lines) plus a PNG plot of images/s per rank and efficiency.
    tools/bench_scaling.py [--ranks 1,2,4] [--steps 12] [--skip 2] [--groups-per-rank 1]
                           [--models tiny,small] [--corpus data/demo.h5] [--threads 1] [--out bench_scaling]
The first --skip steps (allocation, prefetch fill) are left out of every average."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("ATAS_BINARY_DIR", os.path.join(ROOT, "build"))

# model overrides on top of configs/tiny.cfg
MODELS = {
    "tiny": [],  # 64 wide, 3 layers, patch 8, 64 px views, 128 px mosaics
    "small": ['model.preset=""', "model.patch=16", "model.width=192", "model.layers=6", "model.heads=3",
              "model.mlp=768", "model.embed=96", "model.grid=6", "data.resolution=96", "mosaic.canvas=192",
              "mosaic.grids=[2,4]"],
}


def run_one(model, ranks, a, work):
    name = "%s_r%d" % (model, ranks)
    sets = MODELS[model] + [
        'run.dir="%s"' % work, 'run.name="%s"' % name, 'data.corpus="%s"' % os.path.abspath(a.corpus),
        "run.steps=%d" % a.steps, "optim.warmup_steps=1", "checkpoint.every=0", "dist.check_every=0",
        "batch.groups=%d" % (ranks * a.groups_per_rank), "run.log_every=%d" % a.steps,
        "run.threads=%d" % a.threads]
    argv = [os.path.join(BIN, "atas_mpi"), os.path.join(ROOT, "configs", "tiny.cfg")]
    for s in sets:
        argv += ["--set", s]
    if ranks > 1 or a.mpirun_for_one:
        argv = ["mpirun", "--oversubscribe", "-n", str(ranks)] + argv
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    t0 = time.time()
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-3000:])
        raise SystemExit("bench_scaling: %s on %d rank(s) failed (exit %d)" % (model, ranks, r.returncode))
    with open(os.path.join(work, name, "metrics.jsonl")) as f:
        m = [json.loads(l) for l in f][a.skip:]
    step_ms = sum(x["ms"]["step"] for x in m) / len(m)
    comm_ms = sum(x["ms"]["comm"] for x in m) / len(m)
    imgs = ranks * a.groups_per_rank * 4  # group_images = 4 in tiny.cfg
    return {"model": model, "ranks": ranks, "img_s": imgs * 1e3 / step_ms, "step_ms": step_ms,
            "comm_frac": comm_ms / step_ms, "comm_bytes": m[-1]["comm_bytes"],
            "hidden": sum(x.get("comm_hidden_frac", 0) for x in m) / len(m), "wall_s": time.time() - t0}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default="1,2,4")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--skip", type=int, default=2)
    p.add_argument("--groups-per-rank", type=int, default=1)
    p.add_argument("--models", default="tiny,small")
    p.add_argument("--corpus", default=os.path.join(ROOT, "data", "demo.h5"))
    p.add_argument("--threads", type=int, default=1, help="compute threads per rank (fixed: weak scaling per core)")
    p.add_argument("--mpirun-for-one", action="store_true", help="start the 1-rank run under mpirun too")
    p.add_argument("--out", default="bench_scaling", help="directory for the table, the plot and the runs")
    a = p.parse_args()
    if a.steps <= a.skip:
        p.error("--steps must exceed --skip")
    ranks = [int(x) for x in a.ranks.split(",")]
    os.makedirs(a.out, exist_ok=True)
    work = os.path.join(os.path.abspath(a.out), "runs")
    shutil.rmtree(work, ignore_errors=True)
    rows = []
    for model in a.models.split(","):
        if model not in MODELS:
            p.error("unknown model %s (%s)" % (model, ", ".join(MODELS)))
        for n in ranks:
            rows.append(run_one(model, n, a, work))
    lines = ["# atas_mpi weak scaling: %d groups x 4 images per rank, %d steps (first %d skipped), %d cores, "
             "%d thread(s) per rank" % (a.groups_per_rank, a.steps, a.skip, os.cpu_count() or 1, a.threads),
             "# efficiency = (images/s per rank) / (images/s of 1 rank); comm = ms.comm / ms.step",
             "# %-6s %5s %12s %14s %10s %10s %8s %14s" % ("model", "ranks", "img/s total", "img/s per rank",
                                                         "efficiency", "ms/step", "comm", "comm B/step")]
    for r in rows:
        base = next(x for x in rows if x["model"] == r["model"] and x["ranks"] == ranks[0])
        r["per_rank"] = r["img_s"] / r["ranks"]
        r["eff"] = r["per_rank"] / (base["img_s"] / base["ranks"])
        lines.append("  %-6s %5d %12.1f %14.1f %10.3f %10.1f %7.1f%% %14d" % (
            r["model"], r["ranks"], r["img_s"], r["per_rank"], r["eff"], r["step_ms"], 100 * r["comm_frac"],
            r["comm_bytes"]))
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(a.out, "scaling.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(a.out, "scaling.json"), "w") as f:
        json.dump(rows, f, indent=1)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# matplotlib missing: no plot")
        return
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for model in a.models.split(","):
        rs = [r for r in rows if r["model"] == model]
        ax[0].plot([r["ranks"] for r in rs], [r["per_rank"] for r in rs], "o-", label=model)
        ax[1].plot([r["ranks"] for r in rs], [r["eff"] for r in rs], "o-", label=model)
    ax[0].set(xlabel="ranks", ylabel="images/s per rank", title="throughput per rank", xticks=ranks)
    ax[1].set(xlabel="ranks", ylabel="efficiency vs 1 rank", title="weak-scaling efficiency", xticks=ranks,
              ylim=(0, 1.1))
    ax[1].axhline(1.0, color="grey", lw=0.5)
    for x in ax:
        x.grid(alpha=0.3)
        x.legend()
    fig.suptitle("atas_mpi weak scaling (%d cores, %d thread(s) and %d x 4 images per rank)"
                 % (os.cpu_count() or 1, a.threads, a.groups_per_rank))
    fig.tight_layout()
    png = os.path.join(a.out, "scaling.png")
    fig.savefig(png, dpi=100)
    print("# plot: %s" % png)


if __name__ == "__main__":
    main()
