#!/usr/bin/env python3
"""PyTorch side of atas_bench: the same ViT forward+backward through torch (the
reference model in tools/ref/clip_ref.py, built on torch's own multi-head
attention), timed and measured the same way as atas: best-of-reps wall time and
the peak RSS growth from just before the model is built.

usage: torch_vit_bench.py --patch P --width D --layers L --heads H --mlp M --embed E
                          --grid G --res R --batch B --reps N --threads T [--dense] [--eva]
--eva: the EVA02 tower of tools/ref/eva_ref.py instead (docs/eva02.md; --mlp = SwiGLU hidden)
prints one line: JSON {"ms": best_ms, "mib": peak_rss_growth_mib}
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import clip_ref  # noqa: E402
import eva_ref  # noqa: E402


def eva_shapes(a):
    D, P, G, M, E, T = a.width, a.patch, a.grid, a.mlp, a.embed, "visual.trunk."
    s = {T + "patch_embed.proj.weight": (D, 3, P, P), T + "patch_embed.proj.bias": (D,),
         T + "cls_token": (1, 1, D), T + "pos_embed": (1, G * G + 1, D), T + "norm.weight": (D,),
         T + "norm.bias": (D,), T + "head.weight": (E, D), T + "head.bias": (E,)}
    for l in range(a.layers):
        b = f"{T}blocks.{l}."
        s.update({b + "norm1.weight": (D,), b + "norm1.bias": (D,), b + "attn.qkv.weight": (3 * D, D),
                  b + "attn.q_bias": (D,), b + "attn.v_bias": (D,), b + "attn.norm.weight": (D,),
                  b + "attn.norm.bias": (D,), b + "attn.proj.weight": (D, D), b + "attn.proj.bias": (D,),
                  b + "norm2.weight": (D,), b + "norm2.bias": (D,), b + "mlp.fc1_gx.weight": (2 * M, D),
                  b + "mlp.fc1_gx.bias": (2 * M,), b + "mlp.norm.weight": (M,), b + "mlp.norm.bias": (M,),
                  b + "mlp.fc2.weight": (D, M), b + "mlp.fc2.bias": (D,)})
    return s


def rss_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    for k in ("patch", "width", "layers", "heads", "mlp", "embed", "grid", "res", "batch", "reps", "threads"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--dense", action="store_true")
    ap.add_argument("--eva", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = dict(patch=a.patch, width=a.width, layers=a.layers, heads=a.heads, mlp=a.mlp,
               embed=a.embed, grid=a.grid, act="quickgelu", ln_eps=1e-5)
    images = torch.randn(a.batch, 3, a.res, a.res)
    # peak RSS from here on (Linux: writing 5 to clear_refs resets VmHWM)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = rss_kb("VmRSS:")
    D, P, G, M, E = a.width, a.patch, a.grid, a.mlp, a.embed
    shapes = {"visual.conv1.weight": (D, 3, P, P), "visual.class_embedding": (D,),
              "visual.positional_embedding": (G * G + 1, D), "visual.ln_pre.weight": (D,),
              "visual.ln_pre.bias": (D,), "visual.ln_post.weight": (D,), "visual.ln_post.bias": (D,),
              "visual.proj": (D, E)}
    for l in range(a.layers):
        pre = f"visual.transformer.resblocks.{l}."
        shapes.update({pre + "ln_1.weight": (D,), pre + "ln_1.bias": (D,),
                       pre + "attn.in_proj_weight": (3 * D, D), pre + "attn.in_proj_bias": (3 * D,),
                       pre + "attn.out_proj.weight": (D, D), pre + "attn.out_proj.bias": (D,),
                       pre + "ln_2.weight": (D,), pre + "ln_2.bias": (D,),
                       pre + "mlp.c_fc.weight": (M, D), pre + "mlp.c_fc.bias": (M,),
                       pre + "mlp.c_proj.weight": (D, M), pre + "mlp.c_proj.bias": (D,)})
    if a.eva:
        shapes, cfg["ln_eps"] = eva_shapes(a), 1e-6
    p = {k: (torch.randn(*s) * 0.02).requires_grad_(True) for k, s in shapes.items()}
    model = eva_ref if a.eva else clip_ref
    best = float("inf")
    for _ in range(a.reps + 1):  # first is warm-up
        t0 = time.perf_counter()
        glob, dense = model.encode(p, cfg, images, want_dense=a.dense, want_global=not a.dense)
        out = dense if a.dense else glob
        out.sum().backward()
        dt = time.perf_counter() - t0
        best = min(best, dt) if _ > 0 else best
        del glob, dense, out
    peak = rss_kb("VmHWM:")
    print(json.dumps({"ms": best * 1e3, "mib": (peak - base) / 1024.0}))


if __name__ == "__main__":
    main()
