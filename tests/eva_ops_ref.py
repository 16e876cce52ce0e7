"""float64 PyTorch references of EVA02's ops for test_ops_torch.py, written from
timm's semantics (layers/pos_embed_sincos.py: build_rotary_pos_embed with a
reference grid, apply_rot_embed_cat with interleaved pairs; eva.py's SwiGLU)."""
import numpy as np
import torch
import torch.nn.functional as F


def _t64(a, grad=True):
    return torch.tensor(np.asarray(a, np.float32), dtype=torch.float64, requires_grad=grad)


def rope_sincos(gh, gw, hd, ref, theta):
    """sin, cos [gh*gw, hd]: row half then column half, each band repeated for its pair"""
    nb = hd // 4
    bands = 1.0 / (theta ** (torch.arange(nb, dtype=torch.float64) / nb))
    t = [torch.arange(s, dtype=torch.float64) / s * ref for s in (gh, gw)]
    grid = torch.stack(torch.meshgrid(t, indexing="ij"), -1)  # [gh, gw, 2]
    pos = grid[..., None] * bands  # [gh, gw, 2, nb]
    sin = pos.sin().reshape(gh * gw, -1).repeat_interleave(2, -1)
    cos = pos.cos().reshape(gh * gw, -1).repeat_interleave(2, -1)
    return sin, cos


def rot(x):
    return torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)


def apply_rope(x, sin, cos):
    """x [..., N, hd] patch tokens only"""
    return x * cos + rot(x) * sin


def ref_rope(c, a):
    B, gh, gw, ld, nh, hd = c["p"][:6]
    ref, theta = c["f"][:2]
    T = 1 + gh * gw
    tx = _t64(a["x"].reshape(B, T, ld))
    sin, cos = rope_sincos(gh, gw, hd, ref, theta)
    heads = tx[:, 1:, :nh * hd].reshape(B, T - 1, nh, hd).transpose(1, 2)
    turned = apply_rope(heads, sin, cos).transpose(1, 2).reshape(B, T - 1, nh * hd)
    patches = torch.cat([turned, tx[:, 1:, nh * hd:]], -1)
    ty = torch.cat([tx[:, :1], patches], 1)
    ty.backward(torch.tensor(a["dy"], dtype=torch.float64).reshape(B, T, ld))
    return {"y": (ty.detach(), "fwd"), "dx": (tx.grad, "bwd")}


def ref_swiglu(c, a):
    M, Fh = c["p"][:2]
    tx = _t64(a["x"].reshape(M, 2 * Fh))
    ty = F.silu(tx[:, :Fh]) * tx[:, Fh:]
    ty.backward(torch.tensor(a["dy"], dtype=torch.float64).reshape(M, Fh))
    return {"y": (ty.detach(), "fwd"), "dx": (tx.grad, "bwd")}


REF = {"rope": ref_rope, "swiglu": ref_swiglu}
