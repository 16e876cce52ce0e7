"""The evaluation's pooling primitives against independent references.

- RoIAlign 1x1: a loop-by-loop numpy transcription of torchvision.ops.roi_align's
  documented semantics (aligned=True: -0.5 pixel shift, no minimum size;
  sampling_ratio=-1: ceil(roi_h) x ceil(roi_w) samples; bilinear sampling that is
  0 beyond [-1, H] x [-1, W] and clamped at the border), in float64.
  (torchvision itself cannot be installed next to Debian's torch 1.13 on this
  Python, so the reference is written from its documentation.)
- The rectangular resize: Pillow's own Image.resize(mode "F", BILINEAR or BICUBIC, box).
- Token masks: torch.nn.functional.interpolate(mode="bicubic", align_corners=False)
  of the 0/1 mask (longest side to G, as CLIPSelf's torchvision resize of a tensor),
  pad, > 0; mask pooling: numpy mean over the masked tokens.
Usage: test_eval_pool.py EVAL_POOL_DRIVER
"""
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eval_ref import roi_align_ref  # noqa: E402

DRIVER = sys.argv[1]
rng = np.random.default_rng(3)
fails = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


def main(tmp):
    H, W, C = 7, 9, 5
    fm = rng.standard_normal((H, W, C)).astype(np.float32)
    boxes = [[0, 0, 9, 7], [0.3, 1.2, 4.7, 6.1], [-3, -2, 2, 3], [6.5, 5.5, 12, 10], [2, 2, 2.6, 2.4],
             [8.8, 6.8, 9.0, 7.0], [-5, -5, -1.8, -1.6], [1, 1, 3, 1.0001]]
    for _ in range(40):
        a, b = sorted(rng.uniform(-2, W + 2, 2)), sorted(rng.uniform(-2, H + 2, 2))
        boxes.append([a[0], b[0], a[1], b[1]])
    boxes = np.array(boxes, np.float32)
    # a second run in pixel units at 1/16 (the eval's spatial scale)
    G = 6
    gmap = rng.standard_normal((G, G, C)).astype(np.float32)
    ih, iw = 37, 53
    ids = np.zeros((ih, iw), np.int32)
    ids[3:20, 5:30] = 7
    ids[25:37, :] = 300
    ids[10, 50] = 99          # one pixel
    ids[0:2, 0:53] = 65536 + 2
    yy, xx = np.mgrid[0:ih, 0:iw]
    ids[(yy - 14) ** 2 + (xx - 40) ** 2 < 80] = 5  # a disc
    seg = np.array([7, 300, 99, 65538, 5], np.int32)
    img = (rng.random((3, 31, 44)) * 255).astype(np.float32)
    rbox = np.array([[0, 0, 44, 31], [3.5, 2.25, 40.0, 20.5], [10, 10, 14, 30], [0, 0, 44, 31]] * 2, np.float32)
    rsize = np.array([[22, 16, 0], [16, 16, 0], [7, 24, 0], [90, 61, 0], [22, 16, 1], [16, 16, 1], [7, 24, 1],
                      [90, 61, 1]], np.float32)
    inp, out = os.path.join(tmp, "in.h5"), os.path.join(tmp, "out.h5")
    for scale, tag in ((1.0, "token units"), (0.25, "scale 1/4")):
        with h5py.File(inp, "w") as f:
            f["map"], f["boxes"], f["gmap"], f["ids"], f["seg"] = fm, boxes / scale, gmap, ids, seg
            f["img"], f["rbox"], f["rsize"] = img, rbox, rsize
            f.attrs["scale"] = scale
        p = subprocess.run([DRIVER, inp, out], capture_output=True, text=True)
        if p.returncode != 0:
            print(p.stdout, p.stderr)
            raise SystemExit("driver failed")
        with h5py.File(out, "r") as f:
            roi = np.asarray(f["roi"])
            tmask, mpool, count = np.asarray(f["tmask"]), np.asarray(f["mpool"]), np.asarray(f["count"])
            resized = [np.asarray(f["resized_%d" % q]) for q in range(len(rbox))]
        ref = np.stack([roi_align_ref(fm.astype(np.float64), b / scale, scale) for b in boxes])
        err = np.abs(roi - ref).max()
        check(err < 1e-5, "roi_align 1x1 aligned adaptive, %d boxes (%s): max abs err %.2e" % (len(boxes), tag, err))
    check(np.abs(roi[6]).max() == 0, "a box wholly beyond -1 samples zero")

    L = max(iw, ih)
    mw, mh = max(1, round(iw * G / L)), max(1, round(ih * G / L))
    for k, s in enumerate(seg):
        m = torch.nn.functional.interpolate(torch.tensor((ids == s).astype(np.float32))[None, None], size=(mh, mw),
                                            mode="bicubic", align_corners=False)[0, 0].numpy()
        want = np.zeros((G, G), np.int32)
        want[:mh, :mw] = m > 0
        check((tmask[k] == want).all(), "token mask of segment %d (%d tokens) vs torch bicubic" % (s, want.sum()))
        mp = gmap[want > 0].astype(np.float64).mean(0) if want.sum() else np.zeros(C)  # no token: zeros
        check(count[k] == want.sum() and np.abs(mpool[k] - mp).max() < 1e-5, "mask pool of segment %d" % s)
    for q, (b, sz) in enumerate(zip(rbox, rsize)):
        flt = Image.BICUBIC if sz[2] else Image.BILINEAR
        want = np.stack([np.asarray(Image.fromarray(img[c], mode="F").resize(
            (int(sz[0]), int(sz[1])), flt, box=tuple(float(v) for v in b))) for c in range(3)])
        err = np.abs(resized[q] - want).max()
        check(err < 1e-3, "resize box %s -> %dx%d %s vs Pillow mode F: max abs err %.2e"
              % (list(b), sz[0], sz[1], "BICUBIC" if sz[2] else "BILINEAR", err))


with tempfile.TemporaryDirectory() as t:
    main(t)
print("test_eval_pool: %s" % ("FAILED: %d" % len(fails) if fails else "all passed"))
sys.exit(1 if fails else 0)
