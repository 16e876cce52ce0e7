"""atas_embed against the independent PyTorch reference tools/ref/clip_ref.py.

A tiny random CLIP is written as safetensors (our own numpy writer: the format
is 8 bytes + JSON + raw data) in OpenCLIP layout, converted to HF layout with
atas_convert, and stored as an atas checkpoint (h5py). Generated PNGs are packed
with atas_pack. The test reads the corpus images with h5py, resizes them with a
numpy re-implementation of Pillow's mode-"F" BILINEAR filter and CLIP-normalises
them, and compares global and dense embeddings with clip_ref.encode (float64) at
1e-4 relative, at R = S (no resize) and at another R, both off the pretrained
grid. Also: 1 rank vs mpirun -n 2 bit-identical, --images == --corpus at R = S,
--normalize, --no-dense, and bad inputs (error names the file, no output left).
Usage: test_embed.py ATAS_EMBED ATAS_CONVERT ATAS_PACK
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)
sys.path.insert(0, os.path.join(os.environ.get("ATAS_SOURCE_DIR", "."), "tools", "ref"))
import clip_ref  # noqa: E402

EMBED, CONV, PACK = sys.argv[1:4]
D, P, L, HEADS, M, E, G = 32, 4, 2, 2, 48, 16, 3
S = 16  # corpus side; grid 4 at R = S, pretrained grid 3
NIMG = 5
rng = np.random.default_rng(7)
fails = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


def r(*shape, s=1.0):
    return (s * rng.standard_normal(shape)).astype(np.float32)


def openclip_dict():
    d = {"visual.conv1.weight": r(D, 3, P, P, s=0.1), "visual.class_embedding": r(D),
         "visual.positional_embedding": r(G * G + 1, D, s=0.5), "visual.ln_pre.weight": 1 + r(D, s=0.1),
         "visual.ln_pre.bias": r(D, s=0.1), "visual.ln_post.weight": 1 + r(D, s=0.1),
         "visual.ln_post.bias": r(D, s=0.1), "visual.proj": r(D, E, s=0.2)}
    for l in range(L):
        p = "visual.transformer.resblocks.%d." % l
        d.update({p + "ln_1.weight": 1 + r(D, s=0.1), p + "ln_1.bias": r(D, s=0.1),
                  p + "attn.in_proj_weight": r(3 * D, D, s=0.2), p + "attn.in_proj_bias": r(3 * D, s=0.1),
                  p + "attn.out_proj.weight": r(D, D, s=0.2), p + "attn.out_proj.bias": r(D, s=0.1),
                  p + "ln_2.weight": 1 + r(D, s=0.1), p + "ln_2.bias": r(D, s=0.1),
                  p + "mlp.c_fc.weight": r(M, D, s=0.2), p + "mlp.c_fc.bias": r(M, s=0.1),
                  p + "mlp.c_proj.weight": r(D, M, s=0.2), p + "mlp.c_proj.bias": r(D, s=0.1)})
    return d


def save_safetensors(path, d):
    hdr, off, blobs = {}, 0, []
    for k, v in d.items():
        b = np.ascontiguousarray(v, dtype="<f4").tobytes()
        hdr[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_png(path, a):
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pillow_bilinear_matrix(n_in, n_out):
    """Pillow's precompute_coeffs for the BILINEAR (triangle) filter, box = whole image."""
    scale = n_in / n_out
    fs = max(scale, 1.0)
    W = np.zeros((n_out, n_in))
    for xx in range(n_out):
        center = (xx + 0.5) * scale
        xmin = max(int(center - fs + 0.5), 0)
        xmax = min(int(center + fs + 0.5), n_in)
        w = np.array([max(0.0, 1.0 - abs((x - center + 0.5) / fs)) for x in range(xmin, xmax)])
        W[xx, xmin:xmax] = w / w.sum()
    return W


def preprocess(imgs, R):
    """uint8 [N,S,S,3] -> float32 [N,3,R,R]: mode-F bilinear (horizontal pass first,
    float intermediate), then (x/255 - mean)/std as the C loader does it."""
    n, s = imgs.shape[0], imgs.shape[1]
    Wm = pillow_bilinear_matrix(s, R)
    out = np.zeros((n, 3, R, R), np.float32)
    mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
    for i in range(n):
        for c in range(3):
            x = imgs[i, :, :, c].astype(np.float64)
            if R != s:
                x = (x @ Wm.T).astype(np.float32).astype(np.float64)  # horizontal
                x = (Wm @ x).astype(np.float32)                       # vertical
            x = x.astype(np.float32)
            out[i, c] = (x * np.float32(1.0 / 255.0) - mean[c]) * (np.float32(1.0) / std[c])
    return out


def run(args, mpi=0, ok=True):
    cmd = ([shutil.which("mpirun"), "-n", str(mpi), "--oversubscribe"] if mpi else []) + [EMBED, "-q", *args]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if ok and p.returncode != 0:
        print(p.stdout, p.stderr)
        raise SystemExit("atas_embed %s failed" % " ".join(args))
    return p


def load(path):
    with h5py.File(path, "r") as f:
        return (np.asarray(f["global"]), np.asarray(f["dense"]) if "dense" in f else None,
                [x.decode() for x in f["names"]], dict(f.attrs))


def rel(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(b), 1e-30))


def main(tmp):
    oc = openclip_dict()
    oc_path = os.path.join(tmp, "oc.safetensors")
    save_safetensors(oc_path, oc)
    hf_dir = os.path.join(tmp, "hf")
    p = subprocess.run([CONV, oc_path, "--to", "hf", "--heads", str(HEADS), "--act", "quickgelu", "-o", hf_dir],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr)
        raise SystemExit("atas_convert failed")
    oc_args = ["--weights", oc_path, "--heads", str(HEADS), "--act", "quickgelu"]

    # images of several shapes -> PNG -> corpus of side S
    pngs = []
    for i, (h, w) in enumerate([(20, 28), (16, 16), (31, 17), (24, 24), (40, 18)][:NIMG]):
        a = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        pth = os.path.join(tmp, "img%d.png" % i)
        write_png(pth, a)
        pngs.append(pth)
    corpus = os.path.join(tmp, "corpus.h5")
    p = subprocess.run([PACK, "-q", "--size", str(S), "--min-side", "8", "-o", corpus, *pngs],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout, p.stderr)
        raise SystemExit("atas_pack failed")
    with h5py.File(corpus, "r") as f:
        cimgs = np.asarray(f["images"])
        cnames = [x.decode() for x in f["names"]]
    check(cimgs.shape == (NIMG, S, S, 3), "corpus packed %s" % (cimgs.shape,))

    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in oc.items()}
    cfg = dict(patch=P, width=D, layers=L, heads=HEADS, mlp=M, embed=E, grid=G, act="quickgelu", ln_eps=1e-5)

    def reference(R):
        x = torch.tensor(preprocess(cimgs, R), dtype=torch.float64)
        with torch.no_grad():
            g, d = clip_ref.encode(params, cfg, x)
        return g.numpy(), d.numpy()

    # (a) both layouts, R = S (no resize) and R = 24 (resize), batch 2 (a partial last batch)
    for R in (S, 24):
        g_ref, d_ref = reference(R)
        for name, wargs in (("openclip", oc_args), ("hf", ["--weights", hf_dir])):
            out = os.path.join(tmp, "e_%s_%d.h5" % (name, R))
            run([*wargs, "--corpus", corpus, "--resolution", str(R), "--batch", "2", "-o", out])
            g, d, names, at = load(out)
            check(g.shape == (NIMG, E) and d.shape == (NIMG, R // P, R // P, E), "%s R=%d shapes" % (name, R))
            eg, ed = rel(g, g_ref), rel(d, d_ref)
            check(eg < 1e-4 and ed < 1e-4, "%s R=%d vs clip_ref: global %.2e dense %.2e" % (name, R, eg, ed))
            check(names == cnames, "%s R=%d names are the corpus names" % (name, R))
            check(int(at["resolution"]) == R and int(at["patch"]) == P and int(at["embed"]) == E and
                  int(at["normalized"]) == 0 and at["weights"] in (oc_path, hf_dir, oc_path.encode(), hf_dir.encode()),
                  "%s R=%d attributes %s" % (name, R, at))
            check(not os.path.exists(out + ".tmp"), "no temporary left")

    # default resolution = grid * patch
    out = os.path.join(tmp, "e_default.h5")
    run([*oc_args, "--corpus", corpus, "-o", out])
    g, d, _, at = load(out)
    g_ref, d_ref = reference(G * P)
    check(int(at["resolution"]) == G * P and rel(g, g_ref) < 1e-4 and rel(d, d_ref) < 1e-4,
          "default resolution %d matches the reference" % (G * P))

    # checkpoint: teacher group, compared with the reference on those params
    ck = os.path.join(tmp, "ckpt.h5")
    vis = {k: v * 0.9 + r(*v.shape, s=0.01) for k, v in oc.items()}  # teacher != student
    with h5py.File(ck, "w") as f:
        f.attrs["format"] = "atas-checkpoint"
        f.attrs["format_version"] = 1
        for k, v in dict(patch=P, width=D, layers=L, heads=HEADS, mlp=M, embed=E, grid=G).items():
            f.attrs[k] = v
        f.attrs["act"] = "quickgelu"
        f.attrs["ln_eps"] = 1e-5
        f.attrs["pretrained"] = oc_path
        for grp, src in (("student", oc), ("teacher", vis)):
            gr = f.create_group(grp)
            for k, v in src.items():
                gr.create_dataset(k, data=v)
    out = os.path.join(tmp, "e_ckpt.h5")
    run(["--weights", ck, "--which", "teacher", "--corpus", corpus, "--resolution", "24", "-o", out])
    g, d, _, _ = load(out)
    tparams = {k: torch.tensor(v, dtype=torch.float64) for k, v in vis.items()}
    with torch.no_grad():
        gt, dt = clip_ref.encode(tparams, cfg, torch.tensor(preprocess(cimgs, 24), dtype=torch.float64))
    check(rel(g, gt.numpy()) < 1e-4 and rel(d, dt.numpy()) < 1e-4, "checkpoint teacher vs clip_ref")

    # --images at R = S: short side to S + centre crop == the packer's corpus images
    lst = os.path.join(tmp, "list.txt")
    open(lst, "w").write("\n".join(pngs) + "\n\n")
    out = os.path.join(tmp, "e_list.h5")
    run([*oc_args, "--images", lst, "--resolution", str(S), "--batch", "2", "-o", out])
    gl, dl, nl, _ = load(out)
    g0, d0, _, _ = load(os.path.join(tmp, "e_openclip_%d.h5" % S))
    check(nl == pngs, "--images names are the listed paths")
    check(np.array_equal(gl, g0) and np.array_equal(dl, d0), "--images == --corpus at R = S (bitwise)")

    # atas's own OpenCLIP export reads back without --heads/--act (its __metadata__ says them)
    own = os.path.join(tmp, "own_oc.safetensors")
    p = subprocess.run([CONV, oc_path, "--to", "openclip", "--heads", str(HEADS), "--act", "quickgelu", "-o", own],
                       capture_output=True, text=True)
    check(p.returncode == 0, "own OpenCLIP export: %s" % p.stderr)
    out = os.path.join(tmp, "e_own.h5")
    run(["--weights", own, "--corpus", corpus, "--resolution", "24", "-o", out])
    go, do, _, _ = load(out)
    g0, d0, _, _ = load(os.path.join(tmp, "e_openclip_24.h5"))
    check(np.array_equal(go, g0) and np.array_equal(do, d0), "own export without --heads/--act == with them (bitwise)")

    # --normalize and --no-dense
    out = os.path.join(tmp, "e_norm.h5")
    run([*oc_args, "--corpus", corpus, "--resolution", "24", "--normalize", "-o", out])
    gn, dn, _, at = load(out)
    g0, d0, _, _ = load(os.path.join(tmp, "e_openclip_24.h5"))
    check(int(at["normalized"]) == 1 and
          np.allclose(gn, g0 / np.linalg.norm(g0, axis=-1, keepdims=True), rtol=1e-5, atol=1e-6) and
          np.allclose(dn, d0 / np.linalg.norm(d0, axis=-1, keepdims=True), rtol=1e-5, atol=1e-6),
          "--normalize L2-normalises global and dense vectors")
    out = os.path.join(tmp, "e_nodense.h5")
    run([*oc_args, "--corpus", corpus, "--resolution", "24", "--batch", "2", "--no-dense", "-o", out])
    gx, dx, _, _ = load(out)
    check(dx is None and np.array_equal(gx, g0), "--no-dense writes only /global, same values")

    # (b) 1 rank vs 2 ranks: identical (batch 2: slices of 2 and 3 images, uneven rounds)
    if shutil.which("mpirun"):
        out = os.path.join(tmp, "e_mpi.h5")
        run([*oc_args, "--corpus", corpus, "--resolution", "24", "--batch", "2", "-o", out], mpi=2)
        g2, d2, n2, _ = load(out)
        check(np.array_equal(g2, g0) and np.array_equal(d2, d0) and n2 == cnames,
              "mpirun -n 2 output identical to 1 rank")
        bad_list = os.path.join(tmp, "bad_mpi.txt")
        junk = os.path.join(tmp, "junk.png")
        open(junk, "wb").write(b"\x89PNG\r\n\x1a\nnot really")
        open(bad_list, "w").write("\n".join(pngs + [junk]) + "\n")  # the bad one is on rank 1
        out = os.path.join(tmp, "e_mpi_bad.h5")
        p = run([*oc_args, "--images", bad_list, "--resolution", "16", "-o", out], mpi=2, ok=False)
        check(p.returncode != 0 and junk in p.stderr and not os.path.exists(out) and
              not os.path.exists(out + ".tmp"), "2 ranks: a bad image on rank 1 fails cleanly: %s" % p.stderr.strip())
    else:
        print("note: no mpirun; 2-rank check skipped")

    # (c) bad inputs: clear error naming the file, nothing left behind
    junk = os.path.join(tmp, "junk.png")
    open(junk, "wb").write(b"\x89PNG\r\n\x1a\nnot really")
    empty = os.path.join(tmp, "empty.txt")
    open(empty, "w").write("\n\n")
    bad_list = os.path.join(tmp, "bad.txt")
    open(bad_list, "w").write("\n".join(pngs[:3] + [junk] + pngs[3:]) + "\n")
    missing_img = os.path.join(tmp, "nope.png")
    miss_list = os.path.join(tmp, "miss.txt")
    open(miss_list, "w").write(pngs[0] + "\n" + missing_img + "\n")
    missing_w = os.path.join(tmp, "missing.safetensors")
    ck_nogroup = os.path.join(tmp, "ckpt_student_only.h5")
    shutil.copy(ck, ck_nogroup)
    with h5py.File(ck_nogroup, "a") as f:
        del f["teacher"]
    cases = [
        ("missing weights", ["--weights", missing_w, "--corpus", corpus], missing_w),
        ("resolution not a multiple of the patch", [*oc_args, "--corpus", corpus, "--resolution", "18"], "18"),
        ("empty list", [*oc_args, "--images", empty], empty),
        ("unreadable image", [*oc_args, "--images", bad_list, "--batch", "2"], junk),
        ("missing image", [*oc_args, "--images", miss_list], missing_img),
        ("missing corpus", [*oc_args, "--corpus", os.path.join(tmp, "nc.h5")], os.path.join(tmp, "nc.h5")),
        ("safetensors without heads", ["--weights", oc_path, "--corpus", corpus], oc_path),
        ("safetensors without act", ["--weights", oc_path, "--heads", "2", "--corpus", corpus], oc_path),
        ("checkpoint without the group", ["--weights", ck_nogroup, "--which", "teacher", "--corpus", corpus], ck_nogroup),
    ]
    for what, args, needle in cases:
        out = os.path.join(tmp, "bad_out.h5")
        p = run([*args, "-o", out], ok=False)
        check(p.returncode != 0 and needle in p.stderr and not os.path.exists(out) and
              not os.path.exists(out + ".tmp"), "%s: %s" % (what, p.stderr.strip().splitlines()[0] if p.stderr else "(no message)"))
    # an existing output is left alone when a run fails
    keep = os.path.join(tmp, "e_openclip_24.h5")
    before = open(keep, "rb").read()
    p = run([*oc_args, "--images", bad_list, "-o", keep], ok=False)
    check(p.returncode != 0 and open(keep, "rb").read() == before, "failed run leaves an existing output untouched")


if __name__ == "__main__":
    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix="atas_embed_")
    try:
        main(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if fails:
        print("%d check(s) failed" % len(fails))
        sys.exit(1)
    print("all embed checks passed")
