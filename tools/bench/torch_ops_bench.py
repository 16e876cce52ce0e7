#!/usr/bin/env python3
"""PyTorch side of atas_bench's per-op table: the same ops, shapes and best-of-reps
timing, printed as one JSON object {op: ms}. Backward ops time autograd's backward
alone (the forward's graph is built outside the timed region).

usage: torch_ops_bench.py --B 8 --T 197 --D 768 --H 12 --M 3072 --reps 3 --threads 2
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def best(fn, reps):
    t = float("inf")
    for r in range(reps + 1):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if r > 0:
            t = min(t, dt)
    return t * 1e3


def bwd_timer(make, reps):
    """make() -> (output, inputs): time grad of sum(output * g) wrt the inputs."""
    def run():
        y, xs = make()
        g = torch.randn_like(y)
        t0 = time.perf_counter()
        torch.autograd.grad(y, xs, g)
        return time.perf_counter() - t0
    ts = [run() for _ in range(reps + 1)][1:]
    return min(ts) * 1e3


def main():
    ap = argparse.ArgumentParser()
    for k in ("B", "T", "D", "H", "M", "reps", "threads"):
        ap.add_argument("--" + k, type=int, required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    B, T, D, H, Hm, reps = a.B, a.T, a.D, a.H, a.M, a.reps
    Mrows, hd = B * T, D // H
    out = {}
    x = torch.randn(Mrows, D)
    W = torch.randn(Hm, D) * 0.02
    b = torch.randn(Hm) * 0.02
    out["linear_fwd"] = best(lambda: F.linear(x, W, b), reps)

    def mk_lin():
        xs = [x.clone().requires_grad_(), W.clone().requires_grad_(), b.clone().requires_grad_()]
        return F.linear(*xs), xs
    out["linear_bwd"] = bwd_timer(mk_lin, reps)
    w, bb = torch.ones(D), torch.zeros(D)
    out["layernorm_fwd"] = best(lambda: F.layer_norm(x, (D,), w, bb, 1e-5), reps)

    def mk_ln():
        xs = [x.clone().requires_grad_(), w.clone().requires_grad_(), bb.clone().requires_grad_()]
        return F.layer_norm(xs[0], (D,), xs[1], xs[2], 1e-5), xs
    out["layernorm_bwd"] = bwd_timer(mk_ln, reps)
    qkv = torch.randn(B, T, 3 * D)

    def attn(q3):
        q, k, v = q3.split(D, dim=-1)
        q, k, v = (t.reshape(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
        p = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5, dim=-1)
        return (p @ v).transpose(1, 2).reshape(B, T, D)
    out["attention_fwd"] = best(lambda: attn(qkv), reps)

    def mk_attn():
        q3 = qkv.clone().requires_grad_()
        return attn(q3), [q3]
    out["attention_bwd"] = bwd_timer(mk_attn, reps)
    h = torch.randn(Mrows, Hm)

    def qg(t):
        return t * torch.sigmoid(1.702 * t)
    out["quickgelu_fwd"] = best(lambda: qg(h), reps)

    def mk_qg():
        t = h.clone().requires_grad_()
        return qg(t), [t]
    out["quickgelu_bwd"] = bwd_timer(mk_qg, reps)
    out["gelu_fwd"] = best(lambda: F.gelu(h), reps)
    g = torch.randn(1, D, 14, 14)
    out["bicubic_fwd"] = best(lambda: F.interpolate(g, size=(28, 28), mode="bicubic", align_corners=False), reps)

    def mk_bc():
        t = g.clone().requires_grad_()
        return F.interpolate(t, size=(28, 28), mode="bicubic", align_corners=False), [t]
    out["bicubic_bwd"] = bwd_timer(mk_bc, reps)
    # EVA02: 2-D rope on q and k of a packed qkv (14x14 grid + CLS), SwiGLU gate
    gh = int(round((T - 1) ** 0.5))
    if gh * gh == T - 1 and hd % 4 == 0:
        nb = hd // 4
        bands = 1.0 / (10000 ** (torch.arange(nb) / nb))
        tt = torch.arange(gh) / gh * 16
        pos = torch.stack(torch.meshgrid(tt, tt, indexing="ij"), -1)[..., None] * bands
        sin = pos.sin().reshape(gh * gh, -1).repeat_interleave(2, -1).repeat(1, 2 * H)
        cos = pos.cos().reshape(gh * gh, -1).repeat_interleave(2, -1).repeat(1, 2 * H)

        def rope(q3):
            qk = q3[:, 1:, :2 * D]
            rot = torch.stack([-qk[..., 1::2], qk[..., ::2]], -1).reshape(qk.shape)
            return torch.cat([q3[:, :1], torch.cat([qk * cos + rot * sin, q3[:, 1:, 2 * D:]], -1)], 1)
        out["rope_fwd"] = best(lambda: rope(qkv), reps)

        def mk_rope():
            q3 = qkv.clone().requires_grad_()
            return rope(q3), [q3]
        out["rope_bwd"] = bwd_timer(mk_rope, reps)
    x2 = torch.randn(Mrows, 2 * Hm)

    def swiglu(t):
        return F.silu(t[:, :Hm]) * t[:, Hm:]
    out["swiglu_fwd"] = best(lambda: swiglu(x2), reps)

    def mk_sw():
        t = x2.clone().requires_grad_()
        return swiglu(t), [t]
    out["swiglu_bwd"] = bwd_timer(mk_sw, reps)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
