"""Application images on the centres: copied from the archive when a job needs them, checked by
digest every time, least recently used out.

On a centre, the cache is ``<first image root>/cache/sha256/<hex>``: inside the image roots, so
:func:`~heroes_core.containers.verify_image` and the batch script's digest check accept it. A
missing image is copied by :func:`~heroes_core.data.transfer` (checked, verified, recorded in the
transfer log) into a private staging directory ``cache/.partial/<hex>.<random>/``, hashed there
by the centre itself, made read-only (0444) and renamed into place: a name in ``sha256/`` only
ever holds a whole, verified image. Two jobs ensuring the same image at once each copy into
their own staging directory; the second rename replaces the first's file with the same bytes,
and a reader of the first keeps the file it opened.

Every ensure hashes the cached file again, on the centre (``openssl dgst -sha256`` where there
is one: it uses the CPU's SHA instructions, several times faster than ``sha256sum``, which is
the fallback). A cached file whose digest is wrong, or anything else at its name, is removed and
the image fetched again; if the fresh copy is wrong too, the archive's object does not match
the catalogue and :class:`ImageError` is raised without trying further. A hit sets the file's
modification time: that is the "last used" the eviction orders by.

The cache holds at most ``image_cache_gb`` of the centre's settings. After an image is added,
the least recently used images are removed until the cache fits, except those a job may still
need: the image just ensured, and every image ensured within the *in-use window* (by default the
centre's longest job time limit plus :data:`QUEUE_ALLOWANCE`, since a job is submitted right
after its image is ensured, may queue, then runs at most that long). The cache may therefore
stay above its size while recent images fill it; an image larger than the whole cache is
refused. Evicting an image also removes the copy Charliecloud unpacked from it.

``heroes_core.catalog`` is the lowest layer that sees both the catalogue's versions and the
data layer's transfers, so the cache lives here rather than in ``heroes_core.containers``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Final

from pydantic import BaseModel, ConfigDict

from heroes_core.catalog.models import ApplicationVersion
from heroes_core.containers import CharliecloudRuntime
from heroes_core.data import (
    ArchiveLocation,
    LocalLocation,
    Location,
    ProgressCallback,
    Rclone,
    Requester,
    S3Endpoint,
    SFTPEndpoint,
    SFTPLocation,
    TransferLog,
    TransferRequest,
    transfer,
)
from heroes_core.errors import ImageError, TransportError
from heroes_core.models import DIGEST_PATTERN, ImageRef
from heroes_core.sites import Site

GB: Final = 10**9
# A job is submitted right after its image is ensured; this long is allowed for it to start.
QUEUE_ALLOWANCE: Final = timedelta(days=1)
# Staging directories untouched this long belong to a copy that died: removed when evicting.
STALE_PARTIAL: Final = timedelta(days=1)
# Who a transfer is recorded for when the caller names no one.
IMAGE_CACHE_USER: Final = "HEROES-image-cache"
_HEX = re.compile(r"^[0-9a-f]{64}$")

# One definition of "the sha256 of $1" for the scripts below: openssl's, else coreutils'.
_DIGEST = ('digest() { { command -v openssl >/dev/null 2>&1 && '
           'openssl dgst -sha256 -r "$1" 2>/dev/null; } || sha256sum -- "$1"; }\n')

# $1 cached file, $2 expected hex. Prints "hit", "missing", "other" (a link, a directory,
# anything but a regular file) or "corrupt <hex>". A hit is marked used and kept read-only.
_LOOKUP = _DIGEST + r'''
f=$1
if [ -L "$f" ] || { [ -e "$f" ] && [ ! -f "$f" ]; }; then echo other; exit 0; fi
[ -e "$f" ] || { echo missing; exit 0; }
got=$(digest "$f") || exit 3
got=${got%% *}
if [ "$got" = "$2" ]; then touch -c -- "$f" && chmod 0444 -- "$f" && echo hit
else echo "corrupt $got"; fi
'''

# $1 cache directory, $2 staging directory: both made, private to the service account.
_PREPARE = 'umask 022 && mkdir -p -- "$1" && mkdir -p -m 0700 -- "$2"'

# $1 staged file, $2 expected hex, $3 final name. Prints "installed" or "corrupt <hex>"; the
# staging directory is gone afterwards either way.
_INSTALL = _DIGEST + r'''
staged=$1
got=$(digest "$staged") || exit 3
got=${got%% *}
if [ "$got" != "$2" ]; then rm -rf -- "${staged%/*}"; echo "corrupt $got"; exit 0; fi
chmod 0444 -- "$staged" && mv -f -T -- "$staged" "$3" && rmdir -- "${staged%/*}" && echo installed
'''

# $1 cache directory, $2 staging root, $3 stale age in minutes. Prints the centre's clock, then
# one "<name>\t<type>\t<size>\t<mtime>" line per entry; removes dead staging directories.
_LIST = r'''
date +%s
[ -d "$2" ] && find "$2" -mindepth 1 -maxdepth 1 -mmin "+$3" -exec rm -rf -- {} + 2>/dev/null
[ -d "$1" ] || exit 0
exec find "$1" -mindepth 1 -maxdepth 1 -printf '%f\t%y\t%s\t%T@\n'
'''

# $1 cache directory, $2 cutoff (epoch seconds), $3 Charliecloud's unpack directory or "",
# then hex names. Removes each image still unused since the cutoff (checked again here, just
# before it goes) and its unpacked copy; prints the names removed.
_EVICT = r'''
dir=$1 cutoff=$2 unpacked=$3
shift 3
for name in "$@"; do
  f=$dir/$name
  [ -f "$f" ] || continue
  used=$(stat -c %Y -- "$f") || continue
  [ "$used" -lt "$cutoff" ] || continue
  rm -f -- "$f" || continue
  echo "$name"
  if [ -n "$unpacked" ] && [ -d "$unpacked/$name" ]; then
    gone="$unpacked/.evicted.$name.$$"
    mv -T -- "$unpacked/$name" "$gone" && chmod -R u+w -- "$gone" && rm -rf -- "$gone"
  fi
done
exit 0
'''


class CachedImage(BaseModel):
    """One image in a centre's cache."""

    model_config = ConfigDict(frozen=True)

    digest: str  # 'sha256:<hex>'
    path: str
    size: int
    last_used: datetime


class EnsuredImage(BaseModel):
    """What :meth:`ImageCache.ensure` did: where the image is, and whether it had to move."""

    model_config = ConfigDict(frozen=True)

    image: ImageRef
    hit: bool
    bytes_transferred: int = 0
    replaced_corrupt: bool = False  # a cached copy with the wrong digest was removed first
    evicted: tuple[str, ...] = ()  # digests removed to make room


class ImageCache:
    """The image cache of one centre.

    ``capacity_bytes`` defaults to the centre's ``image_cache_gb``; ``in_use_window`` (how long
    after it was last ensured an image is never evicted) to its longest job time limit plus
    :data:`QUEUE_ALLOWANCE`. ``rclone`` is the one transfers use (a fresh one by default).
    """

    def __init__(self, site: Site, *, capacity_bytes: int | None = None,
                 in_use_window: timedelta | None = None, rclone: Rclone | None = None) -> None:
        self.site = site
        config = site.config
        self.capacity_bytes = (int(config.image_cache_gb * GB) if capacity_bytes is None
                               else capacity_bytes)
        self.in_use_window = in_use_window if in_use_window is not None else (
            timedelta(minutes=config.limits.max_time_limit_minutes) + QUEUE_ALLOWANCE)
        self.rclone = rclone
        root = site.image_roots[0]
        self.root = f"{root.rstrip('/')}/cache"
        self.directory = f"{self.root}/sha256"
        self.partial_root = f"{self.root}/.partial"

    def path_of(self, digest: str) -> str:
        """Where the image of ``digest`` is (or would be) cached on the centre."""
        return f"{self.directory}/{_hex(digest)}"

    def ensure(self, digest: str, source: Location, name: str, *, requester: Requester,
               size_bytes: int | None = None, log: TransferLog | None = None,
               on_progress: ProgressCallback | None = None) -> EnsuredImage:
        """Make the image of ``digest`` available on the centre, verified, and return where.

        ``source/name`` is the image file (in the archive, or anywhere :func:`transfer` reaches);
        ``size_bytes``, when known, refuses an image larger than the whole cache before anything
        moves, and a source file larger than announced.
        """
        hex_digest = _hex(digest)
        image = ImageRef(path=self.path_of(digest), digest=f"sha256:{hex_digest}")
        if size_bytes is not None and size_bytes > self.capacity_bytes:
            raise ImageError(
                f"image {image.digest} ({size_bytes} bytes) is larger than the centre's whole image "
                f"cache ({self.capacity_bytes} bytes)", site=self.site.name,
                fix="a centre admin can raise the centre's image_cache_gb")
        timeout = _hash_timeout(size_bytes)
        found = self._lookup(image, timeout)
        if found == "hit":
            return EnsuredImage(image=image, hit=True)
        replaced = found != "missing"
        if replaced:
            self._run(["rm", "-rf", "--", image.path], "remove the damaged cached image")
        moved = self._fetch(image, source, name, requester=requester, size_bytes=size_bytes,
                            log=log, on_progress=on_progress, timeout=timeout, replaced=replaced)
        evicted = self.evict(keep={image.digest})
        return EnsuredImage(image=image, hit=False, bytes_transferred=moved,
                            replaced_corrupt=replaced, evicted=tuple(e.digest for e in evicted))

    def ensure_version(self, archive: S3Endpoint, organisation: str, version: ApplicationVersion, *,
                       requester: Requester | None = None, log: TransferLog | None = None,
                       on_progress: ProgressCallback | None = None) -> EnsuredImage:
        """:meth:`ensure` of a catalogued version, from its owner ``organisation``'s bucket."""
        source, name = archive_source(archive, organisation, version)
        who = requester or Requester(organisation=organisation, user=IMAGE_CACHE_USER)
        return self.ensure(version.digest, source, name, requester=who,
                           size_bytes=version.size_bytes, log=log, on_progress=on_progress)

    def entries(self) -> list[CachedImage]:
        """The cached images, least recently used first (dead staging directories go too)."""
        return self._list()[1]

    def evict(self, keep: Collection[str] = ()) -> list[CachedImage]:
        """Remove least recently used images until the cache fits its size; never those in
        ``keep`` (digests) nor those used within the in-use window. Returns those removed."""
        now, entries = self._list()
        total = sum(entry.size for entry in entries)
        if total <= self.capacity_bytes:
            return []
        cutoff = now - self.in_use_window
        chosen: list[CachedImage] = []
        for entry in entries:  # least recently used first
            if total <= self.capacity_bytes:
                break
            if entry.digest in keep or entry.last_used >= cutoff:
                continue
            chosen.append(entry)
            total -= entry.size
        if not chosen:
            return []
        unpacked = self.site.image_cache_dir if isinstance(self.site.runtime, CharliecloudRuntime) else ""
        result = self._run(["sh", "-c", _EVICT, "sh", self.directory, str(int(cutoff.timestamp())),
                            unpacked, *(_hex(entry.digest) for entry in chosen)], "evict cached images")
        removed = {f"sha256:{name}" for name in result.split()}
        return [entry for entry in chosen if entry.digest in removed]

    def _lookup(self, image: ImageRef, timeout: float) -> str:
        out = self._run(["sh", "-c", _LOOKUP, "sh", image.path, image.hex_digest],
                        "check the cached image", timeout=timeout).strip()
        if out in ("hit", "missing", "other") or out.startswith("corrupt "):
            return out.split()[0]
        raise ImageError(f"cannot check the cached image {image.path}: unexpected answer {out!r}",
                         site=self.site.name, fix="check that the centre has a POSIX shell and "
                                                   "GNU coreutils")

    def _fetch(self, image: ImageRef, source: Location, name: str, *, requester: Requester,
               size_bytes: int | None, log: TransferLog | None,
               on_progress: ProgressCallback | None, timeout: float, replaced: bool) -> int:
        """Copy the image into a staging directory, verify its digest there, rename it into
        place; the number of bytes copied."""
        staging = f"{self.partial_root}/{image.hex_digest}.{uuid.uuid4().hex[:12]}"
        self._run(["sh", "-c", _PREPARE, "sh", self.directory, staging], "make the image cache")
        request = TransferRequest(requester=requester, source=source,
                                  destination=self._location(staging), files=[name],
                                  limit_bytes=size_bytes)
        try:
            report = transfer(request, log=log, on_progress=on_progress, rclone=self.rclone,
                              shells={self.site.name: self.site.transport})
            staged = f"{staging}/{name}"
            out = self._run(["sh", "-c", _INSTALL, "sh", staged, image.hex_digest, image.path],
                            "verify the copied image", timeout=timeout, idempotent=False).strip()
        except BaseException as exc:
            try:
                self.site.transport.run(["rm", "-rf", "--", staging])
            except Exception as failure:
                exc.add_note(f"The staging directory {staging} could not be removed: {failure}")
            raise
        if out == "installed":
            return report.bytes_transferred
        got = out.removeprefix("corrupt ")
        before = (" (the copy cached on the centre had the wrong digest too and was removed)"
                  if replaced else "")
        raise ImageError(
            f"the image {name} copied from {source.label} has digest sha256:{got}, not the "
            f"catalogue's {image.digest}{before}; nothing was cached", site=self.site.name,
            fix="the archive's object does not match the catalogue: register the image again")

    def _location(self, path: str) -> Location:
        config = self.site.config
        if config.transport == "local":
            return LocalLocation(path=path)
        return SFTPLocation(server=SFTPEndpoint.of_site(config), path=path)

    def _list(self) -> tuple[datetime, list[CachedImage]]:
        stale = str(max(1, int(STALE_PARTIAL.total_seconds() // 60)))
        out = self._run(["sh", "-c", _LIST, "sh", self.directory, self.partial_root, stale],
                        "list the image cache")
        lines = out.splitlines()
        try:
            now = datetime.fromtimestamp(int(lines[0]), UTC)
        except (IndexError, ValueError):
            raise ImageError(f"cannot list the image cache {self.directory}: unexpected answer "
                             f"{out[:200]!r}", site=self.site.name,
                             fix="check that the centre has GNU coreutils and findutils") from None
        entries = []
        for line in lines[1:]:
            name, kind, size, mtime = [*line.split("\t"), "", "", ""][:4]
            if kind != "f" or not _HEX.fullmatch(name):
                continue  # not an image of the cache's (HEROES never puts anything else there)
            entries.append(CachedImage(digest=f"sha256:{name}", path=f"{self.directory}/{name}",
                                       size=int(size), last_used=datetime.fromtimestamp(float(mtime), UTC)))
        entries.sort(key=lambda entry: entry.last_used)
        return now, entries

    def _run(self, argv: list[str], what: str, *, timeout: float | None = None,
             idempotent: bool = True) -> str:
        result = self.site.transport.run(argv, timeout=timeout, idempotent=idempotent)
        if not result.ok:
            raise TransportError(f"cannot {what} in {self.root}: {result.describe()}",
                                 site=self.site.name,
                                 fix="check that the service account may write to the first image "
                                     "root and that the centre's disk is not full")
        return result.stdout


def archive_source(archive: S3Endpoint, organisation: str,
                   version: ApplicationVersion) -> tuple[ArchiveLocation, str]:
    """Where a catalogued version's image is in its owner's bucket: the folder and the name."""
    key = PurePosixPath(version.archive_key)
    if not key.name:
        raise ImageError(f"{version.name} {version.version}: archive key {version.archive_key!r} "
                         "names no object", fix="register the version again")
    folder = "/".join(part for part in (archive.bucket_for(organisation), str(key.parent)) if part != ".")
    return ArchiveLocation(archive=archive, path=folder), key.name


def ensure_image(site: Site, archive: S3Endpoint, organisation: str, version: ApplicationVersion, *,
                 requester: Requester | None = None, log: TransferLog | None = None,
                 rclone: Rclone | None = None, on_progress: ProgressCallback | None = None) -> ImageRef:
    """The image of ``version`` on ``site``, copied there from ``organisation``'s bucket (the
    application owner's) if it is not cached yet, always verified by digest; what a job's
    :class:`~heroes_core.models.JobSpec` names. ``requester``: whom the transfer is recorded
    for in ``log`` (the job's owner; by default the owning organisation)."""
    return ImageCache(site, rclone=rclone).ensure_version(
        archive, organisation, version, requester=requester, log=log, on_progress=on_progress).image


def _hex(digest: str) -> str:
    if not re.fullmatch(DIGEST_PATTERN, digest):
        raise ImageError(f"image digest {digest!r} is not 'sha256:<64 hex digits>'",
                         fix="use the digest the catalogue gives")
    return digest.removeprefix("sha256:")


def _hash_timeout(size_bytes: int | None) -> float:
    """Long enough to hash ``size_bytes`` on a slow disk (50 MB/s), and never under 10 minutes."""
    return max(600.0, (size_bytes or 0) / 50e6 + 60.0)


__all__ = ["GB", "IMAGE_CACHE_USER", "QUEUE_ALLOWANCE", "CachedImage", "EnsuredImage", "ImageCache",
           "archive_source", "ensure_image"]
