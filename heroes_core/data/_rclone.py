"""Transfers between the archive and a centre with rclone.

rclone is configured entirely through environment variables so that no secret
touches the disk except the pinned known_hosts file (which holds none). Every
transfer is check-then-copy (``--checksum``: only what differs moves) and then
verified with ``rclone check``; a transfer that cannot be verified is an error,
never a silent success.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from heroes_core.data._endpoints import S3Endpoint, SFTPEndpoint
from heroes_core.errors import TransferError

ARCHIVE = "archive"
CENTRE = "centre"


class TransferReport(BaseModel):
    """What one verified transfer moved (files_transferred < files_checked when some matched)."""

    source: str
    destination: str
    files_checked: int
    files_transferred: int
    bytes_transferred: int


def _final_stats(stderr: str) -> dict[str, int]:
    """The last stats record of rclone's JSON log: what the copy actually moved."""
    stats: dict[str, int] = {"bytes": 0, "transfers": 0}
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("stats"), dict):
            stats = {key: int(record["stats"].get(key) or 0) for key in ("bytes", "transfers")}
    return stats


class Rclone:
    """An rclone with two remotes, ``archive:`` (S3) and ``centre:`` (SFTP)."""

    def __init__(self, archive: S3Endpoint, centre: SFTPEndpoint, *, binary: str = "rclone",
                 timeout: float = 3600.0) -> None:
        self.archive = archive
        self.centre = centre
        self.binary = binary
        self.timeout = timeout

    @contextmanager
    def _environment(self) -> Iterator[dict[str, str]]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RCLONE_", "AWS_"))}  # rclone's S3 breaks on AWS_CA_BUNDLE
        with tempfile.TemporaryDirectory(prefix="heroes-rclone-") as tmp:
            known_hosts = Path(tmp, "known_hosts")
            known_hosts.write_text(self.centre.known_hosts + "\n")
            key = self.centre.private_key.get_secret_value().strip().replace("\n", "\\n")
            env.update({
                "RCLONE_CONFIG": str(Path(tmp, "rclone.conf")),
                "RCLONE_CONFIG_ARCHIVE_TYPE": "s3",
                "RCLONE_CONFIG_ARCHIVE_PROVIDER": "Other",
                "RCLONE_CONFIG_ARCHIVE_ENDPOINT": self.archive.endpoint_url,
                "RCLONE_CONFIG_ARCHIVE_ACCESS_KEY_ID": self.archive.access_key_id,
                "RCLONE_CONFIG_ARCHIVE_SECRET_ACCESS_KEY":
                    self.archive.secret_access_key.get_secret_value(),
                "RCLONE_CONFIG_ARCHIVE_REGION": self.archive.region,
                "RCLONE_CONFIG_ARCHIVE_FORCE_PATH_STYLE": "true",
                "RCLONE_CONFIG_CENTRE_TYPE": "sftp",
                "RCLONE_CONFIG_CENTRE_HOST": self.centre.host,
                "RCLONE_CONFIG_CENTRE_PORT": str(self.centre.port),
                "RCLONE_CONFIG_CENTRE_USER": self.centre.user,
                "RCLONE_CONFIG_CENTRE_KEY_PEM": key,
                "RCLONE_CONFIG_CENTRE_KNOWN_HOSTS_FILE": str(known_hosts),
                "RCLONE_CONFIG_CENTRE_SHELL_TYPE": "unix",
                "RCLONE_CONFIG_CENTRE_MD5SUM_COMMAND": "md5sum",
                "RCLONE_CONFIG_CENTRE_SHA1SUM_COMMAND": "sha1sum",
                "RCLONE_CONFIG_CENTRE_SKIP_LINKS": "true",
            })
            yield env

    def run(self, args: Sequence[str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run rclone; raise :class:`TransferError` with rclone's own words on failure."""
        with self._environment() as env:
            try:
                proc = subprocess.run([self.binary, *args], input=stdin or "", env=env,
                                      capture_output=True, text=True, timeout=self.timeout,
                                      check=False)
            except FileNotFoundError as exc:
                raise TransferError("rclone is not installed on this machine",
                                    site=self.centre.site, fix="install rclone") from exc
            except subprocess.TimeoutExpired as exc:
                raise TransferError(f"rclone {args[0]} did not finish in {self.timeout:.0f} s",
                                    site=self.centre.site) from exc
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.splitlines() if "ERROR" in line or "Failed" in line]
            message = " | ".join((lines or proc.stderr.strip().splitlines() or ["(no output)"])[-4:])
            raise TransferError(f"rclone {args[0]} failed (exit {proc.returncode}): {message}",
                                site=self.centre.site,
                                fix="check the archive and centre credentials and paths")
        return proc

    def list_files(self, remote_path: str, names: Sequence[str] | None = None) -> list[str]:
        """Relative names of the files below ``remote_path`` (restricted to ``names``)."""
        args = ["lsjson", "--recursive", "--files-only", remote_path]
        stdin = None
        if names is not None:
            args += ["--files-from-raw", "-"]
            stdin = "\n".join(names) + "\n"
        try:
            entries = json.loads(self.run(args, stdin=stdin).stdout or "[]")
        except TransferError as exc:
            if "directory not found" in str(exc) or "not found" in str(exc):
                return []
            raise
        return sorted(entry["Path"] for entry in entries)

    def copy_verified(self, source: str, destination: str, *, files: Sequence[str] | None = None,
                      exclude: Sequence[str] = ()) -> TransferReport:
        """Copy what differs from source to destination, then prove they match."""
        filters: list[str] = []
        stdin = None
        if files is not None:
            filters += ["--files-from-raw", "-"]
            stdin = "\n".join(files) + "\n"
        for pattern in exclude:
            filters += ["--exclude", pattern]
        proc = self.run(["copy", source, destination, "--checksum", "--use-json-log",
                         "--stats", "1h", "-v", *filters], stdin=stdin)
        self.run(["check", source, destination, "--one-way", *filters], stdin=stdin)
        checked = len(files) if files is not None else len(self.list_files(source))
        moved = _final_stats(proc.stderr)
        return TransferReport(source=source, destination=destination, files_checked=checked,
                              files_transferred=moved["transfers"], bytes_transferred=moved["bytes"])
