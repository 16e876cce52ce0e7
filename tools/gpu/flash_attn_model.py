#!/usr/bin/env python3
"""A numpy model of src/backend/cuda/flash_attn.cu (not the kernel itself): the same 64-row
tiles, causal tile skipping and masking, online softmax with the unnormalised probabilities
rounded to bf16, the division by l at the end, and the two-kernel backward (P recomputed from
lse, Di from fp32 dO and O, dS rounded), on bf16-rounded Q, K, V, dO; printed as
test_backend_parity measures it (max|a-b| / max|b| against float64 exact attention) in units
of u = 2^-8. Shows that the algorithm and its rounding points meet the 8u parity bound that
tools/gpu_check.sh applies to the kernel on a GPU (measured 0.04 u .. 1.8 u, 2026-12-01).
Usage: /usr/bin/python3 tools/gpu/flash_attn_model.py"""
import numpy as np, torch, math
def bf(x): return torch.tensor(np.asarray(x, np.float32)).to(torch.bfloat16).float().numpy().astype(np.float64)
rng = np.random.default_rng(1)
def run(T, hd, causal):
    q, k, v, do = (rng.standard_normal((T, hd)).astype(np.float32) for _ in range(4))
    sc = 1 / math.sqrt(hd); B = 64
    Q, K, V, dO = bf(q), bf(k), bf(v), bf(do)
    O = np.zeros((T, hd)); L = np.zeros(T)
    for q0 in range(0, T, B):
        rows = range(q0, min(T, q0 + B)); m = np.full(len(rows), -np.inf); l = np.zeros(len(rows)); acc = np.zeros((len(rows), hd))
        last = min((T - 1) // B, (q0 + B - 1) // B) if causal else (T - 1) // B
        for kt in range(last + 1):
            k0 = kt * B; ks = np.arange(k0, min(T, k0 + B))
            s = sc * (Q[q0:q0 + len(rows)] @ K[ks].T).astype(np.float32)
            if causal: s = np.where(ks[None, :] <= np.array(rows)[:, None], s, -np.inf)
            mn = np.maximum(m, s.max(1)); a = np.exp(m - mn); p = np.exp(s - mn[:, None])
            l = l * a + p.sum(1); acc = acc * a[:, None] + bf(p) @ V[ks]; m = mn
        O[q0:q0 + len(rows)] = acc / l[:, None]; L[q0:q0 + len(rows)] = m + np.log(l)
    # exact
    S = sc * q.astype(np.float64) @ k.T.astype(np.float64)
    if causal: S = np.where(np.tri(T, dtype=bool), S, -np.inf)
    Le = np.log(np.exp(S - S.max(1, keepdims=True)).sum(1)) + S.max(1); P = np.exp(S - Le[:, None]); Oe = P @ v
    r = lambda a, b: np.abs(a - b).max() / np.abs(b).max()
    res = [r(O, Oe), r(L, Le)]
    if not causal:
        Di = (do.astype(np.float64) * O.astype(np.float32)).sum(1)
        Pm = np.exp(sc * (Q @ K.T) - L[:, None]); dP = dO @ V.T; dS = bf(Pm * (dP - Di[:, None]))
        dv = bf(Pm).T @ dO; dq = sc * dS @ K; dk = sc * dS.T @ Q
        dPe = do @ v.T.astype(np.float64); Die = (do * Oe).sum(1); dSe = P * (dPe - Die[:, None])
        g = np.concatenate([dq, dk, dv], 1); ge = np.concatenate([sc * dSe @ k, sc * dSe.T @ q, P.T @ do], 1)
        res.append(r(g, ge))
    return [x / 2 ** -8 for x in res]
for T, hd, c in [(77, 64, 1), (197, 64, 0), (257, 64, 0), (577, 64, 0), (197, 80, 0), (65, 128, 0), (200, 64, 1), (1025, 64, 0)]:
    print(T, hd, "causal" if c else "", ["%.2f u" % x for x in run(T, hd, c)])
