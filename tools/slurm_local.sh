#!/usr/bin/env bash
# A real single-node Slurm (munged + slurmctld + slurmd) for tests and CI on this
# machine, with every file it writes under one directory.
#
#   tools/slurm_local.sh start    # start (or reuse) it; prints `export SLURM_CONF=...`
#   tools/slurm_local.sh stop     # stop the daemons by PID
#   tools/slurm_local.sh status   # exit 0 when running, print sinfo
#   tools/slurm_local.sh env      # print the export line only
#
# Environment:
#   ATAS_SLURM_DIR        state directory (default <repo>/build/slurm); made absolute
#   ATAS_SLURM_PORT       slurmctld port; slurmd uses PORT+1 (default: first free from 6817)
#   ATAS_SLURM_CPUS       CPUs of the node (default nproc)
#   ATAS_SLURM_WAIT_S     how long start waits for the node to be idle (default 30)
#   ATAS_SLURM_CRED_EXPIRE  credential lifetime = delay before a requeued job restarts
#                         (default 5 s; Slurm's default is 120 s)
#
# Needs root (slurmd runs jobs as their submitting user and SlurmUser=root here),
# slurm-wlm and munge (tools/setup.sh installs them). Exit codes: 0 ok, 1 failed,
# 2 usage, 77 cannot run here (not root / packages missing) - tests map 77 to skip.
# See docs/slurm.md.
set -uo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${ATAS_SLURM_DIR:-$here/build/slurm}"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
conf="$dir/slurm.conf"
wait_s="${ATAS_SLURM_WAIT_S:-30}"

die() { echo "slurm_local: $*" >&2; exit 1; }
cannot() { echo "slurm_local: cannot run here: $*" >&2; exit 77; }

pid_alive() { # pidfile -> 0 when the process in it exists and is the daemon the file
  # is named for (a stale file whose PID was reused by another process never counts)
  local p name
  [ -s "$1" ] || return 1
  p="$(cat "$1" 2>/dev/null)"; name="$(basename "$1" .pid)"
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$name" ]
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

all_running() {
  pid_alive "$dir/munged.pid" && pid_alive "$dir/slurmctld.pid" && pid_alive "$dir/slurmd.pid"
}

node_state() { SLURM_CONF="$conf" sinfo -h -N -o '%T' 2>/dev/null | head -n1; }

do_stop() {
  # SIGTERM to all three at once (each takes 1-2 s to shut down), then wait up to
  # 10 s and SIGKILL what is left. Only the PIDs we recorded are touched.
  local d p pids=()
  for d in slurmd slurmctld munged; do
    if pid_alive "$dir/$d.pid"; then
      p="$(cat "$dir/$d.pid")"; pids+=("$d:$p"); kill -TERM "$p" 2>/dev/null
    fi
  done
  for _ in $(seq 100); do
    local left=0
    for d in "${pids[@]}"; do kill -0 "${d#*:}" 2>/dev/null && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  for d in "${pids[@]}"; do
    if kill -0 "${d#*:}" 2>/dev/null; then
      echo "slurm_local: ${d%%:*} (pid ${d#*:}) ignored SIGTERM, sending SIGKILL" >&2
      kill -KILL "${d#*:}" 2>/dev/null
    fi
  done
  rm -f "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munged.pid"
  echo "slurm_local: stopped (state kept in $dir)" >&2
}

print_env() { echo "export SLURM_CONF=$conf"; }

write_conf() { # ctld_port slurmd_port cpus
  local mem_mb
  # Generous but real: what the node has, so --mem requests behave like a cluster.
  mem_mb=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)
  cat >"$conf" <<EOF
# Written by tools/slurm_local.sh - a single-node test cluster. Do not edit: start rewrites it.
ClusterName=atas-local
SlurmctldHost=localhost
SlurmctldPort=$1
SlurmdPort=$2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again
# (default 120 s); short here so the requeue test finishes quickly.
AuthInfo=socket=$dir/munge/munge.socket.2,cred_expire=${ATAS_SLURM_CRED_EXPIRE:-5}
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Look at pending jobs every 2 s (defaults 60/30 s): a requeued job becomes eligible
# again while nothing else wakes the scheduler.
SchedulerParameters=sched_interval=2,bf_interval=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
# Jobs may be requeued (the templates use --requeue); keep finished jobs visible to
# scontrol for a while so tests can read their state and restart count.
JobRequeue=1
MinJobAge=300
KillWait=5
InactiveLimit=0
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$3 RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

wait_idle() {
  local st=""
  for _ in $(seq $((wait_s * 5))); do
    st="$(node_state)"
    case "$st" in idle|idle*|mixed|allocated) return 0 ;; esac
    # A node left down/drained by an earlier run: bring it back.
    case "$st" in down*|drain*)
      SLURM_CONF="$conf" scontrol update nodename=localhost state=resume >/dev/null 2>&1 ;;
    esac
    all_running || break
    sleep 0.2
  done
  echo "slurm_local: the node did not become idle within ${wait_s}s (state '${st:-none}')." >&2
  for d in munged slurmctld slurmd; do
    pid_alive "$dir/$d.pid" || echo "slurm_local: $d is not running" >&2
  done
  echo "slurm_local: last log lines ($dir/log):" >&2
  tail -n 8 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" "$dir/log/munged.log" 2>/dev/null >&2
  return 1
}

do_start() {
  [ "$(id -u)" -eq 0 ] || cannot "not root (a single-node slurmd with SlurmUser=root needs root)"
  local b
  for b in munged slurmctld slurmd sinfo sbatch srun scontrol; do
    command -v "$b" >/dev/null 2>&1 || cannot "'$b' not found (install slurm-wlm and munge: tools/setup.sh)"
  done

  mkdir -p "$dir" || die "cannot create $dir"
  dir="$(cd "$dir" && pwd)"; conf="$dir/slurm.conf"
  if all_running && [ -f "$conf" ]; then
    wait_idle || die "already running but not healthy; try: $0 stop && $0 start"
    echo "slurm_local: already running ($dir)" >&2
    print_env
    return 0
  fi
  do_stop >/dev/null 2>&1 # partial leftovers

  # Unix sockets (munge, slurmd step sockets) must fit in sun_path (108 bytes).
  [ ${#dir} -le 70 ] || die "ATAS_SLURM_DIR '$dir' is too long for Unix socket paths (${#dir} > 70 chars); set a shorter ATAS_SLURM_DIR"

  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" || die "cannot create directories in $dir"
  chmod 755 "$dir/munge" # munged refuses a socket directory writable by others
  chmod 700 "$dir/state" "$dir/spool"

  # Our own munge key: no dependency on /etc/munge, nothing shared with a system munged.
  if [ ! -s "$dir/munge/munge.key" ]; then
    ( umask 077; head -c 1024 /dev/urandom >"$dir/munge/munge.key" ) || die "cannot write the munge key"
  fi
  chmod 600 "$dir/munge/munge.key"

  local cport sport cpus
  cpus="${ATAS_SLURM_CPUS:-$(nproc)}"
  if [ -n "${ATAS_SLURM_PORT:-}" ]; then
    cport="$ATAS_SLURM_PORT"
    port_busy "$cport" && die "ATAS_SLURM_PORT $cport is in use"
  else
    cport=6817
    while port_busy "$cport" || port_busy $((cport + 1)); do
      cport=$((cport + 2)); [ "$cport" -lt 6917 ] || die "no free port pair in 6817..6916"
    done
  fi
  sport=$((cport + 1))
  write_conf "$cport" "$sport" "$cpus"

  # munged: --force because the state directory may sit under a directory
  # that munged's paranoid permission checks dislike (e.g. a sticky /tmp).
  munged --force --socket="$dir/munge/munge.socket.2" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" >>"$dir/log/start.log" 2>&1 \
    || die "munged failed to start: $(tail -n 3 "$dir/log/start.log" "$dir/log/munged.log" 2>/dev/null)"
  for _ in $(seq 50); do [ -S "$dir/munge/munge.socket.2" ] && break; sleep 0.1; done
  [ -S "$dir/munge/munge.socket.2" ] || die "munged did not create its socket; see $dir/log/munged.log"

  # -D: they stay children we can track by PID; -c clears the saved state so a
  # restarted cluster never resumes stale jobs of an earlier run.
  setsid slurmctld -D -c -f "$conf" >>"$dir/log/start.log" 2>&1 </dev/null &
  echo $! >"$dir/slurmctld.pid"
  setsid slurmd -D -f "$conf" -N localhost >>"$dir/log/start.log" 2>&1 </dev/null &
  echo $! >"$dir/slurmd.pid"

  if ! wait_idle; then
    tail -n 5 "$dir/log/start.log" >&2 2>/dev/null
    do_stop >/dev/null 2>&1
    die "failed to start (state in $dir)"
  fi
  echo "slurm_local: running: node localhost ($cpus CPUs), ports $cport/$sport, state in $dir" >&2
  print_env
}

do_status() {
  local d rc=0
  for d in munged slurmctld slurmd; do
    if pid_alive "$dir/$d.pid"; then echo "$d: running (pid $(cat "$dir/$d.pid"))"
    else echo "$d: stopped"; rc=3; fi
  done
  if [ $rc -eq 0 ]; then
    SLURM_CONF="$conf" sinfo -N || rc=3
    print_env
  fi
  return $rc
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|status|env   (state in \$ATAS_SLURM_DIR, default build/slurm)" >&2; exit 2 ;;
esac
