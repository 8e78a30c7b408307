#!/usr/bin/env bash
# Build the test bed's small Charliecloud image from busybox-static, reproducibly.
#
#   build-image.sh OUTDIR
#
# Produces OUTDIR/rootfs (a directory image usable by `ch-run OUTDIR/rootfs -- CMD`)
# and OUTDIR/busybox.tar.gz: the rootfs at the top level of the tarball (members
# "./bin/busybox", ...), sorted names, mtime 0, numeric owner 0:0, `gzip -n`, so
# the same busybox binary always gives the same sha256.
set -euo pipefail

out=${1:?usage: build-image.sh OUTDIR}
busybox=${BUSYBOX:-/bin/busybox}
[[ -x "$busybox" ]] || { echo "build-image: $busybox not found (install busybox-static)" >&2; exit 1; }

umask 022
tmp=$(mktemp -d "$out.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
r="$tmp/rootfs"

# Directories ch-run needs as mount points, plus the usual skeleton.
for d in bin sbin usr/bin usr/sbin etc dev proc sys tmp var/tmp run home mnt root job; do
    mkdir -p "$r/$d"
done
install -m 0755 "$busybox" "$r/bin/busybox"

# One symlink per applet (bin/sh included), absolute target /bin/busybox.
"$busybox" --list-full | LC_ALL=C sort | while read -r applet; do
    [[ "$applet" == bin/busybox ]] && continue
    mkdir -p "$r/$(dirname "$applet")"
    ln -sfn /bin/busybox "$r/$applet"
done
[[ -L "$r/bin/sh" ]] || ln -sfn /bin/busybox "$r/bin/sh"

printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$r/etc/group"
# ch-run bind-mounts the host's files over these; they must exist.
: >"$r/etc/hosts"
: >"$r/etc/resolv.conf"

# Fixed modes and mtimes: nothing depends on the umask or the clock.
find "$r" -type d -exec chmod 0755 {} +
find "$r" -type f -exec chmod 0644 {} +
chmod 0755 "$r/bin/busybox"
chmod 1777 "$r/tmp" "$r/var/tmp"
chmod 0700 "$r/root"
find "$r" -exec touch -h -d @0 {} +

LC_ALL=C tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    --format=gnu -C "$r" -cf - . | gzip -n -9 >"$tmp/busybox.tar.gz"

rm -rf "$out/rootfs.old"
[[ -d "$out/rootfs" ]] && mv "$out/rootfs" "$out/rootfs.old"
mv "$r" "$out/rootfs"
mv "$tmp/busybox.tar.gz" "$out/busybox.tar.gz"
rm -rf "$out/rootfs.old"
