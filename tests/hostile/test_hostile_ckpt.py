"""Hostile checkpoints and full disks (issue 14, items 2 and 3).

checkpoint_corrupt: the newest checkpoint damaged four ways (a flipped tensor byte, a
  damaged tail, 4 KiB of zeros, a damaged dataset header) - resume auto names what is
  wrong and falls back to the previous one, ending bitwise where an undamaged run ends;
  --resume PATH to a damaged file is exit 1 with the file named.
full_disk: checkpoints onto a small tmpfs - exit 1 on every rank (1 and 2 ranks) with
  the path and "No space left on device", never a signal; the previous good checkpoint
  stays in place and verifies. Exit 77 when a tmpfs cannot be mounted.
full_disk_metrics: the run directory on a tmpfs with room for config.cfg and one page
  of metrics.jsonl, its checkpoints/ on a roomy tmpfs of its own - the disk fills while
  metrics.jsonl grows: exit 1 on every rank (1 and 2 ranks) with the path and "No space
  left on device", never a signal; the checkpoints written before are complete."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import trainlib as T  # noqa: E402

import h5py  # noqa: E402


def run_ok(n, sets, what, args=(), expect=0, timeout=180):
    rc, out, err, _ = T.run(n, sets, args=args, timeout=timeout)
    if not T.check(rc == expect, "%s: exit %d (expected %d)" % (what, rc, expect)):
        print(T.tail(out + err, 25))
    return out, err


def damage(path, how):
    """Damage `path` in place; returns what was done."""
    size = os.path.getsize(path)
    with h5py.File(path, "r") as f:
        ds = f["student/visual.transformer.resblocks.1.attn.in_proj_weight"]
        data_off = ds.id.get_chunk_info(0).byte_offset
        hdr = h5py.h5o.get_info(f["teacher/visual.ln_post.weight"].id).addr
    with open(path, "r+b") as f:
        if how == "flip":
            f.seek(data_off + 100)
            b = f.read(1)
            f.seek(data_off + 100)
            f.write(bytes([b[0] ^ 0x10]))
        elif how == "tail":
            f.seek(size - 64)
            f.write(b"\xa5" * 64)
        elif how == "zeros":
            off = (size // 2) // 4096 * 4096
            f.seek(off)
            f.write(b"\0" * 4096)
        elif how == "header":
            f.seek(hdr + 8)
            f.write(b"\xff" * 24)


def case_checkpoint_corrupt():
    d = T.workdir("ckcorrupt")
    c = T.make_corpus(d, n=16)
    sets = T.sets_for(d, c, "r", run__steps=10, checkpoint__every=5, checkpoint__keep_last=3)
    rd = os.path.join(d, "runs", "r")
    run_ok(0, sets, "10 steps, checkpoint every 5")
    p10 = T.ckpt_path(rd, 10)
    final = T.load_group(p10)
    with h5py.File(p10, "r") as f:
        T.check(T.attrs(p10)["format_version"] == 2, "checkpoints are format version 2")
        T.check(all(f[g][k].fletcher32 for g in ("student", "teacher") for k in f[g]),
                "every tensor carries a Fletcher32 checksum")
    good = p10 + ".good"
    shutil.copy(p10, good)
    shutil.copy(p10 + ".done", good + ".done")

    def restore():  # the undamaged newest checkpoint and its marker (a resumed run rewrites both)
        shutil.copy(good, p10)
        shutil.copy(good + ".done", p10 + ".done")
    for how, reason in (("flip", r"CRC-32 of the file is [0-9a-f]+, the marker says [0-9a-f]+"),
                        ("tail", r"CRC-32"), ("zeros", r"CRC-32"), ("header", r"CRC-32")):
        restore()
        damage(p10, how)
        out, err = run_ok(0, sets, "resume auto past a checkpoint with %s damage" % how, args=["--resume", "auto"])
        T.check(re.search(r"ckpt-00000010\.h5 is damaged \(%s.*trying the previous one" % reason, err) is not None,
                "%s: the warning names the file and what is wrong" % how)
        T.check("resumed from %s at step 5" % T.ckpt_path(rd, 5) in out + err, "%s: resumed from step 5" % how)
        T.check(T.bitwise_equal(final, T.load_group(p10)), "%s: steps 5 -> 10 again are bitwise the lost checkpoint" % how)
    # the per-tensor checksum alone (marker rewritten to match the damaged file): still caught
    restore()
    damage(p10, "flip")
    import zlib
    with open(p10, "rb") as f:
        blob = f.read()
    with open(p10 + ".done", "w") as f:
        f.write("%d %08x\n" % (len(blob), zlib.crc32(blob)))
    out, err = run_ok(0, sets, "resume auto: flipped tensor, matching marker", args=["--resume", "auto"])
    T.check(re.search(r"ckpt-00000010\.h5 is damaged \(dataset /?student/visual\.transformer\.resblocks\.1\.attn\.in_proj_weight fails its checksum", err)
            is not None, "Fletcher32 names the damaged tensor")
    T.check("resumed from %s at step 5" % T.ckpt_path(rd, 5) in out + err, "flip+marker: resumed from step 5")
    # an explicit --resume PATH to a damaged checkpoint: refused by name
    restore()
    damage(p10, "flip")
    out, err = run_ok(0, sets, "--resume PATH of a damaged checkpoint", args=["--resume", p10], expect=1)
    T.check(p10 in err and "CRC-32" in err, "the error names the file and the CRC mismatch")
    os.unlink(good)
    os.unlink(good + ".done")


def can_mount():
    probe = T.workdir("probe")
    m = os.path.join(probe, "m")
    os.makedirs(m)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", m], capture_output=True)
    if r.returncode != 0:
        return False
    subprocess.run(["umount", m])
    return True


def case_full_disk():
    if not can_mount():
        print("SKIP: cannot mount a tmpfs (needs root)")
        sys.exit(77)
    d = T.workdir("fulldisk")
    c = T.make_corpus(d, n=16)
    # the size of one checkpoint, from a run on the normal disk
    sets = T.sets_for(d, c, "ref", run__steps=6, checkpoint__every=1, checkpoint__keep_last=9)
    run_ok(0, sets, "reference run")
    one = os.path.getsize(T.ckpt_path(os.path.join(d, "runs", "ref"), 1))
    mnt = os.path.join(d, "mnt")
    os.makedirs(mnt)
    try:
        # sizes that end inside tensor data, inside the last metadata and at the marker
        for nr in (1, 2):
            for frac in (0.5, 1.3, 1.7, 1.98):
                size_k = int(one * frac / 1024) + 40  # + config.cfg, metrics.jsonl
                subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk" % size_k, "tmpfs", mnt], check=True)
                try:
                    sets = ['run.dir="%s"' % mnt, 'run.name="r"', 'data.corpus="%s"' % c, "run.threads=1",
                            "run.steps=6", "checkpoint.every=1", "checkpoint.keep_last=9"]
                    rc, out, err, _ = T.run(nr, sets, timeout=180)
                    what = "%d rank(s), tmpfs of %d KiB" % (nr, size_k)
                    rd = os.path.join(mnt, "r")
                    if not T.check(rc == 1, "%s: exit 1 (got %d)" % (what, rc)):
                        print(T.tail(out + err, 30))
                    T.check("No space left on device" in err and "ckpt-0000000" in err,
                            "%s: the error names the checkpoint and the system's reason" % what)
                    T.check("Segmentation" not in err and "signal" not in err.lower(), "%s: no crash" % what)
                    if nr == 2:
                        T.check(err.count("error:") >= 1 and "exited on signal" not in err, "%s: every rank ends" % what)
                    names = T.ckpts(rd)
                    T.check(not any(n.startswith(".") for n in names), "%s: no temporary left: %s" % (what, names))
                    sys.path.insert(0, os.path.dirname(T.ATAS_MPI))
                    for n in names:
                        if n.endswith(".h5"):
                            T.check(n + ".done" in names, "%s: %s is complete (has its marker)" % (what, n))
                            with h5py.File(os.path.join(rd, "checkpoints", n), "r") as f:
                                T.check(all(f["student"][k].fletcher32 for k in f["student"]),
                                        "%s: %s reads back" % (what, n))
                finally:
                    subprocess.run(["umount", mnt])
        # the other writers on a full disk: packed corpus, embeddings, safetensors export
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], check=True)
        try:
            ck = T.ckpt_path(os.path.join(d, "runs", "ref"), 6)
            b = os.path.dirname(T.ATAS_MPI)
            for what, argv in (
                    ("atas_pack", [T.ATAS_PACK, "-q", "--size", "128", "-o", os.path.join(mnt, "c.h5"),
                                   os.path.join(d, "imgs")]),
                    ("atas_embed", [os.path.join(b, "atas_embed"), "-q", "--weights", ck, "--corpus", c,
                                    "-o", os.path.join(mnt, "e.h5")]),
                    ("atas_convert", [os.path.join(b, "atas_convert"), ck, "-o", os.path.join(mnt, "w.safetensors")])):
                with open(os.path.join(mnt, "filler"), "wb") as f:  # leave ~64 KiB
                    try:
                        f.write(b"\0" * (192 * 1024))
                    except OSError:
                        pass
                r = subprocess.run(argv, capture_output=True, text=True, env=T.ENV, timeout=120)
                T.check(r.returncode == 1 and "No space left on device" in r.stderr and mnt in r.stderr,
                        "%s on a full disk: exit 1 with the path and the reason (%d: %s)"
                        % (what, r.returncode, r.stderr.strip()[-300:]))
                left = [n for n in os.listdir(mnt) if n != "filler"]
                T.check(left == [] or left == ["c.h5.report.txt"], "%s: nothing half-written left: %s" % (what, left))
                for n in os.listdir(mnt):
                    os.unlink(os.path.join(mnt, n))
        finally:
            subprocess.run(["umount", mnt])
    finally:
        subprocess.run(["umount", mnt], capture_output=True)


def case_full_disk_metrics():
    if not can_mount():
        print("SKIP: cannot mount a tmpfs (needs root)")
        sys.exit(77)
    d = T.workdir("fullmetrics")
    c = T.make_corpus(d, n=16)
    # the sizes of config.cfg and of one metrics line, from a run on the normal disk
    sets = T.sets_for(d, c, "ref", run__steps=6, checkpoint__every=0)
    run_ok(0, sets, "reference run")
    ref = os.path.join(d, "runs", "ref")
    cfg_pages = -(-os.path.getsize(os.path.join(ref, "config.cfg")) // 4096)
    line = os.path.getsize(os.path.join(ref, "metrics.jsonl")) / 6
    steps = int(4096 / line) + 3  # more lines than the one page left for them
    mnt = os.path.join(d, "mnt")
    os.makedirs(mnt)
    try:
        for nr in (1, 2):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk" % (4 * cfg_pages + 4), "tmpfs", mnt], check=True)
            rd = os.path.join(mnt, "r")
            ck = os.path.join(rd, "checkpoints")
            os.makedirs(ck)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", ck], check=True)
            try:
                sets = ['run.dir="%s"' % mnt, 'run.name="r"', 'data.corpus="%s"' % c, "run.threads=1",
                        "run.steps=%d" % steps, "checkpoint.every=2", "checkpoint.keep_last=99"]
                rc, out, err, _ = T.run(nr, sets, timeout=180)
                what = "metrics on a full disk, %d rank(s)" % nr
                if not T.check(rc == 1, "%s: exit 1 (got %d)" % (what, rc)):
                    print(T.tail(out + err, 30))
                T.check(re.search(re.escape(rd) + r"/metrics\.jsonl: cannot write the record of step \d+: "
                                  r"No space left on device", err) is not None,
                        "%s: the error names metrics.jsonl and the system's reason" % what)
                T.check("Segmentation" not in err and "signal" not in err.lower(), "%s: no crash" % what)
                errs = re.findall(r"^(?:\[rank \d+\] )?error: .*$", err, re.M)
                T.check(len(errs) == 1, "%s: one message; rank 1's echo of rank 0's failure stays quiet: %s"
                        % (what, errs))
                T.check("training %d steps" % steps in out + err and "step %6d/" % steps not in out + err,
                        "%s: the run ended before its last step" % what)
                names = T.ckpts(rd)
                T.check(any(n.endswith(".h5.done") for n in names), "%s: checkpoints were written: %s" % (what, names))
                for n in names:
                    if n.endswith(".h5"):
                        T.check(n + ".done" in names, "%s: %s is complete (has its marker)" % (what, n))
            finally:
                subprocess.run(["umount", ck])
                subprocess.run(["umount", mnt])
    finally:
        subprocess.run(["umount", ck], capture_output=True)
        subprocess.run(["umount", mnt], capture_output=True)


if __name__ == "__main__":
    {"checkpoint_corrupt": case_checkpoint_corrupt, "full_disk": case_full_disk,
     "full_disk_metrics": case_full_disk_metrics}[sys.argv[1]]()
    T.finish()
