#!/usr/bin/env bash
# slurm/local/stop.sh [--purge] - stop the daemons started by slurm/local/start.sh, by pid file only
# (TERM, then KILL after 15 s). Packages stay installed. Works for both modes (single node and
# --nodes N); idempotent. Multi-node: after the slurmds, it kills whatever is left in the node
# network namespaces (job steps) and deletes the namespaces, veths and bridge start.sh recorded in
# $SLURM_LOCAL_BASE/run/netns.list, and nothing else.
#   --purge  also delete what start.sh created under $SLURM_LOCAL_BASE (configs, Slurm state,
#            MariaDB data, munge key, logs), so the next start is a cold start.
set -uo pipefail

BASE=${SLURM_LOCAL_BASE:-/tmp/hpc-itt-slurm}
PURGE=0
case "${1:-}" in
  "") ;;
  --purge) PURGE=1 ;;
  *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac

# gone PID: exited (a zombie counts: PID 1 may take seconds to reap it)
gone() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -z "$st" ] || [ "$st" = Z ]
}

# stop NAME PIDFILE: only if the pid file names a live process whose comm is exactly NAME
stop() {
  local name=$1 pf=$2 pid k
  if [ ! -s "$pf" ]; then echo "$name: not started (no pid file)"; return 0; fi
  pid=$(cat "$pf")
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
    kill -TERM "$pid" 2>/dev/null
    for ((k = 0; k < 150; k++)); do gone "$pid" && break; sleep 0.1; done
    if ! gone "$pid"; then
      echo "$name: pid $pid still alive after 15 s, sending KILL"
      kill -KILL "$pid" 2>/dev/null
      sleep 0.5
    fi
    echo "$name: stopped (pid $pid)"
  else
    echo "$name: not running (stale pid file)"
  fi
  rm -f "$pf"
}

# Cancel every job first: slurmstepd and the job's processes outlive slurmd, nothing would manage
# them after the stop. Wait (KillWait=5) until no job is running or completing.
if [ -s "$BASE/etc/slurm.conf" ] && [ "$(cat "/proc/$(cat "$BASE/run/slurmctld.pid" 2>/dev/null)/comm" 2>/dev/null)" = slurmctld ]; then
  export SLURM_CONF=$BASE/etc/slurm.conf
  jobs=$(timeout 10 squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    echo "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    timeout 10 scancel $jobs || true
    for ((k = 0; k < 150; k++)); do
      [ -z "$(timeout 10 squeue -h -t running,completing,configuring -o %A 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
fi

# kill_ns NS: SIGKILL every process in network namespace NS until none is left (a step may fork)
kill_ns() {
  local k p pids
  for ((k = 0; k < 50; k++)); do
    pids=""
    for p in $(ip netns pids "$1" 2>/dev/null); do gone "$p" || pids+="$p "; done
    [ -z "$pids" ] && return 0
    [ "$k" = 0 ] && echo "netns $1: killing leftover processes: $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.1
  done
  echo "WARNING: netns $1: processes still alive: $pids"
}

# compute daemons first (single-node slurmd.pid, per-node slurmd-NODE.pid), then what is left in
# the node namespaces, controller, accounting, database, authentication, the node network
if [ -e "$BASE/run/slurmd.pid" ] || ! compgen -G "$BASE/run/slurmd-*.pid" >/dev/null; then
  stop slurmd "$BASE/run/slurmd.pid" # (its "not started" line is noise for a multi-node cluster)
fi
for pf in "$BASE/run"/slurmd-*.pid; do
  [ -e "$pf" ] || continue
  n=${pf##*/slurmd-}
  stop "slurmd" "$pf" | sed "s/^slurmd:/slurmd ${n%.pid}:/"
done

# Multi-node: job steps left in the node namespaces (start.sh recorded them in netns.list) have no
# slurmd any more; kill them now, before the controller goes.
NETLIST=$BASE/run/netns.list
if [ -s "$NETLIST" ]; then
  while read -r kind name; do
    [ "$kind" = netns ] && [ -e "/run/netns/$name" ] && kill_ns "$name"
  done < "$NETLIST"
fi

stop slurmctld "$BASE/run/slurmctld.pid"
stop slurmdbd "$BASE/run/slurmdbd.pid"
stop mariadbd "$BASE/mysql/run/mysqld.pid"
stop munged "$BASE/munge/run/munged.pid"

# Multi-node network, once nothing uses it (slurmctld and slurmdbd listen on the bridge address):
# only the objects start.sh recorded (KIND NAME), namespaces first; deleting a namespace also
# deletes the veth end inside it, and with it the pair.
if [ -s "$NETLIST" ]; then
  while read -r kind name; do
    [ "$kind" = netns ] && [ -e "/run/netns/$name" ] || continue
    kill_ns "$name"
    ip netns del "$name" && echo "netns $name: deleted"
  done < "$NETLIST"
  while read -r kind name; do
    [ "$kind" != netns ] || continue
    if ip link show dev "$name" >/dev/null 2>&1; then
      ip link del "$name" && echo "$kind $name: deleted"
    fi
  done < "$NETLIST"
  failed=0
  while read -r kind name; do
    case "$kind" in
      netns) [ ! -e "/run/netns/$name" ] || failed=1 ;;
      *) ! ip link show dev "$name" >/dev/null 2>&1 || failed=1 ;;
    esac
  done < "$NETLIST"
  if [ "$failed" = 0 ]; then rm -f "$NETLIST" "$BASE/run/nodes.list"; else echo "WARNING: could not delete all of $NETLIST"; fi
fi

# Job steps normally die with slurmd; report (never kill) anything still using BASE.
left=$(pgrep -af -- "$BASE" 2>/dev/null || true)
[ -n "$left" ] && printf 'WARNING: processes still referencing %s:\n%s\n' "$BASE" "$left"

if [ "$PURGE" = 1 ]; then
  for d in etc run log state munge mysql fakedev env.sh; do rm -rf "${BASE:?}/$d"; done
  rmdir "$BASE" 2>/dev/null || true
  echo "purged $BASE"
fi
exit 0
