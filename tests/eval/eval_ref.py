"""Independent reference of the region-classification eval (EVAL-PROTOCOL.md),
for the tests: numpy + Pillow + an encoder reference (PyTorch, float64):
tools/ref/clip_ref.py by default, tools/ref/eva_ref.py for EVA02 (encode=).
Written from the documented semantics, not from the C code."""
import math

import numpy as np
import torch
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def bilinear(fm, y, x):
    """torchvision roi_align's bilinear_interpolate on a [H,W,C] map."""
    H, W, _ = fm.shape
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return np.zeros(fm.shape[2])
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(math.floor(y)), int(math.floor(x))
    if yl >= H - 1:
        yl = yh = H - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= W - 1:
        xl = xh = W - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    return ((1 - ly) * (1 - lx) * fm[yl, xl] + (1 - ly) * lx * fm[yl, xh] +
            ly * (1 - lx) * fm[yh, xl] + ly * lx * fm[yh, xh])


def roi_align_ref(fm, box, scale):
    """roi_align(output_size=1, spatial_scale=scale, sampling_ratio=-1, aligned=True), box x0,y0,x1,y1."""
    x0, y0, x1, y1 = [v * scale - 0.5 for v in box]
    rw, rh = x1 - x0, y1 - y0
    gh, gw = math.ceil(rh), math.ceil(rw)
    acc = np.zeros(fm.shape[2])
    for iy in range(gh):
        for ix in range(gw):
            acc += bilinear(fm, y0 + (iy + 0.5) * rh / gh, x0 + (ix + 0.5) * rw / gw)
    return acc / max(gh * gw, 1)


def rnd(x):
    return int(round(x))  # Python's round: half to even, as CLIPSelf's ResizeLongest


def resize_f(planes, size, box=None):
    """Pillow mode-F BICUBIC resize of each [h,w] plane to size=(w,h), clipped to the 8-bit range."""
    return np.clip(np.stack([np.asarray(Image.fromarray(p.astype(np.float32), mode="F").resize(
        size, Image.BICUBIC, box=box)) for p in planes]), 0, 255)


def crop_input(orig, box, R):
    """PIL crop (box rounded), then CLIP's preprocessing: short side to R (bicubic,
    long side truncated), centre crop R x R."""
    x0, y0, x1, y1 = [int(round(v)) for v in box]
    c = orig[:, y0:y1, x0:x1]
    ch, cw = c.shape[1:]
    nw, nh = (R, int(R * ch / cw)) if cw <= ch else (int(R * cw / ch), R)
    r = resize_f(c, (nw, nh))
    top, left = int(round((nh - R) / 2.0)), int(round((nw - R) / 2.0))
    return r[:, top:top + R, left:left + R]


def normalise_img(x):
    return ((x / np.float32(255.0) - MEAN[:, None, None]) / STD[:, None, None]).astype(np.float32)


def unit(v):
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 0, n, 1)


def top5(f, cls):
    return list(np.argsort(-(cls @ f), kind="stable")[:5])


def evaluate(images, cats, params, cfg, cls, isthing, S, crops=True, encode=None):
    """images: list of dict(rgb [h,w,3] u8, ids [h,w] or None, regions [(x,y,w,h,label,isthing,seg_id)]).
    encode(params, cfg, x, want_dense=, want_global=) -> (global, dense): clip_ref.encode by default.
    Returns {metric: value or None}, {method.kind: regions}."""
    if encode is None:
        import clip_ref
        encode = clip_ref.encode
    P, R = cfg["patch"], cfg["grid"] * cfg["patch"]
    G = S // P
    rec = {m: [] for m in ("rois", "maskpool", "crops")}
    seg = []
    for im in images:
        rgb, ids = im["rgb"], im["ids"]
        h, w = rgb.shape[:2]
        L = max(w, h)
        nw, nh = max(1, rnd(w * S / L)), max(1, rnd(h * S / L))
        sc = min(nw / w, nh / h)
        orig = rgb.transpose(2, 0, 1).astype(np.float32)
        x = np.zeros((3, S, S), np.float32)  # black padding, then normalised
        x[:, :nh, :nw] = resize_f(orig, (nw, nh))
        x = normalise_img(x)
        with torch.no_grad():
            _, d = encode(params, cfg, torch.tensor(x[None], dtype=torch.float64), want_global=False)
        dense = unit(d[0].numpy())
        seg.append((np.argmax(dense.reshape(-1, dense.shape[-1]) @ cls.T, 1).reshape(G, G), (nh + P - 1) // P,
                    (nw + P - 1) // P))
        for (bx, by, bw, bh, label, thing, sid) in im["regions"]:
            if ids is not None and not thing:
                ys, xs = np.nonzero(ids == sid)
                bx, by, bw, bh = xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()  # mask2box
                if bw * bh < 64 or bw * bh > 1024 ** 2:
                    continue
            f = unit(roi_align_ref(dense, (bx, by, bx + bw, by + bh), sc / P))
            rec["rois"].append((label, thing, top5(f, cls)))
            if ids is not None:
                mw, mh = max(1, rnd(w * G / L)), max(1, rnd(h * G / L))
                m = torch.nn.functional.interpolate(torch.tensor((ids == sid).astype(np.float32))[None, None],
                                                    size=(mh, mw), mode="bicubic", align_corners=False)[0, 0].numpy()
                tm = np.zeros((G, G), bool)
                tm[:mh, :mw] = m > 0
                rec["maskpool"].append((label, thing, top5(unit(dense[tm].mean(0)), cls) if tm.any() else [-1] * 5))
            if crops:
                cx, cy = bx + bw / 2, by + bh / 2
                box = ((max(0, cx - 0.75 * bw), max(0, cy - 0.75 * bh), min(w, cx + 0.75 * bw), min(h, cy + 0.75 * bh))
                       if thing else (bx, by, bx + bw, by + bh))  # stuff: the mask box as is
                c = normalise_img(crop_input(orig, box, R))
                with torch.no_grad():
                    g, _ = encode(params, cfg, torch.tensor(c[None], dtype=torch.float64), want_dense=False)
                rec["crops"].append((label, thing, top5(unit(g[0].numpy()), cls)))
    out, counts = {}, {}
    for m, rows in rec.items():
        if not rows:
            continue
        for kind, want in (("thing", 1), ("stuff", 0)):
            per = {}
            for label, thing, t in rows:
                if thing == want:
                    per.setdefault(label, []).append((t[0] == label, label in t))
            counts["%s.%s" % (m, kind)] = sum(len(v) for v in per.values())
            for k, j in (("macc1", 0), ("macc5", 1)):
                out["%s.%s.%s" % (m, kind, k)] = (100.0 * np.mean([np.mean([r[j] for r in v]) for v in per.values()])
                                                  if per else None)
    return out, counts, seg
