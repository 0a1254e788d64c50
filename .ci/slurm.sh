#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for CI and the tests in tests/cluster/.
#
#   .ci/slurm.sh up       install Debian's slurm + munge if missing, start munged, slurmctld and
#                         slurmd, wait (bounded) until the node is idle; a no-op when it already is
#   .ci/slurm.sh down     stop the daemons this script started, remove their state and config
#   .ci/slurm.sh status   print the daemons' pids and `sinfo`; exit 0 only if the node is usable
#
# The node is `hostname -s` with this machine's CPUs (`nproc`) and memory; one partition,
# `debug`, the default. No cgroups (proctrack/linuxproc, task/none) and no accounting storage
# (no slurmdbd: `sacct` has nothing to read; `squeue`/`scontrol show job` know a job until
# MinJobAge after it ends). Needs root (apt-get, /etc/slurm); `sudo` is used when not root.
#
# Settings (environment): SNNPRIV_SLURM_STATE (state, logs and pids; default
# /var/tmp/snnpriv-slurm), SNNPRIV_SLURM_TIMEOUT (seconds `up` waits for an idle node; 120).
set -euo pipefail

STATE=${SNNPRIV_SLURM_STATE:-/var/tmp/snnpriv-slurm}
TIMEOUT=${SNNPRIV_SLURM_TIMEOUT:-120}
CONF=/etc/slurm/slurm.conf
MARK="# written by lightning_snnpriv .ci/slurm.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)

log() { echo "slurm.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
as_root() { "${SUDO[@]}" "$@"; }

# A pid file's process, if it is still alive (else nothing).
alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null && cat "$1"; }

# The node's state as sinfo prints it: idle, mixed, allocated, or with a suffix such as idle*
# (not responding) or drain; only the bare words mean a node that runs jobs.
node_state() { sinfo --noheader --nodes="$(hostname -s)" --format=%T 2>/dev/null | head -n1; }
node_usable() { [[ $(node_state) =~ ^(idle|mixed|allocated)$ ]]; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sinfo >/dev/null && command -v munged >/dev/null; then
        return
    fi
    log "installing ${PACKAGES[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get install -y -q --no-install-recommends "${PACKAGES[@]}")
    # the image's package lists may be stale or absent: refresh them once when install fails;
    # other (non-Debian) sources may be unreachable, which must not stop the refresh
    if ! as_root "${apt[@]}" >"$STATE/apt.log" 2>&1; then
        as_root apt-get update -q >>"$STATE/apt.log" 2>&1 || log "apt-get update reported errors"
        as_root "${apt[@]}" >>"$STATE/apt.log" 2>&1 || { tail -n 20 "$STATE/apt.log" >&2; die "apt-get install failed (log: $STATE/apt.log)"; }
    fi
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return  # a munged (ours or the system's) already answers
    fi
    as_root install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
    as_root install -d -o munge -g munge -m 0755 /run/munge
    if ! as_root test -s /etc/munge/munge.key; then
        log "generating /etc/munge/munge.key"
        as_root sh -c 'dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none'
    fi
    as_root chown munge:munge /etc/munge/munge.key
    as_root chmod 0400 /etc/munge/munge.key
    as_root runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    as_root cp /run/munge/munged.pid "$STATE/munged.pid"
    munge -n | unmunge >/dev/null || die "munged started but a credential does not round-trip"
}

write_conf() {
    if [[ -e $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script; refusing to replace it"
    fi
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    # RealMemory in MiB, a little below the total so slurmd's own check never drains the node
    mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    as_root install -d /etc/slurm
    as_root tee "$CONF" >/dev/null <<EOF
$MARK
ClusterName=snnpriv
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# how long a finished job stays visible to squeue / scontrol show job (seconds)
MinJobAge=600
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

up() {
    if node_usable; then
        log "node $(hostname -s) is up already ($(node_state))"
        return
    fi
    local start=$SECONDS
    as_root install -d "$STATE" "$STATE/ctld" "$STATE/d"
    install_packages
    start_munge
    write_conf
    if [[ -z $(alive "$STATE/slurmctld.pid") ]]; then
        as_root slurmctld -i   # -i: ignore state left by an earlier, unclean run
    fi
    if [[ -z $(alive "$STATE/slurmd.pid") ]]; then
        as_root slurmd
    fi
    local deadline=$((SECONDS + TIMEOUT)) state=""
    while (( SECONDS < deadline )); do
        state=$(node_state)
        [[ $state == idle ]] && break
        sleep 1
    done
    if [[ $state != idle ]]; then
        tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
        die "node $(hostname -s) not idle after ${TIMEOUT}s (state: '${state:-no answer}')"
    fi
    log "node $(hostname -s) idle with $(nproc) CPUs after $((SECONDS - start))s"
}

# Stop a daemon by its pid file and wait (bounded) until it has exited.
stop() {
    local pid
    pid=$(alive "$1") || return 0
    as_root kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
    log "$2 (pid $pid) did not stop on SIGTERM; killing it"
    as_root kill -9 "$pid" 2>/dev/null || true
}

down() {
    if command -v scancel >/dev/null && [[ -n $(alive "$STATE/slurmctld.pid") ]]; then
        as_root scancel --full --quiet --user=root 2>/dev/null || true
        scancel --full --quiet --me 2>/dev/null || true
        # let slurmd end the jobs' processes (slurmstepd and its tasks) before it stops
        for _ in $(seq 60); do
            [[ -z $(squeue --noheader --states=PENDING,RUNNING,COMPLETING,CONFIGURING \
                2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
    stop "$STATE/slurmd.pid" slurmd
    stop "$STATE/slurmctld.pid" slurmctld
    stop "$STATE/munged.pid" munged   # only a munged this script started
    if [[ -e $CONF ]] && grep -qF "$MARK" "$CONF"; then
        as_root rm -f "$CONF"
    fi
    as_root rm -rf "$STATE"
    log "down: daemons stopped, $STATE and the config removed"
}

status() {
    local ctld slurmd
    ctld=$(alive "$STATE/slurmctld.pid" || true)
    slurmd=$(alive "$STATE/slurmd.pid" || true)
    echo "slurmctld: ${ctld:-not running}  slurmd: ${slurmd:-not running}  state dir: $STATE"
    command -v sinfo >/dev/null || { echo "sinfo: not installed"; return 1; }
    sinfo --Node --long 2>&1 || return 1
    node_usable
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
