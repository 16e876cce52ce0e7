"""tools/perf_model.py against independent numbers: FLOPs against ATAS-METHOD.md, the trainable
parameter count against a real atas_mpi checkpoint, the alpha-beta allreduce and the overlap
against hand-computed cases, the compute composition against the measured ViT rows of
docs/results/bench_*.txt, and the command line (table, PNG, clear errors)."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import trainlib as T  # noqa: E402
import perf_model as PM  # noqa: E402

B16, L14 = PM.MODELS["vitb16"], PM.MODELS["vitl14"]


def close(a, b, rel):
    return abs(a - b) <= rel * abs(b)


# FLOPs: "A B/16 forward at 960x960 (3601 tokens) is ~1.2 TFLOP, half of it in attention"
g, at, pe = PM.pass_flops(B16, 1, PM.tokens(B16, 960))
T.check(PM.tokens(B16, 960) == 3601, "B/16 at 960: 3601 tokens")
T.check(close(g + at + pe, 1.2e12, 0.1), "B/16 forward at 960: %.3g FLOP ~ 1.2 TFLOP" % (g + at + pe))
T.check(0.4 < at / (g + at + pe) < 0.6, "B/16 at 960: attention is about half (%.2f)" % (at / (g + at + pe)))
T.check(close(g, 12 * 24 * 3601 * 768 ** 2, 1e-12), "GEMM FLOPs = L * 24 N D^2 when MLP = 4D")

# trainable parameters: the blocks of a real checkpoint (tiny.cfg trains every tensor)
d = T.workdir("perfmodel")
c = T.make_corpus(d, n=8)
rc, out, err, _ = T.run(0, T.sets_for(d, c, "one", run__steps=1, checkpoint__every=1, optim__warmup_steps=1))
T.check(rc == 0, "tiny 1-step run")
W = T.load_group(T.ckpt_path(os.path.join(d, "runs", "one"), 1))
blocks = sum(v.size for k, v in W.items() if "resblocks" in k)
tiny = dict(name="tiny", P=8, D=64, L=3, mlp=256, res=64, canvas=128)
T.check(PM.trainable_params(tiny) == blocks, "block parameters: model %d = checkpoint %d" % (PM.trainable_params(tiny), blocks))
T.check(close(PM.trainable_params(L14), 302.3e6, 0.01), "L/14 blocks: %.1f M parameters" % (PM.trainable_params(L14) / 1e6))

# alpha-beta allreduce, by hand
hw = dict(gpus_per_node=8, nvlink_gbs=360.0, net_gbs=180.0, alpha_base_us=10.0, alpha_intra_us=1.0, alpha_inter_us=5.0)
ms, algo, lat = PM.allreduce_ms(1e9, 8, hw)
T.check(algo == "ring" and close(ms, (10 + 14 * 1.0) * 1e-3 + 2 * 7 / 8 * 1e9 / 360e9 * 1e3, 1e-9),
        "1 node x 8: ring, %.4f ms" % ms)
ms, algo, lat = PM.allreduce_ms(1e9, 16, hw)
ring = (10 + 28 * 1.0 + 2 * 5.0) * 1e-3 + 2 * 15 / 16 * 1e9 / 180e9 * 1e3
tree = (10 + 2 * (7 * 1.0 + 1 * 5.0)) * 1e-3 + 2 * 1e9 / (0.92 * 180e9) * 1e3
T.check(close(ms, min(ring, tree), 1e-9) and algo == ("ring" if ring < tree else "tree"),
        "2 nodes x 8: min(ring %.3f, tree %.3f) = %.3f ms (%s)" % (ring, tree, ms, algo))
ms, algo, _ = PM.allreduce_ms(1e5, 512, hw)
T.check(algo == "tree", "512 GPUs, 100 kB: the tree's log latency wins")
T.check(PM.allreduce_ms(1e9, 1, hw)[0] == 0, "1 GPU: no allreduce")

# overlap: a long window hides all but the last bucket; no window exposes everything
S = 100 * 2 ** 20
one = PM.allreduce_ms(25 * 2 ** 20, 16, hw)[0]
e, busy, _, _ = PM.buckets_exposed(S, 25 * 2 ** 20, 16, hw, 1000.0)
T.check(close(e, one, 1e-9) and close(busy, 4 * one, 1e-9), "long window: the last bucket is exposed (%.3f ms)" % e)
e, busy, _, _ = PM.buckets_exposed(S, 25 * 2 ** 20, 16, hw, 0.0)
T.check(close(e, busy, 1e-9), "no window: the whole allreduce is exposed")

# the compute model against every measured ViT row it did not calibrate on
pts = PM.validate(PM.main.__globals__["argparse"].Namespace(
    bench_cuda=os.path.join(T.SRC, "docs", "results", "bench_cuda.txt"),
    bench_cpu=os.path.join(T.SRC, "docs", "results", "bench_cpu.txt"), sweep_tables=[], out=""))
comp = [p for p in pts if p["kind"] == "compute"]
T.check(len(comp) == 4, "4 measured ViT rows predicted (2 GPU, 2 CPU)")
T.check(all(abs(p["err"]) < 0.05 for p in comp), "every ViT row within 5%% (%s)" %
        ", ".join("%+.1f%%" % (100 * p["err"]) for p in comp))

# the collector's GPU prediction on a made-up sweep: 8 ranks on 1 node, 16 on 2 nodes
with tempfile.TemporaryDirectory() as sw:
    import json
    phases = dict(data_wait=0.5, teacher_fwd=5.0, student_fwd=15.0, loss=1.0, backward=30.0, comm=2.0,
                  optimizer=3.0, checkpoint=0.0, step=56.5)
    nbytes = 4 * PM.trainable_params(L14)
    for n, k in ((1, 8), (2, 16)):
        rd = os.path.join(sw, "nodes-%d" % n, "runs", "scale_%d" % k)
        os.makedirs(rd)
        with open(os.path.join(sw, "nodes-%d" % n, "counts.tsv"), "w") as f:
            f.write("%d\t%d\t0\n" % (k, n))
        with open(os.path.join(rd, "metrics.jsonl"), "w") as f:
            for st in range(8):
                f.write(json.dumps(dict(step=st, images_per_s=8 * k / 0.0565, ms=phases, comm_bytes=nbytes,
                                        comm_hidden_frac=0.5)) + "\n")
    col = os.path.join(T.SRC, "jobs", "atas_sweep_collect.py")
    r = subprocess.run([sys.executable, col, sw, "--device", "gpu"], capture_output=True, text=True)
    T.check(r.returncode == 0, "collector --device gpu: exit 0 %s" % r.stderr[-300:])
    row = [l.split() for l in r.stdout.splitlines() if l.startswith("      2    16")]
    hwd = dict(gpus_per_node=8, nvlink_gbs=360.0, net_gbs=4 * 400 / 8 * 0.9, alpha_base_us=10.0, alpha_intra_us=1.0,
               alpha_inter_us=5.0)
    want = 56.5 - 2.0 + PM.buckets_exposed(nbytes, 25 * 2 ** 20, 16, hwd, 30.0 * 0.8)[0]
    T.check(bool(row) and abs(float(row[0][6]) - want) < 0.06,
            "collector: 16 GPUs predicted %s ms = compute + exposed allreduce %.1f ms" % (row[0][6] if row else "?", want))
    T.check(os.path.getsize(os.path.join(sw, "scaling.png")) > 10000, "collector: PNG written")

# the command line
tool = os.path.join(T.SRC, "tools", "perf_model.py")
with tempfile.TemporaryDirectory() as o:
    r = subprocess.run([sys.executable, tool, "project", "--gpus", "1,8,64", "--out", o], capture_output=True, text=True)
    T.check(r.returncode == 0, "project: exit 0 %s" % r.stderr[-300:])
    T.check(os.path.getsize(os.path.join(o, "projection.png")) > 10000, "project: PNG written")
    rows = [l for l in r.stdout.splitlines() if l.startswith("  ViT-")]
    T.check(len(rows) == 6, "project: 2 models x 3 sizes")
    T.check(all("inputs" in r.stdout for _ in [0]) and "4 x 400 Gbit/s" in r.stdout, "project: inputs stated")
r = subprocess.run([sys.executable, tool, "project", "--gpus", "8,x"], capture_output=True, text=True)
T.check(r.returncode == 2 and "--gpus" in r.stderr, "bad --gpus: exit 2 naming the flag")
r = subprocess.run([sys.executable, tool, "project", "--bench", "/nonexistent.txt"], capture_output=True, text=True)
T.check(r.returncode == 2 and "/nonexistent.txt" in r.stderr, "missing --bench file: exit 2 naming it")
T.finish()
