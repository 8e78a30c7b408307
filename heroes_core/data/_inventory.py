"""What is at a location: each file's size and MD5, gathered in as few round trips as possible.

rclone asks an SFTP server for a checksum by running ``md5sum`` over SSH once per file: for
10,000 small files that is 10,000 SSH sessions, and it costs more than copying them. Where the
SFTP side's SSH connection is at hand, the checksums are computed instead by one ``md5sum``
over the list of files (``xargs`` on the host). S3 and local listings carry or compute their
MD5 through rclone itself (``lsjson --hash``): from the S3 listing for plain objects, from
rclone's own metadata for multipart ones.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import NamedTuple

from heroes_core.data._locations import Location, SFTPLocation
from heroes_core.data._rclone import Rclone, RcloneError
from heroes_core.errors import (
    CommandTimeoutError,
    ConnectionLostError,
    TransportError,
    UnreachableError,
)
from heroes_core.transport import Transport, shared_transport

# Reads NUL-separated names on stdin; prints "<md5>  <name>" for each file that exists (none if
# the directory does not).
_MD5_SCRIPT = '[ -d "$1" ] || exit 0; cd -- "$1" && exec xargs -0 -r md5sum --'


class Entry(NamedTuple):
    size: int | None
    md5: str | None


def shell_for(location: Location, shells: Mapping[str, Transport]) -> Transport | None:
    """How to run commands where ``location`` is: given for its site, else its SFTP endpoint's
    own SSH connection on the site's backend (paramiko's, or the shared OpenSSH master: an MFA
    centre has no other way in); None where there is none (rclone then hashes file by file)."""
    if not isinstance(location, SFTPLocation):
        return None
    if location.site in shells:
        return shells[location.site]
    return shared_transport(location.server.ssh) if location.server.ssh else None


def inventory(location: Location, rclone: Rclone, *, filters: Sequence[str] = (),
              stdin: str | None = None, names: Collection[str] | None = None,
              sizes: bool = True, shell: Transport | None = None,
              timeout: float | None = None) -> dict[str, Entry]:
    """The files below ``location`` that pass rclone ``filters`` (and are among ``names``, if
    given), with their size and MD5. A missing directory holds no files.

    With a ``shell`` and ``names``, only those are checksummed; and when ``sizes`` are not
    needed, nothing is listed at all: the one checksum command also says which files exist.
    """
    if shell is not None and names is not None and not sizes:
        sums = md5_many(shell, location.path, list(names), site=location.site, timeout=timeout)
        return {name: Entry(None, digest) for name, digest in sums.items()}
    path = location.rclone_path(rclone)
    listed = rclone.lsjson(path, [*filters] if shell else ["--hash-type", "md5", *filters],
                           stdin=stdin, site=location.site, timeout=timeout)
    entries = {str(item["Path"]): Entry(int(item.get("Size", -1)),
                                        (item.get("Hashes") or {}).get("md5") or None)
               for item in listed if names is None or str(item["Path"]) in names}
    if shell is None:
        return entries
    sums = md5_many(shell, location.path, list(entries), site=location.site, timeout=timeout)
    return {name: Entry(entry.size, sums.get(name)) for name, entry in entries.items()}


def md5_many(shell: Transport, directory: str, names: Sequence[str], *, site: str,
             timeout: float | None = None) -> dict[str, str]:
    """The MD5 of each of ``names`` below ``directory``, from one command; missing files are
    left out. A link that drops or times out is a transient :class:`RcloneError`."""
    if not names:
        return {}
    stdin = b"".join(name.encode() + b"\0" for name in names)
    try:
        result = shell.run(["sh", "-c", _MD5_SCRIPT, "sh", directory], stdin=stdin, timeout=timeout)
    except (ConnectionLostError, CommandTimeoutError, UnreachableError) as exc:
        raise RcloneError(f"cannot checksum the files in {directory}: {exc.detail}", site=site,
                          transient=True) from exc
    except TransportError as exc:
        raise RcloneError(f"cannot checksum the files in {directory}: {exc.detail}", site=site,
                          fix=exc.fix) from exc
    sums = parse_md5sum(result.stdout)
    if result.exit_code not in (0, 1, 123):  # 1 and 123: some file was missing or unreadable
        raise RcloneError(f"cannot checksum the files in {directory}: {result.describe()}",
                          site=site, fix="check that md5sum and xargs are installed there")
    return sums


def parse_md5sum(output: str) -> dict[str, str]:
    """``md5sum``'s lines, ``<md5>  <name>`` (a leading ``\\`` marks an escaped name)."""
    sums: dict[str, str] = {}
    for line in output.splitlines():
        escaped = line.startswith("\\")
        digest, sep, name = line.removeprefix("\\").partition(" ")
        if not sep or len(digest) != 32:
            continue
        name = name[1:] if name.startswith(("*", " ")) else name
        if escaped:
            name = name.replace("\\\\", "\0").replace("\\n", "\n").replace("\\r", "\r").replace("\0", "\\")
        sums[name] = digest.lower()
    return sums


def differences(source: Mapping[str, Entry], destination: Mapping[str, Entry]) -> list[str]:
    """Source files missing at the destination or different there, in the source's order.

    Equal MD5s make two files equal; where a side has no MD5 (an S3 object another tool
    uploaded in parts), equal sizes do.
    """
    found = []
    for name, entry in source.items():
        there = destination.get(name)
        if there is None:
            found.append(name)
        elif entry.md5 and there.md5:
            if entry.md5 != there.md5:
                found.append(name)
        elif entry.size != there.size or entry.size is None:
            found.append(name)
    return found


__all__ = ["Entry", "differences", "inventory", "md5_many", "parse_md5sum", "shell_for"]
