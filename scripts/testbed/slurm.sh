# shellcheck shell=bash
# Slurm 22.05: slurmdbd (accounting in MariaDB, so `sacct` works), slurmctld and one slurmd
# for this host, configured from slurm.conf.in / slurmdbd.conf.in / gres.conf.in in /etc/slurm;
# the power meter (power_meter.py) whose RAPL counters Slurm's acct_gather_energy/rapl plugin
# reads; and the node's GPUs, GRES without hardware (see ensure_gpu_files).

CLUSTER=heroes-local
SLURM_ACCOUNT=heroes
SCHED_PARAMS=${HEROES_TESTBED_SCHED_PARAMS:-batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000,bf_interval=1}
# The power meter's model of this node: idle watts plus watts per busy CPU (from /proc/stat).
POWER_IDLE_W=${HEROES_TESTBED_POWER_IDLE_W:-50}
POWER_CPU_W=${HEROES_TESTBED_POWER_CPU_W:-20}
POWER_STATUS="$STATE/power-meter/status.json"
# The node's GPUs: Slurm schedules and accounts them (gres/gpu) like real ones; jobs get
# CUDA_VISIBLE_DEVICES but no device. testbed-json.sh declares them on a partition for the centres.
GPU_TYPE=fake
GPU_COUNT=2
GPU_DIR="$STATE/slurm/gpu"

# energy_source: where Slurm's RAPL plugin reads energy on this machine.
#   hardware  a real msr device exists (/dev/cpu/N/msr, character device): never replaced
#   meter     the test bed's power meter writes the counters (regular files in /dev/cpu/N/)
#   none      /proc/cpuinfo names no "physical id", so the plugin would find no package (it
#             would drain the node): no energy plugin then
energy_source() {
    local f
    for f in /dev/cpu/*/msr; do
        if [[ -c "$f" ]]; then
            echo hardware
            return 0
        fi
    done
    if grep -q '^physical id' /proc/cpuinfo 2>/dev/null; then
        echo meter
    else
        echo none
    fi
}

energy_plugin() {
    if [[ "$(energy_source)" == none ]]; then
        echo acct_gather_energy/none
    else
        echo acct_gather_energy/rapl
    fi
}

# ensure_gpu_files: one file per GPU for gres.conf's File=. Slurm 22.05 drops GPUs that have no
# file ("Removing file-less GPU") and logs an error for a file that is not a device, so each
# is a character device with the null device's numbers (1:3), which no job opens. Where
# mknod is refused (a nodev or unprivileged file system) a regular file stands in: Slurm
# still counts it, and logs "is not a valid character or block device" at each start.
ensure_gpu_files() {
    local i file
    install -d -m 0755 "$GPU_DIR"
    for ((i = 0; i < GPU_COUNT; i++)); do
        file="$GPU_DIR/$GPU_TYPE$i"
        [[ -c "$file" ]] && continue
        rm -f "$file"
        if ! mknod -m 0666 "$file" c 1 3 2>/dev/null; then
            warn "slurm: cannot make the character device $file; a regular file stands in"
            install -m 0644 /dev/null "$file"
        fi
    done
}

# gpu_files: the GPUs' files as gres.conf names them, e.g. /var/lib/heroes-testbed/slurm/gpu/fake[0-1].
gpu_files() { printf '%s/%s[0-%d]' "$GPU_DIR" "$GPU_TYPE" $((GPU_COUNT - 1)); }

# slurm_configure: render the configuration; restart the daemons whose configuration changed.
slurm_configure() {
    local changed=0
    install -d -m 0755 /etc/slurm
    ensure_gpu_files
    if render "$TB/slurm.conf.in" /etc/slurm/slurm.conf 0644 \
        CLUSTER="$CLUSTER" HOST="$(host_short)" STATE="$STATE" SCHED_PARAMS="$SCHED_PARAMS" \
        ENERGY_PLUGIN="$(energy_plugin)" GPU_TYPE="$GPU_TYPE" GPU_COUNT="$GPU_COUNT"; then
        changed=1
    fi
    if render "$TB/gres.conf.in" /etc/slurm/gres.conf 0644 \
        HOST="$(host_short)" GPU_TYPE="$GPU_TYPE" GPU_FILES="$(gpu_files)"; then
        changed=1
    fi
    if render "$TB/slurmdbd.conf.in" /etc/slurm/slurmdbd.conf 0600 \
        STATE="$STATE" DB_PORT="$DB_PORT" DB_PASS="$(db_slurm_pass)"; then
        changed=1
        if pid_alive "$RUN/slurmdbd.pid" slurmdbd; then
            say "slurmdbd: configuration changed, restarting"
            stop_pidfile slurmdbd "$RUN/slurmdbd.pid" slurmdbd
        fi
    fi
    if ((changed)); then
        mark_changed
        if pid_alive "$RUN/slurmctld.pid" slurmctld || pid_alive "$RUN/slurmd.pid" slurmd; then
            say "slurm: configuration changed, restarting slurmctld and slurmd"
            stop_pidfile slurmd "$RUN/slurmd.pid" slurmd
            stop_pidfile slurmctld "$RUN/slurmctld.pid" slurmctld
        fi
    fi
}

power_meter_healthy() {
    [[ "$(energy_source)" == meter ]] || return 0
    pid_alive "$RUN/power-meter.pid" power_meter.py && ours "$RUN/power-meter.pid" &&
        tb_python power_meter.py check --status "$POWER_STATUS" --idle-w "$POWER_IDLE_W" \
            --cpu-w "$POWER_CPU_W" </dev/null
}

# ensure_power_meter: start the meter (or restart it with a changed model) before slurmd, which
# opens the counter files when it starts. If they did not exist yet while slurmd ran, slurmd is
# restarted so that it opens them.
ensure_power_meter() {
    [[ "$(energy_source)" == meter ]] || return 0
    power_meter_healthy && return 0
    local f had_files=0
    for f in /dev/cpu/*/msr; do
        [[ -f "$f" ]] && had_files=1
    done
    stop_pidfile power-meter "$RUN/power-meter.pid" power_meter.py
    install -d -m 0755 "$STATE/power-meter"
    rm -f "$POWER_STATUS"
    say "power-meter: starting (${POWER_IDLE_W} W idle + ${POWER_CPU_W} W per busy CPU)"
    spawn "$RUN/power-meter.pid" "$LOG/power-meter.log" "$VENV/bin/python" "$TB/power_meter.py" run \
        --status "$POWER_STATUS" --idle-w "$POWER_IDLE_W" --cpu-w "$POWER_CPU_W"
    wait_healthy power-meter "$LOG/power-meter.log" power_meter_healthy "$WAIT" "$RUN/power-meter.pid"
    mark_changed
    if ((!had_files)) && pid_alive "$RUN/slurmd.pid" slurmd; then
        say "slurmd: restarting to open the power meter's counters"
        stop_pidfile slurmd "$RUN/slurmd.pid" slurmd
    fi
}

stop_power_meter() {
    stop_pidfile power-meter "$RUN/power-meter.pid" power_meter.py
}

slurmdbd_healthy() {
    pid_alive "$RUN/slurmdbd.pid" slurmdbd &&
        timeout 10 sacctmgr -n -P show cluster format=cluster </dev/null >/dev/null 2>&1
}

ensure_slurmdbd() {
    slurmdbd_healthy && return 0
    rm -f "$RUN/slurmdbd.pid"
    say "slurmdbd: starting"
    /usr/sbin/slurmdbd </dev/null >>"$LOG/slurmdbd.log" 2>&1 9>&- ||
        fail slurmdbd "$LOG/slurmdbd.log" "slurmdbd failed to start"
    wait_healthy slurmdbd "$LOG/slurmdbd.log" slurmdbd_healthy
    mark_changed
}

# ensure_accounting: the cluster, the account and one association per service account in
# slurmdbd, so their jobs are recorded under account $SLURM_ACCOUNT.
ensure_accounting() {
    local acct
    if ! has_line "$CLUSTER" sacctmgr -n -P show cluster format=cluster; then
        sacctmgr -i add cluster "$CLUSTER" </dev/null >>"$LOG/slurmdbd.log" 2>&1 ||
            fail accounting "$LOG/slurmdbd.log" "sacctmgr add cluster $CLUSTER failed"
        mark_changed
    fi
    if ! has_line "$SLURM_ACCOUNT" sacctmgr -n -P show account "$SLURM_ACCOUNT" format=account; then
        sacctmgr -i add account "$SLURM_ACCOUNT" cluster="$CLUSTER" \
            description="HEROES test bed" organization=heroes </dev/null >>"$LOG/slurmdbd.log" 2>&1 ||
            fail accounting "$LOG/slurmdbd.log" "sacctmgr add account $SLURM_ACCOUNT failed"
        mark_changed
    fi
    for acct in "${ACCOUNTS[@]}"; do
        if ! has_line "$acct" sacctmgr -n -P show assoc cluster="$CLUSTER" account="$SLURM_ACCOUNT" \
            user="$acct" format=user; then
            sacctmgr -i add user "$acct" account="$SLURM_ACCOUNT" defaultaccount="$SLURM_ACCOUNT" \
                cluster="$CLUSTER" </dev/null >>"$LOG/slurmdbd.log" 2>&1 ||
                fail accounting "$LOG/slurmdbd.log" "sacctmgr add user $acct failed"
            mark_changed
        fi
    done
}

accounting_healthy() {
    has_line "$CLUSTER" sacctmgr -n -P show cluster format=cluster &&
        timeout 10 sacct -n -X -a -S now-1hours -o JobID </dev/null >/dev/null 2>&1
}

slurmctld_healthy() {
    pid_alive "$RUN/slurmctld.pid" slurmctld &&
        [[ "$(timeout 10 scontrol ping </dev/null 2>/dev/null)" == *" is UP"* ]]
}

ensure_slurmctld() {
    slurmctld_healthy && return 0
    rm -f "$RUN/slurmctld.pid"
    say "slurmctld: starting"
    /usr/sbin/slurmctld </dev/null >>"$LOG/slurmctld.log" 2>&1 9>&- ||
        fail slurmctld "$LOG/slurmctld.log" "slurmctld failed to start"
    wait_healthy slurmctld "$LOG/slurmctld.log" slurmctld_healthy
    mark_changed
}

node_state() { timeout 10 sinfo -h -n "$(host_short)" -o '%t' </dev/null 2>/dev/null | head -n 1; }

slurmd_healthy() {
    pid_alive "$RUN/slurmd.pid" slurmd && power_meter_healthy || return 1
    case "$(node_state)" in
        idle | mix | alloc | comp) return 0 ;;
        *) return 1 ;;
    esac
}

ensure_slurmd() {
    slurmd_healthy && return 0
    if ! pid_alive "$RUN/slurmd.pid" slurmd; then
        rm -f "$RUN/slurmd.pid"
        say "slurmd: starting"
        /usr/sbin/slurmd </dev/null >>"$LOG/slurmd.log" 2>&1 9>&- ||
            fail slurmd "$LOG/slurmd.log" "slurmd failed to start"
        mark_changed
    fi
    local deadline=$((SECONDS + WAIT)) current
    while ! slurmd_healthy; do
        current=$(node_state)
        # A node left down/drained by an earlier unclean stop: bring it back.
        case "$current" in
            down | down~ | drain | drng | drain~ | fail | maint)
                scontrol update nodename="$(host_short)" state=resume </dev/null >/dev/null 2>&1 || true ;;
        esac
        ((SECONDS < deadline)) || fail slurmd "$LOG/slurmd.log" "node $(host_short) is '$current', not idle, after ${WAIT}s"
        sleep 0.3
    done
    say "slurmd: healthy"
}

ensure_slurm() {
    slurm_configure
    ensure_power_meter
    ensure_slurmdbd
    ensure_accounting
    ensure_slurmctld
    ensure_slurmd
}

stop_slurm() {
    stop_pidfile slurmd "$RUN/slurmd.pid" slurmd
    stop_pidfile slurmctld "$RUN/slurmctld.pid" slurmctld
    stop_pidfile slurmdbd "$RUN/slurmdbd.pid" slurmdbd
    stop_power_meter
}
