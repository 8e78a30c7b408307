# shellcheck shell=bash
# Charliecloud and the busybox image the jobs run in: built by build-image.sh into
# $STATE/image, copied to ~/images/busybox.tar.gz of each service account.

image_digest() { sha256sum "$STATE/image/busybox.tar.gz" | cut -d' ' -f1; }

# account_image_digest ACCOUNT: the sha256 of the account's copy (empty if it has none).
account_image_digest() { sha256sum "$(home_of "$1")/images/busybox.tar.gz" 2>/dev/null | cut -d' ' -f1; }

ensure_image() {
    local img=$STATE/image stamp want acct digest
    # Rebuild when the recipe or the busybox binary changes (the build is reproducible).
    want=$(cat "$TB/build-image.sh" /bin/busybox | sha256sum | cut -d' ' -f1)
    stamp=$(cat "$img/recipe.sha256" 2>/dev/null || true)
    if [[ "$stamp" != "$want" || ! -s "$img/busybox.tar.gz" || ! -x "$img/rootfs/bin/busybox" ]]; then
        say "charliecloud: building busybox image in $img"
        "$TB/build-image.sh" "$img" >>"$LOG/image.log" 2>&1 ||
            fail charliecloud "$LOG/image.log" "image build failed"
        echo "$want" >"$img/recipe.sha256"
        mark_changed
    fi
    digest=$(image_digest)
    for acct in "${ACCOUNTS[@]}"; do
        if [[ "$(account_image_digest "$acct")" != "$digest" ]]; then
            install -m 0644 -o "$acct" -g "$acct" "$img/busybox.tar.gz" "$(home_of "$acct")/images/busybox.tar.gz"
            mark_changed
        fi
    done
}

charliecloud_healthy() {
    local digest acct
    [[ -s "$STATE/image/busybox.tar.gz" ]] || return 1
    digest=$(image_digest)
    for acct in "${ACCOUNTS[@]}"; do
        [[ "$(account_image_digest "$acct")" == "$digest" ]] || return 1
    done
    [[ "$(cd / && runuser -u "${ACCOUNTS[0]}" -- ch-run "$STATE/image/rootfs" -- /bin/sh -c 'echo ok' 2>/dev/null)" == ok ]]
}
