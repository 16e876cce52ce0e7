#!/usr/bin/env python3
"""The precision emulation of the CPU backend against independent references.

Usage: test_precision_torch.py OP_DRIVER

1. Rounding (atas_round_precision, `op_driver --round P`): every float32 of a set
   built to hit the hard cases (ties to even in both directions, NaN, +-Inf,
   overflow to Inf, subnormals and their ties, zeros, random values over the
   whole exponent range) against
   - bf16: PyTorch's conversion, torch.tensor(x).to(torch.bfloat16).float(),
     bit for bit (NaN: any NaN);
   - bf16 and tf32: an exact rational reference written here: the value divided
     by its quantum (2^(e - p) in the binade [2^(e-1), 2^e), never below the
     subnormal quantum of the format inside fp32), rounded with Python's round()
     (ties to even), times the quantum; beyond the largest finite value -> Inf.
2. The ops (`op_driver --precision P`): linear and attention at bf16 and tf32
   against PyTorch in float64 on the same inputs rounded as the emulation rounds
   them (Q, K, V, dO, x, W, dy; the probabilities P and the score gradient dS
   rounded in float64 too). Bounds:
   - linear: 1e-5 / 2e-5, test_ops_torch's fp32-vs-float64 bounds: with the same
     rounded inputs only the fp32 accumulation differs;
   - attention: P and dS are rounded from an fp32 value in C and from a float64
     value here; the two differ by ~1e-7 relative, so now and then one element
     lands on the other side of a rounding boundary and moves by one ulp of the
     format (u = 2^-8 bf16, 2^-11 tf32) on a term that is 1/T-ish of an output.
     Bound: u / 8 for bf16 and u / 4 for tf32 (max-norm relative), and, to show
     that the rounding model is the one implemented, the error against the
     rounded reference must be below the error against the unrounded float64
     reference by the same factor u / bound (8 for bf16, 4 for tf32: an error the
     bound allows must still stand apart from the ~u of not rounding); linear
     (bound 1e-5, no rounding inside) keeps a factor of 8.
Exits 1 on any failure.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

DRIVER = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="atas_prec_")
rng = np.random.default_rng(11)
failures = 0
U = {"bf16": 2.0 ** -8, "tf32": 2.0 ** -11}
BITS = {"bf16": 8, "tf32": 11}  # significant bits (stored mantissa + 1)


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    failures += not cond


# ------------------------------------------------------------------ 1. rounding
def round_driver(x, prec):
    inp, outp = os.path.join(TMP, "r_in.bin"), os.path.join(TMP, "r_out.bin")
    np.asarray(x, np.float32).tofile(inp)
    subprocess.run([DRIVER, "--round", prec, inp, outp], check=True)
    return np.fromfile(outp, np.float32)


def round_exact(v, prec):
    """v (a float32 value as a Python float) rounded to nearest even with p significant bits."""
    if math.isnan(v) or math.isinf(v) or v == 0.0:
        return v
    p = BITS[prec]
    _, e = math.frexp(v)  # |v| in [2^(e-1), 2^e)
    # the format inside fp32: the subnormal quantum is fp32's 2^-149 times the dropped bits
    q = max(2.0 ** (e - p), 2.0 ** (-149 + 24 - p))
    r = math.copysign(round(v / q) * q, v)  # exact scaling by a power of two; round() ties to even; keeps -0
    big = (2.0 - 2.0 ** (1 - p)) * 2.0 ** 127  # the largest finite value of the format
    return math.copysign(math.inf, r) if abs(r) > big else r


def bits(x):
    return np.asarray(x, np.float32).view(np.uint32)


def rounding_inputs():
    u32 = []
    # ties and near-ties in both formats: kept part even/odd, dropped part half, half +- 1
    for base in (0x3F800000, 0x3F810000, 0x3F812000, 0x40490000, 0x7F7F0000, 0x00010000, 0x00030000):
        for drop in (16, 13):
            h = 1 << (drop - 1)
            for k in (0, 1):  # even / odd kept part
                b = (base & ~((1 << drop) - 1)) | (k << drop)
                for d in (h - 1, h, h + 1, 0, (1 << drop) - 1):
                    u32 += [b | d, (b | d) | 0x80000000]
    u32 += [0x7F800000, 0xFF800000,  # +-Inf
            0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF,  # NaNs (quiet, signalling, payloads)
            0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F8000, 0x7F7FF000,  # largest finite: overflow to Inf
            0x00000000, 0x80000000,  # zeros
            0x00000001, 0x80000001, 0x00007FFF, 0x00008000, 0x00008001, 0x00018000,  # subnormals
            0x007FFFFF, 0x00800000, 0x00001000, 0x00003000, 0x00000FFF]
    x = np.array(u32, np.uint32).view(np.float32)
    # random values over the whole exponent range, and plain random bit patterns
    rnd = (rng.standard_normal(20000) * np.exp2(rng.uniform(-140, 127, 20000))).astype(np.float32)
    pat = rng.integers(0, 2 ** 32, 20000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    return np.concatenate([x, rnd, pat])


def test_rounding():
    x = rounding_inputs()
    with np.errstate(all="ignore"):
        for prec in ("bf16", "tf32"):
            got = round_driver(x, prec)
            ref = np.array([round_exact(float(v), prec) for v in x], np.float32)
            nan = np.isnan(ref)
            same = (bits(got) == bits(ref)) | (nan & np.isnan(got))
            bad = np.flatnonzero(~same)
            check(bad.size == 0, f"{prec}: {x.size} values (ties, NaN, Inf, overflow, subnormals) equal the exact "
                  f"rational rounding" + (f"; first mismatch {bits(x)[bad[0]]:#010x} -> {bits(got)[bad[0]]:#010x},"
                                           f" expected {bits(ref)[bad[0]]:#010x}" if bad.size else ""))
            if prec == "bf16":
                tref = torch.tensor(x).to(torch.bfloat16).float().numpy()
                same = (bits(got) == bits(tref)) | (np.isnan(tref) & np.isnan(got))
                bad = np.flatnonzero(~same)
                check(bad.size == 0, f"bf16: equals torch .to(torch.bfloat16).float() bit for bit"
                      + (f"; first mismatch {bits(x)[bad[0]]:#010x}" if bad.size else ""))
            changed = np.count_nonzero(bits(got) != bits(x))
            check(changed > x.size // 2, f"{prec}: the rounding changes {changed} of {x.size} values")


# ------------------------------------------------------------------ 2. ops
def cases():
    out = subprocess.run([DRIVER, "--list"], check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines()]


def run_op(c, prec, ins_order):
    inp, outp = os.path.join(TMP, "in.bin"), os.path.join(TMP, "out.bin")
    np.concatenate(ins_order).astype(np.float32).tofile(inp)
    subprocess.run([DRIVER, "--precision", prec, str(c["index"]), inp, outp], check=True)
    flat = np.fromfile(outp, np.float32)
    outs, pos = {}, 0
    for t in c["tensors"]:
        if t["role"] not in ("in", "up"):
            outs[t["name"]] = flat[pos:pos + t["n"]].astype(np.float64)
            pos += t["n"]
    return outs


def rnd(a, prec):
    """a (float64 tensor) rounded to the format, in float64"""
    if prec == "bf16":
        return a.to(torch.bfloat16).to(torch.float64)
    f = a.to(torch.float32).numpy()
    return torch.tensor(np.vectorize(lambda v: round_exact(float(v), "tf32"))(f), dtype=torch.float64)


def ref_linear(c, a, prec, rounded):
    M, K, N = c["p"][:3]
    r = (lambda t: rnd(t, prec)) if rounded else (lambda t: t)
    x = torch.tensor(a["x"], dtype=torch.float64).reshape(M, K)
    W = torch.tensor(a["W"], dtype=torch.float64).reshape(N, K)
    b = torch.tensor(a["b"], dtype=torch.float64)
    dy = torch.tensor(a["dy"], dtype=torch.float64).reshape(M, N)
    return {"y": r(x) @ r(W).T + b, "dx": r(dy) @ r(W), "dW": r(dy).T @ r(x), "db": dy.sum(0)}


def ref_attention(c, a, prec, rounded):
    """the forward and backward written out, with the emulation's roundings"""
    B, T, H, hd = c["p"][:4]
    D = H * hd
    r = (lambda t: rnd(t, prec)) if rounded else (lambda t: t)
    qkv = torch.tensor(a["qkv"], dtype=torch.float64).reshape(B, T, 3 * D)
    dout = torch.tensor(a["dout"], dtype=torch.float64).reshape(B, T, H, hd).transpose(1, 2)
    q, k, v = (r(qkv[..., i * D:(i + 1) * D]).reshape(B, T, H, hd).transpose(1, 2) for i in range(3))
    sc = 1.0 / math.sqrt(hd)
    s = sc * q @ k.transpose(-1, -2)
    lse = torch.logsumexp(s, -1)
    P = torch.exp(s - lse[..., None])
    o = r(P) @ v
    Di = (dout * o).sum(-1, keepdim=True)  # fp32 dO and O, as the kernel
    dO = r(dout)
    dv = r(P).transpose(-1, -2) @ dO
    dP = dO @ v.transpose(-1, -2)
    dS = r(P * (dP - Di))
    dq = sc * dS @ k
    dk = sc * dS.transpose(-1, -2) @ q
    dqkv = torch.cat([t.transpose(1, 2).reshape(B, T, D) for t in (dq, dk, dv)], -1)
    return {"out": o.transpose(1, 2).reshape(B, T, D), "lse": lse, "dqkv": dqkv}


def rel(got, ref):
    ref = np.asarray(ref, np.float64).ravel()
    return float(np.max(np.abs(got.ravel() - ref)) / max(np.max(np.abs(ref)), 1e-30))


def test_ops():
    REF = {"linear": ref_linear, "attention": ref_attention}
    seen = set()
    for c in cases():
        if c["family"] not in REF:
            continue
        seen.add(c["family"])
        ins, order = {}, []
        for t in c["tensors"]:
            if t["role"] in ("in", "up", "inout"):
                x = np.zeros(t["n"], np.float32) if t["scale"] == 0 else \
                    (t["off"] + t["scale"] * rng.standard_normal(t["n"])).astype(np.float32)
                ins[t["name"]] = x
                order.append(x)
        for prec in ("bf16", "tf32"):
            outs = run_op(c, prec, order)
            ref = REF[c["family"]](c, ins, prec, True)
            exact = REF[c["family"]](c, ins, prec, False)
            for name, rv in ref.items():
                e_r, e_x = rel(outs[name], rv), rel(outs[name], exact[name])
                if c["family"] == "linear":
                    bound = 1e-5 if name == "y" else 2e-5
                else:
                    bound = U[prec] / (8 if prec == "bf16" else 4)
                gemm = not (c["family"] == "linear" and name == "db")
                sep = 8 if c["family"] == "linear" else U[prec] / bound
                ok = e_r <= bound and (not gemm or e_r * sep <= e_x)
                check(ok, f"{prec} {c['label']:<22} {name:<5} vs rounded float64 {e_r:9.2e} (bound {bound:.1e}); "
                      f"vs unrounded {e_x:9.2e}")
    check(seen == set(REF), f"cases found for {sorted(REF)}")


test_rounding()
test_ops()
print("test_precision_torch:", "all checks passed" if failures == 0 else f"{failures} check(s) failed")
sys.exit(1 if failures else 0)
