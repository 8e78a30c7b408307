"""Run commands on a centre's login node through the system's OpenSSH, over one shared master.

Why a second backend beside paramiko: a login node that asks for a second factor (MFA) cannot
be reached by a process that must authenticate on its own. OpenSSH's connection sharing
(``ControlMaster``) lets an admin authenticate once, at a terminal, and every process on the
orchestrator host (Prefect workers, flows, the CLI) then runs its commands over that one
authenticated connection, through a Unix socket, for as long as it stays open. Centres without
MFA gain too: every process shares one connection per (user, host, port) instead of one each.

How it is laid out:

* The control sockets live in one directory per local user, mode 0700
  (:func:`control_dir`): whoever can reach a socket can run commands as the centre's service
  account, so nobody else may. A socket's name is a hash of (user, host, port), so every
  process computes the same path without asking ``ssh`` and can tell that no master is open
  without touching the network.
* The master is opened explicitly (``ssh -N -f -o ControlMaster=yes``), under a file lock so
  that processes starting together open one, never several. For a key-only centre HEROES opens
  it itself; the key is written to a 0600 file in the socket directory only while the master
  authenticates. An MFA centre's master is opened by an admin (:func:`open_master` with
  ``interactive=True``, behind ``heroes centre connect``); HEROES never opens it and a command
  without it fails at once with the fix, since a flow has no terminal to answer a prompt.
* Commands run as ``ssh -o ControlMaster=no -o BatchMode=yes`` with no identity: they can only
  go through the master (were it to vanish, their own attempt to log in fails fast rather than
  prompting), and each is one argv quoted by :func:`shell_join`, as with paramiko.
* Host keys are pinned as with paramiko: ``StrictHostKeyChecking=yes`` against a known_hosts
  file written from :meth:`SSHConfig.known_hosts` (``@revoked`` lines kept), no global or
  user known_hosts, no ``~/.ssh/config`` (``-F /dev/null``): what HEROES does depends only on
  the centre's block.

ssh exits 255 both for its own failures and when the remote command does; the two are told
apart by ssh's own messages on stderr and, for a silent 255, by whether the master is still up.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final

from heroes_core.errors import (
    AuthenticationError,
    CommandTimeoutError,
    ConnectionLostError,
    HostKeyError,
    TransportError,
    UnreachableError,
)
from heroes_core.transport._base import CommandResult, Transport, shell_join
from heroes_core.transport._ssh import SSHConfig, fingerprint, parse_host_key_line, shared_ssh_transport

logger = logging.getLogger(__name__)

CONTROL_DIR_ENV: Final = "HEROES_SSH_CONTROL_DIR"
# A Unix socket path has at most 107 bytes on Linux (104 on the BSDs); ssh binds the master's
# socket first under the path plus a random 17-character suffix, then renames it.
_MAX_SOCKET_PATH: Final = 104 - 17
# How often a command is tried while it cannot have been sent (no master, a refused session).
_SESSION_REFUSED_BACKOFF: Final = 0.2


def connect_command(site: str) -> str:
    """The command an admin runs to open a centre's shared connection (for error fixes)."""
    return f"heroes centre connect {site}"


def default_control_dir() -> Path:
    """Where the control sockets live unless ``HEROES_SSH_CONTROL_DIR`` says otherwise: the
    user's runtime directory (private, on tmpfs, emptied at logout) if there is one, else
    ``~/.heroes/ssh``."""
    configured = os.environ.get(CONTROL_DIR_ENV)
    if configured:
        return Path(configured)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "heroes-ssh"
    return Path.home() / ".heroes" / "ssh"


def control_dir(base: Path | None = None) -> Path:
    """The socket directory, made 0700 if missing; refused if another user owns it.

    A looser mode on a directory of ours is tightened rather than refused: it is ours, and the
    sockets in it must not be reachable by anyone else.
    """
    path = Path(base) if base is not None else default_control_dir()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise TransportError(f"the SSH control directory {path} is not a directory",
                             fix=f"remove it or point {CONTROL_DIR_ENV} elsewhere")
    if info.st_uid != os.getuid():
        raise TransportError(
            f"the SSH control directory {path} belongs to user id {info.st_uid}, not to this "
            f"user ({os.getuid()}): its sockets would let that user act as the centres' service "
            "accounts", fix=f"point {CONTROL_DIR_ENV} at a directory of this user's")
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


class _Failure(Enum):
    """What an exit 255 of ssh meant."""

    HOST_KEY = "host key"
    AUTH = "authentication"
    UNREACHABLE = "unreachable"
    NOT_SENT = "not sent"  # the command never reached the centre: always safe to try again
    LOST = "lost"  # the link broke; the command may have run


# ssh's own messages (LogLevel=ERROR), anchored to whole lines so that a remote command's
# output is not mistaken for them.
_PATTERNS: Final[tuple[tuple[_Failure, re.Pattern[str]], ...]] = tuple(
    (failure, re.compile(pattern, re.MULTILINE)) for failure, pattern in (
        (_Failure.HOST_KEY, r"^Host key verification failed\.$"),
        (_Failure.HOST_KEY, r"^No \S+ host key is known for "),
        (_Failure.HOST_KEY, r"^@\s+WARNING: (REMOTE HOST IDENTIFICATION HAS CHANGED|REVOKED HOST KEY)"),
        (_Failure.AUTH, r"^\S+: Permission denied \(.*\)\.$"),
        (_Failure.AUTH, r"^Received disconnect from .*: Too many authentication failures"),
        (_Failure.UNREACHABLE, r"^ssh: connect to host .*: "),
        (_Failure.UNREACHABLE, r"^ssh: Could not resolve hostname "),
        (_Failure.UNREACHABLE, r"^kex_exchange_identification: "),
        (_Failure.UNREACHABLE, r"^Connection (closed|reset) by .* port \d+$"),
        (_Failure.NOT_SENT, r"^mux_client_request_session: session request failed: "),
        (_Failure.NOT_SENT, r"^Master refused session request: "),
        (_Failure.NOT_SENT, r"^Control socket connect\(.*\): "),
        (_Failure.LOST, r"^mux_client_\w+: read (header|packet) failed"),
        (_Failure.LOST, r"^Connection to \S+ closed by remote host\.$"),
        (_Failure.LOST, r"^client_loop: send disconnect: "),
        (_Failure.LOST, r"^Timeout, server \S+ not responding\.$"),
        (_Failure.LOST, r"^(Write|Read) failed: "),
        (_Failure.LOST, r"^Broken pipe$"),
    ))


def classify(stderr: str) -> _Failure | None:
    """What an exit 255 of ssh with this stderr means; None: no message of ssh's (the remote
    command itself exited 255, or the master died without a word: ask the master).

    Several messages may appear (a direct login attempted after the socket could not be
    reached, refused): the most telling wins, in the order of :class:`_Failure`.
    """
    found = {failure for failure, pattern in _PATTERNS if pattern.search(stderr)}
    for failure in _Failure:
        if failure in found:
            return failure
    return None


def _ssh_lines(stderr: str) -> str:
    """ssh's messages, one line, for an error (the banners of its host key warnings dropped)."""
    lines = [line.strip() for line in stderr.splitlines()
             if line.strip() and not line.startswith("@") and "NASTY" not in line]
    return " | ".join(lines[-4:])[:400] or "(no message)"


@dataclass(frozen=True)
class MasterStatus:
    """Whether a centre's shared connection is open, and which process holds it."""

    site: str
    socket: Path
    pid: int | None

    @property
    def open(self) -> bool:
        return self.pid is not None

    def describe(self) -> str:
        if self.pid is None:
            return f"[{self.site}] no shared connection is open (socket {self.socket})"
        return f"[{self.site}] shared connection open: master pid {self.pid}, socket {self.socket}"


class OpenSSHTransport(Transport):
    """Commands through the system ``ssh``, multiplexed over one master per (user, host, port)
    shared by every process of this local user."""

    def __init__(self, config: SSHConfig, *, base_dir: Path | None = None, ssh: str = "ssh") -> None:
        self.config = config
        self.site = config.site
        self.mfa = config.mfa
        self.control_persist_s = config.control_persist_s
        self.ssh = ssh
        self.dir = control_dir(base_dir)
        self.socket = self.dir / _socket_name(config)
        if len(os.fsencode(self.socket)) > _MAX_SOCKET_PATH:
            raise TransportError(
                f"the SSH control socket path {self.socket} is too long for a Unix socket",
                site=self.site, fix=f"point {CONTROL_DIR_ENV} at a shorter directory (e.g. /run/user/UID)")
        self.known_hosts_file = self._write_known_hosts()
        self._lock = threading.Lock()
        self._channels = threading.BoundedSemaphore(config.max_channels)
        self._commands_sent = 0
        self.masters_opened = 0

    # -- the argv ---------------------------------------------------------------------------

    def _write_known_hosts(self) -> Path:
        """The pinned keys as a known_hosts file named by its content, so that configurations
        pinning different keys never overwrite each other's file."""
        text = self.config.known_hosts().strip()
        if not text:
            raise HostKeyError(
                f"no host key is pinned for {self.config.host}:{self.config.port}", site=self.site,
                fix=(f"run `ssh-keyscan -p {self.config.port} {self.config.host}`, check the "
                     "fingerprint with the centre's admins, and put the line in the block's host_key"))
        path = self.dir / f"known_hosts-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        if not path.exists() or path.read_text() != text + "\n":
            handle, temporary = tempfile.mkstemp(dir=self.dir, prefix=".known_hosts-")
            with os.fdopen(handle, "w") as out:
                out.write(text + "\n")
            os.replace(temporary, path)
        return path

    def base_options(self) -> list[str]:
        """Options every ssh invocation of this centre takes: no user configuration, pinned host
        keys only, the shared socket."""
        cfg = self.config
        return [
            "-F", "/dev/null",
            "-o", f"ControlPath={self.socket}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts_file}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "CheckHostIP=no",
            "-o", "UpdateHostKeys=no",
            "-o", f"ConnectTimeout={max(1, round(cfg.connect_timeout))}",
            "-o", "LogLevel=ERROR",
            # as -o options, not -p/-l: sftp and scp (Ansible's file transfers) read those otherwise
            "-o", f"Port={cfg.port}",
            "-o", f"User={cfg.user}",
        ]

    def login_options(self) -> list[str]:
        """The options of an ssh that may only go through the master: the base options, and
        never a prompt nor a login of its own (no identity, no password, no keyboard-interactive).
        Other tools' ssh command lines (Ansible's ``ansible_ssh_args``) take exactly these."""
        return [
            *self.base_options(),
            "-o", "ControlMaster=no",
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "IdentityFile=none",
            "-o", "PasswordAuthentication=no",
            "-o", "KbdInteractiveAuthentication=no",
        ]

    def login_argv(self) -> list[str]:
        """``ssh ... user@host`` through the master, for a tool that appends its own arguments
        (rclone's SFTP ``ssh`` option adds ``-s sftp`` or a command): no ``--``, since ssh
        reads the options that follow the destination too."""
        cfg = self.config
        if cfg.host.startswith("-") or cfg.user.startswith("-"):
            raise TransportError(f"the host {cfg.host!r} or user {cfg.user!r} starts with '-'",
                                 site=self.site, fix="correct the centre block's host and user")
        return [self.ssh, *self.login_options(), f"{cfg.user}@{cfg.host}"]

    def command_argv(self, argv: Sequence[str]) -> list[str]:
        """``ssh`` running one command through the master (:meth:`login_options`)."""
        return [self.ssh, *self.login_options(), "-T", "--", self.config.host, shell_join(argv)]

    def master_argv(self, *, key_file: Path | None, interactive: bool) -> list[str]:
        """``ssh`` opening the master in the background once authenticated (``-N -f``).

        Batch mode unless an admin is at a terminal to answer the centre's prompts. Not ``-M``:
        with ``ControlMaster=yes`` as well it would ask for confirmation of every session.
        """
        persist = "yes" if self.control_persist_s == 0 else str(self.control_persist_s)
        identity = ["-o", f"IdentityFile={key_file}"] if key_file else ["-o", "IdentityFile=none"]
        prompts = "yes" if interactive else "no"
        return [
            self.ssh, *self.base_options(),
            "-o", "ControlMaster=yes",
            "-o", f"ControlPersist={persist}",
            "-o", f"BatchMode={'no' if interactive else 'yes'}",
            "-o", "IdentitiesOnly=yes", *identity,
            "-o", f"PasswordAuthentication={prompts}",
            "-o", f"KbdInteractiveAuthentication={prompts}",
            "-o", "ServerAliveInterval=30",
            "-o", "ServerAliveCountMax=3",
            "-N", "-f", "--", self.config.host,
        ]

    def control_argv(self, operation: str) -> list[str]:
        """``ssh -O check|exit``: ask the master, never the centre."""
        return [self.ssh, *self.base_options(), "-O", operation, "--", self.config.host]

    # -- the master -------------------------------------------------------------------------

    def status(self) -> MasterStatus:
        """Ask the master whether it runs (``ssh -O check``); no socket: none, without asking."""
        if not self.socket.exists():
            return MasterStatus(self.site, self.socket, None)
        checked = subprocess.run(self.control_argv("check"), capture_output=True, text=True,
                                 timeout=self.config.connect_timeout, check=False, stdin=subprocess.DEVNULL)
        found = re.search(r"Master running \(pid=(\d+)\)", checked.stderr)
        return MasterStatus(self.site, self.socket, int(found.group(1)) if found else None)

    def connect(self, *, interactive: bool = False) -> MasterStatus:
        """Open the shared master unless one runs; ``interactive``: with the terminal, so that
        the centre's password or second-factor prompts reach the admin."""
        with self._master_lock():
            current = self.status()
            if current.open:
                return current
            with contextlib.suppress(FileNotFoundError):
                self.socket.unlink()  # a dead master's socket: ssh would not listen over it
            if self.mfa and not interactive:
                raise self._no_master()
            with self._key_file() as key_file:
                argv = self.master_argv(key_file=key_file, interactive=interactive)
                if interactive:
                    # The user's terminal: the prompts (password, OTP, push) are theirs to answer.
                    code, stderr = subprocess.run(argv, check=False).returncode, ""
                else:
                    opened = self._run_master(argv)
                    code, stderr = opened.returncode, opened.stderr
            if code != 0:
                raise self._master_error(stderr, interactive=interactive)
            self.masters_opened += 1
            now = self.status()
            if not now.open:
                raise TransportError(f"ssh opened no shared connection to {self._where()}", site=self.site,
                                     fix="check that the login node allows multiplexed sessions")
            logger.info("%s: opened the shared SSH connection (master pid %s)", self.site, now.pid)
            return now

    def _run_master(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        # stderr to a file, not a pipe: a master that kept the pipe open would block the read.
        with tempfile.TemporaryFile(mode="w+") as errors:
            try:
                opened = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=errors, text=True, check=False,
                                        timeout=self.config.connect_timeout * 3)
            except subprocess.TimeoutExpired as exc:
                raise UnreachableError(
                    f"no SSH connection to {self._where()} within {exc.timeout:.0f} s", site=self.site,
                    fix="check that the login node is up and answers on that port") from exc
            errors.seek(0)
            return subprocess.CompletedProcess(argv, opened.returncode, "", errors.read())

    def disconnect(self) -> bool:
        """Close the shared master (``ssh -O exit``) for every process; False if none was open."""
        with self._master_lock():
            if not self.status().open:
                with contextlib.suppress(FileNotFoundError):
                    self.socket.unlink()
                return False
            subprocess.run(self.control_argv("exit"), capture_output=True, check=False,
                           timeout=self.config.connect_timeout, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + self.config.connect_timeout
            while self.socket.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            return True

    @contextlib.contextmanager
    def _master_lock(self) -> Iterator[None]:
        """One process at a time checks and opens a centre's master (the others then find it)."""
        with self._lock, open(f"{self.socket}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _key_file(self) -> Iterator[Path | None]:
        """The service account's key in a 0600 file in the private socket directory, only while
        the master authenticates (it is not read again); None for a centre without a key."""
        key = self.config.private_key.get_secret_value()
        if not key.strip():
            yield None
            return
        handle, name = tempfile.mkstemp(dir=self.dir, prefix=".key-")
        try:
            with os.fdopen(handle, "w") as out:
                out.write(key if key.endswith("\n") else key + "\n")
            yield Path(name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def _host_key_problem(self, stderr: str) -> str:
        """What was wrong with the server's key, with its fingerprint and the pinned ones, as the
        paramiko backend says it."""
        pinned = []
        for line in self.config.host_keys:
            with contextlib.suppress(HostKeyError):
                pinned.append(fingerprint(*parse_host_key_line(line)))
        against = f"the pinned key ({', '.join(pinned)})" if pinned else "the pinned key"
        if revoked := re.search(r"^The (\S+) host key for .* is marked as revoked", stderr, re.MULTILINE):
            return f"({revoked.group(1)}) is marked @revoked"
        shown = re.search(r"^The fingerprint for the (\S+) key sent by the remote host is\s*\n"
                          r"(SHA256:[^\s.]+)", stderr, re.MULTILINE)
        if shown:
            return f"is {shown.group(1)} {shown.group(2)}, which is not {against}"
        if other := re.search(r"^No (\S+) host key is known for ", stderr, re.MULTILINE):
            return f"offered is of type {other.group(1)}, which is not {against}"
        return f"is not {against}"

    def _where(self) -> str:
        return f"{self.config.user}@{self.config.host}:{self.config.port}"

    def _no_master(self) -> AuthenticationError:
        return AuthenticationError(
            f"no shared SSH connection to {self._where()} is open, and this centre's login asks "
            "for a second factor that a flow cannot give",
            site=self.site,
            fix=f"an admin of the orchestrator host runs `{connect_command(self.site)}` (as the user the "
                "flows run as) and answers the login prompts once; flows then use that connection")

    def _master_error(self, stderr: str, *, interactive: bool) -> TransportError:
        failure = classify(stderr)
        said = _ssh_lines(stderr)
        where = self._where()
        if failure is _Failure.HOST_KEY:
            return HostKeyError(
                f"the host key of {self.config.host}:{self.config.port} {self._host_key_problem(stderr)}; "
                f"refusing to connect (ssh: {said})", site=self.site,
                fix="confirm the login node's key with the centre's admins, then update host_key in the "
                    "block")
        if failure is _Failure.AUTH:
            if self.mfa or not self.config.private_key.get_secret_value().strip():
                return self._no_master()
            return AuthenticationError(
                f"{where} refused the key of service account '{self.config.user}' (ssh: {said})",
                site=self.site,
                fix=(f"add the block's public key to ~{self.config.user}/.ssh/authorized_keys on the centre; "
                     f"if the login node also asks for a second factor, set mfa in the block and run "
                     f"`{connect_command(self.site)}`"))
        if failure is _Failure.UNREACHABLE:
            return UnreachableError(f"cannot connect to {where} (ssh: {said})", site=self.site,
                                    fix="check the host name and port in the centre block and that "
                                        "the login node is up")
        if interactive:
            return AuthenticationError(f"the login to {where} did not complete", site=self.site,
                                       fix=f"run `{connect_command(self.site)}` again and answer its prompts")
        return TransportError(f"ssh could not open a shared connection to {where} (ssh: {said})",
                              site=self.site, fix="check the login node and the centre block")

    # -- commands ---------------------------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        timeout: float | None = None,
        idempotent: bool = True,
    ) -> CommandResult:
        command = self.command_argv(argv)  # quotes argv (and refuses an empty one) before anything runs
        limit = timeout or self.config.command_timeout
        with self._channels:
            for attempt in range(1, self.config.reconnect_attempts + 1):
                if not self.socket.exists():
                    self.connect()
                try:
                    proc = subprocess.run(command, input=stdin if stdin is not None else b"",
                                          capture_output=True, timeout=limit, check=False)
                except subprocess.TimeoutExpired as exc:
                    raise CommandTimeoutError(
                        f"`{argv[0]}` did not answer in time", site=self.site,
                        fix="check the login node's load or raise command_timeout") from exc
                except FileNotFoundError as exc:
                    raise TransportError(f"the OpenSSH client `{self.ssh}` is not installed", site=self.site,
                                         fix="install openssh-client on the orchestrator host, or use "
                                             "backend 'paramiko'") from exc
                stderr = proc.stderr.decode(errors="replace")
                result = CommandResult(argv=tuple(str(a) for a in argv), exit_code=proc.returncode,
                                       stdout=proc.stdout.decode(errors="replace"), stderr=stderr)
                if proc.returncode != 255:
                    self._commands_sent += 1
                    return result
                failure = classify(stderr)
                if failure is None:
                    if self.status().open:
                        self._commands_sent += 1
                        return result  # the command's own exit status
                    failure = _Failure.LOST  # the master died under the command
                if failure is _Failure.HOST_KEY:
                    raise self._master_error(stderr, interactive=False)
                last = attempt == self.config.reconnect_attempts
                if failure is not _Failure.LOST:
                    # No master took the command (gone, stale, or out of sessions): nothing ran,
                    # so trying again, after opening a master or waiting for a session, is safe.
                    if not self.status().open:
                        self.connect()  # an MFA centre: the error saying how to open it
                    elif last:
                        raise TransportError(
                            f"the shared connection to {self._where()} refused `{argv[0]}` "
                            f"(ssh: {_ssh_lines(stderr)})", site=self.site,
                            fix="lower max_channels in the block or ask the centre to raise sshd's "
                                "MaxSessions")
                    else:
                        logger.warning("%s: `%s` not sent (%s); trying again", self.site, argv[0],
                                       _ssh_lines(stderr))
                        time.sleep(_SESSION_REFUSED_BACKOFF * attempt)
                    continue
                self._commands_sent += 1
                if not idempotent or last:
                    raise ConnectionLostError(f"link dropped while `{argv[0]}` ran ({_ssh_lines(stderr)})",
                                              site=self.site, fix="check the network link to the centre")
                logger.warning("%s: link dropped during `%s`; reconnecting and retrying", self.site, argv[0])
        raise ConnectionLostError(
            f"could not run `{argv[0]}` after {self.config.reconnect_attempts} attempts", site=self.site,
            fix="check the network link to the centre")


def _socket_name(config: SSHConfig) -> str:
    """The master's socket name: one per (user, host, port), whatever else the configuration says,
    so that every process reaching the same account shares it."""
    identity = f"{config.user}@{config.host.lower()}:{config.port}"
    return "m-" + hashlib.sha256(identity.encode()).hexdigest()[:24]


_shared: dict[tuple[SSHConfig, Path], OpenSSHTransport] = {}
_shared_lock = threading.Lock()


def shared_openssh_transport(config: SSHConfig, *, base_dir: Path | None = None) -> OpenSSHTransport:
    """The process-wide OpenSSH transport for this configuration (its master is shared by every
    process anyway; this shares the known_hosts file and the channel limit)."""
    directory = control_dir(base_dir)
    with _shared_lock:
        transport = _shared.get((config, directory))
        if transport is None:
            transport = _shared[(config, directory)] = OpenSSHTransport(config, base_dir=directory)
        return transport


def open_master(config: SSHConfig, *, interactive: bool = True, base_dir: Path | None = None) -> MasterStatus:
    """Open the centre's shared connection (an admin's step for an MFA centre; with
    ``interactive`` the login prompts appear on this terminal)."""
    return OpenSSHTransport(config, base_dir=base_dir).connect(interactive=interactive)


def master_status(config: SSHConfig, *, base_dir: Path | None = None) -> MasterStatus:
    """Whether the centre's shared connection is open, and its master's pid."""
    return OpenSSHTransport(config, base_dir=base_dir).status()


def close_master(config: SSHConfig, *, base_dir: Path | None = None) -> bool:
    """Close the centre's shared connection for every process; False if none was open."""
    return OpenSSHTransport(config, base_dir=base_dir).disconnect()


def shared_transport(config: SSHConfig) -> Transport:
    """The process-wide transport of an SSH centre, by its backend: paramiko's own connection,
    or OpenSSH's master shared with every process on this host."""
    if config.backend == "openssh":
        return shared_openssh_transport(config)
    return shared_ssh_transport(config)
