#!/usr/bin/env python3
"""The rotary op against timm itself (docs/eva02.md): timm's RotaryEmbeddingCat
(layers/pos_embed_sincos.py, as its EVA02 models build it: in_pixels=False,
ref_feat_shape 16x16) and apply_rot_embed_cat, run on the same q/k rows as the C
op (through op_driver, the OPC_TORCH rope cases of src/backend/op_cases.c):
forward and backward within 1e-5 (timm's tables are float32), on square and
non-square grids. Also checks that tests/eva_ops_ref.py's tables equal timm's.
timm comes from build/pydeps-timm (tools/setup.sh); only that one module is
loaded (timm's package __init__ needs torchvision). Skips (77) without timm.

usage: test_eva_timm.py OP_DRIVER
"""
import importlib
import json
import os
import subprocess
import sys
import tempfile
import types

try:
    import numpy as np
    import torch
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)
SRC = os.environ.get("ATAS_SOURCE_DIR", ".")
ROOT = os.path.join(os.environ.get("ATAS_BINARY_DIR", "build"), "pydeps-timm")
if not os.path.exists(os.path.join(ROOT, "timm", "layers", "pos_embed_sincos.py")):
    print("skip: timm not installed in %s (tools/setup.sh)" % ROOT)
    sys.exit(77)
for name, sub in (("timm", "timm"), ("timm.layers", os.path.join("timm", "layers"))):
    m = types.ModuleType(name)
    m.__path__ = [os.path.join(ROOT, sub)]
    sys.modules[name] = m
pe = importlib.import_module("timm.layers.pos_embed_sincos")
sys.path.insert(0, os.path.join(SRC, "tests"))
import eva_ops_ref  # noqa: E402

DRIVER = sys.argv[1]
rng = np.random.default_rng(5)
fails = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


def timm_rope(x, B, gh, gw, ld, nh, hd, ref):
    """x [B, 1+gh*gw, ld] float64: q/k heads of the patch tokens turned by timm"""
    rope = pe.RotaryEmbeddingCat(hd, in_pixels=False, feat_shape=[gh, gw], ref_feat_shape=[ref, ref])
    emb = rope.get_embed().double()  # [gh*gw, 2*hd]: sin | cos
    T = 1 + gh * gw
    heads = x[:, 1:, :nh * hd].reshape(B, T - 1, nh, hd).transpose(1, 2)
    turned = pe.apply_rot_embed_cat(heads, emb).transpose(1, 2).reshape(B, T - 1, nh * hd)
    return torch.cat([x[:, :1], torch.cat([turned, x[:, 1:, nh * hd:]], -1)], 1), emb


cases = [json.loads(l) for l in subprocess.run([DRIVER, "--list"], check=True, capture_output=True,
                                                text=True).stdout.splitlines()]
rope_cases = [c for c in cases if c["family"] == "rope" and c["f"][1] == 10000]
check(len(rope_cases) >= 3, "%d rope cases at theta 10000 in the list" % len(rope_cases))
with tempfile.TemporaryDirectory() as tmp:
    for c in rope_cases:
        B, gh, gw, ld, nh, hd = c["p"][:6]
        ref = c["f"][0]
        T = 1 + gh * gw
        x = rng.standard_normal((B, T, ld)).astype(np.float32)
        dy = rng.standard_normal((B, T, ld)).astype(np.float32)
        inp, outp = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
        np.concatenate([x.ravel(), dy.ravel()]).tofile(inp)
        subprocess.run([DRIVER, str(c["index"]), inp, outp], check=True)
        got = np.fromfile(outp, np.float32)
        n = B * T * ld
        y, dx = got[:n].reshape(B, T, ld), got[n:2 * n].reshape(B, T, ld)
        tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ty, emb = timm_rope(tx, B, gh, gw, ld, nh, hd, int(ref))
        ty.backward(torch.tensor(dy, dtype=torch.float64))
        ey = np.abs(y - ty.detach().numpy()).max() / np.abs(ty.detach().numpy()).max()
        ed = np.abs(dx - tx.grad.numpy()).max() / np.abs(tx.grad.numpy()).max()
        shape = "B%d grid %dx%d ld %d nh %d hd %d" % (B, gh, gw, ld, nh, hd)
        check(ey < 1e-5 and ed < 1e-5, "rope op vs timm, %s: y %.2e, dx %.2e" % (shape, ey, ed))
        s, co = eva_ops_ref.rope_sincos(gh, gw, hd, ref, 10000.0)
        et = max(float((emb[:, :hd] - s).abs().max()), float((emb[:, hd:] - co).abs().max()))
        check(et < 1e-6, "eva_ops_ref tables equal timm's (%s): %.2e" % (shape, et))
print("test_eva_timm:", "all checks passed" if not fails else "%d FAILED" % len(fails))
sys.exit(1 if fails else 0)
