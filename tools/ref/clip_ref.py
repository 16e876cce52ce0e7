#!/usr/bin/env python3
"""Independent PyTorch reference of the CLIP vision encoder as atas implements it
(OpenCLIP/OpenAI layout): global embedding and the CLIPSelf dense value path.

CLI: clip_ref.py IN.h5 OUT.h5
  IN:  attrs patch width layers heads mlp embed grid act ("quickgelu"|"gelu") ln_eps
       /params/<OpenCLIP name>, /images [B,3,H,W], optional /dglob [B,E], /ddense [B,h,w,E]
  OUT: /glob [B,E], /dense [B,h,w,E], /grads/<name> (d(sum(glob*dglob)+sum(dense*ddense))/dparam)
Everything in float32 (set ATAS_REF_DOUBLE=1 for float64).
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F


def act_fn(kind):
    if kind == "quickgelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    return lambda x: F.gelu(x)  # erf form


def pos_embed(p, cfg, gh, gw):
    pos = p["visual.positional_embedding"]
    G = cfg["grid"]
    if gh == G and gw == G:
        return pos
    cls, grid = pos[:1], pos[1:]
    D = grid.shape[1]
    grid = grid.reshape(1, G, G, D).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(gh * gw, D)
    return torch.cat([cls, grid], 0)


def block(x, p, l, cfg, act):
    pre = f"visual.transformer.resblocks.{l}."
    D, H = cfg["width"], cfg["heads"]
    eps = cfg["ln_eps"]
    h = F.layer_norm(x, (D,), p[pre + "ln_1.weight"], p[pre + "ln_1.bias"], eps)
    # torch's own MHA: (T, B, D) layout, packed in_proj exactly like OpenCLIP
    hT = h.transpose(0, 1)
    a, _ = F.multi_head_attention_forward(
        hT, hT, hT, D, H, p[pre + "attn.in_proj_weight"], p[pre + "attn.in_proj_bias"],
        None, None, False, 0.0, p[pre + "attn.out_proj.weight"], p[pre + "attn.out_proj.bias"],
        training=False, need_weights=False)
    x = x + a.transpose(0, 1)
    h = F.layer_norm(x, (D,), p[pre + "ln_2.weight"], p[pre + "ln_2.bias"], eps)
    h = F.linear(act(F.linear(h, p[pre + "mlp.c_fc.weight"], p[pre + "mlp.c_fc.bias"])),
                 p[pre + "mlp.c_proj.weight"], p[pre + "mlp.c_proj.bias"])
    return x + h


def value_path_block(x, p, l, cfg, act):
    pre = f"visual.transformer.resblocks.{l}."
    D = cfg["width"]
    eps = cfg["ln_eps"]
    h = F.layer_norm(x, (D,), p[pre + "ln_1.weight"], p[pre + "ln_1.bias"], eps)
    W, b = p[pre + "attn.in_proj_weight"], p[pre + "attn.in_proj_bias"]
    v = F.linear(h, W[2 * D:], b[2 * D:])
    x = x + F.linear(v, p[pre + "attn.out_proj.weight"], p[pre + "attn.out_proj.bias"])
    h = F.layer_norm(x, (D,), p[pre + "ln_2.weight"], p[pre + "ln_2.bias"], eps)
    h = F.linear(act(F.linear(h, p[pre + "mlp.c_fc.weight"], p[pre + "mlp.c_fc.bias"])),
                 p[pre + "mlp.c_proj.weight"], p[pre + "mlp.c_proj.bias"])
    return x + h


def encode(p, cfg, images, want_dense=True, want_global=True):
    """Returns (global [B,E] or None, dense [B,gh,gw,E] or None)."""
    P, D, L = cfg["patch"], cfg["width"], cfg["layers"]
    act = act_fn(cfg["act"])
    eps = cfg["ln_eps"]
    B, _, H, W = images.shape
    gh, gw = H // P, W // P
    x = F.conv2d(images, p["visual.conv1.weight"], stride=P)  # [B,D,gh,gw]
    x = x.reshape(B, D, gh * gw).permute(0, 2, 1)
    cls = p["visual.class_embedding"].reshape(1, 1, D).expand(B, 1, D)
    x = torch.cat([cls, x], 1) + pos_embed(p, cfg, gh, gw).unsqueeze(0)
    x = F.layer_norm(x, (D,), p["visual.ln_pre.weight"], p["visual.ln_pre.bias"], eps)
    for l in range(L - 1):
        x = block(x, p, l, cfg, act)
    dense = None
    if want_dense:
        xd = value_path_block(x, p, L - 1, cfg, act)[:, 1:]
        xd = F.layer_norm(xd, (D,), p["visual.ln_post.weight"], p["visual.ln_post.bias"], eps)
        dense = (xd @ p["visual.proj"]).reshape(B, gh, gw, -1)
    if not want_global:
        return None, dense
    xg = block(x, p, L - 1, cfg, act)[:, 0]
    xg = F.layer_norm(xg, (D,), p["visual.ln_post.weight"], p["visual.ln_post.bias"], eps)
    return xg @ p["visual.proj"], dense


def read_cfg(f):
    cfg = {k: int(f.attrs[k]) for k in ("patch", "width", "layers", "heads", "mlp", "embed", "grid")}
    act = f.attrs["act"]
    cfg["act"] = act.decode() if isinstance(act, bytes) else str(act)
    cfg["ln_eps"] = float(f.attrs["ln_eps"])
    return cfg


def main(inp, out):
    dt = torch.float64 if os.environ.get("ATAS_REF_DOUBLE") == "1" else torch.float32
    with h5py.File(inp, "r") as f:
        cfg = read_cfg(f)
        p = {k: torch.tensor(np.asarray(v), dtype=dt, requires_grad=True)
             for k, v in f["params"].items()}
        images = torch.tensor(np.asarray(f["images"]), dtype=dt)
        dglob = torch.tensor(np.asarray(f["dglob"]), dtype=dt) if "dglob" in f else None
        ddense = torch.tensor(np.asarray(f["ddense"]), dtype=dt) if "ddense" in f else None
    glob, dense = encode(p, cfg, images, want_dense=True)
    obj = 0
    if dglob is not None:
        obj = obj + (glob * dglob).sum()
    if ddense is not None:
        obj = obj + (dense * ddense).sum()
    if torch.is_tensor(obj):
        obj.backward()
    with h5py.File(out, "w") as f:
        f["glob"] = glob.detach().float().numpy()
        f["dense"] = dense.detach().float().numpy()
        g = f.create_group("grads")
        for k, v in p.items():
            g[k] = (v.grad if v.grad is not None else torch.zeros_like(v)).float().numpy()


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    main(sys.argv[1], sys.argv[2])
