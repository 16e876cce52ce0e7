#!/usr/bin/env python3
"""NCCL between two ranks, each on its own emulated GPU (CUDAEMU_DEVICES=2; the emulated NCCL
meets the ranks in shared memory, docs/cudaemu.md): the trainer's multi-rank NCCL path runs here
as on a 2-GPU node - communicator bootstrap over MPI, gradient buckets reduced with ncclAllReduce
(ncclAvg) as the backward finishes them, teacher broadcast, the device parameter-agreement check.
  train   2 ranks, dist.backend = "nccl", teacher.sync_every = 3, dist.check_every = 2, 10 steps:
          every loss within 1e-4 of the 1-rank cpu run (tools/gpu/compare_losses.awk, the GPU
          check's comparison); comm_bytes and comm_device_ms in every step's metrics; no shared
          memory left behind;
  oom     rank 1's GPU too small for its passes (CUDAEMU_MEM_MB for its app context): both ranks
          stop within seconds (the set-up is agreed on before the NCCL bootstrap's collectives),
          exit 1, one message - rank 1's;
  peer    rank 1 stuck (CUDAEMU_NCCL_FAULT for its app context alone) in the 3rd all-reduce, in the
          first teacher broadcast, at the communicator's set-up: exit 4 within seconds of
          dist.timeout_s, rank 0's message naming step, phase, rank, host and GPU.
Exits 77 when the module is not named (a build without ATAS_WITH_CUDA).
Usage: test_cudaemu_nccl.py"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import trainlib as T  # noqa: E402

CMP = os.path.join(T.SRC, "tools", "gpu", "compare_losses.awk")
HOST = os.uname().nodename


SHM_BEFORE = set()  # another test's live segments are not ours to judge or remove


def shm_left():
    return sorted(f for f in os.listdir("/dev/shm") if f.startswith("cudaemu-nccl-") and f not in SHM_BEFORE)


def nccl2(d, c, name, rank1_env=(), timeout_s=60):
    """two ranks, GPU 0 and 1 of the emulated node; rank1_env: -x NAME=VALUE for rank 1 only"""
    sets = T.sets_for(d, c, name, run__steps=10, checkpoint__every=0, run__backend='"cuda"', run__precision='"fp32"',
                      run__peak_tflops=1000, dist__backend='"nccl"', teacher__sync_every=3, dist__check_every=2,
                      dist__timeout_s=timeout_s)
    cmd = T.cmdline_rank1(sets, rank1_env)
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(T.ENV, CUDAEMU_DEVICES="2"), timeout=600)
    return r.returncode, r.stdout + r.stderr, time.time() - t0, os.path.join(d, "runs", name)


def case_train(d, c):
    rc, text, sec, rd = nccl2(d, c, "nccl2")
    if not T.check(rc == 0, "2 ranks on 2 emulated GPUs with NCCL: exit 0 (%d, %.0f s)" % (rc, sec)):
        print(T.tail(text, 30))
        return
    T.check("dist.backend = nccl" in text, "the run says it reduces with NCCL")
    rc, out, err, _ = T.run(0, T.sets_for(d, c, "cpu", run__steps=10, checkpoint__every=0), timeout=300)
    T.check(rc == 0, "the 1-rank cpu run: exit 0")
    r = subprocess.run(["awk", "-f", CMP, "-v", "tol=1e-4", os.path.join(rd, "metrics.jsonl"),
                        os.path.join(d, "runs", "cpu", "metrics.jsonl")], capture_output=True, text=True)
    print(r.stdout[-400:], r.stderr[-300:])
    T.check(r.returncode == 0, "NCCL on 2 ranks: every loss within 1e-4 of the 1-rank cpu run")
    m = T.metrics(rd)
    T.check(len(m) == 10 and all(x.get("comm_bytes", 0) > 0 and "comm_device_ms" in x for x in m),
            "every step's metrics have comm_bytes > 0 and comm_device_ms")
    T.check(not shm_left(), "no emulated-NCCL shared memory left: %s" % shm_left())


def case_oom(d, c):
    rc, text, sec, _ = nccl2(d, c, "oom", ["CUDAEMU_MEM_MB=545"])
    T.check(rc == 1, "rank 1 out of GPU memory: exit 1 (%d)" % rc)
    T.check(sec < 60, "rank 1 out of GPU memory: every rank over in %.0f s (< 60)" % sec)
    lines = [l for l in text.splitlines() if re.match(r"(\[rank \d+\] )?error:", l)]
    want = r"^\[rank 1\] error: out of GPU memory: \d+ bytes .* for pass .* on GPU 1 of host %s \(rank 1 of 2\)" % (
        re.escape(HOST))
    if not T.check(len(lines) == 1 and re.search(want, lines[0]), "rank 1 out of GPU memory: one message, "
                   "/%s/" % want):
        print(T.tail(text, 20))
    print("   " + (lines[0] if lines else "(no message)"))


def case_peer(d, c, name, fault, phase, what):
    rc, text, sec, _ = nccl2(d, c, name, ["CUDAEMU_NCCL_FAULT=" + fault], timeout_s=3)
    T.check(rc == 4, "%s on rank 1: exit 4 (%d)" % (fault, rc))
    T.check(sec < 60, "%s on rank 1: every rank over in %.0f s (< 60)" % (fault, sec))
    lines = [l for l in text.splitlines() if l.startswith("error:")]
    step = "" if phase == "NCCL bootstrap" else r"step \d+, "  # the set-up has no step yet
    want = r"^error: %s%s: NCCL %s did not finish within 3 s \(rank 0 of 2, host %s, GPU 0; " % (
        step, phase, what, re.escape(HOST))
    if not T.check(len(lines) == 1 and re.search(want, lines[0]) and "aborting every rank" in lines[0],
                   "%s on rank 1: rank 0 says /%s/" % (fault, want)):
        print(T.tail(text, 20))
    for bad in ("Segmentation fault", "core dumped", "ncclResult", "cudaError"):
        T.check(bad not in text, "%s: no \"%s\" in the output" % (fault, bad))
    print("   " + (lines[0] if lines else "(no message)"))


def main():
    T.need_cudaemu()
    SHM_BEFORE.update(f for f in os.listdir("/dev/shm") if f.startswith("cudaemu-nccl-"))
    d = T.workdir("cudaemu_nccl")
    c = T.make_corpus(d)
    case_train(d, c)
    case_oom(d, c)
    case_peer(d, c, "peer_allreduce", "allreduce:3:hang", r"gradient allreduce \(NCCL\)",
              r"allreduce \(average\) of \d+ floats")
    case_peer(d, c, "peer_bcast", "bcast:1:hang", "teacher sync", r"broadcast of \d+ floats from rank 0")
    case_peer(d, c, "peer_init", "init:1:hang", "NCCL bootstrap",
              r"communicator set-up \(ncclCommInitRankConfig\)")
    for f in shm_left():  # a killed rank cannot unlink its segments: not this test's business to leak them
        os.unlink(os.path.join("/dev/shm", f))
    T.finish()


main()
