# shellcheck shell=bash
# rclone moves data between the archive (S3) and the centres (SFTP); the test bed only
# checks that the Debian package runs.

rclone_healthy() { rclone version </dev/null >/dev/null 2>&1; }

ensure_rclone() {
    rclone_healthy || fail rclone "$LOG/apt.log" "rclone does not run"
    say "rclone: ok"
}
