"""Hostile files (issue 14, items 1, 4, 5, 6): sizes from configs, checkpoints, corpora and
weights are bounded before anything is allocated; never-written corpus chunks and a missing
checksum filter are errors naming the image; temporaries are unpredictable and never follow
a planted link; special files are refused by type; the small parsing holes are closed.
Each case runs the real programs with a time limit: a hang or a crash is a failure.
usage: test_hostile_files.py CASE   (sizes | corpus | files | parsing)"""
import json
import os
import stat
import struct
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import trainlib as T  # noqa: E402

B = os.path.dirname(T.ATAS_MPI)
CONFIG, CONVERT, EMBED = (os.path.join(B, p) for p in ("atas_config", "atas_convert", "atas_embed"))
INSPECT, PACK = os.path.join(B, "atas_inspect"), T.ATAS_PACK


def run(argv, timeout=60, env=None):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or T.ENV)
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        return "timeout", ""


def refused(argv, needles, what, rc_want=1, timeout=60):
    rc, out = run(argv, timeout)
    missing = [n for n in needles if n not in out]
    ok = rc == rc_want and not missing
    if not T.check(ok, "%s: exit %s (want %s), message has %s" % (what, rc, rc_want, needles)):
        print(T.tail(out, 8))


def tiny_ckpt(d):
    """A real checkpoint of the tiny model (a 2-step run)."""
    c = T.make_corpus(d, n=8)
    rc, out, err, _ = T.run(0, T.sets_for(d, c, "r", run__steps=1, optim__warmup_steps=0))
    T.check(rc == 0, "tiny run for a checkpoint")
    return T.ckpt_path(os.path.join(d, "runs", "r"), 1), c


def write_safetensors(path, tensors):
    hdr, blob = {}, b""
    for name, (shape, arr) in tensors.items():
        b = arr.astype("<f4").tobytes()
        hdr[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [len(blob), len(blob) + len(b)]}
        blob += b
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + blob)


# ----------------------------------------------------------------------------- items 1, 5
def case_sizes():
    d = T.workdir("sizes")
    refused([CONFIG, T.TINY, "--set", "model.layers=357913942"], ["model.layers = 357913942", "maximum 1024"],
            "config: layers that wrap the parameter table")
    refused([CONFIG, T.TINY, "--set", "model.width=1048576", "--set", "model.heads=1"], ["model.width", "maximum"],
            "config: width past the limit")
    refused([CONFIG, T.TINY, "--set", "model.grid=60000"], ["model.grid", "maximum"], "config: grid*grid+1 past int")
    refused([CONFIG, T.TINY, "--set", "model.width=16384", "--set", "model.mlp=65536", "--set", "model.layers=1024",
             "--set", "model.heads=16"], ["parameters, more than the supported maximum"], "config: too many parameters")
    ck, corpus = tiny_ckpt(d)
    for attr, val, key in (("layers", 357913942, "layers"), ("grid", 2 ** 40, "grid"), ("width", -5, "width")):
        bad = os.path.join(d, "bad_%s.h5" % attr)
        with open(ck, "rb") as a, open(bad, "wb") as b:
            b.write(a.read())
        with h5py.File(bad, "r+") as f:
            del f.attrs[attr]
            f.attrs[attr] = np.int64(val)
        refused([CONVERT, bad, "-o", os.path.join(d, "o.safetensors")], [bad, key], "atas_convert: checkpoint %s = %d" % (attr, val))
        refused([EMBED, "--weights", bad, "--corpus", corpus, "-o", os.path.join(d, "e.h5")], [bad, key],
                "atas_embed: checkpoint %s = %d" % (attr, val))
    # a zero-sized dimension: a 1 KB file must not make a model of gigabytes
    W, P, G = 64, 8, 2
    st = os.path.join(d, "zero.safetensors")
    z = np.zeros
    write_safetensors(st, {
        "visual.conv1.weight": ((W, 3, P, P), z((W, 3, P, P))),
        "visual.positional_embedding": ((G * G + 1, W), z((G * G + 1, W))),
        "visual.transformer.resblocks.0.ln_1.weight": ((W,), z(W)),
        "visual.transformer.resblocks.0.mlp.c_fc.weight": ((60000, 0), z(0)),
        "visual.proj": ((W, 32), z((W, 32)))})
    for prog in ([EMBED, "--weights", st, "--heads", "4", "--act", "gelu", "--corpus", corpus, "-o", os.path.join(d, "e.h5")],
                 [CONVERT, st, "--to", "hf", "--heads", "4", "--act", "gelu", "-o", os.path.join(d, "hf")]):
        refused(prog, [st, "mlp.c_fc.weight", "dimension 1 = 0"], "%s: zero-sized dimension" % os.path.basename(prog[0]))
    # a weights file far smaller than the model its shapes describe
    write_safetensors(st, {
        "visual.conv1.weight": ((W, 3, P, P), z((W, 3, P, P))),
        "visual.positional_embedding": ((G * G + 1, W), z((G * G + 1, W))),
        "visual.transformer.resblocks.0.ln_1.weight": ((W,), z(W)),
        "visual.transformer.resblocks.0.mlp.c_fc.weight": ((60000, 1), z(60000)),
        "visual.proj": ((W, 32), z((W, 32)))})
    refused([EMBED, "--weights", st, "--heads", "4", "--act", "gelu", "--corpus", corpus, "-o", os.path.join(d, "e.h5")],
            [st, "but the file holds only"], "atas_embed: shapes bigger than the file")
    # corpus side and count: refused before anything of their size is allocated
    for S, N, needle in ((65536, 1, "'size' = 65536 out of range"), (8, 2 ** 32 - 1, "cannot hold the 4294967295 images")):
        p = os.path.join(d, "big_%d.h5" % S)
        with h5py.File(p, "w") as f:
            f.attrs["format"] = np.bytes_("atas-corpus")
            f.attrs["version"] = np.int64(1)
            f.attrs["size"] = np.int64(S)
            f.attrs["count"] = np.int64(N)
            f.create_dataset("images", shape=(N, S, S, 3), dtype=np.uint8, chunks=(1, min(S, 1024), min(S, 1024), 3),
                             fletcher32=True)  # HDF5 caps a chunk at 4 GiB
        refused([INSPECT, p], [p, needle], "corpus S=%d N=%d" % (S, N))
        refused([EMBED, "--weights", ck, "--corpus", p, "-o", os.path.join(d, "e.h5")], [p, needle],
                "atas_embed on corpus S=%d N=%d" % (S, N))


# ----------------------------------------------------------------------------- item 4
def case_corpus():
    d = T.workdir("corpus")
    good = T.make_corpus(d, n=8)
    with h5py.File(good, "r") as f:
        imgs = f["images"][()]
    S = imgs.shape[1]
    # images 3 and 6 never written (a packer killed half-way, a hand-made file)
    holes = os.path.join(d, "holes.h5")
    with h5py.File(holes, "w") as f:
        for k in ("format", "version", "size", "count"):
            with h5py.File(good, "r") as g:
                f.attrs[k] = g.attrs[k]
        ds = f.create_dataset("images", shape=imgs.shape, dtype=np.uint8, chunks=(1, S, S, 3), fletcher32=True)
        for i in range(len(imgs)):
            if i not in (3, 6):
                ds[i] = imgs[i]
        f.create_dataset("pad", data=np.zeros(S * S * 3 * 2, np.uint8))  # the size check alone passes
    refused([INSPECT, holes, "--verify"], [holes, "image 3 was never written"], "verify: a never-written chunk")
    sets = T.sets_for(d, holes, "h", run__steps=4, optim__warmup_steps=0, batch__groups=2, batch__group_images=4)
    rc, out, err, _ = T.run(0, sets)
    T.check(rc == 1 and "was never written" in err and holes in err, "training on it: exit 1 naming the image (%s)" % rc)
    # no checksum filter
    nof = os.path.join(d, "nofletcher.h5")
    with h5py.File(nof, "w") as f:
        with h5py.File(good, "r") as g:
            for k in g.attrs:
                f.attrs[k] = g.attrs[k]
        f.create_dataset("images", data=imgs, chunks=(1, S, S, 3))
    refused([INSPECT, nof, "--verify"], [nof, "no Fletcher32 checksum"], "verify: corpus without Fletcher32")
    rc, out, err, _ = T.run(0, T.sets_for(d, nof, "n", run__steps=2, optim__warmup_steps=0))
    T.check(rc == 1 and "no Fletcher32 checksum" in err, "training on it: exit 1 (%s)" % rc)
    # UTF-8 'format' attribute (h5py's str default) is read, not called missing
    utf = os.path.join(d, "utf8.h5")
    with open(good, "rb") as a, open(utf, "wb") as b:
        b.write(a.read())
    with h5py.File(utf, "r+") as f:
        del f.attrs["format"]
        f.attrs.create("format", "atas-corpus", dtype=h5py.string_dtype("utf-8", 11))
    rc, out = run([INSPECT, utf, "--verify"])
    T.check(rc == 0, "a UTF-8 fixed-length format attribute is read (%s: %s)" % (rc, T.tail(out, 3)))
    with h5py.File(utf, "r+") as f:
        del f.attrs["format"]
        f.attrs["format"] = "atas-corpus"  # variable-length UTF-8
    rc, out = run([INSPECT, utf, "--verify"])
    T.check(rc == 0, "a UTF-8 variable-length format attribute is read (%s: %s)" % (rc, T.tail(out, 3)))


# ----------------------------------------------------------------------------- item 6: files
def case_files():
    d = T.workdir("files")
    imgs = os.path.join(d, "imgs")
    T.make_corpus(d, n=8, size=32)
    # a symlink planted where the old predictable temporary went: its target is untouched
    victim = os.path.join(d, "victim.txt")
    with open(victim, "w") as f:
        f.write("precious\n")
    out = os.path.join(d, "c.h5")
    os.symlink(victim, out + ".tmp")
    rc, o = run([PACK, "-q", "--size", "32", "-o", out, imgs])
    T.check(rc == 0 and open(victim).read() == "precious\n", "atas_pack leaves a planted OUT.tmp link's target alone")
    T.check(not [n for n in os.listdir(d) if n.startswith(".c.h5.")], "no temporary left beside the output")
    # final modes from the umask, the same for every writer
    for um, want in ((0o027, 0o640), (0o000, 0o666)):
        env = dict(T.ENV)
        p = os.path.join(d, "m%03o.h5" % um)
        st_out = os.path.join(d, "m%03o.safetensors" % um)
        ck = os.path.join(d, "runs")
        r1 = subprocess.run("umask %03o && exec %s -q --size 64 -o %s %s" % (um, PACK, p, imgs), shell=True, env=env,
                            capture_output=True)
        T.check(r1.returncode == 0 and stat.S_IMODE(os.stat(p).st_mode) == want,
                "umask %03o: corpus mode %o (want %o)" % (um, stat.S_IMODE(os.stat(p).st_mode) if r1.returncode == 0 else 0, want))
        if um == 0o027:
            sets = T.sets_for(d, p, "u", run__steps=1, optim__warmup_steps=0)
            cmd = " ".join("'%s'" % a for a in T.cmdline(0, sets))
            r2 = subprocess.run("umask %03o && exec %s" % (um, cmd), shell=True, env=env, capture_output=True)
            c1 = T.ckpt_path(os.path.join(ck, "u"), 1)
            T.check(r2.returncode == 0 and stat.S_IMODE(os.stat(c1).st_mode) == want, "umask 027: checkpoint mode")
            r3 = subprocess.run("umask %03o && exec %s %s -o %s" % (um, CONVERT, c1, st_out), shell=True, env=env,
                                capture_output=True)
            T.check(r3.returncode == 0 and stat.S_IMODE(os.stat(st_out).st_mode) == want, "umask 027: safetensors mode")
    # special files refused by type, never opened (a FIFO would block forever)
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    refused([CONFIG, fifo], [fifo, "FIFO"], "config path is a FIFO", timeout=20)
    refused([CONVERT, fifo, "--to", "hf", "-o", os.path.join(d, "x")], [fifo, "FIFO"], "weights path is a FIFO", timeout=20)
    refused([INSPECT, fifo], [fifo, "FIFO"], "corpus path is a FIFO", timeout=20)
    refused([EMBED, "--weights", fifo, "--corpus", out, "-o", os.path.join(d, "e.h5")], [fifo, "FIFO"],
            "atas_embed weights is a FIFO", timeout=20)
    refused([CONFIG, "/dev/zero"], ["/dev/zero", "character device"], "config path is a device", timeout=20)


# ----------------------------------------------------------------------------- item 6: parsing
def case_parsing():
    d = T.workdir("parsing")
    refused([CONFIG, T.TINY, "--set", "mosaic.grids=[2,,4]"], ["mosaic.grids", "element 1 must be an integer"],
            "--set mosaic.grids=[2,,4] is not [2,4]")
    cfg = os.path.join(d, "big.cfg")
    with open(T.TINY) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace("steps = 30;", "steps = 123456789012345678901234;"))
    refused([CONFIG, cfg], [cfg + ":6", "123456789012345678901234", "out of the 64-bit range"], "24-digit literal")
    with open(cfg, "w") as f:  # the same digits in a string or a comment are fine
        f.write(text.replace("steps = 30;", "steps = 30; # 123456789012345678901234"))
    rc, out = run([CONFIG, cfg])
    T.check(rc == 0, "long digit runs in comments are not literals (%s)" % T.tail(out, 3))
    refused([T.ATAS_MPI, T.TINY, "--stop-after", "abc"], ["--stop-after", "abc"], "--stop-after abc", rc_want=2)
    refused([T.ATAS_MPI, T.TINY, "--stop-after", "0"], ["--stop-after"], "--stop-after 0", rc_want=2)


if __name__ == "__main__":
    {"sizes": case_sizes, "corpus": case_corpus, "files": case_files, "parsing": case_parsing}[sys.argv[1]]()
    T.finish()
