#!/usr/bin/env bash
# A single-node Slurm cluster on localhost for tests and CI (Debian's slurm-wlm and munge).
#
#   scripts/slurm-local.sh start    # configure, start munged + slurmctld + slurmd, wait until idle
#   scripts/slurm-local.sh stop     # stop the three daemons started here (by their pid files)
#   scripts/slurm-local.sh status   # sinfo
#
# Needs root (the daemons run as root: no slurm user, no cgroups: proctrack/linuxproc,
# task/none). No accounting database: `squeue -t all` and `scontrol show job` give each job's
# state while slurmctld keeps it (MinJobAge). Install the packages first:
#   apt-get install -y slurm-wlm munge
# Prints one line and exits non-zero where the cluster cannot be started.
set -euo pipefail
STATE=${SLURM_LOCAL_STATE:-/var/lib/hybridir-slurm}
CONF=/etc/slurm/slurm.conf
CPUS=${SLURM_LOCAL_CPUS:-2}

die() { echo "slurm-local: $*" >&2; exit 1; }

write_conf() {
  local mem
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
  mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$STATE/log"
  cat > "$CONF" <<EOF
# written by hybridir scripts/slurm-local.sh: one node, localhost
ClusterName=hybridir
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  if [ -f "$STATE/munged.pid" ] && kill -0 "$(cat "$STATE/munged.pid")" 2>/dev/null; then return; fi
  [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
    || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
  runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
  cp /run/munge/munged.pid "$STATE/munged.pid"
  munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"
}

start() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
    || die "slurm-wlm and munge are not installed (apt-get install -y slurm-wlm munge)"
  [ "$(id -u)" = 0 ] || die "must run as root (it writes $CONF and starts daemons)"
  write_conf
  start_munge
  if ! { [ -f "$STATE/slurmctld.pid" ] && kill -0 "$(cat "$STATE/slurmctld.pid")" 2>/dev/null; }; then
    slurmctld -c -f "$CONF" || die "slurmctld did not start (see $STATE/log/slurmctld.log)"
  fi
  if ! { [ -f "$STATE/slurmd.pid" ] && kill -0 "$(cat "$STATE/slurmd.pid")" 2>/dev/null; }; then
    slurmd -N localhost -f "$CONF" || die "slurmd did not start (see $STATE/log/slurmd.log)"
  fi
  for _ in $(seq 1 60); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
    case "$state" in idle|mix|alloc) echo "slurm-local: up (node localhost $state, $CPUS CPUs, partition debug)"; return 0;; esac
    sleep 0.5
  done
  die "node not idle after 30 s (state '${state:-none}'; see $STATE/log/)"
}

stop_pid() {  # stop one daemon by its pid file, wait for it to go
  local file=$1
  [ -f "$file" ] || return 0
  local pid; pid=$(cat "$file")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$file"
}

stop() {
  stop_pid "$STATE/slurmd.pid"
  stop_pid "$STATE/slurmctld.pid"
  stop_pid "$STATE/munged.pid"
  echo "slurm-local: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
