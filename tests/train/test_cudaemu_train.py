#!/usr/bin/env python3
"""The trainer's CUDA path on the CPU: configs/tiny.cfg with run.backend = "cuda" through the
emulated module (ATAS_CUDA_LIB = libatas_cudaemu.so, docs/cudaemu.md) against the cpu backend,
the GPU check's cmp_cuda_cpu and drift steps run here:
  fp32  10 steps: every loss (g2l, l2l, g2g, total) within 1e-4 at every step
        (tools/gpu/compare_losses.awk, the GPU check's own comparison); per step the host->
        device bytes are the next batch's images (double-buffered: step 0 also its own) plus
        the mosaic cell tables, and device->host at most 4 KiB (docs/step_device.md);
  bf16  30 steps against cpu fp32: the total loss differs (bf16 is applied) and stays within
        the drift bound of docs/results/bf16_drift_cpu.md (1e-2).
run.peak_tflops is set: the 8192^3 gemm_peak of a device would take hours on the emulated GEMM.
Exits 77 when the module is not named (a build without ATAS_WITH_CUDA).
Usage: test_cudaemu_train.py"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import trainlib as T  # noqa: E402

DRIFT_BOUND = 1e-2  # docs/results/bf16_drift_cpu.md, train_precision_drift
CMP = os.path.join(T.SRC, "tools", "gpu", "compare_losses.awk")


def train(d, c, name, backend, precision, steps):
    rc, out, err, sec = T.run(0, T.sets_for(d, c, name, run__steps=steps, checkpoint__every=0,
                                            run__backend='"%s"' % backend, run__precision='"%s"' % precision,
                                            run__peak_tflops=1000), timeout=900)
    T.check(rc == 0, "%s at %s, %d steps: exit 0 (%.0f s)" % (backend, precision, steps, sec))
    if rc != 0:
        print(T.tail(out + err, 30))
        T.finish()
    if backend == "cuda":
        T.check("cudaemu" in out + err, "the run names the emulated device")
    return os.path.join(d, "runs", name)


def main():
    T.need_cudaemu()
    d = T.workdir("cudaemu_train")
    c = T.make_corpus(d)
    cpu10, cuda10 = train(d, c, "cpu10", "cpu", "fp32", 10), train(d, c, "cuda10", "cuda", "fp32", 10)
    r = subprocess.run(["awk", "-f", CMP, "-v", "tol=1e-4", os.path.join(cuda10, "metrics.jsonl"),
                        os.path.join(cpu10, "metrics.jsonl")], capture_output=True, text=True)
    print(r.stdout[-1500:], r.stderr[-500:])
    T.check(r.returncode == 0, "fp32: cuda (emulated) losses within 1e-4 of cpu at every step")
    m = T.metrics(cuda10)
    groups, imgs, per_group, R, C = 2, 4, 1, 64, 128  # configs/tiny.cfg
    inputs = 4 * groups * (imgs * 3 * R * R + per_group * 3 * C * C)
    for x in m[:-1]:  # the last step has no next batch
        batches = 2 if x["step"] == 0 else 1
        extra = x["bytes_h2d"] - batches * inputs
        T.check(0 < extra <= 2 * 16 * 20 + (1024 if x["step"] == 0 else 0),
                "step %d: h2d %d = %d x images %d + cell tables" % (x["step"], x["bytes_h2d"], batches, inputs))
        T.check(x["bytes_d2h"] <= 4096, "step %d: d2h %d bytes <= 4 KiB" % (x["step"], x["bytes_d2h"]))
    cpu30, cuda30 = train(d, c, "cpu30", "cpu", "fp32", 30), train(d, c, "bf16", "cuda", "bf16", 30)
    a = [x["total"] for x in T.metrics(cpu30)]
    b = [x["total"] for x in T.metrics(cuda30)]
    drift = max(abs(y - x) / max(abs(x), 1e-12) for x, y in zip(a, b))
    print("bf16 (emulated cuda) vs fp32 (cpu), 30 steps: max relative drift of the total %.3e" % drift)
    T.check(len(a) == len(b) == 30 and 0 < drift <= DRIFT_BOUND,
            "bf16 drift %.3e in (0, %.0e]" % (drift, DRIFT_BOUND))
    T.finish()


main()
