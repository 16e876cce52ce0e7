#!/usr/bin/env python3
"""The CUDA path's bad input, run on the emulated device (docs/cudaemu.md): what a user sees
when the GPU is missing, too small, or its NCCL peer dies. Each case runs atas_mpi on
configs/tiny.cfg with run.backend = "cuda" through the cudaemu module and checks: exit code,
ONE message naming rank, host, device and what was asked (no bare CUDA/NCCL code, no crash),
and that nothing on disk was damaged.
  no GPU       CUDA_VISIBLE_DEVICES="" (the driver's own switch): exit 1, "no CUDA device available
               to rank 0 of 1 on host H", no run directory left behind;
  out of GPU   CUDAEMU_MEM_MB (a small emulated device) on the resume of a preempted run: exit 1,
  memory       the bytes, what they were for, GPU, host, rank and free/total; the run directory
               byte for byte as it was; the same resume with the device's memory then finishes the run;
               two ranks, one of them short of memory or without a GPU: both stop within seconds,
               one message (its own);
  NCCL hang    CUDAEMU_NCCL_FAULT=allreduce:2:hang with dist.timeout_s = 3: exit 4 within seconds of
               the time-out, naming step and phase (the gradient allreduce) and the communicator aborted;
               the same at the communicator's set-up (init:1:hang, phase "NCCL bootstrap");
  NCCL error   CUDAEMU_NCCL_FAULT=allreduce:1:error: exit 1, NCCL's reason and its last error.
Exits 77 when the module is not named (a build without ATAS_WITH_CUDA).
Usage: test_cudaemu_faults.py"""
import hashlib
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import trainlib as T  # noqa: E402

HOST = os.uname().nodename


def snapshot(d):
    """path -> sha256 of every file under d"""
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def run(d, c, name, env, args=(), timeout=300, **sets):
    base = dict(run__steps=6, checkpoint__every=3, run__backend='"cuda"', run__precision='"fp32"',
                run__peak_tflops=1000)
    base.update(sets)
    saved = {k: T.ENV.get(k) for k in env}
    T.ENV.update(env)
    try:
        rc, out, err, sec = T.run(0, T.sets_for(d, c, name, **base), args=list(args), timeout=timeout)
    finally:
        for k, v in saved.items():
            if v is None:
                T.ENV.pop(k, None)
            else:
                T.ENV[k] = v
    return rc, out + err, error_lines(out + err), sec


def error_lines(text):
    return [l for l in text.splitlines() if re.match(r"(\[rank \d+\] )?error:", l)]


def one_message(what, text, errors, *needles):
    """exactly one error line, holding every needle; no crash or bare code anywhere"""
    ok = T.check(len(errors) == 1, "%s: one error line (%d)" % (what, len(errors)))
    line = errors[0] if errors else ""
    for n in needles:
        ok &= T.check(re.search(n, line) is not None, "%s: the message says /%s/" % (what, n))
    for bad in ("Segmentation fault", "core dumped", "Aborted", "cudaError", "ncclResult", "internal error"):
        ok &= T.check(bad not in text, "%s: no \"%s\" in the output" % (what, bad))
    if not ok:
        print(T.tail(text, 25))
    print("   %s" % line)


def case_no_gpu(d, c):
    rc, text, errors, _ = run(d, c, "nogpu", {"CUDA_VISIBLE_DEVICES": ""})
    T.check(rc == 1, "no GPU: exit 1 (%d)" % rc)
    one_message("no GPU", text, errors, r"no CUDA device available to rank 0 of 1 on host %s" % re.escape(HOST),
                r"no CUDA-capable device is detected", r"CUDA_VISIBLE_DEVICES=;", r'run\.backend = "cpu"')
    rd = os.path.join(d, "runs", "nogpu")
    T.check(not os.path.exists(rd), "no GPU: no run directory written")


def case_oom_resume(d, c):
    rd = os.path.join(d, "runs", "oom")
    rc, text, _, _ = run(d, c, "oom", {}, args=["--stop-after", "3"])
    T.check(rc == 3 and "ckpt-00000003.h5" in T.ckpts(rd), "preempted run: exit 3 with the step-3 checkpoint "
            "(%d, %s)" % (rc, T.ckpts(rd)))
    before = snapshot(rd)
    # the emulated context keeps 500 MiB; 560 leaves 60: the context's buffers fit, the passes do not
    rc, text, errors, _ = run(d, c, "oom", {"CUDAEMU_MEM_MB": "560"}, args=["--resume", "auto"])
    T.check(rc == 1, "out of GPU memory: exit 1 (%d)" % rc)
    one_message("out of GPU memory", text, errors,
                r"out of GPU memory: \d+ bytes \(\d+\.\d MiB\) for pass \S.* on GPU 0 of host %s \(rank 0 of 1\)"
                % re.escape(HOST), r"which has \d+\.\d MiB free of 560\.0 MiB", r"batch\.groups_per_rank")
    after = snapshot(rd)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    T.check(not changed, "out of GPU memory: the run directory is byte for byte as before (%d files; changed: %s)"
            % (len(before), changed))
    rc, text, _, _ = run(d, c, "oom", {}, args=["--resume", "auto"])
    steps = [x["step"] for x in T.metrics(rd)]
    T.check(rc == 0 and steps == list(range(6)), "the same resume on the whole device finishes: steps %s" % steps)


def one_rank_of_two(d, c, name, what, rank1_env, *needles):
    """two ranks sharing the emulated GPU (ATAS_SHARE_GPU=1, dist.backend mpi), rank 1 alone with
    rank1_env (mpirun -x for its app context): both ranks stop at once, exit 1, and the one
    message is rank 1's - rank 0's "another rank failed" is not printed"""
    sets = T.sets_for(d, c, name, run__steps=6, checkpoint__every=0, run__backend='"cuda"',
                      run__precision='"fp32"', run__peak_tflops=1000, dist__backend='"mpi"')
    cmd = T.cmdline_rank1(sets, [rank1_env])
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(T.ENV, ATAS_SHARE_GPU="1"), timeout=300)
    sec, text = time.time() - t0, r.stdout + r.stderr
    T.check(r.returncode == 1, "%s: exit 1 (%d)" % (what, r.returncode))
    T.check(sec < 60, "%s: both ranks over in %.0f s (< 60)" % (what, sec))
    one_message(what, text, error_lines(text), *needles)


def case_one_rank(d, c):
    # the passes' stage: rank 1's device too small
    one_rank_of_two(d, c, "oom2", "one rank out of GPU memory", "CUDAEMU_MEM_MB=545",
                    r"^\[rank 1\] error: out of GPU memory: \d+ bytes .* for pass .* on GPU 0 of host %s "
                    r"\(rank 1 of 2\)" % re.escape(HOST), r"other ranks of this host may use this GPU too")
    # the backend's stage: rank 1 sees no GPU (before: rank 0 waited out the start-up time-out
    # in the device check's allgather)
    one_rank_of_two(d, c, "nogpu2", "one rank without a GPU", "CUDA_VISIBLE_DEVICES=",
                    r"^\[rank 1\] error: backend \"cuda\": no CUDA device available to rank 1 of 2 on host %s"
                    % re.escape(HOST))


def case_nccl(d, c, name, fault, rc_want, *needles, limit=60):
    rc, text, errors, sec = run(d, c, name, {"CUDAEMU_NCCL_FAULT": fault}, dist__backend='"nccl"',
                                dist__timeout_s=3, checkpoint__every=0)
    T.check(rc == rc_want, "%s: exit %d (%d)" % (fault, rc_want, rc))
    T.check(sec < limit, "%s: over in %.0f s (< %d)" % (fault, sec, limit))
    one_message(fault, text, errors, *needles)


def main():
    T.need_cudaemu()
    d = T.workdir("cudaemu_faults")
    c = T.make_corpus(d)
    where = r"rank 0 of 1, host %s, GPU 0" % re.escape(HOST)
    case_no_gpu(d, c)
    case_oom_resume(d, c)
    case_one_rank(d, c)
    # the second allreduce is step 1's (one bucket per step at tiny's size)
    case_nccl(d, c, "hang", "allreduce:2:hang", 4, r"^error: step 1, gradient allreduce \(NCCL\): ",
              r"NCCL allreduce \(average\) of \d+ floats did not finish within 3 s \(%s" % where,
              r"communicator aborted", r"aborting every rank")
    case_nccl(d, c, "hang_init", "init:1:hang", 4, r"^error: NCCL bootstrap: ",
              r"ncclCommInitRankConfig\) did not finish within 3 s \(%s" % where, r"aborting every rank")
    case_nccl(d, c, "remote", "allreduce:1:error", 1,
              r"NCCL allreduce \(average\) of \d+ floats failed \(%s\): " % where,
              r"remote process exited or there was a network error: cudaemu: a remote error injected")
    T.finish()


main()
