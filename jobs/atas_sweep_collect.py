#!/usr/bin/python3
"""Collect a node sweep (jobs/atas_sweep.sh) into a table and PNG plots: measured images/s,
step time, weak-scaling efficiency and the allreduce share at every rank count, next to what
tools/perf_model.py predicts from the SMALLEST measured count (its phases = the compute; the
allreduce of its gradient bytes by the alpha-beta model for the larger counts).

    python3 jobs/atas_sweep_collect.py SWEEP_DIR [--skip 5] [--device gpu|cpu] [model inputs]

  --device gpu: NCCL alpha-beta (perf_model.py inputs: --gpus-per-node --nvlink-gbs --nics-per-node
                --nic-gbit ...), overlap window = --window-frac of the measured backward
  --device cpu: MPI over TCP (--cpu-alpha-ms, --cpu-beta-mbs) and --cores per node shared by ranks
Writes SWEEP_DIR/scaling.txt, scaling.json, scaling.png. Exit 1 with a message naming the file
when a run is missing or unreadable."""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import perf_model as PM  # noqa: E402


def die(msg):
    sys.exit("atas_sweep_collect: " + msg)


def load(sweep, skip):
    """[{nodes, ranks, exit, phases, img_s, comm_bytes, steps, run}] of every count of every job"""
    rows = []
    for d in sorted(os.listdir(sweep)):
        if not d.startswith("nodes-"):
            continue
        tsv = os.path.join(sweep, d, "counts.tsv")
        if not os.path.exists(tsv):
            print("atas_sweep_collect: %s: no counts.tsv (job not run or still running): skipped" % os.path.join(sweep, d))
            continue
        with open(tsv) as f:
            for ln, line in enumerate(f, 1):
                t = line.split()
                if len(t) != 3 or not all(x.lstrip("-").isdigit() for x in t):
                    die("%s:%d: expected 'ranks nodes exit', got %r" % (tsv, ln, line.strip()))
                k, n, code = map(int, t)
                rd = os.path.join(sweep, d, "runs", "scale_%d" % k)
                row = dict(job=d, ranks=k, nodes=n, exit=code, run=rd)
                if code != 0:
                    row["error"] = "exit %d (%s)" % (code, os.path.join(sweep, d, "ranks-%d.log" % k))
                    rows.append(row)
                    continue
                try:
                    ph, cb, ms = PM.run_phases(rd, skip)
                except (OSError, ValueError, KeyError) as e:
                    die("%s/metrics.jsonl: %s" % (rd, e))
                except SystemExit as e:
                    die(str(e))
                row.update(phases=ph, comm_bytes=cb, steps=len(ms),
                           img_s=sum(x["images_per_s"] for x in ms) / len(ms),
                           hidden=sum(x.get("comm_hidden_frac", 0) for x in ms) / len(ms))
                rows.append(row)
    if not any("phases" in r for r in rows):
        die("%s: no measured run (nodes-*/counts.tsv + runs/scale_K/metrics.jsonl)" % sweep)
    return rows


def predict(base, r, a):
    """predicted step ms at r's ranks/nodes from the base run's phases"""
    ph = base["phases"]
    k, n = r["ranks"], r["nodes"]
    if a.device == "cpu":
        def share(ranks, nodes):  # cores shared when a node's ranks x threads exceed its cores
            per = ranks if a.nodes_share_cores else ranks / nodes
            return max(1.0, per * a.threads / a.cores)
        one = {key: v / share(base["ranks"], base["nodes"]) for key, v in ph.items()}
        net = dict(alpha_ms=a.cpu_alpha_ms, beta_bytes_per_ms=a.cpu_beta_mbs * 1e3)
        s = share(k, n)
        # everything but the allreduce wait (and checkpoints) is this rank's own work
        compute = one["step"] - one["comm"] - one.get("checkpoint", 0.0)
        comm = PM.cpu_step_ms(one, k, k, 1, r["comm_bytes"], net)[2]  # unshared alpha-beta time
        return (compute + comm) * s, comm * s
    compute = ph["step"] - ph["comm"] - ph.get("checkpoint", 0.0)
    hw = PM.hw_of(a)
    exposed, busy, _, _ = PM.buckets_exposed(r["comm_bytes"], a.bucket_mb * 2 ** 20, k, hw,
                                             ph["backward"] * a.window_frac)
    return compute + exposed, busy


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sweep")
    p.add_argument("--skip", type=int, default=5, help="warm-up steps left out of every average")
    p.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    p.add_argument("--window-frac", type=float, default=0.8,
                   help="share of ms.backward that overlaps the allreduce: the mosaic pass's backward "
                        "(0.83 for ATAS B/16, 0.81 for L/14 by the model's per-op composition)")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cpu: cores per node")
    p.add_argument("--threads", type=int, default=1, help="cpu: threads per rank")
    p.add_argument("--nodes-share-cores", action="store_true",
                   help="cpu: the nodes are simulated on one machine (tools/netns_cluster.sh): --cores is shared by all")
    p.add_argument("--cpu-alpha-ms", type=float, default=0.05)
    p.add_argument("--cpu-beta-mbs", type=float, default=1000.0)
    p.add_argument("--title", default="")
    PM.add_inputs(p)
    a = p.parse_args()
    if not os.path.isdir(a.sweep):
        die("%s: not a directory" % a.sweep)
    rows = load(a.sweep, a.skip)
    ok = sorted((r for r in rows if "phases" in r), key=lambda r: (r["ranks"], r["nodes"]))
    base = ok[0]
    for r in ok:
        r["step_ms"] = r["phases"]["step"]
        r["per_rank"] = r["img_s"] / r["ranks"]
        r["eff"] = r["per_rank"] / (base["img_s"] / base["ranks"])
        r["pred_ms"], r["pred_comm"] = predict(base, r, a)
        r["pred_eff"] = (base["step_ms"] / r["pred_ms"]) if r is not base else 1.0
        r["err"] = (r["pred_ms"] - r["step_ms"]) / r["step_ms"]
    lines = ["# atas sweep %s: weak scaling, %d warm-up steps left out; efficiency = images/s per rank over "
             "that of %d rank(s) on %d node(s)" % (a.sweep, a.skip, base["ranks"], base["nodes"]),
             "# prediction (tools/perf_model.py, --device %s): the phases of the smallest run + the modelled "
             "allreduce%s" % (a.device, " (cores shared by the ranks of a node)" if a.device == "cpu" else ""),
             "# %5s %5s %10s %10s %10s %8s %10s %10s %8s %8s %8s" % (
                 "nodes", "ranks", "img/s", "step_ms", "comm_ms", "eff", "pred_ms", "pred_comm", "pred_eff",
                 "error", "hidden")]
    for r in sorted(rows, key=lambda r: (r["ranks"], r["nodes"])):
        if "phases" not in r:
            lines.append("  %5d %5d  FAILED: %s" % (r["nodes"], r["ranks"], r["error"]))
            continue
        lines.append("  %5d %5d %10.1f %10.1f %10.2f %8.3f %10.1f %10.2f %8.3f %+7.1f%% %8.2f" % (
            r["nodes"], r["ranks"], r["img_s"], r["step_ms"], r["phases"]["comm"], r["eff"], r["pred_ms"],
            r["pred_comm"], r["pred_eff"], 100 * r["err"], r["hidden"]))
    errs = [abs(r["err"]) for r in ok if r is not base]
    if errs:
        lines.append("# prediction error over %d point(s): mean |error| %.1f%%, worst %.1f%%" % (
            len(errs), 100 * sum(errs) / len(errs), 100 * max(errs)))
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(a.sweep, "scaling.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(a.sweep, "scaling.json"), "w") as f:
        json.dump([{k: v for k, v in r.items() if k != "phases"} for r in rows], f, indent=1)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# matplotlib missing: no plot")
        return
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2))
    # measured: every run a point (a count may have been measured in several jobs); model: a line
    x = [r["ranks"] for r in ok]
    uniq = sorted({(r["ranks"], r["nodes"]): r for r in ok}.values(), key=lambda r: (r["ranks"], r["nodes"]))
    ux = [r["ranks"] for r in uniq]
    ax[0].plot(x, [r["img_s"] for r in ok], "o", label="measured")
    ax[0].plot(ux, [r["ranks"] * base["img_s"] / base["ranks"] * base["step_ms"] / r["pred_ms"] for r in uniq],
               "s--", label="model")
    ax[1].plot(x, [r["eff"] for r in ok], "o", label="measured")
    ax[1].plot(ux, [r["pred_eff"] for r in uniq], "s--", label="model")
    ax[2].plot(x, [r["step_ms"] for r in ok], "o", label="measured step")
    ax[2].plot(ux, [r["pred_ms"] for r in uniq], "s--", label="model step")
    ax[2].plot(x, [r["phases"]["comm"] for r in ok], "^", label="measured allreduce wait")
    ax[0].set(xlabel="ranks", ylabel="images/s", title="throughput")
    ax[1].set(xlabel="ranks", ylabel="per-rank throughput / smallest run", title="weak-scaling efficiency",
              ylim=(0, 1.1))
    ax[2].set(xlabel="ranks", ylabel="ms", title="step time")
    for axx in ax:
        axx.set_xscale("log", base=2)
        axx.set_xticks(sorted(set(x)))
        axx.set_xticklabels([str(v) for v in sorted(set(x))])
        axx.grid(alpha=0.3)
        axx.legend(fontsize=8)
    fig.suptitle(a.title or "atas sweep %s (%s)" % (os.path.basename(os.path.abspath(a.sweep)), a.device))
    fig.tight_layout()
    fig.savefig(os.path.join(a.sweep, "scaling.png"), dpi=100)
    print("# plot: %s" % os.path.join(a.sweep, "scaling.png"))


if __name__ == "__main__":
    main()
