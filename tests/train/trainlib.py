"""Shared helpers of the trainer tests: a synthetic corpus, running atas_mpi
(serial or under mpirun), reading metrics.jsonl and comparing checkpoints."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

BIN = os.environ.get("ATAS_BINARY_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SRC = os.environ.get("ATAS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
ATAS_MPI = os.path.join(BIN, "atas_mpi")
ATAS_PACK = os.path.join(BIN, "atas_pack")
TINY = os.path.join(SRC, "configs", "tiny.cfg")
MPIRUN = shutil.which("mpirun") or "mpirun"
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

FAILS = []
WORKDIRS = []


def check(cond, what):
    """Record a failed assertion and go on (every failure is reported)."""
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)
    return cond


def finish():
    if FAILS:
        print("%d check(s) failed:\n  %s" % (len(FAILS), "\n  ".join(FAILS)))
        sys.exit(1)
    for d in WORKDIRS:  # kept on failure for inspection
        shutil.rmtree(d, ignore_errors=True)
    print("all checks passed")
    sys.exit(0)


def need_cudaemu():
    """exit 77 unless ATAS_CUDA_LIB names the emulated CUDA module (docs/cudaemu.md)"""
    lib = os.environ.get("ATAS_CUDA_LIB", "")
    if not lib.endswith("libatas_cudaemu.so") or not os.path.exists(lib):
        print("ATAS_CUDA_LIB does not name the cudaemu module: skipped")
        sys.exit(77)


def workdir(name):
    """A fresh temporary directory for one test (kept on failure for inspection)."""
    d = tempfile.mkdtemp(prefix="atas_%s_" % name)
    WORKDIRS.append(d)
    print("work directory", d)
    return d


def make_corpus(d, n=32, size=128, seed=0):
    """n photo-like synthetic images (smooth colour fields, blobs, edges, texture)
    written as PNG and packed with atas_pack: structure the ViT can learn from."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    imgs = os.path.join(d, "imgs")
    os.makedirs(imgs, exist_ok=True)
    S = 160
    fy, fx = np.meshgrid(np.fft.fftfreq(S), np.fft.fftfreq(S), indexing="ij")
    amp = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / S) ** 1.2  # natural images: ~1/f spectrum
    yy, xx = np.mgrid[0:S, 0:S] / S
    for i in range(n):
        img = np.zeros((S, S, 3))
        for c in range(3):
            ph = np.exp(2j * np.pi * rng.uniform(0, 1, (S, S)))
            img[..., c] = np.real(np.fft.ifft2(amp * ph))
        img = (img - img.mean()) / (img.std() + 1e-9) * 0.15 + rng.uniform(0.3, 0.7, 3)
        for _ in range(rng.integers(3, 8)):  # hard-edged objects of varied size and colour
            y0, x0 = rng.integers(0, S - 16, 2)
            h, w = rng.integers(8, 70, 2)
            if rng.uniform() < 0.5:
                img[y0:y0 + h, x0:x0 + w] = rng.uniform(0, 1, 3)
            else:
                cy, cx, r = (y0 + h / 2) / S, (x0 + w / 2) / S, w / (2 * S)
                img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 1, 3)
        img = np.clip(img, 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(os.path.join(imgs, "img%03d.png" % i))
    out = os.path.join(d, "corpus.h5")
    r = subprocess.run([ATAS_PACK, "-q", "--size", str(size), "-o", out, imgs], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        raise SystemExit("atas_pack failed")
    return out


def sets_for(d, corpus, name, **extra):
    """--set arguments: run dir and name, corpus, one thread per rank, plus extras."""
    s = ['run.dir="%s"' % os.path.join(d, "runs"), 'run.name="%s"' % name, 'data.corpus="%s"' % corpus,
         "run.threads=1"]
    for k, v in extra.items():
        s.append("%s=%s" % (k.replace("__", "."), v))
    return s


def cmdline(nranks, sets, cfg=TINY, args=()):
    argv = [ATAS_MPI, cfg]
    for s in sets:
        argv += ["--set", s]
    argv += list(args)
    if nranks == 0:  # no mpirun at all
        return argv
    return [MPIRUN, "--oversubscribe", "-n", str(nranks)] + argv


def cmdline_rank1(sets, rank1_env, cfg=TINY):
    """2 ranks, rank 1 alone with the NAME=VALUE settings of rank1_env (mpirun -x in its own
    app context): a fault on one rank of two"""
    argv = cmdline(0, sets, cfg)
    x = []
    for kv in rank1_env:
        x += ["-x", kv]
    return [MPIRUN, "--oversubscribe", "-n", "1"] + argv + [":", "-n", "1"] + x + argv


def run(nranks, sets, cfg=TINY, args=(), timeout=120, cwd=None):
    """Run to completion; returns (exit code, stdout, stderr, seconds)."""
    t0 = time.time()
    r = subprocess.run(cmdline(nranks, sets, cfg, args), capture_output=True, text=True, env=ENV,
                       timeout=timeout, cwd=cwd)
    return r.returncode, r.stdout, r.stderr, time.time() - t0


def start(nranks, sets, cfg=TINY, args=(), log=None):
    """Start in the background (own process group); stdout+stderr go to the file `log`."""
    f = open(log, "w")
    p = subprocess.Popen(cmdline(nranks, sets, cfg, args), stdout=f, stderr=subprocess.STDOUT, env=ENV,
                         start_new_session=True)
    p.logfile = f
    return p


def stop_group(p):
    """Kill what start() began, if it still runs (the test's own process group only)."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def rank_pids(root_pid):
    """{rank: pid} of the MPI processes below root_pid, read from /proc: every Open MPI
    process carries OMPI_COMM_WORLD_RANK in its environment."""
    children = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                st = f.read()
            ppid = int(st[st.rfind(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(e))
        except (OSError, ValueError):
            pass
    out, todo = {}, [root_pid]
    while todo:
        pid = todo.pop()
        for c in children.get(pid, []):
            todo.append(c)
            try:
                with open("/proc/%d/environ" % c, "rb") as f:
                    env = f.read().split(b"\0")
                with open("/proc/%d/cmdline" % c, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if b"atas_mpi" not in cmd:
                continue
            for kv in env:
                if kv.startswith(b"OMPI_COMM_WORLD_RANK="):
                    out[int(kv.split(b"=", 1)[1])] = c
    return out


def metrics(run_dir):
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def wait_steps(run_dir, n, p, timeout=60):
    """Wait until metrics.jsonl holds n steps (or the process ended)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            if len(metrics(run_dir)) >= n:
                return True
        except json.JSONDecodeError:  # a line being written
            pass
        if p.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def ckpts(run_dir):
    d = os.path.join(run_dir, "checkpoints")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def ckpt_path(run_dir, step):
    return os.path.join(run_dir, "checkpoints", "ckpt-%08d.h5" % step)


def load_group(path, group="student"):
    with h5py.File(path, "r") as f:
        return {k: f[group][k][()] for k in f[group]}


def attrs(path):
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def rel_diff(a, b):
    """Largest |a-b| over the largest |a| of each tensor, worst tensor: (value, name)."""
    worst = (0.0, "")
    for k in a:
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        d = np.abs(x - y).max() / max(np.abs(x).max(), 1e-30)
        worst = max(worst, (d, k))
    return worst


def bitwise_equal(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def tail(text, n=15):
    return "\n".join(text.strip().splitlines()[-n:])


PHOTOS = "/usr/share/backgrounds/mate"


def photo_corpus(d, size=128):
    """The demo photographs (mate-backgrounds, installed by tools/setup.sh) packed small;
    the synthetic corpus when they are absent."""
    if not os.path.isdir(PHOTOS):
        print("note: %s missing, using synthetic images" % PHOTOS)
        return make_corpus(d, size=size)
    out = os.path.join(d, "photos.h5")
    r = subprocess.run([ATAS_PACK, "-q", "--size", str(size), "-o", out, PHOTOS], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        raise SystemExit("atas_pack failed")
    return out
