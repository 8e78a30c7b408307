# shellcheck shell=bash
# munge: the authentication service every Slurm daemon and command relies on.
# Runs as user munge on the default socket, with its key under $STATE/munge.

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
    mark_changed
}

stop_munge() { stop_pidfile munge "$STATE/munge/munged.pid" munged; }
