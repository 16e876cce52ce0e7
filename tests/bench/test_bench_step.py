"""atas_bench --step on configs/tiny.cfg (cpu, 2 timed steps): the row and the phase table
are there with sane numbers, checked against what they must equal:
  - step FLOPs equal the method note's formula computed here for tiny.cfg's shapes;
  - images/s = global views / step time, TFLOP/s = FLOPs / step time, MFU = TFLOP/s / the
    peak printed in the same run, in (0, 1];
  - op calls per step > 0 and the same in both timed steps (one number, not "a-b");
  - the phases add up to the step; the temporary corpus and run directory are removed;
and --backend cuda without a GPU fails with one message that says so.
usage: test_bench_step.py ATAS_BENCH SOURCE_DIR"""
import os
import re
import subprocess
import sys
import tempfile

BENCH, SRC = sys.argv[1], sys.argv[2]
CFG = os.path.join(SRC, "configs", "tiny.cfg")
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
    return ok


def vit_forward_flops(patch, width, layers, mlp, embed, px):
    """docs/training.md "MFU and memory": L*(8ND^2 + 4N*D*mlp + 4N^2*D) + patch embed + projection"""
    g = px // patch
    Np = g * g
    N, D = Np + 1, width
    return layers * (8 * N * D * D + 4 * N * D * mlp + 4 * N * N * D) + 2 * Np * 3 * patch * patch * D + 2 * D * embed


def tiny_step_flops():
    # tiny.cfg: patch 8, width 64, 3 layers, mlp 256, embed 32; 2 groups x 4 images at 64 px,
    # 1 mosaic per group on a 128 px canvas; every loss on: teacher forward on the views,
    # student forward + backward (3x) on the views and on the mosaics
    f = lambda px: vit_forward_flops(8, 64, 3, 256, 32, px)
    views, mosaics = 8, 2
    return views * f(64) + 3 * views * f(64) + 3 * mosaics * f(128)


env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")
tmp = tempfile.mkdtemp(prefix="bench_step_test.")
env["TMPDIR"] = tmp
r = subprocess.run([BENCH, "--step", CFG, "--steps", "2", "--backend", "cpu", "--threads", "2"],
                   capture_output=True, text=True, env=env, timeout=240)
print(r.stdout)
print(r.stderr, file=sys.stderr)
check(r.returncode == 0, "cpu step bench exits 0 (%d)" % r.returncode)
lines = r.stdout.splitlines()
hdr = [i for i, l in enumerate(lines) if l.startswith("# model")]
if check(len(hdr) == 1 and hdr[0] + 1 < len(lines), "one column header and a row after it"):
    cols = lines[hdr[0]][1:].split()
    vals = lines[hdr[0] + 1].split()
    check(len(cols) == len(vals), "the row has a value per column (%d / %d)" % (len(vals), len(cols)))
    row = dict(zip(cols, vals))
    check(row.get("model") == "tiny" and row.get("prec") == "fp32" and row.get("ranks") == "1",
          "model tiny, fp32 (the config's on cpu), 1 rank: %s" % row)
    check(row.get("global_batch") == "8v@64+2m@128" and row.get("rank_batch") == "8v+2m",
          "batch: 8 views at 64 px + 2 mosaics at 128 px (%s, %s)" % (row.get("global_batch"), row.get("rank_batch")))
    ms, ips, tfl, mfu = (float(row[k]) for k in ("step_ms", "images/s", "TFLOP/s", "MFU_%"))
    check(ms > 0 and ips > 0 and tfl > 0, "step ms, images/s and TFLOP/s > 0")
    check(abs(ips - 8 / (ms * 1e-3)) <= 0.01 * ips + 0.1, "images/s = 8 views / step time (%g vs %g)" % (ips, 8 / (ms * 1e-3)))
    m = re.search(r"step FLOPs ([0-9.e+]+) per rank", r.stdout)
    want = tiny_step_flops()
    if check(m is not None, "the step FLOPs are printed"):
        got = float(m.group(1))
        check(abs(got - want) <= 1e-3 * want, "step FLOPs %g = the formula for tiny.cfg %g" % (got, want))
        check(abs(tfl - want / (ms * 1e-3) * 1e-12) <= 0.01 * tfl + 1e-4,
              "TFLOP/s = FLOPs / step time (%g vs %g)" % (tfl, want / (ms * 1e-3) * 1e-12))
    m = re.search(r"\(the backend's gemm_peak at fp32, [^)]*\): ([0-9.e+-]+) TFLOP/s", r.stdout)
    if check(m is not None, "the GEMM peak of the run is printed"):
        peak = float(m.group(1))
        # as printed: MFU_% to 2 decimals, TFLOP/s and the peak to 4 digits
        check(peak > 0 and abs(mfu - 100 * tfl / peak) <= 0.006 + 0.002 * mfu,
              "MFU = TFLOP/s / peak (%g%% vs %g / %g)" % (mfu, tfl, peak))
    check(0 < mfu / 100 <= 1, "MFU in (0, 1]: %g%%" % mfu)
    check(row.get("mem") == "rss" and float(row.get("peak_MiB", 0)) > 0, "cpu: peak RSS > 0 MiB")
    oc = row.get("op_calls", "")
    check(re.fullmatch(r"[0-9]+", oc) is not None and int(oc) > 0,
          "op calls per step > 0 and the same in both timed steps: '%s'" % oc)
    # the phase table: the trainer's phases, other, step
    phases = {}
    for l in lines[hdr[0] + 2:]:
        mm = re.match(r"^  (\S+)\s+(-?[0-9.]+)\s+(-?[0-9.]+)%$", l)
        if mm:
            phases[mm.group(1)] = float(mm.group(2))
    names = ["data_wait", "teacher_fwd", "student_fwd", "loss", "backward", "comm", "optimizer", "checkpoint"]
    check(all(n in phases for n in names + ["other", "step"]), "phase table rows %s" % sorted(phases))
    if all(n in phases for n in names + ["step"]):
        check(all(phases[n] >= 0 for n in names), "phase times >= 0")
        check(phases["teacher_fwd"] > 0 and phases["student_fwd"] > 0 and phases["backward"] > 0,
              "forward and backward take time")
        check(abs(phases["step"] - ms) <= 0.01, "the table's step row is the row's step_ms")
        check(sum(phases[n] for n in names) <= ms * 1.01 + 0.05, "the phases add up to at most the step")
        check(phases["checkpoint"] == 0, "no checkpoint inside the timed steps")
check(os.listdir(tmp) == [], "the temporary corpus and run directory are removed: %s" % os.listdir(tmp))

# no GPU here: one clear message, no row, exit != 0 (a GPU machine runs it instead)
r = subprocess.run([BENCH, "--step", CFG, "--steps", "1", "--backend", "cuda"], capture_output=True, text=True,
                   env=env, timeout=240)
if r.returncode == 0:
    check("# model" in r.stdout, "cuda: a GPU is here and the row is printed")
else:
    err = [l for l in r.stderr.splitlines() if l.strip()]
    print("\n".join(err))
    check(len(err) == 1 and ("no CUDA device" in err[0] or "no CUDA backend" in err[0]),
          "cuda without a GPU: one message that says so (%d lines)" % len(err))
    check("# model" not in r.stdout, "cuda without a GPU: no row")
check(os.listdir(tmp) == [], "nothing left in TMPDIR after the refusal")
os.rmdir(tmp)

if failures:
    print("test_bench_step: %d check(s) failed" % len(failures))
    sys.exit(1)
print("test_bench_step: all checks passed")
