#!/usr/bin/env bash
# tools/netns_cluster.sh removes every namespace, link and file it made, also when the
# command it runs fails or is killed: run a failing command (with Slurm up) and a killed
# one, then look for anything left.
set -uo pipefail
S="${ATAS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
NC="$S/tools/netns_cluster.sh"
fail() { echo "FAIL: $*"; exit 1; }
left() { # tag -> what is left of it (namespaces, state directory, processes in them)
  ip netns list 2>/dev/null | grep "^$1-"; ls -d "/run/atas-nc.$1" 2>/dev/null
}
tag=tdn$$
ATAS_NETNS_TAG=$tag "$NC" run 3 sh -c "\"$NC\" slurm-start >/dev/null 2>&1; \"$NC\" exec n2 true || exit 9; exit 7"
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: namespaces cannot be made here"; exit 77; }
[ $rc -eq 7 ] || fail "run: exit $rc, expected the command's 7"
[ -z "$(left $tag)" ] || fail "left after a failing command: $(left $tag)"
pgrep -f "/run/atas-nc.$tag/slurm.conf" >/dev/null && fail "Slurm daemons of $tag still running"
# killed while its command runs
ATAS_NETNS_TAG=${tag}k "$NC" run 2 sleep 60 &
p=$!
for _ in $(seq 50); do ip netns list | grep -q "^${tag}k-n1" && break; sleep 0.1; done
ip netns list | grep -q "^${tag}k-n1" || fail "the cluster did not come up"
kill -TERM $p; wait $p
[ -z "$(left ${tag}k)" ] || fail "left after SIGTERM: $(left ${tag}k)"
echo "netns_cluster.sh: nothing left after a failing and a killed run"
