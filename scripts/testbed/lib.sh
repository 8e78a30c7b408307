# shellcheck shell=bash
# Settings and helpers every test-bed service script uses; sourced by scripts/testbed.sh
# before the service scripts. Settings used by one service only live in its own script.

TB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$TB/../.." && pwd)
VENV="$ROOT/.venv"
STATE=${HEROES_TESTBED_DIR:-/var/lib/heroes-testbed}
LOG="$STATE/log"
RUN="$STATE/run"

# Service accounts on the login node and the centre each one is registered as, pairwise.
# shellcheck disable=SC2034 # read by the service scripts
ACCOUNTS=(heroes-svc heroes-svc2)
# shellcheck disable=SC2034
CENTRE_NAMES=(local-slurm local-slurm-2)
WAIT=${HEROES_TESTBED_WAIT:-60} # seconds a part may take to become healthy

# Set by mark_changed when `up` (re)starts or (re)configures something: `up` then runs
# the end-to-end check, since a part that only just came up may not yet work with the others.
CHANGED=0
# shellcheck disable=SC2034 # read by scripts/testbed.sh
mark_changed() { CHANGED=1; }

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

# wait_healthy PART LOGFILE CHECK_FUNCTION [SECONDS [PIDFILE]]
# With PIDFILE, fail at once if that process has exited.
wait_healthy() {
    local part=$1 logfile=$2 check=$3 limit=${4:-$WAIT} pidfile=${5:-}
    local deadline=$((SECONDS + limit))
    while ! "$check" >/dev/null 2>&1; do
        # Only a process that is gone has failed: just after spawn it may not have exec'd
        # its program yet, so its command line cannot be matched against a pattern here.
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

# close_inherited_fds: close every file this shell inherited beyond stdin/stdout/stderr.
# The daemons `up` starts outlive it and would keep such files open, for instance the lock
# of `flock LOCKFILE scripts/testbed.sh up`, held then for as long as the test bed runs.
# fd 255 is the one bash reads this script from.
close_inherited_fds() {
    local fd
    for fd in "/proc/$$/fd/"*; do
        fd=${fd##*/}
        if ((fd > 2 && fd != 255)); then
            eval "exec $fd>&-"
        fi
    done
}

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

need_venv() {
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/prefect" ]] ||
        die "Python venv missing at $VENV (no .venv/bin/prefect): run scripts/bootstrap.sh first"
}

# tb_python SCRIPT ARGS...: one of the Python programs beside these scripts, with the project's venv.
tb_python() {
    local script=$1
    shift
    "$VENV/bin/python" "$TB/$script" "$@"
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

# ours PIDFILE: the pid file names a live process started from this checkout's venv. A service
# that another checkout started answers its health check with that checkout's code, and after that
# checkout is deleted with files that are gone: either way it is restarted from this one.
ours() { pid_alive "$1" "$VENV/"; }

# running PID: the process exists and is not a zombie (PID 1 here may reap late).
running() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) } # fields after "(comm) ": the state letter comes first
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

# secret FILE [BYTES]: a random hex secret generated once and kept in FILE (mode 0600).
secret() {
    local file=$1 bytes=${2:-20}
    if [[ ! -s "$file" ]]; then
        (umask 077 && od -An -tx1 -N"$bytes" /dev/urandom | tr -d ' \n' >"$file.tmp" && mv -f "$file.tmp" "$file")
    fi
    cat "$file"
}

ensure_dirs() {
    install -d -m 0755 "$STATE" "$LOG" "$RUN" "$STATE/slurm" "$STATE/slurm/ctld" "$STATE/slurm/d"
    install -d -m 0700 "$STATE/keys" "$STATE/secrets" "$STATE/s3"
    install -d -m 0755 "$STATE/sshd" "$STATE/image"
}

# take_lock: one scripts/testbed.sh at a time changes the test bed (fd 9 stays open until exit).
take_lock() {
    install -d -m 0755 "$STATE"
    exec 9>"$STATE/.lock"
    flock -w 900 9 || die "another scripts/testbed.sh is still running (lock $STATE/.lock)"
}
