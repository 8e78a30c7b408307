#!/usr/bin/env bash
# HEROES local HPC test bed: Slurm (+slurmdbd/MariaDB accounting), sshd on 2222 with
# two service accounts, Charliecloud + a busybox image, rclone, SeaweedFS S3, a private
# PostgreSQL cluster, a Prefect server, a Keycloak server and an OpenSearch node, all on
# this one machine, started directly (no systemd).
#
#   scripts/testbed.sh up       install what is missing, start what is not healthy,
#                               write $STATE/testbed.json, print each part's health
#   scripts/testbed.sh status   print each part's health; exit 0 only if all healthy
#   scripts/testbed.sh down     stop everything `up` started (pid files in $STATE/run)
#   scripts/testbed.sh verify   run the end-to-end check (ssh -> sbatch -> ch-run -> sacct)
#
# State (config, keys, data, logs, pid files): ${HEROES_TESTBED_DIR:-/var/lib/heroes-testbed}
# Must run as root. Each service is one script in scripts/testbed/ (ensure_, stop_ and
# _healthy functions); this file only puts them in order.
set -euo pipefail

TB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/testbed
for service in lib packages accounts munge mariadb slurm sshd image rclone seaweedfs postgres prefect \
    keycloak opensearch verify testbed-json; do
    # shellcheck source=/dev/null
    source "$TB_LIB/$service.sh"
done
close_inherited_fds

# The parts `status` reports, each checked by its <part>_healthy function.
PARTS=(munge mariadb slurmdbd slurmctld slurmd accounting sshd charliecloud rclone seaweedfs postgres prefect
    keycloak opensearch)

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

cmd_up() {
    need_root
    need_venv
    need_weed
    take_lock
    ensure_dirs
    ensure_packages
    ensure_accounts
    ensure_munge
    ensure_mariadb
    ensure_slurm
    ensure_sshd
    ensure_image
    ensure_rclone
    ensure_seaweedfs
    ensure_postgres
    ensure_prefect
    ensure_keycloak
    ensure_opensearch
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
    stop_opensearch
    stop_keycloak
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
    need_weed
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
