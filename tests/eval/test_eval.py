"""atas_eval end to end on generated COCO-format data with a tiny random CLIP.

Images of several shapes, panoptic PNGs (segment id = R + 256 G + 256^2 B) with
thing rectangles and stuff bands, the panoptic JSON and an instances JSON with
the same things, class embeddings written with h5py in the documented layout.
Checked: every metric of the table/JSON against the independent reference
tests/eval/eval_ref.py (PyTorch clip_ref + Pillow + numpy RoIAlign), region
counts, 1 rank == 2 MPI ranks (same JSON), the zero-shot segmentation labels
against the reference and tools/plot_segmentation.py drawing two weights side
by side, and bad inputs (message names the file and the entry, no output).
Usage: test_eval.py ATAS_EVAL
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:
    print("skip: %s" % e)
    sys.exit(77)
SRC = os.environ.get("ATAS_SOURCE_DIR", ".")
sys.path.insert(0, os.path.join(SRC, "tools", "ref"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eval_ref  # noqa: E402
from evaldata import STUFF, THINGS, make_data, write_classes  # noqa: E402

EVAL = sys.argv[1]
D, P, L, HEADS, M, E, G = 32, 4, 2, 2, 48, 16, 3
S = 32  # eval size: grid 8
rng = np.random.default_rng(11)
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


def run(args, mpi=0):
    cmd = ([shutil.which("mpirun"), "-n", str(mpi), "--oversubscribe"] if mpi else []) + [EVAL, "-q", *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def main(tmp):
    oc = openclip_dict()
    w1 = os.path.join(tmp, "pre.safetensors")
    save_safetensors(w1, oc)
    ref_imgs, pan, ins = make_data(tmp, rng)
    K = len(THINGS) + len(STUFF)
    cls = eval_ref.unit(rng.standard_normal((K, E)))
    classes = os.path.join(tmp, "classes.h5")
    write_classes(classes, [c for c, _ in THINGS + STUFF], [1] * 3 + [0] * 2, [n for _, n in THINGS + STUFF], cls)
    margs = ["--weights", w1, "--heads", str(HEADS), "--act", "quickgelu", "--classes", classes,
             "--images", os.path.join(tmp, "images"), "--size", str(S)]
    params = {k: torch.tensor(v, dtype=torch.float64) for k, v in oc.items()}
    cfg = dict(patch=P, width=D, layers=L, heads=HEADS, mlp=M, embed=E, grid=G, act="quickgelu", ln_eps=1e-5)
    isthing = [1, 1, 1, 0, 0]

    # (a) panoptic: rois + maskpool + crops vs the reference; table and JSON
    out1 = os.path.join(tmp, "r1.json")
    seg1 = os.path.join(tmp, "seg_pre.h5")
    p = run([*margs, "--data", os.path.join(tmp, "panoptic.json"), "--crop-batch", "3", "-o", out1,
             "--segment", "3", "--segment-out", seg1, "--label", "pretrained"])
    print(p.stdout, p.stderr)
    check(p.returncode == 0, "atas_eval panoptic runs")
    got = json.load(open(out1))
    want, counts, seg = eval_ref.evaluate(ref_imgs, None, params, cfg, cls, isthing, S)
    for k, v in sorted(want.items()):
        g = got["metrics"].get(k)
        check((v is None and g is None) or (v is not None and g is not None and abs(g - v) < 1e-6),
              "%s = %s (reference %s)" % (k, g, v))
    check(set(got["metrics"]) == set(want), "the same metric names as the reference: %s" % sorted(got["metrics"]))
    check(got["regions"] == counts, "region counts %s (reference %s)" % (got["regions"], counts))
    rows = {l.split()[0]: l.split()[1:] for l in p.stdout.splitlines() if l.startswith("  ") and l.strip()}
    check("thing@1" in p.stdout and set(rows) == {"rois", "maskpool", "crops"} and
          abs(float(rows["rois"][0]) - got["metrics"]["rois.thing.macc1"]) < 0.006 and
          abs(float(rows["maskpool"][2]) - got["metrics"]["maskpool.stuff.macc1"]) < 0.006,
          "the table on stdout")
    check(got["images"] == 5 and got["size"] == S and got["grid"] == S // P, "JSON header")

    # the segmentation labels equal the reference's nearest class per token
    with h5py.File(seg1, "r") as f:
        pred, valid, names = np.asarray(f["pred"]), np.asarray(f["valid"]), f.attrs["class_names"]
        gt = np.asarray(f["gt"])
    names = names.decode() if isinstance(names, bytes) else names
    check(pred.shape == (3, S // P, S // P) and names.split("\n") == [n for _, n in THINGS + STUFF],
          "segmentation file shape %s, names" % (pred.shape,))
    for i in range(3):
        check((pred[i] == seg[i][0]).all() and tuple(valid[i]) == seg[i][1:],
              "segmentation image %d: token labels equal the reference" % i)
    check((gt[0] >= 0).sum() > 0 and set(np.unique(gt[0])) <= set(range(-1, K)), "ground-truth token labels")

    # (b) 2 ranks == 1 rank
    out2 = os.path.join(tmp, "r2.json")
    p = run([*margs, "--data", os.path.join(tmp, "panoptic.json"), "-o", out2], mpi=2)
    if p.returncode != 0:
        print(p.stdout, p.stderr)
    g2 = json.load(open(out2)) if os.path.exists(out2) else {}
    check(p.returncode == 0 and g2.get("metrics") == got["metrics"] and g2.get("regions") == got["regions"],
          "2 MPI ranks give the same metrics and counts as 1")
    p = run([*margs, "--data", os.path.join(tmp, "panoptic.json"), "-o", out2, "--max-images", "3", "--no-crops"],
            mpi=2)
    g3 = json.load(open(out2)) if p.returncode == 0 else {}
    want3, _, _ = eval_ref.evaluate(ref_imgs[:3], None, params, cfg, cls, isthing, S, crops=False)
    check(p.returncode == 0 and set(g3["metrics"]) == set(want3) and
          all(abs(g3["metrics"][k] - v) < 1e-6 for k, v in want3.items() if v is not None),
          "--max-images 3 --no-crops on 2 ranks vs the reference")

    # (c) instances JSON: boxes only (rois + crops, no maskpool)
    out4 = os.path.join(tmp, "r4.json")
    p = run([*margs, "--data", os.path.join(tmp, "instances.json"), "-o", out4])
    g4 = json.load(open(out4)) if p.returncode == 0 else {"metrics": {}}
    iref = [{"rgb": x["rgb"], "ids": None, "regions": x["iregions"]} for x in ref_imgs]
    want4, counts4, _ = eval_ref.evaluate(iref, None, params, cfg, cls, isthing, S)
    check(p.returncode == 0 and set(g4["metrics"]) == set(want4) and not any(k.startswith("maskpool") for k in g4["metrics"])
          and all((v is None and g4["metrics"][k] is None) or abs(g4["metrics"][k] - v) < 1e-6 for k, v in want4.items()),
          "instances JSON vs the reference: %s" % g4["metrics"])

    # (d) the picture: two weights side by side
    oc2 = {k: v + r(*v.shape, s=0.05) for k, v in oc.items()}
    w2 = os.path.join(tmp, "trained.safetensors")
    save_safetensors(w2, oc2)
    seg2 = os.path.join(tmp, "seg_trained.h5")
    margs2 = [w2 if a == w1 else a for a in margs]
    p = run([*margs2, "--data", os.path.join(tmp, "panoptic.json"), "-o", os.path.join(tmp, "r5.json"), "--no-crops",
             "--segment", "3", "--segment-out", seg2, "--label", "trained"])
    check(p.returncode == 0, "second weights evaluated")
    png = os.path.join(tmp, "seg.png")
    q = subprocess.run([sys.executable, os.path.join(SRC, "tools", "plot_segmentation.py"), seg1, seg2, "-o", png],
                       capture_output=True, text=True)
    print(q.stdout, q.stderr)
    ok = q.returncode == 0 and os.path.exists(png)
    if ok:
        im = Image.open(png)
        ok = im.size[0] > 300 and im.size[1] > 300 and np.asarray(im.convert("L")).std() > 10
    check(ok, "plot_segmentation.py draws pretrained vs trained as a PNG")
    check("mIoU" in q.stdout, "plot_segmentation.py prints the mIoU per row")

    # (d2) at most 100 segments per image: the first 100 of the JSON, before the area limits
    os.makedirs(os.path.join(tmp, "many"))
    ids = np.zeros((120, 192), np.int64)
    segs = []
    for k in range(120):
        y, x = (k // 12) * 12, (k % 12) * 16
        ids[y:y + 12, x:x + 16] = k + 1
        small = k < 3  # 3 boxes under 8^2 px among the first 100: they count toward the 100
        segs.append({"id": k + 1, "category_id": THINGS[k % 3][0], "iscrowd": 0,
                     "bbox": [x, y, 7 if small else 16, 7 if small else 12]})
    Image.fromarray((rng.random((120, 192, 3)) * 255).astype(np.uint8)).save(os.path.join(tmp, "images", "many.png"))
    Image.fromarray(np.stack([ids % 256, ids // 256 % 256, ids // 65536], -1).astype(np.uint8)).save(
        os.path.join(tmp, "many", "many.png"))
    json.dump({"images": [{"id": 1, "file_name": "many.png", "width": 192, "height": 120}],
               "annotations": [{"image_id": 1, "file_name": "many.png", "segments_info": segs}],
               "categories": pan["categories"]}, open(os.path.join(tmp, "many.json"), "w"))
    p = run([*margs, "--data", os.path.join(tmp, "many.json"), "--no-crops", "-o", os.path.join(tmp, "many_out.json")])
    gm = json.load(open(os.path.join(tmp, "many_out.json"))) if p.returncode == 0 else {}
    check(gm.get("regions", {}).get("rois.thing") == 97, "120 segments: the first 100, of which 3 too small -> 97 (%s)%s"
          % (gm.get("regions"), p.stderr[-300:]))

    # (e) bad inputs: the message names the file and the entry; no output is written
    def bad(name, data, expect, extra=()):
        path = os.path.join(tmp, name + ".json")
        if isinstance(data, str):
            open(path, "w").write(data)
        else:
            json.dump(data, open(path, "w"))
        if not os.path.exists(path[:-5]):  # the default masks folder: the JSON path without .json
            os.symlink(os.path.join(tmp, "panoptic"), path[:-5])
        out = os.path.join(tmp, "bad_%s.json" % name)
        p = run([*margs, "--data", path, "-o", out, *extra])
        msg = p.stderr
        check(p.returncode != 0 and all(e in msg for e in expect) and not os.path.exists(out),
              "%s: rc %d, message %r" % (name, p.returncode, msg.strip()[:300]))

    txt = json.dumps(pan)
    bad("syntax", txt[:-30], ["syntax.json:1:", "not valid JSON"])
    b = json.loads(txt)
    b["annotations"][1]["segments_info"][0]["bbox"] = [30, 2, 40, 5]
    bad("outside", b, ["outside.json", "annotations[1] (image_id 101) segments_info[0]", "outside the image"])
    b = json.loads(txt)
    b["categories"] = []
    bad("nocats", b, ["nocats.json", "\"categories\" is empty"])
    b = json.loads(txt)
    b["annotations"][2]["segments_info"][1]["category_id"] = 77
    bad("unknowncat", b, ["unknowncat.json", "annotations[2] (image_id 102) segments_info[1]", "category_id 77"])
    b = json.loads(txt)
    b["categories"].append({"id": 9, "name": "boat", "isthing": 1})
    bad("notinclasses", b, ["notinclasses.json", "categories[5] (id 9, \"boat\")", "class embeddings"])
    b = json.loads(txt)
    b["images"][3]["width"] = 34
    bad("size", b, ["im003.jpg.png", "the JSON says 34x21"])
    b = json.loads(txt)
    b["annotations"][0]["file_name"] = "missing.png"
    bad("nomask", b, ["missing.png", "cannot read the panoptic mask"])
    b = json.loads(txt)
    del b["annotations"][4]["image_id"]
    bad("noimageid", b, ["noimageid.json", "annotations[4]", "\"image_id\""])
    b = json.loads(txt)
    b["annotations"][3]["image_id"] = 999
    bad("noimage", b, ["noimage.json", "annotations[3]", "image_id 999 is not among"], extra=("--max-images", "2"))
    b = json.loads(txt)
    b["images"][4]["id"] = 100
    bad("dupid", b, ["dupid.json", "images[0] and images[4] share the id 100"])
    b = json.loads(txt)
    for a in b["annotations"]:
        a["segments_info"] = [s for s in a["segments_info"] if s["category_id"] < 100 and False]
    bad("noregion", b, ["noregion.json", "no region left to evaluate"])
    # an empty class-embedding file
    c0 = os.path.join(tmp, "classes0.h5")
    write_classes(c0, [], [], [], np.zeros((0, E)))
    p = run([*[c0 if a == classes else a for a in margs], "--data", os.path.join(tmp, "panoptic.json"),
             "-o", os.path.join(tmp, "bad_empty.json")])
    check(p.returncode != 0 and "classes0.h5" in p.stderr and "[K,E]" in p.stderr and
          not os.path.exists(os.path.join(tmp, "bad_empty.json")), "empty class embeddings: %r" % p.stderr.strip()[:200])
    # class embeddings of another width than the model
    c2 = os.path.join(tmp, "classes8.h5")
    write_classes(c2, [c for c, _ in THINGS + STUFF], [1] * 3 + [0] * 2, [n for _, n in THINGS + STUFF],
                  eval_ref.unit(rng.standard_normal((K, 8))))
    p = run([*[c2 if a == classes else a for a in margs], "--data", os.path.join(tmp, "panoptic.json"),
             "-o", os.path.join(tmp, "bad_width.json")], mpi=2)
    check(p.returncode != 0 and "embedding width 16" in p.stderr and not os.path.exists(os.path.join(tmp, "bad_width.json")),
          "class embeddings of the wrong width on 2 ranks: %r" % p.stderr.strip()[:300])


with tempfile.TemporaryDirectory() as t:
    main(t)
print("test_eval: %s" % ("FAILED: %d" % len(fails) if fails else "all passed"))
sys.exit(1 if fails else 0)
