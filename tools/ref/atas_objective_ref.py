#!/usr/bin/env python3
"""Independent PyTorch reference of the ATAS objective of one sample group.

Written from docs/objective.md, not from the C code: F.normalize, F.interpolate
(bilinear, align_corners=False), F.cross_entropy, F.mse_loss and autograd do the work.

Usage:  atas_objective_ref.py IN.h5 OUT.h5 [IN2.h5 OUT2.h5 ...] [--dtype float64|float32]
(several pairs share one torch start-up).

IN.h5
  datasets  t_glob [n,E], t_dense [n,hT,wT,E], s_glob [n,E], s_dense [m,hC,wC,E] (float),
            plan_g [m] (int), plan_image [m, >= g*g] (int, cell r*g+c -> image, -1 padding)
  attributes (root)  w_g2l, w_l2l, w_g2g, pool_tau, g2l_tau, g2g_tau, grad_scale (float);
            g2l_pool ("mean" | "teacher_weighted" | "mean_raw"), g2l_form ("cosine" | "infonce"),
            l2l_form ("cosine" | "similarity"), g2g_form ("cosine" | "infonce") (strings)
  A loss whose weight is 0 may come without its inputs (t_dense/s_dense/plans or s_glob).
OUT.h5
  attributes g2l, l2l, g2g, total (float64; a skipped loss is 0)
  datasets   ds_glob [n,E], ds_dense [m,hC,wC,E] (float64): grad_scale * d total / d input

The objective() function can also be imported and used inside a larger autograd graph
(e.g. a whole training step parity test).
"""
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-12


def _s(v):
    return v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v)


def cells_of(plan_g, plan_image, hC, wC):
    """(mosaic, row slice, col slice, image) for every cell, mosaic-major, row-major."""
    out = []
    for k, g in enumerate(plan_g):
        g = int(g)
        assert hC % g == 0 and wC % g == 0 and hC // g == wC // g, "cells must tile the map"
        kk = hC // g
        for c in range(g * g):
            r, q = divmod(c, g)
            out.append((k, slice(r * kk, (r + 1) * kk), slice(q * kk, (q + 1) * kk), int(plan_image[k][c]), kk))
    return out


def objective(cfg, t_glob, t_dense, s_glob, s_dense, plan_g, plan_image):
    """Returns dict of 0-d tensors g2l, l2l, g2g, total (skipped losses: 0, no graph)."""
    E = t_glob.shape[-1]
    tgn = F.normalize(t_glob, dim=-1, eps=EPS)
    zero = torch.zeros((), dtype=t_glob.dtype)
    res = {"g2l": zero, "l2l": zero, "g2g": zero}
    need_dense = cfg["w_g2l"] > 0 or cfg["w_l2l"] > 0
    cells = cells_of(plan_g, plan_image, s_dense.shape[1], s_dense.shape[2]) if need_dense else []

    if cfg["w_g2l"] > 0:
        pooled, targets = [], []
        for k, rs, cs, i, kk in cells:
            tok = s_dense[k, rs, cs, :].reshape(-1, E)
            tokn = F.normalize(tok, dim=-1, eps=EPS)  # CLIPSelf: every token normalised, then pooled
            if cfg["g2l_pool"] == "mean":
                # RoIAlign 1x1 on a token-aligned box = the average over the box of the normalised map
                z = F.adaptive_avg_pool2d(tokn.t().reshape(1, E, kk, kk), 1).reshape(E)
            elif cfg["g2l_pool"] == "teacher_weighted":
                with torch.no_grad():
                    w = torch.softmax(tokn @ tgn[i] / cfg["pool_tau"], dim=0)
                z = (w[:, None] * tokn).sum(dim=0)
            elif cfg["g2l_pool"] == "mean_raw":
                z = tok.mean(dim=0)
            else:
                raise ValueError("g2l_pool = %r" % cfg["g2l_pool"])
            pooled.append(z)
            targets.append(i)
        zn = F.normalize(torch.stack(pooled), dim=-1, eps=EPS)
        tgt = torch.tensor(targets, dtype=torch.long)
        if cfg["g2l_form"] == "cosine":
            res["g2l"] = (1 - (zn * tgn[tgt]).sum(dim=-1)).mean()
        elif cfg["g2l_form"] == "infonce":
            res["g2l"] = F.cross_entropy(zn @ tgn.t() / cfg["g2l_tau"], tgt)
        else:
            raise ValueError("g2l_form = %r" % cfg["g2l_form"])

    if cfg["w_l2l"] > 0:
        tdn = F.normalize(t_dense, dim=-1, eps=EPS).permute(0, 3, 1, 2)  # [n,E,hT,wT]
        terms = []
        for k, rs, cs, i, kk in cells:
            d = F.normalize(s_dense[k, rs, cs, :].reshape(-1, E), dim=-1, eps=EPS)
            t = F.interpolate(tdn[i:i + 1], size=(kk, kk), mode="bilinear", align_corners=False)
            t = F.normalize(t[0].permute(1, 2, 0).reshape(-1, E), dim=-1, eps=EPS)
            if cfg["l2l_form"] == "cosine":
                terms.append((1 - (d * t).sum(dim=-1)).mean())
            elif cfg["l2l_form"] == "similarity":
                terms.append(F.mse_loss(d @ d.t(), t @ t.t()))
            else:
                raise ValueError("l2l_form = %r" % cfg["l2l_form"])
        res["l2l"] = torch.stack(terms).mean()

    if cfg["w_g2g"] > 0:
        sgn = F.normalize(s_glob, dim=-1, eps=EPS)
        if cfg["g2g_form"] == "cosine":
            res["g2g"] = (1 - (sgn * tgn).sum(dim=-1)).mean()
        elif cfg["g2g_form"] == "infonce":
            res["g2g"] = F.cross_entropy(sgn @ tgn.t() / cfg["g2g_tau"], torch.arange(sgn.shape[0]))
        else:
            raise ValueError("g2g_form = %r" % cfg["g2g_form"])

    total = zero
    for name in ("g2l", "l2l", "g2g"):
        if cfg["w_" + name] > 0:
            total = total + cfg["w_" + name] * res[name]
    res["total"] = total
    return res


def run_file(inp, outp, dtype):
    with h5py.File(inp, "r") as f:
        a = f.attrs
        cfg = {k: float(a[k]) for k in ("w_g2l", "w_l2l", "w_g2g", "pool_tau", "g2l_tau", "g2g_tau")}
        for k in ("g2l_pool", "g2l_form", "l2l_form", "g2g_form"):
            cfg[k] = _s(a[k])
        scale = float(a["grad_scale"]) if "grad_scale" in a else 1.0

        def get(name):
            return torch.tensor(np.asarray(f[name]), dtype=dtype) if name in f else None

        t_glob, t_dense, s_glob, s_dense = get("t_glob"), get("t_dense"), get("s_glob"), get("s_dense")
        plan_g = np.asarray(f["plan_g"]) if "plan_g" in f else np.zeros(0, np.int32)
        plan_image = np.asarray(f["plan_image"]) if "plan_image" in f else np.zeros((0, 0), np.int32)
    leaves = [x for x in (s_glob, s_dense) if x is not None]
    for x in leaves:
        x.requires_grad_(True)
    res = objective(cfg, t_glob, t_dense, s_glob, s_dense, plan_g, plan_image)
    grads = [None] * len(leaves)
    if res["total"].requires_grad:
        grads = torch.autograd.grad(res["total"] * scale, leaves, allow_unused=True)
    with h5py.File(outp, "w") as f:
        for k in ("g2l", "l2l", "g2g", "total"):
            f.attrs[k] = float(res[k])
        for x, g in zip(leaves, grads):
            name = "ds_glob" if x is s_glob else "ds_dense"
            arr = torch.zeros_like(x) if g is None else g
            f.create_dataset(name, data=arr.detach().to(torch.float64).numpy())


def main(argv):
    dtype = torch.float64
    args = []
    it = iter(argv)
    for a in it:
        if a == "--dtype":
            dtype = {"float64": torch.float64, "float32": torch.float32}[next(it)]
        elif a.startswith("--dtype="):
            dtype = {"float64": torch.float64, "float32": torch.float32}[a.split("=", 1)[1]]
        else:
            args.append(a)
    if len(args) < 2 or len(args) % 2:
        sys.stderr.write(__doc__)
        return 2
    for inp, outp in zip(args[0::2], args[1::2]):
        run_file(inp, outp, dtype)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
