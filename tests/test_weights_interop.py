"""atas_convert against the reference safetensors package, numpy, torch and h5py.

Files written by the Python package are converted by atas and read back by it:
OpenCLIP -> HF -> OpenCLIP is bit-identical (text tower bytes included), HF
q/k/v are the row thirds of in_proj and visual_projection is proj^T, F16/BF16
upcasts equal numpy's/torch's, sharded indexes read, checkpoints (h5py) export
with weight ensembling, and bad inputs fail naming file and tensor, leaving
nothing behind. Usage: test_weights_interop.py ATAS_CONVERT
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("ATAS_BINARY_DIR", "build"), "pydeps"))
try:
    import numpy as np
    from safetensors.numpy import load_file, save_file
except ImportError as e:
    print("skip: safetensors/numpy not importable (%s); run tools/setup.sh" % e)
    sys.exit(77)

CONV = sys.argv[1]
D, P, L, HEADS, M, E, G, W = 32, 4, 2, 2, 48, 16, 3, 24  # W: text width
rng = np.random.default_rng(1234)
fails = []


def check(cond, what):
    if not cond:
        fails.append(what)
        print("FAIL:", what)


def r(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def openclip_dict():
    d = {"visual.conv1.weight": r(D, 3, P, P), "visual.class_embedding": r(D),
         "visual.positional_embedding": r(G * G + 1, D), "visual.ln_pre.weight": r(D),
         "visual.ln_pre.bias": r(D), "visual.ln_post.weight": r(D), "visual.ln_post.bias": r(D),
         "visual.proj": r(D, E)}
    for l in range(L):
        p = "visual.transformer.resblocks.%d." % l
        d.update({p + "ln_1.weight": r(D), p + "ln_1.bias": r(D),
                  p + "attn.in_proj_weight": r(3 * D, D), p + "attn.in_proj_bias": r(3 * D),
                  p + "attn.out_proj.weight": r(D, D), p + "attn.out_proj.bias": r(D),
                  p + "ln_2.weight": r(D), p + "ln_2.bias": r(D),
                  p + "mlp.c_fc.weight": r(M, D), p + "mlp.c_fc.bias": r(M),
                  p + "mlp.c_proj.weight": r(D, M), p + "mlp.c_proj.bias": r(D)})
    # text tower and friends, in several dtypes: carried through untouched
    d.update({"token_embedding.weight": r(50, W).astype(np.float16), "positional_embedding": r(7, W),
              "transformer.resblocks.0.attn.in_proj_weight": r(3 * W, W),
              "ln_final.weight": r(W), "text_projection": r(W, E), "logit_scale": np.array(4.6, np.float32),
              "attn_mask_ids": np.arange(5, dtype=np.int64), "flags": np.array([1, 0, 1], np.uint8)})
    return d


def run(*args, ok=True):
    p = subprocess.run([CONV, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(p.stdout, p.stderr)
        raise SystemExit("atas_convert %s failed" % " ".join(args))
    return p


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return n, json.loads(f.read(n))


tmp = tempfile.mkdtemp(prefix="atas_interop_")
try:
    oc = openclip_dict()
    oc_path = os.path.join(tmp, "oc.safetensors")
    save_file(oc, oc_path)

    # ---- OpenCLIP -> HF: names, q/k/v thirds, proj^T, config.json, header rules
    hf_dir = os.path.join(tmp, "hf")
    run(oc_path, "--to", "hf", "-o", hf_dir, "--act", "quickgelu", "--heads", str(HEADS))
    hf = load_file(os.path.join(hf_dir, "model.safetensors"))
    for l in range(L):
        ip, ib = oc["visual.transformer.resblocks.%d.attn.in_proj_weight" % l], \
            oc["visual.transformer.resblocks.%d.attn.in_proj_bias" % l]
        for j, q in enumerate("qkv"):
            pre = "vision_model.encoder.layers.%d.self_attn.%s_proj." % (l, q)
            check(same(hf[pre + "weight"], ip[j * D:(j + 1) * D]), pre + "weight is a row third")
            check(same(hf[pre + "bias"], ib[j * D:(j + 1) * D]), pre + "bias is a third")
        check(same(hf["vision_model.encoder.layers.%d.mlp.fc1.weight" % l],
                   oc["visual.transformer.resblocks.%d.mlp.c_fc.weight" % l]), "fc1 = c_fc")
    check(same(hf["visual_projection.weight"], np.ascontiguousarray(oc["visual.proj"].T)),
          "visual_projection = proj^T")
    check(same(hf["vision_model.pre_layrnorm.weight"], oc["visual.ln_pre.weight"]), "pre_layrnorm")
    check("vision_model.embeddings.position_ids" not in hf, "position_ids never written")
    for k in ["token_embedding.weight", "logit_scale", "attn_mask_ids", "flags", "text_projection"]:
        check(same(hf[k], oc[k]), "carried %s bytes" % k)
    n, h = header(os.path.join(hf_dir, "model.safetensors"))
    check(n % 8 == 0, "header length multiple of 8")
    check(h["__metadata__"].get("format") == "pt", "metadata format pt")
    check(h["__metadata__"].get("atas.heads") == str(HEADS) and h["__metadata__"].get("atas.act") in ("quickgelu", "gelu"),
          "metadata records heads and act: %s" % h["__metadata__"])
    items = sorted(((v["data_offsets"][0], k, v["dtype"]) for k, v in h.items() if k != "__metadata__"))
    size = {"F32": 4, "F16": 2, "I64": 8, "U8": 1}
    keys = [(-size[dt], k) for _, k, dt in items]
    check(keys == sorted(keys), "data ordered by dtype size descending then name")
    cfg = json.load(open(os.path.join(hf_dir, "config.json")))
    vc = cfg["vision_config"]
    want = {"hidden_size": D, "intermediate_size": M, "num_hidden_layers": L, "num_attention_heads": HEADS,
            "patch_size": P, "image_size": G * P, "projection_dim": E, "hidden_act": "quick_gelu"}
    check(all(vc.get(k) == v for k, v in want.items()), "config.json vision_config %s" % vc)
    check(abs(vc["layer_norm_eps"] - 1e-5) < 1e-12 and cfg["model_type"] == "clip", "config.json eps/model_type")

    # ---- HF -> OpenCLIP: bit-identical to the original, text tower included
    oc2_path = os.path.join(tmp, "oc2.safetensors")
    run(hf_dir, "--to", "openclip", "-o", oc2_path)
    oc2 = load_file(oc2_path)
    check(set(oc2) == set(oc), "round trip keeps exactly the tensors: %s" % (set(oc) ^ set(oc2)))
    check(all(same(oc2[k], oc[k]) for k in oc if k in oc2), "OpenCLIP -> HF -> OpenCLIP bit-identical")

    # ---- state_dict./module. wrappers are removed
    wrapped = os.path.join(tmp, "wrapped.safetensors")
    save_file({"state_dict.module." + k: v for k, v in oc.items()}, wrapped)
    w_out = os.path.join(tmp, "unwrapped.safetensors")
    run(wrapped, "--to", "openclip", "-o", w_out, "--heads", str(HEADS))
    check(all(same(a, oc[k]) for k, a in load_file(w_out).items()) and len(load_file(w_out)) == len(oc),
          "state_dict.module. prefixes unwrapped")

    # ---- open_clip_config.json beside an OpenCLIP file gives heads and activation
    ocd = os.path.join(tmp, "ocdir")
    os.mkdir(ocd)
    shutil.copy(oc_path, os.path.join(ocd, "open_clip_model.safetensors"))
    json.dump({"model_cfg": {"embed_dim": E, "quick_gelu": True, "vision_cfg": {"width": D, "head_width": 16}}},
              open(os.path.join(ocd, "open_clip_config.json"), "w"))
    run(ocd, "--to", "hf", "-o", os.path.join(tmp, "hf_from_dir"))
    vc2 = json.load(open(os.path.join(tmp, "hf_from_dir", "config.json")))["vision_config"]
    check(vc2["num_attention_heads"] == D // 16 and vc2["hidden_act"] == "quick_gelu", "open_clip_config.json read")

    # ---- F16 (with subnormals, inf, nan, -0) and BF16 upcasts equal numpy's / torch's
    special = np.array([2.0 ** -24, 6.0e-5, 65504, np.inf, -np.inf, np.nan, -0.0, 1e-7], np.float16)
    f16 = {k: v.astype(np.float16) for k, v in oc.items() if k.startswith("visual.")}
    f16["visual.ln_post.bias"][:len(special)] = special
    f16_path = os.path.join(tmp, "f16.safetensors")
    save_file(f16, f16_path)
    f16_out = os.path.join(tmp, "f16_out.safetensors")
    run(f16_path, "--to", "openclip", "-o", f16_out, "--heads", str(HEADS))
    got = load_file(f16_out)
    check(all(got[k].dtype == np.float32 and got[k].view(np.uint32).tobytes() ==
              f16[k].astype(np.float32).view(np.uint32).tobytes() for k in f16), "F16 upcast == numpy bits")
    try:
        import torch
        from safetensors.torch import save_file as tsave
        bf = {k: torch.from_numpy(v.copy()).to(torch.bfloat16) for k, v in oc.items() if k.startswith("visual.")}
        bf_path = os.path.join(tmp, "bf16.safetensors")
        tsave(bf, bf_path)
        bf_out = os.path.join(tmp, "bf16_out.safetensors")
        run(bf_path, "--to", "openclip", "-o", bf_out, "--heads", str(HEADS))
        got = load_file(bf_out)
        check(all(same(got[k], bf[k].float().numpy()) for k in bf), "BF16 upcast == torch")
    except ImportError:
        print("note: torch missing, BF16 check skipped")

    # ---- sharded model with an index
    shd = os.path.join(tmp, "sharded")
    os.mkdir(shd)
    names = sorted(oc)
    wm = {}
    for i, part in enumerate([names[: len(names) // 2], names[len(names) // 2:]]):
        fn = "model-%05d-of-00002.safetensors" % (i + 1)
        save_file({k: oc[k] for k in part}, os.path.join(shd, fn))
        wm.update({k: fn for k in part})
    json.dump({"metadata": {"total_size": 0}, "weight_map": wm},
              open(os.path.join(shd, "model.safetensors.index.json"), "w"))
    sh_out = os.path.join(tmp, "sharded_out.safetensors")
    run(os.path.join(shd, "model.safetensors.index.json"), "--to", "openclip", "-o", sh_out, "--heads", str(HEADS))
    got = load_file(sh_out)
    check(len(got) == len(oc) and all(same(got[k], oc[k]) for k in oc), "sharded index read")
    wm2 = dict(wm)
    wm2["visual.proj"] = "model-00009-of-00002.safetensors"
    json.dump({"weight_map": wm2}, open(os.path.join(shd, "model.safetensors.index.json"), "w"))
    p = run(shd, "--to", "openclip", "-o", os.path.join(tmp, "never.safetensors"), ok=False)
    check(p.returncode != 0 and "model-00009-of-00002" in p.stderr and not os.path.exists(os.path.join(tmp, "never.safetensors")),
          "index naming a missing shard fails: %s" % p.stderr)

    # ---- checkpoint (h5py) -> export with ensembling, teacher, pretrained carried
    try:
        import h5py
        ck = os.path.join(tmp, "ckpt.h5")
        vis = {k: v for k, v in oc.items() if k.startswith("visual.")}
        stu = {k: r(*v.shape) for k, v in vis.items()}
        tea = {k: r(*v.shape) for k, v in vis.items()}
        with h5py.File(ck, "w") as f:
            f.attrs["format"] = "atas-checkpoint"
            f.attrs["format_version"] = 1
            for k, v in dict(patch=P, width=D, layers=L, heads=HEADS, mlp=M, embed=E, grid=G).items():
                f.attrs[k] = v
            f.attrs["act"] = "quickgelu"
            f.attrs["ln_eps"] = 1e-5
            f.attrs["pretrained"] = oc_path
            for grp, src in (("student", stu), ("teacher", tea)):
                g = f.create_group(grp)
                for k, v in src.items():
                    g.create_dataset(k, data=v)
        ens = os.path.join(tmp, "ens.safetensors")
        run(ck, "--which", "teacher", "--alpha", "0.3", "-o", ens)
        got = load_file(ens)
        check(all(same(got[k], (0.3 * tea[k].astype(np.float64) + (1 - 0.3) * vis[k].astype(np.float64)).astype(np.float32))
                  for k in vis), "ensemble = a*teacher + (1-a)*pretrained")
        check(all(same(got[k], oc[k]) for k in oc if not k.startswith("visual.")), "pretrained text tower carried")
        hf_ck = os.path.join(tmp, "hf_ckpt")
        run(ck, "--to", "hf", "--alpha", "1", "-o", hf_ck)
        got = load_file(os.path.join(hf_ck, "model.safetensors"))
        check(same(got["visual_projection.weight"], np.ascontiguousarray(stu["visual.proj"].T)), "student export (alpha 1)")
        # defaults = CLIPSelf's recipe: the student, alpha by model (width <= 768: 0.7), recorded
        dflt = os.path.join(tmp, "default.safetensors")
        run(ck, "-o", dflt)
        got = load_file(dflt)
        check(all(same(got[k], (0.7 * stu[k].astype(np.float64) + (1 - 0.7) * vis[k].astype(np.float64)).astype(np.float32))
                  for k in vis), "default export = 0.7*student + 0.3*pretrained")
        md = header(dflt)[1]["__metadata__"]
        check(md.get("format") == "pt" and md.get("atas.which") == "student" and float(md.get("atas.alpha", "nan")) == 0.7
              and md.get("atas.pretrained") == oc_path and md.get("atas.heads") == str(HEADS) and md.get("atas.act") == "quickgelu",
              "default export metadata: %s" % md)
        hcfg = json.load(open(os.path.join(hf_ck, "config.json")))
        check(hcfg.get("atas_export", {}).get("atas.which") == "student" and float(hcfg["atas_export"]["atas.alpha"]) == 1.0,
              "HF config.json records the export: %s" % hcfg.get("atas_export"))
        # ... readable back without --heads/--act (the metadata says them)
        back = os.path.join(tmp, "back_hf")
        p = run(dflt, "--to", "hf", "-o", back, ok=False)
        check(p.returncode == 0 and json.load(open(os.path.join(back, "config.json")))["vision_config"]["num_attention_heads"] == HEADS,
              "own export converts without --heads/--act: %s" % p.stderr)
        # pretrained whose shapes disagree with the checkpoint's config
        bad = dict(oc)
        bad["visual.transformer.resblocks.1.mlp.c_fc.weight"] = r(M + 8, D)
        bad_path = os.path.join(tmp, "bad_pre.safetensors")
        save_file(bad, bad_path)
        out = os.path.join(tmp, "bad_out")
        p = run(ck, "--alpha", "0.5", "--pretrained", bad_path, "--to", "hf", "-o", out, ok=False)
        check(p.returncode != 0 and bad_path in p.stderr and "resblocks.1.mlp.c_fc.weight" in p.stderr
              and "[48,32]" in p.stderr and "[56,32]" in p.stderr and not os.path.exists(out),
              "shape disagreement names file, tensor, expected and found: %s" % p.stderr)
        with h5py.File(ck, "a") as f:
            del f["student/visual.ln_pre.bias"]
        p = run(ck, "-o", os.path.join(tmp, "x.safetensors"), ok=False)
        check(p.returncode != 0 and "visual.ln_pre.bias" in p.stderr and ck in p.stderr, "missing dataset: %s" % p.stderr)
    except ImportError:
        print("note: h5py missing, checkpoint checks skipped")

    # ---- bad inputs through the program: non-zero, named, nothing left behind
    miss = {k: v for k, v in oc.items() if k != "visual.transformer.resblocks.1.ln_2.bias"}
    miss_path = os.path.join(tmp, "miss.safetensors")
    save_file(miss, miss_path)
    out = os.path.join(tmp, "miss_out.safetensors")
    p = run(miss_path, "--to", "openclip", "-o", out, "--heads", "2", ok=False)
    check(p.returncode != 0 and "resblocks.1.ln_2.bias" in p.stderr and miss_path in p.stderr
          and not os.path.exists(out), "missing tensor: %s" % p.stderr)
    p = run(oc_path, "--to", "hf", "-o", os.path.join(tmp, "noact"), "--heads", "2", ok=False)
    check(p.returncode != 0 and "cannot be inferred" in p.stderr and not os.path.exists(os.path.join(tmp, "noact")),
          "unknown activation: %s" % p.stderr)
    raw = open(oc_path, "rb").read()
    trunc = os.path.join(tmp, "trunc.safetensors")
    open(trunc, "wb").write(raw[:-10])
    p = run(trunc, "--to", "hf", "-o", os.path.join(tmp, "t_out"), "--act", "gelu", ok=False)
    check(p.returncode != 0 and trunc in p.stderr and "truncated" in p.stderr and not os.path.exists(os.path.join(tmp, "t_out")),
          "truncated: %s" % p.stderr)
    debris = [f for f in os.listdir(tmp) if ".tmp-" in f]
    check(not debris, "temporary files left: %s" % debris)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

if fails:
    print("%d check(s) failed" % len(fails))
    sys.exit(1)
print("test_weights_interop: all checks passed")
