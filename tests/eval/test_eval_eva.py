"""atas_eval on EVA02-CLIP weights, end to end on the generated COCO data of test_eval.py.

A tiny random EVA02 (separate q/k/v, rotary, SwiGLU with its inner norms, eps
1e-6) saved as safetensors in the OpenCLIP/timm layout (visual.trunk.*) and the
same tensors in BAAI's EVA-CLIP layout. Checked: every metric (rois, maskpool,
crops; things/stuff; top-1/top-5) and the region counts against the independent
reference tests/eval/eval_ref.py driven by tools/ref/eva_ref.py (float64; the
eval size is a 8x8 grid, the pretrained one 3x3, so positions and rotary are
resampled; the dense map is CLIPSelf's EVA value path), the segmentation labels,
the instances JSON, the BAAI file giving the same JSON as the timm one, and 2
MPI ranks giving the same metrics as 1. No --act: the family comes from the weights.
Usage: test_eval_eva.py ATAS_EVAL
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)
SRC = os.environ.get("ATAS_SOURCE_DIR", ".")
sys.path.insert(0, os.path.join(SRC, "tools", "ref"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eval_ref  # noqa: E402
import eva_ref  # noqa: E402
from evaldata import STUFF, THINGS, make_data, write_classes  # noqa: E402

EVAL = sys.argv[1]
D, P, L, HEADS, Fh, E, G = 32, 4, 2, 2, 43, 16, 3
S = 32  # eval size: grid 8 (pretrained grid 3)
rng = np.random.default_rng(16)
fails = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


def r(*shape, s=1.0):
    return (s * rng.standard_normal(shape)).astype(np.float32)


def timm_dict():
    """OpenCLIP's timm EVA02 names (visual.trunk.*; q and v biased, k not)."""
    t = "visual.trunk."
    d = {t + "patch_embed.proj.weight": r(D, 3, P, P, s=0.1), t + "patch_embed.proj.bias": r(D, s=0.1),
         t + "cls_token": r(1, 1, D), t + "pos_embed": r(1, G * G + 1, D, s=0.5),
         t + "norm.weight": 1 + r(D, s=0.1), t + "norm.bias": r(D, s=0.1),
         t + "head.weight": r(E, D, s=0.2), t + "head.bias": r(E, s=0.1)}
    for l in range(L):
        p = "%sblocks.%d." % (t, l)
        for n in ("norm1", "norm2", "attn.norm"):
            d[p + n + ".weight"], d[p + n + ".bias"] = 1 + r(D, s=0.1), r(D, s=0.1)
        d[p + "mlp.norm.weight"], d[p + "mlp.norm.bias"] = 1 + r(Fh, s=0.1), r(Fh, s=0.1)
        for c in "qkv":
            d[p + "attn.%s_proj.weight" % c] = r(D, D, s=0.2)
        d[p + "attn.q_proj.bias"], d[p + "attn.v_proj.bias"] = r(D, s=0.1), r(D, s=0.1)
        d[p + "attn.proj.weight"], d[p + "attn.proj.bias"] = r(D, D, s=0.2), r(D, s=0.1)
        for w in ("fc1_g", "fc1_x"):
            d[p + "mlp.%s.weight" % w], d[p + "mlp.%s.bias" % w] = r(Fh, D, s=0.2), r(Fh, s=0.1)
        d[p + "mlp.fc2.weight"], d[p + "mlp.fc2.bias"] = r(D, Fh, s=0.2), r(D, s=0.1)
    return d


def baai_dict(tm):
    """The same tensors under BAAI EVA-CLIP names (visual.*, q_bias/v_bias, w1/w2/w3, inner_attn_ln, ffn_ln)."""
    ren = [("attn.q_proj.bias", "attn.q_bias"), ("attn.v_proj.bias", "attn.v_bias"), ("attn.norm.", "attn.inner_attn_ln."),
           ("mlp.norm.", "mlp.ffn_ln."), ("mlp.fc1_g.", "mlp.w1."), ("mlp.fc1_x.", "mlp.w2."), ("mlp.fc2.", "mlp.w3.")]
    out = {}
    for k, v in tm.items():
        n = "visual." + k[len("visual.trunk."):]
        for a, b in ren:
            n = n.replace(a, b)
        out[n] = v
    return out


def save_safetensors(path, d):
    hdr, off, blobs = {}, 0, []
    for k, v in d.items():
        b = np.ascontiguousarray(v, dtype="<f4").tobytes()
        hdr[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def run(args, mpi=0):
    cmd = ([shutil.which("mpirun"), "-n", str(mpi), "--oversubscribe"] if mpi else []) + [EVAL, "-q", *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def close(got, want, what):
    """every reference metric present and equal (1e-6), the same names, None where the reference has none"""
    gm = got.get("metrics", {})
    for k, v in sorted(want.items()):
        g = gm.get(k)
        check((v is None and g is None) or (v is not None and g is not None and abs(g - v) < 1e-6),
              "%s: %s = %s (reference %s)" % (what, k, g, v))
    check(set(gm) == set(want), "%s: the same metric names as the reference: %s" % (what, sorted(gm)))


def main(tmp):
    tm = timm_dict()
    wt, wb = os.path.join(tmp, "eva_timm.safetensors"), os.path.join(tmp, "eva_baai.safetensors")
    save_safetensors(wt, tm)
    save_safetensors(wb, baai_dict(tm))
    ref_imgs, pan, ins = make_data(tmp, rng)
    # 7 distractor classes after the data's 5 (ids the JSON does not use): top-5 of 12 is not a given
    extra = [(200 + i, "distractor%d" % i) for i in range(7)]
    K = len(THINGS) + len(STUFF) + len(extra)
    cls = eval_ref.unit(rng.standard_normal((K, E)))
    classes = os.path.join(tmp, "classes.h5")
    write_classes(classes, [c for c, _ in THINGS + STUFF + extra], [1] * 3 + [0] * 2 + [i % 2 for i in range(7)],
                  [n for _, n in THINGS + STUFF + extra], cls)
    common = ["--heads", str(HEADS), "--classes", classes, "--images", os.path.join(tmp, "images"), "--size", str(S)]
    params = eva_ref.from_layout({k: torch.tensor(v, dtype=torch.float64) for k, v in tm.items()}, "openclip")
    cfg = dict(patch=P, width=D, layers=L, heads=HEADS, mlp=Fh, embed=E, grid=G, ln_eps=1e-6)
    isthing = [1, 1, 1, 0, 0]
    panj, insj = os.path.join(tmp, "panoptic.json"), os.path.join(tmp, "instances.json")

    # (a) panoptic, timm layout: rois + maskpool + crops vs the EVA02 reference; segmentation labels
    out1, seg1 = os.path.join(tmp, "r1.json"), os.path.join(tmp, "seg.h5")
    p = run(["--weights", wt, *common, "--data", panj, "--crop-batch", "3", "-o", out1,
             "--segment", "3", "--segment-out", seg1, "--label", "eva02"])
    print(p.stdout, p.stderr)
    check(p.returncode == 0, "atas_eval on the timm-layout EVA02 file (panoptic)")
    if p.returncode:
        return
    got = json.load(open(out1))
    want, counts, seg = eval_ref.evaluate(ref_imgs, None, params, cfg, cls, isthing, S, encode=eva_ref.encode)
    close(got, want, "panoptic")
    check(all(k in want and want[k] is not None for k in
              ("rois.thing.macc1", "rois.stuff.macc5", "maskpool.stuff.macc1", "crops.thing.macc5")),
          "the reference covers every method and kind")
    check(got["regions"] == counts, "region counts %s (reference %s)" % (got["regions"], counts))
    check(got["images"] == 5 and got["size"] == S and got["grid"] == S // P, "JSON header")
    # not all-equal metrics by accident: the random EVA must tell the classes apart somewhere
    check(len({round(v, 6) for v in want.values() if v is not None}) > 2, "the metrics differ from one another: %s" % want)
    with h5py.File(seg1, "r") as f:
        pred, valid = np.asarray(f["pred"]), np.asarray(f["valid"])
    for i in range(3):
        check(pred[i].shape == seg[i][0].shape and (pred[i] == seg[i][0]).all() and tuple(valid[i]) == seg[i][1:],
              "segmentation image %d: token labels equal the EVA02 reference" % i)
    # the check can fail: a dense map through the whole last block (not CLIPSelf's value path) labels otherwise
    def whole_block_dense(p_, c_, x, want_dense=True, want_global=True):
        # every block run whole, then the value path of an appended block whose proj and fc2 are zero: an identity
        e_ = dict(c_, layers=c_["layers"] + 1)
        p2 = dict(p_)
        for n in ("attn.proj", "mlp.fc2"):
            for w in ("weight", "bias"):
                p2["visual.trunk.blocks.%d.%s.%s" % (c_["layers"], n, w)] = torch.zeros_like(
                    p_["visual.trunk.blocks.0.%s.%s" % (n, w)])
        for k, v in p_.items():
            if k.startswith("visual.trunk.blocks.0.") and not (".attn.proj." in k or ".mlp.fc2." in k):
                p2[k.replace("blocks.0.", "blocks.%d." % c_["layers"])] = v
        return eva_ref.encode(p2, e_, x, want_dense, want_global)
    _, _, wseg = eval_ref.evaluate(ref_imgs[:3], None, params, cfg, cls, isthing, S, crops=False,
                                   encode=whole_block_dense)
    check(any((pred[i] != wseg[i][0]).any() for i in range(3)),
          "a dense map through the whole last block would give other token labels (the check can fail)")

    # (b) the BAAI layout of the same tensors: the same JSON (metrics, counts, header)
    out2 = os.path.join(tmp, "r2.json")
    p = run(["--weights", wb, *common, "--data", panj, "-o", out2])
    g2 = json.load(open(out2)) if p.returncode == 0 else {}
    check(p.returncode == 0 and all(g2.get(k) == got[k] for k in ("metrics", "regions", "images", "size", "grid")),
          "BAAI layout gives the same JSON as the timm layout %s" % p.stderr.strip()[-300:])

    # (c) 2 MPI ranks == 1 rank
    out3 = os.path.join(tmp, "r3.json")
    p = run(["--weights", wt, *common, "--data", panj, "-o", out3], mpi=2)
    g3 = json.load(open(out3)) if p.returncode == 0 else {}
    check(p.returncode == 0 and g3.get("metrics") == got["metrics"] and g3.get("regions") == got["regions"],
          "2 MPI ranks give the same metrics and counts as 1 %s" % p.stderr.strip()[-300:])

    # (d) instances JSON: boxes only (rois + crops)
    out4 = os.path.join(tmp, "r4.json")
    p = run(["--weights", wb, *common, "--data", insj, "-o", out4])
    g4 = json.load(open(out4)) if p.returncode == 0 else {}
    check(p.returncode == 0, "atas_eval on the BAAI file (instances) %s" % p.stderr.strip()[-300:])
    iref = [{"rgb": x["rgb"], "ids": None, "regions": x["iregions"]} for x in ref_imgs]
    want4, counts4, _ = eval_ref.evaluate(iref, None, params, cfg, cls, isthing, S, encode=eva_ref.encode)
    close(g4, want4, "instances")
    check(g4.get("regions") == counts4 and not any(k.startswith("maskpool") for k in g4.get("metrics", {})),
          "instances: region counts %s (reference %s), no maskpool" % (g4.get("regions"), counts4))


with tempfile.TemporaryDirectory() as t:
    main(t)
print("test_eval_eva: %s" % ("FAILED: %d" % len(fails) if fails else "all passed"))
sys.exit(1 if fails else 0)
