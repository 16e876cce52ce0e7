#!/usr/bin/env python3
"""Independent PyTorch reference of CLIP's text tower as OpenCLIP computes it
(encode_text): token + positional embedding, causal pre-LN residual blocks,
ln_final, the row of the EOT token (argmax of the ids), @ text_projection.

Library for the tests (tests/test_text_torch.py):
  random_openclip(...)  a random text tower in OpenCLIP names (numpy float32)
  to_hf(sd)             the same tensors in Hugging Face names
  save_safetensors()    a plain safetensors writer (no package needed)
  encode_text(sd, ids, heads, act)   float64 reference, [B, E]
"""
import json
import struct

import numpy as np
import torch
import torch.nn.functional as F


def random_openclip(vocab, ctx, width, layers, mlp, embed, seed):
    r = np.random.default_rng(seed)

    def n(*s, std=0.02):
        return (std * r.standard_normal(s)).astype(np.float32)

    sd = {
        "token_embedding.weight": n(vocab, width),
        "positional_embedding": n(ctx, width, std=0.01),
        "ln_final.weight": (1 + n(width, std=0.1)).astype(np.float32),
        "ln_final.bias": n(width, std=0.1),
        "text_projection": n(width, embed, std=width ** -0.5),
        "logit_scale": np.array(np.log(1 / 0.07), np.float32),
    }
    for l in range(layers):
        p = f"transformer.resblocks.{l}."
        sd[p + "ln_1.weight"] = (1 + n(width, std=0.1)).astype(np.float32)
        sd[p + "ln_1.bias"] = n(width, std=0.1)
        sd[p + "attn.in_proj_weight"] = n(3 * width, width, std=width ** -0.5)
        sd[p + "attn.in_proj_bias"] = n(3 * width, std=0.1)
        sd[p + "attn.out_proj.weight"] = n(width, width, std=width ** -0.5)
        sd[p + "attn.out_proj.bias"] = n(width, std=0.1)
        sd[p + "ln_2.weight"] = (1 + n(width, std=0.1)).astype(np.float32)
        sd[p + "ln_2.bias"] = n(width, std=0.1)
        sd[p + "mlp.c_fc.weight"] = n(mlp, width, std=width ** -0.5)
        sd[p + "mlp.c_fc.bias"] = n(mlp, std=0.1)
        sd[p + "mlp.c_proj.weight"] = n(width, mlp, std=mlp ** -0.5)
        sd[p + "mlp.c_proj.bias"] = n(width, std=0.1)
    return sd


def to_hf(sd):
    """OpenCLIP text names -> transformers CLIPModel names."""
    hf = {
        "text_model.embeddings.token_embedding.weight": sd["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": sd["positional_embedding"],
        "text_model.final_layer_norm.weight": sd["ln_final.weight"],
        "text_model.final_layer_norm.bias": sd["ln_final.bias"],
        "text_projection.weight": np.ascontiguousarray(sd["text_projection"].T),
        "logit_scale": sd["logit_scale"],
    }
    l = 0
    while f"transformer.resblocks.{l}.ln_1.weight" in sd:
        p, q = f"transformer.resblocks.{l}.", f"text_model.encoder.layers.{l}."
        W = sd[p + "attn.in_proj_weight"].shape[1]
        for j, c in enumerate("qkv"):
            hf[q + f"self_attn.{c}_proj.weight"] = sd[p + "attn.in_proj_weight"][j * W:(j + 1) * W].copy()
            hf[q + f"self_attn.{c}_proj.bias"] = sd[p + "attn.in_proj_bias"][j * W:(j + 1) * W].copy()
        for a, b in [("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("attn.out_proj", "self_attn.out_proj"),
                     ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")]:
            hf[q + b + ".weight"] = sd[p + a + ".weight"]
            hf[q + b + ".bias"] = sd[p + a + ".bias"]
        l += 1
    return hf


def save_safetensors(path, tensors):
    header, off, blobs = {}, 0, []
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k], dtype=np.float32)
        b = a.tobytes()
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def encode_text(sd, ids, heads, act, eps=1e-5):
    """float64 OpenCLIP encode_text (not normalised) for ids [B, ctx]."""
    t = {k: torch.tensor(np.asarray(v), dtype=torch.float64) for k, v in sd.items()}
    ids = torch.tensor(np.asarray(ids), dtype=torch.long)
    B, T = ids.shape
    W = t["token_embedding.weight"].shape[1]
    hd = W // heads
    x = t["token_embedding.weight"][ids] + t["positional_embedding"][:T]
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    actf = (lambda v: v * torch.sigmoid(1.702 * v)) if act == "quickgelu" else F.gelu
    l = 0
    while f"transformer.resblocks.{l}.ln_1.weight" in t:
        p = f"transformer.resblocks.{l}."
        h = F.layer_norm(x, (W,), t[p + "ln_1.weight"], t[p + "ln_1.bias"], eps)
        qkv = h @ t[p + "attn.in_proj_weight"].T + t[p + "attn.in_proj_bias"]
        q, k, v = (qkv[..., i * W:(i + 1) * W].reshape(B, T, heads, hd).transpose(1, 2) for i in range(3))
        s = (q @ k.transpose(-1, -2)) / np.sqrt(hd)
        s = s.masked_fill(mask, float("-inf"))
        a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, W)
        x = x + a @ t[p + "attn.out_proj.weight"].T + t[p + "attn.out_proj.bias"]
        h = F.layer_norm(x, (W,), t[p + "ln_2.weight"], t[p + "ln_2.bias"], eps)
        h = actf(h @ t[p + "mlp.c_fc.weight"].T + t[p + "mlp.c_fc.bias"])
        x = x + h @ t[p + "mlp.c_proj.weight"].T + t[p + "mlp.c_proj.bias"]
        l += 1
    x = F.layer_norm(x, (W,), t["ln_final.weight"], t["ln_final.bias"], eps)
    pooled = x[torch.arange(B), ids.argmax(dim=-1)]
    return (pooled @ t["text_projection"]).numpy()
