"""Generated COCO-format evaluation data for the tests: images of several shapes,
panoptic PNGs (segment id = R + 256 G + 256^2 B) with thing rectangles and stuff
bands, a panoptic JSON, an instances JSON with the same things, and class
embeddings in the documented HDF5 layout (written with h5py)."""
import json
import os

import h5py
import numpy as np
from PIL import Image

THINGS = [(1, "cat"), (3, "car"), (5, "kite")]
STUFF = [(100, "sky"), (101, "grass")]


def write_classes(path, ids, isthing, names, emb):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "atas-class-embeddings"
        f.attrs["version"] = 1
        f.attrs["templates"] = 1
        f.attrs["model"] = "test: random unit vectors"
        f["embeddings"] = emb.astype(np.float32)
        f["category_ids"] = np.array(ids, np.int32)
        f["isthing"] = np.array(isthing, np.int32)
        f.create_dataset("names", data=names, dtype=h5py.string_dtype("utf-8"))


def make_data(tmp, rng):
    """5 images; panoptic PNGs + JSON, instances JSON. Returns the images for the reference."""
    os.makedirs(os.path.join(tmp, "images"))
    os.makedirs(os.path.join(tmp, "panoptic"))
    cats = [{"id": i, "name": n, "isthing": 1, "supercategory": "x"} for i, n in THINGS] + \
           [{"id": i, "name": n, "isthing": 0, "supercategory": "y"} for i, n in STUFF]
    pimages, panns, ianns, ref = [], [], [], []
    aid = 1
    for k, (h, w) in enumerate([(30, 40), (36, 24), (50, 50), (21, 33), (44, 28)]):
        rgb = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        ids = np.zeros((h, w), np.int64)
        segs, regions = [], []
        # stuff: two bands (sky on top, grass below), ids with a G and B component
        cut = h // 2 + k % 3
        for sid, cid, sl in ((1 + 256 * 3, 100, np.s_[:cut]), (2 + 65536 * 2, 101, np.s_[cut:])):
            ids[sl] = sid
            rgb[sl] = (rgb[sl] * 0.5 + np.array([40, 80, 200] if cid == 100 else [60, 170, 40]) * 0.5).astype(np.uint8)
        # things: rectangles; the last one of image 1 is 6x6 (area 36 < 64: skipped)
        nthing = 2 + k % 2
        for t in range(nthing):
            bw, bh = (6, 6) if (k == 1 and t == nthing - 1) else (int(rng.integers(8, w // 2)), int(rng.integers(8, h // 2)))
            x, y = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
            sid = 10 + t + 256 * (k + 1)
            cid = THINGS[(k + t) % 3][0]
            ids[y:y + bh, x:x + bw] = sid
            rgb[y:y + bh, x:x + bw] = np.array([200 * (cid == 1), 200 * (cid == 3), 200 * (cid == 5)]) * 0.7 + \
                rgb[y:y + bh, x:x + bw] * 0.3
            segs.append({"id": sid, "category_id": cid, "iscrowd": 0, "bbox": [x, y, bw, bh], "area": bw * bh})
            ianns.append({"id": aid, "image_id": 100 + k, "category_id": cid, "bbox": [x, y, bw, bh],
                          "area": bw * bh, "iscrowd": 0})
            aid += 1
        # visible parts: a later rectangle may cover an earlier one; keep the JSON boxes (as COCO does)
        for sid, cid in ((1 + 256 * 3, 100), (2 + 65536 * 2, 101)):
            ys, xs = np.nonzero(ids == sid)
            segs.insert(0 if cid == 100 else 1, {"id": sid, "category_id": cid, "iscrowd": 0,
                                                   "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                                            int(ys.max() - ys.min() + 1)], "area": int(len(xs))})
        segs = [s for s in segs if (ids == s["id"]).any()]
        name = "im%03d" % k
        Image.fromarray(rgb).save(os.path.join(tmp, "images", name + ".jpg.png"))
        png = np.stack([ids % 256, (ids // 256) % 256, ids // 65536], -1).astype(np.uint8)
        Image.fromarray(png).save(os.path.join(tmp, "panoptic", name + ".png"))
        pimages.append({"id": 100 + k, "file_name": name + ".jpg.png", "width": w, "height": h})
        panns.append({"image_id": 100 + k, "file_name": name + ".png", "segments_info": segs})
        row = {c: i for i, c in enumerate([c for c, _ in THINGS + STUFF])}
        for s in segs:
            thing = int(s["category_id"] < 100)
            bx, by, bw, bh = s["bbox"]
            if thing and not (64 <= bw * bh <= 1024 ** 2):
                continue
            regions.append((bx, by, bw, bh, row[s["category_id"]], thing, s["id"]))
        iregions = [(a["bbox"][0], a["bbox"][1], a["bbox"][2], a["bbox"][3], row[a["category_id"]], 1, 0)
                    for a in ianns if a["image_id"] == 100 + k and a["bbox"][2] * a["bbox"][3] >= 64]
        ref.append({"rgb": rgb, "ids": ids, "regions": regions, "iregions": iregions})
    pan = {"images": pimages, "annotations": panns, "categories": cats}
    ins = {"images": pimages, "annotations": ianns, "categories": [c for c in cats if c["isthing"]]}
    with open(os.path.join(tmp, "panoptic.json"), "w") as f:
        json.dump(pan, f)
    with open(os.path.join(tmp, "instances.json"), "w") as f:
        json.dump(ins, f)
    return ref, pan, ins
