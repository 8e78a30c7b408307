# shellcheck shell=bash
# The unprivileged service accounts HEROES logs in as, each with its own ssh key pair
# (private key in $STATE/keys, public key in the account's authorized_keys).

ensure_accounts() {
    local acct home line
    for acct in "${ACCOUNTS[@]}"; do
        if ! id -u "$acct" >/dev/null 2>&1; then
            useradd -m -s /bin/bash -c "HEROES service account (test bed)" "$acct"
            mark_changed
        fi
        # '*' = no password but not "locked" ('!'), which sshd without PAM refuses.
        [[ "$(getent shadow "$acct" | cut -d: -f2)" == '*' ]] || usermod -p '*' "$acct"
        home=$(home_of "$acct")
        install -d -m 0700 -o "$acct" -g "$acct" "$home/heroes" "$home/.ssh"
        install -d -m 0755 -o "$acct" -g "$acct" "$home/images"
        if [[ ! -s "$STATE/keys/$acct" ]]; then
            rm -f "$STATE/keys/$acct" "$STATE/keys/$acct.pub"
            ssh-keygen -q -t ed25519 -N '' -C "$acct@heroes-testbed" -f "$STATE/keys/$acct" </dev/null
        fi
        chmod 0600 "$STATE/keys/$acct"
        line=$(cat "$STATE/keys/$acct.pub")
        if ! grep -qxF -- "$line" "$home/.ssh/authorized_keys" 2>/dev/null; then
            printf '%s\n' "$line" >>"$home/.ssh/authorized_keys"
        fi
        chown "$acct:$acct" "$home/.ssh/authorized_keys"
        chmod 0600 "$home/.ssh/authorized_keys"
    done
}

# home_of ACCOUNT: the account's home directory.
home_of() { getent passwd "$1" | cut -d: -f6; }
