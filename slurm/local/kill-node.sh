#!/usr/bin/env bash
# slurm/local/kill-node.sh NODE - simulate a power loss of one node of a multi-node cluster started
# with `slurm/local/start.sh --nodes N`: SIGKILL every process in the node's network namespace
# (slurmd, slurmstepd, the job's processes), with no warning to slurmctld. The namespace and its
# veth stay, so the node's address answers with "connection refused" and slurmctld marks the node
# DOWN after SlurmdTimeout (10 s in multi-node mode); its jobs end (NODE_FAIL; batch jobs are
# requeued). Bring the node back: run start.sh again (same SLURM_LOCAL_BASE and --nodes).
#
# Settings: SLURM_LOCAL_BASE (default /tmp/hpc-itt-slurm), as for start.sh.
# Exit status: 0 killed (or nothing was running there), 1 unknown node / no multi-node cluster,
#              2 usage or not root.
set -uo pipefail

BASE=${SLURM_LOCAL_BASE:-/tmp/hpc-itt-slurm}
[ $# = 1 ] && [ -n "$1" ] || { echo "usage: $0 NODE   (a node name from $BASE/run/nodes.list)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: must run as root" >&2; exit 2; }
NODE=$1
NODES=$BASE/run/nodes.list # NODE NETNS ADDRESS, written by start.sh in multi-node mode
[ -s "$NODES" ] || { echo "$0: no $NODES: no multi-node cluster under $BASE" >&2; exit 1; }
NS=$(awk -v n="$NODE" '$1 == n {print $2; exit}' "$NODES")
[ -n "$NS" ] || { echo "$0: unknown node '$NODE' (known: $(awk '{print $1}' "$NODES" | tr '\n' ' '))" >&2; exit 1; }
[ -e "/run/netns/$NS" ] || { echo "$0: netns $NS of $NODE does not exist" >&2; exit 1; }

# gone PID: exited (a zombie counts: PID 1 may take seconds to reap it)
gone() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -z "$st" ] || [ "$st" = Z ]
}

# Repeat until the namespace is empty: a slurmstepd or job may fork between listing and killing.
killed=0
for ((k = 0; k < 50; k++)); do
  pids=""
  for p in $(ip netns pids "$NS" 2>/dev/null); do gone "$p" || pids+="$p "; done
  [ -z "$pids" ] && break
  [ "$k" = 0 ] && echo "$NODE ($NS): SIGKILL $(for p in $pids; do printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done)"
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
  killed=$((killed + $(wc -w <<<"$pids")))
  sleep 0.1
done
if [ -n "$pids" ]; then
  echo "$0: processes still alive in $NS: $pids" >&2
  exit 1
fi
[ "$killed" = 0 ] && echo "$NODE ($NS): no process was running"
echo "$NODE is powered off; bring it back: re-run start.sh with the same settings (SLURM_LOCAL_BASE=$BASE, --nodes $(wc -l < "$NODES"), SLURM_PORT_BASE ...)"
exit 0
