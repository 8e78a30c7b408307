"""Check an image on the centre before anything is submitted: where it is, what it is, its digest.

``ImageRef.path`` comes from the user. On the centre, symbolic links are resolved
(``realpath``), the resolved file must lie inside one of the centre's allowed image roots
(themselves resolved there too) and be a regular file (``stat``; a fifo would block the
digest check, a device or directory is no image), and only then is it hashed.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import PurePosixPath

from heroes_core.errors import ImageError
from heroes_core.models import ImageRef
from heroes_core.transport import Transport

_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a fifo", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symbolic link"}


def _inside(path: str, root: str) -> bool:
    """``path`` lies strictly below ``root`` (both already resolved)."""
    candidate, base = PurePosixPath(path), PurePosixPath(root)
    return candidate != base and candidate.is_relative_to(base)


def verify_image(transport: Transport, image: ImageRef, *, roots: Sequence[str]) -> str:
    """Raise :class:`ImageError` unless the image is a regular file, inside one of ``roots``
    once symbolic links are resolved on the centre, with the expected digest.

    Returns the resolved path that was checked.
    """
    site = transport.site
    allowed = ", ".join(roots)
    where = f" (allowed image roots: {allowed})"
    publish = f"publish the image under one of the allowed image roots ({allowed}) or correct the path"

    # `-m`: resolve every link that exists; a missing image is reported by `stat` below.
    resolved = transport.run(["realpath", "-m", "-z", "--", image.path, *roots])
    paths = resolved.stdout.split("\0")[:-1]
    if not resolved.ok or len(paths) != 1 + len(roots):
        raise ImageError(f"image {image.path} cannot be read: {resolved.describe()}{where}",
                         site=site, fix=publish)
    real, real_roots = paths[0], paths[1:]
    if not any(_inside(real, root) for root in real_roots):
        via = f" resolves to {real}," if real != image.path else " is"
        raise ImageError(
            f"image {image.path}{via} outside the centre's allowed image roots ({allowed})",
            site=site,
            fix="publish the image under one of the allowed image roots and use that path (a "
                "symbolic link there must point inside the roots too); a centre admin can add a "
                "directory to the centre's image_roots")

    mode = transport.run(["stat", "-c", "%f", "--", real])
    if not mode.ok:
        raise ImageError(f"image {image.path} cannot be read: {mode.describe()}{where}",
                         site=site, fix=publish)
    try:
        kind = stat.S_IFMT(int(mode.stdout.strip(), 16))
    except ValueError:
        raise ImageError(f"image {image.path}: unexpected answer from stat: {mode.stdout!r}",
                         site=site, fix="check that the centre has GNU coreutils") from None
    if kind != stat.S_IFREG:
        what = _KINDS.get(kind, "a special file")
        raise ImageError(f"image {image.path} is {what}, not a regular file{where}", site=site,
                         fix="give the path of the image file itself (a SIF file, or a "
                             "Charliecloud tarball)")

    result = transport.run(["sha256sum", "--", real], timeout=600)
    if not result.ok:
        raise ImageError(f"image {image.path} cannot be read: {result.describe()}{where}",
                         site=site, fix=publish)
    actual = result.stdout.split()[0] if result.stdout.split() else ""
    if actual != image.hex_digest:
        raise ImageError(
            f"image {image.path} has digest sha256:{actual}, not the expected {image.digest}",
            site=site, fix="republish the right image, or use the digest of the image you meant",
        )
    return real
