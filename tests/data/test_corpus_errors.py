"""Bad input for the corpus tools: report contents, checksum corruption, truncated
and foreign HDF5, wrong version, empty corpus, all-bad pack. Each must fail with a
clear message naming the file (and the image index), never crash.
usage: test_corpus_errors.py BUILD_DIR GOOD_CORPUS IMAGE_DIR WORK_DIR"""
import os
import shutil
import subprocess
import sys
import h5py
import numpy as np

build, good, imgdir, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
inspect = os.path.join(build, "atas_inspect")
pack = os.path.join(build, "atas_pack")
loader = os.path.join(build, "tests", "test_loader")
fails = []

def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr

def expect(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)

def expect_fail(cmd, needles, what):
    rc, out = run(cmd)
    missing = [n for n in needles if n not in out]
    expect(rc != 0 and not missing and "Segmentation" not in out,
           f"{what}: rc={rc}, missing {missing} in: {out.strip()[-400:]}")

def expect_loader_error(corpus, R, C, needle, what):
    # test_loader expect-error exits 0 only when the loader fails with `needle` and names the file
    rc, out = run([loader, "expect-error", corpus, R, C, needle])
    expect(rc == 0 and needle in out and corpus in out, f"{what}: rc={rc}: {out.strip()[-400:]}")

# -- the pack report lists every bad file with a reason; convertible files are packed
report = open(good + ".report.txt").read()
for name, reason in [("empty.png", "empty file"), ("text.jpg", "not a JPEG or PNG"),
                     ("tiny.png", "too small: 4x4"), ("truncated.jpg", "corrupt JPEG"),
                     ("truncated.png", "corrupt PNG")]:
    line = [l for l in report.splitlines() if l.split("\t")[0].endswith("/" + name)]
    expect(len(line) == 1 and reason in line[0], f"report lists {name} with '{reason}'")
names = [n.decode() for n in h5py.File(good, "r")["names"][...]]
for conv in ["gray.png", "gray.jpg", "rgba.png", "cmyk.jpg", "sub/good_000.png"]:
    expect(any(n.endswith("/" + conv) for n in names), f"{conv} packed")
# CMYK: the generator stores inverted ink, decoded as R = C*K/255 (docs/corpus.md)
f = h5py.File(good, "r")
cm = f["images"][[i for i, n in enumerate(names) if n.endswith("cmyk.jpg")][0]]
expect(cm.std() > 5, "cmyk image has content")

# -- verify passes on the good corpus
rc, out = run([inspect, good, "--verify"])
expect(rc == 0 and "0 of" in out, f"verify good corpus: {out.strip()[-200:]}")

# -- flip bytes inside image 5's chunk
bad = os.path.join(work, "corrupt.h5")
shutil.copy(good, bad)
with h5py.File(bad, "r") as h:
    info = h["images"].id.get_chunk_info_by_coord((5, 0, 0, 0))
    off, size = info.byte_offset, info.size
with open(bad, "r+b") as fh:
    fh.seek(off + size // 2)
    b = fh.read(4)
    fh.seek(off + size // 2)
    fh.write(bytes(x ^ 0xFF for x in b))
expect_fail([inspect, bad, "--verify"], ["image 5 ", bad, "checksum"], "verify names the corrupted index")
expect_loader_error(bad, "24", "32", "image 5 ", "loader reports the checksum failure with the image index")

# -- truncated HDF5
trunc = os.path.join(work, "truncated.h5")
data = open(good, "rb").read()
open(trunc, "wb").write(data[: len(data) // 2])
expect_fail([inspect, trunc], [trunc, "not readable as HDF5"], "truncated corpus")
expect_loader_error(trunc, "24", "32", "not readable as HDF5", "loader: truncated corpus")

# -- foreign HDF5
foreign = os.path.join(work, "foreign.h5")
with h5py.File(foreign, "w") as h:
    h["x"] = np.zeros(3)
expect_fail([inspect, foreign], [foreign, "not an atas corpus"], "foreign HDF5")

# -- wrong version
v2 = os.path.join(work, "v2.h5")
shutil.copy(good, v2)
with h5py.File(v2, "r+") as h:
    del h.attrs["version"]
    h.attrs["version"] = np.int64(2)
expect_fail([inspect, v2], [v2, "format version 2", "reads version 1"], "wrong version")
expect_loader_error(v2, "24", "32", "format version 2", "loader: wrong version")

# -- empty corpus (valid format, zero images)
empty = os.path.join(work, "empty.h5")
with h5py.File(empty, "w") as h:
    h.attrs["format"] = np.bytes_("atas-corpus")
    h.attrs["version"] = np.int64(1)
    h.attrs["size"] = np.int64(32)
    h.attrs["count"] = np.int64(0)
    h.create_dataset("images", shape=(0, 32, 32, 3), maxshape=(None, 32, 32, 3), dtype=np.uint8,
                     chunks=(1, 32, 32, 3), fletcher32=True)
rc, out = run([inspect, empty, "--verify"])
expect(rc == 0 and "count    0 images" in out, "inspect reads an empty corpus")
expect_loader_error(empty, "24", "32", "is empty", "loader: empty corpus")

# -- corpus too small for the views
expect_loader_error(good, "48", "32", "view_px=48", "loader: S < R")

# -- a pack where every file is bad fails, leaves no corpus behind
badonly = os.path.join(work, "badonly")
os.makedirs(badonly, exist_ok=True)
for n in ["text.jpg", "tiny.png", "truncated.jpg"]:
    shutil.copy(os.path.join(imgdir, n), badonly)
out_h5 = os.path.join(work, "none.h5")
expect_fail([pack, "-q", "--size", "32", "-o", out_h5, badonly], ["no image could be packed"], "all-bad pack")
expect(not os.path.exists(out_h5) and not os.path.exists(out_h5 + ".tmp"), "all-bad pack leaves no file")
expect_fail([pack, "-q", "--size", "32", "-o", out_h5, os.path.join(work, "missing_dir")], ["does not exist"],
            "missing input")
expect_fail([pack, "-o", out_h5, imgdir], ["--size"], "missing --size")

# inspect --png writes image 3 that equals the stored pixels
png = os.path.join(work, "i3.png")
rc, out = run([inspect, good, "--png", "3", png])
from PIL import Image
expect(rc == 0 and np.array_equal(np.asarray(Image.open(png)), f["images"][3]), "--png exports image 3")
print(f"test_corpus_errors: {len(fails)} failure(s)")
sys.exit(1 if fails else 0)
