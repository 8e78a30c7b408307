# shellcheck shell=bash
# Debian packages of every service, installed only when one is missing.

APT_PACKAGES=(
    munge slurmctld slurmd slurm-client slurmdbd
    mariadb-server mariadb-client
    openssh-server openssh-client
    charliecloud-runtime busybox-static squashfs-tools squashfuse fuse3
    curl ca-certificates
    postgresql-15
    maven unzip
    chromium chromium-driver
)

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
    mark_changed
}
