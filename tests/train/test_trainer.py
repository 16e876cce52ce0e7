"""CTest cases of the distributed trainer atas_mpi, run for real (mpirun, signals,
SIGKILL/SIGSTOP of a rank, damaged checkpoints, non-finite losses).
    test_trainer.py CASE     (CASE: one of the functions named case_*)
Each case makes its own temporary corpus and run directory; checkpoints are read
back with h5py and compared with numpy."""
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trainlib as T  # noqa: E402

LOSSES = ("g2l", "l2l", "g2g", "total")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"  # every log line starts with the local date and time


def loss_close(a, b, rel=1e-5):
    """relative 1e-5; g2g starts at ~1e-16 (teacher = student), so relative to at least 1e-2"""
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-2)


def weights_close(ref, got, lr_sum, rel=1e-5, what=""):
    """Every tensor within `rel` of its largest magnitude, except the key third of each
    attention in_proj_bias: its gradient is exactly zero in exact arithmetic (softmax does
    not change when a constant is added to every logit of a row), so what it gets is
    rounding noise that AdamW normalises to steps of up to ~lr: bounded by the sum of the lrs."""
    worst, worst_k = 0.0, 0.0
    for k in ref:
        a, b = ref[k].astype(np.float64), got[k].astype(np.float64)
        if k.endswith("attn.in_proj_bias"):
            w = a.shape[0] // 3
            worst_k = max(worst_k, np.abs(a[w:2 * w] - b[w:2 * w]).max())
            a, b = np.delete(a, np.s_[w:2 * w]), np.delete(b, np.s_[w:2 * w])
        d = np.abs(a - b).max() / max(np.abs(a).max(), 1e-30)
        if d > worst:
            worst, name = d, k
    T.check(worst <= rel, "%s: every tensor within %.0e (worst %.2e)" % (what, rel, worst))
    T.check(worst_k <= lr_sum, "%s: attention key biases within sum of lr %.2e (worst %.2e)" % (what, lr_sum, worst_k))


def run_ok(n, sets, what, args=(), cfg=T.TINY, expect=0, timeout=120):
    rc, out, err, secs = T.run(n, sets, cfg=cfg, args=args, timeout=timeout)
    if not T.check(rc == expect, "%s: exit %d (expected %d, %.1f s)" % (what, rc, expect, secs)):
        print(T.tail(out), "\n", T.tail(err, 30))
    return out, err


# ----------------------------------------------------------------------------- 1
def case_world_sizes():
    """1, 2 and 4 ranks at the same global batch: same losses and final weights."""
    d = T.workdir("world")
    c = T.make_corpus(d)
    steps = 10
    M, W, TW = {}, {}, {}
    for n in (1, 2, 4):
        name = "w%d" % n
        run_ok(n if n > 1 else 0, T.sets_for(d, c, name, run__steps=steps, batch__groups=4,
                                             checkpoint__every=0), "%d rank(s)" % n)
        rd = os.path.join(d, "runs", name)
        M[n] = T.metrics(rd)
        W[n] = T.load_group(T.ckpt_path(rd, steps))
        TW[n] = T.load_group(T.ckpt_path(rd, steps), "teacher")
        T.check(T.attrs(T.ckpt_path(rd, steps))["world_size"] == n, "%d ranks: world_size attribute" % n)
    T.check(len(M[1]) == steps, "1 rank: %d metric lines" % steps)
    lr_sum = sum(m["lr"] for m in M[1])
    nparams = sum(v.size for v in W[1].values())
    for n in (2, 4):
        T.check([m["step"] for m in M[n]] == list(range(steps)), "%d ranks: steps 0..%d logged" % (n, steps - 1))
        bad = [(m1["step"], k, m1[k], mn[k]) for m1, mn in zip(M[1], M[n]) for k in LOSSES
               if not loss_close(m1[k], mn[k])]
        T.check(not bad, "%d ranks: every loss of every step within 1e-5 of 1 rank %s" % (n, bad[:3]))
        T.check(all(abs(a["grad_norm"] - b["grad_norm"]) <= 1e-4 * a["grad_norm"] for a, b in zip(M[1], M[n])),
                "%d ranks: grad norms within 1e-4" % n)
        weights_close(W[1], W[n], lr_sum, what="%d vs 1 rank(s), student" % n)
        weights_close(TW[1], TW[n], lr_sum, what="%d vs 1 rank(s), teacher" % n)
        # the whole gradient buffer goes through the allreduce each step
        T.check(all(m["comm_bytes"] == 4 * nparams for m in M[n]),
                "%d ranks: comm_bytes = 4 x %d parameters" % (n, nparams))
    T.check(all(m["comm_bytes"] == 0 for m in M[1]), "1 rank: no communication")


# ----------------------------------------------------------------------------- 1b
def case_staged_backend():
    """The device code paths (inputs uploaded, the device-resident objective and
    update, gradients and broadcasts through host staging), run with the CPU ops
    ("cpu-staged"), on 1 and 2 ranks: bitwise the same trajectory as the plain CPU
    backend, and per step only the inputs go up and a few bytes come down."""
    d = T.workdir("staged")
    c = T.make_corpus(d)
    steps = 6
    res = {}
    for backend in ("cpu", "cpu-staged"):
        for n in (1, 2):
            name = "%s%d" % (backend, n)
            run_ok(n if n > 1 else 0, T.sets_for(d, c, name, run__steps=steps, batch__groups=2,
                                                 checkpoint__every=0, teacher__sync_every=2,
                                                 dist__check_every=3, run__backend='"%s"' % backend),
                   "%s on %d rank(s)" % (backend, n))
            rd = os.path.join(d, "runs", name)
            res[backend, n] = (T.metrics(rd), T.load_group(T.ckpt_path(rd, steps)),
                               T.load_group(T.ckpt_path(rd, steps), "teacher"))
    for n in (1, 2):
        mc, wc, tc = res["cpu", n]
        ms, ws, ts = res["cpu-staged", n]
        T.check([m["total"] for m in mc] == [m["total"] for m in ms], "%d rank(s): same losses" % n)
        T.check(T.bitwise_equal(wc, ws) and T.bitwise_equal(tc, ts),
                "%d rank(s): staged student and teacher bitwise equal to cpu" % n)
    # the device-resident step (docs/step_device.md): on 1 rank, a staged step uploads
    # the NEXT step's images (double-buffered: step 0 also its own) and the mosaic cell
    # tables the cpu run uploads too, and downloads only the group losses and the step
    # state; the last step (no next batch; its checkpoint downloads the model) is left out
    mc, ms = res["cpu", 1][0], res["cpu-staged", 1][0]
    groups, imgs, per_group, R, C = 2, 4, 1, 64, 128  # configs/tiny.cfg
    inputs = 4 * groups * (imgs * 3 * R * R + per_group * 3 * C * C)
    for a, b in zip(mc[:-1], ms[:-1]):
        print("step %d: cpu h2d %d d2h %d, cpu-staged h2d %d d2h %d (images %d)"
              % (a["step"], a["bytes_h2d"], a["bytes_d2h"], b["bytes_h2d"], b["bytes_d2h"], inputs))
        once = 1024 if a["step"] == 0 else 0  # step 0 also uploads the optimizer's segment table once
        batches = 2 if a["step"] == 0 else 1
        T.check(b["bytes_h2d"] - a["bytes_h2d"] == batches * inputs and 0 < a["bytes_h2d"] <= 2 * 16 * 20 + once,
                "step %d: staged h2d = %d x images %d + cell tables %d" % (a["step"], batches, inputs, a["bytes_h2d"]))
        T.check(b["bytes_d2h"] <= 4096, "step %d: staged d2h %d bytes <= 4 KiB" % (b["step"], b["bytes_d2h"]))


# ----------------------------------------------------------------------------- 2
def case_signal_resume():
    """SIGUSR1 to mpirun, SIGTERM to every rank, --stop-after: exit 3 after a checkpoint,
    then --resume auto ends bitwise equal to an uninterrupted run."""
    d = T.workdir("signal")
    c = T.make_corpus(d)
    steps = 60
    run_ok(2, T.sets_for(d, c, "ref", run__steps=steps), "uninterrupted 2-rank run")
    ref_dir = os.path.join(d, "runs", "ref")
    ref = T.load_group(T.ckpt_path(ref_dir, steps))
    ref_t = T.load_group(T.ckpt_path(ref_dir, steps), "teacher")
    ref_m = T.load_group(T.ckpt_path(ref_dir, steps), "adam_v")

    def interrupted(name, how):
        sets = T.sets_for(d, c, name, run__steps=steps)
        rd = os.path.join(d, "runs", name)
        log = os.path.join(d, name + ".log")
        if how == "stop-after":
            rc, out, err, _ = T.run(2, sets, args=["--stop-after", "7"])
            text = out + err
        else:
            p = T.start(2, sets, log=log)
            try:
                T.check(T.wait_steps(rd, 4, p), "%s: 4 steps done before the signal" % name)
                if how == "SIGUSR1 to mpirun":
                    os.kill(p.pid, signal.SIGUSR1)
                else:  # SIGTERM to every rank, as a batch system does
                    pids = T.rank_pids(p.pid)
                    T.check(sorted(pids) == [0, 1], "%s: found the pids of ranks 0 and 1 %s" % (name, pids))
                    for pid in pids.values():
                        os.kill(pid, signal.SIGTERM)
                rc = p.wait(timeout=60)
            finally:
                T.stop_group(p)
            text = open(log).read()
        if not T.check(rc == 3, "%s (%s): exit 3, got %d" % (name, how, rc)):
            print(T.tail(text, 30))
        stopped = len(T.metrics(rd))
        T.check(0 < stopped < steps, "%s: stopped mid-run at step %d" % (name, stopped))
        if how == "stop-after":
            T.check(stopped == 7, "%s: --stop-after 7 stops after 7 steps" % name)
        T.check(re.search(r"stopping at step %d on request" % stopped, text) is not None,
                "%s: log says where it stopped" % name)
        T.check(os.path.exists(T.ckpt_path(rd, stopped) + ".done"), "%s: complete checkpoint at step %d" % (name, stopped))
        out, err = run_ok(2, sets, "%s: --resume auto" % name, args=["--resume", "auto"])
        T.check("resumed from %s at step %d" % (T.ckpt_path(rd, stopped), stopped) in out + err,
                "%s: resumed from the step-%d checkpoint" % (name, stopped))
        T.check([m["step"] for m in T.metrics(rd)] == list(range(steps)), "%s: metrics.jsonl has every step once" % name)
        got = T.load_group(T.ckpt_path(rd, steps))
        T.check(T.bitwise_equal(ref, got), "%s: final student bitwise equal to the uninterrupted run (max rel %.2e)"
                % (name, T.rel_diff(ref, got)[0]))
        T.check(T.bitwise_equal(ref_t, T.load_group(T.ckpt_path(rd, steps), "teacher")), "%s: teacher bitwise equal" % name)
        T.check(T.bitwise_equal(ref_m, T.load_group(T.ckpt_path(rd, steps), "adam_v")), "%s: AdamW v bitwise equal" % name)

    interrupted("usr1", "SIGUSR1 to mpirun")
    interrupted("term", "SIGTERM to every rank")
    interrupted("stopafter", "stop-after")


def case_elapsed_resume():
    """metrics elapsed_s goes on across a resume (the checkpoint's elapsed_s attribute, or
    the last kept record's when later); a checkpoint written before that attribute still resumes."""
    import h5py
    import zlib
    d = T.workdir("elapsed")
    c = T.make_corpus(d, n=16)
    for name in ("new", "old"):
        sets = T.sets_for(d, c, name, run__steps=6)
        rd = os.path.join(d, "runs", name)
        run_ok(0, sets, "%s: --stop-after 3" % name, args=["--stop-after", "3"], expect=3)
        ck = T.ckpt_path(rd, 3)
        before = T.metrics(rd)
        at = T.attrs(ck)
        if name == "old":  # as written before the attribute existed (the marker made to match)
            with h5py.File(ck, "r+") as f:
                del f.attrs["elapsed_s"]
            with open(ck, "rb") as f:
                blob = f.read()
            with open(ck + ".done", "w") as f:
                f.write("%d %08x\n" % (len(blob), zlib.crc32(blob)))
        else:
            T.check(0 < at["elapsed_s"] <= before[-1]["elapsed_s"] + 1e-3,
                    "checkpoint elapsed_s %.3f within the run (last record %.3f)" % (at["elapsed_s"], before[-1]["elapsed_s"]))
        run_ok(0, sets, "%s: --resume auto" % name, args=["--resume", "auto"])
        m = T.metrics(rd)
        T.check([r["step"] for r in m] == list(range(6)), "%s: every step once" % name)
        if name == "new":
            e = [r["elapsed_s"] for r in m]
            T.check(all(b >= a for a, b in zip(e, e[1:])), "elapsed_s never goes back across the resume: %s" % e)
            T.check(e[3] >= at["elapsed_s"], "the first resumed step %.3f comes after the checkpoint's %.3f"
                    % (e[3], at["elapsed_s"]))
        else:
            T.check(m[3]["elapsed_s"] >= 0, "a checkpoint without elapsed_s resumes (from the kept records' or 0)")


# ----------------------------------------------------------------------------- 3
def case_resume_other_world():
    """A 4-rank checkpoint resumed on 2 ranks (same global batch) = an uninterrupted 4-rank run."""
    d = T.workdir("reworld")
    c = T.make_corpus(d)
    steps = 10
    run_ok(4, T.sets_for(d, c, "ref", run__steps=steps, batch__groups=4), "uninterrupted 4-rank run")
    ref_m = T.metrics(os.path.join(d, "runs", "ref"))
    ref = T.load_group(T.ckpt_path(os.path.join(d, "runs", "ref"), steps))
    sets = T.sets_for(d, c, "re", run__steps=steps, batch__groups=4)
    rd = os.path.join(d, "runs", "re")
    run_ok(4, sets, "4 ranks, --stop-after 5", args=["--stop-after", "5"], expect=3)
    T.check(T.attrs(T.ckpt_path(rd, 5))["world_size"] == 4, "checkpoint at step 5 written by 4 ranks")
    out, err = run_ok(2, sets, "2 ranks, --resume auto", args=["--resume", "auto"])
    T.check("written by 4 rank(s), now 2" in out + err, "resume log names both world sizes")
    m = T.metrics(rd)
    T.check([x["step"] for x in m] == list(range(steps)), "every step logged once")
    bad = [(a["step"], k) for a, b in zip(ref_m, m) for k in LOSSES if not loss_close(a[k], b[k])]
    T.check(not bad, "losses of the resumed 2-rank steps within 1e-5 of the 4-rank run %s" % bad[:3])
    got = T.load_group(T.ckpt_path(rd, steps))
    weights_close(ref, got, sum(x["lr"] for x in ref_m[5:]), what="4 -> 2 ranks resume vs 4 ranks")
    # a global batch the new world size cannot split is refused (tiny.cfg rounds it up unless told not to)
    out, err = run_ok(4, T.sets_for(d, c, "re", run__steps=steps, batch__groups=2) + ["batch.round_up=false"],
                      "batch.groups=2 on 4 ranks",
                      args=["--resume", "auto"], expect=1)
    T.check("batch.groups" in err, "the error names batch.groups")


# ----------------------------------------------------------------------------- 4
def case_damaged_checkpoint():
    """keep_last/keep_every pruning; a truncated newest checkpoint or a missing marker is
    skipped with a warning and the previous one is used."""
    d = T.workdir("damaged")
    c = T.make_corpus(d)
    sets = T.sets_for(d, c, "r", run__steps=10, checkpoint__every=3, checkpoint__keep_last=2,
                      checkpoint__keep_every=6)
    rd = os.path.join(d, "runs", "r")
    run_ok(0, sets, "10 steps, checkpoint every 3")
    expect = ["ckpt-%08d.h5%s" % (s, x) for s in (6, 9, 10) for x in ("", ".done")]
    T.check(T.ckpts(rd) == expect, "keep_last=2, keep_every=6 leave steps 6, 9, 10: %s" % T.ckpts(rd))
    final = T.load_group(T.ckpt_path(rd, 10))
    at9 = T.load_group(T.ckpt_path(rd, 9))
    p10 = T.ckpt_path(rd, 10)
    with open(p10, "r+b") as f:
        f.truncate(os.path.getsize(p10) // 2)
    out, err = run_ok(0, sets, "resume auto past a truncated checkpoint", args=["--resume", "auto"])
    T.check(re.search(r"ckpt-00000010\.h5 is damaged \(size \d+ bytes, marker says \d+.*trying the previous one", err)
            is not None, "warning names the truncated file and the size mismatch")
    T.check("resumed from %s at step 9" % T.ckpt_path(rd, 9) in out + err, "resumed from step 9")
    T.check(T.bitwise_equal(final, T.load_group(p10)), "re-run step 9 -> 10 is bitwise the lost checkpoint")
    T.check(T.ckpts(rd) == expect, "pruning after the resumed run: %s" % T.ckpts(rd))
    # no completion marker (a crash between rename and marker): also skipped
    os.unlink(p10 + ".done")
    shutil.copy(p10, p10 + ".keep")
    out, err = run_ok(0, sets, "resume auto without a marker", args=["--resume", "auto"])
    T.check("ckpt-00000010.h5 is damaged (no completion marker)" in err, "warning for the missing marker")
    T.check("resumed from %s at step 9" % T.ckpt_path(rd, 9) in out + err, "resumed from step 9 again")
    os.unlink(p10 + ".keep")
    # every checkpoint damaged: a fresh start, said so
    for s in (6, 9, 10):
        os.unlink(T.ckpt_path(rd, s) + ".done")
    out, err = run_ok(0, sets, "resume auto with no usable checkpoint", args=["--resume", "auto"])
    T.check("no checkpoint" in out + err and T.bitwise_equal(final, T.load_group(p10)),
            "no usable checkpoint: starts fresh and ends where the first run did")
    T.check(not T.bitwise_equal(at9, final), "step 9 and 10 differ (the test can fail)")


# ----------------------------------------------------------------------------- 5
def rank_dies(sig, timeout_s, name):
    d = T.workdir("kill")
    c = T.make_corpus(d, n=16)
    sets = T.sets_for(d, c, name, run__steps=100000, dist__timeout_s=timeout_s, checkpoint__every=0,
                      run__log_every=1000)
    rd = os.path.join(d, "runs", name)
    log = os.path.join(d, name + ".log")
    p = T.start(2, sets, log=log)
    pids = {}
    try:
        T.check(T.wait_steps(rd, 3, p), "%s: training runs" % name)
        pids = T.rank_pids(p.pid)
        T.check(sorted(pids) == [0, 1], "%s: pids of ranks 0 and 1 from /proc %s" % (name, pids))
        if 1 not in pids:
            return None, 0, open(log).read()
        t0 = time.time()
        os.kill(pids[1], sig)
        try:
            rc = p.wait(timeout=timeout_s + 40)
        except subprocess.TimeoutExpired:
            rc = None
        secs = time.time() - t0
    finally:
        T.stop_group(p)
        for pid in pids.values():  # a stopped or orphaned rank of this test
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    text = open(log).read()
    ok = T.check(rc is not None and rc != 0, "%s: job exits non-zero (exit %s)" % (name, rc))
    ok &= T.check(secs <= timeout_s + 30, "%s: within dist.timeout_s %d + 30 s (%.1f s)" % (name, timeout_s, secs))
    if not ok:
        print(T.tail(text, 30))
    return rc, secs, text


def case_rank_killed():
    """SIGKILL of rank 1: the job ends non-zero in bounded time (mpirun or the time-out)."""
    rank_dies(signal.SIGKILL, 20, "killed")


def case_rank_stuck():
    """SIGSTOP of rank 1 (alive but stuck; mpirun sees nothing): rank 0's collective times
    out after dist.timeout_s and aborts every rank with exit 4."""
    rc, secs, text = rank_dies(signal.SIGSTOP, 4, "stuck")
    T.check(rc == 4, "stuck rank: exit 4 (collective time-out), got %s" % rc)
    T.check(re.search(r"did not complete within 4 s \(dist\.timeout_s\)", text) is not None,
            "stuck rank: message names dist.timeout_s")
    T.check(secs >= 4, "stuck rank: not before the time-out (%.1f s)" % secs)


# ----------------------------------------------------------------------------- 6
def case_bad_input():
    d = T.workdir("bad")
    c = T.make_corpus(d, n=16)
    runs = os.path.join(d, "runs")
    run_ok(0, T.sets_for(d, c, "small", run__steps=2, optim__warmup_steps=1), "2-step run for a checkpoint")
    ck = T.ckpt_path(os.path.join(runs, "small"), 2)
    out, err = run_ok(0, T.sets_for(d, c, "wide", run__steps=5, model__width=128), "resume another model width",
                      args=["--resume", ck], expect=1)
    T.check(ck in err and "width = 64, the config says 128" in err, "the error names the file and the mismatch")
    T.check(not os.path.exists(os.path.join(runs, "wide", "checkpoints", "ckpt-00000005.h5")), "no checkpoint written")
    # a checkpoint of an unknown format version (written by a future atas): refused by name
    import shutil
    import h5py
    fut = os.path.join(d, "future.h5")
    shutil.copy(ck, fut)
    with h5py.File(fut, "r+") as f:
        f.attrs["format_version"] = 99
    out, err = run_ok(0, T.sets_for(d, c, "future", run__steps=5), "resume a version-99 checkpoint",
                      args=["--resume", fut], expect=1)
    T.check(fut in err and "format version 99" in err, "the error names the file and the version: %s" % T.tail(err, 2))
    out, err = run_ok(0, T.sets_for(d, c, "nofile", run__steps=5), "resume a missing file",
                      args=["--resume", os.path.join(d, "nope.h5")], expect=1)
    T.check(os.path.join(d, "nope.h5") in err, "the error names the missing checkpoint")

    def config_error(what, extra, key, n=0, args=()):
        name = "cfg%d" % len(os.listdir(d))
        rc, out, err, _ = T.run(n, T.sets_for(d, c, name) + extra, args=args)
        T.check(rc != 0, "%s: exit non-zero (%d)" % (what, rc))
        T.check(key in err, "%s: message names %s: %s" % (what, key, T.tail(err, 2)))
        T.check(not os.path.exists(os.path.join(runs, name)), "%s: no run directory written" % what)
    config_error("unknown key", ["optim.learning_rate=1e-3"], "optim.learning_rate")
    config_error("bad value (negative)", ["run.steps=-3"], "run.steps")
    config_error("bad value (not a number)", ["batch.group_images=four"], "batch.group_images")
    config_error("bad enum", ["loss.l2l.form=nonsense"], "loss.l2l.form")
    config_error("groups not divisible by ranks", ["batch.groups=3", "batch.round_up=false"], "batch.groups", n=2)
    rc, out, err, _ = T.run(0, T.sets_for(d, c, "opt"), args=["--no-such-option"])
    T.check(rc == 2 and "usage" in err, "unknown option: usage, exit 2 (%d)" % rc)
    # ranks disagreeing on the config: MPMD with two files that differ in one value
    text = open(T.TINY).read()
    a, b = os.path.join(d, "a.cfg"), os.path.join(d, "b.cfg")
    open(a, "w").write(text)
    open(b, "w").write(text.replace("lr = 1e-4;", "lr = 2e-4;"))
    T.check(open(b).read() != text, "b.cfg differs from a.cfg")
    argv = [T.MPIRUN, "--oversubscribe"]
    for i, cfg in enumerate((a, b)):
        argv += (([":"] if i else []) + ["-n", "1", T.ATAS_MPI, cfg] +
                 sum((["--set", s] for s in T.sets_for(d, c, "mpmd")), []))
    r = subprocess.run(argv, capture_output=True, text=True, env=T.ENV, timeout=120)
    T.check(r.returncode != 0, "MPMD with differing configs: exit non-zero (%d)" % r.returncode)
    T.check("the resolved config differs between ranks: rank(s) 1 disagree with rank 0" in r.stderr,
            "the error names the disagreeing rank: %s" % T.tail(r.stderr, 3))
    T.check(not T.ckpts(os.path.join(runs, "mpmd")), "MPMD: no checkpoint written")


# ----------------------------------------------------------------------------- 7
def case_metrics():
    d = T.workdir("metrics")
    c = T.photo_corpus(d)
    steps = 30
    rc, out, err, secs = T.run(2, T.sets_for(d, c, "m", run__steps=steps))
    if not T.check(rc == 0, "2-rank tiny run: exit 0 (%.1f s)" % secs):
        print(T.tail(err, 30))
    m = T.metrics(os.path.join(d, "runs", "m"))
    T.check([x["step"] for x in m] == list(range(steps)), "one metrics line per step")
    for k in ("g2l", "l2l"):
        first, last = np.mean([x[k] for x in m[:5]]), np.mean([x[k] for x in m[-5:]])
        T.check(last < first, "%s falls: mean of the first 5 steps %.4f, of the last 5 %.4f" % (k, first, last))
    keys = ["step", "g2l", "l2l", "g2g", "total", "lr", "grad_norm", "teacher_momentum", "images_per_s",
            "skipped", "ms", "comm_bytes"]
    phases = ["data_wait", "teacher_fwd", "student_fwd", "loss", "backward", "comm", "optimizer", "checkpoint", "step"]
    missing = [(x["step"], k) for x in m for k in keys if k not in x] + \
              [(x["step"], "ms." + k) for x in m for k in phases if k not in x.get("ms", {})]
    T.check(not missing, "every line has every field %s" % missing[:5])
    T.check(all(isinstance(x[k], (int, float)) and math.isfinite(x[k]) for x in m for k in keys[1:9]),
            "numbers are finite")
    T.check(all(x["ms"][p] >= 0 for x in m for p in phases) and all(x["images_per_s"] > 0 for x in m),
            "times and throughput are positive")
    T.check(all(sum(x["ms"][p] for p in phases[:-1]) <= x["ms"]["step"] * 1.01 + 0.05 for x in m),
            "phases add up to at most the step time")
    ck = [x["step"] for x in m if x["ms"]["checkpoint"] > 0]
    T.check(ck == [9, 19, 29], "ms.checkpoint counts on the checkpoint steps (every 10 and the last) %s" % ck)
    T.check(all(abs(x["images_per_s"] - 2 * 4 * 1000 / x["ms"]["step"]) <= 0.01 * x["images_per_s"] for x in m),
            "images_per_s = 8 images / step time")
    T.check(all(abs(x["total"] - (x["g2l"] + x["l2l"] + x["g2g"])) <= 1e-5 for x in m),
            "total = g2l + l2l + g2g (unit weights of tiny.cfg)")
    # backend op calls per step: the same work every step (the first line also holds the set-up's
    # calls after metrics.jsonl was opened; on cpu a checkpoint or an agreement check calls no op)
    oc = [x.get("op_calls") for x in m]
    T.check(all(isinstance(c, int) and c > 0 for c in oc) and len(set(oc[1:])) == 1 and oc[0] >= oc[1],
            "op_calls > 0, the same on every step after the first %s" % sorted(set(map(str, oc))))
    # schedules from their formulas (tiny.cfg: lr 1e-4, warmup 5, min 0; momentum 0.99 -> 1 cosine)
    lr = [1e-4 * (s + 1) / 5 if s < 5 else 0.5e-4 * (1 + math.cos(math.pi * (s - 5) / (steps - 5))) for s in range(steps)]
    mom = [1 - 0.5 * 0.01 * (1 + math.cos(math.pi * s / (steps - 1))) for s in range(steps)]
    T.check(all(abs(x["lr"] - l) <= 1e-9 * 1e-4 + 1e-15 for x, l in zip(m, lr)), "lr follows warmup + cosine")
    T.check(all(abs(x["teacher_momentum"] - v) <= 1e-9 for x, v in zip(m, mom)), "teacher momentum follows its cosine")
    prog = re.findall(r"^%s step +(\d+)/%d .*ETA \S+" % (STAMP, steps), out, re.M)
    T.check([int(s) for s in prog] == list(range(1, steps + 1)),
            "one progress line with ETA per step on stdout, rank 0 only (%d lines)" % len(prog))
    T.check(not re.search(r"^%s step +\d+/" % STAMP, err, re.M), "no progress lines on stderr")
    T.check(out.count("# phase times over %d steps" % steps) == 1, "one phase table")
    # log_every = 5: a line at step 1, every 5th, and the last
    rc, out, err, _ = T.run(2, T.sets_for(d, c, "m5", run__steps=12, run__log_every=5))
    prog = [int(s) for s in re.findall(r"^%s step +(\d+)/12 " % STAMP, out, re.M)]
    T.check(prog == [1, 5, 10, 12], "log_every=5: progress at steps %s" % prog)


# ----------------------------------------------------------------------------- 8
def case_nonfinite():
    """lr = 1e30 without clipping blows the weights up after step 0: steps 1 and 2 have
    non-finite losses, are skipped and counted; max_nonfinite_in_row=2 stops with exit 5
    after checkpointing the last good state (the weights after step 0)."""
    d = T.workdir("nonfinite")
    c = T.make_corpus(d, n=16)
    common = dict(optim__lr="1e30", optim__clip_grad_norm=0, faults__max_nonfinite_in_row=2, optim__warmup_steps=1)
    out, err = run_ok(2, T.sets_for(d, c, "boom", run__steps=20, **common), "exploding run", expect=5)
    rd = os.path.join(d, "runs", "boom")
    m = T.metrics(rd)
    T.check([x["step"] for x in m] == [0, 1, 2], "three steps logged: %s" % [x["step"] for x in m])
    T.check([x["skipped"] for x in m] == [False, True, True], "steps 1 and 2 skipped")
    T.check(all(x["total"] is None for x in m[1:]), "non-finite losses written as null")
    for s in (1, 2):
        T.check(re.search(r"step %d: non-finite loss .*step skipped \(%d in a row\)" % (s, s), err) is not None,
                "stderr warns for step %d, naming the loss" % s)
    T.check("non-finite steps in a row (faults.max_nonfinite_in_row)" in err, "the stop names faults.max_nonfinite_in_row")
    ck = T.ckpt_path(rd, 3)
    T.check(T.ckpts(rd) == ["ckpt-00000003.h5", "ckpt-00000003.h5.done"], "one checkpoint, at step 3: %s" % T.ckpts(rd))
    at = T.attrs(ck)
    T.check((at["step"], at["nonfinite_total"], at["nonfinite_in_row"]) == (3, 2, 2),
            "checkpoint counts: step 3, 2 non-finite, 2 in a row (%s, %s, %s)" % (at["step"], at["nonfinite_total"],
                                                                                 at["nonfinite_in_row"]))
    w = T.load_group(ck)
    T.check(all(np.isfinite(v).all() for v in w.values()), "the checkpointed weights are finite")
    # the last good state = the weights after step 0 (one warmup step: the lr of step 0 is the peak either way)
    run_ok(2, T.sets_for(d, c, "one", run__steps=1, **common), "the same first step alone")
    one = T.load_group(T.ckpt_path(os.path.join(d, "runs", "one"), 1))
    T.check(T.bitwise_equal(one, w), "checkpoint = the student after step 0 (skipped steps changed nothing)")
    # a sane run of the same length has no skipped step (the test can tell)
    run_ok(0, T.sets_for(d, c, "sane", run__steps=5), "sane run")
    T.check(not any(x["skipped"] for x in T.metrics(os.path.join(d, "runs", "sane"))), "sane run: nothing skipped")


if __name__ == "__main__":
    if len(sys.argv) != 2 or "case_" + sys.argv[1] not in globals():
        sys.exit("usage: test_trainer.py %s" % "|".join(k[5:] for k in globals() if k.startswith("case_")))
    t0 = time.time()
    globals()["case_" + sys.argv[1]]()
    print("%.1f s" % (time.time() - t0))
    T.finish()
