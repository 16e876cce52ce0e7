#!/usr/bin/env python3
"""CPU backend ops against PyTorch (float64 references, autograd backward).

Usage: test_ops_torch.py OP_DRIVER
The cases come from the op registry's one case list (src/backend/op_cases.c,
the OPC_TORCH ones), read with `OP_DRIVER --list`. For each case this writes the
inputs the list describes as float32, runs the C driver on them, and compares
every output the family's reference below returns with max|a-b| / max|b|
against the case's bound (outputs: "fwd", gradients: "bwd"). A case whose
family has no reference here fails. Exits 1 on any failure.
"""
import json
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


def compare(name, got, ref, bound):
    global failures
    ref = np.asarray(ref, np.float64).ravel()
    got = np.asarray(got, np.float64).ravel()
    err = np.max(np.abs(got - ref)) / max(np.max(np.abs(ref)), 1e-30) if ref.size else 0.0
    if not np.isfinite(err):
        err = np.inf
    ok = err <= bound
    failures += not ok
    print(f"  {name:<44} {err:10.2e}  bound {bound:.0e}  {'PASS' if ok else 'FAIL'}")


def t64(a, grad=True):
    return torch.tensor(np.asarray(a, np.float32), dtype=torch.float64, requires_grad=grad)


def up(a):
    return torch.tensor(np.asarray(a, np.float32), dtype=torch.float64)


# ---- references: (case, inputs by name as float32 arrays) -> {name: (reference, "fwd"|"bwd")}
def ref_linear(c, a):
    M, K, N = c["p"][:3]
    tx, tW, tb = t64(a["x"].reshape(M, K)), t64(a["W"].reshape(N, K)), t64(a["b"])
    ty = tx @ tW.T + tb
    ty.backward(up(a["dy"]).reshape(M, N))
    return {"y": (ty.detach(), "fwd"), "dx": (tx.grad, "bwd"), "dW": (tW.grad, "bwd"), "db": (tb.grad, "bwd")}


def ref_matmul(c, a):
    M, K, N = c["p"][:3]
    tx, tW = t64(a["x"].reshape(M, K)), t64(a["W"].reshape(K, N))
    ty = tx @ tW
    ty.backward(up(a["dy"]).reshape(M, N))
    return {"y": (ty.detach(), "fwd"), "dx": (tx.grad, "bwd"), "dW": (tW.grad, "bwd")}


def ref_layernorm(c, a):
    M, C = c["p"][:2]
    tx, tw, tb = t64(a["x"].reshape(M, C)), t64(a["w"]), t64(a["b"])
    ty = F.layer_norm(tx, (C,), tw, tb, eps=1e-5)
    ty.backward(up(a["dy"]).reshape(M, C))
    return {"y": (ty.detach(), "fwd"), "dx": (tx.grad, "bwd"), "dw": (tw.grad, "bwd"), "db": (tb.grad, "bwd")}


def ref_add_layernorm(c, a):
    M, C = c["p"][:2]
    ta, tr, tw, tb = t64(a["a"].reshape(M, C)), t64(a["r"].reshape(M, C)), t64(a["w"]), t64(a["b"])
    ts = ta + tr
    ty = F.layer_norm(ts, (C,), tw, tb, eps=1e-5)
    ty.backward(up(a["dy"]).reshape(M, C))
    return {"y": (ty.detach(), "fwd"), "s": (ts.detach(), "fwd"), "da": (ta.grad, "bwd"), "dr": (tr.grad, "bwd"),
            "dw": (tw.grad, "bwd"), "db": (tb.grad, "bwd")}


def attention(c, a, causal):
    B, T, H, hd = c["p"][:4]
    D = H * hd
    tq = t64(a["qkv"].reshape(B, T, 3 * D), grad=not causal)
    q, k, v = (tq[..., i * D:(i + 1) * D].reshape(B, T, H, hd).transpose(1, 2) for i in range(3))
    s = q @ k.transpose(-1, -2) / np.sqrt(hd)
    if causal:
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    to = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
    res = {"out": (to.detach(), "fwd"), "lse": (torch.logsumexp(s, -1).detach(), "fwd")}
    if not causal:
        to.backward(up(a["dout"]).reshape(B, T, D))
        res["dqkv"] = (tq.grad, "bwd")
    return res


def ref_act(c, a):
    kind = c["p"][1]
    tx = t64(a["x"])
    ty = tx * torch.sigmoid(1.702 * tx) if kind == 0 else F.gelu(tx)
    ty.backward(up(a["dy"]))
    return {"y": (ty.detach(), "fwd"), "dx": (tx.grad, "bwd")}


def ref_resample(c, a):
    ih, iw, oh, ow, C, kind = c["p"][:6]
    tx = t64(a["in"].reshape(ih, iw, C))
    mode = "bicubic" if kind == 0 else "bilinear"
    to = F.interpolate(tx.permute(2, 0, 1)[None], size=(oh, ow), mode=mode, align_corners=False)
    to = to[0].permute(1, 2, 0)
    to.backward(up(a["dout"]).reshape(oh, ow, C))
    return {"out": (to.detach(), "fwd"), "din": (tx.grad, "bwd")}


def ref_patchify(c, a):
    B, H, W, P = c["p"][:4]
    img = a["img"].reshape(B, 3, H, W)
    ref = img.reshape(B, 3, H // P, P, W // P, P).transpose(0, 2, 4, 1, 3, 5).reshape(B, -1, 3 * P * P)
    return {"patches": (ref, "exact")}


def check_patchify_conv(c, a, got):
    # the (c, ky, kx) order makes conv1 a linear layer: compare with conv2d too
    B, H, W, P = c["p"][:4]
    img = a["img"].reshape(B, 3, H, W)
    wconv = (rng.standard_normal((5, 3, P, P))).astype(np.float32)
    conv = F.conv2d(torch.tensor(img, dtype=torch.float64), torch.tensor(wconv, dtype=torch.float64), stride=P)
    conv = conv.flatten(2).transpose(1, 2).numpy()
    lin = got["patches"].reshape(B, -1, 3 * P * P).astype(np.float64) @ wconv.reshape(5, -1).T.astype(np.float64)
    compare(f"patchify {H}x{W}/{P} as conv1", lin, conv, c["fwd"])


def ref_embed(c, a):
    B, Np, D = c["p"][:3]
    T = Np + 1
    tpe, tcls, tpos = t64(a["pe"].reshape(B, Np, D)), t64(a["cls"]), t64(a["pos"].reshape(T, D))
    tx = torch.cat([tcls.expand(B, 1, D), tpe], 1) + tpos
    tx.backward(up(a["dx"]).reshape(B, T, D))
    return {"x": (tx.detach(), "fwd"), "dpe": (tpe.grad, "bwd"), "dcls": (tcls.grad, "bwd"),
            "dpos": (tpos.grad, "bwd")}


def ref_adamw(c, a):
    steps = c["p"][1]
    lr, b1, b2, eps, wd = c["f"][:5]  # the op's fp32 hyperparameters, exactly
    tp = torch.nn.Parameter(torch.tensor(a["p"]))  # float32, as in training
    opt = torch.optim.AdamW([tp], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    for s in range(steps):
        tp.grad = torch.tensor(a[f"g{s + 1}"])
        opt.step()
    st = opt.state[tp]
    return {"p": (tp.detach(), "fwd"), "m": (st["exp_avg"], "fwd"), "v": (st["exp_avg_sq"], "fwd")}


def ref_ema(c, a):
    mom = c["f"][0]
    return {"teacher": (mom * a["teacher"].astype(np.float64) + (1 - mom) * a["student"].astype(np.float64), "fwd")}


def ref_sumsq(c, a):
    return {"sumsq": ([np.sum(a["x"].astype(np.float64) ** 2)], "fwd")}


REF = {
    "linear": ref_linear,
    "matmul": ref_matmul,
    "layernorm": ref_layernorm,
    "add_layernorm": ref_add_layernorm,
    "attention": lambda c, a: attention(c, a, False),
    "attention_causal": lambda c, a: attention(c, a, True),
    "act": ref_act,
    "resample": ref_resample,
    "patchify": ref_patchify,
    "embed": ref_embed,
    "adamw": ref_adamw,
    "ema": ref_ema,
    "sumsq": ref_sumsq,
}
EXTRA = {"patchify": check_patchify_conv}
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eva_ops_ref  # noqa: E402  EVA02's ops (rope, swiglu)
REF.update(eva_ops_ref.REF)


def run_case(c):
    global failures
    ins, order = {}, []
    for t in c["tensors"]:
        if t["role"] in ("in", "up", "inout"):
            a = np.zeros(t["n"], np.float32) if t["scale"] == 0 else \
                (t["off"] + t["scale"] * rng.standard_normal(t["n"])).astype(np.float32)
            ins[t["name"]] = a
            order.append(a)
    inp, outp = os.path.join(TMP, "in.bin"), os.path.join(TMP, "out.bin")
    np.concatenate(order).astype(np.float32).tofile(inp)
    subprocess.run([DRIVER, str(c["index"]), inp, outp], check=True)
    flat = np.fromfile(outp, np.float32)
    outs, pos = {}, 0
    for t in c["tensors"]:
        if t["role"] not in ("in", "up"):
            outs[t["name"]] = flat[pos:pos + t["n"]]
            pos += t["n"]
    assert pos == flat.size, f"{c['label']}: driver wrote {flat.size} floats, expected {pos}"
    if c["family"] not in REF:
        print(f"  {c['label']}: no PyTorch reference for family {c['family']}  FAIL")
        failures += 1
        return
    shape = " ".join(str(p) for p in c["p"] if p) or "-"
    for name, (ref, kind) in REF[c["family"]](c, ins).items():
        bound = 0.0 if kind == "exact" else c[kind]
        compare(f"{c['label']} [{shape}] {name}", outs[name], ref, bound)
    if c["family"] in EXTRA:
        EXTRA[c["family"]](c, ins, outs)


cases = [json.loads(l) for l in subprocess.run([DRIVER, "--list"], check=True, capture_output=True,
                                                text=True).stdout.splitlines()]
assert cases, "op_driver --list gave no OPC_TORCH case"
for c in cases:
    run_case(c)
print(f"test_ops_torch: {len(cases)} cases,", "all checks passed" if failures == 0 else f"{failures} check(s) failed")
sys.exit(1 if failures else 0)
