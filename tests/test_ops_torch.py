#!/usr/bin/env python3
"""CPU backend ops against PyTorch (float64 references, autograd backward).

Usage: test_ops_torch.py OP_DRIVER
Each case writes the op's inputs as float32, runs the C driver, and compares
every output with max|a-b| / max|b| against its bound. Exits 1 on any failure.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

DRIVER = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="atas_ops_")
rng = np.random.default_rng(7)
failures = 0
FWD, BWD = 1e-5, 2e-5  # normalised error bounds for fp32 against float64


def run(op, params, arrays, sizes):
    inp, outp = os.path.join(TMP, "in.bin"), os.path.join(TMP, "out.bin")
    np.concatenate([np.asarray(a, np.float32).ravel() for a in arrays]).tofile(inp)
    subprocess.run([DRIVER, op, inp, outp] + [str(p) for p in params], check=True)
    flat = np.fromfile(outp, np.float32)
    assert flat.size == sum(sizes), f"{op}: driver wrote {flat.size} floats, expected {sum(sizes)}"
    return np.split(flat, np.cumsum(sizes)[:-1])


def compare(name, got, ref, bound):
    global failures
    ref = np.asarray(ref, np.float64).ravel()
    got = np.asarray(got, np.float64).ravel()
    err = np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30) if ref.size else 0.0
    if not np.isfinite(err):
        err = np.inf
    ok = err <= bound
    failures += not ok
    print(f"  {name:<34} {err:10.2e}  bound {bound:.0e}  {'PASS' if ok else 'FAIL'}")


def t64(a, grad=True):
    return torch.tensor(np.asarray(a, np.float32), dtype=torch.float64, requires_grad=grad)


def randn(*shape, scale=1.0, off=0.0):
    return (off + scale * rng.standard_normal(shape)).astype(np.float32)


def case_linear(M, K, N):
    x, W, b, dy = randn(M, K), randn(N, K, scale=0.1), randn(N), randn(M, N)
    y, dx, dW, db = run("linear", [M, K, N], [x, W, b, dy], [M * N, M * K, N * K, N])
    tx, tW, tb = t64(x), t64(W), t64(b)
    ty = tx @ tW.T + tb
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    tag = f"linear {M}x{K}->{N}"
    compare(tag + " y", y, ty.detach(), FWD)
    compare(tag + " dx", dx, tx.grad, BWD)
    compare(tag + " dW", dW, tW.grad, BWD)
    compare(tag + " db", db, tb.grad, BWD)


def case_layernorm(M, C):
    x, w, b, dy = randn(M, C, scale=2.0, off=3.0), randn(C, off=1.0), randn(C), randn(M, C)
    y, dx, dw, db = run("layernorm", [M, C], [x, w, b, dy], [M * C, M * C, C, C])
    tx, tw, tb = t64(x), t64(w), t64(b)
    ty = F.layer_norm(tx, (C,), tw, tb, eps=1e-5)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    tag = f"layernorm {M}x{C}"
    compare(tag + " y", y, ty.detach(), FWD)
    compare(tag + " dx", dx, tx.grad, BWD)
    compare(tag + " dw", dw, tw.grad, BWD)
    compare(tag + " db", db, tb.grad, BWD)


def case_attention(B, T, H, hd):
    D = H * hd
    qkv, dout = randn(B, T, 3 * D), randn(B, T, D)
    out, lse, dqkv = run("attention", [B, T, H, hd], [qkv, dout], [B * T * D, B * H * T, B * T * 3 * D])
    tq = t64(qkv)
    q, k, v = (tq[..., i * D:(i + 1) * D].reshape(B, T, H, hd).transpose(1, 2) for i in range(3))
    s = q @ k.transpose(-1, -2) / np.sqrt(hd)
    to = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
    to.backward(torch.tensor(dout, dtype=torch.float64))
    tag = f"attention B{B} T{T} H{H} hd{hd}"
    compare(tag + " out", out, to.detach(), FWD)
    compare(tag + " lse", lse, torch.logsumexp(s, -1).detach(), FWD)
    compare(tag + " dqkv", dqkv, tq.grad, BWD)


def case_attention_causal(B, T, H, hd):
    D = H * hd
    qkv = randn(B, T, 3 * D)
    out, lse = run("attention_causal", [B, T, H, hd], [qkv], [B * T * D, B * H * T])
    tq = t64(qkv, grad=False)
    q, k, v = (tq[..., i * D:(i + 1) * D].reshape(B, T, H, hd).transpose(1, 2) for i in range(3))
    s = q @ k.transpose(-1, -2) / np.sqrt(hd)
    s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    to = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
    tag = f"attention causal B{B} T{T} H{H} hd{hd}"
    compare(tag + " out", out, to, FWD)
    compare(tag + " lse", lse, torch.logsumexp(s, -1), FWD)


def case_act(kind, n):
    x, dy = randn(n, scale=3.0), randn(n)
    y, dx = run("act", [n, kind], [x, dy], [n, n])
    tx = t64(x)
    ty = tx * torch.sigmoid(1.702 * tx) if kind == 0 else F.gelu(tx)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    tag = "quickgelu" if kind == 0 else "gelu(erf)"
    compare(tag + " y", y, ty.detach(), FWD)
    compare(tag + " dx", dx, tx.grad, BWD)


def case_resample(kind, ih, iw, oh, ow, C):
    x, dy = randn(ih, iw, C), randn(oh, ow, C)
    out, din = run("resample", [ih, iw, oh, ow, C, kind], [x, dy], [oh * ow * C, ih * iw * C])
    tx = t64(x)
    mode = "bicubic" if kind == 0 else "bilinear"
    to = F.interpolate(tx.permute(2, 0, 1)[None], size=(oh, ow), mode=mode, align_corners=False)
    to = to[0].permute(1, 2, 0)
    to.backward(torch.tensor(dy, dtype=torch.float64))
    tag = f"{mode} {ih}x{iw}->{oh}x{ow}"
    compare(tag + " out", out, to.detach(), FWD)
    compare(tag + " din", din, tx.grad, BWD)


def case_l2norm(M, C):
    x, dy = randn(M, C), randn(M, C)
    y, dx = run("l2norm", [M, C], [x, dy], [M * C, M * C])
    tx = t64(x)
    ty = F.normalize(tx, dim=-1)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    compare(f"l2norm {M}x{C} y", y, ty.detach(), FWD)
    compare(f"l2norm {M}x{C} dx", dx, tx.grad, BWD)


def case_patchify(B, H, W, P):
    img = randn(B, 3, H, W)
    (pt,) = run("patchify", [B, H, W, P], [img], [img.size])
    ref = img.reshape(B, 3, H // P, P, W // P, P).transpose(0, 2, 4, 1, 3, 5).reshape(B, -1, 3 * P * P)
    compare(f"patchify {H}x{W}/{P}", pt, ref, 0.0)
    # the (c, ky, kx) order makes conv1 a linear layer: compare with conv2d too
    wconv = randn(5, 3, P, P)
    conv = F.conv2d(torch.tensor(img, dtype=torch.float64), torch.tensor(wconv, dtype=torch.float64), stride=P)
    conv = conv.flatten(2).transpose(1, 2).numpy()
    lin = pt.reshape(B, -1, 3 * P * P).astype(np.float64) @ wconv.reshape(5, -1).T.astype(np.float64)
    compare(f"patchify {H}x{W}/{P} as conv1", lin, conv, FWD)


def case_embed(B, Np, D):
    T = Np + 1
    pe, cls, pos, dx = randn(B, Np, D), randn(D), randn(T, D), randn(B, T, D)
    x, dpe, dcls, dpos = run("embed", [B, Np, D], [pe, cls, pos, dx], [B * T * D, B * Np * D, D, T * D])
    tpe, tcls, tpos = t64(pe), t64(cls), t64(pos)
    tx = torch.cat([tcls.expand(B, 1, D), tpe], 1) + tpos
    tx.backward(torch.tensor(dx, dtype=torch.float64))
    compare("embed x", x, tx.detach(), FWD)
    compare("embed dpe", dpe, tpe.grad, BWD)
    compare("embed dcls", dcls, tcls.grad, BWD)
    compare("embed dpos", dpos, tpos.grad, BWD)


def case_adamw(n, steps, lr, b1, b2, eps, wd):
    p0, gs = randn(n), [randn(n, scale=0.1 * (s + 1)) for s in range(steps)]
    p, m, v = run("adamw", [n, steps, lr, b1, b2, eps, wd], [p0] + gs, [n, n, n])
    tp = torch.nn.Parameter(torch.tensor(p0))  # float32, as in training
    # the op takes fp32 hyperparameters: give torch the same rounded values
    # (1 - float32(0.999) differs from 0.001 by 1.3e-5 relative)
    f = lambda a: float(np.float32(a))
    opt = torch.optim.AdamW([tp], lr=f(lr), betas=(f(b1), f(b2)), eps=f(eps), weight_decay=f(wd))
    for g in gs:
        tp.grad = torch.tensor(g)
        opt.step()
    st = opt.state[tp]
    tag = f"adamw {steps} steps wd={wd}"
    compare(tag + " p", p, tp.detach(), FWD)
    compare(tag + " m", m, st["exp_avg"], FWD)
    compare(tag + " v", v, st["exp_avg_sq"], FWD)


def case_reduce(n, mom):
    t, s, z = randn(n), randn(n), randn(n)
    z[[3, 10, n - 1]] = [np.nan, np.inf, -np.inf]
    e, extra = run("reduce", [n, mom], [t, s, z], [n, 2])
    compare("ema", e, mom * t.astype(np.float64) + (1 - mom) * s.astype(np.float64), FWD)
    compare("sumsq (double accumulation)", extra[:1], [np.sum(s.astype(np.float64) ** 2)], 1e-6)
    compare("count_nonfinite", extra[1:], [3.0], 0.0)


case_linear(37, 50, 29)
case_linear(64, 768, 96)
case_layernorm(13, 96)
case_layernorm(3, 768)
case_attention(1, 1, 1, 8)
case_attention(2, 5, 2, 4)
case_attention(2, 70, 2, 8)
case_attention(1, 197, 3, 16)
case_attention_causal(1, 1, 1, 8)
case_attention_causal(2, 77, 2, 8)
case_attention_causal(1, 150, 3, 16)
case_act(0, 1000)
case_act(1, 1000)
case_resample(0, 7, 7, 9, 11, 3)
case_resample(0, 14, 14, 16, 16, 8)
case_resample(0, 10, 9, 7, 4, 2)
case_resample(1, 7, 7, 9, 11, 3)
case_resample(1, 10, 9, 7, 4, 2)
case_l2norm(5, 64)
case_patchify(2, 8, 12, 4)
case_embed(2, 4, 6)
case_adamw(1000, 3, 1e-3, 0.9, 0.999, 1e-8, 0.0)
case_adamw(1000, 3, 3e-3, 0.9, 0.98, 1e-6, 0.05)
case_reduce(100000, 0.996)
print("test_ops_torch:", "all checks passed" if failures == 0 else f"{failures} check(s) failed")
sys.exit(1 if failures else 0)
