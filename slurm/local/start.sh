#!/usr/bin/env bash
# slurm/local/start.sh - bring up a real single-node Slurm cluster (Debian 12 packages, Slurm 22.05)
# without systemd: munged, MariaDB + slurmdbd (accounting, so `sacct` works), slurmctld and slurmd
# run as plain root daemons with everything (configs, state, logs, pid files) under one directory.
#
# Idempotent: installs only missing packages, rewrites configs (restarting the Slurm daemons only if
# a config changed), starts only daemons that are not running, waits until the node is usable.
#
# Settings (environment, all optional):
#   SLURM_LOCAL_BASE   directory for configs/state/logs/pids     (default /tmp/hpc-itt-slurm)
#   SLURM_FAKE_GPUS    fake GRES gpus (char devices via mknod)   (default 2; 0 = none)
#   SLURM_CLUSTER      cluster name                              (default localci)
#   SLURM_PARTITION    partition name                            (default debug)
#   SLURM_SKIP_APT     1 = never run apt-get                     (default 0)
# Ports: slurmctld 6817, slurmd 6818, slurmdbd 6819, mariadb 6820.
#
# Exit status: 0 ok, 1 a daemon/config failed (log tail printed), 2 not root,
#              3 packages missing and apt unusable (no apt-get, or update/install failed).
# Afterwards:  source "$SLURM_LOCAL_BASE/env.sh"      (exports SLURM_CONF)
# Stop:        slurm/local/stop.sh [--purge]
set -euo pipefail

BASE=${SLURM_LOCAL_BASE:-/tmp/hpc-itt-slurm}
FAKE_GPUS=${SLURM_FAKE_GPUS:-2}
CLUSTER=${SLURM_CLUSTER:-localci}
PARTITION=${SLURM_PARTITION:-debug}
SKIP_APT=${SLURM_SKIP_APT:-0}
CTLD_PORT=6817 SLURMD_PORT=6818 DBD_PORT=6819 DB_PORT=6820
ACCOUNT=ci

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

# start_slurm_daemon NAME TIMEOUT [DAEMON-ARG...] -- READY-CHECK...: start a self-daemonising Slurm
# daemon unless it already runs; its pid and log files are $BASE/run/NAME.pid and $BASE/log/NAME.log
start_slurm_daemon() {
  local name=$1 timeout=$2 args=(); shift 2
  while [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  local pid="$BASE/run/$name.pid" logf="$BASE/log/$name.log"
  if running "$pid" "$name"; then
    log "$name already running (pid $(cat "$pid"))"
    return 0
  fi
  rm -f "$pid"
  "$name" ${args[@]+"${args[@]}"} </dev/null >>"$DAEMON_OUT" 2>&1 || { show_log "$logf"; die "$name failed to start"; }
  wait_for "$name" "$timeout" "$logf" "$pid" "$@"
  log "$name started (pid $(cat "$pid"))"
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

[ "$(id -u)" = 0 ] || die "must run as root (SlurmUser=root, mknod, apt-get)" 2
[[ "$FAKE_GPUS" =~ ^[0-9]+$ ]] || die "SLURM_FAKE_GPUS must be a number, got '$FAKE_GPUS'"
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

GRES_NODE="" GRES_TYPES=""
: > "$BASE/etc/gres.conf.new"
if [ "$FAKE_GPUS" -gt 0 ]; then
  # gres.conf File= must be a character device (a regular file is rejected and the job then gets
  # no CUDA_VISIBLE_DEVICES). 195 is the NVIDIA major; nothing ever opens them (TaskPlugin=task/none).
  for ((i = 0; i < FAKE_GPUS; i++)); do
    f=$BASE/fakedev/nvidia$i
    [ -c "$f" ] && continue
    rm -f "$f"
    mknod "$f" c 195 "$i" || die "mknod $f failed (needs CAP_MKNOD); set SLURM_FAKE_GPUS=0 to run without fake GPUs"
  done
  GRES_NODE="Gres=gpu:$FAKE_GPUS" GRES_TYPES="GresTypes=gpu"
  echo "NodeName=$NODE Name=gpu File=$BASE/fakedev/nvidia[0-$((FAKE_GPUS - 1))]" > "$BASE/etc/gres.conf.new"
fi

cat > "$CONF.new" <<EOF
# generated by slurm/local/start.sh - do not edit
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
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
SlurmdSpoolDir=$BASE/state/d
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
FirstJobId=$FIRST_JOB_ID
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
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
SlurmdTimeout=60
Waittime=0
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS Boards=$BOARDS SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM $GRES_NODE State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

cat > "$BASE/etc/slurmdbd.conf.new" <<EOF
# generated by slurm/local/start.sh - do not edit
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCK
DbdHost=localhost
DbdAddr=127.0.0.1
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

CONF_CHANGED=0
for f in slurm.conf gres.conf slurmdbd.conf; do
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

if [ "$CONF_CHANGED" = 1 ] && { running "$BASE/run/slurmctld.pid" slurmctld || running "$BASE/run/slurmd.pid" slurmd ||
  running "$BASE/run/slurmdbd.pid" slurmdbd; }; then
  log "config changed while daemons run: restarting slurmd, slurmctld, slurmdbd"
  stop_pid "$BASE/run/slurmd.pid" slurmd
  stop_pid "$BASE/run/slurmctld.pid" slurmctld
  stop_pid "$BASE/run/slurmdbd.pid" slurmdbd
fi
phase_done configs

# All daemons get /dev/null as stdin and a file as stdout/stderr, so none keeps the caller's
# pipes open (a pytest subprocess.run(capture_output=True) would otherwise never return).
DAEMON_OUT=$BASE/log/daemons.out

# ---------------------------------------------------------------- 3. munged
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

# ---------------------------------------------------------------- 4. MariaDB
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

# ---------------------------------------------------------------- 5. slurmdbd + accounting entities
start_slurm_daemon slurmdbd 60 -- sacctmgr -n -P show cluster format=cluster
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

# ---------------------------------------------------------------- 6. slurmctld
start_slurm_daemon slurmctld 30 -- sh -c "scontrol ping | grep -q 'is UP'"
phase_done slurmctld

# ---------------------------------------------------------------- 7. slurmd
start_slurm_daemon slurmd 20 -N "$NODE" -- test -s "$BASE/run/slurmd.pid"
running "$BASE/run/slurmd.pid" slurmd || { show_log "$BASE/log/slurmd.log"; die "slurmd exited during startup"; }
phase_done slurmd

# ---------------------------------------------------------------- 8. node usable
state=""
for ((k = 0; k < 240; k++)); do
  running "$BASE/run/slurmd.pid" slurmd || { show_log "$BASE/log/slurmd.log"; die "slurmd died"; }
  running "$BASE/run/slurmctld.pid" slurmctld || { show_log "$BASE/log/slurmctld.log"; die "slurmctld died"; }
  state=$(timeout 10 sinfo -h -n "$NODE" -o '%T' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle | mixed | allocated | completing) break ;;
    down* | drain*) scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  sleep 0.25
done
case "$state" in
  idle | mixed | allocated | completing) ;;
  *)
    sinfo -R >&2 || true
    show_log "$BASE/log/slurmctld.log"
    show_log "$BASE/log/slurmd.log"
    die "node $NODE not usable after 60 s (state '$state')"
    ;;
esac
phase_done node
TIMINGS+=("total=$(secs "$T0")s")

log "cluster up: node $NODE is $state"
sinfo -o '%P %a %l %D %T %N %G'
log "timings: ${TIMINGS[*]}"
echo "  export SLURM_CONF=$CONF    # or: source $BASE/env.sh"
echo "  logs: $BASE/log/   stop: $(dirname "$(readlink -f "$0")")/stop.sh [--purge]"
