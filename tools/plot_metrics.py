#!/usr/bin/env python3
"""Plot a run's metrics.jsonl as a PNG: the losses, the learning rate, throughput (with
MFU when logged) and, when records carry an "eval" object such as
{"step": 1000, "eval": {"rois.thing.macc1": 0.41, ...}}, one more panel with those curves.

    tools/plot_metrics.py RUN_DIR/metrics.jsonl OUT.png [--title TEXT] [--smooth N]

A torn last line (a run still writing) is skipped with a note; any other line that is not
JSON is an error naming the file and line."""
import argparse
import json
import math
import sys


def load(path):
    train, evals = [], []
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        sys.exit("plot_metrics: %s: %s" % (path, e.strerror))
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            if i == len(lines):
                print("plot_metrics: %s:%d: torn last line skipped (a run still writing?)" % (path, i), file=sys.stderr)
                continue
            sys.exit("plot_metrics: %s:%d: not JSON (%s)" % (path, i, e.msg))
        if not isinstance(r, dict) or "step" not in r:
            sys.exit("plot_metrics: %s:%d: expected an object with a \"step\"" % (path, i))
        if isinstance(r.get("eval"), dict):
            evals.append(r)
        if "total" in r:
            train.append(r)
    if not train and not evals:
        sys.exit("plot_metrics: %s: no training or eval records" % path)
    return train, evals


def series(recs, key):
    xs, ys = [], []
    for r in recs:
        v = r.get(key)
        xs.append(r["step"])
        ys.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan)
    return xs, ys


def smooth(ys, n):
    if n <= 1:
        return ys
    out, acc = [], []
    for y in ys:
        acc.append(y)
        acc = acc[-n:]
        good = [a for a in acc if not math.isnan(a)]
        out.append(sum(good) / len(good) if good else math.nan)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("metrics")
    ap.add_argument("out")
    ap.add_argument("--title", default=None)
    ap.add_argument("--smooth", type=int, default=1, help="moving average over N steps (losses, images/s)")
    a = ap.parse_args()
    train, evals = load(a.metrics)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 + (1 if evals else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(9, 2.6 * panels), sharex=True)
    ax = axes[0]
    for k in ("total", "g2l", "l2l", "g2g"):
        xs, ys = series(train, k)
        if any(not math.isnan(y) for y in ys):
            ax.plot(xs, smooth(ys, a.smooth), label=k, lw=1.8 if k == "total" else 1)
    skipped = [r["step"] for r in train if r.get("skipped")]
    for s in skipped:
        ax.axvline(s, color="red", alpha=0.3, lw=0.8)
    ax.set_ylabel("loss")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8, ncol=4)
    ax.grid(alpha=0.3)
    ax.set_title(a.title or "%s (%d steps%s)" % (a.metrics, len(train),
                                                  ", %d skipped (red)" % len(skipped) if skipped else ""), fontsize=9)

    ax = axes[1]
    xs, ys = series(train, "lr")
    ax.plot(xs, ys, color="tab:purple")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)

    ax = axes[2]
    xs, ys = series(train, "images_per_s")
    ax.plot(xs, smooth(ys, a.smooth), color="tab:green", label="images/s")
    ax.set_ylabel("images / s")
    ax.grid(alpha=0.3)
    xs, mfu = series(train, "mfu")
    if any(not math.isnan(y) for y in mfu):
        ax2 = ax.twinx()
        ax2.plot(xs, [100 * y for y in smooth(mfu, a.smooth)], color="tab:orange", lw=0.8, label="MFU %")
        ax2.set_ylabel("MFU (%)", color="tab:orange")

    if evals:
        ax = axes[3]
        keys = sorted({k for r in evals for k in r["eval"]})
        for k in keys:
            pts = [(r["step"], r["eval"][k]) for r in evals if isinstance(r["eval"].get(k), (int, float))]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=k)
        ax.set_ylabel("evaluation")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print("plot_metrics: %d training record(s)%s -> %s" % (
        len(train), ", %d eval record(s)" % len(evals) if evals else "", a.out))


if __name__ == "__main__":
    main()
