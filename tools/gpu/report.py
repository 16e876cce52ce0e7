#!/usr/bin/env python3
"""The GPU check's results as a docs/results page: issue 10's and 11's "done when" criteria, each
with the number the check measured, its bound and a verdict, then the check's own tables.

Reads what tools/gpu_check.sh leaves in its output folder (the device tool's files_at):
summary.txt, NN_<step>.log, metrics/<run>.jsonl. Runs here, not on the GPU machine.

  python3 tools/gpu/report.py OUT [-o docs/results/gpu_check_<device>_<date>.md]
      [--attention "B1 T4097 H16 hd64"] [--step-model ViT-L-14]

--attention and --step-model pick the op-table row and the step-table model the two speed
criteria read (the defaults are issue 11's: ViT-L/14's mosaic attention and step); the emulated
check's test points them at its --quick shapes to exercise the parsing.

Verdicts: MET, NOT MET, NOT RUN (the step did not run or printed no such number). Exit 0 when
the page was written, whatever the verdicts; 2 on bad usage (no summary.txt)."""
import glob
import json
import os
import re
import sys


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Check:
    def __init__(self, out):
        self.out = out
        self.summary = read(os.path.join(out, "summary.txt"))
        self.steps = {}  # name -> (result, seconds, note)
        for line in self.summary.splitlines():
            m = re.match(r"^(\S+)\s+(PASS|FAIL|SKIPPED|INFO)\s+([\d.]+)\s*(.*)$", line)
            if m:
                self.steps[m.group(1)] = (m.group(2), m.group(3), m.group(4).strip())

    def log(self, step):
        logs = sorted(glob.glob(os.path.join(self.out, "[0-9][0-9]_%s.log" % step)))
        return read(logs[-1]) if logs else ""

    def result(self, step):
        return self.steps.get(step, ("NOT RUN", "", ""))

    def metrics(self, run):
        text = read(os.path.join(self.out, "metrics", run + ".jsonl"))
        recs = []
        for line in text.splitlines():
            try:
                recs.append(json.loads(line))
            except ValueError:
                pass
        return recs


def verdict(ok):
    return "NOT RUN" if ok is None else ("MET" if ok else "NOT MET")


def step_row(c, step, what):
    r, sec, note = c.result(step)
    ok = None if r in ("NOT RUN", "SKIPPED") else r == "PASS"
    return (what, "%s%s" % (r, (": " + note) if note else ""), "PASS", verdict(ok))


def worst_error(c, step, bound):
    r, _, note = c.result(step)
    m = re.search(r"worst loss error ([\d.eE+-]+)", note)
    if not m:
        return ("n/a" if r == "NOT RUN" else r), None
    v = float(m.group(1))
    return "%.2e (%s)" % (v, r), v <= bound and r == "PASS"


def tiny_input_bytes():
    """one step's images of configs/tiny.cfg (the check's tiny runs), fp32: views + mosaics"""
    cfg = read(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "tiny.cfg"))
    k = {}
    for key in ("groups", "group_images", "resolution", "per_group", "canvas"):
        m = re.search(r"^\s*%s\s*=\s*(\d+)\s*;" % key, cfg, re.M)
        if not m:
            return None
        k[key] = int(m.group(1))
    return 4 * k["groups"] * (k["group_images"] * 3 * k["resolution"] ** 2 + k["per_group"] * 3 * k["canvas"] ** 2)


def transfers(c, run):
    """(h2d per step, d2h per step) of a run's metrics"""
    m = c.metrics(run)
    return [x.get("bytes_h2d") for x in m], [x.get("bytes_d2h") for x in m]


def bench_value(text, row_re, col):
    """a column of the first table row matching row_re (columns split on 2+ spaces or 1 space)"""
    for line in text.splitlines():
        if re.match(row_re, line):
            cols = line.split()
            try:
                return float(cols[col])
            except (IndexError, ValueError):
                return None
    return None


def step_table_value(text, model, column):
    """the `column` of the bench's ATAS step row for `model` (its header names the columns)"""
    header = None
    for line in text.splitlines():
        if line.startswith("# model") and "MFU_%" in line:
            header = line[1:].split()
        elif header and line.split() and line.split()[0] == model:
            cols = line.split()
            if column in header and header.index(column) < len(cols):
                try:
                    return float(cols[header.index(column)])
                except ValueError:
                    return None
    return None


def table(rows, head):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def report(c, att_shape="B1 T4097 H16 hd64", step_model="ViT-L-14"):
    facts = c.log("facts")
    # nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
    gpu = re.search(r"^([^,\n]+), *([\d.]+), *([^,\n]+), *([\d.]+)\s*$", facts, re.M)
    head = re.search(r"^# gpu_check (\S+) on (\S+): ?(.*)$", c.summary, re.M)
    bundle = re.search(r"^# bundle ([^,\s]+)", c.summary, re.M)
    date = head.group(1) if head else "?"
    device = gpu.group(1).strip() if gpu else (head.group(3).strip() if head and head.group(3).strip() else "no GPU named")
    lines = ["# GPU check: %s, %s" % (device, date[:10]), ""]
    lines.append("Machine %s; %s; bundle %s; written by tools/gpu/report.py from the check's output (%s)."
                 % (head.group(2) if head else "?",
                    "driver %s, %s, compute capability %s" % (gpu.group(2), gpu.group(3).strip(), gpu.group(4))
                    if gpu else "driver not reported", bundle.group(1) if bundle else "?", c.out))
    lines.append("")

    # ---- issue 10
    rows = []
    s, ok = worst_error(c, "cmp_cuda_cpu", 1e-4)
    rows.append(("tiny on cuda against cpu, 10 steps: every loss", s, "<= 1e-4 relative", verdict(ok)))
    h2d, d2h = transfers(c, "train_cuda")
    if len(h2d) > 2 and all(v is not None for v in h2d + d2h):
        # steps 1 .. n-2: the next batch's images plus the mosaic cell tables (step 0 also
        # uploads its own batch; the last takes no next batch and downloads the final checkpoint)
        imgs = tiny_input_bytes()
        mid, dmid = h2d[1:-1], d2h[:-1]
        extra = [v - imgs for v in mid] if imgs else []
        ok = bool(extra) and all(0 < e <= 2048 for e in extra)
        rows.append(("host->device bytes per step = the inputs (steps 1..n-2: images %s B + cell tables)"
                     % (imgs or "?"), "%d .. %d" % (min(mid), max(mid)), "images + <= 2 KiB of cell tables",
                     verdict(ok if imgs else None)))
        rows.append(("device->host bytes per step (all but the last, which saves the final checkpoint)",
                     "max %d" % max(dmid), "<= 4096", verdict(max(dmid) <= 4096)))
    else:
        rows.append(("bytes per step (train_cuda)", "n/a", "inputs up, <= 4 KiB down", "NOT RUN"))
    for step, what in (("parity_cuda", "op parity, fp32"), ("mpi2_cuda", "two MPI ranks sharing the GPU"),
                       ("nccl1", "NCCL, one rank"), ("nccl2", "NCCL, two ranks (or the one-GPU refusals)"),
                       ("bad_input", "no GPU / out of GPU memory: one clear message"),
                       ("vitb16_cuda", "a ViT-B/16 training step"),
                       ("memcheck_parity", "compute-sanitizer: parity"), ("memcheck_train", "compute-sanitizer: a step"),
                       ("memcheck_parity_bf16", "compute-sanitizer: parity at bf16 (fused attention)")):
        rows.append(step_row(c, step, what))
    lines += ["## Issue 10: the GPU-native step", "", table(rows, ("criterion", "measured", "bound", "verdict")), ""]

    # ---- issue 11
    rows = []
    for step, what in (("parity_cuda_bf16", "op parity, bf16"), ("parity_cuda_tf32", "op parity, tf32")):
        rows.append(step_row(c, step, what))
    # the step's note is the bf16 run's global line (gpu_check.sh)
    m = re.search(r"global embeddings: min cosine ([\d.]+)", c.result("parity_model")[2])
    cos = float(m.group(1)) if m else None
    rows.append(("ViT-B/16 global embeddings, random weights, bf16 against cpu fp32", "%.7f" % cos if cos else "n/a",
                 ">= 0.9999", verdict(None if cos is None else cos >= 0.9999)))
    s, ok = worst_error(c, "drift_cuda_bf16", 1e-2)
    rows.append(("tiny trained at bf16 on the GPU against fp32 on the CPU, 30 steps: total loss", s,
                 "<= 1e-2 (the CPU emulation's bound)", verdict(ok)))
    ops, noflash, bench = c.log("bench_ops_bf16"), c.log("bench_ops_bf16_noflash"), c.log("bench_cuda")
    att = r"^attention_fwd\s+%s\s" % re.escape(att_shape).replace("\\ ", "\\s+")
    col = 1 + len(att_shape.split()) + 1  # op, the shape's words, ms, GFLOP/s
    fl = bench_value(ops, att, col)
    nf = bench_value(noflash, att, col)
    rows.append(("fused attention forward, %s (bf16)" % att_shape,
                 "%.1f TFLOP/s%s" % (fl / 1e3, " (unfused: %.1f)" % (nf / 1e3) if nf is not None else "")
                 if fl is not None else "n/a",
                 ">= 300 TFLOP/s", verdict(None if fl is None else fl / 1e3 >= 300)))
    mfu = step_table_value(bench, step_model, "MFU_%")
    rows.append(("%s ATAS step MFU%s" % (step_model, " (8 views at 224 + one 896 mosaic per group)"
                                          if step_model == "ViT-L-14" else ""),
                 "%.1f%%" % mfu if mfu is not None else "n/a", ">= 40% (goal 50%)",
                 verdict(None if mfu is None else mfu >= 40)))
    nostore = step_table_value(c.log("bench_step_nostore"), step_model, "MFU_%")
    rows.append(("%s ATAS step MFU without bf16 storage (ATAS_BF16_STORAGE=0)" % step_model,
                 "%.1f%%" % nostore if nostore is not None else "n/a", "(no bound: the storage's gain)",
                 "-" if nostore is not None else "NOT RUN"))
    mfu_b = step_table_value(bench, "ViT-B-16", "MFU_%")  # the row is named for the config's preset,
    if mfu_b is None:
        mfu_b = step_table_value(bench, "vitb16", "MFU_%")  # or for the config file without one
    rows.append(("ViT-B/16 ATAS step MFU (8 views at 224 + one 960 mosaic per group)",
                 "%.1f%%" % mfu_b if mfu_b is not None else "n/a", "(no bound)", "-" if mfu_b is not None else "NOT RUN"))
    lines += ["## Issue 11: bf16 and fused attention", "", table(rows, ("criterion", "measured", "bound", "verdict")), ""]

    # ---- the check's own output
    lines += ["## The check's summary", "", "```", c.summary.rstrip(), "```", ""]
    for step, title in (("bench_ops_bf16", "Op table at bf16 (with the fused attention)"),
                        ("bench_ops_bf16_noflash", "Op table at bf16, ATAS_NO_FLASH=1"),
                        ("bench_cuda", "atas_bench --backend cuda"),
                        ("bench_step_nostore", "The ViT-L/14 step without bf16 storage"),
                        ("parity_model", "Model parity")):
        text = c.log(step)
        body = [l for l in text.splitlines() if not l.startswith("== [") and not l.startswith("   |")]
        if body:
            lines += ["## %s (%s)" % (title, step), "", "```", "\n".join(body).rstrip(), "```", ""]
    return "\n".join(lines)


def main(argv):
    args, out, opts = [], None, {}
    i = 0
    while i < len(argv):
        if argv[i] in ("-o", "--attention", "--step-model") and i + 1 < len(argv):
            if argv[i] == "-o":
                out = argv[i + 1]
            else:
                opts["att_shape" if argv[i] == "--attention" else "step_model"] = argv[i + 1]
            i += 2
            continue
        if argv[i] in ("-h", "--help"):
            print(__doc__)
            return 0
        args.append(argv[i])
        i += 1
    if len(args) != 1 or not os.path.isfile(os.path.join(args[0], "summary.txt")):
        sys.stderr.write("report.py: expected the GPU check's output folder (with summary.txt); got %s\n" % args)
        return 2
    text = report(Check(args[0]), **opts)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
        print("report.py: wrote %s" % out)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
