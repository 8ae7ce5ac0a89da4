#!/usr/bin/env bash
# slurm/local/start.sh [--nodes N] - bring up a real Slurm cluster (Debian 12 packages, Slurm 22.05)
# without systemd: munged, MariaDB + slurmdbd (accounting, so `sacct` works), slurmctld and slurmd
# run as plain root daemons with everything (configs, state, logs, pid files) under one directory.
#
# Idempotent: installs only missing packages, rewrites configs (restarting the Slurm daemons only if
# a config changed), starts only daemons that are not running, waits until the nodes are usable.
#
# --nodes 1 (default): one slurmd on this host, node name = `hostname -s`, everything on loopback.
# --nodes N (N >= 2): N slurmd "nodes" node1..nodeN, each in its own network namespace (own network
#   stack, own hostname, $BASE/etc/hosts bind-mounted over /etc/hosts), joined by veth pairs to a
#   private bridge ($SLURM_SUBNET.1/24; node K is $SLURM_SUBNET.(10+K)). No default route, NAT or
#   forwarding: nodes reach each other and the bridge address only. munged, MariaDB, slurmdbd and
#   slurmctld stay in the root network namespace; slurmctld listens on the bridge address only.
#   Re-running start.sh restarts a node whose processes died (slurm/local/kill-node.sh simulates that).
#
# Settings (environment, all optional):
#   SLURM_LOCAL_BASE   directory for configs/state/logs/pids     (default /tmp/hpc-itt-slurm)
#   SLURM_FAKE_GPUS    fake GRES gpus (char devices via mknod)   (default 2; 0 = none)
#   SLURM_CLUSTER      cluster name                              (default localci)
#   SLURM_PARTITION    partition name                            (default debug)
#   SLURM_SKIP_APT     1 = never run apt-get                     (default 0)
#   SLURM_NODES        number of nodes, like --nodes             (default 1)
#   SLURM_PORT_BASE    slurmctld=base, slurmd=base+1, slurmdbd=base+2, mariadb=base+3 (default 6817)
# Multi-node only (--nodes >= 2):
#   SLURM_SUBNET       first three octets of the private /24     (default 10.217.0)
#   SLURM_NET_TAG      prefix of bridge/veth/netns names         (default hpcitt: hpcitt-br,
#                      hpcitt-v1.., netns hpcitt-node1..; 1-10 chars, so two clusters can coexist)
#   SLURM_NODE_PREFIX  node names PREFIX1..PREFIXN               (default node)
#
# Exit status: 0 ok, 1 a daemon/config/network setup failed or bad arguments (log tail printed), 2 not root,
#              3 packages missing and apt unusable (no apt-get, or update/install failed).
# Afterwards:  source "$SLURM_LOCAL_BASE/env.sh"      (exports SLURM_CONF)
# Stop:        slurm/local/stop.sh [--purge]   (same SLURM_LOCAL_BASE; removes the namespaces too)
set -euo pipefail

BASE=${SLURM_LOCAL_BASE:-/tmp/hpc-itt-slurm}
FAKE_GPUS=${SLURM_FAKE_GPUS:-2}
CLUSTER=${SLURM_CLUSTER:-localci}
PARTITION=${SLURM_PARTITION:-debug}
SKIP_APT=${SLURM_SKIP_APT:-0}
NODES=${SLURM_NODES:-1}
PORT_BASE=${SLURM_PORT_BASE:-6817}
SUBNET=${SLURM_SUBNET:-10.217.0}
NET_TAG=${SLURM_NET_TAG:-hpcitt}
NODE_PREFIX=${SLURM_NODE_PREFIX:-node}
ACCOUNT=ci
ARGS_ERR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) NODES=${2:-}; shift $(($# > 1 ? 2 : 1)) ;;
    --nodes=*) NODES=${1#--nodes=}; shift ;;
    *) ARGS_ERR="unknown argument '$1' (usage: $0 [--nodes N])"; break ;;
  esac
done

# ---------------------------------------------------------------- helpers
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }
secs() { local d=$(($(now_us) - $1)); printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10)); }
T0=$(now_us); PHASE_T0=$T0; TIMINGS=()
log() { printf '[slurm-local %5ss] %s\n' "$(secs "$T0")" "$*"; }
die() { local rc=${2:-1}; log "ERROR: $1" >&2; exit "$rc"; }
phase_done() { TIMINGS+=("$1=$(secs "$PHASE_T0")s"); PHASE_T0=$(now_us); }
show_log() { [ -f "$1" ] && { echo "---- tail of $1" >&2; tail -n 25 "$1" >&2; echo "----" >&2; }; return 0; }

# live PID: the process exists and is not a zombie (PID 1 here can take ~2 s to reap one)
live() {
  local st
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$st" ] && [ "$st" != Z ]
}
# running PIDFILE NAME: the pid file names a live process whose comm is exactly NAME
running() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && live "$pid"
}
# alive PIDFILE: no pid file yet (daemon still starting), or it names a live process
alive() { [ ! -s "$1" ] || live "$(cat "$1" 2>/dev/null)"; }
# wait_for WHAT SECONDS LOGFILE PIDFILE CMD...: retry CMD (each try at most 5 s) until it succeeds;
# fail with the tail of LOGFILE as soon as the daemon in PIDFILE has died, or after SECONDS.
wait_for() {
  local what=$1 limit=$2 logf=$3 pf=$4 deadline
  shift 4
  deadline=$(($(now_us) + limit * 1000000))
  until timeout 5 "$@" >/dev/null 2>&1; do
    if ! alive "$pf"; then show_log "$logf"; die "$what exited during startup"; fi
    if [ "$(now_us)" -gt "$deadline" ]; then show_log "$logf"; die "$what not ready after $limit s"; fi
    sleep 0.25
  done
}

# start_daemon LABEL COMM PIDFILE LOGFILE TIMEOUT CMD... -- READY-CHECK...: run CMD, which starts a
# self-daemonising daemon (process name COMM, writes PIDFILE), unless that daemon already runs
start_daemon() {
  local label=$1 comm=$2 pid=$3 logf=$4 timeout=$5 cmd=(); shift 5
  while [ "$1" != "--" ]; do cmd+=("$1"); shift; done
  shift
  if running "$pid" "$comm"; then
    log "$label already running (pid $(cat "$pid"))"
    return 0
  fi
  rm -f "$pid"
  "${cmd[@]}" </dev/null >>"$DAEMON_OUT" 2>&1 || { show_log "$logf"; die "$label failed to start"; }
  wait_for "$label" "$timeout" "$logf" "$pid" "$@"
  log "$label started (pid $(cat "$pid"))"
}
# start_slurm_daemon NAME TIMEOUT [DAEMON-ARG...] -- READY-CHECK...: start a Slurm daemon in this
# host's namespaces; its pid and log files are $BASE/run/NAME.pid and $BASE/log/NAME.log
start_slurm_daemon() {
  local name=$1 timeout=$2; shift 2
  start_daemon "$name" "$name" "$BASE/run/$name.pid" "$BASE/log/$name.log" "$timeout" "$name" "$@"
}

# stop_pid PIDFILE NAME: TERM, wait up to 10 s (a zombie counts as stopped), KILL
stop_pid() {
  local pid k
  running "$1" "$2" || return 0
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || true
  for ((k = 0; k < 100; k++)); do live "$pid" || break; sleep 0.1; done
  if live "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$1"
}

[ -z "$ARGS_ERR" ] || die "$ARGS_ERR"
[ "$(id -u)" = 0 ] || die "must run as root (SlurmUser=root, mknod, apt-get)" 2
[[ "$FAKE_GPUS" =~ ^[0-9]+$ ]] || die "SLURM_FAKE_GPUS must be a number, got '$FAKE_GPUS'"
# node K gets $SUBNET.(10+K) and the root-side veth $NET_TAG-vK (IFNAMSIZ: at most 15 characters)
[[ "$NODES" =~ ^[0-9]+$ ]] && [ "$NODES" -ge 1 ] && [ "$NODES" -le 64 ] || die "--nodes must be 1..64, got '$NODES'"
[[ "$PORT_BASE" =~ ^[0-9]+$ ]] && [ "$PORT_BASE" -ge 1024 ] && [ "$PORT_BASE" -le 65532 ] ||
  die "SLURM_PORT_BASE must be 1024..65532, got '$PORT_BASE'"
CTLD_PORT=$PORT_BASE SLURMD_PORT=$((PORT_BASE + 1)) DBD_PORT=$((PORT_BASE + 2)) DB_PORT=$((PORT_BASE + 3))
MULTI=0
if [ "$NODES" -gt 1 ]; then
  MULTI=1
  [[ "$NET_TAG" =~ ^[a-z0-9][a-z0-9-]{0,9}$ ]] || die "SLURM_NET_TAG must be 1-10 of [a-z0-9-], got '$NET_TAG'"
  [[ "$NODE_PREFIX" =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "SLURM_NODE_PREFIX must be [a-z][a-z0-9-]*, got '$NODE_PREFIX'"
  [[ "$SUBNET" =~ ^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){2}$ ]] ||
    die "SLURM_SUBNET must be three octets like 10.217.0, got '$SUBNET'"
  command -v ip >/dev/null && command -v unshare >/dev/null && command -v nsenter >/dev/null ||
    die "multi-node mode needs ip (iproute2), unshare and nsenter (util-linux)"
fi
mkdir -p "$BASE"/{etc,run,log,state/ctld,state/d,munge/etc,munge/run,munge/lib,munge/log,mysql/data,mysql/run,mysql/log,fakedev}

# ---------------------------------------------------------------- 1. packages
PKGS=(munge slurm-client slurmctld slurmd slurmdbd mariadb-server mariadb-client)
CMDS=(munged mungekey slurmctld slurmd slurmdbd sbatch sacct sacctmgr mariadbd mariadb-install-db mariadb)
missing=()
if command -v dpkg-query >/dev/null; then
  for p in "${PKGS[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
else # not Debian: accept Slurm/munge/MariaDB installed some other way
  for c in "${CMDS[@]}"; do command -v "$c" >/dev/null || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] || die "no dpkg and missing commands: ${missing[*]}" 3
fi
if [ ${#missing[@]} -gt 0 ]; then
  [ "$SKIP_APT" = 1 ] && die "missing packages: ${missing[*]} (SLURM_SKIP_APT=1)" 3
  command -v apt-get >/dev/null || die "missing packages: ${missing[*]} and no apt-get" 3
  log "installing: ${missing[*]} (apt log: $BASE/log/apt.log)"
  MADE_POLICY=0
  # Package postinst scripts must not start system-wide munge/slurm/mariadb services.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, slurm/local/start.sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    MADE_POLICY=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q > "$BASE/log/apt.log" 2>&1 || { show_log "$BASE/log/apt.log"; die "apt-get update failed" 3; }
  apt-get install -y -q --no-install-recommends "${missing[@]}" >> "$BASE/log/apt.log" 2>&1 \
    || { show_log "$BASE/log/apt.log"; die "apt-get install failed" 3; }
  if [ "$MADE_POLICY" = 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  log "packages installed"
else
  log "packages already installed"
fi
phase_done packages

# ---------------------------------------------------------------- 2. configs
NODE=$(hostname -s)
MUNGE_SOCK=$BASE/munge/run/munge.socket.2
CONF=$BASE/etc/slurm.conf
chmod 700 "$BASE/munge/etc" "$BASE/munge/lib" "$BASE/munge/log"
chmod 755 "$BASE/munge/run"

# Hardware as slurmd sees it. RealMemory is reported 10 % low so the node never drains for
# "Low RealMemory".
HW=$(slurmd -C 2>/dev/null | head -n 1)
hw() { local v; v=$(tr ' ' '\n' <<<"$HW" | sed -n "s/^$1=//p"); [ -n "$v" ] || die "slurmd -C gave no $1: '$HW'"; echo "$v"; }
[ -n "$HW" ] || die "slurmd -C printed nothing"
CPUS=$(hw CPUs)
BOARDS=$(hw Boards)
SOCKETS=$(hw SocketsPerBoard)
CORES=$(hw CoresPerSocket)
THREADS=$(hw ThreadsPerCore)
MEM=$(hw RealMemory)
MEM=$((MEM * 90 / 100))

# Job ids must never repeat across cold starts: submitit folders keyed by %j would otherwise hand
# back stale result pickles. The first id comes from the clock (0.1 s resolution, wraps after
# ~69 days; stays below Slurm's MaxJobId 67043328) and is kept with the controller state.
if [ ! -s "$BASE/state/first_job_id" ]; then
  echo $((1000000 + ($(now_us) / 100000) % 60000000)) > "$BASE/state/first_job_id"
fi
FIRST_JOB_ID=$(cat "$BASE/state/first_job_id")

# Slurm 22.05 has no listen-address setting; NoCtldInAddrAny/NoInAddrAny make slurmctld, slurmd
# (and srun) bind to the address the host name resolves to. Only used when that is loopback, so a
# container whose host name resolves to its bridge address keeps the default (all addresses).
COMM_PARAMS=""
case "$(getent ahostsv4 "$NODE" 2>/dev/null | awk 'NR == 1 {print $1}')" in
  127.*) COMM_PARAMS="CommunicationParameters=NoCtldInAddrAny,NoInAddrAny" ;;
esac

# Node layout. Single node: this host, on loopback. Multi-node: PREFIX1..N in network namespaces.
# The controller keeps this host's name; SlurmctldHost must be a name slurmctld's gethostname()
# returns. NoCtldInAddrAny binds slurmctld to what that name resolves to, so slurmctld runs in a
# private mount namespace where $BASE/etc/hosts (name -> bridge address) covers /etc/hosts: it
# listens on the bridge address only. Not NoInAddrAny: an srun in the root namespace would then
# bind its I/O ports to the loopback address of this host's name, which the nodes cannot reach.
# Per-node slurmd files use %n (Slurm substitutes the node name given with -N).
NODE_NAMES=() NODE_ADDRS=() NODE_NS=() NODE_VETH=()
if [ "$MULTI" = 0 ]; then
  CTLD_ADDR=127.0.0.1 SLURMD_TIMEOUT=60 ACCT_HOST=localhost ACCT_ADDR=127.0.0.1 DBD_COMM_PARAMS=""
  # slurmdbd, like slurmctld, on loopback only when this host's name resolves there (not 0.0.0.0).
  if [ -n "$COMM_PARAMS" ]; then DBD_COMM_PARAMS="CommunicationParameters=NoInAddrAny"; fi
  SLURMD_SPOOL=$BASE/state/d SLURMD_PIDF=$BASE/run/slurmd.pid SLURMD_LOGF=$BASE/log/slurmd.log
  NODE_NAMES=("$NODE") NODE_ADDRS=(127.0.0.1)
else
  # slurmctld pings nodes every SlurmdTimeout/3 and marks one DOWN after SlurmdTimeout without an
  # answer (single node: 60 s). With 10 s a "power loss" (kill-node.sh) makes the node DOWN and ends
  # its jobs in ~27 s: each failed ping also retries the refused connection for MessageTimeout (10 s).
  CTLD_ADDR=$SUBNET.1 SLURMD_TIMEOUT=10
  SLURMD_SPOOL=$BASE/state/d-%n SLURMD_PIDF=$BASE/run/slurmd-%n.pid SLURMD_LOGF=$BASE/log/slurmd-%n.log
  COMM_PARAMS="CommunicationParameters=NoCtldInAddrAny"
  # slurmdbd too listens on the bridge address only (slurmdbd.conf NoInAddrAny + the same hosts
  # file), where the nodes reach it as well: sacct/sacctmgr work inside jobs as on a real cluster.
  ACCT_HOST=$CTLD_ADDR ACCT_ADDR=$CTLD_ADDR DBD_COMM_PARAMS="CommunicationParameters=NoInAddrAny"
  BRIDGE=$NET_TAG-br
  for ((k = 1; k <= NODES; k++)); do
    NODE_NAMES+=("$NODE_PREFIX$k") NODE_ADDRS+=("$SUBNET.$((10 + k))")
    NODE_NS+=("$NET_TAG-$NODE_PREFIX$k") NODE_VETH+=("$NET_TAG-v$k")
  done
  for n in "${NODE_NAMES[@]}"; do
    [ "$n" != "$NODE" ] || die "this host's name '$NODE' (the controller's) is also a node name; set SLURM_NODE_PREFIX"
  done
fi
node_file() { echo "${1/\%n/$2}"; } # node_file TEMPLATE NODE: the per-node path slurmd uses

GRES_NODE="" GRES_TYPES=""
: > "$BASE/etc/gres.conf.new"
if [ "$FAKE_GPUS" -gt 0 ]; then
  # gres.conf File= must be a character device (a regular file is rejected and the job then gets
  # no CUDA_VISIBLE_DEVICES). 195 is the NVIDIA major; nothing ever opens them (TaskPlugin=task/none).
  # All nodes share the same device files: they are bookkeeping only.
  for ((i = 0; i < FAKE_GPUS; i++)); do
    f=$BASE/fakedev/nvidia$i
    [ -c "$f" ] && continue
    rm -f "$f"
    mknod "$f" c 195 "$i" || die "mknod $f failed (needs CAP_MKNOD); set SLURM_FAKE_GPUS=0 to run without fake GPUs"
  done
  GRES_NODE="Gres=gpu:$FAKE_GPUS" GRES_TYPES="GresTypes=gpu"
  for n in "${NODE_NAMES[@]}"; do
    echo "NodeName=$n Name=gpu File=$BASE/fakedev/nvidia[0-$((FAKE_GPUS - 1))]" >> "$BASE/etc/gres.conf.new"
  done
fi
NODE_LINES=""
for ((k = 0; k < ${#NODE_NAMES[@]}; k++)); do
  NODE_LINES+="NodeName=${NODE_NAMES[k]} NodeAddr=${NODE_ADDRS[k]} CPUs=$CPUS Boards=$BOARDS SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM $GRES_NODE State=UNKNOWN"$'\n'
done

cat > "$CONF.new" <<EOF
# generated by slurm/local/start.sh - do not edit
ClusterName=$CLUSTER
SlurmctldHost=$NODE($CTLD_ADDR)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
$COMM_PARAMS
AuthType=auth/munge
CredType=cred/munge
# cred_expire also bounds how long a requeued job is held (BeginTime) before it may run again (default 120 s)
AuthInfo=socket=$MUNGE_SOCK,cred_expire=10
StateSaveLocation=$BASE/state/ctld
SlurmdSpoolDir=$SLURMD_SPOOL
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$SLURMD_PIDF
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$SLURMD_LOGF
SlurmctldDebug=info
SlurmdDebug=info
FirstJobId=$FIRST_JOB_ID
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=$ACCT_HOST
AccountingStoragePort=$DBD_PORT
# the ctld/sacct/sacctmgr -> slurmdbd link authenticates through this munge socket (AuthInfo does not apply to it)
AccountingStoragePass=$MUNGE_SOCK
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=2,sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
$GRES_TYPES
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=$SLURMD_TIMEOUT
Waittime=0
${NODE_LINES}PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

# Multi-node: the hosts file the nodes and slurmctld see as /etc/hosts (the real one is untouched).
CONF_FILES=(slurm.conf gres.conf slurmdbd.conf)
if [ "$MULTI" = 1 ]; then
  {
    echo "# generated by slurm/local/start.sh - do not edit (bind-mounted over /etc/hosts in the nodes and slurmctld)"
    echo "127.0.0.1 localhost"
    echo "::1 localhost ip6-localhost ip6-loopback"
    echo "$CTLD_ADDR $NODE"
    for ((k = 0; k < NODES; k++)); do echo "${NODE_ADDRS[k]} ${NODE_NAMES[k]}"; done
  } > "$BASE/etc/hosts.new"
  CONF_FILES+=(hosts)
else
  rm -f "$BASE/etc/hosts"
fi

cat > "$BASE/etc/slurmdbd.conf.new" <<EOF
# generated by slurm/local/start.sh - do not edit
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
DbdHost=localhost
DbdAddr=$ACCT_ADDR
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$BASE/run/slurmdbd.pid
LogFile=$BASE/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
[ -z "$DBD_COMM_PARAMS" ] || echo "$DBD_COMM_PARAMS" >> "$BASE/etc/slurmdbd.conf.new"

CONF_CHANGED=0
for f in "${CONF_FILES[@]}"; do
  if cmp -s "$BASE/etc/$f.new" "$BASE/etc/$f"; then
    rm -f "$BASE/etc/$f.new"
  else
    mv "$BASE/etc/$f.new" "$BASE/etc/$f"
    CONF_CHANGED=1
  fi
done
chmod 600 "$BASE/etc/slurmdbd.conf" # slurmdbd refuses a conf readable by others
export SLURM_CONF=$CONF
echo "export SLURM_CONF=$CONF" > "$BASE/env.sh"

# every slurmd pid file: the single-node one and the per-node ones (also of an earlier node count)
slurmd_pidfiles() { local f; for f in "$BASE/run/slurmd.pid" "$BASE/run"/slurmd-*.pid; do [ -e "$f" ] && echo "$f"; done; return 0; }
any_slurmd_running() { local f; for f in $(slurmd_pidfiles); do running "$f" slurmd && return 0; done; return 1; }

# A changed hosts file also needs the restart: the running daemons have the old file bind-mounted.
if [ "$CONF_CHANGED" = 1 ] && { running "$BASE/run/slurmctld.pid" slurmctld || any_slurmd_running ||
  running "$BASE/run/slurmdbd.pid" slurmdbd; }; then
  log "config changed while daemons run: restarting slurmd, slurmctld, slurmdbd"
  for f in $(slurmd_pidfiles); do stop_pid "$f" slurmd; done
  stop_pid "$BASE/run/slurmctld.pid" slurmctld
  stop_pid "$BASE/run/slurmdbd.pid" slurmdbd
fi
phase_done configs

# ---------------------------------------------------------------- 3. node network (multi-node)
# Every bridge/veth/netns this script creates is recorded in $BASE/run/netns.list ("KIND NAME")
# before it is created; stop.sh deletes exactly those. An object of the wanted name that is not in
# the list belongs to someone else (another cluster with the same SLURM_NET_TAG): never touch it.
NETLIST=$BASE/run/netns.list
touch "$NETLIST"
owned() { grep -qx "$1 $2" "$NETLIST"; }
own() { owned "$1" "$2" || echo "$1 $2" >> "$NETLIST"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
ns_exists() { [ -e "/run/netns/$1" ]; }
claim() { # claim KIND NAME: fail if NAME exists and is not ours, else record it
  local exists=0
  case "$1" in netns) ns_exists "$2" && exists=1 ;; *) link_exists "$2" && exists=1 ;; esac
  if [ "$exists" = 1 ] && ! owned "$1" "$2"; then
    die "$1 $2 exists but was not created for $BASE (see $NETLIST); another cluster? set SLURM_NET_TAG"
  fi
  own "$1" "$2"
}
# kill_ns NS: SIGKILL every process in the namespace (what is left after slurmd stopped: steps, jobs)
kill_ns() {
  local k pids
  for ((k = 0; k < 50; k++)); do
    pids=$(ip netns pids "$1" 2>/dev/null | while read -r p; do live "$p" && echo "$p"; done || true)
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  log "WARNING: processes still in netns $1: $pids"
}
# drop_net KIND NAME: delete one recorded object and its record
drop_net() {
  case "$1" in
    netns) if ns_exists "$2"; then kill_ns "$2"; ip netns del "$2" || die "ip netns del $2 failed"; fi ;;
    *) if link_exists "$2"; then ip link del "$2" || die "ip link del $2 failed"; fi ;;
  esac
  sed -i "/^$1 $2\$/d" "$NETLIST"
}

# Objects of an earlier layout (another node count, or single-node now): the daemons that used
# them were stopped above, because the config changed.
WANT=()
if [ "$MULTI" = 1 ]; then
  WANT+=("bridge $BRIDGE")
  for ((k = 0; k < NODES; k++)); do WANT+=("netns ${NODE_NS[k]}" "veth ${NODE_VETH[k]}"); done
fi
wanted() { local w; for w in ${WANT[@]+"${WANT[@]}"}; do [ "$w" = "$1" ] && return 0; done; return 1; }
while read -r kind name; do
  [ -n "$name" ] || continue
  wanted "$kind $name" && continue
  log "removing $kind $name (no longer part of the cluster)"
  drop_net "$kind" "$name" # kills what is left in a namespace (the slurmds were stopped above)
done < <(grep -E '^netns ' "$NETLIST"; grep -vE '^netns ' "$NETLIST") # namespaces first (veth ends go with them)

if [ "$MULTI" = 1 ]; then
  # IPv6 stays off on all these links: no link-local addresses, router solicitations or DAD.
  if ! link_exists "$BRIDGE"; then
    if ip -4 -o addr show to "$SUBNET.0/24" 2>/dev/null | grep -q .; then
      die "subnet $SUBNET.0/24 is already in use here ($(ip -4 -o addr show to "$SUBNET.0/24" | awk '{print $2, $4}' | head -n 1)); set SLURM_SUBNET"
    fi
  fi
  claim bridge "$BRIDGE"
  if ! link_exists "$BRIDGE"; then
    ip link add "$BRIDGE" type bridge || die "ip link add $BRIDGE type bridge failed (needs CAP_NET_ADMIN)"
    log "created bridge $BRIDGE"
  fi
  sysctl -qw "net.ipv6.conf.$BRIDGE.disable_ipv6=1" >/dev/null 2>&1 || true
  ip addr replace "$CTLD_ADDR/24" dev "$BRIDGE" || die "ip addr add $CTLD_ADDR/24 dev $BRIDGE failed"
  ip link set "$BRIDGE" up || die "ip link set $BRIDGE up failed"
  for ((k = 0; k < NODES; k++)); do
    ns=${NODE_NS[k]} veth=${NODE_VETH[k]} pidf=$(node_file "$SLURMD_PIDF" "${NODE_NAMES[k]}")
    claim netns "$ns"
    claim veth "$veth"
    if ! ns_exists "$ns"; then
      stop_pid "$pidf" slurmd # a slurmd still running in a namespace that was deleted is cut off
      ip netns add "$ns" || die "ip netns add $ns failed"
      log "created netns $ns"
    fi
    ip netns exec "$ns" sh -c 'for c in all default; do echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6; done' 2>/dev/null || true
    ip -n "$ns" link set lo up || die "ip -n $ns link set lo up failed"
    if ! link_exists "$veth"; then
      ip -n "$ns" link del eth0 >/dev/null 2>&1 || true
      ip link add "$veth" type veth peer name eth0 netns "$ns" || die "ip link add $veth (veth into $ns) failed"
      log "created veth $veth <-> $ns:eth0"
    fi
    sysctl -qw "net.ipv6.conf.$veth.disable_ipv6=1" >/dev/null 2>&1 || true
    ip link set "$veth" master "$BRIDGE" up || die "attaching $veth to $BRIDGE failed"
    ip -n "$ns" addr replace "${NODE_ADDRS[k]}/24" dev eth0 || die "ip -n $ns addr add ${NODE_ADDRS[k]}/24 failed"
    ip -n "$ns" link set eth0 up || die "ip -n $ns link set eth0 up failed"
  done
  # for kill-node.sh and stop.sh: NODE NETNS ADDRESS
  for ((k = 0; k < NODES; k++)); do echo "${NODE_NAMES[k]} ${NODE_NS[k]} ${NODE_ADDRS[k]}"; done > "$BASE/run/nodes.list"
  phase_done network
else
  rm -f "$BASE/run/nodes.list"
fi
[ -s "$NETLIST" ] || rm -f "$NETLIST"

# All daemons get /dev/null as stdin and a file as stdout/stderr, so none keeps the caller's
# pipes open (a pytest subprocess.run(capture_output=True) would otherwise never return).
DAEMON_OUT=$BASE/log/daemons.out
# Multi-node: prefix that runs a root-namespace daemon in a private mount namespace where the
# cluster's hosts file covers /etc/hosts (this host's name -> bridge address).
HOSTS_NS=(unshare --mount --propagation private sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$BASE/etc/hosts")

# ---------------------------------------------------------------- 4. munged
if running "$BASE/munge/run/munged.pid" munged; then
  log "munged already running (pid $(cat "$BASE/munge/run/munged.pid"))"
else
  [ -s "$BASE/munge/etc/munge.key" ] || mungekey -c -k "$BASE/munge/etc/munge.key"
  chmod 600 "$BASE/munge/etc/munge.key"
  rm -f "$MUNGE_SOCK" "$MUNGE_SOCK.lock" "$BASE/munge/run/munged.pid"
  munged -S "$MUNGE_SOCK" --key-file="$BASE/munge/etc/munge.key" --log-file="$BASE/munge/log/munged.log" \
    --pid-file="$BASE/munge/run/munged.pid" --seed-file="$BASE/munge/lib/munged.seed" --num-threads=4 \
    </dev/null >>"$DAEMON_OUT" 2>&1 || { show_log "$BASE/munge/log/munged.log"; die "munged failed to start"; }
  wait_for munged 10 "$BASE/munge/log/munged.log" "$BASE/munge/run/munged.pid" sh -c "munge -S '$MUNGE_SOCK' -n | unmunge -S '$MUNGE_SOCK'"
  log "munged started (pid $(cat "$BASE/munge/run/munged.pid"))"
fi
phase_done munged

# ---------------------------------------------------------------- 5. MariaDB
DB=$BASE/mysql
DBSOCK=$DB/run/mysqld.sock
if running "$DB/run/mysqld.pid" mariadbd; then
  log "mariadbd already running (pid $(cat "$DB/run/mysqld.pid"))"
else
  if [ ! -d "$DB/data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$DB/data" --user=root --auth-root-authentication-method=normal \
      --skip-test-db > "$DB/log/install.log" 2>&1 || { show_log "$DB/log/install.log"; die "mariadb-install-db failed"; }
  fi
  rm -f "$DBSOCK" "$DB/run/mysqld.pid"
  setsid mariadbd --no-defaults --datadir="$DB/data" --user=root --socket="$DBSOCK" --port="$DB_PORT" \
    --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$DB/run/mysqld.pid" --log-error="$DB/log/error.log" \
    --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 </dev/null >>"$DAEMON_OUT" 2>&1 &
  echo $! > "$DB/run/mysqld.pid" # same pid after exec (setsid does not fork outside job control); mariadbd rewrites it
  wait_for mariadbd 60 "$DB/log/error.log" "$DB/run/mysqld.pid" mariadb --no-defaults -S "$DBSOCK" -uroot -e 'select 1'
  log "mariadbd started (pid $(cat "$DB/run/mysqld.pid"))"
fi
mariadb --no-defaults -S "$DBSOCK" -uroot <<'EOF' || die "creating the slurm database/user failed"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
phase_done mariadb

# ---------------------------------------------------------------- 6. slurmdbd + accounting entities
# Multi-node: in a private mount namespace with the cluster's hosts file, like slurmctld (below)
if [ "$MULTI" = 0 ]; then
  start_slurm_daemon slurmdbd 60 -- sacctmgr -n -P show cluster format=cluster
else
  start_daemon slurmdbd slurmdbd "$BASE/run/slurmdbd.pid" "$BASE/log/slurmdbd.log" 60 "${HOSTS_NS[@]}" slurmdbd \
    -- sacctmgr -n -P show cluster format=cluster
fi
if [ -z "$(sacctmgr -n -P show cluster "$CLUSTER" format=cluster 2>/dev/null)" ]; then
  sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr add cluster failed"
  log "registered cluster $CLUSTER"
fi
if [ -z "$(sacctmgr -n -P show assoc cluster="$CLUSTER" user=root account="$ACCOUNT" format=user 2>/dev/null)" ]; then
  sacctmgr -i add account "$ACCOUNT" Description=ci Organization=ci Cluster="$CLUSTER" >/dev/null 2>&1 || true
  sacctmgr -i add user root Account="$ACCOUNT" Cluster="$CLUSTER" >/dev/null || die "sacctmgr add user failed"
  log "registered account $ACCOUNT and user root"
fi
phase_done slurmdbd

# ---------------------------------------------------------------- 7. slurmctld
if [ "$MULTI" = 0 ]; then
  start_slurm_daemon slurmctld 30 -- sh -c "scontrol ping | grep -q 'is UP'"
else
  # root network namespace, private mount namespace: its host name resolves to the bridge address
  # there (NoCtldInAddrAny binds to it), and it resolves the node names like the nodes do.
  start_daemon slurmctld slurmctld "$BASE/run/slurmctld.pid" "$BASE/log/slurmctld.log" 30 "${HOSTS_NS[@]}" slurmctld \
    -- sh -c "scontrol ping | grep -q 'is UP'"
fi
phase_done slurmctld

# ---------------------------------------------------------------- 8. slurmd
# Multi-node: each slurmd runs in its node's network namespace, with its own UTS namespace (host
# name = node name) and mount namespace (the cluster's hosts file over /etc/hosts); job steps and
# job processes inherit all three. nsenter, not `ip netns exec`: that mounts a fresh /sys, without
# the cgroup mounts under /sys/fs/cgroup, and slurmd then fails ("Unable to initialize cgroup plugin"). Same filesystem otherwise: munge socket, configs and job
# folders are shared, as on a cluster with a shared file system.
for ((k = 0; k < ${#NODE_NAMES[@]}; k++)); do
  n=${NODE_NAMES[k]}
  pidf=$(node_file "$SLURMD_PIDF" "$n") logf=$(node_file "$SLURMD_LOGF" "$n")
  mkdir -p "$(node_file "$SLURMD_SPOOL" "$n")"
  if [ "$MULTI" = 0 ]; then
    start_daemon slurmd slurmd "$pidf" "$logf" 20 slurmd -N "$n" -- test -s "$pidf"
  else
    start_daemon "slurmd $n" slurmd "$pidf" "$logf" 20 nsenter --net="/run/netns/${NODE_NS[k]}" \
      unshare --uts --mount --propagation private \
      sh -c 'hostname "$1" && mount --bind "$0" /etc/hosts && shift && exec "$@"' "$BASE/etc/hosts" "$n" slurmd -N "$n" \
      -- test -s "$pidf"
  fi
  running "$pidf" slurmd || { show_log "$logf"; die "slurmd $n exited during startup"; }
done
phase_done slurmd

# ---------------------------------------------------------------- 9. nodes usable
# A node that is down/drained (e.g. it lost power: kill-node.sh) is resumed; with ReturnToService=2
# it also returns by itself once its slurmd registers again.
NODE_LIST=$(IFS=,; echo "${NODE_NAMES[*]}")
states="" ok=0
for ((t = 0; t < 240; t++)); do
  for ((k = 0; k < ${#NODE_NAMES[@]}; k++)); do
    n=${NODE_NAMES[k]}
    running "$(node_file "$SLURMD_PIDF" "$n")" slurmd || { show_log "$(node_file "$SLURMD_LOGF" "$n")"; die "slurmd $n died"; }
  done
  running "$BASE/run/slurmctld.pid" slurmctld || { show_log "$BASE/log/slurmctld.log"; die "slurmctld died"; }
  states=$(timeout 10 sinfo -h -N -n "$NODE_LIST" -o '%N %T' 2>/dev/null | sort -u || true)
  ok=1
  for n in "${NODE_NAMES[@]}"; do
    state=$(awk -v n="$n" '$1 == n {print $2; exit}' <<<"$states")
    case "$state" in
      idle | mixed | allocated | completing) ;;
      down* | drain*) ok=0; scontrol update NodeName="$n" State=RESUME >/dev/null 2>&1 || true ;;
      *) ok=0 ;;
    esac
  done
  [ "$ok" = 1 ] && break
  sleep 0.25
done
if [ "$ok" != 1 ]; then
  sinfo -R >&2 || true
  show_log "$BASE/log/slurmctld.log"
  for n in "${NODE_NAMES[@]}"; do show_log "$(node_file "$SLURMD_LOGF" "$n")"; done
  die "nodes not usable after 60 s (states: $(echo $states))"
fi
phase_done node
TIMINGS+=("total=$(secs "$T0")s")

if [ "$MULTI" = 0 ]; then
  log "cluster up: node $NODE is $state"
else
  log "cluster up: $NODES nodes ($(echo $states)); controller $NODE at $CTLD_ADDR, nodes in netns ${NODE_NS[0]}.."
fi
sinfo -o '%P %a %l %D %T %N %G'
log "timings: ${TIMINGS[*]}"
echo "  export SLURM_CONF=$CONF    # or: source $BASE/env.sh"
echo "  logs: $BASE/log/   stop: $(dirname "$(readlink -f "$0")")/stop.sh [--purge]"
