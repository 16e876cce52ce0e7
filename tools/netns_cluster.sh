#!/usr/bin/env bash
# A multi-node cluster simulated on one machine: N "nodes" as Linux network namespaces
# joined by veth pairs to a bridge that lives in its own (hub) namespace. Every address is
# in 198.18.0.0/15 (RFC 2544 benchmarking range) and exists only inside namespaces this
# script creates: the root namespace gets no address, no route and no link, so nothing can
# be routed off the machine. Each node runs its processes with its own hostname (UTS
# namespace) and its own /etc/hosts (a bind mount in a private mount namespace).
#
#   tools/netns_cluster.sh run N CMD [ARGS...]   set up N nodes (2..4), run CMD in the root
#                                                namespace with the cluster's environment,
#                                                tear everything down on exit (trap EXIT,
#                                                also on failure or a signal); exit = CMD's
#   tools/netns_cluster.sh up N | down           the same in two steps (state in ATAS_NETNS_DIR)
#   tools/netns_cluster.sh exec NODE CMD...      CMD inside node NODE (n0, n1, ...)
#   tools/netns_cluster.sh mpirun [ARGS...]      Open MPI's mpirun on n0 with the hostfile, the
#                                                namespace launch agent and TCP on the veths only
#   tools/netns_cluster.sh slurm-start|slurm-stop  munged + slurmctld on n0 + one slurmd per
#                                                node (NodeName=nI NodeAddr=198.18.0.I+1); the
#                                                partition "low" can be preempted (REQUEUE) by
#                                                the partition "high"
#   tools/netns_cluster.sh sbatch|scontrol|squeue|sinfo ARGS...  the Slurm client on n0
#
# Environment: ATAS_NETNS_DIR (state directory, default /run/atas-nc.<tag>; <= 60 chars for
# Unix socket paths; not under /tmp, which the slurmd see node-local: files that jobs read
# must live elsewhere too, as on a cluster's shared filesystem), ATAS_NETNS_TAG (namespace
# name prefix, default ac<pid>), ATAS_NETNS_SLOTS (hostfile slots per node, default 2),
# ATAS_SLURM_CPUS (CPUs per node, default nproc), ATAS_SLURM_GRACE_S (preemption grace, 60).
# `run` exports ATAS_NETNS_DIR, ATAS_NETNS_TAG, ATAS_NETNS_NODES to CMD.
# Exit codes: 0 ok, 1 failed, 2 usage, 77 cannot run here (not root, `ip`/`mpirun` missing,
# namespaces refused by the kernel) - tests map 77 to skip. docs/scaling.md.
set -uo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
self="$here/tools/netns_cluster.sh"
NET=198.18.0          # node i has $NET.(i+1)/24; the hub has no address at all
die() { echo "netns_cluster: $*" >&2; exit 1; }
cannot() { echo "netns_cluster: cannot run here: $*" >&2; exit 77; }

load() { # state of an existing cluster
  [ -n "${ATAS_NETNS_DIR:-}" ] && [ -f "$ATAS_NETNS_DIR/cluster.env" ] \
    || die "no cluster: set ATAS_NETNS_DIR to the directory of '$0 up' (or use '$0 run')"
  # shellcheck disable=SC1091
  . "$ATAS_NETNS_DIR/cluster.env"
}

ns_of() { echo "${ATAS_NETNS_TAG}-$1"; } # node name -> namespace name

# Run a command inside node $1: its network namespace, its own hostname, its hosts file.
# nsenter rather than `ip netns exec`, which remounts /sys and so hides the cgroup
# hierarchy slurmd needs; a private mount namespace carries the node's /etc/hosts.
# With a node tmp directory (the slurmd: Slurm's PMIx plugin puts fixed names such as
# /tmp/spmix_appdir_<uid>_<job>.<step> there), /tmp is node-local as on a real cluster.
NODE_SH='hostname "$0" && mount --bind "$1" /etc/hosts && { [ -z "$2" ] || mount --bind "$2" /tmp; } && shift 2 && exec "$@"'
node_exec() {
  local node="$1"; shift
  nsenter --net="/run/netns/$(ns_of "$node")" unshare --uts --mount -- /bin/sh -c "$NODE_SH" \
    "$node" "$ATAS_NETNS_DIR/hosts" "${NODE_TMP:-}" "$@"
}

do_up() {
  local n="$1" i
  [ "$(id -u)" -eq 0 ] || cannot "not root (network namespaces need CAP_NET_ADMIN)"
  for b in ip unshare; do command -v "$b" >/dev/null 2>&1 || cannot "'$b' not found"; done
  case "$n" in 2|3|4) ;; *) echo "netns_cluster: N must be 2, 3 or 4 (got '$n')" >&2; exit 2 ;; esac
  export ATAS_NETNS_TAG="${ATAS_NETNS_TAG:-ac$$}"
  export ATAS_NETNS_DIR="${ATAS_NETNS_DIR:-/run/atas-nc.$ATAS_NETNS_TAG}"
  [ ${#ATAS_NETNS_DIR} -le 60 ] || die "ATAS_NETNS_DIR '$ATAS_NETNS_DIR' is longer than 60 characters (Unix socket paths)"
  mkdir -p "$ATAS_NETNS_DIR" || die "cannot create $ATAS_NETNS_DIR"
  ATAS_NETNS_DIR="$(cd "$ATAS_NETNS_DIR" && pwd)"
  local d="$ATAS_NETNS_DIR" hub; hub="$(ns_of hub)"
  # Recorded first, so that down removes whatever part of this setup exists.
  cat >"$d/cluster.env" <<EOF
ATAS_NETNS_TAG=$ATAS_NETNS_TAG
ATAS_NETNS_DIR=$d
ATAS_NETNS_NODES=$n
EOF
  ip netns add "$hub" 2>"$d/up.err" || { cat "$d/up.err" >&2; rm -f "$d/cluster.env"; cannot "ip netns add refused (no namespace support in this container?)"; }
  ip -n "$hub" link add br0 type bridge || die "cannot create the bridge"
  ip -n "$hub" link set br0 up
  : >"$d/hostfile"
  { echo "127.0.0.1 localhost"; for ((i = 0; i < n; i++)); do echo "$NET.$((i + 1)) n$i"; done; } >"$d/hosts"
  for ((i = 0; i < n; i++)); do
    local ns; ns="$(ns_of "n$i")"
    ip netns add "$ns" || die "cannot create namespace $ns"
    # The veth pair is created inside the hub, so it never exists in the root namespace.
    ip -n "$hub" link add "p$i" type veth peer name eth0 netns "$ns" || die "cannot create veth for n$i"
    ip -n "$hub" link set "p$i" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$NET.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    echo "n$i slots=${ATAS_NETNS_SLOTS:-2}" >>"$d/hostfile"
  done
  # Open MPI's launch agent: called like ssh (agent HOST COMMAND-STRING); runs the orted
  # inside that node's namespace.
  cat >"$d/agent.sh" <<EOF
#!/bin/sh
# Written by tools/netns_cluster.sh: Open MPI plm_rsh_agent for namespace "nodes".
host="\$1"; shift
case "\$host" in n[0-9]) ;; *) echo "agent.sh: unknown node '\$host'" >&2; exit 1 ;; esac
exec nsenter --net="/run/netns/${ATAS_NETNS_TAG}-\$host" unshare --uts --mount -- \\
  /bin/sh -c 'hostname "\$0" && mount --bind "\$1" /etc/hosts && eval "\$2"' "\$host" "$d/hosts" "\$*"
EOF
  chmod 755 "$d/agent.sh"
  # Every bridge port up (traffic itself is proven by the tests: mpirun across the nodes).
  for ((i = 0; i < n; i++)); do
    ip -n "$hub" link show "p$i" | grep -q 'state UP\|state UNKNOWN\|LOWERLAYERDOWN' || die "port p$i is not up"
  done
  echo "netns_cluster: $n nodes n0..n$((n - 1)) ($NET.1-$NET.$n/24, bridge in namespace $hub), state in $d" >&2
}

# Kill every process still inside a namespace we made (those are ours: nothing else
# enters them), then delete the namespaces; their veths go with them.
do_down() {
  load
  local d="$ATAS_NETNS_DIR" i ns
  [ -f "$d/slurm.pids" ] && slurm_stop
  for ((i = 0; i < ATAS_NETNS_NODES; i++)); do
    ns="$(ns_of "n$i")"
    ip netns list 2>/dev/null | grep -q "^$ns\b" || continue
    local pids; pids="$(ip netns pids "$ns" 2>/dev/null)"
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
  done
  sleep 0.3
  for ((i = 0; i < ATAS_NETNS_NODES; i++)); do
    ns="$(ns_of "n$i")"
    local pids; pids="$(ip netns pids "$ns" 2>/dev/null)"
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  ip netns del "$(ns_of hub)" 2>/dev/null
  local left; left="$(ip netns list 2>/dev/null | grep -c "^${ATAS_NETNS_TAG}-")"
  rm -rf "$d"
  [ "$left" -eq 0 ] || die "$left namespace(s) ${ATAS_NETNS_TAG}-* still exist"
  echo "netns_cluster: removed ${ATAS_NETNS_TAG}-{hub,n0..n$((ATAS_NETNS_NODES - 1))} and $d" >&2
}

do_mpirun() {
  load
  command -v mpirun >/dev/null 2>&1 || cannot "mpirun not found"
  # ob1 + tcp,self: every byte between ranks crosses a veth (no shared memory, no UCX);
  # oob (the runtime's own wire) and btl both restricted to the namespace subnet.
  node_exec n0 env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun --hostfile "$ATAS_NETNS_DIR/hostfile" \
      --mca plm_rsh_agent "$ATAS_NETNS_DIR/agent.sh" --mca plm_rsh_no_tree_spawn 1 \
      --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include "$NET.0/24" \
      --mca oob_tcp_if_include "$NET.0/24" "$@"
}

# ---- Slurm: one munged (its socket is a file: reachable from every namespace), slurmctld
# on n0, one slurmd per node namespace.
write_slurm_conf() { # dir ncpus
  local d="$1" cpus="$2" i mem nodes=""
  mem=$(awk '/MemTotal/ {print int($2/1024/4)}' /proc/meminfo)
  {
    cat <<EOF
# Written by tools/netns_cluster.sh - a simulated multi-node cluster. Do not edit.
ClusterName=atas-netns
SlurmctldHost=n0($NET.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket.2,cred_expire=${ATAS_SLURM_CRED_EXPIRE:-5}
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2,preempt_send_user_signal
# Jobs of partition "high" preempt jobs of "low": the victim gets the --signal signal
# (USR1: atas_mpi checkpoints and exits 3), then SIGTERM after GraceTime, and is requeued.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
JobRequeue=1
MinJobAge=300
KillWait=5
InactiveLimit=0
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool/%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/spool/%n/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
SlurmctldDebug=debug
SlurmdDebug=info
EOF
    for ((i = 0; i < ATAS_NETNS_NODES; i++)); do
      echo "NodeName=n$i NodeAddr=$NET.$((i + 1)) CPUs=$cpus RealMemory=$mem State=UNKNOWN"
      nodes="${nodes:+$nodes,}n$i"
    done
    echo "PartitionName=low Nodes=$nodes Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO PriorityTier=1 PreemptMode=REQUEUE GraceTime=${ATAS_SLURM_GRACE_S:-60}"
    echo "PartitionName=high Nodes=$nodes MaxTime=INFINITE State=UP OverSubscribe=NO PriorityTier=10 PreemptMode=OFF"
  } >"$d/slurm.conf"
}

slurm_start() {
  load
  local d="$ATAS_NETNS_DIR" b i name pid
  case "$d/" in /tmp/*) die "ATAS_NETNS_DIR '$d' is under /tmp, which is node-local for the slurmd: use another directory (default /run/atas-nc.<tag>)" ;; esac
  for b in munged slurmctld slurmd sinfo sbatch srun scontrol; do
    command -v "$b" >/dev/null 2>&1 || cannot "'$b' not found (install slurm-wlm and munge: tools/setup.sh)"
  done
  mkdir -p "$d/munge" "$d/state" "$d/log" || die "cannot create Slurm directories in $d"
  for ((i = 0; i < ATAS_NETNS_NODES; i++)); do mkdir -p "$d/spool/n$i"; done
  chmod 755 "$d/munge"; chmod 700 "$d/state"
  ( umask 077; head -c 1024 /dev/urandom >"$d/munge/munge.key" ) || die "cannot write the munge key"
  write_slurm_conf "$d" "${ATAS_SLURM_CPUS:-$(nproc)}"
  : >"$d/slurm.pids"
  munged --force --socket="$d/munge/munge.socket.2" --key-file="$d/munge/munge.key" \
    --pid-file="$d/munged.pid" --log-file="$d/log/munged.log" --seed-file="$d/munge/seed" \
    >>"$d/log/start.log" 2>&1 || die "munged failed: $(tail -n 3 "$d/log/munged.log" 2>/dev/null)"
  for _ in $(seq 50); do [ -S "$d/munge/munge.socket.2" ] && break; sleep 0.1; done
  echo "munged $(cat "$d/munged.pid")" >>"$d/slurm.pids"
  setsid "$self" exec n0 slurmctld -D -c -f "$d/slurm.conf" >>"$d/log/start.log" 2>&1 </dev/null &
  echo "slurmctld $!" >>"$d/slurm.pids"
  for ((i = 0; i < ATAS_NETNS_NODES; i++)); do
    mkdir -p "$d/tmp/n$i" && chmod 1777 "$d/tmp/n$i"
    NODE_TMP="$d/tmp/n$i" setsid "$self" exec "n$i" slurmd -D -N "n$i" -f "$d/slurm.conf" >>"$d/log/start.log" 2>&1 </dev/null &
    echo "slurmd-n$i $!" >>"$d/slurm.pids"
  done
  local st=""
  for _ in $(seq 150); do
    st="$(client sinfo -h -N -o '%T' 2>/dev/null | sort -u | tr '\n' ' ')"
    [ "$st" = "idle " ] && break
    local dead=""
    while read -r name pid; do kill -0 "$pid" 2>/dev/null || dead="$dead $name"; done <"$d/slurm.pids"
    [ -n "$dead" ] && { st="$st(exited:$dead)"; break; }
    sleep 0.2
  done
  if [ "$st" != "idle " ]; then
    tail -n 8 "$d/log/start.log" "$d/log/slurmctld.log" "$d/log"/slurmd-*.log >&2 2>/dev/null
    die "the $ATAS_NETNS_NODES slurmd did not become idle within 30 s (states: '${st:-none}')"
  fi
  echo "netns_cluster: Slurm up: slurmctld on n0, slurmd on n0..n$((ATAS_NETNS_NODES - 1)), conf $d/slurm.conf" >&2
}

slurm_stop() {
  local d="$ATAS_NETNS_DIR" name pid
  [ -f "$d/slurm.pids" ] || return 0
  # The recorded PIDs are the `ip netns exec` wrappers that exec'd into the daemons.
  while read -r name pid; do kill -TERM "$pid" 2>/dev/null; done <"$d/slurm.pids"
  for _ in $(seq 50); do
    local left=0
    while read -r name pid; do kill -0 "$pid" 2>/dev/null && left=1; done <"$d/slurm.pids"
    [ $left = 0 ] && break
    sleep 0.1
  done
  while read -r name pid; do kill -KILL "$pid" 2>/dev/null; done <"$d/slurm.pids"
  rm -f "$d/slurm.pids"
}

client() { # a Slurm client command on n0 (the controller's address exists only there)
  node_exec n0 env SLURM_CONF="$ATAS_NETNS_DIR/slurm.conf" "$@"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  run)
    [ $# -ge 2 ] || { echo "usage: $0 run N CMD [ARGS...]" >&2; exit 2; }
    n="$1"; shift
    # Whatever happens from here on (a failed setup, the command failing, a signal), the
    # namespaces and files made so far go: cluster.env is the first thing do_up writes.
    trap '[ -f "${ATAS_NETNS_DIR:-/nonexistent}/cluster.env" ] && ( do_down )' EXIT
    trap 'exit 143' TERM; trap 'exit 130' INT; trap 'exit 129' HUP
    do_up "$n" || exit $?
    export ATAS_NETNS_DIR ATAS_NETNS_TAG ATAS_NETNS_NODES="$n"
    # In the background (stdin kept) so that a signal to this script is handled at once:
    # bash runs traps only after a foreground command ends, `wait` it interrupts.
    "$@" <&0 &
    child=$!
    trap 'kill -TERM $child 2>/dev/null; wait $child; exit 143' TERM
    trap 'kill -INT $child 2>/dev/null; wait $child; exit 130' INT
    trap 'kill -TERM $child 2>/dev/null; wait $child; exit 129' HUP
    wait $child
    exit $? ;;
  up) [ $# -eq 1 ] || { echo "usage: $0 up N" >&2; exit 2; }
      do_up "$1" && echo "export ATAS_NETNS_DIR=$ATAS_NETNS_DIR" ;;
  down) do_down ;;
  exec) load; [ $# -ge 2 ] || { echo "usage: $0 exec NODE CMD..." >&2; exit 2; }
        # exec all the way down: the PID of this script becomes the command's PID
        node="$1"; shift
        exec nsenter --net="/run/netns/$(ns_of "$node")" unshare --uts --mount -- /bin/sh -c "$NODE_SH" \
          "$node" "$ATAS_NETNS_DIR/hosts" "${NODE_TMP:-}" "$@" ;;
  mpirun) do_mpirun "$@" ;;
  slurm-start) slurm_start ;;
  slurm-stop) load; slurm_stop ;;
  sbatch|scontrol|squeue|sinfo|scancel) load; client "$cmd" "$@" ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac
