#!/usr/bin/env python3
"""Does an atas export load in Hugging Face transformers and compute the same encoder?

usage: check_hf_export.py OPENCLIP.safetensors HF_DIR [--tol 1e-4]
Loads HF_DIR with transformers.CLIPVisionModelWithProjection (config.json + weights as
atas_convert --to hf wrote them) and compares image_embeds with the independent reference
tools/ref/clip_ref.py run on the OpenCLIP-layout export of the same checkpoint, at the
native resolution and (interpolate_pos_encoding) at a larger one. Exit 0 when both agree.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clip_ref  # noqa: E402


def main(oc_path, hf_dir, tol=1e-4):
    from transformers import CLIPVisionModelWithProjection
    p = {k: v.float() for k, v in load_file(oc_path).items() if k.startswith("visual.")}
    with open(os.path.join(hf_dir, "config.json")) as f:
        vc = json.load(f)["vision_config"]
    D, _, P, _ = p["visual.conv1.weight"].shape
    layers = len({k.split(".")[3] for k in p if k.startswith("visual.transformer.resblocks.")})
    cfg = dict(patch=P, width=D, layers=layers, heads=vc["num_attention_heads"],
               mlp=p["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
               embed=p["visual.proj"].shape[1], grid=int(round((p["visual.positional_embedding"].shape[0] - 1) ** 0.5)),
               act="quickgelu" if vc["hidden_act"] == "quick_gelu" else "gelu", ln_eps=vc["layer_norm_eps"])
    model = CLIPVisionModelWithProjection.from_pretrained(hf_dir).eval().float()
    ok = True
    torch.manual_seed(0)
    for res, interp in ((cfg["grid"] * P, False), (cfg["grid"] * P + 2 * P, True)):
        x = torch.randn(2, 3, res, res)
        with torch.no_grad():
            ref, _ = clip_ref.encode(p, cfg, x, want_dense=False)
            try:
                kw = {"interpolate_pos_encoding": True} if interp else {}
                out = model(pixel_values=x, **kw).image_embeds
            except TypeError:  # transformers < 4.44 cannot resample the grid
                print(f"transformers at {res}px: skipped (this transformers has no interpolate_pos_encoding)")
                continue
        rel = float((out - ref).abs().max() / ref.abs().max())
        good = rel <= tol
        ok &= good
        print(f"transformers CLIPVisionModelWithProjection at {res}px: rel err {rel:.2e} {'ok' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    tol = float(sys.argv[sys.argv.index("--tol") + 1]) if "--tol" in sys.argv else 1e-4
    sys.exit(main(sys.argv[1], sys.argv[2], tol))
