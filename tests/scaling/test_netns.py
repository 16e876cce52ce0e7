"""Multi-node training on a cluster simulated with network namespaces (tools/netns_cluster.sh).
Run through the script, which sets the cluster up and always tears it down:
    tools/netns_cluster.sh run 2 python3 tests/scaling/test_netns.py mpi|slurm
  mpi:   atas_mpi on 2 nodes x 1 rank and 2 nodes x 2 ranks under mpirun (hostfile, launch agent
         into the namespaces, TCP on the veths only) = the 1-rank trajectory (losses of every
         step, grad norms, final student and teacher); the gradient bytes really crossed the
         veth of node n1.
  slurm: one slurmd per node; `sbatch -N 2 jobs/atas_train.sbatch` trains on both nodes, a job
         of the "high" partition preempts it mid-run (USR1 -> checkpoint -> exit 3 -> requeue),
         it resumes on 2 nodes and ends at the 1-rank trajectory."""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import trainlib as T  # noqa: E402
from test_trainer import LOSSES, loss_close, weights_close  # noqa: E402

NC = os.path.join(T.SRC, "tools", "netns_cluster.sh")
STEPS = 8
SLURM_STEPS = 120  # long enough (10-100 ms a step over TCP) for the preemption to land mid-run


def nc(*args, timeout=120, check=True, env=None):
    r = subprocess.run([NC] + list(args), capture_output=True, text=True, env=dict(T.ENV, **(env or {})),
                       timeout=timeout)
    if check and r.returncode != 0:
        print(r.stdout[-3000:], r.stderr[-3000:])
        raise SystemExit("netns_cluster.sh %s failed (exit %d)" % (" ".join(args[:2]), r.returncode))
    return r


def tx_bytes(node):
    """bytes eth0 of `node` has sent (/proc/net/dev is per network namespace)"""
    for line in nc("exec", node, "cat", "/proc/net/dev").stdout.splitlines():
        if line.strip().startswith("eth0:"):
            return int(line.split(":", 1)[1].split()[8])
    raise SystemExit("no eth0 in node %s" % node)


def reference(d, c, common, steps=STEPS):
    """The 1-rank trajectory, in the root namespace without mpirun."""
    rc, out, err, _ = T.run(0, T.sets_for(d, c, "ref", **common))
    if not T.check(rc == 0, "1 rank: exit 0"):
        print(T.tail(out), T.tail(err, 30))
    rd = os.path.join(d, "runs", "ref")
    return (T.metrics(rd), T.load_group(T.ckpt_path(rd, steps)), T.load_group(T.ckpt_path(rd, steps), "teacher"))


def compare(ref, rd, what, nranks, steps=STEPS):
    M1, W1, TW1 = ref
    M = T.metrics(rd)
    T.check([m["step"] for m in M] == list(range(steps)), "%s: steps 0..%d logged once each" % (what, steps - 1))
    bad = [(a["step"], k, a[k], b[k]) for a, b in zip(M1, M) for k in LOSSES if not loss_close(a[k], b[k])]
    T.check(not bad and len(M) == len(M1), "%s: every loss of every step within 1e-5 of 1 rank %s" % (what, bad[:3]))
    T.check(all(abs(a["grad_norm"] - b["grad_norm"]) <= 1e-4 * a["grad_norm"] for a, b in zip(M1, M)),
            "%s: grad norms within 1e-4 of 1 rank" % what)
    lr_sum = sum(m["lr"] for m in M1)
    ck = T.ckpt_path(rd, steps)
    if not T.check(os.path.exists(ck), "%s: final checkpoint %s" % (what, ck)):
        return M
    weights_close(W1, T.load_group(ck), lr_sum, what=what + ", student")
    weights_close(TW1, T.load_group(ck, "teacher"), lr_sum, what=what + ", teacher")
    T.check(T.attrs(ck)["world_size"] == nranks, "%s: checkpoint written by %d ranks" % (what, nranks))
    return M


def case_mpi():
    d = T.workdir("netns_mpi")
    c = T.make_corpus(d)
    common = dict(run__steps=STEPS, batch__groups=4, checkpoint__every=0)
    ref = reference(d, c, common)
    nparams = sum(v.size for v in ref[1].values())
    for per_node in (1, 2):
        n = 2 * per_node
        name = "nodes2x%d" % per_node
        argv = ["-n", str(n), "--map-by", "ppr:%d:node" % per_node, "--display-map", T.ATAS_MPI, T.TINY]
        for s in T.sets_for(d, c, name, **common):
            argv += ["--set", s]
        tx0 = tx_bytes("n1")
        t0 = time.time()
        r = nc("mpirun", *argv, timeout=300, check=False)
        if not T.check(r.returncode == 0, "2 nodes x %d rank(s): exit 0 (%.1f s)" % (per_node, time.time() - t0)):
            print(T.tail(r.stdout, 30), T.tail(r.stderr, 30))
            continue
        sent = tx_bytes("n1") - tx0
        T.check("Data for node: n0" in r.stdout and "Data for node: n1" in r.stdout,
                "2 nodes x %d: mpirun placed ranks on n0 and n1" % per_node)
        M = compare(ref, os.path.join(d, "runs", name), "2 nodes x %d rank(s)" % per_node, n)
        grad = 4 * nparams * STEPS  # fp32 gradients, every step
        # a ring allreduce sends ~2(n-1)/n of the buffer from each rank; n1 hosts per_node ranks
        T.check(all(m["comm_bytes"] == 4 * nparams for m in M), "2 nodes x %d: comm_bytes = 4 x parameters" % per_node)
        T.check(sent >= grad // 2, "2 nodes x %d: n1 sent %d B over its veth (>= half the %d B of gradients)"
                % (per_node, sent, grad))


def job_field(jobid, field):
    out = nc("scontrol", "show", "job", jobid, check=False).stdout
    for tok in out.split():
        if tok.startswith(field + "="):
            return tok.split("=", 1)[1]
    return ""


def wait_state(jobid, states, timeout):
    t0 = time.time()
    st = ""
    while time.time() - t0 < timeout:
        st = job_field(jobid, "JobState")
        if st in states:
            return st
        time.sleep(0.5)
    return st


def case_slurm():
    # The jobs see /tmp node-local (as on a cluster): the work files go where every node
    # reads them, the build directory (a cluster's shared filesystem). A checkout or build
    # under /tmp cannot be reached by the jobs: say so and skip.
    for d in (os.environ.get("ATAS_SOURCE_DIR", "."), T.BIN):
        if (os.path.realpath(d) + "/").startswith("/tmp/"):
            print("SKIP: %s is under /tmp, which the simulated nodes' jobs see node-local" % d)
            sys.exit(77)
    import tempfile
    tempfile.tempdir = os.path.abspath(T.BIN)
    d = T.workdir("netns_slurm")
    c = T.make_corpus(d)
    common = dict(run__steps=SLURM_STEPS, batch__groups=4, checkpoint__every=2, optim__warmup_steps=2)
    ref = reference(d, c, common, SLURM_STEPS)
    nc("slurm-start", timeout=90)
    job = os.path.join(d, "job.sbatch")
    with open(os.path.join(T.SRC, "jobs", "atas_train.sbatch")) as f:  # the test nodes have no GPUs
        open(job, "w").write("".join(l for l in f if not l.startswith("#SBATCH --gpus")))
    sets = T.sets_for(d, c, "slurm2", **common)
    args = []
    for s in sets:
        args += ["--set", s]
    # sbatch exports the submitting environment: the template's inputs, and Open MPI on TCP
    # over the node network only (no shared memory between the "nodes")
    env = {"ATAS_CONFIG": T.TINY, "ATAS_BIN": T.ATAS_MPI, "ATAS_SRUN_ARGS": "", "OMPI_MCA_btl": "tcp,self",
           "OMPI_MCA_pml": "ob1", "OMPI_MCA_btl_tcp_if_include": "198.18.0.0/24"}
    out = nc("sbatch", "--parsable", "-N", "2", "--ntasks-per-node=1", "--cpus-per-task=1", "--time=10",
             "--partition=low", "--job-name=train2", "--output=" + os.path.join(d, "train2.out"),
             "--chdir=" + d, job, *args, env=env).stdout
    jobid = out.strip().split(";")[0]
    rd = os.path.join(d, "runs", "slurm2")
    st = wait_state(jobid, ("RUNNING",), 60)
    T.check(st == "RUNNING", "job %s running on 2 nodes (%s, nodes %s)" % (jobid, st, job_field(jobid, "NodeList")))
    # preempt once the first checkpoint exists and the run is not finished
    t0 = time.time()
    while time.time() - t0 < 120 and not any(x.endswith(".done") for x in T.ckpts(rd)):
        time.sleep(0.2)
    hi = nc("sbatch", "--parsable", "-N", "2", "--exclusive", "--time=2",
            "--partition=high", "--job-name=urgent", "--output=" + os.path.join(d, "urgent.out"),
            "--wrap", "sleep 1").stdout.strip().split(";")[0]
    T.check(wait_state(hi, ("COMPLETED",), 120) == "COMPLETED", "the high-priority job %s ran" % hi)
    st = wait_state(jobid, ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"), 240)
    log = open(os.path.join(d, "train2.out")).read() if os.path.exists(os.path.join(d, "train2.out")) else ""
    if not T.check(st == "COMPLETED", "training job %s completed after the preemption (%s)" % (jobid, st)):
        print(T.tail(log, 40))
    T.check(int(job_field(jobid, "Restarts") or 0) >= 1, "training job was requeued (Restarts=%s)"
            % job_field(jobid, "Restarts"))
    T.check("on 2 node(s), 2 tasks" in log, "the template ran on 2 nodes with 2 tasks")
    ctld = os.path.join(os.environ["ATAS_NETNS_DIR"], "log", "slurmctld.log")
    lines = [l.strip() for l in open(ctld) if "preempt" in l.lower() and "JobId=%s" % jobid in l]
    if not T.check(bool(lines), "slurmctld preempted job %s for job %s: %s" % (jobid, hi, lines[:1])):
        print("".join(l for l in open(ctld) if "JobId=%s " % jobid in l or "JobId=%s\n" % jobid in l or "preempt" in l.lower()))
    first = re.search(r"stopping at step (\d+) on request", log)
    T.check(first is not None and 0 < int(first.group(1)) < SLURM_STEPS,
            "the preemption stopped the run mid-way (%s)" % (first.group(0) if first else "no stop in the log"))
    T.check(re.search(r"resumed from .*ckpt-\d+\.h5 at step \d+", log) is not None,
            "the requeued job resumed from the checkpoint")
    compare(ref, rd, "sbatch -N 2, preempted and resumed", 2, SLURM_STEPS)


if __name__ == "__main__":
    if "ATAS_NETNS_DIR" not in os.environ:
        sys.exit("run me through tools/netns_cluster.sh run 2 python3 %s CASE" % sys.argv[0])
    if len(sys.argv) != 2 or "case_" + sys.argv[1] not in globals():
        sys.exit("usage: test_netns.py mpi|slurm")
    t0 = time.time()
    globals()["case_" + sys.argv[1]]()
    print("%.1f s" % (time.time() - t0))
    T.finish()
