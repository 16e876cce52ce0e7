#!/usr/bin/env python3
"""Recompute a dumped training step (atas_mpi --dump-step N DIR) with PyTorch and
compare: every loss and every trainable parameter's gradient.

The encoder is tools/ref/clip_ref.py (torch's own multi-head attention; an EVA02
student, named visual.trunk.*, tools/ref/eva_ref.py), the
objective tools/ref/atas_objective_ref.py; both were written from the docs, not
from the C code. Everything runs in float64; the dump is fp32.

usage: check_dump.py DUMP.h5 [--tol 1e-4]    exit 0 when everything agrees
Only single-rank dumps are comparable (a dump holds rank 0's inputs, the
gradient is the average over all ranks).
"""
import argparse
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import atas_objective_ref as objref  # noqa: E402
import clip_ref  # noqa: E402
import eva_ref  # noqa: E402  EVA02 students (docs/eva02.md): told apart by their visual.trunk.* names


def s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def rel_err(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-8))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    dt = torch.float64
    with h5py.File(a.dump, "r") as f:
        at = f.attrs
        if int(at["world_size"]) != 1:
            print("check_dump: only single-rank dumps can be recomputed", file=sys.stderr)
            return 2
        cfg = clip_ref.read_cfg(f)
        lcfg = {k: float(at[k]) for k in ("w_g2l", "w_l2l", "w_g2g", "pool_tau", "g2l_tau", "g2g_tau")}
        for k in ("g2l_pool", "g2l_form", "l2l_form", "g2g_form"):
            lcfg[k] = s(at[k])
        G, n, m = int(at["groups"]), int(at["group_images"]), int(at["mosaics_per_group"])
        scale = float(at["grad_scale"])
        student = {k: torch.tensor(np.asarray(v), dtype=dt) for k, v in f["student"].items()}
        teacher = {k: torch.tensor(np.asarray(v), dtype=dt) for k, v in f["teacher"].items()}
        views = torch.tensor(np.asarray(f["inputs/views"]), dtype=dt)
        mosaics = torch.tensor(np.asarray(f["inputs/mosaics"]), dtype=dt) if "inputs/mosaics" in f else None
        plan_g = np.asarray(f["inputs/plan_g"]) if "inputs/plan_g" in f else np.zeros(0, np.int32)
        plan_image = np.asarray(f["inputs/plan_image"]) if "inputs/plan_image" in f else np.zeros((0, 0), np.int32)
        grads = {k: np.asarray(v) for k, v in f["grads"].items()}
        losses = {k: float(at["loss_" + k]) for k in ("g2l", "l2l", "g2g", "total")}
    for k in grads:
        student[k].requires_grad_(True)
    enc = clip_ref
    if any(k.startswith("visual.trunk.") for k in student):
        enc = eva_ref
        print("check_dump: EVA02 student (tools/ref/eva_ref.py)")
    need_dense = (lcfg["w_g2l"] > 0 or lcfg["w_l2l"] > 0) and m > 0
    with torch.no_grad():
        t_glob, t_dense = enc.encode(teacher, cfg, views, want_dense=need_dense and lcfg["w_l2l"] > 0)
    s_glob = enc.encode(student, cfg, views, want_dense=False)[0] if lcfg["w_g2g"] > 0 else None
    s_dense = enc.encode(student, cfg, mosaics, want_dense=True, want_global=False)[1] if need_dense else None
    total = 0
    vals = {k: 0.0 for k in losses}
    for j in range(G):
        res = objref.objective(
            lcfg, t_glob[j * n:(j + 1) * n],
            t_dense[j * n:(j + 1) * n] if t_dense is not None else None,
            s_glob[j * n:(j + 1) * n] if s_glob is not None else None,
            s_dense[j * m:(j + 1) * m] if s_dense is not None else None,
            plan_g[j * m:(j + 1) * m], plan_image[j * m:(j + 1) * m])
        total = total + res["total"] * scale
        for k in vals:
            vals[k] += float(res[k]) / G
    total.backward()
    bad = 0
    for k in ("g2l", "l2l", "g2g", "total"):
        e = abs(vals[k] - losses[k]) / max(abs(vals[k]), 1e-8)
        ok = e <= a.tol
        bad += not ok
        print(f"loss {k:6s} atas {losses[k]:.8f} torch {vals[k]:.8f} rel {e:.2e} {'ok' if ok else 'FAIL'}")
    worst, worst_k = 0.0, ""
    for k, g in grads.items():
        ref = student[k].grad
        ref = np.zeros_like(g) if ref is None else ref.numpy()
        e = rel_err(g, ref)
        if e > worst:
            worst, worst_k = e, k
        if e > a.tol:
            bad += 1
            print(f"grad {k}: rel err {e:.2e} FAIL")
    print(f"gradients: {len(grads)} tensors, worst rel err {worst:.2e} ({worst_k})")
    return 1 if bad else 0


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    sys.exit(main())
