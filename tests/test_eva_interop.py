#!/usr/bin/env python3
"""EVA02-CLIP weights as users have them, through the programs (docs/eva02.md):
a BAAI EVA-CLIP state dict saved as safetensors (with its rope buffers and a
text tower), converted by atas_convert to OpenCLIP/timm names and back (every
tensor byte for byte), HF export refused with the reason, and atas_embed on the
BAAI and on the OpenCLIP file against the float64 reference tools/ref/eva_ref.py
(global and dense, 1e-5 relative), at a grid other than the pretrained one.

usage: test_eva_interop.py ATAS_EMBED ATAS_CONVERT
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)
sys.path.insert(0, os.path.join(os.environ.get("ATAS_SOURCE_DIR", "."), "tools", "ref"))
import eva_ref  # noqa: E402

EMBED, CONV = sys.argv[1:3]
D, P, L, HEADS, Fh, E, G = 32, 8, 2, 4, 43, 16, 3
R = 32  # runtime grid 4x4 vs pretrained 3x3
rng = np.random.default_rng(11)
fails = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


def r(*shape, s=1.0):
    return (s * rng.standard_normal(shape)).astype(np.float32)


def baai_dict():
    d = {"visual.patch_embed.proj.weight": r(D, 3, P, P, s=0.1), "visual.patch_embed.proj.bias": r(D, s=0.1),
         "visual.cls_token": r(1, 1, D), "visual.pos_embed": r(1, G * G + 1, D, s=0.5),
         "visual.norm.weight": 1 + r(D, s=0.1), "visual.norm.bias": r(D, s=0.1),
         "visual.head.weight": r(E, D, s=0.2), "visual.head.bias": r(E, s=0.1),
         # BAAI's rope tables at its construction grid, and a text tower: carried
         "visual.rope.freqs_cos": r(G * G, D // HEADS), "visual.rope.freqs_sin": r(G * G, D // HEADS),
         "text.token_embedding.weight": r(10, E), "logit_scale": r(1)}
    for l in range(L):
        p = "visual.blocks.%d." % l
        for n in ("norm1", "norm2", "attn.inner_attn_ln"):
            d[p + n + ".weight"], d[p + n + ".bias"] = 1 + r(D, s=0.1), r(D, s=0.1)
        d[p + "mlp.ffn_ln.weight"], d[p + "mlp.ffn_ln.bias"] = 1 + r(Fh, s=0.1), r(Fh, s=0.1)
        for c in "qkv":
            d[p + "attn.%s_proj.weight" % c] = r(D, D, s=0.2)
        d[p + "attn.q_bias"], d[p + "attn.v_bias"] = r(D, s=0.1), r(D, s=0.1)
        d[p + "attn.proj.weight"], d[p + "attn.proj.bias"] = r(D, D, s=0.2), r(D, s=0.1)
        for w in ("w1", "w2"):
            d[p + "mlp.%s.weight" % w], d[p + "mlp.%s.bias" % w] = r(Fh, D, s=0.2), r(Fh, s=0.1)
        d[p + "mlp.w3.weight"], d[p + "mlp.w3.bias"] = r(D, Fh, s=0.2), r(D, s=0.1)
    return d


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


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], "<f4").reshape(v["shape"])
            for k, v in hdr.items() if k != "__metadata__"}


def write_png(path, a):
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def conv(*args):
    return subprocess.run([CONV, *args], capture_output=True, text=True)


def rel(a, b):
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


def main(tmp):
    baai = baai_dict()
    bpath, ocdir, back = (os.path.join(tmp, n) for n in ("baai.safetensors", "oc", "back.safetensors"))
    save_safetensors(bpath, baai)
    p = conv(bpath, "--to", "openclip", "--heads", str(HEADS), "-o", ocdir)
    check(p.returncode == 0, "atas_convert BAAI -> openclip " + p.stderr.strip()[-300:])
    ocfile = os.path.join(ocdir, "open_clip_model.safetensors")
    oc = load_safetensors(ocfile)
    want = {"visual.trunk.blocks.1.attn.q_proj.weight", "visual.trunk.blocks.1.attn.q_proj.bias",
            "visual.trunk.blocks.1.attn.k_proj.weight", "visual.trunk.blocks.1.attn.v_proj.bias",
            "visual.trunk.blocks.0.attn.norm.weight", "visual.trunk.blocks.0.mlp.fc1_g.weight",
            "visual.trunk.blocks.0.mlp.fc1_x.bias", "visual.trunk.blocks.0.mlp.norm.bias",
            "visual.trunk.blocks.0.mlp.fc2.weight", "visual.trunk.head.bias", "visual.trunk.pos_embed",
            "text.token_embedding.weight", "visual.rope.freqs_cos"}
    check(want <= set(oc), "OpenCLIP/timm names present (missing: %s)" % sorted(want - set(oc)))
    check(not any("k_proj.bias" in k for k in oc), "no k bias written")
    check(np.array_equal(oc["visual.trunk.blocks.1.attn.v_proj.weight"], baai["visual.blocks.1.attn.v_proj.weight"]) and
          np.array_equal(oc["visual.trunk.blocks.0.mlp.fc1_x.weight"], baai["visual.blocks.0.mlp.w2.weight"]) and
          np.array_equal(oc["visual.trunk.blocks.0.attn.norm.bias"], baai["visual.blocks.0.attn.inner_attn_ln.bias"]),
          "tensors land under the matching timm names (v_proj, w2 -> fc1_x, inner_attn_ln -> attn.norm)")
    p = conv(ocfile, "--to", "baai", "-o", back)
    check(p.returncode == 0, "atas_convert openclip -> baai (heads from the file's metadata)")
    bk = load_safetensors(back)
    check(set(bk) == set(baai) and all(np.array_equal(bk[k], baai[k]) for k in baai),
          "BAAI -> openclip -> BAAI: every tensor byte for byte (%d tensors)" % len(baai))
    hf = os.path.join(tmp, "hf")
    p = conv(ocfile, "--to", "hf", "-o", hf)
    check(p.returncode != 0 and "no EVA02-CLIP class" in p.stderr and not os.path.exists(hf),
          "hf export refused, nothing written: " + (p.stderr.strip().splitlines() or [""])[0])

    # atas_embed on both files vs the float64 reference
    imgs = (rng.random((2, R, R, 3)) * 255).astype(np.uint8)
    lst = os.path.join(tmp, "list.txt")
    with open(lst, "w") as f:
        for i, a in enumerate(imgs):
            write_png(os.path.join(tmp, "im%d.png" % i), a)
            f.write(os.path.join(tmp, "im%d.png" % i) + "\n")
    mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
    x = ((imgs.astype(np.float32) * np.float32(1 / 255.0) - mean) * (np.float32(1.0) / std)).transpose(0, 3, 1, 2)
    cfg = {"patch": P, "width": D, "layers": L, "heads": HEADS, "mlp": Fh, "embed": E, "grid": G, "ln_eps": 1e-6}
    pt = {k: torch.tensor(v, dtype=torch.float64) for k, v in baai.items()}
    glob, dense = eva_ref.encode(eva_ref.from_layout(pt, "baai"), cfg, torch.tensor(x, dtype=torch.float64))
    for name, path, extra in (("BAAI", bpath, ["--heads", str(HEADS)]), ("OpenCLIP/timm", ocfile, [])):
        out = os.path.join(tmp, "emb.h5")
        p = subprocess.run([EMBED, "-q", "--weights", path, *extra, "--images", lst, "--resolution", str(R),
                            "-o", out], capture_output=True, text=True)
        check(p.returncode == 0, "atas_embed on the %s file %s" % (name, p.stderr.strip()[-300:]))
        if p.returncode:
            continue
        with h5py.File(out, "r") as f:
            g, dn = np.asarray(f["global"]), np.asarray(f["dense"])
        eg, ed = rel(g, glob.numpy()), rel(dn, dense.numpy())
        check(eg < 1e-5 and ed < 1e-5, "%s: global rel err %.2e, dense %.2e (grid %d vs pretrained %d)"
              % (name, eg, ed, R // P, G))
        os.unlink(out)


with tempfile.TemporaryDirectory() as t:
    main(t)
print("test_eva_interop:", "all checks passed" if not fails else "%d FAILED" % len(fails))
sys.exit(1 if fails else 0)
