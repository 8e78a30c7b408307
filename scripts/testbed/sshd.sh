# shellcheck shell=bash
# The login node: OpenSSH on 127.0.0.1:$SSH_PORT, key-only, only the service accounts, its
# own host key pinned in $STATE/known_hosts (configuration from sshd_config.in).

SSH_PORT=2222

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
        mark_changed
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
    mark_changed
}

stop_sshd() { stop_pidfile sshd "$RUN/sshd.pid" sshd; }
