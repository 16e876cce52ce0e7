#!/usr/bin/env python3
"""Dense feature maps as pictures: each image of an atas_embed output next to its
dense map projected to RGB (the first three principal components of all dense tokens
of the file, shared so colours compare across images), and optionally the same
images' maps from a second file (e.g. pretrained vs ATAS-trained weights).

usage: plot_features.py EMB.h5 CORPUS.h5 OUT.png [--other EMB2.h5] [--max 6]
                        [--label TEXT] [--other-label TEXT] [--title TEXT]
EMB.h5: atas_embed output (/dense [N,h,w,E]); CORPUS.h5: the corpus it embedded
(images shown as stored). Coherent objects show as flat colour regions.
"""
import argparse

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def pca_rgb(maps, basis=None):
    """maps [N,h,w,E] -> [N,h,w,3] in [0,1]; basis from these maps unless given."""
    X = maps.reshape(-1, maps.shape[-1]).astype(np.float64)
    X /= np.linalg.norm(X, axis=1, keepdims=True) + 1e-12
    if basis is None:
        mu = X.mean(0)
        _, _, vt = np.linalg.svd(X - mu, full_matrices=False)
        basis = (mu, vt[:3].T)
    mu, V = basis
    Y = (X - mu) @ V
    lo, hi = np.percentile(Y, 1, axis=0), np.percentile(Y, 99, axis=0)
    Y = np.clip((Y - lo) / np.maximum(hi - lo, 1e-12), 0, 1)
    return Y.reshape(maps.shape[:3] + (3,)), basis


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("emb")
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--other")
    ap.add_argument("--max", type=int, default=6)
    ap.add_argument("--label", default="dense PCA", help="row label of EMB.h5's maps")
    ap.add_argument("--other-label", default="other PCA", help="row label of --other's maps")
    ap.add_argument("--title", default="atas dense features (first 3 principal components as RGB)")
    a = ap.parse_args()
    with h5py.File(a.emb, "r") as f:
        n = min(a.max, f["dense"].shape[0])
        dense = np.asarray(f["dense"][:n])
        names = [x.decode(errors="replace") if isinstance(x, bytes) else str(x) for x in f["names"][:n]]
    with h5py.File(a.corpus, "r") as f:
        imgs = np.asarray(f["images"][:n])
    rgb, basis = pca_rgb(dense)
    rows = [("image", None), (a.label, rgb)]
    if a.other:
        with h5py.File(a.other, "r") as f:
            rows.append((a.other_label, pca_rgb(np.asarray(f["dense"][:n]), basis)[0]))
    fig, ax = plt.subplots(len(rows), n, figsize=(2.2 * n, 2.3 * len(rows)), squeeze=False)
    for j in range(n):
        for i, (label, data) in enumerate(rows):
            ax[i, j].imshow(imgs[j] if data is None else data[j], interpolation="nearest")
            ax[i, j].set_xticks([]), ax[i, j].set_yticks([])
            if j == 0:
                ax[i, j].set_ylabel(label)
        ax[0, j].set_title(names[j].split("/")[-1][:22], fontsize=8)
    fig.suptitle(a.title)
    fig.tight_layout()
    fig.savefig(a.out, dpi=100)
    print("plot_features: wrote", a.out)


if __name__ == "__main__":
    main()
