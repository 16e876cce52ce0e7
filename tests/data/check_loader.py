"""Independent check of loader output (dumped by test_loader): every view equals
Pillow's mode-"F" BILINEAR resize of the corpus image then CLIP normalisation, and
every mosaic cell equals the same of its planned image at the cell size.
usage: check_loader.py corpus.h5 dump.h5 n   (n: images per group)"""
import sys
import h5py
import numpy as np
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)

corpus = h5py.File(sys.argv[1], "r")["images"]
d = h5py.File(sys.argv[2], "r")
views, mosaics, idx, plans = d["views"][...], d["mosaics"][...], d["image_index"][...], d["plans"][...]
R, C = views.shape[-1], mosaics.shape[-1]
n_views, n_mos = len(idx), len(plans)
n = int(sys.argv[3])

def resized(img, size):
    """img uint8 [S,S,3] -> float32 [3,size,size] normalised, via Pillow mode F per channel"""
    out = np.empty((3, size, size), np.float32)
    for c in range(3):
        ch = Image.fromarray(img[..., c].astype(np.float32), "F")
        out[c] = np.asarray(ch.resize((size, size), Image.BILINEAR), np.float32)
    return (out / np.float32(255) - MEAN[:, None, None]) / STD[:, None, None]

worst = 0.0
for i in range(n_views):
    ref = resized(corpus[idx[i]], R)
    worst = max(worst, float(np.abs(ref - views[i]).max()))
assert worst < 2e-5, f"views differ from Pillow by {worst}"
m = n_mos * n // n_views  # mosaics per group; the dump is step-major, group-major
cells = 0
worst_m = 0.0
for k in range(n_mos):
    g = int(plans[k, 0])
    cp = C // g
    for r in range(g):
        for q in range(g):
            slot = int(plans[k, 1 + r * g + q])
            grp = k // m
            ref = resized(corpus[idx[grp * n + slot]], cp)
            got = mosaics[k, :, r * cp:(r + 1) * cp, q * cp:(q + 1) * cp]
            worst_m = max(worst_m, float(np.abs(ref - got).max()))
            cells += 1
assert worst_m < 2e-5, f"mosaic cells differ from Pillow by {worst_m}"
print(f"check_loader: {n_views} views and {cells} mosaic cells match Pillow (max |diff| {max(worst, worst_m):.2e})")
