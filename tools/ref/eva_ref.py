#!/usr/bin/env python3
"""Independent PyTorch reference of the EVA02-CLIP vision tower as timm's eva.py
(EVA02 CLIP configs) and BAAI's EVA-CLIP define it, plus CLIPSelf's EVA dense
path (the last block's forward_without_attn). Written from their semantics:
- patch conv with bias; CLS + absolute positions (bicubic-resampled from the
  pretrained grid, align_corners=False); no ln_pre;
- blocks: x += proj(attn.norm(attn(norm1 x))), q/k/v separate (q, v biased, k
  not), 2-D rotary on the patch tokens of q and k (timm's RotaryEmbeddingCat,
  interleaved pairs, ref grid 16x16, theta 10000); x += fc2(norm(silu(w1 h) *
  w2 h)), h = norm2 x; LayerNorm eps from the file (1e-6 for EVA02);
- global: head(norm(x)[:, 0]); dense: head(norm(x'[:, 1:])) with
  x' = x + proj(attn.norm(v_proj(norm1 x))), x'' = x' + mlp(norm2 x').

CLI: eva_ref.py IN.h5 OUT.h5  (the layout of tools/ref/clip_ref.py; atas' EVA
names: attn.qkv.weight rows q|k|v, mlp.fc1_gx rows w1|w2, docs/eva02.md)
Float64 by default (ATAS_REF_DOUBLE=0 for float32).
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

REF_GRID, THETA = 16, 10000.0
T = "visual.trunk."


def rope_tables(gh, gw, hd, dt):
    nb = hd // 4
    bands = 1.0 / (THETA ** (torch.arange(nb, dtype=dt) / nb))
    t = [torch.arange(s, dtype=dt) / s * REF_GRID for s in (gh, gw)]
    grid = torch.stack(torch.meshgrid(t, indexing="ij"), -1)  # [gh, gw, 2]: row, column
    pos = grid[..., None] * bands  # [gh, gw, 2, nb]
    sin = pos.sin().reshape(gh * gw, -1).repeat_interleave(2, -1)
    cos = pos.cos().reshape(gh * gw, -1).repeat_interleave(2, -1)
    return sin, cos


def rot(x):
    return torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)


def apply_rope(t, sin, cos):
    """t [B, H, N, hd]: CLS (token 0) unturned"""
    turned = t[:, :, 1:] * cos + rot(t[:, :, 1:]) * sin
    return torch.cat([t[:, :, :1], turned], 2)


def pos_embed(p, cfg, gh, gw):
    pos = p[T + "pos_embed"][0]
    G = cfg["grid"]
    if gh == G and gw == G:
        return pos
    D = pos.shape[1]
    grid = pos[1:].reshape(1, G, G, D).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
    return torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(gh * gw, D)], 0)


def ln(x, p, name, eps):
    return F.layer_norm(x, (x.shape[-1],), p[name + ".weight"], p[name + ".bias"], eps)


def mlp(h, p, pre, cfg):
    Fh = cfg["mlp"]
    W, b = p[pre + "mlp.fc1_gx.weight"], p[pre + "mlp.fc1_gx.bias"]
    x1 = F.linear(h, W[:Fh], b[:Fh])  # w1: the gate
    x2 = F.linear(h, W[Fh:], b[Fh:])  # w2
    hid = ln(F.silu(x1) * x2, p, pre + "mlp.norm", cfg["ln_eps"])
    return F.linear(hid, p[pre + "mlp.fc2.weight"], p[pre + "mlp.fc2.bias"])


def qkv_weights(p, pre, D):
    W = p[pre + "attn.qkv.weight"]
    return W[:D], W[D:2 * D], W[2 * D:]


def block(x, p, l, cfg, sin, cos):
    pre = f"{T}blocks.{l}."
    D, H, eps = cfg["width"], cfg["heads"], cfg["ln_eps"]
    B, N, _ = x.shape
    hd = D // H
    h = ln(x, p, pre + "norm1", eps)
    Wq, Wk, Wv = qkv_weights(p, pre, D)
    q = F.linear(h, Wq, p[pre + "attn.q_bias"])
    k = F.linear(h, Wk)
    v = F.linear(h, Wv, p[pre + "attn.v_bias"])
    q, k, v = (t.reshape(B, N, H, hd).transpose(1, 2) for t in (q, k, v))
    q, k = apply_rope(q, sin, cos), apply_rope(k, sin, cos)
    a = torch.softmax((q * hd ** -0.5) @ k.transpose(-2, -1), -1) @ v
    a = a.transpose(1, 2).reshape(B, N, D)
    a = ln(a, p, pre + "attn.norm", eps)
    x = x + F.linear(a, p[pre + "attn.proj.weight"], p[pre + "attn.proj.bias"])
    return x + mlp(ln(x, p, pre + "norm2", eps), p, pre, cfg)


def block_without_attn(x, p, l, cfg):
    pre = f"{T}blocks.{l}."
    D, eps = cfg["width"], cfg["ln_eps"]
    _, _, Wv = qkv_weights(p, pre, D)
    v = F.linear(ln(x, p, pre + "norm1", eps), Wv, p[pre + "attn.v_bias"])
    v = ln(v, p, pre + "attn.norm", eps)
    x = x + F.linear(v, p[pre + "attn.proj.weight"], p[pre + "attn.proj.bias"])
    return x + mlp(ln(x, p, pre + "norm2", eps), p, pre, cfg)


def encode(p, cfg, images, want_dense=True, want_global=True):
    P, D, L, H, eps = cfg["patch"], cfg["width"], cfg["layers"], cfg["heads"], cfg["ln_eps"]
    B, _, Hi, Wi = images.shape
    gh, gw = Hi // P, Wi // P
    x = F.conv2d(images, p[T + "patch_embed.proj.weight"], p[T + "patch_embed.proj.bias"], stride=P)
    x = x.flatten(2).transpose(1, 2)
    cls = p[T + "cls_token"].expand(B, 1, D)
    x = torch.cat([cls, x], 1) + pos_embed(p, cfg, gh, gw)[None]
    sin, cos = rope_tables(gh, gw, D // H, x.dtype)
    for l in range(L - 1):
        x = block(x, p, l, cfg, sin, cos)
    glob = dense = None
    if want_dense:
        xd = block_without_attn(x, p, L - 1, cfg)[:, 1:]
        dense = F.linear(ln(xd, p, T + "norm", eps), p[T + "head.weight"], p[T + "head.bias"])
        dense = dense.reshape(B, gh, gw, -1)
    if want_global:
        xg = block(x, p, L - 1, cfg, sin, cos)[:, 0]
        glob = F.linear(ln(xg, p, T + "norm", eps), p[T + "head.weight"], p[T + "head.bias"])
    return glob, dense


def from_layout(d, layout):
    """A state dict in OpenCLIP/timm ("openclip": visual.trunk.*, q/k/v_proj, fc1_g/fc1_x)
    or BAAI EVA-CLIP ("baai": visual.*, q/k/v_proj + q_bias/v_bias, w1/w2/w3) names ->
    the names used above (q|k|v and w1|w2 concatenated along rows)."""
    out = {}
    pre = "visual.trunk." if layout == "openclip" else "visual."
    blocks = sorted({int(k[len(pre) + 7:].split(".")[0]) for k in d if k.startswith(pre + "blocks.")})
    for k in ("patch_embed.proj.weight", "patch_embed.proj.bias", "cls_token", "pos_embed",
              "norm.weight", "norm.bias", "head.weight", "head.bias"):
        out[T + k] = d[pre + k]
    for l in blocks:
        b, o = f"{pre}blocks.{l}.", f"{T}blocks.{l}."
        out[o + "attn.qkv.weight"] = torch.cat([d[b + f"attn.{c}_proj.weight"] for c in "qkv"], 0)
        if layout == "openclip":
            ren = {"attn.q_bias": "attn.q_proj.bias", "attn.v_bias": "attn.v_proj.bias",
                   "attn.norm": "attn.norm", "mlp.norm": "mlp.norm", "mlp.fc2": "mlp.fc2"}
            g, x = "mlp.fc1_g", "mlp.fc1_x"
        else:
            ren = {"attn.q_bias": "attn.q_bias", "attn.v_bias": "attn.v_bias",
                   "attn.norm": "attn.inner_attn_ln", "mlp.norm": "mlp.ffn_ln", "mlp.fc2": "mlp.w3"}
            g, x = "mlp.w1", "mlp.w2"
        for w in ("weight", "bias"):
            out[o + f"mlp.fc1_gx.{w}"] = torch.cat([d[b + f"{g}.{w}"], d[b + f"{x}.{w}"]], 0)
            for n in ("norm1", "norm2", "attn.proj"):
                out[o + f"{n}.{w}"] = d[b + f"{n}.{w}"]
            for ours in ("attn.norm", "mlp.norm", "mlp.fc2"):
                out[o + f"{ours}.{w}"] = d[b + f"{ren[ours]}.{w}"]
        out[o + "attn.q_bias"] = d[b + ren["attn.q_bias"]]
        out[o + "attn.v_bias"] = d[b + ren["attn.v_bias"]]
    return out


def main(inp, out):
    dt = torch.float32 if os.environ.get("ATAS_REF_DOUBLE") == "0" else torch.float64
    with h5py.File(inp, "r") as f:
        cfg = {k: int(f.attrs[k]) for k in ("patch", "width", "layers", "heads", "mlp", "embed", "grid")}
        cfg["ln_eps"] = float(f.attrs["ln_eps"])
        p = {k: torch.tensor(np.asarray(v), dtype=dt, requires_grad=True) for k, v in f["params"].items()}
        images = torch.tensor(np.asarray(f["images"]), dtype=dt)
        dglob = torch.tensor(np.asarray(f["dglob"]), dtype=dt)
        ddense = torch.tensor(np.asarray(f["ddense"]), dtype=dt)
    glob, dense = encode(p, cfg, images)
    ((glob * dglob).sum() + (dense * ddense).sum()).backward()
    with h5py.File(out, "w") as f:
        f["glob"] = glob.detach().float().numpy()
        f["dense"] = dense.detach().float().numpy()
        g = f.create_group("grads")
        for k, v in p.items():
            g[k] = (v.grad if v.grad is not None else torch.zeros_like(v)).float().numpy()


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    main(sys.argv[1], sys.argv[2])
