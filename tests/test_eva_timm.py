#!/usr/bin/env python3
"""The rotary op against timm itself (docs/eva02.md): timm's RotaryEmbeddingCat
(layers/pos_embed_sincos.py, as its EVA02 models build it: in_pixels=False,
ref_feat_shape 16x16) and apply_rot_embed_cat, run on the same q/k rows as the C
op (through op_driver, the OPC_TORCH rope cases of src/backend/op_cases.c):
forward and backward within 1e-5 (timm's tables are float32), on square and
non-square grids. Also checks that tests/eva_ops_ref.py's tables equal timm's.
Then the whole tower: timm's own Eva (timm.models.eva, built as its
eva02_*_clip_* models: separate q/k/v, SwiGLU with its norm, attn.norm, rope with
a 16x16 reference grid, eps 1e-6, CLS pooling, head with bias) on random
weights, its state_dict saved under OpenCLIP's visual.trunk.* names, and
atas_embed's global embedding of the same images against timm's output (1e-5),
at the pretrained grid (rope rescaled 14 -> 16) and at a larger one. Off the
pretrained grid timm resamples the positions with antialias=True (PyTorch's
antialiased bicubic is PIL's a = -0.5 kernel); atas follows CLIPSelf (plain
bicubic, a = -0.75), so there timm's resampling is called with antialias=False.
timm comes from build/pydeps-timm (tools/setup.sh), loaded without its package
__init__ and with stubs for what it imports from torchvision/timm.data (unused
here). Skips (77) without timm.

usage: test_eva_timm.py OP_DRIVER ATAS_EMBED
"""
import importlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import types
import zlib

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

DRIVER, EMBED = sys.argv[1:3]
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


def load_timm_eva():
    """timm.models.eva without timm's package __init__ (torchvision, hub downloads)"""
    bdir = os.environ.get("ATAS_BINARY_DIR", "build")
    for sub in ("pydeps-hf", "pydeps"):  # huggingface_hub, imported by timm.models._hub
        sys.path.insert(0, os.path.join(bdir, sub))
    sys.path.insert(0, ROOT)
    sys.modules["timm"].__version__ = "1.0.15"
    for name in ("timm.models", "timm.data"):
        m = types.ModuleType(name)
        m.__path__ = [os.path.join(ROOT, *name.split("."))]
        sys.modules[name] = m
    d = sys.modules["timm.data"]
    d.IMAGENET_DEFAULT_MEAN = d.IMAGENET_DEFAULT_STD = d.OPENAI_CLIP_MEAN = d.OPENAI_CLIP_STD = (0.5,) * 3
    for name in ("torchvision", "torchvision.ops", "torchvision.ops.misc"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["torchvision.ops.misc"].FrozenBatchNorm2d = type("FrozenBatchNorm2d", (torch.nn.Module,), {})
    del sys.modules["timm.layers"]  # the full package now (eva.py imports from it)
    return importlib.import_module("timm.models.eva")


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


def write_png(path, a):
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


try:
    eva = load_timm_eva()
except Exception as e:  # noqa: BLE001 - any import problem of an optional reference
    eva = None
    print("skip: timm.models.eva does not import here (%s): tower check not run" % e)
if eva is not None:
    D, P, L, H, Fh, E, G = 64, 16, 2, 4, 170, 32, 14
    torch.manual_seed(3)
    model = eva.Eva(img_size=G * P, patch_size=P, embed_dim=D, depth=L, num_heads=H, mlp_ratio=Fh / D,
                    qkv_fused=False, swiglu_mlp=True, scale_mlp=True, scale_attn_inner=True,
                    use_rot_pos_emb=True, ref_feat_shape=(16, 16), global_pool="token", num_classes=E,
                    dynamic_img_size=True,
                    norm_layer=lambda n: torch.nn.LayerNorm(n, eps=1e-6)).double().eval()
    check(model.blocks[0].mlp.fc1_g.out_features == Fh, "timm SwiGLU hidden %d" % Fh)
    with torch.no_grad():  # random weights everywhere (timm zero-inits some biases)
        for n, p in model.named_parameters():
            is_norm_w = "norm" in n and n.endswith("weight")
            p.copy_(torch.randn_like(p) * (0.1 if p.ndim == 1 else 1.0 / p.shape[-1] ** 0.5) + is_norm_w)
    sd = {"visual.trunk." + k: v.float().numpy() for k, v in model.state_dict().items()}
    mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
    orig_resample = eva.resample_abs_pos_embed
    with tempfile.TemporaryDirectory() as tmp:
        wpath = os.path.join(tmp, "timm.safetensors")
        save_safetensors(wpath, sd)
        # the pretrained grid (positions as stored, rope rescaled 14 -> 16) and a larger grid, where
        # timm's positional resampling is made CLIPSelf's (bicubic a = -0.75, no antialias: timm's
        # default antialias=True is PIL's a = -0.5 kernel)
        for R, aa in ((G * P, "-"), (256, "off")):
            eva.resample_abs_pos_embed = (orig_resample if aa == "-" else
                                          lambda *a, **k: orig_resample(*a, **{**k, "antialias": False}))
            imgs = (rng.random((2, R, R, 3)) * 255).astype(np.uint8)
            x = ((imgs.astype(np.float32) * np.float32(1 / 255.0) - mean) * (np.float32(1.0) / std)).transpose(0, 3, 1, 2)
            with torch.no_grad():
                want = model(torch.tensor(x, dtype=torch.float64)).numpy()
            lst, out = os.path.join(tmp, "list.txt"), os.path.join(tmp, "emb.h5")
            with open(lst, "w") as f:
                for i, a in enumerate(imgs):
                    write_png(os.path.join(tmp, "im%d.png" % i), a)
                    f.write(os.path.join(tmp, "im%d.png" % i) + "\n")
            p = subprocess.run([EMBED, "-q", "--weights", wpath, "--heads", str(H), "--images", lst,
                                "--resolution", str(R), "--no-dense", "-o", out], capture_output=True, text=True)
            check(p.returncode == 0, "atas_embed on timm's state_dict (visual.trunk.*) %s" % p.stderr.strip()[-300:])
            if p.returncode:
                continue
            import h5py
            with h5py.File(out, "r") as f:
                got = np.asarray(f["global"])
            e = np.abs(got - want).max() / np.abs(want).max()
            check(e < 1e-5, "atas global embedding vs timm's Eva at %d px (grid %d, pretrained %d, timm "
                  "antialias %s): rel err %.2e" % (R, R // P, G, aa, e))
            os.unlink(out)
    eva.resample_abs_pos_embed = orig_resample
print("test_eva_timm:", "all checks passed" if not fails else "%d FAILED" % len(fails))
sys.exit(1 if fails else 0)
