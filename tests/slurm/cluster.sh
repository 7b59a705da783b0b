#!/usr/bin/env bash
# A one-host Slurm cluster for exp's Slurm tests: munged, slurmctld and slurmd, with every file
# (configuration, keys, state, spool, logs, pid files) under one directory.
#
#   tests/slurm/cluster.sh up [DIR]     start it (installing slurm-wlm and munge from Debian if
#                                       missing, as root); prints the SLURM_CONF to use
#   tests/slurm/cluster.sh down [DIR]   stop exactly the daemons `up` started, remove DIR
#   tests/slurm/cluster.sh status [DIR] exit 0 when it answers
#
# DIR defaults to $EXP_SLURM_DIR, else ${TMPDIR:-/tmp}/exp-slurm. The cluster uses its own ports
# and munge socket, so it does not meet a Slurm or munge already on the machine. The daemons run
# as root (slurmd starts jobs as the user who submits them), so `up` needs root.
set -euo pipefail

command=${1:-}
dir=${2:-${EXP_SLURM_DIR:-${TMPDIR:-/tmp}/exp-slurm}}
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

die() { echo "cluster.sh: $*" >&2; exit 1; }

answers() { [ -f "$conf" ] && timeout 10 sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }

install_missing() {
  local missing=()
  command -v slurmctld >/dev/null || missing+=(slurm-wlm)
  command -v munged >/dev/null || missing+=(munge)
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
    die "${missing[*]} missing: install them (apt-get install ${missing[*]}) or run this as root"
  echo "cluster.sh: installing ${missing[*]}" >&2
  # Onto stderr: `up` prints only the configuration's path on stdout, for the caller to read.
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# A port nothing listens on, from a start value.
free_port() {
  local port=$1
  while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

up() {
  if answers; then echo "$conf"; return; fi
  [ "$(id -u)" = 0 ] || die "starting slurmd needs root (it starts jobs as their user); run: sudo $0 up $dir"
  install_missing
  [ -e "$dir" ] && down_quietly
  mkdir -p "$dir"/{munge,state,spool}
  chmod 700 "$dir" "$dir/munge"
  # munge: its own key and socket.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed"
  local host node ctld_port slurmd_port
  host=$(hostname -s)
  # The node as slurmd sees the hardware (CPUs, sockets, cores, memory), less 1 GiB of memory
  # for the daemons and the test process.
  node=$(slurmd -C | head -1)
  local memory
  memory=$(sed -nE 's/.*RealMemory=([0-9]+).*/\1/p' <<<"$node")
  node=$(sed -E "s/RealMemory=[0-9]+/RealMemory=$((memory > 2048 ? memory - 1024 : memory))/; s/UpTime=.*//" <<<"$node")
  ctld_port=$(free_port 16817)
  slurmd_port=$(free_port $((ctld_port + 1)))
  cat >"$conf" <<CONF
# Written by tests/slurm/cluster.sh: a one-host cluster for exp's tests.
ClusterName=exp-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
# Start jobs as soon as they fit: a test cluster has no throughput to protect (the defaults
# delay batch jobs by up to 3 s and backfill every 30 s).
SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=256
ReturnToService=2
MinJobAge=600
KillWait=10
SlurmdTimeout=60
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  slurmctld -f "$conf" -i
  slurmd -f "$conf" -N "$host"
  for _ in $(seq 1 60); do
    if answers; then echo "$conf"; return; fi
    sleep 0.5
  done
  echo "--- slurmctld.log" >&2; tail -20 "$dir/slurmctld.log" >&2 || true
  echo "--- slurmd.log" >&2; tail -20 "$dir/slurmd.log" >&2 || true
  die "the cluster did not come up within 30 s (logs above, under $dir)"
}

# Stops the daemons whose pid files are under DIR, and nothing else.
stop_daemons() {
  local pidfile pid
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

down_quietly() { stop_daemons; rm -rf "$dir"; }

case "$command" in
  up) up ;;
  down) down_quietly ;;
  status) answers ;;
  *) die "usage: $0 up|down|status [DIR]" ;;
esac
