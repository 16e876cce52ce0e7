#!/usr/bin/env python3
"""Zero-shot segmentation picture: every token labelled by its nearest class
embedding, drawn over the image, one row per weights file (e.g. pretrained vs
trained), a ground-truth row where panoptic masks were given, a legend, and the
mIoU of each row (over tokens with a ground-truth label; classes that occur in
the ground truth or the prediction of those tokens, summed over the images).

Input: HDF5 files written by `atas_eval --segment N --segment-out FILE` (same
images, same classes). Usage:
    plot_segmentation.py pre.h5 trained.h5 -o seg.png [--images 4] [--labels a,b]
"""
import argparse
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402


def s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load(path):
    with h5py.File(path, "r") as f:
        if s(f.attrs.get("format", "")) != "atas-segmentation":
            raise SystemExit("%s: not an atas segmentation file (format attribute %r)" % (path, f.attrs.get("format")))
        return dict(image=np.asarray(f["image"]), pred=np.asarray(f["pred"]), gt=np.asarray(f["gt"]),
                    valid=np.asarray(f["valid"]), ids=np.asarray(f["image_ids"]), label=s(f.attrs["label"]),
                    names=s(f.attrs["class_names"]).split("\n"), patch=int(f.attrs["patch"]),
                    has_gt=int(f.attrs["has_gt"]))


def miou(pred, gt):
    """mIoU over tokens with gt >= 0 of all given images together."""
    m = gt >= 0
    p, g = pred[m], gt[m]
    ious = []
    for c in np.union1d(np.unique(p), np.unique(g)):
        inter, union = np.sum((p == c) & (g == c)), np.sum((p == c) | (g == c))
        if union:
            ious.append(inter / union)
    return 100.0 * float(np.mean(ious)) if ious else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--images", type=int, default=0, help="at most this many images (columns)")
    ap.add_argument("--labels", default="", help="comma-separated row labels (default: the files' labels)")
    ap.add_argument("--alpha", type=float, default=0.55)
    a = ap.parse_args()
    rows = [load(p) for p in a.files]
    ref = rows[0]
    for p, r in zip(a.files[1:], rows[1:]):
        if r["names"] != ref["names"] or not np.array_equal(r["ids"], ref["ids"]) or r["pred"].shape != ref["pred"].shape:
            raise SystemExit("%s: other images or classes than %s" % (p, a.files[0]))
    labels = a.labels.split(",") if a.labels else [r["label"] or p for r, p in zip(rows, a.files)]
    if len(labels) != len(rows):
        raise SystemExit("--labels: %d labels for %d files" % (len(labels), len(rows)))
    n = ref["pred"].shape[0] if a.images <= 0 else min(a.images, ref["pred"].shape[0])
    K, P = len(ref["names"]), ref["patch"]
    grid_rows = ([("ground truth", ref["gt"], None)] if ref["has_gt"] else []) + \
        [(lab, r["pred"], miou(r["pred"][:n], r["gt"][:n]) if r["has_gt"] else None) for lab, r in zip(labels, rows)]
    # distinct colours for the classes shown (tab20, tab20b, tab20c, then golden-ratio hues)
    shown = sorted({int(v) for _, lbl, _ in grid_rows for i in range(n)
                    for v in np.unique(lbl[i][:ref["valid"][i][0], :ref["valid"][i][1]]) if v >= 0})
    palette = [c[:3] for name in ("tab20", "tab20b", "tab20c") for c in plt.get_cmap(name).colors]
    palette += [matplotlib.colors.hsv_to_rgb(((0.618 * j) % 1, 0.65, 0.9)) for j in range(max(0, len(shown) - 60))]
    colours = np.zeros((K, 3))
    for j, k in enumerate(shown):
        colours[k] = palette[j]
    fig, axes = plt.subplots(len(grid_rows), n, figsize=(3.2 * n + 2.2, 3.2 * len(grid_rows)), squeeze=False)
    used = set()
    for ri, (lab, lbl, mi) in enumerate(grid_rows):
        for i in range(n):
            gh, gw = ref["valid"][i]
            img = ref["image"][i][:gh * P, :gw * P].astype(np.float32) / 255
            t = lbl[i][:gh, :gw]
            used.update(int(v) for v in np.unique(t) if v >= 0)
            over = colours[np.clip(t, 0, K - 1)]
            over = np.repeat(np.repeat(over, P, 0), P, 1)[:img.shape[0], :img.shape[1]]
            mask = np.repeat(np.repeat(t >= 0, P, 0), P, 1)[:img.shape[0], :img.shape[1], None]
            blend = np.where(mask, (1 - a.alpha) * img + a.alpha * over, img)
            ax = axes[ri][i]
            ax.imshow(blend, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if ri == 0:
                ax.set_title("image %d" % ref["ids"][i], fontsize=9)
            if i == 0:
                ax.set_ylabel(lab + ("\nmIoU %.1f%%" % mi if mi is not None else ""), fontsize=10)
        if mi is not None:
            print("%s: mIoU %.2f%% over %d image(s)" % (lab, mi, n))
    handles = [Patch(color=colours[k], label=ref["names"][k]) for k in sorted(used)]
    fig.legend(handles=handles, loc="center right", fontsize=8, ncol=1 + len(handles) // 30, frameon=False)
    fig.suptitle("zero-shot segmentation: each token -> nearest class embedding", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1 - 1.8 / (3.2 * n + 2.2), 0.95))
    fig.savefig(a.output, dpi=100)
    print("wrote %s (%d row(s) x %d image(s), %d classes shown)" % (a.output, len(grid_rows), n, len(handles)))


if __name__ == "__main__":
    sys.exit(main())
